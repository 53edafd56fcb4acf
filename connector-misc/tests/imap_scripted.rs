//! The IMAP connector against a scripted IMAP server: what real servers do and dovecot does
//! not (Gmail's tagged `NO` after part of a FETCH, a `BODYSTRUCTURE` imap-proto cannot parse,
//! Coremail's `BODY[] NIL`, NetEase's "Unsafe Login" before `ID`, response codes, throttling,
//! a dropped connection). The server speaks plain IMAP on loopback; each test overrides the
//! answers it is about and leaves the rest to a well-behaved default over three messages.

#![cfg(feature = "imap")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_core::{Batch, Connector, ErrorKind, Secret, SyncContext};
use connector_misc::imap::{ImapConfig, ImapConnector, Security};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const PASSWORD: &str = "Scripted-Pa55-7781";

/// What a connection has done so far, for the scripts.
#[derive(Debug, Default)]
struct Conn {
    /// Which connection of the server this is (from 0).
    index: usize,
    /// Whether the client sent `ID` on it.
    id_sent: bool,
    /// `UID FETCH` commands on it so far, this one included.
    fetches: usize,
}

/// The access token the scripted server accepts with `AUTHENTICATE XOAUTH2`.
const TOKEN: &str = "ya29.scripted-Access-T0ken";

/// An answer: bytes to send, then whether to hang up; or lines sent [`PACE`] apart.
struct Reply(Vec<u8>, bool, Vec<String>);

/// The pause before each line of a paced answer.
const PACE: std::time::Duration = std::time::Duration::from_millis(600);

impl Reply {
    fn text(s: impl Into<String>) -> Self {
        Self(s.into().into_bytes(), false, Vec::new())
    }

    /// `lines` one by one, each after [`PACE`], then `last`.
    fn paced(lines: Vec<String>, last: String) -> Self {
        Self(last.into_bytes(), false, lines)
    }
}

type Script = dyn Fn(&Conn, &str, &str) -> Option<Reply> + Send + Sync;

const MESSAGES: u32 = 3;

fn message(uid: u32) -> String {
    format!(
        "From: a@example.com\r\nTo: me@example.com\r\nSubject: M{uid}\r\nMessage-ID: <m{uid}@x>\r\n\r\nbody {uid}\r\n"
    )
}

/// The UIDs of a UID set (`1:3,5`, `2:*`).
fn uids(set: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.split(',') {
        let num = |s: &str| {
            if s == "*" {
                MESSAGES
            } else {
                s.parse().unwrap_or(0)
            }
        };
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (num(a), num(b));
                out.extend(a.min(b)..=a.max(b));
            }
            None => out.push(num(part)),
        }
    }
    out.retain(|u| (1..=MESSAGES).contains(u));
    out
}

fn listing_line(uid: u32) -> String {
    let size = message(uid).len();
    format!(
        "* {uid} FETCH (UID {uid} RFC822.SIZE {size} INTERNALDATE \"01-Mar-2025 10:00:00 +0000\" \
         ENVELOPE (\"Sat, 1 Mar 2025 10:00:00 +0000\" \"M{uid}\" ((NIL NIL \"a\" \"example.com\")) NIL NIL \
         ((NIL NIL \"me\" \"example.com\")) NIL NIL NIL \"<m{uid}@x>\") \
         BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 8 1 NIL NIL NIL NIL))\r\n"
    )
}

fn body_line(uid: u32) -> String {
    let m = message(uid);
    format!(
        "* {uid} FETCH (UID {uid} BODY[] {{{}}}\r\n{m})\r\n",
        m.len()
    )
}

/// The listing items and the body in one response, as a server answers a folded fetch.
fn folded_line(uid: u32) -> String {
    let listing = listing_line(uid);
    let m = message(uid);
    format!(
        "{} BODY[] {{{}}}\r\n{m})\r\n",
        listing.trim_end_matches(")\r\n"),
        m.len()
    )
}

