//! Stable identifiers and fingerprints.
//!
//! [`hash128`] is XXH3-128 printed as 32 lower-case hex digits, big-endian: the same string
//! RAGFlow's `xxhash.xxh128(s.encode()).hexdigest()` gives, so hosts that migrate from RAGFlow
//! keep their document keys (`hash128("{kb}:{connector}:{id}")`).

use xxhash_rust::xxh3::{Xxh3, xxh3_128};

/// XXH3-128 of `s` as 32 lower-case hex digits.
pub fn hash128(s: &str) -> String {
    hash128_bytes(s.as_bytes())
}

/// 32 lower-case hex digits no other call makes, in this process or another: the time in
/// nanoseconds, a counter and the process id, hashed. For one-time values a server checks
/// for replay, such as a signed assertion's `jti`; not a secret (it is guessable).
///
/// ```
/// let (a, b) = (connector_core::ids::unique_id(), connector_core::ids::unique_id());
/// assert_ne!(a, b);
/// assert_eq!(a.len(), 32);
/// ```
pub fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    hash128(&format!("{nanos}:{n}:{}", std::process::id()))
}

/// XXH3-128 of `bytes` as 32 lower-case hex digits.
pub fn hash128_bytes(bytes: &[u8]) -> String {
    hex128(xxh3_128(bytes))
}

/// XXH3-128, as 32 lower-case hex digits, of the bytes `write` puts into a buffer kept per
/// thread: for versions hashed from text a connector assembles per record (fields by name,
/// as they came), without a buffer made per record. A call made while another is writing on
/// the same thread gets a buffer of its own.
///
/// ```
/// use connector_core::ids::{hash128_bytes, hash128_written};
/// let v = hash128_written(|buf| {
///     buf.extend_from_slice(b"name");
///     buf.push(0);
///     buf.extend_from_slice(br#""Ana""#);
/// });
/// assert_eq!(v, hash128_bytes(b"name\0\"Ana\""));
/// ```
pub fn hash128_written(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut hasher = PartsHasher::new();
    write(&mut hasher.buf);
    hasher.finish()
}

