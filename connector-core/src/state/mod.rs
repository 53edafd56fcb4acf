//! State stores: what the batch loop remembers between runs.
//!
//! A [`StateStore`] holds one connector's state: the checkpoint of an unfinished run and the
//! window it covers, the end of the last finished window, each document's fingerprint and
//! `updated_at`, the items that failed, and a log of runs. The batch loop writes it with one
//! [`Commit`] per acknowledged sink batch, so a crash at any point leaves it consistent with what
//! the sink holds. [`MemoryStateStore`] is for tests and one-shot runs, [`EphemeralStateStore`]
//! for runs whose state is thrown away (it keeps the checkpoint unless made
//! [`without_checkpoints`](EphemeralStateStore::without_checkpoints), and no per-document
//! state, so its memory is flat), [`FileStateStore`] a JSON file written atomically; `connector-sync` adds
//! SQLite and PostgreSQL.
//!
//! Prune compares the source's id listing with the store through a [`PrunePass`], page by
//! page and inside the store, so its memory stays flat at any number of documents.

mod docs;
mod ephemeral;
mod file;
mod kept;
mod memory;
mod prune;
mod stamp;
mod states;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connector::CheckpointJson;
use crate::document::{Document, Failure};
use crate::error::Result;
use crate::ids::hash128;
use crate::window::TimeWindow;
use kept::Kept;

pub use ephemeral::EphemeralStateStore;
pub use file::{FileStateStore, GroupCommit};
pub use memory::MemoryStateStore;
pub use prune::{PruneCounts, PrunePass};
pub(crate) use stamp::Rfc3339;
pub use states::{DocumentStateRef, DocumentStates, IntoStates};

/// What the store knows of one document.
///
/// `#[non_exhaustive]`: a store outside this crate (a custom [`StateStore`]'s
/// [`documents`](StateStore::documents)) builds one with [`new`](Self::new) and sets
/// [`parent_id`](Self::parent_id) on it (the fields stay public), so that a field added later
/// (as `parent_id` was) breaks no such store. A struct literal written before it
/// (`DocumentState { fingerprint, updated_at, parent_id }`) becomes
/// `DocumentState::new(fingerprint, updated_at)` with `parent_id` assigned after (or
/// [`with_parent_id`](Self::with_parent_id)); outside this crate neither a literal nor
/// `..` update syntax builds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DocumentState {
    /// The document's fingerprint when it was last acknowledged.
    pub fingerprint: String,
    /// Its `updated_at` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Its [`parent_id`](Document::parent_id) then, which
    /// [`StateStore::children`] looks documents up by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

impl DocumentState {
    /// A document with this `fingerprint` and `updated_at`, and no parent.
    pub fn new(fingerprint: impl Into<String>, updated_at: Option<DateTime<Utc>>) -> Self {
        Self {
            fingerprint: fingerprint.into(),
            updated_at,
            parent_id: None,
        }
    }

    /// With its [`parent_id`](Self::parent_id).
    #[must_use]
    pub fn with_parent_id(mut self, parent: impl Into<String>) -> Self {
        self.parent_id = Some(parent.into());
        self
    }
}

/// How a document compares with what a [`StateStore`] knows of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// The store does not know its id.
    New,
    /// Known, with another fingerprint.
    Changed,
    /// Known, with this fingerprint.
    Unchanged,
}

impl Known {
    /// `doc` against the fingerprint the store holds for its id, if any.
    pub fn of(doc: &Document, stored_fingerprint: Option<&str>) -> Self {
        match stored_fingerprint {
            None => Self::New,
            Some(fp) if fp == doc.fingerprint => Self::Unchanged,
            Some(_) => Self::Changed,
        }
    }
}

/// The checkpoint of an unfinished run, with what is needed to resume it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// Where to resume.
    pub checkpoint: CheckpointJson,
    /// The window the run covers (`None` for a full run); reused on resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// When the interrupted run started: a resumed full run ends its window there.
    #[serde(serialize_with = "stamp::serialize")]
    pub started_at: DateTime<Utc>,
    /// Whether the run is a [`SyncMode::Reconcile`](crate::sync::SyncMode::Reconcile) (a run
    /// without a window that skips unchanged documents), so that its resumption does too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconcile: bool,
    /// How much of the page after `checkpoint` the sink acknowledged, when the run stopped
    /// inside it: a resumed run skips those documents instead of delivering the page again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_prefix: Option<PagePrefix>,
}