/// The well-behaved answer to `command`.
fn default_reply(conn: &Conn, tag: &str, command: &str) -> Reply {
    let upper = command.to_ascii_uppercase();
    let ok = |s: String| Reply::text(format!("{s}{tag} OK done\r\n"));
    if upper.starts_with("CAPABILITY") {
        ok("* CAPABILITY IMAP4rev1 ID\r\n".into())
    } else if upper.starts_with("LOGIN") {
        ok(String::new())
    } else if upper.starts_with("ID ") {
        ok("* ID (\"name\" \"scripted\")\r\n".into())
    } else if upper.starts_with("EXAMINE") {
        Reply::text(format!(
            "* {MESSAGES} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY 7] ok\r\n\
             * OK [UIDNEXT {}] ok\r\n{tag} OK [READ-ONLY] done\r\n",
            MESSAGES + 1
        ))
    } else if let Some(q) = upper.strip_prefix("UID SEARCH ") {
        // `LARGER n`: the messages of more than n octets (RFC 3501 6.4.4).
        let larger: Option<usize> = q
            .split_once("LARGER ")
            .and_then(|(_, n)| n.split_whitespace().next()?.parse().ok());
        let found: Vec<String> = match q.strip_prefix("UID ") {
            Some(set) => uids(set.split_whitespace().next().unwrap_or("")),
            None => (1..=MESSAGES).collect(),
        }
        .iter()
        .filter(|u| larger.is_none_or(|n| message(**u).len() > n))
        .map(u32::to_string)
        .collect();
        ok(format!("* SEARCH {}\r\n", found.join(" ")))
    } else if let Some(rest) = upper.strip_prefix("UID FETCH ") {
        let (set, items) = rest.split_once(' ').unwrap_or((rest, ""));
        let lines: String = uids(set)
            .into_iter()
            .map(|u| {
                if items.contains("BODY.PEEK[]") && items.contains("ENVELOPE") {
                    folded_line(u)
                } else if items.contains("BODY.PEEK[]") {
                    body_line(u)
                } else {
                    listing_line(u)
                }
            })
            .collect();
        let _ = conn;
        ok(lines)
    } else if upper.starts_with("LOGOUT") {
        Reply(
            format!("* BYE bye\r\n{tag} OK done\r\n").into_bytes(),
            true,
            Vec::new(),
        )
    } else {
        Reply::text(format!("{tag} BAD unknown\r\n"))
    }
}

/// A scripted server on a loopback port; `script` answers first, the default the rest.
async fn serve(script: Arc<Script>) -> (u16, Arc<AtomicUsize>) {
    serve_counting(script, Arc::new(AtomicUsize::new(0))).await
}

