//! [`OAuthToken`]: a bearer token renewed with an OAuth 2.0 refresh token (RFC 6749 §6), for
//! connectors whose users hand over an access token and, for long-lived access, a refresh token
//! and the app's client id (Dropbox, Box); or one got with the client credentials grant
//! (RFC 6749 §4.4) from an app's id, secret and a scope, for services a daemon reaches as
//! itself (Microsoft Entra ID service principals: Azure Storage, Graph).
//!
//! - The access token is used until shortly before the expiry the token endpoint announced;
//!   a token given in the config (its expiry unknown) is used until the service answers 401.
//! - A request answered 401 is sent once more with a renewed token
//!   ([`OAuthToken::send`]); concurrent requests that hit the same 401 wait for one renewal.
//! - A refresh token the endpoint rotates (Box's are single-use) is handed to the
//!   [`CredentialStore`] *before* the new access token is used or returned; if it cannot be
//!   saved the run stops, rather than run on a token nobody kept.
//! - A refresh token refused as `invalid_grant` is looked up in the store first
//!   ([`OAuthToken::restore_with`], [`CredentialStore::load`]): another job of the same
//!   connector may have spent it and saved its successor, which is taken up instead. The
//!   renewal POST itself is retried on a timeout or 5xx like any idempotent request: a retry
//!   of a renewal the endpoint did process is refused, and then the store decides.
//! - What is saved is the connector's business ([`OAuthToken::persist_with`]): the config field
//!   the tokens live in, rewritten with the new values.
//! - An app grant whose endpoint takes a JSON body and answers with names of its own
//!   ([`OAuthToken::app_grant_json`], [`TokenFields`]; DingTalk: `{"appKey", "appSecret"}` →
//!   `{"accessToken", "expireIn"}`), and a token sent in a header of the service's own instead
//!   of `Authorization: Bearer` ([`OAuthToken::sent_in_header`]), are the same token otherwise.
//! - What else a token answer carries (Salesforce's `instance_url` and identity URL, the
//!   instance every later call goes to) is handed to the connector's hook
//!   ([`OAuthToken::on_answer`]) each time a token is got, before it is used.

use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::client::{Auth, HttpClient};
use super::request::{RequestBuilder, Response};
use crate::credentials::{CredentialStore, DiscardCredentials};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// An access token is renewed this long before the expiry the token endpoint announced.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The longest lifetime a token answer's `expires_in` is taken for: a year. Every connector
/// that caches a token by its announced lifetime cuts it here ([`token_expiry`]), so a hostile
/// or broken answer costs at most a renewal a year rather than an overflow.
pub const LONGEST_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// When a token given at `from`, living `expires_in` seconds (a token answer's `expires_in`,
/// RFC 6749 §5.1), expires: a lifetime past [`LONGEST_TOKEN_LIFETIME`] (a hostile or broken
/// `expires_in` up to `u64::MAX`, which overflowed `Instant` and panicked) counts as a year,
/// and one the clock cannot hold as expired at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// use connector_core::http::{LONGEST_TOKEN_LIFETIME, token_expiry};
///
/// let now = Instant::now();
/// assert_eq!(token_expiry(now, 3600), now + Duration::from_secs(3600));
/// assert_eq!(token_expiry(now, u64::MAX), now + LONGEST_TOKEN_LIFETIME);
/// ```
#[must_use]
pub fn token_expiry(from: Instant, expires_in: u64) -> Instant {
    from.checked_add(Duration::from_secs(expires_in).min(LONGEST_TOKEN_LIFETIME))
        .unwrap_or(from)
}

/// Builds the value saved under the token's config field after a renewal, from the new access
/// token and the refresh token now current.
type Persist = Box<dyn Fn(&Secret, &Secret) -> Secret + Send + Sync>;

/// Reads a value of the token's config field back into (access token, refresh token).
type Restore = Box<dyn Fn(&Secret) -> Option<(Option<Secret>, Secret)> + Send + Sync>;

/// Builds the form of a token request of an app grant, anew for each request (a JWT
/// assertion carries its own expiry and a unique id, so it is signed again each time).
type GrantForm = Box<dyn Fn() -> Result<Vec<(&'static str, String)>> + Send + Sync>;

/// Builds the JSON body of a token request of an app grant, anew for each request.
type GrantJson = Box<dyn Fn() -> Result<serde_json::Value> + Send + Sync>;

/// Reads the fields of a token answer other than the tokens (see [`OAuthToken::on_answer`]).
type OnAnswer =
    Box<dyn Fn(&serde_json::Map<String, serde_json::Value>) -> Result<()> + Send + Sync>;

/// The names a token endpoint's answer gives the access token and its lifetime (seconds).
///
/// ```
/// use connector_core::http::TokenFields;
/// assert_eq!(TokenFields::OAUTH, TokenFields::new("access_token", "expires_in"));
/// let dingtalk = TokenFields::new("accessToken", "expireIn");
/// assert_ne!(dingtalk, TokenFields::OAUTH);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFields {
    access_token: &'static str,
    expires_in: &'static str,
}

