//! Reading an item by its [`Plan`]: the members on a path descended into or captured, the
//! rest skipped, into a [`Sink`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::node::{Json, Key, Node};
use super::{Entry, Level, Plan, Sink, kind};

/// Reads an item into a [`Sink`].
pub(crate) struct ItemSeed<'p, 's, S> {
    pub(super) plan: &'p Plan,
    pub(super) sink: &'s mut S,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for ItemSeed<'_, '_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.sink.begin();
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for ItemSeed<'_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an item")
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.sink.set_kind(kind::BOOLEAN);
        self.sink.set_whole(Node::canonical(&Json::Bool(b)));
        Ok(())
    }

    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        self.sink.set_kind(kind::NUMBER);
        self.sink
            .set_whole(Node::canonical(&Json::Number(n.into())));
        Ok(())
    }

    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        self.sink.set_kind(kind::NUMBER);
        self.sink
            .set_whole(Node::canonical(&Json::Number(n.into())));
        Ok(())
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        // As `Json` reads it: a number that is no `Number` is null.
        let number = serde_json::Number::from_f64(f);
        self.sink.set_kind(if number.is_some() {
            kind::NUMBER
        } else {
            kind::NULL
        });
        let json = number.map_or(Json::Null, Json::Number);
        self.sink.set_whole(Node::canonical(&json));
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        self.sink.set_kind(kind::STRING);
        self.sink
            .set_whole(Node::canonical(&Json::String(Cow::Borrowed(text))));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.sink.set_kind(kind::NULL);
        self.sink.set_whole(Node::canonical(&Json::Null));
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.sink.set_kind(kind::NULL);
        self.sink.set_whole(Node::canonical(&Json::Null));
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.sink.set_kind(kind::LIST);
        let mut list = Vec::new();
        while let Some(entry) = seq.next_element::<Json<'de>>()? {
            list.push(entry);
        }
        self.sink.set_whole(Node::canonical(&Json::Array(list)));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.sink.set_kind(kind::OBJECT);
        read_level(&self.plan.root, map, self.sink)
    }
}

/// An object's members: those on a path descended into or kept, the rest skipped.
fn read_level<'de, A: MapAccess<'de>, S: Sink<'de>>(
    level: &Level,
    mut map: A,
    sink: &mut S,
) -> Result<(), A::Error> {
    while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
        match level.find(&name) {
            Some(Entry::Capture(slot)) => sink.capture(*slot, &mut map)?,
            Some(Entry::Inner { level, slots }) => {
                // The last occurrence of a name counts: what an earlier one left goes.
                for slot in slots {
                    sink.clear(*slot);
                }
                map.next_value_seed(LevelSeed {
                    level,
                    sink: &mut *sink,
                })?;
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// A value on the way down a path: an object is read on, anything else leaves the paths
/// below it missing.
struct LevelSeed<'p, 's, S> {
    level: &'p Level,
    sink: &'s mut S,
}

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for LevelSeed<'_, '_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for LevelSeed<'_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        read_level(self.level, map, self.sink)
    }
}
