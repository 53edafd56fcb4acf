//! The channel walk: message pages as checkpointed batches, the watched threads' replies, the
//! id listing, on core's [`fetch_items`] (one fingerprint lookup per page, unchanged threads
//! reported unchanged).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use connector_core::pages::{Outcome, PendingItem, fetch_items};
use connector_core::{
    Access, Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::SOURCE;
use super::checkpoint::{ChannelCursor, ChannelState, Phase, TeamsCheckpoint};
use super::convert::{
    ChannelInfo, thread_document, thread_id, thread_latest, thread_times, thread_version,
};
use super::model::{CHANNEL_FIELDS, Channel, ChatMessage, Member, TEAM_FIELDS, Team};
use crate::graph::{Delta, GraphClient, Page, escape};

/// Threads converted at the same time within a page (CPU work only: the listing has read
/// every reply).
const CONCURRENCY: usize = 4;

/// `410 Gone` answers taken in one channel before the run gives up on it.
const MAX_RESTARTS: u32 = 3;

/// Root messages a page asks for: Graph's most.
const PAGE_SIZE: &str = "50";

/// What a sync reads and how; cheap to clone (one per stream).
#[derive(Clone)]
pub(crate) struct Reader {
    pub(crate) graph: GraphClient,
    /// `teams`: names or ids; empty for every team.
    pub(crate) teams: Vec<String>,
    /// `channels`: names or ids; empty for every channel.
    pub(crate) channels: Vec<String>,
    pub(crate) permissions: bool,
    /// `reply_lookback_days`.
    pub(crate) lookback: TimeDelta,
    /// `max_watched_threads`: threads watched for new replies per channel, the most recently
    /// active kept.
    pub(crate) watched: usize,
    /// `include_images`: the images Teams holds as documents of their own.
    pub(crate) images: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("graph", &self.graph)
            .field("teams", &self.teams)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// A team's members, asked once per team for its standard channels.
type TeamMembers = Option<Arc<(Vec<String>, HashMap<String, String>)>>;

impl Reader {
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            graph: self.graph.with_context(ctx),
            ..self.clone()
        }
    }

    /// The teams this config reads, in Graph's order without repeats, and a failure for each
    /// named team that is not there.
    pub(crate) async fn teams(&self) -> Result<(Vec<Team>, Vec<Failure>)> {
        let url = self.graph.url("teams", &[("$select", TEAM_FIELDS)])?;
        let all: Vec<Team> = self.graph.all(&url).await?;
        if self.teams.is_empty() {
            return Ok((all, Vec::new()));
        }
        let mut picked: Vec<Team> = Vec::new();
        let mut failures = Vec::new();
        for entry in &self.teams {
            let entry = entry.trim();
            match all
                .iter()
                .find(|t| t.id == entry || t.name().eq_ignore_ascii_case(entry))
            {
                Some(t) if !picked.iter().any(|p| p.id == t.id) => picked.push(t.clone()),
                Some(_) => {}
                None => failures.push(Failure::new(
                    Some(format!("teams:team:{entry}")),
                    ErrorKind::NotFound,
                    format!("team `{entry}` (teams) is not a team of the tenant, or the app cannot see it"),
                )),
            }
        }
        Ok((picked, failures))
    }

    /// The channels of `team` this config reads.
    pub(crate) async fn channels(&self, team: &Team) -> Result<Vec<Channel>> {
        let url = self.graph.url(
            &format!("teams/{}/channels", escape(&team.id)),
            &[("$select", CHANNEL_FIELDS)],
        )?;
        let all: Vec<Channel> = self.graph.all(&url).await?;
        Ok(all.into_iter().filter(|c| self.wants(c)).collect())
    }

    /// Whether `channel` is one of `channels` (or every channel is read).
    fn wants(&self, channel: &Channel) -> bool {
        self.channels.is_empty() || self.channels.iter().any(|e| names(e, channel))
    }

    /// The channel with who may read it (`access`) and its members' addresses.
    async fn channel_info(
        &self,
        team: &Team,
        channel: &Channel,
        team_members: &mut TeamMembers,
    ) -> Result<ChannelInfo> {
        let mut info = ChannelInfo {
            team_id: team.id.clone(),
            team_name: team.name().to_owned(),
            channel_id: channel.id.clone(),
            channel_name: channel.name().to_owned(),
            membership: channel
                .membership_type
                .clone()
                .unwrap_or_else(|| "standard".to_owned()),
            access: None,
            emails: Arc::default(),
        };
        if !self.permissions {
            return Ok(info);
        }
        let members = if channel.is_standard() {
            if team_members.is_none() {
                let path = format!("teams/{}/members", escape(&team.id));
                *team_members = Some(Arc::new(self.members(&path).await?));
            }
            team_members.clone().unwrap_or_default()
        } else {
            // A shared channel is read by its direct members and by the members of the teams
            // it is shared with (in this tenant or another): `allMembers` lists both, where
            // `members` lists the direct ones only.
            let list = if channel.membership_type.as_deref() == Some("shared") {
                "allMembers"
            } else {
                "members"
            };
            let path = format!(
                "teams/{}/channels/{}/{list}",
                escape(&team.id),
                escape(&channel.id)
            );
            Arc::new(self.members(&path).await?)
        };
        // A standard channel is the team's: its Microsoft 365 group (the team's id) reads it.
        let groups = if channel.is_standard() {
            vec![format!("aad-group:{}", team.id)]
        } else {
            Vec::new()
        };
        info.access = Some(Access::restricted(members.0.clone(), groups));
        info.emails = Arc::new(members.1.clone());
        Ok(info)
    }

    /// The e-mail addresses of the members at `path`, and user id → address. Members Graph
    /// will not list (the app lacks `TeamMember.Read.All` or `ChannelMember.Read.All`) are
    /// none: the channel is then narrowed to its team's group, or to nobody (fail closed).
    async fn members(&self, path: &str) -> Result<(Vec<String>, HashMap<String, String>)> {
        let url = self.graph.url(path, &[])?;
        match self.graph.all::<Member>(&url).await {
            Ok(members) => {
                let mut emails: Vec<String> = Vec::new();
                let mut ids = HashMap::new();
                for m in members {
                    let Some(email) = m.email.filter(|e| !e.trim().is_empty()) else {
                        continue;
                    };
                    let email = email.trim().to_lowercase();
                    if let Some(id) = m.user_id {
                        ids.insert(id, email.clone());
                    }
                    if !emails.contains(&email) {
                        emails.push(email);
                    }
                }
                emails.sort();
                Ok((emails, ids))
            }
            Err(e) if e.kind().ends_sync() => Err(e),
            Err(e) => {
                tracing::warn!(
                    connector = SOURCE,
                    path,
                    "members not readable, access narrowed: {e}"
                );
                Ok((Vec::new(), HashMap::new()))
            }
        }
    }

    /// Every root message of a channel, with replies: `GET …/messages` (all of the history;
    /// the delta reaches back eight months only).
    fn listing_url(&self, team: &str, channel: &str) -> Result<Url> {
        self.graph.url(
            &format!(
                "teams/{}/channels/{}/messages",
                escape(team),
                escape(channel)
            ),
            &[("$top", PAGE_SIZE), ("$expand", "replies")],
        )
    }

    /// The delta link of a channel as of `at`: a delta round filtered to the messages changed
    /// after `at` (a page or two) read to its `@odata.deltaLink`, from which the next run lists
    /// every change. Taken before a listing, so nothing changed during it is missed.
    async fn position(&self, team: &str, channel: &str, at: DateTime<Utc>) -> Result<String> {
        // chrono's text to the millisecond, as Graph's `$filter` takes it: once per channel,
        // not per message, so not one of core's `time` writers (which write to the second or
        // as much of the fraction as there is).
        let filter = format!(
            "lastModifiedDateTime gt {}",
            at.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let first = self.graph.url(
            &format!(
                "teams/{}/channels/{}/messages/delta",
                escape(team),
                escape(channel)
            ),
            &[
                ("$top", PAGE_SIZE),
                ("$expand", "replies"),
                ("$filter", &filter),
            ],
        )?;
        let mut url = first.clone();
        let mut restarts = 0;
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(url.to_string()) {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    "Graph sent the same @odata.nextLink twice in a channel's delta",
                )
                .with_connector(SOURCE));
            }
            // Only the links count here: the messages are skipped, not parsed.
            match self.graph.delta::<IgnoredAny>(&url).await? {
                Delta::Page(page) => match (page.next_link, page.delta_link) {
                    (Some(next), _) => url = next,
                    (None, Some(delta)) => return Ok(delta.to_string()),
                    (None, None) => {
                        return Err(Error::new(
                            ErrorKind::InvalidData,
                            "a channel's delta page has neither @odata.nextLink nor @odata.deltaLink",
                        )
                        .with_connector(SOURCE));
                    }
                },
                Delta::Restart { code, .. } => {
                    restarts += 1;
                    if restarts > MAX_RESTARTS {
                        return Err(Error::new(
                            ErrorKind::Unavailable,
                            format!("Graph kept restarting a channel's delta ({code})"),
                        )
                        .with_connector(SOURCE));
                    }
                    seen.clear();
                    url = first.clone();
                }
            }
        }
    }

    /// The watched threads of a channel that this round did not list, asked for their replies
    /// (20 to a JSON batch): a thread with a reply newer than its recorded activity is read
    /// whole (its root asked the same way) and handed on. `recent` takes their new activity;
    /// a thread whose root is gone is dropped from it.
    async fn recheck(
        &self,
        info: &Arc<ChannelInfo>,
        watched: Vec<(String, i64)>,
        recent: &mut BTreeMap<String, i64>,
    ) -> Result<(Vec<PendingItem<Item>>, Vec<String>)> {
        let mut gone = Vec::new();
        if watched.is_empty() {
            return Ok((Vec::new(), gone));
        }
        let base = format!(
            "teams/{}/channels/{}/messages",
            escape(&info.team_id),
            escape(&info.channel_id)
        );
        let paths: Vec<String> = watched
            .iter()
            .map(|(id, _)| format!("{base}/{}/replies?$top={PAGE_SIZE}", escape(id)))
            .collect();
        let answers = self.graph.batch_get::<Page<Value>>(&paths).await?;
        let mut changed: Vec<(String, Vec<ChatMessage>)> = Vec::new();
        for ((id, recorded), answer) in watched.into_iter().zip(answers) {
            let page = match answer {
                Ok(Some(page)) => page,
                Ok(None) => {
                    recent.remove(&id);
                    gone.push(thread_id(&info.team_id, &info.channel_id, &id));
                    continue;
                }
                Err(e) if e.kind().ends_sync() => return Err(e),
                Err(e) => {
                    tracing::warn!(
                        connector = SOURCE,
                        thread = id.as_str(),
                        "replies not readable: {e}"
                    );
                    continue;
                }
            };
            let mut replies: Vec<ChatMessage> = page
                .value
                .into_iter()
                .filter_map(|v| ChatMessage::from_value(v).ok())
                .collect();
            if let Some(next) = page.next_link {
                let more = self.graph.all::<Box<RawValue>>(&next).await?;
                replies.extend(more.iter().filter_map(|r| ChatMessage::from_raw(r).ok()));
            }
            let latest = replies
                .iter()
                .filter_map(ChatMessage::latest)
                .map(|t| t.timestamp_millis())
                .max()
                .unwrap_or(i64::MIN);
            if latest > recorded {
                changed.push((id, replies));
            }
        }
        let roots: Vec<String> = changed
            .iter()
            .map(|(id, _)| format!("{base}/{}", escape(id)))
            .collect();
        let answers = self.graph.batch_get::<ChatMessage>(&roots).await?;
        let mut pending = Vec::new();
        for ((id, replies), answer) in changed.into_iter().zip(answers) {
            match answer {
                Ok(Some(mut root)) => {
                    root.replies = replies;
                    root.replies_next = None;
                    if is_gone(&root) {
                        recent.remove(&id);
                        gone.push(thread_id(&info.team_id, &info.channel_id, &id));
                        continue;
                    }
                    if let Some(t) = thread_latest(&root, &root.replies) {
                        recent.insert(id, t.timestamp_millis());
                    }
                    pending.push(pending_thread(info, root));
                }
                Ok(None) => {
                    recent.remove(&id);
                    gone.push(thread_id(&info.team_id, &info.channel_id, &id));
                }
                Err(e) if e.kind().ends_sync() => return Err(e),
                Err(e) => pending.push(PendingItem::new(
                    thread_id(&info.team_id, &info.channel_id, &id),
                    Item::Failed(Failure::new(
                        Some(thread_id(&info.team_id, &info.channel_id, &id)),
                        e.kind(),
                        format!("a thread with new replies could not be read: {e}"),
                    )),
                )),
            }
        }
        Ok((pending, gone))
    }
}

