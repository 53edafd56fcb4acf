//! The API's request and response bodies, as the OpenAPI document describes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::connectors::{ConnectorRecord, ConnectorStatus};
use crate::jobs::{JobKind, JobMode, JobRecord, JobStatus};
use crate::service::DocumentEntry;

/// Every successful answer: `{"data": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    /// The answer.
    pub data: T,
}

impl<T> Data<T> {
    pub(crate) fn of(data: T) -> axum::Json<Self> {
        axum::Json(Self { data })
    }
}

/// A page of a listing: `{"data": [...], "page", "page_size", "total"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// The page number (1-based).
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
    /// Items in all.
    pub total: u64,
}

/// `page` and `page_size` (RAGFlow's pagination).
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page, from 1 (default 1).
    #[serde(default)]
    pub page: Option<u64>,
    /// Items per page, 1 to 1000 (default 100).
    #[serde(default)]
    pub page_size: Option<u64>,
}

/// Largest `page_size`.
pub(crate) const MAX_PAGE_SIZE: u64 = 1000;

impl PageQuery {
    /// `(page, page_size, offset)`, or a 400 naming the bad parameter.
    pub(crate) fn resolve(self) -> Result<(u64, u64, u64), super::ApiError> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(100);
        if page == 0 {
            return Err(super::ApiError::invalid("page", "page counts from 1"));
        }
        if size == 0 || size > MAX_PAGE_SIZE {
            return Err(super::ApiError::invalid(
                "page_size",
                format!("page_size is 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        Ok((page, size, (page - 1).saturating_mul(size)))
    }
}

/// Whether the scheduler runs a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    /// Scheduled, and runnable by hand.
    Active,
    /// Not scheduled; queued jobs wait.
    Paused,
}

impl From<ConnectorStatus> for ConnectorState {
    fn from(s: ConnectorStatus) -> Self {
        match s {
            ConnectorStatus::Active => Self::Active,
            ConnectorStatus::Paused => Self::Paused,
        }
    }
}

/// A stored connector. Its config's credentials (the fields its schema marks `writeOnly`)
/// are always shown as `"***"`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorView {
    /// Its id (32 hex digits).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its source key (`local`, `confluence`, `s3`, …).
    pub source: String,
    /// The same source key, under the name of the `/api/v1/connectors` shape.
    #[serde(rename = "type")]
    pub type_: String,
    /// Its config, credentials shown as `"***"`.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Minutes between scheduled syncs; 0 = manual only.
    pub refresh_freq: u32,
    /// Minutes between scheduled prunes; 0 = manual only.
    pub prune_freq: u32,
    /// Seconds a job may run; 0 = no limit.
    pub timeout_secs: u64,
    /// Active or paused.
    pub status: ConnectorState,
    /// When the scheduler next queues a sync.
    pub next_sync_at: Option<DateTime<Utc>>,
    /// When the scheduler next queues a prune.
    pub next_prune_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ConnectorRecord> for ConnectorView {
    fn from(r: ConnectorRecord) -> Self {
        Self {
            type_: r.source.clone(),
            id: r.id,
            name: r.name,
            source: r.source,
            config: r.config,
            refresh_freq: r.refresh_freq,
            prune_freq: r.prune_freq,
            timeout_secs: r.timeout_secs,
            status: r.status.into(),
            next_sync_at: r.next_sync_at,
            next_prune_at: r.next_prune_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A connector to create: RAGFlow's shape (`name, source, config, refresh_freq, prune_freq,
/// timeout_secs`) or the `/api/v1/connectors` shape (`name, type, config, credentials`).
/// `credentials` is merged into `config.credentials` (a key in both is refused).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnector {
    /// A name for people.
    pub name: String,
    /// The source key (see `GET /api/v1/sources`).
    #[serde(default)]
    pub source: Option<String>,
    /// The source key, under the name of the `/api/v1/connectors` shape.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// The connector's config, as `GET /api/v1/sources/{source}/schema` describes it.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Credentials, merged into `config.credentials`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
    /// Minutes between scheduled syncs; 0 (default) = manual only.
    #[serde(default)]
    pub refresh_freq: Option<u32>,
    /// Minutes between scheduled prunes; 0 (default) = manual only.
    #[serde(default)]
    pub prune_freq: Option<u32>,
    /// Seconds a job attempt may run; 0 = no limit; 10800 (3 h) when left out.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// What to do with a connector's jobs, as RAGFlow's `PATCH` `status` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// Resume the schedule.
    Active,
    /// Pause the schedule; queued jobs wait.
    Paused,
    /// Cancel the queued and running jobs (RAGFlow's `CANCEL`, `"2"`).
    #[serde(alias = "CANCEL", alias = "2")]
    Cancel,
    /// Queue a sync now (RAGFlow's `SCHEDULE`, `"5"`).
    #[serde(alias = "SCHEDULE", alias = "5")]
    Schedule,
}

/// Changes to a connector (`PATCH`, RAGFlow's shape, or `PUT`, the `/api/v1/connectors`
/// shape: the same body). Absent fields stay as they are. `config` is merged into the stored
/// config as a JSON merge patch (RFC 7386: an object member set to `null` is removed), and
/// `credentials` into `config.credentials`; a credential sent back as `"***"` keeps the
/// stored one. The result is validated whole.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnector {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// Config changes (merge patch).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Credential changes (merged into `config.credentials`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
    /// Minutes between scheduled syncs (0 = manual).
    #[serde(default)]
    pub refresh_freq: Option<u32>,
    /// Minutes between scheduled prunes (0 = manual).
    #[serde(default)]
    pub prune_freq: Option<u32>,
    /// Seconds a job may run (0 = no limit).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Pause, resume, cancel the pending jobs or queue a sync.
    #[serde(default)]
    pub status: Option<StatusChange>,
    /// Cancel the pending jobs and queue a sync now (RAGFlow's `reschedule`).
    #[serde(default)]
    pub reschedule: Option<bool>,
}

/// A config to check before saving it: `source` (or `type`), `config`, `credentials`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// The source key (optional in `POST /api/v1/connectors/{source}/test`).
    #[serde(default)]
    pub source: Option<String>,
    /// The source key, under the name of the `/api/v1/connectors` shape.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// The config to check.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Credentials, merged into `config.credentials`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
}

/// How a connection test went. A config that does not validate is a 400 instead.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// Whether the source answered with the credentials.
    pub ok: bool,
    /// The source key.
    pub source: String,
    /// Why not, as an error kind (`unauthenticated`, `permission_denied`, `unavailable`,
    /// `not_found`, `timeout`, …).
    pub kind: Option<String>,
    /// Why not, for people (never holds a credential).
    pub message: Option<String>,
}

/// `sync_mode` of a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum SyncModeParam {
    /// Resume an interrupted run, else what changed since the last run, else everything;
    /// with `file_filter`, fetch those items again (incremental).
    #[default]
    Auto,
    /// Everything (a `file_filter` is ignored), without skipping unchanged bodies.
    Full,
    /// What changed since the last run; with `file_filter`, those items fetched again first.
    Incremental,
}

