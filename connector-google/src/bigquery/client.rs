//! [`BigQueryClient`]: `jobs.query` and `jobs.getQueryResults`, authorised by the shared
//! Google authentication, with BigQuery's errors named by the config field they concern.

use std::sync::Arc;
use std::time::Duration;

use connector_core::http::Method;
use connector_core::{Cancellation, Error, ErrorKind, Result, SyncContext};
use serde_json::{Value as Json, json};
use tokio::time::Instant;
use url::Url;

use super::SOURCE;
use super::config::{BigQueryConfig, DEFAULT_BIGQUERY_BASE_URL};
use super::model::{JobReference, QueryResponse, TableResource};
use crate::auth::{BYTES_BILLED, GoogleApi, INVALID_QUERY};

/// The one read-only scope both `jobs.query` and `jobs.getQueryResults` accept (their
/// discovery document: `bigquery`, `cloud-platform`, `cloud-platform.read-only`; no
/// `bigquery.readonly` for `jobs.query`, whose token was refused with
/// `ACCESS_TOKEN_SCOPE_INSUFFICIENT`). Read-only, it also refuses a write smuggled into a
/// multi-statement `query` (`…) AS src; DELETE …`), whatever the key's IAM roles allow.
pub(crate) const SCOPES: &[&str] = &["https://www.googleapis.com/auth/cloud-platform.read-only"];

/// The scope `jobs.cancel` asks (`bigquery` or `cloud-platform`: it accepts no read-only
/// one). Its token is used for that call alone, never for a query, so a query still runs
/// with [`SCOPES`].
pub(crate) const CANCEL_SCOPES: &[&str] = &["https://www.googleapis.com/auth/bigquery"];

/// How long one request waits for a job (`timeoutMs`) before answering `jobComplete: false`.
const WAIT_MS: u64 = 10_000;

/// The longest BigQuery lets a query job run (and the most `job_timeout_ms` takes): six hours.
const MAX_JOB_MS: u64 = 6 * 60 * 60 * 1000;

/// The pause between two `jobs.getQueryResults` polls of an unfinished job.
const POLL_PAUSE: Duration = Duration::from_millis(200);

/// Requests to BigQuery for one config; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct BigQueryClient {
    pub(crate) api: GoogleApi,
    /// The API outside any sync's context: `jobs.cancel` is sent after the sync stopped.
    detached: GoogleApi,
    base: Url,
    pub(crate) config: Arc<BigQueryConfig>,
    /// The sync's cancellation, checked between the polls of an unfinished job.
    cancel: Option<Cancellation>,
}

/// A query and its named parameters (`queryParameters`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub(crate) sql: String,
    pub(crate) params: Vec<Json>,
}

impl BigQueryClient {
    /// A client for `config`.
    ///
    /// # Errors
    /// `Config` naming `credentials.service_account_json` or `allowed_hosts`.
    pub(crate) fn new(config: BigQueryConfig) -> Result<Self> {
        let api = GoogleApi::new(
            SOURCE,
            &config.google_credentials(),
            config.token_uri.as_ref(),
            None,
            None,
            &config.network_policy()?,
        )
        .map_err(rename_credentials)?;
        let base = crate::url_or(config.base_url.as_ref(), DEFAULT_BIGQUERY_BASE_URL)?;
        Ok(Self {
            detached: api.clone(),
            api,
            base,
            config: Arc::new(config),
            cancel: None,
        })
    }