/// Whether a thread is gone: its root deleted and no live reply left (all of its replies at
/// hand: none past the inline ones).
fn is_gone(root: &ChatMessage) -> bool {
    root.is_message()
        && root.is_deleted()
        && root.replies_next.is_none()
        && !root.replies.iter().any(ChatMessage::is_shown)
}

/// Whether config entry `entry` names `channel` (its id, or its name without case or `#`).
fn names(entry: &str, channel: &Channel) -> bool {
    let entry = entry.trim();
    entry == channel.id
        || entry
            .trim_start_matches('#')
            .trim()
            .eq_ignore_ascii_case(channel.name())
}

/// What a page item's conversion gets.
pub(crate) enum Item {
    Thread {
        info: Arc<ChannelInfo>,
        root: Box<ChatMessage>,
        version: String,
    },
    Failed(Failure),
}

/// A root message (its first replies inside) as a page item with its version.
fn pending_thread(info: &Arc<ChannelInfo>, root: ChatMessage) -> PendingItem<Item> {
    let id = thread_id(&info.team_id, &info.channel_id, &root.id);
    let version = thread_version(info, &root, &root.replies);
    PendingItem::new(
        id,
        Item::Thread {
            info: Arc::clone(info),
            root: Box::new(root),
            version: version.clone(),
        },
    )
    .with_version(&version)
}

