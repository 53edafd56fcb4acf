//! [`GraphClient`]: requests to Microsoft Graph as an app registration (client credentials).

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;

use connector_core::http::{
    Auth, ErrorClass, HttpClient, HttpClientBuilder, OAuthToken, RequestBuilder, Response,
    StatusCode,
};
use connector_core::net::NetworkPolicy;
use connector_core::{Error, ErrorKind, FieldError, Result, Secret, SyncContext};
use serde::de::DeserializeOwned;
use url::Url;

use super::certificate::CERTIFICATE_KEY_FIELD;
use super::model::{BatchEnvelope, BatchRequest, Delta, ErrorBody, Page};

/// Microsoft Entra ID's authority in the global cloud: tokens come from
/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Microsoft Graph in the global cloud; the API root is `{graph}/v1.0/`.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// The Graph API version every request names.
pub const API_VERSION: &str = "v1.0";

/// Resource units left at or under which [`GraphClient`] waits for SharePoint's budget to
/// reset: a permissions read costs 5, and a few workers may be sending at once.
pub const LOW_BUDGET: u64 = 25;

/// How long to wait before the next request when `resp` says SharePoint's resource-unit
/// budget is nearly spent: `RateLimit-Remaining` at or under [`LOW_BUDGET`] (or under 2% of
/// `RateLimit-Limit`, for a large tenant's budget) with `RateLimit-Reset` seconds; `None`
/// otherwise, and without the headers (under 80% of the budget, or not SharePoint).
fn budget_wait(resp: &Response) -> Option<std::time::Duration> {
    let number = |name: &str| resp.header(name)?.trim().parse::<u64>().ok();
    let remaining = number("ratelimit-remaining")?;
    let reset = number("ratelimit-reset").filter(|r| *r > 0)?;
    let low = number("ratelimit-limit").map_or(LOW_BUDGET, |limit| LOW_BUDGET.max(limit / 50));
    (remaining <= low).then(|| std::time::Duration::from_secs(reset))
}

/// Requests in one JSON batch: Graph's limit.
pub const BATCH_LIMIT: usize = 20;

/// The config field of the client secret, named in authentication errors.
pub const SECRET_FIELD: &str = "credentials.client_secret";

/// An app registration that reads a tenant with application permissions (client
/// credentials): RAGFlow's `credentials.tenant_id`, `client_id` and `client_secret`, plus the
/// authority and Graph hosts of a national cloud (or a test server).
///
/// ```
/// use connector_misc::graph::GraphApp;
/// let app = GraphApp::new("contoso.onmicrosoft.com", "app-id", "s3cret");
/// assert!(app.problems().is_empty());
/// assert_eq!(
///     app.token_url().unwrap().as_str(),
///     "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
/// );
/// assert_eq!(app.scope().unwrap(), "https://graph.microsoft.com/.default");
/// assert!(!format!("{app:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq)]
pub struct GraphApp {
    /// The directory (tenant) id, a GUID or a verified domain (`contoso.onmicrosoft.com`).
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret; empty with certificate credentials.
    pub client_secret: Secret,
    /// Certificate credentials instead of the secret: the PEM private key of a certificate
    /// uploaded to the app registration (see [`CERTIFICATE_KEY_FIELD`]).
    pub certificate_key: Option<Secret>,
    /// That certificate's thumbprint, in hex as the Entra admin center shows it (SHA-1; or
    /// SHA-256).
    pub certificate_thumbprint: Option<String>,
    /// The password of a PFX given as [`certificate_key`](Self::certificate_key) (see
    /// [`CERTIFICATE_PASSWORD_FIELD`](super::CERTIFICATE_PASSWORD_FIELD)).
    pub certificate_password: Option<Secret>,
    /// The Entra ID authority (default [`DEFAULT_AUTHORITY`]; `https://login.microsoftonline.us`
    /// for US Government, `https://login.chinacloudapi.cn` for 21Vianet).
    pub authority_host: Option<Url>,
    /// The Graph host (default [`DEFAULT_GRAPH_URL`]; `https://graph.microsoft.us`,
    /// `https://dod-graph.microsoft.us`, `https://microsoftgraph.chinacloudapi.cn`).
    pub graph_url: Option<Url>,
}

