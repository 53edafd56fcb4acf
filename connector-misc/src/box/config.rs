//! [`BoxConfig`]: which Box account (its OAuth tokens), which folder, and how much of it.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::IgnoredField;
use connector_core::net::NetworkPolicy;
use connector_core::secret::{SecretJson, SecretJsonSchema};
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

/// Files larger than this are reported as failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Entries per folder-items page unless configured otherwise (Box's maximum with markers).
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// Requests per minute unless configured otherwise: Box's documented limit for general API
/// calls per user.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 1000;

/// Box's API host.
pub const DEFAULT_API_BASE_URL: &str = "https://api.box.com";
/// Box's OAuth 2 token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.box.com/oauth2/token";

/// The config field the tokens live in (and the [`CredentialStore`](connector_core::CredentialStore) key).
pub(crate) const TOKENS_FIELD: &str = "credentials.box_tokens";

/// `credentials.box_tokens`: the JSON RAGFlow's Box OAuth flow stores, as a string (RAGFlow's
/// shape) or an object: `client_id`, `client_secret`, `access_token`, `refresh_token` (and
/// `redirect_uri`, `authorization_code`, kept as they are). Kept whole as a [`Secret`].
pub type BoxTokens = SecretJson<BoxTokensSchema>;

/// The schema of [`BoxTokens`].
#[derive(Debug)]
#[non_exhaustive]
pub struct BoxTokensSchema;

impl SecretJsonSchema for BoxTokensSchema {
    const NAME: &'static str = "BoxTokens";
    const DESCRIPTION: &'static str = "The tokens of Box's OAuth 2 flow as RAGFlow stores them: `client_id`, `client_secret`, `access_token`, `refresh_token` (other keys such as `redirect_uri` are kept), as a JSON object or a string holding one. Box refresh tokens are single-use: after each renewal the connector hands this JSON, with the new tokens, to the host's CredentialStore before using them.";
    const EXAMPLE: Option<&'static str> = Some(
        r#"{"client_id": "ly1nj6n11vionaie65emwzk575hnnmrk", "client_secret": "…", "access_token": "…", "refresh_token": "…"}"#,
    );
}

/// The parts of `box_tokens` the connector uses.
pub(crate) fn token_parts(tokens: &BoxTokens) -> Result<TokenParts, Vec<String>> {
    let map = tokens.object().map_err(|e| vec![e])?;
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let parts = TokenParts {
        client_id: text("client_id").unwrap_or_default(),
        client_secret: text("client_secret").map(Secret::new),
        access_token: text("access_token").map(Secret::new),
        refresh_token: text("refresh_token").map(Secret::new),
        rest: map,
    };
    let mut problems = Vec::new();
    if parts.access_token.is_none() && parts.refresh_token.is_none() {
        problems.push(
            "holds neither `access_token` nor `refresh_token`: finish Box's authorisation first"
                .to_owned(),
        );
    }
    if parts.refresh_token.is_some() && parts.client_id.is_empty() {
        problems.push("needs `client_id` to renew the token with `refresh_token`".to_owned());
    }
    if parts.refresh_token.is_some() && parts.client_secret.is_none() {
        problems.push("needs `client_secret` to renew the token with `refresh_token`".to_owned());
    }
    if problems.is_empty() {
        Ok(parts)
    } else {
        Err(problems)
    }
}

/// What `box_tokens` holds.
pub(crate) struct TokenParts {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) access_token: Option<Secret>,
    pub(crate) refresh_token: Option<Secret>,
    /// The whole object, rewritten with the new tokens after a renewal.
    pub(crate) rest: Map<String, Value>,
}

/// Whom an app token (Client Credentials Grant or JWT) acts for: Box's `box_subject_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BoxSubjectType {
    /// The app's service account in the enterprise `box_subject_id` (what an enterprise-wide
    /// read with `all_users` needs).
    Enterprise,
    /// The managed user `box_subject_id`.
    User,
}

impl BoxSubjectType {
    /// Box's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::User => "user",
        }
    }
}

/// `credentials.box_jwt_config`: the app settings Box's Developer Console downloads for a
/// JWT (server authentication) app, `config.json`, as a JSON object or a string holding one.
/// Kept whole as a [`Secret`].
pub type BoxJwtConfig = SecretJson<BoxJwtConfigSchema>;

/// The schema of [`BoxJwtConfig`].
#[derive(Debug)]
#[non_exhaustive]
pub struct BoxJwtConfigSchema;

