//! The Outlook connector (source `"outlook"`): the mail of Exchange Online mailboxes (every
//! user's, or named users'), one document per message and one per attachment, over Microsoft
//! Graph with an app registration's client credentials (application permission `Mail.Read`;
//! `User.Read.All` to list every user).
//!
//! - **Mailboxes**: `user_ids` (resolved in JSON batches of 20 by `GET users/{id}`), or with
//!   none every enabled member of the tenant with a `mail` address (`GET /users` with
//!   `$filter=accountEnabled eq true`, the listing [`crate::graph`] shares with OneDrive;
//!   guests only with `include_guests`, disabled accounts, which shared, room and equipment
//!   mailboxes are, only with `include_disabled`; one without an Exchange Online mailbox
//!   answers 404 and is passed over). A named user that is not there is a failure naming it;
//!   the others are read. With more than one named user, each is a **partition**
//!   (`user:{id}`): a job of its own with its own checkpoint. With none, every listed user is
//!   a partition through [`Connector::discover_partitions`], which the sync service runs: one
//!   job and one checkpoint (that mailbox's folder links) per user rather than one for the
//!   whole tenant, whose checkpoint grew with every mailbox and was written after every page.
//!   A discovered user deleted or without a mailbox by its run reads nothing, quietly.
//!   Discovery hands each user's partition the mailbox its listing resolved (id, address,
//!   readers: [`Connector::discover_partition_specs`], [`Connector::partition_with`]), so a
//!   job the sync service runs in the process that discovered it looks no user up; one built
//!   from its key alone (another process, a restart) resolves its user first. A host
//!   that runs no partitions (the CLI) reads every mailbox in one run, in one checkpoint:
//!   name `user_ids` there for more than a few hundred mailboxes. A checkpoint of the whole
//!   tenant (what the service kept before partitions) still loads: a run from it (the CLI's)
//!   goes on from its links, and a partition handed it reads its own mailbox's links and
//!   keeps only those. The service hands it to none, though: each partition starts with a
//!   checkpoint of its own, so after the upgrade every mailbox has one full run (all its
//!   messages delivered again, under the same ids) and the tenant's checkpoint is left unused.
//! - **Folders**: each mailbox's folder tree (`GET users/{id}/mailFolders`, then
//!   `childFolders` of each folder that has some). RAGFlow's `folder` and `include_folders`
//!   name what is read, `exclude_folders` what is not (by default Junk Email, Deleted
//!   Items and Drafts, whose every autosave would be a new version, unless named as read),
//!   each with the folders below it: a well-known name (`inbox`, `sentitems`, resolved per
//!   mailbox, whatever its language), a path by display name (`Inbox/Projects`) or a folder
//!   id. RAGFlow read one folder and none below it. A folder renamed (or below one renamed)
//!   since its last round is listed whole again, its messages delivered with the new
//!   `folder` path (the path is part of their version).
//! - **Listing**: a message delta round per folder (`GET users/{id}/mailFolders/{id}/messages/delta`
//!   with `$select` of the fields used, 50 per page), paged by `@odata.nextLink`. The
//!   checkpoint ([`OutlookCheckpoint`]) is the folder being read with its next link and the
//!   `@odata.deltaLink` of each folder finished; the links a finished run ends with are
//!   carried to the next incremental run ([`CheckpointedConnector::carry_over`]), whose
//!   rounds list exactly what changed since: a new message, an edit (categories, flags, a
//!   draft saved), a move (see ids). Graph's `410 Gone` lists that folder again in the same
//!   run, where unchanged messages cost nothing more. RAGFlow kept its links in memory only.
//! - **Ids** are Graph's immutable ids (`Prefer: IdType="ImmutableId"`): a message moved to
//!   another folder keeps its id, so its document is updated (new folder, new version), not
//!   duplicated. `outlook:{user object id}:{message id}`; an attachment is
//!   `{message's id}/attachments/{attachment id}`.
//! - **Deletions**: a delta round reports messages deleted or moved out of its folder as
//!   `@removed`. Each is looked up (one JSON batch per page): gone from the mailbox, its
//!   document is deleted; moved to a folder this source does not read (Deleted Items, Junk
//!   Email, a folder left out), its document and its attachments' are deleted
//!   ([`Batch::deleted`], in stream order); moved to a folder this source reads, nothing is
//!   deleted (that folder's round delivers it under the same id). A folder read last run and
//!   not this one (deleted, which moves it and its messages under Deleted Items; renamed or
//!   moved out of the filters) gets no `@removed` for its messages: at the end of a run that
//!   read its mailbox, a fresh round of it lists what it holds, and those documents are
//!   deleted (a folder Graph no longer finds is left to prune). The attachments of a message
//!   deleted for good cannot be listed any more: they are the documents the state store holds
//!   with the message's document as their parent ([`SyncContext::children`]), deleted with
//!   it. What is still missed is left to prune ([`SlimConnector`], which lists every id by
//!   fresh rounds and is refused, an error not a short list, when a mailbox or folder cannot
//!   be listed).
//! - **Documents**: Markdown in the IMAP source's shape (the subject as a heading,
//!   `From`/`To`/`Cc`/`Date` lines, the body: an HTML body through core's HTML to Markdown,
//!   a text body as paragraphs; metadata `extension: md` and `body_type`). The title is the
//!   subject, the link the message's `webLink` (Outlook on the web), `updated_at` its
//!   `lastModifiedDateTime`, `parent_id` its `conversationId` (the thread); metadata holds
//!   `mailbox`, `folder`, `from`, `to`, `cc`, `date`, `internet_message_id` and more. A
//!   meeting request, cancellation or response (an `eventMessage`, whose own properties a
//!   delta round cannot `$select`) is read once more by `GET users/{id}/messages/{id}` when
//!   it is delivered: `When:` and `Where:` lines, metadata `meeting_message_type`,
//!   `meeting_start`, `meeting_end` (Graph's local times with their zone) and
//!   `meeting_location`.
//! - **Attachments** (`include_attachments`, default true): listed per message with
//!   `hasAttachments` (`$select` without the bytes), each a document whose parent is the
//!   message. The listed `size` is checked against `max_file_size` before any download: a
//!   larger one is a failure naming it. Files up to 256 KiB come as `contentBytes` in JSON
//!   batches of 20, larger ones raw by `/$value`; an attached Outlook item (a forwarded
//!   message, an event) comes by `/$value` as its MIME form (`.eml`); a reference attachment
//!   (a link to a OneDrive or SharePoint file) has no bytes here and is named in the
//!   message's `reference_attachments` (those sources read the file); inline pictures
//!   (images in the body) are not documents, other inline parts are (Apple Mail sends attached
//!   files inline; Graph's `hasAttachments` is false when all of a message's attachments are
//!   inline, so `list_every_messages_attachments` lists every message's, at a request each); nor is a signed message's S/MIME signature (`smime.p7s`). An encrypted
//!   (or opaque-signed) message's content, `smime.p7m`, is an `Unsupported` failure naming
//!   it, never downloaded: only a recipient's private key opens it.
//! - **Archive**: Graph v1.0 cannot read online archive mailboxes; the well-known `archive`
//!   is the primary mailbox's Archive folder. A message moved to the online archive leaves
//!   the mailbox: its round reports it `@removed`, the lookup answers 404, its document is
//!   deleted.
//! - **Access**: the mailbox's owner. Not the recipients: their copies are other messages in
//!   their own mailboxes (documents of their own when those mailboxes are read), this copy is
//!   readable in Exchange by its owner and the owner's delegates only, and recipients include
//!   external addresses, distribution lists and Bcc that name no identity a host knows.
//! - **Fingerprint**: a hash of what the document is made of (subject, body, people,
//!   dates, categories, thread) and the folder, so an unchanged message costs nothing (its
//!   body is in the delta page). Not the `changeKey`, which every change renews, reading or
//!   flagging a message too: those come in the delta rounds (most of what they list) but
//!   deliver nothing again. One with attachments costs one listing of them (metadata, no
//!   bytes) when a whole folder is listed (a full run, a `410`), so each attachment is
//!   reported unchanged by its own version (id, size, time) rather than unaccounted for; a
//!   round of changes lists only changed messages, its unchanged attachments reported
//!   unchanged without a download.
//! - **Errors**: a mailbox or folder Graph will not read to its end (an application access
//!   policy, a mailbox being moved, throttled past the retries) is a failure naming it; the
//!   others are read. Only errors that end any sync (credentials, state, sink) end the run.
//!   403 names `Mail.Read`; 429 and 503 with `Retry-After` are waited out (core's client).

