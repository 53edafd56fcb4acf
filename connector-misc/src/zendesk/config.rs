//! [`ZendeskConfig`]: which Zendesk account, which content (Help Center articles or support
//! tickets), and the agent that reads it.

use std::borrow::Cow;
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::{IgnoredField, StringList};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use url::Url;

/// Requests per minute to the ordinary endpoints unless configured otherwise: the Support
/// API's limit of the smallest plan (Suite Team, 200 per minute per account); Growth and
/// Professional allow 400, Enterprise 700, Enterprise Plus 2,500.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 200;

/// Requests per minute to the incremental export endpoints unless configured otherwise:
/// Zendesk's documented 10 (30 with the High Volume API add-on).
pub const DEFAULT_EXPORT_REQUESTS_PER_MINUTE: u32 = 10;

/// Articles per page of the Help Center list unless configured otherwise (cursor paging
/// allows up to 100).
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The changed users whose tickets one incremental run searches by default.
pub const DEFAULT_USER_SEARCHES_PER_RUN: u32 = 50;

/// The largest attachment downloaded unless configured otherwise: 10 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// The config field of the API token, named by authentication errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.zendesk_token";

/// What the connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    /// Help Center (Guide) articles.
    #[default]
    Articles,
    /// Support tickets with their comments.
    Tickets,
}

impl JsonSchema for ContentType {
    fn schema_name() -> Cow<'static, str> {
        "ZendeskContentType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`articles`: the Help Center's published articles; `tickets`: support tickets with every comment.",
            "type": "string",
            "enum": ["articles", "tickets"],
            "examples": ["articles", "tickets"]
        })
    }
}

/// RAGFlow's credentials: the account's subdomain, an agent's e-mail and an API token, sent
/// as HTTP Basic `{email}/token:{token}`.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ZendeskCredentials {
    /// The account's subdomain, as in `https://{subdomain}.zendesk.com`; a whole URL
    /// (`https://acme.zendesk.com/`) is accepted as RAGFlow accepts it.
    #[schemars(example = &"acme")]
    pub zendesk_subdomain: String,
    /// The e-mail address of the agent (an admin, for tickets: the incremental export is for
    /// admins) whose API token this is.
    #[schemars(example = &"jane@example.com")]
    pub zendesk_email: String,
    /// An API token (Admin Center > Apps and integrations > Zendesk API). Surrounding
    /// whitespace is dropped.
    pub zendesk_token: Secret,
}

impl fmt::Debug for ZendeskCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZendeskCredentials")
            .field("zendesk_subdomain", &self.zendesk_subdomain)
            .field("zendesk_email", &self.zendesk_email)
            .field("zendesk_token", &"***")
            .finish()
    }
}

