//! The documents the built-in stores know, by id.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use chrono::{DateTime, Utc};
use hashbrown::HashTable;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DocumentState;
use super::kept::{FingerprintRef, Kept, KeptRef};
use crate::ids::{hex128_digits, parse_hex128};

/// The built-in stores' map of document ids to what they keep of each, serialised as a JSON
/// object with its keys in ascending order (what a `BTreeMap<String, _>` writes).
///
/// Ids that are 32 lower-case hex digits (those made with [`hash128`](crate::ids::hash128))
/// are kept as their 128-bit value, the others as their text: inline in the table's entry up to
/// [`INLINE`] bytes (`rec…`, `zendesk_ticket_…`, a Salesforce id), in a `Box<str>` beyond. All
/// are looked up by `&str` without an allocation, and keeping a document allocates nothing
/// unless its id is long: a store that kept a small allocation per document left one live
/// island in the heap among the freed parts of each acknowledged document, and the allocator
/// then split, merged and copied around them for the rest of the run (the connector's own
/// allocations took a fifth longer in a full run than in its `load` drained alone). Two hash maps rather than one ordered map: the batch loop looks each
/// document up once to compare it and once to commit it, and an ordered map of string ids paid
/// a string comparison at each of its ~16 levels for both (about a tenth of a `--state` sync's
/// CPU). The order is built only when it is needed: a snapshot, [`ids`](Self::ids) and a prune
/// pass's [`unlisted`](super::PrunePass::unlisted) sort then.
///
/// The hashing, per document on the batch loop's path:
/// - a 128-bit id is hashed with a randomly seeded foldhash (a multiply or two, where SipHash
///   took a fifth of a million-document sync's time). Nearly all such ids are
///   [`hash128`](crate::ids::hash128) output, which a source cannot steer, but any 32
///   lower-case hex digits land here, so a connector that passes a source's id through
///   verbatim lets the source choose them. foldhash calls itself only minimally resistant to
///   hash flooding (no defence against an attacker who sees the hashes); the exposure is
///   small: the seed is random per map and nothing shows a source the hashes or the
///   table's timing per id;
/// - any other id is text the source chose, so it keeps the standard library's seeded SipHash
///   (resistant to hash flooding by crafted ids), but its hash is computed once and kept beside it
///   (hashbrown's `HashTable`): the table's growth never hashes an id again, and 8 bytes per
///   id buy that.
///
/// The parent of each document that has one ([`Document::parent_id`](crate::Document)) is
/// kept in a third table, empty unless the connector asks for children by parent (the
/// Syncer commits parents only then, so the others pay nothing for it):
/// [`children`](Self::children) lists the ids whose parent is one of a set.
#[derive(Debug, Clone, Default)]
pub(super) struct Docs {
    hashed: HashMap<u128, Kept, foldhash::fast::RandomState>,
    other: Table<Other>,
    parents: Table<Parent>,
}

/// A hashbrown table of entries that keep their own hash, with the seeded hasher that made it.
#[derive(Clone)]
struct Table<T> {
    entries: HashTable<T>,
    state: RandomState,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            entries: HashTable::new(),
            state: RandomState::new(),
        }
    }
}

/// An entry of [`Docs::other`].
#[derive(Debug, Clone)]
struct Other {
    hash: u64,
    id: IdText,
    kept: Kept,
}

/// The longest id [`IdText`] keeps inline: what fits in the 24 bytes a `Box<str>` and the
/// variant's tag take anyway.
const INLINE: usize = 22;

/// The text of an id that is not a hash: inline up to [`INLINE`] bytes, else boxed.
#[derive(Clone)]
enum IdText {
    Inline { len: u8, bytes: [u8; INLINE] },
    Boxed(Box<str>),
}

impl IdText {
    fn new(id: &str) -> Self {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                if let Some(to) = bytes.get_mut(..id.len()) {
                    to.copy_from_slice(id.as_bytes());
                }
                Self::Inline { len, bytes }
            }
            _ => Self::Boxed(id.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Self::Boxed(s) => s.as_bytes(),
        }
    }

    /// Whether it is `id` (bytes compared, no UTF-8 check).
    fn is(&self, id: &str) -> bool {
        self.as_bytes() == id.as_bytes()
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `&str`, so always UTF-8.
            Self::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Self::Boxed(s) => s,
        }
    }
}

