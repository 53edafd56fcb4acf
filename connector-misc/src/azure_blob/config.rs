//! [`AzureBlobConfig`]: which container, with which credentials, and which of its blobs; and
//! how the three credential forms resolve to one endpoint and one way to sign.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::Ignored;
use connector_core::glob::PathFilter;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use super::convert::IMAGE_EXTENSIONS;
use super::sign::{API_VERSION, ConnectionString, SasToken, SharedKey};

/// Blobs larger than this are reported as failures unless configured otherwise: 20 MiB, as
/// RAGFlow's `BLOB_STORAGE_SIZE_THRESHOLD` for its other blob stores.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 20 * 1024 * 1024;

/// Blobs downloaded at the same time unless configured otherwise.
pub const DEFAULT_CONCURRENCY: u32 = 8;

/// Blobs per listing page (`maxresults`) unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// The most blobs one List Blobs page may hold (the service's own maximum of `maxresults`).
pub const MAX_PAGE_SIZE: u32 = 5000;

/// The most downloads in flight that `concurrency` may ask for.
pub const MAX_CONCURRENCY: u32 = 64;

/// The file types a config without `extensions` accepts, as RAGFlow's Azure Blob connector
/// takes them (plus the image types when `allow_images`): a container shared with backups,
/// logs and telemetry is not indexed whole. `extensions: ["*"]` accepts every type.
pub const RAGFLOW_EXTENSIONS: &[&str] = &[
    "pdf", "docx", "doc", "xlsx", "xls", "pptx", "ppt", "txt", "md", "csv", "html", "htm", "json",
    "xml",
];

/// The public cloud's blob endpoint suffix: `https://{account}.blob.core.windows.net`.
pub const DEFAULT_ENDPOINT_SUFFIX: &str = "core.windows.net";

/// How the connector authenticates, as RAGFlow's `auth_mode`. When absent, the first complete
/// form wins in RAGFlow's order: connection string, account name + key, container URL + SAS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// `credentials.connection_string` (Shared Key, or the SAS it carries).
    ConnectionString,
    /// `credentials.account_name` + `credentials.account_key` (Shared Key).
    AccountKey,
    /// `credentials.container_url` + `credentials.sas_token`.
    SasToken,
    /// A Microsoft Entra ID (Azure AD) service principal: `credentials.tenant_id`,
    /// `client_id` and `client_secret`, for accounts that refuse keys and SAS
    /// (`allowSharedKeyAccess=false`). The account is `credentials.account_name` (or
    /// `blob_endpoint`); the principal needs a data role on the container (Storage Blob Data
    /// Reader).
    ServicePrincipal,
}

/// Microsoft Entra ID's public cloud authority: tokens from
/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The scope a storage token is asked for.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// Credentials, as RAGFlow names them: one of three forms.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AzureBlobCredentials {
    /// A storage connection string, as the portal shows it
    /// (`DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net`,
    /// or `BlobEndpoint=…;SharedAccessSignature=…`, or `UseDevelopmentStorage=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<Secret>,
    /// The storage account name (with `account_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// The storage account's access key, base64 as the portal shows it (with `account_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_key: Option<Secret>,
    /// The container's URL, `https://{account}.blob.core.windows.net/{container}` (with
    /// `sas_token`; a SAS in its query is used when `sas_token` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_url: Option<String>,
    /// A shared access signature for the container (`sv=…&sp=rl&sig=…`, with or without the
    /// leading `?`); it needs the `r` (read) and `l` (list) permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sas_token: Option<Secret>,
    /// The container, where RAGFlow stores it (it reads `credentials.container_name`); the
    /// top-level `container_name` is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// The Microsoft Entra ID tenant (directory) id or domain, for `service_principal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"72f988bf-86f1-41af-91ab-2d7cd011db47")]
    pub tenant_id: Option<String>,
    /// The service principal's application (client) id, for `service_principal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The service principal's client secret, for `service_principal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
}

impl fmt::Debug for AzureBlobCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |s: &Option<Secret>| s.as_ref().map(|_| "***");
        f.debug_struct("AzureBlobCredentials")
            .field("connection_string", &secret(&self.connection_string))
            .field("account_name", &self.account_name)
            .field("account_key", &secret(&self.account_key))
            // A container URL may carry a SAS in its query.
            .field(
                "container_url",
                &self.container_url.as_deref().map(redact_query),
            )
            .field("sas_token", &secret(&self.sas_token))
            .field("container_name", &self.container_name)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &secret(&self.client_secret))
            .finish()
    }
}

/// `url` without its query string.
fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?***"),
        None => url.to_owned(),
    }
}

