//! What every case of the fault suite shares: running the `connectors` binary with its logs in
//! files, killing it at a condition, a seeded random generator, and the checks each case ends
//! with (every document present, duplicates bounded, no torn line, no canary anywhere, no
//! panic).

pub(crate) mod http;
pub(crate) mod rclone;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one run of the binary may take before the case fails (a hang is a defect,
/// never a reason to wait longer).
pub(crate) const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// splitmix64: a fixed seed gives the same kill points on every machine.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// One case's folder: `cfg/` (configs, which hold the canaries on purpose), `run/` (output and
/// state: everything the binary writes) and `logs/` (each run's stdout and stderr). Set
/// `FAULT_SUITE_KEEP=1` to keep it for a look after the case (its path goes to stderr).
pub(crate) struct Workspace {
    _dir: Option<tempfile::TempDir>,
    pub(crate) root: PathBuf,
    runs: usize,
}

/// A run of the binary in progress.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) stderr: PathBuf,
    started: Instant,
}

/// A finished run: how it ended and what it wrote to stderr.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stderr: String,
}

impl Finished {
    /// The exit code; a run that a signal ended (abort) fails the case.
    pub(crate) fn code(&self) -> i32 {
        match self.status.code() {
            Some(code) => code,
            None => panic!(
                "the binary was ended by a signal ({:?}), not by exiting:\n{}",
                self.status, self.stderr
            ),
        }
    }

    /// Exits with `code`, with no panic in its log.
    pub(crate) fn expect_code(&self, code: i32, what: &str) {
        assert_no_panic(&self.stderr, what);
        assert_eq!(self.code(), code, "{what}: stderr:\n{}", self.stderr);
    }
}

