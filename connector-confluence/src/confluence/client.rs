//! Requests: the API root (the site, or the Atlassian gateway for scoped tokens and OAuth),
//! the CQL search and its pages, the collections a search result embeds only in part, user
//! and page lookups, attachment downloads, and the probes of `check`. Everything goes through
//! the shared [`HttpClient`] (retries, `Retry-After`, 401/403 mapping, body caps).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use connector_core::http::{Auth, HttpClient, RequestBuilder};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;
use url::Url;

use super::SOURCE;
use super::config::{ConfluenceConfig, IndexMode, gateway_base, is_cloud_id};
use super::model::{Content, Paged, TenantInfo, User};
use super::storage::{PageRef, UserRef};

mod paging;

pub(crate) use paging::Cursor;

/// The field a 401 or 403 tells the user to fix.
pub(crate) const TOKEN_FIELD: &str = "credentials.confluence_access_token";

#[derive(Debug)]
struct Site {
    /// `{api}/rest/api/...`: the site, or the Atlassian gateway; known up front unless the
    /// site's cloud id must be asked for first (`tenant`).
    api: OnceCell<String>,
    /// With `scoped_token` and no `cloud_id`: where the cloud id is asked for, and the
    /// gateway's base it goes into.
    tenant: Option<Tenant>,
    /// Web links: `{web}{_links.webui}`.
    web: String,
    is_cloud: bool,
    gateway: bool,
    /// On Server/Data Center with a user name: which of two ways to send the token.
    server_auth: Option<ServerAuth>,
}

/// Server/Data Center credentials with a user name: RAGFlow's form asks for the user name on Server
/// too; RAGFlow's Python connector then sends the token alone, as a personal access token (Bearer),
/// and its Go connector sends it with the user name as a password (Basic), which Data Center
/// refuses for a personal access token. So the token is tried as a personal access token first and,
/// when the server refuses it, sent with the user name as a password (Basic). Bearer goes first
/// because a refused Bearer token is no failed login of the user, while a refused password is, and
/// enough of those lock the account behind a CAPTCHA.
#[derive(Debug)]
struct ServerAuth {
    token: Auth,
    password: Auth,
    chosen: OnceCell<Auth>,
}

impl ServerAuth {
    /// The way that works, found once with a request that lists one space.
    ///
    /// # Errors
    /// The probe's errors other than a refused token (a wrong `wiki_base`, an unreachable
    /// server); nothing is kept then, and the next request tries again.
    async fn resolve(&self, http: &HttpClient, api: &str) -> Result<&Auth> {
        self.chosen
            .get_or_try_init(|| async {
                let url = Url::parse(&format!("{api}/rest/api/space?limit=1")).map_err(|e| {
                    Error::new(ErrorKind::Config, "cannot build a request URL from `wiki_base`")
                        .with_field("wiki_base")
                        .with_connector(SOURCE)
                        .with_cause(e)
                })?;
                match http.get(url).auth(self.token.clone(), TOKEN_FIELD).send().await {
                    Ok(_) => Ok(self.token.clone()),
                    Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                        tracing::debug!(
                            connector = SOURCE,
                            "the token is no personal access token; sending it as the user's password"
                        );
                        Ok(self.password.clone())
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }
}

/// How the gateway base of a site is found from its cloud id.
#[derive(Debug)]
struct Tenant {
    /// `{scheme}://{host}/_edge/tenant_info` of the site.
    info: Url,
    /// The gateway's base (no trailing `/`) that `/ex/confluence/{cloud id}/wiki` goes under.
    gateway: String,
}

impl Tenant {
    fn of(config: &ConfluenceConfig) -> Result<Self> {
        // The tenant info lives at the site's root, whatever path `wiki_base` has.
        let info = config.wiki_base.join("/_edge/tenant_info").map_err(|e| {
            Error::new(
                ErrorKind::Config,
                "cannot build the tenant info URL from `wiki_base`",
            )
            .with_field("wiki_base")
            .with_connector(SOURCE)
            .with_cause(e)
        })?;
        Ok(Self {
            info,
            gateway: config.gateway(),
        })
    }

    /// Asks the site for its cloud id and returns the gateway base for it.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] naming `wiki_base` when the site has no tenant info (it is not
    /// a Confluence Cloud site), [`ErrorKind::InvalidData`] when the answer has no usable
    /// cloud id, and the request's own errors.
    async fn resolve(&self, http: &HttpClient) -> Result<String> {
        // The tenant info is public: the credentials are not sent with it.
        let answer = http
            .get(self.info.clone())
            .auth(Auth::None, TOKEN_FIELD)
            .send()
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => Error::new(
                    ErrorKind::NotFound,
                    "`wiki_base` has no /_edge/tenant_info to read the cloud id of a scoped \
                     token from; scoped tokens are for Confluence Cloud sites \
                     (https://<site>.atlassian.net/wiki), or set `cloud_id`",
                )
                .with_field("wiki_base")
                .with_connector(SOURCE)
                .with_cause(e),
                _ => e,
            })?;
        let info: TenantInfo = answer.json()?;
        let id = info.cloud_id.trim();
        if !is_cloud_id(id) {
            return Err(Error::invalid_data(
                "the site's /_edge/tenant_info has no usable cloudId; set `cloud_id`",
            )
            .with_field("wiki_base")
            .with_connector(SOURCE));
        }
        Ok(gateway_base(&self.gateway, id))
    }
}

/// The Confluence REST client of one connector. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: HttpClient,
    /// Few retries and a short timeout: `check` must answer in bounded time.
    check: HttpClient,
    site: Arc<Site>,
}

