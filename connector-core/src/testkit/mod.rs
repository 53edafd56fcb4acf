//! The conformance kit: the checks every connector passes, one named test per check.
//!
//! Implement [`Fixture`] for your connector's test setup (seed a temporary folder, start a
//! wiremock server) and expand [`conformance_tests!`](crate::conformance_tests):
//!
//! ```text
//! connector_core::conformance_tests!(local_conformance, LocalFixture);
//! ```
//!
//! The kit reads the roles from the connector ([`Connector::roles`]): every check runs for
//! every connector; a role-dependent check asserts the role's behaviour when the connector has
//! the role, and that the batch loop refuses the mode cleanly when it has not.
//!
//! Each check is a plain `#[test]` that runs on its own current-thread tokio runtime, so a
//! connector crate needs no tokio dev-dependency of its own to use the kit. The checks:
//!
//! | test | needs | what it checks |
//! | --- | --- | --- |
//! | `roles_are_consistent` | — | the connector loads, `capabilities()` is what `roles()` says, a polling connector has a fixture window and only then |
//! | `secret_never_printed` | — | the fixture's secret is in no `Debug`, `Display`, error or log line of a check and a full sync; a fixture without a secret must declare its source credential-free |
//! | `malformed_item_is_a_failure` | — | a malformed item becomes a [`Failure`](crate::Failure) naming it, and the other documents still come |
//! | `drop_mid_page_is_safe` | — | dropping a stream after its first page, or cancelling a sync, loses nothing: the next run delivers everything |
//! | `full_sync_delivers_every_document` | — | a full [`Syncer`](crate::sync::Syncer) run delivers exactly the loaded ids; a second finds them unchanged |
//! | `ids_unique_and_stable` | — | ids are unique within a run and equal across runs |
//! | `window_is_half_open` | poll | a window yields exactly its items, including its start and excluding its end (poll and the checkpointed load agree); for aggregate documents ([`Fixture::part_times`]), every window holding one of a document's parts' times yields it; without: an incremental run is refused |
//! | `checkpoint_round_trips` | checkpoint | every checkpoint survives JSON; another source's checkpoint is refused; without: a resume is refused |
//! | `resume_from_every_checkpoint` | checkpoint | resuming from *every* checkpoint yields exactly the rest |
//! | `sink_failure_at_every_batch_loses_nothing` | checkpoint | a sink failing at batch k, for every k, then a restart from the stored state: nothing lost, duplicates only from unacknowledged batches or partly acknowledged pages |
//! | `slim_lists_every_id` | slim | `list_ids` lists every id a load yields; without: prune is refused |
//! | `refetch_yields_the_same_documents` | refetch | fetching ids again gives the same documents; an unknown id gives nothing |
//!
//! State stores have checks of their own: implement [`StoreFixture`] and expand
//! [`state_store_tests!`](crate::state_store_tests) (the built-in stores pass them).

mod checks;
pub mod corpus;
#[cfg(feature = "testkit-http")]
pub mod http;
mod logs;
mod memory_connector;
mod runs;
mod store;

use std::sync::Arc;

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use crate::connector::Connector;
use crate::document::Document;
use crate::window::TimeWindow;

pub use checks::*;
pub use logs::{LogCapture, Writer as LogWriter};
pub use memory_connector::{
    MemoryCheckpoint, MemoryConnector, MemoryItem, SOURCE as MEMORY_SOURCE,
};
pub use runs::{load_batch, poll_batch, sync_at};
pub use store::*;

/// A connector's test setup for the conformance kit.
///
/// The source behind [`connector`](Fixture::connector) must hold at least three documents
/// spread over at least two source pages, and nothing malformed.
#[async_trait]
pub trait Fixture: Sized + Send + Sync + 'static {
    /// Seeds the source (files, a mock server) and returns the fixture.
    async fn setup() -> Self;

    /// A new connector over the seeded source. Called several times: each call is like a new
    /// process.
    fn connector(&self) -> Arc<dyn Connector>;

    /// The credential in the connector's config, which must never be printed. `None` fails
    /// `secret_never_printed` unless [`has_credentials`](Fixture::has_credentials) says the
    /// source has none.
    fn secret(&self) -> Option<String> {
        None
    }

    /// Whether the source's config holds a credential at all; `false` only for sources like a
    /// local folder.
    fn has_credentials(&self) -> bool {
        true
    }

    /// A connector over a source where one item is malformed, and that item's id if the
    /// connector can know it. Required: every source can serve something it cannot read (a
    /// body that does not parse, a file it may not open, a field of the wrong type).
    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>);

    /// A window and the ids of the items modified in it. It should hold at least one item and
    /// leave at least one out.
    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        None
    }

    /// For a source whose documents bundle parts with times of their own (a day of a chat
    /// channel's messages, a thread with its replies): the times of `document`'s parts (each
    /// part's creation and each of its edits), or `None` for a document that is one item.
    /// The default, `None` for every document, keeps the plain check.
    ///
    /// When it returns `Some` for any document of a full load, `window_is_half_open` checks
    /// aggregates by their parts: a window `[start, end)` yields a document iff one of its
    /// parts' times is in it (start included, end excluded), whole, whatever the times of its
    /// other parts; a document's `updated_at` is its newest part's time. A document for which
    /// it returns `None` counts as one part at its `updated_at`.
    fn part_times(&self, document: &Document) -> Option<Vec<DateTime<Utc>>> {
        let _ = document;
        None
    }
}

