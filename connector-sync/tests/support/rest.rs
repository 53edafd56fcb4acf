//! A loopback REST API for the generic REST connector (`rest_api`): listings of JSON items
//! served page by page (`?page=N&per_page=M`, `{"items": [...], "has_more": bool}`), each
//! answer delayed as asked, a listing's first request optionally answered `429` with
//! `Retry-After`, and every request logged with the time it arrived and its credential.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// When it arrived (this process's monotonic clock).
    pub(crate) at: Instant,
    /// When it arrived (wall clock, to compare with the times the engine stores).
    pub(crate) when: DateTime<Utc>,
    /// The listing it asked for.
    pub(crate) listing: String,
    /// The page it asked for.
    pub(crate) page: u64,
    /// Its `Authorization` header.
    pub(crate) auth: Option<String>,
    /// The status it was answered with.
    pub(crate) status: u16,
}

/// The server, and the log of what it was asked.
pub(crate) struct PagedApi {
    server: MockServer,
    log: Arc<Mutex<Vec<Hit>>>,
}

/// Serves one listing's pages.
struct Pages {
    listing: String,
    items: usize,
    per_page: usize,
    delay: Duration,
    /// `Retry-After` seconds of a 429 given to the listing's first request.
    throttle_first: Option<u64>,
    log: Arc<Mutex<Vec<Hit>>>,
}

impl Respond for Pages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let page = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1);
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let first = !log.iter().any(|h| h.listing == self.listing);
        let throttled = first && self.throttle_first.is_some();
        let status = if throttled { 429 } else { 200 };
        log.push(Hit {
            at: Instant::now(),
            when: Utc::now(),
            listing: self.listing.clone(),
            page,
            auth,
            status,
        });
        drop(log);
        if let (true, Some(secs)) = (throttled, self.throttle_first) {
            return ResponseTemplate::new(429)
                .insert_header("retry-after", secs.to_string().as_str())
                .set_body_json(serde_json::json!({ "error": "rate limit exceeded" }));
        }
        let from = usize::try_from(page - 1).unwrap_or(usize::MAX) * self.per_page;
        let to = (from + self.per_page).min(self.items);
        let items: Vec<serde_json::Value> = (from..to)
            .map(|i| {
                serde_json::json!({
                    "id": format!("{}-{i:05}", self.listing),
                    "title": format!("Item {i} of {}", self.listing),
                    "body": format!("The body of item {i} of {}.", self.listing),
                    "updated_at": "2026-01-05T10:00:00Z",
                })
            })
            .collect();
        ResponseTemplate::new(200)
            .set_delay(self.delay)
            .set_body_json(serde_json::json!({ "items": items, "has_more": to < self.items }))
    }
}

impl PagedApi {
    /// A server on a free loopback port.
    pub(crate) async fn start() -> Self {
        Self {
            server: MockServer::start().await,
            log: Arc::default(),
        }
    }

    /// Serves `/{listing}/items`: `items` items, `per_page` a page, each answer after `delay`.
    pub(crate) async fn serve(
        &self,
        listing: &str,
        items: usize,
        per_page: usize,
        delay: Duration,
    ) {
        self.mount(listing, items, per_page, delay, None).await;
    }

    /// As [`serve`](Self::serve), the listing's first request answered `429` with
    /// `Retry-After: retry_after` (seconds).
    pub(crate) async fn serve_throttled(
        &self,
        listing: &str,
        items: usize,
        per_page: usize,
        delay: Duration,
        retry_after: u64,
    ) {
        self.mount(listing, items, per_page, delay, Some(retry_after))
            .await;
    }

    async fn mount(
        &self,
        listing: &str,
        items: usize,
        per_page: usize,
        delay: Duration,
        throttle_first: Option<u64>,
    ) {
        Mock::given(method("GET"))
            .and(path(format!("/{listing}/items")))
            .respond_with(Pages {
                listing: listing.to_owned(),
                items,
                per_page: per_page.max(1),
                delay,
                throttle_first,
                log: self.log.clone(),
            })
            .mount(&self.server)
            .await;
    }

    /// A `rest_api` config for `/{listing}/items` (pages of `per_page`, a bearer `token` if
    /// given), allowed to reach this loopback server.
    pub(crate) fn config(
        &self,
        listing: &str,
        per_page: usize,
        token: Option<&str>,
    ) -> serde_json::Value {
        let addr = self.server.address();
        let mut config = serde_json::json!({
            "url": format!("{}/{listing}/items", self.server.uri()),
            "items_path": "$.items",
            "id_field": "id",
            "title_field": "title",
            "content_fields": ["body"],
            "poll_timestamp_field": "updated_at",
            "pagination_type": "page",
            "pagination_config": {
                "page_param": "page",
                "page_size_param": "per_page",
                "page_size": per_page,
            },
            "allowed_hosts": [addr.ip().to_string()],
        });
        if let (Some(token), Some(object)) = (token, config.as_object_mut()) {
            object.insert("auth_type".to_owned(), "bearer".into());
            object.insert(
                "credentials".to_owned(),
                serde_json::json!({ "token": token }),
            );
        }
        config
    }

    /// Every request so far, in the order they arrived.
    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
