//! The Slack connector (source `"slack"`): the threads of a workspace's channels over Slack's
//! Web API, read with a bot token.
//!
//! - **Scope**: RAGFlow's `channels` (names, a leading `#` dropped; with
//!   `channel_regex_enabled`, regular expressions a whole name must match; empty: every
//!   channel) out of `conversations.list`: public channels, and the private ones the bot is
//!   in (`include_private_channels`; without `groups:read`, public ones alone, as RAGFlow).
//!   The bot reads the channels it is a member of; a public channel it is not in is joined
//!   (`conversations.join`) only with `join_public_channels` (RAGFlow always joined). A
//!   named channel that is missing, or that the bot is not in, is a failure naming it.
//! - **Partitions**: more than one named channel: each is a
//!   [partition](Connector::partitions), keyed by its name (what the config says). Patterns
//!   or "every channel": [discovery](Connector::discover_partitions) lists the channels the
//!   walk would read (`conversations.list`, the same filters), each a partition keyed by its
//!   channel id (`C012AB3CD`: a rename keeps it; the name shows in the documents' `channel`
//!   and titles, read afresh each run); a discovered channel gone from the selection since is
//!   a failure of its run. Partitions share the user cache and the clients, so they keep
//!   together to one rate per method. Threads always stay with their channel.
//! - **Threads**: `conversations.history` lists a channel's top-level messages (Slack's
//!   cursor, `response_metadata.next_cursor`); each thread becomes one Markdown document, the
//!   parent and every reply (`conversations.replies`) under its author's name and time, in
//!   RAGFlow's id `{channel}__{thread_ts}`. A message without replies costs no further
//!   request; a thread longer than a page is read page by page (Slack repeats the parent
//!   at the head of each, kept once). Joins, leaves, archive notices, pins and renames are
//!   dropped, and bot or app messages unless `include_bot_messages`, as RAGFlow's filter
//!   does; a bot's message with an empty `text` is read from its attachments (alerts, CI
//!   reports), while the link previews Slack attaches to people's messages are left out.
//!   Files shared in a message are named and linked, not downloaded. Users (`<@U…>` and
//!   authors) are named through `users.info`, asked once per user and kept for the
//!   connector's life. `mrkdwn` (mentions, `<#C…|name>`, `<url|text>`, `*bold*`, `_italic_`,
//!   `~strike~`, code, quotes) is written as Markdown by core's writer.
//! - **Incremental runs**: a window `[start, end)` lists each channel from
//!   `start - thread_lookback_days` (default 30) to `end`. Slack files a reply under its
//!   parent and does not move the parent, so a listing from `start` alone (RAGFlow's) misses
//!   new replies to older threads; a reply also sent to the channel names its thread
//!   wherever its parent is. When the host's fingerprint lookup
//!   [remembers](connector_core::FingerprintLookup::remembers) earlier runs (a state store's
//!   does), every listed thread goes to it with its version token, and the lookup skips the
//!   unchanged ones without a replies request: so an edit of a parent (which moves only its
//!   `edited.ts`) or a change of the channel's access is found within the look-back. Without
//!   one (a bare `poll`), the threads whose latest activity (the parent's `ts`, its
//!   `latest_reply` or its `edited.ts`) is in the window are read. A change the listing
//!   shows (an edited parent, a new reply) to a thread older than the look-back is found by
//!   a [reconcile](connector_core::sync::SyncMode::Reconcile) run, which lists every thread
//!   and re-sends those whose version token moved; an edit of one of its replies only by a
//!   full run (the API's limit, below).
//! - **Checkpoints** ([`SlackCheckpoint`]): the channels done and Slack's own history cursor
//!   in the current one (RAGFlow's checkpointed load returned nothing).
//! - **Fingerprint**: the version token of a thread is, as listed, the parent's `ts`,
//!   `edited.ts`, `reply_count` and `latest_reply`, and a hash of the channel's access (asked
//!   on every run): an unchanged thread costs no replies request, and an edited parent, a new
//!   reply, or a member who joins or leaves a private channel (or a channel turning private
//!   or public) gives its threads a new token. An edit of a *reply* moves nothing Slack
//!   lists (`conversations.history` shows the parent alone): once a thread's replies are
//!   read, its token holds each edited reply's `ts` and `edited.ts` too, and an incremental
//!   run (with a remembering lookup) reads again the replies of every listed thread whose
//!   `latest_reply` is within `reply_edit_lookback_hours` (default 24) before the window's
//!   start or later, sending it when that token moved (else it is unchanged). A thread whose
//!   token holds reply edits costs a replies request whenever it is listed (its listing
//!   alone cannot match that token). An edit in a thread quiet for longer than the edit
//!   look-back is what nothing of the Web API shows a bot (`search.messages` needs a user
//!   token; `message_changed` comes only as an Events API push): so every listed thread with
//!   replies has them read again once every `reply_rescan_days` (default 7), on the turn a
//!   stable hash of its id gives it within the cycle, so the cost is spread evenly over the
//!   runs (about threads-with-replies × window ÷ cycle requests a run). Reactions are not
//!   rendered, so they are no part of it.
//! - **Limit of the API: edits in threads older than `thread_lookback_days`.** No Web API
//!   method reports to a bot that a message was edited (`search.messages` needs a user
//!   token; `message_changed` is only pushed by the Events API), and an incremental run
//!   lists no thread started before the look-back, so an edit there (or a new reply that is
//!   not also sent to the channel) is not seen by incremental runs. What catches it: a
//!   [full](connector_core::sync::SyncMode::Full) run, which reads every thread again; a
//!   [reconcile](connector_core::sync::SyncMode::Reconcile) run catches an edited parent and
//!   a new reply (both move the listed version token) but not a first edit of a reply (its
//!   listing does not move). A longer `thread_lookback_days` moves the limit back, at the
//!   cost of listing more history on every incremental run.
//! - **Deleted messages**: a deleted message is gone from the listing, so prune
//!   ([`list_ids`](SlimConnector::list_ids)) removes its document; a deleted parent with
//!   replies stays as Slack's `tombstone`, left out of the text while the replies stay.
//! - **Documents**: title as RAGFlow's (`{author} in #{channel}: {first 50 characters}`);
//!   link to the thread (`{workspace}/archives/{C}/p{ts}`); `updated_at` the newest message;
//!   `owners` the authors (their email when `users:read.email` shows it); metadata
//!   `channel`, `channel_id`, `team_id`, `thread_ts`, `replies`, `author`, `private`,
//!   `created_at`.
//! - **Access**: a public channel is readable by the whole workspace
//!   (`slack-team:{team_id}`; on Enterprise Grid each workspace in its `shared_team_ids`);
//!   a private one by its members (`conversations.members`, `slack-user:{user_id}` each); a
//!   channel shared with another organisation (Slack Connect) by its members too. A channel
//!   that is archived (without `include_archived`) or that the bot leaves drops out of the
//!   listing, and prune removes its threads.
//! - **Scope of conversations**: public and private channels only; direct messages (`im`,
//!   `mpim`) are people's private conversations and are never read. An org-wide install on
//!   Enterprise Grid (`auth.test`'s `is_enterprise_install`) lists the channels of each
//!   workspace of the organisation (`auth.teams.list`, then `conversations.list` with
//!   `team_id`).
//! - **Limits**: each method keeps to its tier (`tier2_requests_per_minute` for
//!   `conversations.list` and `auth.teams.list`, `tier3_…` for history, replies and join,
//!   `tier4_…` for users, members and `auth.test`), each method counted on its own as Slack
//!   does; with `non_marketplace_app`, history and replies keep to Slack's 1 request a minute
//!   and 15 messages a page for apps outside the Marketplace. A spent tier
//!   (HTTP 429 with `Retry-After`) is waited out by core's client; Slack's HTTP 200 answers
//!   with `{"ok": false, "error": …}` are errors of their kind (`invalid_auth` →
//!   unauthenticated naming `credentials.slack_bot_token`, `missing_scope` and
//!   `not_in_channel` → permission denied, `channel_not_found` → not found, `ratelimited`
//!   → retried after `Retry-After`, `internal_error` → retried).

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, ErrorKind,
    Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{ChannelCursor, SlackCheckpoint};
