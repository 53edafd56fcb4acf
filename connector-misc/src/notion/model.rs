//! What Notion's answers hold (API version `2025-09-03`): pages, databases, blocks and rich
//! text, with the fields the connector reads.

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A list answer: `{"object": "list", "results": [...], "next_cursor", "has_more"}`, its
/// results read straight into `T` (no `Value` tree in between).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub(crate) struct List<T> {
    /// Each result read on its own, so one malformed result fails alone.
    #[serde(default)]
    pub(crate) results: Vec<Lenient<T>>,
    #[serde(default)]
    pub(crate) next_cursor: Option<String>,
    #[serde(default)]
    pub(crate) has_more: bool,
}

impl<T> List<T> {
    /// The cursor of the next page; none at the end.
    pub(crate) fn next(&self) -> Option<String> {
        if self.has_more {
            self.next_cursor.clone().filter(|c| !c.is_empty())
        } else {
            None
        }
    }
}

/// One result of a list: read as `T`, or why it could not be (with its `id` when it has one).
#[derive(Debug)]
pub(crate) struct Lenient<T>(pub(crate) Result<T, Malformed>);

/// A result that is not what the connector reads.
#[derive(Debug)]
pub(crate) struct Malformed {
    pub(crate) id: Option<String>,
    pub(crate) error: serde_json::Error,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The result's text is kept aside (a copy, no tree) and read on its own.
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(Self(serde_json::from_str::<T>(raw.get()).map_err(
            |error| {
                #[derive(Deserialize)]
                struct Id {
                    #[serde(default)]
                    id: Option<String>,
                }
                let id = serde_json::from_str::<Id>(raw.get())
                    .ok()
                    .and_then(|i| i.id);
                Malformed { id, error }
            },
        )))
    }
}

/// A user reference (`created_by`, `last_edited_by`): an id, a name when Notion sends one.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserRef {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// Where a page, database or block sits: `{"type": "page_id", "page_id": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Parent {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) page_id: Option<String>,
    #[serde(default)]
    pub(crate) database_id: Option<String>,
    #[serde(default)]
    pub(crate) block_id: Option<String>,
    /// A database row's data source (`"type": "data_source_id"`, which also names the
    /// `database_id`), or a data source's database.
    #[serde(default)]
    pub(crate) data_source_id: Option<String>,
}

impl Parent {
    /// The parent's kind (`page`, `database`, `block`) and id; none for the workspace.
    pub(crate) fn target(&self) -> Option<(&'static str, &str)> {
        match self.kind.as_str() {
            "page_id" => self.page_id.as_deref().map(|id| ("page", id)),
            "database_id" => self.database_id.as_deref().map(|id| ("database", id)),
            // A row: its database when named (the data source's own parent), else the data
            // source itself.
            "data_source_id" => match (&self.database_id, &self.data_source_id) {
                (Some(db), _) => Some(("database", db.as_str())),
                (None, Some(ds)) => Some(("data_source", ds.as_str())),
                (None, None) => None,
            },
            "block_id" => self.block_id.as_deref().map(|id| ("block", id)),
            _ => None,
        }
    }
}

/// A page (a search result, `GET /v1/pages/{id}`, a database query's row) or a database
/// (`GET /v1/databases/{id}`): the fields both have.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Page {
    pub(crate) object: String,
    pub(crate) id: String,
    pub(crate) created_time: DateTime<Utc>,
    pub(crate) last_edited_time: DateTime<Utc>,
    #[serde(default)]
    pub(crate) created_by: Option<UserRef>,
    #[serde(default)]
    pub(crate) last_edited_by: Option<UserRef>,
    pub(crate) parent: Parent,
    #[serde(default)]
    pub(crate) archived: bool,
    #[serde(default)]
    pub(crate) in_trash: bool,
    #[serde(default)]
    pub(crate) properties: Map<String, Value>,
    #[serde(default)]
    pub(crate) url: Option<String>,
    /// A database's title (a page's is its `title` property).
    #[serde(default)]
    pub(crate) title: Option<Vec<RichText>>,
    /// A database's data sources (`2025-09-03`): the tables whose rows are queried.
    #[serde(default)]
    pub(crate) data_sources: Vec<DataSourceRef>,
}

/// One entry of a database's `data_sources`: `{"id": "…", "name": "…"}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DataSourceRef {
    pub(crate) id: String,
}

impl Page {
    /// Whether it is in the trash.
    pub(crate) fn deleted(&self) -> bool {
        self.archived || self.in_trash
    }

    /// Its title: a database's `title`, else the page's `title` property; empty when it has
    /// none.
    pub(crate) fn title(&self) -> String {
        if let Some(title) = &self.title {
            return plain(title);
        }
        self.properties
            .values()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("title"))
            .and_then(|p| p.get("title"))
            .map(|t| plain(&runs_of(t)))
            .unwrap_or_default()
    }

    /// Whether it is a row of a database (its properties are the database's columns).
    pub(crate) fn is_row(&self) -> bool {
        self.parent.kind == "database_id" || self.parent.kind == "data_source_id"
    }
}

/// One run of rich text: `text`, `mention` or `equation`, with its annotations and link.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RichText {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) plain_text: String,
    #[serde(default)]
    pub(crate) href: Option<String>,
    #[serde(default)]
    pub(crate) annotations: Annotations,
    #[serde(default)]
    pub(crate) mention: Option<Value>,
    #[serde(default)]
    pub(crate) equation: Option<Equation>,
}

/// The styles of a run.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Annotations {
    #[serde(default)]
    pub(crate) bold: bool,
    #[serde(default)]
    pub(crate) italic: bool,
    #[serde(default)]
    pub(crate) strikethrough: bool,
    #[serde(default)]
    pub(crate) code: bool,
}

