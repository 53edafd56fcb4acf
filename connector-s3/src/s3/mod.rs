//! The object-store connectors (sources `s3`, `r2`, `google_cloud_storage`, `oci_storage`,
//! `s3_compatible`): every object of a bucket under a prefix, one document each.
//!
//! One implementation serves every store that speaks the S3 API: requests are signed with
//! SigV4 by [`rusty_s3`] (sans-IO pre-signed URLs) and sent with the shared
//! [`HttpClient`], so S3 gets the same retries,
//! `Retry-After`, timeouts, body caps and request counters as every other connector.
//!
//! - **Ids** are `{bucket_type}:{bucket}:{key}` as in RAGFlow: stable, never dependent on what
//!   else was listed. The title is the file name, or where several objects under the prefix
//!   share it the path relative to the prefix (`f-0001 / obj-000.txt`), as RAGFlow's
//!   `semantic_identifier` (`titles.rs`: a census of the file names, one more listing in a
//!   run that delivers anything). The link is the object's URL, `updated_at` its
//!   `LastModified`; metadata holds `bucket`, `key`, `size`, `etag` and `content_type`.
//! - **Listing**: `ListObjectsV2` page by page (`page_size` keys, default 1000), never the
//!   whole listing in memory, the next page listed while this one downloads. A store that
//!   hands back a continuation token twice ends the listing with an error rather than loop.
//!   Keys ending in `/` are skipped, then `include`/`exclude` globs, `extensions` and, when
//!   `allow_images` is false (by default only under `r2` and `google_cloud_storage`), images.
//! - **Content**: text extensions ([`TEXT_EXTENSIONS`]) and `text/*` objects as text when
//!   UTF-8, everything else as bytes with the MIME type from `Content-Type` or the extension.
//! - **Fingerprint**: from the ETag (`hash128` of the ETag without quotes, as RAGFlow's
//!   `content_hash`). On incremental and auto runs the connector asks the host's fingerprints
//!   once per listing page and does not download an object whose ETag is unchanged; it reports
//!   its id as unchanged instead. Changed objects are downloaded `concurrency` at a time
//!   (default 8) while documents keep the listing order.
//! - **Size cap and memory**: a body up to `max_object_size` (default 20 MiB) is held in
//!   memory whole (core's HTTP layer buffers the response, a `Document` holds `Bytes`; text
//!   becomes a `String` without a copy). The cap protects the process's memory: up to
//!   `concurrency × max_object_size` of bodies at once (160 MiB with the defaults), plus a
//!   page part (a page whose documents pass 32 MiB is handed on in parts, each with the
//!   checkpoint after its last key). The listed size is checked before downloading, and the
//!   download itself is capped there too (an object that grew since the listing is not read
//!   whole). By default a larger object becomes a [`Failure`](connector_core::Failure)
//!   naming its key and the option below.
//! - **Large objects** (`spool_large_objects`, default off): an object over `max_object_size`
//!   is downloaded chunk by chunk into a file of the sync's spool folder
//!   ([`connector_core::spool`]; the OS temporary folder unless the host sets
//!   [`Syncer::spool`](connector_core::sync::Syncer::spool)) and delivered as
//!   [`Content::Spooled`](connector_core::Content::Spooled): memory holds one chunk whatever
//!   the size, disk holds the spooled bodies in flight. `max_spooled_object_size` (default
//!   16 GiB, at most 5 TiB) caps it the same way: checked against the listed size, then on
//!   the download; a larger object is a failure naming that field. A spooled object is bytes
//!   even with a text extension (its UTF-8 would have to be read to tell), with the MIME type
//!   of `Content-Type` or the extension. A refetch, which knows no size, reads into memory and
//!   spools when the memory cap refuses the body. The sink must take spooled bodies (core's
//!   directory, ndjson and memory sinks do, in chunks): another gets each as a failure naming
//!   it, and the sync goes on.
//! - **Window**: a poll lists the whole prefix and skips unchanged objects by ETag, as
//!   RAGFlow does, so an object is never missed for its `LastModified` (a multipart upload's
//!   is its initiation). With `incremental_by_last_modified` it yields only the objects whose
//!   `LastModified` is in `[start, end)`: the same listing requests, fewer fingerprint
//!   lookups, and that risk.
//! - **Checkpoint**: [`S3Checkpoint`], the continuation token and the last key handed on.
//! - **Region**: a bucket in another region than `credentials.region` (or its default,
//!   `AWS_REGION` or `us-east-1`) is found from S3's answer (`301 PermanentRedirect` and a
//!   `HEAD` of the bucket for its `x-amz-bucket-region`, or the `<Region>` of a `400
//!   AuthorizationHeaderMalformed`), then addressed and signed there for the rest of the
//!   connector's life; `check()` names `credentials.region` when the config gave a wrong one.
//!   A region that cannot be found is a `Config` error naming that field (`region.rs`).
//! - **Errors**: `NoSuchBucket` → `NotFound`, `AccessDenied` → `PermissionDenied`,
//!   `SignatureDoesNotMatch` / `InvalidAccessKeyId` → `Unauthenticated` naming the secret or
//!   the key id field, `InvalidObjectState` (an archived object) → `Unsupported`, `SlowDown`
//!   and 5xx retried with backoff; each names the bucket, and an answer the client does not
//!   know keeps the store's own code and message. A listing error ends the sync; a download
//!   error ends it only when core's one policy says so
//!   ([`ErrorKind::ends_sync`](connector_core::ErrorKind::ends_sync): credentials, config,
//!   cancellation), any other is a failure of that object and the sync goes on.
//! - **Credentials** (bucket type `s3`): `authentication_method` `access_key` (keys, with
//!   an optional session token), `iam_role` (STS `AssumeRole` of `aws_role_arn`, session name
//!   [`ROLE_SESSION_NAME`]) or `assume_role` (the host's ambient chain: environment, web
//!   identity token file, profile files, ECS container endpoint, IMDSv2, read from an
//!   [`AwsEnvironment`]); temporary credentials are refreshed [`REFRESH_BEFORE`] their expiry.
//!   Credentials that cannot be had end the sync (`Unauthenticated`, naming the field)
//!   rather than fail each object. The sources and why they are ours are in `aws/mod.rs`.
//! - **Code**: the page walk is in `pages.rs`, on core's [`pages`](connector_core::pages).
//!
//! # Cancel safety
//! Streams own an `Arc` of the client and commit nothing; dropping one at any `.await` drops
//! the requests in flight and loses nothing that was not acknowledged.

