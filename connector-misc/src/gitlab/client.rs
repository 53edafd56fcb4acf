//! The GitLab REST v4 calls the connector makes, and what their answers hold.
//!
//! - `GET /projects/{path or id}`: a project (its id, `web_url`, `visibility`,
//!   `default_branch`);
//! - `GET /groups/{path}/projects?include_subgroups=true&pagination=keyset&order_by=id` (or
//!   `/users/{name}/projects`): the projects of a namespace, by keyset `Link` header
//!   (`id_after`), or by offset where keyset paging is refused;
//! - `GET /projects/{id}/repository/tree?recursive=true&pagination=keyset`: the files of a ref
//!   with their blob ids, by keyset `Link` header (`page_token`);
//! - `GET /projects/{id}/repository/blobs/{sha}/raw`: a file's bytes;
//! - `GET /projects/{id}/repository/commits/{ref}`: the commit a ref points at;
//! - `GET /projects/{id}/{issues|merge_requests}?order_by=updated_at&sort=asc&updated_after=…`
//!   and their `/discussions` (threads of notes, 100 a page), by offset `Link` header
//!   (GitLab offers keyset paging only for some lists, not these; the walk pages them by
//!   `updated_after` instead, see [`UpdatedCursor`](super::UpdatedCursor));
//! - `GET /projects/{id}/members/all`: who may read a private project;
//! - errors as `{"message": "404 Project Not Found"}` or `{"error": "invalid_token",
//!   "error_description": …}`; `RateLimit-Remaining` / `RateLimit-Reset` (epoch seconds) on
//!   every answer, `Retry-After` on a 429.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use connector_core::http::{ErrorClass, HttpClient, Response, StatusCode};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::SOURCE;

/// The longest wait for GitLab's `RateLimit-Reset` when `RateLimit-Remaining` reached 0.
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

/// Pages of one listing at most (a link that never ends would loop forever).
const MAX_PAGES: usize = 100_000;

/// A user as GitLab shows one in `author`, `assignees`, `reviewers`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    #[serde(default)]
    pub(crate) username: String,
}

/// A project.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Project {
    pub(crate) id: u64,
    pub(crate) path_with_namespace: String,
    pub(crate) web_url: String,
    /// `public`, `internal` or `private`.
    #[serde(default)]
    pub(crate) visibility: Option<String>,
    /// None for a project without a repository.
    #[serde(default)]
    pub(crate) default_branch: Option<String>,
    /// Who may read the project's issues: `enabled` (whoever may read the project),
    /// `private` (its members only, whatever its visibility) or `disabled`.
    #[serde(default)]
    pub(crate) issues_access_level: Option<String>,
    /// The same for merge requests.
    #[serde(default)]
    pub(crate) merge_requests_access_level: Option<String>,
    /// The same for the repository (code files).
    #[serde(default)]
    pub(crate) repository_access_level: Option<String>,
    /// The older flag of `issues_access_level` (`false`: disabled), for instances that send
    /// no access level.
    #[serde(default)]
    pub(crate) issues_enabled: Option<bool>,
    /// The older flag of `merge_requests_access_level`.
    #[serde(default)]
    pub(crate) merge_requests_enabled: Option<bool>,
    /// The project is archived: read-only, kept for reference.
    #[serde(default)]
    pub(crate) archived: bool,
}

/// A feature of a project the connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    Repository,
    MergeRequests,
    Issues,
}

impl Feature {
    /// The API's name of the feature, in failures.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Repository => "repository",
            Self::MergeRequests => "merge requests",
            Self::Issues => "issues",
        }
    }
}

impl Project {
    /// The feature's access level: `enabled`, `private` (members only) or `disabled`; an
    /// instance that sends no level is read from the older `*_enabled` flag.
    pub(crate) fn level(&self, feature: Feature) -> &str {
        let (level, enabled) = match feature {
            Feature::Repository => (&self.repository_access_level, None),
            Feature::MergeRequests => (
                &self.merge_requests_access_level,
                self.merge_requests_enabled,
            ),
            Feature::Issues => (&self.issues_access_level, self.issues_enabled),
        };
        match (level.as_deref(), enabled) {
            (Some(level), _) => level,
            (None, Some(false)) => "disabled",
            (None, _) => "enabled",
        }
    }

    /// Whether the project has the feature turned off (nothing to read, and a request for it
    /// is refused).
    pub(crate) fn disables(&self, feature: Feature) -> bool {
        self.level(feature) == "disabled"
    }

