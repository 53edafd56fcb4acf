//! A query's result page read in one pass: the page's JSON text is kept whole, and each
//! record's fields are found as spans of it (name and value), so a record is never copied
//! into a JSON text of its own and parsed a second time.

use std::fmt;

use connector_core::Result;
use connector_core::http::Response;
use serde::Deserialize;
use serde::de::{
    DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::convert::Fields;

/// Where a part of the page's text starts and ends (byte offsets).
type Span = (usize, usize);

/// A member of a record: where its name and its value are.
type Pair = (Span, Span);

/// Where a record's members are: its fields' range in [`Records`]' `fields`, its
/// `attributes`' range in `attributes`.
#[derive(Debug, Clone, Copy)]
struct Members {
    fields: (usize, usize),
    attributes: (usize, usize),
}

/// A record as read: where its members are, or why it does not read.
type Read = std::result::Result<Members, String>;

/// The lists a page's records are read into.
#[derive(Default)]
struct Lists {
    records: Vec<Read>,
    fields: Vec<(Span, Span)>,
    attributes: Vec<(Span, Span)>,
}

/// A page of query results.
#[derive(Debug)]
pub(crate) struct QueryPage {
    /// Whether the query has no further page.
    pub(crate) done: bool,
    /// The path of the next page while `done` is false.
    pub(crate) next_records_url: Option<String>,
    /// The page's records.
    pub(crate) records: Records,
}

impl QueryPage {
    /// The page a query answered with.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidData`](connector_core::ErrorKind::InvalidData) naming the URL
    /// when the body is not a result page (as core's [`Response::json`] words it).
    pub(crate) fn read(resp: Response) -> Result<Self> {
        resp.into_json_with(Self::parse)
    }

    /// The page of the JSON text `text`: `done` (true when absent), `nextRecordsUrl` and
    /// `records`, other keys passed over.
    pub(crate) fn parse(text: String) -> serde_json::Result<Self> {
        let mut lists = Lists::default();
        let (done, next_records_url) = {
            let mut de = serde_json::Deserializer::from_str(&text);
            let head = de.deserialize_map(PageVisitor {
                base: &text,
                lists: &mut lists,
            })?;
            de.end()?;
            head
        };
        Ok(Self {
            done,
            next_records_url,
            records: Records { text, lists },
        })
    }
}

/// The records of a result page.
#[derive(Default)]
pub(crate) struct Records {
    /// The page's JSON text, then the text of each record written again ([`Records::replace`]).
    text: String,
    /// Each record (where its members are in `fields` and `attributes`, or why it does not
    /// read), every record's fields but `attributes` in the answer's order, and every
    /// record's `attributes` apart: [`fields`](Records::fields) hands the fields out as they
    /// are, with no member to leave out.
    lists: Lists,
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("len", &self.lists.records.len())
            .finish_non_exhaustive()
    }
}

impl Records {
    /// How many records the page holds.
    pub(crate) fn len(&self) -> usize {
        self.lists.records.len()
    }

