//! A wiremock DingTalk open API written from its reference (open.dingtalk.com, and the
//! `notable_1_0` / `oauth2_1_0` models of DingTalk's SDK):
//! `POST /v1.0/oauth2/accessToken` (`{"appKey", "appSecret"}` → `{"accessToken",
//! "expireIn"}`); `GET /v1.0/notable/bases/{baseId}/sheets` (`{"value": [{"id", "name"}]}`);
//! `GET …/sheets/{sheet}/fields` (`{"value": [{"id", "name", "type", "property"}]}`);
//! `POST …/sheets/{sheet}/records/list` with `{"maxResults", "nextToken"}` (`{"hasMore",
//! "nextToken", "records": [{"id", "fields", "createdTime", "lastModifiedTime", "createdBy":
//! {"unionId"}, "lastModifiedBy": {"unionId"}}]}`, times in epoch milliseconds); `GET
//! …/records/{recordId}`; ListRecords' `calcFields` (the values of formula and lookup fields
//! come only when it is true); every call with `operatorId` and the `x-acs-dingtalk-access-token`
//! header. Errors as `{"code", "message", "requestid"}`: 401 `InvalidAuthentication`, 403
//! `Forbidden.AccessDenied.AccessTokenPermissionDenied` (an operator without access), 403
//! `Forbidden.AccessDenied.QpsLimitForApi` (throttled), 404 `notFound.base.notExist` /
//! `notFound.record.notExist`, 400 `invalidParameter.nextToken.invalid`.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use connector_core::Connector;
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

#[path = "../records_wire/mod.rs"]
pub mod records_wire;

pub const TOKEN: &str = "6a2c0f9e1b8d4c7aa3e5f2d1c0b9a8e7";
pub const APP_KEY: &str = "dingxq8a7bz2kd5mw1pn";
pub const APP_SECRET: &str = "Zq3v9K1x-2fG7hR4mN8pL5tW0yB6cD1eA3sJ9uV7iO2kX4zQ8";
pub const BASE: &str = "Exel2BLV5x6ndQgZsGR8B7EWJgk9rpMq";
pub const OPERATOR: &str = "iPkgYyb0iSz6ABCD";
pub const SHEET_TASKS: &str = "mZ7pQ2x";
pub const SHEET_NOTES: &str = "kR4tN8w";

pub const REC_PLAN: &str = "1xVBgPXhqv";
pub const REC_LAUNCH: &str = "2aQwErTyUi";
pub const REC_HIRING: &str = "3zXcVbNmAs";
pub const REC_BUDGET: &str = "4dFgHjKlPo";
pub const REC_RETRO: &str = "5gTyUiOpLk";
pub const REC_MEMO: &str = "6hBnMjKiUy";

/// Epoch milliseconds of 2025-03-01 10:{minute}:00 UTC.
pub fn ms(minute: u32) -> i64 {
    time(minute).timestamp_millis()
}

pub fn time(minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

pub fn record_doc(sheet: &str, rec: &str) -> String {
    format!("dingtalk_ai_table:{BASE}:{sheet}:{rec}")
}

/// One record of the fake base.
#[derive(Debug, Clone)]
pub struct Rec {
    pub id: String,
    pub created: i64,
    pub modified: i64,
    pub fields: Value,
    /// Sent with an unreadable `createdTime`.
    pub broken: bool,
}

#[derive(Debug, Clone)]
pub struct SheetData {
    pub id: String,
    pub name: String,
    pub fields: Value,
    pub records: Vec<Rec>,
}

#[derive(Debug, Clone)]
pub struct State {
    pub sheets: Vec<SheetData>,
    /// Records a page at most, whatever `maxResults` asks.
    pub page_size: usize,
    /// `expireIn` of the tokens handed out.
    pub token_life: u64,
    /// Tokens handed out (the last is the app's current one).
    pub issued: Vec<String>,
    /// Tokens DingTalk no longer accepts.
    pub revoked: Vec<String>,
    /// Token requests seen.
    pub token_requests: usize,
    /// API calls seen (method, path, nextToken of a listing).
    pub calls: Vec<String>,
    /// The nextToken generation: tokens of an older one are refused.
    pub generation: u32,
    /// Answer the next API calls with 403 `QpsLimitForApi`.
    pub throttled: usize,
    /// Revoke the current tokens when this API call (counting from 1) arrives.
    pub revoke_at_call: Option<usize>,
    /// Whether the fields API refuses (403).
    pub no_fields: bool,
    /// Pages say `hasMore` without a `nextToken`.
    pub lose_next_token: bool,
    /// Sheets whose records the operator may not read (advanced permissions): 403.
    pub forbidden_sheets: Vec<String>,
    /// Computed values `(record id, field, value)` of formula and lookup fields: listed only
    /// when ListRecords asks `calcFields: true`.
    pub computed: Vec<(String, String, Value)>,
    /// `calcFields` of every ListRecords call.
    pub calc_asked: Vec<bool>,
    /// `(n, record id)`: the record is deleted as the `n`th ListRecords call (counting from
    /// 1) arrives, before it is answered: an edit during a listing.
    pub delete_at_list: Option<(usize, String)>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            sheets: Vec::new(),
            page_size: 2,
            token_life: 7200,
            issued: Vec::new(),
            revoked: Vec::new(),
            token_requests: 0,
            calls: Vec::new(),
            generation: 1,
            throttled: 0,
            revoke_at_call: None,
            no_fields: false,
            lose_next_token: false,
            forbidden_sheets: Vec::new(),
            computed: Vec::new(),
            calc_asked: Vec::new(),
            delete_at_list: None,
        }
    }
}

