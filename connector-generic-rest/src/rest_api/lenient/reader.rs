//! The lenient read's tokenizer ([`Reader`]) and what it reads by: values found by their
//! syntax alone ([`span_at`]), numbers told from other tokens, serde_json's reasons.

use std::ops::Range;

use serde_json::{Map, Value};

use super::super::syntax::{object_entries, push_name, skip_ws, string_end, value_end};
use super::{DEEPEST, Hole, hole_in, string_stand_ins, too_deep_stand_ins};

/// serde_json's reason, without the line and column it adds (they count from where the read
/// began, not in the body).
fn reason(e: &serde_json::Error) -> String {
    let message = e.to_string();
    message
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .map_or(message.clone(), str::to_owned)
}

/// The JSON path (`$.data[2]`) of the value at JSON `pointer` in `root`.
pub(super) fn json_path(root: &Value, pointer: &str) -> String {
    let mut at = String::from("$");
    let mut v = Some(root);
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        match v {
            Some(Value::Array(list)) => {
                let n: usize = token.parse().unwrap_or(usize::MAX);
                at.push_str(&format!("[{n}]"));
                v = list.get(n);
            }
            _ => {
                push_name(&mut at, &token);
                v = v.and_then(|v| v.get(&token));
            }
        }
    }
    at
}

/// The bytes of the value at JSON `pointer` in the JSON text `body`, found by its syntax
/// alone: an object's last entry of a name (the one serde_json keeps), a list's entry of an
/// index; `None` when there is none.
pub(crate) fn span_at(body: &[u8], pointer: &str) -> Option<Range<usize>> {
    let mut i = skip_ws(body, 0);
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let mut found = None;
        match body.get(i)? {
            b'{' => {
                object_entries(body, i, |key, value| {
                    if serde_json::from_slice::<String>(key).is_ok_and(|k| k == token) {
                        found = Some(value.start);
                    }
                    Some(())
                })?;
            }
            b'[' => {
                let n: usize = token.parse().ok()?;
                i = skip_ws(body, i + 1);
                let mut k = 0;
                while body.get(i) != Some(&b']') {
                    let end = value_end(body, i)?;
                    if k == n {
                        found = Some(i);
                        break;
                    }
                    k += 1;
                    i = skip_ws(body, end);
                    if body.get(i) == Some(&b',') {
                        i = skip_ws(body, i + 1);
                    }
                }
            }
            _ => return None,
        }
        i = found?;
    }
    Some(i..value_end(body, i)?)
}

/// Reads a JSON text into a [`Value`] as serde_json does, with each value it cannot hold a
/// marker ([`Lenient`]).
///
/// [`Lenient`]: super::Lenient
pub(super) struct Reader<'b> {
    pub(super) text: &'b [u8],
    pub(super) mark: String,
    pub(super) holes: Vec<Hole>,
    /// [`Lenient::first_list`].
    ///
    /// [`Lenient::first_list`]: super::Lenient::first_list
    pub(super) first_list: Option<String>,
}

