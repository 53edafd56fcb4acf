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
    CheckpointUpdate, Commit, DocumentState, DocumentStates, FailedItem, Known, PruneCounts,
    PrunePass, RunRecord, RunStatus, StateStore, StoredCheckpoint,
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
        reconcile: false,
        page_prefix: None,
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
            parent_id: None,
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

/// [`StateStore::children`]: the ids whose parent is one of those asked for, sorted, each
/// once; a later commit that moves a document to another parent or drops its parent, and a
/// removal, are seen; `documents` returns the parent; all of it survives a reopen. Not one of
/// [`state_store_tests!`](crate::state_store_tests) (a store that keeps no parents, on the
/// provided method, finds no children): a store that keeps them runs it as a test of its own.
pub async fn store_finds_children_by_parent<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let child = |id: &str, parent: &str| doc(id, id).with_parent_id(parent);
    commit_documents(
        &*store,
        vec![
            doc("m1", "message"),
            child("m1/a2", "m1"),
            child("m1/a1", "m1"),
            child("m2/a1", "m2"),
            doc("x", "no parent"),
        ],
    )
    .await;
    let children = |parents: &'static [&'static str]| {
        let store = store.clone();
        async move { store.children(parents).await.unwrap_or_default() }
    };
    assert_eq!(
        children(&["m1"]).await,
        vec!["m1/a1", "m1/a2"],
        "children of m1"
    );
    assert_eq!(
        children(&["m2", "m1", "nobody"]).await,
        vec!["m1/a1", "m1/a2", "m2/a1"],
        "children of m1 and m2, sorted"
    );
    assert!(children(&["x"]).await.is_empty(), "x has no children");
    // In the ids' byte order, whatever a database's collation would say.
    commit_documents(
        &*store,
        vec![
            child("m4/a", "m4"),
            child("m4/B", "m4"),
            child("m4/_", "m4"),
            child("m4/\u{e9}", "m4"),
        ],
    )
    .await;
    assert_eq!(
        children(&["m4"]).await,
        vec!["m4/B", "m4/_", "m4/a", "m4/\u{e9}"],
        "children in byte order"
    );
    assert!(children(&[]).await.is_empty(), "no parents, no children");

    // m1/a2 moves to m3, m2/a1 loses its parent, m1/a1 is removed.
    commit_documents(&*store, vec![child("m1/a2", "m3"), doc("m2/a1", "orphan")]).await;
    let removed = store.remove_documents(&["m1/a1".to_owned()]).await;
    assert!(removed.is_ok(), "remove_documents failed: {removed:?}");
    assert!(
        children(&["m1", "m2"]).await.is_empty(),
        "after the moves and the removal"
    );
    assert_eq!(children(&["m3"]).await, vec!["m1/a2"], "the moved child");
    let states = store
        .documents(&["m1/a2", "m2/a1"])
        .await
        .unwrap_or_default();
    let parents: Vec<Option<String>> = states
        .into_iter()
        .map(|s| s.and_then(|s| s.parent_id))
        .collect();
    assert_eq!(
        parents,
        vec![Some("m3".to_owned()), None],
        "documents() returns the parent"
    );

    drop(store);
    let reopened = f.open().await;
    assert_eq!(
        reopened.children(&["m3", "m1"]).await.unwrap_or_default(),
        vec!["m1/a2"],
        "parents survive a reopen"
    );
}

