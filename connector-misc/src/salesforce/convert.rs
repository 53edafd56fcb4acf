//! Records as documents: the object's readable fields, chosen by its describe, as front
//! matter (short values) and Markdown sections (long text).

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, Utc};
use connector_core::Access;
use connector_core::ids::{hash128, hash128_written};
use connector_core::pages::Outcome;
use connector_core::text::html_to_markdown;
use connector_core::text::markdown::{self, MarkdownOut};
use connector_core::time;
use connector_core::{Document, ErrorKind, Failure, MetaKey};
use serde::Deserialize;
#[cfg(test)]
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use url::Url;

use super::SOURCE;
use super::client::{ChildRelationship, Describe, FieldDescribe};

/// Field types that cannot be queried as one value or hold no text worth indexing: files
/// (`base64`), compound address and geolocation fields (their parts are fields of their own),
/// and structured values.
const SKIPPED_TYPES: &[&str] = &["base64", "address", "location", "complexvalue", "anyType"];

/// Fields of the run-as user rather than of the record: they change when that user opens a
/// record, without a new `SystemModstamp`, and would re-index it on every reconcile.
const SKIPPED_FIELDS: &[&str] = &["LastViewedDate", "LastReferencedDate"];

/// Field types whose values are long text: Markdown sections rather than front matter.
const TEXT_TYPES: &[&str] = &["textarea"];

/// The first size of a record's text buffer: most records' front matter and body fit, so it
/// grows once or never instead of doubling from a few bytes. At most 1,000: glibc takes a
/// request of 1,001 bytes or more (a block of 1,024 with its header) as a large one and first
/// consolidates every small block freed since: a buffer of 1,024 bytes made it do that for
/// most records (about 1% of `record_document`'s samples).
const TEXT_CAPACITY: usize = 1000;

/// The most bytes the `SELECT` list may take in the query URL (`, ` is sent as `%2C+`):
/// Salesforce refuses a URI and headers over 16,384 bytes (414, 431), and the `WHERE`, the
/// instance, the path and the token need the rest.
const SELECT_BUDGET: usize = 12_000;

/// The most bytes the `SELECT` list of a query for an object's further fields takes: its
/// `WHERE Id IN (…)` of [`FILL_CHUNK`] ids needs up to 28 bytes an id.
const FILL_BUDGET: usize = 8_000;

/// The most bytes one child relationship's subquery takes in the listing's URL: its fields
/// are cut to it (key fields, the name field and long text first).
const CHILD_BUDGET: usize = 1_500;

/// Children of one relationship read per parent (the subquery's `LIMIT`).
pub(crate) const CHILD_LIMIT: usize = 200;

/// Records whose further fields one query asks for (`Id IN (…)`).
pub(crate) const FILL_CHUNK: usize = 150;

/// Fields of the main query first when an object has more than [`SELECT_BUDGET`] allows:
/// the keys, the title, what the queries filter on, the parent.
const KEY_FIELDS: &[&str] = &[
    "Id",
    "SystemModstamp",
    "PublishStatus",
    "AccountId",
    "ParentId",
    "Subject",
];

/// `fields` split into `SELECT` lists that each fit a query URL: the first (the listing's)
/// within `budget` ([`SELECT_BUDGET`] less the children's subqueries), key fields, the name field and long text first; the others,
/// read by id for the same records, within [`FILL_BUDGET`]. Each list keeps describe order.
fn split_fields(object: &str, fields: &[FieldDescribe], budget: usize) -> Vec<Vec<usize>> {
    let cost = |f: &FieldDescribe| f.name.len() + 4;
    if fields.iter().map(cost).sum::<usize>() <= budget {
        return vec![(0..fields.len()).collect()];
    }
    let first = |f: &FieldDescribe| {
        KEY_FIELDS.contains(&f.name.as_str())
            || f.name_field
            || TEXT_TYPES.contains(&f.kind.as_str())
    };
    let mut keep = vec![false; fields.len()];
    let mut used = 0;
    for pass in [true, false] {
        for (i, f) in fields.iter().enumerate() {
            if !keep[i] && first(f) == pass && used + cost(f) <= budget {
                keep[i] = true;
                used += cost(f);
            }
        }
    }
    let mut groups = vec![(0..fields.len()).filter(|i| keep[*i]).collect::<Vec<_>>()];
    let mut group = Vec::new();
    let mut used = 0;
    for (i, f) in fields.iter().enumerate().filter(|(i, _)| !keep[*i]) {
        if used + cost(f) > FILL_BUDGET && !group.is_empty() {
            groups.push(std::mem::take(&mut group));
            used = 0;
        }
        group.push(i);
        used += cost(f);
    }
    if !group.is_empty() {
        groups.push(group);
    }
    tracing::info!(
        connector = SOURCE,
        object,
        queries = groups.len(),
        "the object has more fields than one query URL holds; the others are read by id"
    );
    groups
}

/// Whether a describe's field is read: scalar, visible, a plain API name, the record's own.
fn readable(f: &FieldDescribe) -> bool {
    !f.deprecated_and_hidden
        && !SKIPPED_TYPES.contains(&f.kind.as_str())
        && super::config::is_api_name(&f.name)
        && !SKIPPED_FIELDS.contains(&f.name.as_str())
}

