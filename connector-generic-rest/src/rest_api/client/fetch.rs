//! One page fetched: the response read (raw, kept by the plan, or as a tree; leniently where
//! serde_json cannot hold it), its items found, what it says of the pages left, and the
//! position after it.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use connector_core::http::{Page, Response, retry_after_wait};
use connector_core::ids::{hash128, hash128_bytes};
use connector_core::{Error, ErrorKind, Result};
use serde_json::Value;
use url::Url;

use super::RestClient;
use crate::rest_api::SOURCE;
use crate::rest_api::checkpoint::{At, Learned, Position};
use crate::rest_api::config::PaginationType;
use crate::rest_api::direct::Item;
use crate::rest_api::lenient::{Held, Lenient};
use crate::rest_api::model::{
    BodyPath, FailedSub, GoneNote, Items, ItemsPath, Meaning, Means, NoMatch, Seen, error_members,
    error_path_hint, feeds, find_items, shown, text_ref, unusual_error, usual_sign, usual_sign_at,
    whole_failed,
};
use crate::rest_api::node::{Json, Node};
use crate::rest_api::raw_page::{OnItem, PageItems, Unread, keep, locate, read_alone_by};

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

impl RestClient {
    /// Fetches the page at `pos`: its items (any JSON values) and the position after it; with
    /// the last page, what the run learned of the API ([`Learned`], carried to the next
    /// incremental run), else an empty [`Learned`] (the position holds it).
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
    /// A page's length, for all of these and for how far an offset moves, is its listing's:
    /// with filters in `items_path`, the entries the path matches up to its first segment
    /// that selects many, a filter there read as a wildcard
    /// ([`ItemsPath::listing`](crate::rest_api::model::ItemsPath::listing)), since the
    /// server paged those; a page the filters empty or leave short is not the last. Its
    /// repeat guard hashes the listing's ids. Without filters (or with one in a descendant
    /// search, `$..[?…]`), and where the path ends in a name after its filter (a filter chose
    /// the list, `$.result[?@.name == 'docs'].items`), the listing is the path's matches.
    /// A page where such a filter chose no list is measured by the level it filtered, and no
    /// such page is full or short by its count (the server may count that level).
    /// `listing_path` replaces all of this. Without it, a page with no items whose entries
    /// under the path's last filter are empty
    /// ([`ItemsPath::uncut`](crate::rest_api::model::ItemsPath::uncut)) ends the walk where
    /// the response told nothing of the pages left and the listing is not full (no full page
    /// is needed before it, unlike a short page's end), and so do three pages in a row with
    /// no items whose entries there are the same. A page where a filter chose no list, or only
    /// empty ones (`$.result[?@.name == 'docs'].items`), never counts toward either, whatever
    /// its level holds: such a walk goes on to the server's own end (an empty level, a 400 or
    /// 404, `has_more`, `total_pages`), a repeated page or `max_pages`, which costs requests,
    /// never documents (review18 R1, review20 F1).
    ///
    /// A page with no items whose root holds a non-empty `errors` or a set `error`
    /// ([`error_members`]) fails: an error answered with status 200, not an empty page; unless
    /// the run's pages with items carried the same member, or `error_path` says where errors
    /// are (a set value there fails any page) or `false`.
    ///
    /// A 400 or 404 on a page after the first of a run ends the listing (logged), with no
    /// error: that is how WordPress (`rest_post_invalid_page_number`) and others answer a page
    /// past the last, which a client reaches when the last page was full and no total was
    /// given. The same status on a run's first page is an error, since then no page was ever
    /// valid (a wrong URL or parameter). The cost: a 400 or 404 that really is a fault, on a
    /// later page, ends the listing early rather than the sync.
    ///
    /// A page that passes beside gone sub-responses (404, 410: a rolled-off index, a deleted
    /// user, or a typo in one request of a batch) is logged as a warning naming each
    /// (review69 M1), once a walk: `warned` holds the walk's entries warned of so far
    /// ([`GoneNote::entry`]), and an entry met again is logged at debug level only
    /// (review71 L2: a paged batch re-sends its gone request on every page, and the load and
    /// prune walks both read it). A line names at most [`GONE_LISTED`] entries.
    pub(crate) async fn fetch_page(
        &self,
        pos: Position,
        since: Option<DateTime<Utc>>,
        warned: &Mutex<HashSet<String>>,
    ) -> Result<(Page<PageItems, Position>, Learned)> {
        let pages = pos.pages;
        let mut gone = Vec::new();
        let fetched = self.fetch_noting(pos, since, &mut gone).await?;
        if !gone.is_empty() {
            let new: Vec<&GoneNote> = {
                let mut warned = warned.lock().unwrap_or_else(PoisonError::into_inner);
                gone.iter()
                    .filter(|n| {
                        // Past the cap an entry is warned of on every page: loud, not silent.
                        !warned.contains(&n.entry)
                            && (warned.len() >= WARNED_CAP || warned.insert(n.entry.clone()))
                    })
                    .collect()
            };
            if new.is_empty() {
                tracing::debug!(
                    connector = SOURCE,
                    pages,
                    gone = gone.len(),
                    "the page passed beside gone sub-responses this walk warned of already"
                );
            } else {
                tracing::warn!(
                    connector = SOURCE,
                    pages,
                    gone = %gone_list(&new),
                    "{GONE_PASSED}"
                );
            }
        }
        Ok(fetched)
    }