impl fmt::Debug for IdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An entry of [`Docs::parents`]: a document and its parent's id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parent {
    hash: u64,
    child: IdKey,
    parent: Box<str>,
}

/// What [`Table`] needs of an entry.
trait Hashed {
    fn hash(&self) -> u64;
}

impl Hashed for Other {
    fn hash(&self) -> u64 {
        self.hash
    }
}

impl Hashed for Parent {
    fn hash(&self) -> u64 {
        self.hash
    }
}

impl<T: Hashed> Table<T> {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.entries.find(hash, |e| e.hash() == hash && eq(e))
    }

    fn find_mut(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        self.entries.find_mut(hash, |e| e.hash() == hash && eq(e))
    }

    fn remove(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) {
        if let Ok(entry) = self.entries.find_entry(hash, |e| e.hash() == hash && eq(e)) {
            entry.remove();
        }
    }
}

impl Table<Other> {
    fn hash_of(&self, id: &str) -> u64 {
        self.state.hash_one(id)
    }

    fn get(&self, id: &str) -> Option<&Kept> {
        if self.is_empty() {
            return None;
        }
        let hash = self.hash_of(id);
        self.find(hash, |e| e.id.is(id)).map(|e| &e.kept)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Kept> {
        if self.is_empty() {
            return None;
        }
        let hash = self.hash_of(id);
        self.find_mut(hash, |e| e.id.is(id)).map(|e| &mut e.kept)
    }
}

impl Table<Parent> {
    fn hash_of(&self, child: IdRef<'_>) -> u64 {
        match child {
            IdRef::Hash(v) => self.state.hash_one((0u8, v)),
            IdRef::Other(s) => self.state.hash_one((1u8, s)),
        }
    }

    fn get(&self, child: IdRef<'_>) -> Option<&str> {
        if self.is_empty() {
            return None;
        }
        let hash = self.hash_of(child);
        self.find(hash, |e| e.child.as_ref() == child)
            .map(|e| &*e.parent)
    }

    fn set(&mut self, child: IdRef<'_>, parent: Option<&str>) {
        match parent {
            Some(parent) => {
                let hash = self.hash_of(child);
                match self.find_mut(hash, |e| e.child.as_ref() == child) {
                    Some(e) if *e.parent == *parent => {}
                    Some(e) => e.parent = parent.into(),
                    None => {
                        let entry = Parent {
                            hash,
                            child: child.to_owned_key(),
                            parent: parent.into(),
                        };
                        self.entries.insert_unique(hash, entry, Parent::hash);
                    }
                }
            }
            None if self.is_empty() => {}
            None => {
                let hash = self.hash_of(child);
                self.remove(hash, |e| e.child.as_ref() == child);
            }
        }
    }
}

impl<T: Hashed + fmt::Debug> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter()).finish()
    }
}

/// Equal when they hold the same ids with the same states and parents (the order, the seeds
/// and the kept hashes aside).
impl PartialEq for Docs {
    fn eq(&self, other: &Self) -> bool {
        self.hashed == other.hashed
            && self.other.len() == other.other.len()
            && self
                .other
                .entries
                .iter()
                .all(|e| other.other.get(e.id.as_str()) == Some(&e.kept))
            && self.parents.len() == other.parents.len()
            && self
                .parents
                .entries
                .iter()
                .all(|e| other.parents.get(e.child.as_ref()) == Some(&*e.parent))
    }
}

impl Eq for Docs {}

/// A document id as [`Docs`] keeps it, borrowed; ordered as the id's string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdRef<'a> {
    /// 32 lower-case hex digits, as their value.
    Hash(u128),
    /// Any other id.
    Other(&'a str),
}

impl<'a> IdRef<'a> {
    /// `id` as [`Docs`] keeps it.
    pub(super) fn of(id: &'a str) -> Self {
        match parse_hex128(id) {
            Some(v) => Self::Hash(v),
            None => Self::Other(id),
        }
    }
}

