//! Google authentication shared by both sources: a service-account key signing RS256 JWT
//! assertions (with `sub` for domain-wide delegation, one token per impersonated user and
//! scope set), or an OAuth user token refreshed with its refresh token. Access tokens are cached
//! until a minute before they expire. A refresh token that the token endpoint rotates is handed
//! to the [`CredentialStore`] before the new access token is used.
//!
//! Also here, because both sources need them: `GoogleApi` (authorized requests), the Admin
//! SDK user directory and the reading of Google's JSON error bodies.

mod api;
mod api_error;
pub mod config;
pub mod directory;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use connector_core::http::{Auth, HttpClient, token_expiry};
use connector_core::{CredentialStore, DiscardCredentials, Error, ErrorKind, Result, Secret};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

pub(crate) use api::GoogleApi;
#[cfg(feature = "google_drive")] // Drive's Sheets fallback tells a disabled API apart.
pub(crate) use api_error::API_DISABLED;
#[cfg(feature = "bigquery")] // BigQuery names the field a refused query is about.
pub(crate) use api_error::{BYTES_BILLED, INVALID_QUERY};
use api_error::{classify, classify_bigquery};
pub use config::{GoogleCredentialsConfig, GoogleTokens, GoogleTokensSchema};
/// The type of the configs' list fields (an array or a comma-separated string), re-exported so
/// `connector_google::StringList` keeps naming it.
pub use connector_core::StringList;

/// Google's OAuth 2.0 token endpoint.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The config field every credential error names.
const CREDENTIAL_FIELD: &str = "credentials.google_tokens";

/// Tokens are refreshed this long before Google says they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// How long a token answer without `expires_in` is taken to live: an hour, Google's own.
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// When a token given at `from` expires, its answer having said `expires_in` seconds (an hour
/// when absent): core's [`token_expiry`], so a hostile `expires_in` counts as a year there too.
fn expiry(from: Instant, expires_in: Option<u64>) -> Instant {
    token_expiry(from, expires_in.unwrap_or(DEFAULT_EXPIRES_IN))
}