    /// This client counting its requests into `ctx` and stopping when `ctx` is cancelled.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            api: self.api.with_context(ctx),
            cancel: Some(ctx.cancellation().clone()),
            ..self.clone()
        }
    }

    /// How long the connector waits for one job before it cancels it: `job_timeout_ms`
    /// (BigQuery's six hours when unset), after which BigQuery itself ends the job, plus a
    /// tenth of it (at least 2 s, at most 5 min) for BigQuery to say so.
    pub(crate) fn job_deadline(&self) -> Duration {
        let job = Duration::from_millis(self.config.job_timeout_ms.unwrap_or(MAX_JOB_MS));
        job + (job / 10).clamp(Duration::from_secs(2), Duration::from_secs(300))
    }

    fn project(&self) -> &str {
        self.config.project_id.trim()
    }

    /// The error `e` naming the config field it is about.
    fn name_field(&self, e: Error) -> Error {
        let e = rename_credentials(e);
        let about = if self.config.clean_query().is_some() {
            "query"
        } else {
            "table_id"
        };
        match e.kind() {
            ErrorKind::Config if e.message().contains(BYTES_BILLED) => {
                e.with_field("maximum_bytes_billed")
            }
            ErrorKind::Config if e.message().contains(INVALID_QUERY) => e.with_field(about),
            ErrorKind::NotFound => e.with_field(about),
            _ => e,
        }
    }

    /// Runs `query` (`jobs.query`), waits for its job (`jobs.getQueryResults` while
    /// `jobComplete` is false) and answers its first page of at most `max_results` rows;
    /// `dry_run` validates it and answers its schema without running it.
    ///
    /// # Errors
    /// BigQuery's: `Config` naming `maximum_bytes_billed` (the job would bill more) or the
    /// query's field (it does not parse, a column is missing); `NotFound` (a dataset or table,
    /// or the wrong `location`); `RateLimited` (`rateLimitExceeded`, `quotaExceeded`, after
    /// the retries); `PermissionDenied` / `Unauthenticated` naming the credentials.
    pub(crate) async fn query(
        &self,
        query: &Query,
        max_results: u32,
        dry_run: bool,
    ) -> Result<QueryResponse> {
        let c = &self.config;
        let deadline = Instant::now() + self.job_deadline();
        let mut body = json!({
            "query": query.sql,
            "useLegacySql": false,
            "parameterMode": "NAMED",
            "queryParameters": query.params,
            "maximumBytesBilled": c.maximum_bytes_billed().to_string(),
            "maxResults": max_results,
            "timeoutMs": wait_ms(self.job_deadline()),
            "useQueryCache": c.use_query_cache,
            "formatOptions": {"useInt64Timestamp": true},
            // Makes the POST safe to retry: BigQuery runs one job per request id.
            "requestId": request_id(),
        });
        if dry_run {
            body["dryRun"] = json!(true);
        }
        if let Some(l) = c.location() {
            body["location"] = json!(l);
        }
        if let Some(t) = c.job_timeout_ms {
            body["jobTimeoutMs"] = json!(t.to_string());
        }
        let url = crate::endpoint(
            &self.base,
            &format!("projects/{}/queries", encode(self.project())),
        )?;
        let response: QueryResponse = self
            .api
            .send_method(Method::POST, url, None, SCOPES, |r| {
                r.json(&body).idempotent(true)
            })
            .await
            .and_then(page)
            .map_err(|e| self.name_field(e))?;
        if response.complete() {
            return Ok(response);
        }
        let job = response.job_reference.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidData,
                "BigQuery answered an unfinished job without its `jobReference`",
            )
            .with_connector(SOURCE)
        })?;
        // From here until the job is done, leaving this function any way (an error, the
        // deadline, the sync cancelled, the stream dropped at an `.await`) cancels the job, so
        // no billed job is left running for nobody.
        let mut running = RunningJob {
            client: self.clone(),
            job: Some(job.clone()),
        };
        loop {
            if let Some(cancel) = &self.cancel {
                cancel.check().map_err(|e| e.with_connector(SOURCE))?;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the BigQuery job {} did not finish within {} s (job_timeout_ms and a margin); it is cancelled",
                        job.job_id,
                        self.job_deadline().as_secs()
                    ),
                )
                .with_connector(SOURCE)
                .with_field("job_timeout_ms"));
            }
            let page = self.results_waiting(&job, None, max_results, left).await?;
            if page.complete() {
                running.job = None;
                return Ok(page);
            }
            // getQueryResults itself waits up to `timeoutMs`; a short pause guards against
            // a server that answers at once.
            match &self.cancel {
                Some(cancel) => {
                    tokio::select! {
                        () = tokio::time::sleep(POLL_PAUSE) => {}
                        () = cancel.cancelled() => {}
                    }
                }
                None => tokio::time::sleep(POLL_PAUSE).await,
            }
        }
    }

    /// Asks BigQuery to cancel `job` (`jobs.cancel`), best effort: a failure is logged. It
    /// goes out with a token of [`CANCEL_SCOPES`], outside the sync's context (which may be
    /// cancelled already).
    pub(crate) async fn cancel_job(&self, job: &JobReference) {
        let url = match crate::endpoint(
            &self.base,
            &format!(
                "projects/{}/jobs/{}/cancel",
                encode(self.project()),
                encode(&job.job_id)
            ),
        ) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(connector = SOURCE, job = %job.job_id, "cannot cancel the job: {e}");
                return;
            }
        };
        let location = job
            .location
            .clone()
            .or_else(|| self.config.location().map(str::to_owned));
        let sent = self
            .detached
            .send_method(
                Method::POST,
                url,
                None,
                CANCEL_SCOPES,
                |r| match &location {
                    Some(l) => r.query([("location", l.as_str())]),
                    None => r,
                },
            )
            .await;
        match sent {
            Ok(_) => {
                tracing::info!(connector = SOURCE, job = %job.job_id, "the unfinished job was cancelled")
            }
            Err(e) => tracing::warn!(
                connector = SOURCE,
                job = %job.job_id,
                "the unfinished job could not be cancelled (it ends at job_timeout_ms): {e}"
            ),
        }
    }

    /// The primary key of `dataset.table` (`tables.get`, `tableConstraints.primaryKey`):
    /// its columns in key order, empty when the table has none.
    ///
    /// # Errors
    /// As [`query`](Self::query): `NotFound` naming `table_id` for a missing table.
    pub(crate) async fn primary_key(&self, dataset: &str, table: &str) -> Result<Vec<String>> {
        let url = crate::endpoint(
            &self.base,
            &format!(
                "projects/{}/datasets/{}/tables/{}",
                encode(self.project()),
                encode(dataset),
                encode(table)
            ),
        )?;
        let resource: TableResource = self
            .api
            .send(url, None, SCOPES, |r| r)
            .await
            .and_then(|r| r.json())
            .map_err(|e| self.name_field(e))?;
        Ok(resource
            .table_constraints
            .and_then(|c| c.primary_key)
            .map(|k| k.columns)
            .unwrap_or_default())
    }

    /// The page of `job`'s results at `page_token` (`jobs.getQueryResults`).
    ///
    /// # Errors
    /// As [`query`](Self::query): a job that failed answers its error here.
    pub(crate) async fn results(
        &self,
        job: &JobReference,
        page_token: Option<&str>,
        max_results: u32,
    ) -> Result<QueryResponse> {
        self.results_waiting(job, page_token, max_results, Duration::MAX)
            .await
    }

    /// As [`results`](Self::results), asking BigQuery to wait at most `left` (and
    /// [`WAIT_MS`]) for an unfinished job.
    async fn results_waiting(
        &self,
        job: &JobReference,
        page_token: Option<&str>,
        max_results: u32,
        left: Duration,
    ) -> Result<QueryResponse> {
        let url = crate::endpoint(
            &self.base,
            &format!(
                "projects/{}/queries/{}",
                encode(self.project()),
                encode(&job.job_id)
            ),
        )?;
        let location = job
            .location
            .clone()
            .or_else(|| self.config.location().map(str::to_owned));
        let max = max_results.to_string();
        let wait = wait_ms(left).to_string();
        self.api
            .send(url, None, SCOPES, |r| {
                let mut q: Vec<(&str, &str)> = vec![
                    ("maxResults", &max),
                    ("timeoutMs", &wait),
                    ("formatOptions.useInt64Timestamp", "true"),
                ];
                if let Some(l) = &location {
                    q.push(("location", l));
                }
                if let Some(t) = page_token {
                    q.push(("pageToken", t));
                }
                r.query(q)
            })
            .await
            .and_then(page)
            .map_err(|e| self.name_field(e))
    }
}

