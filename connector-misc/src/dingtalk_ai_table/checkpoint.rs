//! [`DingtalkAiTableCheckpoint`]: the sheet being read and DingTalk's own `nextToken` in it.

use serde::{Deserialize, Serialize};

/// Where a resumed sync starts: the sheet (by id) being read and the `nextToken` of its next
/// page, as DingTalk handed it out.
///
/// Sheets are read in the order GetAllSheets lists them; a resume finds its sheet by id, so a
/// sheet added or removed meanwhile shifts nothing (a sheet that is gone restarts the listing
/// from the first sheet: what was delivered comes again unchanged by fingerprint). A
/// `nextToken` DingTalk no longer accepts restarts that sheet.
///
/// JSON: `{"sheet": "sheet_1", "next_token": "Mg==", "done": false}`; `{"done": true}` once
/// every sheet is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DingtalkAiTableCheckpoint {
    /// The id of the sheet to read next (or being read); none before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// DingTalk's `nextToken` of the sheet's next page; none at its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Whether every sheet is read.
    #[serde(default)]
    pub done: bool,
}

impl DingtalkAiTableCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// The checkpoint of a finished listing.
    pub fn finished() -> Self {
        Self {
            done: true,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_read_back() {
        let cp = DingtalkAiTableCheckpoint {
            sheet: Some("sheet_1".to_owned()),
            next_token: Some("Mg==".to_owned()),
            done: false,
        };
        let json = serde_json::to_string(&cp).unwrap_or_else(|e| panic!("{e}"));
        let back: DingtalkAiTableCheckpoint =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, cp);
        assert!(
            DingtalkAiTableCheckpoint::finished().done && !DingtalkAiTableCheckpoint::start().done
        );
    }
}