impl SecretJsonSchema for BoxJwtConfigSchema {
    const NAME: &'static str = "BoxJwtConfig";
    const DESCRIPTION: &'static str = "JWT server authentication: the app settings Box's Developer Console downloads (config.json): `boxAppSettings.clientID`, `.clientSecret`, `.appAuth.publicKeyID`, `.appAuth.privateKey`, `.appAuth.passphrase` and `enterpriseID`. The private key is an RSA PEM: encrypted PKCS#8 (BEGIN ENCRYPTED PRIVATE KEY, as the console generates it; PBES2 with AES-CBC or 3DES), decrypted with `.appAuth.passphrase`, or plain (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY, passphrase empty). A passphrase that does not decrypt the key is a configuration error naming it. Acts for the enterprise's service account unless `box_subject_type`/`box_subject_id` say otherwise.";
    const EXAMPLE: Option<&'static str> = Some(
        r#"{"boxAppSettings": {"clientID": "…", "clientSecret": "…", "appAuth": {"publicKeyID": "a1b2c3d4", "privateKey": "-----BEGIN PRIVATE KEY-----\n…", "passphrase": ""}}, "enterpriseID": "1234567"}"#,
    );
}

/// The credentials, one way in of three: RAGFlow's `box_tokens` (a user's OAuth 2 tokens);
/// `box_client_id` + `box_client_secret` (Client Credentials Grant); or `box_jwt_config`
/// (JWT server authentication). The two app ways act for `box_subject_type`/`box_subject_id`.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BoxCredentials {
    /// The OAuth tokens and the app's client id and secret, as one JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_tokens: Option<BoxTokens>,
    /// Client Credentials Grant: the app's client id (Developer Console > Configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"ly1nj6n11vionaie65emwzk575hnnmrk")]
    pub box_client_id: Option<String>,
    /// Client Credentials Grant: the app's client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_client_secret: Option<Secret>,
    /// JWT server authentication: Box's `config.json` for the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_jwt_config: Option<BoxJwtConfig>,
    /// Whom an app token acts for: `enterprise` (its service account, the default) or `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_subject_type: Option<BoxSubjectType>,
    /// The enterprise id (or user id, with `box_subject_type: user`) an app token acts for;
    /// with `box_jwt_config`, its `enterpriseID` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "1234567")]
    pub box_subject_id: Option<String>,
}

impl fmt::Debug for BoxCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |present: bool| if present { "***" } else { "None" };
        f.debug_struct("BoxCredentials")
            .field("box_tokens", &set(self.box_tokens.is_some()))
            .field("box_client_id", &self.box_client_id)
            .field("box_client_secret", &set(self.box_client_secret.is_some()))
            .field("box_jwt_config", &set(self.box_jwt_config.is_some()))
            .field("box_subject_type", &self.box_subject_type)
            .field("box_subject_id", &self.box_subject_id)
            .finish()
    }
}

/// The configuration of the Box connector (source `"box"`).
///
/// ```
/// use connector_misc::r#box::BoxConfig;
///
/// // RAGFlow's shape: the tokens as a JSON string, the folder id (`"0"`: All Files).
/// let config: BoxConfig = connector_core::config::from_json(serde_json::json!({
///     "name": "box",
///     "folder_id": "0",
///     "credentials": {"box_tokens": r#"{"client_id": "c", "client_secret": "s",
///         "access_token": "a", "refresh_token": "r", "redirect_uri": "http://localhost/cb"}"#},
/// }))?;
/// assert_eq!(config.folder_id, "0");
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BoxConfig {
    /// The way in: a user's OAuth tokens (`box_tokens`), or the app's own (Client
    /// Credentials Grant or JWT).
    pub credentials: BoxCredentials,
    /// The id of the folder to read, as in its URL (`https://app.box.com/folder/123`);
    /// `0` (the default) is the root, "All Files".
    #[serde(default = "default_folder_id")]
    #[schemars(example = "0", example = "123456789")]
    pub folder_id: String,
    /// Largest file downloaded, in bytes; a larger one becomes a failure and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Entries per folder-items page (at most 1000): the unit of one fingerprint lookup and
    /// one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = 1000))]
    pub page_size: NonZeroU32,
    /// Read who a file is shared with (its and its folders' collaborations) into
    /// `Document.access`: one request per folder or file that has collaborations. Default on.
    #[serde(default = "default_true")]
    pub include_permissions: bool,
    /// Requests per minute to each Box host (Box allows 1000 per user for general calls; at
    /// most 1,000,000).
    #[serde(default = "default_requests_per_minute")]
    #[schemars(range(max = 1_000_000))]
    pub requests_per_minute: NonZeroU32,
    /// Read the files of this Box user (its numeric id) instead of the token's own: Box's
    /// `As-User` header, for the token of an admin or co-admin whose app may act as users.
    /// One connector per user of an enterprise, with one admin token. Not RAGFlow's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "11446498")]
    pub as_user_id: Option<String>,
    /// Read the files of every user of the enterprise: `GET /users` (active managed users)
    /// as the token's user, then each user's `folder_id` with `As-User`. Each user is a
    /// partition (`user:{id}`) the sync service runs as a job with its own checkpoint; a host
    /// that runs no partitions reads them all in one sync. Needs a token
    /// that may list users and act as them: an app (`box_client_id` or `box_jwt_config`) acting
    /// for the enterprise with the "Manage users" scope and "Make API calls using the as-user
    /// header", or an admin's `box_tokens`. Not RAGFlow's.
    #[serde(default)]
    pub all_users: bool,
    /// The API host (default `https://api.box.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<Url>,
    /// The OAuth token endpoint (default `https://api.box.com/oauth2/token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<Url>,
    #[doc = "Hosts this connector may reach although they are not public (a proxy, a test server)."]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_folder_id() -> String {
    "0".to_owned()
}