impl IdRef<'_> {
    /// Runs `f` on the id's string (from a stack buffer for a hash).
    pub(super) fn with_str<R>(self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Self::Hash(v) => {
                let digits = hex128_digits(v);
                f(std::str::from_utf8(&digits).unwrap_or_default())
            }
            Self::Other(s) => f(s),
        }
    }

    /// Appends the id as a JSON string (a hash's digits need no escaping, so they are not
    /// scanned for any).
    pub(super) fn write_json(self, out: &mut Vec<u8>) {
        match self {
            Self::Hash(v) => {
                out.push(b'"');
                out.extend_from_slice(&hex128_digits(v));
                out.push(b'"');
            }
            Self::Other(s) => crate::jsonw::write_str(out, s),
        }
    }

    /// The id as a `String`.
    pub(super) fn to_owned_id(self) -> String {
        self.with_str(str::to_owned)
    }

    /// The id as it is owned in a prune pass's order.
    pub(super) fn to_owned_key(self) -> IdKey {
        match self {
            Self::Hash(v) => IdKey::Hash(v),
            Self::Other(s) => IdKey::Other(s.into()),
        }
    }
}

impl Ord for IdRef<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (*self, *other) {
            // Fixed-length lower-case hex digits sort as their values do.
            (Self::Hash(a), Self::Hash(b)) => a.cmp(&b),
            (Self::Other(a), Self::Other(b)) => a.cmp(b),
            (Self::Hash(_), Self::Other(b)) => self.with_str(|a| a.cmp(b)),
            (Self::Other(a), Self::Hash(_)) => other.with_str(|b| a.cmp(b)),
        }
    }
}

impl PartialOrd for IdRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A document id, owned, in the form [`Docs`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum IdKey {
    Hash(u128),
    Other(Box<str>),
}

impl IdKey {
    pub(super) fn as_ref(&self) -> IdRef<'_> {
        match self {
            Self::Hash(v) => IdRef::Hash(*v),
            Self::Other(s) => IdRef::Other(s),
        }
    }
}

impl Docs {
    /// How many documents.
    pub(super) fn len(&self) -> usize {
        self.hashed.len() + self.other.len()
    }

    /// What is kept of `id`.
    pub(super) fn get(&self, id: &str) -> Option<&Kept> {
        match parse_hex128(id) {
            Some(v) => self.hashed.get(&v),
            None => self.other.get(id),
        }
    }

    /// What is kept of `id`, to change.
    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut Kept> {
        match parse_hex128(id) {
            Some(v) => self.hashed.get_mut(&v),
            None => self.other.get_mut(id),
        }
    }

    /// What is kept of the id `key`.
    pub(super) fn get_key(&self, key: IdRef<'_>) -> Option<&Kept> {
        match key {
            IdRef::Hash(v) => self.hashed.get(&v),
            IdRef::Other(s) => self.other.get(s),
        }
    }

    /// The state of `id` as it was committed, with its parent.
    pub(super) fn state(&self, id: &str) -> Option<DocumentState> {
        let key = IdRef::of(id);
        let kept = self.get_key(key)?;
        Some(kept.state(self.parents.get(key)))
    }

    /// The parent kept for the id `key`.
    pub(super) fn parent(&self, key: IdRef<'_>) -> Option<&str> {
        self.parents.get(key)
    }

    /// Keeps `kept` and `parent` for `id`, replacing what was kept.
    pub(super) fn insert(&mut self, id: &str, kept: Kept, parent: Option<&str>) {
        match parse_hex128(id) {
            Some(v) => {
                self.hashed.insert(v, kept);
                self.parents.set(IdRef::Hash(v), parent);
            }
            None => {
                self.parents.set(IdRef::Other(id), parent);
                let hash = self.other.hash_of(id);
                match self.other.find_mut(hash, |e| e.id.is(id)) {
                    Some(entry) => entry.kept = kept,
                    None => {
                        let entry = Other {
                            hash,
                            id: IdText::new(id),
                            kept,
                        };
                        self.other.entries.insert_unique(hash, entry, Other::hash);
                    }
                }
            }
        }
    }

