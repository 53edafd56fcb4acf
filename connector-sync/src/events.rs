//! Job event webhooks: each connector may name a URL that receives its jobs' `started`,
//! `finished` and `failed` events as JSON, signed with HMAC-SHA256 so the receiver can tell
//! they come from here.
//!
//! - Where: the `connector_webhook` table (one row per connector: the URL and the signing
//!   secret, sealed with the store's [`Sealer`](crate::Sealer)); set with
//!   [`ConnectorStore::set_event_webhook`], or over HTTP with the management API's
//!   `PUT /api/v1/connectors/{id}/webhook` (feature `api`).
//! - Who sends: [`EventNotifier`], a [`JobObserver`] that the workers call at each job start
//!   and end ([`WorkerOptions::job_webhooks`](crate::WorkerOptions::job_webhooks), on by
//!   default: a connector without a URL costs one primary-key lookup per event and sends
//!   nothing). Delivery runs on a task of its own, retried through core's
//!   [`HttpClient`]: it never blocks or fails the job.
//! - How to check: [`verify_signature`], the scheme Stripe uses.
//!
//! # The request
//! `POST` with `Content-Type: application/json`, `X-Connectors-Event: job.finished`,
//! `Idempotency-Key: <event id>` (the same on every retry of one event) and
//! `X-Connectors-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with
//! the secret's UTF-8 bytes. The body ([`EventPayload`]):
//!
//! ```json
//! {"id": "job-42-1-finished", "type": "job.finished", "created": 1767225600,
//!  "data": {"job_id": 42, "connector_id": "…", "source": "local", "kind": "sync",
//!           "partition": "", "attempt": 1, "counters": {"new": 3, "updated": 0,
//!           "unchanged": 0, "failed": 0, "deleted": 0, "gone": 0}, "duration_ms": 120,
//!           "stats": {"requests": 0, "retries": 0, "rate_limit_wait_ms": 0, "delivered": 3},
//!           "error": null, "retry_at": null, "worker": "…", "at": "2026-01-01T00:00:00Z"}}
//! ```

mod signature;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::config::ConnectorConfig;
use connector_core::error::redact_url;
use connector_core::http::{HttpClient, NetworkPolicy, RetryPolicy};
use connector_core::{Error, ErrorKind, FieldError, Result, Secret};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use url::Url;

use crate::connectors::ConnectorStore;
use crate::jobs::{JobCounters, JobKind};
use crate::observe::{JobEvent, JobEventKind, JobObserver};
use crate::seal::SECRET_KEY_ENV;
use crate::store::on_pool;
use crate::webhook::WebhookConfig;

pub use signature::{
    DEFAULT_TOLERANCE, SignatureError, generate_secret, sign, verify_signature, verify_signature_at,
};

/// The header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "x-connectors-signature";
/// The header carrying the event type (`job.started`, `job.finished`, `job.failed`).
pub const EVENT_HEADER: &str = "x-connectors-event";

/// The name the events' HTTP client gives in its errors and logs.
const CLIENT_NAME: &str = "job-events";

/// A connector's job event webhook, as stored (the secret opened).
#[derive(Clone)]
pub struct EventWebhook {
    /// Where the events go (`http` or `https`).
    pub url: Url,
    /// The key of the signature (its UTF-8 bytes).
    pub secret: Secret,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for EventWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWebhook")
            .field("url", &redact_url(&self.url))
            .field("secret", &"***")
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// The URL checks of the webhook sink ([`WebhookConfig`]): `http`/`https`, a host, no password.
fn check_url(url: &Url) -> Vec<FieldError> {
    WebhookConfig::new(url.clone())
        .validate()
        .into_iter()
        .filter(|p| p.path == "url")
        .collect()
}

/// The body of one event POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPayload {
    /// The event's id (`job-<job>-<attempt>-<started|finished|failed>`), also sent as
    /// `Idempotency-Key`: a receiver that keeps ids can drop a repeat.
    pub id: String,
    /// `job.started`, `job.finished` or `job.failed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event was made (unix seconds).
    pub created: i64,
    /// The job.
    pub data: EventData,
}

