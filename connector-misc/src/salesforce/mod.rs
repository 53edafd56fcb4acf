//! The Salesforce connector (source `"salesforce"`): the records of configured objects
//! (accounts, contacts, opportunities, cases, knowledge articles…), one Markdown document
//! each, over Salesforce's REST API.
//!
//! - **Session**: the OAuth 2.0 client credentials flow (`POST
//!   {credentials.instance_url}/services/oauth2/token`, `grant_type=client_credentials` with
//!   the connected app's `client_id` and `client_secret`), or with `credentials.username` and
//!   `credentials.password` the username-password flow (`grant_type=password`, the password
//!   and `security_token` concatenated). Every later request goes to the `instance_url` the
//!   token came with (https, and within the network policy: `allowed_hosts`). The token is
//!   core's [`OAuthToken`](connector_core::http::OAuthToken) (its answer's `instance_url` and
//!   `id` read by its `on_answer` hook): a 401 (`INVALID_SESSION_ID`: the session expired)
//!   asks for one new token and tries once more.
//! - **Fields**: `GET /services/data/{api_version}/sobjects/{Object}/describe` once per run
//!   and object picks the fields: those the describe lists (only fields the run-as user may
//!   read), less `base64` files, compound `address` and `location` fields (their parts are
//!   fields of their own) and hidden ones; fields past what one query URL holds (16,384
//!   bytes) are read by `WHERE Id IN (…)` for each page's records. The object's name field (`Name`, `CaseNumber`,
//!   `Title`) is the title. Object and field names are checked as API names before they are
//!   put in a query.
//! - **Listing**: per object, `SELECT … FROM {Object} [WHERE …] ORDER BY SystemModstamp, Id
//!   LIMIT {page_size}`, pages followed by `nextRecordsUrl` while `done` is false, then the
//!   next query from the last record: `SystemModstamp > t OR (SystemModstamp = t AND Id >
//!   id)`. The checkpoint ([`SalesforceCheckpoint`]) is that keyset position and the object,
//!   never a query locator (which expires). Knowledge article objects (`…__kav`) are read
//!   as their published versions (`PublishStatus = 'Online'`); a poll hands on as deleted the
//!   versions archived within its window (by `ArchivedDate`), which republishing leaves.
//! - **Polls** add `SystemModstamp >= start AND SystemModstamp < end` (UTC literals) and start
//!   [`MIN_OVERLAP`] (ten minutes) before the last run ended: the stamps are Salesforce's
//!   clock, set when a transaction starts, and a long transaction commits later; the overlap
//!   costs a listing only (fingerprints from the listed fields).
//! - **Deletions**: a poll's window also asks `GET …/sobjects/{Object}/deleted/?start=&end=`
//!   and hands the ids on as [`Batch::deleted`](connector_core::Batch::deleted); Salesforce
//!   lists deletions of the last 30 days only (15 in the recycle bin), so an older window
//!   leaves them to prune ([`SlimConnector`]: `SELECT Id` of every object, a keyset on `Id`
//!   asked again from the last id when a query's cursor is lost).
//! - **Documents**: id `salesforce:{Id}` (Salesforce ids are unique within an org across
//!   objects), `# {name}` then a `##` section per long-text field (rich text through HTML to
//!   Markdown), every other non-empty field in the front matter and `metadata.fields`; link
//!   `{instance_url}/{Id}`; `updated_at` the record's `SystemModstamp`; parent the record's
//!   account (`AccountId`), else its `ParentId` (an account's parent, a case comment's case).
//! - **Children** (`child_relationships`, as Onyx merges first-level children): each
//!   configured relationship of an object (its describe's `childRelationships`) is a subquery
//!   of the object's query, `(SELECT … FROM Contacts ORDER BY Id LIMIT 200)`, its fields
//!   picked by the child object's describe; a parent with more children than one answer
//!   holds gets the rest by the subquery's own `nextRecordsUrl`. The children are `##`
//!   sections of the parent's Markdown (`### {child}` each, fields as labelled lines, long
//!   text as paragraphs), their ids in `metadata.children`, and part of the parent's
//!   version. A child's change does not stamp its parent, so a poll also asks
//!   `queryAll` (deleted records too) for the children stamped in its window, `SELECT Id,
//!   SystemModstamp, {parent field} … WHERE {parent field} != null` by the same keyset, and
//!   sends their parents again (`WHERE Id IN (…)`, a hundred a query) unless the listing
//!   sent them already: one query per relationship and poll, plus one per hundred parents.
//! - **Permissions**: Salesforce's sharing (role hierarchy, sharing rules, manual shares) is
//!   not exposed per record at a reasonable cost, so no user is granted a document: `access`
//!   is empty (nobody) unless `org_access` is on, which grants the group
//!   `salesforce:org:{orgId}` (everyone of the org): a choice for objects the whole org may
//!   read.
//! - **Limits**: `requests_per_second` spreads requests (default 10); Salesforce's limit is a
//!   24-hour allowance per org, and a 403 `REQUEST_LIMIT_EXCEEDED` (it sends no 429 for it) is
//!   a rate limit that holds every request [`REQUEST_LIMIT_WAIT`] (five minutes). `INVALID_FIELD`
//!   and `INVALID_TYPE` name the object and field Salesforce printed.
//! - **Refetch** ([`RefetchConnector`]): ids sorted to their object by key prefix, then
//!   `WHERE Id IN (…)`.