#[derive(Clone, Default)]
pub struct Dingtalk {
    pub state: Arc<Mutex<State>>,
}

pub fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(
        json!({"code": code, "message": message, "requestid": "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"}),
    )
}

fn task_fields() -> Value {
    json!([
        {"id": "fTitle1", "name": "Title", "type": "text", "property": {}},
        {"id": "fNotes2", "name": "Notes", "type": "text", "property": {}},
        {"id": "fStat03", "name": "Status", "type": "singleSelect",
            "property": {"choices": [{"id": "oTodo", "name": "Todo"}, {"id": "oDone", "name": "Done"}]}},
        {"id": "fTags04", "name": "Tags", "type": "multipleSelect", "property": {"choices": []}},
        {"id": "fOwner5", "name": "Owner", "type": "user", "property": {"multiple": false}},
        {"id": "fDue006", "name": "Due", "type": "date", "property": {"formatter": "YYYY-MM-DD"}},
        {"id": "fEst007", "name": "Estimate", "type": "number", "property": {"formatter": "FLOAT_1"}},
        {"id": "fDone08", "name": "Done", "type": "checkbox", "property": {}},
        {"id": "fSpec09", "name": "Spec", "type": "attachment", "property": {}},
        {"id": "fSite10", "name": "Website", "type": "url", "property": {}},
        {"id": "fLink11", "name": "Blocked by", "type": "unidirectionalLink",
            "property": {"linkedSheetId": SHEET_TASKS, "multiple": true}},
    ])
}

/// The standard base: five tasks over three pages of two, one memo in a second sheet.
pub fn standard() -> State {
    let rec = |id: &str, created: u32, modified: u32, fields: Value| Rec {
        id: id.to_owned(),
        created: ms(created),
        modified: ms(modified),
        fields,
        broken: false,
    };
    State {
        sheets: vec![
            SheetData {
                id: SHEET_TASKS.to_owned(),
                name: "Tasks".to_owned(),
                fields: task_fields(),
                records: vec![
                    rec(
                        REC_PLAN,
                        0,
                        5,
                        json!({
                            "Title": "Q3 plan",
                            "Notes": "Ship the *beta*.\nThen # celebrate.",
                            "Status": {"id": "oTodo", "name": "Todo"},
                            "Tags": [{"id": "oPl", "name": "planning"}, {"id": "oQ3", "name": "q3"}],
                            "Owner": [{"unionId": "uAnaSilva01"}],
                            "Due": 1_751_328_000_000_i64,
                            "Estimate": 3.5,
                            "Website": {"text": "Plan page", "link": "https://example.com/q3"},
                        }),
                    ),
                    rec(
                        REC_LAUNCH,
                        1,
                        20,
                        json!({
                            "Title": "Launch",
                            "Notes": "Press release",
                            "Status": {"id": "oDone", "name": "Done"},
                            "Done": true,
                            "Spec": [{"filename": "spec.pdf", "size": 20, "type": "pdf",
                                "url": "https://alidocs.oss-cn-zhangjiakou.aliyuncs.com/res/spec.pdf"}],
                            "Blocked by": {"linkedRecordIds": [REC_PLAN]},
                        }),
                    ),
                    rec(
                        REC_HIRING,
                        2,
                        30,
                        json!({"Title": "Hiring", "Notes": "Two engineers"}),
                    ),
                    rec(REC_BUDGET, 3, 3, json!({"Title": "Budget", "Estimate": 12})),
                    rec(
                        REC_RETRO,
                        4,
                        50,
                        json!({"Title": "Retro", "Notes": "What went well"}),
                    ),
                ],
            },
            SheetData {
                id: SHEET_NOTES.to_owned(),
                name: "Notes".to_owned(),
                fields: json!([{"id": "fMemo01", "name": "Memo", "type": "text", "property": {}}]),
                records: vec![rec(REC_MEMO, 6, 40, json!({"Memo": "Remember the retro"}))],
            },
        ],
        ..State::default()
    }
}

