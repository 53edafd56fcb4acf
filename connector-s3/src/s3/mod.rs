//! The object-store connectors (sources `s3`, `r2`, `google_cloud_storage`, `oci_storage`,
//! `s3_compatible`): every object of a bucket under a prefix, one document each.
//!
//! One implementation serves every store that speaks the S3 API: requests are signed with
//! SigV4 by [`rusty_s3`] (sans-IO pre-signed URLs) and sent with the shared
//! [`HttpClient`], so S3 gets the same retries,
//! `Retry-After`, timeouts, body caps and request counters as every other connector.
//!
//! - **Ids** are `{bucket_type}:{bucket}:{key}` as in RAGFlow: stable, never dependent on what
//!   else was listed. The title is the file name (the last segment of the key), the link the
//!   object's URL, `updated_at` its `LastModified`; metadata holds `bucket`, `key`, `size`,
//!   `etag` and `content_type`.
//! - **Listing**: `ListObjectsV2` page by page (`page_size` keys, default 1000), never the
//!   whole listing in memory. Keys ending in `/` are skipped, then `include`/`exclude` globs,
//!   `extensions` and images (unless `allow_images`).
//! - **Content**: text extensions ([`TEXT_EXTENSIONS`]) and `text/*` objects as text when
//!   UTF-8, everything else as bytes with the MIME type from `Content-Type` or the extension.
//! - **Fingerprint**: from the ETag (`hash128` of the ETag without quotes, as RAGFlow's
//!   `content_hash`). On incremental and auto runs the connector asks the host's fingerprints
//!   once per listing page and does not download an object whose ETag is unchanged; it reports
//!   its id as unchanged instead. Changed objects are downloaded `concurrency` at a time
//!   (default 8) while documents keep the listing order.
//! - **Size cap**: the listed size is checked against `max_object_size` before downloading;
//!   a larger object becomes a [`Failure`] naming its key.
//! - **Window**: a poll yields the objects whose `LastModified` is in `[start, end)`.
//! - **Checkpoint**: [`S3Checkpoint`], the continuation token and the last key handed on.
//! - **Errors**: `NoSuchBucket` → `NotFound`, `AccessDenied` → `PermissionDenied`,
//!   `SignatureDoesNotMatch` / `InvalidAccessKeyId` → `Unauthenticated` naming the secret or
//!   the key id field, `SlowDown` and 5xx retried with backoff; each names the bucket.
//!
//! # Cancel safety
//! Streams own an `Arc` of the client and commit nothing; dropping one at any `.await` drops
//! the requests in flight and loses nothing that was not acknowledged.

mod checkpoint;
mod client;
mod config;
mod convert;
mod endpoint;
mod model;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::glob::PathFilter;
use connector_core::http::{HttpClient, HttpClientBuilder};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Document, Error, ErrorKind,
    Failure, FieldError, RefetchConnector, Result, Roles, SlimConnector, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::stream::{BoxStream, FuturesOrdered};
use futures::{StreamExt, TryStreamExt};

pub use checkpoint::S3Checkpoint;
pub use config::{
    AddressingStyle, AuthenticationMethod, BucketType, DEFAULT_CONCURRENCY,
    DEFAULT_MAX_OBJECT_SIZE, DEFAULT_PAGE_SIZE, MAX_CONCURRENCY, S3Config, S3Credentials,
};
pub use convert::{IMAGE_EXTENSIONS, TEXT_EXTENSIONS};

use client::S3Client;
use endpoint::Endpoint;
use model::Listed;

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

/// Content bytes after which a listing page is handed on in parts, so a page of large objects
/// never sits in memory whole.
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

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
/// let config = S3Config::s3_compatible("handbook", endpoint, "minio", "minio-secret");
/// let connector = S3Connector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
pub struct S3Connector {
    config: S3Config,
    client: Arc<S3Client>,
    filters: Arc<Filters>,
}

/// Which listed keys become documents.
struct Filters {
    prefix: String,
    paths: PathFilter,
    allow_images: bool,
}

impl Filters {
    fn accepts(&self, key: &str) -> bool {
        if key.ends_with('/') {
            return false;
        }
        let relative = key.strip_prefix(self.prefix.as_str()).unwrap_or(key);
        // A glob that matches a folder matches everything under it, as in `.gitignore`.
        if !self.paths.matches(relative) {
            return false;
        }
        // Compared without lower-casing into a new string: this runs for every listed key.
        let ext = convert::raw_extension(key);
        self.allow_images
            || !ext.is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }
}

