//! The conformance kit on a bucket of the shared `rclone serve s3` (install it with
//! `bash .ci/test-servers.sh`).

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use connector_s3::s3::{S3Config, S3Connector};

/// 2026-01-01T00:00:00Z; object `i` was last modified `i` minutes later.
const BASE: i64 = 1_767_225_600;

/// 12 small text objects over 3 listing pages of 5, plus one 3 KiB object that the
/// "malformed" variant's size cap turns into a failure.
struct RcloneFixture {
    config: S3Config,
}

#[async_trait]
impl Fixture for RcloneFixture {
    async fn setup() -> Self {
        let server = tokio::task::spawn_blocking(common::shared)
            .await
            .expect("start rclone");
        let seeder = common::Seeder::new(server.endpoint());
        let bucket = common::bucket_name("conformance");
        seeder.create_bucket(&bucket).await;
        for i in 0..12 {
            seeder
                .put(
                    &bucket,
                    &format!("item-{i:02}.md"),
                    format!("# item {i}\n"),
                    Some(BASE + i * 60),
                )
                .await;
        }
        seeder
            .put(
                &bucket,
                "item-99-large.txt",
                vec![b'x'; 3 * 1024],
                Some(BASE + 99 * 60),
            )
            .await;
        let mut config = common::config(server.endpoint(), &bucket);
        config.page_size = 5.try_into().expect("nonzero");
        // The kit's window check is of a poll that yields exactly its window: the opt-in
        // mode. By default a poll lists everything and skips by ETag (tests/rclone.rs).
        config.incremental_by_last_modified = true;
        Self { config }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(S3Connector::new(self.config.clone()).expect("valid config"))
    }

    fn secret(&self) -> Option<String> {
        Some(common::SECRET.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let mut config = self.config.clone();
        config.max_object_size = 1024.try_into().expect("nonzero");
        let id = format!("s3_compatible:{}:item-99-large.txt", config.bucket_name);
        let c = S3Connector::new(config).expect("valid config");
        (Arc::new(c), Some(id))
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default();
        let window = TimeWindow::new(at(BASE + 3 * 60), at(BASE + 9 * 60)).ok()?;
        let ids = (3..9)
            .map(|i| format!("s3_compatible:{}:item-{i:02}.md", self.config.bucket_name))
            .collect();
        Some((window, ids))
    }
}

connector_core::conformance_tests!(rclone_conformance, RcloneFixture);

/// The same bucket in the default mode (a poll lists everything and skips by ETag), for the
/// checks that run incremental or resumed syncs; the window check is the opt-in mode's.
struct DefaultModeFixture(RcloneFixture);

#[async_trait]
impl Fixture for DefaultModeFixture {
    async fn setup() -> Self {
        let mut inner = RcloneFixture::setup().await;
        inner.config.incremental_by_last_modified = false;
        Self(inner)
    }

    fn connector(&self) -> Arc<dyn Connector> {
        self.0.connector()
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
    use connector_core::testkit;

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
}