mod aws;
mod checkpoint;
mod client;
mod config;
mod convert;
mod endpoint;
mod model;
mod pages;
mod region;
mod titles;
mod unused;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{HttpClient, HttpClientBuilder};
use connector_core::net::NetworkPolicy;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, FieldError,
    RefetchConnector, Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use aws::{
    AwsEnvironment, ProcessEnvironment, REFRESH_BEFORE, RETRY_REFRESH_AFTER, ROLE_SESSION_NAME,
    STILL_USABLE, StaticEnvironment,
};
pub use checkpoint::S3Checkpoint;
pub use config::{
    AddressingStyle, AuthenticationMethod, BucketType, DEFAULT_CONCURRENCY,
    DEFAULT_MAX_OBJECT_SIZE, DEFAULT_MAX_SPOOLED_OBJECT_SIZE, DEFAULT_PAGE_SIZE, MAX_CONCURRENCY,
    S3Config, S3Credentials,
};
pub use convert::{IMAGE_EXTENSIONS, TEXT_EXTENSIONS};

use client::S3Client;
use endpoint::Endpoint;
use pages::{Filters, Walk};

/// The registry key of Amazon S3 (and, as in RAGFlow, of any `bucket_type` chosen in the
/// config).
pub const SOURCE: &str = "s3";
/// The registry key of Cloudflare R2.
pub const SOURCE_R2: &str = "r2";
/// The registry key of Google Cloud Storage (XML API, HMAC keys).
pub const SOURCE_GOOGLE_CLOUD_STORAGE: &str = "google_cloud_storage";
/// The registry key of OCI Object Storage.
pub const SOURCE_OCI_STORAGE: &str = "oci_storage";
/// The registry key of any S3-compatible store.
pub const SOURCE_S3_COMPATIBLE: &str = "s3_compatible";

/// Reads a bucket of any S3-compatible store. Built from an [`S3Config`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_s3::s3::{S3Config, S3Connector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let endpoint = "http://127.0.0.1:9000".parse().expect("a URL");
/// let mut config = S3Config::s3_compatible("handbook", endpoint, "minio", "minio-secret");
/// // A loopback or private endpoint is reached only when allowed.
/// config.allowed_hosts.push("127.0.0.1".to_owned());
/// let connector = S3Connector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
pub struct S3Connector {
    config: S3Config,
    /// The policy the bucket's endpoint is held to (`check` builds its own client).
    network: NetworkPolicy,
    walk: Arc<Walk>,
}