/// A sync to start (`POST /api/v1/connectors/{id}/sync`); the body may be left out.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// `auto` (default), `full` or `incremental`.
    #[serde(default)]
    pub sync_mode: Option<SyncModeParam>,
    /// Document ids (for file sources, their paths as ids) to fetch again now; needs a
    /// source that can fetch by id, and is ignored by a `full` sync.
    #[serde(default)]
    pub file_filter: Option<Vec<String>>,
    /// Deprecated: `true` is `sync_mode: "full"`.
    #[serde(default)]
    #[schema(deprecated)]
    pub force_full_sync: Option<bool>,
}

/// A sync queued (`POST …/sync`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStarted {
    /// The job (the first one, for a connector synced as several partitions).
    pub job_id: i64,
    /// Every job queued for it (one per partition).
    pub job_ids: Vec<i64>,
    /// `queued`; or the status of a job that was already pending (`created` false).
    pub status: JobState,
    /// `false` when a job was already queued or running and it is that job.
    pub created: bool,
    /// When the job was queued.
    pub started_at: DateTime<Utc>,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (`waitReason` says why).
    Queued,
    /// Running on a worker.
    Running,
    /// Finished.
    Done,
    /// Failed after its retries (`error` says why).
    Failed,
    /// Cancelled.
    Cancelled,
}

