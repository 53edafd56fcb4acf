//! Records and attachments as documents: fields rendered by their schema type, as Markdown
//! sections or as front matter and metadata.

use std::collections::HashMap;
use std::fmt::Write as _;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::ids::{hash128, hash128_written};
use connector_core::jsonref::{JsonRef, Str};
use connector_core::text::markdown::{self, MarkdownOut};
use connector_core::time;
use connector_core::{Document, MetaKey};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use url::Url;

use super::SOURCE;
use super::model::{Attachment, Field, RawFields, Record, Table};

/// The first size of a record's text buffer: most records' front matter and body fit, so it
/// grows once or never instead of doubling from a few bytes.
const TEXT_CAPACITY: usize = 1024;

/// Field types that are short and filterable: front matter and metadata unless
/// `treat_all_non_attachment_fields_as_metadata` puts every field there (Onyx's list).
const METADATA_TYPES: &[&str] = &[
    "singleCollaborator",
    "multipleCollaborators",
    "createdBy",
    "lastModifiedBy",
    "singleSelect",
    "multipleSelects",
    "checkbox",
    "date",
    "dateTime",
    "email",
    "phoneNumber",
    "url",
    "number",
    "currency",
    "duration",
    "percent",
    "rating",
    "createdTime",
    "lastModifiedTime",
    "autoNumber",
    "rollup",
    "multipleLookupValues",
    "count",
    "formula",
];

/// How a field of the schema shows in a record's document.
#[derive(Debug, Clone)]
struct Role {
    /// A `multipleAttachments` field: its files are listed last (and are documents).
    attachments: bool,
    /// In the front matter and metadata rather than a section.
    metadata: bool,
    /// The table a `multipleRecordLinks` field links to.
    linked: Option<String>,
}

/// The table as the conversion needs it: its schema, indexed, and where `updated_at` comes
/// from.
#[derive(Debug, Clone)]
pub(crate) struct TableView {
    pub(crate) base: String,
    pub(crate) table: Table,
    /// Field name → its schema.
    pub(crate) by_name: HashMap<String, Field>,
    pub(crate) primary: Option<String>,
    /// The last-modified-time field read for `updated_at` and window filters, by name.
    pub(crate) modified: Option<String>,
    pub(crate) all_metadata: bool,
    /// `https://airtable.com/{base}/{table}`, when it parses back to the same text.
    table_link: Option<Url>,
    /// How each field of `table.fields` shows in a record's document, in the same order:
    /// worked out once, not looked up per field of every record.
    roles: Vec<Role>,
    /// A hash of what shapes a record's document besides the record: the table's name, its
    /// fields' names and types, the metadata switch. Part of every record's version, so a
    /// renamed field or a changed setting renders the records anew.
    render_key: String,
}