/// The configuration of the Zendesk connector (source `"zendesk"`).
///
/// ```
/// use connector_misc::zendesk::{ContentType, ZendeskConfig};
///
/// // RAGFlow's stored shape.
/// let config: ZendeskConfig = connector_core::config::from_json(serde_json::json!({
///     "zendesk_content_type": "tickets",
///     "credentials": {
///         "zendesk_subdomain": "https://acme.zendesk.com",
///         "zendesk_email": "jane@example.com",
///         "zendesk_token": "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv",
///     },
/// }))?;
/// assert_eq!(config.zendesk_content_type, ContentType::Tickets);
/// assert_eq!(config.subdomain(), "acme");
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ZendeskConfig {
    /// The account and its token.
    pub credentials: ZendeskCredentials,
    /// `articles` (default, as in RAGFlow) or `tickets`.
    #[serde(default)]
    pub zendesk_content_type: ContentType,
    /// The Help Center locale whose articles are read (`en-us`, `de`); none: the Help
    /// Center's default locale (the list's), and for polls each article's source locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"en-us")]
    pub locale: Option<String>,
    /// Articles with any of these labels are left out (Onyx's
    /// `ZENDESK_CONNECTOR_SKIP_ARTICLE_LABELS`); a list or comma-separated text.
    #[serde(default)]
    #[schemars(example = &"internal-only, deprecated")]
    pub skip_article_labels: StringList,
    /// The ticket statuses read (`new`, `open`, `pending`, `hold`, `solved`, `closed`); a
    /// list or comma-separated text; empty (default): all of them. Deleted tickets are never
    /// documents.
    #[serde(default)]
    #[schemars(example = &"solved, closed")]
    pub ticket_statuses: StringList,
    /// Put internal notes (private comments, agents only) in a document of their own,
    /// `zendesk_ticket_{id}:internal`, readable by agents; off: internal notes are not read
    /// into any document. Default on.
    #[serde(default = "default_true")]
    pub include_internal_notes: bool,
    /// The Help Center requires sign-in (Guide settings, "Require sign in"): an article no
    /// user segment restricts is then readable by `zendesk:signed_in_users`, not public.
    /// Default off (an open Help Center).
    #[serde(default)]
    pub help_center_requires_sign_in: bool,
    /// Read the files attached to tickets' comments and to articles (inline images among
    /// them), each a file document (raw bytes, with `mime` and `extension`) readable by its
    /// parent's audience. Default off, as in RAGFlow and Onyx: prune's id listing then costs
    /// one request per ticket (its comments) or per article (its attachments).
    #[serde(default)]
    pub include_attachments: bool,
    /// The largest attachment downloaded, in bytes (default 10 MiB, at most 4 GiB): a larger
    /// one, by its listed `size` or while downloading, is a failure naming it.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(min = 1, max = 4_294_967_296_u64), example = &10_485_760)]
    pub max_file_size: NonZeroU64,
    /// Articles of a multi-brand account: the brands whose Help Centers are read, by
    /// subdomain or name (case-blind), or `*` for every active brand whose Help Center is on
    /// (`GET /api/v2/brands`; each Help Center at its `brand_url`); a list or comma-separated
    /// text. Empty (default): the Help Center at the account's URL alone.
    #[serde(default)]
    #[schemars(example = &"acme, acme-kids")]
    pub brands: StringList,
    /// Articles per page of the Help Center list (at most 100).
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1, max = 100))]
    pub page_size: NonZeroU32,
    /// Requests per minute to the ordinary endpoints (at most 100,000): the account's plan
    /// limit, 200 (Team) by default; Growth and Professional allow 400, Enterprise 700.
    #[serde(default = "default_requests_per_minute")]
    #[schemars(range(min = 1, max = 100_000))]
    pub requests_per_minute: NonZeroU32,
    /// Requests per minute to the incremental exports (at most 100,000): Zendesk allows 10, or
    /// 30 with the High Volume API add-on.
    #[serde(default = "default_export_requests_per_minute")]
    #[schemars(range(min = 1, max = 100_000))]
    pub export_requests_per_minute: NonZeroU32,
    /// Tickets, incremental runs: how many changed users (an e-mail changed) have their
    /// tickets searched in one run (default 50, at most 10,000). Each costs three searches
    /// (`requester:`, `cc:`, `assignee:`; Zendesk's search ANDs different keywords and has
    /// no `OR`); the users past the cap are carried in the checkpoint to the next run.
    #[serde(default = "default_user_searches_per_run")]
    #[schemars(range(min = 1, max = 10_000), example = &50)]
    pub user_searches_per_run: NonZeroU32,
    /// The account's URL instead of `https://{subdomain}.zendesk.com` (a proxy, a test
    /// server); the API is under its `/api/v2/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://acme.zendesk.com")]
    pub base_url: Option<Url>,
    /// Hosts this connector may reach although they are not public (a proxy, a test server).
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

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_page_size() -> NonZeroU32 {
    nz(DEFAULT_PAGE_SIZE)
}

fn default_requests_per_minute() -> NonZeroU32 {
    nz(DEFAULT_REQUESTS_PER_MINUTE)
}

fn default_user_searches_per_run() -> NonZeroU32 {
    nz(DEFAULT_USER_SEARCHES_PER_RUN)
}

fn default_export_requests_per_minute() -> NonZeroU32 {
    nz(DEFAULT_EXPORT_REQUESTS_PER_MINUTE)
}

