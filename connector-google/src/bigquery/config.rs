//! [`BigQueryConfig`]: RAGFlow's `bigquery` config (`project_id`, `dataset_id`, `table_id`,
//! `location`, `query`, `content_columns`, `metadata_columns`, `id_column`,
//! `timestamp_column`, `page_size`, `maximum_bytes_billed`, `job_timeout_ms`,
//! `use_query_cache`, `credentials.service_account_json`), plus `title_column`, the query
//! size, the overlap, `timezone` and the endpoints.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, StringList};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::{GoogleCredentialsConfig, GoogleTokens};

/// BigQuery's REST endpoint.
pub const DEFAULT_BIGQUERY_BASE_URL: &str = "https://bigquery.googleapis.com/bigquery/v2";
/// The most bytes one query may bill unless configured otherwise: 1 GiB (RAGFlow's guard).
pub const DEFAULT_MAXIMUM_BYTES_BILLED: u64 = 1024 * 1024 * 1024;
/// The largest `maximum_bytes_billed` accepted: 1 PiB.
const MAX_BYTES_BILLED: u64 = 1 << 50;
/// Rows per result page (`maxResults`), one checkpointed batch each.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// Rows one query job returns at most (`LIMIT`) before the next job continues after its last
/// row.
pub const DEFAULT_ROWS_PER_QUERY: u32 = 100_000;
/// Seconds each incremental window reaches back before the previous one's end.
pub const DEFAULT_OVERLAP_SECS: u32 = 300;

/// Who runs the queries (RAGFlow's `credentials`).
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BigQueryCredentials {
    /// A service-account key (`type: service_account`) as the Cloud console downloads it, as
    /// a JSON object or a string holding one (RAGFlow's `service_account_json`); an OAuth
    /// user token (`refresh_token`, `client_id`, `client_secret`) is read too. It needs
    /// `bigquery.jobs.create` on `project_id` and read access to the data
    /// (`roles/bigquery.jobUser` and `roles/bigquery.dataViewer`).
    #[serde(alias = "google_tokens")]
    pub service_account_json: GoogleTokens,
}

impl fmt::Debug for BigQueryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigQueryCredentials")
            .field("service_account_json", &self.service_account_json)
            .finish()
    }
}

