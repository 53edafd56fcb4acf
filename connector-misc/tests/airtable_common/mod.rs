//! A wiremock Airtable written from the Web API reference (airtable.com/developers/web/api):
//! `GET /v0/meta/bases/{baseId}/tables` (tables with `id`, `name`, `primaryFieldId`, `fields`
//! with `id`, `name`, `type`, `options`, and `views`); `GET /v0/{baseId}/{tableIdOrName}` with
//! `pageSize`, `offset`, `view`, `filterByFormula` and `fields[]`, answered as `{"records":
//! [{"id", "createdTime", "fields"}], "offset": "itr…/rec…"}` (empty fields left out, as
//! Airtable does); offsets that expire (`422 LIST_RECORDS_ITERATOR_NOT_AVAILABLE`) when the
//! fake "restarts"; a formula over an unknown field answered `422 INVALID_FILTER_BY_FORMULA`;
//! error bodies `{"error": {"type", "message"}}` (401 `AUTHENTICATION_REQUIRED`, 403
//! `INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, 404 `NOT_FOUND`); attachments whose signed URLs
//! point at an `/attachments/…` path of the same server (standing for
//! `v5.airtableusercontent.com`), refused when the token is sent.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::Connector;
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

#[path = "../records_wire/mod.rs"]
pub mod records_wire;

pub const TOKEN: &str =
    "patQ3YzJ7mVbW9xHk.4f1d7c2b9a8e6d5c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c";
pub const BASE: &str = "appx3BqYz7Kd1LmNo";
pub const TABLE_ID: &str = "tblT4sKs0000ABCDE";
pub const TABLE: &str = "Tasks";

pub const REC_PLAN: &str = "recA1b2C3d4E5f6G7";
pub const REC_LAUNCH: &str = "recB1b2C3d4E5f6G7";
pub const REC_HIRING: &str = "recC1b2C3d4E5f6G7";
pub const REC_BUDGET: &str = "recD1b2C3d4E5f6G7";
pub const REC_RETRO: &str = "recE1b2C3d4E5f6G7";
pub const ATT_SPEC: &str = "attS1p2E3c4P5d6F7";
pub const ATT_LOGO: &str = "attL1o2G3o4P5n6G7";

pub fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn record_doc(rec: &str) -> String {
    format!("airtable:{rec}")
}

pub fn attachment_doc(rec: &str, att: &str) -> String {
    format!("airtable:{rec}:{att}")
}

/// One record of the fake table.
#[derive(Debug, Clone)]
pub struct Rec {
    pub id: String,
    pub created: DateTime<Utc>,
    /// Airtable's last modification (what `LAST_MODIFIED_TIME()` and the field show).
    pub modified: DateTime<Utc>,
    pub fields: Value,
    /// Sent with an unreadable `createdTime`.
    pub broken: bool,
}

/// An attachment body served under `/attachments/{id}/{name}`.
#[derive(Debug, Clone)]
pub struct File {
    pub id: String,
    pub name: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct State {
    pub records: Vec<Rec>,
    pub files: Vec<File>,
    /// Records a page at most, whatever `pageSize` asks.
    pub page_size: usize,
    /// Whether the table has the `Last modified` field.
    pub modified_field: bool,
    /// The iterator generation: offsets of an older one are refused.
    pub generation: u32,
    /// Whether the schema answers 403 (a token without `schema.bases:read`).
    pub no_schema: bool,
    /// The listing requests seen (their query strings).
    pub listings: Vec<String>,
    /// Attachment downloads seen.
    pub downloads: usize,
    /// The server "restarts" when this listing request (counting from 1) arrives: every
    /// offset handed out before it expires.
    pub restart_at_listing: Option<usize>,
    /// Answer the next listing requests with a bare 429 (no `Retry-After`), as Airtable does.
    pub rate_limited: usize,
}

#[derive(Clone, Default)]
pub struct Airtable {
    pub state: Arc<Mutex<State>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            files: Vec::new(),
            page_size: 2,
            modified_field: true,
            generation: 1,
            no_schema: false,
            listings: Vec::new(),
            downloads: 0,
            restart_at_listing: None,
            rate_limited: 0,
        }
    }
}

