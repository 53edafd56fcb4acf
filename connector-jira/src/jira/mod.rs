//! The Jira connector (source `"jira"`): issues of Jira Cloud and Server/Data Center as
//! Markdown documents, and optionally their attachments as documents of their own.
//!
//! - **Search**: Cloud `POST /rest/api/3/search/jql` paged by `nextPageToken`; Server/Data
//!   Center `GET /rest/api/2/search` paged by `startAt`. Pages of up to 100 issues, whatever
//!   the host's batch size, with the fields the documents show and nothing else.
//! - **JQL**: `jql_query`, `project_key` and `labels_to_skip` combined, ordered by key. JQL
//!   dates have minute precision in the user's time zone (from `/myself`, else
//!   `timezone_offset`), so a window's start is widened to the minute before it and issues are
//!   filtered exactly on `fields.updated` within the half-open window. The end is left open
//!   in the query (see [`JiraCheckpoint`] for why) and applied by the filter.
//! - **Errors**: a query Jira rejects (400 with `errorMessages`) ends the sync with an error
//!   that passes Jira's messages on, never as an empty result. 401/403 end it at once naming
//!   the credential field. One malformed issue, or an attachment that cannot be downloaded,
//!   becomes a [`Failure`] and the sync goes on.
//! - **Documents**: id `{base_url}/browse/{KEY}`, title `KEY: summary`, `updated_at` =
//!   `fields.updated`, Markdown with a front matter of key, url, summary, status, priority,
//!   issue type, project, reporter, assignee, labels, components, fix versions, created and
//!   updated (the same fields are the metadata), the description (ADF or wiki markup as
//!   Markdown), the comments (all of them, paged past the embedded ones, minus
//!   `comment_email_blacklist`), linked issues and the attachment list. Owners are the
//!   reporter and the assignee.
//! - **Attachments** (`include_attachments`): id `{KEY}::attachment::{id}`, `parent_id` = the
//!   issue's id, bytes for the host's parser; larger than `attachment_size_limit` is not
//!   downloaded (the size is known before). Their ids are part of `list_ids`, so prune keeps
//!   them.
//! - **Fingerprints**: from `fields.updated` (and the attachment id and size). In incremental
//!   runs an unchanged issue is reported unchanged without fetching its further comments.
//!
//! # Cancel safety
//! Streams own a clone of the client; dropping one at any `.await` loses only the page in
//! flight, and the connector commits nothing itself.

mod adf;
mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod wiki;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::{Page, PageLimit, paginate};
use connector_core::ids::hash128;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Document, Error, ErrorKind,
    Failure, NoFingerprints, RefetchConnector, Result, Roles, SlimConnector, SlimDocument,
    SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use url::Url;

pub use checkpoint::JiraCheckpoint;
pub use config::{
    DEFAULT_API_GATEWAY, DEFAULT_ATTACHMENT_SIZE_LIMIT, JiraConfig, JiraCredentials, MAX_PAGE_SIZE,
};
/// The type of the config's list fields (an array or a comma-separated string), re-exported so
/// `connector_jira::jira::StringList` keeps naming it.
pub use connector_core::StringList;

use checkpoint::Cursor;
use client::JiraClient;
use convert::{Options, attachment_id, issue_id, parse_time};
use model::{Attachment, Comment, ISSUE_FIELDS, Issue};

/// The registry key of the Jira connector.
pub const SOURCE: &str = "jira";

/// Issues of a page converted at the same time (each may page its comments or download
/// attachments).
const ISSUE_CONCURRENCY: usize = 4;

/// Jira Cloud or Server/Data Center. Built from a [`JiraConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_jira::{JiraConfig, JiraConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let url = url::Url::parse("https://example.atlassian.net").expect("a URL");
/// let config = JiraConfig::new(url)
///     .with_project("ENG")
///     .with_token(Some("me@example.com"), "api-token");
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(JiraConnector::new(config)?)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
pub struct JiraConnector {
    client: JiraClient,
    options: Arc<Options>,
}

