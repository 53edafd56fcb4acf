//! Requests: URL and parameters, auth, pagination parameters ([`endpoint`], resolved once
//! from the config), and one page fetched ([`fetch`]).

mod endpoint;
mod fetch;

use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::http::{HttpClient, RequestBuilder};
use connector_core::{Error, ErrorKind, Result, Secret, SyncContext};
use serde_json::{Map, Value};
use url::Url;

use super::SOURCE;
use super::checkpoint::{At, Position};
use super::config::{HttpMethod, RestApiConfig, SinceFormat, is_secret_header};
use super::direct::Plan;
use super::model::{text_of, whole_failed};

use endpoint::with_secret_params;
pub(crate) use endpoint::{Endpoint, is_credential_param};

/// The HTTP client and the endpoint; cheap to clone into a stream.
#[derive(Debug, Clone)]
pub(crate) struct RestClient {
    pub(crate) endpoint: std::sync::Arc<Endpoint>,
    http: HttpClient,
    /// The mapping's plan, when it has one: a cursor or link walk's pages are read by it in
    /// the fetch's pass ([`keep`](super::raw_page::keep)), once.
    plan: Option<std::sync::Arc<Plan>>,
}

impl RestClient {
    pub(crate) fn new(cfg: RestApiConfig) -> Result<Self> {
        let mut endpoint = Endpoint::new(cfg)?;
        let (auth, field) = endpoint.auth();
        endpoint.credential_field = field;
        let mut builder = HttpClient::builder(SOURCE).network_policy(
            endpoint
                .cfg
                .network_policy()
                .map_err(|e| e.with_connector(SOURCE))?,
        );
        if let Some(field) = field {
            builder = builder.auth(auth, field);
        }
        if let Some(n) = endpoint.cfg.max_retries {
            builder = builder.max_retries(n);
        }
        if let Some(secs) = endpoint.cfg.timeout_secs {
            builder = builder.timeout(Duration::from_secs(secs.max(1)));
        }
        // A 429 or 503 whose headers name no wait waits as its body says, where the whole
        // answer is a sub-response that does (Google's unary `RetryInfo`, Infura's
        // `backoff_seconds`), as at HTTP 200 (review69 L2).
        builder = builder.retry_hint(|_, body| {
            let body: Value = serde_json::from_slice(body).ok()?;
            whole_failed(&body)?.retry_after
        });
        Ok(Self {
            endpoint: std::sync::Arc::new(endpoint),
            http: builder.build()?,
            plan: None,
        })
    }

    /// This client reading pages with `plan`, the mapping's ([`keep`](super::raw_page::keep)).
    pub(crate) fn with_plan(mut self, plan: Option<std::sync::Arc<Plan>>) -> Self {
        self.plan = plan;
        self
    }

