//! The conformance checks. Each panics with a message naming what broke.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::StreamExt;

use super::{Fixture, LogCapture};
use crate::connector::{CheckpointJson, Connector};
use crate::context::SyncContext;
use crate::document::{Batch, Document, Failure};
use crate::error::{Error, ErrorKind, Result};
use crate::sink::{MemorySink, Sink};
use crate::state::{FileStateStore, MemoryStateStore};
use crate::sync::{SyncMode, SyncOptions, Syncer};

fn must<T>(result: Result<T>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Every document and failure of a full load (through `as_load`, else from the initial
/// checkpoint).
///
/// # Panics
/// When the connector can neither load nor resume, or the stream fails.
pub async fn collect_load(connector: &dyn Connector) -> (Vec<Document>, Vec<Failure>) {
    let mut documents = Vec::new();
    let mut failures = Vec::new();
    if let Some(load) = connector.as_load() {
        let mut stream = load.load(SyncContext::new());
        while let Some(page) = stream.next().await {
            let page = must(page, "load failed");
            documents.extend(page.documents);
            failures.extend(page.failures);
        }
    } else {
        for (batch, _) in collect_checkpointed(connector, None).await {
            documents.extend(batch.documents);
            failures.extend(batch.failures);
        }
    }
    (documents, failures)
}

/// Every page of a checkpointed load from `from` (the initial checkpoint when `None`), with the
/// checkpoint after each.
///
/// # Panics
/// When the connector is not checkpointed or the stream fails.
pub async fn collect_checkpointed(
    connector: &dyn Connector,
    from: Option<CheckpointJson>,
) -> Vec<(Batch, CheckpointJson)> {
    let cp = connector
        .as_checkpointed()
        .unwrap_or_else(|| panic!("{connector} claims no checkpoint capability"));
    let from = match from {
        Some(f) => f,
        None => must(cp.initial_checkpoint_json(), "initial checkpoint"),
    };
    let mut pages = Vec::new();
    let mut stream = cp.load_from_checkpoint_json(from, None, SyncContext::new());
    while let Some(page) = stream.next().await {
        let page = must(page, "checkpointed load failed");
        pages.push((page.batch, page.checkpoint));
    }
    pages
}

fn ids(docs: &[Document]) -> Vec<String> {
    docs.iter().map(|d| d.id.clone()).collect()
}

/// The roles the connector states hang together, and the fixture fits them: it loads or
/// resumes, `capabilities()` is what `roles()` says, a connector that polls has a fixture
/// window (and one that does not, none: a window the connector cannot serve is a role
/// claimed in the test but not wired in the connector).
///
/// # Panics
/// On any disagreement.
pub async fn roles_are_consistent<F: Fixture>(fixture: &F) {
    let c = fixture.connector();
    let roles = c.roles();
    let caps = c.capabilities();
    assert_eq!(
        caps,
        roles.capabilities(),
        "{c}: capabilities() and roles() disagree"
    );
    assert!(
        roles.as_load().is_some(),
        "{c}: a connector must load (LoadConnector, or CheckpointedConnector which brings it)"
    );
    assert!(
        roles.as_poll().is_none() || roles.as_load().is_some(),
        "{c}: a connector that polls must load"
    );
    match (roles.as_poll().is_some(), fixture.window().is_some()) {
        (true, false) => panic!("{c} polls: its fixture must give Fixture::window"),
        (false, true) => panic!(
            "{c}'s fixture gives a window but the connector does not poll: claim the role in roles() (Roles::of(self).checkpointed() or .poll())"
        ),
        _ => {}
    }
}

/// Runs `mode` on a fresh memory store and expects the loop to refuse it as unsupported: what
/// a role-dependent check asserts for a connector without the role.
async fn expect_unsupported(c: Arc<dyn Connector>, mode: SyncMode, role: &str) {
    let result = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .run(mode)
        .await;
    match result {
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::Unsupported | ErrorKind::Checkpoint),
            "{c} has no {role} role: {mode} should be refused as unsupported, got: {e}"
        ),
        Ok(report) => panic!("{c} has no {role} role, yet a {mode} run succeeded: {report:?}"),
    }
}

