//! The walk: repositories one after another, each one's pull-request pages as checkpointed
//! batches on core's [`fetch_items`] (one fingerprint lookup per page, unchanged pull requests
//! without their comment requests, the others a few at a time); the id listing and the refetch
//! of named pull requests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::collections::VecDeque;

use connector_core::pages::{Outcome, PendingItem, Spawned, fetch_items, item_failure, read_ahead};
use connector_core::{
    Access, Batch, CheckpointedBatch, Document, Error, ErrorKind, Failure, Result, SlimDocument,
    SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::Semaphore;

use super::SOURCE;
use super::checkpoint::{BitbucketCheckpoint, RepoFrame};
use super::client::Client;
use super::config::IndexMode;
use super::convert::{self, doc_id};
use super::model::{Listed, PrPage, PullRequest};

/// Pull requests whose requests (comments and activity, both at once) are in flight at the
/// same time, across the pages being fetched.
const CONCURRENCY: usize = 4;

/// Pull-request pages fetched at the same time (each in a task of its own), their requests
/// within one gate of [`CONCURRENCY`].
const PAGES_IN_FLIGHT: usize = 2;

/// A request slot of `gate` (never closed).
async fn slot(gate: &Semaphore) -> Result<tokio::sync::SemaphorePermit<'_>> {
    gate.acquire()
        .await
        .map_err(|e| Error::internal("the request slots closed").with_cause(e))
}

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) mode: IndexMode,
    pub(crate) slugs: Vec<String>,
    pub(crate) projects: Vec<String>,
    pub(crate) comments: bool,
    /// The most comments read for one pull request; 0: no limit.
    pub(crate) max_comments: u32,
    /// Read each pull request's activity feed (approvals, requests for changes, updates).
    pub(crate) activity: bool,
    pub(crate) permissions: bool,
    /// Set once a run has been refused a repository's permissions: the account is not an
    /// admin or the token lacks the admin scope, and asking for each further repository would
    /// cost a request apiece of the hourly budget for another 403.
    pub(crate) permissions_refused: Arc<AtomicBool>,
}

/// A pull request to fetch (its comments) and convert.
enum Pending {
    Pr {
        repo: Arc<RepoFrame>,
        pr: Box<PullRequest>,
        access: Access,
        /// Its version token, made once for the lookup and the document.
        version: String,
    },
    Failed(Failure),
}

fn gone_error(field: &'static str, what: String, e: Error) -> Error {
    Error::new(ErrorKind::NotFound, what)
        .with_connector(SOURCE)
        .with_field(field)
        .with_cause(e)
}

impl Walk {
    fn workspace(&self) -> &str {
        &self.client.workspace
    }

