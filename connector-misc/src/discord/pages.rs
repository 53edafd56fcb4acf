//! The walk: servers → channels → messages in fixed time buckets (read with `after`
//! snowflakes), then the channel's public threads (one document each), as checkpointed
//! batches on core's [`fetch_items`]; the id listing and the refetch of named documents.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use connector_core::pages::{PendingItem, fetch_items};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::SOURCE;
use super::access::{channel_access, permissions, read_permissions};
use super::checkpoint::{ChannelCursor, DiscordCheckpoint, GuildCursor, Stage};
use super::client::{Client, PAGE};
use super::convert::{
    Bucket, ChannelInfo, Names, bucket_id, bucket_outcome, bucket_version, said, thread_id,
    thread_outcome, thread_version,
};
use super::model::Channel;
use super::snowflake::{Buckets, first_at, time_of};

/// Threads read at the same time within a batch.
const CONCURRENCY: usize = 4;
/// Threads per batch (and checkpoint).
const THREAD_BATCH: usize = 20;

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    /// Configured server ids; empty: every server of the bot.
    pub(crate) servers: Vec<String>,
    /// Channel names (lower case); empty: every channel.
    pub(crate) channel_names: Vec<String>,
    pub(crate) buckets: Buckets,
    pub(crate) lookback: TimeDelta,
    pub(crate) threads: bool,
    pub(crate) start_date: Option<DateTime<Utc>>,
    /// The one channel (by id) of a discovered partition, within the one configured
    /// server; none for the whole scope.
    pub(crate) only_channel: Option<String>,
}

/// A server as the walk needs it: its readable channels in scope (by id) and its active
/// threads.
struct GuildInfo {
    channels: Vec<Arc<ChannelInfo>>,
    active_threads: Vec<Channel>,
    /// The failure of a discovered partition whose channel is gone from the scope.
    missing: Option<Failure>,
}

/// A thread with its messages, oldest first, or the error reading them.
type ThreadRead = (Channel, Result<Vec<(u64, Value)>>);

/// The reading of one channel's messages bucket by bucket, from an `after` snowflake to an
/// end (exclusive) snowflake.
struct BucketRead {
    channel: String,
    after: u64,
    end: Option<u64>,
    pending: Option<Bucket>,
    done: bool,
}

impl BucketRead {
    /// The next buckets that are complete (or, at the end, the last one) and the `after`
    /// snowflake to resume from once they are handed on; none when the channel is read.
    async fn next(
        &mut self,
        client: &Client,
        buckets: Buckets,
    ) -> Result<Option<(Vec<Bucket>, u64)>> {
        let mut complete = Vec::new();
        while !self.done && complete.is_empty() {
            let page = client.messages_after(&self.channel, self.after).await?;
            let full = page.len() >= PAGE;
            let before = self.after;
            for (id, value) in page {
                if id <= self.after {
                    continue;
                }
                if self.end.is_some_and(|end| id >= end) {
                    self.done = true;
                    break;
                }
                self.after = id;
                if !said(&value) {
                    continue;
                }
                let start = buckets.of_id(id);
                match &mut self.pending {
                    Some(b) if b.start == start => b.messages.push((id, value)),
                    _ => {
                        let fresh = Bucket {
                            start,
                            messages: vec![(id, value)],
                        };
                        if let Some(b) = self.pending.replace(fresh) {
                            complete.push(b);
                        }
                    }
                }
            }
            if !full {
                self.done = true;
            } else if !self.done && self.after == before {
                return Err(Error::invalid_data(format!(
                    "the messages of channel {} after {before} did not move on",
                    self.channel
                ))
                .with_connector(SOURCE));
            }
        }
        if self.done {
            complete.extend(self.pending.take());
        }
        if complete.is_empty() {
            return Ok(None);
        }
        let resume = match &self.pending {
            Some(b) => first_at(b.start).saturating_sub(1),
            None => self.after,
        };
        Ok(Some((complete, resume)))
    }
}

