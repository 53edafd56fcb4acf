//! Sub-responses: the entries of a batch or multi-search answer that each stand for a request
//! of their own, with an HTTP-like status ([`envelope`]), and what that status means for the
//! page ([`Meaning`]). Only such an envelope may fail a page by its status: a record's own
//! business state (`"status": "error"`, `"state": "ABORTED"`) is data, not a transport
//! failure.
//!
//! Also here, the walks of an [`ItemsPath`] over a page's sub-responses: the worst one that
//! failed ([`ItemsPath::failed_sub_response`], [`FailedSub`]), a page with no match on which
//! every entry failed ([`ItemsPath::every_entry_failed`]) or that is itself a failed
//! sub-response ([`whole_failed`], [`ItemsPath::failed_whole`]), and the entry a page with no
//! match stopped at ([`sub_response_at`], [`answered_beside`]).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use connector_core::http::retry_after_wait;
use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use super::error_rule::{error_path_hint, is_set, shown, unusual_error};
use super::listing::{ItemsPath, Shape, error_object, escape, lists_as_records, says_outage};
use super::place::Seen;

/// A sub-response's entry, told by its shape ([`envelope`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Envelope<'a> {
    /// Its HTTP-like status.
    pub(crate) status: u64,
    /// The wait it asks for: its `headers`' `Retry-After` (Graph), its error's
    /// `google.rpc.RetryInfo` (Google, People: [`retry_info`]), a JSON-RPC error's
    /// `data.backoff_seconds` (Infura).
    pub(crate) retry_after: Option<Duration>,
    /// Its error member, where it has a set one (the entry's own, or its `body`'s).
    pub(crate) error: Option<(&'static str, &'a Value)>,
    /// What names the request it answers, where its shape has that (a `$batch` or JSON-RPC
    /// `id`, a People `requestedResourceName`): the entries of a batch come in any order, so
    /// their position names no request (review60 M3).
    pub(crate) id: Option<(&'static str, &'a Value)>,
}

/// What a sub-response's status means for the page that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// 1xx to 3xx: it answered (a `$batch` 204 without a `body`, or with `"body": null`,
    /// delivers nothing).
    Answered,
    /// 404 or 410: what it named is gone; it delivers nothing, and the page passes where
    /// another entry of its level answered (a page of only gone entries fails).
    Gone,
    /// 429: a throttle. The attempt ends with `RateLimited` and the entry's `Retry-After`;
    /// the page is not fetched again within the walk (a whole answer's 429 is, by the HTTP
    /// client), but a sync run by `connector-sync`'s worker waits and resumes.
    Throttled,
    /// 500 to 599, and the 4xx that pass with time (408, 409, 423, 425, 499; 424 where no
    /// other entry failed, and none beside it is gone: then no retry heals it, and the page
    /// reports it refused, review60 L1, `FailedSub::refused_beside_gone` says why): an
    /// outage. The attempt ends with `Unavailable`,
    /// retried by the sync as a throttle is, not within the walk.
    Outage,
    /// 401: the credentials were rejected for it.
    Unauthenticated,
    /// 403: access was refused for it.
    Forbidden,
    /// Any other 4xx (400, 422): the request as configured was refused, on every run
    /// alike; the page fails rather than read as delivering none (then prune).
    Refused,
}

impl Meaning {
    /// The meaning of an HTTP-like `status`.
    pub(crate) fn of(status: u64) -> Self {
        match status {
            404 | 410 => Self::Gone,
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            429 => Self::Throttled,
            // Failed Dependency: it failed because a request it depends on did (Graph's
            // `dependsOn`), which is reported instead where it failed too; alone, retried
            // (beside a gone entry, refused: `FailedSub::refused_beside_gone`).
            // 408 (timeout), 409 (conflict, gRPC `ABORTED`), 423 (locked), 425 (too early)
            // and 499 (gRPC `CANCELLED`) pass with time (review55 M4).
            408 | 409 | 423 | 424 | 425 | 499 => Self::Outage,
            400..=499 => Self::Refused,
            500..=599 => Self::Outage,
            _ => Self::Answered,
        }
    }

    /// How much a failed entry with this meaning and `status` says about its page, to
    /// report the worst of several ([`Meaning::fails`]): a throttle over an outage over
    /// refused credentials over another refused request, and a 424 (Failed Dependency: it
    /// failed because an entry it depends on did) least; 0 for one that did not fail.
    pub(crate) fn rank(self, status: u64) -> u8 {
        match self {
            Self::Throttled => 5,
            Self::Outage if status == 424 => 1,
            Self::Outage => 4,
            Self::Unauthenticated | Self::Forbidden => 3,
            Self::Refused => 2,
            Self::Answered | Self::Gone => 0,
        }
    }

    /// Whether the page fails on it.
    pub(crate) fn fails(self) -> bool {
        !matches!(self, Self::Answered | Self::Gone)
    }
}

