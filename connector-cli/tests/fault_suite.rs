//! The fault suite of issue 17: the real `connectors` binary, real local servers (the local
//! folder, `rclone serve s3`, a loopback REST server that misbehaves on command), and real
//! faults: `kill -9` at seeded points, Ctrl-C and `--timeout` during a large batch write, two
//! runs on one state file, torn journals, 429/5xx storms, resets, stalls, servers that echo
//! credentials, a prune whose listing fails, hostile numbers in every numeric config field.
//!
//! Every case ends with the same promise checked: every document is in the output once the
//! run is resumed, at most one sink batch repeated per interruption, no secret canary in any
//! output, log, state or journal file, no panic or abort, and the documented exit codes (0
//! done, 1 done with failed items, 2 failed, cancelled or timed out).
//!
//! Bounded: seeded kill points, conditions polled (never a blind sleep for the binary to get
//! somewhere), each run killed and failed past a deadline.

// Test code: a panic here is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fault;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fault::http::{Action, Request, Server, base64_decode, base64_encode, percent_encode};
use fault::rclone::Rclone;
use fault::{Rng, Workspace, assert_complete, complete_lines, grown_by, read_output, wait_for};
use serde_json::{Value, json};

// --- sources ------------------------------------------------------------------------------

/// A folder of `n` small Markdown files over seven subfolders, in `ws/{dir}`.
fn local_folder(ws: &Workspace, dir: &str, n: usize, body_bytes: usize) -> PathBuf {
    let root = ws.path(dir);
    for i in 0..n {
        let sub = root.join(format!("d{}", i % 7));
        std::fs::create_dir_all(&sub).unwrap();
        let mut text = format!("# doc {i}\n\n");
        while text.len() < body_bytes {
            text.push_str("lorem ipsum dolor sit amet, consectetur adipiscing elit\n");
        }
        std::fs::write(sub.join(format!("f{i:03}.md")), text).unwrap();
    }
    root
}

/// The REST items the fake API serves: `n` items, `per_page` a page, each with a body of
/// about `body_bytes`.
#[derive(Clone, Copy)]
struct Items {
    n: usize,
    per_page: usize,
    body_bytes: usize,
}

impl Items {
    /// Page `page` (from 0): its items and whether another page follows.
    fn page(&self, page: usize) -> (Vec<Value>, bool) {
        let start = page * self.per_page;
        let end = (start + self.per_page).min(self.n);
        let items = (start..end)
            .map(|i| {
                let mut body = format!("item {i} ");
                while body.len() < self.body_bytes {
                    body.push_str("the quick brown fox jumps over the lazy dog ");
                }
                json!({"id": format!("item-{i:04}"), "title": format!("Item {i}"), "body": body})
            })
            .collect();
        (items, end < self.n)
    }

    /// A cursor page: `?cursor=k` asks for page k, none for page 0.
    fn cursor_page(&self, req: &Request) -> Action {
        let page: usize = req
            .query("cursor")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (items, more) = self.page(page);
        let next = if more {
            Value::from((page + 1).to_string())
        } else {
            Value::Null
        };
        Action::json(200, &json!({"items": items, "next": next}))
    }
}

/// The `rest_api` config for cursor pages at `url`.
fn rest_config(url: &str) -> Value {
    json!({
        "url": url,
        "pagination_type": "cursor",
        "pagination_config": {"cursor_param": "cursor", "next_cursor_field": "next"},
        "items_path": "$.items",
        "id_field": "id",
        "title_field": "title",
        "content_fields": ["body"],
        "allowed_hosts": ["127.0.0.1"],
    })
}

/// The ids a clean, fault-free run delivers: the expected set.
fn reference_ids(ws: &mut Workspace, args: &[&str], n: usize) -> Vec<String> {
    let out = ws.path("run/reference.ndjson");
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--out", "reference.ndjson", "--mode", "full"]);
    ws.run(&full).expect_code(0, "the reference run");
    let (mut ids, _) = read_output(&out);
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        n,
        "the reference run delivered {} ids",
        ids.len()
    );
    std::fs::remove_file(out).unwrap();
    ids
}

fn sync_args<'a>(source: &'a str, config: &'a Path, batch: &'a str) -> Vec<&'a str> {
    vec![
        "sync",
        source,
        "--config",
        config.to_str().unwrap(),
        "--batch-size",
        batch,
    ]
}

fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    let mut out = base.to_vec();
    out.extend_from_slice(more);
    out
}

// --- 1. kill -9 at seeded points ------------------------------------------------------------

/// Ten runs each killed (`SIGKILL`) once the output grew by a seeded number of lines (plus a
/// seeded pause of up to 3 ms, so the kill lands anywhere in the write / commit cycle), then a
/// run to the end: every document there, at most one batch repeated per kill, the state opens.
fn kill_chain(ws: &mut Workspace, args: &[&str], expected: &[String], batch: usize, seed: u64) {
    let out = ws.path("run/out.ndjson");
    let mut rng = Rng::new(seed);
    let mut kills = 0;
    for round in 0..10 {
        let step = usize::try_from(rng.range(1, 3 * batch as u64)).unwrap();
        let pause = Duration::from_micros(rng.range(0, 3000));
        let grown = grown_by(&out, step);
        let mut run = ws.spawn(args);
        let hit = wait_for(&mut run, grown);
        if hit && !run.exited() {
            std::thread::sleep(pause);
            let done = run.kill9();
            match done.status.code() {
                None => kills += 1,
                Some(_) => done.expect_code(0, "a run that ended before its kill"),
            }
        } else {
            run.wait().expect_code(0, &format!("round {round}"));
        }
    }
    ws.run(args)
        .expect_code(0, "the resumed run after the kills");
    assert!(kills >= 5, "only {kills} of 10 runs were killed mid-sync");
    let duplicates = assert_complete(&out, expected, batch * kills);
    eprintln!("seed {seed}: {kills} kills, {duplicates} duplicates (batch {batch})");
    // The state still opens, and the source has nothing new.
    ws.run(args)
        .expect_code(0, "a run on the state after the kills");
    ws.assert_no_panic_in_logs();
}

