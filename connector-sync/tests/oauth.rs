//! The OAuth web flows end to end over real HTTP: the management API with the flows installed
//! served on loopback (init and result behind its API key, the callbacks public), a wiremock
//! provider (authorisation and token endpoints, and Drive's API for the rotation), the
//! browser's redirect played by a real client. Happy path (PKCE checked at the token
//! endpoint, tokens sealed in the config), wrong / missing / expired state refused, a replayed
//! code refused without a second exchange, the provider's `access_denied` and a refused code
//! reported, RAGFlow's Google routes, a rotated refresh token written back through
//! `SqlCredentialStore` and used by the next run (SQLite and PostgreSQL), and no token in any
//! answer, log line, error or `Debug`.

#[macro_use]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use connector_core::Registry;
use connector_core::http::NetworkPolicy;
use connector_sync::api::{Api, ApiKeys};
use connector_sync::oauth::{OAuthClient, OAuthFlows, OAuthProvider};
use connector_sync::{ConnectorStore, NewConnector, Sealer, SqlCredentialStore, SyncDb};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::engine::{Backend, fresh_url};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "client-123.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-server-client-secret";

/// Every line the tests' code logs, to look for tokens in.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        buffer
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

fn must<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The server under test and its provider.
struct Fixture {
    provider: MockServer,
    base: String,
    store: ConnectorStore,
    flows: OAuthFlows,
    http: reqwest::Client,
    /// The API key of the requests to the routes behind it.
    token: String,
    /// Every answer body the client got.
    answers: Mutex<Vec<String>>,
    db_url: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(ttl: Duration) -> Self {
        Self::on(Backend::Sqlite, ttl).await
    }

    async fn on(backend: Backend, ttl: Duration) -> Self {
        logs();
        let provider = MockServer::start().await;
        let mut registry = Registry::new();
        connector_google::register(&mut registry);
        let dir = must("tempdir", tempfile::tempdir());
        let db_url = fresh_url(backend, dir.path()).await;
        let db = must("db", SyncDb::connect(&db_url).await);
        let keys = ApiKeys::new(db.clone()).cache_ttl(Duration::ZERO);
        let api_key = must("a key", keys.create("oauth tests").await).token;
        let sealer = must(
            "sealer",
            Sealer::from_base64(&Sealer::generate_key(), "a test key"),
        );
        let store = ConnectorStore::new(db, Arc::new(registry)).with_sealer(sealer);
        let listener = must("bind", tokio::net::TcpListener::bind("127.0.0.1:0").await);
        let base = format!("http://{}", must("addr", listener.local_addr()));
        let auth = must(
            "url",
            format!("{}/o/oauth2/v2/auth", provider.uri()).parse(),
        );
        let token: url::Url = must("url", format!("{}/token", provider.uri()).parse());
        let drive = must("drive", OAuthProvider::google_drive())
            .with_endpoints(auth, token.clone())
            .with_client(OAuthClient::new(CLIENT_ID, CLIENT_SECRET));
        // Gmail without a server client (each init brings RAGFlow's upload), redirected to
        // RAGFlow's callback path.
        let gmail_auth = must(
            "url",
            format!("{}/o/oauth2/v2/auth", provider.uri()).parse(),
        );
        let gmail = must("gmail", OAuthProvider::gmail())
            .with_endpoints(gmail_auth, token)
            .with_redirect_uri(must(
                "url",
                format!("{base}/api/v1/connectors/gmail/oauth/web/callback").parse(),
            ));
        let flows = must(
            "flows",
            OAuthFlows::new(
                store.clone(),
                vec![drive, gmail],
                Some(must("url", base.parse())),
                &NetworkPolicy::public_only(),
            ),
        )
        .ttl(ttl);
        let sink = Arc::new(connector_core::sink::MemorySink::new());
        let service = connector_sync::SyncService::new(
            store.clone(),
            Arc::new(connector_sync::SharedSink(sink)),
        );
        let api = flows.install(Api::new(service).keys(keys));
        tokio::spawn(async move {
            let _ = api
                .serve(listener, connector_core::Cancellation::new())
                .await;
        });
        Self {
            provider,
            base,
            store,
            flows,
            http: must(
                "client",
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build(),
            ),
            token: api_key,
            answers: Mutex::new(Vec::new()),
            db_url,
            _dir: dir,
        }
    }

