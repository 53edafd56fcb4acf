//! What the mapping reads of an item, over two representations of JSON: serde_json's
//! [`Value`], and [`Json`], a tree borrowed from the page's bytes.
//!
//! A page of items parsed into [`Value`]s costs a `String` per key and per string and a
//! `BTreeMap` per object, built and dropped again for every item, most of which the mapping
//! never reads: it was a third of a sync's CPU. [`Json`] borrows every string without
//! escapes from the response body and keeps an object's entries in one `Vec`, so an item costs
//! a few allocations. Both answer the mapping's questions the same way (`get` finds the last
//! of repeated keys, as [`Value`]'s map keeps it; numbers are serde_json's [`Number`]s from
//! the same visitor calls; text and canonical JSON go through [`Value`]'s own rules).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::model::canonical_json;

/// A JSON value as the mapping reads it.
pub(crate) trait Node {
    /// The value of `key` in an object; `None` for other kinds.
    fn key(&self, key: &str) -> Option<&Self>;
    /// Entry `n` of a list; `None` for other kinds.
    fn index(&self, n: usize) -> Option<&Self>;
    /// The entries of a list.
    fn list(&self) -> Option<&[Self]>
    where
        Self: Sized;
    fn is_null(&self) -> bool;
    fn is_object(&self) -> bool;
    /// The kind's name, for messages.
    fn kind(&self) -> &'static str;
    /// A string's text.
    fn str(&self) -> Option<&str>;
    /// A number as `f64`.
    fn f64(&self) -> Option<f64>;
    /// A number as it was parsed.
    fn number(&self) -> Option<&Number>;
    /// The value as text: strings as they are, scalars printed, `null` empty, the rest as
    /// canonical JSON.
    fn text(&self) -> Cow<'_, str>;
    /// An owned [`Value`].
    fn to_value(&self) -> Value;
    /// JSON with object keys sorted at every level.
    fn canonical(&self) -> String;
}

impl Node for Value {
    fn key(&self, key: &str) -> Option<&Self> {
        self.get(key)
    }

    fn index(&self, n: usize) -> Option<&Self> {
        self.get(n)
    }

    fn list(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }

    fn is_object(&self) -> bool {
        Value::is_object(self)
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "list",
            Value::Object(_) => "object",
        }
    }

    fn str(&self) -> Option<&str> {
        self.as_str()
    }

    fn f64(&self) -> Option<f64> {
        self.as_f64()
    }

    fn number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::String(s) => Cow::Borrowed(s),
            Value::Number(n) => Cow::Owned(n.to_string()),
            Value::Bool(b) => Cow::Owned(b.to_string()),
            other => Cow::Owned(canonical_json(other)),
        }
    }

    fn to_value(&self) -> Value {
        self.clone()
    }

    fn canonical(&self) -> String {
        canonical_json(self)
    }
}

/// A JSON value borrowed from the text it was parsed from (strings with escapes are owned).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Entries in the order written, repeated keys included.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Node for Json<'_> {
    fn key(&self, key: &str) -> Option<&Self> {
        match self {
            // The last of repeated keys, as serde_json's map keeps it.
            Json::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|e| &e.1),
            _ => None,
        }
    }

    fn index(&self, n: usize) -> Option<&Self> {
        match self {
            Json::Array(list) => list.get(n),
            _ => None,
        }
    }

    fn list(&self) -> Option<&[Self]> {
        match self {
            Json::Array(list) => Some(list),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "list",
            Json::Object(_) => "object",
        }
    }

    fn str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    fn number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    fn text(&self) -> Cow<'_, str> {
        match self {
            Json::Null => Cow::Borrowed(""),
            Json::String(s) => Cow::Borrowed(s),
            Json::Number(n) => Cow::Owned(n.to_string()),
            Json::Bool(b) => Cow::Owned(b.to_string()),
            other => Cow::Owned(other.canonical()),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(list) => Value::Array(list.iter().map(Json::to_value).collect()),
            Json::Object(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.to_string(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }

    fn canonical(&self) -> String {
        canonical_json(&self.to_value())
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// Builds a [`Json`] from the calls serde_json's own `Value` visitor receives, and turns them
/// into the same values.
pub(crate) struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(f).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut list = Vec::new();
        while let Some(v) = seq.next_element()? {
            list.push(v);
        }
        Ok(Json::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::with_capacity(8);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value()?;
            entries.push((key.0, value));
        }
        Ok(Json::Object(entries))
    }
}

/// An object key, borrowed when it has no escapes.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every question the mapping asks, answered alike by both trees.
    fn same(text: &str) {
        let value: Value = serde_json::from_str(text).unwrap();
        let json: Json<'_> = serde_json::from_str(text).unwrap();
        assert_eq!(json.to_value(), value, "{text}");
        assert_eq!(json.text(), value.text(), "{text}");
        assert_eq!(json.canonical(), value.canonical(), "{text}");
        assert_eq!(json.kind(), value.kind(), "{text}");
        assert_eq!(json.str(), Node::str(&value), "{text}");
        assert_eq!(json.f64(), Node::f64(&value), "{text}");
        assert_eq!(json.is_null(), Node::is_null(&value), "{text}");
        assert_eq!(json.is_object(), Node::is_object(&value), "{text}");
        for k in ["a", "b", "é", "a\"b", ""] {
            assert_eq!(
                json.key(k).map(Json::to_value),
                value.key(k).cloned(),
                "{text} {k}"
            );
        }
        for n in 0..3 {
            assert_eq!(
                json.index(n).map(Json::to_value),
                value.index(n).cloned(),
                "{text} {n}"
            );
        }
    }

    #[test]
    fn json_answers_as_value_does() {
        for text in [
            "null",
            "true",
            "0",
            "-5",
            "18446744073709551615",
            "184467440737095516150",
            "1.5",
            "1e3",
            "-0.0",
            "1.0000000000000002",
            r#""plain""#,
            r#""esc\"aped \u00e9 \n""#,
            "[]",
            "[1, \"a\", null, {\"b\": 2}]",
            "{}",
            r#"{"b": 1, "a": [true, {"z": 1, "y": 2}]}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"\u0061": 1, "a": {"x": 1}, "é": "e", "a\"b": 3, "": 4}"#,
        ] {
            same(text);
        }
    }
}
