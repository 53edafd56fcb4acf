//! A wiremock Salesforce written from the REST API reference (developer.salesforce.com,
//! "REST API Developer Guide" and "OAuth 2.0 Client Credentials Flow"):
//! `POST /services/oauth2/token` (form `grant_type=client_credentials|password`, answered
//! `{"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}` with
//! `instance_url` = this server; refusals `400 {"error": "invalid_client",
//! "error_description": "invalid client credentials"}`); `GET
//! /services/data/v62.0/sobjects/{Object}/describe`; `GET /services/data/v62.0/query?q=` for
//! the SOQL the connector writes (a small parser: select list, `WHERE` terms joined by `AND`,
//! `ORDER BY SystemModstamp, Id`, `LIMIT`), results in batches with `nextRecordsUrl`
//! (`/services/data/v62.0/query/01g…-N`) while `done` is false; `GET
//! /sobjects/{Object}/deleted/?start=&end=`; errors as `[{"message", "errorCode"}]` (401
//! `INVALID_SESSION_ID`, 404 `NOT_FOUND`, 400 `INVALID_FIELD` / `INVALID_TYPE` /
//! `MALFORMED_QUERY`), `Sforce-Limit-Info` on every answer.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::Connector;
use serde_json::{Map, Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

#[path = "../records_wire/mod.rs"]
pub mod records_wire;

pub const CLIENT_ID: &str = "3MVG9rZjd7MXFdLhVx0cBZ9OSnOP0RxeyKZdL_pdtEwiY1xY7o1eA9A9aIw5";
pub const CLIENT_SECRET: &str = "F4D1E0C9B8A7F6E5D4C3B2A1F0E9D8C7B6A5F4E3D2C1B0A9";
pub const ORG: &str = "00D5e000000TestEAA";
pub const VERSION: &str = "v62.0";

pub const ACME: &str = "001000000000001AAA";
pub const GLOBEX: &str = "001000000000002AAA";
pub const ANA: &str = "003000000000001AAA";
pub const BO: &str = "003000000000002AAA";
pub const CASE1: &str = "500000000000001AAA";
pub const CASE2: &str = "500000000000002AAA";
pub const CASE3: &str = "500000000000003AAA";
pub const ARTICLE: &str = "ka0000000000001AAA";
pub const COMMENT1: &str = "00a000000000001AAA";
pub const COMMENT2: &str = "00a000000000002AAA";

pub fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

/// Salesforce's date-time form.
pub fn sf_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

pub fn doc_id(id: &str) -> String {
    format!("salesforce:{id}")
}

/// One record of the fake org.
#[derive(Debug, Clone)]
pub struct Rec {
    pub object: String,
    pub id: String,
    pub modstamp: DateTime<Utc>,
    pub fields: Value,
    /// Sent with an unreadable `SystemModstamp`.
    pub broken: bool,
}

#[derive(Debug, Clone)]
pub struct State {
    pub uri: String,
    pub records: Vec<Rec>,
    /// (object, id, deleted date).
    pub deleted: Vec<(String, String, DateTime<Utc>)>,
    /// Records per result batch before a `nextRecordsUrl`.
    pub batch: usize,
    /// Whether the org has Salesforce Knowledge (`Knowledge__kav`).
    pub knowledge: bool,
    /// Tokens handed out, in order; only the last is valid.
    pub tokens: Vec<String>,
    /// Token requests seen (their `grant_type`).
    pub grants: Vec<String>,
    /// The SOQL queries seen.
    pub queries: Vec<String>,
    /// `nextRecordsUrl` pages served.
    pub next_pages: usize,
    /// Deleted-record listings seen (their query strings).
    pub deleted_listings: Vec<String>,
    /// Fields the run-as user may not read (left out of describes).
    pub hidden: Vec<String>,
    /// Fields taken from the user after the describe: still described, refused by queries.
    pub revoked: Vec<String>,
    /// `nextRecordsUrl` requests still to be answered `INVALID_QUERY_LOCATOR` (the cursor
    /// expired after 15 idle minutes, or the user's eleventh cursor released it).
    pub lost_cursors: usize,
    /// Custom text fields on Account beyond the standard ones (`Custom_Field_0000__c`…),
    /// each record holding a value in each: an org whose field list overflows a query URL.
    pub wide: usize,
    /// Records deleted into the recycle bin: `queryAll` returns them (`IsDeleted` true),
    /// `query` does not.
    pub recycled: Vec<Rec>,
    /// Children a relationship subquery answers with before its own `nextRecordsUrl`.
    pub child_batch: usize,
    /// `queryAll` queries seen.
    pub query_alls: Vec<String>,
    /// Text replacements made in every query result page's JSON text (a value no JSON
    /// number type holds, say, which a `Value` cannot carry).
    pub body_edits: Vec<(String, String)>,
    /// Query results kept for `nextRecordsUrl`.
    cursors: Vec<Vec<Value>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            uri: String::new(),
            records: Vec::new(),
            deleted: Vec::new(),
            batch: 2,
            knowledge: false,
            tokens: Vec::new(),
            grants: Vec::new(),
            queries: Vec::new(),
            next_pages: 0,
            deleted_listings: Vec::new(),
            hidden: Vec::new(),
            revoked: Vec::new(),
            lost_cursors: 0,
            wide: 0,
            recycled: Vec::new(),
            child_batch: usize::MAX,
            query_alls: Vec::new(),
            body_edits: Vec::new(),
            cursors: Vec::new(),
        }
    }
}

