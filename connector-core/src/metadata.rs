//! [`Metadata`], the map of [`Document::metadata`](crate::Document::metadata), and its
//! iterators.
//!
//! A document's metadata is a handful of entries (a row's `table`, a record's mapped fields),
//! made and dropped once per document. The `BTreeMap<MetaKey, Value>` it was cost a 640-byte
//! node allocated per document, about 265 instructions to insert one entry, about 580 to drop
//! the map and 350 to insert into it again (issues 17 and 24). [`Metadata`] keeps the entries
//! in one `Vec`, sorted by key: one allocation of exactly the entries, an append for keys that
//! arrive in order, a binary search for a lookup, and the same iteration order (the keys' byte
//! order), so every JSON line and fingerprint is the `BTreeMap`'s, byte for byte.

use std::collections::BTreeMap;
use std::fmt;
use std::iter::FusedIterator;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::MetaKey;

/// The type of [`Document::metadata`](crate::Document::metadata): [`MetaKey`]s to JSON values,
/// in the keys' byte order, with the `BTreeMap` API a host most likely uses.
///
/// **Why not a `BTreeMap`.** Metadata is made and dropped once per document, and a
/// `BTreeMap` of even one entry allocates a 640-byte node: its insert, drop and node were a
/// large part of a document's cost (about 1.6k of a row's 5.5k instructions in the rdbms
/// loads). This map keeps its entries sorted in one `Vec<(MetaKey, Value)>`: one allocation
/// of the entries alone, an append when keys arrive in order (the common case: a connector
/// writes its keys in a fixed order, often sorted), a binary search to find a key.
///
/// **Order and output.** It iterates in the keys' byte order, exactly as the
/// `BTreeMap<MetaKey, Value>` it replaced, and serialises as the same JSON object, so the
/// NDJSON lines, the fingerprints and the stored state are unchanged. It deserialises from a
/// JSON object; of duplicate keys the last value is kept, as a `BTreeMap` keeps it.
///
/// **Large maps.** [`insert`](Self::insert) and [`remove`](Self::remove) of a key that is not
/// the greatest shift the entries after it: O(n) per call, so building a map of n keys in
/// random order one insert at a time is O(n²). For more than a few hundred entries, build it
/// with [`FromIterator`] (`collect`) or [`Extend`], which sort once: O(n log n). Lookups are
/// O(log n).
///
/// **Migrating from `BTreeMap<MetaKey, Value>`.** Until this type, `Document::metadata` was
/// that `BTreeMap`; it changed for the cost above (issues 17 and 24), not its behaviour: the
/// order, the JSON and the fingerprints are the same. Code written for the `BTreeMap` mostly
/// compiles unchanged: `get("space")`, `get(&string)`, `insert`, `remove`, `iter`, `keys`,
/// `values(_mut)`, `len`, `retain`, `collect`, `extend`, `append`, `pop_first`/`pop_last`,
/// `first_key_value`/`last_key_value`, indexing (`meta["space"]`, `meta[&string]`), `Eq`,
/// `Hash`, `Debug` and serde. Not offered: `entry`, `range`, `split_off`,
/// `first_entry`/`last_entry`, and naming `btree_map::{Iter, Keys, IntoIter}` or passing
/// `&doc.metadata` where a `&BTreeMap` is expected: convert with the `From` impls both ways
/// (`BTreeMap::from(meta)`, `Metadata::from(btree)`, O(n), no sort), or use
/// `get_mut`/`insert` for what `entry` did. [`insert`](Self::insert) takes a [`MetaKey`], as
/// the `BTreeMap` did, so the keys written `"space".into()` or `name.into()` for it still
/// infer their type (an `impl Into<MetaKey>` key would leave them ambiguous);
/// [`Document::with_metadata`](crate::Document::with_metadata) takes any `Into<MetaKey>`.
///
/// **Kept JSON.** After [`Document::set_fields_fingerprint`](crate::Document::set_fields_fingerprint)
/// the map also holds the JSON it wrote, so the NDJSON line copies it; any `&mut` access
/// (even `get_mut` or `iter_mut` used only to read) drops it.
///
/// ```
/// use connector_core::Metadata;
/// use serde_json::json;
///
/// let mut meta = Metadata::new();
/// meta.insert("space".into(), json!("ENG"));
/// meta.insert("labels".into(), json!(["a", "b"]));
/// assert_eq!(meta.get("space"), Some(&json!("ENG")));
/// assert_eq!(meta.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["labels", "space"]);
/// assert_eq!(serde_json::to_string(&meta).unwrap(), r#"{"labels":["a","b"],"space":"ENG"}"#);
///
/// // As with the `BTreeMap`: lookups and indexing by a `&String`.
/// let key = String::from("space");
/// assert_eq!(meta[&key], json!("ENG"));
/// assert!(meta.get(&key).is_some());
/// ```
#[derive(Clone, Default)]
pub struct Metadata {
    /// Sorted by key (byte order), no two keys equal.
    entries: Vec<(MetaKey, Value)>,
    /// The JSON of `entries`, exactly as `jsonw::write_map` writes it, when the fields
    /// fingerprint wrote it ([`Document::set_fields_fingerprint`](crate::Document::set_fields_fingerprint))
    /// and nothing changed the entries since: the NDJSON line copies it rather than writing
    /// the map a second time (issue 17 (a)). Every `&mut self` method clears it (through
    /// [`entries_mut`](Self::entries_mut)), so it is never stale: the entries are private,
    /// and no `&mut Value` outlives the call that cleared it.
    json: Option<Box<[u8]>>,
}

