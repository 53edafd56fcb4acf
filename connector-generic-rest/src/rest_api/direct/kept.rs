//! What a [`Plan`] keeps of a page's items in the fetch's pass ([`KeptPage`]), written by a
//! [`KeptWriter`] as the items are read, for conversion to read without parsing them again.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::super::node::Json;
use super::{ItemSeed, KINDS, Plan, Sink, Slots};

/// A value a [`Plan`] kept of an item in the fetch's pass: the value, or where it is. 12
/// bytes: spans and ranges are `u32` ([`Plan::kept_page`] takes texts of up to `u32::MAX`
/// bytes, and nothing kept of a text counts more entries or bytes than the text has).
#[derive(Debug, Clone, Copy)]
enum Kept {
    Null,
    Bool(bool),
    /// A number `Json` reads as a `u64`, `i64` or finite `f64`: its 64 bits, high then low.
    U64(u32, u32),
    I64(u32, u32),
    F64(u32, u32),
    /// A string without escapes: `text[start..end]` of the page.
    Text(u32, u32),
    /// A string with escapes, decoded: `decoded[start..end]` of the [`KeptPage`].
    Decoded(u32, u32),
    /// A list: its entries are `values[start..end]` of the [`KeptPage`].
    List(u32, u32),
    /// An object: its keys ([`Kept::Text`] or [`Kept::Decoded`]) and values in turn, in the
    /// order written, are `values[start..end]` of the [`KeptPage`].
    Object(u32, u32),
}

/// `n` as a span or index of a [`KeptPage`]: never above `u32::MAX`, as the text is not
/// ([`Plan::kept_page`]) and nothing kept counts more than the text's bytes.
fn idx(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn bits(n: u64) -> (u32, u32) {
    (idx((n >> 32) as usize), idx((n & 0xffff_ffff) as usize))
}

fn unbits(hi: u32, lo: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

/// What conversion needs of a page's items, read in the fetch's pass by a [`Plan`], so that
/// conversion does not read the items again: each item's kind and the values of the slots
/// it sets, strings as spans of the page's text (or decoded once into `decoded` when they
/// have escapes), lists and objects as ranges of `values`. Conversion builds the item's
/// [`Slots`] from them ([`KeptPage::for_each`]), parsing nothing; a list or object becomes
/// a [`Json`] borrowing its strings, as reading the item at conversion built it.
///
/// Its size is bounded by its text's: about 5 bytes an item, 16 a slot set, 12 an entry of
/// a kept list or object, and the decoded strings ([`KeptWriter::over_budget`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeptPage {
    /// Slots per item.
    slots: usize,
    /// Each item's kind, an index of [`KINDS`].
    kinds: Vec<u8>,
    /// Where each item's entries of `set` end (they begin where the item before's end).
    ends: Vec<u32>,
    /// The slots the items set, and their values: at most one entry a slot in an item.
    set: Vec<(u32, Kept)>,
    /// The entries of kept lists and objects.
    values: Vec<Kept>,
    /// Strings with escapes, decoded.
    decoded: String,
    /// The canonical JSON of the entries that are not objects, by item index
    /// ([`Sink::set_whole`]).
    wholes: Vec<(u32, String)>,
}

impl KeptPage {
    /// How many items were kept.
    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Calls `on_item` with each item's slots (values borrowed from `text`, the page's text
    /// the items were read from, and from this page), and its index; `false` when a span
    /// does not lie in `text` (when `text` is not the page's text).
    pub(crate) fn for_each(
        &self,
        text: &str,
        plan: &Plan,
        on_item: &mut dyn for<'x> FnMut(usize, &Slots<'x>),
    ) -> bool {
        self.try_for_each(text, plan, on_item).is_some()
    }

    fn try_for_each(
        &self,
        text: &str,
        plan: &Plan,
        on_item: &mut dyn for<'x> FnMut(usize, &Slots<'x>),
    ) -> Option<()> {
        if self.slots != plan.slots || self.kinds.len() != self.ends.len() {
            return None;
        }
        let mut slots = plan.slots();
        let mut from = 0;
        let mut wholes = self.wholes.iter().peekable();
        for (i, (kind, end)) in self.kinds.iter().zip(&self.ends).enumerate() {
            slots.kind = KINDS.get(usize::from(*kind))?;
            slots.values.iter_mut().for_each(|v| *v = None);
            slots.whole = wholes
                .next_if(|(n, _)| *n as usize == i)
                .map(|(_, c)| c.clone());
            let end = *end as usize;
            for (slot, kept) in self.set.get(from..end)? {
                *slots.values.get_mut(*slot as usize)? = Some(self.json(text, *kept)?);
            }
            from = end;
            on_item(i, &slots);
        }
        Some(())
    }

    fn json<'a>(&'a self, text: &'a str, kept: Kept) -> Option<Json<'a>> {
        let range = |start: u32, end: u32| self.values.get(start as usize..end as usize);
        Some(match kept {
            Kept::Null => Json::Null,
            Kept::Bool(b) => Json::Bool(b),
            Kept::U64(hi, lo) => Json::Number(unbits(hi, lo).into()),
            Kept::I64(hi, lo) => {
                Json::Number(i64::from_ne_bytes(unbits(hi, lo).to_ne_bytes()).into())
            }
            Kept::F64(hi, lo) => {
                Number::from_f64(f64::from_bits(unbits(hi, lo))).map_or(Json::Null, Json::Number)
            }
            Kept::Text(start, end) => {
                Json::String(Cow::Borrowed(text.get(start as usize..end as usize)?))
            }
            Kept::Decoded(start, end) => Json::String(Cow::Borrowed(
                self.decoded.get(start as usize..end as usize)?,
            )),
            Kept::List(start, end) => Json::Array(
                range(start, end)?
                    .iter()
                    .map(|v| self.json(text, *v))
                    .collect::<Option<_>>()?,
            ),
            Kept::Object(start, end) => {
                let entries = range(start, end)?;
                if entries.len() % 2 != 0 {
                    return None;
                }
                Json::Object(
                    entries
                        .chunks_exact(2)
                        .map(|kv| match kv {
                            [k, v] => match self.json(text, *k)? {
                                Json::String(k) => Some((k, self.json(text, *v)?)),
                                _ => None,
                            },
                            _ => None,
                        })
                        .collect::<Option<_>>()?,
                )
            }
        })
    }
}

