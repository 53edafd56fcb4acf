//! Records as documents: every field rendered readably by its type, short values in the front
//! matter (and `metadata.fields`), long text as Markdown sections.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use connector_core::ids::{hash128, hash128_written};
use connector_core::jsonref::{JsonRef, Str};
use connector_core::text::markdown::{self, MarkdownOut};
use connector_core::window::Zone;
use connector_core::{Access, Document};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use url::Url;

use super::SOURCE;
use super::model::{Field, Record, Sheet};

/// A text longer than this (or one with a line break) is a body section, not front matter.
const SHORT_TEXT: usize = 200;

/// What a record's text buffer holds besides its fields' own JSON length at first: the
/// record's facts in the front matter (id, sheet, times, users) and the title. A record's
/// fields read shorter as Markdown than as JSON (select ids, quotes and braces go), so most
/// records' text fits and the buffer grows once or never, rather than doubling from a few
/// bytes; and it is sized to the record rather than a fixed kilobyte, which for a small record
/// was glibc's large-chunk path (a `malloc_consolidate` of every small block freed since).
const TEXT_HEADROOM: usize = 256;

/// How a field's values read: its type and, for a date, how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldType {
    kind: String,
    date: Option<DateStyle>,
}

/// How a date (epoch milliseconds) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateStyle {
    /// `None`: a UTC instant (RFC 3339), the default.
    zone: Option<Zone>,
    /// The field shows no time of day (`formatter` `YYYY-MM-DD`): with a zone, the day alone.
    day_only: bool,
}

impl DateStyle {
    fn write(self, ms: i64) -> Option<String> {
        let t = instant(ms)?;
        let Some(zone) = self.zone else {
            return Some(t.to_rfc3339());
        };
        let local = zone.wall_clock(t)?;
        if self.day_only {
            return Some(local.date().to_string());
        }
        let offset = i32::try_from((local - t.naive_utc()).num_seconds()).ok()?;
        Some(
            t.with_timezone(&FixedOffset::east_opt(offset)?)
                .to_rfc3339(),
        )
    }
}

impl FieldType {
    /// The type of a field named `kind` with `formatter`, dates written in `zone`: `date`,
    /// `createdTime` and `lastModifiedTime` are dates, and so is a `formula` or `lookup`
    /// whose formatter is a date's (`YYYY-MM-DD …`).
    fn new(kind: &str, formatter: Option<&str>, zone: Option<Zone>) -> Self {
        let dated = match kind {
            "date" | "createdTime" | "lastModifiedTime" => true,
            "formula" | "lookup" => formatter.is_some_and(|f| f.trim_start().starts_with("YYYY")),
            _ => false,
        };
        Self {
            kind: kind.to_owned(),
            date: dated.then(|| DateStyle {
                zone,
                day_only: formatter.is_some_and(|f| !f.contains(['H', 'h'])),
            }),
        }
    }
}

/// A sheet as the conversion needs it: its fields' types, in order, and who may read.
#[derive(Debug, Clone)]
pub(crate) struct SheetView {
    pub(crate) base: String,
    pub(crate) sheet: Sheet,
    /// The sheet's fields in the API's order (the primary field first); empty when the field
    /// list could not be read.
    pub(crate) fields: Vec<Field>,
    /// Each field's type, in the order of `fields`.
    types: Vec<FieldType>,
    by_name: HashMap<String, FieldType>,
    /// The names of the attachment fields.
    attachments: Vec<String>,
    /// The sheet's document id: the records' parent.
    parent: String,
    pub(crate) groups: Vec<String>,
    /// A hash of what shapes a record's document besides the record: the sheet's name, its
    /// fields' names and types, the access groups.
    render_key: String,
    /// The base's web link, parsed once for every record of the sheet.
    link: Option<Url>,
}

