//! The Gmail connector (source `"gmail"`).
//!
//! - **Mailboxes**: a service account impersonates every active user of the primary admin's
//!   domain in the Admin SDK directory (as `credentials.google_primary_admin`, as RAGFlow
//!   does), or `specific_user_emails`; a 404 from the directory means a personal account, whose
//!   one mailbox is the admin's. An OAuth token reads its own mailbox (`me`, its address from
//!   `users.getProfile`).
//! - **Listing**: `threads.list`, 500 per page; a window becomes `q=after:S before:E` in epoch
//!   seconds, widened by a second each way, and is applied exactly to each thread's last
//!   message (`internalDate`). Threads are then fetched with `threads.get?format=full`, a few
//!   at a time (`thread_concurrency`), unless the thread's `historyId` shows it unchanged.
//! - **History feed** (`users.history.list`, opt-in through the checkpoint): a windowed run
//!   selects threads by date, so a label added or removed, a message imported with an old
//!   date or a thread back from spam or trash is missed until a full run. A walk started from
//!   [`GmailCheckpoint::tracking_history`] takes each mailbox's history id
//!   (`users.getProfile`) before listing its threads, and its last checkpoint holds the ids;
//!   a windowed run from [`GmailCheckpoint::next_run`] of it reads each mailbox's history
//!   first (messages added and deleted, labels added and removed), looks at the touched
//!   threads' dates (`format=minimal`) and delivers those whose last message is before the
//!   window (the listing delivers the others), then stores the history's new `historyId`.
//!   An id Gmail no longer keeps (404, after about a week) lists that mailbox without the
//!   window once; a history that fails otherwise keeps its id for the next run. A thread the
//!   history touched that is deleted (404) or left the listing (spam, trash) is one of the
//!   page's deleted ids ([`Batch::deleted`](connector_core::Batch::deleted)), deleted in that
//!   run; a deleted message's attachment documents are left to prune. The host carries the
//!   checkpoint between runs: core's batch loop starts every run from the initial
//!   checkpoint, which follows no feed.
//! - **Documents**: one per thread: id `gmail:{user}:{threadId}` (scoped by mailbox), title
//!   the subject, Markdown with the participants, the dates and every message (From, To, Cc,
//!   Date, body). Bodies come from the MIME tree: nested multiparts walked, base64url decoded,
//!   charsets decoded by mail-parser (ISO-8859-x, Shift_JIS, ...), `text/plain` preferred and
//!   HTML converted to Markdown otherwise; a message in `raw` form is parsed by mail-parser.
//!   `updated_at` is the last message's time.
//!   Drafts (label `DRAFT`: unsent, their author's alone) and chats (`CHAT`) are left out of
//!   a thread's document; a thread of nothing else is no document.
//! - **Attachments** (`include_attachments`): documents of their own, id
//!   `gmail:{user}:{threadId}:{messageId}:{partId}`, `parent_id` the thread; one larger than
//!   `attachment_size_limit` is not downloaded and is a failure naming its file. Inline images
//!   of a body (a `Content-ID` not marked `attachment`, or shown by `cid:` in the HTML:
//!   signature logos, pasted screenshots) are no attachment documents.
//! - **Access**: every document is readable by its mailbox's owner. A message delivered to
//!   several mailboxes is a document per mailbox (ids scoped by mailbox), each with its
//!   owner's access, not one document uniting the mailboxes: a thread holds different
//!   messages in each mailbox, and finding which mailboxes hold a message would cost a
//!   search per message and mailbox.
//! - **Errors**: a mailbox that cannot be listed is a [`Failure`](connector_core::Failure) with
//!   id `gmail:{user}`, retryable, and the walk goes on to the next mailbox: a user without
//!   Gmail (400 `failedPrecondition` "Mail service not enabled"), a suspended or deleted user
//!   (`invalid_grant` for that user's token); prune's listing then fails rather than come
//!   back without it. What concerns every mailbox ends the sync, naming
//!   `credentials.google_tokens`: the directory failing, a refused key, client or scope, a
//!   missing domain-wide delegation, the Gmail API disabled, a 401. 403 rate-limit reasons
//!   retry. A thread or attachment is
//!   sorted by core's one policy
//!   ([`ErrorKind::ends_sync`](connector_core::ErrorKind::ends_sync)): a malformed message (no
//!   body, bad base64) or a thread that cannot be fetched (denied, still rate limited after
//!   the retries, gone) is a [`Failure`](connector_core::Failure) naming it, and the sync goes
//!   on.
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

pub use checkpoint::{GmailCheckpoint, GmailStage};
pub use config::{
    DEFAULT_ATTACHMENT_SIZE_LIMIT, DEFAULT_GMAIL_BASE_URL, DEFAULT_GMAIL_OVERLAP_SECS, GmailConfig,
};

use crate::connector::google_connector;
use client::GmailClient;
use pages::Walker;

/// The registry key of the Gmail connector.
pub const SOURCE: &str = "gmail";

google_connector! {
    /// Gmail. Built from a [`GmailConfig`].
    pub struct GmailConnector {
        source: SOURCE,
        config: GmailConfig,
        client: GmailClient,
        checkpoint: GmailCheckpoint,
        walker: Walker,
    }
    /// Lists the first users (a bad key, a missing delegation and a disabled Admin SDK fail
    /// here, told apart), then reads the first mailbox's profile (a disabled Gmail API or a
    /// missing Gmail scope fails here;
    /// a first user without a mailbox, whose problem is that user's, does not).
    check;
    /// Every thread of every mailbox, and with `include_attachments` every attachment within
    /// the limit (which needs each thread's MIME tree). Without attachments a malformed thread
    /// is listed (prune keeps what it was); with them, a thread that cannot be fetched or read
    /// makes the listing fail rather than come back without its attachments, and so does a
    /// mailbox that cannot be listed.
    list_ids;
}