/// A service-account key file, as the Cloud console downloads it.
#[derive(Clone, Deserialize)]
pub(crate) struct ServiceAccountKey {
    pub(crate) client_email: String,
    private_key: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// An OAuth user token, as google-auth's `Credentials.to_json()` writes it (RAGFlow's shape).
#[derive(Clone, Deserialize)]
pub(crate) struct UserToken {
    refresh_token: String,
    client_id: String,
    client_secret: String,
    #[serde(default)]
    token_uri: Option<String>,
}

/// What `google_tokens` holds.
pub(crate) enum Credential {
    ServiceAccount(ServiceAccountKey),
    User(UserToken),
}

impl Credential {
    /// Reads `google_tokens`; the error names what is missing, never a value.
    pub(crate) fn parse(tokens: &GoogleTokens) -> std::result::Result<Self, String> {
        let value: Value = serde_json::from_str(tokens.secret().expose()).map_err(|_| {
            "is not JSON: expected a service-account key or an OAuth token".to_owned()
        })?;
        // RAGFlow's web flow may nest the token one level down.
        let value = match value.get("token_json").or_else(|| value.get("tokens")) {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(value),
            Some(inner @ Value::Object(_)) => inner.clone(),
            _ => value,
        };
        if value.get("type").and_then(Value::as_str) == Some("service_account") {
            let key: ServiceAccountKey = serde_json::from_value(value).map_err(|_| {
                "a service-account key needs `client_email` and `private_key`".to_owned()
            })?;
            jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|_| {
                "`private_key` of the service-account key is not a PEM RSA private key".to_owned()
            })?;
            Ok(Self::ServiceAccount(key))
        } else if value.get("refresh_token").is_some() {
            if value.get("client_id").is_none() || value.get("client_secret").is_none() {
                // RAGFlow's `oauth_interactive` tokens leave them out and read them from its
                // environment; a library has no such environment to read.
                return Err("an OAuth token needs `client_id` and `client_secret` next to its `refresh_token`; a token RAGFlow stored with `authentication_method: oauth_interactive` leaves them out (RAGFlow reads OAUTH_GOOGLE_DRIVE_CLIENT_ID and OAUTH_GOOGLE_DRIVE_CLIENT_SECRET): add them to the token JSON".to_owned());
            }
            let token: UserToken = serde_json::from_value(value).map_err(|_| {
                "an OAuth token needs `refresh_token`, `client_id` and `client_secret` as strings"
                    .to_owned()
            })?;
            Ok(Self::User(token))
        } else if value.get("web").is_some() || value.get("installed").is_some() {
            Err("is an OAuth client configuration (`web` or `installed`) without tokens: authorise it first (RAGFlow's browser authorisation stores the token it returns) and give that token".to_owned())
        } else {
            Err("is neither a service-account key (`type: service_account`) nor an OAuth token with a `refresh_token`".to_owned())
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: String,
    aud: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

struct Cached {
    token: Secret,
    until: Instant,
}

/// The impersonated subject (`None`: the key's own identity or the OAuth user) and the scopes.
type TokenKey = (Option<String>, String);

/// Issues access tokens for a subject (the impersonated user; `None` for the key's own
/// identity or the OAuth user) and a set of scopes.
pub(crate) struct Authenticator {
    source: &'static str,
    token_url: Url,
    kind: Kind,
    /// One slot per subject and scope set, each behind its own lock: concurrent requests for
    /// one user wait for one token request, requests for other users do not wait at all.
    cache: StdMutex<HashMap<TokenKey, Arc<Mutex<Option<Cached>>>>>,
    /// Held while an OAuth refresh token is used, so two refreshes never race a rotation.
    refreshing: Mutex<()>,
    store: StdMutex<Arc<dyn CredentialStore>>,
}

enum Kind {
    ServiceAccount {
        key: ServiceAccountKey,
        signer: jsonwebtoken::EncodingKey,
    },
    User {
        token: UserToken,
        /// The current refresh token (it may rotate) and the JSON it came in.
        current: StdMutex<(Secret, Value)>,
    },
}

impl Authenticator {
    /// An authenticator for `credentials`; `token_uri` overrides the key's own.
    pub(crate) fn new(
        source: &'static str,
        credentials: &GoogleCredentialsConfig,
        token_uri: Option<&Url>,
    ) -> Result<Self> {
        let config_err = |message: String| {
            Error::config(vec![connector_core::FieldError::new(
                CREDENTIAL_FIELD,
                message,
            )])
            .with_connector(source)
        };
        let credential = Credential::parse(&credentials.google_tokens).map_err(config_err)?;
        let (kind, own_uri) = match credential {
            Credential::ServiceAccount(key) => {
                let signer = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
                    .map_err(|_| config_err("`private_key` is not a PEM RSA private key".into()))?;
                let uri = key.token_uri.clone();
                (Kind::ServiceAccount { key, signer }, uri)
            }
            Credential::User(token) => {
                let json: Value = serde_json::from_str(credentials.google_tokens.secret().expose())
                    .unwrap_or(Value::Null);
                let uri = token.token_uri.clone();
                let current = StdMutex::new((Secret::new(token.refresh_token.clone()), json));
                (Kind::User { token, current }, uri)
            }
        };
        let token_url = match (token_uri, own_uri) {
            (Some(u), _) => u.clone(),
            (None, Some(u)) => {
                Url::parse(&u).map_err(|_| config_err("`token_uri` is not a URL".into()))?
            }
            (None, None) => Url::parse(DEFAULT_TOKEN_URI)
                .map_err(|e| Error::internal("bad default token URI").with_cause(e))?,
        };
        Ok(Self {
            source,
            token_url,
            kind,
            cache: StdMutex::new(HashMap::new()),
            refreshing: Mutex::new(()),
            store: StdMutex::new(Arc::new(DiscardCredentials)),
        })
    }

    /// Hands rotated refresh tokens to `store`.
    pub(crate) fn set_store(&self, store: Arc<dyn CredentialStore>) {
        *self.store.lock().unwrap_or_else(|p| p.into_inner()) = store;
    }

    /// Whether this is a service account (which impersonates users).
    pub(crate) fn is_service_account(&self) -> bool {
        matches!(self.kind, Kind::ServiceAccount { .. })
    }

    /// The service account's OAuth client id (for the delegation hint), if known.
    fn client_id(&self) -> Option<&str> {
        match &self.kind {
            Kind::ServiceAccount { key, .. } => key.client_id.as_deref(),
            Kind::User { .. } => None,
        }
    }

    /// A bearer token for `subject` with `scopes`, from the cache or the token endpoint.
    ///
    /// With an OAuth user token the subject is ignored: the token acts as its user.
    pub(crate) async fn token(
        &self,
        http: &HttpClient,
        subject: Option<&str>,
        scopes: &[&str],
    ) -> Result<Auth> {
        let key = self.key(subject, scopes);
        let slot = self.slot(&key);
        // Held across the fetch, so concurrent streams for this subject wait for one token
        // request rather than send one each.
        let mut slot = slot.lock().await;
        if let Some(c) = slot.as_ref()
            && Instant::now() + EXPIRY_MARGIN < c.until
        {
            return Ok(Auth::Bearer(c.token.clone()));
        }
        let (token, expires_in) = match self.kind {
            Kind::User { .. } => {
                let _one_refresh = self.refreshing.lock().await;
                self.fetch(http, key.0.as_deref(), &key.1).await?
            }
            Kind::ServiceAccount { .. } => self.fetch(http, key.0.as_deref(), &key.1).await?,
        };
        *slot = Some(Cached {
            token: token.clone(),
            until: expiry(Instant::now(), expires_in),
        });
        Ok(Auth::Bearer(token))
    }

    /// Drops the cached token of `subject` and `scopes` if it is still `rejected` (another
    /// request may have replaced it already), so the next request gets a new one.
    pub(crate) async fn forget(&self, subject: Option<&str>, scopes: &[&str], rejected: &Auth) {
        let Auth::Bearer(rejected) = rejected else {
            return;
        };
        let slot = self.slot(&self.key(subject, scopes));
        let mut slot = slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.token == *rejected) {
            *slot = None;
        }
    }

    /// The cache key of `subject` and `scopes`: an OAuth token has no subject.
    fn key(&self, subject: Option<&str>, scopes: &[&str]) -> TokenKey {
        let subject = match self.kind {
            Kind::ServiceAccount { .. } => subject.map(str::to_owned),
            Kind::User { .. } => None,
        };
        (subject, scopes.join(" "))
    }

    /// The cache slot of `key`, made on first use.
    fn slot(&self, key: &TokenKey) -> Arc<Mutex<Option<Cached>>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(cache.entry(key.clone()).or_default())
    }

