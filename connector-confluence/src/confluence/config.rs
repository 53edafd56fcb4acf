//! [`ConfluenceConfig`]: which site, which content, which credentials.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::net::NetworkPolicy;
use connector_core::{Secret, StringList};

use super::ids::IdScheme;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

mod validate;

/// Attachments larger than this are skipped unless configured otherwise: 10 MiB (RAGFlow's
/// limit).
pub const DEFAULT_ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// The smallest number of results asked for per search request, whatever `batch_size` says
/// (RAGFlow used its batch size of 2 as the page size: one round trip per two pages).
pub const MIN_PAGE_SIZE: u32 = 50;

/// The largest number of results asked for per search request.
pub const MAX_PAGE_SIZE: u32 = 250;

/// The Atlassian API gateway that scoped tokens and OAuth access tokens are sent to.
pub const DEFAULT_API_GATEWAY: &str = "https://api.atlassian.com";

/// What to index (RAGFlow's `index_mode`). Only the field of the chosen mode is read: a
/// `space` left over in `everything` or `page` mode, or a `page_id` left over in `everything`
/// or `space` mode, is ignored, as RAGFlow ignores it (and reported as unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IndexMode {
    /// Every space the credentials can read.
    Everything,
    /// The space named by `space`.
    Space,
    /// The page `page_id`, and its descendants with `index_recursively`.
    Page,
}

impl IndexMode {
    /// The mode as a config names it (`everything`, `space`, `page`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everything => "everything",
            Self::Space => "space",
            Self::Page => "page",
        }
    }
}