impl From<JobStatus> for JobState {
    fn from(s: JobStatus) -> Self {
        match s {
            JobStatus::Queued => Self::Queued,
            JobStatus::Running => Self::Running,
            JobStatus::Done => Self::Done,
            JobStatus::Failed => Self::Failed,
            JobStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A job's progress in the three numbers of the `/api/v1/connectors` shape, mapped from the
/// engine's counters: `collected` = every item the source produced this run (new, updated,
/// unchanged and failed); `parsed` = those that became documents or were found unchanged
/// (collected minus failed); `indexed` = documents the sink acknowledged as new or changed
/// (new and updated). Unchanged documents are collected and parsed, not indexed again.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncProgress {
    /// Items seen.
    pub collected: u64,
    /// Items that became documents or were unchanged.
    pub parsed: u64,
    /// New or changed documents acknowledged by the sink.
    pub indexed: u64,
}

/// The engine's own counters of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobCountersView {
    /// New documents.
    pub new: u64,
    /// Changed documents.
    pub updated: u64,
    /// Unchanged documents.
    pub unchanged: u64,
    /// Items that failed.
    pub failed: u64,
    /// Documents deleted: those the source reported deleted, and prune's.
    pub deleted: u64,
    /// Listed items that were gone when read (deleted in the source between the listing and
    /// the download): neither a document nor a failure.
    pub gone: u64,
}

/// A job: its status and progress (`GET …/sync/{jobId}`), or one entry of the sync log
/// (`GET …/logs`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    /// The job's id.
    pub job_id: i64,
    /// Its connector.
    pub connector_id: String,
    /// `sync` or `prune`.
    pub kind: String,
    /// `full`, `incremental`, `auto` or `rebuild`.
    pub mode: String,
    /// The partition it runs (`""`: the whole connector).
    pub partition: String,
    /// Queued, running, done, failed or cancelled.
    pub status: JobState,
    /// Progress in collected / parsed / indexed (see the schema's description).
    pub progress: SyncProgress,
    /// The engine's counters.
    pub counters: JobCountersView,
    /// Attempts started so far.
    pub attempt: u32,
    /// Attempts that ended rate-limited since the job's last commit (a commit resets it):
    /// a rate limit that states no wait holds the connector for the backoff doubled with
    /// each ([`JobRecord::throttled_attempts`]).
    pub throttled_attempts: u32,
    /// Why a queued job waits (paused, scheduled, rate-limited until T, no worker alive,
    /// queued behind N jobs…).
    pub wait_reason: Option<String>,
    /// The error of the last failed attempt.
    pub error: Option<String>,
    /// The sync's time window, once known.
    pub window_start: Option<DateTime<Utc>>,
    /// Its end.
    pub window_end: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        let c = j.counters;
        let collected = c.new + c.updated + c.unchanged + c.failed;
        Self {
            job_id: j.id,
            connector_id: j.connector_id,
            kind: match j.kind {
                JobKind::Sync => "sync",
                JobKind::Prune => "prune",
            }
            .to_owned(),
            mode: match j.mode {
                JobMode::Full => "full",
                JobMode::Incremental => "incremental",
                JobMode::Auto => "auto",
                JobMode::Rebuild => "rebuild",
            }
            .to_owned(),
            partition: j.partition,
            status: j.status.into(),
            progress: SyncProgress {
                collected,
                parsed: collected - c.failed,
                indexed: c.new + c.updated,
            },
            counters: JobCountersView {
                new: c.new,
                updated: c.updated,
                unchanged: c.unchanged,
                failed: c.failed,
                deleted: c.deleted,
                gone: c.gone,
            },
            attempt: j.attempt,
            throttled_attempts: j.throttled_attempts,
            wait_reason: j.wait_reason,
            error: j.error,
            window_start: j.window_start,
            window_end: j.window_end,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
        }
    }
}

