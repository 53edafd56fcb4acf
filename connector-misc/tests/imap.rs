//! The IMAP connector against a real dovecot (see `dovecot/mod.rs`): messages seeded through
//! IMAP `APPEND`, read over plain loopback, STARTTLS and implicit TLS.

#![cfg(feature = "imap")]

mod dovecot;

use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{
    Batch, CheckpointedConnector, Connector, ErrorKind, Registry, SyncContext, SyncStats,
};
use connector_misc::imap::{ImapConfig, ImapConnector, Security};
use futures::StreamExt;

fn connector(config: ImapConfig) -> Arc<dyn Connector> {
    Arc::new(ImapConnector::new(config).expect("valid config"))
}

async fn load(c: &dyn Connector) -> Batch {
    load_with(c, SyncContext::new()).await
}

async fn load_with(c: &dyn Connector, ctx: SyncContext) -> Batch {
    let mut stream = c.as_load().expect("load").load(ctx);
    let mut all = Batch::default();
    while let Some(page) = stream.next().await {
        all.append(page.expect("page"));
    }
    all
}

fn ids(batch: &Batch) -> Vec<String> {
    batch.documents.iter().map(|d| d.id.clone()).collect()
}

const HTML_WITH_ATTACHMENT: &str = "From: \"Dana Q.\" <dana@example.com>\r\n\
To: bob@example.com, \"Eve\" <eve@example.com>\r\n\
Cc: frank@example.com\r\n\
Subject: =?UTF-8?Q?Quarterly_r=C3=A9sum=C3=A9?=\r\n\
Date: Mon, 3 Mar 2025 09:30:00 +0100\r\n\
Message-ID: <html1@example.com>\r\n\
In-Reply-To: <mid@example.com>\r\n\
References: <root@example.com>\r\n <mid@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\
\r\n\
--rel\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><body><h1>Numbers</h1><p>See <a href=\"https://example.com/q\">the <b>table</b></a>:</p>\
<table><tr><th>Q</th><th>Sales</th></tr><tr><td>1</td><td>10</td></tr></table>\
<img src=\"cid:logo1\" alt=\"logo\"><script>alert(1)</script></body></html>\r\n\
--rel\r\n\
Content-Type: image/png; name=\"logo.png\"\r\n\
Content-ID: <logo1>\r\n\
Content-Disposition: inline; filename=\"logo.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--rel--\r\n\
--outer\r\n\
Content-Type: text/csv; name=\"data.csv\"\r\n\
Content-Disposition: attachment; filename=\"data.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
cSxzYWxlcwoxLDEwCg==\r\n\
--outer--\r\n";

#[tokio::test]
async fn html_body_becomes_markdown_and_the_attachment_a_document() {
    let server = dovecot::server().await;
    let user = dovecot::user("html");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        HTML_WITH_ATTACHMENT.as_bytes(),
        Some("03-Mar-2025 08:30:00 +0000"),
    )
    .await;
    let c = connector(server.config(&user, &["INBOX"]));
    let all = load(c.as_ref()).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    assert_eq!(
        ids(&all),
        ["INBOX:<html1@example.com>", "INBOX:<html1@example.com>/2"],
        "the inline logo is no document"
    );

    let msg = &all.documents[0];
    assert_eq!(msg.title, "Quarterly résumé");
    let text = msg.content.as_text().expect("text");
    assert!(text.starts_with("# Quarterly résumé\n"), "{text}");
    assert!(
        text.contains("**From:** Dana Q. <dana@example.com>"),
        "{text}"
    );
    assert!(
        text.contains("**To:** bob@example.com, Eve <eve@example.com>"),
        "{text}"
    );
    assert!(text.contains("**Cc:** frank@example.com"), "{text}");
    assert!(text.contains("# Numbers"), "{text}");
    assert!(
        text.contains("[the **table**](https://example.com/q)"),
        "{text}"
    );
    assert!(text.contains("| Q | Sales |"), "{text}");
    assert!(!text.contains("alert(1)"), "scripts are dropped: {text}");
    assert!(!text.contains("<table>"), "{text}");
    let meta = &msg.metadata;
    assert_eq!(meta["thread_id"], "<root@example.com>");
    assert_eq!(meta["in_reply_to"], "<mid@example.com>");
    assert_eq!(
        meta["references"],
        serde_json::json!(["<root@example.com>", "<mid@example.com>"])
    );
    assert_eq!(meta["message_id"], "<html1@example.com>");
    assert_eq!(meta["mailbox"], "INBOX");
    assert_eq!(meta["attachment_count"], 1);
    assert_eq!(
        msg.updated_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-03-03T08:30:00+00:00"),
        "INTERNALDATE"
    );
    let access = serde_json::to_value(&msg.access).expect("access");
    assert!(
        access.to_string().contains(&user),
        "the mailbox owner reads it: {access}"
    );
    let link = msg.link.as_ref().expect("link").to_string();
    assert!(
        link.starts_with(&format!("imap://{}@127.0.0.1:", user.replace('@', "%40")))
            && link.contains("/INBOX;UIDVALIDITY="),
        "{link}"
    );

    let csv = &all.documents[1];
    assert_eq!(csv.title, "data.csv");
    assert_eq!(csv.content.as_bytes(), b"q,sales\n1,10\n");
    assert_eq!(csv.parent_id.as_deref(), Some("INBOX:<html1@example.com>"));
    assert_eq!(csv.metadata["section"], "2");
    let csv_json = serde_json::to_value(csv).expect("json");
    assert_eq!(csv_json["content"]["mime"], "text/csv", "{csv_json}");

    // Prune lists the same ids from ENVELOPE and BODYSTRUCTURE, without bodies.
    let slim = c.as_slim().expect("slim");
    let mut listed = Vec::new();
    let mut pages = slim.list_ids(SyncContext::new());
    while let Some(page) = pages.next().await {
        listed.extend(page.expect("ids").into_iter().map(|d| d.id));
    }
    assert_eq!(listed, ids(&all));
}

