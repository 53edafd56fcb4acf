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

/// `n`'s decimal digits (the same as its `Display`, as serde_json writes a `u64`).
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
/// Eight spaces: the padding of a string's last, partial word (nothing to escape).
const SPACES: u64 = LOW * 0x20;

/// The bytes of `x` (little-endian: the first byte lowest) that JSON escapes, a control
/// character (below 0x20), `"` or `\`, each flagged by its high bit; zero when there is none.
/// The lowest flagged byte is exact (no byte below it is flagged, UTF-8 bytes of 0x80 and above
/// included); bytes above an escaped one may be flagged falsely (a borrow out of it), so only
/// the lowest is read, and the scan resumes at the byte after it.
#[inline]
fn escape_mask(x: u64) -> u64 {
    let below_space = x.wrapping_sub(SPACES) & !x;
    let quote = x ^ (LOW * u64::from(b'"'));
    let backslash = x ^ (LOW * u64::from(b'\\'));
    let zero = |v: u64| v.wrapping_sub(LOW) & !v;
    (below_space | zero(quote) | zero(backslash)) & HIGH
}

/// The eight bytes at `bytes[at..]` as a word, the first byte lowest.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// `bytes` (fewer than eight) as a word's low bytes, the first lowest, zeros above: read as
/// two overlapping halves, not byte by byte.
#[inline]
fn short_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if n >= 4 {
        let half = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[at..at + 4]);
            u64::from(u32::from_le_bytes(w))
        };
        half(0) | half(n - 4) << ((n - 4) * 8)
    } else if n >= 2 {
        let half = |at: usize| u64::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
        half(0) | half(n - 2) << ((n - 2) * 8)
    } else {
        bytes.first().map_or(0, |&b| u64::from(b))
    }
}

/// `byte` (one `escape_mask` flags) escaped as serde_json escapes it.
#[inline]
fn write_escape(out: &mut Vec<u8>, byte: u8) {
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => 0,
    };
    if short == 0 {
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
        out.extend_from_slice(&[b'\\', short]);
    }
}

/// The last `n` (1 to 7) bytes of `rest` as a word's low bytes, padded with spaces (which
/// need no escape): read as the word ending where `rest` ends when there is one (its first
/// bytes shifted out), else in two overlapping halves.
#[inline]
fn tail_word(rest: &[u8], n: usize) -> u64 {
    let low = if rest.len() >= 8 {
        word_at(rest, rest.len() - 8) >> ((8 - n) * 8)
    } else {
        short_word(&rest[rest.len() - n..])
    };
    low | SPACES << (n * 8)
}