/// The checkpoint is set by a commit, kept by a failed run and cleared by a finished one, which
/// also moves the window end; runs are listed newest last, at most `limit`. A store whose
/// [`keeps_checkpoints`](StateStore::keeps_checkpoints) is `false` must return no checkpoint
/// at every step instead.
pub async fn store_keeps_checkpoint_window_and_runs<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let keeps = store.keeps_checkpoints();
    let kept = |cp: StoredCheckpoint| keeps.then_some(cp);
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
        kept(cp.clone()),
        "the committed checkpoint (none if the store keeps none)"
    );

    let result = store.finish_run(run(RunStatus::Failed, 10), None).await;
    assert!(result.is_ok(), "finish_run failed: {result:?}");
    let state = store.load().await.unwrap_or_default();
    assert_eq!(
        state.checkpoint,
        kept(cp),
        "a failed run keeps the checkpoint (none if the store keeps none)"
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

/// A store opened again (a new process) sees everything committed before (but the checkpoint,
/// for a store whose [`keeps_checkpoints`](StateStore::keeps_checkpoints) is `false`).
pub async fn store_survives_reopen<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let keeps = store.keeps_checkpoints();
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
        keeps.then(|| checkpoint("p2")),
        "checkpoint after reopening (none if the store keeps none)"
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

/// A store whose [`keeps_checkpoints`](StateStore::keeps_checkpoints) is `false` returns no
/// checkpoint from [`load`](StateStore::load), whatever it was committed: one set, one set
/// together with documents and failures, and after a failed run. A store that keeps
/// checkpoints passes at once. This check needs nothing but `commit`, `finish_run` and `load`,
/// so a store that keeps no documents either (such as
/// [`EphemeralStateStore::without_checkpoints`](crate::state::EphemeralStateStore::without_checkpoints),
/// which cannot pass the document checks) can call it alone.
pub async fn store_that_keeps_no_checkpoint_returns_none(store: &dyn StateStore) {
    if store.keeps_checkpoints() {
        return;
    }
    let result = store
        .commit(Commit {
            checkpoint: CheckpointUpdate::Set(checkpoint("n1")),
            ..Commit::default()
        })
        .await;
    assert!(result.is_ok(), "commit failed: {result:?}");
    let state = store.load().await;
    assert!(
        state.as_ref().is_ok_and(|s| s.checkpoint.is_none()),
        "a store that keeps no checkpoints returned one: {state:?}"
    );
    let result = store
        .commit(Commit {
            checkpoint: CheckpointUpdate::Set(checkpoint("n2")),
            documents: vec![doc("n", "body")].into(),
            failed: vec![failed(Some("n"), "n failed", 1)],
            resolved: Vec::new(),
        })
        .await;
    assert!(result.is_ok(), "commit failed: {result:?}");
    let result = store.finish_run(run(RunStatus::Failed, 40), None).await;
    assert!(result.is_ok(), "finish_run failed: {result:?}");
    let state = store.load().await.unwrap_or_default();
    assert_eq!(
        state.checkpoint, None,
        "a store that keeps no checkpoints returned one after a failed run"
    );
    assert_eq!(
        state.failed.iter().map(FailedItem::key).collect::<Vec<_>>(),
        vec!["n".to_owned()],
        "the failures committed with the checkpoint are kept"
    );
}

/// `n` documents `doc-000` … committed.
async fn commit_numbered(store: &dyn StateStore, n: usize) -> Vec<String> {
    let docs: Vec<Document> = (0..n)
        .map(|i| doc(&format!("doc-{i:03}"), &format!("body {i}")))
        .collect();
    let ids = docs.iter().map(|d| d.id.clone()).collect();
    commit_documents(store, docs).await;
    ids
}

async fn begin(store: &dyn StateStore) -> Box<dyn PrunePass + '_> {
    match store.begin_prune().await {
        Ok(pass) => pass,
        Err(e) => panic!("begin_prune failed: {e}"),
    }
}

async fn mark(pass: &mut dyn PrunePass, ids: &[&str]) {
    let result = pass.mark(ids).await;
    assert!(result.is_ok(), "mark failed: {result:?}");
}

async fn counts(pass: &mut dyn PrunePass) -> PruneCounts {
    match pass.counts().await {
        Ok(c) => c,
        Err(e) => panic!("counts failed: {e}"),
    }
}

/// Every unlisted id, `limit` at a time, each page after the last id of the one before;
/// `remove` removes each page from the store before the next is asked for, as prune does.
/// Sorted, to compare as a set (the store pages in its own order).
async fn all_unlisted(
    store: &dyn StateStore,
    pass: &mut dyn PrunePass,
    limit: usize,
    remove: bool,
) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let page = match pass.unlisted(after.as_deref(), limit).await {
            Ok(p) => p,
            Err(e) => panic!("unlisted failed: {e}"),
        };
        assert!(
            page.len() <= limit,
            "unlisted returned {} ids for a limit of {limit}",
            page.len()
        );
        let Some(last) = page.last() else {
            all.sort();
            let before = all.len();
            all.dedup();
            assert_eq!(before, all.len(), "unlisted repeated an id across pages");
            return all;
        };
        after = Some(last.clone());
        if remove {
            let result = store.remove_documents(&page).await;
            assert!(result.is_ok(), "remove_documents failed: {result:?}");
        }
        all.extend(page);
    }
    panic!("unlisted never returned an empty page: paging after the last id must move on");
}

