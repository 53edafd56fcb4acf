//! Gmail against wiremock fixtures shaped like Google's API reference.
#![cfg(feature = "gmail")]

mod common;

use std::sync::Arc;

use common::*;
use connector_core::sink::MemorySink;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::collect_load;
use connector_core::{Connector, Content, ErrorKind, Registry, SyncContext, TimeWindow};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(uri: &str, tokens: Value, extra: Value) -> Value {
    let mut cfg = json!({
        "credentials": {"google_tokens": tokens, "google_primary_admin": ADMIN},
        "token_uri": format!("{uri}/token"),
        "directory_base_url": uri, "allowed_hosts": ["127.0.0.1"],
        "gmail_base_url": uri,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
}

fn build(cfg: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    registry.build("gmail", cfg).expect("a valid config")
}

/// Nested multipart: mixed [ alternative [ text/plain ISO-8859-1, text/html ], a PDF ].
fn nested_thread() -> Value {
    let alternative = json!({
        "partId": "0", "mimeType": "multipart/alternative", "filename": "",
        "headers": [{"name": "Content-Type", "value": "multipart/alternative; boundary=\"b2\""}],
        "body": {"size": 0},
        "parts": [
            leaf("0.0", "text/plain", "ISO-8859-1", b"Caf\xe9 d\xe9j\xe0 vu, na\xefve r\xe9sum\xe9."),
            leaf("0.1", "text/html", "ISO-8859-1", b"<p>Caf\xe9 <b>HTML</b></p>"),
        ]
    });
    let pdf = json!({
        "partId": "1", "mimeType": "application/pdf", "filename": "minutes.pdf",
        "headers": [{"name": "Content-Type", "value": "application/pdf; name=\"minutes.pdf\""},
                    {"name": "Content-Disposition", "value": "attachment; filename=\"minutes.pdf\""}],
        "body": {"size": 9, "attachmentId": "ANGjdJ_att-1"}
    });
    let big = json!({
        "partId": "2", "mimeType": "video/mp4", "filename": "huge.mp4",
        "headers": [], "body": {"size": 900_000_000, "attachmentId": "ANGjdJ_big"}
    });
    let payload = json!({
        "partId": "", "mimeType": "multipart/mixed", "filename": "",
        "headers": headers("Alice <alice@example.com>", "Bob <bob@example.com>", "Réunion", "multipart/mixed; boundary=\"b1\""),
        "body": {"size": 0},
        "parts": [alternative, pdf, big]
    });
    let sjis = {
        // こんにちは in Shift_JIS.
        let mut p = leaf(
            "",
            "text/plain",
            "Shift_JIS",
            b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd",
        );
        p["headers"] = headers(
            "Bob <bob@example.com>",
            "Alice <alice@example.com>",
            "Re: Réunion",
            "text/plain; charset=Shift_JIS",
        );
        p
    };
    let html_only = {
        let mut p = leaf("", "text/html", "UTF-8", b"<html><head><style>p{}</style></head><body><h2>Agenda</h2><ul><li>one</li><li>two</li></ul></body></html>");
        p["headers"] = headers(
            "Carol <carol@example.com>",
            "Alice <alice@example.com>",
            "Re: Réunion",
            "text/html; charset=UTF-8",
        );
        p
    };
    thread(
        "t-nested",
        vec![
            message("m1", "t-nested", 1, payload),
            message("m2", "t-nested", 2, sjis),
            message("m3", "t-nested", 3, html_only),
        ],
    )
}

async fn mailbox_server(rotate: bool) -> (MockServer, Gmail) {
    let server = MockServer::start().await;
    let token = TokenEndpoint {
        rotate_to: rotate.then(|| "1//rotated".into()),
        ..TokenEndpoint::default()
    };
    mount_token(&server, token).await;
    mount_directory(&server, &["alice@example.com", "bob@example.com"], 1).await;
    let alice = vec![
        nested_thread(),
        thread(
            "t-a2",
            vec![plain_message(
                "m4",
                "t-a2",
                5,
                "bob@example.com",
                "Lunch",
                "Pizza?",
            )],
        ),
        thread(
            "t-a3",
            vec![plain_message(
                "m5",
                "t-a3",
                7,
                "carol@example.com",
                "Report",
                "Attached.",
            )],
        ),
    ];
    let bob = vec![thread(
        "t-b1",
        vec![plain_message(
            "m6",
            "t-b1",
            9,
            "alice@example.com",
            "Hi Bob",
            "Hello",
        )],
    )];
    let gmail = mount_gmail(
        &server,
        vec![("alice@example.com", alice), ("bob@example.com", bob)],
        vec![("ANGjdJ_att-1", b"%PDF-1.7\n".to_vec())],
        2,
    )
    .await;
    (server, gmail)
}

#[tokio::test]
async fn threads_with_nested_multipart_charsets_html_and_attachments() {
    let (server, _) = mailbox_server(false).await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_attachments": true}),
    ));
    let (docs, failures) = collect_load(c.as_ref()).await;
    // The attachment over the limit is not downloaded, and says so (naming its file).
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0].id.as_deref(),
        Some("gmail:alice@example.com:t-nested:m1:2")
    );
    assert!(
        failures[0].message.contains("huge.mp4")
            && failures[0].message.contains("attachment_size_limit"),
        "{failures:?}"
    );
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "gmail:alice@example.com:t-nested",
            "gmail:alice@example.com:t-nested:m1:1",
            "gmail:alice@example.com:t-a2",
            "gmail:alice@example.com:t-a3",
            "gmail:bob@example.com:t-b1",
        ]
    );
    let t = &docs[0];
    assert_eq!(t.title, "Réunion");
    assert_eq!(t.updated_at, Some(time(3)));
    let text = t.content.as_text().unwrap();
    assert!(text.contains("Café déjà vu, naïve résumé."), "{text}");
    assert!(
        !text.contains("<b>HTML</b>"),
        "text/plain is preferred: {text}"
    );
    assert!(text.contains("こんにちは"), "Shift_JIS: {text}");
    assert!(
        text.contains("## Agenda") || text.contains("Agenda\n---"),
        "HTML as Markdown: {text}"
    );
    assert!(text.contains("*   one"), "{text}");
    assert!(!text.contains("p{}"), "style dropped: {text}");
    assert!(text.contains("Participants: Alice <alice@example.com>, Bob <bob@example.com>, Carol <carol@example.com>"), "{text}");
    let pdf = &docs[1];
    assert_eq!(pdf.title, "minutes.pdf");
    assert_eq!(
        pdf.parent_id.as_deref(),
        Some("gmail:alice@example.com:t-nested")
    );
    assert!(
        matches!(&pdf.content, Content::Bytes { data, mime, .. } if &data[..] == b"%PDF-1.7\n" && mime == "application/pdf")
    );
}