pub fn sf_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!([{"message": message, "errorCode": code}]))
}

fn field(name: &str, label: &str, kind: &str) -> Value {
    json!({"name": name, "label": label, "type": kind, "nameField": false,
        "deprecatedAndHidden": false, "htmlFormatted": false, "extraTypeInfo": null,
        "compoundFieldName": null, "length": 255, "nillable": true})
}

/// The name of the `i`th custom field of a wide Account.
pub fn wide_field(i: usize) -> String {
    format!("Custom_Field_{i:04}__c")
}

fn describe_wide(object: &str, wide: usize) -> Option<Value> {
    let mut d = describe(object)?;
    if object == "Account" {
        let fields = d["fields"].as_array_mut().unwrap();
        for i in 0..wide {
            fields.push(field(
                &wide_field(i),
                &format!("Custom Field {i}"),
                "string",
            ));
        }
    }
    Some(d)
}

fn describe(object: &str) -> Option<Value> {
    let mut fields = vec![
        field("Id", &format!("{object} ID"), "id"),
        field("IsDeleted", "Deleted", "boolean"),
        field("CreatedDate", "Created Date", "datetime"),
        field("LastModifiedDate", "Last Modified Date", "datetime"),
        field("SystemModstamp", "System Modstamp", "datetime"),
    ];
    let mut children = Vec::new();
    let (prefix, label, more) = match object {
        "Account" => (
            {
                children = vec![
                    json!({"childSObject": "Contact", "field": "AccountId", "relationshipName": "Contacts", "cascadeDelete": false}),
                    json!({"childSObject": "Case", "field": "AccountId", "relationshipName": "Cases", "cascadeDelete": false}),
                    json!({"childSObject": "AccountHistory", "field": "AccountId", "relationshipName": "Histories", "cascadeDelete": true}),
                    json!({"childSObject": "Account", "field": "ParentId", "relationshipName": "ChildAccounts", "cascadeDelete": false}),
                ];
                "001"
            },
            "Account",
            vec![
                json!({"name": "Name", "label": "Account Name", "type": "string", "nameField": true}),
                field("Industry", "Industry", "picklist"),
                field("ParentId", "Parent Account ID", "reference"),
                field("BillingAddress", "Billing Address", "address"),
                field("BillingCity", "Billing City", "string"),
                field("Description", "Account Description", "textarea"),
                field("Logo__c", "Logo", "base64"),
            ],
        ),
        "Contact" => (
            "003",
            "Contact",
            vec![
                json!({"name": "Name", "label": "Full Name", "type": "string", "nameField": true}),
                field("AccountId", "Account ID", "reference"),
                field("Email", "Email", "email"),
                field("MailingAddress", "Mailing Address", "address"),
                field("Location__c", "Location", "location"),
            ],
        ),
        "Case" => (
            {
                children = vec![
                    json!({"childSObject": "CaseComment", "field": "ParentId", "relationshipName": "CaseComments", "cascadeDelete": true}),
                    json!({"childSObject": "Case", "field": "ParentId", "relationshipName": null, "cascadeDelete": false}),
                ];
                "500"
            },
            "Case",
            vec![
                json!({"name": "CaseNumber", "label": "Case Number", "type": "string", "nameField": true}),
                field("AccountId", "Account ID", "reference"),
                field("Subject", "Subject", "string"),
                field("Status", "Status", "picklist"),
                field("Description", "Description", "textarea"),
                json!({"name": "Resolution__c", "label": "Resolution", "type": "textarea", "htmlFormatted": true, "extraTypeInfo": "richtextarea"}),
            ],
        ),
        "CaseComment" => (
            "00a",
            "Case Comment",
            vec![
                field("ParentId", "Parent ID", "reference"),
                field("IsPublished", "Published", "boolean"),
                field("CommentBody", "Body", "textarea"),
            ],
        ),
        "Knowledge__kav" => (
            "ka0",
            "Knowledge",
            vec![
                json!({"name": "Title", "label": "Title", "type": "string", "nameField": true}),
                field("PublishStatus", "Publication Status", "picklist"),
                field("ArchivedDate", "Archived Date", "datetime"),
                json!({"name": "Body__c", "label": "Body", "type": "textarea", "htmlFormatted": true, "extraTypeInfo": "richtextarea"}),
            ],
        ),
        _ => return None,
    };
    fields.extend(more);
    Some(
        json!({"name": object, "label": label, "labelPlural": format!("{label}s"), "keyPrefix": prefix,
        "queryable": true, "custom": object.ends_with("__kav"), "fields": fields, "childRelationships": children,
        "urls": {"describe": format!("/services/data/{VERSION}/sobjects/{object}/describe")}}),
    )
}