impl std::fmt::Debug for GraphApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphApp")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field(
                "certificate_key",
                &self.certificate_key.as_ref().map(|_| "***"),
            )
            .field("certificate_thumbprint", &self.certificate_thumbprint)
            .field(
                "certificate_password",
                &self.certificate_password.as_ref().map(|_| "***"),
            )
            .field(
                "authority_host",
                &self.authority_host.as_ref().map(Url::as_str),
            )
            .field("graph_url", &self.graph_url.as_ref().map(Url::as_str))
            .finish()
    }
}

impl GraphApp {
    /// The app `client_id` of `tenant_id` with `client_secret`, in the global cloud.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            certificate_key: None,
            certificate_thumbprint: None,
            certificate_password: None,
            authority_host: None,
            graph_url: None,
        }
    }

    /// This app with certificate credentials instead of the secret: the certificate's PEM
    /// private key and its `thumbprint` (hex).
    #[must_use]
    pub fn with_certificate(
        mut self,
        key: impl Into<Secret>,
        thumbprint: impl Into<String>,
    ) -> Self {
        self.certificate_key = Some(key.into());
        self.certificate_thumbprint = Some(thumbprint.into());
        self
    }

    /// This app with certificate credentials from a PFX (PKCS#12) file: its bytes in base64
    /// and its password. The certificate inside names itself (its SHA-256 thumbprint).
    #[must_use]
    pub fn with_pfx(mut self, pfx_base64: impl Into<Secret>, password: impl Into<Secret>) -> Self {
        self.certificate_key = Some(pfx_base64.into());
        self.certificate_password = Some(password.into());
        self
    }

    /// The config field a refused token names: the certificate's key or the secret.
    pub fn credential_field(&self) -> &'static str {
        if self.certificate_key.is_some() {
            CERTIFICATE_KEY_FIELD
        } else {
            SECRET_FIELD
        }
    }

    /// Every problem of these settings, by config field (`credentials.tenant_id`,
    /// `credentials.client_id`, `credentials.client_secret`, `authority_host`, `graph_url`).
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let tenant = self.tenant_id.trim();
        if tenant.is_empty() {
            problems.push(FieldError::new("credentials.tenant_id", "is required"));
        } else if !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            problems.push(FieldError::new(
                "credentials.tenant_id",
                "is a tenant id (a GUID) or a domain (contoso.onmicrosoft.com)",
            ));
        }
        if self.client_id.trim().is_empty() {
            problems.push(FieldError::new("credentials.client_id", "is required"));
        }
        match &self.certificate_key {
            Some(key) => {
                if !self.client_secret.expose().is_empty() {
                    problems.push(FieldError::new(
                        SECRET_FIELD,
                        "is given with credentials.client_certificate_key: give one of them",
                    ));
                }
                problems.extend(super::certificate::problems(
                    key,
                    self.certificate_password.as_ref(),
                    self.certificate_thumbprint.as_deref(),
                ));
            }
            None if self.certificate_thumbprint.is_some() => problems.push(FieldError::new(
                CERTIFICATE_KEY_FIELD,
                "is required with credentials.client_certificate_thumbprint",
            )),
            None if self.certificate_password.is_some() => problems.push(FieldError::new(
                CERTIFICATE_KEY_FIELD,
                "is required with credentials.client_certificate_password (the PFX it opens)",
            )),
            None if self.client_secret.expose().is_empty() => problems.push(FieldError::new(
                SECRET_FIELD,
                "is required (or credentials.client_certificate_key and client_certificate_thumbprint)",
            )),
            None => {}
        }
        for (field, url) in [
            ("authority_host", &self.authority_host),
            ("graph_url", &self.graph_url),
        ] {
            if let Some(url) = url
                && (!matches!(url.scheme(), "http" | "https") || url.host_str().is_none())
            {
                problems.push(FieldError::new(field, "must be an http(s) URL"));
            }
        }
        problems
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming `authority_host` when it cannot take a path.
    pub fn token_url(&self) -> Result<Url> {
        let mut url = match &self.authority_host {
            Some(u) => u.clone(),
            None => parse_default(DEFAULT_AUTHORITY)?,
        };
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| config_error("authority_host", "cannot take a path"))?
            .pop_if_empty()
            .extend([self.tenant_id.trim(), "oauth2", "v2.0", "token"]);
        Ok(url)
    }

    /// The client credentials scope: `{graph origin}/.default`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming `graph_url` when it has no host.
    pub fn scope(&self) -> Result<String> {
        let graph = self.graph()?;
        let origin = graph.origin();
        if !origin.is_tuple() {
            return Err(config_error("graph_url", "has no host"));
        }
        Ok(format!("{}/.default", origin.ascii_serialization()))
    }

    /// The API root every path is relative to: `{graph}/v1.0/`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming `graph_url` when it cannot take a path.
    pub fn api_root(&self) -> Result<Url> {
        let mut url = self.graph()?;
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| config_error("graph_url", "cannot take a path"))?
            .pop_if_empty()
            .extend([API_VERSION, ""]);
        Ok(url)
    }

    fn graph(&self) -> Result<Url> {
        match &self.graph_url {
            Some(u) => Ok(u.clone()),
            None => parse_default(DEFAULT_GRAPH_URL),
        }
    }
}

