//! [`RssCheckpoint`]: the validators (`ETag`, `Last-Modified`) of each feed, and the feed being
//! read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a feed's last full read left: the validators its answer carried, for the next
/// conditional GET. Both `None` (a server that sends neither, or a read with a failed entry
/// that must be read again) still records that the feed was read to its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeedState {
    /// The `ETag` header, sent back as `If-None-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` header, sent back as `If-Modified-Since` exactly as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl FeedState {
    /// Whether there is a validator to send.
    pub fn has_validators(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

/// The feed being read and the last entry handed on from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeedCursor {
    /// The feed's URL.
    pub feed: String,
    /// The id of the last entry handed on; a resumed run reads the feed again and goes on
    /// after it (from the top when it is no longer in the feed).
    pub after: String,
    /// Whether an entry of this feed failed before `after`: the feed then ends this run
    /// without validators, so that the next run reads it again rather than get a 304.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub entry_failed: bool,
}

/// Where a resumed RSS sync starts: the feeds finished in this run (with the validators
/// their answers carried), those that failed in it, the feed being read with its last entry
/// handed on, and the validators of the last finished run, which this run's requests send.
///
/// The validators a finished run ends with are carried to the next incremental run
/// ([`carry_over`](connector_core::CheckpointedConnector::carry_over)), so a feed that has not
/// changed answers `304 Not Modified` and costs no parse.
///
/// JSON: `{"done": {"https://a.example/feed.xml": {"etag": "\"5f3a\""}}, "failed":
/// ["https://b.example/rss"], "current": {"feed": "https://c.example/atom", "after":
/// "rss:https://c.example/atom#tag:c.example,2024:1"}, "since": {…}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RssCheckpoint {
    /// Feeds read to their end in this run, with their validators.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub done: BTreeMap<String, FeedState>,
    /// Feeds that failed in this run (reported once; a resumed run does not read them again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// The feed being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<FeedCursor>,
    /// The validators the last finished run ended with, by feed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, FeedState>,
}

impl RssCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the validators this run ended with, and
    /// for a feed it did not read to its end (failed), the ones it started from.
    pub(crate) fn carried(&self) -> Option<Self> {
        let mut since = self.since.clone();
        since.extend(self.done.clone());
        (!since.is_empty()).then(|| Self {
            since,
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_keeps_new_validators_and_old_ones_of_failed_feeds() {
        let state = |e: &str| FeedState {
            etag: Some(e.to_owned()),
            last_modified: None,
        };
        let cp = RssCheckpoint {
            done: BTreeMap::from([("a".to_owned(), state("new"))]),
            failed: vec!["b".to_owned()],
            current: None,
            since: BTreeMap::from([
                ("a".to_owned(), state("old")),
                ("b".to_owned(), state("b-old")),
            ]),
        };
        let carried = cp.carried().unwrap_or_default();
        assert_eq!(carried.since["a"], state("new"));
        assert_eq!(carried.since["b"], state("b-old"));
        assert!(carried.done.is_empty() && carried.failed.is_empty());
        assert_eq!(RssCheckpoint::start().carried(), None);
    }
}
