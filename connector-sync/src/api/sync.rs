//! The `/api/v1/connectors` shape's sync operations: trigger a sync, its status with
//! progress, cancel it, refresh permissions, and the documents of a connector.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use super::connectors::existing;
use super::error::{ApiError, ApiPath, ApiQuery, OptionalJson};
use super::model::{
    Cancelled, Data, Deleted, DocumentPage, DocumentQuery, DocumentView, JobState, JobView,
    MAX_PAGE_SIZE, Queued, RateLimitLifted, SyncModeParam, SyncRequest, SyncStarted,
};
use super::{ApiResult, ApiState};
use crate::service::{Trigger, TriggerMode};

/// Start a sync.
///
/// `sync_mode`: `auto` (default; with `file_filter`, those items are fetched again in an
/// incremental run), `full` (everything, bodies included; `file_filter` ignored) or
/// `incremental` (what changed, and the `file_filter` items first). `force_full_sync: true`
/// is `full` (deprecated). One job per partition of the connector; when a sync is already
/// queued or running, that job comes back with `created: false`.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/sync", tag = "sync",
    params(("id" = String, Path, description = "The connector's id")),
    request_body(content = Option<SyncRequest>, description = "Optional"),
    responses((status = 202, description = "Queued", body = Data<SyncStarted>)))]
pub(crate) async fn trigger(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    OptionalJson(body): OptionalJson<SyncRequest>,
) -> Result<(StatusCode, axum::Json<Data<SyncStarted>>), ApiError> {
    let mut mode = body.sync_mode.unwrap_or_default();
    if body.force_full_sync == Some(true) {
        if matches!(body.sync_mode, Some(SyncModeParam::Incremental)) {
            return Err(ApiError::invalid(
                "force_full_sync",
                "force_full_sync asks for a full sync, sync_mode for an incremental one",
            ));
        }
        mode = SyncModeParam::Full;
    }
    let ids = body.file_filter.filter(|ids| !ids.is_empty());
    let trigger = match (mode, ids) {
        (SyncModeParam::Full, _) => Trigger::new(TriggerMode::Full),
        (SyncModeParam::Auto | SyncModeParam::Incremental, Some(ids)) => Trigger::refetch(ids),
        (SyncModeParam::Incremental, None) => Trigger::new(TriggerMode::Incremental),
        (SyncModeParam::Auto, None) => Trigger::new(TriggerMode::Auto),
    };
    let triggered = state.service.trigger(&id, trigger).await.map_err(|e| {
        let field = e.field().is_some_and(|f| f == "ids");
        let err = ApiError::from(e);
        if field {
            let message = err.message().to_owned();
            err.with_problems(vec![super::error::Problem {
                field: "file_filter".to_owned(),
                message,
            }])
        } else {
            err
        }
    })?;
    let Some(first) = triggered.first() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "no job was queued",
        ));
    };
    let job = state
        .service
        .job_stored(first.job_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {} is gone", first.job_id)))?;
    Ok((
        StatusCode::ACCEPTED,
        Data::of(SyncStarted {
            job_id: first.job_id,
            job_ids: triggered.iter().map(|t| t.job_id).collect(),
            status: if first.created {
                JobState::Queued
            } else {
                job.status.into()
            },
            created: first.created,
            started_at: job.created_at,
        }),
    ))
}

/// The job `job_id` of connector `id`, or a 404.
async fn job_of(state: &ApiState, id: &str, job_id: i64) -> Result<JobView, ApiError> {
    match state.service.job(job_id).await? {
        Some(job) if job.connector_id == id => Ok(job.into()),
        _ => {
            existing(state, id).await?;
            Err(ApiError::not_found(format!(
                "connector `{id}` has no job {job_id}"
            )))
        }
    }
}

/// A sync's status and progress.
///
/// `progress` maps the engine's counters: `collected` = new + updated + unchanged + failed
/// items, `parsed` = collected − failed, `indexed` = new + updated documents acknowledged by
/// the sink. A queued job says why it waits in `waitReason`.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/sync/{jobId}", tag = "sync",
    params(("id" = String, Path, description = "The connector's id"),
           ("jobId" = i64, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = Data<JobView>)))]
pub(crate) async fn status(
    State(state): State<Arc<ApiState>>,
    ApiPath((id, job_id)): ApiPath<(String, i64)>,
) -> ApiResult<Data<JobView>> {
    Ok(Data::of(job_of(&state, &id, job_id).await?))
}

/// Cancel a queued or running sync.
///
/// A running job stops between two sink writes; `cancelled: false` when it was already over.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/sync/{jobId}/cancel", tag = "sync",
    params(("id" = String, Path, description = "The connector's id"),
           ("jobId" = i64, Path, description = "The job's id")),
    responses((status = 200, description = "Whether it was cancelled", body = Data<Cancelled>)))]
