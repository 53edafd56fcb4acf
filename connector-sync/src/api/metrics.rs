//! Prometheus metrics: job events observed from this process's workers, the job queue read
//! from the database at each scrape, and the API's own requests.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::jobs::JobStatus;
use crate::observe::{JobEvent, JobEventKind, JobObserver};

type Labels = Vec<(&'static str, String)>;

fn job_duration() -> Histogram {
    // 10 ms to ~5.8 h.
    Histogram::new(exponential_buckets(0.01, 2.0, 21))
}

/// The metrics of one `connectors serve` process, served at `/metrics` in Prometheus' text
/// format. Register it as a [`JobObserver`] of the service whose workers run in this process
/// ([`SyncService::observe`](crate::SyncService::observe)).
///
/// | Metric | Type | Labels |
/// | --- | --- | --- |
/// | `connectors_jobs` | gauge, read from the database at each scrape (every process) | `status` |
/// | `connectors_job_events_total` | counter | `event` (`started`, `finished`, `failed`), `kind` |
/// | `connectors_job_duration_seconds` | histogram of finished and failed attempts | `kind`, `outcome` |
/// | `connectors_documents_total` | counter | `outcome` (`new`, `updated`, `unchanged`, `failed`, `deleted`, `gone`) |
/// | `connectors_source_requests_total` | counter of the connectors' requests to their services | |
/// | `connectors_source_request_retries_total` | counter | |
/// | `connectors_rate_limit_wait_seconds_total` | counter of time spent waiting on rate limits | |
/// | `connectors_http_requests_total` | counter of the API's answers | `method`, `route`, `status` |
#[derive(Debug)]
pub struct ApiMetrics {
    registry: Mutex<Registry>,
    jobs: Family<Labels, Gauge>,
    events: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    documents: Family<Labels, Counter>,
    requests: Counter,
    retries: Counter,
    rate_limit_wait: Counter<f64, AtomicU64>,
    http: Family<Labels, Counter>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    /// Empty metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("connectors");
        let jobs = Family::<Labels, Gauge>::default();
        let events = Family::<Labels, Counter>::default();
        let durations =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(job_duration);
        let documents = Family::<Labels, Counter>::default();
        let requests = Counter::default();
        let retries = Counter::default();
        let rate_limit_wait = Counter::<f64, AtomicU64>::default();
        let http = Family::<Labels, Counter>::default();
        registry.register("jobs", "Jobs in the database by status", jobs.clone());
        registry.register(
            "job_events",
            "Job attempts started, finished and failed on this process's workers",
            events.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "How long job attempts ran on this process's workers",
            durations.clone(),
        );
        registry.register(
            "documents",
            "Documents by outcome in jobs run on this process's workers",
            documents.clone(),
        );
        registry.register(
            "source_requests",
            "Requests the connectors sent to their services",
            requests.clone(),
        );
        registry.register(
            "source_request_retries",
            "Requests to the services that were retried",
            retries.clone(),
        );
        registry.register(
            "rate_limit_wait_seconds",
            "Time the connectors waited because a service asked them to slow down",
            rate_limit_wait.clone(),
        );
        registry.register(
            "http_requests",
            "Answers of the management API",
            http.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            jobs,
            events,
            durations,
            documents,
            requests,
            retries,
            rate_limit_wait,
            http,
        }
    }

    /// Sets the job gauges from the database's counts (missing statuses are 0).
    pub(crate) fn set_jobs(&self, counts: &[(JobStatus, u64)]) {
        for status in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ] {
            let n = counts
                .iter()
                .filter(|(s, _)| *s == status)
                .map(|(_, n)| *n)
                .sum::<u64>();
            self.jobs
                .get_or_create(&vec![("status", status.as_str().to_owned())])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Counts one API answer.
    pub(crate) fn http_request(&self, method: &str, route: &str, status: u16) {
        self.http
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = encode(&mut out, &registry);
        }
        out
    }
}

impl JobObserver for ApiMetrics {
    fn job_event(&self, event: &JobEvent) {
        let kind = event.job_kind.as_str().to_owned();
        self.events
            .get_or_create(&vec![
                ("event", event.kind.as_str().to_owned()),
                ("kind", kind.clone()),
            ])
            .inc();
        if event.kind == JobEventKind::Started {
            return;
        }
        if let Some(d) = event.duration {
            self.durations
                .get_or_create(&vec![
                    ("kind", kind),
                    ("outcome", event.kind.as_str().to_owned()),
                ])
                .observe(d.as_secs_f64());
        }
        let c = event.counters;
        for (outcome, n) in [
            ("new", c.new),
            ("updated", c.updated),
            ("unchanged", c.unchanged),
            ("failed", c.failed),
            ("deleted", c.deleted),
            ("gone", c.gone),
        ] {
            if n > 0 {
                self.documents
                    .get_or_create(&vec![("outcome", outcome.to_owned())])
                    .inc_by(n);
            }
        }
        if let Some(stats) = event.stats {
            self.requests.inc_by(stats.requests);
            self.retries.inc_by(stats.retries);
            self.rate_limit_wait
                .inc_by(stats.rate_limit_wait.as_secs_f64());
        }
    }
}
