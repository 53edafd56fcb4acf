//! [`GoogleDriveCheckpoint`]: where a Drive sync resumes.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
/// resumed sync walks exactly the same entities in the same order. `seen` holds the ids of the
/// files already emitted when a later stage can reach a file again (files shared with me,
/// folder crawls), so a file reachable through several paths is emitted once, across resumes
/// too. `completed_until` records, per finished entity, the end of the window it was synced
/// to (`None` for a full load).
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
    /// File ids already emitted, where a later stage could reach them again.
    #[serde(default)]
    pub seen: BTreeSet<String>,
}

impl GoogleDriveCheckpoint {
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
    }
}