impl TableView {
    pub(crate) fn new(
        base: &str,
        table: Table,
        modified: Option<String>,
        all_metadata: bool,
    ) -> Self {
        let by_name: HashMap<String, Field> = table
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.clone()))
            .collect();
        let primary = table
            .fields
            .iter()
            .find(|f| f.id == table.primary_field_id)
            .map(|f| f.name.clone());
        let mut shape = format!("{}|{}|{all_metadata}", table.name, table.primary_field_id);
        for f in &table.fields {
            let _ = write!(shape, "|{}:{}:{}", f.id, f.name, f.kind);
        }
        let table_text = format!("https://airtable.com/{base}/{}", table.id);
        let table_link = Url::parse(&table_text)
            .ok()
            .filter(|u| u.as_str() == table_text);
        let mut view = Self {
            base: base.to_owned(),
            table_link,
            roles: Vec::new(),
            render_key: hash128(&shape),
            table,
            by_name,
            primary,
            modified,
            all_metadata,
        };
        view.roles = view
            .table
            .fields
            .iter()
            .map(|f| Role {
                attachments: view.kind(&f.name) == Some("multipleAttachments"),
                metadata: view.is_metadata(&f.name),
                linked: view.linked_table(&f.name).map(str::to_owned),
            })
            .collect();
        view
    }

    fn kind(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(|f| f.kind.as_str())
    }

    /// Whether field `name` holding `value` is an attachment field: by its type, or (no
    /// schema) by its shape.
    pub(crate) fn is_attachments(&self, name: &str, value: &JsonRef<'_>) -> bool {
        match self.kind(name) {
            Some(kind) => kind == "multipleAttachments",
            None => value.as_array().is_some_and(|a| {
                !a.is_empty()
                    && a.iter().all(|v| {
                        v.get("id")
                            .and_then(JsonRef::as_str)
                            .is_some_and(|id| id.starts_with("att"))
                            && v.get("filename").is_some()
                    })
            }),
        }
    }

    /// [`is_attachments`](Self::is_attachments) of a value as listed: read only when the
    /// schema does not type the field and it is a list.
    fn is_attachments_raw(&self, name: &str, raw: &RawValue) -> bool {
        // Only a list holds attachments: no lookup of the field for the other values.
        if !raw.get().starts_with('[') {
            return false;
        }
        match self.kind(name) {
            Some(kind) => kind == "multipleAttachments",
            None => serde_json::from_str::<JsonRef<'_>>(raw.get())
                .is_ok_and(|v| self.is_attachments(name, &v)),
        }
    }

    /// The table a `multipleRecordLinks` field links to.
    fn linked_table(&self, name: &str) -> Option<&str> {
        let field = self.by_name.get(name)?;
        if field.kind != "multipleRecordLinks" {
            return None;
        }
        field.options.as_ref()?.get("linkedTableId")?.as_str()
    }

    fn is_metadata(&self, name: &str) -> bool {
        if self.all_metadata {
            return true;
        }
        let Some(field) = self.by_name.get(name) else {
            return false;
        };
        if !METADATA_TYPES.contains(&field.kind.as_str()) {
            return false;
        }
        // A lookup, rollup or formula whose result is long text (a lookup of notes, an
        // ARRAYJOIN of descriptions) is body text, not a filterable value: in the front matter
        // it would bloat every record's metadata and stay out of the text that is searched.
        let result = field
            .options
            .as_ref()
            .and_then(|o| o.get("result"))
            .and_then(|r| r.get("type"))
            .and_then(Value::as_str);
        !matches!(result, Some("multilineText" | "richText"))
    }

    /// The record's last modification: the modified field's value, else (an empty one: never
    /// edited) its creation; none without a modified field, and none when the field holds
    /// something that is not an instant (a date-only field, a formula's text): then nothing is
    /// known, the window's formula alone decides and `updated_at` stays unset, rather than the
    /// creation time filtering an edited record out of every poll.
    pub(crate) fn updated_at(&self, record: &Record) -> Option<DateTime<Utc>> {
        self.updated_from(record.created_time, &record.raw_fields())
    }

    /// [`updated_at`](Self::updated_at) of a record created at `created` with these fields.
    pub(crate) fn updated_from(
        &self,
        created: DateTime<Utc>,
        fields: &RawFields<'_>,
    ) -> Option<DateTime<Utc>> {
        let field = self.modified.as_ref()?;
        match fields.get(field) {
            None => Some(created),
            Some(raw) => serde_json::from_str::<JsonRef<'_>>(raw.get())
                .ok()
                .and_then(|v| updated_of(created, Some(&v))),
        }
    }

    /// The record's web link as a URL: [`record_url`](Self::record_url) parsed, or for a
    /// record id of letters and digits (every id Airtable hands out), the table's link with
    /// the id appended, which is the same URL without parsing it again.
    pub(crate) fn record_link(&self, record: &str) -> Option<Url> {
        match &self.table_link {
            Some(table)
                if !record.is_empty() && record.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                let mut link = table.clone();
                // One segment appended (letters and digits: nothing to encode), without the
                // whole path parsed again.
                match link.path_segments_mut() {
                    Ok(mut path) => {
                        path.push(record);
                    }
                    Err(()) => return Url::parse(&self.record_url(record)).ok(),
                }
                Some(link)
            }
            _ => Url::parse(&self.record_url(record)).ok(),
        }
    }

    /// The record's web link.
    pub(crate) fn record_url(&self, record: &str) -> String {
        format!(
            "https://airtable.com/{}/{}/{record}",
            self.base, self.table.id
        )
    }

    /// The attachments of a record with these fields, each with its field's name.
    pub(crate) fn attachments(&self, fields: &RawFields<'_>) -> Vec<(String, Attachment)> {
        let mut out = Vec::new();
        for (name, raw) in &fields.0 {
            if !self.is_attachments_raw(name, raw) {
                continue;
            }
            let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
                continue;
            };
            for item in items {
                if let Ok(a) = serde_json::from_str::<Attachment>(item.get()) {
                    out.push((name.to_string(), a));
                }
            }
        }
        out
    }
}

