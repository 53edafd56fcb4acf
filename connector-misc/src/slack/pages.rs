//! The walk: channels → `conversations.history` pages (Slack's cursor) → threads
//! (`conversations.replies`), as checkpointed batches on core's [`fetch_items`] (one
//! fingerprint lookup per page; an unchanged thread costs no replies request); the id
//! listing and the refetch of named threads.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use connector_core::pages::{
    KnownFingerprints, Outcome, PendingItem, Spawned, fetch_items, read_ahead,
};
use connector_core::{
    Access, Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::SOURCE;
use super::checkpoint::{ChannelCursor, SlackCheckpoint};
use super::client::Client;
use super::convert::{
    ChannelInfo, Names, thread_document, thread_id, thread_version, thread_version_read, user_ids,
};
use super::model::{AuthTest, Channel, Listed, Message, User, parse_ts, to_ts};

/// `conversations.replies` requests in flight at once.
const CONCURRENCY: usize = 4;
/// A page's items handled at once. A lone message needs no request, so the items are not
/// what is bounded (a lone message holding a slot until the threads before it are done left
/// half the slots of a page of alternating threads and lone messages idle): the requests are,
/// by [`Fetcher::requests`].
const ITEMS_AT_ONCE: usize = 8 * CONCURRENCY;

/// The failure of `channel` for an error opening it or reading its first page, when the
/// error concerns that channel alone: refused (`not_in_channel`, `is_archived`,
/// `ekm_access_denied`, `method_not_supported_for_channel_type`, ...) or gone
/// (`channel_not_found`). The sync goes on with the other channels.
///
/// # Errors
/// `e` itself for any other error: one that [ends the sync](ErrorKind::ends_sync), a scope
/// the token lacks (`missing_scope`: every channel would fail the same way), a rate limit or
/// an outage after the HTTP layer's retries, invalid data.
fn channel_failure(channel: &Channel, team: &AuthTest, e: Error) -> Result<Failure> {
    let own = match e.kind() {
        ErrorKind::PermissionDenied => !e.message().contains("missing_scope"),
        ErrorKind::NotFound => true,
        _ => false,
    };
    if !own {
        return Err(e);
    }
    let mut failure = Failure::new(
        None,
        e.kind(),
        format!(
            "#{} ({}) cannot be read: {}; check `channels` (or invite the bot)",
            channel.name,
            channel.id,
            // The fix is in the channel or `channels`, not the token (review #16).
            e.message()
                .replace(&format!("; check `{}`", super::config::TOKEN_FIELD), "")
        ),
    );
    let base = team.url.trim_end_matches('/');
    if !base.is_empty()
        && let Ok(link) = url::Url::parse(&format!("{base}/archives/{}", channel.id))
    {
        failure = failure.with_link(link);
    }
    Ok(failure)
}

/// Users looked up so far (`users.info`), shared by every stream of the connector: a user is
/// asked for once per connector, not once per thread. `None`: Slack does not know the id, or
/// the token may not read users. An async lock held over the lookups, so threads read at
/// the same time naming the same user ask for it once.
#[derive(Debug, Default)]
pub(crate) struct UserCache(tokio::sync::Mutex<HashMap<String, Option<Arc<User>>>>);

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    /// Channel names (or patterns) from the config, without `#`.
    pub(crate) names: Vec<String>,
    pub(crate) patterns: Arc<Vec<regex::Regex>>,
    pub(crate) join: bool,
    pub(crate) private: bool,
    pub(crate) archived: bool,
    pub(crate) bots: bool,
    pub(crate) lookback: TimeDelta,
    /// How far before a window's start a thread's latest reply makes its replies read again
    /// (for their edits).
    pub(crate) edit_lookback: TimeDelta,
    /// The cycle over which every listed thread with replies has them read again once (for
    /// edits in quiet threads); none: off.
    pub(crate) rescan: Option<TimeDelta>,
    pub(crate) users: Arc<UserCache>,
    /// The one channel (by id) of a discovered partition: the config's selection, narrowed
    /// to it; none for the whole scope.
    pub(crate) only: Option<String>,
}