/// A child relationship merged into its parent's documents: the subquery and how its records
/// render.
#[derive(Debug, Clone)]
pub(crate) struct ChildView {
    /// The relationship's name: the subquery's `FROM` and the key of its records in the
    /// parent's.
    pub(crate) relationship: String,
    /// The child object.
    pub(crate) object: String,
    /// The child's field that names the parent (`AccountId`, `ParentId`).
    pub(crate) field: String,
    /// The section's heading: the child object's plural label.
    label: String,
    /// The child object's label, for a child without a name.
    one: String,
    name_field: Option<String>,
    /// The fields shown, in describe order (the subquery reads `Id` and these).
    fields: Vec<FieldDescribe>,
    /// `(SELECT … FROM {relationship} ORDER BY Id ASC LIMIT n)`.
    subquery: String,
}

impl ChildView {
    /// The relationship `rel` of a parent, its fields by the child object's describe `d`:
    /// key fields, the name field and long text first, within [`CHILD_BUDGET`].
    pub(crate) fn new(rel: &ChildRelationship, relationship: &str, d: Describe) -> Self {
        let fields: Vec<FieldDescribe> = d
            .fields
            .into_iter()
            .filter(readable)
            .filter(|f| f.name != rel.field && f.name != "IsDeleted")
            .collect();
        let mut keep = vec![false; fields.len()];
        let mut used = 0;
        let first = |f: &FieldDescribe| {
            matches!(f.name.as_str(), "Id" | "SystemModstamp")
                || f.name_field
                || TEXT_TYPES.contains(&f.kind.as_str())
        };
        for pass in [true, false] {
            for (i, f) in fields.iter().enumerate() {
                if !keep[i] && first(f) == pass && used + f.name.len() + 4 <= CHILD_BUDGET {
                    keep[i] = true;
                    used += f.name.len() + 4;
                }
            }
        }
        let fields: Vec<FieldDescribe> = fields
            .into_iter()
            .zip(keep)
            .filter_map(|(f, k)| k.then_some(f))
            .collect();
        let mut names = vec!["Id"];
        names.extend(
            fields
                .iter()
                .map(|f| f.name.as_str())
                .filter(|n| *n != "Id"),
        );
        let subquery = format!(
            "(SELECT {} FROM {relationship} ORDER BY Id ASC LIMIT {CHILD_LIMIT})",
            names.join(", ")
        );
        let one = if d.label.is_empty() {
            d.name.clone()
        } else {
            d.label
        };
        Self {
            relationship: relationship.to_owned(),
            label: if d.label_plural.is_empty() {
                relationship.to_owned()
            } else {
                d.label_plural
            },
            one,
            object: d.name,
            field: rel.field.clone(),
            name_field: fields.iter().find(|f| f.name_field).map(|f| f.name.clone()),
            fields,
            subquery,
        }
    }
}

/// How a field of the object shows in a record's document: worked out once per object, not
/// compared by name for every field of every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// `Id`, `SystemModstamp` (shown already), `IsDeleted` (always false outside `queryAll`)
    /// and the name field (the title).
    Not,
    /// Long text: a Markdown section.
    Text,
    /// A short value: front matter and metadata.
    Meta,
}

/// The object as the listing and the conversion need it.
#[derive(Debug, Clone)]
pub(crate) struct ObjectView {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) key_prefix: Option<String>,
    /// The fields read, in describe order; `Id` and `SystemModstamp` among them.
    pub(crate) fields: Vec<FieldDescribe>,
    /// The field that names a record (`Name`, `CaseNumber`, `Title`…).
    pub(crate) name_field: Option<String>,
    /// Each field's place (by its index in `fields`) in name order, the order of the
    /// `fields` metadata map: a record's values are put in that order by these numbers
    /// rather than by comparing names.
    rank: Vec<usize>,
    /// How each field of `fields` shows, in the same order.
    shown: Vec<Shown>,
    /// A hash of the field list: part of every record's version.
    render_key: String,
    /// The listing's `SELECT` list.
    select: String,
    /// The `SELECT` lists of the fields read by id.
    more: Vec<String>,
    /// The child relationships merged into each record's document.
    pub(crate) children: Vec<ChildView>,
}

impl ObjectView {
    /// The view of a describe: its queryable scalar fields (the describe lists only those the
    /// user may read).
    #[cfg(test)]
    pub(crate) fn new(d: Describe) -> Self {
        Self::with_children(d, Vec::new())
    }

