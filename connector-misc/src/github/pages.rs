//! The walk: scopes → repositories → issues and pull requests (keyset pages over `since`),
//! then code files (the tree at one commit), as checkpointed batches on core's
//! [`fetch_items`] (one fingerprint lookup per page; unchanged items cost no comment or blob
//! request); the id listing and the refetch of named items.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use connector_core::glob::PathFilter;
use connector_core::http::is_body_too_large;
use connector_core::pages::{Outcome, PendingItem, Spawned, fetch_items, item_failure};
use connector_core::{
    Access, Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::future::{self, Either};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use super::SOURCE;
use super::checkpoint::{GithubCheckpoint, RepoCursor, Stage};
use super::client::{Client, Listed};
use super::config::Scope;
use super::convert::{
    CodeFile, RepoInfo, file_document, file_failure, file_version, issue_document, issue_version,
};
use super::model::{Issue, Repo, TreeEntry};

/// The latest change of each issue or pull request (by number) that the issues endpoint's
/// `updated_at` may not show: a pull request's own `updated_at` (reviews, review comments)
/// and, in an incremental run, the `updated_at` of its comments written in the window.
#[derive(Debug, Default)]
struct Activity(HashMap<u64, DateTime<Utc>>);

impl Activity {
    fn note(&mut self, number: u64, at: DateTime<Utc>) {
        let latest = self.0.entry(number).or_insert(at);
        if *latest < at {
            *latest = at;
        }
    }

    /// When `issue` last changed, by whichever listing shows it latest.
    fn touched(&self, issue: &Issue) -> DateTime<Utc> {
        self.0
            .get(&issue.number)
            .map_or(issue.updated_at, |t| (*t).max(issue.updated_at))
    }

    /// The numbers changed within `window`, after `after`, ascending.
    fn within(&self, window: TimeWindow, after: Option<u64>) -> Vec<u64> {
        let mut numbers: Vec<u64> = self
            .0
            .iter()
            .filter(|(n, t)| window.contains(**t) && after.is_none_or(|a| **n > a))
            .map(|(n, _)| *n)
            .collect();
        numbers.sort_unstable();
        numbers
    }
}

/// A listed page: its items and the `Link` `rel="next"` after it.
type Listing = (Listed, Option<Url>);

/// Items of a page sending requests (comments, reviews, a blob) at the same time.
const CONCURRENCY: usize = 8;

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) issues: bool,
    pub(crate) pulls: bool,
    /// Keep what bots write ([`include_bot_comments`](super::GithubConfig::include_bot_comments)).
    pub(crate) bots: bool,
    pub(crate) code: bool,
    pub(crate) branch: Option<String>,
    pub(crate) filter: Arc<PathFilter>,
    pub(crate) max: u64,
    /// The token was refused the teams of a repository (`403`) in this run: not asked again
    /// until the next (fresh in each [`with_context`](Self::with_context)).
    pub(crate) teams_refused: Arc<AtomicBool>,
}

/// One item of a page before its comments or body are fetched.
enum Pending {
    Issue(Box<IssueItem>),
    File(CodeFile, Arc<RepoInfo>),
    Failed(Failure),
}

/// A listed issue or pull request to fetch.
struct IssueItem {
    issue: Issue,
    info: Arc<RepoInfo>,
    /// When it last changed (see [`Activity::touched`]).
    touched: DateTime<Utc>,
    /// Its version token ([`issue_version`]), computed once for the lookup and the document.
    version: String,
}

impl IssueItem {
    /// Whether its comments are asked: it has some, or it is a listed pull request (no
    /// issues endpoint, so no count of them).
    fn wants_comments(&self) -> bool {
        self.issue.comments > 0 || !self.info.has_issues
    }

    /// Whether its document needs a request: its comments, or a pull request's reviews.
    fn needs_requests(&self) -> bool {
        self.wants_comments() || self.issue.is_pull_request()
    }

    /// Its document with `parts`; its strings move into it.
    fn document(self: Box<Self>, parts: &IssueParts) -> Outcome {
        let Self {
            issue,
            info,
            touched,
            version,
        } = *self;
        issue_document(
            &info,
            issue,
            touched,
            &version,
            &parts.comments,
            &parts.reviews,
            &parts.review_comments,
        )
        .into()
    }

    /// `issue` of `info`, changed last at `touched`, as a pending item with its version.
    fn pending(issue: Issue, info: &Arc<RepoInfo>, touched: DateTime<Utc>) -> PendingItem<Pending> {
        let version = issue_version(info, &issue, touched);
        let listed = PendingItem::new(issue.html_url.clone(), ()).with_version(&version);
        PendingItem {
            id: listed.id,
            fingerprint: listed.fingerprint,
            value: Pending::Issue(Box::new(Self {
                issue,
                info: Arc::clone(info),
                touched,
                version,
            })),
        }
    }
}

/// What an issue's document needs besides the listed issue.
#[derive(Default)]
struct IssueParts {
    comments: Vec<super::model::Comment>,
    reviews: Vec<super::model::Review>,
    review_comments: Vec<super::model::Comment>,
}