impl JiraConnector {
    /// A connector over `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the config is invalid (see
    /// [`ConnectorConfig::validate`](connector_core::ConnectorConfig::validate));
    /// [`ErrorKind::Internal`] when the HTTP client cannot start.
    pub fn new(config: JiraConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let options = Options {
            site: config.site(),
            include_comments: config.include_comments,
            blacklist: config
                .comment_email_blacklist
                .as_slice()
                .iter()
                .map(|e| e.to_lowercase())
                .collect(),
            attachment_limit: config.attachment_size_limit(),
            include_attachments: config.include_attachments,
        };
        Ok(Self {
            client: JiraClient::new(Arc::new(config))?,
            options: Arc::new(options),
        })
    }

    /// The config.
    pub fn config(&self) -> &JiraConfig {
        self.client.config()
    }

    fn search_fields(&self) -> Vec<&'static str> {
        let mut fields = ISSUE_FIELDS.to_vec();
        fields.push("attachment");
        if self.options.include_comments {
            fields.push("comment");
        }
        fields
    }

    fn pages(
        &self,
        from: JiraCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<JiraCheckpoint>>> {
        let client = self.client.with_context(&ctx);
        let options = Arc::clone(&self.options);
        let fields = self.search_fields();
        let page_size = client.config().page_size();
        async_stream::try_stream! {
            let jql = client.jql(window).await?;
            let query = hash128(&jql);
            if let Some(start) = from.cursor_for(&query, window) {
                let search = client.clone();
                let mut pages = paginate(start, PageLimit::unbounded(), move |cursor| {
                    let search = search.clone();
                    let jql = jql.clone();
                    let fields = fields.clone();
                    async move { search.search(&jql, cursor, &fields, page_size).await }
                });
                while let Some(page) = pages.next().await {
                    if ctx.is_cancelled() {
                        break;
                    }
                    let page: Page<Vec<Value>, Cursor> = page?;
                    let batch = convert_page(&client, page.items, window, &ctx, &options, None).await?;
                    let checkpoint = JiraCheckpoint::after(&query, window, page.next.as_ref());
                    yield CheckpointedBatch::new(batch, checkpoint);
                }
            }
        }
        .boxed()
    }
}

/// One converted item of a page.
enum Item {
    Doc(Box<Document>),
    Fail(Failure),
    Unchanged(String),
}

/// Whether an error stops the sync rather than failing one item.
fn is_fatal(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Unauthenticated
            | ErrorKind::PermissionDenied
            | ErrorKind::RateLimited
            | ErrorKind::Cancelled
            | ErrorKind::Config
    )
}

fn has_skipped_label(labels: &[String], skip: &[String]) -> bool {
    labels
        .iter()
        .any(|l| skip.iter().any(|s| s.eq_ignore_ascii_case(l)))
}

/// The attachments of `issue` that become documents.
fn eligible<'a>(issue: &'a Issue, options: &'a Options) -> impl Iterator<Item = &'a Attachment> {
    issue.fields.attachment.iter().filter(move |a| {
        options.include_attachments && a.size <= options.attachment_limit && a.content.is_some()
    })
}

/// A search page's issues as documents, failures and unchanged ids. `only` keeps just these
/// ids (refetch).
async fn convert_page(
    client: &JiraClient,
    issues: Vec<Value>,
    window: Option<TimeWindow>,
    ctx: &SyncContext,
    options: &Arc<Options>,
    only: Option<&HashSet<String>>,
) -> Result<Batch> {
    let skip = client.config().labels_to_skip.as_slice();
    let mut parsed = Vec::with_capacity(issues.len());
    let mut batch = Batch::default();
    for raw in issues {
        let key = raw.get("key").and_then(Value::as_str).map(str::to_owned);
        let id = key.as_deref().map(|k| issue_id(&options.site, k));
        let issue: Issue = match serde_json::from_value(raw) {
            Ok(i) => i,
            Err(e) => {
                let name = id
                    .clone()
                    .unwrap_or_else(|| "an issue without a key".to_owned());
                batch.failures.push(malformed(
                    id,
                    format!("Jira issue `{name}` is malformed: {e}"),
                ));
                continue;
            }
        };
        let Some(updated) = parse_time(&issue.fields.updated) else {
            let id = issue_id(&options.site, &issue.key);
            let msg = format!(
                "Jira issue `{id}` has an unreadable `updated` time {:?}",
                issue.fields.updated
            );
            batch.failures.push(malformed(Some(id), msg));
            continue;
        };
        if has_skipped_label(&issue.fields.labels, skip) {
            continue;
        }
        // JQL has minute precision: the exact, half-open window is applied here.
        if window.is_some_and(|w| !w.contains(updated)) {
            continue;
        }
        parsed.push((issue, updated));
    }

    let mut ids = Vec::new();
    for (issue, _) in &parsed {
        ids.push(issue_id(&options.site, &issue.key));
        ids.extend(eligible(issue, options).map(|a| attachment_id(&issue.key, &a.id)));
    }
    let known = if ids.is_empty() {
        HashMap::new()
    } else {
        ctx.fingerprints().fingerprints(&ids).await?
    };
    let known = Arc::new(known);

    let results: Vec<Result<Vec<Item>>> = futures::stream::iter(parsed)
        .map(|(issue, updated)| {
            let known = Arc::clone(&known);
            async move { convert_issue(client, issue, updated, options, &known, only).await }
        })
        .buffered(ISSUE_CONCURRENCY)
        .collect()
        .await;
    for items in results {
        for item in items? {
            match item {
                Item::Doc(d) => batch.documents.push(*d),
                Item::Fail(f) => batch.failures.push(f),
                Item::Unchanged(id) => batch.unchanged.push(id),
            }
        }
    }
    Ok(batch)
}