    /// The view of a describe whose records merge these children.
    pub(crate) fn with_children(d: Describe, children: Vec<ChildView>) -> Self {
        let fields: Vec<FieldDescribe> = d.fields.into_iter().filter(readable).collect();
        let subqueries: usize = children.iter().map(|c| c.subquery.len() * 3 / 2 + 4).sum();
        let budget = SELECT_BUDGET.saturating_sub(subqueries).max(1_000);
        let groups = split_fields(&d.name, &fields, budget);
        let name_field = fields.iter().find(|f| f.name_field).map(|f| f.name.clone());
        let mut by_name: Vec<usize> = (0..fields.len()).collect();
        // Stable: should a describe name a field twice, the map keeps the later one, as
        // collecting the pairs in describe order did.
        by_name.sort_by(|a, b| fields[*a].name.cmp(&fields[*b].name));
        let mut rank = vec![0; fields.len()];
        for (r, i) in by_name.into_iter().enumerate() {
            rank[i] = r;
        }
        let shown = fields
            .iter()
            .map(|f| {
                if matches!(f.name.as_str(), "Id" | "SystemModstamp" | "IsDeleted")
                    || Some(&f.name) == name_field.as_ref()
                {
                    Shown::Not
                } else if TEXT_TYPES.contains(&f.kind.as_str()) {
                    Shown::Text
                } else {
                    Shown::Meta
                }
            })
            .collect();
        let mut shape = d.name.clone();
        for f in &fields {
            let _ = write!(shape, "|{}:{}:{}", f.name, f.label, f.kind);
        }
        for c in &children {
            let _ = write!(shape, "|{}", c.subquery);
            for f in &c.fields {
                let _ = write!(shape, "|{}:{}", f.label, f.kind);
            }
        }
        let list = |group: &[usize], keys: &[&str]| {
            let mut names: Vec<&str> = keys.to_vec();
            names.extend(
                group
                    .iter()
                    .map(|i| fields[*i].name.as_str())
                    .filter(|n| !keys.contains(n)),
            );
            names.join(", ")
        };
        let mut select = list(&groups[0], &["Id", "SystemModstamp"]);
        for c in &children {
            select.push_str(", ");
            select.push_str(&c.subquery);
        }
        let more = groups[1..].iter().map(|g| list(g, &["Id"])).collect();
        Self {
            label: if d.label.is_empty() {
                d.name.clone()
            } else {
                d.label
            },
            name: d.name,
            key_prefix: d.key_prefix,
            render_key: hash128(&shape),
            fields,
            name_field,
            rank,
            shown,
            select,
            more,
            children,
        }
    }

    /// Whether the object has `field`.
    pub(crate) fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.name == field)
    }

    /// The `SELECT` list of the listing: `Id`, `SystemModstamp` and the fields that fit.
    pub(crate) fn select_list(&self) -> &str {
        &self.select
    }

    /// The `SELECT` lists (`Id` first) of the fields the listing's query has no room for,
    /// read by id for the same records; empty for all but the widest objects.
    pub(crate) fn more_fields(&self) -> &[String] {
        &self.more
    }
}

/// The document id of a record: Salesforce ids are unique within an org across objects.
pub(crate) fn record_id(id: &str) -> String {
    // `format!("{SOURCE}:{id}")` without the formatting machinery (two per record): `concat`
    // makes one allocation of the size the parts need.
    [SOURCE, ":", id].concat()
}

/// Whether `id` reads as a Salesforce record id (15 or 18 letters and digits).
pub(crate) fn is_record_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A Salesforce date-time (`2025-03-01T10:20:00.000+0000`; RFC 3339 also read).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    // The form the REST API always sends, read without a format string (every record's
    // stamp goes through here); anything else takes the general path.
    if let Some(t) = parse_utc_millis(s.as_bytes()) {
        return Some(t);
    }
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// `yyyy-MM-ddTHH:mm:ss.SSS` then `+0000` or `Z`: the REST API's date-times, in UTC.
fn parse_utc_millis(b: &[u8]) -> Option<DateTime<Utc>> {
    let zone = b.get(23..)?;
    if zone != b"+0000" && zone != b"Z" {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let punct = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ];
    if punct.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let year = i32::try_from(num(0, 4)?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?;
    let time = date.and_hms_milli_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?)?;
    Some(time.and_utc())
}

/// `t` as a SOQL date-time literal: UTC, milliseconds, unquoted.
pub(crate) fn soql_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A record as Salesforce sent it, taken apart without building a JSON tree: its fields in
/// the answer's order, each value still JSON text (borrowed from the page's), `attributes`
/// left out.
pub(crate) struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    /// A record of these `(name, value)` pairs, `attributes` left out.
    pub(crate) fn new(pairs: Vec<(&'a str, &'a str)>) -> Self {
        Self(pairs)
    }

    /// The fields of a record's JSON text.
    #[cfg(test)]
    pub(crate) fn parse(raw: &'a RawValue) -> Result<Self, String> {
        use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(&'de str, &'de str)>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a record object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(24));
                // Field names are API names: never escaped, so borrowed.
                while let Some(key) = map.next_key::<&'de str>()? {
                    if key == "attributes" {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        out.push((key, map.next_value::<&'de RawValue>()?.get()));
                    }
                }
                Ok(out)
            }
        }
        serde_json::Deserializer::from_str(raw.get())
            .deserialize_map(Pairs)
            .map(Fields)
            .map_err(|e| format!("it does not read as a record: {e}"))
    }

    /// The JSON text of the field `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    /// The JSON text of each of `view`'s fields (by its index in `view.fields`): the answer
    /// lists them in the query's order, so each is found where the last one ended, mostly.
    fn by_field(&self, view: &ObjectView) -> Vec<Option<&'a str>> {
        let mut at = vec![None; view.fields.len()];
        let mut next = 0;
        for (key, value) in &self.0 {
            let i = if view.fields.get(next).is_some_and(|f| f.name == *key) {
                next
            } else {
                match view.fields.iter().position(|f| f.name == *key) {
                    Some(i) => i,
                    None => continue,
                }
            };
            at[i] = Some(*value);
            next = i + 1;
        }
        at
    }
}