#[test]
fn kill9_local_folder() {
    let mut ws = Workspace::new();
    local_folder(&ws, "run/src", 300, 64);
    let config = ws.config("local.json", &json!({"path": "src", "page_size": 40}));
    let args = sync_args("local", &config, "4");
    let expected = reference_ids(&mut ws, &args, 300);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    kill_chain(&mut ws, &args, &expected, 4, 0x17_0001);
}

/// `rclone serve s3` over a folder of 300 objects; its secret key is a canary.
#[test]
fn kill9_s3_rclone() {
    const SECRET: &str = "canary-s3-secret-5e1f0a9d";
    let mut ws = Workspace::new();
    let data = ws.path("srv/data");
    let bucket = data.join("faults");
    std::fs::create_dir_all(&bucket).unwrap();
    for i in 0..300 {
        std::fs::write(
            bucket.join(format!("doc-{i:03}.md")),
            format!("# object {i}\n"),
        )
        .unwrap();
    }
    let server = Rclone::start(&data, "faultkey", SECRET, &ws.path("srv/rclone.log"));
    let config = ws.config(
        "s3.json",
        &json!({
            "bucket_name": "faults",
            "credentials": {
                "endpoint_url": format!("http://{}", server.addr),
                "aws_access_key_id": "faultkey",
                "aws_secret_access_key": SECRET,
                "addressing_style": "path",
            },
            "allowed_hosts": ["127.0.0.1"],
            "page_size": 40,
        }),
    );
    let args = sync_args("s3_compatible", &config, "4");
    let expected = reference_ids(&mut ws, &args, 300);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    kill_chain(&mut ws, &args, &expected, 4, 0x17_0002);
    ws.assert_no_canary(&[SECRET]);
}

#[test]
fn kill9_rest_cursor_pages() {
    let items = Items {
        n: 300,
        per_page: 25,
        body_bytes: 64,
    };
    // A few milliseconds a page, as a real API takes, so that a kill finds a run under way.
    let server = Server::start(move |req| {
        Action::Delayed(Duration::from_millis(3), Box::new(items.cursor_page(req)))
    });
    let mut ws = Workspace::new();
    let config = ws.config("rest.json", &rest_config(&server.url("/items")));
    let args = sync_args("rest_api", &config, "4");
    let expected = reference_ids(&mut ws, &args, 300);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    kill_chain(&mut ws, &args, &expected, 4, 0x17_0003);
}

/// Group commit (`--durability group`, the default with `--state` and an NDJSON file, named
/// here so the case keeps testing it whatever the default): ten
/// runs killed at seeded points, each resumed run cutting the output back to the state's last
/// group point first (and saying so), then a run to the end: every document there and none
/// twice, not even the batch a kill cut short.
#[test]
fn kill9_group_commit_leaves_no_duplicate() {
    let mut ws = Workspace::new();
    local_folder(&ws, "run/src", 300, 64);
    let config = ws.config("local.json", &json!({"path": "src", "page_size": 40}));
    let args = sync_args("local", &config, "4");
    let expected = reference_ids(&mut ws, &args, 300);
    let args = with(
        &args,
        &[
            "--out",
            "out.ndjson",
            "--state",
            "state.json",
            "--durability",
            "group",
        ],
    );
    let out = ws.path("run/out.ndjson");
    let mut rng = Rng::new(0x17_0017);
    let (mut kills, mut cuts) = (0, 0);
    for round in 0..10 {
        let step = usize::try_from(rng.range(1, 40)).unwrap();
        let pause = Duration::from_micros(rng.range(0, 3000));
        let grown = grown_by(&out, step);
        let mut run = ws.spawn(&args);
        let hit = wait_for(&mut run, grown);
        let done = if hit && !run.exited() {
            std::thread::sleep(pause);
            let done = run.kill9();
            match done.status.code() {
                None => kills += 1,
                Some(_) => done.expect_code(0, "a run that ended before its kill"),
            }
            done
        } else {
            let done = run.wait();
            done.expect_code(0, &format!("round {round}"));
            done
        };
        if done.stderr.contains("cut the output back") {
            cuts += 1;
        }
    }
    let last = ws.run(&args);
    last.expect_code(0, "the resumed run after the kills");
    if last.stderr.contains("cut the output back") {
        cuts += 1;
    }
    assert!(kills >= 5, "only {kills} of 10 runs were killed mid-sync");
    assert!(cuts >= 1, "no resumed run cut the output back");
    let duplicates = assert_complete(&out, &expected, 0);
    eprintln!("{kills} kills, {cuts} cuts, {duplicates} duplicates");
    ws.run(&args)
        .expect_code(0, "a run on the state after the kills");
    ws.assert_no_panic_in_logs();
}

