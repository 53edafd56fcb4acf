//! The walk: the run's projects one after another, each one's task pages as checkpointed
//! batches on core's [`fetch_items`] (one fingerprint lookup per page; unchanged tasks cost no
//! story request nor download, the others are read a few at a time).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::http::is_body_too_large;
use connector_core::pages::{KnownFingerprints, Outcome, PendingItem, fetch_items, item_failure};
use connector_core::{
    Access, Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use super::SOURCE;
use super::checkpoint::{AsanaCheckpoint, MAX_EDITED, ProjectFrame};
use super::client::{Client, PAGE_SIZE, SWEEP_FIELDS};
use super::convert::{self, doc_id};
use super::model::{Listed, Paged, Project, Task};

/// Tasks read at the same time within a page.
const CONCURRENCY: usize = 4;

/// Levels of subtasks read below a listed task (Asana nests them up to five deep).
pub(crate) const MAX_DEPTH: usize = 5;

/// Tasks an incremental run reads of each project's unfiltered listing to tell whether who
/// may read them changed since they were sent.
const PROBE_SIZE: u32 = 20;

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) project_ids: Vec<String>,
    pub(crate) team: Option<String>,
    pub(crate) comments: bool,
    pub(crate) attachments: bool,
    pub(crate) max_file_size: u64,
    /// The run's comment edits by task gid (from the checkpoint, then the events).
    pub(crate) edited: Arc<std::sync::RwLock<HashMap<String, DateTime<Utc>>>>,
    /// The run's projects whose events token had expired, with when that was found: the
    /// last comment edit of each of their tasks is taken to be then at the latest.
    pub(crate) reread: Arc<std::sync::RwLock<HashMap<String, DateTime<Utc>>>>,
}

/// What the reading of a page's tasks and their subtasks shares.
struct RunScope {
    ctx: SyncContext,
    /// The index of each project of the run, by gid.
    order: Arc<HashMap<String, usize>>,
    /// The window of the listing, which bounds subtasks too.
    window: Option<TimeWindow>,
}

/// A task to read (its stories and attachments) and convert.
enum Pending {
    Task {
        task: Box<Task>,
        home: Arc<ProjectFrame>,
        access: Access,
        /// Who reads it and its version when the store holds another version (or none);
        /// `None`: the store holds this one already.
        changed: Option<convert::Seen>,
    },
    /// A task outside the window whose subtasks are looked at (the sweep of an incremental
    /// run): only its subtasks' outcomes come of it.
    Sweep {
        task: Box<Task>,
        home: Arc<ProjectFrame>,
        access: Access,
    },
    Failed(Failure),
}

fn named(field: &'static str, what: String, e: Error) -> Error {
    Error::new(e.kind(), what)
        .with_connector(SOURCE)
        .with_field(field)
        .with_cause(e)
}

/// A project's `privacy_setting`. Without it, the older `public` flag meant public to the
/// project's team, never to the whole workspace.
fn privacy(project: &Project) -> &str {
    match project.privacy_setting.as_deref() {
        Some(p) => p,
        None if project.public == Some(true) && project.team.is_some() => "private_to_team",
        None => "private",
    }
}

/// Who may read `task`, listed under the project at `index`: every project of the run it is
/// in; none when its first project of the run is another one (it is read there).
fn task_access(
    task: &Task,
    projects: &[ProjectFrame],
    order: &HashMap<String, usize>,
    index: usize,
) -> Option<Access> {
    let mut mine: Vec<usize> = task
        .projects
        .iter()
        .filter_map(|p| order.get(&p.gid).copied())
        .collect();
    mine.sort_unstable();
    mine.dedup();
    if mine.first().is_some_and(|first| *first != index) {
        return None;
    }
    if mine.is_empty() {
        mine.push(index);
    }
    let frames: Vec<&ProjectFrame> = mine.iter().map(|i| &projects[*i]).collect();
    Some(convert::access(&frames))
}