/// What an event says of its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventData {
    /// The job's id.
    pub job_id: i64,
    /// Its connector.
    pub connector_id: String,
    /// The connector's source key.
    pub source: String,
    /// `sync` or `prune`.
    pub kind: JobKind,
    /// The partition it runs (`""`: the whole connector).
    pub partition: String,
    /// The attempt (1-based).
    pub attempt: u32,
    /// Documents new, updated, unchanged, failed, deleted, gone (zero when started).
    pub counters: JobCounters,
    /// How long the attempt ran, in milliseconds (`null` when started).
    pub duration_ms: Option<u64>,
    /// What a finished sync reports (`null` otherwise).
    pub stats: Option<EventStats>,
    /// The error of a failed attempt (free of credentials, as core's errors are).
    pub error: Option<String>,
    /// When a failed job is tried again (`null`: failed for good).
    pub retry_at: Option<DateTime<Utc>>,
    /// The worker that ran it.
    pub worker: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// The counters of a finished sync that only its report knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventStats {
    /// Requests the connector sent.
    pub requests: u64,
    /// Requests retried.
    pub retries: u64,
    /// Milliseconds spent waiting because a service asked to slow down.
    pub rate_limit_wait_ms: u64,
    /// Documents the sink acknowledged.
    pub delivered: u64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl EventPayload {
    /// The payload of a worker's event.
    pub fn from_event(event: &JobEvent) -> Self {
        let kind = event.kind.as_str();
        Self {
            id: format!("job-{}-{}-{kind}", event.job_id, event.attempt),
            event_type: format!("job.{kind}"),
            created: event.at.timestamp(),
            data: EventData {
                job_id: event.job_id,
                connector_id: event.connector_id.clone(),
                source: event.source.clone(),
                kind: event.job_kind,
                partition: event.partition.clone(),
                attempt: event.attempt,
                counters: event.counters,
                duration_ms: event.duration.map(millis),
                stats: event.stats.map(|s| EventStats {
                    requests: s.requests,
                    retries: s.retries,
                    rate_limit_wait_ms: millis(s.rate_limit_wait),
                    delivered: s.delivered,
                }),
                error: event.error.clone(),
                retry_at: event.retry_at,
                worker: event.worker.clone(),
                at: event.at,
            },
        }
    }
}