impl SheetView {
    /// The view of `sheet` of `base` with its `fields`, readable by `groups`, dates written
    /// in `zone` (`None`: UTC instants).
    pub(crate) fn new(
        base: &str,
        sheet: Sheet,
        fields: Vec<Field>,
        groups: Vec<String>,
        zone: Option<Zone>,
    ) -> Self {
        let formatter = |f: &Field| f.property.as_ref().and_then(|p| p.formatter.clone());
        let types: Vec<FieldType> = fields
            .iter()
            .map(|f| FieldType::new(&f.kind, formatter(f).as_deref(), zone))
            .collect();
        let by_name = fields
            .iter()
            .zip(&types)
            .map(|(f, t)| (f.name.clone(), t.clone()))
            .collect();
        let attachments = fields
            .iter()
            .filter(|f| f.kind == "attachment")
            .map(|f| f.name.clone())
            .collect();
        let mut shape = format!("{}|{}", sheet.name, groups.join(","));
        for f in &fields {
            let _ = write!(shape, "|{}:{}:{}", f.id, f.name, f.kind);
            // A formatter that changes how the values read (a date's, in a zone; a formula's
            // or lookup's date), and only then: the key of any other sheet stays as it was.
            if let Some(fmt) = formatter(f) {
                let computed = matches!(f.kind.as_str(), "formula" | "lookup");
                let dated = FieldType::new(&f.kind, Some(&fmt), None).date.is_some();
                if dated && (computed || zone.is_some()) {
                    let _ = write!(shape, ":{fmt}");
                }
            }
        }
        if let Some(z) = zone {
            let _ = write!(shape, "|tz:{z}");
        }
        Self {
            link: Url::parse(&format!("https://alidocs.dingtalk.com/i/nodes/{base}")).ok(),
            base: base.to_owned(),
            render_key: hash128(&shape),
            parent: format!("{SOURCE}:{base}:{}", sheet.id),
            sheet,
            fields,
            types,
            by_name,
            attachments,
            groups,
        }
    }

    fn typed(&self, name: &str) -> Option<&FieldType> {
        self.by_name.get(name)
    }

    fn kind(&self, name: &str) -> Option<&str> {
        self.typed(name).map(|t| t.kind.as_str())
    }

    /// The sheet's document id: the records' parent.
    pub(crate) fn sheet_doc_id(&self) -> String {
        self.parent.clone()
    }

    /// The web link of the base (the API gives no per-record link).
    pub(crate) fn link(&self) -> Option<Url> {
        self.link.clone()
    }
}

/// The document id of a record.
pub(crate) fn record_id(base: &str, sheet: &str, record: &str) -> String {
    format!("{SOURCE}:{base}:{sheet}:{record}")
}

