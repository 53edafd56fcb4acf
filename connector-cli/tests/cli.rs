//! The `connectors` binary end to end, against folders in temporary directories.

// The helpers below are test code outside `#[test]` functions: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn connectors(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connectors"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A source folder with two Markdown files (one nested), a JSON file and a PNG.
fn sample(root: &Path) -> std::path::PathBuf {
    let src = root.join("src");
    std::fs::create_dir_all(src.join("guides")).unwrap();
    std::fs::write(src.join("a.md"), "# A\n\nfirst").unwrap();
    std::fs::write(src.join("guides/b.md"), "# B\n\nsecond").unwrap();
    std::fs::write(src.join("c.json"), r#"{"k": 1}"#).unwrap();
    std::fs::write(
        src.join("d.png"),
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a],
    )
    .unwrap();
    src
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(docs: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = docs
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn list_sources_names_local() {
    let dir = tempfile::tempdir().unwrap();
    let out = connectors(&["list-sources"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).lines().any(|l| l.starts_with("local\t")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn schema_prints_the_config_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = connectors(&["schema", "local"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let schema: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(schema["properties"]["path"].is_object(), "{schema}");
    assert_eq!(schema["required"], serde_json::json!(["path"]));
}

#[test]
fn unknown_source_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = connectors(&["schema", "nope"], dir.path());
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unknown source `nope`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_config_lists_every_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(
        &config,
        r#"{"path": true, "max_file_size": "big", "nope": true}"#,
    )
    .unwrap();
    for command in ["check", "sync"] {
        let out = connectors(&[command, "local", "--config", "bad.json"], dir.path());
        assert_eq!(code(&out), 2, "{command}: {}", stderr(&out));
        let err = stderr(&out);
        for field in ["\n  path: ", "\n  max_file_size: ", "\n  nope: "] {
            assert!(
                err.contains(field),
                "{command}: `{field}` missing from {err}"
            );
        }
    }
    assert!(
        !dir.path().join("out").exists(),
        "a sync with a bad config wrote output"
    );
    // An unknown field and a problem only the connector's `validate` finds, together.
    std::fs::write(
        dir.path().join("mixed.json"),
        r#"{"path": ".", "include": ["["], "nope": true}"#,
    )
    .unwrap();
    let out = connectors(&["check", "local", "--config", "mixed.json"], dir.path());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    for field in ["\n  nope: ", "\n  include[0]: "] {
        assert!(err.contains(field), "`{field}` missing from {err}");
    }
}

#[test]
fn missing_and_unreadable_configs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.json"), "{}").unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"path\": ").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["check", "local", "--config", "empty.json"],
            "path: is required",
        ),
        (
            &["check", "local", "--config", "broken.json"],
            "not valid JSON",
        ),
        (
            &["check", "local", "--config", "absent.json"],
            "cannot read config file",
        ),
        (&["sync", "local"], "--config"),
    ];
    for (args, expected) in cases {
        let out = connectors(args, dir.path());
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn check_accepts_a_reachable_folder() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let out = connectors(&["check", "local", "--path", "src"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
    let out = connectors(&["check", "local", "--path", "missing"], dir.path());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn check_says_which_ragflow_fields_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    std::fs::write(
        dir.path().join("ragflow.json"),
        r#"{"path": "src", "sync_batch_size": "10", "batch_size": "", "max_file_size": "1048576"}"#,
    )
    .unwrap();
    let out = connectors(&["check", "local", "--config", "ragflow.json"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    // One line for the ignored knob; none for the blank one, which was not given at all.
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(
            "note: `sync_batch_size` is accepted for RAGFlow compatibility and ignored: "
        ),
        "{text}"
    );
    assert!(lines[1].starts_with("ok: "), "{text}");
}

#[test]
fn sync_writes_every_document_as_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let out = connectors(
        &["sync", "local", "--path", "src", "--out", "out/docs.ndjson"],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let docs = lines(&dir.path().join("out/docs.ndjson"));
    assert_eq!(ids(&docs), ["a.md", "c.json", "d.png", "guides/b.md"]);
    let png = docs.iter().find(|d| d["id"] == "d.png").unwrap();
    assert_eq!(png["content"]["type"], "bytes");
    let summary = stderr(&out);
    assert!(
        summary.contains("full sync of `local`: 4 new, 0 updated, 0 unchanged, 0 failed"),
        "{summary}"
    );
    assert!(summary.contains("docs/s"), "{summary}");

    // Without --state a second run starts the file afresh rather than adding to it.
    let out = connectors(
        &["sync", "local", "--path", "src", "--out", "out/docs.ndjson"],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(lines(&dir.path().join("out/docs.ndjson")).len(), 4);
}

#[test]
fn sync_to_stdout_keeps_the_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    let out = connectors(
        &["sync", "local", "--path", "src", "--out", "-"],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let docs: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 4);
    assert!(stderr(&out).contains("4 new"), "{}", stderr(&out));
    assert!(
        !dir.path().join("out").exists(),
        "--out - also wrote the default file"
    );
}

#[test]
fn sync_with_a_config_file_and_out_dir() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    std::fs::write(
        dir.path().join("local.json"),
        r#"{"path": "src", "extensions": ["md"]}"#,
    )
    .unwrap();
    let out = connectors(
        &[
            "sync",
            "local",
            "--config",
            "local.json",
            "--out-dir",
            "docs",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let manifest = lines(&dir.path().join("docs/manifest.ndjson"));
    assert_eq!(ids(&manifest), ["a.md", "guides/b.md"]);
    assert_eq!(
        std::fs::read_dir(dir.path().join("docs/files"))
            .unwrap()
            .count(),
        2
    );
}

#[test]
fn incremental_run_with_state_writes_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let src = sample(dir.path());
    let args = [
        "sync",
        "local",
        "--path",
        "src",
        "--state",
        "state.json",
        "--out",
        "out/docs.ndjson",
    ];

    let first = connectors(&args, dir.path());
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stderr(&first).contains("full sync of `local`: 4 new"),
        "{}",
        stderr(&first)
    );
    assert_eq!(lines(&dir.path().join("out/docs.ndjson")).len(), 4);
    assert!(dir.path().join("state.json").is_file());

    let second = connectors(&args, dir.path());
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let summary = stderr(&second);
    assert!(
        summary.contains("incremental sync of `local`: 0 new, 0 updated"),
        "{summary}"
    );
    assert!(summary.contains("0 delivered"), "{summary}");
    assert_eq!(
        lines(&dir.path().join("out/docs.ndjson")).len(),
        4,
        "the unchanged run wrote documents"
    );

    // A changed file is appended by the next run.
    std::fs::write(src.join("a.md"), "# A\n\nfirst, edited").unwrap();
    let third = connectors(&args, dir.path());
    assert_eq!(code(&third), 0, "{}", stderr(&third));
    assert!(
        stderr(&third).contains("0 new, 1 updated"),
        "{}",
        stderr(&third)
    );
    let docs = lines(&dir.path().join("out/docs.ndjson"));
    assert_eq!(docs.len(), 5);
    assert_eq!(docs[4]["id"], "a.md");
}

#[test]
fn a_failed_file_exits_1_and_the_rest_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    let src = sample(dir.path());
    std::fs::write(src.join("bad.txt"), [0xff, 0xfe, b'x']).unwrap();
    let out = connectors(
        &["sync", "local", "--path", "src", "--out", "out/docs.ndjson"],
        dir.path(),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let summary = stderr(&out);
    assert!(
        summary.contains("4 new, 0 updated, 0 unchanged, 1 failed"),
        "{summary}"
    );
    assert!(
        summary.contains("failed: bad.txt [invalid_data]"),
        "{summary}"
    );
    assert_eq!(lines(&dir.path().join("out/docs.ndjson")).len(), 4);
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 4] = [
        &["sync", "local", "--path", "src", "--mode", "sideways"],
        &["sync", "local", "--path", "src", "--batch-size", "0"],
        &[
            "sync",
            "local",
            "--path",
            "src",
            "--out",
            "a",
            "--out-dir",
            "b",
        ],
        &["frobnicate"],
    ];
    for args in cases {
        let out = connectors(args, dir.path());
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
}

/// `--heartbeat 1e19` is a valid duration whose double overflowed (a panic, exit 101), and
/// `--poll 0` or `--tick 0` ran a hot loop against the database: each exits 2 naming its
/// option, before the database is opened (review61 L4).
#[test]
fn out_of_range_engine_durations_exit_2_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("sync.db").display());
    for (option, value) in [("--heartbeat", "1e19"), ("--poll", "0"), ("--tick", "0")] {
        let out = connectors(&["worker", "--db", &db, option, value], dir.path());
        assert_eq!(code(&out), 2, "{option} {value}: {}", stderr(&out));
        assert!(stderr(&out).contains(option), "{option}: {}", stderr(&out));
    }
}

#[test]
fn a_corrupt_state_file_exits_2_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
    let out = connectors(
        &["sync", "local", "--path", "src", "--state", "state.json"],
        dir.path(),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("state.json"), "{}", stderr(&out));
}

/// A loopback HTTP server answering every request with `body` as JSON, until the test ends.
fn json_server(body: &'static str) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            // The request's head; the connector sends GETs without a body.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    addr
}

/// A `rest_api` config file for an API at `addr`, with these `allowed_hosts`.
fn rest_config(dir: &Path, addr: std::net::SocketAddr, allowed_hosts: &[&str]) -> String {
    let config = serde_json::json!({
        "url": format!("http://{addr}/v1/articles"),
        "id_field": "id",
        "content_fields": "title",
        "allowed_hosts": allowed_hosts,
    });
    let name = format!("rest-{}.json", allowed_hosts.len());
    std::fs::write(dir.join(&name), config.to_string()).unwrap();
    name
}

const ARTICLES: &str =
    r#"{"items": [{"id": "A-1", "title": "One"}, {"id": "A-2", "title": "Two"}]}"#;

fn assert_denied(out: &Output) {
    assert_eq!(code(out), 2, "{}", stderr(out));
    let message = stderr(out);
    assert!(
        message.contains("`127.0.0.1` is not a public address"),
        "{message}"
    );
    assert!(message.contains("--allow-host"), "{message}");
}

#[test]
fn a_loopback_url_needs_the_configs_allowed_hosts_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let addr = json_server(ARTICLES);
    let plain = rest_config(dir.path(), addr, &[]);
    let allowing = rest_config(dir.path(), addr, &["127.0.0.1"]);

    let denied = connectors(&["check", "rest_api", "--config", &plain], dir.path());
    assert_denied(&denied);
    assert!(
        stderr(&denied).contains("allowed_hosts"),
        "{}",
        stderr(&denied)
    );

    let allowed = connectors(&["check", "rest_api", "--config", &allowing], dir.path());
    assert_eq!(code(&allowed), 0, "{}", stderr(&allowed));
    assert!(
        stdout(&allowed).starts_with("ok: rest_api"),
        "{}",
        stdout(&allowed)
    );
}

