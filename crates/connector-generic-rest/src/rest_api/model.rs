//! The "wire model" of an arbitrary JSON API: field paths (`a.b[0].c`, `tags[*].name`),
//! JSONPath (RFC 9535) for the item list, and finding the items in a response.

use serde_json::Value;
use serde_json_path::JsonPath;

/// One segment of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(String, usize),
    All(String),
}

/// A field path in RAGFlow's dot notation: segments `key`, `key[n]` or `key[*]` joined by `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    raw: String,
    segments: Vec<Segment>,
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
        Ok(Self {
            raw: raw.to_owned(),
            segments,
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
    pub(crate) fn values<'a>(&self, item: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![item];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in current {
                match seg {
                    Segment::Key(k) => next.extend(v.get(k)),
                    Segment::Index(k, n) => next.extend(v.get(k).and_then(|l| l.get(*n))),
                    Segment::All(k) => {
                        if let Some(Value::Array(list)) = v.get(k) {
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
}

/// A JSONPath (RFC 9535). A path without the leading `$` is read as relative to the root
/// (`data.items` is `$.data.items`), as RAGFlow's `jsonpath` did.
#[derive(Debug, Clone)]
pub(crate) struct ItemsPath {
    path: JsonPath,
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
        JsonPath::parse(&full)
            .map(|path| Self { path })
            .map_err(|e| format!("is not a valid JSONPath: {e}"))
    }

    /// Every match.
    pub(crate) fn query<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        self.path.query(value).all()
    }
}

/// The items of a response, and where they were found.
pub(crate) enum Items<'a> {
    /// A list of items (entries of any JSON type).
    Found(Vec<&'a Value>),
    /// No list anywhere.
    Missing,
}

/// Finds the items: with `path`, a single list match is the list, several matches are the
/// items; without, the root list, else `items`, `results`, `data`, `records`, else the first
/// list-valued key.
pub(crate) fn find_items<'a>(body: &'a Value, path: Option<&ItemsPath>) -> Items<'a> {
    if let Some(path) = path {
        let matches = path.query(body);
        return match matches.as_slice() {
            [] => Items::Missing,
            [Value::Array(list)] => Items::Found(list.iter().collect()),
            _ => Items::Found(matches),
        };
    }
    match body {
        Value::Array(list) => Items::Found(list.iter().collect()),
        Value::Object(map) => {
            let known = ["items", "results", "data", "records"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_array));
            match known.or_else(|| map.values().find_map(Value::as_array)) {
                Some(list) => Items::Found(list.iter().collect()),
                None => Items::Missing,
            }
        }
        _ => Items::Missing,
    }
}

/// The first value at a cursor or next-URL path: a JSONPath when it starts with `$`, else a
/// field path.
pub(crate) fn first_at(body: &Value, path: &str) -> Option<Value> {
    let p = path.trim();
    if p.starts_with('$') {
        ItemsPath::parse(p)
            .ok()?
            .query(body)
            .into_iter()
            .next()
            .cloned()
    } else {
        FieldPath::parse(p)
            .ok()?
            .values(body)
            .into_iter()
            .next()
            .cloned()
    }
}

/// `value` as text: strings as they are, scalars printed, `null` empty, the rest as JSON.
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => canonical_json(other),
    }
}

/// JSON with object keys sorted at every level, so equal items hash equal whatever order the
/// service sent their keys in.
pub(crate) fn canonical_json(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    if let Some(inner) = map.get(k) {
                        write(inner, out);
                    }
                }
                out.push('}');
            }
            Value::Array(list) => {
                out.push('[');
                for (i, inner) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(inner, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
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
    fn items_found_by_path_or_guess() {
        let body = json!({"meta": {"n": 2}, "data": {"rows": [{"id": 1}, {"id": 2}]}});
        let p = ItemsPath::parse("$.data.rows").unwrap();
        assert!(matches!(find_items(&body, Some(&p)), Items::Found(v) if v.len() == 2));
        let p = ItemsPath::parse("data.rows[*]").unwrap();
        assert!(matches!(find_items(&body, Some(&p)), Items::Found(v) if v.len() == 2));
        let p = ItemsPath::parse("$.nothing").unwrap();
        assert!(matches!(find_items(&body, Some(&p)), Items::Missing));
        assert!(ItemsPath::parse("$.data[").is_err());
        assert!(
            matches!(find_items(&json!({"results": [1], "other": [1, 2]}), None), Items::Found(v) if v.len() == 1)
        );
        assert!(
            matches!(find_items(&json!({"x": 1, "rows": [1, 2]}), None), Items::Found(v) if v.len() == 2)
        );
        assert!(matches!(find_items(&json!({"x": 1}), None), Items::Missing));
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
