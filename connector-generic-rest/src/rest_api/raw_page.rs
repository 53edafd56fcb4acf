//! Pages read without a DOM of their items, where the config allows it.
//!
//! When `items_path` is a plain chain of names (`$.data`, `$.hits.hits`, `data.items`), the
//! fetch reads a page once with the items skipped (counted, not built): what it needs besides
//! them (the next cursor, `has_more`, totals) comes from the rest of the body, parsed into a
//! [`Value`] as before with an empty list where the items were. The items stay in the body's
//! bytes, and conversion reads them there one at a time into borrowed [`Json`] trees,
//! dropped as soon as each is a document.
//!
//! Where the mapping has a [`Plan`] and the walk is by cursor or link (a numbered walk reads
//! trees in the fetch for its repeat guard), the fetch's pass reads each item with the plan
//! instead of skipping it ([`keep`]): what conversion needs of it (the slots' values, strings
//! as spans of the body) goes into a [`KeptPage`], so each page's items are read once. A
//! body that is not UTF-8, or an item the plan cannot read, leaves the page to [`locate`]
//! and conversion as above, so every error comes where and as it came before.
//!
//! # An item that cannot be read
//! A page's items are read in one pass over the body, where an error ends the pass. An item
//! that cannot be read where it lies (a number out of range, such as `1e400`, where it is
//! read; a lone surrogate; nesting too deep; a string that is not UTF-8) must not take the
//! items after it with it. So when a pass ends at an item, the body is split into its items'
//! bytes ([`item_spans`], which reads only the syntax, as [`IgnoredAny`] does, accepting any
//! number), and each item from that one on is read alone from its own bytes: those that
//! read go on as before, and one that does not is handed over as [`Unread`] (its bytes and
//! why), to fail alone, named ([`Mapping::unread_failure`]). Pages whose items all read take
//! the one pass, as before: the good path costs nothing more.
//!
//! [`Mapping::unread_failure`]: super::convert::Mapping::unread_failure
//!
//! Everything else takes the [`Value`] path of [`find_items`](super::model::find_items), so
//! nothing any response gives changes: an `items_path` with filters, wildcards or indexes; a
//! match that is not a list; a name repeated along the path (serde_json keeps the last, which
//! a single pass cannot know in advance); a cursor or next-URL path that could read into the
//! items (its first names follow the items'); a body that is not JSON (the `Value` parse
//! reports it as before). There, a body the `Value` parse cannot hold (`1e400` anywhere) is
//! read again leniently, and an item that holds such a value fails alone likewise
//! ([`super::lenient`]).

use std::fmt;
use std::sync::Arc;

use connector_core::reexports::Bytes;
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

use super::direct::{KeptPage, KeptWriter, Plan, Slots};
use super::lenient::Held;
use super::model::{BodyPath, FieldPath};
use super::node::{Json, Key};
use super::syntax::{item_spans, path_at, push_name};

/// What is called with each item of a page (or the item, [`Unread`]), and its index.
pub(crate) type OnItem<'f> = &'f mut dyn for<'x, 'i> FnMut(usize, Result<&'i Json<'x>, Unread<'i>>);

/// What is called with each item of a page as a [`Plan`] read it (or the item, [`Unread`]),
/// and its index.
pub(crate) type OnSlots<'f> =
    &'f mut dyn for<'x, 'i> FnMut(usize, Result<&'i Slots<'x>, Unread<'i>>);

/// An item of a page that could not be read, even alone from its own bytes (module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unread<'i> {
    /// The item's bytes in the body.
    pub(crate) text: &'i [u8],
    /// Why it could not be read; its line and column are in `text`.
    pub(crate) error: &'i serde_json::Error,
}

/// How the items are read.
enum Read<'f> {
    /// Into what conversion needs of them.
    Keep(&'f Plan, &'f mut KeptWriter),
    /// Skipped, counted.
    Skip,
    /// As trees.
    Trees(OnItem<'f>),
    /// Into slots.
    Direct(&'f Plan, OnSlots<'f>),
}

/// A page's items: [`Value`]s, or still in the body's bytes at a plain path.
#[derive(Debug, Clone)]
pub(crate) enum PageItems {
    Values(Vec<Value>),
    Raw {
        body: Bytes,
        path: Arc<[String]>,
        len: usize,
    },
    /// Read by the mapping's plan in the fetch's pass ([`keep`]): conversion reads what was
    /// kept of each item, and `body` only where a kept string lies.
    Kept {
        body: Bytes,
        kept: KeptPage,
    },
    /// Read from a body serde_json could not hold whole ([`super::lenient`]): each item a
    /// [`Value`], or in the body's bytes when it cannot be read.
    Lenient {
        body: Bytes,
        items: Vec<Held>,
    },
}

