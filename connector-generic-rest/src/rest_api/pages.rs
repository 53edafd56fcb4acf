//! The page walk, through core's page pipeline: one [`Batch`] per response page.
//!
//! An item's body is the listing itself (there is no per-item request), so a page goes
//! straight from [`paginate`] (repeated-cursor guard, `max_pages`) through [`read_ahead`] (the
//! next page is fetched while this one converts) to [`convert_spawned`] (conversion, HTML to
//! Markdown above all, in tasks of their own, two pages at once, so the next pages convert
//! while the sync loop writes the one before; the documents come in page order all the same).
//! The slim listing walks the same pages and reads only the ids.
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

use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::pages::{Page, PageLimit, convert_spawned, paginate, read_ahead};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::SOURCE;
use super::checkpoint::{Position, RestApiCheckpoint};
use super::client::RestClient;
use super::convert::Mapping;
use super::direct::Item;
use super::raw_page::{PageItems, Unread, for_each, for_each_direct};

/// Pages converted at once.
const CONVERT_CONCURRENCY: usize = 2;

fn max_pages(client: &RestClient) -> u64 {
    client.endpoint.cfg.max_pages
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
) -> BoxStream<'static, Result<Page<PageItems, Position>>> {
    let cancellation = ctx.cancellation().clone();
    // Each fetch depends only on the position the previous one returned, so reading ahead is
    // safe.
    read_ahead(paginate(from, limit, move |pos| {
        let client = client.clone();
        let cancelled = cancellation.check();
        async move {
            cancelled?;
            client.fetch_page(pos, since).await
        }
    }))
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
    convert_spawned(pages, CONVERT_CONCURRENCY, move |page| {
        CheckpointedBatch::new(
            convert_page(&mapping, &page.items, keep_within),
            RestApiCheckpoint { next: page.next },
        )
    })
    .boxed()
}

/// One page's items as a batch, in page order; with `window`, only documents whose time lies
/// in it.
fn convert_page(mapping: &Mapping, items: &PageItems, window: Option<TimeWindow>) -> Batch {
    let mut documents = Vec::with_capacity(items.len());
    let mut failures = Vec::new();
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
    // `false` when a page's items, read whole at the fetch, cannot be read again (which
    // cannot happen for the bytes the fetch read).
    let read = match items {
        PageItems::Values(list) => {
            for (i, item) in list.iter().enumerate() {
                take(
                    mapping.convert_into(item, i, &mut documents),
                    &mut documents,
                );
            }
            true
        }
        // An item that cannot be read fails alone, named ([`Mapping::unread_failure`]), and
        // the items after it convert as usual.
        PageItems::Raw { body, path, .. } => match mapping.direct() {
            Some(plan) => for_each_direct(body, path, plan, &mut |i, item| {
                let converted = match item {
                    Ok(item) => mapping.convert_into(item, i, &mut documents),
                    Err(unread) => Err(Box::new(mapping.unread_failure(i, path, &unread))),
                };
                take(converted, &mut documents);
            }),
            None => for_each(body, path, &mut |i, item| {
                let converted = match item {
                    Ok(item) => mapping.convert_into(item, i, &mut documents),
                    Err(unread) => Err(Box::new(mapping.unread_failure(i, path, &unread))),
                };
                take(converted, &mut documents);
            }),
        },
        PageItems::Kept { body, kept } => {
            // The fetch read the items with this plan from this UTF-8 text.
            match (mapping.direct(), std::str::from_utf8(body)) {
                (Some(plan), Ok(text)) => kept.for_each(text, plan, &mut |i, item| {
                    take(
                        mapping.convert_into(item, i, &mut documents),
                        &mut documents,
                    );
                }),
                _ => false,
            }
        }
    };
    if !read {
        failures.push(Failure::new(
            None,
            ErrorKind::InvalidData,
            format!("{SOURCE}: the page's items could not be read again"),
        ));
    }
    Batch::with_parts(documents, failures, Vec::new())
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
    let pages = walk(
        client.with_context(ctx),
        client.endpoint.start(),
        PageLimit::fail_after(max_pages(client)),
        None,
        ctx,
    );
    pages
        .and_then(move |page| futures::future::ready(page_ids(&mapping, &page.items)))
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
fn page_ids(mapping: &Mapping, items: &PageItems) -> Result<Vec<SlimDocument>> {
    let mut ids = Vec::with_capacity(items.len());
    match items {
        PageItems::Values(list) => {
            for item in list.iter().filter(|v| v.is_object()) {
                let id = mapping.id(item).map_err(|e| e.with_connector(SOURCE))?;
                ids.push(SlimDocument::new(id));
            }
            Ok(ids)
        }
        PageItems::Raw { body, path, .. } => {
            let mut of = IdsOf::new(mapping, ids);
            let read = for_each(body, path, &mut |i, item| match item {
                Ok(item) => of.push(item),
                Err(unread) => of.push_unread(i, path, &unread),
            });
            of.finish(read)
        }
        PageItems::Kept { body, kept } => {
            let mut of = IdsOf::new(mapping, ids);
            let read = match (mapping.direct(), std::str::from_utf8(body)) {
                (Some(plan), Ok(text)) => kept.for_each(text, plan, &mut |_, item| of.push(item)),
                _ => false,
            };
            of.finish(read)
        }
    }
}

/// The ids of a page's object items as a raw or kept page's reader hands them over one at a
/// time ([`page_ids`]): the first item whose id does not read stops the listing.
struct IdsOf<'m> {
    mapping: &'m Mapping,
    ids: Vec<SlimDocument>,
    first_error: Option<Error>,
}