/// Jobs a request queued (rebuild, prune, refresh-permissions, reschedule).
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// The jobs' ids.
    pub job_ids: Vec<i64>,
}

/// A `PATCH`/`PUT` answer: the connector, and the jobs its `status`/`reschedule` touched.
#[derive(Debug, Serialize, ToSchema)]
pub struct Updated {
    /// The connector as it is now.
    pub connector: ConnectorView,
    /// Jobs queued by `reschedule` or `status: schedule`.
    pub queued: Vec<i64>,
    /// Jobs cancelled by `reschedule` or `status: cancel`.
    pub cancelled: u64,
}

/// `{"deleted": true}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Always `true` (an unknown id is a 404).
    pub deleted: bool,
}

/// `{"held": bool}`: whether the connector was held by a rate limit when it was lifted.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitLifted {
    /// `false` when nothing held it (no hold in the future, no job waiting for one).
    pub held: bool,
}

/// `{"cancelled": bool}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    /// `false` when the job was already over.
    pub cancelled: bool,
}

/// An acknowledged document of a connector, as the engine's state keeps it (the content
/// went to the sink).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    /// The document's id.
    pub id: String,
    /// Its fingerprint (32 hex digits).
    pub fingerprint: String,
    /// When its source last changed it.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<DocumentEntry> for DocumentView {
    fn from(d: DocumentEntry) -> Self {
        Self {
            id: d.id,
            fingerprint: d.fingerprint,
            updated_at: d.updated_at,
        }
    }
}

/// A page of documents, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    /// The documents.
    pub data: Vec<DocumentView>,
    /// How many the connector has.
    pub total: u64,
    /// Pass it as `after` for the next page (`None`: this was the last).
    pub next_after: Option<String>,
}

/// `after` and `limit` of a document listing.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    /// The last id of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// Documents per page, 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `{"resume": bool}` (RAGFlow's `PUT /connectors/{id}/resume`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    /// `true` resumes, `false` pauses.
    pub resume: bool,
}

/// RAGFlow's rebuild body; `kb_id` is accepted and not used (documents go to the
/// connector's sink, which is the host's knowledge base).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebuildRequest {
    /// Accepted for RAGFlow clients; not used.
    #[serde(default)]
    pub kb_id: Option<String>,
}

/// A source compiled into this server.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    /// Its key.
    pub source: String,
    /// What it syncs.
    pub description: String,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` (readyz: the database did not answer).
    pub status: String,
    /// The database's kind, `postgres` or `sqlite` (readyz only; not where it is).
    pub database: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobCounters;

    /// The API's job shows how many attempts in a row its service rate-limited, as
    /// `throttledAttempts` (it was only in `JobRecord`).
    #[test]
    fn a_job_view_shows_its_throttled_attempts() {
        let now = Utc::now();
        let record = JobRecord {
            id: 7,
            connector_id: "c".into(),
            kind: JobKind::Sync,
            mode: JobMode::Auto,
            partition: String::new(),
            status: JobStatus::Queued,
            refetch_ids: None,
            window_start: None,
            window_end: None,
            counters: JobCounters::default(),
            error: Some("rate-limited".into()),
            wait_reason: None,
            attempt: 4,
            attempts_without_progress: 0,
            last_progress_at: None,
            throttled_attempts: 3,
            run_after: now,
            lease_owner: None,
            lease_expires_at: None,
            heartbeat_at: None,
            created_at: now,
            started_at: Some(now),
            finished_at: None,
        };
        let json = serde_json::to_value(JobView::from(record)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["throttledAttempts"], 3, "{json}");
        assert_eq!(json["attempt"], 4, "{json}");
    }
}
