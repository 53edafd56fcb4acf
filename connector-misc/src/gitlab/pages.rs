//! The walk: projects one after the other, in each the code files, the merge requests and the
//! issues as checkpointed batches, one source page each, on core's [`fetch_items`] (one
//! fingerprint lookup per page, unchanged items without their notes or bodies).

use std::collections::HashSet;

use connector_core::http::is_body_too_large;
use connector_core::pages::{Outcome, PendingItem, fetch_items, read_ahead};
use connector_core::{
    Access, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::SOURCE;
use super::checkpoint::{GitlabCheckpoint, Stage, UpdatedCursor};
use super::client::{Client, Commit, Download, Feature, Item, ListPage, Project, TreeEntry};
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
    /// Read archived projects (`include_archived`).
    pub(crate) archived: bool,
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
    /// Who may read what in it; none without `include_permissions`.
    pub(crate) readers: Option<Readers>,
    pub(crate) reference: Option<String>,
    pub(crate) head: Option<Commit>,
    /// Why the ref's head could not be read (the token may not read the repository, the
    /// configured `branch` is not there), for the code stage's failure.
    pub(crate) head_error: Option<(ErrorKind, String)>,
}

/// GitLab's roles, as `access_level` numbers.
const GUEST: u32 = 10;
const PLANNER: u32 = 15;
const REPORTER: u32 = 20;

/// Who may read what in a project, by GitLab's rules: the project's visibility, each
/// feature's access level and each member's role.
///
/// - A feature `enabled` in a public project is for anyone, in an internal one for every
///   signed-in user but external ones (`gitlab-internal:{host}`: GitLab's external users
///   see only what they are members of, so a host resolves the group without them) and
///   its members. `{host}` is GitLab's own, from the project's `web_url`.
/// - A feature of a private project, or one kept to members (`private`), is for the members
///   whose role reaches the feature's minimum, as GitLab's `ProjectFeature` sets it: issues
///   Guest, merge requests Reporter, the repository Reporter in a private project and Guest
///   in the others. Minimal Access and members awaiting a seat read nothing.
/// - A confidential issue is for members from Planner up (Reporter on versions before
///   Planner) and for its author and assignees (`gitlab-user:{host}/{username}`), these when
///   they may read the project's issues at all.
///
/// Members are named by the group of their least role (`gitlab-project:{host}/{path}` for
/// Guest and up, `…:planner`, `…:reporter`) and by their e-mail addresses where GitLab shows
/// them.
#[derive(Debug, Clone)]
pub(crate) struct Readers {
    visibility: Visibility,
    /// `gitlab-project:{host}/{path}`.
    group: String,
    host: String,
    /// Active members from Guest up: role, username, lower-cased address when shown.
    members: Vec<(u32, String, Option<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Public,
    Internal,
    Private,
}

impl Readers {
    /// The members whose role is `min` or more.
    fn members_from(&self, min: u32) -> Access {
        let mut emails: Vec<String> = self
            .members
            .iter()
            .filter(|(level, ..)| *level >= min)
            .filter_map(|(_, _, email)| email.clone())
            .collect();
        emails.sort();
        emails.dedup();
        let group = match min {
            m if m >= REPORTER => format!("{}:reporter", self.group),
            m if m >= PLANNER => format!("{}:planner", self.group),
            _ => self.group.clone(),
        };
        Access::restricted(emails, vec![group])
    }

    /// Who may read `feature` of `project`.
    fn feature(&self, project: &Project, feature: Feature) -> Access {
        let private = self.visibility == Visibility::Private;
        let min = match feature {
            Feature::Issues => GUEST,
            Feature::MergeRequests => REPORTER,
            Feature::Repository if private => REPORTER,
            Feature::Repository => GUEST,
        };
        let members = self.members_from(min);
        if private || project.level(feature) != "enabled" {
            return members;
        }
        match self.visibility {
            Visibility::Public => Access::public(),
            _ => {
                let mut access = members;
                access.groups.push(format!("gitlab-internal:{}", self.host));
                access
            }
        }
    }