impl Workspace {
    pub(crate) fn new() -> Self {
        let mut dir = Some(tempfile::tempdir().unwrap());
        let root = dir.as_ref().unwrap().path().to_path_buf();
        if std::env::var_os("FAULT_SUITE_KEEP").is_some() {
            let _kept = dir.take().unwrap().keep();
            eprintln!("fault suite workspace kept: {}", root.display());
        }
        for sub in ["cfg", "run", "logs"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        Self {
            _dir: dir,
            root,
            runs: 0,
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes a config into `cfg/` and returns its path.
    pub(crate) fn config(&self, name: &str, json: &Value) -> PathBuf {
        let path = self.root.join("cfg").join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(json).unwrap()).unwrap();
        path
    }

    /// Starts `connectors ARGS` in `run/`, its stdout and stderr going to `logs/`.
    pub(crate) fn spawn(&mut self, args: &[&str]) -> Running {
        self.runs += 1;
        let logs = self.root.join("logs");
        let stdout = logs.join(format!("run-{:03}.out", self.runs));
        let stderr = logs.join(format!("run-{:03}.err", self.runs));
        let child = Command::new(env!("CARGO_BIN_EXE_connectors"))
            .args(args)
            .current_dir(self.root.join("run"))
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Running {
            child,
            stderr,
            started: Instant::now(),
        }
    }

    /// Runs `connectors ARGS` to its end (within [`RUN_DEADLINE`]).
    pub(crate) fn run(&mut self, args: &[&str]) -> Finished {
        self.spawn(args).wait()
    }

    /// Every file the binary and its runs left: `run/` and `logs/`, not the configs.
    pub(crate) fn written_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for sub in ["run", "logs"] {
            walk(&self.root.join(sub), &mut out);
        }
        out
    }

    /// No canary in any file the runs wrote (output, state, journal, lock, logs), as written,
    /// percent-encoded or JSON-escaped.
    pub(crate) fn assert_no_canary(&self, canaries: &[&str]) {
        for file in self.written_files() {
            let bytes = std::fs::read(&file).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for canary in canaries {
                for form in forms(canary) {
                    assert!(
                        !text.contains(&form),
                        "the secret canary `{form}` is in {}:\n{}",
                        file.display(),
                        excerpt(&text, &form)
                    );
                }
            }
        }
    }

    /// No log of any run holds a panic.
    pub(crate) fn assert_no_panic_in_logs(&self) {
        for file in self.written_files() {
            if file.extension().is_some_and(|e| e == "err") {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                assert_no_panic(&text, &file.display().to_string());
            }
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A secret as it may appear in text: as is, percent-encoded, and base64 of `user:secret`
/// is the caller's to add.
fn forms(canary: &str) -> Vec<String> {
    let encoded: String = canary
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut out = vec![canary.to_owned()];
    if encoded != canary {
        out.push(encoded);
    }
    out
}

fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(200)
        .map_or(0, |(i, _)| i);
    let end = text[at..]
        .char_indices()
        .nth(200 + needle.len())
        .map_or(text.len(), |(i, _)| at + i);
    text[start..end].to_owned()
}

pub(crate) fn assert_no_panic(stderr: &str, what: &str) {
    assert!(
        !stderr.contains("panicked at") && !stderr.contains("RUST_BACKTRACE"),
        "{what}: the binary panicked:\n{stderr}"
    );
    assert!(
        !stderr.contains("memory allocation of"),
        "{what}: the binary aborted:\n{stderr}"
    );
}

impl Running {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the run has ended.
    pub(crate) fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits for the end, killing the run and failing the case past [`RUN_DEADLINE`].
    pub(crate) fn wait(self) -> Finished {
        self.wait_within(RUN_DEADLINE)
    }

    pub(crate) fn wait_within(mut self, deadline: Duration) -> Finished {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                return Finished { status, stderr };
            }
            if self.started.elapsed() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                panic!("the run did not end within {deadline:?}; stderr:\n{stderr}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// `kill -9`, and waits for the end.
    pub(crate) fn kill9(mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert_no_panic(&stderr, "a killed run");
        Finished { status, stderr }
    }

    /// Sends a signal by name (`INT`) with the shell's `kill`: the suite has no `unsafe` for
    /// libc. A run that ended in between is not an error of the case.
    pub(crate) fn signal(&self, name: &str) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{name} {} 2>/dev/null", self.pid()))
            .status()
            .unwrap();
    }
}

/// Polls `cond` every millisecond until it holds (true) or `running` ends (false); fails the
/// case past [`RUN_DEADLINE`].
pub(crate) fn wait_for(running: &mut Running, mut cond: impl FnMut() -> bool) -> bool {
    loop {
        if cond() {
            return true;
        }
        if running.exited() {
            return cond();
        }
        assert!(
            running.started.elapsed() < RUN_DEADLINE,
            "the condition did not hold within {RUN_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A condition for [`wait_for`]: the file at `path` has `step` more complete lines than at
/// its lowest since this was made. A run resumed in group-commit mode (the CLI's default with
/// `--state` and an NDJSON file) first cuts the output back to what the state claims, so a
/// count taken before it started would have it write the cut lines again first (and a short
/// run would end before its kill); per-batch runs cut nothing, and then this is the count
/// before the run plus `step`.
pub(crate) fn grown_by(path: &Path, step: usize) -> impl FnMut() -> bool + '_ {
    let mut low = complete_lines(path);
    move || {
        let now = complete_lines(path);
        low = low.min(now);
        now >= low + step
    }
}

/// Complete lines in a file (a torn tail does not count).
pub(crate) fn complete_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// The NDJSON output after a run that ended by itself: every line whole and JSON. Returns the
/// documents' ids in order (delete lines left out) and the ids deleted.
pub(crate) fn read_output(path: &Path) -> (Vec<String>, Vec<String>) {
    let bytes = std::fs::read(path).unwrap_or_default();
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "{} ends with a torn line: ...{}",
        path.display(),
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(200)..])
    );
    let text = String::from_utf8(bytes).unwrap();
    let mut ids = Vec::new();
    let mut deleted = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "line {} of {} is no JSON ({e}): {}",
                n + 1,
                path.display(),
                &line[..line.len().min(200)]
            )
        });
        let id = value["id"].as_str().unwrap().to_owned();
        if value["op"] == "delete" {
            deleted.push(id);
        } else {
            ids.push(id);
        }
    }
    (ids, deleted)
}

/// Every expected id is in the output, nothing else is, and no id is there more often than
/// `max_duplicates` allows in total. Returns the number of duplicates.
pub(crate) fn assert_complete(path: &Path, expected: &[String], max_duplicates: usize) -> usize {
    let (ids, _) = read_output(path);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} documents are missing from {}: {:?}",
        missing.len(),
        expected.len(),
        path.display(),
        &missing[..missing.len().min(10)]
    );
    let unknown: Vec<&&str> = counts
        .keys()
        .filter(|id| !expected.iter().any(|e| e == **id))
        .collect();
    assert!(unknown.is_empty(), "unexpected ids: {unknown:?}");
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    assert!(
        duplicates <= max_duplicates,
        "{duplicates} duplicates in {}, more than the {max_duplicates} allowed",
        path.display()
    );
    duplicates
}
