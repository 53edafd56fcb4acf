//! A row → a [`Document`]: the content columns as Markdown, the id, title, metadata and
//! `updated_at`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use connector_core::pages::Outcome;
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::{Document, ErrorKind, Failure};

use super::db::Row;
use super::plan::Plan;
use super::value::{Key, Value};

/// Values at most this long, on one line, are written as `**column:** value` lines; longer
/// ones get a heading of their own.
const SHORT: usize = 200;

/// Text of at most this many characters becomes a title.
const TITLE_CHARS: usize = 200;

/// The row's key alone (a slim listing, or a row whose other columns do not matter).
///
/// # Errors
/// A message when the id is NULL or of a type that cannot be a key.
pub(crate) fn key(plan: &Plan, row: &Row) -> Result<Key, String> {
    match row.get(plan.id_index) {
        Some(Ok(v)) => v
            .key()
            .ok_or_else(|| format!("`{}` is NULL or not a key: {v:?}", plan.id_name)),
        Some(Err(e)) => Err(format!("`{}` cannot be read: {e}", plan.id_name)),
        None => Err(format!("`{}` is not in the row", plan.id_name)),
    }
}

/// Converts one row.
///
/// # Errors
/// A message when the key cannot be read (the walk cannot go on past such a row); any other
/// column that cannot be read makes the row a [`Failure`].
pub(crate) fn convert(plan: &Plan, row: &Row) -> Result<Outcome, String> {
    let key = key(plan, row)?;
    let id = plan.doc_id(&key);
    let cursor = match plan.cursor.as_ref().and_then(|c| row.get(c.index)) {
        Some(Ok(v)) => match v.instant(plan.zone) {
            Ok(t) => t,
            Err(()) => {
                return Err(format!(
                    "`timestamp_column` `{}` holds {v:?}, not a date or time",
                    plan.cursor.as_ref().map_or("", |c| c.name.as_str())
                ));
            }
        },
        _ => None,
    };
    Ok(match document(plan, row, &id, &key, cursor) {
        Ok(d) => Outcome::from(d),
        Err(message) => Outcome::from(Failure::new(
            Some(id.clone()),
            ErrorKind::InvalidData,
            format!("row {id}: {message}"),
        )),
    })
}

fn document(
    plan: &Plan,
    row: &Row,
    id: &str,
    key: &Key,
    cursor: Option<DateTime<Utc>>,
) -> Result<Document, String> {
    let value = |i: usize| -> Result<&Value, String> {
        match row.get(i) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(format!("column `{}` cannot be read: {e}", plan.names[i])),
            None => Err(format!("column `{}` is not in the row", plan.names[i])),
        }
    };
    if let Some(c) = &plan.cursor {
        // A cursor that does not decode (PostgreSQL's 'infinity', MySQL's zero date).
        value(c.index)?;
    }
    let mut blocks = Vec::new();
    // Short values, borrowed from the row, waiting to be one paragraph of lines.
    let mut lines: Vec<(&str, Cow<'_, str>)> = Vec::new();
    let flush = |lines: &mut Vec<(&str, Cow<'_, str>)>, blocks: &mut Vec<Block>| {
        if !lines.is_empty() {
            let fields: Vec<(&str, &str)> = lines.iter().map(|(k, v)| (*k, v.as_ref())).collect();
            blocks.push(Block::labelled_lines(&fields));
            lines.clear();
        }
    };
    for &i in &plan.content {
        let v = value(i)?;
        let name = &plan.names[i];
        match v {
            Value::Null => {}
            Value::Json(j) => {
                flush(&mut lines, &mut blocks);
                blocks.push(Block::heading(2, vec![Inline::text(name.as_str())]));
                blocks.push(Block::code(
                    Some("json"),
                    serde_json::to_string_pretty(j).unwrap_or_default(),
                ));
            }
            v => {
                let text = v.text_ref().unwrap_or_default();
                if text.len() <= SHORT && !text.contains('\n') {
                    lines.push((plan.labels[i].as_str(), text));
                } else {
                    flush(&mut lines, &mut blocks);
                    blocks.push(Block::heading(2, vec![Inline::text(name.as_str())]));
                    blocks.extend(Block::plain_text(&text));
                }
            }
        }
    }
    flush(&mut lines, &mut blocks);
    let title = match plan.title {
        Some(i) => value(i)?
            .text_ref()
            .map(|t| {
                t.lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(TITLE_CHARS)
                    .collect()
            })
            .filter(|t: &String| !t.trim().is_empty()),
        None => None,
    }
    .unwrap_or_else(|| match &plan.label {
        Some(table) => format!("{table} {key}"),
        None => key.to_string(),
    });
    let mut doc = Document::text(id, plan.source, title, markdown::render(&blocks));
    for &i in &plan.metadata {
        if let Some(j) = value(i)?.json() {
            doc = doc.with_metadata(plan.names[i].clone(), j);
        }
    }
    if let Some(table) = &plan.label {
        doc = doc.with_metadata("table", table.clone());
    }
    if let Some(t) = cursor {
        doc = doc.with_updated_at(t);
    }
    Ok(doc.with_fields_fingerprint())
}