pub fn error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"type": kind, "message": message}}))
}

fn fields_schema(modified: bool) -> Value {
    let mut fields = vec![
        json!({"id": "fldName0000000001", "name": "Name", "type": "singleLineText"}),
        json!({"id": "fldNotes000000002", "name": "Notes", "type": "multilineText"}),
        json!({"id": "fldSumm0000000003", "name": "Summary", "type": "richText"}),
        json!({"id": "fldStat0000000004", "name": "Status", "type": "singleSelect",
            "options": {"choices": [{"id": "selTodo", "name": "Todo", "color": "redLight2"},
                {"id": "selDone", "name": "Done", "color": "greenLight2"}]}}),
        json!({"id": "fldTags0000000005", "name": "Tags", "type": "multipleSelects",
            "options": {"choices": []}}),
        json!({"id": "fldOwnr0000000006", "name": "Owner", "type": "singleCollaborator"}),
        json!({"id": "fldDue00000000007", "name": "Due", "type": "date",
            "options": {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}}),
        json!({"id": "fldDone0000000008", "name": "Done", "type": "checkbox",
            "options": {"icon": "check", "color": "greenBright"}}),
        json!({"id": "fldEst00000000009", "name": "Estimate", "type": "number",
            "options": {"precision": 1}}),
        json!({"id": "fldSite0000000010", "name": "Website", "type": "url"}),
        json!({"id": "fldFile0000000011", "name": "Files", "type": "multipleAttachments",
            "options": {"isReversed": false}}),
        json!({"id": "fldLink0000000013", "name": "Blocked by", "type": "multipleRecordLinks",
            "options": {"linkedTableId": TABLE_ID, "isReversed": false, "prefersSingleRecordLink": false}}),
    ];
    if modified {
        fields.push(json!({"id": "fldMod00000000012", "name": "Last modified", "type": "lastModifiedTime",
            "options": {"isValid": true, "referencedFieldIds": [],
                "result": {"type": "dateTime", "options": {"dateFormat": {"name": "iso"}, "timeFormat": {"name": "24hour"}, "timeZone": "utc"}}}}));
    }
    Value::Array(fields)
}

/// The standard table: five records over three pages of two, two attachments.
pub fn standard(uri: &str) -> State {
    let att = |id: &str, name: &str, mime: &str, size: usize| {
        json!({"id": id, "width": 100, "height": 100, "url": format!("{uri}/attachments/{id}/{name}"),
            "filename": name, "size": size, "type": mime,
            "thumbnails": {"small": {"url": format!("{uri}/attachments/{id}/small"), "width": 36, "height": 36}}})
    };
    let spec = b"%PDF-1.4 launch spec".to_vec();
    let logo = b"\x89PNG logo bytes".to_vec();
    let rec = |id: &str, created: u32, modified: u32, fields: Value| Rec {
        id: id.to_owned(),
        created: time(created),
        modified: time(modified),
        fields,
        broken: false,
    };
    State {
        records: vec![
            rec(
                REC_PLAN,
                0,
                5,
                json!({
                    "Name": "Q3 plan",
                    "Notes": "Ship the *beta*.\nThen # celebrate.",
                    "Summary": "**Bold** plan with a [link](https://example.com)\n",
                    "Status": "Todo",
                    "Tags": ["planning", "q3"],
                    "Owner": {"id": "usrAb12Cd34Ef56Gh", "email": "ana@example.com", "name": "Ana Silva"},
                    "Due": "2025-07-01",
                    "Estimate": 3.5,
                    "Website": "https://example.com/q3",
                }),
            ),
            rec(
                REC_LAUNCH,
                1,
                20,
                json!({
                    "Name": "Launch",
                    "Notes": "Press release",
                    "Status": "Done",
                    "Done": true,
                    "Files": [att(ATT_SPEC, "spec.pdf", "application/pdf", spec.len()), att(ATT_LOGO, "logo.png", "image/png", logo.len())],
                    "Blocked by": [REC_PLAN],
                }),
            ),
            rec(
                REC_HIRING,
                2,
                30,
                json!({"Name": "Hiring", "Notes": "Two engineers"}),
            ),
            rec(REC_BUDGET, 3, 3, json!({"Name": "Budget", "Estimate": 12})),
            rec(
                REC_RETRO,
                4,
                50,
                json!({"Name": "Retro", "Notes": "What went well"}),
            ),
        ],
        files: vec![
            File {
                id: ATT_SPEC.to_owned(),
                name: "spec.pdf".to_owned(),
                data: spec,
            },
            File {
                id: ATT_LOGO.to_owned(),
                name: "logo.png".to_owned(),
                data: logo,
            },
        ],
        ..State::default()
    }
}

