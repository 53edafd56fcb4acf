//! Rows of a table as documents, whatever database or warehouse they come from: the value of
//! a column ([`Value`]), the key of a keyset walk ([`Key`], [`RowKey`]) and the rendering of
//! one row as a [`Document`] ([`RowLayout::render`]). A row is rendered from its values
//! borrowed ([`ValueRef`]): a [`Row`] of owned values, or any row a source keeps its own way
//! ([`RowValues`]: a page whose text columns share one buffer, say).
//!
//! The SQL sources (PostgreSQL, MySQL, BigQuery) read rows in keyset pages ordered by
//! `(cursor, id)`: each page asks for `WHERE cursor > c OR (cursor = c AND id > i)`, so rows
//! added or removed meanwhile shift nothing and rows sharing a cursor value are neither lost
//! nor read twice. What differs between them (the driver, the SQL dialect, how a value is
//! bound) stays in the connector; what a row becomes is here.
//!
//! A row becomes one document: the content columns as Markdown (`**column:** value` lines,
//! long or multi-line text under a `## column` heading, JSON in a code block, binary data as
//! a note of its size, NULLs left out), the metadata columns typed (numbers, booleans,
//! RFC 3339 times, JSON), the title from a title column (else the table and the id),
//! `updated_at` from the cursor column, the fingerprint from everything delivered.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::text::markdown::MarkdownOut;
use crate::{Document, MetaKey};

mod value;

pub use value::{Key, NotATime, Row, RowKey, RowValues, Value, ValueRef, localize, widen};

/// Values at most this long, on one line, are written as `**column:** value` lines; longer
/// ones get a heading of their own.
const SHORT: usize = 200;

/// Text of at most this many characters becomes a title.
const TITLE_CHARS: usize = 200;

/// The room a content column takes in a row's text besides its value and name (`**`, `:`,
/// the separators, a heading's `## `): the row's text buffer is sized from its values with
/// this much more per column, so that it is made once at about its size.
const COLUMN_ROOM: usize = 16;

/// The room guessed for a value that is not text (a number, a time: its text is written
/// later).
const SCALAR_ROOM: usize = 32;

/// The first size of the buffer a row's JSON values are pretty-printed into.
const JSON_CAPACITY: usize = 256;

/// Which columns of a row go where in its document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RowLayout {
    /// The documents' source name.
    pub source: &'static str,
    /// Every column's name, in row order ([`names`](Self::names)).
    ///
    /// `names`, `labels` and `keys` go in step, one entry per column, and are private so
    /// that they stay so: [`new`](Self::new) makes the labels and keys of the names and
    /// checks once whether a name or label needs escaping in the Markdown (`plain`), which a
    /// label changed afterwards would make wrong. Code that needs other names builds a new
    /// layout.
    names: Vec<String>,
    /// `{name}:`, each column's label in the content's lines (in step with `names`).
    labels: Vec<String>,
    /// Each column's name as a metadata key, made once: every row's document takes a clone
    /// (inline, or an `Arc` count), not a new `String` per row per column (in step with
    /// `names`).
    keys: Vec<MetaKey>,
    /// The columns written as content, in this order.
    pub content: Vec<usize>,
    /// The columns copied, typed, into the metadata.
    pub metadata: Vec<usize>,
    /// The column whose value is the title.
    pub title: Option<usize>,
    /// The cursor column (it must be readable for the row to be a document).
    pub cursor: Option<usize>,
    /// The table's label (the title's fallback with the id, and the `table` metadata);
    /// `None` for a query.
    pub table: Option<String>,
    /// Whether each column's name (as a heading) and label need no escaping, checked once
    /// here rather than in every row's document (in step with `names`, made by
    /// [`new`](Self::new); a column without an entry is checked per row).
    plain: Vec<PlainName>,
}

/// A column's name and label checked once for the Markdown they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct PlainName {
    /// The name is a heading's text written as it is
    /// ([`is_plain_heading`](crate::text::markdown::is_plain_heading)).
    heading: bool,
    /// The label is written as it is between its `**`
    /// ([`is_plain_label`](crate::text::markdown::is_plain_label)).
    label: bool,
}

