//! Images Teams holds (`include_images`): a picture pasted into a message is a hosted content
//! of that message (`<img src="…/messages/{id}/hostedContents/{hosted id}/$value">`), which only
//! the app's token can open. Each becomes a document of its own with its bytes (for the host's
//! OCR or captions), its thread as `parent_id` and the thread's channel access; the thread's
//! Markdown keeps its link.
//!
//! Bytes come from `GET /teams/{team}/channels/{channel}/messages/{id}/hostedContents/{hosted
//! id}/$value` (a reply: `…/messages/{root}/replies/{id}/hostedContents/…`), built from the ids
//! rather than taken from the `src` (whose host is Graph's global one whatever the cloud).
//! Ids: `{thread id}__image__{message id}__{hosted id}`; a hosted content never changes, so
//! the version is its id (and the channel's access).

use connector_core::pages::{Outcome, item_failure};
use connector_core::{Document, Failure, Result};

use super::SOURCE;
use super::convert::{ChannelInfo, thread_id};
use super::model::ChatMessage;
use crate::graph::{GraphClient, escape};

/// The largest image read, in bytes (Teams keeps pasted pictures far under it).
pub(crate) const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// What separates a thread's id from its images' ids.
const MARK: &str = "__image__";

/// The hosted-content ids of the images in `m`'s body, in order, each once.
pub(crate) fn hosted_ids(m: &ChatMessage) -> Vec<String> {
    let Some(html) = m.body.as_ref().and_then(|b| b.content.as_deref()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for (at, _) in html.match_indices("/hostedContents/") {
        let rest = &html[at + "/hostedContents/".len()..];
        let id: String = rest
            .chars()
            .take_while(|c| !matches!(c, '/' | '"' | '\'' | '?' | ' ' | '>'))
            .collect();
        if !id.is_empty() && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The document id of image `hosted` of message `message` in thread `thread`.
pub(crate) fn image_id(thread: &str, message: &str, hosted: &str) -> String {
    format!("{thread}{MARK}{message}__{hosted}")
}

/// The thread an image's document id belongs to; `None` for any other id.
pub(crate) fn thread_of_image(id: &str) -> Option<&str> {
    id.split_once(MARK).map(|(thread, _)| thread)
}

/// The shown messages of a thread: the root (unless deleted) and its replies.
fn shown<'a>(
    root: &'a ChatMessage,
    replies: &'a [ChatMessage],
) -> impl Iterator<Item = &'a ChatMessage> {
    std::iter::once(root)
        .chain(replies)
        .filter(|m| m.is_shown())
}

/// The document ids of the images of a thread of channel `channel` of team `team`, its
/// replies inside (its id listing).
pub(crate) fn image_ids(team: &str, channel: &str, root: &ChatMessage) -> Vec<String> {
    let thread = thread_id(team, channel, &root.id);
    shown(root, &root.replies)
        .flat_map(|m| {
            hosted_ids(m)
                .into_iter()
                .map(|h| image_id(&thread, &m.id, &h))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `png` for `image/png`, and the like; `None` for another type.
fn extension(mime: &str) -> Option<String> {
    let sub = mime.strip_prefix("image/")?.split(';').next()?.trim();
    Some(match sub {
        "jpeg" | "pjpeg" => "jpg".to_owned(),
        "svg+xml" => "svg".to_owned(),
        other => other.to_owned(),
    })
}

/// Each image of a thread as its document, or its failure (too large, not readable).
///
/// # Errors
/// What ends the sync (cancellation, credentials refused).
pub(crate) async fn images(
    graph: &GraphClient,
    info: &ChannelInfo,
    root: &ChatMessage,
    replies: &[ChatMessage],
    title: &str,
) -> Result<Vec<Outcome>> {
    let thread = thread_id(&info.team_id, &info.channel_id, &root.id);
    let base = format!(
        "teams/{}/channels/{}/messages/{}",
        escape(&info.team_id),
        escape(&info.channel_id),
        escape(&root.id)
    );
    let mut out = Vec::new();
    for m in shown(root, replies) {
        let hosted = hosted_ids(m);
        for (n, h) in hosted.iter().enumerate() {
            let id = image_id(&thread, &m.id, h);
            let path = if m.id == root.id {
                format!("{base}/hostedContents/{}/$value", escape(h))
            } else {
                format!(
                    "{base}/replies/{}/hostedContents/{}/$value",
                    escape(&m.id),
                    escape(h)
                )
            };
            let url = graph.url(&path, &[])?;
            let resp = match graph
                .send(&url, |r| r.max_body_bytes(MAX_IMAGE_BYTES))
                .await
            {
                Ok(resp) => resp,
                Err(e) => {
                    let failure: Failure = item_failure(id, e)?;
                    out.push(failure.into());
                    continue;
                }
            };
            let mime = resp
                .header("content-type")
                .map_or("application/octet-stream", |m| {
                    m.split(';').next().unwrap_or(m).trim()
                })
                .to_owned();
            let ext = extension(&mime);
            let mut doc = Document::bytes(
                id,
                SOURCE,
                format!("Image {} of a message in {title}", n + 1),
                Vec::from(resp.into_body()),
                mime.clone(),
                ext,
            )
            .with_version(&format!("{h}|{}", info.access_hash()))
            .with_parent_id(thread.clone())
            .with_metadata("team", info.team_name.clone())
            .with_metadata("team_id", info.team_id.clone())
            .with_metadata("channel", info.channel_name.clone())
            .with_metadata("channel_id", info.channel_id.clone())
            .with_metadata("message_id", m.id.clone())
            .with_metadata("hosted_content_id", h.clone())
            .with_metadata("mime_type", mime)
            .with_owners(vec![m.author()]);
            if let Some(t) = m.created_date_time {
                doc = doc.with_updated_at(t);
            }
            if let Some(link) = m.web_url.clone().or_else(|| root.web_url.clone()) {
                doc = doc.with_link(link);
            }
            if let Some(access) = &info.access {
                doc = doc.with_access(access.clone());
            }
            out.push(doc.into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosted_contents_are_found_in_the_body_and_ids_name_their_thread() {
        let m: ChatMessage = serde_json::from_value(serde_json::json!({
            "id": "1616965872395",
            "body": {"contentType": "html", "content": "<p>see</p><img src=\"https://graph.microsoft.com/v1.0/teams/t/channels/c/messages/1616965872395/hostedContents/aWQ9eF8w/$value\" width=\"250\"><img src='https://graph.microsoft.com/v1.0/teams/t/channels/c/messages/1616965872395/hostedContents/aWQ9eF8w/$value'><img src=\"https://x/e.png\">"},
        }))
        .unwrap();
        assert_eq!(hosted_ids(&m), ["aWQ9eF8w"]);
        let id = image_id("t__c__1", "2", "aWQ9eF8w");
        assert_eq!(thread_of_image(&id), Some("t__c__1"));
        assert_eq!(thread_of_image("t__c__1"), None);
        assert_eq!(extension("image/jpeg").as_deref(), Some("jpg"));
        assert_eq!(extension("image/png; x=1").as_deref(), Some("png"));
        assert_eq!(extension("application/pdf"), None);
    }
}