impl PageItems {
    /// How many items (entries of any JSON type) the page has.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Values(list) => list.len(),
            Self::Raw { len, .. } => *len,
            Self::Kept { kept, .. } => kept.len(),
            Self::Lenient { items, .. } => items.len(),
        }
    }
}

impl Default for PageItems {
    fn default() -> Self {
        Self::Values(Vec::new())
    }
}

/// Calls `on_item` with each item of `body` at `path`, in page order, an item that cannot be
/// read as [`Unread`] (module docs); its result is `false` when the body is not what
/// [`locate`] read (which cannot happen for the bytes it read), and `on_item` may then not
/// have seen every item.
pub(crate) fn for_each(body: &[u8], path: &[String], on_item: OnItem<'_>) -> bool {
    match walk(body, path, false, Read::Trees(&mut *on_item)) {
        Ok(_) => true,
        // Not in one pass: from the item it ended at, each item alone (module docs).
        Err(handed) => for_each_from(body, path, handed, on_item),
    }
}

/// [`for_each`] with each item read by `plan` into slots instead of a tree.
pub(crate) fn for_each_direct(
    body: &[u8],
    path: &[String],
    plan: &Plan,
    on_item: OnSlots<'_>,
) -> bool {
    // Not in one pass: from the item it ended at, each item alone (module docs).
    let Err(from) = walk(body, path, false, Read::Direct(plan, &mut *on_item)) else {
        return true;
    };
    each_alone(
        body,
        path,
        from,
        &mut |i, text| match read_slots(plan, text) {
            Ok(slots) => on_item(i, Ok(&slots)),
            Err(error) => on_item(
                i,
                Err(Unread {
                    text,
                    error: &error,
                }),
            ),
        },
    )
}

/// The item `text` read alone by `plan` into slots.
///
/// # Errors
/// serde_json's, for an item the plan cannot read.
pub(crate) fn read_slots<'a>(plan: &Plan, text: &'a [u8]) -> serde_json::Result<Slots<'a>> {
    let mut slots = plan.slots();
    let mut de = serde_json::Deserializer::from_slice(text);
    plan.seed(&mut slots).deserialize(&mut de)?;
    de.end()?;
    Ok(slots)
}

/// Reads `body`: the body without its items (an empty list in their place) and how many
/// there are, with `on_item` called on each (an item that cannot be read as [`Unread`], as
/// [`for_each`] hands it over); `None` when the fast path does not apply (module docs), and
/// the [`Value`] path must read the body instead.
pub(crate) fn locate(
    body: &[u8],
    path: &[String],
    on_item: Option<OnItem<'_>>,
) -> Option<(Value, usize)> {
    let Some(on_item) = on_item else {
        return walk(body, path, true, Read::Skip).ok();
    };
    let from = match walk(body, path, true, Read::Trees(&mut *on_item)) {
        Ok(read) => return Some(read),
        Err(handed) => handed,
    };
    // An item did not read as a tree: the rest of the body read again, the items skipped,
    // and those from that item on read alone.
    let located = walk(body, path, true, Read::Skip).ok()?;
    for_each_from(body, path, from, on_item).then_some(located)
}

/// [`for_each`]'s items from entry `from` on, each read alone.
fn for_each_from(body: &[u8], path: &[String], from: usize, on_item: OnItem<'_>) -> bool {
    each_alone(body, path, from, &mut |i, text| {
        let mut de = serde_json::Deserializer::from_slice(text);
        let read = Json::deserialize(&mut de).and_then(|item| de.end().map(|()| item));
        match read {
            Ok(item) => on_item(i, Ok(&item)),
            Err(error) => on_item(
                i,
                Err(Unread {
                    text,
                    error: &error,
                }),
            ),
        }
    })
}

/// Calls `on_text` with the bytes of each item of `body` at `path` from entry `from` on, to
/// be read alone; `false` when the body cannot be split into its items ([`item_spans`]),
/// which a body [`locate`] read always can.
fn each_alone(
    body: &[u8],
    path: &[String],
    from: usize,
    on_text: &mut dyn FnMut(usize, &[u8]),
) -> bool {
    let Some(spans) = item_spans(body, path) else {
        return false;
    };
    for (i, span) in spans.into_iter().enumerate().skip(from) {
        let Some(text) = body.get(span) else {
            return false;
        };
        on_text(i, text);
    }
    true
}