fn default_true() -> bool {
    true
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

fn default_requests_per_minute() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN)
}

impl BoxCredentials {
    /// No credentials at all (what the constructors fill in).
    fn none() -> Self {
        Self {
            box_tokens: None,
            box_client_id: None,
            box_client_secret: None,
            box_jwt_config: None,
            box_subject_type: None,
            box_subject_id: None,
        }
    }
}

impl BoxConfig {
    /// The whole Box account of these tokens (the JSON of `box_tokens`), every other setting
    /// at its default.
    pub fn new(box_tokens: impl Into<String>) -> Self {
        Self::with_credentials(BoxCredentials {
            box_tokens: Some(BoxTokens::new(box_tokens)),
            ..BoxCredentials::none()
        })
    }

    /// The app's service account in the enterprise `enterprise_id`, by Client Credentials
    /// Grant with the app's client id and secret.
    pub fn client_credentials(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        enterprise_id: impl Into<String>,
    ) -> Self {
        Self::with_credentials(BoxCredentials {
            box_client_id: Some(client_id.into()),
            box_client_secret: Some(Secret::new(client_secret)),
            box_subject_type: Some(BoxSubjectType::Enterprise),
            box_subject_id: Some(enterprise_id.into()),
            ..BoxCredentials::none()
        })
    }

    /// The app's service account by JWT server authentication, from Box's `config.json`
    /// (its text).
    pub fn jwt(config_json: impl Into<String>) -> Self {
        Self::with_credentials(BoxCredentials {
            box_jwt_config: Some(BoxJwtConfig::new(config_json)),
            ..BoxCredentials::none()
        })
    }

    fn with_credentials(credentials: BoxCredentials) -> Self {
        Self {
            credentials,
            folder_id: default_folder_id(),
            max_file_size: default_max_file_size(),
            page_size: default_page_size(),
            include_permissions: true,
            requests_per_minute: default_requests_per_minute(),
            as_user_id: None,
            all_users: false,
            api_base_url: None,
            token_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
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

impl fmt::Debug for BoxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxConfig")
            .field("credentials", &self.credentials)
            .field("folder_id", &self.folder_id)
            .field("max_file_size", &self.max_file_size)
            .field("page_size", &self.page_size)
            .field("include_permissions", &self.include_permissions)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("as_user_id", &self.as_user_id)
            .field("all_users", &self.all_users)
            .field("api_base_url", &self.api_base_url.as_ref().map(Url::as_str))
            .field("token_url", &self.token_url.as_ref().map(Url::as_str))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for BoxConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow's Box form puts the connection's name inside the config too; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let app = match crate::r#box::auth::AppAuth::from_credentials(&self.credentials) {
            Ok(app) => app.is_some(),
            Err(more) => {
                problems.extend(more);
                true
            }
        };
        match (&self.credentials.box_tokens, app) {
            (Some(_), true) => problems.push(FieldError::new(
                TOKENS_FIELD,
                "give one way in: `box_tokens` (a user's OAuth tokens), `box_client_id` + `box_client_secret` (Client Credentials Grant) or `box_jwt_config` (JWT), not several",
            )),
            (Some(tokens), false) => {
                if let Err(messages) = token_parts(tokens) {
                    problems.extend(
                        messages
                            .into_iter()
                            .map(|m| FieldError::new(TOKENS_FIELD, m)),
                    );
                }
            }
            (None, true) => {}
            (None, false) => problems.push(FieldError::new(
                "credentials",
                "need `box_tokens` (a user's OAuth tokens), `box_client_id` + `box_client_secret` (Client Credentials Grant) or `box_jwt_config` (JWT server authentication)",
            )),
        }
        if self.all_users && self.folder_id != "0" {
            problems.push(FieldError::new(
                "all_users",
                "reads each user's whole Box (All Files): leave `folder_id` at 0",
            ));
        }
        if self.all_users && self.as_user_id.is_some() {
            problems.push(FieldError::new(
                "all_users",
                "reads every user of the enterprise; `as_user_id` reads one: set only one of them",
            ));
        }
        if self.folder_id.is_empty() || !self.folder_id.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(FieldError::new(
                "folder_id",
                "must be a Box folder id, digits only (the number in https://app.box.com/folder/123), or 0 for All Files",
            ));
        }
        if let Some(user) = &self.as_user_id
            && (user.is_empty() || !user.bytes().all(|b| b.is_ascii_digit()))
        {
            problems.push(FieldError::new(
                "as_user_id",
                "must be a Box user id, digits only (Admin Console > Users, or GET /users)",
            ));
        }
        if self.page_size.get() > 1000 {
            problems.push(FieldError::new("page_size", "must be at most 1000"));
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
