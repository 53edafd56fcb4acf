//! Listings: one page of a search (or any paged collection) after another, with the
//! cursor of the next.
//!
//! - **Cloud's content search** pages by an opaque `cursor` in `_links.next`, followed as
//!   given.
//! - **Offset-paged listings** (every listing on Server/Data Center; child collections on
//!   Cloud) page by `start`. When an item before the cursor leaves the result set between two
//!   requests (deleted, moved out of scope, restricted), every later item moves one place
//!   forward and plain offsets skip one, which prune would then delete. So they go through
//!   core's [`OffsetWalk`]: each page is asked a few items before where the last one ended,
//!   the last page's ids are found again, and when none is found the walk steps back.
//!   Items may come twice (the sink upserts, version tokens skip them), never not at all.
//!   The walk's state is part of the [`Cursor`], and so of the checkpoint.
//! - A page that keeps failing with a 5xx or a timeout, or whose body is over core's cap, is
//!   asked for again with half the `limit` (not below 2 in a walk, whose pages must overlap).

use std::hash::{Hash, Hasher};

use connector_core::pages::{OffsetWalk, Page, PageLimit, Step, paginate};
use connector_core::{ErrorKind, Result};
use futures::TryStreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use url::Url;

use super::Client;
use crate::confluence::SOURCE;
use crate::confluence::model::{Content, Paged};

/// Results per request of the collections paged on their own (attachments).
const CHILD_PAGE_SIZE: u32 = 100;

/// A runaway guard on every listing (searches and child collections): no real site needs this
/// many pages of results.
const MAX_PAGES: u64 = 1_000_000;

/// Where a listing stands: the next request (path and query, relative to the API base) and,
/// for an offset-paged listing, the walk (where it ended and the ids to find again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The next request; in a walk its `start` is the walk's to set.
    pub(crate) path: String,
    /// The offset walk, for listings paged by `start`.
    pub(crate) walk: Option<OffsetWalk>,
}

impl Hash for Cursor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.path.hash(state);
        // The walk's JSON: it has no `Hash` of its own.
        if let Some(walk) = &self.walk {
            serde_json::to_string(walk).unwrap_or_default().hash(state);
        }
    }
}

impl Client {
    /// A cursor at `path`: with `walk` (from a checkpoint) on an offset-paged listing, else a
    /// walk from its `start` (a checkpoint written before walks: the first page is taken as it
    /// comes); no walk for Cloud's cursor-paged search.
    pub(crate) fn cursor(&self, path: String, walk: Option<OffsetWalk>) -> Cursor {
        let offset_paged = !self.site.is_cloud || !path.starts_with("/rest/api/content/search");
        let walk = offset_paged.then(|| {
            walk.unwrap_or_else(|| OffsetWalk::resume_at(param(&path, "start").unwrap_or(0)))
        });
        Cursor { path, walk }
    }