/// A [`KeptPage`] being read from a text.
pub(crate) struct KeptWriter {
    /// The text's address, and its length.
    start: usize,
    len: usize,
    /// Where the current item's entries of `set` begin.
    item: usize,
    /// Per slot, where in `set` its entry was last put: the current item's entry when it
    /// lies at `item` or after and names the slot.
    at: Vec<usize>,
    /// The entries of the lists and objects being read, moved into the page's `values` as
    /// each ends (so that each one's entries are together there, with no `Vec` of its own).
    scratch: Vec<Kept>,
    page: KeptPage,
}

impl KeptWriter {
    /// The page, read.
    pub(crate) fn finish(self) -> KeptPage {
        self.page
    }

    /// Whether the page holds more than twice its text's size and 256 KiB: pages of many
    /// tiny items or values, which the fetch then leaves to [`super::super::raw_page::locate`],
    /// whose conversion holds one item's values at a time (as before pages were kept).
    ///
    /// Entries are counted, not the vectors' spare capacity: a kept page may sit on up to
    /// twice what is counted (review5 N1), about four times its text at the worst. Counting
    /// capacity instead would send pages near the limit (the usual ones hold about their
    /// text's size) back to the slower read whenever a vector had just doubled.
    pub(crate) fn over_budget(&self) -> bool {
        let p = &self.page;
        let held = p.kinds.len()
            + p.ends.len() * size_of::<u32>()
            + p.set.len() * size_of::<(u32, Kept)>()
            + (p.values.len() + self.scratch.len()) * size_of::<Kept>()
            + p.decoded.len();
        held > 2 * self.len + (1 << 18)
    }

    /// Where `s` lies in the text: `None` when it is not a part of it.
    fn span(&self, s: &str) -> Option<(u32, u32)> {
        let start = (s.as_ptr() as usize).checked_sub(self.start)?;
        let end = start.checked_add(s.len())?;
        (end <= self.len).then(|| (idx(start), idx(end)))
    }

    fn decoded(&mut self, s: &str) -> Kept {
        let start = idx(self.page.decoded.len());
        self.page.decoded.push_str(s);
        Kept::Decoded(start, idx(self.page.decoded.len()))
    }