/// The entry of a sub-response, where `entry` has the shape of one (its members all of that
/// shape's):
/// - an error object, `{"error": {…}, "status": 429}` (Elasticsearch `_msearch`), or
///   Google's `{"error": {"code": 503, …}}`, an error member set and a numeric (or
///   all-digit) `status` or `code`, its own or its `error`'s;
/// - a Microsoft Graph `$batch` answer, `{"id": "2", "status": 429, "headers": {…},
///   "body": {…}}`, with a numeric `status` and a `body` or `headers` (either may be
///   missing: a 204 has no `body`, and a 429 may carry only `headers`);
/// - a Google People API `PersonResponse`, `{"httpStatusCode": 429,
///   "requestedResourceName": …, "status": {"code": 8, …}}`: its `httpStatusCode`, else
///   its `status.code` (a `google.rpc.Code`) read as the HTTP status it maps to;
/// - a JSON-RPC 2.0 batch answer, `{"jsonrpc": "2.0", "error": {"code": -32603, …}, "id":
///   2}`: an internal error (-32603) reads as 500, EIP-1474's "limit exceeded" (-32005) as
///   429 and "resource unavailable" (-32002) as 503, a code that is an HTTP status saying to
///   wait, retry or fix credentials (401, 403, 408, 429, 500 to 599, as QuickNode and Alchemy
///   send `429`) as that status, any other error (the server-defined -32000 to -32099 too,
///   and codes like 100, 200 or 404: an error is never an answer or a gone entry) as 400, a
///   `result` as 200.
///
/// A status outside 100 to 599 is not an HTTP status, and the entry is none of these.
pub(crate) fn envelope(entry: &Map<String, Value>) -> Option<Envelope<'_>> {
    let found = error_entry(entry)
        .or_else(|| batch_entry(entry))
        .or_else(|| people_entry(entry))
        .or_else(|| json_rpc_entry(entry))?;
    (100..600).contains(&found.status).then_some(found)
}

/// A status member's number: a JSON number, or a string of digits (`"429"`, review49 M2).
pub(crate) fn status_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_str()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
    })
}

/// An object's own numeric `status` or `code`.
pub(crate) fn own_status(o: &Map<String, Value>) -> Option<u64> {
    ["status", "code"]
        .iter()
        .find_map(|k| o.get(*k).and_then(status_number))
}

/// The wait an entry asks for in its `headers`' `Retry-After` (any case): a number of seconds,
/// or a text read as the HTTP client reads the header ([`retry_after_wait`]: seconds, or an
/// HTTP-date).
pub(crate) fn retry_after(entry: &Map<String, Value>) -> Option<Duration> {
    let value = entry
        .get("headers")
        .and_then(Value::as_object)?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))?
        .1;
    match value {
        Value::String(text) => retry_after_wait(text, SystemTime::now()),
        Value::Number(n) => n.as_f64().and_then(seconds),
        _ => None,
    }
}

/// Whether every member of `o` is one of `members`.
fn only(o: &Map<String, Value>, members: &[&str]) -> bool {
    !o.is_empty() && o.keys().all(|k| members.contains(&k.as_str()))
}

/// The members of an error object: one that stands where a record's object should, not a
/// record's data that happens to hold an `error` field beside others (an Elastic Common
/// Schema log document's `error.message`, review35 S2).
pub(crate) const ERROR_MEMBERS: [&str; 6] =
    ["error", "errors", "details", "status", "code", "message"];

/// `{"error": {…}, "status": 429}`, `{"error": {"code": 503, …}}`.
fn error_entry(entry: &Map<String, Value>) -> Option<Envelope<'_>> {
    if !only(entry, &ERROR_MEMBERS) {
        return None;
    }
    let error = error_members_of(entry)?;
    let status = own_status(entry).or_else(|| {
        entry
            .get("error")
            .and_then(Value::as_object)
            .and_then(own_status)
    })?;
    Some(Envelope {
        status,
        // Google's `details` lie in its `error`; an error object may carry its own.
        retry_after: entry
            .get("error")
            .and_then(Value::as_object)
            .and_then(retry_info)
            .or_else(|| retry_info(entry)),
        error: Some(error),
        id: None,
    })
}

/// The member `name` of `entry`, where it is a string or number that names its request.
fn named<'a>(
    entry: &'a Map<String, Value>,
    name: &'static str,
) -> Option<(&'static str, &'a Value)> {
    entry
        .get(name)
        .filter(|v| v.is_string() || v.is_number())
        .map(|v| (name, v))
}

/// `{"id": "2", "status": 429, "headers": {"Retry-After": "10"}, "body": {"error": {…}}}`.
fn batch_entry(entry: &Map<String, Value>) -> Option<Envelope<'_>> {
    if !only(entry, &["id", "status", "headers", "body", "dependsOn"])
        || !(entry.contains_key("body") || entry.contains_key("headers"))
    {
        return None;
    }
    let status = entry.get("status").and_then(status_number)?;
    Some(Envelope {
        status,
        retry_after: retry_after(entry),
        error: entry
            .get("body")
            .and_then(Value::as_object)
            .and_then(error_members_of),
        id: named(entry, "id"),
    })
}

/// `{"httpStatusCode": 429, "requestedResourceName": "people/c2", "status": {"code": 8}}`.
fn people_entry(entry: &Map<String, Value>) -> Option<Envelope<'_>> {
    if !only(
        entry,
        &[
            "httpStatusCode",
            "requestedResourceName",
            "status",
            "person",
        ],
    ) || !(entry.contains_key("httpStatusCode") || entry.contains_key("requestedResourceName"))
    {
        return None;
    }
    let rpc = entry.get("status").filter(|v| is_set(v));
    let status = entry
        .get("httpStatusCode")
        .and_then(status_number)
        .or_else(|| {
            rpc.and_then(|s| s.get("code"))
                .and_then(Value::as_u64)
                .map(grpc_as_http)
        })?;
    Some(Envelope {
        status,
        retry_after: rpc.and_then(Value::as_object).and_then(retry_info),
        error: rpc.map(|v| ("status", v)),
        id: named(entry, "requestedResourceName"),
    })
}

