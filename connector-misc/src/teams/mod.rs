//! The Microsoft Teams connector (source `"teams"`): the conversations of a tenant's team
//! channels, one document per thread, over Microsoft Graph with an app registration's client
//! credentials (application permissions `ChannelMessage.Read.All`, `Team.ReadBasic.All`,
//! `Channel.ReadBasic.All`; `TeamMember.Read.All` and `ChannelMember.Read.All` for access).
//!
//! - **Scope**: every team of the tenant (`GET /teams`), or the `teams` named (display name
//!   without case, or id); their channels (`GET /teams/{id}/channels`: standard, private and
//!   shared), or the `channels` named. A named team or channel that is not there is a failure
//!   naming it; the others are read. More than one named team: each is a **partition**
//!   (`team:{name}`), a job with its own checkpoint.
//! - **Threads**: a channel's root messages come from `GET …/channels/{id}/messages` with
//!   `$expand=replies` (50 roots a page, the first 1000 replies of each inline, the rest
//!   paged from `replies@odata.nextLink`). A thread is one Markdown document: the subject as
//!   a heading, then the root and its replies oldest first, each under its author and time
//!   (`(edited)` when edited), the HTML body through core's HTML → Markdown (mentions as
//!   `@Name`, emoji as characters, images Teams holds (`hostedContents`) as links (with
//!   `include_images`, each also a document of its own: its bytes read with the app's token
//!   from `…/hostedContents/{id}/$value`, under 20 MiB, the thread its `parent_id`, id
//!   `{thread id}__image__{message id}__{hosted id}`; listed for prune with its thread,
//!   fetched again with it), files and
//!   cards attached named and linked, a card's titles, texts and facts as paragraphs: a bot
//!   often posts its whole message as a card with an empty body). **System event messages** (a member added, a channel
//!   renamed: `messageType` other than `message`) are left out on purpose: they hold no text
//!   of their own, only an event. **Deleted messages** (`deletedDateTime` set) are left out;
//!   a deleted root whose replies live on keeps its replies under a note.
//! - **Documents**: id `{team id}__{channel id}__{root id}` (RAGFlow's; a message id is unique
//!   only within its channel, and Onyx's bare message id collides across channels); title the
//!   subject, else `{channel}: {first words}`; link the root's `webUrl`; `parent_id` the
//!   channel (`{team id}__{channel id}`); `owners` the root's author (by e-mail when the
//!   members list shows it); `updated_at` the latest created, modified or deleted time of any
//!   message of the thread; metadata `team`, `team_id`, `channel`, `channel_id`,
//!   `channel_type`, `message_id`, `replies`, `author`, `created_at`, `subject`, `importance`.
//! - **Incremental runs**: a listing first takes the channel's delta position
//!   (`GET …/messages/delta` filtered to `lastModifiedDateTime gt` the run's start, read to
//!   its `@odata.deltaLink`), so whatever changes during the listing is seen next time. The
//!   delta links a finished run ends with are carried to the next incremental run
//!   ([`CheckpointedConnector::carry_over`]), which reads each channel's delta: new roots,
//!   edited ones, deleted ones, with their replies. **New replies to old threads**: Graph's
//!   delta lists root messages, and a reply does not move its root's `lastModifiedDateTime`
//!   (Graph's reference once said it did; it was corrected after reports that it does not:
//!   microsoftgraph/microsoft-graph-docs#6693). So each channel's state also keeps the threads
//!   active within `reply_lookback_days` (default 14; at most `max_watched_threads`, default
//!   200, the most recent), and each
//!   incremental run asks the replies of those the delta did not list
//!   (`GET …/messages/{id}/replies`, 20 to a `$batch`); a thread with a reply newer than its
//!   recorded activity is read again (its root asked the same way) and delivered. A reply to
//!   a thread quiet for longer than the look-back is found by a full run. `$filter` on
//!   `lastModifiedDateTime` over `GET …/messages` is not the route: v1.0 supports no filter
//!   there, and the root's time would miss replies anyway. Graph's `410 Gone` (an expired
//!   delta link) lists the channel again in the same run, where unchanged threads are
//!   reported unchanged. A deleted thread (its root deleted with no live reply left, or gone
//!   from Graph when a watched thread is asked) is handed on as deleted
//!   (`Batch::deleted`) in the batch that sees it; prune ([`SlimConnector`]) catches the rest.
//!   A channel that is gone (deleted, of a deleted team, or no longer in `teams` or
//!   `channels`) leaves the checkpoint at the end of the run that finds it gone, and its
//!   threads leave at the next prune; a team whose channels cannot be listed keeps its
//!   channels' states.
//! - **Access** (unless `include_permissions: false`): a standard channel is its team's: the
//!   team's Microsoft 365 group (`aad-group:{team id}`) and its members' e-mail addresses
//!   (`GET /teams/{id}/members`, once per team); a private channel its own members
//!   (`GET …/channels/{id}/members`), a shared channel its direct members and those of the
//!   teams it is shared with, of any tenant (`GET …/channels/{id}/allMembers`). Members that cannot be listed narrow the channel to its
//!   team's group (standard) or to nobody (private, shared): fail closed. A membership
//!   change is part of every thread's version, and the channel's checkpoint keeps a hash of
//!   its access: an incremental run that finds other members lists that channel again, so
//!   every thread of it is delivered with the new access (the delta alone would leave a
//!   removed member reading the old threads).
//! - **Fetch by id** ([`RefetchConnector`]): a thread read again by its id, its root
//!   (`GET …/messages/{id}`) and its replies (`GET …/messages/{id}/replies`), so the batch
//!   loop retries a thread that failed before anything else.
//! - **Fingerprint**: every message's id, `etag` and times, and the channel's access, all
//!   listed: an unchanged thread is reported unchanged.
//! - **Limits**: Microsoft's Teams limits are per app and tenant: 5 requests a second for
//!   channel messages, 4 a second for any one team or channel; the client keeps to
//!   `requests_per_second` (default 4), a `$batch` taking one request per member as Graph
//!   counts them, and waits out 429 and 503 with `Retry-After`
//!   (core's client, see [`crate::graph`]). A 403 names `ChannelMessage.Read.All`.
//! - **Errors**: a channel Graph will not read to its end is a failure naming it
//!   (`{team id}__{channel id}`); the other channels are read, and the next run reads it again
//!   from its last finished round. Only errors that end any sync end the run.

