//! Partitions handed from discovery to their jobs.
//!
//! [`Connector::discover_partitions`] names the partitions a host runs as jobs, and
//! [`Connector::partition`] builds one job's connector from its key alone. Discovery often
//! learns more than the keys (an enterprise's users, each user's drive or mailbox), which
//! each job would otherwise ask the source again. [`Connector::discover_partition_specs`]
//! returns that knowledge beside each key as an opaque [`PartitionContext`], and
//! [`Connector::partition_with`] takes it back. Both have defaults (no context; the key
//! alone), so a connector that does not split, or splits without a hand-off, writes neither.
//!
//! DESIGN §4 names `partitions()` alone; discovery and this hand-off are additive extensions
//! of it (default methods, so connectors written against the older trait still compile).
//! Hosts that run partitions call `discover_partition_specs` and `partition_of`; the sync
//! service does so, the CLI runs a connector as one sync and never splits it.
//!
//! # Contract
//! - A context is a hint that saves requests, never a part of the partition's identity: the
//!   key alone still builds the partition ([`Connector::partition`]) and it reads the same
//!   documents, ids and access. A host hands a context only where it has one from a discovery
//!   of the connector built from the same config, in the same process: it is never
//!   serialised, stored or sent, so a job run in another process or after a restart gets the
//!   key alone.
//! - A context is what discovery saw when it ran: a connector that relies on it decides how
//!   stale it may be, and asks the source where the context does not answer (a user added
//!   since), as its key-only path would.
//! - A context of another type than the connector expects (another version's, another
//!   connector's) is ignored: [`PartitionContext::get`] answers `None`, and the connector
//!   falls back to its key-only path.
//! - A context is cheap to clone (one [`Arc`]): one discovery may share one listing among all
//!   the partitions it found.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::connector::{Connector, DynConnector};

/// What discovery learned about one partition, handed to the job that runs it (see the
/// [module docs](self)): any `Send + Sync` value behind an [`Arc`], read back by its type.
///
/// `Debug` shows the type's name, never the value (it may hold user names or e-mail
/// addresses that logs should not).
///
/// ```
/// use connector_core::PartitionContext;
///
/// #[derive(Debug, PartialEq)]
/// struct Drive { id: String }
///
/// let context = PartitionContext::new(Drive { id: "b!ada".into() });
/// assert_eq!(context.get::<Drive>().map(|d| d.id.as_str()), Some("b!ada"));
/// assert!(context.get::<String>().is_none(), "another type is no context");
/// ```
#[derive(Clone)]
pub struct PartitionContext {
    value: Arc<dyn Any + Send + Sync>,
    type_name: &'static str,
}

impl PartitionContext {
    /// A context holding `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self::from_arc(Arc::new(value))
    }

    /// A context sharing `value`: partitions found by one discovery may all hold the same
    /// listing.
    pub fn from_arc<T: Any + Send + Sync>(value: Arc<T>) -> Self {
        Self {
            value,
            type_name: std::any::type_name::<T>(),
        }
    }

    /// The value, when it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.value.downcast_ref()
    }

    /// The value as a shared `T`, when it is one (no copy: the same [`Arc`]).
    pub fn get_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        Arc::clone(&self.value).downcast().ok()
    }
}

impl fmt::Debug for PartitionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartitionContext({})", self.type_name)
    }
}

/// A partition as discovery found it: the key a job runs under (what
/// [`Connector::discover_partitions`] lists) and, where the connector hands one, what it
/// learned about the partition ([`PartitionContext`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PartitionSpec {
    /// The partition's key: the job's identity, its checkpoint's scope, what
    /// [`Connector::partition`] takes.
    pub key: String,
    /// What discovery learned about it, for [`Connector::partition_with`]; `None` when the
    /// connector hands nothing.
    pub context: Option<PartitionContext>,
}

impl PartitionSpec {
    /// The partition `key`, without a context.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            context: None,
        }
    }

    /// The same partition with `context` handed to its job.
    #[must_use]
    pub fn with_context(mut self, context: PartitionContext) -> Self {
        self.context = Some(context);
        self
    }

    /// The keys of `specs`, in order: what a connector that overrides
    /// [`Connector::discover_partition_specs`] returns from
    /// [`Connector::discover_partitions`].
    pub fn keys(specs: impl IntoIterator<Item = Self>) -> Vec<String> {
        specs.into_iter().map(|s| s.key).collect()
    }
}

impl From<String> for PartitionSpec {
    fn from(key: String) -> Self {
        Self::new(key)
    }
}

impl From<&str> for PartitionSpec {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

/// Building a discovered partition, with or without what discovery handed it.
impl dyn Connector {
    /// The connector of partition `spec`: [`partition_with`](Connector::partition_with) its
    /// context when it has one, else [`partition`](Connector::partition) its key alone.
    pub fn partition_of(&self, spec: &PartitionSpec) -> Option<DynConnector> {
        match &spec.context {
            Some(context) => self.partition_with(&spec.key, context),
            None => self.partition(&spec.key),
        }
    }
}
