//! The management HTTP API (feature `api`): the [`SyncService`] behind axum, for hosts in any
//! language.
//!
//! One router serves both reference shapes under `/api/v1/connectors` (RAGFlow's connector
//! API and the `/api/v1/connectors` API of the seed), documented in one OpenAPI 3.1 document
//! generated from the handlers (utoipa) and served at `/openapi.json`.
//!
//! - Every answer is JSON: `{"data": …}` (listings: `{"data": [...], "page", "page_size",
//!   "total"}`), or an [`ErrorBody`] `{"error": {"status", "code", "message", "problems"}}`.
//! - Every request but `GET /healthz` needs `Authorization: Bearer TOKEN` of an [`ApiKeys`]
//!   key.
//! - Credentials are write-only: configs come back with them as `"***"`.
//! - Extension points: [`Api::merge_authenticated`] and [`Api::merge_public`] add routers
//!   (OAuth flows: `init` behind the key, the provider's `callback` public), and
//!   [`Api::merge_openapi`] adds their paths to the document.

mod auth;
mod connectors;
mod error;
mod metrics;
pub mod model;
mod ragflow;
mod sync;
mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use connector_core::{Cancellation, Error, ErrorKind, Result};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

pub use auth::{ApiKeyRecord, ApiKeys, NewApiKey};
pub use error::{
    ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorDetail, OptionalJson, Problem,
};
pub use metrics::ApiMetrics;
pub use model::Data;
pub use webhooks::{SetWebhook, WebhookView};

use crate::service::SyncService;

/// A handler's answer.
pub(crate) type ApiResult<T> = std::result::Result<axum::Json<T>, ApiError>;

/// How the API behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiOptions {
    /// Largest request body in bytes (default 1 MiB); larger ones get a 413.
    pub body_limit: usize,
    /// How long a connection test may take (default 15 s).
    pub test_timeout: Duration,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            test_timeout: Duration::from_secs(15),
        }
    }
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct ApiState {
    pub(crate) service: SyncService,
    pub(crate) keys: ApiKeys,
    pub(crate) metrics: Arc<ApiMetrics>,
    pub(crate) options: ApiOptions,
}

/// The API server over a [`SyncService`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::{Cancellation, Registry};
/// use connector_sync::api::{Api, ApiMetrics};
/// use connector_sync::{ConnectorStore, DataDirSinks, DataLayout, SyncDb, SyncService};
///
/// # async fn run() -> connector_core::Result<()> {
/// let db = SyncDb::connect("sqlite:sync.db").await?;
/// let store = ConnectorStore::from_env(db, Arc::new(Registry::new()))?;
/// let metrics = Arc::new(ApiMetrics::new());
/// let service = SyncService::new(store, Arc::new(DataDirSinks::new("data", DataLayout::Ndjson)))
///     .observe(metrics.clone());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080")
///     .await
///     .map_err(|e| connector_core::Error::internal(e.to_string()))?;
/// Api::new(service).metrics(metrics).serve(listener, Cancellation::new()).await
/// # }
/// ```
pub struct Api {
    service: SyncService,
    keys: ApiKeys,
    metrics: Arc<ApiMetrics>,
    options: ApiOptions,
    authenticated: Vec<Router>,
    public: Vec<Router>,
    openapi: utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("service", &self.service)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// The API over `service`, with the API keys of its database.
    pub fn new(service: SyncService) -> Self {
        let keys = ApiKeys::new(service.db().clone());
        Self {
            service,
            keys,
            metrics: Arc::new(ApiMetrics::new()),
            options: ApiOptions::default(),
            authenticated: Vec::new(),
            public: Vec::new(),
            openapi: ApiDoc::openapi(),
        }
    }

    /// Options.
    #[must_use]
    pub fn options(mut self, options: ApiOptions) -> Self {
        self.options = options;
        self
    }

    /// The API keys (e.g. with another cache time).
    #[must_use]
    pub fn keys(mut self, keys: ApiKeys) -> Self {
        self.keys = keys;
        self
    }

