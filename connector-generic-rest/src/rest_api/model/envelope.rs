//! Sub-responses' shapes: the entries of a batch or multi-search answer that each stand for
//! a request of their own, with an HTTP-like status ([`envelope`]: Elasticsearch `_msearch`,
//! Microsoft Graph `$batch`, Google's `{"error": …}` and People API entries, JSON-RPC), what
//! that status means for the page ([`Meaning`]), and the wait such an entry asks for. Only
//! such an envelope may fail a page by its status: a record's own business state
//! (`"status": "error"`, `"state": "ABORTED"`) is data, not a transport failure.
//!
//! The walks of an [`ItemsPath`](super::ItemsPath) over a page's sub-responses are in
//! `sub_response.rs` (failed ones) and `gone.rs` (gone ones).

use std::time::{Duration, SystemTime};

use connector_core::http::retry_after_wait;
use serde_json::{Map, Value};

use super::error_rule::is_set;

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
pub(super) fn people_entry(entry: &Map<String, Value>) -> Option<Envelope<'_>> {
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
        // Too heavy a range for the node this time: a busy node's timeout may pass on a
        // retry, so it is retried as an outage, neither refused nor a throttle (review75 L2).
        Some(-32005) if timed_out(error) => 503,
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
/// {"from": "0xBDE5F8", "limit": 10000, "to": "0x102DBCC"}}`, which comes back on every
/// retry of the same range, so it is refused, not waited for (review71 L3); its throttle
/// ("project ID request rate exceeded", "daily request count exceeded", with `data.rate`) and
/// a bare "limit exceeded" stay a throttle, and "query timeout exceeded" is [`timed_out`].
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
}

/// Whether a JSON-RPC `-32005` is Infura's "query timeout exceeded": a range too heavy for the
/// node to scan in its time, which a less busy node may finish (not a rate limit).
fn timed_out(error: &Value) -> bool {
    error
        .get("message")
        .and_then(Value::as_str)
        .is_some_and(|m| m.to_ascii_lowercase().contains("query timeout exceeded"))
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

/// Where the whole answer is itself a sub-response that failed ([`envelope`]): a JSON-RPC
/// error, which servers send at HTTP 200 (`{"jsonrpc": "2.0", "error": {"code": -32005, …},
/// "id": 1}`), or Google's `{"error": {"code": 429, …}}`.
pub(crate) fn whole_failed(body: &Value) -> Option<Envelope<'_>> {
    body.as_object()
        .and_then(envelope)
        .filter(|e| Meaning::of(e.status).fails())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

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
}
