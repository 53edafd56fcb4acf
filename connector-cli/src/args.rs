//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use connector_core::Result;
use connector_core::net::NetworkPolicy;
use connector_core::sync::SyncMode;

/// Pull documents out of the places organisations keep knowledge.
///
/// Exit codes: 0 everything worked; 1 the sync finished but some items failed; 2 the command
/// failed (bad arguments, invalid config, unreachable source, cancelled, timed out).
/// Logs go to stderr; set `RUST_LOG` (for example `RUST_LOG=debug`) to see more.
#[derive(Debug, Parser)]
#[command(name = "connectors", version, about, long_about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the sources compiled into this binary, one per line: `source<TAB>description`.
    ListSources,
    /// Print the JSON Schema of a source's config.
    Schema {
        /// The source key, as `list-sources` prints it.
        source: String,
    },
    /// Validate a config and check that the source is reachable with its credentials.
    Check {
        /// The source key, as `list-sources` prints it.
        source: String,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        network: NetworkArgs,
    },
    /// Sync a source into an NDJSON file (default `out/documents.ndjson`), stdout or a folder.
    Sync(SyncArgs),
    /// Run the sync engine's scheduler and workers on a sync database, until Ctrl-C or
    /// SIGTERM: the connectors stored there are synced on their schedules and their queued jobs
    /// run, each connector's documents going to `DATA/CONNECTOR-ID/` or to `--webhook`. Run
    /// several (on several machines, with PostgreSQL) to share the work.
    Worker(WorkerArgs),
    /// Run the management HTTP API with the scheduler and the workers in one process, until
    /// Ctrl-C or SIGTERM. With no `--db`, a SQLite database under the data folder
    /// (`DATA/connectors.db`) and, with no `CONNECTORS_SECRET_KEY`, a key file for the
    /// credentials there (`DATA/secret.key`): nothing to install. Every endpoint but
    /// `/healthz` needs an API key (`connectors api-key create`). Several `serve` and
    /// `worker` processes on one PostgreSQL share the work.
    Serve(ServeArgs),
    /// Create, list or revoke the management API's keys (bearer tokens; only a hash is kept).
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
}

/// `connectors api-key …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Create a key and print its token once (store it: it cannot be shown again).
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// A name for people (who or what uses it).
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List the keys: id, name, created, revoked (never a token).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a key by its id (the part after `cks_` in its token).
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The key's id, as `api-key list` prints it.
        id: String,
    },
}

/// Which sync database (`serve` and `api-key`).
#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    /// The sync database: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB` (default:
    /// `sqlite:DATA/connectors.db`).
    #[arg(long, value_name = "URL", env = "CONNECTORS_DB")]
    pub(crate) db: Option<String>,
    /// The data folder: documents go to one folder per connector under it, and the default
    /// database and secret key file live there.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub(crate) data: PathBuf,
}

impl DbArgs {
    /// The database URL: `--db`, or the SQLite file under the data folder.
    pub(crate) fn url(&self) -> String {
        self.db
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data.join("connectors.db").display()))
    }
}

/// How `serve` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// One JSON object per line (the request logs: method, route, status, latency, key id).
    Json,
    /// Plain text.
    Text,
}

/// The arguments of `connectors serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// The address the API listens on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    /// Largest request body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub(crate) body_limit: usize,
    /// Serve the API only: no workers run here (other processes run them).
    #[arg(long)]
    pub(crate) no_workers: bool,
    /// Where browsers reach this server (`https://connectors.example.com`): the OAuth web
    /// flows' redirect URI is `URL/api/v1/oauth/callback/{provider}` unless
    /// `GOOGLE_DRIVE_WEB_OAUTH_REDIRECT_URI` / `GMAIL_WEB_OAUTH_REDIRECT_URI` set one. Default:
    /// `http://` and the `--listen` address. The Google clients come from
    /// `OAUTH_GOOGLE_DRIVE_CLIENT_ID` / `_SECRET` and `OAUTH_GMAIL_CLIENT_ID` / `_SECRET`
    /// (RAGFlow's names), or with each flow's request.
    #[arg(long, value_name = "URL")]
    pub(crate) public_url: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    pub(crate) log_format: LogFormat,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

/// The arguments of `connectors worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The sync database: `sqlite:PATH` or `postgres://USER@HOST:PORT/DB`. Credentials in
    /// stored configs are opened with `CONNECTORS_SECRET_KEY` (or `CONNECTORS_SECRET_KEY_FILE`).
    #[arg(long, value_name = "URL", env = "CONNECTORS_DB")]
    pub(crate) db: String,
    /// Where documents go: one folder per connector under DIR.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub(crate) data: PathBuf,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