    /// Whether the page holds no record.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lists.records.is_empty()
    }

    /// The text of a span.
    fn at(&self, (from, to): Span) -> &str {
        self.text.get(from..to).unwrap_or_default()
    }

    /// The fields of record `i` but `attributes`, and its `attributes` (normally one), or
    /// why it does not read.
    fn pairs(&self, i: usize) -> std::result::Result<(&[Pair], &[Pair]), &str> {
        match self.lists.records.get(i) {
            Some(Ok(Members {
                fields: (from, to),
                attributes: (a_from, a_to),
            })) => Ok((
                self.lists.fields.get(*from..*to).unwrap_or_default(),
                self.lists
                    .attributes
                    .get(*a_from..*a_to)
                    .unwrap_or_default(),
            )),
            Some(Err(why)) => Err(why),
            None => Err("there is no such record"),
        }
    }

    /// The fields of record `i`, `attributes` left out, or why it does not read.
    pub(crate) fn fields(&self, i: usize) -> std::result::Result<Fields<'_>, &str> {
        let (pairs, _) = self.pairs(i)?;
        Ok(Fields::new(
            pairs
                .iter()
                .map(|(k, v)| (self.at(*k), self.at(*v)))
                .collect(),
        ))
    }

    /// The fields of each record, in order.
    pub(crate) fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = std::result::Result<Fields<'_>, &str>> + '_ {
        (0..self.len()).map(|i| self.fields(i))
    }

    /// Whether a value of record `i` holds `needle` (in its JSON text).
    pub(crate) fn value_holds(&self, i: usize, needle: &str) -> bool {
        self.pairs(i).is_ok_and(|(fields, attributes)| {
            fields
                .iter()
                .chain(attributes)
                .any(|(_, v)| self.at(*v).contains(needle))
        })
    }

    /// Record `i` as a map (`attributes` too), what its JSON text reads as; none when it does
    /// not read.
    pub(crate) fn to_map(&self, i: usize) -> Option<Map<String, Value>> {
        let (fields, attributes) = self.pairs(i).ok()?;
        let mut map = Map::new();
        // A map: the members' order does not matter, only which of a name's comes last.
        for (k, v) in fields.iter().chain(attributes) {
            map.insert(
                self.at(*k).to_owned(),
                serde_json::from_str(self.at(*v)).ok()?,
            );
        }
        Some(map)
    }

    /// Marks record `i` as one that does not read, for `why` (it then fails alone as
    /// unreadable, as a record the page's read refused does).
    pub(crate) fn fail(&mut self, i: usize, why: &str) {
        if let Some(slot) = self.lists.records.get_mut(i) {
            *slot = Err(why.to_owned());
        }
    }

    /// Replaces record `i` by `record`, written as JSON text.
    ///
    /// # Errors
    /// When `record` cannot be written as JSON.
    pub(crate) fn replace(
        &mut self,
        i: usize,
        record: &Map<String, Value>,
    ) -> serde_json::Result<()> {
        let written = serde_json::to_string(record)?;
        let from = self.text.len();
        self.text.push_str(&written);
        let Self { text, lists } = self;
        let mut de = serde_json::Deserializer::from_str(text.get(from..).unwrap_or_default());
        let read = RecordSeed {
            base: text,
            fields: &mut lists.fields,
            attributes: &mut lists.attributes,
        }
        .deserialize(&mut de)?;
        de.end()?;
        if let Some(slot) = lists.records.get_mut(i) {
            *slot = read;
        }
        Ok(())
    }
}

/// The span of `part`, a slice of `base`.
fn span(base: &str, part: &str) -> Span {
    let from = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    (from, from.wrapping_add(part.len()))
}

/// The keys of a result page read.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum PageKey {
    Done,
    NextRecordsUrl,
    Records,
    #[serde(other)]
    Other,
}

/// A result page: `done` and `nextRecordsUrl` returned, the records pushed.
struct PageVisitor<'a, 'de> {
    base: &'de str,
    lists: &'a mut Lists,
}

impl<'de> Visitor<'de> for PageVisitor<'_, 'de> {
    type Value = (bool, Option<String>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a query result page")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let (mut done, mut next) = (true, None);
        while let Some(key) = map.next_key::<PageKey>()? {
            match key {
                PageKey::Done => done = map.next_value()?,
                PageKey::NextRecordsUrl => next = map.next_value()?,
                PageKey::Records => {
                    *self.lists = Lists::default();
                    map.next_value_seed(RecordsSeed {
                        base: self.base,
                        lists: &mut *self.lists,
                    })?;
                }
                PageKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((done, next))
    }
}

/// The `records` array of a page.
struct RecordsSeed<'a, 'de> {
    base: &'de str,
    lists: &'a mut Lists,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let Lists {
            records,
            fields,
            attributes,
        } = self.lists;
        if let Some(n) = seq.size_hint() {
            records.reserve(n);
        }
        while let Some(read) = seq.next_element_seed(RecordSeed {
            base: self.base,
            fields: &mut *fields,
            attributes: &mut *attributes,
        })? {
            records.push(read);
        }
        Ok(())
    }
}

