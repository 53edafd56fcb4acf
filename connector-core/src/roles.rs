//! [`Roles`]: what a connector can do, stated once, with the compiler checking every claim.
//!
//! A connector answers [`Connector::roles`] with a chain on [`Roles::of`]:
//!
//! ```
//! # use connector_core::prelude::*;
//! # #[derive(Debug)] struct Notes;
//! # impl std::fmt::Display for Notes { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("notes") } }
//! # #[async_trait]
//! # impl Connector for Notes {
//! #     fn source(&self) -> &'static str { "notes" }
//! #     async fn check(&self) -> Result<()> { Ok(()) }
//! fn roles(&self) -> Roles<'_> {
//!     // Load and poll come with `checkpointed()`; `slim()` needs `impl SlimConnector`.
//!     Roles::of(self).checkpointed().slim().into()
//! }
//! # }
//! # impl CheckpointedConnector for Notes {
//! #     type Checkpoint = u32;
//! #     fn initial_checkpoint(&self) -> u32 { 0 }
//! #     fn load_from_checkpoint(&self, _: u32, _: Option<TimeWindow>, _: SyncContext)
//! #         -> BoxStream<'static, Result<CheckpointedBatch<u32>>> { futures::stream::empty().boxed() }
//! # }
//! # impl SlimConnector for Notes {
//! #     fn list_ids(&self, _: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> { futures::stream::empty().boxed() }
//! # }
//! ```
//!
//! Why a builder bounded by the role traits rather than `as_*()` overrides or a derive: every
//! claim names its trait, so claiming a role the type does not implement is a compile error
//! (not a conformance failure with a misleading message), the claim and the wiring are one
//! line, and a role that depends on the configuration (a REST API without a timestamp field
//! cannot poll) is an ordinary `bool`, which a derive or a blanket `impl` could not express.

use std::fmt;

use crate::connector::{
    CheckpointedConnector, Connector, DynCheckpointed, LoadConnector, PollConnector,
    RefetchConnector, SlimConnector,
};
use crate::document::Capabilities;

/// The roles a connector plays, as references to itself under each role's trait.
///
/// Built with [`Roles::of`]; read through the accessors here or the same ones on
/// `dyn Connector`.
#[derive(Clone, Copy, Default)]
pub struct Roles<'a> {
    load: Option<&'a dyn LoadConnector>,
    poll: Option<&'a dyn PollConnector>,
    checkpointed: Option<&'a dyn DynCheckpointed>,
    slim: Option<&'a dyn SlimConnector>,
    refetch: Option<&'a dyn RefetchConnector>,
    fingerprint_skip: bool,
    children: bool,
}

impl<'a> Roles<'a> {
    /// No role at all (a connector that only checks, like a config validator).
    pub fn none() -> Self {
        Self::default()
    }

    /// Starts the roles of `connector`; chain the roles it plays and finish with `.into()`.
    pub fn of<C: Connector>(connector: &'a C) -> RolesOf<'a, C> {
        RolesOf {
            connector,
            roles: Self::default(),
        }
    }

    /// What the roles add up to, for display and for the registry's listings.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .load(self.load.is_some())
            .poll(self.poll.is_some())
            .checkpoint(self.checkpointed.is_some())
            .slim(self.slim.is_some())
            .refetch(self.refetch.is_some())
            .fingerprint_skip(self.fingerprint_skip)
    }

    /// The connector as a [`LoadConnector`], if it loads.
    pub fn as_load(&self) -> Option<&'a dyn LoadConnector> {
        self.load
    }

    /// The connector as a [`PollConnector`], if it polls.
    pub fn as_poll(&self) -> Option<&'a dyn PollConnector> {
        self.poll
    }

    /// The connector as a checkpointed connector with its checkpoint erased to JSON.
    pub fn as_checkpointed(&self) -> Option<&'a dyn DynCheckpointed> {
        self.checkpointed
    }

    /// The connector as a [`SlimConnector`], if it lists ids.
    pub fn as_slim(&self) -> Option<&'a dyn SlimConnector> {
        self.slim
    }

    /// The connector as a [`RefetchConnector`], if it fetches items by id.
    pub fn as_refetch(&self) -> Option<&'a dyn RefetchConnector> {
        self.refetch
    }

    /// Whether the connector asks the fingerprint lookup before downloading bodies.
    pub fn skips_unchanged(&self) -> bool {
        self.fingerprint_skip
    }

    /// Whether the connector asks the state store for stored documents by parent
    /// ([`ChildLookup`](crate::ChildLookup)). Only then does the sync keep each document's
    /// `parent_id` in the state store: for every other connector the store keeps no parents,
    /// which would cost a table entry and a copy of the parent's id per document.
    pub fn asks_children(&self) -> bool {
        self.children
    }
}