    /// Forgets `id`.
    pub(super) fn remove(&mut self, id: &str) {
        let key = IdRef::of(id);
        match key {
            IdRef::Hash(v) => {
                self.hashed.remove(&v);
            }
            IdRef::Other(s) => {
                let hash = self.other.hash_of(s);
                self.other.remove(hash, |e| e.id.is(s));
            }
        }
        self.parents.set(key, None);
    }

    /// The ids whose parent is one of `parents`, each once, in the ids' byte order. It reads every document
    /// that has a parent (none are indexed by parent: the index would cost every such document
    /// memory for a query a connector makes once per page of deletions).
    pub(super) fn children(&self, parents: &[&str]) -> Vec<String> {
        if self.parents.is_empty() || parents.is_empty() {
            return Vec::new();
        }
        let wanted: HashSet<&str> = parents.iter().copied().collect();
        let mut ids: Vec<IdRef<'_>> = self
            .parents
            .entries
            .iter()
            .filter(|e| wanted.contains(&*e.parent))
            .map(|e| e.child.as_ref())
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(IdRef::to_owned_id).collect()
    }

    /// Everything kept, in no order.
    pub(super) fn values(&self) -> impl Iterator<Item = &Kept> {
        self.hashed
            .values()
            .chain(self.other.entries.iter().map(|e| &e.kept))
    }

    /// Everything kept, in no order, to change.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Kept> {
        self.hashed
            .values_mut()
            .chain(self.other.entries.iter_mut().map(|e| &mut e.kept))
    }

    /// Every id and what is kept of it, in no order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (IdRef<'_>, &Kept)> {
        let hashed = self.hashed.iter().map(|(v, k)| (IdRef::Hash(*v), k));
        let other = self
            .other
            .entries
            .iter()
            .map(|e| (IdRef::Other(e.id.as_str()), &e.kept));
        hashed.chain(other)
    }

    /// Every id and what is written of it, in the ids' order: the 128-bit ids sorted by value
    /// ([`sort_by_key128`], no string compared), the others by their text, the two merged.
    /// (A snapshot writes every document in this order, at the end of a first run on the
    /// critical path: the comparison sort of [`IdRef`]s this replaces was about a sixth of
    /// the store's instructions in a 50k-document first run.) The sort's vector holds a
    /// reference to each kept state, 32 bytes an item: copies of the states ([`Kept::view`])
    /// would make the reads that follow sequential, but they doubled the vector, and its
    /// fresh pages' faults cost what the table's random reads did.
    pub(super) fn sorted(&self) -> Sorted<'_> {
        let hashed = sort_by_key128(self.hashed.iter().map(|(v, k)| (*v, k)), self.hashed.len());
        let mut other: Vec<(&str, &Kept)> = self
            .other
            .entries
            .iter()
            .map(|e| (e.id.as_str(), &e.kept))
            .collect();
        other.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Sorted {
            hashed: hashed.into_iter().peekable(),
            other: other.into_iter().peekable(),
        }
    }

    /// Every id, in order.
    pub(super) fn ids(&self) -> Vec<String> {
        self.sorted()
            .map(|(id, _)| IdRef::to_owned_id(id))
            .collect()
    }
}

/// [`Docs::sorted`]: the two kinds of ids, each sorted, merged into the ids' order.
pub(super) struct Sorted<'a> {
    hashed: std::iter::Peekable<std::vec::IntoIter<(u128, &'a Kept)>>,
    other: std::iter::Peekable<std::vec::IntoIter<(&'a str, &'a Kept)>>,
}

/// Whether the 128-bit id `v` comes before the other id `s` in the ids' order: by the first
/// digit of `v` against the first byte of `s` (one digit printed, not all 32), and only when
/// they are the same by the whole text.
fn hash_before(v: u128, s: &str) -> bool {
    // The top nibble: below 16, so the cast keeps it.
    #[allow(clippy::cast_possible_truncation)]
    let nibble = (v >> 124) as u8;
    let first = if nibble < 10 {
        b'0' + nibble
    } else {
        b'a' + nibble - 10
    };
    match s.as_bytes().first() {
        Some(&byte) if byte != first => first < byte,
        _ => IdRef::Hash(v) < IdRef::Other(s),
    }
}

