//! [`ItemsPath`]: the JSONPath to the item list, and what a page's listing and emptiness
//! are read from: the path's segments, its listing before the filters, why a page holds no
//! match, and whether its body says it is an error.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use serde_json_path::JsonPath;

use super::envelope::{
    ERROR_MEMBERS, Envelope, Meaning, envelope, own_status, retry_after, status_number,
    whole_failed,
};
use super::error_rule::{error_members, error_path_hint, is_set, located, shown, unusual_error};
use super::gone::answered_beside;
use super::place::{
    Seen, lists_at_place, place_of, record_map, records_by_shape, word, word_keyed_records,
};
#[cfg(test)]
use super::segments::string_literal;
use super::segments::{
    SegmentKind, before_last_filter, every_list_entry, segments, tested_members, unfiltered,
    up_to_last_filter,
};
use super::sub_response::{FailedSub, entry_named, sub_response_at};

/// A JSONPath (RFC 9535). A path without the leading `$` is read as relative to the root
/// (`data.items` is `$.data.items`), as RAGFlow's `jsonpath` did.
#[derive(Debug, Clone)]
pub(crate) struct ItemsPath {
    pub(super) path: JsonPath,
    /// The path as parsed (with its `$`).
    raw: String,
    /// The path with each filter's segment a wildcard, for a path with filters
    /// ([`ItemsPath::listing`]).
    listing: Option<JsonPath>,
    /// The path up to its last filter, every filter a wildcard, where that differs from
    /// `listing` ([`ItemsPath::uncut`]).
    uncut: Option<JsonPath>,
    /// For a path with a filter, what a no-match page tells by whether any record listed
    /// something ([`ItemsPath::failed_envelopes`]): for a [`Shape::Entries`] path, the path up
    /// to its last filter, every filter a wildcard (`$.results[*].hits[*]` of
    /// `$.results[*].hits[?@.public]`), what that filter chose among; for a
    /// [`Shape::OneList`] path, the entries of every list the path would take with its
    /// filters read as wildcards (`$.results[*].report.sections[*].items[*]` of
    /// `$.results[*].report.sections[?@.name == 'rows'].items`: a `summary` section the
    /// filter dropped is structure, not a cut row, review46 R1). `None` where a descendant
    /// search comes first or is the last filter (review44 N2: `uncut`, kept for numbered
    /// walks, is none for a [`Shape::OneList`] path, and `listing` is the records; review46
    /// R3: a filter before that search chose among the records).
    pub(super) chosen_among: Option<JsonPath>,
    /// The members the path's last filter reads (`public` of `..[?@.public == true]`,
    /// [`tested_members`]), for a path where `chosen_among` is `None`: a list none of whose
    /// entries holds one is not a listing that filter cut ([`lists_below`]).
    tested: Vec<String>,
    /// What the path's matches are, from its syntax alone ([`Shape`]).
    pub(super) shape: Shape,
    /// For a [`Shape::OneList`] path, the path up to its last filter, as written: what the
    /// filter chose among, whose place a run learns ([`ItemsPath::place`]).
    chooser: Option<JsonPath>,
    /// The segments the path opens with that select no entry of a listing (names, indexes,
    /// descendant names), where there are any: what they reach and its ancestors are the
    /// response's envelopes ([`Envelopes`]).
    opening: Option<JsonPath>,
    /// For a path with a filter, what it walks before its last filter, every earlier filter a
    /// wildcard, where that goes past `opening` (`$.results[*].report.rows` of
    /// `$.results[*].report.rows[?…]`, [`before_last_filter`]): what it reaches is read as
    /// what the opening reaches, so an object the path names below its records (`report`)
    /// is an envelope as `$..rows[?…]` reads it (review34: a page on which every record's
    /// report failed read as the empty last page, then prune).
    through: Option<JsonPath>,
    /// The levels of sub-responses the path goes through: each wildcard or filter followed
    /// by a name, as the path up to it (every filter a wildcard), with the names that follow
    /// it up to the next segment that is not a name: `($.responses[*], [hits, hits])` of
    /// `$.responses[*].hits.hits[*]`, `($.responses[*], [body, value])` of
    /// `$.responses[*].body.value[?…]` ([`ItemsPath::failed_sub_response`]: each entry
    /// there may be a sub-response, review49 M3). Empty where the path has no such name; it
    /// stops at a descendant name or search (where it stands, an entry's depth is not the
    /// path's, review49 P1: `descends` reads those). Third, where a filter came before the
    /// level's entries, the path up to them with its filters kept (`$.responses[?@.status ==
    /// 200]`): the entries the user chose ([`ItemsPath::filtered_out`]).
    pub(super) levels: Vec<(JsonPath, Vec<String>, Option<JsonPath>)>,
    /// Whether the path holds a descendant name or search (`$..hits.hits[*]`): its
    /// sub-responses are read around its matches ([`ItemsPath::failed_in_search`]).
    pub(super) descends: bool,
    /// `through` cut after each of its wildcards and filters (`$.jobs.*` of
    /// `$.jobs.*.artifacts[?…]`): what each selects is a record, and what holds it holds
    /// records, whatever its size, keys or shape (review35 R1: a page of one job, or of jobs
    /// keyed by words before the run had a place, read its job as an envelope, and the job's
    /// own `error` failed the page on every run).
    entries: Vec<JsonPath>,
}

/// What a path's matches are, told by its syntax, never by a page (review11 F2: a page with
/// one match and a page with several must be measured in the same units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// No filter: one match that is a list is the list of items, as always.
    Plain,
    /// A filter, and the path ends in a segment that selects many (a filter, wildcard, slice,
    /// union or search): each match is an item, a list included.
    Entries,
    /// A filter, and the path ends in a name or index below it
    /// (`$.result[?@.name == 'docs'].items`): the filter chose a list, and one list match is
    /// the list of items.
    OneList,
}

impl ItemsPath {
    /// Parses `path`.
    ///
    /// # Errors
    /// The parser's message.
    pub(crate) fn parse(path: &str) -> Result<Self, String> {
        let p = path.trim();
        let full = if p.starts_with('$') {
            p.to_owned()
        } else {
            format!("$.{p}")
        };
        let path = JsonPath::parse(&full).map_err(|e| format!("is not a valid JSONPath: {e}"))?;
        let listing = unfiltered(&full).and_then(|p| JsonPath::parse(&p).ok());
        let cuts = segments(&full);
        let filtered = cuts.iter().any(|(_, k)| {
            matches!(
                k,
                SegmentKind::Filter | SegmentKind::Search { filter: true }
            )
        });
        let shape = match cuts.last().map(|(_, k)| k) {
            _ if !filtered => Shape::Plain,
            Some(SegmentKind::Name(_) | SegmentKind::Index | SegmentKind::Descendant(_)) => {
                Shape::OneList
            }
            _ => Shape::Entries,
        };
        let uncut = (shape == Shape::Entries)
            .then(|| up_to_last_filter(&full))
            .flatten()
            .and_then(|p| JsonPath::parse(&p).ok())
            .filter(|u| {
                listing
                    .as_ref()
                    .is_some_and(|l| l.to_string() != u.to_string())
            });
        // The last filter, and the end of the segment before it.
        let last_filter = cuts.iter().rposition(|(_, k)| {
            matches!(
                k,
                SegmentKind::Filter | SegmentKind::Search { filter: true }
            )
        });
        let chosen_among = match (shape, last_filter.map(|i| &cuts[i].1)) {
            (Shape::Entries, Some(SegmentKind::Filter)) => up_to_last_filter(&full),
            (Shape::OneList, Some(SegmentKind::Filter)) => every_list_entry(&full),
            _ => None,
        }
        .and_then(|p| JsonPath::parse(&p).ok());
        let tested = match last_filter {
            Some(i) if chosen_among.is_none() => {
                let start = i.checked_sub(1).map_or(1, |j| cuts[j].0);
                tested_members(&full[start..cuts[i].0])
            }
            _ => Vec::new(),
        };
        let chooser = cuts
            .iter()
            .rfind(|(_, k)| {
                matches!(
                    k,
                    SegmentKind::Filter | SegmentKind::Search { filter: true }
                )
            })
            .filter(|_| shape == Shape::OneList)
            .and_then(|(end, _)| JsonPath::parse(full[..*end].trim_end()).ok());
        let opening = cuts
            .iter()
            .take_while(|(_, k)| {
                matches!(
                    k,
                    SegmentKind::Name(_) | SegmentKind::Index | SegmentKind::Descendant(_)
                )
            })
            .last()
            .and_then(|(end, _)| JsonPath::parse(full[..*end].trim_end()).ok());
        let (through, entries) = before_last_filter(&full)
            .filter(|_| filtered)
            .and_then(|(p, entries)| Some((JsonPath::parse(&p).ok()?, entries)))
            .filter(|(t, _)| {
                opening
                    .as_ref()
                    .is_none_or(|o| o.to_string() != t.to_string())
            })
            .map(|(t, entries)| {
                let entries = entries
                    .iter()
                    .filter_map(|e| JsonPath::parse(e).ok())
                    .collect();
                (Some(t), entries)
            })
            .unwrap_or_default();
        let mut levels: Vec<(JsonPath, Vec<String>, Option<JsonPath>)> = Vec::new();
        let mut cut = String::from("$");
        // The same cut with its filters, and whether it has any.
        let mut kept = String::from("$");
        let mut filtered = false;
        // Whether a wildcard or filter came before, and whether the last level still takes
        // the names that follow (no index since).
        let mut many = false;
        let mut open = false;
        let mut start = 1;
        let mut descends = false;
        for (end, kind) in &cuts {
            match kind {
                SegmentKind::Search { .. } | SegmentKind::Descendant(_) => {
                    descends = true;
                    break;
                }
                SegmentKind::Name(name) if many => {
                    if open && let Some((_, names, _)) = levels.last_mut() {
                        names.push(name.clone());
                    } else if let Ok(p) = JsonPath::parse(&cut) {
                        let chosen = filtered.then(|| JsonPath::parse(&kept).ok()).flatten();
                        levels.push((p, vec![name.clone()], chosen));
                        open = true;
                    }
                }
                SegmentKind::Filter => {
                    many = true;
                    open = false;
                    filtered = true;
                }
                SegmentKind::Many => {
                    many = true;
                    open = false;
                }
                SegmentKind::Index => open = false,
                SegmentKind::Name(_) => {}
            }
            match kind {
                SegmentKind::Filter => cut.push_str("[*]"),
                _ => cut.push_str(&full[start..*end]),
            }
            kept.push_str(&full[start..*end]);
            start = *end;
        }
        descends |= cuts
            .iter()
            .any(|(_, k)| matches!(k, SegmentKind::Search { .. } | SegmentKind::Descendant(_)));
        Ok(Self {
            path,
            raw: full,
            listing,
            uncut,
            chosen_among,
            tested,
            shape,
            chooser,
            opening,
            through,
            entries,
            levels,
            descends,
        })
    }