/// The last modification told by the modified field's `value` (`None`: the record has no
/// such field): its instant; the creation while it is empty; none for what is not an instant.
fn updated_of(created: DateTime<Utc>, value: Option<&JsonRef<'_>>) -> Option<DateTime<Utc>> {
    match value {
        None | Some(JsonRef::Null) => Some(created),
        Some(JsonRef::Str(s)) if s.is_empty() => Some(created),
        Some(JsonRef::Str(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Some(_) => None,
    }
}

/// The document id of a record.
pub(crate) fn record_id(record: &str) -> String {
    ["airtable:", record].concat()
}

/// The document id of an attachment: RAGFlow's.
pub(crate) fn attachment_id(record: &str, attachment: &str) -> String {
    ["airtable:", record, ":", attachment].concat()
}

/// A record's version: a hash of its fields as listed (their JSON text, by field name),
/// attachments by id, name, size and type only (their URLs are signed anew on every listing).
/// Any change of any field moves it, computed fields (formulas, lookups, rollups) included,
/// which Airtable's own last-modified time does not see. The text is hashed as it came, not
/// read and written again.
pub(crate) fn record_version(view: &TableView, record: &str, fields: &RawFields<'_>) -> String {
    let mut order: Vec<&(Str<'_>, &RawValue)> = fields.0.iter().collect();
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let hash = hash128_written(|buf| {
        for (name, raw) in order {
            buf.extend_from_slice(name.as_bytes());
            buf.push(0);
            if view.is_attachments_raw(name, raw) {
                let items = serde_json::from_str::<Vec<JsonRef<'_>>>(raw.get()).unwrap_or_default();
                for a in &items {
                    // Writing into a `Vec` cannot fail.
                    let _ = serde_json::to_writer(
                        &mut *buf,
                        &(a.get("id"), a.get("filename"), a.get("size"), a.get("type")),
                    );
                    buf.push(b';');
                }
            } else {
                buf.extend_from_slice(raw.get().as_bytes());
            }
            buf.push(0);
        }
    });
    [record, "|", &view.render_key, "|", &hash].concat()
}

/// An attachment's version: Airtable gives a new attachment a new id; name, size and type
/// complete it.
pub(crate) fn attachment_version(record: &str, a: &Attachment) -> String {
    format!(
        "{record}|{}|{}|{}|{}",
        a.id,
        a.filename,
        a.size.unwrap_or(0),
        a.mime.as_deref().unwrap_or("")
    )
}

/// A value as one line of text: strings as they are, collaborators as `Name <email>`,
/// buttons by their label, barcodes by their text, AI text by its value, lists joined.
fn plain(value: &JsonRef<'_>) -> String {
    let mut out = String::new();
    write_plain(&mut out, value);
    out
}

/// [`plain`], written at the end of `out`.
fn write_plain(out: &mut String, value: &JsonRef<'_>) {
    match value {
        JsonRef::Null => {}
        JsonRef::Str(s) => out.push_str(s),
        JsonRef::Bool(b) => out.push_str(if *b { "yes" } else { "no" }),
        JsonRef::Number(n) => {
            let _ = write!(out, "{n}");
        }
        JsonRef::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_plain(out, item);
            }
        }
        JsonRef::Object(_) => {
            let text = |k: &str| value.get(k).and_then(JsonRef::as_str);
            if let Some(name) = text("name").or(text("filename")) {
                out.push_str(name);
                if let Some(email) = text("email") {
                    let _ = write!(out, " <{email}>");
                }
            } else if let Some(t) = text("email")
                .or(text("label"))
                .or(text("text"))
                .or(text("value"))
            {
                out.push_str(t);
            } else if value.get("specialValue").is_none() && value.get("error").is_none() {
                // As a map writes it: keys in order.
                let _ = write!(out, "{}", value.to_value());
            }
        }
    }
}

/// A field's value as front matter and metadata hold it: scalars as they are,
/// collaborators and other objects as their text, lists element by element.
fn meta_value(value: &JsonRef<'_>) -> Value {
    match value {
        JsonRef::Array(items) => Value::Array(items.iter().map(meta_value).collect()),
        JsonRef::Object(_) => Value::String(plain(value)),
        other => other.to_value(),
    }
}

/// A field's value as Markdown, by its type; `scratch` holds a value's text on its way.
fn write_value(
    md: &mut MarkdownOut<'_>,
    kind: Option<&str>,
    value: &JsonRef<'_>,
    scratch: &mut String,
) {
    match (kind, value) {
        // Airtable's rich text is Markdown already.
        (Some("richText"), JsonRef::Str(s)) => md.markdown(s.trim_end()),
        (Some("multilineText") | None, JsonRef::Str(s)) => md.plain_text(s),
        (Some("url"), JsonRef::Str(s))
            if !s.contains(char::is_whitespace) && Url::parse(s).is_ok() =>
        {
            md.autolink(s);
        }
        (_, JsonRef::Array(items)) => list_of_plain(md, items, scratch),
        (_, v) => {
            scratch.clear();
            write_plain(scratch, v);
            md.paragraph(scratch);
        }
    }
}

/// A bullet list of the items, each as [`plain`].
fn list_of_plain(md: &mut MarkdownOut<'_>, items: &[JsonRef<'_>], scratch: &mut String) {
    for v in items {
        scratch.clear();
        write_plain(scratch, v);
        md.bullet(scratch);
    }
    md.end_list();
}