    /// Who may read the confidential issue `item`.
    fn confidential(&self, project: &Project, item: &Item) -> Access {
        let mut access = self.members_from(PLANNER);
        // Author and assignees, when they may read the project's issues at all.
        let open =
            self.visibility != Visibility::Private && project.level(Feature::Issues) == "enabled";
        let people = item.author.iter().chain(item.assignees.iter());
        for user in people.filter(|u| !u.username.is_empty()) {
            let member = self
                .members
                .iter()
                .find(|(_, name, _)| *name == user.username);
            if !open && member.is_none() {
                continue;
            }
            if let Some((_, _, Some(email))) = member
                && !access.emails.contains(email)
            {
                access.emails.push(email.clone());
            }
            let group = format!("gitlab-user:{}/{}", self.host, user.username);
            if !access.groups.contains(&group) {
                access.groups.push(group);
            }
        }
        access.emails.sort();
        access
    }
}

/// What of a project a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// Its issues and merge requests whatever the window: who may read the project changed
    /// since the last run, or the last run did not read it (new to the group), so its old
    /// documents must be handed on again with their access.
    whole: bool,
    /// Its tree.
    tree: bool,
}

impl Plan {
    /// The plan for the project `path` in `window`, from what the last run saw of it (`cp`).
    ///
    /// - No window: everything.
    /// - A record carried over from the last run: the whole project when its readers
    ///   changed or it has no record; else the tree when the ref's head commit is another
    ///   one than last time (a push, a merge, a reset, whatever the commit's date).
    /// - No record at all (a window asked without a run before it): the items in the
    ///   window, and the tree when the head commit's date is in it.
    fn of(
        cp: &GitlabCheckpoint,
        path: &str,
        entered: &Entered,
        window: Option<&TimeWindow>,
    ) -> Self {
        // No window; or a ref that could not be read, whose failure must come again until
        // it reads.
        let Some(w) = window.filter(|_| entered.head_error.is_none()) else {
            return Self {
                whole: window.is_none(),
                tree: true,
            };
        };
        if !cp.carried {
            let tree = entered
                .head
                .as_ref()
                .and_then(|h| h.committed_date)
                .is_some_and(|t| w.contains(t));
            return Self { whole: false, tree };
        }
        let now = entered.seen();
        match cp.seen.get(path) {
            None => Self {
                whole: true,
                tree: true,
            },
            Some(before) => {
                let (readers_before, head_before) = before.split_once(':').unwrap_or((before, ""));
                let (readers_now, head_now) = now.split_once(':').unwrap_or((&now, ""));
                if readers_before != readers_now {
                    Self {
                        whole: true,
                        tree: true,
                    }
                } else {
                    Self {
                        whole: false,
                        tree: head_before != head_now,
                    }
                }
            }
        }
    }
}

impl Entered {
    /// What a run saw of the project, for the next one: `{readers}:{head}`, a fingerprint
    /// of who may read what in it (16 hex digits) and the first 12 hex digits of its ref's
    /// head commit.
    pub(crate) fn seen(&self) -> String {
        let readers = self.readers_fingerprint();
        let readers = readers.get(..16).unwrap_or(&readers);
        let head = self
            .head
            .as_ref()
            .map_or("", |h| h.id.get(..12).unwrap_or(&h.id));
        format!("{readers}:{head}")
    }

    /// A fingerprint of who may read what in the project: its visibility, its features'
    /// levels and, with permissions, its members with their roles and addresses.
    pub(crate) fn readers_fingerprint(&self) -> String {
        let p = &self.project;
        let mut text = format!(
            "{}|{}|{}|{}",
            p.visibility.as_deref().unwrap_or_default(),
            p.level(Feature::Repository),
            p.level(Feature::MergeRequests),
            p.level(Feature::Issues)
        );
        // Archiving moves no `updated_at`: the project is then read whole, so that its
        // documents' `archived` metadata follows (nothing added while it is not archived,
        // so the fingerprints of earlier runs still hold).
        if p.archived {
            text.push_str("|archived");
        }
        if let Some(readers) = &self.readers {
            let mut members: Vec<String> = readers
                .members
                .iter()
                .map(|(level, name, email)| {
                    format!("{level}:{name}:{}", email.as_deref().unwrap_or_default())
                })
                .collect();
            members.sort();
            text.push('|');
            text.push_str(&members.join(","));
        }
        connector_core::ids::hash128(&text)
    }