#[test]
fn public_only_rules_the_configs_allowed_hosts_out_and_allow_host_allows() {
    let dir = tempfile::tempdir().unwrap();
    let addr = json_server(ARTICLES);
    let plain = rest_config(dir.path(), addr, &[]);
    let allowing = rest_config(dir.path(), addr, &["127.0.0.1"]);

    for config in [&plain, &allowing] {
        assert_denied(&connectors(
            &["check", "rest_api", "--config", config, "--public-only"],
            dir.path(),
        ));
    }
    assert_denied(&connectors(
        &[
            "sync",
            "rest_api",
            "--config",
            &allowing,
            "--public-only",
            "--out",
            "out.ndjson",
        ],
        dir.path(),
    ));

    // `--allow-host` implies `--public-only` and opens what it names.
    let allowed = connectors(
        &[
            "check",
            "rest_api",
            "--config",
            &plain,
            "--allow-host",
            "127.0.0.1",
        ],
        dir.path(),
    );
    assert_eq!(code(&allowed), 0, "{}", stderr(&allowed));
    let synced = connectors(
        &[
            "sync",
            "rest_api",
            "--config",
            &plain,
            "--public-only",
            "--allow-host",
            "10.0.0.0/8",
            "--allow-host",
            "127.0.0.1",
            "--out",
            "out.ndjson",
        ],
        dir.path(),
    );
    assert_eq!(code(&synced), 0, "{}", stderr(&synced));
    assert_eq!(lines(&dir.path().join("out.ndjson")).len(), 2);

    let bad = connectors(
        &[
            "check",
            "rest_api",
            "--config",
            &plain,
            "--allow-host",
            "http://x",
        ],
        dir.path(),
    );
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("http://x"), "{}", stderr(&bad));
}