/// The leading documents of a source page that were acknowledged (see
/// [`StoredCheckpoint::page_prefix`]).
///
/// Pages keep their item order (the connector contract), but a page fetched again can differ
/// from the page that was partly delivered; the hash of the prefix's ids tells a resumed run
/// whether the page still starts the same way. It skips the prefix only then, and otherwise
/// delivers the whole page again: duplicates, never a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagePrefix {
    /// Leading documents of the page, in the connector's order, that need no delivery.
    pub documents: u64,
    /// A hash of their ids, in order.
    pub ids_hash: u64,
}

impl PagePrefix {
    /// The prefix of the first `documents` ids.
    pub fn of<S: AsRef<str>>(ids: &[S], documents: usize) -> Self {
        let mut prefix = PrefixHasher::default();
        for id in ids.iter().take(documents) {
            prefix.push(id.as_ref());
        }
        prefix.prefix()
    }

    /// How many leading documents of a page with these `ids` to skip: the prefix's length when
    /// the page starts with the same ids, else none.
    pub fn skip_in<S: AsRef<str>>(&self, ids: &[S]) -> usize {
        let n = usize::try_from(self.documents).unwrap_or(usize::MAX);
        if n <= ids.len() && Self::of(ids, n) == *self {
            n
        } else {
            0
        }
    }
}

/// A [`PagePrefix`] built an id at a time, for a prefix that grows: the batch loop asks for
/// the prefix of a page after each sink batch inside it, and hashing the whole prefix each
/// time cost each id once per batch after it (a page's ids hashed pages/batch times over).
#[derive(Clone)]
pub(crate) struct PrefixHasher {
    hasher: xxhash_rust::xxh3::Xxh3,
    documents: usize,
}

impl Default for PrefixHasher {
    fn default() -> Self {
        Self {
            hasher: xxhash_rust::xxh3::Xxh3::new(),
            documents: 0,
        }
    }
}

impl PrefixHasher {
    /// Adds the next id of the page.
    pub(crate) fn push(&mut self, id: &str) {
        let id = id.as_bytes();
        self.hasher.update(&(id.len() as u64).to_le_bytes());
        self.hasher.update(id);
        self.documents += 1;
    }

    /// How many ids it has hashed.
    pub(crate) fn len(&self) -> usize {
        self.documents
    }

    /// The prefix of the ids pushed so far.
    pub(crate) fn prefix(&self) -> PagePrefix {
        PagePrefix {
            documents: self.documents as u64,
            ids_hash: self.hasher.digest(),
        }
    }
}

/// An item that failed, kept until a later run produces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedItem {
    /// The failure as the connector reported it.
    pub failure: Failure,
    /// Start of the window of the run in which it failed (`None` for a full run): incremental
    /// runs start no later than this until the item is produced, so the window never moves
    /// past a recorded loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<DateTime<Utc>>,
    /// How many runs it has failed in.
    pub attempts: u32,
    /// When it first failed (wall-clock time of the run, not a document time).
    pub first_failed_at: DateTime<Utc>,
}

impl FailedItem {
    /// The key the store files it under: the document id, or a hash of the message for
    /// failures that name no document.
    pub fn key(&self) -> String {
        failure_key(&self.failure)
    }
}

/// The key of a failure: its id, or `~` and a hash of its message. The place it was met at
/// ([`Failure::place`]) is left out, so an item without an id keeps its key when it is met at
/// another place ([`Failure::at`]); keys stored before places existed are unchanged.
pub fn failure_key(failure: &Failure) -> String {
    failure
        .id
        .clone()
        .unwrap_or_else(|| format!("~{}", hash128(&failure.message)))
}

/// What to do with the stored checkpoint in a [`Commit`].
#[derive(Debug, Clone, PartialEq, Default)]
pub enum CheckpointUpdate {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Replace it.
    Set(StoredCheckpoint),
}

/// Everything one acknowledged sink batch changes, applied atomically.
///
/// `'a` is the borrow of the acknowledged documents, which the batch loop lends from the
/// source's page for the duration of [`StateStore::commit`]; a commit built by hand from
/// `(id, state)` pairs is `Commit<'static>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit<'a> {
    /// The checkpoint after the last fully acknowledged source page.
    pub checkpoint: CheckpointUpdate,
    /// Acknowledged documents.
    pub documents: DocumentStates<'a>,
    /// New or repeated failures.
    pub failed: Vec<FailedItem>,
    /// Keys of failures that are resolved (the item was produced).
    pub resolved: Vec<String>,
}