impl ZendeskConfig {
    /// The `content` of the account `subdomain`, read as `email` with the API `token`; every
    /// other setting at its default.
    pub fn new(
        subdomain: impl Into<String>,
        email: impl Into<String>,
        token: impl Into<String>,
        content: ContentType,
    ) -> Self {
        Self {
            credentials: ZendeskCredentials {
                zendesk_subdomain: subdomain.into(),
                zendesk_email: email.into(),
                zendesk_token: Secret::new(token),
            },
            zendesk_content_type: content,
            locale: None,
            skip_article_labels: StringList::default(),
            ticket_statuses: StringList::default(),
            include_internal_notes: true,
            help_center_requires_sign_in: false,
            include_attachments: false,
            max_file_size: default_max_file_size(),
            brands: StringList::default(),
            page_size: default_page_size(),
            requests_per_minute: default_requests_per_minute(),
            export_requests_per_minute: default_export_requests_per_minute(),
            user_searches_per_run: default_user_searches_per_run(),
            base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The subdomain alone: `https://acme.zendesk.com/` and `acme.zendesk.com` give `acme`
    /// (RAGFlow's form takes either).
    pub fn subdomain(&self) -> &str {
        let s = self.credentials.zendesk_subdomain.trim();
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s);
        let s = s.trim_end_matches('/');
        s.strip_suffix(".zendesk.com").unwrap_or(s)
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

impl fmt::Debug for ZendeskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZendeskConfig")
            .field("credentials", &self.credentials)
            .field("zendesk_content_type", &self.zendesk_content_type)
            .field("locale", &self.locale)
            .field("skip_article_labels", &self.skip_article_labels.as_slice())
            .field("ticket_statuses", &self.ticket_statuses.as_slice())
            .field("include_internal_notes", &self.include_internal_notes)
            .field(
                "help_center_requires_sign_in",
                &self.help_center_requires_sign_in,
            )
            .field("include_attachments", &self.include_attachments)
            .field("max_file_size", &self.max_file_size)
            .field("brands", &self.brands.as_slice())
            .field("page_size", &self.page_size)
            .field("requests_per_minute", &self.requests_per_minute)
            .field(
                "export_requests_per_minute",
                &self.export_requests_per_minute,
            )
            .field("user_searches_per_run", &self.user_searches_per_run)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// The statuses a ticket can have besides `deleted`.
const STATUSES: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];

impl ConnectorConfig for ZendeskConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let sub = self.subdomain();
        let valid = !sub.is_empty()
            && sub.len() <= 63
            && sub.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid && self.base_url.is_none() {
            problems.push(FieldError::new(
                "credentials.zendesk_subdomain",
                "must be the account's subdomain, as in https://{subdomain}.zendesk.com (letters, digits, `-`)",
            ));
        }
        if !self.credentials.zendesk_email.contains('@') {
            problems.push(FieldError::new(
                "credentials.zendesk_email",
                "must be the e-mail address of the agent the API token belongs to",
            ));
        }
        if self.credentials.zendesk_token.expose().trim().is_empty() {
            problems.push(FieldError::new(TOKEN_FIELD, "is required"));
        }
        if let Some(locale) = &self.locale
            && (locale.is_empty()
                || !locale
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            problems.push(FieldError::new(
                "locale",
                "must be a Help Center locale such as `en-us` (letters, digits, `-`)",
            ));
        }
        for status in self.ticket_statuses.iter() {
            if !STATUSES.contains(&status.to_lowercase().as_str()) {
                problems.push(FieldError::new(
                    "ticket_statuses",
                    format!(
                        "`{status}` is not a ticket status (one of {})",
                        STATUSES.join(", ")
                    ),
                ));
            }
        }
        for brand in self.brands.iter() {
            let b = brand.trim();
            if b.is_empty() || b.contains('/') {
                problems.push(FieldError::new(
                    "brands",
                    format!("`{brand}` is not a brand's subdomain or name, nor `*`"),
                ));
            }
        }
        if self.max_file_size.get() > connector_core::config::limits::MAX_BYTES {
            problems.push(FieldError::new(
                "max_file_size",
                format!(
                    "must be at most {} bytes",
                    connector_core::config::limits::MAX_BYTES
                ),
            ));
        }
        if self.page_size.get() > 100 {
            problems.push(FieldError::new("page_size", "must be at most 100"));
        }
        if self.user_searches_per_run.get() > 10_000 {
            problems.push(FieldError::new(
                "user_searches_per_run",
                "must be at most 10000",
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
