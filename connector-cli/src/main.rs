//! `connectors`: list sources, print config schemas, check configs and sync a source into an
//! NDJSON file, stdout or a folder. Run `connectors --help`.
//!
//! Exit codes: 0 everything worked; 1 the sync finished but some items failed; 2 the command
//! failed (bad arguments, invalid config, unreachable source, cancelled, timed out).

mod args;
mod config;
mod credentials;
mod progress;
mod report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use connector_core::Cancellation;
use connector_core::sink::{DirectorySink, NdjsonSink, Sink};
use connector_core::state::{EphemeralStateStore, FileStateStore, GroupCommit, StateStore};
use connector_core::sync::{SyncOptions, Syncer};
use connector_core::{Error, Registry, Result};
use connector_sync::{SqlStateStore, config_connector_id};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// mimalloc rather than the system allocator: a sync allocates each document on a runtime
/// worker and frees it on the thread that delivered it, the pattern glibc's per-thread arenas
/// handle worst (about a third of the delivering thread's time went to `malloc`/`free` and
/// `malloc_consolidate` in the issue-17 profile). Hosts that embed the library choose their own.
/// Built with `no_thp` (see the workspace manifest): huge pages doubled the peak RSS. Measured
/// with `benches/cli.rs` on a quiet machine (two alternating runs of 5 rounds): (a) 0.136-0.148 s
/// -> 0.102-0.110 s, (c) 1.13-1.19x -> 1.20-1.26x (under the 1.5x target), (d) 21.2 -> 22.4 MiB
/// at 1M items, still flat.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::args::{
    ApiKeyCommand, Cli, Command, ConfigArgs, DbArgs, Durable, EngineArgs, Layout, LogFormat,
    NetworkArgs, ServeArgs, SyncArgs, WorkerArgs,
};
use crate::progress::BarSlot;

/// Where `sync` writes when neither `--out` nor `--out-dir` is given.
const DEFAULT_OUT: &str = "out/documents.ndjson";

/// Log filter when `RUST_LOG` is unset: warnings, but not the batch loop's per-item warnings,
/// which the summary lists anyway.
const DEFAULT_LOG: &str = "warn,connector_core::sync=error";

/// Exit code of a sync that finished with some failed items.
const EXIT_ITEMS_FAILED: u8 = 1;
/// Exit code of a command that failed.
const EXIT_FAILED: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit with 2 (clap's code), `--help` and `--version` with 0.
    let cli = Cli::parse();
    let bars = BarSlot::default();
    match &cli.command {
        Command::Serve(args) => init_serve_tracing(args.log_format),
        _ => init_tracing(bars.clone()),
    }
    let mut registry = connectors::registry();
    let outcome = match cli.command {
        Command::ListSources => list_sources(&registry),
        Command::Schema { source } => schema(&registry, &source),
        Command::Check {
            source,
            config,
            network,
        } => check(&mut registry, &source, &config, &network).await,
        Command::Sync(args) => sync(&mut registry, args, &bars).await,
        Command::Worker(args) => worker(registry, args).await,
        Command::Serve(args) => serve(registry, args).await,
        Command::ApiKey { command } => api_key(command).await,
    };
    outcome.unwrap_or_else(|err| {
        eprintln!("{}", report::error(&err));
        ExitCode::from(EXIT_FAILED)
    })
}

/// Crates that log the wire itself below `WARN`: async-imap logs every command it sends
/// (`LOGIN "user" "password"`) and every response it reads (mail bodies) at `TRACE`.
const WIRE_LOGGERS: &[&str] = &["async_imap", "imap_proto"];

