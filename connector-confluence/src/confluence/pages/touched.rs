//! The second pass of an incremental run: pages whose comments or attachments changed in the
//! window.
//!
//! The page search selects pages by their own `lastmodified`, which a new comment, an edited
//! comment or a new attachment version does not change. So an incremental run also searches
//! comments and attachments by their `lastmodified` (`type in (comment, attachment)`, from
//! the window's start, end open, filtered exactly on `version.when`), maps each to the page it
//! is on (`container`), and delivers those pages again through the selection (`id in (...)`
//! added to it), rendered with their comments and with their attachments. Cost: one request
//! per `limit` changed comments and attachments, and per page of them one search for the
//! pages (with their comment search).

use std::collections::HashSet;

use connector_core::TimeWindow;
use serde_json::Value;

use super::search::cql_string;
use super::{SOURCE, Settings};
use crate::confluence::model::{Content, Paged};

/// What the search for changed comments and attachments expands: the page each is on and
/// its version (for the exact window).
const EXPAND: &str = "container,version";

impl Settings {
    /// The first request of the search for comments (and, when attachments are taken,
    /// attachments) changed since `since` (the window's start as CQL text), in the configured space if there is
    /// one; other scopes are applied when the pages are searched by id.
    pub(super) fn touched_search(&self, since: &str) -> String {
        let types = if self.attachments.is_some() {
            "type in (comment, attachment)"
        } else {
            "type = comment"
        };
        let mut cql = format!("{types} and lastmodified >= \"{since}\"");
        if let Some(space) = &self.space {
            cql.push_str(&format!(" and space = {}", cql_string(space)));
        }
        cql.push_str(" order by created asc");
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.extend_pairs([
            ("cql", cql.as_str()),
            ("limit", &self.page_size.to_string()),
            ("start", "0"),
            ("expand", EXPAND),
        ]);
        if self.archived_param() {
            query.append_pair("includeArchivedSpaces", "true");
        }
        let query = query.finish();
        format!("/rest/api/content/search?{query}")
    }

    /// The selection narrowed to the pages `ids`.
    pub(super) fn cql_of_ids(&self, ids: &[String]) -> String {
        format!(
            "{} and id in ({}) order by created asc",
            self.selection,
            ids.join(", ")
        )
    }
}

/// The pages the changed comments and attachments of `page` are on, those changed within
/// `window` only, each once per run (`seen`).
pub(super) fn containers(
    page: Paged<Value>,
    window: TimeWindow,
    seen: &mut HashSet<String>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for value in page.results {
        let item = match serde_json::from_value::<Content>(value) {
            Ok(item) => item,
            Err(e) => {
                tracing::warn!(connector = SOURCE, error = %e, "skipping an unreadable comment or attachment");
                continue;
            }
        };
        if !item.when().is_some_and(|t| window.contains(t)) {
            continue;
        }
        let Some(page) = item.container.map(|c| c.id) else {
            continue;
        };
        // Content ids are numbers; anything else would not belong in the CQL.
        if !page.is_empty() && page.chars().all(|c| c.is_ascii_digit()) && seen.insert(page.clone())
        {
            ids.push(page);
        }
    }
    ids
}
