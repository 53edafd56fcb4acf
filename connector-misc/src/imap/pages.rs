//! The runs: one login, then each mailbox in turn (`EXAMINE`, one `UID SEARCH`, then `UID
//! FETCH` of the listing items and of the bodies in chunks), as checkpointed batches; the id
//! listing for prune; the check.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration as Days, Utc};
use connector_core::pages::{KnownFingerprints, Outcome};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::checkpoint::ImapCheckpoint;
use super::client::{self, Server, Session};
use super::convert::{self, Place};
use super::model::{BODY_ITEMS, LISTING_ITEMS, Listed};

/// Message bytes (`RFC822.SIZE`) after which a page is handed on in parts, each with the
/// checkpoint after its last message, so a page of large messages never sits in memory
/// whole (a single larger message goes alone).
const PART_BYTES: u64 = 32 * 1024 * 1024;

/// UIDs per listing fetch of [`list_ids`].
const LIST_CHUNK: usize = 1000;

/// Everything a run needs; shared by the streams of a connector.
#[derive(Debug)]
pub(crate) struct Reader {
    pub(crate) server: Server,
    pub(crate) mailboxes: Vec<String>,
    pub(crate) page_size: usize,
    pub(crate) max_message_size: u64,
    pub(crate) attachment_cap: u64,
    pub(crate) poll_range_days: Option<u32>,
}

/// An IMAP date (`SINCE`, `BEFORE`): days only, in English.
fn imap_date(t: DateTime<Utc>) -> String {
    t.format("%d-%b-%Y").to_string()
}

/// The `UID SEARCH` of a mailbox: the UIDs after `after`, within the window widened to whole
/// days with a day to spare each way (IMAP compares dates "disregarding time and timezone",
/// in the server's zone); the listing then filters by `INTERNALDATE` exactly.
fn search_query(after: u32, since: Option<DateTime<Utc>>, window: Option<TimeWindow>) -> String {
    let mut query = format!("UID {}:*", after.saturating_add(1));
    let start = match (since, window) {
        (Some(s), Some(w)) => Some(s.max(w.start)),
        (s, w) => s.or(w.map(|w| w.start)),
    };
    if let Some(start) = start.and_then(|s| s.checked_sub_signed(Days::days(1))) {
        query.push_str(&format!(" SINCE {}", imap_date(start)));
    }
    if let Some(end) = window.and_then(|w| w.end.checked_add_signed(Days::days(2))) {
        query.push_str(&format!(" BEFORE {}", imap_date(end)));
    }
    query
}

/// Whether a message that arrived at `t` (`INTERNALDATE`, whole seconds) is in `w`: its second
/// `[t, t + 1 s)` overlaps the half-open window. A message delivered in the second a window
/// ends at is thus in both windows (the second run finds it stored and skips it) rather than
/// in neither.
fn in_window(t: DateTime<Utc>, w: TimeWindow) -> bool {
    t < w.end && t + Days::seconds(1) > w.start
}

impl Reader {
    /// The start of the mail a full run reads (`poll_range`), none for everything.
    fn since(&self, window: Option<TimeWindow>) -> Option<DateTime<Utc>> {
        if window.is_some() {
            return None;
        }
        self.poll_range_days
            .filter(|d| *d > 0)
            .and_then(|d| Utc::now().checked_sub_signed(Days::days(i64::from(d))))
    }

    fn place<'a>(&'a self, mailbox: &'a str, uid_validity: u32) -> Place<'a> {
        Place {
            host: &self.server.host,
            port: self.server.port,
            owner: &self.server.username,
            mailbox,
            uid_validity,
            attachment_cap: self.attachment_cap,
        }
    }

    /// The listing of `uids`, by UID; a UID expunged since the search is simply absent.
    async fn listing(
        &self,
        session: &mut Session,
        mailbox: &str,
        validity: u32,
        uids: &[u32],
    ) -> Result<Vec<Listed>> {
        let fetched =
            client::uid_fetch(&self.server, session, &client::uid_set(uids), LISTING_ITEMS).await?;
        let mut listed: Vec<Listed> = fetched
            .iter()
            .filter_map(|f| Listed::from_fetch(mailbox, validity, f))
            .filter(|l| uids.binary_search(&l.uid).is_ok())
            .collect();
        listed.sort_by_key(|l| l.uid);
        listed.dedup_by_key(|l| l.uid);
        Ok(listed)
    }

