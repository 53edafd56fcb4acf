//! The routes of the OAuth web flows, their OpenAPI paths, and the page the browser lands on.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, OpenApi};

use super::{
    CallbackOutcome, CallbackParams, FlowResult, FlowStatus, InitRequest, Initiated, OAuthFlows,
    RagflowResult, RagflowStart,
};
use crate::api::{Api, ApiError, ApiJson, ApiPath, ApiQuery, Data, ErrorBody};

/// An answer of the OAuth routes.
type Answer<T> = Result<axum::Json<Data<T>>, ApiError>;

impl OAuthFlows {
    /// The routes that need the API key, for [`Api::merge_authenticated`]:
    ///
    /// - `POST /api/v1/oauth/init` [`InitRequest`] → `{"data": {"flow_id",
    ///   "authorization_url", "expires_in"}}`.
    /// - `GET /api/v1/oauth/result/{flow_id}` → `{"data": FlowResult}`; 404 for an unknown flow.
    /// - RAGFlow's `POST /api/v1/connectors/google/oauth/web/start?type=google-drive|gmail`
    ///   ([`RagflowStart`]) and `POST /api/v1/connectors/google/oauth/web/result?type=…`
    ///   (`{"flow_id"}`).
    ///
    /// Errors answer the API's error shape.
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
    /// credential), for [`Api::merge_public`]: `GET /api/v1/oauth/callback/{provider}`, and
    /// RAGFlow's `GET /api/v1/connectors/google-drive/oauth/web/callback` and
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

    /// The OpenAPI paths of both routers, for [`Api::merge_openapi`].
    pub fn openapi() -> utoipa::openapi::OpenApi {
        OAuthDoc::openapi()
    }

    /// `api` serving the flows: [`authenticated_router`](Self::authenticated_router) behind
    /// its API keys, [`public_router`](Self::public_router) without, and their paths in its
    /// OpenAPI document.
    #[must_use]
    pub fn install(&self, api: Api) -> Api {
        api.merge_authenticated(self.authenticated_router())
            .merge_public(self.public_router())
            .merge_openapi(Self::openapi())
    }
}

/// Start an OAuth web flow.
///
/// Binds the flow to a stored connector (`connector_id`) or to a connector to create once
/// authorised (`connector`, its config validated now), and answers the provider's
/// authorisation URL to send the browser to. Its `state` expires; the PKCE verifier and an
/// uploaded client are stored sealed.
#[utoipa::path(post, path = "/api/v1/oauth/init", tag = "oauth",
    request_body = InitRequest,
    responses((status = 200, description = "The authorisation URL", body = Data<Initiated>)))]
async fn init(
    State(flows): State<OAuthFlows>,
    ApiJson(request): ApiJson<InitRequest>,
) -> Answer<Initiated> {
    Ok(Data::of(flows.init(request).await?))
}

/// Where an OAuth flow is: `pending`, `exchanging`, `succeeded` (with the connector's id),
/// `failed` (with why) or `expired`. Never a token.
#[utoipa::path(get, path = "/api/v1/oauth/result/{flow_id}", tag = "oauth",
    params(("flow_id" = String, Path, description = "The flow's id, as `init` answered it")),
    responses((status = 200, description = "The flow", body = Data<FlowResult>)))]
async fn result(
    State(flows): State<OAuthFlows>,
    ApiPath(flow_id): ApiPath<String>,
) -> Answer<FlowResult> {
    match flows.result(&flow_id).await? {
        Some(r) => Ok(Data::of(r)),
        None => Err(ApiError::not_found(format!("no OAuth flow `{flow_id}`"))),
    }
}

/// RAGFlow's `?type=` of its Google routes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SourceType {
    /// `google-drive` (the default) or `gmail`.
    #[serde(rename = "type", default = "drive")]
    #[param(rename = "type")]
    kind: String,
}

fn drive() -> String {
    "google-drive".to_owned()
}

/// RAGFlow's Google OAuth start: `init` with the provider from `type`.
#[utoipa::path(post, path = "/api/v1/connectors/google/oauth/web/start", tag = "oauth",
    params(SourceType),
    request_body = RagflowStart,
    responses((status = 200, description = "The authorisation URL", body = Data<Initiated>)))]
async fn ragflow_start(
    State(flows): State<OAuthFlows>,
    ApiQuery(q): ApiQuery<SourceType>,
    ApiJson(body): ApiJson<RagflowStart>,
) -> Answer<Initiated> {
    let request = InitRequest {
        provider: q.kind,
        connector_id: body.connector_id,
        connector: body.connector,
        credentials: body.credentials,
    };
    Ok(Data::of(flows.init(request).await?))
}

