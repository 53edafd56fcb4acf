#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "jira")]
pub mod jira;

#[cfg(feature = "jira")]
pub use jira::{IdScheme, JiraCheckpoint, JiraConfig, JiraConnector, JiraCredentials, SOURCE};

/// Registers the Jira connector when its feature is compiled in.
///
/// ```
/// let mut registry = connector_core::Registry::new();
/// connector_jira::register(&mut registry);
/// # #[cfg(feature = "jira")]
/// assert!(registry.sources().contains(&"jira"));
/// ```
// With the feature off there is nothing to register.
#[cfg_attr(not(feature = "jira"), allow(unused_variables))]
pub fn register(registry: &mut connector_core::Registry) {
    #[cfg(feature = "jira")]
    registry.register::<jira::JiraConfig, _>(
        jira::SOURCE,
        "Jira Cloud and Server/Data Center issues, comments and attachments",
        |cfg| Ok(Box::new(jira::JiraConnector::new(cfg)?)),
    );
}
