//! The Google Drive connector (source `"google_drive"`).
//!
//! - **Scope** (RAGFlow's rules, see [`GoogleDriveConfig`]): users from the Admin SDK directory
//!   (`users.list` of the primary admin's domain, as `credentials.google_primary_admin`),
//!   `specific_user_emails` or `my_drive_emails`; each user's My Drive (`'me' in owners`, so a
//!   file is listed once, by its owner) and the rest of their corpus, the files shared with them
//!   (`not 'me' in owners`); shared drives (`drives.list` or `shared_drive_urls`); shared
//!   folders crawled by parent. An OAuth user token lists its own user (`me`).
//! - **Shared drives** (as RAGFlow and Onyx): with a service account `drives.list` asks with
//!   `useDomainAdminAccess=true`, so every shared drive of the domain is listed, not only the
//!   admin's. A drive is read as the admin; one the admin is not a member of (Drive answers
//!   404) is read as one of its user members, found in the drive's permissions
//!   (`permissions.list` with domain admin access; users of the admin's domain first) and kept
//!   in the checkpoint. A drive whose members are all groups is a failure asking to add the
//!   admin. An OAuth token lists the drives its user is a member of.
//! - **Shared folders** are crawled as the admin. Drive lists a folder the caller cannot see
//!   as empty, without an error, so a configured folder whose listing is empty is looked up
//!   (`files.get`); one the admin cannot see is read, with its subfolders and files, as the
//!   first user of the domain who can see it: the walk's users, then the Admin SDK
//!   directory's (listed once per walk), at most 100 asked, the one found kept in the
//!   checkpoint. A folder none of them can see is a failure naming it and
//!   `google_primary_admin`. The folders' changes feed is the admin's and does not show
//!   such a folder, so a file moved into it with an old `modifiedTime` waits for a full or
//!   reconciling run.
//! - **Once per file**: a file is emitted by the listing that owns it (its owner's My Drive,
//!   its shared drive) and by any other listing (files shared with a user, a folder crawl, a
//!   shortcut) only when that owning listing has not finished in this walk; those other
//!   emissions are remembered by the walk (in memory, one id per file shared from outside
//!   the indexed drives or reached before its owner's listing), and the first
//!   [`SEEN_IN_CHECKPOINT`] of them in the checkpoint's `seen`, so the checkpoint written
//!   after every page stays bounded however large the drive. A resumed walk that reaches a
//!   file past those again emits it unchanged, which the host's fingerprints skip (see
//!   [`GoogleDriveCheckpoint::seen`]).
//! - **Shortcuts** stand for their targets (`shortcutDetails.targetId`, read with
//!   `files.get` as the listing's user): a target that a listing of the walk owns is left to
//!   it; another is indexed once, under its own id, link and time, and a new shortcut brings
//!   an old target into a window; a shortcut to a folder inside a crawled folder is crawled
//!   (elsewhere it is not followed: a user's My Drive listing lists their files whatever
//!   folder they sit in); a target the user cannot read (404/403) is nothing.
//! - **Permissions** (`include_permissions`): each document's `access`
//!   from the file's permissions (listed with the file where Drive shows them; read with
//!   `permissions.list` from `permissionIds` for shared drive items, whose `permissions` Drive
//!   never fills): users and groups by lower-case e-mail, a domain as the group
//!   `domain:{domain}` (Onyx's name) unless link-only, `anyone` as public, deleted accounts
//!   left out; a file whose permissions the user cannot read is readable by that user and
//!   its owners. The version token holds a short hash of the readers, so a sharing change
//!   (which need not bump the file: a new member of its shared drive) is delivered by a
//!   reconciling run ([`SyncMode::Reconcile`](connector_core::sync::SyncMode::Reconcile)).
//! - **Listing**: `files.list`, 1000 per page, `fields` trimmed to what the documents show,
//!   `trashed = false`, and for a window `modifiedTime >= start and modifiedTime < end`
//!   (filtered exactly again on the response). Folder crawls list every child, since a
//!   subfolder is needed whatever its time, and filter files by the window.
//! - **Content**: Docs exported as Markdown (or plain text), Sheets as Markdown with a table
//!   per tab (Sheets API; the xlsx export where that API is not enabled, or with
//!   `sheets_format: xlsx`), Slides as text,
//!   Drawings as PNG with `allow_images`; other files downloaded as bytes (text files as text)
//!   when `size` is within `max_file_size`, checked before the download (the cap applies to
//!   downloads and exports; listings have core's default body cap). Images only with
//!   `allow_images`. Forms, sites and folders are not documents.
//! - **Documents**: id = the `webViewLink` without its query (RAGFlow's id), title = the name,
//!   `updated_at` = `modifiedTime`, fingerprint from `version`, `modifiedTime` and the
//!   readers' hash (checked
//!   before downloading: unchanged files are not fetched), owners, `file_id`, `mime_type`,
//!   `drive_id` metadata.
//! - **Errors**: a user, shared drive or folder whose listing fails is a
//!   [`Failure`](connector_core::Failure) with the listing's key as id (`my_drive:EMAIL`,
//!   `shared_with_me:EMAIL`, `drive:ID`, `folder:ID`), retryable where it may heal, and the
//!   walk goes on to the next one (a user without Drive, whom Drive answers with 401; a
//!   suspended or deleted user, whose token is refused with `invalid_grant`; a drive the admin
//!   cannot read; a configured folder that neither the admin nor any user asked can see);
//!   prune's listing then
//!   fails rather than come back without it. What concerns
//!   every listing ends the sync, naming `credentials.google_tokens`: the directory or
//!   `drives.list` failing, a refused key, client or scope, a missing domain-wide delegation,
//!   the Drive API disabled, a 401 to the admin or to an OAuth token. A 403 whose reason is `rateLimitExceeded` or
//!   `userRateLimitExceeded` is retried as a rate limit. A file is sorted by core's one policy
//!   ([`ErrorKind::ends_sync`](connector_core::ErrorKind::ends_sync)): one that cannot be
//!   downloaded or exported (denied, still rate limited after the retries, gone), is
//!   malformed or is over the size cap is a [`Failure`](connector_core::Failure) linking to
//!   it, and the sync goes on.
//! - **Changes feeds** (`changes.list`, opt-in through the checkpoint): a windowed run sees
//!   only `modifiedTime`, so a file moved into a crawled folder, newly shared with a user or
//!   whose permissions changed is missed until a full or reconciling run. A walk started from
//!   [`GoogleDriveCheckpoint::tracking_changes`] takes each feed's start token
//!   (`changes.getStartPageToken`: per user, per shared drive, and for the folders' reader)
//!   before that feed's listings, and its last checkpoint holds the tokens; a windowed run
//!   from [`GoogleDriveCheckpoint::next_run`] of it reads each feed from its token before
//!   the feed's listings (the folders' after the crawl, whose folders it needs) and delivers
//!   the changed files in scope whose `modifiedTime` is before the window (the listings
//!   deliver the others), then stores the feed's `newStartPageToken`. A token Drive
//!   refuses (404, 410, or a 400 naming `pageToken`) restarts the feed and lists that user's
//!   or drive's files without the window once; a feed that fails otherwise keeps its token
//!   for the next run. Trashed files, and removed ones (`removed: true`) that are gone for
//!   the feed's reader too, are the page's deleted ids
//!   ([`Batch::deleted`](connector_core::Batch::deleted)), which core deletes in that run;
//!   a removal that another listing of the walk may not share (several users, a folder
//!   reader of its own) and a trashed folder's files Drive does not report one by one are
//!   left to prune.
//!   The host carries the checkpoint between runs: core's batch loop starts every run from
//!   the initial checkpoint, which follows no feed.
//! - **Checkpoint**: staged (users → My Drives → shared drives → folders → done) with the
//!   entity and its page token, see [`GoogleDriveCheckpoint`].
//!
//! # Cancel safety
//! Streams own a clone of the client; dropping one at any `.await` loses only the page in
//! flight.

mod access;
mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

pub use checkpoint::{DriveStage, GoogleDriveCheckpoint, SEEN_IN_CHECKPOINT};
pub use config::{
    DEFAULT_DRIVE_BASE_URL, DEFAULT_DRIVE_OVERLAP_SECS, DEFAULT_MAX_FILE_SIZE,
    DEFAULT_SHEETS_BASE_URL, DocsFormat, GoogleDriveConfig, SheetsFormat,
};

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
