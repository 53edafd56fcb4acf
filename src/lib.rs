#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The contract and the machinery: traits, model, batch loop, state, sinks, errors, registry.
pub use connector_core as core;

pub use connector_core::{
    Batch, Capabilities, Connector, Content, Document, DynConnector, Error, ErrorKind, Failure,
    FieldError, Registry, Result, Secret, SlimDocument, SyncContext, TimeWindow, sink, state, sync,
};

/// Smaller sources, one Cargo feature each: the local folder (`"local"`) first.
#[cfg(feature = "misc")]
pub use connector_misc as misc;

/// Confluence Cloud and Server/Data Center: pages, blog posts, comments and attachments.
#[cfg(feature = "confluence")]
pub use connector_confluence as confluence;

/// Jira Cloud and Server/Data Center: issues, comments and attachments.
#[cfg(feature = "jira")]
pub use connector_jira as jira;

/// Object stores: S3, R2, Google Cloud Storage, OCI Object Storage, any S3-compatible store.
#[cfg(feature = "s3")]
pub use connector_s3 as s3;

/// Any JSON REST API, configured rather than coded (source `"rest_api"`).
#[cfg(feature = "generic-rest")]
pub use connector_generic_rest as generic_rest;

/// Google Drive and Gmail.
#[cfg(feature = "google")]
pub use connector_google as google;

// Family crates: one `pub use` above and one `register` line below per family, each behind the
// facade feature of the same name (see `[features]` in the root Cargo.toml).

/// Registers every connector family compiled into this build (one Cargo feature per family).
///
/// ```
/// let mut registry = connectors::Registry::new();
/// connectors::register_all(&mut registry);
/// # #[cfg(feature = "misc")]
/// assert!(registry.sources().contains(&"local"));
/// ```
pub fn register_all(registry: &mut Registry) {
    // Keep one line per family, each behind its feature. Families register only what their
    // own enabled features compiled in.
    #[cfg(feature = "misc")]
    connector_misc::register(registry);
    #[cfg(feature = "confluence")]
    connector_confluence::register(registry);
    #[cfg(feature = "s3")]
    connector_s3::register(registry);
    #[cfg(feature = "jira")]
    connector_jira::register(registry);
    #[cfg(feature = "generic-rest")]
    connector_generic_rest::register(registry);
    #[cfg(feature = "google")]
    connector_google::register(registry);
    // Uses the parameter in a build with no family enabled, so that build has no warning.
    let _ = registry;
}

/// A [`Registry`] holding every connector compiled into this build.
///
/// ```
/// let registry = connectors::registry();
/// for source in registry.sources() {
///     assert!(registry.schema(source).is_ok());
/// }
/// ```
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    register_all(&mut registry);
    registry
}
