//! The connector traits.
//!
//! A connector implements [`Connector`] plus the roles it supports: [`LoadConnector`],
//! [`PollConnector`], [`CheckpointedConnector`], [`SlimConnector`], [`RefetchConnector`], and
//! states them once in [`Connector::roles`]. A checkpointed connector gets `LoadConnector` and
//! `PollConnector` from blanket implementations (so implementing both by hand does not
//! compile). The `dyn Connector` the [`Registry`](crate::Registry) hands out reaches its roles
//! through accessors derived from `roles()` (`as_load()`, ..., `capabilities()`), which a
//! connector cannot override. Typed checkpoints are erased to versioned JSON by one blanket
//! `impl<T: CheckpointedConnector> DynCheckpointed for T`.

use std::fmt::{Debug, Display};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::context::SyncContext;
use crate::credentials::CredentialStore;
use crate::document::{Batch, CheckpointedBatch, SlimDocument};
use crate::error::{Error, Result};
use crate::partition::{PartitionContext, PartitionSpec};
use crate::roles::Roles;
use crate::window::TimeWindow;

/// A connector behind a shared pointer: what [`Registry::build`](crate::Registry::build)
/// hands out and what [`Syncer::new`](crate::sync::Syncer::new) takes, so one goes into the
/// other as it is. Clone it (a pointer copy) to check, sync and prune with one connector.
pub type DynConnector = Arc<dyn Connector>;

