//! Job event webhooks over real HTTP: a wiremock receiver gets `started` and `finished` for a
//! local-folder job and `failed` for a failing one, each signed so that the connector's secret
//! verifies it and another secret does not; a receiver that is down fails nothing; the routes
//! that set, show and remove a webhook (feature `api`).

#[macro_use]
mod support;

use std::time::Duration;

use connector_core::Secret;
use connector_sync::events::{
    EVENT_HEADER, EventPayload, SIGNATURE_HEADER, SignatureError, verify_signature,
};
use connector_sync::{
    ConnectorStore, JobStatus, Sealer, SyncDb, SyncService, Trigger, TriggerMode, WorkerOptions,
};
use support::engine::{
    Backend, Env, Recorder, fast_worker, fresh_url, local, ok, registry, write_files,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "whsec_test-secret-for-the-receiver";

/// An engine whose store seals secrets (a webhook's secret is stored sealed).
async fn sealed_env(backend: Backend) -> Env {
    let dir = ok(
        "tempdir",
        tempfile::tempdir().map_err(|e| connector_core::Error::internal("tempdir").with_cause(e)),
    );
    let url = fresh_url(backend, dir.path()).await;
    let db = ok("connect", SyncDb::connect(&url).await);
    let sealer = ok(
        "sealer",
        Sealer::from_base64(&Sealer::generate_key(), "a test key"),
    );
    let sink = Recorder::default();
    let store = ConnectorStore::new(db, registry()).with_sealer(sealer);
    let service = SyncService::new(store, sink.factory()).worker_ttl(Duration::from_secs(5));
    Env {
        dir,
        url,
        service,
        sink,
    }
}

/// Waits (up to 10 s) until `server` has received `n` requests, and returns them.
async fn received(server: &MockServer, n: usize) -> Vec<Request> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = server.received_requests().await.unwrap_or_default();
        if got.len() >= n {
            return got;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("the receiver got {} requests, not {n}: {got:#?}", got.len());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn header<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header in {r:?}"))
}

/// Checks the signature of `r` with the right and a wrong secret, and returns its payload.
fn checked(r: &Request) -> EventPayload {
    let signature = header(r, SIGNATURE_HEADER);
    assert_eq!(
        verify_signature(&Secret::new(SECRET), signature, &r.body),
        Ok(()),
        "{signature}"
    );
    assert_eq!(
        verify_signature(&Secret::new("whsec_another"), signature, &r.body),
        Err(SignatureError::Mismatch)
    );
    let mut altered = r.body.clone();
    altered.push(b' ');
    assert_eq!(
        verify_signature(&Secret::new(SECRET), signature, &altered),
        Err(SignatureError::Mismatch)
    );
    let payload: EventPayload = ok(
        "payload",
        serde_json::from_slice(&r.body)
            .map_err(|e| connector_core::Error::internal("payload").with_cause(e)),
    );
    assert_eq!(header(r, EVENT_HEADER), payload.event_type);
    assert_eq!(header(r, "idempotency-key"), payload.id);
    assert_eq!(header(r, "content-type"), "application/json");
    assert!(
        !String::from_utf8_lossy(&r.body).contains(SECRET),
        "the secret is in the body"
    );
    payload
}

async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/jobs"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

on_both!(
    a_receiver_gets_started_and_finished_for_a_local_folder_job,
    a_failing_job_sends_failed_with_its_error,
    a_rotated_credential_is_written_back_sealed,
);

async fn a_receiver_gets_started_and_finished_for_a_local_folder_job(backend: Backend) {
    let env = sealed_env(backend).await;
    let server = receiver().await;
    write_files(&env.path("docs"), 3);
    let c = ok(
        "create",
        env.service
            .create(local("docs", &env.path("docs"), 10))
            .await,
    );
    let hook_url = ok(
        "url",
        format!("{}/hooks/jobs", server.uri())
            .parse()
            .map_err(|e| connector_core::Error::internal("url").with_cause(e)),
    );
    let hook = ok(
        "set webhook",
        env.service
            .store()
            .set_event_webhook(&c.id, hook_url, Some(Secret::new(SECRET)))
            .await,
    );
    assert!(!format!("{hook:?}").contains(SECRET));
    let triggered = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    );
    let worker = env.worker(fast_worker("w-events"));
    let job = env
        .wait_job(triggered[0].job_id, 20, "done", |j| j.status.is_finished())
        .await;
    assert_eq!(job.status, JobStatus::Done);
    let requests = received(&server, 2).await;
    worker.stop().await;

    let events: Vec<EventPayload> = requests.iter().map(checked).collect();
    assert_eq!(
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["job.started", "job.finished"]
    );
    for e in &events {
        assert_eq!(e.data.job_id, job.id);
        assert_eq!(e.data.connector_id, c.id);
        assert_eq!(e.data.source, "local");
        assert_eq!(e.data.attempt, 1);
    }
    let finished = &events[1];
    assert_eq!(finished.data.counters.new, 3);
    assert_eq!(finished.data.counters.failed, 0);
    assert!(finished.data.duration_ms.is_some());
    assert_eq!(finished.data.stats.map(|s| s.delivered), Some(3));
    assert_eq!(events[0].data.counters.new, 0);
    assert_eq!(events[0].id, format!("job-{}-1-started", job.id));
}