impl Client {
    pub(crate) fn new(config: &ConfluenceConfig) -> Result<Self> {
        let token = config.credentials.confluence_access_token.clone();
        let auth = match config.credentials.username() {
            Some(user) => Auth::Basic {
                username: user.to_owned(),
                password: token.clone(),
            },
            None => Auth::Bearer(token.clone()),
        };
        let server_auth =
            (!config.is_cloud && config.credentials.username().is_some()).then(|| ServerAuth {
                token: Auth::Bearer(token),
                password: auth.clone(),
                chosen: OnceCell::new(),
            });
        // One policy guards every request (the site, the tenant info, the gateway,
        // downloads) and every redirect: the tenant sets `wiki_base` and `api_gateway`.
        let network = config.network_policy()?;
        let http = HttpClient::builder(SOURCE)
            .auth(auth.clone(), TOKEN_FIELD)
            .timeout(Duration::from_secs(120))
            .network_policy(network.clone())
            .build()?;
        let check = HttpClient::builder(SOURCE)
            .auth(auth, TOKEN_FIELD)
            .network_policy(network)
            .timeout(Duration::from_secs(20))
            .max_retries(1)
            .backoff(Duration::from_millis(200), Duration::from_secs(1))
            .retry_after_cap(Duration::from_secs(5))
            .build()?;
        let (api, tenant) = match config.cloud_id() {
            Some(id) => (
                OnceCell::new_with(Some(gateway_base(&config.gateway(), id))),
                None,
            ),
            None if config.scoped_token => (OnceCell::new(), Some(Tenant::of(config)?)),
            None => (OnceCell::new_with(Some(config.web_base())), None),
        };
        Ok(Self {
            http,
            check,
            site: Arc::new(Site {
                api,
                tenant,
                web: config.web_base(),
                is_cloud: config.is_cloud,
                gateway: config.through_gateway(),
                server_auth,
            }),
        })
    }