/// The configuration of the Azure Blob Storage connector (source `"azure_blob"`).
///
/// RAGFlow's shape is accepted as it is (`prefix`, `auth_mode`, `allow_images`,
/// `credentials.*` with `credentials.container_name`); the other fields are ours, all
/// optional.
///
/// ```
/// use connector_misc::azure_blob::AzureBlobConfig;
///
/// let config: AzureBlobConfig = connector_core::config::from_json(serde_json::json!({
///     "prefix": "policies/",
///     "auth_mode": "account_key",
///     "credentials": {
///         "account_name": "handbookstore",
///         "account_key": "c2VjcmV0LWtleS1ieXRlcw==",
///         "container_name": "docs"
///     },
///     "include": ["*.md", "*.pdf"],
/// }))?;
/// assert_eq!(config.max_object_size.get(), 20 * 1024 * 1024);
/// assert!(!format!("{config:?}").contains("c2VjcmV0"));
/// # Ok::<(), connector_core::Error>(())
/// ```
///
/// # Filters
/// Names ending in `/` and the directories of an account with a hierarchical namespace are
/// skipped. `include` and `exclude` are globs matched against the blob name *after* `prefix`
/// (a pattern without `/` matches at any depth, `*` never crosses a `/`, `**` does; `exclude`
/// wins). `extensions` restricts the accepted file types: when absent, RAGFlow's list
/// ([`RAGFLOW_EXTENSIONS`]), so a migrated config indexes what RAGFlow indexed; `["*"]`
/// accepts every type. Images are skipped unless `allow_images`. Zero-byte folder stubs
/// (metadata `hdi_isfolder=true`, written by Hadoop, Data Factory and AzCopy) are skipped.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AzureBlobConfig {
    /// The container (RAGFlow keeps it in `credentials.container_name`, also read). With a
    /// container URL it is the URL's last path segment and need not be given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Only blobs whose name starts with this (a leading `/` is dropped, as RAGFlow does; no
    /// `/` is added: `docs` also matches `docs-old/`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Which credential form to use; when absent the first complete one, in RAGFlow's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<AuthMode>,
    /// Credentials, as RAGFlow names them.
    #[serde(default)]
    pub credentials: AzureBlobCredentials,
    /// The account's blob endpoint for `account_key` (default
    /// `https://{account_name}.blob.core.windows.net`): another cloud
    /// (`https://{account}.blob.core.chinacloudapi.cn`), a private endpoint, or an emulator
    /// (`http://127.0.0.1:10000/devstoreaccount1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_endpoint: Option<Url>,
    /// The Microsoft Entra ID authority `service_principal` gets its token from (default
    /// [`DEFAULT_AUTHORITY`]): `https://login.chinacloudapi.cn` (Azure China),
    /// `https://login.microsoftonline.us` (Azure Government).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://login.microsoftonline.us")]
    pub authority_host: Option<Url>,
    /// A link for people in place of the blob's URL, which opens only for a reader with
    /// access to the container (a private container answers `ResourceNotFound` in a
    /// browser). `{container}` is replaced by the container, `{name}` by the blob name
    /// percent-encoded segment by segment, `{name_encoded}` by the name with its `/` encoded
    /// too: the portal's blob page is
    /// `https://portal.azure.com/#view/Microsoft_Azure_Storage/BlobPropertiesBladeV2/storageAccountId/%2Fsubscriptions%2F{subscription}%2FresourceGroups%2F{group}%2Fproviders%2FMicrosoft.Storage%2FstorageAccounts%2F{account}/path/{container}%2F{name_encoded}`
    /// with the account's own subscription, group and account written in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"https://intranet.example/storage/{container}/{name}")]
    pub link_template: Option<String>,
    /// Accept image files (`png`, `jpg` …), default false as in RAGFlow.
    #[serde(default)]
    pub allow_images: bool,
    /// Globs of the blob names to include (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Globs of the blob names to skip; they win over `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// File extensions to accept (`md` or `.md`). When absent, RAGFlow's list: pdf, docx,
    /// doc, xlsx, xls, pptx, ppt, txt, md, csv, html, htm, json, xml (and the image types
    /// when `allow_images`). `["*"]` (or `[]`) accepts every type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &["pdf", "docx", "md"])]
    pub extensions: Option<Vec<String>>,
    /// Largest blob downloaded, in bytes (default 20 MiB), checked against the listed
    /// `Content-Length` before downloading; a larger blob becomes a failure naming it.
    #[serde(default = "default_max_object_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_object_size: NonZeroU64,
    /// Blobs downloaded at the same time (default 8, at most 64); documents keep the listing
    /// order.
    #[serde(default = "default_concurrency")]
    #[schemars(range(max = connector_core::config::limits::MAX_CONCURRENCY))]
    pub concurrency: NonZeroU32,
    /// Blobs per listing page (`maxresults`, default 1000, at most 5000): the unit of one
    /// fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: NonZeroU32,
    /// Incremental runs take only the blobs whose `Last-Modified` is in the run's window
    /// (default false: they list the whole prefix and let the ETag decide, so a blob is never
    /// missed for its `Last-Modified`). List Blobs cannot filter by time, so both list every
    /// blob; this saves only the host's fingerprint lookups of the blobs outside the window.
    /// The risk: on an account with a hierarchical namespace a renamed or moved file keeps
    /// its `Last-Modified`, so its new name is never synced incrementally (and prune drops the
    /// old one); so does a blob restored by Undelete Blob, and a host clock ahead of Azure's.
    #[serde(default)]
    pub incremental_by_last_modified: bool,
    /// The storage REST version sent as `x-ms-version` (default [`API_VERSION`], which Azure
    /// and Azurite 3.x accept). Azure Stack Hub and other older endpoints take only older
    /// versions (`2019-02-02` for Azure Stack Hub 2301+); before `2020-02-10` the listing
    /// shows no `ResourceType`, and only the `hdi_isfolder` marker tells a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"2019-02-02")]
    pub api_version: Option<String>,
    /// Hosts the connector may reach although they are not public addresses (an emulator on
    /// `127.0.0.1`, a private endpoint): host names, domains (`*.corp.example`), addresses or
    /// networks. The blob endpoint is denied private, loopback and link-local addresses
    /// otherwise, on every redirect too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own: set by a
    /// [`Registry`](connector_core::Registry), never by the tenant's JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

