//! A page of rows as the driver read them ([`Rows`]), held in a few buffers for the whole
//! page: each column's value a small cell, the text of every text column in one `String`.
//!
//! The rows are read on the read-ahead task and made documents on the caller's
//! ([`read_ahead_by`](connector_core::pages::read_ahead_by)): a `String` per text column per row
//! was two allocations a row made on one thread and freed on the other (glibc's slow path
//! both ways), where the page's buffers are a handful of allocations a page.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use connector_core::rows::{RowValues, Value, ValueRef};
use connector_core::window::Zone;

/// One column's value in a page: scalars as they are, text and JSON by where they are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// `text[start..end]`.
    Text(usize, usize),
    /// An exact number's text, `text[start..end]`.
    Decimal(usize, usize),
    /// `json[i]`.
    Json(usize),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Bytes(usize),
    /// Why the column could not be read, `errors[i]`.
    Error(usize),
}

/// Rows as the driver read them, one after another. A row is its cells pushed between two
/// [`end_row`](Self::end_row)s; zone-less times are read in the page's zone as they are
/// pushed (`timezone`: nothing to do in UTC).
#[derive(Debug)]
pub(crate) struct Rows {
    zone: Zone,
    cells: Vec<Cell>,
    /// Where each row's cells end in `cells`.
    ends: Vec<usize>,
    text: String,
    json: Vec<serde_json::Value>,
    errors: Vec<String>,
}

impl Rows {
    /// No rows, zone-less times read in `zone`.
    pub(crate) fn new(zone: Zone) -> Self {
        Self::with_capacity(zone, 0, 0, 0)
    }

    /// No rows, with room for `rows` rows of `cells` cells and `text` bytes of text in all.
    pub(crate) fn with_capacity(zone: Zone, rows: usize, cells: usize, text: usize) -> Self {
        Self {
            zone,
            cells: Vec::with_capacity(cells),
            ends: Vec::with_capacity(rows),
            text: String::with_capacity(text),
            json: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// How many rows there are.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// How many cells all the rows have, and how many bytes of text: the room the next page
    /// of the same query will likely need.
    pub(crate) fn size(&self) -> (usize, usize) {
        (self.cells.len(), self.text.len())
    }

    /// Row `i`.
    pub(crate) fn row(&self, i: usize) -> Option<RowRef<'_>> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        Some(RowRef {
            rows: self,
            cells: self.cells.get(start..end)?,
        })
    }

    /// Only the first `rows` rows (their text stays, unused, until the rows are dropped).
    pub(crate) fn truncate(&mut self, rows: usize) {
        if rows >= self.len() {
            return;
        }
        let end = rows
            .checked_sub(1)
            .and_then(|last| self.ends.get(last).copied())
            .unwrap_or(0);
        self.ends.truncate(rows);
        self.cells.truncate(end);
    }

    /// The last row.
    pub(crate) fn last(&self) -> Option<RowRef<'_>> {
        self.row(self.len().checked_sub(1)?)
    }

    /// The rows in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = RowRef<'_>> {
        (0..self.len()).filter_map(|i| self.row(i))
    }

    /// Pushes the next row of `columns` columns, each as `column` pushes it (given the column's
    /// index), or, where it gives an error (having pushed nothing), why it could not be read.
    pub(crate) fn push_row(
        &mut self,
        columns: usize,
        mut column: impl FnMut(&mut Self, usize) -> Result<(), String>,
    ) {
        for i in 0..columns {
            if let Err(e) = column(self, i) {
                self.push_error(e);
            }
        }
        self.end_row();
    }

    /// Ends the row whose cells were pushed since the last.
    pub(crate) fn end_row(&mut self) {
        self.ends.push(self.cells.len());
    }

    /// The next column's value, copied (text) or moved (JSON) into the page.
    pub(crate) fn push(&mut self, value: Value) {
        let cell = match value {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(b),
            Value::Int(i) => Cell::Int(i),
            Value::UInt(u) => Cell::UInt(u),
            Value::Float(f) => Cell::Float(f),
            Value::Decimal(s) => return self.push_decimal(&s),
            Value::Text(s) => return self.push_text(&s),
            Value::Json(j) => {
                self.json.push(j);
                Cell::Json(self.json.len() - 1)
            }
            Value::Date(d) => Cell::Date(d),
            Value::Time(t) => Cell::Time(t),
            Value::Timestamp(t) if self.zone == Zone::utc() => Cell::Timestamp(t),
            // As `connector_core::rows::localize` reads it.
            Value::Timestamp(t) => self.zone.instant(t).map_or(Cell::Null, Cell::TimestampTz),
            Value::TimestampTz(t) => Cell::TimestampTz(t),
            Value::Bytes(n) => Cell::Bytes(n),
        };
        self.cells.push(cell);
    }

    /// The next column's value, text.
    pub(crate) fn push_text(&mut self, text: &str) {
        let start = self.text.len();
        self.text.push_str(text);
        self.cells.push(Cell::Text(start, self.text.len()));
    }

    /// The next column's value, an exact number as the database writes it.
    pub(crate) fn push_decimal(&mut self, text: &str) {
        let start = self.text.len();
        self.text.push_str(text);
        self.cells.push(Cell::Decimal(start, self.text.len()));
    }

    /// The next column, which could not be read, and why.
    pub(crate) fn push_error(&mut self, message: String) {
        self.errors.push(message);
        self.cells.push(Cell::Error(self.errors.len() - 1));
    }

    /// The next column: its value, or why it could not be read.
    #[cfg(test)]
    pub(crate) fn push_result(&mut self, value: Result<Value, String>) {
        match value {
            Ok(v) => self.push(v),
            Err(e) => self.push_error(e),
        }
    }
}

