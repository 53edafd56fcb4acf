//! The walk: projects one after the other, in each the code files, the merge requests and the
//! issues as checkpointed batches, one source page each, on core's [`fetch_items`] (one
//! fingerprint lookup per page, unchanged items without their notes or bodies).

use std::collections::HashSet;

use connector_core::http::is_body_too_large;
use connector_core::pages::{Outcome, PendingItem, fetch_items};
use connector_core::{
    Access, CheckpointedBatch, Error, ErrorKind, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::SOURCE;
use super::checkpoint::{GitlabCheckpoint, Stage, UpdatedCursor};
use super::client::{Client, Commit, Download, Item, Project, TreeEntry};
use super::convert::{self, Kind};

/// Note listings or downloads at the same time within a page.
const CONCURRENCY: usize = 8;

/// What the walk reads, besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    /// The namespace (`project_owner`).
    pub(crate) owner: String,
    /// The projects configured; empty: every project of `owner`.
    pub(crate) projects: Vec<String>,
    pub(crate) mrs: bool,
    pub(crate) issues: bool,
    pub(crate) code: bool,
    pub(crate) comments: bool,
    pub(crate) system_notes: bool,
    pub(crate) permissions: bool,
    /// The ref whose files are read; none: each project's default branch.
    pub(crate) branch: Option<String>,
    pub(crate) max: u64,
    pub(crate) per_page: u32,
    /// The instance's host, in the group names of `access`.
    pub(crate) host: String,
    /// The instance's web base (`https://gitlab.com/`), which every project's `web_url`
    /// starts with.
    pub(crate) web: String,
}

/// A project as the walk reads it: its metadata, who may read it, the ref and head commit of
/// its files.
#[derive(Debug, Clone)]
pub(crate) struct Entered {
    pub(crate) project: Project,
    /// Who may read the project (by its visibility).
    pub(crate) access: Option<Access>,
    /// Its members alone: who may read a feature the project keeps to members
    /// (`*_access_level: private`), even on a public or internal project.
    pub(crate) members: Option<Access>,
    pub(crate) reference: Option<String>,
    pub(crate) head: Option<Commit>,
}

impl Entered {
    /// Who may read the project's code files.
    pub(crate) fn file_access(&self) -> Option<&Access> {
        self.feature_access(self.project.repository_access_level.as_deref())
    }

    /// Who may read the project's items of `kind` (before an item's own restriction, such
    /// as a confidential issue's).
    pub(crate) fn item_access(&self, kind: Kind) -> Option<&Access> {
        self.feature_access(match kind {
            Kind::Issue => self.project.issues_access_level.as_deref(),
            Kind::MergeRequest => self.project.merge_requests_access_level.as_deref(),
        })
    }

    fn feature_access(&self, level: Option<&str>) -> Option<&Access> {
        match level {
            Some("private") => self.members.as_ref(),
            _ => self.access.as_ref(),
        }
    }
}

enum Job {
    File(TreeEntry),
    Item(Kind, Box<Item>),
    Failed(Outcome),
}

impl Walk {
    /// The first stage after `done` (none: the project's first) that the config asks for.
    fn next_stage(&self, done: Option<&Stage>) -> Option<Stage> {
        let order = [(self.code, 0), (self.mrs, 1), (self.issues, 2)];
        let from = match done {
            None => 0,
            Some(Stage::CodeFiles { .. }) => 1,
            Some(Stage::MergeRequests(_)) => 2,
            Some(Stage::Issues(_)) => 3,
        };
        order
            .into_iter()
            .filter(|(on, at)| *on && *at >= from)
            .map(|(_, at)| match at {
                0 => Stage::CodeFiles { next: None },
                1 => Stage::MergeRequests(UpdatedCursor::start()),
                _ => Stage::Issues(UpdatedCursor::start()),
            })
            .next()
    }

    /// The error of a project that cannot be read, naming the field that chose it.
    pub(crate) fn named_project_error(&self, e: Error, path: &str) -> Error {
        match e.kind() {
            ErrorKind::NotFound => Error::new(
                ErrorKind::NotFound,
                format!(
                    "GitLab has no project `{path}` the token may see: check project_owner and project_name ({})",
                    e.message()
                ),
            )
            .with_connector(SOURCE)
            .with_field(if self.projects.is_empty() { "project_owner" } else { "project_name" }),
            _ => e,
        }
    }