    async fn fetch(
        &self,
        http: &HttpClient,
        subject: Option<&str>,
        scope: &str,
    ) -> Result<(Secret, Option<u64>)> {
        let form: Vec<(&str, String)> = match &self.kind {
            Kind::ServiceAccount { key, signer } => {
                let now = chrono::Utc::now().timestamp();
                let claims = Claims {
                    iss: &key.client_email,
                    scope: scope.to_owned(),
                    aud: self.token_url.as_str(),
                    iat: now,
                    exp: now + 3600,
                    sub: subject,
                };
                let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                let assertion = jsonwebtoken::encode(&header, &claims, signer).map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        "cannot sign the JWT assertion with the service-account key",
                    )
                    .with_connector(self.source)
                    .with_field(CREDENTIAL_FIELD)
                    .with_cause(e)
                })?;
                vec![
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                    ),
                    ("assertion", assertion),
                ]
            }
            Kind::User { token, current } => {
                let refresh = current
                    .lock()
                    .map(|c| c.0.expose().to_owned())
                    .unwrap_or_else(|p| p.into_inner().0.expose().to_owned());
                vec![
                    ("grant_type", "refresh_token".into()),
                    ("refresh_token", refresh),
                    ("client_id", token.client_id.clone()),
                    ("client_secret", token.client_secret.clone()),
                ]
            }
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let resp = http
            .post(self.token_url.clone())
            .body(body, "application/x-www-form-urlencoded")
            .idempotent(true)
            .client_errors_as_responses()
            .send()
            .await?;
        if resp.status().is_client_error() {
            return Err(self.token_error(resp.status().as_u16(), resp.body(), subject, scope));
        }
        let parsed: TokenResponse = resp.json()?;
        if let Kind::User { current, .. } = &self.kind
            && let Some(new) = parsed.refresh_token.filter(|t| !t.is_empty())
        {
            self.rotate(current, new).await?;
        }
        Ok((Secret::new(parsed.access_token), parsed.expires_in))
    }

    /// Saves a rotated refresh token before the access token that came with it is used.
    async fn rotate(&self, current: &StdMutex<(Secret, Value)>, new: String) -> Result<()> {
        let json = {
            let guard = current.lock().unwrap_or_else(|p| p.into_inner());
            if guard.0.expose() == new {
                return Ok(());
            }
            let mut json = guard.1.clone();
            set_refresh_token(&mut json, &new);
            json
        };
        let text = Secret::new(json.to_string());
        let store = Arc::clone(&self.store.lock().unwrap_or_else(|p| p.into_inner()));
        store
            .save(self.source, CREDENTIAL_FIELD, &text)
            .await
            .map_err(|e| {
                Error::new(
                    e.kind(),
                    "Google rotated the refresh token but the CredentialStore could not save it",
                )
                .with_connector(self.source)
                .with_field(CREDENTIAL_FIELD)
                .with_cause(e)
            })?;
        let mut guard = current.lock().unwrap_or_else(|p| p.into_inner());
        *guard = (Secret::new(new), json);
        Ok(())
    }

    /// The token endpoint's refusal, told apart: a missing delegation, a bad key, a revoked
    /// refresh token.
    fn token_error(&self, status: u16, body: &[u8], subject: Option<&str>, scope: &str) -> Error {
        let err: TokenError = serde_json::from_slice(body).unwrap_or_default();
        let desc = if err.error_description.is_empty() {
            String::new()
        } else {
            format!(" ({})", err.error_description)
        };
        let who = subject.map(|s| format!(" for {s}")).unwrap_or_default();
        let (kind, message) = match (err.error.as_str(), self.is_service_account()) {
            ("unauthorized_client", true) => (
                ErrorKind::PermissionDenied,
                format!(
                    "domain-wide delegation is missing: the service account (client id {}) is not authorised for the scopes `{scope}`{who}; add them under Security > API controls > Domain-wide delegation in the Admin console{desc}",
                    self.client_id().unwrap_or("see the key's client_id"),
                ),
            ),
            ("invalid_grant", true)
                if err.error_description.contains("JWT Signature")
                    || err.error_description.contains("account not found") =>
            {
                (
                    ErrorKind::Unauthenticated,
                    format!(
                        "the service-account key was rejected: it is invalid, deleted or disabled{desc}"
                    ),
                )
            }
            ("invalid_grant", true) => (
                ErrorKind::PermissionDenied,
                format!(
                    "Google refused to issue a token{who}: the user may not exist or be suspended, or the key is invalid{desc}"
                ),
            ),
            ("invalid_grant", false) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the OAuth refresh token was revoked or has expired; authorise again{desc}"
                ),
            ),
            ("invalid_client", _) | ("unauthorized_client", false) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the OAuth client was rejected: check `client_id` and `client_secret`{desc}"
                ),
            ),
            ("invalid_scope", _) => (
                ErrorKind::Config,
                format!("Google rejected the scopes `{scope}`{desc}"),
            ),
            (other, _) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the token endpoint refused the credentials (HTTP {status}, {other}){desc}"
                ),
            ),
        };
        // Only a refusal for one impersonated user (suspended, deleted, unknown) concerns that
        // user alone; a refused key, client, scope or delegation refuses every user.
        let refused = TokenRefused {
            subject_only: err.error == "invalid_grant" && kind == ErrorKind::PermissionDenied,
        };
        Error::new(kind, message)
            .with_connector(self.source)
            .with_field(CREDENTIAL_FIELD)
            .with_url(&self.token_url)
            .with_cause(refused)
    }
}

