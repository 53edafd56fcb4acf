//! The walk: repositories one after another, each one's pull-request pages as checkpointed
//! batches on core's [`fetch_items`] (one fingerprint lookup per page, unchanged pull requests
//! without their comment requests, the others a few at a time); the id listing and the refetch
//! of named pull requests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use connector_core::pages::{Outcome, PendingItem, fetch_items, item_failure};
use connector_core::{
    Access, Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::checkpoint::{BitbucketCheckpoint, RepoFrame};
use super::client::Client;
use super::config::IndexMode;
use super::convert::{self, doc_id};
use super::model::{Listed, PullRequest};

/// Comment requests at the same time within a page.
const CONCURRENCY: usize = 4;

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) mode: IndexMode,
    pub(crate) slugs: Vec<String>,
    pub(crate) projects: Vec<String>,
    pub(crate) comments: bool,
    pub(crate) permissions: bool,
}

/// A pull request to fetch (its comments) and convert.
enum Pending {
    Pr {
        repo: Arc<RepoFrame>,
        pr: Box<PullRequest>,
        access: Access,
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

    /// `repo` with the groups that may read it, for a private one when permissions are read;
    /// an account that may not read them (not an admin) leaves the repository as the group.
    async fn with_groups(&self, mut repo: RepoFrame) -> Result<RepoFrame> {
        if !self.permissions || !repo.private {
            return Ok(repo);
        }
        match self.client.repo_groups(&repo.slug).await {
            Ok(groups) => repo.groups = groups,
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                tracing::debug!(connector = SOURCE, repo = %repo.slug, "the repository's group permissions cannot be read: {e}");
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
        values: Vec<serde_json::Value>,
        window: Option<&TimeWindow>,
    ) -> Vec<PendingItem<Pending>> {
        let access = convert::access(self.workspace(), repo);
        let mut out = Vec::new();
        for value in values {
            match Listed::from_value(value) {
                Listed::Pr(pr) => {
                    if window.is_some_and(|w| !w.contains(pr.updated_on)) {
                        continue;
                    }
                    let id = doc_id(self.workspace(), &repo.slug, pr.id);
                    let version = convert::version(&pr, &access);
                    let item = Pending::Pr {
                        repo: repo.clone(),
                        pr,
                        access: access.clone(),
                    };
                    out.push(PendingItem::new(id, item).with_version(&version));
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

    /// One item's outcome: its document with its comments, or its failure. An error here
    /// becomes the item's failure in [`fetch_items`] (the sync goes on) unless it concerns
    /// the whole connector.
    async fn fetch(self, item: Pending) -> Result<Outcome> {
        let (repo, pr, access) = match item {
            Pending::Failed(failure) => return Ok(failure.into()),
            Pending::Pr { repo, pr, access } => (repo, pr, access),
        };
        let comments = if self.comments && pr.comment_count != Some(0) {
            self.client.comments(&repo.slug, pr.id).await.map_err(|e| {
                let text = format!(
                    "the comments of pull request #{} cannot be read: {e}",
                    pr.id
                );
                Error::new(e.kind(), text).with_connector(SOURCE)
            })?
        } else {
            Vec::new()
        };
        Ok(convert::document(self.workspace(), &repo, &pr, &comments, access).into())
    }

    /// The pull requests of every repository, page by page, from `from`.
    pub(crate) fn checkpointed(
        &self,
        from: BitbucketCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BitbucketCheckpoint>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let mut cp = from;
            if !cp.started {
                cp.repos = walk.repos().await?;
                cp.started = true;
                cp.next = None;
            }
            let mut seen: HashSet<String> = HashSet::new();
            while let Some(first) = cp.repos.first().cloned() {
                ctx.cancellation().check()?;
                let (repo, url) = match &cp.next {
                    Some(next) => (first, walk.client.next_url(next)?),
                    None => {
                        let repo = walk.with_groups(first).await?;
                        let url = walk.client.first_pr_page(&repo.slug, window.as_ref(), false)?;
                        (repo, url)
                    }
                };
                let page = match walk.client.pr_page(url).await {
                    Ok(page) => page,
                    // Deleted since the listing: nothing of it to read (prune deals with it).
                    Err(e) if e.kind() == ErrorKind::NotFound && cp.next.is_none() && walk.mode != IndexMode::Repository => {
                        tracing::warn!(connector = SOURCE, repo = %repo.slug, "the repository is gone since the listing");
                        cp.repos.remove(0);
                        continue;
                    }
                    Err(e) => Err(e)?,
                };
                let repo = Arc::new(repo);
                let pending = walk.pending(&repo, page.values, window.as_ref());
                let fetch_walk = walk.clone();
                let batch = fetch_items(&ctx, pending, CONCURRENCY, move |item| {
                    fetch_walk.clone().fetch(item)
                })
                .await?;
                match page.next {
                    Some(next) if seen.insert(next.clone()) => {
                        if let Some(at) = cp.repos.first_mut() {
                            *at = (*repo).clone();
                        }
                        cp.next = Some(next);
                    }
                    Some(_) => Err(Error::invalid_data(format!(
                        "Bitbucket sent the same `next` link twice for the pull requests of {}/{}",
                        walk.workspace(), repo.slug
                    )).with_connector(SOURCE))?,
                    None => {
                        cp.repos.remove(0);
                        cp.next = None;
                    }
                }
                yield CheckpointedBatch::new(batch, cp.clone());
            }
        }
        .boxed()
    }

    /// Every pull-request id of the scope; fails, rather than come back short, when a page
    /// cannot be listed.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            for repo in walk.repos().await? {
                let mut url = walk.client.first_pr_page(&repo.slug, None, true)?;
                let mut seen = HashSet::new();
                loop {
                    ctx.cancellation().check()?;
                    let page = walk.client.pr_page(url.clone()).await?;
                    let ids: Vec<SlimDocument> = page
                        .values
                        .iter()
                        .filter_map(|v| v.get("id").and_then(serde_json::Value::as_u64))
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
        self.with_groups(repo).await.map(Some)
    }

    /// The pull requests with these document ids again; an id that is not this workspace's,
    /// a pull request that is gone or one outside the scope yields nothing.
    pub(crate) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
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
                    let value = match walk.client.pull_request(&slug, n).await {
                        Ok(Some(value)) => value,
                        Ok(None) => continue,
                        // One pull request that cannot be read fails alone.
                        Err(e) => {
                            failures.push(item_failure(id.clone(), e)?);
                            continue;
                        }
                    };
                    pending.extend(walk.pending(&repo, vec![value], None));
                }
                let fetch_walk = walk.clone();
                let mut batch = fetch_items(&ctx, pending, CONCURRENCY, move |item| {
                    fetch_walk.clone().fetch(item)
                })
                .await?;
                batch.failures.extend(failures);
                if !batch.is_empty() {
                    yield batch;
                }
            }
        }
        .boxed()
    }

    /// The checks of `check()`: the workspace, then each configured repository or project.
    pub(crate) async fn check(&self) -> Result<()> {
        self.client
            .probe()
            .await
            .map_err(|e| self.named_workspace_error(e))?;
        match self.mode {
            IndexMode::Workspace => {}
            IndexMode::Repository => {
                for slug in &self.slugs {
                    self.named_repository(slug).await?;
                }
            }
            IndexMode::Project => {
                for key in &self.projects {
                    self.client.project(key).await.map_err(|e| match e.kind() {
                        ErrorKind::NotFound => gone_error(
                            "projects",
                            format!(
                                "the project {key} does not exist in the workspace {}, or the account cannot see it",
                                self.workspace()
                            ),
                            e,
                        ),
                        _ => e,
                    })?;
                }
            }
        }
        Ok(())
    }
}