    /// Where this path is `error_path` and a set value at it ([`is_set`]) belongs to a
    /// sub-response that was throttled or failed (429, or 500 to 599): the status is that of
    /// the nearest numeric `status`, else `code`, of an object from the value up to the first
    /// list (the value itself for Google's `{"error": {"code": 429, …}}` under `$[*].error`,
    /// its entry for Elasticsearch `_msearch`'s `$.responses[*].error`, the entry above the
    /// `body` for Microsoft Graph `$batch`'s `$.responses[*].body.error`, whatever `code`
    /// its body's error holds), and the wait the `headers.Retry-After` of that object or one
    /// above it asks for (review53 M1: the README's advice for `_msearch` and `$batch` set
    /// `error_path`, and such a page failed as `InvalidData` on `error_path`, its wait
    /// dropped). The worst of several wins ([`FailedSub::keep_worst`]); `None` where no set
    /// value has one.
    pub(crate) fn failed_error_entry(&self, body: &Value) -> Option<FailedSub> {
        let mut worst = None;
        for m in self.path.query_located(body) {
            if !is_set(m.node()) {
                continue;
            }
            let pointer = m.location().to_json_pointer();
            // The objects from the value up to the first list: the nearest numeric `status`
            // there, else the nearest `code` (review54 L2: a Graph entry's `status: 429`
            // above its body's application `"code": 1003`).
            let mut up = Vec::new();
            let mut at = pointer.as_str();
            loop {
                match body.pointer(at) {
                    Some(Value::Object(o)) => up.push(o),
                    Some(Value::Array(_)) if at != pointer => break,
                    _ => {}
                }
                let Some((parent, _)) = at.rsplit_once('/') else {
                    break;
                };
                at = parent;
            }
            let number = |key| {
                up.iter()
                    .enumerate()
                    .find_map(|(i, o)| Some((i, o.get(key).and_then(status_number)?)))
            };
            let says = |s: u64| s == 429 || (500..600).contains(&s);
            let outer = up.last().and_then(|o| envelope(o));
            // Else the list's entry (or the whole answer) as a sub-response says it: a
            // JSON-RPC throttle under `$.error` (`-32005`, whose code no status is) was
            // refused on `error_path`, its wait dropped (review69 L3).
            let Some((i, status)) = number("status")
                .or_else(|| number("code"))
                .filter(|(_, s)| says(*s))
                .or_else(|| {
                    outer
                        .as_ref()
                        .filter(|e| says(e.status))
                        .map(|e| (up.len() - 1, e.status))
                })
            else {
                continue;
            };
            // The list's entry, where it names its request (review60 M3).
            let id = entry_named(outer.as_ref().and_then(|e| e.id), ", ");
            FailedSub {
                why: format!(
                    "`error_path` `{}` is set at `{pointer}`: {} (status {status}{id}: a \
                     sub-response that failed)",
                    self.as_str(),
                    shown(m.node())
                ),
                status,
                meaning: Meaning::of(status),
                // A `$batch` answer's `headers` lie beside its `body`, above the error: read
                // on the status's object and each one above it (review55 L3); else what the
                // list's entry asks for in its body (Google's `RetryInfo`).
                retry_after: up[i..]
                    .iter()
                    .find_map(|o| retry_after(o))
                    .or_else(|| outer.and_then(|e| e.retry_after)),
            }
            .keep_worst(&mut worst);
        }
        worst
    }

    /// Whether one match that is a list stands for its entries: a path without filters, or
    /// one that ends in a name or index below its filter (`$.result[?@.name == 'docs'].items`).
    /// A filtered path that ends in a segment selecting many (`$.values[?@[2] == 'x']`) takes
    /// each match as an item, whatever a page holds.
    pub(crate) fn expands_one_list(&self) -> bool {
        self.shape != Shape::Entries
    }

    /// Whether the path holds a filter.
    pub(crate) fn filtered(&self) -> bool {
        self.shape != Shape::Plain
    }

    /// Whether a filter chose the list whose entries are the items
    /// (`$.result[?@.name == 'docs'].items`): a page is measured by that list's entries, and
    /// a page without the list holds none.
    pub(crate) fn one_list(&self) -> bool {
        self.shape == Shape::OneList
    }