    /// Every page of a listing from the request `first` on, with the cursor after each; a
    /// repeated cursor or a runaway listing ends it with an error.
    pub(crate) fn pages(
        &self,
        first: String,
    ) -> BoxStream<'static, Result<Page<Paged<Value>, Cursor>>> {
        self.pages_from(self.cursor(first, None))
    }

    /// Every page of a listing from `cursor` on (a resumed one).
    pub(crate) fn pages_from(
        &self,
        cursor: Cursor,
    ) -> BoxStream<'static, Result<Page<Paged<Value>, Cursor>>> {
        let client = self.clone();
        paginate(cursor, PageLimit::fail_after(MAX_PAGES), move |cursor| {
            let client = client.clone();
            async move { client.search_page(cursor).await }
        })
    }

    /// One page of a listing at `cursor`, with the cursor of the page after it; in a walk,
    /// the page holds only the items not delivered before.
    ///
    /// A search whose expansions are too large to render in time fails with a 5xx or a
    /// timeout however often it is retried; when the HTTP layer's retries are spent, the same
    /// page is asked for again with half the `limit` (down to one result, two in a walk), as
    /// Onyx does, rather than failing the run. The smaller `limit` stays in the cursors after
    /// it. A response over core's body cap (64 MiB: many large bodies and expansions) is
    /// halved the same way: asking again cannot make it smaller.
    ///
    /// # Errors
    /// The request's errors, and [`ErrorKind::InvalidData`] when a walk loses its place too
    /// often (the result set changes faster than it can be read).
    pub(crate) async fn search_page(&self, cursor: Cursor) -> Result<Page<Paged<Value>, Cursor>> {
        let Cursor { mut path, mut walk } = cursor;
        let floor = if walk.is_some() { 2 } else { 1 };
        loop {
            let offset = walk
                .as_ref()
                .map(|w| w.offset(param(&path, "limit").unwrap_or(u64::MAX)));
            if let Some(offset) = offset {
                path = set_param(&path, "start", &offset.to_string());
            }
            let url = self.api_url(&path).await?;
            let mut page = match self.search_json(url).await {
                Ok(page) => page,
                // Cloud answers 404 to the whole search when one result's ancestors include
                // a page the credentials cannot read (a draft; CONFCLOUD-77618): go on
                // without the ancestors' restrictions, which are then read one by one.
                Err(e)
                    if e.kind() == ErrorKind::NotFound && path.contains(ANCESTOR_RESTRICTIONS) =>
                {
                    tracing::warn!(
                        connector = SOURCE,
                        "the search refuses the ancestors' restrictions; reading them one by one"
                    );
                    path = without_ancestor_restrictions(&path);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Unavailable || too_large(&e) => {
                    let Some((smaller, limit)) = halve_limit(&path, floor) else {
                        return Err(e);
                    };
                    tracing::warn!(connector = SOURCE, limit, error = %e, "the service keeps failing this page; asking for fewer results at once");
                    path = smaller;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (Some(w), Some(offset)) = (walk.as_mut(), offset) else {
                let next = self
                    .next_cursor(&path, &page)
                    .map(|path| Cursor { path, walk: None });
                return Ok(Page::new(page, next));
            };
            // A server that caps `limit` below what was asked says so: later pages are asked
            // at its size, so that they overlap and still reach past the last one.
            if let Some(capped) = page.limit.filter(|l| *l >= floor)
                && param(&path, "limit").is_some_and(|asked| capped < asked)
            {
                path = set_param(&path, "limit", &capped.to_string());
            }
            let ids: Vec<String> = page.results.iter().map(item_id).collect();
            let last = page.links.next.is_none() || page.results.is_empty();
            match w
                .accept(offset, &ids, last)
                .map_err(|e| e.with_connector(SOURCE))?
            {
                Step::Deliver { skip } => {
                    page.results.drain(..skip.min(page.results.len()));
                    let next = (!w.is_done()).then(|| Cursor {
                        path: path.clone(),
                        walk: Some(w.clone()),
                    });
                    return Ok(Page::new(page, next));
                }
                // Items left the set before this page: ask again further back.
                Step::Again => {}
            }
        }
    }

    /// One search page; an error of the response body being over the cap is told apart
    /// from one of its JSON ([`too_large`]).
    async fn search_json(&self, url: Url) -> Result<Paged<Value>> {
        let response = self.get(url).await?.send().await.map_err(|e| {
            // A 2xx answer fails to arrive as data only when its body is over the cap or
            // its redirects are unusable (core's classifier): mark it, for the caller to
            // ask for fewer results. A bad redirect halves to one result and then fails.
            if e.kind() == ErrorKind::InvalidData {
                e.with_cause(BodyOverCap)
            } else {
                e
            }
        })?;
        response.json()
    }

    /// The cursor after `page` of Cloud's content search: `_links.next` as given (it carries
    /// an opaque `cursor`), with the parameters it lost.
    fn next_cursor<T>(&self, cursor: &str, page: &Paged<T>) -> Option<String> {
        let next = page.links.next.as_deref()?;
        // A next link on an empty page would loop without progress.
        if page.results.is_empty() {
            return None;
        }
        let relative = next.find("/rest/api/").map(|i| &next[i..])?;
        Some(keep_params(relative, cursor))
    }

    /// Every item of a paged child collection of `content_id` (attachments beyond what the
    /// search result embedded). Read from the start in a walk, not from where the embedded
    /// ones end: one of those deleted meanwhile would shift the rest past a plain offset; the
    /// caller drops what it has already.
    pub(crate) async fn children(
        &self,
        content_id: &str,
        kind: &str,
        expand: &str,
    ) -> Result<Vec<Content>> {
        let first = format!(
            "/rest/api/content/{content_id}/child/{kind}?limit={CHILD_PAGE_SIZE}&start=0&expand={expand}"
        );
        let pages: Vec<Page<Paged<Value>, Cursor>> = self.pages(first).try_collect().await?;
        let mut out: Vec<Content> = Vec::new();
        // A walk that lost its place and restarted may bring an item twice.
        let mut seen = std::collections::HashSet::new();
        for page in pages {
            for item in page.items.results {
                match serde_json::from_value::<Content>(item) {
                    Ok(c) => {
                        if seen.insert(c.id.clone()) {
                            out.push(c);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(connector = SOURCE, content_id, kind, error = %e, "skipping an unreadable child")
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A result's id (a string on v1, a number on some proxies), for the walk to find it again.
fn item_id(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn split(path: &str) -> (&str, Vec<(String, String)>) {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let pairs = url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (p, pairs)
}

fn join(path: &str, pairs: &[(String, String)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// `path` with the query parameter `key` set to `value`.
pub(crate) fn set_param(path: &str, key: &str, value: &str) -> String {
    let (p, mut pairs) = split(path);
    pairs.retain(|(k, _)| k != key);
    pairs.push((key.to_owned(), value.to_owned()));
    join(p, &pairs)
}

/// The expansions of the ancestors' restrictions.
const ANCESTOR_RESTRICTIONS: &str = "ancestors.restrictions";

/// `path` with no expansion of the ancestors' restrictions.
fn without_ancestor_restrictions(path: &str) -> String {
    let (_, pairs) = split(path);
    match pairs.iter().find(|(k, _)| k == "expand") {
        Some((_, expand)) => {
            let kept: Vec<&str> = expand
                .split(',')
                .filter(|e| !e.starts_with(ANCESTOR_RESTRICTIONS))
                .collect();
            set_param(path, "expand", &kept.join(","))
        }
        None => path.to_owned(),
    }
}

/// The mark [`Client::search_json`] puts on an answer that did not arrive as data (its body
/// over core's cap).
#[derive(Debug)]
struct BodyOverCap;

impl std::fmt::Display for BodyOverCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the response is over the body cap")
    }
}

impl std::error::Error for BodyOverCap {}

/// Whether `e` is an answer too large to read ([`BodyOverCap`]).
fn too_large(e: &connector_core::Error) -> bool {
    std::error::Error::source(e).is_some_and(|c| c.is::<BodyOverCap>())
}

/// `path` with its `limit` halved (not below `floor`), and the new limit; `None` when it has
/// no `limit` above `floor`.
fn halve_limit(path: &str, floor: u64) -> Option<(String, u64)> {
    let (_, pairs) = split(path);
    let limit: u64 = pairs
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())?;
    (limit > floor).then(|| {
        let half = (limit / 2).max(floor);
        (set_param(path, "limit", &half.to_string()), half)
    })
}

/// The value of the query parameter `key` of `path` as a number.
fn param(path: &str, key: &str) -> Option<u64> {
    split(path)
        .1
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// `next` with the `expand` and `limit` of `previous` when it lost them (Cloud's next links
/// keep them, but a proxy or an older version may not).
fn keep_params(next: &str, previous: &str) -> String {
    let (p, mut pairs) = split(next);
    let (_, old) = split(previous);
    for key in ["expand", "limit", "cql", "includeArchivedSpaces"] {
        if !pairs.iter().any(|(k, _)| k == key)
            && let Some(pair) = old.iter().find(|(k, _)| k == key)
        {
            pairs.push(pair.clone());
        }
    }
    join(p, &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        assert_eq!(
            set_param("/a?x=1&start=0", "start", "50"),
            "/a?x=1&start=50"
        );
        assert_eq!(
            keep_params("/a?cursor=abc", "/a?expand=body.storage&limit=50"),
            "/a?cursor=abc&expand=body.storage&limit=50"
        );
        assert_eq!(
            halve_limit("/a?cql=x&limit=50&start=100", 1),
            Some(("/a?cql=x&start=100&limit=25".to_owned(), 25))
        );
        assert_eq!(halve_limit("/a?limit=1", 1), None);
        // An offset walk needs pages of two to overlap.
        assert_eq!(
            halve_limit("/a?limit=3", 2),
            Some(("/a?limit=2".to_owned(), 2))
        );
        assert_eq!(halve_limit("/a?limit=2", 2), None);
        assert_eq!(param("/a?start=75&limit=25", "start"), Some(75));
        assert_eq!(
            without_ancestor_restrictions(
                "/a?cql=x&expand=ancestors,ancestors.restrictions.read.restrictions.user,version"
            ),
            "/a?cql=x&expand=ancestors%2Cversion"
        );
        assert_eq!(halve_limit("/a?cql=x", 1), None);
    }
}