/// Whether an event may be logged whatever `RUST_LOG` says: a wire logger's only at `WARN` and
/// above, so that no filter an operator sets prints a password or a mail.
fn not_the_wire(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() <= tracing::Level::WARN
        || !WIRE_LOGGERS.iter().any(|w| {
            meta.target()
                .strip_prefix(w)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

fn init_tracing(bars: BarSlot) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(bars)
        // Colour codes only on a terminal: a log piped or written to a file stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(true)
        .finish()
        .with(filter_fn(not_the_wire))
        .init();
}

/// Log filter of `serve` when `RUST_LOG` is unset: its request logs and the engine's events.
const SERVE_LOG: &str = "warn,connector_sync=info,connector_core::sync=error";

/// `serve` logs one JSON object per line (or plain text), no progress bars.
fn init_serve_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(SERVE_LOG));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(filter_fn(not_the_wire))
            .init(),
        LogFormat::Text => builder
            .with_ansi(false)
            .finish()
            .with(filter_fn(not_the_wire))
            .init(),
    }
}

/// Writes to stdout; a closed pipe (`connectors list-sources | head -1`) is not an error.
fn print(text: &str) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Error::internal("cannot write to stdout").with_cause(e)),
    }
}

fn list_sources(registry: &Registry) -> Result<ExitCode> {
    let mut lines = Vec::new();
    for source in registry.sources() {
        lines.push(format!("{source}\t{}", registry.description(source)?));
    }
    print(&lines.join("\n"))
}

fn schema(registry: &Registry, source: &str) -> Result<ExitCode> {
    let schema = registry.schema(source)?;
    print(&serde_json::to_string_pretty(&schema)?)
}

async fn check(
    registry: &mut Registry,
    source: &str,
    config: &ConfigArgs,
    network: &NetworkArgs,
) -> Result<ExitCode> {
    if let Some(policy) = network.policy()? {
        registry.set_network_policy(policy);
    }
    registry.set_ragflow_ids(config.ragflow_ids);
    let built = config::build(registry, source, config).await?;
    // What the config says that does nothing, so a user is not left guessing; before the
    // check, which may fail on something else and should not hide these.
    if !built.ignored.is_empty() {
        let notes: Vec<String> = built.ignored.iter().map(|i| format!("note: {i}")).collect();
        print(&notes.join("\n"))?;
    }
    built.connector.check().await?;
    print(&format!("ok: {}", built.connector))
}

