//! Where the values of a JSON text lie, read from its syntax alone: the bytes of each item of a
//! page ([`item_spans`]), so that each can be read alone when one of them cannot be read
//! ([`super::raw_page`]'s "An item that cannot be read"), and the JSON path of a byte of an
//! item ([`path_at`]), which names where it could not be read.
//!
//! Only the syntax is read, as serde's [`IgnoredAny`](serde::de::IgnoredAny) reads what it
//! skips: any number is a number (`1e400`), any string a string (a lone surrogate, bytes that
//! are not UTF-8). The texts are bodies serde_json has read whole before, so their syntax is
//! valid; anything else gives `None` or a shorter path, never a panic.

use std::ops::Range;

use serde_json::Value;

use super::node::Key;

/// The longest JSON path [`path_at`] writes: a value nested deeper is named by the
/// path to its first levels.
const PATH_LIMIT: usize = 200;

/// The most bytes of a name [`push_name`] writes: names are body content too (a map keyed by
/// e-mail addresses or tokens), which a failure's message should not carry whole.
const NAME_LIMIT: usize = 40;

/// Appends `name` to a JSON path: `.name` for a plain name, else `["name"]`; a name of more
/// than [`NAME_LIMIT`] bytes cut to them (on a char boundary), with `…`.
pub(crate) fn push_name(path: &mut String, name: &str) {
    let shown = &name[..name.floor_char_boundary(NAME_LIMIT)];
    let more = if shown.len() < name.len() { "…" } else { "" };
    let plain = !shown.is_empty()
        && shown
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if plain {
        path.push('.');
        path.push_str(shown);
        path.push_str(more);
    } else {
        path.push('[');
        path.push_str(&Value::from(format!("{shown}{more}")).to_string());
        path.push(']');
    }
}

/// Appends to `path` the path, inside the value `text` holds, of the innermost value whose
/// bytes reach `at` (an error's offset: in the value, or just after it); up to
/// [`PATH_LIMIT`] bytes of path: it ends before a name or index that would pass them.
pub(crate) fn path_at(text: &[u8], at: usize, path: &mut String) {
    for level in levels_at(text, at) {
        let mut segment = String::new();
        match level.name {
            Some(span) => match text.get(span).map(serde_json::from_slice::<String>) {
                Some(Ok(name)) => push_name(&mut segment, &name),
                _ => return,
            },
            None => segment = format!("[{}]", level.index),
        }
        if path.len() + segment.len() > PATH_LIMIT {
            return;
        }
        path.push_str(&segment);
    }
}

/// A list or object open at a point of [`levels_at`]'s scan, and its entry being read.
struct Open {
    /// Whether it is an object.
    object: bool,
    /// The entry's index.
    index: usize,
    /// In an object, the span of the entry's name (its JSON string).
    name: Option<Range<usize>>,
}

/// Where [`levels_at`]'s scan is.
enum Scan {
    /// At the first byte of a value: the item, or the entry of the last open level.
    Value,
    /// At an entry of the last open level (its name in an object), or at its closing bracket.
    Entry,
    /// Just after a value.
    After,
}

/// The lists and objects, from the item down, whose entries lead to the innermost value of
/// `text` whose bytes reach `at` ([`path_at`]), each with that entry. One forward scan of
/// `text` that ends at the value reaching `at` (or the first value past it), with the levels
/// open there on a stack: each byte is read once, whatever the depth, with no recursion.
fn levels_at(text: &[u8], at: usize) -> Vec<Open> {
    let mut open: Vec<Open> = Vec::new();
    let mut i = skip_ws(text, 0);
    let mut scan = Scan::Value;
    loop {
        match scan {
            Scan::Value => {
                if at < i {
                    // The value is past `at`: the innermost is the level it is an entry of.
                    open.pop();
                    return open;
                }
                let end = match text.get(i) {
                    Some(b @ (b'{' | b'[')) => {
                        open.push(Open {
                            object: *b == b'{',
                            index: 0,
                            name: None,
                        });
                        i = skip_ws(text, i + 1);
                        scan = Scan::Entry;
                        continue;
                    }
                    Some(b'"') => string_end(text, i),
                    Some(_) => scalar_end(text, i),
                    None => None,
                };
                let Some(end) = end else {
                    return open;
                };
                if at <= end {
                    return open;
                }
                i = end;
                scan = Scan::After;
            }
            Scan::Entry => {
                let Some(level) = open.last_mut() else {
                    return open;
                };
                if matches!(text.get(i), Some(b'}' | b']')) {
                    // The level closes: it is the innermost if its bytes reach `at`.
                    open.pop();
                    i += 1;
                    if at <= i {
                        return open;
                    }
                    scan = Scan::After;
                    continue;
                }
                if level.object {
                    let Some(end) = string_end(text, i) else {
                        return open;
                    };
                    level.name = Some(i..end);
                    i = skip_ws(text, end);
                    if text.get(i) != Some(&b':') {
                        return open;
                    }
                    i = skip_ws(text, i + 1);
                }
                scan = Scan::Value;
            }
            Scan::After => {
                let Some(level) = open.last_mut() else {
                    // The item ended before `at`.
                    return open;
                };
                i = skip_ws(text, i);
                if text.get(i) == Some(&b',') {
                    level.index += 1;
                    i = skip_ws(text, i + 1);
                }
                scan = Scan::Entry;
            }
        }
    }
}

