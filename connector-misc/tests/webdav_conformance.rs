//! The conformance kit on the WebDAV connector, against real servers (`rclone serve webdav`
//! and wsgidav, started per check on a free loopback port). Install them with
//! `bash .ci/test-servers.sh`.
#![cfg(feature = "webdav")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod webdav_common;

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use webdav_common::{Kind, PASS, Server, day, write};

/// Seven files over four pages, each modified on its own day; and a second folder where one
/// text file is not UTF-8.
struct DavFixture {
    server: Server,
}

impl DavFixture {
    async fn start(kind: Kind) -> Self {
        let server = tokio::task::spawn_blocking(move || {
            let server = Server::start(kind);
            let root = server.root();
            for (rel, data, on) in [
                ("source/guide/intro.md", &b"# Intro"[..], 1),
                ("source/guide/setup/install.md", b"Install it.", 2),
                ("source/guide.txt", b"see guide/", 3),
                ("source/data/table.csv", b"a,b\n1,2\n", 4),
                ("source/report.pdf", b"%PDF-1.4 \xff\x00", 5),
                (
                    "source/notes/\u{e9}t\u{e9} #1.md",
                    "\u{e9}t\u{e9}".as_bytes(),
                    6,
                ),
                ("source/zeta.json", b"{}", 7),
                ("malformed/notes/a.md", b"fine", 1),
                ("malformed/notes/broken.txt", b"not \xff UTF-8", 2),
                ("malformed/notes/c.md", b"fine too", 3),
            ] {
                write(&root, rel, data, on);
            }
            server
        })
        .await
        .unwrap();
        Self { server }
    }

    fn connector_at(&self, remote: &str) -> Arc<dyn Connector> {
        let mut config = self.server.config(remote);
        // Small pages, so that checkpoints, resumes and re-batching are exercised.
        config.page_size = NonZeroU32::new(2).unwrap();
        self.server.connector(config)
    }

    fn id(&self, rel: &str) -> String {
        format!(
            "webdav:{}:{rel}",
            self.server.base_url().as_str().trim_end_matches('/')
        )
    }
}

macro_rules! fixture {
    ($name:ident, $kind:expr) => {
        struct $name(DavFixture);

        #[async_trait]
        impl Fixture for $name {
            async fn setup() -> Self {
                Self(DavFixture::start($kind).await)
            }

            fn connector(&self) -> Arc<dyn Connector> {
                self.0.connector_at("source")
            }

            fn secret(&self) -> Option<String> {
                Some(PASS.to_owned())
            }

            fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
                (
                    self.0.connector_at("malformed"),
                    Some(self.0.id("malformed/notes/broken.txt")),
                )
            }

            fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
                let window = TimeWindow::new(day(2), day(5)).unwrap();
                Some((
                    window,
                    vec![
                        self.0.id("source/guide/setup/install.md"),
                        self.0.id("source/guide.txt"),
                        self.0.id("source/data/table.csv"),
                    ],
                ))
            }
        }
    };
}

fixture!(RcloneFixture, Kind::Rclone);
fixture!(WsgidavFixture, Kind::Wsgidav);

connector_core::conformance_tests!(rclone, RcloneFixture);
connector_core::conformance_tests!(wsgidav, WsgidavFixture);
