//! OAuth web flows (feature `api`): a user authorises a connector in the browser, and its
//! tokens land in the connector's config, sealed.
//!
//! 1. `POST /api/v1/oauth/init` (behind the API key) with a provider (`google-drive`,
//!    `gmail`, or any [`OAuthProvider`] the host adds) and either a stored connector's id or
//!    the connector to create once authorised. It answers the authorisation URL to send the
//!    browser to and a `flow_id`. The `state` parameter in that URL is 256 random bits, stored
//!    as a SHA-256 with an expiry (15 minutes by default); with PKCE (S256) the verifier is
//!    stored sealed with the store's [`Sealer`](crate::Sealer).
//! 2. The provider redirects the browser to `GET /api/v1/oauth/callback/{provider}` (public:
//!    the state is the credential). The state is taken once, atomically: an unknown, expired
//!    or already used state is refused (CSRF, and a replayed code is never sent to the
//!    provider again). The code is exchanged at the provider's token URL through core's
//!    `HttpClient`, the tokens are written into the connector's credential field sealed (or
//!    the pending connector is created with them), and the page tells the opener window the
//!    outcome, as RAGFlow's popup does.
//! 3. `GET /api/v1/oauth/result/{flow_id}` (behind the API key) reports the outcome:
//!    `pending`, `succeeded` (with the connector id), `failed` (with why: the user denied
//!    access, the code was refused, ...), `expired`. Tokens are never in any answer, log or
//!    error: unlike RAGFlow's result, which hands the credentials to the browser, the tokens
//!    go straight into the sealed config.
//!
//! RAGFlow's Google routes are served too: `POST /api/v1/connectors/google/oauth/web/start?type=`,
//! `GET /api/v1/connectors/{google-drive,gmail}/oauth/web/callback` and
//! `POST /api/v1/connectors/google/oauth/web/result?type=`, taking RAGFlow's uploaded
//! `credentials` (`{"web": {"client_id", "client_secret", …}}`) as the OAuth client.
//!
//! Rotation: a connector that refreshes its token during a run hands a rotated one to
//! [`SqlCredentialStore`](crate::SqlCredentialStore), which every worker job gets.

mod exchange;
mod model;
mod provider;
mod record;
mod router;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use chrono::Utc;
use connector_core::http::{HttpClient, NetworkPolicy};
use connector_core::{Error, ErrorKind, Result, Secret};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use exchange::{client_of, exchange, scrub};
pub use model::{
    CallbackOutcome, CallbackParams, FlowResult, FlowStatus, InitRequest, Initiated, RagflowResult,
    RagflowStart,
};
pub use provider::{
    GMAIL_SCOPES, GOOGLE_AUTH_URL, GOOGLE_DRIVE_SCOPES, GOOGLE_TOKEN_URL, OAuthClient,
    OAuthProvider, TokenFormat,
};

use crate::connectors::{ConnectorStore, NewConnector};
use crate::seal::{SECRET_KEY_ENV, secret_fields};
use crate::store::on_pool;

/// How long an authorisation may take by default (RAGFlow's 15 minutes).
pub const DEFAULT_FLOW_TTL: Duration = Duration::from_secs(15 * 60);

/// How long a finished or expired flow's outcome stays readable.
const KEEP_FLOWS: chrono::Duration = chrono::Duration::days(1);

/// The longest [`OAuthFlows::ttl`]: a year. No authorisation takes longer (an admin's
/// consent may take days), and the flow's expiry stays a time both databases store and
/// `chrono` adds to (review61 L3: past about 7 900 years SQLite's text order put it before
/// every date, past 8.2e12 s `init` panicked).
const LONGEST_FLOW_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The name the token exchange's HTTP client gives in its errors and logs.
const CLIENT_NAME: &str = "oauth";

/// A provider with its HTTP client for the token endpoint.
struct Provider {
    provider: OAuthProvider,
    http: HttpClient,
}

/// The OAuth web flows of a connector store: `init`, the provider's `callback`, `result`;
/// [`install`](Self::install) adds their routes to the management API.
#[derive(Clone)]
pub struct OAuthFlows {
    store: ConnectorStore,
    providers: Arc<BTreeMap<String, Provider>>,
    public_url: Option<Url>,
    ttl: Duration,
}