/// The configuration of the `bigquery` source (RAGFlow's field names).
///
/// ```
/// use connector_google::bigquery::BigQueryConfig;
///
/// let config: BigQueryConfig = connector_core::config::from_json(serde_json::json!({
///     "project_id": "acme-analytics", "dataset_id": "shop", "table_id": "products",
///     "location": "EU", "content_columns": "name,description",
///     "metadata_columns": "category", "id_column": "id", "timestamp_column": "updated_at",
///     "credentials": {"service_account_json": r#"{"refresh_token": "1//r", "client_id": "c", "client_secret": "s"}"#},
/// }))?;
/// assert_eq!(config.maximum_bytes_billed(), 1 << 30);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BigQueryConfig {
    /// The Google Cloud project that runs (and pays for) the query jobs, and holds the table.
    #[schemars(example = &"acme-analytics")]
    pub project_id: String,
    /// The dataset of `table_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"shop")]
    pub dataset_id: Option<String>,
    /// The table whose rows become documents (read as ``SELECT * FROM
    /// `project.dataset.table` ``). Give it with `dataset_id`, or give `query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"products")]
    pub table_id: Option<String>,
    /// Where the jobs run (`US`, `EU`, `europe-west1` ...): the dataset's location. Default:
    /// BigQuery's choice from the tables the query reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"EU")]
    pub location: Option<String>,
    /// A GoogleSQL `SELECT` whose rows become documents, in place of a table (a Markdown
    /// ```` ```sql ```` fence and a trailing `;` are dropped). It is run as a subquery
    /// (`SELECT * FROM (query) AS src WHERE … ORDER BY …`), so it must name each column once.
    /// Each query job runs it anew: a `LIMIT` in it needs an `ORDER BY` that makes the rows
    /// it keeps the same every time, else jobs may keep different rows (some missed, some
    /// read twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"SELECT id, name, description, updated_at FROM `acme-analytics.shop.products` WHERE active")]
    pub query: Option<String>,
    /// Columns whose values make up the document's text, in this order (a list or a comma
    /// list). Empty: every column but `id_column` and `timestamp_column`.
    #[serde(default)]
    #[schemars(example = &"name,description")]
    pub content_columns: StringList,
    /// Columns copied into the document's metadata, typed (numbers stay numbers, times are
    /// RFC 3339, records and arrays JSON), NULLs left out.
    #[serde(default)]
    #[schemars(example = &"category,price")]
    pub metadata_columns: StringList,
    /// A unique, non-NULL column (`INT64`, `STRING`, `NUMERIC` or `BIGNUMERIC`) naming each
    /// row: the document id and the keyset order. A row whose id is NULL is no document:
    /// each sync reports it as a failure naming the row (its title, cursor value and a hash
    /// of its values). Without it, a table's primary key (`tables.get`,
    /// `tableConstraints.primaryKey`; a key of several columns makes ids like
    /// `{"region":"eu","id":7}`) names the rows, and a table without one is refused naming
    /// this field. A `query` without it is read as RAGFlow reads it: each row's id is a hash
    /// of its values (MD5 of its JSON, computed by BigQuery, which also orders the walk by
    /// it), so an edited row is a new document and its old one goes at the next prune
    /// (each run logs a warning saying so). Name a unique column to keep ids stable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"id")]
    pub id_column: Option<String>,
    /// A `TIMESTAMP`, `DATETIME` or `DATE` column the application moves on every change:
    /// the document's `updated_at` and what incremental runs filter on. `DATETIME` and
    /// `DATE` are read in `timezone`. Rows whose value is NULL have no `updated_at`, and every
    /// incremental run reads them too (no window can tell when they changed; unchanged ones
    /// are skipped by their fingerprints). Without it every run reads every row; a number (RAGFlow's `INT64`,
    /// `NUMERIC` and `FLOAT64` cursors) is accepted but bounds no time window, so every run
    /// reads every row then too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"updated_at")]
    pub timestamp_column: Option<String>,
    /// The time zone a zone-less `timestamp_column` (`DATETIME`, `DATE`) is written in: an
    /// IANA name (`America/New_York`, with its daylight saving rules) or an offset
    /// (`+02:00`, `UTC`). Default UTC. Set it when the application writes local times
    /// (`CURRENT_DATETIME("America/New_York")`): read as UTC, a row written west of
    /// Greenwich would carry a time before the window it was written in, and no incremental
    /// run would find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"Europe/Berlin")]
    pub timezone: Option<String>,
    /// A column whose value is the document's title. Default: the table and the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"name")]
    pub title_column: Option<String>,
    /// Rows per result page (`maxResults`, at most 100000): one request, one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1, max = 100_000), example = 1000)]
    pub page_size: NonZeroU32,
    /// Rows one query job returns at most (its `LIMIT`, at most 10000000); the next job
    /// continues after the last row. Each job bills its scan once: larger is cheaper, smaller
    /// keeps BigQuery's sort small.
    #[serde(default = "default_rows_per_query")]
    #[schemars(range(min = 1, max = 10_000_000), example = 100_000)]
    pub rows_per_query: NonZeroU32,
    /// The most bytes one query job may bill (`maximumBytesBilled`; default 1 GiB, as
    /// RAGFlow; at most 1 PiB): a job that would bill more fails without cost, naming this
    /// field. `check()` refuses a table or query whose read of every row processes more
    /// (the dry run's estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        range(min = 1, max = 1_125_899_906_842_624_u64),
        example = 1_073_741_824_u64
    )]
    pub maximum_bytes_billed: Option<u64>,
    /// How long one job may run, in milliseconds (`jobTimeoutMs`; default: BigQuery's six
    /// hours). The connector waits that long and a tenth more (2 s to 5 min), then cancels
    /// the job (`jobs.cancel`) and fails with `Timeout` naming this field; a sync cancelled
    /// or dropped while a job runs cancels it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1000, max = 21_600_000), example = 600_000)]
    pub job_timeout_ms: Option<u64>,
    /// Whether BigQuery may answer from its query cache (default true).
    #[serde(default = "yes")]
    pub use_query_cache: bool,
    /// Seconds each incremental window starts before the previous window's end (default
    /// 300, at most a day): rows written late with a `timestamp_column` inside a closed
    /// window are found by the next one.
    #[serde(default = "default_overlap")]
    #[schemars(range(min = 0, max = 86400), example = 300)]
    pub overlap_seconds: u32,
    /// The key or token.
    pub credentials: BigQueryCredentials,
    /// BigQuery's REST endpoint (default `https://bigquery.googleapis.com/bigquery/v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://bigquery.googleapis.com/bigquery/v2")]
    pub base_url: Option<Url>,
    /// The OAuth token endpoint (default: the key's `token_uri`, else Google's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://oauth2.googleapis.com/token")]
    pub token_uri: Option<Url>,
    /// Hosts this connector may reach although they are not public addresses (host names,
    /// `*.domains`, addresses or networks): `base_url` and `token_uri` are the config's to
    /// set, so private, loopback and link-local addresses are denied otherwise. Google's own
    /// endpoints need nothing here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["proxy.corp.example"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    host_network: Option<NetworkPolicy>,
}