/// The per-batch mode (`--durability batch`) keeps its promise under the same kills: at most
/// the batch in flight repeated per kill.
#[test]
fn kill9_per_batch_durability() {
    let mut ws = Workspace::new();
    local_folder(&ws, "run/src", 300, 64);
    let config = ws.config("local.json", &json!({"path": "src", "page_size": 40}));
    let args = sync_args("local", &config, "4");
    let expected = reference_ids(&mut ws, &args, 300);
    let args = with(
        &args,
        &[
            "--out",
            "out.ndjson",
            "--state",
            "state.json",
            "--durability",
            "batch",
        ],
    );
    kill_chain(&mut ws, &args, &expected, 4, 0x17_0018);
}

/// The two modes on one state and output, each run killed at a seeded point: a group run
/// killed, then a per-batch run (`--durability batch`, as when a user switches modes)
/// killed, three times over, then a group run to the end. A per-batch run cuts the output
/// back to what the state claims first, as a group run does, so a killed group run's
/// batches since its last group point are not kept twice: every document there, at most
/// the batch in flight twice per killed per-batch run, none per killed group run.
#[test]
fn kill9_group_and_per_batch_runs_mixed() {
    let mut ws = Workspace::new();
    local_folder(&ws, "run/src", 300, 64);
    let config = ws.config("local.json", &json!({"path": "src", "page_size": 40}));
    let args = sync_args("local", &config, "4");
    let expected = reference_ids(&mut ws, &args, 300);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    let group = with(&args, &["--durability", "group"]);
    let batch = with(&args, &["--durability", "batch"]);
    let out = ws.path("run/out.ndjson");
    let mut rng = Rng::new(0x17_0024);
    let (mut group_kills, mut batch_kills) = (0, 0);
    for round in 0..6 {
        let per_batch = round % 2 == 1;
        let args = if per_batch { &batch } else { &group };
        // Several batches into the run: a group run's since its last group point are
        // in the output but not claimed.
        let step = usize::try_from(rng.range(12, 40)).unwrap();
        let pause = Duration::from_micros(rng.range(0, 2000));
        let grown = grown_by(&out, step);
        let mut run = ws.spawn(args);
        if wait_for(&mut run, grown) && !run.exited() {
            std::thread::sleep(pause);
            match run.kill9().status.code() {
                None if per_batch => batch_kills += 1,
                None => group_kills += 1,
                Some(_) => {}
            }
        } else {
            run.wait().expect_code(0, &format!("round {round}"));
        }
    }
    ws.run(&group)
        .expect_code(0, "the group run after the mixed kills");
    assert!(
        group_kills >= 2 && batch_kills >= 2,
        "only {group_kills} group and {batch_kills} per-batch runs were killed mid-sync"
    );
    let duplicates = assert_complete(&out, &expected, 4 * batch_kills);
    eprintln!("{group_kills} group kills, {batch_kills} per-batch kills, {duplicates} duplicates");
    ws.run(&batch)
        .expect_code(0, "a per-batch run on the state after the kills");
    ws.assert_no_panic_in_logs();
}

// --- 2. Ctrl-C and --timeout during a large batch write --------------------------------------

/// A run stopped by `signal` or its timeout ended as documented (2, saying why) or finished
/// (0), and left no torn line. Returns whether it was interrupted.
fn stopped_cleanly(done: &fault::Finished, out: &Path, why: &str) -> bool {
    fault::assert_no_panic(&done.stderr, why);
    let code = done.code();
    assert!(
        code == 0 || code == 2,
        "{why}: exit code {code}:\n{}",
        done.stderr
    );
    // Whole lines only: the batch in flight was finished, never cut.
    read_output(out);
    if code == 2 {
        assert!(
            done.stderr.contains(why),
            "{why}: the message does not say so:\n{}",
            done.stderr
        );
    }
    code == 2
}

#[test]
fn ctrl_c_during_a_large_batch_write() {
    let mut ws = Workspace::new();
    // 40 files of 512 KiB, 8 a batch: 4 MiB a sink write, written in pieces.
    local_folder(&ws, "run/big", 40, 512 * 1024);
    let config = ws.config("local.json", &json!({"path": "big", "page_size": 16}));
    let args = sync_args("local", &config, "8");
    let expected = reference_ids(&mut ws, &args, 40);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    let out = ws.path("run/out.ndjson");
    let mut rng = Rng::new(0x17_0021);
    let mut interrupted = 0;
    for _ in 0..3 {
        let before = std::fs::metadata(&out).map_or(0, |m| m.len());
        // Once the output grew by a seeded amount: mid-batch, usually.
        let grow = rng.range(1, 6 * 1024 * 1024);
        let mut run = ws.spawn(&args);
        if wait_for(&mut run, || {
            std::fs::metadata(&out).map_or(0, |m| m.len()) >= before + grow
        }) {
            run.signal("INT");
        }
        let done = run.wait();
        if stopped_cleanly(&done, &out, "cancelled") {
            interrupted += 1;
        }
    }
    assert!(interrupted > 0, "no run was interrupted by Ctrl-C");
    ws.run(&args).expect_code(0, "the run after Ctrl-C");
    assert_complete(&out, &expected, 8 * interrupted);
    ws.assert_no_panic_in_logs();
}

