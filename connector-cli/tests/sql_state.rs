//! `connectors sync --state sqlite:PATH` and `--state postgres://…`: the state kept in a sync
//! database (connector-sync's `SqlStateStore`), against a folder and a real PostgreSQL.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used)]

// The PostgreSQL the connector-sync tests start (initdb + pg_ctl on a free loopback port).
#[path = "../../connector-sync/tests/support/postgres.rs"]
mod postgres;

use std::path::Path;
use std::process::{Command, Output};

fn connectors(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sample(root: &Path, tag: &str) {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.md"), format!("# A {tag}\n\nfirst")).unwrap();
    std::fs::write(src.join("b.md"), format!("# B {tag}\n\nsecond")).unwrap();
}

/// A full run, then an incremental one that finds nothing new, then one after an edit.
fn runs_incrementally(state: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), state);
    let mut args = vec![
        "sync",
        "local",
        "--path",
        "src",
        "--state",
        state,
        "--out",
        "docs.ndjson",
    ];
    args.extend_from_slice(extra);

    let first = connectors(&args, dir.path());
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("full sync of `local`: 2 new"),
        "{}",
        stderr(&first)
    );
    let second = connectors(&args, dir.path());
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("incremental sync of `local`: 0 new, 0 updated"),
        "{}",
        stderr(&second)
    );
    // An edit found by a full run (an incremental one would depend on the clock).
    std::fs::write(dir.path().join("src/a.md"), "# A\n\nedited").unwrap();
    args.extend_from_slice(&["--mode", "full"]);
    let third = connectors(&args, dir.path());
    assert!(
        stderr(&third).contains("0 new, 1 updated, 1 unchanged"),
        "{}",
        stderr(&third)
    );
}

#[test]
fn sqlite_state_runs_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("state.db").display());
    runs_incrementally(&url, &[]);
    assert!(dir.path().join("state.db").is_file());
}

#[test]
fn postgres_state_runs_incrementally() {
    // A connector id of its own: the server is shared by the tests of this binary.
    let id = format!("cli-{}", std::process::id());
    runs_incrementally(postgres::url(), &["--connector-id", &id]);
}

#[test]
fn a_database_that_cannot_be_reached_is_a_state_error() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), "x");
    let out = connectors(
        &[
            "sync",
            "local",
            "--path",
            "src",
            "--state",
            "postgres://nobody:hunter2@127.0.0.1:1/none",
        ],
        dir.path(),
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("PostgreSQL database nobody@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}
