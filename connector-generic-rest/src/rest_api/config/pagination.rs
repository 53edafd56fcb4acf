//! The request's method and the pagination settings of [`RestApiConfig`](super::RestApiConfig):
//! [`PaginationType`] and RAGFlow's `pagination_config` ([`PaginationConfig`]), with their
//! defaults.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HttpMethod {
    /// `GET`.
    #[default]
    #[serde(alias = "get")]
    GET,
    /// `POST`; retried like a `GET`, since a listing endpoint reads only.
    #[serde(alias = "post")]
    POST,
}

/// Pagination kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaginationType {
    /// One request.
    #[default]
    None,
    /// `page=1,2,...`.
    Page,
    /// `offset=0,n,...`, advanced by the number of items received.
    Offset,
    /// An opaque cursor from the body.
    Cursor,
    /// The RFC 8288 `Link: <...>; rel="next"` header.
    LinkHeader,
    /// A next-page URL in the body (`next_url_path`).
    NextUrlPath,
}

/// RAGFlow's `pagination_config`, plus `next_url_path` and `params_in_body`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaginationConfig {
    /// Page parameter (default `page`).
    #[serde(default = "default_page_param")]
    pub page_param: String,
    /// Page size parameter; sent only when set.
    #[serde(default)]
    pub page_size_param: Option<String>,
    /// Items requested per page (default: the size parameter's value in `query_params` or the
    /// URL, else 100).
    #[serde(default)]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: Option<u64>,
    /// First page (default 1).
    #[serde(default = "default_start_page")]
    #[schemars(range(max = connector_core::config::limits::MAX_COUNT))]
    pub start_page: u64,
    /// Offset parameter (default `offset`).
    #[serde(default = "default_offset_param")]
    pub offset_param: String,
    /// Limit parameter; sent only when set.
    #[serde(default)]
    pub limit_param: Option<String>,
    /// Items requested per page for offset pagination (default `page_size`).
    #[serde(default)]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub limit: Option<u64>,
    /// First offset (default 0).
    #[serde(default)]
    #[schemars(range(max = connector_core::config::limits::MAX_COUNT))]
    pub start_offset: u64,
    /// Cursor parameter (default `cursor`).
    #[serde(default = "default_cursor_param")]
    pub cursor_param: String,
    /// Cursor of the first request; without it the first request sends none.
    #[serde(default)]
    pub initial_cursor: Option<String>,
    /// JSONPath to the next cursor (first match).
    #[serde(default)]
    pub next_cursor_path: Option<String>,
    /// Field path of the next cursor.
    #[serde(default)]
    pub next_cursor_field: Option<String>,
    /// JSON body of `POST` requests when the top-level `request_body` is absent (a JSON value
    /// or JSON text).
    #[serde(default, deserialize_with = "super::json_or_text")]
    pub request_body: Option<Value>,
    /// Field path or JSONPath of the next page's URL (`next_url_path` pagination).
    #[serde(default)]
    pub next_url_path: Option<String>,
    /// For `POST`: put the pagination parameters in the JSON body instead of the query string.
    #[serde(default)]
    pub params_in_body: bool,
}

impl Default for PaginationConfig {
    fn default() -> Self {
        Self {
            page_param: default_page_param(),
            page_size_param: None,
            page_size: None,
            start_page: default_start_page(),
            offset_param: default_offset_param(),
            limit_param: None,
            limit: None,
            start_offset: 0,
            cursor_param: default_cursor_param(),
            initial_cursor: None,
            next_cursor_path: None,
            next_cursor_field: None,
            request_body: None,
            next_url_path: None,
            params_in_body: false,
        }
    }
}

// RAGFlow's defaults (`rest_api_connector.py`: `pagination_config.get(..)`).
fn default_page_param() -> String {
    "page".to_owned()
}

fn default_start_page() -> u64 {
    1
}

fn default_offset_param() -> String {
    "offset".to_owned()
}

fn default_cursor_param() -> String {
    "cursor".to_owned()
}