/// `{"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": 2}`.
fn json_rpc_entry(entry: &Map<String, Value>) -> Option<Envelope<'_>> {
    if !entry.contains_key("jsonrpc") || !only(entry, &["jsonrpc", "id", "result", "error"]) {
        return None;
    }
    // An error object is an error whatever its code: Odoo's "Odoo Server Error" says 200,
    // which `is_set` reads as none (review66 M1: that entry's records were dropped unsaid).
    let Some(error) = entry.get("error").filter(|v| v.is_object() || is_set(v)) else {
        return Some(Envelope {
            status: 200,
            retry_after: None,
            error: None,
            id: named(entry, "id"),
        });
    };
    // -32000 to -32099 is the server's own to define, and often permanent (EIP-1474's
    // -32000 invalid input, -32001 not found): refused, not an outage retried forever
    // (review55 L1); but EIP-1474's -32005 is its "limit exceeded" and -32002 its "resource
    // unavailable", and an HTTP status as the code (QuickNode's and Alchemy's `429`) is one
    // (review60 L4).
    let status = match error.get("code").and_then(Value::as_i64) {
        Some(-32603) => 500,
        // Also a query too wide for the server, which no wait heals (review71 L3).
        Some(-32005) if too_wide(error) => 400,
        Some(-32005) => 429,
        Some(-32002) => 503,
        // Only the statuses that say to wait, retry or fix credentials: an error is never an
        // answer or a gone entry (review63 M1: Odoo's code 100 "Session Expired" read as
        // answered, and the entry's records were dropped without a word).
        Some(code @ (401 | 403 | 408 | 429 | 500..=599)) => code.unsigned_abs(),
        _ => 400,
    };
    // Infura's -32005 says how long to back off in its `data`: `{"rate": {"backoff_seconds":
    // 30, …}}` in its real answers (review69 L1), `{"backoff_seconds": 30.0}` in its docs. A
    // zero is no word (Infura sends `0` too), so it leaves room for the answer's header.
    let data = error.get("data");
    let retry_after = data
        .and_then(|d| d.get("rate"))
        .and_then(|r| r.get("backoff_seconds"))
        .or_else(|| data.and_then(|d| d.get("backoff_seconds")))
        .and_then(Value::as_f64)
        .and_then(seconds)
        .filter(|d| !d.is_zero());
    Some(Envelope {
        status,
        retry_after,
        error: Some(("error", error)),
        id: named(entry, "id"),
    })
}

/// Whether a JSON-RPC `-32005` ("limit exceeded", EIP-1474) says the request asked too much,
/// not too often: Infura's `eth_getLogs` answers `{"code": -32005, "message": "query returned
/// more than 10000 results. Try with this block range [0xBDE5F8, 0x102DBCC].", "data":
/// {"from": "0xBDE5F8", "limit": 10000, "to": "0x102DBCC"}}`, and "query timeout exceeded"
/// for a range too heavy to scan. Both come back on every retry of the same range, so they
/// are refused, not waited for (review71 L3); its throttle ("project ID request rate
/// exceeded", "daily request count exceeded", with `data.rate`) and a bare "limit exceeded"
/// stay a throttle.
fn too_wide(error: &Value) -> bool {
    let data = error.get("data");
    let rate = data.is_some_and(|d| d.get("rate").is_some() || d.get("backoff_seconds").is_some());
    if rate {
        return false;
    }
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    data.is_some_and(|d| d.get("limit").is_some())
        || (message.contains("more than") && message.contains("results"))
        || message.contains("query timeout exceeded")
}

/// The wait a `google.rpc.Status`'s `details` ask for (`o` is Google's `error`, or a People
/// entry's `status`): a `google.rpc.RetryInfo` detail's `retryDelay`, a protobuf `Duration`
/// in its JSON form, `{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay":
/// "30s"}` (`"1.5s"` with a fraction).
fn retry_info(o: &Map<String, Value>) -> Option<Duration> {
    o.get("details")?.as_array()?.iter().find_map(|d| {
        d.get("@type")
            .and_then(Value::as_str)
            .filter(|t| t.ends_with("google.rpc.RetryInfo"))?;
        let delay = d.get("retryDelay")?.as_str()?.trim().strip_suffix('s')?;
        seconds(delay.parse().ok()?)
    })
}