/// One thread's outcomes: its document (nothing when nothing of it is shown), then, with
/// `images` (the client to read them with), its images. Every reply is at hand (the listing
/// paged those past the inline ones).
async fn convert(images: Option<GraphClient>, item: Item) -> Result<Vec<Outcome>> {
    let (info, root, version) = match item {
        Item::Failed(f) => return Ok(vec![f.into()]),
        Item::Thread {
            info,
            root,
            version,
        } => (info, root, version),
    };
    let mut root = *root;
    let replies = std::mem::take(&mut root.replies);
    thread_outcomes(images.as_ref(), &info, &root, &replies, &version).await
}

/// A thread's document and, with `images`, its images' documents.
async fn thread_outcomes(
    images: Option<&GraphClient>,
    info: &ChannelInfo,
    root: &ChatMessage,
    replies: &[ChatMessage],
    version: &str,
) -> Result<Vec<Outcome>> {
    let Some(doc) = thread_document(info, root, replies, version) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if let Some(graph) = images {
        out = super::images::images(graph, info, root, replies, &doc.title).await?;
    }
    out.insert(0, doc.into());
    Ok(out)
}

/// The root messages of a page, and a failure for each that cannot be read.
fn roots_of(info: &ChannelInfo, values: &[Box<RawValue>]) -> (Vec<ChatMessage>, Vec<Failure>) {
    let mut roots = Vec::with_capacity(values.len());
    let mut broken = Vec::new();
    for value in values {
        match ChatMessage::from_raw(value) {
            Ok(m) if m.reply_to_id.is_none() => roots.push(m),
            Ok(_) => {}
            Err((id, message)) => {
                let id = id.map(|i| thread_id(&info.team_id, &info.channel_id, &i));
                let message = match &id {
                    Some(id) => format!("`{id}`: {message}"),
                    None => format!("a message of channel `{}`: {message}", info.channel_name),
                };
                broken.push(Failure::new(id, ErrorKind::InvalidData, message));
            }
        }
    }
    (roots, broken)
}