fn snowflake(field: &str, s: &str) -> Result<u64> {
    s.parse::<u64>().map_err(|_| {
        Error::checkpoint(format!("the checkpoint's {field} {s:?} is not a snowflake"))
    })
}

impl Walk {
    fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            ..self.clone()
        }
    }

    /// The servers to read, by id: the configured ones, else every server of the bot.
    async fn guild_ids(&self) -> Result<Vec<String>> {
        if self.servers.is_empty() {
            self.client.guild_ids().await
        } else {
            Ok(self.servers.clone())
        }
    }

    /// A server's error, naming `server_ids` when it is missing or hidden from the bot.
    pub(crate) fn named_guild_error(&self, guild: &str, e: Error) -> Error {
        if !matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) {
            return e;
        }
        let at = self
            .servers
            .iter()
            .position(|s| s == guild)
            .map_or_else(|| "server_ids".to_owned(), |i| format!("server_ids[{i}]"));
        Error::new(
            ErrorKind::NotFound,
            format!("the server {guild} does not exist, or the bot is not in it"),
        )
        .with_connector(SOURCE)
        .with_field(at)
        .with_cause(e)
    }

    /// The server `guild`: its channels the bot may read (View Channel and Read Message
    /// History, computed from its roles and the overwrites) and whose names are configured,
    /// each with who may read it; its active threads.
    async fn guild_info(&self, guild_id: &str) -> Result<GuildInfo> {
        self.guild_scope(guild_id, self.threads).await
    }

    /// The channels of each server in scope, as partition keys `{server}:{channel}`, in
    /// server then channel id order (what [`guild_info`](Self::guild_info) selects, without
    /// the active threads, which stay with their channel).
    pub(crate) async fn channel_keys(&self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        for gid in self.guild_ids().await? {
            let info = self.guild_scope(&gid, false).await?;
            keys.extend(info.channels.iter().map(|c| format!("{gid}:{}", c.id)));
        }
        Ok(keys)
    }

    /// [`guild_info`](Self::guild_info), with the active threads listed when `threads`.
    async fn guild_scope(&self, guild_id: &str, threads: bool) -> Result<GuildInfo> {
        let named = |e| self.named_guild_error(guild_id, e);
        let guild = self.client.guild(guild_id).await.map_err(named)?;
        let me = self.client.me().await?;
        let member = self.client.member(guild_id, &me.id).await.map_err(named)?;
        let mut channels: Vec<Channel> = self.client.channels(guild_id).await.map_err(named)?;
        let active_threads = if threads {
            self.client.active_threads(guild_id).await.map_err(named)?
        } else {
            Vec::new()
        };
        let names = Arc::new(Names {
            roles: guild
                .roles
                .iter()
                .map(|r| (r.id.clone(), r.name.clone()))
                .collect(),
            channels: channels
                .iter()
                .chain(&active_threads)
                .filter_map(|c| Some((c.id.clone(), c.name.clone()?)))
                .collect(),
        });
        channels.retain(|c| c.has_messages() || c.has_threads());
        channels.sort_by_key(|c| c.id.parse::<u64>().unwrap_or(u64::MAX));
        let wanted = |c: &Channel| {
            self.only_channel.as_ref().is_none_or(|only| &c.id == only)
                && (self.channel_names.is_empty()
                    || c.name
                        .as_deref()
                        .is_some_and(|n| self.channel_names.contains(&n.to_lowercase())))
        };
        let mut out = Vec::new();
        for c in channels.iter().filter(|c| wanted(c)) {
            let need = read_permissions(c);
            if permissions(&guild, c, &member.roles, Some(&me.id)) & need != need {
                tracing::info!(connector = SOURCE, guild = %guild.id, channel = %c.shown_name(), "the bot may not read this channel's history; left out");
                continue;
            }
            out.push(Arc::new(ChannelInfo {
                guild_id: guild.id.clone(),
                guild_name: guild.name.clone(),
                id: c.id.clone(),
                name: c.shown_name().to_owned(),
                has_messages: c.has_messages(),
                has_threads: c.has_threads(),
                last_message_id: c.last_message_id.as_deref().and_then(|s| s.parse().ok()),
                access: channel_access(&guild, c),
                names: Arc::clone(&names),
            }));
        }
        for name in &self.channel_names {
            if !channels
                .iter()
                .any(|c| c.name.as_deref().is_some_and(|n| n.to_lowercase() == *name))
            {
                tracing::warn!(connector = SOURCE, guild = %guild.id, channel = %name, "no channel of this name on the server");
            }
        }

        // A discovered partition whose channel is gone from the scope since (deleted,
        // renamed out of `channel_names`, no longer readable by the bot): a failure naming
        // it, so its job says why it holds nothing.
        let missing = self
            .only_channel
            .as_ref()
            .filter(|_| out.is_empty())
            .map(|only| {
                Failure::new(
                    None,
                    ErrorKind::NotFound,
                    format!(
                        "channel {only} of server {} (a partition) is no longer in scope: deleted, renamed out of `channel_names`, or not readable by the bot",
                        guild.id
                    ),
                )
            });
        Ok(GuildInfo {
            channels: out,
            active_threads,
            missing,
        })
    }

    /// Where a window (widened by the edit look-back) or `start_date` starts.
    fn from(&self, window: Option<TimeWindow>) -> Option<DateTime<Utc>> {
        let from = window.map(|w| w.start - self.lookback);
        match (from, self.start_date) {
            (Some(f), Some(s)) => Some(f.max(s)),
            (f, s) => f.or(s),
        }
    }

    /// The read of `channel`'s messages from `cursor` (or the start of the window's first
    /// bucket) to the window's end; none when the channel has nothing after it.
    fn bucket_read(
        &self,
        channel: &ChannelInfo,
        cursor: Option<&str>,
        window: Option<TimeWindow>,
    ) -> Result<Option<BucketRead>> {
        let after = match cursor {
            Some(a) => snowflake("after", a)?,
            None => self.from(window).map_or(0, |t| {
                let bucket = first_at(self.buckets.start_of(t));
                let exact = self.start_date.map_or(0, first_at);
                bucket.max(exact).saturating_sub(1)
            }),
        };
        if channel.last_message_id.is_some_and(|last| last <= after) {
            return Ok(None);
        }
        // Whole buckets: to the end of the bucket the window's last instant is in.
        let end = window.map(|w| {
            let last = self.buckets.start_of(w.end - TimeDelta::milliseconds(1));
            first_at(self.buckets.end_of(last))
        });
        Ok(Some(BucketRead {
            channel: channel.id.clone(),
            after,
            end,
            pending: None,
            done: false,
        }))
    }

    /// The batch of these complete buckets with a message posted or edited in `window`, each
    /// whole (the bucket a channel is writing into goes out on every run while it grows, not
    /// once it has closed); unchanged ones (same messages and edit times) reported as such.
    async fn buckets_batch(
        &self,
        channel: &Arc<ChannelInfo>,
        buckets: Vec<Bucket>,
        window: Option<TimeWindow>,
        ctx: &SyncContext,
    ) -> Result<Batch> {
        let hours = self.buckets.span_hours();
        let in_window = move |b: &Bucket| window.is_none_or(|w| changed_in(&b.messages, w));
        let pending = buckets.into_iter().filter(in_window).map(|b| {
            let id = bucket_id(&channel.guild_id, &channel.id, b.start, hours);
            let version = bucket_version(channel, &b);
            PendingItem::new(id, b).with_version(&version)
        });
        let span = self.buckets;
        let ch = Arc::clone(channel);
        fetch_items(ctx, pending, 1, move |b: Bucket| {
            let outcome = bucket_outcome(&ch, &b, span);
            async move { Ok(outcome) }
        })
        .await
    }

    /// The public threads of `channel` (active and archived) active at or after the
    /// window's start (widened by the look-back) and made before its end, by id, after
    /// `after`; with the failure naming the channel when a whole page of its archived threads
    /// shares one archive instant (those archived then past that page cannot be listed).
    async fn threads_of(
        &self,
        channel: &ChannelInfo,
        active: &[Channel],
        window: Option<TimeWindow>,
        after: Option<&str>,
    ) -> Result<(Vec<Channel>, Option<Failure>)> {
        let from = self.from(window);
        let mut threads: Vec<Channel> = active
            .iter()
            .filter(|t| t.parent_id.as_deref() == Some(channel.id.as_str()))
            .cloned()
            .collect();
        let mut before: Option<DateTime<Utc>> = None;
        let mut seen = HashSet::new();
        // The instants a whole page of threads was archived at, with the threads listed there.
        let mut full: Vec<(DateTime<Utc>, usize)> = Vec::new();
        loop {
            let page = self.client.archived_threads(&channel.id, before).await?;
            let oldest = page
                .threads
                .iter()
                .filter_map(|t| t.thread_metadata.as_ref().map(|m| m.archive_timestamp))
                .min();
            let fresh = page
                .threads
                .iter()
                .filter(|t| seen.insert(t.id.clone()))
                .count();
            threads.extend(page.threads);
            // Newest archived first: a thread archived before the window's start has had no
            // message since.
            let past = matches!((oldest, from), (Some(o), Some(f)) if o < f);
            let Some(o) = oldest.filter(|_| page.has_more && !past) else {
                break;
            };
            // Discord pages by archive time alone and `before` is exclusive: threads archived
            // at the very instant of the page's oldest (a bulk archive) may go on past the
            // page's end, so the next page starts just after that instant (a microsecond,
            // Discord's precision), the page's oldest being listed again (kept once, by id).
            // A page that brought nothing new is a whole page archived at that one instant:
            // paging within it is impossible, so the walk steps past it rather than ask for
            // the same page forever, and the channel gets a failure saying what may be left
            // out (prune asks each thread it would delete by id: `confirm_gone`).
            let inclusive = o + TimeDelta::microseconds(1);
            let next = if fresh == 0 || before == Some(inclusive) {
                let listed = seen_at(&threads, o);
                tracing::warn!(
                    connector = SOURCE,
                    channel = %channel.id,
                    "a whole page of archived threads shares one archive time ({o}); threads archived then beyond the {listed} listed cannot be listed"
                );
                full.push((o, listed));
                o
            } else {
                inclusive
            };
            if before.is_some_and(|b| next >= b) {
                break;
            }
            before = Some(next);
        }
        let after = after.map(|a| snowflake("thread_after", a)).transpose()?;
        let end = window.map(|w| first_at(w.end));
        let from = from.map(first_at);
        threads.retain(|t| {
            let Ok(id) = t.id.parse::<u64>() else {
                return false;
            };
            let last = t
                .last_message_id
                .as_deref()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(id)
                .max(id);
            t.is_public_thread()
                && after.is_none_or(|a| id > a)
                && end.is_none_or(|e| id < e)
                && from.is_none_or(|f| last >= f)
        });
        threads.sort_by_key(|t| t.id.parse::<u64>().unwrap_or(u64::MAX));
        threads.dedup_by(|a, b| a.id == b.id);
        Ok((threads, tie_failure(channel, &full)))
    }

    /// Every message of `thread`, oldest first.
    async fn thread_messages(&self, thread: &str) -> Result<Vec<(u64, Value)>> {
        // A thread's messages are younger than the thread (a forum post's first message has
        // the thread's id).
        let start = thread.parse::<u64>().unwrap_or(1).saturating_sub(1);
        let mut read = BucketRead {
            channel: thread.to_owned(),
            after: start,
            end: None,
            pending: None,
            done: false,
        };
        let all = Buckets::whole();
        let mut out = Vec::new();
        while let Some((buckets, _)) = read.next(&self.client, all).await? {
            for b in buckets {
                out.extend(b.messages);
            }
        }
        Ok(out)
    }

    /// The batch of these threads with a message posted or edited in `window` (each whole).
    /// Each thread's messages are read first (up to [`CONCURRENCY`] at once): its version
    /// holds every message id and edit time, so an edit inside a thread is found (an edit
    /// moves neither the thread's `last_message_id` nor its `message_count`). A thread whose
    /// messages cannot be read is a failure of that thread.
    async fn threads_batch(
        &self,
        channel: &Arc<ChannelInfo>,
        threads: &[Channel],
        window: Option<TimeWindow>,
        ctx: &SyncContext,
    ) -> Result<Batch> {
        let walk = self.clone();
        let read: Vec<ThreadRead> = futures::stream::iter(threads.iter().cloned())
            .map(|t| {
                let walk = walk.clone();
                async move {
                    let messages = walk.thread_messages(&t.id).await;
                    (t, messages)
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let inside = move |(t, messages): &ThreadRead| {
            let (Some(w), Ok(messages)) = (window, messages) else {
                return true;
            };
            // A thread without a message is placed at its creation.
            if messages.is_empty() {
                t.id.parse::<u64>().is_ok_and(|id| w.contains(time_of(id)))
            } else {
                changed_in(messages, w)
            }
        };
        let pending = read.into_iter().filter(inside).map(|(t, messages)| {
            let id = thread_id(&channel.guild_id, &t.id);
            match messages {
                Ok(m) => {
                    let version = thread_version(channel, &t, &m);
                    PendingItem::new(id, (t, Ok(m))).with_version(&version)
                }
                Err(e) => PendingItem::new(id, (t, Err(e))),
            }
        });
        let ch = Arc::clone(channel);
        fetch_items(ctx, pending, 1, move |(t, messages): ThreadRead| {
            let outcome = messages.map(|m| thread_outcome(&ch, &t, &m));
            async move { outcome }
        })
        .await
    }

    /// The walk from `from` on, each page with the checkpoint after it.
    pub(super) fn checkpointed(
        &self,
        from: DiscordCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<DiscordCheckpoint>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let mut cp = from;
            for gid in walk.guild_ids().await? {
                if cp.guilds_done.contains(&gid) {
                    continue;
                }
                ctx.cancellation().check()?;
                let info = walk.guild_info(&gid).await?;
                if let Some(failure) = &info.missing {
                    let mut batch = Batch::default();
                    batch.failures.push(failure.clone());
                    yield CheckpointedBatch::new(batch, cp.clone());
                }
                let mut gc = match cp.current.take() {
                    Some(c) if c.guild == gid => c,
                    _ => GuildCursor { guild: gid.clone(), ..GuildCursor::default() },
                };
                for ch in &info.channels {
                    if gc.channels_done.contains(&ch.id) {
                        continue;
                    }
                    let mut cc = match gc.current.take() {
                        Some(c) if c.channel == ch.id => c,
                        _ => ChannelCursor { channel: ch.id.clone(), ..ChannelCursor::default() },
                    };
                    let read = if cc.stage == Stage::Messages && ch.has_messages {
                        walk.bucket_read(ch, cc.after.as_deref(), window)?
                    } else {
                        None
                    };
                    if let Some(mut read) = read {
                        loop {
                            ctx.cancellation().check()?;
                            let (buckets, resume) = match read.next(&walk.client, walk.buckets).await {
                                Ok(Some(next)) => next,
                                Ok(None) => break,
                                Err(e) => match channel_failure(ch, &e) {
                                    Some(failed) => {
                                        yield CheckpointedBatch::new(failed, cp.clone());
                                        break;
                                    }
                                    None => Err(e)?,
                                },
                            };
                            let batch = walk.buckets_batch(ch, buckets, window, &ctx).await?;
                            cc.after = Some(resume.to_string());
                            gc.current = Some(cc.clone());
                            cp.current = Some(gc.clone());
                            yield CheckpointedBatch::new(batch, cp.clone());
                        }
                    }
                    cc.stage = Stage::Threads;
                    cc.after = None;
                    if walk.threads && ch.has_threads {
                        let threads = match walk.threads_of(ch, &info.active_threads, window, cc.thread_after.as_deref()).await {
                            Ok((threads, None)) => threads,
                            Ok((threads, Some(failure))) => {
                                let mut failed = Batch::default();
                                failed.failures.push(failure);
                                yield CheckpointedBatch::new(failed, cp.clone());
                                threads
                            }
                            Err(e) => match channel_failure(ch, &e) {
                                Some(failed) => {
                                    yield CheckpointedBatch::new(failed, cp.clone());
                                    Vec::new()
                                }
                                None => Err(e)?,
                            },
                        };
                        for chunk in threads.chunks(THREAD_BATCH) {
                            ctx.cancellation().check()?;
                            let batch = walk.threads_batch(ch, chunk, window, &ctx).await?;
                            cc.thread_after = chunk.last().map(|t| t.id.clone());
                            gc.current = Some(cc.clone());
                            cp.current = Some(gc.clone());
                            yield CheckpointedBatch::new(batch, cp.clone());
                        }
                    }
                    gc.current = None;
                    gc.channels_done.push(ch.id.clone());
                    cp.current = Some(gc.clone());
                    yield CheckpointedBatch::new(Batch::default(), cp.clone());
                }
                cp.current = None;
                cp.guilds_done.push(gid);
                yield CheckpointedBatch::new(Batch::default(), cp.clone());
            }
        }
        .boxed()
    }

    /// Every document id in scope; fails, rather than come back short, when a page cannot be
    /// listed. Buckets are known only from their messages, so every message is listed (as a
    /// full run does, without converting them).
    pub(super) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let hours = walk.buckets.span_hours();
            for gid in walk.guild_ids().await? {
                let info = walk.guild_info(&gid).await?;
                for ch in &info.channels {
                    let read = if ch.has_messages { walk.bucket_read(ch, None, None)? } else { None };
                    if let Some(mut read) = read {
                        while let Some((buckets, _)) = read.next(&walk.client, walk.buckets).await? {
                            ctx.cancellation().check()?;
                            yield buckets
                                .iter()
                                .map(|b| SlimDocument::new(bucket_id(&ch.guild_id, &ch.id, b.start, hours)))
                                .collect::<Vec<_>>();
                        }
                    }
                    if walk.threads && ch.has_threads {
                        // Short of the threads past a whole page of one archive instant, if
                        // any: prune asks for each thread it would delete (`confirm_gone`).
                        let (threads, _) = walk.threads_of(ch, &info.active_threads, None, None).await?;
                        if !threads.is_empty() {
                            yield threads
                                .iter()
                                .map(|t| SlimDocument::new(thread_id(&ch.guild_id, &t.id)))
                                .collect::<Vec<_>>();
                        }
                    }
                }
            }
        }
        .boxed()
    }

    /// Of `ids` (held but not listed), those gone: every bucket (messages are listed whole)
    /// and id of no kind; a thread when Discord no longer has it, it is no longer a public
    /// thread of a channel in scope, or threads are not read. Each thread is asked by id
    /// (`GET /channels/{id}`), because the archived-thread listing cannot reach threads past
    /// a whole page archived at one instant.
    pub(super) async fn confirm_gone(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> Result<Vec<String>> {
        let walk = self.with_context(&ctx);
        let wanted: Option<&Vec<String>> = (!walk.servers.is_empty()).then_some(&walk.servers);
        let mut guilds: HashMap<String, Option<Arc<GuildInfo>>> = HashMap::new();
        let mut gone = Vec::new();
        for id in ids {
            ctx.cancellation().check()?;
            let Some(Target::Thread { guild, thread }) = parse_id(&id) else {
                gone.push(id);
                continue;
            };
            if !walk.threads || wanted.is_some_and(|w| !w.contains(&guild)) {
                gone.push(id);
                continue;
            }
            let info = match guilds.get(&guild) {
                Some(info) => info.clone(),
                None => {
                    let info = match walk.guild_info(&guild).await {
                        Ok(info) => Some(Arc::new(info)),
                        Err(e) if e.kind() == ErrorKind::NotFound => None,
                        Err(e) => return Err(e),
                    };
                    guilds.insert(guild.clone(), info.clone());
                    info
                }
            };
            let Some(info) = info else {
                gone.push(id);
                continue;
            };
            let kept = match walk.client.channel(&thread).await? {
                Some(t) => {
                    t.is_public_thread()
                        && info
                            .channels
                            .iter()
                            .any(|c| c.has_threads && Some(c.id.as_str()) == t.parent_id.as_deref())
                }
                None => false,
            };
            if !kept {
                gone.push(id);
            }
        }
        Ok(gone)
    }

    /// The documents with these ids again; an id that is not of a channel in scope, or a
    /// bucket or thread that is gone, yields nothing.
    pub(super) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let wanted: Option<Vec<String>> = (!walk.servers.is_empty()).then(|| walk.servers.clone());
            let mut guilds: HashMap<String, Arc<GuildInfo>> = HashMap::new();
            for id in ids {
                ctx.cancellation().check()?;
                let Some(target) = parse_id(&id) else { continue };
                let gid = target.guild().to_owned();
                if wanted.as_ref().is_some_and(|w| !w.contains(&gid)) {
                    continue;
                }
                let info = match guilds.get(&gid) {
                    Some(info) => Arc::clone(info),
                    None => {
                        let info = match walk.guild_info(&gid).await {
                            Ok(info) => Arc::new(info),
                            Err(e) if e.kind() == ErrorKind::NotFound => continue,
                            Err(e) => Err(e)?,
                        };
                        guilds.insert(gid.clone(), Arc::clone(&info));
                        info
                    }
                };
                match target {
                    Target::Bucket { channel, start, hours, .. } => {
                        if hours != walk.buckets.span_hours() || !walk.buckets.is_start(start) {
                            continue;
                        }
                        let Some(ch) = info.channels.iter().find(|c| c.id == channel && c.has_messages) else { continue };
                        let window = TimeWindow::new(start, walk.buckets.end_of(start)).ok();
                        let mut read = BucketRead {
                            channel: ch.id.clone(),
                            after: first_at(start).saturating_sub(1),
                            end: window.map(|w| first_at(w.end)),
                            pending: None,
                            done: false,
                        };
                        let mut found = Vec::new();
                        while let Some((buckets, _)) = read.next(&walk.client, walk.buckets).await? {
                            found.extend(buckets.into_iter().filter(|b| b.start == start));
                        }
                        if found.is_empty() {
                            continue;
                        }
                        let batch = walk.buckets_batch(ch, found, None, &ctx).await?;
                        yield batch;
                    }
                    Target::Thread { thread, .. } => {
                        if !walk.threads {
                            continue;
                        }
                        let Some(t) = walk.client.channel(&thread).await? else { continue };
                        let Some(ch) = info.channels.iter().find(|c| Some(c.id.as_str()) == t.parent_id.as_deref() && c.has_threads) else { continue };
                        if !t.is_public_thread() {
                            continue;
                        }
                        let batch = walk.threads_batch(ch, std::slice::from_ref(&t), None, &ctx).await?;
                        yield batch;
                    }
                }
            }
        }
        .boxed()
    }
}