impl fmt::Display for IndexMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configuration of the Confluence connector (source `"confluence"`).
///
/// It accepts RAGFlow's Confluence config as RAGFlow's web form stores it (`wiki_base`, `is_cloud`,
/// `index_mode`, `space`, `page_id`, `index_recursively`, `credentials`) and the fields RAGFlow's
/// connectors take besides (`cql_query`, `scoped_token`, `batch_size`: its Python connector takes
/// them as constructor arguments but builds from a stored config without them; its Go connector
/// reads `cql_query` and `batch_size`, not `scoped_token`; see the crate's README for where the two
/// differ), with RAGFlow's defaults, so a config means the same documents here as there: pages (not
/// blog posts) of the selected scope and their attachments, images included. The options below it
/// are this connector's own, and `time_buffer_seconds` (RAGFlow's generic knob) is read. RAGFlow's
/// other generic knobs (`sync_batch_size`, `sync_deleted_files`, `allow_images`,
/// `credentials.authentication_method`) are accepted and reported as ignored
/// ([`connector_core::config::parse`]), except for values that change nothing (`sync_deleted_files:
/// false`, `allow_images: true`); `batch_size` is a field here, and used. Fields that the others
/// leave unused, as in RAGFlow, are reported too
/// ([`ConnectorConfig::unused`](connector_core::ConnectorConfig::unused)): a `space`, `page_id` or
/// `index_recursively` that the `index_mode` (or a `cql_query`) does not read.
///
/// ```
/// use connector_confluence::confluence::ConfluenceConfig;
///
/// let config: ConfluenceConfig = connector_core::config::from_json(serde_json::json!({
///     "wiki_base": "https://example.atlassian.net/wiki",
///     "is_cloud": true,
///     "index_mode": "space",
///     "space": "ENG",
///     "credentials": {
///         "confluence_username": "me@example.com",
///         "confluence_access_token": "api-token",
///     },
/// }))?;
/// assert_eq!(config.space.as_deref(), Some("ENG"));
/// assert!(config.include_attachments && !config.include_blog_posts);
/// # Ok::<(), connector_core::Error>(())
/// ```
///
/// # Scope
/// - `index_mode` `everything`, `space` (`space`) or `page` (`page_id`, with its descendants
///   when `index_recursively`, default false as in RAGFlow). Without `index_mode` (configs
///   stored before RAGFlow added it) the mode follows the field that is set: `page_id`, else
///   `space`, else everything: the scope such a config was written for. (RAGFlow now reads it
///   as `everything`; the field that chose the mode is reported through
///   [`ConnectorConfig::unused`](connector_core::ConnectorConfig::unused), so the
///   difference is told.)
/// - `cql_query`, when set, replaces the mode's selection, as in RAGFlow's Go connector
///   (its Python connector ignores a stored `cql_query`); the window of an
///   incremental run, `labels_to_skip` and the connector's own order are added around it.
/// - Pages only unless `include_blog_posts`; attachments of every page taken unless
///   `include_attachments` is false, images among them unless `include_images` is false.
///   RAGFlow's `allow_images` is not read: neither of RAGFlow's Confluence connectors reads
///   it (both index image attachments), so `allow_images: false` is reported as ignored.
///
/// # Authentication
/// - Cloud: `confluence_username` (the account e-mail) and `confluence_access_token` (an API
///   token), sent as HTTP Basic.
/// - Cloud with `scoped_token`: a scoped API token with the e-mail, through the Atlassian API
///   gateway `https://api.atlassian.com/ex/confluence/{cloudId}`; the site's cloud id is
///   read from `{site}/_edge/tenant_info` unless `cloud_id` gives it.
/// - Cloud with `cloud_id` and no user name: an OAuth access token (Bearer) through the
///   gateway.
/// - Server/Data Center: `confluence_access_token` is a personal access token (Bearer), as
///   RAGFlow's Python connector sends it, user name or not (RAGFlow's form asks for one);
///   with `confluence_username`, a token the server refuses is then sent as that user's
///   password (Basic, as RAGFlow's Go connector sends it whenever a user name is given),
///   which is found once for the connector's life.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfluenceConfig {
    /// The site's base URL: `https://example.atlassian.net/wiki` on Cloud (`/wiki` is added
    /// when missing), `https://confluence.example.com` (with its context path, if any) on
    /// Server/Data Center. Document ids and links are built from it.
    pub wiki_base: Url,
    /// Confluence Cloud (true, the default) or Server/Data Center (false).
    #[serde(default = "yes")]
    pub is_cloud: bool,
    /// What to index; without it, `page` when `page_id` is set, `space` when `space` is set,
    /// else `everything` (see [Scope](Self#scope)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_mode: Option<IndexMode>,
    /// The space key for `index_mode: space` (`ENG`; a personal space: `~` and the user name,
    /// such as `~john.doe` on Data Center); ignored in the other modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// The page id for `index_mode: page`; ignored in the other modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    /// With `index_mode: page`, also index every descendant of the page (default false, as in
    /// RAGFlow: the page alone).
    #[serde(default)]
    pub index_recursively: bool,
    /// A CQL filter that replaces the selection of `index_mode` (as RAGFlow's Go connector
    /// reads `cql_query`; its Python connector ignores a stored one), such as `space in ("ENG", "OPS") and label = "public"`. Its pages (and blog
    /// posts, if it matches any) are indexed; the window of an incremental run and
    /// `labels_to_skip` are added to it, and results come in the connector's own order, so it
    /// must not have an `order by` clause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cql_query: Option<String>,
    /// Also index blog posts (default false: RAGFlow indexes pages only). Without effect
    /// with `cql_query`, which decides for itself.
    #[serde(default)]
    pub include_blog_posts: bool,
    /// The credentials.
    pub credentials: ConfluenceCredentials,
    /// `confluence_access_token` is an Atlassian scoped API token (default false): requests
    /// go through the API gateway (`{api_gateway}/ex/confluence/{cloudId}`), with the cloud id
    /// from `cloud_id` or else read once from the site's `/_edge/tenant_info`. Cloud only;
    /// needs `confluence_username`.
    #[serde(default)]
    pub scoped_token: bool,
    /// RAGFlow's batch size. Here it only raises the number of results per search request
    /// above its floor of 50 (at most 250); the host's batch size is a sync option.
    /// (`sync_batch_size`, which RAGFlow's Go connector reads before it, is accepted and
    /// ignored; RAGFlow's Python connector reads neither from a stored config and asks for
    /// 2 results at a time.) Zero or less is the default, as RAGFlow's Go connector reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-default-unless-positive" = true))]
    #[schemars(range(max = u32::MAX as u64))]
    pub batch_size: Option<NonZeroU32>,
    /// Pages and blog posts with any of these labels are skipped: a list, or one text of
    /// labels separated by commas or line breaks (`"secret, internal"`, as RAGFlow's
    /// `CONFLUENCE_CONNECTOR_LABELS_TO_SKIP` writes them). RAGFlow's Python connector reads
    /// labels to skip only from that environment variable, its Go connector not at all.
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub labels_to_skip: StringList,
    /// Also index content of archived spaces (default false). On Server/Data Center every
    /// search (pages, their comments, an incremental run's changed comments and attachments)
    /// is asked for it (`includeArchivedSpaces=true`). On Cloud it has no effect:
    /// Cloud's content search takes no such parameter and leaves archived spaces out (and CQL
    /// has no clause for a space's status). Without it, a result whose space is archived
    /// (`space.status`) is left out whatever the search returned.
    #[serde(default)]
    pub include_archived: bool,
    /// Index the attachments of the pages taken as documents of their own (default true, as
    /// in RAGFlow).
    #[serde(default = "yes")]
    pub include_attachments: bool,
    /// Largest attachment downloaded, in bytes (default 10 MiB); larger ones are skipped
    /// before any download.
    #[serde(default = "default_attachment_size_limit")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub attachment_size_limit: NonZeroU64,
    /// Also index image attachments (default true: RAGFlow's Confluence connectors take
    /// them). RAGFlow's `allow_images` does not set it: neither of RAGFlow's Confluence
    /// connectors reads that field.
    #[serde(default = "yes")]
    pub include_images: bool,
    /// The Cloud site's id, for scoped tokens and OAuth through the Atlassian API gateway
    /// (with `scoped_token` it is otherwise read from the site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    /// The Atlassian API gateway (default `https://api.atlassian.com`); used with `cloud_id`
    /// and `scoped_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway: Option<Url>,
    /// The offset in hours of the API user's time zone (RAGFlow's Python connector reads it
    /// from `CONFLUENCE_TIMEZONE_OFFSET`, by default the host's own offset; its Go connector
    /// writes CQL dates in UTC), one of the zones CQL may read dates in. When unset, the
    /// user's zone is asked (`/rest/api/user/current` → `timeZone`; a named zone such as
    /// `Europe/Berlin` is read with its daylight saving rules). On Cloud the site's default
    /// zone is read too (`/rest/api/settings/systemInfo`: Atlassian's CONFCLOUD-70966 says
    /// Cloud's search reads dates in it), and an incremental search's start is written in the
    /// more western of the two, so neither reading cuts off the window; if a zone is unknown,
    /// it starts 14 hours earlier (results are filtered exactly either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_offset: Option<f64>,
    /// How long before the previous window's end an incremental run starts, in seconds
    /// (RAGFlow's `time_buffer_seconds`; `0`: no overlap). Confluence's search index lags
    /// its writes (Cloud's by seconds to minutes): an edit saved just before a run's end can
    /// show up in the search only after it, with a modification time inside the window that
    /// run already closed. Default: 600 (ten minutes) on Cloud, 60 on Server/Data Center.
    /// RAGFlow's Python connector defaults to one day (`CONFLUENCE_SYNC_TIME_BUFFER_SECONDS`);
    /// what an overlap lists again costs a listing only (unchanged pages are skipped by
    /// version), so a day is safe but slower. The sync's own `SyncOptions::overlap` applies
    /// when it is longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = connector_core::config::limits::MAX_SECONDS))]
    pub time_buffer_seconds: Option<u64>,
    /// How documents are identified: `content_id` (the default:
    /// `confluence:{site}/page/{id}`, Confluence's content ids, which survive renames and
    /// moves, so a rename is an update of the same document) or `ragflow_url` (the web URL,
    /// as RAGFlow names them, for a host migrating from RAGFlow; a host can also make it the
    /// default of every config that names no scheme with `Registry::set_ragflow_ids`). See
    /// [`IdScheme`]. Read it with [`id_scheme()`](Self::id_scheme).
    #[serde(default, serialize_with = "scheme_in_effect")]
    pub id_scheme: Option<IdScheme>,
    /// Give every document who may read it (`access`: users by e-mail, groups by name,
    /// `public` for spaces anonymous users may view), from the page's and its ancestors'
    /// read restrictions, else its space's view permission (default false). Costs no request
    /// per page: the restrictions come with the search, space permissions are read once per
    /// space per run (Cloud: REST API v2, no admin permission needed), and each user's
    /// e-mail and (Cloud) each group's name once per run. What cannot be read names nobody
    /// (fails closed). See the crate's README for what `access` means.
    #[serde(default)]
    pub include_permissions: bool,
    /// Hosts this connector may reach although they are not public addresses: host names
    /// (`confluence.corp.example`), domains (`*.corp.example`), addresses (`10.1.2.3`) or
    /// networks (`10.20.0.0/16`). Private, loopback and link-local addresses (the cloud
    /// metadata service at 169.254.169.254) are denied otherwise, for every request (the
    /// site, the tenant info, the API gateway, attachment downloads) and every redirect:
    /// `wiki_base` and `api_gateway` are set by whoever writes the config. A Confluence
    /// Server/Data Center on an intranet is named here. A host that runs connectors for
    /// others can rule this field out (`Registry::set_network_policy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own: set by a
    /// [`Registry`](connector_core::Registry)
    /// ([`ConnectorConfig::set_network_policy`](connector_core::ConnectorConfig::set_network_policy))
    /// or [`with_network_policy`](Self::with_network_policy), never by the tenant's JSON.
    #[serde(skip)]
    #[schemars(skip)]
    host_network: Option<NetworkPolicy>,
}