/// Runs an async check on a fresh current-thread runtime (the conformance tests are plain
/// `#[test]`s).
///
/// # Panics
/// When the runtime cannot be built, or the check panics.
#[allow(clippy::expect_used)] // A test harness: failing loudly is the point.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot build a tokio runtime for a conformance check")
        .block_on(future)
}

/// Sets a fixture up and runs one check on it, on a fresh runtime: the body of every test the
/// kit's macros expand to.
#[doc(hidden)]
pub fn run_check<S, Fut>(setup: impl std::future::Future<Output = S>, check: impl FnOnce(S) -> Fut)
where
    Fut: std::future::Future<Output = ()>,
{
    block_on(async move { check(setup.await).await });
}

/// Expands to one `#[test]` per conformance check, in a module named `$name`.
///
/// `$fixture` implements [`Fixture`]. The checks read the connector's roles from
/// [`Connector::roles`]; there is nothing to list.
#[macro_export]
macro_rules! conformance_tests {
    ($name:ident, $fixture:ty $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run<F, Fut>(check: F)
            where
                F: FnOnce($fixture) -> Fut,
                Fut: ::std::future::Future<Output = ()>,
            {
                $crate::testkit::run_check(<$fixture as $crate::testkit::Fixture>::setup(), check);
            }

            #[test]
            fn roles_are_consistent() {
                run(|f| async move { $crate::testkit::roles_are_consistent(&f).await });
            }
            #[test]
            fn secret_never_printed() {
                run(|f| async move { $crate::testkit::secret_never_printed(&f).await });
            }
            #[test]
            fn malformed_item_is_a_failure() {
                run(|f| async move { $crate::testkit::malformed_item_is_a_failure(&f).await });
            }
            #[test]
            fn drop_mid_page_is_safe() {
                run(|f| async move { $crate::testkit::drop_mid_page_is_safe(&f).await });
            }
            #[test]
            fn full_sync_delivers_every_document() {
                run(
                    |f| async move { $crate::testkit::full_sync_delivers_every_document(&f).await },
                );
            }
            #[test]
            fn ids_unique_and_stable() {
                run(|f| async move { $crate::testkit::ids_unique_and_stable(&f).await });
            }
            #[test]
            fn window_is_half_open() {
                run(|f| async move { $crate::testkit::window_is_half_open(&f).await });
            }
            #[test]
            fn checkpoint_round_trips() {
                run(|f| async move { $crate::testkit::checkpoint_round_trips(&f).await });
            }
            #[test]
            fn resume_from_every_checkpoint() {
                run(|f| async move { $crate::testkit::resume_from_every_checkpoint(&f).await });
            }
            #[test]
            fn sink_failure_at_every_batch_loses_nothing() {
                run(|f| async move {
                    $crate::testkit::sink_failure_at_every_batch_loses_nothing(&f).await
                });
            }
            #[test]
            fn slim_lists_every_id() {
                run(|f| async move { $crate::testkit::slim_lists_every_id(&f).await });
            }
            #[test]
            fn refetch_yields_the_same_documents() {
                run(
                    |f| async move { $crate::testkit::refetch_yields_the_same_documents(&f).await },
                );
            }
        }
    };
}

/// The [`MemoryConnector`] as a fixture: 23 items, 5 per page, one malformed variant.
#[derive(Debug)]
pub struct MemoryFixture {
    connector: MemoryConnector,
    start: chrono::DateTime<chrono::Utc>,
}

#[async_trait]
impl Fixture for MemoryFixture {
    async fn setup() -> Self {
        let start =
            chrono::DateTime::<chrono::Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            connector: MemoryConnector::numbered(23, 5, start),
            start,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(self.connector.clone())
    }

    fn secret(&self) -> Option<String> {
        Some(self.connector.secret().expose().to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let bad = MemoryConnector::new(self.connector.items(), 5)
            .with_secret(self.connector.secret().expose());
        bad.upsert(MemoryItem::new("doc-00007", "x", self.start).malformed());
        (Arc::new(bad), Some("doc-00007".to_owned()))
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Items are one minute apart: minutes 3..9 hold doc-00003 ..= doc-00008.
        let window = TimeWindow {
            start: self.start + chrono::Duration::minutes(3),
            end: self.start + chrono::Duration::minutes(9),
        };
        Some((window, (3..9).map(|i| format!("doc-{i:05}")).collect()))
    }
}