fn yes() -> bool {
    true
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

fn default_rows_per_query() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_ROWS_PER_QUERY).unwrap_or(NonZeroU32::MIN)
}

fn default_overlap() -> u32 {
    DEFAULT_OVERLAP_SECS
}

impl BigQueryConfig {
    /// Every row of `project.dataset.table`, keyed by `id_column`, read with `key` (a
    /// service-account key's JSON); every other setting at its default.
    pub fn table(
        project: impl Into<String>,
        dataset: impl Into<String>,
        table: impl Into<String>,
        id_column: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            project_id: project.into(),
            dataset_id: Some(dataset.into()),
            table_id: Some(table.into()),
            location: None,
            query: None,
            content_columns: StringList::default(),
            metadata_columns: StringList::default(),
            id_column: Some(id_column.into()),
            timestamp_column: None,
            timezone: None,
            title_column: None,
            page_size: default_page_size(),
            rows_per_query: default_rows_per_query(),
            maximum_bytes_billed: None,
            job_timeout_ms: None,
            use_query_cache: true,
            overlap_seconds: DEFAULT_OVERLAP_SECS,
            credentials: BigQueryCredentials {
                service_account_json: GoogleTokens::new(key),
            },
            base_url: None,
            token_uri: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// Sends every request to `base` (the API at `base`, the token endpoint `{base}/token`),
    /// for tests and proxies. A `base` on a private address needs
    /// [`with_allowed_hosts`](Self::with_allowed_hosts) too.
    #[must_use]
    pub fn with_base_url(mut self, base: &Url) -> Self {
        self.token_uri = crate::endpoint(base, "token").ok();
        self.base_url = Some(base.clone());
        self
    }

    /// May also reach `hosts` although they are not public addresses.
    #[must_use]
    pub fn with_allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// The policy every request goes through: the host's, if it set one, else public
    /// addresses plus `allowed_hosts`.
    ///
    /// # Errors
    /// `Config` naming an `allowed_hosts` entry that is not a host, domain, address or
    /// network.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// The cap on the bytes one job may bill (`maximum_bytes_billed`, default 1 GiB).
    pub fn maximum_bytes_billed(&self) -> u64 {
        self.maximum_bytes_billed
            .unwrap_or(DEFAULT_MAXIMUM_BYTES_BILLED)
    }

    /// The query without a Markdown fence, a fence's language line or a trailing `;`
    /// (`None` when empty).
    pub fn clean_query(&self) -> Option<String> {
        let mut q = self.query.as_deref()?.trim();
        if let Some(rest) = q.strip_prefix("```") {
            q = rest.strip_suffix("```").unwrap_or(rest).trim();
            if let Some((head, tail)) = q.split_once('\n')
                && matches!(
                    head.trim().to_ascii_lowercase().as_str(),
                    "" | "sql" | "googlesql" | "bigquery"
                )
            {
                q = tail.trim();
            }
        }
        let q = q.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
        (!q.is_empty()).then(|| q.to_owned())
    }

    /// The credentials as the shared Google authentication reads them.
    pub(crate) fn google_credentials(&self) -> GoogleCredentialsConfig {
        GoogleCredentialsConfig::new(self.credentials.service_account_json.expose())
    }

    fn trimmed(v: Option<&String>) -> Option<&str> {
        v.map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// The zone of zone-less cursor values (`timezone`, UTC by default).
    pub fn zone(&self) -> connector_core::window::Zone {
        self.timezone
            .as_deref()
            .and_then(connector_core::window::Zone::named)
            .unwrap_or_else(connector_core::window::Zone::utc)
    }

    /// `dataset_id` when set.
    pub(crate) fn dataset(&self) -> Option<&str> {
        Self::trimmed(self.dataset_id.as_ref())
    }

    /// `table_id` when set.
    pub(crate) fn table_name(&self) -> Option<&str> {
        Self::trimmed(self.table_id.as_ref())
    }

    /// `location` when set.
    pub(crate) fn location(&self) -> Option<&str> {
        Self::trimmed(self.location.as_ref())
    }
}

impl fmt::Debug for BigQueryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigQueryConfig")
            .field("project_id", &self.project_id)
            .field("dataset_id", &self.dataset_id)
            .field("table_id", &self.table_id)
            .field("location", &self.location)
            .field("query", &self.query)
            .field("content_columns", &self.content_columns)
            .field("metadata_columns", &self.metadata_columns)
            .field("id_column", &self.id_column)
            .field("timestamp_column", &self.timestamp_column)
            .field("timezone", &self.timezone)
            .field("title_column", &self.title_column)
            .field("page_size", &self.page_size)
            .field("rows_per_query", &self.rows_per_query)
            .field("maximum_bytes_billed", &self.maximum_bytes_billed)
            .field("job_timeout_ms", &self.job_timeout_ms)
            .field("use_query_cache", &self.use_query_cache)
            .field("overlap_seconds", &self.overlap_seconds)
            .field("credentials", &self.credentials)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("token_uri", &self.token_uri.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// Why `name` cannot be quoted as a GoogleSQL identifier (between backticks), if it cannot.
pub(crate) fn identifier_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("must not be empty")
    } else if name.len() > 1024 {
        Some("is longer than 1024 bytes")
    } else if name.contains('`') || name.contains('\\') {
        Some("holds a backtick or a backslash")
    } else if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else {
        None
    }
}

const CURSOR_REASON: &str = "RAGFlow writes its cursor into the config; here the cursor is the \
     sync's checkpoint and window, kept by the state store";

impl ConnectorConfig for BigQueryConfig {
    const IGNORED: &'static [IgnoredField] = &[
        IgnoredField::new("sync_cursor_value", CURSOR_REASON),
        IgnoredField::new("sync_cursor_id", CURSOR_REASON),
        IgnoredField::new(
            "batch_size",
            "documents are handed on one result page (`page_size` rows) at a time",
        ),
    ];

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if let Err(why) = crate::auth::Credential::parse(&self.credentials.service_account_json) {
            out.push(FieldError::new("credentials.service_account_json", why));
        }
        out.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        let project = self.project_id.trim();
        if project.is_empty() {
            out.push(FieldError::new("project_id", "must not be empty"));
        } else if !project
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | ':' | '.'))
        {
            out.push(FieldError::new(
                "project_id",
                "is a project id (lower-case letters, digits and hyphens, `example.com:name` for a domain-scoped one), not a project name or number",
            ));
        }
        let query = self.clean_query();
        match (&query, self.dataset(), self.table_name()) {
            (Some(_), _, Some(_)) => out.push(FieldError::new(
                "table_id",
                "give `query` or `table_id`, not both",
            )),
            (None, None, _) => out.push(FieldError::new(
                "dataset_id",
                "is required without `query` (with `table_id`)",
            )),
            (None, _, None) => out.push(FieldError::new(
                "table_id",
                "is required without `query` (with `dataset_id`)",
            )),
            _ => {}
        }
        if let Some(d) = self.dataset()
            && !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push(FieldError::new(
                "dataset_id",
                "holds only letters, digits and underscores",
            ));
        }
        if let Some(t) = self.table_name()
            && let Some(why) = identifier_problem(t)
        {
            out.push(FieldError::new("table_id", why));
        }
        for (field, value) in [
            ("id_column", &self.id_column),
            ("timestamp_column", &self.timestamp_column),
            ("title_column", &self.title_column),
        ] {
            if let Some(v) = value
                && let Some(why) = identifier_problem(v)
            {
                out.push(FieldError::new(field, why));
            }
        }
        for (field, list) in [
            ("content_columns", &self.content_columns),
            ("metadata_columns", &self.metadata_columns),
        ] {
            for (i, c) in list.iter().enumerate() {
                if let Some(why) = identifier_problem(c) {
                    out.push(FieldError::new(format!("{field}[{i}]"), why));
                }
            }
        }
        if let Some(l) = self.location()
            && !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            out.push(FieldError::new(
                "location",
                "is a BigQuery location (`US`, `EU`, `europe-west1`)",
            ));
        }
        if let Some(tz) = &self.timezone
            && connector_core::window::Zone::named(tz).is_none()
        {
            out.push(FieldError::new(
                "timezone",
                format!(
                    "`{tz}` is neither an IANA time zone (`Europe/Berlin`) nor an offset (`+02:00`)"
                ),
            ));
        }
        if self.page_size.get() > 100_000 {
            out.push(FieldError::new("page_size", "must be at most 100000"));
        }
        if self.rows_per_query.get() > 10_000_000 {
            out.push(FieldError::new(
                "rows_per_query",
                "must be at most 10000000",
            ));
        }
        if let Some(b) = self.maximum_bytes_billed
            && !(1..=MAX_BYTES_BILLED).contains(&b)
        {
            out.push(FieldError::new(
                "maximum_bytes_billed",
                "must be 1 to 1125899906842624 (1 PiB; leave it out for 1 GiB)",
            ));
        }
        if let Some(t) = self.job_timeout_ms
            && !(1000..=21_600_000).contains(&t)
        {
            out.push(FieldError::new(
                "job_timeout_ms",
                "must be 1000 to 21600000 (six hours)",
            ));
        }
        if self.overlap_seconds > 86_400 {
            out.push(FieldError::new("overlap_seconds", "must be at most 86400"));
        }
        out
    }
}
