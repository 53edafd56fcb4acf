//! The Bitbucket Cloud REST 2.0 calls the connector makes.
//!
//! - `GET /2.0/repositories/{workspace}?pagelen=100&sort=slug[&q=project.key="KEY"]`: the
//!   repositories of the workspace (or of a project);
//! - `GET /2.0/repositories/{workspace}/{slug}`: one repository;
//! - `GET /2.0/repositories/{workspace}/{slug}/pullrequests?state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED&sort=-updated_on&q=updated_on >= "…"&fields=…`:
//!   pull requests, newest change first (`sort=id` for prune's id listing);
//! - `GET /2.0/repositories/{workspace}/{slug}/pullrequests/{id}`, `…/{id}/comments` and
//!   `…/{id}/activity` (updates, approvals, requests for changes; `fields` keeps them small);
//! - `GET /2.0/workspaces/{workspace}/permissions/repositories/{slug}`: who may read a
//!   private repository, each user with the effective permission (direct, by group, by
//!   project or by workspace default), readable by the repository's admins with the
//!   `admin:repository:bitbucket` scope (OAuth `repository:admin`).
//!
//! Every collection is paged by the absolute `next` link in the body, followed as it is given
//! (never rebuilt) once it is checked to stay on the API's origin, so the credentials go
//! nowhere else. Errors come as `{"type": "error", "error": {"message": …, "detail": …}}`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use connector_core::http::{ErrorClass, HttpClient, StatusCode};
use connector_core::{Error, ErrorKind, Result, SyncContext, TimeWindow};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::SOURCE;
use super::checkpoint::RepoFrame;
use super::model::{
    ActivityEntry, Comment, Listed, Paged, PrPage, RawPage, Repository, RepositoryPermission,
    SlimPr,
};

/// The pull-request fields asked of a listing (the list's default representation lacks the
/// description, reviewers and participants).
pub(crate) const PR_FIELDS: &str = "next,page,pagelen,size,values.id,values.title,values.description,values.state,values.draft,values.reason,values.author,values.reviewers,values.participants,values.closed_by,values.source.branch.name,values.destination.branch.name,values.merge_commit.hash,values.created_on,values.updated_on,values.comment_count,values.task_count,values.links.html";

/// The fields of an activity entry the document shows (the feed repeats the whole pull
/// request and every comment's body in each entry otherwise).
const ACTIVITY_FIELDS: &str = "next,values.update.state,values.update.author,values.update.date,values.update.changes,values.approval.user,values.approval.date,values.changes_requested.user,values.changes_requested.date";

/// The fields asked when only ids are wanted (prune).
const SLIM_FIELDS: &str = "next,values.id";

const REPO_FIELDS: &str = "next,values.slug,values.is_private,values.project.key";

/// Every state Bitbucket has: the list shows only `OPEN` unless asked.
const STATES: [&str; 4] = ["OPEN", "MERGED", "DECLINED", "SUPERSEDED"];

/// More pages than any collection has: a loop guard beside the repeated-link check.
const MAX_PAGES: usize = 100_000;