/// Ids are unique within a run and stable across runs.
///
/// # Panics
/// On a duplicate id or a changed id set.
pub async fn ids_unique_and_stable<F: Fixture>(fixture: &F) {
    let (first, failures) = collect_load(fixture.connector().as_ref()).await;
    assert!(
        failures.is_empty(),
        "the fixture has no malformed item, yet the load failed: {failures:?}"
    );
    assert!(
        first.len() >= 3,
        "the fixture must hold at least three documents, it has {}",
        first.len()
    );
    let mut seen = HashSet::new();
    for id in ids(&first) {
        assert!(
            seen.insert(id.clone()),
            "id `{id}` appears twice in one load"
        );
    }
    let (second, _) = collect_load(fixture.connector().as_ref()).await;
    assert_eq!(
        ids(&first),
        ids(&second),
        "two loads of an unchanged source gave different ids or order"
    );
    for doc in &first {
        assert_eq!(
            doc.fingerprint.len(),
            32,
            "fingerprint of `{}` is not 32 hex chars",
            doc.id
        );
        assert!(
            doc.fingerprint
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "fingerprint of `{}` is not lower hex",
            doc.id
        );
    }
}

async fn poll_ids(connector: &dyn Connector, window: crate::TimeWindow) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(poll) = connector.as_poll() {
        let mut stream = poll.poll(window, SyncContext::new());
        while let Some(page) = stream.next().await {
            out.extend(ids(&must(page, "poll failed").documents));
        }
    }
    if let Some(cp) = connector.as_checkpointed() {
        // The checkpointed load with the window must agree with poll.
        let from = must(cp.initial_checkpoint_json(), "initial checkpoint");
        let mut stream = cp.load_from_checkpoint_json(from, Some(window), SyncContext::new());
        let mut again = Vec::new();
        while let Some(page) = stream.next().await {
            again.extend(ids(&must(page, "windowed load failed").batch.documents));
        }
        assert_eq!(
            out, again,
            "poll and the checkpointed load of window {window} disagree"
        );
    }
    out
}

/// A window yields exactly its items; its start is included and its end excluded. For a
/// fixture whose documents bundle parts ([`Fixture::part_times`]), a window yields every
/// document one of whose parts' times is in it, whole, and `updated_at` is the newest part's
/// time.
///
/// # Panics
/// When the fixture has no window, or the connector yields the wrong items.
pub async fn window_is_half_open<F: Fixture>(fixture: &F) {
    let c = fixture.connector();
    if c.as_poll().is_none() {
        return expect_unsupported(c, SyncMode::Incremental, "poll").await;
    }
    let (window, expected) = fixture
        .window()
        .unwrap_or_else(|| panic!("a connector that polls needs Fixture::window"));
    let got: BTreeSet<String> = poll_ids(c.as_ref(), window).await.into_iter().collect();
    let expected: BTreeSet<String> = expected.into_iter().collect();
    assert_eq!(got, expected, "window {window} yielded the wrong items");

    let (all, _) = collect_load(c.as_ref()).await;
    if all.iter().any(|d| fixture.part_times(d).is_some()) {
        return aggregate_windows(fixture, c.as_ref(), window, &expected, &all).await;
    }
    let inside: Vec<&Document> = all.iter().filter(|d| expected.contains(&d.id)).collect();
    let Some(pivot) = inside
        .iter()
        .find_map(|d| d.updated_at.map(|t| (d.id.clone(), t)))
    else {
        return;
    };
    let (pivot_id, t) = pivot;
    let before = crate::TimeWindow {
        start: window.start,
        end: t,
    };
    assert!(
        !poll_ids(c.as_ref(), before).await.contains(&pivot_id),
        "`{pivot_id}` updated at {t} was yielded by a window ending at {t}: the end must be exclusive"
    );
    let from = crate::TimeWindow {
        start: t,
        end: window.end,
    };
    assert!(
        poll_ids(c.as_ref(), from).await.contains(&pivot_id),
        "`{pivot_id}` updated at {t} was not yielded by a window starting at {t}: the start must be inclusive"
    );
    let empty = crate::TimeWindow { start: t, end: t };
    assert!(
        poll_ids(c.as_ref(), empty).await.is_empty(),
        "an empty window yielded documents"
    );
}

