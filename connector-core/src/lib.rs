#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
mod connector;
mod context;
mod credentials;
mod document;
pub mod error;
pub mod fs;
#[cfg(feature = "glob")]
pub mod glob;
#[cfg(feature = "http")]
pub mod http;
pub mod ids;
pub mod jsonref;
mod jsonw;
pub mod metadata;
pub mod net;
pub mod pages;
pub mod partition;
pub mod rate;
mod registry;
mod roles;
pub mod rows;
pub mod secret;
pub mod sink;
pub mod spool;
pub mod state;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod text;
pub mod time;
pub mod window;

pub use config::{ConnectorConfig, Ignored, IgnoredField, StringList};
pub use connector::{
    CheckpointJson, CheckpointedConnector, Connector, DynCheckpointed, DynConnector, LoadConnector,
    PollConnector, RefetchConnector, SlimConnector,
};
pub use context::{
    Cancellation, ChildLookup, FingerprintLookup, NoChildren, NoFingerprints, SyncContext,
    SyncStats,
};
pub use credentials::{CredentialStore, DiscardCredentials, MemoryCredentials};
pub use document::{
    Access, Batch, Capabilities, CheckpointedBatch, Content, Document, Failure, MetaKey,
    SlimDocument,
};
pub use error::{Error, ErrorKind, FieldError, Result};
pub use futures::stream::BoxStream;
pub use metadata::Metadata;
pub use partition::{PartitionContext, PartitionSpec};
pub use registry::{Built, Registry};
pub use roles::{Roles, RolesOf};
pub use secret::Secret;
/// The string type of [`MetaKey`], re-exported so a host needs no dependency of its own.
///
/// It is smol_str 0.3's type itself, not a wrapper: a connector-core release that moves to
/// an incompatible smol_str (0.4) changes this type, and is a breaking release for that.
pub use smol_str::SmolStr;
pub use window::{CoarseWindow, TimeWindow};

/// Re-exports connector crates need in their public signatures, so a third-party connector
/// depends on `connector-core` alone.
///
/// Derive serde traits for a checkpoint through the re-export with
/// `#[serde(crate = "connector_core::reexports::serde")]`.
pub mod reexports {
    pub use async_trait::async_trait;
    pub use bytes::Bytes;
    pub use chrono;
    pub use futures;
    pub use schemars;
    pub use serde;
    pub use serde_json;
    pub use url::Url;
}

/// What a connector crate needs in scope: `use connector_core::prelude::*;`.
///
/// The role traits and [`Roles`], the document model, errors, the context, the page pipeline's
/// pieces, `async_trait`, `BoxStream` with `StreamExt`/`TryStreamExt`, and serde's derives.
pub mod prelude {
    pub use crate::pages::{Outcome, Page, PageLimit, paginate};
    pub use crate::{
        Access, Batch, Cancellation, CheckpointedBatch, CheckpointedConnector, Connector, Document,
        Error, ErrorKind, Failure, LoadConnector, MetaKey, PollConnector, RefetchConnector, Result,
        Roles, Secret, SlimConnector, SlimDocument, SyncContext, TimeWindow,
    };
    pub use async_trait::async_trait;
    pub use futures::stream::BoxStream;
    pub use futures::{StreamExt, TryStreamExt};
    pub use serde::{Deserialize, Serialize};
}