/// What every connector is.
///
/// # Contract
/// - `Display` shows the connector's identity only (source and scope, such as the bucket or
///   the wiki URL), `Debug` never shows a credential.
/// - [`check`](Connector::check) verifies credentials and reachability in bounded time and fails
///   fast with a kind that tells wrong credentials, missing permission, a missing resource and
///   an unreachable service apart.
/// - [`roles`](Connector::roles) states every role the connector plays, each once; a
///   connector that implements [`CheckpointedConnector`] gets [`LoadConnector`] and
///   [`PollConnector`] from it (blanket implementations), so it writes neither.
#[async_trait]
pub trait Connector: Debug + Display + Send + Sync + 'static {
    /// The registry key (`"s3"`, `"confluence"`).
    fn source(&self) -> &'static str;

    /// The roles this connector plays, each stated once: `Roles::of(self).checkpointed().slim().into()`.
    ///
    /// Claiming a role needs the role's trait implemented (the builder's methods are bounded
    /// by it), so a role claimed but not wired does not compile. The batch loop, the registry
    /// and the conformance kit read the roles from here, through the accessors on
    /// `dyn Connector` ([`as_load`](trait.Connector.html#method.as_load), ...,
    /// [`capabilities`](trait.Connector.html#method.capabilities)).
    fn roles(&self) -> Roles<'_>;

    /// Checks credentials and reachability.
    ///
    /// # Errors
    /// [`ErrorKind::Unauthenticated`](crate::ErrorKind::Unauthenticated),
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied),
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) or
    /// [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable), naming the field to fix.
    async fn check(&self) -> Result<()>;

    /// Natural partitions of the source (users, spaces, projects, prefixes), each of which can
    /// be synced as its own job with its own checkpoint. Empty when the source does not split.
    fn partitions(&self) -> Vec<String> {
        Vec::new()
    }

    /// The partitions a host runs as jobs, found by asking the source where its config does
    /// not list them (a GitLab group's projects, an organisation's repositories): what a
    /// scheduler calls before it queues a sync, rather than [`partitions`](Connector::partitions).
    ///
    /// The default returns [`partitions`](Connector::partitions) without a request. A
    /// connector that overrides it keeps [`partitions`](Connector::partitions) to what its
    /// config names, and accepts each discovered key in [`partition`](Connector::partition).
    /// Empty when the source does not split. Discovery that fails returns the error; it never
    /// stands for "no partitions", which would run the whole scope as one job.
    ///
    /// # Errors
    /// The error of the listing request ([`ErrorKind::Unauthenticated`](crate::ErrorKind::Unauthenticated),
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound), ...), naming the field to fix.
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        Ok(self.partitions())
    }

    /// [`discover_partitions`](Connector::discover_partitions) with what discovery learned
    /// about each partition ([`PartitionSpec::context`]), for a host to hand to the job that
    /// runs it ([`partition_with`](Connector::partition_with); see [`crate::partition`]).
    ///
    /// The default returns the keys of [`discover_partitions`](Connector::discover_partitions)
    /// without a context. A connector that overrides it returns the same keys from
    /// [`discover_partitions`](Connector::discover_partitions)
    /// ([`PartitionSpec::keys`]), so hosts that ask for the keys alone see the same
    /// partitions.
    ///
    /// # Errors
    /// As [`discover_partitions`](Connector::discover_partitions).
    async fn discover_partition_specs(&self) -> Result<Vec<PartitionSpec>> {
        Ok(self
            .discover_partitions()
            .await?
            .into_iter()
            .map(PartitionSpec::new)
            .collect())
    }

    /// This connector restricted to `partition`, one of [`partitions`](Connector::partitions)
    /// or [`discover_partitions`](Connector::discover_partitions):
    /// what a host runs as that partition's own job, with its own checkpoint. `None` (the
    /// default) for a source that does not split, or a key it does not list.
    ///
    /// The key alone must do: this is what a job gets when what discovery learned is not at
    /// hand (another process, a restart; see [`partition_with`](Connector::partition_with)).
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        let _ = partition;
        None
    }

    /// [`partition`](Connector::partition) with `context`, what
    /// [`discover_partition_specs`](Connector::discover_partition_specs) learned about it, so
    /// the job need not ask the source again. The default ignores `context`.
    ///
    /// The partition built here reads what the key alone would (the same documents, ids and
    /// access); a context of a type the connector does not expect is ignored
    /// ([`crate::partition`] has the contract).
    fn partition_with(&self, partition: &str, context: &PartitionContext) -> Option<DynConnector> {
        let _ = context;
        self.partition(partition)
    }

    /// The least overlap between incremental windows this source needs: how long a change can
    /// take to show up in the source's change query (a search index that lags its writes, as
    /// Jira's and Confluence's Cloud search do; clock skew). An incremental run starts this
    /// long before the previous window end, or [`SyncOptions::overlap`] before it when that
    /// is longer. Zero (the default) for sources whose listings are read-after-write.
    ///
    /// What the overlap lists again costs a listing only when the connector skips unchanged
    /// items by version token or fingerprint.
    ///
    /// [`SyncOptions::overlap`]: crate::sync::SyncOptions::overlap
    fn min_overlap(&self) -> Duration {
        Duration::ZERO
    }

    /// Hands the credentials this connector receives from the service while it runs (OAuth
    /// refresh tokens that rotate) to `store`, which persists them before they are used
    /// (see [`CredentialStore`]). Returns whether this connector has such credentials; the
    /// default has none and ignores `store`.
    ///
    /// This is how a host reaches a connector the [`Registry`](crate::Registry) built: call it
    /// once, before the first sync. Without it, a rotated credential works for this process
    /// only ([`DiscardCredentials`](crate::DiscardCredentials) logs a warning).
    fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
        let _ = store;
        false
    }
}

/// A connector that can load everything.
///
/// # Contract
/// - One stream item is one source page: its documents and per-item failures, in a stable
///   order. A failing item becomes a [`Failure`](crate::Failure) in the page and the stream goes
///   on; an `Err` item ends the sync (use it for errors that affect everything: credentials,
///   a missing bucket, exhausted retries).
/// - The stream owns its state (an `Arc` client), borrows nothing from `self`, and is cancel
///   safe: dropping it at any `.await` loses nothing, because nothing is committed until the
///   sink acknowledged it.
/// - The same item yields the same [`Document::id`](crate::Document::id) on every run.
/// - Fetching a page changes nothing at the source (no acknowledgement, no delete, no "mark
///   as read"): the sync may ask for the next page before the one before it is committed (a
///   page's tail waits for a full sink batch), so a kill between the two must leave the
///   earlier page to be fetched again.
pub trait LoadConnector: Connector {
    /// Every document of the source, page by page.
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>>;
}

