//! The file state store is crash-consistent and single-writer (issue 17): one store per file
//! (an advisory lock naming its holder's pid), temporary files of each writer's own, and a
//! journal that opens after any sequence of torn appends and interrupted runs, holding every
//! commit that completed.
#![allow(clippy::unwrap_used)] // Test helpers outside `#[test]`: a broken setup fails loudly.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{TimeZone, Utc};
use connector_core::ErrorKind;
use connector_core::state::{
    Commit, DocumentState, FileStateStore, RunRecord, RunStatus, StateStore,
};
use proptest::prelude::*;

fn commit_of(id: &str) -> Commit<'static> {
    Commit {
        documents: vec![(id.to_owned(), DocumentState::new(format!("fp-{id}"), None))].into(),
        ..Commit::default()
    }
}

fn run_record() -> RunRecord {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    RunRecord {
        mode: "full".to_owned(),
        status: RunStatus::Succeeded,
        started_at: at,
        finished_at: at,
        window: None,
        new: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        deleted: 0,
        error: None,
    }
}

fn journal_of(state: &Path) -> PathBuf {
    state.with_file_name("state.json.journal")
}

fn append_to(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}

async fn ids(store: &FileStateStore) -> Vec<String> {
    let mut ids = store.document_ids().await.unwrap();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_torn_journal_tail_then_another_interrupted_run_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = FileStateStore::open(&path).await.unwrap();
    for id in ["a", "b", "c"] {
        store.commit(commit_of(id)).await.unwrap();
    }
    drop(store);
    // The first run ends in the middle of an append.
    append_to(
        &journal_of(&path),
        br#"{"op":"commit","seq":4,"documents":[["torn""#,
    );
    // The second run commits once more and is interrupted too (no finish_run).
    let store = FileStateStore::open(&path).await.unwrap();
    store.commit(commit_of("d")).await.unwrap();
    drop(store);
    // Before the torn tail was cut on open, this was "corrupt line 4 of the journal".
    let store = FileStateStore::open(&path).await.unwrap();
    assert_eq!(ids(&store).await, ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn a_journal_glued_to_a_torn_line_by_an_older_version_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = FileStateStore::open(&path).await.unwrap();
    store.commit(commit_of("a")).await.unwrap();
    drop(store);
    // What versions that appended after a torn line left: the remains, then a whole entry.
    append_to(
        &journal_of(&path),
        br#"{"op":"commit","seq":2,"documents":[["torn""#,
    );
    append_to(
        &journal_of(&path),
        br#"{"op":"commit","seq":2,"documents":[["b",{"fingerprint":"fp-b"}]]}"#,
    );
    append_to(&journal_of(&path), b"\n");
    let store = FileStateStore::open(&path).await.unwrap();
    assert_eq!(ids(&store).await, ["a", "b"]);
    store.commit(commit_of("c")).await.unwrap();
    drop(store);
    let store = FileStateStore::open(&path).await.unwrap();
    assert_eq!(ids(&store).await, ["a", "b", "c"]);
}

/// A snapshot as the version before this one wrote it at the end of a run (taken from a run of
/// that binary), then the journal of a later run it left behind (its entries as that version
/// serialised them): an entry the snapshot holds already, a commit with a checkpoint inside a
/// page, a removal, a carried checkpoint and the end of the run.
const OLD_SNAPSHOT: &str = r#"{"version":1,"checkpoint":null,"last_window_end":"2026-12-05T00:09:03.050392742Z","documents":{"a.md":{"fingerprint":"ef4fb1f3961e3b16399d8c0a6d72384e","updated_at":"2026-12-05T00:09:03.018381298Z"},"b.txt":{"fingerprint":"etag-7","updated_at":"2026-12-05T00:09:03.018Z"}},"failed":{},"runs":[{"mode":"full","status":"succeeded","started_at":"2026-12-05T00:09:03.050392742Z","finished_at":"2026-12-05T00:09:03.052452021Z","new":2,"updated":0,"unchanged":0,"failed":0,"deleted":0}],"seq":2}"#;
const OLD_JOURNAL: &str = concat!(
    r#"{"op":"commit","seq":2,"documents":[["stale",{"fingerprint":"x"}]]}"#,
    "\n",
    r#"{"op":"commit","seq":3,"checkpoint":{"checkpoint":{"source":"local","version":1,"state":{"after":"c.md"}},"started_at":"2026-12-06T10:00:00Z","page_prefix":{"documents":1,"ids_hash":42}},"documents":[["c.md",{"fingerprint":"0123456789abcdef0123456789abcdef","updated_at":"2026-12-06T09:59:59.000001Z"}],["d.md",{"fingerprint":"etag-9"}]]}"#,
    "\n",
    r#"{"op":"remove","seq":4,"ids":["b.txt"]}"#,
    "\n",
    r#"{"op":"carry","seq":5,"checkpoint":{"source":"local","version":1,"state":{"feed":"t1"}}}"#,
    "\n",
    r#"{"op":"finish","seq":6,"run":{"mode":"incremental","status":"succeeded","started_at":"2026-12-06T10:00:00Z","finished_at":"2026-12-06T10:00:01.5Z","new":2,"updated":0,"unchanged":1,"failed":0,"deleted":1},"window_end":"2026-12-06T10:00:00Z"}"#,
    "\n",
);

/// Checks what the old files hold, however the store now keeps them, and that the log holds
/// `runs` runs.
async fn holds_the_old_state(store: &FileStateStore, runs: usize) {
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    assert_eq!(ids(store).await, ["a.md", "c.md", "d.md"]);
    let states = store.documents(&["a.md", "c.md", "d.md"]).await.unwrap();
    let states: Vec<DocumentState> = states.into_iter().map(Option::unwrap).collect();
    assert_eq!(
        states,
        [
            DocumentState::new(
                "ef4fb1f3961e3b16399d8c0a6d72384e",
                Some(at("2026-12-05T00:09:03.018381298Z")),
            ),
            DocumentState::new(
                "0123456789abcdef0123456789abcdef",
                Some(at("2026-12-06T09:59:59.000001Z")),
            ),
            DocumentState::new("etag-9", None),
        ]
    );
    let state = store.load().await.unwrap();
    // The finished run cleared the checkpoint and moved the window's end.
    assert_eq!(state.checkpoint, None);
    assert_eq!(state.last_window_end, Some(at("2026-12-06T10:00:00Z")));
    assert_eq!(
        state.carried.map(|c| c.state),
        Some(serde_json::json!({"feed": "t1"}))
    );
    let log = store.runs(10).await.unwrap();
    assert_eq!(log.len(), runs);
    assert_eq!(log[1].finished_at, at("2026-12-06T10:00:01.5Z"));
}

/// State files written by the version before this one (whose timestamps went through chrono's
/// `Display`, and which folded the journal into the snapshot at the end of every run) load,
/// and what this version writes back reads the same.
#[tokio::test]
async fn state_files_of_the_previous_version_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, OLD_SNAPSHOT).unwrap();
    std::fs::write(journal_of(&path), OLD_JOURNAL).unwrap();
    let store = FileStateStore::open(&path).await.unwrap();
    holds_the_old_state(&store, 2).await;
    // The end of a run past twice the snapshot's size of journal rewrites the snapshot.
    store
        .finish_run(
            run_record(),
            Some(Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()),
        )
        .await
        .unwrap();
    drop(store);
    let snapshot = std::fs::read_to_string(&path).unwrap();
    assert!(
        snapshot.contains(r#""updated_at":"2026-12-05T00:09:03.018381298Z""#)
            && snapshot.contains(r#""updated_at":"2026-12-06T09:59:59.000001Z""#),
        "timestamps are written as before: {snapshot}"
    );
    assert_eq!(std::fs::metadata(journal_of(&path)).unwrap().len(), 0);
    let store = FileStateStore::open(&path).await.unwrap();
    holds_the_old_state(&store, 3).await;
}

#[tokio::test]
async fn a_second_store_on_one_file_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let first = FileStateStore::open(&path).await.unwrap();
    let err = FileStateStore::open(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::State);
    let text = err.to_string();
    assert!(
        text.contains("in use") && text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("state.json"), "{text}");
    // The lock goes with the store; the lock file it leaves blocks nobody.
    drop(first);
    let second = FileStateStore::open(&path).await.unwrap();
    second.commit(commit_of("a")).await.unwrap();
    assert!(dir.path().join("state.json.lock").exists());
}