mod checkpoint;
mod config;
mod convert;
mod items;
mod mailbox;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, PartitionContext,
    PartitionSpec, Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{FolderCursor, OutlookCheckpoint, Phase};
pub use config::{
    DEFAULT_EXCLUDED, DEFAULT_MAX_FILE_SIZE, OutlookConfig, OutlookCredentials, WELL_KNOWN_FOLDERS,
};

use crate::graph;
use mailbox::{Mailbox, Reader};

/// The registry key of the Outlook connector.
pub const SOURCE: &str = "outlook";

/// Users whose mailboxes `check()` tries when every user's mailbox is read.
const CHECK_SAMPLE: usize = 5;

/// The application permissions a 403 asks for.
const PERMISSIONS: &str = "Mail.Read (and User.Read.All to list every user)";

/// Reads Outlook mailboxes. Built from an [`OutlookConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::outlook::{OutlookConfig, OutlookConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = OutlookConfig::new("contoso.onmicrosoft.com", "app-id", "secret");
/// let connector = OutlookConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OutlookConnector {
    config: OutlookConfig,
    reader: Reader,
}

impl OutlookConnector {
    /// A connector for `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of
    /// `config`.
    pub fn new(config: OutlookConfig) -> Result<Self> {
        Self::build(config, false, None)
    }