    /// The metrics `/metrics` serves: give the ones registered as the service's
    /// [`JobObserver`](crate::JobObserver), so job events are counted.
    #[must_use]
    pub fn metrics(mut self, metrics: Arc<ApiMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Adds routes that need an API key (e.g. `POST /api/v1/oauth/init`). They get the
    /// same auth, body limit, error fallback and request logs as the built-in ones.
    #[must_use]
    pub fn merge_authenticated(mut self, router: Router) -> Self {
        self.authenticated.push(router);
        self
    }

    /// Adds routes that answer without an API key (e.g. an OAuth provider's redirect to
    /// `GET /api/v1/oauth/callback/{provider}`, which carries its own state parameter).
    #[must_use]
    pub fn merge_public(mut self, router: Router) -> Self {
        self.public.push(router);
        self
    }

    /// Adds paths and schemas to the OpenAPI document (for the merged routers). Their
    /// operations get the API's conventions too: the bearer key unless they say
    /// `security(())`, its 401, and the error shape as their `default` answer.
    #[must_use]
    pub fn merge_openapi(mut self, doc: utoipa::openapi::OpenApi) -> Self {
        self.openapi.merge(doc);
        utoipa::Modify::modify(&Conventions, &mut self.openapi);
        self
    }

    /// The OpenAPI document of the built-in routes.
    pub fn openapi() -> utoipa::openapi::OpenApi {
        ApiDoc::openapi()
    }

    /// The router, ready to serve.
    pub fn router(self) -> Router {
        let state = Arc::new(ApiState {
            service: self.service,
            keys: self.keys,
            metrics: self.metrics,
            options: self.options,
        });
        let openapi = Arc::new(self.openapi);
        let v1 = "/api/v1/connectors";
        let mut protected = Router::new()
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .route(
                "/openapi.json",
                get(move || {
                    let doc = openapi.clone();
                    async move { axum::Json(doc.as_ref().clone()) }
                }),
            )
            .route("/api/v1/sources", get(connectors::sources))
            .route("/api/v1/sources/{source}/schema", get(connectors::schema))
            .route(v1, get(connectors::list).post(connectors::create))
            .route(&format!("{v1}/test"), post(connectors::test_new))
            .route(
                &format!("{v1}/{{id}}"),
                get(connectors::get)
                    .patch(connectors::patch)
                    .put(connectors::put)
                    .delete(connectors::delete),
            )
            .route(
                &format!("{v1}/{{id}}/test"),
                post(connectors::test_existing),
            )
            .route(&format!("{v1}/{{id}}/logs"), get(ragflow::logs))
            .route(&format!("{v1}/{{id}}/rebuild"), post(ragflow::rebuild))
            .route(&format!("{v1}/{{id}}/prune"), post(ragflow::prune))
            .route(
                &format!("{v1}/{{id}}/resume"),
                post(ragflow::resume).put(ragflow::set_resumed),
            )
            .route(&format!("{v1}/{{id}}/pause"), post(ragflow::pause))
            .route(&format!("{v1}/{{id}}/sync"), post(sync::trigger))
            .route(&format!("{v1}/{{id}}/sync/{{jobId}}"), get(sync::status))
            .route(
                &format!("{v1}/{{id}}/sync/{{jobId}}/cancel"),
                post(sync::cancel),
            )
            .route(
                &format!("{v1}/{{id}}/rate-limit"),
                delete(sync::clear_rate_limit),
            )
            .route(
                &format!("{v1}/{{id}}/refresh-permissions"),
                post(sync::refresh_permissions),
            )
            .route(
                &format!("{v1}/{{id}}/webhook"),
                get(webhooks::get)
                    .put(webhooks::set)
                    .delete(webhooks::delete),
            )
            .route(&format!("{v1}/{{id}}/documents"), get(sync::documents))
            .route(
                &format!("{v1}/{{id}}/documents/{{documentId}}"),
                get(sync::document).delete(sync::delete_document),
            )
            .with_state(state.clone());
        for router in self.authenticated {
            protected = protected.merge(router);
        }
        let protected = protected
            .fallback(error::no_route)
            .method_not_allowed_fallback(error::wrong_method)
            .layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_key,
            ));
        let mut public = Router::new().route("/healthz", get(healthz));
        for router in self.public {
            public = public.merge(router);
        }
        public
            .merge(protected)
            .layer(middleware::from_fn_with_state(state.clone(), log_request))
            .layer(DefaultBodyLimit::max(state.options.body_limit))
    }

    /// Serves on `listener` until `stop` fires, then finishes the requests in flight.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`] when the listener fails.
    pub async fn serve(self, listener: tokio::net::TcpListener, stop: Cancellation) -> Result<()> {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(listen = %addr, "API listening");
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("the API server on {addr} failed: {e}"),
                )
            })
    }
}