fn yes() -> bool {
    true
}

fn default_attachment_size_limit() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_ATTACHMENT_SIZE_LIMIT).unwrap_or(NonZeroU64::MIN)
}

/// The credentials, with RAGFlow's field names.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfluenceCredentials {
    /// The account e-mail (Cloud), or the user name (Server/DC: needed only with a password);
    /// leave it out for an OAuth access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confluence_username: Option<String>,
    /// The API token (Cloud, scoped or not), OAuth access token (with `cloud_id`), personal
    /// access token or password (Server/DC).
    pub confluence_access_token: Secret,
}

impl ConfluenceCredentials {
    /// Credentials from a user name (or e-mail) and a token or password.
    pub fn basic(username: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            confluence_username: Some(username.into()),
            confluence_access_token: Secret::new(token.into()),
        }
    }

    /// A personal access token (Server/DC) or OAuth access token, sent as Bearer.
    pub fn token(token: impl Into<String>) -> Self {
        Self {
            confluence_username: None,
            confluence_access_token: Secret::new(token.into()),
        }
    }

    pub(crate) fn username(&self) -> Option<&str> {
        self.confluence_username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }
}

impl fmt::Debug for ConfluenceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceCredentials")
            .field("confluence_username", &self.confluence_username)
            .field("confluence_access_token", &"***")
            .finish()
    }
}