impl fmt::Debug for OAuthFlows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthFlows")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl OAuthFlows {
    /// The flows of `store`'s connectors with `providers`. `public_url` is where the server
    /// is reached from browsers (`https://connectors.example.com`), for the redirect URI of
    /// a provider that sets none. Each provider's token endpoint is allowed explicitly on
    /// `network` (the server's own setting, like a loopback test server), which otherwise
    /// keeps its rules (usually [`NetworkPolicy::public_only`]).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for two providers of one name, a provider with neither a
    /// redirect URI nor a public URL to derive it from, or a token URL whose host the policy
    /// cannot take.
    pub fn new(
        store: ConnectorStore,
        providers: Vec<OAuthProvider>,
        public_url: Option<Url>,
        network: &NetworkPolicy,
    ) -> Result<Self> {
        let mut map = BTreeMap::new();
        for provider in providers {
            if provider.redirect_uri.is_none() && public_url.is_none() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "OAuth provider `{}` has no redirect URI and the server no public URL to \
                         derive one from",
                        provider.name
                    ),
                ));
            }
            let host = provider.token_url.host_str().unwrap_or_default().to_owned();
            let http = HttpClient::builder(CLIENT_NAME)
                .timeout(Duration::from_secs(30))
                .max_redirects(0)
                .network_policy(network.clone().allow([host.as_str()])?)
                .build()?;
            let name = provider.name.clone();
            if map
                .insert(name.clone(), Provider { provider, http })
                .is_some()
            {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("two OAuth providers are named `{name}`"),
                ));
            }
        }
        Ok(Self {
            store,
            providers: Arc::new(map),
            public_url,
            ttl: DEFAULT_FLOW_TTL,
        })
    }

    /// How long an authorisation may take (default [`DEFAULT_FLOW_TTL`]; a flow's row is
    /// kept a day past its end, whatever this is). At most a year: a longer one is cut to a
    /// year, with a warning (review61 L3: a huge one panicked `init` or, on SQLite, expired
    /// every flow at once; review64 L5: a day's cut, without a word, gave a 3-day admin
    /// consent one day).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        if ttl > LONGEST_FLOW_TTL {
            tracing::warn!(
                ttl_secs = ttl.as_secs(),
                longest_secs = LONGEST_FLOW_TTL.as_secs(),
                "the OAuth flow ttl is cut to a year"
            );
        }
        self.ttl = ttl.min(LONGEST_FLOW_TTL);
        self
    }

    /// The providers' names.
    pub fn providers(&self) -> Vec<&str> {
        self.providers.keys().map(String::as_str).collect()
    }

    fn provider(&self, name: &str) -> Result<&Provider> {
        self.providers.get(name).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "no OAuth provider `{name}`; the server has {}",
                    self.providers
                        .keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_field("provider")
        })
    }

    fn redirect_uri(&self, p: &OAuthProvider) -> Result<Url> {
        if let Some(uri) = &p.redirect_uri {
            return Ok(uri.clone());
        }
        let base = self.public_url.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "the server has no public URL for redirects",
            )
        })?;
        let mut uri = base.clone();
        uri.path_segments_mut()
            .map_err(|()| Error::new(ErrorKind::Config, "the public URL cannot take a path"))?
            .pop_if_empty()
            .extend(["api", "v1", "oauth", "callback", p.name.as_str()]);
        Ok(uri)
    }

    /// Starts a flow: checks what it binds to, stores its state, and answers the
    /// authorisation URL.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown provider or connector; [`ErrorKind::Config`]
    /// for a request that binds to nothing or to both, a connector of another source, a
    /// pending connector whose config is invalid (every problem by path), no OAuth client,
    /// or no key to seal the flow's secrets with; [`ErrorKind::State`] when the database
    /// cannot be written.
    pub async fn init(&self, request: InitRequest) -> Result<Initiated> {
        let p = &self.provider(&request.provider)?.provider;
        let client = match &request.credentials {
            Some(c) => Some(client_of(c)?),
            None => None,
        };
        if client.is_none() && p.client.is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the server has no OAuth client for `{}`: give `credentials` (the client \
                     configuration, `{{\"web\": {{\"client_id\", \"client_secret\"}}}}`)",
                    p.name
                ),
            )
            .with_field("credentials"));
        }
        let field_leaf = p.token_field.rsplit('.').next().unwrap_or_default();
        if !secret_fields(&self.store.registry().schema(&p.source)?)
            .iter()
            .any(|f| f == field_leaf)
        {
            return Err(Error::internal(format!(
                "OAuth provider `{}` writes `{}`, which source `{}` does not mark as a secret",
                p.name, p.token_field, p.source
            )));
        }
        let sealer = self.store.sealer().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "OAuth tokens are stored encrypted and no key is set: set {SECRET_KEY_ENV} \
                     (32 random bytes, base64: `openssl rand -base64 32`)"
                ),
            )
        })?;
        match (&request.connector_id, &request.connector) {
            (Some(id), None) => {
                let record = self.store.get(id).await?.ok_or_else(|| {
                    Error::new(ErrorKind::NotFound, format!("no connector `{id}`"))
                        .with_field("connector_id")
                })?;
                if record.source != p.source {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "connector `{id}` is a `{}` connector; `{}` authorises `{}` connectors",
                            record.source, p.name, p.source
                        ),
                    )
                    .with_field("connector_id"));
                }
            }
            (None, Some(new)) => {
                if new.source != p.source {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("`{}` authorises `{}` connectors", p.name, p.source),
                    )
                    .with_field("connector.source"));
                }
                if new.name.trim().is_empty() {
                    return Err(Error::new(ErrorKind::Config, "a connector needs a name")
                        .with_field("connector.name"));
                }
                let mut config = new.config.clone();
                set_path(&mut config, &p.token_field, p.token_format.placeholder());
                self.store
                    .registry()
                    .effective_config(&p.source, config)
                    .map_err(|e| prefixed(e, "connector.config"))?;
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "give either `connector_id` (a stored connector) or `connector` (one to \
                     create once authorised)",
                ));
            }
        }

        let state = random_token();
        let verifier = p.pkce.then(random_token);
        let flow_id = hex(&random_bytes::<16>());
        let redirect_uri = self.redirect_uri(p)?;
        let mut url = p.auth_url.clone();
        {
            let client_id = client
                .as_ref()
                .or(p.client.as_ref())
                .map(|c| c.client_id.as_str())
                .unwrap_or_default();
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri.as_str())
                .append_pair("scope", &p.scopes.join(" "))
                .append_pair("state", &state);
            if let Some(v) = &verifier {
                q.append_pair(
                    "code_challenge",
                    &B64URL.encode(Sha256::digest(v.as_bytes())),
                )
                .append_pair("code_challenge_method", "S256");
            }
            for (k, v) in &p.auth_params {
                q.append_pair(k, v);
            }
        }
        let secrets = serde_json::json!({
            "verifier": verifier,
            "client": client.as_ref().map(|c| serde_json::json!({
                "client_id": c.client_id,
                "client_secret": c.client_secret.expose(),
            })),
            "connector": request.connector,
        });
        let now = Utc::now();
        let expires_at = chrono::Duration::from_std(self.ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .unwrap_or(now + KEEP_FLOWS);
        let db = self.store.db();
        on_pool!(db, pool => {
            let fail = |e: sqlx::Error| db.error("cannot store an OAuth flow in", &e);
            sqlx::query("DELETE FROM oauth_flow WHERE expires_at < $1")
                .bind(now - KEEP_FLOWS)
                .execute(pool)
                .await
                .map_err(fail)?;
            sqlx::query(
                "INSERT INTO oauth_flow (id, state_hash, provider, connector_id, redirect_uri, \
                 secrets, status, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
            )
            .bind(&flow_id)
            .bind(state_hash(&state))
            .bind(&p.name)
            .bind(&request.connector_id)
            .bind(redirect_uri.as_str())
            .bind(sealer.seal(&secrets.to_string()))
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map_err(fail)?;
        });
        tracing::info!(flow = %flow_id, provider = %p.name, "OAuth flow started");
        Ok(Initiated {
            flow_id,
            authorization_url: url,
            expires_in: self.ttl.as_secs(),
        })
    }

    /// Handles the provider's redirect to the callback of `provider`: takes the state once,
    /// exchanges the code, stores the tokens. Never fails: every outcome is an answer (and,
    /// when the state named a flow, that flow's result).
    pub async fn callback(&self, provider: &str, params: CallbackParams) -> CallbackOutcome {
        match self.try_callback(provider, params).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(provider, error = %e, "an OAuth callback failed");
                CallbackOutcome {
                    status: 500,
                    code: "internal",
                    message: "the authorisation could not be completed; see the server's log"
                        .to_owned(),
                    flow: None,
                }
            }
        }
    }

    async fn try_callback(
        &self,
        provider: &str,
        params: CallbackParams,
    ) -> Result<CallbackOutcome> {
        let Some(state) = params.state.filter(|s| !s.is_empty()) else {
            return Ok(CallbackOutcome::refused(
                "missing_state",
                "the redirect carries no `state`: start the authorisation again",
            ));
        };
        let Ok(p) = self.provider(provider) else {
            return Ok(CallbackOutcome::refused(
                "unknown_state",
                "this authorisation is not known here: start it again",
            ));
        };
        let hash = state_hash(&state);
        let now = Utc::now();
        let db = self.store.db();
        // Taken once: the first callback moves it out of `pending`, so a replay (the same
        // state with the same or another code) finds nothing to take.
        let claimed: Option<(String, Option<String>, String, String)> = on_pool!(db, pool => {
            sqlx::query_as(
                "UPDATE oauth_flow SET status = 'exchanging' \
                 WHERE state_hash = $1 AND provider = $2 AND status = 'pending' AND expires_at > $3 \
                 RETURNING id, connector_id, redirect_uri, secrets",
            )
            .bind(&hash)
            .bind(&p.provider.name)
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(|e| db.error("cannot take an OAuth flow in", &e))?
        });
        let Some((flow_id, connector_id, redirect_uri, sealed)) = claimed else {
            return self.why_not_taken(&hash, &p.provider.name, now).await;
        };

        if let Some(error) = params.error {
            let message = match params.error_description.filter(|d| !d.is_empty()) {
                Some(d) => format!(
                    "{} refused the authorisation: {error} ({d})",
                    p.provider.name
                ),
                None if error == "access_denied" => format!(
                    "the user denied access at {} (access_denied)",
                    p.provider.name
                ),
                None => format!("{} refused the authorisation: {error}", p.provider.name),
            };
            return self
                .end(
                    &flow_id,
                    FlowStatus::Failed,
                    None,
                    &message,
                    400,
                    "provider_error",
                )
                .await;
        }
        let Some(code) = params.code.filter(|c| !c.is_empty()) else {
            return self
                .end(
                    &flow_id,
                    FlowStatus::Failed,
                    None,
                    "the redirect carries no authorisation code",
                    400,
                    "missing_code",
                )
                .await;
        };

        let sealer = self.store.sealer().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("no key is set ({SECRET_KEY_ENV})"),
            )
        })?;
        let secrets: Value = serde_json::from_str(&sealer.open(&sealed)?).map_err(|e| {
            Error::new(ErrorKind::State, "an OAuth flow's secrets are not JSON").with_cause(e)
        })?;
        let client = match secrets.get("client").filter(|c| !c.is_null()) {
            Some(c) => client_of(c)?,
            None => p.provider.client.clone().ok_or_else(|| {
                Error::new(ErrorKind::Config, "the OAuth client of the flow is gone")
            })?,
        };
        let verifier = secrets.get("verifier").and_then(Value::as_str);
        let tokens = match exchange(p, &client, &code, &redirect_uri, verifier).await {
            Ok(t) => t,
            Err(message) => {
                let message = scrub(&message, &[&code, client.client_secret.expose()]);
                return self
                    .end(
                        &flow_id,
                        FlowStatus::Failed,
                        None,
                        &message,
                        502,
                        "exchange_failed",
                    )
                    .await;
            }
        };
        let value = match p
            .provider
            .token_format
            .value(&p.provider, &client, &tokens, now)
        {
            Ok(v) => v,
            Err(e) => {
                return self
                    .end(
                        &flow_id,
                        FlowStatus::Failed,
                        None,
                        e.message(),
                        502,
                        "exchange_failed",
                    )
                    .await;
            }
        };
        let stored = match (
            connector_id,
            secrets.get("connector").filter(|c| !c.is_null()),
        ) {
            (Some(id), _) => self
                .store
                .set_secret_field(&id, &p.provider.token_field, &value)
                .await
                .map(|()| id),
            (None, Some(pending)) => self.create(p, pending, &value).await,
            (None, None) => Err(Error::new(
                ErrorKind::State,
                "the flow binds to no connector",
            )),
        };
        match stored {
            Ok(id) => {
                let message = format!("authorised: the tokens are stored in connector `{id}`");
                tracing::info!(flow = %flow_id, provider = %p.provider.name, connector = %id, "OAuth flow succeeded");
                self.end(
                    &flow_id,
                    FlowStatus::Succeeded,
                    Some(&id),
                    &message,
                    200,
                    "ok",
                )
                .await
            }
            Err(e) => {
                // The callback page is public: a sync-database failure's location stays in
                // the log (review70 M1).
                tracing::warn!(flow = %flow_id, error = %e, "OAuth flow's tokens could not be stored");
                let message = format!(
                    "the tokens could not be stored: {}",
                    self.store.db().shown(&e)
                );
                self.end(
                    &flow_id,
                    FlowStatus::Failed,
                    None,
                    &message,
                    502,
                    "store_failed",
                )
                .await
            }
        }
    }

    /// Creates the pending connector of a flow with its tokens.
    async fn create(&self, p: &Provider, pending: &Value, value: &Secret) -> Result<String> {
        let mut new: NewConnector = serde_json::from_value(pending.clone()).map_err(|e| {
            Error::new(
                ErrorKind::State,
                "an OAuth flow's pending connector is unreadable",
            )
            .with_cause(e)
        })?;
        set_path(
            &mut new.config,
            &p.provider.token_field,
            Value::String(value.expose().to_owned()),
        );
        Ok(self.store.create(new).await?.id)
    }
}

