//! One message's outcomes: its document, its attachments (listed without their bytes, the
//! size cap checked before any download, small files in JSON batches, the rest raw), and what
//! a round's `@removed` entries mean for the documents.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use connector_core::pages::{IntoOutcomes, KnownFingerprints, Outcome, PendingItem};
use connector_core::{Batch, Document, ErrorKind, Failure, Result, SyncContext};

use super::SOURCE;
use super::convert::{
    Place, attachment_doc_id, attachment_document, encrypted, message_doc_id, message_document,
    oversize,
};
use super::mailbox::{Folder, Mailbox, Reader};
use super::model::{ATTACHMENT_FIELDS, Attachment, AttachmentKind, Meeting, Message};
use crate::graph::escape;

/// File attachments up to this size come as `contentBytes` in JSON batches of 20; larger ones
/// (and item attachments) by `/$value`, raw, one request each.
const BATCHED_ATTACHMENT: u64 = 256 * 1024;

/// What a message's fetch needs.
pub(super) struct Item {
    /// The message's document id (the pending item's, which core keeps to name a failure).
    id: String,
    mailbox: Arc<Mailbox>,
    folder: Arc<Folder>,
    message: Box<Message>,
    /// The message's version in its folder, hashed once per listing.
    version: String,
    /// Asked for by a refetch: delivered whatever the store holds.
    pub(super) refetch: bool,
}

/// The message's place, borrowed from its item.
fn place<'a>(mailbox: &'a Mailbox, folder: &'a Folder) -> Place<'a> {
    Place {
        user: &mailbox.id,
        owner: &mailbox.address,
        readers: &mailbox.readers,
        folder: &folder.path,
    }
}

/// The document ids to delete for the messages a round reported removed from a folder, asked
/// in one JSON batch where each is now: gone from the mailbox (deleted for good), its
/// document; in a folder this source does not read (Deleted Items, Junk Email, a folder left
/// out), its document and its attachments' (listed, the message being still there); in a
/// folder this source reads, nothing (that folder's round delivers it, in this run or, if
/// that round is already done, in the next). A message whose state Graph will not say is left
/// to prune. The attachments of a message deleted for good cannot be listed any more: they
/// are the stored documents whose parent is its document (one [`ChildLookup`] call for the
/// page).
///
/// [`ChildLookup`]: connector_core::ChildLookup
pub(super) async fn gone(
    reader: &Reader,
    ctx: &SyncContext,
    mailbox: &Mailbox,
    read: &HashSet<String>,
    removed: &[String],
) -> Result<Vec<String>> {
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<String> = removed
        .iter()
        .map(|m| {
            format!(
                "users/{}/messages/{}?$select=id,parentFolderId,hasAttachments",
                escape(&mailbox.id),
                escape(m)
            )
        })
        .collect();
    let mut out = Vec::new();
    let mut deleted = Vec::new();
    for (m, answer) in removed
        .iter()
        .zip(reader.batch_get::<Message>(&paths).await?)
    {
        let id = message_doc_id(&mailbox.id, m);
        match answer {
            Ok(None) => deleted.push(id),
            Ok(Some(now)) => {
                if now
                    .parent_folder_id
                    .as_deref()
                    .is_some_and(|f| read.contains(f))
                {
                    continue;
                }
                if reader.lists_attachments(&now) {
                    for a in list_attachments(reader, &mailbox.id, m).await? {
                        if a.kind() != AttachmentKind::Reference {
                            out.push(attachment_doc_id(&id, &a.id));
                        }
                    }
                }
                out.push(id);
            }
            Err(e) if e.kind().ends_sync() => return Err(e),
            Err(e) => tracing::warn!(
                connector = SOURCE,
                message = id.as_str(),
                "a message removed from its folder could not be looked up; left to prune: {e}"
            ),
        }
    }
    if !deleted.is_empty() {
        out.extend(ctx.children().children(&deleted).await?);
        out.append(&mut deleted);
    }
    Ok(out)
}

/// A message as a page item with its version (a hash of what its document shows, and its folder). A message without
/// attachments to read is skipped by that version alone; one with attachments is always
/// taken, and its fetch reports it and each attachment unchanged by their versions after
/// listing them (one small request), so every id is accounted for.
pub(super) fn pending_item(
    reader: &Reader,
    mailbox: &Arc<Mailbox>,
    folder: &Arc<Folder>,
    message: Message,
) -> PendingItem<std::result::Result<Item, Failure>> {
    let id = message_doc_id(&mailbox.id, &message.id);
    let version = message.version_in(&folder.path);
    let with_attachments = reader.lists_attachments(&message);
    let fingerprint =
        (!with_attachments).then(|| connector_core::Document::version_fingerprint(&version));
    let item = PendingItem::new(
        id.clone(),
        Ok(Item {
            id,
            mailbox: Arc::clone(mailbox),
            folder: Arc::clone(folder),
            message: Box::new(message),
            version,
            refetch: false,
        }),
    );
    match fingerprint {
        Some(fingerprint) => item.with_fingerprint(fingerprint),
        None => item,
    }
}