#[tokio::test]
async fn legacy_charsets_are_decoded() {
    let server = dovecot::server().await;
    let user = dovecot::user("charset");
    let mut s = dovecot::login(server, &user).await;
    let latin1 = b"From: hans@example.de\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\nMessage-ID: <l1@example.de>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Gr=FC=DFe aus M=FCnchen\r\n";
    let mut koi8 = b"From: ivan@example.ru\r\nSubject: =?KOI8-R?B?8NLJ18XU?=\r\nMessage-ID: <k1@example.ru>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=KOI8-R\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    koi8.extend_from_slice(&[
        0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4, b',', b' ', 0xCD, 0xC9, 0xD2, b'\r', b'\n',
    ]);
    dovecot::append(&mut s, "INBOX", latin1, None).await;
    dovecot::append(&mut s, "INBOX", &koi8, None).await;
    let all = load(connector(server.config(&user, &["INBOX"])).as_ref()).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let texts: Vec<(&str, &str)> = all
        .documents
        .iter()
        .map(|d| (d.title.as_str(), d.content.as_text().unwrap_or_default()))
        .collect();
    assert_eq!(texts[0].0, "Grüße");
    assert!(texts[0].1.contains("Grüße aus München"), "{}", texts[0].1);
    assert_eq!(texts[1].0, "Привет");
    assert!(texts[1].1.contains("Привет, мир"), "{}", texts[1].1);
}

#[tokio::test]
async fn a_malformed_message_is_a_failure_and_the_sync_goes_on() {
    let server = dovecot::server().await;
    let user = dovecot::user("bad");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("a@x", "A", "first"),
        None,
    )
    .await;
    dovecot::append(&mut s, "INBOX", &dovecot::malformed_message(), None).await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("b@x", "B", "last"),
        None,
    )
    .await;
    let all = load(connector(server.config(&user, &["INBOX"])).as_ref()).await;
    assert_eq!(ids(&all), ["INBOX:<a@x>", "INBOX:<b@x>"]);
    assert_eq!(all.failures.len(), 1);
    let failure = &all.failures[0];
    assert_eq!(failure.kind, ErrorKind::InvalidData);
    assert!(
        failure.message.contains("UID 2 of mailbox \"INBOX\""),
        "{}",
        failure.message
    );
}