/// One structured log line per request (JSON when the subscriber writes JSON): method, route
/// pattern (never the ids in it, nor the query), status, latency and the key's id.
async fn log_request(State(state): State<Arc<ApiState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let key = response
        .extensions()
        .get::<auth::KeyId>()
        .map(|k| k.0.clone())
        .unwrap_or_default();
    state.metrics.http_request(method.as_str(), &route, status);
    tracing::info!(
        target: "connector_sync::api",
        method = %method,
        route = %route,
        status,
        latency_ms = start.elapsed().as_secs_f64() * 1000.0,
        key = %key,
        "request"
    );
    response
}

/// Liveness.
///
/// Answers without an API key while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "Alive", body = model::Health)))]
async fn healthz() -> axum::Json<model::Health> {
    axum::Json(model::Health {
        status: "ok".to_owned(),
        database: None,
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = model::Health),
              (status = 503, description = "The database does not answer", body = ErrorBody)))]
async fn readyz(State(state): State<Arc<ApiState>>) -> Response {
    let db = state.service.db();
    match db.ping().await {
        Ok(()) => axum::Json(model::Health {
            status: "ok".to_owned(),
            // The backend's kind, not where it is: any API key holder reads this (review68
            // L5); the log names the location at start.
            database: Some(
                if db.is_postgres() {
                    "postgres"
                } else {
                    "sqlite"
                }
                .to_owned(),
            ),
        })
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Prometheus metrics, in the text exposition format.
///
/// Jobs by status (from the database), job events, durations and documents by outcome (this
/// process's workers), the connectors' requests, retries and rate-limit waits, API answers.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The metrics", content_type = "text/plain", body = String)))]
async fn metrics_text(State(state): State<Arc<ApiState>>) -> Response {
    match state.service.job_counts().await {
        Ok(counts) => state.metrics.set_jobs(&counts),
        Err(e) => return ApiError::from(e).into_response(),
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The OpenAPI document of the built-in routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "connectors management API",
        description = "Connectors, syncs, jobs and documents of a connectors sync engine. Accepts both RAGFlow's connector API and the `/api/v1/connectors` shape. Every answer but `/metrics` is JSON: `{\"data\": …}` or `{\"error\": {\"status\", \"code\", \"message\", \"problems\"}}`. Credentials are write-only (shown as `***`)."
    ),
    paths(
        healthz, readyz, metrics_text,
        connectors::sources, connectors::schema,
        connectors::list, connectors::create, connectors::get, connectors::patch, connectors::put,
        connectors::delete, connectors::test_new, connectors::test_existing,
        ragflow::logs, ragflow::rebuild, ragflow::prune, ragflow::set_resumed, ragflow::resume,
        ragflow::pause,
        sync::trigger, sync::status, sync::cancel, sync::clear_rate_limit,
        sync::refresh_permissions, sync::documents,
        sync::document, sync::delete_document,
        webhooks::set, webhooks::get, webhooks::delete,
    ),
    components(schemas(ErrorBody, ErrorDetail, Problem)),
    modifiers(&Conventions),
    tags(
        (name = "connectors", description = "Connector records, both shapes"),
        (name = "ragflow", description = "RAGFlow's logs, rebuild, pause/resume"),
        (name = "sync", description = "The /api/v1/connectors shape's syncs and job status"),
        (name = "documents", description = "A connector's documents"),
        (name = "webhooks", description = "A connector's job event webhook (signed job started / finished / failed events)"),
        (name = "sources", description = "The sources compiled in"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

/// Adds the bearer scheme (required everywhere but where an operation says `security(())`),
/// and the error shape as every operation's `default` answer plus its 401.
struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
        let error = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let public = op.security.as_ref().is_some_and(|s| {
                    s.iter().all(|r| {
                        serde_json::to_value(r)
                            .is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
                    })
                });
                if !public {
                    op.responses
                        .responses
                        .entry("401".to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description("No API key, or not a valid one")
                                .content("application/json", error())
                                .build()
                                .into()
                        });
                }
                op.responses.responses.entry("default".to_owned()).or_insert_with(|| {
                    ResponseBuilder::new()
                        .description("Any error: bad JSON, a wrong type, an unknown field or an invalid config (400, with every problem by field path), an unknown id (404), an oversized body (413), a body that is not JSON (415), an impossible request (422), the database unreachable (503)")
                        .content("application/json", error())
                        .build()
                        .into()
                });
            }
        }
    }
}