/// Requests to one workspace; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    api: Url,
    pub(crate) workspace: String,
    pub(crate) page_size: u32,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Client {
    pub(crate) fn new(http: HttpClient, api: Url, workspace: String, page_size: u32) -> Self {
        Self {
            http,
            api,
            workspace,
            page_size,
        }
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::internal("the API base URL cannot take a path").with_connector(SOURCE)
            })?
            .pop_if_empty()
            .push("2.0")
            .extend(segments);
        Ok(url)
    }

    fn repo_endpoint(&self, slug: &str, rest: &[&str]) -> Result<Url> {
        let mut segments = vec!["repositories", self.workspace.as_str(), slug];
        segments.extend_from_slice(rest);
        self.endpoint(&segments)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.http.get(url).send().await?.json()
    }

    /// A `next` link as Bitbucket gave it, refused unless it stays on the API's origin.
    pub(crate) fn next_url(&self, next: &str) -> Result<Url> {
        let url = Url::parse(next).map_err(|e| {
            Error::invalid_data("Bitbucket sent a `next` link that is not a URL")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        if url.origin() != self.api.origin() {
            return Err(Error::invalid_data(format!(
                "Bitbucket sent a `next` link to another host ({}); it is not followed with the credentials",
                url.host_str().unwrap_or("?")
            ))
            .with_connector(SOURCE));
        }
        Ok(url)
    }

    /// Every page of the collection at `first`, its values in order.
    async fn all<T: DeserializeOwned>(&self, first: Url) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let page: Paged<T> = self.get(url.clone()).await?;
            out.extend(page.values);
            match page.next {
                Some(next) if seen.insert(next.clone()) => url = self.next_url(&next)?,
                Some(_) => {
                    return Err(Error::invalid_data(
                        "Bitbucket sent the same `next` link twice; the listing would never end",
                    )
                    .with_connector(SOURCE));
                }
                None => return Ok(out),
            }
        }
        Err(Error::invalid_data("a Bitbucket listing has no end").with_connector(SOURCE))
    }

    /// The repositories of the workspace, or of the project `key`, by slug.
    pub(crate) async fn repositories(&self, project: Option<&str>) -> Result<Vec<RepoFrame>> {
        let mut url = self.endpoint(&["repositories", &self.workspace])?;
        url.query_pairs_mut()
            .append_pair("pagelen", "100")
            .append_pair("sort", "slug")
            .append_pair("fields", REPO_FIELDS);
        if let Some(key) = project {
            url.query_pairs_mut()
                .append_pair("q", &format!("project.key=\"{key}\""));
        }
        let repos: Vec<Repository> = self.all(url).await?;
        Ok(repos.into_iter().map(frame).collect())
    }

    /// One repository.
    pub(crate) async fn repository(&self, slug: &str) -> Result<RepoFrame> {
        let mut url = self.repo_endpoint(slug, &[])?;
        url.query_pairs_mut()
            .append_pair("fields", "slug,is_private,project.key");
        self.get::<Repository>(url).await.map(frame)
    }

    /// The slug of the first repository of the workspace, or of the project `key` (the
    /// listing the sync makes, so `check` needs no project scope the sync does not); none when
    /// there is none.
    pub(crate) async fn first_repository(&self, project: Option<&str>) -> Result<Option<String>> {
        let mut url = self.endpoint(&["repositories", &self.workspace])?;
        url.query_pairs_mut()
            .append_pair("pagelen", "1")
            .append_pair("fields", "values.slug");
        if let Some(key) = project {
            url.query_pairs_mut()
                .append_pair("q", &format!("project.key=\"{key}\""));
        }
        let page: Paged<Repository> = self.get(url).await?;
        Ok(page.values.into_iter().next().map(|r| r.slug))
    }

    /// One pull request of `slug` at most: the token may read pull requests (a scope of its
    /// own, `read:pullrequest:bitbucket`, which reading repositories does not need).
    pub(crate) async fn probe_pull_requests(&self, slug: &str) -> Result<()> {
        let mut url = self.repo_endpoint(slug, &["pullrequests"])?;
        url.query_pairs_mut()
            .append_pair("pagelen", "1")
            .append_pair("fields", "values.id");
        self.get::<Value>(url).await.map(|_| ())
    }

    /// One page of `repositories?pagelen=1`: the credentials work and the workspace exists.
    pub(crate) async fn probe(&self) -> Result<()> {
        let mut url = self.endpoint(&["repositories", &self.workspace])?;
        url.query_pairs_mut()
            .append_pair("pagelen", "1")
            .append_pair("fields", "pagelen");
        self.get::<Value>(url).await.map(|_| ())
    }

    /// The first pull-request page of `slug`: every state, changed at or after the window's
    /// start when there is one (the end is filtered exactly by the caller: a bound there would
    /// let pull requests updated during the run drop out of the listing and shift the next
    /// page past others).
    ///
    /// Loads list newest change first. The id listing (`slim`, prune's) lists by `id`: pages
    /// are by position, and under `-updated_on` an unread pull request updated mid-walk jumps
    /// onto a page already read and would be missing, so deleted. Ids never change and new
    /// pull requests take the next one, at the end; Bitbucket Cloud cannot delete a pull
    /// request (only decline it), so nothing moves an unread one backwards.
    pub(crate) fn first_pr_page(
        &self,
        slug: &str,
        window: Option<&TimeWindow>,
        slim: bool,
    ) -> Result<Url> {
        let mut url = self.repo_endpoint(slug, &["pullrequests"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("pagelen", &self.page_size.to_string());
            for state in STATES {
                q.append_pair("state", state);
            }
            q.append_pair("sort", if slim { "id" } else { "-updated_on" });
            q.append_pair("fields", if slim { SLIM_FIELDS } else { PR_FIELDS });
            if let Some(w) = window {
                q.append_pair("q", &format!("updated_on >= \"{}\"", rfc3339(w.start)));
            }
        }
        Ok(url)
    }

    /// One pull-request page: each value read on its own (typed, and hashed whole for its
    /// version), and its `next` link.
    pub(crate) async fn pr_page(&self, url: Url) -> Result<PrPage> {
        let response = self.http.get(url).send().await?;
        let page = serde_json::from_slice::<RawPage<'_>>(response.body())
            .map_err(|e| response.json_error(e))?;
        Ok(page.into())
    }

    /// One page of prune's id listing.
    pub(crate) async fn slim_page(&self, url: Url) -> Result<Paged<SlimPr>> {
        self.get(url).await
    }

    /// The pull request `id` of `slug`; none when it is gone.
    pub(crate) async fn pull_request(&self, slug: &str, id: u64) -> Result<Option<Listed>> {
        let mut url = self.repo_endpoint(slug, &["pullrequests", &id.to_string()])?;
        url.query_pairs_mut().append_pair(
            "fields",
            &PR_FIELDS
                .split(',')
                .filter_map(|f| f.strip_prefix("values."))
                .collect::<Vec<_>>()
                .join(","),
        );
        let response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let text = serde_json::from_slice::<&RawValue>(response.body())
            .map_err(|e| response.json_error(e))?;
        Ok(Some(Listed::from_text(text.get())))
    }

    /// Every comment of the pull request `id`, oldest first.
    pub(crate) async fn comments(&self, slug: &str, id: u64) -> Result<Vec<Comment>> {
        let mut url = self.repo_endpoint(slug, &["pullrequests", &id.to_string(), "comments"])?;
        url.query_pairs_mut()
            .append_pair("pagelen", "100")
            .append_pair("sort", "created_on");
        self.all(url).await
    }

    /// The activity of the pull request `id` (updates, approvals, requests for changes),
    /// its comments left out (read from their own endpoint).
    pub(crate) async fn activity(&self, slug: &str, id: u64) -> Result<Vec<ActivityEntry>> {
        let mut url = self.repo_endpoint(slug, &["pullrequests", &id.to_string(), "activity"])?;
        url.query_pairs_mut()
            .append_pair("pagelen", "50")
            .append_pair("fields", ACTIVITY_FIELDS);
        self.all(url).await
    }

    /// The users who may read the repository `slug`, as `bitbucket-user:{account_id}` (the
    /// `uuid` when an account shows no `account_id`): its effective permissions, which hold
    /// users given access directly, through a group, a project or the workspace default.
    pub(crate) async fn repo_users(&self, slug: &str) -> Result<Vec<String>> {
        let mut url = self.endpoint(&[
            "workspaces",
            &self.workspace,
            "permissions",
            "repositories",
            slug,
        ])?;
        url.query_pairs_mut()
            .append_pair("pagelen", "100")
            .append_pair(
                "fields",
                "next,values.permission,values.user.account_id,values.user.uuid",
            );
        let entries: Vec<RepositoryPermission> = self.all(url).await?;
        let mut users: Vec<String> = entries
            .into_iter()
            .filter_map(|e| e.user)
            .filter_map(|u| u.account_id.filter(|a| !a.is_empty()).or(u.uuid))
            .map(|id| format!("bitbucket-user:{id}"))
            .collect();
        users.sort();
        users.dedup();
        Ok(users)
    }
}