    /// This client counting into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            endpoint: self.endpoint.clone(),
            http: self.http.with_context(ctx),
            plan: self.plan.clone(),
        }
    }

    fn request(&self, pos: &Position, since: Option<DateTime<Utc>>) -> Result<RequestBuilder> {
        let e = &*self.endpoint;
        let cfg = &e.cfg;
        let pc = &cfg.pagination_config;
        let post = cfg.method == HttpMethod::POST;
        // Pagination parameters, with numbers kept as numbers for a JSON body.
        let mut paging: Vec<(String, Value)> = Vec::new();
        let url = match &pos.at {
            At::Url { url } => {
                let next = Url::parse(url).map_err(|err| {
                    Error::checkpoint(format!("stored next-page URL is invalid: {err}"))
                })?;
                if next.origin() != e.base.origin() {
                    return Err(Error::invalid_data("the next-page URL leaves the configured origin; refusing to send credentials there")
                        .with_url(&next)
                        .with_connector(SOURCE));
                }
                with_secret_params(next, &e.secret_params)
            }
            at => {
                match at {
                    At::Page { page } => {
                        paging.push((pc.page_param.clone(), Value::from(*page)));
                        if let (Some(p), Some(n)) = (&pc.page_size_param, e.page_size) {
                            paging.push((p.clone(), Value::from(n)));
                        }
                    }
                    At::Offset { offset } => {
                        paging.push((pc.offset_param.clone(), Value::from(*offset)));
                        if let (Some(p), Some(n)) = (&pc.limit_param, e.page_size) {
                            paging.push((p.clone(), Value::from(n)));
                        }
                    }
                    At::Cursor { cursor: Some(c) } => {
                        paging.push((pc.cursor_param.clone(), Value::from(c.clone())));
                    }
                    _ => {}
                }
                e.base.clone()
            }
        };
        let mut query: Vec<(String, String)> = if matches!(pos.at, At::Url { .. }) {
            Vec::new()
        } else {
            e.params.clone()
        };
        let mut body_extra: Vec<(String, Value)> = Vec::new();
        if post && pc.params_in_body {
            body_extra.extend(paging);
        } else {
            merge(
                &mut query,
                paging.into_iter().map(|(k, v)| (k, text_of(&v))),
            );
        }
        if let (Some(since_cfg), Some(at)) = (&cfg.since, since) {
            let v = match since_cfg.format {
                SinceFormat::Rfc3339 => {
                    Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                }
                SinceFormat::EpochSeconds => Value::from(at.timestamp()),
                SinceFormat::EpochMillis => Value::from(at.timestamp_millis()),
                SinceFormat::Date => Value::from(at.format("%Y-%m-%d").to_string()),
            };
            if post && since_cfg.in_body {
                body_extra.push((since_cfg.param.clone(), v));
            } else if matches!(pos.at, At::Url { .. }) {
                // A next link usually repeats the filter; add it only when it does not.
                if !url
                    .query_pairs()
                    .any(|(k, _)| k == since_cfg.param.as_str())
                {
                    query.push((since_cfg.param.clone(), text_of(&v)));
                }
            } else {
                merge(&mut query, [(since_cfg.param.clone(), text_of(&v))]);
            }
        }
        let method = if post {
            connector_core::http::Method::POST
        } else {
            connector_core::http::Method::GET
        };
        // A listing only reads, so a POST search is safe to retry.
        let mut req = self
            .http
            .request(method, url)
            .query(query)
            .idempotent(true)
            .header("Accept", "application/json");
        for (k, v) in &e.headers {
            req = if is_secret_header(k) {
                req.secret_header(k, &Secret::new(v.clone()))
            } else {
                req.header(k, v)
            };
        }
        if post {
            let mut body = cfg
                .body()
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            if let Value::Object(map) = &mut body {
                for (k, v) in body_extra {
                    map.insert(k, v);
                }
            }
            req = req.json(&body);
        }
        Ok(req)
    }

    /// Fetches the first page, its errors put in terms of the config (the connector's
    /// `check` documents which). A first page that passes beside gone sub-responses (404,
    /// 410) fails the check, naming them: a sync passes it, but Test Connection is run when a
    /// typo in one request is made (review69 M1).
    pub(crate) async fn check(&self) -> Result<()> {
        let mut gone = Vec::new();
        let Err(e) = self
            .fetch_noting(self.endpoint.start(), None, &mut gone)
            .await
        else {
            if gone.is_empty() {
                return Ok(());
            }
            let gone = fetch::gone_list(&gone.iter().collect::<Vec<_>>());
            let passed = fetch::GONE_PASSED;
            // The request named what is gone. A field also keeps the API from guessing one
            // from the text (review71 M1).
            let field = self.gone_field();
            return Err(Error::new(
                ErrorKind::Config,
                format!("the first page's {passed}: {gone}"),
            )
            .with_field(field)
            .with_connector(SOURCE));
        };
        Err(match e.kind() {
            ErrorKind::NotFound => Error::new(
                ErrorKind::Config,
                format!("the endpoint was not found: {}", e.message()),
            )
            .with_field("url")
            .with_connector(SOURCE)
            .with_cause(e),
            ErrorKind::InvalidData => {
                let field = e.field().unwrap_or("url").to_owned();
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "the endpoint's answer does not fit the config: {}",
                        e.message()
                    ),
                )
                .with_field(field)
                .with_connector(SOURCE)
                .with_cause(e)
            }
            _ => e,
        })
    }

    /// The setting that names the requests of a batch whose sub-responses are gone, for Test
    /// Connection's error (review72 L1): a POST's body, where it sends one (a Graph `$batch`'s
    /// `requests`), in `request_body` or else `pagination_config.request_body` (`cfg.body`'s
    /// order); else the request's query, in `query_params` where the URL has no query of its
    /// own (Google People's `resourceNames`), else `url` (a GET never sends a
    /// `request_body` left from a POST, so that is not it).
    fn gone_field(&self) -> &'static str {
        let cfg = &self.endpoint.cfg;
        if cfg.method == HttpMethod::POST && cfg.body().is_some() {
            if cfg.request_body.is_some() {
                "request_body"
            } else {
                "pagination_config.request_body"
            }
        } else if cfg.url.query().is_none() && cfg.query_params.pairs().is_ok_and(|p| !p.is_empty())
        {
            "query_params"
        } else {
            "url"
        }
    }

    /// The error of a 4xx answer other than 400/404 to a later page (those the client hands
    /// back, see [`fetch_page`](Self::fetch_page)), as the HTTP layer reports it on a first page.
    fn client_error(&self, code: u16, url: &Url) -> Error {
        let credential = |kind: ErrorKind, what: &str| {
            let msg = format!("the service {what} (HTTP {code})");
            match self.endpoint.credential_field {
                Some(field) => {
                    Error::new(kind, format!("{msg}; check `{field}`")).with_field(field)
                }
                None => Error::new(kind, msg),
            }
        };
        let err = match code {
            401 => credential(ErrorKind::Unauthenticated, "rejected the credentials"),
            403 => credential(
                ErrorKind::PermissionDenied,
                "refused access with these credentials",
            ),
            410 => Error::new(ErrorKind::NotFound, format!("HTTP {code}: not found")),
            _ => Error::new(ErrorKind::InvalidData, format!("HTTP {code}")).with_retryable(false),
        };
        err.with_url(url).with_connector(SOURCE)
    }
}

fn merge(query: &mut Vec<(String, String)>, extra: impl IntoIterator<Item = (String, String)>) {
    for (k, v) in extra {
        match query.iter_mut().find(|(qk, _)| *qk == k) {
            Some(slot) => slot.1 = v,
            None => query.push((k, v)),
        }
    }
}