impl fmt::Debug for Roles<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.capabilities(), f)
    }
}

/// The builder [`Roles::of`] returns: each method claims one role and is bounded by its
/// trait, so a claim the connector does not implement does not compile.
#[must_use = "finish with `.into()` to get the `Roles`"]
pub struct RolesOf<'a, C> {
    connector: &'a C,
    roles: Roles<'a>,
}

impl<'a, C: Connector> RolesOf<'a, C> {
    /// Loads everything ([`LoadConnector`]), for a connector that is not checkpointed.
    pub fn load(mut self) -> Self
    where
        C: LoadConnector,
    {
        self.roles.load = Some(self.connector);
        self
    }

    /// Loads and lists changes in a window ([`PollConnector`]), for a connector that is not
    /// checkpointed.
    pub fn poll(mut self) -> Self
    where
        C: PollConnector,
    {
        self.roles.load = Some(self.connector);
        self.roles.poll = Some(self.connector);
        self
    }

    /// Resumes from checkpoints ([`CheckpointedConnector`]); load and poll come with it (the
    /// blanket implementations over its checkpointed load). Withhold poll with
    /// [`poll_if`](Self::poll_if) where the configuration cannot filter by time.
    pub fn checkpointed(mut self) -> Self
    where
        C: CheckpointedConnector,
    {
        self.roles.load = Some(self.connector);
        self.roles.poll = Some(self.connector);
        self.roles.checkpointed = Some(self.connector);
        self
    }

    /// Keeps the poll role only when `can_poll`: for a connector whose configuration decides
    /// whether the service can filter by modification time.
    pub fn poll_if(mut self, can_poll: bool) -> Self {
        if !can_poll {
            self.roles.poll = None;
        }
        self
    }

    /// Lists every id, for prune ([`SlimConnector`]).
    pub fn slim(mut self) -> Self
    where
        C: SlimConnector,
    {
        self.roles.slim = Some(self.connector);
        self
    }

    /// Fetches items again by id ([`RefetchConnector`]).
    pub fn refetch(mut self) -> Self
    where
        C: RefetchConnector,
    {
        self.roles.refetch = Some(self.connector);
        self
    }

    /// Asks the [`FingerprintLookup`](crate::FingerprintLookup) before downloading bodies
    /// and reports unchanged items without them.
    pub fn fingerprint_skip(mut self) -> Self {
        self.roles.fingerprint_skip = true;
        self
    }

    /// Asks the [`ChildLookup`](crate::ChildLookup) for the stored documents of a parent (an
    /// attachment of a message deleted for good): the sync then keeps each document's
    /// `parent_id` in the state store. Connectors that never ask leave it out, and their
    /// stores keep no parents.
    ///
    /// Keeping parents right costs such a connector a little more per page in runs that skip
    /// unchanged documents: the sync reads each listed document's stored state instead of
    /// comparing it in place, and records the parent of an unchanged document whose stored
    /// parent is missing or another (not delivering it again). A connector that reports
    /// children unchanged by their version alone checks their parents with
    /// [`KnownFingerprints::lookup_with_parents`](crate::pages::KnownFingerprints::lookup_with_parents)
    /// and [`has_version_under`](crate::pages::KnownFingerprints::has_version_under).
    pub fn children(mut self) -> Self {
        self.roles.children = true;
        self
    }
}

impl<'a, C> From<RolesOf<'a, C>> for Roles<'a> {
    fn from(of: RolesOf<'a, C>) -> Self {
        of.roles
    }
}

/// The role accessors of a connector the registry built (or any `dyn Connector`). They are
/// derived from [`Connector::roles`] and cannot be overridden, so they always agree with it.
impl dyn Connector {
    /// What this connector can do.
    pub fn capabilities(&self) -> Capabilities {
        self.roles().capabilities()
    }

    /// This connector as a [`LoadConnector`], if it is one.
    pub fn as_load(&self) -> Option<&dyn LoadConnector> {
        self.roles().as_load()
    }

    /// This connector as a [`PollConnector`], if it is one.
    pub fn as_poll(&self) -> Option<&dyn PollConnector> {
        self.roles().as_poll()
    }

    /// This connector as a checkpointed connector with its checkpoint erased to JSON.
    pub fn as_checkpointed(&self) -> Option<&dyn DynCheckpointed> {
        self.roles().as_checkpointed()
    }

    /// This connector as a [`SlimConnector`], if it is one.
    pub fn as_slim(&self) -> Option<&dyn SlimConnector> {
        self.roles().as_slim()
    }

    /// This connector as a [`RefetchConnector`], if it is one.
    pub fn as_refetch(&self) -> Option<&dyn RefetchConnector> {
        self.roles().as_refetch()
    }
}
