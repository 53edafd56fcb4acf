//! The management API served on a loopback port by a real server over a fresh database,
//! with in-process workers and scheduler, and a reqwest client holding a valid key.

use std::sync::Arc;
use std::time::Duration;

use connector_core::http::NetworkPolicy;
use connector_core::{Cancellation, Registry};
use connector_sync::api::{Api, ApiKeys, ApiMetrics, ApiOptions};
use connector_sync::oauth::{OAuthClient, OAuthFlows, OAuthProvider};
use connector_sync::{ConnectorStore, SchedulerOptions, Sealer, SyncDb, SyncService};

use super::engine::{Backend, Recorder, fast_worker, fresh_url, ok};

/// A running API server.
pub(crate) struct Server {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) client: reqwest::Client,
    pub(crate) service: SyncService,
    pub(crate) keys: ApiKeys,
    pub(crate) sink: Recorder,
    stop: Cancellation,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub(crate) fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    connector_example_notes::register(&mut registry);
    Arc::new(registry)
}

impl Server {
    /// A server with workers (`workers: true`) or without (jobs stay queued).
    pub(crate) async fn start(backend: Backend, workers: bool, options: ApiOptions) -> Self {
        let dir = ok(
            "a temporary folder",
            tempfile::tempdir().map_err(|e| connector_core::Error::internal(e.to_string())),
        );
        let url = fresh_url(backend, dir.path()).await;
        let db = ok("connect", SyncDb::connect(&url).await);
        let sealer = ok(
            "a key",
            Sealer::from_base64(&Sealer::generate_key(), "the test key"),
        );
        let store = ConnectorStore::new(db.clone(), registry()).with_sealer(sealer);
        let sink = Recorder::default();
        let metrics = Arc::new(ApiMetrics::new());
        let service = SyncService::new(store, sink.factory())
            .worker_ttl(Duration::from_secs(5))
            .observe(metrics.clone());
        let keys = ApiKeys::new(db).cache_ttl(Duration::ZERO);
        let token = ok("a key", keys.create("tests").await).token;
        let stop = Cancellation::new();
        let listener = ok(
            "bind",
            tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| connector_core::Error::internal(e.to_string())),
        );
        let base = format!(
            "http://{}",
            ok(
                "address",
                listener
                    .local_addr()
                    .map_err(|e| connector_core::Error::internal(e.to_string()))
            )
        );
        // The OAuth web flows of Google Drive and Gmail (Google's endpoints, never reached:
        // no test here completes a flow; tests/oauth.rs does, against a loopback provider).
        let providers = vec![
            ok("drive", OAuthProvider::google_drive())
                .with_client(OAuthClient::new("client-id", "client-secret")),
            ok("gmail", OAuthProvider::gmail()),
        ];
        let public_url = ok(
            "public url",
            base.parse()
                .map_err(|_| connector_core::Error::internal("public url")),
        );
        let oauth = ok(
            "oauth",
            OAuthFlows::new(
                service.store().clone(),
                providers,
                Some(public_url),
                &NetworkPolicy::public_only(),
            ),
        );
        let api = oauth.install(
            Api::new(service.clone())
                .keys(keys.clone())
                .metrics(metrics)
                .options(options),
        );
        let mut tasks = Vec::new();
        let token_stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            ok("serve", api.serve(listener, token_stop).await);
        }));
        if workers {
            let s = service.clone();
            let t = stop.clone();
            tasks.push(tokio::spawn(async move {
                ok("workers", s.run_workers(fast_worker("api-test"), t).await);
            }));
            let s = service.clone();
            let t = stop.clone();
            let mut scheduling = SchedulerOptions::default();
            scheduling.tick = Duration::from_millis(100);
            tasks.push(tokio::spawn(async move {
                ok("scheduler", s.run_scheduler(scheduling, t).await);
            }));
        }
        let client = ok(
            "a client",
            reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(|e| connector_core::Error::internal(e.to_string())),
        );
        Self {
            dir,
            base,
            token,
            client,
            service,
            keys,
            sink,
            stop,
            tasks,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the key.
    pub(crate) fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    /// Sends `req`; the status and the JSON body.
    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let response = match req.send().await {
            Ok(r) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {text}"));
        (status, body)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(self.req(reqwest::Method::GET, path)).await
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.send(self.req(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Asserts `body` is the API's error shape with `status` and `code`.
pub(crate) fn assert_error(status: u16, body: &serde_json::Value, want: u16, code: &str) {
    assert_eq!(status, want, "status of {body}");
    let error = &body["error"];
    assert_eq!(error["status"], want, "{body}");
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error["problems"].is_array(), "{body}");
}
