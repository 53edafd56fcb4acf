//! The conformance kit on the local folder connector.
#![cfg(feature = "local")]
// Fixture setup is not a `#[test]` function itself; a setup step that fails should fail the
// check loudly, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use connector_misc::local::{LocalConfig, LocalConnector};
use tempfile::TempDir;

/// Noon on 2025-03-`day`.
fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, 12, 0, 0).unwrap()
}

/// Writes `files` (relative path, content, day modified) under a new temporary folder.
fn folder(files: &[(&str, &[u8], u32)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, data, on) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(day(*on).into()).unwrap();
    }
    dir
}

fn connector(root: &Path) -> Arc<dyn Connector> {
    let mut config = LocalConfig::new(root);
    // Small pages, so that checkpoints, resumes and re-batching are exercised.
    config.page_size = NonZeroU32::new(2).unwrap();
    Arc::new(LocalConnector::new(config).unwrap())
}

/// Seven files over four pages, each modified on its own day; and a second folder where one
/// text file is not UTF-8.
struct LocalFixture {
    source: TempDir,
    malformed: TempDir,
}

#[async_trait]
impl Fixture for LocalFixture {
    async fn setup() -> Self {
        // Building folders is blocking I/O: keep it off the runtime's thread.
        tokio::task::spawn_blocking(|| LocalFixture {
            source: folder(&[
                ("guide/intro.md", b"# Intro", 1),
                ("guide/setup/install.md", b"Install it.", 2),
                ("guide.txt", b"see guide/", 3),
                ("data/table.csv", b"a,b\n1,2\n", 4),
                ("report.pdf", b"%PDF-1.4 \xff\x00", 5),
                ("notes/été.md", "été".as_bytes(), 6),
                ("zeta.json", b"{}", 7),
            ]),
            malformed: folder(&[
                ("notes/a.md", b"fine", 1),
                ("notes/broken.txt", b"not \xff UTF-8", 2),
                ("notes/c.md", b"fine too", 3),
            ]),
        })
        .await
        .unwrap()
    }

    fn connector(&self) -> Arc<dyn Connector> {
        connector(self.source.path())
    }

    // A local folder has no credential to leak.
    fn has_credentials(&self) -> bool {
        false
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            connector(self.malformed.path()),
            Some("notes/broken.txt".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(day(2), day(5)).unwrap();
        Some((
            window,
            vec![
                "guide/setup/install.md".into(),
                "guide.txt".into(),
                "data/table.csv".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(local, LocalFixture);
