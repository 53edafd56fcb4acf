//! [`JiraCheckpoint`]: where a project's search resumes.

use connector_core::TimeWindow;
use serde::{Deserialize, Serialize};

/// Where a sync resumes: the cursor of the next search page (Cloud `nextPageToken`, Server
/// `startAt`), the window and a hash of the JQL it belongs to.
///
/// A cursor only means something for the query that produced it: when the JQL changed (the
/// config, the window), the search starts again from its first page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JiraCheckpoint {
    /// Jira Cloud: the `nextPageToken` of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Server/Data Center: the `startAt` of the next page.
    #[serde(default)]
    pub start_at: u64,
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Cursor {
    /// The first page.
    Start,
    /// A Cloud page token.
    Token(String),
    /// A Server offset.
    StartAt(u64),
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
        Some(match &self.next_page_token {
            Some(token) => Cursor::Token(token.clone()),
            None if self.start_at > 0 => Cursor::StartAt(self.start_at),
            None => Cursor::Start,
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
            Some(Cursor::StartAt(n)) => cp.start_at = *n,
        }
        cp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_belongs_to_its_query() {
        let cp = JiraCheckpoint::after("q1", None, Some(&Cursor::StartAt(100)));
        assert_eq!(cp.cursor_for("q1", None), Some(Cursor::StartAt(100)));
        assert_eq!(cp.cursor_for("q2", None), Some(Cursor::Start));
        let done = JiraCheckpoint::after("q1", None, None);
        assert_eq!(done.cursor_for("q1", None), None);
        let json = serde_json::to_string(&cp).unwrap();
        assert_eq!(serde_json::from_str::<JiraCheckpoint>(&json).unwrap(), cp);
    }
}
