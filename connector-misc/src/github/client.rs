//! The GitHub REST calls the connector makes.
//!
//! - `GET /repos/{owner}/{repo}`, `GET /orgs/{org}/repos`, else, for the token's own user
//!   (`GET /user`), `GET /user/repos?affiliation=owner,collaborator&visibility=all`, else
//!   `GET /users/{user}/repos` (public repositories only);
//! - `GET /repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc&since=…`: issues
//!   and pull requests together (a pull request carries `pull_request`), `Link` paging;
//! - `GET /repos/{owner}/{repo}/issues/{n}/comments`, `GET /repos/{owner}/{repo}/pulls/{n}/reviews`,
//!   `GET /repos/{owner}/{repo}/pulls/{n}/comments`;
//! - what changed besides the issues endpoint's `updated_at`: `GET /repos/{owner}/{repo}/pulls?state=all&sort=updated&direction=desc`
//!   (a pull request's own `updated_at`), `GET /repos/{owner}/{repo}/pulls/comments` and
//!   `GET /repos/{owner}/{repo}/issues/comments` with `sort=updated&direction=asc&since=…`;
//! - a repository without issues (`has_issues: false`; its issues endpoints answer `410`):
//!   `GET /repos/{owner}/{repo}/pulls?state=all&sort=updated&direction=asc` by `Link`, and
//!   `GET /repos/{owner}/{repo}/pulls/{n}`;
//! - `GET /repos/{owner}/{repo}/collaborators` (needs push access to the repository) and
//!   `GET /repos/{owner}/{repo}/teams` (an organisation's repository; a classic token needs
//!   `repo`, a fine-grained one Administration, read);
//! - `GET /repos/{owner}/{repo}/commits/heads/{branch}` as `application/vnd.github.sha`, then
//!   `GET /repos/{owner}/{repo}/git/trees/{sha}?recursive=1` and
//!   `GET /repos/{owner}/{repo}/git/blobs/{sha}` as `application/vnd.github.raw+json`;
//! - errors as `{"message": "Bad credentials", "documentation_url": …}`; a spent primary rate
//!   limit is a `403`/`429` saying `API rate limit exceeded` with `x-ratelimit-remaining: 0`
//!   and `x-ratelimit-reset` (epoch seconds), a secondary one a `403`/`429` with `retry-after`.

use chrono::{DateTime, SecondsFormat, Utc};
use connector_core::http::{ErrorClass, HttpClient, Response, StatusCode};
use connector_core::pages::{Page, PageLimit, paginate};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use futures::TryStreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::model::{
    ApiError, Comment, Content, Issue, ListedComment, PullSummary, Repo, Review, Team, Tree, User,
};

/// The media type of GitHub's JSON.
const JSON: &str = "application/vnd.github+json";
/// The REST API version asked for.
const API_VERSION: &str = "2022-11-28";
/// The wait after a secondary rate limit that names none (GitHub: "at least one minute").
const SECONDARY_LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Pages followed by `Link` at most, as a guard against a loop.
const MAX_PAGES: u64 = 100_000;
/// The config field of the API's address, named when what answers is not GitHub's API.
const BASE_URL_FIELD: &str = "base_url";

/// Requests to one GitHub (or GitHub Enterprise Server) API; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    api: Url,
    pub(crate) per_page: u32,
}

impl Client {
    pub(crate) fn new(http: HttpClient, api: Url, per_page: u32) -> Self {
        Self {
            http,
            api,
            per_page,
        }
    }

    /// This client answering within seconds, for `check()`: one quick retry of a transient
    /// error, none of a rate limit (a spent limit is `RateLimited` at once, not an hour's
    /// wait), 20 s per request.
    pub(crate) fn bounded(&self) -> Self {
        let mut policy = self.http.retry_policy();
        policy.max_retries = 1;
        policy.initial_backoff = std::time::Duration::from_millis(200);
        policy.max_backoff = std::time::Duration::from_millis(500);
        policy.max_rate_limit_retries = 0;
        policy.retry_after_cap = policy
            .retry_after_cap
            .min(std::time::Duration::from_secs(2));
        policy.rate_limit_budget = policy
            .rate_limit_budget
            .min(std::time::Duration::from_secs(2));
        Self {
            http: self
                .http
                .with_retry_policy(policy, std::time::Duration::from_secs(20)),
            ..self.clone()
        }
    }

    /// One issue or pull request of `owner/name`, to prove the token may list them (a
    /// fine-grained token without the Issues permission: `403`).
    pub(crate) async fn probe_issues(&self, owner: &str, name: &str) -> Result<()> {
        let mut url = self.repo_endpoint(owner, name, &["issues"])?;
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("sort", "updated")
            .append_pair("direction", "asc")
            .append_pair("per_page", "1");
        self.json::<Vec<Value>>(url).await.map(|_| ())
    }

