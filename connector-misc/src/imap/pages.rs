//! The runs: one login, then each mailbox in turn (`EXAMINE`, one `UID SEARCH`, then `UID
//! FETCH` of the listing items and of the bodies in chunks, both in one fetch when the
//! fingerprint lookup remembers nothing), as checkpointed batches; the id listing for prune;
//! the check.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use async_imap::imap_proto::AttributeValue;
use chrono::{DateTime, Duration as Days, Utc};
use connector_core::pages::{ConvertAhead, KnownFingerprints, Outcome, read_ahead};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::checkpoint::{ImapCheckpoint, MailboxMark};
use super::client::{self, Server, Session};
use super::convert::{self, Place};
use super::model::{BODY_ITEMS, FOLDED_ITEMS, LEAN_LISTING_ITEMS, LISTING_ITEMS, Listed, body_of};

/// Message bytes (`RFC822.SIZE`) after which a page is handed on in parts, each with the
/// checkpoint after its last message, so a page of large messages never sits in memory
/// whole (a single larger message goes alone).
const PART_BYTES: u64 = 32 * 1024 * 1024;

/// UIDs per listing fetch of [`list_ids`].
const LIST_CHUNK: usize = 1000;

/// Waits for a throttling server ("try again later") before a command is given up.
const MAX_THROTTLED: u32 = 4;

/// Everything a run needs; shared by the streams of a connector.
#[derive(Debug)]
pub(crate) struct Reader {
    pub(crate) server: Server,
    /// `imap_mailbox`; empty: every mailbox `LIST` shows but `\All`, `\Junk` and `\Trash`.
    pub(crate) mailboxes: Vec<String>,
    pub(crate) page_size: usize,
    pub(crate) max_message_size: u64,
    pub(crate) attachment_cap: u64,
    pub(crate) poll_range_days: Option<u32>,
    /// The mailbox owner's address (`owner_email`, else the login).
    pub(crate) owner: String,
    /// The `link` template (`web_link`).
    pub(crate) web_link: Option<String>,
}

/// An IMAP date (`SINCE`, `BEFORE`): days only, in English.
fn imap_date(t: DateTime<Utc>) -> String {
    t.format("%d-%b-%Y").to_string()
}

/// Which messages of a mailbox a run reads, after the UIDs already done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every UID after the mark the last run left: new arrivals, whatever their date.
    Arrivals,
    /// The messages that arrived (`INTERNALDATE`) in the window: a window given to a run that
    /// continues none.
    Window(TimeWindow),
    /// Everything, or the last `poll_range` days of it.
    All(Option<DateTime<Utc>>),
}