/// Keeps the threads active since `cutoff`, at most `max` of the most recent.
fn prune(recent: &mut BTreeMap<String, i64>, cutoff: Option<i64>, max: usize) {
    let Some(cutoff) = cutoff else {
        recent.clear();
        return;
    };
    recent.retain(|_, t| *t >= cutoff);
    if recent.len() > max {
        let mut by_time: Vec<(i64, String)> = recent.iter().map(|(k, v)| (*v, k.clone())).collect();
        by_time.sort_unstable_by(|a, b| b.cmp(a));
        let keep: HashSet<String> = by_time.into_iter().take(max).map(|(_, k)| k).collect();
        recent.retain(|k, _| keep.contains(k));
    }
}

/// A batch of failures only.
fn failed(failures: Vec<Failure>) -> Batch {
    let mut batch = Batch::default();
    batch.failures = failures;
    batch
}

fn parse_link(link: &str) -> Result<Url> {
    Url::parse(link).map_err(|e| {
        Error::new(
            ErrorKind::Checkpoint,
            format!("a stored delta or next link is not a URL: {e}"),
        )
        .with_connector(SOURCE)
    })
}

/// The listing from `from` on, each page with the checkpoint after it.
pub(super) fn checkpointed(
    reader: &Reader,
    from: TeamsCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<TeamsCheckpoint>>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (teams, failures) = reader.teams().await?;
        let mut cp = from;
        let resume = cp.current.take();
        if !failures.is_empty() {
            yield CheckpointedBatch::new(failed(failures), cp.clone());
        }
        // The clock decides only which threads stay watched, never a document's time.
        let reference = window.map_or_else(Utc::now, |w| w.end);
        let cutoff = (reader.lookback > TimeDelta::zero())
            .then(|| (reference - reader.lookback).timestamp_millis());
        let mut matched: HashSet<String> = HashSet::new();
        // Channels the last run carried that this one finds gone (deleted, of a team deleted,
        // or no longer in `teams`/`channels`): their states leave the checkpoint when the run
        // ends (not before: a checkpoint that carries states makes a channel new to it be
        // listed whole, and a resumed run must still see that). A team whose channels cannot
        // be listed keeps its states.
        let mut stale: Vec<String> = cp
            .since
            .keys()
            .filter(|k| !teams.iter().any(|t| k.split_once('/').is_some_and(|(team, _)| team == t.id)))
            .cloned()
            .collect();
        for team in teams {
            let channels = match reader.channels(&team).await {
                Ok(c) => c,
                Err(e) if e.kind().ends_sync() => Err(e)?,
                Err(e) => {
                    let failure = Failure::new(
                        Some(format!("teams:team:{}", team.id)),
                        e.kind(),
                        format!("the channels of team `{}` could not be listed; the next run tries again: {e}", team.name()),
                    );
                    yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                    continue;
                }
            };
            for c in &channels {
                for entry in reader.channels.iter().filter(|e| names(e, c)) {
                    matched.insert(entry.clone());
                }
            }
            let prefix = format!("{}/", team.id);
            stale.extend(
                cp.since
                    .keys()
                    .filter(|k| k.strip_prefix(&prefix).is_some_and(|c| !channels.iter().any(|ch| ch.id == c)))
                    .cloned(),
            );
            let mut team_members: TeamMembers = None;
            for channel in channels {
                let key = format!("{}/{}", team.id, channel.id);
                if cp.done.contains_key(&key) {
                    continue;
                }
                let info = Arc::new(reader.channel_info(&team, &channel, &mut team_members).await?);
                let listing = reader.listing_url(&team.id, &channel.id)?;
                let watched_before = cp.since.get(&key).map(|s| s.recent.clone()).unwrap_or_default();
                let (mut url, mut phase, mut position, mut recent) = match (&resume, cp.since.get(&key)) {
                    (Some(c), _) if c.channel == key => (parse_link(&c.next)?, c.phase, c.position.clone(), c.recent.clone()),
                    // Other members than when the delta link was taken: the delta lists only
                    // changed threads, so the channel is listed again for every thread to take
                    // the new access (a removed member must not keep reading old threads).
                    (_, Some(state)) if state.access != info.access_hash() => {
                        tracing::info!(connector = SOURCE, channel = key.as_str(), "the channel's members changed; it is listed again");
                        (listing.clone(), Phase::Relisting, None, state.recent.clone())
                    }
                    (_, Some(state)) => (parse_link(&state.delta)?, Phase::Changes, None, state.recent.clone()),
                    // A channel the last runs never finished while others carry their links:
                    // its threads before the window were never delivered, so it is listed whole.
                    _ if !cp.since.is_empty() => (listing.clone(), Phase::Relisting, None, BTreeMap::new()),
                    _ => (listing.clone(), Phase::Listing, None, BTreeMap::new()),
                };
                let mut seen: HashSet<String> = HashSet::new();
                let mut channel_error: Option<Error> = None;
                'channel: {
                    if phase != Phase::Changes && position.is_none() {
                        match reader.position(&team.id, &channel.id, reference).await {
                            Ok(p) => position = Some(p),
                            Err(e) => {
                                channel_error = Some(e);
                                break 'channel;
                            }
                        }
                    }
                    let mut restarts = 0;
                    loop {
                        ctx.cancellation().check()?;
                        cp.current = Some(ChannelCursor {
                            channel: key.clone(),
                            next: url.to_string(),
                            phase,
                            position: position.clone(),
                            recent: recent.clone(),
                        });
                        let answer = if phase == Phase::Changes {
                            reader.graph.delta::<Box<RawValue>>(&url).await
                        } else {
                            reader.graph.page::<Box<RawValue>>(&url).await.map(Delta::Page)
                        };
                        let page = match answer {
                            Ok(Delta::Page(page)) => page,
                            Ok(Delta::Restart { code, .. }) => {
                                restarts += 1;
                                if restarts > MAX_RESTARTS {
                                    channel_error = Some(Error::new(
                                        ErrorKind::Unavailable,
                                        format!("Graph asked {restarts} times to start channel `{}` over ({code})", info.channel_name),
                                    ).with_connector(SOURCE));
                                    break 'channel;
                                }
                                tracing::warn!(connector = SOURCE, channel = key.as_str(), code = code.as_str(),
                                    "Graph no longer continues the stored delta link; the channel is listed again (unchanged threads are reported unchanged)");
                                match reader.position(&team.id, &channel.id, reference).await {
                                    Ok(p) => position = Some(p),
                                    Err(e) => {
                                        channel_error = Some(e);
                                        break 'channel;
                                    }
                                }
                                url = listing.clone();
                                phase = Phase::Relisting;
                                continue;
                            }
                            Err(e) => {
                                channel_error = Some(e);
                                break 'channel;
                            }
                        };
                        let (roots, broken) = roots_of(&info, &page.value);
                        // Only a first listing is narrowed to the window: a delta round is
                        // exactly what changed, and a relisting must see everything.
                        let window = if phase == Phase::Listing { window } else { None };
                        let mut pending: Vec<PendingItem<Item>> = broken
                            .into_iter()
                            .map(|f| PendingItem::new(f.id.clone().unwrap_or_default(), Item::Failed(f)))
                            .collect();
                        let mut gone: Vec<String> = Vec::new();
                        for mut root in roots {
                            seen.insert(root.id.clone());
                            // The replies past the inline ones (a thread past 1000 replies,
                            // rare) are paged now, not at conversion: the version must cover
                            // them, or an edit among them would leave it as it was.
                            if let Some(next) = root.replies_next.take() {
                                match reader.graph.all::<ChatMessage>(&next).await {
                                    Ok(more) => root.replies.extend(more),
                                    Err(e) if e.kind().ends_sync() => Err(e)?,
                                    Err(e) => {
                                        let id = thread_id(&info.team_id, &info.channel_id, &root.id);
                                        let failure = Failure::new(
                                            Some(id.clone()),
                                            e.kind(),
                                            format!("the replies of thread `{id}` past the first {} could not be read: {e}", root.replies.len()),
                                        );
                                        pending.push(PendingItem::new(id, Item::Failed(failure)));
                                        continue;
                                    }
                                }
                            }
                            if let Some(t) = thread_latest(&root, &root.replies) {
                                recent.insert(root.id.clone(), t.timestamp_millis());
                            }
                            // A deleted root with no live reply left: the thread is gone, and
                            // its document goes now rather than at the next prune.
                            if is_gone(&root) {
                                recent.remove(&root.id);
                                gone.push(thread_id(&info.team_id, &info.channel_id, &root.id));
                                continue;
                            }
                            if window.is_some_and(|w| !thread_times(&root, &root.replies).into_iter().any(|t| w.contains(t))) {
                                continue;
                            }
                            pending.push(pending_thread(&info, root));
                        }
                        // Bounded as the listing goes, not only at the channel's end.
                        prune(&mut recent, cutoff, reader.watched);
                        let last = page.next_link.is_none();
                        if last && phase == Phase::Changes {
                            // New replies to threads the delta did not list (a reply moves
                            // nothing of its root that the delta sees).
                            let watched: Vec<(String, i64)> = watched_before
                                .iter()
                                .filter(|(id, _)| !seen.contains(*id))
                                .filter(|(_, t)| cutoff.is_some_and(|c| **t >= c))
                                .map(|(id, t)| (id.clone(), (*t).max(recent.get(id).copied().unwrap_or(i64::MIN))))
                                .collect();
                            match reader.recheck(&info, watched, &mut recent).await {
                                Ok((more, deleted)) => {
                                    pending.extend(more);
                                    gone.extend(deleted);
                                }
                                Err(e) => {
                                    channel_error = Some(e);
                                    break 'channel;
                                }
                            }
                        }
                        let images = reader.images.then(|| reader.graph.clone());
                        let mut batch = fetch_items(&ctx, pending, CONCURRENCY, move |item| convert(images.clone(), item)).await?;
                        batch.deleted = gone;
                        match (page.next_link, page.delta_link) {
                            (Some(next), _) => {
                                url = next;
                                cp.current = Some(ChannelCursor {
                                    channel: key.clone(),
                                    next: url.to_string(),
                                    phase,
                                    position: position.clone(),
                                    recent: recent.clone(),
                                });
                                yield CheckpointedBatch::new(batch, cp.clone());
                            }
                            (None, delta) => {
                                let delta = if phase == Phase::Changes { delta.map(|d| d.to_string()) } else { position.clone() };
                                let Some(delta) = delta else {
                                    channel_error = Some(Error::new(
                                        ErrorKind::InvalidData,
                                        format!("the last delta page of channel `{}` has no @odata.deltaLink", info.channel_name),
                                    ).with_connector(SOURCE));
                                    break 'channel;
                                };
                                prune(&mut recent, cutoff, reader.watched);
                                cp.current = None;
                                cp.done.insert(key.clone(), ChannelState { delta, recent: std::mem::take(&mut recent), access: info.access_hash() });
                                yield CheckpointedBatch::new(batch, cp.clone());
                                break;
                            }
                        }
                    }
                }
                if let Some(e) = channel_error {
                    if e.kind().ends_sync() {
                        Err(e)?;
                    } else {
                        tracing::warn!(connector = SOURCE, channel = key.as_str(), "channel not read to its end: {e}");
                        cp.current = None;
                        let failure = Failure::new(
                            Some(info.id()),
                            e.kind(),
                            format!("channel `{}` of team `{}` was not read to its end; the next run reads it again: {e}", info.channel_name, info.team_name),
                        );
                        yield CheckpointedBatch::new(failed(vec![failure]), cp.clone());
                    }
                }
            }
        }
        let missing: Vec<Failure> = reader
            .channels
            .iter()
            .filter(|e| !matched.contains(*e))
            .map(|e| Failure::new(
                Some(format!("teams:channel:{}", e.trim())),
                ErrorKind::NotFound,
                format!("channel `{}` (channels) is in none of the teams read", e.trim()),
            ))
            .collect();
        for key in &stale {
            tracing::info!(connector = SOURCE, channel = key.as_str(), "the channel is gone; its delta link leaves the checkpoint (its threads leave at the next prune)");
            cp.since.remove(key);
        }
        if !missing.is_empty() || !stale.is_empty() {
            yield CheckpointedBatch::new(failed(missing), cp.clone());
        }
    }
    .boxed()
}