pub use config::{
    DEFAULT_API_BASE_URL, DEFAULT_PAGE_SIZE, DEFAULT_REPLY_EDIT_LOOKBACK_HOURS,
    DEFAULT_REPLY_RESCAN_DAYS, DEFAULT_THREAD_LOOKBACK_DAYS, DEFAULT_TIER2_PER_MINUTE,
    DEFAULT_TIER3_PER_MINUTE, DEFAULT_TIER4_PER_MINUTE, SlackConfig, SlackCredentials,
};

use client::Client;
use pages::{UserCache, Walk};

/// The registry key of the Slack connector.
pub const SOURCE: &str = "slack";

/// Reads the threads of Slack channels. Built from a [`SlackConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::slack::{SlackConfig, SlackConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let connector = SlackConnector::new(SlackConfig::new("xoxb-…"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SlackConnector {
    config: SlackConfig,
    walk: Walk,
}

impl SlackConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of the config by field path; `Internal`
    /// when the HTTP client cannot start.
    pub fn new(config: SlackConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let patterns = config
            .patterns()
            .map_err(|p| Error::config(p).with_connector(SOURCE))?;
        let walk = Walk {
            client: Client::new(&config)?,
            names: config.channel_names(),
            patterns: Arc::new(patterns),
            join: config.join_public_channels,
            private: config.include_private_channels,
            archived: config.include_archived,
            bots: config.include_bot_messages,
            lookback: TimeDelta::days(i64::from(config.thread_lookback_days)),
            edit_lookback: TimeDelta::hours(i64::from(config.reply_edit_lookback_hours)),
            rescan: (config.reply_rescan_days > 0)
                .then(|| TimeDelta::days(i64::from(config.reply_rescan_days))),
            users: Arc::new(UserCache::default()),
            only: None,
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &SlackConfig {
        &self.config
    }
}

impl fmt::Display for SlackConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(only) = &self.walk.only {
            write!(f, "{SOURCE}:{only}")
        } else if self.walk.names.is_empty() {
            write!(f, "{SOURCE}:*")
        } else {
            write!(f, "{SOURCE}:{}", self.walk.names.join(","))
        }
    }
}

