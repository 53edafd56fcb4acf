//! [`AzureBlobCheckpoint`]: where a listing resumes.

use serde::{Deserialize, Serialize};

/// Where a sync of a container resumes: the List Blobs marker of the page to list next and,
/// when a page was handed on in parts, the last blob of that page already handed on.
///
/// After a whole page, `marker` is the page's `NextMarker`. A page whose documents pass
/// 32 MiB is handed on in parts; the checkpoint after a part keeps the marker *of that page*
/// and names its last blob in `after`, and a resume lists that page again and drops the blobs
/// up to and including the one named `after`, found by identity
/// ([`skip_handed_on`](connector_core::pages::skip_handed_on)): the listing of an account with
/// a hierarchical namespace is depth-first, not in byte order, so no name comparison would
/// do. When that blob is gone since, the page is handed on whole again (its fingerprints make
/// that cost lookups, not downloads). A run killed mid-container so goes on after the last
/// acknowledged blob, never from the start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AzureBlobCheckpoint {
    /// The marker of the page to list (`NextMarker` of the page before); none for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// The last blob handed on within the page at `marker`; the resume skips up to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The listing reached its end: resuming yields nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

impl AzureBlobCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        for cp in [
            AzureBlobCheckpoint::start(),
            AzureBlobCheckpoint {
                marker: Some("2!72!MDAwMDA3".into()),
                after: Some("docs/b.md".into()),
                done: false,
            },
            AzureBlobCheckpoint {
                marker: None,
                after: None,
                done: true,
            },
        ] {
            let json = serde_json::to_string(&cp).unwrap();
            assert_eq!(
                serde_json::from_str::<AzureBlobCheckpoint>(&json).unwrap(),
                cp
            );
        }
        assert_eq!(
            serde_json::to_string(&AzureBlobCheckpoint::start()).unwrap(),
            "{}"
        );
    }
}