/// The standard org: two accounts, two contacts, three cases (two stamped at the same
/// instant), and with `knowledge` one article.
pub fn standard() -> State {
    let rec = |object: &str, id: &str, minute: u32, fields: Value| Rec {
        object: object.to_owned(),
        id: id.to_owned(),
        modstamp: time(minute),
        fields,
        broken: false,
    };
    State {
        records: vec![
            rec(
                "Account",
                ACME,
                5,
                json!({"Name": "Acme", "Industry": "Manufacturing", "BillingCity": "Springfield",
                "BillingAddress": {"city": "Springfield", "street": "1 Main St"}, "Description": "Makes *everything*.\nSince 1949.", "Logo__c": "/services/data/v62.0/sobjects/Account/001/Logo__c"}),
            ),
            rec(
                "Account",
                GLOBEX,
                20,
                json!({"Name": "Globex", "Industry": "Energy", "ParentId": ACME}),
            ),
            rec(
                "Contact",
                ANA,
                20,
                json!({"Name": "Ana Silva", "AccountId": ACME, "Email": "ana@acme.example"}),
            ),
            rec(
                "Contact",
                BO,
                30,
                json!({"Name": "Bo Chen", "Email": "bo@example.com"}),
            ),
            rec(
                "Case",
                CASE1,
                30,
                json!({"CaseNumber": "00001001", "AccountId": GLOBEX, "Subject": "Turbine noise", "Status": "New",
                "Description": "The turbine hums at night.", "Resolution__c": "<p>Replaced the <b>bearing</b>.</p><ul><li>Tested</li></ul>"}),
            ),
            rec(
                "Case",
                CASE3,
                30,
                json!({"CaseNumber": "00001003", "AccountId": ACME, "Subject": "Invoice", "Status": "Closed"}),
            ),
            rec(
                "Case",
                CASE2,
                50,
                json!({"CaseNumber": "00001002", "Subject": "Login help", "Status": "Working"}),
            ),
            rec(
                "CaseComment",
                COMMENT1,
                35,
                json!({"ParentId": CASE1, "IsPublished": true, "CommentBody": "Called the customer back.\nA site visit is booked."}),
            ),
            rec(
                "CaseComment",
                COMMENT2,
                40,
                json!({"ParentId": CASE1, "IsPublished": false, "CommentBody": "Bearing ordered."}),
            ),
            rec(
                "Knowledge__kav",
                ARTICLE,
                10,
                json!({"Title": "Resetting a turbine", "PublishStatus": "Online",
                "Body__c": "<h2>Steps</h2><p>Turn it off and on.</p>"}),
            ),
        ],
        ..State::default()
    }
}

/// A select list split on `, ` outside parentheses (a subquery is one item).
fn split_top(select: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut from) = (0i32, 0);
    for (i, c) in select.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(select[from..i].trim());
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(select[from..].trim());
    out
}