async fn a_failing_job_sends_failed_with_its_error(backend: Backend) {
    let env = sealed_env(backend).await;
    let server = receiver().await;
    write_files(&env.path("docs"), 2);
    let c = ok(
        "create",
        env.service
            .create(local("docs", &env.path("docs"), 10))
            .await,
    );
    let hook_url = ok(
        "url",
        format!("{}/hooks/jobs", server.uri())
            .parse()
            .map_err(|e| connector_core::Error::internal("url").with_cause(e)),
    );
    ok(
        "set webhook",
        env.service
            .store()
            .set_event_webhook(&c.id, hook_url, Some(Secret::new(SECRET)))
            .await,
    );
    env.sink.set_fail(Some("the index refused the batch"));
    let triggered = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    );
    let mut options = fast_worker("w-failing");
    options.max_attempts = 1;
    let worker = env.worker(options);
    let job = env
        .wait_job(triggered[0].job_id, 20, "failed", |j| {
            j.status.is_finished()
        })
        .await;
    assert_eq!(job.status, JobStatus::Failed);
    let requests = received(&server, 2).await;
    worker.stop().await;

    let events: Vec<EventPayload> = requests.iter().map(checked).collect();
    assert_eq!(
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["job.started", "job.failed"]
    );
    let failed = &events[1].data;
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("the index refused the batch")),
        "{failed:?}"
    );
    assert_eq!(failed.retry_at, None, "one attempt only: failed for good");
}