/// `format!("{:032x}", v)` without the formatting machinery: fingerprints are computed for
/// every document, and `LowerHex` showed up in the batch loop's profile.
pub(crate) fn hex128(v: u128) -> String {
    let digits = hex128_digits(v);
    // Every byte is an ASCII hex digit: this never fails, and copies once.
    std::str::from_utf8(&digits)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// [`hex128`] into `out`, replacing what it held: a fingerprint set again reuses its buffer.
pub(crate) fn set_hex128(out: &mut String, v: u128) {
    let digits = hex128_digits(v);
    out.clear();
    // Every byte is an ASCII hex digit: this never fails.
    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
}

/// The 32 lower-case hex digits of `v`, big-endian, as [`hash128`] prints them.
pub(crate) fn hex128_digits(v: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    // The halves of a `u128`: the casts keep the bits they name.
    #[allow(clippy::cast_possible_truncation)]
    let (high, low) = ((v >> 64) as u64, v as u64);
    out[..16].copy_from_slice(&hex64_digits(high));
    out[16..].copy_from_slice(&hex64_digits(low));
    out
}

/// The 16 lower-case hex digits of `x`, most significant first, all at once in a `u128`
/// (each digit one byte of it) rather than a table lookup per digit: a third of the
/// instructions, for the two per document (its id and its fingerprint).
fn hex64_digits(x: u64) -> [u8; 16] {
    const ONES: u128 = u128::MAX / 0xff;
    const NIBBLE: u128 = ONES / 0x101 * 0x0f;
    // Byte i (from the lowest) is the i-th byte of `x` from its most significant; each moves
    // to byte 2i, leaving byte 2i + 1 free for its low nibble.
    let mut z = u128::from(x.swap_bytes());
    z = (z | z << 32) & (u128::MAX / 0xffff_ffff_ffff_ffff * 0xffff_ffff);
    z = (z | z << 16) & (u128::MAX / 0xffff_ffff * 0xffff);
    z = (z | z << 8) & (ONES / 0x101 * 0xff);
    // The high nibble at byte 2i, the low one at 2i + 1: one digit's value (0-15) a byte.
    let n = (z >> 4 & NIBBLE) | (z & NIBBLE) << 8;
    // Digits from 10 on are letters, 39 past where `'0' + n` would put them ('a' - '0' - 10);
    // no byte carries into the next (every sum stays below 0x100).
    let letters = (n + ONES * 6) >> 4 & ONES;
    (n + ONES * u128::from(b'0') + letters * 39).to_le_bytes()
}

/// The inverse of [`hex128_digits`]: the value of `s` if it is exactly 32 lower-case hex
/// digits (so that printing it back gives `s` again), else `None`. Eight digits at a time in
/// a `u64` ([`hex8`]) rather than a table lookup per digit: this runs up to three times per
/// document a store keeps (its id looked up to compare it, its id and fingerprint to keep
/// it), and the table's 32 lookups took about 270 instructions a call.
pub(crate) fn parse_hex128(s: &str) -> Option<u128> {
    parse_hex128_bytes(s.as_bytes().try_into().ok()?)
}

/// [`parse_hex128`] of 32 bytes. The four groups' validity is gathered in one mask and
/// tested once, at the end: no branch per group or per test (the `&&`s of a `bool` per group
/// compiled to jumps, about 50 of the call's 170 instructions).
fn parse_hex128_bytes(digits: &[u8; 32]) -> Option<u128> {
    let mut value = 0u128;
    let mut bad = 0u64;
    for chunk in digits.as_chunks::<8>().0 {
        let (v, not_digits) = hex8(u64::from_le_bytes(*chunk));
        value = value << 32 | u128::from(v);
        bad |= not_digits;
    }
    (bad == 0).then_some(value)
}

/// The value of the 8 bytes of `x` (the first, its lowest byte, the most significant digit)
/// read as lower-case hex digits, and a mask with the high bit of each byte that is no such
/// digit set (zero when they all are; the value is meaningless when not).
fn hex8(x: u64) -> (u32, u64) {
    const ONES: u64 = u64::MAX / 0xff;
    const HIGH: u64 = ONES * 0x80;
    const LOW_NIBBLES: u64 = ONES * 0x0f;
    // With every byte below 0x80, adding `0x80 - c` to each sets a byte's high bit exactly
    // when it is at least `c`, and carries into no other byte (0x7f + 0x80 < 0x100). A
    // byte at 0x80 or above is no digit (its own high bit marks it), whatever its sums say.
    let at_least = |c: u8| x.wrapping_add(ONES * u64::from(0x80 - c));
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    let not_digits = (x | !(digit | letter)) & HIGH;
    // A digit's value is its low nibble; a letter's is its low nibble (1-6) plus 9.
    let n = (x & LOW_NIBBLES) + ((letter & HIGH) >> 7) * 9;
    // Nibbles to bytes (digit 2i high, 2i + 1 low into byte 2i), then the four bytes
    // together: the lowest byte of `packed` is the most significant byte of the value.
    let pairs = (n << 4 | n >> 8) & (ONES / 0x101 * 0xff);
    let quads = (pairs | pairs >> 8) & (u64::MAX / 0xffff_ffff * 0xffff);
    // The low 32 bits are the four bytes: the cast keeps them.
    #[allow(clippy::cast_possible_truncation)]
    let packed = (quads | quads >> 16) as u32;
    (packed.swap_bytes(), not_digits)
}

/// [`hash128`] of the concatenation of `parts`, without building it: ids of the form
/// `hash128("{source}:{id}")` in one call and no temporary string (XXH3's streaming digest
/// equals its one-shot digest).
///
/// ```
/// use connector_core::ids::{hash128, hash128_concat};
/// assert_eq!(hash128_concat(&["rest_api", ":", "42"]), hash128("rest_api:42"));
/// ```
pub fn hash128_concat(parts: &[&str]) -> String {
    // Short ids (the usual case) are copied to the stack and hashed in one call, which costs
    // less than the streaming hasher's setup and digest.
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len <= 128 {
        let mut buf = [0u8; 128];
        let mut at = 0;
        for part in parts {
            buf[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
        return hex128(xxh3_128(&buf[..len]));
    }
    let mut hasher = Xxh3::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex128(hasher.digest128())
}

/// XXH3-128 over several parts, each prefixed by its length so that `("ab", "c")` and
/// `("a", "bc")` differ. For fingerprints built from several version fields.
pub fn hash128_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = PartsHasher::new();
    for part in parts {
        hasher.part(part);
    }
    hasher.finish()
}

/// An XXH3-128 hash of length-prefixed parts (as [`hash128_parts`] takes them) and serialised
/// JSON, for fingerprints over several fields without building one string first.
///
/// The parts are gathered in a buffer kept per thread and hashed in one call at
/// [`finish`](PartsHasher::finish): the digest of a stream does not depend on how it is cut,
/// and a dozen small streaming updates (two per part, and serde_json writes a value in pieces
/// of a few bytes) cost more than copying the bytes once and hashing them in one go.
pub(crate) struct PartsHasher {
    /// The thread's buffer while this hasher holds it; a hasher made while another is alive
    /// on the thread (a `Serialize` impl that fingerprints) gets a buffer of its own.
    buf: Vec<u8>,
}

thread_local! {
    static PARTS_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl PartsHasher {
    pub(crate) fn new() -> Self {
        let mut buf = PARTS_BUF.with(std::cell::Cell::take);
        buf.clear();
        Self { buf }
    }

    /// Adds one part, prefixed by its length. Inlined: a fingerprint adds seven or more, and
    /// out of line (as the compiler left it once the fields fingerprint took its metadata
    /// part from a closure) each cost a call of about 50 instructions.
    #[inline]
    pub(crate) fn part(&mut self, part: &[u8]) {
        self.buf
            .extend_from_slice(&(part.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(part);
    }

    /// Adds `value` as compact JSON, prefixed by a marker rather than a length. Writing into
    /// a `Vec` cannot fail, and serialising a JSON value or a map of them cannot either;
    /// should it ever, the part is just shorter.
    pub(crate) fn json(&mut self, value: &impl serde::Serialize) {
        self.buf.extend_from_slice(b"\xffjson");
        let _ = serde_json::to_writer(&mut self.buf, value);
    }

    /// [`json`](Self::json) of a map of JSON values (a document's metadata): the same bytes
    /// (property-tested, `jsonw`), written without serde_json's serializer. Returns them, for
    /// a caller that keeps them (`None` if writing failed part way).
    pub(crate) fn json_map<'a, K: AsRef<str> + 'a>(
        &mut self,
        map: impl IntoIterator<Item = (&'a K, &'a serde_json::Value)>,
    ) -> Option<&[u8]> {
        self.buf.extend_from_slice(b"\xffjson");
        let mark = self.buf.len();
        crate::jsonw::write_map(&mut self.buf, map)
            .ok()
            .map(|()| &self.buf[mark..])
    }

    /// [`json`](Self::json) of JSON its caller writes into the buffer (`write` appends it).
    pub(crate) fn json_written(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.buf.extend_from_slice(b"\xffjson");
        write(&mut self.buf);
    }

    pub(crate) fn finish(&self) -> String {
        hex128(xxh3_128(&self.buf))
    }

    /// [`finish`](Self::finish) into `out`, reusing its buffer.
    pub(crate) fn finish_into(&self, out: &mut String) {
        set_hex128(out, xxh3_128(&self.buf));
    }
}

impl Drop for PartsHasher {
    fn drop(&mut self) {
        // Handed back for the next hasher on this thread, unless it grew past what a
        // document's fields usually take.
        if self.buf.capacity() <= 1 << 16 {
            let buf = std::mem::take(&mut self.buf);
            PARTS_BUF.with(|cell| cell.set(buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every digit value at every position, and values whose bytes straddle the halves.
    #[test]
    fn hex128_digits_are_format_x() {
        let mut values = vec![0u128, u128::MAX, 1, 1 << 64, (1 << 64) - 1];
        for shift in 0..32 {
            for digit in 0..16u128 {
                values.push(digit << (shift * 4));
                values.push(!(digit << (shift * 4)));
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834_u128;
        for _ in 0..1000 {
            x = x
                .wrapping_mul(0x2545_f491_4f6c_dd1d)
                .wrapping_add(0x1405_7b7e_f767_814f);
            values.push(x);
        }
        for v in values {
            assert_eq!(hex128_digits(v), format!("{v:032x}").as_bytes(), "{v:#x}");
        }
    }

    /// The value of 32 bytes by the definition: each a lower-case hex digit, in order.
    fn parse_by_digits(digits: &[u8; 32]) -> Option<u128> {
        digits.iter().try_fold(0u128, |v, &b| {
            let d = b"0123456789abcdef".iter().position(|&h| h == b)?;
            Some(v << 4 | d as u128)
        })
    }

    /// Every byte value at every position of valid digits, and printed values read back.
    #[test]
    fn parse_hex128_reads_lower_case_hex_digits_only() {
        let mut x = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834_u128;
        for _ in 0..200 {
            x = x
                .wrapping_mul(0x2545_f491_4f6c_dd1d)
                .wrapping_add(0x1405_7b7e_f767_814f);
            let digits = hex128_digits(x);
            assert_eq!(parse_hex128_bytes(&digits), Some(x), "{x:#x}");
            let text = std::str::from_utf8(&digits).unwrap_or_default();
            assert_eq!(parse_hex128(text), Some(x));
            assert_eq!(parse_hex128(&text[1..]), None);
            assert_eq!(parse_hex128(&format!("{text}0")), None);
        }
        for at in 0..32 {
            for byte in 0..=255u8 {
                let mut digits = hex128_digits(x);
                digits[at] = byte;
                assert_eq!(
                    parse_hex128_bytes(&digits),
                    parse_by_digits(&digits),
                    "{byte:#x} at {at}"
                );
                // The same byte everywhere: no digit's carry reaches another.
                let same = [byte; 32];
                assert_eq!(
                    parse_hex128_bytes(&same),
                    parse_by_digits(&same),
                    "{byte:#x}"
                );
            }
        }
        assert_eq!(parse_hex128(&"F".repeat(32)), None);
        assert_eq!(parse_hex128(&"é".repeat(16)), None);
    }

    #[test]
    fn matches_ragflow_xxh128_hexdigest() {
        assert_eq!(hash128(""), "99aa06d3014798d86001c324468d497f");
        assert_eq!(hash128("hello"), "b5e9c1ad071b3e7fc779cfaa5e523818");
        assert_eq!(
            hash128("kb1:conn1:s3:my-bucket:docs/a.txt"),
            "d82624ae7c00662d33a4fcb8e3e549e0"
        );
    }

    #[test]
    fn hex_matches_format() {
        for v in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_0011_2233_4455_6677,
        ] {
            assert_eq!(hex128(v), format!("{v:032x}"));
        }
    }

    #[test]
    fn json_map_hashes_what_json_hashes() {
        let maps: [crate::Metadata; 3] = [
            crate::Metadata::new(),
            [
                (
                    "a\"b".into(),
                    serde_json::json!([1, -2, 1.5, null, "x\u{1}y"]),
                ),
                (
                    "größe".into(),
                    serde_json::json!({"z": u64::MAX, "a": {"b": true}}),
                ),
                (
                    "a_key_longer_than_twenty_three_bytes".into(),
                    serde_json::json!("é\n"),
                ),
            ]
            .into_iter()
            .collect(),
            [("tags".into(), serde_json::json!("a, b"))]
                .into_iter()
                .collect(),
        ];
        for map in &maps {
            let mut a = PartsHasher::new();
            a.json(map);
            let mut b = PartsHasher { buf: Vec::new() };
            b.json_map(map);
            assert_eq!(a.buf, b.buf);
            assert_eq!(a.finish(), b.finish());
        }
    }

    #[test]
    fn parts_are_length_prefixed() {
        assert_ne!(
            hash128_parts([b"ab".as_slice(), b"c".as_slice()]),
            hash128_parts([b"a".as_slice(), b"bc".as_slice()])
        );
    }
}
