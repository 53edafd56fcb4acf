//! The RSS connector (source `"rss"`): the entries of RSS 2.0, RSS 0.9x, RSS 1.0/RDF, Atom
//! and JSON feeds, one document each, parsed by [feed-rs](https://docs.rs/feed-rs).
//!
//! - **Feeds**: `feed_url` (RAGFlow's field), one URL or several. With more than one, each
//!   feed is a **partition** (its URL as the key): a job of its own with its own checkpoint;
//!   the connector as a whole reads them one after another. A feed that cannot be read (a
//!   404, a 429 that outlasts the retries, a body that is not a feed, one over
//!   `max_file_size`) is a failure naming it (`rss:{feed}`), and the other feeds go on.
//! - **Conditional GET**: the `ETag` and `Last-Modified` of each feed's answer are kept in the
//!   checkpoint ([`RssCheckpoint`]) and carried to the next incremental run
//!   ([`CheckpointedConnector::carry_over`]), whose request sends them back
//!   (`If-None-Match`, `If-Modified-Since`): an unchanged feed costs one `304 Not Modified`
//!   and no parse. A server that ignores them answers 200 and the feed is read as usual; one
//!   that sends neither is fetched whole every run. Full runs send no validators.
//! - **Windows**: a feed has no server-side filter, so every run fetches it (the 304 is what
//!   makes that cheap). With a fingerprint lookup that
//!   [remembers](connector_core::FingerprintLookup::remembers) earlier runs (a state store),
//!   every entry of a feed that answered 200 goes to the lookup whatever its date: entries
//!   often appear after their date (a static site deployed hours after the date in its
//!   front matter, a cached feed, a zone-less local time read as UTC, a backdated post), and
//!   an entry edited in place keeps its date. Without one, a run keeps the entries whose
//!   `updated`, else `published`, time is in its window, and those with neither. A feed no
//!   finished run has read while others carry validators (added to the config, or failing
//!   until now) is read whole. Past `max_entries`, the newest entries are kept.
//! - **Ids**: `rss:{feed}#{key}`, `{feed}` the feed's URL (its query, which may hold a
//!   token, replaced by a hash of it), `{key}` the entry's `guid` / `id`, else its link, else
//!   `hash:` and a hash of its title and date. Per feed: a `guid` is unique within its feed
//!   only, and each feed is a partition, which must not own another's documents. RAGFlow
//!   used `rss:` + the MD5 of the id, link or title, shared by every feed.
//! - **Documents**: the title (plain text), the entry's full content (`content:encoded`,
//!   Atom `content`, JSON Feed `content_html`) else its summary, HTML converted to Markdown by
//!   core, under the title as a heading; the link; `updated_at` from `updated`, else
//!   `published` (RAGFlow fell back to `now()`); the authors as owners (e-mail where given);
//!   metadata `feed_url`, `feed_title`, `entry_id`, `categories`, `enclosures` (`url`,
//!   `mime_type`, `length`: noted, never downloaded) and `published_at`. With
//!   `fetch_articles`, the linked page (up to `max_file_size`) as Markdown replaces the
//!   entry's text.
//! - **Fingerprint**: a hash of every field the entry carries, taken before any conversion:
//!   an unchanged entry is reported unchanged with no HTML conversion and no article request;
//!   an entry edited in place (new text, same date) is delivered again by the next run that
//!   reads it.
//! - **Not here**: no prune listing ([`SlimConnector`](connector_core::SlimConnector)): a feed
//!   lists its latest entries only, and an entry that scrolls out of it is not deleted at its
//!   source, so pruning by the feed would delete what the site still has (RAGFlow's does).
//!   An entry that failed is read again by the next run (its feed's validators are not kept,
//!   and the sync holds the window back to the failure).

mod checkpoint;
mod client;
mod config;
mod convert;
mod dates;
mod pages;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::HttpClient;
use connector_core::{
    CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, Result, Roles,
    SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{FeedCursor, FeedState, RssCheckpoint};
pub use config::{DEFAULT_MAX_ENTRIES, DEFAULT_MAX_FILE_SIZE, RssConfig, RssCredentials};

use pages::{Feed, Reader};

/// The registry key of the RSS connector.
pub const SOURCE: &str = "rss";

/// Reads RSS, Atom and JSON feeds. Built from an [`RssConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::rss::{RssConfig, RssConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = RssConfig::new(["https://blog.rust-lang.org/feed.xml"]);
/// let connector = RssConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RssConnector {
    config: RssConfig,
    reader: Reader,
}

impl RssConnector {
    /// A connector for `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of
    /// `config`.
    pub fn new(config: RssConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let max_body = config.max_file_size.get();
        let http = HttpClient::builder(SOURCE)
            .network_policy(config.network_policy()?)
            .max_body_bytes(max_body)
            .build()?;
        let pages = if config.fetch_articles {
            HttpClient::builder(SOURCE)
                .network_policy(config.article_network_policy()?)
                .max_body_bytes(max_body)
                .build()?
        } else {
            http.clone()
        };
        let feeds: Vec<Feed> = config.feeds().into_iter().map(Feed::new).collect();
        let reader = Reader {
            client: client::FeedClient::new(http, &pages, max_body),
            feeds: Arc::new(feeds),
            max_entries: usize::try_from(config.max_entries.get()).unwrap_or(usize::MAX),
            fetch_articles: config.fetch_articles,
        };
        Ok(Self { config, reader })
    }

    /// The configuration.
    pub fn config(&self) -> &RssConfig {
        &self.config
    }
}

impl fmt::Display for RssConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reader.feeds.as_slice() {
            [one] => write!(f, "{SOURCE}:{}", one.key),
            many => write!(f, "{SOURCE}:{} feeds", many.len()),
        }
    }
}

#[async_trait]
impl Connector for RssConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self).checkpointed().fingerprint_skip().into()
    }

    /// Each feed (its URL, the query replaced by a hash), when there is more than one.
    fn partitions(&self) -> Vec<String> {
        if self.reader.feeds.len() > 1 {
            self.reader.feeds.iter().map(|f| f.key.clone()).collect()
        } else {
            Vec::new()
        }
    }

    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if self.reader.feeds.len() < 2 {
            return None;
        }
        let feed = self.reader.feeds.iter().find(|f| f.key == partition)?;
        let mut config = self.config.clone();
        config.feed_url = vec![feed.url.to_string()].into();
        Some(Arc::new(Self::new(config).ok()?))
    }

    /// Fetches and parses every feed (no validators sent).
    ///
    /// # Errors
    /// `NotFound` for a feed that is not there, `InvalidData` for one that is not a feed,
    /// `Unavailable` when its server cannot be reached, each naming the feed and its
    /// `feed_url` entry.
    async fn check(&self) -> Result<()> {
        pages::check(&self.reader).await
    }
}

impl CheckpointedConnector for RssConnector {
    type Checkpoint = RssCheckpoint;

    fn initial_checkpoint(&self) -> RssCheckpoint {
        RssCheckpoint::start()
    }

    /// The validators the finished run's answers carried: the next incremental run asks each
    /// feed whether it changed since.
    fn carry_over(&self, last: &RssCheckpoint) -> Option<RssCheckpoint> {
        last.carried()
    }

    fn load_from_checkpoint(
        &self,
        from: RssCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<RssCheckpoint>>> {
        pages::checkpointed(&self.reader, from, window, ctx)
    }
}
