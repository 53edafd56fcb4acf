//! The conformance kit on the SeaFile connector, against the wiremock SeaFile of
//! `seafile_common` (account token, account scope: an own library and a shared one listed
//! twice).
#![cfg(feature = "seafile")]
#![allow(clippy::unwrap_used)]

mod seafile_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use seafile_common::{
    ACCOUNT_TOKEN, HANDBOOK, build, day, file, handbook_files, id, seafile, serve, team_files,
};
use serde_json::json;
use wiremock::MockServer;

struct SeafileFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for SeafileFixture {
    async fn setup() -> Self {
        let mut bad = handbook_files();
        bad.push(("/notes/broken.txt", file(b"not \xff UTF-8", 2)));
        // The encrypted library is a failure of every load: it has tests of its own.
        let plain = |sf: seafile_common::Seafile| {
            sf.libs.lock().unwrap().retain(|l| !l.encrypted);
            sf
        };
        Self {
            server: serve(&plain(seafile(&handbook_files(), &team_files()))).await,
            malformed: serve(&plain(seafile(&bad, &team_files()))).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        // Small pages, so that checkpoints, resumes and re-batching are exercised.
        build(&self.server.uri(), json!({"page_size": 2}))
    }

    fn secret(&self) -> Option<String> {
        Some(ACCOUNT_TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), json!({"page_size": 2})),
            Some(id(HANDBOOK, "/notes/broken.txt")),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(day(2), day(5)).ok()?;
        Some((
            window,
            vec![
                id(HANDBOOK, "/guide/setup/install.md"),
                id(HANDBOOK, "/guide.txt"),
                id(HANDBOOK, "/data/table.csv"),
            ],
        ))
    }
}

connector_core::conformance_tests!(seafile_conformance, SeafileFixture);
