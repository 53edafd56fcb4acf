//! Where the values of a JSON text lie, read from its syntax alone: the bytes of each item of a
//! page ([`item_spans`]), so that each can be read alone when one of them cannot be read
//! ([`super::raw_page`]'s "An item that cannot be read"), and the JSON path of a byte of an
//! item ([`path_at`]), which names where it could not be read.
//!
//! Only the syntax is read, as serde's [`IgnoredAny`](serde::de::IgnoredAny) reads what it
//! skips: any number is a number (`1e400`), any string a string (a lone surrogate, bytes that
//! are not UTF-8). The texts are bodies serde_json has read whole before, so their syntax is
//! valid; anything else gives `None` or a shorter path, never a panic.

use serde_json::Value;

use super::node::Key;

/// The longest JSON path [`path_at`] writes: a value nested deeper is named by the
/// path to its first levels.
const PATH_LIMIT: usize = 200;

/// Appends `name` to a JSON path: `.name` for a plain name, else `["name"]`.
pub(crate) fn push_name(path: &mut String, name: &str) {
    let plain = !name.is_empty()
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if plain {
        path.push('.');
        path.push_str(name);
    } else {
        path.push('[');
        path.push_str(&Value::from(name).to_string());
        path.push(']');
    }
}

/// Appends to `path` the path, inside the value `text` holds, of the innermost value whose
/// bytes reach `at` (an error's offset: in the value, or just after it); up to
/// [`PATH_LIMIT`] bytes of path.
pub(crate) fn path_at(text: &[u8], at: usize, path: &mut String) {
    let mut i = skip_ws(text, 0);
    'down: while path.len() < PATH_LIMIT {
        let (object, close) = match text.get(i) {
            Some(b'{') => (true, b'}'),
            Some(b'[') => (false, b']'),
            _ => return,
        };
        let mut n = 0;
        i = skip_ws(text, i + 1);
        while text.get(i).is_some_and(|b| *b != close) {
            let mut key = None;
            if object {
                let Some(end) = string_end(text, i) else {
                    return;
                };
                key = text.get(i..end);
                i = skip_ws(text, end);
                if text.get(i) != Some(&b':') {
                    return;
                }
                i = skip_ws(text, i + 1);
            }
            let Some(end) = value_end(text, i) else {
                return;
            };
            if i <= at && at <= end {
                match key.map(serde_json::from_slice::<String>) {
                    Some(Ok(name)) => push_name(path, &name),
                    Some(Err(_)) => return,
                    None => path.push_str(&format!("[{n}]")),
                }
                continue 'down;
            }
            if at < i {
                return;
            }
            n += 1;
            i = skip_ws(text, end);
            if text.get(i) == Some(&b',') {
                i = skip_ws(text, i + 1);
            }
        }
        return;
    }
}

/// The bytes of each item of `body` at `path`, in page order: read from the JSON's syntax
/// alone (any number is a number, any string a string, as serde's `IgnoredAny` reads them),
/// for a body whose syntax was read before; `None` for a body that is not a list at `path`,
/// a name of the path repeated in an object on it, or syntax that does not close.
pub(crate) fn item_spans(body: &[u8], path: &[String]) -> Option<Vec<std::ops::Range<usize>>> {
    let top = skip_ws(body, 0);
    if skip_ws(body, value_end(body, top)?) != body.len() {
        return None;
    }
    let mut i = top;
    for name in path {
        if body.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(body, i + 1);
        let mut found = None;
        while body.get(i) != Some(&b'}') {
            let key_end = string_end(body, i)?;
            let key = body.get(i..key_end)?;
            i = skip_ws(body, key_end);
            if body.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(body, i + 1);
            let end = value_end(body, i)?;
            if serde_json::from_slice::<Key<'_>>(key).ok()?.0 == name.as_str() {
                if found.is_some() {
                    return None;
                }
                found = Some(i);
            }
            i = skip_ws(body, end);
            if body.get(i) == Some(&b',') {
                i = skip_ws(body, i + 1);
            }
        }
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
        _ => {
            let rest = text.get(i..)?;
            let len = rest
                .iter()
                .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            (len > 0).then_some(i + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