    /// The projects to read: the configured ones, or every project of the namespace.
    pub(crate) async fn list_projects(&self) -> Result<Vec<String>> {
        if !self.projects.is_empty() {
            return Ok(self.projects.clone());
        }
        self.client
            .namespace_projects(&self.owner)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "GitLab has no group or user `{}` the token may see ({})",
                        self.owner,
                        e.message()
                    ),
                )
                .with_connector(SOURCE)
                .with_field("project_owner"),
                _ => e,
            })
    }

    /// Reads the project at `path` with what its documents need; none when a project of a
    /// group listing is gone since.
    pub(crate) async fn enter(&self, path: &str, code: bool) -> Result<Option<Entered>> {
        let project = match self.client.project(path).await {
            Ok(p) => p,
            Err(e) if e.kind() == ErrorKind::NotFound && self.projects.is_empty() => {
                tracing::warn!(
                    connector = SOURCE,
                    project = path,
                    "the project is gone since the group was listed"
                );
                return Ok(None);
            }
            Err(e) => return Err(self.named_project_error(e, path)),
        };
        let (access, members) = if self.permissions {
            let (access, members) = self.access(&project).await?;
            (Some(access), Some(members))
        } else {
            (None, None)
        };
        let reference = self
            .branch
            .clone()
            .or_else(|| project.default_branch.clone());
        let head = match (&reference, code) {
            (Some(r), true) => self.client.commit(project.id, r).await?,
            _ => None,
        };
        Ok(Some(Entered {
            project,
            access,
            members,
            reference,
            head,
        }))
    }

    /// Who may read what is in `project`, and who may read what it keeps to its members.
    ///
    /// The first: anyone for a public one; for an internal one every signed-in user of the
    /// instance (`gitlab-internal:{host}`); its members (`gitlab-project:{host}/{path}`, and
    /// their e-mail addresses where GitLab shows them) for any that is not public. The second:
    /// its members alone, for the features a project keeps to them whatever its visibility
    /// (`issues_access_level: private` on a public project: a public repository with a
    /// members-only tracker).
    async fn access(&self, project: &Project) -> Result<(Access, Access)> {
        let members_group = format!(
            "gitlab-project:{}/{}",
            self.host, project.path_with_namespace
        );
        let public = project.visibility.as_deref() == Some("public");
        let mut emails = Vec::new();
        // A public project's members are read only when something is kept to them.
        if !public || project.keeps_any_to_members() {
            if let Some(members) = self.client.members(project.id).await? {
                for m in members {
                    if m.state.as_deref().is_some_and(|s| s != "active") {
                        continue;
                    }
                    let email = m.email.or(m.public_email).filter(|e| e.contains('@'));
                    match email {
                        Some(e) => emails.push(e.to_lowercase()),
                        None => {
                            tracing::debug!(connector = SOURCE, member = %m.username, "a member without a visible e-mail address")
                        }
                    }
                }
            }
            emails.sort();
            emails.dedup();
        }
        let members = Access::restricted(emails.clone(), vec![members_group.clone()]);
        if public {
            // The members' group too: what a confidential issue keeps.
            let mut access = Access::public();
            access.groups.push(members_group);
            return Ok((access, members));
        }
        let mut groups = vec![members_group];
        if project.visibility.as_deref() == Some("internal") {
            groups.push(format!("gitlab-internal:{}", self.host));
        }
        Ok((Access::restricted(emails, groups), members))
    }

    /// The checkpointed walk from `from`, within `window` when given.
    pub(crate) fn checkpointed(
        &self,
        from: GitlabCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GitlabCheckpoint>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let mut cp = from;
            if !cp.started {
                cp.projects = walk.list_projects().await?;
                cp.started = true;
                cp.stage = None;
            }
            let mut entered: Option<Entered> = None;
            loop {
                ctx.cancellation().check()?;
                let Some(path) = cp.projects.first().cloned() else { break };
                if entered.as_ref().is_none_or(|e| e.project.path_with_namespace != path) {
                    entered = walk.enter(&path, walk.code).await?;
                    if entered.is_none() {
                        cp.projects.remove(0);
                        cp.stage = None;
                        yield CheckpointedBatch::new(connector_core::Batch::default(), cp.clone());
                        continue;
                    }
                }
                let Some(project) = entered.clone() else { continue };
                let stage = match cp.stage.clone() {
                    Some(s) => Some(s),
                    None => walk.next_stage(None),
                };
                let Some(stage) = stage else {
                    cp.projects.remove(0);
                    cp.stage = None;
                    yield CheckpointedBatch::new(connector_core::Batch::default(), cp.clone());
                    continue;
                };
                let (batch, next) = match &stage {
                    Stage::CodeFiles { next } => walk.code_page(&project, next.as_deref(), window.as_ref(), &ctx).await?,
                    Stage::MergeRequests(cursor) => walk.items_page(&project, Kind::MergeRequest, cursor, window.as_ref(), &ctx).await?,
                    Stage::Issues(cursor) => walk.items_page(&project, Kind::Issue, cursor, window.as_ref(), &ctx).await?,
                };
                match next {
                    Some(next) => cp.stage = Some(next),
                    None => match walk.next_stage(Some(&stage)) {
                        Some(s) => cp.stage = Some(s),
                        None => {
                            cp.projects.remove(0);
                            cp.stage = None;
                        }
                    },
                }
                yield CheckpointedBatch::new(batch, cp.clone());
            }
        }
        .boxed()
    }

    /// One tree page of the project's ref as a batch, and the stage after it (none: the
    /// tree is done). In a window, the files are read only when the ref's head commit is in
    /// it: the tree lists no times, and a file's time is that of the commit read.
    async fn code_page(
        &self,
        entered: &Entered,
        next: Option<&str>,
        window: Option<&TimeWindow>,
        ctx: &SyncContext,
    ) -> Result<(connector_core::Batch, Option<Stage>)> {
        let (Some(reference), Some(head)) = (&entered.reference, &entered.head) else {
            // No repository, or an empty one.
            return Ok((Default::default(), None));
        };
        if let Some(w) = window
            && !head.committed_date.is_some_and(|t| w.contains(t))
        {
            return Ok((Default::default(), None));
        }
        let url = match next {
            Some(n) => self.client.own_url(n).map_err(|e| {
                Error::checkpoint(format!(
                    "the checkpoint's tree page is not a link of this instance: {}",
                    e.message()
                ))
                .with_connector(SOURCE)
            })?,
            None => self
                .client
                .tree_url(entered.project.id, reference, self.per_page)?,
        };
        let page = self.client.tree_page(url).await?;
        let project = &entered.project;
        let mut pending = Vec::new();
        for value in page.items {
            let path = value.get("path").and_then(Value::as_str).map(str::to_owned);
            match serde_json::from_value::<TreeEntry>(value) {
                Ok(entry) if entry.kind == "blob" => {
                    let id = convert::file_id(project, reference, &entry.path);
                    let version = convert::file_version(&entry, entered.file_access());
                    pending.push(PendingItem::new(id, Job::File(entry)).with_version(&version));
                }
                Ok(_) => {}
                Err(e) => {
                    let id = path
                        .as_deref()
                        .map(|p| convert::file_id(project, reference, p))
                        .unwrap_or_default();
                    let what = path.unwrap_or_else(|| "a tree entry".to_owned());
                    let failed = convert::failure(
                        &id,
                        &what,
                        ErrorKind::InvalidData,
                        format!("the tree entry cannot be read: {e}"),
                    );
                    pending.push(PendingItem::new(id, Job::Failed(failed)));
                }
            }
        }
        let batch = self.fetch(entered, pending, ctx).await?;
        let next = page.next.map(|n| Stage::CodeFiles {
            next: Some(n.to_string()),
        });
        Ok((batch, next))
    }

    /// One page of issues or merge requests changed after the cursor (and in the window) as a
    /// batch, and the stage after it (none: the listing is done).
    async fn items_page(
        &self,
        entered: &Entered,
        kind: Kind,
        cursor: &UpdatedCursor,
        window: Option<&TimeWindow>,
        ctx: &SyncContext,
    ) -> Result<(connector_core::Batch, Option<Stage>)> {
        let project = &entered.project;
        let after = match (cursor.after, window) {
            (Some(a), _) => Some(a),
            (None, Some(w)) => Some(w.start),
            (None, None) => None,
        };
        let url = self.client.items_url(
            project.id,
            kind.path(),
            after,
            window.map(|w| w.end),
            cursor.page.max(1),
            self.per_page,
        )?;
        let page = self.client.page(url).await?;
        let done: HashSet<u64> = cursor.done.iter().copied().collect();
        let mut pending = Vec::new();
        let mut listed: Vec<(chrono::DateTime<chrono::Utc>, u64)> = Vec::new();
        for value in page.items {
            let web_url = value
                .get("web_url")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match serde_json::from_value::<Item>(value) {
                Ok(item) => {
                    listed.push((item.updated_at, item.id));
                    if cursor.after == Some(item.updated_at) && done.contains(&item.id) {
                        continue;
                    }
                    if window.is_some_and(|w| !w.contains(item.updated_at)) {
                        continue;
                    }
                    let access = convert::item_access(&item, entered.item_access(kind));
                    let version = convert::item_version(&item, access.as_ref());
                    pending.push(
                        PendingItem::new(item.web_url.clone(), Job::Item(kind, Box::new(item)))
                            .with_version(&version),
                    );
                }
                Err(e) => {
                    let id = web_url.unwrap_or_default();
                    let failed = convert::failure(
                        &id,
                        &format!(
                            "a listed {} of {}",
                            kind.path(),
                            project.path_with_namespace
                        ),
                        ErrorKind::InvalidData,
                        format!("it cannot be read: {e}"),
                    );
                    pending.push(PendingItem::new(id, Job::Failed(failed)));
                }
            }
        }
        let batch = self.fetch(entered, pending, ctx).await?;
        if page.next.is_none() {
            return Ok((batch, None));
        }
        let next = advance(cursor, &listed);
        Ok((
            batch,
            Some(match kind {
                Kind::Issue => Stage::Issues(next),
                Kind::MergeRequest => Stage::MergeRequests(next),
            }),
        ))
    }

    async fn fetch(
        &self,
        entered: &Entered,
        pending: Vec<PendingItem<Job>>,
        ctx: &SyncContext,
    ) -> Result<connector_core::Batch> {
        fetch_items(ctx, pending, CONCURRENCY, |job| {
            let walk = self.clone();
            let entered = entered.clone();
            async move { walk.fetch_one(&entered, job).await }
        })
        .await
    }

    /// One item's outcome: a file downloaded, an issue or merge request with its notes.
    async fn fetch_one(&self, entered: &Entered, job: Job) -> Result<Option<Outcome>> {
        let project = &entered.project;
        match job {
            Job::Failed(outcome) => Ok(Some(outcome)),
            Job::File(entry) => {
                let reference = entered.reference.clone().unwrap_or_default();
                let id = convert::file_id(project, &reference, &entry.path);
                match self.client.blob(project.id, &entry.id, self.max).await {
                    Ok(Download::Gone) => Ok(None),
                    Ok(Download::Data(data)) => Ok(Some(convert::file_document(
                        &entry,
                        data,
                        project,
                        &reference,
                        entered.head.as_ref(),
                        entered.file_access().cloned(),
                    ))),
                    Err(e) if is_body_too_large(&e) => Ok(Some(convert::failure(
                        &id,
                        &entry.path,
                        ErrorKind::Unsupported,
                        format!(
                            "the file is larger than max_file_size ({} bytes); raise max_file_size to read it",
                            self.max
                        ),
                    ))),
                    Err(e) => Err(e),
                }
            }
            Job::Item(kind, item) => {
                let wants_notes = self.comments && (item.user_notes_count > 0 || self.system_notes);
                let notes = if wants_notes {
                    self.client.notes(project.id, kind.path(), item.iid).await?
                } else {
                    Vec::new()
                };
                let access = convert::item_access(&item, entered.item_access(kind));
                Ok(Some(convert::item_document(
                    kind,
                    &item,
                    &notes,
                    project,
                    access,
                    self.system_notes,
                )))
            }
        }
    }

    /// Every document id of the configured projects: the files of each ref, every merge
    /// request and issue; fails rather than come back short.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            for path in walk.list_projects().await? {
                ctx.cancellation().check()?;
                let Some(entered) = walk.enter(&path, walk.code).await? else { continue };
                let project = &entered.project;
                if let (true, Some(reference), Some(_)) = (walk.code, &entered.reference, &entered.head) {
                    let mut at = Some(walk.client.tree_url(project.id, reference, 100)?);
                    while let Some(url) = at.take() {
                        let page = walk.client.tree_page(url.clone()).await?;
                        let ids: Vec<SlimDocument> = page
                            .items
                            .iter()
                            .filter(|v| v.get("type").and_then(Value::as_str) == Some("blob"))
                            .filter_map(|v| v.get("path").and_then(Value::as_str))
                            .map(|p| SlimDocument::new(convert::file_id(project, reference, p)))
                            .collect();
                        if !ids.is_empty() {
                            yield ids;
                        }
                        at = page.next.filter(|n| *n != url);
                    }
                }
                for (on, kind) in [(walk.mrs, Kind::MergeRequest), (walk.issues, Kind::Issue)] {
                    if !on {
                        continue;
                    }
                    let mut cursor = UpdatedCursor::start();
                    loop {
                        let url = walk.client.items_url(project.id, kind.path(), cursor.after, None, cursor.page.max(1), 100)?;
                        let page = walk.client.page(url).await?;
                        let mut listed = Vec::new();
                        let mut ids = Vec::new();
                        for v in &page.items {
                            let (Some(web_url), Some(id), Some(updated)) = (
                                v.get("web_url").and_then(Value::as_str),
                                v.get("id").and_then(Value::as_u64),
                                v.get("updated_at").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
                            ) else {
                                Err(Error::invalid_data(format!("GitLab listed a {} of {} without web_url, id or updated_at", kind.path(), project.path_with_namespace)).with_connector(SOURCE))?;
                                continue;
                            };
                            let updated = updated.to_utc();
                            listed.push((updated, id));
                            if cursor.after == Some(updated) && cursor.done.contains(&id) {
                                continue;
                            }
                            ids.push(SlimDocument::new(web_url));
                        }
                        if !ids.is_empty() {
                            yield ids;
                        }
                        if page.next.is_none() {
                            break;
                        }
                        cursor = advance(&cursor, &listed);
                    }
                }
            }
        }
        .boxed()
    }
}

