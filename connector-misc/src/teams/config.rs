//! [`TeamsConfig`]: which tenant, which teams and channels, and how their threads are read.

use std::fmt;
use std::num::NonZeroU32;

use connector_core::config::StringList;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::graph::GraphApp;

/// Requests a second by default: Microsoft's limit for any one team or channel is 4 a second
/// per app (and 5 a second per app and tenant for channel messages).
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 4;

/// Days a thread stays watched for new replies by default.
pub const DEFAULT_REPLY_LOOKBACK_DAYS: u32 = 14;

/// The credentials: an app registration with the application permissions
/// `ChannelMessage.Read.All`, `Team.ReadBasic.All` and `Channel.ReadBasic.All`
/// (`TeamMember.Read.All` and `ChannelMember.Read.All` for `access`), as RAGFlow names them.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TeamsCredentials {
    /// The directory (tenant) id, or a verified domain.
    #[schemars(example = &"72f988bf-86f1-41af-91ab-2d7cd011db47")]
    pub tenant_id: String,
    /// The application (client) id.
    #[schemars(example = &"6731de76-14a6-49ae-97bc-6eba6914391e")]
    pub client_id: String,
    /// The client secret's value (not its id).
    #[schemars(example = &"***")]
    pub client_secret: Secret,
}

impl fmt::Debug for TeamsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsCredentials")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .finish()
    }
}

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
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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
    /// Requests a second to Microsoft Graph (default 4, Microsoft's limit per app for one team
    /// or channel).
    #[serde(default = "default_rps")]
    #[schemars(range(min = 1, max = 100))]
    pub requests_per_second: NonZeroU32,
    /// The Microsoft Entra ID authority (default `https://login.microsoftonline.com`;
    /// `https://login.microsoftonline.us` for US Government clouds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "https://login.microsoftonline.us")]
    pub authority_host: Option<Url>,
    /// Microsoft Graph (default `https://graph.microsoft.com`; `https://graph.microsoft.us`,
    /// `https://microsoftgraph.chinacloudapi.cn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "https://graph.microsoft.us")]
    pub graph_url: Option<Url>,
    /// Hosts this connector may reach although they are not public (a test server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["graph.internal.example"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn yes() -> bool {
    true
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
            },
            teams: StringList::default(),
            channels: StringList::default(),
            include_permissions: true,
            reply_lookback_days: DEFAULT_REPLY_LOOKBACK_DAYS,
            requests_per_second: default_rps(),
            authority_host: None,
            graph_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The app registration these settings describe.
    pub fn app(&self) -> GraphApp {
        let c = &self.credentials;
        let mut app = GraphApp::new(&c.tenant_id, &c.client_id, c.client_secret.clone());
        app.authority_host.clone_from(&self.authority_host);
        app.graph_url.clone_from(&self.graph_url);
        app
    }

    /// The policy every request follows: the host's if it set one, else public addresses
    /// plus `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }
}

impl fmt::Debug for TeamsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsConfig")
            .field("credentials", &self.credentials)
            .field("teams", &self.teams)
            .field("channels", &self.channels)
            .field("include_permissions", &self.include_permissions)
            .field("reply_lookback_days", &self.reply_lookback_days)
            .field("requests_per_second", &self.requests_per_second)
            .field("graph_url", &self.graph_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for TeamsConfig {
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = self.app().problems();
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
        if self.requests_per_second.get() > 100 {
            problems.push(FieldError::new(
                "requests_per_second",
                "is at most 100 (Graph's limit for channel messages per app across tenants)",
            ));
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