#[tokio::test]
async fn malformed_message_is_a_failure_naming_the_thread() {
    let (server, gmail) = mailbox_server(false).await;
    let mut bad = plain_message("mx", "t-bad", 4, "x@example.com", "Bad", "x");
    bad["payload"]["body"]["data"] = json!("!!!not base64!!!");
    gmail
        .mailboxes
        .lock()
        .unwrap()
        .get_mut("alice@example.com")
        .unwrap()
        .push(thread("t-bad", vec![bad]));
    let c = build(config(&server.uri(), service_account_key(), json!({})));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert_eq!(docs.len(), 4);
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].id.as_deref(),
        Some("gmail:alice@example.com:t-bad")
    );
    assert!(failures[0].message.contains("t-bad"), "{failures:?}");
}

#[tokio::test]
async fn window_becomes_after_before_and_is_applied_exactly() {
    let (server, gmail) = mailbox_server(false).await;
    let c = build(config(&server.uri(), service_account_key(), json!({})));
    let window = TimeWindow::new(time(3), time(7)).unwrap();
    let mut ids = Vec::new();
    let mut s = c.as_poll().unwrap().poll(window, SyncContext::new());
    while let Some(p) = s.next().await {
        ids.extend(p.unwrap().documents.into_iter().map(|d| d.id));
    }
    // t-nested ends at minute 3 (included), t-a2 at 5; t-a3 at 7 is the excluded end.
    assert_eq!(
        ids,
        vec![
            "gmail:alice@example.com:t-nested",
            "gmail:alice@example.com:t-a2"
        ]
    );
    let queries = gmail.queries.lock().unwrap().clone();
    let (s, e) = (time(3).timestamp() - 1, time(7).timestamp() + 1);
    assert!(
        queries.contains(&format!("after:{s} before:{e}")),
        "{queries:?}"
    );
}