/// Every thread id of a fresh listing of every channel; fails, rather than come back short,
/// when a team, channel or page cannot be listed.
pub(super) fn list_ids(
    reader: &Reader,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        let (teams, failures) = reader.teams().await?;
        if let Some(f) = failures.first() {
            Err(Error::new(f.kind, format!("the id listing is incomplete: {}", f.message)).with_connector(SOURCE))?;
        }
        for team in teams {
            for channel in reader.channels(&team).await? {
                let mut next = Some(reader.listing_url(&team.id, &channel.id)?);
                let mut seen = HashSet::new();
                while let Some(url) = next.take() {
                    ctx.cancellation().check()?;
                    if !seen.insert(url.to_string()) {
                        Err(Error::new(ErrorKind::InvalidData, "Graph sent the same @odata.nextLink twice").with_connector(SOURCE))?;
                    }
                    let page: Page<Box<RawValue>> = reader.graph.page(&url).await?;
                    let mut ids = Vec::new();
                    for value in page.value {
                        let id = match ChatMessage::from_raw(&value) {
                            Ok(m) if m.reply_to_id.is_some() => continue,
                            Ok(m) => {
                                let shown = m.is_message()
                                    && (m.is_shown() || m.replies_next.is_some() || m.replies.iter().any(ChatMessage::is_shown));
                                if !shown {
                                    continue;
                                }
                                m.id
                            }
                            // An unreadable message is still there: keep its document.
                            Err((Some(id), _)) => id,
                            Err((None, message)) => Err(Error::new(ErrorKind::InvalidData, message).with_connector(SOURCE))?,
                        };
                        ids.push(SlimDocument::new(thread_id(&team.id, &channel.id, &id)));
                        if reader.images
                            && let Ok(m) = ChatMessage::from_raw(&value)
                        {
                            ids.extend(super::images::image_ids(&team.id, &channel.id, &m).into_iter().map(SlimDocument::new));
                        }
                    }
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

/// `{team}__{channel}__{root}` split in three: the team a GUID, the root message digits, the
/// channel what lies between; `None` for an id of another shape.
fn split_thread_id(id: &str) -> Option<(&str, &str, &str)> {
    let (team, rest) = id.split_once("__")?;
    let (channel, root) = rest.rsplit_once("__")?;
    (!team.is_empty() && !channel.is_empty() && !root.is_empty()).then_some((team, channel, root))
}

/// The threads with these ids read again, a batch per channel: the root
/// (`GET …/messages/{id}`) and its replies (`GET …/messages/{id}/replies`, paged). Ids of
/// another shape, of teams or channels this config does not read, or of threads gone or left
/// with nothing to show yield nothing (prune deals with them); a thread Graph will not read
/// is a failure naming it.
pub(super) fn refetch(
    reader: &Reader,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    let reader = reader.with_context(&ctx);
    async_stream::try_stream! {
        // team → channel → roots, in the order asked.
        let mut wanted: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for id in &ids {
            // An image is read again with its thread.
            let id = super::images::thread_of_image(id).unwrap_or(id);
            if let Some((team, channel, root)) = split_thread_id(id) {
                let roots = wanted.entry(team.to_owned()).or_default().entry(channel.to_owned()).or_default();
                if !roots.iter().any(|r| r == root) {
                    roots.push(root.to_owned());
                }
            }
        }
        if wanted.is_empty() {
            return;
        }
        let (teams, _) = reader.teams().await?;
        for team in teams {
            let Some(by_channel) = wanted.get(&team.id) else { continue };
            let mut team_members: TeamMembers = None;
            for channel in reader.channels(&team).await? {
                let Some(roots) = by_channel.get(&channel.id) else { continue };
                ctx.cancellation().check()?;
                let info = Arc::new(reader.channel_info(&team, &channel, &mut team_members).await?);
                let base = format!("teams/{}/channels/{}/messages", escape(&team.id), escape(&channel.id));
                let mut batch = Batch::default();
                for root_id in roots {
                    let id = thread_id(&team.id, &channel.id, root_id);
                    let read = async {
                        let url = reader.graph.url(&format!("{base}/{}", escape(root_id)), &[])?;
                        let Some(mut root) = reader.graph.get_opt::<ChatMessage>(&url).await? else {
                            return Ok(None);
                        };
                        let url = reader.graph.url(&format!("{base}/{}/replies", escape(root_id)), &[("$top", PAGE_SIZE)])?;
                        root.replies = reader.graph.all::<ChatMessage>(&url).await?;
                        root.replies_next = None;
                        let version = thread_version(&info, &root, &root.replies);
                        let replies = std::mem::take(&mut root.replies);
                        let images = reader.images.then_some(&reader.graph);
                        Ok::<_, Error>(Some(thread_outcomes(images, &info, &root, &replies, &version).await?))
                    };
                    match read.await {
                        Ok(Some(outcomes)) => outcomes.into_iter().for_each(|o| batch.push(o)),
                        Ok(None) => {}
                        Err(e) if e.kind().ends_sync() => Err(e)?,
                        Err(e) => batch.failures.push(Failure::new(
                            Some(id.clone()),
                            e.kind(),
                            format!("thread `{id}` could not be read again: {e}"),
                        )),
                    }
                }
                if !batch.documents.is_empty() || !batch.failures.is_empty() {
                    yield batch;
                }
            }
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_threads_keep_the_most_recent() {
        const MAX_WATCHED: usize = crate::teams::DEFAULT_WATCHED_THREADS as usize;
        let mut recent: BTreeMap<String, i64> = (0..(MAX_WATCHED as i64 + 10))
            .map(|n| (format!("m{n}"), n))
            .collect();
        prune(&mut recent, Some(5), MAX_WATCHED);
        assert_eq!(recent.len(), MAX_WATCHED);
        assert!(!recent.contains_key("m4") && !recent.contains_key("m9"));
        assert!(recent.contains_key(&format!("m{}", MAX_WATCHED as i64 + 9)));
        prune(&mut recent, None, MAX_WATCHED);
        assert!(recent.is_empty());
    }

    #[test]
    fn thread_ids_split_into_team_channel_and_root() {
        assert_eq!(
            split_thread_id("a1b2__19:abc@thread.tacv2__1700000000000"),
            Some(("a1b2", "19:abc@thread.tacv2", "1700000000000"))
        );
        assert_eq!(split_thread_id("no-such-item"), None);
        assert_eq!(split_thread_id("t____1"), None);
    }

    #[test]
    fn channels_are_named_by_id_or_name() {
        let c = Channel {
            id: "19:abc@thread.tacv2".into(),
            display_name: Some("General".into()),
            membership_type: Some("standard".into()),
        };
        assert!(names("#general", &c));
        assert!(names("19:abc@thread.tacv2", &c));
        assert!(!names("Random", &c));
    }
}