impl<'a> Iterator for Sorted<'a> {
    type Item = (IdRef<'a>, KeptRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let hash_first = match (self.hashed.peek(), self.other.peek()) {
            (Some((v, _)), Some((s, _))) => hash_before(*v, s),
            (hashed, _) => hashed.is_some(),
        };
        if hash_first {
            self.hashed.next().map(|(v, k)| (IdRef::Hash(v), k.view()))
        } else {
            self.other.next().map(|(s, k)| (IdRef::Other(s), k.view()))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.hashed.len() + self.other.len();
        (n, Some(n))
    }
}

/// The `n` `items` sorted by their keys: a counting sort into buckets by the keys' top bits
/// (about two keys a bucket when they are spread as hashes are, which nearly all are), then
/// each bucket sorted by comparison. Keys that crowd into few buckets (ids a source chose)
/// are sorted by comparison there, as a plain sort would sort them: never slower than that by
/// more than the two passes. The items are read twice (counted, then placed), straight from
/// where they are, so only the sorted vector is allocated.
fn sort_by_key128<T: Copy>(
    items: impl Iterator<Item = (u128, T)> + Clone,
    n: usize,
) -> Vec<(u128, T)> {
    /// Below this many keys a comparison sort is as quick.
    const SMALL: usize = 64;
    /// At most 2^16 buckets (512 KiB of counts).
    const MAX_BITS: u32 = 16;
    let mut first = items.clone();
    let filler = first.next().filter(|_| n >= SMALL);
    let Some(filler) = filler else {
        let mut items: Vec<_> = items.collect();
        items.sort_unstable_by_key(|e| e.0);
        return items;
    };
    // 2^bits buckets for n keys: between one and two keys a bucket.
    let bits = (usize::BITS - 1 - n.leading_zeros()).min(MAX_BITS);
    let shift = 128 - bits;
    // The top `bits` bits of a key: below 2^16, so the cast keeps them.
    #[allow(clippy::cast_possible_truncation)]
    let bucket = |key: u128| (key >> shift) as usize;
    // `at[b]`: where bucket `b` starts, then (as it is filled) where its next key goes.
    let mut at = vec![0usize; (1 << bits) + 1];
    for (key, _) in items.clone() {
        at[bucket(key) + 1] += 1;
    }
    for b in 1..at.len() {
        at[b] += at[b - 1];
    }
    // The output is as long as the keys counted, whatever `n` said: `n` only sizes the
    // buckets, so a wrong one costs time, never a panic or a filler copy left in the output.
    let mut out = vec![filler; at[1 << bits]];
    for item in items {
        let slot = &mut at[bucket(item.0)];
        out[*slot] = item;
        *slot += 1;
    }
    // Now `at[b]` is where bucket `b` ends.
    let mut start = 0;
    for &end in &at[..1 << bits] {
        if end - start > 1 {
            out[start..end].sort_unstable_by_key(|e| e.0);
        }
        start = end;
    }
    out
}

impl Serialize for Docs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (id, kept) in self.sorted() {
            let entry = KeptOut {
                fingerprint: kept.fingerprint(),
                updated_at: kept.updated_at(),
                parent_id: self.parent(id),
            };
            id.with_str(|id| map.serialize_entry(id, &entry))?;
        }
        map.end()
    }
}

/// One document's JSON, as [`DocumentState`]'s `Serialize` writes it.
#[derive(Serialize)]
struct KeptOut<'a> {
    fingerprint: FingerprintRef<'a>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::stamp::serialize_option"
    )]
    updated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<&'a str>,
}

/// One document's JSON read back (a snapshot `main` wrote before parents were kept has no
/// `parent_id`).
#[derive(Deserialize)]
struct KeptIn {
    fingerprint: String,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    parent_id: Option<String>,
}

