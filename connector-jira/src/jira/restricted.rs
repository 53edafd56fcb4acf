//! Comments restricted by a `visibility` (a group or a project role) or internal to Jira
//! Service Management's agents, and the attachments only they show.
//!
//! Such a comment is never written into its issue's document, which more people may read.
//! Without `include_permissions` it is left out (the issue's metadata counts it); with it, it
//! is a document of its own whose access is the comment's group or role narrowed to the
//! issue's readers. An attachment shown only by restricted comments (an ADF media node whose
//! id is its `mediaApiFileId` or whose `alt` is its file name; a wiki `!name!` or `[^name]`)
//! follows the first of them: left out, or indexed with that comment's access. An attachment
//! that the description or an open comment shows too is the issue's. An internal comment
//! without a `visibility` names no readers: it, and what only it shows, is always left out.
//!
//! Which attachments that is, is decided on the comments the search embeds with the issue, so
//! that the search page alone says which documents an issue has.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use connector_core::Document;
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;
use super::access::Principals;
use super::adf;
use super::adf::MediaNames;
use super::convert::{Options, parse_time, rich_text, time_text};
use super::model::{Comment, Issue};
use super::wiki;

/// Whether a comment is restricted: to a group or a role, or internal to Jira Service
/// Management's agents (which the customers who read the request must not see).
pub(crate) fn is_restricted(comment: &Comment) -> bool {
    comment.visibility.is_some() || comment.is_internal()
}

/// Whether an attachment that `shown_by` alone shows (when some restricted comment does) is
/// indexed: with `include_permissions`, when that comment names its readers (a
/// `visibility`). An internal JSM comment without one does not: who counts as an agent is
/// not in the permission data the connector reads, so it and what only it shows stay out.
pub(crate) fn indexes_attachment_shown_by(shown_by: Option<&Comment>, options: &Options) -> bool {
    shown_by.is_none_or(|c| options.include_permissions && c.visibility.is_some())
}

/// The file names and media ids a rich-text body shows.
fn refs(body: Option<&Value>) -> Vec<String> {
    match body {
        Some(Value::String(s)) => wiki::attachment_refs(s),
        Some(v @ Value::Object(_)) => adf::media_refs(v),
        _ => Vec::new(),
    }
}

/// The embedded comments of `issue`.
fn embedded(issue: &Issue) -> &[Comment] {
    issue
        .fields
        .comment
        .as_ref()
        .map_or(&[], |c| c.comments.as_slice())
}

/// The attachments (by id) shown only by restricted comments, each with the first of them.
pub(crate) fn restricted_attachments(issue: &Issue) -> HashMap<String, &Comment> {
    let comments = embedded(issue);
    if !comments.iter().any(is_restricted) {
        return HashMap::new();
    }
    let mut open: HashSet<String> = refs(issue.fields.description.as_ref())
        .into_iter()
        .collect();
    for c in comments.iter().filter(|c| !is_restricted(c)) {
        open.extend(refs(c.body.as_ref()));
    }
    let restricted: Vec<(&Comment, HashSet<String>)> = comments
        .iter()
        .filter(|c| is_restricted(c))
        .map(|c| (c, refs(c.body.as_ref()).into_iter().collect()))
        .collect();
    let mut out = HashMap::new();
    for a in &issue.fields.attachment {
        let names: Vec<&str> = std::iter::once(a.filename.as_str())
            .chain(a.media_api_file_id.as_deref())
            .collect();
        if names.iter().any(|n| open.contains(*n)) {
            continue;
        }
        if let Some((c, _)) = restricted
            .iter()
            .find(|(_, shown)| names.iter().any(|n| shown.contains(*n)))
        {
            out.insert(a.id.clone(), *c);
        }
    }
    out
}

/// The restricted comments that become documents of their own: with `include_permissions`
/// and `include_comments`, those with a `visibility`, not blacklisted and with an id.
pub(crate) fn comment_documents_of<'a>(
    comments: &'a [Comment],
    options: &Options,
) -> impl Iterator<Item = &'a Comment> {
    let wanted = options.include_permissions && options.include_comments;
    comments.iter().filter(move |c| {
        // An internal comment without a `visibility` names no readers: left out.
        wanted && c.visibility.is_some() && !options.hidden(c) && c.id.is_some()
    })
}

/// The id of a restricted comment's document (`None` for a comment without an id).
pub(crate) fn comment_doc_id(
    issue: &Issue,
    comment: &Comment,
    options: &Options,
) -> Option<String> {
    let id = comment.id.as_deref()?;
    Some(options.ids.comment(&issue.id, &issue.key, id))
}

/// A restricted comment as a document of its own, child of its issue, readable by `access`;
/// `media` names the files its ADF media nodes show.
pub(crate) fn comment_document(
    issue: &Issue,
    comment: &Comment,
    media: &MediaNames,
    options: &Options,
    access: &Principals,
) -> Option<Document> {
    let id = comment_doc_id(issue, comment, options)?;
    let comment_id = comment.id.clone().unwrap_or_default();
    let author = comment
        .author
        .as_ref()
        .and_then(|a| a.shown())
        .unwrap_or("Unknown");
    let when = comment
        .created
        .as_deref()
        .map(time_text)
        .unwrap_or_default();
    let visibility = comment.visibility.as_ref();
    let shown_to = visibility
        .map(|v| {
            let kind = if v.kind == "role" { "role" } else { "group" };
            format!("{kind} {}", v.value.as_deref().unwrap_or("?"))
        })
        .unwrap_or_default();
    let summary = issue.fields.summary.clone().unwrap_or_default();
    let mut text = format!("# {}: {summary}\n\n", issue.key);
    let _ = write!(
        text,
        "## Comment by {author} ({when}), restricted to {shown_to}\n\n"
    );
    text.push_str(&rich_text(comment.body.as_ref(), media));
    text.push('\n');
    let updated = comment
        .updated
        .as_deref()
        .or(comment.created.as_deref())
        .unwrap_or_default();
    let version = comment_version(updated, &comment_id, options, access);
    let mut doc = Document::text_with_version(
        id,
        SOURCE,
        format!("{}: comment by {author}", issue.key),
        text,
        &version,
    )
    .with_parent_id(options.ids.issue(&issue.id, &issue.key))
    .with_metadata("issue_key", issue.key.clone())
    .with_metadata("comment_id", comment_id.clone())
    .with_metadata("visibility", json!(shown_to))
    .with_access(access.to_access());
    if let Some(t) = parse_time(updated) {
        doc = doc.with_updated_at(t);
    }
    if let Some(owner) = comment.author.as_ref().and_then(|u| u.owner()) {
        doc = doc.with_owners(vec![owner.to_owned()]);
    }
    let link = format!(
        "{}?focusedCommentId={comment_id}",
        options.ids.browse(&issue.key)
    );
    if let Ok(link) = Url::parse(&link) {
        doc = doc.with_link(link);
    }
    Some(doc)
}

/// The version token of a restricted comment's document, with a hash of its readers so that
/// narrowing them delivers it again.
fn comment_version(updated: &str, id: &str, options: &Options, access: &Principals) -> String {
    format!(
        "comment:{id}:{updated}:{}:a{}",
        options.token(),
        access.short_hash()
    )
}
