//! SharePoint lists (`include_lists`): the items of a site's lists that are not libraries
//! (custom lists, announcements, issue trackers, tasks, contacts, links), one Markdown
//! document per item with its columns as front matter.
//!
//! `GET sites/{id}/lists` (hidden lists and every library template left out: libraries are
//! read as drives, the Site Pages library as pages), then `GET
//! sites/{id}/lists/{list}/items?expand=fields` paged by `@odata.nextLink`. Access: each
//! item's own permissions (`GET sites/{id}/lists/{list}/items/{item}/permissions`, Graph
//! v1.0, in JSON batches like files'), so an item with unique permissions is read by those
//! alone; an item whose permissions cannot be read is readable by nobody (fail closed).
//!
//! **Permission changes without an edit** (s39 #4) reach a list item's document on the next
//! run without a window (or the item's next edit), never on a windowed run: the change
//! leaves the item's `lastModifiedDateTime` alone, and Graph offers lists nothing like the
//! round that finds such pages (a delta round of the Site Pages library from a timestamp
//! token with `Prefer: deltashowsharingchanges`, a driveItem delta feature): a list that is
//! not a library has no drive, and the list item delta (`GET
//! sites/{id}/lists/{list}/items/delta`, v1.0) documents only a `token` of an earlier round
//! (or `latest`), no timestamp token (a windowed run would have to keep a delta link per list,
//! the checkpoint growing with every list of the tenant), and no `Prefer` header for sharing
//! changes (so even that round is not said to list an item whose permissions alone changed).
//! Reading each item's permissions on every windowed run would cost what a full run does.

use chrono::{DateTime, Utc};
use connector_core::text::markdown::{Block, Inline, front_matter_into, render_into};
use connector_core::{Access, Document, Result};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::SOURCE;
use super::sites::{Site, site_segment};
use crate::graph::{GraphClient, IdentitySet, escape, with_authorship};

/// The fields of a list a sync reads.
const LIST_FIELDS: &str = "id,name,displayName,webUrl,list,lastModifiedDateTime";

/// Items a list page asks for (Graph's largest page of list items).
const ITEMS_PAGE: &str = "200";

/// Columns SharePoint adds to every list item that say nothing of it (ids, the content
/// type, link variants of the title, counts, UI state); as well as every column whose name
/// starts with `_` or `@` and the `…LookupId` twins of person columns.
const SYSTEM_COLUMNS: &[&str] = &[
    "ID",
    "id",
    "Title",
    "LinkTitle",
    "LinkTitleNoMenu",
    "ContentType",
    "Modified",
    "Created",
    "Attachments",
    "Edit",
    "ItemChildCount",
    "FolderChildCount",
    "DocIcon",
];

/// A list as `GET sites/{id}/lists` shows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SpList {
    pub(crate) id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    list: Option<ListInfo>,
}

#[derive(Debug, Clone, Deserialize)]
struct ListInfo {
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    hidden: Option<bool>,
}

impl SpList {
    /// The name a person knows the list by.
    fn shown(&self) -> &str {
        self.display_name
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.id)
    }

    /// A list of items: not hidden, and not a library of any template (`documentLibrary`,
    /// `pictureLibrary`, `webPageLibrary`, `assetLibrary`, …).
    fn of_items(&self) -> bool {
        let info = self.list.as_ref();
        let hidden = info.and_then(|i| i.hidden).unwrap_or(false);
        let library = info
            .and_then(|i| i.template.as_deref())
            .is_some_and(|t| t.to_ascii_lowercase().ends_with("library"));
        !hidden && !library
    }
}

/// A list item with its columns (`expand=fields`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListItem {
    pub(crate) id: String,
    #[serde(default)]
    e_tag: Option<String>,
    #[serde(default)]
    web_url: Option<Url>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    created_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) last_modified_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    created_by: Option<IdentitySet>,
    #[serde(default)]
    last_modified_by: Option<IdentitySet>,
    #[serde(default)]
    fields: Map<String, Value>,
}

/// The lists of items of `site`, in the order of their ids (a resumed run finds its place).
///
/// # Errors
/// As [`GraphClient::all`].
pub(crate) async fn lists(graph: &GraphClient, site: &Site) -> Result<Vec<SpList>> {
    let url = graph.url(
        &format!("sites/{}/lists", site_segment(&site.id)),
        &[("$select", LIST_FIELDS)],
    )?;
    let mut lists: Vec<SpList> = graph
        .all::<SpList>(&url)
        .await?
        .into_iter()
        .filter(SpList::of_items)
        .collect();
    lists.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(lists)
}

/// The first page of `list`'s items with their columns (`ids_only`: their ids alone).
///
/// # Errors
/// A URL that cannot be built.
pub(crate) fn items_url(
    graph: &GraphClient,
    site: &Site,
    list: &str,
    ids_only: bool,
) -> Result<Url> {
    let path = format!(
        "sites/{}/lists/{}/items",
        site_segment(&site.id),
        escape(list)
    );
    if ids_only {
        graph.url(&path, &[("$select", "id"), ("$top", ITEMS_PAGE)])
    } else {
        graph.url(&path, &[("expand", "fields"), ("$top", ITEMS_PAGE)])
    }
}

/// One item of `list` with its columns (`GET …/items/{id}?expand=fields`).
///
/// # Errors
/// A URL that cannot be built.
pub(crate) fn item_url(graph: &GraphClient, site: &str, list: &str, item: &str) -> Result<Url> {
    graph.url(
        &format!(
            "sites/{}/lists/{}/items/{}",
            site_segment(site),
            escape(list),
            escape(item)
        ),
        &[("expand", "fields")],
    )
}

