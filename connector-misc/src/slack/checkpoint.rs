//! [`SlackCheckpoint`]: the channels done, and Slack's own cursor within the current one.

use serde::{Deserialize, Serialize};

/// Where a resumed read of one channel starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelCursor {
    /// The channel id (`C012AB3CD`).
    pub channel: String,
    /// `conversations.history`'s `next_cursor` after the last page handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Where a resumed Slack sync starts.
///
/// JSON: `{"channels_done": ["C012AB3CD"], "current": {"channel": "C061EG9SL",
/// "cursor": "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"}}`. The cursor is Slack's (it names the
/// next message by its `ts`), so messages posted meanwhile shift nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SlackCheckpoint {
    /// Channel ids read to the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels_done: Vec<String>,
    /// The channel being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<ChannelCursor>,
    /// Whether the failures of the channel selection (a named channel that is missing, or
    /// that the bot is not in) were handed on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub selection_reported: bool,
}

impl SlackCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
