//! The acknowledged documents of a [`Commit`](super::Commit).

use chrono::{DateTime, Utc};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DocumentState;
use crate::document::Document;

/// The documents a sink acknowledged, as a [`Commit`](super::Commit) hands them to a store.
///
/// A store records four things of each: its id, fingerprint, `updated_at` and parent. The batch loop
/// lends the store the acknowledged documents themselves (they are still in the source's page)
/// rather than copies of those fields, so a store pays only for what it keeps: one that writes
/// them out (a journal line, SQL parameters) borrows them through [`iter`](Self::iter), one
/// that keeps the strings in memory as they are can take them out with
/// [`into_states`](Self::into_states) (the loop drops the documents after the commit), and
/// nothing is copied for a store that keeps nothing. The built-in stores read them through
/// [`iter`](Self::iter) too: they keep a hash as its value and a short id inline, with no
/// string of their own.
///
/// Built by hand from `(id, state)` pairs, for tests and tools:
///
/// ```
/// use connector_core::state::{DocumentState, DocumentStates};
///
/// let states: DocumentStates = vec![(
///     "a".to_owned(),
///     DocumentState::new("f1", None),
/// )]
/// .into();
/// let first = states.iter().next().map(|s| (s.id, s.fingerprint));
/// assert_eq!(first, Some(("a", "f1")));
/// ```
///
/// It serialises as a list of `[id, {"fingerprint": …, "updated_at": …}]` pairs.
#[derive(Debug, Default)]
pub struct DocumentStates<'a>(Repr<'a>);

#[derive(Debug)]
enum Repr<'a> {
    /// Acknowledged documents, lent by the batch loop, and whether their parents are part of
    /// the states (else each state has none).
    Documents(&'a mut [Document], bool),
    States(Vec<(String, DocumentState)>),
}

impl Default for Repr<'_> {
    fn default() -> Self {
        Self::States(Vec::new())
    }
}

/// A clone owns its states: the documents of a borrowed set are not copied, only their id,
/// fingerprint and `updated_at`.
impl Clone for DocumentStates<'_> {
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Documents(..) => self
                .iter()
                .map(|s| {
                    (
                        s.id.to_owned(),
                        DocumentState {
                            fingerprint: s.fingerprint.to_owned(),
                            updated_at: s.updated_at,
                            parent_id: s.parent_id.map(str::to_owned),
                        },
                    )
                })
                .collect(),
            Repr::States(s) => Self(Repr::States(s.clone())),
        }
    }
}

/// One entry of [`DocumentStates`], borrowed.
///
/// `#[non_exhaustive]`: only [`DocumentStates::iter`] makes one, and a store reads its
/// fields, so a field added later (as `parent_id` was) breaks no store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentStateRef<'a> {
    /// The document's id.
    pub id: &'a str,
    /// Its fingerprint.
    pub fingerprint: &'a str,
    /// Its `updated_at`.
    pub updated_at: Option<DateTime<Utc>>,
    /// Its [`parent_id`](Document::parent_id).
    pub parent_id: Option<&'a str>,
}

impl<'a> DocumentStates<'a> {
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
        let (docs, parents, states) = match &self.0 {
            Repr::Documents(d, parents) => (&**d, *parents, &[][..]),
            Repr::States(s) => (&[][..], false, s.as_slice()),
        };
        let docs = docs.iter().map(move |d| DocumentStateRef {
            id: &d.id,
            fingerprint: &d.fingerprint,
            updated_at: d.updated_at,
            parent_id: if parents {
                d.parent_id.as_deref()
            } else {
                None
            },
        });
        let states = states.iter().map(|(id, s)| DocumentStateRef {
            id,
            fingerprint: &s.fingerprint,
            updated_at: s.updated_at,
            parent_id: s.parent_id.as_deref(),
        });
        Chained {
            first: docs,
            second: states,
        }
    }

    /// Each document's id and state, in acknowledgement order. Lent documents give up their
    /// id, fingerprint and parent strings (left empty): the batch loop drops them after the commit.
    pub fn into_states(self) -> IntoStates<'a> {
        IntoStates(match self.0 {
            Repr::Documents(docs, parents) => IntoStatesRepr::Documents(docs.iter_mut(), parents),
            Repr::States(s) => IntoStatesRepr::States(s.into_iter()),
        })
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
pub struct IntoStates<'a>(IntoStatesRepr<'a>);

#[derive(Debug)]
enum IntoStatesRepr<'a> {
    Documents(std::slice::IterMut<'a, Document>, bool),
    States(std::vec::IntoIter<(String, DocumentState)>),
}

/// Takes `doc`'s id and state out of it, with its parent if `parent`.
fn take_state(doc: &mut Document, parent: bool) -> (String, DocumentState) {
    (
        std::mem::take(&mut doc.id),
        DocumentState {
            fingerprint: std::mem::take(&mut doc.fingerprint),
            updated_at: doc.updated_at,
            parent_id: if parent { doc.parent_id.take() } else { None },
        },
    )
}

impl Iterator for IntoStates<'_> {
    type Item = (String, DocumentState);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IntoStatesRepr::Documents(docs, parents) => {
                docs.next().map(|d| take_state(d, *parents))
            }
            IntoStatesRepr::States(s) => s.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoStatesRepr::Documents(docs, _) => docs.size_hint(),
            IntoStatesRepr::States(s) => s.size_hint(),
        }
    }
}

