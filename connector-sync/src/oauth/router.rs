//! The routes of the OAuth web flows, and the page the browser lands on.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallbackOutcome, CallbackParams, InitRequest, OAuthFlows};
use crate::json_error::JsonError;

impl OAuthFlows {
    /// The routes that need the API key, for the management API's
    /// `merge_authenticated`:
    ///
    /// - `POST /api/v1/oauth/init` [`InitRequest`] → `{"data": {"flow_id",
    ///   "authorization_url", "expires_in"}}`.
    /// - `GET /api/v1/oauth/result/{flow_id}` → `{"data": FlowResult}`; 404 for an unknown flow.
    /// - RAGFlow's `POST /api/v1/connectors/google/oauth/web/start?type=google-drive|gmail`
    ///   (`{"credentials", "connector_id" | "connector"}`) and
    ///   `POST /api/v1/connectors/google/oauth/web/result?type=…` (`{"flow_id"}`).
    ///
    /// Errors answer `{"error": {"status", "code", "message", "problems"}}`.
    pub fn authenticated_router(&self) -> Router {
        Router::new()
            .route("/api/v1/oauth/init", post(init))
            .route("/api/v1/oauth/result/{flow_id}", get(result))
            .route(
                "/api/v1/connectors/google/oauth/web/start",
                post(ragflow_start),
            )
            .route(
                "/api/v1/connectors/google/oauth/web/result",
                post(ragflow_result),
            )
            .with_state(self.clone())
    }

    /// The routes the provider redirects the browser to (no API key: the `state` is the
    /// credential), for the management API's `merge_public`:
    /// `GET /api/v1/oauth/callback/{provider}`, and RAGFlow's
    /// `GET /api/v1/connectors/google-drive/oauth/web/callback` and
    /// `GET /api/v1/connectors/gmail/oauth/web/callback`.
    ///
    /// The answer is a page that tells the window that opened it the outcome
    /// (`window.opener.postMessage({type: "ragflow-<provider>-oauth", status: "success" |
    /// "error", flowId, message, connectorId})`, RAGFlow's message) and closes on success; with
    /// `Accept: application/json`, `{"data": FlowResult}` or the error shape. 200 when the
    /// tokens are stored, 400 for a missing, unknown, expired or used state or the provider's
    /// error, 502 when the code exchange failed.
    pub fn public_router(&self) -> Router {
        Router::new()
            .route("/api/v1/oauth/callback/{provider}", get(callback))
            .route(
                "/api/v1/connectors/google-drive/oauth/web/callback",
                get(drive_callback),
            )
            .route(
                "/api/v1/connectors/gmail/oauth/web/callback",
                get(gmail_callback),
            )
            .with_state(self.clone())
    }

    /// Both routers, for a host that serves them without API keys (tests, a host with its
    /// own authentication in front).
    pub fn router(&self) -> Router {
        self.authenticated_router().merge(self.public_router())
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    serde_json::from_slice(body).map_err(|e| JsonError::bad_body(&e))
}

async fn init(State(flows): State<OAuthFlows>, body: Bytes) -> Result<Response, JsonError> {
    let request: InitRequest = parse(&body)?;
    let started = flows.init(request).await?;
    Ok(Json(json!({ "data": started })).into_response())
}

async fn result(
    State(flows): State<OAuthFlows>,
    Path(flow_id): Path<String>,
) -> Result<Response, JsonError> {
    match flows.result(&flow_id).await? {
        Some(r) => Ok(Json(json!({ "data": r })).into_response()),
        None => Err(JsonError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no OAuth flow `{flow_id}`"),
        )),
    }
}

/// RAGFlow's `?type=` of its Google routes.
#[derive(Deserialize)]
struct SourceType {
    #[serde(rename = "type", default = "drive")]
    kind: String,
}

fn drive() -> String {
    "google-drive".to_owned()
}

async fn ragflow_start(
    State(flows): State<OAuthFlows>,
    Query(q): Query<SourceType>,
    body: Bytes,
) -> Result<Response, JsonError> {
    let mut value: Value = parse(&body)?;
    if let Value::Object(map) = &mut value {
        map.insert("provider".into(), Value::String(q.kind));
    }
    let request: InitRequest =
        serde_json::from_value(value).map_err(|e| JsonError::bad_body(&e))?;
    let started = flows.init(request).await?;
    Ok(Json(json!({ "data": started })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultRequest {
    flow_id: String,
}

async fn ragflow_result(
    State(flows): State<OAuthFlows>,
    Query(q): Query<SourceType>,
    body: Bytes,
) -> Result<Response, JsonError> {
    let request: ResultRequest = parse(&body)?;
    match flows.result(&request.flow_id).await? {
        Some(r) if r.provider == q.kind => Ok(Json(json!({ "data": r })).into_response()),
        _ => Err(JsonError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no `{}` OAuth flow `{}`", q.kind, request.flow_id),
        )),
    }
}

async fn callback(
    State(flows): State<OAuthFlows>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let outcome = flows.callback(&provider, params).await;
    answer(&provider, &outcome, &headers)
}

async fn drive_callback(
    State(flows): State<OAuthFlows>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let outcome = flows.callback("google-drive", params).await;
    answer("google-drive", &outcome, &headers)
}

async fn gmail_callback(
    State(flows): State<OAuthFlows>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let outcome = flows.callback("gmail", params).await;
    answer("gmail", &outcome, &headers)
}

fn answer(provider: &str, outcome: &CallbackOutcome, headers: &HeaderMap) -> Response {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::BAD_REQUEST);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return if status.is_success() {
            (status, Json(json!({ "data": outcome.flow }))).into_response()
        } else {
            JsonError::new(status, outcome.code, outcome.message.clone()).into_response()
        };
    }
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(page(provider, outcome)),
    )
        .into_response()
}

/// Text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The page the browser lands on: the outcome, told to the opener window.
fn page(provider: &str, outcome: &CallbackOutcome) -> String {
    let success = outcome.status == 200;
    let payload = json!({
        "type": format!("ragflow-{provider}-oauth"),
        "status": if success { "success" } else { "error" },
        "flowId": outcome.flow.as_ref().map(|f| f.flow_id.as_str()).unwrap_or(""),
        "connectorId": outcome.flow.as_ref().and_then(|f| f.connector_id.as_deref()),
        "code": outcome.code,
        "message": outcome.message,
    });
    // JSON inside a script: no `<` that could close it.
    let payload = payload.to_string().replace('<', "\\u003c");
    let heading = if success {
        "Authorization complete"
    } else {
        "Authorization failed"
    };
    let close = if success { "window.close();" } else { "" };
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title} authorization</title></head>\n\
         <body><h1>{heading}</h1><p>{message}</p>\n\
         <script>(function(){{var p={payload};\
         if(window.opener){{try{{window.opener.postMessage(p,\"*\");}}catch(e){{}}}}{close}}})();</script>\n\
         </body></html>\n",
        title = escape(provider),
        message = escape(&outcome.message),
    )
}