/// Sets `value` at the dotted `path` of `config`, creating objects on the way.
fn set_path(config: &mut Value, path: &str, value: Value) {
    let mut at = config;
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = at else { return };
        if segments.peek().is_none() {
            map.insert(segment.to_owned(), value);
            return;
        }
        at = map
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

/// `e` with its problems' paths under `prefix` (`connector.config`).
fn prefixed(e: Error, prefix: &str) -> Error {
    if e.problems().is_empty() {
        return e.with_field(prefix);
    }
    Error::config(
        e.problems()
            .iter()
            .map(|p| {
                let path = if p.path.is_empty() {
                    prefix.to_owned()
                } else {
                    format!("{prefix}.{}", p.path)
                };
                connector_core::FieldError::new(path, p.message.clone())
            })
            .collect(),
    )
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// 256 random bits, base64url: a `state` or a PKCE verifier (43 characters, within RFC 7636's
/// 43 to 128).
fn random_token() -> String {
    B64URL.encode(random_bytes::<32>())
}

fn state_hash(state: &str) -> String {
    hex(&Sha256::digest(state.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc7636_s256() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            B64URL.encode(Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random_token().len(), 43);
    }

    #[test]
    fn a_client_comes_from_ragflows_upload_or_a_flat_object() {
        let web = serde_json::json!({"web": {"client_id": "id", "client_secret": "s3", "token_uri": "https://evil.example"}});
        assert_eq!(
            client_of(&web).map(|c| c.client_id).ok().as_deref(),
            Some("id")
        );
        let text = Value::String(web.to_string());
        assert!(client_of(&text).is_ok());
        let flat = serde_json::json!({"client_id": "id", "client_secret": "s3"});
        assert!(client_of(&flat).is_ok());
        let with_token =
            serde_json::json!({"refresh_token": "x", "client_id": "id", "client_secret": "s"});
        assert!(client_of(&with_token).is_err());
        let err = client_of(&serde_json::json!({"web": {"client_id": "id"}})).err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    }

    #[test]
    fn set_path_creates_objects_and_scrub_hides_secrets() {
        let mut config = serde_json::json!({"credentials": "x", "keep": 1});
        set_path(
            &mut config,
            "credentials.google_tokens",
            Value::String("t".into()),
        );
        assert_eq!(
            config,
            serde_json::json!({"credentials": {"google_tokens": "t"}, "keep": 1})
        );
        assert_eq!(
            scrub("code abcd-1234 refused", &["abcd-1234"]),
            "code *** refused"
        );
    }
}