/// The JSON path of entry `index` of the list at `items`, as in `$.data[2]`.
pub(crate) fn item_path(items: &[String], index: usize) -> String {
    let mut at = String::from("$");
    for name in items {
        push_name(&mut at, name);
    }
    at.push_str(&format!("[{index}]"));
    at
}

/// What `plan` reads of one item from its bytes `text` alone: `None` where it cannot read
/// them (what the plan reads is itself a value that cannot be read, or `text` is no value).
pub(crate) fn read_alone_by<'i>(text: &'i [u8], plan: &Plan) -> Option<Slots<'i>> {
    let mut slots = plan.slots();
    let mut de = serde_json::Deserializer::from_slice(text);
    plan.seed(&mut slots).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(slots)
}

impl<'i> Unread<'i> {
    /// Why the item (at the JSON path `item`, [`item_path`]) could not be read, and where:
    /// serde_json's reason and the JSON path in the body of the value it stopped at, as in
    /// "number out of range at `$.data[2].score`".
    pub(crate) fn reason(&self, item: &str) -> String {
        let message = self.error.to_string();
        let (line, column) = (self.error.line(), self.error.column());
        // serde_json writes the position after its reason; the path below says it better.
        let reason = message
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&message);
        let mut at = item.to_owned();
        // The error's offset in the item's bytes: its line's start, then the column.
        let start_of_line = (line > 1)
            .then(|| {
                self.text
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .nth(line - 2)
                    .map(|(i, _)| i + 1)
            })
            .flatten()
            .unwrap_or(0);
        path_at(self.text, start_of_line + column, &mut at);
        format!("{reason} at `{at}`")
    }
}

/// [`locate`] without `on_item`, with each item read by `plan` into a [`KeptPage`] instead
/// of skipped, so that conversion does not read the items again. `None` where [`locate`]
/// gives `None`, and also for a body that is not UTF-8 or an item the plan cannot read
/// (a number out of range, nesting too deep), or whose kept values would hold more than
/// about twice the body ([`super::direct::KeptWriter::over_budget`]: many tiny items or
/// values): the caller then reads the page with [`locate`],
/// which reads it as before (the same error, or the items read again at conversion, where
/// such an item fails alone, [`Unread`]).
pub(crate) fn keep(body: &[u8], path: &[String], plan: &Plan) -> Option<(Value, KeptPage)> {
    if path.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut page = plan.kept_page(text)?;
    let mut state = State {
        found: None,
        repeated: false,
        build_rest: true,
        handed: 0,
        on_item: Read::Keep(plan, &mut page),
    };
    let rest = read_body(
        &mut serde_json::Deserializer::from_str(text),
        path,
        &mut state,
    )
    .ok()?;
    let (found, repeated) = (state.found, state.repeated);
    let kept = page.finish();
    (!repeated && found == Some(kept.len())).then_some((rest, kept))
}

/// The rest of the body and how many items it has; else how many items were handed to
/// `on_item` before the pass ended (at an item that did not read, or for a body the fast path
/// does not take).
fn walk(
    body: &[u8],
    path: &[String],
    build_rest: bool,
    on_item: Read<'_>,
) -> Result<(Value, usize), usize> {
    if path.is_empty() {
        return Err(0);
    }
    let read_whole = !build_rest && !matches!(on_item, Read::Skip);
    let mut state = State {
        found: None,
        repeated: false,
        build_rest,
        handed: 0,
        on_item,
    };
    // Items read for conversion: the body checked as UTF-8 once, in one pass over all of it,
    // so that serde_json does not check each string it borrows again (a call per key and
    // per string read, a few dozen per item). A body that is not UTF-8 (a string the read
    // skips may hold any bytes) is read as bytes, as before, so what is read never differs.
    // The fetch's pass skips the items unread, which checks fewer bytes than the body holds.
    let text = read_whole.then(|| std::str::from_utf8(body).ok()).flatten();
    let rest = match text {
        Some(text) => read_body(
            &mut serde_json::Deserializer::from_str(text),
            path,
            &mut state,
        ),
        None => read_body(
            &mut serde_json::Deserializer::from_slice(body),
            path,
            &mut state,
        ),
    };
    match (rest, state.found) {
        (Ok(rest), Some(n)) if !state.repeated => Ok((rest, n)),
        _ => Err(state.handed),
    }
}