/// A wait of `secs` seconds, where that is one: not negative, not NaN, and one a `Duration`
/// holds (an unreadable wait is none, as the HTTP client reads a `Retry-After`). A long one is
/// cut where it is waited, as every `Retry-After` is (the sync worker's
/// `max_rate_limit_wait`).
fn seconds(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

/// The first set error member of `o` ([`error_members`]).
fn error_members_of(o: &Map<String, Value>) -> Option<(&'static str, &Value)> {
    ["errors", "error"]
        .into_iter()
        .find_map(|name| o.get(name).filter(|v| is_set(v)).map(|v| (name, v)))
}

/// The HTTP status a `google.rpc.Code` maps to (as Google's own HTTP mapping does).
fn grpc_as_http(code: u64) -> u64 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// The sub-response walks of an items path: a page's failed entries, where it has some.
impl ItemsPath {
    /// Where an entry the path goes through is a sub-response ([`envelope`]: an entry with an
    /// HTTP-like status, in the shape of an Elasticsearch `_msearch` answer's `{"error": {…},
    /// "status": 429}`, a Microsoft Graph `$batch` answer's `{"id": …, "status": 429,
    /// "headers": {…}, "body": {…}}`, with or without its `body`, Google's streamed `{"error":
    /// {"code": 429, …}}`, a People API `{"httpStatusCode": 429, …}` or a JSON-RPC batch's
    /// `{"jsonrpc": "2.0", "error": {…}}`) that failed ([`Meaning::fails`]: 429, 5xx, 401,
    /// 403, or another 4xx but 404 and 410) and does not lead to the names the path needs
    /// after it. Read on every page, with items or not, whatever the path's filters (review39
    /// F1, review44 F1: beside a sub-response that delivered items, or under a plain path,
    /// such a page read as delivering none, then prune). Under a descendant name or search
    /// (`$..hits.hits[*]`) the entries of the lists around the matches are read
    /// ([`ItemsPath::failed_in_search`]).
    ///
    /// The status is the sub-response's: that of the entry the wildcard or filter selected,
    /// never that of an object below it, which is a record's data (review49 M3: an Airtable
    /// record's `fields` holding `status: 500` and `error` beside no `Attachments` failed
    /// every page); a record's own state (`"status": "error"`) is no status. Each level is
    /// queried once, and again with locations only where an entry failed (review49 P1).
    pub(crate) fn failed_sub_response(&self, body: &Value) -> Option<FailedSub> {
        let mut worst = None;
        for (entries, names, _) in &self.levels {
            let failed = |v| failed_entry(v, names);
            if !entries
                .query(body)
                .all()
                .into_iter()
                .any(|v| failed(v).is_some())
            {
                continue;
            }
            for m in entries.query_located(body) {
                let Some(found) = failed(m.node()) else {
                    continue;
                };
                // Where it stops: the deepest object the names reach, and the name it lacks.
                let mut pointer = m.location().to_json_pointer();
                let entry = pointer.clone();
                let mut at = m.node();
                let mut lacks = names.first().map_or("", String::as_str);
                for name in names {
                    lacks = name;
                    match at.get(name) {
                        Some(next) if next.is_object() => {
                            pointer.push('/');
                            pointer.push_str(&escape(name));
                            at = next;
                        }
                        _ => break,
                    }
                }
                let mut failed = FailedSub::new(format!("`{pointer}` holds no `{lacks}`"), &found);
                failed.refused_beside_gone(body, &entry);
                failed.keep_worst(&mut worst);
            }
        }
        if self.descends
            && let Some(found) = self.failed_in_search(body)
        {
            found.keep_worst(&mut worst);
        }
        worst
    }

    /// The gone sub-responses (404, 410) among the entries the path's levels select (as
    /// [`ItemsPath::failed_sub_response`] reads them), each noted in `gone` ([`gone_note`]),
    /// on a page that passes beside them: a rolled-off index passes a sync, but so does a
    /// typo in one index name, so neither is silent (review69 M1). Each level is queried
    /// once, and again with locations only where an entry is gone. Not under a descendant
    /// name or search (`$..`), whose entries lie at no one depth. Nor where the path's own
    /// filter leaves the entry out ([`ItemsPath::filtered_out`]).
    pub(crate) fn gone_entries(&self, body: &Value, gone: &mut Vec<GoneNote>) {
        for (entries, names, chosen) in &self.levels {
            fn gone_at<'v>(v: &'v Value, names: &[String]) -> Option<Envelope<'v>> {
                let o = v.as_object()?;
                if leads_to(v, names) {
                    return None;
                }
                envelope(o).filter(|e| Meaning::of(e.status) == Meaning::Gone)
            }
            let found = |v| gone_at(v, names);
            if !entries
                .query(body)
                .all()
                .into_iter()
                .any(|v| found(v).is_some())
            {
                continue;
            }
            // Read only on a page with a gone entry.
            let mut kept: Option<HashSet<String>> = None;
            for m in entries.query_located(body) {
                let Some(e) = found(m.node()) else {
                    continue;
                };
                let pointer = m.location().to_json_pointer();
                if let Some(chosen) = chosen {
                    let kept = kept.get_or_insert_with(|| pointers(chosen, body));
                    if !kept.contains(&pointer) {
                        continue;
                    }
                }
                note(gone, gone_note(&pointer, &e));
            }
        }
    }

    /// Whether the entry at `pointer` is one of a level's entries ([`ItemsPath::levels`])
    /// that the path's own filters leave out (`/responses/1` under
    /// `$.responses[?@.status == 200].hits.hits[*]`, its status 404). Such an entry is not
    /// warned of nor reported by Test Connection when it is gone (404, 410): the user said
    /// which sub-responses hold records, and an entry left out on purpose (a Graph mailbox
    /// without a licence) would otherwise fail Test Connection for good (review71 L1). A
    /// failed one (429, 5xx, 401, 403, another 4xx) is still read through the filter, as a
    /// wildcard: a filter does not hide a throttle.
    pub(crate) fn filtered_out(&self, body: &Value, pointer: &str) -> bool {
        self.levels.iter().any(|(entries, _, chosen)| {
            chosen.as_ref().is_some_and(|chosen| {
                pointers(entries, body).contains(pointer)
                    && !pointers(chosen, body).contains(pointer)
            })
        })
    }

    /// [`ItemsPath::failed_sub_response`] under a descendant name or search, where an
    /// entry's depth is not the path's: the entries, that hold no match, of the lists the
    /// matches lie in (outside any match, and not holding a match themselves) and of the
    /// lists at the top of the body (the root, or a member of the root: `$.responses`, where
    /// no entry matched at all).
    fn failed_in_search(&self, body: &Value) -> Option<FailedSub> {
        let matches: HashSet<String> = self
            .path
            .query_located(body)
            .locations()
            .map(|l| l.to_json_pointer())
            .collect();
        // What lies on the way to a match.
        let mut ways: HashSet<&str> = HashSet::new();
        for m in &matches {
            let mut at = m.as_str();
            while let Some((up, _)) = at.rsplit_once('/') {
                if !ways.insert(up) {
                    break;
                }
                at = up;
            }
        }
        let inside_a_match = |pointer: &str| {
            let mut at = pointer;
            while let Some((up, _)) = at.rsplit_once('/') {
                if matches.contains(up) {
                    return true;
                }
                at = up;
            }
            false
        };
        let outside = |l: &str| !matches.contains(l) && !inside_a_match(l);
        // A list that holds a match is records: its other entries are what the path's filter
        // left out (`$..data[?@.status == 200]` over a request log's 503 record, review60
        // L3); a batch's sub-responses lie above the matched lists, never beside the items.
        let holds_a_match: HashSet<&str> = matches
            .iter()
            .filter_map(|m| m.rsplit_once('/').map(|(list, _)| list))
            .collect();
        let mut lists: Vec<String> = ways
            .iter()
            .filter(|w| outside(w) && !holds_a_match.contains(**w))
            .map(|w| (*w).to_owned())
            .collect();
        // The lists at the top of the body that no match lies in are read only where
        // nothing matched (`_msearch`'s `$.responses`, every search failed): where something
        // did, a batch's sub-responses lie on the way to it, and a list beside it is records
        // (review55 M1: `$..data` over a request log's `{id, status, headers, body}` failed
        // every page on its 503 record; fix62's sibling case: `$..orders[*]` beside an
        // `attempts` log of two such records, one failed, failed every page too).
        let top = |l: &str| outside(l) && matches.is_empty();
        if !ways.contains("") && top("") {
            lists.push(String::new());
        }
        if let Value::Object(root) = body {
            lists.extend(
                root.keys()
                    .map(|k| format!("/{}", escape(k)))
                    .filter(|l| !ways.contains(l.as_str()) && top(l)),
            );
        }
        lists.sort();
        lists.dedup();
        let mut worst = None;
        for list in &lists {
            let Some(Value::Array(entries)) = body.pointer(list) else {
                continue;
            };
            for (i, entry) in entries.iter().enumerate() {
                let pointer = format!("{list}/{i}");
                if matches.contains(&pointer) || ways.contains(pointer.as_str()) {
                    continue;
                }
                let Some(found) = entry
                    .as_object()
                    .and_then(envelope)
                    .filter(|e| Meaning::of(e.status).fails())
                else {
                    continue;
                };
                let mut failed = FailedSub::new(
                    format!("`{pointer}` holds nothing `{}` matches", self.as_str()),
                    &found,
                );
                // As at the path's levels (review63 L2).
                failed.refused_beside_gone(body, &pointer);
                failed.keep_worst(&mut worst);
            }
        }
        worst
    }

    /// Where every entry of a level of the path ([`ItemsPath::failed_sub_response`]'s
    /// levels: `/runs/*` of `$.runs[*].result.steps[*].logs[?…]`) failed, on a page with no
    /// match: the entry is an error object, or an object the path names below it
    /// (`/runs/0/result`) carries an unusual error ([`unusual_error`]) and is an error
    /// object, or holds the name the path needs next and says the source throttled or
    /// failed ([`says_outage`]: `{"error": {"code": 503}, "steps": []}`; a CI run's
    /// `{"error": "exit code 1", "steps": []}` is the run's data, review60 M1). Such a page
    /// is not an empty one (issue 17: every run that failed read as the empty last page,
    /// then prune, where the path had a wildcard below the runs' `result`); unless
    /// the path's last filter left entries out (those are listed: review29 F1). An
    /// object with other members and without the list (a log document's `error.message`
    /// beside its `message`) is data, as [`ItemsPath::why_none`] reads it.
    pub(super) fn every_entry_failed(&self, body: &Value, seen: &Seen<'_>) -> Result<(), String> {
        // Where the last filter left entries out, something was listed: a run that failed
        // beside logs the filter dropped is that run's data (review29 F1). A one-list path's
        // filter chose a list, not rows; a descendant search's cut is not told here.
        if self.filtered() {
            match (&self.chosen_among, self.shape) {
                (_, Shape::OneList) => {}
                (Some(among), _) if among.query(body).is_empty() => {}
                _ => return Ok(()),
            }
        }
        for (entries, names, _) in &self.levels {
            let located = entries.query_located(body);
            if located.is_empty() {
                continue;
            }
            let mut first = None;
            let mut all = true;
            for m in located {
                let mut pointer = m.location().to_json_pointer();
                let mut at = m.node();
                let mut failed = None;
                let mut depth = 0;
                while let Some(o) = at.as_object() {
                    let next = names.get(depth);
                    let error_like = error_object(o);
                    let holds_next = next.is_some_and(|n| o.contains_key(n));
                    // Beside the list it needs next, an error is the record's own (a CI
                    // run's `{"error": "exit code 1", "steps": []}`) unless it says the source
                    // throttled or failed (review60 M1: a listing whose last page held only
                    // failed runs failed every sync, for good).
                    if (error_like || (depth > 0 && holds_next && says_outage(o)))
                        && let Some((member, v)) =
                            unusual_error(at, &lists_as_records(body, &pointer), seen.usual)
                    {
                        failed = Some(format!("`{pointer}/{member}` is set: {}", shown(v)));
                        break;
                    }
                    let Some(next) = next.and_then(|n| Some((n, o.get(n)?))) else {
                        break;
                    };
                    pointer.push('/');
                    pointer.push_str(&escape(next.0));
                    at = next.1;
                    depth += 1;
                }
                match failed {
                    Some(why) => {
                        first.get_or_insert(why);
                    }
                    None => {
                        all = false;
                        break;
                    }
                }
            }
            if all && let Some(first) = first {
                return Err(format!(
                    "every entry `{entries}` selects failed, not one that holds none: {first} \
                     ({})",
                    error_path_hint(seen.usual)
                ));
            }
        }
        Ok(())
    }

    /// Where this path is `error_path`, the first set value at it ([`is_set`]) that is not
    /// the error of a gone sub-response (404, 410: [`gone_entry`]): `Ok(Some(…))`, which
    /// fails the page. A gone entry's error is read as without `error_path` (review63: the
    /// README's own advice, `$.responses[*].error` for `_msearch`, failed every page that
    /// held one rolled-off index beside searches that answered): beside an entry that
    /// delivered it passes (`Ok(None)`); where none did, `Err` says which entry is gone, and
    /// the page fails as a page of only gone sub-responses does ([`Means::Gone`]).
    ///
    /// [`Means::Gone`]: super::listing::Means::Gone
    ///
    /// # Errors
    /// "`/responses/1` (entry `id` "7") was 404/410 (gone) …", where every set value is a
    /// gone entry's and one of them has no entry beside it that delivered.
    ///
    /// Each gone entry it excuses is noted in `excused` ([`gone_note`]): the page passes, but
    /// the fetch warns of it, and Test Connection reports it (fix69, review69 M1); unless
    /// `chosen_out` says the user's `items_path` leaves that entry out
    /// ([`ItemsPath::filtered_out`], review71 L1).
    pub(crate) fn set_error<'v>(
        &self,
        body: &'v Value,
        excused: &mut Vec<GoneNote>,
        chosen_out: impl Fn(&str) -> bool,
    ) -> Result<Option<&'v Value>, String> {
        // Located (a pointer per match) only on a page where something is set, as before.
        if !self.path.query(body).all().into_iter().any(is_set) {
            return Ok(None);
        }
        let mut gone = None;
        for m in self.path.query_located(body) {
            if !is_set(m.node()) {
                continue;
            }
            let pointer = m.location().to_json_pointer();
            match gone_entry(body, &pointer) {
                None => return Ok(Some(m.node())),
                Some((entry, found, true)) => {
                    if !chosen_out(&entry) {
                        note(excused, gone_note(&entry, &found));
                    }
                }
                Some((entry, found, false)) => {
                    gone.get_or_insert_with(|| {
                        format!(
                            "`error_path` `{}` is set at `{pointer}`: {}, and `{entry}`{} was \
                             404/410 (gone) and no sub-response beside it answered",
                            self.as_str(),
                            shown(m.node()),
                            entry_named(found.id, ", ")
                        )
                    });
                }
            }
        }
        gone.map_or(Ok(None), Err)
    }

    /// The failed sub-response the whole answer is ([`whole_failed`], found by
    /// [`ItemsPath::why_none`]: [`Means::Failed`](super::listing::Means::Failed)), on a page
    /// where the path matches nothing (`why`). Such a page fails anyway; what its status means
    /// says how (review60 M2: a throttle read as a config error on `items_path`, never
    /// retried).
    pub(crate) fn failed_whole(&self, found: &Envelope<'_>, why: &str) -> FailedSub {
        FailedSub::new(
            format!(
                "whole answer is a sub-response's (`items_path` `{}` matches nothing in it: \
                 {why})",
                self.as_str()
            ),
            found,
        )
    }
}

