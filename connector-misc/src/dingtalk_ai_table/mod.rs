//! The DingTalk AI Table connector (source `"dingtalk_ai_table"`): the records of every sheet
//! (data table) of one AI Table ("Notable") base, one Markdown document each, over DingTalk's
//! open API (`api.dingtalk.com`).
//!
//! - **Auth**: RAGFlow's `credentials.access_token` (a token lives two hours and cannot be
//!   renewed), or the app's `credentials.app_key` and `app_secret`, from which
//!   `POST /v1.0/oauth2/accessToken` gets a token (`expireIn` 7200 s) that core's
//!   [`OAuthToken`](connector_core::http::OAuthToken) renews a minute before it expires, and
//!   once more when DingTalk refuses it (401 or `InvalidAuthentication`); sent as
//!   `x-acs-dingtalk-access-token`. Every call reads as
//!   `operator_id` (a `unionId`).
//! - **Listing**: GetAllSheets (`GET /v1.0/notable/bases/{table_id}/sheets`), the fields of
//!   each sheet (`…/sheets/{id}/fields`, for the values' types), then ListRecords
//!   (`POST …/sheets/{id}/records/list`, `{"maxResults": 100, "nextToken"}`) until `hasMore`
//!   is false. The checkpoint ([`DingtalkAiTableCheckpoint`]) is the sheet's id and DingTalk's
//!   own `nextToken`; a token DingTalk no longer takes restarts that sheet.
//! - **Documents**: id `dingtalk_ai_table:{table_id}:{sheetId}:{recordId}` (RAGFlow's), parent
//!   `dingtalk_ai_table:{table_id}:{sheetId}`; title the first text field; front matter with
//!   `record_id`, `sheet`, `sheet_id`, `created_time`, `last_modified_time`, `created_by`,
//!   `last_modified_by` (unionIds) and every short field rendered by its type (dates from
//!   epoch milliseconds as UTC instants, or in `time_zone` at their offset and, for a field
//!   shown without a time, as the day; selects and users by name, URLs as `text <link>`,
//!   attachments by file name, links by record id; formula and lookup results as what they
//!   hold, a date when their formatter is a date's); long or multi-line text as `##` sections.
//!   ListRecords is asked for computed values (`calcFields`), so formula and lookup fields
//!   are in the documents rather than left out.
//!   Link: the base's page (the API gives no per-record URL).
//! - **Times**: `updated_at` is the record's `lastModifiedTime` (RAGFlow stamped `now()`, so
//!   no poll window ever held a record).
//! - **Incremental runs** (poll): ListRecords filters on field values only (its `filter`
//!   conditions name fields), not on the record's modified time, so a poll lists every record
//!   and keeps those whose `lastModifiedTime` is in the window. An edit to an old record moves
//!   its `lastModifiedTime`, so it is found. A formula, lookup or linked value that changes
//!   because *another* record changed moves no `lastModifiedTime`: polls miss it, a full run
//!   (whose fingerprint hashes the values) finds it, so schedule one now and then.
//! - **Fingerprint**: the record's id, `lastModifiedTime`, a hash of its fields and of the
//!   sheet's field names and types: an unchanged record costs no conversion.
//! - **Deletions** are left to prune ([`SlimConnector`]): every record id of every sheet; a
//!   record held but not listed is deleted only once GetRecord says it is gone (or its sheet
//!   is), since a `nextToken` that counts rows would skip a live record when another is
//!   deleted during the listing.
//! - **Refetch** ([`RefetchConnector`]): GetRecord (`GET …/records/{recordId}`) per id.
//! - **Limits**: `requests_per_second` (15 by default, under DingTalk's 20 per API and app);
//!   429 and `Forbidden.AccessDenied.QpsLimitForApi` are rate limits, waited out (the
//!   `Retry-After`, else a second); with a host's shared rate gate every connector of an app
//!   takes the key `dingtalk_ai_table:app:{app_key}` (DingTalk counts per app, whatever the
//!   base), one with a fixed token `dingtalk_ai_table:token:{hash of the token}`.
//! - **Permissions**: the API shows no per-record (or per-base) readers, so `access` holds
//!   only `access_groups`; without one a record is readable by nobody, never by everyone.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::HttpClient;
use connector_core::ids::hash128;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::DingtalkAiTableCheckpoint;
pub use config::{
    DEFAULT_API_BASE_URL, DEFAULT_REQUESTS_PER_SECOND, DingtalkAiTableConfig,
    DingtalkAiTableCredentials,
};

use client::Client;
use pages::Walk;

/// The registry key of the DingTalk AI Table connector.
pub const SOURCE: &str = "dingtalk_ai_table";

/// How long before the last window's end an incremental run starts
/// ([`Connector::min_overlap`]): `lastModifiedTime` is DingTalk's clock, not the host's.
pub const MIN_OVERLAP: Duration = Duration::from_secs(60);