/// One message's outcomes: its document, then its attachments' documents, unchanged ids or
/// failures. A message whose attachments cannot be listed is the message's failure (retried
/// whole by the next run).
///
/// The requests of the rarer messages (a meeting's, attachments') are awaited in boxed
/// futures: their futures are large (an HTTP exchange each), and this one is built and moved
/// into the page's fetches for every message of a page; unboxed, it carried all of them, a
/// few KiB copied several times per message.
pub(super) async fn fetch(
    reader: &Reader,
    ctx: &SyncContext,
    item: std::result::Result<Item, Failure>,
) -> Result<Fetched> {
    let mut item = match item {
        Ok(item) => item,
        Err(failure) => return Ok(Fetched::Many(vec![failure.into()])),
    };
    if reader.lists_attachments(&item.message) {
        return Box::pin(with_attachments(reader, ctx, item)).await;
    }
    if needs_meeting(&item.message) {
        Box::pin(with_meeting(reader, &item.mailbox.id, &mut item.message)).await?;
    }
    let place = place(&item.mailbox, &item.folder);
    Ok(Fetched::One(message_document(
        &place,
        item.id,
        *item.message,
        &item.version,
    )))
}

/// [`fetch`] of a message whose attachments are listed.
async fn with_attachments(reader: &Reader, ctx: &SyncContext, item: Item) -> Result<Fetched> {
    let id = item.id;
    let place = place(&item.mailbox, &item.folder);
    let mut message = *item.message;
    let listed = list_attachments(reader, &item.mailbox.id, &message.id).await?;
    let references: Vec<String> = listed
        .iter()
        .filter(|a| a.kind() == AttachmentKind::Reference)
        .map(Attachment::shown_name)
        .collect();
    let wanted: Vec<Attachment> = listed
        .into_iter()
        .filter(|a| a.kind() != AttachmentKind::Reference)
        .collect();
    // One lookup for the message and its attachments.
    let mut ids: Vec<String> = wanted
        .iter()
        .map(|a| attachment_doc_id(&id, &a.id))
        .collect();
    ids.push(id.clone());
    let known = if item.refetch {
        KnownFingerprints::default()
    } else {
        // With the stored parents: an attachment stored before parents were kept (or the
        // message under another conversation) is produced again so that its parent is
        // recorded (not delivered again: its version is unchanged), else a message deleted
        // for good would leave it in the index.
        KnownFingerprints::lookup_with_parents(ctx, &ids).await?
    };
    ids.pop();
    let unchanged = known.has_version_under(&id, &item.version, message.conversation_id.as_deref());
    if !unchanged {
        with_meeting(reader, place.user, &mut message).await?;
    }
    // The attachments first (the same requests in the same order: the message's document
    // makes none), so that the message then moves into its document.
    let rest = attachments(reader, &known, &place, &message, wanted, ids).await?;
    let mut out = Vec::with_capacity(1 + rest.len());
    out.push(if unchanged {
        Outcome::Unchanged(id)
    } else {
        let mut doc = message_document(&place, id, message, &item.version);
        if !references.is_empty() {
            // Links to OneDrive or SharePoint files: no bytes here; those sources read them.
            doc = doc.with_metadata("reference_attachments", references);
        }
        doc.into()
    });
    out.extend(rest);
    Ok(Fetched::Many(out))
}

/// A message's outcomes: its document alone (the usual message, whose attachments are not
/// listed: no vector nor box made for it), or those of a message and its attachments, or a
/// failure.
// The document inline on purpose: the usual message's outcome, moved once into its batch
// (a box would be an allocation per message, the thing this type saves).
#[allow(clippy::large_enum_variant)]
pub(super) enum Fetched {
    /// The message's document.
    One(Document),
    /// The message's outcome, then its attachments'.
    Many(Vec<Outcome>),
}

impl IntoOutcomes for Fetched {
    fn push_into(self, batch: &mut Batch) {
        match self {
            Self::One(doc) => doc.push_into(batch),
            Self::Many(outcomes) => outcomes.push_into(batch),
        }
    }
}

/// Whether `message` is a meeting message whose meeting is not read yet.
fn needs_meeting(message: &Message) -> bool {
    message.is_meeting_message() && message.meeting.is_none()
}

