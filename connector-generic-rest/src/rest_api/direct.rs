//! Items read straight into the values the mapping asks for, without a tree per item.
//!
//! The mapping reads a handful of paths of each item (`id`, `title`, `body`, `author.name`,
//! `tags[*]`). Where each of them is a chain of names, ending in a value, one entry of a list
//! or all of them (the [`Plan`]), an item is read from the page's bytes once: a member on no
//! path is skipped unread ([`IgnoredAny`]), an object on a path is descended into, and the
//! value at the end of each path is kept ([`Json`], its strings borrowed from the page) in the
//! path's slot ([`Slots`]), which the next item reuses. Nothing else of the item is built: no
//! `Vec` of its members, none for the objects along the paths.
//!
//! The mapping asks [`Slots`] the same questions it asks a tree ([`Item`]) and gets the same
//! answers: a name repeated in an object counts by its last occurrence (the slots under it are
//! emptied each time it comes), a name on a path whose value is not an object leaves the
//! paths below it missing. Configs the plan does not cover read trees as before: a path that
//! goes on below an index or `[*]` (`a[0].b`), a path that is a prefix of another (`a` and
//! `a.b`), no `id_field` (the id is a hash of the whole item).
//!
//! [`IgnoredAny`]: serde::de::IgnoredAny

use std::ops::Deref;

use serde::de::MapAccess;

use super::model::{FieldPath, Tail};
use super::node::{Json, Node};

mod kept;
mod seed;

pub(crate) use kept::{KeptPage, KeptWriter};
use seed::ItemSeed;

/// A mapped path and where [`Slots`] keep its value.
#[derive(Debug)]
pub(crate) struct Field {
    path: FieldPath,
    slot: usize,
    tail: Tail,
}

impl Field {
    pub(crate) fn new(path: FieldPath) -> Self {
        Self {
            path,
            slot: 0,
            tail: Tail::Value,
        }
    }
}

impl Deref for Field {
    type Target = FieldPath;

    fn deref(&self) -> &FieldPath {
        &self.path
    }
}

/// What the mapping reads of one item: a tree ([`Node`]), or [`Slots`].
pub(crate) trait Item {
    type N: Node;
    fn is_object(&self) -> bool;
    /// The kind's name, for messages.
    fn kind(&self) -> &'static str;
    /// JSON of the whole item, keys sorted; `None` for [`Slots`] of an object, which a
    /// [`Plan`] reads only for configs with `id_field` (the use of it for objects); an entry
    /// that is not an object has it either way (its failure's key tells it by it).
    fn canonical(&self) -> Option<String>;
    /// [`FieldPath::single`] of `field`.
    fn single(&self, field: &Field) -> Option<Option<&Self::N>>;
    /// [`FieldPath::values`] of `field`.
    fn values(&self, field: &Field) -> Vec<&Self::N>;
    /// The list whose entries that are not null are [`values`](Self::values) of `field`, where
    /// the item holds one (a path ending in `[*]` read into [`Slots`]): read in place, with
    /// no `Vec` made; `None` where only `values` tells.
    fn all(&self, _field: &Field) -> Option<&[Self::N]> {
        None
    }
}

impl<N: Node> Item for N {
    type N = N;

    fn is_object(&self) -> bool {
        Node::is_object(self)
    }

    fn kind(&self) -> &'static str {
        Node::kind(self)
    }

    fn canonical(&self) -> Option<String> {
        Some(Node::canonical(self))
    }

    fn single(&self, field: &Field) -> Option<Option<&N>> {
        field.path.single(self)
    }

    fn values(&self, field: &Field) -> Vec<&N> {
        field.path.values(self)
    }
}

/// The names of an item the mapped paths follow, as a tree of levels; built when every path
/// is a [`FieldPath::chain`] and none is a prefix of another (paths that are the same share a
/// slot).
#[derive(Debug)]
pub(crate) struct Plan {
    root: Level,
    slots: usize,
}

#[derive(Debug, Default)]
struct Level {
    entries: Vec<(String, Entry)>,
}

#[derive(Debug)]
enum Entry {
    /// The value at the end of a path: kept in this slot.
    Capture(usize),
    /// An object on the way to the values in `slots`.
    Inner { level: Level, slots: Vec<usize> },
}

impl Level {
    fn find(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|(n, _)| n == name).map(|e| &e.1)
    }

    fn find_mut(&mut self, name: &str) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|e| &mut e.1)
    }
}