impl State {
    fn record_json(r: &Rec) -> Value {
        let created = if r.broken {
            json!("yesterday-ish")
        } else {
            json!(r.created)
        };
        json!({
            "id": r.id,
            "fields": r.fields,
            "createdTime": created,
            "lastModifiedTime": r.modified,
            "createdBy": {"unionId": "uAnaSilva01"},
            "lastModifiedBy": {"unionId": "uBoChen0002"},
        })
    }

    fn token(&mut self, body: &[u8]) -> ResponseTemplate {
        self.token_requests += 1;
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        if body["appKey"] != APP_KEY || body["appSecret"] != APP_SECRET {
            return error(
                400,
                "invalidClientIdOrSecret",
                "无效的clientId或者clientSecret",
            );
        }
        let token = format!("at{:030}", self.issued.len() + 1);
        self.issued.push(token.clone());
        ResponseTemplate::new(200)
            .set_body_json(json!({"accessToken": token, "expireIn": self.token_life}))
    }

    fn sheet(&self, id: &str) -> Option<&SheetData> {
        self.sheets.iter().find(|s| s.id == id || s.name == id)
    }

    fn list(&mut self, sheet: &str, body: &[u8]) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let size = body["maxResults"].as_u64().unwrap_or(100) as usize;
        if !(1..=100).contains(&size) {
            return error(
                400,
                "invalidParameter.maxResults.invalid",
                "maxResults 不合法",
            );
        }
        let next = body["nextToken"].as_str().map(str::to_owned);
        let calc = body["calcFields"] == json!(true);
        self.calc_asked.push(calc);
        if let Some((n, rec)) = self.delete_at_list.clone()
            && n == self.calc_asked.len()
        {
            for s in &mut self.sheets {
                s.records.retain(|r| r.id != rec);
            }
        }
        self.calls
            .push(format!("list {sheet} {}", next.clone().unwrap_or_default()));
        let Some(data) = self.sheet(sheet).cloned() else {
            return error(404, "notFound.sheet.notExist", "数据表不存在");
        };
        let start = match next {
            None => 0,
            Some(t) => {
                let parsed = t
                    .strip_prefix(&format!("g{}-", self.generation))
                    .and_then(|r| r.parse::<usize>().ok());
                match parsed {
                    Some(i) if i <= data.records.len() => i,
                    _ => {
                        return error(
                            400,
                            "invalidParameter.nextToken.invalid",
                            "nextToken 不合法或已过期",
                        );
                    }
                }
            }
        };
        let end = (start + size.min(self.page_size)).min(data.records.len());
        let records: Vec<Value> = data.records[start..end]
            .iter()
            .map(|r| {
                let mut json = Self::record_json(r);
                if calc {
                    for (_, field, value) in self.computed.iter().filter(|(id, _, _)| *id == r.id) {
                        json["fields"][field] = value.clone();
                    }
                }
                json
            })
            .collect();
        let more = end < data.records.len();
        let mut out = json!({"hasMore": more, "records": records});
        if more && !self.lose_next_token {
            out["nextToken"] = json!(format!("g{}-{end}", self.generation));
        }
        ResponseTemplate::new(200).set_body_json(out)
    }
}

