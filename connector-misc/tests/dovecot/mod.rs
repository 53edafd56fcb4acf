//! A real IMAP server for the tests: dovecot on free loopback ports (a plain listener that
//! also offers STARTTLS, and an implicit-TLS one with a self-signed certificate), run as one
//! unprivileged user (nobody when the tests run as root). Every login with [`PASSWORD`] works
//! and gets a maildir of its own, so each test uses a user of its own. Install it with
//! `bash .ci/test-servers.sh`. Messages are seeded through IMAP itself (`APPEND`).

// Each test binary uses a different part of this module.
#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use connector_core::Secret;
use connector_misc::imap::{ImapConfig, Security};
use tokio::net::TcpStream;

/// The password of every test user.
pub const PASSWORD: &str = "Zq7-imap-test-secret-5511";

/// Where dovecot is: `$CONNECTORS_DOVECOT`, `/usr/sbin/dovecot`, or `PATH`.
pub fn dovecot_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CONNECTORS_DOVECOT") {
        return PathBuf::from(p);
    }
    let sbin = PathBuf::from("/usr/sbin/dovecot");
    if sbin.is_file() {
        return sbin;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("dovecot");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "dovecot is not installed: run `bash .ci/test-servers.sh` (or set CONNECTORS_DOVECOT to a dovecot binary)"
    );
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn output(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A running dovecot; stopped on drop (and when the test process is gone).
pub struct Dovecot {
    pub plain: SocketAddr,
    pub tls: SocketAddr,
    dir: tempfile::TempDir,
    child: Child,
}

impl Dovecot {
    pub fn start() -> Self {
        let bin = dovecot_binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let root = output("id", &["-u"]) == "0";
        let (user, group) = if root {
            ("nobody".to_owned(), output("id", &["-gn", "nobody"]))
        } else {
            (output("id", &["-un"]), output("id", &["-gn"]))
        };
        let (uid, gid) = (output("id", &["-u", &user]), output("id", &["-g", &user]));
        for sub in ["run", "state", "home"] {
            std::fs::create_dir_all(d.join(sub)).expect("dovecot dirs");
        }
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            // A server certificate, not a CA (webpki refuses a CA certificate as the server's).
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl (install it with .ci/test-servers.sh)");
        assert!(status.success(), "openssl could not make a certificate");
        let (plain, tls) = (free_port(), free_port());
        let dp = d.display();
        let conf = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {dp}/run
state_dir = {dp}/state
log_path = {dp}/dovecot.log
ssl = yes
ssl_cert = <{dp}/cert.pem
ssl_key = <{dp}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dp}/home/%u
}}
"#
        );
        std::fs::write(d.join("dovecot.conf"), conf).expect("dovecot.conf");
        if root {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:{group}")])
                .arg(d)
                .status()
                .expect("chown");
            assert!(status.success());
        }
        // A shell in between stops dovecot when this test process is gone, even if the
        // process ends without dropping the server (a shared server in a `static`).
        let run = if root {
            format!("runuser -u {user} -- \"$0\"")
        } else {
            "\"$0\"".to_owned()
        };
        let script = format!(
            "{run} -F -c \"$1\" & rc=$!; while kill -0 {pid} 2>/dev/null && kill -0 $rc 2>/dev/null; \
             do sleep 0.3; done; kill $rc 2>/dev/null",
            pid = std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&bin)
            .arg(d.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let plain: SocketAddr = ([127, 0, 0, 1], plain).into();
        let tls: SocketAddr = ([127, 0, 0, 1], tls).into();
        let started = Instant::now();
        while std::net::TcpStream::connect(plain).is_err()
            || std::net::TcpStream::connect(tls).is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "dovecot did not listen on {plain} and {tls} within 20 s; its log: {}",
                std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            plain,
            tls,
            dir,
            child,
        }
    }

    /// The self-signed certificate the TLS listeners present.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A config for `user`'s `mailboxes` over the plain listener (loopback).
    pub fn config(&self, user: &str, mailboxes: &[&str]) -> ImapConfig {
        let mut config = ImapConfig::new("127.0.0.1", user, Secret::new(PASSWORD));
        config.imap_port = Some(self.plain.port());
        config.security = Security::Plain;
        config.allowed_hosts = vec!["127.0.0.1".to_owned()];
        config.imap_mailbox =
            serde_json::from_value(serde_json::json!(mailboxes)).expect("mailboxes");
        config
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server shared by the tests of a binary (each test uses users of its own).
pub fn shared() -> &'static Dovecot {
    static SHARED: OnceLock<Dovecot> = OnceLock::new();
    SHARED.get_or_init(Dovecot::start)
}

/// The shared server, started off the async runtime.
pub async fn server() -> &'static Dovecot {
    tokio::task::spawn_blocking(shared)
        .await
        .expect("start dovecot")
}

/// A unique user name, a mail address (the mailbox owner).
pub fn user(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("{tag}-{}-{n}@example.com", std::process::id())
}

pub type Session = async_imap::Session<TcpStream>;

/// Logs `user` in over the plain listener, for seeding.
pub async fn login(server: &Dovecot, user: &str) -> Session {
    let tcp = TcpStream::connect(server.plain).await.expect("connect");
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("greeting");
    client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .expect("login")
}

/// Creates `mailbox` (not INBOX, which exists), ignoring "already exists".
pub async fn create(session: &mut Session, mailbox: &str) {
    let _ = session.create(mailbox).await;
}

/// APPENDs `raw` to `mailbox` with the given INTERNALDATE (`"01-Mar-2025 12:00:00 +0000"`)
/// and returns the mailbox's UIDVALIDITY.
pub async fn append(session: &mut Session, mailbox: &str, raw: &[u8], internal_date: Option<&str>) {
    let date = internal_date.map(|d| format!("\"{d}\""));
    session
        .append(mailbox, None, date.as_deref(), raw)
        .await
        .expect("APPEND");
}

/// A mailbox's UIDVALIDITY.
pub async fn uid_validity(session: &mut Session, mailbox: &str) -> u32 {
    session
        .examine(mailbox)
        .await
        .expect("EXAMINE")
        .uid_validity
        .expect("UIDVALIDITY")
}

/// A simple text message.
pub fn text_message(message_id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\
         Date: Sat, 1 Mar 2025 12:00:00 +0000\r\nMessage-ID: <{message_id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Something that is not a mail message: no header field at all.
pub fn malformed_message() -> Vec<u8> {
    b"\x00\x01\x02 this is not a message\r\n\xff\xfe garbage without any header\r\n".to_vec()
}