/// An equation (a rich text run or a block): its KaTeX expression.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Equation {
    #[serde(default)]
    pub(crate) expression: String,
}

/// The rich text runs in `v` (an array of them), read in place; none when it is not one.
pub(crate) fn runs_of(v: &Value) -> Vec<RichText> {
    Vec::<RichText>::deserialize(v).unwrap_or_default()
}

/// The text of runs, without styles.
pub(crate) fn plain(runs: &[RichText]) -> String {
    runs.iter().map(|r| r.plain_text.as_str()).collect()
}

/// A block as listed by `GET /v1/blocks/{id}/children`: its id, type, whether it has
/// children, and the object under its type's key (`"paragraph": {...}`).
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub(crate) id: String,
    /// `type`.
    pub(crate) kind: String,
    pub(crate) has_children: bool,
    pub(crate) last_edited_time: Option<DateTime<Utc>>,
    pub(crate) archived: bool,
    pub(crate) in_trash: bool,
    pub(crate) parent: Option<Parent>,
    /// Everything else, the type's object among it (the fields every block has that the
    /// connector does not read are left out).
    pub(crate) rest: Map<String, Value>,
}

/// Read field by field (rather than with `#[serde(flatten)]`, which buffers the whole block
/// once more): the fields above typed, the common ones the connector does not read skipped,
/// any other key (the type's object) kept as JSON.
impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BlockVisitor(PhantomData<Block>);
        impl<'de> Visitor<'de> for BlockVisitor {
            type Value = Block;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Notion block")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Block, A::Error> {
                let (mut id, mut kind) = (None, None);
                let mut block = Block {
                    id: String::new(),
                    kind: String::new(),
                    has_children: false,
                    last_edited_time: None,
                    archived: false,
                    in_trash: false,
                    parent: None,
                    rest: Map::new(),
                };
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "id" => id = Some(map.next_value::<String>()?),
                        "type" => kind = Some(map.next_value::<String>()?),
                        "has_children" => {
                            block.has_children = map.next_value::<Option<bool>>()?.unwrap_or(false);
                        }
                        "last_edited_time" => block.last_edited_time = map.next_value()?,
                        "archived" => {
                            block.archived = map.next_value::<Option<bool>>()?.unwrap_or(false);
                        }
                        "in_trash" => {
                            block.in_trash = map.next_value::<Option<bool>>()?.unwrap_or(false);
                        }
                        "parent" => block.parent = map.next_value()?,
                        "object" | "created_time" | "created_by" | "last_edited_by"
                        | "request_id" => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        other => {
                            let other = other.to_owned();
                            block.rest.insert(other, map.next_value::<Value>()?);
                        }
                    }
                }
                block.id = id.ok_or_else(|| serde::de::Error::missing_field("id"))?;
                block.kind = kind.ok_or_else(|| serde::de::Error::missing_field("type"))?;
                Ok(block)
            }
        }
        d.deserialize_map(BlockVisitor(PhantomData))
    }
}

impl Block {
    /// The object under the block's type key (empty when missing).
    pub(crate) fn body(&self) -> &Value {
        self.rest.get(&self.kind).unwrap_or(&Value::Null)
    }

    /// The block's `rich_text` (or `caption` when `key` says so).
    pub(crate) fn runs(&self, key: &str) -> Vec<RichText> {
        self.body().get(key).map(runs_of).unwrap_or_default()
    }

    /// Whether its children are a page or database of their own (read as their own
    /// documents, not as part of this page).
    pub(crate) fn is_child_object(&self) -> bool {
        matches!(self.kind.as_str(), "child_page" | "child_database")
    }

    /// Whether it is a file block whose file becomes a document.
    pub(crate) fn is_file(&self) -> bool {
        FILE_BLOCKS.contains(&self.kind.as_str())
    }

    /// A file block's URL and whether Notion hosts it (an expiring `file` URL) rather than
    /// linking it (`external`).
    pub(crate) fn file_url(&self) -> Option<(String, bool)> {
        let body = self.body();
        let kind = body.get("type").and_then(Value::as_str)?;
        let url = body.get(kind)?.get("url")?.as_str()?.to_owned();
        Some((url, kind == "file"))
    }

    /// A file block's name: its `name`, else the last segment of its URL's path, else
    /// `notion_file_{id}`.
    pub(crate) fn file_name(&self) -> String {
        if let Some(name) = self
            .body()
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
        {
            return name.to_owned();
        }
        self.file_url()
            .and_then(|(u, _)| url::Url::parse(&u).ok())
            .and_then(|u| {
                u.path_segments()
                    .and_then(|mut s| s.next_back().map(str::to_owned))
            })
            .map(|s| {
                percent_encoding::percent_decode_str(&s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("notion_file_{}", self.id))
    }
}

/// The block types that hold a file.
pub(crate) const FILE_BLOCKS: &[&str] = &["file", "image", "pdf", "video", "audio"];

/// Notion's error body: `{"object": "error", "status": 429, "code": "rate_limited",
/// "message": "…", "request_id": "…"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_placed_in_its_database_through_its_data_source() {
        let parent: Parent = serde_json::from_value(serde_json::json!({
            "type": "data_source_id",
            "data_source_id": "248104cd-477e-80af-bc30-000bd28de8f9",
            "database_id": "d9824bdc-8445-4327-be8b-5b47500af6ce",
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parent.target(),
            Some(("database", "d9824bdc-8445-4327-be8b-5b47500af6ce"))
        );
        let only_source: Parent = serde_json::from_value(serde_json::json!({
            "type": "data_source_id",
            "data_source_id": "248104cd-477e-80af-bc30-000bd28de8f9",
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            only_source.target(),
            Some(("data_source", "248104cd-477e-80af-bc30-000bd28de8f9"))
        );
    }
}
