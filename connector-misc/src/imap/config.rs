//! [`ImapConfig`]: which server, which mailboxes, which account. RAGFlow's IMAP config
//! (`imap_host`, `imap_port`, `imap_mailbox`, `poll_range`, `credentials.imap_username` /
//! `imap_password`) is accepted as it is.

use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret, StringList};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The port of implicit TLS (`imaps`), RAGFlow's default.
pub const DEFAULT_TLS_PORT: u16 = 993;

/// The port of STARTTLS and plain IMAP.
pub const DEFAULT_PLAIN_PORT: u16 = 143;

/// Attachments larger than this (decoded) are failures unless configured otherwise: 10 MiB,
/// RAGFlow's `IMAP_CONNECTOR_SIZE_THRESHOLD`.
pub const DEFAULT_ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// Messages larger than this (`RFC822.SIZE`) are failures and never downloaded unless
/// configured otherwise: 50 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 50 * 1024 * 1024;

/// Messages per `UID FETCH` (one source page, one checkpoint) unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Seconds a connection, the login or one command may take unless configured otherwise.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 60;

/// Gmail's web UI, searching for one message by its `Message-ID`.
const GMAIL_LINK: &str = "https://mail.google.com/mail/u/0/#search/rfc822msgid%3A{message_id}";

/// How the connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Security {
    /// Implicit TLS from the first byte (`imaps`, port 993): RAGFlow's only mode.
    #[default]
    Tls,
    /// A plain connection upgraded with `STARTTLS` before the login (port 143); a server that
    /// refuses the upgrade is an error, never a plain login.
    Starttls,
    /// No encryption at all: the password crosses the network in clear. Accepted only for a
    /// loopback `imap_host` (`localhost`, `127.0.0.1`, `::1`), for tests and local bridges.
    Plain,
}

/// The account: RAGFlow's `credentials` object.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ImapCredentials {
    /// The login name (often the mail address). It is also the mailbox owner every document
    /// is readable by.
    pub imap_username: String,
    /// The password or app password, sent once per run with `LOGIN` over TLS. Leave it out
    /// (or empty) when `imap_access_token` is given.
    #[serde(default = "no_secret")]
    pub imap_password: Secret,
    /// An OAuth 2 access token instead of a password: the login is then `AUTHENTICATE
    /// XOAUTH2` (SASL, as Gmail and Microsoft 365 take it; Microsoft 365 has turned password
    /// logins off). The token needs the scope `https://mail.google.com/` (Gmail) or
    /// `https://outlook.office.com/IMAP.AccessAsUser.All` (Microsoft 365), and
    /// `imap_username` is the mailbox's address. Access tokens expire (after an hour at
    /// both): the host renews it before a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"ya29.a0AfB_byC…")]
    pub imap_access_token: Option<Secret>,
}

fn no_secret() -> Secret {
    Secret::new("")
}

impl ImapCredentials {
    /// The access token, when one is given and not blank.
    pub(crate) fn access_token(&self) -> Option<&Secret> {
        self.imap_access_token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
    }
}

