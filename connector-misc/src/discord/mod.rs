//! The Discord connector (source `"discord"`): the messages of a bot's servers over Discord's
//! REST API v10 only (no gateway, no websocket), as RAGFlow's `discord` source configures it.
//!
//! - **Scope**: `server_ids` (empty: every server the bot is in), `channel_names` or the web form's
//!   `channels` (empty: every channel). Text and announcement channels and the text chat of
//!   voice and stage channels are read, and the public threads (active and archived) of those and of forum and media channels. A channel
//!   the bot may not read (View Channel and Read Message History, computed from its roles and
//!   the channel's overwrites, as RAGFlow's `permissions_for(me)`) is left out with a log
//!   line. Private threads are not read (listing archived ones needs Manage Threads).
//! - **Partitions**: with more than one configured server, each server is a
//!   [partition](Connector::partitions) (no request). [Discovery](Connector::discover_partitions)
//!   splits by channel: every channel in scope (of the configured servers, or of every server
//!   the bot is in) is a partition keyed `{server}:{channel}` by id, its threads with it; a
//!   rename keeps the key, the names show in the documents. Partitions share the client and
//!   its rate limit.
//! - **Documents**: a channel's messages are grouped into fixed time buckets
//!   (`bucket_hours`, default one UTC day), one document each:
//!   `discord:{guild}:{channel}:{YYYYMMDDTHHMMZ}:{hours}h`. Buckets are aligned on the clock,
//!   so the id of a bucket is the same on every run, full or incremental (RAGFlow's
//!   `DISCORD_{first message id}` of each run of `batch_size` messages shifts with where a
//!   run starts). Each public thread is one document, `discord:{guild}:{thread}`. Messages
//!   are rendered as Markdown (author, time, edit time, the text as written with mentions
//!   as names, attachments as links, embeds as quotes; a thread opens with the channel
//!   message it was started from); joins, pins and other system messages are left out.
//! - **Paging, checkpoints and windows**: `GET /channels/{id}/messages?after={snowflake}`;
//!   the snowflake is the checkpoint ([`DiscordCheckpoint`]: the `after` of the next bucket,
//!   or the last thread handed on) and the poll cursor. Snowflakes hold their creation time,
//!   so the messages of a window `[start, end)` are an exact id range; it is read widened to
//!   whole buckets (from the start of `start`'s bucket to the end of the bucket `end` falls
//!   in), and a bucket or thread is sent, whole, when one of its messages was posted or
//!   edited (`timestamp`, `edited_timestamp`) in the window: the bucket a channel is writing
//!   into goes out on every run while it grows, not only once it has closed. Its
//!   `updated_at` is its newest `timestamp` or `edited_timestamp`. A channel whose
//!   `last_message_id` is older than the window costs no message request.
//! - **Edits**: an edit keeps the message's id (and so its bucket); Discord has no query for
//!   "edited since". Each incremental run reads `edit_lookback_hours` (default 24) before the
//!   window too: a bucket there with an edit made in the window is sent again, whole. An edit to an older message, and a deletion (which
//!   leaves no time behind), are found by a full run (the version token of a bucket holds
//!   every message id with its edit time, so a full run sends exactly the buckets that
//!   changed). A thread with a message since the window's start (less the look-back) is
//!   read whole, and its version holds every message id and edit time too: new replies in
//!   old threads and edits in them are found; an edit alone inside a thread quiet for longer
//!   is found by a full run.
//! - **Archived threads**: `GET /channels/{id}/threads/archived/public?before=…`, newest
//!   archived first, paged by archive time alone (`before` exclusive, microseconds). Threads
//!   archived at one instant (a bulk archive) can straddle a page boundary, so each next page
//!   starts a microsecond after the page's oldest archive time and lists that one again (kept
//!   once, by id); a page all of one instant that brings nothing new (or is all of the
//!   instant it started just after) is stepped past, so the walk ends and no thread comes
//!   twice. The exact bound: of the threads of one channel archived at the very same instant
//!   (to the microsecond), the listing reaches the first page of them (100); the rest cannot
//!   be asked for. Such a channel gets a failure naming it and the instant, and prune asks
//!   each thread it would delete by id (`GET /channels/{id}`) rather than trust the listing.
//! - **Access**: from the server's roles and the channel's permission overwrites, computed
//!   in Discord's order: `discord-guild:{id}` when `@everyone` may view the channel, else the roles
//!   (`discord-role:{guild}:{role}`) and members (`discord-user:{id}`) that may. Threads
//!   inherit their channel's.
//! - **Limits**: `requests_per_second` (Discord's global 50 per bot) by default; a route whose
//!   answer says `X-RateLimit-Remaining: 0` is waited out for `X-RateLimit-Reset-After`
//!   before the next request; a `429` (per route or `global`) is retried after its
//!   `Retry-After` by core's client and counted in the sync report.

