//! [`BigQueryCheckpoint`]: the key of the last row handed on.

use connector_core::rows::RowKey;
use serde::{Deserialize, Serialize};

/// Where a resumed sync starts.
///
/// JSON: `{"after": {"id": {"int": 1200}, "cursor": "2025-03-01T10:00:00Z"}}`. Rows are read
/// in key order (`id`, or `(timestamp_column, id)` in a window), so a resumed run asks for
/// the rows after `after` with a new query job: rows added or removed meanwhile shift
/// nothing, and rows sharing a timestamp are neither lost nor read twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BigQueryCheckpoint {
    /// The key of the last row handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<RowKey>,
    /// Every row was read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

impl BigQueryCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
