//! Requests: the API root (scoped tokens through the gateway), JQL,
//! search pages for Cloud and Server, comment pages, single issues and attachment downloads.
//! Retries, `Retry-After`, rate limits and body caps are the core [`HttpClient`]'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use connector_core::http::{Auth, HttpClient, Response, RetryPolicy, StatusCode};
use connector_core::pages::{OffsetWalk, Page, Step};
use connector_core::{Error, ErrorKind, Result, SyncContext, TimeWindow};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use url::Url;

use super::SOURCE;
use super::checkpoint::Cursor;
use super::config::{DEFAULT_API_GATEWAY, JiraConfig};
use super::model::{
    Attachment, AttachmentMetadata, CommentPage, ErrorBody, Holder, LevelMembers, PermissionScheme,
    ProjectRole, SearchPage, ServerInfo, TenantInfo, User,
};

/// Comments per `/issue/{key}/comment` request (the API's maximum).
const COMMENT_PAGE: u32 = 100;

/// Pages of one security level's members read at most (50 each).
const MAX_LOOKUP_PAGES: usize = 20;

struct Shared {
    config: Arc<JiraConfig>,
    /// Cloud or Server as the site said (`serverInfo`), asked once when the config does not
    /// say (see [`JiraConfig::cloud_declared`]).
    probed: OnceCell<bool>,
    /// A Server search was answered 410 Gone: the site is Cloud, whatever else said.
    gone_to_cloud: AtomicBool,
    /// The gateway root of a scoped token on Cloud (its `cloudId` asked once).
    gateway: OnceCell<Url>,
    /// Issues per page a Server search serves at most when that is fewer than asked (its
    /// own `maxResults` limit), 0 until seen: later pages ask that many, so that the
    /// [`OffsetWalk`]'s overlap stays within what one page holds.
    served: AtomicU32,
}

/// The Jira REST API as the connector uses it. Cheap to clone.
#[derive(Clone)]
pub(crate) struct JiraClient {
    http: HttpClient,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient")
            .field("http", &self.http)
            .field("cloud", &self.shared.config.cloud_declared())
            .finish_non_exhaustive()
    }
}

impl JiraClient {
    pub(crate) fn new(config: Arc<JiraConfig>) -> Result<Self> {
        let c = &config.credentials;
        let auth = match (&c.jira_user_email, &c.jira_api_token, &c.jira_password) {
            (Some(user), Some(token), _) => Auth::Basic {
                username: user.trim().to_owned(),
                password: token.clone(),
            },
            (None, Some(token), _) => Auth::Bearer(token.clone()),
            (Some(user), None, Some(password)) => Auth::Basic {
                username: user.trim().to_owned(),
                password: password.clone(),
            },
            _ => Auth::None,
        };
        // Every request (the site, serverInfo, the tenant info, the gateway, downloads and
        // their redirects) goes through the policy: `base_url` is the tenant's.
        let mut http = HttpClient::builder(SOURCE)
            .auth(auth, config.credential_field())
            .network_policy(config.network_policy()?);
        if let Some(secs) = config.rate_limit_budget_secs {
            let retries = RetryPolicy::default().max_rate_limit_retries;
            http = http.rate_limit_retries(retries, Duration::from_secs(secs));
        }
        let http = http.build()?;
        Ok(Self {
            http,
            shared: Arc::new(Shared {
                config,
                probed: OnceCell::new(),
                gone_to_cloud: AtomicBool::new(false),
                gateway: OnceCell::new(),
                served: AtomicU32::new(0),
            }),
        })
    }

