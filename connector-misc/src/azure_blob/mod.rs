//! The Azure Blob Storage connector (source `"azure_blob"`): every blob of a container under a
//! prefix, one document each.
//!
//! Requests are the Blob service's REST API sent with core's [`HttpClient`], so Azure gets the
//! same retries (`503 ServerBusy`, `500 OperationTimedOut`, `429`), `Retry-After`, timeouts,
//! body caps and request counters as every other connector. They are authorised by Shared Key
//! (`sign.rs`: Microsoft's documented algorithm, HMAC-SHA256 over the canonicalized headers
//! and resource, tested against the documented examples) or by a SAS appended to the query as
//! given. The Azure SDK for Rust (`azure_storage_blob`) would bring its own HTTP pipeline, retry
//! policy and TLS stack beside core's, for two GET requests.
//!
//! - **Credentials**, as RAGFlow's: `credentials.connection_string` (Shared Key, or the SAS it
//!   carries; `UseDevelopmentStorage=true` too), `account_name` + `account_key`, or
//!   `container_url` + `sas_token`, chosen by `auth_mode` or else in that order; and, for
//!   accounts that refuse keys and SAS, a Microsoft Entra ID service principal
//!   (`auth_mode: "service_principal"`, `credentials.tenant_id` / `client_id` /
//!   `client_secret` with `account_name`): a token from
//!   `{authority_host}/{tenant}/oauth2/v2.0/token` (client credentials, scope
//!   `https://storage.azure.com/.default`, through core's
//!   [`OAuthToken`](connector_core::http::OAuthToken)), sent as `Authorization: Bearer` and
//!   kept until a minute before its expiry (or a 401). The container is `container_name` or
//!   RAGFlow's `credentials.container_name`.
//! - **Ids** are blob names, as RAGFlow's. The title is the name under `prefix` (`guide/
//!   intro.md`, so forty `README.md` are told apart), the link the blob's URL (never with the
//!   SAS: it opens only for a reader with access to the container) or `link_template` filled
//!   in (the portal's blob page, an intranet viewer), `updated_at` its
//!   `Last-Modified`; metadata holds `container`, `name`, `size`, `etag`, `content_type`,
//!   `prefix` and the blob's user metadata as `meta.{name}`. `access` is left unset: a
//!   container's readers are not listed by the Blob API (RBAC and SAS live elsewhere).
//! - **Listing**: List Blobs (`restype=container&comp=list`, `prefix`, `maxresults` =
//!   `page_size`, `marker` = the previous `NextMarker`), page by page, the next page listed
//!   while this one downloads, with `include=metadata`. Names ending in `/`, directories of a
//!   hierarchical namespace, Hadoop's folder stubs (`hdi_isfolder=true`), the filters,
//!   extensions outside `extensions` (RAGFlow's list when absent) and (unless
//!   `allow_images`) images are skipped.
//! - **Fingerprint**: from the ETag. Each page's ETags are asked of the host's fingerprints
//!   once, and an unchanged blob is reported as unchanged, never downloaded.
//! - **Window**: a poll lists the whole prefix and lets the ETag decide, so a blob renamed or
//!   moved on a hierarchical namespace (which keeps its `Last-Modified`) is found under its
//!   new name; the window saves no request, only lookups. `incremental_by_last_modified`
//!   takes only the blobs whose `Last-Modified` is in `[start, end)`, with that risk.
//! - **Size cap**: the listed `Content-Length` against `max_object_size` before downloading
//!   (a larger blob is a failure naming it), and the download capped there too. A blob in
//!   the Archive tier is a failure without a request.
//! - **Checkpoint**: [`AzureBlobCheckpoint`], the page's marker (and the last blob handed on
//!   when a page goes in parts, skipped past by identity, never by name order), so a killed
//!   run resumes where it stopped.
//! - **Errors**: `AuthenticationFailed` (a wrong key or signature, an expired SAS) is
//!   `Unauthenticated` naming the secret field; `AuthorizationPermissionMismatch` and the other
//!   `Authorization*` codes are `PermissionDenied` naming it with the permission needed;
//!   `ContainerNotFound` is `NotFound` naming the container field;
//!   `KeyBasedAuthenticationNotPermitted` is `Unauthenticated` saying the account refuses
//!   keys; a refused `x-ms-version` is `Config` naming `api_version`; a host clock off by
//!   over 15 minutes is named as such; a blob gone since the listing is skipped with a
//!   warning. A listing error ends the sync; a download error ends it only when
//!   core's policy says so.
//! - **Secrets**: the account key, the connection string and the SAS (and its `sig`) are
//!   [`Secret`](connector_core::Secret)s: in no `Debug`, error or log line; URLs in errors
//!   lose their query.
//!
//! # Cancel safety
//! Streams own an `Arc` of the client and commit nothing; dropping one drops the requests in
//! flight and loses nothing that was not acknowledged.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;
mod sign;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{HttpClient, HttpClientBuilder};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::AzureBlobCheckpoint;
pub use config::{
    AuthMode, AzureBlobConfig, AzureBlobCredentials, DEFAULT_AUTHORITY, DEFAULT_CONCURRENCY,
    DEFAULT_ENDPOINT_SUFFIX, DEFAULT_MAX_OBJECT_SIZE, DEFAULT_PAGE_SIZE, MAX_CONCURRENCY,
    MAX_PAGE_SIZE, RAGFLOW_EXTENSIONS, STORAGE_SCOPE,
};
pub use convert::{IMAGE_EXTENSIONS, TEXT_EXTENSIONS};
pub use sign::API_VERSION;

use client::AzureClient;
use pages::{Filters, Walk};

