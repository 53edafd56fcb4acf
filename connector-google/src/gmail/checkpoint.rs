//! [`GmailCheckpoint`]: where a Gmail sync resumes.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// The stages of a Gmail sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GmailStage {
    /// Listing the users from the directory.
    #[default]
    Users,
    /// Each user's threads.
    Threads,
    /// Finished.
    Done,
}

/// Where a Gmail sync resumes: the user list, the current user and its next
/// `threads.list` page token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GmailCheckpoint {
    /// The current stage.
    pub stage: GmailStage,
    /// The mailboxes (e-mail addresses).
    #[serde(default)]
    pub users: Vec<String>,
    /// The index of the current user.
    #[serde(default)]
    pub user: usize,
    /// The next page token (of the directory in `users`, of the user's history or threads in
    /// `threads`).
    #[serde(default)]
    pub page_token: Option<String>,
    /// The history feeds (`users.history.list`), when the walk follows them: per mailbox, the
    /// history id its feed continues from. `None` (the default): no feed, every run finds
    /// its threads by date alone. Start with [`tracking_history`](Self::tracking_history)
    /// and carry the ids from one run to the next with [`next_run`](Self::next_run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<BTreeMap<String, String>>,
    /// Whether the current mailbox's history is read, so its threads are listed next.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history_read: bool,
    /// The mailboxes whose history id Gmail no longer honours in this run (404: history is
    /// kept for about a week): their threads are listed without the window.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub relist: BTreeSet<String>,
}

impl GmailCheckpoint {
    /// The checkpoint of a first run that follows each mailbox's history: it takes the
    /// mailbox's history id before listing its threads, so the run's last checkpoint holds
    /// where every feed stands (see [`next_run`](Self::next_run)).
    pub fn tracking_history() -> Self {
        Self {
            history: Some(BTreeMap::new()),
            ..Self::default()
        }
    }

    /// Where the run after the one that ended here starts: from the beginning, with the
    /// history ids. A windowed run from it reads each mailbox's history first and delivers
    /// the threads it touched whose last message is before the window (a label added or
    /// removed, a message imported with an old date, a thread back from spam or trash; the
    /// listing delivers the others).
    ///
    /// Core's batch loop keeps it between runs
    /// ([`carry_over`](connector_core::CheckpointedConnector::carry_over)) when the config's
    /// `follow_changes` is on; a host that drives the checkpointed load itself carries it.
    #[must_use]
    pub fn next_run(&self) -> Self {
        Self {
            history: self.history.clone(),
            ..Self::default()
        }
    }

    /// Moves to the first user's threads, the user list being complete.
    pub(crate) fn enter_threads(&mut self) {
        self.stage = GmailStage::Threads;
        self.user = 0;
        self.page_token = None;
        self.history_read = false;
    }

    /// Moves to the next user's threads.
    pub(crate) fn next_user(&mut self) {
        self.user += 1;
        self.page_token = None;
        self.history_read = false;
    }

    /// Moves from the current mailbox's history to its threads.
    pub(crate) fn history_done(&mut self) {
        self.history_read = true;
        self.page_token = None;
    }
}

/// The position; the pagination guard hashes it.
impl Hash for GmailCheckpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.stage.hash(state);
        self.user.hash(state);
        self.page_token.hash(state);
        self.history_read.hash(state);
        self.users.len().hash(state);
    }
}

impl crate::config::FeedCheckpoint for GmailCheckpoint {
    fn tracking() -> Self {
        Self::tracking_history()
    }

    fn carried(&self) -> Self {
        self.next_run()
    }
}
