//! A row → a document, rendered by [`connector_core::rows::RowLayout`]: the key, the id and
//! the cursor read here.

use chrono::{DateTime, Utc};
use connector_core::rows::ValueRef;
use connector_core::{Batch, ErrorKind, Failure};

use super::page::RowRef;
use super::plan::Plan;
use super::value::Key;

/// The row's key alone (a slim listing, or a row whose other columns do not matter).
///
/// # Errors
/// A message when the id is NULL or of a type that cannot be a key.
pub(crate) fn key(plan: &Plan, row: &RowRef<'_>) -> Result<Key, String> {
    match row.get(plan.id_index) {
        Some(Ok(v)) => v
            .key()
            .ok_or_else(|| format!("`{}` is NULL or not a key: {v:?}", plan.id_name)),
        Some(Err(e)) => Err(format!("`{}` cannot be read: {e}", plan.id_name)),
        None => Err(format!("`{}` is not in the row", plan.id_name)),
    }
}

/// The row's `timestamp_column` as an instant: `None` without one, for a NULL, for a value
/// that cannot be read (the row is then a failure), and for a date the server holds that
/// has no instant, which the driver gave as the server's text (MariaDB's `2025-01-00`,
/// PostgreSQL's `infinity`: the plan takes only a date or time as the cursor, so text there
/// is such a value): its document comes without `updated_at`.
///
/// # Errors
/// A message when the value is of another kind (none the drivers give for a date or time).
pub(crate) fn cursor(plan: &Plan, row: &RowRef<'_>) -> Result<Option<DateTime<Utc>>, String> {
    match plan.cursor.as_ref().and_then(|c| row.get(c.index)) {
        Some(Ok(ValueRef::Text(_))) => Ok(None),
        Some(Ok(v)) => v.instant(plan.zone).map_err(|_| {
            format!(
                "`timestamp_column` `{}` holds {v:?}, not a date or time",
                plan.cursor.as_ref().map_or("", |c| c.name.as_str())
            )
        }),
        _ => Ok(None),
    }
}

/// Converts one row into `batch`: its document, or a [`Failure`] when a column it uses cannot
/// be read (pushed straight in, not boxed as an `Outcome` to be unboxed again).
///
/// # Errors
/// A message when the key cannot be read (the walk cannot go on past such a row); any other
/// column that cannot be read makes the row a [`Failure`].
pub(crate) fn convert(plan: &Plan, row: &RowRef<'_>, batch: &mut Batch) -> Result<(), String> {
    let key = key(plan, row)?;
    let id = plan.doc_id(&key);
    let cursor = cursor(plan, row)?;
    // The id moves into the document; a row that fails (rare) writes it again. The document
    // goes straight into the batch (`render_into`): not moved out of a `Result` and in again.
    if let Err(message) = plan
        .layout
        .render_into(row, id, &key, cursor, &mut batch.documents)
    {
        let id = plan.doc_id(&key);
        batch.failures.push(Failure::new(
            Some(id.clone()),
            ErrorKind::InvalidData,
            format!("row {id}: {message}"),
        ));
    }
    Ok(())
}