/// Epoch milliseconds as an instant.
pub(crate) fn instant(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// A record's version: its id, its last modification, a hash of its fields and of the
/// sheet's shape. A change that moves no modified time (a formula, a lookup) still moves the
/// hash; an attachment's `url` does not: DingTalk hands out a download link that expires and
/// is new at every listing, so hashing it would make every record with a file look changed
/// on every run. The fields' JSON is hashed as it came (by field name), not read and written
/// again.
pub(crate) fn record_version(view: &SheetView, record: &Record) -> String {
    let fields = record.raw_fields();
    let mut order: Vec<&(Str<'_>, &RawValue)> = fields.0.iter().collect();
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let hash = hash128_written(|buf| {
        for (name, raw) in order {
            let name: &str = name;
            buf.extend_from_slice(name.as_bytes());
            buf.push(0);
            // The attachment fields by name; a list's shape only for a field the sheet does
            // not type.
            let text = raw.get();
            let listed = view.attachments.iter().any(|a| a == name)
                || (text.starts_with('[') && view.kind(name).is_none());
            let items = if listed {
                serde_json::from_str::<Vec<JsonRef<'_>>>(text)
                    .ok()
                    .filter(|items| {
                        view.attachments.iter().any(|a| a == name) || is_attachment_list(items)
                    })
            } else {
                None
            };
            match items {
                Some(items) => {
                    for item in &items {
                        match item.as_object() {
                            Some(o) => {
                                let mut members: Vec<_> =
                                    o.iter().filter(|(k, _)| k != "url").collect();
                                members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                                for (k, v) in members {
                                    buf.extend_from_slice(k.as_bytes());
                                    buf.push(b'=');
                                    // Writing into a `Vec` cannot fail.
                                    let _ = serde_json::to_writer(&mut *buf, v);
                                    buf.push(b',');
                                }
                            }
                            None => {
                                let _ = serde_json::to_writer(&mut *buf, item);
                            }
                        }
                        buf.push(b';');
                    }
                }
                None => buf.extend_from_slice(text.as_bytes()),
            }
            buf.push(0);
        }
    });
    format!(
        "{}|{}|{}|{hash}",
        record.id, record.last_modified_time, view.render_key
    )
}

/// Whether these elements are attachments (`[{"filename", "size", "type", "url"}]`), by
/// their shape (for a field the sheet does not type): some, each with a `filename` and a `url`.
fn is_attachment_list(items: &[JsonRef<'_>]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|v| v.get("filename").is_some() && v.get("url").is_some())
}

/// A field's value as one line of text, by its type where known: dates (epoch ms) as UTC
/// instants (or in `time_zone`), selects by their names, users by name or unionId, links
/// and attachments by their text, lists joined; a formula's or lookup's result as what it
/// holds.
fn plain(kind: Option<&FieldType>, value: &JsonRef<'_>) -> String {
    let mut out = String::new();
    write_plain(&mut out, kind, value);
    out
}

/// [`plain`], written at the end of `out` (lists without a copy of each element).
fn write_plain(out: &mut String, kind: Option<&FieldType>, value: &JsonRef<'_>) {
    match value {
        JsonRef::Null => {}
        JsonRef::Str(s) => out.push_str(s),
        JsonRef::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
        JsonRef::Number(n) => match (kind.and_then(|k| k.date), n.as_i64()) {
            (Some(style), Some(ms)) => match style.write(ms) {
                Some(t) => out.push_str(&t),
                None => {
                    let _ = write!(out, "{n}");
                }
            },
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        JsonRef::Array(items) => write_list(out, kind, items),
        JsonRef::Object(members) => {
            let keys = ObjectKeys::of(members);
            if let Some(ids) = keys.linked.and_then(JsonRef::as_array) {
                return write_list(out, None, ids);
            }
            let text = |k: usize| {
                keys.text[k]
                    .and_then(JsonRef::as_str)
                    .filter(|s| !s.is_empty())
            };
            if let (Some(t), Some(link)) = (
                text(KEY_TEXT).or(text(KEY_TITLE)),
                text(KEY_LINK).or(text(KEY_URL)),
            ) {
                out.push_str(t);
                out.push_str(" <");
                out.push_str(link);
                out.push('>');
                return;
            }
            // The first of `TEXT_KEYS`, in its order, that is a non-empty string.
            match (0..TEXT_KEYS.len()).find_map(text) {
                Some(t) => out.push_str(t),
                // As a map writes it: keys in order.
                None => {
                    let _ = write!(out, "{}", value.to_value());
                }
            }
        }
    }
}

/// The members of an object value that [`write_plain`] reads as its text, in the order it
/// prefers them (the value's name first).
const TEXT_KEYS: [&str; 11] = [
    "name", "filename", "text", "title", "link", "url", "unionId", "userId", "deptId", "markdown",
    "value",
];
/// Places in [`TEXT_KEYS`] of the members a link is written from (`text <link>`).
const KEY_TEXT: usize = 2;
const KEY_TITLE: usize = 3;
const KEY_LINK: usize = 4;
const KEY_URL: usize = 5;

/// An object value's members that [`write_plain`] reads, found in one pass over its
/// members rather than a search per name; like [`JsonRef::get`], the first member of a name.
struct ObjectKeys<'v, 'a> {
    linked: Option<&'v JsonRef<'a>>,
    text: [Option<&'v JsonRef<'a>>; TEXT_KEYS.len()],
}

impl<'v, 'a> ObjectKeys<'v, 'a> {
    fn of(members: &'v [(Cow<'a, str>, JsonRef<'a>)]) -> Self {
        let mut keys = Self {
            linked: None,
            text: [None; TEXT_KEYS.len()],
        };
        for (k, v) in members {
            let k: &str = k;
            if k == "linkedRecordIds" {
                keys.linked.get_or_insert(v);
            } else if let Some(i) = TEXT_KEYS.iter().position(|t| *t == k) {
                keys.text[i].get_or_insert(v);
            }
        }
        keys
    }
}

/// The elements of a list, each as [`plain`], the empty ones left out, joined by `, `.
fn write_list(out: &mut String, kind: Option<&FieldType>, items: &[JsonRef<'_>]) {
    let start = out.len();
    for item in items {
        let before = out.len();
        if before > start {
            out.push_str(", ");
        }
        let at = out.len();
        write_plain(out, kind, item);
        if out.len() == at {
            out.truncate(before);
        }
    }
}

/// A field's value as front matter holds it: numbers and booleans as they are (dates as
/// instants), objects as their text, lists element by element.
fn meta_value(kind: Option<&FieldType>, value: &JsonRef<'_>) -> Value {
    match value {
        JsonRef::Array(items) => Value::Array(items.iter().map(|v| meta_value(kind, v)).collect()),
        JsonRef::Object(_) => Value::String(plain(kind, value)),
        JsonRef::Number(_) if kind.is_some_and(|k| k.date.is_some()) => {
            Value::String(plain(kind, value))
        }
        other => other.to_value(),
    }
}

/// Whether a value is long text: a body section rather than front matter.
fn is_long(kind: Option<&FieldType>, value: &JsonRef<'_>) -> bool {
    if kind.is_some_and(|k| k.kind == "richText") {
        return true;
    }
    match value {
        JsonRef::Str(s) => {
            s.contains('\n') || (s.len() > SHORT_TEXT && s.chars().count() > SHORT_TEXT)
        }
        JsonRef::Object(_) => value.get("markdown").is_some(),
        _ => false,
    }
}

/// A record as a Markdown document: front matter with the record's id, sheet, times, users
/// and short fields; the first text field as the title; long text fields as `##` sections, in
/// the sheet's field order (then any field the list does not name, by name). The fields are
/// read from the record's JSON as listed, their text borrowed until it is written.
pub(crate) fn record_document(view: &SheetView, record: Record, version: &str) -> Document {
    let values = record.fields();
    let members = &values.0;
    // The sheet's fields in its order (by member), then those it does not name (rare), by
    // name.
    let mut order: Vec<(usize, Option<&FieldType>)> = Vec::with_capacity(members.len());
    for (f, t) in view.fields.iter().zip(&view.types) {
        if let Some(m) = members.iter().position(|(k, _)| **k == *f.name) {
            order.push((m, Some(t)));
        }
    }
    if order.len() < members.len() {
        let mut extra: Vec<usize> = (0..members.len())
            .filter(|&m| view.typed(&members[m].0).is_none())
            .collect();
        extra.sort_unstable_by(|&a, &b| members[a].0.cmp(&members[b].0));
        order.extend(extra.into_iter().map(|m| (m, None)));
    }

    let title = order
        .iter()
        .map(|&(m, kind)| (kind, &members[m].1))
        .find_map(|(kind, v)| {
            let text = v.as_str()?;
            (matches!(
                kind.map(|k| k.kind.as_str()),
                None | Some("text" | "primaryDoc")
            ) && !is_long(kind, v))
            .then_some(text)
        })
        .map(|t| t.lines().next().unwrap_or_default().trim())
        .filter(|t| !t.is_empty())
        .map_or_else(
            || format!("{} {}", view.sheet.name, record.id),
            str::to_owned,
        );

    let mut meta: Vec<(&str, Value)> = Vec::with_capacity(order.len());
    // The long fields, written after the front matter into the same buffer.
    let mut sections: Vec<(&str, Option<&FieldType>, &JsonRef<'_>)> = Vec::new();
    for (m, kind) in order {
        let (name, value) = &members[m];
        let name: &str = name;
        if is_long(kind, value) {
            sections.push((name, kind, value));
        } else {
            meta.push((name, meta_value(kind, value)));
        }
    }

    let updated = instant(record.last_modified_time);
    let created = instant(record.created_time);
    let doc_id = record_id(&view.base, &view.sheet.id, &record.id);
    let id = Value::String(record.id.clone());
    let sheet = Value::String(view.sheet.name.clone());
    let sheet_id = Value::String(view.sheet.id.clone());
    // As chrono's `Serialize` writes a time (`Z`, the fraction only when there is one), with
    // no trip through `Display`.
    let stamp = |t: Option<DateTime<Utc>>| {
        t.map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        })
    };
    let created_json = stamp(created);
    let updated_json = stamp(updated);
    let creator = record.created_by.as_ref().and_then(|u| u.union_id.clone());
    let modifier = record
        .last_modified_by
        .as_ref()
        .and_then(|u| u.union_id.clone());
    let creator_json = creator.clone().map_or(Value::Null, Value::String);
    let modifier_json = modifier.clone().map_or(Value::Null, Value::String);
    let mut header: Vec<(&str, &Value)> = Vec::with_capacity(7 + meta.len());
    header.extend([
        ("record_id", &id),
        ("sheet", &sheet),
        ("sheet_id", &sheet_id),
        ("created_time", &created_json),
        ("last_modified_time", &updated_json),
    ]);
    if creator.is_some() {
        header.push(("created_by", &creator_json));
    }
    if modifier.is_some() {
        header.push(("last_modified_by", &modifier_json));
    }
    header.extend(meta.iter().map(|(k, v)| (*k, v)));
    // Front matter and body in one buffer, with no copy of either.
    let mut text = String::with_capacity(record.fields_len() + TEXT_HEADROOM);
    markdown::front_matter_into(&mut text, header);
    {
        let mut md = MarkdownOut::new(&mut text);
        md.heading(1, &title);
        for (name, kind, value) in sections {
            md.heading(2, name);
            match value {
                JsonRef::Object(_) if value.get("markdown").and_then(JsonRef::as_str).is_some() => {
                    let md_text = value
                        .get("markdown")
                        .and_then(JsonRef::as_str)
                        .unwrap_or_default();
                    md.markdown(md_text.trim_end());
                }
                JsonRef::Str(s) => md.plain_text(s),
                _ => md.plain_text(&plain(kind, value)),
            }
        }
    }
    let fields: Map<String, Value> = meta.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();

    // Filled in place: the document is not moved in and out per field.
    let mut doc = Document::text(doc_id, SOURCE, title, text);
    doc.parent_id = Some(view.parent.clone());
    let m = &mut doc.metadata;
    m.insert("table_id".into(), Value::String(view.base.clone()));
    m.insert("sheet_id".into(), sheet_id);
    m.insert("sheet_name".into(), sheet);
    m.insert("record_id".into(), id);
    m.insert("created_time".into(), created_json);
    if creator.is_some() {
        m.insert("created_by".into(), creator_json);
    }
    if modifier.is_some() {
        m.insert("last_modified_by".into(), modifier_json);
    }
    if !fields.is_empty() {
        m.insert("fields".into(), Value::Object(fields));
    }
    // The API shows no per-record permissions: only the configured groups, never everyone.
    doc.access = Some(Access::restricted(Vec::new(), view.groups.clone()));
    if let Some(c) = creator {
        doc.owners = vec![c];
    }
    doc.link = view.link();
    doc.updated_at = updated;
    doc.with_version(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain(kind: Option<&FieldType>, value: &Value) -> String {
        super::plain(kind, &JsonRef::from(value))
    }

    fn meta_value(kind: Option<&FieldType>, value: &Value) -> Value {
        super::meta_value(kind, &JsonRef::from(value))
    }

    #[test]
    fn an_attachments_expiring_url_moves_no_version_but_its_file_does() {
        let fields = vec![
            Field {
                id: "f1".into(),
                name: "Name".into(),
                kind: "text".into(),
                property: None,
            },
            Field {
                id: "f2".into(),
                name: "Spec".into(),
                kind: "attachment".into(),
                property: None,
            },
        ];
        let sheet = Sheet {
            id: "s1".into(),
            name: "Tasks".into(),
        };
        let typed = SheetView::new("base1", sheet.clone(), fields, Vec::new(), None);
        let untyped = SheetView::new("base1", sheet, Vec::new(), Vec::new(), None);
        let record = |url: &str, file: &str| {
            Record::from_json(&json!({
                "id": "r1", "createdTime": 1, "lastModifiedTime": 2,
                "fields": {"Name": "a", "Spec": [{"filename": file, "size": 20, "type": "pdf", "url": url}]},
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        for view in [&typed, &untyped] {
            let first = record_version(view, &record("https://dl/1?Expires=1", "spec.pdf"));
            assert_eq!(
                first,
                record_version(view, &record("https://dl/1?Expires=2", "spec.pdf"))
            );
            assert_ne!(
                first,
                record_version(view, &record("https://dl/1?Expires=2", "spec2.pdf"))
            );
        }
    }

    fn t(kind: &str) -> FieldType {
        FieldType::new(kind, None, None)
    }

    #[test]
    fn typed_values_read_as_text() {
        assert_eq!(
            plain(Some(&t("date")), &json!(1_714_000_000_000_i64)),
            "2024-04-24T23:06:40+00:00"
        );
        assert_eq!(
            plain(Some(&t("number")), &json!(1_714_000_000_000_i64)),
            "1714000000000"
        );
        assert_eq!(
            plain(
                Some(&t("multipleSelect")),
                &json!([{"id": "o1", "name": "red"}, {"name": "blue"}])
            ),
            "red, blue"
        );
        assert_eq!(
            plain(
                Some(&t("url")),
                &json!({"text": "Docs", "link": "https://example.com"})
            ),
            "Docs <https://example.com>"
        );
        assert_eq!(plain(Some(&t("user")), &json!([{"unionId": "u1"}])), "u1");
        assert_eq!(
            plain(
                Some(&t("department")),
                &json!([{"deptId": "d1"}, {"deptId": "d2"}])
            ),
            "d1, d2"
        );
        assert_eq!(
            plain(
                Some(&t("bidirectionalLink")),
                &json!({"linkedRecordIds": ["r1", "r2"]})
            ),
            "r1, r2"
        );
        assert_eq!(
            meta_value(Some(&t("lastModifiedTime")), &json!(0)),
            json!("1970-01-01T00:00:00+00:00")
        );
    }

    #[test]
    fn dates_read_in_the_configured_zone() {
        let shanghai = Zone::named("Asia/Shanghai");
        // 2025-06-30T16:00:00Z: midnight of 1 July in Beijing.
        let ms = json!(1_751_299_200_000_i64);
        let day = FieldType::new("date", Some("YYYY-MM-DD"), shanghai);
        assert_eq!(plain(Some(&day), &ms), "2025-07-01");
        let timed = FieldType::new("date", Some("YYYY-MM-DD HH:mm"), shanghai);
        assert_eq!(plain(Some(&timed), &ms), "2025-07-01T00:00:00+08:00");
        // Without a zone: the UTC instant, as before, whatever the formatter.
        let utc = FieldType::new("date", Some("YYYY-MM-DD"), None);
        assert_eq!(plain(Some(&utc), &ms), "2025-06-30T16:00:00+00:00");
        // A formula or lookup is a date when its formatter is a date's, else its number.
        let formula = FieldType::new("formula", Some("YYYY-MM-DD"), shanghai);
        assert_eq!(meta_value(Some(&formula), &ms), json!("2025-07-01"));
        let number = FieldType::new("formula", Some("FLOAT_2"), shanghai);
        assert_eq!(meta_value(Some(&number), &ms), ms);
        // Daylight saving time: New York is UTC-4 in July, UTC-5 in January.
        let ny = Zone::named("America/New_York");
        let timed = FieldType::new("date", None, ny);
        assert_eq!(plain(Some(&timed), &ms), "2025-06-30T12:00:00-04:00");
        assert_eq!(
            plain(Some(&timed), &json!(1_736_000_000_000_i64)),
            "2025-01-04T09:13:20-05:00"
        );
    }
}
