//! The Airtable connector (source `"airtable"`): the records of one table of a base, one
//! Markdown document each, and the files of their attachment fields as documents of their
//! own, over Airtable's Web API.
//!
//! - **Listing**: `GET /v0/{baseId}/{tableIdOrName}?pageSize=100` (optionally one `view`),
//!   `offset` paging; the checkpoint ([`AirtableCheckpoint`]) is Airtable's own `offset`
//!   with the time it was handed out. Airtable's offsets are server-side iterators that
//!   expire on inactivity or a server restart (422 `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`;
//!   no lifetime is documented), so a resume follows one only while it is younger than
//!   [`OFFSET_TRUST`] (five minutes), and the listing starts over when it is older or
//!   Airtable refuses it, in a resume or mid-run: what was delivered comes again with the
//!   same version and the fingerprint lookup reports it unchanged.
//! - **Schema**: `GET /v0/meta/bases/{baseId}/tables` once per run gives the table's id (for
//!   links), its primary field (the title) and every field's type (how it is rendered). A
//!   token without `schema.bases:read` still reads records, typed by their values.
//! - **Documents**: a record is a Markdown document (`# primary field`, then a `##` section
//!   per text field in schema order; rich text kept as Airtable's Markdown) with front matter
//!   (`record_id`, `table`, `created_time`, `last_modified_time` and the metadata fields:
//!   selects, dates, numbers, checkboxes, collaborators, e-mail, URL, phone, formulas,
//!   lookups, rollups; every non-attachment field with
//!   `treat_all_non_attachment_fields_as_metadata`, Onyx's switch); the metadata fields are
//!   also in `metadata.fields`. Id `airtable:{recordId}`, link
//!   `https://airtable.com/{baseId}/{tableId}/{recordId}`. An attachment (`multipleAttachments`
//!   element) is a document of raw bytes, id `airtable:{recordId}:{attachmentId}` (RAGFlow's),
//!   its record as parent, downloaded while its page is read because Airtable's attachment
//!   URLs expire after two hours; one whose listed `size` is over `max_attachment_size` is a
//!   failure without a download (the body is capped too).
//! - **Times**: `updated_at` is the value of a last-modified-time field: `modified_time_field`,
//!   else a `lastModifiedTime` field of the table that watches every field (its
//!   `referencedFieldIds` empty). Without one `updated_at` is unset: `LAST_MODIFIED_TIME()`
//!   can filter but the API cannot return its value, and `createdTime` says nothing of edits.
//! - **Incremental runs** (poll) filter by last modification, never by creation (RAGFlow
//!   compared `createdTime`, so an edited record never came again):
//!   `filterByFormula=AND(IS_AFTER(t, lo), IS_BEFORE(t, hi))` where `t` is the field (its
//!   record's `CREATED_TIME()` while it is empty) or `LAST_MODIFIED_TIME()`, the bounds
//!   widened by a second each way, then filtered exactly on the field's value where there is
//!   one (without one the widened window decides, and the fingerprint absorbs the overlap).
//!   An edit to any non-computed field of an old record moves its last-modified time, so it
//!   is found. A change to a computed field only (a formula over `NOW()`, a lookup whose
//!   source record changed) moves no last-modified time and is found by the next full run.
//! - **Fingerprint**: a hash of the record's fields as listed (attachments by id, name, size
//!   and type: their URLs are signed anew on every listing), the table's field names and
//!   types and the metadata switch; an attachment's by its id, name, size and type. Both are
//!   known from the listing, so an unchanged record costs no conversion and an unchanged
//!   attachment no download.
//! - **Overlap**: an incremental run starts [`MIN_OVERLAP`] (a minute) before the last one
//!   ended: the times are Airtable's clock, not the host's.
//! - **Limits**: requests are kept to `requests_per_second` (Airtable's 5 per base by
//!   default); a 429 holds every request for 30 seconds ([`RATE_LIMITED_WAIT`], Airtable's
//!   documented penalty; its 429s carry no `Retry-After`) through core's client; with a
//!   host's shared rate gate every connector of the same base (any table, any token) takes
//!   the one key `airtable:{baseId}`, so several tables of a base keep together to the base's
//!   limit and wait together after a 429; a 401 names `credentials.airtable_access_token`.
//! - **Refetch** ([`RefetchConnector`]): the items that failed last time, listed again by
//!   `filterByFormula=OR(RECORD_ID()='rec…', …)` with `view`, so a record the view hides is
//!   not fetched by id around it.
//! - **Deletions** are left to prune ([`SlimConnector`]): every record id (and attachment id)
//!   from a listing that asks only for the primary and attachment fields.
//! - **Permissions**: Airtable's API shows no per-record permissions, so `access` is unset.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use connector_core::http::HttpClient;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::AirtableCheckpoint;
pub use client::RATE_LIMITED_WAIT;
pub use config::{
    AirtableConfig, AirtableCredentials, DEFAULT_API_BASE_URL, DEFAULT_MAX_ATTACHMENT_SIZE,
    DEFAULT_REQUESTS_PER_SECOND,
};

use client::{Client, ListQuery};
use pages::Walk;