/// Writes a rotated refresh token where `json` keeps it: at the top level of a flat token, or
/// inside the `token_json` / `tokens` field that RAGFlow's web flow nests it in (a string
/// stays a string holding JSON, an object an object), so the next run reads the new token
/// where [`Credential::parse`] looks for it.
fn set_refresh_token(json: &mut Value, new: &str) {
    let Value::Object(map) = json else { return };
    for key in ["token_json", "tokens"] {
        match map.get_mut(key) {
            Some(Value::Object(inner)) => {
                inner.insert("refresh_token".into(), Value::String(new.to_owned()));
                return;
            }
            Some(Value::String(text)) => {
                if let Ok(Value::Object(mut inner)) = serde_json::from_str::<Value>(text) {
                    inner.insert("refresh_token".into(), Value::String(new.to_owned()));
                    *text = Value::Object(inner).to_string();
                    return;
                }
            }
            _ => {}
        }
    }
    map.insert("refresh_token".into(), Value::String(new.to_owned()));
}

/// The cause the token endpoint's refusals carry, so a walk can tell one user's refusal from
/// one that concerns every user (see [`affects_everyone`]).
#[derive(Debug)]
struct TokenRefused {
    /// The refusal concerns the impersonated user only (`invalid_grant` for a subject).
    subject_only: bool,
}