#[test]
fn timeout_during_a_large_batch_write() {
    // 120 items of 128 KiB, ten a page, 100 ms a page: over a second of listing, so a
    // one-second timeout ends the first run; 25 a batch, over 3 MiB a sink write.
    let items = Items {
        n: 120,
        per_page: 10,
        body_bytes: 128 * 1024,
    };
    let server = Server::start(move |req| {
        Action::Delayed(Duration::from_millis(100), Box::new(items.cursor_page(req)))
    });
    let mut ws = Workspace::new();
    let config = ws.config("rest.json", &rest_config(&server.url("/items")));
    let args = sync_args("rest_api", &config, "25");
    let expected = reference_ids(&mut ws, &args, 120);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    let out = ws.path("run/out.ndjson");
    let timed = with(&args, &["--timeout", "1"]);
    let first = ws.run(&timed);
    assert!(
        stopped_cleanly(&first, &out, "timeout"),
        "a sync of over a second was not ended by a one-second timeout"
    );
    let mut interrupted = 1;
    if stopped_cleanly(&ws.run(&timed), &out, "timeout") {
        interrupted += 1;
    }
    ws.run(&args).expect_code(0, "the run after the timeouts");
    assert_complete(&out, &expected, 25 * interrupted);
    ws.assert_no_panic_in_logs();
}

// --- 3. two runs on one state ----------------------------------------------------------------

/// The REST source of the two-runs cases: 12 pages of 60 ms, long enough that two runs
/// started together overlap.
fn slow_rest(ws: &mut Workspace) -> (Server, PathBuf, Vec<String>) {
    let items = Items {
        n: 240,
        per_page: 20,
        body_bytes: 64,
    };
    let server = Server::start(move |req| {
        Action::Delayed(Duration::from_millis(60), Box::new(items.cursor_page(req)))
    });
    let config = ws.config("rest.json", &rest_config(&server.url("/items")));
    let args = sync_args("rest_api", &config, "16");
    let expected = reference_ids(ws, &args, 240);
    (server, config, expected)
}

/// Two runs started together on one state, `rounds` times: one finishes (0), the other is
/// refused (2) with a message that says the state is in use and names the holder's pid (where
/// it names one, unless `strict`); the state is intact after.
fn two_runs_started_together(rounds: usize, strict: bool) {
    let mut ws = Workspace::new();
    let (_server, config, expected) = slow_rest(&mut ws);
    let args = sync_args("rest_api", &config, "16");
    for round in 0..rounds {
        let (out_a, out_b) = (format!("a{round}.ndjson"), format!("b{round}.ndjson"));
        let a_args = with(
            &args,
            &["--state", "state.json", "--mode", "full", "--out", &out_a],
        );
        let b_args = with(
            &args,
            &["--state", "state.json", "--mode", "full", "--out", &out_b],
        );
        let a = ws.spawn(&a_args);
        let b = ws.spawn(&b_args);
        let (pid_a, pid_b) = (a.pid(), b.pid());
        let (a, b) = (a.wait(), b.wait());
        let (winner, loser, winner_pid, winner_out) = match (a.code(), b.code()) {
            (0, 2) => (a, b, pid_a, out_a),
            (2, 0) => (b, a, pid_b, out_b),
            (ca, cb) => panic!(
                "round {round}: two runs on one state ended {ca} and {cb}:\n--- a:\n{}\n--- b:\n{}",
                a.stderr, b.stderr
            ),
        };
        winner.expect_code(0, "the run holding the state");
        fault::assert_no_panic(&loser.stderr, "the run refused the state");
        assert!(
            loser.stderr.contains("is in use by another run"),
            "round {round}: the refused run does not say why:\n{}",
            loser.stderr
        );
        assert!(
            !strict || loser.stderr.contains("(pid "),
            "round {round}: the refused run names no pid:\n{}",
            loser.stderr
        );
        if let Some(at) = loser.stderr.find("(pid ") {
            assert!(
                loser.stderr[at..].starts_with(&format!("(pid {winner_pid})")),
                "round {round}: the refused run names another pid than the holder's {winner_pid}:\n{}",
                loser.stderr
            );
        }
        if round == 0 {
            assert_complete(&ws.path(&format!("run/{winner_out}")), &expected, 0);
        }
    }
    // The state is intact: it opens, and a run on it finishes.
    let last = with(&args, &["--state", "state.json", "--out", "last.ndjson"]);
    ws.run(&last)
        .expect_code(0, "a run after the concurrent rounds");
    ws.assert_no_panic_in_logs();
}

#[test]
fn two_runs_on_one_state() {
    two_runs_started_together(3, false);
}

/// The refused run of two started together names the holder's pid every time.
#[test]
fn two_runs_started_together_always_name_the_holder() {
    two_runs_started_together(10, true);
}

/// A second run started while the first holds the state (its pid in the lock file) is refused
/// with exit 2 and a message naming the holder's pid; the first finishes.
#[test]
fn a_second_run_names_the_holders_pid() {
    let mut ws = Workspace::new();
    let (_server, config, expected) = slow_rest(&mut ws);
    let args = sync_args("rest_api", &config, "16");
    let a_args = with(&args, &["--state", "state.json", "--out", "a.ndjson"]);
    let b_args = with(&args, &["--state", "state.json", "--out", "b.ndjson"]);
    let lock = ws.path("run/state.json.lock");
    let mut a = ws.spawn(&a_args);
    let pid = a.pid().to_string();
    assert!(
        wait_for(&mut a, || std::fs::read_to_string(&lock)
            .is_ok_and(|held| held.trim() == pid)),
        "the first run ended before it held the state"
    );
    let b = ws.run(&b_args);
    b.expect_code(2, "the second run on a held state");
    assert!(
        b.stderr.contains(&format!("(pid {pid})")),
        "the refused run does not name the holder's pid {pid}:\n{}",
        b.stderr
    );
    a.wait().expect_code(0, "the run holding the state");
    assert_complete(&ws.path("run/a.ndjson"), &expected, 0);
    ws.run(&a_args).expect_code(0, "a run after");
}

