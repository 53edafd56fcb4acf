//! The engine's cost per job: 1,000 connectors, each a small local-folder sync (5 files) into
//! a `DiscardSink`, queued by one scheduler pass and run by the workers, against the same 1,000
//! syncs run directly with core's `Syncer` over the same `SqlStateStore`s (no queue, no
//! leases, no heartbeats). Then, on PostgreSQL (the test server, started here), one worker
//! against two. Ratios are printed from measurements of this one run.
//!
//! `cargo bench -p connector-sync --bench engine` (`CONNECTORS=N` to change the count, `JOBS=N`
//! for the slots of each worker). Not a criterion bench: one run of this size says what it
//! needs to.
//!
//! Measured once here (release, 2 shared cores, SQLite `synchronous=FULL` on disk, PostgreSQL
//! with fsync off on loopback): SQLite direct 2.17 ms/sync; through one worker with one slot
//! 3.65 ms/job (1.68x direct: +1.48 ms/job for claim, lease, heartbeat and finish) plus
//! 1.32 ms/job for the scheduler pass that queued it; four slots 1.73x (SQLite has one
//! writer). PostgreSQL, four slots each: two workers did the 1,000 jobs in 0.69x the time of
//! one (1.44x the throughput). Debug build: 1.77x direct, two PG workers 1.18x one.

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::sink::DiscardSink;
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{Cancellation, Registry};
use connector_sync::{
    ConnectorStore, JobStatus, NewConnector, SharedSink, SqlStateStore, SyncDb, SyncService,
    WorkerOptions,
};

type Res<T> = Result<T, String>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    Arc::new(registry)
}

async fn service(url: &str) -> Res<SyncService> {
    let db = SyncDb::connect(url).await.map_err(|e| e.to_string())?;
    let store = ConnectorStore::new(db, registry());
    Ok(SyncService::new(
        store,
        Arc::new(SharedSink(Arc::new(DiscardSink))),
    ))
}

/// `n` connectors with a due schedule over `folder`.
async fn create(service: &SyncService, folder: &Path, n: usize) -> Res<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let mut new = NewConnector::new(
            format!("c{i:04}"),
            "local",
            serde_json::json!({ "path": folder }),
        );
        new.refresh_freq = 60;
        ids.push(service.create(new).await.map_err(|e| e.to_string())?.id);
    }
    Ok(ids)
}

fn options(id: &str, jobs: usize) -> WorkerOptions {
    let mut o = WorkerOptions::default();
    o.id = Some(id.to_owned());
    o.jobs = jobs;
    o.per_source = jobs;
    o.poll = Duration::from_millis(20);
    o
}

