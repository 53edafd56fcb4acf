//! A failure's place (`Failure::place`) in the run's log line and in the store: review10 F6
//! (the warn line logged only the message, so the place was lost from the log) and F7 (the
//! store redacted the message but not a place a connector set directly).

#![allow(clippy::unwrap_used)] // Test code: a broken setup should fail loudly.

use std::sync::Arc;

use connector_core::reexports::futures::stream::{self, BoxStream};
use connector_core::secret::Secret;
use connector_core::state::{MemoryStateStore, StateStore};
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::LogCapture;
use connector_core::{
    Batch, Connector, Document, ErrorKind, Failure, LoadConnector, Result, Roles, SyncContext,
};

/// A connector whose one page delivers `a` and fails an item with `failure`.
#[derive(Debug, Clone)]
struct Failing(Failure);

impl std::fmt::Display for Failing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failing")
    }
}

#[connector_core::reexports::async_trait]
impl Connector for Failing {
    fn source(&self) -> &'static str {
        "failing"
    }
    fn roles(&self) -> Roles<'_> {
        Roles::of(self).load().into()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for Failing {
    fn load(&self, _ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let page = Batch::with_parts(
            vec![Document::text("a", "failing", "a", "body")],
            vec![self.0.clone()],
            Vec::new(),
        );
        Box::pin(stream::iter([Ok(page)]))
    }
}

#[tokio::test]
async fn the_place_is_logged_and_stored_redacted() {
    let token = Secret::new("tok-5f2a9c81");
    let mut failure = Failure::new(None, ErrorKind::InvalidData, "item has no `id`");
    // Set directly, as a connector may (the field is public): `Failure::at` is not used.
    failure.place = Some("page 3 (cursor tok-5f2a9c81), entry 2".to_owned());
    failure.message.push_str(" (key tok-5f2a9c81)");
    let store = MemoryStateStore::new();
    let (logs, guard) = LogCapture::start();
    Syncer::new(Arc::new(Failing(failure)))
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    drop(guard);
    let logged = logs.contents();
    assert!(
        logged.contains("item has no `id` (key ***) \u{2014} at page 3 (cursor ***)"),
        "{logged}"
    );
    // Review11 F6: the warn line held the secret; only a process-wide redacting writer,
    // which a library's embedder need not install, kept it out of the log.
    assert!(!logged.contains("tok-5f2a9c81"), "{logged}");
    let stored = store.load().await.unwrap().failed;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].failure.place.as_deref(),
        Some("page 3 (cursor ***), entry 2")
    );
    assert!(stored[0].failure.message.ends_with("(key ***)"));
    drop(token);
}