#[async_trait]
impl Connector for SlackConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Asks `auth.test`, lists the channels and finds every named one.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.slack_bot_token` for a token Slack rejects
    /// (`invalid_auth`, `token_revoked`, …); `PermissionDenied` for a token without a scope
    /// it needs (`missing_scope`, naming it) or a named channel the bot is not in;
    /// `NotFound` naming `channels` for a named channel that is not there; `Unavailable`
    /// when Slack cannot be reached.
    async fn check(&self) -> Result<()> {
        let scope = self.walk.scope().await?;
        if let Some(f) = scope.failures.first() {
            return Err(Error::new(f.kind, f.message.clone())
                .with_connector(SOURCE)
                .with_field("channels"));
        }
        if scope.channels.is_empty() && !self.walk.names.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                "no channel the bot can read matches `channels`",
            )
            .with_connector(SOURCE)
            .with_field("channels"));
        }
        Ok(())
    }

    /// The named channels when there is more than one, by name (no request; patterns and
    /// "every channel" need a listing: see
    /// [`discover_partitions`](Connector::discover_partitions)).
    fn partitions(&self) -> Vec<String> {
        if self.walk.only.is_none() && self.walk.patterns.is_empty() && self.walk.names.len() > 1 {
            self.walk.names.clone()
        } else {
            Vec::new()
        }
    }

    /// The named channels as [`partitions`](Connector::partitions) gives them (no request);
    /// for patterns or "every channel", each channel the walk would read, by id, listed now
    /// (`auth.test`, then `conversations.list` with the walk's filters: the types asked,
    /// archived ones left out unless `include_archived`, the patterns, the bot a member or
    /// `join_public_channels`), in name order. The key is Slack's channel id (`C012AB3CD`),
    /// which a rename does not change; names are shown by each partition's documents
    /// (`channel` metadata, titles), read afresh on every run. None for a partition itself.
    ///
    /// # Errors
    /// As [`check`](Connector::check): `Unauthenticated` naming `credentials.slack_bot_token`,
    /// `PermissionDenied` for a missing scope, `Unavailable`: never an empty list for a
    /// listing that failed.
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        if self.walk.only.is_some() || !self.scope_is_listed() {
            return Ok(self.partitions());
        }
        let scope = self.walk.scope().await?;
        Ok(scope.channels.into_iter().map(|c| c.id).collect())
    }

    /// This connector reading only `partition`: one of [`partitions`](Connector::partitions)
    /// (a named channel), or, for patterns or "every channel", a channel id such as
    /// [`discover_partitions`](Connector::discover_partitions) lists (`C…` or `G…`), still
    /// within the patterns: a channel gone from them since is a failure of its run. Each
    /// partition shares what was learnt of users and the clients, so the partitions keep
    /// together to one rate per method. `None` for any other key.
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if self.walk.only.is_some() {
            return None;
        }
        let mut connector = if self.partitions().iter().any(|k| k == partition) {
            let mut config = self.config.clone();
            config.channels = vec![partition.to_owned()].into();
            Self::new(config).ok()?
        } else if self.scope_is_listed() && is_channel_id(partition) {
            let mut connector = Self::new(self.config.clone()).ok()?;
            connector.walk.only = Some(partition.to_owned());
            connector
        } else {
            return None;
        };
        // The partitions share what was learnt of users, and the clients: Slack counts each
        // method per workspace and app, so N partitions keep to one rate per method, not N.
        connector.walk.users = Arc::clone(&self.walk.users);
        connector.walk.client = self.walk.client.clone();
        Some(Arc::new(connector))
    }
}

impl SlackConnector {
    /// Whether the channels in scope are known only from a listing (patterns, or every
    /// channel): then partitions are discovered, by id.
    fn scope_is_listed(&self) -> bool {
        self.walk.names.is_empty() || !self.walk.patterns.is_empty()
    }
}

/// Whether `key` has the shape of a Slack channel id: `C` (a channel) or `G` (a private
/// channel made before 2020), then upper-case letters and digits. Direct messages (`D…`)
/// are never read; a channel name (lower case) is not an id.
fn is_channel_id(key: &str) -> bool {
    key.len() >= 3
        && key.len() <= 32
        && matches!(key.as_bytes()[0], b'C' | b'G')
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl CheckpointedConnector for SlackConnector {
    type Checkpoint = SlackCheckpoint;

    fn initial_checkpoint(&self) -> SlackCheckpoint {
        SlackCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: SlackCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<SlackCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for SlackConnector {
    /// Every thread id in scope; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

impl connector_core::RefetchConnector for SlackConnector {
    /// These threads again (`{channel}__{ts}`); one that is gone or out of scope yields
    /// nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}