    /// The entries the path's last filter chose among, every filter read as a wildcard
    /// (`$.results[*].hits[?@.public]` lists every entry of every `hits`), where that is not
    /// [`ItemsPath::listing`] already: a page whose listing stays full of wrappers (Algolia's
    /// `results[0]`, holding the page's number) is still empty when this is (review11 F1).
    pub(crate) fn uncut<'a>(&self, body: &'a Value) -> Option<Vec<&'a Value>> {
        self.uncut.as_ref().map(|p| p.query(body).all())
    }

    /// The entries of the listing a page holds, before the path's filters: what the path
    /// matches up to its first segment that selects many, a filter there read as a wildcard
    /// (`$.data[?@.status == 'published']` lists every entry of `data`;
    /// `$.data[*].versions[?@.latest]` and `$.groups[?@.open].items[*]` every entry of `data`
    /// or `groups`, the level the server pages; a union holding a filter, `$.data[?@.a, 0]`,
    /// every entry once). `None` for a path without filters, whose listing is its matches,
    /// and for a filter in a nameless descendant search (`$..[?@.kind == 'doc']`): read as a
    /// wildcard that would list every value of the body, so such a path's matches count as
    /// its listing.
    ///
    /// A numbered walk measures a page by its listing (where it ends, how far an offset
    /// moves): a filter that leaves a page's entries out does not make it empty or short.
    pub(crate) fn listing<'a>(&self, body: &'a Value) -> Option<Vec<&'a Value>> {
        self.listing.as_ref().map(|p| p.query(body).all())
    }

    /// [`ItemsPath::listing`]'s path, as text.
    pub(crate) fn listing_text(&self) -> Option<String> {
        self.listing.as_ref().map(ToString::to_string)
    }

    /// The path as parsed, with its leading `$`.
    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    /// Every match.
    pub(crate) fn query<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        self.path.query(value).all()
    }

    /// Why `body` holds no match: `Ok` when the path leads to lists that are empty or whose
    /// entries its filters all left out, to an empty object, or to `null` where it stands for
    /// a list (an API's empty list, as Go writes a nil slice): an empty page; `Err` naming
    /// where the body's shape is not the path's.
    ///
    /// The path is walked one segment at a time (each prefix queried again: this runs only
    /// for a page with no match); at the first segment that matches nothing, each value the
    /// path had reached decides. A 200 answer may be an error body (`{"data": null,
    /// "errors": [..]}`, `{"error": "busy"}`), which must never read as an empty listing (a
    /// walk that ends early, then a prune of the tail), so anything but an empty list fails:
    /// - a name segment (`.data`, `['data']`) on an object that does not hold it, or on
    ///   `null`: a name the config requires is missing;
    /// - a descendant name (`..data`) found nowhere;
    /// - a wildcard, filter, index, slice or union on a **non-empty object**: an object
    ///   whose members it all drops looks like an error object, not a listing; except a
    ///   filter over an object whose members are all objects (a record map keyed by id), and
    ///   a nameless descendant search (`$..[?…]`) over a body that holds a list somewhere;
    /// - a scalar where a list or object is needed.
    ///
    /// A path whose prefix cannot be read back (not expected: every segment's end is a path)
    /// fails too ("cannot tell"): the page fails, as any page with no match did before.
    ///
    /// # Errors
    /// "`$.data` has no `items`", "`$.data` is null", "`$.data` is a string, not a list or
    /// object", "`$.data` is an object with members, none of which `[*]` takes"; with what
    /// that means for the page ([`NoMatch::means`]): the whole answer is itself a failed
    /// sub-response (review60 M2), the page holds only gone sub-responses (review60 L5), or
    /// else the body's shape is not the path's.
    pub(crate) fn why_none<'v>(&self, body: &'v Value, seen: &Seen<'_>) -> Result<(), NoMatch<'v>> {
        let mut gone = false;
        let Err(why) = self.no_match(body, seen, &mut gone) else {
            return Ok(());
        };
        // A whole answer that is a failed sub-response's (a JSON-RPC or Google error at HTTP
        // 200) is a throttle, an outage or refused credentials as an entry's would be
        // (review60 M2); read before the gone entries, and not under `error_path: false`.
        let means = match whole_failed(body).filter(|_| seen.whole_errors) {
            Some(found) => Means::Failed(found),
            // Every sub-response gone (an index alias missing during a swap): it may pass
            // with time, and the config is not to blame (review60 L5).
            None if gone => Means::Gone,
            None => Means::Misfit,
        };
        Err(NoMatch { why, means })
    }

    /// [`ItemsPath::why_none`], setting `gone` where the page's sub-responses are all gone.
    fn no_match(&self, body: &Value, seen: &Seen<'_>, gone: &mut bool) -> Result<(), String> {
        let cannot_tell = || {
            "where the response's shape leaves the path cannot be told, so the page is not \
             taken for an empty one"
                .to_owned()
        };
        let whole = self.path.to_string();
        let mut reached = vec![(String::new(), body)];
        let mut at = "$";
        // What the path went past because the object lacks the name it needs, where the
        // object is an error's (review35 S2).
        let mut bare = Vec::new();
        for (end, kind) in segments(&self.raw) {
            let prefix = self.raw[..end].trim_end();
            let Ok(path) = JsonPath::parse(prefix) else {
                return Err(cannot_tell());
            };
            // The split must be the parser's: its canonical text a prefix of the whole path's.
            if !whole.starts_with(&path.to_string()) {
                return Err(cannot_tell());
            }
            let next: Vec<(String, &Value)> = path
                .query_located(body)
                .into_iter()
                .map(|m| (m.location().to_json_pointer(), m.node()))
                .collect();
            if let SegmentKind::Name(name) = &kind
                && seen.guess_errors
                && self.filtered()
            {
                bare.extend(reached.iter().filter_map(|(pointer, value)| {
                    let object = value.as_object()?;
                    (!object.contains_key(name) && error_object(object))
                        .then(|| (pointer.clone(), *value, name.clone()))
                }));
            }
            if next.is_empty() {
                let segment = self.raw[at.len()..prefix.len()].trim();
                for (pointer, value) in &reached {
                    let value = *value;
                    use SegmentKind::{Descendant, Filter, Index, Many, Name, Search};
                    // A sub-response that answered without a body (a `$batch` 204, its `body`
                    // missing or `null`) delivers nothing; one whose target is gone (404, 410), or whose `body` is (a
                    // `$batch` 404's error), delivers nothing beside one that answered, but a
                    // page of only such is no empty page (review55 M3: an `_msearch` over an
                    // alias missing during a swap read as the empty last page, then prune).
                    if let Name(name) = &kind
                        && let Some((entry, found)) = sub_response_at(body, pointer, value)
                    {
                        match Meaning::of(found.status) {
                            // Or with `"body": null` (review55 L5).
                            // Not the whole answer: a relay's `{"id", "status": 200,
                            // "headers"}` is no empty page (review60 M2).
                            Meaning::Answered
                                if (entry == pointer && !entry.is_empty()) || value.is_null() =>
                            {
                                continue;
                            }
                            Meaning::Gone if answered_beside(body, entry) => continue,
                            // The whole answer's 404/410 at HTTP 200 (an API that always
                            // answers 200, a wrong endpoint or id in the config): no batch's
                            // entry, and not retried (review63 L1).
                            Meaning::Gone if entry.is_empty() => {
                                return Err(format!(
                                    "`{at}` has no `{name}`: the whole answer says 404/410 \
                                     (gone), so the page is not taken for an empty one"
                                ));
                            }
                            Meaning::Gone => {
                                *gone = true;
                                let id = entry_named(found.id, ", ");
                                let id = if id.is_empty() { id } else { format!("{id},") };
                                return Err(format!(
                                    "`{at}` has no `{name}`: `{entry}`{id} was 404/410 (gone) and \
                                     no sub-response beside it answered (every sub-response \
                                     was 404/410 or failed), so the page is not taken for an \
                                     empty one"
                                ));
                            }
                            _ => {}
                        }
                    }
                    let kind_of = match (value, &kind) {
                        (Value::Null, Index | Filter | Many | Search { .. }) => continue,
                        (Value::Null, _) => "null",
                        (Value::Object(_), Name(name)) => {
                            return Err(format!("`{at}` has no `{name}`"));
                        }
                        (Value::Object(_) | Value::Array(_), Descendant(name)) => {
                            return Err(format!("`{at}` holds no `{name}` at any depth"));
                        }
                        (Value::Array(_), Index | Filter | Many | Search { .. }) => continue,
                        (Value::Object(o), _) if o.is_empty() => continue,
                        // A record map (`{"a1": {..}, "b2": {..}}`, Firebase's listing): a
                        // filter that drops every record empties it. An error object holds
                        // scalars (`message`, `code`), or an object under a word
                        // (`{"error": {..}}`, `{"meta": {"status": ..}}`: review11 F5).
                        (Value::Object(o), Filter) if record_map(o, pointer, seen) => continue,
                        // A search over a body that holds a list where the run's items sat
                        // (`{"data": []}`), or anywhere but under an error's members before
                        // any page had items: a listing its filter emptied, not an error
                        // object (review11 F4).
                        (Value::Object(_), Search { .. }) if lists_at_place(body, value, seen) => {
                            continue;
                        }
                        (Value::Object(_), _) => {
                            return Err(format!(
                                "`{at}` is an object with members, none of which `{segment}` \
                                 takes"
                            ));
                        }
                        (Value::Array(_), _) => "a list, not an object",
                        (Value::String(_), _) => "a string, not a list or object",
                        (Value::Number(_), _) => "a number, not a list or object",
                        (Value::Bool(_), _) => "a boolean, not a list or object",
                    };
                    return Err(format!("`{at}` is {kind_of}"));
                }
                // The objects a filtered path went through may say it is an error where the
                // root does not (`{"result": {"data": {}, "error": "busy"}}`), a list's or
                // record map's entry left out: a record's `error` is its own (review12 F3;
                // what holds the records still speaks for the response, review25 F1). A path
                // without a filter is not checked here, as before fix11: its end page
                // (`{"result": {"items": [], "error": "none"}}`) may come before any page
                // taught the run that envelope.
                if seen.guess_errors {
                    if self.filtered() {
                        self.failed_envelopes(body, seen, &reached, &bare)?;
                    }
                    return self.every_entry_failed(body, seen);
                }
                return Ok(());
            }
            reached = next;
            at = prefix;
        }
        Ok(())
    }

    /// The check of [`ItemsPath::why_none`] on a filtered path's page with no match, once
    /// the path's segments led to lists (`reached`) that hold none: whether an object it went
    /// through says the page is an error ([`Envelopes`]), or an error object stands where
    /// the path needed a name (`bare`).
    ///
    /// - An object the opening reaches (`/result` of `$.result.data[?…]`, `/results/0/report`
    ///   of `$..rows[?…]`) fails the page on its own set `error` or `errors`.
    /// - An object the path names below its records, reached only by the segments before its
    ///   last filter (`/runs/0/result` of `$.runs[*].result.logs[?…]`), fails it only where
    ///   every record's object there does: one record's `result.error` is the record's own,
    ///   a field of its data (a run that failed), beside records whose logs the filter left
    ///   out (review35 R2); a page on which every record's report failed is an error
    ///   (review34), and so is one where a record's report failed and no list under the
    ///   last filter holds an entry (review39 F2).
    /// - An error object where a record's object lacks the name the path needs
    ///   (`{"report": {"error": "quota exceeded"}}` with no `rows`, an Elasticsearch
    ///   `_msearch` answer's `{"error": {…}, "status": 429}`, a Microsoft Graph `$batch`
    ///   answer's `"body": {"error": {…}}`), holding nothing but a response's own members
    ///   ([`error_object`]), fails it (review35 S2: else the page read as an empty one
    ///   beside records whose rows the filter left out); except one whose status is 404 or
    ///   410, and one with a `status` word beside its error, a record's state, counted with
    ///   the objects at its place as above (review39 F4).
    ///
    /// What the opening reaches is queried once for the page, and each map met is read once,
    /// not once per reached value (review20 F5, review25 F2: a descendant opening over 1,000
    /// entries).
    fn failed_envelopes(
        &self,
        body: &Value,
        seen: &Seen<'_>,
        reached: &[(String, &Value)],
        bare: &[(String, &Value, String)],
    ) -> Result<(), String> {
        let hint = || error_path_hint(seen.usual);
        let mut envelopes = self.envelopes(body, seen.place);
        // Per place below the records (`/runs/*/result`), in the order met: how many objects
        // the page holds there, how many say they failed, the first that does, and where
        // they lie.
        let mut records: Vec<Group> = Vec::new();
        for (pointer, _) in reached {
            for (up, value) in envelopes.above(pointer) {
                let named = envelopes.named(up);
                // Where it lies, told only for what may say it failed or is counted.
                if named && error_members(value).next().is_none() {
                    continue;
                }
                let at = envelopes.located(up);
                let why = unusual_error(value, &at, seen.usual).map(|(name, v)| {
                    format!(
                        "the response's `{up}/{name}` is set: {} ({})",
                        shown(v),
                        hint()
                    )
                });
                if named || !at.contains('*') {
                    match why {
                        Some(why) => return Err(why),
                        None => continue,
                    }
                }
                let i = match records.iter().position(|(a, ..)| *a == at) {
                    Some(i) => i,
                    None => {
                        records.push((at, 0, 0, None, Vec::new()));
                        records.len() - 1
                    }
                };
                let (_, objects, failed, first, ups) = &mut records[i];
                *objects += 1;
                ups.push(up.to_owned());
                if let Some(why) = why {
                    *failed += 1;
                    first.get_or_insert(why);
                }
            }
        }
        // An error object in place of a record's object that says its own state in a
        // `status` word (`{"result": {"status": "failed", "error": "exit code 1"}}`) is that
        // record's data, as a run's `result.error` beside its logs is: counted with the
        // objects at its place (review39 F4: it failed every page beside runs whose logs the
        // filter left out). One that says its request named nothing (404, 410: a deleted
        // user in a static `$batch` body, a rolled-off index in `_msearch`) is the record's
        // own, and what it named is gone.
        let mut own = vec![false; bare.len()];
        for ((pointer, value, _), own) in bare.iter().zip(&mut own) {
            let Some(object) = value.as_object() else {
                continue;
            };
            let up = pointer
                .rsplit_once('/')
                .and_then(|(up, _)| body.pointer(up));
            if sub_status(object, up).is_some_and(|s| s == 404 || s == 410) {
                *own = true;
                continue;
            }
            let at = envelopes.located(pointer);
            if !object
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(state_word)
                || !at.contains('*')
            {
                continue;
            }
            let Some((name, v)) = unusual_error(value, &at, seen.usual) else {
                continue;
            };
            *own = true;
            let why = format!(
                "the response's `{pointer}/{name}` is set: {} ({})",
                shown(v),
                hint()
            );
            match records.iter_mut().find(|(a, ..)| *a == at) {
                Some((_, objects, failed, first, ups)) => {
                    *objects += 1;
                    *failed += 1;
                    first.get_or_insert(why);
                    ups.push(pointer.clone());
                }
                None => records.push((at, 1, 1, Some(why), vec![pointer.clone()])),
            }
        }
        // Where no record listed anything (every list under the last filter empty, or for a
        // path ending in a descendant search, no list with an entry below what it went
        // over), one object that failed is enough: nothing shows the others' lists were cut
        // by the filter rather than left empty (review39 F2: one failed report beside
        // reports whose rows were really empty read as the empty last page, then prune;
        // review44 N2: the same under a path that ends in a name below its filter). Queried
        // only for a page where such an object failed.
        let mut listed = None;
        for (_, objects, failed, first, ups) in records {
            let Some(why) = first else { continue };
            // A one-list path's filter chose a list, not rows: a section it dropped is
            // structure, empty or not, and no row was cut (review46 R1, review49).
            let listed = *listed.get_or_insert_with(|| match &self.chosen_among {
                _ if self.shape == Shape::OneList => false,
                Some(among) => !among.query(body).is_empty(),
                None => reached
                    .iter()
                    .any(|(_, value)| lists_below(value, &self.tested)),
            });
            // Every object met failed: the records counted, not the objects, where some
            // record lacks the object (a queued run with no `result`, review39 F3).
            if !listed
                || (failed == objects
                    && !self.records_without(body, &ups, seen.usual, &mut envelopes))
            {
                return Err(why);
            }
        }
        for ((pointer, value, needed), _) in bare.iter().zip(own).filter(|(_, own)| !own) {
            let at = envelopes.located(pointer);
            if let Some((name, v)) = unusual_error(value, &at, seen.usual) {
                return Err(format!(
                    "`{pointer}` holds no `{needed}` and its `{name}` is set: {} ({})",
                    shown(v),
                    hint()
                ));
            }
        }
        Ok(())
    }

    /// Whether some record the path's last wildcard or filter selects (`/runs/1` of
    /// `$.runs[*].result.logs[?…]`) holds none of `objects` (`/runs/0/result`) and says
    /// nothing failed, where each of them lies in such a record; `false` where one does not
    /// (nothing to count by). Only the entries that are objects or lists are records
    /// (review44 N5: a sibling counter, `{"jobs": {"j1": {..}, "total": 1}}`, or a `null`
    /// entry made a page of failed jobs silent where without it the page failed).
    ///
    /// Such a record counts as without the object only where, at the objects' place inside
    /// it (`/runs/1/result`), there is nothing (a queued run), `null`, or a value with no
    /// unusual error, and neither the record nor what lies between carries one
    /// (`{"id": 7, "error": "quota exceeded"}`; `{"status": 429, "error": "quota
    /// exceeded", "report": {}}`, review46 R4). A failed object that lacks the list
    /// (`{"report": {"error": "quota exceeded", "report_id": "r2"}}` with no `rows`) was
    /// not reached, yet counts as failed (review44 N1: else a page on which every report
    /// failed read as the empty last page, then prune).
    fn records_without(
        &self,
        body: &Value,
        objects: &[String],
        usual: &[String],
        envelopes: &mut Envelopes<'_>,
    ) -> bool {
        let Some(last) = self.entries.last() else {
            return false;
        };
        let records: HashSet<String> = last
            .query_located(body)
            .into_iter()
            .filter(|m| m.node().is_object() || m.node().is_array())
            .map(|m| m.location().to_json_pointer())
            .collect();
        let mut holding = HashSet::new();
        // Where the objects lie inside their records (`/result`).
        let mut inside = HashSet::new();
        for object in objects {
            let mut at = object.as_str();
            loop {
                let Some((up, _)) = at.rsplit_once('/') else {
                    return false;
                };
                if records.contains(up) {
                    holding.insert(up);
                    inside.insert(&object[up.len()..]);
                    break;
                }
                at = up;
            }
        }
        records
            .iter()
            .filter(|record| !holding.contains(record.as_str()))
            .any(|record| {
                inside.iter().all(|rest| {
                    // The record, what lies below it, and the place, each where it is.
                    std::iter::once(0)
                        .chain(rest.match_indices('/').skip(1).map(|(i, _)| i))
                        .chain(std::iter::once(rest.len()))
                        .all(|end| {
                            let pointer = format!("{record}{}", &rest[..end]);
                            body.pointer(&pointer).is_none_or(|value| {
                                unusual_error(value, &envelopes.located(&pointer), usual).is_none()
                            })
                        })
                })
            })
    }

    /// Where a page's items sat ([`Seen::place`]), from its first match's pointer `first`:
    /// the match's parent; for a [`Shape::OneList`] path, the parent of what its filter chose
    /// (`/sections/0` of `/sections/0/items` gives `[/sections`), since the match itself may
    /// not be a list (`$..[?@.type == 'articles'].attributes`) and a later page's chosen
    /// entries may not hold it (review15 N3).
    pub(crate) fn place(&self, body: &Value, first: &str) -> String {
        let chosen = self.chooser.as_ref().and_then(|c| {
            c.query_located(body)
                .locations()
                .map(|l| l.to_json_pointer())
                .filter(|c| {
                    first
                        .strip_prefix(c.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
                })
                .max_by_key(String::len)
        });
        match chosen {
            Some(c) => place_of(body, &c),
            None => place_of(body, first),
        }
    }

    /// The envelopes of `body` ([`Envelopes`]), read with the run's `place`
    /// ([`Seen::place`]): what the path's opening reaches is queried once.
    pub(crate) fn envelopes<'a>(&self, body: &'a Value, place: Option<&'a str>) -> Envelopes<'a> {
        let mut held = HashSet::new();
        let mut opened = Vec::new();
        let mut hold = |path: &JsonPath, held: &mut HashSet<String>| {
            for at in path.query_located(body).locations() {
                // Each pointer with those above it; where one is held, so are those above.
                let mut at = at.to_json_pointer();
                opened.push(at.clone());
                while held.insert(at.clone()) {
                    match at.rfind('/') {
                        Some(i) => at.truncate(i),
                        None => break,
                    }
                }
            }
        };
        if let Some(opening) = &self.opening {
            hold(opening, &mut held);
        }
        // What the opening alone holds; without `through`, all that is held.
        let named = match &self.through {
            Some(through) => {
                let named = held.clone();
                hold(through, &mut held);
                Some(named)
            }
            None => None,
        };
        // What the path's wildcards and filters select are records (review35 R1).
        let mut records = HashMap::new();
        for entries in &self.entries {
            for at in entries.query_located(body).locations() {
                let at = at.to_json_pointer();
                if let Some((parent, _)) = at.rsplit_once('/') {
                    records.insert(parent.to_owned(), true);
                }
            }
        }
        Envelopes {
            body,
            place,
            opened,
            held,
            named,
            records,
            in_record: HashMap::new(),
            walked_below: HashSet::new(),
            walked: HashSet::new(),
            given: HashSet::new(),
        }
    }

    /// Where each item of [`find_items`]'s [`Items::Matches`] lies, as JSON pointers: each
    /// match's, and for a [`Shape::OneList`] path that matched several lists, each entry's of
    /// every list, as `find_items` flattens them (review15 N4: one pointer per list put an
    /// entry's hole on the wrong item, or on none).
    ///
    /// [`find_items`]: super::find_items
    /// [`Items::Matches`]: super::Items::Matches
    pub(crate) fn item_locations(&self, value: &Value) -> Vec<String> {
        let located = self.path.query_located(value);
        let flatten = self.one_list() && located.len() > 1;
        located
            .into_iter()
            .flat_map(|m| {
                let at = m.location().to_json_pointer();
                match m.node() {
                    Value::Array(list) if flatten => {
                        (0..list.len()).map(|i| format!("{at}/{i}")).collect()
                    }
                    _ => vec![at],
                }
            })
            .collect::<Vec<_>>()
    }

    /// Where each match lies, as JSON pointers, in the order of [`find_items`]'s matches.
    pub(crate) fn locations(&self, value: &Value) -> Vec<String> {
        self.path
            .query_located(value)
            .locations()
            .map(|l| l.to_json_pointer())
            .collect()
    }
}