/// The channels in scope, with the workspace, names for `<#C…>` and the failures of the
/// selection.
pub(crate) struct Scope {
    pub(crate) team: AuthTest,
    pub(crate) channels: Vec<Channel>,
    pub(crate) names: Arc<HashMap<String, String>>,
    pub(crate) failures: Vec<Failure>,
}

/// One thread of a page before its replies are fetched.
enum Pending {
    /// A message with no replies, with its version token: its document needs no further
    /// request.
    Lone(Box<Message>, String),
    /// A thread to read with `conversations.replies`; `window` when only a thread active in
    /// it is wanted (a reply seen in the channel whose parent is older than the listing).
    Thread {
        ts: String,
        window: Option<TimeWindow>,
    },
    Failed(Failure),
}

/// A page's thread fetches: what they share.
#[derive(Clone)]
struct Fetcher {
    walk: Arc<Walk>,
    channel: Arc<ChannelInfo>,
    names: Arc<HashMap<String, String>>,
    /// What the store holds for the page's threads: a thread read again for its replies'
    /// edits is unchanged when it holds the version read.
    known: Arc<KnownFingerprints>,
    /// Permits for `conversations.replies` requests: [`CONCURRENCY`] of them.
    requests: Arc<tokio::sync::Semaphore>,
}