/// One scheduler pass, then `workers` workers until every job is done: (pass, run) times.
async fn through_engine(
    service: &SyncService,
    n: usize,
    workers: usize,
    jobs: usize,
) -> Res<(Duration, Duration)> {
    let t = Instant::now();
    let tick = service.schedule_now().await.map_err(|e| e.to_string())?;
    let pass = t.elapsed();
    if tick.syncs != n {
        return Err(format!("the pass queued {} syncs, not {n}", tick.syncs));
    }
    let stop = Cancellation::new();
    let t = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let s = service.clone();
        let o = options(&format!("bench-{w}"), jobs);
        let token = stop.clone();
        handles.push(tokio::spawn(async move { s.run_workers(o, token).await }));
    }
    loop {
        let queued = service
            .jobs_in(JobStatus::Queued, 1)
            .await
            .map_err(|e| e.to_string())?;
        let running = service
            .jobs_in(JobStatus::Running, 1)
            .await
            .map_err(|e| e.to_string())?;
        if queued.is_empty() && running.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = t.elapsed();
    stop.cancel();
    for h in handles {
        h.await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let failed = service
        .jobs_in(JobStatus::Failed, 5)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(f) = failed.first() {
        return Err(format!("a job failed: {:?}", f.error));
    }
    Ok((pass, run))
}

/// The same syncs with `Syncer` directly, one after the other, on the same database.
async fn direct(service: &SyncService, ids: &[String]) -> Res<Duration> {
    let t = Instant::now();
    for id in ids {
        let config = service
            .store()
            .config(id)
            .await
            .map_err(|e| e.to_string())?;
        let connector = registry()
            .build("local", config)
            .map_err(|e| e.to_string())?;
        let state = SqlStateStore::new(service.db().clone(), format!("direct-{id}"));
        Syncer::new(connector)
            .sink(DiscardSink)
            .state(state)
            .options(SyncOptions::default())
            .run(SyncMode::Auto)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(t.elapsed())
}

async fn bench() -> Res<()> {
    let n = env_usize("CONNECTORS", 1000);
    let jobs = env_usize("JOBS", 4);
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let folder = tmp.path().join("docs");
    std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    for i in 0..5 {
        std::fs::write(folder.join(format!("d{i}.md")), format!("# {i}\n\ntext\n"))
            .map_err(|e| e.to_string())?;
    }
    println!("{n} connectors of 5 local files each, DiscardSink\n");

    // SQLite: direct, then the engine with one slot, then with `jobs` slots.
    let url = format!("sqlite:{}", tmp.path().join("sync.db").display());
    let svc = service(&url).await?;
    let ids = create(&svc, &folder, n).await?;
    let direct_time = direct(&svc, &ids).await?;
    let (pass1, run1) = through_engine(&svc, n, 1, 1).await?;
    // Due again for the next round.
    let url2 = format!("sqlite:{}", tmp.path().join("sync2.db").display());
    let svc2 = service(&url2).await?;
    create(&svc2, &folder, n).await?;
    let (pass_j, run_j) = through_engine(&svc2, n, 1, jobs).await?;
    let per = |d: Duration| d.as_secs_f64() * 1e3 / n as f64;
    println!("SQLite:");
    println!(
        "  direct Syncer, one after another: {:.2} s, {:.2} ms/sync",
        direct_time.as_secs_f64(),
        per(direct_time)
    );
    println!(
        "  scheduler pass queuing {n} jobs: {:.2} s, {:.2} ms/job",
        pass1.as_secs_f64(),
        per(pass1)
    );
    println!(
        "  1 worker x 1 slot: {:.2} s, {:.0} jobs/s, {:.2} ms/job, {:.2}x direct, overhead {:.2} ms/job (+ pass {:.2})",
        run1.as_secs_f64(),
        n as f64 / run1.as_secs_f64(),
        per(run1),
        run1.as_secs_f64() / direct_time.as_secs_f64(),
        per(run1) - per(direct_time),
        per(pass1)
    );
    println!(
        "  1 worker x {jobs} slots: {:.2} s, {:.0} jobs/s, {:.2}x direct (pass {:.2} ms/job)",
        run_j.as_secs_f64(),
        n as f64 / run_j.as_secs_f64(),
        run_j.as_secs_f64() / direct_time.as_secs_f64(),
        per(pass_j)
    );

    // PostgreSQL: one worker against two, each with `jobs` slots, fresh databases.
    let admin = postgres::url();
    let mut pg = Vec::new();
    for workers in [1usize, 2] {
        let name = format!("bench_{workers}_{}", std::process::id());
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .ok_or("a database URL")?;
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::Executor::execute(
            &mut conn,
            sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
        )
        .await
        .map_err(|e| e.to_string())?;
        let svc = service(&format!("{base}/{name}")).await?;
        let ids = create(&svc, &folder, n).await?;
        let direct_pg = if workers == 1 {
            Some(direct(&svc, &ids).await?)
        } else {
            None
        };
        let (pass, run) = through_engine(&svc, n, workers, jobs).await?;
        pg.push((workers, direct_pg, pass, run));
    }
    println!("PostgreSQL (fsync off, loopback):");
    for (workers, direct_pg, pass, run) in &pg {
        if let Some(d) = direct_pg {
            println!(
                "  direct Syncer, one after another: {:.2} s, {:.2} ms/sync",
                d.as_secs_f64(),
                per(*d)
            );
        }
        println!(
            "  {workers} worker(s) x {jobs} slots: {:.2} s, {:.0} jobs/s (pass {:.2} ms/job)",
            run.as_secs_f64(),
            n as f64 / run.as_secs_f64(),
            per(*pass)
        );
    }
    if let [(_, _, _, one), (_, _, _, two)] = pg.as_slice() {
        println!(
            "  two workers / one: {:.2}x the time ({:.2}x the throughput)",
            two.as_secs_f64() / one.as_secs_f64(),
            one.as_secs_f64() / two.as_secs_f64()
        );
    }
    Ok(())
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = rt.block_on(bench()) {
        eprintln!("bench failed: {e}");
        std::process::exit(2);
    }
}
