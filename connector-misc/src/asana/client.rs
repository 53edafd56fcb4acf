//! The Asana REST calls the connector makes (`https://app.asana.com/api/1.0`):
//!
//! - `GET /workspaces/{workspace}`: the workspace exists and the token may read it;
//! - `GET /projects?workspace={workspace}&archived=false`, `GET /teams/{team}/projects?archived=false`
//!   or `GET /projects/{gid}`: the projects of the run;
//! - `GET /memberships?parent={gid}`: who is a member of a private project (users and
//!   teams); the deprecated `GET /projects/{gid}/project_memberships` when it is refused as
//!   a bad request;
//! - `GET /tasks?project={gid}&modified_since=…&opt_fields=…&limit=100`: a project's tasks;
//! - `GET /tasks/{gid}/subtasks`: a task's subtasks (not in the project's listing);
//! - `GET /tasks/{gid}/stories`: a task's stories, the comments among them;
//! - `GET /attachments?parent={gid}`: a task's attachments; their `download_url` is a
//!   short-lived signed URL, fetched without the token; `GET /attachments/{gid}` signs a
//!   new one when it expired before its download.
//!
//! Collections are paged with `limit` and the `offset` token of `next_page`. Errors come as
//! `{"errors": [{"message": …}]}`.

use std::collections::HashSet;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::http::{Auth, ErrorClass, HttpClient, StatusCode};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde::de::DeserializeOwned;
use url::Url;

use super::SOURCE;
use super::model::{
    ApiErrors, Attachment, EventPage, Events, Listed, Membership, One, Paged, Project, Story,
};

/// The task fields a listing asks for (`opt_fields`).
pub(crate) const TASK_FIELDS: &str = "gid,name,notes,html_notes,modified_at,created_at,completed,completed_at,due_on,due_at,start_on,assignee.name,assignee.email,followers.email,parent.name,projects.name,tags.name,custom_fields.name,custom_fields.display_value,permalink_url,resource_subtype,num_subtasks";

/// The task fields the subtask sweep of an incremental run asks for: enough to tell a task
/// that has subtasks, its projects and whether the window's listing read it already.
pub(crate) const SWEEP_FIELDS: &str = "gid,modified_at,num_subtasks,projects.name";

/// The task fields the id listing of prune asks for.
pub(crate) const SLIM_FIELDS: &str = "gid,num_subtasks,projects.name";

const PROJECT_FIELDS: &str = "gid,name,privacy_setting,public,team.name,workspace.gid";

const STORY_FIELDS: &str = "gid,resource_subtype,text,created_at,created_by.name";

const ATTACHMENT_FIELDS: &str =
    "gid,name,size,download_url,permanent_url,host,created_at,resource_subtype";

const MEMBERSHIP_FIELDS: &str = "member.gid,member.resource_type,member.email,user.gid,user.email";

/// Items per page: Asana's maximum `limit`.
pub(crate) const PAGE_SIZE: u32 = 100;

/// More pages than any collection has: a loop guard beside the repeated-offset check.
const MAX_PAGES: usize = 100_000;