/// A record as a Markdown document: front matter with the record's id, times and metadata
/// fields; the primary field as the title; every other field as a `##` section, in schema
/// order (then any field the schema does not list, by name). The fields are read from the
/// record's JSON as listed, their text borrowed until it is written, and the Markdown is
/// written straight into the document's buffer.
pub(crate) fn record_document(view: &TableView, mut record: Record, version: &str) -> Document {
    // The id moves out: it ends in the metadata, with no copy.
    let rec_id = std::mem::take(&mut record.id);
    let fields = record.fields();
    let title = view
        .primary
        .as_ref()
        .and_then(|p| fields.get(p))
        .map(plain)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("{} {}", view.table.name, rec_id));
    let updated = view
        .modified
        .as_ref()
        .and_then(|m| updated_of(record.created_time, fields.get(m)));
    // The schema's fields (by member, with their place in the schema), then the members it
    // does not list (rare), by name.
    let members = &fields.0;
    let mut order: Vec<(usize, Option<usize>)> = Vec::with_capacity(members.len());
    for (i, f) in view.table.fields.iter().enumerate() {
        if let Some(m) = members.iter().position(|(k, _)| **k == *f.name) {
            order.push((m, Some(i)));
        }
    }
    if order.len() < members.len() {
        let mut extra: Vec<usize> = (0..members.len())
            .filter(|&m| !view.by_name.contains_key(&*members[m].0))
            .collect();
        extra.sort_unstable_by(|&a, &b| members[a].0.cmp(&members[b].0));
        order.extend(extra.into_iter().map(|m| (m, None)));
    }

    // In schema order for the front matter; `metadata.fields` is a map. The sections are
    // noted first and written after the front matter, into the same buffer.
    let mut meta: Vec<(&str, Value)> = Vec::with_capacity(order.len());
    let mut sections: Vec<Section<'_, '_>> = Vec::with_capacity(order.len());
    let mut files: Vec<(&str, &JsonRef<'_>)> = Vec::new();
    for (m, i) in order {
        let (name, value) = &members[m];
        let name: &str = name;
        let (attachments, metadata, linked, kind) = match i {
            Some(i) => {
                let role = &view.roles[i];
                (
                    role.attachments,
                    role.metadata,
                    role.linked.as_deref(),
                    Some(view.table.fields[i].kind.as_str()),
                )
            }
            None => (
                view.is_attachments(name, value),
                view.all_metadata,
                None,
                None,
            ),
        };
        if attachments {
            files.push((name, value));
            continue;
        }
        // Shown as `last_modified_time` already.
        if Some(name) == view.modified.as_deref() {
            continue;
        }
        if metadata {
            meta.push((name, meta_value(value)));
            continue;
        }
        if Some(name) == view.primary.as_deref() {
            continue;
        }
        sections.push(Section {
            name,
            value,
            linked,
            kind,
        });
    }

    let created = Value::String(time::rfc3339(&record.created_time));
    let table = Value::String(view.table.name.clone());
    let link = view.record_link(&rec_id);
    let doc_id = record_id(&rec_id);
    let id = Value::String(rec_id);
    let mut header: Vec<(&str, &Value)> = Vec::with_capacity(4 + meta.len());
    header.extend([
        ("record_id", &id),
        ("table", &table),
        ("created_time", &created),
    ]);
    let modified = updated.map(|t| Value::String(time::rfc3339(&t)));
    if let Some(m) = &modified {
        header.push(("last_modified_time", m));
    }
    header.extend(meta.iter().map(|(k, v)| (*k, v)));
    // Front matter and body in one buffer, with no copy of either.
    let mut text = String::with_capacity(TEXT_CAPACITY);
    markdown::front_matter_into(&mut text, header);
    {
        let mut md = MarkdownOut::new(&mut text);
        let mut scratch = String::new();
        md.heading(1, &title);
        for s in sections {
            md.heading(2, s.name);
            match s.linked {
                // Linked records as links to them (their ids: the listing holds no names).
                Some(table) => {
                    let mut url = String::new();
                    for rec in s
                        .value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(JsonRef::as_str)
                    {
                        url.clear();
                        url.push_str("https://airtable.com/");
                        url.push_str(&view.base);
                        url.push('/');
                        url.push_str(table);
                        url.push('/');
                        url.push_str(rec);
                        md.link_bullet(rec, &url);
                    }
                    md.end_list();
                }
                None => write_value(&mut md, s.kind, s.value, &mut scratch),
            }
        }
        for (name, value) in files {
            md.heading(2, name);
            list_of_plain(&mut md, value.as_array().unwrap_or_default(), &mut scratch);
        }
    }
    // The values move into `metadata.fields` once the front matter is written: no copy.
    let meta: Map<String, Value> = meta.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();

    // Filled in place: the document is not moved in and out per field.
    // The version is the fingerprint: the text is not hashed for one it would replace.
    // The metadata's keys, made without a check or an allocation per document.
    const BASE_ID: MetaKey = MetaKey::new_inline("base_id");
    const TABLE_ID: MetaKey = MetaKey::new_inline("table_id");
    const TABLE_NAME: MetaKey = MetaKey::new_inline("table_name");
    const RECORD_ID: MetaKey = MetaKey::new_inline("record_id");
    const CREATED_TIME: MetaKey = MetaKey::new_inline("created_time");
    const FIELDS: MetaKey = MetaKey::new_inline("fields");
    let mut doc = Document::text_with_version(doc_id, SOURCE, title, text, version);
    let m = &mut doc.metadata;
    // From the last key to the first: each goes in after one comparison.
    m.insert(TABLE_NAME, table);
    m.insert(TABLE_ID, Value::String(view.table.id.clone()));
    m.insert(RECORD_ID, id);
    if !meta.is_empty() {
        m.insert(FIELDS, Value::Object(meta));
    }
    m.insert(CREATED_TIME, created);
    m.insert(BASE_ID, Value::String(view.base.clone()));
    doc.link = link;
    doc.updated_at = updated;
    doc
}