/// The IMAP connector's config (source `"imap"`).
///
/// ```
/// use connector_misc::imap::ImapConfig;
///
/// let config: ImapConfig = connector_core::config::from_json(serde_json::json!({
///     "imap_host": "imap.example.com",
///     "imap_port": 993,
///     "imap_mailbox": ["INBOX", "Archive"],
///     "poll_range": 30,
///     "credentials": { "imap_username": "me@example.com", "imap_password": "app-password" },
/// }))?;
/// assert_eq!(config.mailboxes(), ["INBOX", "Archive"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ImapConfig {
    /// The server's host name or address.
    pub imap_host: String,
    /// The server's port (default 993 with `security: tls`, 143 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imap_port: Option<u16>,
    /// The mailboxes to read, in this order, as the account shows them, in UTF-8 (`INBOX`,
    /// `Archive`, `Entwürfe`, `已发送`; sent to the server in modified UTF-7). A JSON array or
    /// one comma-separated string. Empty (the default, as in RAGFlow and Onyx): every mailbox
    /// `LIST` shows that can be selected, INBOX first, except the RFC 6154 special-use `\All`
    /// (Gmail's "All Mail", copies of the rest), `\Junk` and `\Trash`; name them here to
    /// read them.
    #[serde(default)]
    pub imap_mailbox: StringList,
    /// A full run reads only the mail of the last this many days (by arrival,
    /// `INTERNALDATE`), as RAGFlow's `poll_range` does; absent or `0`: all of it. RAGFlow
    /// defaults to 30 days because it keeps no state between runs; here, incremental runs
    /// take their window from the state store, so the default is everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 36_500))]
    pub poll_range: Option<u32>,
    /// The account.
    pub credentials: ImapCredentials,
    /// The mail address of the mailbox's owner, whom every document is readable by and owned
    /// by. Default: `credentials.imap_username` when it is a mail address; required when the
    /// login is not one (iCloud's bare name, `jdoe` on a company server, a master-user login
    /// such as `jdoe*admin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    /// `tls` (default, implicit TLS), `starttls`, or `plain` (loopback hosts only).
    #[serde(default)]
    pub security: Security,
    /// A PEM file on the connector's host of extra certificate authorities to trust besides
    /// the system's (a self-signed or company CA). The host name is always verified. Refused
    /// on a host that runs connectors for others (one that sets a network policy, as
    /// `connectors serve` does): a tenant's config must not open the host's files; use
    /// `ca_certificate_pem` there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"/etc/ssl/company-ca.pem")]
    pub ca_certificate: Option<PathBuf>,
    /// The same as `ca_certificate`, as the PEM text itself (`-----BEGIN CERTIFICATE-----…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n")]
    pub ca_certificate_pem: Option<String>,
    /// Where a document's `link` points: `gmail` (Gmail's web UI, a search for the message's
    /// `Message-ID`; the default for `imap.gmail.com`), or a URL template with `{message_id}`
    /// (without angle brackets), `{mailbox}`, `{uid}` and `{uid_validity}`, each
    /// percent-encoded (`https://webmail.example.com/?_mbox={mailbox}&_uid={uid}`). Without
    /// one (or for a message without `Message-ID` when the template needs it) the link is
    /// the RFC 5092 `imap://` URL, which mail clients open but browsers do not; metadata
    /// `imap_url` always holds that URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"gmail")]
    pub web_link: Option<String>,
    /// Attachments larger than this, decoded, in bytes, become failures (default 10 MiB).
    #[serde(default = "default_attachment_size_limit")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub attachment_size_limit: NonZeroU64,
    /// Messages larger than this (`RFC822.SIZE`) are failures and are not downloaded
    /// (default 50 MiB).
    #[serde(default = "default_max_message_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_message_size: NonZeroU64,
    /// Messages per `UID FETCH`: one source page and one checkpoint (default 50).
    #[serde(default = "default_page_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: NonZeroU32,
    /// Seconds the connection, the login or one command may take (default 60).
    #[serde(default = "default_timeout")]
    #[schemars(range(max = connector_core::config::limits::MAX_SECONDS))]
    pub timeout_seconds: NonZeroU64,
    #[doc = "Hosts this connector may reach although they are not public addresses: host names, domains (`*.corp.example`), addresses or networks (`10.20.0.0/16`). Private, loopback and link-local addresses are denied otherwise. A host that runs connectors for others can rule this field out (`Registry::set_network_policy`)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_attachment_size_limit() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_ATTACHMENT_SIZE_LIMIT).unwrap_or(NonZeroU64::MIN)
}

fn default_max_message_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_MESSAGE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

fn default_timeout() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_TIMEOUT_SECONDS).unwrap_or(NonZeroU64::MIN)
}

impl ImapConfig {
    /// A config for `username`'s `INBOX` on `host` over implicit TLS, every other setting at
    /// its default. For an OAuth login, give an empty password and set
    /// `credentials.imap_access_token` ([`ImapConfig::with_access_token`]).
    pub fn new(host: impl Into<String>, username: impl Into<String>, password: Secret) -> Self {
        Self {
            imap_host: host.into(),
            imap_port: None,
            imap_mailbox: StringList::default(),
            poll_range: None,
            credentials: ImapCredentials {
                imap_username: username.into(),
                imap_password: password,
                imap_access_token: None,
            },
            owner_email: None,
            security: Security::Tls,
            ca_certificate: None,
            ca_certificate_pem: None,
            web_link: None,
            attachment_size_limit: default_attachment_size_limit(),
            max_message_size: default_max_message_size(),
            page_size: default_page_size(),
            timeout_seconds: default_timeout(),
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// This config logging in with an OAuth 2 access token (`AUTHENTICATE XOAUTH2`) instead
    /// of a password.
    pub fn with_access_token(mut self, token: Secret) -> Self {
        self.credentials.imap_password = no_secret();
        self.credentials.imap_access_token = Some(token);
        self
    }

    /// The mailboxes named in `imap_mailbox`, blanks left out; empty means every mailbox the
    /// server lists (but `\All`, `\Junk` and `\Trash`).
    pub fn mailboxes(&self) -> Vec<String> {
        self.imap_mailbox
            .iter()
            .map(|m| m.trim())
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The mailbox owner's address: `owner_email`, else the login when it is a mail address.
    pub fn owner(&self) -> Option<String> {
        match &self.owner_email {
            Some(o) if !o.trim().is_empty() => Some(o.trim().to_lowercase()),
            _ => {
                let login = self.credentials.imap_username.trim();
                is_address(login).then(|| login.to_lowercase())
            }
        }
    }

    /// The `link` template in effect: `web_link` (the `gmail` preset expanded), else Gmail's
    /// for Gmail's IMAP host, else none (the `imap://` URL).
    pub(crate) fn web_link_template(&self) -> Option<String> {
        match self.web_link.as_deref().map(str::trim) {
            Some(t) if t.eq_ignore_ascii_case("gmail") => Some(GMAIL_LINK.to_owned()),
            Some("") => None,
            Some(t) => Some(t.to_owned()),
            None => {
                let host = self.imap_host.trim().to_ascii_lowercase();
                (host == "imap.gmail.com" || host == "imap.googlemail.com")
                    .then(|| GMAIL_LINK.to_owned())
            }
        }
    }

    /// The port in effect.
    pub fn port(&self) -> u16 {
        self.imap_port.unwrap_or(match self.security {
            Security::Tls => DEFAULT_TLS_PORT,
            Security::Starttls | Security::Plain => DEFAULT_PLAIN_PORT,
        })
    }

    /// The network policy in effect: the host's, else public addresses plus `allowed_hosts`.
    pub(crate) fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }
}

/// Whether `s` looks like a mail address (`local@domain`, nothing else around it).
fn is_address(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !s.contains(char::is_whitespace)
            && !domain.contains(['@', '\\', '*'])
            && !local.contains(['\\', '*'])
    })
}