    /// The current item's entry for `slot`, if it set one.
    fn entry(&self, slot: usize) -> Option<usize> {
        let at = *self.at.get(slot)?;
        let (s, _) = self.page.set.get(at)?;
        (at >= self.item && *s as usize == slot).then_some(at)
    }

    /// Puts `v` in `scratch`, held to the budget every 1024 entries: a long run of scalars
    /// in one list or object would otherwise grow past it before its end is reached.
    fn push<E: serde::de::Error>(&mut self, v: Kept) -> Result<(), E> {
        self.scratch.push(v);
        if self.scratch.len().is_multiple_of(1024) && self.over_budget() {
            return Err(E::custom("the page's items hold too much"));
        }
        Ok(())
    }

    /// The list or object whose entries are `scratch[mark..]`, moved into `values`.
    fn close<E: serde::de::Error>(
        &mut self,
        mark: usize,
        kind: fn(u32, u32) -> Kept,
    ) -> Result<Kept, E> {
        let start = self.page.values.len();
        self.page.values.extend(self.scratch.drain(mark..));
        if self.over_budget() {
            return Err(E::custom("the page's items hold too much"));
        }
        Ok(kind(idx(start), idx(self.page.values.len())))
    }
}

impl Plan {
    /// What a page's items keep, read from `text` (the page's text, which the items are
    /// read from) by [`Plan::keep`].
    /// `None` for a text of more than `u32::MAX` bytes (a [`KeptPage`]'s spans are `u32`).
    pub(crate) fn kept_page(&self, text: &str) -> Option<KeptWriter> {
        u32::try_from(text.len()).ok()?;
        Some(KeptWriter {
            start: text.as_ptr() as usize,
            len: text.len(),
            item: 0,
            at: vec![0; self.slots],
            scratch: Vec::new(),
            page: KeptPage {
                slots: self.slots,
                ..KeptPage::default()
            },
        })
    }

    /// Reads one item into `page`, as a new item after those read before.
    pub(crate) fn keep<'p, 's>(&'p self, page: &'s mut KeptWriter) -> ItemSeed<'p, 's, KeptWriter> {
        ItemSeed {
            plan: self,
            sink: page,
        }
    }
}

impl<'de> Sink<'de> for KeptWriter {
    fn begin(&mut self) {
        self.page.kinds.push(0);
        self.item = self.page.set.len();
        self.page.ends.push(idx(self.item));
    }

    fn set_kind(&mut self, kind: u8) {
        if let Some(k) = self.page.kinds.last_mut() {
            *k = kind;
        }
    }

    fn set_whole(&mut self, canonical: String) {
        let item = idx(self.page.kinds.len().saturating_sub(1));
        self.page.wholes.push((item, canonical));
    }

    fn clear(&mut self, slot: usize) {
        if let Some(at) = self.entry(slot) {
            // The item's entries are the last of `set`, so the one moved in stays in it.
            self.page.set.swap_remove(at);
            if let Some((moved, _)) = self.page.set.get(at)
                && let Some(a) = self.at.get_mut(*moved as usize)
            {
                *a = at;
            }
            if let Some(end) = self.page.ends.last_mut() {
                *end = idx(self.page.set.len());
            }
        }
    }

    fn capture<A: MapAccess<'de>>(&mut self, slot: usize, map: &mut A) -> Result<(), A::Error> {
        let value = map.next_value_seed(KeptSeed { page: &mut *self })?;
        match self.entry(slot) {
            Some(at) => {
                if let Some(e) = self.page.set.get_mut(at) {
                    e.1 = value;
                }
            }
            None => {
                if let Some(a) = self.at.get_mut(slot) {
                    *a = self.page.set.len();
                }
                self.page.set.push((idx(slot), value));
                if let Some(end) = self.page.ends.last_mut() {
                    *end = idx(self.page.set.len());
                }
            }
        }
        Ok(())
    }
}

/// Reads a value to keep; a list's or object's entries go into the page's `values`.
struct KeptSeed<'s> {
    page: &'s mut KeptWriter,
}