#[tokio::test]
async fn personal_account_when_the_directory_is_404_and_oauth_reads_me() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    Mock::given(method("GET"))
        .and(path("/admin/directory/v1/users"))
        .respond_with(ResponseTemplate::new(404).set_body_json(google_error(
            404,
            "notFound",
            "NOT_FOUND",
            "Domain not found.",
        )))
        .mount(&server)
        .await;
    mount_gmail(
        &server,
        vec![
            (
                ADMIN,
                vec![thread(
                    "t1",
                    vec![plain_message("m1", "t1", 1, "x@example.com", "One", "1")],
                )],
            ),
            (
                "oauth@example.com",
                vec![thread(
                    "t2",
                    vec![plain_message("m2", "t2", 1, "y@example.com", "Two", "2")],
                )],
            ),
        ],
        vec![],
        10,
    )
    .await;
    let (docs, _) =
        collect_load(build(config(&server.uri(), service_account_key(), json!({}))).as_ref()).await;
    assert_eq!(
        docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        vec!["gmail:admin@example.com:t1"]
    );
    let (docs, _) =
        collect_load(build(config(&server.uri(), user_token(), json!({}))).as_ref()).await;
    assert_eq!(
        docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        vec!["gmail:oauth@example.com:t2"]
    );
}

#[tokio::test]
async fn unauthorized_fails_fast_and_rate_limits_are_retried() {
    let (server, _) = mailbox_server(false).await;
    {
        let _guard = Mock::given(method("GET"))
            .and(path("/gmail/v1/users/alice@example.com/threads"))
            .respond_with(ResponseTemplate::new(401).set_body_json(google_error(
                401,
                "authError",
                "UNAUTHENTICATED",
                "Invalid Credentials",
            )))
            .with_priority(1)
            .mount_as_scoped(&server)
            .await;
        let err = Syncer::new(build(config(
            &server.uri(),
            service_account_key(),
            json!({}),
        )))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        assert_eq!(err.field(), Some("credentials.google_tokens"));
    }
    let (server, _) = mailbox_server(false).await;
    let _guard = Mock::given(method("GET"))
        .and(path("/gmail/v1/users/alice@example.com/threads/t-a2"))
        .respond_with(ResponseTemplate::new(403).set_body_json(google_error(
            403,
            "userRateLimitExceeded",
            "PERMISSION_DENIED",
            "User-rate limit exceeded.",
        )))
        .up_to_n_times(2)
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let report = Syncer::new(build(config(
        &server.uri(),
        service_account_key(),
        json!({}),
    )))
    .sink(MemorySink::new())
    .run(SyncMode::Full)
    .await
    .unwrap();
    assert_eq!(report.delivered, 4);
    assert!(report.retries >= 2, "{report:?}");
}