/// [`serve`], counting the `LOGIN` commands it gets in `logins`.
async fn serve_counting(script: Arc<Script>, logins: Arc<AtomicUsize>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let index = count.fetch_add(1, Ordering::SeqCst);
            let script = Arc::clone(&script);
            let logins = Arc::clone(&logins);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                let mut conn = Conn {
                    index,
                    ..Conn::default()
                };
                if write
                    .write_all(b"* OK [CAPABILITY IMAP4rev1 ID] scripted ready\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let mut line = String::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let text = line.trim_end();
                    let Some((tag, command)) = text.split_once(' ') else {
                        continue;
                    };
                    let upper = command.to_ascii_uppercase();
                    if upper.starts_with("AUTHENTICATE XOAUTH2") {
                        // RFC 4422 exchange: an empty challenge, the client's initial
                        // response; a refused token gets the JSON error as a challenge, which
                        // the client answers empty, then NO.
                        let mut answer = String::new();
                        if write.write_all(b"+ \r\n").await.is_err()
                            || !matches!(lines.read_line(&mut answer).await, Ok(n) if n > 0)
                        {
                            return;
                        }
                        use base64::Engine as _;
                        let decoded = base64::engine::general_purpose::STANDARD
                            .decode(answer.trim_end())
                            .unwrap_or_default();
                        let expected =
                            format!("user=me@example.com\x01auth=Bearer {TOKEN}\x01\x01");
                        let reply = if decoded == expected.as_bytes() {
                            format!("{tag} OK [CAPABILITY IMAP4rev1 ID] authenticated\r\n")
                        } else {
                            let error = base64::engine::general_purpose::STANDARD.encode(
                                r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#,
                            );
                            let mut empty = String::new();
                            if write
                                .write_all(format!("+ {error}\r\n").as_bytes())
                                .await
                                .is_err()
                                || !matches!(lines.read_line(&mut empty).await, Ok(n) if n > 0)
                                || !empty.trim().is_empty()
                            {
                                return;
                            }
                            format!(
                                "{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"
                            )
                        };
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    if upper.starts_with("LOGIN") {
                        logins.fetch_add(1, Ordering::SeqCst);
                    }
                    if upper.starts_with("UID FETCH") {
                        conn.fetches += 1;
                    }
                    let reply = script(&conn, tag, command)
                        .unwrap_or_else(|| default_reply(&conn, tag, command));
                    if upper.starts_with("ID ") {
                        conn.id_sent = true;
                    }
                    for line in &reply.2 {
                        tokio::time::sleep(PACE).await;
                        if write.write_all(line.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    if write.write_all(&reply.0).await.is_err() || reply.1 {
                        return;
                    }
                }
            });
        }
    });
    (port, connections)
}

fn config(port: u16) -> ImapConfig {
    let mut config = ImapConfig::new("127.0.0.1", "me@example.com", Secret::new(PASSWORD));
    config.imap_port = Some(port);
    config.security = Security::Plain;
    config.allowed_hosts = vec!["127.0.0.1".to_owned()];
    config.imap_mailbox = serde_json::from_value(serde_json::json!(["INBOX"])).expect("list");
    config.timeout_seconds = std::num::NonZeroU64::new(5).expect("nonzero");
    config
}

async fn run(port: u16) -> connector_core::Result<Batch> {
    let c: Arc<dyn Connector> = Arc::new(ImapConnector::new(config(port)).expect("config"));
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut all = Batch::default();
    while let Some(page) = stream.next().await {
        all.append(page?);
    }
    Ok(all)
}

fn ids(batch: &Batch) -> Vec<&str> {
    batch.documents.iter().map(|d| d.id.as_str()).collect()
}

fn is_body_fetch(command: &str) -> bool {
    let upper = command.to_ascii_uppercase();
    upper.starts_with("UID FETCH") && upper.contains("BODY.PEEK[]")
}

fn is_listing(command: &str) -> bool {
    let upper = command.to_ascii_uppercase();
    upper.starts_with("UID FETCH") && upper.contains("ENVELOPE")
}

/// Gmail: FETCHes of the messages it can serve, then `NO Some messages could not be
/// FETCHed`, every time UID 2 is asked for.
#[tokio::test]
async fn a_tagged_no_after_part_of_a_fetch_fails_only_that_message() {
    let (port, _) = serve(Arc::new(|_: &Conn, tag: &str, command: &str| {
        let set = command.split_whitespace().nth(2).unwrap_or("");
        (is_body_fetch(command) && uids(set).contains(&2)).then(|| {
            let served: String = uids(set)
                .into_iter()
                .filter(|u| *u != 2)
                .map(body_line)
                .collect();
            Reply::text(format!(
                "{served}{tag} NO Some messages could not be FETCHed (Failure)\r\n"
            ))
        })
    }))
    .await;
    let all = run(port).await.expect("the run completes");
    assert_eq!(ids(&all), ["INBOX:<m1@x>", "INBOX:<m3@x>"]);
    assert_eq!(all.failures.len(), 1, "{:?}", all.failures);
    let f = &all.failures[0];
    assert_eq!(f.id.as_deref(), Some("INBOX:<m2@x>"));
    assert!(
        f.message.contains("UID 2 of mailbox \"INBOX\""),
        "{}",
        f.message
    );
    assert!(f.message.contains("could not be FETCHed"), "{}", f.message);
}