async fn sync(registry: &mut Registry, args: SyncArgs, bars: &BarSlot) -> Result<ExitCode> {
    if let Some(policy) = args.network.policy()? {
        registry.set_network_policy(policy);
    }
    registry.set_ragflow_ids(args.config.ragflow_ids);
    let config = config::read(registry, &args.source, &args.config).await?;
    let connector_id = match &args.connector_id {
        Some(id) => id.clone(),
        None => config_connector_id(&args.source, &config, &registry.schema(&args.source)?),
    };
    let built = config::build_from(registry, &args.source, config, &args.config)?;
    for ignored in &built.ignored {
        eprintln!("note: {ignored}");
    }
    let connector = built.connector;
    // The state first: a corrupt state file stops the run before the output is touched.
    // Without `--state` the run's state is thrown away at its end, so it keeps no per-document
    // fingerprints (its memory stays flat however large the source) and no checkpoint (the
    // batch loop makes none for it).
    let (state, sink, target): (Arc<dyn StateStore>, _, _) = match &args.state {
        Some(path) => match sync_database_url(path) {
            Some(url) => {
                let state = Arc::new(SqlStateStore::open(url, connector_id).await?);
                let (sink, target) = open_sink(&args).await?;
                (state, sink, target)
            }
            None => open_file_state(path, &args).await?,
        },
        None => {
            let (sink, target) = open_sink(&args).await?;
            (
                Arc::new(EphemeralStateStore::without_checkpoints()),
                sink,
                target,
            )
        }
    };
    let batch_docs = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
    let mut options = SyncOptions::default()
        .batch_docs(batch_docs)
        .prune(args.prune)
        .force_prune(args.force_prune);
    if let Some(secs) = args.timeout {
        options = options.timeout(Duration::from_secs(secs));
    }

    let cancel = Cancellation::new();
    tokio::spawn(cancel_on_ctrl_c(cancel.clone()));

    let mut syncer = Syncer::new(connector)
        .shared_sink(sink)
        .shared_state(state)
        .options(options)
        .cancellation(cancel);
    let bar = bars.start(&args.source);
    if let Some(bar) = bar.clone() {
        let started = Instant::now();
        syncer = syncer.on_progress(move |p| progress::show(&bar, p, started));
    }
    let outcome = syncer.run(args.mode.into()).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = outcome?;
    eprintln!("{}", report::summary(&report, &target));
    Ok(if report.failed > 0 {
        ExitCode::from(EXIT_ITEMS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The URL when `--state` names a sync database (`sqlite:PATH`, `postgres://…`) rather than a
/// JSON file.
fn sync_database_url(state: &Path) -> Option<&str> {
    let s = state.to_str()?;
    ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|p| s.starts_with(p))
        .then_some(s)
}

/// A `--state` file and the sink, group-committing together (`--durability group`, the
/// default) when the output is an NDJSON file: the output is cut back to what the state
/// claims (what a killed run wrote after its last group point is delivered again), written
/// without a sync per batch, and made durable by the store at its group points. With
/// `--durability batch` the output is cut back the same way (an earlier group run may have
/// been killed), then each batch is synced on its own, as it is with `--out-dir` and
/// `--out -` (never cut).
async fn open_file_state(
    path: &Path,
    args: &SyncArgs,
) -> Result<(Arc<dyn StateStore>, Arc<dyn Sink>, String)> {
    let store = FileStateStore::open(path).await?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    if args.out_dir.is_some() || out == Path::new("-") {
        let (sink, target) = open_sink(args).await?;
        return Ok((Arc::new(store), sink, target));
    }
    let mark = store.output_mark().await?;
    if args.durability == Durable::Batch {
        let sink = NdjsonSink::append_at_mark(&out, mark).await?;
        return Ok((Arc::new(store), Arc::new(sink), out.display().to_string()));
    }
    let sink = NdjsonSink::append_grouped(&out, mark).await?;
    let output = sink
        .durable_output()
        .ok_or_else(|| Error::internal("an NDJSON file output has no handle to make it durable"))?;
    let store = store.group_commit(output, GroupCommit::default()).await?;
    Ok((Arc::new(store), Arc::new(sink), out.display().to_string()))
}

/// The sink `--out` / `--out-dir` ask for, and how the summary names it.
async fn open_sink(args: &SyncArgs) -> Result<(Arc<dyn Sink>, String)> {
    if let Some(dir) = &args.out_dir {
        return Ok((
            Arc::new(DirectorySink::open(dir).await?),
            dir.display().to_string(),
        ));
    }
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    if path == Path::new("-") {
        return Ok((Arc::new(NdjsonSink::stdout()), "stdout".to_owned()));
    }
    // With a state file, later runs deliver only what changed, so they must add to the file;
    // without one every run delivers everything, so it starts the file afresh.
    let sink = if args.state.is_some() {
        NdjsonSink::append(&path).await?
    } else {
        NdjsonSink::create(&path).await?
    };
    Ok((Arc::new(sink), path.display().to_string()))
}

/// The worker and scheduler options of `args`.
fn engine_options(
    args: &EngineArgs,
) -> Result<(
    connector_sync::WorkerOptions,
    connector_sync::SchedulerOptions,
)> {
    let secs = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s).map_err(|_| {
            Error::new(
                connector_core::ErrorKind::Config,
                format!("--{what} takes a number of seconds"),
            )
        })
    };
    let mut options = connector_sync::WorkerOptions::default();
    options.id = args.worker_id.clone();
    options.jobs = args.jobs.max(1);
    options.per_source = args.per_source.max(1);
    options.lease = secs(args.lease, "lease")?;
    options.heartbeat = secs(args.heartbeat, "heartbeat")?;
    options.poll = secs(args.poll, "poll")?;
    // Compared with half the lease, not the heartbeat doubled: `--heartbeat 1e19` is a valid
    // duration whose double overflowed (a panic; review61 L4).
    if options.heartbeat.is_zero() || options.heartbeat > options.lease / 2 {
        return Err(Error::new(
            connector_core::ErrorKind::Config,
            format!(
                "--heartbeat ({}s) must be above 0 and at most half of --lease ({}s): a job whose \
                 lease runs out between two heartbeats is taken over by another worker",
                args.heartbeat, args.lease
            ),
        ));
    }
    options.sync = SyncOptions::default().batch_docs(args.batch_size.max(1) as usize);
    let mut scheduling = connector_sync::SchedulerOptions::default();
    scheduling.tick = secs(args.tick, "tick")?;
    // Zero ran the idle worker or the scheduler in a hot loop against the database.
    for (what, given, d) in [
        ("poll", args.poll, options.poll),
        ("tick", args.tick, scheduling.tick),
    ] {
        if d.is_zero() {
            return Err(Error::new(
                connector_core::ErrorKind::Config,
                format!("--{what} ({given}s) must be above 0"),
            ));
        }
    }
    Ok((options, scheduling))
}

/// The database options of `args`: a PostgreSQL pool sized for the jobs that share it.
fn db_options(args: &EngineArgs) -> connector_sync::DbOptions {
    match args.db_connections {
        Some(n) => connector_sync::DbOptions {
            max_connections: n.max(1),
            ..connector_sync::DbOptions::default()
        },
        None => connector_sync::DbOptions::for_jobs(args.jobs.max(1)),
    }
}

/// Where the engine's documents go: `--webhook` when given, else one folder per connector
/// under `data`. Called before the database is opened, so a bad `--webhook` is reported first.
async fn sinks(data: &Path, args: &EngineArgs) -> Result<Arc<dyn connector_sync::SinkFactory>> {
    if let Some(url) = &args.webhook {
        return Ok(Arc::new(webhook_sinks(url, args).await?));
    }
    let layout = match args.layout {
        Layout::Ndjson => connector_sync::DataLayout::Ndjson,
        Layout::Directory => connector_sync::DataLayout::Directory,
    };
    Ok(Arc::new(connector_sync::DataDirSinks::new(data, layout)))
}

/// Runs the workers (unless `workers` is false) and the scheduler (unless `--no-scheduler`)
/// until `stop` fires.
async fn run_engine(
    service: &connector_sync::SyncService,
    args: &EngineArgs,
    workers: bool,
    stop: &Cancellation,
) -> Result<()> {
    let (options, scheduling) = engine_options(args)?;
    let workers = async {
        if workers {
            service.run_workers(options, stop.clone()).await
        } else {
            Ok(())
        }
    };
    let scheduler = async {
        if args.no_scheduler {
            Ok(())
        } else {
            service.run_scheduler(scheduling, stop.clone()).await
        }
    };
    let (w, s) = tokio::join!(workers, scheduler);
    w?;
    s
}

/// `connectors worker`: the scheduler and the workers on one database until Ctrl-C or
/// SIGTERM, then a clean stop (running jobs stop between two sink writes and go back to the
/// queue).
async fn worker(registry: Registry, args: WorkerArgs) -> Result<ExitCode> {
    engine_options(&args.engine)?;
    let sinks = sinks(&args.data, &args.engine).await?;
    let db = connector_sync::SyncDb::connect_with(&args.db, db_options(&args.engine)).await?;
    let store = connector_sync::ConnectorStore::from_env(db, Arc::new(registry))?;
    let service = connector_sync::SyncService::new(store, sinks);
    let stop = Cancellation::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    run_engine(&service, &args.engine, true, &stop).await?;
    Ok(ExitCode::SUCCESS)
}

/// The sealer for `serve`: the environment's key, else the key file under the data folder,
/// created (readable by its owner only) on the first start.
fn serve_sealer(data: &Path) -> Result<connector_sync::Sealer> {
    if let Some(sealer) = connector_sync::Sealer::from_env()? {
        return Ok(sealer);
    }
    let path = data.join("secret.key");
    if !path.exists() {
        std::fs::create_dir_all(data).map_err(|e| {
            Error::internal(format!("cannot create the data folder {}", data.display()))
                .with_cause(e)
        })?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(|e| {
            Error::internal(format!("cannot create the key file {}", path.display())).with_cause(e)
        })?;
        file.write_all(connector_sync::Sealer::generate_key().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| {
                Error::internal(format!("cannot write the key file {}", path.display()))
                    .with_cause(e)
            })?;
        tracing::info!(key_file = %path.display(), "created a secret key for stored credentials; keep it with the database");
    }
    connector_sync::Sealer::from_key_file(&path)
}

/// `connectors serve`: the management API, the scheduler and the workers in one process
/// until Ctrl-C or SIGTERM; then the API stops taking requests and running jobs go back to
/// the queue.
async fn serve(registry: Registry, args: ServeArgs) -> Result<ExitCode> {
    engine_options(&args.engine)?;
    let sinks = sinks(&args.db.data, &args.engine).await?;
    let url = args.db.url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&args.db.data).map_err(|e| {
            Error::internal(format!(
                "cannot create the data folder {}",
                args.db.data.display()
            ))
            .with_cause(e)
        })?;
    }
    let db = connector_sync::SyncDb::connect_with(&url, db_options(&args.engine)).await?;
    let sealer = serve_sealer(&args.db.data)?;
    let store = connector_sync::ConnectorStore::new(db, Arc::new(registry)).with_sealer(sealer);
    let metrics = Arc::new(connector_sync::api::ApiMetrics::new());
    let service = connector_sync::SyncService::new(store, sinks).observe(metrics.clone());
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| {
            Error::new(
                connector_core::ErrorKind::Config,
                format!("cannot listen on {}", args.listen),
            )
            .with_cause(e)
        })?;
    let mut options = connector_sync::api::ApiOptions::default();
    options.body_limit = args.body_limit;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let public_url = connector_core::reexports::Url::parse(&public_url).map_err(|_| {
        Error::new(
            connector_core::ErrorKind::Config,
            format!("--public-url `{public_url}` is not a URL"),
        )
    })?;
    let oauth = connector_sync::oauth::OAuthFlows::new(
        service.store().clone(),
        connector_sync::oauth::OAuthProvider::google_from_env()?,
        Some(public_url),
        &connector_core::http::NetworkPolicy::public_only(),
    )?;
    let api = oauth.install(
        connector_sync::api::Api::new(service.clone())
            .metrics(metrics)
            .options(options),
    );
    let stop = Cancellation::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    let (served, engine) = tokio::join!(
        api.serve(listener, stop.clone()),
        run_engine(&service, &args.engine, !args.no_workers, &stop)
    );
    served?;
    engine?;
    Ok(ExitCode::SUCCESS)
}

