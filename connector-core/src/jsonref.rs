//! [`JsonRef`]: a JSON value read without copying its text, for records whose fields are only
//! known at run time (a spreadsheet's or a base's columns).
//!
//! Parsing a page of records into [`serde_json::Value`] allocates every string and builds a
//! `BTreeMap` for every object, only for the conversion to read each value once and write it
//! as text. A `JsonRef` borrows its strings from the text it was read from (copying only those
//! with escapes), keeps objects as their members in the order given (a short `Vec`, no map),
//! and becomes a `Value` ([`JsonRef::to_value`]) only where the document keeps one (its
//! metadata). [`Str`] is the borrowed string alone, for a map's keys in a struct of one's own.
//!
//! ```
//! use connector_core::jsonref::JsonRef;
//! let text = r#"{"name": "Ana", "tags": ["a", "b"], "n": 3}"#;
//! let v: JsonRef<'_> = serde_json::from_str(text).unwrap();
//! assert_eq!(v.get("name").and_then(JsonRef::as_str), Some("Ana"));
//! assert!(matches!(v.get("name"), Some(JsonRef::Str(std::borrow::Cow::Borrowed(_)))));
//! assert_eq!(v.to_value(), serde_json::json!({"name": "Ana", "tags": ["a", "b"], "n": 3}));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

/// A JSON value whose strings borrow from the text it was read from where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonRef<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string: borrowed unless it held escapes.
    Str(Cow<'a, str>),
    /// An array.
    Array(Vec<JsonRef<'a>>),
    /// An object: its members in the order given (a later duplicate key is kept too; `get`
    /// finds the first).
    Object(Vec<(Cow<'a, str>, JsonRef<'a>)>),
}

impl<'a> JsonRef<'a> {
    /// The member `key` of an object; `None` for a missing key or a value that is not an
    /// object.
    pub fn get(&self, key: &str) -> Option<&JsonRef<'a>> {
        match self {
            Self::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[JsonRef<'a>]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, JsonRef<'a>)]> {
        match self {
            Self::Object(members) => Some(members),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// Writes the value as [`Value`]'s `to_string` writes the same JSON: compact, each
    /// object's members sorted by key (a later duplicate winning), strings and numbers as
    /// `serde_json` writes them; without building the [`Value`] tree. For a version hashed from
    /// what a source listed, whatever order it sent the keys in (see
    /// [`hash128_written`](crate::ids::hash128_written)).
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.extend_from_slice(b"null"),
            Self::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            // Writing into a `Vec` cannot fail.
            Self::Number(n) => serde_json::to_writer(&mut *out, n).unwrap_or_default(),
            Self::Str(s) => serde_json::to_writer(&mut *out, s.as_ref()).unwrap_or_default(),
            Self::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_canonical(out);
                }
                out.push(b']');
            }
            Self::Object(members) => {
                let mut order: Vec<&(Cow<'_, str>, JsonRef<'_>)> = members.iter().collect();
                // Stable: of equal keys the last given stays last, and is the one written.
                order.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(b'{');
                let mut first = true;
                for (i, (key, item)) in order.iter().enumerate() {
                    if order.get(i + 1).is_some_and(|next| next.0 == *key) {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    serde_json::to_writer(&mut *out, key.as_ref()).unwrap_or_default();
                    out.push(b':');
                    item.write_canonical(out);
                }
                out.push(b'}');
            }
        }
    }

    /// The same value as a [`Value`] (objects as its map: a later duplicate key wins, as
    /// `serde_json` reads one).
    pub fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Str(s) => Value::String(s.as_ref().to_owned()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl From<&Value> for JsonRef<'static> {
    /// The value as a `JsonRef` owning its strings (members in the map's order).
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::Str(Cow::Owned(s.clone())),
            Value::Array(items) => Self::Array(items.iter().map(Self::from).collect()),
            Value::Object(map) => Self::Object(
                map.iter()
                    .map(|(k, v)| (Cow::Owned(k.clone()), Self::from(v)))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for JsonRef<'_> {
    /// Compact JSON, as `Value`'s `Display` writes it (members in the order given).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for JsonRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Number(n) => n.serialize(s),
            Self::Str(t) => s.serialize_str(t),
            Self::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonRef<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonRefVisitor(PhantomData))
    }
}

struct JsonRefVisitor<'a>(PhantomData<JsonRef<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for JsonRefVisitor<'a> {
    type Value = JsonRef<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(JsonRef::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(JsonRef::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(JsonRef::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(n).map_or(JsonRef::Null, JsonRef::Number))
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(JsonRef::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(JsonRef::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(JsonRef::Str(Cow::Owned(s)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonRef::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonRef::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        JsonRef::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsonRef::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(Str(key)) = map.next_key::<Str<'a>>()? {
            members.push((key, map.next_value()?));
        }
        Ok(JsonRef::Object(members))
    }
}

/// A JSON string borrowed from the text it was read from unless it held escapes: the key of a
/// map read into a `Vec<(Str, _)>`, say, which `Cow<str>`'s own `Deserialize` always copies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Str<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(PhantomData<Str<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(s)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }

            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(s)))
            }
        }

        d.deserialize_str(StrVisitor(PhantomData))
    }
}

