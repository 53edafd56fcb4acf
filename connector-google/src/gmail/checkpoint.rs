//! [`GmailCheckpoint`]: where a Gmail sync resumes.

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
    /// The next page token (of the directory in `users`, of the user's threads in `threads`).
    #[serde(default)]
    pub page_token: Option<String>,
}

impl GmailCheckpoint {
    /// Moves to the first user's threads, the user list being complete.
    pub(crate) fn enter_threads(&mut self) {
        self.stage = GmailStage::Threads;
        self.user = 0;
        self.page_token = None;
    }

    /// Moves to the next user's threads.
    pub(crate) fn next_user(&mut self) {
        self.user += 1;
        self.page_token = None;
    }
}

/// The position; the pagination guard hashes it.
impl Hash for GmailCheckpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.stage.hash(state);
        self.user.hash(state);
        self.page_token.hash(state);
        self.users.len().hash(state);
    }
}