/// Objects at one place below a page's records ([`ItemsPath::failed_envelopes`]): the place
/// (`/runs/*/result`), how many the page holds, how many say they failed, the first that
/// does, and where each lies.
type Group = (String, usize, usize, Option<String>, Vec<String>);

/// Whether `object` is an error object, all its members a response's own
/// (`{"error": {…}, "status": 429}`): one that stands where a record's object should, not a
/// record's data that happens to hold an `error` field beside others (an Elastic Common
/// Schema log document's `error.message`, review35 S2).
pub(super) fn error_object(object: &serde_json::Map<String, Value>) -> bool {
    !object.is_empty() && object.keys().all(|k| ERROR_MEMBERS.contains(&k.as_str()))
}

/// Why a page with no match is no empty page ([`ItemsPath::why_none`]), and what that means
/// for it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NoMatch<'v> {
    /// Where the response's shape leaves the path, or what it says instead.
    pub(crate) why: String,
    /// What it means: whose the fault is, and whether time heals it.
    pub(crate) means: Means<'v>,
}

/// What a page with no match that is no empty page means ([`NoMatch`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Means<'v> {
    /// The body's shape is not the path's: the config does not fit this answer (or the
    /// answer is an error the path cannot tell), on every run alike.
    Misfit,
    /// The page's sub-responses are all gone (404, 410) or failed, none answered: not a
    /// config that does not fit, and it may pass with time (an index alias missing during a
    /// swap): retried, not blamed on `items_path` (review60 L5).
    Gone,
    /// The whole answer is itself a sub-response that failed ([`whole_failed`]): what its
    /// status means says how the page fails (review60 M2: a throttle read as a config error
    /// on `items_path`, never retried).
    Failed(Envelope<'v>),
}

