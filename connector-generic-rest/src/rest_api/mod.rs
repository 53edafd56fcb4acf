//! Source `"rest_api"`: any JSON REST API, configured rather than coded.
//!
//! - `config.rs`: [`RestApiConfig`], RAGFlow's fields and value shapes plus ours;
//! - `client.rs`: requests, auth, pagination parameters, one page at a time;
//! - `model.rs`: field paths, JSONPath, finding the items in a response;
//! - `convert.rs`: item → [`Document`](connector_core::Document);
//! - `pages.rs`: the page walk through core's page pipeline, and the id listing;
//! - `checkpoint.rs`: [`RestApiCheckpoint`], the next page's position.

mod auth;
mod checkpoint;
mod client;
mod config;
mod convert;
mod direct;
#[cfg(test)]
mod json_gen;
mod lenient;
mod model;
mod node;
mod pages;
mod raw_page;
mod syntax;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    CheckpointedBatch, CheckpointedConnector, Connector, Error, Registry, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use auth::{AuthConfig, AuthType, Credentials};
pub use checkpoint::{At, Learned, Position, RestApiCheckpoint};
pub use config::{
    ErrorPath, HttpMethod, KeyValues, PaginationConfig, PaginationType, RestApiConfig, SinceConfig,
    SinceFormat, TypeHint,
};

use client::RestClient;
use convert::Mapping;

/// The registry key.
pub const SOURCE: &str = "rest_api";

/// Registers `rest_api`.
pub fn register(registry: &mut Registry) {
    registry.register::<RestApiConfig, _>(
        SOURCE,
        "Any JSON REST API, configured rather than coded",
        |cfg| Ok(Box::new(RestApiConnector::new(cfg)?)),
    );
}

/// The `rest_api` connector. Cheap to clone.
///
/// Loads every item of a paginated JSON endpoint; polls a window by the items' modification
/// time (`poll_timestamp_field`) or the server's filter (`since`), and with neither reads every
/// item, of which the sync delivers only the new and changed (what that costs: the crate
/// docs, *Incremental syncs*); resumes from the next page's position; lists every id for
/// prune.
#[derive(Clone)]
pub struct RestApiConnector {
    client: RestClient,
    mapping: Arc<Mapping>,
}

impl RestApiConnector {
    /// A connector over a parsed config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) for a config that [`from_json`](connector_core::config::from_json)
    /// would refuse (build configs through it or the registry to get every problem at once).
    pub fn new(config: RestApiConfig) -> Result<Self> {
        use connector_core::ConnectorConfig;
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let mapping = Arc::new(Mapping::new(&config).map_err(|e| e.with_connector(SOURCE))?);
        Ok(Self {
            client: RestClient::new(config)?.with_plan(mapping.plan()),
            mapping,
        })
    }

    /// `items_path` as parsed, with its `$`: what a learned place is kept with
    /// ([`Position::place_for`]). `None` for a path without a filter, which never reads a
    /// place and holds none (review25 F5).
    fn place_path(&self) -> Option<&str> {
        let path = self.client.endpoint.items_path.as_ref();
        path.filter(|p| p.filtered()).map(|p| p.as_str())
    }
}

impl fmt::Display for RestApiConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = connector_core::error::redact_url(&self.client.endpoint.cfg.url);
        write!(f, "{SOURCE} {url}")
    }
}