/// The whole body read by `de`: the rest of it as [`Along`] builds it.
fn read_body<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    path: &[String],
    state: &mut State<'_>,
) -> serde_json::Result<Value> {
    let rest = Along { path, state }.deserialize(&mut *de)?;
    de.end()?;
    Ok(rest)
}

struct State<'f> {
    /// The item count, once the list was read.
    found: Option<usize>,
    /// A name of the path appeared twice in one object.
    repeated: bool,
    build_rest: bool,
    /// Items handed to `on_item` so far.
    handed: usize,
    on_item: Read<'f>,
}

/// Follows `path` down the body; the list at its end is the items.
struct Along<'s, 'f> {
    path: &'s [String],
    state: &'s mut State<'f>,
}

impl<'de> DeserializeSeed<'de> for Along<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.path.is_empty() {
            d.deserialize_seq(self)
        } else {
            d.deserialize_map(self)
        }
    }
}

impl<'de> Visitor<'de> for Along<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.path.is_empty() {
            "a list of items"
        } else {
            "an object on the items' path"
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some((name, deeper)) = self.path.split_first() else {
            return Err(serde::de::Error::custom("the items are not a list"));
        };
        let mut rest = Map::new();
        let mut seen = false;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value = if key == name.as_str() {
                if seen {
                    self.state.repeated = true;
                }
                seen = true;
                map.next_value_seed(Along {
                    path: deeper,
                    state: &mut *self.state,
                })?
            } else if self.state.build_rest {
                map.next_value::<Value>()?
            } else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if self.state.build_rest {
                rest.insert(key.into_owned(), value);
            }
        }
        Ok(Value::Object(rest))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !self.path.is_empty() {
            return Err(serde::de::Error::custom("a list on the items' path"));
        }
        let mut n = 0;
        let State {
            on_item, handed, ..
        } = &mut *self.state;
        match on_item {
            Read::Trees(on_item) => {
                while let Some(item) = seq.next_element::<Json<'de>>()? {
                    on_item(n, Ok(&item));
                    n += 1;
                    *handed = n;
                }
            }
            Read::Keep(plan, page) => {
                while seq.next_element_seed(plan.keep(page))?.is_some() {
                    n += 1;
                    if page.over_budget() {
                        return Err(serde::de::Error::custom("the page's items hold too much"));
                    }
                }
            }
            Read::Direct(plan, on_item) => {
                let mut slots = plan.slots();
                while seq.next_element_seed(plan.seed(&mut slots))?.is_some() {
                    on_item(n, Ok(&slots));
                    n += 1;
                    *handed = n;
                }
            }
            Read::Skip => {
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
            }
        }
        if self.state.found.is_some() {
            self.state.repeated = true;
        }
        self.state.found = Some(n);
        Ok(Value::Array(Vec::new()))
    }
}

/// The names of a JSONPath made only of name selectors from the root (`$.a.b`, `$['a']`,
/// `$["a"].b`); `None` for anything else.
pub(crate) fn simple_names(path: &str) -> Option<Vec<String>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut names = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let len = after
                .char_indices()
                .find(|&(i, c)| {
                    !(c == '_'
                        || c.is_ascii_alphabetic()
                        || (i > 0 && c.is_ascii_digit())
                        || u32::from(c) >= 0x80)
                })
                .map_or(after.len(), |(i, _)| i);
            if len == 0 {
                return None;
            }
            names.push(after[..len].to_owned());
            rest = &after[len..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let quote = after.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
            let inner = &after[1..];
            let end = inner.find(quote)?;
            let name = &inner[..end];
            if name.contains('\\') || name.chars().any(|c| u32::from(c) < 0x20) {
                return None;
            }
            let close = inner[end + 1..].strip_prefix(']')?;
            names.push(name.to_owned());
            rest = close;
        } else {
            return None;
        }
    }
    Some(names)
}

