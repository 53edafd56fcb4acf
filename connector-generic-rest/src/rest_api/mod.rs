//! Source `"rest_api"`: any JSON REST API, configured rather than coded.
//!
//! - `config.rs`: [`RestApiConfig`], RAGFlow's fields and value shapes plus ours;
//! - `client.rs`: requests, auth, pagination parameters, one page at a time;
//! - `model.rs`: field paths, JSONPath, finding the items in a response;
//! - `convert.rs`: item → [`Document`](connector_core::Document);
//! - `checkpoint.rs`: [`RestApiCheckpoint`], the next page's position.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::{PageLimit, convert_blocking, paginate, read_ahead};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, ErrorKind, Registry, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

pub use checkpoint::{At, Position, RestApiCheckpoint};
pub use config::{
    AuthConfig, AuthType, Credentials, HttpMethod, KeyValues, PaginationConfig, PaginationType,
    RestApiConfig, SinceConfig, SinceFormat, TypeHint,
};

use client::RestClient;
use convert::Mapping;

/// The registry key.
pub const SOURCE: &str = "rest_api";

/// RAGFlow's default page bound.
const DEFAULT_MAX_PAGES: u64 = 1000;

/// Pages converted at once.
const CONVERT_CONCURRENCY: usize = 2;

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
/// Loads every item of a paginated JSON endpoint; polls a window when items carry a
/// modification time (`poll_timestamp_field`) or the server filters by one (`since`); resumes
/// from the next page's position; lists every id for prune.
#[derive(Clone)]
pub struct RestApiConnector {
    client: RestClient,
    mapping: Arc<Mapping>,
}

impl RestApiConnector {
    /// A connector over a parsed config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a config that [`from_json`](connector_core::config::from_json)
    /// would refuse (build configs through it or the registry to get every problem at once).
    pub fn new(config: RestApiConfig) -> Result<Self> {
        use connector_core::ConnectorConfig;
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let mapping = Arc::new(Mapping::new(&config).map_err(|e| e.with_connector(SOURCE))?);
        Ok(Self {
            client: RestClient::new(config)?,
            mapping,
        })
    }

    fn can_poll(&self) -> bool {
        self.mapping.has_timestamp() || self.client.endpoint.cfg.since.is_some()
    }

    fn max_pages(&self) -> u64 {
        self.client
            .endpoint
            .cfg
            .max_pages
            .unwrap_or(DEFAULT_MAX_PAGES)
    }

    /// Pages from `from`, converted: documents in the window (all without one), failures for
    /// malformed entries, and the checkpoint after each page.
    fn pages(
        &self,
        from: Option<Position>,
        window: Option<TimeWindow>,
        ctx: &SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<RestApiCheckpoint>>> {
        let Some(from) = from else {
            return futures::stream::empty().boxed();
        };
        if window.is_some() && !self.can_poll() {
            let err = Error::new(
                ErrorKind::Config,
                "an incremental sync needs `poll_timestamp_field` (or a server-side `since` filter); this config has neither",
            )
            .with_field("poll_timestamp_field")
            .with_connector(SOURCE);
            return futures::stream::once(async move { Err(err) }).boxed();
        }
        let client = self.client.with_context(ctx);
        let mapping = Arc::clone(&self.mapping);
        let since = window
            .filter(|_| client.endpoint.cfg.since.is_some())
            .map(|w| w.start);
        let limit = PageLimit::stop_after(self.max_pages().saturating_sub(from.pages));
        let cancel = ctx.cancellation().clone();
        // The next page is fetched while this one is converted (each fetch depends only on the
        // position the previous one returned).
        let pages = read_ahead(paginate(from, limit, move |pos| {
            let client = client.clone();
            let cancel = cancel.clone();
            async move {
                if cancel.is_cancelled() {
                    return Err(
                        Error::new(ErrorKind::Cancelled, "cancelled").with_connector(SOURCE)
                    );
                }
                client.fetch_page(pos, since).await
            }
        }));
        // Conversion (HTML to Markdown above all) costs more than the fetch: two pages at a
        // time, off the runtime threads where there are cores to spare.
        convert_blocking(pages, CONVERT_CONCURRENCY, move |page| {
            let mut documents = Vec::with_capacity(page.items.len());
            let mut failures = Vec::new();
            for (i, item) in page.items.iter().enumerate() {
                match mapping.convert(item, i) {
                    Ok(doc) => {
                        let keep = match (window, mapping.has_timestamp()) {
                            (Some(w), true) => doc.updated_at.is_some_and(|t| w.contains(t)),
                            _ => true,
                        };
                        if keep {
                            documents.push(doc);
                        }
                    }
                    Err(f) => failures.push(*f),
                }
            }
            CheckpointedBatch::new(
                Batch::with_parts(documents, failures, Vec::new()),
                RestApiCheckpoint { next: page.next },
            )
        })
        .boxed()
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
        Roles::of(self)
            .checkpointed()
            .poll_if(self.can_poll())
            .slim()
            .into()
    }

    /// Fetches the first page: 401/403 stay auth errors, 404 and other 4xx, a non-JSON body
    /// and an `items_path` that matches nothing become [`ErrorKind::Config`] errors naming the
    /// field, and connection failures stay [`ErrorKind::Unavailable`].
    async fn check(&self) -> Result<()> {
        let client = self.client.clone();
        match client.fetch_page(client.endpoint.start(), None).await {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.kind() {
                ErrorKind::NotFound => Error::new(
                    ErrorKind::Config,
                    format!("the endpoint was not found: {}", e.message()),
                )
                .with_field("url")
                .with_connector(SOURCE)
                .with_cause(e),
                ErrorKind::InvalidData => {
                    let field = e.field().unwrap_or("url").to_owned();
                    Error::new(
                        ErrorKind::Config,
                        format!(
                            "the endpoint's answer does not fit the config: {}",
                            e.message()
                        ),
                    )
                    .with_field(field)
                    .with_connector(SOURCE)
                    .with_cause(e)
                }
                _ => e,
            }),
        }
    }
}

impl CheckpointedConnector for RestApiConnector {
    type Checkpoint = RestApiCheckpoint;

    fn initial_checkpoint(&self) -> RestApiCheckpoint {
        RestApiCheckpoint {
            next: Some(self.client.endpoint.start()),
        }
    }

    fn load_from_checkpoint(
        &self,
        from: RestApiCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<RestApiCheckpoint>>> {
        self.pages(from.next, window, &ctx)
    }
}

impl SlimConnector for RestApiConnector {
    /// Every id; fails rather than list a partial set (an item without `id_field`, or more
    /// pages than `max_pages`), since prune deletes whatever is not listed.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let client = self.client.with_context(&ctx);
        let mapping = Arc::clone(&self.mapping);
        read_ahead(paginate(
            self.client.endpoint.start(),
            PageLimit::fail_after(self.max_pages()),
            move |pos| {
                let client = client.clone();
                async move { client.fetch_page(pos, None).await }
            },
        ))
        .and_then(move |page| {
            let ids: Result<Vec<SlimDocument>> = page
                .items
                .iter()
                .filter(|v| v.is_object())
                .map(|item: &Value| {
                    mapping
                        .id(item)
                        .map(SlimDocument::new)
                        .map_err(|e| e.with_connector(SOURCE))
                })
                .collect();
            futures::future::ready(ids)
        })
        .boxed()
    }
}
