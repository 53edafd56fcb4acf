//! Records as documents: the object's readable fields, chosen by its describe, as front
//! matter (short values) and Markdown sections (long text).

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, Utc};
use connector_core::Access;
use connector_core::ids::hash128;
use connector_core::pages::Outcome;
use connector_core::text::html_to_markdown;
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::{Document, ErrorKind, Failure};
use serde_json::{Map, Value, json};
use url::Url;

use super::SOURCE;
use super::client::{Describe, FieldDescribe};

/// Field types that cannot be queried as one value or hold no text worth indexing: files
/// (`base64`), compound address and geolocation fields (their parts are fields of their own),
/// and structured values.
const SKIPPED_TYPES: &[&str] = &["base64", "address", "location", "complexvalue", "anyType"];

/// Fields of the run-as user rather than of the record: they change when that user opens a
/// record, without a new `SystemModstamp`, and would re-index it on every reconcile.
const SKIPPED_FIELDS: &[&str] = &["LastViewedDate", "LastReferencedDate"];

/// Field types whose values are long text: Markdown sections rather than front matter.
const TEXT_TYPES: &[&str] = &["textarea"];

/// The most bytes the `SELECT` list may take in the query URL (`, ` is sent as `%2C+`):
/// Salesforce refuses a URI and headers over 16,384 bytes (414, 431), and the `WHERE`, the
/// instance, the path and the token need the rest.
const SELECT_BUDGET: usize = 12_000;

/// Fields kept first when an object has more than [`SELECT_BUDGET`] allows: the keys, the
/// title, what the queries filter on, the parent.
const KEY_FIELDS: &[&str] = &[
    "Id",
    "SystemModstamp",
    "PublishStatus",
    "AccountId",
    "ParentId",
    "Subject",
];

/// `fields` cut to what fits in [`SELECT_BUDGET`]: key fields, the name field and long text
/// first, then the others in describe order; the order of those kept is the describe's.
fn within_budget(object: &str, fields: Vec<FieldDescribe>) -> Vec<FieldDescribe> {
    let cost = |f: &FieldDescribe| f.name.len() + 4;
    if fields.iter().map(cost).sum::<usize>() <= SELECT_BUDGET {
        return fields;
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
            if !keep[i] && first(f) == pass && used + cost(f) <= SELECT_BUDGET {
                keep[i] = true;
                used += cost(f);
            }
        }
    }
    let left = keep.iter().filter(|k| !**k).count();
    tracing::warn!(
        connector = SOURCE,
        object,
        left,
        "the object has more fields than one query URL holds; {left} of them are left out (hide unused fields from the run-as user with field-level security)"
    );
    fields
        .into_iter()
        .zip(keep)
        .filter_map(|(f, k)| k.then_some(f))
        .collect()
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
    /// A hash of the field list: part of every record's version.
    render_key: String,
}

impl ObjectView {
    /// The view of a describe: its queryable scalar fields (the describe lists only those the
    /// user may read).
    pub(crate) fn new(d: Describe) -> Self {
        let fields: Vec<FieldDescribe> = d
            .fields
            .into_iter()
            .filter(|f| !f.deprecated_and_hidden && !SKIPPED_TYPES.contains(&f.kind.as_str()))
            .filter(|f| super::config::is_api_name(&f.name))
            .filter(|f| !SKIPPED_FIELDS.contains(&f.name.as_str()))
            .collect();
        let fields = within_budget(&d.name, fields);
        let name_field = fields.iter().find(|f| f.name_field).map(|f| f.name.clone());
        let mut shape = d.name.clone();
        for f in &fields {
            let _ = write!(shape, "|{}:{}:{}", f.name, f.label, f.kind);
        }
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
        }
    }

    /// Whether the object has `field`.
    pub(crate) fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.name == field)
    }

    /// The `SELECT` list.
    pub(crate) fn select_list(&self) -> String {
        let mut names: Vec<&str> = vec!["Id", "SystemModstamp"];
        for f in &self.fields {
            if f.name != "Id" && f.name != "SystemModstamp" {
                names.push(&f.name);
            }
        }
        names.join(", ")
    }
}