/// A full run, two new messages, an incremental run: only the new ones are delivered, and
/// the old ones in the overlap are not downloaded again.
#[tokio::test]
async fn an_incremental_run_picks_up_only_new_mail() {
    let server = dovecot::server().await;
    let user = dovecot::user("incr");
    let mut s = dovecot::login(server, &user).await;
    for i in 0..3 {
        dovecot::append(
            &mut s,
            "INBOX",
            &dovecot::text_message(&format!("old{i}@x"), "Old", "old"),
            None,
        )
        .await;
    }
    let c = connector(server.config(&user, &["INBOX"]));
    let sink = MemorySink::new();
    let state = MemoryStateStore::new();
    let first = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Auto)
        .await
        .expect("full run");
    assert_eq!((first.mode, first.new), (SyncMode::Full, 3));
    for i in 0..2 {
        dovecot::append(
            &mut s,
            "INBOX",
            &dovecot::text_message(&format!("new{i}@x"), "New", "new"),
            None,
        )
        .await;
    }
    let second = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Auto)
        .await
        .expect("incremental run");
    assert_eq!(second.mode, SyncMode::Incremental);
    assert!(second.window.is_some());
    assert_eq!(
        (second.new, second.updated, second.failed),
        (2, 0, 0),
        "{second:?}"
    );
    assert_eq!(sink.len(), 5);
    assert!(sink.get("INBOX:<new1@x>").is_some());
}

#[tokio::test]
async fn unchanged_messages_are_not_downloaded_again() {
    let server = dovecot::server().await;
    let user = dovecot::user("fp");
    let mut s = dovecot::login(server, &user).await;
    for i in 0..4 {
        dovecot::append(
            &mut s,
            "INBOX",
            &dovecot::text_message(&format!("m{i}@x"), "M", "body"),
            None,
        )
        .await;
    }
    let c = connector(server.config(&user, &["INBOX"]));
    let sink = MemorySink::new();
    let state = MemoryStateStore::new();
    let first = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Full)
        .await
        .expect("run");
    // A reconciliation asks the store's fingerprints (a full run delivers everything).
    let second = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Reconcile)
        .await
        .expect("run");
    assert_eq!(
        (second.new, second.unchanged, second.bytes),
        (0, 4, 0),
        "{second:?}"
    );
    // Login, EXAMINE, SEARCH, the listing; the second run skips the body fetch.
    assert_eq!(first.requests, 5, "{first:?}");
    assert_eq!(second.requests, 4, "{second:?}");
}

#[tokio::test]
async fn a_changed_uidvalidity_restarts_the_mailbox() {
    let server = dovecot::server().await;
    let user = dovecot::user("uidv");
    let mut s = dovecot::login(server, &user).await;
    dovecot::create(&mut s, "Box").await;
    for i in 0..3 {
        dovecot::append(
            &mut s,
            "Box",
            &dovecot::text_message(&format!("a{i}@x"), "A", "a"),
            None,
        )
        .await;
    }
    let before = dovecot::uid_validity(&mut s, "Box").await;
    let mut config = server.config(&user, &["Box"]);
    config.page_size = NonZeroU32::new(1).expect("nonzero");
    let c = ImapConnector::new(config).expect("config");
    let mut pages = c.load_from_checkpoint(c.initial_checkpoint(), None, SyncContext::new());
    let first = pages.next().await.expect("a page").expect("page");
    drop(pages);
    assert_eq!(
        (
            first.checkpoint.mailbox.as_deref(),
            first.checkpoint.uid_validity,
            first.checkpoint.after_uid
        ),
        (Some("Box"), Some(before), 1)
    );
    assert_eq!(
        first.checkpoint.next["Box"].uid_next, 4,
        "the next incremental run starts at UIDNEXT"
    );
    // Resuming while the mailbox is unchanged goes on after UID 1.
    let rest: Vec<String> = c
        .load_from_checkpoint(first.checkpoint.clone(), None, SyncContext::new())
        .map(|p| p.expect("page").batch.documents.into_iter().map(|d| d.id))
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    assert_eq!(rest, ["Box:<a1@x>", "Box:<a2@x>"]);

    // The mailbox is recreated: new UIDVALIDITY, UIDs from 1 again.
    s.select("INBOX").await.expect("select");
    s.delete("Box").await.expect("delete");
    s.create("Box").await.expect("create");
    for i in 0..2 {
        dovecot::append(
            &mut s,
            "Box",
            &dovecot::text_message(&format!("b{i}@x"), "B", "b"),
            None,
        )
        .await;
    }
    let after = dovecot::uid_validity(&mut s, "Box").await;
    assert_ne!(
        before, after,
        "dovecot gives a recreated mailbox a new UIDVALIDITY"
    );
    let resumed: Vec<String> = c
        .load_from_checkpoint(first.checkpoint, None, SyncContext::new())
        .map(|p| p.expect("page").batch.documents.into_iter().map(|d| d.id))
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    assert_eq!(
        resumed,
        ["Box:<b0@x>", "Box:<b1@x>"],
        "UID 1 of the new mailbox is read too"
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_auth_error() {
    let server = dovecot::server().await;
    let user = dovecot::user("auth");
    let mut config = server.config(&user, &["INBOX"]);
    config.credentials.imap_password = connector_core::Secret::new("N0t-the-Pa55word");
    let c = connector(config);
    let err = c.check().await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("credentials.imap_password"), "{text}");
    assert!(
        text.contains("AUTHENTICATIONFAILED") || text.contains("uthentication failed"),
        "{text}"
    );
    assert!(!text.contains("N0t-the-Pa55word"), "{text}");
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let err = stream.next().await.expect("an item").expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
}

#[tokio::test]
async fn implicit_tls_and_starttls_verify_the_certificate() {
    let server = dovecot::server().await;
    let user = dovecot::user("tls");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("t@x", "Secure", "over TLS"),
        None,
    )
    .await;

    let mut tls = server.config(&user, &["INBOX"]);
    tls.security = Security::Tls;
    tls.imap_port = Some(server.tls.port());
    tls.ca_certificate = Some(server.cert());
    assert_eq!(
        ids(&load(connector(tls.clone()).as_ref()).await),
        ["INBOX:<t@x>"]
    );

    let mut starttls = tls.clone();
    starttls.security = Security::Starttls;
    starttls.imap_port = Some(server.plain.port());
    assert_eq!(
        ids(&load(connector(starttls).as_ref()).await),
        ["INBOX:<t@x>"]
    );

    // The CA as PEM text (what a multi-tenant host takes) works the same.
    let mut pem = tls.clone();
    pem.ca_certificate = None;
    pem.ca_certificate_pem = Some(std::fs::read_to_string(server.cert()).expect("cert"));
    assert_eq!(ids(&load(connector(pem).as_ref()).await), ["INBOX:<t@x>"]);

    // Without the CA the self-signed certificate is refused, and nothing is retried.
    let mut untrusted = tls;
    untrusted.ca_certificate = None;
    let err = connector(untrusted).check().await.expect_err("untrusted");
    assert!(err.message().contains("TLS handshake"), "{err}");
    assert!(!err.is_retryable(), "{err}");
}