    /// This client counting into the sync's stats.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            shared: Arc::clone(&self.shared),
        }
    }

    pub(crate) fn config(&self) -> &JiraConfig {
        &self.shared.config
    }

    /// Whether the site is Jira Cloud: as the config says, else as the site said when asked
    /// once (`serverInfo`); Cloud from the moment a Server search was answered 410 Gone.
    ///
    /// # Errors
    /// The `serverInfo` request's, when it fails to get any answer (unreachable, 5xx after
    /// retries, cancelled), and the credentials' error on a 401; an answer that is not
    /// `deploymentType: "Cloud"` (including another 4xx: some proxies block it) is Server.
    pub(crate) async fn is_cloud(&self) -> Result<bool> {
        if self.shared.gone_to_cloud.load(Ordering::Relaxed) {
            return Ok(true);
        }
        if let Some(cloud) = self.shared.config.cloud_declared() {
            return Ok(cloud);
        }
        self.shared
            .probed
            .get_or_try_init(|| self.ask_deployment())
            .await
            .copied()
    }

    /// Whether the site is Cloud, when known without a request: declared, asked already, or
    /// moved to Cloud by a 410.
    pub(crate) fn cloud_known(&self) -> Option<bool> {
        if self.shared.gone_to_cloud.load(Ordering::Relaxed) {
            return Some(true);
        }
        self.shared
            .config
            .cloud_declared()
            .or_else(|| self.shared.probed.get().copied())
    }

    /// `GET /rest/api/2/serverInfo` on the site: Cloud when `deploymentType` is `"Cloud"`.
    async fn ask_deployment(&self) -> Result<bool> {
        let url = with_slash(&self.shared.config.base_url)
            .join("rest/api/2/serverInfo")
            .map_err(url_error)?;
        let resp = self
            .http
            .get(url)
            .client_errors_as_responses()
            .send()
            .await?;
        // Jira answers wrong credentials with 401 even where anonymous reads are allowed:
        // that is the credentials' error now, not a site to take for Server and search. (A
        // scoped token is for the gateway: the site may refuse it, which says nothing.)
        if resp.status() == StatusCode::UNAUTHORIZED
            && !self.shared.config.scoped_token
            && !error_messages(&resp).contains("scope does not match")
        {
            self.expect_ok(&resp, None)?;
        }
        let info: Option<ServerInfo> = resp
            .status()
            .is_success()
            .then(|| serde_json::from_slice(resp.body()).ok())
            .flatten();
        let cloud = info
            .and_then(|i| i.deployment_type)
            .is_some_and(|t| t.eq_ignore_ascii_case("cloud"));
        tracing::info!(
            site = %self.shared.config.site(),
            status = %resp.status(),
            cloud,
            "`is_cloud` is not set: Jira's serverInfo decided the deployment"
        );
        Ok(cloud)
    }

    /// Moves the client to Cloud: a Server search was answered 410 Gone.
    fn gone_to_cloud(&self) {
        if !self.shared.gone_to_cloud.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                site = %self.shared.config.site(),
                "Jira answered the Server search (/rest/api/2/search) with 410 Gone, as Jira Cloud does since it removed it: using Jira Cloud's API; set `is_cloud: true` in the config"
            );
        }
    }

    async fn version(&self) -> Result<&'static str> {
        Ok(if self.is_cloud().await? { "3" } else { "2" })
    }

    /// The URL API paths hang off: the site, or the gateway for scoped tokens on Cloud.
    async fn root(&self) -> Result<Url> {
        let config = &self.shared.config;
        let site = with_slash(&config.base_url);
        // RAGFlow ignores `scoped_token` off Cloud, and so does this.
        if !config.scoped_token || !self.is_cloud().await? {
            return Ok(site);
        }
        self.shared
            .gateway
            .get_or_try_init(|| async {
                let tenant = site.join("_edge/tenant_info").map_err(url_error)?;
                let resp = self.http.get(tenant).send().await?;
                let info: TenantInfo = resp.json()?;
                let gateway = config
                    .api_gateway_url
                    .clone()
                    .map_or_else(|| Url::parse(DEFAULT_API_GATEWAY).map_err(url_error), Ok)?;
                with_slash(&gateway)
                    .join(&format!("ex/jira/{}/", info.cloud_id))
                    .map_err(url_error)
            })
            .await
            .cloned()
    }

    /// `rest/api/{2|3}/{path}` under the API root.
    async fn api(&self, path: &str) -> Result<Url> {
        let root = self.root().await?;
        root.join(&format!("rest/api/{}/{path}", self.version().await?))
            .map_err(url_error)
    }

    /// `/myself`: checks the credentials (`check` only: syncs never need it). A scoped token
    /// without `read:jira-user` is refused with 401 "scope does not match" although it is
    /// valid: that passes, and the search that `check` makes next tells whether it may read
    /// issues.
    pub(crate) async fn myself(&self) -> Result<()> {
        let url = self.api("myself").await?;
        let resp = self
            .http
            .get(url)
            .client_errors_as_responses()
            .send()
            .await?;
        if resp.status() == StatusCode::UNAUTHORIZED
            && error_messages(&resp).contains("scope does not match")
        {
            return Ok(());
        }
        self.expect_ok(&resp, None)
    }

    /// The JQL of a sync: the configured filter, labels to skip, the window's start (see
    /// [`updated_since`]), ordered by key.
    ///
    /// The end of the window is left open: an issue edited while the sync pages keeps its
    /// place in the result set (so `startAt` paging skips nothing) and is filtered out exactly,
    /// to come in the next run.
    pub(crate) fn jql(&self, window: Option<TimeWindow>) -> String {
        let mut jql = base_jql(&self.shared.config);
        if let Some(since) = window.and_then(updated_since) {
            jql = format!("{jql} AND {since}");
        }
        format!("{jql} ORDER BY key ASC")
    }

    /// One search page at `cursor`, with `fields`, and the cursor of the next page.
    pub(crate) async fn search(
        &self,
        jql: &str,
        cursor: Cursor,
        fields: &[&str],
        max_results: u32,
    ) -> Result<Page<Vec<Value>, Cursor>> {
        if self.is_cloud().await? {
            return self.search_cloud(jql, cursor, fields, max_results).await;
        }
        match self.search_server(jql, cursor, fields, max_results).await? {
            Some(page) => Ok(page),
            // Cloud removed the Server search: the site is Cloud, searched from the start
            // (a Server offset means nothing to it).
            None => {
                self.gone_to_cloud();
                self.search_cloud(jql, Cursor::Start, fields, max_results)
                    .await
            }
        }
    }

    /// One Cloud `search/jql` page.
    async fn search_cloud(
        &self,
        jql: &str,
        cursor: Cursor,
        fields: &[&str],
        max_results: u32,
    ) -> Result<Page<Vec<Value>, Cursor>> {
        let url = self.api("search/jql").await?;
        let mut body = json!({ "jql": jql, "maxResults": max_results, "fields": fields });
        if let Cursor::Token(token) = &cursor {
            body["nextPageToken"] = Value::String(token.clone());
        }
        let resp = self
            .http
            .post(url)
            .json(&body)
            .idempotent(true)
            .client_errors_as_responses()
            .send()
            .await?;
        if matches!(cursor, Cursor::Token(_))
            && resp.status() == StatusCode::BAD_REQUEST
            && is_token_expiry(&error_messages(&resp))
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!("{TOKEN_REFUSED}: {}", error_messages(&resp)),
            )
            .with_connector(SOURCE)
            .with_url(resp.url()));
        }
        self.expect_ok(&resp, Some(jql))?;
        let page: SearchPage = resp.json()?;
        let next = match (page.next_page_token, page.is_last) {
            (Some(token), last) if last != Some(true) && !page.issues.is_empty() => {
                Some(Cursor::Token(token))
            }
            _ => None,
        };
        Ok(Page::new(page.issues, next))
    }

    /// One Server/Data Center `search` page, walked by core's [`OffsetWalk`]: asked a few
    /// issues before where the last page ended, its issues from after the last page's last
    /// issue found in it; when none is found (issues left the result set before it: deleted,
    /// moved out of the query, their security changed), none, and the walk steps back, so
    /// that no issue is skipped (some may come twice). `None` when Jira answers 410 Gone, as
    /// Jira Cloud does since it removed this endpoint.
    async fn search_server(
        &self,
        jql: &str,
        cursor: Cursor,
        fields: &[&str],
        max_results: u32,
    ) -> Result<Option<Page<Vec<Value>, Cursor>>> {
        let mut walk = match cursor {
            Cursor::Offset(walk) => walk,
            _ => OffsetWalk::new(),
        };
        let max_results = match self.shared.served.load(Ordering::Relaxed) {
            0 => max_results,
            served => max_results.min(served),
        };
        let start_at = walk.offset(u64::from(max_results));
        let url = self.api("search").await?;
        let resp = self
            .http
            .get(url)
            .query([
                ("jql", jql.to_owned()),
                ("startAt", start_at.to_string()),
                ("maxResults", max_results.to_string()),
                ("fields", fields.join(",")),
            ])
            .client_errors_as_responses()
            .send()
            .await?;
        if resp.status() == StatusCode::GONE {
            return Ok(None);
        }
        self.expect_ok(&resp, Some(jql))?;
        let page: SearchPage = resp.json()?;
        // The server may serve fewer than asked (its own maximum): the walk goes by what came.
        let after = start_at + page.issues.len() as u64;
        let last = page.issues.is_empty() || page.total.is_some_and(|t| after >= t);
        let got = u32::try_from(page.issues.len()).unwrap_or(u32::MAX);
        let limit = page
            .max_results
            .filter(|&m| m > 0 && m < max_results)
            .or_else(|| (!last && got < max_results).then_some(got));
        if let Some(limit) = limit {
            self.shared.served.store(limit.max(2), Ordering::Relaxed);
        }
        let ids: Vec<String> = page.issues.iter().map(walk_id).collect();
        let issues = match walk
            .accept(start_at, &ids, last)
            .map_err(|e| e.with_connector(SOURCE))?
        {
            Step::Deliver { skip } => page.issues.into_iter().skip(skip).collect(),
            Step::Again => Vec::new(),
        };
        let next = (!walk.is_done()).then_some(Cursor::Offset(walk));
        Ok(Some(Page::new(issues, next)))
    }

    /// The comments of `key` from `start_at` on, one page.
    pub(crate) async fn comments(
        &self,
        key: &str,
        start_at: u64,
    ) -> Result<Page<CommentPage, u64>> {
        let url = self.api(&format!("issue/{}/comment", encode(key))).await?;
        let resp = self
            .http
            .get(url)
            .query([
                ("startAt", start_at.to_string()),
                ("maxResults", COMMENT_PAGE.to_string()),
                ("orderBy", "created".to_owned()),
            ])
            .client_errors_as_responses()
            .send()
            .await?;
        self.expect_ok(&resp, None)?;
        let page: CommentPage = resp.json()?;
        let after = page.start_at.unwrap_or(start_at) + page.comments.len() as u64;
        let more = !page.comments.is_empty() && page.total.is_some_and(|t| after < t);
        Ok(Page::new(page, more.then_some(after)))
    }

    /// One issue with `fields`, or `None` when it does not exist (or is not visible).
    pub(crate) async fn issue(&self, key: &str, fields: &[&str]) -> Result<Option<Value>> {
        let url = self.api(&format!("issue/{}", encode(key))).await?;
        let resp = self
            .http
            .get(url)
            .query([("fields", fields.join(","))])
            .client_errors_as_responses()
            .send()
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.expect_ok(&resp, None)?;
        resp.json().map(Some)
    }

    /// Checks that the project exists and is visible.
    pub(crate) async fn project(&self, key: &str) -> Result<()> {
        let url = self.api(&format!("project/{}", encode(key))).await?;
        let resp = self
            .http
            .get(url)
            .client_errors_as_responses()
            .send()
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let messages = error_messages(&resp);
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("Jira has no project `{key}` visible to these credentials: {messages}"),
            )
            .with_connector(SOURCE)
            .with_field("project_key"));
        }
        self.expect_ok(&resp, None)
    }

    /// A lookup the token may not be allowed to make (permission schemes, role members,
    /// security levels, users): the body, or `None` when Jira refuses it (403; 401 "scope does
    /// not match", a scoped token without the scope) or does not know it (404). Rejected
    /// credentials (any other 401) are an error, as everywhere.
    async fn lookup<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<T>> {
        let url = self.api(path).await?;
        let resp = self
            .http
            .get(url)
            .query(query.iter().map(|(k, v)| (*k, v.as_str())))
            .client_errors_as_responses()
            .send()
            .await?;
        let refused = match resp.status().as_u16() {
            403 | 404 => true,
            401 => error_messages(&resp).contains("scope does not match"),
            _ => false,
        };
        if refused {
            tracing::debug!(path, status = %resp.status(), "Jira refused a permission lookup; access stays unknown");
            return Ok(None);
        }
        self.expect_ok(&resp, None)?;
        resp.json().map(Some)
    }

    /// The grants of `project`'s permission scheme, with users, groups and roles expanded
    /// (Administer Jira or Administer Projects needed).
    pub(crate) async fn permission_scheme(
        &self,
        project: &str,
    ) -> Result<Option<PermissionScheme>> {
        let expand = ("expand", "permissions,user,group,projectRole".to_owned());
        self.lookup(
            &format!("project/{}/permissionscheme", encode(project)),
            &[expand],
        )
        .await
    }

    /// The actors of one of `project`'s roles.
    pub(crate) async fn project_role(
        &self,
        project: &str,
        role: &str,
    ) -> Result<Option<ProjectRole>> {
        let path = format!("project/{}/role/{}", encode(project), encode(role));
        self.lookup(&path, &[]).await
    }

    /// `project`'s roles by name, with their ids (the tail of each role's URL).
    pub(crate) async fn project_role_ids(
        &self,
        project: &str,
    ) -> Result<Option<Vec<(String, String)>>> {
        let path = format!("project/{}/role", encode(project));
        let roles: Option<serde_json::Map<String, Value>> = self.lookup(&path, &[]).await?;
        Ok(roles.map(|roles| {
            roles
                .into_iter()
                .filter_map(|(name, url)| {
                    let id = url
                        .as_str()?
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()?
                        .to_owned();
                    Some((name, id))
                })
                .collect()
        }))
    }

    /// The members of a security level (Cloud; Administer Jira needed), every page of them;
    /// `None` on Server/Data Center, whose REST API does not list them.
    pub(crate) async fn level_members(&self, level: &str) -> Result<Option<Vec<Holder>>> {
        if !self.is_cloud().await? {
            return Ok(None);
        }
        let mut holders = Vec::new();
        let mut start_at = 0u64;
        // Bounded: a level has a handful of members; a service that pages forever stops here.
        for _ in 0..MAX_LOOKUP_PAGES {
            let query = [
                ("levelId", level.to_owned()),
                ("expand", "user,group".to_owned()),
                ("startAt", start_at.to_string()),
                ("maxResults", "50".to_owned()),
            ];
            let Some(page) = self
                .lookup::<LevelMembers>("issuesecurityschemes/level/member", &query)
                .await?
            else {
                return Ok(None);
            };
            let got = page.values.len() as u64;
            holders.extend(page.values.into_iter().map(|m| m.holder));
            start_at += got;
            let last = page
                .is_last
                .unwrap_or_else(|| page.total.is_none_or(|t| start_at >= t));
            if last || got == 0 {
                return Ok(Some(holders));
            }
        }
        // Members past the bound are unknown: not granting them access is the safe side.
        Ok(Some(holders))
    }

    /// A user's e-mail, when Jira shows it: by account id (Cloud) or user name (Server).
    pub(crate) async fn user_email(&self, user: &str) -> Result<Option<String>> {
        let by = if self.is_cloud().await? {
            "accountId"
        } else {
            "username"
        };
        let found: Option<User> = self.lookup("user", &[(by, user.to_owned())]).await?;
        Ok(found.and_then(|u| u.email_address))
    }

    /// An attachment's bytes, at most `cap` of them.
    ///
    /// Cloud: `attachment/content/{id}` under the API root, not the attachment's `content`
    /// URL, which Cloud gives on the site host even when the API is reached through the
    /// gateway, where a scoped token is refused (401). The endpoint answers 303 to the media
    /// store; core follows it without the credentials. Server/Data Center: the `content` URL
    /// (`/secure/attachment/{id}/{name}`), as REST v2 has no content endpoint, when it is on
    /// `base_url`'s origin; else the same path on `base_url` (see [`server_download_url`]).
    pub(crate) async fn download(&self, attachment: &Attachment, cap: u64) -> Result<bytes::Bytes> {
        let url = if self.is_cloud().await? {
            self.api(&format!("attachment/content/{}", encode(&attachment.id)))
                .await?
        } else {
            server_download_url(&self.shared.config.base_url, attachment)?
        };
        let resp = self.http.get(url).max_body_bytes(cap).send().await?;
        Ok(resp.into_body())
    }

    /// The Media Services file id of the attachment `id` (`mediaApiFileId` of
    /// `GET /rest/api/{3|2}/attachment/{id}`), under the API root (the gateway for scoped
    /// tokens), for ADF media nodes the search did not name; `None` when the answer has none.
    ///
    /// # Errors
    /// The request's: the caller treats every one as "no name" (see `media`).
    pub(crate) async fn attachment_media_id(&self, id: &str) -> Result<Option<String>> {
        let url = self.api(&format!("attachment/{}", encode(id))).await?;
        let resp = self
            .http
            .get(url)
            .client_errors_as_responses()
            .send()
            .await?;
        self.expect_ok(&resp, None)?;
        let found: AttachmentMetadata = resp.json()?;
        Ok(found.media_api_file_id)
    }

    /// Turns an error status into an error that passes Jira's own messages on.
    fn expect_ok(&self, resp: &Response, jql: Option<&str>) -> Result<()> {
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let messages = error_messages(resp);
        let field = self.shared.config.credential_field();
        let err = match status.as_u16() {
            401 => Error::new(
                ErrorKind::Unauthenticated,
                format!("Jira rejected the credentials (HTTP 401); check `{field}`: {messages}"),
            )
            .with_field(field),
            403 => Error::new(
                ErrorKind::PermissionDenied,
                format!("Jira refused access with these credentials (HTTP 403); check `{field}`: {messages}"),
            )
            .with_field(field),
            400 if jql.is_some() => {
                let jql = jql.unwrap_or_default();
                if messages.contains("for the field 'project'") {
                    Error::new(ErrorKind::NotFound, format!("Jira rejected the project: {messages}"))
                        .with_field("project_key")
                } else {
                    Error::new(
                        ErrorKind::Config,
                        format!("Jira rejected the JQL query `{jql}`: {messages}"),
                    )
                    .with_field("jql_query")
                }
            }
            404 => Error::new(ErrorKind::NotFound, format!("HTTP 404: {messages}")),
            code => Error::new(ErrorKind::InvalidData, format!("HTTP {code}: {messages}"))
                .with_retryable(false),
        };
        Err(err.with_connector(SOURCE).with_url(resp.url()))
    }
}