/// Exchange and GMX send `BODYSTRUCTURE` that imap-proto cannot parse: the message is listed
/// again without it (after a new connection, since the stream is out of step) and read.
#[tokio::test]
async fn a_malformed_bodystructure_is_listed_without_it() {
    let (port, connections) = serve(Arc::new(|_: &Conn, tag: &str, command: &str| {
        let set = command.split_whitespace().nth(2).unwrap_or("");
        (is_listing(command) && command.contains("BODYSTRUCTURE") && uids(set).contains(&2)).then(
            || {
                let lines: String = uids(set)
                    .into_iter()
                    .map(|u| {
                        if u == 2 {
                            // A bare atom where the part's size belongs, then a stray bracket.
                            let good = listing_line(2);
                            let cut = good.find("BODYSTRUCTURE").unwrap_or(0);
                            format!(
                                "{}BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\") NIL NIL 7BIT ] 8 1))\r\n",
                                &good[..cut]
                            )
                        } else {
                            listing_line(u)
                        }
                    })
                    .collect();
                Reply::text(format!("{lines}{tag} OK done\r\n"))
            },
        )
    }))
    .await;
    let all = run(port).await.expect("the run completes");
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    assert_eq!(ids(&all), ["INBOX:<m1@x>", "INBOX:<m2@x>", "INBOX:<m3@x>"]);
    assert!(connections.load(Ordering::SeqCst) >= 2, "it reconnected");
}

/// Coremail and NetEase answer `BODY[] NIL` for a message they will not serve: a failure
/// naming it (the message is still there: `UID SEARCH` finds it), not a silent gap.
#[tokio::test]
async fn a_nil_body_is_a_failure_naming_the_message() {
    let (port, _) = serve(Arc::new(|_: &Conn, tag: &str, command: &str| {
        let set = command.split_whitespace().nth(2).unwrap_or("");
        is_body_fetch(command).then(|| {
            let lines: String = uids(set)
                .into_iter()
                .map(|u| {
                    if u == 2 {
                        "* 2 FETCH (UID 2 BODY[] NIL)\r\n".to_owned()
                    } else {
                        body_line(u)
                    }
                })
                .collect();
            Reply::text(format!("{lines}{tag} OK done\r\n"))
        })
    }))
    .await;
    let all = run(port).await.expect("the run completes");
    assert_eq!(ids(&all), ["INBOX:<m1@x>", "INBOX:<m3@x>"]);
    assert_eq!(all.failures.len(), 1, "{:?}", all.failures);
    assert_eq!(all.failures[0].id.as_deref(), Some("INBOX:<m2@x>"));
    assert!(
        all.failures[0].message.contains("no body"),
        "{}",
        all.failures[0].message
    );
}

/// A body FETCH whose response does not parse holds the mail in async-imap's error text:
/// neither the failure nor any error repeats it, and the message is short.
#[tokio::test]
async fn an_unparsable_body_response_leaks_no_mail() {
    const MARKER: &str = "PRIVATE-MAIL-MARKER-42";
    let (port, _) = serve(Arc::new(|_: &Conn, tag: &str, command: &str| {
        let set = command.split_whitespace().nth(2).unwrap_or("");
        (is_body_fetch(command) && uids(set).contains(&2)).then(|| {
            let body = format!("Subject: secret\r\n\r\n{MARKER} {}\r\n", "x".repeat(4000));
            Reply::text(format!(
                "* 2 FETCH (UID 2 BODY[] {{{}}}\r\n{body} ]]] (\r\n{tag} OK done\r\n",
                body.len()
            ))
        })
    }))
    .await;
    let all = run(port).await.expect("the run completes");
    assert_eq!(ids(&all), ["INBOX:<m1@x>", "INBOX:<m3@x>"]);
    assert_eq!(all.failures.len(), 1, "{:?}", all.failures);
    let f = &all.failures[0];
    assert_eq!(f.id.as_deref(), Some("INBOX:<m2@x>"));
    assert!(!f.message.contains(MARKER), "{}", f.message);
    assert!(f.message.len() < 1024, "{}", f.message.len());
    assert!(f.message.contains("could not be parsed"), "{}", f.message);
}

