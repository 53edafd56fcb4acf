//! The folder walk: message delta pages as checkpointed batches, each message's outcomes
//! from `items` on core's [`ItemFetches`] (one fingerprint lookup per page, unchanged messages
//! cost no attachment request), the id listing and the refetch of named messages.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use connector_core::pages::{ItemFetches, PendingItem, Spawned, fetch_items};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use url::Url;

use super::SOURCE;
use super::checkpoint::{FolderCursor, OutlookCheckpoint, Phase, folder_key};
use super::convert::{ID_PREFIX, attachment_doc_id, message_doc_id, parse_id};
use super::items::{fetch, gone, list_attachments, pending_item};
use super::mailbox::{Folder, Mailbox, PageSize, Reader};
use super::model::{AttachmentKind, Listed, MESSAGE_FIELDS, Message};
use crate::graph::{Delta, escape};

/// Messages whose attachments are read at the same time within a page: Exchange Online
/// takes 4 concurrent requests per app and mailbox and answers more with 429
/// (`ApplicationThrottled`), and every request of a page goes to one mailbox.
const CONCURRENCY: usize = 4;

/// [`CONCURRENCY`] in a folder's round, where the next delta page is read ahead (one request
/// of the mailbox's 4 in flight beside the page's).
const ROUND_CONCURRENCY: usize = CONCURRENCY - 1;

/// Content bytes after which a page is handed on in parts.
const PAGE_BYTES: u64 = 32 * 1024 * 1024;

/// A folder's next delta page, fetching in a task of its own, with the page size it fitted.
type PageAhead = Spawned<(Result<Delta<Listed>>, PageSize)>;

/// `410 Gone` answers taken in one folder before the run gives up on it.
const MAX_RESTARTS: u32 = 3;

/// A batch of failures only.
fn failed(failures: Vec<Failure>) -> Batch {
    Batch::with_parts(Vec::new(), failures, Vec::new())
}

fn parse_link(link: &str) -> Result<Url> {
    Url::parse(link).map_err(|e| {
        Error::new(
            ErrorKind::Checkpoint,
            format!("a stored delta link is not a URL: {e}"),
        )
        .with_connector(SOURCE)
    })
}

/// The failure of a mailbox (or its folder listing) that could not be read.
fn mailbox_failure(mailbox: &Mailbox, e: &Error) -> Failure {
    Failure::new(
        Some(format!("{ID_PREFIX}user:{}", mailbox.id)),
        e.kind(),
        format!(
            "mailbox {} was not read to its end; the next run reads it again: {e}",
            mailbox.address
        ),
    )
}

/// A page's messages with each id's last state only, in the order of those last states, the
/// failures of those that cannot be read, and the (message) ids Graph reports removed from the
/// folder (deleted, or moved out).
fn sort_page(values: Vec<Listed>, user: &str) -> (Vec<Message>, Vec<Failure>, Vec<String>) {
    let mut messages = Vec::with_capacity(values.len());
    let mut broken = Vec::new();
    for value in values {
        match value.read() {
            Ok(m) => messages.push(m),
            Err((id, message)) => {
                let id = id.map(|i| message_doc_id(user, &i));
                let message = match &id {
                    Some(id) => format!("`{id}`: {message}"),
                    None => format!("a message of a mailbox of user {user}: {message}"),
                };
                broken.push(Failure::new(id, ErrorKind::InvalidData, message));
            }
        }
    }
    // Whether each message is its id's last state on the page (ids borrowed for the look).
    let last: Vec<bool> = {
        let mut at: HashMap<&str, usize> = HashMap::with_capacity(messages.len());
        for (n, m) in messages.iter().enumerate() {
            at.insert(m.id.as_str(), n);
        }
        (0..messages.len())
            .map(|n| at.get(messages[n].id.as_str()) == Some(&n))
            .collect()
    };
    let mut removed = Vec::new();
    let kept = messages
        .into_iter()
        .zip(last)
        .filter(|(_, last)| *last)
        .map(|(m, _)| m)
        .filter_map(|m| {
            if m.removed.is_some() {
                removed.push(m.id);
                None
            } else {
                Some(m)
            }
        })
        .collect();
    (kept, broken, removed)
}