/// What an [`OffsetWalk`] finds a search result by: its id (its key when it has none).
fn walk_id(raw: &Value) -> String {
    let id = raw.get("id").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    id.or_else(|| raw.get("key").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

/// How [`JiraClient::search`] starts the error of a `nextPageToken` Jira refused as invalid
/// or expired (see [`is_refused_token`]).
const TOKEN_REFUSED: &str = "Jira refused the page token";

/// Whether Jira's messages say a `nextPageToken` is invalid or expired ("The provided next
/// page token is invalid or expired."), as opposed to any other 400 (a rejected query).
fn is_token_expiry(messages: &str) -> bool {
    let lower = messages.to_ascii_lowercase();
    lower.contains("page token") || lower.contains("nextpagetoken")
}

/// Whether `e` is [`JiraClient::search`]'s refusal of a page token (invalid or expired).
pub(crate) fn is_refused_token(e: &Error) -> bool {
    e.kind() == ErrorKind::Config && e.message().starts_with(TOKEN_REFUSED)
}

/// Jira's `errorMessages` and `errors`, or a note that the body had none.
fn error_messages(resp: &Response) -> String {
    let body: ErrorBody = serde_json::from_slice(resp.body()).unwrap_or_default();
    let messages = body.messages();
    if messages.is_empty() {
        "no error message in the response".to_owned()
    } else {
        messages.join("; ")
    }
}

/// Where a Server/Data Center attachment is downloaded, with the credentials: its `content`
/// URL when that is on `base_url`'s origin (scheme, host and port), else
/// `{base_url}/secure/attachment/{id}/{filename}`.
///
/// `content` is built from Jira's configured base URL, which need not be the one the
/// connector was given (a proxy, an internal host name, `http` behind a TLS terminator): the
/// credentials must not go to another host, nor in clear text where `base_url` is `https`.
/// RAGFlow's Go connector refuses such a URL; rebuilding it on `base_url` downloads the same
/// file from the host the credentials are meant for.
fn server_download_url(base: &Url, attachment: &Attachment) -> Result<Url> {
    if let Some(content) = attachment
        .content
        .as_deref()
        .and_then(|c| Url::parse(c).ok())
        && content.origin() == base.origin()
    {
        return Ok(content);
    }
    let mut url = with_slash(base);
    let rebuilt = url.path_segments_mut().map(|mut segments| {
        segments.pop_if_empty().extend([
            "secure",
            "attachment",
            &attachment.id,
            &attachment.filename,
        ]);
    });
    if rebuilt.is_err() || base.cannot_be_a_base() {
        return Err(Error::invalid_data(format!(
            "cannot build the download URL of Jira attachment {} ({}) on `base_url`",
            attachment.id, attachment.filename
        ))
        .with_connector(SOURCE));
    }
    if let Some(content) = &attachment.content {
        tracing::debug!(
            attachment = %attachment.id,
            reported = %content,
            "the attachment's content URL is not on base_url's origin; downloading it from base_url"
        );
    }
    Ok(url)
}

fn url_error(e: url::ParseError) -> Error {
    Error::invalid_data(format!("cannot build a Jira URL: {e}")).with_connector(SOURCE)
}

fn with_slash(url: &Url) -> Url {
    let mut u = url.clone();
    if !u.path().ends_with('/') {
        let path = format!("{}/", u.path());
        u.set_path(&path);
    }
    u
}

/// A path segment: issue keys are `[A-Z0-9_]+-\d+`, but the key came from outside.
fn encode(segment: &str) -> String {
    segment
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

/// A JQL string literal.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The configured filter: `(jql_query)` or else the project (as RAGFlow builds it), then the
/// labels to skip.
pub(crate) fn base_jql(config: &JiraConfig) -> String {
    let mut parts = Vec::new();
    if let Some(jql) = config.jql() {
        parts.push(format!("({jql})"));
    }
    if let Some(key) = config.project_in_scope() {
        parts.push(format!("project = {}", quote(key)));
    }
    let labels = config.labels_to_skip.as_slice();
    if !labels.is_empty() {
        let list: Vec<String> = labels.iter().map(|l| quote(l)).collect();
        // `labels NOT IN (...)` alone drops issues without labels.
        parts.push(format!(
            "(labels IS EMPTY OR labels NOT IN ({}))",
            list.join(", ")
        ));
    }
    parts.join(" AND ")
}

/// `jql` without a trailing `ORDER BY` clause (outside quotes): the connector orders.
pub(crate) fn strip_order_by(jql: &str) -> &str {
    let lower = jql.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if lower[i..].starts_with("order by")
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) =>
            {
                return &jql[..i];
            }
            None => {}
        }
        i += 1;
    }
    jql
}