/// Set by the parent test: the state file the child locks.
const CHILD_STATE: &str = "CONNECTOR_CORE_TEST_LOCK_CHILD_STATE";

/// The child process of the next test: opens the store, says so, and holds it until its
/// standard input closes (or it is killed).
#[test]
#[ignore = "the child process of another_process_holding_the_state_is_named_by_its_pid"]
fn hold_the_state_lock_as_a_child() {
    let Ok(path) = std::env::var(CHILD_STATE) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(FileStateStore::open(&path)).unwrap();
    println!("CHILD-HOLDS-THE-LOCK");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(store);
}

#[test]
fn another_process_holding_the_state_is_named_by_its_pid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hold_the_state_lock_as_a_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STATE, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let locked = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("CHILD-HOLDS-THE-LOCK"));
    assert!(locked, "the child did not take the lock");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime.block_on(FileStateStore::open(&path)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::State);
    assert!(
        err.to_string()
            .contains(&format!("another run (pid {})", child.id())),
        "{err}"
    );
    // A killed holder leaves its lock file, which blocks nobody.
    child.kill().unwrap();
    child.wait().unwrap();
    let store = runtime.block_on(FileStateStore::open(&path)).unwrap();
    runtime.block_on(store.commit(commit_of("a"))).unwrap();
}