/// Requests to one workspace; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    api: Url,
    pub(crate) workspace: String,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Client {
    /// The HTTP client (tests read its rate gate key).
    #[cfg(test)]
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    pub(crate) fn new(http: HttpClient, api: Url, workspace: String) -> Self {
        Self {
            http,
            api,
            workspace,
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
            .extend(segments);
        Ok(url)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.http.get(url).send().await?.json()
    }

    /// One page of the collection at `url`, from `offset`.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        mut url: Url,
        offset: Option<&str>,
    ) -> Result<Paged<T>> {
        if let Some(offset) = offset {
            url.query_pairs_mut().append_pair("offset", offset);
        }
        self.get(url).await
    }

    /// Every page of the collection at `first`, its items in order.
    async fn all<T: DeserializeOwned>(&self, first: Url) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut offset: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page: Paged<T> = self.page(first.clone(), offset.as_deref()).await?;
            out.extend(page.data);
            match page.next_page {
                Some(next) if seen.insert(next.offset.clone()) => offset = Some(next.offset),
                Some(_) => {
                    return Err(Error::invalid_data(
                        "Asana sent the same `offset` twice; the listing would never end",
                    )
                    .with_connector(SOURCE));
                }
                None => return Ok(out),
            }
        }
        Err(Error::invalid_data("an Asana listing has no end").with_connector(SOURCE))
    }

    /// The workspace: it exists and the token may read it.
    pub(crate) async fn probe_workspace(&self) -> Result<()> {
        let mut url = self.endpoint(&["workspaces", &self.workspace])?;
        url.query_pairs_mut().append_pair("opt_fields", "gid,name");
        self.get::<serde_json::Value>(url).await.map(|_| ())
    }

    /// The team: it exists and the token may read it.
    pub(crate) async fn probe_team(&self, team: &str) -> Result<()> {
        let mut url = self.endpoint(&["teams", team])?;
        url.query_pairs_mut().append_pair("opt_fields", "gid,name");
        self.get::<serde_json::Value>(url).await.map(|_| ())
    }

    /// The first page of the workspace's unarchived projects.
    fn projects_url(&self) -> Result<Url> {
        let mut url = self.endpoint(&["projects"])?;
        url.query_pairs_mut()
            .append_pair("workspace", &self.workspace)
            .append_pair("archived", "false")
            .append_pair("limit", &PAGE_SIZE.to_string())
            .append_pair("opt_fields", PROJECT_FIELDS);
        Ok(url)
    }

    /// The unarchived projects of the workspace.
    pub(crate) async fn projects(&self) -> Result<Vec<Project>> {
        self.all(self.projects_url()?).await
    }

    /// The first page of the workspace's unarchived projects (a check's bounded probe).
    pub(crate) async fn first_projects(&self) -> Result<Vec<Project>> {
        Ok(self.page::<Project>(self.projects_url()?, None).await?.data)
    }

    /// One project.
    pub(crate) async fn project(&self, gid: &str) -> Result<Project> {
        let mut url = self.endpoint(&["projects", gid])?;
        url.query_pairs_mut()
            .append_pair("opt_fields", PROJECT_FIELDS);
        Ok(self.get::<One<Project>>(url).await?.data)
    }

    /// The members of a project: Asana's `memberships` (which replaced
    /// `project_memberships`), or the older path when the newer is refused as a bad request.
    pub(crate) async fn memberships(&self, gid: &str) -> Result<Vec<Membership>> {
        let mut url = self.endpoint(&["memberships"])?;
        url.query_pairs_mut()
            .append_pair("parent", gid)
            .append_pair("limit", &PAGE_SIZE.to_string())
            .append_pair("opt_fields", MEMBERSHIP_FIELDS);
        match self.all(url).await {
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                let mut url = self.endpoint(&["projects", gid, "project_memberships"])?;
                url.query_pairs_mut()
                    .append_pair("limit", &PAGE_SIZE.to_string())
                    .append_pair("opt_fields", MEMBERSHIP_FIELDS);
                self.all(url).await
            }
            got => got,
        }
    }

    /// The first task page of project `gid`, modified since `since` when given.
    pub(crate) fn tasks_url(&self, gid: &str, since: Option<DateTime<Utc>>) -> Result<Url> {
        self.tasks_url_sized(gid, since, PAGE_SIZE)
    }

    /// [`tasks_url`](Self::tasks_url) with `limit` tasks per page.
    pub(crate) fn tasks_url_sized(
        &self,
        gid: &str,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Url> {
        self.tasks_url_with(gid, since, limit, TASK_FIELDS)
    }

    /// [`tasks_url_sized`](Self::tasks_url_sized) asking for the task fields `fields`.
    pub(crate) fn tasks_url_with(
        &self,
        gid: &str,
        since: Option<DateTime<Utc>>,
        limit: u32,
        fields: &str,
    ) -> Result<Url> {
        let mut url = self.endpoint(&["tasks"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("project", gid);
            if let Some(since) = since {
                q.append_pair("modified_since", &rfc3339(since));
            }
            q.append_pair("limit", &limit.to_string());
            q.append_pair("opt_fields", fields);
        }
        Ok(url)
    }

    /// The subtasks of task `gid` (one level), with the fields of a task listing.
    pub(crate) async fn subtasks(&self, gid: &str) -> Result<Vec<Listed>> {
        self.subtasks_with(gid, TASK_FIELDS).await
    }

    /// The subtasks of task `gid` (one level), with the task fields `fields`.
    pub(crate) async fn subtasks_with<T: DeserializeOwned>(
        &self,
        gid: &str,
        fields: &str,
    ) -> Result<Vec<T>> {
        let mut url = self.endpoint(&["tasks", gid, "subtasks"])?;
        url.query_pairs_mut()
            .append_pair("limit", &PAGE_SIZE.to_string())
            .append_pair("opt_fields", fields);
        self.all(url).await
    }

    /// The stories of task `gid`, oldest first.
    pub(crate) async fn stories(&self, gid: &str) -> Result<Vec<Story>> {
        let mut url = self.endpoint(&["tasks", gid, "stories"])?;
        url.query_pairs_mut()
            .append_pair("limit", &PAGE_SIZE.to_string())
            .append_pair("opt_fields", STORY_FIELDS);
        self.all(url).await
    }

    /// Task `gid` with the task fields.
    pub(crate) async fn task(&self, gid: &str) -> Result<Listed> {
        let mut url = self.endpoint(&["tasks", gid])?;
        url.query_pairs_mut().append_pair("opt_fields", TASK_FIELDS);
        Ok(self.get::<One<Listed>>(url).await?.data)
    }

    /// The events on `resource` (a project: they bubble up from its tasks, their stories and
    /// subtasks) since the sync token `sync`, every page (`has_more`), and the token to
    /// ask with next time. Without a token, or with one Asana no longer knows (they expire
    /// after 24 hours, or sooner), Asana answers 412 with a fresh token and no events:
    /// [`Events::expired`] is then set.
    pub(crate) async fn events(&self, resource: &str, sync: Option<&str>) -> Result<Events> {
        let mut out = Events::default();
        let mut token = sync.map(str::to_owned);
        for _ in 0..MAX_PAGES {
            let mut url = self.endpoint(&["events"])?;
            url.query_pairs_mut().append_pair("resource", resource);
            if let Some(t) = &token {
                url.query_pairs_mut().append_pair("sync", t);
            }
            let response = self
                .http
                .get(url)
                .client_errors_as_responses()
                .send()
                .await?;
            let status = response.status().as_u16();
            let page: EventPage = match status {
                200..=299 | 412 => serde_json::from_slice(response.body()).map_err(|e| {
                    Error::invalid_data("Asana's events answer is not the documented JSON")
                        .with_connector(SOURCE)
                        .with_cause(e)
                })?,
                _ => {
                    let class = classify(response.status(), response.body());
                    let (kind, text) = match class {
                        Some(c) => (c.kind, c.message),
                        None if status == 401 => (
                            ErrorKind::Unauthenticated,
                            format!("Asana did not take {}", super::config::TOKEN_FIELD),
                        ),
                        None => (
                            ErrorKind::InvalidData,
                            format!(
                                "Asana answered {status} for the events: {}",
                                said(response.body())
                            ),
                        ),
                    };
                    return Err(Error::new(kind, text).with_connector(SOURCE));
                }
            };
            if status == 412 {
                out.expired = true;
                out.tasks.clear();
            } else {
                for e in page.data {
                    if let Some(task) = e.edited_story_task() {
                        let at = e.created_at.unwrap_or_else(Utc::now);
                        out.tasks.push((task.to_owned(), at));
                    }
                }
            }
            let next = page.sync.ok_or_else(|| {
                Error::invalid_data("Asana's events answer carries no `sync` token")
                    .with_connector(SOURCE)
            })?;
            let more = page.has_more && status != 412 && token.as_deref() != Some(next.as_str());
            token = Some(next);
            if !more {
                out.sync = token.unwrap_or_default();
                // The latest edit of each task.
                out.tasks.sort();
                out.tasks.reverse();
                out.tasks.dedup_by(|a, b| a.0 == b.0);
                return Ok(out);
            }
        }
        Err(Error::invalid_data("Asana's events have no end").with_connector(SOURCE))
    }

    /// The attachments of task `gid`.
    pub(crate) async fn attachments(&self, gid: &str) -> Result<Vec<Attachment>> {
        let mut url = self.endpoint(&["attachments"])?;
        url.query_pairs_mut()
            .append_pair("parent", gid)
            .append_pair("limit", &PAGE_SIZE.to_string())
            .append_pair("opt_fields", ATTACHMENT_FIELDS);
        self.all(url).await
    }

    /// One attachment, with a fresh `download_url`.
    pub(crate) async fn attachment(&self, gid: &str) -> Result<Attachment> {
        let mut url = self.endpoint(&["attachments", gid])?;
        url.query_pairs_mut()
            .append_pair("opt_fields", ATTACHMENT_FIELDS);
        Ok(self.get::<One<Attachment>>(url).await?.data)
    }

    /// The body at a signed `download_url`, at most `max` bytes. The URL carries its own
    /// signature: the token is not sent (it would go to a storage host, not Asana).
    pub(crate) async fn download(&self, url: &str, max: u64) -> Result<Bytes> {
        let url = Url::parse(url).map_err(|e| {
            Error::invalid_data("an attachment's download_url is not a URL")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        let sent = self
            .http
            .get(url)
            .auth(Auth::None, "")
            .max_body_bytes(max)
            .send()
            .await;
        match sent {
            Ok(response) => Ok(response.into_body()),
            // The storage host refused the signed URL, not Asana the token: a failure of
            // the attachment, never the end of the sync.
            Err(e) if e.kind() == ErrorKind::Unauthenticated => Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("the storage host refused the attachment's download_url: {e}"),
            )
            .with_connector(SOURCE)),
            Err(e) => Err(e),
        }
    }
}

/// What Asana says in an error body, or the start of the body when it is not that shape.
fn said(body: &[u8]) -> String {
    let errors = serde_json::from_slice::<ApiErrors>(body).unwrap_or_default();
    let messages: Vec<&str> = errors
        .errors
        .iter()
        .map(|e| e.message.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    if messages.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
    } else {
        messages.join("; ")
    }
}

/// What Asana's error answers mean: 404 a workspace, team, project or task that does not
/// exist or is hidden from the token's user, 403 and 402 (a premium-only feature) a missing
/// permission, 400 a request Asana rejects (an expired `offset` among them). 401 and 429
/// (`Retry-After`) are core's.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let said = said(body);
    match status.as_u16() {
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Asana: {said}"),
        )),
        402 | 403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!("Asana refused access: {said}"),
        )),
        400 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Asana rejected the request: {said}"),
        )),
        _ => None,
    }
}