impl S3Connector {
    /// A connector for the bucket in `config`, registered as the source its `bucket_type`
    /// names (`s3` when none is given). Nothing is sent until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of the config by field path.
    pub fn new(config: S3Config) -> Result<Self> {
        let source = config.bucket_type.map_or(SOURCE, BucketType::as_str);
        Self::for_source(source, config)
    }

    /// A connector for `source` (one of the five source keys): its bucket type is the one the
    /// source names, or under `s3` the config's `bucket_type`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source, a `bucket_type` another source owns, or
    /// any problem of the config.
    pub fn for_source(source: &str, config: S3Config) -> Result<Self> {
        Self::with_http(source, config, |b| b)
    }

    /// As [`for_source`](Self::for_source), with the HTTP client adjusted by `customise`
    /// (timeouts, a rate limit, retries, DNS overrides for tests of virtual-host URLs).
    ///
    /// # Errors
    /// As [`for_source`](Self::for_source); [`ErrorKind::Internal`] when the HTTP client
    /// cannot be built.
    pub fn with_http(
        source: &str,
        config: S3Config,
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
            Endpoint::resolve(&config, bucket_type)
                .map_err(|p| problems.extend(p))
                .ok()
        } else {
            None
        };
        let (Ok(paths), Some(endpoint), true) = (paths, endpoint, problems.is_empty()) else {
            return Err(Error::config(problems).with_connector(source));
        };
        let http = customise(
            HttpClient::builder(source)
                .timeout(Duration::from_secs(120))
                .connect_timeout(Duration::from_secs(10)),
        )
        .build()?;
        let prefix = config.list_prefix();
        let client = S3Client::new(
            http,
            endpoint,
            bucket_type,
            source,
            prefix.clone(),
            usize::try_from(config.page_size.get()).unwrap_or(1000),
            config.credentials.endpoint_url.is_some(),
        );
        let filters = Filters {
            prefix,
            paths,
            allow_images: config.allow_images,
        };
        Ok(Self {
            config,
            client: Arc::new(client),
            filters: Arc::new(filters),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The bucket type in effect.
    pub fn bucket_type(&self) -> BucketType {
        self.client.bucket_type
    }

    /// The pages of a listing from `from`, each with the checkpoint after it.
    fn pages(
        &self,
        from: S3Checkpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<(Batch, S3Checkpoint)>> {
        let client = Arc::clone(&self.client);
        let filters = Arc::clone(&self.filters);
        let max = self.config.max_object_size.get();
        let concurrency = usize::try_from(self.config.concurrency.get()).unwrap_or(8);
        async_stream::try_stream! {
            if from.done {
                return;
            }
            let http = client.http.with_context(&ctx);
            let mut token;
            let mut after = from.start_after.clone();
            let mut listing = prefetched(listing(
                Arc::clone(&client),
                http.clone(),
                from.continuation_token,
                from.start_after,
                ctx.clone(),
            ));
            loop {
                if ctx.is_cancelled() {
                    Err(cancelled(client.source))?;
                }
                let Some(page) = listing.next().await else {
                    Err(Error::internal("the listing ended before its last page").with_connector(client.source))?;
                    break;
                };
                let page = page?;
                let next_token = page.next_token;
                let last_key = page.objects.last().map(|o| o.key.clone());
                let plans = plan_page(&client, &filters, page.objects, window, max, &ctx).await?;
                let mut outcomes = InOrder::new(plans, concurrency);
                let mut batch = Batch::default();
                let mut bytes = 0u64;
                while let Some(outcome) = outcomes
                    .next(|listed| download(Arc::clone(&client), http.clone(), listed, max))
                    .await
                {
                    let (key, outcome) = outcome?;
                    match outcome {
                        Outcome::Document(doc) => {
                            bytes += doc.content.len() as u64;
                            batch.documents.push(*doc);
                        }
                        Outcome::Failed(failure) => batch.failures.push(failure),
                        Outcome::Unchanged(id) => batch.unchanged.push(id),
                        Outcome::Skipped => {}
                    }
                    // Only a download adds bytes, and a download knows its key.
                    if let (true, Some(key)) = (bytes >= PAGE_BYTES, key) {
                        bytes = 0;
                        yield (std::mem::take(&mut batch), S3Checkpoint::after(key));
                    }
                }
                if last_key.is_some() {
                    after = last_key;
                }
                token = next_token;
                let done = token.is_none();
                yield (batch, S3Checkpoint { continuation_token: token.clone(), start_after: after.clone(), done });
                if done {
                    break;
                }
            }
        }
        .boxed()
    }
}

/// The listing pages from a token or a key, in order, ending after the last page.
fn listing(
    client: Arc<S3Client>,
    http: HttpClient,
    mut token: Option<String>,
    mut after: Option<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<model::ListPage>> {
    async_stream::try_stream! {
        loop {
            if ctx.is_cancelled() {
                Err(cancelled(client.source))?;
            }
            let page = match client.list_page(&http, token.as_deref(), after.as_deref(), None).await {
                // Continuation tokens may expire or belong to another server process; the last
                // key handed on says the same thing in a form that lasts.
                Err(e) if token.is_some() && e.kind() == ErrorKind::InvalidData => {
                    tracing::warn!(error = %e, "the continuation token was refused; resuming after the last key instead");
                    token = None;
                    continue;
                }
                other => other?,
            };
            if let Some(last) = page.objects.last() {
                after = Some(last.key.clone());
            }
            token.clone_from(&page.next_token);
            let done = token.is_none();
            yield page;
            if done {
                break;
            }
        }
    }
    .boxed()
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Fetches the next listing page while the current one is processed (its objects downloaded),
/// so an unchanged re-sync costs little more than the listing. At most one page waits in the
/// channel; dropping the stream aborts the task.
fn prefetched(
    pages: BoxStream<'static, Result<model::ListPage>>,
) -> BoxStream<'static, Result<model::ListPage>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let task = tokio::spawn(async move {
        let mut pages = pages;
        while let Some(page) = pages.next().await {
            let failed = page.is_err();
            if tx.send(page).await.is_err() || failed {
                break;
            }
        }
    });
    let guard = AbortOnDrop(task.abort_handle());
    async_stream::stream! {
        let _guard = guard;
        while let Some(page) = rx.recv().await {
            yield page;
        }
    }
    .boxed()
}

fn cancelled(source: &'static str) -> Error {
    Error::new(ErrorKind::Cancelled, "the sync was cancelled").with_connector(source)
}

/// What to do with one listed object, decided before any download.
enum Plan {
    Done(Outcome),
    Download(Listed),
}

/// What became of one listed object.
enum Outcome {
    Document(Box<Document>),
    Failed(Failure),
    Unchanged(String),
    /// Filtered out, outside the window, or gone since the listing.
    Skipped,
}

/// Downloads one planned object; returns its key with the outcome.
async fn download(
    client: Arc<S3Client>,
    http: HttpClient,
    listed: Listed,
    max: u64,
) -> Result<(String, Outcome)> {
    let outcome = match client.get_object(&http, &listed.key, max).await {
        Ok(Some(fetched)) => {
            Outcome::Document(Box::new(convert::document(&client, &listed, fetched)))
        }
        Ok(None) => Outcome::Skipped,
        Err(e) => match e.kind() {
            // This object only: the next one may well come.
            ErrorKind::InvalidData | ErrorKind::PermissionDenied | ErrorKind::Unsupported => {
                Outcome::Failed(convert::download_failure(&client, &listed.key, &e))
            }
            // Credentials, the bucket, or a store that keeps failing: everything is affected.
            _ => return Err(e),
        },
    };
    Ok((listed.key, outcome))
}

/// The outcomes of a page's plans in listing order, with at most `concurrency` downloads in
/// flight. Decided plans (unchanged, skipped, failed) cost no future and hold no download
/// slot: on an unchanged re-sync a page is one pass over its plans, and a download further
/// on starts while the decided objects before it wait their turn.
struct InOrder<F: Future> {
    plans: std::iter::Peekable<std::vec::IntoIter<Plan>>,
    /// Outcomes not yet handed on, in order; `None` stands for a download in flight (the
    /// `None`s and `downloads` correspond one to one, oldest first).
    slots: VecDeque<Option<Outcome>>,
    downloads: FuturesOrdered<F>,
    concurrency: usize,
}

impl<F: Future<Output = Result<(String, Outcome)>>> InOrder<F> {
    fn new(plans: Vec<Plan>, concurrency: usize) -> Self {
        Self {
            plans: plans.into_iter().peekable(),
            slots: VecDeque::new(),
            downloads: FuturesOrdered::new(),
            concurrency: concurrency.max(1),
        }
    }

    /// The next outcome, with the object's key when it was downloaded; `start` begins a
    /// download. Cancel safe: dropped while waiting, it loses no outcome.
    async fn next(
        &mut self,
        mut start: impl FnMut(Listed) -> F,
    ) -> Option<Result<(Option<String>, Outcome)>> {
        // Take plans while a download slot is free or the plan needs none.
        loop {
            let room = self.downloads.len() < self.concurrency;
            let Some(plan) = self.plans.next_if(|p| room || matches!(p, Plan::Done(_))) else {
                break;
            };
            match plan {
                // Nothing before it is pending: hand it on without queueing it.
                Plan::Done(outcome) if self.slots.is_empty() => return Some(Ok((None, outcome))),
                Plan::Done(outcome) => self.slots.push_back(Some(outcome)),
                Plan::Download(listed) => {
                    self.downloads.push_back(start(listed));
                    self.slots.push_back(None);
                }
            }
        }
        if self.slots.front()?.is_some() {
            return self.slots.pop_front().flatten().map(|o| Ok((None, o)));
        }
        let done = self.downloads.next().await?;
        self.slots.pop_front();
        Some(done.map(|(key, outcome)| (Some(key), outcome)))
    }
}

/// Decides, for each object of a listing page, whether it is skipped, a failure, unchanged
/// (one fingerprint lookup for the whole page) or to be downloaded.
async fn plan_page(
    client: &S3Client,
    filters: &Filters,
    objects: Vec<Listed>,
    window: Option<TimeWindow>,
    max: u64,
    ctx: &SyncContext,
) -> Result<Vec<Plan>> {
    let accepted: Vec<bool> = objects.iter().map(|o| filters.accepts(&o.key)).collect();
    // Only an accepted object with an ETag, within the size cap, can be unchanged.
    let asks = |o: &Listed, ok: bool| ok && o.etag.is_some() && o.size <= max;
    let ids: Vec<String> = objects
        .iter()
        .zip(&accepted)
        .filter(|(o, ok)| asks(o, **ok))
        .map(|(o, _)| convert::document_id(client, &o.key))
        .collect();
    let known = if ids.is_empty() {
        HashMap::new()
    } else {
        ctx.fingerprints().fingerprints(&ids).await?
    };
    // Each asked id is built once, above, and moved into its plan in listing order.
    let mut ids = ids.into_iter();
    let mut plans = Vec::with_capacity(objects.len());
    for (listed, ok) in objects.into_iter().zip(accepted) {
        if !ok {
            plans.push(Plan::Done(Outcome::Skipped));
            continue;
        }
        let id = if asks(&listed, ok) { ids.next() } else { None };
        let unchanged = id.filter(|id| {
            listed.etag.as_deref().is_some_and(|etag| {
                known
                    .get(id)
                    .is_some_and(|f| *f == Document::version_fingerprint(etag))
            })
        });
        let in_window = window.is_none_or(|w| listed.last_modified.is_some_and(|t| w.contains(t)));
        let plan = if let Some(id) = unchanged {
            // Known with this very ETag: nothing to download, whatever the window says.
            Plan::Done(Outcome::Unchanged(id))
        } else if !in_window {
            Plan::Done(Outcome::Skipped)
        } else if listed.size > max {
            Plan::Done(Outcome::Failed(convert::too_large(client, &listed, max)))
        } else if let Some(failure) = convert::unaddressable(client, &listed.key) {
            Plan::Done(Outcome::Failed(failure))
        } else {
            Plan::Download(listed)
        };
        plans.push(plan);
    }
    Ok(plans)
}

impl fmt::Debug for S3Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Connector")
            .field("config", &self.config)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for S3Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.client.bucket_type,
            self.client.bucket_name(),
            self.client.prefix()
        )
    }
}

