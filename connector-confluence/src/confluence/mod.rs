//! The Confluence connector (source `"confluence"`): pages and blog posts of Confluence Cloud
//! and Server/Data Center as Markdown documents, their comments inlined, attachments as
//! documents of their own.
//!
//! - **Selection**: one CQL search (`/rest/api/content/search`) for the index mode: every
//!   space, one space, or one page and (with `index_recursively`) its descendants; pages and
//!   blog posts, `label not in (...)` for `labels_to_skip`, archived spaces on request.
//! - **Requests**: one search request per 50 or more results (never RAGFlow's batch size of
//!   2). Each result embeds its body, version, space, labels, ancestors, history and its
//!   comments through `expand`; comments and attachments are asked for separately only for
//!   a page that has more than were embedded. User mentions and `include` macros are looked
//!   up once per run. Attachments are downloaded a few at a time.
//! - **Ids** are the absolute web URL of the page, blog post or attachment
//!   (`{wiki_base}{_links.webui}`, as in RAGFlow). The title is the page title, `updated_at`
//!   is `version.when`; metadata holds `space`, `space_name`, `labels`, `ancestors`,
//!   `author`, `version`, `type` and `content_id`; owners are the creator and the last editor.
//!   Attachments carry `parent_id` = the page's id.
//! - **Incremental polls**: CQL's `lastmodified` has minute precision and reads dates in the
//!   site's time zone, so the query is widened by a minute on each side (by 14 hours when the
//!   zone is unknown) and results are filtered exactly on `version.when` within the half-open
//!   window.
//! - **Fingerprints** come from the page version and the ids and versions of its comments (an
//!   attachment's from its version and size): unchanged pages are not rendered and unchanged
//!   attachments are not downloaded; both are reported as unchanged.
//! - **Failures**: a body that cannot be parsed, a result that cannot be read, an attachment
//!   that cannot be downloaded each become a [`Failure`] naming the item; the sync goes on.
//!   Wrong credentials (401) stop the sync at once, as does a 403 on the search itself (no
//!   permission on the space). Attachments over `attachment_size_limit`, with an extension
//!   that is not accepted, or images without `allow_images` are skipped before download and
//!   are not listed by `list_ids` either.
//!
//! # Cancel safety
//! Streams own their state (a cloned client, the run's lookup caches). Dropping one at any
//! `.await` loses nothing: checkpoints are committed by the batch loop only after the sink
//! acknowledged a page.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod storage;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::{PageLimit, paginate};
use connector_core::window::{CoarseWindow, Precision};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, ErrorKind, Failure, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::StreamExt;

pub use checkpoint::ConfluenceCheckpoint;
pub use config::{
    ConfluenceConfig, ConfluenceCredentials, DEFAULT_ATTACHMENT_SIZE_LIMIT, IndexMode,
    MAX_PAGE_SIZE, MIN_PAGE_SIZE,
};
pub use convert::{ACCEPTED_EXTENSIONS, IMAGE_EXTENSIONS};

use client::Client;
use convert::{AttachmentRules, Lookups, Verdict};
use model::{Content, Paged};
use storage::{Node, Refs};

/// The registry key of the Confluence connector.
pub const SOURCE: &str = "confluence";

/// Requests in flight at once for the extra lookups of one result page (comments beyond the
/// embedded ones, users, included pages, attachment downloads).
const CONCURRENCY: usize = 4;

/// A runaway guard on a search: no real site needs this many result pages.
const MAX_SEARCH_PAGES: u64 = 1_000_000;

/// `include` macros are followed this many levels deep.
const INCLUDE_DEPTH: usize = 3;

/// Reads Confluence. Built from a [`ConfluenceConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_confluence::confluence::{ConfluenceConfig, ConfluenceConnector, ConfluenceCredentials};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let base = "https://example.atlassian.net/wiki".parse().expect("a URL");
/// let credentials = ConfluenceCredentials::basic("me@example.com", "api-token");
/// let connector = ConfluenceConnector::new(ConfluenceConfig::new(base, credentials))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ConfluenceConnector {
    config: ConfluenceConfig,
    client: Client,
    settings: Arc<Settings>,
}

/// What the streams need from the config, shared with them.
#[derive(Debug)]
struct Settings {
    /// The CQL selection without window and order.
    selection: String,
    page_size: u32,
    include_archived: bool,
    attachments: Option<AttachmentRules>,
    timezone_offset: Option<f64>,
}

