//! The HTTP routes of the job event webhooks (feature `api`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use connector_core::Secret;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::EventWebhook;
use crate::connectors::ConnectorStore;
use crate::json_error::JsonError;

/// The body of `PUT /api/v1/connectors/{id}/webhook`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetWebhook {
    url: Url,
    #[serde(default)]
    secret: Option<Secret>,
}

/// The routes that set, show and remove a connector's job event webhook, for the management
/// API to merge behind its API keys:
///
/// - `PUT /api/v1/connectors/{id}/webhook` `{"url": "https://…", "secret": "…"}` (`secret`
///   optional: a new one is generated and shown in this answer only) → `{"data": {"connector_id",
///   "url", "secret", "created_at", "updated_at"}}`; a secret the caller gave is shown as
///   `"***"`.
/// - `GET /api/v1/connectors/{id}/webhook` → the same, the secret as `"***"`; 404 when none.
/// - `DELETE /api/v1/connectors/{id}/webhook` → 204; 404 when none.
///
/// Errors answer `{"error": {"status", "code", "message", "problems"}}`.
pub fn router(store: ConnectorStore) -> Router {
    Router::new()
        .route(
            "/api/v1/connectors/{id}/webhook",
            put(set_webhook).get(get_webhook).delete(delete_webhook),
        )
        .with_state(store)
}

fn shown(id: &str, hook: &EventWebhook, secret: Option<&Secret>) -> Response {
    let secret = secret.map_or("***", Secret::expose);
    Json(json!({ "data": {
        "connector_id": id,
        "url": hook.url.as_str(),
        "secret": secret,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    }}))
    .into_response()
}

async fn set_webhook(
    State(store): State<ConnectorStore>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, JsonError> {
    let request: SetWebhook = serde_json::from_slice(&body).map_err(|e| JsonError::bad_body(&e))?;
    let generated = request.secret.is_none();
    let hook = store
        .set_event_webhook(&id, request.url, request.secret)
        .await?;
    Ok(shown(&id, &hook, generated.then_some(&hook.secret)))
}

async fn get_webhook(
    State(store): State<ConnectorStore>,
    Path(id): Path<String>,
) -> Result<Response, JsonError> {
    match store.event_webhook(&id).await? {
        Some(hook) => Ok(shown(&id, &hook, None)),
        None => Err(no_webhook(&id)),
    }
}

async fn delete_webhook(
    State(store): State<ConnectorStore>,
    Path(id): Path<String>,
) -> Result<Response, JsonError> {
    if store.delete_event_webhook(&id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(no_webhook(&id))
    }
}

fn no_webhook(id: &str) -> JsonError {
    JsonError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("connector `{id}` has no job event webhook"),
    )
}
