//! Requests: a feed with conditional GET, a linked article page, and the feed parser.

use std::time::Duration;

use bytes::Bytes;
use connector_core::http::{HttpClient, StatusCode};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use url::Url;

use super::SOURCE;
use super::checkpoint::FeedState;

/// What feeds are asked for: every format the parser reads, XML and JSON, then anything (a
/// server that labels its feed `text/plain` still answers).
const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, \
     */*;q=0.5";

/// What article pages are asked for.
const PAGE_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.5";

/// A feed's answer.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// `304 Not Modified`: the feed is as the validators sent describe it; nothing to parse.
    NotModified(FeedState),
    /// The feed's body, the validators its answer carried, and the URL that answered (after
    /// redirects), which the entries' relative links resolve against.
    Body(Bytes, FeedState, Url),
}

/// The connector's HTTP side: one client for feeds, and the same connections with a shorter
/// patience for article pages.
#[derive(Debug, Clone)]
pub(crate) struct FeedClient {
    http: HttpClient,
    /// For article pages: third-party sites, often many, whose rate limits must not hold a
    /// run for the feed's 15 minutes per request: one rate-limit retry, a `Retry-After`
    /// waited at most 10 s, two error retries, 30 s per request.
    pages: HttpClient,
    max_body: u64,
}

impl FeedClient {
    /// `http` for feeds; `pages` for article pages (its own network policy, see
    /// [`RssConfig::article_network_policy`](super::RssConfig::article_network_policy)), given
    /// the shorter patience here.
    pub(crate) fn new(http: HttpClient, pages: &HttpClient, max_body: u64) -> Self {
        let mut policy = pages.retry_policy();
        policy.max_retries = policy.max_retries.min(2);
        policy.max_rate_limit_retries = policy.max_rate_limit_retries.min(1);
        policy.retry_after_cap = policy.retry_after_cap.min(Duration::from_secs(10));
        policy.rate_limit_budget = policy.rate_limit_budget.min(Duration::from_secs(20));
        let pages = pages.with_retry_policy(policy, Duration::from_secs(30));
        Self {
            http,
            pages,
            max_body,
        }
    }

    /// This client counting its requests in `ctx`'s sync report and stopping with its
    /// cancellation.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            pages: self.pages.with_context(ctx),
            max_body: self.max_body,
        }
    }

    /// This client with a retry policy that answers within seconds, for `check()`: one
    /// retry, a `Retry-After` waited at most 5 s, 20 s per request.
    pub(crate) fn for_check(&self) -> Self {
        let mut policy = self.http.retry_policy();
        policy.max_retries = 1;
        policy.initial_backoff = Duration::from_millis(200);
        policy.max_backoff = Duration::from_millis(500);
        policy.max_rate_limit_retries = policy.max_rate_limit_retries.min(1);
        policy.retry_after_cap = policy.retry_after_cap.min(Duration::from_secs(5));
        policy.rate_limit_budget = policy.rate_limit_budget.min(Duration::from_secs(10));
        Self {
            http: self.http.with_retry_policy(policy, Duration::from_secs(20)),
            pages: self.pages.clone(),
            max_body: self.max_body,
        }
    }

    /// `GET feed`, conditional on `since`'s validators when it has any (`If-None-Match`,
    /// `If-Modified-Since`). A server that ignores them answers 200, which is read as usual.
    ///
    /// # Errors
    /// The client's errors (`NotFound` for a 404, `RateLimited` once a 429 outlasts the
    /// retries, `InvalidData` for a body over `max_file_size`), naming the feed.
    pub(crate) async fn feed(&self, feed: &Url, since: Option<&FeedState>) -> Result<Fetched> {
        let mut request = self
            .http
            .get(feed.clone())
            .header("accept", FEED_ACCEPT)
            .max_body_bytes(self.max_body);
        if let Some(since) = since {
            if let Some(etag) = &since.etag {
                request = request.header("if-none-match", etag);
            }
            if let Some(modified) = &since.last_modified {
                request = request.header("if-modified-since", modified);
            }
        }
        let response = request.send().await.map_err(|e| e.with_field("feed_url"))?;
        let header = |name: &str| response.header(name).map(str::to_owned);
        let state = FeedState {
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        if response.status() == StatusCode::NOT_MODIFIED {
            // A 304 to a request that sent no validator says nothing about what to deliver.
            let Some(old) = since.cloned() else {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    "the feed answered 304 Not Modified to a request without validators",
                )
                .with_connector(SOURCE)
                .with_url(feed)
                .with_field("feed_url"));
            };
            // A 304 may repeat or renew the validators; those it leaves out stay as they were.
            return Ok(Fetched::NotModified(FeedState {
                etag: state.etag.or(old.etag),
                last_modified: state.last_modified.or(old.last_modified),
            }));
        }
        if !response.status().is_success() {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "the feed answered HTTP {} instead of its document",
                    response.status().as_u16()
                ),
            )
            .with_connector(SOURCE)
            .with_url(feed)
            .with_field("feed_url"));
        }
        let answered = response.url().clone();
        if answered != *feed {
            // A feed that moved keeps its configured URL in ids and checkpoints (its entries
            // stay the same documents), but each run pays the redirect: say where it went.
            tracing::info!(
                connector = SOURCE,
                feed = %connector_core::error::redact_url(feed),
                answered = %connector_core::error::redact_url(&answered),
                "the feed answered from another URL (a redirect); feed_url may be updated"
            );
        }
        Ok(Fetched::Body(response.into_body(), state, answered))
    }

    /// The page an entry links to, as Markdown (HTML converted by core; plain text as it is),
    /// decoded from the charset it declares ([`page_text`]).
    ///
    /// # Errors
    /// The client's errors, and `Unsupported` for a page that is neither HTML nor text (a
    /// PDF, an image).
    pub(crate) async fn article(&self, link: &Url) -> Result<String> {
        let response = self
            .pages
            .get(link.clone())
            .header("accept", PAGE_ACCEPT)
            .max_body_bytes(self.max_body)
            .send()
            .await?;
        let content_type = response.header("content-type");
        let mime = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match mime.as_str() {
            "text/html" | "application/xhtml+xml" | "" => {
                Ok(connector_core::text::html_to_markdown(&page_text(
                    content_type,
                    response.body(),
                    true,
                )))
            }
            "text/plain" | "text/markdown" => Ok(page_text(content_type, response.body(), false)),
            other => Err(Error::new(
                ErrorKind::Unsupported,
                format!("the linked page is `{other}`, not HTML or text"),
            )
            .with_connector(SOURCE)
            .with_url(link)),
        }
    }
}

/// A page's text: decoded from the charset its `Content-Type` names, else (HTML) the one a
/// `<meta charset>` or `<meta http-equiv="Content-Type">` names in its first 1024 bytes, else
/// UTF-8; a byte order mark wins over all of them, and bytes that do not decode are replaced.
/// Pages in GBK, Shift_JIS or windows-1252 are common among the sites feeds link to.
pub(crate) fn page_text(content_type: Option<&str>, body: &[u8], html: bool) -> String {
    let label = content_type
        .and_then(charset_param)
        .map(str::to_owned)
        .or_else(|| html.then(|| meta_charset(body)).flatten());
    let encoding = label
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    encoding.decode(body).0.into_owned()
}

/// The `charset` parameter of a `Content-Type`.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']))
            .filter(|v| !v.is_empty())
    })
}

/// The charset an HTML page's head declares (`<meta charset="gbk">`, or `charset=` in a
/// `<meta http-equiv>`'s content), looked for where browsers look: the first 1024 bytes.
fn meta_charset(body: &[u8]) -> Option<String> {
    let head = body[..body.len().min(1024)].to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = find(&head[from..], b"charset") {
        let rest = &head[from + at + b"charset".len()..];
        from += at + 1;
        let rest = rest.trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b"=") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        let rest = rest
            .strip_prefix(b"\"")
            .or_else(|| rest.strip_prefix(b"'"))
            .unwrap_or(rest);
        let end = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\'' | b';' | b'>' | b'/') || b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        if end > 0 {
            return Some(String::from_utf8_lossy(&rest[..end]).into_owned());
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses a feed body (RSS 2.0, RSS 0.9x, RSS 1.0/RDF, Atom, JSON Feed) with feed-rs.
///
/// Relative links resolve against `base`, the URL that answered. Entries without an id keep an empty one
/// (feed-rs would make up a random UUID, which changes every run); the connector gives them
/// one of its own. Content is not sanitised here: it is converted to Markdown, which drops
/// scripts and styles. Dates are read as feed-rs reads them, the usual forms without its
/// regex fixes ([`timestamp`](super::dates::timestamp)).
///
/// # Errors
/// `InvalidData` naming the feed when the body is not a feed of any of these formats.
pub(crate) fn parse(body: &[u8], base: &Url, name: &str) -> Result<feed_rs::model::Feed> {
    feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(super::dates::timestamp)
        .build()
        .parse(body)
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                format!("feed `{name}` is not a readable RSS, Atom or JSON feed: {e}"),
            )
            .with_connector(SOURCE)
            .with_field("feed_url")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_decoded_from_the_charset_they_declare() {
        // "中文" in GBK, declared in the header, in a meta tag, in http-equiv, or not at all.
        let gbk = [0xd6u8, 0xd0, 0xce, 0xc4];
        let page = |head: &str| [head.as_bytes(), &gbk[..], b"</p>"].concat();
        let html = page("<p>");
        assert_eq!(
            page_text(Some("text/html; charset=GBK"), &html, true),
            "<p>中文</p>"
        );
        let meta = page("<html><head><meta charset=\"gb2312\"></head><p>");
        assert!(page_text(Some("text/html"), &meta, true).contains("中文"));
        let equiv = page("<meta http-equiv='Content-Type' content='text/html; charset=gbk'><p>");
        assert!(page_text(None, &equiv, true).contains("中文"));
        // windows-1252 by header; UTF-8 by default; a BOM wins.
        assert_eq!(
            page_text(
                Some("text/plain; charset=\"windows-1252\""),
                b"caf\xe9",
                false
            ),
            "café"
        );
        assert_eq!(page_text(None, "café".as_bytes(), true), "café");
        let bom = [&[0xef, 0xbb, 0xbf][..], "café".as_bytes()].concat();
        assert_eq!(
            page_text(Some("text/html; charset=latin1"), &bom, true),
            "café"
        );
        // A charset word without `=` is not a declaration.
        assert_eq!(meta_charset(b"<p>charset matters</p>"), None);
    }
}