/// One row of [`Rows`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRef<'p> {
    rows: &'p Rows,
    cells: &'p [Cell],
}

impl<'p> RowRef<'p> {
    /// Column `i`: its value, or why it could not be read; `None` past the row's end.
    pub(crate) fn get(&self, i: usize) -> Option<Result<ValueRef<'p>, &'p str>> {
        let rows = self.rows;
        let text = |start: usize, end: usize| rows.text.get(start..end).unwrap_or_default();
        Some(Ok(match *self.cells.get(i)? {
            Cell::Null => ValueRef::Null,
            Cell::Bool(b) => ValueRef::Bool(b),
            Cell::Int(i) => ValueRef::Int(i),
            Cell::UInt(u) => ValueRef::UInt(u),
            Cell::Float(f) => ValueRef::Float(f),
            Cell::Text(start, end) => ValueRef::Text(text(start, end)),
            Cell::Decimal(start, end) => ValueRef::Decimal(text(start, end)),
            Cell::Json(j) => match rows.json.get(j) {
                Some(j) => ValueRef::Json(j),
                None => ValueRef::Null,
            },
            Cell::Date(d) => ValueRef::Date(d),
            Cell::Time(t) => ValueRef::Time(t),
            Cell::Timestamp(t) => ValueRef::Timestamp(t),
            Cell::TimestampTz(t) => ValueRef::TimestampTz(t),
            Cell::Bytes(n) => ValueRef::Bytes(n),
            Cell::Error(e) => {
                return Some(Err(rows.errors.get(e).map_or("", String::as_str)));
            }
        }))
    }

    /// How many columns the row has.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }
}