impl Walk {
    fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            ..self.clone()
        }
    }

    /// The channels the config selects, in name order. A named channel (not a pattern) that
    /// is missing, or public without the bot in it while `join_public_channels` is off, is a
    /// failure of the selection; a selected public channel the bot is not in is joined when
    /// configured, else left out.
    pub(crate) async fn scope(&self) -> Result<Scope> {
        let team = self.client.auth_test().await?;
        // An org-wide install on Enterprise Grid lists one workspace at a time.
        let teams: Vec<Option<String>> = if team.is_enterprise_install {
            self.client.teams().await?.into_iter().map(Some).collect()
        } else {
            vec![None]
        };
        let mut listed: Vec<Channel> = Vec::new();
        for t in &teams {
            for mut c in self.channels_of(t.as_deref()).await? {
                if listed.iter().any(|l| l.id == c.id) {
                    continue;
                }
                if c.context_team_id.is_none() {
                    c.context_team_id.clone_from(t);
                }
                listed.push(c);
            }
        }
        let names: HashMap<String, String> = listed
            .iter()
            .map(|c| (c.id.clone(), c.name.clone()))
            .collect();
        let mut failures = Vec::new();
        let mut selected: Vec<Channel> = if self.names.is_empty() {
            listed
        } else if !self.patterns.is_empty() {
            listed
                .into_iter()
                .filter(|c| self.patterns.iter().any(|p| p.is_match(&c.name)))
                .collect()
        } else {
            for name in &self.names {
                if !listed.iter().any(|c| &c.name == name) {
                    failures.push(Failure::new(
                        None,
                        ErrorKind::NotFound,
                        format!(
                            "channel #{name} (in `channels`) is not in the workspace, is archived, or is private without the bot in it"
                        ),
                    ));
                }
            }
            listed
                .into_iter()
                .filter(|c| self.names.contains(&c.name))
                .collect()
        };
        // A discovered partition is its channel alone; one gone from the selection since
        // (deleted, archived, renamed out of a pattern, left by the bot while private) is a
        // failure naming it, so its job says why it holds nothing.
        if let Some(only) = &self.only {
            selected.retain(|c| &c.id == only);
            if selected.is_empty() {
                failures.push(Failure::new(
                    None,
                    ErrorKind::NotFound,
                    format!(
                        "channel {only} (a partition) is no longer among the channels `channels` selects: deleted, archived, renamed, or private without the bot in it"
                    ),
                ));
            }
        }
        let explicit = self.only.is_some() || (!self.names.is_empty() && self.patterns.is_empty());
        selected.retain(|c| {
            if c.is_member || (self.join && !c.is_private) {
                return true;
            }
            if explicit {
                failures.push(Failure::new(
                    None,
                    ErrorKind::PermissionDenied,
                    format!(
                        "the bot is not a member of #{} ({}): invite it, or set join_public_channels",
                        c.name, c.id
                    ),
                ));
            } else {
                tracing::debug!(connector = SOURCE, channel = %c.name, "the bot is not a member; left out");
            }
            false
        });
        selected.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(Scope {
            team,
            channels: selected,
            names: Arc::new(names),
            failures,
        })
    }

    /// The channels of the token (in `team`, for an org-wide install).
    async fn channels_of(&self, team: Option<&str>) -> Result<Vec<Channel>> {
        match self
            .client
            .channels(self.private, self.archived, team)
            .await
        {
            Ok(c) => Ok(c),
            // RAGFlow's fallback: without `groups:read`, public channels alone.
            Err(e) if self.private && e.kind() == ErrorKind::PermissionDenied => {
                tracing::warn!(connector = SOURCE, error = %e, "cannot list private channels; reading public channels only");
                self.client.channels(false, self.archived, team).await
            }
            Err(e) => Err(e),
        }
    }

    /// Makes sure the bot can read `channel` (joining it when configured and needed) and
    /// says who may read its threads, asked afresh on every run (so a change of membership
    /// or of visibility changes the version token of every thread of the channel):
    /// - a private channel: its members (`slack-user:{user_id}` each, from
    ///   `conversations.members`);
    /// - a public one: every member of its workspace (`slack-team:{team_id}`), of each
    ///   Enterprise Grid workspace it is shared into (`shared_team_ids`), and, when shared
    ///   with another organisation (Slack Connect, `is_ext_shared`), its members too, since
    ///   the outside ones belong to no team of ours.
    async fn open(&self, channel: &Channel, team: &AuthTest) -> Result<ChannelInfo> {
        if !channel.is_member && self.join && !channel.is_private {
            self.client.join(&channel.id).await?;
        }
        let home = channel
            .context_team_id
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| team.team_id.clone());
        let mut groups: Vec<String> = Vec::new();
        if !channel.is_private {
            if channel.shared_team_ids.is_empty() {
                groups.push(format!("slack-team:{home}"));
            } else {
                groups.extend(
                    channel
                        .shared_team_ids
                        .iter()
                        .map(|t| format!("slack-team:{t}")),
                );
            }
        }
        if channel.is_private || channel.is_ext_shared {
            groups.extend(
                self.client
                    .members(&channel.id)
                    .await?
                    .into_iter()
                    .map(|u| format!("slack-user:{u}")),
            );
        }
        groups.sort();
        groups.dedup();
        let access = Access::restricted(Vec::new(), groups);
        Ok(ChannelInfo::new(channel, &team.url, &home, access))
    }

    /// The `oldest` of a window's listing: the window's start, `thread_lookback_days` earlier.
    fn oldest(&self, window: Option<TimeWindow>) -> Option<DateTime<Utc>> {
        window.map(|w| w.start - self.lookback)
    }

    /// The walk from `from` on, each page with the checkpoint after it.
    ///
    /// A window `[start, end)` lists each channel's top-level messages from
    /// `start - thread_lookback_days` to `end` and keeps the threads whose latest activity
    /// (the parent's `ts`, or its `latest_reply`) falls in the window: Slack does not move a
    /// parent when a reply comes, so this is how new replies in older threads are found.
    pub(super) fn checkpointed(
        &self,
        from: SlackCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<SlackCheckpoint>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let mut cp = from;
            if window.is_some_and(|w| w.is_empty()) {
                return;
            }
            let scope = walk.scope().await?;
            if !cp.selection_reported {
                cp.selection_reported = true;
                if !scope.failures.is_empty() {
                    let mut batch = Batch::default();
                    batch.failures = scope.failures.clone();
                    yield CheckpointedBatch::new(batch, cp.clone());
                }
            }
            let oldest = walk.oldest(window).map(to_ts);
            let latest = window.map(|w| to_ts(w.end));
            // A lookup that remembers earlier runs is handed the listed threads outside the
            // window too, so a change the window cannot see (an edit) is found by its version.
            let remembers = ctx.fingerprints().remembers();
            for channel in &scope.channels {
                if cp.channels_done.contains(&channel.id) {
                    continue;
                }
                ctx.cancellation().check()?;
                let mut cur = match cp.current.take() {
                    Some(c) if c.channel == channel.id => c,
                    _ => ChannelCursor { channel: channel.id.clone(), cursor: None },
                };
                let info = match walk.open(channel, &scope.team).await {
                    Ok(info) => Arc::new(info),
                    Err(e) => {
                        let failure = channel_failure(channel, &scope.team, e)?;
                        cp.channels_done.push(channel.id.clone());
                        let mut batch = Batch::default();
                        batch.failures.push(failure);
                        yield CheckpointedBatch::new(batch, cp.clone());
                        continue;
                    }
                };
                let fetcher = Fetcher { walk: Arc::new(walk.clone()), channel: Arc::clone(&info), names: Arc::clone(&scope.names), known: Arc::default(), requests: Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)) };
                // Threads handed on this run from a reply whose parent is older than the
                // listing (several such replies name one thread).
                let mut seen: HashSet<String> = HashSet::new();
                // The next history page does not depend on this one's threads: it is listed
                // while they are read.
                let mut pages = read_ahead(walk.client.history_pages(
                    channel.id.clone(),
                    oldest.clone(),
                    latest.clone(),
                    cur.cursor.clone(),
                ));
                // Two pages in flight, each page's fingerprint lookup and replies fetched in a
                // task of its own, their requests within the channel's one gate of
                // `CONCURRENCY`: the next page's threads are read while the page before is
                // handed on (and written by the host), and while its slowest replies finish.
                // Handed on in order, each with the cursor after it.
                let mut in_flight: VecDeque<(Spawned<Result<Batch>>, Option<String>)> = VecDeque::new();
                // Whether the next page listed is the channel's first (an error there is the
                // channel's failure, not the run's).
                let mut first = cur.cursor.is_none();
                let mut listed_all = false;
                let mut failed: Option<Error> = None;
                loop {
                    while in_flight.len() < 2 && !listed_all && failed.is_none() {
                        ctx.cancellation().check()?;
                        let page = match pages.next().await {
                            None => {
                                listed_all = true;
                                break;
                            }
                            Some(Ok(page)) => page,
                            Some(Err(e)) => {
                                failed = Some(e);
                                break;
                            }
                        };
                        first = false;
                        let (messages, next) = (page.items, page.next.flatten());
                        let pending = walk.sort_page(&info, messages, window, remembers, &mut seen);
                        listed_all = next.is_none();
                        let fetch = fetcher.clone().fetch_page(ctx.clone(), pending, remembers);
                        in_flight.push_back((Spawned::spawn(fetch), next));
                    }
                    let Some((task, next)) = in_flight.pop_front() else { break };
                    let batch = task.join().await??;
                    match next {
                        Some(n) => {
                            cur.cursor = Some(n);
                            cp.current = Some(cur.clone());
                        }
                        None => {
                            cp.current = None;
                            cp.channels_done.push(channel.id.clone());
                        }
                    }
                    yield CheckpointedBatch::new(batch, cp.clone());
                }
                // The channel's first page: it cannot be read at all (left, deleted,
                // archived, EKM); the others go on. Later pages' errors end the run, after
                // the pages listed before them are handed on.
                if let Some(e) = failed {
                    let e = if first { e } else { Err(e)? };
                    let failure = channel_failure(channel, &scope.team, e)?;
                    cp.current = None;
                    cp.channels_done.push(channel.id.clone());
                    let mut batch = Batch::default();
                    batch.failures.push(failure);
                    yield CheckpointedBatch::new(batch, cp.clone());
                }
            }
        }
        .boxed()
    }

    /// The threads of a listed page to read.
    fn sort_page(
        &self,
        info: &Arc<ChannelInfo>,
        values: Vec<Listed>,
        window: Option<TimeWindow>,
        remembers: bool,
        seen: &mut HashSet<String>,
    ) -> Vec<PendingItem<Pending>> {
        let oldest = self.oldest(window);
        let edit_from = window
            .filter(|_| self.edit_lookback > TimeDelta::zero())
            .map(|w| w.start - self.edit_lookback);
        let mut pending = Vec::new();
        for listed in values {
            let m = match listed {
                Ok(m) => m,
                Err((value, e)) => {
                    let ts = value
                        .get("thread_ts")
                        .or_else(|| value.get("ts"))
                        .and_then(Value::as_str);
                    let id = ts.map(|ts| thread_id(&info.id, ts));
                    let mut failure = Failure::new(
                        id.clone(),
                        ErrorKind::InvalidData,
                        format!(
                            "{} (a message of #{}) cannot be read: {e}",
                            id.as_deref().unwrap_or("a message without ts"),
                            info.name
                        ),
                    );
                    if let Some(link) = ts.and_then(|ts| info.message_link(ts)) {
                        failure = failure.with_link(link);
                    }
                    pending.push(PendingItem::new(
                        id.unwrap_or_default(),
                        Pending::Failed(failure),
                    ));
                    continue;
                }
            };
            if m.is_reply() {
                // A reply also sent to the channel: its thread is listed through its parent,
                // unless the parent is older than what this listing reaches.
                let parent = m.thread().to_owned();
                let parent_listed = match (oldest, parse_ts(&parent)) {
                    (None, _) => true,
                    (Some(o), Some(p)) => p >= o,
                    (Some(_), None) => false,
                };
                if parent_listed || !seen.insert(parent.clone()) {
                    continue;
                }
                let id = thread_id(&info.id, &parent);
                pending.push(PendingItem::new(id, Pending::Thread { ts: parent, window }));
                continue;
            }
            // The window decides alone only when nothing is remembered (a bare poll): a
            // remembering lookup skips an unchanged thread by its version, and finds one
            // whose change moved nothing the window sees (review #4).
            if let Some(w) = window
                && !remembers
                && !m.activity().is_some_and(|t| w.contains(t))
            {
                continue;
            }
            let id = thread_id(&info.id, &m.ts);
            let version = thread_version(info, &m);
            let has_replies = m.reply_count.unwrap_or(0) > 0 || m.latest_reply.is_some();
            if has_replies {
                let ts = m.ts.clone();
                // A recent reply may have been edited since, which the listing cannot show:
                // its replies are read, whatever the listing's version says; so are those of
                // a thread whose turn of the re-scan falls in the window.
                let reread = remembers
                    && (edit_from.is_some_and(|f| {
                        m.latest_reply
                            .as_deref()
                            .and_then(parse_ts)
                            .is_some_and(|t| t >= f)
                    }) || self.rescan_due(&id, window));
                let item = PendingItem::new(id, Pending::Thread { ts, window: None });
                pending.push(if reread {
                    item
                } else {
                    item.with_version(&version)
                });
            } else if !m.is_noise(self.bots) {
                let item = PendingItem::new(id, Pending::Lone(Box::new(m), version.clone()));
                pending.push(item.with_version(&version));
            }
        }
        pending
    }

    /// Whether the thread `id`'s turn of the re-scan (`reply_rescan_days`) falls in `window`:
    /// its turn is a point of the cycle set by a stable hash of its id, so consecutive
    /// windows give every thread one turn per cycle, spread evenly over the cycle.
    fn rescan_due(&self, id: &str, window: Option<TimeWindow>) -> bool {
        let (Some(cycle), Some(w)) = (self.rescan, window) else {
            return false;
        };
        let cycle = cycle.num_seconds();
        let (start, len) = (w.start.timestamp(), (w.end - w.start).num_seconds());
        if cycle <= 0 || len >= cycle {
            return cycle > 0;
        }
        // FNV-1a: the same turn on every run and every build.
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let turn = i64::try_from(hash % cycle.unsigned_abs()).unwrap_or(0);
        // The first time at or after the window's start that is the thread's turn.
        (turn - start).rem_euclid(cycle) < len
    }

    /// Names for the users `messages` name, from the cache or `users.info`.
    async fn names_for(
        &self,
        messages: &[Message],
        channels: &Arc<HashMap<String, String>>,
    ) -> Result<Names> {
        let mut ids = Vec::new();
        for m in messages {
            user_ids(m, &mut ids);
        }
        ids.sort();
        ids.dedup();
        let mut users = HashMap::new();
        let mut cache = self.users.0.lock().await;
        for id in ids {
            let user = match cache.get(&id) {
                Some(u) => u.clone(),
                None => {
                    let u = match self.client.user(&id).await {
                        Ok(u) => u.map(Arc::new),
                        // Without `users:read` names stay ids; the threads still come.
                        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                            tracing::debug!(connector = SOURCE, error = %e, "cannot read users");
                            None
                        }
                        Err(e) => return Err(e),
                    };
                    cache.insert(id.clone(), u.clone());
                    u
                }
            };
            if let Some(u) = user {
                users.insert(id, u);
            }
        }
        drop(cache);
        Ok(Names {
            users,
            channels: Arc::clone(channels),
        })
    }

    /// Every document id in scope; fails, rather than come back short, when a page cannot be
    /// listed.
    pub(super) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let scope = walk.scope().await?;
            for channel in &scope.channels {
                if !channel.is_member && walk.join && !channel.is_private {
                    walk.client.join(&channel.id).await?;
                }
                let mut pages = read_ahead(walk.client.history_pages(channel.id.clone(), None, None, None));
                while let Some(page) = pages.next().await {
                    ctx.cancellation().check()?;
                    let messages = page?.items;
                    let ids: Vec<SlimDocument> = messages
                        .into_iter()
                        .filter_map(std::result::Result::ok)
                        .filter(|m| !m.is_reply())
                        .filter(|m| m.reply_count.unwrap_or(0) > 0 || m.latest_reply.is_some() || !m.is_noise(walk.bots))
                        .map(|m| SlimDocument::new(thread_id(&channel.id, &m.ts)))
                        .collect();
                    if !ids.is_empty() {
                        yield ids;
                    }
                }
            }
        }
        .boxed()
    }

    /// The threads with these document ids again; an id of a channel out of scope, or a
    /// thread that is gone, yields nothing.
    pub(super) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let scope = walk.scope().await?;
            let mut opened: HashMap<String, Arc<ChannelInfo>> = HashMap::new();
            for chunk in ids.chunks(100) {
                let mut by_channel: Vec<(Arc<ChannelInfo>, Vec<PendingItem<Pending>>)> = Vec::new();
                for id in chunk {
                    let Some((channel_id, ts)) = id.split_once("__") else { continue };
                    let Some(channel) = scope.channels.iter().find(|c| c.id == channel_id) else { continue };
                    if parse_ts(ts).is_none() {
                        continue;
                    }
                    let info = match opened.get(channel_id) {
                        Some(i) => Arc::clone(i),
                        None => {
                            let i = Arc::new(walk.open(channel, &scope.team).await?);
                            opened.insert(channel_id.to_owned(), Arc::clone(&i));
                            i
                        }
                    };
                    let item = PendingItem::new(id.clone(), Pending::Thread { ts: ts.to_owned(), window: None });
                    match by_channel.iter_mut().find(|(c, _)| c.id == info.id) {
                        Some((_, items)) => items.push(item),
                        None => by_channel.push((info, vec![item])),
                    }
                }
                for (info, items) in by_channel {
                    let f = Fetcher { walk: Arc::new(walk.clone()), channel: info, names: Arc::clone(&scope.names), known: Arc::default(), requests: Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)) };
                    let batch = fetch_items(&ctx, items, ITEMS_AT_ONCE, move |item| f.clone().fetch(item)).await?;
                    if !batch.is_empty() {
                        yield batch;
                    }
                }
            }
        }
        .boxed()
    }
}

