//! [`TeamsCheckpoint`]: Graph's own delta links and the threads watched for replies, per
//! channel.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the link of a [`ChannelCursor`] lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Every root message of the channel (`GET …/messages`, all of its history); in a
    /// windowed run only threads with a time in the window are taken.
    #[default]
    Listing,
    /// The changes since the delta link the last finished run ended on, then the watched
    /// threads' replies: every changed thread is taken, whatever the window.
    Changes,
    /// Every root message again, because Graph answered `410 Gone` to a delta link or the
    /// channel is new while others carry their links: every thread is taken (unchanged ones
    /// are reported unchanged by their version).
    Relisting,
}

/// Where a channel's next run starts: the `@odata.deltaLink` of the channel's message delta,
/// and the threads active within `reply_lookback_days` (root message id → the epoch
/// milliseconds of the thread's latest activity) whose replies the next run asks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelState {
    /// The delta link.
    pub delta: String,
    /// Threads watched for new replies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recent: BTreeMap<String, i64>,
    /// A hash of who could read the channel when the delta link was taken: an incremental
    /// run that finds other members lists the channel again, so that every thread takes them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access: String,
}

/// The channel being read and the link of its next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelCursor {
    /// `{team id}/{channel id}`.
    pub channel: String,
    /// The page to read next (a `@odata.nextLink`, or the listing's first URL).
    pub next: String,
    /// What the link lists.
    #[serde(default)]
    pub phase: Phase,
    /// For a listing: the delta link taken before it started, where the next run's changes
    /// start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// The threads seen so far that stay watched for replies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recent: BTreeMap<String, i64>,
}

/// Where a resumed Teams sync starts: the channels finished in this run (with the delta link
/// each ended on), the channel being read and its next page, and the links of the last
/// finished run this run's channels start from.
///
/// JSON: `{"done": {"{team}/{channel}": {"delta": "https://graph…/messages/delta?$deltatoken=…",
/// "recent": {"1700000000000": 1700000000000}}}, "current": {"channel": "…", "next": "…",
/// "phase": "listing"}, "since": {…}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TeamsCheckpoint {
    /// Channels finished in this run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub done: BTreeMap<String, ChannelState>,
    /// The channel being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<ChannelCursor>,
    /// The states the last finished run ended on, by channel: this run starts there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, ChannelState>,
}

impl TeamsCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the states this one ended on (and, for a
    /// channel it did not finish, the one it started from).
    pub(crate) fn carried(&self) -> Option<Self> {
        crate::graph::carried(&self.since, &self.done).map(|since| Self {
            since,
            ..Self::default()
        })
    }
}
