//! Google's JSON error bodies (`{"error": {"code", "message", "errors": [{"reason"}], "status",
//! "details": [{"reason"}]}}`), read by the HTTP layer's error classifier so that a 403 that is
//! really a rate limit is retried, a disabled API says so, and a file that cannot be exported
//! fails alone.

use connector_core::ErrorKind;
use connector_core::http::{ErrorClass, StatusCode};
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct Body {
    #[serde(default)]
    error: Option<Detail>,
}

#[derive(Deserialize, Default)]
struct Detail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    errors: Vec<Reason>,
    #[serde(default)]
    details: Vec<Reason>,
}

#[derive(Deserialize, Default)]
struct Reason {
    #[serde(default)]
    reason: String,
}

/// What an error says when the API is disabled in the Cloud project, which concerns every user.
pub(crate) const API_DISABLED: &str =
    "the API is disabled in the service account's Google Cloud project";

/// Reasons that mean "slow down", whatever the status.
const RATE_LIMIT: &[&str] = &[
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "RATE_LIMIT_EXCEEDED",
];

/// BigQuery's reason for a project quota (concurrent queries, query bytes per day): a rate
/// limit for BigQuery alone ([`classify_bigquery`]). Drive and Gmail keep it a refusal, so a
/// daily quota they report is not retried as if it passed in seconds.
const QUOTA_EXCEEDED: &str = "quotaExceeded";

/// What a BigQuery error says when a query would bill more bytes than allowed; the source
/// names its `maximum_bytes_billed` field when it sees it.
pub(crate) const BYTES_BILLED: &str = "the query would bill more bytes than allowed";

/// What a BigQuery error says when the query itself is wrong (syntax, a missing column).
pub(crate) const INVALID_QUERY: &str = "BigQuery rejected the query";

/// Reasons that concern one file only: the item fails, the sync goes on.
const ITEM: &[&str] = &[
    "cannotDownloadFile",
    "cannotExportFile",
    "exportSizeLimitExceeded",
    "fileNotDownloadable",
    "cannotDownloadAbusiveFile",
    "downloadQuotaExceeded",
];

/// The error classifier for Google APIs.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    classify_with(status, body, RATE_LIMIT)
}

/// The error classifier for BigQuery: [`classify`], with `quotaExceeded` a rate limit too
/// (BigQuery's "too many concurrent queries" and other project quotas: retried within the
/// rate-limit budget, then `RateLimited`, so the sync ends resumably).
pub(crate) fn classify_bigquery(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    const BIGQUERY_RATE_LIMIT: &[&str] = &[
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "RATE_LIMIT_EXCEEDED",
        QUOTA_EXCEEDED,
    ];
    classify_with(status, body, BIGQUERY_RATE_LIMIT)
}

fn classify_with(status: StatusCode, body: &[u8], rate_limit: &[&str]) -> Option<ErrorClass> {
    let detail = serde_json::from_slice::<Body>(body).ok()?.error?;
    let reasons: Vec<&str> = detail
        .errors
        .iter()
        .chain(&detail.details)
        .map(|r| r.reason.as_str())
        .collect();
    let has = |set: &[&str]| reasons.iter().any(|r| set.contains(r));
    let message = detail.message.trim();
    if has(rate_limit) {
        return Some(ErrorClass::new(
            ErrorKind::RateLimited,
            format!("Google rate limit: {message}"),
        ));
    }
    if has(&["accessNotConfigured", "SERVICE_DISABLED"]) {
        return Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!("{API_DISABLED}; enable it in the API Library: {message}"),
        ));
    }
    if has(&["failedPrecondition"]) || detail.status == "FAILED_PRECONDITION" {
        // Gmail's answer for a user without a mailbox ("Mail service not enabled": no Gmail
        // licence, or Gmail turned off for the user's organisational unit). It concerns that
        // user, and may heal when a licence is assigned.
        return Some(ErrorClass::new(
            ErrorKind::Unsupported,
            format!(
                "the service is not enabled for this user (no licence, or turned off for the user in the Admin console): {message}"
            ),
        ));
    }
    if has(&["bytesBilledLimitExceeded"]) {
        return Some(ErrorClass::new(
            ErrorKind::Config,
            format!("{BYTES_BILLED}: {message}"),
        ));
    }
    if has(&["invalidQuery"]) {
        return Some(ErrorClass::new(
            ErrorKind::Config,
            format!("{INVALID_QUERY}: {message}"),
        ));
    }
    if has(ITEM) {
        return Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Google cannot serve this file: {message}"),
        ));
    }
    match status.as_u16() {
        401 => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!("Google rejected the access token: {message}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!("Google refused access ({}): {message}", detail.status),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: u16, reason: &str, status: &str) -> Vec<u8> {
        serde_json::json!({"error": {"code": code, "message": "m", "errors": [{"message": "m", "domain": "usageLimits", "reason": reason}], "status": status}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn reasons() {
        let c = |code, reason, status| {
            classify(
                StatusCode::from_u16(code).unwrap(),
                &body(code, reason, status),
            )
            .map(|c| c.kind)
        };
        assert_eq!(
            c(403, "userRateLimitExceeded", "PERMISSION_DENIED"),
            Some(ErrorKind::RateLimited)
        );
        assert_eq!(
            c(403, "rateLimitExceeded", "PERMISSION_DENIED"),
            Some(ErrorKind::RateLimited)
        );
        // A quota is BigQuery's rate limit, not Drive's or Gmail's (a daily quota there).
        assert_eq!(
            c(403, "quotaExceeded", "PERMISSION_DENIED"),
            Some(ErrorKind::PermissionDenied)
        );
        let bq = |code: u16, reason: &str, status: &str| {
            classify_bigquery(
                StatusCode::from_u16(code).unwrap(),
                &body(code, reason, status),
            )
            .map(|c| c.kind)
        };
        assert_eq!(
            bq(403, "quotaExceeded", "PERMISSION_DENIED"),
            Some(ErrorKind::RateLimited)
        );
        assert_eq!(
            bq(403, "rateLimitExceeded", "PERMISSION_DENIED"),
            Some(ErrorKind::RateLimited)
        );
        assert_eq!(
            c(400, "bytesBilledLimitExceeded", "INVALID_ARGUMENT"),
            Some(ErrorKind::Config)
        );
        assert_eq!(
            c(400, "invalidQuery", "INVALID_ARGUMENT"),
            Some(ErrorKind::Config)
        );
        assert_eq!(
            c(403, "accessNotConfigured", "PERMISSION_DENIED"),
            Some(ErrorKind::PermissionDenied)
        );
        assert_eq!(
            c(403, "exportSizeLimitExceeded", "PERMISSION_DENIED"),
            Some(ErrorKind::InvalidData)
        );
        assert_eq!(
            c(401, "authError", "UNAUTHENTICATED"),
            Some(ErrorKind::Unauthenticated)
        );
        assert_eq!(c(404, "notFound", "NOT_FOUND"), None);
        assert_eq!(classify(StatusCode::FORBIDDEN, b"not json"), None);
    }
}
