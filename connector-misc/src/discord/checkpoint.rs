//! [`DiscordCheckpoint`]: the servers and channels done, and a snowflake within the current
//! channel.

use serde::{Deserialize, Serialize};

/// What part of a channel is being read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// The channel's own messages, bucket by bucket.
    #[default]
    Messages,
    /// Its threads, by id.
    Threads,
}

/// Where a resumed read of one channel starts.
///
/// Both positions are snowflakes, which are keys, not offsets: messages are read with
/// `after`, so nothing posted meanwhile shifts into the part already read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelCursor {
    /// The channel id.
    pub channel: String,
    /// The part being read.
    #[serde(default)]
    pub stage: Stage,
    /// Messages: the `after` snowflake the next bucket is read from (the last id before it:
    /// every bucket up to it was handed on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Threads: the id of the last thread handed on (threads go in id order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_after: Option<String>,
}

/// Where a resumed read of one server starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GuildCursor {
    /// The server id.
    pub guild: String,
    /// Channels of the server read to the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels_done: Vec<String>,
    /// The channel being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<ChannelCursor>,
}

/// Where a resumed Discord sync starts.
///
/// JSON: `{"guilds_done": ["111"], "current": {"guild": "222", "channels_done": ["333"],
/// "current": {"channel": "444", "stage": "messages", "after": "1325472000000000000"}}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiscordCheckpoint {
    /// Servers read to the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guilds_done: Vec<String>,
    /// The server being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<GuildCursor>,
}

impl DiscordCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