/// One record: its fields (`attributes` apart) pushed and their ranges returned, or why it
/// does not read (it is not an object, or a field's name is escaped). Either way the rest of
/// the page reads on.
struct RecordSeed<'a, 'de> {
    base: &'de str,
    fields: &'a mut Vec<(Span, Span)>,
    attributes: &'a mut Vec<(Span, Span)>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, 'de> {
    type Value = Read;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Read, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// What a record that is not an object reads as.
fn not_a_record(what: Unexpected<'_>) -> Read {
    Err(format!(
        "it does not read as a record: invalid type: {what}, expected a record object"
    ))
}

impl<'de> Visitor<'de> for RecordSeed<'_, 'de> {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Read, A::Error> {
        let from = self.fields.len();
        let a_from = self.attributes.len();
        let mut why = None;
        while let Some(name) = map.next_key_seed(Name)? {
            match name {
                Ok(name) if why.is_none() => {
                    let value = map.next_value::<&'de RawValue>()?;
                    let pair = (span(self.base, name), span(self.base, value.get()));
                    if name == "attributes" {
                        self.attributes.push(pair);
                    } else {
                        self.fields.push(pair);
                    }
                }
                Ok(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
                Err(e) => {
                    why.get_or_insert(e);
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match why {
            None => Ok(Ok(Members {
                fields: (from, self.fields.len()),
                attributes: (a_from, self.attributes.len()),
            })),
            Some(why) => {
                self.fields.truncate(from);
                self.attributes.truncate(a_from);
                Ok(Err(why))
            }
        }
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Read, E> {
        Ok(not_a_record(Unexpected::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Read, E> {
        Ok(not_a_record(Unexpected::Signed(v)))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Read, E> {
        Ok(not_a_record(Unexpected::Unsigned(v)))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Read, E> {
        Ok(not_a_record(Unexpected::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Read, E> {
        Ok(not_a_record(Unexpected::Str(v)))
    }

    fn visit_unit<E>(self) -> std::result::Result<Read, E> {
        // As serde_json names it.
        Ok(not_a_record(Unexpected::Other("null")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Read, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_a_record(Unexpected::Seq))
    }
}

/// A field's name: borrowed from the page's text (API names hold no escape), else why the
/// record does not read.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = std::result::Result<&'de str, String>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = std::result::Result<&'de str, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Ok(v))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Err(format!(
            "it does not read as a record: invalid type: {}, expected a borrowed string",
            Unexpected::Str(v)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> QueryPage {
        QueryPage::parse(text.to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_page_s_records_read_as_their_fields_in_one_pass() {
        let p = page(
            r#"{"totalSize": 4, "done": false, "nextRecordsUrl": "/services/data/v62.0/query/01g-2",
            "records": [
              {"attributes": {"type": "Account", "url": "/x"}, "Id": "001000000000001AAA", "Name": "A \"b\"\n", "N": 1.5, "C": {"records": [{"Id": "x"}]}},
              null,
              {"Id": "001000000000002AAA", "Na\u006de": "escaped"},
              [1, {"a": 2}],
              {}
            ], "extra": {"records": 5}}"#,
        );
        assert!(!p.done);
        assert_eq!(
            p.next_records_url.as_deref(),
            Some("/services/data/v62.0/query/01g-2")
        );
        let r = &p.records;
        assert_eq!(r.len(), 5);
        let first = r.fields(0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.get("Id"), Some("\"001000000000001AAA\""));
        assert_eq!(first.get("Name"), Some(r#""A \"b\"\n""#));
        assert_eq!(first.get("N"), Some("1.5"));
        assert_eq!(first.get("C"), Some(r#"{"records": [{"Id": "x"}]}"#));
        assert_eq!(first.get("attributes"), None);
        assert_eq!(
            r.fields(1).err(),
            Some("it does not read as a record: invalid type: null, expected a record object")
        );
        assert!(
            r.fields(2)
                .err()
                .is_some_and(|e| e.contains("expected a borrowed string")),
            "{:?}",
            r.fields(2).err()
        );
        assert!(r.fields(3).is_err());
        assert!(r.fields(4).is_ok_and(|f| f.get("Id").is_none()));
        assert!(r.fields(5).is_err());
        assert!(r.value_holds(0, "\"records\""));
        assert!(!r.value_holds(1, "null"));
        // A record's map is what its text reads as.
        let map = r.to_map(0).unwrap_or_else(|| panic!("a map"));
        let whole: Value = serde_json::from_str(
            r#"{"attributes": {"type": "Account", "url": "/x"}, "Id": "001000000000001AAA", "Name": "A \"b\"\n", "N": 1.5, "C": {"records": [{"Id": "x"}]}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Value::Object(map), whole);
        // An answer without `done` is the last page; one that is not a page is an error.
        assert!(page(r#"{"records": []}"#).done);
        assert!(page(r#"{"records": []}"#).records.is_empty());
        assert!(QueryPage::parse("[]".to_owned()).is_err());
        assert!(QueryPage::parse(r#"{"records": [{"Id": }]}"#.to_owned()).is_err());
        assert!(QueryPage::parse(r#"{"records": null}"#.to_owned()).is_err());
    }

    #[test]
    fn a_replaced_record_reads_as_its_new_fields() {
        let mut p = page(
            r#"{"done": true, "records": [{"Id": "001000000000001AAA", "A": 1}, {"Id": "001000000000002AAA"}]}"#,
        );
        let mut map = p.records.to_map(0).unwrap_or_else(|| panic!("a map"));
        map.insert("B".to_owned(), Value::String("two\nlines".to_owned()));
        p.records.replace(0, &map).unwrap_or_else(|e| panic!("{e}"));
        let first = p.records.fields(0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.get("A"), Some("1"));
        assert_eq!(first.get("B"), Some(r#""two\nlines""#));
        let second = p.records.fields(1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.get("Id"), Some("\"001000000000002AAA\""));
    }

    /// `attributes` is kept apart however a record holds it (first, last, repeated, not an
    /// object, missing, only in a relationship's record): the fields are the record's members
    /// but `attributes` (as `Fields::parse` reads them), the map is the whole record, and a
    /// needle only in `attributes` is still found; a record failing after its `attributes`
    /// leaves nothing of them to the next.
    #[test]
    fn attributes_are_kept_apart_wherever_a_record_holds_them() {
        let records = [
            r#"{"Id": "001000000000001AAA", "Name": "n", "attributes": {"type": "Account", "url": "/needle-1"}}"#,
            r#"{"attributes": {"type": "A"}, "Id": "001000000000002AAA", "attributes": {"type": "B", "url": "/needle-2"}, "X": 1}"#,
            r#"{"Id": "001000000000003AAA", "attributes": "plain /needle-3", "Y": [1]}"#,
            r#"{"Id": "001000000000004AAA", "Owner": {"attributes": {"type": "User"}, "Name": "o"}}"#,
            r#"{"Id": "001000000000005AAA", "attributes": null, "attributes": [1, "/needle-5"]}"#,
        ];
        let names = ["Id", "Name", "X", "Y", "Owner", "attributes"];
        let text = format!(
            r#"{{"done": true, "records": [{}, {{"attributes": {{"type": "Z"}}, "Na\u006de": 1}}, {{"Id": "001000000000006AAA"}}]}}"#,
            records.join(", ")
        );
        let p = page(&text);
        let r = &p.records;
        assert_eq!(r.len(), records.len() + 2);
        for (i, raw) in records.iter().enumerate() {
            let raw_value: Box<RawValue> =
                serde_json::from_str(raw).unwrap_or_else(|e| panic!("{e}"));
            let want = Fields::parse(&raw_value).unwrap_or_else(|e| panic!("{e}"));
            let got = r.fields(i).unwrap_or_else(|e| panic!("{e}"));
            for name in names {
                assert_eq!(got.get(name), want.get(name), "{raw} {name}");
            }
            let whole: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.to_map(i).map(Value::Object), Some(whole), "{raw}");
            assert_eq!(
                r.value_holds(i, &format!("/needle-{}", i + 1)),
                i != 3,
                "{raw}"
            );
        }
        assert!(r.fields(records.len()).is_err());
        assert!(r.to_map(records.len()).is_none());
        let last = r
            .fields(records.len() + 1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(last.get("Id"), Some("\"001000000000006AAA\""));
        let map = r
            .to_map(records.len() + 1)
            .unwrap_or_else(|| panic!("a map"));
        assert_eq!(map.len(), 1);
    }
}