pub(crate) async fn cancel(
    State(state): State<Arc<ApiState>>,
    ApiPath((id, job_id)): ApiPath<(String, i64)>,
) -> ApiResult<Data<Cancelled>> {
    job_of(&state, &id, job_id).await?;
    let cancelled = state.service.cancel(job_id).await?;
    Ok(Data::of(Cancelled { cancelled }))
}

/// Lift a connector's rate-limit hold.
///
/// When a service answered 429 (or a quota error), the connector's jobs wait until the time
/// it asked for (`waitReason` "rate-limited until T", up to a day by default). Once the limit
/// is known to be gone (a quota raised), this lifts the hold: its queued jobs, those a rate
/// limit put back to retry included, run at a worker's next poll. `held: false` when nothing
/// held it. The per-credential shared rate limits are not touched.
#[utoipa::path(delete, path = "/api/v1/connectors/{id}/rate-limit", tag = "sync",
    params(("id" = String, Path, description = "The connector's id")),
    responses((status = 200, description = "Whether it was held", body = Data<RateLimitLifted>)))]
pub(crate) async fn clear_rate_limit(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Data<RateLimitLifted>> {
    let held = state.service.clear_rate_limit(&id).await?;
    tracing::info!(connector = %id, held, "rate-limit hold lifted over the API");
    Ok(Data::of(RateLimitLifted { held }))
}

/// Re-read the documents' permissions.
///
/// Queues a full sync: every document is fetched and delivered again (a full run skips no
/// body), carrying the `access` (emails, groups, public) its source reports now. Sources
/// whose documents carry no `access` just deliver their documents again.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/refresh-permissions", tag = "sync",
    params(("id" = String, Path, description = "The connector's id")),
    responses((status = 202, description = "Queued", body = Data<Queued>)))]
pub(crate) async fn refresh_permissions(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, axum::Json<Data<Queued>>), ApiError> {
    let jobs = state
        .service
        .trigger(&id, Trigger::new(TriggerMode::Full))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Data::of(Queued {
            job_ids: jobs.into_iter().map(|t| t.job_id).collect(),
        }),
    ))
}

/// List a connector's documents.
///
/// The documents the sink acknowledged, by id, `limit` at a time after `after`.
#[utoipa::path(get, path = "/api/v1/connectors/{id}/documents", tag = "documents",
    params(("id" = String, Path, description = "The connector's id"), DocumentQuery),
    responses((status = 200, description = "A page of documents", body = DocumentPage)))]
pub(crate) async fn documents(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DocumentQuery>,
) -> ApiResult<DocumentPage> {
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "limit",
            format!("limit is 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    existing(&state, &id).await?;
    let size = usize::try_from(limit).unwrap_or(100);
    let docs = state
        .service
        .documents(&id, query.after.as_deref(), size)
        .await?;
    let total = state.service.document_count(&id).await?;
    let next_after = (docs.len() == size)
        .then(|| docs.last().map(|d| d.id.clone()))
        .flatten();
    Ok(axum::Json(DocumentPage {
        data: docs.into_iter().map(DocumentView::from).collect(),
        total,
        next_after,
    }))
}

/// Get one document of a connector.
///
/// Percent-encode the document id (ids are often URLs or paths).
#[utoipa::path(get, path = "/api/v1/connectors/{id}/documents/{documentId}", tag = "documents",
    params(("id" = String, Path, description = "The connector's id"),
           ("documentId" = String, Path, description = "The document's id, percent-encoded")),
    responses((status = 200, description = "The document", body = Data<DocumentView>)))]
pub(crate) async fn document(
    State(state): State<Arc<ApiState>>,
    ApiPath((id, doc_id)): ApiPath<(String, String)>,
) -> ApiResult<Data<DocumentView>> {
    existing(&state, &id).await?;
    match state.service.document(&id, &doc_id).await? {
        Some(doc) => Ok(Data::of(doc.into())),
        None => Err(ApiError::not_found(format!(
            "connector `{id}` has no document `{doc_id}`"
        ))),
    }
}

/// Delete one document of a connector.
///
/// Deletes it through the connector's sink, then forgets it (its fingerprint and any failure
/// kept for it): if the source still has it, the next sync delivers it again as new.
#[utoipa::path(delete, path = "/api/v1/connectors/{id}/documents/{documentId}", tag = "documents",
    params(("id" = String, Path, description = "The connector's id"),
           ("documentId" = String, Path, description = "The document's id, percent-encoded")),
    responses((status = 200, description = "Deleted", body = Data<Deleted>)))]
pub(crate) async fn delete_document(
    State(state): State<Arc<ApiState>>,
    ApiPath((id, doc_id)): ApiPath<(String, String)>,
) -> ApiResult<Data<Deleted>> {
    if state.service.delete_document(&id, &doc_id).await? {
        Ok(Data::of(Deleted { deleted: true }))
    } else {
        Err(ApiError::not_found(format!(
            "connector `{id}` has no document `{doc_id}`"
        )))
    }
}