/// NetEase refuses `EXAMINE` with "Unsafe Login" until the client has sent `ID`.
#[tokio::test]
async fn id_is_sent_before_examine() {
    let (port, _) = serve(Arc::new(|conn: &Conn, tag: &str, command: &str| {
        (command.to_ascii_uppercase().starts_with("EXAMINE") && !conn.id_sent).then(|| {
            Reply::text(format!(
                "{tag} NO EXAMINE Unsafe Login. Please contact kefu@188.com for help\r\n"
            ))
        })
    }))
    .await;
    let all = run(port).await.expect("EXAMINE after ID");
    assert_eq!(all.documents.len(), 3);
}

async fn check_with(reply_to: &'static str, answer: &'static str) -> connector_core::Error {
    let (port, _) = serve(Arc::new(move |_: &Conn, tag: &str, command: &str| {
        command
            .to_ascii_uppercase()
            .starts_with(reply_to)
            .then(|| Reply::text(format!("{tag} {answer}\r\n")))
    }))
    .await;
    let c = ImapConnector::new(config(port)).expect("config");
    c.check().await.expect_err("refused")
}

/// RFC 5530 response codes tell the kinds apart, at LOGIN and at EXAMINE.
#[tokio::test]
async fn response_codes_are_mapped() {
    let e = check_with("LOGIN", "NO [AUTHENTICATIONFAILED] Invalid credentials").await;
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.field(), Some("credentials.imap_password"));
    assert!(!e.is_retryable());
    assert!(!e.message().contains(PASSWORD));

    let e = check_with("LOGIN", "NO [UNAVAILABLE] Temporary authentication failure").await;
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable(), "{e}");

    let e = check_with(
        "LOGIN",
        "NO [ALERT] Too many simultaneous connections. (Failure)",
    )
    .await;
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(e.is_retryable(), "{e}");

    let e = check_with("EXAMINE", "NO [NOPERM] Permission denied").await;
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(e.field(), Some("imap_mailbox"));

    let e = check_with("EXAMINE", "NO [NONEXISTENT] Unknown Mailbox: INBOX").await;
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    let e = check_with("EXAMINE", "NO [INUSE] Mailbox in use").await;
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable(), "{e}");
}

/// Exchange's throttling: waited out (its suggested backoff) and retried; a server that
/// keeps throttling ends the run retryably, with the wait it asked for.
#[tokio::test]
async fn throttling_is_waited_out() {
    let once = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&once);
    let (port, _) = serve(Arc::new(move |_: &Conn, tag: &str, command: &str| {
        (is_body_fetch(command) && seen.fetch_add(1, Ordering::SeqCst) == 0).then(|| {
            Reply::text(format!(
                "{tag} NO Request is throttled. Suggested Backoff Time: 50 milliseconds\r\n"
            ))
        })
    }))
    .await;
    let all = run(port).await.expect("throttled once, then served");
    assert_eq!(all.documents.len(), 3);
    assert!(all.failures.is_empty(), "{:?}", all.failures);

    let (port, _) = serve(Arc::new(|_: &Conn, tag: &str, command: &str| {
        is_body_fetch(command).then(|| {
            Reply::text(format!(
                "{tag} NO Request is throttled. Suggested Backoff Time: 20 milliseconds\r\n"
            ))
        })
    }))
    .await;
    let e = run(port).await.expect_err("always throttled");
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_millis(20)));
}