impl RowValues for RowRef<'_> {
    fn value(&self, i: usize) -> Option<Result<ValueRef<'_>, &str>> {
        self.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// review22 F6: a cut at 0, in the middle and at (or past) the end keeps exactly the
    /// rows before it, text, JSON and error cells included, and rows pushed after it follow
    /// on.
    #[test]
    fn truncate_keeps_the_rows_before_the_cut() {
        let page = || {
            let mut rows = Rows::new(Zone::utc());
            for i in 0..3 {
                rows.push(Value::Int(i));
                rows.push(Value::Text(format!("t{i}")));
                rows.push(Value::Json(serde_json::json!([i])));
                rows.push_error(format!("e{i}"));
                rows.end_row();
            }
            rows
        };
        fn first(rows: &Rows, i: usize) -> Option<Result<ValueRef<'_>, &str>> {
            rows.row(i).and_then(|r| r.get(0))
        }
        let mut rows = page();
        rows.truncate(0);
        assert_eq!((rows.len(), rows.size().0), (0, 0));
        assert!(rows.row(0).is_none() && rows.last().is_none());
        let mut rows = page();
        rows.truncate(2);
        assert_eq!((rows.len(), rows.size().0), (2, 8));
        let last = rows.last().unwrap();
        assert_eq!(last.get(0), Some(Ok(ValueRef::Int(1))));
        assert_eq!(last.get(1), Some(Ok(ValueRef::Text("t1"))));
        assert_eq!(
            last.get(2),
            Some(Ok(ValueRef::Json(&serde_json::json!([1]))))
        );
        assert_eq!(last.get(3), Some(Err("e1")));
        assert_eq!(last.get(4), None);
        assert!(rows.row(2).is_none());
        rows.push(Value::Int(9));
        rows.end_row();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.last().map(|r| r.len()), Some(1));
        assert_eq!(first(&rows, 2), Some(Ok(ValueRef::Int(9))));
        for cut in [3, 4] {
            let mut rows = page();
            rows.truncate(cut);
            assert_eq!((rows.len(), rows.size().0), (3, 12));
            assert_eq!(first(&rows, 2), Some(Ok(ValueRef::Int(2))));
        }
    }

    /// Every kind of value comes back as the `Value` pushed would read, row by row, and a
    /// zone-less time is read in the page's zone as `localize` reads it.
    #[test]
    fn rows_hold_what_was_pushed() {
        let t = NaiveDate::from_ymd_opt(2025, 3, 1)
            .and_then(|d| d.and_hms_micro_opt(10, 0, 0, 250))
            .unwrap_or_default();
        let values = vec![
            Ok(Value::Null),
            Ok(Value::Bool(true)),
            Ok(Value::Int(-3)),
            Ok(Value::UInt(u64::MAX)),
            Ok(Value::Float(1.5)),
            Ok(Value::Text("héllo".into())),
            Ok(Value::Text(String::new())),
            Ok(Value::Decimal("1.50".into())),
            Ok(Value::Json(serde_json::json!({"a": [1]}))),
            Ok(Value::Date(t.date())),
            Ok(Value::Time(t.time())),
            Ok(Value::Timestamp(t)),
            Ok(Value::TimestampTz(t.and_utc())),
            Ok(Value::Bytes(7)),
            Err("bad".to_owned()),
        ];
        for zone in [Zone::utc(), Zone::named("+02:00").unwrap_or_else(Zone::utc)] {
            let mut rows = Rows::new(zone);
            for shift in 0..3 {
                for v in values.iter().skip(shift) {
                    rows.push_result(v.clone());
                }
                rows.end_row();
            }
            rows.end_row();
            assert_eq!(rows.len(), 4);
            for shift in 0..3 {
                let mut want: Vec<Result<Value, String>> =
                    values.iter().skip(shift).cloned().collect();
                connector_core::rows::localize(&mut want, zone);
                let row = rows.row(shift).unwrap_or_else(|| panic!("row {shift}"));
                assert_eq!(row.len(), want.len());
                for (i, w) in want.iter().enumerate() {
                    let got = row.get(i);
                    let want = w.as_ref().map(Value::as_value_ref).map_err(String::as_str);
                    assert_eq!(got, Some(want), "row {shift} column {i}");
                }
                assert_eq!(row.get(want.len()), None);
            }
            assert_eq!(rows.last().map(|r| r.len()), Some(0));
            assert!(rows.row(4).is_none());
            assert_eq!(rows.iter().count(), 4);
        }
    }
}