impl Commit<'_> {
    /// Whether the commit changes nothing.
    pub fn is_empty(&self) -> bool {
        self.checkpoint == CheckpointUpdate::Keep
            && self.documents.is_empty()
            && self.failed.is_empty()
            && self.resolved.is_empty()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every item was produced.
    Succeeded,
    /// The run finished but some items failed.
    PartiallySucceeded,
    /// The run stopped with an error; its checkpoint was kept (by a store that
    /// [keeps checkpoints](StateStore::keeps_checkpoints)).
    Failed,
}

/// One line of the run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `full`, `incremental` or `resume`.
    pub mode: String,
    /// How it ended.
    pub status: RunStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The window it covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// New documents.
    pub new: u64,
    /// Updated documents.
    pub updated: u64,
    /// Unchanged documents.
    pub unchanged: u64,
    /// Failed items.
    pub failed: u64,
    /// Deleted documents.
    pub deleted: u64,
    /// The error that stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A connector's state between runs as the loop reads it at the start of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncState {
    /// The checkpoint of an unfinished run.
    pub checkpoint: Option<StoredCheckpoint>,
    /// End of the last finished run's window.
    pub last_window_end: Option<DateTime<Utc>>,
    /// Items that failed and have not been produced since.
    pub failed: Vec<FailedItem>,
    /// What the last finished run left for the next incremental run to start from
    /// ([`CheckpointedConnector::carry_over`](crate::CheckpointedConnector::carry_over):
    /// a change feed's page tokens, say).
    pub carried: Option<CheckpointJson>,
}

