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
    format!("{:032x}", xxh3_128(bytes))
}

/// XXH3-128 over several parts, each prefixed by its length so that `("ab", "c")` and
/// `("a", "bc")` differ. For fingerprints built from several version fields.
pub fn hash128_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Xxh3::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    format!("{:032x}", hasher.digest128())
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
    fn parts_are_length_prefixed() {
        assert_ne!(
            hash128_parts([b"ab".as_slice(), b"c".as_slice()]),
            hash128_parts([b"a".as_slice(), b"bc".as_slice()])
        );
    }
}