fn frame(repo: Repository) -> RepoFrame {
    RepoFrame {
        slug: repo.slug,
        // A repository whose visibility is not shown is treated as private.
        private: repo.is_private.unwrap_or(true),
        project: repo.project.and_then(|p| p.key),
        users: Vec::new(),
        whole: false,
    }
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<Value>,
}

/// The strings of `detail[key]`, when it is a list of them.
fn scope_list(detail: &Value, key: &str) -> Option<String> {
    let list: Vec<&str> = detail
        .get(key)?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    Some(list.join(", "))
}

/// What Bitbucket says in an error body (`{"type": "error", "error": {"message", "detail"}}`),
/// or the start of the body when it is not that shape, and whether it named the scopes it
/// wants (a scope refusal's `detail` is `{"required": […], "granted": […]}`).
fn said(body: &[u8]) -> (String, bool) {
    let err = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    if err.error.message.is_empty() {
        return (
            String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            false,
        );
    }
    match err.error.detail {
        Some(Value::String(d)) if !d.is_empty() => (format!("{} ({d})", err.error.message), false),
        Some(detail @ Value::Object(_)) => match scope_list(&detail, "required") {
            Some(required) => {
                let granted = scope_list(&detail, "granted").unwrap_or_default();
                (
                    format!(
                        "{} (required: {required}; granted: {granted})",
                        err.error.message
                    ),
                    true,
                )
            }
            None => (format!("{} ({detail})", err.error.message), false),
        },
        _ => (err.error.message, false),
    }
}