impl ConnectorStore {
    /// Sets connector `id`'s job event webhook: events go to `url`, signed with `secret`
    /// (sealed at rest), or with a new secret ([`generate_secret`]) when `None`. Returns the
    /// webhook, its secret included: show a generated secret to its owner once.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] for an unknown connector; [`ErrorKind::Config`] for a URL that
    /// is not `http`/`https` with a host and no password, an empty secret, or no key to seal
    /// the secret with; [`ErrorKind::State`] when the database cannot be written.
    pub async fn set_event_webhook(
        &self,
        id: &str,
        url: Url,
        secret: Option<Secret>,
    ) -> Result<EventWebhook> {
        let mut problems = check_url(&url);
        if secret.as_ref().is_some_and(Secret::is_empty) {
            problems.push(FieldError::new("secret", "must not be empty"));
        }
        if !problems.is_empty() {
            return Err(Error::config(problems));
        }
        let sealer = self.sealer().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "a job event webhook's signing secret is stored encrypted and no key is \
                     set: set {SECRET_KEY_ENV} (32 random bytes, base64: `openssl rand -base64 32`)"
                ),
            )
            .with_field("secret")
        })?;
        if self.get(id).await?.is_none() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no connector `{id}`"),
            ));
        }
        let secret = secret.unwrap_or_else(generate_secret);
        let sealed = sealer.seal(secret.expose());
        let now = Utc::now();
        let db = self.db();
        let (created_at,): (DateTime<Utc>,) = on_pool!(db, pool => {
            sqlx::query_as(
                "INSERT INTO connector_webhook (connector_id, url, secret, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (connector_id) DO UPDATE SET url = excluded.url, \
                 secret = excluded.secret, updated_at = excluded.updated_at \
                 RETURNING created_at",
            )
            .bind(id)
            .bind(url.as_str())
            .bind(&sealed)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(|e| db.error(&format!("cannot store the event webhook of connector `{id}` in"), &e))?
        });
        Ok(EventWebhook {
            url,
            secret,
            created_at,
            updated_at: now,
        })
    }

    /// Connector `id`'s job event webhook, its secret opened; `None` when it has none.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the secret does not open (no key, or another key);
    /// [`ErrorKind::State`] when the database cannot be read.
    pub async fn event_webhook(&self, id: &str) -> Result<Option<EventWebhook>> {
        let db = self.db();
        let row: Option<(String, String, DateTime<Utc>, DateTime<Utc>)> = on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT url, secret, created_at, updated_at FROM connector_webhook \
                 WHERE connector_id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| db.error(&format!("cannot read the event webhook of connector `{id}` from"), &e))?
        });
        let Some((url, sealed, created_at, updated_at)) = row else {
            return Ok(None);
        };
        let sealer = self.sealer().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "the event webhook of connector `{id}` has an encrypted secret and no key \
                     is set: set {SECRET_KEY_ENV} to the key it was saved with"
                ),
            )
        })?;
        let secret = Secret::new(sealer.open(&sealed)?);
        let url = Url::parse(&url).map_err(|_| {
            Error::new(
                ErrorKind::State,
                format!("the stored event webhook URL of connector `{id}` is not a URL"),
            )
        })?;
        Ok(Some(EventWebhook {
            url,
            secret,
            created_at,
            updated_at,
        }))
    }

    /// Removes connector `id`'s job event webhook: `false` when it had none.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database cannot be written.
    pub async fn delete_event_webhook(&self, id: &str) -> Result<bool> {
        let db = self.db();
        let n = on_pool!(db, pool => {
            sqlx::query("DELETE FROM connector_webhook WHERE connector_id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map_err(|e| db.error(&format!("cannot delete the event webhook of connector `{id}` from"), &e))?
                .rows_affected()
        });
        Ok(n > 0)
    }
}

/// Events delivered at once, at most; past that an event is dropped with a warning (a
/// receiver that hangs must not pile up tasks without bound).
const DEFAULT_IN_FLIGHT: usize = 256;

/// Sends the job events of connectors that have a webhook ([`ConnectorStore::set_event_webhook`]):
/// a [`JobObserver`] for [`SyncService::observe`](crate::SyncService::observe), which the
/// workers add themselves when [`WorkerOptions::job_webhooks`](crate::WorkerOptions::job_webhooks)
/// is on.
///
/// Each event is delivered on a task of its own: the job never waits for it and its outcome
/// never depends on it. One job's `finished` or `failed` is sent after its `started` was
/// (delivered or given up). The HTTP layer is core's [`HttpClient`] with the webhook's host
/// allowed explicitly on the network policy and redirects not followed: 5xx, 408, timeouts
/// and connection errors are retried with backoff (every retry carries the same body,
/// signature and `Idempotency-Key`), 429 is waited out honouring `Retry-After`. A receiver that
/// stays down loses the event, with a warning in the log naming the connector and the URL
/// without its query.
#[derive(Clone)]
pub struct EventNotifier {
    store: ConnectorStore,
    network: NetworkPolicy,
    retry: RetryPolicy,
    timeout: Duration,
    in_flight: Arc<Semaphore>,
    /// The delivery of each running job's `started`, which its end waits for.
    started: Arc<Mutex<HashMap<i64, JoinHandle<()>>>>,
    /// One client per receiver host (its own network policy allows that host).
    clients: Arc<Mutex<HashMap<String, HttpClient>>>,
}

