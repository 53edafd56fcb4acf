//! The "wire model" of an arbitrary JSON API: field paths (`a.b[0].c`, `tags[*].name`),
//! JSONPath (RFC 9535) for the item list, and finding the items in a response.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::node::Node;

mod envelope;
mod error_rule;
mod gone;
mod listing;
mod place;
mod segments;
mod sub_response;

pub(crate) use envelope::{Meaning, whole_failed};
pub(crate) use error_rule::{
    error_members, error_path_hint, shown, unusual_error, usual_sign, usual_sign_at,
};
pub(crate) use gone::GoneNote;
pub(crate) use listing::{ItemsPath, Means, NoMatch, feeds};
pub(crate) use place::Seen;
pub(crate) use sub_response::FailedSub;

/// One segment of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(String, usize),
    All(String),
}

/// What a [`FieldPath`] whose segments before the last are all plain keys does with the value
/// at its last key ([`FieldPath::chain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// `key`: the value itself.
    Value,
    /// `key[n]`: entry `n` of the list.
    Index(usize),
    /// `key[*]`: every entry of the list.
    All,
}

/// A field path in RAGFlow's dot notation: segments `key`, `key[n]` or `key[*]` joined by `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    raw: String,
    segments: Vec<Segment>,
    /// No `[*]` segment: at most one value.
    single: bool,
}

impl FieldPath {
    /// Parses `path`.
    ///
    /// # Errors
    /// A message naming the bad segment.
    pub(crate) fn parse(path: &str) -> Result<Self, String> {
        let raw = path.trim();
        if raw.is_empty() {
            return Err("is empty".to_owned());
        }
        let mut segments = Vec::new();
        for seg in raw.split('.') {
            let bad = || format!("segment `{seg}` is not `key`, `key[n]` or `key[*]`");
            match seg.find('[') {
                None if !seg.is_empty() && !seg.contains(']') => {
                    segments.push(Segment::Key(seg.to_owned()))
                }
                None => return Err(bad()),
                Some(open) => {
                    let key = &seg[..open];
                    let inner = seg[open + 1..].strip_suffix(']').ok_or_else(bad)?;
                    if key.is_empty() || key.contains(']') {
                        return Err(bad());
                    }
                    if inner == "*" {
                        segments.push(Segment::All(key.to_owned()));
                    } else {
                        let n = inner.parse::<usize>().map_err(|_| bad())?;
                        segments.push(Segment::Index(key.to_owned(), n));
                    }
                }
            }
        }
        let single = !segments.iter().any(|s| matches!(s, Segment::All(_)));
        Ok(Self {
            raw: raw.to_owned(),
            segments,
            single,
        })
    }

    /// The path as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    /// The template name: the path without `[n]`/`[*]`, `.` replaced by `_`.
    pub(crate) fn template_name(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Key(k) | Segment::Index(k, _) | Segment::All(k) => k.as_str(),
            })
            .collect::<Vec<_>>()
            .join("_")
    }

    /// Every value at this path; `[*]` flattens a list, missing keys drop out.
    /// For a path without `[*]`, which has at most one value: that value (`Some(None)` when
    /// it is missing or null), found without a list. `None` for a path with `[*]`.
    pub(crate) fn single<'a, N: Node>(&self, item: &'a N) -> Option<Option<&'a N>> {
        if !self.single {
            return None;
        }
        let mut v = item;
        for seg in &self.segments {
            let next = match seg {
                Segment::Key(k) => v.key(k),
                Segment::Index(k, n) => v.key(k).and_then(|l| l.index(*n)),
                Segment::All(_) => None,
            };
            match next {
                Some(n) => v = n,
                None => return Some(None),
            }
        }
        Some((!v.is_null()).then_some(v))
    }

    pub(crate) fn values<'a, N: Node>(&self, item: &'a N) -> Vec<&'a N> {
        if let Some(one) = self.single(item) {
            return one.into_iter().collect();
        }
        // The usual list path (`tags[*]`, `a.b[*]`): names down to one list, its entries; one
        // `Vec` instead of one per segment.
        if let Some((Segment::All(last), init)) = self.segments.split_last()
            && init.iter().all(|s| matches!(s, Segment::Key(_)))
        {
            let mut v = item;
            for seg in init {
                if let Segment::Key(k) = seg {
                    match v.key(k) {
                        Some(n) => v = n,
                        None => return Vec::new(),
                    }
                }
            }
            return v
                .key(last)
                .and_then(Node::list)
                .unwrap_or_default()
                .iter()
                .filter(|v| !v.is_null())
                .collect();
        }
        let mut current = vec![item];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in current {
                match seg {
                    Segment::Key(k) => next.extend(v.key(k)),
                    Segment::Index(k, n) => next.extend(v.key(k).and_then(|l| l.index(*n))),
                    Segment::All(k) => {
                        if let Some(list) = v.key(k).and_then(Node::list) {
                            next.extend(list.iter());
                        }
                    }
                }
            }
            current = next;
        }
        current.retain(|v| !v.is_null());
        current
    }

    /// The names this path follows down from the item and what it does with the value at the
    /// last of them: for paths that read one value (`a.b`), one entry of a list (`a.b[2]`) or
    /// every entry (`a.tags[*]`); `None` for a path that goes on below an index or `[*]`
    /// (`a[0].b`, `a[*].b`).
    pub(crate) fn chain(&self) -> Option<(Vec<&str>, Tail)> {
        let (last, init) = self.segments.split_last()?;
        let mut names = Vec::with_capacity(self.segments.len());
        for s in init {
            match s {
                Segment::Key(k) => names.push(k.as_str()),
                Segment::Index(..) | Segment::All(_) => return None,
            }
        }
        let tail = match last {
            Segment::Key(k) => {
                names.push(k);
                Tail::Value
            }
            Segment::Index(k, n) => {
                names.push(k);
                Tail::Index(*n)
            }
            Segment::All(k) => {
                names.push(k);
                Tail::All
            }
        };
        Some((names, tail))
    }

    /// The key each segment reads, whatever it does with the value.
    pub(crate) fn segment_keys(&self) -> impl Iterator<Item = (&str, bool)> {
        self.segments.iter().map(|s| match s {
            Segment::Key(k) => (k.as_str(), true),
            Segment::Index(k, _) | Segment::All(k) => (k.as_str(), false),
        })
    }
}

