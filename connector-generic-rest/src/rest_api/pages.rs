//! The page walk, through core's page pipeline: one [`Batch`] per response page.
//!
//! An item's body is the listing itself (there is no per-item request), so a page goes
//! straight from [`paginate`] (repeated-cursor guard, `max_pages`) through
//! [`read_ahead_converting`]: the next page is fetched on core's I/O thread while this one
//! converts (in a task of the caller's runtime on one core). On four cores or more each page's
//! conversion (HTML to Markdown above all) starts in a task of its own as the page comes, up
//! to three pages at once, so the next pages convert while the sync loop writes the one
//! before. Below four cores the sync loop converts a page that found it waiting as it takes
//! it, and one it is behind on is converted meanwhile by the I/O thread (the walk alone
//! there) or in a task of its own, so conversions still overlap its writes; the documents
//! come in page order all the same. The fetches on the I/O thread read each response as it
//! comes: on the runtime's workers a response waited 100-270 µs for a worker busy converting
//! (the `benches/cli.rs` header, seventeenth to nineteenth passes). The slim listing walks the
//! same pages through [`read_ahead_on_thread`] and reads only the ids.
//!
//! # Incremental syncs
//! A window is applied where the config can apply it: to each item's `poll_timestamp_field`
//! (exactly, half-open), and as the server-side `since` parameter. With neither, a window
//! cannot select anything, so an incremental sync reads every item, as RAGFlow's `poll_source`
//! says it does ("falling back to full fetch"; in fact RAGFlow stamps such items `now()`, past
//! the window's end, and ingests nothing: a bug not copied). The host is still told only what
//! changed: the sync loop compares each document's fingerprint, which covers what the document
//! delivers (text, title, link, metadata), with the state store, and leaves unchanged ones out
//! of the batches, counting them unchanged.
//!
//! What that costs: every incremental run makes a full run's requests (every page, up to
//! `max_pages`, with `request_delay` between them) and converts every item, so only the
//! sink's work is saved. An edit to a field the config does not map is no change. Deleted
//! items are found by prune alone. Without `id_field` an item's id comes from its content, so
//! an edited item arrives as a new document and the old one stays until prune.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use connector_core::error::redact_url;
use connector_core::pages::{
    Page, PageLimit, paginate, read_ahead_converting, read_ahead_on_thread,
};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::SOURCE;
use super::checkpoint::{At, Learned, Position, RestApiCheckpoint};
use super::client::{RestClient, is_credential_param};
use super::config::PaginationConfig;
use super::convert::Mapping;
use super::direct::Item;
use super::lenient::{Held, read_alone};
use super::raw_page::{PageItems, Unread, for_each, for_each_direct, item_path, read_slots};

/// Pages converted ahead of the sync loop besides the one it awaits: up to three convert at
/// once (on four cores or more; below, as `read_ahead_converting` says).
/// Two ahead took 0.97x the wall of one over 26 alternating rounds on two cores (three: 0.99x),
/// for one page more in memory (the `benches/cli.rs` header, nineteenth pass).
const CONVERTING_AHEAD: std::num::NonZeroUsize = std::num::NonZeroUsize::new(2).unwrap();

fn max_pages(client: &RestClient) -> u64 {
    client.endpoint.cfg.max_pages
}

/// Which page of a walk a fetch read, as the failures of its items name it: "page 3" (the
/// page number sent), else the page's place in the run and what was sent for it: "page 4
/// (cursor c2)", "page 2 (offset 100)", `page 5 (https://api.example.com/items, page=5)`.
#[derive(Debug, Clone)]
pub(super) struct PageAt {
    at: At,
    /// The page's place in the run (from 1, counted across a resume).
    number: u64,
}

/// How much of a cursor a failure shows: its first characters and a `…` (a cursor can be a
/// signed token).
const CURSOR_SHOWN: usize = 8;

impl PageAt {
    /// The page `pos`, its URL (a link or next-URL walk's) as [`shown_url`] shows it by
    /// `paging`'s parameters.
    fn new(pos: &Position, paging: &PaginationConfig) -> Self {
        let at = match &pos.at {
            At::Url { url } => At::Url {
                url: shown_url(url, paging),
            },
            at => at.clone(),
        };
        Self {
            at,
            number: pos.pages.saturating_add(1),
        }
    }
}