impl Plan {
    /// The plan for `fields`, giving each its slot; `None` when a path is not a chain or one
    /// is a prefix of another.
    pub(crate) fn new(fields: &mut [&mut Field]) -> Option<Self> {
        let mut chains: Vec<Vec<String>> = Vec::new();
        let mut root = Level::default();
        for field in fields.iter_mut() {
            let (names, tail) = field.path.chain()?;
            let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
            field.tail = tail;
            if let Some(slot) = chains.iter().position(|c| *c == names) {
                field.slot = slot;
                continue;
            }
            let slot = chains.len();
            field.slot = slot;
            let (last, init) = names.split_last()?;
            let mut level = &mut root;
            for name in init {
                if level.find(name).is_none() {
                    level.entries.push((
                        name.clone(),
                        Entry::Inner {
                            level: Level::default(),
                            slots: Vec::new(),
                        },
                    ));
                }
                match level.find_mut(name)? {
                    Entry::Capture(_) => return None,
                    Entry::Inner { level: next, slots } => {
                        slots.push(slot);
                        level = next;
                    }
                }
            }
            if level.find(last).is_some() {
                // The same names as a path before, which would share its slot, so another
                // path goes on below this one.
                return None;
            }
            level.entries.push((last.clone(), Entry::Capture(slot)));
            chains.push(names);
        }
        Some(Self {
            root,
            slots: chains.len(),
        })
    }

    /// Slots for the items of one page.
    pub(crate) fn slots<'a>(&self) -> Slots<'a> {
        Slots {
            kind: "null",
            values: (0..self.slots).map(|_| None).collect(),
            whole: None,
        }
    }

    /// Reads one item into `slots`, emptied first.
    pub(crate) fn seed<'p, 's, 'a>(
        &'p self,
        slots: &'s mut Slots<'a>,
    ) -> ItemSeed<'p, 's, Slots<'a>> {
        ItemSeed {
            plan: self,
            sink: slots,
        }
    }
}

/// Where an item's values go as a [`Plan`] reads them: into [`Slots`] (borrowed from the
/// text being read), or into a [`KeptWriter`] (kept past the read, for conversion later).
pub(crate) trait Sink<'de> {
    /// An item begins: nothing of it read yet.
    fn begin(&mut self);
    /// The item's kind: an index of [`KINDS`] ([`kind`]).
    fn set_kind(&mut self, kind: u8);
    /// Empties `slot`: a name on its path came again, and only its last occurrence counts.
    fn clear(&mut self, slot: usize);
    /// Reads the next value of `map`, the end of the path of `slot`, into it.
    fn capture<A: MapAccess<'de>>(&mut self, slot: usize, map: &mut A) -> Result<(), A::Error>;
    /// Sets the item's canonical JSON ([`Item::canonical`]): an entry that is not an object,
    /// whose whole value is what tells it from others (it is no document: this is read only
    /// for its failure).
    fn set_whole(&mut self, canonical: String);
}

impl<'de> Sink<'de> for Slots<'de> {
    fn begin(&mut self) {
        self.kind = "null";
        self.values.iter_mut().for_each(|v| *v = None);
        self.whole = None;
    }

    fn set_kind(&mut self, kind: u8) {
        self.kind = KINDS.get(usize::from(kind)).copied().unwrap_or("null");
    }

    fn clear(&mut self, slot: usize) {
        if let Some(v) = self.values.get_mut(slot) {
            *v = None;
        }
    }

    fn capture<A: MapAccess<'de>>(&mut self, slot: usize, map: &mut A) -> Result<(), A::Error> {
        let value = map.next_value::<Json<'de>>()?;
        if let Some(v) = self.values.get_mut(slot) {
            *v = Some(value);
        }
        Ok(())
    }

    fn set_whole(&mut self, canonical: String) {
        self.whole = Some(canonical);
    }
}

/// One item as its [`Plan`] read it: its kind, and the value at the end of each path.
#[derive(Debug)]
pub(crate) struct Slots<'a> {
    kind: &'static str,
    values: Vec<Option<Json<'a>>>,
    /// The canonical JSON of an entry that is not an object ([`Sink::set_whole`]).
    whole: Option<String>,
}

impl<'a> Item for Slots<'a> {
    type N = Json<'a>;

    fn is_object(&self) -> bool {
        self.kind == "object"
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn canonical(&self) -> Option<String> {
        self.whole.clone()
    }

    fn single(&self, field: &Field) -> Option<Option<&Json<'a>>> {
        let value = self.values.get(field.slot).and_then(Option::as_ref);
        let value = match field.tail {
            Tail::Value => value,
            Tail::Index(n) => value.and_then(|list| list.index(n)),
            Tail::All => return None,
        };
        Some(value.filter(|v| !v.is_null()))
    }