impl std::fmt::Display for NoMatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// The numeric status of a sub-response's entry: its own `status` or `code`, else its
/// `error`'s (Google's `{"error": {"code": 429, …}}`).
fn entry_status(entry: &serde_json::Map<String, Value>) -> Option<u64> {
    own_status(entry).or_else(|| {
        entry
            .get("error")
            .and_then(Value::as_object)
            .and_then(own_status)
    })
}

/// A name as a JSON pointer token (`~` and `/` escaped).
pub(super) fn escape(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains(['~', '/']) {
        name.replace('~', "~0").replace('/', "~1").into()
    } else {
        name.into()
    }
}

/// Where the object at `pointer` lies, each list's index written `*` ([`located`]): a
/// record's object (`/runs/*/result`), as a page with items learns its usual members there.
pub(super) fn lists_as_records(body: &Value, pointer: &str) -> String {
    located(pointer, |parent| {
        matches!(body.pointer(parent), Some(Value::Array(_)))
    })
}

/// The numeric status of an error object standing for a sub-response: its own, else that of
/// the object holding it, `up` (a Microsoft Graph `$batch` answer's `status` beside its
/// `body`) ([`entry_status`]).
fn sub_status(object: &serde_json::Map<String, Value>, up: Option<&Value>) -> Option<u64> {
    entry_status(object).or_else(|| up.and_then(Value::as_object).and_then(own_status))
}

/// Whether an object that carries an error beside a record's list says the source throttled
/// or failed, not that the record's own work did: its `status` or `code`, or its `error`'s,
/// is 429 or 500 to 599, or a word that names a throttle or an outage ([`state_word`]:
/// `RESOURCE_EXHAUSTED`, `UNAVAILABLE`). A failed CI run's `{"error": "exit code 1",
/// "steps": []}` says neither (review60 M1).
pub(super) fn says_outage(object: &serde_json::Map<String, Value>) -> bool {
    let error = object.get("error").and_then(Value::as_object);
    let outage = |status: u64| status == 429 || (500..600).contains(&status);
    let word = |o: &serde_json::Map<String, Value>| {
        o.get("status")
            .and_then(Value::as_str)
            .map(str::trim)
            .is_some_and(|s| {
                !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()) && !state_word(s)
            })
    };
    entry_status(object).is_some_and(outage) || word(object) || error.is_some_and(word)
}