/// Whether `host` names this machine: `localhost` or a loopback address.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ConnectorConfig for ImapConfig {
    const IGNORED: &'static [IgnoredField] = &[
        IgnoredField::new(
            "imap_initial_sync_start",
            "RAGFlow's sync service writes it after a first run; here incremental runs start \
             from each mailbox's UIDNEXT kept in the state store, and prune lists every \
             message, so no snapshot start is needed",
        ),
        IgnoredField::new(
            "name",
            "the connector's name is the host's business (RAGFlow's form keeps it in the \
             config)",
        )
        .quiet_for(&[""]),
    ];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let host = self.imap_host.trim();
        if host.is_empty() {
            problems.push(FieldError::new("imap_host", "must not be empty"));
        } else if host.contains("://") || host.contains('/') {
            problems.push(FieldError::new(
                "imap_host",
                "is a host name or address, not a URL",
            ));
        }
        if self.imap_port == Some(0) {
            problems.push(FieldError::new("imap_port", "must be between 1 and 65535"));
        }
        if self.credentials.imap_username.trim().is_empty() {
            problems.push(FieldError::new(
                "credentials.imap_username",
                "must not be empty",
            ));
        }
        match (
            self.credentials.imap_password.is_empty(),
            self.credentials.access_token().is_some(),
        ) {
            (true, false) => problems.push(FieldError::new(
                "credentials.imap_password",
                "must not be empty (or give `credentials.imap_access_token` for an OAuth login)",
            )),
            (false, true) => problems.push(FieldError::new(
                "credentials.imap_access_token",
                "is given with `credentials.imap_password`: give one of them (the token logs \
                 in with XOAUTH2, the password with LOGIN)",
            )),
            _ => {}
        }
        match &self.owner_email {
            Some(o) if !is_address(o.trim()) => problems.push(FieldError::new(
                "owner_email",
                "must be a mail address (`name@example.com`)",
            )),
            None if !self.credentials.imap_username.trim().is_empty() && self.owner().is_none() => {
                problems.push(FieldError::new(
                    "owner_email",
                    "is needed because the login `credentials.imap_username` is no mail \
                     address: documents are readable by the mailbox owner, named by address",
                ));
            }
            _ => {}
        }
        if self.security == Security::Plain && !is_loopback(host) {
            problems.push(FieldError::new(
                "security",
                "`plain` sends the password unencrypted and is accepted only for a loopback \
                 `imap_host` (localhost, 127.0.0.1, ::1); use `tls` or `starttls`",
            ));
        }
        for (i, name) in self.imap_mailbox.iter().enumerate() {
            if name.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
                problems.push(FieldError::new(
                    format!("imap_mailbox[{i}]"),
                    "must not contain line breaks or NUL",
                ));
            }
        }
        if let Some(t) = self.web_link_template()
            && !(t.starts_with("https://") || t.starts_with("http://"))
        {
            problems.push(FieldError::new(
                "web_link",
                "must be `gmail` or an http(s) URL template (`https://…{message_id}…`)",
            ));
        }
        if self.ca_certificate.is_some()
            && self
                .host_network
                .as_ref()
                .is_some_and(NetworkPolicy::is_guarded)
        {
            problems.push(FieldError::new(
                "ca_certificate",
                "names a file on the host, which this host does not open for a connector's \
                 config; give the certificates' PEM text in `ca_certificate_pem`",
            ));
        }
        if self.ca_certificate.is_some() && self.ca_certificate_pem.is_some() {
            problems.push(FieldError::new(
                "ca_certificate_pem",
                "is given with `ca_certificate`: give one of them",
            ));
        }
        if let Err(e) = self.network_policy() {
            problems.push(FieldError::new("allowed_hosts", e.message().to_owned()));
        }
        problems
    }

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }
}