impl RowLayout {
    /// A layout of `names` for `source`: no content, metadata, title, cursor or table yet.
    pub fn new(source: &'static str, names: Vec<String>) -> Self {
        let labels: Vec<String> = names.iter().map(|n| format!("{n}:")).collect();
        let keys = names.iter().map(MetaKey::from).collect();
        let plain = names
            .iter()
            .zip(&labels)
            .map(|(name, label)| PlainName {
                heading: crate::text::markdown::is_plain_heading(name),
                label: crate::text::markdown::is_plain_label(label),
            })
            .collect();
        Self {
            source,
            names,
            labels,
            keys,
            plain,
            ..Self::default()
        }
    }

    /// Every column's name, in row order, as given to [`new`](Self::new).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Each column's label in the content's lines (`{name}:`), in step with
    /// [`names`](Self::names).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Each column's name as a metadata key, in step with [`names`](Self::names).
    pub fn keys(&self) -> &[MetaKey] {
        &self.keys
    }

    /// Orders [`metadata`](Self::metadata) by each column's key, stably (of two columns with
    /// one name the later still wins), so every row's document gets its entries in
    /// [`Metadata`](crate::Metadata)'s order: each insert is an append, where the order a
    /// user listed the columns in would shift the entries at every insert (quadratic in the
    /// columns, per row). The documents are the same either way. Call it once, after setting
    /// `metadata`.
    pub fn sort_metadata(&mut self) {
        let keys = &self.keys;
        self.metadata.sort_by(|&a, &b| {
            keys.get(a)
                .map(MetaKey::as_str)
                .cmp(&keys.get(b).map(MetaKey::as_str))
        });
    }

    /// Every column but `except` as content (the rule when no content column is named).
    pub fn all_but(&self, except: &[usize]) -> Vec<usize> {
        (0..self.names.len())
            .filter(|i| !except.contains(i))
            .collect()
    }

    /// The row as a document with `id`, its key `key` and its cursor value `cursor`. An owned
    /// `id` becomes the document's as it is, without a copy. `row` is a [`Row`] or any other
    /// [`RowValues`]: the same values make the same document, byte for byte.
    ///
    /// # Errors
    /// A message naming the column when one the layout uses cannot be read.
    pub fn render<R: RowValues + ?Sized>(
        &self,
        row: &R,
        id: impl Into<String>,
        key: &Key,
        cursor: Option<DateTime<Utc>>,
    ) -> Result<Document, String> {
        let text = self.content_text(row)?;
        let title = self.title_text(row, key)?;
        self.check_metadata(row)?;
        Ok(self.document(row, id, title, text, cursor))
    }

    /// [`render`](Self::render), the document pushed onto `documents` (a page's batch): made
    /// where it is returned and moved once, into the list, rather than out of a `Result` and
    /// then in (a document is a few hundred bytes, each move a copy of them, per row). On an
    /// error nothing is pushed.
    ///
    /// # Errors
    /// As [`render`](Self::render).
    pub fn render_into<R: RowValues + ?Sized>(
        &self,
        row: &R,
        id: impl Into<String>,
        key: &Key,
        cursor: Option<DateTime<Utc>>,
        documents: &mut Vec<Document>,
    ) -> Result<(), String> {
        let text = self.content_text(row)?;
        let title = self.title_text(row, key)?;
        self.check_metadata(row)?;
        documents.push(self.document(row, id, title, text, cursor));
        Ok(())
    }