/// The items of a response, located but not yet taken out of it.
pub(crate) enum Items {
    /// A list of items (entries of any JSON type) at this JSON pointer, `len` long.
    List { pointer: String, len: usize },
    /// Several matches of the path, each an item (copied out: matches may nest).
    Matches(Vec<Value>),
    /// No list anywhere.
    Missing,
}

impl Items {
    /// How many items there are.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::List { len, .. } => *len,
            Self::Matches(list) => list.len(),
            Self::Missing => 0,
        }
    }

    /// The items, moved out of `body` (the page's items are the bulk of it; copying them
    /// doubled the work of every page).
    pub(crate) fn take(self, body: &mut Value) -> Vec<Value> {
        match self {
            Self::List { pointer, .. } => match body.pointer_mut(&pointer).map(Value::take) {
                Some(Value::Array(list)) => list,
                _ => Vec::new(),
            },
            Self::Matches(list) => list,
            Self::Missing => Vec::new(),
        }
    }
}

/// Finds the items: with `path`, a single list match is the list (unless the path ends in a
/// filter or wildcard after a filter: [`ItemsPath::expands_one_list`]), several matches are
/// the items; without, the root list, else `items`, `results`, `data`, `records` (RAGFlow's names,
/// in its order), else the first list-valued key in the order the response wrote them (read
/// from `raw`, the body `body` was parsed from), as RAGFlow's walk of a Python dict finds it.
pub(crate) fn find_items(body: &Value, path: Option<&ItemsPath>, raw: &[u8]) -> Items {
    if let Some(path) = path {
        let matches = path.path.query_located(body);
        return match matches.len() {
            0 => Items::Missing,
            1 => match matches.into_iter().next() {
                Some(m) => match m.node() {
                    Value::Array(list) if path.expands_one_list() => Items::List {
                        pointer: m.location().to_json_pointer(),
                        len: list.len(),
                    },
                    other => Items::Matches(vec![other.clone()]),
                },
                None => Items::Missing,
            },
            // A filter that chose several lists (`$.groups[?@.open].items`, two open groups):
            // their entries are the items, in the same units as one list's (review12 F2).
            _ if path.one_list() => Items::Matches(
                matches
                    .nodes()
                    .flat_map(|v| match v {
                        Value::Array(list) => list.clone(),
                        other => vec![other.clone()],
                    })
                    .collect(),
            ),
            _ => Items::Matches(matches.nodes().cloned().collect()),
        };
    }
    match items_told(body) {
        Ok(items) => items,
        // serde_json's map is sorted by key, so `map.iter()` would pick `{"users": [..],
        // "errors": []}`'s `errors`: the response's own order comes from the raw body.
        Err(map) => first_list_key(raw)
            .and_then(|k| {
                map.get(&k)
                    .and_then(Value::as_array)
                    .map(|l| list_at(&k, l))
            })
            .or_else(|| {
                map.iter()
                    .find_map(|(k, v)| v.as_array().map(|l| list_at(k, l)))
            })
            .unwrap_or(Items::Missing),
    }
}

