//! [`AirtableCheckpoint`]: Airtable's own `offset`, with the time it was handed out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a resumed Airtable sync starts: the `offset` of the next page of the listing, and
/// when Airtable handed it out.
///
/// Airtable's `offset` (`itr…/rec…`) names a server-side iterator that "may timeout due to
/// client inactivity or server restarts" (422 `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`; Airtable
/// states no lifetime). A resume therefore follows an offset only while it is younger than
/// [`OFFSET_TRUST`](super::OFFSET_TRUST), and restarts the listing from the beginning when
/// it is older or Airtable refuses it: the records already delivered come again with the
/// same version and the fingerprint lookup reports them unchanged (no attachment is
/// downloaded twice), so nothing is lost and little is repeated. Offsets are never taken as
/// positions: a record count into a table that changed would skip records.
///
/// JSON: `{"offset": "itrSJ1l4jlPyxEG6c/rec0A1b2C3d4E5f6G", "offset_at":
/// "2026-03-01T10:00:00Z", "started": true}`; `{"started": true}` once the listing is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AirtableCheckpoint {
    /// Airtable's offset of the next page; none before the first page and after the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
    /// When Airtable handed `offset` out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_at: Option<DateTime<Utc>>,
    /// Whether the listing has begun (no offset then means it is done).
    #[serde(default)]
    pub started: bool,
}

impl AirtableCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// Whether the listing is over.
    pub fn is_done(&self) -> bool {
        self.started && self.offset.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_read_back() {
        let cp = AirtableCheckpoint {
            offset: Some("itrSJ1l4jlPyxEG6c/rec0A1b2C3d4E5f6G".to_owned()),
            offset_at: Some(DateTime::<Utc>::MIN_UTC),
            started: true,
        };
        let json = serde_json::to_string(&cp).unwrap_or_else(|e| panic!("{e}"));
        let back: AirtableCheckpoint =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, cp);
        let done: AirtableCheckpoint = serde_json::from_value(serde_json::json!({"started": true}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(done.is_done() && !AirtableCheckpoint::start().is_done());
    }
}