/// `updated >= {epoch milliseconds}`: the window's start, floored to its minute and moved one
/// minute back.
///
/// An unquoted number in a JQL date clause is an instant in milliseconds since the epoch
/// (Atlassian's JQL date-time formats: "if you omit the quote-marks, the number you supply
/// will be interpreted as milliseconds after epoch"; Jira's `JqlDateSupport` reads a long as
/// `new Date(long)`). Unlike `"yyyy-MM-dd HH:mm"`, which Jira reads in the searching user's
/// zone, it needs no zone, hence no `/myself` call (which a token scoped to `read:jira-work`
/// may not make) and no `timezone_offset`. The minute of slack costs a few issues that the
/// exact filter drops, and keeps the bound safe where an index stores `updated` to the minute.
///
/// `None` when that bound is at or before the epoch (a window starting in 1970's first
/// minute or earlier, as a host's "everything since" may): such a clause bounds nothing (no
/// issue is older), and a negative number (`updated >= -60000`) is no instant in JQL, which
/// may reject it or read it otherwise.
pub(crate) fn updated_since(window: TimeWindow) -> Option<String> {
    const MINUTE: i64 = 60_000;
    let start = window.start.timestamp_millis();
    let bound = (start.div_euclid(MINUTE) - 1) * MINUTE;
    (bound > 0).then(|| format!("updated >= {bound}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(content: Option<&str>) -> Attachment {
        serde_json::from_value(json!({
            "id": "10042", "filename": "a b#?.txt", "size": 2, "content": content
        }))
        .unwrap()
    }

    #[test]
    fn server_downloads_stay_on_the_origin_of_base_url() {
        let base = Url::parse("https://jira.acme.org/jira").unwrap();
        let rebuilt = "https://jira.acme.org/jira/secure/attachment/10042/a%20b%23%3F.txt";
        // Same origin: Jira's own URL.
        let same = "https://jira.acme.org/jira/secure/attachment/10042/x.txt";
        let url = server_download_url(&base, &attachment(Some(same))).unwrap();
        assert_eq!(url.as_str(), same);
        // Another host, another port, a downgrade to http, nothing usable: on base_url.
        for other in [
            Some("https://evil.example/secure/attachment/10042/x.txt"),
            Some("https://jira.acme.org:8443/jira/secure/attachment/10042/x.txt"),
            Some("http://jira.acme.org/jira/secure/attachment/10042/x.txt"),
            Some("not a url"),
            None,
        ] {
            let url = server_download_url(&base, &attachment(other)).unwrap();
            assert_eq!(url.as_str(), rebuilt, "{other:?}");
        }
    }

    #[test]
    fn lower_bound_is_the_minute_before_as_an_instant() {
        let since = |start: &str| {
            let t = chrono::DateTime::parse_from_rfc3339(start)
                .unwrap()
                .to_utc();
            updated_since(TimeWindow::new(t, t).unwrap())
        };
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        let minute_before = Some(format!("updated >= {}", at("2026-01-15T09:59:00Z")));
        assert_eq!(since("2026-01-15T10:00:45.250Z"), minute_before);
        assert_eq!(since("2026-01-15T10:00:00Z"), minute_before);
        // A bound at or before the epoch: no clause. It would bound nothing, and a negative
        // number is no instant in JQL.
        assert_eq!(since("1970-01-01T00:01:30Z"), None);
        assert_eq!(since("1970-01-01T00:00:30Z"), None);
        assert_eq!(since("1970-01-01T00:00:00Z"), None);
        assert_eq!(since("1969-12-31T23:59:30Z"), None);
    }

    #[test]
    fn order_by_is_replaced_outside_quotes() {
        assert_eq!(strip_order_by("a = 1 ORDER BY created DESC"), "a = 1 ");
        assert_eq!(
            strip_order_by("summary ~ \"order by\" order by x"),
            "summary ~ \"order by\" "
        );
        assert_eq!(strip_order_by("reorder byte"), "reorder byte");
    }

    #[test]
    fn base_jql_combines_filters() {
        let mut cfg = JiraConfig::new(Url::parse("https://j.local").unwrap()).with_project("ENG");
        cfg.labels_to_skip = ["secret", "a\"b"].into_iter().collect();
        assert_eq!(
            base_jql(&cfg),
            "project = \"ENG\" AND (labels IS EMPTY OR labels NOT IN (\"secret\", \"a\\\"b\"))"
        );
        // A project name is quoted as JQL takes it.
        let cfg = JiraConfig::new(Url::parse("https://j.local").unwrap()).with_project("Web Team");
        assert_eq!(base_jql(&cfg), "project = \"Web Team\"");
    }

    #[test]
    fn the_query_alone_decides_when_given() {
        // As RAGFlow builds it: `(jql)` if given, else the project.
        let mut cfg = JiraConfig::new(Url::parse("https://j.local").unwrap()).with_project("ENG");
        cfg.jql_query = Some("type = Bug ORDER BY key".into());
        assert_eq!(base_jql(&cfg), "(type = Bug)");
        // A query that only orders says nothing about which issues: the project does.
        cfg.jql_query = Some(" ORDER BY created DESC".into());
        assert_eq!(base_jql(&cfg), "project = \"ENG\"");
    }
}
