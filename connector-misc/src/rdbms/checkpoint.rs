//! [`RdbmsCheckpoint`]: the table being read and the key of the last row handed on.

pub use connector_core::rows::RowKey;
use serde::{Deserialize, Serialize};

/// Where a resumed sync starts.
///
/// JSON: `{"table": "public.products", "after": {"id": {"int": 1200}, "cursor":
/// "2025-03-01T10:00:00Z"}}`. Tables are read in name order, each in key order (`id`, or
/// `(timestamp_column, id)` in a window), so the next page is `WHERE key > after`: rows
/// added or removed meanwhile shift nothing, and rows sharing a timestamp are neither lost
/// nor read twice. With a `query`, `table` is absent. In a window, an `after` without
/// `cursor` starts after the value its row holds, read by the server (the row's cursor names
/// no time, like MariaDB's `2025-01-00`), with that value's text in `after_text`
/// (`{"table": "w", "after": {"id": {"int": 2}}, "after_text": "2025-01-00 10:00:00"}`);
/// binaries before that reject such a checkpoint, so after a downgrade an interrupted
/// incremental run may need a full sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RdbmsCheckpoint {
    /// The table being read (`schema.name` or `name`), absent for a query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The key of the last row of `table` handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<RowKey>,
    /// The server's text of the cursor of `after`'s row as its page read it, when `after` has
    /// no cursor in a window (review28 F3): a resume fails the table should that row hold
    /// another value by then, rather than skip the rows between the two. Absent in older
    /// checkpoints (and for a value that cannot be decoded): any value is taken then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_text: Option<String>,
    /// `table` (or the query) was read to its end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

impl RdbmsCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