    /// Whether the project keeps any of what the connector reads to its members.
    pub(crate) fn keeps_any_to_members(&self) -> bool {
        [Feature::Repository, Feature::MergeRequests, Feature::Issues]
            .into_iter()
            .any(|f| self.level(f) == "private")
    }
}

/// A tree entry: `blob` (a file), `tree` (a folder) or `commit` (a submodule).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TreeEntry {
    /// The blob id (git's SHA-1 of the content).
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) path: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Milestone {
    #[serde(default)]
    pub(crate) title: String,
}

/// An issue or a merge request as listed (the fields both have, and each one's own).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Item {
    pub(crate) id: u64,
    pub(crate) iid: u64,
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) author: Option<User>,
    #[serde(default)]
    pub(crate) assignees: Vec<User>,
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    #[serde(default)]
    pub(crate) milestone: Option<Milestone>,
    pub(crate) web_url: String,
    #[serde(default)]
    pub(crate) user_notes_count: u64,
    /// Issues: visible to project members with Reporter access and to author and assignees.
    #[serde(default)]
    pub(crate) confidential: Option<bool>,
    /// Issues: `issue`, `incident`, `test_case`, `task`.
    #[serde(default)]
    pub(crate) issue_type: Option<String>,
    /// Merge requests.
    #[serde(default)]
    pub(crate) merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) source_branch: Option<String>,
    #[serde(default)]
    pub(crate) target_branch: Option<String>,
    #[serde(default)]
    pub(crate) draft: Option<bool>,
    #[serde(default)]
    pub(crate) reviewers: Vec<User>,
}

/// A note (comment) on an issue or merge request.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Note {
    #[serde(default)]
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) author: Option<User>,
    pub(crate) created_at: DateTime<Utc>,
    /// A note GitLab wrote itself ("added label ~bug").
    #[serde(default)]
    pub(crate) system: bool,
    /// An internal note, visible only to members with Reporter access.
    #[serde(default)]
    pub(crate) internal: bool,
    /// The same before GitLab 15.0, which sends no `internal` (newer versions send both
    /// with one value).
    #[serde(default)]
    pub(crate) confidential: bool,
    /// A merge request's review comment on a line of its diff (`type: DiffNote`): the file
    /// and line it is on.
    #[serde(default)]
    pub(crate) position: Option<Position>,
    /// A note of a thread that can be resolved (a merge request's review thread, a thread
    /// started on an issue or merge request), and whether it is.
    #[serde(default)]
    pub(crate) resolvable: bool,
    #[serde(default)]
    pub(crate) resolved: bool,
}

/// A thread of notes (`/discussions`): a comment on its own (`individual_note`), or the
/// note that started a thread and its replies, oldest first.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Discussion {
    #[serde(default)]
    pub(crate) notes: Vec<Note>,
}

impl Discussion {
    /// Whether the thread can be resolved, and whether it is: every resolvable note of it
    /// resolved, as GitLab's `Discussion#resolved?` reads it.
    pub(crate) fn resolution(&self) -> Option<bool> {
        let mut resolvable = self.notes.iter().filter(|n| n.resolvable).peekable();
        resolvable.peek()?;
        Some(resolvable.all(|n| n.resolved))
    }
}

/// Where a diff note sits: the file and the line in the new version (`new_line`, none for a
/// removed line) or the old one.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Position {
    #[serde(default)]
    pub(crate) new_path: Option<String>,
    #[serde(default)]
    pub(crate) old_path: Option<String>,
    #[serde(default)]
    pub(crate) new_line: Option<u64>,
    #[serde(default)]
    pub(crate) old_line: Option<u64>,
}

impl Position {
    /// `path:line`, `path:line (old)` for a removed line, or the path of a comment on the
    /// whole file; none without a path.
    pub(crate) fn place(&self) -> Option<String> {
        let path = self.new_path.as_deref().or(self.old_path.as_deref())?;
        Some(match (self.new_line, self.old_line) {
            (Some(line), _) => format!("{path}:{line}"),
            (None, Some(line)) => {
                format!("{}:{line} (old)", self.old_path.as_deref().unwrap_or(path))
            }
            (None, None) => path.to_owned(),
        })
    }
}

