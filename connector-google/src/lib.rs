#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
// With no source compiled in, the shared authentication and URL code has no user; it stays
// compiled so the public `auth` types keep existing for hosts that name them.
#![cfg_attr(
    not(any(feature = "google_drive", feature = "gmail", feature = "bigquery")),
    allow(dead_code)
)]

pub mod auth;
#[cfg(feature = "bigquery")]
pub mod bigquery;
#[cfg(any(feature = "google_drive", feature = "gmail"))]
mod config;
#[cfg(any(feature = "google_drive", feature = "gmail"))]
mod connector;
#[cfg(feature = "gmail")]
pub mod gmail;
#[cfg(feature = "google_drive")]
pub mod google_drive;
#[cfg(any(feature = "google_drive", feature = "gmail"))]
mod walk;

pub use auth::{GoogleCredentialsConfig, GoogleTokens, GoogleTokensSchema, StringList};
#[cfg(feature = "bigquery")]
pub use bigquery::{BigQueryCheckpoint, BigQueryConfig, BigQueryConnector};
#[cfg(feature = "gmail")]
pub use gmail::{GmailCheckpoint, GmailConfig, GmailConnector};
#[cfg(feature = "google_drive")]
pub use google_drive::{GoogleDriveCheckpoint, GoogleDriveConfig, GoogleDriveConnector};

use connector_core::{Error, Result};
use url::Url;

/// Registers the Google sources compiled in: `"google_drive"`, `"gmail"` and `"bigquery"`.
///
/// ```
/// let mut registry = connector_core::Registry::new();
/// connector_google::register(&mut registry);
/// # #[cfg(all(feature = "google_drive", feature = "gmail", feature = "bigquery"))]
/// assert_eq!(registry.sources(), vec!["bigquery", "gmail", "google_drive"]);
/// # #[cfg(all(feature = "google_drive", feature = "gmail", not(feature = "bigquery")))]
/// assert_eq!(registry.sources(), vec!["gmail", "google_drive"]);
/// ```
// With no feature on there is nothing to register.
#[cfg_attr(
    not(any(feature = "google_drive", feature = "gmail", feature = "bigquery")),
    allow(unused_variables)
)]
pub fn register(registry: &mut connector_core::Registry) {
    #[cfg(feature = "google_drive")]
    registry.register::<google_drive::GoogleDriveConfig, _>(
        google_drive::SOURCE,
        "Google Drive: My Drives, shared drives, shared folders and files shared with me",
        |cfg| Ok(Box::new(google_drive::GoogleDriveConnector::new(cfg)?)),
    );
    #[cfg(feature = "gmail")]
    registry.register::<gmail::GmailConfig, _>(
        gmail::SOURCE,
        "Gmail: one document per thread, attachments optionally",
        |cfg| Ok(Box::new(gmail::GmailConnector::new(cfg)?)),
    );
    #[cfg(feature = "bigquery")]
    registry.register::<bigquery::BigQueryConfig, _>(
        bigquery::SOURCE,
        "BigQuery: the rows of a table or GoogleSQL query, one document per row",
        |cfg| Ok(Box::new(bigquery::BigQueryConnector::new(cfg)?)),
    );
}

/// `base` + `path`, whatever trailing slash `base` has.
pub(crate) fn endpoint(base: &Url, path: &str) -> Result<Url> {
    let joined = format!("{}/{path}", base.as_str().trim_end_matches('/'));
    Url::parse(&joined)
        .map_err(|e| Error::internal(format!("bad endpoint URL {joined}")).with_cause(e))
}

/// The configured URL, else the default.
pub(crate) fn url_or(configured: Option<&Url>, default: &str) -> Result<Url> {
    match configured {
        Some(u) => Ok(u.clone()),
        None => Url::parse(default)
            .map_err(|e| Error::internal(format!("bad default URL {default}")).with_cause(e)),
    }
}