/// The bytes of each item of `body` at `path`, in page order: read from the JSON's syntax
/// alone (any number is a number, any string a string, as serde's `IgnoredAny` reads them);
/// `None` for a body that is not a list at `path`, or with a name of the path repeated in an
/// object on it.
///
/// It trusts the syntax: it runs only on bodies serde_json has read whole before, so it
/// checks no more than it needs to find the items. On other text it may split what serde
/// rejects (`[1 2]`, `[1,]`, `{"a":1 "b":2}`), or give `None` where brackets or quotes do
/// not close; it never panics.
pub(crate) fn item_spans(body: &[u8], path: &[String]) -> Option<Vec<Range<usize>>> {
    let top = skip_ws(body, 0);
    if skip_ws(body, value_end(body, top)?) != body.len() {
        return None;
    }
    let mut i = top;
    for name in path {
        if body.get(i) != Some(&b'{') {
            return None;
        }
        let mut found = None;
        object_entries(body, i, |key, value| {
            if serde_json::from_slice::<Key<'_>>(key).ok()?.0 == name.as_str() {
                if found.is_some() {
                    return None;
                }
                found = Some(value.start);
            }
            Some(())
        })?;
        i = found?;
    }
    if body.get(i) != Some(&b'[') {
        return None;
    }
    let mut spans = Vec::new();
    i = skip_ws(body, i + 1);
    while body.get(i) != Some(&b']') {
        let end = value_end(body, i)?;
        spans.push(i..end);
        i = skip_ws(body, end);
        if body.get(i) == Some(&b',') {
            i = skip_ws(body, i + 1);
        }
    }
    Some(spans)
}

/// Walks the entries of the object whose `{` is at `open`, in the text's order: calls `each`
/// with each entry's key (the bytes of its JSON string, quotes and escapes as written) and the
/// span of its value. `None` when the object's syntax breaks off, or as soon as `each` gives
/// `None`.
pub(crate) fn object_entries(
    text: &[u8],
    open: usize,
    mut each: impl FnMut(&[u8], Range<usize>) -> Option<()>,
) -> Option<()> {
    let mut i = skip_ws(text, open + 1);
    while text.get(i) != Some(&b'}') {
        let key_end = string_end(text, i)?;
        let key = text.get(i..key_end)?;
        i = skip_ws(text, key_end);
        if text.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(text, i + 1);
        let end = value_end(text, i)?;
        each(key, i..end)?;
        i = skip_ws(text, end);
        if text.get(i) == Some(&b',') {
            i = skip_ws(text, i + 1);
        }
    }
    Some(())
}

/// The first byte from `i` on that is not JSON whitespace (or the end).
pub(crate) fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while text
        .get(i)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// Where the string that begins at `i` ends (after its closing quote).