/// What a document id names: an issue or merge request of a project, or a file at a ref.
enum Named {
    Item(String, Kind, u64),
    File(String, String),
}

impl Walk {
    fn parse_id(&self, id: &str) -> Option<Named> {
        let rest = id.strip_prefix(self.web.as_str())?;
        let (project, rest) = rest.split_once("/-/")?;
        if project.is_empty() {
            return None;
        }
        let inside = if self.projects.is_empty() {
            project
                .strip_prefix(self.owner.as_str())
                .is_some_and(|r| r.starts_with('/'))
        } else {
            self.projects.iter().any(|p| p == project)
        };
        if !inside {
            return None;
        }
        let (kind, tail) = rest.split_once('/')?;
        match kind {
            "issues" | "merge_requests" => {
                let iid = tail.parse().ok()?;
                let kind = if kind == "issues" {
                    Kind::Issue
                } else {
                    Kind::MergeRequest
                };
                Some(Named::Item(project.to_owned(), kind, iid))
            }
            "blob" => Some(Named::File(project.to_owned(), tail.to_owned())),
            _ => None,
        }
    }

    /// The documents with these ids again, read by id; an id of no configured project, an
    /// item that is gone, or a file of another ref yields nothing.
    pub(crate) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<connector_core::Batch>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let mut entered: std::collections::HashMap<String, Option<Entered>> = Default::default();
            for chunk in ids.chunks(100) {
                let mut pending = Vec::new();
                for id in chunk {
                    let Some(named) = walk.parse_id(id) else { continue };
                    let path = match &named {
                        Named::Item(p, ..) | Named::File(p, _) => p.clone(),
                    };
                    if !entered.contains_key(&path) {
                        let e = match walk.enter(&path, walk.code).await {
                            Ok(e) => e,
                            Err(e) if e.kind() == ErrorKind::NotFound => None,
                            Err(e) => Err(e)?,
                        };
                        entered.insert(path.clone(), e);
                    }
                    let Some(Some(project)) = entered.get(&path).cloned() else { continue };
                    pending.push(PendingItem::new(id.clone(), (project, named)));
                }
                let batch = fetch_items(&ctx, pending, CONCURRENCY, |(entered, named): (Entered, Named)| {
                    let walk = walk.clone();
                    async move { walk.refetch_one(&entered, named).await }
                })
                .await?;
                if !batch.is_empty() {
                    yield batch;
                }
            }
        }
        .boxed()
    }

    async fn refetch_one(&self, entered: &Entered, named: Named) -> Result<Option<Outcome>> {
        let project = &entered.project;
        match named {
            Named::Item(_, kind, iid) => {
                if !(match kind {
                    Kind::Issue => self.issues,
                    Kind::MergeRequest => self.mrs,
                }) {
                    return Ok(None);
                }
                let Some(value) = self.client.item(project.id, kind.path(), iid).await? else {
                    return Ok(None);
                };
                let item: Item = serde_json::from_value(value).map_err(|e| {
                    Error::invalid_data(format!(
                        "GitLab sent a {} that cannot be read: {e}",
                        kind.path()
                    ))
                    .with_connector(SOURCE)
                })?;
                self.fetch_one(entered, Job::Item(kind, Box::new(item)))
                    .await
            }
            Named::File(_, tail) => {
                let Some(reference) = entered.reference.as_deref() else {
                    return Ok(None);
                };
                let Some(path) = tail
                    .strip_prefix(reference)
                    .and_then(|p| p.strip_prefix('/'))
                else {
                    return Ok(None);
                };
                if !self.code {
                    return Ok(None);
                }
                let id = convert::file_id(project, reference, path);
                match self
                    .client
                    .file_raw(project.id, reference, path, self.max)
                    .await
                {
                    Ok(None) => Ok(None),
                    Ok(Some((sha, data))) => {
                        let name = path.rsplit('/').next().unwrap_or(path).to_owned();
                        let entry = TreeEntry {
                            id: sha,
                            name,
                            kind: "blob".to_owned(),
                            path: path.to_owned(),
                        };
                        Ok(Some(convert::file_document(
                            &entry,
                            data,
                            project,
                            reference,
                            entered.head.as_ref(),
                            entered.file_access().cloned(),
                        )))
                    }
                    Err(e) if is_body_too_large(&e) => Ok(Some(convert::failure(
                        &id,
                        path,
                        ErrorKind::Unsupported,
                        format!(
                            "the file is larger than max_file_size ({} bytes); raise max_file_size to read it",
                            self.max
                        ),
                    ))),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// The cursor after a page whose items were `listed` (`updated_at`, id, in the page's
/// order): at the last `updated_at` with the ids handed on at it; the next page number when
/// the page made no progress (a whole page sharing one `updated_at`).
pub(crate) fn advance(
    cursor: &UpdatedCursor,
    listed: &[(chrono::DateTime<chrono::Utc>, u64)],
) -> UpdatedCursor {
    let Some(last) = listed.iter().map(|(t, _)| *t).max() else {
        return UpdatedCursor {
            page: cursor.page.saturating_add(1),
            ..cursor.clone()
        };
    };
    let mut done: Vec<u64> = if cursor.after == Some(last) {
        cursor.done.clone()
    } else {
        Vec::new()
    };
    for (t, id) in listed {
        if *t == last && !done.contains(id) {
            done.push(*id);
        }
    }
    done.sort_unstable();
    let stuck = cursor.after == Some(last) && done == cursor.done;
    UpdatedCursor {
        after: Some(last),
        done,
        page: if stuck {
            cursor.page.saturating_add(1)
        } else {
            1
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2025, 3, 1, 10, 0, s)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn the_cursor_moves_to_the_last_time_with_the_ids_handed_on_at_it() {
        let c = advance(
            &UpdatedCursor::start(),
            &[(at(1), 10), (at(2), 11), (at(2), 12)],
        );
        assert_eq!(
            (c.after, c.done.clone(), c.page),
            (Some(at(2)), vec![11, 12], 1)
        );
        // The next page starts with those again (GitLab's bound is inclusive), then newer ones.
        let c2 = advance(&c, &[(at(2), 11), (at(2), 12), (at(3), 13)]);
        assert_eq!((c2.after, c2.done, c2.page), (Some(at(3)), vec![13], 1));
    }

    #[test]
    fn a_page_of_one_time_that_brings_nothing_new_moves_to_the_next_page() {
        let c = advance(&UpdatedCursor::start(), &[(at(5), 1), (at(5), 2)]);
        assert_eq!(c.page, 1);
        let stuck = advance(&c, &[(at(5), 1), (at(5), 2)]);
        assert_eq!((stuck.after, stuck.page), (Some(at(5)), 2));
        let on = advance(&stuck, &[(at(5), 3), (at(6), 4)]);
        assert_eq!((on.after, on.done, on.page), (Some(at(6)), vec![4], 1));
    }
}