impl Settings {
    fn expand(&self) -> String {
        let mut expand = "body.storage,version,space,metadata.labels,ancestors,history,\
                          children.comment.body.storage,children.comment.version"
            .to_owned();
        if self.attachments.is_some() {
            expand.push_str(",children.attachment.version");
        }
        expand
    }

    /// The first search request (path and query).
    fn search(&self, cql: &str, expand: &str) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("cql", cql.to_owned()),
            ("limit", self.page_size.to_string()),
            ("start", "0".to_owned()),
        ];
        if !expand.is_empty() {
            pairs.push(("expand", expand.to_owned()));
        }
        if self.include_archived {
            pairs.push(("includeArchivedSpaces", "true".to_owned()));
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/rest/api/content/search?{query}")
    }

    /// The CQL of a search, over `window` (in the site's zone) when there is one.
    fn cql(&self, window: Option<CoarseWindow>) -> String {
        let mut cql = self.selection.clone();
        if let Some(w) = window {
            cql.push_str(&format!(
                " and lastmodified >= \"{}\" and lastmodified <= \"{}\"",
                w.lower_bound(),
                w.upper_bound()
            ));
        }
        // Creation order does not change while a sync runs, so offsets and cursors stay put
        // when pages are edited meanwhile.
        cql.push_str(" order by created asc");
        cql
    }
}

fn cql_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn selection(config: &ConfluenceConfig) -> String {
    let mut cql = match config.mode() {
        IndexMode::Everything => "type in (page, blogpost)".to_owned(),
        IndexMode::Space => format!(
            "space = {} and type in (page, blogpost)",
            cql_string(config.space().unwrap_or_default())
        ),
        IndexMode::Page => {
            let id = config.page_id().unwrap_or_default();
            if config.index_recursively {
                format!("(id = {id} or ancestor = {id}) and type = page")
            } else {
                format!("id = {id}")
            }
        }
    };
    let labels: Vec<String> = config
        .labels_to_skip
        .iter()
        .map(|l| cql_string(l.trim()))
        .collect();
    if !labels.is_empty() {
        cql.push_str(&format!(" and label not in ({})", labels.join(", ")));
    }
    cql
}