/// Pivot times at most, in the fixture's window, at which [`aggregate_windows`] splits it.
const AGGREGATE_PIVOTS: usize = 8;

/// `window_is_half_open` for a fixture whose documents bundle parts
/// ([`Fixture::part_times`]): a window yields a document iff one of its parts' times is in
/// it, and `updated_at` is the newest part's time. The fixture's window is split at the
/// oldest and newest in-window part of each document it yields, and each half is checked
/// against every document of a full load.
async fn aggregate_windows<F: Fixture>(
    fixture: &F,
    c: &dyn Connector,
    window: crate::TimeWindow,
    expected: &BTreeSet<String>,
    all: &[Document],
) {
    let times: Vec<(&str, Vec<chrono::DateTime<chrono::Utc>>)> = all
        .iter()
        .map(|d| {
            let parts = fixture
                .part_times(d)
                .unwrap_or_else(|| d.updated_at.into_iter().collect());
            (d.id.as_str(), parts)
        })
        .collect();
    for (d, (id, parts)) in all.iter().zip(&times) {
        if fixture.part_times(d).is_some() {
            assert_eq!(
                d.updated_at,
                parts.iter().max().copied(),
                "`{id}`'s updated_at is not the newest of its parts' times {parts:?}"
            );
        }
    }
    let due = |w: crate::TimeWindow| -> BTreeSet<String> {
        times
            .iter()
            .filter(|(_, parts)| parts.iter().any(|t| w.contains(*t)))
            .map(|(id, _)| (*id).to_owned())
            .collect()
    };
    assert_eq!(
        &due(window),
        expected,
        "the fixture's window {window} lists other documents than those with a part in it"
    );
    let mut pivots: BTreeSet<chrono::DateTime<chrono::Utc>> = BTreeSet::new();
    for (id, parts) in &times {
        if !expected.contains(*id) {
            continue;
        }
        let inside: Vec<_> = parts.iter().filter(|t| window.contains(**t)).collect();
        pivots.extend(inside.iter().min().map(|t| **t));
        pivots.extend(inside.iter().max().map(|t| **t));
    }
    for t in pivots.into_iter().take(AGGREGATE_PIVOTS) {
        for w in [
            crate::TimeWindow {
                start: window.start,
                end: t,
            },
            crate::TimeWindow {
                start: t,
                end: window.end,
            },
        ] {
            let got: BTreeSet<String> = poll_ids(c, w).await.into_iter().collect();
            assert_eq!(
                got,
                due(w),
                "window {w} yielded the wrong documents: a document is due in every window holding one of its parts' times (start included, end excluded), whole"
            );
        }
        let empty = crate::TimeWindow { start: t, end: t };
        assert!(
            poll_ids(c, empty).await.is_empty(),
            "an empty window yielded documents"
        );
    }
}

