//! The feed walk: each feed fetched (conditionally), parsed, windowed and handed on in pages
//! of entries, with the checkpoint after each.

use std::collections::HashSet;
use std::sync::Arc;

use connector_core::pages::{PendingItem, fetch_items, skip_handed_on};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use url::Url;

use super::SOURCE;
use super::checkpoint::{FeedCursor, FeedState, RssCheckpoint};
use super::client::{self, FeedClient, Fetched};
use super::convert::{self, FeedInfo, Prepared};

/// Entries per source page: the unit of one fingerprint lookup and one checkpoint.
pub(crate) const PAGE: usize = 256;

/// Article pages fetched at the same time within a page (with `fetch_articles`).
const ARTICLE_CONCURRENCY: usize = 4;

/// One configured feed.
#[derive(Clone)]
pub(crate) struct Feed {
    /// Its URL, as requested.
    pub(crate) url: Url,
    /// How ids, checkpoints and messages name it ([`convert::feed_key`]).
    pub(crate) key: String,
}

impl std::fmt::Debug for Feed {
    /// The key only: the URL's query may hold the feed's token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Feed").field(&self.key).finish()
    }
}

impl Feed {
    pub(crate) fn new(url: Url) -> Self {
        let key = convert::feed_key(&url);
        Self { url, key }
    }

    /// The id a failure of the whole feed carries: `rss:{feed}`.
    fn failure_id(&self) -> String {
        format!("rss:{}", self.key)
    }

    /// The failure of this whole feed: it names the feed, links to it (when its URL holds no
    /// query, which may carry a token), and the other feeds go on.
    pub(crate) fn failure(&self, e: &Error) -> Failure {
        let mut failure = Failure::from_error(Some(self.failure_id()), e);
        failure.message = format!("feed `{}`: {}", self.key, e);
        if self.url.query().is_none() {
            failure = failure.with_link(self.url.clone());
        }
        failure
    }
}

/// What a sync reads and how; cheap to clone (one per stream).
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    pub(crate) client: FeedClient,
    pub(crate) feeds: Arc<Vec<Feed>>,
    pub(crate) max_entries: usize,
    pub(crate) fetch_articles: bool,
}

impl Reader {
    fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            ..self.clone()
        }
    }

    /// Reads and parses `feed` unconditionally, with retries that end within seconds: what
    /// `check()` does.
    pub(crate) async fn probe(&self, feed: &Feed) -> Result<()> {
        match self.client.for_check().feed(&feed.url, None).await? {
            Fetched::Body(body, _, base) => client::parse(&body, &base, &feed.key).map(|_| ()),
            Fetched::NotModified(_) => Ok(()),
        }
    }
}

/// The entries of `feed` the run delivers, in feed order: ids made unique (a repeated id
/// keeps its first, newest, entry), at most `max_entries`, and within `window` by `updated`
/// then `published`. An entry with neither is kept whatever the window: it cannot be placed
/// in one, and leaving it to full runs would hide it from every incremental run.
///
/// Callers pass no `window` when the fingerprint lookup remembers earlier runs: an entry
/// often shows up in its feed after its date (a static site deployed hours after the date in
/// its front matter, a cached feed, a zone-less time read as UTC by a site west of it, a
/// backdated post), and would fall before the window of the first run that sees it.
fn entries_of(
    reader: &Reader,
    feed: &Feed,
    parsed: feed_rs::model::Feed,
    window: Option<TimeWindow>,
) -> Vec<Prepared> {
    let total = parsed.entries.len();
    if total > reader.max_entries {
        tracing::warn!(
            connector = SOURCE,
            feed = feed.key.as_str(),
            entries = total,
            max_entries = reader.max_entries,
            "the feed holds more entries than max_entries; the rest are left out"
        );
    }
    let mut entries = parsed.entries;
    if total > reader.max_entries {
        // Not every feed lists its newest first (some go oldest first, or by title): the cap
        // keeps the newest, undated entries last.
        entries.sort_by_key(|e| std::cmp::Reverse(e.updated.or(e.published)));
    }
    let mut seen: HashSet<String> = HashSet::new();
    entries
        .into_iter()
        .take(reader.max_entries)
        .map(|e| convert::prepare(&feed.key, e, reader.fetch_articles))
        .filter(|p| seen.insert(p.id.clone()))
        .filter(|p| match (window, p.at) {
            (None, _) => true,
            (Some(w), Some(at)) => w.contains(at),
            (Some(_), None) => true,
        })
        .collect()
}