impl ConfluenceConnector {
    /// A connector for the site in `config`. Nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of the config by field path.
    pub fn new(config: ConfluenceConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let client = Client::new(&config)?;
        let settings = Settings {
            selection: selection(&config),
            page_size: config.page_size(),
            include_archived: config.include_archived,
            attachments: config.include_attachments.then_some(AttachmentRules {
                size_limit: config.attachment_size_limit.get(),
                allow_images: config.allow_images,
            }),
            timezone_offset: config.timezone_offset,
        };
        Ok(Self {
            config,
            client,
            settings: Arc::new(settings),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ConfluenceConfig {
        &self.config
    }

    fn stream(
        &self,
        from: ConfluenceCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ConfluenceCheckpoint>>> {
        let client = self.client.with_context(&ctx);
        let settings = Arc::clone(&self.settings);
        async_stream::try_stream! {
            if window.is_some_and(|w| w.is_empty()) {
                return;
            }
            let coarse = match window {
                Some(w) => {
                    let zone = client.cql_zone(settings.timezone_offset).await?;
                    Some(CoarseWindow::new(w, zone, Precision::Minute))
                }
                None => None,
            };
            let first = settings.search(&settings.cql(coarse), &settings.expand());
            let query = connector_core::ids::hash128(&first);
            let start = if from.continues(&query, window) {
                if from.done {
                    return;
                }
                from.next.unwrap_or(first)
            } else {
                first
            };
            let search = client.clone();
            let mut pages = paginate(start, PageLimit::fail_after(MAX_SEARCH_PAGES), move |cursor| {
                let client = search.clone();
                async move { client.search_page(cursor).await }
            });
            let mut run = Run { client: client.clone(), settings: Arc::clone(&settings), lookups: Lookups::new(client.clone()) };
            while let Some(page) = pages.next().await {
                if ctx.is_cancelled() {
                    Err(cancelled())?;
                }
                let page = page?;
                let batch = run.batch(page.items, window, &ctx).await?;
                let checkpoint = ConfluenceCheckpoint {
                    done: page.next.is_none(),
                    next: page.next,
                    query: Some(query.clone()),
                    window,
                };
                yield CheckpointedBatch::new(batch, checkpoint);
            }
        }
        .boxed()
    }
}

fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the sync was cancelled").with_connector(SOURCE)
}

/// Errors that end the sync even inside a per-item lookup.
fn fatal(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Unauthenticated | ErrorKind::Cancelled)
}

/// One search result being turned into documents.
struct Item {
    id: String,
    content: Content,
    comments: Vec<Content>,
    /// Where the comments beyond the embedded ones start, if there are more.
    more_comments: Option<u64>,
    attachments: Vec<Content>,
    more_attachments: Option<u64>,
}

/// Whether an embedded collection holds fewer items than exist, and where the rest start.
fn more_of(paged: Option<&Paged<Content>>) -> Option<u64> {
    let p = paged?;
    let len = p.results.len() as u64;
    let full = p.limit.is_some_and(|l| l > 0 && len >= l)
        || p.size.zip(p.limit).is_some_and(|(s, l)| l > 0 && s >= l);
    (p.links.next.is_some() || full).then_some(p.start.unwrap_or(0) + len)
}

fn item(web: &str, mut content: Content) -> std::result::Result<Item, Box<Failure>> {
    let Some(id) = convert::content_id(web, &content) else {
        return Err(Box::new(Failure::new(
            None,
            ErrorKind::InvalidData,
            format!(
                "content `{}` (id {}) has no web link",
                content.title, content.id
            ),
        )));
    };
    let children = content.children.take();
    let (comments, attachments) = match children {
        Some(c) => (c.comment, c.attachment),
        None => (None, None),
    };
    Ok(Item {
        id,
        more_comments: more_of(comments.as_ref()),
        more_attachments: more_of(attachments.as_ref()),
        comments: comments.map(|c| c.results).unwrap_or_default(),
        attachments: attachments.map(|c| c.results).unwrap_or_default(),
        content,
    })
}

/// Fetches what a result did not embed.
async fn complete(
    client: &Client,
    mut item: Item,
    comments: bool,
    attachments: bool,
) -> (Item, Option<Error>) {
    if comments && let Some(start) = item.more_comments.take() {
        match client
            .children(&item.content.id, "comment", "body.storage,version", start)
            .await
        {
            Ok(more) => item.comments.extend(more),
            Err(e) => return (item, Some(e)),
        }
    }
    if attachments && let Some(start) = item.more_attachments.take() {
        match client
            .children(&item.content.id, "attachment", "version", start)
            .await
        {
            Ok(more) => item.attachments.extend(more),
            Err(e) => return (item, Some(e)),
        }
    }
    (item, None)
}

/// A result whose body and comments were parsed: the item, its body, its comments.
type Parsed<'a> = (&'a Item, Vec<Node>, Vec<(&'a Content, Vec<Node>)>);

/// The state of one stream: the client and the lookups cached for the run.
struct Run {
    client: Client,
    settings: Arc<Settings>,
    lookups: Lookups,
}

impl Run {
    /// Reads the results of a search page, keeps those in `window`, completes them, and
    /// returns them with the failures of those that could not be read.
    async fn items(
        &self,
        page: Paged<serde_json::Value>,
        window: Option<TimeWindow>,
        comments: bool,
    ) -> Result<(Vec<Item>, Vec<Failure>)> {
        let web = self.client.web_base().to_owned();
        let mut failures = Vec::new();
        let mut items = Vec::new();
        for value in page.results {
            let raw = convert::raw_id(&web, &value);
            let content = match serde_json::from_value::<Content>(value) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(Failure::new(
                        raw.clone(),
                        ErrorKind::InvalidData,
                        format!(
                            "a search result cannot be read ({}): {e}",
                            raw.as_deref().unwrap_or("no link")
                        ),
                    ));
                    continue;
                }
            };
            if let Some(w) = window
                && !content.when().is_some_and(|t| w.contains(t))
            {
                continue;
            }
            match item(&web, content) {
                Ok(i) => items.push(i),
                Err(f) => failures.push(*f),
            }
        }
        let attachments = self.settings.attachments.is_some();
        let done: Vec<(Item, Option<Error>)> = futures::stream::iter(items)
            .map(|i| complete(&self.client, i, comments, attachments))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut complete = Vec::with_capacity(done.len());
        for (item, err) in done {
            match err {
                None => complete.push(item),
                Some(e) if fatal(&e) => return Err(e),
                Some(e) => failures.push(Failure::from_error(
                    Some(item.id.clone()),
                    &e.with_item(item.id.clone()),
                )),
            }
        }
        Ok((complete, failures))
    }

    /// The attachments of `item` that are taken, with their ids.
    fn attachments<'a>(&self, item: &'a Item) -> Vec<(String, &'a Content)> {
        let Some(rules) = self.settings.attachments else {
            return Vec::new();
        };
        let web = self.client.web_base();
        item.attachments
            .iter()
            .filter(|a| match rules.verdict(a) {
                Verdict::Take => true,
                Verdict::TooLarge(size) => {
                    tracing::info!(connector = SOURCE, attachment = %a.title, size, limit = rules.size_limit, "skipping an attachment over attachment_size_limit");
                    false
                }
                Verdict::NotWanted => false,
            })
            .filter_map(|a| convert::content_id(web, a).map(|id| (id, a)))
            .collect()
    }