impl fmt::Debug for ConfluenceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceConfig")
            .field("wiki_base", &self.wiki_base.as_str())
            .field("is_cloud", &self.is_cloud)
            .field("index_mode", &self.mode())
            .field("space", &self.space)
            .field("page_id", &self.page_id)
            .field("index_recursively", &self.index_recursively)
            .field("cql_query", &self.cql_query)
            .field("include_blog_posts", &self.include_blog_posts)
            .field("credentials", &self.credentials)
            .field("scoped_token", &self.scoped_token)
            .field("labels_to_skip", &self.labels_to_skip)
            .field("include_archived", &self.include_archived)
            .field("include_attachments", &self.include_attachments)
            .field("attachment_size_limit", &self.attachment_size_limit)
            .field("include_images", &self.include_images)
            .field("cloud_id", &self.cloud_id)
            .field("time_buffer_seconds", &self.time_buffer_seconds)
            .field("id_scheme", &self.id_scheme)
            .field("include_permissions", &self.include_permissions)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("host_network", &self.host_network)
            .finish_non_exhaustive()
    }
}

/// The overlap an incremental run needs on Cloud when `time_buffer_seconds` is not set: its
/// search index lags writes by seconds to minutes.
pub const DEFAULT_CLOUD_OVERLAP_SECS: u64 = 600;

/// The same on Server/Data Center, whose index is updated from a queue that a scheduled job
/// flushes every few seconds.
pub const DEFAULT_SERVER_OVERLAP_SECS: u64 = 60;