impl TokenFields {
    /// RFC 6749's: `access_token` and `expires_in`.
    pub const OAUTH: Self = Self::new("access_token", "expires_in");

    /// An answer naming the token `access_token` and its lifetime in seconds `expires_in`.
    pub const fn new(access_token: &'static str, expires_in: &'static str) -> Self {
        Self {
            access_token,
            expires_in,
        }
    }
}

/// How often, and how far apart, the store is read again after a refused refresh token:
/// the process that spent it may still be saving its successor.
const RELOAD_TRIES: u32 = 3;
const RELOAD_PAUSE: Duration = Duration::from_millis(500);

/// How to renew: the token endpoint and the app's credentials.
struct Grant {
    token_url: Url,
    client_id: String,
    client_secret: Option<Secret>,
    /// The config field a refused refresh token (or client secret) is reported on.
    refresh_field: String,
    /// The client credentials grant's `scope`; `None`: the refresh token grant.
    scope: Option<String>,
    /// The form of an app grant whose parameters are the service's own (see
    /// [`OAuthToken::app_grant`]); it takes the place of the client credentials form.
    form: Option<GrantForm>,
    /// The JSON body of an app grant that takes one (see [`OAuthToken::app_grant_json`]); it
    /// takes the place of any form.
    json: Option<GrantJson>,
    /// The names of the answer's fields.
    answer: TokenFields,
}

impl Grant {
    /// Whether the app gets its tokens on its own (client credentials, a JWT assertion),
    /// rather than by a user's refresh token.
    fn is_app(&self) -> bool {
        self.scope.is_some() || self.form.is_some() || self.json.is_some()
    }
}

struct State {
    access: Option<Secret>,
    refresh: Option<Secret>,
    /// When the access token expires, if the token endpoint said.
    until: Option<Instant>,
}