mod checkpoint;
mod config;
mod convert;
mod images;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, RefetchConnector,
    Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{ChannelCursor, ChannelState, Phase, TeamsCheckpoint};
pub use config::{
    DEFAULT_REPLY_LOOKBACK_DAYS, DEFAULT_REQUESTS_PER_SECOND, DEFAULT_WATCHED_THREADS, TeamsConfig,
    TeamsCredentials,
};

use crate::graph::{self, escape};
use pages::Reader;

/// The registry key of the Teams connector.
pub const SOURCE: &str = "teams";

/// The application permissions a 403 asks for.
const PERMISSIONS: &str = "ChannelMessage.Read.All (and Team.ReadBasic.All, Channel.ReadBasic.All; TeamMember.Read.All and ChannelMember.Read.All for access)";

/// Reads Microsoft Teams channels. Built from a [`TeamsConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::teams::{TeamsConfig, TeamsConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = TeamsConfig::new("contoso.onmicrosoft.com", "app-id", "secret");
/// let connector = TeamsConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TeamsConnector {
    config: TeamsConfig,
    reader: Reader,
}

impl TeamsConnector {
    /// A connector for `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of
    /// `config`.
    pub fn new(config: TeamsConfig) -> Result<Self> {
        let rps = config.requests_per_second;
        let graph = config.client(SOURCE, PERMISSIONS, |b| {
            b.rate_limit(rps, std::time::Duration::from_secs(1))
        })?;
        let reader = Reader {
            graph,
            teams: config.teams.iter().map(|t| t.trim().to_owned()).collect(),
            channels: config
                .channels
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            permissions: config.include_permissions,
            lookback: TimeDelta::days(i64::from(config.reply_lookback_days)),
            watched: usize::try_from(config.max_watched_threads).unwrap_or(usize::MAX),
            images: config.include_images,
        };
        Ok(Self { config, reader })
    }

    /// The configuration.
    pub fn config(&self) -> &TeamsConfig {
        &self.config
    }
}

impl fmt::Display for TeamsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.config.credentials.tenant_id.trim())
    }
}

#[async_trait]
impl Connector for TeamsConnector {
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

    /// `team:{entry}` for each of `teams`, when there is more than one.
    fn partitions(&self) -> Vec<String> {
        graph::partitions(self.reader.teams.iter().map(|t| format!("team:{t}")))
    }

    fn partition(&self, partition: &str) -> Option<DynConnector> {
        if !self.partitions().iter().any(|p| p == partition) {
            return None;
        }
        let team = partition.strip_prefix("team:")?;
        let mut config = self.config.clone();
        config.teams = vec![team.to_owned()].into();
        Some(Arc::new(Self::new(config).ok()?))
    }

    /// Gets a token, lists the teams (a named one missing fails here), the first team's
    /// channels, and one message of its first channel: the secret is accepted, the app holds
    /// `Team.ReadBasic.All`, `Channel.ReadBasic.All` and `ChannelMessage.Read.All`.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.client_secret`, `PermissionDenied` naming the
    /// application permission, `NotFound` naming a team of `teams`, `Unavailable` when Graph
    /// cannot be reached.
    async fn check(&self) -> Result<()> {
        let (teams, failures) = self.reader.teams().await?;
        graph::first_failure(SOURCE, failures, Some("teams"))?;
        let Some(team) = teams.first() else {
            return Ok(());
        };
        let channels = self.reader.channels(team).await?;
        if let Some(channel) = channels.first() {
            let url = self.reader.graph.url(
                &format!(
                    "teams/{}/channels/{}/messages",
                    escape(&team.id),
                    escape(&channel.id)
                ),
                &[("$top", "1")],
            )?;
            self.reader.graph.page::<serde_json::Value>(&url).await?;
        }
        Ok(())
    }
}

impl CheckpointedConnector for TeamsConnector {
    type Checkpoint = TeamsCheckpoint;

    fn initial_checkpoint(&self) -> TeamsCheckpoint {
        TeamsCheckpoint::start()
    }

    /// The delta links (and watched threads) the finished run ended on: the next incremental
    /// run reads the changes since.
    fn carry_over(&self, last: &TeamsCheckpoint) -> Option<TeamsCheckpoint> {
        last.carried()
    }

    fn load_from_checkpoint(
        &self,
        from: TeamsCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<TeamsCheckpoint>>> {
        pages::checkpointed(&self.reader, from, window, ctx)
    }
}

impl SlimConnector for TeamsConnector {
    /// Every thread id of a fresh listing of every channel; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        pages::list_ids(&self.reader, ctx)
    }
}

impl RefetchConnector for TeamsConnector {
    /// The threads with these ids read again: each root (`GET …/messages/{id}`) and its
    /// replies (`GET …/messages/{id}/replies`). Ids of threads gone, or outside `teams` and
    /// `channels`, yield nothing (prune deals with them).
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        pages::refetch(&self.reader, ids, ctx)
    }
}