impl Walk {
    fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            teams_refused: Arc::new(AtomicBool::new(false)),
            ..self.clone()
        }
    }

    /// Whether an item of this kind is read.
    fn wants(&self, issue: &Issue) -> bool {
        if issue.is_pull_request() {
            self.pulls
        } else {
            self.issues
        }
    }

    /// A listing error of a configured scope, naming the field to fix when it is missing.
    pub(crate) fn named_scope_error(scope: &Scope, e: Error) -> Error {
        if e.kind() != ErrorKind::NotFound {
            return e;
        }
        let (field, what) = match scope {
            Scope::Repo { owner, name } => (
                "repository_name",
                format!("the repository {owner}/{name} does not exist, or the token cannot see it"),
            ),
            Scope::Owner(owner) => (
                "repository_owner",
                format!(
                    "the organisation or user {owner} does not exist, or the token cannot see it"
                ),
            ),
        };
        Error::new(ErrorKind::NotFound, what)
            .with_connector(SOURCE)
            .with_field(field)
            .with_cause(e)
    }

    /// The repositories of `scope`, but those GitHub disabled (blocked: nothing of them can
    /// be read), each left out with a warning.
    async fn repos(&self, scope: &Scope) -> Result<Vec<Repo>> {
        let listed = match scope {
            Scope::Repo { owner, name } => self.client.repo(owner, name).await.map(|r| vec![r]),
            Scope::Owner(owner) => self.client.owner_repos(owner).await,
        };
        let mut repos = listed.map_err(|e| Self::named_scope_error(scope, e))?;
        repos.retain(|r| {
            if r.disabled {
                tracing::warn!(connector = SOURCE, repo = %r.full_name, "the repository is disabled by GitHub; left out");
            }
            !r.disabled
        });
        Ok(repos)
    }

    /// The teams with access to `repo` as groups (`github:{org}/team/{slug}`), for an
    /// organisation's repository. A token refused them (`403`: a classic token without
    /// `repo`, a fine-grained one without the repository's Administration permission, read)
    /// leaves them out, with one warning and no more asking in this run; the collaborators
    /// still name who may read.
    async fn teams(&self, repo: &Repo) -> Result<Vec<String>> {
        if repo.owner.kind.as_deref() != Some("Organization")
            || self.teams_refused.load(Ordering::Relaxed)
        {
            return Ok(Vec::new());
        }
        match self.client.teams(&repo.owner.login, &repo.name).await {
            Ok(teams) => {
                let org = repo.owner.login.to_lowercase();
                Ok(teams
                    .into_iter()
                    .map(|t| format!("github:{org}/team/{}", t.slug.to_lowercase()))
                    .collect())
            }
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                if !self.teams_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(connector = SOURCE, repo = %repo.full_name, error = %e, "the token may not list the teams with access to a repository (a classic token needs the `repo` scope, a fine-grained one the Administration permission, read): access names collaborators only; not asked again in this run");
                }
                Ok(Vec::new())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Who may read `repo`: everyone when it is public; else its collaborators when the token
    /// may list them (`github-user:{login}`), else the repository as a group
    /// (`github-repo:{owner}/{name}`), and the teams with access ([`teams`](Self::teams));
    /// an `internal` repository (GitHub Enterprise) adds the organisation
    /// (`github-org:{owner}`).
    async fn info(&self, repo: Repo) -> Result<RepoInfo> {
        let visibility = repo
            .visibility
            .clone()
            .unwrap_or_else(|| if repo.private { "private" } else { "public" }.to_owned());
        let access = if visibility == "public" && !repo.private {
            Access::public()
        } else {
            let mut groups = match self
                .client
                .collaborators(&repo.owner.login, &repo.name)
                .await
            {
                Ok(users) => users
                    .into_iter()
                    .map(|u| format!("github-user:{}", u.login.to_lowercase()))
                    .collect(),
                Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                    tracing::debug!(connector = SOURCE, repo = %repo.full_name, "the token may not list collaborators; access is the repository as a group");
                    vec![format!("github-repo:{}", repo.full_name.to_lowercase())]
                }
                Err(e) => return Err(e),
            };
            groups.extend(self.teams(&repo).await?);
            if visibility == "internal" {
                groups.push(format!("github-org:{}", repo.owner.login.to_lowercase()));
            }
            groups.sort();
            groups.dedup();
            Access::restricted(Vec::new(), groups)
        };
        Ok(RepoInfo::new(
            repo.owner.login,
            repo.name,
            repo.full_name,
            repo.html_url.trim_end_matches('/').to_owned(),
            self.branch.clone().or(repo.default_branch),
            visibility,
            repo.archived,
            repo.has_issues,
            access,
        ))
    }

    /// The walk from `from` on, each page with the checkpoint after it.
    pub(super) fn checkpointed(
        &self,
        from: GithubCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<GithubCheckpoint>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let mut cp = from;
            // A checkpoint that knows no repository (the first run, or one written before
            // `known` was) tells nothing new: the window holds for all. One inside a scope
            // left the map out: what it would have spared is not known.
            let informed = !cp.known.is_empty() || cp.known_left_out;
            let lost = cp.known_left_out;
            cp.known_left_out = false;
            // The map of the repositories walked: in the checkpoints of scope ends only.
            let mut known = std::mem::take(&mut cp.known);
            // The checkpoint inside a scope (no map) and at its end (the map).
            let inside = |cp: &GithubCheckpoint| GithubCheckpoint {
                known_left_out: informed,
                ..cp.clone()
            };
            for scope in walk.scopes.clone() {
                let key = scope.key();
                if cp.scopes_done.contains(&key) {
                    continue;
                }
                ctx.cancellation().check()?;
                for repo in walk.repos(&scope).await? {
                    let done = cp.after_repo.as_deref().is_some_and(|a| repo.full_name.as_str() <= a)
                        || cp.repos_done.contains(&repo.full_name);
                    if done {
                        continue;
                    }
                    let full_name = repo.full_name.clone();
                    let info = match walk.repo_info(repo).await? {
                        Ok(info) => info,
                        Err(failure) => {
                            cp.current = None;
                            cp.after_repo = Some(full_name);
                            yield CheckpointedBatch::new(failure, inside(&cp));
                            continue;
                        }
                    };
                    let access = info.access_hash().to_owned();
                    let cur = match cp.current.take() {
                        Some(c) if c.repo == full_name => c,
                        _ => RepoCursor {
                            repo: full_name.clone(),
                            whole: window.is_some()
                                && informed
                                && (lost || known.get(&full_name) != Some(&access)),
                            ..RepoCursor::default()
                        },
                    };
                    if cur.whole {
                        tracing::info!(connector = SOURCE, repo = %full_name, "new in scope, or its access changed (or not known after a resume): read whole");
                    }
                    known.insert(full_name.clone(), access);
                    let repo_window = if cur.whole { None } else { window };
                    let mut pages = walk.repo_pages(info, cur, repo_window, ctx.clone());
                    // Each page is handed on when the next comes, so the last one carries the
                    // repository's end: a checkpoint fewer per repository.
                    let mut held = None;
                    while let Some(page) = pages.next().await {
                        let (batch, cur) = page?;
                        if let Some(before) = held.replace(batch) {
                            yield CheckpointedBatch::new(before, inside(&cp));
                        }
                        cp.current = Some(cur);
                    }
                    cp.current = None;
                    cp.after_repo = Some(full_name);
                    yield CheckpointedBatch::new(held.unwrap_or_default(), inside(&cp));
                }
                cp.after_repo = None;
                cp.repos_done.clear();
                cp.current = None;
                cp.scopes_done.push(key);
                // After a resume that lost the map with nothing walked since, the next run
                // still knows it has no map of this one (see `known_left_out`).
                let end = GithubCheckpoint {
                    known: known.clone(),
                    known_left_out: lost && known.is_empty(),
                    ..cp.clone()
                };
                yield CheckpointedBatch::new(Batch::default(), end);
            }
        }
        .boxed()
    }

    /// One repository's pages from `cur` on, each with the cursor after it: its issues and
    /// pull requests, then (in an incremental run) those whose change the issues endpoint
    /// missed, then its code files.
    ///
    /// An error of this repository that does not end the sync (a `403` of a token without
    /// its Issues or Contents permission, a `404` of a repository gone since the listing or
    /// of a `branch` it lacks, a `451`, a `5xx` after the retries) ends its walk as a failure
    /// whose id is the repository's web URL (refetched next run as the whole repository),
    /// and the walk goes on with the next repository.
    fn repo_pages(
        &self,
        info: Arc<RepoInfo>,
        mut cur: RepoCursor,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<(Batch, RepoCursor)>> {
        let walk = self.clone();
        async_stream::try_stream! {
            let id = info.html_url.clone();
            let full_name = info.full_name.clone();
            // Without issues (their endpoints answer `410`), the pull requests alone, listed
            // by `GET /pulls` whose `updated_at` shows reviews and comments: no activity.
            let items = walk.pulls || (walk.issues && info.has_issues);
            let code = RepoCursor { repo: cur.repo.clone(), stage: Stage::Code, ..RepoCursor::default() };
            // An error of the issues stage fails them alone: the code files are read still.
            let mut failed = None;
            let mut activity = Activity::default();
            if items && cur.stage != Stage::Code {
                match walk.activity(&info, window).await {
                    Ok(a) => activity = a,
                    Err(e) => failed = Some(e),
                }
            }
            let activity = Arc::new(activity);
            // Two pages in flight, each fetched in a task of its own, their requests within
            // one gate of `CONCURRENCY`: the comment requests of a page start while the last
            // ones of the page before finish (one page at a time, each page waited for its
            // slowest request with most of the slots idle). Handed on in order, each with the
            // cursor after it.
            let gate = Arc::new(Semaphore::new(CONCURRENCY));
            let walk_ref = Arc::new(walk.clone());
            let mut in_flight: std::collections::VecDeque<(Spawned<Result<Batch>>, RepoCursor)> = Default::default();
            let mut listed: Option<Result<Listing>> = None;
            let pulls = !info.has_issues;
            loop {
                while in_flight.len() < 2 && failed.is_none() && cur.stage == Stage::Issues && items {
                    ctx.cancellation().check()?;
                    let listing = match listed.take() {
                        Some(listing) => listing,
                        None => match walk.issues_url_for(&info, &cur, window) {
                            Ok(url) => walk.client.issues_page(url, pulls).await,
                            Err(e) => Err(e),
                        },
                    };
                    match listing {
                        Ok((values, next)) => {
                            let (pending, next) = walk.sort_page(&info, &activity, cur, values, next, window);
                            cur = next;
                            let fetch = Arc::clone(&walk_ref).fetch_page_in(ctx.clone(), pending, Arc::clone(&gate));
                            in_flight.push_back((Spawned::spawn(fetch), cur.clone()));
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                let Some((task, after)) = in_flight.pop_front() else { break };
                // The next listing while the oldest page finishes.
                let next_url = (failed.is_none() && cur.stage == Stage::Issues && in_flight.len() < 2)
                    .then(|| walk.issues_url_for(&info, &cur, window));
                let batch = match next_url {
                    Some(Ok(url)) => {
                        let (batch, listing) = futures::join!(task.join(), walk.client.issues_page(url, pulls));
                        listed = Some(listing);
                        batch
                    }
                    Some(Err(e)) => {
                        listed = Some(Err(e));
                        task.join().await
                    }
                    None => task.join().await,
                };
                match batch.and_then(|batch| batch) {
                    Ok(batch) => yield (batch, after),
                    Err(e) => {
                        // What was in flight after it is dropped (its tasks aborted); the
                        // repository's failure follows, as a listing's would.
                        in_flight.clear();
                        failed = Some(e);
                        break;
                    }
                }
            }
            while let (None, Stage::Activity, Some(w), true) = (&failed, cur.stage, window, items && info.has_issues) {
                ctx.cancellation().check()?;
                match walk.activity_page(&info, &activity, w, &mut cur, &ctx).await {
                    Ok(Some(batch)) => yield (batch, cur.clone()),
                    Ok(None) => break,
                    Err(e) => failed = Some(e),
                }
            }
            if cur.stage != Stage::Code {
                cur = code;
            }
            if let Some(e) = failed {
                yield (repo_failure(&id, &full_name, "issues and pull requests", None, e)?, cur.clone());
            }
            if walk.code && window.is_none_or(|w| !w.is_empty()) {
                // A resumed read reported the truncated folders before it stopped.
                let first = cur.after_path.is_none();
                let CodeFiles { files, mut truncated } = match walk.code_files(&info, &mut cur).await {
                    Ok(files) => files,
                    Err(e) => {
                        yield (repo_failure(&id, &full_name, "code files", walk.branch.as_deref(), e)?, cur);
                        return;
                    }
                };
                if !first {
                    truncated.clear();
                }
                for chunk in files.chunks(walk.client.per_page as usize) {
                    ctx.cancellation().check()?;
                    let mut batch = walk.files_batch(&info, chunk, &ctx).await?;
                    batch.failures.append(&mut truncated);
                    cur.after_path = chunk.last().map(|f| f.path.clone());
                    yield (batch, cur.clone());
                }
                if !truncated.is_empty() {
                    yield (Batch::with_parts(Vec::new(), truncated, Vec::new()), cur.clone());
                }
            }
        }
        .boxed()
    }

    /// `repo` as its items need it ([`info`](Self::info)), or the batch of its failure
    /// when that cannot be read (its collaborators' listing failed after the retries).
    async fn repo_info(&self, repo: Repo) -> Result<std::result::Result<Arc<RepoInfo>, Batch>> {
        let id = repo.html_url.trim_end_matches('/').to_owned();
        let full_name = repo.full_name.clone();
        match self.info(repo).await {
            Ok(info) => Ok(Ok(Arc::new(info))),
            Err(e) => Ok(Err(repo_failure(&id, &full_name, "items", None, e)?)),
        }
    }

    /// What changed in `info`'s issues and pull requests besides their `updated_at` on the
    /// issues endpoint: every pull request's own `updated_at` (down to the window's start),
    /// and in a window the comments and review comments written (created or edited) since
    /// its start.
    async fn activity(&self, info: &RepoInfo, window: Option<TimeWindow>) -> Result<Activity> {
        let mut activity = Activity::default();
        if !info.has_issues {
            return Ok(activity);
        }
        let since = window.map(|w| floor_second(w.start) - TimeDelta::seconds(1));
        if self.pulls {
            for pull in self
                .client
                .pulls_updated(&info.owner, &info.name, since)
                .await?
            {
                activity.note(pull.number, pull.updated_at);
            }
        }
        if let Some(since) = since {
            let kinds: &[&str] = if self.pulls {
                &["issues", "pulls"]
            } else {
                &["issues"]
            };
            for kind in kinds {
                for comment in self
                    .client
                    .comments_since(&info.owner, &info.name, kind, since)
                    .await?
                {
                    if let Some(number) = comment.number() {
                        activity.note(number, comment.updated_at);
                    }
                }
            }
        }
        Ok(activity)
    }

    /// The next page of the items whose change within `window` only `activity` shows (their
    /// `updated_at` on the issues endpoint is before the window, so its listing left them
    /// out), after `cur.after_number`; none when there are no more.
    async fn activity_page(
        &self,
        info: &Arc<RepoInfo>,
        activity: &Activity,
        window: TimeWindow,
        cur: &mut RepoCursor,
        ctx: &SyncContext,
    ) -> Result<Option<Batch>> {
        let numbers = activity.within(window, cur.after_number);
        if numbers.is_empty() {
            return Ok(None);
        }
        let mut pending = Vec::new();
        for &number in numbers.iter().take(self.client.per_page as usize) {
            cur.after_number = Some(number);
            let Some(value) = self.client.issue(&info.owner, &info.name, number).await? else {
                continue;
            };
            let issue = match serde_json::from_value::<Issue>(value) {
                Ok(issue) => issue,
                Err(e) => {
                    let id = format!("{}/issues/{number}", info.html_url);
                    let failure = Failure::new(
                        Some(id.clone()),
                        ErrorKind::InvalidData,
                        format!("{id} ({}#{number}) cannot be read: {e}", info.full_name),
                    );
                    pending.push(PendingItem::new(id, Pending::Failed(failure)));
                    continue;
                }
            };
            // Listed by the issues endpoint (in this window, or the next), moved away, or
            // not read.
            if issue.updated_at >= window.start
                || !issue.html_url.starts_with(&format!("{}/", info.html_url))
                || !self.wants(&issue)
            {
                continue;
            }
            let touched = activity.touched(&issue);
            pending.push(IssueItem::pending(issue, info, touched));
        }
        Ok(Some(self.fetch_page(ctx, pending).await?))
    }

    /// The URL of the page of issues and pull requests after `cur`.
    fn issues_url_for(
        &self,
        info: &RepoInfo,
        cur: &RepoCursor,
        window: Option<TimeWindow>,
    ) -> Result<Url> {
        if let Some(link) = cur.link.as_deref() {
            return Url::parse(link).map_err(|e| {
                Error::checkpoint(format!("the checkpoint's link is not a URL: {e}"))
            });
        }
        if !info.has_issues {
            return self.client.pulls_url(&info.owner, &info.name);
        }
        // `since` is to the second and said to be "after"; one second earlier loses nothing,
        // and the keyset drops what was read.
        let from = match (cur.since, window) {
            (Some(s), _) => Some(s),
            (None, Some(w)) => Some(w.start),
            (None, None) => None,
        }
        .map(|t| floor_second(t) - TimeDelta::seconds(1));
        self.client.issues_url(&info.owner, &info.name, from)
    }

    /// The items of a listed page to fetch, and the cursor after the page.
    fn sort_page(
        &self,
        info: &Arc<RepoInfo>,
        activity: &Activity,
        mut cur: RepoCursor,
        listed: Listed,
        next: Option<Url>,
        window: Option<TimeWindow>,
    ) -> (Vec<PendingItem<Pending>>, RepoCursor) {
        let (mut since, mut seen) = (cur.since, cur.seen.clone());
        // The entries read one by one as they are sorted (no second list of them).
        let entries: Box<
            dyn Iterator<Item = std::result::Result<Issue, Box<PendingItem<Pending>>>>,
        > = match listed {
            Listed::Issues(issues) => Box::new(issues.into_iter().map(Ok)),
            Listed::Values(values) => {
                Box::new(values.into_iter().map(move |value| read_issue(info, value)))
            }
        };
        let mut pending = Vec::with_capacity(entries.size_hint().0);
        let mut past_end = false;
        for entry in entries {
            let issue = match entry {
                Ok(issue) => issue,
                Err(failed) => {
                    pending.push(*failed);
                    continue;
                }
            };
            if window.is_some_and(|w| issue.updated_at >= w.end) {
                past_end = true;
                break;
            }
            if let Some(s) = cur.since
                && (issue.updated_at < s
                    || (issue.updated_at == s && cur.seen.contains(&issue.number)))
            {
                continue;
            }
            if since == Some(issue.updated_at) {
                seen.push(issue.number);
            } else if since.is_none_or(|s| issue.updated_at > s) {
                since = Some(issue.updated_at);
                seen.clear();
                seen.push(issue.number);
            }
            if window.is_some_and(|w| !w.contains(issue.updated_at)) || !self.wants(&issue) {
                continue;
            }
            let touched = activity.touched(&issue);
            pending.push(IssueItem::pending(issue, info, touched));
        }
        match next {
            Some(next) if !past_end => {
                // Time moved on: the next page is the next key. It did not (more than a page
                // in one second): the `Link` goes on past them.
                // `GET /pulls` (a repository without issues) has no `since`: always the `Link`.
                cur.link = (since == cur.since || !info.has_issues).then(|| next.to_string());
                cur.since = since;
                cur.seen = seen;
            }
            _ => {
                cur = RepoCursor {
                    repo: cur.repo,
                    stage: Stage::Activity,
                    ..RepoCursor::default()
                };
            }
        }
        (pending, cur)
    }

    /// The code files of the repository at the commit of `cur` (fixed on first use), sorted
    /// by path, after `cur.after_path`, through the path filter; and the folders whose
    /// listing GitHub cut short ([`Tree::truncated`]).
    async fn code_files(&self, info: &RepoInfo, cur: &mut RepoCursor) -> Result<CodeFiles> {
        let Some(branch) = info.branch.clone() else {
            return Ok(CodeFiles::default());
        };
        let commit = match cur.commit.clone() {
            Some(c) => c,
            None => match self
                .client
                .head_commit(&info.owner, &info.name, &branch)
                .await?
            {
                Some(c) => {
                    cur.commit = Some(c.clone());
                    c
                }
                None => return Ok(CodeFiles::default()),
            },
        };
        let Tree {
            mut entries,
            truncated,
        } = self.tree(info, &commit).await?;
        // A submodule (`commit`) is another repository's commit, a symbolic link's blob (mode
        // `120000`) only the path it points to: neither is a file of this repository to read.
        let submodules = entries.iter().filter(|e| e.kind == "commit").count();
        let symlinks = entries
            .iter()
            .filter(|e| e.kind == "blob" && e.mode.as_deref() == Some("120000"))
            .count();
        if submodules + symlinks > 0 {
            tracing::debug!(connector = SOURCE, repo = %info.full_name, submodules, symlinks, "submodules and symbolic links are left out");
        }
        entries.retain(|e| {
            e.kind == "blob" && e.mode.as_deref() != Some("120000") && self.filter.matches(&e.path)
        });
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(after) = &cur.after_path {
            entries.retain(|e| e.path.as_str() > after.as_str());
        }
        let files = entries
            .into_iter()
            .map(|e| CodeFile {
                path: e.path,
                sha: e.sha,
                size: e.size,
                branch: branch.clone(),
                commit: commit.clone(),
            })
            .collect();
        // A folder the filter leaves out (it, or a folder above it, matches an `exclude`
        // glob) misses nothing that would have been read.
        let excluded = |path: &str| {
            path.match_indices('/')
                .map(|(i, _)| &path[..i])
                .chain(std::iter::once(path))
                .any(|p| !p.is_empty() && self.filter.is_excluded(p))
        };
        let truncated = truncated
            .into_iter()
            .filter(|(path, _)| !excluded(path))
            .map(|(path, listed)| truncated_folder(info, &branch, &path, listed))
            .collect();
        Ok(CodeFiles { files, truncated })
    }

    /// Every entry below the tree `sha`, paths from the repository's root: one recursive
    /// request, or, when GitHub truncates it (over 100,000 entries or 7 MB), level by level,
    /// each subtree again recursively first. A single folder that is truncated even alone is
    /// in [`Tree::truncated`]: nothing in the API lists the rest of it.
    async fn tree(&self, info: &RepoInfo, sha: &str) -> Result<Tree> {
        let mut out = Tree::default();
        let mut stack = vec![(String::new(), sha.to_owned(), true)];
        while let Some((prefix, sha, recursive)) = stack.pop() {
            let tree = self
                .client
                .tree(&info.owner, &info.name, &sha, recursive)
                .await?;
            if recursive && tree.truncated {
                tracing::info!(connector = SOURCE, repo = %info.full_name, path = %prefix, "the tree is truncated; reading it level by level");
                stack.push((prefix, sha, false));
                continue;
            }
            if tree.truncated {
                tracing::warn!(connector = SOURCE, repo = %info.full_name, path = %prefix, listed = tree.tree.len(), "a folder has more entries than GitHub lists; the files past its listing are not read");
                out.truncated.push((prefix.clone(), tree.tree.len()));
            }
            for mut entry in tree.tree {
                if !prefix.is_empty() {
                    entry.path = format!("{prefix}/{}", entry.path);
                }
                if !recursive && entry.kind == "tree" {
                    stack.push((entry.path.clone(), entry.sha.clone(), true));
                }
                out.entries.push(entry);
            }
        }
        Ok(out)
    }

    /// The batch of these code files: unchanged ones (by blob SHA) not downloaded.
    async fn files_batch(
        &self,
        info: &Arc<RepoInfo>,
        files: &[CodeFile],
        ctx: &SyncContext,
    ) -> Result<Batch> {
        let pending: Vec<PendingItem<Pending>> = files
            .iter()
            .map(|f| {
                let id = info.file_id(&f.branch, &f.path);
                if f.size.is_some_and(|s| s > self.max) {
                    let failure = too_large(info, f, self.max);
                    return PendingItem::new(id, Pending::Failed(failure));
                }
                PendingItem::new(id, Pending::File(f.clone(), Arc::clone(info)))
                    .with_version(&file_version(info, &f.sha))
            })
            .collect();
        self.fetch_page(ctx, pending).await
    }

    /// The batch of a page's items. Every item's fetch runs at once and at most
    /// [`CONCURRENCY`] of them send requests at a time: an item that needs none (an issue
    /// without comments) is converted at once and holds no request slot, so the requests of
    /// the items after it need not wait for the ones before (core's `fetch_items` counts an
    /// item done but not yet handed on as in flight, which let one comment request at a time
    /// run on a page of issues that mostly have none).
    async fn fetch_page(
        &self,
        ctx: &SyncContext,
        pending: Vec<PendingItem<Pending>>,
    ) -> Result<Batch> {
        // Shared, not cloned per item (the walk holds the scopes and the client's URL).
        let gate = Arc::new(Semaphore::new(CONCURRENCY));
        Arc::new(self.clone())
            .fetch_page_in(ctx.clone(), pending, gate)
            .await
    }

    /// [`fetch_page`](Self::fetch_page) with the request slots of `gate` (shared by the
    /// pages in flight), owning what it needs (run in a task of its own).
    async fn fetch_page_in(
        self: Arc<Self>,
        ctx: SyncContext,
        pending: Vec<PendingItem<Pending>>,
        gate: Arc<Semaphore>,
    ) -> Result<Batch> {
        let all = pending.len().max(1);
        let walk = self;
        fetch_items(&ctx, pending, all, move |item| match item {
            // Nothing to ask: converted as it is taken, its future a ready outcome (no state
            // of a fetch to store and move, no slot, no poll of its own).
            Pending::Failed(f) => Either::Left(future::ready(Ok(Some(f.into())))),
            Pending::Issue(listed) if !listed.needs_requests() => Either::Left(future::ready(Ok(
                Some(listed.document(&IssueParts::default())),
            ))),
            item => Either::Right(Arc::clone(&walk).fetch(item, Arc::clone(&gate)).boxed()),
        })
        .await
    }

    /// One item's outcome: an issue with its comments, a downloaded file, or its failure.
    /// Its requests wait for a slot of `gate`.
    async fn fetch(
        self: Arc<Self>,
        item: Pending,
        gate: Arc<Semaphore>,
    ) -> Result<Option<Outcome>> {
        match item {
            Pending::Failed(f) => Ok(Some(f.into())),
            Pending::Issue(listed) => {
                let parts = self
                    .issue_parts(&listed.issue, &listed.info, listed.wants_comments(), &gate)
                    .await?;
                Ok(Some(listed.document(&parts)))
            }
            Pending::File(file, info) => self.file(file, info, &gate).await,
        }
    }

    /// The comments (when `wants_comments`), reviews and review comments of `issue`, within
    /// one slot of `gate`.
    async fn issue_parts(
        &self,
        issue: &Issue,
        info: &RepoInfo,
        wants_comments: bool,
        gate: &Semaphore,
    ) -> Result<IssueParts> {
        let _held = slot(gate).await?;
        let comments = async {
            if wants_comments {
                self.client
                    .issue_comments(&info.owner, &info.name, issue.number)
                    .await
            } else {
                Ok(Vec::new())
            }
        };
        let reviews = async {
            if issue.is_pull_request() {
                self.client
                    .reviews(&info.owner, &info.name, issue.number)
                    .await
            } else {
                Ok(Vec::new())
            }
        };
        let (mut comments, mut reviews) = futures::try_join!(comments, reviews)?;
        // A review comment is made during a review: none without a review.
        let mut review_comments = if reviews.is_empty() {
            Vec::new()
        } else {
            self.client
                .review_comments(&info.owner, &info.name, issue.number)
                .await?
        };
        if !self.bots {
            let human = |user: &Option<super::model::User>| {
                !user.as_ref().is_some_and(super::model::User::is_bot)
            };
            comments.retain(|c| human(&c.user));
            reviews.retain(|r| human(&r.user));
            review_comments.retain(|c| human(&c.user));
        }
        Ok(IssueParts {
            comments,
            reviews,
            review_comments,
        })
    }

    /// A code file downloaded (within a slot of `gate`), or its failure.
    async fn file(
        &self,
        file: CodeFile,
        info: Arc<RepoInfo>,
        gate: &Semaphore,
    ) -> Result<Option<Outcome>> {
        let held = slot(gate).await?;
        let data = self
            .client
            .blob(&info.owner, &info.name, &file.sha, self.max)
            .await;
        drop(held);
        match data {
            Ok(data) => Ok(Some(file_document(&info, &file, data))),
            Err(e) if is_body_too_large(&e) => Ok(Some(too_large(&info, &file, self.max).into())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every document id in scope; fails, rather than come back short, when a page cannot be
    /// listed.
    pub(super) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            for scope in walk.scopes.clone() {
                for repo in walk.repos(&scope).await? {
                    let info = walk.info(repo).await?;
                    if walk.pulls || (walk.issues && info.has_issues) {
                        let mut url = Some(if info.has_issues {
                            walk.client.issues_url(&info.owner, &info.name, None)?
                        } else {
                            walk.client.pulls_url(&info.owner, &info.name)?
                        });
                        while let Some(at) = url.take() {
                            ctx.cancellation().check()?;
                            let (values, next) = walk.client.page(at).await?;
                            let ids: Vec<SlimDocument> = values
                                .iter()
                                .filter(|v| if !info.has_issues || v.get("pull_request").is_some_and(|p| !p.is_null()) { walk.pulls } else { walk.issues })
                                .filter_map(|v| v.get("html_url").and_then(Value::as_str))
                                .map(SlimDocument::new)
                                .collect();
                            if !ids.is_empty() {
                                yield ids;
                            }
                            url = next;
                        }
                    }
                    if walk.code {
                        let mut cur = RepoCursor::default();
                        let CodeFiles { files, truncated } = walk.code_files(&info, &mut cur).await?;
                        // The complete set or an error: files past a truncated folder's
                        // listing exist and would be pruned.
                        if let Some(failure) = truncated.into_iter().next() {
                            Err(Error::new(ErrorKind::Unsupported, failure.message).with_connector(SOURCE))?;
                        }
                        for chunk in files.chunks(1000) {
                            yield chunk.iter().map(|f| SlimDocument::new(info.file_id(&f.branch, &f.path))).collect();
                        }
                    }
                }
            }
        }
        .boxed()
    }

    /// The items with these document ids again; an id that is not of a repository in scope,
    /// or an item that is gone, yields nothing.
    pub(super) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let mut repos: HashMap<String, Option<Arc<RepoInfo>>> = HashMap::new();
            let mut heads: HashMap<String, Option<String>> = HashMap::new();
            // The names the configured repositories have now (asked once, when an id names
            // none of them: one renamed or transferred since the config was written).
            let mut renamed: Option<Vec<String>> = None;
            for chunk in ids.chunks(100) {
                let mut pending = Vec::new();
                // Repositories whose walk failed: walked again whole (unchanged items by
                // their fingerprint), or their failure again.
                let mut whole: Vec<String> = Vec::new();
                for id in chunk {
                    let Some(target) = parse_id(id) else { continue };
                    let (owner, name) = (target.owner(), target.name());
                    if !walk.in_scope(owner, name) {
                        if renamed.is_none() {
                            renamed = Some(walk.current_names().await?);
                        }
                        let full = format!("{owner}/{name}");
                        if !renamed.iter().flatten().any(|n| n.eq_ignore_ascii_case(&full)) {
                            continue;
                        }
                    }
                    if let Target::Repo { .. } = target {
                        whole.push(id.clone());
                        continue;
                    }
                    let key = format!("{owner}/{name}").to_lowercase();
                    if !repos.contains_key(&key) {
                        let info = match walk.client.repo(owner, name).await {
                            Ok(repo) => Some(Arc::new(walk.info(repo).await?)),
                            Err(e) if e.kind() == ErrorKind::NotFound => None,
                            Err(e) => Err(e)?,
                        };
                        repos.insert(key.clone(), info);
                    }
                    let Some(Some(info)) = repos.get(&key).cloned() else { continue };
                    match target {
                        Target::Repo { .. } => {}
                        Target::Issue { number, .. } => {
                            if !(walk.issues || walk.pulls) { continue; }
                            let value = if info.has_issues {
                                walk.client.issue(&info.owner, &info.name, number).await?
                            } else {
                                walk.client.pull(&info.owner, &info.name, number).await?
                            };
                            let Some(value) = value else { continue };
                            match serde_json::from_value::<Issue>(value) {
                                Ok(issue) if issue.html_url == *id && walk.wants(&issue) => {
                                    let touched = issue.updated_at;
                                    // Asked again whatever its version: no fingerprint to skip it by.
                                    let version = issue_version(&info, &issue, touched);
                                    pending.push(PendingItem::new(id.clone(), Pending::Issue(Box::new(IssueItem { issue, info: Arc::clone(&info), touched, version }))));
                                }
                                Ok(_) => {}
                                Err(e) => pending.push(PendingItem::new(id.clone(), Pending::Failed(Failure::new(Some(id.clone()), ErrorKind::InvalidData, format!("the item cannot be read: {e}"))))),
                            }
                        }
                        Target::Blob { rest, .. } => {
                            if !walk.code { continue; }
                            let Some(branch) = info.branch.clone() else { continue };
                            let Some(path) = rest.strip_prefix(&format!("{branch}/")) else { continue };
                            if !walk.filter.matches(path) { continue; }
                            if !heads.contains_key(&key) {
                                let head = walk.client.head_commit(&info.owner, &info.name, &branch).await?;
                                heads.insert(key.clone(), head);
                            }
                            let Some(Some(commit)) = heads.get(&key).cloned() else { continue };
                            let Some(content) = walk.client.content(&info.owner, &info.name, path, &commit).await? else { continue };
                            let file = CodeFile { path: path.to_owned(), sha: content.sha, size: Some(content.size), branch, commit };
                            if content.size > walk.max {
                                let failure = too_large(&info, &file, walk.max);
                                pending.push(PendingItem::new(id.clone(), Pending::Failed(failure)));
                            } else {
                                pending.push(PendingItem::new(id.clone(), Pending::File(file, Arc::clone(&info))));
                            }
                        }
                    }
                }
                let batch = walk.fetch_page(&ctx, pending).await?;
                if !batch.is_empty() {
                    yield batch;
                }
                for id in whole {
                    let Some(target) = parse_id(&id) else { continue };
                    match walk.client.repo(target.owner(), target.name()).await {
                        Ok(repo) => {
                            let cur = RepoCursor { repo: repo.full_name.clone(), ..RepoCursor::default() };
                            let info = match walk.repo_info(repo).await? {
                                Ok(info) => info,
                                Err(failure) => {
                                    yield failure;
                                    continue;
                                }
                            };
                            let mut pages = walk.repo_pages(info, cur, None, ctx.clone());
                            while let Some(page) = pages.next().await {
                                let (batch, _) = page?;
                                if !batch.is_empty() {
                                    yield batch;
                                }
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::NotFound => {}
                        Err(e) => {
                            let failure = item_failure(id.clone(), e)?;
                            yield Batch::with_parts(Vec::new(), vec![failure], Vec::new());
                        }
                    }
                }
            }
        }
        .boxed()
    }

    /// The full names the configured repositories have now, where that is not the name
    /// configured: GitHub answers a renamed or transferred repository's old name with a `301`
    /// to its address by id (followed), whose answer names it now, as its items' ids do.
    async fn current_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for scope in &self.scopes {
            let Scope::Repo { owner, name } = scope else {
                continue;
            };
            match self.client.repo(owner, name).await {
                Ok(repo) if !repo.full_name.eq_ignore_ascii_case(&scope.key()) => {
                    names.push(repo.full_name);
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(names)
    }

    /// Whether `owner/name` is one of the configured scopes.
    fn in_scope(&self, owner: &str, name: &str) -> bool {
        self.scopes.iter().any(|s| match s {
            Scope::Repo { owner: o, name: n } => {
                o.eq_ignore_ascii_case(owner) && n.eq_ignore_ascii_case(name)
            }
            Scope::Owner(o) => o.eq_ignore_ascii_case(owner),
        })
    }
}

/// A listed entry read as an issue, or the failure that names it (by its web URL, else by the
/// repository's and its number).
fn read_issue(
    info: &RepoInfo,
    value: Value,
) -> std::result::Result<Issue, Box<PendingItem<Pending>>> {
    let number = value.get("number").and_then(Value::as_u64);
    let id = value
        .get("html_url")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| number.map(|n| format!("{}/issues/{n}", info.html_url)));
    serde_json::from_value::<Issue>(value).map_err(|e| {
        let failure = Failure::new(
            id.clone(),
            ErrorKind::InvalidData,
            format!(
                "{} ({}#{}) cannot be read: {e}",
                id.as_deref().unwrap_or("an item without html_url"),
                info.full_name,
                number.map_or_else(|| "?".to_owned(), |n| n.to_string())
            ),
        );
        Box::new(PendingItem::new(
            id.unwrap_or_default(),
            Pending::Failed(failure),
        ))
    })
}

/// What a document id (a web URL) names.
enum Target<'a> {
    /// A repository: the id of its failure (see [`Walk::repo_pages`]).
    Repo { owner: &'a str, name: &'a str },
    Issue {
        owner: &'a str,
        name: &'a str,
        number: u64,
    },
    Blob {
        owner: &'a str,
        name: &'a str,
        rest: String,
    },
}

impl Target<'_> {
    fn owner(&self) -> &str {
        match self {
            Self::Repo { owner, .. } | Self::Issue { owner, .. } | Self::Blob { owner, .. } => {
                owner
            }
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Repo { name, .. } | Self::Issue { name, .. } | Self::Blob { name, .. } => name,
        }
    }
}

/// `https://HOST/{owner}/{name}`, `…/issues/{n}`, `…/pull/{n}` or `…/blob/{branch}/{path}`.
fn parse_id(id: &str) -> Option<Target<'_>> {
    let rest = id.split_once("://")?.1;
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    let (owner, name) = (*segments.first()?, *segments.get(1)?);
    if segments.len() == 2 && !owner.is_empty() && !name.is_empty() {
        return Some(Target::Repo { owner, name });
    }
    let kind = *segments.get(2)?;
    match kind {
        "issues" | "pull" if segments.len() == 4 => Some(Target::Issue {
            owner,
            name,
            number: segments[3].parse().ok()?,
        }),
        "blob" if segments.len() > 4 => Some(Target::Blob {
            owner,
            name,
            rest: segments[3..].join("/"),
        }),
        _ => None,
    }
}

/// The batch of one repository's failure, naming it, what of it was not read, and the field
/// to look at; `Err(e)` when `e` ends the sync.
fn repo_failure(
    id: &str,
    full_name: &str,
    what: &str,
    branch: Option<&str>,
    e: Error,
) -> Result<Batch> {
    let kind = e.kind();
    let mut failure = item_failure(id, e)?;
    let hint = match (kind, branch) {
        (ErrorKind::NotFound | ErrorKind::InvalidData, Some(branch)) => format!(
            " (branch `{branch}`, field `branch`, may not exist in it; leave `branch` empty to read each repository's default branch)"
        ),
        (ErrorKind::PermissionDenied | ErrorKind::NotFound, _) => {
            " (the token, field `credentials.github_access_token`, may lack access to it)"
                .to_owned()
        }
        _ => String::new(),
    };
    failure.message = format!(
        "repository {full_name}: its {what} were not read{hint}; the other repositories go on: {}",
        failure.message
    );
    if let Ok(link) = Url::parse(id) {
        failure = failure.with_link(link);
    }
    Ok(Batch::with_parts(Vec::new(), vec![failure], Vec::new()))
}

/// A request slot of `gate` (never closed).
async fn slot(gate: &Semaphore) -> Result<tokio::sync::SemaphorePermit<'_>> {
    gate.acquire()
        .await
        .map_err(|e| Error::internal("the request slots closed").with_cause(e))
}

fn floor_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// A repository's entries from the tree API, and the folders GitHub cut short even alone
/// (path from the root, `""` for the root; how many entries it listed).
#[derive(Debug, Default)]
struct Tree {
    entries: Vec<TreeEntry>,
    truncated: Vec<(String, usize)>,
}

/// The code files to read, and a failure for each folder whose listing GitHub cut short.
#[derive(Debug, Default)]
struct CodeFiles {
    files: Vec<CodeFile>,
    truncated: Vec<Failure>,
}

/// The failure of a folder the tree API lists only in part (over 100,000 entries or 7 MB in
/// that one folder): the files past its listing are not read, and no request reads them.
/// `Unsupported`: a later run cannot repair it, so it does not hold incremental windows back;
/// it stays reported while the folder is that large. Its id is the folder's web URL.
fn truncated_folder(info: &RepoInfo, branch: &str, path: &str, listed: usize) -> Failure {
    let id = if path.is_empty() {
        format!("{}/tree/{branch}", info.html_url)
    } else {
        format!("{}/tree/{branch}/{path}", info.html_url)
    };
    let folder = if path.is_empty() { "/" } else { path };
    let message = format!(
        "repository {}: the folder `{folder}` has more entries than GitHub's tree API lists \
         (100,000 entries or 7 MB); the files past the {listed} entries listed were not read \
         (leave the folder out with exclude_paths, or split it)",
        info.full_name
    );
    Failure::new(Some(id), ErrorKind::Unsupported, message)
}

fn too_large(info: &RepoInfo, file: &CodeFile, max: u64) -> Failure {
    file_failure(
        info,
        file,
        ErrorKind::Unsupported,
        format!(
            "the file is {} bytes, larger than max_file_size ({max} bytes); raise max_file_size or leave it out with exclude_paths",
            file.size.unwrap_or_default()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse() {
        match parse_id("https://github.com/acme/api/issues/12") {
            Some(Target::Issue {
                owner,
                name,
                number,
            }) => {
                assert_eq!((owner, name, number), ("acme", "api", 12));
            }
            _ => panic!("an issue"),
        }
        match parse_id("https://ghe.example.com/acme/api/pull/3") {
            Some(Target::Issue { number, .. }) => assert_eq!(number, 3),
            _ => panic!("a pull request"),
        }
        match parse_id("https://github.com/acme/api/blob/main/src/issues/1") {
            Some(Target::Blob { owner, name, rest }) => {
                assert_eq!(
                    (owner, name, rest.as_str()),
                    ("acme", "api", "main/src/issues/1")
                );
            }
            _ => panic!("a blob"),
        }
        assert!(parse_id("https://github.com/acme").is_none());
    }
}