/// A connector that can list what changed in a time window.
///
/// # Contract
/// As [`LoadConnector`], and: the stream yields exactly the items whose modification time is
/// in the half-open window `[start, end)`. Services with coarser precision widen the query and
/// filter exactly.
pub trait PollConnector: LoadConnector {
    /// Documents modified in `window`, page by page.
    fn poll(&self, window: TimeWindow, ctx: SyncContext) -> BoxStream<'static, Result<Batch>>;
}

/// A connector that can resume where it stopped.
///
/// # Contract
/// As [`LoadConnector`], and:
/// - every stream item carries the checkpoint valid *after* that page; resuming from it yields
///   exactly the documents of the pages after it (the conformance kit checks every checkpoint);
/// - `window: None` means a full load, `Some(w)` only items modified in `w`; the window is
///   fixed once per sync and passed again on resume;
/// - the checkpoint round-trips through JSON unchanged.
pub trait CheckpointedConnector: Connector {
    /// Where to resume.
    type Checkpoint: Serialize
        + DeserializeOwned
        + Clone
        + Debug
        + PartialEq
        + Send
        + Sync
        + 'static;

    /// The version of the checkpoint's JSON shape; bump it when the shape changes
    /// incompatibly, and old checkpoints are refused as [`ErrorKind::Checkpoint`](crate::ErrorKind::Checkpoint).
    fn checkpoint_version(&self) -> u32 {
        1
    }

    /// The checkpoint of a sync that has not started.
    fn initial_checkpoint(&self) -> Self::Checkpoint;

    /// What the next incremental run starts from, given the checkpoint this finished run
    /// ended with; `None` (the default) starts it from
    /// [`initial_checkpoint`](Self::initial_checkpoint).
    ///
    /// For a connector that follows a change feed besides its time window: the feed's
    /// position (Drive's page tokens, Gmail's `historyId`), taken before the run listed
    /// anything, so nothing changed during the run is missed by the next. The batch loop keeps
    /// it in the state store ([`StateStore::carry`](crate::state::StateStore::carry)) and hands
    /// it to the next [`SyncMode::Incremental`](crate::sync::SyncMode::Incremental) run; a
    /// full run or a reconciliation starts from the initial checkpoint, and a carried
    /// checkpoint the connector can no longer read (another version) is dropped with a
    /// warning. The carried checkpoint must describe a run at its start: nothing of the
    /// finished run's progress.
    fn carry_over(&self, last: &Self::Checkpoint) -> Option<Self::Checkpoint> {
        let _ = last;
        None
    }

    /// Documents after `from`, page by page, each page with the checkpoint after it.
    fn load_from_checkpoint(
        &self,
        from: Self::Checkpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<Self::Checkpoint>>>;

    /// Every page from [`initial_checkpoint`](Self::initial_checkpoint), within `window` if
    /// one is given, without the checkpoints: what the blanket [`LoadConnector`] (`window:
    /// None`) and [`PollConnector`] implementations of every checkpointed connector yield.
    fn load_from_start(
        &self,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>>
    where
        Self: Sized,
    {
        self.load_from_checkpoint(self.initial_checkpoint(), window, ctx)
            .map(|page| page.map(|p| p.batch))
            .boxed()
    }
}

/// Every checkpointed connector loads: its full load is its checkpointed load from the initial
/// checkpoint, without the checkpoints. A connector never writes this itself.
impl<T: CheckpointedConnector> LoadConnector for T {
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.load_from_start(None, ctx)
    }
}

/// Every checkpointed connector polls: its checkpointed load takes the window. A connector
/// whose service cannot filter by time in some configurations withholds the role in
/// [`Connector::roles`] ([`RolesOf::poll_if`](crate::RolesOf::poll_if)).
impl<T: CheckpointedConnector> PollConnector for T {
    fn poll(&self, window: TimeWindow, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.load_from_start(Some(window), ctx)
    }
}

/// A connector that can list every id, for pruning deletions.
///
/// # Contract
/// The stream yields the *complete* id set or ends with an error; it never ends early with a
/// partial set, because the batch loop deletes whatever it does not list.
pub trait SlimConnector: Connector {
    /// Every id the source holds now, page by page.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>>;