/// The string a JSON value holds, unescaped; none for any other value.
pub(crate) fn json_str(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    // Long text's line breaks and quotes without the general parser; `\u` escapes (and
    // what is not JSON) go to serde_json.
    if let Some(text) = unescape_short(inner) {
        return Some(Cow::Owned(text));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

/// The text of a JSON string's inside (`inner`, as a parsed JSON text holds it) whose escapes
/// are all of one character (`\n`, `\"`, `\\`, `\/`, `\t`, `\r`, `\b`, `\f`): what serde_json
/// reads of it. None for a `\u` escape or anything else, left to serde_json.
fn unescape_short(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        out.push(match rest.as_bytes().get(at + 1)? {
            b'n' => '\n',
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            _ => return None,
        });
        // The escape is two ASCII bytes: a character boundary follows.
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// A JSON value's text as a tree, strings and literals without the general parser.
fn json_value(raw: &str) -> Value {
    match raw {
        "null" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        // A whole number of at most 19 digits fits a `u64`: serde_json reads it as one.
        _ if !raw.is_empty() && raw.len() <= 19 && raw.bytes().all(|b| b.is_ascii_digit()) => {
            raw.parse::<u64>().map_or(Value::Null, Value::from)
        }
        _ => match json_str(raw) {
            Some(s) => Value::String(s.into_owned()),
            None => serde_json::from_str(raw).unwrap_or(Value::Null),
        },
    }
}

/// A value as one line of text.
fn plain_json(raw: &str) -> Cow<'_, str> {
    match json_str(raw) {
        Some(s) => s,
        None if raw == "null" => Cow::Borrowed(""),
        None => Cow::Owned(plain(&json_value(raw))),
    }
}

/// A record's id and `SystemModstamp`, or what is wrong with it.
pub(crate) fn keys(record: &Fields<'_>) -> Result<(String, DateTime<Utc>), String> {
    let id = record
        .get("Id")
        .and_then(json_str)
        .filter(|id| is_record_id(id))
        .ok_or("it has no readable Id")?;
    let at = record
        .get("SystemModstamp")
        .and_then(json_str)
        .and_then(|t| parse_time(&t))
        .ok_or_else(|| format!("the record {id} has no readable SystemModstamp"))?;
    Ok((id.into_owned(), at))
}

/// A record's version: its fields as listed and the object's field list. The fields are
/// hashed as `{"name":value,…}` by name, less `attributes`, each value as Salesforce wrote
/// it: the bytes `serde_json` writes of the record's map less `attributes` for the compact
/// JSON Salesforce sends, so versions stay what they were when records were read as trees.
pub(crate) fn record_version(view: &ObjectView, record: &Fields<'_>) -> String {
    let mut sorted: Vec<&(&str, &str)> = record.0.iter().collect();
    sorted.sort_unstable_by_key(|(k, _)| *k);
    let digest = hash128_written(|text| {
        text.push(b'{');
        for (i, (k, v)) in sorted.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            // What serde_json writes of the key: it was borrowed from the record's text, so it
            // holds no escape, and JSON text holds no raw control character (the parser
            // refuses one), so there is nothing to escape.
            text.push(b'"');
            text.extend_from_slice(k.as_bytes());
            text.extend_from_slice(b"\":");
            text.extend_from_slice(v.as_bytes());
        }
        text.push(b'}');
    });
    [view.render_key.as_str(), "|", digest.as_str()].concat()
}

/// A value as one line of text.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The answer of a child relationship's subquery, as the parent's record holds it.
#[derive(Deserialize)]
struct ChildAnswer {
    #[serde(default)]
    records: Vec<Map<String, Value>>,
}

/// Long text as Markdown: rich text through HTML to Markdown, else plain paragraphs.
fn long_text(f: &FieldDescribe, text: &str, md: &mut MarkdownOut<'_>) {
    let html = f.html_formatted || f.extra_type_info.as_deref() == Some("richtextarea");
    if html {
        md.markdown(&html_to_markdown(text));
    } else {
        md.plain_text(text);
    }
}

/// A child record as `### {name}`, its short fields as labelled lines, its long text as
/// paragraphs.
fn child_blocks(c: &ChildView, row: &Map<String, Value>, id: &str, md: &mut MarkdownOut<'_>) {
    let title = c
        .name_field
        .as_ref()
        .and_then(|f| row.get(f))
        .map(plain)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("{} {id}", c.one));
    md.heading(3, &title);
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut texts: Vec<(&FieldDescribe, String)> = Vec::new();
    for f in &c.fields {
        if matches!(f.name.as_str(), "Id" | "SystemModstamp")
            || Some(&f.name) == c.name_field.as_ref()
        {
            continue;
        }
        let Some(value) = row.get(&f.name).filter(|v| !v.is_null()) else {
            continue;
        };
        let text = plain(value);
        if text.trim().is_empty() {
            continue;
        }
        if TEXT_TYPES.contains(&f.kind.as_str()) {
            texts.push((f, text));
        } else {
            let label = if f.label.is_empty() {
                &f.name
            } else {
                &f.label
            };
            lines.push((format!("{label}:"), text));
        }
    }
    if !lines.is_empty() {
        let pairs: Vec<(&str, &str)> = lines
            .iter()
            .map(|(l, v)| (l.as_str(), v.as_str()))
            .collect();
        md.labelled_lines(&pairs);
    }
    for (f, text) in texts {
        long_text(f, &text, md);
    }
}

