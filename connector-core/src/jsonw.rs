//! JSON written straight into a byte buffer, byte for byte as serde_json writes it, with
//! strings escaped eight bytes at a time (serde_json looks each byte up in a table): the
//! NDJSON sink's lines and front matter's values are mostly strings.

use serde_json::Value;

pub(crate) fn write_map<'a, K: AsRef<str> + 'a>(
    out: &mut Vec<u8>,
    map: impl IntoIterator<Item = (&'a K, &'a Value)>,
) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (key, value)) in map.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key.as_ref());
        out.push(b':');
        write_value(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => match n.as_u64() {
            Some(u) => write_u64(out, u),
            // Negative integers and floats: serde_json's own formatting.
            None => serde_json::to_writer(&mut *out, n)?,
        },
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_map(out, map)?,
    }
    Ok(())
}

pub(crate) fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `x` is a control character (below 0x20), `"` or `\`: the bytes JSON
/// escapes. Exact: `has_less` and `has_zero` flag a byte only if some byte of the word
/// qualifies (UTF-8 bytes of 0x80 and above included).
#[inline]
fn needs_escape(x: u64) -> bool {
    let below_space = x.wrapping_sub(LOW * 0x20) & !x;
    let quote = x ^ (LOW * u64::from(b'"'));
    let backslash = x ^ (LOW * u64::from(b'\\'));
    let zero = |v: u64| v.wrapping_sub(LOW) & !v;
    (below_space | zero(quote) | zero(backslash)) & HIGH != 0
}

/// `s` as a JSON string, escaped as serde_json escapes it: `"`, `\`, and the control
/// characters `\b`, `\t`, `\n`, `\f`, `\r` short, the others as `\u00xx` (lower-case hex);
/// everything else, DEL and non-ASCII included, as it is.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Whole words with nothing to escape are skipped eight bytes at a time.
        if let Some(word) = bytes.get(i..i + 8) {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(word);
            if !needs_escape(u64::from_le_bytes(chunk)) {
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let byte = bytes[i];
            let short: &[u8] = match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0x08 => b"\\b",
                0x09 => b"\\t",
                0x0a => b"\\n",
                0x0c => b"\\f",
                0x0d => b"\\r",
                0x00..=0x1f => b"",
                _ => {
                    i += 1;
                    continue;
                }
            };
            out.extend_from_slice(&bytes[start..i]);
            if short.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ]);
            } else {
                out.extend_from_slice(short);
            }
            i += 1;
            start = i;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