fn malformed(id: Option<String>, message: String) -> Failure {
    let link = id.as_deref().and_then(|i| Url::parse(i).ok());
    let failure = Failure::new(id, ErrorKind::InvalidData, message);
    match link {
        Some(l) => failure.with_link(l),
        None => failure,
    }
}

fn item_failure(id: String, e: &Error) -> Failure {
    let mut f = Failure::from_error(Some(id.clone()), e);
    if !f.message.contains(&id) {
        f.message = format!("{id}: {}", f.message);
    }
    f
}

async fn convert_issue(
    client: &JiraClient,
    issue: Issue,
    updated: chrono::DateTime<chrono::Utc>,
    options: &Options,
    known: &HashMap<String, String>,
    only: Option<&HashSet<String>>,
) -> Result<Vec<Item>> {
    let wanted = |id: &str| only.is_none_or(|o| o.contains(id));
    let mut items = Vec::new();
    let id = issue_id(&options.site, &issue.key);
    if wanted(&id) {
        let version = convert::issue_version(&issue.fields.updated, options);
        if known.get(&id) == Some(&Document::version_fingerprint(&version)) {
            items.push(Item::Unchanged(id.clone()));
        } else {
            match all_comments(client, &issue, options).await {
                Ok(comments) => items.push(Item::Doc(Box::new(convert::issue_document(
                    &issue, &comments, updated, options,
                )))),
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => items.push(Item::Fail(item_failure(id.clone(), &e))),
            }
        }
    }
    for a in eligible(&issue, options) {
        let aid = attachment_id(&issue.key, &a.id);
        if !wanted(&aid) {
            continue;
        }
        let version = convert::attachment_version(a);
        if known.get(&aid) == Some(&Document::version_fingerprint(&version)) {
            items.push(Item::Unchanged(aid));
            continue;
        }
        let url = a.content.as_deref().unwrap_or_default();
        match client.download(url, options.attachment_limit).await {
            Ok(data) => items.push(Item::Doc(Box::new(convert::attachment_document(
                &issue, a, data, options,
            )))),
            Err(e) if is_fatal(&e) => return Err(e),
            Err(e) => items.push(Item::Fail(item_failure(aid, &e))),
        }
    }
    Ok(items)
}

/// The embedded comments and, when Jira embedded only the first of them, the rest, paged.
async fn all_comments(
    client: &JiraClient,
    issue: &Issue,
    options: &Options,
) -> Result<Vec<Comment>> {
    if !options.include_comments {
        return Ok(Vec::new());
    }
    let Some(embedded) = &issue.fields.comment else {
        return Ok(Vec::new());
    };
    let mut comments = embedded.comments.clone();
    let total = embedded.total.unwrap_or(0);
    if (comments.len() as u64) < total {
        let from = embedded.start_at.unwrap_or(0) + comments.len() as u64;
        let key = issue.key.clone();
        let c = client.clone();
        let mut rest = paginate(from, PageLimit::fail_after(10_000), move |start| {
            let c = c.clone();
            let key = key.clone();
            async move { c.comments(&key, start).await }
        });
        while let Some(page) = rest.try_next().await? {
            comments.extend(page.items.comments);
        }
    }
    Ok(comments)
}

