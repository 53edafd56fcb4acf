//! The API's one error shape, and the extractors that turn every malformed request into it.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use connector_core::{Error, ErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// One problem of a request, by field path (`config.credentials.token`, `page_size`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// The field, as a dotted path into the body (or the query parameter's name); empty when
    /// the problem is the request as a whole.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The `error` member of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub status: u16,
    /// A stable machine-readable code: `invalid_json`, `invalid_request`, `invalid_config`,
    /// `unauthorized`, `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `unsupported`, `rate_limited`, `unavailable`, `timeout`,
    /// `sink_failed`, `internal`.
    pub code: String,
    /// What went wrong, for people. Never holds a credential.
    pub message: String,
    /// Every problem found, by field path (a bad config lists all of them at once).
    pub problems: Vec<Problem>,
}

/// Every error answer: `{"error": {"status", "code", "message", "problems"}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error answer of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    problems: Vec<Problem>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// With the problems of the request, by field path.
    #[must_use]
    pub fn with_problems(mut self, problems: Vec<Problem>) -> Self {
        self.problems = problems;
        self
    }

    /// 400 `invalid_request` about `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message.clone()).with_problems(vec![
            Problem {
                field: field.to_owned(),
                message,
            },
        ])
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Its message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Its stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match e.kind() {
            ErrorKind::Config => (StatusCode::BAD_REQUEST, "invalid_config"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Unsupported => (StatusCode::UNPROCESSABLE_ENTITY, "unsupported"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ErrorKind::Unavailable | ErrorKind::State => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            ErrorKind::Sink => (StatusCode::BAD_GATEWAY, "sink_failed"),
            // A credential or permission of a *connector* (its source refused it): the request
            // was understood and cannot be carried out as it is.
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => {
                (StatusCode::UNPROCESSABLE_ENTITY, "source_refused")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let mut problems: Vec<Problem> = e
            .problems()
            .iter()
            .map(|p| Problem {
                field: config_path(&p.path),
                message: p.message.clone(),
            })
            .collect();
        if problems.is_empty()
            && let Some(field) = e.field()
        {
            problems.push(Problem {
                field: field.to_owned(),
                message: e.message().to_owned(),
            });
        }
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "request failed");
        }
        let message = if crate::db::is_db_failure(&e) {
            // The sync database's own words name where it is (a PostgreSQL user, host and
            // database, a SQLite file's path) and quote its driver: no secret, but internal
            // detail for any API key holder. The log has them (review61 L9); what failed is
            // said, and any other `State` error keeps its words (review68 L5).
            tracing::error!(error = %e, "the sync database failed a request");
            crate::db::without_db_detail(&e)
        } else {
            e.to_string()
        };
        Self {
            status,
            code,
            message,
            problems,
        }
    }
}

/// A field path of a connector config as a path into the request body.
fn config_path(path: &str) -> String {
    if path.is_empty() {
        "config".to_owned()
    } else {
        format!("config.{path}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                status: self.status.as_u16(),
                code: self.code.to_owned(),
                message: self.message,
                problems: self.problems,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A JSON body, read within the body limit and deserialised with every error answered in the
/// API's shape: 415 without `Content-Type: application/json`, 413 past the limit, 400
/// `invalid_json` for bad JSON, 400 `invalid_request` naming the field for a wrong type, a
/// missing field or an unknown one.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// As [`ApiJson`], but an empty body (with or without a content type) is `T::default()`.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is over the server's limit",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("cannot read the request body: {}", rejection.body_text()),
            )
        }
    })
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
        .unwrap_or(false)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => de.end().map(|()| value).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            )
        }),
        Err(e) => {
            let inner = e.inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("the body is not valid JSON: {inner}"),
                ));
            }
            let field = match e.path().to_string() {
                p if p == "." => String::new(),
                p => p,
            };
            let message = inner.to_string();
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                if field.is_empty() {
                    message.clone()
                } else {
                    format!("{field}: {message}")
                },
            )
            .with_problems(vec![Problem { field, message }]))
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON, with `Content-Type: application/json`",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON, with `Content-Type: application/json`",
            ));
        }
        parse(&bytes).map(OptionalJson)
    }
}

/// Query parameters, with a bad one answered in the API's shape (400 naming it).
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|rejection| {
                let text = rejection.body_text();
                // "Failed to deserialize query string: page: invalid digit found in string"
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d);
                let (field, message) = match detail.split_once(": ") {
                    Some((f, m)) if f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                        (f.to_owned(), m.to_owned())
                    }
                    _ => (String::new(), detail.to_owned()),
                };
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", text.clone())
                    .with_problems(vec![Problem { field, message }])
            })
    }
}

/// Path parameters, with a bad one (a job id that is not a number) answered in the API's
/// shape.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|rejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    rejection.body_text(),
                )
            })
    }
}

/// The answer for a route that does not exist.
pub(crate) async fn no_route() -> ApiError {
    ApiError::not_found("no such endpoint; see /openapi.json")
}

/// The answer for a method a route does not take.
pub(crate) async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /openapi.json",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed sync database answers 503 without its location or driver text (review61 L9);
    /// another `State` error keeps its words (review68 L5), and a source that is down keeps
    /// its reason.
    #[test]
    fn a_database_failure_does_not_say_where_the_database_is() {
        let e = crate::db::db_error(
            "PostgreSQL database app@db.internal:5432/sync",
            "cannot read the queue of",
            "pool timed out while waiting for an open connection",
        );
        let answer = ApiError::from(e);
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.code(), "unavailable");
        assert_eq!(
            answer.message(),
            "cannot read the queue of the sync database; the server's log has the details"
        );
        let other = ApiError::from(Error::new(
            ErrorKind::State,
            "the stored event webhook URL of connector c is not a URL",
        ));
        assert!(
            other.message().contains("event webhook URL of connector c"),
            "{}",
            other.message()
        );
        let down = ApiError::from(Error::new(
            ErrorKind::Unavailable,
            "the source answered 503",
        ));
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            down.message().contains("the source answered 503"),
            "{}",
            down.message()
        );
    }
}
