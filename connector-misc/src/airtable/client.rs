//! The Airtable Web API calls the connector makes.
//!
//! - `GET /v0/meta/bases/{baseId}/tables`: the base's tables with their fields (`id`, `name`,
//!   `type`, `options`) and `primaryFieldId` (scope `schema.bases:read`);
//! - `GET /v0/{baseId}/{tableIdOrName}?pageSize=100&offset=…` with `view`,
//!   `filterByFormula` and `fields[]`: `{"records": [{"id", "createdTime", "fields"}],
//!   "offset"}` (scope `data.records:read`). The `offset` is a server-side iterator
//!   (`itr…/rec…`) that "may timeout due to client inactivity or server restarts", answered
//!   with `422 LIST_RECORDS_ITERATOR_NOT_AVAILABLE`, after which iteration restarts from the
//!   beginning;
//! - an attachment's `url` (`https://v5.airtableusercontent.com/…`, valid for two hours),
//!   fetched without the token;
//! - errors as `{"error": {"type": "…", "message": "…"}}`: 401 `AUTHENTICATION_REQUIRED`,
//!   403 `INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND` (no access, or no such base or table), 404
//!   `NOT_FOUND`, 422 `INVALID_FILTER_BY_FORMULA` / `INVALID_REQUEST_UNKNOWN` /
//!   `VIEW_NAME_NOT_FOUND`, 429 (no `Retry-After`: Airtable documents a 30-second wait).

use std::time::Duration;

use bytes::Bytes;
use connector_core::http::{Auth, ErrorClass, HttpClient, StatusCode};
use connector_core::{Error, ErrorKind, Result, Secret, SyncContext};
use url::Url;

use super::SOURCE;
use super::config::TOKEN_FIELD;
use super::model::{ApiError, RecordList, Tables};

/// Records per page: Airtable's maximum.
pub(crate) const PAGE_SIZE: u32 = 100;

/// How long every request waits after a 429, as Airtable documents ("you will need to wait 30
/// seconds before subsequent requests will succeed"); its 429s carry no `Retry-After`.
pub const RATE_LIMITED_WAIT: Duration = Duration::from_secs(30);

/// The error types that say an `offset` can no longer be followed.
const OFFSET_GONE: [&str; 2] = [
    "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
    "INVALID_OFFSET_VALUE",
];

/// What a listing asks for besides the offset.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub(crate) view: Option<String>,
    pub(crate) formula: Option<String>,
    /// Only these fields (names); none: every field.
    pub(crate) fields: Option<Vec<String>>,
    pub(crate) page_size: u32,
}

/// Requests to one Airtable base; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    token: Secret,
    api: Url,
    base: String,
}

impl Client {
    pub(crate) fn new(http: HttpClient, token: Secret, api: Url, base: String) -> Self {
        Self {
            http,
            token,
            api,
            base,
        }
    }

    /// The HTTP client underneath.
    #[cfg(test)]
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::internal("api_base_url cannot take a path").with_connector(SOURCE)
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// The base's tables with their fields.
    pub(crate) async fn tables(&self) -> Result<Tables> {
        let url = self.endpoint(&["v0", "meta", "bases", &self.base, "tables"])?;
        self.http
            .get(url)
            .auth(Auth::Bearer(self.token.clone()), TOKEN_FIELD)
            .send()
            .await?
            .json()
    }

    /// One page of records of `table` (id or name), from `offset`.
    pub(crate) async fn list(
        &self,
        table: &str,
        query: &ListQuery,
        offset: Option<&str>,
    ) -> Result<RecordList> {
        let url = self.endpoint(&["v0", &self.base, table])?;
        let size = query.page_size.to_string();
        let mut params: Vec<(&str, &str)> = vec![("pageSize", size.as_str())];
        if let Some(view) = &query.view {
            params.push(("view", view));
        }
        if let Some(formula) = &query.formula {
            params.push(("filterByFormula", formula));
        }
        for field in query.fields.iter().flatten() {
            params.push(("fields[]", field));
        }
        if let Some(offset) = offset {
            params.push(("offset", offset));
        }
        self.http
            .get(url)
            .query(params)
            .auth(Auth::Bearer(self.token.clone()), TOKEN_FIELD)
            .send()
            .await?
            .json()
    }

    /// The attachment at `url`, refusing a body over `max` bytes; sent without the token
    /// (Airtable's attachment URLs are signed).
    pub(crate) async fn download(&self, url: &str, max: u64) -> Result<Bytes> {
        let url = Url::parse(url).map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                "the attachment's URL cannot be read",
            )
            .with_connector(SOURCE)
            .with_cause(e)
        })?;
        Ok(self
            .http
            .get(url)
            .max_body_bytes(max)
            .send()
            .await?
            .into_body())
    }
}

/// Whether `e` says the listing's `offset` expired or is unknown: iteration must restart.
pub(crate) fn offset_gone(e: &Error) -> bool {
    e.kind() == ErrorKind::InvalidData && {
        let text = e.to_string();
        OFFSET_GONE.iter().any(|t| text.contains(t))
    }
}

/// What Airtable's error bodies mean. 429 is core's (with [`RATE_LIMITED_WAIT`]).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let err = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let (kind, message) = err.error.parts();
    let said = match (kind.is_empty(), message.is_empty()) {
        (true, _) => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        (false, true) => kind.to_owned(),
        (false, false) => format!("{kind}: {message}"),
    };
    match status.as_u16() {
        401 => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!("Airtable rejected the token: {said}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Airtable refused access (the token needs data.records:read and schema.bases:read and access to the base; or base_id or table_name_or_id names nothing): {said}"
            ),
        )),
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Airtable found nothing there (check base_id and table_name_or_id): {said}"),
        )),
        422 if kind == "INVALID_FILTER_BY_FORMULA" => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Airtable rejected the poll's formula (check modified_time_field): {said}"),
        )),
        422 if kind.starts_with("VIEW_") => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Airtable has no such view (check view): {said}"),
        )),
        400 | 413 | 422 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Airtable rejected the request: {said}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_in_both_forms() {
        let c = classify(
            StatusCode::FORBIDDEN,
            br#"{"error":{"type":"INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND","message":"Invalid permissions, or the requested model was not found."}}"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::PermissionDenied);
        assert!(c.message.contains("INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"));
        let c = classify(StatusCode::NOT_FOUND, br#"{"error":"NOT_FOUND"}"#)
            .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::NotFound);
        assert!(c.message.ends_with("NOT_FOUND"));
        let c = classify(
            StatusCode::UNPROCESSABLE_ENTITY,
            br#"{"error":{"type":"LIST_RECORDS_ITERATOR_NOT_AVAILABLE","message":"Iterator not available"}}"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert!(offset_gone(&Error::new(c.kind, c.message)));
    }
}