/// The connection drops in the middle of a body fetch: the run reconnects, checks
/// UIDVALIDITY and goes on, with every document.
#[tokio::test]
async fn a_dropped_connection_is_reconnected() {
    let (port, connections) = serve(Arc::new(|conn: &Conn, _: &str, command: &str| {
        (conn.index == 0 && is_body_fetch(command)).then(|| {
            // Half a response, then the socket closes.
            Reply(body_line(1).into_bytes()[..20].to_vec(), true, Vec::new())
        })
    }))
    .await;
    let all = run(port).await.expect("the run completes");
    assert_eq!(ids(&all), ["INBOX:<m1@x>", "INBOX:<m2@x>", "INBOX:<m3@x>"]);
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// A server that answers slowly but steadily: each response comes within the timeout, the
/// whole FETCH takes longer than it, and the run succeeds (the timeout is per response).
#[tokio::test]
async fn a_slow_steady_fetch_is_not_timed_out() {
    let (port, _) = serve(Arc::new(|_: &Conn, tag: &str, command: &str| {
        let set = command.split_whitespace().nth(2).unwrap_or("");
        is_body_fetch(command).then(|| {
            let lines: Vec<String> = uids(set).into_iter().map(body_line).collect();
            Reply::paced(lines, format!("{tag} OK done\r\n"))
        })
    }))
    .await;
    let mut config = config(port);
    config.timeout_seconds = std::num::NonZeroU64::new(1).expect("nonzero");
    let c: Arc<dyn Connector> = Arc::new(ImapConnector::new(config).expect("config"));
    let started = std::time::Instant::now();
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut all = Batch::default();
    while let Some(page) = stream.next().await {
        all.append(page.expect("a page"));
    }
    assert!(started.elapsed() > std::time::Duration::from_millis(1500));
    assert_eq!(all.documents.len(), 3);
}

fn oauth_config(port: u16, token: &str) -> ImapConfig {
    config(port).with_access_token(Secret::new(token))
}

/// Gmail and Microsoft 365: an access token instead of a password logs in with `AUTHENTICATE
/// XOAUTH2` (no `LOGIN` is sent), and the run reads as with a password.
#[tokio::test]
async fn an_access_token_logs_in_with_xoauth2() {
    let logins = Arc::new(AtomicUsize::new(0));
    let (port, _) = serve_counting(
        Arc::new(|_: &Conn, _: &str, _: &str| None),
        Arc::clone(&logins),
    )
    .await;
    let c: Arc<dyn Connector> =
        Arc::new(ImapConnector::new(oauth_config(port, TOKEN)).expect("config"));
    c.check().await.expect("check with the token");
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut all = Batch::default();
    while let Some(page) = stream.next().await {
        all.append(page.expect("page"));
    }
    assert_eq!(ids(&all), ["INBOX:<m1@x>", "INBOX:<m2@x>", "INBOX:<m3@x>"]);
    assert_eq!(logins.load(Ordering::SeqCst), 0, "no LOGIN with a token");
    assert!(!format!("{c:?}").contains(TOKEN));
}

/// A refused token (the server's JSON challenge answered empty, then `NO`) is
/// `Unauthenticated` naming `credentials.imap_access_token`, without the token.
#[tokio::test]
async fn a_refused_access_token_names_its_field() {
    let (port, _) = serve(Arc::new(|_: &Conn, _: &str, _: &str| None)).await;
    let wrong = "ya29.expired-T0ken-4411";
    let c = ImapConnector::new(oauth_config(port, wrong)).expect("config");
    let e = c.check().await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.field(), Some("credentials.imap_access_token"));
    assert!(!e.to_string().contains(wrong), "{e}");
    assert!(e.to_string().contains("AUTHENTICATIONFAILED"), "{e}");
}