/// Whether `s` is a GUID (`8-4-4-4-12` hex digits).
pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The `tid` claim (the tenant's GUID) of an Entra ID access token, read without checking
/// its signature (it came from the token endpoint over TLS); `None` when the token is not a
/// JWT with one.
fn token_tenant(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let tid = claims.get("tid")?.as_str()?.trim().to_lowercase();
    is_guid(&tid).then_some(tid)
}

fn parse_default(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|e| Error::internal(format!("bad default URL {url}: {e}")))
}

fn config_error(field: &str, message: &str) -> Error {
    Error::new(ErrorKind::Config, format!("`{field}` {message}")).with_field(field.to_owned())
}

/// Requests to Microsoft Graph for one source, shared by its streams (cheap to clone).
///
/// - **Token**: the client credentials grant at the app's authority, scope
///   `{graph}/.default`, cached until a minute before the expiry Entra ID announced, renewed
///   once when Graph answers 401 (core's [`OAuthToken`]).
/// - **Paging**: `@odata.nextLink` is followed as given (it carries Graph's own skip token);
///   a link that leaves the Graph origin is refused, so the token is never sent elsewhere.
/// - **Delta queries**: [`delta`](Self::delta) returns a page or, on `410 Gone`, the order
///   to start the round over ([`Delta::Restart`]).
/// - **Throttling**: 429 and 503/504 are retried by core's client after their `Retry-After`
///   (Graph sends it with both); a throttled member of a JSON batch is sent again on its own
///   after its `Retry-After` (the longest of the batch's, up to the client's cap), through the
///   same client, which waits out any further throttling. A JSON batch takes one permit of
///   the client's rate limit (and rate gate) per member: Graph counts each member against its
///   limits.
/// - **Errors**: Graph's `{"error": {"code", "message"}}` is read into the error text with
///   its request id; 403 names the application permission the source needs
///   (`permission_hint`), 401 the client secret.
#[derive(Clone)]
pub struct GraphClient {
    pub(super) source: &'static str,
    /// The config field a refused token names (the secret, or the certificate's key).
    credential_field: &'static str,
    /// The application permissions a 403 names.
    permission_hint: &'static str,
    http: HttpClient,
    token: Arc<OAuthToken>,
    root: Url,
    /// The tenant's directory id once known (see [`tenant`](Self::tenant)).
    tenant: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("source", &self.source)
            .field("root", &self.root.as_str())
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// A client for `source` reading as `app`, its requests kept to `policy` (the token
    /// endpoint's too), its HTTP settings adjusted by `tune` (rate limit, timeouts, body
    /// cap). `permission_hint` names the application permissions a 403 asks for
    /// (`"Files.Read.All"`).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for settings [`GraphApp::problems`] lists, or an HTTP client that
    /// cannot be built.
    pub fn new(
        source: &'static str,
        app: &GraphApp,
        policy: NetworkPolicy,
        permission_hint: &'static str,
        tune: impl FnOnce(HttpClientBuilder) -> HttpClientBuilder,
    ) -> Result<Self> {
        if let Some(p) = app.problems().into_iter().next() {
            let text = p.to_string();
            return Err(Error::new(ErrorKind::Config, text)
                .with_connector(source)
                .with_field(p.path));
        }
        // Graph throttles per app and tenant, whatever the token of the hour: one gate key
        // for both, so workers of one tenant share a 429's wait and tenants do not.
        let builder = HttpClient::builder(source)
            .network_policy(policy)
            .rate_gate_key(format!(
                "graph:{}:{}",
                app.tenant_id.trim().to_lowercase(),
                app.client_id.trim()
            ))
            .error_classifier(move |status, body| classify(status, body, permission_hint));
        let http = tune(builder).build()?;
        let token = match &app.certificate_key {
            Some(key) => super::certificate::token(
                source,
                app.token_url()?,
                app.client_id.trim(),
                app.scope()?,
                key,
                app.certificate_password.as_ref(),
                app.certificate_thumbprint.as_deref().unwrap_or_default(),
            )?,
            None => OAuthToken::client_credentials(
                source,
                app.token_url()?,
                app.client_id.trim(),
                app.client_secret.clone(),
                app.scope()?,
                SECRET_FIELD,
            ),
        };
        let credential_field = app.credential_field();
        Ok(Self {
            source,
            credential_field,
            permission_hint,
            http,
            token: Arc::new(token),
            tenant: Arc::new(OnceLock::new()),
            root: app.api_root()?,
        })
    }