    /// Checks the cursor, and writes the content columns as the row's text.
    fn content_text<R: RowValues + ?Sized>(&self, row: &R) -> Result<String, String> {
        if let Some(c) = self.cursor {
            // A cursor the driver could not read (the row is a failure); PostgreSQL's
            // infinities and MySQL's dates without a day reach here as text, no time.
            self.value(row, c)?;
        }
        // Sized from the row, not a fixed 1 KiB: a buffer of a kilobyte or more is a "large"
        // request to glibc's allocator, which sorts its free chunks (`malloc_consolidate`) on
        // each, and a row's text is mostly far smaller (about 300 bytes on the `rdbms` bench).
        // Text that needs escaping grows it, once or twice.
        let room: usize = self
            .content
            .iter()
            .map(|&i| {
                let value = match row.value(i) {
                    Some(Ok(ValueRef::Text(s) | ValueRef::Decimal(s))) => s.len(),
                    Some(Ok(ValueRef::Json(_))) => JSON_CAPACITY,
                    // A NULL writes nothing (nor does a column that fails the row or is not
                    // there): no room, so a wide row of mostly NULLs stays small (review8 F1).
                    Some(Ok(ValueRef::Null) | Err(_)) | None => return 0,
                    Some(Ok(_)) => SCALAR_ROOM,
                };
                value + self.names.get(i).map_or(0, String::len) + COLUMN_ROOM
            })
            .sum();
        let mut text = String::with_capacity(room);
        let mut md = MarkdownOut::new(&mut text);
        // Short values, borrowed from the row where they can be, waiting to be one paragraph
        // of lines; held on the stack (most rows have a few), cleared after each paragraph.
        let mut lines = Lines::default();
        // A JSON value's pretty text, one buffer for the row's JSON columns.
        let mut json = String::new();
        for &i in &self.content {
            let v = self.value(row, i)?;
            let name = self.names[i].as_str();
            let plain = self.plain.get(i).copied().unwrap_or_default();
            match v {
                ValueRef::Null => {}
                ValueRef::Json(j) => {
                    lines.flush(&mut md);
                    md.heading_checked(2, name, plain.heading);
                    json.clear();
                    // Room for a small record or list: serialising grows it once or never.
                    json.reserve(JSON_CAPACITY);
                    write_pretty(&mut json, j);
                    md.code(Some("json"), &json);
                }
                v => {
                    let text = v.text_ref().unwrap_or_default();
                    if text.len() <= SHORT && !text.contains('\n') {
                        lines.push((self.labels[i].as_str(), text), plain.label);
                    } else {
                        lines.flush(&mut md);
                        md.heading_checked(2, name, plain.heading);
                        md.plain_text(&text);
                    }
                }
            }
        }
        lines.flush(&mut md);
        Ok(text)
    }

    /// The title: the title column's first line, else the table and the key.
    fn title_text<R: RowValues + ?Sized>(&self, row: &R, key: &Key) -> Result<String, String> {
        let title = match self.title {
            Some(i) => self
                .value(row, i)?
                .text_ref()
                .map(|t| title_of(&t))
                .filter(|t: &String| !is_blank(t)),
            None => None,
        };
        Ok(title.unwrap_or_else(|| match &self.table {
            Some(table) => format!("{table} {key}"),
            None => key.to_string(),
        }))
    }

    /// Checks the metadata columns before the document is made: one that cannot be read is
    /// an error.
    fn check_metadata<R: RowValues + ?Sized>(&self, row: &R) -> Result<(), String> {
        for &i in &self.metadata {
            self.value(row, i)?;
        }
        Ok(())
    }

    /// The document of the row's `text` and `title`: its metadata columns, the table, the
    /// cursor, the fields fingerprint (its metadata columns checked by the caller first:
    /// [`check_metadata`](Self::check_metadata)).
    fn document<R: RowValues + ?Sized>(
        &self,
        row: &R,
        id: impl Into<String>,
        title: String,
        text: String,
        cursor: Option<DateTime<Utc>>,
    ) -> Document {
        // One allocation of the row's entries, made to measure: a first insert into an empty
        // map grows it to four entries (224 bytes: mimalloc's generic path, and
        // `RawVec::grow_one`), where a row of tables has the `table` entry alone.
        let entries = self.metadata.len() + usize::from(self.table.is_some());
        let mut metadata = if entries > 0 {
            crate::Metadata::with_capacity(entries)
        } else {
            crate::Metadata::new()
        };
        for &i in &self.metadata {
            if let Some(j) = row.value(i).and_then(Result::ok).and_then(ValueRef::json) {
                metadata.insert(self.keys[i].clone(), j);
            }
        }
        if let Some(table) = &self.table {
            metadata.insert(
                MetaKey::new_static("table"),
                serde_json::Value::from(table.as_str()),
            );
        }
        // The text hashed once, for the fields fingerprint (not first for a content
        // fingerprint the fields one replaces).
        match &self.table {
            // The metadata is the `table` entry alone: its JSON written as it is for the
            // fingerprint, not by walking the map (a third of the fingerprint's cost).
            Some(table) if self.metadata.is_empty() => Document::text_with_fields_json(
                id.into(),
                self.source,
                title,
                text,
                metadata,
                cursor,
                |out| {
                    out.extend_from_slice(b"{\"table\":");
                    crate::jsonw::write_str(out, table);
                    out.push(b'}');
                },
            ),
            _ => Document::text_with_fields(id, self.source, title, text, |doc| {
                doc.metadata = metadata;
                doc.updated_at = cursor;
            }),
        }
    }