/// Where the whole answer is itself a sub-response that failed ([`envelope`]): a JSON-RPC
/// error, which servers send at HTTP 200 (`{"jsonrpc": "2.0", "error": {"code": -32005, …},
/// "id": 1}`), or Google's `{"error": {"code": 429, …}}`.
pub(crate) fn whole_failed(body: &Value) -> Option<Envelope<'_>> {
    body.as_object()
        .and_then(envelope)
        .filter(|e| Meaning::of(e.status).fails())
}

/// A sub-response that was throttled or failed ([`ItemsPath::failed_sub_response`]).
#[derive(Debug)]
pub(crate) struct FailedSub {
    /// Where it lies and what its error says.
    pub(crate) why: String,
    /// Its status.
    pub(crate) status: u64,
    /// What it means for the page: [`Meaning::of`] its status, but a 424 that depends on a
    /// gone entry is refused (review60 L1).
    pub(crate) meaning: Meaning,
    /// The wait its entry asks for ([`Envelope::retry_after`]: a Microsoft Graph `$batch`
    /// answer's `headers.Retry-After`, Google's `RetryInfo`), where it gives one.
    pub(crate) retry_after: Option<Duration>,
}

impl FailedSub {
    /// The failed sub-response `found`, `at` saying where it lies and what it lacks, and
    /// the request it answers where it names one ([`entry_named`]).
    fn new(at: String, found: &Envelope<'_>) -> Self {
        let status = found.status;
        let error = found.error.map_or_else(String::new, |(member, v)| {
            format!(" and its `{member}` is set: {}", shown(v))
        });
        let id = entry_named(found.id, ", ");
        Self {
            why: format!(
                "{at}{error} (status {status}{id}: a sub-response that failed, not one that \
                 holds none)"
            ),
            status,
            meaning: Meaning::of(status),
            retry_after: found.retry_after,
        }
    }