/// How many of `threads` (listed so far) were archived at `at`.
fn seen_at(threads: &[Channel], at: DateTime<Utc>) -> usize {
    let mut ids: Vec<&str> = threads
        .iter()
        .filter(|t| {
            t.thread_metadata
                .as_ref()
                .is_some_and(|m| m.archive_timestamp == at)
        })
        .map(|t| t.id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// The failure of a channel whose archived-thread listing filled a whole page with threads of
/// one archive instant (each of `full`, with the threads listed then): Discord pages that
/// listing by archive time alone (`before`, exclusive), so threads archived at that very
/// instant past that page cannot be asked for. Named by the channel's id, so it is seen
/// rather than lost; none when no page was full.
fn tie_failure(channel: &ChannelInfo, full: &[(DateTime<Utc>, usize)]) -> Option<Failure> {
    if full.is_empty() {
        return None;
    }
    let instants: Vec<String> = full
        .iter()
        .map(|(at, listed)| {
            format!(
                "{} ({listed} listed)",
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            )
        })
        .collect();
    Some(Failure::new(
        Some(channel.doc_id()),
        ErrorKind::Unsupported,
        format!(
            "#{} ({}): a whole page of archived threads shares one archive time, {}; Discord lists archived threads by archive time alone, so threads archived at that instant past the first {PAGE} cannot be listed and may be missing",
            channel.name,
            channel.id,
            instants.join(", ")
        ),
    ))
}

/// A channel whose messages or threads cannot be listed for a reason of its own (the bot
/// lost access to it since the permissions were read, it was deleted meanwhile): a failure
/// naming the channel, and the walk goes on with the next. `None` for any other error, which
/// ends the sync.
fn channel_failure(channel: &ChannelInfo, e: &Error) -> Option<Batch> {
    if !matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) {
        return None;
    }
    tracing::warn!(connector = SOURCE, channel = %channel.name, error = %e, "the channel cannot be read; going on with the next");
    let mut batch = Batch::default();
    batch.failures.push(Failure::of_item(channel.doc_id(), e));
    Some(batch)
}

/// Whether one of these listed messages was posted or edited in `window`: its `timestamp`
/// (else, unreadable, the time of its id) or its `edited_timestamp`. Read from the listing,
/// so that a bucket with a message that cannot be parsed is still placed in time.
fn changed_in(messages: &[(u64, Value)], window: TimeWindow) -> bool {
    let at = |v: &Value, field: &str| {
        v.get(field)
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.to_utc())
    };
    messages.iter().any(|(id, v)| {
        window.contains(at(v, "timestamp").unwrap_or_else(|| time_of(*id)))
            || at(v, "edited_timestamp").is_some_and(|t| window.contains(t))
    })
}