/// `connectors api-key create|list|revoke`.
async fn api_key(command: ApiKeyCommand) -> Result<ExitCode> {
    let open = |db: &DbArgs| {
        let url = db.url();
        async move {
            let db = connector_sync::SyncDb::connect(&url).await?;
            Ok::<_, Error>(connector_sync::api::ApiKeys::new(db))
        }
    };
    match command {
        ApiKeyCommand::Create { db, name } => {
            if db.db.is_none() {
                std::fs::create_dir_all(&db.data).map_err(|e| {
                    Error::internal(format!(
                        "cannot create the data folder {}",
                        db.data.display()
                    ))
                    .with_cause(e)
                })?;
            }
            let key = open(&db).await?.create(&name).await?;
            eprintln!(
                "created API key {} ({}); its token is shown once, on stdout:",
                key.id, key.name
            );
            print(&key.token)
        }
        ApiKeyCommand::List { db } => {
            let keys = open(&db).await?.list().await?;
            let lines: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        k.id,
                        k.name,
                        k.created_at.to_rfc3339_opts(
                            connector_core::reexports::chrono::SecondsFormat::Secs,
                            true
                        ),
                        k.revoked_at.map_or_else(
                            || "valid".to_owned(),
                            |t| format!(
                                "revoked {}",
                                t.to_rfc3339_opts(
                                    connector_core::reexports::chrono::SecondsFormat::Secs,
                                    true
                                )
                            )
                        )
                    )
                })
                .collect();
            print(&lines.join("\n"))
        }
        ApiKeyCommand::Revoke { db, id } => {
            if open(&db).await?.revoke(&id).await? {
                eprintln!("revoked API key {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Error::new(
                    connector_core::ErrorKind::NotFound,
                    format!("no valid API key `{id}` (see `connectors api-key list`)"),
                ))
            }
        }
    }
}