impl ExactSizeIterator for IntoStates<'_> {}

/// Lends acknowledged documents to a store; what [`into_states`](DocumentStates::into_states)
/// takes out of them is left empty.
impl<'a> From<&'a mut [Document]> for DocumentStates<'a> {
    fn from(documents: &'a mut [Document]) -> Self {
        Self(Repr::Documents(documents, true))
    }
}

impl<'a> DocumentStates<'a> {
    /// Lends acknowledged documents to a store as [`From`] does, with no parent in their
    /// states unless `parents`: what the batch loop commits for a connector that does not ask
    /// for children, whose store keeps no parents, without a pass that clears each
    /// document's [`parent_id`](Document::parent_id) first.
    pub(crate) fn lent(documents: &'a mut [Document], parents: bool) -> Self {
        Self(Repr::Documents(documents, parents))
    }
}

/// Keeps the id and state of each document (the rest is dropped).
impl From<Vec<Document>> for DocumentStates<'_> {
    fn from(documents: Vec<Document>) -> Self {
        documents
            .into_iter()
            .map(|mut d| take_state(&mut d, true))
            .collect()
    }
}

impl From<Vec<(String, DocumentState)>> for DocumentStates<'_> {
    fn from(states: Vec<(String, DocumentState)>) -> Self {
        Self(Repr::States(states))
    }
}

impl FromIterator<(String, DocumentState)> for DocumentStates<'_> {
    fn from_iter<I: IntoIterator<Item = (String, DocumentState)>>(iter: I) -> Self {
        Self(Repr::States(iter.into_iter().collect()))
    }
}

impl PartialEq for DocumentStates<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for DocumentStates<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct StateRef<'a> {
            fingerprint: &'a str,
            #[serde(
                skip_serializing_if = "Option::is_none",
                serialize_with = "super::stamp::serialize_option"
            )]
            updated_at: Option<DateTime<Utc>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            parent_id: Option<&'a str>,
        }
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for s in self.iter() {
            seq.serialize_element(&(
                s.id,
                StateRef {
                    fingerprint: s.fingerprint,
                    updated_at: s.updated_at,
                    parent_id: s.parent_id,
                },
            ))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for DocumentStates<'_> {
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

    fn pairs(docs: &[Document]) -> Vec<(String, DocumentState)> {
        docs.iter()
            .map(|d| {
                (
                    d.id.clone(),
                    DocumentState {
                        fingerprint: d.fingerprint.clone(),
                        updated_at: d.updated_at,
                        parent_id: d.parent_id.clone(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn documents_and_pairs_are_the_same_states() {
        let mut docs = vec![doc("a"), doc("b")];
        let expected = pairs(&docs);
        let from_pairs = DocumentStates::from(expected.clone());
        let from_docs = DocumentStates::from(&mut docs[..]);
        assert_eq!(from_docs, from_pairs);
        assert_eq!(from_docs.iter().len(), 2);
        assert_eq!(
            serde_json::to_string(&from_docs).ok(),
            serde_json::to_string(&expected).ok()
        );
        assert_eq!(from_docs.clone(), from_pairs);
        assert_eq!(from_docs.into_states().collect::<Vec<_>>(), expected);
        assert_eq!(from_pairs.into_states().len(), 2);
        assert_eq!(
            DocumentStates::from(vec![doc("a"), doc("b")]),
            expected.into()
        );
    }

    #[test]
    fn taking_the_states_of_lent_documents_empties_their_ids() {
        let mut docs = [doc("a"), doc("b")];
        let mut states = DocumentStates::from(&mut docs[..]).into_states();
        assert_eq!(states.len(), 2);
        assert_eq!(states.next().map(|(id, _)| id), Some("a".to_owned()));
        drop(states);
        assert!(docs[0].id.is_empty() && docs[0].fingerprint.is_empty());
        assert_eq!(docs[1].id, "b");
    }

    #[test]
    fn documents_lent_without_parents_have_none_in_their_states() {
        let mut docs = [doc("a"), doc("b")];
        for d in &mut docs {
            d.parent_id = Some("p".to_owned());
        }
        let mut bare = pairs(&docs);
        for (_, s) in &mut bare {
            s.parent_id = None;
        }
        let states = DocumentStates::lent(&mut docs[..], false);
        assert!(states.iter().all(|s| s.parent_id.is_none()));
        assert_eq!(states.clone(), DocumentStates::from(bare.clone()));
        assert_eq!(states.into_states().collect::<Vec<_>>(), bare);
        // The documents keep their parents: only the store's view leaves them out.
        assert!(docs.iter().all(|d| d.parent_id.as_deref() == Some("p")));
        let with = DocumentStates::lent(&mut docs[..], true);
        assert!(with.iter().all(|s| s.parent_id == Some("p")));
    }

    #[test]
    fn round_trips_through_json() {
        let mut docs = [doc("x")];
        let states = DocumentStates::from(&mut docs[..]);
        let json = serde_json::to_string(&states).unwrap_or_default();
        let back: DocumentStates = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, states);
        assert!(!back.is_empty());
    }
}