    /// This walk for one run: requests counted into `ctx`, permissions not refused yet.
    fn for_run(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            permissions_refused: Arc::new(AtomicBool::new(false)),
            ..self.clone()
        }
    }

    /// A listing error of the workspace, naming `workspace` when it is missing.
    pub(crate) fn named_workspace_error(&self, e: Error) -> Error {
        match e.kind() {
            ErrorKind::NotFound => gone_error(
                "workspace",
                format!(
                    "the workspace {} does not exist, or the account cannot see it",
                    self.workspace()
                ),
                e,
            ),
            _ => e,
        }
    }

    /// The repository `slug` of `repository_slugs`, naming the field when it is missing.
    async fn named_repository(&self, slug: &str) -> Result<RepoFrame> {
        self.client
            .repository(slug)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => gone_error(
                    "repository_slugs",
                    format!(
                        "the repository {}/{slug} does not exist, or the account cannot see it",
                        self.workspace()
                    ),
                    e,
                ),
                _ => e,
            })
    }

    /// The repositories of the configured scope, each once, in a stable order.
    pub(crate) async fn repos(&self) -> Result<Vec<RepoFrame>> {
        let mut repos = match self.mode {
            IndexMode::Repository => {
                let mut out = Vec::new();
                for slug in &self.slugs {
                    out.push(self.named_repository(slug).await?);
                }
                out
            }
            IndexMode::Project => {
                let mut out = Vec::new();
                for key in &self.projects {
                    let listed = self
                        .client
                        .repositories(Some(key))
                        .await
                        .map_err(|e| self.named_workspace_error(e))?;
                    out.extend(listed);
                }
                out
            }
            IndexMode::Workspace => self
                .client
                .repositories(None)
                .await
                .map_err(|e| self.named_workspace_error(e))?,
        };
        let mut seen = HashSet::new();
        repos.retain(|r| seen.insert(r.slug.clone()));
        if self.mode != IndexMode::Repository {
            repos.sort_by(|a, b| a.slug.cmp(&b.slug));
        }
        Ok(repos)
    }

    /// `repo` with the users who may read it, for a private one when permissions are read.
    /// A refusal (the account is not an admin of it, or the token lacks the
    /// `admin:repository:bitbucket` scope) leaves the repository as the group: it is warned
    /// about once in a run, and the run asks for no other repository's permissions.
    async fn with_access(&self, mut repo: RepoFrame) -> Result<RepoFrame> {
        if !self.permissions || !repo.private || self.permissions_refused.load(Ordering::Relaxed) {
            return Ok(repo);
        }
        match self.client.repo_users(&repo.slug).await {
            Ok(users) => repo.users = users,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                if !self.permissions_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        connector = SOURCE,
                        repo = %repo.slug,
                        "the users of private repositories cannot be read (it needs admin rights on the repository and the admin:repository:bitbucket scope); for this run their pull requests go to the repository as a group, bitbucket-repo:{}/{{slug}}: {e}",
                        self.workspace()
                    );
                }
            }
            // Gone since the listing: its pull-request listing says so next.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::debug!(connector = SOURCE, repo = %repo.slug, "the repository's permissions are not found: {e}");
            }
            Err(e) => return Err(e),
        }
        Ok(repo)
    }

    /// The listed values of a page as page items: malformed ones as failures, pull requests
    /// outside the window left out.
    fn pending(
        &self,
        repo: &Arc<RepoFrame>,
        values: Vec<Listed>,
        window: Option<&TimeWindow>,
    ) -> Vec<PendingItem<Pending>> {
        let access = convert::access(self.workspace(), repo);
        // The page's access, hashed once for every version token of the page.
        let access_hash = convert::access_hash(&access);
        let mut out = Vec::with_capacity(values.len());
        for value in values {
            match value {
                Listed::Pr(pr) => {
                    if window.is_some_and(|w| !w.contains(pr.updated_on)) {
                        continue;
                    }
                    let id = doc_id(self.workspace(), &repo.slug, pr.id);
                    let version = convert::version(&pr, &access_hash);
                    let fingerprint = Document::version_fingerprint(&version);
                    let value = Pending::Pr {
                        repo: Arc::clone(repo),
                        pr,
                        access: access.clone(),
                        version,
                    };
                    out.push(PendingItem::new(id, value).with_fingerprint(fingerprint));
                }
                Listed::Malformed { id, message } => {
                    let doc = id.map(|n| doc_id(self.workspace(), &repo.slug, n));
                    let shown = doc.clone().unwrap_or_else(|| {
                        format!("a pull request of {}/{}", self.workspace(), repo.slug)
                    });
                    let failure = Failure::new(
                        doc.clone(),
                        ErrorKind::InvalidData,
                        format!("{shown}: {message}"),
                    );
                    let failure =
                        match id.and_then(|n| convert::web_link(self.workspace(), &repo.slug, n)) {
                            Some(url) => failure.with_link(url),
                            None => failure,
                        };
                    out.push(PendingItem::new(
                        doc.unwrap_or_default(),
                        Pending::Failed(failure),
                    ));
                }
            }
        }
        out
    }

    /// One item's outcome: its document with its comments and activity, or its failure. Its
    /// requests (both at once: one round trip) wait for a slot of `gate`, given back before
    /// the conversion. An error here becomes the item's failure in [`fetch_items`] (the sync
    /// goes on) unless it concerns the whole connector.
    async fn fetch(&self, item: Pending, gate: &Semaphore) -> Result<Outcome> {
        let (repo, pr, access, version) = match item {
            Pending::Failed(failure) => return Ok(failure.into()),
            Pending::Pr {
                repo,
                pr,
                access,
                version,
            } => (repo, pr, access, version),
        };
        let count = pr.comment_count.unwrap_or_default();
        if self.comments && self.max_comments > 0 && count > u64::from(self.max_comments) {
            let id = doc_id(self.workspace(), &repo.slug, pr.id);
            let failure = Failure::new(
                Some(id.clone()),
                ErrorKind::Unsupported,
                format!(
                    "{id}: {count} comments, more than max_comments ({}); raise max_comments to read it",
                    self.max_comments
                ),
            );
            let failure = match convert::link(self.workspace(), &repo.slug, &pr) {
                Some(url) => failure.with_link(url),
                None => failure,
            };
            return Ok(failure.into());
        }
        let wants_comments = self.comments && pr.comment_count != Some(0);
        // A pull request never touched since it was opened has nothing in its feed but that.
        let touched = pr
            .participants
            .iter()
            .any(|p| p.approved || p.state.is_some())
            || pr.created_on.is_none_or(|c| pr.updated_on > c);
        let wants_activity = self.activity && touched;
        let (comments, activity) = if wants_comments || wants_activity {
            let _held = slot(gate).await?;
            let comments = async {
                if !wants_comments {
                    return Ok(Vec::new());
                }
                self.client.comments(&repo.slug, pr.id).await.map_err(|e| {
                    let text = format!(
                        "the comments of pull request #{} cannot be read: {e}",
                        pr.id
                    );
                    Error::new(e.kind(), text).with_connector(SOURCE)
                })
            };
            let activity = async {
                if !wants_activity {
                    return Ok(Vec::new());
                }
                self.client.activity(&repo.slug, pr.id).await.map_err(|e| {
                    let text = format!(
                        "the activity of pull request #{} cannot be read: {e}",
                        pr.id
                    );
                    Error::new(e.kind(), text).with_connector(SOURCE)
                })
            };
            futures::try_join!(comments, activity)?
        } else {
            (Vec::new(), Vec::new())
        };
        let parts = convert::Parts {
            comments: &comments,
            activity: &activity,
        };
        Ok(convert::document(self.workspace(), &repo, &pr, &parts, access, version).into())
    }

    /// The batch of a page's items, in page order. Every item's fetch starts at once and at
    /// most [`CONCURRENCY`] of them send requests at a time, through `gate` (shared by the
    /// pages in flight): a slow pull request holds one slot, not the ones of the items after
    /// it (core's `fetch_items` counts an item done but not yet handed on as in flight), and
    /// the next page's requests start while this page's last ones finish.
    async fn fetch_page(
        self: Arc<Self>,
        ctx: SyncContext,
        pending: Vec<PendingItem<Pending>>,
        gate: Arc<Semaphore>,
    ) -> Result<Batch> {
        let all = pending.len().max(1);
        let (walk, gate) = (&*self, &*gate);
        fetch_items(&ctx, pending, all, |item| walk.fetch(item, gate)).await
    }

    /// The first pull-request page of `cp`'s current repository when its listing starts
    /// there: the repository with its access (its users read for a private one), whether it
    /// is read whole, and the page's URL; the repository is recorded in `cp.seen`.
    async fn start_repo(
        &self,
        cp: &mut BitbucketCheckpoint,
        first: RepoFrame,
        window: Option<&TimeWindow>,
    ) -> Result<(RepoFrame, url::Url)> {
        let mut repo = self.with_access(first).await?;
        let access = convert::access_hash(&convert::access(self.workspace(), &repo));
        // New to the scope since the last run, or its access changed: its old pull requests
        // are outside the window, so it is read whole.
        repo.whole = window.is_some()
            && cp
                .known
                .as_ref()
                .is_some_and(|known| known.get(&repo.slug) != Some(&access));
        if repo.whole {
            tracing::info!(connector = SOURCE, repo = %repo.slug, "new to the scope or its access changed: read without the window");
        }
        cp.seen.insert(repo.slug.clone(), access);
        let repo_window = window.filter(|_| !repo.whole);
        let url = self.client.first_pr_page(&repo.slug, repo_window, false)?;
        Ok((repo, url))
    }

    /// The pull requests of every repository, page by page, from `from`.
    ///
    /// Two pages are fetched at once, each in a task of its own with its requests within one
    /// shared gate, and handed on in order, each with the checkpoint after it; the next
    /// pull-request page is listed while the oldest one finishes. The stream itself runs a
    /// page ahead of its consumer (core's read-ahead).
    pub(crate) fn checkpointed(
        &self,
        from: BitbucketCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BitbucketCheckpoint>>> {
        let walk = Arc::new(self.for_run(&ctx));
        let pages = async_stream::try_stream! {
            let mut cp = from;
            if !cp.started {
                cp.repos = walk.repos().await?;
                cp.started = true;
                cp.next = None;
            }
            let gate = Arc::new(Semaphore::new(CONCURRENCY));
            let mut seen: HashSet<String> = HashSet::new();
            let mut in_flight: VecDeque<(Spawned<Result<Batch>>, BitbucketCheckpoint)> = VecDeque::new();
            // The pull-request page listed while the oldest page in flight finished.
            let mut ahead: Option<(url::Url, Result<PrPage>)> = None;
            // A listing error, raised once the pages before it are handed on.
            let mut failed: Option<Error> = None;
            loop {
                while in_flight.len() < PAGES_IN_FLIGHT && failed.is_none() {
                    let Some(first) = cp.repos.first().cloned() else { break };
                    ctx.cancellation().check()?;
                    let started = match &cp.next {
                        Some(next) => walk.client.next_url(next).map(|url| (first, url)),
                        None => walk.start_repo(&mut cp, first, window.as_ref()).await,
                    };
                    let (repo, url) = match started {
                        Ok(started) => started,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    };
                    let repo_window = window.as_ref().filter(|_| !repo.whole);
                    let read = match ahead.take() {
                        Some((read, page)) if read == url => page,
                        _ => walk.client.pr_page(url).await,
                    };
                    let page = match read {
                        Ok(page) => page,
                        // Deleted or renamed since the listing, on its first page or on a
                        // stored `next` link: nothing of it to read (prune deals with its
                        // documents). The walk moves past it, so a resumed run cannot fail on
                        // it for ever.
                        Err(e) if e.kind() == ErrorKind::NotFound => {
                            tracing::warn!(connector = SOURCE, repo = %repo.slug, "the repository is gone since the listing: {e}");
                            cp.seen.remove(&repo.slug);
                            cp.repos.remove(0);
                            cp.next = None;
                            if walk.mode == IndexMode::Repository {
                                // A repository the config names: said once, as a failure
                                // naming the field (a new run's listing refuses the config
                                // outright).
                                let failure = Failure::new(
                                    None,
                                    ErrorKind::NotFound,
                                    format!(
                                        "repository_slugs: the repository {}/{} does not exist any more, or the account cannot see it: {e}",
                                        walk.workspace(),
                                        repo.slug
                                    ),
                                );
                                let batch = Batch::with_parts(Vec::new(), vec![failure], Vec::new());
                                in_flight.push_back((Spawned::spawn(async move { Ok::<_, Error>(batch) }), cp.clone()));
                            }
                            continue;
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    };
                    let repo = Arc::new(repo);
                    let pending = walk.pending(&repo, page.values, repo_window);
                    match page.next {
                        Some(next) if seen.insert(next.clone()) => {
                            if let Some(at) = cp.repos.first_mut() {
                                *at = (*repo).clone();
                            }
                            cp.next = Some(next);
                        }
                        Some(_) => {
                            failed = Some(Error::invalid_data(format!(
                                "Bitbucket sent the same `next` link twice for the pull requests of {}/{}",
                                walk.workspace(), repo.slug
                            )).with_connector(SOURCE));
                            break;
                        }
                        None => {
                            cp.repos.remove(0);
                            cp.next = None;
                        }
                    }
                    let fetch = Arc::clone(&walk).fetch_page(ctx.clone(), pending, Arc::clone(&gate));
                    in_flight.push_back((Spawned::spawn(fetch), cp.clone()));
                }
                let Some((task, after)) = in_flight.pop_front() else { break };
                // The next page of this repository is listed while the oldest page finishes.
                let next_url = match (&failed, &cp.next) {
                    (None, Some(next)) => walk.client.next_url(next).ok(),
                    _ => None,
                };
                let batch = match next_url {
                    Some(url) => {
                        let (batch, read) = futures::join!(task.join(), walk.client.pr_page(url.clone()));
                        ahead = Some((url, read));
                        batch
                    }
                    None => task.join().await,
                };
                yield CheckpointedBatch::new(batch??, after);
            }
            if let Some(e) = failed {
                Err(e)?;
            }
        }
        .boxed();
        read_ahead(pages)
    }

    /// The repositories whose ids prune keeps: [`repos`](Self::repos) listed twice and
    /// united. The repository listing is paged by position (`page=N`, by slug), so a
    /// repository deleted during one pass shifts the next one onto a page already read; a
    /// repository missing there would have every pull request pruned. A second pass sees it.
    pub(crate) async fn prune_repos(&self) -> Result<Vec<RepoFrame>> {
        let mut repos = self.repos().await?;
        if self.mode == IndexMode::Repository {
            return Ok(repos);
        }
        let known: HashSet<String> = repos.iter().map(|r| r.slug.clone()).collect();
        let again = self.repos().await?;
        repos.extend(again.into_iter().filter(|r| !known.contains(&r.slug)));
        repos.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(repos)
    }

    /// Every pull-request id of the scope, listed by id (see [`Client::first_pr_page`]);
    /// fails, rather than come back short, when a page cannot be listed.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            for repo in walk.prune_repos().await? {
                let mut url = walk.client.first_pr_page(&repo.slug, None, true)?;
                let mut seen = HashSet::new();
                let mut first = true;
                loop {
                    ctx.cancellation().check()?;
                    let page = match walk.client.slim_page(url.clone()).await {
                        Ok(page) => page,
                        // Deleted since the listing: none of its ids are live.
                        Err(e) if e.kind() == ErrorKind::NotFound && first && walk.mode != IndexMode::Repository => {
                            tracing::warn!(connector = SOURCE, repo = %repo.slug, "the repository is gone since the listing");
                            break;
                        }
                        Err(e) => Err(e)?,
                    };
                    first = false;
                    let ids: Vec<SlimDocument> = page
                        .values
                        .iter()
                        .filter_map(|v| v.id.as_ref().and_then(serde_json::Value::as_u64))
                        .map(|n| SlimDocument::new(doc_id(walk.workspace(), &repo.slug, n)))
                        .collect();
                    if !ids.is_empty() {
                        yield ids;
                    }
                    match page.next {
                        Some(next) if seen.insert(next.clone()) => url = walk.client.next_url(&next)?,
                        Some(_) => Err(Error::invalid_data("Bitbucket sent the same `next` link twice").with_connector(SOURCE))?,
                        None => break,
                    }
                }
            }
        }
        .boxed()
    }

    /// The repository `slug` if it is in the configured scope; none otherwise or when gone.
    async fn scoped_repo(&self, slug: &str) -> Result<Option<RepoFrame>> {
        if self.mode == IndexMode::Repository && !self.slugs.iter().any(|s| s == slug) {
            return Ok(None);
        }
        let repo = match self.client.repository(slug).await {
            Ok(repo) => repo,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if self.mode == IndexMode::Project
            && !repo
                .project
                .as_ref()
                .is_some_and(|p| self.projects.iter().any(|k| k == p))
        {
            return Ok(None);
        }
        self.with_access(repo).await.map(Some)
    }

    /// The pull requests with these document ids again; an id that is not this workspace's,
    /// a pull request that is gone or one outside the scope yields nothing.
    pub(crate) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = Arc::new(self.for_run(&ctx));
        async_stream::try_stream! {
            let prefix = format!("{SOURCE}:{}:", walk.workspace());
            let mut repos: HashMap<String, Option<Arc<RepoFrame>>> = HashMap::new();
            for chunk in ids.chunks(50) {
                let mut pending = Vec::new();
                let mut failures = Vec::new();
                for id in chunk {
                    let Some((slug, n)) = id
                        .strip_prefix(&prefix)
                        .and_then(|rest| rest.split_once(":pr:"))
                        .and_then(|(slug, n)| Some((slug.to_owned(), n.parse::<u64>().ok()?)))
                    else {
                        continue;
                    };
                    if !repos.contains_key(&slug) {
                        let repo = walk.scoped_repo(&slug).await?.map(Arc::new);
                        repos.insert(slug.clone(), repo);
                    }
                    let Some(Some(repo)) = repos.get(&slug).cloned() else { continue };
                    let listed = match walk.client.pull_request(&slug, n).await {
                        Ok(Some(listed)) => listed,
                        Ok(None) => continue,
                        // One pull request that cannot be read fails alone.
                        Err(e) => {
                            failures.push(item_failure(id.clone(), e)?);
                            continue;
                        }
                    };
                    pending.extend(walk.pending(&repo, vec![listed], None));
                }
                let gate = Arc::new(Semaphore::new(CONCURRENCY));
                let mut batch = Arc::clone(&walk).fetch_page(ctx.clone(), pending, gate).await?;
                batch.failures.extend(failures);
                if !batch.is_empty() {
                    yield batch;
                }
            }
        }
        .boxed()
    }

    /// The checks of `check()`: the workspace, each configured repository or project, then
    /// the pull requests of one repository of the scope (their scope is a token's own).
    pub(crate) async fn check(&self) -> Result<()> {
        self.client
            .probe()
            .await
            .map_err(|e| self.named_workspace_error(e))?;
        let sample = match self.mode {
            IndexMode::Workspace => self
                .client
                .first_repository(None)
                .await
                .map_err(|e| self.named_workspace_error(e))?,
            IndexMode::Repository => {
                for slug in &self.slugs {
                    self.named_repository(slug).await?;
                }
                self.slugs.first().cloned()
            }
            IndexMode::Project => {
                let mut sample = None;
                for key in &self.projects {
                    let first = self
                        .client
                        .first_repository(Some(key))
                        .await
                        .map_err(|e| self.named_workspace_error(e))?;
                    let Some(first) = first else {
                        return Err(Error::new(
                            ErrorKind::NotFound,
                            format!(
                                "the project {key} has no repository the account can see in the workspace {}, or does not exist (keys are case-sensitive)",
                                self.workspace()
                            ),
                        )
                        .with_connector(SOURCE)
                        .with_field("projects"));
                    };
                    sample.get_or_insert(first);
                }
                sample
            }
        };
        if let Some(slug) = sample {
            self.client
                .probe_pull_requests(&slug)
                .await
                .map_err(|e| match e.kind() {
                    ErrorKind::PermissionDenied => Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "the pull requests of {}/{slug} cannot be read (the token needs the read:pullrequest:bitbucket scope): {e}",
                            self.workspace()
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_cause(e),
                    _ => e,
                })?;
        }
        Ok(())
    }
}
