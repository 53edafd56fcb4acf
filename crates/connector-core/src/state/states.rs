//! The acknowledged documents of a [`Commit`](super::Commit).

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DocumentState;
use crate::document::Document;

/// The documents a sink acknowledged, as a [`Commit`](super::Commit) hands them to a store.
///
/// A store records three things of each: its id, fingerprint and `updated_at`. The batch loop
/// hands over the acknowledged documents themselves rather than copies of those fields, so a
/// store pays only for what it keeps: one that writes them out (a journal line, SQL parameters)
/// borrows them through [`iter`](Self::iter), one that keeps them in memory moves them out with
/// [`into_states`](Self::into_states), and nothing is copied for a store that keeps nothing.
///
/// Built by hand from `(id, state)` pairs, for tests and tools:
///
/// ```
/// use connector_core::state::{DocumentState, DocumentStates};
///
/// let states: DocumentStates = vec![(
///     "a".to_owned(),
///     DocumentState { fingerprint: "f1".into(), updated_at: None },
/// )]
/// .into();
/// let first = states.iter().next().map(|s| (s.id, s.fingerprint));
/// assert_eq!(first, Some(("a", "f1")));
/// ```
///
/// It serialises as a list of `[id, {"fingerprint": …, "updated_at": …}]` pairs.
#[derive(Debug, Default)]
pub struct DocumentStates(Repr);

#[derive(Debug)]
enum Repr {
    /// Acknowledged documents, and where their vector goes once the store is done with them.
    Documents(Vec<Document>, Option<Recycler>),
    States(Vec<(String, DocumentState)>),
}

impl Clone for DocumentStates {
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Documents(d, _) => Self(Repr::Documents(d.clone(), None)),
            Repr::States(s) => Self(Repr::States(s.clone())),
        }
    }
}

impl Drop for DocumentStates {
    fn drop(&mut self) {
        if let Repr::Documents(docs, Some(recycler)) = &mut self.0 {
            recycler.put(std::mem::take(docs));
        }
    }
}

/// A one-slot pool through which the batch loop gets back the vector of each batch it hands to
/// the store, emptied: with glibc's allocator a fresh multi-KiB vector per batch (and its free)
/// cost more than the rest of the loop's work per batch.
#[derive(Debug, Clone)]
pub(crate) struct Recycler {
    slot: Arc<Mutex<Vec<Document>>>,
    max_capacity: usize,
}

impl Recycler {
    /// Keeps vectors of at most `max_capacity` documents.
    pub(crate) fn new(max_capacity: usize) -> Self {
        Self {
            slot: Arc::new(Mutex::new(Vec::new())),
            max_capacity,
        }
    }

    /// An empty vector, with the capacity of the last one returned if there is one.
    pub(crate) fn take(&self) -> Vec<Document> {
        std::mem::take(&mut *self.lock())
    }

    /// Hands `documents` to a store; their vector comes back here when the store drops them.
    pub(crate) fn wrap(&self, documents: Vec<Document>) -> DocumentStates {
        DocumentStates(Repr::Documents(documents, Some(self.clone())))
    }

    fn put(&self, mut documents: Vec<Document>) {
        if documents.capacity() > self.max_capacity {
            return;
        }
        documents.clear();
        let mut slot = self.lock();
        if documents.capacity() > slot.capacity() {
            *slot = documents;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Document>> {
        // Nothing panics while the lock is held.
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for Repr {
    fn default() -> Self {
        Self::States(Vec::new())
    }
}

/// One entry of [`DocumentStates`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentStateRef<'a> {
    /// The document's id.
    pub id: &'a str,
    /// Its fingerprint.
    pub fingerprint: &'a str,
    /// Its `updated_at`.
    pub updated_at: Option<DateTime<Utc>>,
}

impl DocumentStates {
    /// How many documents.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Documents(d, _) => d.len(),
            Repr::States(s) => s.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Borrows each document's id, fingerprint and `updated_at`, in acknowledgement order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = DocumentStateRef<'_>> + '_ {
        let (docs, states) = match &self.0 {
            Repr::Documents(d, _) => (d.as_slice(), &[][..]),
            Repr::States(s) => (&[][..], s.as_slice()),
        };
        let docs = docs.iter().map(|d| DocumentStateRef {
            id: &d.id,
            fingerprint: &d.fingerprint,
            updated_at: d.updated_at,
        });
        let states = states.iter().map(|(id, s)| DocumentStateRef {
            id,
            fingerprint: &s.fingerprint,
            updated_at: s.updated_at,
        });
        Chained {
            first: docs,
            second: states,
        }
    }

    /// Moves each document's id and state out, in acknowledgement order.
    pub fn into_states(mut self) -> IntoStates {
        let repr = match &mut self.0 {
            Repr::Documents(docs, recycler) => IntoStatesRepr::Documents {
                docs: std::mem::take(docs),
                next: 0,
                recycler: recycler.take(),
            },
            Repr::States(s) => IntoStatesRepr::States(std::mem::take(s).into_iter()),
        };
        IntoStates(repr)
    }
}

/// Two exact-size iterators, one of which is empty: keeps [`DocumentStates::iter`] free of
/// boxing and of `Either` crates.
struct Chained<A, B> {
    first: A,
    second: B,
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for Chained<A, B> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.first.next().or_else(|| self.second.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (a, _) = self.first.size_hint();
        let (b, _) = self.second.size_hint();
        (a + b, Some(a + b))
    }
}

impl<T, A: ExactSizeIterator<Item = T>, B: ExactSizeIterator<Item = T>> ExactSizeIterator
    for Chained<A, B>
{
}

/// The owning iterator of [`DocumentStates::into_states`].
#[derive(Debug)]
pub struct IntoStates(IntoStatesRepr);

#[derive(Debug)]
enum IntoStatesRepr {
    /// The documents stay in their vector (their ids and fingerprints are taken out) so that
    /// the vector can go back to the batch loop.
    Documents {
        docs: Vec<Document>,
        next: usize,
        recycler: Option<Recycler>,
    },
    States(std::vec::IntoIter<(String, DocumentState)>),
}

impl Iterator for IntoStates {
    type Item = (String, DocumentState);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoStatesRepr::Documents { docs, next, .. } => {
                let doc = docs.get_mut(*next)?;
                *next += 1;
                Some((
                    std::mem::take(&mut doc.id),
                    DocumentState {
                        fingerprint: std::mem::take(&mut doc.fingerprint),
                        updated_at: doc.updated_at,
                    },
                ))
            }
            IntoStatesRepr::States(s) => s.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoStatesRepr::Documents { docs, next, .. } => {
                let left = docs.len() - *next;
                (left, Some(left))
            }
            IntoStatesRepr::States(s) => s.size_hint(),
        }
    }
}