/// The items of `body` (no `items_path`) as far as the body's tree tells them: the root
/// list, else `items`, `results`, `data`, `records`; `Err` with the root object when its
/// first list-valued key in the body's order has to tell ([`find_items`]).
pub(crate) fn items_told(body: &Value) -> Result<Items, &Map<String, Value>> {
    match body {
        Value::Array(list) => Ok(Items::List {
            pointer: String::new(),
            len: list.len(),
        }),
        Value::Object(map) => ["items", "results", "data", "records"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array).map(|l| list_at(k, l)))
            .ok_or(map),
        _ => Ok(Items::Missing),
    }
}

/// The list `list` at the root object's `key`.
pub(crate) fn list_at(key: &str, list: &[Value]) -> Items {
    Items::List {
        pointer: format!("/{}", key.replace('~', "~0").replace('/', "~1")),
        len: list.len(),
    }
}

/// The key of the first list-valued entry of the JSON object in `raw`, in the order the
/// response wrote its keys; `None` when `raw` is not an object or has no list.
///
/// A serde visitor over the raw body rather than serde_json's `preserve_order` feature, which
/// would change every crate's maps through feature unification. Only the top level is walked;
/// values are skipped without being built.
fn first_list_key(raw: &[u8]) -> Option<String> {
    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    /// Whether a value is a list (its contents skipped).
    struct IsList(bool);
    impl<'de> Deserialize<'de> for IsList {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(IsListVisitor)
        }
    }
    struct IsListVisitor;
    impl<'de> Visitor<'de> for IsListVisitor {
        type Value = IsList;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<IsList, E> {
            Ok(IsList(false))
        }
        fn visit_i64<E>(self, _: i64) -> Result<IsList, E> {
            Ok(IsList(false))
        }
        fn visit_u64<E>(self, _: u64) -> Result<IsList, E> {
            Ok(IsList(false))
        }
        fn visit_f64<E>(self, _: f64) -> Result<IsList, E> {
            Ok(IsList(false))
        }
        fn visit_str<E>(self, _: &str) -> Result<IsList, E> {
            Ok(IsList(false))
        }
        fn visit_unit<E>(self) -> Result<IsList, E> {
            Ok(IsList(false))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IsList, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(IsList(false))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IsList, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(IsList(true))
        }
    }
    struct FirstList;
    impl<'de> Visitor<'de> for FirstList {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            let mut found = None;
            while let Some(key) = map.next_key::<String>()? {
                let IsList(list) = map.next_value()?;
                if list && found.is_none() {
                    found = Some(key);
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    de.deserialize_map(FirstList).ok().flatten()
}

/// A cursor or next-URL path, parsed once: a JSONPath when it starts with `$`, else a field
/// path. The JSONPath is boxed: an [`ItemsPath`] holds several parsed cuts of its path, and
/// a field path is small (clippy's `large_enum_variant`).
#[derive(Debug, Clone)]
pub(crate) enum BodyPath {
    Json(Box<ItemsPath>),
    Field(FieldPath),
}

impl BodyPath {
    /// Parses `path`; `None` when it is invalid (config validation reports that).
    pub(crate) fn parse(path: &str) -> Option<Self> {
        let p = path.trim();
        if p.starts_with('$') {
            ItemsPath::parse(p).ok().map(|p| Self::Json(Box::new(p)))
        } else {
            FieldPath::parse(p).ok().map(Self::Field)
        }
    }

    /// The first value at this path.
    pub(crate) fn first<'a>(&self, body: &'a Value) -> Option<&'a Value> {
        match self {
            Self::Json(p) => p.query(body).into_iter().next(),
            Self::Field(p) => p.values(body).into_iter().next(),
        }
    }
}

/// `value` as text: strings as they are, scalars printed, `null` empty, the rest as JSON.
pub(crate) fn text_of(value: &Value) -> String {
    text_ref(value).into_owned()
}

/// [`text_of`], borrowing a string value rather than copying it.
pub(crate) fn text_ref(value: &Value) -> Cow<'_, str> {
    match value {
        Value::Null => Cow::Borrowed(""),
        Value::String(s) => Cow::Borrowed(s),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Owned(b.to_string()),
        other => Cow::Owned(canonical_json(other)),
    }
}

