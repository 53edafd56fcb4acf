//! Checks for [`StateStore`] implementations, one named test per check through
//! [`state_store_tests!`](crate::state_store_tests): what the batch loop relies on, for the
//! built-in stores and for a host's own (SQLite, PostgreSQL, a key-value service).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use crate::connector::CheckpointJson;
use crate::document::{Document, Failure};
use crate::error::ErrorKind;
use crate::state::{
    CheckpointUpdate, Commit, DocumentState, DocumentStates, FailedItem, Known, RunRecord,
    RunStatus, StateStore, StoredCheckpoint,
};

/// A state store's test setup for the store checks.
#[async_trait]
pub trait StoreFixture: Sized + Send + Sync + 'static {
    /// A fresh, empty store's backing (a temporary file, a schema of its own).
    async fn setup() -> Self;

    /// The store over this fixture's backing. Each call is like a new process opening it: it
    /// sees everything earlier stores committed.
    async fn open(&self) -> Arc<dyn StateStore>;
}

fn doc(id: &str, body: &str) -> Document {
    Document::text(id, "store-check", id, body)
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600 + secs, 0)
        .single()
        .unwrap_or_default()
}

fn run(status: RunStatus, secs: i64) -> RunRecord {
    RunRecord {
        mode: "full".to_owned(),
        status,
        started_at: at(secs),
        finished_at: at(secs + 1),
        window: None,
        new: 1,
        updated: 0,
        unchanged: 0,
        failed: 0,
        deleted: 0,
        error: None,
    }
}

fn checkpoint(after: &str) -> StoredCheckpoint {
    StoredCheckpoint {
        checkpoint: CheckpointJson {
            source: "store-check".into(),
            version: 1,
            state: serde_json::json!({ "after": after }),
        },
        window: None,
        started_at: at(0),
    }
}

fn failed(id: Option<&str>, message: &str, attempts: u32) -> FailedItem {
    FailedItem {
        failure: Failure::new(id.map(str::to_owned), ErrorKind::InvalidData, message),
        window_start: None,
        attempts,
        first_failed_at: at(0),
    }
}

/// Commits `documents` lent, as the batch loop does.
async fn commit_documents(store: &dyn StateStore, mut documents: Vec<Document>) {
    let result = store
        .commit(Commit {
            documents: DocumentStates::from(&mut documents[..]),
            ..Commit::default()
        })
        .await;
    assert!(result.is_ok(), "commit failed: {result:?}");
}

/// Committed documents compare as unchanged, changed or new; `documents` agrees with
/// `compare`; a later commit of an id replaces its state, the last of one commit wins; states
/// given as `(id, state)` pairs count the same as documents.
pub async fn store_compares_what_it_committed<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let (a, b) = (doc("a", "alpha"), doc("b", "beta"));
    commit_documents(
        &*store,
        vec![a.clone(), b.clone(), doc("c", "old"), doc("c", "new")],
    )
    .await;

    let probe = vec![
        a.clone(),
        doc("b", "beta, edited"),
        doc("c", "new"),
        doc("d", "delta"),
    ];
    let compared = store.compare(&probe).await.unwrap_or_default();
    assert_eq!(
        compared,
        vec![
            Known::Unchanged,
            Known::Changed,
            Known::Unchanged,
            Known::New
        ],
        "compare after committing a, b and c twice (the second c wins)"
    );
    let states = store.documents(&["a", "b", "d"]).await.unwrap_or_default();
    let fingerprints: Vec<Option<&str>> = states
        .iter()
        .map(|s| s.as_ref().map(|s| s.fingerprint.as_str()))
        .collect();
    assert_eq!(
        fingerprints,
        vec![
            Some(a.fingerprint.as_str()),
            Some(b.fingerprint.as_str()),
            None
        ],
        "documents() must agree with what was committed"
    );

    // A later commit replaces; pairs are as good as documents.
    let edited = doc("b", "beta, edited");
    let pairs: Vec<(String, DocumentState)> = vec![(
        edited.id.clone(),
        DocumentState {
            fingerprint: edited.fingerprint.clone(),
            updated_at: Some(at(5)),
        },
    )];
    let result = store
        .commit(Commit {
            documents: pairs.into(),
            ..Commit::default()
        })
        .await;
    assert!(result.is_ok(), "commit of pairs failed: {result:?}");
    let compared = store.compare(&[edited]).await.unwrap_or_default();
    assert_eq!(
        compared,
        vec![Known::Unchanged],
        "a later commit replaces the state"
    );
    let b_state = store.documents(&["b"]).await.unwrap_or_default();
    assert_eq!(
        b_state
            .first()
            .cloned()
            .flatten()
            .and_then(|s| s.updated_at),
        Some(at(5)),
        "updated_at is kept"
    );
    let mut ids = store.document_ids().await.unwrap_or_default();
    ids.sort();
    assert_eq!(
        ids,
        vec!["a", "b", "c"],
        "document_ids lists every committed id once"
    );
}

