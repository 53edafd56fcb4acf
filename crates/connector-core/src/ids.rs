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

/// XXH3-128 of `bytes` as 32 lower-case hex digits.
pub fn hash128_bytes(bytes: &[u8]) -> String {
    hex128(xxh3_128(bytes))
}

/// `format!("{:032x}", v)` without the formatting machinery: fingerprints are computed for
/// every document, and `LowerHex` showed up in the batch loop's profile.
fn hex128(v: u128) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for shift in (0..32).rev() {
        out.push(char::from(DIGITS[((v >> (shift * 4)) & 0xf) as usize]));
    }
    out
}

/// XXH3-128 over several parts, each prefixed by its length so that `("ab", "c")` and
/// `("a", "bc")` differ. For fingerprints built from several version fields.
pub fn hash128_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Xxh3::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex128(hasher.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn parts_are_length_prefixed() {
        assert_ne!(
            hash128_parts([b"ab".as_slice(), b"c".as_slice()]),
            hash128_parts([b"a".as_slice(), b"bc".as_slice()])
        );
    }
}
