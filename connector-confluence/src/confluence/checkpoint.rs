//! [`ConfluenceCheckpoint`]: where a search stopped.

use connector_core::TimeWindow;
use serde::{Deserialize, Serialize};

/// Where a Confluence sync resumes: the next search request and the query it belongs to.
///
/// `next` is the path and query of the next search request, relative to the REST base
/// (Cloud's `_links.next`, or the same search with `start` advanced on Server/DC, whose
/// `next` links may skip results when the server lowers `limit`). `query` is a hash of the
/// CQL and window the cursor belongs to: a checkpoint written for another query (the config
/// changed, or another window) starts the search again rather than resuming in the wrong
/// place. After the last page `done` is true and resuming yields nothing.
///
/// ```
/// use connector_confluence::confluence::ConfluenceCheckpoint;
/// let cp = ConfluenceCheckpoint::default();
/// let json = serde_json::to_value(&cp).unwrap();
/// assert_eq!(serde_json::from_value::<ConfluenceCheckpoint>(json).unwrap(), cp);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfluenceCheckpoint {
    /// The next search request (path and query), `None` before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// A hash of the query the cursor belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The window of the sync that wrote it, if incremental.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// Whether the search has ended.
    #[serde(default)]
    pub done: bool,
}

impl ConfluenceCheckpoint {
    /// Where the search `query` over `window` starts from this checkpoint: at `first` when
    /// it was written for another query, at its cursor when it continues this one, nowhere
    /// (`None`) when this search has ended.
    pub(crate) fn start(
        self,
        query: &str,
        window: Option<TimeWindow>,
        first: String,
    ) -> Option<String> {
        if self.query.as_deref() != Some(query) || self.window != window {
            return Some(first);
        }
        if self.done {
            return None;
        }
        Some(self.next.unwrap_or(first))
    }

    /// The checkpoint after a page of the search `query` over `window` whose next page is
    /// `next` (`None` after the last).
    pub(crate) fn after(next: Option<String>, query: &str, window: Option<TimeWindow>) -> Self {
        Self {
            done: next.is_none(),
            next,
            query: Some(query.to_owned()),
            window,
        }
    }
}
