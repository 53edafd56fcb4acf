//! [`JiraCheckpoint`]: where a project's search resumes.

use std::hash::{Hash, Hasher};

use connector_core::TimeWindow;
use connector_core::pages::OffsetWalk;
use serde::{Deserialize, Serialize};

/// Where a sync resumes: the cursor of the next search page (Cloud `nextPageToken`, Server
/// the [`OffsetWalk`] of `startAt` paging), the window and a hash of the JQL it belongs to.
///
/// A cursor only means something for the query that produced it: when the JQL changed (the
/// config, the window), the search starts again from its first page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JiraCheckpoint {
    /// Jira Cloud: the `nextPageToken` of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Server/Data Center: the `startAt` of the next page, as checkpoints before the
    /// [`offset_walk`](Self::offset_walk) stored it (still read; written as 0).
    #[serde(default)]
    pub start_at: u64,
    /// Server/Data Center: where the `startAt` walk is and the last page's issue ids it finds
    /// again, so that issues leaving the result set mid-walk make it step back rather than
    /// skip the issues after them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_walk: Option<OffsetWalk>,
    /// Every page has been delivered.
    #[serde(default)]
    pub done: bool,
    /// The window of the sync the cursor belongs to (`None` for a full load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// `hash128` of the JQL the cursor belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The position of a search page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// The first page.
    Start,
    /// A Cloud page token.
    Token(String),
    /// Where a Server `startAt` walk is.
    Offset(OffsetWalk),
}

// Core's repeated-cursor guard hashes cursors; a walk is hashed by what it serialises to
// (every step changes it: its end, its anchors, or how far back it looks).
impl Hash for Cursor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Start => 0u8.hash(state),
            Self::Token(t) => (1u8, t).hash(state),
            Self::Offset(walk) => {
                2u8.hash(state);
                serde_json::to_string(walk).unwrap_or_default().hash(state);
            }
        }
    }
}

impl JiraCheckpoint {
    /// Where to start for `query` in `window`: the stored cursor if it belongs to them, else
    /// the first page; `None` when that query has been delivered completely.
    pub(crate) fn cursor_for(&self, query: &str, window: Option<TimeWindow>) -> Option<Cursor> {
        if self.query.as_deref() != Some(query) || self.window != window {
            return Some(Cursor::Start);
        }
        if self.done {
            return None;
        }
        Some(match (&self.next_page_token, &self.offset_walk) {
            (Some(token), _) => Cursor::Token(token.clone()),
            (None, Some(walk)) => Cursor::Offset(walk.clone()),
            // A checkpoint from before the walk: its first page is taken as it comes.
            (None, None) if self.start_at > 0 => {
                Cursor::Offset(OffsetWalk::resume_at(self.start_at))
            }
            (None, None) => Cursor::Start,
        })
    }

    /// The checkpoint after a page whose successor is `next`.
    pub(crate) fn after(query: &str, window: Option<TimeWindow>, next: Option<&Cursor>) -> Self {
        let mut cp = Self {
            window,
            query: Some(query.to_owned()),
            ..Self::default()
        };
        match next {
            None => cp.done = true,
            Some(Cursor::Start) => {}
            Some(Cursor::Token(t)) => cp.next_page_token = Some(t.clone()),
            Some(Cursor::Offset(walk)) => cp.offset_walk = Some(walk.clone()),
        }
        cp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_belongs_to_its_query() {
        let walk = OffsetWalk::resume_at(100);
        let cp = JiraCheckpoint::after("q1", None, Some(&Cursor::Offset(walk.clone())));
        assert_eq!(cp.cursor_for("q1", None), Some(Cursor::Offset(walk)));
        assert_eq!(cp.cursor_for("q2", None), Some(Cursor::Start));
        let done = JiraCheckpoint::after("q1", None, None);
        assert_eq!(done.cursor_for("q1", None), None);
        let json = serde_json::to_string(&cp).unwrap();
        assert_eq!(serde_json::from_str::<JiraCheckpoint>(&json).unwrap(), cp);
    }

    #[test]
    fn a_plain_start_at_of_an_older_checkpoint_resumes_there() {
        let old: JiraCheckpoint =
            serde_json::from_str(r#"{"start_at": 200, "done": false, "query": "q1"}"#).unwrap();
        assert_eq!(
            old.cursor_for("q1", None),
            Some(Cursor::Offset(OffsetWalk::resume_at(200)))
        );
    }
}