/// Every checkpoint survives a JSON round trip, and another source's checkpoint is refused.
///
/// # Panics
/// On a checkpoint that changes through JSON, or a foreign checkpoint that is accepted.
pub async fn checkpoint_round_trips<F: Fixture>(fixture: &F) {
    let c = fixture.connector();
    if c.as_checkpointed().is_none() {
        return expect_unsupported(c, SyncMode::Resume, "checkpoint").await;
    }
    let pages = collect_checkpointed(c.as_ref(), None).await;
    assert!(
        pages.len() >= 2,
        "the fixture must span at least two source pages, it has {}",
        pages.len()
    );
    for (i, (_, cp)) in pages.iter().enumerate() {
        let text = serde_json::to_string(cp)
            .unwrap_or_else(|e| panic!("checkpoint {i} does not serialise: {e}"));
        let back: CheckpointJson = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("checkpoint {i} does not parse back: {e}"));
        assert_eq!(&back, cp, "checkpoint {i} changed through JSON");
        assert_eq!(
            back.source,
            c.source(),
            "checkpoint {i} names another source"
        );
    }
    let Some(dyn_cp) = c.as_checkpointed() else {
        return;
    };
    let mut foreign = pages[0].1.clone();
    foreign.source = "some-other-source".into();
    let mut stream = dyn_cp.load_from_checkpoint_json(foreign, None, SyncContext::new());
    match stream.next().await {
        Some(Err(e)) => assert_eq!(
            e.kind(),
            ErrorKind::Checkpoint,
            "a foreign checkpoint failed with the wrong kind: {e}"
        ),
        other => panic!("a checkpoint of another source was accepted: {other:?}"),
    }
    let mut newer = pages[0].1.clone();
    newer.version += 1000;
    let mut stream = dyn_cp.load_from_checkpoint_json(newer, None, SyncContext::new());
    assert!(
        matches!(stream.next().await, Some(Err(e)) if e.kind() == ErrorKind::Checkpoint),
        "a checkpoint of an unknown version was accepted"
    );
}

/// Resuming from every checkpoint yields exactly the documents of the pages after it.
///
/// # Panics
/// When a resume yields anything else.
pub async fn resume_from_every_checkpoint<F: Fixture>(fixture: &F) {
    let c = fixture.connector();
    if c.as_checkpointed().is_none() {
        return expect_unsupported(c, SyncMode::Resume, "checkpoint").await;
    }
    let pages = collect_checkpointed(c.as_ref(), None).await;
    let page_ids: Vec<Vec<String>> = pages.iter().map(|(b, _)| ids(&b.documents)).collect();
    for (i, (_, cp)) in pages.iter().enumerate() {
        let text = serde_json::to_string(cp).unwrap_or_else(|e| panic!("checkpoint {i}: {e}"));
        let parsed: CheckpointJson =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("checkpoint {i}: {e}"));
        let fresh = fixture.connector();
        let rest: Vec<String> = collect_checkpointed(fresh.as_ref(), Some(parsed))
            .await
            .iter()
            .flat_map(|(b, _)| ids(&b.documents))
            .collect();
        let expected: Vec<String> = page_ids[i + 1..].concat();
        assert_eq!(
            rest, expected,
            "resuming after page {i} did not yield exactly the rest"
        );
    }
}

/// A sink that fails its `k`-th write (counting from 0) and records what it acknowledged.
struct FailingSink {
    inner: MemorySink,
    fail_at: Option<usize>,
    writes: AtomicUsize,
}

#[async_trait]
impl Sink for FailingSink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if Some(n) == self.fail_at {
            return Err(Error::new(
                ErrorKind::Sink,
                format!("injected failure at batch {n}"),
            ));
        }
        self.inner.write(documents).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        self.inner.delete(ids).await
    }
}