    /// Column `i`'s value, or a message naming the column. Every column the layout uses is
    /// looked up here: past it `names[i]`, `labels[i]` and `keys[i]` are in bounds (the three
    /// lengths are equal: only [`new`](Self::new) makes them).
    fn value<'r, R: RowValues + ?Sized>(
        &self,
        row: &'r R,
        i: usize,
    ) -> Result<ValueRef<'r>, String> {
        let Some(name) = self.names.get(i) else {
            return Err(format!(
                "column {i} is not one of the layout's {} columns",
                self.names.len()
            ));
        };
        match row.value(i) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(format!("column `{name}` cannot be read: {e}")),
            None => Err(format!("column `{name}` is not in the row")),
        }
    }
}

/// How many labelled lines wait on the stack before [`Lines`] moves them to the heap.
const STACK_LINES: usize = 4;

/// A row's short values waiting to be one paragraph of `**label:** value` lines: up to
/// [`STACK_LINES`] on the stack (a row's few short columns, with no allocation per row), more
/// in a `Vec`.
struct Lines<'r> {
    stack: [(&'r str, Cow<'r, str>); STACK_LINES],
    len: usize,
    heap: Vec<(&'r str, Cow<'r, str>)>,
    /// Every waiting line's label was checked plain (by the layout, once).
    labels_plain: bool,
}

impl Default for Lines<'_> {
    fn default() -> Self {
        Self {
            stack: std::array::from_fn(|_| ("", Cow::Borrowed(""))),
            len: 0,
            heap: Vec::new(),
            labels_plain: true,
        }
    }
}

impl<'r> Lines<'r> {
    /// Adds a line; `label_plain` says its label was checked plain.
    fn push(&mut self, line: (&'r str, Cow<'r, str>), label_plain: bool) {
        self.labels_plain &= label_plain;
        if self.heap.is_empty() {
            if let Some(slot) = self.stack.get_mut(self.len) {
                *slot = line;
                self.len += 1;
                return;
            }
            // Past the stack's room: every line of the paragraph to the heap, in order.
            self.heap.reserve(self.len + 1);
            for slot in &mut self.stack[..self.len] {
                self.heap
                    .push(std::mem::replace(slot, ("", Cow::Borrowed(""))));
            }
            self.len = 0;
        }
        self.heap.push(line);
    }

    /// The waiting lines as one paragraph, if there are any.
    fn flush(&mut self, md: &mut MarkdownOut<'_>) {
        if !self.heap.is_empty() {
            md.labelled_lines_checked(&self.heap, self.labels_plain);
            self.heap.clear();
            self.labels_plain = true;
        } else if let Some(lines) = self.stack.get(..self.len)
            && !lines.is_empty()
        {
            md.labelled_lines_checked(lines, self.labels_plain);
            self.labels_plain = true;
            for slot in &mut self.stack[..self.len] {
                // An owned value (a number's text) is freed now, as the list's clear did.
                *slot = ("", Cow::Borrowed(""));
            }
            self.len = 0;
        }
    }
}

/// A title from a column's text: its first line, at most [`TITLE_CHARS`] characters. Text of
/// one line and at most that many bytes (most titles) is copied whole, without a walk of its
/// characters: its line ends are looked for byte by byte (`\n` and `\r` are ASCII, never
/// inside another character's bytes), where a `[char]` pattern decoded each character (20
/// instructions a title more on the `rdbms` bench's `Item 12345`).
fn title_of(text: &str) -> String {
    if text.len() <= TITLE_CHARS && !text.bytes().any(|b| b == b'\n' || b == b'\r') {
        return text.to_owned();
    }
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(TITLE_CHARS)
        .collect()
}