/// `--webhook URL` with its token from `--webhook-token-env NAME` or `--webhook-token-file
/// FILE`: a webhook sink per connector.
async fn webhook_sinks(url: &str, args: &EngineArgs) -> Result<connector_sync::WebhookSinks> {
    let config_error = |field: &str, message: String| {
        Error::config(vec![connector_core::FieldError::new(field, message)])
    };
    let url = url
        .parse()
        .map_err(|e| config_error("--webhook", format!("`{url}` is not a URL: {e}")))?;
    let mut config = connector_sync::WebhookConfig::new(url);
    let token = match (&args.webhook_token_env, &args.webhook_token_file) {
        (Some(name), _) => Some(std::env::var(name).map_err(|_| {
            config_error(
                "--webhook-token-env",
                format!("the environment variable `{name}` is not set (or not UTF-8)"),
            )
        })?),
        (None, Some(path)) => Some(tokio::fs::read_to_string(path).await.map_err(|e| {
            config_error(
                "--webhook-token-file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?),
        (None, None) => None,
    };
    if let Some(token) = token {
        let token = token.trim();
        if token.is_empty() {
            let flag = if args.webhook_token_env.is_some() {
                "--webhook-token-env"
            } else {
                "--webhook-token-file"
            };
            return Err(config_error(flag, "the webhook token is empty".to_owned()));
        }
        config.token = Some(connector_core::Secret::new(token));
    }
    connector_sync::WebhookSinks::new(config)
}

/// Fires `stop` on Ctrl-C or SIGTERM; a second signal exits at once.
async fn stop_on_signal(stop: Cancellation) {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let signalled = async {
        #[cfg(unix)]
        if let Some(term) = term.as_mut() {
            tokio::select! {
                r = tokio::signal::ctrl_c() => return r.is_ok(),
                _ = term.recv() => return true,
            }
        }
        tokio::signal::ctrl_c().await.is_ok()
    };
    if !signalled.await {
        return;
    }
    eprintln!("stopping: running jobs finish their batch in flight and go back to the queue");
    stop.cancel();
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(130);
    }
}

/// The first Ctrl-C cancels the sync through its token (the state keeps the last acknowledged
/// checkpoint); a second one exits at once.
async fn cancel_on_ctrl_c(cancel: Cancellation) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    eprintln!("cancelling: finishing the batch in flight (Ctrl-C again to quit at once)");
    cancel.cancel();
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(130);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;

    use super::not_the_wire;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// `RUST_LOG=trace` does not print async-imap's wire log (its `LOGIN` line has the
    /// password), while its warnings and everything else at trace still come through.
    #[test]
    fn the_wire_is_never_logged_whatever_the_filter() {
        let out = Buffer::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_writer(move || writer.clone())
            .finish()
            .with(filter_fn(not_the_wire));
        tracing::subscriber::with_default(subscriber, || {
            // What tracing-log turns async-imap's `log::trace!` into: the target is the module.
            tracing::trace!(target: "async_imap::imap_stream", "encode: input: A1 LOGIN \"me\" \"Pa55-secret\"");
            tracing::debug!(target: "async_imap", "decode: input: the body of a private mail");
            tracing::warn!(target: "async_imap::client", "a warning of async-imap");
            tracing::trace!(target: "async_imapx", "another crate whose name starts alike");
            tracing::trace!(target: "connector_misc::imap", "the connector's own trace");
        });
        let text = String::from_utf8(out.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        assert!(!text.contains("Pa55-secret"), "{text}");
        assert!(!text.contains("private mail"), "{text}");
        assert!(text.contains("a warning of async-imap"), "{text}");
        assert!(text.contains("another crate"), "{text}");
        assert!(text.contains("the connector's own trace"), "{text}");
    }
}