/// Persistent state of one connector.
///
/// # Contract
/// - [`commit`](StateStore::commit) applies all of a [`Commit`] or nothing, and is durable when
///   it returns.
/// - A corrupt or unreadable store is an [`ErrorKind::State`](crate::ErrorKind::State) error naming
///   where it lives, never a silent reset.
/// - [`begin_prune`](StateStore::begin_prune) follows the contract of [`PrunePass`].
/// - A store whose [`keeps_checkpoints`](StateStore::keeps_checkpoints) is `false` returns no
///   checkpoint from [`load`](StateStore::load), even one it was given or wrote earlier: a run
///   would resume from it and, committing none, never move it on. A store that wraps another
///   forwards `keeps_checkpoints` (the default `true` quietly makes the batch loop build
///   checkpoints the inner store then drops).
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The checkpoint, the last window end and the failed items.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be read.
    async fn load(&self) -> Result<SyncState>;

    /// What the store knows of each of these documents, in the order of `ids` (`None` for an
    /// id it does not know). Called once per source page.
    ///
    /// Each state must carry the `parent_id` last committed for it: for a connector that asks
    /// children ([`Roles::asks_children`](crate::Roles::asks_children)) the batch loop calls
    /// this instead of [`compare`](StateStore::compare) in incremental runs, and records the
    /// parent of an unchanged document whose stored parent differs (a store that drops
    /// parents would have every such child's state committed again on every run).
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be read.
    async fn documents(&self, ids: &[&str]) -> Result<Vec<Option<DocumentState>>>;

    /// How each of these documents compares with what the store knows of it, in their order.
    /// Called by the batch loop once per source page, to count new, updated and unchanged
    /// documents and to leave unchanged ones out of incremental runs.
    ///
    /// The provided implementation asks [`documents`](StateStore::documents); a store that can
    /// compare in place, without copying each known fingerprint out, should override it (the
    /// built-in stores do). It is not called for a connector that asks children in an
    /// incremental run (see [`documents`](StateStore::documents)).
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be read.
    async fn compare(&self, documents: &[Document]) -> Result<Vec<Known>> {
        let ids: Vec<&str> = documents.iter().map(|d| d.id.as_str()).collect();
        let known = self.documents(&ids).await?;
        Ok(documents
            .iter()
            .zip(known)
            .map(|(doc, state)| Known::of(doc, state.as_ref().map(|s| s.fingerprint.as_str())))
            .collect())
    }

    /// The ids of the stored documents whose [`parent_id`](Document::parent_id) is one of
    /// `parents`, each once, in the ids' byte order (`str`'s `Ord`; a SQL store sorts with a
    /// binary collation, not the database's): what a connector deletes with a deleted item whose
    /// children (a message's attachments) the source does not report deleted itself. Called
    /// through [`ChildLookup`](crate::context::ChildLookup), once per page that deletes.
    /// The [`Syncer`](crate::sync::Syncer) commits parents only for a connector whose roles
    /// claim [`children`](crate::RolesOf::children); for any other the store keeps none.
    ///
    /// The provided implementation knows no children (an empty list): it is right for a store
    /// that keeps no documents, and for any other it leaves children that the source does not
    /// report deleted to prune, as before stores kept parents. The built-in stores override it.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be read.
    async fn children(&self, parents: &[&str]) -> Result<Vec<String>> {
        let _ = parents;
        Ok(Vec::new())
    }

    /// Every document id the store knows, for tools, tests and the provided
    /// [`begin_prune`](StateStore::begin_prune). Prune itself does not call it.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be read.
    async fn document_ids(&self) -> Result<Vec<String>>;

    /// Applies one acknowledged batch. The documents in it are borrowed for the call: a store
    /// that hands the commit on (to a writer task, say) keeps what it needs of them first.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be written.
    async fn commit(&self, commit: Commit<'_>) -> Result<()>;

    /// Whether the store keeps the checkpoints committed to it (in
    /// [`Commit::checkpoint`]) for someone to read: a later run that resumes, a host that
    /// shows them. `true` unless the store says otherwise.
    ///
    /// A store that answers `false` (a run whose state is thrown away at its end, such as
    /// [`EphemeralStateStore::without_checkpoints`]) is committed no checkpoint: the batch loop
    /// then makes none for it, neither the page checkpoints stored without their secrets nor
    /// the checkpoints inside a page it would write after each sink batch. Such a store's
    /// [`load`](StateStore::load) must return no checkpoint either, since it was given none.
    /// Everything else (documents, failures, the run record, what a run carries over) is
    /// committed as before.
    fn keeps_checkpoints(&self) -> bool {
        true
    }

    /// Begins a prune pass: the listing's pages are marked in the store, and the known ids
    /// left unmarked are what prune deletes. See [`PrunePass`] for the protocol and its
    /// contract.
    ///
    /// The provided implementation collects every id [`document_ids`](StateStore::document_ids)
    /// returns into the pass (sorted, with a mark beside each), so its memory grows with the
    /// number of documents, as prune's did before passes existed. A store with many documents
    /// overrides it to mark in place (the built-in stores do; a SQL store marks with one
    /// `UPDATE` per page, see [`PrunePass`]).
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be read.
    async fn begin_prune(&self) -> Result<Box<dyn PrunePass + '_>> {
        let ids = self.document_ids().await?;
        Ok(Box::new(prune::CollectingPass::new(ids)))
    }

    /// Forgets documents the sink deleted.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be written.
    async fn remove_documents(&self, ids: &[String]) -> Result<()>;

    /// Records the end of a run. A finished run (`window_end` set) clears the checkpoint and
    /// moves the last window end; a failed one keeps both.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be written.
    async fn finish_run(&self, run: RunRecord, window_end: Option<DateTime<Utc>>) -> Result<()>;

    /// Keeps `checkpoint` for the next incremental run to start from, replacing what was kept
    /// (`None` forgets it): what a finished run's connector carries over
    /// ([`CheckpointedConnector::carry_over`](crate::CheckpointedConnector::carry_over)), such
    /// as a change feed's page tokens. The batch loop calls it just before
    /// [`finish_run`](StateStore::finish_run) of a finished run; [`load`](StateStore::load)
    /// returns it as [`SyncState::carried`].
    ///
    /// The provided implementation keeps nothing: every incremental run then starts from the
    /// connector's initial checkpoint, which loses no document (a feed only adds to what the
    /// run's window selects) but costs the feed. The built-in stores keep it.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be written.
    async fn carry(&self, checkpoint: Option<CheckpointJson>) -> Result<()> {
        let _ = checkpoint;
        Ok(())
    }

    /// The most recent runs, newest last.
    ///
    /// # Errors
    /// [`ErrorKind::State`](crate::ErrorKind::State) when the store cannot be read.
    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>>;
}

/// The data both built-in stores keep, and the JSON shape of [`FileStateStore`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateData {
    version: u32,
    #[serde(default)]
    checkpoint: Option<StoredCheckpoint>,
    #[serde(default)]
    last_window_end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    carried: Option<CheckpointJson>,
    #[serde(default)]
    documents: docs::Docs,
    #[serde(default)]
    failed: std::collections::BTreeMap<String, FailedItem>,
    #[serde(default)]
    runs: std::collections::VecDeque<RunRecord>,
    /// How many journal entries this snapshot includes ([`FileStateStore`]).
    #[serde(default)]
    seq: u64,
    /// The serial number of the open prune pass: held in memory only, so that a store read
    /// again from its files has no pass open.
    #[serde(skip)]
    prune_pass: Option<u64>,
    /// The open pass's unlisted ids in order, built when it first pages through them.
    #[serde(skip)]
    prune_order: Option<Vec<docs::IdKey>>,
}

