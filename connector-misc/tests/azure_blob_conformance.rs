//! The conformance kit on the Azure Blob connector, over a wiremock Blob service.
#![cfg(feature = "azure_blob")]
#![allow(clippy::unwrap_used)]

mod azure_fixture;

use std::sync::Arc;

use async_trait::async_trait;
use azure_fixture::{Blob, day};
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use wiremock::MockServer;

/// Seven blobs over four pages of two, each modified on its own day; and a second container
/// where one blob is in the Archive tier (unreadable).
struct AzureFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for AzureFixture {
    async fn setup() -> Self {
        let server = MockServer::start().await;
        azure_fixture::mount(&server, &azure_fixture::blobs(), 2).await;
        let malformed = MockServer::start().await;
        let mut archived = Blob::new("notes/old.md", b"cold", "text/markdown", 2);
        archived.tier = "Archive";
        azure_fixture::mount(
            &malformed,
            &[
                Blob::new("notes/a.md", b"fine", "text/markdown", 1),
                archived,
                Blob::new("notes/c.md", b"fine too", "text/markdown", 3),
            ],
            2,
        )
        .await;
        Self { server, malformed }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        azure_fixture::connector(azure_fixture::config(&self.server.uri(), 2))
    }

    fn secret(&self) -> Option<String> {
        Some(azure_fixture::KEY.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            azure_fixture::connector(azure_fixture::config(&self.malformed.uri(), 2)),
            Some("notes/old.md".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(day(2), day(5)).unwrap();
        Some((
            window,
            vec![
                "guide.txt".into(),
                "guide/intro.md".into(),
                "guide/setup/install.md".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(azure_blob, AzureFixture);