/// The failure of a record that does not read, named by its id where it has one.
pub(crate) fn unreadable(
    view: &ObjectView,
    id: Option<&str>,
    why: &str,
    instance: &Url,
) -> Outcome {
    let id = id.filter(|id| is_record_id(id));
    let failure = Failure::new(
        id.map(record_id),
        ErrorKind::InvalidData,
        format!("a record of {} cannot be read: {why}", view.name),
    );
    match id.and_then(|id| instance.join(&format!("/{id}")).ok()) {
        Some(link) => failure.with_link(link),
        None => failure,
    }
    .into()
}

/// A record as a Markdown document whose version is `version` (its [`record_version`],
/// computed once by the listing), or a failure naming it; `keys` are its [`keys`], read once
/// by the listing too.
pub(crate) fn record_document(
    view: &ObjectView,
    record: &Fields<'_>,
    keys: Result<(String, DateTime<Utc>), String>,
    version: &str,
    instance: &Url,
    access: &Access,
) -> Outcome {
    // The metadata's keys, made without a check or an allocation per document.
    const OBJECT: MetaKey = MetaKey::new_inline("object");
    const RECORD_ID: MetaKey = MetaKey::new_inline("record_id");
    const FIELDS: MetaKey = MetaKey::new_inline("fields");
    const CHILDREN: MetaKey = MetaKey::new_inline("children");
    let (id, modstamp) = match keys {
        Ok(k) => k,
        Err(why) => {
            let id = record.get("Id").and_then(json_str);
            return unreadable(view, id.as_deref(), &why, instance);
        }
    };
    let at = record.by_field(view);
    let title = view
        .name_field
        .as_ref()
        .and_then(|f| record.get(f))
        .map(plain_json)
        .filter(|t| !t.trim().is_empty())
        .map_or_else(
            || [view.label.as_str(), " ", id.as_str()].concat(),
            Cow::into_owned,
        );
    // A case is named by its number; its subject says what it is about.
    let subject = record.get("Subject").and_then(json_str);
    let title = match subject.as_deref().map(str::trim) {
        Some(subject) if !subject.is_empty() && subject != title => {
            [title.as_str(), ": ", subject].concat()
        }
        _ => title,
    };
    // The front matter's fields, by their index in `view.fields`, as values: they move into
    // the metadata afterwards.
    let mut meta: Vec<(usize, Value)> = Vec::with_capacity(view.fields.len());
    // The long text fields, written after the front matter into the same buffer.
    let mut texts: Vec<(&FieldDescribe, &str, Cow<'_, str>)> = Vec::new();
    for (i, ((f, value), shown)) in view.fields.iter().zip(&at).zip(&view.shown).enumerate() {
        if *shown == Shown::Not {
            continue;
        }
        let Some(value) = value.filter(|v| *v != "null") else {
            continue;
        };
        if *shown == Shown::Text {
            let text = plain_json(value);
            if text.trim().is_empty() {
                continue;
            }
            let label = if f.label.is_empty() {
                &f.name
            } else {
                &f.label
            };
            texts.push((f, label, text));
        } else {
            meta.push((i, json_value(value)));
        }
    }
    // The children, a section per relationship, their ids in the metadata.
    let mut children = Map::new();
    let mut sections: Vec<(&ChildView, Vec<Map<String, Value>>)> = Vec::new();
    for c in &view.children {
        let answer = record.get(&c.relationship).and_then(|raw| {
            serde_json::from_str::<Option<ChildAnswer>>(raw)
                .ok()
                .flatten()
        });
        let Some(ChildAnswer { records: rows }) = answer.filter(|a| !a.records.is_empty()) else {
            continue;
        };
        let ids = rows
            .iter()
            .filter_map(|row| row.get("Id").and_then(Value::as_str))
            .filter(|child| is_record_id(child))
            .map(|child| Value::String(child.to_owned()))
            .collect();
        children.insert(c.relationship.clone(), Value::Array(ids));
        sections.push((c, rows));
    }
    // The record's account (a contact's, an opportunity's, a case's), else the record it
    // hangs under by `ParentId`: an account's parent, a case comment's, an e-mail's or a
    // feed item's case or record.
    let parent = ["AccountId", "ParentId"]
        .iter()
        .filter_map(|f| record.get(f).and_then(json_str))
        .find(|p| is_record_id(p) && *p != id)
        .map(|p| record_id(&p));
    // `{instance}/{Id}`: the instance has no path, and the id is letters and digits (what
    // `join` would give, without parsing a relative URL per record).
    let link = {
        let mut link = instance.clone();
        link.set_path(&id);
        // An instance URL has neither query nor fragment: nothing to take off then.
        if link.query().is_some() || link.fragment().is_some() {
            link.set_query(None);
            link.set_fragment(None);
        }
        link
    };
    let doc_id = record_id(&id);
    // The id moves into its value: the front matter and the metadata share it.
    let id_value = Value::String(id);
    let object = Value::String(view.name.clone());
    // The text `json!(modstamp)` holds, without chrono's formatter.
    let stamp = Value::String(time::rfc3339(&modstamp));
    // Front matter and body in one buffer, with no copy of either.
    let mut text = String::with_capacity(TEXT_CAPACITY);
    {
        let header = [
            ("object", &object),
            ("id", &id_value),
            ("system_modstamp", &stamp),
        ];
        let fields = meta.iter().map(|(i, v)| (view.fields[*i].name.as_str(), v));
        markdown::front_matter_into(&mut text, header.into_iter().chain(fields));
    }
    {
        let mut md = MarkdownOut::new(&mut text);
        md.heading(1, &title);
        for (f, label, text) in texts {
            md.heading(2, label);
            long_text(f, &text, &mut md);
        }
        for (c, rows) in sections {
            md.heading(2, &c.label);
            for row in &rows {
                let child = row.get("Id").and_then(Value::as_str).unwrap_or_default();
                child_blocks(c, row, child, &mut md);
            }
        }
    }
    // In name order, the map's, by the view's ranks: the map's sort then finds them sorted.
    meta.sort_unstable_by_key(|(i, _)| view.rank[*i]);
    let fields: Map<String, Value> = meta
        .into_iter()
        .map(|(i, v)| (view.fields[i].name.clone(), v))
        .collect();
    let mut doc = Document::text_with_version(doc_id, SOURCE, title, text, version);
    doc.metadata.insert(OBJECT, object);
    doc.metadata.insert(RECORD_ID, id_value);
    doc.metadata.insert(FIELDS, Value::Object(fields));
    if !children.is_empty() {
        doc.metadata.insert(CHILDREN, Value::Object(children));
    }
    doc.updated_at = Some(modstamp);
    doc.access = Some(access.clone());
    doc.parent_id = parent;
    doc.link = Some(link);
    doc.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_whole_numbers_read_as_serde_json_reads_them() {
        // As serde_json writes them (one-character escapes, `\u` for control characters).
        for text in [
            "plain",
            "two\nlines",
            "a \"quoted\" word",
            "back\\slash \\",
            "tab\t, return\r, \u{8}\u{c} and /",
            "caf\u{e9} \u{2603} \u{1F600}",
            "end \"",
            "\\",
            "bell \u{7} inside",
            "",
        ] {
            let raw = serde_json::to_string(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json_str(&raw).as_deref(), Some(text), "{raw}");
            assert_eq!(json_value(&raw), Value::String(text.to_owned()), "{raw}");
        }
        // As other writers write them: `\/`, `\u` escapes, surrogate pairs.
        for raw in [
            r#""a\/b""#,
            r#""caf\u00e9 \ud83d\ude00 \n""#,
            r#""\"\\\/\b\f\n\r\t""#,
        ] {
            let expected: String = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json_str(raw).as_deref(), Some(expected.as_str()), "{raw}");
        }
        for raw in [
            "0",
            "7",
            "120",
            "9999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234",
            "-3",
            "-0",
            "1.5",
            "1e3",
            "1250000.0",
        ] {
            let expected: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json_value(raw), expected, "{raw}");
            assert_eq!(plain_json(raw), expected.to_string(), "{raw}");
        }
    }

    #[test]
    fn salesforce_times_are_read() {
        let t = parse_time("2025-03-01T10:20:00.000+0000").unwrap_or_else(|| panic!("parsed"));
        assert_eq!(soql_time(t), "2025-03-01T10:20:00.000Z");
        assert_eq!(parse_time("2025-03-01T10:20:00Z"), Some(t));
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn compound_file_and_per_user_fields_are_not_selected() {
        let d: Describe = serde_json::from_value(json!({
            "name": "Account", "label": "Account", "keyPrefix": "001",
            "fields": [
                {"name": "Id", "type": "id", "label": "Account ID"},
                {"name": "Name", "type": "string", "label": "Account Name", "nameField": true},
                {"name": "BillingAddress", "type": "address", "label": "Billing Address"},
                {"name": "BillingCity", "type": "string", "label": "Billing City"},
                {"name": "Logo__c", "type": "base64", "label": "Logo"},
                {"name": "Old__c", "type": "string", "label": "Old", "deprecatedAndHidden": true},
                {"name": "LastViewedDate", "type": "datetime", "label": "Last Viewed Date"},
                {"name": "LastReferencedDate", "type": "datetime", "label": "Last Referenced Date"},
                {"name": "SystemModstamp", "type": "datetime", "label": "System Modstamp"}
            ]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let v = ObjectView::new(d);
        assert_eq!(v.select_list(), "Id, SystemModstamp, Name, BillingCity");
        assert_eq!(v.name_field.as_deref(), Some("Name"));
    }

    #[test]
    fn the_version_hashes_the_fields_less_attributes_as_the_map_serialises() {
        let d: Describe = serde_json::from_value(json!({"name": "Account", "fields": [
            {"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let view = ObjectView::new(d);
        let version = |record: &Value| {
            let raw = serde_json::value::to_raw_value(record).unwrap_or_else(|e| panic!("{e}"));
            let fields = Fields::parse(&raw).unwrap_or_else(|e| panic!("{e}"));
            record_version(&view, &fields)
        };
        let Value::Object(record) = json!({"attributes": {"type": "Account"}, "Id": "001000000000001AAA",
            "SystemModstamp": "2025-03-01T10:20:00.000+0000", "Name": "Acme \"Inc\"", "Employees": 12})
        else {
            panic!("an object")
        };
        let mut fields = record.clone();
        fields.remove("attributes");
        let text = serde_json::to_string(&fields).unwrap_or_else(|e| panic!("{e}"));
        let record = Value::Object(record);
        assert_eq!(
            version(&record),
            format!("{}|{}", view.render_key, hash128(&text))
        );
        let moved = json!({"Id": "001000000000001AAA",
            "SystemModstamp": "2025-03-01T10:20:00.000+0000", "Name": "Acme", "Employees": 12});
        assert_ne!(version(&record), version(&moved));
        // The fields as Salesforce orders them (the query's order), not by name: the same
        // version.
        let raw = RawValue::from_string(
            r#"{"attributes":{"type":"Account"},"SystemModstamp":"2025-03-01T10:20:00.000+0000","Name":"Acme \"Inc\"","Id":"001000000000001AAA","Employees":12}"#
                .to_owned(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let fields = Fields::parse(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record_version(&view, &fields), version(&record));
    }

    #[test]
    fn a_child_record_names_its_parent_by_account_else_parent_id() {
        let d: Describe = serde_json::from_value(json!({"name": "CaseComment", "keyPrefix": "00a",
            "fields": [{"name": "Id", "type": "id"}, {"name": "ParentId", "type": "reference"},
                {"name": "CommentBody", "type": "textarea"}, {"name": "SystemModstamp", "type": "datetime"}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let view = ObjectView::new(d);
        let instance =
            Url::parse("https://acme.my.salesforce.com").unwrap_or_else(|e| panic!("{e}"));
        let parent = |record: Value| {
            let raw = serde_json::value::to_raw_value(&record).unwrap_or_else(|e| panic!("{e}"));
            let fields = Fields::parse(&raw).unwrap_or_else(|e| panic!("{e}"));
            let version = record_version(&view, &fields);
            let k = keys(&fields);
            match record_document(&view, &fields, k, &version, &instance, &Access::default()) {
                Outcome::Document(doc) => doc.parent_id,
                other => panic!("{other:?}"),
            }
        };
        let stamp = "2025-03-01T10:20:00.000+0000";
        assert_eq!(
            parent(
                json!({"Id": "00a000000000001AAA", "ParentId": "500000000000001AAA", "CommentBody": "Called back", "SystemModstamp": stamp})
            ),
            Some("salesforce:500000000000001AAA".to_owned())
        );
        // A case under an account and a parent case: the account.
        assert_eq!(
            parent(
                json!({"Id": "500000000000002AAA", "AccountId": "001000000000001AAA", "ParentId": "500000000000001AAA", "SystemModstamp": stamp})
            ),
            Some("salesforce:001000000000001AAA".to_owned())
        );
    }

    #[test]
    fn a_wide_object_is_split_over_query_urls_salesforce_accepts() {
        // Orgs with hundreds of custom fields: each URL must stay under 16,384 bytes, and
        // no field is lost.
        let mut fields = vec![json!({"name": "Id", "type": "id"})];
        for i in 0..1000 {
            fields
                .push(json!({"name": format!("Custom_Field_Number_{i:04}__c"), "type": "string"}));
        }
        fields
            .push(json!({"name": "Notes__c", "type": "textarea", "extraTypeInfo": "richtextarea"}));
        fields.push(json!({"name": "Name", "type": "string", "nameField": true}));
        fields.push(json!({"name": "SystemModstamp", "type": "datetime"}));
        let d: Describe = serde_json::from_value(json!({"name": "Account", "fields": fields}))
            .unwrap_or_else(|e| panic!("{e}"));
        let v = ObjectView::new(d);
        let url_of = |soql: &str| {
            let mut url = Url::parse("https://acme.my.salesforce.com/services/data/v62.0/query")
                .unwrap_or_else(|e| panic!("{e}"));
            url.query_pairs_mut().append_pair("q", soql);
            url.as_str().len()
        };
        let main = format!("SELECT {} FROM Account", v.select_list());
        assert!(url_of(&main) <= SELECT_BUDGET + 200, "{}", url_of(&main));
        for kept in [
            "Id",
            "SystemModstamp",
            "Name",
            "Notes__c",
            "Custom_Field_Number_0000__c",
        ] {
            assert!(
                v.select_list().split(", ").any(|f| f == kept),
                "{kept} is in the listing"
            );
        }
        assert!(!v.more_fields().is_empty());
        let ids: Vec<String> = (0..FILL_CHUNK)
            .map(|i| format!("'001{i:012}AAA'"))
            .collect();
        for more in v.more_fields() {
            assert!(more.starts_with("Id, "), "{more}");
            let q = format!(
                "SELECT {more} FROM Account WHERE Id IN ({})",
                ids.join(", ")
            );
            assert!(url_of(&q) <= 16_384 - 2_000, "{}", url_of(&q));
        }
        // Every field is read once.
        let mut all: Vec<&str> = v.select_list().split(", ").collect();
        for more in v.more_fields() {
            all.extend(more.split(", ").skip(1));
        }
        assert_eq!(all.len(), v.fields.len());
        assert!(all.contains(&"Custom_Field_Number_0999__c"));
        assert_eq!(v.name_field.as_deref(), Some("Name"));
        // A narrow object keeps every field in one query.
        let d: Describe = serde_json::from_value(json!({"name": "Case", "fields": [
            {"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let v = ObjectView::new(d);
        assert_eq!(v.select_list(), "Id, SystemModstamp");
        assert!(v.more_fields().is_empty());
    }

    #[test]
    fn a_child_relationship_s_subquery_keeps_to_its_budget_and_the_parent_to_the_rest() {
        let mut fields = vec![
            json!({"name": "Id", "type": "id"}),
            json!({"name": "AccountId", "type": "reference"}),
            json!({"name": "IsDeleted", "type": "boolean"}),
            json!({"name": "SystemModstamp", "type": "datetime"}),
        ];
        for i in 0..300 {
            fields.push(json!({"name": format!("Custom_Field_{i:04}__c"), "type": "string"}));
        }
        fields.push(json!({"name": "Name", "type": "string", "nameField": true}));
        let child: Describe = serde_json::from_value(
            json!({"name": "Contact", "label": "Contact", "labelPlural": "Contacts", "fields": fields}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rel: ChildRelationship = serde_json::from_value(
            json!({"childSObject": "Contact", "field": "AccountId", "relationshipName": "Contacts"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let c = ChildView::new(&rel, "Contacts", child);
        assert!(
            c.subquery.len() <= CHILD_BUDGET + 100,
            "{}",
            c.subquery.len()
        );
        assert!(
            c.subquery
                .starts_with("(SELECT Id, SystemModstamp, Custom_Field_0000__c"),
            "{}",
            c.subquery
        );
        assert!(c.subquery.contains(", Name, ") || c.subquery.contains(", Name FROM"));
        // The parent field is the parent, and `IsDeleted` always false: neither is read.
        assert!(!c.subquery.contains("AccountId") && !c.subquery.contains("IsDeleted"));
        assert!(
            c.subquery
                .ends_with(" FROM Contacts ORDER BY Id ASC LIMIT 200)")
        );
        assert_eq!(c.label, "Contacts");

        let mut wide = vec![
            json!({"name": "Id", "type": "id"}),
            json!({"name": "SystemModstamp", "type": "datetime"}),
        ];
        for i in 0..1000 {
            wide.push(json!({"name": format!("Custom_Field_Number_{i:04}__c"), "type": "string"}));
        }
        let parent = |children: Vec<ChildView>| {
            let d: Describe =
                serde_json::from_value(json!({"name": "Account", "fields": wide.clone()}))
                    .unwrap_or_else(|e| panic!("{e}"));
            ObjectView::with_children(d, children)
        };
        let alone = parent(Vec::new());
        let with = parent(vec![c.clone(), c]);
        let mut url = Url::parse("https://acme.my.salesforce.com/services/data/v62.0/query")
            .unwrap_or_else(|e| panic!("{e}"));
        url.query_pairs_mut()
            .append_pair("q", &format!("SELECT {} FROM Account", with.select_list()));
        assert!(
            url.as_str().len() <= SELECT_BUDGET + 200,
            "{}",
            url.as_str().len()
        );
        assert!(with.more_fields().len() >= alone.more_fields().len());
        assert_ne!(alone.render_key, with.render_key);
    }

    #[test]
    fn the_rest_api_s_stamps_take_the_fast_path_and_others_the_general_one() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .unwrap_or_else(|e| panic!("{e}"))
                .with_timezone(&Utc)
        };
        assert_eq!(
            parse_utc_millis(b"2025-03-01T10:20:00.123+0000"),
            Some(at("2025-03-01T10:20:00.123Z"))
        );
        assert_eq!(
            parse_utc_millis(b"2024-02-29T23:59:59.999Z"),
            Some(at("2024-02-29T23:59:59.999Z"))
        );
        for other in [
            "2025-03-01T10:20:00.000+0100",
            "2025-02-30T10:20:00.000+0000",
            "2025-03-01 10:20:00.000+0000",
            "2025-03-01T10:20:00Z",
            "2025-03-01T1a:20:00.000+0000",
            "",
        ] {
            assert_eq!(parse_utc_millis(other.as_bytes()), None, "{other}");
        }
        // What the fast path leaves goes the general way.
        assert_eq!(
            parse_time("2025-03-01T11:20:00.000+0100"),
            Some(at("2025-03-01T10:20:00Z"))
        );
        assert_eq!(
            parse_time("2025-03-01T10:20:00.5Z"),
            Some(at("2025-03-01T10:20:00.5Z"))
        );
    }
}