/// The credential store the workers give each job (a rotated OAuth token): the new value is
/// in the config the next run reads, shown as `***`, the rest of the config kept; concurrent
/// rotations of two connectors each leave a whole config with one of its own values.
async fn a_rotated_credential_is_written_back_sealed(backend: Backend) {
    let env = sealed_env(backend).await;
    let mut registry = connector_core::Registry::new();
    connector_example_notes::register(&mut registry);
    let db = ok("connect", SyncDb::connect(&env.url).await);
    let sealer = ok(
        "sealer",
        Sealer::from_base64(&Sealer::generate_key(), "a test key"),
    );
    let store = ConnectorStore::new(db, std::sync::Arc::new(registry)).with_sealer(sealer);
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let config = serde_json::json!({
            "base_url": "https://notes.example.com/api/",
            "credentials": { "token": format!("old-token-{name}") },
        });
        let c = ok(
            "create",
            store
                .create(connector_sync::NewConnector::new(name, "notes", config))
                .await,
        );
        ids.push(c.id);
    }
    // Both connectors rotate at once, several times.
    let mut tasks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for round in 0..5 {
            let credentials = connector_sync::SqlCredentialStore::new(store.clone(), id);
            tasks.push(tokio::spawn(async move {
                connector_core::CredentialStore::save(
                    &credentials,
                    "notes",
                    "credentials.token",
                    &Secret::new(format!("rotated-{n}-{round}")),
                )
                .await
            }));
        }
    }
    for t in tasks {
        ok("save", t.await.unwrap_or_else(|e| panic!("{e}")));
    }
    for (n, id) in ids.iter().enumerate() {
        let token = ok("config", store.config(id).await)["credentials"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(token.starts_with(&format!("rotated-{n}-")), "{token}");
        let shown = ok("get", store.get(id).await).unwrap_or_else(|| panic!("gone"));
        assert_eq!(shown.config["credentials"]["token"], "***");
        assert_eq!(shown.config["base_url"], "https://notes.example.com/api/");
    }
    let listed = format!("{:?}", ok("list", store.list().await));
    assert!(!listed.contains("rotated-"), "{listed}");
    // Another source's value is refused; an unknown connector is NotFound.
    let wrong = connector_sync::SqlCredentialStore::new(store.clone(), &ids[0]);
    let err = connector_core::CredentialStore::save(
        &wrong,
        "gmail",
        "credentials.token",
        &Secret::new("x"),
    )
    .await
    .err()
    .map(|e| e.kind());
    assert_eq!(err, Some(connector_core::ErrorKind::Internal));
    let gone = connector_sync::SqlCredentialStore::new(store.clone(), "no-such-connector");
    let err = connector_core::CredentialStore::save(
        &gone,
        "notes",
        "credentials.token",
        &Secret::new("x"),
    )
    .await
    .err()
    .map(|e| e.kind());
    assert_eq!(err, Some(connector_core::ErrorKind::NotFound));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_fails_nothing() {
    let env = sealed_env(Backend::Sqlite).await;
    // A port nothing listens on.
    let port = {
        let listener = ok(
            "bind",
            std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|e| connector_core::Error::internal("bind").with_cause(e)),
        );
        ok(
            "addr",
            listener
                .local_addr()
                .map_err(|e| connector_core::Error::internal("addr").with_cause(e)),
        )
        .port()
    };
    write_files(&env.path("docs"), 3);
    let c = ok(
        "create",
        env.service
            .create(local("docs", &env.path("docs"), 10))
            .await,
    );
    let hook_url = ok(
        "url",
        format!("http://127.0.0.1:{port}/hooks/jobs")
            .parse()
            .map_err(|e| connector_core::Error::internal("url").with_cause(e)),
    );
    ok(
        "set webhook",
        env.service
            .store()
            .set_event_webhook(&c.id, hook_url, None)
            .await,
    );
    let triggered = ok(
        "trigger",
        env.service
            .trigger(&c.id, Trigger::new(TriggerMode::Full))
            .await,
    );
    let worker = env.worker(fast_worker("w-down"));
    let job = env
        .wait_job(triggered[0].job_id, 20, "done", |j| j.status.is_finished())
        .await;
    worker.stop().await;
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    assert_eq!(job.error, None);
    assert_eq!(job.counters.new, 3);
    assert_eq!(env.sink.deliveries().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_webhook_nothing_is_sent_and_events_can_be_turned_off() {
    let env = sealed_env(Backend::Sqlite).await;
    let server = receiver().await;
    write_files(&env.path("docs"), 1);
    let with_none = ok(
        "create",
        env.service
            .create(local("none", &env.path("docs"), 10))
            .await,
    );
    let off = ok(
        "create",
        env.service
            .create(local("off", &env.path("docs"), 10))
            .await,
    );
    let hook_url: url::Url = ok(
        "url",
        format!("{}/hooks/jobs", server.uri())
            .parse()
            .map_err(|e| connector_core::Error::internal("url").with_cause(e)),
    );
    ok(
        "set webhook",
        env.service
            .store()
            .set_event_webhook(&off.id, hook_url, Some(Secret::new(SECRET)))
            .await,
    );
    let mut options: WorkerOptions = fast_worker("w-off");
    options.job_webhooks = false;
    let worker = env.worker(options);
    for c in [&with_none, &off] {
        let t = ok(
            "trigger",
            env.service
                .trigger(&c.id, Trigger::new(TriggerMode::Full))
                .await,
        );
        let job = env
            .wait_job(t[0].job_id, 20, "done", |j| j.status.is_finished())
            .await;
        assert_eq!(job.status, JobStatus::Done);
    }
    worker.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[cfg(feature = "api")]
mod routes {
    use connector_sync::api::ApiOptions;
    use reqwest::Method;
    use serde_json::json;

    use super::*;
    use crate::support::api::{Server, assert_error};

    /// The webhook routes of the management API on both backends, behind its API key, in its
    /// error shape, and in its OpenAPI document.
    async fn the_webhook_routes_set_show_and_remove_it_without_showing_a_given_secret(
        backend: Backend,
    ) {
        let server = Server::start(backend, false, ApiOptions::default()).await;
        let docs = server.dir.path().join("docs");
        write_files(&docs, 1);
        let (status, created) = server
            .post(
                "/api/v1/connectors",
                json!({"name": "docs", "source": "local", "config": {"path": docs}}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let at = format!("/api/v1/connectors/{id}/webhook");

        // In the OpenAPI document, behind the key.
        let (_, doc) = server.get("/openapi.json").await;
        for method in ["get", "put", "delete"] {
            assert!(
                doc["paths"]["/api/v1/connectors/{id}/webhook"][method].is_object(),
                "{method} not documented"
            );
        }
        assert_eq!(
            doc["components"]["schemas"]["SetWebhook"]["additionalProperties"],
            false
        );
        let anonymous = server
            .client
            .get(server.url(&at))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(anonymous.status().as_u16(), 401);

        // Nothing yet.
        let (status, body) = server.get(&at).await;
        assert_error(status, &body, 404, "not_found");

        // A generated secret is shown once, and is the one stored.
        let (status, body) = server
            .send(
                server
                    .req(Method::PUT, &at)
                    .json(&json!({ "url": "https://hooks.example.com/jobs?k=1" })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let generated = body["data"]["secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            generated.starts_with("whsec_") && generated.len() == 70,
            "{generated}"
        );
        let stored = ok("stored", server.service.store().event_webhook(&id).await)
            .unwrap_or_else(|| panic!("not stored"));
        assert_eq!(stored.secret.expose(), generated);

        // A given secret is never shown; GET shows `***`.
        let (status, body) = server
            .send(
                server
                    .req(Method::PUT, &at)
                    .json(&json!({ "url": "https://hooks.example.com/v2", "secret": SECRET })),
            )
            .await;
        assert_eq!(
            (status, body["data"]["secret"].as_str()),
            (200, Some("***"))
        );
        let (status, body) = server.get(&at).await;
        assert_eq!(status, 200);
        assert!(!body.to_string().contains(SECRET), "{body}");
        assert_eq!(body["data"]["url"], "https://hooks.example.com/v2");
        assert_eq!(body["data"]["secret"], "***");

        // Bad requests, in the error shape, by field.
        for (request, code, field) in [
            (
                json!({ "url": "ftp://x.example.com/" }),
                "invalid_request",
                "url",
            ),
            (
                json!({ "url": "https://x.example.com/", "secret": "" }),
                "invalid_request",
                "secret",
            ),
            (
                json!({ "url": "https://x.example.com/", "extra": 1 }),
                "invalid_request",
                "",
            ),
            (json!({ "url": 7 }), "invalid_request", "url"),
        ] {
            let (s, body) = server
                .send(server.req(Method::PUT, &at).json(&request))
                .await;
            assert_error(s, &body, 400, code);
            if !field.is_empty() {
                assert_eq!(
                    body["error"]["problems"][0]["field"], field,
                    "{request}: {body}"
                );
            }
        }
        let (s, body) = server
            .send(
                server
                    .req(Method::PUT, "/api/v1/connectors/nope/webhook")
                    .json(&json!({ "url": "https://x.example.com/" })),
            )
            .await;
        assert_error(s, &body, 404, "not_found");

        // Removed.
        let response = server
            .req(Method::DELETE, &at)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), 204);
        let (s, body) = server.send(server.req(Method::DELETE, &at)).await;
        assert_error(s, &body, 404, "not_found");
        assert!(ok("gone", server.service.store().event_webhook(&id).await).is_none());
        server.stop().await;
    }

    on_both!(the_webhook_routes_set_show_and_remove_it_without_showing_a_given_secret);
}
