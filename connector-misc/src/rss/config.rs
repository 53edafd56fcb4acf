//! [`RssConfig`]: which feeds, with RAGFlow's field name (`feed_url`), and how much of each to
//! read.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::StringList;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// A feed body or an article page larger than this is a failure unless configured
/// otherwise: 20 MiB, RAGFlow's `BLOB_STORAGE_SIZE_THRESHOLD` (its Go connector caps feeds at
/// 32 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Entries read from one feed unless configured otherwise. Feeds carry their latest 10 to a
/// few hundred entries; the cap keeps a runaway feed from filling a store.
pub const DEFAULT_MAX_ENTRIES: u32 = 10_000;

/// RAGFlow sends `credentials: {}` for this source: a feed needs none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RssCredentials {}

/// The configuration of the RSS connector (source `"rss"`), as RAGFlow stores it, plus what
/// RAGFlow does not have (several feeds, article fetch, caps, the network policy).
///
/// ```
/// use connector_misc::rss::RssConfig;
///
/// // RAGFlow's form: one URL, its default batch size.
/// let config: RssConfig = connector_core::config::from_json(serde_json::json!({
///     "feed_url": "https://blog.rust-lang.org/feed.xml",
///     "batch_size": 2,
/// }))?;
/// assert_eq!(config.feed_url.len(), 1);
/// assert!(!config.fetch_articles);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RssConfig {
    /// The feed's address (RSS 2.0, RSS 1.0/RDF, Atom or JSON Feed), or several: a JSON
    /// array, or one string with the URLs separated by commas or line breaks. With more than
    /// one, each feed is a partition (a job of its own).
    #[schemars(example = &"https://blog.rust-lang.org/feed.xml")]
    pub feed_url: StringList,
    /// RAGFlow's `credentials` (always empty for this source); accepted and unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<RssCredentials>,
    /// Fetch each entry's linked page and deliver it as Markdown instead of the feed's own
    /// content or summary (default false; RAGFlow delivers the feed's text only). Each page
    /// is capped by `max_file_size` and decoded from the charset it declares; an entry whose
    /// page cannot be read is a failure naming it, one that links to something other than
    /// HTML or text (a PDF, an MP3) keeps its own text. Pages are asked with a shorter
    /// patience than feeds (30 s, one `Retry-After` waited at most 10 s), and only at the
    /// hosts the network policy allows (never private addresses unless in `allowed_hosts`).
    #[serde(default)]
    #[schemars(example = &false)]
    pub fetch_articles: bool,
    /// Entries read from one feed: the newest by their dates when the feed holds more (feeds
    /// usually list the newest first, some the oldest); the rest are left out with a warning.
    #[serde(default = "default_max_entries")]
    #[schemars(range(min = 1, max = 1_000_000), example = &10_000)]
    pub max_entries: NonZeroU32,
    /// Largest feed body, and with `fetch_articles` largest article page, in bytes; a larger
    /// feed is a failure naming it (the other feeds are read), a larger page a failure of
    /// its entry.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(min = 1, max = connector_core::config::limits::MAX_BYTES), example = &20_971_520)]
    pub max_file_size: NonZeroU64,
    #[doc = "Hosts this connector may reach although they are not public addresses (a feed \
     on the company network: `intranet.example`, `10.1.2.3`, `10.20.0.0/16`). With \
     `fetch_articles`, linked pages may reach only the entries that name a feed's own host \
     (another feed's links must not pull intranet pages into the index)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["intranet.example"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never from the JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_max_entries() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_MAX_ENTRIES).unwrap_or(NonZeroU32::MIN)
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

impl RssConfig {
    /// These feeds, every other setting at its default.
    pub fn new<S: Into<String>>(feed_urls: impl IntoIterator<Item = S>) -> Self {
        Self {
            feed_url: feed_urls.into_iter().collect(),
            credentials: None,
            fetch_articles: false,
            max_entries: default_max_entries(),
            max_file_size: default_max_file_size(),
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The policy every request follows: the host's if it set one, else public addresses plus
    /// `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// The policy article pages (`fetch_articles`) follow: like
    /// [`network_policy`](Self::network_policy), but of `allowed_hosts` only the entries that
    /// name a configured feed's host, so that one feed's links cannot have a page of another
    /// private host fetched and indexed (an intranet feed's own pages still come). A network
    /// (`10.20.0.0/16`) opens feeds only; name the feed's host to open its pages.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn article_network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        let hosts: Vec<String> = self
            .feeds()
            .iter()
            .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
            .collect();
        let allowed: Vec<&String> = self
            .allowed_hosts
            .iter()
            .filter(|h| hosts.contains(&h.trim().to_ascii_lowercase()))
            .collect();
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &allowed)
    }

    /// The feeds, parsed, in config order without repeats (a URL's fragment, which never
    /// reaches the server, is dropped). Entries that do not parse are left out:
    /// [`validate`](ConnectorConfig::validate) names them.
    pub fn feeds(&self) -> Vec<Url> {
        let mut out: Vec<Url> = Vec::new();
        for raw in &self.feed_url {
            if let Ok(mut url) = Url::parse(raw.trim()) {
                url.set_fragment(None);
                if !out.contains(&url) {
                    out.push(url);
                }
            }
        }
        out
    }
}

impl fmt::Debug for RssConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A feed URL may carry a token in its query (private feeds): never printed.
        let feeds: Vec<String> = self.feeds().iter().map(super::convert::feed_key).collect();
        f.debug_struct("RssConfig")
            .field("feed_url", &feeds)
            .field("fetch_articles", &self.fetch_articles)
            .field("max_entries", &self.max_entries)
            .field("max_file_size", &self.max_file_size)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for RssConfig {
    /// Honoured: the connector's one HTTP client is built with it.
    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    /// Checks the shape only; whether the feeds answer is for
    /// [`check`](connector_core::Connector::check).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.feed_url.is_empty() {
            problems.push(FieldError::new("feed_url", "is required: a feed's URL"));
        }
        for (n, raw) in self.feed_url.iter().enumerate() {
            let path = if self.feed_url.len() == 1 {
                "feed_url".to_owned()
            } else {
                format!("feed_url[{n}]")
            };
            match Url::parse(raw.trim()) {
                Ok(url) if !matches!(url.scheme(), "http" | "https") || !url.has_host() => {
                    problems.push(FieldError::new(path, "must be an http or https URL"));
                }
                Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                    problems.push(FieldError::new(
                        path,
                        "must not carry a login (user:password@)",
                    ));
                }
                Ok(_) => {}
                Err(e) => problems.push(FieldError::new(
                    path,
                    format!("must be an http or https URL ({e})"),
                )),
            }
        }
        problems.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        problems
    }
}