    /// A connector for `config`; `discovered`: a user partition found by
    /// [`Connector::discover_partitions`], read as every user's mailboxes are (a user gone or
    /// without a mailbox is no failure), with its mailbox when discovery `handed` it.
    fn build(config: OutlookConfig, discovered: bool, handed: Option<Mailbox>) -> Result<Self> {
        let graph = config.client(SOURCE, PERMISSIONS, |b| b)?;
        let reader = Reader {
            graph,
            users: config
                .user_ids
                .iter()
                .map(|u| u.trim().to_owned())
                .collect(),
            include_guests: config.include_guests,
            include_disabled: config.include_disabled,
            discovered,
            handed,
            include: config.included_folders(),
            exclude: config.excluded_folders(),
            attachments: config.include_attachments,
            every_message: config.list_every_messages_attachments,
            max: config.max_file_size.get(),
        };
        Ok(Self { config, reader })
    }

    /// The configuration.
    pub fn config(&self) -> &OutlookConfig {
        &self.config
    }
}

impl fmt::Display for OutlookConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.config.credentials.tenant_id.trim())
    }
}

#[async_trait]
impl Connector for OutlookConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            // A message deleted for good: its attachments are found by parent.
            .children()
            .into()
    }

    /// `user:{id}` for each of `user_ids`, when there is more than one.
    fn partitions(&self) -> Vec<String> {
        graph::partitions(self.reader.users.iter().map(|u| format!("user:{u}")))
    }

    /// The configured users' partitions; with none, `user:{id}` for each enabled member (and
    /// guest, with `include_guests`) of the tenant that has a `mail` address (`GET /users`,
    /// 999 a page; no request per user).
    ///
    /// # Errors
    /// As [`discover_partition_specs`](Connector::discover_partition_specs).
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        Ok(PartitionSpec::keys(self.discover_partition_specs().await?))
    }

    /// [`discover_partitions`](Connector::discover_partitions), each discovered user's
    /// partition handed the mailbox the listing resolved (its address and readers), so its
    /// job does not look the user up again ([`partition_with`](Connector::partition_with)).
    ///
    /// # Errors
    /// `PermissionDenied` naming `user_ids` without `User.Read.All`, and the other errors of
    /// the listing.
    async fn discover_partition_specs(&self) -> Result<Vec<PartitionSpec>> {
        if !self.reader.all_users() {
            return Ok(self
                .partitions()
                .into_iter()
                .map(PartitionSpec::new)
                .collect());
        }
        let mailboxes = self.reader.every_user().await?;
        Ok(mailboxes
            .into_iter()
            .map(|m| {
                PartitionSpec::new(format!("user:{}", m.id)).with_context(PartitionContext::new(m))
            })
            .collect())
    }

    /// A configured user's partition, or a user's found by
    /// [`discover_partitions`](Connector::discover_partitions): its runs look the user up
    /// first (`GET users/{id}`).
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        self.user_partition(partition, None)
    }

    /// [`partition`](Connector::partition), with the mailbox discovery resolved: its runs
    /// read it without looking the user up again.
    fn partition_with(&self, partition: &str, context: &PartitionContext) -> Option<DynConnector> {
        let handed = context
            .get::<Mailbox>()
            .filter(|m| partition.strip_prefix("user:") == Some(m.id.as_str()))
            .cloned();
        self.user_partition(partition, handed)
    }

    /// Gets a token, resolves the mailboxes (a named user that is not there fails here; with
    /// every user, only the first few are tried), lists the first mailbox's folders and reads
    /// the first delta page of its first folder: the secret is accepted, the app holds
    /// `Mail.Read`, the users exist.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.client_secret`, `PermissionDenied` naming the
    /// application permission, `NotFound` naming the user, `Unavailable` when Graph cannot be
    /// reached.
    async fn check(&self) -> Result<()> {
        let (mailboxes, failures) = self.reader.mailboxes(Some(CHECK_SAMPLE)).await?;
        graph::first_failure(SOURCE, failures, Some("user_ids"))?;
        for mailbox in &mailboxes {
            let folders = match self.reader.folders(mailbox).await {
                Ok(folders) => folders,
                // Every user: one without a mailbox is no problem of the config.
                Err(e)
                    if e.kind() == connector_core::ErrorKind::NotFound
                        && self.reader.quiet_missing() =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(folder) = folders.first() {
                let url = self.reader.delta_url(&mailbox.id, &folder.id)?;
                self.reader.delta(&url).await?;
            }
            break;
        }
        Ok(())
    }
}