impl fmt::Display for PageAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.number;
        match &self.at {
            At::Page { page } => write!(f, "page {page}"),
            At::Single | At::Cursor { cursor: None } => write!(f, "page {n}"),
            At::Offset { offset } => write!(f, "page {n} (offset {offset})"),
            At::Cursor { cursor: Some(c) } => write!(f, "page {n} (cursor {})", cut(c)),
            // Shown when made (`PageAt::new`).
            At::Url { url } => write!(f, "page {n} ({url})"),
        }
    }
}

/// A cursor as a failure shows it: its first [`CURSOR_SHOWN`] characters, and a `…` when
/// there are more.
fn cut(cursor: &str) -> String {
    connector_core::text::clip(cursor, CURSOR_SHOWN).into_owned()
}

/// A next-page URL as a failure may show it: as core shows a URL ([`redact_url`]: no user,
/// password, query or fragment), then the values of the query's paging parameters (`paging`'s
/// page, size, offset, limit and cursor parameters; a cursor [`cut`]), as
/// `https://api.example.com/items, page=5`. Any other parameter may be a server-issued token.
fn shown_url(url: &str, paging: &PaginationConfig) -> String {
    let Ok(url) = url::Url::parse(url) else {
        return "a URL that does not parse".to_owned();
    };
    let mut shown = redact_url(&url);
    let named = |k: &str| {
        [
            &paging.page_param,
            &paging.offset_param,
            &paging.cursor_param,
        ]
        .into_iter()
        .chain(&paging.page_size_param)
        .chain(&paging.limit_param)
        .any(|p| p == k)
    };
    for (k, v) in url.query_pairs() {
        if named(&k) && !is_credential_param(&k) {
            let v = if k == paging.cursor_param {
                cut(&v)
            } else {
                v.into_owned()
            };
            shown.push_str(&format!(", {k}={v}"));
        }
    }
    shown
}

/// An entry of a page, as its failure names it: "page 3 (cursor c2), entry 50" (from 0).
struct Entry<'p> {
    page: &'p PageAt,
    index: usize,
}

impl fmt::Display for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, entry {}", self.page, self.index)
    }
}

/// A fetched page's items and which page it was; the last page's, what the run learned.
pub(super) struct Fetched {
    at: PageAt,
    items: PageItems,
    learned: Learned,
}

/// The pages from `from` (after `pos.pages` of this run, with `limit` counting from there).
///
/// # Errors
/// A page that cannot be fetched or read ends the stream, as does a cancelled sync (checked
/// before each request).
fn walk(
    client: RestClient,
    from: Position,
    limit: PageLimit,
    since: Option<DateTime<Utc>>,
    ctx: &SyncContext,
) -> BoxStream<'static, Result<Page<Fetched, Position>>> {
    let cancellation = ctx.cancellation().clone();
    // The gone sub-responses this walk warned of (`RestClient::fetch_page`).
    let warned = Arc::new(Mutex::new(HashSet::new()));
    // Each fetch depends only on the position the previous one returned, so the callers read
    // ahead.
    paginate(from, limit, move |pos| {
        let client = client.clone();
        let cancelled = cancellation.check();
        let warned = Arc::clone(&warned);
        async move {
            cancelled?;
            let at = PageAt::new(&pos, &client.endpoint.cfg.pagination_config);
            let (page, learned) = client.fetch_page(pos, since, &warned).await?;
            Ok(Page::new(
                Fetched {
                    at,
                    items: page.items,
                    learned,
                },
                page.next,
            ))
        }
    })
}