    /// A 424 (Failed Dependency) at `entry` beside a gone entry (404, 410) of its list is
    /// refused, not retried (review60 L1: retried as an outage on every attempt of every
    /// run), and the message names the gone entry by its position and its id, as any failed
    /// entry is named (review63 L2).
    ///
    /// Why refused: a 424 exists only where a request it depends on failed (Graph's
    /// `dependsOn`), and the answer does not say which (Graph's responses carry no
    /// `dependsOn`). Where that request was throttled, failed at the source or had its
    /// credentials refused, that entry outranks the 424 ([`FailedSub::keep_worst`]) and is
    /// what the page reports, with its own kind; where it was refused (400), both are
    /// refused. What is left is a chain that ends at a gone entry (or one that answered, which
    /// a 424 does not follow): no retry heals it, so retrying it spent every attempt of every
    /// run for nothing. The gone entry beside it is the likeliest root, not a proven one, and
    /// the message says "beside", not "depends on". A 424 with no gone entry beside it stays an
    /// outage: its dependency may heal.
    fn refused_beside_gone(&mut self, body: &Value, entry: &str) {
        if self.status != 424 {
            return;
        }
        let Some((gone, id)) = gone_beside(body, entry) else {
            return;
        };
        let id = entry_named(id, "");
        let what = if id.is_empty() {
            "404/410".to_owned()
        } else {
            format!("{id}, 404/410")
        };
        self.why.push_str(&format!(
            "; beside gone `{gone}` ({what}), which no retry heals"
        ));
        self.meaning = Meaning::Refused;
    }