impl fmt::Debug for EventNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventNotifier")
            .field("store", &self.store)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl EventNotifier {
    /// A notifier reading the webhooks of `store`'s connectors, with core's default retry
    /// policy, a 10 s timeout per POST, and public addresses allowed besides each webhook's
    /// own host.
    pub fn new(store: ConnectorStore) -> Self {
        Self {
            store,
            network: NetworkPolicy::public_only(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            in_flight: Arc::new(Semaphore::new(DEFAULT_IN_FLIGHT)),
            started: Arc::new(Mutex::new(HashMap::new())),
            clients: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The retry policy of the POSTs (default: core's).
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How long one POST may take (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The host's network policy, which each webhook's own host is added to (default
    /// [`NetworkPolicy::public_only`]).
    #[must_use]
    pub fn network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.network = policy;
        self
    }

    /// Delivers `event` now, to its connector's webhook if it has one, and returns once it
    /// was acknowledged (2xx) or given up: `Ok(false)` when the connector has no webhook.
    ///
    /// # Errors
    /// When the webhook cannot be read or the receiver did not acknowledge the event after
    /// the retries (the error names the URL without its query, never the secret).
    pub async fn deliver(&self, event: &JobEvent) -> Result<bool> {
        let Some(hook) = self.store.event_webhook(&event.connector_id).await? else {
            return Ok(false);
        };
        let client = self.client(&hook.url)?;
        let payload = EventPayload::from_event(event);
        let body = serde_json::to_vec(&payload)
            .map_err(|e| Error::internal("cannot serialise a job event").with_cause(e))?;
        let signature = sign(&hook.secret, Utc::now().timestamp(), &body);
        client
            .post(hook.url.clone())
            .header(EVENT_HEADER, &payload.event_type)
            .header(crate::webhook::IDEMPOTENCY_KEY_HEADER, &payload.id)
            .header(SIGNATURE_HEADER, &signature)
            .body(body, "application/json")
            // The event id lets a receiver drop a repeat, so a POST may be sent again.
            .idempotent(true)
            .send()
            .await
            .map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "the job event webhook {} of connector `{}` did not take event {}",
                        redact_url(&hook.url),
                        event.connector_id,
                        payload.id
                    ),
                )
                .with_cause(e)
            })?;
        Ok(true)
    }

    fn client(&self, url: &Url) -> Result<HttpClient> {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&host) {
            return Ok(c.clone());
        }
        let network = self.network.clone().allow([host.as_str()])?;
        let client = HttpClient::builder(CLIENT_NAME)
            .timeout(self.timeout)
            .retry_policy(self.retry)
            .max_redirects(0)
            .network_policy(network)
            .build()?;
        clients.insert(host, client.clone());
        Ok(client)
    }
}

impl JobObserver for EventNotifier {
    fn job_event(&self, event: &JobEvent) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                job = event.job_id,
                "a job event outside a tokio runtime is not delivered"
            );
            return;
        };
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            tracing::warn!(
                job = event.job_id,
                connector = %event.connector_id,
                "too many job events in flight; this one is dropped"
            );
            return;
        };
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        started.retain(|_, h| !h.is_finished());
        let before = match event.kind {
            JobEventKind::Started => None,
            JobEventKind::Finished | JobEventKind::Failed => started.remove(&event.job_id),
        };
        let notifier = self.clone();
        let owned = event.clone();
        let handle = runtime.spawn(async move {
            let _permit = permit;
            if let Some(before) = before {
                let _ = before.await;
            }
            if let Err(e) = notifier.deliver(&owned).await {
                tracing::warn!(
                    job = owned.job_id,
                    connector = %owned.connector_id,
                    error = %e,
                    "a job event was not delivered"
                );
            }
        });
        if event.kind == JobEventKind::Started {
            started.insert(event.job_id, handle);
        }
    }
}