/// Runs kept in the log of the built-in stores.
const RUN_LOG_LEN: usize = 100;
/// The current shape of [`StateData`].
const STATE_VERSION: u32 = 1;

impl StateData {
    fn new() -> Self {
        Self {
            version: STATE_VERSION,
            ..Self::default()
        }
    }

    fn sync_state(&self) -> SyncState {
        SyncState {
            checkpoint: self.checkpoint.clone(),
            last_window_end: self.last_window_end,
            failed: self.failed.values().cloned().collect(),
            carried: self.carried.clone(),
        }
    }

    /// Writes the JSON the derived `Serialize` writes (the [`FileStateStore`]'s snapshot),
    /// with the documents, which are nearly all of it, written straight into a buffer that
    /// goes out in pieces of about 64 KiB.
    fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        const PIECE: usize = 64 * 1024;
        let mut buf = Vec::with_capacity(PIECE + 4096);
        buf.extend_from_slice(b"{\"version\":");
        crate::jsonw::write_u64(&mut buf, u64::from(self.version));
        buf.extend_from_slice(b",\"checkpoint\":");
        serde_json::to_writer(&mut buf, &self.checkpoint)?;
        buf.extend_from_slice(b",\"last_window_end\":");
        serde_json::to_writer(&mut buf, &self.last_window_end)?;
        if let Some(carried) = &self.carried {
            buf.extend_from_slice(b",\"carried\":");
            serde_json::to_writer(&mut buf, carried)?;
        }
        buf.extend_from_slice(b",\"documents\":{");
        for (i, (id, kept)) in self.documents.sorted().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            kept.write_entry(&mut buf, id, self.documents.parent(id))?;
            if buf.len() >= PIECE {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        buf.extend_from_slice(b"},\"failed\":");
        serde_json::to_writer(&mut buf, &self.failed)?;
        buf.extend_from_slice(b",\"runs\":");
        serde_json::to_writer(&mut buf, &self.runs)?;
        buf.extend_from_slice(b",\"seq\":");
        crate::jsonw::write_u64(&mut buf, self.seq);
        buf.push(b'}');
        out.write_all(&buf)
    }

    fn compare(&self, documents: &[Document]) -> Vec<Known> {
        documents
            .iter()
            .map(|d| match self.documents.get(&d.id) {
                None => Known::New,
                Some(kept) if kept.has_fingerprint(&d.fingerprint) => Known::Unchanged,
                Some(_) => Known::Changed,
            })
            .collect()
    }

    fn documents(&self, ids: &[&str]) -> Vec<Option<DocumentState>> {
        ids.iter().map(|id| self.documents.state(id)).collect()
    }

    fn children(&self, parents: &[&str]) -> Vec<String> {
        self.documents.children(parents)
    }

    fn apply(&mut self, commit: Commit<'_>) {
        if let CheckpointUpdate::Set(cp) = commit.checkpoint {
            self.checkpoint = Some(cp);
        }
        // A document committed during a prune pass was just produced by the source: it
        // counts as listed, so a prune racing a sync never deletes it.
        let listed = self.prune_pass.is_some();
        // Read from the commit, not taken out of it: the store keeps a hash id or fingerprint
        // as its value and a short id inline ([`docs::Docs`]), so it copies no string for
        // them; the documents' own strings are freed with the documents.
        for s in commit.documents.iter() {
            let mut kept = Kept::of(s.fingerprint, s.updated_at);
            kept.set_listed(listed);
            self.documents.insert(s.id, kept, s.parent_id);
        }
        for key in commit.resolved {
            self.failed.remove(&key);
        }
        for item in commit.failed {
            self.failed.insert(item.key(), item);
        }
    }

    fn remove(&mut self, ids: &[String]) {
        for id in ids {
            self.documents.remove(id);
        }
    }

    fn finish(&mut self, run: RunRecord, window_end: Option<DateTime<Utc>>) {
        if let Some(end) = window_end {
            self.checkpoint = None;
            self.last_window_end = Some(end);
        }
        self.runs.push_back(run);
        while self.runs.len() > RUN_LOG_LEN {
            self.runs.pop_front();
        }
    }

    fn document_ids(&self) -> Vec<String> {
        self.documents.ids()
    }

    fn runs(&self, limit: usize) -> Vec<RunRecord> {
        let skip = self.runs.len().saturating_sub(limit);
        self.runs.iter().skip(skip).cloned().collect()
    }
}