/// Whether a value read at `path` can lie inside the items at `items` (or contain them): true
/// unless the two part at some name before either ends.
pub(crate) fn may_reach(path: &BodyPath, items: &[String]) -> bool {
    let keys: Vec<(String, bool)> = match path {
        BodyPath::Json(p) => match simple_names(p.as_str()) {
            Some(names) => names.into_iter().map(|n| (n, true)).collect(),
            None => return true,
        },
        BodyPath::Field(p) => field_keys(p),
    };
    for (i, name) in items.iter().enumerate() {
        match keys.get(i) {
            None => return true,
            Some((key, _)) if key != name => return false,
            // The same name, read as a whole (a key) or indexed into: follows the items.
            Some((_, plain)) if !plain => return true,
            Some(_) => {}
        }
    }
    true
}

fn field_keys(p: &FieldPath) -> Vec<(String, bool)> {
    p.segment_keys()
        .map(|(k, plain)| (k.to_owned(), plain))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::node::Node;
    use super::*;

    #[test]
    fn simple_names_take_only_name_chains() {
        let names = |p: &str| simple_names(p);
        assert_eq!(names("$.data"), Some(vec!["data".to_owned()]));
        assert_eq!(
            names("$.hits.hits"),
            Some(vec!["hits".to_owned(), "hits".to_owned()])
        );
        assert_eq!(
            names("$['a b'][\"c\"].d_1"),
            Some(vec!["a b".to_owned(), "c".to_owned(), "d_1".to_owned()])
        );
        assert_eq!(names("$"), Some(vec![]));
        for other in [
            "$.data[*]",
            "$.data[0]",
            "$..data",
            "$.1a",
            "$.a.",
            "$['a\\'b']",
            "$[?@.x]",
            "data",
            "$.a b",
        ] {
            assert_eq!(names(other), None, "{other}");
        }
    }

    #[test]
    fn cursor_paths_that_read_into_the_items_are_seen() {
        let items = vec!["data".to_owned()];
        let reach = |p: &str| may_reach(&BodyPath::parse(p).unwrap(), &items);
        assert!(!reach("$.meta.next"));
        assert!(!reach("meta.next"));
        assert!(!reach("next"));
        assert!(reach("$.data"));
        assert!(reach("data[0].id"));
        assert!(reach("$.data[-1].id"));
        assert!(reach("$..next"));
        let nested = vec!["result".to_owned(), "items".to_owned()];
        let reach = |p: &str| may_reach(&BodyPath::parse(p).unwrap(), &nested);
        assert!(reach("result"));
        assert!(!reach("result.next"));
        assert!(reach("result.items[0]"));
        assert!(!reach("$.meta"));
    }

    /// Each entry of the page at `path` as trees (`plan` `None`) or slots read it (the kind
    /// and the field's value), an entry that cannot be read as its reason; with trees, also
    /// checks that `locate` hands over the same.
    fn entries(
        body: &[u8],
        path: &[String],
        plan: Option<(&Plan, &super::super::direct::Field)>,
    ) -> Vec<Result<Value, String>> {
        use super::super::direct::Item;
        let mut seen = Vec::new();
        let mut on = |i: usize, r: Result<Value, Unread<'_>>| {
            assert_eq!(i, seen.len());
            seen.push(r.map_err(|u| u.reason(&item_path(path, i))));
        };
        let read = match plan {
            None => for_each(body, path, &mut |i, item| on(i, item.map(Node::to_value))),
            Some((plan, field)) => for_each_direct(body, path, plan, &mut |i, item| {
                on(
                    i,
                    item.map(|s| {
                        let value = s.single(field).flatten().map(Node::to_value);
                        serde_json::json!([s.kind(), value])
                    }),
                );
            }),
        };
        assert!(read);
        if plan.is_none() {
            let mut located = Vec::new();
            let (_, n) = locate(
                body,
                path,
                Some(&mut |i, item| {
                    located.push(
                        item.map(Node::to_value)
                            .map_err(|u| u.reason(&item_path(path, i))),
                    );
                }),
            )
            .expect("located");
            assert_eq!(n, seen.len());
            assert_eq!(located, seen);
        }
        seen
    }

    /// An item that cannot be read where it lies (a number out of range, a lone surrogate,
    /// nesting too deep, bytes that are not UTF-8) fails alone, named by where it stopped,
    /// and the items after it are read as usual, as trees and as slots.
    #[test]
    fn an_item_that_cannot_be_read_fails_alone() {
        let path = vec!["data".to_owned()];
        let mut score = super::super::direct::Field::new(
            super::super::model::FieldPath::parse("score").unwrap(),
        );
        let plan = Plan::new(&mut [&mut score]).unwrap();
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for (bad, reason) in [
            (
                r#"{"id": 3, "score": 1e400}"#.to_owned(),
                "number out of range at `$.data[2].score`",
            ),
            (
                r#"{"id": 3, "score": ["a", "\ud800"]}"#.to_owned(),
                "unexpected end of hex escape at `$.data[2].score[1]`",
            ),
            (
                format!(r#"{{"id": 3, "score": {deep}}}"#),
                "recursion limit exceeded at `$.data[2].score[0][0]",
            ),
        ] {
            let body = format!(
                r#"{{"meta": {{"next": "c"}}, "data": [{{"id": 1, "score": 1}}, {{"id": 2, "t": "]\"[{{"}}, {bad}, 4, {{"id": 5, "score": [1e2]}}], "n": 5}}"#
            );
            let got = entries(body.as_bytes(), &path, Some((&plan, &score)));
            assert_eq!(got.len(), 5, "{bad}");
            assert_eq!(got[0], Ok(serde_json::json!(["object", 1])));
            assert_eq!(got[1], Ok(serde_json::json!(["object", null])));
            let Err(why) = &got[2] else {
                panic!("{bad} read")
            };
            assert!(why.starts_with(reason), "{why}");
            assert!(why.len() < 300, "{why}");
            assert_eq!(got[3], Ok(serde_json::json!(["number", null])));
            assert_eq!(got[4], Ok(serde_json::json!(["object", [100.0]])));
            let trees = entries(body.as_bytes(), &path, None);
            assert_eq!(trees.len(), 5);
            assert!(
                matches!(&trees[2], Err(why) if why.starts_with(reason)),
                "{trees:?}"
            );
            assert_eq!(trees[4], Ok(serde_json::json!({"id": 5, "score": [100.0]})));
        }
        // A member no tree holds, outside what the plan reads: the slots read it, trees not.
        let body = br#"{"data": [{"x": 1e400, "score": 2}, {"score": 3}]}"#;
        assert_eq!(
            entries(body, &path, Some((&plan, &score))),
            [
                Ok(serde_json::json!(["object", 2])),
                Ok(serde_json::json!(["object", 3]))
            ]
        );
        assert_eq!(
            entries(body, &path, None),
            [
                Err("number out of range at `$.data[0].x`".to_owned()),
                Ok(serde_json::json!({"score": 3}))
            ]
        );
        // Every item unreadable, names with escapes on the path, whitespace everywhere.
        let body = br#" { "\u0064ata" : [ 1e400 , -1e999 , {"a b": {"\u00e9": 1E+400}} ] } "#;
        assert_eq!(
            entries(body, &path, None),
            [
                Err("number out of range at `$.data[0]`".to_owned()),
                Err("number out of range at `$.data[1]`".to_owned()),
                Err("number out of range at `$.data[2][\"a b\"][\"é\"]`".to_owned()),
            ]
        );
    }

    /// Bytes that are not UTF-8 in a string the read skips: read as bytes, as before the
    /// body was checked whole (which such a body fails); in a string it keeps: an error.
    #[test]
    fn bodies_that_are_not_utf8_read_as_before() {
        let path = vec!["data".to_owned()];
        let mut seen = Vec::new();
        assert!(for_each(
            b"{\"data\": [{\"id\": 1}, \"\xc3\xa9\"], \"x\": \"\xff\xfe\"}",
            &path,
            &mut |i, j| seen.push((i, j.unwrap().to_value()))
        ));
        assert_eq!(
            seen,
            vec![
                (0, serde_json::json!({"id": 1})),
                (1, serde_json::json!("é"))
            ]
        );
        // An item that is not UTF-8 where it is read fails alone.
        assert_eq!(
            entries(b"{\"data\": [\"\xff\", 2]}", &path, None),
            [
                Err("invalid unicode code point at `$.data[0]`".to_owned()),
                Ok(serde_json::json!(2))
            ]
        );
        let cfg = ["id", "body"].map(|p| {
            super::super::direct::Field::new(super::super::model::FieldPath::parse(p).unwrap())
        });
        let [mut id, mut text] = cfg;
        let plan = Plan::new(&mut [&mut id, &mut text]).unwrap();
        let mut ids = Vec::new();
        assert!(for_each_direct(
            b"{\"data\": [{\"id\": 7, \"skip\": \"\xff\", \"body\": \"b\"}]}",
            &path,
            &plan,
            &mut |_, slots| {
                use super::super::direct::Item;
                let slots = slots.unwrap();
                ids.push(slots.single(&id).flatten().map(Node::to_value));
                ids.push(slots.single(&text).flatten().map(Node::to_value));
            }
        ));
        assert_eq!(
            ids,
            vec![Some(serde_json::json!(7)), Some(serde_json::json!("b"))]
        );
    }

    /// `keep` reads what `locate` reads, and leaves to `locate` (`None`) a body that is not
    /// UTF-8 and an item its plan cannot read, which `locate` skips unread.
    #[test]
    fn keep_reads_as_locate_does_or_leaves_the_page_to_it() {
        let path = vec!["data".to_owned()];
        let mut fields = ["id", "body"].map(|p| {
            super::super::direct::Field::new(super::super::model::FieldPath::parse(p).unwrap())
        });
        let [id, text] = &mut fields;
        let plan = Plan::new(&mut [id, text]).unwrap();
        let body = br#"{"meta": {"next": "c1"}, "data": [{"id": 1}, 2, null], "total": 3}"#;
        let (rest, kept) = keep(body, &path, &plan).unwrap();
        assert_eq!(kept.len(), 3);
        assert_eq!(Some((rest, 3)), locate(body, &path, None));
        for body in [
            &b"{\"data\": [{\"id\": 7, \"skip\": \"\xff\", \"body\": \"b\"}]}"[..],
            br#"{"data": [{"id": 1e400, "body": "b"}]}"#,
            br#"{"data": [{"id": 1, "body": [[[[1e400]]]]}]}"#,
        ] {
            assert_eq!(keep(body, &path, &plan).map(|r| r.0), None, "{body:?}");
            assert!(locate(body, &path, None).is_some(), "{body:?}");
        }
        for body in [
            &br#"{"data": {"id": 1}}"#[..],
            br#"{"data": [], "data": []}"#,
            br#"{"meta": 1}"#,
            br#"[{"id": 1}]"#,
            br#"{"data": [1]} x"#,
            br#"{"data": [1"#,
            br#"{"data": [{"id": "1}]}"#,
        ] {
            assert_eq!(keep(body, &path, &plan).map(|r| r.0), None, "{body:?}");
            assert_eq!(locate(body, &path, None), None, "{body:?}");
        }
    }

    #[test]
    fn locate_skips_the_items_and_falls_back_on_the_unusual() {
        let path = vec!["data".to_owned()];
        let (rest, n) = locate(
            br#"{"meta": {"next": "c1"}, "data": [{"id": 1}, 2, null], "total": 3}"#,
            &path,
            None,
        )
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            rest,
            serde_json::json!({"meta": {"next": "c1"}, "data": [], "total": 3})
        );
        let mut seen = Vec::new();
        assert!(for_each(
            br#"{"data": [{"id": 1}, "x"], "x": [1]}"#,
            &path,
            &mut |i, j| seen.push((i, j.unwrap().to_value()))
        ));
        assert_eq!(
            seen,
            vec![
                (0, serde_json::json!({"id": 1})),
                (1, serde_json::json!("x"))
            ]
        );
        for body in [
            &br#"{"data": {"id": 1}}"#[..],
            br#"{"data": [], "data": []}"#,
            br#"{"meta": 1}"#,
            br#"[{"id": 1}]"#,
            br#"{"data": [1]} x"#,
            br#"{"data": [1"#,
        ] {
            assert_eq!(locate(body, &path, None), None, "{body:?}");
        }
        let deep = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(locate(br#"{"a": {"b": [1]}, "a": {}}"#, &deep, None), None);
        assert_eq!(
            locate(br#"{"a": {"b": [1], "c": 2}}"#, &deep, None),
            Some((serde_json::json!({"a": {"b": [], "c": 2}}), 1))
        );
    }

    /// The JSON path in a failure stays short (about 200 bytes) with a long name in it (a map
    /// keyed by content): before, the name went in whole (a 10,035-byte reason).
    #[test]
    fn the_path_of_a_long_name_is_capped() {
        let path = vec!["data".to_owned()];
        let key = "k".repeat(10_000);
        let body = format!(r#"{{"data": [{{"{key}": 1e400}}, 2]}}"#);
        let got = entries(body.as_bytes(), &path, None);
        let Err(why) = &got[0] else { panic!("read") };
        assert!(why.len() < 300, "{} bytes: {}...", why.len(), &why[..80]);
    }
}