    /// One search page as a batch.
    async fn batch(
        &mut self,
        page: Paged<serde_json::Value>,
        window: Option<TimeWindow>,
        ctx: &SyncContext,
    ) -> Result<Batch> {
        let (items, mut failures) = self.items(page, window, true).await?;
        let mut ids: Vec<String> = Vec::new();
        for item in &items {
            ids.push(item.id.clone());
            ids.extend(self.attachments(item).into_iter().map(|(id, _)| id));
        }
        let known = if ids.is_empty() {
            Default::default()
        } else {
            ctx.fingerprints().fingerprints(&ids).await?
        };
        let unchanged = |id: &str, token: &str| {
            known
                .get(id)
                .is_some_and(|f| *f == connector_core::Document::version_fingerprint(token))
        };

        let mut batch = Batch::default();
        // Parse what changed, then resolve every lookup the page needs at once.
        let mut parsed: Vec<Parsed<'_>> = Vec::new();
        let mut refs = Refs::default();
        for item in &items {
            if unchanged(
                &item.id,
                &convert::page_token(&item.content, &item.comments),
            ) {
                batch.unchanged.push(item.id.clone());
                continue;
            }
            let space = item
                .content
                .space
                .as_ref()
                .map(|s| s.key.as_str())
                .unwrap_or("");
            let body = match storage::parse(item.content.storage().unwrap_or("")) {
                Ok(nodes) => nodes,
                Err(e) => {
                    failures.push(convert::unreadable(&item.id, &item.content, &e));
                    continue;
                }
            };
            storage::collect_refs(&body, space, &mut refs);
            let mut comments = Vec::new();
            for c in &item.comments {
                match storage::parse(c.storage().unwrap_or("")) {
                    Ok(nodes) => {
                        storage::collect_refs(&nodes, space, &mut refs);
                        comments.push((c, nodes));
                    }
                    Err(e) => {
                        tracing::warn!(connector = SOURCE, page = %item.id, comment = %c.id, error = %e, "leaving out a comment whose body cannot be read")
                    }
                }
            }
            parsed.push((item, body, comments));
        }
        resolve(&self.client, &mut self.lookups, refs).await?;
        for (item, body, comments) in &parsed {
            batch.documents.push(convert::page_document(
                item.id.clone(),
                &item.content,
                body,
                comments,
                &self.lookups,
            ));
        }

        // Attachments: skip unchanged ones, download the rest a few at a time, in order.
        let mut wanted = Vec::new();
        let mut requests = Vec::new();
        for item in &items {
            for (id, att) in self.attachments(item) {
                if unchanged(&id, &convert::attachment_token(att)) {
                    batch.unchanged.push(id);
                } else {
                    requests.push((
                        item.content.id.clone(),
                        att.id.clone(),
                        att.links.download.clone(),
                    ));
                    wanted.push((id, att, item));
                }
            }
        }
        let cap = self.settings.attachments.map_or(0, |r| r.size_limit);
        let client = self.client.clone();
        let mut downloads = futures::stream::iter(requests)
            .map(move |(page, att, link)| {
                let client = client.clone();
                async move { client.download(&page, &att, link.as_deref(), cap).await }
            })
            .buffered(CONCURRENCY);
        for (id, att, item) in wanted {
            let Some(data) = downloads.next().await else {
                break;
            };
            match data {
                Ok(bytes) => batch.documents.push(convert::attachment_document(
                    id,
                    att,
                    bytes,
                    &item.id,
                    &item.content,
                )),
                Err(e) if fatal(&e) => Err(e)?,
                Err(e) => {
                    let e = e.with_item(format!("attachment `{}` of {}", att.title, item.id));
                    let mut f = Failure::from_error(Some(id.clone()), &e);
                    if let Ok(link) = url::Url::parse(&id) {
                        f = f.with_link(link);
                    }
                    failures.push(f);
                }
            }
        }
        batch.failures = failures;
        Ok(batch)
    }
}

