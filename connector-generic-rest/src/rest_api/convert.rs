//! One JSON item → one [`Document`] (or a [`Failure`] naming the item).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::ids::{hash128, hash128_bytes, hash128_concat};
use connector_core::{Document, Error, ErrorKind, Failure, MetaKey, TimeWindow};
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::config::{RestApiConfig, TypeHint};
use super::direct::{Field, Item, Plan, Slots};
use super::lenient::read_alone;
use super::model::{FieldPath, text_of};
use super::node::Node;
use super::raw_page::{Unread, read_alone_by};

mod text;
mod time;

use text::{integer_text, push_part, strip_html, title_of};
use time::{parse_datetime, time_at};

/// " (content hash …)": a content hash as a failure shows it, 16 digits of it.
fn told(hash: &str) -> String {
    format!(" (content hash {})", hash.get(..16).unwrap_or(hash))
}

/// How items become documents, resolved once from the config.
#[derive(Debug)]
pub(crate) struct Mapping {
    id: Option<Field>,
    content: Vec<Field>,
    metadata: Vec<Field>,
    /// The metadata fields' paths as keys, made once: a document's keys are clones (an
    /// inline copy for a key of up to 23 bytes, a count for a longer one), not made anew from
    /// the path's text for each document.
    metadata_keys: Vec<MetaKey>,
    timestamp: Option<Field>,
    title: Option<Field>,
    link: Option<Field>,
    hints: BTreeMap<String, TypeHint>,
    defaults: BTreeMap<String, Value>,
    template: Option<String>,
    /// How to read items without a tree, when the paths allow it ([`super::direct`]).
    direct: Option<Arc<Plan>>,
    /// How to read the id alone, when its path allows it: the id of an item that cannot be
    /// read whole ([`Mapping::unread_id`]).
    id_alone: Option<(Plan, Field)>,
    /// How to read `poll_timestamp_field` alone, when its path allows it: the time of an item
    /// that cannot be read whole ([`Mapping::unread_time`]).
    time_alone: Option<(Plan, Field)>,
}

fn parse_opt(field: &'static str, p: Option<&str>) -> Result<Option<Field>, Error> {
    p.map(|p| {
        FieldPath::parse(p)
            .map(Field::new)
            .map_err(|e| Error::new(ErrorKind::Config, format!("{field}: {e}")).with_field(field))
    })
    .transpose()
}