impl S3Connector {
    /// A connector for the bucket in `config`, registered as the source its `bucket_type`
    /// names (`s3` when none is given). Nothing is sent until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path.
    pub fn new(config: S3Config) -> Result<Self> {
        let source = config.bucket_type.map_or(SOURCE, BucketType::as_str);
        Self::for_source(source, config)
    }

    /// A connector for `source` (one of the five source keys): its bucket type is the one the
    /// source names, or under `s3` the config's `bucket_type`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) for an unknown source, a
    /// `bucket_type` another source owns, or any problem of the config.
    pub fn for_source(source: &str, config: S3Config) -> Result<Self> {
        Self::with_http(source, config, |b| b)
    }

    /// As [`for_source`](Self::for_source), with the HTTP client adjusted by `customise`
    /// (timeouts, a rate limit, retries, DNS overrides for tests of virtual-host URLs).
    ///
    /// # Errors
    /// As [`for_source`](Self::for_source);
    /// [`ErrorKind::Internal`](connector_core::ErrorKind::Internal) when the HTTP client cannot
    /// be built.
    pub fn with_http(
        source: &str,
        config: S3Config,
        customise: impl FnOnce(HttpClientBuilder) -> HttpClientBuilder,
    ) -> Result<Self> {
        Self::with_environment(source, config, Arc::new(ProcessEnvironment), customise)
    }

    /// As [`with_http`](Self::with_http), with the AWS credential chain (`assume_role`, and
    /// `iam_role` without keys) and the default region of Amazon S3 read from `env` instead of
    /// the process environment: for tests, and for hosts that run several identities in one
    /// process.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use connector_s3::s3::{S3Config, S3Connector, StaticEnvironment};
    ///
    /// let config: S3Config = connector_core::config::from_json(serde_json::json!({
    ///     "bucket_name": "handbook",
    ///     "credentials": {"authentication_method": "assume_role"}
    /// }))?;
    /// let env = StaticEnvironment::new()
    ///     .with_var("AWS_PROFILE", "docs")
    ///     .with_var("AWS_REGION", "eu-west-1");
    /// let connector = S3Connector::with_environment("s3", config, Arc::new(env), |b| b)?;
    /// // Nothing is read or sent until the first request.
    /// assert_eq!(connector.to_string(), "s3:handbook/");
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`with_http`](Self::with_http), and `Config` when `AWS_ENDPOINT_URL_STS` in `env`
    /// is not a URL.
    pub fn with_environment(
        source: &str,
        config: S3Config,
        env: Arc<dyn AwsEnvironment>,
        customise: impl FnOnce(HttpClientBuilder) -> HttpClientBuilder,
    ) -> Result<Self> {
        let Some(source_type) = BucketType::from_source(source) else {
            return Err(Error::config(vec![FieldError::new(
                "source",
                format!("`{source}` is not an object-store source"),
            )]));
        };
        let source = source_type.as_str();
        let mut problems = connector_core::ConnectorConfig::validate(&config);
        let bucket_type = match config.bucket_type {
            Some(t) if t != source_type && source_type != BucketType::S3 => {
                problems.push(FieldError::new(
                    "bucket_type",
                    format!(
                        "`{t}` does not match source `{source}`; use source `{t}` (or `s3`, which takes any type)"
                    ),
                ));
                t
            }
            Some(t) => t,
            None => source_type,
        };
        if config.bucket_type.is_none() || config.bucket_type != Some(bucket_type) {
            problems.extend(config.problems_for(bucket_type));
        }
        // Its problems are in `problems` already, from `validate`.
        let paths = config.path_filter();
        let endpoint = if problems.is_empty() {
            Endpoint::resolve(&config, bucket_type, env.as_ref())
                .map_err(|p| problems.extend(p))
                .ok()
        } else {
            None
        };
        let (Ok(paths), Some(endpoint), true) = (paths, endpoint, problems.is_empty()) else {
            return Err(Error::config(problems).with_connector(source));
        };
        // The bucket's endpoint is the tenant's, or made from the tenant's fields (an
        // `account_id` or `namespace` can carry a host of its own), so it is guarded.
        let network = config
            .network_policy()
            .map_err(|e| e.with_connector(source))?;
        let http = customise(
            HttpClient::builder(source)
                .timeout(Duration::from_secs(120))
                .connect_timeout(Duration::from_secs(10))
                .network_policy(network.clone()),
        )
        .build()?;
        let prefix = config.list_prefix();
        let credentials = aws::credential_source(
            endpoint.signing.clone(),
            env,
            source,
            endpoint.bucket.region(),
            config.credentials.sts_endpoint_url.as_ref(),
            &network,
        )
        .map_err(|e| e.with_connector(source))?;
        let client = S3Client::new(
            http,
            endpoint,
            credentials,
            bucket_type,
            source,
            prefix.clone(),
            usize::try_from(config.page_size.get()).unwrap_or(1000),
        );
        let walk = Walk {
            client,
            filters: Filters {
                prefix,
                paths,
                allow_images: config.allow_images(source_type),
            },
            max_object_size: config.max_object_size.get(),
            max_spooled_object_size: config
                .spool_large_objects
                .then(|| config.max_spooled_object_size.get()),
            concurrency: usize::try_from(config.concurrency.get()).unwrap_or(8),
            window_filter: config.incremental_by_last_modified,
        };
        Ok(Self {
            config,
            network,
            walk: Arc::new(walk),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The bucket type in effect.
    pub fn bucket_type(&self) -> BucketType {
        self.walk.client.bucket_type
    }

    /// Whether image files become documents: `allow_images`, or its default for the source
    /// (see [`S3Config::allow_images`]).
    pub fn allow_images(&self) -> bool {
        self.walk.filters.allow_images
    }
}

impl fmt::Debug for S3Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Connector")
            .field("config", &self.config)
            .field("client", &self.walk.client)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for S3Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.walk.client.bucket_type,
            self.walk.client.bucket_name(),
            self.walk.client.prefix()
        )
    }
}