#[tokio::test]
async fn list_ids_lists_threads_and_attachments() {
    let (server, _) = mailbox_server(false).await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_attachments": true}),
    ));
    let (docs, _) = collect_load(c.as_ref()).await;
    let mut ids = Vec::new();
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = s.next().await {
        ids.extend(p.unwrap().into_iter().map(|d| d.id));
    }
    let expected: Vec<String> = docs.into_iter().map(|d| d.id).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn check_reports_a_missing_gmail_scope_delegation() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint { fail: Some(("unauthorized_client".into(), "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into())), ..TokenEndpoint::default() }).await;
    let err = build(config(&server.uri(), service_account_key(), json!({})))
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("domain-wide delegation"), "{err}");
    let (server, _) = mailbox_server(false).await;
    build(config(&server.uri(), service_account_key(), json!({})))
        .check()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_denied_or_rate_limited_thread_is_a_failure_and_the_sync_goes_on() {
    // Core's one policy: neither a 403 on one thread nor a rate limit that outlasts the
    // retries ends the sync (both did before the page pipeline); each fails its thread alone.
    let (server, _) = mailbox_server(false).await;
    let _denied = Mock::given(method("GET"))
        .and(path("/gmail/v1/users/alice@example.com/threads/t-a2"))
        .respond_with(ResponseTemplate::new(403).set_body_json(google_error(
            403,
            "forbidden",
            "PERMISSION_DENIED",
            "Delegation denied.",
        )))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let _limited = Mock::given(method("GET"))
        .and(path("/gmail/v1/users/bob@example.com/threads/t-b1"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(google_error(
                    429,
                    "rateLimitExceeded",
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded.",
                )),
        )
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_attachments": true}),
    ));
    let (docs, failures) = collect_load(c.as_ref()).await;
    let threads: Vec<&str> = docs
        .iter()
        .filter(|d| d.parent_id.is_none())
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(
        threads,
        [
            "gmail:alice@example.com:t-nested",
            "gmail:alice@example.com:t-a3"
        ]
    );
    let failed: Vec<(Option<&str>, ErrorKind, bool)> = failures
        .iter()
        .map(|f| (f.id.as_deref(), f.kind, f.retryable))
        .collect();
    assert_eq!(
        failed,
        [
            (
                Some("gmail:alice@example.com:t-nested:m1:2"),
                ErrorKind::InvalidData,
                false
            ),
            (
                Some("gmail:alice@example.com:t-a2"),
                ErrorKind::PermissionDenied,
                false
            ),
            (
                Some("gmail:bob@example.com:t-b1"),
                ErrorKind::RateLimited,
                true
            ),
        ],
        "{failures:?}"
    );
    assert!(failures[1].message.contains("t-a2"), "{failures:?}");

    // A listing that needs the threads (for their attachments) and cannot read one is not
    // complete: it fails rather than let prune delete what it missed.
    let mut ids = c.as_slim().unwrap().list_ids(SyncContext::new());
    let mut err = None;
    while let Some(page) = ids.next().await {
        if let Err(e) = page {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the listing must fail");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("t-a2"), "{err}");
}

/// RAGFlow's form config (its hidden `authentication_method`, `sync_deleted_files`) and its
/// backend's `google_service_account_key` next to the form's blank `google_tokens`: every
/// mailbox of the admin's domain, the ignored fields reported.
#[tokio::test]
async fn ragflow_s_stored_configs_read_every_mailbox_of_the_domain() {
    let (server, _) = mailbox_server(false).await;
    let uri = server.uri();
    let mut registry = Registry::new();
    connector_google::register(&mut registry);
    for credentials in [
        json!({"google_primary_admin": ADMIN, "google_tokens": service_account_key().to_string(), "authentication_method": "uploaded"}),
        json!({"google_primary_admin": ADMIN, "google_tokens": "", "google_service_account_key": service_account_key().to_string()}),
    ] {
        let built = registry
            .build_with_notes(
                "gmail",
                json!({
                    "credentials": credentials,
                    // Values that change something in RAGFlow, so each gets a note.
                    "sync_deleted_files": true, "batch_size": "5",
                    "token_uri": format!("{uri}/token"), "directory_base_url": uri, "allowed_hosts": ["127.0.0.1"], "gmail_base_url": uri,
                }),
            )
            .unwrap();
        let mut ignored: Vec<&str> = built.ignored.iter().map(|i| i.path.as_str()).collect();
        ignored.sort_unstable();
        assert!(ignored.contains(&"sync_deleted_files") && ignored.contains(&"batch_size"));
        let (docs, failures) = collect_load(built.connector.as_ref()).await;
        assert!(failures.is_empty(), "{failures:?}");
        let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            vec![
                "gmail:alice@example.com:t-a2",
                "gmail:alice@example.com:t-a3",
                "gmail:alice@example.com:t-nested",
                "gmail:bob@example.com:t-b1"
            ]
        );
    }
}

/// Three mailboxes: alice has no Gmail licence (`threads.list` answers 400 `failedPrecondition`
/// "Mail service not enabled", Gmail's answer for a user without a mailbox), bob is suspended
/// (the token endpoint refuses `sub=bob` with `invalid_grant`), carol is fine.
async fn one_bad_mailbox_each_server(refuse: Vec<(String, String, String)>) -> MockServer {
    let server = MockServer::start().await;
    mount_token(
        &server,
        TokenEndpoint {
            refuse,
            ..TokenEndpoint::default()
        },
    )
    .await;
    mount_directory(
        &server,
        &["alice@example.com", "bob@example.com", "carol@example.com"],
        3,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/alice@example.com/threads"))
        .respond_with(ResponseTemplate::new(400).set_body_json(google_error(
            400,
            "failedPrecondition",
            "FAILED_PRECONDITION",
            "Mail service not enabled",
        )))
        .with_priority(1)
        .mount(&server)
        .await;
    fn one<'a>(user: &'a str, id: &str) -> (&'a str, Vec<Value>) {
        (
            user,
            vec![thread(
                id,
                vec![plain_message(
                    &format!("m-{id}"),
                    id,
                    3,
                    "x@example.com",
                    "Hello",
                    "Hi",
                )],
            )],
        )
    }
    mount_gmail(
        &server,
        vec![
            one("alice@example.com", "t-a"),
            one("bob@example.com", "t-b"),
            one("carol@example.com", "t-c"),
        ],
        vec![],
        10,
    )
    .await;
    server
}

fn suspended_bob() -> Vec<(String, String, String)> {
    vec![(
        "bob@example.com".into(),
        "invalid_grant".into(),
        "Invalid email or User ID".into(),
    )]
}

#[tokio::test]
async fn a_mailbox_without_gmail_or_a_suspended_user_is_a_failure_and_the_sync_goes_on() {
    let server = one_bad_mailbox_each_server(suspended_bob()).await;
    let c = build(config(&server.uri(), service_account_key(), json!({})));
    let sink = MemorySink::new();
    let report = Syncer::new(Arc::clone(&c))
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .expect("one user's problem must not end the sync");
    let ids: Vec<String> = sink.documents().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["gmail:carol@example.com:t-c"], "{report:?}");
    let failed: Vec<(Option<&str>, ErrorKind, bool)> = report
        .failures
        .iter()
        .map(|f| (f.id.as_deref(), f.kind, f.retryable))
        .collect();
    assert_eq!(
        failed,
        [
            (
                Some("gmail:alice@example.com"),
                ErrorKind::Unsupported,
                true
            ),
            (
                Some("gmail:bob@example.com"),
                ErrorKind::PermissionDenied,
                true
            ),
        ],
        "{:?}",
        report.failures
    );
    assert!(
        report.failures[0].message.contains("alice@example.com")
            && report.failures[0]
                .message
                .contains("Mail service not enabled"),
        "{:?}",
        report.failures
    );
    assert!(
        report.failures[1].message.contains("bob@example.com"),
        "{:?}",
        report.failures
    );

    // Prune must not delete alice's and bob's threads: the listing fails rather than come back
    // without them.
    let mut pages = c.as_slim().unwrap().list_ids(SyncContext::new());
    let mut err = None;
    while let Some(page) = pages.next().await {
        if let Err(e) = page {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("a listing without alice's mailbox must fail");
    assert!(err.to_string().contains("alice@example.com"), "{err}");
}

#[tokio::test]
async fn a_scope_not_delegated_still_ends_the_sync() {
    // `unauthorized_client` for a user's Gmail token: the delegation is missing for every user.
    let server = one_bad_mailbox_each_server(vec![(
        "carol@example.com".into(),
        "unauthorized_client".into(),
        "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into(),
    )])
    .await;
    let err = Syncer::new(build(config(
        &server.uri(),
        service_account_key(),
        json!({}),
    )))
    .sink(MemorySink::new())
    .run(SyncMode::Full)
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("domain-wide delegation"), "{err}");
}

#[tokio::test]
async fn list_ids_with_attachments_fails_when_a_thread_cannot_be_read() {
    // A thread whose body Gmail sends malformed: its attachments cannot be listed, so the
    // listing is not complete and prune must not run on it.
    let (server, _) = mailbox_server(false).await;
    let _broken = Mock::given(method("GET"))
        .and(path("/gmail/v1/users/alice@example.com/threads/t-nested"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "t-nested", "messages": "not a list"})),
        )
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_attachments": true}),
    ));
    let mut pages = c.as_slim().unwrap().list_ids(SyncContext::new());
    let mut ids = Vec::new();
    let mut err = None;
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => ids.extend(p.into_iter().map(|d| d.id)),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.unwrap_or_else(|| panic!("the listing came back partial: {ids:?}"));
    assert!(err.to_string().contains("t-nested"), "{err}");
}