impl<'de> Deserialize<'de> for Docs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocsVisitor;

        impl<'de> Visitor<'de> for DocsVisitor {
            type Value = Docs;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of document ids to their states")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Docs, A::Error> {
                let mut docs = Docs::default();
                while let Some((id, kept)) = access.next_entry::<String, KeptIn>()? {
                    let state = DocumentState {
                        fingerprint: kept.fingerprint,
                        updated_at: kept.updated_at,
                        parent_id: None,
                    };
                    docs.insert(&id, Kept::new(state), kept.parent_id.as_deref());
                }
                Ok(docs)
            }
        }

        deserializer.deserialize_map(DocsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::hash128;
    use crate::state::DocumentState;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn kept(fp: &str) -> Kept {
        Kept::new(DocumentState {
            fingerprint: fp.to_owned(),
            updated_at: None,
            parent_id: None,
        })
    }

    /// Hash ids, ids that look almost like them, and others, mixed.
    fn id_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| hash128(&n.to_string())),
            any::<u64>().prop_map(|n| hash128(&n.to_string()).to_uppercase()),
            "[0-9a-g]{31,33}",
            "\\PC{0,12}",
            // Around the longest inline id, in bytes (`é` is two).
            "[a-z_:]{20,24}",
            "é{10,12}",
            "\\PC{20,40}",
        ]
    }

    proptest! {
        #[test]
        fn behaves_as_an_ordered_map_of_strings(
            ops in proptest::collection::vec(
                (id_strategy(), any::<bool>(), proptest::option::of("p[0-3]")),
                0..60,
            )
        ) {
            let mut docs = Docs::default();
            let mut model = BTreeMap::new();
            for (i, (id, remove, parent)) in ops.iter().enumerate() {
                if *remove {
                    docs.remove(id);
                    model.remove(id);
                } else {
                    let k = kept(&format!("f{i}"));
                    docs.insert(id, k.clone(), parent.as_deref());
                    model.insert(id.clone(), k.state(parent.as_deref()));
                }
            }
            prop_assert_eq!(docs.len(), model.len());
            prop_assert_eq!(docs.ids(), model.keys().cloned().collect::<Vec<_>>());
            for (id, ..) in &ops {
                prop_assert_eq!(docs.state(id), model.get(id).cloned());
            }
            for parents in [&["p0"][..], &["p1", "p3"], &["p2", "nobody"]] {
                let expected: Vec<String> = model
                    .iter()
                    .filter(|(_, s)| s.parent_id.as_deref().is_some_and(|p| parents.contains(&p)))
                    .map(|(id, _)| id.clone())
                    .collect();
                prop_assert_eq!(docs.children(parents), expected);
            }
            prop_assert_eq!(
                serde_json::to_string(&docs).ok(),
                serde_json::to_string(&model).ok()
            );
            // The snapshot's hand-written JSON of each document is its `Serialize`'s.
            for (id, kept) in docs.sorted() {
                let mut written = Vec::new();
                prop_assert!(kept.write_json(&mut written, docs.parent(id)).is_ok());
                let state = id.with_str(|id| model.get(id).cloned());
                prop_assert_eq!(
                    String::from_utf8(written).ok(),
                    serde_json::to_string(&state).ok()
                );
                // And as an entry of the snapshot's map.
                let mut entry = Vec::new();
                prop_assert!(kept.write_entry(&mut entry, id, docs.parent(id)).is_ok());
                let expected = id.with_str(|id| {
                    let mut map = serde_json::Map::new();
                    map.insert(id.to_owned(), serde_json::to_value(&state).unwrap_or_default());
                    serde_json::to_string(&map).unwrap_or_default()
                });
                prop_assert_eq!(
                    format!("{{{}}}", String::from_utf8_lossy(&entry)),
                    expected
                );
            }
            let json = serde_json::to_string(&docs).unwrap_or_default();
            let back: Option<Docs> = serde_json::from_str(&json).ok();
            prop_assert_eq!(back, Some(docs));
        }
    }

    /// Sizes around the counting sort's floor and bucket counts, with keys spread as hashes
    /// are, crowded into one bucket, and repeated.
    #[test]
    fn keys_sort_as_a_comparison_sort_sorts_them() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u128;
        let mut next = || {
            x = x
                .wrapping_mul(0x2545_f491_4f6c_dd1d_f39c_c060_5ced_c835)
                .wrapping_add(0x1405_7b7e_f767_814f);
            x
        };
        for n in [0, 1, 2, 63, 64, 65, 127, 128, 129, 1000, 5000, 70_000] {
            let spread: Vec<u128> = (0..n).map(|_| next()).collect();
            let crowded: Vec<u128> = spread.iter().map(|k| k >> 100).collect();
            let repeated: Vec<u128> = spread.iter().map(|k| (k % 7) << 120).collect();
            for keys in [spread, crowded, repeated] {
                let items: Vec<(u128, usize)> = keys.iter().copied().zip(0..).collect();
                let sorted = sort_by_key128(items.iter().copied(), n);
                let mut expected = keys.clone();
                expected.sort_unstable();
                assert_eq!(
                    sorted.iter().map(|e| e.0).collect::<Vec<_>>(),
                    expected,
                    "{n}"
                );
                // Each item once, with its own key.
                let mut seen = vec![false; n];
                for (key, i) in sorted {
                    assert_eq!(key, keys[i]);
                    assert!(!std::mem::replace(&mut seen[i], true));
                }
            }
        }
    }

    /// A count that is not the number of items (review4 F2) changes nothing but the
    /// buckets: every item comes out once, sorted, and nothing else does.
    #[test]
    fn a_wrong_count_sorts_the_items_all_the_same() {
        let keys: Vec<u128> = (0..500u128)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) << 64)
            .collect();
        let items: Vec<(u128, usize)> = keys.iter().copied().zip(0..).collect();
        let mut expected = keys;
        expected.sort_unstable();
        for n in [64, 100, 499, 501, 5000] {
            let sorted = sort_by_key128(items.iter().copied(), n);
            assert_eq!(
                sorted.iter().map(|e| e.0).collect::<Vec<_>>(),
                expected,
                "{n}"
            );
        }
    }

    /// Enough hash ids for the counting sort, merged with other ids on both sides of them.
    #[test]
    fn many_ids_come_out_in_string_order() {
        let mut docs = Docs::default();
        let mut model = BTreeMap::new();
        for i in 0..3000 {
            let id = match i % 6 {
                0 => format!("{:x}-other-{i}", i % 16),
                1 => format!("{}{i}", "f".repeat(32)),
                // First bytes below, between and above the digits, and none.
                2 => ["", "-", "A", "_", "g", "é"][i / 6 % 6].to_owned() + &i.to_string(),
                _ => hash128(&i.to_string()),
            };
            docs.insert(&id, kept(&format!("f{i}")), None);
            model.insert(id, ());
        }
        assert_eq!(docs.ids(), model.keys().cloned().collect::<Vec<_>>());
        let sorted: Vec<String> = docs.sorted().map(|(id, _)| id.to_owned_id()).collect();
        assert_eq!(sorted, docs.ids());
        assert_eq!(docs.sorted().size_hint(), (3000, Some(3000)));
    }

    #[test]
    fn short_ids_are_kept_inline_and_long_ones_boxed() {
        // The 24 bytes of a `Box<str>` and its tag: inline ids cost the entry nothing.
        assert_eq!(std::mem::size_of::<IdText>(), 24);
        for (id, inline) in [
            ("", true),
            ("rec00000000000001", true),
            ("zendesk_ticket_123456", true),
            ("a".repeat(INLINE).as_str(), true),
            ("a".repeat(INLINE + 1).as_str(), false),
            ("é".repeat(11).as_str(), true),
            ("é".repeat(12).as_str(), false),
        ] {
            let text = IdText::new(id);
            assert_eq!(matches!(text, IdText::Inline { .. }), inline, "{id}");
            assert_eq!(text.as_str(), id);
            assert!(text.is(id));
            assert!(!text.is(&format!("{id}x")));
        }
    }

    #[test]
    fn a_hash_id_and_its_other_forms_are_different_ids() {
        let id = hash128("x");
        let mut docs = Docs::default();
        docs.insert(&id, kept("a"), None);
        docs.insert(&id.to_uppercase(), kept("b"), None);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs.get(&id), Some(&kept("a")));
        assert_eq!(docs.get(&id.to_uppercase()), Some(&kept("b")));
        assert!(docs.get(&id[1..]).is_none());
        assert_eq!(
            docs.get_key(IdRef::Hash(parse_hex128(&id).unwrap_or(0))),
            Some(&kept("a"))
        );
    }
}
