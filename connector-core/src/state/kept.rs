//! What the built-in stores keep of each document, compactly.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DocumentState;
use super::docs::IdRef;
use crate::ids::{hex128_digits, parse_hex128};

/// A [`DocumentState`] as the built-in stores hold it, serialised exactly like one.
///
/// Most connectors fingerprint with [`hash128`](crate::ids::hash128), 32 lower-case hex
/// digits: those are kept as their 16 bytes instead of a `String` (no allocation, and about
/// 50 bytes less per document in a store holding millions). Any other fingerprint is kept as it
/// is; both read back as the same string.
///
/// It also holds the mark of a prune pass (see [`PrunePass`](super::PrunePass)), which is
/// never written out: it fits in what would otherwise be padding, so it costs no memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Kept {
    fingerprint: Fingerprint,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::stamp::serialize_option"
    )]
    updated_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    listed: bool,
}

impl Kept {
    /// Keeps `state`.
    pub(super) fn new(state: DocumentState) -> Self {
        Self {
            fingerprint: Fingerprint::new(state.fingerprint),
            updated_at: state.updated_at,
            listed: false,
        }
    }

    /// Keeps a state given by its parts, borrowed: a hash fingerprint is read, not copied.
    pub(super) fn of(fingerprint: &str, updated_at: Option<DateTime<Utc>>) -> Self {
        Self {
            fingerprint: Fingerprint::of(fingerprint),
            updated_at,
            listed: false,
        }
    }

    /// Whether the open prune pass marked it as listed.
    pub(super) fn listed(&self) -> bool {
        self.listed
    }

    /// Marks it as listed, or not, for the open prune pass.
    pub(super) fn set_listed(&mut self, listed: bool) {
        self.listed = listed;
    }

    /// Whether `fingerprint` is the one kept.
    pub(super) fn has_fingerprint(&self, fingerprint: &str) -> bool {
        match &self.fingerprint {
            Fingerprint::Hash(kept) => parse_hash(fingerprint) == Some(*kept),
            Fingerprint::Other(kept) => **kept == *fingerprint,
        }
    }

    /// What is written of it, by value.
    pub(super) fn view(&self) -> KeptRef<'_> {
        KeptRef {
            fingerprint: match &self.fingerprint {
                Fingerprint::Hash(hash) => FingerprintRef::Hash(*hash),
                Fingerprint::Other(s) => FingerprintRef::Other(s),
            },
            updated_at: self.updated_at,
        }
    }

    /// The state as it was committed, with the `parent` kept beside it.
    pub(super) fn state(&self, parent: Option<&str>) -> DocumentState {
        DocumentState {
            fingerprint: self.fingerprint.to_string(),
            updated_at: self.updated_at,
            parent_id: parent.map(str::to_owned),
        }
    }
}

/// What a snapshot writes of a [`Kept`], borrowed by value ([`Kept::view`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeptRef<'a> {
    fingerprint: FingerprintRef<'a>,
    updated_at: Option<DateTime<Utc>>,
}

impl<'a> KeptRef<'a> {
    /// The fingerprint.
    pub(super) fn fingerprint(self) -> FingerprintRef<'a> {
        self.fingerprint
    }

    /// The `updated_at`.
    pub(super) fn updated_at(self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    /// Appends the snapshot's entry of the document `id` with this state and `parent`:
    /// `"id":` and [`write_json`](Self::write_json)'s JSON. A hash id with a hash fingerprint
    /// and no parent (nearly every document of most connectors) is put together in a buffer
    /// on the stack, each piece copied at a known size, and appended in one copy: the pieces
    /// appended one by one each paid the vector's capacity check, and the date a `memcpy`
    /// call (about a fifth of the snapshot's instructions).
    pub(super) fn write_entry(
        self,
        out: &mut Vec<u8>,
        id: IdRef<'_>,
        parent: Option<&str>,
    ) -> serde_json::Result<()> {
        if let (IdRef::Hash(id), FingerprintRef::Hash(fingerprint), None) =
            (id, self.fingerprint, parent)
        {
            let at = match &self.updated_at {
                Some(at) => super::Rfc3339::of(at),
                None => None,
            };
            if at.is_some() || self.updated_at.is_none() {
                let mut entry = EntryBuf::default();
                entry.put(b"\"");
                entry.put(&hex128_digits(id));
                entry.put(b"\":{\"fingerprint\":\"");
                entry.put(&hex128_digits(fingerprint.value()));
                entry.put(b"\"");
                if let Some(text) = &at {
                    // Digits and `-:.TZ`: nothing to escape.
                    entry.put(b",\"updated_at\":\"");
                    let (padded, len) = text.padded();
                    entry.put_first(padded, len);
                    entry.put(b"\"");
                }
                entry.put(b"}");
                out.extend_from_slice(entry.as_bytes());
                return Ok(());
            }
        }
        id.write_json(out);
        out.push(b':');
        self.write_json(out, parent)
    }

    /// Appends the JSON a [`DocumentState`] with this state and `parent` serialises as
    /// (`{"fingerprint":…,"updated_at":…,"parent_id":…}`).
    pub(super) fn write_json(
        self,
        out: &mut Vec<u8>,
        parent: Option<&str>,
    ) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"fingerprint\":");
        match self.fingerprint {
            FingerprintRef::Hash(hash) => {
                let digits = hex128_digits(hash.value());
                out.push(b'"');
                // Hex digits need no escape.
                out.extend_from_slice(&digits);
                out.push(b'"');
            }
            FingerprintRef::Other(s) => crate::jsonw::write_str(out, s),
        }
        if let Some(at) = &self.updated_at {
            out.extend_from_slice(b",\"updated_at\":");
            match super::Rfc3339::of(at) {
                // Digits and `-:.TZ`: nothing to escape.
                Some(text) => {
                    out.push(b'"');
                    out.extend_from_slice(text.as_bytes());
                    out.push(b'"');
                }
                None => serde_json::to_writer(&mut *out, at)?,
            }
        }
        if let Some(parent) = parent {
            out.extend_from_slice(b",\"parent_id\":");
            crate::jsonw::write_str(out, parent);
        }
        out.push(b'}');
        Ok(())
    }
}

