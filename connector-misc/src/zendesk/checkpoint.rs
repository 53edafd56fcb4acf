//! [`ZendeskCheckpoint`]: Zendesk's own position in the listing being walked.

use serde::{Deserialize, Serialize};

/// Where a resumed Zendesk sync starts, in Zendesk's own terms.
///
/// - Articles, full load: the list's `after_cursor` (`page[after]`).
/// - Articles, poll: the incremental article export's next `start_time` (its last `end_time`);
///   then, when a user segment was edited in the window, the list's cursor (`relist`).
/// - Tickets: the incremental ticket export's `after_cursor`; `carry` is the cursor the next
///   incremental run starts from (carried over by the engine), so a poll costs one export
///   request when nothing changed (and one each of the organization and user exports,
///   `orgs_from`, `users_from`).
///
/// JSON: `{"cursor": "MTU3NjYxMzUzOS4wfHw0Njd8"}`, `{"start_time": 1617731790}`,
/// `{"done": true, "carry": "MTU3NjYxMzUzOS4wfHw0Njd8"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ZendeskCheckpoint {
    /// The cursor of the next page (article list or ticket export); none: the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The article export's next `start_time` (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// The walk is over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
    /// Tickets: the export cursor the next incremental run starts from: the cursor of the
    /// first page that held a ticket changed at or after this run's window end (so that
    /// ticket is listed again), else the cursor after the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carry: Option<String>,
    /// Tickets: `carry` is fixed, a ticket changed at or after the window's end having been
    /// listed (and left to the next run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// Articles of several brands (`brands`): the id of the brand whose Help Center is
    /// walked; the brands are walked in id order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_id: Option<u64>,
    /// Articles, poll: the export is over and a user segment was edited within the window
    /// (which touches none of its articles), so the article list is walked again from
    /// `cursor`; only articles whose access (version) changed are sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relist: bool,
    /// Tickets, incremental run: the ticket export is over; the organizations the
    /// incremental organization export lists from this `start_time` (epoch seconds) have
    /// their tickets listed again (their sharing may have changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgs_from: Option<i64>,
    /// Tickets, incremental run: the organizations are over; the tickets of the users the
    /// incremental user export lists from this `start_time` (epoch seconds) are listed again
    /// (their e-mail, which grants access, may have changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_from: Option<i64>,
    /// Tickets, incremental run: changed users (ids) of the user export page read whose
    /// tickets are still to be searched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users_pending: Vec<u64>,
    /// Tickets: changed users (ids) past a run's `user_searches_per_run` cap, whose tickets
    /// the next incremental run searches first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users_owed: Vec<u64>,
    /// Tickets: the user export's `start_time` (epoch seconds) the next incremental run
    /// reads changed users from instead of its window's start, the cap having stopped this
    /// run before the export's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_backlog: Option<i64>,
}

impl ZendeskCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from after a run that ended at `self`: the
    /// ticket export's cursor, when there is one, and the changed users still to search.
    pub fn carried(&self) -> Option<Self> {
        let owed = !self.users_owed.is_empty() || self.users_backlog.is_some();
        (self.carry.is_some() || owed).then(|| Self {
            cursor: self.carry.clone(),
            users_owed: self.users_owed.clone(),
            users_backlog: self.users_backlog,
            ..Self::default()
        })
    }
}