impl Drop for IntoStates {
    fn drop(&mut self) {
        if let IntoStatesRepr::Documents {
            docs,
            recycler: Some(recycler),
            ..
        } = &mut self.0
        {
            recycler.put(std::mem::take(docs));
        }
    }
}

impl ExactSizeIterator for IntoStates {}

impl From<Vec<Document>> for DocumentStates {
    fn from(documents: Vec<Document>) -> Self {
        Self(Repr::Documents(documents, None))
    }
}

impl From<Vec<(String, DocumentState)>> for DocumentStates {
    fn from(states: Vec<(String, DocumentState)>) -> Self {
        Self(Repr::States(states))
    }
}

impl FromIterator<(String, DocumentState)> for DocumentStates {
    fn from_iter<I: IntoIterator<Item = (String, DocumentState)>>(iter: I) -> Self {
        Self(Repr::States(iter.into_iter().collect()))
    }
}

impl PartialEq for DocumentStates {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for DocumentStates {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct StateRef<'a> {
            fingerprint: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            updated_at: Option<DateTime<Utc>>,
        }
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for s in self.iter() {
            seq.serialize_element(&(
                s.id,
                StateRef {
                    fingerprint: s.fingerprint,
                    updated_at: s.updated_at,
                },
            ))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for DocumentStates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<(String, DocumentState)>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str) -> Document {
        Document::text(id, "test", id, format!("body of {id}"))
    }

    #[test]
    fn documents_and_pairs_are_the_same_states() {
        let docs = vec![doc("a"), doc("b")];
        let pairs: Vec<(String, DocumentState)> = docs
            .iter()
            .map(|d| {
                (
                    d.id.clone(),
                    DocumentState {
                        fingerprint: d.fingerprint.clone(),
                        updated_at: d.updated_at,
                    },
                )
            })
            .collect();
        let from_docs = DocumentStates::from(docs);
        let from_pairs = DocumentStates::from(pairs.clone());
        assert_eq!(from_docs, from_pairs);
        assert_eq!(from_docs.iter().len(), 2);
        assert_eq!(
            serde_json::to_string(&from_docs).ok(),
            serde_json::to_string(&pairs).ok()
        );
        assert_eq!(from_docs.into_states().collect::<Vec<_>>(), pairs);
        assert_eq!(from_pairs.into_states().len(), 2);
    }

    #[test]
    fn the_vector_goes_back_to_the_loop_once_the_store_is_done() {
        let recycler = Recycler::new(8);
        let states = recycler.wrap(vec![doc("a"), doc("b")]);
        let mut iter = states.into_states();
        assert_eq!(iter.next().map(|(id, _)| id), Some("a".to_owned()));
        drop(iter);
        let back = recycler.take();
        assert!(back.is_empty() && back.capacity() >= 2);
        // Dropped without being read, or too large to keep.
        drop(recycler.wrap(back));
        assert!(recycler.take().capacity() >= 2);
        drop(recycler.wrap((0..20).map(|i| doc(&i.to_string())).collect()));
        assert_eq!(recycler.take().capacity(), 0);
    }

    #[test]
    fn round_trips_through_json() {
        let states = DocumentStates::from(vec![doc("x")]);
        let json = serde_json::to_string(&states).unwrap_or_default();
        let back: DocumentStates = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, states);
        assert!(!back.is_empty());
    }
}
