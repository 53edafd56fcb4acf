//! The documents the built-in stores know, by id.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::kept::Kept;
use crate::ids::{hex128_digits, parse_hex128};

/// The built-in stores' map of document ids to what they keep of each, serialised as a JSON
/// object with its keys in ascending order (what a `BTreeMap<String, _>` writes).
///
/// Ids that are 32 lower-case hex digits (those made with [`hash128`](crate::ids::hash128),
/// nearly every connector's) are kept as their 128-bit value, the others as a `Box<str>`; both
/// are looked up by `&str` without an allocation. Two hash maps rather than one ordered map:
/// the batch loop looks each document up once to compare it and once to commit it, and an
/// ordered map of string ids paid a string comparison at each of its ~16 levels for both
/// (about a tenth of a `--state` sync's CPU). The order is built only when it is needed: a
/// snapshot, [`ids`](Self::ids) and a prune pass's [`unlisted`](super::PrunePass::unlisted)
/// sort then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Docs {
    hashed: HashMap<u128, Kept>,
    other: HashMap<Box<str>, Kept>,
}

/// A document id as [`Docs`] keeps it, borrowed; ordered as the id's string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdRef<'a> {
    /// 32 lower-case hex digits, as their value.
    Hash(u128),
    /// Any other id.
    Other(&'a str),
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// Keeps `kept` for `id`, replacing what was kept.
    pub(super) fn insert(&mut self, id: String, kept: Kept) {
        match parse_hex128(&id) {
            Some(v) => {
                self.hashed.insert(v, kept);
            }
            None => {
                self.other.insert(id.into_boxed_str(), kept);
            }
        }
    }

    /// Forgets `id`.
    pub(super) fn remove(&mut self, id: &str) {
        match parse_hex128(id) {
            Some(v) => self.hashed.remove(&v),
            None => self.other.remove(id),
        };
    }

    /// Everything kept, in no order.
    pub(super) fn values(&self) -> impl Iterator<Item = &Kept> {
        self.hashed.values().chain(self.other.values())
    }

    /// Everything kept, in no order, to change.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Kept> {
        self.hashed.values_mut().chain(self.other.values_mut())
    }

    /// Every id and what is kept of it, in no order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (IdRef<'_>, &Kept)> {
        let hashed = self.hashed.iter().map(|(v, k)| (IdRef::Hash(*v), k));
        let other = self.other.iter().map(|(s, k)| (IdRef::Other(s), k));
        hashed.chain(other)
    }

    /// Every id and what is kept of it, in the ids' order.
    pub(super) fn sorted(&self) -> Vec<(IdRef<'_>, &Kept)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Every id, in order.
    pub(super) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<IdRef<'_>> = self.iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids.into_iter().map(IdRef::to_owned_id).collect()
    }
}

impl Serialize for Docs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (id, kept) in self.sorted() {
            id.with_str(|id| map.serialize_entry(id, kept))?;
        }
        map.end()
    }
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
                while let Some((id, kept)) = access.next_entry::<String, Kept>()? {
                    docs.insert(id, kept);
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
        })
    }

    /// Hash ids, ids that look almost like them, and others, mixed.
    fn id_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| hash128(&n.to_string())),
            any::<u64>().prop_map(|n| hash128(&n.to_string()).to_uppercase()),
            "[0-9a-g]{31,33}",
            "\\PC{0,12}",
        ]
    }

    proptest! {
        #[test]
        fn behaves_as_an_ordered_map_of_strings(
            ops in proptest::collection::vec((id_strategy(), any::<bool>()), 0..60)
        ) {
            let mut docs = Docs::default();
            let mut model = BTreeMap::new();
            for (i, (id, remove)) in ops.iter().enumerate() {
                if *remove {
                    docs.remove(id);
                    model.remove(id);
                } else {
                    let k = kept(&format!("f{i}"));
                    docs.insert(id.clone(), k.clone());
                    model.insert(id.clone(), k);
                }
            }
            prop_assert_eq!(docs.len(), model.len());
            prop_assert_eq!(docs.ids(), model.keys().cloned().collect::<Vec<_>>());
            for (id, _) in &ops {
                prop_assert_eq!(docs.get(id), model.get(id));
            }
            prop_assert_eq!(
                serde_json::to_string(&docs).ok(),
                serde_json::to_string(&model).ok()
            );
            let json = serde_json::to_string(&docs).unwrap_or_default();
            let back: Option<Docs> = serde_json::from_str(&json).ok();
            prop_assert_eq!(back, Some(docs));
        }
    }

    #[test]
    fn a_hash_id_and_its_other_forms_are_different_ids() {
        let id = hash128("x");
        let mut docs = Docs::default();
        docs.insert(id.clone(), kept("a"));
        docs.insert(id.to_uppercase(), kept("b"));
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