impl fmt::Debug for AzureBlobConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobConfig")
            .field("container_name", &self.container_name)
            .field("prefix", &self.prefix)
            .field("auth_mode", &self.auth_mode)
            .field("credentials", &self.credentials)
            .field(
                "blob_endpoint",
                &self.blob_endpoint.as_ref().map(Url::as_str),
            )
            .field(
                "authority_host",
                &self.authority_host.as_ref().map(Url::as_str),
            )
            .field("link_template", &self.link_template)
            .field("allow_images", &self.allow_images)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("extensions", &self.extensions)
            .field("max_object_size", &self.max_object_size)
            .field("concurrency", &self.concurrency)
            .field("page_size", &self.page_size)
            .field(
                "incremental_by_last_modified",
                &self.incremental_by_last_modified,
            )
            .field("api_version", &self.api_version)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("host_network", &self.host_network)
            .finish()
    }
}

fn default_max_object_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_OBJECT_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_concurrency() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_CONCURRENCY).unwrap_or(NonZeroU32::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

/// How requests are authorised.
#[derive(Clone)]
pub(crate) enum Signer {
    /// `Authorization: SharedKey {account}:{signature}`.
    SharedKey(SharedKey),
    /// The SAS appended to every URL's query.
    Sas(SasToken),
    /// `Authorization: Bearer` with a Microsoft Entra ID token (client credentials).
    Bearer(std::sync::Arc<connector_core::http::OAuthToken>),
}

/// The container, its account, and how to sign: what the three credential forms resolve to.
#[derive(Clone)]
pub(crate) struct Resolved {
    /// `{endpoint}/{container}`, without a query.
    pub(crate) container_url: Url,
    pub(crate) container: String,
    pub(crate) signer: Signer,
    /// The field a rejected credential is fixed in.
    pub(crate) secret_field: &'static str,
    /// The field the container name comes from.
    pub(crate) container_field: &'static str,
    /// The field the endpoint comes from.
    pub(crate) endpoint_field: &'static str,
}

impl AzureBlobConfig {
    /// The container `container_name` of account `account_name` with key `account_key` (base64)
    /// and every other setting at its default.
    pub fn account_key(
        container_name: impl Into<String>,
        account_name: impl Into<String>,
        account_key: impl Into<String>,
    ) -> Self {
        let mut config = Self::empty();
        config.auth_mode = Some(AuthMode::AccountKey);
        config.container_name = Some(container_name.into());
        config.credentials.account_name = Some(account_name.into());
        config.credentials.account_key = Some(Secret::new(account_key));
        config
    }

    /// The container `container_name` reached with a connection string.
    pub fn connection_string(
        container_name: impl Into<String>,
        connection_string: impl Into<String>,
    ) -> Self {
        let mut config = Self::empty();
        config.auth_mode = Some(AuthMode::ConnectionString);
        config.container_name = Some(container_name.into());
        config.credentials.connection_string = Some(Secret::new(connection_string));
        config
    }

    /// The container at `container_url`, authorised by `sas_token`.
    pub fn sas(container_url: impl Into<String>, sas_token: impl Into<String>) -> Self {
        let mut config = Self::empty();
        config.auth_mode = Some(AuthMode::SasToken);
        config.credentials.container_url = Some(container_url.into());
        config.credentials.sas_token = Some(Secret::new(sas_token));
        config
    }

    /// The container `container_name` of account `account_name`, read as the Microsoft Entra
    /// ID service principal `client_id` of tenant `tenant_id` with `client_secret`.
    pub fn service_principal(
        container_name: impl Into<String>,
        account_name: impl Into<String>,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let mut config = Self::empty();
        config.auth_mode = Some(AuthMode::ServicePrincipal);
        config.container_name = Some(container_name.into());
        config.credentials.account_name = Some(account_name.into());
        config.credentials.tenant_id = Some(tenant_id.into());
        config.credentials.client_id = Some(client_id.into());
        config.credentials.client_secret = Some(Secret::new(client_secret));
        config
    }

    fn empty() -> Self {
        Self {
            container_name: None,
            prefix: String::new(),
            auth_mode: None,
            credentials: AzureBlobCredentials::default(),
            blob_endpoint: None,
            authority_host: None,
            link_template: None,
            allow_images: false,
            include: Vec::new(),
            exclude: Vec::new(),
            extensions: None,
            max_object_size: default_max_object_size(),
            concurrency: default_concurrency(),
            page_size: default_page_size(),
            incremental_by_last_modified: false,
            api_version: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// This config with the host's network policy, in place of the connector's own (public
    /// addresses plus `allowed_hosts`).
    #[must_use]
    pub fn with_network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.host_network = Some(policy);
        self
    }

    /// The policy the blob endpoint is held to: the host's, if it set one, else public
    /// addresses plus `allowed_hosts`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming an `allowed_hosts`
    /// entry that is no host, domain, address or network.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// The prefix as listed: without a leading `/`, as RAGFlow strips it.
    pub(crate) fn list_prefix(&self) -> String {
        self.prefix.trim_start_matches('/').to_owned()
    }

    /// `include`, `exclude` and the extensions in effect compiled, or every bad entry by
    /// field path.
    pub(crate) fn path_filter(&self) -> Result<PathFilter, Vec<FieldError>> {
        PathFilter::new(&self.include, &self.exclude, &self.effective_extensions())
    }

    /// The extensions accepted: `extensions`, RAGFlow's list when absent (with the image
    /// types when `allow_images`), none (every type) for `["*"]` or `[]`.
    pub fn effective_extensions(&self) -> Vec<String> {
        match &self.extensions {
            None => RAGFLOW_EXTENSIONS
                .iter()
                .chain(IMAGE_EXTENSIONS.iter().filter(|_| self.allow_images))
                .map(|e| (*e).to_owned())
                .collect(),
            Some(list) if list.iter().any(|e| e.trim() == "*") => Vec::new(),
            Some(list) => list.clone(),
        }
    }

    /// The `x-ms-version` sent: `api_version`, else [`API_VERSION`].
    pub fn effective_api_version(&self) -> &str {
        self.api_version
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(API_VERSION)
    }

    /// The credential form in effect: `auth_mode`, else the first complete one.
    pub fn effective_auth_mode(&self) -> Option<AuthMode> {
        let c = &self.credentials;
        self.auth_mode.or_else(|| {
            if c.connection_string.is_some() {
                Some(AuthMode::ConnectionString)
            } else if c.account_name.is_some() && c.account_key.is_some() {
                Some(AuthMode::AccountKey)
            } else if c.container_url.is_some() {
                Some(AuthMode::SasToken)
            } else if c.tenant_id.is_some() && c.client_id.is_some() && c.client_secret.is_some() {
                Some(AuthMode::ServicePrincipal)
            } else {
                None
            }
        })
    }

    /// The container name given, at the top level or where RAGFlow keeps it.
    fn given_container(&self) -> Option<(&str, &'static str)> {
        self.container_name
            .as_deref()
            .map(|c| (c, "container_name"))
            .or_else(|| {
                self.credentials
                    .container_name
                    .as_deref()
                    .map(|c| (c, "credentials.container_name"))
            })
    }

    /// `credentials.account_name`, trimmed, with a problem when it is missing (for `mode`) or
    /// no storage account name.
    fn account_name(&self, problems: &mut Vec<FieldError>, mode: &str) -> &str {
        let account = self
            .credentials
            .account_name
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        if account.is_empty() {
            problems.push(FieldError::new(
                "credentials.account_name",
                format!("is required with auth_mode {mode}"),
            ));
        } else if !account
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        {
            problems.push(FieldError::new(
                "credentials.account_name",
                "is a storage account name: lower-case letters and digits only",
            ));
        }
        account
    }

    /// The account's blob endpoint: `blob_endpoint`, else the public cloud's for `account`.
    fn account_endpoint(&self, account: &str, problems: &mut Vec<FieldError>) -> Option<Url> {
        match &self.blob_endpoint {
            Some(url) => {
                problems.extend(endpoint_problem(url, "blob_endpoint"));
                Some(url.clone())
            }
            None => Url::parse(&format!("https://{account}.blob.{DEFAULT_ENDPOINT_SUFFIX}"))
                .map_err(|e| {
                    problems.push(FieldError::new(
                        "credentials.account_name",
                        format!("makes no valid endpoint: {e}"),
                    ));
                })
                .ok(),
        }
    }

    /// The endpoint, container and signer the credentials give, or every problem by field.
    pub(crate) fn resolve(&self) -> Result<Resolved, Vec<FieldError>> {
        let c = &self.credentials;
        let mut problems = Vec::new();
        let Some(mode) = self.effective_auth_mode() else {
            return Err(vec![FieldError::new(
                "credentials",
                "give one of: connection_string (+ container_name), account_name + account_key \
                 (+ container_name), container_url + sas_token, or tenant_id + client_id + \
                 client_secret + account_name (+ container_name)",
            )]);
        };
        let container = self.given_container();
        let need_container = |problems: &mut Vec<FieldError>| match container {
            Some((name, field)) => {
                problems.extend(container_problem(name, field));
                Some((name.to_owned(), field))
            }
            None => {
                problems.push(FieldError::new(
                    "container_name",
                    "is required with this auth_mode (RAGFlow keeps it in credentials.container_name)",
                ));
                None
            }
        };
        match mode {
            AuthMode::ConnectionString => {
                let Some(raw) = &c.connection_string else {
                    return Err(vec![FieldError::new(
                        "credentials.connection_string",
                        "is required with auth_mode connection_string",
                    )]);
                };
                let parsed = ConnectionString::parse(raw.expose())
                    .map_err(|m| problems.push(FieldError::new("credentials.connection_string", m)))
                    .ok();
                let container = need_container(&mut problems);
                let (Some(parsed), Some((container, container_field)), true) =
                    (parsed, container, problems.is_empty())
                else {
                    return Err(problems);
                };
                Ok(Resolved {
                    container_url: container_url(&parsed.blob_endpoint, &container),
                    container,
                    signer: parsed.signer,
                    secret_field: "credentials.connection_string",
                    container_field,
                    endpoint_field: "credentials.connection_string",
                })
            }
            AuthMode::AccountKey => {
                let account = self.account_name(&mut problems, "account_key");
                let key = match &c.account_key {
                    None => {
                        problems.push(FieldError::new(
                            "credentials.account_key",
                            "is required with auth_mode account_key",
                        ));
                        None
                    }
                    Some(key) => SharedKey::new(account, key.expose())
                        .map_err(|m| {
                            problems.push(FieldError::new("credentials.account_key", m));
                        })
                        .ok(),
                };
                let container = need_container(&mut problems);
                let endpoint = self.account_endpoint(account, &mut problems);
                let (Some(key), Some(endpoint), Some((container, container_field)), true) =
                    (key, endpoint, container, problems.is_empty())
                else {
                    return Err(problems);
                };
                Ok(Resolved {
                    container_url: container_url(&endpoint, &container),
                    container,
                    signer: Signer::SharedKey(key),
                    secret_field: "credentials.account_key",
                    container_field,
                    endpoint_field: if self.blob_endpoint.is_some() {
                        "blob_endpoint"
                    } else {
                        "credentials.account_name"
                    },
                })
            }
            AuthMode::ServicePrincipal => {
                // The account names the endpoint only: a given blob_endpoint does without it.
                let account = if self.blob_endpoint.is_some() {
                    c.account_name.as_deref().map(str::trim).unwrap_or_default()
                } else {
                    self.account_name(&mut problems, "service_principal")
                };
                let mut required = |value: Option<&str>, field: &'static str| {
                    let value = value.map(str::trim).unwrap_or_default();
                    if value.is_empty() {
                        problems.push(FieldError::new(
                            field,
                            "is required with auth_mode service_principal",
                        ));
                    }
                    value.to_owned()
                };
                let tenant = required(c.tenant_id.as_deref(), "credentials.tenant_id");
                let client_id = required(c.client_id.as_deref(), "credentials.client_id");
                let secret = c.client_secret.clone().filter(|s| !s.expose().is_empty());
                if secret.is_none() {
                    problems.push(FieldError::new(
                        "credentials.client_secret",
                        "is required with auth_mode service_principal",
                    ));
                }
                if !tenant
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
                {
                    problems.push(FieldError::new(
                        "credentials.tenant_id",
                        "is a tenant id (a GUID) or domain (contoso.onmicrosoft.com)",
                    ));
                }
                let authority = match &self.authority_host {
                    Some(url) => {
                        problems.extend(endpoint_problem(url, "authority_host"));
                        url.clone()
                    }
                    None => Url::parse(DEFAULT_AUTHORITY)
                        .map_err(|e| vec![FieldError::new("authority_host", format!("{e}"))])?,
                };
                let mut token_url = authority;
                token_url.set_query(None);
                token_url.set_fragment(None);
                if let Ok(mut segments) = token_url.path_segments_mut() {
                    segments
                        .pop_if_empty()
                        .extend([tenant.as_str(), "oauth2", "v2.0", "token"]);
                }
                let container = need_container(&mut problems);
                let endpoint = self.account_endpoint(account, &mut problems);
                let (Some(secret), Some(endpoint), Some((container, container_field)), true) =
                    (secret, endpoint, container, problems.is_empty())
                else {
                    return Err(problems);
                };
                let token = connector_core::http::OAuthToken::client_credentials(
                    super::SOURCE,
                    token_url,
                    client_id,
                    secret,
                    STORAGE_SCOPE,
                    "credentials.client_secret",
                );
                Ok(Resolved {
                    container_url: container_url(&endpoint, &container),
                    container,
                    signer: Signer::Bearer(std::sync::Arc::new(token)),
                    secret_field: "credentials.client_secret",
                    container_field,
                    endpoint_field: if self.blob_endpoint.is_some() {
                        "blob_endpoint"
                    } else {
                        "credentials.account_name"
                    },
                })
            }
            AuthMode::SasToken => {
                let Some(raw_url) = c.container_url.as_deref().map(str::trim) else {
                    return Err(vec![FieldError::new(
                        "credentials.container_url",
                        "is required with auth_mode sas_token",
                    )]);
                };
                let mut url = match Url::parse(raw_url) {
                    Ok(url) => url,
                    Err(e) => {
                        return Err(vec![FieldError::new(
                            "credentials.container_url",
                            format!("is not a URL: {e}"),
                        )]);
                    }
                };
                problems.extend(endpoint_problem(&url, "credentials.container_url"));
                // A SAS pasted as part of the URL ("SAS URL" in the portal) is used when no
                // `sas_token` is given; the query is never kept in the URL itself.
                let in_url = url.query().filter(|q| !q.is_empty()).map(str::to_owned);
                url.set_query(None);
                url.set_fragment(None);
                let sas = match (&c.sas_token, in_url) {
                    (Some(t), _) => SasToken::parse(t.expose())
                        .map_err(|m| problems.push(FieldError::new("credentials.sas_token", m)))
                        .ok(),
                    (None, Some(q)) => SasToken::parse(&q)
                        .map_err(|m| {
                            problems.push(FieldError::new("credentials.container_url", m));
                        })
                        .ok(),
                    (None, None) => {
                        problems.push(FieldError::new(
                            "credentials.sas_token",
                            "is required with auth_mode sas_token",
                        ));
                        None
                    }
                };
                let trimmed = url.path().trim_end_matches('/').to_owned();
                let from_url = trimmed
                    .rsplit('/')
                    .next()
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        percent_encoding::percent_decode_str(s)
                            .decode_utf8_lossy()
                            .into_owned()
                    });
                // RAGFlow's form keeps `credentials.container_name` from another auth mode
                // and its SAS branch never reads it: only our top-level field must agree.
                let container = container.filter(|(_, field)| *field == "container_name");
                let container = match (from_url, container) {
                    (Some(name), Some((given, field))) if name != given => {
                        problems.push(FieldError::new(
                            field,
                            format!(
                                "names container `{given}`, but credentials.container_url is of `{name}`"
                            ),
                        ));
                        None
                    }
                    (Some(name), _) => Some(name),
                    (None, _) => {
                        problems.push(FieldError::new(
                            "credentials.container_url",
                            "must end with the container: https://{account}.blob.core.windows.net/{container}",
                        ));
                        None
                    }
                };
                url.set_path(&trimmed);
                let (Some(sas), Some(container), true) = (sas, container, problems.is_empty())
                else {
                    return Err(problems);
                };
                Ok(Resolved {
                    container_url: url,
                    container,
                    signer: Signer::Sas(sas),
                    secret_field: "credentials.sas_token",
                    container_field: "credentials.container_url",
                    endpoint_field: "credentials.container_url",
                })
            }
        }
    }
}