impl<'de> DeserializeSeed<'de> for KeptSeed<'_> {
    type Value = Kept;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Kept, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeptSeed<'_> {
    type Value = Kept;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    // The same values from the same calls as `Json`'s visitor.
    fn visit_bool<E>(self, b: bool) -> Result<Kept, E> {
        Ok(Kept::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Kept, E> {
        let (hi, lo) = bits(u64::from_ne_bytes(n.to_ne_bytes()));
        Ok(Kept::I64(hi, lo))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Kept, E> {
        let (hi, lo) = bits(n);
        Ok(Kept::U64(hi, lo))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Kept, E> {
        Ok(if Number::from_f64(f).is_some() {
            let (hi, lo) = bits(f.to_bits());
            Kept::F64(hi, lo)
        } else {
            Kept::Null
        })
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Kept, E> {
        Ok(match self.page.span(s) {
            Some((start, end)) => Kept::Text(start, end),
            None => self.page.decoded(s),
        })
    }

    fn visit_str<E>(self, s: &str) -> Result<Kept, E> {
        Ok(self.page.decoded(s))
    }

    fn visit_none<E>(self) -> Result<Kept, E> {
        Ok(Kept::Null)
    }

    fn visit_unit<E>(self) -> Result<Kept, E> {
        Ok(Kept::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kept, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kept, A::Error> {
        let mark = self.page.scratch.len();
        while let Some(v) = seq.next_element_seed(KeptSeed {
            page: &mut *self.page,
        })? {
            self.page.push(v)?;
        }
        self.page.close(mark, Kept::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kept, A::Error> {
        let mark = self.page.scratch.len();
        // Keys are strings, read as `Json`'s visitor reads them ([`Key`]): borrowed when
        // they have no escapes.
        while let Some(k) = map.next_key_seed(KeptSeed {
            page: &mut *self.page,
        })? {
            self.page.push(k)?;
            let v = map.next_value_seed(KeptSeed {
                page: &mut *self.page,
            })?;
            self.page.push(v)?;
        }
        self.page.close(mark, Kept::Object)
    }
}
#[cfg(test)]
mod tests {
    use super::super::super::raw_page;
    use super::super::Item;
    use super::super::tests::plan;
    use super::*;

    /// Every field read from a page's kept items as from each item's tree.
    fn same_kept(paths: &[&str], text: &str) {
        let (plan, fields) = plan(paths).unwrap();
        let tree: Json<'_> = serde_json::from_str(text).unwrap();
        let body = format!(r#"{{"before": "x\"y", "data": [{text}, {text}], "n": 1}}"#);
        let (_, kept) = raw_page::keep(body.as_bytes(), &["data".to_owned()], &plan).unwrap();
        assert_eq!(kept.len(), 2);
        let mut seen = Vec::new();
        assert!(kept.for_each(&body, &plan, &mut |i, slots| {
            seen.push(i);
            assert_eq!(Item::kind(slots), Item::kind(&tree), "{text}");
            assert_eq!(Item::is_object(slots), Item::is_object(&tree), "{text}");
            for f in &fields {
                assert_eq!(slots.single(f), tree.single(f), "{text} {}", f.as_str());
                assert_eq!(slots.values(f), tree.values(f), "{text} {}", f.as_str());
            }
        }));
        assert_eq!(seen, [0, 1]);
    }

    /// Kept values that are strings with and without escapes, lists with lists and objects in
    /// them, objects, repeated names and non-objects on a path: as the tree answers.
    #[test]
    fn kept_items_answer_as_trees_do() {
        let paths = ["id", "title", "author.name", "tags[*]", "tags[1]", "a.b.c"];
        for text in [
            r#"{"id": 1, "title": "T", "author": {"name": "A"}, "tags": ["x", null, 2], "x": [1]}"#,
            r#"{"author": {"name": "A"}, "author": {"email": "e"}, "id": 1, "id": "2"}"#,
            r#"{"author": "plain", "tags": "one", "a": {"b": {"c": null}}}"#,
            r#"{"a": {"b": {"c": 1}, "b": 2}, "title": {"k": [1]}, "tags": [[1, "q\""], {"z": "\u00e9"}]}"#,
            r#"{"\u0061": {"b": {"c": "esc"}}, "id": null, "title": "t\"i\\tle\n\u00e9 ok"}"#,
            r#"{"title": "é plain", "tags": ["\\", "a\"b", "é"], "author": {"name": "x", "name": "y\u0041"}}"#,
            r#"{"tags": ["a", "b"], "tags": [true, 1.5, -2, 18446744073709551615], "id": 1e3}"#,
            r#"{"title": "", "author": {"name": ""}, "tags": [], "a": {"b": {"c": {}}}}"#,
            "{}",
            "[1, 2]",
            "\"s\"",
            "null",
            "3.5",
            "true",
        ] {
            same_kept(&paths, text);
        }
    }

    /// The bytes a kept page holds besides the body: its vectors' entries and the decoded
    /// strings.
    fn kept_bytes(page: &KeptPage) -> usize {
        page.kinds.len() * size_of::<u8>()
            + page.ends.len() * size_of::<u32>()
            + page.set.len() * size_of::<(u32, Kept)>()
            + page.values.len() * size_of::<Kept>()
            + page.decoded.len()
    }

    /// A page the fetch keeps holds little more than its body, however small its items or
    /// their values (the read path before kept one item's values at a time): a page that
    /// would hold more is left to `locate`, and read at conversion as before.
    #[test]
    fn kept_pages_stay_within_twice_their_body_and_a_little() {
        let (plan, _) = plan(&[
            "id",
            "title",
            "body",
            "updated_at",
            "link",
            "author.name",
            "tags[*]",
            "meta",
        ])
        .unwrap();
        let usual = r#"{"id": 12345, "title": "A title", "body": "<p>Some text with <b>markup<\/b> and more text, more text, more text, more text.<\/p>", "updated_at": "2026-01-02T03:04:05Z", "link": "https://example.com/items/12345", "author": {"name": "Jane"}, "tags": ["alpha", "beta"]}"#;
        let zeros = format!(r#"{{"id":1,"tags":[{}]}}"#, ["0"; 2000].join(","));
        let lists = format!(r#"{{"id":1,"tags":[{}]}}"#, ["[]"; 2000].join(","));
        let object = format!(
            r#"{{"id":1,"meta":{{{}}}}}"#,
            (0..2000)
                .map(|i| format!(r#""k{i}":0"#))
                .collect::<Vec<_>>()
                .join(",")
        );
        let nested = format!("[{}1{}]", "[".repeat(100), "]".repeat(100));
        let deep = format!(
            r#"{{"id":1,"tags":[{}]}}"#,
            vec![nested.as_str(); 20].join(",")
        );
        for (item, n, kept_whole) in [
            (usual, 5_000, true),
            ("{}", 200_000, false),
            (r#"{"id":1}"#, 200_000, false),
            (zeros.as_str(), 200, false),
            (lists.as_str(), 200, false),
            (object.as_str(), 200, false),
            (deep.as_str(), 200, false),
        ] {
            let body = format!(r#"{{"data":[{}]}}"#, vec![item; n].join(","));
            let path = ["data".to_owned()];
            match raw_page::keep(body.as_bytes(), &path, &plan) {
                Some((_, kept)) => {
                    let held = kept_bytes(&kept);
                    assert!(
                        held <= 2 * body.len() + (1 << 18),
                        "{} items of {:.40}: {held} bytes kept for a body of {}",
                        n,
                        item,
                        body.len()
                    );
                }
                None => {
                    assert!(!kept_whole, "a usual page is kept: {item:.40}");
                    assert!(raw_page::locate(body.as_bytes(), &path, None).is_some());
                }
            }
        }
    }

    /// A kept list or object is held to the budget while it is read, not only when it ends:
    /// one long run of scalars in one mapped value (12 bytes an entry for 2 bytes of text)
    /// is given up once it holds more than the page may, before its end is reached.
    #[test]
    fn a_long_run_of_scalars_is_cut_by_the_budget_as_it_is_read() {
        let (plan, _) = plan(&["tags[*]", "meta"]).unwrap();
        let run = ["0"; 400_000].join(",");
        let pairs = (0..200_000)
            .map(|i| format!(r#""{i}":0"#))
            .collect::<Vec<_>>()
            .join(",");
        // Each text ends inside the value, so only the budget can stop the read early.
        for text in [
            format!(r#"{{"tags":[{run}"#),
            format!(r#"{{"meta":{{{pairs}"#),
            format!(r#"{{"tags":[[{run}"#),
        ] {
            let mut page = plan.kept_page(&text).unwrap();
            let mut de = serde_json::Deserializer::from_str(&text);
            let err = plan.keep(&mut page).deserialize(&mut de).unwrap_err();
            let budget = 2 * text.len() + (1 << 18);
            let held = (page.scratch.len() + page.page.values.len()) * size_of::<Kept>();
            assert!(
                held <= budget + (1 << 16),
                "{held} bytes held for a budget of {budget} ({err}): {text:.30}"
            );
        }
    }
}
