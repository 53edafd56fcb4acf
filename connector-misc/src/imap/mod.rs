//! The IMAP connector (source `"imap"`): the messages of mailboxes on an IMAP server, one
//! document each, and their attachments.
//!
//! - **Connection**: implicit TLS (`security: tls`, port 993, RAGFlow's mode), `STARTTLS`
//!   (refused upgrade = error, never a plain login) or, for a loopback host only, plain. The
//!   certificate and host name are always verified (the system's roots plus
//!   `ca_certificate`); the host's addresses are checked against the network policy before
//!   connecting. **One login per run** (RAGFlow logs in per 100 messages and never logs out),
//!   `LOGOUT` at the end; every step is bounded by `timeout_seconds`. A refused login is
//!   [`ErrorKind::Unauthenticated`](connector_core::ErrorKind::Unauthenticated) naming
//!   `credentials.imap_password`; the password is a [`Secret`](connector_core::Secret) and is
//!   in no `Debug`, log line or error.
//! - **Listing**: each mailbox of `imap_mailbox` in turn, opened read-only (`EXAMINE`, so
//!   nothing is marked `\Seen`); one `UID SEARCH UID n:*` (with `SINCE`/`BEFORE` for a window
//!   or `poll_range`), then `UID FETCH` in chunks of `page_size`: first `UID RFC822.SIZE
//!   INTERNALDATE ENVELOPE BODYSTRUCTURE`, then `BODY.PEEK[]` of the messages that are in the
//!   window, within `max_message_size` and not already stored. UIDs and UIDVALIDITY only,
//!   never sequence numbers ([`ImapCheckpoint`]).
//! - **Windows**: IMAP searches by day, so `SINCE`/`BEFORE` are widened by a day each way and
//!   each message is kept by its exact `INTERNALDATE` (arrival time) in the half-open window.
//!   `updated_at` is that `INTERNALDATE`.
//! - **Ids**: `{mailbox}:{Message-ID}` ([`message_doc_id`]); a message without `Message-ID`
//!   gets `{mailbox}:uid:{hash of mailbox, UIDVALIDITY, UID}`. Attachments are
//!   `{message id}/{IMAP section}` (`INBOX:<a@b>/2`), with `parent_id` the message.
//! - **Documents**: Markdown with the subject as heading, `From`/`To`/`Cc`/`Date` lines and
//!   the body: `text/plain` as paragraphs, an HTML-only body through core's HTML-to-Markdown
//!   conversion; charsets and transfer encodings decoded by mail-parser. Metadata: mailbox,
//!   UID, UIDVALIDITY, `message_id`, `thread_id` (first of `References`, else `In-Reply-To`,
//!   else its own id), `in_reply_to`, `references`, addresses, date, size. The link is the
//!   RFC 5092 `imap://` URL of the message. `access` and `owners`: the mailbox owner
//!   (`credentials.imap_username`).
//! - **Attachments**: parts marked `attachment`, named parts that are no inline image (no
//!   `Content-ID`) and forwarded messages (`message/rfc822`, as `.eml`), each a document with
//!   its MIME type, or a failure naming it when over `attachment_size_limit`.
//! - **Fingerprints**: a message never changes in IMAP, so mailbox, UIDVALIDITY and UID are
//!   its version: an incremental run asks the host's fingerprints once per page and does not
//!   download a message it already holds.
//! - **Failures**: a message that is not RFC 5322 (no header field can be read) or over
//!   `max_message_size`, and an attachment over the cap, each become a
//!   [`Failure`](connector_core::Failure) naming it; the sync goes on. A mailbox that cannot
//!   be selected ends the sync ([`ErrorKind::NotFound`](connector_core::ErrorKind::NotFound)
//!   naming `imap_mailbox`).
//! - **Prune**: [`SlimConnector::list_ids`] lists every message's and attachment's id from
//!   `ENVELOPE` and `BODYSTRUCTURE`, without bodies.
//!
//! # Cancel safety
//! Dropping a stream drops its connection (the server sees a closed socket, no `LOGOUT`);
//! nothing is written on the server, since mailboxes are only examined.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    CheckpointedBatch, CheckpointedConnector, Connector, Error, Result, Roles, SlimConnector,
    SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::ImapCheckpoint;
pub use config::{
    DEFAULT_ATTACHMENT_SIZE_LIMIT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PAGE_SIZE, DEFAULT_PLAIN_PORT,
    DEFAULT_TIMEOUT_SECONDS, DEFAULT_TLS_PORT, ImapConfig, ImapCredentials, Security,
};
pub use model::message_doc_id;

use client::Server;
use pages::Reader;

/// The registry key of the IMAP connector.
pub const SOURCE: &str = "imap";

/// Reads mailboxes on an IMAP server. Built from an [`ImapConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::imap::{ImapConfig, ImapConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = ImapConfig::new("imap.example.com", "me@example.com", "app-password".into());
/// let connector = ImapConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ImapConnector {
    config: ImapConfig,
    reader: Arc<Reader>,
}

impl ImapConnector {
    /// A connector for the server and mailboxes of `config`. Nothing is contacted until a
    /// sync or [`check`](Connector::check); `ca_certificate` is read now.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path, or naming `ca_certificate` when it cannot be read.
    pub fn new(config: ImapConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let server = Server::new(&config)?;
        let reader = Reader {
            server,
            mailboxes: config.mailboxes(),
            page_size: usize::try_from(config.page_size.get()).unwrap_or(usize::MAX),
            max_message_size: config.max_message_size.get(),
            attachment_cap: config.attachment_size_limit.get(),
            poll_range_days: config.poll_range,
        };
        Ok(Self {
            config,
            reader: Arc::new(reader),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ImapConfig {
        &self.config
    }
}

impl fmt::Display for ImapConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SOURCE}:{}@{}",
            self.config.credentials.imap_username,
            self.reader.server.address()
        )
    }
}

#[async_trait]
impl Connector for ImapConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .fingerprint_skip()
            .into()
    }

    /// Logs in and selects every mailbox of `imap_mailbox`.
    ///
    /// # Errors
    /// [`ErrorKind::Unauthenticated`](connector_core::ErrorKind::Unauthenticated) for a
    /// refused login, [`ErrorKind::NotFound`](connector_core::ErrorKind::NotFound) for a
    /// mailbox that cannot be selected,
    /// [`ErrorKind::Unavailable`](connector_core::ErrorKind::Unavailable) or
    /// [`ErrorKind::Timeout`](connector_core::ErrorKind::Timeout) for a server that cannot be
    /// reached in `timeout_seconds`.
    async fn check(&self) -> Result<()> {
        pages::check(&self.reader).await
    }
}

impl CheckpointedConnector for ImapConnector {
    type Checkpoint = ImapCheckpoint;

    fn initial_checkpoint(&self) -> ImapCheckpoint {
        ImapCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: ImapCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ImapCheckpoint>>> {
        pages::checkpointed(&self.reader, from, window, ctx)
    }
}

impl SlimConnector for ImapConnector {
    /// Every message's and attachment's id in every mailbox, whatever `poll_range` says.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.reader, ctx)
    }
}
