//! [`NotionCheckpoint`]: Notion's own search cursor.

use serde::{Deserialize, Serialize};

/// Where a resumed Notion sync starts: the `next_cursor` of the last search page done (the
/// search runs in the same order on resume: oldest edit first for a full run, newest first
/// for a window).
///
/// JSON: `{"cursor": "fe2cc560-036c-44cd-90e8-294d5a74cebc", "started": true}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NotionCheckpoint {
    /// Notion's cursor of the next search page; none before the first page and after the
    /// last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Whether the search has begun (no cursor then means it is done).
    #[serde(default)]
    pub started: bool,
}

impl NotionCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// Whether the search is done.
    pub fn is_done(&self) -> bool {
        self.started && self.cursor.is_none()
    }
}
