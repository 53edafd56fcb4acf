#![doc = include_str!("../README.md")]

#[cfg(feature = "api")]
pub mod api;
mod connectors;
mod credentials;
mod db;
pub mod events;
mod handoff;
mod jobs;
#[cfg(feature = "api")]
pub mod oauth;
mod observe;
mod rate_gate;
mod scheduler;
mod seal;
mod service;
mod sinks;
mod store;
mod webhook;
mod worker;

pub use connectors::{
    ConnectorRecord, ConnectorStatus, ConnectorStore, ConnectorUpdate, DEFAULT_TIMEOUT_SECS,
    MAX_FREQ_MINUTES, NewConnector,
};
pub use credentials::SqlCredentialStore;
pub use db::{DbOptions, SyncDb};
pub use jobs::{JobCounters, JobKind, JobMode, JobRecord, JobStatus};
pub use observe::{JobEvent, JobEventKind, JobObserver, RunStats};
pub use rate_gate::SqlRateGate;
pub use scheduler::{MAX_JOB_RETENTION, MAX_WORKER_TTL, SchedulerOptions, Tick};
pub use seal::{SEALED_KEY, SECRET_KEY_ENV, SECRET_KEY_FILE_ENV, Sealer};
pub use service::{DocumentEntry, SyncService, Trigger, TriggerMode, Triggered, WorkerRecord};
pub use sinks::{DataDirSinks, DataLayout, SharedSink, SinkFactory, WebhookSinks};
pub use store::{SqlStateStore, config_connector_id};
pub use webhook::{
    IDEMPOTENCY_KEY_HEADER, WebhookConfig, WebhookHeader, WebhookSink, WebhookSinkBuilder,
};
pub use worker::WorkerOptions;