#[tokio::test]
async fn plain_is_for_loopback_and_loopback_must_be_allowed() {
    let mut config = ImapConfig::new(
        "imap.example.com",
        "me@example.com",
        connector_core::Secret::new("pw"),
    );
    config.security = Security::Plain;
    let err = ImapConnector::new(config).expect_err("plain off loopback");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.problems().iter().any(|p| p.path == "security"), "{err}");

    let server = dovecot::server().await;
    let mut denied = server.config(&dovecot::user("net"), &["INBOX"]);
    denied.allowed_hosts.clear();
    let err = connector(denied)
        .check()
        .await
        .expect_err("loopback denied");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.field(), Some("imap_host"));
}

#[tokio::test]
async fn size_caps_are_failures() {
    let server = dovecot::server().await;
    let user = dovecot::user("caps");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(&mut s, "INBOX", HTML_WITH_ATTACHMENT.as_bytes(), None).await;
    let mut config = server.config(&user, &["INBOX"]);
    config.attachment_size_limit = NonZeroU64::new(4).expect("nonzero");
    let all = load(connector(config.clone()).as_ref()).await;
    assert_eq!(ids(&all), ["INBOX:<html1@example.com>"]);
    assert_eq!(all.failures.len(), 1);
    assert_eq!(
        all.failures[0].id.as_deref(),
        Some("INBOX:<html1@example.com>/2")
    );
    assert!(
        all.failures[0].message.contains("attachment_size_limit"),
        "{:?}",
        all.failures
    );

    config.max_message_size = NonZeroU64::new(100).expect("nonzero");
    let stats = Arc::new(SyncStats::default());
    let all = load_with(
        connector(config).as_ref(),
        SyncContext::new().with_stats(Arc::clone(&stats)),
    )
    .await;
    assert!(all.documents.is_empty());
    assert_eq!(
        all.failures[0].id.as_deref(),
        Some("INBOX:<html1@example.com>")
    );
    assert!(
        all.failures[0].message.contains("max_message_size"),
        "{:?}",
        all.failures
    );
    // A run that remembers nothing folds listing and body into one fetch, but for the
    // messages a `LARGER` search finds over the cap, which are listed alone.
    assert_eq!(
        stats.requests(),
        5,
        "no body fetched: login, EXAMINE, SEARCH, SEARCH LARGER, listing"
    );
}