/// The `UID SEARCH` of a mailbox: the UIDs after `after`; for a window or `poll_range`, within
/// the dates widened to whole days with a day to spare each way (IMAP compares dates
/// "disregarding time and timezone", in the server's zone); the listing then filters by
/// `INTERNALDATE` exactly.
fn search_query(after: u32, scope: Scope) -> String {
    let mut query = format!("UID {}:*", after.saturating_add(1));
    let (start, end) = match scope {
        Scope::Arrivals => (None, None),
        Scope::Window(w) => (Some(w.start), Some(w.end)),
        Scope::All(since) => (since, None),
    };
    if let Some(start) = start.and_then(|s| s.checked_sub_signed(Days::days(1))) {
        query.push_str(&format!(" SINCE {}", imap_date(start)));
    }
    if let Some(end) = end.and_then(|e| e.checked_add_signed(Days::days(2))) {
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

/// The failure of a message that could not even be listed: named by mailbox and UID.
fn unlisted_failure(mailbox: &str, uid: u32, err: &Error) -> Failure {
    Failure::new(
        None,
        err.kind(),
        format!(
            "message UID {uid} of mailbox {mailbox:?} could not be listed: {}",
            err.message()
        ),
    )
}

/// A set of UIDs still to fetch, and whether it was already tried again on a new connection.
type Todo = (Vec<u32>, bool);

impl Reader {
    /// The start of the mail a full read takes (`poll_range`), none for everything.
    fn poll_since(&self) -> Option<DateTime<Utc>> {
        self.poll_range_days
            .filter(|d| *d > 0)
            .and_then(|d| Utc::now().checked_sub_signed(Days::days(i64::from(d))))
    }

    /// The largest message a folded fetch reads with its listing: within the size cap, and
    /// small enough that a page of them stays within [`PART_BYTES`].
    fn fold_max(&self) -> u64 {
        let per_page = u64::try_from(self.page_size.max(1)).unwrap_or(u64::MAX);
        self.max_message_size.min(PART_BYTES / per_page)
    }

    fn place<'a>(&'a self, mailbox: &'a str, uid_validity: u32) -> Place<'a> {
        Place {
            host: &self.server.host,
            port: self.server.port,
            login: &self.server.username,
            owner: &self.owner,
            mailbox,
            uid_validity,
            attachment_cap: self.attachment_cap,
            web_link: self.web_link.as_deref(),
            imap_base: std::sync::OnceLock::new(),
        }
    }

    /// The mailboxes a run reads: `imap_mailbox`, or, when it is empty, every selectable
    /// mailbox but `\All`, `\Junk` and `\Trash` (INBOX first), as RAGFlow and Onyx read all.
    async fn mailboxes(&self, session: &mut Session, ctx: &SyncContext) -> Result<Vec<String>> {
        if !self.mailboxes.is_empty() {
            return Ok(self.mailboxes.clone());
        }
        let listed = client::list_mailboxes(&self.server, session).await?;
        ctx.stats().add_request();
        Ok(listed
            .into_iter()
            .filter(|l| l.selectable && !l.skipped_by_default)
            .map(|l| l.name)
            .collect())
    }

    /// `EXAMINE`; a mailbox that is not there is told with the names the server has.
    async fn examine(&self, session: &mut Session, mailbox: &str) -> Result<client::Selected> {
        match client::examine(&self.server, session, mailbox).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let known = client::list_mailboxes(&self.server, session)
                    .await
                    .map(|l| {
                        l.into_iter()
                            .filter(|m| m.selectable)
                            .map(|m| format!("{:?}", m.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                if known.is_empty() {
                    Err(e)
                } else {
                    Err(Error::new(
                        ErrorKind::NotFound,
                        format!("{}; the account has {known}", e.message()),
                    )
                    .with_field("imap_mailbox")
                    .with_connector(SOURCE))
                }
            }
            other => other,
        }
    }

    /// A new connection on `mailbox`, after the old one went out of step; an error if the
    /// mailbox's UIDVALIDITY changed meanwhile (its UIDs mean something else now).
    async fn reconnect(
        &self,
        session: &mut Session,
        mailbox: &str,
        validity: u32,
        ctx: &SyncContext,
    ) -> Result<()> {
        tracing::info!(
            connector = SOURCE,
            mailbox,
            "reconnecting after a broken or unreadable response"
        );
        let mut fresh = self.server.login().await?;
        ctx.stats().add_request();
        let selected = client::examine(&self.server, &mut fresh, mailbox).await?;
        ctx.stats().add_request();
        if selected.uid_validity != validity {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "the UIDVALIDITY of mailbox {mailbox:?} changed during the run; the next \
                     run reads it again"
                ),
            )
            .with_connector(SOURCE));
        }
        *session = fresh;
        Ok(())
    }

    /// What to do after a fetch of `set` ended with `err`: wait and try again when the
    /// server throttles, reconnect when the connection is out of step, then the same set
    /// again once (a lost connection), else its halves; `Ok(Some(uid))` for a single UID that
    /// cannot be fetched, with why.
    #[allow(clippy::too_many_arguments)]
    async fn recover(
        &self,
        session: &mut Session,
        mailbox: &str,
        validity: u32,
        ctx: &SyncContext,
        (set, retried): Todo,
        err: Error,
        broken: bool,
        throttled: &mut u32,
        todo: &mut Vec<Todo>,
    ) -> Result<Option<(u32, Error)>> {
        if err.kind() == ErrorKind::Unauthenticated {
            return Err(err);
        }
        if err.kind() == ErrorKind::RateLimited {
            *throttled += 1;
            if *throttled > MAX_THROTTLED {
                return Err(err);
            }
            let wait = err
                .retry_after()
                .unwrap_or(std::time::Duration::from_secs(1 << *throttled));
            tracing::warn!(
                connector = SOURCE,
                mailbox,
                ?wait,
                "the server throttles; waiting"
            );
            ctx.cancellation().check()?;
            tokio::time::sleep(wait).await;
            if broken {
                self.reconnect(session, mailbox, validity, ctx).await?;
            }
            todo.push((set, retried));
            return Ok(None);
        }
        if broken {
            self.reconnect(session, mailbox, validity, ctx).await?;
            // A lost connection says nothing about the messages: the same set again, once.
            if !retried && matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) {
                todo.push((set, true));
                return Ok(None);
            }
        }
        match set.len() {
            0 => Ok(None),
            1 => Ok(set.first().map(|u| (*u, err))),
            n => {
                let (a, b) = set.split_at(n / 2);
                todo.push((b.to_vec(), retried));
                todo.push((a.to_vec(), retried));
                Ok(None)
            }
        }
    }

    /// The listing of `uids`, by UID; a UID expunged since the search is simply absent. A
    /// chunk the server fails is split down to single UIDs; a single one is listed again
    /// without `BODYSTRUCTURE` (which some servers send malformed), and one that still fails
    /// is a failure naming it.
    async fn listing(
        &self,
        session: &mut Session,
        mailbox: &str,
        validity: u32,
        uids: &[u32],
        ctx: &SyncContext,
        failures: &mut Vec<Failure>,
    ) -> Result<Vec<Listed>> {
        let mut listed: Vec<Listed> = Vec::with_capacity(uids.len());
        let mut todo: Vec<Todo> = vec![(uids.to_vec(), false)];
        let mut throttled = 0;
        while let Some((set, retried)) = todo.pop() {
            if set.is_empty() {
                continue;
            }
            ctx.cancellation().check()?;
            let got = client::uid_fetch(
                &self.server,
                session,
                &client::uid_set(&set),
                LISTING_ITEMS,
                |attrs| Listed::from_fetch(mailbox, validity, attrs),
            )
            .await;
            ctx.stats().add_request();
            let before = listed.len();
            listed.extend(
                got.fetches
                    .into_iter()
                    .filter(|l| set.binary_search(&l.uid).is_ok()),
            );
            let Some(err) = got.error else { continue };
            let have: Vec<u32> = listed[before..].iter().map(|l| l.uid).collect();
            let missing: Vec<u32> = set.iter().copied().filter(|u| !have.contains(u)).collect();
            let Some((uid, err)) = self
                .recover(
                    session,
                    mailbox,
                    validity,
                    ctx,
                    (missing, retried),
                    err,
                    got.broken,
                    &mut throttled,
                    &mut todo,
                )
                .await?
            else {
                continue;
            };
            let lean = client::uid_fetch(
                &self.server,
                session,
                &uid.to_string(),
                LEAN_LISTING_ITEMS,
                |attrs| Listed::from_fetch(mailbox, validity, attrs),
            )
            .await;
            ctx.stats().add_request();
            match lean.fetches.into_iter().find(|l| l.uid == uid) {
                Some(l) => {
                    tracing::warn!(
                        connector = SOURCE,
                        mailbox,
                        uid,
                        error = %err,
                        "listed without BODYSTRUCTURE"
                    );
                    listed.push(l);
                }
                None => failures.push(unlisted_failure(
                    mailbox,
                    uid,
                    lean.error.as_ref().unwrap_or(&err),
                )),
            }
            if lean.broken {
                self.reconnect(session, mailbox, validity, ctx).await?;
            }
        }
        listed.sort_by_key(|l| l.uid);
        listed.dedup_by_key(|l| l.uid);
        Ok(listed)
    }

    /// The listing of `uids` with the bodies of those not in `large`, in one `UID FETCH` of
    /// the listing items and `BODY.PEEK[]` ([`FOLDED_ITEMS`]): for a run that reads every body
    /// anyway, one round trip per page instead of two. `large` (the UIDs over the fold's size,
    /// found by one `UID SEARCH ... LARGER` per mailbox) and whatever the folded fetch did not
    /// answer whole (an error, a message served without its body, a response that did not
    /// parse) go through [`listing`](Self::listing), whose splitting and recovery they then
    /// get, and their bodies through [`bodies`](Self::bodies) as usual.
    #[allow(clippy::too_many_arguments)]
    async fn listing_folded(
        &self,
        session: &mut Session,
        mailbox: &str,
        validity: u32,
        uids: &[u32],
        large: &[u32],
        ctx: &SyncContext,
        failures: &mut Vec<Failure>,
    ) -> Result<(Vec<Listed>, HashMap<u32, Vec<u8>>)> {
        let small: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| large.binary_search(u).is_err())
            .collect();
        let mut listed: Vec<Listed> = Vec::with_capacity(uids.len());
        let mut bodies = HashMap::with_capacity(small.len());
        if !small.is_empty() {
            ctx.cancellation().check()?;
            let got = client::uid_fetch(
                &self.server,
                session,
                &client::uid_set(&small),
                FOLDED_ITEMS,
                |attrs| {
                    // Whole or not at all: an answer without the ENVELOPE would give the
                    // message another id, one without the BODYSTRUCTURE other attachment ids.
                    let envelope = attrs
                        .iter()
                        .any(|a| matches!(a, AttributeValue::Envelope(_)));
                    let l = Listed::from_fetch(mailbox, validity, attrs)
                        .filter(|l| envelope && l.structured)?;
                    let body = body_of(attrs).map(|(_, b)| b);
                    Some((l, body))
                },
            )
            .await;
            ctx.stats().add_request();
            for (l, body) in got.fetches {
                if let (Some(body), Ok(_)) = (body, small.binary_search(&l.uid)) {
                    bodies.insert(l.uid, body);
                    listed.push(l);
                }
            }
            if let Some(err) = got.error {
                if err.kind() == ErrorKind::Unauthenticated {
                    return Err(err);
                }
                tracing::debug!(
                    connector = SOURCE,
                    mailbox,
                    error = %err,
                    "the folded fetch ended short; the rest is listed on its own"
                );
                if got.broken {
                    self.reconnect(session, mailbox, validity, ctx).await?;
                }
            }
        }
        let rest: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| !bodies.contains_key(u))
            .collect();
        if !rest.is_empty() {
            let more = self
                .listing(session, mailbox, validity, &rest, ctx, failures)
                .await?;
            listed.extend(more);
            listed.sort_by_key(|l| l.uid);
            listed.dedup_by_key(|l| l.uid);
        }
        Ok((listed, bodies))
    }

    /// The bodies of `uids` by UID, and the UIDs the server would not serve with why. A chunk
    /// the server fails is split down to single UIDs; a message it answers without a body
    /// (`BODY[] NIL`) is a failure unless it was expunged meanwhile.
    async fn bodies(
        &self,
        session: &mut Session,
        mailbox: &str,
        validity: u32,
        uids: &[u32],
        ctx: &SyncContext,
    ) -> Result<(HashMap<u32, Vec<u8>>, HashMap<u32, Error>)> {
        let mut bodies = HashMap::with_capacity(uids.len());
        let mut refused = HashMap::new();
        let mut todo: Vec<Todo> = vec![(uids.to_vec(), false)];
        let mut throttled = 0;
        while let Some((set, retried)) = todo.pop() {
            if set.is_empty() {
                continue;
            }
            ctx.cancellation().check()?;
            let got = client::uid_fetch(
                &self.server,
                session,
                &client::uid_set(&set),
                BODY_ITEMS,
                body_of,
            )
            .await;
            ctx.stats().add_request();
            for (uid, body) in got.fetches {
                if set.binary_search(&uid).is_ok() {
                    bodies.insert(uid, body);
                }
            }
            let missing: Vec<u32> = set
                .iter()
                .copied()
                .filter(|u| !bodies.contains_key(u))
                .collect();
            match got.error {
                None => {
                    if missing.is_empty() {
                        continue;
                    }
                    // No body and no error: expunged meanwhile, or the server sent NIL.
                    let still = client::uid_search(
                        &self.server,
                        session,
                        &format!("UID {}", client::uid_set(&missing)),
                    )
                    .await?;
                    ctx.stats().add_request();
                    for uid in missing.into_iter().filter(|u| still.contains(u)) {
                        refused.insert(
                            uid,
                            Error::new(
                                ErrorKind::InvalidData,
                                "the server sent no body for it (`BODY[] NIL`)",
                            )
                            .with_connector(SOURCE),
                        );
                    }
                }
                Some(err) => {
                    if let Some((uid, err)) = self
                        .recover(
                            session,
                            mailbox,
                            validity,
                            ctx,
                            (missing, retried),
                            err,
                            got.broken,
                            &mut throttled,
                            &mut todo,
                        )
                        .await?
                    {
                        refused.insert(uid, err);
                    }
                }
            }
        }
        Ok((bodies, refused))
    }
}