impl ConfluenceConfig {
    /// The overlap between incremental windows: `time_buffer_seconds`, else 600 s on Cloud
    /// and 60 s on Server/Data Center.
    pub fn overlap(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.time_buffer_seconds.unwrap_or(if self.is_cloud {
            DEFAULT_CLOUD_OVERLAP_SECS
        } else {
            DEFAULT_SERVER_OVERLAP_SECS
        }))
    }

    /// A config for the site at `wiki_base` with every other setting at its default
    /// (Cloud, every page the credentials can read, with its attachments).
    pub fn new(wiki_base: Url, credentials: ConfluenceCredentials) -> Self {
        Self {
            wiki_base,
            is_cloud: true,
            index_mode: None,
            space: None,
            page_id: None,
            index_recursively: false,
            cql_query: None,
            include_blog_posts: false,
            credentials,
            scoped_token: false,
            batch_size: None,
            labels_to_skip: StringList::default(),
            include_archived: false,
            include_attachments: true,
            attachment_size_limit: default_attachment_size_limit(),
            include_images: true,
            cloud_id: None,
            api_gateway: None,
            timezone_offset: None,
            time_buffer_seconds: None,
            id_scheme: None,
            include_permissions: false,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// This config with the host's network policy, in place of the connector's own (public
    /// addresses plus `allowed_hosts`). A [`Registry`](connector_core::Registry) does this
    /// itself when the host set a policy.
    ///
    /// ```
    /// use connector_core::net::NetworkPolicy;
    /// use connector_confluence::confluence::{ConfluenceConfig, ConfluenceCredentials};
    /// let base = "https://confluence.corp.example".parse().expect("a URL");
    /// let config = ConfluenceConfig::new(base, ConfluenceCredentials::token("pat"))
    ///     .with_allowed_hosts(["10.1.2.3"]);
    /// let own = config.network_policy()?;
    /// assert!(own.permits("confluence", "10.1.2.3".parse().unwrap()));
    /// assert!(!own.permits("confluence", "169.254.169.254".parse().unwrap()));
    /// // A host's policy that does not accept config hosts rules `allowed_hosts` out.
    /// let hosts = config.with_network_policy(NetworkPolicy::public_only());
    /// assert!(!hosts.network_policy()?.permits("confluence", "10.1.2.3".parse().unwrap()));
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    #[must_use]
    pub fn with_network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.host_network = Some(policy);
        self
    }

    /// May also reach `hosts` although they are not public addresses (see
    /// [`allowed_hosts`](Self::allowed_hosts)): a Server/Data Center on an intranet.
    #[must_use]
    pub fn with_allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// The policy every request of this connector goes through: the host's, if it set one
    /// (widened by `allowed_hosts` only where it
    /// [accepts them](NetworkPolicy::with_config_hosts)), else public addresses plus
    /// `allowed_hosts`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming an `allowed_hosts`
    /// entry that is not a host, domain, address or network.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// Documents identified by `scheme` (see [`IdScheme`]).
    #[must_use]
    pub fn with_id_scheme(mut self, scheme: IdScheme) -> Self {
        self.id_scheme = Some(scheme);
        self
    }

    /// The id scheme in effect: the config's, else [`IdScheme::ContentId`].
    pub fn id_scheme(&self) -> IdScheme {
        self.id_scheme.unwrap_or_default()
    }

    /// The index mode in effect (explicit, else from `page_id` / `space`).
    pub fn mode(&self) -> IndexMode {
        self.index_mode.unwrap_or(if self.page_id().is_some() {
            IndexMode::Page
        } else if self.space().is_some() {
            IndexMode::Space
        } else {
            IndexMode::Everything
        })
    }

    pub(crate) fn space(&self) -> Option<&str> {
        self.space
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    pub(crate) fn page_id(&self) -> Option<&str> {
        self.page_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The CQL filter that replaces the mode's selection, if any.
    pub(crate) fn cql_query(&self) -> Option<&str> {
        self.cql_query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
    }

    pub(crate) fn cloud_id(&self) -> Option<&str> {
        self.cloud_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Results asked for per search request.
    pub(crate) fn page_size(&self) -> u32 {
        self.batch_size
            .map_or(MIN_PAGE_SIZE, NonZeroU32::get)
            .clamp(MIN_PAGE_SIZE, MAX_PAGE_SIZE)
    }

    /// The site's base for web links: no trailing `/`, with `/wiki` on Cloud.
    pub(crate) fn web_base(&self) -> String {
        let mut base = self.wiki_base.as_str().trim_end_matches('/').to_owned();
        if self.is_cloud && !base.ends_with("/wiki") {
            base.push_str("/wiki");
        }
        base
    }

    /// Whether requests go through the Atlassian API gateway (`cloud_id` or `scoped_token`).
    pub(crate) fn through_gateway(&self) -> bool {
        self.scoped_token || self.cloud_id().is_some()
    }

    /// The gateway's base, without a trailing `/`.
    pub(crate) fn gateway(&self) -> String {
        self.api_gateway
            .as_ref()
            .map_or(DEFAULT_API_GATEWAY, |g| g.as_str())
            .trim_end_matches('/')
            .to_owned()
    }
}

/// The base the REST API hangs off (`{base}/rest/api/...`) through `gateway` for the site
/// `cloud_id`.
pub(crate) fn gateway_base(gateway: &str, cloud_id: &str) -> String {
    format!("{gateway}/ex/confluence/{cloud_id}/wiki")
}

/// Whether `id` looks like a cloud id (a UUID): it goes into request paths.
pub(crate) fn is_cloud_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Serialises the id scheme in effect, so the effective config shows it.
fn scheme_in_effect<S: serde::Serializer>(
    scheme: &Option<IdScheme>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    Serialize::serialize(&scheme.unwrap_or_default(), serializer)
}