#[tokio::test]
async fn poll_range_limits_a_full_run_to_recent_mail() {
    let server = dovecot::server().await;
    let user = dovecot::user("range");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("ancient@x", "Old", "old"),
        Some("01-Jan-2020 00:00:00 +0000"),
    )
    .await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("fresh@x", "New", "new"),
        None,
    )
    .await;
    let mut config = server.config(&user, &["INBOX"]);
    assert_eq!(
        ids(&load(connector(config.clone()).as_ref()).await).len(),
        2
    );
    config.poll_range = Some(30);
    assert_eq!(
        ids(&load(connector(config).as_ref()).await),
        ["INBOX:<fresh@x>"]
    );
}

/// RAGFlow's IMAP config as its form stores it (port and days as strings, mailboxes as one
/// string), built by the registry and run against dovecot.
#[tokio::test]
async fn ragflow_config_is_accepted() {
    let server = dovecot::server().await;
    let user = dovecot::user("ragflow");
    let mut s = dovecot::login(server, &user).await;
    dovecot::create(&mut s, "Archive").await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("r1@x", "One", "1"),
        None,
    )
    .await;
    dovecot::append(
        &mut s,
        "Archive",
        &dovecot::text_message("r2@x", "Two", "2"),
        None,
    )
    .await;
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    assert!(registry.sources().contains(&"imap"));
    let ragflow = serde_json::json!({
        "imap_host": "127.0.0.1",
        "imap_port": server.tls.port().to_string(),
        "imap_mailbox": "INBOX, Archive",
        "poll_range": "30",
        "batch_size": 2,
        "sync_deleted_files": true,
        "credentials": { "imap_username": user, "imap_password": dovecot::PASSWORD },
        // Not RAGFlow's: a test server's self-signed CA on loopback.
        "ca_certificate": server.cert(),
        "allowed_hosts": ["127.0.0.1"],
    });
    let c = registry.build("imap", ragflow).expect("RAGFlow's config");
    let all = load(c.as_ref()).await;
    assert_eq!(ids(&all), ["INBOX:<r1@x>", "Archive:<r2@x>"]);
    let text = format!("{c} {c:?}");
    assert!(!text.contains(dovecot::PASSWORD), "{text}");
}

/// Incremental runs go by UID, not by date: a message copied today into another configured
/// mailbox (it keeps its 2020 INTERNALDATE), one APPENDed with an old date (a migration tool)
/// and one stamped five minutes before the last run (a server clock behind ours) are all new
/// arrivals and all delivered.
#[tokio::test]
async fn an_incremental_run_finds_copied_backdated_and_skewed_mail() {
    let server = dovecot::server().await;
    let user = dovecot::user("arrivals");
    let mut s = dovecot::login(server, &user).await;
    dovecot::create(&mut s, "Archive").await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("filed@x", "Filed", "old mail"),
        Some("01-Jun-2020 09:00:00 +0000"),
    )
    .await;
    let c = connector(server.config(&user, &["INBOX", "Archive"]));
    let sink = MemorySink::new();
    let state = MemoryStateStore::new();
    let first = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Auto)
        .await
        .expect("full run");
    assert_eq!((first.mode, first.new), (SyncMode::Full, 1));

    s.select("INBOX").await.expect("select");
    s.uid_copy("1", "Archive").await.expect("UID COPY");
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("migrated@x", "Migrated", "imapsync"),
        Some("15-Feb-2019 08:00:00 +0000"),
    )
    .await;
    let skewed = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .format("%d-%b-%Y %H:%M:%S +0000")
        .to_string();
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("skewed@x", "Skewed", "server clock behind"),
        Some(&skewed),
    )
    .await;

    let second = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Auto)
        .await
        .expect("incremental run");
    assert_eq!(second.mode, SyncMode::Incremental);
    assert_eq!((second.new, second.failed), (3, 0), "{second:?}");
    for id in [
        "Archive:<filed@x>",
        "INBOX:<migrated@x>",
        "INBOX:<skewed@x>",
    ] {
        assert!(sink.get(id).is_some(), "{id} delivered");
    }

    // Nothing new: nothing listed, nothing fetched (login, two EXAMINEs, two SEARCHes).
    let third = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Auto)
        .await
        .expect("incremental run");
    assert_eq!((third.new, third.unchanged), (0, 0), "{third:?}");
    assert_eq!(third.requests, 5, "{third:?}");
}