/// The registry key of the Airtable connector.
pub const SOURCE: &str = "airtable";

/// How long after Airtable handed an `offset` out a resume still follows it; an older one is
/// not trusted (Airtable's iterators expire on inactivity, for an undocumented time) and the
/// listing starts over.
pub const OFFSET_TRUST: TimeDelta = TimeDelta::minutes(5);

/// How long before the last window's end an incremental run starts
/// ([`Connector::min_overlap`]): last-modified times are stamped by Airtable's clock, not the
/// host's, and a skew between them (or a listing that trails a write by a moment) would
/// otherwise put an edit made just after one run's end before the next run's start, where the
/// exact filter drops it for good. What the overlap lists again is unchanged by fingerprint.
pub const MIN_OVERLAP: Duration = Duration::from_secs(60);

/// Reads one table of an Airtable base. Built from an [`AirtableConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::airtable::{AirtableConfig, AirtableConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = AirtableConfig::new("patQ3YzJ7mVbW9xHk.0123", "appx3BqYz7Kd1LmNo", "Tasks");
/// let connector = AirtableConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AirtableConnector {
    config: AirtableConfig,
    walk: Walk,
}

impl AirtableConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: AirtableConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let base = config.base_id.trim().to_owned();
        // Airtable limits requests per base (5 a second, and a 429 stops the whole base for
        // 30 seconds): every connector of the same base, whatever its table or token, takes one
        // key at the host's shared rate gate, and connectors of other bases do not wait for it.
        let http = HttpClient::builder(SOURCE)
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_second, Duration::from_secs(1))
            .rate_limited_wait(RATE_LIMITED_WAIT)
            .rate_gate_key(base.as_str())
            .build()?;
        let api = match &config.api_base_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default API URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        let client = Client::new(
            http,
            config.credentials.airtable_access_token.clone(),
            api,
            base.clone(),
        );
        let walk = Walk {
            client,
            base,
            table: config.table_name_or_id.trim().to_owned(),
            view: config.view.clone(),
            modified_field: config.modified_time_field.clone(),
            all_metadata: config.treat_all_non_attachment_fields_as_metadata,
            attachments: config.include_attachments,
            max: config.max_attachment_size.get(),
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &AirtableConfig {
        &self.config
    }
}

impl fmt::Display for AirtableConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}/{}", self.walk.base, self.walk.table)
    }
}

#[async_trait]
impl Connector for AirtableConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn min_overlap(&self) -> Duration {
        MIN_OVERLAP
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .fingerprint_skip()
            .refetch()
            .into()
    }

    /// Reads the base's schema (the table and `modified_time_field` exist), then one record
    /// (with `view`, if set): the token is accepted and may read the table.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.airtable_access_token`; `PermissionDenied` when
    /// the token has no access to the base (Airtable answers the same for a base that does
    /// not exist); `NotFound` naming `table_name_or_id`, `modified_time_field` or `view`;
    /// `Unavailable` when Airtable cannot be reached.
    async fn check(&self) -> Result<()> {
        let view = self.walk.table_view().await?;
        let query = ListQuery {
            view: self.walk.view.clone(),
            formula: None,
            fields: None,
            page_size: 1,
        };
        self.walk
            .client
            .list(&view.table.id, &query, None)
            .await
            .map(|_| ())
    }
}

impl CheckpointedConnector for AirtableConnector {
    type Checkpoint = AirtableCheckpoint;

    fn initial_checkpoint(&self) -> AirtableCheckpoint {
        AirtableCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: AirtableCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<AirtableCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl RefetchConnector for AirtableConnector {
    /// The records and attachments with these ids again, listed by `RECORD_ID()` (50 records
    /// a request) within `view`; a record deleted or hidden by the view yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}

impl SlimConnector for AirtableConnector {
    /// Every record id and, with `include_attachments`, every attachment id; fails rather than
    /// come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_of_one_base_share_a_rate_gate_key_and_other_bases_do_not() {
        let key = |token: &str, base: &str, table: &str| {
            let c = AirtableConnector::new(AirtableConfig::new(token, base, table))
                .unwrap_or_else(|e| panic!("{e}"));
            let url = Url::parse("https://api.airtable.com/v0/x").unwrap_or_else(|e| panic!("{e}"));
            c.walk.client.http().rate_gate_key(&url)
        };
        let tasks = key("patA", "appx3BqYz7Kd1LmNo", "Tasks");
        assert_eq!(tasks, "airtable:appx3BqYz7Kd1LmNo");
        assert_eq!(tasks, key("patB", "appx3BqYz7Kd1LmNo", "Notes"));
        assert_ne!(tasks, key("patA", "appy3BqYz7Kd1LmNo", "Tasks"));
        assert!(!tasks.contains("patA"));
    }

    #[test]
    fn incremental_windows_overlap_by_a_minute_for_clock_skew() {
        let c = AirtableConnector::new(AirtableConfig::new("patA", "appx3BqYz7Kd1LmNo", "Tasks"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.min_overlap(), Duration::from_secs(60));
        assert!(
            c.roles().skips_unchanged(),
            "the overlap costs a listing only"
        );
    }
}