/// A meeting message (request, cancellation, response) with its meeting's time and place,
/// read by `GET users/{id}/messages/{id}`: a delta round cannot `$select` the properties of
/// a derived type. One request per meeting message delivered; when it fails the message is
/// delivered without them.
async fn with_meeting(reader: &Reader, user: &str, message: &mut Message) -> Result<()> {
    if !needs_meeting(message) {
        return Ok(());
    }
    let url = reader.graph.url(
        &format!("users/{}/messages/{}", escape(user), escape(&message.id)),
        &[],
    )?;
    match reader.get::<Meeting>(&url).await {
        Ok(meeting) => message.meeting = Some(Box::new(meeting)),
        Err(e) if e.kind().ends_sync() => return Err(e),
        Err(e) => tracing::warn!(
            connector = SOURCE,
            message = message.id.as_str(),
            "a meeting message's meeting could not be read; delivered without its time and place: {e}"
        ),
    }
    Ok(())
}

/// The attachments of a message that are documents: not a picture in the body (an inline
/// image), not an S/MIME signature; links to files elsewhere are left to the caller.
pub(super) async fn list_attachments(
    reader: &Reader,
    user: &str,
    message: &str,
) -> Result<Vec<Attachment>> {
    let url = reader.graph.url(
        &format!(
            "users/{}/messages/{}/attachments",
            escape(user),
            escape(message)
        ),
        &[("$select", ATTACHMENT_FIELDS)],
    )?;
    Ok(reader
        .all::<Attachment>(&url)
        .await?
        .into_iter()
        .filter(|a| !a.is_inline_picture() && !a.is_signature())
        .collect())
}

/// The outcomes of a message's listed attachments: unchanged ones by their version, oversize
/// ones as failures before any download, small files in JSON batches (`contentBytes`), the
/// rest by `/$value`.
async fn attachments(
    reader: &Reader,
    known: &KnownFingerprints,
    place: &Place<'_>,
    message: &Message,
    wanted: Vec<Attachment>,
    ids: Vec<String>,
) -> Result<Vec<Outcome>> {
    let base = format!(
        "users/{}/messages/{}/attachments",
        escape(place.user),
        escape(&message.id)
    );
    // What `attachment_document` gives each as its parent.
    let parent = message_doc_id(place.user, &message.id);
    let mut slots: Vec<Option<Outcome>> = Vec::with_capacity(wanted.len());
    let mut batched: Vec<usize> = Vec::new();
    for (n, (a, id)) in wanted.iter().zip(&ids).enumerate() {
        if known.has_version_under(id, &a.version_in(place.folder), Some(&parent)) {
            slots.push(Some(Outcome::Unchanged(id.clone())));
        } else if a.is_smime_content() {
            slots.push(Some(encrypted(place, message, a).into()));
        } else if a.size > reader.max {
            slots.push(Some(oversize(place, message, a, reader.max).into()));
        } else if a.kind() == AttachmentKind::File && a.size <= BATCHED_ATTACHMENT {
            batched.push(n);
            slots.push(None);
        } else {
            let url = reader
                .graph
                .url(&format!("{base}/{}/$value", escape(&a.id)), &[])?;
            let timeout = std::time::Duration::from_secs(60 + reader.max / (1024 * 1024));
            let max = reader.max;
            let outcome = match reader
                .graph
                .send(&url, |r| r.max_body_bytes(max).timeout(timeout))
                .await
            {
                Ok(resp) => {
                    attachment_document(place, message, a, Vec::from(resp.into_body())).into()
                }
                Err(e) => connector_core::pages::item_failure(id.clone(), e)?.into(),
            };
            slots.push(Some(outcome));
        }
    }
    if !batched.is_empty() {
        let paths: Vec<String> = batched
            .iter()
            .map(|n| format!("{base}/{}", escape(&wanted[*n].id)))
            .collect();
        let answers = reader.batch_get::<Attachment>(&paths).await?;
        for (n, answer) in batched.into_iter().zip(answers) {
            let a = &wanted[n];
            let id = &ids[n];
            let outcome = match answer {
                Ok(Some(full)) => {
                    let bytes = full
                        .content_bytes
                        .as_deref()
                        .map(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()));
                    match bytes {
                        Some(Ok(data)) => attachment_document(place, message, a, data).into(),
                        Some(Err(e)) => Failure::new(
                            Some(id.clone()),
                            ErrorKind::InvalidData,
                            format!(
                                "attachment {:?}: contentBytes is not base64: {e}",
                                a.shown_name()
                            ),
                        )
                        .into(),
                        None => Failure::new(
                            Some(id.clone()),
                            ErrorKind::InvalidData,
                            format!(
                                "attachment {:?}: Graph sent no contentBytes",
                                a.shown_name()
                            ),
                        )
                        .into(),
                    }
                }
                // Gone since the listing: nothing (prune deals with it).
                Ok(None) => continue,
                Err(e) => connector_core::pages::item_failure(id.clone(), e)?.into(),
            };
            if let Some(slot) = slots.get_mut(n) {
                *slot = Some(outcome);
            }
        }
    }
    Ok(slots.into_iter().flatten().collect())
}