// --- 4. torn journals -----------------------------------------------------------------------

/// Five rounds of: a run killed mid-sync, then a few bytes cut off the state journal (a torn
/// append); then a run to the end. A torn commit is a batch the state forgets, so up to two
/// batches a round may come again: the one the kill cut and the one the tear forgot. In the
/// default mode (group commit).
#[test]
fn torn_journal_sequences() {
    torn_journal_sequences_with(&[], 0x17_0004);
}

/// [`torn_journal_sequences`] with `--durability batch`, the per-batch mode (each batch's
/// output and journal line synced before the next).
#[test]
fn torn_journal_sequences_per_batch() {
    torn_journal_sequences_with(&["--durability", "batch"], 0x17_0014);
}

fn torn_journal_sequences_with(mode: &[&str], seed: u64) {
    let mut ws = Workspace::new();
    local_folder(&ws, "run/src", 300, 64);
    let config = ws.config("local.json", &json!({"path": "src", "page_size": 40}));
    let args = sync_args("local", &config, "4");
    let expected = reference_ids(&mut ws, &args, 300);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    let args = with(&args, mode);
    let out = ws.path("run/out.ndjson");
    let journal = ws.path("run/state.json.journal");
    let mut rng = Rng::new(seed);
    let mut rounds = 0;
    let mut tears = 0;
    for _ in 0..5 {
        let step = usize::try_from(rng.range(4, 24)).unwrap();
        let grown = grown_by(&out, step);
        let mut run = ws.spawn(&args);
        if wait_for(&mut run, grown) && !run.exited() {
            std::thread::sleep(Duration::from_micros(rng.range(0, 2000)));
            if run.kill9().status.code().is_none() {
                rounds += 1;
            }
        } else {
            run.wait().expect_code(0, "a run that was to be killed");
        }
        let len = std::fs::metadata(&journal).map_or(0, |m| m.len());
        let cut = rng.range(1, 12);
        if len > cut {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&journal)
                .unwrap();
            file.set_len(len - cut).unwrap();
            tears += 1;
        }
    }
    assert!(rounds >= 3, "only {rounds} of 5 runs were killed mid-sync");
    assert!(tears >= 3, "only {tears} journals were torn");
    ws.run(&args)
        .expect_code(0, "the run after the torn journals");
    assert_complete(&out, &expected, 2 * 4 * rounds);
    ws.run(&args).expect_code(0, "a run on the repaired state");
    ws.assert_no_panic_in_logs();
}

// --- 5. a misbehaving REST server -------------------------------------------------------------

/// 429s (with `Retry-After`), 500/502/503 and connection resets on a seeded share of the
/// requests, never more than two in a row for one page (within the default five retries):
/// the run finishes with every document once.
#[test]
fn rest_storms_of_429_5xx_and_resets() {
    let items = Items {
        n: 120,
        per_page: 10,
        body_bytes: 64,
    };
    let rng = Mutex::new(Rng::new(0x17_0005));
    let streak: Mutex<HashMap<String, u32>> = Mutex::new(HashMap::new());
    let long_waits = AtomicUsize::new(0);
    let faults = Arc::new(AtomicUsize::new(0));
    let counted = faults.clone();
    let server = Server::start(move |req| {
        let mut streak = streak.lock().unwrap();
        let run = streak.entry(req.target.clone()).or_default();
        let roll = rng.lock().unwrap().range(0, 99);
        if *run >= 2 || roll < 30 {
            *run = 0;
            return items.cursor_page(req);
        }
        *run += 1;
        counted.fetch_add(1, Ordering::SeqCst);
        match roll % 6 {
            // Retry-After of a second twice in the run; else of none.
            0 if long_waits.fetch_add(1, Ordering::SeqCst) < 2 => Action::Respond {
                status: 429,
                headers: vec![("Retry-After".to_owned(), "1".to_owned())],
                body: b"slow down".to_vec(),
            },
            0 | 1 => Action::Respond {
                status: 429,
                headers: vec![("Retry-After".to_owned(), "0".to_owned())],
                body: b"slow down".to_vec(),
            },
            2 => Action::text(500, "internal error"),
            3 => Action::text(502, "bad gateway"),
            4 => Action::text(503, "unavailable"),
            _ => Action::Reset,
        }
    });
    let mut ws = Workspace::new();
    let config = ws.config("rest.json", &rest_config(&server.url("/items")));
    let args = sync_args("rest_api", &config, "8");
    let expected: Vec<String> = {
        // The ids of the same items from a well-behaved server.
        let calm = Server::start(move |req| items.cursor_page(req));
        let calm_config = ws.config("calm.json", &rest_config(&calm.url("/items")));
        let calm_args = sync_args("rest_api", &calm_config, "8");
        reference_ids(&mut ws, &calm_args, 120)
    };
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    ws.run(&args).expect_code(0, "a run through the storm");
    let faults = faults.load(Ordering::SeqCst);
    eprintln!("{faults} faulty answers");
    assert!(
        faults >= 8,
        "the storm was too calm: {faults} faulty answers"
    );
    assert_complete(&ws.path("run/out.ndjson"), &expected, 0);
    ws.assert_no_panic_in_logs();
}

