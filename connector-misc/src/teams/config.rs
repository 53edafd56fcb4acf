//! [`TeamsConfig`]: which tenant, which teams and channels, and how their threads are read.

use std::num::NonZeroU32;

use connector_core::config::StringList;
use connector_core::{FieldError, Secret};

use crate::graph::{graph_config, graph_credentials};

/// Requests a second by default: Microsoft's limit for any one team or channel is 4 a second
/// per app (and 5 a second per app and tenant for channel messages).
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 4;

/// Days a thread stays watched for new replies by default.
pub const DEFAULT_REPLY_LOOKBACK_DAYS: u32 = 14;

/// Threads of a channel watched for new replies at most by default.
pub const DEFAULT_WATCHED_THREADS: u32 = 200;

graph_credentials! {
    /// The credentials: an app registration with the application permissions
    /// `ChannelMessage.Read.All`, `Team.ReadBasic.All` and `Channel.ReadBasic.All`
    /// (`TeamMember.Read.All` and `ChannelMember.Read.All` for `access`), as RAGFlow names them.
    pub struct TeamsCredentials {}
    tenant_example = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    secret_example = "***";
}

graph_config! {
    /// The configuration of the Microsoft Teams connector (source `"teams"`).
    ///
    /// ```
    /// use connector_misc::teams::TeamsConfig;
    ///
    /// // RAGFlow's shape: the app's credentials only (every team of the tenant).
    /// let config: TeamsConfig = connector_core::config::from_json(serde_json::json!({
    ///     "credentials": {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app", "client_secret": "s"},
    ///     "batch_size": 2,
    /// }))?;
    /// assert!(config.teams.is_empty() && config.include_permissions);
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    pub struct TeamsConfig {
        /// The app registration.
        pub credentials: TeamsCredentials,
        /// The teams to read, by display name (compared without case) or id, as a list or a
        /// comma list (Onyx's `teams`); each is a partition (a job with its own checkpoint) when
        /// there is more than one. Empty: every team of the tenant.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        #[schemars(example = "Engineering, Sales")]
        pub teams: StringList,
        /// The channels to read in those teams, by display name (compared without case, a
        /// leading `#` dropped) or id (`19:…@thread.tacv2`). Empty: every channel, private and
        /// shared ones included.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        #[schemars(example = "General, Announcements")]
        pub channels: StringList,
        /// Set each thread's `access` from its channel's membership (default true): a standard
        /// channel's team members and team group, a private or shared channel's own members.
        /// False leaves `access` unset and asks for no member lists.
        #[serde(default = "yes")]
        pub include_permissions: bool,
        /// Days a thread is watched for new replies after its last activity (default 14; 0: not
        /// watched). Graph's channel delta lists root messages, and a reply does not move its
        /// root's `lastModifiedDateTime`, so each incremental run asks the replies of the threads
        /// active in this many days (20 per JSON batch) that the delta did not list.
        #[serde(default = "default_lookback")]
        #[schemars(range(min = 0, max = 365))]
        pub reply_lookback_days: u32,
        /// Threads of a channel watched for new replies at most, the most recently active ones
        /// within `reply_lookback_days` (default 200; 0: none). Each costs a `/replies`
        /// request (20 per JSON batch) per incremental run; a reply to a thread outside the
        /// watch is read by the next full run. Graph has no cheaper signal: `/replies` takes
        /// no filter, a reply does not move its root, and the one listing of every change
        /// (`getAllMessages`) is metered and billed per message.
        #[serde(default = "default_watched")]
        #[schemars(range(min = 0, max = 10000))]
        pub max_watched_threads: u32,
        /// Read the images pasted into messages (Teams' hosted contents, which only the app's
        /// token can open) as documents of their own, with their bytes for the host's OCR or
        /// captions, each a child of its thread (default false: the thread links them). One
        /// request per image of each thread delivered; images over 20 MiB are failures.
        #[serde(default)]
        pub include_images: bool,
        /// Requests a second to Microsoft Graph (default 4, Microsoft's limit per app for one team
        /// or channel).
        #[serde(default = "default_rps")]
        #[schemars(range(min = 1, max = 100))]
        pub requests_per_second: NonZeroU32,
    }
    allowed_hosts_example = ["graph.internal.example"];
}

fn yes() -> bool {
    true
}

fn default_watched() -> u32 {
    DEFAULT_WATCHED_THREADS
}

fn default_lookback() -> u32 {
    DEFAULT_REPLY_LOOKBACK_DAYS
}

fn default_rps() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN)
}

impl TeamsConfig {
    /// Every team of the tenant of this app, every other setting at its default.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            credentials: TeamsCredentials {
                tenant_id: tenant_id.into(),
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                client_certificate_key: None,
                client_certificate_password: None,
                client_certificate_thumbprint: None,
            },
            teams: StringList::default(),
            channels: StringList::default(),
            include_permissions: true,
            reply_lookback_days: DEFAULT_REPLY_LOOKBACK_DAYS,
            max_watched_threads: DEFAULT_WATCHED_THREADS,
            include_images: false,
            requests_per_second: default_rps(),
            authority_host: None,
            graph_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }
}

impl TeamsConfig {
    /// The problems of this source's own fields (see `graph_config!`).
    fn own_problems(&self, problems: &mut Vec<FieldError>) {
        for (field, list) in [("teams", &self.teams), ("channels", &self.channels)] {
            for (n, entry) in list.iter().enumerate() {
                if entry.trim().trim_start_matches('#').trim().is_empty() {
                    problems.push(FieldError::new(
                        format!("{field}[{n}]"),
                        "is a display name or an id, not empty",
                    ));
                }
            }
        }
        if self.reply_lookback_days > 365 {
            problems.push(FieldError::new(
                "reply_lookback_days",
                "is at most 365 days",
            ));
        }
        if self.max_watched_threads > 10_000 {
            problems.push(FieldError::new("max_watched_threads", "is at most 10000"));
        }
        if self.requests_per_second.get() > 100 {
            problems.push(FieldError::new(
                "requests_per_second",
                "is at most 100 (Graph's limit for channel messages per app across tenants)",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use connector_core::ConnectorConfig;

    #[test]
    fn problems_name_their_fields() {
        let config: TeamsConfig = serde_json::from_value(serde_json::json!({
            "credentials": {"tenant_id": "", "client_id": "c", "client_secret": "s3cret"},
            "teams": ["Engineering", "#"],
            "channels": ["#"],
            "reply_lookback_days": 400,
        }))
        .unwrap();
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            fields,
            [
                "credentials.tenant_id",
                "teams[1]",
                "channels[0]",
                "reply_lookback_days"
            ]
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
