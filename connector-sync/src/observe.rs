//! Job events: what the workers tell observers when a job attempt starts, finishes or fails.
//!
//! The hook that metrics ([`api`](crate::api) feature) and job webhooks plug into: a host
//! registers observers with [`SyncService::observe`](crate::SyncService::observe) and every
//! worker of that service calls them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobCounters, JobKind};

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEventKind {
    /// A worker claimed the job and starts an attempt.
    Started,
    /// The attempt finished and the job is done.
    Finished,
    /// The attempt failed; [`JobEvent::retry_at`] says whether the job is queued again.
    Failed,
}

impl JobEventKind {
    /// `started`, `finished` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }
}

/// Counters of an attempt that only a finished run knows (core's `SyncReport`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// Requests the connector's HTTP clients sent.
    pub requests: u64,
    /// Requests retried.
    pub retries: u64,
    /// Time spent waiting because a service asked to slow down.
    pub rate_limit_wait: Duration,
    /// Documents the sink acknowledged.
    pub delivered: u64,
}

/// One job event, as a worker reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobEvent {
    /// What happened.
    pub kind: JobEventKind,
    /// The job's id.
    pub job_id: i64,
    /// Its connector.
    pub connector_id: String,
    /// The connector's source key.
    pub source: String,
    /// Sync or prune.
    pub job_kind: JobKind,
    /// The partition it runs (`""`: the whole connector).
    pub partition: String,
    /// The attempt (1-based).
    pub attempt: u32,
    /// The counters so far (zero when started).
    pub counters: JobCounters,
    /// How long the attempt ran (`None` when started).
    pub duration: Option<Duration>,
    /// What a finished run reports (finished only).
    pub stats: Option<RunStats>,
    /// The error of a failed attempt (already free of credentials, as core's errors are).
    pub error: Option<String>,
    /// When a failed job is tried again (`None`: failed for good).
    pub retry_at: Option<DateTime<Utc>>,
    /// The worker that ran it.
    pub worker: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// Receives the job events of a [`SyncService`](crate::SyncService)'s workers.
///
/// # Contract
/// - Called on the worker's task, in the order of the events of one job (started, then
///   finished or failed; a failed attempt that is retried starts again later).
/// - Must not block or wait: it returns at once, and spawns a task for any I/O (a webhook
///   delivery, say). A slow observer delays the job's end being recorded.
/// - Never sees a credential: events carry ids, counters and redacted errors only.
pub trait JobObserver: Send + Sync + std::fmt::Debug + 'static {
    /// Takes one event.
    fn job_event(&self, event: &JobEvent);
}

fn _object_safe(_: &dyn JobObserver) {}
