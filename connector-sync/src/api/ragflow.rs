//! RAGFlow's connector operations: the sync logs with `page`/`page_size`, rebuild,
//! pause/resume (RAGFlow's `PUT /connectors/{id}/resume {resume}`), and a prune now.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;

use super::connectors::existing;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, OptionalJson};
use super::model::{
    ConnectorView, Data, JobView, Page, PageQuery, Queued, RebuildRequest, ResumeRequest,
};
use super::{ApiResult, ApiState};

/// A connector's sync logs: its jobs, newest first.
///
/// Each entry is a job with its status, counters, progress, window and error (RAGFlow's
/// `sync_logs`).
#[utoipa::path(get, path = "/api/v1/connectors/{id}/logs", tag = "ragflow",
    params(("id" = String, Path, description = "The connector's id"), PageQuery),
    responses((status = 200, description = "A page of jobs", body = Page<JobView>)))]
pub(crate) async fn logs(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Page<JobView>> {
    let (page, page_size, offset) = query.resolve()?;
    existing(&state, &id).await?;
    let (jobs, total) = state.service.jobs_page(&id, offset, page_size).await?;
    Ok(axum::Json(Page {
        data: jobs.into_iter().map(JobView::from).collect(),
        page,
        page_size,
        total,
    }))
}

/// Rebuild a connector.
///
/// Forgets what it synced (checkpoints, document states, failures; the logs stay), cancels
/// its pending jobs and queues a full sync, in one transaction. The sink is not cleared: the
/// full run delivers every document again. `kb_id` is accepted for RAGFlow clients.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/rebuild", tag = "ragflow",
    params(("id" = String, Path, description = "The connector's id")),
    request_body(content = Option<RebuildRequest>, description = "Optional"),
    responses((status = 202, description = "Queued", body = Data<Queued>)))]
pub(crate) async fn rebuild(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    OptionalJson(_body): OptionalJson<RebuildRequest>,
) -> Result<(StatusCode, axum::Json<Data<Queued>>), ApiError> {
    let jobs = state.service.rebuild(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Data::of(Queued {
            job_ids: jobs.into_iter().map(|t| t.job_id).collect(),
        }),
    ))
}

/// Queue a prune now.
///
/// Deletes (through the sink) the documents the source no longer lists.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/prune", tag = "ragflow",
    params(("id" = String, Path, description = "The connector's id")),
    responses((status = 202, description = "Queued", body = Data<Queued>)))]
pub(crate) async fn prune(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, axum::Json<Data<Queued>>), ApiError> {
    let job = state.service.trigger_prune(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Data::of(Queued {
            job_ids: vec![job.job_id],
        }),
    ))
}

/// Pause or resume a connector (RAGFlow's shape).
///
/// `{"resume": true}` resumes its schedule and queued jobs, `false` pauses them (a running
/// job finishes).
#[utoipa::path(put, path = "/api/v1/connectors/{id}/resume", tag = "ragflow",
    params(("id" = String, Path, description = "The connector's id")),
    request_body = ResumeRequest,
    responses((status = 200, description = "The connector", body = Data<ConnectorView>)))]
pub(crate) async fn set_resumed(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResumeRequest>,
) -> ApiResult<Data<ConnectorView>> {
    let record = if body.resume {
        state.service.resume(&id).await?
    } else {
        state.service.pause(&id).await?
    };
    Ok(Data::of(record.into()))
}

/// Resume a connector.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/resume", tag = "ragflow",
    params(("id" = String, Path, description = "The connector's id")),
    responses((status = 200, description = "The connector", body = Data<ConnectorView>)))]
pub(crate) async fn resume(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Data<ConnectorView>> {
    Ok(Data::of(state.service.resume(&id).await?.into()))
}

/// Pause a connector.
///
/// Nothing is scheduled for it and its queued jobs wait; a running job finishes.
#[utoipa::path(post, path = "/api/v1/connectors/{id}/pause", tag = "ragflow",
    params(("id" = String, Path, description = "The connector's id")),
    responses((status = 200, description = "The connector", body = Data<ConnectorView>)))]
pub(crate) async fn pause(
    State(state): State<Arc<ApiState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Data<ConnectorView>> {
    Ok(Data::of(state.service.pause(&id).await?.into()))
}
