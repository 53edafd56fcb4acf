//! [`DiscordConfig`]: which servers and channels, how messages are grouped, and the bot token.

use std::fmt;
use std::num::NonZeroU32;

use chrono::NaiveDate;
use connector_core::config::{IgnoredField, StringList};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Discord's REST API, version 10.
pub const DEFAULT_API_BASE_URL: &str = "https://discord.com/api/v10";

/// Hours of channel messages per document unless configured otherwise: one UTC day.
pub const DEFAULT_BUCKET_HOURS: u32 = 24;

/// Hours before an incremental window's start that are read again for edits unless
/// configured otherwise.
pub const DEFAULT_EDIT_LOOKBACK_HOURS: u32 = 24;

/// Requests per second unless configured otherwise: Discord's global limit for a bot.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 50;

/// The config field of the token, named in authentication errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.discord_bot_token";

/// The credentials: RAGFlow's `discord_bot_token`.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DiscordCredentials {
    /// The bot's token (Developer Portal → Bot → Token), with or without a leading `Bot `.
    /// The bot needs View Channel and Read Message History on the channels to read, and the
    /// Message Content intent switched on for message text.
    #[schemars(example = &"MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.example")]
    pub discord_bot_token: Secret,
}

impl fmt::Debug for DiscordCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordCredentials")
            .field("discord_bot_token", &"***")
            .finish()
    }
}

/// The configuration of the Discord connector (source `"discord"`).
///
/// ```
/// use connector_misc::discord::DiscordConfig;
///
/// // RAGFlow's web form: lists from tag inputs, the channels under `channels`.
/// let config: DiscordConfig = connector_core::config::from_json(serde_json::json!({
///     "server_ids": ["1098765432109876543"],
///     "channels": ["general", "help"],
///     "credentials": {"discord_bot_token": "MTA5.example"},
/// }))?;
/// assert_eq!(config.channel_filter(), ["general", "help"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DiscordConfig {
    /// The bot token.
    pub credentials: DiscordCredentials,
    /// Servers (guild ids) to read, as a list or a comma list; empty: every server the bot
    /// is in. With more than one, each server is a partition (a job with its own
    /// checkpoint).
    #[serde(default)]
    #[schemars(example = &"1098765432109876543")]
    pub server_ids: StringList,
    /// Channel names to read (`general` or `#general`, any case), as a list or a comma list;
    /// empty: every channel the bot may read. RAGFlow's SDK name; `channels` is the web
    /// form's, and the two are merged.
    #[serde(default)]
    #[schemars(example = &"general, help")]
    pub channel_names: StringList,
    /// Channel names to read, as RAGFlow's web form names the field (see `channel_names`).
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub channels: StringList,
    /// Hours of a channel's messages in one document (default 24: one document per channel
    /// and UTC day). Buckets are fixed on the clock (aligned to multiples of this from the
    /// Unix epoch), so a bucket's document id never depends on where a run started; changing
    /// this changes the ids (prune removes the old ones).
    #[serde(default = "default_bucket_hours")]
    #[schemars(range(max = 744))]
    pub bucket_hours: NonZeroU32,
    /// Hours before an incremental window's start read again (default 24). Discord keeps an
    /// edited message's id (and so its place in time); re-reading these buckets finds edits
    /// made within this time after a message was posted. Deletions are not found this way (a
    /// deleted message leaves no timestamp in the window): a full run finds them. Buckets
    /// whose messages did not change are reported unchanged, not sent again. `0` reads the
    /// window alone.
    #[serde(default = "default_edit_lookback_hours")]
    #[schemars(range(max = 8760))]
    pub edit_lookback_hours: u32,
    /// Read public threads (active and archived) of the channels, one document each
    /// (default on). Forum and media channels hold only threads.
    #[serde(default = "default_true")]
    pub include_threads: bool,
    /// Messages posted before this day (UTC, `YYYY-MM-DD`) are left out (RAGFlow's Go
    /// connector's `start_date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"2024-01-01")]
    pub start_date: Option<NaiveDate>,
    /// Requests per second (Discord allows a bot 50 in all; per-route limits are read from
    /// each answer's `X-RateLimit-*` headers and waited out before the next request).
    #[serde(default = "default_requests_per_second")]
    #[schemars(range(max = 10_000))]
    pub requests_per_second: NonZeroU32,
    /// The REST API root: `https://discord.com/api/v10` (default; RAGFlow's Go connector
    /// reads it from `DISCORD_CONNECTOR_BASE_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "https://discord.com/api/v10")]
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

fn default_bucket_hours() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_BUCKET_HOURS).unwrap_or(NonZeroU32::MIN)
}