/// The request of an item's permissions, for a JSON batch.
pub(crate) fn permissions_request(site: &str, list: &str, item: &str) -> String {
    format!(
        "sites/{}/lists/{}/items/{}/permissions",
        site_segment(site),
        escape(list),
        escape(item)
    )
}

/// The document id of an item: `sharepoint:list:{site id}:{list id}:{item id}`.
pub(crate) fn item_id(site: &str, list: &str, item: &str) -> String {
    format!("{SOURCE}:list:{site}:{list}:{item}")
}

/// The site, list and item of an item's document id.
pub(crate) fn parse_item_id(id: &str) -> Option<(&str, &str, &str)> {
    // Site ids hold commas, never colons; list ids are GUIDs, item ids numbers.
    let rest = id.strip_prefix(SOURCE)?.strip_prefix(":list:")?;
    let (rest, item) = rest.rsplit_once(':')?;
    let (site, list) = rest.rsplit_once(':')?;
    (!site.is_empty() && !list.is_empty() && !item.is_empty()).then_some((site, list, item))
}

/// The version an item's document carries: its `eTag` (else its time) and who may read it.
pub(crate) fn item_version(item: &ListItem, access: Option<&Access>) -> String {
    let tag = item.e_tag.clone().unwrap_or_else(|| {
        item.last_modified_date_time
            .map(|t| connector_core::time::rfc3339_offset(&t))
            .unwrap_or_default()
    });
    format!("{tag}|{}", crate::graph::drive_walk::access_hash(access))
}

/// Whether a column is one SharePoint adds to every item.
fn system_column(name: &str) -> bool {
    name.starts_with('_')
        || name.starts_with('@')
        || name.ends_with("LookupId")
        || SYSTEM_COLUMNS.contains(&name)
}

/// Whether a column's text is rich text (HTML), written as a section rather than front matter.
fn rich_text(value: &Value) -> Option<&str> {
    let text = value.as_str()?;
    let trimmed = text.trim_start();
    (trimmed.starts_with('<') && trimmed.contains("</")).then_some(text)
}

/// The document of `item` of `list` of `site`: the item's columns as front matter, its title
/// as a heading, and rich-text columns (an announcement's body, an issue's comments) as
/// sections in Markdown.
pub(crate) fn document(
    site: &Site,
    list: &SpList,
    item: &ListItem,
    access: Option<Access>,
) -> Document {
    let title = item
        .fields
        .get("Title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map_or_else(|| format!("{} #{}", list.shown(), item.id), str::to_owned);
    let mut columns: Vec<(&str, &Value)> = Vec::new();
    let mut sections: Vec<(&str, &str)> = Vec::new();
    for (name, value) in &item.fields {
        if system_column(name) || value.is_null() {
            continue;
        }
        match rich_text(value) {
            Some(html) => sections.push((name, html)),
            None => columns.push((name, value)),
        }
    }
    let list_name = Value::from(list.shown());
    let mut text = String::with_capacity(256);
    front_matter_into(
        &mut text,
        std::iter::once(("list", &list_name)).chain(columns.iter().copied()),
    );
    render_into(
        &mut text,
        &[Block::heading(1, vec![Inline::text(title.clone())])],
    );
    for (name, html) in sections {
        text.push_str("\n\n");
        render_into(&mut text, &[Block::heading(2, vec![Inline::text(name)])]);
        let md = connector_core::text::html_to_markdown(html);
        if !md.trim().is_empty() {
            text.push_str("\n\n");
            text.push_str(md.trim());
        }
    }
    let mut doc = Document::text_with_version(
        item_id(&site.id, &list.id, &item.id),
        SOURCE,
        title,
        text,
        &item_version(item, access.as_ref()),
    )
    .with_metadata("site_id", site.id.clone())
    .with_metadata("site", site.shown())
    .with_metadata("list_id", list.id.clone())
    .with_metadata("list", list.shown().to_owned())
    .with_metadata("item_id", item.id.clone())
    .with_metadata("kind", "list_item");
    if let Some(link) = item.web_url.clone() {
        doc = doc.with_link(link);
    }
    if let Some(t) = item.last_modified_date_time {
        doc = doc.with_updated_at(t);
    }
    doc = with_authorship(
        doc,
        item.created_date_time,
        item.created_by.as_ref(),
        item.last_modified_by.as_ref(),
    );
    if let Some(access) = access {
        doc = doc.with_access(access);
    }
    doc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn item_ids_round_trip() {
        let site = "contoso.sharepoint.com,1b2c,7f8e";
        let id = item_id(site, "5a7f-01", "12");
        assert_eq!(parse_item_id(&id), Some((site, "5a7f-01", "12")));
        assert_eq!(parse_item_id("sharepoint:page:x:y"), None);
        assert_eq!(parse_item_id("sharepoint:list::l:1"), None);
    }

    #[test]
    fn libraries_and_hidden_lists_are_not_lists_of_items() {
        let list = |template: &str, hidden: bool| SpList {
            id: "l".into(),
            name: None,
            display_name: None,
            list: Some(ListInfo {
                template: Some(template.into()),
                hidden: Some(hidden),
            }),
        };
        assert!(list("genericList", false).of_items());
        assert!(list("announcements", false).of_items());
        assert!(list("issueTracking", false).of_items());
        assert!(!list("documentLibrary", false).of_items());
        assert!(!list("webPageLibrary", false).of_items());
        assert!(!list("pictureLibrary", false).of_items());
        assert!(!list("genericList", true).of_items());
    }
}