/// Whether a string `status` beside an error is a record's state (`failed`, `cancelled`,
/// `timed_out`, `error`, `ABORTED`: a job's), not a number or a word that names a throttle or
/// an outage (`"429"`, `RESOURCE_EXHAUSTED`, `UNAVAILABLE`), which says the sub-response
/// itself failed (review49 M2: such a report read as one record's failed state, and the page
/// as the empty last page, then prune). `error`, `aborted` and `internal` are states: a
/// job-listing API's records say them of their own run, and failing every page on them was a
/// false positive (issue 17); only a sub-response's status fails a page by itself.
fn state_word(status: &str) -> bool {
    const FAILED: [&str; 7] = [
        "rate_limited",
        "throttled",
        "too_many_requests",
        "resource_exhausted",
        "unavailable",
        "deadline_exceeded",
        "service_unavailable",
    ];
    let s = status.trim();
    !s.is_empty()
        && !s.bytes().all(|b| b.is_ascii_digit())
        && !FAILED.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// Whether `value` is, or holds below it outside its `error` and `errors`, a list with an
/// entry that holds one of `tested`, the members the path's last filter reads (any entry,
/// where it reads none): what a descendant search that matched nothing under it went over
/// (`$.results[*].report..[?…]`), where the path gives no cut of its own (review44 N2). A
/// list of column names, or of headers without those members, is not rows the filter cut
/// (review46 R2).
fn lists_below(value: &Value, tested: &[String]) -> bool {
    match value {
        Value::Array(list) => list.iter().any(|entry| {
            tested.is_empty()
                || entry
                    .as_object()
                    .is_some_and(|o| tested.iter().any(|m| o.contains_key(m)))
                || lists_below(entry, tested)
        }),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k != "error" && k != "errors" && lists_below(v, tested)),
        _ => false,
    }
}