    async fn keep(&self, response: reqwest::Response) -> (u16, String) {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text.clone());
        (status, text)
    }

    async fn post(&self, route: &str, body: &Value) -> (u16, Value) {
        let response = must(
            "post",
            self.http
                .post(format!("{}{route}", self.base))
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await,
        );
        let (status, text) = self.keep(response).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
        )
    }

    /// A GET asking for JSON; with the API key unless it is a provider's redirect to a
    /// callback, which the browser makes without one.
    async fn get_json(&self, url: &str) -> (u16, Value) {
        let mut request = self.http.get(url).header("accept", "application/json");
        if !url.contains("callback") {
            request = request.bearer_auth(&self.token);
        }
        let response = must("get", request.send().await);
        let (status, text) = self.keep(response).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
        )
    }

    async fn get_page(&self, url: &str) -> (u16, String) {
        let response = must("get", self.http.get(url).send().await);
        self.keep(response).await
    }

    /// `init` for a pending Drive connector; the authorisation URL's query.
    async fn init_drive(&self, name: &str) -> (String, Vec<(String, String)>) {
        let (status, body) = self
            .post(
                "/api/v1/oauth/init",
                &json!({
                    "provider": "google-drive",
                    "connector": {
                        "name": name,
                        "source": "google_drive",
                        "config": self.drive_config(),
                    },
                }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let url: url::Url = must(
            "authorization_url",
            body["data"]["authorization_url"]
                .as_str()
                .unwrap_or_default()
                .parse(),
        );
        assert!(url.as_str().starts_with(&self.provider.uri()), "{url}");
        assert!(body["data"]["expires_in"].as_u64().is_some(), "{body}");
        let flow = body["data"]["flow_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (flow, url.query_pairs().into_owned().collect())
    }

    fn drive_config(&self) -> Value {
        json!({
            "include_my_drives": true,
            "credentials": {},
            "drive_base_url": self.provider.uri(),
            "allowed_hosts": ["127.0.0.1"],
        })
    }

    async fn token_requests(&self) -> Vec<Request> {
        self.provider
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == "/token")
            .collect()
    }

    async fn result(&self, flow: &str) -> Value {
        let (status, body) = self
            .get_json(&format!("{}/api/v1/oauth/result/{flow}", self.base))
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }

    /// Asserts that no answer, log line or stored row so far holds any of `secrets`.
    async fn assert_nowhere(&self, secrets: &[&str]) {
        let answers = self
            .answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n");
        let logs = logged();
        let flows: Vec<(String,)> = self
            .raw("SELECT secrets || ' ' || COALESCE(message, '') FROM oauth_flow")
            .await;
        // `config` is TEXT on SQLite and JSONB on PostgreSQL: read as text on both.
        let configs: Vec<(String,)> = self.raw("SELECT CAST(config AS TEXT) FROM connector").await;
        for secret in secrets {
            assert!(
                !answers.contains(secret),
                "`{secret}` in an answer: {answers}"
            );
            assert!(!logs.contains(secret), "`{secret}` in the log: {logs}");
            for (row,) in flows.iter().chain(&configs) {
                assert!(!row.contains(secret), "`{secret}` in the database: {row}");
            }
        }
        let debug = format!("{:?}", self.flows);
        for secret in secrets.iter().chain(&[CLIENT_SECRET]) {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    /// Rows as stored, read past the store.
    async fn raw(&self, sql: &'static str) -> Vec<(String,)> {
        if self.db_url.starts_with("sqlite:") {
            let mut conn = must(
                "raw connection",
                <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.db_url).await,
            );
            must("raw query", sqlx::query_as(sql).fetch_all(&mut conn).await)
        } else {
            let mut conn = must(
                "raw connection",
                <sqlx::PgConnection as sqlx::Connection>::connect(&self.db_url).await,
            );
            must("raw query", sqlx::query_as(sql).fetch_all(&mut conn).await)
        }
    }
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> &'a str {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map_or_else(|| panic!("no `{name}` in {query:?}"), |(_, v)| v.as_str())
}

fn form_param(r: &Request, name: &str) -> String {
    url::form_urlencoded::parse(&r.body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no `{name}` in the token request"))
}

async fn mount_tokens(server: &MockServer, code: &str, access: &str, refresh: &str) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains(format!("code={code}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access,
            "expires_in": 3599,
            "refresh_token": refresh,
            "scope": "https://www.googleapis.com/auth/drive.readonly https://www.googleapis.com/auth/drive.metadata.readonly",
            "token_type": "Bearer",
        })))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_happy_path_stores_sealed_tokens_and_a_rotation_is_written_back() {
    let f = Fixture::new(Duration::from_secs(900)).await;
    let (access, refresh) = ("ya29.ACCESS-happy-1", "1//REFRESH-happy-1");
    mount_tokens(&f.provider, "CODE-happy", access, refresh).await;
    let (flow, query) = f.init_drive("my drive").await;

    // The authorisation URL.
    assert_eq!(param(&query, "response_type"), "code");
    assert_eq!(param(&query, "client_id"), CLIENT_ID);
    let redirect = param(&query, "redirect_uri").to_owned();
    assert_eq!(
        redirect,
        format!("{}/api/v1/oauth/callback/google-drive", f.base)
    );
    assert!(param(&query, "scope").contains("https://www.googleapis.com/auth/drive.readonly"));
    assert_eq!(param(&query, "access_type"), "offline");
    assert_eq!(param(&query, "prompt"), "consent");
    assert_eq!(param(&query, "code_challenge_method"), "S256");
    let state = param(&query, "state").to_owned();
    let challenge = param(&query, "code_challenge").to_owned();
    assert_eq!(state.len(), 43);
    assert_eq!(f.result(&flow).await["status"], "pending");

    // The provider sends the browser back.
    let callback = format!("{redirect}?state={state}&code=CODE-happy&scope=drive");
    let (status, body) = f.get_json(&callback).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "succeeded");
    let id = body["data"]["connector_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty());

    // One exchange, with the verifier of the challenge.
    let exchanges = f.token_requests().await;
    assert_eq!(exchanges.len(), 1);
    let verifier = form_param(&exchanges[0], "code_verifier");
    assert_eq!(
        B64URL.encode(Sha256::digest(verifier.as_bytes())),
        challenge
    );
    assert_eq!(form_param(&exchanges[0], "redirect_uri"), redirect);
    assert_eq!(form_param(&exchanges[0], "client_id"), CLIENT_ID);
    assert_eq!(form_param(&exchanges[0], "client_secret"), CLIENT_SECRET);

    // The connector exists with the tokens, sealed; shown as `***`.
    let config = must("config", f.store.config(&id).await);
    let tokens: Value = must(
        "tokens",
        serde_json::from_str(
            config["credentials"]["google_tokens"]
                .as_str()
                .unwrap_or_default(),
        ),
    );
    assert_eq!(tokens["refresh_token"], refresh);
    assert_eq!(tokens["token"], access);
    assert_eq!(tokens["client_id"], CLIENT_ID);
    assert_eq!(tokens["token_uri"], format!("{}/token", f.provider.uri()));
    let record = must("get", f.store.get(&id).await).unwrap_or_else(|| panic!("no connector"));
    assert_eq!(record.config["credentials"]["google_tokens"], "***");
    assert_eq!(record.name, "my drive");
    let result = f.result(&flow).await;
    assert_eq!(
        (result["status"].as_str(), result["connector_id"].as_str()),
        (Some("succeeded"), Some(id.as_str()))
    );

    // The same redirect again (a replayed code): refused, and never sent to the provider.
    let (status, body) = f.get_json(&callback).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("used_state")),
        "{body}"
    );
    let (status, page) = f.get_page(&callback).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("ragflow-google-drive-oauth") && page.contains("\"status\":\"error\""),
        "{page}"
    );
    assert_eq!(f.token_requests().await.len(), 1);

    // A run refreshes the token; Google rotates the refresh token; it is written back sealed.
    let rotated = "1//ROTATED-happy-2";
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("REFRESH-happy-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.ACCESS-happy-2", "expires_in": 3599,
            "refresh_token": rotated, "token_type": "Bearer",
        })))
        .mount(&f.provider)
        .await;
    Mock::given(method("GET"))
        .and(path("/drive/v3/about"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"user": {"emailAddress": "me@example.com"}})),
        )
        .mount(&f.provider)
        .await;
    let connector = must("build", f.store.registry().build("google_drive", config));
    assert!(
        connector.set_credential_store(Arc::new(SqlCredentialStore::new(f.store.clone(), &id)))
    );
    must("check", connector.check().await);
    let config = must("config", f.store.config(&id).await);
    let tokens: Value = must(
        "tokens",
        serde_json::from_str(
            config["credentials"]["google_tokens"]
                .as_str()
                .unwrap_or_default(),
        ),
    );
    assert_eq!(tokens["refresh_token"], rotated);
    assert_eq!(tokens["client_secret"], CLIENT_SECRET);

    assert!(
        logged().contains("OAuth flow succeeded"),
        "the log is captured"
    );
    // (The state is in the authorisation URL by design; only its hash is stored.)
    f.assert_nowhere(&[
        access,
        refresh,
        rotated,
        "ya29.ACCESS-happy-2",
        &verifier,
        CLIENT_SECRET,
    ])
    .await;
    let stored: Vec<(String,)> = f.raw("SELECT state_hash FROM oauth_flow").await;
    assert!(
        stored
            .iter()
            .all(|(h,)| h.len() == 64 && !h.contains(&state))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_state_is_refused() {
    let f = Fixture::new(Duration::from_secs(900)).await;
    mount_tokens(
        &f.provider,
        "CODE-wrong",
        "ya29.ACCESS-wrong",
        "1//REFRESH-wrong",
    )
    .await;
    let (flow, query) = f.init_drive("wrong state").await;
    let redirect = param(&query, "redirect_uri").to_owned();
    for (url, code) in [
        (
            format!("{redirect}?state=forged-state&code=CODE-wrong"),
            "unknown_state",
        ),
        (format!("{redirect}?code=CODE-wrong"), "missing_state"),
        // The right state at another provider's callback.
        (
            format!(
                "{}/api/v1/oauth/callback/gmail?state={}&code=CODE-wrong",
                f.base,
                param(&query, "state")
            ),
            "unknown_state",
        ),
        (
            format!(
                "{}/api/v1/oauth/callback/nope?state={}&code=CODE-wrong",
                f.base,
                param(&query, "state")
            ),
            "unknown_state",
        ),
    ] {
        let (status, body) = f.get_json(&url).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{url}: {body}"
        );
    }
    assert!(f.token_requests().await.is_empty());
    // The real flow is untouched and still completes.
    assert_eq!(f.result(&flow).await["status"], "pending");
    let (status, _) = f
        .get_json(&format!(
            "{redirect}?state={}&code=CODE-wrong",
            param(&query, "state")
        ))
        .await;
    assert_eq!(status, 200);
    f.assert_nowhere(&["ya29.ACCESS-wrong", "1//REFRESH-wrong"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_state_is_refused() {
    let f = Fixture::new(Duration::from_millis(200)).await;
    mount_tokens(
        &f.provider,
        "CODE-late",
        "ya29.ACCESS-late",
        "1//REFRESH-late",
    )
    .await;
    let (flow, query) = f.init_drive("late").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(f.result(&flow).await["status"], "expired");
    let url = format!(
        "{}?state={}&code=CODE-late",
        param(&query, "redirect_uri"),
        param(&query, "state")
    );
    let (status, body) = f.get_json(&url).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("expired_state")),
        "{body}"
    );
    let (status, body) = f.get_json(&url).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("expired_state")),
        "{body}"
    );
    assert!(f.token_requests().await.is_empty());
    let result = f.result(&flow).await;
    assert_eq!(result["status"], "expired");
    assert!(result["connector_id"].is_null());
    assert!(must("list", f.store.list().await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_error_and_a_refused_code_are_reported() {
    let f = Fixture::new(Duration::from_secs(900)).await;
    // The user clicks "Cancel" at Google.
    let (flow, query) = f.init_drive("denied").await;
    let redirect = param(&query, "redirect_uri").to_owned();
    let state = param(&query, "state").to_owned();
    let (status, page) = f
        .get_page(&format!("{redirect}?state={state}&error=access_denied"))
        .await;
    assert_eq!(status, 400);
    assert!(
        page.contains("Authorization failed") && page.contains("access_denied"),
        "{page}"
    );
    let result = f.result(&flow).await;
    assert_eq!(result["status"], "failed");
    assert!(
        result["message"]
            .as_str()
            .is_some_and(|m| m.contains("denied access")),
        "{result}"
    );
    // A code for that state afterwards is refused.
    let (status, body) = f
        .get_json(&format!("{redirect}?state={state}&code=CODE-after"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("used_state"))
    );

    // The token endpoint refuses the code.
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("code=CODE-bad-4567"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Bad Request",
        })))
        .mount(&f.provider)
        .await;
    let (flow, query) = f.init_drive("refused").await;
    let (status, body) = f
        .get_json(&format!(
            "{}?state={}&code=CODE-bad-4567",
            param(&query, "redirect_uri"),
            param(&query, "state")
        ))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("exchange_failed")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("invalid_grant"), "{message}");
    let result = f.result(&flow).await;
    assert_eq!(result["status"], "failed");
    assert!(must("list", f.store.list().await).is_empty());
    f.assert_nowhere(&["CODE-bad-4567", CLIENT_SECRET]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ragflows_google_routes_with_an_uploaded_client_and_a_bound_connector() {
    let f = Fixture::new(Duration::from_secs(900)).await;
    // A stored Gmail connector whose token is to be replaced.
    let old =
        json!({"refresh_token": "1//OLD-gmail", "client_id": "old", "client_secret": "old-secret"})
            .to_string();
    let created = must(
        "create",
        f.store
            .create(NewConnector::new(
                "mail",
                "gmail",
                json!({
                    "credentials": {"google_tokens": old},
                    "gmail_base_url": f.provider.uri(),
                    "allowed_hosts": ["127.0.0.1"],
                }),
            ))
            .await,
    );
    let upload = json!({"web": {
        "client_id": "uploaded-client", "client_secret": "uploaded-SECRET-9",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://attacker.example/token",
    }});
    let (status, body) = f
        .post(
            "/api/v1/connectors/google/oauth/web/start?type=gmail",
            &json!({"credentials": upload.to_string(), "connector_id": created.id}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let flow = body["data"]["flow_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let url: url::Url = must(
        "url",
        body["data"]["authorization_url"]
            .as_str()
            .unwrap_or_default()
            .parse(),
    );
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(param(&query, "client_id"), "uploaded-client");
    assert!(param(&query, "scope").contains("gmail.readonly"));
    let redirect = param(&query, "redirect_uri").to_owned();
    assert_eq!(
        redirect,
        format!("{}/api/v1/connectors/gmail/oauth/web/callback", f.base)
    );

    mount_tokens(
        &f.provider,
        "CODE-gmail",
        "ya29.ACCESS-gmail",
        "1//REFRESH-gmail",
    )
    .await;
    let (status, page) = f
        .get_page(&format!(
            "{redirect}?state={}&code=CODE-gmail",
            param(&query, "state")
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("ragflow-gmail-oauth")
            && page.contains("\"status\":\"success\"")
            && page.contains("window.close()"),
        "{page}"
    );
    // The uploaded client, at the provider's token URL (not the upload's).
    let exchanges = f.token_requests().await;
    assert_eq!(exchanges.len(), 1);
    assert_eq!(form_param(&exchanges[0], "client_id"), "uploaded-client");
    let config = must("config", f.store.config(&created.id).await);
    let tokens: Value = must(
        "tokens",
        serde_json::from_str(
            config["credentials"]["google_tokens"]
                .as_str()
                .unwrap_or_default(),
        ),
    );
    assert_eq!(tokens["refresh_token"], "1//REFRESH-gmail");
    assert_eq!(tokens["client_id"], "uploaded-client");
    assert_eq!(
        config["gmail_base_url"],
        f.provider.uri(),
        "the rest of the config is kept"
    );

    let (status, body) = f
        .post(
            "/api/v1/connectors/google/oauth/web/result?type=gmail",
            &json!({"flow_id": flow}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "succeeded");
    assert_eq!(body["data"]["connector_id"], created.id.as_str());
    let (status, _) = f
        .post(
            "/api/v1/connectors/google/oauth/web/result?type=google-drive",
            &json!({"flow_id": flow}),
        )
        .await;
    assert_eq!(status, 404);
    f.assert_nowhere(&[
        "ya29.ACCESS-gmail",
        "1//REFRESH-gmail",
        "uploaded-SECRET-9",
        "1//OLD-gmail",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_refuses_what_it_cannot_bind() {
    let f = Fixture::new(Duration::from_secs(900)).await;
    let cases = [
        (
            json!({"provider": "dropbox", "connector_id": "x"}),
            404,
            "not_found",
        ),
        (json!({"provider": "google-drive"}), 400, "invalid_config"),
        (
            json!({"provider": "google-drive", "connector_id": "nope"}),
            404,
            "not_found",
        ),
        (
            json!({"provider": "gmail", "connector": {"name": "m", "source": "gmail", "config": {"credentials": {}}}}),
            400,
            "invalid_config",
        ),
        (
            json!({"provider": "google-drive", "connector": {"name": "d", "source": "gmail", "config": {}}}),
            400,
            "invalid_config",
        ),
        (
            json!({"provider": "google-drive", "connector": {"name": "d", "source": "google_drive", "config": {"credentials": {}, "include_my_drives": true, "no_such_field": 1}}}),
            400,
            "invalid_config",
        ),
        (
            json!({"provider": "google-drive", "unknown": 1}),
            400,
            "invalid_request",
        ),
        (
            json!({"provider": "google-drive", "connector_id": "x", "credentials": {"refresh_token": "1//x", "client_id": "a", "client_secret": "b"}}),
            400,
            "invalid_config",
        ),
    ];
    // Behind the API key, and in the API's OpenAPI document (the callbacks public).
    let anonymous = must(
        "post",
        f.http
            .post(format!("{}/api/v1/oauth/init", f.base))
            .json(&json!({"provider": "google-drive"}))
            .send()
            .await,
    );
    assert_eq!(anonymous.status().as_u16(), 401);
    let (status, doc) = f.get_json(&format!("{}/openapi.json", f.base)).await;
    assert_eq!(status, 200);
    let init = &doc["paths"]["/api/v1/oauth/init"]["post"];
    assert!(init["responses"]["401"].is_object(), "{init}");
    assert_eq!(
        doc["components"]["schemas"]["InitRequest"]["additionalProperties"],
        false
    );
    let callback = &doc["paths"]["/api/v1/oauth/callback/{provider}"]["get"];
    assert_eq!(callback["security"], json!([{}]), "{callback}");
    assert!(callback["responses"]["200"]["content"]["text/html"].is_object());
    for route in [
        "/api/v1/oauth/result/{flow_id}",
        "/api/v1/connectors/google/oauth/web/start",
        "/api/v1/connectors/google/oauth/web/result",
        "/api/v1/connectors/google-drive/oauth/web/callback",
        "/api/v1/connectors/gmail/oauth/web/callback",
    ] {
        assert!(doc["paths"][route].is_object(), "{route} not documented");
    }
    for (request, status, code) in cases {
        let (s, body) = f.post("/api/v1/oauth/init", &request).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{request}: {body}"
        );
    }
    // An invalid pending config names the field under `connector.config`.
    let (_, body) = f
        .post(
            "/api/v1/oauth/init",
            &json!({"provider": "google-drive", "connector": {"name": "d", "source": "google_drive", "config": {"credentials": {}, "include_my_drives": true, "no_such_field": 1}}}),
        )
        .await;
    let paths: Vec<&str> = body["error"]["problems"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["path"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        paths.iter().all(|p| p.starts_with("connector.config")),
        "{body}"
    );
    let (status, _) = f
        .get_json(&format!("{}/api/v1/oauth/result/no-such-flow", f.base))
        .await;
    assert_eq!(status, 404);
}

on_both!(
    a_rotated_refresh_token_is_what_the_next_run_uses,
    a_huge_flow_ttl_is_cut_to_a_year
);

/// A flow `ttl` past a year is cut to a year: 3e11 s (about 9 500 years) wrote an
/// `expires_at` past 9999 that SQLite's text order put before every date, so every callback
/// said "expired"; 9e12 s panicked `init` on chrono's overflow (review61 L3). Three days (an
/// admin's consent) are kept, not cut to a day (review64 L5).
async fn a_huge_flow_ttl_is_cut_to_a_year(backend: Backend) {
    const YEAR: u64 = 365 * 86_400;
    for (n, (ttl, kept)) in [(3e11, YEAR), (9e12, YEAR), (3.0 * 86_400.0, 3 * 86_400)]
        .into_iter()
        .enumerate()
    {
        let f = Fixture::on(backend, Duration::from_secs_f64(ttl)).await;
        let code = format!("CODE-long-{n}");
        mount_tokens(&f.provider, &code, "ya29.ACCESS-long", "1//REFRESH-long").await;
        let (status, body) = f
            .post(
                "/api/v1/oauth/init",
                &json!({
                    "provider": "google-drive",
                    "connector": {
                        "name": "long",
                        "source": "google_drive",
                        "config": f.drive_config(),
                    },
                }),
            )
            .await;
        assert_eq!(status, 200, "{ttl}: {body}");
        assert_eq!(body["data"]["expires_in"], kept, "{ttl}: {body}");
        let (flow, query) = f.init_drive("long").await;
        let url = format!(
            "{}?state={}&code={code}",
            param(&query, "redirect_uri"),
            param(&query, "state")
        );
        let (status, body) = f.get_json(&url).await;
        assert_eq!(status, 200, "{ttl}: {body}");
        assert_eq!(f.result(&flow).await["status"], "succeeded", "{ttl}");
    }
}

/// Runs one Drive sync of connector `id` on `service`'s workers to its end.
async fn run_once(service: &connector_sync::SyncService, id: &str) -> connector_sync::JobRecord {
    let triggered = must(
        "trigger",
        service
            .trigger(
                id,
                connector_sync::Trigger::new(connector_sync::TriggerMode::Full),
            )
            .await,
    );
    let stop = connector_core::Cancellation::new();
    let mut options = connector_sync::WorkerOptions::default();
    options.poll = Duration::from_millis(50);
    let workers = {
        let service = service.clone();
        let stop = stop.clone();
        tokio::spawn(async move { service.run_workers(options, stop).await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let job = loop {
        let job =
            must("job", service.job(triggered[0].job_id).await).unwrap_or_else(|| panic!("no job"));
        if job.status.is_finished() {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "{job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.cancel();
    must("workers", must("join", workers.await));
    job
}

/// A worker's job gets the database credential store: a Drive sync whose token refresh
/// rotates the refresh token leaves the new one in the connector's config, sealed, and the
/// next run refreshes with the rotated token (the old one is never sent again).
async fn a_rotated_refresh_token_is_what_the_next_run_uses(backend: Backend) {
    let f = Fixture::on(backend, Duration::from_secs(900)).await;
    let token = json!({
        "refresh_token": "1//REFRESH-worker-1", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "token_uri": format!("{}/token", f.provider.uri()),
    })
    .to_string();
    let mut config = f.drive_config();
    config["credentials"]["google_tokens"] = Value::String(token);
    let c = must(
        "create",
        f.store
            .create(NewConnector::new("drive", "google_drive", config))
            .await,
    );
    for (sent, access, rotated) in [
        (
            "REFRESH-worker-1",
            "ya29.ACCESS-worker-1",
            "1//ROTATED-worker-2",
        ),
        (
            "ROTATED-worker-2",
            "ya29.ACCESS-worker-2",
            "1//ROTATED-worker-3",
        ),
    ] {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains(sent))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": access, "expires_in": 3599,
                "refresh_token": rotated, "token_type": "Bearer",
            })))
            .mount(&f.provider)
            .await;
    }
    // An empty Drive: every listing Drive's API has answers nothing.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "files": [], "drives": [], "changes": [], "startPageToken": "1",
            "newStartPageToken": "1", "user": {"emailAddress": "me@example.com"},
        })))
        .mount(&f.provider)
        .await;
    let sink = Arc::new(connector_core::sink::MemorySink::new());
    let service = connector_sync::SyncService::new(
        f.store.clone(),
        Arc::new(connector_sync::SharedSink(sink)),
    );
    let stored_refresh = || async {
        let config = must("config", f.store.config(&c.id).await);
        let tokens: Value = must(
            "tokens",
            serde_json::from_str(
                config["credentials"]["google_tokens"]
                    .as_str()
                    .unwrap_or_default(),
            ),
        );
        tokens["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let first = run_once(&service, &c.id).await;
    assert_eq!(first.status, connector_sync::JobStatus::Done, "{first:?}");
    assert_eq!(stored_refresh().await, "1//ROTATED-worker-2");

    let second = run_once(&service, &c.id).await;
    assert_eq!(second.status, connector_sync::JobStatus::Done, "{second:?}");
    assert_eq!(stored_refresh().await, "1//ROTATED-worker-3");

    // The token endpoint saw the first refresh token once, then only the rotated one.
    let bodies: Vec<String> = f
        .token_requests()
        .await
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    let with = |t: &str| bodies.iter().filter(|b| b.contains(t)).count();
    assert_eq!(with("REFRESH-worker-1"), 1, "{bodies:?}");
    assert!(with("ROTATED-worker-2") >= 1, "{bodies:?}");
    let first_rotated = bodies
        .iter()
        .position(|b| b.contains("ROTATED-worker-2"))
        .unwrap_or(usize::MAX);
    assert!(
        bodies
            .iter()
            .skip(first_rotated)
            .all(|b| !b.contains("REFRESH-worker-1")),
        "the old refresh token was sent after the rotation: {bodies:?}"
    );
    f.assert_nowhere(&[
        "1//ROTATED-worker-2",
        "1//ROTATED-worker-3",
        "ya29.ACCESS-worker-1",
        "ya29.ACCESS-worker-2",
    ])
    .await;
}