/// What a document id names.
enum Target {
    Bucket {
        guild: String,
        channel: String,
        start: DateTime<Utc>,
        hours: i64,
    },
    Thread {
        guild: String,
        thread: String,
    },
}

impl Target {
    fn guild(&self) -> &str {
        match self {
            Self::Bucket { guild, .. } | Self::Thread { guild, .. } => guild,
        }
    }
}

/// `discord:{guild}:{channel}:{YYYYMMDDTHHMMZ}:{hours}h` or `discord:{guild}:{thread}`.
fn parse_id(id: &str) -> Option<Target> {
    let parts: Vec<&str> = id.strip_prefix("discord:")?.split(':').collect();
    let snow = |s: &str| s.parse::<u64>().ok().map(|_| s.to_owned());
    match parts.as_slice() {
        [guild, thread] => Some(Target::Thread {
            guild: snow(guild)?,
            thread: snow(thread)?,
        }),
        [guild, channel, start, hours] => {
            let start = chrono::NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%MZ")
                .ok()?
                .and_utc();
            Some(Target::Bucket {
                guild: snow(guild)?,
                channel: snow(channel)?,
                start,
                hours: hours.strip_suffix('h')?.parse().ok()?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_parse() {
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let id = bucket_id("1", "2", start, 24);
        assert_eq!(id, "discord:1:2:20260105T0000Z:24h");
        match parse_id(&id) {
            Some(Target::Bucket {
                guild,
                channel,
                start: s,
                hours,
            }) => {
                assert_eq!(
                    (guild.as_str(), channel.as_str(), s, hours),
                    ("1", "2", start, 24)
                );
            }
            _ => panic!("a bucket"),
        }
        match parse_id(&thread_id("1", "9")) {
            Some(Target::Thread { guild, thread }) => {
                assert_eq!((guild.as_str(), thread.as_str()), ("1", "9"))
            }
            _ => panic!("a thread"),
        }
        assert!(parse_id("discord:x:9").is_none());
        assert!(parse_id("slack:1:2").is_none());
    }
}