fn default_edit_lookback_hours() -> u32 {
    DEFAULT_EDIT_LOOKBACK_HOURS
}

fn default_requests_per_second() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN)
}

impl DiscordConfig {
    /// These servers with this token, every other setting at its default.
    pub fn new<S: Into<String>>(
        server_ids: impl IntoIterator<Item = S>,
        token: impl Into<Secret>,
    ) -> Self {
        Self {
            credentials: DiscordCredentials {
                discord_bot_token: token.into(),
            },
            server_ids: server_ids.into_iter().collect(),
            channel_names: StringList::default(),
            channels: StringList::default(),
            bucket_hours: default_bucket_hours(),
            edit_lookback_hours: DEFAULT_EDIT_LOOKBACK_HOURS,
            include_threads: true,
            start_date: None,
            requests_per_second: default_requests_per_second(),
            base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The channel names to read (`channel_names` and `channels` together), lower case,
    /// without a leading `#`, in config order without repeats; empty: every channel.
    pub fn channel_filter(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in self.channel_names.iter().chain(self.channels.iter()) {
            let name = name.trim().trim_start_matches('#').to_lowercase();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// The configured server ids, in config order without repeats.
    pub(crate) fn servers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in &self.server_ids {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }

    /// The token without a `Bot `/`Bearer ` prefix a user may have pasted with it.
    pub(crate) fn bare_token(&self) -> &str {
        let token = self.credentials.discord_bot_token.expose().trim();
        let scheme = |s: &str| s.eq_ignore_ascii_case("bot") || s.eq_ignore_ascii_case("bearer");
        match token.split_once(char::is_whitespace) {
            Some((prefix, rest)) if scheme(prefix) => rest.trim(),
            _ if scheme(token) => "",
            _ => token,
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

/// A snowflake: a decimal `u64`.
pub(crate) fn is_snowflake(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.parse::<u64>().is_ok()
}

impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("credentials", &self.credentials)
            .field("server_ids", &self.server_ids)
            .field("channel_names", &self.channel_names)
            .field("channels", &self.channels)
            .field("bucket_hours", &self.bucket_hours)
            .field("edit_lookback_hours", &self.edit_lookback_hours)
            .field("include_threads", &self.include_threads)
            .field("start_date", &self.start_date)
            .field("requests_per_second", &self.requests_per_second)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for DiscordConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow keeps the connection's name beside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.bare_token().is_empty() {
            problems.push(FieldError::new(TOKEN_FIELD, "must not be empty"));
        }
        for (i, id) in self.server_ids.iter().enumerate() {
            if !is_snowflake(id) {
                problems.push(FieldError::new(
                    format!("server_ids[{i}]"),
                    format!(
                        "{id:?} is not a server id (a number: Server Settings → Widget, or Copy Server ID in developer mode)"
                    ),
                ));
            }
        }
        if self.bucket_hours.get() > 744 {
            problems.push(FieldError::new(
                "bucket_hours",
                "must be at most 744 (31 days)",
            ));
        }
        if self.edit_lookback_hours > 8760 {
            problems.push(FieldError::new(
                "edit_lookback_hours",
                "must be at most 8760 (a year)",
            ));
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

    fn config(v: serde_json::Value) -> DiscordConfig {
        connector_core::config::from_json(v).unwrap()
    }

    #[test]
    fn both_ragflow_shapes_are_read() {
        let sdk = config(serde_json::json!({
            "server_ids": "111, 222",
            "channel_names": "General,#help",
            "batch_size": 1024,
            "credentials": {"discord_bot_token": "Bot abc"},
        }));
        assert_eq!(sdk.servers(), ["111", "222"]);
        assert_eq!(sdk.channel_filter(), ["general", "help"]);
        assert_eq!(sdk.bare_token(), "abc");
        let form = config(serde_json::json!({
            "server_ids": [],
            "channels": ["random"],
            "credentials": {"discord_bot_token": "abc"},
        }));
        assert!(form.servers().is_empty());
        assert_eq!(form.channel_filter(), ["random"]);
    }

    #[test]
    fn validate_names_every_problem() {
        let c: DiscordConfig = serde_json::from_value(serde_json::json!({
            "server_ids": ["12a", "5"],
            "bucket_hours": 1000,
            "edit_lookback_hours": 9000,
            "base_url": "ftp://x.example",
            "credentials": {"discord_bot_token": "Bot  "},
        }))
        .unwrap();
        let mut paths: Vec<String> = c.validate().into_iter().map(|p| p.path).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "base_url",
                "bucket_hours",
                TOKEN_FIELD,
                "edit_lookback_hours",
                "server_ids[0]"
            ]
        );
    }
}
