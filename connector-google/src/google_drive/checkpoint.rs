//! [`GoogleDriveCheckpoint`]: where a Drive sync resumes.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// At most this many ids in a checkpoint's [`seen`](GoogleDriveCheckpoint::seen) set: the
/// checkpoint is written after every page, so what it holds must not grow with the drive.
pub const SEEN_IN_CHECKPOINT: usize = 1_000;

/// The stages of a Drive sync, in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriveStage {
    /// Listing the users from the directory.
    #[default]
    Users,
    /// Each user's My Drive and files shared with them.
    MyDrives,
    /// Listing the shared drives (`drives.list`).
    DriveIds,
    /// Each shared drive's files.
    SharedDrives,
    /// The shared folders, crawled by parent.
    Folders,
    /// Finished.
    Done,
}

/// Where a Drive sync resumes: the stage, the entity within it (a user's listing, a shared
/// drive, a folder) and that entity's next page token.
///
/// The lists it holds grow as the sync discovers them (users, shared drives, subfolders), so a
/// resumed sync walks exactly the same entities in the same order. `seen` holds the first
/// ids (at most [`SEEN_IN_CHECKPOINT`]) of the files emitted where a later stage can reach a
/// file again (files shared with me, folder crawls), so a file reachable through several
/// paths is emitted once, across resumes too (see the field for past the limit).
/// `completed_until` records, per finished entity, the end of the window it was synced to
/// (`None` for a full load).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleDriveCheckpoint {
    /// The current stage.
    pub stage: DriveStage,
    /// The users whose drives are listed (e-mails; `me` for an OAuth user).
    #[serde(default)]
    pub users: Vec<String>,
    /// The shared drive ids.
    #[serde(default)]
    pub drives: Vec<String>,
    /// The folders to crawl, in discovery order.
    #[serde(default)]
    pub folders: Vec<String>,
    /// The index of the current entity in the stage's list.
    #[serde(default)]
    pub entity: usize,
    /// The current entity's next page token (`None`: its first page).
    #[serde(default)]
    pub page_token: Option<String>,
    /// Per finished entity (`my_drive:EMAIL`, `shared_with_me:EMAIL`, `drive:ID`,
    /// `folder:ID`): the window end it was synced to.
    #[serde(default)]
    pub completed_until: BTreeMap<String, Option<DateTime<Utc>>>,
    /// File ids already emitted, where a later stage could reach them again: only files that
    /// no listing of the walk owns (a file owned by a user whose My Drive is listed is that
    /// listing's; a shared drive's file, its drive's), reached through files shared with a
    /// user, a folder crawl or a shortcut; and only the first [`SEEN_IN_CHECKPOINT`] of them.
    ///
    /// The checkpoint is written after every page, so it holds a bounded set: the walk keeps
    /// every such id in memory for the rest of its run, which emits each file once whatever
    /// the count. A walk resumed from a checkpoint (another process, after a crash) knows the
    /// ids held here; a file past them that a later listing reaches again is emitted again,
    /// with the same id and version: the host's fingerprints, committed with the checkpoint,
    /// show it unchanged, so it is neither downloaded nor delivered again (a host without
    /// fingerprints writes the same document twice).
    #[serde(default)]
    pub seen: BTreeSet<String>,
    /// Per shared drive the admin is not a member of: the member it is read as (found in
    /// the drive's permissions), so a resumed walk goes on as the same user.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drive_members: BTreeMap<String, String>,
    /// Per folder the admin cannot see (a configured folder, and the subfolders found in
    /// it): the user of the domain it is read as (the first found who can `files.get` it),
    /// so a resumed walk goes on as the same user.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub folder_readers: BTreeMap<String, String>,
    /// The changes feeds (Drive's `changes.list`), when the walk follows them: per user
    /// (`user:EMAIL`), shared drive (`drive:ID`) and the shared folders' reader (`folders`),
    /// the page token the feed continues from. `None` (the default): no feed, every run finds
    /// its files by `modifiedTime` alone. Start with [`tracking_changes`](Self::tracking_changes)
    /// and carry the tokens from one run to the next with [`next_run`](Self::next_run); see
    /// the connector's docs for what the feed adds to a windowed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<BTreeMap<String, String>>,
    /// The feeds whose token Drive no longer honours in this run: their listings run without
    /// the window (unchanged files skipped by version), since what changed since the token is
    /// unknown.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub relist: BTreeSet<String>,
}

impl GoogleDriveCheckpoint {
    /// The checkpoint of a first run that follows Drive's changes feeds: it takes each
    /// feed's start token before the feed's listings, so the run's last checkpoint holds
    /// where every feed stands (see [`next_run`](Self::next_run)).
    pub fn tracking_changes() -> Self {
        Self {
            changes: Some(BTreeMap::new()),
            ..Self::default()
        }
    }

    /// Where the run after the one that ended here starts: from the beginning, with the
    /// changes feeds' tokens. A windowed run from it reads each feed from its token, and so
    /// delivers the files that moved into its scope, were shared with a user or had their
    /// permissions changed, whatever their `modifiedTime`.
    ///
    /// Core's batch loop keeps it between runs
    /// ([`carry_over`](connector_core::CheckpointedConnector::carry_over)) when the config's
    /// `follow_changes` is on; a host that drives the checkpointed load itself carries it.
    #[must_use]
    pub fn next_run(&self) -> Self {
        Self {
            changes: self.changes.clone(),
            // A shared drive's feed is read as the member its listing is read as.
            drive_members: self.drive_members.clone(),
            ..Self::default()
        }
    }

    /// Moves to the next entity of the stage.
    pub(crate) fn next_entity(&mut self) {
        self.entity += 1;
        self.page_token = None;
    }

    /// Moves to the first entity of `stage`.
    pub(crate) fn enter(&mut self, stage: DriveStage) {
        self.stage = stage;
        self.entity = 0;
        self.page_token = None;
    }
}

/// The position only: the pagination guard hashes it to catch a service that hands back the
/// same page token, without hashing the `seen` set on every page.
impl Hash for GoogleDriveCheckpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.stage.hash(state);
        self.entity.hash(state);
        self.page_token.hash(state);
        self.users.len().hash(state);
        self.drives.len().hash(state);
        self.folders.len().hash(state);
        self.relist.len().hash(state);
    }
}

impl crate::config::FeedCheckpoint for GoogleDriveCheckpoint {
    fn tracking() -> Self {
        Self::tracking_changes()
    }

    fn carried(&self) -> Self {
        self.next_run()
    }
}