mod access;
mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;
mod snowflake;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use connector_core::http::{Auth, HttpClient};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, Result, Roles,
    Secret, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::{ChannelCursor, DiscordCheckpoint, GuildCursor, Stage};
pub use config::{
    DEFAULT_API_BASE_URL, DEFAULT_BUCKET_HOURS, DEFAULT_EDIT_LOOKBACK_HOURS,
    DEFAULT_REQUESTS_PER_SECOND, DiscordConfig, DiscordCredentials,
};

use client::Client;
use config::TOKEN_FIELD;
use pages::Walk;
use snowflake::Buckets;

/// The registry key of the Discord connector.
pub const SOURCE: &str = "discord";

/// The longest `Retry-After` honoured: Discord's per-route resets are seconds, a global
/// limit or a Cloudflare ban can be longer.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(600);

/// Reads Discord servers. Built from a [`DiscordConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::discord::{DiscordConfig, DiscordConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let connector = DiscordConnector::new(DiscordConfig::new(["1098765432109876543"], "MTA5…"))?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DiscordConnector {
    config: DiscordConfig,
    walk: Walk,
}

impl DiscordConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: DiscordConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let http = HttpClient::builder(SOURCE)
            .auth(
                Auth::Header {
                    name: "authorization".to_owned(),
                    value: Secret::from(format!("Bot {}", config.bare_token())),
                },
                TOKEN_FIELD,
            )
            .error_classifier(client::classify)
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_second, Duration::from_secs(1))
            .retry_after_cap(RATE_LIMIT_WAIT)
            .build()?;
        let api = match &config.base_url {
            Some(u) => u.clone(),
            None => Url::parse(DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        let walk = Walk {
            client: Client::new(http, api),
            servers: config.servers(),
            channel_names: config.channel_filter(),
            buckets: Buckets::hours(config.bucket_hours.get()),
            lookback: TimeDelta::hours(i64::from(config.edit_lookback_hours)),
            threads: config.include_threads,
            start_date: config
                .start_date
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc()),
            only_channel: None,
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }
}

impl fmt::Display for DiscordConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(channel), [server]) = (&self.walk.only_channel, self.walk.servers.as_slice()) {
            write!(f, "{SOURCE}:{server}:{channel}")
        } else if self.walk.servers.is_empty() {
            write!(f, "{SOURCE}:*")
        } else {
            write!(f, "{SOURCE}:{}", self.walk.servers.join(","))
        }
    }
}

#[async_trait]
impl Connector for DiscordConnector {
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

