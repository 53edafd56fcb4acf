//! Where a page's items sat ([`Seen`], [`place_of`]) and what a later page with no match must
//! hold there to be an empty page rather than an error body ([`ItemsPath::why_none`]'s
//! searches and record maps).
//!
//! [`ItemsPath::why_none`]: super::ItemsPath::why_none

use std::collections::HashSet;

use serde_json::Value;

/// What the run learned before this page, for [`ItemsPath::why_none`] and the error rule:
/// where the items sat on its first page with items, and the error members its pages with
/// items carried (review11 F3-F5).
///
/// [`ItemsPath::why_none`]: super::ItemsPath::why_none
/// [`usual_sign_at`]: super::usual_sign_at
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen<'a> {
    /// The parent of the first item of the run's first page with items, its indexes written
    /// `*`, after `{` or `[` ([`place_of`]).
    pub(crate) place: Option<&'a str>,
    /// [`usual_sign_at`]s of error members a page with items carried: normal for this API where
    /// they were met (older binaries' signs, without a place, anywhere checked).
    pub(crate) usual: &'a [String],
    /// Whether `error`/`errors` members are read as errors (no `error_path` set).
    pub(crate) guess_errors: bool,
    /// Whether a whole answer that is a failed sub-response is read as one
    /// ([`NoMatch::means`](super::NoMatch::means)): not under `error_path: false`, which turns
    /// every error check off.
    pub(crate) whole_errors: bool,
}

impl Default for Seen<'_> {
    /// Nothing learned yet, and the `error`/`errors` members read as errors.
    fn default() -> Self {
        Self {
            place: None,
            usual: &[],
            guess_errors: true,
            whole_errors: true,
        }
    }
}

/// The members whose lists are never a listing: an error's own (`{"errors": []}`,
/// `{"details": []}`).
const ERROR_NAMES: [&str; 3] = ["error", "errors", "details"];

/// Whether `value` is a list or holds one at any depth, outside [`ERROR_NAMES`].
fn holds_list(value: &Value) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| !ERROR_NAMES.contains(&k.as_str()) && holds_list(v)),
        _ => false,
    }
}

/// Whether a search that matched nothing in `value` (the root) met a listing: a list where
/// the run's items sat ([`Seen::place`]), else, before any page had items, a list anywhere
/// outside an error's members.
pub(super) fn lists_at_place(root: &Value, value: &Value, seen: &Seen<'_>) -> bool {
    match seen.place {
        // The place is a pointer from the root (review12 F4).
        Some(place) => empty_at_place(root, &place[1..]),
        None => holds_list(value),
    }
}

/// Whether `root` holds a list (or an empty object) at `place` (a JSON pointer whose `*`
/// tokens stand for any entry), or an empty list or object on the way there: `{"folders":
/// []}` holds no `/folders/*/files`, since no folder is listed (review12 F4).
pub(super) fn empty_at_place(root: &Value, place: &str) -> bool {
    let empty = |v: &Value| match v {
        Value::Array(l) => l.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    let mut here = vec![root];
    for token in place.split('/').skip(1) {
        if here.iter().any(|v| empty(v)) {
            return true;
        }
        here = at_place_step(here, token);
    }
    here.iter()
        .any(|v| v.is_array() || v.as_object().is_some_and(|o| o.is_empty()))
}

/// Whether `map` (at `pointer`) reads as a record map keyed by id: every member an object,
/// none named as an error's or a status's part, and its keys not words (`a1`, `-NaB3x`), or
/// the run's items sat in it before.
pub(super) fn record_map(
    map: &serde_json::Map<String, Value>,
    pointer: &str,
    seen: &Seen<'_>,
) -> bool {
    records_by_shape(map)
        && (!map.keys().any(|k| word(k))
            || seen.place == Some(format!("{{{}", normalised(pointer)).as_str()))
}

/// Whether `map` (at `pointer`, its keys words: `{"build": {…}, "test": {…}}`), which holds
/// no response member ([`records_by_shape`]), is a record map rather than an envelope beside
/// others, under a descendant name at the list level (`$..artifacts[?…]`, review20 F4): the
/// run's items sat below one of its entries (`place`, [`Seen::place`]), and what the path's
/// opening reaches lies below every entry, each holding the list (`held`: those pointers and
/// every one above them). Without a place this cannot be told (`{"result": {"data": []},
/// "stats": {"data": []}}` reads the same), so such a map is an envelope, and an entry's
/// `error` fails the page.
pub(super) fn word_keyed_records(
    map: &serde_json::Map<String, Value>,
    pointer: &str,
    held: &HashSet<String>,
    place: Option<&str>,
) -> bool {
    let Some(place) = place.and_then(|p| p.get(1..)) else {
        return false;
    };
    let below = place
        .strip_prefix(normalised(pointer).as_str())
        .is_some_and(|rest| rest.starts_with('/'));
    below
        && map.keys().all(|k| {
            let entry = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
            held.contains(&entry)
        })
}

/// Whether `map` could be a record map by its shape alone: every value an object, and no
/// member a response's own (`error`, `meta`, …). [`record_map`] adds the keys' test.
pub(super) fn records_by_shape(map: &serde_json::Map<String, Value>) -> bool {
    const NOT_RECORDS: [&str; 4] = ["error", "errors", "meta", "status"];
    map.values().all(Value::is_object) && !map.keys().any(|k| NOT_RECORDS.contains(&k.as_str()))
}

/// A key that reads as a member's name (`result`, `data_items`), not a record's id.
pub(super) fn word(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The values one pointer token (`*`: any entry) below `here` ([`empty_at_place`]).
fn at_place_step<'a>(here: Vec<&'a Value>, token: &str) -> Vec<&'a Value> {
    let token = token.replace("~1", "/").replace("~0", "~");
    here.into_iter()
        .flat_map(|v| -> Vec<&Value> {
            match (v, token.as_str()) {
                (Value::Array(l), "*") => l.iter().collect(),
                (Value::Object(o), "*") => o.values().collect(),
                (Value::Object(o), t) => o.get(t).into_iter().collect(),
                _ => Vec::new(),
            }
        })
        .collect()
}

/// A JSON pointer with its list indexes written `*`: where, not which.
fn normalised(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|t| {
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a page's items sat ([`Seen::place`]): the parent of the first item's pointer in
/// `body`, normalised (`/data/3` → `/data`, `/groups/0/items/2` → `/groups/*/items`), after
/// `{` when the parent is an object (a record map) and `[` otherwise.
pub(crate) fn place_of(body: &Value, first_item: &str) -> String {
    let parent = first_item.rsplit_once('/').map_or("", |(p, _)| p);
    let kind = if body.pointer(parent).is_some_and(Value::is_object) {
        '{'
    } else {
        '['
    };
    format!("{kind}{}", normalised(parent))
}
