//! The file names ADF `media` nodes show, when the search leaves `mediaApiFileId` out.
//!
//! A media node names a Media Services file (`attrs.id`); Jira gives each attachment's file
//! id as `mediaApiFileId`, a field Atlassian documents on `AttachmentMetadata`
//! (`GET /rest/api/3/attachment/{id}`) and which search results may not carry. So when an
//! issue's description or comments show a media node that no attachment's id names, and some
//! of its attachments came without one, their metadata is read: one request per such
//! attachment, a few at a time, only for issues being fetched (never for unchanged ones) and
//! only for those that need it. The request goes under the API root, so through the
//! Atlassian gateway when the connector uses it, as downloads do. A lookup that fails leaves
//! that attachment unnamed (a debug line); the node is then shown by its `alt`, else as
//! `[attachment]`, as without the lookup, and the issue never fails for it.

use std::collections::HashSet;

use futures::StreamExt;

use super::adf::{self, MediaNames};
use super::client::JiraClient;
use super::convert::{Options, media_names};
use super::model::{Comment, Issue};

/// Attachment metadata lookups of one issue in flight at once.
const LOOKUP_CONCURRENCY: usize = 4;

/// The file names of `issue`'s attachments by Media Services id: those the search gave and,
/// when the issue's ADF (description, and the `comments` that are shown) names a file no
/// attachment's id names, those read from the metadata of the attachments that came without
/// an id.
pub(crate) async fn names(
    client: &JiraClient,
    issue: &Issue,
    comments: &[Comment],
    options: &Options,
) -> MediaNames {
    let mut names = media_names(issue);
    let unnamed: Vec<&str> = issue
        .fields
        .attachment
        .iter()
        .filter(|a| {
            a.media_api_file_id
                .as_deref()
                .is_none_or(|m| m.trim().is_empty())
        })
        .map(|a| a.id.as_str())
        .collect();
    if unnamed.is_empty() || !shows_unknown_media(issue, comments, options, &names) {
        return names;
    }
    // The futures are made before they are streamed: a closure in the stream would have to
    // be `Send` for every lifetime, which the compiler cannot prove here.
    let lookups: Vec<_> = unnamed
        .into_iter()
        .map(|id| lookup(client, &issue.key, id))
        .collect();
    let found: Vec<(&str, Option<String>)> = futures::stream::iter(lookups)
        .buffer_unordered(LOOKUP_CONCURRENCY)
        .collect()
        .await;
    for (id, media) in found {
        let Some(media) = media.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()) else {
            continue;
        };
        if let Some(a) = issue.fields.attachment.iter().find(|a| a.id == id) {
            names.entry(media).or_insert_with(|| a.filename.clone());
        }
    }
    names
}

/// The media id of the attachment `id` of the issue `key`, with the attachment's id; `None`
/// when the lookup fails (a debug line: the node keeps its `alt`).
async fn lookup<'a>(client: &JiraClient, key: &str, id: &'a str) -> (&'a str, Option<String>) {
    match client.attachment_media_id(id).await {
        Ok(found) => (id, found),
        Err(e) => {
            tracing::debug!(key, attachment = id, error = %e, "an attachment's media id cannot be read; its media nodes keep their alt");
            (id, None)
        }
    }
}

/// Whether the ADF the issue's document shows (its description, its comments but those of
/// blacklisted authors) holds a media node whose file `names` does not know.
fn shows_unknown_media(
    issue: &Issue,
    comments: &[Comment],
    options: &Options,
    names: &MediaNames,
) -> bool {
    let shown = comments
        .iter()
        .filter(|c| !options.hidden(c))
        .filter_map(|c| c.body.as_ref());
    let bodies = issue.fields.description.iter().chain(shown);
    let ids: HashSet<String> = bodies
        .filter(|b| b.is_object())
        .flat_map(adf::media_file_ids)
        .collect();
    ids.iter().any(|id| !names.contains_key(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn issue(description: &Value, attachments: &Value) -> Issue {
        serde_json::from_value(json!({"id": "1", "key": "ENG-1", "fields": {
            "updated": "2026-01-15T10:00:00.000+0000",
            "description": description, "attachment": attachments
        }}))
        .unwrap()
    }

    fn options() -> Options {
        Options {
            ids: crate::jira::ids::DocIds::new(
                crate::jira::IdScheme::RagflowUrl,
                "https://j.local".into(),
            ),
            include_comments: true,
            blacklist: HashSet::from(["bot@example.com".to_owned()]),
            attachment_limit: 1,
            include_attachments: false,
            include_permissions: false,
            skip_secured: false,
        }
    }

    fn media(id: &str) -> Value {
        json!({"type": "doc", "content": [{"type": "mediaSingle", "content": [
            {"type": "media", "attrs": {"id": id, "type": "file", "collection": ""}}
        ]}]})
    }

    #[test]
    fn unknown_media_in_the_description_or_a_shown_comment() {
        let named = json!([{"id": "7", "filename": "a.png", "mediaApiFileId": "f-1"}]);
        let known = issue(&media("f-1"), &named);
        let names = media_names(&known);
        assert!(!shows_unknown_media(&known, &[], &options(), &names));
        let other = issue(&media("f-2"), &named);
        assert!(shows_unknown_media(&other, &[], &options(), &names));
        // Wiki markup (Server) has no media nodes.
        let wiki = issue(&json!("!a.png!"), &named);
        assert!(!shows_unknown_media(&wiki, &[], &options(), &names));

        let comment = |email: &str| -> Comment {
            serde_json::from_value(json!({"id": "3", "body": media("f-2"),
                "author": {"emailAddress": email}}))
            .unwrap()
        };
        assert!(shows_unknown_media(
            &known,
            &[comment("a@example.com")],
            &options(),
            &names
        ));
        // A blacklisted author's comment is not shown: its media need no name.
        assert!(!shows_unknown_media(
            &known,
            &[comment("bot@example.com")],
            &options(),
            &names
        ));
    }
}
