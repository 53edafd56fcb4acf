//! The Google Drive connector (source `"google_drive"`).
//!
//! - **Scope** (RAGFlow's rules, see [`GoogleDriveConfig`]): users from the Admin SDK directory
//!   (`users.list` of the primary admin's domain, as `credentials.google_primary_admin`),
//!   `specific_user_emails` or `my_drive_emails`; each user's My Drive (`'me' in owners`, so a
//!   file is listed once, by its owner) and the rest of their corpus, the files shared with them
//!   (`not 'me' in owners`); shared drives (`drives.list` or `shared_drive_urls`); shared
//!   folders crawled by parent. An OAuth user token lists its own user (`me`).
//! - **Listing**: `files.list`, 1000 per page, `fields` trimmed to what the documents show,
//!   `trashed = false`, and for a window `modifiedTime >= start and modifiedTime < end`
//!   (filtered exactly again on the response). Folder crawls list every child, since a
//!   subfolder is needed whatever its time, and filter files by the window.
//! - **Content**: Docs exported as Markdown (or plain text), Sheets as xlsx, Slides as text,
//!   Drawings as PNG with `allow_images`; other files downloaded as bytes (text files as text)
//!   when `size` is within `max_file_size`, checked before the download (the cap applies to
//!   downloads and exports; listings have core's default body cap). Images only with
//!   `allow_images`. Forms, sites, shortcuts and folders are not documents.
//! - **Documents**: id = the `webViewLink` without its query (RAGFlow's id), title = the name,
//!   `updated_at` = `modifiedTime`, fingerprint from `version` and `modifiedTime` (checked
//!   before downloading: unchanged files are not fetched), owners, `file_id`, `mime_type`,
//!   `drive_id` metadata.
//! - **Errors**: a user, shared drive or folder whose listing fails is a
//!   [`Failure`](connector_core::Failure) with the listing's key as id (`my_drive:EMAIL`,
//!   `shared_with_me:EMAIL`, `drive:ID`, `folder:ID`), retryable where it may heal, and the
//!   walk goes on to the next one (a user without Drive, whom Drive answers with 401; a
//!   suspended or deleted user, whose token is refused with `invalid_grant`; a drive the admin
//!   cannot read); prune's listing then fails rather than come back without it. What concerns
//!   every listing ends the sync, naming `credentials.google_tokens`: the directory or
//!   `drives.list` failing, a refused key, client or scope, a missing domain-wide delegation,
//!   the Drive API disabled, a 401 to the admin or to an OAuth token. A 403 whose reason is `rateLimitExceeded` or
//!   `userRateLimitExceeded` is retried as a rate limit. A file is sorted by core's one policy
//!   ([`ErrorKind::ends_sync`](connector_core::ErrorKind::ends_sync)): one that cannot be
//!   downloaded or exported (denied, still rate limited after the retries, gone), is
//!   malformed or is over the size cap is a [`Failure`](connector_core::Failure) linking to
//!   it, and the sync goes on.
//! - **Checkpoint**: staged (users → My Drives → shared drives → folders → done) with the
//!   entity and its page token, see [`GoogleDriveCheckpoint`].
//!
//! # Cancel safety
//! Streams own a clone of the client; dropping one at any `.await` loses only the page in
//! flight.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

pub use checkpoint::{DriveStage, GoogleDriveCheckpoint};
pub use config::{DEFAULT_DRIVE_BASE_URL, DEFAULT_MAX_FILE_SIZE, DocsFormat, GoogleDriveConfig};

use crate::connector::google_connector;
use client::DriveClient;
use pages::Walker;

/// The registry key of the Google Drive connector.
pub const SOURCE: &str = "google_drive";

google_connector! {
    /// Google Drive. Built from a [`GoogleDriveConfig`].
    pub struct GoogleDriveConnector {
        source: SOURCE,
        config: GoogleDriveConfig,
        client: DriveClient,
        checkpoint: GoogleDriveCheckpoint,
        walker: Walker,
    }
    /// Gets a token for the admin (a bad key and a missing delegation fail here, told apart),
    /// then `about.get` (a disabled Drive API fails here), then, for a service account that
    /// lists users, one directory page (a disabled Admin SDK fails here).
    check;
    /// Every file a full load turns into a document (the size cap and the type rules
    /// applied), listed without downloading anything; a file listed but unreadable is listed
    /// too, so prune keeps what it was.
    list_ids;
}
