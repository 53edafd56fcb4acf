//! [`SlackConfig`]: which channels, what of them, the bot token and Slack's rate tiers.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::config::{IgnoredField, StringList};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Slack's Web API root.
pub const DEFAULT_API_BASE_URL: &str = "https://slack.com/api";

/// Messages asked per `conversations.history` / `conversations.replies` page (Slack
/// recommends no more than 200; RAGFlow asks 900).
pub const DEFAULT_PAGE_SIZE: u32 = 200;

/// How far back an incremental run looks for threads with new replies, in days.
pub const DEFAULT_THREAD_LOOKBACK_DAYS: u32 = 30;

/// Hours before a window whose threads' replies are read again for edits unless configured
/// otherwise.
pub const DEFAULT_REPLY_EDIT_LOOKBACK_HOURS: u32 = 24;

/// Days over which every listed thread with replies has them read again once, unless
/// configured otherwise.
pub const DEFAULT_REPLY_RESCAN_DAYS: u32 = 7;

/// Tier 2 methods (`conversations.list`, `auth.teams.list`): 20+ per minute.
pub const DEFAULT_TIER2_PER_MINUTE: u32 = 20;
/// Tier 3 methods (`conversations.history`, `conversations.replies`, `conversations.join`):
/// 50+ per minute.
pub const DEFAULT_TIER3_PER_MINUTE: u32 = 50;
/// Tier 4 methods (`users.info`, `conversations.members`, `auth.test`): 100+ per minute.
pub const DEFAULT_TIER4_PER_MINUTE: u32 = 100;

/// The bot token field, named in errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.slack_bot_token";

/// The bot token (RAGFlow's `credentials.slack_bot_token`).
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SlackCredentials {
    /// The bot user OAuth token (`xoxb-…`) of a Slack app installed in the workspace, with
    /// `channels:read`, `channels:history`, `groups:read`, `groups:history` and `users:read`
    /// (`users:read.email` to give access by email; `channels:join` for
    /// `join_public_channels`).
    #[schemars(example = "xoxb-0000000000-0000000000000-example")]
    pub slack_bot_token: Secret,
}

impl fmt::Debug for SlackCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackCredentials")
            .field("slack_bot_token", &self.slack_bot_token)
            .finish()
    }
}