impl Mapping {
    pub(crate) fn new(cfg: &RestApiConfig) -> Result<Self, Error> {
        let list = |field: &'static str, paths: &[String]| -> Result<Vec<Field>, Error> {
            paths
                .iter()
                .map(|p| {
                    FieldPath::parse(p).map(Field::new).map_err(|e| {
                        Error::new(ErrorKind::Config, format!("{field}: {e}")).with_field(field)
                    })
                })
                .collect()
        };
        let mut mapping = Self {
            id: parse_opt("id_field", cfg.id_field.as_deref())?,
            content: list("content_fields", cfg.content_fields.as_slice())?,
            metadata: list("metadata_fields", cfg.metadata_fields.as_slice())?,
            timestamp: parse_opt("poll_timestamp_field", cfg.poll_timestamp_field.as_deref())?,
            title: parse_opt("title_field", cfg.title_field.as_deref())?,
            link: parse_opt("link_field", cfg.link_field.as_deref())?,
            hints: cfg.field_type_hints.clone(),
            defaults: cfg.field_default_values.clone(),
            template: cfg.content_template.clone(),
            metadata_keys: Vec::new(),
            direct: None,
            id_alone: None,
            time_alone: None,
        };
        mapping.metadata_keys = mapping
            .metadata
            .iter()
            .map(|p| MetaKey::from(p.as_str()))
            .collect();
        // Without `id_field` an id is a hash of the whole item, which only a tree has.
        if mapping.id.is_some() {
            let mut fields: Vec<&mut Field> = mapping
                .id
                .iter_mut()
                .chain(mapping.timestamp.iter_mut())
                .chain(mapping.title.iter_mut())
                .chain(mapping.link.iter_mut())
                .chain(mapping.content.iter_mut())
                .chain(mapping.metadata.iter_mut())
                .collect();
            mapping.direct = Plan::new(&mut fields).map(Arc::new);
        }
        let alone = |path: &Option<Field>| {
            let mut field = Field::new(FieldPath::clone(path.as_ref()?));
            Plan::new(&mut [&mut field]).map(|plan| (plan, field))
        };
        mapping.id_alone = alone(&mapping.id);
        mapping.time_alone = alone(&mapping.timestamp);
        Ok(mapping)
    }

    /// How to read items straight into slots, when the config's paths allow it.
    pub(crate) fn direct(&self) -> Option<&Plan> {
        self.direct.as_deref()
    }

    /// [`direct`](Self::direct), shared: the fetch reads pages with it.
    pub(crate) fn plan(&self) -> Option<Arc<Plan>> {
        self.direct.clone()
    }

    /// Whether items carry a modification time.
    pub(crate) fn has_timestamp(&self) -> bool {
        self.timestamp.is_some()
    }

    /// The value at `path` after defaults and type hints: one value as it is, several joined
    /// with `", "`, none → the configured default. Borrowed from `item` when nothing had to
    /// change, which is the common case (no hint, one value).
    fn typed<'a, I: Item>(&'a self, path: &Field, item: &'a I) -> Option<Typed<'a, I::N>> {
        let hint = if self.hints.is_empty() {
            None
        } else {
            self.hints.get(path.as_str()).copied()
        };
        if hint.is_none() {
            if let Some(Some(one)) = item.single(path) {
                return Some(Typed::Node(one));
            }
            // A list read in place (a `[*]` path of a planned item): its values without a
            // `Vec` of them. None, one or several, as `values` below would give them.
            if let Some(list) = item.all(path) {
                let mut present = list.iter().filter(|v| !v.is_null());
                match (present.next(), present.next()) {
                    (None, _) => {}
                    (Some(one), None) => return Some(Typed::Node(one)),
                    (Some(_), Some(_)) => {
                        return Some(Typed::Value(joined(list.iter().filter(|v| !v.is_null()))));
                    }
                }
            }
        }
        let mut values = item.values(path);
        if hint.is_none() {
            match values.len() {
                0 => {}
                1 => return values.pop().map(Typed::Node),
                _ => return Some(Typed::Value(joined(values.into_iter()))),
            }
        }
        let mut converted: Vec<Value> = if values.is_empty() {
            self.defaults
                .get(path.as_str())
                .cloned()
                .into_iter()
                .collect()
        } else {
            values.into_iter().map(Node::to_value).collect()
        };
        if let Some(hint) = hint {
            converted = converted
                .into_iter()
                .filter_map(|v| apply_hint(hint, v))
                .collect();
        }
        match converted.len() {
            0 => None,
            1 => converted.pop().map(Typed::Value),
            _ => Some(Typed::Value(Value::String(
                converted.iter().map(text_of).collect::<Vec<_>>().join(", "),
            ))),
        }
    }

    /// The document id of `item`: `hash128("rest_api:" + id_field value)` as RAGFlow computes
    /// it, else `hash128("rest_api:" + hash128(canonical JSON))`, which is content-derived.
    ///
    /// # Errors
    /// An [`ErrorKind::InvalidData`] error when `id_field` is configured and the item lacks it.
    pub(crate) fn id<I: Item>(&self, item: &I) -> Result<String, Error> {
        match &self.id {
            Some(path) => self.id_at(path, item),
            None => {
                // Slots are read only with `id_field` set, so this is a tree's JSON.
                let canonical = item.canonical().unwrap_or_default();
                Ok(hash128_concat(&[SOURCE, ":", &hash128(&canonical)]))
            }
        }
    }

    /// The id of an item that could not be read ([`Unread`]), read from its bytes by the
    /// id's path alone, as [`id`](Self::id) reads it of the whole item; `None` without
    /// `id_field`, for an id path that is not a plain chain of names ([`Plan`]), an item that
    /// is not an object, and an id that cannot be read either (the id itself `1e400`).
    pub(crate) fn unread_id(&self, unread: &Unread<'_>) -> Option<String> {
        let (plan, field) = self.id_alone.as_ref()?;
        let slots = slots_alone(plan, unread)?;
        self.id_at(field, &slots).ok()
    }

    /// The modification time of an item that could not be read ([`Unread`]), read from its
    /// bytes by `poll_timestamp_field`'s path alone, as [`updated_at`](Self::updated_at)
    /// reads it of the whole item (`Some(None)`: no time, as an item without one has);
    /// `None` when it cannot be told: without `poll_timestamp_field`, for a path that is not a
    /// plain chain of names ([`Plan`]), an item that is not an object, and a time that cannot
    /// be read either.
    pub(crate) fn unread_time(&self, unread: &Unread<'_>) -> Option<Option<DateTime<Utc>>> {
        let (plan, field) = self.time_alone.as_ref()?;
        let slots = slots_alone(plan, unread)?;
        Some(time_at(field, &slots))
    }

    /// The failure of an entry `at` of a page ("page 3 (cursor c2), entry 2") that could not
    /// be read ([`Unread`]), at the JSON path `item`: named by its id where that can still be
    /// read ([`unread_id`](Self::unread_id)), else by a hash of its bytes; with the reason
    /// and where in the item it lies; then, as its place ([`Failure::at`]), its page, index
    /// and JSON path: "item could not be read: number out of range at `item.score` (content
    /// hash …) — at page 3 (cursor c2), entry 2 (`$.data[2]`)".
    pub(crate) fn unread_failure(
        &self,
        at: &impl std::fmt::Display,
        item: &str,
        unread: &Unread<'_>,
    ) -> Failure {
        let id = self.unread_id(unread);
        let tell = if id.is_some() {
            String::new()
        } else {
            told(&hash128_bytes(unread.text))
        };
        Failure::new(
            id,
            ErrorKind::InvalidData,
            format!(
                "{SOURCE}: item could not be read: {}{tell}",
                unread.reason("item")
            ),
        )
        .at(format_args!("{at} (`{item}`)"))
    }

    /// The failure of the entry `at` of a page, at the JSON path `item`, whose bytes are
    /// `text`, that `items_path`'s filter may or may not take (`why`, [`super::lenient`]): it
    /// is never delivered, as the filter may leave it out, nor lost, as it may take it. Named
    /// by its id where that reads, else by a hash of its bytes; with `window`, `None` when its
    /// time lies outside it or it has none, as for an item that cannot be read.
    pub(crate) fn undecided_failure(
        &self,
        window: Option<TimeWindow>,
        at: &impl std::fmt::Display,
        item: &str,
        text: &[u8],
        why: &str,
    ) -> Option<Failure> {
        let (id, time) = match read_alone(text) {
            Ok(tree) => (
                self.id(&tree).ok(),
                self.timestamp.as_ref().map(|_| self.updated_at(&tree)),
            ),
            Err(error) => {
                let unread = Unread {
                    text,
                    error: &error,
                };
                (self.unread_id(&unread), self.unread_time(&unread))
            }
        };
        if let Some(w) = window
            && let Some(time) = time
            && !time.is_some_and(|t| w.contains(t))
        {
            return None;
        }
        let tell = if id.is_some() {
            String::new()
        } else {
            told(&hash128_bytes(text))
        };
        let failure = Failure::new(id, ErrorKind::InvalidData, format!("{SOURCE}: {why}{tell}"));
        Some(failure.at(format_args!("{at} (`{item}`)")))
    }

    /// A hash of `item`'s content, which tells an item without an id from others in its
    /// failure's key ([`Failure::at`]): of its kind and the values of the fields the mapping
    /// reads (what its document would have held), which an item read by the plan
    /// ([`Slots`]) and the same item read as a tree give alike. Items whose kind and mapped
    /// values are the same share it: they would be the same document. An entry that is not
    /// an object is hashed whole, kind and value ([`Item::canonical`]).
    fn content_hash<I: Item>(&self, item: &I) -> String {
        let mut text = item.kind().to_owned();
        // An entry that is not an object is its own content (both reads give it alike).
        if !item.is_object()
            && let Some(whole) = item.canonical()
        {
            text.push('\u{1e}');
            text.push_str(&whole);
            return hash128(&text);
        }
        let fields = (self.title.iter().chain(&self.content).chain(&self.metadata))
            .chain(self.link.iter().chain(&self.timestamp));
        for field in fields {
            for value in item.values(field) {
                text.push_str(&Node::canonical(value));
                text.push('\u{1f}');
            }
            text.push('\u{1e}');
        }
        hash128(&text)
    }

    /// [`id`](Self::id) read at `path` (the mapping's `id_field`, or the same path with the
    /// slot of [`Mapping::id_alone`]'s plan).
    fn id_at<I: Item>(&self, path: &Field, item: &I) -> Result<String, Error> {
        // A number's digits written on the stack rather than into a `String` (most ids are
        // numbers): the same text as `Number`'s `to_string`.
        let mut digits = itoa::Buffer::new();
        let typed = self.typed(path, item);
        let raw = match &typed {
            Some(Typed::Node(n)) => match n.number().and_then(|n| integer_text(n, &mut digits)) {
                Some(digits) => Cow::Borrowed(digits),
                None => n.text(),
            },
            Some(v) => v.text(),
            None => Cow::Borrowed(""),
        };
        if raw.is_empty() {
            return Err(
                Error::invalid_data(format!("item has no `{}`", path.as_str()))
                    .with_field("id_field"),
            );
        }
        Ok(hash128_concat(&[SOURCE, ":", &raw]))
    }

    /// The item's modification time, if the config names one and it parses.
    pub(crate) fn updated_at<I: Item>(&self, item: &I) -> Option<DateTime<Utc>> {
        time_at(self.timestamp.as_ref()?, item)
    }

    /// `item` (entry `index` of its page) as a document, or a failure naming it.
    #[cfg(test)]
    pub(crate) fn convert<I: Item>(
        &self,
        item: &I,
        index: usize,
    ) -> Result<Document, Box<Failure>> {
        let mut one = Vec::with_capacity(1);
        self.convert_into(item, &format!("entry {index}"), &mut one)?;
        one.pop()
            .ok_or_else(|| Box::new(Failure::new(None, ErrorKind::InvalidData, "no document")))
    }

    /// `item` (the entry `at` of a page, as "page 3 (cursor c2), entry 2") as a document
    /// pushed onto `out`, or a failure naming it. The document is built in place and moved
    /// once, into `out` (a returned `Result<Document, _>`, taken apart and pushed by the
    /// page's loop, moved its few hundred bytes five times: 1.5% of a sync's instructions).
    pub(crate) fn convert_into<I: Item>(
        &self,
        item: &I,
        at: &impl std::fmt::Display,
        out: &mut Vec<Document>,
    ) -> Result<(), Box<Failure>> {
        // Failures without an id: told apart by a hash of the item's content, their page and
        // position only shown (`Failure::at`), so that each keeps its key when it moves.
        if !item.is_object() {
            return Err(Box::new(
                Failure::new(
                    None,
                    ErrorKind::InvalidData,
                    format!(
                        "{SOURCE}: item is a {}, not an object{}",
                        item.kind(),
                        told(&self.content_hash(item))
                    ),
                )
                .at(at),
            ));
        }
        let id = self.id(item).map_err(|e| {
            Box::new(
                Failure::new(
                    None,
                    ErrorKind::InvalidData,
                    format!(
                        "{SOURCE}: {}{}",
                        e.message(),
                        told(&self.content_hash(item))
                    ),
                )
                .at(at),
            )
        })?;
        let content = match &self.template {
            Some(t) => strip_html(&self.render(t, item)),
            None => {
                // One buffer for all parts, sized from their text (Markdown is no longer than
                // the HTML it comes from in the usual case), instead of a `String` per part
                // and the joined one grown after each.
                let size: usize = self
                    .content
                    .iter()
                    .filter_map(|p| item.single(p).flatten())
                    .map(|n| n.str().map_or(16, str::len) + 1)
                    .sum();
                let mut content = String::with_capacity(size);
                for v in self.content.iter().filter_map(|p| self.typed(p, item)) {
                    push_part(&mut content, &v.text());
                }
                content
            }
        };
        let title_value = match &self.title {
            Some(p) => self.typed(p, item),
            None => self
                .content
                .first()
                .and_then(|p| match item.single(p) {
                    Some(one) => one,
                    None => item.values(p).into_iter().next(),
                })
                .map(Typed::Node),
        };
        let title = title_value
            .map(|v| title_of(&v.text()))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| id.clone());
        // Fields set in place rather than through the `with_*` builders, each of which moves
        // the whole `Document` (a few hundred bytes) in and out: 1-2% of a sync's CPU. The
        // fingerprint is over what the document delivers, not the whole item (a change to a
        // field the config does not map re-delivers nothing), and only that is hashed: not
        // the text alone first, for a fingerprint the fields hash would replace.
        let doc = Document::text_with_fields(id, SOURCE, title, content, |doc| {
            doc.updated_at = self.updated_at(item);
            doc.link = self
                .link
                .as_ref()
                .and_then(|p| self.typed(p, item))
                .and_then(|v| Url::parse(&v.text()).ok());
            for (path, key) in self.metadata.iter().zip(&self.metadata_keys) {
                if let Some(v) = self.typed(path, item) {
                    doc.metadata.insert(key.clone(), v.into_value());
                }
            }
        });
        out.push(doc);
        Ok(())
    }

    /// Fills `{name}` placeholders (`{{`/`}}` are literal braces; a format spec after `:` is
    /// ignored); unknown names render as nothing.
    fn render<I: Item>(&self, template: &str, item: &I) -> String {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for p in self.content.iter().chain(&self.metadata) {
            let text = self
                .typed(p, item)
                .map(|v| v.text().into_owned())
                .unwrap_or_default();
            values.entry(p.template_name()).or_insert(text);
        }
        let mut out = String::with_capacity(template.len());
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    out.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    out.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for n in chars.by_ref() {
                        if n == '}' {
                            closed = true;
                            break;
                        }
                        name.push(n);
                    }
                    if !closed {
                        out.push('{');
                        out.push_str(&name);
                        break;
                    }
                    let key = name.split([':', '!']).next().unwrap_or("").trim();
                    out.push_str(values.get(key).map(String::as_str).unwrap_or(""));
                }
                other => out.push(other),
            }
        }
        out
    }
}