impl PartialEq for Metadata {
    /// The entries alike (the kept JSON is theirs, or absent).
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Metadata {}

impl std::hash::Hash for Metadata {
    /// As a `BTreeMap` hashes: the length, then each key and value in order (the kept JSON is
    /// not hashed, as it is not compared).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.entries.len());
        for entry in &self.entries {
            entry.hash(state);
        }
    }
}

impl Metadata {
    /// An empty map; allocates nothing.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            json: None,
        }
    }

    /// An empty map with room for `capacity` entries (one allocation, none until then).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
            json: None,
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries_mut().clear();
    }

    /// The entries to change: the kept JSON is dropped first. Every `&mut self` method
    /// reaches the entries through here (the NDJSON line checks the kept JSON against a fresh
    /// write in debug builds, so one that does not is caught by any test writing a line).
    fn entries_mut(&mut self) -> &mut Vec<(MetaKey, Value)> {
        self.json = None;
        &mut self.entries
    }

    /// The entries' JSON as `jsonw::write_map` writes it, if the fields fingerprint kept it
    /// and nothing changed since.
    pub(crate) fn kept_json(&self) -> Option<&[u8]> {
        self.json.as_deref()
    }

    /// Keeps `json`, which the caller has just written of these entries with
    /// `jsonw::write_map`.
    pub(crate) fn keep_json(&mut self, json: Box<[u8]>) {
        self.json = Some(json);
    }

    /// Where `key` is, or where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Sets `key` to `value` and returns the value it had, as `BTreeMap::insert` does (the
    /// key already in the map is kept). A key greater than every key in the map is appended;
    /// any other costs a binary search and, when new, a shift of the greater entries: O(n).
    ///
    /// Insert keys in order, or build a large map with `collect` or [`Extend`]: inserting n
    /// keys in random order one at a time is O(n²) (see the type's docs).
    pub fn insert(&mut self, key: MetaKey, value: Value) -> Option<Value> {
        let entries = self.entries_mut();
        match entries.last() {
            Some((last, _)) if last.as_str() < key.as_str() => {}
            None => {}
            Some(_) => {
                return match entries.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
                    Ok(at) => Some(std::mem::replace(&mut entries[at].1, value)),
                    Err(at) => {
                        entries.insert(at, (key, value));
                        None
                    }
                };
            }
        }
        entries.push((key, value));
        None
    }

    /// Reserves room for at least `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Removes and returns the entry with the least key. O(n): the others shift down.
    pub fn pop_first(&mut self) -> Option<(MetaKey, Value)> {
        if self.entries.is_empty() {
            return None;
        }
        Some(self.entries_mut().remove(0))
    }

    /// Removes and returns the entry with the greatest key. O(1).
    pub fn pop_last(&mut self) -> Option<(MetaKey, Value)> {
        if self.entries.is_empty() {
            return None;
        }
        self.entries_mut().pop()
    }

    /// Moves every entry of `other` into this map, leaving `other` empty; of a key in both,
    /// `other`'s value is kept, as `BTreeMap::append` keeps it. O((n + m) log(n + m)) at most,
    /// O(m) when `other`'s keys all come after this map's.
    pub fn append(&mut self, other: &mut Self) {
        if other.entries.is_empty() {
            return;
        }
        let taken = std::mem::take(other.entries_mut());
        self.extend(taken);
    }

    /// The value of `key`. O(log n).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    /// The key as stored and the value of `key`. O(log n).
    pub fn get_key_value(&self, key: &str) -> Option<(&MetaKey, &Value)> {
        self.find(key).ok().map(|at| {
            let (k, v) = &self.entries[at];
            (k, v)
        })
    }

    /// The value of `key`, to change in place. O(log n).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let at = self.find(key).ok()?;
        Some(&mut self.entries_mut()[at].1)
    }

    /// Whether `key` has a value. O(log n).
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Removes `key` and returns its value. O(n): the greater entries shift down.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key` and returns its stored key and value. O(n), as [`remove`](Self::remove).
    pub fn remove_entry(&mut self, key: &str) -> Option<(MetaKey, Value)> {
        let at = self.find(key).ok()?;
        Some(self.entries_mut().remove(at))
    }

    /// Keeps only the entries for which `keep` returns `true`, in key order. O(n).
    pub fn retain(&mut self, mut keep: impl FnMut(&MetaKey, &mut Value) -> bool) {
        self.entries_mut().retain_mut(|(k, v)| keep(k, v));
    }

    /// The entry with the least key.
    pub fn first_key_value(&self) -> Option<(&MetaKey, &Value)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    /// The entry with the greatest key.
    pub fn last_key_value(&self) -> Option<(&MetaKey, &Value)> {
        self.entries.last().map(|(k, v)| (k, v))
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The entries in key order, the values mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.entries_mut().iter_mut())
    }

    /// The keys in order.
    pub fn keys(&self) -> Keys<'_> {
        Keys(self.entries.iter())
    }

    /// The values in key order.
    pub fn values(&self) -> Values<'_> {
        Values(self.entries.iter())
    }

    /// The values in key order, mutable.
    pub fn values_mut(&mut self) -> ValuesMut<'_> {
        ValuesMut(self.entries_mut().iter_mut())
    }

    /// The keys in order, consuming the map.
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = MetaKey> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }

    /// The values in key order, consuming the map.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = Value> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// A map of `entries` in any order: sorted once (stable, so of equal keys the last one's
    /// value is kept, as inserting them one by one would keep it). O(n log n), O(n) when the
    /// keys already come in order.
    fn from_entries(mut entries: Vec<(MetaKey, Value)>) -> Self {
        let sorted = entries
            .windows(2)
            .all(|pair| pair[0].0.as_str() < pair[1].0.as_str());
        if !sorted {
            entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            // `dedup_by` keeps the first of a run and hands each later one with it: the
            // later value moves into the kept entry.
            entries.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    std::mem::swap(&mut later.1, &mut kept.1);
                }
                same
            });
        }
        Self {
            entries,
            json: None,
        }
    }
}

impl fmt::Debug for Metadata {
    /// As a `BTreeMap` prints: `{"key": value, ...}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Metadata {
    type Output = Value;

    /// The value of `key`.
    ///
    /// # Panics
    ///
    /// When the map has no `key`, as `BTreeMap`'s indexing does.
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no metadata entry for key {key:?}"),
        }
    }
}