/// A sink failing at batch k, for every k, then a process-style restart (new connector, state
/// file reopened): the sink ends up with every document, and at most one sink batch of
/// acknowledged documents is delivered again (the resumed page skips what was acknowledged of
/// it; pages keep their order, as the contract asks).
///
/// # Panics
/// On a lost document, or more duplicates than one batch.
pub async fn sink_failure_at_every_batch_loses_nothing<F: Fixture>(fixture: &F) {
    let reference = fixture.connector();
    if reference.as_checkpointed().is_none() {
        return expect_unsupported(reference, SyncMode::Resume, "checkpoint").await;
    }
    let pages = collect_checkpointed(reference.as_ref(), None).await;
    let page_of: HashMap<String, usize> = pages
        .iter()
        .enumerate()
        .flat_map(|(i, (b, _))| b.documents.iter().map(move |d| (d.id.clone(), i)))
        .collect();
    let all: BTreeSet<String> = page_of.keys().cloned().collect();
    // Batches of 2 split most pages over several sink batches.
    let options = SyncOptions::default().batch_docs(2);
    let batches = all.len().div_ceil(2);
    for k in 0..batches {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let state_path = dir.path().join("state.json");
        let first = FailingSink {
            inner: MemorySink::new(),
            fail_at: Some(k),
            writes: AtomicUsize::new(0),
        };
        let first_sink = Arc::new(first);
        let store = must(FileStateStore::open(&state_path).await, "open state");
        let err = Syncer::new(fixture.connector())
            .shared_sink(first_sink.clone())
            .state(store)
            .options(options.clone())
            .run(SyncMode::Full)
            .await
            .err()
            .unwrap_or_else(|| panic!("the sink failed at batch {k}, yet the sync succeeded"));
        assert_eq!(
            err.kind(),
            ErrorKind::Sink,
            "failure at batch {k} surfaced as {err}"
        );
        let acknowledged: Vec<String> = first_sink.inner.deliveries().concat();

        // "Restart the process": a new connector, the state file read again.
        let second_sink = MemorySink::new();
        let store = must(FileStateStore::open(&state_path).await, "reopen state");
        must(
            Syncer::new(fixture.connector())
                .sink(second_sink.clone())
                .state(store)
                .options(options.clone())
                .run(SyncMode::Auto)
                .await,
            &format!("resumed sync after a failure at batch {k}"),
        );
        let redelivered: Vec<String> = second_sink.deliveries().concat();
        let held: BTreeSet<String> = acknowledged
            .iter()
            .chain(redelivered.iter())
            .cloned()
            .collect();
        let lost: Vec<&String> = all.difference(&held).collect();
        assert!(
            lost.is_empty(),
            "after a sink failure at batch {k} and a restart, these documents were lost: {lost:?}"
        );

        // The stored checkpoint records how much of the interrupted page was acknowledged, so
        // a resumed page skips it: at most the one batch in flight is delivered twice.
        let acked: HashSet<&String> = acknowledged.iter().collect();
        let twice: Vec<&String> = redelivered.iter().filter(|id| acked.contains(id)).collect();
        assert!(
            twice.len() <= options.batch_docs,
            "after a failure at batch {k} and a restart, {} acknowledged documents were delivered again (at most one batch, {}, may be): {twice:?}",
            twice.len(),
            options.batch_docs
        );
    }
}

/// `list_ids` lists every id a load yields (and may list ids that failed to load).
///
/// # Panics
/// When an id is missing from the listing, or the listing holds ids nothing could produce.
pub async fn slim_lists_every_id<F: Fixture>(fixture: &F) {
    let c = fixture.connector();
    let Some(slim) = c.as_slim() else {
        let err = Syncer::new(c.clone())
            .sink(MemorySink::new())
            .prune()
            .await
            .expect_err("prune without a slim role must be refused");
        assert_eq!(
            err.kind(),
            ErrorKind::Unsupported,
            "{c} has no slim role: prune should be refused as unsupported, got: {err}"
        );
        return;
    };
    let mut listed = BTreeSet::new();
    let mut stream = slim.list_ids(SyncContext::new());
    while let Some(page) = stream.next().await {
        for s in must(page, "list_ids failed") {
            assert!(
                listed.insert(s.id.clone()),
                "list_ids lists `{}` twice",
                s.id
            );
        }
    }
    let (docs, failures) = collect_load(c.as_ref()).await;
    let loaded: BTreeSet<String> = ids(&docs).into_iter().collect();
    let missing: Vec<&String> = loaded.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "list_ids misses ids a load yields (prune would delete them): {missing:?}"
    );
    let possible: BTreeSet<String> = loaded
        .iter()
        .cloned()
        .chain(failures.into_iter().filter_map(|f| f.id))
        .collect();
    let extra: Vec<&String> = listed.difference(&possible).collect();
    assert!(
        extra.is_empty(),
        "list_ids lists ids no load yields: {extra:?}"
    );
}