    /// Who may read the project's code files.
    pub(crate) fn file_access(&self) -> Option<Access> {
        let readers = self.readers.as_ref()?;
        Some(readers.feature(&self.project, Feature::Repository))
    }

    /// Who may read `item`, an issue or merge request of the project.
    pub(crate) fn item_access(&self, kind: Kind, item: &Item) -> Option<Access> {
        let readers = self.readers.as_ref()?;
        Some(match kind {
            Kind::Issue if item.confidential == Some(true) => {
                readers.confidential(&self.project, item)
            }
            Kind::Issue => readers.feature(&self.project, Feature::Issues),
            Kind::MergeRequest => readers.feature(&self.project, Feature::MergeRequests),
        })
    }
}

/// A listing page read while the page before it was fetched, with the URL it was read from:
/// the walk takes it when it asks that URL next.
enum Ahead {
    Tree(url::Url, Result<ListPage<TreeEntry>>),
    Items(url::Url, Result<ListPage<Item>>),
}

enum Job {
    File(TreeEntry),
    Item(Kind, Box<Item>),
    Failed(Outcome),
}

impl Walk {
    /// The first stage after `done` (none: the project's first) that the config asks for and
    /// the project has turned on (a disabled feature has nothing to read, and GitLab refuses
    /// its listing).
    fn next_stage(&self, done: Option<&Stage>, project: &Project) -> Option<Stage> {
        let order = [
            (self.code && !project.disables(Feature::Repository), 0),
            (self.mrs && !project.disables(Feature::MergeRequests), 1),
            (self.issues && !project.disables(Feature::Issues), 2),
        ];
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

    /// That the namespace `owner` is there and the token may list its projects, in one or
    /// two requests whatever its size.
    pub(crate) async fn check_namespace(&self) -> Result<()> {
        self.client
            .namespace_probe(&self.owner)
            .await
            .map_err(|e| self.named_owner_error(e))
    }

    /// The projects to read: the configured ones, or every project of the namespace.
    pub(crate) async fn list_projects(&self) -> Result<Vec<String>> {
        if !self.projects.is_empty() {
            return Ok(self.projects.clone());
        }
        self.client
            .namespace_projects(&self.owner, self.archived)
            .await
            .map_err(|e| self.named_owner_error(e))
    }

    fn named_owner_error(&self, e: Error) -> Error {
        match e.kind() {
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
        }
    }

    /// Reads the project at `path` with what its documents need; none when a project of a
    /// group listing is gone since, or when it is archived and `include_archived` is off
    /// (then nothing of it is read, listed or fetched again, so prune removes what an
    /// earlier run read of it).
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
        if project.archived && !self.archived {
            tracing::debug!(
                connector = SOURCE,
                project = path,
                "an archived project, skipped (include_archived is off)"
            );
            return Ok(None);
        }
        let readers = if self.permissions {
            Some(self.readers(&project).await?)
        } else {
            None
        };
        let reference = self
            .branch
            .clone()
            .or_else(|| project.default_branch.clone());
        let mut head_error = None;
        let head = match (&reference, code && !project.disables(Feature::Repository)) {
            (Some(r), true) => match self.client.commit(project.id, r).await {
                // The configured ref is missing from a repository that has commits (a
                // misspelt `branch`): a failure, not a project without files.
                Ok(None) if self.branch.is_some() && project.default_branch.is_some() => {
                    head_error = Some((
                        ErrorKind::NotFound,
                        format!(
                            "the branch, tag or commit `{r}` (config field `branch`) is not in the repository"
                        ),
                    ));
                    None
                }
                Ok(head) => head,
                // A repository the token's user may not read (a Guest of a private project,
                // a members-only repository): the code stage fails alone.
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    head_error = Some((e.kind(), e.message().to_owned()));
                    None
                }
                Err(e) => return Err(e),
            },
            _ => None,
        };
        Ok(Some(Entered {
            project,
            readers,
            reference,
            head,
            head_error,
        }))
    }

    /// Who may read what in `project` ([`Readers`]): its members with their roles, read
    /// (`/members/all`, inherited ones included) unless the project is public and keeps
    /// nothing to its members. Members the token may not list leave only the groups.
    async fn readers(&self, project: &Project) -> Result<Readers> {
        let visibility = match project.visibility.as_deref() {
            Some("public") => Visibility::Public,
            Some("internal") => Visibility::Internal,
            _ => Visibility::Private,
        };
        let mut members = Vec::new();
        if visibility != Visibility::Public || project.keeps_any_to_members() {
            for m in self.client.members(project.id).await?.unwrap_or_default() {
                let active = m.state.as_deref().is_none_or(|s| s == "active")
                    && m.membership_state.as_deref().is_none_or(|s| s == "active");
                if !active || m.access_level < GUEST {
                    continue;
                }
                let email = m
                    .email
                    .or(m.public_email)
                    .filter(|e| e.contains('@'))
                    .map(|e| e.to_lowercase());
                if email.is_none() {
                    tracing::debug!(connector = SOURCE, member = %m.username, "a member without a visible e-mail address");
                }
                members.push((m.access_level, m.username, email));
            }
        }
        // GitLab's own host (its `external_url`, in every `web_url`), so that two connectors
        // reaching one instance by different addresses name the same groups.
        let host = url::Url::parse(&project.web_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.host.clone());
        Ok(Readers {
            visibility,
            group: format!("gitlab-project:{host}/{}", project.path_with_namespace),
            host,
            members,
        })
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
        // The walk runs a page ahead of its consumer (core's read-ahead): the next page's
        // listing and fetches overlap what the host does with this one (sink, state store).
        let pages = async_stream::try_stream! {
            let mut cp = from;
            if !cp.started {
                cp.projects = walk.list_projects().await?;
                cp.started = true;
                cp.stage = None;
                // Projects gone since the last run are forgotten.
                let listed: HashSet<&String> = cp.projects.iter().collect();
                cp.seen.retain(|path, _| listed.contains(path));
            }
            // The project read, by the path it was asked by (GitLab's own may differ in case,
            // or after a rename).
            let mut entered: Option<(String, Entered)> = None;
            // The listing page read while the one before it was fetched.
            let mut ahead: Option<Ahead> = None;
            loop {
                ctx.cancellation().check()?;
                let Some(path) = cp.projects.first().cloned() else { break };
                if entered.as_ref().is_none_or(|(asked, _)| *asked != path) {
                    let mut skipped = connector_core::Batch::default();
                    entered = match walk.enter(&path, walk.code).await {
                        Ok(e) => e.map(|e| (path.clone(), e)),
                        // A project the token may not read: its failure, then the next one.
                        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                            skipped.failures.push(Failure::new(
                                None,
                                e.kind(),
                                format!("project {path}: it cannot be read with this token, skipped: {}", e.message()),
                            ));
                            None
                        }
                        Err(e) => Err(e)?,
                    };
                    if entered.is_none() {
                        cp.finish_project(None);
                        yield CheckpointedBatch::new(skipped, cp.clone());
                        continue;
                    }
                }
                let Some((_, project)) = entered.clone() else { continue };
                // What of the project this window reads, from what the last run saw of it
                // (recorded once the project is done, so a resumed run decides the same).
                let plan = Plan::of(&cp, &path, &project, window.as_ref());
                let window = if plan.whole { None } else { window };
                let stage = match cp.stage.clone() {
                    Some(s) => Some(s),
                    None => walk.next_stage(None, &project.project),
                };
                let Some(stage) = stage else {
                    cp.finish_project(Some(project.seen()));
                    yield CheckpointedBatch::new(connector_core::Batch::default(), cp.clone());
                    continue;
                };
                let read = match &stage {
                    Stage::CodeFiles { .. } if !plan.tree => Ok((connector_core::Batch::default(), None)),
                    Stage::CodeFiles { next } => walk.code_page(&project, next.as_deref(), &ctx, &mut ahead).await,
                    Stage::MergeRequests(cursor) => walk.items_page(&project, Kind::MergeRequest, cursor, window.as_ref(), &ctx, &mut ahead).await,
                    Stage::Issues(cursor) => walk.items_page(&project, Kind::Issue, cursor, window.as_ref(), &ctx, &mut ahead).await,
                };
                let (batch, next) = match read {
                    Ok(read) => read,
                    // The token may not read this stage of this project: a failure naming
                    // both, and the walk goes on with the next stage.
                    Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                        if let (Stage::CodeFiles { .. }, Some((_, read))) = (&stage, &mut entered) {
                            // No head recorded: the next run lists the tree again.
                            read.head = None;
                        }
                        (stage_failure(&project.project, stage_feature(&stage), &e), None)
                    }
                    Err(e) => Err(e)?,
                };
                match next {
                    Some(next) => cp.stage = Some(next),
                    None => match walk.next_stage(Some(&stage), &project.project) {
                        Some(s) => cp.stage = Some(s),
                        None => cp.finish_project(entered.as_ref().map(|(_, read)| read.seen())),
                    },
                }
                yield CheckpointedBatch::new(batch, cp.clone());
            }
        }
        .boxed();
        read_ahead(pages)
    }

    /// One tree page of the project's ref as a batch, and the stage after it (none: the
    /// tree is done). Whether a poll lists the tree at all is its [`Plan`]'s: the head
    /// commit's date is when it was written, not when the branch moved to it (a push of
    /// older local commits, a fast-forward merge), so a poll goes by the head commit's id.
    /// Each file's blob id is its version, so an unchanged one costs its row of a tree page
    /// (100 a request), never a download.
    async fn code_page(
        &self,
        entered: &Entered,
        next: Option<&str>,
        ctx: &SyncContext,
        ahead: &mut Option<Ahead>,
    ) -> Result<(connector_core::Batch, Option<Stage>)> {
        if let Some((kind, message)) = &entered.head_error {
            let e = Error::new(*kind, message.clone()).with_connector(SOURCE);
            return Ok((
                stage_failure(&entered.project, Feature::Repository, &e),
                None,
            ));
        }
        let (Some(reference), Some(_)) = (&entered.reference, &entered.head) else {
            // No repository, or an empty one.
            return Ok((Default::default(), None));
        };
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
        let page = match ahead.take() {
            Some(Ahead::Tree(read, page)) if read == url => page?,
            _ => self.client.tree_page::<TreeEntry>(url).await?,
        };
        let project = &entered.project;
        let access = entered.file_access();
        let mut pending = Vec::new();
        for entry in page.items {
            match entry {
                Ok(entry) if entry.kind == "blob" => {
                    let id = convert::file_id(project, reference, &entry.path);
                    let version = convert::file_version(&entry, access.as_ref(), project.archived);
                    pending.push(PendingItem::new(id, Job::File(entry)).with_version(&version));
                }
                Ok(_) => {}
                Err((value, e)) => {
                    let path = value.get("path").and_then(Value::as_str).map(str::to_owned);
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
        // The next page is read while this one's files download.
        let read_next = async {
            let url = page.next.clone()?;
            let read = self.client.tree_page::<TreeEntry>(url.clone()).await;
            Some(Ahead::Tree(url, read))
        };
        let (batch, next_page) = futures::join!(self.fetch(entered, pending, ctx), read_next);
        *ahead = next_page;
        let batch = batch?;
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
        ahead: &mut Option<Ahead>,
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
        let page = match ahead.take() {
            Some(Ahead::Items(read, page)) if read == url => page?,
            _ => self.client.page::<Item>(url).await?,
        };
        let done: HashSet<u64> = cursor.done.iter().copied().collect();
        let mut pending = Vec::with_capacity(page.items.len());
        let mut listed: Vec<(chrono::DateTime<chrono::Utc>, u64)> =
            Vec::with_capacity(page.items.len());
        for entry in page.items {
            match entry {
                Ok(item) => {
                    listed.push((item.updated_at, item.id));
                    if cursor.after == Some(item.updated_at) && done.contains(&item.id) {
                        continue;
                    }
                    // GitLab prints milliseconds: the window's start is widened to its
                    // millisecond (the query's end was rounded up to the next one).
                    if window.is_some_and(|w| {
                        !w.contains_truncated(item.updated_at, chrono::TimeDelta::milliseconds(1))
                    }) {
                        continue;
                    }
                    let access = entered.item_access(kind, &item);
                    let version =
                        convert::item_version(&item, access.as_ref(), entered.project.archived);
                    pending.push(
                        PendingItem::new(item.web_url.clone(), Job::Item(kind, Box::new(item)))
                            .with_version(&version),
                    );
                }
                Err((value, e)) => {
                    let id = value
                        .get("web_url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
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
        let next = page.next.is_some().then(|| advance(cursor, &listed));
        // The next page is read while this one's notes are.
        let read_next = async {
            let next = next.as_ref()?;
            let url = self
                .client
                .items_url(
                    project.id,
                    kind.path(),
                    next.after,
                    window.map(|w| w.end),
                    next.page.max(1),
                    self.per_page,
                )
                .ok()?;
            let read = self.client.page::<Item>(url.clone()).await;
            Some(Ahead::Items(url, read))
        };
        let (batch, next_page) = futures::join!(self.fetch(entered, pending, ctx), read_next);
        *ahead = next_page;
        let batch = batch?;
        let Some(next) = next else {
            return Ok((batch, None));
        };
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
            self.fetch_one(entered, job)
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
                        entered.file_access(),
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
                let threads = if wants_notes {
                    self.client
                        .discussions(project.id, kind.path(), item.iid)
                        .await?
                } else {
                    Vec::new()
                };
                let access = entered.item_access(kind, &item);
                Ok(Some(convert::item_document(
                    kind,
                    &item,
                    &threads,
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
            // What the token may not read (a project, or a stage of one) lists no ids: nothing
            // of it can have been read by a sync either.
            let denied = |e: &Error| e.kind() == ErrorKind::PermissionDenied;
            for path in walk.list_projects().await? {
                ctx.cancellation().check()?;
                let entered = match walk.enter(&path, walk.code).await {
                    Ok(e) => e,
                    Err(e) if denied(&e) => None,
                    Err(e) => Err(e)?,
                };
                let Some(entered) = entered else { continue };
                let project = &entered.project;
                if let (true, Some(reference), Some(_)) = (walk.code, &entered.reference, &entered.head) {
                    let mut at = Some(walk.client.tree_url(project.id, reference, 100)?);
                    while let Some(url) = at.take() {
                        let page = match walk.client.tree_page::<Value>(url.clone()).await {
                            Ok(page) => page,
                            Err(e) if denied(&e) => break,
                            Err(e) => Err(e)?,
                        };
                        let ids: Vec<SlimDocument> = page
                            .items
                            .iter()
                            .filter_map(|v| v.as_ref().ok())
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
                for (on, kind, feature) in [
                    (walk.mrs, Kind::MergeRequest, Feature::MergeRequests),
                    (walk.issues, Kind::Issue, Feature::Issues),
                ] {
                    if !on || project.disables(feature) {
                        continue;
                    }
                    let mut cursor = UpdatedCursor::start();
                    loop {
                        let url = walk.client.items_url(project.id, kind.path(), cursor.after, None, cursor.page.max(1), 100)?;
                        let page = match walk.client.page::<Value>(url).await {
                            Ok(page) => page,
                            Err(e) if denied(&e) => break,
                            Err(e) => Err(e)?,
                        };
                        let mut listed = Vec::new();
                        let mut ids = Vec::new();
                        for v in page.items.iter().filter_map(|v| v.as_ref().ok()) {
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

/// The feature a stage reads.
fn stage_feature(stage: &Stage) -> Feature {
    match stage {
        Stage::CodeFiles { .. } => Feature::Repository,
        Stage::MergeRequests(_) => Feature::MergeRequests,
        Stage::Issues(_) => Feature::Issues,
    }
}

/// The batch of a stage the token may not read: one failure naming the project and the
/// feature. It has no id (no document to fetch again), so core holds the next window back
/// until the stage reads again.
fn stage_failure(project: &Project, feature: Feature, e: &Error) -> connector_core::Batch {
    let mut failure = Failure::new(
        None,
        e.kind(),
        format!(
            "project {}: its {} cannot be read, skipped: {}",
            project.path_with_namespace,
            feature.name(),
            e.message()
        ),
    );
    if let Ok(link) = url::Url::parse(&project.web_url) {
        failure = failure.with_link(link);
    }
    let mut batch = connector_core::Batch::default();
    batch.failures.push(failure);
    batch
}

/// A project refetch read, or why it could not (an error that does not end the sync).
type Reachable = std::result::Result<Entered, (ErrorKind, String)>;

/// What a document id names: an issue or merge request of a project, or a file at a ref.
enum Named {
    Item(String, Kind, u64),
    File(String, String),
}

impl Walk {
    /// What the document id `id` names, when it is of a configured project. The id is read
    /// by its path alone: GitLab writes its ids with its own `external_url`, which need not be
    /// the `gitlab_url` this connector reaches it by (a proxy, an internal address); project
    /// paths are compared without case, as GitLab does.
    fn parse_id(&self, id: &str, moved: &[String]) -> Option<Named> {
        fn after_origin(url: &str) -> Option<&str> {
            let rest = url.split_once("://")?.1;
            rest.find('/').map(|at| &rest[at..])
        }
        let rest = after_origin(id)?.strip_prefix(after_origin(&self.web)?)?;
        let (project, rest) = rest.split_once("/-/")?;
        if project.is_empty() {
            return None;
        }
        let inside = if self.projects.is_empty() {
            project
                .get(..self.owner.len())
                .is_some_and(|o| o.eq_ignore_ascii_case(&self.owner))
                && project[self.owner.len()..].starts_with('/')
        } else {
            self.projects
                .iter()
                .chain(moved)
                .any(|p| p.eq_ignore_ascii_case(project))
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
            let mut entered: std::collections::HashMap<String, Option<Reachable>> = Default::default();
            // The paths the configured projects have now, when one was renamed or moved since
            // the config named it (GitLab answers the old path with the project): its
            // documents carry the new path. Asked once, for the first id of no configured path.
            let mut moved: Option<Vec<String>> = None;
            for chunk in ids.chunks(100) {
                let mut pending = Vec::new();
                let mut denied = Vec::new();
                for id in chunk {
                    let named = match walk.parse_id(id, moved.as_deref().unwrap_or_default()) {
                        Some(named) => Some(named),
                        None if moved.is_none() && !walk.projects.is_empty() => {
                            let mut now = Vec::new();
                            for path in &walk.projects {
                                match walk.client.project(path).await {
                                    Ok(p) if !p.path_with_namespace.eq_ignore_ascii_case(path) => now.push(p.path_with_namespace),
                                    Ok(_) => {}
                                    Err(e) if e.kind().ends_sync() => Err(e)?,
                                    Err(_) => {}
                                }
                            }
                            let named = walk.parse_id(id, &now);
                            moved = Some(now);
                            named
                        }
                        None => None,
                    };
                    let Some(named) = named else { continue };
                    let path = match &named {
                        Named::Item(p, ..) | Named::File(p, _) => p.clone(),
                    };
                    if !entered.contains_key(&path) {
                        let e = match walk.enter(&path, walk.code).await {
                            Ok(e) => e.map(Ok),
                            Err(e) if e.kind() == ErrorKind::NotFound => None,
                            // Not connector-wide: its documents fail, the others come.
                            Err(e) if !e.kind().ends_sync() => Some(Err((e.kind(), e.message().to_owned()))),
                            Err(e) => Err(e)?,
                        };
                        entered.insert(path.clone(), e);
                    }
                    let project = match entered.get(&path).cloned() {
                        Some(Some(Ok(project))) => project,
                        Some(Some(Err((kind, message)))) => {
                            denied.push(Failure::new(
                                Some(id.clone()),
                                kind,
                                format!("{id}: project {path} cannot be read: {message}"),
                            ));
                            continue;
                        }
                        _ => continue,
                    };
                    pending.push(PendingItem::new(id.clone(), (project, named)));
                }
                let batch = fetch_items(&ctx, pending, CONCURRENCY, |(entered, named): (Entered, Named)| {
                    let walk = walk.clone();
                    async move { walk.refetch_one(&entered, named).await }
                })
                .await?;
                let mut batch = batch;
                batch.failures.append(&mut denied);
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
                            entered.file_access(),
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
/// the page ended at the time it started from (a bucket of items sharing one `updated_at`
/// larger than a page, read page after page).
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
    // Still at the same time: the next page of the same listing, whether or not this one
    // brought new ids (starting over at page 1 re-read a bucket of K pages K²/2 times).
    let page = if cursor.after == Some(last) {
        cursor.page.saturating_add(1)
    } else {
        1
    };
    UpdatedCursor {
        after: Some(last),
        done,
        page,
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
