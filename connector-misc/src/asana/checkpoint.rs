//! [`AsanaCheckpoint`]: the projects of the run, the index of the current one and Asana's
//! `offset` token within its task listing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A project of the run, with who may read its tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProjectFrame {
    /// The project gid.
    pub gid: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its `privacy_setting` (`public_to_workspace`, `private_to_team`, `private`).
    #[serde(default)]
    pub privacy: String,
    /// Principals as groups: `asana-workspace:{gid}`, `asana-team:{gid}`,
    /// `asana-project:{gid}`, `asana-user:{gid}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Members' e-mail addresses, where Asana shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
}

/// Where a resumed Asana sync starts.
///
/// The project list is taken once, when the run starts, and kept here (a task in several
/// projects is read under the first of them in this list, so the list must not change within
/// a run); `offset` is Asana's own page token. Asana lets offsets expire: a stale one makes
/// the project's listing start again, and fingerprints skip what was already sent.
///
/// JSON: `{"started": true, "projects": [{"gid": "1201", "name": "Launch", "privacy": "private"}], "index": 0, "offset": "eyJ0eXAiOiJKV1Qi…", "sweep": true}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AsanaCheckpoint {
    /// Whether the project list has been taken.
    #[serde(default)]
    pub started: bool,
    /// The projects of the run, in the order they are read.
    #[serde(default)]
    pub projects: Vec<ProjectFrame>,
    /// The index in `projects` of the project being read (`projects.len()`: done).
    #[serde(default)]
    pub index: usize,
    /// Asana's `next_page.offset` within the current project's tasks; none: its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
    /// An incremental run lists the current project whole (without `modified_since`): who may
    /// read its tasks changed since they were sent, which moves no task's `modified_at`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unwindowed: bool,
    /// An incremental run has listed the current project's window and now lists the project
    /// whole for its tasks that have subtasks (`offset` is then this listing's): Asana does
    /// not move a parent's `modified_at` when a subtask is edited, and the project's listing
    /// shows no subtask.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sweep: bool,
    /// Each project's events sync token (`GET /events?resource={gid}`), carried from run to
    /// run: the events since tell the comments edited or deleted, which move no task's
    /// `modified_at`. Asana forgets a token after 24 hours (or sooner).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, String>,
    /// When a comment of a task (by gid) was last edited or deleted, epoch milliseconds,
    /// carried from run to run: part of the task's version while later than its
    /// `modified_at`, so the task is sent again once and then stays unchanged.
    ///
    /// Bounded: an entry goes once its task is listed modified at or after the edit (the
    /// edit is then no part of its version), and past [`MAX_EDITED`] entries the oldest
    /// edits go (a task so forgotten is sent once more when next listed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub edited: BTreeMap<String, i64>,
    /// Projects (by gid) whose events token Asana had forgotten (412 on a token it gave: the
    /// runs were more than 24 hours apart), with when that was found, epoch milliseconds:
    /// comments of their tasks may have been edited unseen, so that run lists the project
    /// whole and every task of it not modified since takes this time as its last comment
    /// edit (in its version), so each is read again and sent once. Kept for the projects of
    /// the run only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reread: BTreeMap<String, i64>,
}

/// The most comment edits [`AsanaCheckpoint::edited`] keeps.
pub const MAX_EDITED: usize = 10_000;

impl AsanaCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next run starts from after a run that ended at `self`: the events tokens,
    /// the comment edits seen and the projects re-read, nothing of the run's progress.
    pub fn carried(&self) -> Option<Self> {
        (!self.events.is_empty() || !self.edited.is_empty() || !self.reread.is_empty()).then(|| {
            Self {
                events: self.events.clone(),
                edited: self.edited.clone(),
                reread: self.reread.clone(),
                ..Self::default()
            }
        })
    }
}
