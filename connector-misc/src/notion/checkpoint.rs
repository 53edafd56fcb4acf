//! [`NotionCheckpoint`]: Notion's own search cursor, then the pages still to walk to.

use serde::{Deserialize, Serialize};

/// Where a resumed Notion sync starts: the `next_cursor` of the last search page done (the
/// search runs in the same order on resume: oldest edit first for a full run, newest first
/// for a window), then, once the search is over, the pages found below the pages read that
/// the search did not list (Notion's search is neither exhaustive nor immediate), still to
/// read.
///
/// JSON: `{"cursor": "fe2cc560-036c-44cd-90e8-294d5a74cebc", "started": true}`, later
/// `{"started": true, "pending": ["e0e0e0e0111142228333944444444444"]}`.
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
    /// The last page handed on from the search page at `cursor`, when that page was handed
    /// on in parts (its documents held more than 32 MiB): a resume skips it and those before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Pages (compact ids) below pages read that the search did not list, to read after it,
    /// a stack: each one read adds its own child pages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

impl NotionCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// Whether the search is over (the walk to unlisted pages may not be).
    pub fn searched(&self) -> bool {
        self.started && self.cursor.is_none()
    }

    /// Whether the search and the walk are done.
    pub fn is_done(&self) -> bool {
        self.searched() && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_written_before_the_walk_still_reads() {
        let old: NotionCheckpoint =
            serde_json::from_value(serde_json::json!({"cursor": "s-2", "started": true}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.cursor.as_deref(), Some("s-2"));
        assert!(old.pending.is_empty() && !old.searched());
        let walking = NotionCheckpoint {
            cursor: None,
            started: true,
            after: None,
            pending: vec!["e0e0e0e0111142228333944444444444".to_owned()],
        };
        assert!(walking.searched() && !walking.is_done());
        let json = serde_json::to_value(&walking).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json,
            serde_json::json!({"started": true, "pending": ["e0e0e0e0111142228333944444444444"]})
        );
    }
}