/// The document ids of `messages` of user `user`: each message's, after those of its
/// attachments (listed, one request per message that has some).
async fn message_ids(reader: &Reader, user: &str, messages: &[Message]) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(messages.len());
    for m in messages {
        let id = message_doc_id(user, &m.id);
        if reader.lists_attachments(m) {
            for a in list_attachments(reader, user, &m.id).await? {
                if a.kind() != AttachmentKind::Reference {
                    ids.push(attachment_doc_id(&id, &a.id));
                }
            }
        }
        ids.push(id);
    }
    Ok(ids)
}

/// The listing from `from` on, each page with the checkpoint after it.
pub(super) fn checkpointed(
    reader: &Reader,
    from: OutlookCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<OutlookCheckpoint>>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (mailboxes, failures) = reader.mailboxes(None).await?;
        let mut cp = from;
        let resume = cp.current.take();
        // Every folder read (or failed) in this run: links of the others are dropped at the
        // end when nothing failed, so a folder no longer read keeps no link.
        let mut listed: BTreeSet<String> = BTreeSet::new();
        // The mailboxes whose folders were listed in this run.
        let mut users_read: HashSet<String> = HashSet::new();
        // Those of them whose listing may be short (an included well-known folder that did
        // not resolve): their links are kept, and none of their folders is taken for dropped.
        let mut users_partial: HashSet<String> = HashSet::new();
        let mut complete = failures.is_empty();
        if !failures.is_empty() {
            yield CheckpointedBatch::new(failed(failures), cp.clone());
        }
        for mailbox in mailboxes {
            let mailbox = Arc::new(mailbox);
            let folders = match reader.folder_tree(&mailbox).await {
                Ok((folders, unresolved)) => {
                    if !unresolved.is_empty() {
                        tracing::warn!(connector = SOURCE, mailbox = mailbox.address.as_str(), unresolved = ?unresolved,
                            "included well-known folders did not resolve in this mailbox; nothing of it is deleted for a folder not read in this run");
                        users_partial.insert(mailbox.id.clone());
                    }
                    folders
                }
                Err(e) if e.kind().ends_sync() => Err(e)?,
                // Every user: one with `mail` but no Exchange Online mailbox is no failure.
                // A mailbox of a user still in the tenant that answers a passing 404 (being
                // moved or provisioned) keeps its links, none of its folders taken for
                // dropped: the next run goes on from them rather than listing it whole.
                Err(e) if e.kind() == ErrorKind::NotFound && reader.quiet_missing() => {
                    let gone = no_mailbox(&e)
                        || match crate::graph::users::user_is_gone(&reader.graph, &mailbox.id).await {
                            Ok(gone) => gone,
                            Err(e) if e.kind().ends_sync() => Err(e)?,
                            Err(_) => false,
                        };
                    if !gone {
                        tracing::warn!(connector = SOURCE, mailbox = mailbox.address.as_str(),
                            "the mailbox's folders answered 404 for this run; its links are kept: {e}");
                        users_read.insert(mailbox.id.clone());
                        users_partial.insert(mailbox.id.clone());
                    }
                    continue;
                }
                Err(e) => {
                    complete = false;
                    yield CheckpointedBatch::new(failed(vec![mailbox_failure(&mailbox, &e)]), cp.clone());
                    continue;
                }
            };
            users_read.insert(mailbox.id.clone());
            let read: HashSet<String> = folders.iter().map(|f| f.id.clone()).collect();
            for folder in folders {
                let key = folder_key(&mailbox.id, &folder.id);
                listed.insert(key.clone());
                if cp.done.contains_key(&key) {
                    continue;
                }
                let folder = Arc::new(folder);
                let first = reader.delta_url(&mailbox.id, &folder.id)?;
                // Renamed (it or a folder above it) since its link was taken: a round of
                // changes would list none of its messages, whose `folder` would keep the old
                // path; listed whole, each is delivered again with the new one.
                let renamed = cp.paths.get(&key).is_some_and(|p| *p != folder.path);
                let (mut url, mut phase) = match (&resume, cp.since.get(&key)) {
                    (Some(c), _) if c.folder == key => (parse_link(&c.next)?, c.phase),
                    (_, Some(_)) if renamed => (first.clone(), Phase::Relisting),
                    (_, Some(since)) => (parse_link(since)?, Phase::Changes),
                    // A folder the last runs never finished (new, or unreadable then) while
                    // others carry their links: listed whole, not through the window.
                    _ if !cp.since.is_empty() => (first.clone(), Phase::Relisting),
                    _ => (first.clone(), Phase::Listing),
                };
                let mut folder_error: Option<Error> = None;
                let mut restarts = 0;
                // The page size that fits under the body cap, kept for the folder's round.
                let mut size = PageSize::default();
                // The next page of the round, fetching while this one's messages are turned
                // into documents (aborted when dropped: a folder that stops early).
                let mut ahead: Option<PageAhead> = None;
                loop {
                    ctx.cancellation().check()?;
                    cp.current = Some(FolderCursor { folder: key.clone(), next: url.to_string(), phase });
                    let fetched = match ahead.take() {
                        Some(next) => {
                            let (fetched, fitted) = next.join().await?;
                            size = fitted;
                            fetched
                        }
                        None => reader.delta_sized(&url, &mut size).await,
                    };
                    let page = match fetched {
                        Ok(Delta::Page(page)) => page,
                        Ok(Delta::Restart { restart_at, code }) => {
                            restarts += 1;
                            if restarts > MAX_RESTARTS {
                                folder_error = Some(Error::new(
                                    ErrorKind::Unavailable,
                                    format!("Graph asked {restarts} times to start folder {} over ({code})", folder.path),
                                ).with_connector(SOURCE));
                                break;
                            }
                            tracing::warn!(connector = SOURCE, folder = folder.path.as_str(), code = code.as_str(),
                                "Graph no longer continues the stored delta link; the folder is listed again (unchanged messages cost nothing more)");
                            url = restart_at.unwrap_or_else(|| first.clone());
                            phase = Phase::Relisting;
                            continue;
                        }
                        Err(e) => {
                            folder_error = Some(e);
                            break;
                        }
                    };
                    if let Some(next) = &page.next_link {
                        let (next_reader, next, mut next_size) = (reader.clone(), next.clone(), size);
                        ahead = Some(Spawned::spawn(async move {
                            let fetched = next_reader.delta_sized(&next, &mut next_size).await;
                            (fetched, next_size)
                        }));
                    }
                    let (messages, broken, removed) = sort_page(page.value, &mailbox.id);
                    // `@removed`: deleted, or moved to another folder. Only what left the
                    // folders this source reads is deleted; a move between them is the other
                    // folder's round's to deliver.
                    let deleted = match gone(&reader, &ctx, &mailbox, &read, &removed).await {
                        Ok(deleted) => deleted,
                        Err(e) => {
                            folder_error = Some(e);
                            break;
                        }
                    };
                    // Only a listing is narrowed to the window: a round from a delta link is
                    // exactly what changed, and a listing after a 410 must see everything.
                    let window = if phase == Phase::Listing { window } else { None };
                    let pending = broken
                        .into_iter()
                        .map(|f| PendingItem::new(f.id.clone().unwrap_or_default(), Err(f)))
                        .chain(
                            messages
                                .into_iter()
                                .filter(|m| window.is_none_or(|w| m.last_modified_date_time.is_some_and(|t| w.contains(t))))
                                .map(|m| pending_item(&reader, &mailbox, &folder, m)),
                        )
                        .collect::<Vec<_>>();
                    // Each fetch borrows the reader and the context: no copy of either (the
                    // reader's lists, the client's URL and `Arc`s) per message.
                    let mut fetches = ItemFetches::start(&ctx, pending, ROUND_CONCURRENCY, |item| {
                        fetch(&reader, &ctx, item)
                    })
                    .await?;
                    let mut rest = Batch::default();
                    while let Some(part) = fetches.next_part(PAGE_BYTES).await? {
                        if fetches.is_done() {
                            if rest.is_empty() { rest = part } else { rest.append(part) }
                        } else {
                            // A part of the page: the checkpoint stays on this page's link.
                            yield CheckpointedBatch::new(part, cp.clone());
                        }
                    }
                    rest.deleted.extend(deleted);
                    match (page.next_link, page.delta_link) {
                        (Some(next), _) => {
                            cp.current = Some(FolderCursor { folder: key.clone(), next: next.to_string(), phase });
                            url = next;
                            yield CheckpointedBatch::new(rest, cp.clone());
                        }
                        (None, Some(delta)) => {
                            cp.current = None;
                            cp.done.insert(key.clone(), delta.to_string());
                            cp.paths.insert(key.clone(), folder.path.clone());
                            yield CheckpointedBatch::new(rest, cp.clone());
                            break;
                        }
                        (None, None) => {
                            folder_error = Some(Error::new(
                                ErrorKind::InvalidData,
                                format!("a delta page of folder {} has neither @odata.nextLink nor @odata.deltaLink", folder.path),
                            ).with_connector(SOURCE));
                            break;
                        }
                    }
                }
                if let Some(e) = folder_error {
                    if e.kind().ends_sync() {
                        Err(e)?;
                    } else {
                        tracing::warn!(connector = SOURCE, folder = folder.path.as_str(), "folder not read to its end: {e}");
                        cp.current = None;
                        let failure = Failure::new(
                            Some(format!("{ID_PREFIX}folder:{key}")),
                            e.kind(),
                            format!("folder {} of {} was not read to its end; the next run reads it again: {e}", folder.path, mailbox.address),
                        );
                        yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                    }
                }
            }
        }
        if complete {
            // Folders that carried a link and were not read in this run: deleted (Exchange
            // moves a deleted folder under Deleted Items, its messages keeping their ids),
            // renamed or moved out of the filters, or left out by a changed config. No round
            // reports their messages `@removed`: a fresh round of each lists what it holds
            // now, and those documents are deleted, a page at a time. One Graph no longer
            // finds (404: purged) or cannot list, and the folders of mailboxes not read in
            // this run (a user gone, another partition's links in a tenant-wide checkpoint),
            // are left to prune. Either way it keeps no link.
            let before = (cp.since.len(), cp.paths.len());
            cp.since.retain(|key, _| listed.contains(key) || key.split_once('/').is_some_and(|(user, _)| users_read.contains(user)));
            cp.paths.retain(|key, _| cp.since.contains_key(key) || listed.contains(key));
            if (cp.since.len(), cp.paths.len()) != before {
                yield CheckpointedBatch::new(Batch::default(), cp.clone());
            }
            let dropped: Vec<String> = cp
                .since
                .keys()
                .filter(|k| !listed.contains(*k) && k.split_once('/').is_none_or(|(user, _)| !users_partial.contains(user)))
                .cloned()
                .collect();
            for key in dropped {
                let Some((user, folder)) = key.split_once('/') else {
                    continue;
                };
                let first = reader.delta_url(user, folder)?;
                let mut next = Some(first);
                while let Some(url) = next.take() {
                    ctx.cancellation().check()?;
                    let page = match reader.delta(&url).await {
                        Ok(Delta::Page(page)) => page,
                        Ok(Delta::Restart { .. }) => break,
                        Err(e) if e.kind().ends_sync() => Err(e)?,
                        Err(e) => {
                            tracing::warn!(connector = SOURCE, folder = key.as_str(), "a folder no longer read could not be listed; its documents are left to prune: {e}");
                            break;
                        }
                    };
                    let (messages, _, _) = sort_page(page.value, user);
                    let deleted = match message_ids(&reader, user, &messages).await {
                        Ok(ids) => ids,
                        Err(e) if e.kind().ends_sync() => Err(e)?,
                        Err(e) => {
                            tracing::warn!(connector = SOURCE, folder = key.as_str(), "the attachments of a folder no longer read could not be listed; left to prune: {e}");
                            messages.iter().map(|m| message_doc_id(user, &m.id)).collect()
                        }
                    };
                    next = page.next_link;
                    if !deleted.is_empty() {
                        let mut batch = Batch::default();
                        batch.deleted.extend(deleted);
                        // The link stays until the last page: a resumed run lists it again.
                        yield CheckpointedBatch::new(batch, cp.clone());
                    }
                }
                cp.since.remove(&key);
                cp.paths.remove(&key);
                yield CheckpointedBatch::new(Batch::default(), cp.clone());
            }
        }
    }
    .boxed()
}