impl FromIterator<(MetaKey, Value)> for Metadata {
    /// Collects entries in any order, sorting once: O(n log n). Of duplicate keys the last
    /// value is kept, as a `BTreeMap` keeps it.
    fn from_iter<I: IntoIterator<Item = (MetaKey, Value)>>(iter: I) -> Self {
        Self::from_entries(iter.into_iter().collect())
    }
}

impl Extend<(MetaKey, Value)> for Metadata {
    /// Inserts every entry, a later value replacing an earlier one of the same key. Entries
    /// that come after the map's greatest key, in order, are appended; otherwise the map is
    /// sorted once at the end: O((n + m) log(n + m)), not one O(n) insert per entry.
    fn extend<I: IntoIterator<Item = (MetaKey, Value)>>(&mut self, iter: I) {
        // Collected first, so an iterator that panics leaves the map as it was (sorted, no
        // duplicates) rather than with an unsorted tail.
        let new: Vec<(MetaKey, Value)> = iter.into_iter().collect();
        if new.is_empty() {
            return;
        }
        let start = self.entries.len();
        self.entries_mut().extend(new);
        let in_order = self.entries[start.saturating_sub(1)..]
            .windows(2)
            .all(|pair| pair[0].0.as_str() < pair[1].0.as_str());
        if !in_order {
            *self = Self::from_entries(std::mem::take(&mut self.entries));
        }
    }
}