/// An empty `imap_mailbox` reads every mailbox, as RAGFlow and Onyx do; names are modified
/// UTF-7 on the wire and UTF-8 in ids and metadata, and configured UTF-8 names are found.
#[tokio::test]
async fn all_mailboxes_and_non_ascii_names() {
    let server = dovecot::server().await;
    let user = dovecot::user("utf7");
    let mut s = dovecot::login(server, &user).await;
    // Created as the server knows them: modified UTF-7.
    for wire in ["Archive", "Entw&APw-rfe", "&XfJT0ZAB-"] {
        dovecot::create(&mut s, wire).await;
    }
    for (wire, id) in [
        ("INBOX", "in@x"),
        ("Archive", "ar@x"),
        ("Entw&APw-rfe", "de@x"),
        ("&XfJT0ZAB-", "zh@x"),
    ] {
        dovecot::append(&mut s, wire, &dovecot::text_message(id, "M", "m"), None).await;
    }
    let all = load(connector(server.config(&user, &[])).as_ref()).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let mut got = ids(&all);
    assert_eq!(
        got.first().map(String::as_str),
        Some("INBOX:<in@x>"),
        "INBOX first"
    );
    got.sort();
    assert_eq!(
        got,
        [
            "Archive:<ar@x>",
            "Entwürfe:<de@x>",
            "INBOX:<in@x>",
            "已发送:<zh@x>"
        ]
    );
    let de = all
        .documents
        .iter()
        .find(|d| d.id == "Entwürfe:<de@x>")
        .expect("Entwürfe");
    assert_eq!(de.metadata["mailbox"], "Entwürfe");

    let named = load(connector(server.config(&user, &["Entwürfe", "已发送"])).as_ref()).await;
    assert_eq!(ids(&named), ["Entwürfe:<de@x>", "已发送:<zh@x>"]);

    // A name the server does not have: the error lists the ones it has.
    let err = connector(server.config(&user, &["Projects"]))
        .check()
        .await
        .expect_err("no such mailbox");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.message().contains("\"Entwürfe\""), "{err}");
}

/// RAGFlow's IMAP config as its sync service stores it after a run: the form's defaults
/// (`name: ""`, mailboxes as an array, numbers as numbers) plus `imap_initial_sync_start`.
#[tokio::test]
async fn ragflow_stored_config_is_accepted() {
    let server = dovecot::server().await;
    let user = dovecot::user("stored");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("st@x", "S", "s"),
        None,
    )
    .await;
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let stored = serde_json::json!({
        "name": "",
        "imap_host": "127.0.0.1",
        "imap_port": server.tls.port(),
        "imap_mailbox": ["INBOX"],
        "poll_range": 30,
        "sync_deleted_files": false,
        "imap_initial_sync_start": 1_733_300_000.0,
        "credentials": { "imap_username": user, "imap_password": dovecot::PASSWORD },
        // Not RAGFlow's: a test server's self-signed CA on loopback.
        "ca_certificate": server.cert(),
        "allowed_hosts": ["127.0.0.1"],
    });
    let c = registry
        .build("imap", stored)
        .expect("RAGFlow's stored config");
    assert_eq!(ids(&load(c.as_ref()).await), ["INBOX:<st@x>"]);
}

/// The documents of representative messages, as a host receives them: an HTML mail with an
/// inline image and an attachment, a Latin-1 quoted-printable mail.
#[tokio::test]
async fn converted_documents_snapshot() {
    let server = dovecot::server().await;
    let user = dovecot::user("snap");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        HTML_WITH_ATTACHMENT.as_bytes(),
        Some("03-Mar-2025 08:30:00 +0000"),
    )
    .await;
    dovecot::append(
        &mut s,
        "INBOX",
        b"From: hans@example.de\r\nTo: me@example.com\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n\
Message-ID: <l1@example.de>\r\nDate: Tue, 4 Mar 2025 10:00:00 +0100\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus M=FCnchen\r\n\r\nHans\r\n",
        Some("04-Mar-2025 09:00:00 +0000"),
    )
    .await;
    let all = load(connector(server.config(&user, &["INBOX"])).as_ref()).await;
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let shown = serde_json::to_string(&all.documents)
        .expect("json")
        .replace(&user, "me@example.com")
        .replace(
            &format!("127.0.0.1:{}", server.plain.port()),
            "imap.example.com:143",
        );
    let json: serde_json::Value = serde_json::from_str(&shown).expect("json");
    insta::assert_json_snapshot!("imap_documents", json, {
        "[].metadata.uid_validity" => "[uid_validity]",
        // A hash of mailbox, UIDVALIDITY and UID: dovecot's UIDVALIDITY is a timestamp.
        "[].fingerprint" => "[fingerprint]",
        "[].link" => "[link]",
        "[].metadata.imap_url" => "[imap_url]",
    });
}