/// Whether a 404 on a mailbox's folders is Graph saying the user has no Exchange Online
/// mailbox (`MailboxNotEnabledForRESTAPI`: unlicensed, on-premises, soft-deleted), as
/// against a 404 that may pass.
fn no_mailbox(e: &Error) -> bool {
    e.to_string().contains("MailboxNotEnabledForRESTAPI")
}

/// Every message and attachment id of a fresh delta round of every folder; fails, rather
/// than come back short, when a mailbox, folder or page cannot be listed.
pub(super) fn list_ids(
    reader: &Reader,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (mailboxes, failures) = reader.mailboxes(None).await?;
        if let Some(f) = failures.first() {
            // A mailbox that could not be read would look empty: every document of it pruned.
            Err(Error::new(f.kind, format!("the id listing is incomplete: {}", f.message)).with_connector(SOURCE))?;
        }
        for mailbox in mailboxes {
            let folders = match reader.folder_tree(&mailbox).await {
                Ok((folders, unresolved)) if unresolved.is_empty() => folders,
                // A short listing would have every document of the folders missing pruned.
                Ok((_, unresolved)) => Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("the id listing is incomplete: mailbox {} did not resolve the included folders {}", mailbox.address, unresolved.join(", ")),
                ).with_connector(SOURCE))?,
                // A listed user without an Exchange Online mailbox (no licence, hosted
                // on-premises) holds none of the source's documents; nor does a user gone
                // from the tenant since the user listing. Any other 404 (a mailbox being
                // moved or provisioned answers so for a while) would leave the mailbox out
                // of the listing and have prune delete every document of it: refused.
                Err(e) if e.kind() == ErrorKind::NotFound && reader.quiet_missing() => {
                    if no_mailbox(&e) || crate::graph::users::user_is_gone(&reader.graph, &mailbox.id).await? {
                        continue;
                    }
                    Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("the id listing is incomplete: mailbox {} is in the tenant but its folders answered 404 ({e})", mailbox.address),
                    ).with_connector(SOURCE))?
                }
                Err(e) => Err(e)?,
            };
            for folder in folders {
                let first = reader.delta_url(&mailbox.id, &folder.id)?;
                let mut next = Some(first.clone());
                let mut restarts = 0;
                let mut size = PageSize::default();
                while let Some(url) = next.take() {
                    ctx.cancellation().check()?;
                    let page = match reader.delta_sized(&url, &mut size).await? {
                        Delta::Page(page) => page,
                        Delta::Restart { code, .. } => {
                            restarts += 1;
                            if restarts > MAX_RESTARTS {
                                Err(Error::new(ErrorKind::Unavailable, format!("Graph kept restarting folder {} ({code})", folder.path)).with_connector(SOURCE))?;
                            }
                            next = Some(first.clone());
                            continue;
                        }
                    };
                    let (messages, broken, _) = sort_page(page.value, &mailbox.id);
                    let mut ids: Vec<SlimDocument> = broken
                        .into_iter()
                        .filter_map(|f| f.id)
                        .map(SlimDocument::new)
                        .collect();
                    ids.extend(message_ids(&reader, &mailbox.id, &messages).await?.into_iter().map(SlimDocument::new));
                    if !ids.is_empty() {
                        yield ids;
                    }
                    next = page.next_link;
                }
            }
        }
    }
    .boxed()
}