#[test]
fn concurrent_atomic_writes_of_one_file_never_share_a_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    // With one shared `{name}.tmp`, one writer renamed away (or truncated) another's file.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let body = format!("{{\"writer\":{w},\"i\":{i}}}");
                    connector_core::fs::write_atomically(&path, |out| {
                        out.write_all(body.as_bytes())
                    })
                    .map_err(|e| format!("writer {w}, write {i}: {e}"))?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap().unwrap();
    }
    let last: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(last["i"], 99);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn temporaries_left_by_a_crashed_snapshot_write_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(dir.path().join("state.json.4242-0.tmp"), b"{\"half").unwrap();
    std::fs::write(dir.path().join("state.json.tmp"), b"{\"half").unwrap();
    std::fs::write(dir.path().join("other.tmp"), b"not ours").unwrap();
    let store = FileStateStore::open(&path).await.unwrap();
    store.finish_run(run_record(), None).await.unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "other.tmp",
            "state.json",
            "state.json.journal",
            "state.json.lock"
        ]
    );
}

/// One step of a run against the store, each followed by the end of the process.
#[derive(Debug, Clone)]
enum Step {
    /// A commit that completes.
    Commit,
    /// A commit cut short after `k` bytes of its journal line (modulo the line's length).
    TornCommit(usize),
    /// Bytes without a newline at the end of the journal (a write torn anywhere).
    Garbage(Vec<u8>),
    /// The end of a run: the journal folded into the snapshot.
    Finish,
    /// The end of a run interrupted after the snapshot was renamed into place but before the
    /// journal was emptied.
    InterruptedFinish,
    /// A snapshot write that crashed: its temporary file is left behind.
    StaleTemporary,
}

/// Up to 64 bytes, none of them a newline.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
        1..64,
    )
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Commit),
        3 => any::<usize>().prop_map(Step::TornCommit),
        1 => garbage().prop_map(Step::Garbage),
        1 => Just(Step::Finish),
        1 => Just(Step::InterruptedFinish),
        1 => Just(Step::StaleTemporary),
    ]
}

async fn play(steps: Vec<Step>) -> std::result::Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("state.json");
    let journal = journal_of(&path);
    let mut expected = BTreeSet::new();
    for (n, step) in steps.into_iter().enumerate() {
        let store = FileStateStore::open(&path)
            .await
            .map_err(|e| TestCaseError::fail(format!("open before step {n}: {e}")))?;
        let id = format!("d{n:03}");
        match step {
            Step::Commit => {
                store.commit(commit_of(&id)).await.unwrap();
                expected.insert(id);
            }
            Step::TornCommit(k) => {
                let before = std::fs::metadata(&journal).map_or(0, |m| m.len());
                store.commit(commit_of(&id)).await.unwrap();
                drop(store);
                let after = std::fs::metadata(&journal).map_or(0, |m| m.len());
                prop_assert!(after > before, "the commit appended a line");
                let cut = before + (k as u64) % (after - before);
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&journal)
                    .unwrap();
                file.set_len(cut).unwrap();
                continue;
            }
            Step::Garbage(bytes) => {
                drop(store);
                append_to(&journal, &bytes);
                continue;
            }
            Step::Finish => store.finish_run(run_record(), None).await.unwrap(),
            Step::InterruptedFinish => {
                let kept = std::fs::read(&journal).unwrap_or_default();
                store.finish_run(run_record(), None).await.unwrap();
                drop(store);
                std::fs::write(&journal, kept).unwrap();
                continue;
            }
            Step::StaleTemporary => {
                std::fs::write(
                    dir.path().join(format!("state.json.999-{n}.tmp")),
                    b"{\"half",
                )
                .unwrap();
            }
        }
    }
    let store = FileStateStore::open(&path)
        .await
        .map_err(|e| TestCaseError::fail(format!("open at the end: {e}")))?;
    let held: BTreeSet<String> = ids(&store).await.into_iter().collect();
    prop_assert_eq!(&held, &expected);
    // And it goes on working.
    store.commit(commit_of("last")).await.unwrap();
    drop(store);
    let store = FileStateStore::open(&path).await.unwrap();
    prop_assert_eq!(ids(&store).await.len(), expected.len() + 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any sequence of commits, torn appends, finished and interrupted runs: the store always
    /// opens and holds exactly the commits that completed.
    #[test]
    fn the_journal_survives_any_sequence_of_torn_appends_and_interrupted_runs(
        steps in proptest::collection::vec(step(), 1..24)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runtime.block_on(play(steps))?;
    }
}