/// A response of `jobs.query` or `jobs.getQueryResults`: its fields read, its rows left in
/// its text (read by [`QueryResponse::rows`]).
fn page(response: connector_core::http::Response) -> Result<QueryResponse> {
    let mut page: QueryResponse = response.json()?;
    page.body = response.into_body();
    Ok(page)
}

/// `timeoutMs` for a wait of at most `left`: [`WAIT_MS`] or less, at least a millisecond.
fn wait_ms(left: Duration) -> u64 {
    u64::try_from(left.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, WAIT_MS)
}

/// A job that may still run: dropped before it finished (`job` still set), it is cancelled
/// (`jobs.cancel`) by a task of its own, since `Drop` cannot wait.
struct RunningJob {
    client: BigQueryClient,
    job: Option<JobReference>,
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let client = self.client.clone();
                runtime.spawn(async move { client.cancel_job(&job).await });
            }
            Err(_) => tracing::warn!(
                connector = SOURCE,
                job = %job.job_id,
                "no runtime left to cancel the unfinished job (it ends at job_timeout_ms)"
            ),
        }
    }
}

/// A credential error names BigQuery's field, not the Drive/Gmail one.
fn rename_credentials(e: Error) -> Error {
    if e.field() == Some("credentials.google_tokens") {
        e.with_field("credentials.service_account_json")
    } else {
        e
    }
}

/// One path segment, percent-encoded.
fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A new `requestId`: random enough that two jobs never share one.
fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = connector_core::ids::hash128(&format!("{nanos}:{n}:{}", std::process::id()));
    // A UUID's shape: BigQuery takes at most 36 characters.
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn asks_a_scope_jobs_query_accepts() {
        // jobs.query's scopes: `bigquery`, `cloud-platform`, `cloud-platform.read-only`;
        // never `bigquery.readonly`.
        assert_eq!(
            super::SCOPES,
            ["https://www.googleapis.com/auth/cloud-platform.read-only"]
        );
        let id = super::request_id();
        assert_eq!(id.len(), 36);
        assert_ne!(id, super::request_id());
    }
}