/// A server that stops answering on page 3: `--timeout` ends the run (2, saying so), no torn
/// line; once the server answers again the resumed run completes the set.
#[test]
fn rest_stall_ended_by_timeout_then_resumed() {
    let items = Items {
        n: 100,
        per_page: 10,
        body_bytes: 64,
    };
    let stalled = Arc::new(AtomicBool::new(true));
    let stalling = stalled.clone();
    let server = Server::start(move |req| {
        if stalling.load(Ordering::SeqCst) && req.query("cursor").as_deref() == Some("3") {
            Action::Stall
        } else {
            items.cursor_page(req)
        }
    });
    let mut ws = Workspace::new();
    let config = ws.config("rest.json", &rest_config(&server.url("/items")));
    let args = sync_args("rest_api", &config, "8");
    stalled.store(false, Ordering::SeqCst);
    let expected = reference_ids(&mut ws, &args, 100);
    stalled.store(true, Ordering::SeqCst);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    let out = ws.path("run/out.ndjson");
    let done = ws.run(&with(&args, &["--timeout", "2"]));
    assert!(
        stopped_cleanly(&done, &out, "timeout"),
        "a stalled server did not end in a timeout:\n{}",
        done.stderr
    );
    stalled.store(false, Ordering::SeqCst);
    ws.run(&args).expect_code(0, "the run after the stall");
    assert_complete(&out, &expected, 8);
    ws.assert_no_panic_in_logs();
}

/// Canaries, one per credential field.
const TOKEN: &str = "canary-bearer-token-3f9a1c7e";
const TOKEN_2: &str = "canary-authconfig-token-8b2d4e6f";
const API_KEY: &str = "canary-credentials-apikey-1a2b3c4d";
const API_KEY_2: &str = "canary-authconfig-apikey-5e6f7a8b";
const QUERY_KEY: &str = "canary-query-apikey-9c0d1e2f";
const HEADER_KEY: &str = "canary-header-apikey-7d8e9f0a";
const PASSWORD: &str = "canary-basic-password-4b5c6d7e";
const PASSWORD_2: &str = "canary-authconfig-password-0f1e2d3c";
const USER: &str = "fault-user";

/// An API that echoes what it was sent: next-page URLs carry the request's query and its
/// `Authorization` header, error bodies the whole request (a Basic header decoded). While
/// `failing`, page 2 answers 500 and 400 by turns with that echo.
fn echo_server(items: Items, failing: Arc<AtomicBool>) -> Server {
    let addr: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let attempts = AtomicUsize::new(0);
    let base = addr.clone();
    let server = Server::start(move |req| {
        let page: usize = req.query("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let auth = req
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        let decoded = auth
            .strip_prefix("Basic ")
            .and_then(base64_decode)
            .unwrap_or_default();
        if page == 2 && failing.load(Ordering::SeqCst) {
            // A 500 (retried), then a 400, whose body the error quotes.
            let status = if attempts.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                500
            } else {
                400
            };
            return Action::text(
                status,
                format!(
                    "error: invalid credentials {decoded} for request\n{}",
                    req.echo()
                ),
            );
        }
        let (list, more) = items.page(page - 1);
        let next = more.then(|| {
            format!(
                "{}/items?page={}&api_key={}&echo={}&user={}",
                base.lock().unwrap(),
                page + 1,
                percent_encode(&req.query("api_key").unwrap_or_default()),
                percent_encode(&auth),
                percent_encode(&decoded),
            )
        });
        Action::json(200, &json!({"items": list, "next_url": next}))
    });
    *addr.lock().unwrap() = format!("http://{}", server.addr);
    server
}

fn echo_config(url: &str, auth_type: &str) -> Value {
    json!({
        "url": url,
        "auth_type": auth_type,
        "credentials": {"token": TOKEN, "api_key": API_KEY, "username": USER, "password": PASSWORD},
        "auth_config": {
            "token": TOKEN_2, "api_key": API_KEY_2, "api_key_value": API_KEY_2,
            "username": USER, "password": PASSWORD_2,
        },
        "headers": {"X-Api-Key": HEADER_KEY},
        "query_params": {"api_key": QUERY_KEY},
        "pagination_type": "next_url_path",
        "pagination_config": {"next_url_path": "next_url"},
        "items_path": "$.items",
        "id_field": "id",
        "title_field": "title",
        "content_fields": ["body"],
        "max_retries": 1,
        "allowed_hosts": ["127.0.0.1"],
    })
}

/// Which credentials beyond the `Secret` fields of `credentials` and `auth_config` a case puts
/// a canary in and looks for.
#[derive(Clone, Copy, Default)]
struct Extra {
    /// `query_params: {"api_key": ...}`.
    query_key: bool,
    /// `headers: {"X-Api-Key": ...}`.
    header_key: bool,
    /// The Basic credential as sent: base64 of `user:password`.
    basic_encoded: bool,
}