/// The `WHERE` terms of `q`, split on `AND` outside parentheses.
fn split_and(where_: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let bytes = where_.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c == '(' {
            depth += 1;
        } else if c == ')' {
            depth -= 1;
        }
        if depth == 0 && where_[i..].starts_with(" AND ") {
            out.push(std::mem::take(&mut cur));
            i += 5;
            continue;
        }
        cur.push(c);
        i += 1;
    }
    out.push(cur);
    out
}

fn parse_t(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether `r` satisfies the term, or `Err` when the term is not SOQL this fake reads.
fn holds(r: &Rec, term: &str) -> Result<bool, String> {
    let term = term.trim();
    if let Some(t) = term.strip_prefix("SystemModstamp >= ") {
        return Ok(r.modstamp >= parse_t(t).ok_or(term)?);
    }
    if let Some(t) = term.strip_prefix("SystemModstamp < ") {
        return Ok(r.modstamp < parse_t(t).ok_or(term)?);
    }
    let archived = || {
        r.fields["ArchivedDate"]
            .as_str()
            .and_then(|s| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
            .map(|t| t.with_timezone(&Utc))
    };
    if let Some(t) = term.strip_prefix("ArchivedDate >= ") {
        return Ok(archived().is_some_and(|a| a >= parse_t(t).unwrap()));
    }
    if let Some(t) = term.strip_prefix("ArchivedDate < ") {
        return Ok(archived().is_some_and(|a| a < parse_t(t).unwrap()));
    }
    if let Some(id) = term
        .strip_prefix("Id > '")
        .and_then(|i| i.strip_suffix('\''))
    {
        return Ok(r.id.as_str() > id);
    }
    if let Some(rest) = term.strip_prefix("(SystemModstamp > ") {
        // (SystemModstamp > T OR (SystemModstamp = T AND Id > 'X'))
        let (t, rest) = rest.split_once(" OR (SystemModstamp = ").ok_or(term)?;
        let (_, id) = rest.split_once(" AND Id > '").ok_or(term)?;
        let id = id.strip_suffix("'))").ok_or(term)?;
        let t = parse_t(t).ok_or(term)?;
        return Ok(r.modstamp > t || (r.modstamp == t && r.id.as_str() > id));
    }
    if let Some(list) = term
        .strip_prefix("Id IN (")
        .and_then(|l| l.strip_suffix(')'))
    {
        return Ok(list.split(", ").any(|i| i.trim_matches('\'') == r.id));
    }
    if let Some(field) = term.strip_suffix(" != null") {
        return Ok(r.fields.get(field).is_some_and(|v| !v.is_null()));
    }
    if let Some(status) = term
        .strip_prefix("PublishStatus = '")
        .and_then(|s| s.strip_suffix('\''))
    {
        return Ok(r.fields["PublishStatus"] == status);
    }
    Err(term.to_owned())
}

impl State {
    fn record_json(&self, r: &Rec, select: &[&str]) -> Value {
        self.record_json_of(r, select, false)
    }

    fn record_json_of(&self, r: &Rec, select: &[&str], deleted: bool) -> Value {
        let mut out = Map::new();
        out.insert("attributes".into(), json!({"type": r.object, "url": format!("/services/data/{VERSION}/sobjects/{}/{}", r.object, r.id)}));
        for f in select {
            let v = match *f {
                "Id" => json!(r.id),
                "SystemModstamp" | "LastModifiedDate" if r.broken => json!("yesterday-ish"),
                "SystemModstamp" | "LastModifiedDate" => json!(sf_time(r.modstamp)),
                "CreatedDate" => json!(sf_time(r.modstamp - chrono::TimeDelta::days(1))),
                "IsDeleted" => json!(deleted),
                other => r.fields.get(other).cloned().unwrap_or(Value::Null),
            };
            out.insert((*f).to_owned(), v);
        }
        Value::Object(out)
    }

    fn page(&mut self, cursor: usize, from: usize) -> ResponseTemplate {
        let all = &self.cursors[cursor];
        let end = (from + self.batch).min(all.len());
        let mut body =
            json!({"totalSize": all.len(), "done": end >= all.len(), "records": all[from..end]});
        if end < all.len() {
            body["nextRecordsUrl"] = json!(format!(
                "/services/data/{VERSION}/query/01gD000000{cursor:06}-{end}"
            ));
        }
        if self.body_edits.is_empty() {
            return ResponseTemplate::new(200).set_body_json(body);
        }
        let mut text = body.to_string();
        for (from, to) in &self.body_edits {
            text = text.replace(from, to);
        }
        ResponseTemplate::new(200).set_body_raw(text, "application/json")
    }

    fn query(&mut self, q: &str, all: bool) -> ResponseTemplate {
        if all {
            self.query_alls.push(q.to_owned());
        } else {
            self.queries.push(q.to_owned());
        }
        let malformed = || sf_error(400, "MALFORMED_QUERY", &format!("unexpected token in: {q}"));
        let Some(rest) = q.strip_prefix("SELECT ") else {
            return malformed();
        };
        // The select list ends at the first ` FROM ` outside a subquery's parentheses.
        let mut depth = 0i32;
        let mut from_at = None;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 && rest[i..].starts_with(" FROM ") => {
                    from_at = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(at) = from_at else {
            return malformed();
        };
        let (select, rest) = (&rest[..at], &rest[at + 6..]);
        let (object, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let Some(desc) = describe_wide(object, self.wide)
            .filter(|_| object != "Knowledge__kav" || self.knowledge)
        else {
            return sf_error(
                400,
                "INVALID_TYPE",
                &format!(
                    "\n{q}\n^\nERROR at Row:1:Column:1\nsObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name."
                ),
            );
        };
        let known: Vec<String> = desc["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .filter(|f| !self.hidden.contains(f) && !self.revoked.contains(f))
            .collect();
        let mut subqueries: Vec<(Value, Vec<String>, usize)> = Vec::new();
        let mut plain: Vec<&str> = Vec::new();
        for item in split_top(select) {
            let Some(sub) = item
                .strip_prefix("(SELECT ")
                .and_then(|s| s.strip_suffix(')'))
            else {
                plain.push(item);
                continue;
            };
            let Some((fields, tail)) = sub.split_once(" FROM ") else {
                return malformed();
            };
            let (name, tail) = tail.split_once(' ').unwrap_or((tail, ""));
            let rel = desc["childRelationships"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["relationshipName"] == name)
                .cloned();
            let Some(rel) = rel else {
                return sf_error(
                    400,
                    "INVALID_TYPE",
                    &format!(
                        "\n{q}\n^\nERROR at Row:1:Column:1\nDidn't understand relationship '{name}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
                    ),
                );
            };
            let child = rel["childSObject"].as_str().unwrap_or_default();
            let child_known: Vec<String> = describe(child)
                .map(|d| {
                    d["fields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f["name"].as_str().unwrap().to_owned())
                        .filter(|f| !self.hidden.contains(f))
                        .collect()
                })
                .unwrap_or_default();
            let fields: Vec<String> = fields.split(", ").map(str::to_owned).collect();
            if let Some(f) = fields.iter().find(|f| !child_known.contains(f)) {
                return sf_error(
                    400,
                    "INVALID_FIELD",
                    &format!(
                        "\n{q}\n^\nERROR at Row:1:Column:8\nNo such column '{f}' on entity '{child}'."
                    ),
                );
            }
            let limit = tail
                .split_once("LIMIT ")
                .and_then(|(_, n)| n.trim().parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            subqueries.push((rel, fields, limit));
        }
        let select = plain;
        for f in &select {
            if !known.iter().any(|k| k == f) {
                return sf_error(
                    400,
                    "INVALID_FIELD",
                    &format!(
                        "\n{q}\n^\nERROR at Row:1:Column:8\nNo such column '{f}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name."
                    ),
                );
            }
        }
        let (where_, tail) = match rest.strip_prefix("WHERE ") {
            Some(w) => match w.split_once(" ORDER BY ") {
                Some((w, t)) => (w, format!("ORDER BY {t}")),
                None => (w, String::new()),
            },
            None => ("", rest.to_owned()),
        };
        let terms = if where_.is_empty() {
            Vec::new()
        } else {
            split_and(where_)
        };
        if object == "Knowledge__kav"
            && !terms.iter().any(|t| t.contains("PublishStatus"))
            && !terms.iter().any(|t| t.starts_with("Id IN"))
        {
            return sf_error(
                400,
                "MALFORMED_QUERY",
                "Implementation restriction: When querying the Knowledge__kav object, you must filter using the following syntax: Id = [single ID], Id IN [list of ID's] or PublishStatus = ['Online' or 'Draft' or 'Archived'].",
            );
        }
        let mut selected: Vec<&Rec> = Vec::new();
        let deleted: Vec<&Rec> = if all {
            self.recycled.iter().collect()
        } else {
            Vec::new()
        };
        for r in self
            .records
            .iter()
            .chain(deleted.iter().copied())
            .filter(|r| r.object == object)
        {
            let mut keep = true;
            for t in &terms {
                match holds(r, t) {
                    Ok(h) => keep &= h,
                    Err(t) => {
                        return sf_error(400, "MALFORMED_QUERY", &format!("unexpected term: {t}"));
                    }
                }
            }
            if keep {
                selected.push(r);
            }
        }
        if tail.contains("ORDER BY SystemModstamp") {
            selected.sort_by(|a, b| (a.modstamp, &a.id).cmp(&(b.modstamp, &b.id)));
        } else if tail.contains("ORDER BY Id") {
            selected.sort_by(|a, b| a.id.cmp(&b.id));
        }
        if let Some(n) = tail
            .split_once("LIMIT ")
            .and_then(|(_, n)| n.trim().parse::<usize>().ok())
        {
            selected.truncate(n);
        }
        let recycled: Vec<bool> = selected
            .iter()
            .map(|r| self.recycled.iter().any(|d| d.id == r.id))
            .collect();
        let mut rows: Vec<Value> = selected
            .iter()
            .zip(&recycled)
            .map(|(r, d)| self.record_json_of(r, &select, *d))
            .collect();
        let parents: Vec<String> = selected.iter().map(|r| r.id.clone()).collect();
        for (row, parent) in rows.iter_mut().zip(&parents) {
            for (rel, fields, limit) in &subqueries {
                let child = rel["childSObject"].as_str().unwrap_or_default();
                let field = rel["field"].as_str().unwrap_or_default();
                let mut kids: Vec<Rec> = self
                    .records
                    .iter()
                    .filter(|c| c.object == child && c.fields.get(field) == Some(&json!(parent)))
                    .cloned()
                    .collect();
                kids.sort_by(|a, b| a.id.cmp(&b.id));
                kids.truncate(*limit);
                let names: Vec<&str> = fields.iter().map(String::as_str).collect();
                let kids: Vec<Value> = kids.iter().map(|c| self.record_json(c, &names)).collect();
                let name = rel["relationshipName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                // Salesforce answers an empty relationship with null.
                let value = if kids.is_empty() {
                    Value::Null
                } else if kids.len() > self.child_batch {
                    let first = kids[..self.child_batch].to_vec();
                    let total = kids.len();
                    self.cursors.push(kids);
                    let cursor = self.cursors.len() - 1;
                    json!({"totalSize": total, "done": false, "records": first,
                        "nextRecordsUrl": format!("/services/data/{VERSION}/query/01gD000000{cursor:06}-{}", self.child_batch)})
                } else {
                    json!({"totalSize": kids.len(), "done": true, "records": kids})
                };
                row[name] = value;
            }
        }
        self.cursors.push(rows);
        let cursor = self.cursors.len() - 1;
        self.page(cursor, 0)
    }
}

#[derive(Clone, Default)]
pub struct Salesforce {
    pub state: Arc<Mutex<State>>,
}

impl Respond for Salesforce {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.state.lock().unwrap();
        let path = req.url.path().to_owned();
        let limit =
            |r: ResponseTemplate| r.insert_header("Sforce-Limit-Info", "api-usage=25/15000");
        // Salesforce refuses a request line and headers over 16,384 bytes.
        if req.url.as_str().len() > 16_384 {
            return ResponseTemplate::new(414)
                .set_body_string("<html><body>414 URI Too Long</body></html>");
        }
        if path == "/services/oauth2/token" {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
                .into_owned()
                .collect();
            let get = |k: &str| {
                form.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            st.grants.push(get("grant_type"));
            let ok_app = get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET;
            let ok = match get("grant_type").as_str() {
                "client_credentials" => ok_app,
                "password" => {
                    ok_app
                        && get("username") == "integration@acme.example"
                        && get("password") == "correct-horseTOKEN123"
                }
                _ => {
                    return ResponseTemplate::new(400).set_body_json(json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"}));
                }
            };
            if !ok {
                let (e, d) = if get("grant_type") == "password" {
                    ("invalid_grant", "authentication failure")
                } else {
                    ("invalid_client", "invalid client credentials")
                };
                return ResponseTemplate::new(400)
                    .set_body_json(json!({"error": e, "error_description": d}));
            }
            let token = format!("{ORG}!AR0.token{}", st.tokens.len() + 1);
            st.tokens.push(token.clone());
            return ResponseTemplate::new(200).set_body_json(json!({
                "access_token": token, "signature": "c2lnbmF0dXJl", "scope": "api",
                "instance_url": st.uri, "id": format!("https://login.salesforce.com/id/{ORG}/0055e000000UserAAA"),
                "token_type": "Bearer", "issued_at": "1740823200000",
            }));
        }
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if st
            .tokens
            .last()
            .is_none_or(|t| auth != format!("Bearer {t}"))
        {
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid");
        }
        let Some(rest) = path.strip_prefix(&format!("/services/data/{VERSION}/")) else {
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist");
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let answer = match segments.as_slice() {
            ["sobjects", object, "describe"] => {
                match describe_wide(object, st.wide)
                    .filter(|_| *object != "Knowledge__kav" || st.knowledge)
                {
                    Some(mut d) => {
                        let hidden = st.hidden.clone();
                        d["fields"]
                            .as_array_mut()
                            .unwrap()
                            .retain(|f| !hidden.iter().any(|h| f["name"] == h.as_str()));
                        ResponseTemplate::new(200).set_body_json(d)
                    }
                    None => sf_error(404, "NOT_FOUND", "The requested resource does not exist"),
                }
            }
            ["sobjects", object, "deleted", ""] | ["sobjects", object, "deleted"] => {
                let q: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
                st.deleted_listings
                    .push(req.url.query().unwrap_or_default().to_owned());
                let get = |k: &str| {
                    q.iter()
                        .find(|(key, _)| key == k)
                        .and_then(|(_, v)| parse_t(v))
                };
                let (Some(start), Some(end)) = (get("start"), get("end")) else {
                    return sf_error(400, "MALFORMED_QUERY", "start and end are required");
                };
                if Utc::now() - start > chrono::TimeDelta::days(30) {
                    return sf_error(
                        400,
                        "INVALID_REPLICATION_DATE",
                        "startDate cannot be more than 30 days ago",
                    );
                }
                let records: Vec<Value> = st
                    .deleted
                    .iter()
                    .filter(|(o, _, at)| o == object && *at >= start && *at <= end)
                    .map(|(_, id, at)| json!({"id": id, "deletedDate": sf_time(*at)}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"deletedRecords": records,
                    "earliestDateAvailable": sf_time(Utc::now() - chrono::TimeDelta::days(15)), "latestDateCovered": sf_time(end)}))
            }
            ["query"] => {
                let q = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "q")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                st.query(&q, false)
            }
            ["queryAll"] | ["queryAll", ""] => {
                let q = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "q")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                st.query(&q, true)
            }
            ["query", locator] => {
                let parsed = locator
                    .strip_prefix("01gD000000")
                    .and_then(|l| l.split_once('-'))
                    .and_then(|(c, n)| Some((c.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
                match parsed.filter(|(c, _)| *c < st.cursors.len()) {
                    Some(_) if st.lost_cursors > 0 => {
                        st.lost_cursors -= 1;
                        sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
                    }
                    Some((c, n)) => {
                        st.next_pages += 1;
                        st.page(c, n)
                    }
                    None => sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator"),
                }
            }
            _ => sf_error(404, "NOT_FOUND", "The requested resource does not exist"),
        };
        limit(answer)
    }
}

impl records_wire::Wire for Salesforce {
    type State = State;

    fn state(&self) -> &Arc<Mutex<State>> {
        &self.state
    }

    /// The standard org, its instance at `uri`.
    fn standard(uri: &str) -> State {
        let mut st = standard();
        st.uri = uri.to_owned();
        st
    }
}

/// The fake Salesforce on a server of its own.
pub type Fake = records_wire::Fake<Salesforce>;

/// The config of a connector over the fake at `uri`, `extra` merged in.
pub fn config(uri: &str, extra: Value) -> Value {
    records_wire::merged(
        json!({
            "objects": ["Account", "Contact", "Case"],
            "credentials": {"instance_url": uri, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "page_size": 3,
            "allowed_hosts": ["127.0.0.1"],
            "requests_per_second": 1000,
        }),
        extra,
    )
}

/// A connector of the registry over the fake at `uri`, `extra` merged into the config.
pub fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    records_wire::build("salesforce", config(uri, extra))
}