/// JSON with object keys sorted at every level, so equal items hash equal whatever order the
/// service sent their keys in.
pub(crate) fn canonical_json(value: &Value) -> String {
    // Keys and scalars go through serde_json's own writer (escaping, number formatting) into
    // one buffer: this runs for every item, so no per-key `String` and no `Display` round trip.
    fn write(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(map) => {
                out.push(b'{');
                // Maps usually come sorted already (serde_json's default map is ordered).
                if map.keys().is_sorted() {
                    for (i, (k, inner)) in map.iter().enumerate() {
                        entry(i, k, inner, out);
                    }
                } else {
                    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    for (i, (k, inner)) in entries.into_iter().enumerate() {
                        entry(i, k, inner, out);
                    }
                }
                out.push(b'}');
            }
            Value::Array(list) => {
                out.push(b'[');
                for (i, inner) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(inner, out);
                }
                out.push(b']');
            }
            // Writing a scalar into a Vec cannot fail.
            scalar => {
                let _ = serde_json::to_writer(&mut *out, scalar);
            }
        }
    }
    fn entry(i: usize, key: &str, value: &Value, out: &mut Vec<u8>) {
        if i > 0 {
            out.push(b',');
        }
        // As above: writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        write(value, out);
    }
    let mut out = Vec::with_capacity(256);
    write(value, &mut out);
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn field_paths() {
        let item = json!({"a": {"b": 1}, "tags": [{"label": "x"}, {"label": "y"}, {}], "n": null});
        let get = |p: &str| {
            FieldPath::parse(p)
                .unwrap()
                .values(&item)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(get("a.b"), vec![json!(1)]);
        assert_eq!(get("tags[1].label"), vec![json!("y")]);
        assert_eq!(get("tags[*].label"), vec![json!("x"), json!("y")]);
        assert!(get("missing.x").is_empty());
        assert!(get("n").is_empty());
        assert_eq!(
            FieldPath::parse("tags[*].label").unwrap().template_name(),
            "tags_label"
        );
        for bad in ["", "a..b", "a[x]", "a[1", "[1]", "a]"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_paths_ending_in_all() {
        let item = json!({"tags": ["a", null, "b"], "a": {"b": {"c": [1, {"d": 2}]}}, "s": "x", "l": [[1]]});
        let get = |p: &str| {
            FieldPath::parse(p)
                .unwrap()
                .values(&item)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(get("tags[*]"), vec![json!("a"), json!("b")]);
        assert_eq!(get("a.b.c[*]"), vec![json!(1), json!({"d": 2})]);
        assert_eq!(get("l[*]"), vec![json!([1])]);
        for none in [
            "missing[*]",
            "a.missing.c[*]",
            "s[*]",
            "a[*]",
            "tags.x[*]",
            "s.x[*]",
        ] {
            assert!(get(none).is_empty(), "{none}");
        }
    }

    #[test]
    fn items_found_by_path_or_guess() {
        let body = json!({"meta": {"n": 2}, "data": {"rows": [{"id": 1}, {"id": 2}]}});
        let found = |path: Option<&str>, body: &Value| {
            let p = path.map(|p| ItemsPath::parse(p).unwrap());
            let raw = serde_json::to_vec(body).unwrap();
            let items = find_items(body, p.as_ref(), &raw);
            let len = items.len();
            let missing = matches!(items, Items::Missing);
            let mut body = body.clone();
            let taken = items.take(&mut body);
            assert_eq!(taken.len(), len);
            (!missing).then_some(taken)
        };
        assert_eq!(
            found(Some("$.data.rows"), &body),
            Some(vec![json!({"id": 1}), json!({"id": 2})])
        );
        assert_eq!(
            found(Some("data.rows[*]"), &body),
            Some(vec![json!({"id": 1}), json!({"id": 2})])
        );
        assert_eq!(found(Some("$.nothing"), &body), None);
        assert!(ItemsPath::parse("$.data[").is_err());
        assert_eq!(
            found(None, &json!({"results": [1], "other": [1, 2]})),
            Some(vec![json!(1)])
        );
        assert_eq!(
            found(None, &json!({"x": 1, "a/b~": [1, 2]})),
            Some(vec![json!(1), json!(2)])
        );
        assert_eq!(found(None, &json!([3])), Some(vec![json!(3)]));
        assert_eq!(found(Some("$"), &json!([3])), Some(vec![json!(3)]));
        assert_eq!(found(None, &json!({"x": 1})), None);
    }

    #[test]
    fn first_list_in_response_order() {
        let raw = br#"{"users": [{"id": 1}], "errors": [], "meta": {"a": [1]}}"#;
        let mut body: Value = serde_json::from_slice(raw).unwrap();
        let items = find_items(&body, None, raw);
        assert_eq!(items.take(&mut body), vec![json!({"id": 1})]);
        assert_eq!(
            first_list_key(br#"{"n": 1, "s": "x", "o": {"l": []}, "z": null, "b": [2], "a": []}"#),
            Some("b".to_owned())
        );
        assert_eq!(first_list_key(b"[1]"), None);
        assert_eq!(first_list_key(b"{\"x\": 1}"), None);
        assert_eq!(first_list_key(b"{not json"), None);
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": "x"}}"#)
                .unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}"#
        );
    }
}