impl Walk {
    /// Whether an incremental run must list the project at `index` whole: a task of the first
    /// page of its unfiltered listing, not modified since the window's start, is in the store
    /// at another version than this run would give it. That is who may read it changed (the
    /// project made private or public, a member added or removed), which moves no task's
    /// `modified_at`: the window's listing would leave the stored access as it was.
    async fn access_changed(
        &self,
        projects: &[ProjectFrame],
        order: &HashMap<String, usize>,
        index: usize,
        window: &TimeWindow,
        ctx: &SyncContext,
    ) -> Result<bool> {
        let gid = &projects[index].gid;
        let url = self.client.tasks_url_sized(gid, None, PROBE_SIZE)?;
        let page: Paged<Listed> = match self.client.page(url, None).await {
            Ok(page) => page,
            // The listing proper tells what this means.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut versions = Vec::new();
        for listed in page.data {
            if let Listed::Task(mut task) = self.listed(listed)
                && task.modified_at < window.start
                && let Some(access) = task_access(&task, projects, order, index)
            {
                self.reread_floor(&mut task, gid);
                versions.push((doc_id(&task.gid), convert::version(&task, &access)));
            }
        }
        if versions.is_empty() {
            return Ok(false);
        }
        let ids: Vec<String> = versions.iter().map(|(id, _)| id.clone()).collect();
        // Only tasks the store holds count: one it never had is not this run's to send.
        let stored = ctx.fingerprints().fingerprints(&ids).await?;
        Ok(versions.iter().any(|(id, v)| {
            stored
                .get(id)
                .is_some_and(|f| *f != connector_core::Document::version_fingerprint(v))
        }))
    }

    fn workspace(&self) -> &str {
        &self.client.workspace
    }

    /// A listed task, with the last edit of its comments this run knows of (an edit it was
    /// modified since is forgotten: it is no part of its version any more). The project it
    /// is read under may add its re-read time ([`reread_floor`](Self::reread_floor)).
    fn listed(&self, mut listed: Listed) -> Listed {
        if let Listed::Task(task) = &mut listed {
            let edited = self
                .edited
                .read()
                .ok()
                .and_then(|m| m.get(&task.gid).copied());
            if edited.is_some_and(|e| e <= task.modified_at)
                && let Ok(mut m) = self.edited.write()
            {
                m.remove(&task.gid);
            }
            task.comment_edited = edited.filter(|e| *e > task.modified_at);
        }
        listed
    }

    /// `task` read under `project`: when the project's events were lost, its comments may
    /// have been edited unseen up to when that was found.
    fn reread_floor(&self, task: &mut Task, project: &str) {
        let floor = self
            .reread
            .read()
            .ok()
            .and_then(|m| m.get(project).copied())
            .filter(|t| *t > task.modified_at);
        if floor > task.comment_edited {
            task.comment_edited = floor;
        }
    }

    /// The comment edits to carry: the run's, the latest [`MAX_EDITED`] at most.
    fn edits_to_carry(&self) -> BTreeMap<String, i64> {
        let Ok(map) = self.edited.read() else {
            return BTreeMap::new();
        };
        let mut all: Vec<(i64, &String)> = map
            .iter()
            .map(|(gid, at)| (at.timestamp_millis(), gid))
            .collect();
        if all.len() > MAX_EDITED {
            all.sort_unstable_by(|a, b| b.cmp(a));
            all.truncate(MAX_EDITED);
        }
        all.into_iter().map(|(at, gid)| (gid.clone(), at)).collect()
    }

    /// The tasks of the project at `index` whose comments were edited or deleted since the
    /// project's events token in `cp` (which these calls move on), each read again (its
    /// version holds the edit's time, so it is sent). Without a token (a first run) or with
    /// an expired one, only a fresh token: edits before it are left to a full run. A task
    /// read under another project of the run, or changed within the window (the listing
    /// reads it), is left to that.
    async fn edited_comments(
        &self,
        cp: &mut AsanaCheckpoint,
        order: &HashMap<String, usize>,
        window: Option<&TimeWindow>,
    ) -> Result<Batch> {
        let index = cp.index;
        let gid = cp.projects[index].gid.clone();
        let events = match self
            .client
            .events(&gid, cp.events.get(&gid).map(String::as_str))
            .await
        {
            Ok(events) => events,
            Err(e) if e.kind() == ErrorKind::Unauthenticated => return Err(e),
            Err(e) => {
                tracing::warn!(connector = SOURCE, project = %gid, "the project's events cannot be read; comments edited since the last run wait for a full run: {e}");
                return Ok(Batch::default());
            }
        };
        if events.expired && cp.events.contains_key(&gid) {
            // Edits since the last run are unknown: every task of the project not modified
            // since is read again once (its version takes this time as a comment edit).
            tracing::warn!(connector = SOURCE, project = %gid, "the project's events token expired (Asana keeps them 24 hours); its tasks are read again for comments edited since the last run");
            let now = Utc::now();
            if let Ok(mut m) = self.reread.write() {
                m.insert(gid.clone(), now);
            }
            cp.reread.insert(gid.clone(), now.timestamp_millis());
            cp.unwindowed = true;
        }
        cp.events.insert(gid.clone(), events.sync);
        let mut batch = Batch::default();
        if events.tasks.is_empty() {
            return Ok(batch);
        }
        if let Ok(mut map) = self.edited.write() {
            for (task, at) in &events.tasks {
                map.insert(task.clone(), *at);
            }
        }
        cp.edited = self.edits_to_carry();
        let home = Arc::new(cp.projects[index].clone());
        for (task_gid, _) in &events.tasks {
            let id = doc_id(task_gid);
            let listed = match self.client.task(task_gid).await {
                Ok(listed) => listed,
                // Deleted since: prune's.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => {
                    batch.push(item_failure(id, e)?.into());
                    continue;
                }
            };
            let Listed::Task(mut task) = self.listed(listed) else {
                continue;
            };
            if window.is_some_and(|w| w.contains(task.modified_at)) {
                continue;
            }
            let Some(access) = task_access(&task, &cp.projects, order, index) else {
                continue;
            };
            self.reread_floor(&mut task, &gid);
            let seen = convert::seen(&task, &access);
            match self.read_one(&task, &home, Some(seen)).await {
                Ok(outcomes) => outcomes.into_iter().for_each(|o| batch.push(o)),
                Err(e) => batch.push(item_failure(id, e)?.into()),
            }
        }
        Ok(batch)
    }

