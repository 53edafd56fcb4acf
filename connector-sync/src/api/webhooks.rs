//! A connector's job event webhook: `PUT`, `GET` and `DELETE /api/v1/connectors/{id}/webhook`
//! (see [`events`](crate::events)).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use connector_core::{Error, ErrorKind, Secret};
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;

use super::model::Data;
use super::{ApiError, ApiJson, ApiPath, ApiResult, ApiState, Problem};
use crate::events::EventWebhook;

/// The body of `PUT /api/v1/connectors/{id}/webhook`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// Where the connector's job events are POSTed (`http` or `https`, no password).
    #[schema(value_type = String)]
    pub url: Url,
    /// The signing secret; omitted, a new one is generated and shown in this answer only.
    #[serde(default)]
    #[schema(value_type = Option<String>, write_only)]
    pub secret: Option<Secret>,
}

/// A connector's job event webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// The connector.
    pub connector_id: String,
    /// Where its job events go.
    pub url: String,
    /// The signing secret: shown once when the server generated it, `***` otherwise.
    pub secret: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

fn view(id: &str, hook: &EventWebhook, show_secret: bool) -> WebhookView {
    WebhookView {
        connector_id: id.to_owned(),
        url: hook.url.as_str().to_owned(),
        secret: if show_secret {
            hook.secret.expose().to_owned()
        } else {
            "***".to_owned()
        },
        created_at: hook.created_at,
        updated_at: hook.updated_at,
    }
}

/// A refused `url` or `secret` named as the body's field (not as a connector config's).
fn request_problems(e: Error) -> ApiError {
    if e.kind() != ErrorKind::Config || e.problems().is_empty() {
        return e.into();
    }
    let problems = e
        .problems()
        .iter()
        .map(|p| Problem {
            field: p.path.clone(),
            message: p.message.clone(),
        })
        .collect();
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()).with_problems(problems)
}

fn no_webhook(id: &str) -> ApiError {
    ApiError::not_found(format!("connector `{id}` has no job event webhook"))
}

/// Set a connector's job event webhook.
///
/// Its jobs' `started`, `finished` and `failed` events are POSTed to `url`, signed
/// `X-Connectors-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the secret. A
/// secret the caller gives is never shown back; one the server generates is shown in this
/// answer only.
#[utoipa::path(put, path = "/api/v1/connectors/{id}/webhook", tag = "webhooks",
    params(("id" = String, Path, description = "The connector's id")),
    request_body = SetWebhook,
    responses((status = 200, description = "The webhook", body = Data<WebhookView>)))]
pub(crate) async fn set(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SetWebhook>,
) -> ApiResult<Data<WebhookView>> {
    let generated = body.secret.is_none();
    let hook = state
        .service
        .store()
        .set_event_webhook(&id, body.url, body.secret)
        .await
        .map_err(request_problems)?;
    Ok(Data::of(view(&id, &hook, generated)))
}

/// A connector's job event webhook (its secret as `***`).
#[utoipa::path(get, path = "/api/v1/connectors/{id}/webhook", tag = "webhooks",
    params(("id" = String, Path, description = "The connector's id")),
    responses((status = 200, description = "The webhook", body = Data<WebhookView>)))]
pub(crate) async fn get(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Data<WebhookView>> {
    match state.service.store().event_webhook(&id).await? {
        Some(hook) => Ok(Data::of(view(&id, &hook, false))),
        None => Err(no_webhook(&id)),
    }
}

/// Remove a connector's job event webhook: its events are no longer sent.
#[utoipa::path(delete, path = "/api/v1/connectors/{id}/webhook", tag = "webhooks",
    params(("id" = String, Path, description = "The connector's id")),
    responses((status = 204, description = "Removed")))]
pub(crate) async fn delete(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.service.store().delete_event_webhook(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_webhook(&id))
    }
}