/// Every feed after `from`, each as pages of entries with the checkpoint after each.
pub(super) fn checkpointed(
    reader: &Reader,
    from: RssCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<RssCheckpoint>>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let mut cp = from;
        let resume = cp.current.take();
        // A lookup that remembers earlier runs decides what is new: every entry of a feed
        // that answered 200 goes to it, whatever its date (see `entries_of`), and a resumed
        // feed is read from its top (a feed that reordered since must not hide an entry
        // behind the one handed on last).
        let remembers = ctx.fingerprints().remembers();
        let window = window.filter(|_| !remembers);
        // Feeds no longer configured keep no validators.
        cp.since.retain(|key, _| reader.feeds.iter().any(|f| &f.key == key));
        for feed in reader.feeds.iter() {
            if cp.done.contains_key(&feed.key) || cp.failed.contains(&feed.key) {
                continue;
            }
            ctx.cancellation().check()?;
            let after = resume.as_ref().filter(|c| c.feed == feed.key).map(|c| c.after.clone());
            // Validators only for a feed started afresh: a feed resumed mid-way is read again
            // whole, since what the last answer held is not all delivered.
            let since = cp.since.get(&feed.key).filter(|_| after.is_none()).cloned();
            // A feed no finished run read to its end while others carry theirs (added to the
            // config, or failing until now): its entries before the window were never
            // delivered, so it is read whole (unchanged entries cost a lookup).
            let window = window.filter(|_| cp.since.is_empty() || cp.since.contains_key(&feed.key));
            let fetched = match reader.client.feed(&feed.url, since.as_ref().filter(|s| s.has_validators())).await {
                Ok(fetched) => fetched,
                // A 401 is this feed's (a private feed wanting a login this source has no
                // field for), not the connector's: the other feeds go on.
                Err(e) if e.kind().ends_sync() && e.kind() != ErrorKind::Unauthenticated => Err(e)?,
                Err(e) => {
                    cp.failed.push(feed.key.clone());
                    yield CheckpointedBatch::new(Batch::with_parts(Vec::new(), vec![feed.failure(&e)], Vec::new()), cp.clone());
                    continue;
                }
            };
            let (body, state, base) = match fetched {
                Fetched::NotModified(state) => {
                    tracing::debug!(connector = SOURCE, feed = feed.key.as_str(), "feed not modified");
                    cp.done.insert(feed.key.clone(), state);
                    yield CheckpointedBatch::new(Batch::default(), cp.clone());
                    continue;
                }
                Fetched::Body(body, state, base) => (body, state, base),
            };
            let parsed = match client::parse(&body, &base, &feed.key) {
                Ok(parsed) => parsed,
                Err(e) => {
                    cp.failed.push(feed.key.clone());
                    yield CheckpointedBatch::new(Batch::with_parts(Vec::new(), vec![feed.failure(&e)], Vec::new()), cp.clone());
                    continue;
                }
            };
            drop(body);
            let info = Arc::new(FeedInfo {
                key: feed.key.clone(),
                title: parsed.title.as_ref().map(|t| t.content.trim().to_owned()).filter(|t| !t.is_empty()),
            });
            let mut items = entries_of(&reader, feed, parsed, window);
            if let Some(after) = after.as_ref().filter(|_| !remembers) {
                skip_handed_on(&mut items, after, |p| p.id.as_str());
            }
            // An entry that failed before an interruption still keeps the feed from a 304.
            let mut entry_failed = resume.as_ref().is_some_and(|c| c.feed == feed.key && c.entry_failed);
            let mut rest = items.into_iter().peekable();
            loop {
                let chunk: Vec<Prepared> = rest.by_ref().take(PAGE).collect();
                let last = rest.peek().is_none();
                let last_id = chunk.last().map(|p| p.id.clone());
                let pending = chunk.into_iter().map(|p| {
                    let version = p.version.clone();
                    PendingItem::new(p.id.clone(), p).with_version(&version)
                });
                let (info, client) = (&info, &reader.client);
                let fetch_articles = reader.fetch_articles;
                let batch = fetch_items(&ctx, pending, ARTICLE_CONCURRENCY, |item: Prepared| {
                    async move {
                        let article = match (&item.link, fetch_articles) {
                            (Some(link), true) => match client.article(link).await {
                                Ok(page) => Some(page),
                                // A link to a PDF, an image or a podcast file will never be
                                // a page: the entry's own text, not a failure every run
                                // (which would also keep its feed from every 304).
                                Err(e) if e.kind() == ErrorKind::Unsupported => {
                                    tracing::debug!(connector = SOURCE, entry = item.id.as_str(), error = %e, "linked page is no HTML; the entry's own text is delivered");
                                    None
                                }
                                Err(e) => return Err(e),
                            },
                            _ => None,
                        };
                        Ok(convert::document(info, item, article))
                    }
                })
                .await?;
                entry_failed |= !batch.failures.is_empty();
                match (last, last_id) {
                    (false, Some(after)) => {
                        cp.current = Some(FeedCursor { feed: feed.key.clone(), after, entry_failed });
                    }
                    _ => {
                        cp.current = None;
                        // An entry that failed is read again by the next run: no validators,
                        // so the feed is not answered with a 304.
                        let state = if entry_failed { FeedState::default() } else { state.clone() };
                        cp.done.insert(feed.key.clone(), state);
                    }
                }
                yield CheckpointedBatch::new(batch, cp.clone());
                if last {
                    break;
                }
            }
        }
    }
    .boxed()
}

/// `check()`: every feed answers and parses; the first that does not is the error, naming it.
pub(super) async fn check(reader: &Reader) -> Result<()> {
    if reader.feeds.is_empty() {
        return Err(Error::new(ErrorKind::Config, "no feed to read").with_field("feed_url"));
    }
    for (n, feed) in reader.feeds.iter().enumerate() {
        reader.probe(feed).await.map_err(|e| {
            let field = if reader.feeds.len() == 1 {
                "feed_url".to_owned()
            } else {
                format!("feed_url[{n}]")
            };
            Error::new(e.kind(), format!("feed `{}`: {}", feed.key, e.message()))
                .with_connector(SOURCE)
                .with_field(field)
        })?;
    }
    Ok(())
}