/// The messages with these document ids (or whose attachments have them) again, by their
/// current state, with all their attachments; an id that is not Outlook's, a message gone or
/// in a folder no longer read yields nothing.
pub(super) fn refetch(
    reader: &Reader,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (mailboxes, _) = reader.mailboxes(None).await?;
        let mailboxes: HashMap<String, Arc<Mailbox>> =
            mailboxes.into_iter().map(|m| (m.id.clone(), Arc::new(m))).collect();
        let mut folders: HashMap<String, HashMap<String, Arc<Folder>>> = HashMap::new();
        let mut wanted: Vec<(String, String)> = Vec::new();
        for id in &ids {
            if let Some((user, message)) = parse_id(id) {
                let pair = (user.to_owned(), message.to_owned());
                if !wanted.contains(&pair) {
                    wanted.push(pair);
                }
            }
        }
        for chunk in wanted.chunks(50) {
            let mut pending = Vec::new();
            for (user, message_id) in chunk {
                let Some(mailbox) = mailboxes.get(user) else { continue };
                if !folders.contains_key(user) {
                    let read = match reader.folders(mailbox).await {
                        Ok(read) => read,
                        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
                        Err(e) => Err(e)?,
                    };
                    folders.insert(user.clone(), read.into_iter().map(|f| (f.id.clone(), Arc::new(f))).collect());
                }
                let url = reader.graph.url(
                    &format!("users/{}/messages/{}", escape(user), escape(message_id)),
                    &[("$select", MESSAGE_FIELDS)],
                )?;
                let message: Message = match reader.get(&url).await {
                    Ok(m) => m,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => Err(e)?,
                };
                let folder = message
                    .parent_folder_id
                    .as_deref()
                    .and_then(|f| folders.get(user).and_then(|read| read.get(f)));
                let Some(folder) = folder else { continue };
                // Asked for because it failed: fetched whatever the store holds.
                let mut item = pending_item(&reader, mailbox, folder, message);
                item.fingerprint = None;
                if let Ok(inner) = &mut item.value {
                    inner.refetch = true;
                }
                pending.push(item);
            }
            let batch = fetch_items(&ctx, pending, CONCURRENCY, |item| fetch(&reader, &ctx, item))
                .await?;
            if !batch.is_empty() {
                yield batch;
            }
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_page_keeps_last_states_and_counts_removals() {
        let (kept, broken, removed) = sort_page(
            [
                serde_json::json!({"id": "a", "subject": "one"}),
                serde_json::json!({"id": "b", "@removed": {"reason": "deleted"}}),
                serde_json::json!({"id": "c", "toRecipients": "x"}),
                serde_json::json!({"id": "a", "subject": "two"}),
            ]
            .iter()
            .map(|v| Listed::Raw(serde_json::value::to_raw_value(v).unwrap()))
            .collect(),
            "u1",
        );
        let subjects: Vec<&str> = kept.iter().filter_map(|m| m.subject.as_deref()).collect();
        assert_eq!(subjects, ["two"]);
        assert_eq!(removed, ["b"]);
        assert_eq!(broken[0].id.as_deref(), Some("outlook:u1:c"));
    }
}