#[tokio::test]
async fn check_passes_when_the_first_mailbox_has_no_gmail() {
    // alice, the first user, has no Gmail licence: `users.getProfile` answers 400
    // `failedPrecondition`. That is alice's problem, not the connector's.
    let server = one_bad_mailbox_each_server(Vec::new()).await;
    Mock::given(method("GET"))
        .and(path("/gmail/v1/users/alice@example.com/profile"))
        .respond_with(ResponseTemplate::new(400).set_body_json(google_error(
            400,
            "failedPrecondition",
            "FAILED_PRECONDITION",
            "Mail service not enabled",
        )))
        .with_priority(1)
        .mount(&server)
        .await;
    build(config(&server.uri(), service_account_key(), json!({})))
        .check()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_checkpoint_after_a_failed_mailbox_names_the_next_one() {
    // A run stopped right after alice's failure resumes at bob, not at alice again.
    use connector_core::CheckpointedConnector;
    let server = one_bad_mailbox_each_server(Vec::new()).await;
    let connector = connector_google::GmailConnector::new(
        connector_core::config::from_json::<connector_google::GmailConfig>(config(
            &server.uri(),
            service_account_key(),
            json!({}),
        ))
        .unwrap(),
    )
    .unwrap();
    let mut pages =
        connector.load_from_checkpoint(connector.initial_checkpoint(), None, SyncContext::new());
    let mut after_failure = None;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        if page
            .batch
            .failures
            .iter()
            .any(|f| f.id.as_deref() == Some("gmail:alice@example.com"))
        {
            after_failure = Some(page.checkpoint);
            break;
        }
    }
    let cp = after_failure.expect("alice's failure");
    assert_eq!(
        cp.users.get(cp.user).map(String::as_str),
        Some("bob@example.com"),
        "{cp:?}"
    );
    assert_eq!(cp.page_token, None, "{cp:?}");
}

