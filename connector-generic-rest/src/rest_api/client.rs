//! Requests: URL and parameters, auth, pagination parameters, and one page fetched.

use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::http::{Auth, HttpClient, Page, RequestBuilder};
use connector_core::ids::{hash128, hash128_bytes};
use connector_core::{Error, ErrorKind, Result, Secret, SyncContext};
use serde_json::{Map, Value};
use url::Url;

use super::SOURCE;
use super::auth::AuthType;
use super::checkpoint::{At, Position};
use super::config::{HttpMethod, PaginationType, RestApiConfig, SinceFormat, is_secret_header};
use super::direct::{Field, Item, Plan};
use super::lenient::{Held, Lenient};
use super::model::{BodyPath, FieldPath, Items, ItemsPath, find_items, text_of, text_ref};
use super::node::{Json, Node};
use super::raw_page::{
    OnItem, PageItems, Unread, keep, locate, may_reach, read_alone_by, simple_names,
};

/// The size asked for when the config names a size parameter but no size.
const DEFAULT_PAGE_SIZE: u64 = 100;

/// What a request needs, resolved once from the config.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) cfg: RestApiConfig,
    base: Url,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    items_path: Option<ItemsPath>,
    /// The names of `items_path` when pages can be read without a DOM of their items
    /// ([`raw_page`](super::raw_page)).
    plain_items: Option<std::sync::Arc<[String]>>,
    /// Where the next cursor is in a response (cursor pagination).
    next_cursor: Option<BodyPath>,
    /// Where the next page's URL is in a response (`next_url_path` pagination).
    next_url: Option<BodyPath>,
    page_size: Option<u64>,
    /// `id_field`, for the repeated-page guard.
    id_path: Option<FieldPath>,
    /// How to read `id_field` alone, when its path allows it: the id of an item that cannot
    /// be read whole, for the repeated-page guard ([`RestClient::unread_id`]).
    id_alone: Option<(Plan, Field)>,
    /// The config field named when a later page answers 401/403.
    credential_field: Option<&'static str>,
    /// Query parameters that carry a credential (`api_key`, `token`, ...), as secrets: the
    /// redactor removes them from errors, logs and stored next-page URLs, and a next-page URL
    /// gets their real value back before it is sent.
    secret_params: Vec<(String, connector_core::Secret)>,
}

/// Whether a query parameter's name says it carries a credential.
pub(crate) fn is_credential_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "signature",
        "sig",
        "auth",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// The HTTP client and the endpoint; cheap to clone into a stream.
#[derive(Debug, Clone)]
pub(crate) struct RestClient {
    pub(crate) endpoint: std::sync::Arc<Endpoint>,
    http: HttpClient,
    /// The mapping's plan, when it has one: a cursor or link walk's pages are read by it in
    /// the fetch's pass ([`keep`]), once.
    plan: Option<std::sync::Arc<Plan>>,
}

/// What a response says about the pages left, where it says anything: a top-level `has_more`,
/// `total_pages` or `total` in the body, or the `X-WP-TotalPages`, `X-WP-Total` (WordPress) and
/// `X-Total-Count` (JSON Server, many Rails and Node APIs) headers.
#[derive(Debug, Default)]
struct Totals {
    has_more: Option<bool>,
    total_pages: Option<u64>,
    total: Option<u64>,
}

impl Totals {
    /// The body's names [`Totals::read`] reads.
    const NAMES: [&str; 5] = ["has_more", "hasMore", "total_pages", "totalPages", "total"];

    fn read(body: &Value, header: impl Fn(&str) -> Option<u64>) -> Self {
        let field = |names: &[&str]| names.iter().find_map(|n| body.get(*n));
        let number = |v: &Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        };
        Self {
            has_more: field(&["has_more", "hasMore"]).and_then(Value::as_bool),
            total_pages: header("x-wp-totalpages")
                .or_else(|| field(&["total_pages", "totalPages"]).and_then(number)),
            total: header("x-wp-total")
                .or_else(|| header("x-total-count"))
                .or_else(|| field(&["total"]).and_then(number)),
        }
    }
}