/// Whether `text` is empty or white space alone (its `trim` is empty), answered at its first
/// byte when that is a visible ASCII character (most titles: no white space is one), where
/// `trim` took 51 instructions a title on the `rdbms` bench.
fn is_blank(text: &str) -> bool {
    match text.as_bytes().first() {
        Some(b) if b.is_ascii_graphic() => false,
        _ => text.trim().is_empty(),
    }
}

/// `value` as `serde_json::to_string_pretty` writes it, appended to `out` (nothing should
/// serialising ever fail, as with `unwrap_or_default` before).
fn write_pretty(out: &mut String, value: &serde_json::Value) {
    let mut bytes = std::mem::take(out).into_bytes();
    let mark = bytes.len();
    if serde_json::to_writer_pretty(&mut bytes, value).is_err() {
        bytes.truncate(mark);
    }
    // serde_json writes UTF-8; were it not, the text is left as it was.
    *out = String::from_utf8(bytes).unwrap_or_else(|e| {
        let mut bytes = e.into_bytes();
        bytes.truncate(mark);
        String::from_utf8(bytes).unwrap_or_default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// `is_blank` is `trim().is_empty()`: every first byte (with what follows it blank or
    /// not), and the white space `trim` knows beyond ASCII.
    #[test]
    fn is_blank_is_an_empty_trim() {
        let mut texts: Vec<String> = vec![
            String::new(),
            " ".into(),
            "\u{a0}".into(),
            "\u{3000} \t".into(),
            "\u{2028}x".into(),
            "\u{85}".into(),
            "\u{200b}".into(),
            "é".into(),
        ];
        for b in 0..=127u8 {
            let c = char::from(b);
            texts.extend([
                c.to_string(),
                format!("{c} "),
                format!("{c}\u{a0}"),
                format!("{c}x"),
            ]);
        }
        for t in texts {
            assert_eq!(is_blank(&t), t.trim().is_empty(), "{t:?}");
        }
    }

    /// The Markdown a row had when it was built as a block tree: what `render` writes
    /// straight into its buffer must stay byte for byte the same (stored fingerprints hash
    /// it).
    fn tree_text(layout: &RowLayout, row: &[Result<Value, String>]) -> String {
        use crate::text::markdown::{Block, Inline, render_into};
        let mut blocks = Vec::new();
        let mut lines: Vec<(&str, String)> = Vec::new();
        let flush = |lines: &mut Vec<(&str, String)>, blocks: &mut Vec<Block>| {
            if !lines.is_empty() {
                let fields: Vec<(&str, &str)> =
                    lines.iter().map(|(k, v)| (*k, v.as_str())).collect();
                blocks.push(Block::labelled_lines(&fields));
                lines.clear();
            }
        };
        for &i in &layout.content {
            let name = layout.names[i].as_str();
            match &row[i] {
                Ok(Value::Null) | Err(_) => {}
                Ok(Value::Json(j)) => {
                    flush(&mut lines, &mut blocks);
                    blocks.push(Block::heading(2, vec![Inline::text(name)]));
                    blocks.push(Block::code(
                        Some("json"),
                        serde_json::to_string_pretty(j).unwrap_or_default(),
                    ));
                }
                Ok(v) => {
                    let text = v.text().unwrap_or_default();
                    if text.len() <= SHORT && !text.contains('\n') {
                        lines.push((layout.labels[i].as_str(), text));
                    } else {
                        flush(&mut lines, &mut blocks);
                        blocks.push(Block::heading(2, vec![Inline::text(name)]));
                        blocks.extend(Block::plain_text(&text));
                    }
                }
            }
        }
        flush(&mut lines, &mut blocks);
        let mut text = String::new();
        render_into(&mut text, &blocks);
        text
    }

    #[test]
    fn the_content_is_what_the_block_tree_wrote() {
        let names: Vec<String> = (0..8).map(|i| format!("c{i} *x*")).collect();
        let mut layout = RowLayout::new("test", names);
        layout.content = layout.all_but(&[]);
        let long = "word ".repeat(60);
        let values = [
            Value::Null,
            Value::Text(String::new()),
            Value::Text("# not a heading | `code` <b>".into()),
            Value::Text("line\r\nnext\n\n  \n1. item".into()),
            Value::Text(long),
            Value::Json(serde_json::json!({"a": "```", "b": [1, "~~~", {"c": null}]})),
            Value::Json(serde_json::json!([])),
            Value::Json(serde_json::json!("a\r\nb")),
            Value::Int(-4),
            Value::Float(2.5),
            Value::Decimal("1.50".into()),
            Value::Bytes(9),
            Value::Bool(true),
        ];
        // Every value in every column, in runs that mix short lines, headings and code.
        for shift in 0..values.len() {
            let row: Row = (0..8)
                .map(|c| Ok(values[(c * 3 + shift) % values.len()].clone()))
                .collect();
            let doc = layout
                .render(&row, "test:1", &Key::Int(1), None)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                doc.content.as_text().unwrap_or_default(),
                tree_text(&layout, &row)
            );
        }
    }

    /// A row kept as a source keeps a page (text in one shared buffer, values borrowed from
    /// it) renders the document its `Row` of owned values renders, byte for byte.
    #[test]
    fn any_row_values_render_what_the_row_renders() {
        struct Shared {
            text: String,
            cells: Vec<Result<(usize, usize, Value), String>>,
        }
        impl RowValues for Shared {
            fn value(&self, i: usize) -> Option<Result<ValueRef<'_>, &str>> {
                Some(match self.cells.get(i)? {
                    Ok((start, end, Value::Text(_))) => {
                        Ok(ValueRef::Text(&self.text[*start..*end]))
                    }
                    Ok((_, _, v)) => Ok(v.as_value_ref()),
                    Err(e) => Err(e.as_str()),
                })
            }
        }
        let names: Vec<String> = ["id", "name", "body", "tags", "n", "at"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let mut layout = RowLayout::new("test", names);
        layout.content = layout.all_but(&[0, 4]);
        layout.metadata = vec![4, 5];
        layout.title = Some(1);
        layout.table = Some("t".into());
        let at = NaiveDate::from_ymd_opt(2025, 3, 1)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .unwrap_or_default();
        let rows: Vec<Row> = vec![
            vec![
                Ok(Value::Int(1)),
                Ok(Value::Text("Widget *one*".into())),
                Ok(Value::Text("line one\nline two ".repeat(20))),
                Ok(Value::Json(serde_json::json!(["a", "b"]))),
                Ok(Value::Float(1.5)),
                Ok(Value::Timestamp(at)),
            ],
            vec![
                Ok(Value::Int(2)),
                Ok(Value::Null),
                Ok(Value::Text(String::new())),
                Ok(Value::Null),
                Ok(Value::Decimal("2.50".into())),
                Ok(Value::Null),
            ],
            vec![Ok(Value::Int(3)), Err("bad".into())],
        ];
        for row in &rows {
            let mut shared = Shared {
                text: String::new(),
                cells: Vec::new(),
            };
            for v in row {
                shared.cells.push(v.clone().map(|v| {
                    let start = shared.text.len();
                    if let Value::Text(s) = &v {
                        shared.text.push_str(s);
                    }
                    (start, shared.text.len(), v)
                }));
            }
            let owned = layout.render(row, "test:1", &Key::Int(1), Some(at.and_utc()));
            let borrowed = layout.render(&shared, "test:1", &Key::Int(1), Some(at.and_utc()));
            assert_eq!(owned, borrowed);
            // `render_into` pushes the document `render` returns, after what the list held,
            // and nothing when the row fails.
            let mut pushed = vec![Document::text("before", "test", "", "")];
            let result = layout.render_into(
                &shared,
                "test:1",
                &Key::Int(1),
                Some(at.and_utc()),
                &mut pushed,
            );
            match &owned {
                Ok(doc) => {
                    assert_eq!(result, Ok(()));
                    assert_eq!(pushed.len(), 2);
                    assert_eq!(pushed.last(), Some(doc));
                }
                Err(e) => {
                    assert_eq!(result.as_ref(), Err(e));
                    assert_eq!(pushed.len(), 1);
                }
            }
        }
    }

    /// A row's text buffer is made at about the size of its text, not a fixed kilobyte (a
    /// "large" request to glibc's allocator, which sorts its free chunks on each), and a long
    /// one still fits the text it holds.
    #[test]
    fn a_row_s_text_is_sized_from_its_values() {
        let mut layout = RowLayout::new("test", vec!["title".into(), "body".into()]);
        layout.content = layout.all_but(&[]);
        for body in [
            "body text of a row ".repeat(13),
            "x *y* ".repeat(400),
            String::new(),
        ] {
            let row: Row = vec![Ok(Value::Text("Item 7".into())), Ok(Value::Text(body))];
            let doc = layout
                .render(&row, "test:7", &Key::Int(7), None)
                .unwrap_or_else(|e| panic!("{e}"));
            let crate::Content::Text { text } = &doc.content else {
                panic!("not text")
            };
            assert_eq!(*text, tree_text(&layout, &row));
            assert!(
                text.capacity() <= 2 * text.len().max(256),
                "{} for {}",
                text.capacity(),
                text.len()
            );
            if text.len() < 512 {
                assert!(text.capacity() < 1024, "{}", text.capacity());
            }
        }
        // A wide row of mostly NULLs (ERP and CRM tables): sized from the values it has, not
        // from every column (review8 F1: 200 columns took 12.6 KB for 60 bytes of text).
        let names: Vec<String> = (0..200).map(|i| format!("column_number_{i:03}")).collect();
        let mut layout = RowLayout::new("test", names);
        layout.content = layout.all_but(&[]);
        let row: Row = (0..200)
            .map(|i| match i {
                0 => Ok(Value::Text("Item 7".into())),
                50 | 150 => Ok(Value::Text("a short value".into())),
                _ => Ok(Value::Null),
            })
            .collect();
        let doc = layout
            .render(&row, "test:7", &Key::Int(7), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let crate::Content::Text { text } = &doc.content else {
            panic!("not text")
        };
        assert_eq!(*text, tree_text(&layout, &row));
        assert!(
            text.capacity() <= 2 * text.len().max(256),
            "{} for {}",
            text.capacity(),
            text.len()
        );
    }

    /// A layout without its names' one-time checks (built field by field in this crate)
    /// checks them in each row instead, and writes the same text: plain names and names
    /// that need escaping, as headings and as labels.
    #[test]
    fn names_checked_once_write_what_names_checked_per_row_write() {
        let names = ["title", "body", "c *x*", "_y_", "z#", "ok"].map(String::from);
        let mut checked = RowLayout::new("test", names.to_vec());
        checked.content = checked.all_but(&[]);
        let per_row = RowLayout {
            plain: Vec::new(),
            ..checked.clone()
        };
        assert!(checked.plain.iter().any(|p| p.heading && p.label));
        assert!(checked.plain.iter().any(|p| !p.heading || !p.label));
        let long = "word ".repeat(60);
        for shift in 0..names.len() {
            let row: Row = (0..names.len())
                .map(|c| {
                    Ok(if (c + shift) % 3 == 0 {
                        Value::Text(long.clone())
                    } else {
                        Value::Text(format!("v{c}"))
                    })
                })
                .collect();
            let a = checked.render(&row, "test:1", &Key::Int(1), None);
            let b = per_row.render(&row, "test:1", &Key::Int(1), None);
            assert_eq!(a, b);
            let a = a.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                a.content.as_text().unwrap_or_default(),
                tree_text(&checked, &row)
            );
        }
    }

    /// Runs of short values longer than the stack holds (up to ten lines, a long value or
    /// a JSON one breaking them anywhere) write the lines the block tree wrote, in order.
    #[test]
    fn long_runs_of_short_lines_are_what_the_block_tree_wrote() {
        let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        let mut layout = RowLayout::new("test", names);
        layout.content = layout.all_but(&[]);
        let long = "word ".repeat(60);
        let mut rows = 0;
        for len in 0..=10 {
            for brk in 0..=len {
                for breaker in [
                    Value::Text(long.clone()),
                    Value::Json(serde_json::json!([1])),
                ] {
                    let row: Row = (0..10)
                        .map(|c| {
                            Ok(if c >= len {
                                Value::Null
                            } else if c == brk {
                                breaker.clone()
                            } else if c % 3 == 0 {
                                Value::Int(c as i64)
                            } else {
                                Value::Text(format!("v{c} *x*"))
                            })
                        })
                        .collect();
                    let doc = layout
                        .render(&row, "test:1", &Key::Int(1), None)
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(
                        doc.content.as_text().unwrap_or_default(),
                        tree_text(&layout, &row),
                        "{len} {brk}"
                    );
                    rows += 1;
                }
            }
        }
        assert!(rows > 100, "{rows}");
    }

    /// `title_of`'s copy of a short line is what the walk of the first line's characters
    /// makes.
    #[test]
    fn titles_are_the_first_line_cut_to_length() {
        let long = "é".repeat(150);
        let exact = "x".repeat(TITLE_CHARS);
        for text in [
            "",
            "Widget",
            "a\r",
            "a\rb",
            "a\r\nb",
            "first\nsecond",
            "\nsecond",
            " spaced ",
            long.as_str(),
            exact.as_str(),
        ] {
            let walked: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(TITLE_CHARS)
                .collect();
            assert_eq!(title_of(text), walked, "{text:?}");
        }
    }

    #[test]
    fn sorted_metadata_columns_make_the_same_document() {
        let names = ["id", "zeta", "alpha", "mid", "alpha"]
            .map(String::from)
            .to_vec();
        let mut layout = RowLayout::new("t", names);
        layout.metadata = vec![1, 2, 3, 4];
        let row: Row = (1..=5).map(|n| Ok(Value::Int(n))).collect();
        let render = |layout: &RowLayout| {
            layout
                .render(&row, "t:1", &Key::Int(1), None)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let before = render(&layout);
        layout.sort_metadata();
        // By key, stably: of the two `alpha` columns the later is still inserted last.
        assert_eq!(layout.metadata, [2, 4, 3, 1]);
        let after = render(&layout);
        assert_eq!(before.metadata, after.metadata);
        assert_eq!(after.metadata.get("alpha"), Some(&serde_json::json!(5)));
        assert_eq!(before.fingerprint, after.fingerprint);
    }

    #[test]
    fn a_row_renders_content_metadata_title_and_time() {
        let mut layout = RowLayout::new(
            "test",
            vec![
                "id".into(),
                "name".into(),
                "body".into(),
                "tags".into(),
                "n".into(),
            ],
        );
        layout.content = layout.all_but(&[0, 4]);
        layout.metadata = vec![4];
        layout.title = Some(1);
        layout.table = Some("t".into());
        let at = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let row: Row = vec![
            Ok(Value::Int(1)),
            Ok(Value::Text("Widget".into())),
            Ok(Value::Text("line one\nline two".into())),
            Ok(Value::Json(serde_json::json!(["a", "b"]))),
            Ok(Value::Float(1.5)),
        ];
        let doc = layout
            .render(&row, "test:1", &Key::Int(1), at)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.title, "Widget");
        assert_eq!(doc.updated_at, at);
        let text = doc.content.as_text().unwrap_or_default();
        assert!(text.contains("**name:** Widget"), "{text}");
        assert!(text.contains("## body"), "{text}");
        assert!(text.contains("```json"), "{text}");
        assert_eq!(doc.metadata.get("n"), Some(&serde_json::json!(1.5)));
        assert_eq!(doc.metadata.get("table"), Some(&serde_json::json!("t")));
        let broken: Row = vec![Ok(Value::Int(1)), Err("bad".into())];
        let e = layout
            .render(&broken, "test:1", &Key::Int(1), None)
            .err()
            .unwrap_or_default();
        assert!(e.contains("`name`"), "{e}");
    }

    /// A layout that names a column it does not have (a default one has none) renders an
    /// error, not a panic.
    #[test]
    fn a_layout_out_of_step_is_an_error_not_a_panic() {
        let row: Row = vec![Ok(Value::Int(1)), Ok(Value::Text("Widget".into()))];
        let layout = RowLayout {
            metadata: vec![1],
            ..RowLayout::default()
        };
        let e = layout
            .render(&row, "test:1", &Key::Int(1), None)
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("column 1 is not one of the layout's 0 columns"),
            "{e}"
        );

        let mut layout = RowLayout::new("test", vec!["id".into()]);
        layout.metadata = vec![1];
        let e = layout
            .render(&row, "test:1", &Key::Int(1), None)
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("column 1 is not one of the layout's 1 columns"),
            "{e}"
        );
    }
}