/// The same Message-ID twice in a mailbox (a list copy and a direct copy): two documents
/// with ids of their own, the same ids from prune's listing and from an incremental run that
/// meets a third copy, and nothing downloaded again by a reconciliation.
#[tokio::test]
async fn duplicate_message_ids_keep_distinct_stable_ids() {
    let server = dovecot::server().await;
    let user = dovecot::user("dup");
    let mut s = dovecot::login(server, &user).await;
    let raw = dovecot::text_message("same@x", "Twice", "one mail, two copies");
    dovecot::append(&mut s, "INBOX", &raw, None).await;
    dovecot::append(&mut s, "INBOX", &raw, None).await;
    let c = connector(server.config(&user, &["INBOX"]));
    let sink = MemorySink::new();
    let state = MemoryStateStore::new();
    let first = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Auto)
        .await
        .expect("full run");
    assert_eq!(first.new, 2, "{first:?}");
    let all = load(c.as_ref()).await;
    let loaded = ids(&all);
    assert_eq!(loaded[0], "INBOX:<same@x>");
    assert!(loaded[1].starts_with("INBOX:<same@x>:uid:"), "{loaded:?}");
    let mut listed = Vec::new();
    let mut pages = c.as_slim().expect("slim").list_ids(SyncContext::new());
    while let Some(page) = pages.next().await {
        listed.extend(page.expect("ids").into_iter().map(|d| d.id));
    }
    assert_eq!(listed, loaded);
    for _ in 0..2 {
        let again = Syncer::new(Arc::clone(&c))
            .sink(sink.clone())
            .state(state.clone())
            .run(SyncMode::Reconcile)
            .await
            .expect("reconcile");
        assert_eq!(
            (again.new, again.unchanged, again.bytes),
            (0, 2, 0),
            "{again:?}"
        );
    }
    // A third copy arrives: the incremental run asks the older UIDs and gives it an id of
    // its own too.
    dovecot::append(&mut s, "INBOX", &raw, None).await;
    let third = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .state(state.clone())
        .run(SyncMode::Auto)
        .await
        .expect("incremental");
    assert_eq!(
        (third.mode, third.new),
        (SyncMode::Incremental, 1),
        "{third:?}"
    );
    assert_eq!(sink.len(), 3);
}

/// Each configured mailbox is a partition: a connector of its own reading only it, with the
/// same ids as the whole.
#[tokio::test]
async fn mailboxes_are_partitions() {
    let server = dovecot::server().await;
    let user = dovecot::user("parts");
    let mut s = dovecot::login(server, &user).await;
    dovecot::create(&mut s, "Archive").await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("p1@x", "1", "1"),
        None,
    )
    .await;
    dovecot::append(
        &mut s,
        "Archive",
        &dovecot::text_message("p2@x", "2", "2"),
        None,
    )
    .await;
    let c = connector(server.config(&user, &["INBOX", "Archive"]));
    assert_eq!(c.partitions(), ["INBOX", "Archive"]);
    let archive = c.partition("Archive").expect("a partition");
    assert_eq!(ids(&load(archive.as_ref()).await), ["Archive:<p2@x>"]);
    assert!(c.partition("Elsewhere").is_none());
    assert!(connector(server.config(&user, &[])).partitions().is_empty());
}

/// A login that is no mail address needs `owner_email`, which documents are then readable by.
#[tokio::test]
async fn a_login_that_is_no_address_needs_owner_email() {
    let mut config = ImapConfig::new(
        "imap.example.com",
        "jdoe",
        connector_core::Secret::new("pw"),
    );
    let err = ImapConnector::new(config.clone()).expect_err("no owner");
    assert!(
        err.problems().iter().any(|p| p.path == "owner_email"),
        "{err}"
    );
    config.owner_email = Some("John.Doe@Example.com".to_owned());
    assert_eq!(config.owner().as_deref(), Some("john.doe@example.com"));
    assert!(ImapConnector::new(config).is_ok());

    let server = dovecot::server().await;
    let user = dovecot::user("owner");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("o@x", "O", "o"),
        None,
    )
    .await;
    let mut config = server.config(&user, &["INBOX"]);
    config.owner_email = Some("team@example.org".to_owned());
    let all = load(connector(config).as_ref()).await;
    let access = serde_json::to_value(&all.documents[0].access).expect("access");
    assert_eq!(
        access["emails"],
        serde_json::json!(["team@example.org"]),
        "{access}"
    );
    assert_eq!(all.documents[0].owners, ["team@example.org"]);
}

