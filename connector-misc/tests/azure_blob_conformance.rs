//! The conformance kit on the Azure Blob connector, over a wiremock Blob service.
#![cfg(feature = "azure_blob")]
#![allow(clippy::unwrap_used)]

mod azure_fixture;

use std::sync::Arc;

use async_trait::async_trait;
use azure_fixture::{Blob, day};
use connector_core::testkit;
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

    /// The opt-in mode, whose window the window check tests; the default mode lists
    /// everything and lets the ETag decide (`default_mode` below).
    fn connector(&self) -> Arc<dyn Connector> {
        let mut config = azure_fixture::config(&self.server.uri(), 2);
        config.incremental_by_last_modified = true;
        azure_fixture::connector(config)
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

/// The same container in the default mode (a poll lists everything and skips by ETag), for
/// the checks that run full, incremental or resumed syncs.
struct DefaultModeFixture(AzureFixture);

#[async_trait]
impl Fixture for DefaultModeFixture {
    async fn setup() -> Self {
        Self(AzureFixture::setup().await)
    }

    fn connector(&self) -> Arc<dyn Connector> {
        azure_fixture::connector(azure_fixture::config(&self.0.server.uri(), 2))
    }

    fn secret(&self) -> Option<String> {
        self.0.secret()
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        self.0.malformed()
    }
}

mod default_mode {
    use super::*;

    fn run<Fut: std::future::Future<Output = ()>>(check: impl FnOnce(DefaultModeFixture) -> Fut) {
        testkit::run_check(DefaultModeFixture::setup(), check);
    }

    #[test]
    fn drop_mid_page_is_safe() {
        run(|f| async move { testkit::drop_mid_page_is_safe(&f).await });
    }

    #[test]
    fn sink_failure_at_every_batch_loses_nothing() {
        run(|f| async move { testkit::sink_failure_at_every_batch_loses_nothing(&f).await });
    }

    #[test]
    fn full_sync_delivers_every_document() {
        run(|f| async move { testkit::full_sync_delivers_every_document(&f).await });
    }

    #[test]
    fn resume_from_every_checkpoint() {
        run(|f| async move { testkit::resume_from_every_checkpoint(&f).await });
    }

    #[test]
    fn ids_unique_and_stable() {
        run(|f| async move { testkit::ids_unique_and_stable(&f).await });
    }
}