    pub(crate) fn for_run(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            edited: Arc::default(),
            reread: Arc::default(),
            ..self.clone()
        }
    }

    fn workspace_error(&self, e: Error) -> Error {
        match e.kind() {
            ErrorKind::NotFound => named(
                "asana_workspace_id",
                format!(
                    "the workspace {} does not exist, or the token's user is not in it: {e}",
                    self.workspace()
                ),
                e,
            ),
            _ => e,
        }
    }

    fn team_error(&self, team: &str, e: Error) -> Error {
        match e.kind() {
            ErrorKind::NotFound => named(
                "asana_team_id",
                format!("the team {team} does not exist, or the token's user cannot see it: {e}"),
                e,
            ),
            _ => e,
        }
    }

    /// The projects of the run: the named ones, or the unarchived ones of the team or of the
    /// workspace, each once, with who may read them.
    async fn projects(&self) -> Result<Vec<ProjectFrame>> {
        let mut frames = Vec::new();
        for project in self.listed_projects().await? {
            frames.push(self.frame(project).await?);
        }
        Ok(frames)
    }

    /// The projects of the run as listed, each once, in order.
    pub(crate) async fn listed_projects(&self) -> Result<Vec<Project>> {
        let mut listed: Vec<Project> = if self.project_ids.is_empty() {
            self.client
                .projects()
                .await
                .map_err(|e| self.workspace_error(e))?
        } else {
            let mut out = Vec::new();
            for gid in &self.project_ids {
                let project = self.client.project(gid).await.map_err(|e| match e.kind() {
                    ErrorKind::NotFound => named(
                        "asana_project_ids",
                        format!(
                            "the project {gid} does not exist, or the token's user cannot see it: {e}"
                        ),
                        e,
                    ),
                    _ => e,
                })?;
                out.push(project);
            }
            out
        };
        // A project of another workspace (a gid pasted from another account's URL) would
        // have its tasks granted to this workspace's members: refused, named.
        if let Some(other) = listed.iter().find(|p| {
            p.workspace
                .as_ref()
                .is_some_and(|w| !w.gid.is_empty() && w.gid != self.workspace())
        }) {
            let field = if self.project_ids.is_empty() {
                "asana_workspace_id"
            } else {
                "asana_project_ids"
            };
            return Err(Error::config(vec![connector_core::FieldError::new(
                field,
                format!(
                    "the project {} belongs to the workspace {}, not to asana_workspace_id {}",
                    other.gid,
                    other.workspace.as_ref().map_or("", |w| w.gid.as_str()),
                    self.workspace()
                ),
            )])
            .with_connector(SOURCE));
        }
        let mut seen = HashSet::new();
        listed.retain(|p| seen.insert(p.gid.clone()));
        // RAGFlow's meaning of `asana_team_id`: the private projects of other teams are left
        // out (every other project stays, as RAGFlow reads them).
        if let Some(team) = &self.team {
            listed.retain(|p| {
                let theirs = p.team.as_ref().map(|t| t.gid.as_str());
                let keep = privacy(p) != "private" || theirs == Some(team.as_str());
                if !keep {
                    tracing::info!(connector = SOURCE, project = %p.gid, team = ?theirs, "a private project of another team than asana_team_id is left out");
                }
                keep
            });
        }
        Ok(listed)
    }

    /// A project as the run keeps it, with its principals: the workspace for a project
    /// public to it, else the team (for `private_to_team`) or the project as a group, and
    /// the members (users as `asana-user:{gid}` and their e-mail where shown, teams as
    /// `asana-team:{gid}`) where the token may read them.
    async fn frame(&self, project: Project) -> Result<ProjectFrame> {
        let privacy = privacy(&project).to_owned();
        let mut frame = ProjectFrame {
            gid: project.gid.clone(),
            name: project.name.clone().unwrap_or_else(|| project.gid.clone()),
            privacy: privacy.clone(),
            groups: Vec::new(),
            emails: Vec::new(),
        };
        if privacy == "public_to_workspace" {
            frame
                .groups
                .push(format!("asana-workspace:{}", self.workspace()));
            return Ok(frame);
        }
        match (&privacy[..], project.team.as_ref()) {
            ("private_to_team", Some(team)) => {
                frame.groups.push(format!("asana-team:{}", team.gid));
            }
            _ => frame.groups.push(format!("asana-project:{}", project.gid)),
        }
        match self.client.memberships(&project.gid).await {
            Ok(members) => {
                for m in members {
                    let Some(who) = m.member.or(m.user) else {
                        continue;
                    };
                    if who.resource_type.as_deref() == Some("team") {
                        frame.groups.push(format!("asana-team:{}", who.gid));
                    } else {
                        frame.groups.push(format!("asana-user:{}", who.gid));
                        if let Some(email) = who.email.filter(|e| !e.is_empty()) {
                            frame.emails.push(email);
                        }
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                tracing::warn!(connector = SOURCE, project = %project.gid, "the members of a private project cannot be read; its tasks go to the project as a group: {e}");
            }
            Err(e) => return Err(e),
        }
        frame.groups.sort();
        frame.groups.dedup();
        frame.emails.sort();
        frame.emails.dedup();
        Ok(frame)
    }

    /// The listed values of a page as page items: malformed ones as failures, tasks outside
    /// the window left out, and tasks whose first project of the run is another one left to
    /// that project (a task in several projects is one document).
    fn pending(
        &self,
        projects: &[ProjectFrame],
        order: &HashMap<String, usize>,
        index: usize,
        values: Vec<Listed>,
        window: Option<&TimeWindow>,
        known: &KnownFingerprints,
    ) -> Vec<PendingItem<Pending>> {
        let home = Arc::new(projects[index].clone());
        let mut out = Vec::new();
        for value in values {
            match self.listed(value) {
                Listed::Task(mut task) => {
                    if window.is_some_and(|w| !w.contains(task.modified_at)) {
                        continue;
                    }
                    let Some(access) = task_access(&task, projects, order, index) else {
                        continue;
                    };
                    self.reread_floor(&mut task, &home.gid);
                    let id = doc_id(&task.gid);
                    let seen = convert::seen(&task, &access);
                    let changed = (!known.has_version(&id, &seen.version)).then_some(seen);
                    let item = Pending::Task {
                        task,
                        home: home.clone(),
                        access,
                        changed,
                    };
                    out.push(PendingItem::new(id, item));
                }
                Listed::Malformed { gid, message } => {
                    let id = gid.as_deref().map(doc_id);
                    let shown = id
                        .clone()
                        .unwrap_or_else(|| format!("a task of the project {}", home.gid));
                    let failure = Failure::new(
                        id.clone(),
                        ErrorKind::InvalidData,
                        format!("{shown}: {message}"),
                    );
                    out.push(PendingItem::new(
                        id.unwrap_or_default(),
                        Pending::Failed(failure),
                    ));
                }
            }
        }
        out
    }

    /// The tasks of a page of the sweep whose subtasks are looked at: those that have
    /// subtasks, are read under this project, and that the window's listing did not read
    /// (a malformed one is that listing's failure already).
    fn sweep_pending(
        &self,
        projects: &[ProjectFrame],
        order: &HashMap<String, usize>,
        index: usize,
        values: Vec<Listed>,
        window: &TimeWindow,
    ) -> Vec<PendingItem<Pending>> {
        let home = Arc::new(projects[index].clone());
        let mut out = Vec::new();
        for value in values {
            let Listed::Task(task) = self.listed(value) else {
                continue;
            };
            if window.contains(task.modified_at) || task.num_subtasks == Some(0) {
                continue;
            }
            let Some(access) = task_access(&task, projects, order, index) else {
                continue;
            };
            let id = format!("{}:subtasks", doc_id(&task.gid));
            let item = Pending::Sweep {
                task,
                home: home.clone(),
                access,
            };
            out.push(PendingItem::new(id, item));
        }
        out
    }

    /// One listed task's outcomes: its own ([`read_one`](Self::read_one)), then its
    /// subtasks'.
    async fn fetch(self, item: Pending, run: Arc<RunScope>) -> Result<Vec<Outcome>> {
        match item {
            Pending::Failed(failure) => Ok(vec![failure.into()]),
            Pending::Task {
                task,
                home,
                access,
                changed,
            } => self.read(*task, home, access, changed, &run, 0).await,
            Pending::Sweep { task, home, access } => {
                self.subtasks(&task, &home, &access, &run, 0).await
            }
        }
    }

    /// A task's outcomes and, below it, its subtasks' (to [`MAX_DEPTH`] levels).
    fn read<'a>(
        &'a self,
        task: Task,
        home: Arc<ProjectFrame>,
        access: Access,
        changed: Option<convert::Seen>,
        run: &'a RunScope,
        depth: usize,
    ) -> futures::future::BoxFuture<'a, Result<Vec<Outcome>>> {
        async move {
            let mut out = self.read_one(&task, &home, changed).await?;
            if task.num_subtasks.is_none_or(|n| n > 0) && depth < MAX_DEPTH {
                out.extend(self.subtasks(&task, &home, &access, run, depth).await?);
            }
            Ok(out)
        }
        .boxed()
    }

    /// The subtasks of `task`: Asana's project listing leaves them out unless they were
    /// added to the project too. Each is readable by who may read its parent, and is read
    /// like a listed task (fingerprints asked once for the level, the window's bounds
    /// applied); one that is in a project of the run is left to that project's listing, so
    /// it is one document.
    fn subtasks<'a>(
        &'a self,
        task: &'a Task,
        home: &'a Arc<ProjectFrame>,
        access: &'a Access,
        run: &'a RunScope,
        depth: usize,
    ) -> futures::future::BoxFuture<'a, Result<Vec<Outcome>>> {
        async move {
            let listed = match self.client.subtasks(&task.gid).await {
                Ok(listed) => listed,
                Err(e) => {
                    let e = Error::new(
                        e.kind(),
                        format!("the subtasks of task {} cannot be read: {e}", task.gid),
                    )
                    .with_connector(SOURCE);
                    return Ok(vec![
                        item_failure(format!("{}:subtasks", doc_id(&task.gid)), e)?.into(),
                    ]);
                }
            };
            let ids: Vec<String> = listed.iter().filter_map(Listed::gid).map(doc_id).collect();
            let known = KnownFingerprints::lookup(&run.ctx, &ids).await?;
            let mut out = Vec::new();
            for value in listed {
                match self.listed(value) {
                    Listed::Task(mut sub) => {
                        if sub.projects.iter().any(|p| run.order.contains_key(&p.gid)) {
                            continue;
                        }
                        self.reread_floor(&mut sub, &home.gid);
                        let id = doc_id(&sub.gid);
                        // Outside the window like a listed task outside it; its own subtasks
                        // are looked at still, since their edits do not move its time.
                        if run.window.is_some_and(|w| !w.contains(sub.modified_at)) {
                            if sub.num_subtasks.is_none_or(|n| n > 0) && depth + 1 < MAX_DEPTH {
                                let below =
                                    self.subtasks(&sub, home, access, run, depth + 1).boxed();
                                match below.await {
                                    Ok(outcomes) => out.extend(outcomes),
                                    Err(e) => out.push(item_failure(id, e)?.into()),
                                }
                            }
                            continue;
                        }
                        let seen = convert::seen(&sub, access);
                        let changed = (!known.has_version(&id, &seen.version)).then_some(seen);
                        match self
                            .read(*sub, home.clone(), access.clone(), changed, run, depth + 1)
                            .await
                        {
                            Ok(outcomes) => out.extend(outcomes),
                            Err(e) => out.push(item_failure(id, e)?.into()),
                        }
                    }
                    Listed::Malformed { gid, message } => {
                        let id = gid.as_deref().map(doc_id);
                        let shown = id
                            .clone()
                            .unwrap_or_else(|| format!("a subtask of task {}", task.gid));
                        out.push(
                            Failure::new(id, ErrorKind::InvalidData, format!("{shown}: {message}"))
                                .into(),
                        );
                    }
                }
            }
            Ok(out)
        }
        .boxed()
    }

    /// One task's own outcomes: its document with its comments, then its attachments, read
    /// by who `changed` names.
    ///
    /// An unchanged task costs no story request and no download; with attachments on, its
    /// attachments are listed (one request) and reported unchanged too, so a reconciling
    /// run does not take them for deleted. Asana moves a task's `modified_at` when an
    /// attachment is added or trashed, so an unchanged task has the attachments it had.
    async fn read_one(
        &self,
        task: &Task,
        home: &ProjectFrame,
        changed: Option<convert::Seen>,
    ) -> Result<Vec<Outcome>> {
        let Some(seen) = changed else {
            let mut out = vec![Outcome::Unchanged(doc_id(&task.gid))];
            if self.attachments {
                let listed = self.client.attachments(&task.gid).await.map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!("the attachments of task {} cannot be read: {e}", task.gid),
                    )
                    .with_connector(SOURCE)
                })?;
                out.extend(
                    listed
                        .iter()
                        .filter(|a| a.download_url.is_some())
                        .filter(|a| a.size.is_none_or(|s| s <= self.max_file_size))
                        .map(|a| Outcome::Unchanged(convert::attachment_id(&task.gid, &a.gid))),
                );
            }
            return Ok(out);
        };
        let stories = async {
            if !self.comments {
                return Ok(Vec::new());
            }
            self.client.stories(&task.gid).await.map_err(|e| {
                Error::new(
                    e.kind(),
                    format!("the comments of task {} cannot be read: {e}", task.gid),
                )
                .with_connector(SOURCE)
            })
        };
        let attachments = async {
            if !self.attachments {
                return Ok(Vec::new());
            }
            self.client.attachments(&task.gid).await.map_err(|e| {
                Error::new(
                    e.kind(),
                    format!("the attachments of task {} cannot be read: {e}", task.gid),
                )
                .with_connector(SOURCE)
            })
        };
        let (stories, attachments) = futures::try_join!(stories, attachments)?;
        // The attachments' audience is the task's: a copy only when there are some.
        let access = if attachments.is_empty() {
            Access::default()
        } else {
            seen.access.clone()
        };
        let mut out: Vec<Outcome> = vec![convert::document(task, home, &stories, seen).into()];
        let access = &access;
        for att in attachments {
            let id = convert::attachment_id(&task.gid, &att.gid);
            let name = att.name.clone().unwrap_or_else(|| att.gid.clone());
            let Some(url) = att.download_url.as_deref() else {
                // A link to a file kept elsewhere (Google Drive, Dropbox, …): nothing to read.
                tracing::debug!(connector = SOURCE, attachment = %att.gid, host = ?att.host, "an attachment without download_url is left out");
                continue;
            };
            let too_large = || {
                Failure::new(
                    Some(id.clone()),
                    ErrorKind::Unsupported,
                    format!(
                        "{name} of task {}: the file is larger than max_file_size ({} bytes)",
                        task.gid, self.max_file_size
                    ),
                )
            };
            if att.size.is_some_and(|s| s > self.max_file_size) {
                out.push(too_large().into());
                continue;
            }
            let mut got = self.client.download(url, self.max_file_size).await;
            if got
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::PermissionDenied)
            {
                // The signed URL expired (a wait for the rate limit, a slow page): Asana signs
                // a new one when the attachment is asked again.
                if let Ok(fresh) = self.client.attachment(&att.gid).await
                    && let Some(url) = fresh.download_url.as_deref()
                {
                    got = self.client.download(url, self.max_file_size).await;
                }
            }
            match got {
                Ok(data) => {
                    out.push(convert::attachment_document(task, &att, data, access.clone()).into())
                }
                Err(e) if is_body_too_large(&e) => out.push(too_large().into()),
                Err(e) => out.push(item_failure(id, e)?.into()),
            }
        }
        Ok(out)
    }

    /// The tasks of every project, page by page, from `from`.
    pub(crate) fn checkpointed(
        &self,
        from: AsanaCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<AsanaCheckpoint>>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            let mut cp = from;
            if let Ok(mut map) = walk.edited.write() {
                map.extend(cp.edited.iter().filter_map(|(gid, ms)| {
                    DateTime::<Utc>::from_timestamp_millis(*ms).map(|t| (gid.clone(), t))
                }));
            }
            if !cp.started {
                cp.projects = walk.projects().await?;
                cp.started = true;
                cp.index = 0;
                cp.offset = None;
                cp.unwindowed = false;
                cp.sweep = false;
                // Projects no longer read need no re-read time.
                let projects = &cp.projects;
                cp.reread.retain(|gid, _| projects.iter().any(|p| &p.gid == gid));
            }
            if let Ok(mut map) = walk.reread.write() {
                map.extend(cp.reread.iter().filter_map(|(gid, ms)| {
                    DateTime::<Utc>::from_timestamp_millis(*ms).map(|t| (gid.clone(), t))
                }));
            }
            let order: Arc<HashMap<String, usize>> = Arc::new(cp
                .projects
                .iter()
                .enumerate()
                .map(|(i, p)| (p.gid.clone(), i))
                .collect());
            // Offsets this run was given, by project and listing: one given twice would loop
            // for ever.
            let mut seen: HashSet<(usize, bool, String)> = HashSet::new();
            let mut restarted: HashSet<(String, bool)> = HashSet::new();
            // The next listing page, read while this page's tasks were (its URL, its offset).
            let mut ahead: Option<(url::Url, String, Result<Paged<Listed>>)> = None;
            // Projects whose events this run read (an offset restart must not read them again).
            let mut events_read: HashSet<String> = HashSet::new();
            let mut held: Option<Batch> = None;
            while cp.index < cp.projects.len() {
                ctx.cancellation().check()?;
                let gid = cp.projects[cp.index].gid.clone();
                // The tasks whose comments were edited go with the project's first page, whose
                // checkpoint holds the events token they were read for.
                if cp.offset.is_none() && !cp.sweep && !cp.unwindowed && events_read.insert(gid.clone()) {
                    held = Some(walk.edited_comments(&mut cp, &order, window.as_ref()).await?);
                }
                if let Some(w) = window.as_ref()
                    && cp.offset.is_none()
                    && !cp.unwindowed
                    && !cp.sweep
                    && walk.access_changed(&cp.projects, &order, cp.index, w, &ctx).await?
                {
                    tracing::info!(connector = SOURCE, project = %gid, "who may read the project's tasks changed since they were sent; it is listed whole");
                    cp.unwindowed = true;
                }
                let listing_window = window.as_ref().filter(|_| !cp.unwindowed);
                let url = if cp.sweep {
                    walk.client.tasks_url_with(&gid, None, PAGE_SIZE, SWEEP_FIELDS)?
                } else {
                    walk.client.tasks_url(&gid, listing_window.map(|w| w.start))?
                };
                let got = match ahead.take() {
                    Some((u, offset, got)) if u == url && cp.offset.as_ref() == Some(&offset) => got,
                    _ => walk.client.page(url.clone(), cp.offset.as_deref()).await,
                };
                let page: Paged<Listed> = match got {
                    Ok(page) => page,
                    // Asana's offsets expire: the project's listing starts again, and the
                    // fingerprints skip the tasks already sent.
                    Err(e) if cp.offset.is_some() && e.kind() == ErrorKind::InvalidData && restarted.insert((gid.clone(), cp.sweep)) => {
                        tracing::warn!(connector = SOURCE, project = %gid, "the page offset was refused (expired?); the project's tasks are listed again: {e}");
                        cp.offset = None;
                        seen.retain(|(i, sweep, _)| (*i, *sweep) != (cp.index, cp.sweep));
                        continue;
                    }
                    // Deleted since the listing: nothing of it to read.
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        tracing::warn!(connector = SOURCE, project = %gid, "the project is gone since the listing: {e}");
                        cp.index += 1;
                        cp.offset = None;
                        cp.unwindowed = false;
                        cp.sweep = false;
                        let mut batch = Batch::default();
                        if walk.project_ids.contains(&gid) {
                            batch.failures.push(Failure::new(
                                None,
                                ErrorKind::NotFound,
                                format!("asana_project_ids: the project {gid} does not exist any more, or the token's user cannot see it: {e}"),
                            ));
                        }
                        yield CheckpointedBatch::new(batch, cp.clone());
                        continue;
                    }
                    Err(e) => Err(e)?,
                };
                let (pending, scope_window) = match window.as_ref().filter(|_| cp.sweep) {
                    Some(w) => (walk.sweep_pending(&cp.projects, &order, cp.index, page.data, w), Some(*w)),
                    None => {
                        // One fingerprint lookup for the page's tasks.
                        let ids: Vec<String> = page.data.iter().filter_map(Listed::gid).map(doc_id).collect();
                        let known = KnownFingerprints::lookup(&ctx, &ids).await?;
                        (walk.pending(&cp.projects, &order, cp.index, page.data, listing_window, &known), listing_window.copied())
                    }
                };
                let fetch_walk = walk.clone();
                let scope = Arc::new(RunScope {
                    ctx: ctx.clone(),
                    order: order.clone(),
                    window: scope_window,
                });
                // The next page is read while this one's tasks are: its listing does not wait
                // for the slowest task of this page.
                let next = page.next_page.as_ref().map(|n| n.offset.clone());
                let read_next = async {
                    match &next {
                        Some(offset) => Some(walk.client.page::<Listed>(url.clone(), Some(offset)).await),
                        None => None,
                    }
                };
                let fetches = fetch_items(&ctx, pending, CONCURRENCY, move |item| {
                    fetch_walk.clone().fetch(item, scope.clone())
                });
                let (batch, read) = futures::join!(fetches, read_next);
                let batch = batch?;
                if let (Some(offset), Some(read)) = (next, read) {
                    ahead = Some((url.clone(), offset, read));
                }
                match page.next_page {
                    Some(next) if seen.insert((cp.index, cp.sweep, next.offset.clone())) => cp.offset = Some(next.offset),
                    Some(_) => Err(Error::invalid_data(format!(
                        "Asana sent the same offset twice for the tasks of project {gid}"
                    )).with_connector(SOURCE))?,
                    // The window's listing is done: the project is listed again for the
                    // subtasks edited under parents the window did not show.
                    None if listing_window.is_some() && !cp.sweep => {
                        cp.sweep = true;
                        cp.offset = None;
                    }
                    None => {
                        cp.index += 1;
                        cp.offset = None;
                        cp.unwindowed = false;
                        cp.sweep = false;
                    }
                }
                let batch = match held.take() {
                    Some(mut edited) => {
                        edited.documents.extend(batch.documents);
                        edited.failures.extend(batch.failures);
                        edited.unchanged.extend(batch.unchanged);
                        edited.deleted.extend(batch.deleted);
                        edited
                    }
                    None => batch,
                };
                cp.edited = walk.edits_to_carry();
                yield CheckpointedBatch::new(batch, cp.clone());
            }
        }
        .boxed()
    }

    /// The checks of `check()`: the workspace, the team or each named project, then one
    /// task page of the first project.
    pub(crate) async fn check(&self) -> Result<()> {
        self.client
            .probe_workspace()
            .await
            .map_err(|e| self.workspace_error(e))?;
        if let Some(team) = self.team.as_ref().filter(|_| self.project_ids.is_empty()) {
            self.client
                .probe_team(team)
                .await
                .map_err(|e| self.team_error(team, e))?;
        }
        // The members of private projects are not asked here: the sync warns when they
        // cannot be read, and check stays a few requests (one page of the workspace's
        // projects, however many it has).
        let projects = if self.project_ids.is_empty() {
            self.client
                .first_projects()
                .await
                .map_err(|e| self.workspace_error(e))?
        } else {
            self.listed_projects().await?
        };
        if let Some(first) = projects.first() {
            let url = self.client.tasks_url(&first.gid, None)?;
            self.client.page::<serde::de::IgnoredAny>(url, None).await?;
        }
        Ok(())
    }
}