async fn finish(pass: &mut dyn PrunePass) {
    let result = pass.finish().await;
    assert!(result.is_ok(), "finish failed: {result:?}");
}

/// A prune pass marks the listed ids the store knows (unknown ones are ignored, repeats count
/// once), counts known and marked documents, and pages through the rest; paging goes on
/// correctly while each page is removed; marks change nothing else the store answers.
pub async fn store_prune_pass_marks_and_unlists<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let ids = commit_numbered(&*store, 25).await;
    let id = |i: usize| ids.get(i).map_or("", String::as_str);
    let mut pass = begin(&*store).await;
    let first: Vec<&str> = (0..10).map(id).chain(["not-known"]).collect();
    mark(&mut *pass, &first).await;
    let second: Vec<&str> = [5, 10, 11, 12, 13, 14].into_iter().map(id).collect();
    mark(&mut *pass, &second).await;
    mark(&mut *pass, &[]).await;
    assert_eq!(
        counts(&mut *pass).await,
        PruneCounts {
            known: 25,
            marked: 15
        },
        "25 known, 15 marked (an unknown id is ignored, a repeated one counts once)"
    );

    let want: Vec<String> = ids.iter().skip(15).cloned().collect();
    for limit in [1, 4, 100] {
        assert_eq!(
            all_unlisted(&*store, &mut *pass, limit, false).await,
            want,
            "the unlisted ids, {limit} at a time"
        );
    }
    let compared = store
        .compare(&[doc("doc-020", "body 20"), doc("doc-003", "body 3")])
        .await
        .unwrap_or_default();
    assert_eq!(
        compared,
        vec![Known::Unchanged, Known::Unchanged],
        "marks change nothing compare answers"
    );

    // As prune does: each page removed before the next is asked for.
    assert_eq!(
        all_unlisted(&*store, &mut *pass, 3, true).await,
        want,
        "paging while each page is removed visits every unlisted id once"
    );
    finish(&mut *pass).await;
    let mut left = store.document_ids().await.unwrap_or_default();
    left.sort();
    assert_eq!(
        left,
        ids.iter().take(15).cloned().collect::<Vec<_>>(),
        "the marked ids are kept"
    );
}

/// A document committed while a pass is open (a sync running beside the prune) is never
/// unlisted: the source just produced it.
pub async fn store_prune_pass_spares_documents_committed_during_it<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let ids = commit_numbered(&*store, 4).await;
    let mut pass = begin(&*store).await;
    let listed: Vec<&str> = ids.iter().take(2).map(String::as_str).collect();
    mark(&mut *pass, &listed).await;
    commit_documents(&*store, vec![doc("new-during-pass", "fresh")]).await;
    let unlisted = all_unlisted(&*store, &mut *pass, 10, false).await;
    assert_eq!(
        unlisted,
        ids.iter().skip(2).cloned().collect::<Vec<_>>(),
        "a document first committed during the pass is not unlisted"
    );
    let c = counts(&mut *pass).await;
    assert_eq!(
        c.unlisted(),
        2,
        "it is not counted as unlisted either: {c:?}"
    );
    finish(&mut *pass).await;
}

/// A pass that deletes nothing (the listing failed, the guard refused) leaves no trace: a
/// later pass begins with nothing marked, whether the earlier one was finished or dropped,
/// and the documents are all still there.
pub async fn store_prune_pass_leaves_no_trace<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let ids = commit_numbered(&*store, 6).await;
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();

    let mut failed = begin(&*store).await;
    mark(&mut *failed, all.get(..4).unwrap_or_default()).await;
    finish(&mut *failed).await;
    drop(failed);
    let mut pass = begin(&*store).await;
    assert_eq!(
        counts(&mut *pass).await,
        PruneCounts {
            known: 6,
            marked: 0
        },
        "a finished pass leaves no marks"
    );
    mark(&mut *pass, all.get(..5).unwrap_or_default()).await;
    // Dropped, never finished: as when the prune's future is dropped mid-listing.
    drop(pass);

    let mut next = begin(&*store).await;
    assert_eq!(
        counts(&mut *next).await,
        PruneCounts {
            known: 6,
            marked: 0
        },
        "a dropped pass leaves no marks"
    );
    assert_eq!(
        all_unlisted(&*store, &mut *next, 100, false).await,
        ids,
        "every id is unlisted in a pass that marked none"
    );
    finish(&mut *next).await;
    // Finishing twice is no error.
    finish(&mut *next).await;
    assert_eq!(
        store.document_ids().await.unwrap_or_default().len(),
        6,
        "no document was removed"
    );
}