/// Pages from `from.next`, converted: documents in the window (all without one, or when the
/// config can tell no item's time), failures for malformed entries, and the checkpoint after
/// each page.
pub(super) fn load(
    client: &RestClient,
    mapping: &Arc<Mapping>,
    from: RestApiCheckpoint,
    window: Option<TimeWindow>,
    ctx: &SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<RestApiCheckpoint>>> {
    let Some(from) = from.next else {
        return futures::stream::empty().boxed();
    };
    let since = window
        .filter(|_| client.endpoint.cfg.since.is_some())
        .map(|w| w.start);
    // The window filters here only when items carry their time; else the server filtered, or,
    // with neither, every item is read (the fallback the module docs describe).
    let keep_within = window.filter(|_| mapping.has_timestamp());
    let limit = PageLimit::stop_after(max_pages(client).saturating_sub(from.pages));
    let pages = walk(client.with_context(ctx), from, limit, since, ctx);
    let mapping = Arc::clone(mapping);
    read_ahead_converting(pages, CONVERTING_AHEAD, move |page| {
        CheckpointedBatch::new(
            convert_page(&mapping, &page.items.items, &page.items.at, keep_within),
            RestApiCheckpoint {
                next: page.next,
                learned: page.items.learned,
            },
        )
    })
}

/// One page's items (of the page `at`) as a batch, in page order; with `window`, only
/// documents whose time lies in it, and failures of items that cannot be read whose time,
/// read alone, does ([`unread_failure`]).
fn convert_page(
    mapping: &Mapping,
    items: &PageItems,
    at: &PageAt,
    window: Option<TimeWindow>,
) -> Batch {
    let mut documents = Vec::with_capacity(items.len());
    let mut failures = Vec::new();
    let entry = |index| Entry { page: at, index };
    // Each document goes from `convert_into` straight into `documents`; one outside the
    // window is dropped there again.
    let mut take = |converted: std::result::Result<(), Box<Failure>>,
                    documents: &mut Vec<connector_core::Document>| {
        match converted {
            Ok(()) => {
                if let Some(w) = window
                    && !documents
                        .last()
                        .is_some_and(|doc| doc.updated_at.is_some_and(|t| w.contains(t)))
                {
                    documents.pop();
                }
            }
            Err(f) => failures.push(*f),
        }
    };
    // An item that cannot be read fails alone, named, and the items after it convert as
    // usual.
    let unread = |index: usize, item: &str, unread: &Unread<'_>| {
        unread_failure(mapping, window, &entry(index), item, unread).map(Box::new)
    };
    // `false` when a page's items, read whole at the fetch, cannot be read again (which
    // cannot happen for the bytes the fetch read).
    let read = match items {
        PageItems::Values(list) => {
            for (i, item) in list.iter().enumerate() {
                take(
                    mapping.convert_into(item, &entry(i), &mut documents),
                    &mut documents,
                );
            }
            true
        }
        PageItems::Raw { body, path, .. } => match mapping.direct() {
            Some(plan) => for_each_direct(body, path, plan, &mut |i, item| match item {
                Ok(item) => take(
                    mapping.convert_into(item, &entry(i), &mut documents),
                    &mut documents,
                ),
                Err(u) => {
                    if let Some(f) = unread(i, &item_path(path, i), &u) {
                        take(Err(f), &mut documents);
                    }
                }
            }),
            None => for_each(body, path, &mut |i, item| match item {
                Ok(item) => take(
                    mapping.convert_into(item, &entry(i), &mut documents),
                    &mut documents,
                ),
                Err(u) => {
                    if let Some(f) = unread(i, &item_path(path, i), &u) {
                        take(Err(f), &mut documents);
                    }
                }
            }),
        },
        PageItems::Kept { body, kept } => {
            // The fetch read the items with this plan from this UTF-8 text.
            match (mapping.direct(), std::str::from_utf8(body)) {
                (Some(plan), Ok(text)) => kept.for_each(text, plan, &mut |i, item| {
                    take(
                        mapping.convert_into(item, &entry(i), &mut documents),
                        &mut documents,
                    );
                }),
                _ => false,
            }
        }
        PageItems::Lenient { body, items } => {
            for (i, held) in items.iter().enumerate() {
                match held {
                    Held::Value(item) => take(
                        mapping.convert_into(item, &entry(i), &mut documents),
                        &mut documents,
                    ),
                    // An entry the filter may or may not take: it fails alone, never
                    // delivered.
                    Held::Unread {
                        span,
                        at,
                        undecided: Some(why),
                    } => {
                        let text = body.get(span.clone()).unwrap_or_default();
                        if let Some(f) = mapping.undecided_failure(window, &entry(i), at, text, why)
                        {
                            take(Err(Box::new(f)), &mut documents);
                        }
                    }
                    // Read alone as a raw page's item is: by the plan, which reads only
                    // what is mapped, else as a tree (which the fetch found it is not).
                    Held::Unread {
                        span,
                        at,
                        undecided: None,
                    } => {
                        let text = body.get(span.clone()).unwrap_or_default();
                        let read = match mapping.direct() {
                            Some(plan) => read_slots(plan, text).map(|slots| {
                                mapping.convert_into(&slots, &entry(i), &mut documents)
                            }),
                            None => read_alone(text)
                                .map(|item| mapping.convert_into(&item, &entry(i), &mut documents)),
                        };
                        match read {
                            Ok(converted) => take(converted, &mut documents),
                            Err(error) => {
                                let u = Unread {
                                    text,
                                    error: &error,
                                };
                                if let Some(f) = unread(i, at, &u) {
                                    take(Err(f), &mut documents);
                                }
                            }
                        }
                    }
                }
            }
            true
        }
    };
    if !read {
        failures.push(Failure::new(
            None,
            ErrorKind::InvalidData,
            format!("{SOURCE}: {at}: the page's items could not be read again"),
        ));
    }
    Batch::with_parts(documents, failures, Vec::new())
}