impl<const N: usize> From<[(MetaKey, Value); N]> for Metadata {
    /// The map of these entries, as [`FromIterator`] builds it.
    fn from(entries: [(MetaKey, Value); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl From<BTreeMap<MetaKey, Value>> for Metadata {
    /// The same entries, already in order: O(n), no sort.
    fn from(map: BTreeMap<MetaKey, Value>) -> Self {
        Self {
            entries: map.into_iter().collect(),
            json: None,
        }
    }
}

impl From<Metadata> for BTreeMap<MetaKey, Value> {
    /// The same entries as a `BTreeMap`, for code that needs its API (`range`, `entry`).
    fn from(map: Metadata) -> Self {
        map.entries.into_iter().collect()
    }
}

impl IntoIterator for Metadata {
    type Item = (MetaKey, Value);
    type IntoIter = std::vec::IntoIter<(MetaKey, Value)>;

    /// The entries in key order, consuming the map.
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a MetaKey, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Metadata {
    type Item = (&'a MetaKey, &'a mut Value);
    type IntoIter = IterMut<'a>;

    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl Serialize for Metadata {
    /// A JSON object of the entries in key order: the bytes a `BTreeMap` gives.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Metadata {
    /// From a JSON object (any key order); of duplicate keys the last value is kept.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;

        impl<'de> Visitor<'de> for MapVisitor {
            type Value = Metadata;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Metadata, A::Error> {
                // The hint is the input's word: capped so a lying one allocates little.
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = access.next_entry::<MetaKey, Value>()? {
                    entries.push(entry);
                }
                Ok(Metadata::from_entries(entries))
            }
        }

        deserializer.deserialize_map(MapVisitor)
    }
}

/// An iterator over a [`Metadata`]'s entries in key order ([`Metadata::iter`]).
#[derive(Debug, Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, (MetaKey, Value)>);

/// An iterator over a [`Metadata`]'s entries in key order, the values mutable
/// ([`Metadata::iter_mut`]).
#[derive(Debug)]
pub struct IterMut<'a>(std::slice::IterMut<'a, (MetaKey, Value)>);

/// An iterator over a [`Metadata`]'s keys in order ([`Metadata::keys`]).
#[derive(Debug, Clone)]
pub struct Keys<'a>(std::slice::Iter<'a, (MetaKey, Value)>);

/// An iterator over a [`Metadata`]'s values in key order ([`Metadata::values`]).
#[derive(Debug, Clone)]
pub struct Values<'a>(std::slice::Iter<'a, (MetaKey, Value)>);

/// An iterator over a [`Metadata`]'s values in key order, mutable ([`Metadata::values_mut`]).
#[derive(Debug)]
pub struct ValuesMut<'a>(std::slice::IterMut<'a, (MetaKey, Value)>);

