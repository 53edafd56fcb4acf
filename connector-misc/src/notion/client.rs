//! The Notion API calls the connector makes (`Notion-Version: 2025-09-03`, the version of
//! data sources: a database holds one or more data sources, whose rows are its pages).
//!
//! - `POST /v1/search` with `{"filter": {"property": "object", "value": "page"}, "sort":
//!   {"timestamp": "last_edited_time", "direction": …}, "page_size": 100, "start_cursor": …}`:
//!   every page shared with the integration, database rows included, cursor paging
//!   (`next_cursor`, `has_more`);
//! - `GET /v1/pages/{id}`, `GET /v1/databases/{id}` (with its `data_sources`),
//!   `GET /v1/data_sources/{id}`, `GET /v1/blocks/{id}`: one object (its `parent` places it;
//!   a row's parent is `{"type": "data_source_id", "data_source_id", "database_id"}`);
//! - `GET /v1/blocks/{id}/children?page_size=100&start_cursor=…`: a block's (or page's)
//!   children, each with `has_children`;
//! - `POST /v1/data_sources/{id}/query` with `{"page_size": 100, "start_cursor": …}`: a
//!   data source's rows, as pages with their properties;
//! - a file block's URL (Notion's expiring `file.url` on its S3 host, or an `external.url`),
//!   fetched without the token;
//! - errors as `{"object": "error", "status": 404, "code": "object_not_found", "message": …,
//!   "request_id": …}`; `429` `rate_limited` with `Retry-After` (seconds).

use bytes::Bytes;
use connector_core::http::{Auth, ErrorClass, HttpClient, RequestBuilder, StatusCode};
use connector_core::{Error, ErrorKind, Result, Secret, SyncContext};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;
use super::config::TOKEN_FIELD;
use super::model::{ApiError, Block, List, Page};

/// The API version every request names.
pub(crate) const NOTION_VERSION: &str = "2025-09-03";

/// Results per page: Notion's maximum.
pub(crate) const PAGE_SIZE: u32 = 100;

/// Requests to one Notion workspace; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    token: Secret,
    api: Url,
}

impl Client {
    pub(crate) fn new(http: HttpClient, token: Secret, api: Url) -> Self {
        Self { http, token, api }
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

    fn api(&self, req: RequestBuilder) -> RequestBuilder {
        req.header("notion-version", NOTION_VERSION)
            .auth(Auth::Bearer(self.token.clone()), TOKEN_FIELD)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url, query: &[(&str, &str)]) -> Result<T> {
        self.api(self.http.get(url).query(query.iter().copied()))
            .send()
            .await?
            .json()
    }

    async fn post<T: DeserializeOwned>(&self, url: Url, body: &Value) -> Result<T> {
        // Search and query read; retrying them is safe.
        self.api(self.http.post(url).json(body).idempotent(true))
            .send()
            .await?
            .json()
    }

    /// One page of pages shared with the integration, by `last_edited_time` (oldest first
    /// when `ascending`), from `cursor`.
    pub(crate) async fn search(
        &self,
        cursor: Option<&str>,
        ascending: bool,
        page_size: u32,
    ) -> Result<List<Page>> {
        let mut body = json!({
            "filter": {"property": "object", "value": "page"},
            "sort": {
                "timestamp": "last_edited_time",
                "direction": if ascending { "ascending" } else { "descending" },
            },
            "page_size": page_size,
        });
        if let (Some(cursor), Some(map)) = (cursor, body.as_object_mut()) {
            map.insert("start_cursor".into(), json!(cursor));
        }
        self.post(self.endpoint(&["v1", "search"])?, &body).await
    }

    /// `kind` (`pages`, `databases`, `blocks`) `id`; none when Notion says it is not there
    /// (or not shared with the integration, which Notion answers the same way).
    async fn object<T: DeserializeOwned>(&self, kind: &str, id: &str) -> Result<Option<T>> {
        match self.get(self.endpoint(&["v1", kind, id])?, &[]).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The page `id`; none when missing or not shared.
    pub(crate) async fn page(&self, id: &str) -> Result<Option<Page>> {
        self.object("pages", id).await
    }

    /// The page `id` as sent; none when missing or not shared.
    pub(crate) async fn page_value(&self, id: &str) -> Result<Option<Value>> {
        self.object("pages", id).await
    }

    /// The database `id`; none when missing or not shared.
    pub(crate) async fn database(&self, id: &str) -> Result<Option<Page>> {
        self.object("databases", id).await
    }

    /// The data source `id`; none when missing or not shared.
    pub(crate) async fn data_source(&self, id: &str) -> Result<Option<Page>> {
        self.object("data_sources", id).await
    }

    /// The block `id`; none when missing or not shared.
    pub(crate) async fn block(&self, id: &str) -> Result<Option<Block>> {
        self.object("blocks", id).await
    }

    /// One page of the children of block (or page) `id`.
    pub(crate) async fn children(&self, id: &str, cursor: Option<&str>) -> Result<List<Block>> {
        let size = PAGE_SIZE.to_string();
        let mut query = vec![("page_size", size.as_str())];
        if let Some(cursor) = cursor {
            query.push(("start_cursor", cursor));
        }
        self.get(self.endpoint(&["v1", "blocks", id, "children"])?, &query)
            .await
    }

    /// One page of the rows of data source `id`.
    pub(crate) async fn query_data_source(
        &self,
        id: &str,
        cursor: Option<&str>,
    ) -> Result<List<Page>> {
        let mut body = json!({"page_size": PAGE_SIZE});
        if let (Some(cursor), Some(map)) = (cursor, body.as_object_mut()) {
            map.insert("start_cursor".into(), json!(cursor));
        }
        self.post(self.endpoint(&["v1", "data_sources", id, "query"])?, &body)
            .await
    }

    /// The file at `url` (a file block's), refusing a body over `max` bytes; sent without
    /// the token (Notion's file URLs are pre-signed, external ones are someone else's).
    pub(crate) async fn download(&self, url: &str, max: u64) -> Result<Bytes> {
        let url = Url::parse(url).map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                "the file block's URL cannot be read",
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

/// What Notion's error bodies mean: 404 `object_not_found` (missing, or not shared with the
/// integration), 403 `restricted_resource` (the integration lacks a capability), 400
/// `validation_error`/`invalid_request_url`/`invalid_json`, 409 `conflict_error`. 401 and 429
/// (`rate_limited`, `Retry-After`) are core's.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let err = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let said = if err.code.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
    } else if err.request_id.is_empty() {
        format!("{}: {}", err.code, err.message)
    } else {
        format!(
            "{}: {} (request id {})",
            err.code, err.message, err.request_id
        )
    };
    match status.as_u16() {
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Notion (missing, or not shared with the integration): {said}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Notion refused access (the integration needs the \"Read content\" capability): {said}"
            ),
        )),
        400 | 409 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Notion rejected the request: {said}"),
        )),
        _ => None,
    }
}
