//! Microsoft Graph, shared by the Microsoft 365 sources (feature `graph`, which `onedrive`,
//! `sharepoint`, `teams` and `outlook` turn on): one place for the token, paging, delta
//! queries, JSON batching and throttling, so each source only says what it reads.
//!
//! - [`GraphApp`]: the app registration (tenant, client id, client secret or certificate
//!   credentials: a client assertion signed with the certificate's key, as MSAL sends it) and
//!   the hosts of its cloud; its [`problems`](GraphApp::problems) are the config's, by field.
//! - [`GraphClient`]: requests as that app, the token cached until shortly before its expiry,
//!   `@odata.nextLink` paging ([`GraphClient::page`], [`GraphClient::all`]), delta rounds
//!   ([`GraphClient::delta`], whose `410 Gone` is a [`Delta::Restart`], not an error), `$batch`
//!   ([`GraphClient::batch_get`]) and Graph's error bodies in every error.
//! - [`Page`], [`Delta`]: what a listing answers; [`DriveItem`] and [`Drive`], what OneDrive and
//!   SharePoint document libraries list, with the calls that list, place and download them
//!   ([`GraphClient::drive_delta`], [`GraphClient::drive_item`], [`GraphClient::drive_content`]).
//!
//! Inside the crate, the sources also share their config glue here (`graph_credentials!` and
//! `graph_config!`: the `credentials` block, the hosts, their validation and the client they
//! make, each source keeping its own types and JSON Schema) and their connector glue
//! (partition keys, `check()`'s first failure, the delta positions a checkpoint carries over).
//!
//! A delta round's `@odata.deltaLink` is what a source keeps as its checkpoint and as the
//! start of its next incremental run: Graph then lists only what changed since, deletions
//! included (as items with a `deleted` facet or `@removed`). It carries Graph's own
//! state token, not a credential.
//!
//! ```no_run
//! use connector_core::net::NetworkPolicy;
//! use connector_misc::graph::{Delta, GraphApp, GraphClient};
//! # async fn demo() -> connector_core::Result<()> {
//! let app = GraphApp::new("contoso.onmicrosoft.com", "app-id", "secret");
//! let graph = GraphClient::new("onedrive", &app, NetworkPolicy::public_only(), "Files.Read.All", |b| b)?;
//! let mut next = Some(graph.url("drives/b!abc/root/delta", &[])?);
//! while let Some(url) = next.take() {
//!     match graph.delta::<serde_json::Value>(&url).await? {
//!         Delta::Page(page) => {
//!             println!("{} changes", page.value.len());
//!             next = page.next_link; // None at the end: keep page.delta_link for next time
//!         }
//!         Delta::Restart { restart_at, .. } => next = restart_at,
//!     }
//! }
//! # Ok(()) }
//! ```

mod adjusted;
mod certificate;
mod client;
#[cfg(any(
    feature = "onedrive",
    feature = "sharepoint",
    feature = "outlook",
    feature = "teams"
))]
mod config;
#[cfg(any(
    feature = "onedrive",
    feature = "sharepoint",
    feature = "outlook",
    feature = "teams"
))]
mod connector;
mod drive;
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) mod drive_walk;
mod model;
#[cfg(any(feature = "onedrive", feature = "outlook"))]
pub(crate) mod users;

pub use certificate::{
    CERTIFICATE_KEY_FIELD, CERTIFICATE_PASSWORD_FIELD, CERTIFICATE_THUMBPRINT_FIELD,
};
pub use client::{
    API_VERSION, BATCH_LIMIT, DEFAULT_AUTHORITY, DEFAULT_GRAPH_URL, GraphApp, GraphClient,
    LOW_BUDGET, SECRET_FIELD,
};
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) use drive::with_authorship;
pub use drive::{
    DELTA_PREFER, Drive, DriveItem, FileFacet, ITEM_FIELDS, Identity, IdentitySet, ParentReference,
    SharepointIds,
};
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub use drive_walk::{DriveCheckpoint, DriveCursor, DriveSet, Phase};
pub use model::{Delta, Page};

#[cfg(any(feature = "outlook", feature = "teams"))]
pub(crate) use model::ItemBody;
#[cfg(feature = "teams")]
pub(crate) use model::listed;
#[cfg(any(
    feature = "onedrive",
    feature = "sharepoint",
    feature = "outlook",
    feature = "teams"
))]
pub(crate) use {
    config::{graph_config, graph_credentials, no_secret},
    connector::{carried, first_failure, partitions},
    drive::escape,
};
// The files sources' own rate setting.
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) use connector::{
    FILES_REQUESTS_PER_SECOND, files_requests_per_second, per_second, per_second_problem,
};
