//! [`ImapCheckpoint`]: a mailbox, its UIDVALIDITY and the last UID done.

use serde::{Deserialize, Serialize};

/// Where a resumed IMAP sync starts: in `mailbox` (one of `imap_mailbox`, read in their
/// order), after UID `after_uid`, if the mailbox still has UIDVALIDITY `uid_validity`.
///
/// UIDs, never sequence numbers (which shift when anything is expunged): a UID is never
/// reused while a mailbox keeps its UIDVALIDITY, and new mail gets higher UIDs, so "after
/// UID n" names exactly the messages still to read. When the server reports another
/// UIDVALIDITY (the mailbox was recreated or the server rebuilt its index), the old UIDs mean
/// nothing: that mailbox is read again from its first message.
///
/// JSON: `{"mailbox": "INBOX", "uid_validity": 1700000000, "after_uid": 40}`, or
/// `{"mailbox": null, "uid_validity": null, "after_uid": 0}` for a sync that has not started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImapCheckpoint {
    /// The mailbox being read, `None` before the first.
    pub mailbox: Option<String>,
    /// Its UIDVALIDITY when `after_uid` was done.
    pub uid_validity: Option<u32>,
    /// The last UID done in it (0: none).
    pub after_uid: u32,
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
        }
    }
}