impl Fetcher {
    /// One page's batch: its threads' fingerprints asked of the host when it remembers
    /// earlier runs, then each thread fetched (at most [`ITEMS_AT_ONCE`] at a time, their
    /// requests within [`Fetcher::requests`]).
    async fn fetch_page(
        mut self,
        ctx: SyncContext,
        pending: Vec<PendingItem<Pending>>,
        remembers: bool,
    ) -> Result<Batch> {
        if remembers {
            let ids: Vec<String> = pending
                .iter()
                .filter(|p| matches!(p.value, Pending::Thread { .. }))
                .map(|p| p.id.clone())
                .collect();
            self.known = Arc::new(KnownFingerprints::lookup(&ctx, &ids).await?);
        }
        fetch_items(&ctx, pending, ITEMS_AT_ONCE, move |item| {
            self.clone().fetch(item)
        })
        .await
    }

    /// One thread's outcome: its document, its failure, or nothing (all noise, gone, or not
    /// active in the window asked).
    async fn fetch(self, item: Pending) -> Result<Option<Outcome>> {
        let channel = &self.channel;
        let (ts, window) = match item {
            Pending::Failed(f) => return Ok(Some(f.into())),
            Pending::Lone(m, version) => {
                let messages = vec![*m];
                let names = self.walk.names_for(&messages, &self.names).await?;
                let ts = messages[0].ts.clone();
                return Ok(Some(
                    thread_document(channel, &ts, &messages, None, &names, &version).into(),
                ));
            }
            Pending::Thread { ts, window } => (ts, window),
        };
        let permit = self.requests.acquire().await.map_err(|e| {
            Error::internal("the replies permits were closed")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        let values = match self.walk.client.replies(&channel.id, &ts).await {
            Ok(v) => v,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        drop(permit);
        let mut all: Vec<Message> = Vec::with_capacity(values.len());
        for listed in values {
            match listed {
                // Slack repeats the parent at the head of every page of a long thread.
                Ok(m) if all.iter().any(|a| a.ts == m.ts) => {}
                Ok(m) => all.push(m),
                Err((_, e)) => {
                    let id = thread_id(&channel.id, &ts);
                    let mut failure = Failure::new(
                        Some(id.clone()),
                        ErrorKind::InvalidData,
                        format!("{id} (a thread of #{}) cannot be read: {e}", channel.name),
                    );
                    if let Some(link) = channel.message_link(&ts) {
                        failure = failure.with_link(link);
                    }
                    return Ok(Some(failure.into()));
                }
            }
        }
        let latest = all.iter().filter_map(|m| parse_ts(&m.ts)).max();
        if let Some(w) = window
            && !latest.is_some_and(|t| w.contains(t))
        {
            return Ok(None);
        }
        let version = all
            .iter()
            .find(|m| m.ts == ts)
            .map(|parent| thread_version_read(channel, parent, &all))
            .unwrap_or_default();
        let id = thread_id(&channel.id, &ts);
        if self.known.has_version(&id, &version) {
            return Ok(Some(Outcome::Unchanged(id)));
        }
        let kept: Vec<Message> = all
            .into_iter()
            .filter(|m| !m.is_noise(self.walk.bots))
            .collect();
        if kept.is_empty() {
            return Ok(None);
        }
        let names = self.walk.names_for(&kept, &self.names).await?;
        Ok(Some(
            thread_document(channel, &ts, &kept, latest, &names, &version).into(),
        ))
    }
}