mod client;
mod config;
mod convert;
mod pages;
mod records;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::HttpClient;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use client::REQUEST_LIMIT_WAIT;
pub use config::{
    DEFAULT_API_VERSION, DEFAULT_OBJECTS, DEFAULT_PAGE_SIZE, DEFAULT_REQUESTS_PER_SECOND,
    MAX_CHILD_RELATIONSHIPS, SalesforceConfig, SalesforceCredentials,
};
pub use pages::{Cursor, SalesforceCheckpoint};

use client::Client;
use pages::Walk;

/// The registry key of the Salesforce connector.
pub const SOURCE: &str = "salesforce";

/// How long before the last window's end an incremental run starts: `SystemModstamp` is
/// stamped when a transaction starts, and a long one (a batch job's chunk, a data load; Apex
/// allows ten minutes) commits records stamped minutes before the last run ended, which the
/// run could not see (Salesforce's `getUpdated` reports such a transaction's start as
/// `latestDateCovered` for this reason). The overlap costs a listing only (fingerprints).
pub const MIN_OVERLAP: Duration = Duration::from_secs(10 * 60);

/// Reads records of a Salesforce org. Built from a [`SalesforceConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::salesforce::{SalesforceConfig, SalesforceConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let url = url::Url::parse("https://acme.my.salesforce.com").unwrap();
/// let config = SalesforceConfig::new(url, "3MVG9rZjd7MXFdLhVx0c", "F4D1E0C9B8A7");
/// let connector = SalesforceConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SalesforceConnector {
    config: SalesforceConfig,
    walk: Walk,
}

impl SalesforceConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: SalesforceConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        // The API allowance is the org's: connectors of one org share a gate key.
        let key = config
            .credentials
            .instance_url
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let http = HttpClient::builder(SOURCE)
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_second, Duration::from_secs(1))
            .rate_gate_key(key)
            .build()?;
        let client = Client::new(
            http,
            config.credentials.clone(),
            config.api_version.trim().to_owned(),
        )?;
        let walk = Walk {
            client,
            objects: config.object_names(),
            defaults: config.objects.is_empty(),
            children: config.child_relationships.clone(),
            org_access: config.org_access,
            limit: config.page_size.get(),
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &SalesforceConfig {
        &self.config
    }
}

impl fmt::Display for SalesforceConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SOURCE}:{}",
            self.config
                .credentials
                .instance_url
                .host_str()
                .unwrap_or_default()
        )
    }
}

#[async_trait]
impl Connector for SalesforceConnector {
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

    /// Gets a token, then the describe of every object (each exists and may be read).
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.client_secret` (or `credentials.password`);
    /// `NotFound` naming `objects`; `PermissionDenied`; `Unavailable` when Salesforce
    /// cannot be reached.
    async fn check(&self) -> Result<()> {
        self.walk.views().await.map(|_| ())
    }
}

impl CheckpointedConnector for SalesforceConnector {
    type Checkpoint = SalesforceCheckpoint;

    fn initial_checkpoint(&self) -> SalesforceCheckpoint {
        SalesforceCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: SalesforceCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<SalesforceCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl RefetchConnector for SalesforceConnector {
    /// The records with these ids again; a record deleted meanwhile yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}

impl SlimConnector for SalesforceConnector {
    /// Every record id of every object; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}