/// `{endpoint}/{container}`: the container's URL under an account endpoint whose path may be
/// empty (`https://acct.blob.core.windows.net`) or not (an emulator's `/devstoreaccount1`).
pub(crate) fn container_url(endpoint: &Url, container: &str) -> Url {
    let mut url = endpoint.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(container);
    }
    url
}

/// A container name Azure would refuse (3-63 lower-case letters, digits and single dashes).
fn container_problem(name: &str, field: &'static str) -> Option<FieldError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ok = (3..=63).contains(&name.len())
        && ok_chars
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    // `$root` and `$web` are the two special containers.
    (!ok && name != "$root" && name != "$web").then(|| {
        FieldError::new(
            field,
            format!(
                "`{name}` is not a container name (3 to 63 lower-case letters, digits and single dashes; a folder goes in `prefix`)"
            ),
        )
    })
}

/// `template` with `{container}`, `{name}` (percent-encoded by segment) and
/// `{name_encoded}` (its `/` encoded too) replaced.
pub(crate) fn fill_link(template: &str, container: &str, name: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // RFC 3986 unreserved characters stay as they are.
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let by_segment: Vec<String> = name
        .split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect();
    template
        .replace(
            "{container}",
            &utf8_percent_encode(container, SEGMENT).to_string(),
        )
        .replace(
            "{name_encoded}",
            &utf8_percent_encode(name, SEGMENT).to_string(),
        )
        .replace("{name}", &by_segment.join("/"))
}

