//! Requests to one Zendesk account: the URLs of the endpoints read, paging, and what
//! Zendesk's error answers mean. Two clients of core's: one for the incremental exports (their
//! own limit, 10 requests a minute) and one for everything else (the plan's limit).

use std::collections::HashSet;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::http::{Auth, ErrorClass, HttpClient, StatusCode};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::model::{
    ApiError, Article, ArticleAnswer, ArticleAttachments, ArticleExport, ArticlePage, Attachment,
    Brand, BrandPage, Comment, CommentPage, Item, Me, Organization, OrganizationExport,
    OrganizationsAnswer, Section, SectionPage, SegmentAnswer, SegmentList, TicketExport,
    TicketPage, TicketsAnswer, User, UserExport, UserSegment, UsersAnswer,
};

/// More pages than any collection has: a loop guard beside the repeated-cursor check.
const MAX_PAGES: usize = 100_000;

/// Tickets per page of the ticket export (Zendesk's maximum).
pub(crate) const EXPORT_PAGE: usize = 1000;

/// Ids per `show_many` request (Zendesk's maximum).
const SHOW_MANY: usize = 100;

/// Requests to one account; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    export: HttpClient,
    /// The account's URL (`https://acme.zendesk.com/`).
    pub(crate) base: Url,
    /// `{base}agent/tickets/`, the prefix of the tickets' links
    /// ([`ticket_links`](super::convert::ticket_links)).
    pub(crate) ticket_links: Option<Url>,
    pub(crate) locale: Option<String>,
    pub(crate) page_size: u32,
}

impl Client {
    pub(crate) fn new(
        http: HttpClient,
        export: HttpClient,
        base: Url,
        locale: Option<String>,
        page_size: u32,
    ) -> Self {
        Self {
            http,
            export,
            ticket_links: super::convert::ticket_links(&base),
            base,
            locale,
            page_size,
        }
    }