    /// Of `ids`, known to the store but not listed, those the source confirms are gone; prune
    /// deletes only these. By default all of them: the listing is taken as complete. A source
    /// whose listing is an index that may lag or miss items (Notion's search) asks for each
    /// candidate by id here.
    ///
    /// # Errors
    /// When the source cannot be asked; prune then deletes nothing more.
    fn confirm_gone(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> futures::future::BoxFuture<'static, Result<Vec<String>>> {
        let _ = ctx;
        Box::pin(std::future::ready(Ok(ids)))
    }
}

/// A connector that can fetch single items again by id, so the batch loop retries the items
/// that failed last time before anything else.
///
/// # Contract
/// Yields a document or a failure for each id; an id the source no longer has is neither (it
/// is left to prune).
pub trait RefetchConnector: Connector {
    /// The documents with these ids, page by page.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>>;
}

/// A checkpoint erased to versioned JSON, as stored by the batch loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointJson {
    /// The source key of the connector that wrote it.
    pub source: String,
    /// The connector's [`checkpoint_version`](CheckpointedConnector::checkpoint_version).
    pub version: u32,
    /// The typed checkpoint as JSON.
    pub state: serde_json::Value,
}

/// [`CheckpointedConnector`] with the checkpoint type erased to [`CheckpointJson`], so a boxed
/// `dyn Connector` can be resumed. Implemented for every `CheckpointedConnector`.
pub trait DynCheckpointed: Send + Sync {
    /// The initial checkpoint as JSON.
    ///
    /// # Errors
    /// When the checkpoint cannot be serialised (a bug in the connector).
    fn initial_checkpoint_json(&self) -> Result<CheckpointJson>;

    /// What the next incremental run starts from after a run that ended at `last`
    /// ([`CheckpointedConnector::carry_over`]); `None` also when `last` was written by another
    /// source or version.
    ///
    /// # Errors
    /// When the carried checkpoint cannot be serialised (a bug in the connector).
    fn carry_over_json(&self, last: &CheckpointJson) -> Result<Option<CheckpointJson>>;

    /// Whether `checkpoint` was written by this connector's source and checkpoint version.
    fn reads(&self, checkpoint: &CheckpointJson) -> bool;

    /// Resumes from a JSON checkpoint.
    ///
    /// The stream's first item is an [`ErrorKind::Checkpoint`](crate::ErrorKind::Checkpoint)
    /// error when `from` was written by another source, another version, or is corrupt.
    fn load_from_checkpoint_json(
        &self,
        from: CheckpointJson,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<CheckpointJson>>>;
}

fn to_json<T: Serialize>(source: &str, version: u32, checkpoint: &T) -> Result<CheckpointJson> {
    let state = serde_json::to_value(checkpoint)
        .map_err(|e| Error::checkpoint("cannot serialise checkpoint").with_cause(e))?;
    Ok(CheckpointJson {
        source: source.to_owned(),
        version,
        state,
    })
}

impl<T: CheckpointedConnector> DynCheckpointed for T {
    fn initial_checkpoint_json(&self) -> Result<CheckpointJson> {
        to_json(
            self.source(),
            self.checkpoint_version(),
            &self.initial_checkpoint(),
        )
    }