/// `ca_certificate` is a path on the host: a file that is no PEM (or none at all) is one
/// config error that repeats nothing of the file, and a host serving tenants (one that sets a
/// network policy) refuses the path outright, pointing at `ca_certificate_pem`.
#[test]
fn ca_certificate_paths_reveal_nothing_of_host_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("hostname");
    std::fs::write(&secret_file, "secret-host-line-7731\n").expect("write");
    let mut config = ImapConfig::new("imap.example.com", "me@example.com", "pw".into());
    config.ca_certificate = Some(secret_file);
    let not_pem = ImapConnector::new(config.clone()).expect_err("no PEM");
    let mut missing = config;
    missing.ca_certificate = Some(dir.path().join("absent.pem"));
    let absent = ImapConnector::new(missing).expect_err("no file");
    for e in [&not_pem, &absent] {
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert_eq!(e.field(), Some("ca_certificate"), "{e}");
        assert!(!e.to_string().contains("secret-host-line"), "{e}");
    }
    // The same words whether the file exists or not: no existence oracle.
    assert_eq!(not_pem.message(), absent.message());

    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    registry.set_network_policy(connector_core::net::NetworkPolicy::public_only());
    let err = registry
        .build(
            "imap",
            serde_json::json!({
                "imap_host": "imap.example.com",
                "ca_certificate": "/etc/hostname",
                "credentials": {"imap_username": "me@example.com", "imap_password": "pw"},
            }),
        )
        .expect_err("a host path on a tenant host");
    assert!(
        err.problems().iter().any(|p| p.path == "ca_certificate"),
        "{err}"
    );
    assert!(err.to_string().contains("ca_certificate_pem"), "{err}");
}

/// Refetch by id: a message by its Message-ID, an attachment alone by its section, a later
/// copy of a Message-ID and a message without one by the UID their ids hash; ids of messages
/// that are gone, or of mailboxes not read, yield nothing.
#[tokio::test]
async fn refetch_finds_messages_and_attachments_by_id() {
    let server = dovecot::server().await;
    let user = dovecot::user("refetch");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(&mut s, "INBOX", HTML_WITH_ATTACHMENT.as_bytes(), None).await;
    let same = dovecot::text_message("same@x", "Twice", "one mail, two copies");
    dovecot::append(&mut s, "INBOX", &same, None).await;
    dovecot::append(&mut s, "INBOX", &same, None).await;
    let bare = b"From: a@example.com\r\nSubject: No id\r\n\r\nno Message-ID here\r\n";
    dovecot::append(&mut s, "INBOX", bare, None).await;
    let c = connector(server.config(&user, &["INBOX"]));
    let all = load(c.as_ref()).await;
    let loaded = ids(&all);
    assert_eq!(loaded.len(), 5, "{loaded:?}");

    let refetch = c.roles().as_refetch().expect("refetch");
    let ask = |wanted: Vec<String>| {
        let mut stream = refetch.fetch(wanted, SyncContext::new());
        async move {
            let mut got = Batch::default();
            while let Some(page) = stream.next().await {
                got.append(page.expect("page"));
            }
            got
        }
    };
    // Every id, in another order: the same documents, the same text.
    let mut shuffled = loaded.clone();
    shuffled.reverse();
    let again = ask(shuffled).await;
    assert!(again.failures.is_empty(), "{:?}", again.failures);
    let mut got = ids(&again);
    got.sort();
    let mut want = loaded.clone();
    want.sort();
    assert_eq!(got, want);
    for d in &all.documents {
        let twin = again
            .documents
            .iter()
            .find(|x| x.id == d.id)
            .expect("refetched");
        assert_eq!(twin.content, d.content, "{}", d.id);
        assert_eq!(twin.fingerprint, d.fingerprint, "{}", d.id);
    }

    // The attachment alone.
    let one = ask(vec!["INBOX:<html1@example.com>/2".to_owned()]).await;
    assert_eq!(ids(&one), ["INBOX:<html1@example.com>/2"]);
    assert_eq!(one.documents[0].title, "data.csv");

    // Gone, or not this connector's: nothing.
    let none = ask(vec![
        "INBOX:<never@x>".to_owned(),
        "Archive:<html1@example.com>".to_owned(),
        "INBOX:uid:0000".to_owned(),
    ])
    .await;
    assert!(none.documents.is_empty() && none.failures.is_empty());
}