    /// The rate gate keys of the ordinary and the export requests to `url`.
    #[cfg(test)]
    pub(crate) fn gate_keys(&self, url: &Url) -> (String, String) {
        (self.http.rate_gate_key(url), self.export.rate_gate_key(url))
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            export: self.export.with_context(ctx),
            ..self.clone()
        }
    }

    /// `{base}/api/v2/{segments…}`.
    fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::internal("the base URL cannot take a path").with_connector(SOURCE)
            })?
            .pop_if_empty()
            .extend(["api", "v2"])
            .extend(segments);
        Ok(url)
    }

    /// `help_center[/{locale}]/{rest…}`.
    fn help_center(&self, rest: &[&str]) -> Result<Url> {
        let mut segments = vec!["help_center"];
        if let Some(locale) = &self.locale {
            segments.push(locale);
        }
        segments.extend_from_slice(rest);
        self.endpoint(&segments)
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.http.get(url).send().await?.json()
    }

    async fn get_export<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.export.get(url).send().await?.json()
    }

    /// A `links.next` URL as Zendesk gave it, refused unless it stays on the account's origin.
    fn next_url(&self, next: &str) -> Result<Url> {
        let url = Url::parse(next).map_err(|e| {
            Error::invalid_data("Zendesk sent a `links.next` that is not a URL")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        if url.origin() != self.base.origin() {
            return Err(Error::invalid_data(format!(
                "Zendesk sent a next-page link to another host ({}); it is not followed with the credentials",
                url.host_str().unwrap_or("?")
            ))
            .with_connector(SOURCE));
        }
        Ok(url)
    }

    /// The article list's page after `cursor` (the first without one), oldest change first.
    pub(crate) fn article_page_url(&self, cursor: Option<&str>) -> Result<Url> {
        let mut url = self.help_center(&["articles"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("page[size]", &self.page_size.to_string());
            q.append_pair("sort_by", "updated_at");
            q.append_pair("sort_order", "asc");
            if let Some(c) = cursor {
                q.append_pair("page[after]", c);
            }
        }
        Ok(url)
    }

    /// One page of the article list.
    pub(crate) async fn article_page(&self, cursor: Option<&str>) -> Result<ArticlePage> {
        self.get(self.article_page_url(cursor)?).await
    }

    /// One page of the incremental article export from `start_time` (epoch seconds).
    pub(crate) async fn article_export(&self, start_time: i64) -> Result<ArticleExport> {
        let mut url = self.endpoint(&["help_center", "incremental", "articles"])?;
        url.query_pairs_mut()
            .append_pair("start_time", &start_time.to_string());
        self.get_export(url).await
    }

    /// The article `id`; none when it is gone (or not in the locale).
    pub(crate) async fn article(&self, id: u64) -> Result<Option<Item<Article>>> {
        let url = self.help_center(&["articles", &id.to_string()])?;
        match self.get::<ArticleAnswer>(url).await {
            Ok(v) => Ok(v.article),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every page of a cursor-paged collection from `first`, each page handed to `each`.
    async fn cursor_pages<P: DeserializeOwned>(
        &self,
        first: Url,
        mut each: impl FnMut(P) -> (bool, Option<String>),
    ) -> Result<()> {
        let mut url = first;
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page: P = self.get(url).await?;
            let (more, next) = each(page);
            match next {
                Some(next) if more && seen.insert(next.clone()) => url = self.next_url(&next)?,
                Some(_) if more => {
                    return Err(Error::invalid_data(
                        "Zendesk sent the same next-page link twice; the listing would never end",
                    )
                    .with_connector(SOURCE));
                }
                _ => return Ok(()),
            }
        }
        Err(Error::invalid_data("a Zendesk listing has no end").with_connector(SOURCE))
    }

    /// Every section (`what` = `sections`) or category (`categories`) of the Help Center.
    pub(crate) async fn sections(&self, what: &str) -> Result<Vec<Section>> {
        let mut url = self.help_center(&[what])?;
        url.query_pairs_mut().append_pair("page[size]", "100");
        let mut out = Vec::new();
        self.cursor_pages(url, |page: SectionPage| {
            out.extend(page.items);
            (page.meta.has_more, page.links.next)
        })
        .await?;
        Ok(out)
    }

    /// The user segment `id`.
    pub(crate) async fn user_segment(&self, id: u64) -> Result<UserSegment> {
        let url = self.endpoint(&["help_center", "user_segments", &id.to_string()])?;
        self.get::<SegmentAnswer>(url).await.map(|a| a.user_segment)
    }

    /// Every attachment of the article `id` (in the locale read).
    pub(crate) async fn article_attachments(&self, id: u64) -> Result<Vec<Attachment>> {
        let mut url = self.help_center(&["articles", &id.to_string(), "attachments"])?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page: ArticleAttachments = self.get(url).await?;
            out.extend(page.items);
            match page.next_page {
                Some(next) if seen.insert(next.clone()) => url = self.next_url(&next)?,
                Some(_) => {
                    return Err(Error::invalid_data(
                        "Zendesk sent the same next-page link twice; the listing would never end",
                    )
                    .with_connector(SOURCE));
                }
                None => return Ok(out),
            }
        }
        Err(Error::invalid_data("a Zendesk listing has no end").with_connector(SOURCE))
    }

    /// The bytes at an attachment's `content_url`, at most `max`: with the credentials on
    /// the account's own origin (private attachments need them), without elsewhere.
    pub(crate) async fn download(&self, url: &str, max: u64) -> Result<Bytes> {
        let url = Url::parse(url).map_err(|e| {
            Error::invalid_data("an attachment's content_url is not a URL")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        let mut req = self.http.get(url.clone()).max_body_bytes(max);
        if url.origin() != self.base.origin() {
            req = req.auth(Auth::None, "");
        }
        Ok(req.send().await?.into_body())
    }

    /// Every brand of the account.
    pub(crate) async fn brands(&self) -> Result<Vec<Brand>> {
        let mut url = self.endpoint(&["brands.json"])?;
        url.query_pairs_mut().append_pair("page[size]", "100");
        let mut out = Vec::new();
        self.cursor_pages(url, |page: BrandPage| {
            out.extend(page.items);
            (page.meta.has_more, page.links.next)
        })
        .await?;
        Ok(out)
    }

    /// This client on another Help Center of the account (a brand's, at its `brand_url`).
    pub(crate) fn on(&self, base: Url) -> Self {
        Self {
            ticket_links: super::convert::ticket_links(&base),
            base,
            ..self.clone()
        }
    }

    /// Every user segment of the Help Center (a Help Center manager's request).
    pub(crate) async fn user_segments(&self) -> Result<Vec<UserSegment>> {
        let mut url = self.endpoint(&["help_center", "user_segments"])?;
        url.query_pairs_mut().append_pair("page[size]", "100");
        let mut out = Vec::new();
        self.cursor_pages(url, |page: SegmentList| {
            out.extend(page.items);
            (page.meta.has_more, page.links.next)
        })
        .await?;
        Ok(out)
    }

    /// The users with these ids (up to 100 a request).
    pub(crate) async fn users(&self, ids: &[u64]) -> Result<Vec<User>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(SHOW_MANY) {
            let mut url = self.endpoint(&["users", "show_many.json"])?;
            let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
            url.query_pairs_mut().append_pair("ids", &list.join(","));
            out.extend(self.get::<UsersAnswer>(url).await?.users);
        }
        Ok(out)
    }

    /// The caller: an anonymous end user (no id) when the credentials were not taken.
    pub(crate) async fn me(&self) -> Result<Me> {
        self.get(self.endpoint(&["users", "me.json"])?).await
    }

    /// One article of the list: the Help Center is on and the agent may read it.
    pub(crate) async fn probe_articles(&self) -> Result<()> {
        let mut url = self.help_center(&["articles"])?;
        url.query_pairs_mut().append_pair("page[size]", "1");
        self.get::<Value>(url).await.map(|_| ())
    }

    /// One page of the ticket export: from `start` when there is no cursor, else after
    /// `cursor`; requesters, submitters, assignees and organizations sideloaded.
    pub(crate) async fn ticket_export(
        &self,
        cursor: Option<&str>,
        start: DateTime<Utc>,
    ) -> Result<TicketExport> {
        let mut url = self.endpoint(&["incremental", "tickets", "cursor.json"])?;
        {
            let mut q = url.query_pairs_mut();
            match cursor {
                Some(c) => q.append_pair("cursor", c),
                None => q.append_pair("start_time", &export_start(start).to_string()),
            };
            q.append_pair("per_page", &EXPORT_PAGE.to_string());
            q.append_pair("include", "users,organizations");
        }
        self.get_export(url).await
    }

    /// One page of the incremental organization export from `start_time` (epoch seconds).
    pub(crate) async fn organization_export(&self, start_time: i64) -> Result<OrganizationExport> {
        let start = DateTime::from_timestamp(start_time, 0).unwrap_or(DateTime::UNIX_EPOCH);
        let mut url = self.endpoint(&["incremental", "organizations.json"])?;
        url.query_pairs_mut()
            .append_pair("start_time", &export_start(start).to_string());
        self.get_export(url).await
    }

    /// `GET /api/v2/incremental/users?start_time=T`: the users changed since `start_time`
    /// (an e-mail changed, a user moved to another organization), time-based paging.
    pub(crate) async fn user_export(&self, start_time: i64) -> Result<UserExport> {
        let start = DateTime::from_timestamp(start_time, 0).unwrap_or(DateTime::UNIX_EPOCH);
        let mut url = self.endpoint(&["incremental", "users.json"])?;
        url.query_pairs_mut()
            .append_pair("start_time", &export_start(start).to_string());
        self.get_export(url).await
    }

    /// The first page of a ticket search through the search export (`search/export`,
    /// cursor paging, no 1,000-result cap): unlike the ticket lists, the search finds
    /// archived tickets (closed more than 120 days ago) too. `terms` is Zendesk search
    /// syntax, e.g. `organization:900 status:closed` or `requester:7`.
    pub(crate) fn ticket_search_url(&self, terms: &str) -> Result<Url> {
        let mut url = self.endpoint(&["search", "export.json"])?;
        url.query_pairs_mut()
            .append_pair("query", &format!("type:ticket {terms}"))
            .append_pair("filter[type]", "ticket")
            .append_pair("page[size]", "100");
        Ok(url)
    }

    /// The organizations with these ids (`organizations/show_many`).
    pub(crate) async fn organizations(&self, ids: &[u64]) -> Result<Vec<Organization>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(SHOW_MANY) {
            let mut url = self.endpoint(&["organizations", "show_many.json"])?;
            let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
            url.query_pairs_mut().append_pair("ids", &list.join(","));
            out.extend(self.get::<OrganizationsAnswer>(url).await?.organizations);
        }
        Ok(out)
    }

    /// The first page of the tickets of organization `id`, with their people and
    /// organization.
    pub(crate) fn organization_tickets_url(&self, id: u64) -> Result<Url> {
        let mut url = self.endpoint(&["organizations", &id.to_string(), "tickets.json"])?;
        url.query_pairs_mut()
            .append_pair("page[size]", "100")
            .append_pair("include", "users,organizations");
        Ok(url)
    }

    /// A page of a ticket list: `url` is [`organization_tickets_url`](Self::organization_tickets_url)
    /// or the `links.next` of the page before (refused off the account's origin).
    pub(crate) async fn ticket_page(&self, url: &str) -> Result<TicketPage> {
        self.get(self.next_url(url)?).await
    }

    /// The tickets with these ids, with their people and organizations.
    pub(crate) async fn tickets(&self, ids: &[u64]) -> Result<TicketsAnswer> {
        let mut url = self.endpoint(&["tickets", "show_many.json"])?;
        let list: Vec<String> = ids.iter().map(u64::to_string).collect();
        url.query_pairs_mut()
            .append_pair("ids", &list.join(","))
            .append_pair("include", "users,organizations");
        self.get(url).await
    }

    /// Every comment of the ticket `id`, oldest first, every page, with their authors.
    pub(crate) async fn comments(&self, id: u64) -> Result<(Vec<Comment>, Vec<User>)> {
        let mut url = self.endpoint(&["tickets", &id.to_string(), "comments"])?;
        url.query_pairs_mut()
            .append_pair("page[size]", "100")
            .append_pair("sort", "created_at")
            .append_pair("include", "users");
        let mut comments = Vec::new();
        let mut users = Vec::new();
        self.cursor_pages(url, |page: CommentPage| {
            comments.extend(page.items);
            users.extend(page.users);
            (page.meta.has_more, page.links.next)
        })
        .await?;
        Ok((comments, users))
    }
}

/// The export's `start_time` for `start`: epoch seconds, at least a minute in the past
/// (Zendesk refuses a more recent one, and leaves the last minute out anyway), never negative.
fn export_start(start: DateTime<Utc>) -> i64 {
    let latest = Utc::now().timestamp() - 61;
    start.timestamp().clamp(0, latest.max(0))
}

/// What Zendesk says in an error body: `{"error": "RecordNotFound", "description": "…"}` or
/// `{"error": {"title": "…", "message": "…"}}`, else the start of the body.
fn said(body: &[u8]) -> String {
    let err = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let head = match &err.error {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => {
            let title = o.get("title").and_then(Value::as_str).unwrap_or_default();
            let message = o.get("message").and_then(Value::as_str).unwrap_or_default();
            match (title.is_empty(), message.is_empty()) {
                (false, false) => format!("{title}: {message}"),
                (false, true) => title.to_owned(),
                _ => message.to_owned(),
            }
        }
        _ => String::new(),
    };
    match (head.is_empty(), err.description.filter(|d| !d.is_empty())) {
        (true, None) => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        (true, Some(d)) => d,
        (false, Some(d)) => format!("{head} ({d})"),
        (false, None) => head,
    }
}

/// What Zendesk's error answers mean: 404 a record (or the Help Center) that does not exist
/// or is hidden from the agent, 403 a missing permission (`SupportProductInactive`: no
/// Support product on the account), 400 and 422 a request Zendesk refuses. 401 and 429 are
/// core's (credential field, `Retry-After`).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let said = said(body);
    match status.as_u16() {
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Zendesk: {said}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Zendesk refused access (tickets need an admin's token: the incremental export is for admins; articles an agent's): {said}"
            ),
        )),
        400 | 409 | 422 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Zendesk rejected the request: {said}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_both_shapes_are_read() {
        let c = classify(
            StatusCode::NOT_FOUND,
            br#"{"error":"RecordNotFound","description":"Not found"}"#,
        )
        .unwrap();
        assert_eq!(c.kind, ErrorKind::NotFound);
        assert!(
            c.message.contains("RecordNotFound (Not found)"),
            "{}",
            c.message
        );
        let c = classify(
            StatusCode::FORBIDDEN,
            br#"{"error":{"title":"Forbidden","message":"You do not have access to this page."}}"#,
        )
        .unwrap();
        assert_eq!(c.kind, ErrorKind::PermissionDenied);
        assert!(
            c.message.contains("Forbidden: You do not have access"),
            "{}",
            c.message
        );
    }

    #[test]
    fn export_start_is_a_minute_in_the_past() {
        let now = Utc::now();
        assert!(export_start(now) <= now.timestamp() - 60);
        assert_eq!(export_start(DateTime::<Utc>::UNIX_EPOCH), 0);
    }
}