/// A field shown as a `##` section of its record's document.
struct Section<'n, 'v> {
    name: &'n str,
    value: &'n JsonRef<'v>,
    /// The table a record-links field links to.
    linked: Option<&'n str>,
    kind: Option<&'n str>,
}

/// An attachment as a document of raw bytes, its record as parent.
pub(crate) fn attachment_document(
    view: &TableView,
    record: &Record,
    field: &str,
    a: &Attachment,
    data: Bytes,
) -> Document {
    let extension = std::path::Path::new(&a.filename)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let mime = a
        .mime
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let size = data.len() as u64;
    let title = if a.filename.is_empty() {
        a.id.clone()
    } else {
        a.filename.clone()
    };
    let mut doc = Document::bytes(
        attachment_id(&record.id, &a.id),
        SOURCE,
        title,
        data,
        mime,
        extension,
    )
    .with_size(size)
    .with_parent_id(record_id(&record.id))
    .with_metadata("base_id", json!(view.base))
    .with_metadata("table_id", json!(view.table.id))
    .with_metadata("record_id", json!(record.id))
    .with_metadata("field", json!(field));
    let link = match view.by_name.get(field) {
        Some(f) => format!(
            "{}/{}/{}?blocks=hide",
            view.record_url(&record.id),
            f.id,
            a.id
        ),
        None => view.record_url(&record.id),
    };
    if let Ok(link) = Url::parse(&link) {
        doc = doc.with_link(link);
    }
    if let Some(t) = view.updated_at(record) {
        doc = doc.with_updated_at(t);
    }
    doc.with_version(&attachment_version(&record.id, a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::model::Field;

    fn view(modified_kind: &str) -> TableView {
        let field: Field = serde_json::from_value(json!({
            "id": "fldMod00000000001", "name": "Changed", "type": modified_kind,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let table = Table {
            id: "tblx3BqYz7Kd1LmNo".to_owned(),
            name: "Tasks".to_owned(),
            primary_field_id: String::new(),
            fields: vec![field],
        };
        TableView::new(
            "appx3BqYz7Kd1LmNo",
            table,
            Some("Changed".to_owned()),
            false,
        )
    }

    fn record(changed: Value) -> Record {
        Record::from_json(json!({
            "id": "rec0A1b2C3d4E5f6G",
            "createdTime": "2024-01-01T00:00:00.000Z",
            "fields": {"Changed": changed},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lookups_of_long_text_are_body_and_lookups_of_short_values_metadata() {
        let field = |name: &str, kind: &str, result: &str| -> Field {
            serde_json::from_value(json!({
                "id": format!("fld{name:0>14}"), "name": name, "type": kind,
                "options": {"result": {"type": result}},
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let table = Table {
            id: "tblx3BqYz7Kd1LmNo".to_owned(),
            name: "Tasks".to_owned(),
            primary_field_id: String::new(),
            fields: vec![
                field("Notes", "multipleLookupValues", "multilineText"),
                field("Brief", "rollup", "richText"),
                field("Owners", "multipleLookupValues", "singleLineText"),
                field("Total", "rollup", "number"),
            ],
        };
        let v = TableView::new("appx3BqYz7Kd1LmNo", table, None, false);
        assert!(!v.is_metadata("Notes") && !v.is_metadata("Brief"));
        assert!(v.is_metadata("Owners") && v.is_metadata("Total"));
        let record = Record::from_json(json!({
            "id": "rec0A1b2C3d4E5f6G",
            "createdTime": "2024-01-01T00:00:00.000Z",
            "fields": {"Notes": ["first note\nsecond line", "another note"], "Total": 3},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let doc = record_document(&v, record, "v1");
        let text = doc.content.as_text().unwrap_or_default();
        assert!(
            text.contains("## Notes") && text.contains("another note"),
            "{text}"
        );
        let fields = doc.metadata.get("fields").cloned().unwrap_or_default();
        assert_eq!(fields, json!({"Total": 3}));
    }

    #[test]
    fn a_modified_field_that_holds_no_instant_leaves_the_time_unknown() {
        let created: DateTime<Utc> = "2024-01-01T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let edited: DateTime<Utc> = "2024-03-05T10:20:30Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let v = view("lastModifiedTime");
        assert_eq!(
            v.updated_at(&record(json!("2024-03-05T10:20:30.000Z"))),
            Some(edited)
        );
        assert_eq!(v.updated_at(&record(Value::Null)), Some(created));
        // A date-only field (or a formula's text) is not the creation time: the record edited
        // on 5 March must not be filtered out of the poll as created on 1 January.
        let v = view("date");
        assert_eq!(v.updated_at(&record(json!("2024-03-05"))), None);
        assert_eq!(
            v.updated_at(&record(json!(["2024-03-05T10:20:30.000Z"]))),
            None
        );
    }

    #[test]
    fn the_version_follows_the_values_not_their_order_or_signed_urls() {
        let v = view("lastModifiedTime");
        let version = |text: &str| {
            let raw = RawValue::from_string(text.to_owned()).unwrap_or_else(|e| panic!("{e}"));
            let r = Record::take(raw).unwrap_or_else(|(_, e)| panic!("{e}"));
            record_version(&v, &r.id, &r.raw_fields())
        };
        let head = r#""id": "rec0A1b2C3d4E5f6G", "createdTime": "2024-01-01T00:00:00.000Z""#;
        let file = |url: &str, name: &str| {
            format!(
                r#"[{{"id": "attA1", "url": "{url}", "filename": "{name}", "size": 3, "type": "text/plain"}}]"#
            )
        };
        let first = version(&format!(
            r#"{{{head}, "fields": {{"A": "x", "B": [1, 2], "Files": {}}}}}"#,
            file("https://dl.airtable.com/1?sig=a", "a.txt")
        ));
        // The fields in another order, the attachment signed anew: the same version.
        assert_eq!(
            first,
            version(&format!(
                r#"{{{head}, "fields": {{"Files": {}, "B": [1, 2], "A": "x"}}}}"#,
                file("https://dl.airtable.com/1?sig=b", "a.txt")
            ))
        );
        // A value or a file's name changed: another version.
        assert_ne!(
            first,
            version(&format!(
                r#"{{{head}, "fields": {{"A": "y", "B": [1, 2], "Files": {}}}}}"#,
                file("https://dl.airtable.com/1?sig=a", "a.txt")
            ))
        );
        assert_ne!(
            first,
            version(&format!(
                r#"{{{head}, "fields": {{"A": "x", "B": [1, 2], "Files": {}}}}}"#,
                file("https://dl.airtable.com/1?sig=a", "b.txt")
            ))
        );
    }
}