/// Looks up the users and included pages in `refs` that this run has not seen yet.
async fn resolve(client: &Client, lookups: &mut Lookups, mut refs: Refs) -> Result<()> {
    for _ in 0..INCLUDE_DEPTH {
        let missing: Vec<_> = std::mem::take(&mut refs.includes)
            .into_iter()
            .filter(|p| !lookups.includes.contains_key(p))
            .collect();
        if missing.is_empty() {
            break;
        }
        let found: Vec<_> = futures::stream::iter(missing)
            .map(|page| async move {
                let storage = client.page_storage(&page).await;
                (page, storage)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (page, storage) in found {
            let nodes = storage?.and_then(|s| storage::parse(&s).ok()).map(Arc::new);
            if let Some(nodes) = &nodes {
                storage::collect_refs(nodes, &page.space, &mut refs);
            }
            lookups.includes.insert(page, nodes);
        }
    }
    let users: Vec<_> = refs
        .users
        .into_iter()
        .filter(|u| !lookups.users.contains_key(u))
        .collect();
    let found: Vec<_> = futures::stream::iter(users)
        .map(|user| async move {
            let name = client.user_name(&user).await;
            (user, name)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (user, name) in found {
        lookups.users.insert(user, name?);
    }
    Ok(())
}

impl fmt::Display for ConfluenceConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.client.web_base())?;
        match self.config.mode() {
            IndexMode::Everything => Ok(()),
            IndexMode::Space => write!(f, " space {}", self.config.space().unwrap_or("")),
            IndexMode::Page => write!(f, " page {}", self.config.page_id().unwrap_or("")),
        }
    }
}

#[async_trait]
impl Connector for ConfluenceConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .fingerprint_skip()
            .into()
    }

    /// Checks that `wiki_base` is a Confluence site, that the credentials are accepted, and
    /// that the configured space or page can be read.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] or [`ErrorKind::Unavailable`] naming `wiki_base` when the site is
    /// not a Confluence REST API or cannot be reached; [`ErrorKind::Unauthenticated`] naming
    /// `credentials.confluence_access_token`; [`ErrorKind::PermissionDenied`] or
    /// [`ErrorKind::NotFound`] naming `space` or `page_id`.
    async fn check(&self) -> Result<()> {
        let client = self.client.for_check();
        let site = client
            .probe("/rest/api/space?limit=1")
            .await
            .map_err(|e| site_error(e, &self.config))?;
        let looks_right = serde_json::from_slice::<serde_json::Value>(site.body())
            .ok()
            .is_some_and(|v| v.get("results").is_some());
        if !looks_right {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "`wiki_base` ({}) answered, but not as the Confluence REST API does",
                    self.client.web_base()
                ),
            )
            .with_connector(SOURCE)
            .with_field("wiki_base"));
        }
        let (path, field, what) = match self.config.mode() {
            IndexMode::Everything => return Ok(()),
            IndexMode::Space => {
                let key = self.config.space().unwrap_or("");
                (
                    format!("/rest/api/space/{key}"),
                    "space",
                    format!("space `{key}`"),
                )
            }
            IndexMode::Page => {
                let id = self.config.page_id().unwrap_or("");
                (
                    format!("/rest/api/content/{id}"),
                    "page_id",
                    format!("page {id}"),
                )
            }
        };
        match client.probe(&path).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("the credentials are valid but have no permission to read {what}"),
            )
            .with_connector(SOURCE)
            .with_field(field)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::new(
                ErrorKind::NotFound,
                format!("{what} does not exist, or these credentials cannot see it"),
            )
            .with_connector(SOURCE)
            .with_field(field)),
            Err(e) => Err(e),
        }
    }
}