impl fmt::Debug for JiraConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraConnector")
            .field("config", self.client.config())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for JiraConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "jira:{}", self.options.site)?;
        if let Some(key) = &self.client.config().project_key {
            write!(f, " project {key}")?;
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for JiraConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Checks, in order: the credentials (`/myself`), the project (`/project/{key}`), and the
    /// query (a one-issue search). Each failure says which, with Jira's own messages.
    async fn check(&self) -> Result<()> {
        self.client.myself().await?;
        if let Some(key) = &self.client.config().project_key {
            self.client.project(key.trim()).await?;
        }
        let jql = self.client.jql(None).await?;
        self.client.search(&jql, Cursor::Start, &["id"], 1).await?;
        Ok(())
    }
}

impl CheckpointedConnector for JiraConnector {
    type Checkpoint = JiraCheckpoint;

    fn initial_checkpoint(&self) -> JiraCheckpoint {
        JiraCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: JiraCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<JiraCheckpoint>>> {
        self.pages(from, window, ctx)
    }
}

impl SlimConnector for JiraConnector {
    /// Every issue the query finds (labels to skip left out) and, with `include_attachments`,
    /// every attachment within the size limit: the ids a full load yields.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let client = self.client.with_context(&ctx);
        let options = Arc::clone(&self.options);
        let page_size = client.config().page_size();
        async_stream::try_stream! {
            let jql = client.jql(None).await?;
            let search = client.clone();
            let mut pages = paginate(Cursor::Start, PageLimit::unbounded(), move |cursor| {
                let search = search.clone();
                let jql = jql.clone();
                async move { search.search(&jql, cursor, &["labels", "attachment"], page_size).await }
            });
            let skip = client.config().labels_to_skip.as_slice().to_vec();
            while let Some(page) = pages.next().await {
                let page = page?;
                let mut ids = Vec::with_capacity(page.items.len());
                for raw in &page.items {
                    let Some(key) = raw.get("key").and_then(Value::as_str) else { continue };
                    let fields = raw.get("fields");
                    let labels: Vec<String> = fields
                        .and_then(|f| f.get("labels"))
                        .and_then(|l| serde_json::from_value(l.clone()).ok())
                        .unwrap_or_default();
                    if has_skipped_label(&labels, &skip) {
                        continue;
                    }
                    ids.push(SlimDocument::new(issue_id(&options.site, key)));
                    if !options.include_attachments {
                        continue;
                    }
                    let attachments: Vec<Attachment> = fields
                        .and_then(|f| f.get("attachment"))
                        .and_then(|a| serde_json::from_value(a.clone()).ok())
                        .unwrap_or_default();
                    for a in attachments {
                        if a.size <= options.attachment_limit && a.content.is_some() {
                            ids.push(SlimDocument::new(attachment_id(key, &a.id)));
                        }
                    }
                }
                yield ids;
            }
        }
        .boxed()
    }
}

impl RefetchConnector for JiraConnector {
    /// Fetches each issue named by an id (`{base_url}/browse/KEY` or `KEY::attachment::ID`)
    /// with `/issue/{key}`; an issue that no longer exists yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let ctx = ctx.with_fingerprints(Arc::new(NoFingerprints));
        let client = self.client.with_context(&ctx);
        let options = Arc::clone(&self.options);
        let fields = self.search_fields();
        let prefix = format!("{}/browse/", options.site);
        let mut keys: Vec<String> = Vec::new();
        for id in &ids {
            let key = id
                .strip_prefix(&prefix)
                .or_else(|| id.split_once("::attachment::").map(|(k, _)| k));
            if let Some(k) = key
                && !k.is_empty()
                && !keys.iter().any(|x| x == k)
            {
                keys.push(k.to_owned());
            }
        }
        let wanted: HashSet<String> = ids.into_iter().collect();
        async_stream::try_stream! {
            for key in keys {
                let Some(raw) = client.issue(&key, &fields).await? else { continue };
                let batch = convert_page(&client, vec![raw], None, &ctx, &options, Some(&wanted)).await?;
                yield batch;
            }
        }
        .boxed()
    }
}