    /// [`fetch_page`](Self::fetch_page), noting in `gone` each gone sub-response the page
    /// passes beside ([`ItemsPath::gone_entries`], [`ItemsPath::set_error`]), for the caller
    /// to warn of or report.
    pub(crate) async fn fetch_noting(
        &self,
        pos: Position,
        since: Option<DateTime<Utc>>,
        gone: &mut Vec<GoneNote>,
    ) -> Result<(Page<PageItems, Position>, Learned)> {
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
                return Ok((Page::last(PageItems::default()), Learned::of(&pos)));
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
        let seen = Seen {
            place: pos.place.as_deref().or(pos.carried.as_deref()),
            usual: &pos.usual,
            guess_errors: e.error_path.is_none(),
            whole_errors: !matches!(e.error_path, Some(None)),
        };
        // `error_path`: a set value there fails the page, whatever else it holds; read first,
        // so that an error body without the items is named for it (review12 F8). One that
        // belongs to a throttled or 5xx sub-response (`_msearch`'s `$.responses[*].error`
        // beside `"status": 429`, the README's advice) is `RateLimited`, with the wait its
        // entry asks for, or `Unavailable`, as it is without `error_path` (review53 M1).
        // A gone sub-response's error there (404, 410: an `_msearch` naming a rolled-off index)
        // is read as without `error_path`: it passes beside an entry that delivered, and a page
        // where none did is retried as a page of only gone entries (review63's info).
        if let Some(Some(path)) = &e.error_path {
            // An entry the user's own filter in `items_path` leaves out is not news when it
            // is gone (review71 L1).
            let chosen_out = |entry: &str| {
                e.items_path
                    .as_ref()
                    .is_some_and(|items| items.filtered_out(&body, entry))
            };
            let set = path.set_error(&body, gone, chosen_out);
            if set != Ok(None) {
                // An entry the items path goes through may say more (review55 L4: a `$batch`
                // 403 entry is the credentials', as without `error_path`; review60 L2: a
                // headers-only 429 beside a 503 found there is the throttle, with its wait):
                // the worst of both.
                let mut worst = path.failed_error_entry(&body);
                if let Some(failed) = e
                    .items_path
                    .as_ref()
                    .and_then(|items| items.failed_sub_response(&body))
                {
                    failed.keep_worst(&mut worst);
                }
                if let Some(mut failed) = worst {
                    // A whole answer's throttle (a JSON-RPC `-32005` under `$.error`) waits
                    // as its header says, as without `error_path` (review71 L4).
                    if whole_failed(&body).is_some() {
                        header_wait(&mut failed, &resp);
                    }
                    return Err(failed_sub(failed, resp.url(), e.credential_field));
                }
            }
            match set {
                Ok(None) => {}
                Ok(Some(v)) => {
                    return Err(Error::invalid_data(format!(
                        "the response's `error_path` `{}` is set: {}",
                        path.as_str(),
                        shown(v)
                    ))
                    .with_field("error_path")
                    .with_url(resp.url())
                    .with_connector(SOURCE));
                }
                Err(why) => {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("every sub-response the page holds is gone or failed: {why}"),
                    )
                    .with_url(resp.url())
                    .with_connector(SOURCE));
                }
            }
        }
        // An entry the path goes through that is a sub-response that failed where the path
        // needs a name (`_msearch`'s `{"error": {…}, "status": 429}`, a `$batch` 429 with
        // only `headers`): on any page, with items or not (review39 F1), with `error_path`
        // set too (a `$batch` 429 without a `body` has nothing at `$.responses[*].body.error`),
        // but not with `error_path: false`. Only a path with a name below a wildcard or
        // filter, or with a descendant name or search, queries anything: `$.data` pays one
        // test of two empty fields. A throttle is `RateLimited`, with the wait the entry asks
        // for, and a 5xx `Unavailable` (review49 M1); see `failed_sub` for the rest.
        if !matches!(e.error_path, Some(None))
            && let Some(failed) = e
                .items_path
                .as_ref()
                .and_then(|path| path.failed_sub_response(&body))
        {
            return Err(failed_sub(failed, resp.url(), e.credential_field));
        }
        // Gone entries pass beside the rest, but not unsaid (review69 M1).
        if !matches!(e.error_path, Some(None))
            && let Some(path) = &e.items_path
        {
            path.gone_entries(&body, gone);
        }
        // No match: an empty page when the path leads to lists that are empty (or `null`),
        // else the body's shape is not the path's (`ItemsPath::why_none`).
        // No items, whether the filter chose no list or lists that are empty: a `OneList`
        // page is then measured by the level it filtered (below; review15 N1).
        let no_items = found.len() == 0;
        let found = match (found, e.items_path.as_ref()) {
            // A carried place is a hint: the page is also read as a run's first would be, as
            // the API's layout may have changed since (review18 R3).
            (Items::Missing, Some(path)) => match path.why_none(&body, &seen).or_else(|why| {
                match (&pos.place, &pos.carried) {
                    // Both readings failed: the fresh one's reason is what a full sync meets,
                    // then the carried place's (review20 F6, review25 F4).
                    (None, Some(c)) => {
                        let fresh = Seen {
                            place: None,
                            ..seen
                        };
                        path.why_none(&body, &fresh).map_err(|fresh| {
                            // Said once where both readings fail alike (review29 F3).
                            let text = if fresh == why {
                                format!(
                                    "{fresh} (the same under the place `{c}` kept from before, \
                                     which a full sync does not use)"
                                )
                            } else {
                                format!(
                                    "{fresh} (and under the place `{c}` kept from before, which \
                                     a full sync does not use: {why})"
                                )
                            };
                            NoMatch {
                                why: text,
                                means: fresh.means,
                            }
                        })
                    }
                    _ => Err(why),
                }
            }) {
                Ok(()) => Items::Matches(Vec::new()),
                Err(none) => {
                    return Err(match none.means {
                        Means::Failed(found) => {
                            let mut failed = path.failed_whole(&found, &none.why);
                            header_wait(&mut failed, &resp);
                            failed_sub(failed, resp.url(), e.credential_field)
                        }
                        Means::Gone => Error::new(
                            ErrorKind::Unavailable,
                            format!(
                                "every sub-response the page holds is gone or failed, so \
                                 `items_path` `{}` matches nothing in the response: {}",
                                path.as_str(),
                                none.why
                            ),
                        )
                        .with_url(resp.url())
                        .with_connector(SOURCE),
                        Means::Misfit => Error::invalid_data(format!(
                            "`items_path` `{}` matches nothing in the response: {}",
                            path.as_str(),
                            none.why
                        ))
                        .with_field("items_path")
                        .with_url(resp.url())
                        .with_connector(SOURCE),
                    });
                }
            },
            (found, _) => found,
        };
        // A numbered walk measures a page by its listing, the entries before the path's
        // filters (`ItemsPath::listing`), or `listing_path`'s: a page whose entries a filter
        // leaves out is neither empty nor short, and an offset moves past all of them. Its
        // repeat guard hashes the listing's ids for the same reason: two pages the filter
        // empties would hash alike. Where a filter chose one list
        // (`$.result[?@.name == 'docs'].items`), told by the path, never by the page: the
        // list's entries are the listing; a page where the filter chose no list, or only empty
        // ones, is measured by the level it filtered (`$.groups[*]`), since that may be the
        // paged level (review12 F2, review15 N1): not empty while it lists anything, bounded by
        // the repeat guard.
        let path = e.items_path.as_ref();
        let one_list = path.is_some_and(ItemsPath::one_list);
        let listing = match &e.listing_path {
            Some(lp) if numbered => Some(lp.query(&body)),
            _ => path
                .filter(|_| numbered && (!one_list || no_items))
                .and_then(|p| p.listing(&body)),
        };
        let n = listing.as_ref().map_or(found.len(), Vec::len) as u64;
        // The entries under the path's last filter (review11 F1): a page whose listing is
        // full of wrappers (`$.results[*]` of `$.results[*].hits[?…]`) is still empty when
        // these are.
        let uncut = path
            .filter(|_| numbered && !one_list && e.listing_path.is_none())
            .and_then(|p| p.uncut(&body));
        let uncut_empty = found.len() == 0 && uncut.as_ref().is_some_and(Vec::is_empty);
        // No items, and nothing the filters left out (a cursor walk's listing is read here
        // only): a body that says it is an error is not an empty page, unless the run's pages
        // with items carried the same member.
        if e.error_path.is_none()
            && found.len() == 0
            && (listing.as_ref().is_none_or(Vec::is_empty) || uncut_empty || one_list)
            && let Some((member, value)) = unusual_error(&body, "", &pos.usual)
        {
            // `listing_path` measures numbered walks only: a cursor walk ignores it here too
            // (review12 F9). Wrappers whose entries under the last filter are all empty
            // (`{"results": [{"hits": []}], "error": "rate limited"}`) list nothing, as on a
            // numbered walk (review11 F7, review35 S1: a cursor walk read such a page as the
            // empty last one, then prune).
            let listed = (!numbered && !one_list)
                .then_some(path)
                .flatten()
                .filter(|p| p.uncut(&body).is_none_or(|u| !u.is_empty()))
                .and_then(|p| p.listing(&body))
                .is_some_and(|l| !l.is_empty());
            if !listed {
                return Err(Error::invalid_data(format!(
                    "the response holds no items and its `{member}` is set: an error, not an \
                     empty page ({}; {})",
                    shown(value),
                    error_path_hint(&pos.usual),
                ))
                .with_url(resp.url())
                .with_connector(SOURCE));
            }
        }
        // What the run learns from a page with items: the error member it carried is this
        // API's normal (a status envelope), and where a filtered path's items sit.
        let mut usual = pos.usual.clone();
        let mut place = pos.place.clone();
        // What the run learned, up to this page: its place, else the one it carried, with the
        // path it was learned for (review18 R3).
        let place_for = |place: Option<&String>| place.and(path).map(|p| p.as_str().to_owned());
        let learned_of = |place: Option<String>, usual: Vec<String>| {
            let place = place.or_else(|| pos.carried.clone());
            Learned {
                place_for: place_for(place.as_ref()),
                place,
                usual,
            }
        };
        if found.len() > 0 {
            // Each sign with where it was met (review32 F1).
            let mut learn = |at: &str, member, value| {
                // The 8 most recently met: a carried list is not frozen once full, and a
                // sign no page carries any more leaves it (review18 R7).
                let sign = usual_sign_at(at, member, value);
                // An older binary's plain sign of the same member counts anywhere: once met
                // again, only its place's does (review33 F3: a fix17 checkpoint kept
                // review32 F1's masking for good).
                let plain = usual_sign(member, value);
                if usual.last() != Some(&sign) || usual.contains(&plain) {
                    usual.retain(|s| s != &sign && s != &plain);
                    usual.push(sign);
                    if usual.len() > 8 {
                        usual.remove(0);
                    }
                }
            };
            if place.is_none()
                && let Some(path) = path.filter(|p| p.filtered())
            {
                // A `OneList` path's place is that of what its filter chose (review15 N3).
                place = path.locations(&body).first().map(|l| path.place(&body, l));
            }
            if e.error_path.is_none() {
                // The envelopes above what a filtered path's opening reached, which its end
                // page checks (`why_none`, review12 F3): `{"result": {"items": [..], "error":
                // "none"}}`. Every branch's (review29 F2: a sibling's status envelope), then
                // the first match's list's, then the root's last: a page whose records each
                // carry their own `error` must not push the API's own status out of the 8
                // (review32 F2).
                if let Some(path) = path.filter(|p| p.filtered()) {
                    let first = match &found {
                        Items::List { pointer, .. } => Some(pointer.clone()),
                        // A list's entry stands for its list (`Envelopes` leaves entries out).
                        _ => path.locations(&body).into_iter().next().map(|l| {
                            match l.rsplit_once('/') {
                                Some((up, _)) if body.pointer(up).is_some_and(Value::is_array) => {
                                    up.to_owned()
                                }
                                _ => l,
                            }
                        }),
                    };
                    // Read with the place this page taught, as a later page is read.
                    let place = place.as_deref().or(pos.carried.as_deref());
                    let mut envelopes = path.envelopes(&body, place);
                    let chain: Vec<(String, &Value)> = first
                        .iter()
                        .flat_map(|p| {
                            envelopes
                                .above(p)
                                .into_iter()
                                .map(|(up, value)| (up.to_owned(), value))
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    let mut met: Vec<_> = envelopes
                        .all()
                        .into_iter()
                        .map(|(up, value)| (up, value, true))
                        .collect();
                    met.extend(chain.into_iter().map(|(up, value)| (up, value, false)));
                    // Where the page's items lie, read once where a record's envelope asks.
                    let mut kept: Option<Vec<String>> = None;
                    let mut records = Vec::new();
                    let mut envelope = Vec::new();
                    for (up, value, any_branch) in met {
                        if error_members(value).next().is_none() {
                            continue;
                        }
                        let at = envelopes.located(&up);
                        let record = at.contains('*');
                        // A record's envelope counts for every record later (`*`): learned
                        // only where that record delivered items, a status next to data, not
                        // an error instead of it (review33 F1: a later page throttled whole
                        // read as the empty last one, then prune); entries the filter left
                        // out are not items (review34 N2). The first match's chain is not
                        // gated: it lies above a kept item by construction (its first
                        // match), so what it met fed that item (review34 N5).
                        if any_branch
                            && record
                            && !feeds(kept.get_or_insert_with(|| path.item_locations(&body)), &up)
                        {
                            continue;
                        }
                        if record {
                            records.push((at, value));
                        } else {
                            envelope.push((at, value));
                        }
                    }
                    // The errors of records' objects (`/runs/*/result`; a record's own member
                    // is never read) first: however many distinct ones a page holds, they do
                    // not push out a status met beside them (review33 F5: a sibling
                    // envelope met before nine records' errors was gone by the end page).
                    for (at, value) in records.into_iter().chain(envelope) {
                        for (member, value) in error_members(value) {
                            learn(&at, member, value);
                        }
                    }
                }
                for (member, value) in error_members(&body) {
                    learn("", member, value);
                }
            }
        }
        let listing_ids = listing
            .filter(|l| !l.is_empty())
            .map(|l| page_hash(&l.into_iter().map(|i| self.item_id(i)).collect::<Vec<_>>()));
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
        // A `OneList` page's matches are one list's entries while the server may count the
        // level its filter chose among: without `listing_path`, no page is full or short by
        // its count (review12 F2); the empty, totals and repeat ends stay.
        let size = e
            .page_size
            .filter(|_| !(one_list && e.listing_path.is_none()));
        let full = pos.full || size.is_some_and(|size| n >= size);
        // A short page ends the listing once the server has shown it honours the size (a
        // server capping the size below what was asked returns short pages all along).
        let short = size.is_some_and(|size| full && n < size);
        let pages = pos.pages + 1;
        let text_at = |path: Option<&BodyPath>| {
            path.and_then(|p| p.first(&body))
                .map(|v| text_ref(v).into_owned())
                .filter(|s| !s.is_empty())
        };
        // What the response says, where it says it; it overrides the page-length guess. A
        // `OneList` path's count is one list's entries while `total` may count the level its
        // filter chose among (groups): without `listing_path` its `total` is not compared, so it
        // cannot end the walk early (review15 N2: 12 + 20 entries reached a `total` of 30
        // groups at page 2 of 3); `has_more` and `total_pages` still speak.
        let total = totals
            .total
            .filter(|_| !(one_list && e.listing_path.is_none()));
        let told_done = match &pos.at {
            At::Page { page } => {
                let by_pages = totals
                    .total_pages
                    .map(|t| page.saturating_sub(e.cfg.pagination_config.start_page) + 1 >= t);
                let by_items = total.map(|t| items_after >= t);
                by_pages.or(by_items)
            }
            At::Offset { offset } => total.map(|t| offset + n >= t),
            _ => None,
        };
        // A page whose entries under the last filter are empty ends the walk as a short page
        // does (review12 F1): only where the response says nothing of the pages left, and
        // never when the listing is full (a page of 100 wrappers is a real page).
        let untold = totals.has_more.is_none() && told_done.is_none();
        let uncut_end = uncut_empty && size.is_none_or(|size| n < size);
        let last = totals.has_more == Some(false)
            || told_done == Some(true)
            || (untold && (short || uncut_end));
        // Backstop: pages with no items whose entries under the last filter do not change
        // end the walk after `IDLE_PAGES` (nothing else would: an API that ignores the page
        // parameter behind a wrapper that does change).
        // An uncut-empty page that does not end the walk (the response says more, or the
        // listing is full) is not counted: three Jira pages of issues without open subtasks in
        // a row are real pages, and the response's word or the listing's repeat guard bounds
        // the walk (review12 F1; losing pages costs documents, walking on costs requests).
        // A `OneList` page with no items is never counted, whatever its filtered level holds:
        // whether that level is past its end cannot be told from one page (a fixed set of
        // sections echoing a changing sibling, `{"result": [{"name": "stats", "took_ms": 7}]}`,
        // looks like a page of posts none of which has `attachments`, an absent member being
        // left out by `omitempty` APIs). Counting such pages ended real walks twice (review18
        // R1, review20 F1: silent loss, then prune); the repeat guard, the server's own end
        // (an empty level, a 404) and `max_pages` bound them, and `listing_path` says what a
        // page lists (review15 N7 is left to those).
        let idle_hash = (found.len() == 0)
            .then_some(uncut.as_ref())
            .flatten()
            .filter(|u| !u.is_empty())
            .map(|u| page_hash(&u.iter().map(|i| self.item_id(*i)).collect::<Vec<_>>()));
        let idle = match &idle_hash {
            Some(h) if pos.idle_hash.as_ref() == Some(h) => pos.idle + 1,
            _ => 0,
        };
        // Only where the response says nothing of the pages left: its word and `max_pages`
        // bound the walk otherwise (review15 N6).
        if untold && idle + 1 >= IDLE_PAGES {
            tracing::warn!(
                connector = SOURCE,
                pages = pos.pages,
                "{IDLE_PAGES} pages in a row held no items and the same entries under \
                 `items_path`'s last filter; the listing ends here (`listing_path` tells \
                 the walk what a page lists)"
            );
            return Ok((Page::last(PageItems::default()), learned_of(place, usual)));
        }
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
        // Hashed from the matches where the listing is not hashed.
        let ids = (listing_ids.is_none() && numbered && n > 0).then(|| match (&items, raw_ids) {
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
        let ids = listing_ids.or(ids);
        if ids.is_some() && ids == pos.prev {
            tracing::info!(
                connector = SOURCE,
                pages = pos.pages,
                "the page repeats the previous page's items (does the API ignore the page parameter?); the listing ends here"
            );
            return Ok((Page::last(PageItems::default()), learned_of(place, usual)));
        }
        let learned = match next_at {
            Some(_) => Learned::default(),
            None => learned_of(place.clone(), usual.clone()),
        };
        let page = Page::new(
            items,
            next_at.map(|at| Position {
                at,
                pages,
                full,
                items: items_after,
                prev: ids,
                carried: pos.carried.clone().filter(|_| place.is_none()),
                place_for: place_for(place.as_ref().or(pos.carried.as_ref())),
                place,
                usual,
                idle,
                idle_hash,
            }),
        );
        Ok((page, learned))
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
}

/// Pages in a row with no items and the same entries under the path's last filter that end
/// a walk (review11 F1's backstop).
const IDLE_PAGES: u64 = 3;

/// What a page that passed beside gone sub-responses (404, 410) is warned of, and Test
/// Connection reports (review69 M1), with the way to leave one out that is gone for good
/// (review71 L1).
pub(super) const GONE_PASSED: &str = "sub-responses were 404/410 (gone), and the page passed \
     beside the rest: a rolled-off index or a deleted user passes a sync without its records; \
     if one should exist, check the request; if one is gone for good, a filter in \
     `items_path` that leaves it out (`$.responses[?@.status == 200]…`) silences this";

/// The most gone entries a warning or Test Connection's error names; the rest are counted
/// (review71 L2: a 20-request Graph batch of gone users made a 6 KB line).
pub(super) const GONE_LISTED: usize = 3;

/// The most gone entries a walk remembers having warned of ([`RestClient::fetch_page`]).
const WARNED_CAP: usize = 1024;

/// The texts of `notes`, the first [`GONE_LISTED`] of them, and how many more there are.
pub(super) fn gone_list(notes: &[&GoneNote]) -> String {
    let mut text = notes
        .iter()
        .take(GONE_LISTED)
        .map(|n| n.text.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    if let Some(more) = notes.len().checked_sub(GONE_LISTED).filter(|n| *n > 0) {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

/// Where the whole answer is the throttle or outage `failed` and its body names no wait, the
/// answer's own `Retry-After` does (a JSON-RPC server's throttle sent at HTTP 200), read as
/// the HTTP client reads it.
fn header_wait(failed: &mut FailedSub, resp: &Response) {
    if failed.retry_after.is_none()
        && matches!(failed.meaning, Meaning::Throttled | Meaning::Outage)
    {
        failed.retry_after = resp
            .header("retry-after")
            .and_then(|v| retry_after_wait(v, SystemTime::now()));
    }
}

/// A hash of a page's item id hashes ([`RestClient::item_id`]).
fn page_hash(ids: &[String]) -> String {
    hash128(&ids.concat())
}

/// The error of a throttled or failed sub-response ([`ItemsPath::failed_sub_response`],
/// [`ItemsPath::failed_error_entry`]), by what its status means ([`Meaning`]): `RateLimited`
/// for a 429, with the wait its entry asks for, `Unavailable` for a 5xx (neither is a stall
/// of the checkpoint nor, in "Test Connection", a config that does not fit: review49 M1,
/// review53 M1); `Unauthenticated` or `PermissionDenied` for a 401 or 403, naming the
/// credential field as a whole answer's does; `InvalidData`, not retried, for another 4xx
/// (the sub-request as configured was refused, and will be on every run), and for a 424 that
/// depends on a gone entry ([`FailedSub::meaning`], review60 L1).
///
/// The attempt ends there: the page is not fetched again in the walk (a whole answer's 429
/// is, by the HTTP client). A sync run by `connector-sync`'s worker waits the entry's
/// `Retry-After` (else its own backoff) and resumes from the last checkpoint, which fetches
/// the page again.
fn failed_sub(failed: FailedSub, url: &Url, credential: Option<&str>) -> Error {
    let (kind, what) = match failed.meaning {
        Meaning::Throttled => (ErrorKind::RateLimited, "the source throttled a sub-request"),
        Meaning::Outage => (ErrorKind::Unavailable, "a sub-request failed at the source"),
        Meaning::Unauthenticated => (
            ErrorKind::Unauthenticated,
            "the source rejected the credentials for a sub-request",
        ),
        Meaning::Forbidden => (
            ErrorKind::PermissionDenied,
            "the source refused access for a sub-request",
        ),
        Meaning::Refused | Meaning::Answered | Meaning::Gone => {
            (ErrorKind::InvalidData, "the source refused a sub-request")
        }
    };
    let mut err = Error::new(kind, format!("{what}: the response's {}", failed.why))
        .with_url(url)
        .with_connector(SOURCE);
    match (kind, credential) {
        (ErrorKind::Unauthenticated | ErrorKind::PermissionDenied, Some(field)) => {
            err = Error::new(
                kind,
                format!("{what}: the response's {}; check `{field}`", failed.why),
            )
            .with_field(field)
            .with_url(url)
            .with_connector(SOURCE);
        }
        (ErrorKind::InvalidData, _) => err = err.with_retryable(false),
        _ => {}
    }
    match failed.retry_after {
        Some(wait) => err.with_retry_after(wait),
        None => err,
    }
}