pub(crate) fn string_end(text: &[u8], i: usize) -> Option<usize> {
    if text.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match text.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// Where the value that begins at `i` ends: after a string's closing quote, a list's or
/// object's closing bracket, or a scalar's last byte.
pub(crate) fn value_end(text: &[u8], i: usize) -> Option<usize> {
    match text.get(i)? {
        b'"' => string_end(text, i),
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match text.get(j)? {
                    b'"' => {
                        j = string_end(text, j)?;
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => scalar_end(text, i),
    }
}

/// Where the number, `true`, `false` or `null` that begins at `i` ends (after its last byte).
fn scalar_end(text: &[u8], i: usize) -> Option<usize> {
    let rest = text.get(i..)?;
    let len = rest
        .iter()
        .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(rest.len());
    (len > 0).then_some(i + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest_api::json_gen::nested;
    use proptest::prelude::*;

    /// A level of a path: an object's entry by the span of its name, a list's by its index.
    type Level = Result<Range<usize>, usize>;

    /// [`levels_at`] as it was first written, an oracle for its one forward scan: at each
    /// level, the end of every entry before the one that reaches `at` is found by
    /// [`value_end`], and the scan goes down into that entry (O(depth x size)).
    fn levels_by_value_ends(text: &[u8], at: usize) -> Vec<Level> {
        let mut levels = Vec::new();
        let mut i = skip_ws(text, 0);
        'down: loop {
            let (object, close) = match text.get(i) {
                Some(b'{') => (true, b'}'),
                Some(b'[') => (false, b']'),
                _ => return levels,
            };
            let mut n = 0;
            i = skip_ws(text, i + 1);
            while text.get(i).is_some_and(|b| *b != close) {
                let mut key = None;
                if object {
                    let Some(end) = string_end(text, i) else {
                        return levels;
                    };
                    key = Some(i..end);
                    i = skip_ws(text, end);
                    if text.get(i) != Some(&b':') {
                        return levels;
                    }
                    i = skip_ws(text, i + 1);
                }
                let Some(end) = value_end(text, i) else {
                    return levels;
                };
                if i <= at && at <= end {
                    levels.push(key.ok_or(n));
                    continue 'down;
                }
                if at < i {
                    return levels;
                }
                n += 1;
                i = skip_ws(text, end);
                if text.get(i) == Some(&b',') {
                    i = skip_ws(text, i + 1);
                }
            }
            return levels;
        }
    }

    fn levels(text: &[u8], at: usize) -> Vec<Level> {
        levels_at(text, at)
            .into_iter()
            .map(|l| l.name.ok_or(l.index))
            .collect()
    }

    /// JSON texts with strings that hold brackets, quotes and escapes, and whitespace of
    /// every kind between tokens.
    fn json_text() -> impl Strategy<Value = String> {
        let ws = || prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n"]);
        let key = prop::sample::select(vec![
            r#""id""#,
            r#""a""#,
            r#""q\"]""#,
            r#""\\""#,
            r#""}""#,
            r#""\u0069d""#,
            r#""""#,
        ]);
        let leaf = prop::sample::select(vec![
            "null",
            "true",
            "-0.5",
            "1e400",
            "7",
            r#""""#,
            r#""\\""#,
            r#""\"]}""#,
            r#""[{,:""#,
            r#""\ud800""#,
            r#""é""#,
        ])
        .prop_map(str::to_owned);
        nested(
            leaf.boxed(),
            key.prop_map(str::to_owned).boxed(),
            move || ws().prop_map(str::to_owned).boxed(),
            (5, 32, 5, 4),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// The one forward scan finds, for every byte of a text (and just past it), the levels
        /// that going down entry by entry finds.
        #[test]
        fn one_scan_finds_the_levels_going_down_finds(text in json_text(), ws in "[ \n]{0,2}") {
            let text = format!("{ws}{text}{ws}");
            let text = text.as_bytes();
            for at in 0..=text.len() + 1 {
                prop_assert_eq!(
                    levels(text, at),
                    levels_by_value_ends(text, at),
                    "at {} of {}", at, String::from_utf8_lossy(text)
                );
            }
        }
    }

    /// Every entry in the text's order, a repeated name each time, with the span of its
    /// value; `None` where the syntax breaks off or `each` says stop.
    #[test]
    fn object_entries_walks_every_entry() {
        let text = br#"{ "a" : 1, "b":[2, {"c": 3}] ,"a":"x\"y" }"#;
        let mut seen = Vec::new();
        let walked = object_entries(text, 0, |key, value| {
            seen.push((key.to_vec(), text.get(value).unwrap_or_default().to_vec()));
            Some(())
        });
        assert_eq!(walked, Some(()));
        let seen: Vec<(&[u8], &[u8])> = seen.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let want: [(&[u8], &[u8]); 3] = [
            (br#""a""#, b"1"),
            (br#""b""#, br#"[2, {"c": 3}]"#),
            (br#""a""#, br#""x\"y""#),
        ];
        assert_eq!(seen, want);
        assert_eq!(object_entries(b"{}", 0, |_, _| None), Some(()));
        assert_eq!(object_entries(text, 0, |_, _| None), None);
        assert_eq!(object_entries(br#"{"a" 1}"#, 0, |_, _| Some(())), None);
        assert_eq!(object_entries(br#"{"a": 1"#, 0, |_, _| Some(())), None);
    }

    fn path(text: &str, at: usize) -> String {
        let mut path = String::from("$");
        path_at(text.as_bytes(), at, &mut path);
        path
    }

    /// A name is written up to [`NAME_LIMIT`] bytes, cut on a char boundary, with `…`; the
    /// path ends before a name or index that would take it past [`PATH_LIMIT`] bytes.
    #[test]
    fn paths_stay_short() {
        let long = "k".repeat(10_000);
        let text = format!(r#"{{"{long}": [1, 1e400]}}"#);
        let at = text.find("1e400").unwrap() + 5;
        assert_eq!(path(&text, at), format!("$.{}…[1]", "k".repeat(40)));
        // Cut inside a two-byte char: at the char before it; a name that needs quotes.
        let name = format!("a{}", "é".repeat(30));
        let text = format!(r#"{{"x y {name}": 1e400}}"#);
        let at = text.len() - 1;
        assert_eq!(path(&text, at), format!(r#"$["x y a{}…"]"#, "é".repeat(17)));
        // A name of exactly the limit is written whole.
        let name = "n".repeat(NAME_LIMIT);
        assert_eq!(
            path(&format!(r#"{{"{name}": 1e400}}"#), NAME_LIMIT + 10),
            format!("$.{name}")
        );
        // Nested names and indexes: whole ones only, up to the limit.
        let text = format!(
            "{}1e400{}",
            r#"{"abcdefghij": ["#.repeat(30),
            "]}".repeat(30)
        );
        let got = path(&text, text.find("1e400").unwrap() + 5);
        assert!(got.len() <= PATH_LIMIT, "{got}");
        assert!(got.len() > PATH_LIMIT - ".abcdefghij[0]".len(), "{got}");
        assert!(
            got.ends_with(".abcdefghij[0]") || got.ends_with(".abcdefghij"),
            "{got}"
        );
        assert!(got.starts_with("$.abcdefghij[0].abcdefghij[0]"), "{got}");
    }

    /// The items' bytes as the syntax alone splits them; `None` where the fast path does not
    /// take the body.
    #[test]
    fn item_spans_split_by_syntax_alone() {
        let path = vec!["a".to_owned(), "b".to_owned()];
        let texts = |body: &str| {
            item_spans(body.as_bytes(), &path).map(|spans| {
                spans
                    .into_iter()
                    .map(|r| body[r].to_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            texts(
                r#"{"x": "\"[", "a": {"c": [{"]": 1}], "b": [ "x\\", {"k": "}\"]"} ,[[],{}],1e400,-0.5 , true,null ]}}"#
            ),
            Some(
                [
                    r#""x\\""#,
                    r#"{"k": "}\"]"}"#,
                    "[[],{}]",
                    "1e400",
                    "-0.5",
                    "true",
                    "null"
                ]
                .map(str::to_owned)
                .to_vec()
            )
        );
        assert_eq!(texts(r#"{"a": {"b": []}}"#), Some(vec![]));
        for body in [
            r#"{"a": {"b": [1]}, "a": {"b": [2]}}"#,
            r#"{"a": {"b": [1], "b": [2]}}"#,
            r#"{"a": {"b": {}}}"#,
            r#"{"a": {"c": [1]}}"#,
            r#"{"a": {"b": [1]}} x"#,
            r#"{"a": {"b": [1, "x]}}"#,
            r#"[{"a": {"b": [1]}}]"#,
            "",
        ] {
            assert_eq!(texts(body), None, "{body}");
        }
    }
}