    /// Reads the bot (`GET /users/@me`) and each configured server (`GET /guilds/{id}`).
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.discord_bot_token` for a token Discord rejects;
    /// `NotFound` naming `server_ids[i]` for a server that does not exist or the bot is not
    /// in; `Unavailable` when Discord cannot be reached.
    async fn check(&self) -> Result<()> {
        self.walk.client.me().await?;
        // Without the Message Content intent Discord returns other users' messages with empty
        // text, embeds and attachments: every document would be author and time lines only.
        if !self.walk.client.application().await?.has_message_content() {
            return Err(Error::new(
                connector_core::ErrorKind::PermissionDenied,
                format!(
                    "{TOKEN_FIELD}: the bot's application lacks the Message Content intent, so Discord returns messages without their text; switch on \"Message Content Intent\" under Bot → Privileged Gateway Intents in the Developer Portal"
                ),
            )
            .with_field(TOKEN_FIELD));
        }
        for id in &self.walk.servers {
            self.walk
                .client
                .guild(id)
                .await
                .map_err(|e| self.walk.named_guild_error(id, e))?;
        }
        Ok(())
    }

    /// The configured servers when there is more than one (no request; see
    /// [`discover_partitions`](Connector::discover_partitions) for the split by channel).
    fn partitions(&self) -> Vec<String> {
        if self.walk.only_channel.is_none() && self.walk.servers.len() > 1 {
            self.walk.servers.clone()
        } else {
            Vec::new()
        }
    }

    /// Every channel the walk would read, listed now: of each configured server, or of
    /// every server the bot is in when `server_ids` is empty (`GET /users/@me/guilds`), its
    /// channels with messages or threads, named in `channel_names` (when set) and readable by
    /// the bot (`GET /guilds/{id}`, its member, `GET /guilds/{id}/channels`), each a
    /// partition keyed `{server}:{channel}` by id: a rename keeps the key, and the names show
    /// in the documents (`channel` and `guild` metadata, titles), read afresh each run. A
    /// channel's threads stay in its partition. None for a partition itself.
    ///
    /// A channel, not a server, is the partition: one server is the common configuration,
    /// and only a split by channel spreads it over several jobs; a channel is already the
    /// unit of Discord's per-route message limit and of the checkpoint's cursor, and its
    /// threads are its own. What a channel's job repeats of its server (the server with its
    /// roles, the bot's member, the channel list, the active threads: four requests) is
    /// small beside its messages.
    ///
    /// # Errors
    /// As [`check`](Connector::check): `Unauthenticated` naming the token, `NotFound` naming
    /// `server_ids[i]` for a server the bot is not in, `Unavailable`: never an empty list for
    /// a listing that failed.
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        if self.walk.only_channel.is_some() {
            return Ok(Vec::new());
        }
        self.walk.channel_keys().await
    }

    /// This connector reading only `partition`: one of [`partitions`](Connector::partitions)
    /// (a configured server), or a `{server}:{channel}` key such as
    /// [`discover_partitions`](Connector::discover_partitions) lists (both snowflakes; the
    /// server one of `server_ids` when they are set), still within `channel_names`: a channel
    /// gone from the scope since is a failure of its run. Partitions share the client and its
    /// rate limit (Discord's global limit is per bot). `None` for any other key.
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if self.walk.only_channel.is_some() {
            return None;
        }
        let mut config = self.config.clone();
        let mut only = None;
        if self.partitions().iter().any(|s| s == partition) {
            config.server_ids = vec![partition.to_owned()].into();
        } else {
            let (server, channel) = partition.split_once(':')?;
            let snowflake = |s: &str| !s.is_empty() && s.len() <= 20 && s.parse::<u64>().is_ok();
            if !snowflake(server)
                || !snowflake(channel)
                || (!self.walk.servers.is_empty() && !self.walk.servers.iter().any(|s| s == server))
            {
                return None;
            }
            config.server_ids = vec![server.to_owned()].into();
            only = Some(channel.to_owned());
        }
        let mut connector = Self::new(config).ok()?;
        connector.walk.only_channel = only;
        connector.walk.client = self.walk.client.clone();
        Some(Arc::new(connector))
    }
}

impl CheckpointedConnector for DiscordConnector {
    type Checkpoint = DiscordCheckpoint;

    fn initial_checkpoint(&self) -> DiscordCheckpoint {
        DiscordCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: DiscordCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<DiscordCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for DiscordConnector {
    /// Every bucket and thread id in scope; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }

    /// Every bucket not listed; a thread only once Discord says it is gone or out of scope
    /// (asked by id): the archived-thread listing cannot reach past a whole page of threads
    /// archived at one instant.
    fn confirm_gone(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> futures::future::BoxFuture<'static, Result<Vec<String>>> {
        let walk = self.walk.clone();
        Box::pin(async move { walk.confirm_gone(ids, ctx).await })
    }
}

impl connector_core::RefetchConnector for DiscordConnector {
    /// These buckets (read again from their first snowflake to their last) and threads; one
    /// that is gone or out of scope yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}