/// Drafts (unsent, their author's alone) and chats are no mail to index: a draft reply is left
/// out of its thread's document, a thread of chats is no document. An inline image of the
/// body (a signature logo: `Content-ID`, shown by `cid:` in the HTML) is no attachment
/// document; a real attachment next to it is. Every document is readable by its mailbox's
/// owner.
#[tokio::test]
async fn drafts_chats_and_inline_images_are_left_out_and_access_is_the_mailbox() {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    mount_directory(&server, &["alice@example.com"], 10).await;
    let logo = json!({
        "partId": "0.1", "mimeType": "image/png", "filename": "image001.png",
        "headers": [{"name": "Content-Type", "value": "image/png; name=\"image001.png\""},
                    {"name": "Content-Disposition", "value": "inline; filename=\"image001.png\""},
                    {"name": "Content-ID", "value": "<ii_logo1>"}],
        "body": {"size": 9, "attachmentId": "ANGjdJ_logo"}
    });
    // Outlook marks some inline images `attachment`; the HTML's `cid:` shows them inline.
    let logo2 = json!({
        "partId": "0.2", "mimeType": "image/png", "filename": "image002.png",
        "headers": [{"name": "Content-Disposition", "value": "attachment; filename=\"image002.png\""},
                    {"name": "Content-ID", "value": "<image002.png@01DA>"}],
        "body": {"size": 9, "attachmentId": "ANGjdJ_logo2"}
    });
    let pdf = json!({
        "partId": "1", "mimeType": "application/pdf", "filename": "minutes.pdf",
        "headers": [{"name": "Content-Disposition", "value": "attachment; filename=\"minutes.pdf\""}],
        "body": {"size": 9, "attachmentId": "ANGjdJ_att-1"}
    });
    let related = json!({
        "partId": "0", "mimeType": "multipart/related", "filename": "", "headers": [],
        "body": {"size": 0},
        "parts": [
            leaf("0.0", "text/html", "UTF-8", b"<p>See the minutes.</p><img src=\"cid:ii_logo1\"><img src=\"cid:image002.png@01DA\">"),
            logo, logo2,
        ]
    });
    let payload = json!({
        "partId": "", "mimeType": "multipart/mixed", "filename": "",
        "headers": headers("Alice <alice@example.com>", "Bob <bob@example.com>", "Minutes", "multipart/mixed"),
        "body": {"size": 0}, "parts": [related, pdf]
    });
    let mut draft = plain_message(
        "m2",
        "t-d",
        2,
        "alice@example.com",
        "Re: Minutes",
        "UNSENT DRAFT TEXT",
    );
    draft["labelIds"] = json!(["DRAFT"]);
    let mut chat = plain_message("c1", "t-chat", 3, "bob@example.com", "", "a chat line");
    chat["labelIds"] = json!(["CHAT"]);
    mount_gmail(
        &server,
        vec![(
            "alice@example.com",
            vec![
                thread("t-d", vec![message("m1", "t-d", 1, payload), draft]),
                thread("t-chat", vec![chat]),
            ],
        )],
        vec![
            ("ANGjdJ_att-1", b"%PDF-1.7\n".to_vec()),
            ("ANGjdJ_logo", b"\x89PNG....".to_vec()),
            ("ANGjdJ_logo2", b"\x89PNG....".to_vec()),
        ],
        10,
    )
    .await;
    let c = build(config(
        &server.uri(),
        service_account_key(),
        json!({"include_attachments": true}),
    ));
    let (docs, failures) = collect_load(c.as_ref()).await;
    assert!(failures.is_empty(), "{failures:?}");
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "gmail:alice@example.com:t-d",
            "gmail:alice@example.com:t-d:m1:1"
        ]
    );
    let text = docs[0].content.as_text().unwrap();
    assert!(!text.contains("UNSENT DRAFT TEXT"), "{text}");
    assert_eq!(docs[0].metadata["message_count"], 1);
    assert_eq!(docs[0].updated_at, Some(time(1)));
    for d in &docs {
        let access = d.access.as_ref().unwrap();
        assert_eq!(
            (access.emails.as_slice(), access.public),
            (&["alice@example.com".to_owned()][..], false)
        );
    }
}