/// Reads the records of an AI Table base. Built from a [`DingtalkAiTableConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::dingtalk_ai_table::{DingtalkAiTableConfig, DingtalkAiTableConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = DingtalkAiTableConfig::new("", "r1R7q3QmWew5lo02fxB7nxxxxx", "iPkgYyb0iSz6xxxx")
///     .with_app("dingxq8a7bz2kd5mw1pn", "app-secret");
/// let connector = DingtalkAiTableConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DingtalkAiTableConnector {
    config: DingtalkAiTableConfig,
    walk: Walk,
}

impl DingtalkAiTableConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: DingtalkAiTableConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let base = config.table_id.trim().to_owned();
        let http = HttpClient::builder(SOURCE)
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_second, Duration::from_secs(1))
            .rate_gate_key(gate_key(&config))
            .build()?;
        let api = match &config.api_base_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default API URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        let token = client::token(
            config.token().cloned(),
            config.app().map(|(k, s)| (k.to_owned(), s.clone())),
            Client::token_url(&api)?,
        );
        let client = Client::new(
            http,
            Arc::new(token),
            api,
            base.clone(),
            config.operator_id.trim().to_owned(),
        );
        let walk = Walk {
            client,
            base,
            only: config.sheets.iter().map(|s| s.trim().to_owned()).collect(),
            groups: config
                .access_groups
                .iter()
                .map(|g| g.trim().to_owned())
                .collect(),
            zone: config.zone(),
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &DingtalkAiTableConfig {
        &self.config
    }
}

/// The name of the connector's limit at a host's rate gate: DingTalk counts calls per app,
/// so every connector of one app shares it, whichever base it reads; a fixed token stands
/// for its app by a hash of it (never the token itself).
fn gate_key(config: &DingtalkAiTableConfig) -> String {
    match (config.app(), config.token()) {
        (Some((key, _)), _) => format!("app:{key}"),
        (None, Some(token)) => format!("token:{}", &hash128(token.expose())[..16]),
        (None, None) => format!("base:{}", config.table_id.trim()),
    }
}

impl fmt::Display for DingtalkAiTableConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.walk.base)
    }
}

#[async_trait]
impl Connector for DingtalkAiTableConnector {
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

    /// Lists the base's sheets (the configured ones exist) and one record of the first.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.access_token` or `credentials.app_secret`;
    /// `PermissionDenied` when the app or `operator_id` may not read the base; `NotFound`
    /// naming `sheets`, or for a base that does not exist; `Unavailable` when DingTalk
    /// cannot be reached.
    async fn check(&self) -> Result<()> {
        let sheets = self.walk.sheets().await?;
        if let Some(first) = sheets.first() {
            self.walk.client.records(&first.id, None, 1, false).await?;
        }
        Ok(())
    }
}

impl CheckpointedConnector for DingtalkAiTableConnector {
    type Checkpoint = DingtalkAiTableCheckpoint;

    fn initial_checkpoint(&self) -> DingtalkAiTableCheckpoint {
        DingtalkAiTableCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: DingtalkAiTableCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<DingtalkAiTableCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl RefetchConnector for DingtalkAiTableConnector {
    /// The records with these ids again, one GetRecord each; a record deleted yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}

impl SlimConnector for DingtalkAiTableConnector {
    /// Every record id of every (configured) sheet; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }

    /// Those of `ids` whose sheet is no longer listed, or that GetRecord says are gone: a
    /// record missed by a listing that ran during edits is never deleted.
    fn confirm_gone(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> futures::future::BoxFuture<'static, Result<Vec<String>>> {
        let walk = self.walk.clone();
        Box::pin(async move { walk.confirm_gone(ids, ctx).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_of_one_app_share_a_rate_gate_key_whatever_the_base() {
        let key = |config: DingtalkAiTableConfig| {
            let c = DingtalkAiTableConnector::new(config).unwrap_or_else(|e| panic!("{e}"));
            let url =
                Url::parse("https://api.dingtalk.com/v1.0/x").unwrap_or_else(|e| panic!("{e}"));
            c.walk.client.http().rate_gate_key(&url)
        };
        let app = |app: &str, base: &str| {
            key(DingtalkAiTableConfig::new("", base, "op1").with_app(app, "s3cret"))
        };
        let token = |token: &str, base: &str| key(DingtalkAiTableConfig::new(token, base, "op1"));
        assert_eq!(app("dingA", "baseA"), "dingtalk_ai_table:app:dingA");
        assert_eq!(app("dingA", "baseA"), app("dingA", "baseB"));
        assert_ne!(app("dingA", "baseA"), app("dingB", "baseA"));
        assert_eq!(token("tok-1", "baseA"), token("tok-1", "baseB"));
        assert_ne!(token("tok-1", "baseA"), token("tok-2", "baseA"));
        assert!(!token("tok-1", "baseA").contains("tok-1"));
    }
}