    /// Keeps in `worst` whichever of it and this one says more about the page (review55 M2:
    /// a batch's entries come in any order, and a 424 or 400 listed before a 429 hid the
    /// throttle and its wait): a throttle, the longest wait first, over an outage, over
    /// refused credentials, over another refused request; a 424 (failed because an entry it
    /// depends on did) least. Of two alike, the first in the document stays.
    pub(crate) fn keep_worst(self, worst: &mut Option<Self>) {
        let rank = |f: &Self| (f.meaning.rank(f.status), f.retry_after);
        if worst.as_ref().is_none_or(|w| rank(&self) > rank(w)) {
            *worst = Some(self);
        }
    }
}

/// The pointers of what `path` selects in `body`.
fn pointers(path: &JsonPath, body: &Value) -> HashSet<String> {
    path.query_located(body)
        .locations()
        .map(|l| l.to_json_pointer())
        .collect()
}

/// A gone sub-response (404, 410) that a page passed beside, for a warning and Test
/// Connection ([`gone_note`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoneNote {
    /// Which entry: its pointer and what names its request ("`/responses/1`, entry `id`
    /// "u9""), the same on every page that holds it, whatever its error's text (Graph's
    /// carries the request's id and date): a walk warns of each once (review71 L2).
    pub(crate) entry: String,
    /// "`/responses/1` (status 404, entry `id` "7"), its `error` is set: {…}".
    pub(crate) text: String,
}

/// The note of a gone sub-response (404, 410) that a page passed beside, for a warning and
/// Test Connection: "`/responses/1` (status 404, entry `id` "7"), its `error` is set: {…}",
/// its values shown as any response value is (clipped, secrets redacted).
pub(crate) fn gone_note(entry: &str, found: &Envelope<'_>) -> GoneNote {
    let error = found.error.map_or_else(String::new, |(member, v)| {
        format!(", its `{member}` is set: {}", shown(v))
    });
    let named = entry_named(found.id, ", ");
    GoneNote {
        entry: format!("`{entry}`{named}"),
        text: format!("`{entry}` (status {}{named}){error}", found.status),
    }
}

/// `gone` added to `notes`, where its entry is not there yet (an entry found on both routes).
fn note(notes: &mut Vec<GoneNote>, gone: GoneNote) {
    if !notes.iter().any(|n| n.entry == gone.entry) {
        notes.push(gone);
    }
}

/// `entry `id` "mbx-7"` after `lead`: the request a sub-response answers, by the member
/// that names it ([`Envelope::id`]), its value shown as any response value is (clipped,
/// secrets redacted); empty where it names none. After the status, not between what the
/// entry lacks and its error, which messages and tests read as one phrase.
pub(super) fn entry_named(id: Option<(&str, &Value)>, lead: &str) -> String {
    id.map_or_else(String::new, |(member, v)| {
        format!("{lead}entry `{member}` {}", shown(v))
    })
}

/// `entry` as a sub-response that failed ([`Meaning::fails`]), where the `names` the path
/// needs after it do not lead from it to a value ([`leads_to`]).
fn failed_entry<'v>(entry: &'v Value, names: &[String]) -> Option<Envelope<'v>> {
    let o = entry.as_object()?;
    if leads_to(entry, names) {
        return None;
    }
    envelope(o).filter(|e| Meaning::of(e.status).fails())
}

/// Whether the names the path needs after an entry lead from `entry` to a value that is not
/// `null`: a sub-response that delivered (`{"hits": {…}, "status": 500, "error": "partial"}`
/// is its own report beside its hits).
fn leads_to(entry: &Value, names: &[String]) -> bool {
    names
        .iter()
        .try_fold(entry, |at, name| at.get(name))
        .is_some_and(|v| !v.is_null())
}

/// The sub-response at `pointer` (`value`), or the one it is a member of where that is an
/// entry of a list (a `$batch` entry's `body`), with that sub-response's pointer.
pub(super) fn sub_response_at<'v, 'p>(
    body: &'v Value,
    pointer: &'p str,
    value: &'v Value,
) -> Option<(&'p str, Envelope<'v>)> {
    if let Some(found) = value.as_object().and_then(envelope) {
        return Some((pointer, found));
    }
    let (up, _) = pointer.rsplit_once('/')?;
    let (list, _) = up.rsplit_once('/')?;
    if !body.pointer(list).is_some_and(Value::is_array) {
        return None;
    }
    Some((up, body.pointer(up)?.as_object().and_then(envelope)?))
}

/// Another entry of the list the sub-response at `entry` lies in that is gone (404, 410),
/// where one is: its pointer, and what names its request ([`Envelope::id`]).
fn gone_beside<'v>(
    body: &'v Value,
    entry: &str,
) -> Option<(String, Option<(&'static str, &'v Value)>)> {
    let (list, own) = entry.rsplit_once('/')?;
    let Some(Value::Array(entries)) = body.pointer(list) else {
        return None;
    };
    entries.iter().enumerate().find_map(|(i, e)| {
        let found = e.as_object().and_then(envelope)?;
        (i.to_string() != own && Meaning::of(found.status) == Meaning::Gone)
            .then(|| (format!("{list}/{i}"), found.id))
    })
}