/// An object's members in the order given, each value read as `V` (a [`JsonRef`], a
/// `&RawValue` left unread): the fields of a record whose names are known only at run time,
/// without a map or a copy of the names.
#[derive(Debug, Clone, PartialEq)]
pub struct Members<'a, V>(pub Vec<(Str<'a>, V)>);

impl<V> Default for Members<'_, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'a, V> Members<'a, V> {
    /// The value of the first member named `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, v)| v)
    }
}

/// The members of a record's `fields` object, each value read as `V`: the shape Airtable's
/// and DingTalk's record listings share (`{"id": …, "fields": {…}}`), read again from the
/// record's text when its fields are wanted. None when the record has no `fields` or does not
/// read.
///
/// ```
/// use connector_core::jsonref::{JsonRef, Members, record_fields};
/// let record = r#"{"id": "rec1", "fields": {"Name": "Ana", "Tags": ["a"]}}"#;
/// let fields: Members<'_, JsonRef<'_>> = record_fields(record);
/// assert_eq!(fields.get("Name").and_then(JsonRef::as_str), Some("Ana"));
/// assert_eq!(fields.get("Tags").and_then(JsonRef::as_array).map(<[_]>::len), Some(1));
/// assert!(record_fields::<JsonRef<'_>>(r#"{"id": "rec2"}"#).0.is_empty());
/// ```
pub fn record_fields<'a, V: Deserialize<'a>>(record: &'a str) -> Members<'a, V> {
    #[derive(serde::Deserialize)]
    #[serde(bound(deserialize = "V: Deserialize<'de>"))]
    struct Body<'a, V> {
        #[serde(borrow, default = "Members::default")]
        fields: Members<'a, V>,
    }
    serde_json::from_str::<Body<'a, V>>(record)
        .map(|b| b.fields)
        .unwrap_or_default()
}

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Members<'a, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor<'a, V>(PhantomData<(Str<'a>, V)>);

        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for MembersVisitor<'a, V> {
            type Value = Members<'a, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // A JSON text gives no count: room for a record's usual dozen fields at once,
                // rather than growing the list three times.
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16).min(64));
                while let Some(key) = map.next_key::<Str<'a>>()? {
                    members.push((key, map.next_value()?));
                }
                Ok(Members(members))
            }
        }

        d.deserialize_map(MembersVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn write_canonical_writes_what_value_to_string_writes() {
        // Keys out of order, nested, a later duplicate, escapes, unicode, numbers of each kind.
        let text = r#"{"title": "Fix \"quotes\" \u00e9 \n tab\t", "id": 7, "b": {"z": [1, -2, 3.5, 1e3, null, true], "a": {}}, "dup": 1, "dup": "second", "": [], "é": "\u2028 \/"}"#;
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let json: JsonRef<'_> = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let mut written = Vec::new();
        json.write_canonical(&mut written);
        assert_eq!(
            String::from_utf8(written).unwrap_or_default(),
            value.to_string()
        );
    }

    #[test]
    fn reads_as_value_reads_and_borrows_plain_strings() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x\"y"], "b": {"c": "d"}, "a2": ""}"#;
        let v: JsonRef<'_> = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.to_value(), value);
        let items = v.get("a").and_then(JsonRef::as_array).unwrap_or_default();
        assert!(matches!(&items[5], JsonRef::Str(Cow::Owned(s)) if s == "x\"y"));
        assert!(matches!(
            v.get("b").and_then(|b| b.get("c")),
            Some(JsonRef::Str(Cow::Borrowed("d")))
        ));
        // Written back as the same JSON, members in order.
        assert_eq!(
            serde_json::to_string(&v).unwrap_or_default(),
            r#"{"a":[1,-2,3.5,true,null,"x\"y"],"b":{"c":"d"},"a2":""}"#
        );
        assert_eq!(v.to_string(), serde_json::to_string(&v).unwrap_or_default());
        assert_eq!(JsonRef::Null.to_value(), json!(null));
        assert_eq!(JsonRef::from(&value).to_value(), value);
    }

    #[test]
    fn members_keep_their_order() {
        let m: Members<'_, JsonRef<'_>> =
            serde_json::from_str(r#"{"b": 1, "a": "x"}"#).unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<&str> = m.0.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(m.get("a").and_then(JsonRef::as_str), Some("x"));
        assert!(serde_json::from_str::<Members<'_, JsonRef<'_>>>("[1]").is_err());
    }

    #[test]
    fn keys_borrow_unless_escaped() {
        let members: Vec<(Str<'_>, JsonRef<'_>)> = serde_json::from_str::<
            std::collections::BTreeMap<Str<'_>, JsonRef<'_>>,
        >(r#"{"plain": 1, "esc\u00e9": 2}"#)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .collect();
        assert!(matches!(members[1].0.0, Cow::Borrowed("plain")));
        assert!(matches!(&members[0].0.0, Cow::Owned(s) if s == "escé"));
    }
}
