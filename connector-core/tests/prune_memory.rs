//! Prune's heap stays flat: pruning 200,000 known documents against a listing of as many
//! holds about one page of ids, not the listing nor the store's ids.
//!
//! A counting global allocator measures the heap's peak while `Syncer::prune` runs, against
//! what the comparison prune used to make costs (every listed id in a set, every known id
//! from `StateStore::document_ids` in a vector). This file holds one test so that nothing
//! else allocates in the process meanwhile. The figures are printed with `--nocapture`.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // A test that reports its measurement.

use std::collections::HashSet;
use std::sync::Arc;

use connector_core::ids::hash128;
use connector_core::prelude::*;
use connector_core::sink::DiscardSink;
use connector_core::state::{Commit, DocumentState, MemoryStateStore, StateStore};
use connector_core::sync::{SyncOptions, Syncer};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Ids listed per page.
const PAGE: usize = 1_000;
/// One id in this many is gone from the source.
const GONE_EVERY: usize = 100;

fn id(i: usize) -> String {
    format!("doc-{i:07}")
}

/// A source of `n` ids that lists them page by page, made as they are asked for (so that the
/// listing's own memory is one page too), without every `GONE_EVERY`th.
#[derive(Debug)]
struct Listing {
    n: usize,
}

impl std::fmt::Display for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "listing of {} ids", self.n)
    }
}

#[async_trait]
impl Connector for Listing {
    fn source(&self) -> &'static str {
        "listing"
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self).slim().into()
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl SlimConnector for Listing {
    fn list_ids(&self, _ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let n = self.n;
        futures::stream::iter((0..n).step_by(PAGE))
            .map(move |start| {
                Ok((start..n.min(start + PAGE))
                    .filter(|i| i % GONE_EVERY != 0)
                    .map(|i| SlimDocument::new(id(i)))
                    .collect())
            })
            .boxed()
    }
}

/// A memory store that knows ids `0..n`.
async fn store_of(n: usize) -> MemoryStateStore {
    let store = MemoryStateStore::new();
    for start in (0..n).step_by(PAGE) {
        let documents = (start..n.min(start + PAGE))
            .map(|i| {
                let id = id(i);
                let fingerprint = hash128(&id);
                (id, DocumentState::new(fingerprint, None))
            })
            .collect();
        store
            .commit(Commit {
                documents,
                ..Commit::default()
            })
            .await
            .unwrap();
    }
    store
}

/// The heap's growth at its peak while `f` runs, and what `f` returned.
async fn peak_of<T>(f: impl std::future::Future<Output = T>) -> (usize, T) {
    let before = ALLOC.current_usage();
    ALLOC.reset_peak_usage();
    let out = f.await;
    (ALLOC.peak_usage().saturating_sub(before), out)
}

/// What prune held before passes: every listed id in a set, then every known id.
async fn the_old_comparison(listing: &Listing, store: &MemoryStateStore) -> usize {
    let mut listed = HashSet::new();
    let mut pages = listing.list_ids(SyncContext::new());
    while let Some(page) = pages.next().await {
        listed.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    let known = store.document_ids().await.unwrap();
    known.iter().filter(|id| !listed.contains(*id)).count()
}

#[tokio::test(flavor = "current_thread")]
async fn prune_holds_a_page_not_every_id() {
    for n in [20_000, 200_000] {
        let store = store_of(n).await;
        let (old_way, stale) = peak_of(the_old_comparison(&Listing { n }, &store)).await;
        assert_eq!(stale, n / GONE_EVERY);

        let syncer = Syncer::new(Arc::new(Listing { n }))
            .sink(DiscardSink)
            .state(store.clone())
            .options(SyncOptions::default());
        let (pruning, report) = peak_of(syncer.prune()).await;
        let report = report.unwrap();
        assert_eq!(report.deleted, (n / GONE_EVERY) as u64);
        assert_eq!(report.known, n as u64);
        assert_eq!(store.document_count(), n - n / GONE_EVERY);

        println!(
            "{n} ids: prune peaked at {} KiB over its start; the old comparison at {} KiB",
            pruning / 1024,
            old_way / 1024
        );
        // A page of listed ids is about 55 KiB here, whatever `n`; the old comparison held
        // every id twice (megabytes at 200,000).
        assert!(
            pruning < 512 * 1024,
            "prune of {n} ids peaked at {pruning} bytes: it should hold about one page"
        );
        assert!(
            n < 200_000 || pruning * 20 < old_way,
            "prune of {n} ids peaked at {pruning} bytes, the old comparison at {old_way}"
        );
    }
}