/// The two quoted times of a window formula, and the field it reads (none:
/// `LAST_MODIFIED_TIME()`).
fn parse_window(formula: &str) -> Option<(DateTime<Utc>, DateTime<Utc>, Option<String>)> {
    let quoted: Vec<&str> = formula.split('\'').skip(1).step_by(2).collect();
    let [lo, hi] = quoted.as_slice() else {
        return None;
    };
    let lo = DateTime::parse_from_rfc3339(lo).ok()?.with_timezone(&Utc);
    let hi = DateTime::parse_from_rfc3339(hi).ok()?.with_timezone(&Utc);
    let field = formula.find('{').and_then(|s| {
        formula[s + 1..]
            .find('}')
            .map(|e| formula[s + 1..s + 1 + e].to_owned())
    });
    Some((lo, hi, field))
}

impl State {
    fn record_json(&self, r: &Rec, only: &[String]) -> Value {
        let mut fields = r.fields.as_object().cloned().unwrap_or_default();
        if self.modified_field {
            fields.insert("Last modified".to_owned(), json!(stamp(r.modified)));
        }
        if !only.is_empty() {
            fields.retain(|k, _| only.contains(k));
        }
        let created = if r.broken {
            json!("yesterday-ish")
        } else {
            json!(stamp(r.created))
        };
        json!({"id": r.id, "createdTime": created, "fields": fields})
    }