impl fmt::Display for TokenRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.subject_only {
            "the token endpoint refused this user"
        } else {
            "the token endpoint refused the credentials"
        })
    }
}

impl std::error::Error for TokenRefused {}

/// Whether `e`, met while reading one partition (a user's mailbox or drive, a shared drive, a
/// folder), concerns every partition, so the sync must end rather than go on to the next one.
///
/// `as_user`: the partition is read as an impersonated user of a service account (not as the
/// primary admin, not as an OAuth token's own user). Then a token refused for that user alone
/// (`invalid_grant`: suspended, deleted) is that user's, and so is a 401 from the API when
/// `user_401` (Drive answers 401 to a user who has no Drive). Everything else that ends a sync
/// by core's policy, a refused key, client, scope or delegation, an API disabled in the
/// Cloud project and an endpoint the host's network policy denies concern everyone.
pub(crate) fn affects_everyone(e: &Error, as_user: bool, user_401: bool) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<TokenRefused>() {
            return !(as_user && refused.subject_only);
        }
        cause = c.source();
    }
    // A disabled API, and an endpoint the host's network policy denies (every user's
    // requests go to the same hosts), concern everyone. Core has no predicate for the
    // denial; its message always carries `ALLOW_HINT`.
    if e.message().contains(api_error::API_DISABLED)
        || e.message().contains(connector_core::net::ALLOW_HINT)
    {
        return true;
    }
    match e.kind() {
        ErrorKind::Unauthenticated => !(as_user && user_401),
        kind => kind.ends_sync(),
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::ServiceAccount { key, .. } => format!("service account {}", key.client_email),
            Kind::User { .. } => "OAuth user token".to_owned(),
        };
        f.debug_struct("Authenticator")
            .field("kind", &kind)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_expires_in_saturates_at_a_year() {
        let now = Instant::now();
        assert_eq!(expiry(now, None), now + Duration::from_secs(3600));
        assert_eq!(expiry(now, Some(3599)), now + Duration::from_secs(3599));
        assert_eq!(
            expiry(now, Some(u64::MAX)),
            now + connector_core::http::LONGEST_TOKEN_LIFETIME
        );
        // A lifetime the clock cannot hold: connector-core's `an_expiry_past_the_clock_is_now`.
    }

    /// The refresh token `json` holds, read as [`Credential::parse`] reads it.
    fn refresh_of(json: &Value) -> String {
        match Credential::parse(&GoogleTokens::new(json.to_string())) {
            Ok(Credential::User(t)) => t.refresh_token,
            _ => String::new(),
        }
    }

    /// The `sub` claim of a JWT-bearer grant's assertion (read, not verified).
    fn subject_of(body: &[u8]) -> String {
        use base64::Engine;
        let assertion = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "assertion")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let payload = assertion.split('.').nth(1).unwrap_or_default();
        let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        claims["sub"].as_str().unwrap_or_default().to_owned()
    }

    /// Token fetches are locked per subject, not globally: while one user's token request
    /// hangs at Google's token endpoint, another user's goes out and comes back; and a user's
    /// concurrent requests wait for that one fetch rather than send one each. Told by the
    /// order the fetches finish in and the requests the endpoint saw, not by timings: `slow`'s
    /// grant is answered after a delay, `fast`'s at once, and `slow` asks first (`join!`
    /// polls in order), so a global lock would finish `slow` first.
    #[tokio::test]
    async fn token_fetches_are_locked_per_subject_not_globally() {
        use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers};
        let server = MockServer::start().await;
        let asked: Arc<StdMutex<Vec<String>>> = Arc::default();
        let record = Arc::clone(&asked);
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/token"))
            .respond_with(move |req: &Request| {
                let sub = subject_of(&req.body);
                record.lock().unwrap().push(sub.clone());
                let answer = ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "access_token": format!("tok-{sub}"), "expires_in": 3599, "token_type": "Bearer"
                }));
                if sub.starts_with("slow") {
                    answer.set_delay(Duration::from_millis(700))
                } else {
                    answer
                }
            })
            .mount(&server)
            .await;
        let key = serde_json::json!({
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": include_str!("../../tests/fixtures/test-service-account-key.pem"),
            "client_email": "indexer@test-project.iam.gserviceaccount.com",
            "client_id": "112233445566778899000",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        let credentials = GoogleCredentialsConfig::new(key.to_string());
        let token_uri = Url::parse(&format!("{}/token", server.uri())).unwrap();
        let auth = Authenticator::new("google_drive", &credentials, Some(&token_uri)).unwrap();
        let http = HttpClient::builder("google_drive").build().unwrap();
        let finished: StdMutex<Vec<&str>> = StdMutex::new(Vec::new());
        let get = |sub: &'static str| {
            let (auth, http, finished) = (&auth, &http, &finished);
            async move {
                let token = auth.token(http, Some(sub), &["scope-a"]).await;
                finished.lock().unwrap().push(sub);
                token
            }
        };
        let (s1, f, s2, s3) = tokio::join!(
            get("slow@example.com"),
            get("fast@example.com"),
            get("slow@example.com"),
            get("slow@example.com"),
        );
        let bearer = |t: Result<Auth>| match t.unwrap() {
            Auth::Bearer(s) => s.expose().to_owned(),
            _ => String::new(),
        };
        assert_eq!(bearer(f), "tok-fast@example.com");
        for s in [s1, s2, s3] {
            assert_eq!(bearer(s), "tok-slow@example.com");
        }
        let finished = finished.into_inner().unwrap();
        assert_eq!(
            finished.first(),
            Some(&"fast@example.com"),
            "fast's fetch waited for slow's: {finished:?}"
        );
        let mut asked = asked.lock().unwrap().clone();
        asked.sort();
        assert_eq!(
            asked,
            ["fast@example.com", "slow@example.com"],
            "one token request per subject"
        );
    }

    #[test]
    fn a_rotated_refresh_token_lands_where_the_token_is_read() {
        let token = serde_json::json!({
            "token": "ya29.old", "refresh_token": "1//old", "client_id": "c",
            "client_secret": "s", "expiry": "2026-01-01T00:00:00Z",
        });
        // Flat, nested as a string (RAGFlow's web flow), nested as an object.
        for mut json in [
            token.clone(),
            serde_json::json!({"token_json": token.to_string()}),
            serde_json::json!({"tokens": token}),
        ] {
            let nested_string = json.get("token_json").is_some_and(Value::is_string);
            assert_eq!(refresh_of(&json), "1//old");
            set_refresh_token(&mut json, "1//new");
            assert_eq!(refresh_of(&json), "1//new", "{json}");
            // The shape is kept: no top-level copy next to a nested token.
            if json.get("token_json").is_some() || json.get("tokens").is_some() {
                assert!(json.get("refresh_token").is_none(), "{json}");
            }
            assert_eq!(
                json.get("token_json").is_some_and(Value::is_string),
                nested_string
            );
        }
    }
}