    fn carry_over_json(&self, last: &CheckpointJson) -> Result<Option<CheckpointJson>> {
        if !self.reads(last) {
            return Ok(None);
        }
        let Ok(typed) = serde_json::from_value::<T::Checkpoint>(last.state.clone()) else {
            return Ok(None);
        };
        self.carry_over(&typed)
            .map(|next| to_json(self.source(), self.checkpoint_version(), &next))
            .transpose()
    }

    fn reads(&self, checkpoint: &CheckpointJson) -> bool {
        checkpoint.source == self.source() && checkpoint.version == self.checkpoint_version()
    }

    fn load_from_checkpoint_json(
        &self,
        from: CheckpointJson,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<CheckpointJson>>> {
        let source = self.source();
        let version = self.checkpoint_version();
        if from.source != source || from.version != version {
            let err = Error::checkpoint(format!(
                "checkpoint was written by source `{}` version {}, this connector is `{source}` version {version}",
                from.source, from.version
            ))
            .with_connector(source);
            return futures::stream::once(async move { Err(err) }).boxed();
        }
        let typed: T::Checkpoint = match serde_json::from_value(from.state) {
            Ok(c) => c,
            Err(e) => {
                let err = Error::checkpoint("corrupt checkpoint")
                    .with_connector(source)
                    .with_cause(e);
                return futures::stream::once(async move { Err(err) }).boxed();
            }
        };
        self.load_from_checkpoint(typed, window, ctx)
            .map(move |item| {
                let page = item?;
                let json = to_json(source, version, &page.checkpoint)?;
                Ok(page.map_checkpoint(|_| json))
            })
            .boxed()
    }
}

// Compile-time object-safety checks: if a change makes a trait dyn-incompatible, this fails.
fn _object_safe(
    _: &dyn Connector,
    _: &dyn LoadConnector,
    _: &dyn PollConnector,
    _: &dyn SlimConnector,
    _: &dyn RefetchConnector,
    _: &dyn DynCheckpointed,
    _: &dyn CheckpointedConnector<Checkpoint = serde_json::Value>,
) {
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Split(Vec<String>);

    impl Display for Split {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("split")
        }
    }