#[async_trait]
impl Connector for S3Connector {
    fn source(&self) -> &'static str {
        self.client.source
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
    /// (`Unavailable`, naming the endpoint field) are told apart within seconds.
    async fn check(&self) -> Result<()> {
        let http = HttpClient::builder(self.client.source)
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .max_retries(1)
            .backoff(Duration::from_millis(200), Duration::from_millis(500))
            .build()?;
        self.client
            .list_page(&http, None, None, Some(1))
            .await
            .map(|_| ())
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
        self.pages(from, window, ctx)
            .map_ok(|(batch, cp)| CheckpointedBatch::new(batch, cp))
            .boxed()
    }
}

impl SlimConnector for S3Connector {
    /// Every key under the prefix that passes the filters, whatever its size: a listing
    /// failure ends the stream with an error, never with a partial set.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let client = Arc::clone(&self.client);
        let filters = Arc::clone(&self.filters);
        async_stream::try_stream! {
            let http = client.http.with_context(&ctx);
            let mut token: Option<String> = None;
            loop {
                if ctx.is_cancelled() {
                    Err(cancelled(client.source))?;
                }
                let page = client.list_page(&http, token.as_deref(), None, None).await?;
                let ids: Vec<SlimDocument> = page
                    .objects
                    .iter()
                    .filter(|o| filters.accepts(&o.key))
                    .map(|o| SlimDocument::new(convert::document_id(&client, &o.key)))
                    .collect();
                yield ids;
                match page.next_token {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
        }
        .boxed()
    }
}

impl RefetchConnector for S3Connector {
    /// Downloads each id's object again; an id of another bucket, or of an object that is gone
    /// or now filtered out, yields nothing (prune deals with it).
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let client = Arc::clone(&self.client);
        let filters = Arc::clone(&self.filters);
        let max = self.config.max_object_size.get();
        let concurrency = usize::try_from(self.config.concurrency.get()).unwrap_or(8);
        let prefix = convert::document_id(&client, "");
        async_stream::try_stream! {
            let http = client.http.with_context(&ctx);
            for chunk in ids.chunks(256) {
                if ctx.is_cancelled() {
                    Err(cancelled(client.source))?;
                }
                let keys: Vec<String> = chunk
                    .iter()
                    .filter_map(|id| id.strip_prefix(prefix.as_str()))
                    .filter(|key| filters.accepts(key))
                    .map(str::to_owned)
                    .collect();
                let mut outcomes = futures::stream::iter(keys)
                    .map(|key| {
                        let client = Arc::clone(&client);
                        let http = http.clone();
                        async move {
                            if let Some(failure) = convert::unaddressable(&client, &key) {
                                return Ok(Outcome::Failed(failure));
                            }
                            let got = client.get_object(&http, &key, max).await;
                            Ok(match got {
                                Ok(Some(fetched)) => {
                                    let listed = Listed {
                                        size: fetched.body.len() as u64,
                                        etag: fetched.etag.clone(),
                                        last_modified: fetched.last_modified,
                                        key,
                                    };
                                    Outcome::Document(Box::new(convert::document(&client, &listed, fetched)))
                                }
                                Ok(None) => Outcome::Skipped,
                                Err(e) if matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::PermissionDenied) => {
                                    Outcome::Failed(convert::download_failure(&client, &key, &e))
                                }
                                Err(e) => return Err(e),
                            })
                        }
                    })
                    .buffered(concurrency);
                let mut batch = Batch::default();
                while let Some(outcome) = outcomes.next().await {
                    match outcome? {
                        Outcome::Document(doc) => batch.documents.push(*doc),
                        Outcome::Failed(f) => batch.failures.push(f),
                        Outcome::Unchanged(id) => batch.unchanged.push(id),
                        Outcome::Skipped => {}
                    }
                }
                yield batch;
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn listed(key: &str) -> Listed {
        Listed {
            key: key.to_owned(),
            size: 1,
            etag: None,
            last_modified: None,
        }
    }

    /// Decided plans and downloads come back in listing order, with never more than
    /// `concurrency` downloads in flight.
    #[tokio::test]
    async fn in_order_keeps_the_listing_order_and_bounds_downloads() {
        let plans: Vec<Plan> = (0..40)
            .map(|i| {
                if i % 3 == 0 {
                    Plan::Download(listed(&format!("k{i:02}")))
                } else {
                    Plan::Done(Outcome::Unchanged(format!("k{i:02}")))
                }
            })
            .collect();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut outcomes = InOrder::new(plans, 2);
        let mut seen = Vec::new();
        while let Some(next) = outcomes
            .next(|l| {
                let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Later downloads finish first, so the order is the queue's doing.
                    let wait = 40 - l.key[1..].parse::<u64>().unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok((l.key.clone(), Outcome::Unchanged(l.key)))
                }
            })
            .await
        {
            let (key, outcome) = next.unwrap();
            let Outcome::Unchanged(id) = outcome else {
                panic!("unexpected outcome");
            };
            assert_eq!(key.is_some(), id[1..].parse::<u32>().unwrap() % 3 == 0);
            seen.push(id);
        }
        let expected: Vec<String> = (0..40).map(|i| format!("k{i:02}")).collect();
        assert_eq!(seen, expected);
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