/// The checkpoint is set by a commit, kept by a failed run and cleared by a finished one, which
/// also moves the window end; runs are listed newest last, at most `limit`.
pub async fn store_keeps_checkpoint_window_and_runs<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let empty = store.load().await;
    assert!(
        empty.as_ref().is_ok_and(|s| s.checkpoint.is_none()
            && s.last_window_end.is_none()
            && s.failed.is_empty()),
        "a fresh store must be empty: {empty:?}"
    );
    let cp = checkpoint("p1");
    let result = store
        .commit(Commit {
            checkpoint: CheckpointUpdate::Set(cp.clone()),
            ..Commit::default()
        })
        .await;
    assert!(result.is_ok(), "commit failed: {result:?}");
    let state = store.load().await.unwrap_or_default();
    assert_eq!(
        state.checkpoint,
        Some(cp.clone()),
        "the committed checkpoint"
    );

    let result = store.finish_run(run(RunStatus::Failed, 10), None).await;
    assert!(result.is_ok(), "finish_run failed: {result:?}");
    let state = store.load().await.unwrap_or_default();
    assert_eq!(
        state.checkpoint,
        Some(cp),
        "a failed run keeps the checkpoint"
    );
    assert_eq!(
        state.last_window_end, None,
        "a failed run does not move the window"
    );

    let result = store
        .finish_run(run(RunStatus::Succeeded, 20), Some(at(20)))
        .await;
    assert!(result.is_ok(), "finish_run failed: {result:?}");
    let state = store.load().await.unwrap_or_default();
    assert_eq!(
        state.checkpoint, None,
        "a finished run clears the checkpoint"
    );
    assert_eq!(
        state.last_window_end,
        Some(at(20)),
        "and moves the window end"
    );

    let runs = store.runs(10).await.unwrap_or_default();
    let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![RunStatus::Failed, RunStatus::Succeeded],
        "newest last"
    );
    let last = store.runs(1).await.unwrap_or_default();
    assert_eq!(last.len(), 1, "at most `limit` runs");
    assert_eq!(last.first().map(|r| r.status), Some(RunStatus::Succeeded));
}

/// Failed items are kept by key (the id, or a hash of the message), replaced when they fail
/// again, and gone once resolved.
pub async fn store_records_and_resolves_failures<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let with_id = failed(Some("x"), "x is broken", 1);
    let without_id = failed(None, "entry 3 of page 2 is not an object", 1);
    let result = store
        .commit(Commit {
            failed: vec![with_id.clone(), without_id.clone()],
            ..Commit::default()
        })
        .await;
    assert!(result.is_ok(), "commit failed: {result:?}");
    let keys = |s: &crate::state::SyncState| {
        let mut k: Vec<(String, u32)> = s.failed.iter().map(|f| (f.key(), f.attempts)).collect();
        k.sort();
        k
    };
    let state = store.load().await.unwrap_or_default();
    let mut want = vec![(with_id.key(), 1), (without_id.key(), 1)];
    want.sort();
    assert_eq!(keys(&state), want, "both failures are stored");

    let result = store
        .commit(Commit {
            failed: vec![failed(Some("x"), "x is still broken", 2)],
            resolved: vec![without_id.key()],
            ..Commit::default()
        })
        .await;
    assert!(result.is_ok(), "commit failed: {result:?}");
    let state = store.load().await.unwrap_or_default();
    assert_eq!(
        keys(&state),
        vec![("x".to_owned(), 2)],
        "a repeated failure replaces the old one; a resolved one is gone"
    );
}