/// `url` with each credential parameter it names set to its real value: a stored next-page
/// URL holds `***` there (checkpoints are stored without secrets).
fn with_secret_params(mut url: Url, secrets: &[(String, connector_core::Secret)]) -> Url {
    if secrets.is_empty() || url.query().is_none() {
        return url;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = secrets
                .iter()
                .find(|(name, _)| *name == k)
                .map_or_else(|| v.into_owned(), |(_, secret)| secret.expose().to_owned());
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

fn config_error(field: &str, msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, msg)
        .with_field(field)
        .with_connector(SOURCE)
}

impl Endpoint {
    pub(crate) fn new(cfg: RestApiConfig) -> Result<Self> {
        // URL parameters < query_params (last value wins), then `{name}` path placeholders.
        let mut params: Vec<(String, String)> = Vec::new();
        let set = |params: &mut Vec<(String, String)>, k: String, v: String| match params
            .iter_mut()
            .find(|(pk, _)| *pk == k)
        {
            Some(slot) => slot.1 = v,
            None => params.push((k, v)),
        };
        for (k, v) in cfg.url.query_pairs() {
            set(&mut params, k.into_owned(), v.into_owned());
        }
        for (k, v) in cfg
            .query_params
            .pairs()
            .map_err(|e| config_error("query_params", e))?
        {
            set(&mut params, k, v);
        }
        let mut base = cfg.url.clone();
        base.set_query(None);
        base.set_fragment(None);
        let mut path = base.path().replace("%7B", "{").replace("%7D", "}");
        params.retain(|(k, v)| {
            let placeholder = format!("{{{k}}}");
            if path.contains(&placeholder) {
                path = path.replace(&placeholder, v);
                false
            } else {
                true
            }
        });
        base.set_path(&path);
        let headers = cfg
            .headers
            .pairs()
            .map_err(|e| config_error("headers", e))?;
        let items_path = cfg
            .items_path
            .as_deref()
            .map(|p| {
                ItemsPath::parse(p)
                    .map_err(|e| config_error("items_path", format!("items_path {e}")))
            })
            .transpose()?;
        let pc = &cfg.pagination_config;
        let size_param = match cfg.pagination_type {
            PaginationType::Offset => pc.limit_param.as_deref().or(pc.page_size_param.as_deref()),
            _ => pc.page_size_param.as_deref(),
        };
        let from_params = size_param
            .and_then(|p| params.iter().find(|(k, _)| k == p))
            .and_then(|(_, v)| v.parse::<u64>().ok());
        let configured = match cfg.pagination_type {
            PaginationType::Offset => pc.limit.or(pc.page_size),
            _ => pc.page_size,
        };
        let page_size = configured
            .or(from_params)
            .or(size_param.map(|_| DEFAULT_PAGE_SIZE))
            .filter(|n| *n > 0);
        let next_cursor = pc
            .next_cursor_path
            .as_deref()
            .or(pc.next_cursor_field.as_deref())
            .and_then(BodyPath::parse);
        let next_url = cfg.next_url_path().and_then(BodyPath::parse);
        let id_path = cfg
            .id_field
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .and_then(|f| FieldPath::parse(f).ok());
        let id_alone = id_path.as_ref().and_then(|id| {
            let mut field = Field::new(FieldPath::clone(id));
            Plan::new(&mut [&mut field]).map(|plan| (plan, field))
        });
        // Pages are read without their items' DOM when the items sit at plain names and no
        // path read from the body may lead into them.
        let plain_items = items_path
            .as_ref()
            .and_then(|p| simple_names(p.as_str()))
            .filter(|names| !names.is_empty())
            .filter(|names| {
                [&next_cursor, &next_url]
                    .into_iter()
                    .flatten()
                    .all(|p| !may_reach(p, names))
            })
            .map(std::sync::Arc::from);
        let secret_params = params
            .iter()
            .filter(|(k, _)| is_credential_param(k))
            .map(|(k, v)| (k.clone(), connector_core::Secret::new(v.clone())))
            .collect();
        Ok(Self {
            secret_params,
            cfg,
            base,
            params,
            headers,
            items_path,
            plain_items,
            next_cursor,
            next_url,
            page_size,
            id_path,
            id_alone,
            credential_field: None,
        })
    }

    /// The first position of a run.
    pub(crate) fn start(&self) -> Position {
        let pc = &self.cfg.pagination_config;
        let at = match self.cfg.pagination_type {
            PaginationType::None => At::Single,
            PaginationType::Page => At::Page {
                page: pc.start_page,
            },
            PaginationType::Offset => At::Offset {
                offset: pc.start_offset,
            },
            PaginationType::Cursor => At::Cursor {
                cursor: pc.initial_cursor.clone().filter(|c| !c.is_empty()),
            },
            PaginationType::LinkHeader | PaginationType::NextUrlPath => At::Url {
                url: self.first_url().to_string(),
            },
        };
        Position {
            at,
            pages: 0,
            full: false,
            items: 0,
            prev: None,
        }
    }

    fn first_url(&self) -> Url {
        let mut url = self.base.clone();
        if !self.params.is_empty() {
            url.query_pairs_mut().extend_pairs(self.params.iter());
        }
        url
    }

    fn auth(&self) -> (Auth, Option<&'static str>) {
        let cfg = &self.cfg;
        match cfg.auth_type {
            AuthType::None => (Auth::None, None),
            AuthType::ApiKeyHeader => match cfg.api_key() {
                Some((key, field)) => {
                    let name = cfg
                        .auth_config
                        .header_name
                        .clone()
                        .filter(|h| !h.trim().is_empty())
                        .unwrap_or_else(|| "X-API-Key".to_owned());
                    (
                        Auth::Header {
                            name,
                            value: key.clone(),
                        },
                        Some(field),
                    )
                }
                None => (Auth::None, None),
            },
            AuthType::Bearer => match cfg.token() {
                Some((t, field)) => (Auth::Bearer(t.clone()), Some(field)),
                None => (Auth::None, None),
            },
            AuthType::Basic => match cfg.basic() {
                Some((user, password, field)) => (
                    Auth::Basic {
                        username: user.to_owned(),
                        password: password.cloned().unwrap_or_else(|| Secret::new("")),
                    },
                    Some(if password.is_some() {
                        "credentials.password"
                    } else {
                        field
                    }),
                ),
                None => (Auth::None, None),
            },
        }
    }
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
        Ok(Self {
            endpoint: std::sync::Arc::new(endpoint),
            http: builder.build()?,
            plan: None,
        })
    }

    /// This client reading pages with `plan`, the mapping's ([`keep`]).
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
    /// `check` documents which).
    pub(crate) async fn check(&self) -> Result<()> {
        let Err(e) = self.fetch_page(self.endpoint.start(), None).await else {
            return Ok(());
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

    /// Fetches the page at `pos`: its items (any JSON values) and the position after it.
    ///
    /// # When page and offset pagination stop
    /// After an empty page; after a page whose item ids repeat the previous page's (an API
    /// that ignores the page parameter: the repeat is dropped, not delivered twice); when the
    /// response says so (`has_more: false`, the last of `total_pages`/`X-WP-TotalPages`, or
    /// `total`/`X-WP-Total`/`X-Total-Count` items listed); else after a page shorter than the
    /// size asked, once a full page showed the server honours that size. A short first page
    /// is confirmed by one more request, since a server may cap the size below what was asked:
    /// that page ends the listing when it is empty, repeats the first, or is refused.
    ///
    /// A 400 or 404 on a page after the first of a run ends the listing (logged), with no
    /// error: that is how WordPress (`rest_post_invalid_page_number`) and others answer a page
    /// past the last, which a client reaches when the last page was full and no total was
    /// given. The same status on a run's first page is an error, since then no page was ever
    /// valid (a wrong URL or parameter). The cost: a 400 or 404 that really is a fault, on a
    /// later page, ends the listing early rather than the sync.
    pub(crate) async fn fetch_page(
        &self,
        pos: Position,
        since: Option<DateTime<Utc>>,
    ) -> Result<Page<PageItems, Position>> {
        let e = &*self.endpoint;
        if pos.pages > 0 && e.cfg.request_delay > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(e.cfg.request_delay)).await;
        }
        let numbered = matches!(pos.at, At::Page { .. } | At::Offset { .. });
        let past_end_possible = numbered && pos.pages > 0;
        let mut req = self.request(&pos, since)?;
        if past_end_possible {
            req = req.client_errors_as_responses();
        }
        let resp = req.send().await?;
        if resp.status().is_client_error() {
            let code = resp.status().as_u16();
            if matches!(code, 400 | 404) {
                tracing::info!(
                    connector = SOURCE,
                    status = code,
                    pages = pos.pages,
                    "the API refused the page after the last one; the listing ends here"
                );
                return Ok(Page::last(PageItems::default()));
            }
            return Err(self.client_error(code, resp.url()));
        }
        // With plain item names, a cursor or link walk's items are read here by the mapping's
        // plan, once, and conversion takes what was kept of them. Otherwise they are skipped
        // here (only counted, and their ids hashed for a numbered walk's repeat guard) and
        // read where they are converted.
        let mut raw_ids = (numbered && self.endpoint.plain_items.is_some()).then(Vec::new);
        let mut lenient: Option<(Lenient, Error)> = None;
        let kept = match (&e.plain_items, &self.plan) {
            (Some(names), Some(plan)) if !numbered => keep(resp.body(), names, plan)
                .map(|(rest, kept)| (rest, kept.len(), names.clone(), Some(kept))),
            _ => None,
        };
        let located = kept.or_else(|| {
            let names = e.plain_items.as_ref()?;
            let mut on_item = |_: usize, item: Result<&Json<'_>, Unread<'_>>| {
                if let Some(ids) = raw_ids.as_mut() {
                    ids.push(match item {
                        Ok(item) => self.item_id(item),
                        // An item no tree can hold (conversion fails it alone).
                        Err(unread) => self.unread_id(&unread),
                    });
                }
            };
            let on_item: Option<OnItem<'_>> = if numbered { Some(&mut on_item) } else { None };
            locate(resp.body(), names, on_item).map(|(rest, n)| (rest, n, names.clone(), None))
        });
        let (mut body, found, raw) = match located {
            Some((rest, n, names, kept)) => (
                rest,
                Items::List {
                    pointer: String::new(),
                    len: n,
                },
                Some((names, kept)),
            ),
            None => {
                raw_ids = None;
                let (body, found) = match resp.json::<Value>() {
                    Ok(body) => {
                        let found = find_items(&body, e.items_path.as_ref(), resp.body());
                        (body, found)
                    }
                    // A value no `Value` holds: the body read again, leniently, so that an
                    // item holding it fails alone (`lenient`).
                    Err(err) => {
                        let Some(mut read) = Lenient::read(resp.body()) else {
                            return Err(err.with_connector(SOURCE));
                        };
                        let body = std::mem::take(&mut read.value);
                        let Some(found) = read.find_items(&body, e.items_path.as_ref()) else {
                            return Err(err.with_connector(SOURCE));
                        };
                        lenient = Some((read, err));
                        (body, found)
                    }
                };
                (body, found, None)
            }
        };
        // No match: an empty page when the path leads to lists that are empty (or `null`),
        // else the body's shape is not the path's (`ItemsPath::why_none`).
        let found = match (found, e.items_path.as_ref()) {
            (Items::Missing, Some(path)) => match path.why_none(&body) {
                Ok(()) => Items::Matches(Vec::new()),
                Err(why) => {
                    return Err(Error::invalid_data(format!(
                        "`items_path` `{}` matches nothing in the response: {why}",
                        path.as_str()
                    ))
                    .with_field("items_path")
                    .with_url(resp.url())
                    .with_connector(SOURCE));
                }
            },
            (found, _) => found,
        };
        let n = found.len() as u64;
        let items_after = pos.items + n;
        // What the page reads of a body read leniently must be there to read: the page fails
        // on a value it reads that no `Value` holds (`lenient`).
        if let Some((read, _)) = &lenient {
            let fail = |msg: String| {
                Error::invalid_data(msg)
                    .with_url(resp.url())
                    .with_connector(SOURCE)
            };
            for name in Totals::NAMES {
                read.check(body.get(name), &format!("`{name}`"))
                    .map_err(fail)?;
            }
            let next = match (&pos.at, e.cfg.pagination_type) {
                (At::Cursor { .. }, _) => Some((&e.next_cursor, "next cursor")),
                (At::Url { .. }, PaginationType::NextUrlPath) => {
                    Some((&e.next_url, "next-page URL"))
                }
                _ => None,
            };
            if let Some((path, what)) = next {
                read.check(path.as_ref().and_then(|p| p.first(&body)), what)
                    .map_err(fail)?;
            }
        }
        let totals = Totals::read(&body, |name| {
            resp.header(name).and_then(|v| v.trim().parse().ok())
        });
        let full = pos.full || e.page_size.is_some_and(|size| n >= size);
        // A short page ends the listing once the server has shown it honours the size (a
        // server capping the size below what was asked returns short pages all along).
        let short = e.page_size.is_some_and(|size| full && n < size);
        let pages = pos.pages + 1;
        let text_at = |path: Option<&BodyPath>| {
            path.and_then(|p| p.first(&body))
                .map(|v| text_ref(v).into_owned())
                .filter(|s| !s.is_empty())
        };
        // What the response says, where it says it; it overrides the page-length guess.
        let told_done = match &pos.at {
            At::Page { page } => {
                let by_pages = totals
                    .total_pages
                    .map(|t| page.saturating_sub(e.cfg.pagination_config.start_page) + 1 >= t);
                let by_items = totals.total.map(|t| items_after >= t);
                by_pages.or(by_items)
            }
            At::Offset { offset } => totals.total.map(|t| offset + n >= t),
            _ => None,
        };
        let last = totals.has_more == Some(false)
            || told_done == Some(true)
            || (totals.has_more.is_none() && told_done.is_none() && short);
        // The next position is read before the items are moved out: a cursor path may point
        // into them.
        let next_at = match &pos.at {
            At::Single => None,
            // An empty numbered page is past the end whatever else the response says.
            At::Page { .. } | At::Offset { .. } if n == 0 || last => None,
            At::Page { page } => Some(At::Page { page: page + 1 }),
            At::Offset { offset } => Some(At::Offset { offset: offset + n }),
            // A cursor or link walk follows the service's next pointer, even past an empty
            // page (a filtered page may be empty with more behind it), unless it says no more.
            _ if totals.has_more == Some(false) => None,
            At::Cursor { .. } => {
                text_at(e.next_cursor.as_ref()).map(|c| At::Cursor { cursor: Some(c) })
            }
            At::Url { .. } => {
                let next = match e.cfg.pagination_type {
                    PaginationType::NextUrlPath => text_at(e.next_url.as_ref())
                        .map(|s| resp.url().join(&s))
                        .transpose()
                        .map_err(|err| {
                            Error::invalid_data(format!("the next-page URL is invalid: {err}"))
                                .with_connector(SOURCE)
                        })?,
                    _ => resp.next_link(),
                };
                next.map(|u| At::Url { url: u.to_string() })
            }
        };
        let items = match raw {
            Some((_, Some(kept))) => PageItems::Kept {
                body: resp.body().clone(),
                kept,
            },
            Some((path, None)) => PageItems::Raw {
                body: resp.body().clone(),
                path,
                len: found.len(),
            },
            None => match lenient {
                None => PageItems::Values(found.take(&mut body)),
                Some((mut read, err)) => {
                    read.value = body;
                    match read.items(found, e.items_path.as_ref(), resp.body()) {
                        Some(items) => PageItems::Lenient {
                            body: resp.body().clone(),
                            items,
                        },
                        None => return Err(err.with_connector(SOURCE)),
                    }
                }
            },
        };
        let ids = (numbered && n > 0).then(|| match (&items, raw_ids) {
            (PageItems::Raw { .. }, Some(ids)) => page_hash(&ids),
            (PageItems::Values(list), _) => {
                page_hash(&list.iter().map(|i| self.item_id(i)).collect::<Vec<_>>())
            }
            (PageItems::Raw { .. }, None) => String::new(),
            (PageItems::Lenient { body, items }, _) => page_hash(
                &items
                    .iter()
                    .map(|held| match held {
                        Held::Value(item) => self.item_id(item),
                        // As on a raw page: its id read alone, else its bytes.
                        Held::Unread { span, .. } => {
                            self.unread_text_id(body.get(span.clone()).unwrap_or_default())
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
            (PageItems::Kept { .. }, _) => {
                // Not reached: only a walk that is not numbered keeps its pages (`keep`
                // above), and only numbered walks hash theirs. Were a numbered walk's pages
                // kept, each would hash to "" and the repeat guard would end the listing
                // after the first page: hash them from their ids (the slots) first.
                debug_assert!(!numbered, "a numbered walk's page was kept");
                String::new()
            }
        });
        if ids.is_some() && ids == pos.prev {
            tracing::info!(
                connector = SOURCE,
                pages = pos.pages,
                "the page repeats the previous page's items (does the API ignore the page parameter?); the listing ends here"
            );
            return Ok(Page::last(PageItems::default()));
        }
        Ok(Page::new(
            items,
            next_at.map(|at| Position {
                at,
                pages,
                full,
                items: items_after,
                prev: ids,
            }),
        ))
    }

    /// The hash of an item's id for the repeated-page guard: of `id_field` where configured,
    /// else of the content.
    fn item_id<N: Node>(&self, item: &N) -> String {
        let id = self
            .endpoint
            .id_path
            .as_ref()
            .and_then(|p| p.values(item).into_iter().next())
            .map_or_else(|| item.canonical(), |v| v.text().into_owned());
        hash128(&id)
    }

    /// [`item_id`](Self::item_id) of an item that cannot be read whole ([`Unread`]): its
    /// `id_field` read alone from its bytes, hashed as `item_id` hashes a readable item's, so
    /// that a repeated page is seen whatever else in the item changes per response (a signed
    /// URL, a fetch time). Its bytes stand for it only without an id to read: no `id_field`,
    /// a path that is not a chain of names, the id missing or itself what cannot be read.
    fn unread_id(&self, unread: &Unread<'_>) -> String {
        self.unread_text_id(unread.text)
    }

    /// [`unread_id`](Self::unread_id) of an item's bytes (a lenient page's item that cannot
    /// be read holds no serde error, only its span).
    fn unread_text_id(&self, text: &[u8]) -> String {
        let id = self.endpoint.id_alone.as_ref().and_then(|(plan, field)| {
            let slots = read_alone_by(text, plan)?;
            slots.values(field).first().map(|v| hash128(&v.text()))
        });
        id.unwrap_or_else(|| hash128_bytes(text))
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

/// A hash of a page's item id hashes ([`RestClient::item_id`]).
fn page_hash(ids: &[String]) -> String {
    hash128(&ids.concat())
}

fn merge(query: &mut Vec<(String, String)>, extra: impl IntoIterator<Item = (String, String)>) {
    for (k, v) in extra {
        match query.iter_mut().find(|(qk, _)| *qk == k) {
            Some(slot) => slot.1 = v,
            None => query.push((k, v)),
        }
    }
}
