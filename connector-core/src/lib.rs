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
mod registry;
mod secret;
pub mod sink;
pub mod state;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;
#[cfg(feature = "html")]
pub mod text;
pub mod window;

pub use config::{ConnectorConfig, StringList};
pub use connector::{
    CheckpointJson, CheckpointedConnector, Connector, DynCheckpointed, DynConnector, LoadConnector,
    PollConnector, RefetchConnector, SlimConnector,
};
pub use context::{FingerprintLookup, NoFingerprints, SyncContext, SyncStats};
pub use credentials::{CredentialStore, DiscardCredentials, MemoryCredentials};
pub use document::{
    Access, Batch, Capabilities, CheckpointedBatch, Content, Document, Failure, SlimDocument,
};
pub use error::{Error, ErrorKind, FieldError, Result};
pub use registry::Registry;
pub use secret::Secret;
pub use window::{CoarseWindow, TimeWindow};

/// Re-exports connector crates need in their public signatures.
pub mod reexports {
    pub use async_trait::async_trait;
    pub use bytes::Bytes;
    pub use chrono;
    pub use futures;
    pub use schemars;
    pub use serde_json;
    pub use tokio_util::sync::CancellationToken;
    pub use url::Url;
}