    /// This client counting into `ctx` and stopping its waits when `ctx` is cancelled.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            check: self.check.clone(),
            site: Arc::clone(&self.site),
        }
    }

    /// This client with the short, few-retries policy of `check`.
    fn for_check(&self) -> Self {
        Self {
            http: self.check.clone(),
            check: self.check.clone(),
            site: Arc::clone(&self.site),
        }
    }

    pub(crate) fn web_base(&self) -> &str {
        &self.site.web
    }

    /// The base API paths hang off: the site, or the gateway. For a scoped token without
    /// `cloud_id`, the site's cloud id is asked for once (by whichever request comes first)
    /// and kept for the connector's life.
    async fn api_base(&self) -> Result<&str> {
        let base = self
            .site
            .api
            .get_or_try_init(|| async {
                match &self.site.tenant {
                    Some(tenant) => tenant.resolve(&self.http).await,
                    // Set when the client was made.
                    None => {
                        Err(Error::new(ErrorKind::Internal, "no API base").with_connector(SOURCE))
                    }
                }
            })
            .await?;
        Ok(base)
    }

    /// `{api}{path}`; `path` starts with `/` and may hold a query.
    pub(crate) async fn api_url(&self, path: &str) -> Result<Url> {
        let text = format!("{}{path}", self.api_base().await?);
        Url::parse(&text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                "cannot build a request URL from `wiki_base`",
            )
            .with_field("wiki_base")
            .with_connector(SOURCE)
            .with_cause(e)
        })
    }

    /// `{web}{path}` for links and downloads.
    pub(crate) fn web_url(&self, path: &str) -> Option<Url> {
        Url::parse(&format!("{}{path}", self.site.web)).ok()
    }

    /// A GET of `url` with the credentials that work (see [`ServerAuth`]).
    async fn get(&self, url: Url) -> Result<RequestBuilder> {
        let request = self.http.get(url);
        match &self.site.server_auth {
            None => Ok(request),
            Some(server) => {
                let auth = server.resolve(&self.http, self.api_base().await?).await?;
                Ok(request.auth(auth.clone(), TOKEN_FIELD))
            }
        }
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.get(url).await?.send().await?.json()
    }

    /// A GET of `{web}{path}` sent without credentials, as an anonymous visitor of the site
    /// (not through the gateway, which serves no anonymous requests), under the same network
    /// policy, retries and caps as every other request; the body is capped at `cap` bytes.
    ///
    /// # Errors
    /// The request's errors: a 401, 403 or 404 is the site refusing anonymous users.
    pub(crate) async fn get_anonymous(
        &self,
        path_segments: &[&str],
        cap: u64,
    ) -> Result<connector_core::http::Response> {
        let mut url = Url::parse(&format!("{}/", self.site.web)).map_err(|e| {
            Error::new(ErrorKind::Config, "cannot build a URL from `wiki_base`")
                .with_field("wiki_base")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        url.path_segments_mut()
            .map_err(|()| Error::internal("no path segments"))?
            .pop_if_empty()
            .extend(path_segments);
        self.http
            .get(url)
            .auth(Auth::None, TOKEN_FIELD)
            .max_body_bytes(cap)
            .send()
            .await
    }

    /// The display name of a mentioned user; `None` when the user is unknown or hidden.
    ///
    /// # Errors
    /// Only errors that affect every request (credentials, an unreachable site).
    pub(crate) async fn user_name(&self, user: &UserRef) -> Result<Option<String>> {
        let (param, value) = match user {
            UserRef::AccountId(id) => ("accountId", id),
            UserRef::Key(key) => ("key", key),
            UserRef::Username(name) => ("username", name),
        };
        let url = self.api_url("/rest/api/user").await?;
        let url = with_query(url, &[(param, value.as_str())]);
        match self.get_json::<User>(url).await {
            Ok(u) => Ok(u.name().map(str::to_owned)),
            Err(e) if soft(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The page `page` (for `include` macros) with `expand` (which names `body.storage`);
    /// `None` when it is missing or hidden.
    pub(crate) async fn page_named(&self, page: &PageRef, expand: &str) -> Result<Option<Content>> {
        let url = self.api_url("/rest/api/content").await?;
        let url = with_query(
            url,
            &[
                ("spaceKey", page.space.as_str()),
                ("title", page.title.as_str()),
                ("expand", expand),
                ("limit", "1"),
            ],
        );
        match self.get_json::<Paged<Content>>(url).await {
            Ok(found) => Ok(found.results.into_iter().next()),
            Err(e) if soft(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The content id of the page the attachment `id` is on; `None` when the attachment is
    /// gone (404).
    ///
    /// # Errors
    /// Any other error of the request.
    pub(crate) async fn container_of(&self, id: &str) -> Result<Option<String>> {
        let mut url = self.api_url("/rest/api/content/").await?;
        url.path_segments_mut()
            .map_err(|()| connector_core::Error::internal("no path segments"))?
            .pop_if_empty()
            .push(id);
        let url = with_query(url, &[("expand", "container")]);
        match self.get_json::<Content>(url).await {
            Ok(found) => Ok(found
                .container
                .map(|c| c.id)
                .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The web URL of a page named by space and title.
    pub(crate) fn page_url(&self, page: &PageRef) -> Option<String> {
        let mut url = Url::parse(&format!("{}/display/", self.site.web)).ok()?;
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .push(&page.space)
            .push(&page.title.replace(' ', "+"));
        Some(url.to_string().replace("%2B", "+"))
    }

    /// Whether the site is Confluence Cloud.
    pub(crate) fn is_cloud(&self) -> bool {
        self.site.is_cloud
    }

    /// The web URL of the attachment `filename` of the page with content id `page_id`:
    /// `{web}/download/attachments/{page_id}/{filename}`, which Cloud and Server/Data Center
    /// both serve (the latest version) to whoever may read the page.
    pub(crate) fn attachment_url(&self, page_id: &str, filename: &str) -> Option<String> {
        let mut url = Url::parse(&format!("{}/download/attachments/", self.site.web)).ok()?;
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .push(page_id)
            .push(filename);
        Some(url.to_string())
    }

    /// The root of a Cloud site (`https://acme.atlassian.net`), where its own Jira's issues
    /// are too; `None` on Server/Data Center, whose Jira is another application.
    pub(crate) fn jira_site(&self) -> Option<String> {
        let web = self.site.web.as_str();
        self.is_cloud()
            .then(|| web.strip_suffix("/wiki").unwrap_or(web).to_owned())
    }

    /// Downloads an attachment, refusing bodies over `cap` bytes.
    pub(crate) async fn download(
        &self,
        page_id: &str,
        attachment_id: &str,
        link: Option<&str>,
        cap: u64,
    ) -> Result<Bytes> {
        let url = if self.site.gateway {
            self.api_url(&format!(
                "/rest/api/content/{page_id}/child/attachment/{attachment_id}/download"
            ))
            .await?
        } else {
            let path = link.ok_or_else(|| {
                Error::invalid_data("the attachment has no download link").with_connector(SOURCE)
            })?;
            self.web_url(path).ok_or_else(|| {
                Error::invalid_data("the attachment's download link is not a valid URL")
                    .with_connector(SOURCE)
            })?
        };
        Ok(self
            .get(url)
            .await?
            .max_body_bytes(cap)
            .send()
            .await?
            .into_body())
    }

    /// A raw GET for `check`.
    async fn probe(&self, path: &str) -> Result<connector_core::http::Response> {
        self.get(self.api_url(path).await?).await?.send().await
    }

    /// Checks, with the short policy of `check`, that `wiki_base` is a Confluence site, that
    /// the credentials are accepted, and that the space or page of `config` can be read.
    ///
    /// # Errors
    /// See [`Connector::check`](connector_core::Connector::check) on the connector.
    pub(crate) async fn check(&self, config: &ConfluenceConfig) -> Result<()> {
        let client = self.for_check();
        let site = client
            .probe("/rest/api/space?limit=1")
            .await
            .map_err(|e| site_error(e, config))?;
        let looks_right = serde_json::from_slice::<serde_json::Value>(site.body())
            .ok()
            .is_some_and(|v| v.get("results").is_some());
        if !looks_right {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "`wiki_base` ({}) answered, but not as the Confluence REST API does",
                    self.web_base()
                ),
            )
            .with_connector(SOURCE)
            .with_field("wiki_base"));
        }
        if config.cql_query().is_some() {
            // The query itself is checked by `check_query`; the mode's fields are not read.
            return Ok(());
        }
        let (path, field, what) = match config.mode() {
            IndexMode::Everything => return Ok(()),
            IndexMode::Space => {
                let key = config.space().unwrap_or("");
                (
                    format!("/rest/api/space/{key}"),
                    "space",
                    format!("space `{key}`"),
                )
            }
            IndexMode::Page => {
                let id = config.page_id().unwrap_or("");
                (
                    format!("/rest/api/content/{id}"),
                    "page_id",
                    format!("page {id}"),
                )
            }
        };
        match client.probe(&path).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("the credentials are valid but have no permission to read {what}"),
            )
            .with_connector(SOURCE)
            .with_field(field)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::new(
                ErrorKind::NotFound,
                format!("{what} does not exist, or these credentials cannot see it"),
            )
            .with_connector(SOURCE)
            .with_field(field)),
            Err(e) => Err(e),
        }
    }
}

impl Client {
    /// Runs the search `first` (path and query; one result is enough) with the policy of
    /// `check`, to learn whether Confluence accepts the configured `cql_query`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming `cql_query` when Confluence refuses the query (HTTP 400,
    /// with its message); the request's other errors as they are.
    pub(crate) async fn check_query(&self, first: &str) -> Result<()> {
        match self.for_check().probe(first).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::InvalidData => Err(Error::new(
                ErrorKind::Config,
                format!("Confluence does not accept `cql_query`: {}", e.message()),
            )
            .with_connector(SOURCE)
            .with_field("cql_query")),
            Err(e) => Err(e),
        }
    }
}

/// Tells a wrong `wiki_base` from the rest when the first request of `check` fails.
fn site_error(e: Error, config: &ConfluenceConfig) -> Error {
    // Already says which field is wrong and why (the credentials, a scoped token's lookup).
    if e.field().is_some() {
        return e;
    }
    let hint = if config.is_cloud {
        "Cloud sites look like https://<site>.atlassian.net/wiki"
    } else {
        "Server/Data Center: the base URL with its context path, if any"
    };
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::InvalidData => Error::new(
            ErrorKind::NotFound,
            format!(
                "`wiki_base` ({}) does not serve the Confluence REST API; {hint}",
                config.web_base()
            ),
        )
        .with_connector(SOURCE)
        .with_field("wiki_base")
        .with_cause(e),
        ErrorKind::Unavailable => Error::new(
            ErrorKind::Unavailable,
            format!("`wiki_base` ({}) cannot be reached", config.web_base()),
        )
        .with_connector(SOURCE)
        .with_field("wiki_base")
        .with_cause(e),
        _ => e,
    }
}

/// Lookup errors that only mean "no answer": missing, hidden, or not what we expected.
pub(crate) fn soft(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidData
    )
}

/// `url` with `pairs` added to its query.
pub(crate) fn with_query(mut url: Url, pairs: &[(&str, &str)]) -> Url {
    url.query_pairs_mut().extend_pairs(pairs);
    url
}