/// Fetching ids again gives the same documents; an unknown id gives nothing and no error.
///
/// # Panics
/// When the fetched documents differ from the loaded ones.
pub async fn refetch_yields_the_same_documents<F: Fixture>(fixture: &F) {
    let c = fixture.connector();
    let Some(refetch) = c.as_refetch() else {
        // Without the role the loop holds an incremental window back to a failure's time
        // instead of fetching it by id (checked by the loop's own tests); nothing to fetch.
        assert!(
            !c.capabilities().refetch,
            "{c}: refetch claimed without the role"
        );
        return;
    };
    let (docs, _) = collect_load(c.as_ref()).await;
    let wanted: Vec<Document> = docs.into_iter().take(3).collect();
    let mut got = Vec::new();
    let mut stream = refetch.fetch(ids(&wanted), SyncContext::new());
    while let Some(page) = stream.next().await {
        got.extend(must(page, "fetch failed").documents);
    }
    let by_id: HashMap<&str, &Document> = got.iter().map(|d| (d.id.as_str(), d)).collect();
    for doc in &wanted {
        let again = by_id
            .get(doc.id.as_str())
            .unwrap_or_else(|| panic!("fetch did not return `{}`", doc.id));
        assert_eq!(
            again.fingerprint, doc.fingerprint,
            "fetch of `{}` gave another fingerprint",
            doc.id
        );
        assert_eq!(
            again.content, doc.content,
            "fetch of `{}` gave another body",
            doc.id
        );
    }
    let mut stream = refetch.fetch(vec!["no-such-item-3f9e".to_owned()], SyncContext::new());
    while let Some(page) = stream.next().await {
        let page = must(page, "fetch of an unknown id failed");
        assert!(
            page.documents.is_empty(),
            "fetch of an unknown id returned documents"
        );
    }
}

/// A malformed item becomes a failure naming it, and the other documents still come.
///
/// # Panics
/// When the stream stops at the malformed item or hides the failure.
pub async fn malformed_item_is_a_failure<F: Fixture>(fixture: &F) {
    let (connector, id) = fixture.malformed();
    let (docs, failures) = collect_load(connector.as_ref()).await;
    assert!(
        !failures.is_empty(),
        "the malformed item produced no failure"
    );
    assert!(
        docs.len() >= 2,
        "the stream stopped at the malformed item: only {} documents came",
        docs.len()
    );
    if let Some(id) = id {
        assert!(
            failures.iter().any(|f| f.id.as_deref() == Some(&id)),
            "no failure names `{id}`: {failures:?}"
        );
        assert!(
            !docs.iter().any(|d| d.id == id),
            "`{id}` is both a document and a failure"
        );
        assert!(
            failures
                .iter()
                .any(|f| f.message.contains(&id) || f.link.is_some()),
            "the failure message does not name the item: {failures:?}"
        );
    }
    let sink = MemorySink::new();
    let report = must(
        Syncer::new(connector)
            .sink(sink.clone())
            .run(SyncMode::Full)
            .await,
        "a sync with a malformed item must finish",
    );
    assert_eq!(report.failed as usize, failures.len());
    assert_eq!(sink.len(), docs.len());
}

/// The fixture's secret appears in no `Debug`, `Display`, error or log line.
///
/// # Panics
/// When the secret is printed anywhere, and when the fixture gives no secret although it
/// does not declare its source credential-free ([`Fixture::has_credentials`]): a check that
/// looks for nothing would pass for any connector.
pub async fn secret_never_printed<F: Fixture>(fixture: &F) {
    let Some(secret) = fixture.secret() else {
        assert!(
            !fixture.has_credentials(),
            "the fixture gives no secret: return the config's credential from Fixture::secret \
             (or override Fixture::has_credentials to false for a source that has none)"
        );
        return;
    };
    assert!(
        secret.len() >= 6,
        "the fixture's secret `{secret}` is too short to be told apart from other text"
    );
    let (logs, _guard) = LogCapture::start();
    let c = fixture.connector();
    let mut printed = vec![format!("{c:?}"), format!("{c:#?}"), c.to_string()];
    if let Err(e) = c.check().await {
        printed.push(format!("{e:?}"));
        printed.push(e.to_string());
    }
    let (bad, _) = fixture.malformed();
    if let Ok(report) = Syncer::new(bad).run(SyncMode::Full).await {
        printed.push(format!("{report:?}"));
    }
    match Syncer::new(fixture.connector()).run(SyncMode::Full).await {
        Ok(report) => printed.push(format!("{report:?}")),
        Err(e) => printed.push(format!("{e:?} {e}")),
    }
    printed.push(logs.contents());
    for text in printed {
        assert!(!text.contains(&secret), "the secret was printed: {text}");
    }
}