#[test]
fn public_only_refuses_local_files() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path());
    for command in ["check", "sync"] {
        let out = connectors(
            &[command, "local", "--path", "src", "--public-only"],
            dir.path(),
        );
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot be held to the host's network policy"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!dir.path().join("out").exists(), "nothing was written");
    let help = connectors(&["sync", "--help"], dir.path());
    assert!(
        stdout(&help).contains("such as local files, are refused"),
        "{}",
        stdout(&help)
    );
}

#[test]
fn a_reconcile_run_reads_everything_and_delivers_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let src = sample(dir.path());
    let run = |mode: &str| {
        connectors(
            &[
                "sync",
                "local",
                "--path",
                "src",
                "--state",
                "state.json",
                "--out",
                "out/docs.ndjson",
                "--mode",
                mode,
            ],
            dir.path(),
        )
    };
    let first = run("full");
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert_eq!(lines(&dir.path().join("out/docs.ndjson")).len(), 4);

    std::fs::write(src.join("guides/b.md"), "# B\n\nsecond, edited").unwrap();
    let second = run("reconcile");
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let summary = stderr(&second);
    assert!(
        summary.contains("reconcile sync of `local`: 0 new, 1 updated, 3 unchanged"),
        "{summary}"
    );
    let docs = lines(&dir.path().join("out/docs.ndjson"));
    assert_eq!(docs.len(), 5, "only the changed file was delivered");
    assert_eq!(docs[4]["id"], "guides/b.md");
}