/// The registry key of the Azure Blob Storage connector.
pub const SOURCE: &str = "azure_blob";

/// Reads a container of Azure Blob Storage. Built from an [`AzureBlobConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::azure_blob::{AzureBlobConfig, AzureBlobConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = AzureBlobConfig::connection_string(
///     "handbook",
///     "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net",
/// );
/// let connector = AzureBlobConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
pub struct AzureBlobConnector {
    config: AzureBlobConfig,
    walk: Arc<Walk>,
}

impl AzureBlobConnector {
    /// A connector for the container in `config`. Nothing is sent until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path.
    pub fn new(config: AzureBlobConfig) -> Result<Self> {
        Self::with_http(config, |b| b)
    }

    /// As [`new`](Self::new), with the HTTP client adjusted by `customise` (timeouts,
    /// retries, a rate limit).
    ///
    /// # Errors
    /// As [`new`](Self::new); `Internal` when the HTTP client cannot be built.
    pub fn with_http(
        config: AzureBlobConfig,
        customise: impl FnOnce(HttpClientBuilder) -> HttpClientBuilder,
    ) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        let (Ok(paths), Ok(resolved), true) =
            (config.path_filter(), config.resolve(), problems.is_empty())
        else {
            return Err(Error::config(problems).with_connector(SOURCE));
        };
        let network = config
            .network_policy()
            .map_err(|e| e.with_connector(SOURCE))?;
        let http = customise(
            HttpClient::builder(SOURCE)
                .timeout(Duration::from_secs(120))
                .connect_timeout(Duration::from_secs(10))
                .network_policy(network),
        )
        .build()?;
        let prefix = config.list_prefix();
        let page_size = usize::try_from(config.page_size.get()).unwrap_or(1000);
        let client = AzureClient::new(
            http,
            SOURCE,
            resolved,
            prefix.clone(),
            page_size,
            config.effective_api_version().to_owned(),
        )
        .with_link_template(config.link_template.clone());
        let walk = Walk {
            client,
            filters: Filters {
                prefix,
                paths,
                allow_images: config.allow_images,
            },
            max_object_size: config.max_object_size.get(),
            concurrency: usize::try_from(config.concurrency.get()).unwrap_or(8),
            page_bytes: pages::PAGE_BYTES,
            window_filter: config.incremental_by_last_modified,
        };
        Ok(Self {
            config,
            walk: Arc::new(walk),
        })
    }

    /// This connector handing a listing page on in parts once its documents pass `bytes`
    /// (default 32 MiB): for tests of the in-page checkpoint, not for hosts.
    #[doc(hidden)]
    #[must_use]
    pub fn with_page_bytes(mut self, bytes: u64) -> Self {
        if let Some(walk) = Arc::get_mut(&mut self.walk) {
            walk.page_bytes = bytes.max(1);
        }
        self
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &AzureBlobConfig {
        &self.config
    }
}

impl fmt::Debug for AzureBlobConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobConnector")
            .field("config", &self.config)
            .field("client", &self.walk.client)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AzureBlobConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SOURCE}:{}/{}",
            self.walk.client.container(),
            self.walk.client.prefix()
        )
    }
}

#[async_trait]
impl Connector for AzureBlobConnector {
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

    /// Lists one blob and reads its first byte, with the sync's client (as
    /// [`with_http`](AzureBlobConnector::with_http) customised it) retrying once, so wrong
    /// credentials (`Unauthenticated`, naming the key, connection string or SAS field), a
    /// missing permission (`PermissionDenied`: a SAS with `sp=l` only, or credentials that
    /// may list but not read, fail here rather than once per blob in the sync), a missing
    /// container (`NotFound`, naming the container field) and an unreachable endpoint
    /// (`Unavailable`) are told apart within seconds. An empty container proves listing only.
    async fn check(&self) -> Result<()> {
        // The sync's client (its resolve, rate gate and user agent as the host customised
        // it), with a policy that answers in seconds.
        let sync = &self.walk.client.http;
        let mut policy = sync.retry_policy();
        policy.max_retries = 1;
        policy.initial_backoff = Duration::from_millis(200);
        policy.max_backoff = Duration::from_millis(500);
        policy.max_rate_limit_retries = policy.max_rate_limit_retries.min(1);
        policy.retry_after_cap = policy.retry_after_cap.min(Duration::from_secs(5));
        policy.rate_limit_budget = policy.rate_limit_budget.min(Duration::from_secs(10));
        let http = sync.with_retry_policy(policy, Duration::from_secs(20));
        let page = self.walk.client.list_page(&http, None, Some(1)).await?;
        if let Some(blob) = page.blobs.first() {
            self.walk.client.probe_read(&http, &blob.name).await?;
        }
        Ok(())
    }
}

impl CheckpointedConnector for AzureBlobConnector {
    type Checkpoint = AzureBlobCheckpoint;

    fn initial_checkpoint(&self) -> AzureBlobCheckpoint {
        AzureBlobCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: AzureBlobCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<AzureBlobCheckpoint>>> {
        pages::checkpointed(Arc::clone(&self.walk), from, window, ctx)
    }
}

impl SlimConnector for AzureBlobConnector {
    /// Every blob name under the prefix that passes the filters, whatever its size: a listing
    /// failure ends the stream with an error, never with a partial set.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(Arc::clone(&self.walk), ctx)
    }
}

impl RefetchConnector for AzureBlobConnector {
    /// Downloads each named blob again; a blob that is gone or now filtered out yields
    /// nothing (prune deals with it).
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        pages::refetch(Arc::clone(&self.walk), ids, ctx)
    }
}
