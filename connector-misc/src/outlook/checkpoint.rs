//! [`OutlookCheckpoint`]: Graph's own delta links, per mail folder.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the link of a [`FolderCursor`] lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// A whole folder, from its first delta page; in a windowed run only messages whose
    /// `lastModifiedDateTime` is in the window are taken.
    #[default]
    Listing,
    /// The changes since the delta link the last finished run ended on: every changed message
    /// is taken, whatever the window.
    Changes,
    /// A whole folder again because Graph answered `410 Gone` to a delta link, or a folder no
    /// earlier run finished while others carry their links: every message is taken
    /// (unchanged ones cost no attachment request).
    Relisting,
}

/// The folder being read and the link of its next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FolderCursor {
    /// The folder's key: `{user object id}/{folder id}`.
    pub folder: String,
    /// The page to read next (a `@odata.nextLink`, or the round's first URL).
    pub next: String,
    /// What the link lists.
    #[serde(default)]
    pub phase: Phase,
}

/// Where a resumed Outlook sync starts: the folders finished in this run (with the
/// `@odata.deltaLink` each round ended on), the folder being read and its next page, and the
/// delta links of the last finished run that this run's rounds start from. Folders are keyed
/// `{user object id}/{folder id}`.
///
/// JSON: `{"done": {"u1/AAMk…": "https://graph…/messages/delta?$deltatoken=…"}, "current":
/// {"folder": "u1/AAMk…", "next": "https://graph…?$skiptoken=…", "phase": "listing"},
/// "since": {…}, "paths": {"u1/AAMk…": "Inbox/Projects"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutlookCheckpoint {
    /// Folders finished in this run, with the delta link their round ended on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub done: BTreeMap<String, String>,
    /// The folder being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<FolderCursor>,
    /// The delta links the last finished run ended on, by folder: this run's rounds start
    /// there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, String>,
    /// Each folder's path by display name (`Inbox/Projects`) when its link in `done` or
    /// `since` was taken: a folder found under another path (it, or a folder above it, was
    /// renamed) is listed whole again, so its messages' `folder` shows the new one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub paths: BTreeMap<String, String>,
}

impl OutlookCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the delta links this one ended on (and,
    /// for a folder it did not finish, the one it started from).
    pub(crate) fn carried(&self) -> Option<Self> {
        crate::graph::carried(&self.since, &self.done).map(|since| Self {
            paths: self
                .paths
                .iter()
                .filter(|(key, _)| since.contains_key(*key))
                .map(|(key, path)| (key.clone(), path.clone()))
                .collect(),
            since,
            ..Self::default()
        })
    }
}

/// The checkpoint key of folder `folder` of user `user`.
pub(crate) fn folder_key(user: &str, folder: &str) -> String {
    format!("{user}/{folder}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_finished_run_carries_its_links_and_round_trips() {
        let mut cp = OutlookCheckpoint::start();
        assert_eq!(cp.carried(), None);
        cp.since.insert(folder_key("u1", "f1"), "old-1".into());
        cp.since.insert(folder_key("u1", "f2"), "old-2".into());
        cp.done.insert(folder_key("u1", "f1"), "new-1".into());
        cp.current = Some(FolderCursor {
            folder: folder_key("u1", "f2"),
            next: "next".into(),
            phase: Phase::Changes,
        });
        let json = serde_json::to_value(&cp).unwrap();
        assert_eq!(json["current"]["phase"], "changes");
        let back: OutlookCheckpoint = serde_json::from_value(json).unwrap();
        assert_eq!(back, cp);
        let carried = cp.carried().unwrap();
        assert_eq!(carried.since["u1/f1"], "new-1");
        assert_eq!(carried.since["u1/f2"], "old-2");
        assert!(carried.done.is_empty() && carried.current.is_none());
    }
}