    fn values(&self, field: &Field) -> Vec<&Json<'a>> {
        if let Some(one) = self.single(field) {
            return one.into_iter().collect();
        }
        self.all(field)
            .unwrap_or_default()
            .iter()
            .filter(|v| !v.is_null())
            .collect()
    }

    fn all(&self, field: &Field) -> Option<&[Json<'a>]> {
        if field.tail != Tail::All {
            return None;
        }
        Some(
            self.values
                .get(field.slot)
                .and_then(Option::as_ref)
                .and_then(Node::list)
                .unwrap_or_default(),
        )
    }
}

/// The item kinds' names, by their index ([`kind`]), which [`Sink::set_kind`] takes.
const KINDS: [&str; 6] = ["null", "boolean", "number", "string", "list", "object"];

/// The indexes of [`KINDS`].
mod kind {
    pub(super) const NULL: u8 = 0;
    pub(super) const BOOLEAN: u8 = 1;
    pub(super) const NUMBER: u8 = 2;
    pub(super) const STRING: u8 = 3;
    pub(super) const LIST: u8 = 4;
    pub(super) const OBJECT: u8 = 5;
}
#[cfg(test)]
mod tests {
    use serde::de::DeserializeSeed;

    use super::*;

    pub(super) fn field(p: &str) -> Field {
        Field::new(FieldPath::parse(p).unwrap())
    }

    pub(super) fn plan(paths: &[&str]) -> Option<(Plan, Vec<Field>)> {
        let mut fields: Vec<Field> = paths.iter().map(|p| field(p)).collect();
        let mut refs: Vec<&mut Field> = fields.iter_mut().collect();
        let plan = Plan::new(&mut refs)?;
        Some((plan, fields))
    }

    #[test]
    fn plans_take_chains_that_do_not_overlap() {
        assert!(plan(&["id", "title", "author.name", "tags[*]", "a.b[2]", "id"]).is_some());
        assert!(plan(&["tags[*]", "tags[0]"]).is_some());
        for paths in [
            &["a[0].b"][..],
            &["a[*].b"],
            &["a", "a.b"],
            &["a.b", "a"],
            &["a.b.c", "a.b"],
        ] {
            assert!(plan(paths).is_none(), "{paths:?}");
        }
    }

    /// Every field read from slots as from the item's tree.
    fn same(paths: &[&str], text: &str) {
        let (plan, fields) = plan(paths).unwrap();
        let tree: Json<'_> = serde_json::from_str(text).unwrap();
        let mut slots = plan.slots();
        let mut de = serde_json::Deserializer::from_str(text);
        plan.seed(&mut slots).deserialize(&mut de).unwrap();
        assert_eq!(Item::kind(&slots), Item::kind(&tree), "{text}");
        assert_eq!(Item::is_object(&slots), Item::is_object(&tree), "{text}");
        for f in &fields {
            assert_eq!(slots.single(f), tree.single(f), "{text} {}", f.as_str());
            assert_eq!(slots.values(f), tree.values(f), "{text} {}", f.as_str());
            // A `[*]` list read in place gives the same values, its nulls left out.
            if let Some(list) = slots.all(f) {
                let present: Vec<_> = list.iter().filter(|v| !v.is_null()).collect();
                assert_eq!(present, tree.values(f), "{text} {}", f.as_str());
            }
            assert_eq!(
                slots.all(f).is_some(),
                f.tail == Tail::All,
                "{}",
                f.as_str()
            );
        }
    }

    #[test]
    fn slots_answer_as_trees_do() {
        let paths = ["id", "title", "author.name", "tags[*]", "tags[1]", "a.b.c"];
        for text in [
            r#"{"id": 1, "title": "T", "author": {"name": "A"}, "tags": ["x", null, 2], "x": [1]}"#,
            r#"{"author": {"name": "A"}, "author": {"email": "e"}, "id": 1, "id": "2"}"#,
            r#"{"author": "plain", "tags": "one", "a": {"b": {"c": null}}}"#,
            r#"{"a": {"b": {"c": 1}, "b": 2}, "title": {"k": [1]}, "tags": [[1], {}]}"#,
            r#"{"\u0061": {"b": {"c": "esc"}}, "id": null}"#,
            "{}",
            "[1, 2]",
            "\"s\"",
            "null",
            "3.5",
            "true",
        ] {
            same(&paths, text);
        }
    }
}