/// Tells a wrong `wiki_base` from the rest when the first request of `check` fails.
fn site_error(e: Error, config: &ConfluenceConfig) -> Error {
    let hint = if config.is_cloud {
        "Cloud sites look like https://<site>.atlassian.net/wiki"
    } else {
        "Server/Data Center: the base URL with its context path, if any"
    };
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::InvalidData => Error::new(
            ErrorKind::NotFound,
            format!(
                "`wiki_base` ({}) does not serve the Confluence REST API; {hint}",
                config.web_base()
            ),
        )
        .with_connector(SOURCE)
        .with_field("wiki_base")
        .with_cause(e),
        ErrorKind::Unavailable => Error::new(
            ErrorKind::Unavailable,
            format!("`wiki_base` ({}) cannot be reached", config.web_base()),
        )
        .with_connector(SOURCE)
        .with_field("wiki_base")
        .with_cause(e),
        _ => e,
    }
}

impl CheckpointedConnector for ConfluenceConnector {
    type Checkpoint = ConfluenceCheckpoint;

    fn initial_checkpoint(&self) -> ConfluenceCheckpoint {
        ConfluenceCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: ConfluenceCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ConfluenceCheckpoint>>> {
        self.stream(from, window, ctx)
    }
}

impl SlimConnector for ConfluenceConnector {
    /// Every page, blog post and taken attachment id; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let client = self.client.with_context(&ctx);
        let settings = Arc::clone(&self.settings);
        async_stream::try_stream! {
            let expand = if settings.attachments.is_some() { "children.attachment.version" } else { "" };
            let first = settings.search(&settings.cql(None), expand);
            let search = client.clone();
            let mut pages = paginate(first, PageLimit::fail_after(MAX_SEARCH_PAGES), move |cursor| {
                let client = search.clone();
                async move { client.search_page(cursor).await }
            });
            let run = Run { client: client.clone(), settings: Arc::clone(&settings), lookups: Lookups::new(client.clone()) };
            while let Some(page) = pages.next().await {
                if ctx.is_cancelled() {
                    Err(cancelled())?;
                }
                let page = page?;
                let (items, failures) = run.items(page.items, None, false).await?;
                let mut ids = Vec::new();
                for f in failures {
                    // An unreadable result is still there: list it, or prune would delete it;
                    // one with no id at all makes the listing incomplete.
                    match (f.id, f.kind) {
                        (Some(id), ErrorKind::InvalidData) => ids.push(SlimDocument::new(id)),
                        _ => Err(Error::new(f.kind, format!("cannot list every id, so nothing may be pruned: {}", f.message)).with_connector(SOURCE))?,
                    }
                }
                for item in &items {
                    ids.push(SlimDocument::new(item.id.clone()));
                    ids.extend(run.attachments(item).into_iter().map(|(id, _)| SlimDocument::new(id)));
                }
                if !ids.is_empty() {
                    yield ids;
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::window::Zone;

    #[test]
    fn window_is_widened_by_a_minute_in_site_time() {
        let s = Settings {
            selection: "type in (page, blogpost)".into(),
            page_size: 50,
            include_archived: false,
            attachments: None,
            timezone_offset: None,
        };
        let start = "2026-03-01T10:15:30Z".parse();
        let end = "2026-03-01T11:00:00Z".parse();
        let (Ok(start), Ok(end), Some(plus1)) = (start, end, Zone::from_offset_hours(1.0)) else {
            panic!("dates")
        };
        let w = TimeWindow { start, end };
        let cql = s.cql(Some(CoarseWindow::new(w, plus1, Precision::Minute)));
        assert!(
            cql.contains(r#"lastmodified >= "2026-03-01 11:14""#),
            "{cql}"
        );
        assert!(
            cql.contains(r#"lastmodified <= "2026-03-01 12:01""#),
            "{cql}"
        );
        let wide = s.cql(Some(CoarseWindow::new(
            w,
            Zone::unknown(),
            Precision::Minute,
        )));
        assert!(
            wide.contains(r#"lastmodified >= "2026-02-28 20:14""#),
            "{wide}"
        );
    }
}