/// Several values joined with `", "` as one string, as the owned values would be joined,
/// without making them first; sized from their text (one allocation, not regrown per value).
fn joined<'a, N: Node + 'a>(values: impl Iterator<Item = &'a N> + Clone) -> Value {
    let size: usize = values
        .clone()
        .map(|v| v.str().map_or(16, str::len) + 2)
        .sum();
    let mut joined = String::with_capacity(size);
    for (i, v) in values.enumerate() {
        if i > 0 {
            joined.push_str(", ");
        }
        joined.push_str(&v.text());
    }
    Value::String(joined)
}

/// A mapped value: borrowed from the item, or made (a default, a type hint's result, several
/// values joined).
enum Typed<'a, N> {
    Node(&'a N),
    Value(Value),
}

impl<N: Node> Typed<'_, N> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Self::Node(n) => n.text(),
            Self::Value(v) => v.text(),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Self::Node(n) => n.to_value(),
            Self::Value(v) => v,
        }
    }
}

fn apply_hint(hint: TypeHint, v: Value) -> Option<Value> {
    match hint {
        TypeHint::String => Some(Value::String(text_of(&v))),
        TypeHint::Number => {
            let f = match &v {
                Value::Number(n) => n.as_f64()?,
                Value::String(s) => s.trim().parse::<f64>().ok()?,
                Value::Bool(b) => f64::from(u8::from(*b)),
                _ => return None,
            };
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                // Integral values below 2^53 are exact in f64.
                #[allow(clippy::cast_possible_truncation)] // checked above
                let i = f as i64;
                Some(Value::from(i))
            } else {
                serde_json::Number::from_f64(f).map(Value::Number)
            }
        }
        TypeHint::Date => parse_datetime(&v).map(|d| Value::String(d.to_rfc3339())),
    }
}