/// Dropping a stream after its first page, or cancelling a sync, loses nothing.
///
/// # Panics
/// When a later run does not deliver everything.
pub async fn drop_mid_page_is_safe<F: Fixture>(fixture: &F) {
    let c = fixture.connector();
    let (all, _) = collect_load(c.as_ref()).await;
    if let Some(load) = c.as_load() {
        let mut stream = load.load(SyncContext::new());
        let _first = stream.next().await;
        drop(stream);
    }
    if let Some(cp) = c.as_checkpointed() {
        let from = must(cp.initial_checkpoint_json(), "initial checkpoint");
        let mut stream = cp.load_from_checkpoint_json(from, None, SyncContext::new());
        let _first = stream.next().await;
        drop(stream);
    }
    // A sync cancelled after its first page, then run again from the same state.
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let token = crate::Cancellation::new();
    let cancel = token.clone();
    let first = Syncer::new(fixture.connector())
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(1))
        .cancellation(token)
        .on_progress(move |p| {
            if p.pages >= 1 {
                cancel.cancel();
            }
        })
        .run(SyncMode::Full)
        .await;
    if let Err(e) = &first {
        assert_eq!(
            e.kind(),
            ErrorKind::Cancelled,
            "a cancelled sync failed with {e}"
        );
    }
    must(
        Syncer::new(fixture.connector())
            .sink(sink.clone())
            .state(store)
            .run(SyncMode::Auto)
            .await,
        "the run after a cancelled one",
    );
    let held: BTreeSet<String> = sink.ids().into_iter().collect();
    let expected: BTreeSet<String> = ids(&all).into_iter().collect();
    assert_eq!(
        held, expected,
        "after a cancelled sync and a new run the sink does not hold every document"
    );
}

/// A full sync delivers exactly the loaded documents; a second full sync finds them unchanged
/// and a reconciliation ([`SyncMode::Reconcile`]) delivers none of them.
///
/// # Panics
/// When the sink's content differs from a plain load.
pub async fn full_sync_delivers_every_document<F: Fixture>(fixture: &F) {
    let (all, _) = collect_load(fixture.connector().as_ref()).await;
    let sink = MemorySink::new();
    let store = MemoryStateStore::new();
    let report = must(
        Syncer::new(fixture.connector())
            .sink(sink.clone())
            .state(store.clone())
            .run(SyncMode::Full)
            .await,
        "full sync",
    );
    let expected: BTreeSet<String> = ids(&all).into_iter().collect();
    let held: BTreeSet<String> = sink.ids().into_iter().collect();
    assert_eq!(
        held, expected,
        "the sink does not hold exactly the loaded documents"
    );
    assert_eq!(
        report.new as usize,
        all.len(),
        "every document of a first sync is new"
    );
    let again = must(
        Syncer::new(fixture.connector())
            .sink(sink)
            .state(store.clone())
            .run(SyncMode::Full)
            .await,
        "second full sync",
    );
    assert_eq!(
        again.unchanged as usize,
        all.len(),
        "a second full sync of an unchanged source must find every document unchanged"
    );
    assert_eq!(
        again.new + again.updated,
        0,
        "a second full sync of an unchanged source found new or updated documents"
    );
    let reconciled = must(
        Syncer::new(fixture.connector())
            .sink(MemorySink::new())
            .state(store)
            .run(SyncMode::Reconcile)
            .await,
        "reconciliation",
    );
    assert_eq!(
        (reconciled.delivered, reconciled.unchanged as usize),
        (0, all.len()),
        "a reconciliation of an unchanged source must deliver nothing and find every document unchanged"
    );
}