/// The configuration of the Slack connector (source `"slack"`).
///
/// ```
/// use connector_misc::slack::SlackConfig;
///
/// // RAGFlow's shape: channel names (a `#` is dropped), the token in `credentials`.
/// let config: SlackConfig = connector_core::config::from_json(serde_json::json!({
///     "channels": ["#general", "eng-.*"],
///     "channel_regex_enabled": true,
///     "credentials": {"slack_bot_token": "xoxb-example"},
/// }))?;
/// assert_eq!(config.channel_names(), ["general", "eng-.*"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SlackConfig {
    /// The bot token.
    pub credentials: SlackCredentials,
    /// Channel names to read (a leading `#` is dropped), as a list or a comma list; with
    /// `channel_regex_enabled`, regular expressions a whole name must match. Empty: every
    /// channel the bot can read. Named channels (not regexes), when more than one, are the
    /// partitions (by name); with patterns or empty, each channel the listing finds is one
    /// (by id, found by partition discovery).
    #[serde(default)]
    #[schemars(example = "general, eng-announce")]
    pub channels: StringList,
    /// Read `channels` as regular expressions matched against whole channel names (RAGFlow's
    /// `channel_regex_enabled`).
    #[serde(default)]
    pub channel_regex_enabled: bool,
    /// Join public channels the bot is not a member of (`conversations.join`, needs
    /// `channels:join`) before reading them. Off by default: the bot reads the channels it
    /// was invited to, and a named public channel it is not in is reported as a failure.
    /// RAGFlow always joined.
    #[serde(default)]
    pub join_public_channels: bool,
    /// Read private channels the bot is a member of (default on; needs `groups:read` and
    /// `groups:history`; without `groups:read` only public channels are listed).
    #[serde(default = "default_true")]
    pub include_private_channels: bool,
    /// Read archived channels too (default off, as RAGFlow).
    #[serde(default)]
    pub include_archived: bool,
    /// Keep messages of bots and apps (`bot_id`/`app_id`); RAGFlow drops them (default off).
    /// Joins, leaves, pins and renames are always left out.
    #[serde(default)]
    pub include_bot_messages: bool,
    /// Days before an incremental window's start whose threads are checked for new
    /// replies. Slack files a reply under its parent and does not move the parent, so a
    /// window's `conversations.history` alone misses replies to older threads: the listing
    /// reaches this far back and a thread whose `latest_reply` falls in the window is read
    /// again. `0`: only threads started in the window (RAGFlow's behaviour). Edits in threads
    /// started before it are a limit of Slack's API (no Web API method reports an edit to a
    /// bot): incremental runs do not see them; a full run does.
    #[serde(default = "default_thread_lookback_days")]
    #[schemars(range(max = 3650))]
    pub thread_lookback_days: u32,
    /// Hours before an incremental window's start whose replies are read again to find
    /// their edits (at most 8,760). Slack's listing shows a thread's parent alone, so an edit
    /// of a *reply* moves nothing it lists: a thread whose `latest_reply` is this recent has
    /// its replies read on every incremental run (one `conversations.replies` request), and
    /// is sent again when a reply's `edited.ts` changed. Edits of replies in quieter threads
    /// are found by `reply_rescan_days` (or a full run). `0`: no such re-read.
    #[serde(default = "default_reply_edit_lookback_hours")]
    #[schemars(range(max = 8760))]
    pub reply_edit_lookback_hours: u32,
    /// Days (at most 365) over which every thread with replies that an incremental run lists
    /// (within `thread_lookback_days`) has its replies read again once, to find edits of
    /// replies in threads quieter than `reply_edit_lookback_hours`, which nothing Slack lists
    /// shows. Each thread's turn comes on one day of the cycle, set by a hash of its id, so the
    /// cost is spread evenly: about (threads with replies listed) × (window length / cycle)
    /// `conversations.replies` requests a run, each thread sent again only when a reply's
    /// `edited.ts` moved. Needs a state store (a remembering fingerprint lookup), as the
    /// edit look-back does. `0`: off (edits of replies in quiet threads wait for a full run).
    #[serde(default = "default_reply_rescan_days")]
    #[schemars(range(max = 365), example = 7)]
    pub reply_rescan_days: u32,
    /// Messages per `conversations.history` / `conversations.replies` page (at most 999;
    /// Slack suggests 200): the unit of one fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = 999))]
    pub page_size: NonZeroU32,
    /// Requests per minute to each Tier 2 method (`conversations.list`; Slack allows 20+).
    #[serde(default = "default_tier2")]
    #[schemars(range(max = 100_000))]
    pub tier2_requests_per_minute: NonZeroU32,
    /// Requests per minute to each Tier 3 method (`conversations.history`,
    /// `conversations.replies`, `conversations.join`; Slack allows 50+). See
    /// `non_marketplace_app` for apps outside the Slack Marketplace.
    #[serde(default = "default_tier3")]
    #[schemars(range(max = 100_000))]
    pub tier3_requests_per_minute: NonZeroU32,
    /// The Slack app is distributed outside the Slack Marketplace (an "unlisted" app, or one
    /// installed from another company's link). Since 2025 (new installs from 2025-05-29,
    /// every install from 2026-03-03) Slack gives such apps 1 request a minute to
    /// `conversations.history` and to `conversations.replies`, at most 15 messages a page.
    /// On: those two methods keep to that, whatever `tier3_requests_per_minute` and
    /// `page_size` say. Off (default): an app built by the workspace for itself, or approved
    /// for the Marketplace, which keep Tier 3. A wrong "off" costs 429s that are waited out
    /// (`Retry-After`), much slower than keeping to the rate.
    #[serde(default)]
    pub non_marketplace_app: bool,
    /// Requests per minute to each Tier 4 method (`users.info`, `conversations.members`,
    /// `auth.test`; Slack allows 100+).
    #[serde(default = "default_tier4")]
    #[schemars(range(max = 100_000))]
    pub tier4_requests_per_minute: NonZeroU32,
    /// The Web API root: `https://slack.com/api` (default); another for a proxy or tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "https://slack.com/api")]
    pub base_url: Option<Url>,
    #[doc = "Hosts this connector may reach although they are not public (a proxy inside the network, a test server)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_true() -> bool {
    true
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn default_page_size() -> NonZeroU32 {
    nonzero(DEFAULT_PAGE_SIZE)
}

fn default_thread_lookback_days() -> u32 {
    DEFAULT_THREAD_LOOKBACK_DAYS
}

fn default_reply_edit_lookback_hours() -> u32 {
    DEFAULT_REPLY_EDIT_LOOKBACK_HOURS
}

fn default_reply_rescan_days() -> u32 {
    DEFAULT_REPLY_RESCAN_DAYS
}

fn default_tier2() -> NonZeroU32 {
    nonzero(DEFAULT_TIER2_PER_MINUTE)
}

fn default_tier3() -> NonZeroU32 {
    nonzero(DEFAULT_TIER3_PER_MINUTE)
}

fn default_tier4() -> NonZeroU32 {
    nonzero(DEFAULT_TIER4_PER_MINUTE)
}

