//! A throwaway PostgreSQL server for the tests: `initdb` into a temporary folder and
//! `pg_ctl start` on a free loopback port, as an unprivileged user (`postgres` when the tests
//! run as root, since PostgreSQL refuses root), started once per test binary and stopped by a
//! watchdog when the test process ends.
//!
//! Nothing is skipped: without PostgreSQL the tests fail with a message saying how to install
//! it (`apt-get install -y postgresql`, or `PG_BIN` naming the folder of `initdb`/`pg_ctl`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The server's URL, `postgres://postgres@127.0.0.1:PORT/postgres`; starts it on first use.
///
/// # Panics
/// When PostgreSQL is not installed or does not start, with the reason and how to fix it.
pub(crate) fn url() -> &'static str {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(url) => url,
        Err(why) => panic!("{why}"),
    }
}

const HOW_TO_INSTALL: &str = "install PostgreSQL (Debian: `apt-get install -y postgresql`; \
     .ci/run does) or set PG_BIN to the folder holding initdb and pg_ctl";

fn bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    // Debian keeps the server tools out of PATH, one folder per major version.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output();
    match out {
        Ok(o) if o.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if dir.join("pg_ctl").exists() {
                return Ok(dir);
            }
            Err(format!(
                "PostgreSQL's pg_ctl is not in {}: {HOW_TO_INSTALL}",
                dir.display()
            ))
        }
        _ => Err(format!("PostgreSQL is not installed: {HOW_TO_INSTALL}")),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn as_server_user(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}; {HOW_TO_INSTALL}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn start() -> Result<String, String> {
    let bin = bin_dir()?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("connector-sync-pg-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?
        .keep();
    if root {
        let mut chown = Command::new("chown");
        chown.arg("postgres:postgres").arg(&dir);
        run(chown, "chown of the PostgreSQL folder to the postgres user")?;
    }
    let data = dir.join("data");
    let mut initdb = as_server_user(root, &bin.join("initdb"));
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-instructions",
    ]);
    run(initdb, "initdb")?;

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    let mut pg_ctl = as_server_user(root, &bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .arg("-o")
        .arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            dir.display()
        ))
        .args(["-w", "start"]);
    if let Err(why) = run(pg_ctl, "pg_ctl start") {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        return Err(format!("{why}\nserver log:\n{log}"));
    }

    // The watchdog: once this test process is gone, stop the server and remove its folder.
    let stop = format!(
        "{}{} -D {} -m immediate stop",
        if root { "runuser -u postgres -- " } else { "" },
        bin.join("pg_ctl").display(),
        data.display()
    );
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the PostgreSQL watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
