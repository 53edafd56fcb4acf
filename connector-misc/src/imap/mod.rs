//! The IMAP connector (source `"imap"`): the messages of mailboxes on an IMAP server, one
//! document each, and their attachments.
//!
//! - **Connection**: implicit TLS (`security: tls`, port 993, RAGFlow's mode), `STARTTLS`
//!   (refused upgrade = error, never a plain login) or, for a loopback host only, plain. The
//!   certificate and host name are always verified (the system's roots plus
//!   `ca_certificate`, a file, or `ca_certificate_pem`, its text; a host serving tenants
//!   refuses the file path); the host's addresses are checked against the network policy
//!   before connecting. **One login per run** (RAGFlow logs in per 100 messages and never
//!   logs out), `LOGOUT` at the end; every step is bounded by `timeout_seconds`. The login is
//!   `LOGIN` with `credentials.imap_password`, or, with `credentials.imap_access_token` (an
//!   OAuth 2 access token, for Gmail and Microsoft 365), SASL `AUTHENTICATE XOAUTH2`. A
//!   refused login is [`ErrorKind::Unauthenticated`](connector_core::ErrorKind::Unauthenticated)
//!   naming the field; password and token are [`Secret`](connector_core::Secret)s and are in
//!   no `Debug`, log line or error.
//! - **Mailboxes**: `imap_mailbox`, or, when it is empty (as RAGFlow and Onyx read it),
//!   every mailbox `LIST` shows that can be selected, INBOX first, without the RFC 6154
//!   special-use `\All`, `\Junk` and `\Trash`. Names are UTF-8 in the config, ids and
//!   metadata, and modified UTF-7 on the wire. After the login the connector sends RFC 2971
//!   `ID` when the server offers it (NetEase refuses `EXAMINE` without it).
//! - **Listing**: each mailbox in turn, opened read-only (`EXAMINE`, so nothing is marked
//!   `\Seen`); one `UID SEARCH UID n:*`, then `UID FETCH` in chunks of `page_size`: first
//!   `UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE`, then `BODY.PEEK[]` of the
//!   messages within `max_message_size` and not already stored. A run whose fingerprint
//!   lookup remembers nothing (a full run) reads every body anyway, so it asks for the
//!   listing items and `BODY.PEEK[]` in one `UID FETCH` per page (one round trip instead of
//!   two), but for the messages one `UID SEARCH ... LARGER` per mailbox finds over
//!   `max_message_size` or over the page's share of 32 MiB, which are listed first as above.
//!   UIDs and UIDVALIDITY only, never sequence numbers ([`ImapCheckpoint`]). A part's
//!   messages are converted (MIME parsed, Markdown written) on the blocking pool while the
//!   next part is fetched, so the session never waits on the parser; parts are handed on in
//!   UID order all the same, each with its checkpoint.
//! - **Incremental runs** go by UID: each run keeps every mailbox's UIDNEXT as it opened it
//!   (checked against UIDVALIDITY), and the next reads `UID n:*` with no dates, so mail
//!   copied, moved, labelled or APPENDed with an old date, and mail stamped by a server
//!   clock behind ours, are all new arrivals. A mailbox without a mark (newly configured, or
//!   recreated) is read in full; the fingerprint skip keeps that to a listing.
//! - **Windows**: a window given to a run that continues none (a host polling by time) and
//!   `poll_range` search by day (`SINCE`/`BEFORE`, widened by a day each way), and each
//!   message is kept by its exact `INTERNALDATE` (arrival time). `updated_at` is that
//!   `INTERNALDATE`.
//! - **Ids**: `{mailbox}:{Message-ID}` ([`message_doc_id`]); a message without `Message-ID`
//!   gets `{mailbox}:uid:{hash of mailbox, UIDVALIDITY, UID}`. Attachments are
//!   `{message id}/{IMAP section}` (`INBOX:<a@b>/2`), with `parent_id` the message.
//! - **Documents**: Markdown with the subject as heading, `From`/`To`/`Cc`/`Date` lines and
//!   the body: `text/plain` as paragraphs, an HTML-only body through core's HTML-to-Markdown
//!   conversion; charsets and transfer encodings decoded by mail-parser. Metadata: mailbox,
//!   UID, UIDVALIDITY, `message_id`, `thread_id` (first of `References`, else `In-Reply-To`,
//!   else its own id), `in_reply_to`, `references`, addresses, date, size, and `imap_url`,
//!   the RFC 5092 `imap://` URL of the message (the mailbox's `/` kept). The link is
//!   `web_link` filled in (`gmail`, Gmail's web UI, by default for `imap.gmail.com`, or a
//!   template), else that `imap://` URL. `access` and `owners`: the mailbox owner
//!   (`owner_email`, else `credentials.imap_username` when it is a mail address; a login
//!   that is not one needs `owner_email`).
//! - **Attachments**: parts marked `attachment`, named parts that are no inline image (no
//!   `Content-ID`) and forwarded messages (`message/rfc822`, as `.eml`), each a document with
//!   its MIME type, or a failure naming it when over `attachment_size_limit`. Which parts
//!   they are, and their section numbers, come from the server's `BODYSTRUCTURE` in the load
//!   as in prune's listing (mail-parser only supplies their content), so the two never
//!   disagree on a malformed MIME tree; a message listed without `BODYSTRUCTURE` goes by
//!   mail-parser.
//! - **Refetch** ([`RefetchConnector`](connector_core::RefetchConnector)): an id's mailbox is
//!   opened and its message found by `UID SEARCH HEADER Message-ID`, or, for a message
//!   without one, by the UID its id hashes (mailbox, UIDVALIDITY, UID); only the ids asked
//!   for are handed on, an attachment alone if that is what was asked.
//! - **Fingerprints**: a message never changes in IMAP, so mailbox, UIDVALIDITY and UID are
//!   its version: an incremental run asks the host's fingerprints once per page and does not
//!   download a message it already holds.
//! - **Failures**: a message that is not RFC 5322 (no header field can be read) or over
//!   `max_message_size`, an attachment over the cap, and a message the server will not serve
//!   (a tagged `NO` after part of a FETCH, a response imap-proto cannot parse, `BODY[] NIL`)
//!   each become a [`Failure`](connector_core::Failure) naming mailbox and UID, and the sync
//!   goes on: a chunk the server fails is split down to single UIDs, on a new connection when
//!   the old one is out of step, and a message whose `BODYSTRUCTURE` cannot be read is listed
//!   without it. Errors carry the server's status text cut to 200 characters and never a
//!   response's content (async-imap puts the unparsed response, i.e. mail, in its errors).
//! - **Server answers**: RFC 5530 codes tell the kinds apart: `AUTHENTICATIONFAILED` is
//!   [`ErrorKind::Unauthenticated`](connector_core::ErrorKind::Unauthenticated), `NOPERM`
//!   and "Unsafe Login" `PermissionDenied`, `NONEXISTENT` (or a bare `NO` to `EXAMINE`)
//!   `NotFound` listing the mailboxes the account has, `UNAVAILABLE`/`INUSE`/`SERVERBUG`
//!   `Unavailable`, `LIMIT`, "too many connections", Gmail's bandwidth limit and Exchange's
//!   throttling `RateLimited` (waited out up to four times, Exchange's "Suggested Backoff
//!   Time" honoured, then an error with that wait). A lost connection is reopened (login,
//!   `EXAMINE`, UIDVALIDITY checked) and the run goes on.
//! - **Logs**: async-imap logs every command (the `LOGIN` line with the password) and every
//!   response at `TRACE` through `log`; the CLI drops `async_imap` and `imap_proto` events
//!   below `WARN` whatever `RUST_LOG` says, and a host with its own subscriber must do the
//!   same.
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
mod utf7;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{ImapCheckpoint, MailboxMark};
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
            owner: config.owner().unwrap_or_default(),
            web_link: config.web_link_template(),
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
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// The mailboxes of `imap_mailbox` when it names more than one, each a job of its own with
    /// its own checkpoint; none when it is empty (the mailboxes are known only from the
    /// server's `LIST`) or names one.
    fn partitions(&self) -> Vec<String> {
        let named = self.config.mailboxes();
        if named.len() > 1 { named } else { Vec::new() }
    }

    /// This connector reading only `partition`, one of [`partitions`](Connector::partitions).
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if !self.config.mailboxes().iter().any(|m| m == partition) {
            return None;
        }
        let mut config = self.config.clone();
        config.imap_mailbox = vec![partition.to_owned()].into();
        let connector = Self::new(config).ok()?;
        Some(Arc::new(connector))
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

    /// 2: per-mailbox marks (`start`, `next`, `carried`) for incremental runs by UID.
    fn checkpoint_version(&self) -> u32 {
        2
    }

    fn initial_checkpoint(&self) -> ImapCheckpoint {
        ImapCheckpoint::start()
    }

    /// The marks this run left: the next incremental run reads each mailbox's UIDs from its
    /// UIDNEXT of this run on, whatever the messages' dates.
    fn carry_over(&self, last: &ImapCheckpoint) -> Option<ImapCheckpoint> {
        Some(last.carried_over())
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

impl connector_core::RefetchConnector for ImapConnector {
    /// These messages and attachments again: each id's mailbox opened, its message found by
    /// `Message-ID` (or, without one, by mailbox, UIDVALIDITY and UID, which its id hashes),
    /// downloaded and converted; only the ids asked for are handed on. A message that is
    /// gone yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        pages::refetch(&self.reader, ids, ctx)
    }
}

impl SlimConnector for ImapConnector {
    /// Every message's and attachment's id in every mailbox, whatever `poll_range` says.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.reader, ctx)
    }
}
