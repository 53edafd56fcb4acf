//! Comments: every comment of the pages of a result page, replies and inline comments
//! included, from one CQL search, and the order they are rendered in (threads).
//!
//! Confluence Cloud's `child/comment` (and the `children.comment` expansion) return root
//! comments only: Cloud ignores the `depth` parameter, and Server/Data Center needs
//! `depth=all`. A CQL search for `type = comment` and the pages as containers returns every
//! comment of those pages at any depth, footer and inline, with the comment each one replies
//! to in its `ancestors` and the text an inline comment is anchored to in
//! `extensions.inlineProperties.originalSelection`.
//!
//! Cost: one search request per [`CONTAINERS_PER_SEARCH`] pages of a result page, plus one
//! per further page of comments (as many comments per request as the service gives).

use std::collections::{HashMap, HashSet};

use connector_core::Result;
use futures::TryStreamExt;
use serde_json::Value;

use super::SOURCE;
use super::client::Client;
use super::model::Content;

/// Pages named in one comment search: keeps the CQL (and the URL) a few kilobytes long.
pub(crate) const CONTAINERS_PER_SEARCH: usize = 50;

/// Comments asked for per request.
const COMMENTS_PER_REQUEST: u32 = 100;

/// What a comment search expands: the body, the version (author, date), the page it is on,
/// the comments it replies to, and an inline comment's anchor text.
const COMMENT_EXPAND: &str =
    "body.storage,version,history,container,ancestors,extensions.inlineProperties";

/// Every comment on the pages `ids`, by the id of the page (in creation order within each).
///
/// # Errors
/// The search's errors; the caller decides what they do to the pages.
/// `archived`: send `includeArchivedSpaces=true` (Server/Data Center with `include_archived`:
/// its search leaves archived spaces out otherwise, comments included).
pub(crate) async fn of_pages(
    client: &Client,
    ids: &[&str],
    archived: bool,
) -> Result<HashMap<String, Vec<Content>>> {
    let mut by_page: HashMap<String, Vec<Content>> = HashMap::new();
    for chunk in ids.chunks(CONTAINERS_PER_SEARCH) {
        let containers: Vec<String> = chunk.iter().map(|id| format!("container = {id}")).collect();
        // `or` of `=` clauses: CQL documents `container in (...)` for Server/Data Center
        // only, and `=` works on both.
        let cql = format!(
            "type = comment and ({}) order by created asc",
            containers.join(" or ")
        );
        let limit = COMMENTS_PER_REQUEST.to_string();
        let mut pairs = vec![
            ("cql", cql.as_str()),
            ("limit", limit.as_str()),
            ("start", "0"),
            ("expand", COMMENT_EXPAND),
        ];
        if archived {
            pairs.push(("includeArchivedSpaces", "true"));
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let pages: Vec<_> = client
            .pages(format!("/rest/api/content/search?{query}"))
            .try_collect()
            .await?;
        // An offset walk that lost its place and restarted may bring a comment twice.
        let mut seen = HashSet::new();
        for page in pages {
            for value in page.items.results {
                if let Some((page_id, comment)) = read(value)
                    && seen.insert(comment.id.clone())
                {
                    by_page.entry(page_id).or_default().push(comment);
                }
            }
        }
    }
    Ok(by_page)
}

/// A comment search result with the id of the page it is on; `None` (logged) when it cannot
/// be read or names no container.
fn read(value: Value) -> Option<(String, Content)> {
    match serde_json::from_value::<Content>(value) {
        Ok(comment) => match comment.container.as_ref().map(|c| c.id.clone()) {
            Some(page) if !page.is_empty() => Some((page, comment)),
            _ => {
                tracing::warn!(connector = SOURCE, comment = %comment.id, "skipping a comment that names no page");
                None
            }
        },
        Err(e) => {
            tracing::warn!(connector = SOURCE, error = %e, "skipping an unreadable comment");
            None
        }
    }
}

/// The comment a comment replies to: the last of its `ancestors`, when that one is among
/// `known`.
fn parent<'a>(comment: &'a Content, known: &HashSet<&str>) -> Option<&'a str> {
    comment
        .ancestors
        .last()
        .map(|a| a.id.as_str())
        .filter(|id| known.contains(id))
}

/// A comment in rendering order, with the comment it replies to.
#[derive(Debug)]
pub(crate) struct Placed<'a> {
    pub(crate) comment: &'a Content,
    pub(crate) reply_to: Option<&'a Content>,
}

/// `comments` in threads: each root comment (footer and inline, in the order given: creation)
/// followed by its replies, depth first, each reply after the one it answers. A reply whose
/// parent is not among `comments` (deleted, or hidden from the credentials) is a root.
pub(crate) fn threads(comments: &[Content]) -> Vec<Placed<'_>> {
    let known: HashSet<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    let by_id: HashMap<&str, &Content> = comments.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut replies: HashMap<&str, Vec<&Content>> = HashMap::new();
    let mut roots = Vec::new();
    for c in comments {
        match parent(c, &known) {
            Some(p) if p != c.id => replies.entry(p).or_default().push(c),
            _ => roots.push(c),
        }
    }
    let mut out = Vec::with_capacity(comments.len());
    let mut seen: HashSet<&str> = HashSet::new();
    // Depth first without recursion: a stack of comments still to place, in reverse order.
    let mut stack: Vec<&Content> = roots.into_iter().rev().collect();
    while let Some(c) = stack.pop() {
        // A cycle in `ancestors` (a malformed answer) must not loop.
        if !seen.insert(c.id.as_str()) {
            continue;
        }
        let reply_to = parent(c, &known).and_then(|p| by_id.get(p).copied());
        out.push(Placed {
            comment: c,
            reply_to: reply_to.filter(|p| p.id != c.id),
        });
        if let Some(children) = replies.get(c.id.as_str()) {
            stack.extend(children.iter().rev());
        }
    }
    // Comments caught in a cycle (never reached from a root) still count.
    for c in comments {
        if !seen.contains(c.id.as_str()) {
            out.push(Placed {
                comment: c,
                reply_to: None,
            });
        }
    }
    out
}

/// The text an inline comment is anchored to, if it is one and says.
pub(crate) fn anchor(comment: &Content) -> Option<&str> {
    comment
        .extensions
        .as_ref()
        .and_then(|e| e.inline_properties.as_ref())
        .and_then(|p| p.original_selection.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn comment(id: &str, parents: &[&str]) -> Content {
        let ancestors: Vec<Value> = parents.iter().map(|p| json!({"id": p})).collect();
        serde_json::from_value(json!({"id": id, "type": "comment", "ancestors": ancestors}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn replies_follow_what_they_answer() {
        let all = vec![
            comment("1", &[]),
            comment("2", &[]),
            comment("3", &["1"]),
            comment("4", &["1", "3"]),
            comment("5", &["1"]),
            comment("6", &["gone"]),
        ];
        let order: Vec<(&str, Option<&str>)> = threads(&all)
            .iter()
            .map(|p| (p.comment.id.as_str(), p.reply_to.map(|r| r.id.as_str())))
            .collect();
        assert_eq!(
            order,
            [
                ("1", None),
                ("3", Some("1")),
                ("4", Some("3")),
                ("5", Some("1")),
                ("2", None),
                ("6", None),
            ]
        );
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let all = vec![comment("1", &["2"]), comment("2", &["1"])];
        assert_eq!(threads(&all).len(), 2);
    }
}