/// The `Message-ID`s met in a mailbox so far in a run (hashed), to tell a second message with
/// the same one from the first.
#[derive(Default)]
struct Seen {
    hashes: HashSet<u64>,
    /// Whether every message of the mailbox up to the current one was met (a read from UID 1
    /// without dates): then an unseen `Message-ID` is the first, else older UIDs are asked.
    complete: bool,
}

fn id_hash(message_id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    message_id.hash(&mut h);
    h.finish()
}

/// A `Message-ID` as an IMAP quoted string, `None` when it cannot be one.
fn quoted(message_id: &str) -> Option<String> {
    message_id
        .chars()
        .all(|c| c.is_ascii_graphic() || c == ' ')
        .then(|| {
            format!(
                "\"{}\"",
                message_id.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
}

impl Reader {
    /// Gives every message of `listed` (UID order) whose `Message-ID` a lower UID of the
    /// mailbox has the id of a duplicate: by what the run met, and, when it did not meet every
    /// lower UID, by one `UID SEARCH ... HEADER Message-ID` over them.
    async fn mark_duplicates(
        &self,
        session: &mut Session,
        mailbox: &str,
        validity: u32,
        listed: &mut [Listed],
        seen: &mut Seen,
        ctx: &SyncContext,
    ) -> Result<()> {
        let mut earlier: HashSet<String> = HashSet::new();
        let first = listed.first().map_or(0, |l| l.uid);
        if !seen.complete && first > 1 {
            let terms: Vec<String> = listed
                .iter()
                .filter_map(|l| l.message_id.as_deref())
                .filter(|m| !seen.hashes.contains(&id_hash(m)))
                .filter_map(|m| quoted(m).map(|q| format!("HEADER Message-ID {q}")))
                .collect();
            if !terms.is_empty() {
                let query = format!(
                    "UID 1:{} {}{}",
                    first - 1,
                    "OR ".repeat(terms.len() - 1),
                    terms.join(" ")
                );
                let found: Vec<u32> = client::uid_search(&self.server, session, &query)
                    .await?
                    .into_iter()
                    .filter(|u| *u < first)
                    .collect();
                ctx.stats().add_request();
                if !found.is_empty() {
                    let got = client::uid_fetch(
                        &self.server,
                        session,
                        &client::uid_set(&found),
                        "(UID ENVELOPE)",
                        |attrs| Listed::from_fetch(mailbox, validity, attrs),
                    )
                    .await;
                    ctx.stats().add_request();
                    if let Some(e) = got.error {
                        return Err(e);
                    }
                    earlier.extend(got.fetches.into_iter().filter_map(|l| l.message_id));
                }
            }
        }
        for l in listed.iter_mut() {
            let Some(m) = l.message_id.as_deref() else {
                continue;
            };
            let fresh = seen.hashes.insert(id_hash(m));
            if !fresh || earlier.contains(m) {
                l.make_duplicate(mailbox, validity);
            }
        }
        Ok(())
    }
}

/// Who a message is waiting for in a part.
enum Slot {
    Done(Vec<Outcome>),
    /// Listed and read in one fetch: converted when its part is handed on.
    Read(Listed, Vec<u8>),
    Fetch(Listed),
}

/// Where a run starts in a mailbox it opened with UIDVALIDITY `validity`: after which UID,
/// and which messages.
fn start_in(
    reader: &Reader,
    from: &ImapCheckpoint,
    mailbox: &str,
    validity: u32,
    resuming: bool,
    window: Option<TimeWindow>,
) -> (u32, Scope) {
    let mark = from
        .start
        .get(mailbox)
        .filter(|m| m.uid_validity == validity);
    let (mut after, scope) = match (mark, from.carried, window) {
        (Some(m), true, _) => (m.uid_next.saturating_sub(1), Scope::Arrivals),
        (_, false, Some(w)) => (0, Scope::Window(w)),
        _ => (0, Scope::All(reader.poll_since())),
    };
    if from.carried && mark.is_none() {
        tracing::info!(
            connector = SOURCE,
            mailbox,
            "no mark of the last run for this mailbox (new, or its UIDVALIDITY changed): \
             it is read in full"
        );
    }
    if resuming {
        if from.uid_validity == Some(validity) {
            after = after.max(from.after_uid);
        } else {
            tracing::warn!(
                connector = SOURCE,
                mailbox,
                was = ?from.uid_validity,
                now = validity,
                "UIDVALIDITY changed: the mailbox is read again from its first message"
            );
        }
    }
    (after, scope)
}

/// The run from `from` on, each page with the checkpoint valid after it.
///
/// Three things overlap: the session fetches part *n + 2* (in a task of its own,
/// [`read_ahead`]) while part *n + 1* is converted on the blocking pool ([`ConvertAhead`])
/// and the caller (the batch loop, its sink) takes part *n*. The next fetch depends on
/// nothing the caller does, and each part comes with the checkpoint valid after it, so
/// reading ahead commits nothing; at most three parts are in memory at once.
pub(super) fn checkpointed(
    reader: &Arc<Reader>,
    from: ImapCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<ImapCheckpoint>>> {
    read_ahead(session_parts(reader, from, window, ctx))
}

/// [`checkpointed`] on the session: the fetches in turn, each part's conversion one ahead.
fn session_parts(
    reader: &Arc<Reader>,
    from: ImapCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<ImapCheckpoint>>> {
    let reader = Arc::clone(reader);
    async_stream::try_stream! {
        ctx.cancellation().check()?;
        let mut session = reader.server.login().await?;
        ctx.stats().add_request();
        let mailboxes = reader.mailboxes(&mut session, &ctx).await?;
        let start = match &from.mailbox {
            None => 0,
            Some(name) => mailboxes.iter().position(|m| m == name).ok_or_else(|| {
                Error::checkpoint(format!(
                    "the checkpoint is in mailbox {name:?}, which is no longer read \
                     (`imap_mailbox`)"
                ))
                .with_connector(SOURCE)
            })?,
        };
        let mut next = from.next.clone();
        for (index, mailbox) in mailboxes.iter().enumerate().skip(start) {
            let selected = reader.examine(&mut session, mailbox).await?;
            ctx.stats().add_request();
            let validity = selected.uid_validity;
            let resuming = index == start && from.mailbox.is_some();
            let (after, scope) = start_in(&reader, &from, mailbox, validity, resuming, window);
            let uids: Vec<u32> = client::uid_search(&reader.server, &mut session, &search_query(after, scope))
                .await?
                .into_iter()
                .filter(|u| *u > after)
                .collect();
            ctx.stats().add_request();
            // Where the next run starts: UIDNEXT as the mailbox was opened (or, from a server
            // that does not tell it, after the highest UID found), so mail arriving while this
            // run reads is the next run's.
            let uid_next = selected
                .uid_next
                .unwrap_or_else(|| uids.last().map_or(after, |u| *u).saturating_add(1));
            next.insert(mailbox.clone(), MailboxMark { uid_validity: validity, uid_next });
            let checkpoint = |after_uid: u32, next: &BTreeMap<String, MailboxMark>| {
                let mut c = ImapCheckpoint::after(mailbox.clone(), validity, after_uid);
                c.start = from.start.clone();
                c.next = next.clone();
                c.carried = from.carried;
                c
            };
            // A run whose lookup remembers nothing reads every body: each page is listed and
            // read in one fetch (`listing_folded`), but for the messages over the fold's size,
            // found by one search, which are listed first so the size cap and the page's
            // parts hold before their bodies are read.
            let fold = !ctx.fingerprints().remembers();
            let large = if fold && !uids.is_empty() {
                let query = format!("{} LARGER {}", search_query(after, scope), reader.fold_max());
                let found = client::uid_search(&reader.server, &mut session, &query).await?;
                ctx.stats().add_request();
                found
            } else {
                Vec::new()
            };
            let place = reader.place(mailbox, validity);
            let mut seen = Seen {
                complete: after == 0 && scope == Scope::All(None),
                ..Seen::default()
            };
            let mut yielded = false;
            // Each part is converted off the session's path (parsing MIME, writing Markdown),
            // on the blocking pool, while the next part is fetched; the parts are still handed
            // on in order, each with its own checkpoint.
            let mut ahead = ConvertAhead::new();
            for chunk in uids.chunks(reader.page_size.max(1)) {
                ctx.cancellation().check()?;
                let last = chunk.last().copied().unwrap_or(after);
                let mut unlisted = Vec::new();
                let (mut listed, mut read) = if fold {
                    reader
                        .listing_folded(&mut session, mailbox, validity, chunk, &large, &ctx, &mut unlisted)
                        .await?
                } else {
                    let listed = reader
                        .listing(&mut session, mailbox, validity, chunk, &ctx, &mut unlisted)
                        .await?;
                    (listed, HashMap::new())
                };
                reader
                    .mark_duplicates(&mut session, mailbox, validity, &mut listed, &mut seen, &ctx)
                    .await?;
                let in_scope: Vec<Listed> = listed
                    .into_iter()
                    .filter(|l| match scope {
                        Scope::Window(w) => l.arrived.is_some_and(|t| in_window(t, w)),
                        Scope::All(Some(s)) => l.arrived.is_none_or(|t| t >= s),
                        Scope::All(None) | Scope::Arrivals => true,
                    })
                    .collect();
                // A folded run's lookup remembers nothing: nothing to ask.
                let known = if fold {
                    KnownFingerprints::default()
                } else {
                    let ids: Vec<String> = in_scope.iter().map(|l| l.id.clone()).collect();
                    KnownFingerprints::lookup(&ctx, &ids).await?
                };
                // Messages in UID order, each done already or waiting for its body; cut into
                // parts of at most PART_BYTES of bodies.
                let mut parts: Vec<(Vec<Slot>, u32)> = Vec::new();
                let mut current: Vec<Slot> =
                    unlisted.into_iter().map(|f| Slot::Done(vec![f.into()])).collect();
                let mut current_last = after;
                let mut bytes = 0u64;
                for l in in_scope {
                    let uid = l.uid;
                    let slot = if !fold && known.has_version(&l.id, &convert::version(&place, uid)) {
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
                        match read.remove(&uid) {
                            Some(raw) => Slot::Read(l, raw),
                            None => Slot::Fetch(l),
                        }
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
                            Slot::Done(_) | Slot::Read(..) => None,
                        })
                        .collect();
                    let (bodies, refused) = if wanted.is_empty() {
                        Default::default()
                    } else {
                        reader.bodies(&mut session, mailbox, validity, &wanted, &ctx).await?
                    };
                    let convert = {
                        let reader = Arc::clone(&reader);
                        let mailbox = mailbox.clone();
                        move || part_batch(&reader.place(&mailbox, validity), slots, bodies, refused)
                    };
                    yielded = true;
                    if let Some((batch, cp)) = ahead.push(checkpoint(checkpoint_uid, &next), convert).await? {
                        yield CheckpointedBatch::new(batch, cp);
                    }
                }
            }
            if let Some((batch, cp)) = ahead.finish().await? {
                yield CheckpointedBatch::new(batch, cp);
            }
            if !yielded {
                // Nothing to read here: the checkpoint still records this mailbox's mark.
                yield CheckpointedBatch::new(Batch::default(), checkpoint(after, &next));
            }
        }
        client::logout(&reader.server, &mut session).await;
    }
    .boxed()
}

/// The batch of a part: each slot's outcomes, in UID order; a message to fetch that did not
/// come is a failure when the server refused it, else it was expunged since the listing
/// (prune deals with it).
fn part_batch(
    place: &Place<'_>,
    slots: Vec<Slot>,
    mut bodies: HashMap<u32, Vec<u8>>,
    mut refused: HashMap<u32, Error>,
) -> Batch {
    let mut batch = Batch::default();
    for slot in slots {
        match slot {
            Slot::Done(outcomes) => outcomes.into_iter().for_each(|o| batch.push(o)),
            Slot::Read(l, raw) => {
                for outcome in convert::message_outcomes(place, &l, &raw) {
                    batch.push(outcome);
                }
            }
            Slot::Fetch(l) => {
                if let Some(raw) = bodies.remove(&l.uid) {
                    for outcome in convert::message_outcomes(place, &l, &raw) {
                        batch.push(outcome);
                    }
                } else if let Some(err) = refused.remove(&l.uid) {
                    batch.push(
                        convert::message_failure(
                            place,
                            &l,
                            err.kind(),
                            &format!("the server would not serve it: {}", err.message()),
                        )
                        .into(),
                    );
                }
                // Else expunged since the listing: prune deals with it.
            }
        }
    }
    batch
}

/// Every id a load could produce: each message's and its attachments', by `ENVELOPE` and
/// `BODYSTRUCTURE` (no body is read). Fails, rather than come back short, when a mailbox
/// cannot be read or a message cannot be listed at all (its document would be pruned).
pub(super) fn list_ids(
    reader: &Arc<Reader>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = Arc::clone(reader);
    async_stream::try_stream! {
        let mut session = reader.server.login().await?;
        ctx.stats().add_request();
        let mailboxes = reader.mailboxes(&mut session, &ctx).await?;
        for mailbox in &mailboxes {
            let selected = reader.examine(&mut session, mailbox).await?;
            ctx.stats().add_request();
            let uids = client::uid_search(&reader.server, &mut session, "ALL").await?;
            ctx.stats().add_request();
            let mut seen = Seen {
                complete: true,
                ..Seen::default()
            };
            for chunk in uids.chunks(LIST_CHUNK) {
                ctx.cancellation().check()?;
                let mut unlisted = Vec::new();
                let mut listed = reader
                    .listing(&mut session, mailbox, selected.uid_validity, chunk, &ctx, &mut unlisted)
                    .await?;
                reader
                    .mark_duplicates(&mut session, mailbox, selected.uid_validity, &mut listed, &mut seen, &ctx)
                    .await?;
                if let Some(f) = unlisted.first() {
                    Err(Error::new(f.kind, f.message.clone()).with_connector(SOURCE))?;
                }
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

/// What a document id names: a message of a mailbox, and, for an attachment, its section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    mailbox: String,
    /// The message's document id.
    message: String,
    /// The message's key after `{mailbox}:`: `<Message-ID>`, `<Message-ID>:uid:{hash}` (a
    /// later copy of the same Message-ID) or `uid:{hash}` (no Message-ID).
    key: String,
    /// The attachment's IMAP section, `None` for the message itself.
    section: Option<String>,
}

/// Whether `s` is an IMAP section number (`2`, `1.3`).
fn is_section(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `key` is a message key (see [`Named::key`]).
fn is_message_key(key: &str) -> bool {
    let hashed = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric());
    if let Some(h) = key.strip_prefix("uid:") {
        return hashed(h);
    }
    key.starts_with('<')
        && (key.ends_with('>') || key.rsplit_once(">:uid:").is_some_and(|(_, h)| hashed(h)))
}

/// What `id` names, among the ids of `mailboxes` (the longest mailbox whose `{mailbox}:`
/// starts it: names may hold `:`).
fn parse_id(id: &str, mailboxes: &[String]) -> Option<Named> {
    let mailbox = mailboxes
        .iter()
        .filter(|m| {
            id.len() > m.len() && id.starts_with(m.as_str()) && id[m.len()..].starts_with(':')
        })
        .max_by_key(|m| m.len())?;
    let rest = &id[mailbox.len() + 1..];
    if is_message_key(rest) {
        return Some(Named {
            mailbox: mailbox.clone(),
            message: id.to_owned(),
            key: rest.to_owned(),
            section: None,
        });
    }
    let (key, section) = rest.rsplit_once('/')?;
    (is_message_key(key) && is_section(section)).then(|| Named {
        mailbox: mailbox.clone(),
        message: format!("{mailbox}:{key}"),
        key: key.to_owned(),
        section: Some(section.to_owned()),
    })
}

/// The ids' outcomes again, message by message: each id's mailbox is opened, its message found
/// by what the id holds (by `UID SEARCH HEADER Message-ID` for a Message-ID, among its UIDs
/// by the hash of mailbox, UIDVALIDITY and UID otherwise), listed and downloaded, and only the
/// outcomes of the ids asked for are handed on. An id whose message is gone (expunged, or its
/// mailbox recreated with a new UIDVALIDITY) or that no mailbox read has yields nothing.
pub(super) fn refetch(
    reader: &Arc<Reader>,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let reader = Arc::clone(reader);
    async_stream::try_stream! {
        if ids.is_empty() {
            return;
        }
        ctx.cancellation().check()?;
        let mut session = reader.server.login().await?;
        ctx.stats().add_request();
        let mailboxes = reader.mailboxes(&mut session, &ctx).await?;
        // Message by message, in mailbox order, each with the ids asked of it.
        let mut wanted: BTreeMap<(String, String), (Named, HashSet<String>)> = BTreeMap::new();
        for id in &ids {
            let Some(named) = parse_id(id, &mailboxes) else {
                tracing::debug!(connector = SOURCE, id, "not an id of a mailbox read: skipped");
                continue;
            };
            wanted
                .entry((named.mailbox.clone(), named.message.clone()))
                .or_insert_with(|| (named.clone(), HashSet::new()))
                .1
                .insert(id.clone());
        }
        let mut open: Option<(String, u32)> = None;
        for ((mailbox, _), (named, asked)) in wanted {
            ctx.cancellation().check()?;
            let validity = match &open {
                Some((m, v)) if *m == mailbox => *v,
                _ => match reader.examine(&mut session, &mailbox).await {
                    Ok(selected) => {
                        ctx.stats().add_request();
                        open = Some((mailbox.clone(), selected.uid_validity));
                        selected.uid_validity
                    }
                    // The mailbox is gone: so are its messages (prune's).
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => Err(e)?,
                },
            };
            let Some(listed) = reader.find(&mut session, &named, validity, &ctx).await? else {
                continue;
            };
            let place = reader.place(&mailbox, validity);
            let mut batch = Batch::default();
            let outcomes = if let Some(size) = listed.size.filter(|s| *s > reader.max_message_size) {
                vec![convert::message_failure(
                    &place,
                    &listed,
                    ErrorKind::InvalidData,
                    &format!("{size} bytes, over `max_message_size` ({}); not downloaded", reader.max_message_size),
                )
                .into()]
            } else {
                let (mut bodies, mut refused) = reader
                    .bodies(&mut session, &mailbox, validity, &[listed.uid], &ctx)
                    .await?;
                match (bodies.remove(&listed.uid), refused.remove(&listed.uid)) {
                    (Some(raw), _) => convert::message_outcomes(&place, &listed, &raw),
                    (None, Some(err)) => vec![convert::message_failure(
                        &place,
                        &listed,
                        err.kind(),
                        &format!("the server would not serve it: {}", err.message()),
                    )
                    .into()],
                    (None, None) => Vec::new(),
                }
            };
            for outcome in outcomes {
                let id = match &outcome {
                    Outcome::Document(d) => Some(d.id.as_str()),
                    Outcome::Failure(f) => f.id.as_deref(),
                    Outcome::Unchanged(id) => Some(id.as_str()),
                };
                // A failure of the whole message answers for its attachments too.
                let whole = matches!(&outcome, Outcome::Failure(f) if f.id.as_deref() == Some(named.message.as_str()));
                if whole || id.is_some_and(|i| asked.contains(i)) {
                    batch.push(outcome);
                }
            }
            if !batch.is_empty() {
                yield batch;
            }
        }
        client::logout(&reader.server, &mut session).await;
    }
    .boxed()
}

impl Reader {
    /// The message `named` names in the open mailbox (UIDVALIDITY `validity`), as listed and
    /// with the id a run gives it; `None` when it is not there.
    async fn find(
        &self,
        session: &mut Session,
        named: &Named,
        validity: u32,
        ctx: &SyncContext,
    ) -> Result<Option<Listed>> {
        let mailbox = named.mailbox.as_str();
        let message_id = named.key.starts_with('<').then(|| {
            named
                .key
                .split_once(">:uid:")
                .map_or(named.key.clone(), |(m, _)| format!("{m}>"))
        });
        let candidates: Vec<u32> = match &message_id {
            Some(m) => match quoted(m) {
                Some(q) => {
                    client::uid_search(&self.server, session, &format!("HEADER Message-ID {q}"))
                        .await?
                }
                None => return Ok(None),
            },
            // No Message-ID: the UID whose hash the id holds.
            None => client::uid_search(&self.server, session, "ALL")
                .await?
                .into_iter()
                .filter(|u| {
                    super::model::message_doc_id(mailbox, validity, *u, None) == named.message
                })
                .collect(),
        };
        ctx.stats().add_request();
        if candidates.is_empty() {
            return Ok(None);
        }
        let mut failures = Vec::new();
        let listed = self
            .listing(session, mailbox, validity, &candidates, ctx, &mut failures)
            .await?;
        // The lowest UID with the Message-ID keeps the bare id; later copies get theirs by UID.
        let mut first = true;
        for mut l in listed {
            if l.message_id != message_id {
                continue;
            }
            if message_id.is_some() && !first {
                l.make_duplicate(mailbox, validity);
            }
            first = false;
            if l.id == named.message {
                return Ok(Some(l));
            }
        }
        Ok(None)
    }
}

/// Logs in and selects every mailbox.
pub(super) async fn check(reader: &Reader) -> Result<()> {
    let mut session = reader.server.login().await?;
    let mailboxes = reader.mailboxes(&mut session, &SyncContext::new()).await?;
    for mailbox in &mailboxes {
        reader.examine(&mut session, mailbox).await?;
    }
    client::logout(&reader.server, &mut session).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn ids_name_their_message_and_section() {
        let boxes = vec!["INBOX".to_owned(), "Work:Old".to_owned(), "Work".to_owned()];
        let named = parse_id("INBOX:<a/2@x>", &boxes).expect("message");
        assert_eq!((named.key.as_str(), named.section), ("<a/2@x>", None));
        let named = parse_id("INBOX:<a@x>/1.2", &boxes).expect("attachment");
        assert_eq!(named.message, "INBOX:<a@x>");
        assert_eq!(named.section.as_deref(), Some("1.2"));
        let named = parse_id("Work:Old:uid:0f3a", &boxes).expect("no Message-ID");
        assert_eq!(
            (named.mailbox.as_str(), named.key.as_str()),
            ("Work:Old", "uid:0f3a")
        );
        let named = parse_id("Work:<d@x>:uid:99ab/2", &boxes).expect("duplicate's attachment");
        assert_eq!(named.message, "Work:<d@x>:uid:99ab");
        assert_eq!(parse_id("Spam:<a@x>", &boxes), None);
        assert_eq!(parse_id("INBOX:something", &boxes), None);
    }

    #[test]
    fn searches_widen_windows_to_whole_days() {
        let w = TimeWindow::new(
            Utc.with_ymd_and_hms(2025, 3, 2, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 3, 5, 0, 0, 0).unwrap(),
        )
        .unwrap();
        assert_eq!(
            search_query(0, Scope::Window(w)),
            "UID 1:* SINCE 01-Mar-2025 BEFORE 07-Mar-2025"
        );
        assert_eq!(search_query(40, Scope::All(None)), "UID 41:*");
        // An incremental run goes by UID alone: an old INTERNALDATE is no reason to miss mail.
        assert_eq!(search_query(56, Scope::Arrivals), "UID 57:*");
    }
}