/// The longest entry [`KeptRef::write_entry`] puts together: `"`, the id's 32 digits,
/// `":{"fingerprint":"`, 32 digits, `"`, `,"updated_at":"`, the date's whole buffer (copied
/// at its fixed size), `"}`. Derived from the pieces, so that a longer date cannot be cut.
const ENTRY_MAX: usize = 1 + 32 + 18 + 32 + 1 + 15 + super::stamp::MAX + 2;

/// [`KeptRef::write_entry`]'s buffer: room for the longest entry it puts together (34 bytes
/// of id, 17 + 34 of fingerprint, 15 + 32 of date, the braces).
struct EntryBuf {
    buf: [u8; ENTRY_MAX],
    len: usize,
}

impl Default for EntryBuf {
    fn default() -> Self {
        Self {
            buf: [0; ENTRY_MAX],
            len: 0,
        }
    }
}

impl EntryBuf {
    /// Appends `bytes` (nothing if they do not fit, which the sizes above rule out).
    fn put(&mut self, bytes: &[u8]) {
        self.put_first(bytes, bytes.len());
    }

    /// Appends `bytes`, then keeps only the first `len` of them.
    fn put_first(&mut self, bytes: &[u8], len: usize) {
        if let Some(to) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            to.copy_from_slice(bytes);
            self.len += len.min(bytes.len());
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// A [`Fingerprint`] borrowed by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FingerprintRef<'a> {
    /// 32 lower-case hex digits, as their value.
    Hash(Hash128),
    Other(&'a str),
}

impl Serialize for FingerprintRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The digits straight from a stack buffer: `collect_str` would go through `fmt` (and
        // a snapshot writes one per document).
        match self {
            Self::Hash(hash) => {
                let digits = hex128_digits(hash.value());
                serializer.serialize_str(std::str::from_utf8(&digits).unwrap_or_default())
            }
            Self::Other(s) => serializer.serialize_str(s),
        }
    }
}

/// A kept fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fingerprint {
    /// 32 lower-case hex digits, as their value.
    Hash(Hash128),
    Other(Box<str>),
}

impl Fingerprint {
    fn new(s: String) -> Self {
        match parse_hash(&s) {
            Some(hash) => Self::Hash(hash),
            None => Self::Other(s.into_boxed_str()),
        }
    }

    fn of(s: &str) -> Self {
        match parse_hash(s) {
            Some(hash) => Self::Hash(hash),
            None => Self::Other(s.into()),
        }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hash(hash) => {
                let digits = hex128_digits(hash.value());
                f.write_str(std::str::from_utf8(&digits).map_err(|_| std::fmt::Error)?)
            }
            Self::Other(s) => f.write_str(s),
        }
    }
}

fn parse_hash(s: &str) -> Option<Hash128> {
    parse_hex128(s).map(Hash128::new)
}

/// The value of a 128-bit hash fingerprint, in two halves that keep it 8-byte aligned in
/// [`Fingerprint`] (after the enum's tag, beside the `Box<str>` of the other variant). As a
/// `[u8; 16]` it sat right after the tag, at offset 1, and every fingerprint kept was moved
/// into place a byte off through the stack, a load overlapping two earlier stores, which
/// cannot be forwarded: it waited for every store before it, the table's entry of the
/// previous document included (nearly all of a first run's `StateData::apply` samples
/// were on that move). Aligned, the wait is where it belongs, on the table's store (a cache
/// miss per new document, which this does not remove).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hash128([u64; 2]);

impl Hash128 {
    fn new(value: u128) -> Self {
        // The halves of a `u128`: the casts keep the bits they name.
        #[allow(clippy::cast_possible_truncation)]
        Self([(value >> 64) as u64, value as u64])
    }

