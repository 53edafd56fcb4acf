//! [`ConfluenceCheckpoint`]: where a search stopped.

use connector_core::TimeWindow;
use connector_core::pages::OffsetWalk;
use serde::{Deserialize, Serialize};

use super::client::Cursor;

/// Where a Confluence sync resumes: the next search request and the query it belongs to.
///
/// `next` is the path and query of the next search request, relative to the REST base
/// (Cloud's `_links.next`, or on Server/Data Center the same search, whose `start` comes from
/// `walk`: core's [`OffsetWalk`], where the offset paging ended and the ids of the last page,
/// to find them again when earlier results left the set meanwhile). A Server/Data Center
/// checkpoint written before `walk` existed resumes at its `start` as it is. `query` is a hash
/// of the CQL and window the cursor belongs to: a checkpoint written for another query (the config
/// changed, or another window) starts the search again rather than resuming in the wrong
/// place. An incremental run has a second pass, the search for comments and attachments
/// changed in the window (`touched`), whose pages are delivered again; `next` is then that
/// search's cursor (`None`: its start). After the last page `done` is true and resuming
/// yields nothing.
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
    /// Server/Data Center: the offset walk `next` belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk: Option<OffsetWalk>,
    /// A hash of the query the cursor belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The window of the sync that wrote it, if incremental.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// Whether the search has ended.
    #[serde(default)]
    pub done: bool,
    /// Whether the run is in its second pass: the pages whose comments or attachments
    /// changed in the window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub touched: bool,
}

/// Where a load picks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resume {
    /// The page search, at this request.
    Pages(Cursor),
    /// The search for changed comments and attachments, at this request (`None`: its
    /// first).
    Touched(Option<Cursor>),
    /// Nothing is left.
    Done,
}

impl ConfluenceCheckpoint {
    /// Where the search `query` over `window` resumes from this checkpoint: at `first` when
    /// it was written for another query, at its cursor when it continues this one, nowhere
    /// when this run has ended.
    pub(crate) fn resume(self, query: &str, window: Option<TimeWindow>, first: String) -> Resume {
        let start = |path| Cursor { path, walk: None };
        if self.query.as_deref() != Some(query) || self.window != window {
            return Resume::Pages(start(first));
        }
        let walk = self.walk;
        let at = |path| Cursor { path, walk };
        if self.done {
            Resume::Done
        } else if self.touched {
            Resume::Touched(self.next.map(at))
        } else {
            match self.next {
                Some(next) => Resume::Pages(at(next)),
                None => Resume::Pages(start(first)),
            }
        }
    }

    /// The checkpoint after a page of the page search `query` over `window` whose next page
    /// is `next` (`None` after the last: then the run ends, or an incremental run goes on
    /// with its second pass).
    pub(crate) fn after(next: Option<Cursor>, query: &str, window: Option<TimeWindow>) -> Self {
        let last = next.is_none();
        let (next, walk) = next.map_or((None, None), |c| (Some(c.path), c.walk));
        Self {
            done: last && window.is_none(),
            touched: last && window.is_some(),
            next,
            walk,
            query: Some(query.to_owned()),
            window,
        }
    }

    /// The checkpoint after a page of the second pass whose next page is `next`.
    pub(crate) fn after_touched(
        next: Option<Cursor>,
        query: &str,
        window: Option<TimeWindow>,
    ) -> Self {
        let done = next.is_none();
        let (next, walk) = next.map_or((None, None), |c| (Some(c.path), c.walk));
        Self {
            done,
            touched: true,
            next,
            walk,
            query: Some(query.to_owned()),
            window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn an_incremental_run_goes_on_with_its_second_pass() {
        let (Some(a), Some(b)) = (
            Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single(),
            Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).single(),
        ) else {
            panic!("dates")
        };
        let w = Some(TimeWindow { start: a, end: b });
        let first = || "/first".to_owned();
        let at = |p: &str| Cursor {
            path: p.to_owned(),
            walk: None,
        };
        let mid = ConfluenceCheckpoint::after(Some(at("/p2")), "q", w);
        assert_eq!(mid.resume("q", w, first()), Resume::Pages(at("/p2")));
        let last = ConfluenceCheckpoint::after(None, "q", w);
        assert_eq!(last.resume("q", w, first()), Resume::Touched(None));
        let touched = ConfluenceCheckpoint::after_touched(Some(at("/t2")), "q", w);
        assert_eq!(
            touched.clone().resume("q", w, first()),
            Resume::Touched(Some(at("/t2")))
        );
        let done = ConfluenceCheckpoint::after_touched(None, "q", w);
        assert_eq!(done.resume("q", w, first()), Resume::Done);
        // A full run has no second pass; another query starts over.
        assert_eq!(
            ConfluenceCheckpoint::after(None, "q", None).resume("q", None, first()),
            Resume::Done
        );
        assert_eq!(
            touched.resume("other", w, first()),
            Resume::Pages(at(&first()))
        );
        // A walk goes into the checkpoint and comes back out.
        let walked = Cursor {
            path: "/p3?start=100".into(),
            walk: Some(OffsetWalk::resume_at(100)),
        };
        let cp = ConfluenceCheckpoint::after(Some(walked.clone()), "q", None);
        let json = serde_json::to_value(&cp).unwrap_or_else(|e| panic!("{e}"));
        let back: ConfluenceCheckpoint =
            serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.resume("q", None, first()), Resume::Pages(walked));
        // Checkpoints written before the second pass existed still read.
        let old: ConfluenceCheckpoint =
            serde_json::from_str(r#"{"next":"/p2","query":"q","done":false}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.resume("q", None, first()), Resume::Pages(at("/p2")));
    }
}
