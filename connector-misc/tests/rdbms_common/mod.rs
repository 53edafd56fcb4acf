//! Throwaway PostgreSQL and MariaDB servers for the `postgresql` and `mysql` tests, each
//! started once per test binary on a free loopback port in a temporary folder (as the
//! `postgres` / `mysql` user when the tests run as root, since both refuse root), with
//! password authentication on TCP, and stopped by a watchdog when the test process ends.
//!
//! Nothing is skipped: without the servers the tests fail saying how to install them
//! (`.ci/test-servers.sh`: Debian's `postgresql` and `mariadb-server`).

// The server and its watchdog outlive the test process by design (the watchdog stops the
// server once the tests are gone), so neither is waited for.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::zombie_processes
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The password of every test user (the fixture secret).
pub const PASSWORD: &str = "pw-Zq81!rdbms";
/// The test user.
pub const USER: &str = "tester";

/// A running server.
#[derive(Debug, Clone)]
pub struct Server {
    pub port: u16,
    /// A URL for the admin connection (sqlx).
    pub admin_url: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free loopback port")
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn as_user(root: bool, user: &str, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", user, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}; run .ci/test-servers.sh"))?;
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

fn temp_dir(prefix: &str, owner: Option<&str>) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temporary folder")
        .keep();
    if let Some(owner) = owner {
        let mut chown = Command::new("chown");
        chown.arg(format!("{owner}:{owner}")).arg(&dir);
        run(chown, "chown").expect("chown of the server folder");
    }
    dir
}

fn watchdog(stop: &str, dir: &Path) {
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
        .expect("watchdog");
}

fn pg_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
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
    versions
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "PostgreSQL is not installed: run .ci/test-servers.sh or set PG_BIN".into())
}

fn start_postgres() -> Result<Server, String> {
    let bin = pg_bin()?;
    let root = is_root();
    let dir = temp_dir("connector-misc-pg-", root.then_some("postgres"));
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, PASSWORD).map_err(|e| e.to_string())?;
    if root {
        let mut chown = Command::new("chown");
        chown.arg("postgres:postgres").arg(&pwfile);
        run(chown, "chown")?;
    }
    let data = dir.join("data");
    let mut initdb = as_user(root, "postgres", &bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["-E", "UTF8", "--no-instructions"]);
    run(initdb, "initdb")?;
    let port = free_port();
    let mut pg_ctl = as_user(root, "postgres", &bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .arg("-o")
        .arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.display()
        ))
        .args(["-w", "start"]);
    if let Err(why) = run(pg_ctl, "pg_ctl start") {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        return Err(format!("{why}\n{log}"));
    }
    watchdog(
        &format!(
            "{}{} -D {} -m immediate stop",
            if root { "runuser -u postgres -- " } else { "" },
            bin.join("pg_ctl").display(),
            data.display()
        ),
        &dir,
    );
    Ok(Server {
        port,
        admin_url: format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"),
    })
}

fn start_mariadb() -> Result<Server, String> {
    let root = is_root();
    let dir = temp_dir("connector-misc-maria-", root.then_some("mysql"));
    let data = dir.join("data");
    let mut install = as_user(root, "mysql", Path::new("mariadb-install-db"));
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
    run(
        install,
        "mariadb-install-db (apt-get install mariadb-server)",
    )?;
    let port = free_port();
    let mut server = as_user(root, "mysql", Path::new("mariadbd"));
    server
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg(format!("--port={port}"))
        .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
        .arg(format!("--log-error={}", dir.join("err.log").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = server
        .spawn()
        .map_err(|e| format!("cannot start mariadbd: {e}; run .ci/test-servers.sh"))?;
    watchdog(
        &format!(
            "kill -9 {}; pkill -9 -F {}",
            child.id(),
            dir.join("pid").display()
        ),
        &dir,
    );
    // Ready when it accepts a connection.
    for _ in 0..200 {
        let mut ping = Command::new("mariadb-admin");
        ping.args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-u",
            "root",
            "ping",
        ]);
        if run(ping, "mariadb-admin ping").is_ok() {
            // root has no password (the admin connection); the test user has one.
            return Ok(Server {
                port,
                admin_url: format!("mysql://root@127.0.0.1:{port}/mysql"),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("err.log")).unwrap_or_default();
    Err(format!("mariadbd did not start:\n{log}"))
}

/// The PostgreSQL server; started on first use.
pub fn postgres() -> &'static Server {
    static S: OnceLock<Result<Server, String>> = OnceLock::new();
    match S.get_or_init(start_postgres) {
        Ok(s) => s,
        Err(why) => panic!("{why}"),
    }
}

/// The MariaDB server; started on first use.
pub fn mariadb() -> &'static Server {
    static S: OnceLock<Result<Server, String>> = OnceLock::new();
    match S.get_or_init(start_mariadb) {
        Ok(s) => s,
        Err(why) => panic!("{why}"),
    }
}

/// A fresh database name.
pub fn fresh(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Runs admin statements on PostgreSQL (`db`: the database, `None` for `postgres`).
pub async fn pg_exec(db: Option<&str>, statements: &[&str]) {
    use sqlx::Connection as _;
    let s = postgres();
    let url = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{}",
        s.port,
        db.unwrap_or("postgres")
    );
    let mut c = sqlx::PgConnection::connect(&url)
        .await
        .expect("admin connection");
    for st in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(st.to_string()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{st}: {e}"));
    }
}

/// Runs admin statements on MariaDB.
pub async fn my_exec(db: Option<&str>, statements: &[&str]) {
    use sqlx::Connection as _;
    let s = mariadb();
    let url = format!(
        "mysql://root@127.0.0.1:{}/{}",
        s.port,
        db.unwrap_or("mysql")
    );
    let mut c = sqlx::MySqlConnection::connect(&url)
        .await
        .expect("admin connection");
    for st in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(st.to_string()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{st}: {e}"));
    }
}

/// A new PostgreSQL database owned by the test user, with `statements` run in it.
pub async fn pg_database(statements: &[&str]) -> String {
    let db = fresh("pg");
    pg_exec(
        None,
        &[
            &format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{USER}') THEN CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ),
            &format!("CREATE DATABASE {db} OWNER {USER}"),
        ],
    )
    .await;
    let mut all = vec![format!("SET ROLE {USER}")];
    all.extend(statements.iter().map(|s| (*s).to_owned()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    pg_exec(Some(&db), &refs).await;
    db
}

/// A new MariaDB database the test user may read, with `statements` run in it.
pub async fn my_database(statements: &[&str]) -> String {
    let db = fresh("my");
    my_exec(
        None,
        &[
            &format!("CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'"),
            &format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"),
            &format!("GRANT SELECT ON {db}.* TO '{USER}'@'%'"),
        ],
    )
    .await;
    my_exec(Some(&db), statements).await;
    db
}

/// A config for `db` on the server at `port` as the test user.
pub fn config(port: u16, db: &str) -> connector_misc::rdbms::RdbmsConfig {
    let mut c = connector_misc::rdbms::RdbmsConfig::new("127.0.0.1", db, USER, PASSWORD);
    c.port = Some(port);
    c.sslmode = connector_misc::rdbms::SslMode::Disable;
    c
}