/// How the scheduler and the workers run (`worker` and `serve`).
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// How the documents are written: `ndjson` (`documents.ndjson`) or `directory` (a file per
    /// document and a manifest).
    #[arg(long, value_enum, default_value_t = Layout::Ndjson)]
    pub(crate) layout: Layout,
    /// Send each connector's documents to this URL instead of `--data`: every batch POSTed as
    /// JSON with the connector's id in its envelope, acknowledged by a 2xx, retried on 5xx,
    /// 408, 429 and timeouts; a delete is a POST of its own (connector-sync's webhook sink).
    /// The host of URL may be on loopback or the intranet.
    #[arg(long, value_name = "URL", conflicts_with_all = ["data", "layout"])]
    pub(crate) webhook: Option<String>,
    /// Send `Authorization: Bearer TOKEN` to the webhook, TOKEN read from the environment
    /// variable NAME (never given on the command line, where `ps` would show it).
    #[arg(
        long,
        value_name = "NAME",
        requires = "webhook",
        conflicts_with = "webhook_token_file"
    )]
    pub(crate) webhook_token_env: Option<String>,
    /// As `--webhook-token-env`, TOKEN read from FILE (surrounding whitespace and the final
    /// line break dropped); keep the file readable by the worker's user only.
    #[arg(long, value_name = "FILE", requires = "webhook")]
    pub(crate) webhook_token_file: Option<PathBuf>,
    /// Jobs run at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) jobs: usize,
    /// Jobs of one source run at once by this worker (each worker counts its own).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub(crate) per_source: usize,
    /// Seconds a job stays this worker's without a heartbeat; another worker takes it over
    /// after that.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub(crate) lease: f64,
    /// Seconds between heartbeats (keep it well under `--lease`).
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub(crate) heartbeat: f64,
    /// Seconds between looks for due jobs when idle.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub(crate) poll: f64,
    /// Seconds between scheduler passes (each queues the due syncs and records why every
    /// queued job waits).
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub(crate) tick: f64,
    /// Connections to a PostgreSQL database (default: 3 per job, plus 4 for the scheduler
    /// and the API); SQLite always uses one.
    #[arg(long, value_name = "N")]
    pub(crate) db_connections: Option<u32>,
    /// Documents per sink batch.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub(crate) batch_size: u32,
    /// Run the workers only, no scheduler (another process schedules).
    #[arg(long)]
    pub(crate) no_scheduler: bool,
    /// This worker's id (default: host name, process id and a random suffix).
    #[arg(long, value_name = "ID")]
    pub(crate) worker_id: Option<String>,
}

/// How `connectors worker` writes documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Layout {
    /// `DATA/ID/documents.ndjson`.
    Ndjson,
    /// `DATA/ID/` with a file per document and `manifest.ndjson`.
    Directory,
}

/// Where the connector's config comes from.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// The config as a JSON file (`-` reads stdin). A credential the service rotates while the
    /// command runs (a Google OAuth refresh token) is written back into FILE.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        required_unless_present = "path"
    )]
    pub(crate) config: Option<PathBuf>,
    /// Shorthand for the config `{"path": DIR}`, for sources with a `path` field; with
    /// `--config` it sets that file's `path`.
    #[arg(long, value_name = "DIR")]
    pub(crate) path: Option<PathBuf>,
    /// Name documents as RAGFlow does where the config names no `id_scheme` (Confluence and
    /// Jira by web URL, not by the ids that survive renames and moves): for configs and
    /// indexes carried over from RAGFlow.
    #[arg(long)]
    pub(crate) ragflow_ids: bool,
}

/// Which addresses the connector may reach (the guard against server-side request forgery,
/// for configs other people write).
///
/// Without these flags each connector keeps its own policy: one whose URLs the config sets
/// (REST, Confluence, Jira, an S3 endpoint, Google's token and API endpoints) denies loopback,
/// private and link-local addresses unless the config's `allowed_hosts` names them.
#[derive(Debug, Args)]
pub(crate) struct NetworkArgs {
    /// Reach public addresses only: no loopback, private or link-local address (the cloud
    /// metadata service at 169.254.169.254), on any request or redirect, unless `--allow-host`
    /// names it; the config's `allowed_hosts` no longer counts. Sources that cannot be held
    /// to it, such as local files, are refused.
    #[arg(long)]
    pub(crate) public_only: bool,
    /// Also allow HOST under `--public-only` (implied): a host name, `*.domain`, an address
    /// or a network such as `10.0.0.0/8`. Repeatable.
    #[arg(long, value_name = "HOST")]
    pub(crate) allow_host: Vec<String>,
}