impl OutlookConnector {
    /// The partition `user:{id}`, with the mailbox discovery `handed` it.
    fn user_partition(&self, partition: &str, handed: Option<Mailbox>) -> Option<DynConnector> {
        let user = partition.strip_prefix("user:")?;
        // A user discovered among every user's, or one of the configured partitions.
        let discovered = self.reader.all_users() && !user.trim().is_empty();
        if !discovered && !self.partitions().iter().any(|p| p == partition) {
            return None;
        }
        let mut config = self.config.clone();
        config.user_ids = vec![user.to_owned()].into();
        let handed = handed.filter(|_| discovered);
        let connector = Self::build(config, discovered, handed).ok()?;
        Some(Arc::new(connector))
    }
}

impl CheckpointedConnector for OutlookConnector {
    type Checkpoint = OutlookCheckpoint;

    fn initial_checkpoint(&self) -> OutlookCheckpoint {
        OutlookCheckpoint::start()
    }

    /// The delta links the finished run ended on: the next incremental run reads the changes
    /// since.
    fn carry_over(&self, last: &OutlookCheckpoint) -> Option<OutlookCheckpoint> {
        last.carried()
    }

    fn load_from_checkpoint(
        &self,
        from: OutlookCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<OutlookCheckpoint>>> {
        pages::checkpointed(&self.reader, from, window, ctx)
    }
}

impl SlimConnector for OutlookConnector {
    /// Every message and attachment id of fresh delta rounds of every folder; fails rather
    /// than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.reader, ctx)
    }
}

impl connector_core::RefetchConnector for OutlookConnector {
    /// These messages again (an attachment's id brings its message), by `GET
    /// users/{id}/messages/{id}`, with their attachments; a message gone, or now in a folder
    /// not read, yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        pages::refetch(&self.reader, ids, ctx)
    }
}