/// RAGFlow's Google OAuth result: the flow of `type` with that id.
#[utoipa::path(post, path = "/api/v1/connectors/google/oauth/web/result", tag = "oauth",
    params(SourceType),
    request_body = RagflowResult,
    responses((status = 200, description = "The flow", body = Data<FlowResult>)))]
async fn ragflow_result(
    State(flows): State<OAuthFlows>,
    ApiQuery(q): ApiQuery<SourceType>,
    ApiJson(request): ApiJson<RagflowResult>,
) -> Answer<FlowResult> {
    match flows.result(&request.flow_id).await? {
        Some(r) if r.provider == q.kind => Ok(Data::of(r)),
        _ => Err(ApiError::not_found(format!(
            "no `{}` OAuth flow `{}`",
            q.kind, request.flow_id
        ))),
    }
}

/// The provider's redirect after the user authorised (or refused).
///
/// Public: the `state` is the credential, taken once. Answers a page that tells the opener
/// window the outcome (RAGFlow's `postMessage`), or JSON with `Accept: application/json`.
#[utoipa::path(get, path = "/api/v1/oauth/callback/{provider}", tag = "oauth", security(()),
    params(("provider" = String, Path, description = "The provider (`google-drive`, `gmail`, …)"),
           CallbackParams),
    responses(
        (status = 200, description = "The tokens are stored", content(
            (Data<FlowResult> = "application/json"), (String = "text/html"))),
        (status = 400, description = "A missing, unknown, expired or used state, or the provider's error", content(
            (ErrorBody = "application/json"), (String = "text/html"))),
        (status = 502, description = "The provider refused the code, or could not be reached", content(
            (ErrorBody = "application/json"), (String = "text/html")))))]
async fn callback(
    State(flows): State<OAuthFlows>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Response {
    let outcome = flows.callback(&provider, params).await;
    answer(&provider, &outcome, &headers)
}

/// RAGFlow's Google Drive redirect: the callback of `google-drive`.
#[utoipa::path(get, path = "/api/v1/connectors/google-drive/oauth/web/callback", tag = "oauth",
    security(()), params(CallbackParams),
    responses(
        (status = 200, description = "The tokens are stored", content(
            (Data<FlowResult> = "application/json"), (String = "text/html"))),
        (status = 400, description = "A missing, unknown, expired or used state, or the provider's error", content(
            (ErrorBody = "application/json"), (String = "text/html"))),
        (status = 502, description = "The provider refused the code, or could not be reached", content(
            (ErrorBody = "application/json"), (String = "text/html")))))]
async fn drive_callback(
    State(flows): State<OAuthFlows>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Response {
    let outcome = flows.callback("google-drive", params).await;
    answer("google-drive", &outcome, &headers)
}

/// RAGFlow's Gmail redirect: the callback of `gmail`.
#[utoipa::path(get, path = "/api/v1/connectors/gmail/oauth/web/callback", tag = "oauth",
    security(()), params(CallbackParams),
    responses(
        (status = 200, description = "The tokens are stored", content(
            (Data<FlowResult> = "application/json"), (String = "text/html"))),
        (status = 400, description = "A missing, unknown, expired or used state, or the provider's error", content(
            (ErrorBody = "application/json"), (String = "text/html"))),
        (status = 502, description = "The provider refused the code, or could not be reached", content(
            (ErrorBody = "application/json"), (String = "text/html")))))]
async fn gmail_callback(
    State(flows): State<OAuthFlows>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Response {
    let outcome = flows.callback("gmail", params).await;
    answer("gmail", &outcome, &headers)
}

/// The OpenAPI paths of the OAuth routes.
#[derive(OpenApi)]
#[openapi(
    paths(init, result, ragflow_start, ragflow_result, callback, drive_callback, gmail_callback),
    components(schemas(FlowStatus)),
    tags((name = "oauth", description = "OAuth web flows: a user authorises a connector in the browser; its tokens are stored sealed"))
)]
struct OAuthDoc;

fn answer(provider: &str, outcome: &CallbackOutcome, headers: &HeaderMap) -> Response {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::BAD_REQUEST);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return if status.is_success() {
            match &outcome.flow {
                Some(flow) => (status, Data::of(flow.clone())).into_response(),
                None => ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the flow succeeded without a record",
                )
                .into_response(),
            }
        } else {
            ApiError::new(status, outcome.code, outcome.message.clone()).into_response()
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