/// The document id of a record: Salesforce ids are unique within an org across objects.
pub(crate) fn record_id(id: &str) -> String {
    format!("{SOURCE}:{id}")
}

/// Whether `id` reads as a Salesforce record id (15 or 18 letters and digits).
pub(crate) fn is_record_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A Salesforce date-time (`2025-03-01T10:20:00.000+0000`; RFC 3339 also read).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
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

/// `t` as a SOQL date-time literal: UTC, milliseconds, unquoted.
pub(crate) fn soql_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A record's id and `SystemModstamp`, or what is wrong with it.
pub(crate) fn keys(record: &Map<String, Value>) -> Result<(String, DateTime<Utc>), String> {
    let id = record
        .get("Id")
        .and_then(Value::as_str)
        .filter(|id| is_record_id(id))
        .ok_or("it has no readable Id")?;
    let at = record
        .get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or_else(|| format!("the record {id} has no readable SystemModstamp"))?;
    Ok((id.to_owned(), at))
}

/// A record's version: its fields as listed and the object's field list.
pub(crate) fn record_version(view: &ObjectView, record: &Map<String, Value>) -> String {
    /// The record's fields less `attributes`, serialised in the map's order without a copy
    /// of the record (the same bytes as the map without that entry).
    struct Fields<'a>(&'a Map<String, Value>);
    impl serde::Serialize for Fields<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().filter(|(k, _)| k.as_str() != "attributes"))
        }
    }
    let text = serde_json::to_string(&Fields(record)).unwrap_or_default();
    format!("{}|{}", view.render_key, hash128(&text))
}

