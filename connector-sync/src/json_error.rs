//! The JSON error answer of the OAuth and job event routes (feature `api`), in the management
//! API's shape: `{"error": {"status", "code", "message", "problems": [{"path", "message"}]}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use connector_core::{Error, ErrorKind};
use serde_json::json;

/// An error answer: a status, a stable code, a message for people, and the problems of a
/// request by field path.
#[derive(Debug)]
pub(crate) struct JsonError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) problems: Vec<(String, String)>,
}

impl JsonError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// A request body that is not the JSON it should be (serde's message names the field).
    pub(crate) fn bad_body(e: &serde_json::Error) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the request body is not valid: {e}"),
        )
    }
}

impl From<Error> for JsonError {
    fn from(e: Error) -> Self {
        let (status, code) = match e.kind() {
            ErrorKind::Config => (StatusCode::BAD_REQUEST, "invalid_config"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Unauthenticated => (StatusCode::BAD_GATEWAY, "unauthenticated"),
            ErrorKind::PermissionDenied => (StatusCode::BAD_GATEWAY, "permission_denied"),
            ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::RateLimited => {
                (StatusCode::BAD_GATEWAY, "upstream_unavailable")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let problems = e
            .problems()
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect();
        Self {
            status,
            code,
            message: e.to_string(),
            problems,
        }
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let problems: Vec<_> = self
            .problems
            .iter()
            .map(|(path, message)| json!({ "path": path, "message": message }))
            .collect();
        let body = json!({ "error": {
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
            "problems": problems,
        }});
        (self.status, Json(body)).into_response()
    }
}