impl Reader<'_> {
    /// The marker of a value no [`Value`] holds, for `reason`.
    fn hole(&mut self, reason: String, stand_ins: Vec<Value>) -> String {
        self.holes.push(Hole { reason, stand_ins });
        format!("{}{}", self.mark, self.holes.len() - 1)
    }

    /// The value at `i`, at `depth` (the top value at 1), and where it ends; `None` for
    /// syntax that is not JSON.
    pub(super) fn value(&mut self, i: usize, depth: usize) -> Option<(Value, usize)> {
        let text = self.text;
        match text.get(i)? {
            b'{' | b'[' if depth > DEEPEST => {
                let end = value_end(text, i)?;
                let hole = self.hole(
                    "recursion limit exceeded".to_owned(),
                    too_deep_stand_ins(text[i]),
                );
                Some((Value::String(hole), end))
            }
            b'{' => self.object(i, depth),
            b'[' => self.list(i, depth),
            b'"' => {
                let end = string_end(text, i)?;
                let raw = text.get(i..end)?;
                let value = match serde_json::from_slice::<String>(raw) {
                    Ok(s) => Value::String(s),
                    Err(e) => {
                        let stand_ins = string_stand_ins(raw);
                        Value::String(self.hole(reason(&e), stand_ins))
                    }
                };
                Some((value, end))
            }
            _ => {
                let rest = text.get(i..)?;
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(rest.len());
                let token = rest.get(..len)?;
                let value = match serde_json::from_slice::<Value>(token) {
                    Ok(v) => v,
                    Err(e) if is_number(token) => {
                        let nearest = if token.starts_with(b"-") {
                            f64::MIN
                        } else {
                            f64::MAX
                        };
                        Value::String(self.hole(reason(&e), vec![nearest.into()]))
                    }
                    Err(_) => return None,
                };
                Some((value, i + len))
            }
        }
    }

    fn object(&mut self, i: usize, depth: usize) -> Option<(Value, usize)> {
        let text = self.text;
        let mut map = Map::new();
        let mut j = skip_ws(text, i + 1);
        if text.get(j) == Some(&b'}') {
            return Some((Value::Object(map), j + 1));
        }
        loop {
            let key_end = string_end(text, j)?;
            let key = match serde_json::from_slice::<String>(text.get(j..key_end)?) {
                Ok(key) => key,
                Err(e) => self.hole(reason(&e), Vec::new()),
            };
            j = skip_ws(text, key_end);
            if text.get(j) != Some(&b':') {
                return None;
            }
            let (value, end) = self.value(skip_ws(text, j + 1), depth + 1)?;
            if depth == 1 && self.first_list.is_none() && value.is_array() {
                self.first_list = Some(key.clone());
            }
            // As serde_json's map: a repeated key keeps its last value. One before it that
            // held a hole stays known by a marked key: serde_json would have failed there.
            if let Some(old) = map.insert(key, value)
                && let Some(reason) = hole_in(&self.mark, &self.holes, &old)
            {
                let key = self.hole(reason.to_owned(), Vec::new());
                map.insert(key, Value::Null);
            }
            j = skip_ws(text, end);
            match text.get(j)? {
                b',' => j = skip_ws(text, j + 1),
                b'}' => return Some((Value::Object(map), j + 1)),
                _ => return None,
            }
        }
    }

    fn list(&mut self, i: usize, depth: usize) -> Option<(Value, usize)> {
        let text = self.text;
        let mut list = Vec::new();
        let mut j = skip_ws(text, i + 1);
        if text.get(j) == Some(&b']') {
            return Some((Value::Array(list), j + 1));
        }
        loop {
            let (value, end) = self.value(j, depth + 1)?;
            list.push(value);
            j = skip_ws(text, end);
            match text.get(j)? {
                b',' => j = skip_ws(text, j + 1),
                b']' => return Some((Value::Array(list), j + 1)),
                _ => return None,
            }
        }
    }
}

/// Whether `token` is a JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`),
/// whatever its size.
fn is_number(token: &[u8]) -> bool {
    let digits = |t: &[u8]| t.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut t = token.strip_prefix(b"-").unwrap_or(token);
    match digits(t) {
        0 => return false,
        n if n > 1 && t[0] == b'0' => return false,
        n => t = &t[n..],
    }
    if let Some(rest) = t.strip_prefix(b".") {
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        t = &rest[n..];
    }
    if let Some(rest) = t.strip_prefix(b"e").or_else(|| t.strip_prefix(b"E")) {
        let rest = rest
            .strip_prefix(b"+")
            .or_else(|| rest.strip_prefix(b"-"))
            .unwrap_or(rest);
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        t = &rest[n..];
    }
    t.is_empty()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn spans_are_found_by_pointer() {
        let body = br#"{"a": {"x~/y": [10, {"b": 1e400}], "z": 1}, "a": {"x~/y": [1, {"b": 2}]}}"#;
        let at = |p: &str| span_at(body, p).map(|r| String::from_utf8_lossy(&body[r]).into_owned());
        assert_eq!(at("/a/x~0~1y/1").as_deref(), Some(r#"{"b": 2}"#));
        assert_eq!(at("").as_deref(), Some(std::str::from_utf8(body).unwrap()));
        assert_eq!(at("/a/x~0~1y/2"), None);
        assert_eq!(at("/b"), None);
        let root = json!({"a": {"x~/y": [1, {"b": 2}]}, "q": {"1": 0}});
        assert_eq!(json_path(&root, "/a/x~0~1y/1/b"), r#"$.a["x~/y"][1].b"#);
        assert_eq!(json_path(&root, "/q/1"), r#"$.q["1"]"#);
    }

    #[test]
    fn numbers_are_told_from_other_tokens() {
        for t in [
            "0",
            "-0",
            "1e400",
            "-1.5E+3",
            "12345678901234567890123",
            "0.0e-0",
        ] {
            assert!(is_number(t.as_bytes()), "{t}");
        }
        for t in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "0x1", "NaN", "tru",
        ] {
            assert!(!is_number(t.as_bytes()), "{t}");
        }
    }
}