impl<'m> IdsOf<'m> {
    fn new(mapping: &'m Mapping, ids: Vec<SlimDocument>) -> Self {
        Self {
            mapping,
            ids,
            first_error: None,
        }
    }

    /// Lists `item`'s id if it is an object, until an id fails to read.
    fn push<I: Item>(&mut self, item: &I) {
        if self.first_error.is_some() || !item.is_object() {
            return;
        }
        match self.mapping.id(item) {
            Ok(id) => self.ids.push(SlimDocument::new(id)),
            Err(e) => self.first_error = Some(e.with_connector(SOURCE)),
        }
    }

    /// Lists the id of entry `index` (of the list at `items`), which could not be read
    /// whole, if it is an object: its id read alone ([`Mapping::unread_id`]), else the
    /// listing fails, naming it, as prune must not delete a document it cannot tell is gone.
    fn push_unread(&mut self, index: usize, items: &[String], unread: &Unread<'_>) {
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
                        "entry {index} of the page could not be read, nor its id: {}",
                        unread.reason(items, index)
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
            return Err(
                Error::invalid_data("the page's items could not be read again")
                    .with_connector(SOURCE),
            );
        }
        Ok(self.ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest_api::config::RestApiConfig;
    use crate::rest_api::model::{Items, ItemsPath, find_items};
    use crate::rest_api::raw_page::{keep, locate};
    use connector_core::reexports::Bytes;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    mod each_item_alone;

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
                assert_eq!(convert_page(&m, &values, w), convert_page(&m, &raw, w));
            }
            assert_eq!(
                page_ids(&m, &values).map_err(|e| e.to_string()),
                page_ids(&m, &raw).map_err(|e| e.to_string())
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
                assert_eq!(convert_page(&m, &values, w), convert_page(&m, &kept, w));
            }
            assert_eq!(
                page_ids(&m, &values).map_err(|e| e.to_string()),
                page_ids(&m, &kept).map_err(|e| e.to_string())
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
            assert_eq!(page_ids(m, &kept).map(|ids| ids.len()).ok(), Some(2));
            // The raw page's first item is no tree: listed by its id read alone.
            assert_eq!(
                page_ids(m, &raw).map_err(|e| e.to_string()),
                page_ids(m, &kept).map_err(|e| e.to_string())
            );
            assert_eq!(convert_page(m, &kept, None), convert_page(m, &raw, None));
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
        for m in mappings() {
            let batch = convert_page(&m, &raw, None);
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
                convert_page(&m, &new, None),
                "{}",
                String::from_utf8_lossy(body)
            );
            let old_ids = page_ids(&m, &raw).map_err(|e| e.to_string());
            let new_ids = page_ids(&m, &new).map_err(|e| e.to_string());
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