/// `s` as a JSON string, escaped as serde_json escapes it: `"`, `\`, and the control
/// characters `\b`, `\t`, `\n`, `\f`, `\r` short, the others as `\u00xx` (lower-case hex);
/// everything else, DEL and non-ASCII included, as it is.
///
/// The bytes not yet written (`rest`) are checked a word (eight) at a time by
/// `chunks_exact`, which leaves the loop no bounds check; their last partial word is read
/// whole (see [`tail_word`]) and padded with spaces. The first byte to escape in a word is
/// found from its mask; the run before it is copied in one piece, the byte escaped, and the
/// check starts again right after it. Most strings have nothing to escape: one pass over
/// their words, one copy.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let mut rest = s.as_bytes();
    // Room for a short string's words as well (see below).
    out.reserve(rest.len().max(16) + 2);
    out.push(b'"');
    // A string of one to sixteen bytes (a metadata key or value, a name, a title) is one
    // word or two overlapping ones: with nothing to escape, it goes out with its closing
    // quote as one fixed-size copy from the stack, cut to its length, instead of the word
    // loop, a `memcpy` call and a push.
    match rest.len() {
        n @ 1..8 => {
            let word = short_word(rest);
            if escape_mask(word | SPACES << (n * 8)) == 0 {
                let at = out.len();
                out.extend_from_slice(&(word | u64::from(b'"') << (n * 8)).to_le_bytes());
                out.truncate(at + n + 1);
                return;
            }
        }
        n @ 8..=16 => {
            let (first, last) = (word_at(rest, 0), word_at(rest, n - 8));
            if escape_mask(first) | escape_mask(last) == 0 {
                let mut words = [0u8; 17];
                words[..8].copy_from_slice(&first.to_le_bytes());
                words[n - 8..n].copy_from_slice(&last.to_le_bytes());
                words[n] = b'"';
                let at = out.len();
                out.extend_from_slice(&words);
                out.truncate(at + n + 1);
                return;
            }
        }
        _ => {}
    }
    loop {
        let mut words = rest.chunks_exact(8);
        let mut checked = 0;
        let mut mask = 0;
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            mask = escape_mask(u64::from_le_bytes(w));
            if mask != 0 {
                break;
            }
            checked += 8;
        }
        if mask == 0 {
            let n = words.remainder().len();
            if n > 0 {
                mask = escape_mask(tail_word(rest, n));
            }
        }
        if mask == 0 {
            out.extend_from_slice(rest);
            break;
        }
        // The lowest flagged byte: trailing_zeros is below 64, so the cast is exact.
        let at = checked + (mask.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&rest[..at]);
        write_escape(out, rest[at]);
        rest = &rest[at + 1..];
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(s: &str) -> Vec<u8> {
        let mut out = b"prefix".to_vec();
        write_str(&mut out, s);
        out.split_off(6)
    }

    fn serde(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap_or_default()
    }

    /// Every ASCII byte (the escaped ones and their neighbours) and a few multi-byte
    /// characters, alone at every offset of every length up to 64, between fillers of one,
    /// two and three bytes (so the word boundaries fall on every byte of a character).
    #[test]
    fn one_special_anywhere_is_serde_jsons_string() {
        let mut specials: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        specials.extend(
            ["\u{80}", "é", "\u{7ff}", "中", "\u{2028}", "\u{ffff}", "😀"].map(String::from),
        );
        for fill in ["a", " ", "é", "中"] {
            for len in 0..64 {
                for at in 0..=len {
                    for special in &specials {
                        let s = format!("{}{special}{}", fill.repeat(at), fill.repeat(len - at));
                        assert_eq!(ours(&s), serde(&s), "{s:?}");
                    }
                }
            }
        }
    }

    /// Short strings (up to sixteen bytes, written with their closing quote in one copy and
    /// cut) one after another in one buffer, at every fill of its capacity: each is
    /// serde_json's string, and nothing of the copy past its quote is left before the next.
    #[test]
    fn short_strings_in_a_row_are_serde_jsons_strings() {
        let alphabet = ["a", " ", "\"", "\n", "é", "\u{1}", "~"];
        let mut strings = vec![String::new()];
        for len in 1..=18 {
            for i in 0..40usize {
                let s: String = (0..len)
                    .map(|k| alphabet[(i * 7 + k * 3 + len) % alphabet.len()])
                    .collect();
                strings.push(s);
            }
        }
        for cap in 0..20 {
            for pair in strings.windows(2) {
                let mut out = Vec::with_capacity(cap);
                write_str(&mut out, &pair[0]);
                write_str(&mut out, &pair[1]);
                let mut want = serde(&pair[0]);
                want.extend(serde(&pair[1]));
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&want),
                    "{pair:?} at capacity {cap}"
                );
            }
        }
    }

    /// Two bytes to escape at every pair of offsets: the second may sit where the first's
    /// borrow flags a byte falsely (`"` then `#`, NUL then 0x01, `\` then `]`).
    #[test]
    fn two_specials_anywhere_are_serde_jsons_string() {
        let specials = [
            "\0", "\u{1}", "\u{1f}", "\"", "#", "\\", "]", "\n", "!", " ", "\u{7f}", "é",
        ];
        for len in 0..24 {
            for first in 0..len {
                for second in first + 1..len {
                    for a in specials {
                        for b in specials {
                            let mut s = String::new();
                            for i in 0..len {
                                s.push_str(if i == first {
                                    a
                                } else if i == second {
                                    b
                                } else {
                                    "x"
                                });
                            }
                            assert_eq!(ours(&s), serde(&s), "{s:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn write_u64_is_display() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            1_767_225_600,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    proptest! {
        /// Any string, and every slice of it that starts and ends on a character boundary
        /// (so each of its bytes is read at every position of a word).
        #[test]
        fn any_string_and_its_slices_are_serde_jsons_string(
            s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}|[\\x00-\\x22\\\\a-c\u{e9}]{0,40}",
        ) {
            for a in (0..=s.len()).filter(|&i| s.is_char_boundary(i)) {
                for b in (a..=s.len()).filter(|&i| s.is_char_boundary(i)) {
                    prop_assert_eq!(ours(&s[a..b]), serde(&s[a..b]));
                }
            }
        }
    }

    /// Review: random strings of 0 to 40 characters over an alphabet dense in bytes to escape,
    /// their neighbours and multi-byte characters, at every offset (each also sliced).
    #[test]
    fn review_random_strings_are_serde_jsons_string() {
        let alphabet = [
            "\0",
            "\u{1}",
            "\u{8}",
            "\t",
            "\n",
            "\u{b}",
            "\u{c}",
            "\r",
            "\u{1f}",
            " ",
            "!",
            "\"",
            "#",
            "[",
            "\\",
            "]",
            "\u{7f}",
            "a",
            "\u{80}",
            "é",
            "\u{7ff}",
            "\u{800}",
            "中",
            "\u{2028}",
            "\u{ffff}",
            "😀",
            "\u{10ffff}",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200_000 {
            let len = next(41);
            let dense = next(4);
            let mut s = String::new();
            for _ in 0..len {
                if dense == 0 || next(dense + 1) == 0 {
                    s.push_str(alphabet[next(alphabet.len() as u64) as usize]);
                } else {
                    s.push('x');
                }
            }
            assert_eq!(ours(&s), serde(&s), "{s:?}");
        }
        // Every string of up to 17 bytes from {a, ", \, \n, é's two bytes} reached by length.
        fn all(prefix: &mut String, left: usize) {
            assert_eq!(ours(prefix), serde(prefix), "{prefix:?}");
            if left == 0 {
                return;
            }
            for c in ['a', '"', '\n', 'é'] {
                if c.len_utf8() <= left {
                    prefix.push(c);
                    all(prefix, left - c.len_utf8());
                    prefix.pop();
                }
            }
        }
        all(&mut String::new(), 11);
    }
}