/// What Bitbucket's error answers mean: 404 a workspace, repository or pull request that does
/// not exist or is hidden from the account, 403 a missing permission or token scope, 400 a
/// query Bitbucket rejects. 401 and 429 are core's (credential field, `Retry-After`).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let (said, names_scopes) = said(body);
    match status.as_u16() {
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Bitbucket: {said}"),
        )),
        // Bitbucket named the scopes this endpoint wants: that is the fix, not a guess.
        403 if names_scopes => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!("Bitbucket refused access: {said}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Bitbucket refused access (the token needs the read:repository:bitbucket and read:pullrequest:bitbucket scopes and the account access to the workspace): {said}"
            ),
        )),
        400 | 405 | 409 | 412 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Bitbucket rejected the request: {said}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_refusal_names_the_scopes_bitbucket_wants() {
        let body = br#"{"type": "error", "error": {"message": "Your credentials lack one or more required privilege scopes.", "detail": {"granted": ["repository"], "required": ["pullrequest"]}}}"#;
        let class = classify(StatusCode::FORBIDDEN, body).unwrap();
        assert_eq!(class.kind, ErrorKind::PermissionDenied);
        let text = class.message;
        assert!(
            text.contains("required: pullrequest; granted: repository"),
            "{text}"
        );
        // The read-scope guess is left out when Bitbucket said what it wants.
        assert!(!text.contains("read:repository:bitbucket"), "{text}");

        let body = br#"{"type": "error", "error": {"message": "Access denied"}}"#;
        let text = classify(StatusCode::FORBIDDEN, body).unwrap().message;
        assert!(text.contains("read:pullrequest:bitbucket"), "{text}");
        assert!(text.contains("Access denied"), "{text}");
    }
}
