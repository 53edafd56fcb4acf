//! [`S3Checkpoint`]: where a listing resumes.

use serde::{Deserialize, Serialize};

/// Where a sync of a bucket resumes: the continuation token of the next listing page and the
/// last key handed on.
///
/// After a whole listing page, `continuation_token` is the page's `NextContinuationToken` and
/// `start_after` its last key. When a page is handed on in parts (its documents passed 32 MiB),
/// the checkpoint after a part has no token and `start_after` is the last key of that part. A
/// resume lists with the token when there is one (falling back to `start_after` if the store
/// no longer accepts it, as tokens may expire), else with `start-after`, so a run killed
/// mid-bucket goes on after the last acknowledged key. Keys are listed in UTF-8 binary order,
/// so `start-after` skips exactly what was handed on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct S3Checkpoint {
    /// `NextContinuationToken` of the page to list next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    /// The last key handed on; listing resumes after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    /// The listing reached its end: resuming yields nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

impl S3Checkpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// Resume after `key`.
    pub fn after(key: impl Into<String>) -> Self {
        Self {
            continuation_token: None,
            start_after: Some(key.into()),
            done: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        for cp in [
            S3Checkpoint::start(),
            S3Checkpoint::after("a/b.md"),
            S3Checkpoint {
                continuation_token: Some("tok==".into()),
                start_after: Some("k".into()),
                done: false,
            },
            S3Checkpoint {
                continuation_token: None,
                start_after: Some("z".into()),
                done: true,
            },
        ] {
            let json = serde_json::to_string(&cp).unwrap();
            assert_eq!(serde_json::from_str::<S3Checkpoint>(&json).unwrap(), cp);
        }
        assert_eq!(serde_json::to_string(&S3Checkpoint::start()).unwrap(), "{}");
    }
}