/// A bearer token that renews itself with a refresh token; shared by a connector's streams
/// (cheap to share behind an `Arc`).
///
/// ```
/// use connector_core::http::{HttpClient, OAuthToken};
/// use connector_core::Secret;
/// # async fn demo(url: url::Url) -> connector_core::Result<()> {
/// let http = HttpClient::builder("box").build()?;
/// let token = OAuthToken::new("box", "credentials.box_tokens", Some(Secret::new("a1")))
///     .refreshable(
///         url::Url::parse("https://api.box.com/oauth2/token").unwrap(),
///         "client-id",
///         Some(Secret::new("client-secret")),
///         Secret::new("r1"),
///         "credentials.box_tokens",
///     )
///     .persist_with(|access, refresh| {
///         Secret::new(serde_json::json!({"access_token": access.expose(), "refresh_token": refresh.expose()}).to_string())
///     });
/// // A 401 renews the token once, saving the rotated refresh token before it is used.
/// let response = token.send(&http, |auth| http.get(url.clone()).auth(auth, "credentials.box_tokens")).await?;
/// # Ok(()) }
/// ```
pub struct OAuthToken {
    source: &'static str,
    field: String,
    grant: Option<Grant>,
    state: Mutex<State>,
    store: StdMutex<Arc<dyn CredentialStore>>,
    persist: Option<Persist>,
    restore: Option<Restore>,
    /// The header the token travels in instead of `Authorization: Bearer`.
    header: Option<String>,
    /// The connector's reader of the answer's other fields.
    on_answer: Option<OnAnswer>,
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
    /// Services that answer `{"code", "message"}` instead (DingTalk).
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl OAuthToken {
    /// A token for the connector `source`, kept in the config field `field` (named by errors
    /// and used as the [`CredentialStore`] key), starting from `access` when the config holds
    /// one. Without [`refreshable`](Self::refreshable) it is used as it is.
    pub fn new(source: &'static str, field: impl Into<String>, access: Option<Secret>) -> Self {
        Self {
            source,
            field: field.into(),
            grant: None,
            state: Mutex::new(State {
                access,
                refresh: None,
                until: None,
            }),
            store: StdMutex::new(Arc::new(DiscardCredentials)),
            persist: None,
            restore: None,
            header: None,
            on_answer: None,
        }
    }

    /// Renews the token at `token_url` with `refresh` and the app's `client_id` (and
    /// `client_secret`, which PKCE apps do not have); a refused refresh names `refresh_field`.
    #[must_use]
    pub fn refreshable(
        mut self,
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: Option<Secret>,
        refresh: Secret,
        refresh_field: impl Into<String>,
    ) -> Self {
        self.grant = Some(Grant {
            token_url,
            client_id: client_id.into(),
            client_secret,
            refresh_field: refresh_field.into(),
            scope: None,
            form: None,
            json: None,
            answer: TokenFields::OAUTH,
        });
        self.state.get_mut().refresh = Some(refresh);
        self
    }

    /// A token got with the client credentials grant (RFC 6749 §4.4): `client_id` and
    /// `client_secret` posted to `token_url` with `scope`, the token kept until shortly before
    /// the expiry the endpoint announces, and got again then or after a 401. Microsoft Entra
    /// ID: `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` with scope
    /// `https://storage.azure.com/.default`. A refusal names `secret_field`.
    ///
    /// ```
    /// use connector_core::http::OAuthToken;
    /// use connector_core::Secret;
    /// let url = url::Url::parse("https://login.microsoftonline.com/tenant/oauth2/v2.0/token").unwrap();
    /// let token = OAuthToken::client_credentials(
    ///     "azure_blob",
    ///     url,
    ///     "client-id",
    ///     Secret::new("client-secret"),
    ///     "https://storage.azure.com/.default",
    ///     "credentials.client_secret",
    /// );
    /// assert!(token.can_refresh());
    /// assert!(!format!("{token:?}").contains("client-secret"));
    /// ```
    pub fn client_credentials(
        source: &'static str,
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: Secret,
        scope: impl Into<String>,
        secret_field: impl Into<String>,
    ) -> Self {
        let secret_field = secret_field.into();
        let mut token = Self::new(source, secret_field.clone(), None);
        token.grant = Some(Grant {
            token_url,
            client_id: client_id.into(),
            client_secret: Some(client_secret),
            refresh_field: secret_field,
            scope: Some(scope.into()),
            form: None,
            json: None,
            answer: TokenFields::OAUTH,
        });
        token
    }

    /// A token an app gets on its own with a grant whose form is the service's: `form` gives
    /// the fields posted to `token_url` (`grant_type` included), and is called before each
    /// token request, so a JWT bearer assertion (RFC 7523) can be signed anew with a fresh
    /// expiry and id. The token is kept until shortly before the expiry the endpoint
    /// announces, and got again then or after a 401; nothing is saved (there is no refresh
    /// token). A refusal, or an error of `form`, names `secret_field`.
    ///
    /// Box's client credentials grant: `grant_type=client_credentials`, `client_id`,
    /// `client_secret`, `box_subject_type`, `box_subject_id`.
    ///
    /// ```
    /// use connector_core::http::OAuthToken;
    /// let url = url::Url::parse("https://api.box.com/oauth2/token").unwrap();
    /// let token = OAuthToken::app_grant("box", url, "credentials.box_client_secret", || {
    ///     Ok(vec![
    ///         ("grant_type", "client_credentials".to_owned()),
    ///         ("client_id", "id".to_owned()),
    ///         ("client_secret", "secret".to_owned()),
    ///         ("box_subject_type", "enterprise".to_owned()),
    ///         ("box_subject_id", "123".to_owned()),
    ///     ])
    /// });
    /// assert!(token.can_refresh());
    /// ```
    pub fn app_grant(
        source: &'static str,
        token_url: Url,
        secret_field: impl Into<String>,
        form: impl Fn() -> Result<Vec<(&'static str, String)>> + Send + Sync + 'static,
    ) -> Self {
        let secret_field = secret_field.into();
        let mut token = Self::new(source, secret_field.clone(), None);
        token.grant = Some(Grant {
            token_url,
            client_id: String::new(),
            client_secret: None,
            refresh_field: secret_field,
            scope: None,
            form: Some(Box::new(form)),
            json: None,
            answer: TokenFields::OAUTH,
        });
        token
    }

    /// A token an app gets on its own from an endpoint that takes a JSON body and answers
    /// with field names of its own: `body` gives what is posted to `token_url` (called before
    /// each token request), `answer` names the token and its lifetime in the answer. The token
    /// is kept until shortly before that expiry, and got again then or after a 401; nothing is
    /// saved. A refusal (its `error`/`error_description`, or `code`/`message`), an answer
    /// without a token, or an error of `body`, names `secret_field`.
    ///
    /// DingTalk's app token: `POST https://api.dingtalk.com/v1.0/oauth2/accessToken` with
    /// `{"appKey", "appSecret"}`, answered `{"accessToken", "expireIn"}`, sent as
    /// `x-acs-dingtalk-access-token` ([`sent_in_header`](Self::sent_in_header)).
    ///
    /// ```
    /// use connector_core::http::{OAuthToken, TokenFields};
    /// let url = url::Url::parse("https://api.dingtalk.com/v1.0/oauth2/accessToken").unwrap();
    /// let token = OAuthToken::app_grant_json(
    ///     "dingtalk_ai_table",
    ///     url,
    ///     "credentials.app_secret",
    ///     || Ok(serde_json::json!({"appKey": "key", "appSecret": "secret"})),
    ///     TokenFields::new("accessToken", "expireIn"),
    /// )
    /// .sent_in_header("x-acs-dingtalk-access-token");
    /// assert!(token.can_refresh());
    /// ```
    pub fn app_grant_json(
        source: &'static str,
        token_url: Url,
        secret_field: impl Into<String>,
        body: impl Fn() -> Result<serde_json::Value> + Send + Sync + 'static,
        answer: TokenFields,
    ) -> Self {
        let secret_field = secret_field.into();
        let mut token = Self::new(source, secret_field.clone(), None);
        token.grant = Some(Grant {
            token_url,
            client_id: String::new(),
            client_secret: None,
            refresh_field: secret_field,
            scope: None,
            form: None,
            json: Some(Box::new(body)),
            answer,
        });
        token
    }

    /// Sends the token in the header `name` (`name: <token>`) instead of
    /// `Authorization: Bearer <token>`: [`bearer`](Self::bearer), [`renew`](Self::renew) and
    /// [`send`](Self::send) hand out an [`Auth::Header`].
    #[must_use]
    pub fn sent_in_header(mut self, name: impl Into<String>) -> Self {
        self.header = Some(name.into());
        self
    }

    /// Hands the fields of every token answer other than the tokens themselves
    /// (`access_token`, or the grant's own name for it, and `refresh_token`) to `read`, each
    /// time a token is got and before it is used or returned: what a service answers beside
    /// the token and the connector needs (Salesforce: `instance_url`, where every later call
    /// goes, and `id`, the identity URL naming the org). The tokens are left out so the hook
    /// cannot leak them.
    ///
    /// An error of `read` (an answer the connector cannot use) is the error of the request
    /// that asked for the token. An app grant's token is then not kept, and is asked for again
    /// next time; a renewed refresh token is kept (it may have rotated and been saved).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use connector_core::http::OAuthToken;
    /// let url = url::Url::parse("https://acme.my.salesforce.com/services/oauth2/token").unwrap();
    /// let instance = Arc::new(Mutex::new(None::<String>));
    /// let seen = Arc::clone(&instance);
    /// let token = OAuthToken::app_grant("salesforce", url, "credentials.client_secret", || {
    ///     Ok(vec![("grant_type", "client_credentials".to_owned())])
    /// })
    /// .on_answer(move |answer| {
    ///     let url = answer.get("instance_url").and_then(|v| v.as_str()).map(str::to_owned);
    ///     *seen.lock().unwrap() = url;
    ///     Ok(())
    /// });
    /// assert!(token.can_refresh());
    /// ```
    #[must_use]
    pub fn on_answer(
        mut self,
        read: impl Fn(&serde_json::Map<String, serde_json::Value>) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.on_answer = Some(Box::new(read));
        self
    }

    /// Hands `body`'s fields less the tokens to the [`on_answer`](Self::on_answer) hook.
    fn read_answer(&self, grant: &Grant, body: &[u8]) -> Result<()> {
        let Some(read) = &self.on_answer else {
            return Ok(());
        };
        let mut fields: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                "the token answer is not a JSON object",
            )
            .with_connector(self.source)
            .with_url(&grant.token_url)
            .with_cause(e)
        })?;
        fields.remove(grant.answer.access_token);
        fields.remove("access_token");
        fields.remove("refresh_token");
        read(&fields).map_err(|e| e.with_connector(self.source))
    }

    /// `token` as it is sent.
    fn auth(&self, token: Secret) -> Auth {
        match &self.header {
            Some(name) => Auth::Header {
                name: name.clone(),
                value: token,
            },
            None => Auth::Bearer(token),
        }
    }

    /// After each renewal, saves `persist(new access token, current refresh token)` as the new
    /// content of the token's field through the [`CredentialStore`].
    #[must_use]
    pub fn persist_with(
        mut self,
        persist: impl Fn(&Secret, &Secret) -> Secret + Send + Sync + 'static,
    ) -> Self {
        self.persist = Some(Box::new(persist));
        self
    }

    /// Reads the token's field back, as [`persist_with`](Self::persist_with) wrote it, into
    /// the access token (if the value holds one) and the refresh token.
    ///
    /// With it, a refresh token the endpoint refuses as `invalid_grant` is looked up in the
    /// [`CredentialStore`] ([`CredentialStore::load`]) before the refusal stands: when another
    /// process sharing the credential spent it and saved its successor (Box's refresh tokens
    /// are single-use; a sync and a prune job of one connector renew side by side), the
    /// stored tokens are taken up instead and the run goes on.
    #[must_use]
    pub fn restore_with(
        mut self,
        restore: impl Fn(&Secret) -> Option<(Option<Secret>, Secret)> + Send + Sync + 'static,
    ) -> Self {
        self.restore = Some(Box::new(restore));
        self
    }

    /// Hands renewed tokens to `store` from now on.
    pub fn set_store(&self, store: Arc<dyn CredentialStore>) {
        *self.store.lock().unwrap_or_else(|p| p.into_inner()) = store;
    }

    /// Whether the token can be renewed (a refresh token and a client id were given).
    pub fn can_refresh(&self) -> bool {
        self.grant.is_some()
    }

    /// The config field the token lives in.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The bearer token to send: the current one, or a renewed one when it is missing or about
    /// to expire.
    ///
    /// # Errors
    /// [`ErrorKind::Unauthenticated`] naming the field when there is no token and none can be
    /// had; the token endpoint's refusal (see [`renew`](Self::renew)).
    pub async fn bearer(&self, http: &HttpClient) -> Result<Auth> {
        let mut state = self.state.lock().await;
        let fresh = state
            .until
            .is_none_or(|until| Instant::now() + EXPIRY_MARGIN < until);
        if let Some(access) = state.access.as_ref().filter(|_| fresh) {
            return Ok(self.auth(access.clone()));
        }
        if self.grant.is_none() {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "no access token is configured and none can be had without a refresh token",
            )
            .with_connector(self.source)
            .with_field(self.field.clone()));
        }
        self.refresh(http, &mut state).await
    }

    /// A new token after the service refused `rejected`: the current one if another request
    /// renewed it meanwhile, else one from the token endpoint; `None` when the token cannot be
    /// renewed.
    ///
    /// # Errors
    /// The token endpoint's refusal ([`ErrorKind::Unauthenticated`] naming the refresh
    /// token's or the token's field), its unavailability, or the store's failure to save a
    /// rotated refresh token.
    pub async fn renew(&self, http: &HttpClient, rejected: &Auth) -> Result<Option<Auth>> {
        if self.grant.is_none() {
            return Ok(None);
        }
        let mut state = self.state.lock().await;
        if let (
            Auth::Bearer(rejected)
            | Auth::Header {
                value: rejected, ..
            },
            Some(current),
        ) = (rejected, state.access.as_ref())
            && rejected != current
        {
            return Ok(Some(self.auth(current.clone())));
        }
        self.refresh(http, &mut state).await.map(Some)
    }

    /// Sends the request `build` makes with the current token; a 401 (an error, or a response
    /// when the request hands client errors back) renews the token and the request is sent
    /// once more.
    ///
    /// # Errors
    /// As [`bearer`](Self::bearer) and [`renew`](Self::renew), and the request's own (a second
    /// 401 included).
    pub async fn send(
        &self,
        http: &HttpClient,
        build: impl Fn(Auth) -> RequestBuilder,
    ) -> Result<Response> {
        let auth = self.bearer(http).await?;
        let first = build(auth.clone()).send().await;
        let rejected = match &first {
            Err(e) => e.kind() == ErrorKind::Unauthenticated,
            Ok(resp) => resp.status() == reqwest::StatusCode::UNAUTHORIZED,
        };
        if !rejected {
            return first;
        }
        match self.renew(http, &auth).await? {
            Some(renewed) => build(renewed).send().await,
            None => first,
        }
    }

    async fn refresh(&self, http: &HttpClient, state: &mut State) -> Result<Auth> {
        let Some(grant) = &self.grant else {
            return Err(Error::internal("refresh without a grant").with_connector(self.source));
        };
        if grant.is_app() {
            return self.client_credentials_token(http, grant, state).await;
        }
        // Once: a refusal met by tokens another process saved (see `restore_with`).
        let mut may_take_up = self.restore.is_some();
        loop {
            let Some(refresh) = state.refresh.clone() else {
                return Err(
                    Error::internal("refresh without a refresh grant").with_connector(self.source)
                );
            };
            // Built in a block: the serializer is not `Send` and must not live across an await.
            let form = {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", refresh.expose())
                    .append_pair("client_id", &grant.client_id);
                if let Some(secret) = &grant.client_secret {
                    form.append_pair("client_secret", secret.expose());
                }
                form.finish()
            };
            let resp = http
                .post(grant.token_url.clone())
                .body(form, "application/x-www-form-urlencoded")
                .idempotent(true)
                .client_errors_as_responses()
                .send()
                .await?;
            if resp.status().is_client_error() {
                let refused = self.refused(grant, resp.status().as_u16(), resp.body());
                let err: TokenError = serde_json::from_slice(resp.body()).unwrap_or_default();
                if may_take_up && err.error == "invalid_grant" {
                    may_take_up = false;
                    match self.taken_up(&refresh, state).await? {
                        Some(Some(access)) => return Ok(self.auth(access)),
                        // A stored refresh token without an access token: renew with it.
                        Some(None) => continue,
                        None => {}
                    }
                }
                return Err(refused);
            }
            let parsed: TokenResponse = resp.json().map_err(|e| {
                Error::new(
                    ErrorKind::InvalidData,
                    "the token endpoint answered without an access token",
                )
                .with_connector(self.source)
                .with_url(&grant.token_url)
                .with_cause(e)
            })?;
            let access = Secret::new(parsed.access_token);
            let new_refresh = parsed
                .refresh_token
                .filter(|t| !t.is_empty() && t != refresh.expose())
                .map(Secret::new);
            let rotated = new_refresh.is_some();
            let current_refresh = new_refresh.unwrap_or(refresh);
            if let Some(persist) = &self.persist {
                let value = persist(&access, &current_refresh);
                let store = Arc::clone(&self.store.lock().unwrap_or_else(|p| p.into_inner()));
                match store.save(self.source, &self.field, &value).await {
                    Ok(()) => {}
                    // The old refresh token may already be spent: running on is losing it.
                    Err(e) if rotated => {
                        return Err(Error::new(
                            e.kind(),
                            "the refresh token rotated but the CredentialStore could not save it",
                        )
                        .with_connector(self.source)
                        .with_field(self.field.clone())
                        .with_cause(e));
                    }
                    Err(e) => tracing::warn!(
                        source = self.source,
                        field = %self.field,
                        "the renewed access token could not be saved: {e}"
                    ),
                }
            }
            state.access = Some(access.clone());
            state.refresh = Some(current_refresh);
            state.until = parsed.expires_in.map(|s| token_expiry(Instant::now(), s));
            // After the tokens are kept: a rotated refresh token must not be lost.
            self.read_answer(grant, resp.body())?;
            return Ok(self.auth(access));
        }
    }

    /// After the endpoint refused `spent`: the tokens another process saved in its place, if
    /// the store holds other ones (read up to [`RELOAD_TRIES`] times, [`RELOAD_PAUSE`] apart,
    /// since that process saves right after its renewal). They become the state. `None`:
    /// nothing else is stored; `Some(Some(access))`: the stored access token, to use (its
    /// expiry unknown, so until a 401); `Some(None)`: only a refresh token was stored, to
    /// renew with.
    async fn taken_up(&self, spent: &Secret, state: &mut State) -> Result<Option<Option<Secret>>> {
        let Some(restore) = &self.restore else {
            return Ok(None);
        };
        let store = Arc::clone(&self.store.lock().unwrap_or_else(|p| p.into_inner()));
        for attempt in 0..RELOAD_TRIES {
            if attempt > 0 {
                tokio::time::sleep(RELOAD_PAUSE).await;
            }
            let Some(value) = store.load(self.source, &self.field).await? else {
                return Ok(None);
            };
            let Some((access, refresh)) = restore(&value) else {
                return Ok(None);
            };
            if refresh == *spent {
                continue;
            }
            tracing::info!(
                source = self.source,
                field = %self.field,
                "the refresh token was spent by another process; using the one it saved"
            );
            state.refresh = Some(refresh);
            state.until = None;
            if let Some(access) = &access {
                state.access = Some(access.clone());
            }
            return Ok(Some(access));
        }
        Ok(None)
    }

    /// A token from the client credentials grant, or another app grant, kept in `state`
    /// with its expiry.
    async fn client_credentials_token(
        &self,
        http: &HttpClient,
        grant: &Grant,
        state: &mut State,
    ) -> Result<Auth> {
        if let Some(body) = &grant.json {
            let body = body().map_err(|e| {
                Error::new(e.kind(), "the token request could not be made")
                    .with_connector(self.source)
                    .with_field(grant.refresh_field.clone())
                    .with_cause(e)
            })?;
            let started = Instant::now();
            let resp = http
                .post(grant.token_url.clone())
                .json(&body)
                .idempotent(true)
                .client_errors_as_responses()
                .send()
                .await?;
            drop(body);
            if resp.status().is_client_error() {
                return Err(self.refused(grant, resp.status().as_u16(), resp.body()));
            }
            let (access, expires_in) = self.answer(grant, resp.body())?;
            self.read_answer(grant, resp.body())?;
            state.access = Some(access.clone());
            state.until = expires_in.map(|s| token_expiry(started, s));
            return Ok(self.auth(access));
        }
        let fields = match &grant.form {
            Some(form) => form().map_err(|e| {
                Error::new(e.kind(), "the token request could not be made")
                    .with_connector(self.source)
                    .with_field(grant.refresh_field.clone())
                    .with_cause(e)
            })?,
            None => {
                let mut fields = vec![
                    ("grant_type", "client_credentials".to_owned()),
                    ("client_id", grant.client_id.clone()),
                    ("scope", grant.scope.clone().unwrap_or_default()),
                ];
                if let Some(secret) = &grant.client_secret {
                    fields.push(("client_secret", secret.expose().to_owned()));
                }
                fields
            }
        };
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in &fields {
                form.append_pair(key, value);
            }
            form.finish()
        };
        drop(fields);
        let resp = http
            .post(grant.token_url.clone())
            .body(form, "application/x-www-form-urlencoded")
            .idempotent(true)
            .client_errors_as_responses()
            .send()
            .await?;
        if resp.status().is_client_error() {
            return Err(self.refused(grant, resp.status().as_u16(), resp.body()));
        }
        let parsed: TokenResponse = resp.json().map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                "the token endpoint answered without an access token",
            )
            .with_connector(self.source)
            .with_url(&grant.token_url)
            .with_cause(e)
        })?;
        self.read_answer(grant, resp.body())?;
        let access = Secret::new(parsed.access_token);
        state.access = Some(access.clone());
        state.until = parsed.expires_in.map(|s| token_expiry(Instant::now(), s));
        Ok(self.auth(access))
    }

    /// The access token and its lifetime in an answer, by the grant's [`TokenFields`]; an
    /// answer without a (non-empty) token is an error naming the grant's field.
    fn answer(&self, grant: &Grant, body: &[u8]) -> Result<(Secret, Option<u64>)> {
        let missing = || {
            Error::new(
                ErrorKind::InvalidData,
                format!(
                    "the token endpoint answered without an access token ({})",
                    grant.answer.access_token
                ),
            )
            .with_connector(self.source)
            .with_field(grant.refresh_field.clone())
            .with_url(&grant.token_url)
        };
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| missing().with_cause(e))?;
        let access = value
            .get(grant.answer.access_token)
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(missing)?;
        let expires_in = value.get(grant.answer.expires_in).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        });
        Ok((Secret::new(access), expires_in))
    }

    /// The token endpoint's refusal, naming the field to fix.
    fn refused(&self, grant: &Grant, status: u16, body: &[u8]) -> Error {
        let mut err: TokenError = serde_json::from_slice(body).unwrap_or_default();
        if err.error.is_empty() {
            err.error = std::mem::take(&mut err.code);
        }
        if err.error_description.is_empty() {
            err.error_description = std::mem::take(&mut err.message);
        }
        let desc = if err.error_description.is_empty() {
            String::new()
        } else {
            format!(" ({})", err.error_description)
        };
        let (kind, message) = match err.error.as_str() {
            "invalid_client" | "unauthorized_client" if grant.is_app() => (
                ErrorKind::Unauthenticated,
                format!(
                    "the token endpoint refused the client id or secret (HTTP {status}, {}){desc}",
                    err.error
                ),
            ),
            other if grant.is_app() => (
                ErrorKind::Unauthenticated,
                format!(
                    "the token endpoint refused the client credentials (HTTP {status}, {other}){desc}"
                ),
            ),
            "invalid_grant" => (
                ErrorKind::Unauthenticated,
                format!(
                    "the refresh token was revoked, has expired or was already used; authorise again{desc}"
                ),
            ),
            "invalid_client" | "unauthorized_client" => (
                ErrorKind::Unauthenticated,
                format!("the token endpoint refused the app: check the client id and secret{desc}"),
            ),
            other => (
                ErrorKind::Unauthenticated,
                format!(
                    "the token endpoint refused to renew the token (HTTP {status}, {other}){desc}"
                ),
            ),
        };
        Error::new(kind, message)
            .with_connector(self.source)
            .with_field(grant.refresh_field.clone())
            .with_url(&grant.token_url)
    }
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("source", &self.source)
            .field("field", &self.field)
            .field(
                "token_url",
                &self.grant.as_ref().map(|g| g.token_url.as_str()),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    #[test]
    fn a_hostile_expires_in_saturates_at_a_year() {
        let now = Instant::now();
        assert_eq!(token_expiry(now, 3600), now + Duration::from_secs(3600));
        assert_eq!(token_expiry(now, 3599), now + Duration::from_secs(3599));
        assert_eq!(token_expiry(now, 0), now);
        for hostile in [u64::MAX, u64::MAX / 2, 10 * 365 * 24 * 3600] {
            assert_eq!(
                token_expiry(now, hostile),
                now + LONGEST_TOKEN_LIFETIME,
                "{hostile}"
            );
        }
    }

    /// A lifetime the clock cannot hold is expired at once (connector-google's copy asserted
    /// this of its own `expiry` before it called this one).
    #[test]
    fn an_expiry_past_the_clock_is_now() {
        // The latest instant the clock holds, to within a nanosecond.
        let mut far = Instant::now();
        let mut step = Duration::MAX;
        while !step.is_zero() {
            match far.checked_add(step) {
                Some(later) => far = later,
                None => step /= 2,
            }
        }
        assert_eq!(token_expiry(far, 1), far);
        assert_eq!(token_expiry(far, u64::MAX), far);
    }

    const HEADER: &str = "x-acs-dingtalk-access-token";

    fn http() -> HttpClient {
        HttpClient::builder("test")
            .backoff(Duration::from_millis(1), Duration::from_millis(5))
            .max_retries(1)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn dingtalk(server: &MockServer) -> OAuthToken {
        let url = Url::parse(&format!("{}/v1.0/oauth2/accessToken", server.uri()))
            .unwrap_or_else(|e| panic!("{e}"));
        OAuthToken::app_grant_json(
            "test",
            url,
            "credentials.app_secret",
            || Ok(json!({"appKey": "key1", "appSecret": "secret-XYZ"})),
            TokenFields::new("accessToken", "expireIn"),
        )
        .sent_in_header(HEADER)
    }

    #[tokio::test]
    async fn a_json_grant_posts_json_reads_its_own_names_and_sends_the_header() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1.0/oauth2/accessToken"))
            .and(header("content-type", "application/json"))
            .and(body_json(
                json!({"appKey": "key1", "appSecret": "secret-XYZ"}),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"accessToken": "at-1", "expireIn": 7200})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1.0/oauth2/accessToken"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"accessToken": "at-2", "expireIn": 7200})),
            )
            .mount(&server)
            .await;
        // The first token is refused once: the request goes again with a renewed one.
        Mock::given(method("GET"))
            .and(path("/data"))
            .and(header(HEADER, "at-1"))
            .respond_with(ResponseTemplate::new(401).set_body_json(
                json!({"code": "InvalidAuthentication", "message": "expired", "requestid": "r1"}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/data"))
            .and(header(HEADER, "at-2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .mount(&server)
            .await;
        let http = http();
        let token = dingtalk(&server);
        let data = Url::parse(&format!("{}/data", server.uri())).unwrap_or_else(|e| panic!("{e}"));
        let first = token.bearer(&http).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&first, Auth::Header { name, value } if name == HEADER && value.expose() == "at-1")
        );
        // Within its announced life the token is not asked for again.
        let again = token.bearer(&http).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&again, Auth::Header { value, .. } if value.expose() == "at-1"));
        let resp = token
            .send(&http, |auth| {
                http.get(data.clone()).auth(auth, "credentials.app_secret")
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resp.status().as_u16(), 200);
        let grants = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == "/v1.0/oauth2/accessToken")
            .count();
        assert_eq!(grants, 2);
    }

    #[tokio::test]
    async fn the_answer_s_other_fields_reach_the_hook_without_the_tokens() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/services/oauth2/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "at-1", "refresh_token": "rt-1",
                "instance_url": "https://acme.my.salesforce.com",
                "id": "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA",
                "token_type": "Bearer"
            })))
            .mount(&server)
            .await;
        let url = Url::parse(&format!("{}/services/oauth2/token", server.uri()))
            .unwrap_or_else(|e| panic!("{e}"));
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let token = {
            let seen = Arc::clone(&seen);
            let fail = Arc::clone(&fail);
            OAuthToken::app_grant("test", url, "credentials.client_secret", || {
                Ok(vec![("grant_type", "client_credentials".to_owned())])
            })
            .on_answer(move |answer| {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(answer.clone());
                if fail.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    return Err(Error::new(ErrorKind::InvalidData, "no usable instance_url"));
                }
                Ok(())
            })
        };
        let http = http();
        // The hook refuses the first answer: the request fails and the token is not kept.
        let err = token
            .bearer(&http)
            .await
            .err()
            .unwrap_or_else(|| panic!("refused"));
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("no usable instance_url"), "{err}");
        let auth = token.bearer(&http).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&auth, Auth::Bearer(t) if t.expose() == "at-1"));
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(seen.len(), 2, "asked again after the refusal");
        let answer = &seen[1];
        assert_eq!(answer["instance_url"], "https://acme.my.salesforce.com");
        assert!(
            answer["id"]
                .as_str()
                .is_some_and(|i| i.contains("00D000000000001AAA"))
        );
        assert!(answer.get("access_token").is_none() && answer.get("refresh_token").is_none());
        // Kept: no third token request, no third call of the hook.
        token.bearer(&http).await.unwrap_or_else(|e| panic!("{e}"));
        let grants = server.received_requests().await.unwrap_or_default().len();
        assert_eq!(grants, 2);
    }

    #[tokio::test]
    async fn a_json_grant_refused_or_answered_without_a_token_names_the_secret() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "code": "invalidClientIdOrSecret",
                "message": "bad client id or secret",
                "requestid": "r2"
            })))
            .mount(&server)
            .await;
        let http = http();
        let err = dingtalk(&server)
            .bearer(&http)
            .await
            .err()
            .unwrap_or_else(|| panic!("refused"));
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
        assert_eq!(err.field(), Some("credentials.app_secret"));
        let text = err.to_string();
        assert!(text.contains("invalidClientIdOrSecret"), "{text}");
        assert!(text.contains("bad client id or secret"), "{text}");
        assert!(!text.contains("secret-XYZ"), "{text}");

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"expireIn": 7200})))
            .mount(&server)
            .await;
        let err = dingtalk(&server)
            .bearer(&http)
            .await
            .err()
            .unwrap_or_else(|| panic!("no token"));
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(err.field(), Some("credentials.app_secret"));
    }
}