    /// The bodies of `uids` by UID.
    async fn bodies(&self, session: &mut Session, uids: &[u32]) -> Result<HashMap<u32, Vec<u8>>> {
        if uids.is_empty() {
            return Ok(HashMap::new());
        }
        let fetched =
            client::uid_fetch(&self.server, session, &client::uid_set(uids), BODY_ITEMS).await?;
        Ok(fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .collect())
    }
}

/// Who a message is waiting for in a part.
enum Slot {
    Done(Vec<Outcome>),
    Fetch(Listed),
}

/// The run from `from` on, each page with the checkpoint valid after it.
pub(super) fn checkpointed(
    reader: &Arc<Reader>,
    from: ImapCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<ImapCheckpoint>>> {
    let reader = Arc::clone(reader);
    async_stream::try_stream! {
        let start = match &from.mailbox {
            None => 0,
            Some(name) => reader.mailboxes.iter().position(|m| m == name).ok_or_else(|| {
                Error::checkpoint(format!(
                    "the checkpoint is in mailbox {name:?}, which `imap_mailbox` no longer lists"
                ))
                .with_connector(SOURCE)
            })?,
        };
        ctx.cancellation().check()?;
        let since = reader.since(window);
        let mut session = reader.server.login().await?;
        ctx.stats().add_request();
        for (index, mailbox) in reader.mailboxes.iter().enumerate().skip(start) {
            let selected = client::examine(&reader.server, &mut session, mailbox).await?;
            ctx.stats().add_request();
            let validity = selected.uid_validity;
            let mut after = 0;
            if index == start && from.mailbox.is_some() {
                if from.uid_validity == Some(validity) {
                    after = from.after_uid;
                } else {
                    tracing::warn!(
                        connector = SOURCE,
                        mailbox = mailbox.as_str(),
                        was = ?from.uid_validity,
                        now = validity,
                        "UIDVALIDITY changed: the mailbox is read again from its first message"
                    );
                }
            }
            let query = search_query(after, since, window);
            let uids: Vec<u32> = client::uid_search(&reader.server, &mut session, &query)
                .await?
                .into_iter()
                .filter(|u| *u > after)
                .collect();
            ctx.stats().add_request();
            let place = reader.place(mailbox, validity);
            for chunk in uids.chunks(reader.page_size.max(1)) {
                ctx.cancellation().check()?;
                let last = chunk.last().copied().unwrap_or(after);
                let listed = reader.listing(&mut session, mailbox, validity, chunk).await?;
                ctx.stats().add_request();
                let in_scope: Vec<Listed> = listed
                    .into_iter()
                    .filter(|l| match (window, since) {
                        (Some(w), _) => l.arrived.is_some_and(|t| in_window(t, w)),
                        (None, Some(s)) => l.arrived.is_none_or(|t| t >= s),
                        (None, None) => true,
                    })
                    .collect();
                let ids: Vec<String> = in_scope.iter().map(|l| l.id.clone()).collect();
                let known = KnownFingerprints::lookup(&ctx, &ids).await?;
                // Messages in UID order, each done already or waiting for its body; cut into
                // parts of at most PART_BYTES of bodies.
                let mut parts: Vec<(Vec<Slot>, u32)> = Vec::new();
                let mut current: Vec<Slot> = Vec::new();
                let mut current_last = after;
                let mut bytes = 0u64;
                for l in in_scope {
                    let uid = l.uid;
                    let slot = if known.has_version(&l.id, &convert::version(&place, uid)) {
                        let mut done = vec![Outcome::Unchanged(l.id.clone())];
                        done.extend(l.attachment_ids().map(Outcome::Unchanged));
                        Slot::Done(done)
                    } else if let Some(size) = l.size.filter(|s| *s > reader.max_message_size) {
                        Slot::Done(vec![convert::message_failure(
                            &place,
                            &l,
                            ErrorKind::InvalidData,
                            &format!("{size} bytes, over `max_message_size` ({}); not downloaded", reader.max_message_size),
                        )
                        .into()])
                    } else {
                        let size = l.size.unwrap_or(0);
                        if bytes > 0 && bytes.saturating_add(size) > PART_BYTES {
                            parts.push((std::mem::take(&mut current), current_last));
                            bytes = 0;
                        }
                        bytes = bytes.saturating_add(size);
                        Slot::Fetch(l)
                    };
                    current.push(slot);
                    current_last = uid;
                }
                parts.push((current, last));
                for (slots, checkpoint_uid) in parts {
                    let wanted: Vec<u32> = slots
                        .iter()
                        .filter_map(|s| match s {
                            Slot::Fetch(l) => Some(l.uid),
                            Slot::Done(_) => None,
                        })
                        .collect();
                    let mut bodies = reader.bodies(&mut session, &wanted).await?;
                    if !wanted.is_empty() {
                        ctx.stats().add_request();
                    }
                    let mut batch = Batch::default();
                    for slot in slots {
                        match slot {
                            Slot::Done(outcomes) => outcomes.into_iter().for_each(|o| batch.push(o)),
                            // Expunged since the listing: prune deals with it.
                            Slot::Fetch(l) => {
                                if let Some(raw) = bodies.remove(&l.uid) {
                                    for outcome in convert::message_outcomes(&place, &l, &raw) {
                                        batch.push(outcome);
                                    }
                                }
                            }
                        }
                    }
                    yield CheckpointedBatch::new(
                        batch,
                        ImapCheckpoint::after(mailbox.clone(), validity, checkpoint_uid),
                    );
                }
            }
        }
        client::logout(&reader.server, &mut session).await;
    }
    .boxed()
}

/// Every id a load could produce: each message's and its attachments', by `ENVELOPE` and
/// `BODYSTRUCTURE` (no body is read). Fails, rather than come back short, when a mailbox
/// cannot be read.
pub(super) fn list_ids(
    reader: &Arc<Reader>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = Arc::clone(reader);
    async_stream::try_stream! {
        let mut session = reader.server.login().await?;
        ctx.stats().add_request();
        for mailbox in &reader.mailboxes {
            let selected = client::examine(&reader.server, &mut session, mailbox).await?;
            ctx.stats().add_request();
            let uids = client::uid_search(&reader.server, &mut session, "ALL").await?;
            ctx.stats().add_request();
            for chunk in uids.chunks(LIST_CHUNK) {
                ctx.cancellation().check()?;
                let listed = reader.listing(&mut session, mailbox, selected.uid_validity, chunk).await?;
                ctx.stats().add_request();
                let mut ids = Vec::with_capacity(listed.len());
                for l in &listed {
                    ids.push(SlimDocument::new(l.id.clone()));
                    ids.extend(l.attachment_ids().map(SlimDocument::new));
                }
                if !ids.is_empty() {
                    yield ids;
                }
            }
        }
        client::logout(&reader.server, &mut session).await;
    }
    .boxed()
}

/// Logs in and selects every mailbox.
pub(super) async fn check(reader: &Reader) -> Result<()> {
    let mut session = reader.server.login().await?;
    for mailbox in &reader.mailboxes {
        client::examine(&reader.server, &mut session, mailbox).await?;
    }
    client::logout(&reader.server, &mut session).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn searches_widen_windows_to_whole_days() {
        let w = TimeWindow::new(
            Utc.with_ymd_and_hms(2025, 3, 2, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 3, 5, 0, 0, 0).unwrap(),
        )
        .unwrap();
        assert_eq!(
            search_query(0, None, Some(w)),
            "UID 1:* SINCE 01-Mar-2025 BEFORE 07-Mar-2025"
        );
        assert_eq!(search_query(40, None, None), "UID 41:*");
    }
}