/// `Iterator`, `DoubleEndedIterator`, `ExactSizeIterator` and `FusedIterator` for an
/// iterator that maps each entry of the slice iterator it wraps with `$map`.
macro_rules! entry_iterator {
    ($name:ident, $item:ty, $map:expr) => {
        impl<'a> Iterator for $name<'a> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<$item> {
                self.0.next().map($map)
            }

            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }
        }

        impl<'a> DoubleEndedIterator for $name<'a> {
            #[inline]
            fn next_back(&mut self) -> Option<$item> {
                self.0.next_back().map($map)
            }
        }

        impl ExactSizeIterator for $name<'_> {}

        impl FusedIterator for $name<'_> {}
    };
}

entry_iterator!(Iter, (&'a MetaKey, &'a Value), |(k, v)| (k, v));
entry_iterator!(IterMut, (&'a MetaKey, &'a mut Value), |(k, v)| (&*k, v));
entry_iterator!(Keys, &'a MetaKey, |(k, _)| k);
entry_iterator!(Values, &'a Value, |(_, v)| v);
entry_iterator!(ValuesMut, &'a mut Value, |(_, v)| v);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// One operation, applied to both maps.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, i64),
        Remove(String),
        Bump(String),
        RetainEven,
        Extend(Vec<(String, i64)>),
        DoubleAll,
        Clear,
        PopFirst,
        PopLast,
        Append(Vec<(String, i64)>),
    }

    fn key() -> impl Strategy<Value = String> {
        // Few distinct keys (so ops hit existing ones), with non-ASCII and prefixes of each
        // other, where byte order and `char` order could differ.
        prop::sample::select(vec![
            "a",
            "ab",
            "b",
            "B",
            "",
            "é",
            "z\u{10000}",
            "zz",
            "a\0",
        ])
        .prop_map(str::to_string)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (key(), any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => key().prop_map(Op::Remove),
            1 => key().prop_map(Op::Bump),
            1 => Just(Op::RetainEven),
            1 => prop::collection::vec((key(), any::<i64>()), 0..6).prop_map(Op::Extend),
            1 => Just(Op::DoubleAll),
            1 => Just(Op::Clear),
            1 => Just(Op::PopFirst),
            1 => Just(Op::PopLast),
            1 => prop::collection::vec((key(), any::<i64>()), 0..6).prop_map(Op::Append),
        ]
    }

    fn apply(ours: &mut Metadata, theirs: &mut BTreeMap<MetaKey, Value>, op: Op) {
        match op {
            Op::Insert(k, v) => {
                assert_eq!(
                    ours.insert(k.as_str().into(), json!(v)),
                    theirs.insert(k.into(), json!(v))
                );
            }
            Op::Remove(k) => assert_eq!(ours.remove(&k), theirs.remove(k.as_str())),
            Op::Bump(k) => {
                if let Some(v) = ours.get_mut(&k) {
                    *v = json!([v.clone()]);
                }
                if let Some(v) = theirs.get_mut(k.as_str()) {
                    *v = json!([v.clone()]);
                }
            }
            Op::RetainEven => {
                let even = |k: &MetaKey, _: &mut Value| k.len().is_multiple_of(2);
                ours.retain(even);
                theirs.retain(even);
            }
            Op::Extend(entries) => {
                let entries: Vec<(MetaKey, Value)> = entries
                    .into_iter()
                    .map(|(k, v)| (k.into(), json!(v)))
                    .collect();
                ours.extend(entries.clone());
                theirs.extend(entries);
            }
            Op::DoubleAll => {
                for v in ours.values_mut() {
                    *v = json!([v.clone(), v.clone()]);
                }
                for v in theirs.values_mut() {
                    *v = json!([v.clone(), v.clone()]);
                }
            }
            Op::Clear => {
                ours.clear();
                theirs.clear();
            }
            Op::PopFirst => assert_eq!(ours.pop_first(), theirs.pop_first()),
            Op::PopLast => assert_eq!(ours.pop_last(), theirs.pop_last()),
            Op::Append(entries) => {
                let entries: Vec<(MetaKey, Value)> = entries
                    .into_iter()
                    .map(|(k, v)| (k.into(), json!(v)))
                    .collect();
                let mut other: Metadata = entries.iter().cloned().collect();
                let mut other_theirs: BTreeMap<MetaKey, Value> = entries.into_iter().collect();
                ours.append(&mut other);
                theirs.append(&mut other_theirs);
                assert!(other.is_empty());
            }
        }
    }

    fn assert_same(ours: &Metadata, theirs: &BTreeMap<MetaKey, Value>) {
        assert!(ours.iter().eq(theirs.iter()));
        assert!(ours.keys().eq(theirs.keys()));
        assert!(ours.values().eq(theirs.values()));
        assert!(ours.iter().rev().eq(theirs.iter().rev()));
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours.is_empty(), theirs.is_empty());
        assert_eq!(
            serde_json::to_string(ours).unwrap(),
            serde_json::to_string(theirs).unwrap()
        );
        let mut line = Vec::new();
        crate::jsonw::write_map(&mut line, ours).unwrap();
        assert_eq!(line, serde_json::to_vec(theirs).unwrap());
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
        for k in theirs.keys() {
            assert_eq!(ours.get(k), theirs.get(k));
            assert_eq!(&ours[k.as_str()], &theirs[k]);
            assert!(ours.contains_key(k));
        }
        assert_eq!(ours.first_key_value(), theirs.first_key_value());
        assert_eq!(ours.last_key_value(), theirs.last_key_value());
        assert_eq!(&BTreeMap::from(ours.clone()), theirs);
        assert_eq!(&Metadata::from(theirs.clone()), ours);
        assert_eq!(hash_of(ours), hash_of(theirs));
    }

    fn hash_of(value: &impl std::hash::Hash) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(value)
    }

    proptest! {
        /// The same operations leave both maps with the same entries, iterated, printed and
        /// serialised alike.
        #[test]
        fn behaves_as_a_btree_map(ops in prop::collection::vec(op(), 0..40)) {
            let mut ours = Metadata::new();
            let mut theirs = BTreeMap::new();
            for op in ops {
                apply(&mut ours, &mut theirs, op);
                assert_same(&ours, &theirs);
            }
        }

        /// Collected from entries in any order, with duplicates: the `BTreeMap`'s entries;
        /// deserialised from a JSON object with duplicate keys: the `BTreeMap`'s too.
        #[test]
        fn collects_and_deserialises_as_a_btree_map(
            entries in prop::collection::vec((key(), any::<i64>()), 0..20),
        ) {
            let entries: Vec<(MetaKey, Value)> =
                entries.into_iter().map(|(k, v)| (k.into(), json!(v))).collect();
            let ours: Metadata = entries.iter().cloned().collect();
            let theirs: BTreeMap<MetaKey, Value> = entries.iter().cloned().collect();
            assert_same(&ours, &theirs);

            let mut object = String::from("{");
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    object.push(',');
                }
                object.push_str(&serde_json::to_string(k).unwrap());
                object.push(':');
                object.push_str(&v.to_string());
            }
            object.push('}');
            let ours: Metadata = serde_json::from_str(&object).unwrap();
            let theirs: BTreeMap<MetaKey, Value> = serde_json::from_str(&object).unwrap();
            assert_same(&ours, &theirs);
        }
    }

    /// Many keys inserted out of order, one at a time, and removed again: still the
    /// `BTreeMap`'s entries (the large-map path).
    #[test]
    fn large_out_of_order_inserts_behave_as_a_btree_map() {
        let mut ours = Metadata::new();
        let mut theirs = BTreeMap::new();
        // A fixed permutation of 0..2000 (7 is coprime with 2000), in decimal: neither numeric
        // nor byte order.
        for i in 0..2000_u64 {
            let k = MetaKey::from(((i * 7 + 3) % 2000).to_string());
            assert_eq!(ours.insert(k.clone(), json!(i)), theirs.insert(k, json!(i)));
        }
        for i in (0..2000_u64).step_by(3) {
            let k = (i * 11 % 2000).to_string();
            assert_eq!(
                ours.insert(k.as_str().into(), json!(-1)),
                theirs.insert(k.into(), json!(-1))
            );
        }
        assert_same(&ours, &theirs);
        for i in (0..2000_u64).step_by(2) {
            let k = (i * 13 % 2000).to_string();
            assert_eq!(ours.remove(&k), theirs.remove(k.as_str()));
        }
        assert_same(&ours, &theirs);
    }

    /// An iterator that panics part way leaves `extend` with the map it had: sorted, no
    /// duplicate, its kept JSON gone only if the entries changed.
    #[test]
    fn extend_that_panics_leaves_the_map_sorted() {
        let mut meta = Metadata::from([("b".into(), json!(1)), ("d".into(), json!(2))]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            meta.extend((0..3).map(|i| match i {
                0 => ("a".into(), json!(0)),
                1 => ("b".into(), json!(0)),
                _ => panic!("a malformed field"),
            }));
        }));
        assert!(result.is_err());
        assert_eq!(
            meta.keys().map(MetaKey::as_str).collect::<Vec<_>>(),
            ["b", "d"]
        );
        assert_eq!(meta.get("b"), Some(&json!(1)));
        assert!(meta.contains_key("d"));
    }

    #[test]
    fn equal_maps_hash_alike_and_pops_drop_the_kept_json() {
        let mut meta = Metadata::from([("a".into(), json!(1)), ("b".into(), json!(2))]);
        let same = meta.clone();
        assert_eq!(hash_of(&meta), hash_of(&same));
        let set: std::collections::HashSet<Metadata> = [meta.clone(), same].into_iter().collect();
        assert_eq!(set.len(), 1);
        meta.keep_json(b"{}".to_vec().into_boxed_slice());
        assert_eq!(meta.pop_last(), Some(("b".into(), json!(2))));
        assert!(meta.kept_json().is_none());
        meta.keep_json(b"{}".to_vec().into_boxed_slice());
        assert_eq!(meta.pop_first(), Some(("a".into(), json!(1))));
        assert!(meta.kept_json().is_none());
        meta.keep_json(b"{}".to_vec().into_boxed_slice());
        assert_eq!(meta.pop_first(), None);
        assert!(meta.kept_json().is_some(), "nothing changed");
        let mut other = Metadata::from([("c".into(), json!(3))]);
        meta.append(&mut other);
        assert!(meta.kept_json().is_none());
        assert!(other.is_empty());
    }

    #[test]
    fn owned_and_borrowed_iteration() {
        let mut meta = Metadata::from([("b".into(), json!(2)), ("a".into(), json!(1))]);
        for (_, v) in &mut meta {
            *v = json!(v.as_i64().unwrap() * 10);
        }
        let borrowed: Vec<_> = (&meta).into_iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(borrowed, [("a", &json!(10)), ("b", &json!(20))]);
        assert_eq!(meta.clone().into_keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            meta.clone().into_values().collect::<Vec<_>>(),
            [json!(10), json!(20)]
        );
        let owned: Vec<_> = meta.into_iter().collect();
        assert_eq!(owned, [("a".into(), json!(10)), ("b".into(), json!(20))]);
    }

    /// As with the `BTreeMap`: a `&String` and a `&MetaKey` look up and index (the doc test
    /// shows it too).
    #[test]
    fn string_and_key_references_look_up_and_index() {
        let meta = Metadata::from([("space".into(), json!("ENG"))]);
        let string = String::from("space");
        let key = MetaKey::from("space");
        assert_eq!(meta[&string], json!("ENG"));
        assert_eq!(meta[&key], json!("ENG"));
        assert_eq!(meta.get(&string), Some(&json!("ENG")));
        assert_eq!(meta.get(&key), Some(&json!("ENG")));
    }

    #[test]
    fn not_a_map_is_an_error() {
        assert!(serde_json::from_str::<Metadata>("[1]").is_err());
        assert!(serde_json::from_str::<Metadata>(r#"{"a":}"#).is_err());
    }

    #[test]
    #[should_panic(expected = "no metadata entry")]
    fn indexing_a_missing_key_panics() {
        let _ = &Metadata::new()["x"];
    }
}