#[async_trait]
impl Connector for S3Connector {
    fn source(&self) -> &'static str {
        self.walk.client.source
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Lists one key under the prefix with a client that retries once, so wrong credentials
    /// (`Unauthenticated`, naming the key id or secret field), a missing permission
    /// (`PermissionDenied`), a missing bucket (`NotFound`) and an unreachable endpoint
    /// (`Unavailable`, naming the endpoint field) are told apart within seconds. A bucket in
    /// another region than `credentials.region` says is a `Config` error naming that field
    /// (with the bucket's region), although a sync would find the region itself; without
    /// `credentials.region`, finding it is only logged. A prefix that starts with `/` and has
    /// nothing under it is logged as a likely slip (`docs/` meant).
    async fn check(&self) -> Result<()> {
        let http = HttpClient::builder(self.walk.client.source)
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .max_retries(1)
            .backoff(Duration::from_millis(200), Duration::from_millis(500))
            .network_policy(self.network.clone())
            .build()?;
        let client = &self.walk.client;
        let page = client.list_page(&http, None, None, Some(1)).await?;
        let prefix = client.prefix();
        // Kept as RAGFlow lists it, since S3 keys may start with `/`; but most keys do not,
        // and an empty listing under such a prefix is more likely a slip than an empty folder.
        if page.objects.is_empty() && prefix.starts_with('/') {
            tracing::warn!(
                source = client.source,
                prefix,
                "no key starts with the prefix `{prefix}`; keys rarely start with `/`: did you mean `{}`?",
                prefix.trim_start_matches('/')
            );
        }
        client.region_mistake()
    }
}

impl CheckpointedConnector for S3Connector {
    type Checkpoint = S3Checkpoint;

    fn initial_checkpoint(&self) -> S3Checkpoint {
        S3Checkpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: S3Checkpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<S3Checkpoint>>> {
        pages::checkpointed(Arc::clone(&self.walk), from, window, ctx)
    }
}

impl SlimConnector for S3Connector {
    /// Every key under the prefix that passes the filters, whatever its size: a listing
    /// failure ends the stream with an error, never with a partial set.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(Arc::clone(&self.walk), ctx)
    }
}

impl RefetchConnector for S3Connector {
    /// Downloads each id's object again; an id of another bucket, or of an object that is gone
    /// or now filtered out, yields nothing (prune deals with it).
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        pages::refetch(Arc::clone(&self.walk), ids, ctx)
    }
}