    #[async_trait]
    impl Connector for Split {
        fn source(&self) -> &'static str {
            "split"
        }
        fn roles(&self) -> Roles<'_> {
            Roles::none()
        }
        async fn check(&self) -> Result<()> {
            Ok(())
        }
        fn partitions(&self) -> Vec<String> {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn discover_partitions_defaults_to_the_listed_ones() {
        let c: DynConnector = Arc::new(Split(vec!["a".into(), "b".into()]));
        assert_eq!(c.discover_partitions().await.unwrap(), ["a", "b"]);
        let none: DynConnector = Arc::new(Split(Vec::new()));
        assert!(none.discover_partitions().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn without_a_hand_off_specs_are_the_keys_and_the_context_is_ignored() {
        let c: DynConnector = Arc::new(Split(vec!["a".into(), "b".into()]));
        let specs = c.discover_partition_specs().await.unwrap();
        assert_eq!(PartitionSpec::keys(specs.clone()), ["a", "b"]);
        assert!(specs.iter().all(|s| s.context.is_none()));
        // `Split` builds no partition: with a context or without, the same answer.
        assert!(c.partition_of(&specs[0]).is_none());
        let handed = PartitionSpec::new("a").with_context(PartitionContext::new(7_u32));
        assert!(c.partition_of(&handed).is_none());
        assert!(
            c.partition_with("a", &PartitionContext::new(7_u32))
                .is_none()
        );
    }

    /// Splits by team; discovery lists each team's members (one "request"), and a partition
    /// built with that listing does not list them again.
    #[derive(Debug, Default)]
    struct Teams {
        /// The team this is the partition of, and its members.
        team: Option<(String, Vec<String>)>,
        listings: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Teams {
        fn members(&self, team: &str) -> Vec<String> {
            self.listings
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            vec![format!("{team}-lead"), format!("{team}-dev")]
        }
    }

    /// `teams`, or a partition's `teams:{team}({members})`.
    impl Display for Teams {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match &self.team {
                Some((team, members)) => write!(f, "teams:{team}({})", members.join(",")),
                None => f.write_str("teams"),
            }
        }
    }

    #[async_trait]
    impl Connector for Teams {
        fn source(&self) -> &'static str {
            "teams"
        }
        fn roles(&self) -> Roles<'_> {
            Roles::none()
        }
        async fn check(&self) -> Result<()> {
            Ok(())
        }
        async fn discover_partitions(&self) -> Result<Vec<String>> {
            Ok(PartitionSpec::keys(self.discover_partition_specs().await?))
        }
        async fn discover_partition_specs(&self) -> Result<Vec<PartitionSpec>> {
            Ok(["red", "blue"]
                .into_iter()
                .map(|t| PartitionSpec::new(t).with_context(PartitionContext::new(self.members(t))))
                .collect())
        }
        fn partition(&self, partition: &str) -> Option<DynConnector> {
            let members = self.members(partition);
            self.partition_of_team(partition, members)
        }
        fn partition_with(
            &self,
            partition: &str,
            context: &PartitionContext,
        ) -> Option<DynConnector> {
            match context.get::<Vec<String>>() {
                Some(members) => self.partition_of_team(partition, members.clone()),
                None => self.partition(partition),
            }
        }
    }

    impl Teams {
        fn partition_of_team(&self, team: &str, members: Vec<String>) -> Option<DynConnector> {
            Some(Arc::new(Self {
                team: Some((team.to_owned(), members)),
                listings: Arc::clone(&self.listings),
            }))
        }
    }

    #[tokio::test]
    async fn discovery_hands_what_it_listed_to_the_partitions() {
        let c = Teams::default();
        let listings = Arc::clone(&c.listings);
        let c: DynConnector = Arc::new(c);
        let specs = c.discover_partition_specs().await.unwrap();
        assert_eq!(listings.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert_eq!(
            format!("{:?}", specs[0].context),
            "Some(PartitionContext(alloc::vec::Vec<alloc::string::String>))",
            "the type, never the value"
        );
        let parts: Vec<DynConnector> = specs.iter().map(|s| c.partition_of(s).unwrap()).collect();
        assert_eq!(
            listings.load(std::sync::atomic::Ordering::Relaxed),
            2,
            "no listing per partition"
        );
        assert_eq!(parts[1].to_string(), "teams:blue(blue-lead,blue-dev)");

        // The key alone (another process, a restart): listed again, the same partition.
        let alone = c.partition("blue").unwrap();
        assert_eq!(listings.load(std::sync::atomic::Ordering::Relaxed), 3);
        assert_eq!(alone.to_string(), parts[1].to_string());
        let keyed = c.partition_of(&PartitionSpec::from("blue")).unwrap();
        assert_eq!(keyed.to_string(), parts[1].to_string());
        // A context of another type is ignored: the key-only path.
        let other = c
            .partition_with("blue", &PartitionContext::new("not members"))
            .unwrap();
        assert_eq!(other.to_string(), parts[1].to_string());
        assert_eq!(listings.load(std::sync::atomic::Ordering::Relaxed), 5);
        // The keys alone are the same partitions.
        assert_eq!(c.discover_partitions().await.unwrap(), ["red", "blue"]);
    }

    #[test]
    fn a_context_is_shared_not_copied() {
        let listing = Arc::new(vec![1_u8, 2, 3]);
        let a = PartitionContext::from_arc(Arc::clone(&listing));
        let b = a.clone();
        assert_eq!(
            Arc::strong_count(&listing),
            3,
            "the listing, and one for each context"
        );
        drop(a);
        assert!(Arc::ptr_eq(&b.get_arc::<Vec<u8>>().unwrap(), &listing));
        assert!(b.get_arc::<Vec<u16>>().is_none());
    }
}