    fn list(&mut self, req: &Request) -> ResponseTemplate {
        let query = req.url.query().unwrap_or_default().to_owned();
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "You have made too many requests in a single period of time. Please wait 30 seconds before trying again.",
            );
        }
        self.listings.push(query);
        if self.restart_at_listing == Some(self.listings.len()) {
            self.generation += 1;
        }
        let pairs: Vec<(String, String)> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let only: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "fields[]")
            .map(|(_, v)| v.clone())
            .collect();
        let size = get("pageSize")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(100);
        if !(1..=100).contains(&size) {
            return error(422, "INVALID_PAGE_SIZE", "Invalid pageSize");
        }
        if let Some(view) = get("view")
            && view != "Grid view"
            && view != "viwGrid0000000001"
        {
            return error(
                422,
                "VIEW_NAME_NOT_FOUND",
                &format!("Could not find view {view} in table {TABLE}"),
            );
        }
        let mut selected: Vec<&Rec> = self.records.iter().collect();
        if let Some(formula) = get("filterByFormula")
            && let Some(terms) = formula
                .strip_prefix("OR(")
                .and_then(|f| f.strip_suffix(')'))
        {
            // A refetch: `OR(RECORD_ID()='rec…', …)`.
            let ids: Vec<&str> = terms
                .split(", ")
                .filter_map(|t| t.strip_prefix("RECORD_ID()='")?.strip_suffix('\''))
                .collect();
            selected.retain(|r| ids.contains(&r.id.as_str()));
        } else if let Some(formula) = get("filterByFormula") {
            let Some((lo, hi, field)) = parse_window(&formula) else {
                return error(
                    422,
                    "INVALID_FILTER_BY_FORMULA",
                    "The formula for filtering records is invalid: Invalid formula. Please check your formula text.",
                );
            };
            if let Some(f) = &field
                && !(f == "Last modified" && self.modified_field)
            {
                return error(
                    422,
                    "INVALID_FILTER_BY_FORMULA",
                    &format!(
                        "The formula for filtering records is invalid: Unknown field names: {}",
                        f.to_lowercase()
                    ),
                );
            }
            selected.retain(|r| lo < r.modified && r.modified < hi);
        }
        let start = match get("offset") {
            None => 0,
            Some(offset) => {
                let Some((itr, rec)) = offset.split_once('/') else {
                    return error(
                        422,
                        "INVALID_OFFSET_VALUE",
                        &format!("The value of offset {offset} is invalid"),
                    );
                };
                if itr != format!("itr{:014}", self.generation) {
                    return error(
                        422,
                        "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                        "Iteration timed out or the server restarted; restart iteration from the beginning.",
                    );
                }
                match selected.iter().position(|r| r.id == rec) {
                    Some(p) => p,
                    None => {
                        return error(
                            422,
                            "INVALID_OFFSET_VALUE",
                            &format!("The value of offset {offset} is invalid"),
                        );
                    }
                }
            }
        };
        let take = size.min(self.page_size);
        let end = (start + take).min(selected.len());
        let records: Vec<Value> = selected[start..end]
            .iter()
            .map(|r| self.record_json(r, &only))
            .collect();
        let mut body = json!({"records": records});
        if end < selected.len() {
            body["offset"] = json!(format!("itr{:014}/{}", self.generation, selected[end].id));
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

impl Respond for Airtable {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let path = req.url.path().to_owned();
        let mut st = self.state.lock().unwrap();
        if let Some(rest) = path.strip_prefix("/attachments/") {
            let id = rest.split('/').next().unwrap_or_default();
            st.downloads += 1;
            return match st.files.iter().find(|f| f.id == id) {
                Some(_) if !auth.is_empty() => {
                    ResponseTemplate::new(400).set_body_string("signed URLs take no token")
                }
                Some(f) => ResponseTemplate::new(200)
                    .set_body_raw(f.data.clone(), "application/octet-stream"),
                None => ResponseTemplate::new(410).set_body_string("Gone"),
            };
        }
        if auth.is_empty() {
            return error(401, "AUTHENTICATION_REQUIRED", "Authentication required");
        }
        if auth != format!("Bearer {TOKEN}") {
            return error(
                401,
                "AUTHENTICATION_REQUIRED",
                "Invalid authentication token",
            );
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v0", "meta", "bases", base, "tables"] => {
                if *base != BASE || st.no_schema {
                    return error(
                        403,
                        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
                        "Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.",
                    );
                }
                ResponseTemplate::new(200).set_body_json(json!({"tables": [
                    {"id": "tblOther000000001", "name": "Other", "primaryFieldId": "fldOther000000001",
                        "fields": [{"id": "fldOther000000001", "name": "Title", "type": "singleLineText"}], "views": []},
                    {"id": TABLE_ID, "name": TABLE, "description": "What we do", "primaryFieldId": "fldName0000000001",
                        "fields": fields_schema(st.modified_field),
                        "views": [{"id": "viwGrid0000000001", "name": "Grid view", "type": "grid"}]}
                ]}))
            }
            ["v0", base, table] => {
                if *base != BASE || !(*table == TABLE || *table == TABLE_ID) {
                    return error(
                        403,
                        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
                        "Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.",
                    );
                }
                st.list(req)
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"error": "NOT_FOUND"})),
        }
    }
}

impl records_wire::Wire for Airtable {
    type State = State;

    fn state(&self) -> &Arc<Mutex<State>> {
        &self.state
    }

    /// The standard table; its attachments' signed URLs point at `uri`.
    fn standard(uri: &str) -> State {
        standard(uri)
    }
}

/// The fake Airtable on a server of its own.
pub type Fake = records_wire::Fake<Airtable>;

/// The config of a connector over the fixture at `uri`, `extra` merged in.
pub fn config(uri: &str, extra: Value) -> Value {
    records_wire::merged(
        json!({
            "base_id": BASE,
            "table_name_or_id": TABLE,
            "credentials": {"airtable_access_token": TOKEN},
            "api_base_url": uri,
            "allowed_hosts": ["127.0.0.1"],
            "requests_per_second": 1000,
        }),
        extra,
    )
}

/// A connector of the registry over the fixture at `uri`, `extra` merged into the config.
pub fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    records_wire::build("airtable", config(uri, extra))
}