/// The slots `plan` (of one path, [`Mapping::id_alone`] or [`Mapping::time_alone`]) reads of
/// an item that could not be read whole; `None` when that path cannot be read either, or the
/// item is not an object.
fn slots_alone<'a>(plan: &Plan, unread: &Unread<'a>) -> Option<Slots<'a>> {
    read_alone_by(unread.text, plan).filter(Slots::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_follows_what_is_delivered() {
        let cfg: RestApiConfig = serde_json::from_value(json!({
            "url": "https://api.example.com/items",
            "id_field": "id",
            "content_fields": ["body"],
            "metadata_fields": ["tag"],
        }))
        .unwrap();
        let m = Mapping::new(&cfg).unwrap();
        let fp = |item: Value| m.convert(&item, 0).map(|d| d.fingerprint).unwrap();
        let base = fp(json!({"id": 1, "body": "text", "tag": "a", "views": 1}));
        // A field the config does not map: the same document, the same fingerprint.
        assert_eq!(
            base,
            fp(json!({"id": 1, "body": "text", "tag": "a", "views": 2}))
        );
        // Body or metadata changed: a new fingerprint.
        assert_ne!(
            base,
            fp(json!({"id": 1, "body": "text!", "tag": "a", "views": 1}))
        );
        assert_ne!(
            base,
            fp(json!({"id": 1, "body": "text", "tag": "b", "views": 1}))
        );
    }
}