/// A project member (`/members/all`); `email` only for administrators' tokens.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Member {
    #[serde(default)]
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) public_email: Option<String>,
    /// The user's state (`active`, `blocked`, …).
    #[serde(default)]
    pub(crate) state: Option<String>,
    /// The member's role: 5 Minimal Access, 10 Guest, 15 Planner, 20 Reporter, 30
    /// Developer, 40 Maintainer, 50 Owner; absent reads as none (no access).
    #[serde(default)]
    pub(crate) access_level: u32,
    /// `active`, or `awaiting` (invited or added without a seat: no access yet).
    #[serde(default)]
    pub(crate) membership_state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Commit {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) committed_date: Option<DateTime<Utc>>,
}

/// One page of a listing: its entries read as `T` and the next page's URL.
///
/// The page is read as a list of `T` in one pass; when that fails, each entry is read on its
/// own, so that one malformed entry fails alone (`Err` with the entry as sent and why).
#[derive(Debug)]
pub(crate) struct ListPage<T> {
    pub(crate) items: Vec<Entry<T>>,
    pub(crate) next: Option<Url>,
}

/// An entry of a listing page: read, or as sent with why it cannot be read.
pub(crate) type Entry<T> = std::result::Result<T, (Value, serde_json::Error)>;

/// The entries of a listing page's body: all of them as `T` in one pass, or, when one is
/// malformed, each on its own.
fn entries<T: DeserializeOwned>(resp: &Response) -> Result<Vec<Entry<T>>> {
    if let Ok(all) = serde_json::from_slice::<Vec<T>>(resp.body()) {
        return Ok(all.into_iter().map(Ok).collect());
    }
    let values: Vec<Value> = resp.json()?;
    Ok(values
        .into_iter()
        .map(|v| T::deserialize(&v).map_err(|e| (v, e)))
        .collect())
}

/// What `blobs/{sha}/raw` gave.
pub(crate) enum Download {
    Data(Vec<u8>),
    /// The blob is gone since the listing (a force push).
    Gone,
}

/// Requests to one GitLab instance; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    /// `{gitlab_url}/api/v4/`.
    api: Url,
    /// The sync it requests for: its cancellation ends a wait for the quota's reset, and the
    /// wait is counted into its stats.
    ctx: Option<SyncContext>,
}