impl Respond for Dingtalk {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().to_owned();
        let mut st = self.state.lock().unwrap();
        if path == "/v1.0/oauth2/accessToken" && req.method.as_str() == "POST" {
            return st.token(&req.body);
        }
        let token = req
            .headers
            .get("x-acs-dingtalk-access-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let calls = st.calls.len() + 1;
        if st.revoke_at_call == Some(calls) {
            let mut all = st.issued.clone();
            all.push(TOKEN.to_owned());
            st.revoked.extend(all);
        }
        let known = token == TOKEN || st.issued.contains(&token);
        if !known || st.revoked.contains(&token) {
            st.calls.push(format!("unauthenticated {path}"));
            return error(401, "InvalidAuthentication", "不合法的access_token");
        }
        if st.throttled > 0 {
            st.throttled -= 1;
            st.calls.push(format!("throttled {path}"));
            return error(
                403,
                "Forbidden.AccessDenied.QpsLimitForApi",
                "应用调用该接口的并发量超过限制",
            );
        }
        let operator = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "operatorId")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if operator != OPERATOR {
            st.calls.push(format!("forbidden {path}"));
            return error(
                403,
                "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                "操作人没有该资源的权限",
            );
        }
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["v1.0", "notable", "bases", base, rest @ ..] if *base != BASE => {
                let _ = rest;
                st.calls.push(format!("missing base {path}"));
                error(404, "notFound.base.notExist", "多维表不存在")
            }
            ["v1.0", "notable", "bases", _, "sheets"] => {
                st.calls.push("sheets".to_owned());
                let value: Vec<Value> = st
                    .sheets
                    .iter()
                    .map(|s| json!({"id": s.id, "name": s.name}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"value": value}))
            }
            ["v1.0", "notable", "bases", _, "sheets", sheet, "fields"] => {
                st.calls.push(format!("fields {sheet}"));
                if st.no_fields {
                    return error(
                        403,
                        "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                        "没有权限",
                    );
                }
                match st.sheet(sheet) {
                    Some(s) => ResponseTemplate::new(200).set_body_json(json!({"value": s.fields})),
                    None => error(404, "notFound.sheet.notExist", "数据表不存在"),
                }
            }
            [
                "v1.0",
                "notable",
                "bases",
                _,
                "sheets",
                sheet,
                "records",
                "list",
            ] if req.method.as_str() == "POST" => {
                let sheet = (*sheet).to_owned();
                if st.forbidden_sheets.contains(&sheet) {
                    st.calls.push(format!("forbidden list {sheet}"));
                    return error(
                        403,
                        "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                        "操作人没有该数据表的权限",
                    );
                }
                st.list(&sheet, &req.body)
            }
            [
                "v1.0",
                "notable",
                "bases",
                _,
                "sheets",
                sheet,
                "records",
                id,
            ] => {
                st.calls.push(format!("get {sheet} {id}"));
                match st
                    .sheet(sheet)
                    .and_then(|s| s.records.iter().find(|r| r.id == *id))
                {
                    Some(r) => ResponseTemplate::new(200).set_body_json(State::record_json(r)),
                    None => error(404, "notFound.record.notExist", "记录不存在"),
                }
            }
            _ => error(404, "NotFound", "接口不存在"),
        }
    }
}

impl records_wire::Wire for Dingtalk {
    type State = State;

    fn state(&self) -> &Arc<Mutex<State>> {
        &self.state
    }

    /// The standard base.
    fn standard(_uri: &str) -> State {
        standard()
    }
}

/// The fake DingTalk on a server of its own.
pub type Fake = records_wire::Fake<Dingtalk>;

/// The config of a connector over the fixture at `uri` with the fixed token, `extra` merged in.
pub fn config(uri: &str, extra: Value) -> Value {
    records_wire::merged(
        json!({
            "table_id": BASE,
            "operator_id": OPERATOR,
            "credentials": {"access_token": TOKEN},
            "api_base_url": uri,
            "allowed_hosts": ["127.0.0.1"],
            "requests_per_second": 1000,
        }),
        extra,
    )
}

/// The app's credentials, for `extra`.
pub fn app_credentials() -> Value {
    json!({"app_key": APP_KEY, "app_secret": APP_SECRET})
}

/// A connector of the registry over the fixture at `uri`, `extra` merged into the config.
pub fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    records_wire::build("dingtalk_ai_table", config(uri, extra))
}