impl NetworkArgs {
    /// The host's policy for the registry, if these flags set one. It does not accept the
    /// config's `allowed_hosts`: whoever passes `--public-only` does not trust the config to
    /// widen it (a config could otherwise allow the metadata service); `--allow-host` is the
    /// allow list then.
    ///
    /// # Errors
    /// `Config` naming an `--allow-host` value that is no host, address or network.
    pub(crate) fn policy(&self) -> Result<Option<NetworkPolicy>> {
        if self.public_only || !self.allow_host.is_empty() {
            NetworkPolicy::public_only()
                .allow(&self.allow_host)
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The source key, as `list-sources` prints it.
    pub(crate) source: String,
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    #[command(flatten)]
    pub(crate) network: NetworkArgs,
    /// Write documents as NDJSON to FILE (`-` is stdout). Truncated on each run, or appended to
    /// when `--state` is given so incremental runs add to it. Default `out/documents.ndjson`.
    #[arg(long, short = 'o', value_name = "FILE", conflicts_with = "out_dir")]
    pub(crate) out: Option<PathBuf>,
    /// Write each document to its own file under DIR, plus `DIR/manifest.ndjson`.
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
    /// Keep sync state (fingerprints, checkpoint, failures) across runs: in a JSON file (a
    /// path), or in a sync database, `sqlite:PATH` (created if missing) or
    /// `postgres://USER@HOST:PORT/DB`, shared with `connector-sync`. Without it every run
    /// starts from nothing.
    #[arg(long, short = 's', value_name = "FILE|sqlite:PATH|postgres://…")]
    pub(crate) state: Option<PathBuf>,
    /// The connector id the state is kept under in a sync database (`--state sqlite:…` or
    /// `postgres://…`). Default: the source and a hash of the config without its credentials
    /// (`local-1f2e…`), so the same config finds its state again and a rotated token keeps it.
    #[arg(long, value_name = "ID", requires = "state")]
    pub(crate) connector_id: Option<String>,
    /// `auto` resumes an interrupted run, else runs incrementally after a finished one, else
    /// in full.
    #[arg(long, short = 'm', value_enum, default_value_t = Mode::Auto)]
    pub(crate) mode: Mode,
    /// After the sync, delete from the output the documents the source no longer has.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Prune even when it would delete more than half of the known documents.
    #[arg(long, requires = "prune")]
    pub(crate) force_prune: bool,
    /// Most documents per sink batch.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) batch_size: u32,
    /// Stop the sync after this many seconds (it resumes from its last checkpoint next time).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: Option<u64>,
    /// How the `--out` file and a `--state` file are made durable together, with a state
    /// file and an NDJSON file output. Ignored with a `sqlite:`/`postgres://` state, an
    /// `--out-dir` or `--out -`: each batch is synced on its own there.
    #[arg(long, value_enum, default_value_t = Durable::Group)]
    pub(crate) durability: Durable,
}

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Durable {
    /// Group commit (the default): batches are written to the output as they come, and
    /// about every 200 ms the output is fsynced and the state journal records the batches
    /// and how long the output then was, with one fsync. After a kill the next run cuts the
    /// output back to what the state recorded and delivers what came after it again, so the
    /// file holds every document once (a power loss or a journal damaged beyond its last
    /// line can leave a batch twice, never one missing); a run repeats about the last 200 ms
    /// of its work (a batch the source is slow to follow is written within about 200 ms
    /// too).
    Group,
    /// A sync of the output and one of the state journal for every batch (slower on a
    /// disk): after a kill at most the batch in flight is delivered again. The output is
    /// first cut back to what the state claims, as in group mode, so what a killed group run
    /// wrote after its last group point is not kept twice.
    Batch,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Everything, from the start.
    Full,
    /// Only what changed since the last finished run (needs `--state`).
    Incremental,
    /// Continue the interrupted run from its checkpoint (needs `--state`).
    Resume,
    /// Everything, from the start, delivering only what changed since the last run (needs
    /// `--state`): catches what changes without a new modification time (moves, access),
    /// for sources whose version tokens carry it. Best with `--prune`.
    Reconcile,
    /// Resume, else incremental, else full.
    Auto,
}

impl From<Mode> for SyncMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Full => SyncMode::Full,
            Mode::Incremental => SyncMode::Incremental,
            Mode::Resume => SyncMode::Resume,
            Mode::Reconcile => SyncMode::Reconcile,
            Mode::Auto => SyncMode::Auto,
        }
    }
}