/// A password or a token: neither, or both, is a config error naming the field.
#[test]
fn a_password_or_an_access_token() {
    let parse = |credentials: serde_json::Value| {
        connector_core::config::from_json::<ImapConfig>(serde_json::json!({
            "imap_host": "imap.gmail.com",
            "credentials": credentials,
        }))
    };
    let both = parse(serde_json::json!({
        "imap_username": "me@example.com", "imap_password": "p", "imap_access_token": "t",
    }))
    .expect_err("both");
    assert!(
        both.problems()
            .iter()
            .any(|p| p.path == "credentials.imap_access_token"),
        "{both}"
    );
    let token_only =
        parse(serde_json::json!({"imap_username": "me@example.com", "imap_access_token": "t"}))
            .expect("a token alone");
    ImapConnector::new(token_only).expect("a token alone");
    let neither =
        parse(serde_json::json!({"imap_username": "me@example.com"})).expect_err("neither");
    assert!(
        neither
            .problems()
            .iter()
            .any(|p| p.path == "credentials.imap_password"),
        "{neither}"
    );
}

/// Message 2 as the server lists it: `multipart/mixed` of a text part and `b.pdf` (section 2).
fn structured_listing_line() -> String {
    let good = listing_line(2);
    let cut = good.find("BODYSTRUCTURE").unwrap_or(0);
    format!(
        "{}BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)\
         (\"APPLICATION\" \"PDF\" (\"NAME\" \"b.pdf\") NIL NIL \"BASE64\" 8 NIL (\"ATTACHMENT\" (\"FILENAME\" \"b.pdf\")) NIL NIL) \
         \"MIXED\" (\"BOUNDARY\" \"XX\") NIL NIL NIL))\r\n",
        &good[..cut]
    )
}

/// Message 2 as sent: the same two parts, a third attachment `c.txt` that the server's
/// structure does not show, and no closing boundary (mail-parser and the server disagree).
const MALFORMED_MIME: &str = "From: a@example.com\r\nTo: me@example.com\r\nSubject: M2\r\n\
Message-ID: <m2@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n\
--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--XX\r\nContent-Type: application/pdf; name=b.pdf\r\nContent-Disposition: attachment; filename=b.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\n\
--XX\r\nContent-Type: text/plain; name=c.txt\r\nContent-Disposition: attachment; filename=c.txt\r\n\r\nc\r\n";

/// Review 12: attachment ids come from the server's `BODYSTRUCTURE` alone, in the load as in
/// prune's id listing, so a MIME tree mail-parser reads otherwise never has prune delete an
/// attachment the load wrote (and, the message being unchanged, never writes again).
#[tokio::test]
async fn attachment_ids_agree_between_load_and_prune() {
    let (port, _) = serve(Arc::new(|_: &Conn, tag: &str, command: &str| {
        let set = command.split_whitespace().nth(2).unwrap_or("");
        if !uids(set).contains(&2) {
            return None;
        }
        let line = |u: u32| {
            if is_listing(command) {
                if u == 2 {
                    structured_listing_line()
                } else {
                    listing_line(u)
                }
            } else if u == 2 {
                format!(
                    "* 2 FETCH (UID 2 BODY[] {{{}}}\r\n{MALFORMED_MIME})\r\n",
                    MALFORMED_MIME.len()
                )
            } else {
                body_line(u)
            }
        };
        command
            .to_ascii_uppercase()
            .starts_with("UID FETCH")
            .then(|| {
                let lines: String = uids(set).into_iter().map(line).collect();
                Reply::text(format!("{lines}{tag} OK done\r\n"))
            })
    }))
    .await;
    let all = run(port).await.expect("the run completes");
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let loaded = ids(&all);
    assert_eq!(
        loaded,
        [
            "INBOX:<m1@x>",
            "INBOX:<m2@x>",
            "INBOX:<m2@x>/2",
            "INBOX:<m3@x>"
        ]
    );
    let pdf = &all.documents[2];
    assert_eq!(pdf.title, "b.pdf");
    assert_eq!(pdf.content.as_bytes(), b"%PDF-1");

    let c: Arc<dyn Connector> = Arc::new(ImapConnector::new(config(port)).expect("config"));
    let mut listed = Vec::new();
    let mut pages = c.as_slim().expect("slim").list_ids(SyncContext::new());
    while let Some(page) = pages.next().await {
        listed.extend(page.expect("ids").into_iter().map(|d| d.id));
    }
    assert_eq!(listed, loaded);
}