/// `YYYY-MM-DD`, the shape of every storage REST version.
fn is_api_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.iter().map(|p| p.len()).eq([4, 2, 2])
        && parts.iter().all(|p| p.bytes().all(|c| c.is_ascii_digit()))
}

fn endpoint_problem(url: &Url, field: &'static str) -> Option<FieldError> {
    (!matches!(url.scheme(), "http" | "https") || url.host().is_none())
        .then(|| FieldError::new(field, "must be an http or https URL with a host"))
}

impl ConnectorConfig for AzureBlobConfig {
    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    /// Checks the syntax and that the credential form in effect is complete. Whether the
    /// container exists and the credentials work is for
    /// [`check`](connector_core::Connector::check).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = NetworkPolicy::check_allowed_hosts("allowed_hosts", &self.allowed_hosts);
        if let Err(mut found) = self.resolve() {
            problems.append(&mut found);
        }
        if let Err(mut found) = self.path_filter() {
            problems.append(&mut found);
        }
        if self.concurrency.get() > MAX_CONCURRENCY {
            problems.push(FieldError::new(
                "concurrency",
                format!("must be at most {MAX_CONCURRENCY}"),
            ));
        }
        if let Some(v) = &self.api_version
            && !is_api_version(v.trim())
        {
            problems.push(FieldError::new(
                "api_version",
                format!("`{v}` is not a storage REST version (YYYY-MM-DD, e.g. {API_VERSION})"),
            ));
        }
        if let Some(template) = &self.link_template {
            let example = fill_link(template, "container", "a folder/b.md");
            if !Url::parse(&example).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                problems.push(FieldError::new(
                    "link_template",
                    "must give an http or https URL once {container}, {name} and {name_encoded} are replaced",
                ));
            }
        }
        if self.page_size.get() > MAX_PAGE_SIZE {
            problems.push(FieldError::new(
                "page_size",
                format!("must be at most {MAX_PAGE_SIZE} (the maximum of List Blobs' maxresults)"),
            ));
        }
        problems
    }

    /// The fields of the credential forms that `auth_mode` (or RAGFlow's precedence) leaves
    /// unused: RAGFlow's form hides them but keeps their values.
    fn unused(&self) -> Vec<Ignored> {
        let c = &self.credentials;
        let Some(mode) = self.effective_auth_mode() else {
            return Vec::new();
        };
        let reason = |m: &str| format!("auth_mode is {m}; this field belongs to another form");
        let name = match mode {
            AuthMode::ConnectionString => "connection_string",
            AuthMode::AccountKey => "account_key",
            AuthMode::SasToken => "sas_token",
            AuthMode::ServicePrincipal => "service_principal",
        };
        let mut out = Vec::new();
        let mut note = |given: bool, path: &str| {
            if given {
                out.push(Ignored::new(path, reason(name)));
            }
        };
        if mode != AuthMode::ConnectionString {
            note(
                c.connection_string.is_some(),
                "credentials.connection_string",
            );
        }
        if mode != AuthMode::AccountKey {
            note(c.account_key.is_some(), "credentials.account_key");
        }
        if !matches!(mode, AuthMode::AccountKey | AuthMode::ServicePrincipal) {
            note(
                c.account_name.is_some() && mode != AuthMode::SasToken,
                "credentials.account_name",
            );
            note(self.blob_endpoint.is_some(), "blob_endpoint");
        }
        if mode != AuthMode::ServicePrincipal {
            note(c.tenant_id.is_some(), "credentials.tenant_id");
            note(c.client_id.is_some(), "credentials.client_id");
            note(c.client_secret.is_some(), "credentials.client_secret");
            note(self.authority_host.is_some(), "authority_host");
        }
        if mode != AuthMode::SasToken {
            note(c.sas_token.is_some(), "credentials.sas_token");
            note(c.container_url.is_some(), "credentials.container_url");
        } else {
            // The container URL names the container; RAGFlow's SAS branch never reads this.
            note(c.container_name.is_some(), "credentials.container_name");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::config::from_json;
    use serde_json::json;

    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn ragflow_shapes_are_accepted() {
        let cs = from_json::<AzureBlobConfig>(json!({
            "prefix": "/docs/",
            "auth_mode": "connection_string",
            "allow_images": false,
            "batch_size": 2,
            "credentials": {
                "connection_string": format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"),
                "container_name": "handbook",
                "account_name": "",
                "sas_token": "",
            }
        }))
        .unwrap();
        let r = cs.resolve().unwrap();
        assert_eq!(
            r.container_url.as_str(),
            "https://acct.blob.core.windows.net/handbook"
        );
        assert_eq!(cs.list_prefix(), "docs/");

        let key = from_json::<AzureBlobConfig>(json!({
            "credentials": {"account_name": "acct", "account_key": KEY, "container_name": "c-1"}
        }))
        .unwrap();
        assert_eq!(key.effective_auth_mode(), Some(AuthMode::AccountKey));
        assert_eq!(
            key.resolve().unwrap().container_url.as_str(),
            "https://acct.blob.core.windows.net/c-1"
        );

        let sas = from_json::<AzureBlobConfig>(json!({
            "auth_mode": "sas_token",
            "credentials": {
                "container_url": "https://acct.blob.core.windows.net/handbook/",
                "sas_token": "?sv=2022-11-02&sp=rl&sig=abc%2Bdef%3D"
            }
        }))
        .unwrap();
        let r = sas.resolve().unwrap();
        assert_eq!(r.container, "handbook");
        assert_eq!(
            r.container_url.as_str(),
            "https://acct.blob.core.windows.net/handbook"
        );
        // The SAS is in no Debug output.
        assert!(!format!("{sas:?}").contains("abc%2Bdef"));
    }

    #[test]
    fn every_problem_is_named() {
        let err = from_json::<AzureBlobConfig>(json!({
            "auth_mode": "account_key",
            "credentials": {"account_name": "Bad_Name", "account_key": "not base64!"},
            "page_size": 6000,
        }))
        .unwrap_err();
        let text = err.to_string();
        for field in [
            "credentials.account_name",
            "credentials.account_key",
            "container_name",
            "page_size",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
        assert!(!text.contains("not base64!"), "{text}");
        let err = from_json::<AzureBlobConfig>(json!({"prefix": "x"})).unwrap_err();
        assert!(err.to_string().contains("credentials"), "{err}");
        let err = from_json::<AzureBlobConfig>(json!({
            "container_name": "other",
            "credentials": {"container_url": "https://a.blob.core.windows.net/c1?sv=1&sig=zzzzzz"}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("container_name"), "{err}");
        // A SAS in the container URL is used when sas_token is absent.
        let c = from_json::<AzureBlobConfig>(json!({
            "credentials": {"container_url": "https://a.blob.core.windows.net/c1?sv=1&sig=zzzzzz"}
        }))
        .unwrap();
        assert!(matches!(c.resolve().unwrap().signer, Signer::Sas(_)));
        assert!(!format!("{c:?}").contains("zzzzzz"));
    }

    #[test]
    fn unused_forms_are_reported() {
        let c = from_json::<AzureBlobConfig>(json!({
            "auth_mode": "sas_token",
            "credentials": {
                "container_url": "https://a.blob.core.windows.net/c1",
                "sas_token": "sv=1&sig=zzzzzz",
                "account_key": KEY,
            }
        }))
        .unwrap();
        let unused: Vec<String> = c.unused().into_iter().map(|i| i.path).collect();
        assert_eq!(unused, vec!["credentials.account_key"]);
    }
}