/// Every credential field holds a canary: no run (one that fails on an echoing page, one
/// killed with a next-page URL in its checkpoint, the one that finishes) writes any of them to
/// the output, the state, the journal or stderr.
fn echo_case(auth_type: &str, extra: Extra) {
    let items = Items {
        n: 50,
        per_page: 10,
        body_bytes: 64,
    };
    let failing = Arc::new(AtomicBool::new(false));
    let server = echo_server(items, failing.clone());
    let mut ws = Workspace::new();
    let mut cfg = echo_config(&server.url("/items"), auth_type);
    if !extra.query_key {
        cfg.as_object_mut().unwrap().remove("query_params");
    }
    if !extra.header_key {
        cfg.as_object_mut().unwrap().remove("headers");
    }
    let config = ws.config("rest.json", &cfg);
    let args = sync_args("rest_api", &config, "4");
    let expected = reference_ids(&mut ws, &args, 50);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    let mut canaries = vec![TOKEN, TOKEN_2, API_KEY, API_KEY_2, PASSWORD, PASSWORD_2];
    if extra.query_key {
        canaries.push(QUERY_KEY);
    }
    if extra.header_key {
        canaries.push(HEADER_KEY);
    }
    let basic = [
        base64_encode(&format!("{USER}:{PASSWORD}")),
        base64_encode(&format!("{USER}:{PASSWORD_2}")),
    ];
    if extra.basic_encoded {
        canaries.extend(basic.iter().map(String::as_str));
    }
    let all = canaries;
    ws.assert_no_canary(&all);
    // A run that fails on the echoing page 2, with page 1's next URL in its checkpoint.
    failing.store(true, Ordering::SeqCst);
    ws.run(&args)
        .expect_code(2, "a run whose page 2 keeps failing");
    ws.assert_no_canary(&all);
    // An interrupted run: killed once it delivered something, its checkpoint a next URL.
    failing.store(false, Ordering::SeqCst);
    let out = ws.path("run/out.ndjson");
    let before = complete_lines(&out);
    let mut run = ws.spawn(&args);
    if wait_for(&mut run, || complete_lines(&out) > before) && !run.exited() {
        run.kill9();
    } else {
        run.wait().expect_code(0, "the run to be killed");
    }
    ws.assert_no_canary(&all);
    ws.run(&args).expect_code(0, "the resumed run");
    assert_complete(&out, &expected, 2 * 4);
    ws.assert_no_canary(&all);
    ws.assert_no_panic_in_logs();
}

#[test]
fn rest_echoing_server_bearer_leaks_no_canary() {
    echo_case("bearer", Extra::default());
}

#[test]
fn rest_echoing_server_basic_leaks_no_canary() {
    echo_case("basic", Extra::default());
}

/// An API key in `query_params` (RAGFlow's way to pass `?api_key=`) is a credential too.
#[test]
fn rest_echoing_server_query_api_key_leaks_no_canary() {
    echo_case(
        "bearer",
        Extra {
            query_key: true,
            ..Extra::default()
        },
    );
}

/// A key in a credential header (`X-Api-Key`, which rest_api sends as a secret header).
#[test]
fn rest_echoing_server_header_api_key_leaks_no_canary() {
    echo_case(
        "bearer",
        Extra {
            header_key: true,
            ..Extra::default()
        },
    );
}

/// The Basic credential as it travels (base64 of `user:password` in `Authorization`).
#[test]
fn rest_echoing_server_basic_header_leaks_no_canary() {
    echo_case(
        "basic",
        Extra {
            basic_encoded: true,
            ..Extra::default()
        },
    );
}

/// An error body quoting the token twice, the second time across the 300th character, where
/// the error's snippet of the body is cut: no part of the token may reach stderr or the state.
#[test]
fn rest_error_snippet_cut_leaks_no_part_of_the_token() {
    const SECRET: &str = "tok9f3b2a7c1e5d8046b1a9c3e7f2d5b8";
    let server = Server::start(|_req| {
        let mut body = format!("token {SECRET} rejected; ");
        while body.len() < 300 - 16 {
            body.push('.');
        }
        body.push_str(SECRET);
        Action::text(400, body)
    });
    let mut ws = Workspace::new();
    let mut cfg = rest_config(&server.url("/items"));
    cfg["auth_type"] = json!("bearer");
    cfg["credentials"] = json!({"token": SECRET});
    let config = ws.config("rest.json", &cfg);
    let args = sync_args("rest_api", &config, "4");
    ws.run(&["check", "rest_api", "--config", config.to_str().unwrap()])
        .expect_code(2, "a check the server refuses");
    ws.run(&with(
        &args,
        &["--out", "out.ndjson", "--state", "state.json"],
    ))
    .expect_code(2, "a sync the server refuses");
    ws.assert_no_canary(&[SECRET, &SECRET[..12]]);
}

// --- 6. a prune whose listing fails ---------------------------------------------------------

/// A sync with `--prune --force-prune` whose slim listing fails on page 2 (the load read
/// page 2 once; every later request of it fails): nothing is deleted, and the command says
/// it failed.
#[test]
fn prune_with_a_listing_that_fails_midway_deletes_nothing() {
    let items = Items {
        n: 30,
        per_page: 10,
        body_bytes: 64,
    };
    let served: Arc<Mutex<HashMap<String, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    let failing = Arc::new(AtomicBool::new(false));
    let (counts, fail) = (served.clone(), failing.clone());
    let server = Server::start(move |req| {
        let cursor = req.query("cursor").unwrap_or_default();
        let mut counts = counts.lock().unwrap();
        let n = counts.entry(cursor.clone()).or_default();
        *n += 1;
        if fail.load(Ordering::SeqCst) && cursor == "1" && *n > 1 {
            return Action::text(500, "the listing broke");
        }
        items.cursor_page(req)
    });
    let mut ws = Workspace::new();
    let mut cfg = rest_config(&server.url("/items"));
    cfg["max_retries"] = json!(0);
    let config = ws.config("rest.json", &cfg);
    let args = sync_args("rest_api", &config, "8");
    let expected = reference_ids(&mut ws, &args, 30);
    let args = with(&args, &["--out", "out.ndjson", "--state", "state.json"]);
    ws.run(&args).expect_code(0, "the first sync");
    served.lock().unwrap().clear();
    failing.store(true, Ordering::SeqCst);
    let pruning = with(&args, &["--mode", "full", "--prune", "--force-prune"]);
    let done = ws.run(&pruning);
    fault::assert_no_panic(&done.stderr, "the pruning run");
    let (_, deleted) = read_output(&ws.path("run/out.ndjson"));
    assert!(
        deleted.is_empty(),
        "a prune whose listing failed deleted {deleted:?}"
    );
    assert!(
        served.lock().unwrap().get("1").copied().unwrap_or(0) > 1,
        "the listing never asked for page 2 again: the case tested nothing"
    );
    assert_eq!(
        done.code(),
        2,
        "a prune that could not list should fail the command:\n{}",
        done.stderr
    );
    // The state still opens; with the listing healed the prune finds nothing to delete.
    failing.store(false, Ordering::SeqCst);
    ws.run(&with(&args, &["--prune"]))
        .expect_code(0, "a prune with a whole listing");
    let (ids, deleted) = read_output(&ws.path("run/out.ndjson"));
    assert!(deleted.is_empty(), "deleted {deleted:?}");
    for id in &expected {
        assert!(ids.contains(id), "{id} missing");
    }
}