/// A pass interrupted by the end of its process (the store opened again) leaves no marks, the
/// ids it removed stay removed, and a store written during a pass reads back.
pub async fn store_prune_pass_survives_reopen<F: StoreFixture>(f: &F) {
    let store = f.open().await;
    let ids = commit_numbered(&*store, 6).await;
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut pass = begin(&*store).await;
    mark(&mut *pass, all.get(..3).unwrap_or_default()).await;
    let first = match pass.unlisted(None, 1).await {
        Ok(page) => page,
        Err(e) => panic!("unlisted failed: {e}"),
    };
    assert_eq!(first.len(), 1, "one unlisted id: {first:?}");
    let result = store.remove_documents(&first).await;
    assert!(result.is_ok(), "remove_documents failed: {result:?}");
    // A run finished during the pass (a file store writes its snapshot here).
    let result = store
        .finish_run(run(RunStatus::Succeeded, 40), Some(at(40)))
        .await;
    assert!(result.is_ok(), "finish_run failed: {result:?}");
    drop(pass);
    drop(store);

    let reopened = f.open().await;
    let mut known = reopened.document_ids().await.unwrap_or_default();
    known.sort();
    let want: Vec<String> = ids
        .iter()
        .filter(|id| !first.contains(id))
        .cloned()
        .collect();
    assert_eq!(known, want, "the removed id stays removed after reopening");
    let mut pass = begin(&*reopened).await;
    assert_eq!(
        counts(&mut *pass).await,
        PruneCounts {
            known: 5,
            marked: 0
        },
        "no marks after reopening"
    );
    finish(&mut *pass).await;
}

/// Expands to one `#[test]` per state store check, in a module named `$name`. `$fixture`
/// implements [`StoreFixture`].
///
/// | test | what it checks |
/// | --- | --- |
/// | `compares_what_it_committed` | `compare`/`documents` agree with the commits; the last state of an id wins |
/// | `keeps_checkpoint_window_and_runs` | checkpoint set, kept by a failed run, cleared by a finished one (never returned by a store that keeps none); window end; run log |
/// | `keeps_no_checkpoint_if_it_says_so` | a store whose `keeps_checkpoints` is `false` returns no checkpoint from `load` (passes at once for one that keeps them) |
/// | `records_and_resolves_failures` | failures by key, replaced when repeated, gone when resolved |
/// | `forgets_removed_documents` | `remove_documents` |
/// | `survives_reopen` | everything is still there in a store opened again (no checkpoint for a store that keeps none) |
/// | `prune_pass_marks_and_unlists` | a [`PrunePass`]: marks, counts, unlisted ids page by page (also while each page is removed) |
/// | `prune_pass_spares_documents_committed_during_it` | a document committed during a pass is never unlisted |
/// | `prune_pass_leaves_no_trace` | a finished or dropped pass leaves no marks for the next |
/// | `prune_pass_survives_reopen` | after a pass interrupted by its process's end: removals kept, no marks |
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
            fn keeps_no_checkpoint_if_it_says_so() {
                run(|f| async move {
                    let store = <$fixture as $crate::testkit::StoreFixture>::open(&f).await;
                    $crate::testkit::store_that_keeps_no_checkpoint_returns_none(&*store).await
                });
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
            #[test]
            fn prune_pass_marks_and_unlists() {
                run(|f| async move { $crate::testkit::store_prune_pass_marks_and_unlists(&f).await });
            }
            #[test]
            fn prune_pass_spares_documents_committed_during_it() {
                run(|f| async move {
                    $crate::testkit::store_prune_pass_spares_documents_committed_during_it(&f).await
                });
            }
            #[test]
            fn prune_pass_leaves_no_trace() {
                run(|f| async move { $crate::testkit::store_prune_pass_leaves_no_trace(&f).await });
            }
            #[test]
            fn prune_pass_survives_reopen() {
                run(|f| async move { $crate::testkit::store_prune_pass_survives_reopen(&f).await });
            }
        }
    };
}