/// The failure of the entry `at` of a page, at the JSON path `item`, that could not be read
/// ([`Mapping::unread_failure`]); with `window`, `None` when its time, read alone
/// ([`Mapping::unread_time`]), lies outside it or it has none, as an item that reads is left
/// out then. An item whose time cannot be told fails whatever the window.
fn unread_failure(
    mapping: &Mapping,
    window: Option<TimeWindow>,
    at: &Entry<'_>,
    item: &str,
    unread: &Unread<'_>,
) -> Option<Failure> {
    if let Some(w) = window
        && let Some(time) = mapping.unread_time(unread)
        && !time.is_some_and(|t| w.contains(t))
    {
        return None;
    }
    Some(mapping.unread_failure(at, item, unread))
}

/// Every id, page by page; fails rather than list a partial set (an item without `id_field`,
/// or more pages than `max_pages`), since prune deletes whatever is not listed. Entries that
/// are not objects are no documents, so they are not listed.
pub(super) fn list_ids(
    client: &RestClient,
    mapping: &Arc<Mapping>,
    ctx: &SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let mapping = Arc::clone(mapping);
    // On the I/O thread as the load's walk: a connection the walk opens is driven there, not
    // by a runtime worker a later load's fetches would wait for.
    let pages = read_ahead_on_thread(
        walk(
            client.with_context(ctx),
            client.endpoint.start(),
            PageLimit::fail_after(max_pages(client)),
            None,
            ctx,
        ),
        std::num::NonZeroUsize::MIN,
    );
    pages
        .and_then(move |page| {
            futures::future::ready(page_ids(&mapping, &page.items.items, &page.items.at))
        })
        .boxed()
}

/// The ids of a page's items that are objects.
///
/// Each kind of page is read as its conversion reads it ([`convert_page`]), so prune lists
/// the ids the sync delivers:
/// - a kept page (a cursor or link walk, [`PageItems::Kept`]) with the mapping's plan: only
///   the mapped paths of each item were read, so a member outside them that no tree can hold
///   (`1e400`, a lone surrogate `"\ud800"`) does not fail the listing, and an item without a
///   readable id fails it with the mapping's own error. (Before pages were kept, such a page
///   was read whole here and failed with "the page's items could not be read again", so
///   nothing was pruned; prune deletes only what is not listed, so listing what the sync
///   delivered is safe.)
/// - a raw page (a numbered walk, [`PageItems::Raw`]) item by item as whole trees. An item
///   no tree can hold (such a member anywhere) is listed by its id read alone
///   ([`Mapping::unread_id`]), as conversion names its failure; one whose id cannot be read
///   that way fails the listing (before, any such item failed it, as "the page's items could
///   not be read again").
/// - a page read leniently (the `Value` path, [`PageItems::Lenient`]) as a raw page: an item
///   kept in its bytes is listed by its id read alone, or fails the listing.
///
/// An entry whose id does not read is named with its page, as conversion names it.
fn page_ids(mapping: &Mapping, items: &PageItems, at: &PageAt) -> Result<Vec<SlimDocument>> {
    let mut of = IdsOf::new(mapping, at, Vec::with_capacity(items.len()));
    let read = match items {
        PageItems::Values(list) => {
            for (i, item) in list.iter().enumerate() {
                of.push(i, item);
            }
            true
        }
        PageItems::Raw { body, path, .. } => for_each(body, path, &mut |i, item| match item {
            Ok(item) => of.push(i, item),
            Err(unread) => of.push_unread(i, &item_path(path, i), &unread),
        }),
        PageItems::Kept { body, kept } => match (mapping.direct(), std::str::from_utf8(body)) {
            (Some(plan), Ok(text)) => kept.for_each(text, plan, &mut |i, item| of.push(i, item)),
            _ => false,
        },
        PageItems::Lenient { body, items } => {
            for (i, held) in items.iter().enumerate() {
                match held {
                    Held::Value(item) => of.push(i, item),
                    // An entry the filter may or may not take is listed where its id
                    // reads: prune keeps what it cannot tell is gone.
                    Held::Unread { span, at, .. } => {
                        let text = body.get(span.clone()).unwrap_or_default();
                        match read_alone(text) {
                            Ok(item) => of.push(i, &item),
                            Err(error) => of.push_unread(
                                i,
                                at,
                                &Unread {
                                    text,
                                    error: &error,
                                },
                            ),
                        }
                    }
                }
            }
            true
        }
    };
    of.finish(read)
}