    /// This client counting its requests into `ctx` and stopping its waits when `ctx` is
    /// cancelled; the token is shared.
    pub fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    /// The tenant's directory id (a GUID, lower case) for `configured` (the config's
    /// `tenant_id`): itself when it is one, else the `tid` claim of the app's access token. A
    /// verified domain (`contoso.onmicrosoft.com`) and the GUID name one tenant, and the
    /// access keys made of it (`tenant:{id}`) must not depend on which of them a config
    /// gives, nor differ between sources. A token without a readable `tid` leaves
    /// `configured`, lower case. Known once per client.
    ///
    /// # Errors
    /// Getting the token (credentials refused, Entra ID unreachable).
    pub async fn tenant(&self, configured: &str) -> Result<String> {
        if let Some(t) = self.tenant.get() {
            return Ok(t.clone());
        }
        let configured = configured.trim().to_lowercase();
        let resolved = if is_guid(&configured) {
            configured
        } else {
            match self.token.bearer(&self.http).await? {
                Auth::Bearer(token) => token_tenant(token.expose()).unwrap_or(configured),
                _ => configured,
            }
        };
        Ok(self.tenant.get_or_init(|| resolved).clone())
    }

    /// The HTTP client underneath (for downloads from pre-authenticated URLs, which must not
    /// carry the token).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The API root (`{graph}/v1.0/`).
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// `path` (`drives/{id}/root/delta`, segments already escaped) under the API root, with
    /// `query`.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`] for a path the root cannot join.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.root.join(path.trim_start_matches('/')).map_err(|e| {
            Error::internal(format!("bad Graph path {path}: {e}")).with_connector(self.source)
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().copied());
        }
        Ok(url)
    }

    /// Sends the request `build` makes for `url`, with the token; a 401 renews it once.
    ///
    /// # Errors
    /// As core's [`RequestBuilder::send`], mapped through Graph's error bodies.
    pub async fn send(
        &self,
        url: &Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        self.check_origin(url)?;
        let resp = self
            .token
            .send(&self.http, |auth: Auth| {
                build(self.http.get(url.clone())).auth(auth, self.credential_field)
            })
            .await?;
        self.mind_budget(&resp).await;
        Ok(resp)
    }

    /// Waits out SharePoint's resource-unit budget when an answer says it is nearly spent.
    ///
    /// SharePoint (Graph's files, sites and lists) adds `RateLimit-Limit`,
    /// `RateLimit-Remaining` and `RateLimit-Reset` (resource units a minute, those left, the
    /// seconds until the window resets) to its answers once an app has used 80% of its
    /// minute's budget, before it answers 429. With [`LOW_BUDGET`] or fewer units left, the
    /// next request of this client waits for the reset (up to the client's Retry-After cap)
    /// rather than spend the rest and meet a 429, which counts against the budget too.
    async fn mind_budget(&self, resp: &Response) {
        let Some(wait) = budget_wait(resp) else {
            return;
        };
        let wait = wait.min(self.http.retry_policy().retry_after_cap);
        tracing::debug!(
            connector = self.source,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "SharePoint's resource units are nearly spent; waiting for the reset"
        );
        tokio::time::sleep(wait).await;
    }

    /// `GET url` as `T`.
    ///
    /// # Errors
    /// As [`send`](Self::send); [`ErrorKind::InvalidData`] for a body that is not a `T`.
    pub async fn get<T: DeserializeOwned>(&self, url: &Url) -> Result<T> {
        self.send(url, |r| r).await?.json()
    }

    /// `GET url` as `T`; `None` when Graph answers 404.
    ///
    /// # Errors
    /// As [`get`](Self::get), but not for a missing resource.
    pub async fn get_opt<T: DeserializeOwned>(&self, url: &Url) -> Result<Option<T>> {
        match self.get(url).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of a collection.
    ///
    /// # Errors
    /// As [`get`](Self::get); a `@odata.nextLink` outside the Graph origin is
    /// [`ErrorKind::InvalidData`] when it is followed.
    pub async fn page<T: DeserializeOwned>(&self, url: &Url) -> Result<Page<T>> {
        self.get(url).await
    }

    /// Every item of a collection, following `@odata.nextLink` to the end. For short
    /// listings only (drives of a site, channels of a team, mail folders of a user); long
    /// ones are paged by their caller, which checkpoints between pages.
    ///
    /// # Errors
    /// As [`page`](Self::page).
    pub async fn all<T: DeserializeOwned>(&self, url: &Url) -> Result<Vec<T>> {
        self.all_with(url, |r| r).await
    }

    /// One page of a delta query at `url` (the query's first URL, a `@odata.nextLink` or a
    /// stored `@odata.deltaLink`), or [`Delta::Restart`] when Graph answers `410 Gone`.
    ///
    /// # Errors
    /// As [`get`](Self::get) for any other failure.
    pub async fn delta<T: DeserializeOwned>(&self, url: &Url) -> Result<Delta<T>> {
        self.delta_with(url, |r| r).await
    }

    /// [`delta`](Self::delta) with the request adjusted by `build` (a `Prefer` header).
    ///
    /// # Errors
    /// As [`delta`](Self::delta).
    pub async fn delta_with<T: DeserializeOwned>(
        &self,
        url: &Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Delta<T>> {
        self.delta_read(url, build, Response::json).await
    }

    /// [`delta_with`](Self::delta_with), a page's answer read by `read` (Outlook reads a page
    /// whole in one pass, and message by message only when that fails).
    ///
    /// # Errors
    /// As [`delta`](Self::delta), and `read`'s.
    pub async fn delta_read<T>(
        &self,
        url: &Url,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
        read: impl FnOnce(&Response) -> Result<Page<T>>,
    ) -> Result<Delta<T>> {
        let resp = self
            .send(url, |r| build(r).client_errors_as_responses())
            .await?;
        let status = resp.status();
        if status == StatusCode::GONE {
            let (code, _) = ErrorBody::describe(resp.body());
            let restart_at = resp
                .header("location")
                .and_then(|l| url.join(l).ok())
                .filter(|l| self.same_origin(l));
            return Ok(Delta::Restart { restart_at, code });
        }
        if status.is_client_error() {
            return Err(self.client_error(status, resp.body(), url));
        }
        Ok(Delta::Page(read(&resp)?))
    }

    /// `GET` each of `paths` (relative to the API root, with their queries) in JSON batches
    /// of [`BATCH_LIMIT`], answers in the order asked: `Some(T)` for a success, `None` for a
    /// 404, an error (naming the path) for any other status. A member Graph throttles (429,
    /// 503, 504) is sent again on its own, through the client's retries.
    ///
    /// # Errors
    /// The batch request's own failure (all of it failed).
    pub async fn batch_get<T: DeserializeOwned>(
        &self,
        paths: &[String],
    ) -> Result<Vec<Result<Option<T>>>> {
        self.batch_get_with(paths, &[]).await
    }

    /// [`batch_get`](Self::batch_get) with `headers` on every member (and on a member sent
    /// again alone): a batch member carries only its own headers, not the batch request's
    /// (Outlook's `Prefer: IdType="ImmutableId"`).
    ///
    /// # Errors
    /// As [`batch_get`](Self::batch_get).
    pub async fn batch_get_with<T: DeserializeOwned>(
        &self,
        paths: &[String],
        headers: &[(&str, &str)],
    ) -> Result<Vec<Result<Option<T>>>> {
        self.batch_get_inner(paths, headers, false).await
    }

    /// [`batch_get`](Self::batch_get), but a 404 is an error (`NotFound`) carrying Graph's
    /// code and message rather than `None`: for the caller that must tell "this user has no
    /// OneDrive" (`User's mysite not found`) from any other 404 before it takes one for
    /// "nothing there".
    ///
    /// # Errors
    /// As [`batch_get`](Self::batch_get).
    pub async fn batch_get_explained<T: DeserializeOwned>(
        &self,
        paths: &[String],
    ) -> Result<Vec<Result<Option<T>>>> {
        self.batch_get_inner(paths, &[], true).await
    }

    async fn batch_get_inner<T: DeserializeOwned>(
        &self,
        paths: &[String],
        headers: &[(&str, &str)],
        explain_404: bool,
    ) -> Result<Vec<Result<Option<T>>>> {
        let mut out = Vec::with_capacity(paths.len());
        let batch_url = self.url("$batch", &[])?;
        for chunk in paths.chunks(BATCH_LIMIT) {
            let requests: Vec<BatchRequest<'_>> = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| BatchRequest {
                    id: i.to_string(),
                    method: "GET",
                    url: p.as_str(),
                    headers: headers.iter().copied().collect(),
                })
                .collect();
            let body = serde_json::json!({ "requests": requests });
            // Graph counts every member against its limits, not the batch: so does the
            // client's rate limit (and the shared gate).
            let permits = u32::try_from(chunk.len())
                .ok()
                .and_then(NonZeroU32::new)
                .unwrap_or(NonZeroU32::MIN);
            let envelope = self
                .token
                .send(&self.http, |auth: Auth| {
                    // A batch of GETs reads only: safe to send again.
                    self.http
                        .post(batch_url.clone())
                        .json(&body)
                        .idempotent(true)
                        .permits(permits)
                        .auth(auth, self.credential_field)
                })
                .await?;
            self.mind_budget(&envelope).await;
            let envelope: BatchEnvelope = envelope.json()?;
            let mut answers: Vec<Option<super::model::BatchResponse>> = vec![None; chunk.len()];
            for r in envelope.responses {
                if let Some(slot) = r.id.parse::<usize>().ok().and_then(|i| answers.get_mut(i)) {
                    *slot = Some(r);
                }
            }
            // Throttled members are sent again alone, after the longest `Retry-After` Graph
            // gave them (up to the client's cap): sent at once, each would meet another 429.
            let wait = answers
                .iter()
                .flatten()
                .filter(|a| matches!(a.status, 429 | 503 | 504))
                .filter_map(super::model::BatchResponse::retry_after)
                .max();
            if let Some(wait) = wait {
                let wait = wait.min(self.http.retry_policy().retry_after_cap);
                tracing::debug!(
                    connector = self.source,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "batch members throttled; waiting before sending them again"
                );
                tokio::time::sleep(wait).await;
            }
            for (path, answer) in chunk.iter().zip(answers) {
                out.push(self.batch_answer(path, answer, headers, explain_404).await);
            }
        }
        Ok(out)
    }

    async fn batch_answer<T: DeserializeOwned>(
        &self,
        path: &str,
        answer: Option<super::model::BatchResponse>,
        headers: &[(&str, &str)],
        explain_404: bool,
    ) -> Result<Option<T>> {
        let throttled = |s: u16| matches!(s, 429 | 503 | 504);
        match answer {
            Some(a) if (200..300).contains(&a.status) => {
                serde_json::from_value(a.body).map(Some).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidData,
                        format!("Graph's batch answer for `{path}` cannot be read: {e}"),
                    )
                    .with_connector(self.source)
                })
            }
            Some(a) if a.status == 404 && !explain_404 => Ok(None),
            Some(a) if !throttled(a.status) => {
                let body = serde_json::to_vec(&a.body).unwrap_or_default();
                let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_REQUEST);
                let url = self.url(path, &[])?;
                Err(self.client_error(status, &body, &url))
            }
            // Throttled, or missing from the envelope: on its own, through the retries.
            _ => {
                let url = self.url(path, &[])?;
                let sent = self
                    .get_with(&url, |r| {
                        headers
                            .iter()
                            .fold(r, |r, (name, value)| r.header(name, value))
                    })
                    .await;
                match sent {
                    Ok(v) => Ok(Some(v)),
                    Err(e) if e.kind() == ErrorKind::NotFound && !explain_404 => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.root.origin()
    }

    fn check_origin(&self, url: &Url) -> Result<()> {
        if self.same_origin(url) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "Graph handed a link to {} outside {}; it is not followed with the token",
                url.origin().ascii_serialization(),
                self.root.origin().ascii_serialization()
            ),
        )
        .with_connector(self.source))
    }

    fn client_error(&self, status: StatusCode, body: &[u8], url: &Url) -> Error {
        let (_, said) = ErrorBody::describe(body);
        let kind = match status.as_u16() {
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::PermissionDenied,
            404 | 410 | 423 => ErrorKind::NotFound,
            _ => ErrorKind::InvalidData,
        };
        let mut shown = url.clone();
        shown.set_query(None);
        // A delta query's 403 names the permission as every other request's does (`classify`).
        let hint = if kind == ErrorKind::PermissionDenied {
            format!(
                "; the app registration needs the application permission {} with admin consent",
                self.permission_hint
            )
        } else {
            String::new()
        };
        Error::new(
            kind,
            format!("Graph answered {status} for {shown}: {said}{hint}"),
        )
        .with_connector(self.source)
    }
}

/// What Graph's error bodies add to the status: the code and message, the request id, and
/// for 403 the application permissions the source needs (admin consent included).
fn classify(status: StatusCode, body: &[u8], permission_hint: &str) -> Option<ErrorClass> {
    let (code, said) = ErrorBody::describe(body);
    match status.as_u16() {
        401 => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!(
                "Microsoft Graph refused the app's token ({said}); check credentials.client_id, {SECRET_FIELD} and credentials.tenant_id"
            ),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Microsoft Graph denied access ({said}); the app registration needs the application permission {permission_hint} with admin consent"
            ),
        )),
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Microsoft Graph: {said}"),
        )),
        410 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Microsoft Graph: gone ({said})"),
        )),
        // A site or drive locked with no access, or archived: nobody reads it until an admin
        // brings it back, so none of it is there to read.
        423 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Microsoft Graph: locked or archived ({said})"),
        )),
        // SharePoint's "too many requests from this app" answered as a 4xx other than 429.
        _ if code == "activityLimitReached" => Some(ErrorClass::new(
            ErrorKind::RateLimited,
            format!("Microsoft Graph: {said}"),
        )),
        _ => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Microsoft Graph: {said}"),
        )),
    }
}