/// A lookup that remembers earlier runs but knows none of these messages: every body is read,
/// as in an incremental run that meets only new mail.
struct RemembersNothingHere;

#[async_trait::async_trait]
impl connector_core::FingerprintLookup for RemembersNothingHere {
    async fn fingerprints(
        &self,
        _ids: &[String],
    ) -> connector_core::Result<std::collections::HashMap<String, String>> {
        Ok(std::collections::HashMap::new())
    }
}

/// A run whose lookup remembers nothing (a full run) lists and reads a page in one `UID FETCH`,
/// but for the messages a `LARGER` search finds over the fold's size, which are listed first
/// and read on their own; a run whose lookup remembers lists first, then reads what it does
/// not know. Both give the same documents.
#[tokio::test]
async fn a_run_that_remembers_nothing_lists_and_reads_in_one_fetch() {
    let commands = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&commands);
    let (port, _) = serve(Arc::new(move |_: &Conn, tag: &str, command: &str| {
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("UID ") {
            seen.lock().expect("lock").push(upper.clone());
        }
        // UID 3 is the large one.
        upper
            .contains(" LARGER ")
            .then(|| Reply::text(format!("* SEARCH 3\r\n{tag} OK done\r\n")))
    }))
    .await;
    let c: Arc<dyn Connector> = Arc::new(ImapConnector::new(config(port)).expect("config"));
    let drain = |ctx: SyncContext| {
        let c = Arc::clone(&c);
        async move {
            let mut stream = c.as_load().expect("load").load(ctx);
            let mut all = Batch::default();
            while let Some(page) = stream.next().await {
                all.append(page.expect("page"));
            }
            all
        }
    };
    let fetches = |commands: &[String]| -> Vec<String> {
        commands
            .iter()
            .filter(|c| c.starts_with("UID FETCH"))
            .cloned()
            .collect()
    };

    let full = drain(SyncContext::new()).await;
    assert_eq!(ids(&full), ["INBOX:<m1@x>", "INBOX:<m2@x>", "INBOX:<m3@x>"]);
    assert!(full.failures.is_empty(), "{:?}", full.failures);
    let sent = std::mem::take(&mut *commands.lock().expect("lock"));
    let fetched = fetches(&sent);
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    assert!(
        fetched[0].starts_with("UID FETCH 1:2 ")
            && fetched[0].contains("ENVELOPE")
            && fetched[0].contains("BODY.PEEK[]"),
        "{fetched:?}"
    );
    assert!(
        fetched[1].starts_with("UID FETCH 3 ") && !fetched[1].contains("BODY.PEEK[]"),
        "{fetched:?}"
    );
    assert!(
        fetched[2].starts_with("UID FETCH 3 ") && !fetched[2].contains("ENVELOPE"),
        "{fetched:?}"
    );

    let remembering =
        drain(SyncContext::new().with_fingerprints(Arc::new(RemembersNothingHere))).await;
    assert_eq!(ids(&remembering), ids(&full));
    assert_eq!(
        remembering.documents[0].content, full.documents[0].content,
        "the same message read either way"
    );
    let sent = std::mem::take(&mut *commands.lock().expect("lock"));
    assert!(!sent.iter().any(|c| c.contains(" LARGER ")), "{sent:?}");
    let fetched = fetches(&sent);
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert!(!fetched[0].contains("BODY.PEEK[]") && fetched[1].contains("BODY.PEEK[]"));
}