/// The ids of a page's object items as its reader hands them over one at a time
/// ([`page_ids`]): the first item whose id does not read stops the listing.
struct IdsOf<'m> {
    mapping: &'m Mapping,
    /// The page, to name an entry whose id does not read.
    at: &'m PageAt,
    ids: Vec<SlimDocument>,
    first_error: Option<Error>,
}

impl<'m> IdsOf<'m> {
    fn new(mapping: &'m Mapping, at: &'m PageAt, ids: Vec<SlimDocument>) -> Self {
        Self {
            mapping,
            at,
            ids,
            first_error: None,
        }
    }

    fn entry(&self, index: usize) -> Entry<'m> {
        Entry {
            page: self.at,
            index,
        }
    }

    /// Lists the id of entry `index`, `item`, if it is an object, until an id fails to read.
    fn push<I: Item>(&mut self, index: usize, item: &I) {
        if self.first_error.is_some() || !item.is_object() {
            return;
        }
        match self.mapping.id(item) {
            Ok(id) => self.ids.push(SlimDocument::new(id)),
            Err(e) => {
                // Named as conversion names it: "page 3, entry 1: item has no `id`".
                let mut named =
                    Error::new(e.kind(), format!("{}: {}", self.entry(index), e.message()));
                if let Some(field) = e.field() {
                    named = named.with_field(field.to_owned());
                }
                self.first_error = Some(named.with_connector(SOURCE));
            }
        }
    }

    /// Lists the id of entry `index` (at the JSON path `item`), which could not be read
    /// whole, if it is an object: its id read alone ([`Mapping::unread_id`]), else the
    /// listing fails, naming it, as prune must not delete a document it cannot tell is gone.
    fn push_unread(&mut self, index: usize, item: &str, unread: &Unread<'_>) {
        // An entry that is not an object is no document (`push`); its bytes begin with
        // the value's first byte.
        if self.first_error.is_some() || unread.text.first() != Some(&b'{') {
            return;
        }
        match self.mapping.unread_id(unread) {
            Some(id) => self.ids.push(SlimDocument::new(id)),
            None => {
                self.first_error = Some(
                    Error::invalid_data(format!(
                        "{} could not be read, nor its id: {}",
                        self.entry(index),
                        unread.reason(item)
                    ))
                    .with_connector(SOURCE),
                );
            }
        }
    }

    /// The ids listed, the first id's error, or an error when the reader could not read the
    /// page's items (`read` false).
    fn finish(self, read: bool) -> Result<Vec<SlimDocument>> {
        if let Some(e) = self.first_error {
            return Err(e);
        }
        if !read {
            return Err(Error::invalid_data(format!(
                "{}: the page's items could not be read again",
                self.at
            ))
            .with_connector(SOURCE));
        }
        Ok(self.ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest_api::config::RestApiConfig;
    use crate::rest_api::lenient::Lenient;
    use crate::rest_api::model::{Items, ItemsPath, find_items};
    use crate::rest_api::raw_page::{keep, locate};
    use connector_core::reexports::Bytes;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// The page the tests' pages are.
    const AT: PageAt = PageAt {
        at: At::Single,
        number: 1,
    };

    mod each_item_alone;

    /// Review7 F5: a page's URL is shown as core shows a URL (no query), then only the paging
    /// parameters' values; a cursor, anywhere, by its first 8 characters.
    #[test]
    fn page_names_show_a_url_as_core_does_and_only_the_paging_values() {
        let mut paging: PaginationConfig = serde_json::from_value(json!({})).unwrap();
        paging.page_size_param = Some("per_page".to_owned());
        let url = "https://u:pw@api.example.com/items?session=s3cr3t&page=5&per_page=50\
                   &cursor=0123456789abcdef&api_key=k&jwt=eyJ#frag";
        assert_eq!(
            shown_url(url, &paging),
            "https://api.example.com/items, page=5, per_page=50, cursor=01234567…"
        );
        assert_eq!(shown_url("not a url", &paging), "a URL that does not parse");
        let at = |at: At| PageAt { at, number: 2 }.to_string();
        assert_eq!(
            at(At::Cursor {
                cursor: Some("eyJhbGciOiJIUzI1NiJ9.x".to_owned())
            }),
            "page 2 (cursor eyJhbGci…)"
        );
        assert_eq!(
            at(At::Cursor {
                cursor: Some("c2".to_owned())
            }),
            "page 2 (cursor c2)"
        );
    }

    /// Configs that read every kind of path: plain keys, nested keys, indexes, `[*]`, type
    /// hints, defaults, a template, no `id_field` (content ids).
    fn mappings() -> Vec<Mapping> {
        [
            json!({"id_field": "id", "content_fields": "title, body", "metadata_fields": ["author.name", "tags[*]"], "poll_timestamp_field": "updated_at"}),
            json!({"content_fields": ["body", "a.b"], "metadata_fields": ["tags[1]", "a"], "title_field": "title"}),
            json!({"id_field": "a.b", "content_fields": "title", "link_field": "link",
                   "field_type_hints": {"id": "string", "a.b": "number", "updated_at": "date"},
                   "field_default_values": {"body": "none", "tags[*]": 7},
                   "metadata_fields": ["updated_at", "tags[*]", "body"]}),
            json!({"id_field": "id", "content_fields": ["title", "body"], "metadata_fields": ["tags"],
                   "content_template": "{title}: {body} {{x}} {tags:>3}"}),
            json!({"id_field": "id", "content_fields": ["body", "a.b"], "metadata_fields": ["tags[1]", "author", "tags[*]"],
                   "title_field": "title", "poll_timestamp_field": "updated_at", "link_field": "link"}),
        ]
        .into_iter()
        .map(|mut m| {
            m["url"] = json!("https://api.example.com/items");
            let cfg: RestApiConfig = serde_json::from_value(m).unwrap();
            Mapping::new(&cfg).unwrap()
        })
        .collect()
    }

    /// The page through the `Value` path, the raw one and, for a mapping with a plan, the
    /// items kept in the fetch's pass: the same batch, the same ids.
    fn same_both_ways(body: &[u8]) {
        let path = ["data".to_owned()];
        let (_, n) = locate(body, &path, None).expect("a page the raw path reads");
        let mut value: Value = serde_json::from_slice(body).unwrap();
        let found = find_items(&value, ItemsPath::parse("$.data").ok().as_ref(), body);
        assert!(matches!(found, Items::List { len, .. } if len == n));
        let values = PageItems::Values(found.take(&mut value));
        let raw = PageItems::Raw {
            body: Bytes::copy_from_slice(body),
            path: path.clone().into(),
            len: n,
        };
        for m in mappings() {
            let window = TimeWindow::new(
                DateTime::from_timestamp(1_000, 0).unwrap(),
                DateTime::from_timestamp(2_000_000_000, 0).unwrap(),
            )
            .unwrap();
            for w in [None, Some(window)] {
                assert_eq!(
                    convert_page(&m, &values, &AT, w),
                    convert_page(&m, &raw, &AT, w)
                );
            }
            assert_eq!(
                page_ids(&m, &values, &AT).map_err(|e| e.to_string()),
                page_ids(&m, &raw, &AT).map_err(|e| e.to_string())
            );
            let Some(plan) = m.direct() else {
                continue;
            };
            let (rest, kept) = keep(body, &path, plan).expect("a page the plan reads");
            assert_eq!(rest, locate(body, &path, None).map(|r| r.0).unwrap());
            let kept = PageItems::Kept {
                body: Bytes::copy_from_slice(body),
                kept,
            };
            assert_eq!(kept.len(), n);
            for w in [None, Some(window)] {
                assert_eq!(
                    convert_page(&m, &values, &AT, w),
                    convert_page(&m, &kept, &AT, w)
                );
            }
            assert_eq!(
                page_ids(&m, &values, &AT).map_err(|e| e.to_string()),
                page_ids(&m, &kept, &AT).map_err(|e| e.to_string())
            );
        }
    }

    #[test]
    fn most_mappings_read_items_without_trees() {
        let direct: Vec<bool> = mappings().iter().map(|m| m.direct().is_some()).collect();
        // The second has no `id_field` (content ids hash the whole item).
        assert_eq!(direct, [true, false, true, true, true]);
    }

    /// Prune on a kept page reads the items as conversion does, with the plan: a member
    /// outside the mapped paths that no tree can hold (`1e400`, a lone surrogate) does not
    /// fail the listing; on a raw page (numbered walks), whose prune reads each item whole,
    /// such an item is listed by its id read alone.
    #[test]
    fn kept_pages_list_the_ids_conversion_reads() {
        let m = &mappings()[0];
        let path = ["data".to_owned()];
        for body in [
            &br#"{"data": [{"id": 1, "x": 1e400}, {"id": 2}]}"#[..],
            br#"{"data": [{"id": 1, "x": "\ud800"}, {"id": 2}]}"#,
        ] {
            let (_, kept) = keep(body, &path, m.direct().unwrap()).expect("kept");
            let kept = PageItems::Kept {
                body: Bytes::copy_from_slice(body),
                kept,
            };
            let raw = PageItems::Raw {
                body: Bytes::copy_from_slice(body),
                path: path.clone().into(),
                len: 2,
            };
            assert_eq!(page_ids(m, &kept, &AT).map(|ids| ids.len()).ok(), Some(2));
            // The raw page's first item is no tree: listed by its id read alone.
            assert_eq!(
                page_ids(m, &raw, &AT).map_err(|e| e.to_string()),
                page_ids(m, &kept, &AT).map_err(|e| e.to_string())
            );
            assert_eq!(
                convert_page(m, &kept, &AT, None),
                convert_page(m, &raw, &AT, None)
            );
        }
    }

    #[test]
    fn raw_pages_convert_as_values_do() {
        same_both_ways(
            br#"{"data": [
                {"id": 1, "title": "T\u00e9", "body": "<p>Hi <b>there</b></p>", "author": {"name": "A"}, "tags": ["a", 2, null, {"k": 1}], "updated_at": 1767225600},
                {"id": "x", "id": "y", "title": "  spaced  title ", "body": 5.5, "a": {"b": "12"}, "updated_at": "2026-01-02T03:04:05Z", "link": "https://x.example/p"},
                {"title": null, "body": ["l", {"z": 1, "a": 2}], "a": {"b": 1e3}, "tags": "one"},
                {"id": 18446744073709551615, "title": "\"quoted\"\n", "body": "a < b", "updated_at": "yesterday"},
                3, "s", null, [1], {}
            ], "meta": {"next": "c1"}}"#,
        );
    }

    /// A generated JSON value; objects keep their entries as written, repeated keys too.
    #[derive(Debug, Clone)]
    enum Gen {
        Leaf(Value),
        List(Vec<Gen>),
        Object(Vec<(String, Gen)>),
    }

    impl Gen {
        fn write(&self, out: &mut String) {
            match self {
                Gen::Leaf(v) => out.push_str(&v.to_string()),
                Gen::List(list) => {
                    out.push('[');
                    for (i, e) in list.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        e.write(out);
                    }
                    out.push(']');
                }
                Gen::Object(entries) => {
                    out.push('{');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&Value::from(k.as_str()).to_string());
                        out.push(':');
                        v.write(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// Any JSON value of the shapes items have, with keys the mappings read.
    fn json_value() -> impl Strategy<Value = Gen> {
        let key = prop::sample::select(vec![
            "id",
            "title",
            "body",
            "author",
            "name",
            "tags",
            "updated_at",
            "a",
            "b",
            "link",
            "k\u{e9}",
            "q\"",
        ])
        .prop_map(str::to_owned);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            "[a-z <>/&;\"\\\\\n\u{e9}]{0,12}".prop_map(Value::from),
            prop::sample::select(vec![
                "<p>x <b>y</b></p>",
                "2026-01-02T03:04:05Z",
                "https://x.example/a",
                "12"
            ])
            .prop_map(Value::from),
        ]
        .prop_map(Gen::Leaf);
        leaf.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Gen::List),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(Gen::Object),
            ]
        })
    }

    /// The fetch as before (`locate`, items read at conversion) and as now (`keep`, else
    /// `locate`): the same batch and the same ids.
    fn old_and_new(body: &[u8]) {
        let path = ["data".to_owned()];
        let Some((old_rest, n)) = locate(body, &path, None) else {
            return;
        };
        // The syntax alone splits the body into the same items, each one value: what an item
        // that cannot be read where it lies is read alone from.
        let spans = crate::rest_api::syntax::item_spans(body, &path).expect("split");
        assert_eq!(spans.len(), n);
        for span in spans {
            serde_json::from_slice::<serde::de::IgnoredAny>(&body[span]).expect("one value");
        }
        let raw = PageItems::Raw {
            body: Bytes::copy_from_slice(body),
            path: path.clone().into(),
            len: n,
        };
        // The `Value` path, by the list and by a wildcard (whose one match, or none, is not
        // the same items): the same items, where serde_json cannot hold the body read
        // leniently (`lenient`).
        let by_value: Vec<PageItems> = ["$.data", "$.data[*]"]
            .into_iter()
            .take(if n > 1 { 2 } else { 1 })
            .map(|p| {
                let p = ItemsPath::parse(p).unwrap();
                match serde_json::from_slice::<Value>(body) {
                    Ok(mut value) => {
                        PageItems::Values(find_items(&value, Some(&p), body).take(&mut value))
                    }
                    Err(_) => {
                        let mut read = Lenient::read(body).expect("read leniently");
                        let found = find_items(&read.value, Some(&p), body);
                        PageItems::Lenient {
                            body: Bytes::copy_from_slice(body),
                            items: read.items(found, Some(&p), body).expect("items"),
                        }
                    }
                }
            })
            .collect();
        for m in mappings() {
            let batch = convert_page(&m, &raw, &AT, None);
            for values in &by_value {
                assert_eq!(values.len(), n);
                assert_eq!(
                    batch,
                    convert_page(&m, values, &AT, None),
                    "{}",
                    String::from_utf8_lossy(body)
                );
                assert_eq!(
                    page_ids(&m, &raw, &AT).map_err(|e| e.to_string()),
                    page_ids(&m, values, &AT).map_err(|e| e.to_string()),
                    "{}",
                    String::from_utf8_lossy(body)
                );
            }
            // Nothing lost: each entry is a document or a failure, one that cannot be read
            // included.
            assert_eq!(
                batch.documents.len() + batch.failures.len(),
                n,
                "{}",
                String::from_utf8_lossy(body)
            );
            let Some(plan) = m.direct() else { continue };
            let new = match keep(body, &path, plan) {
                Some((rest, kept)) => {
                    assert_eq!(rest, old_rest);
                    PageItems::Kept {
                        body: Bytes::copy_from_slice(body),
                        kept,
                    }
                }
                None => raw.clone(),
            };
            assert_eq!(new.len(), n);
            assert_eq!(
                batch,
                convert_page(&m, &new, &AT, None),
                "{}",
                String::from_utf8_lossy(body)
            );
            let old_ids = page_ids(&m, &raw, &AT).map_err(|e| e.to_string());
            let new_ids = page_ids(&m, &new, &AT).map_err(|e| e.to_string());
            // An entry the raw page cannot read whole, nor its id alone, fails the listing,
            // as the kept page's read of that id does (with the mapping's own error).
            if old_ids
                .as_ref()
                .is_err_and(|e| e.contains("could not be read, nor its id"))
            {
                assert!(new_ids.is_err(), "{}", String::from_utf8_lossy(body));
                continue;
            }
            assert_eq!(old_ids, new_ids, "{}", String::from_utf8_lossy(body));
        }
    }

    /// Raw JSON text: tokens serde_json's writer never writes.
    fn raw_value() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "\"id\"",
            "\"\\u0069d\"",
            "\"title\"",
            "\"body\"",
            "\"author\"",
            "\"name\"",
            "\"tags\"",
            "\"updated_at\"",
            "\"a\"",
            "\"b\"",
            "\"link\"",
            "\"x\"",
        ]);
        let leaf = prop::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "-0",
            "-0.0",
            "1e3",
            "1E+2",
            "1.5e-3",
            "-1e-400",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "1e400",
            "\"\"",
            "\"\\/\"",
            "\"\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud800\"",
            "\"x\\udc00\"",
            "\"é\"",
            "\"a\\\"b\"",
            "\"<p>x <b>y</b></p>\"",
            "\"2026-01-02T03:04:05Z\"",
            "\"12\"",
            "\"\\u0000\"",
            "\"😀\"",
            "\"\\t\\r\\b\\f\"",
        ])
        .prop_map(str::to_owned);
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key.clone(), inner), 0..7).prop_map(|v| {
                    let e: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                    format!("{{{}}}", e.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn old_and_new_fetch_convert_alike(items in prop::collection::vec(raw_value(), 0..5)) {
            let body = format!("{{\"m\":\"\\u00e9\",\"data\":[{}],\"z\":\"é\"}}", items.join(","));
            old_and_new(body.as_bytes());
        }
    }

    proptest! {
        #[test]
        fn any_page_converts_alike_both_ways(items in prop::collection::vec(json_value(), 0..6)) {
            let mut body = String::from("{\"meta\":{\"next\":null},\"data\":");
            Gen::List(items).write(&mut body);
            body.push('}');
            same_both_ways(body.as_bytes());
        }
    }
}