impl Client {
    pub(crate) fn new(http: HttpClient, api: Url) -> Self {
        Self {
            http,
            api,
            ctx: None,
        }
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            api: self.api.clone(),
            ctx: Some(ctx.clone()),
        }
    }

    /// `{api}/{segments…}`, each segment percent-encoded (a project path's `/` as `%2F`).
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::internal("the GitLab URL cannot take a path").with_connector(SOURCE)
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// A URL a `Link` header or a checkpoint gave, taken by its path and query onto this
    /// instance's API origin (the token goes with it): an instance behind a proxy may write
    /// its links with another `external_url`, and a link outside the API is refused.
    pub(crate) fn own_url(&self, url: &str) -> Result<Url> {
        let refused = || {
            Error::new(
                ErrorKind::InvalidData,
                "GitLab sent a next-page link outside its API; not followed",
            )
            .with_connector(SOURCE)
        };
        let given = Url::parse(url).map_err(|_| refused())?;
        if !given.path().starts_with(self.api.path()) {
            return Err(refused());
        }
        let mut own = self.api.clone();
        own.set_path(given.path());
        own.set_query(given.query());
        Ok(own)
    }

    async fn get(&self, url: Url, max: Option<u64>) -> Result<Response> {
        let mut req = self.http.get(url);
        if let Some(max) = max {
            req = req.max_body_bytes(max);
        }
        let resp = req.send().await?;
        pace(&resp, self.ctx.as_ref()).await?;
        Ok(resp)
    }

    async fn json<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.get(url, None).await?.json()
    }

    /// One page of a listing at `url`; the next from the `Link` header (`rel="next"`), or
    /// else from `X-Next-Page` (GitLab leaves `Link` out in some proxied setups).
    pub(crate) async fn page<T: DeserializeOwned>(&self, url: Url) -> Result<ListPage<T>> {
        let resp = self.get(url.clone(), None).await?;
        let items = entries(&resp)?;
        let next = match resp.next_link() {
            Some(next) => Some(self.own_url(next.as_str())?),
            None => resp
                .header("x-next-page")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let mut next = url.clone();
                    let pairs: Vec<(String, String)> = url
                        .query_pairs()
                        .filter(|(k, _)| k != "page")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    next.query_pairs_mut()
                        .clear()
                        .extend_pairs(pairs)
                        .append_pair("page", p);
                    next
                }),
        };
        Ok(ListPage { items, next })
    }

    /// Every entry of a listing from `url`, page by page, read as `T`.
    pub(crate) async fn all<T: DeserializeOwned>(&self, url: Url) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut at = Some(url);
        let mut pages = 0;
        while let Some(url) = at.take() {
            let page = self.page::<T>(url.clone()).await?;
            out.reserve(page.items.len());
            for item in page.items {
                out.push(item.map_err(|(_, e)| {
                    Error::invalid_data(format!("GitLab sent an entry that cannot be read: {e}"))
                        .with_connector(SOURCE)
                })?);
            }
            pages += 1;
            at = page.next.filter(|n| *n != url && pages < MAX_PAGES);
        }
        Ok(out)
    }

    /// The project at `path` (`group/sub/name`) or numeric id.
    pub(crate) async fn project(&self, path: &str) -> Result<Project> {
        self.json(self.endpoint(&["projects", path])?).await
    }

    /// The first project of the group `owner` (or else the user `owner`), one request of
    /// one entry: that the namespace is there and the token may list it.
    pub(crate) async fn namespace_probe(&self, owner: &str) -> Result<()> {
        let mut url = self.endpoint(&["groups", owner, "projects"])?;
        url.query_pairs_mut()
            .append_pair("include_subgroups", "true")
            .append_pair("simple", "true")
            .append_pair("per_page", "1");
        match self.get(url, None).await {
            Err(e) if e.kind() == ErrorKind::NotFound && !owner.contains('/') => {
                let mut url = self.endpoint(&["users", owner, "projects"])?;
                url.query_pairs_mut()
                    .append_pair("simple", "true")
                    .append_pair("per_page", "1");
                self.get(url, None).await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    /// The paths of every project of the group `owner` and its subgroups, or of the user
    /// `owner` when no group has that path, in id order.
    ///
    /// Keyset-paged (`pagination=keyset&order_by=id`: the `Link` header's next page asks
    /// `id_after`), so a project created or deleted while the list is read shifts no page
    /// under the next; an instance that refuses keyset paging for the listing (405, older
    /// versions) is asked again by offset. Without `archived`, archived projects are left
    /// out by GitLab (`archived=false`).
    pub(crate) async fn namespace_projects(
        &self,
        owner: &str,
        archived: bool,
    ) -> Result<Vec<String>> {
        match self.listed_projects(owner, true, archived).await {
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                self.listed_projects(owner, false, archived).await
            }
            other => other,
        }
    }

    async fn listed_projects(
        &self,
        owner: &str,
        keyset: bool,
        archived: bool,
    ) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Listed {
            path_with_namespace: String,
        }
        let ordered = |mut url: Url, group: bool| {
            let mut q = url.query_pairs_mut();
            if group {
                q.append_pair("include_subgroups", "true")
                    .append_pair("with_shared", "false");
            }
            if keyset {
                q.append_pair("pagination", "keyset");
            }
            if !archived {
                q.append_pair("archived", "false");
            }
            q.append_pair("order_by", "id")
                .append_pair("sort", "asc")
                .append_pair("simple", "true")
                .append_pair("per_page", "100");
            drop(q);
            url
        };
        let url = ordered(self.endpoint(&["groups", owner, "projects"])?, true);
        let listed: Vec<Listed> = match self.all(url).await {
            Err(e) if e.kind() == ErrorKind::NotFound && !owner.contains('/') => {
                self.all(ordered(
                    self.endpoint(&["users", owner, "projects"])?,
                    false,
                ))
                .await?
            }
            other => other?,
        };
        Ok(listed.into_iter().map(|p| p.path_with_namespace).collect())
    }

    /// The first page of the tree of `reference` (recursive, keyset-paged).
    pub(crate) fn tree_url(&self, project: u64, reference: &str, per_page: u32) -> Result<Url> {
        let mut url = self.endpoint(&["projects", &project.to_string(), "repository", "tree"])?;
        url.query_pairs_mut()
            .append_pair("ref", reference)
            .append_pair("recursive", "true")
            .append_pair("pagination", "keyset")
            .append_pair("per_page", &per_page.to_string());
        Ok(url)
    }

    /// A tree page; an empty repository (404 `Tree Not Found`) is an empty last page.
    pub(crate) async fn tree_page<T: DeserializeOwned>(&self, url: Url) -> Result<ListPage<T>> {
        match self.page(url).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(ListPage {
                items: Vec::new(),
                next: None,
            }),
            other => other,
        }
    }

    /// The commit `reference` (a branch, tag or SHA) points at; none for an empty repository.
    pub(crate) async fn commit(&self, project: u64, reference: &str) -> Result<Option<Commit>> {
        let url = self.endpoint(&[
            "projects",
            &project.to_string(),
            "repository",
            "commits",
            reference,
        ])?;
        match self.json(url).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The bytes of blob `sha`, refusing more than `max`.
    pub(crate) async fn blob(&self, project: u64, sha: &str, max: u64) -> Result<Download> {
        let url = self.endpoint(&[
            "projects",
            &project.to_string(),
            "repository",
            "blobs",
            sha,
            "raw",
        ])?;
        match self.get(url, Some(max)).await {
            Ok(resp) => Ok(Download::Data(resp.into_body().to_vec())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Download::Gone),
            Err(e) => Err(e),
        }
    }

    /// The file at `path` of `reference` and its blob id (GitLab's `X-Gitlab-Blob-Id`); none
    /// when it is not there.
    pub(crate) async fn file_raw(
        &self,
        project: u64,
        reference: &str,
        path: &str,
        max: u64,
    ) -> Result<Option<(String, Vec<u8>)>> {
        let mut url = self.endpoint(&[
            "projects",
            &project.to_string(),
            "repository",
            "files",
            path,
            "raw",
        ])?;
        url.query_pairs_mut().append_pair("ref", reference);
        match self.get(url, Some(max)).await {
            Ok(resp) => {
                let sha = resp
                    .header("x-gitlab-blob-id")
                    .unwrap_or_default()
                    .to_owned();
                Ok(Some((sha, resp.into_body().to_vec())))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page of issues or merge requests (`kind`) by `updated_at` ascending, from `after`
    /// (inclusive, its millisecond) up to `before` (inclusive, rounded up to the next
    /// millisecond: GitLab compares the stored microseconds, so a bound cut down to the
    /// millisecond it prints would leave out what changed inside that millisecond; the walk
    /// filters the window exactly).
    pub(crate) fn items_url(
        &self,
        project: u64,
        kind: &str,
        after: Option<DateTime<Utc>>,
        before: Option<DateTime<Utc>>,
        page: u32,
        per_page: u32,
    ) -> Result<Url> {
        let mut url = self.endpoint(&["projects", &project.to_string(), kind])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("state", "all")
                .append_pair("scope", "all")
                .append_pair("order_by", "updated_at")
                .append_pair("sort", "asc")
                .append_pair("per_page", &per_page.to_string())
                .append_pair("page", &page.to_string());
            if let Some(after) = after {
                q.append_pair("updated_after", &iso(after));
            }
            if let Some(before) = before {
                q.append_pair("updated_before", &iso(ceil_ms(before)));
            }
        }
        Ok(url)
    }

    /// One issue or merge request (`kind`) by its `iid`; none when it is gone.
    pub(crate) async fn item(&self, project: u64, kind: &str, iid: u64) -> Result<Option<Value>> {
        let url = self.endpoint(&["projects", &project.to_string(), kind, &iid.to_string()])?;
        match self.json(url).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every thread of notes of an issue or merge request, oldest first, 100 a page.
    pub(crate) async fn discussions(
        &self,
        project: u64,
        kind: &str,
        iid: u64,
    ) -> Result<Vec<Discussion>> {
        let mut url = self.endpoint(&[
            "projects",
            &project.to_string(),
            kind,
            &iid.to_string(),
            "discussions",
        ])?;
        url.query_pairs_mut().append_pair("per_page", "100");
        self.all(url).await
    }

    /// Every member of the project, inherited ones included; none when the token may not list
    /// them.
    pub(crate) async fn members(&self, project: u64) -> Result<Option<Vec<Member>>> {
        let mut url = self.endpoint(&["projects", &project.to_string(), "members", "all"])?;
        url.query_pairs_mut().append_pair("per_page", "100");
        match self.all(url).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// A time as GitLab's filters take it: ISO 8601 in UTC with milliseconds (cut down to the
/// millisecond).
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `t` rounded up to the next whole millisecond (itself when it is one).
pub(crate) fn ceil_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    let step = chrono::TimeDelta::milliseconds(1);
    match t.duration_trunc(step) {
        Ok(floor) if floor < t => floor + step,
        _ => t,
    }
}

/// Waits out an exhausted quota: when `RateLimit-Remaining` is 0, until `RateLimit-Reset`
/// (GitLab sends epoch seconds), at most [`MAX_RESET_WAIT`], so the next request does not
/// draw a 429. The wait is counted into the sync's stats and ends when the sync is cancelled.
async fn pace(resp: &Response, ctx: Option<&SyncContext>) -> Result<()> {
    let remaining = resp
        .header("ratelimit-remaining")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if remaining != Some(0) {
        return Ok(());
    }
    let Some(reset) = resp
        .header("ratelimit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return Ok(());
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let wait = Duration::from_secs(reset.saturating_sub(now)).min(MAX_RESET_WAIT);
    if wait.is_zero() {
        return Ok(());
    }
    tracing::info!(
        connector = SOURCE,
        wait_secs = wait.as_secs(),
        "GitLab's rate limit quota is used up; waiting for its reset"
    );
    let Some(ctx) = ctx else {
        tokio::time::sleep(wait).await;
        return Ok(());
    };
    ctx.stats().add_rate_limit_wait(wait);
    tokio::select! {
        () = tokio::time::sleep(wait) => Ok(()),
        () = ctx.cancellation().cancelled() => Err(Error::new(
            ErrorKind::Cancelled,
            "cancelled while waiting for GitLab's rate limit reset",
        )
        .with_connector(SOURCE)),
    }
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    message: Value,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// What GitLab's error bodies say: `{"message": "404 Project Not Found"}` (a string, or an
/// object of field errors for a 400), `{"error": "insufficient_scope", "error_description":
/// …}`. 404 is a missing (or hidden: GitLab answers 404 for a private project the token may
/// not see) resource, 403 a missing permission or scope. 401 and 429 are core's.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let err = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let said = match (&err.message, &err.error) {
        (Value::String(m), _) => m.clone(),
        (Value::Null, Some(e)) => match &err.error_description {
            Some(d) => format!("{e}: {d}"),
            None => e.clone(),
        },
        (Value::Null, None) => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        (other, _) => other.to_string(),
    };
    match status.as_u16() {
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("GitLab: {said} (or the token may not see it)"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "GitLab refused access (the token needs the `read_api` scope and access to the project): {said}"
            ),
        )),
        400 | 405 | 409 | 422 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("GitLab rejected the request: {said}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_end_is_sent_rounded_up_to_the_millisecond() {
        let end: DateTime<Utc> = "2025-03-01T10:00:00.123456Z".parse().unwrap_or_default();
        assert_eq!(iso(ceil_ms(end)), "2025-03-01T10:00:00.124Z");
        let whole: DateTime<Utc> = "2025-03-01T10:00:00.123Z".parse().unwrap_or_default();
        assert_eq!(iso(ceil_ms(whole)), "2025-03-01T10:00:00.123Z");
    }

    #[test]
    fn error_bodies_are_read_as_gitlab_writes_them() {
        let c = classify(
            StatusCode::NOT_FOUND,
            br#"{"message":"404 Project Not Found"}"#,
        );
        let c = c
            .map(|c| (c.kind, c.message))
            .unwrap_or((ErrorKind::Internal, String::new()));
        assert_eq!(c.0, ErrorKind::NotFound);
        assert!(c.1.contains("404 Project Not Found"), "{}", c.1);
        let c = classify(
            StatusCode::FORBIDDEN,
            br#"{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"read_api"}"#,
        );
        let c = c
            .map(|c| (c.kind, c.message))
            .unwrap_or((ErrorKind::Internal, String::new()));
        assert_eq!(c.0, ErrorKind::PermissionDenied);
        assert!(
            c.1.contains("insufficient_scope: The request requires"),
            "{}",
            c.1
        );
        let c = classify(
            StatusCode::BAD_REQUEST,
            br#"{"message":{"updated_after":["is invalid"]}}"#,
        );
        assert!(c.is_some_and(
            |c| c.kind == ErrorKind::InvalidData && c.message.contains("updated_after")
        ));
        assert!(
            classify(
                StatusCode::UNAUTHORIZED,
                br#"{"message":"401 Unauthorized"}"#
            )
            .is_none()
        );
    }
}