/// Whether an item of the page (`items`, [`ItemsPath::item_locations`]) lies below
/// `pointer`: an envelope that carried its status next to the items it delivered, not instead
/// of them (review33 F1). A list whose entries the path's filter all left out delivered none
/// (review34 N2: a record cut off partway, its rows all private, taught its error as usual).
pub(crate) fn feeds(items: &[String], pointer: &str) -> bool {
    items.iter().any(|at| {
        at.strip_prefix(pointer)
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// A page's envelopes, for a path with a filter ([`ItemsPath::envelopes`]): the objects
/// the path's opening names, indexes and descendant names reach, and those that hold what
/// they reach (`/jobs` of `$.jobs.*.artifacts[?…]`, `/result/data` and `/result` of
/// `$..data[?…]`, review18 R4), the root left out (its `error` is read on its own). A
/// record is not one: a list's entry, or a record map's (`/jobs/j2`; with word keys,
/// `/jobs/build`, where the run's place says the items came from one of its entries:
/// [`word_keyed_records`]), whose `error` is its own (review12 F3, review15 N9, review20
/// F4); what holds the records is (`{"pipeline": {"jobs": {..}, "error": ..}}`, review25 F1).
/// Nor is an object inside a record the opening went through, above the innermost such
/// record: `/runs/0/result` of `$..logs[?…]` over `{"runs": [{"result": {"error": ..,
/// "steps": [{"logs": []}]}}]}` is the run's own, as it is for `$.runs[*].result…`
/// (review29 F1). Each map is read once a page, and each envelope met once (review25 F2).
pub(crate) struct Envelopes<'a> {
    body: &'a Value,
    /// The run's place ([`Seen::place`]).
    place: Option<&'a str>,
    /// What the opening reaches.
    opened: Vec<String>,
    /// What the opening reaches, and every pointer above it.
    held: HashSet<String>,
    /// What the path's opening alone (its names, indexes and descendant names) reaches, and
    /// every pointer above it: `held` without what the path walks below its records before
    /// its last filter (`/results/0/report` of `$.results[*].report.rows[?…]`); `None` where
    /// that is `held`.
    named: Option<HashSet<String>>,
    /// Whether the value at each pointer met holds records.
    records: HashMap<String, bool>,
    /// Whether each pointer met lies in a record (is one, or is below one).
    in_record: HashMap<String, bool>,
    /// The pointers walked below every record the opening went through: what is above them
    /// was walked too, the same way.
    walked_below: HashSet<String>,
    /// The pointers walked above such a record, likewise (review32 F6).
    walked: HashSet<String>,
    /// The envelopes given.
    given: HashSet<String>,
}

impl<'a> Envelopes<'a> {
    /// The envelopes at `pointer` and above it, each with its pointer, up to the root (left
    /// out), leaving out those an earlier call on this page gave.
    pub(crate) fn above<'p>(&mut self, pointer: &'p str) -> Vec<(&'p str, &'a Value)> {
        let mut found = Vec::new();
        let mut at = pointer;
        // Whether no record the opening went through was met yet: then what is met is read,
        // as fix15 did; above one, only what lies in no record.
        let mut below = true;
        while !at.is_empty() {
            let Some((parent, _)) = at.rsplit_once('/') else {
                break;
            };
            let held = self.held.contains(at);
            let record = self.holds_records(parent);
            below &= !(record && held);
            // Where this walk is, in the same state, an earlier one went on to the root.
            let walked = if below {
                &mut self.walked_below
            } else {
                &mut self.walked
            };
            if !walked.insert(at.to_owned()) {
                break;
            }
            if held
                && !record
                && (below || !self.in_record(parent))
                && self.given.insert(at.to_owned())
                && let Some(value) = self.body.pointer(at)
            {
                found.push((at, value));
            }
            at = parent;
        }
        found
    }

    /// The envelopes above everything the opening reaches, left out those an earlier call
    /// gave: all a no-match page is checked on, for a page with items to learn from
    /// (review29 F2: not only its first match's).
    pub(crate) fn all(&mut self) -> Vec<(String, &'a Value)> {
        let opened = std::mem::take(&mut self.opened);
        let found = opened
            .iter()
            .flat_map(|at| {
                self.above(at)
                    .into_iter()
                    .map(|(up, value)| (up.to_owned(), value))
                    .collect::<Vec<_>>()
            })
            .collect();
        self.opened = opened;
        found
    }

    /// Whether the path's opening reaches `pointer` or what lies below it: an envelope its
    /// names, indexes and descendant names lead to, not one only the path's segments below
    /// its records do (`/results/0/report` of `$.results[*].report.rows[?…]`).
    fn named(&self, pointer: &str) -> bool {
        self.named
            .as_ref()
            .map_or_else(|| self.held.contains(pointer), |n| n.contains(pointer))
    }

    /// Where the envelope at `pointer` lies, each record's index or key written `*`
    /// ([`located`]): what a learned sign is tied to (review32 F1).
    /// A map of ids counts as records here whatever its size (review33 F2: else the same
    /// envelope was `/jobs/*/result` on a page of two jobs and `/jobs/j3/result` on a page
    /// of one, and a sign learned on one failed the other); below the root only, and a map
    /// of one only where its key holds a digit or starts with `-` (Firebase's push ids), as
    /// ids do (review34 N1: `{"Result": {…}}`
    /// of a last page without its `NextToken` became `/*`, and a sign learned at `/Result`
    /// failed it on every run).
    pub(crate) fn located(&mut self, pointer: &str) -> String {
        let body = self.body;
        located(pointer, |parent| {
            self.holds_records(parent)
                || (!parent.is_empty()
                    && matches!(body.pointer(parent), Some(Value::Object(map))
                    if !map.is_empty() && records_by_shape(map)
                        && !map.keys().any(|k| word(k))
                        && (map.len() > 1
                            || map.keys().all(|k| {
                                k.starts_with('-') || k.bytes().any(|b| b.is_ascii_digit())
                            }))))
        })
    }

    /// Whether `pointer` is a record (an entry of what holds records) or lies below one.
    fn in_record(&mut self, pointer: &str) -> bool {
        let mut met = Vec::new();
        let mut at = pointer;
        let inside = loop {
            if let Some(&inside) = self.in_record.get(at) {
                break inside;
            }
            let Some((parent, _)) = at.rsplit_once('/') else {
                break false;
            };
            met.push(at);
            if self.holds_records(parent) {
                break true;
            }
            at = parent;
        };
        // Each met lies below the last: in a record if that is, else in none.
        for at in met {
            self.in_record.insert(at.to_owned(), inside);
        }
        inside
    }

    /// Whether the value at `pointer` holds records: a list, or a record map (ids for keys,
    /// `{"j1": {…}, "j2": {…}}`; or words, as [`word_keyed_records`] tells).
    fn holds_records(&mut self, pointer: &str) -> bool {
        if let Some(&records) = self.records.get(pointer) {
            return records;
        }
        let records = match self.body.pointer(pointer) {
            None | Some(Value::Array(_)) => true,
            Some(Value::Object(map)) => {
                records_by_shape(map)
                    && map.len() > 1
                    && (!map.keys().any(|k| word(k))
                        || word_keyed_records(map, pointer, &self.held, self.place))
            }
            Some(_) => false,
        };
        self.records.insert(pointer.to_owned(), records);
        records
    }
}

#[cfg(test)]
mod tests {
    use super::super::place::empty_at_place;
    use super::*;
    use serde_json::json;

    /// Segments split as the parser reads them (review9 F5): blank space between segments,
    /// bracket names with escaped quotes, unions and filters holding quotes and brackets.
    #[test]
    fn segments_read_names_as_the_parser_does() {
        let kinds =
            |p: &str| -> Vec<SegmentKind> { segments(p).into_iter().map(|(_, k)| k).collect() };
        let name = |n: &str| SegmentKind::Name(n.to_owned());
        assert_eq!(kinds("$.data [*]"), [name("data"), SegmentKind::Many]);
        assert_eq!(kinds("$['it\\'s'][*]"), [name("it's"), SegmentKind::Many]);
        assert_eq!(kinds("$[\"a\\\"b\"]"), [name("a\"b")]);
        assert_eq!(kinds("$['a','b']"), [SegmentKind::Many]);
        assert_eq!(
            kinds("$..data[?@.t == ']']"),
            [
                SegmentKind::Descendant("data".to_owned()),
                SegmentKind::Filter
            ]
        );
        assert_eq!(
            kinds("$.a[0][ -1 ][0:2].*[?@.x, 0] ..[?@.y]..*"),
            [
                name("a"),
                SegmentKind::Index,
                SegmentKind::Index,
                SegmentKind::Many,
                SegmentKind::Many,
                SegmentKind::Filter,
                SegmentKind::Search { filter: true },
                SegmentKind::Search { filter: false },
            ]
        );
        assert_eq!(string_literal("'a'b'"), None);
        assert_eq!(string_literal("'\\u00e9'").as_deref(), Some("\u{e9}"));
        // Every prefix of these paths parses, trimmed; each why_none answers, never panics.
        for path in ["$.data [*]", "$ ['it\\'s'] [*]", "$..data[?@.t == ']'].x"] {
            let p = ItemsPath::parse(path).unwrap();
            assert!(
                p.why_none(&json!({"error": "busy"}), &Seen::default())
                    .is_err(),
                "{path}"
            );
        }
    }

    #[test]
    fn listings_read_filters_as_wildcards() {
        let cases = [
            ("$.data[?@.status == 'published']", Some("$.data[*]")),
            ("data[?@.status == 'published']", Some("$.data[*]")),
            // Cut after the first segment that selects many (review10 F1): the level the
            // server pages.
            ("$.groups[?@.open].items[*]", Some("$.groups[*]")),
            ("$.groups[?@.open].items[?@.id > 1]", Some("$.groups[*]")),
            ("$.data[*].versions[?@.latest == true]", Some("$.data[*]")),
            ("$.data[0:5].versions[?@.latest]", Some("$.data[0:5]")),
            ("$.result[0].items[?@.id]", Some("$.result[0].items[*]")),
            ("$.result[?@.name == 'docs'].items", Some("$.result[*]")),
            // Blank space before a segment (review10 F5).
            ("$.data [?@.status == 'published']", Some("$.data [*]")),
            ("$ .data [?@.x]", Some("$.data[*]")),
            ("$['data'] [?@.x]", Some("$['data'][*]")),
            ("$['data'][?@.a, 0]", Some("$['data'][*]")),
            ("$.data[?@.tags[?@ == 'x']]", Some("$.data[*]")),
            ("$.data[?@.t == '?]' || @.u == \"]?\"]", Some("$.data[*]")),
            ("$[?@.id]", Some("$[*]")),
            ("$..items[?@.id]", Some("$..items[*]")),
            ("$..[?@.id]", None),
            ("$..*[?@.id]", None),
            ("$.data[*]", None),
            ("$.data", None),
            ("$['a?'][0]", None),
        ];
        for (path, want) in cases {
            let p = ItemsPath::parse(path).unwrap();
            assert_eq!(
                p.listing.as_ref().map(ToString::to_string),
                want.map(|w| JsonPath::parse(w).unwrap().to_string()),
                "{path}"
            );
        }
        let body = json!({"data": [{"status": "draft"}, {"status": "published"}, 3]});
        let p = ItemsPath::parse("$.data[?@.status == 'published']").unwrap();
        assert_eq!(p.query(&body).len(), 1);
        assert_eq!(p.listing(&body).map(|l| l.len()), Some(3));
        assert_eq!(ItemsPath::parse("$.data[*]").unwrap().listing(&body), None);
    }

    /// review11 F1, F2: what the path's syntax says of its matches and of the entries under
    /// its last filter.
    #[test]
    fn shapes_and_uncut_listings_come_from_the_path() {
        let cases = [
            ("$.data[*]", Shape::Plain, None),
            ("$.data", Shape::Plain, None),
            ("$.data[?@.x]", Shape::Entries, None),
            ("$.values[?@[2] == 'p']", Shape::Entries, None),
            (
                "$.results[*].hits[?@.public]",
                Shape::Entries,
                Some("$.results[*].hits[*]"),
            ),
            (
                "$.data[*].versions[?@.latest]",
                Shape::Entries,
                Some("$.data[*].versions[*]"),
            ),
            // After the last filter, the items' own inside: the groups are the listing.
            ("$.groups[?@.open].items[*]", Shape::Entries, None),
            (
                "$.a[?@.x].b[*].c[?@.y]",
                Shape::Entries,
                Some("$.a[*].b[*].c[*]"),
            ),
            ("$.result[?@.name == 'docs'].items", Shape::OneList, None),
            ("$.result[?@.name == 'docs'].items[0]", Shape::OneList, None),
            ("$..[?@.title]", Shape::Entries, None),
        ];
        for (path, shape, uncut) in cases {
            let p = ItemsPath::parse(path).unwrap();
            assert_eq!(p.shape, shape, "{path}");
            assert_eq!(
                p.uncut.as_ref().map(ToString::to_string),
                uncut.map(|u| JsonPath::parse(u).unwrap().to_string()),
                "{path}"
            );
        }
        // What the last filter chose among, for every shape (review44 N2).
        let among = [
            ("$.data[*]", None),
            ("$.data[?@.x]", Some("$.data[*]")),
            (
                "$.results[*].report.sections[?@.name == 'rows'].items",
                Some("$.results[*].report.sections[*].items[*]"),
            ),
            ("$.groups[?@.open].items[*]", Some("$.groups[*]")),
            ("$.results[*].report..[?@.public]", None),
            // A filter before the last, a search: not what that search chose among
            // (review46 R3).
            ("$.results[?@.kind == 'report'].report..[?@.public]", None),
            ("$..[?@.title]", None),
        ];
        for (path, chosen_among) in among {
            let p = ItemsPath::parse(path).unwrap();
            assert_eq!(
                p.chosen_among.as_ref().map(ToString::to_string),
                chosen_among.map(|u| JsonPath::parse(u).unwrap().to_string()),
                "{path}"
            );
        }
        // What the last filter reads, where there is no cut to measure by (review46 R2).
        let tested = [
            ("$.results[*].report..[?@.public == true]", vec!["public"]),
            (
                "$.a..[?@['kind'] == 'doc' && @.n > 1 && @.kind != '@.x']",
                vec!["kind", "n"],
            ),
            ("$.a..[?@ == 'x']", vec![]),
            ("$.a..[?length(@) > 1]", vec![]),
            ("$.a[?@.x]", vec![]),
        ];
        for (path, want) in tested {
            assert_eq!(ItemsPath::parse(path).unwrap().tested, want, "{path}");
        }
        // One row matched: the row, never its cells.
        let body = json!({"values": [["1", "a", "p"], ["2", "b", "d"]]});
        let p = ItemsPath::parse("$.values[?@[2] == 'p']").unwrap();
        let found = super::super::find_items(&body, Some(&p), b"");
        assert!(matches!(found, super::super::Items::Matches(ref m) if m.len() == 1));
    }

    /// review34: what a filtered path walks before its last filter, where that goes past its
    /// opening, is read as the opening is.
    #[test]
    fn a_path_is_read_through_to_its_last_filter() {
        let cases = [
            (
                "$.results[*].report.rows[?@.public]",
                Some("$.results[*].report.rows"),
            ),
            ("$.a[?@.x].b[*].c[?@.y]", Some("$.a[*].b[*].c")),
            ("$.jobs.*.artifacts[?@.x]", Some("$.jobs.*.artifacts")),
            ("$..rows[?@.public]", None),
            ("$.data[?@.x]", None),
            ("$.result[?@.name == 'docs'].items", None),
            ("$..[?@.title]", None),
            ("$.data..[?@.title]", None),
            ("$.data[*]", None),
        ];
        for (path, through) in cases {
            let p = ItemsPath::parse(path).unwrap();
            assert_eq!(
                p.through.as_ref().map(ToString::to_string),
                through.map(|t| JsonPath::parse(t).unwrap().to_string()),
                "{path}"
            );
        }
        // review35 R1: the levels whose entries the path's wildcards and filters select.
        let cases: [(&str, &[&str]); 5] = [
            ("$.jobs.*.artifacts[?@.x]", &["$.jobs.*"]),
            ("$.*.comments[?@.x]", &["$.*"]),
            ("$.a[?@.x].b [ * ].c[?@.y]", &["$.a[*]", "$.a[*].b[*]"]),
            ("$.a['x','y'].b[0:2].c[?@.y]", &[]),
            ("$..rows[?@.public]", &[]),
        ];
        for (path, entries) in cases {
            let p = ItemsPath::parse(path).unwrap();
            let got: Vec<String> = p.entries.iter().map(ToString::to_string).collect();
            let want: Vec<String> = entries
                .iter()
                .map(|e| JsonPath::parse(e).unwrap().to_string())
                .collect();
            assert_eq!(got, want, "{path}");
        }
    }

    /// review11 F4, F5: where the items sat, and what a later page must hold there.
    #[test]
    fn places_and_record_maps() {
        let body =
            json!({"data": [{"id": 1}], "groups": [{"items": [{"id": 2}]}], "map": {"a1": {}}});
        assert_eq!(place_of(&body, "/data/0"), "[/data");
        assert_eq!(place_of(&body, "/groups/0/items/0"), "[/groups/*/items");
        assert_eq!(place_of(&body, "/map/a1"), "{/map");
        assert!(empty_at_place(&body, "/groups/*/items"));
        assert!(empty_at_place(&json!({"groups": []}), "/groups/*/items"));
        assert!(!empty_at_place(
            &json!({"groups": [{"n": 1}]}),
            "/groups/*/items"
        ));
        let seen = |place| Seen {
            place: Some(place),
            ..Seen::default()
        };
        let p = ItemsPath::parse("$..[?@.title]").unwrap();
        assert!(p.why_none(&json!({"data": []}), &seen("[/data")).is_ok());
        assert!(p.why_none(&json!({"other": []}), &seen("[/data")).is_err());
        assert!(
            p.why_none(&json!({"m": "x", "errors": []}), &Seen::default())
                .is_err()
        );
        let p = ItemsPath::parse("$.data[?@.ok]").unwrap();
        let words = json!({"data": {"throttle": {"a": 1}}});
        assert!(p.why_none(&words, &Seen::default()).is_err());
        assert!(p.why_none(&words, &seen("{/data")).is_ok());
        assert!(p.why_none(&words, &seen("[/data")).is_err());
        let status = json!({"data": {"k1": {"a": 1}, "status": {"s": "busy"}}});
        assert!(p.why_none(&status, &seen("{/data")).is_err());
        assert!(
            p.why_none(&json!({"data": {"k1": {}, "k2": {}}}), &Seen::default())
                .is_ok()
        );
    }

    /// review29 F1/F2: above an entry the opening went through, only what lies in no entry is
    /// given (`/runs/0/result` is the run's own); [`Envelopes::all`] walks from everything
    /// the opening reached, and gives an envelope met in both states of a walk once.
    #[test]
    fn envelopes_inside_an_outer_record_are_its_own() {
        let p = ItemsPath::parse("$..logs[?@.level == 'error']").unwrap();
        let body = json!({"data": {"runs": [{"result": {"error": "exit code 1",
            "steps": [{"logs": []}]}}], "error": "busy"}});
        let mut envelopes = p.envelopes(&body, None);
        let given: Vec<&str> = envelopes
            .above("/data/runs/0/result/steps/0/logs")
            .into_iter()
            .map(|(at, _)| at)
            .collect();
        assert_eq!(
            given,
            ["/data/runs/0/result/steps/0/logs", "/data/runs", "/data"]
        );
        let why = p.why_none(&body, &Seen::default()).unwrap_err().why;
        assert!(why.contains("`/data/error` is set"), "{why}");
        // `/a/logs` is met below an entry from itself, above one from `/a/logs/0/logs`.
        let body = json!({"a": {"logs": [{"logs": []}], "error": null}});
        let mut envelopes = p.envelopes(&body, None);
        let all = envelopes.all();
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(envelopes.all().is_empty());
    }

    /// review34 N1: a map of one is records for a sign's place only below the root and
    /// keyed by an id (`/jobs/*/result` on a page of one job, as on a page of two), so a
    /// last page's `{"Result": {…}}` keeps its place `/Result`.
    #[test]
    fn a_map_of_one_is_records_only_below_the_root_and_by_an_id() {
        let p = ItemsPath::parse("$..rows[?@.ok]").unwrap();
        let one = json!({"jobs": {"j3": {"result": {"rows": []}}}});
        assert_eq!(
            p.envelopes(&one, None).located("/jobs/j3/result"),
            "/jobs/*/result"
        );
        let pushed = json!({"jobs": {"-NaBxQz": {"result": {"rows": []}}}});
        assert_eq!(
            p.envelopes(&pushed, None).located("/jobs/-NaBxQz/result"),
            "/jobs/*/result"
        );
        let last = json!({"Result": {"rows": []}});
        assert_eq!(p.envelopes(&last, None).located("/Result"), "/Result");
        let named = json!({"data": {"Build": {"result": {"rows": []}}}});
        assert_eq!(
            p.envelopes(&named, None).located("/data/Build/result"),
            "/data/Build/result"
        );
    }

    /// review25 F1/F2: a page's envelopes leave out a record map's entries but not what holds
    /// them, and a walk up from each of many reached values reads each map once and gives
    /// each envelope once (300 named entries: not 300 readings of `jobs`).
    #[test]
    fn envelopes_are_walked_once_a_page() {
        let name = |i: usize| {
            format!(
                "job_{}{}",
                (b'a' + (i / 26) as u8) as char,
                (b'a' + (i % 26) as u8) as char
            )
        };
        let jobs: serde_json::Map<String, Value> = (0..300)
            .map(|i| (name(i), json!({"artifacts": []})))
            .collect();
        let body = json!({"pipeline": {"jobs": jobs, "error": "busy"}});
        let p = ItemsPath::parse("$..artifacts[?@.public == true]").unwrap();
        let place = format!("[/pipeline/jobs/{}/artifacts", name(0));
        let mut envelopes = p.envelopes(&body, Some(&place));
        let reached: Vec<String> = (0..300)
            .map(|i| format!("/pipeline/jobs/{}/artifacts", name(i)))
            .collect();
        let mut given = Vec::new();
        for pointer in &reached {
            given.extend(
                envelopes
                    .above(pointer)
                    .into_iter()
                    .map(|(at, _)| at.to_owned()),
            );
        }
        let mut expected = reached.clone();
        expected.insert(1, "/pipeline/jobs".to_owned());
        expected.insert(2, "/pipeline".to_owned());
        assert_eq!(given, expected);
        // `jobs` is read once, as are `pipeline`, the root, and each entry (what holds its
        // `artifacts`).
        assert_eq!(envelopes.records.len(), 300 + 3);
        let seen = Seen {
            place: Some(&place),
            ..Seen::default()
        };
        let why = p.why_none(&body, &seen).unwrap_err().why;
        assert!(why.contains("`/pipeline/error` is set"), "{why}");
    }
}