    /// This client counting its requests into `ctx`.
    /// One pull request of `owner/name` (a repository without issues), to prove the token
    /// may list them (a fine-grained one without Pull requests: `403`).
    pub(crate) async fn probe_pulls(&self, owner: &str, name: &str) -> Result<()> {
        let mut url = self.repo_endpoint(owner, name, &["pulls"])?;
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("per_page", "1");
        self.json::<Vec<Value>>(url).await.map(|_| ())
    }

    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| Error::internal("base_url cannot take a path").with_connector(SOURCE))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn repo_endpoint(&self, owner: &str, name: &str, rest: &[&str]) -> Result<Url> {
        let mut segments = vec!["repos", owner, name];
        segments.extend_from_slice(rest);
        self.endpoint(&segments)
    }

    async fn get(&self, url: Url, accept: &str, max: Option<u64>) -> Result<Response> {
        let mut req = self
            .http
            .get(url)
            .header("accept", accept)
            .header("x-github-api-version", API_VERSION);
        if let Some(max) = max {
            req = req.max_body_bytes(max);
        }
        // A page that is not GitHub's API ([`classify`]): the field to fix is `base_url`.
        req.send().await.map_err(|e| {
            if e.kind() == ErrorKind::Config && e.field().is_none() {
                e.with_field(BASE_URL_FIELD)
            } else {
                e
            }
        })
    }

    async fn json<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.get(url, JSON, None).await?.json()
    }

    /// One page of a list and the `Link` `rel="next"` after it.
    pub(crate) async fn page(&self, url: Url) -> Result<(Vec<Value>, Option<Url>)> {
        let resp = self.get(url, JSON, None).await?;
        let next = resp.next_link();
        Ok((resp.json()?, next))
    }

    /// One page of issues (and pull requests) and the `Link` `rel="next"` after it: read as
    /// [`Issue`]s at once when every entry is one (what GitHub sends), else as JSON values,
    /// each then read alone so that one malformed entry is its own failure. `pulls`: a page of
    /// `GET /pulls`, always as values, each in the issues endpoint's shape ([`as_issue`]).
    pub(crate) async fn issues_page(&self, url: Url, pulls: bool) -> Result<(Listed, Option<Url>)> {
        let resp = self.get(url, JSON, None).await?;
        let next = resp.next_link();
        if !pulls && let Ok(issues) = serde_json::from_slice::<Vec<Issue>>(resp.body()) {
            return Ok((Listed::Issues(issues), next));
        }
        let values: Vec<Value> = resp.json()?;
        let values = if pulls {
            values.into_iter().map(as_issue).collect()
        } else {
            values
        };
        Ok((Listed::Values(values), next))
    }

    /// Every item of a list, following `Link` headers through core's pagination.
    async fn all<T: DeserializeOwned + Send + 'static>(&self, first: Url) -> Result<Vec<T>> {
        let client = self.clone();
        let pages: Vec<Vec<T>> = paginate(first, PageLimit::fail_after(MAX_PAGES), move |url| {
            let client = client.clone();
            async move {
                let resp = client.get(url, JSON, None).await?;
                let next = resp.next_link();
                Ok(Page::new(resp.json::<Vec<T>>()?, next))
            }
        })
        .map_ok(|page| page.items)
        .try_collect()
        .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    fn paged(&self, mut url: Url, query: &[(&str, &str)]) -> Url {
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
            q.append_pair("per_page", &self.per_page.to_string());
        }
        url
    }

    /// The repository `owner/name`.
    pub(crate) async fn repo(&self, owner: &str, name: &str) -> Result<Repo> {
        self.json(self.repo_endpoint(owner, name, &[])?).await
    }

    /// The user or organisation `owner` exists and may be seen.
    pub(crate) async fn owner(&self, owner: &str) -> Result<()> {
        self.json::<Value>(self.endpoint(&["users", owner])?)
            .await
            .map(|_| ())
    }

    /// The login of the token's user; none for a token that is no user's (a GitHub App
    /// installation's: `403`).
    pub(crate) async fn me(&self) -> Result<Option<String>> {
        match self.json::<User>(self.endpoint(&["user"])?).await {
            Ok(user) => Ok(Some(user.login)),
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Every repository of the organisation `owner`, else of the user `owner`, sorted by full
    /// name. A user's private repositories are listed only by `GET /user/repos`, so when
    /// `owner` is the token's own user (`GET /user`) they come from there (those it owns or
    /// collaborates on, with `owner` as their owner); another user's are their public ones
    /// (`GET /users/{owner}/repos`).
    pub(crate) async fn owner_repos(&self, owner: &str) -> Result<Vec<Repo>> {
        let org = self.paged(
            self.endpoint(&["orgs", owner, "repos"])?,
            &[("type", "all"), ("sort", "full_name"), ("direction", "asc")],
        );
        let mut repos: Vec<Repo> = match self.all(org).await {
            Ok(repos) => repos,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let me = self.me().await?;
                if me.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(owner)) {
                    let mine = self.paged(
                        self.endpoint(&["user", "repos"])?,
                        &[
                            ("affiliation", "owner,collaborator"),
                            ("visibility", "all"),
                            ("sort", "full_name"),
                            ("direction", "asc"),
                        ],
                    );
                    let mut repos: Vec<Repo> = self.all(mine).await?;
                    repos.retain(|r| r.owner.login.eq_ignore_ascii_case(owner));
                    repos
                } else {
                    tracing::info!(
                        connector = SOURCE,
                        owner,
                        "the user is not the token's own: only their public repositories are listed (name private ones in repository_name)"
                    );
                    let user = self.paged(
                        self.endpoint(&["users", owner, "repos"])?,
                        &[
                            ("type", "owner"),
                            ("sort", "full_name"),
                            ("direction", "asc"),
                        ],
                    );
                    self.all(user).await?
                }
            }
            Err(e) => return Err(e),
        };
        repos.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        Ok(repos)
    }

    /// The numbers and own `updated_at` of the pull requests of `owner/name`, last updated
    /// first, down to the first one updated before `stop` (all of them without one).
    pub(crate) async fn pulls_updated(
        &self,
        owner: &str,
        name: &str,
        stop: Option<DateTime<Utc>>,
    ) -> Result<Vec<PullSummary>> {
        let mut url = Some(self.paged(
            self.repo_endpoint(owner, name, &["pulls"])?,
            &[("state", "all"), ("sort", "updated"), ("direction", "desc")],
        ));
        let mut out = Vec::new();
        let mut pages = 0u64;
        while let Some(at) = url.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::invalid_data(format!(
                    "the pull requests of {owner}/{name} did not end after {MAX_PAGES} pages"
                ))
                .with_connector(SOURCE));
            }
            let resp = self.get(at, JSON, None).await?;
            let next = resp.next_link();
            let page: Vec<PullSummary> = resp.json()?;
            let done = stop.is_some_and(|s| page.last().is_some_and(|p| p.updated_at < s));
            out.extend(page);
            if !done {
                url = next;
            }
        }
        Ok(out)
    }

    /// The comments of `owner/name` written (created or edited) at `since` or later: of
    /// issues and pull requests (`kind` `issues`) or on the diffs of pull requests (`pulls`).
    pub(crate) async fn comments_since(
        &self,
        owner: &str,
        name: &str,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<ListedComment>> {
        let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
        let url = self.paged(
            self.repo_endpoint(owner, name, &[kind, "comments"])?,
            &[("sort", "updated"), ("direction", "asc"), ("since", &since)],
        );
        self.all(url).await
    }

    /// The reviews of pull request `number`, in the order submitted.
    pub(crate) async fn reviews(
        &self,
        owner: &str,
        name: &str,
        number: u64,
    ) -> Result<Vec<Review>> {
        let url = self.repo_endpoint(owner, name, &["pulls", &number.to_string(), "reviews"])?;
        self.all(self.paged(url, &[])).await
    }

    /// The first page of issues and pull requests of `owner/name` updated at `since` or later,
    /// oldest update first.
    pub(crate) fn issues_url(
        &self,
        owner: &str,
        name: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Url> {
        let since = since.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        let mut query = vec![("state", "all"), ("sort", "updated"), ("direction", "asc")];
        if let Some(since) = &since {
            query.push(("since", since.as_str()));
        }
        Ok(self.paged(self.repo_endpoint(owner, name, &["issues"])?, &query))
    }

    /// The issue or pull request `number` as the issues endpoint shows it; none when gone.
    pub(crate) async fn issue(
        &self,
        owner: &str,
        name: &str,
        number: u64,
    ) -> Result<Option<Value>> {
        let url = self.repo_endpoint(owner, name, &["issues", &number.to_string()])?;
        match self.json(url).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The comments of issue (or pull request) `number`, oldest first.
    pub(crate) async fn issue_comments(
        &self,
        owner: &str,
        name: &str,
        number: u64,
    ) -> Result<Vec<Comment>> {
        let url = self.repo_endpoint(owner, name, &["issues", &number.to_string(), "comments"])?;
        self.all(self.paged(url, &[])).await
    }

    /// The review comments (on lines of the diff) of pull request `number`.
    pub(crate) async fn review_comments(
        &self,
        owner: &str,
        name: &str,
        number: u64,
    ) -> Result<Vec<Comment>> {
        let url = self.repo_endpoint(owner, name, &["pulls", &number.to_string(), "comments"])?;
        self.all(self.paged(url, &[("sort", "created"), ("direction", "asc")]))
            .await
    }

    /// The teams with access to `owner/name` that the token may see (an organisation's
    /// repository; a classic token needs `repo`, a fine-grained one the repository's
    /// Administration permission, read).
    pub(crate) async fn teams(&self, owner: &str, name: &str) -> Result<Vec<Team>> {
        let url = self.repo_endpoint(owner, name, &["teams"])?;
        self.all(self.paged(url, &[])).await
    }

    /// The first page of the pull requests of `owner/name`, oldest update first: the listing
    /// of a repository without issues, whose issues endpoint answers `410` (`GET /pulls` has
    /// no `since`; it is read by its `Link` header).
    pub(crate) fn pulls_url(&self, owner: &str, name: &str) -> Result<Url> {
        Ok(self.paged(
            self.repo_endpoint(owner, name, &["pulls"])?,
            &[("state", "all"), ("sort", "updated"), ("direction", "asc")],
        ))
    }

    /// Pull request `number` as the issues endpoint would show it ([`as_issue`]); none when
    /// gone.
    pub(crate) async fn pull(&self, owner: &str, name: &str, number: u64) -> Result<Option<Value>> {
        let url = self.repo_endpoint(owner, name, &["pulls", &number.to_string()])?;
        match self.json::<Value>(url).await {
            Ok(v) => Ok(Some(as_issue(v))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Who may read `owner/name`: its collaborators (needs push access to list them).
    pub(crate) async fn collaborators(&self, owner: &str, name: &str) -> Result<Vec<User>> {
        let url = self.repo_endpoint(owner, name, &["collaborators"])?;
        self.all(self.paged(url, &[("affiliation", "all")])).await
    }

    /// The commit at the head of `branch`; none when the repository is empty (`409`).
    pub(crate) async fn head_commit(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
    ) -> Result<Option<String>> {
        // As `heads/{branch}` (the reference's own form, which no tag of the same name
        // shadows), each part of a branch name with `/` its own path segment: sent as one
        // segment, `feature%2Fx` may reach GitHub Enterprise Server's API decoded differently
        // behind a proxy.
        let mut segments = vec!["commits", "heads"];
        segments.extend(branch.split('/'));
        let url = self.repo_endpoint(owner, name, &segments)?;
        match self
            .get(url, "application/vnd.github.sha", Some(1024))
            .await
        {
            Ok(resp) => {
                let sha = resp.text().trim().to_owned();
                if sha.len() >= 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Some(sha))
                } else {
                    Err(Error::invalid_data(format!(
                        "the head of branch `{branch}` of {owner}/{name} is not a commit SHA"
                    ))
                    .with_connector(SOURCE))
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound && e.message().contains("empty") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tree `sha` (a commit's, or a subtree's), with every level below when `recursive`.
    pub(crate) async fn tree(
        &self,
        owner: &str,
        name: &str,
        sha: &str,
        recursive: bool,
    ) -> Result<Tree> {
        let mut url = self.repo_endpoint(owner, name, &["git", "trees", sha])?;
        if recursive {
            url.query_pairs_mut().append_pair("recursive", "1");
        }
        self.json(url).await
    }

    /// The bytes of blob `sha`, refused over `max` bytes.
    pub(crate) async fn blob(
        &self,
        owner: &str,
        name: &str,
        sha: &str,
        max: u64,
    ) -> Result<Vec<u8>> {
        let url = self.repo_endpoint(owner, name, &["git", "blobs", sha])?;
        let resp = self
            .get(url, "application/vnd.github.raw+json", Some(max))
            .await?;
        Ok(resp.into_body().to_vec())
    }

    /// The file at `path` on `reference`; none when there is none (or it is not a file).
    pub(crate) async fn content(
        &self,
        owner: &str,
        name: &str,
        path: &str,
        reference: &str,
    ) -> Result<Option<Content>> {
        let mut segments = vec!["contents"];
        segments.extend(path.split('/'));
        let mut url = self.repo_endpoint(owner, name, &segments)?;
        url.query_pairs_mut().append_pair("ref", reference);
        match self
            .get(url, "application/vnd.github.object+json", None)
            .await
        {
            Ok(resp) => {
                let content: Content = resp.json()?;
                Ok((content.kind == "file").then_some(content))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A listed page of issues: typed, or values to read one by one.
#[derive(Debug)]
pub(crate) enum Listed {
    Issues(Vec<Issue>),
    Values(Vec<Value>),
}

/// A pull request of `GET /pulls` in the shape of an issues-endpoint item: `pull_request`
/// (which marks one) with its `merged_at`. A single pull request's `comments` is kept; a
/// listed one has none, and its comments are then asked for.
pub(crate) fn as_issue(mut pull: Value) -> Value {
    if let Some(o) = pull.as_object_mut() {
        let merged_at = o.get("merged_at").cloned().unwrap_or(Value::Null);
        o.insert(
            "pull_request".to_owned(),
            serde_json::json!({ "merged_at": merged_at }),
        );
    }
    pull
}

/// What GitHub's error bodies mean (`{"message": …}`): a `403` that says "rate limit"
/// (primary: `API rate limit exceeded for …`; secondary: `You have exceeded a secondary rate
/// limit …`) is a rate limit, waited out by core's client until `retry-after` or
/// `x-ratelimit-reset`, a secondary one without either for a minute (every request of the
/// client waits with it); any other `403` a missing permission; `401` a token that is wrong,
/// expired or revoked; `404` a resource that is missing or hidden from the token; `409` an
/// empty repository; `422` a request GitHub cannot serve. An HTML page (GitHub's API always
/// answers JSON) is a wrong `base_url`: most often a GitHub Enterprise Server's web address
/// without its API prefix `/api/v3`, whose `404` page would otherwise read as a repository
/// that does not exist.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let parsed = serde_json::from_slice::<ApiError>(body);
    if parsed.is_err() && status.is_client_error() && looks_like_html(body) {
        return Some(ErrorClass::new(
            ErrorKind::Config,
            format!(
                "HTTP {}: an HTML page answered, not GitHub's REST API: base_url must be the API's address (GitHub Enterprise Server: https://HOST/api/v3; github.com: https://api.github.com)",
                status.as_u16()
            ),
        ));
    }
    let message = parsed.map(|e| e.message).unwrap_or_default();
    let said = if message.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
    } else {
        message
    };
    let lower = said.to_lowercase();
    match status.as_u16() {
        403 | 429 if lower.contains("secondary rate limit") || lower.contains("abuse") => Some(
            // GitHub: without `retry-after` (or a spent primary limit's reset), "wait for at
            // least one minute before retrying".
            ErrorClass::new(ErrorKind::RateLimited, format!("GitHub rate limit: {said}"))
                .with_wait(SECONDARY_LIMIT_WAIT),
        ),
        403 | 429 if lower.contains("rate limit") => Some(ErrorClass::new(
            ErrorKind::RateLimited,
            format!("GitHub rate limit: {said}"),
        )),
        401 => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!("GitHub rejected the token (wrong, expired or revoked): {said}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "GitHub refused access (the token lacks a scope or the repository's permission): {said}"
            ),
        )),
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("GitHub: {said}"),
        )),
        409 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("GitHub: {said} (an empty repository)"),
        )),
        400 | 422 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("GitHub rejected the request: {said}"),
        )),
        _ => None,
    }
}

/// Whether `body` begins as an HTML page (`<!DOCTYPE html>`, `<html>`, after whitespace).
fn looks_like_html(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |at| &body[at..body.len().min(at + 64)]);
    let start = String::from_utf8_lossy(start).to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, message: &str) -> Option<ErrorClass> {
        let body = serde_json::json!({"message": message, "documentation_url": "https://docs.github.com/rest"});
        classify(
            StatusCode::from_u16(status).ok()?,
            body.to_string().as_bytes(),
        )
    }

    #[test]
    fn a_secondary_limit_without_retry_after_waits_a_minute_and_a_primary_its_reset() {
        let secondary = class(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        );
        assert_eq!(
            secondary.as_ref().map(|c| c.kind),
            Some(ErrorKind::RateLimited)
        );
        assert_eq!(
            secondary.and_then(|c| c.wait()),
            Some(std::time::Duration::from_secs(60))
        );
        let primary = class(403, "API rate limit exceeded for user ID 1.");
        assert_eq!(
            primary.as_ref().map(|c| c.kind),
            Some(ErrorKind::RateLimited)
        );
        assert_eq!(
            primary.and_then(|c| c.wait()),
            None,
            "its reset headers say"
        );
        let denied = class(403, "Resource not accessible by personal access token");
        assert_eq!(denied.map(|c| c.kind), Some(ErrorKind::PermissionDenied));
    }
}