impl fmt::Debug for RestApiConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestApiConnector")
            .field("config", &self.client.endpoint.cfg)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Connector for RestApiConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self).checkpointed().slim().into()
    }

    /// Fetches the first page: 401/403 stay auth errors, 404 and other 4xx, a non-JSON body
    /// and an `items_path` the body's shape does not fit (a name it requires missing, a
    /// scalar where it needs a list; an empty or `null` list is an empty page) become
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) errors naming the field, and
    /// connection failures stay [`ErrorKind::Unavailable`](connector_core::ErrorKind::Unavailable).
    /// A sub-response of a batch or multi-search answer (`_msearch`, `$batch`) that failed
    /// is reported as its status says: a throttle as
    /// [`ErrorKind::RateLimited`](connector_core::ErrorKind::RateLimited) with its wait, an
    /// outage as [`ErrorKind::Unavailable`](connector_core::ErrorKind::Unavailable), a 401/403
    /// as an auth error, and a refused sub-request (400, 422) as invalid data, which "Test
    /// Connection" reports as [`ErrorKind::Config`](connector_core::ErrorKind::Config).
    /// A gone sub-response (404, 410) beside ones that answered, which a sync passes (with
    /// a warning), is reported as [`ErrorKind::Config`](connector_core::ErrorKind::Config)
    /// too, naming it: a rolled-off index passes, but a typo in one index name should not;
    /// unless the path's own filter leaves it out (review71 L1).
    ///
    /// An error's [`field`](connector_core::Error::field) is the setting's name as this
    /// config spells it, relative to the config (`url`, `items_path`, `request_body`,
    /// `pagination_config.request_body`, `query_params`), not a path into a host API's
    /// request: a host that nests the config (under `config`) prefixes it (`config.url`).
    async fn check(&self) -> Result<()> {
        self.client.check().await
    }
}

impl CheckpointedConnector for RestApiConnector {
    type Checkpoint = RestApiCheckpoint;

    fn initial_checkpoint(&self) -> RestApiCheckpoint {
        RestApiCheckpoint {
            next: Some(self.client.endpoint.start()),
            learned: Learned::default(),
        }
    }

    /// The initial checkpoint with what the finished run learned of the API (where its items
    /// sit, the error members its pages with items carried): an incremental run that finds
    /// nothing new learns none itself, and would fail a page with a status envelope it
    /// cannot tell from an error (review15 N5). `None` when nothing was learned.
    fn carry_over(&self, last: &RestApiCheckpoint) -> Option<RestApiCheckpoint> {
        let learned = match &last.next {
            Some(pos) => Learned::of(pos),
            None => last.learned.clone(),
        };
        if learned.is_empty() {
            return None;
        }
        // Only what was learned: the start's `at` is the current config's where the run
        // starts (`load_from_checkpoint`), and the place is a hint until that run learns its
        // own, dropped when it was learned for another `items_path` (review18 R2, R3).
        let mut start = self.client.endpoint.start();
        // An untagged place (fix11-fix13) is the current path's hint, as where a run starts;
        // a plain path carries none.
        let path = self.place_path();
        if path.is_some() && learned.place_for.as_deref().is_none_or(|p| Some(p) == path) {
            start.carried = learned.place;
            start.place_for = path.filter(|_| start.carried.is_some()).map(str::to_owned);
        }
        start.usual = learned.usual;
        if start.carried.is_none() && start.usual.is_empty() {
            return None;
        }
        Some(RestApiCheckpoint {
            next: Some(start),
            learned: Learned::default(),
        })
    }

    /// A position no page was fetched from (`pages` 0: an initial or carried checkpoint)
    /// starts where the current config starts: a carried checkpoint holds only what was
    /// learned, never the previous config's URL, page or cursor (review18 R2).
    fn load_from_checkpoint(
        &self,
        mut from: RestApiCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<RestApiCheckpoint>>> {
        if let Some(pos) = from.next.as_mut() {
            if pos.pages == 0 {
                pos.at = self.client.endpoint.start().at;
            }
            // A place written before the path was kept with it (fix11-fix13's formats) is
            // a hint, as a carried one (review20 F3: dropped, a record map with word keys
            // failed every run after the upgrade); one learned for another path is learned
            // again (review18 R3); a plain path holds none, else no page would replace an
            // untagged one (review25 F5).
            let path = self.place_path();
            if pos.place_for.is_none() {
                pos.carried = pos.place.take().or(pos.carried.take());
                pos.place_for = path.filter(|_| pos.carried.is_some()).map(str::to_owned);
            }
            if path.is_none() || pos.place_for.as_deref() != path {
                pos.place = None;
                pos.carried = None;
                pos.place_for = None;
            }
        }
        pages::load(&self.client, &self.mapping, from, window, &ctx)
    }
}

impl SlimConnector for RestApiConnector {
    /// Every id; fails rather than list a partial set (an item without `id_field`, or more
    /// pages than `max_pages`), since prune deletes whatever is not listed.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.client, &self.mapping, &ctx)
    }
}
