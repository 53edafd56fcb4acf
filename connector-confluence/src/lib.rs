#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "confluence")]
pub mod confluence;

#[cfg(feature = "confluence")]
pub use confluence::{
    ConfluenceCheckpoint, ConfluenceConfig, ConfluenceConnector, ConfluenceCredentials, IdScheme,
    IndexMode, SOURCE,
};

/// Registers every connector of this crate that is compiled in (feature `confluence`).
///
/// ```
/// let mut registry = connector_core::Registry::new();
/// connector_confluence::register(&mut registry);
/// # #[cfg(feature = "confluence")]
/// assert!(registry.sources().contains(&"confluence"));
/// ```
// With no feature enabled there is nothing to register.
#[cfg_attr(not(feature = "confluence"), allow(unused_variables))]
pub fn register(registry: &mut connector_core::Registry) {
    #[cfg(feature = "confluence")]
    registry.register::<confluence::ConfluenceConfig, _>(
        confluence::SOURCE,
        "Confluence Cloud and Server/Data Center: pages, blog posts, comments, attachments",
        |cfg| Ok(Box::new(confluence::ConfluenceConnector::new(cfg)?)),
    );
}