    fn value(self) -> u128 {
        u128::from(self.0[0]) << 64 | u128::from(self.0[1])
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Hash(hash) => FingerprintRef::Hash(*hash),
            Self::Other(s) => FingerprintRef::Other(s),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::hash128;
    use proptest::prelude::*;

    fn state(fingerprint: &str) -> DocumentState {
        DocumentState {
            fingerprint: fingerprint.to_owned(),
            updated_at: None,
            parent_id: None,
        }
    }

    #[test]
    fn a_hash_is_kept_as_bytes_and_reads_back_the_same() {
        let fp = hash128("hello");
        let kept = Kept::new(state(&fp));
        assert!(matches!(kept.fingerprint, Fingerprint::Hash(_)));
        assert_eq!(kept.state(None), state(&fp));
        assert!(kept.has_fingerprint(&fp));
        assert!(!kept.has_fingerprint(&hash128("other")));
        assert!(!kept.has_fingerprint(&fp.to_uppercase()));
    }

    #[test]
    fn other_fingerprints_are_kept_as_they_are() {
        for fp in [
            "",
            "etag-1",
            &hash128("x").to_uppercase(),
            &format!("{}0", hash128("x")),
        ] {
            let kept = Kept::new(state(fp));
            assert!(matches!(kept.fingerprint, Fingerprint::Other(_)), "{fp}");
            assert_eq!(kept.state(None), state(fp));
            assert!(kept.has_fingerprint(fp));
        }
    }

    #[test]
    fn serialises_as_a_document_state() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        for s in [
            state(&hash128("a")),
            state("etag"),
            DocumentState {
                fingerprint: hash128("b"),
                updated_at: Some(at),
                parent_id: None,
            },
        ] {
            let kept = Kept::new(s.clone());
            let json = serde_json::to_string(&kept).unwrap_or_default();
            assert_eq!(json, serde_json::to_string(&s).unwrap_or_default());
            let back: Option<Kept> = serde_json::from_str(&json).ok();
            assert_eq!(back, Some(kept));
        }
    }

    #[test]
    fn the_prune_mark_costs_no_memory_and_is_not_written() {
        // 24 bytes of fingerprint, 12 of `Option<DateTime<Utc>>`, the mark in the padding.
        assert_eq!(std::mem::size_of::<Kept>(), 40);
        let mut kept = Kept::new(state("etag"));
        kept.set_listed(true);
        assert_eq!(
            serde_json::to_string(&kept).ok(),
            serde_json::to_string(&state("etag")).ok()
        );
    }

    proptest! {
        #[test]
        fn any_fingerprint_round_trips(fp in "[0-9a-fA-F]{30,34}|\\PC{0,40}") {
            let kept = Kept::new(state(&fp));
            prop_assert_eq!(&kept.state(None).fingerprint, &fp);
            prop_assert!(kept.has_fingerprint(&fp));
            // Kept from borrowed parts, it is the same.
            prop_assert_eq!(Kept::of(&fp, None), kept);
        }
    }
}

/// The stack-built snapshot entry held to what serde writes for the same state.
#[cfg(test)]
mod stack_entries {
    use super::*;
    use proptest::prelude::*;

    fn serde_entry(id: &str, state: &DocumentState) -> String {
        format!(
            "{{{}:{}}}",
            serde_json::to_string(id).unwrap_or_default(),
            serde_json::to_string(state).unwrap_or_default()
        )
    }

    fn date() -> impl Strategy<Value = Option<DateTime<Utc>>> {
        prop_oneof![
            Just(None),
            (
                prop_oneof![
                    -62_135_596_800i64..253_402_300_799i64,
                    any::<i64>(),
                    (-100i64..100).prop_map(|d| 253_402_300_799 + d),
                    (-100i64..100).prop_map(|d| -62_167_219_200 + d),
                ],
                prop_oneof![
                    Just(0u32),
                    0u32..2_000_000_000,
                    (0u32..1000).prop_map(|m| m * 1_000_000),
                    (0u32..1000).prop_map(|m| m * 1_000),
                ],
            )
                .prop_map(|(s, n)| DateTime::<Utc>::from_timestamp(s, n)),
            (0i64..1000, 0u32..1_000_000_000).prop_map(|(d, n)| {
                // A leap second (second 59 with a fraction past 1e9).
                DateTime::<Utc>::from_timestamp(d * 86_400 + 86_399, 1_000_000_000 + n)
            }),
            Just(Some(DateTime::<Utc>::MIN_UTC)),
            Just(Some(DateTime::<Utc>::MAX_UTC)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn a_stack_entry_is_what_serde_writes(
            id in any::<u128>(),
            fp in prop_oneof![any::<u128>().prop_map(|v| format!("{v:032x}")), "[0-9a-fA-F]{31,33}", "\\PC{0,8}"],
            at in date(),
            parent in proptest::option::of("\\PC{0,4}"),
        ) {
            let state = DocumentState { fingerprint: fp, updated_at: at, parent_id: parent.clone() };
            let kept = Kept::new(state.clone());
            let mut out = Vec::new();
            prop_assert!(kept.view().write_entry(&mut out, IdRef::Hash(id), parent.as_deref()).is_ok());
            prop_assert_eq!(
                format!("{{{}}}", String::from_utf8_lossy(&out)),
                serde_entry(&format!("{id:032x}"), &state)
            );
        }
    }
}