/// Removed documents are forgotten: listed no more, and new again to `compare`.
pub async fn store_forgets_removed_documents<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let docs = vec![doc("a", "1"), doc("b", "2"), doc("c", "3")];
    commit_documents(&*store, docs.clone()).await;
    let result = store
        .remove_documents(&["b".to_owned(), "zz".to_owned()])
        .await;
    assert!(result.is_ok(), "remove_documents failed: {result:?}");
    let mut ids = store.document_ids().await.unwrap_or_default();
    ids.sort();
    assert_eq!(
        ids,
        vec!["a", "c"],
        "b is forgotten (an unknown id is no error)"
    );
    let compared = store.compare(&docs).await.unwrap_or_default();
    assert_eq!(
        compared,
        vec![Known::Unchanged, Known::New, Known::Unchanged]
    );
}

/// A store opened again (a new process) sees everything committed before.
pub async fn store_survives_reopen<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let a = doc("a", "alpha");
    let result = store
        .commit(Commit {
            checkpoint: CheckpointUpdate::Set(checkpoint("p2")),
            documents: vec![a.clone()].into(),
            failed: vec![failed(Some("y"), "y failed", 1)],
            resolved: Vec::new(),
        })
        .await;
    assert!(result.is_ok(), "commit failed: {result:?}");
    let result = store.finish_run(run(RunStatus::Failed, 30), None).await;
    assert!(result.is_ok(), "finish_run failed: {result:?}");
    drop(store);

    let reopened = f.open().await;
    let state = reopened.load().await.unwrap_or_default();
    assert_eq!(
        state.checkpoint,
        Some(checkpoint("p2")),
        "checkpoint after reopening"
    );
    assert_eq!(
        state.failed.iter().map(FailedItem::key).collect::<Vec<_>>(),
        vec!["y".to_owned()],
        "failures after reopening"
    );
    let compared = reopened.compare(&[a]).await.unwrap_or_default();
    assert_eq!(
        compared,
        vec![Known::Unchanged],
        "documents after reopening"
    );
    assert_eq!(
        reopened.runs(5).await.unwrap_or_default().len(),
        1,
        "runs after reopening"
    );
}

/// Expands to one `#[test]` per state store check, in a module named `$name`. `$fixture`
/// implements [`StoreFixture`].
///
/// | test | what it checks |
/// | --- | --- |
/// | `compares_what_it_committed` | `compare`/`documents` agree with the commits; the last state of an id wins |
/// | `keeps_checkpoint_window_and_runs` | checkpoint set, kept by a failed run, cleared by a finished one; window end; run log |
/// | `records_and_resolves_failures` | failures by key, replaced when repeated, gone when resolved |
/// | `forgets_removed_documents` | `remove_documents` |
/// | `survives_reopen` | everything is still there in a store opened again |
#[macro_export]
macro_rules! state_store_tests {
    ($name:ident, $fixture:ty) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run<F, Fut>(check: F)
            where
                F: FnOnce($fixture) -> Fut,
                Fut: ::std::future::Future<Output = ()>,
            {
                $crate::testkit::run_check(<$fixture as $crate::testkit::StoreFixture>::setup(), check);
            }

            #[test]
            fn compares_what_it_committed() {
                run(|f| async move { $crate::testkit::store_compares_what_it_committed(&f).await });
            }
            #[test]
            fn keeps_checkpoint_window_and_runs() {
                run(|f| async move { $crate::testkit::store_keeps_checkpoint_window_and_runs(&f).await });
            }
            #[test]
            fn records_and_resolves_failures() {
                run(|f| async move { $crate::testkit::store_records_and_resolves_failures(&f).await });
            }
            #[test]
            fn forgets_removed_documents() {
                run(|f| async move { $crate::testkit::store_forgets_removed_documents(&f).await });
            }
            #[test]
            fn survives_reopen() {
                run(|f| async move { $crate::testkit::store_survives_reopen(&f).await });
            }
        }
    };
}