/// A value as one line of text.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A record as a Markdown document whose version is `version` (its [`record_version`],
/// computed once by the listing), or a failure naming it.
pub(crate) fn record_document(
    view: &ObjectView,
    record: &Map<String, Value>,
    version: &str,
    instance: &Url,
    access: &Access,
) -> Outcome {
    let keys = keys(record).map_err(|why| {
        let raw = record
            .get("Id")
            .and_then(Value::as_str)
            .filter(|id| is_record_id(id));
        let failure = Failure::new(
            raw.map(record_id),
            ErrorKind::InvalidData,
            format!("a record of {} cannot be read: {why}", view.name),
        );
        match raw.and_then(|id| instance.join(&format!("/{id}")).ok()) {
            Some(link) => failure.with_link(link),
            None => failure,
        }
    });
    let (id, modstamp) = match keys {
        Ok(k) => k,
        Err(failure) => return failure.into(),
    };
    let title = view
        .name_field
        .as_ref()
        .and_then(|f| record.get(f))
        .map(plain)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("{} {id}", view.label));
    // A case is named by its number; its subject says what it is about.
    let title = match record.get("Subject").and_then(Value::as_str).map(str::trim) {
        Some(subject) if !subject.is_empty() && subject != title => format!("{title}: {subject}"),
        _ => title,
    };
    let mut body = vec![Block::heading(1, vec![Inline::text(title.clone())])];
    let mut meta: Vec<(String, Value)> = Vec::new();
    for f in &view.fields {
        // `IsDeleted` is always false outside `queryAll`; the id and stamp are shown already.
        if matches!(f.name.as_str(), "Id" | "SystemModstamp" | "IsDeleted")
            || Some(&f.name) == view.name_field.as_ref()
        {
            continue;
        }
        let Some(value) = record.get(&f.name).filter(|v| !v.is_null()) else {
            continue;
        };
        if TEXT_TYPES.contains(&f.kind.as_str()) {
            let text = plain(value);
            if text.trim().is_empty() {
                continue;
            }
            let label = if f.label.is_empty() {
                &f.name
            } else {
                &f.label
            };
            body.push(Block::heading(2, vec![Inline::text(label.clone())]));
            let html = f.html_formatted || f.extra_type_info.as_deref() == Some("richtextarea");
            if html {
                body.push(Block::Markdown(
                    html_to_markdown(&text).trim_end().to_owned(),
                ));
            } else {
                body.extend(Block::plain_text(&text));
            }
        } else {
            meta.push((f.name.clone(), value.clone()));
        }
    }
    let id_value = json!(id);
    let object = json!(view.name);
    let stamp = json!(modstamp);
    let mut header: Vec<(&str, &Value)> = vec![
        ("object", &object),
        ("id", &id_value),
        ("system_modstamp", &stamp),
    ];
    header.extend(meta.iter().map(|(k, v)| (k.as_str(), v)));
    let mut text = markdown::front_matter(header);
    text.push_str(&markdown::render(&body));
    let meta: Map<String, Value> = meta.into_iter().collect();
    let mut doc = Document::text(record_id(&id), SOURCE, title, text)
        .with_metadata("object", object)
        .with_metadata("record_id", id_value)
        .with_metadata("fields", Value::Object(meta))
        .with_updated_at(modstamp)
        .with_access(access.clone());
    // The record's account (a contact's, an opportunity's, a case's), else the record it
    // hangs under by `ParentId`: an account's parent, a case comment's, an e-mail's or a
    // feed item's case or record.
    let parent = ["AccountId", "ParentId"]
        .iter()
        .filter_map(|f| record.get(*f).and_then(Value::as_str))
        .find(|p| is_record_id(p) && *p != id);
    if let Some(p) = parent {
        doc = doc.with_parent_id(record_id(p));
    }
    if let Ok(link) = instance.join(&format!("/{id}")) {
        doc = doc.with_link(link);
    }
    doc.with_version(version).into()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let Value::Object(record) = json!({"attributes": {"type": "Account"}, "Id": "001000000000001AAA",
            "SystemModstamp": "2025-03-01T10:20:00.000+0000", "Name": "Acme \"Inc\"", "Employees": 12})
        else {
            panic!("an object")
        };
        let mut fields = record.clone();
        fields.remove("attributes");
        let text = serde_json::to_string(&fields).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            record_version(&view, &record),
            format!("{}|{}", view.render_key, hash128(&text))
        );
        let Value::Object(moved) = json!({"Id": "001000000000001AAA",
            "SystemModstamp": "2025-03-01T10:20:00.000+0000", "Name": "Acme", "Employees": 12})
        else {
            panic!("an object")
        };
        assert_ne!(
            record_version(&view, &record),
            record_version(&view, &moved)
        );
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
            let Value::Object(record) = record else {
                panic!("an object")
            };
            let version = record_version(&view, &record);
            match record_document(&view, &record, &version, &instance, &Access::default()) {
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
    fn a_wide_object_is_cut_to_a_query_url_salesforce_accepts() {
        // Orgs with hundreds of custom fields: the URL must stay under 16,384 bytes.
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
        let mut url = Url::parse("https://acme.my.salesforce.com/services/data/v62.0/query")
            .unwrap_or_else(|e| panic!("{e}"));
        let soql = format!("SELECT {} FROM Account", v.select_list());
        url.query_pairs_mut().append_pair("q", &soql);
        assert!(
            url.as_str().len() <= SELECT_BUDGET + 200,
            "{}",
            url.as_str().len()
        );
        for kept in [
            "Id",
            "SystemModstamp",
            "Name",
            "Notes__c",
            "Custom_Field_Number_0000__c",
        ] {
            assert!(v.has(kept), "{kept} is kept");
        }
        assert!(!v.has("Custom_Field_Number_0999__c"));
        assert_eq!(v.name_field.as_deref(), Some("Name"));
        // A narrow object keeps every field.
        let d: Describe = serde_json::from_value(json!({"name": "Case", "fields": [
            {"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}]}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ObjectView::new(d).select_list(), "Id, SystemModstamp");
    }
}
