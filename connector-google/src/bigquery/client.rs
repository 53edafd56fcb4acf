//! [`BigQueryClient`]: `jobs.query` and `jobs.getQueryResults`, authorised by the shared
//! Google authentication, with BigQuery's errors named by the config field they concern.

use std::sync::Arc;
use std::time::Duration;

use connector_core::http::Method;
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde_json::{Value as Json, json};
use url::Url;

use super::SOURCE;
use super::config::{BigQueryConfig, DEFAULT_BIGQUERY_BASE_URL};
use super::model::{JobReference, QueryResponse};
use crate::auth::{BYTES_BILLED, GoogleApi, INVALID_QUERY};

/// The one read-only scope both `jobs.query` and `jobs.getQueryResults` accept (their
/// discovery document: `bigquery`, `cloud-platform`, `cloud-platform.read-only`; no
/// `bigquery.readonly` for `jobs.query`, whose token was refused with
/// `ACCESS_TOKEN_SCOPE_INSUFFICIENT`). Read-only, it also refuses a write smuggled into a
/// multi-statement `query` (`…) AS src; DELETE …`), whatever the key's IAM roles allow.
pub(crate) const SCOPES: &[&str] = &["https://www.googleapis.com/auth/cloud-platform.read-only"];

/// How long one request waits for a job (`timeoutMs`) before answering `jobComplete: false`.
const WAIT_MS: u64 = 10_000;

/// Requests to BigQuery for one config; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct BigQueryClient {
    pub(crate) api: GoogleApi,
    base: Url,
    pub(crate) config: Arc<BigQueryConfig>,
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
            api,
            base,
            config: Arc::new(config),
        })
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            api: self.api.with_context(ctx),
            ..self.clone()
        }
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
        let mut body = json!({
            "query": query.sql,
            "useLegacySql": false,
            "parameterMode": "NAMED",
            "queryParameters": query.params,
            "maximumBytesBilled": c.maximum_bytes_billed().to_string(),
            "maxResults": max_results,
            "timeoutMs": WAIT_MS,
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
            .and_then(|r| r.json())
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
        loop {
            let page = self.results(&job, None, max_results).await?;
            if page.complete() {
                return Ok(page);
            }
            // getQueryResults itself waits up to `timeoutMs`; a short pause guards against
            // a server that answers at once.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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
        let wait = WAIT_MS.to_string();
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
            .and_then(|r| r.json())
            .map_err(|e| self.name_field(e))
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
