//! [`ImapCheckpoint`]: a mailbox, its UIDVALIDITY and the last UID done, plus where each
//! mailbox's next incremental run starts (its UIDNEXT).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where an incremental run starts in one mailbox: the first UID it has not seen, while the
/// mailbox keeps UIDVALIDITY `uid_validity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MailboxMark {
    /// The mailbox's UIDVALIDITY when `uid_next` was taken.
    pub uid_validity: u32,
    /// Its UIDNEXT when it was opened (before anything was listed): every message with this UID
    /// or a higher one arrived after that run looked.
    pub uid_next: u32,
}

/// Where a resumed IMAP sync starts: in `mailbox` (one of the mailboxes read, in their order),
/// after UID `after_uid`, if the mailbox still has UIDVALIDITY `uid_validity`; and, per
/// mailbox, the UIDNEXT an incremental run starts from (`marks`).
///
/// UIDs, never sequence numbers (which shift when anything is expunged): a UID is never
/// reused while a mailbox keeps its UIDVALIDITY, and a message that reaches a mailbox gets a
/// higher UID than any before it, whatever its date says (`COPY`, `MOVE`, a Gmail label and
/// `APPEND` keep or set an old `INTERNALDATE`). So an incremental run reads `UID n:*` of each
/// mailbox, `n` its UIDNEXT when the last run opened it, and finds every arrival. When the
/// server reports another UIDVALIDITY (the mailbox was recreated or the server rebuilt its
/// index), the old UIDs mean nothing: that mailbox is read again from its first message (the
/// fingerprint skip keeps that to a listing).
///
/// JSON: `{"mailbox": "INBOX", "uid_validity": 1700000000, "after_uid": 40, "start": {},
/// "next": {"INBOX": {"uid_validity": 1700000000, "uid_next": 57}}, "carried": false}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImapCheckpoint {
    /// The mailbox being read, `None` before the first.
    pub mailbox: Option<String>,
    /// Its UIDVALIDITY when `after_uid` was done.
    pub uid_validity: Option<u32>,
    /// The last UID done in it (0: none).
    pub after_uid: u32,
    /// Per mailbox, where this run starts: the marks the last run left (empty for a run that
    /// continues none).
    #[serde(default)]
    pub start: BTreeMap<String, MailboxMark>,
    /// Per mailbox, where the next incremental run starts: set when this run opens the
    /// mailbox, before it lists anything.
    #[serde(default)]
    pub next: BTreeMap<String, MailboxMark>,
    /// Whether this run continues an earlier one (the checkpoint was carried over): then a
    /// mailbox with a mark in `start` is read from it, without dates, and one without (newly
    /// configured, or its UIDVALIDITY changed) is read in full. Otherwise a window given to
    /// the run picks mail by `INTERNALDATE`.
    #[serde(default)]
    pub carried: bool,
}

impl ImapCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// The checkpoint after UID `after_uid` of `mailbox` with UIDVALIDITY `uid_validity`.
    pub fn after(mailbox: impl Into<String>, uid_validity: u32, after_uid: u32) -> Self {
        Self {
            mailbox: Some(mailbox.into()),
            uid_validity: Some(uid_validity),
            after_uid,
            ..Self::default()
        }
    }

    /// What the next incremental run starts from: no progress, this run's marks.
    pub(crate) fn carried_over(&self) -> Self {
        Self {
            start: self.next.clone(),
            carried: true,
            ..Self::default()
        }
    }
}