// --- 7. huge and hostile numbers --------------------------------------------------------------

const HOSTILE: [&str; 4] = ["4294967295", "-1", "1e308", "\"999999999999999999999\""];

/// Sets `field` (dot path) of `config` to `value`.
fn set(config: &mut Value, field: &str, value: &Value) {
    let mut at = config;
    let parts: Vec<&str> = field.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        at = at
            .as_object_mut()
            .unwrap()
            .entry(part.to_string())
            .or_insert_with(|| json!({}));
    }
    at[parts[parts.len() - 1]] = value.clone();
}

/// `check` (and, where it accepts, a short `sync`) with each hostile number in each field:
/// refused (2) or accepted, never a panic, an abort or a run past its deadline.
fn hostile_numbers(ws: &mut Workspace, source: &str, base: &Value, fields: &[&str]) -> usize {
    let mut accepted = 0;
    for field in fields {
        for raw in HOSTILE {
            let value: Value = serde_json::from_str(raw).unwrap();
            let mut config = base.clone();
            set(&mut config, field, &value);
            let name = format!("{source}-{}-{}.json", field.replace('.', "_"), raw.len());
            let path = ws.config(&name, &config);
            let what = format!("{source} {field} = {raw}");
            let check = ws
                .spawn(&["check", source, "--config", path.to_str().unwrap()])
                .wait_within(Duration::from_secs(15));
            fault::assert_no_panic(&check.stderr, &what);
            let code = check.code();
            assert!(
                code == 0 || code == 2,
                "{what}: check exited {code}:\n{}",
                check.stderr
            );
            if code == 0 {
                accepted += 1;
                let out = format!("hostile-{accepted}.ndjson");
                let sync = ws
                    .spawn(&[
                        "sync",
                        source,
                        "--config",
                        path.to_str().unwrap(),
                        "--out",
                        &out,
                        "--timeout",
                        "5",
                    ])
                    .wait_within(Duration::from_secs(15));
                fault::assert_no_panic(&sync.stderr, &format!("sync with {what}"));
                let code = sync.code();
                assert!(
                    (0..=2).contains(&code),
                    "sync with {what}: exited {code}:\n{}",
                    sync.stderr
                );
            }
        }
    }
    accepted
}

#[test]
fn hostile_numbers_local() {
    let mut ws = Workspace::new();
    local_folder(&ws, "run/src", 5, 64);
    let local = json!({"path": "src"});
    hostile_numbers(&mut ws, "local", &local, &["max_file_size", "page_size"]);
}

#[test]
fn hostile_numbers_s3() {
    let mut ws = Workspace::new();
    let data = ws.path("srv/data");
    std::fs::create_dir_all(data.join("numbers")).unwrap();
    std::fs::write(data.join("numbers/a.md"), "# a\n").unwrap();
    let server = Rclone::start(&data, "numkey", "numsecret", &ws.path("srv/rclone.log"));
    let s3 = json!({
        "bucket_name": "numbers",
        "credentials": {
            "endpoint_url": format!("http://{}", server.addr),
            "aws_access_key_id": "numkey",
            "aws_secret_access_key": "numsecret",
            "addressing_style": "path",
        },
        "allowed_hosts": ["127.0.0.1"],
    });
    hostile_numbers(
        &mut ws,
        "s3_compatible",
        &s3,
        &["max_object_size", "concurrency", "page_size"],
    );
}

#[test]
fn hostile_numbers_rest() {
    let items = Items {
        n: 30,
        per_page: 10,
        body_bytes: 64,
    };
    let server = Server::start(move |req| items.cursor_page(req));
    let mut ws = Workspace::new();
    let mut base = rest_config(&server.url("/items"));
    base["pagination_config"]["page_size_param"] = json!("limit");
    hostile_numbers(
        &mut ws,
        "rest_api",
        &base,
        &[
            "max_pages",
            "request_delay",
            "max_retries",
            "timeout_secs",
            "pagination_config.page_size",
            "pagination_config.start_page",
            "pagination_config.limit",
            "pagination_config.start_offset",
        ],
    );
    // Page and offset walks read `start_page`, `start_offset` and `limit`.
    for kind in ["page", "offset"] {
        let mut paged = base.clone();
        paged["pagination_type"] = json!(kind);
        paged["pagination_config"]["limit_param"] = json!("limit");
        hostile_numbers(
            &mut ws,
            "rest_api",
            &paged,
            &[
                "pagination_config.page_size",
                "pagination_config.start_page",
                "pagination_config.limit",
                "pagination_config.start_offset",
            ],
        );
    }
}