/// The entry of a list that a value at `pointer` lies in (the object directly in the
/// list, the nearest above the value), where it is a gone sub-response (404, 410): its pointer,
/// its envelope, and whether another entry of its list delivered (no sub-response that failed
/// or is gone: an `_msearch` search that answered is no envelope).
fn gone_entry<'v>(body: &'v Value, pointer: &str) -> Option<(String, Envelope<'v>, bool)> {
    let mut at = pointer;
    let (list, own) = loop {
        let (up, own) = at.rsplit_once('/')?;
        if body.pointer(up).is_some_and(Value::is_array) {
            break (up, own);
        }
        at = up;
    };
    // Only an entry with a status of its own, as a batch's entries carry (`_msearch`'s and
    // Graph's `status`, People's `httpStatusCode` or `requestedResourceName`): a status read
    // inside its `error` is a whole stream's end (Google's streamed `{"error": {"code":
    // 404}}` after records), which a page that stops there must not pass (review69 L4).
    let object = body.pointer(at)?.as_object()?;
    if own_status(object).is_none() && people_entry(object).is_none() {
        return None;
    }
    let found = envelope(object).filter(|e| Meaning::of(e.status) == Meaning::Gone)?;
    let Some(Value::Array(entries)) = body.pointer(list) else {
        return None;
    };
    let delivered = entries.iter().enumerate().any(|(i, e)| {
        i.to_string() != own
            && e.as_object()
                .and_then(envelope)
                .is_none_or(|e| Meaning::of(e.status) == Meaning::Answered)
    });
    Some((at.to_owned(), found, delivered))
}

/// Whether another entry of the list the sub-response at `entry` lies in answered (1xx to
/// 3xx): what excuses a gone one (404, 410) from failing a page with no match.
pub(super) fn answered_beside(body: &Value, entry: &str) -> bool {
    let Some((list, own)) = entry.rsplit_once('/') else {
        return false;
    };
    let Some(Value::Array(entries)) = body.pointer(list) else {
        return false;
    };
    entries.iter().enumerate().any(|(i, e)| {
        i.to_string() != own
            && e.as_object()
                .and_then(envelope)
                .is_some_and(|e| Meaning::of(e.status) == Meaning::Answered)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;
    use serde_json_path::JsonPath;

    use super::*;

    fn status(v: Value) -> Option<u64> {
        envelope(v.as_object().unwrap()).map(|e| e.status)
    }

    #[test]
    fn shapes_of_sub_responses() {
        assert_eq!(
            status(json!({"error": {"type": "x"}, "status": 429})),
            Some(429)
        );
        assert_eq!(
            status(json!({"error": {"code": 503, "message": "x"}})),
            Some(503)
        );
        assert_eq!(
            status(json!({"id": "2", "status": 204, "headers": {}})),
            Some(204)
        );
        let throttled = json!({"id": "2", "status": 429, "headers": {"retry-after": "7"}});
        let e = envelope(throttled.as_object().unwrap()).unwrap();
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert!(e.error.is_none());
        // Read as core reads the header (rest73: one reader): a number, an HTTP-date.
        let wait = |v: Value| {
            let entry = json!({"id": "2", "status": 429, "headers": {"Retry-After": v}});
            envelope(entry.as_object().unwrap()).unwrap().retry_after
        };
        assert_eq!(wait(json!(2.5)), Some(Duration::from_millis(2500)));
        assert_eq!(
            wait(json!("Thu, 01 Jan 1970 00:00:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(wait(json!(-1)), None);
        assert_eq!(wait(json!("soon")), None);
        assert_eq!(
            status(json!({"requestedResourceName": "people/c2",
                "status": {"code": 8, "message": "Quota exceeded"}})),
            Some(429)
        );
        assert_eq!(
            status(json!({"jsonrpc": "2.0", "error": {"code": -32603}, "id": 2})),
            Some(500)
        );
        assert_eq!(
            status(json!({"jsonrpc": "2.0", "error": {"code": -32602}, "id": 2})),
            Some(400)
        );
        assert_eq!(
            status(json!({"jsonrpc": "2.0", "result": [], "id": 2})),
            Some(200)
        );
        // A record's business state is no sub-response.
        assert_eq!(
            status(json!({"id": 3, "status": "error", "error": "exit 1"})),
            None
        );
        assert_eq!(
            status(json!({"status": "ABORTED", "error": "exit 1"})),
            None
        );
        assert_eq!(status(json!({"state": "ABORTED", "error": "x"})), None);
        assert_eq!(
            status(json!({"status": 500, "name": "db", "error": "x"})),
            None
        );
        assert_eq!(status(json!({"error": "x", "code": 7})), None);
        assert_eq!(Meaning::of(404), Meaning::Gone);
        assert_eq!(Meaning::of(400), Meaning::Refused);
        assert!(!Meaning::of(204).fails());
    }

    /// Issue 17: a path with no name below a wildcard or filter, and no descendant name or
    /// search, has nothing to read for sub-responses (`ItemsPath::failed_sub_response`
    /// answers at once): the plain `$.data` and `$.data[*]` pay nothing for the check.
    #[test]
    fn plain_paths_read_no_sub_responses() {
        for path in ["$.data", "data", "$.data[*]", "$.result.items", "$[*]"] {
            let p = ItemsPath::parse(path).unwrap();
            assert!(p.levels.is_empty() && !p.descends, "{path}");
        }
        let p = ItemsPath::parse("$.responses[*].body.value[?@.x]").unwrap();
        let levels: Vec<(String, Vec<String>)> = p
            .levels
            .iter()
            .map(|(l, names, _)| (l.to_string(), names.clone()))
            .collect();
        assert_eq!(
            levels,
            [(
                JsonPath::parse("$.responses[*]").unwrap().to_string(),
                vec!["body".to_owned(), "value".to_owned()]
            )]
        );
        // The entries the user's filter chose, kept beside the wildcard (review71 L1).
        let p = ItemsPath::parse("$.responses[?@.status == 200].hits.hits[*]").unwrap();
        let chosen: Vec<_> = p
            .levels
            .iter()
            .map(|(_, _, c)| c.as_ref().map(ToString::to_string))
            .collect();
        let want = JsonPath::parse("$.responses[?@.status == 200]").unwrap();
        assert_eq!(chosen, [Some(want.to_string())]);
        let p = ItemsPath::parse("$.responses[*].hits.hits[?@.x]").unwrap();
        assert!(p.levels[0].2.is_none());
        assert!(ItemsPath::parse("$..hits.hits[*]").unwrap().descends);
    }
}