impl SlackConfig {
    /// Every channel the token can read, every other setting at its default.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            credentials: SlackCredentials {
                slack_bot_token: token.into(),
            },
            channels: StringList::default(),
            channel_regex_enabled: false,
            join_public_channels: false,
            include_private_channels: true,
            include_archived: false,
            include_bot_messages: false,
            thread_lookback_days: DEFAULT_THREAD_LOOKBACK_DAYS,
            reply_edit_lookback_hours: DEFAULT_REPLY_EDIT_LOOKBACK_HOURS,
            reply_rescan_days: DEFAULT_REPLY_RESCAN_DAYS,
            page_size: default_page_size(),
            tier2_requests_per_minute: default_tier2(),
            tier3_requests_per_minute: default_tier3(),
            non_marketplace_app: false,
            tier4_requests_per_minute: default_tier4(),
            base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The channel names (or patterns), without a leading `#`, empty entries dropped.
    pub fn channel_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.channels {
            let name = c.trim().trim_start_matches('#').to_owned();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// The patterns of `channels` (with `channel_regex_enabled`), anchored to whole names.
    pub(crate) fn patterns(&self) -> Result<Vec<regex::Regex>, Vec<FieldError>> {
        if !self.channel_regex_enabled {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (i, p) in self.channel_names().iter().enumerate() {
            match regex::Regex::new(&format!("^(?:{p})$")) {
                Ok(r) => out.push(r),
                Err(e) => problems.push(FieldError::new(
                    format!("channels[{i}]"),
                    format!("{p:?} is not a regular expression: {e}"),
                )),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// The policy every request of the connector follows: the host's if it set one, else
    /// public addresses plus `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("credentials", &self.credentials)
            .field("channels", &self.channels)
            .field("channel_regex_enabled", &self.channel_regex_enabled)
            .field("join_public_channels", &self.join_public_channels)
            .field("include_private_channels", &self.include_private_channels)
            .field("include_archived", &self.include_archived)
            .field("include_bot_messages", &self.include_bot_messages)
            .field("thread_lookback_days", &self.thread_lookback_days)
            .field("reply_edit_lookback_hours", &self.reply_edit_lookback_hours)
            .field("reply_rescan_days", &self.reply_rescan_days)
            .field("page_size", &self.page_size)
            .field("tier2_requests_per_minute", &self.tier2_requests_per_minute)
            .field("tier3_requests_per_minute", &self.tier3_requests_per_minute)
            .field("non_marketplace_app", &self.non_marketplace_app)
            .field("tier4_requests_per_minute", &self.tier4_requests_per_minute)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for SlackConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow keeps the connection's name beside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.credentials.slack_bot_token.expose().trim().is_empty() {
            problems.push(FieldError::new(TOKEN_FIELD, "must not be empty"));
        }
        if let Err(p) = self.patterns() {
            problems.extend(p);
        }
        if self.page_size.get() > 999 {
            problems.push(FieldError::new("page_size", "must be at most 999"));
        }
        if self.thread_lookback_days > 3650 {
            problems.push(FieldError::new(
                "thread_lookback_days",
                "must be at most 3650",
            ));
        }
        if self.reply_edit_lookback_hours > 8760 {
            problems.push(FieldError::new(
                "reply_edit_lookback_hours",
                "must be at most 8760",
            ));
        }
        if self.reply_rescan_days > 365 {
            problems.push(FieldError::new("reply_rescan_days", "must be at most 365"));
        }
        if let Some(url) = &self.base_url
            && !matches!(url.scheme(), "http" | "https")
        {
            problems.push(FieldError::new("base_url", "must be an http(s) URL"));
        }
        problems.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        problems
    }

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn channels_from_a_comma_list_without_hashes() {
        let c: SlackConfig = connector_core::config::from_json(serde_json::json!({
            "channels": "#general, random,,#general",
            "credentials": {"slack_bot_token": "xoxb-1"},
        }))
        .unwrap();
        assert_eq!(c.channel_names(), ["general", "random"]);
        assert!(c.patterns().unwrap().is_empty());
    }

    #[test]
    fn validate_names_every_problem() {
        let c: SlackConfig = serde_json::from_value(serde_json::json!({
            "channels": ["ok", "(unclosed"],
            "channel_regex_enabled": true,
            "page_size": 5000,
            "thread_lookback_days": 99999,
            "reply_rescan_days": 400,
            "base_url": "ftp://slack.example",
            "credentials": {"slack_bot_token": " "},
        }))
        .unwrap();
        let mut paths: Vec<String> = c.validate().into_iter().map(|p| p.path).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "base_url",
                "channels[1]",
                TOKEN_FIELD,
                "page_size",
                "reply_rescan_days",
                "thread_lookback_days"
            ]
        );
    }
}
