//! The credentials part of both configs, as RAGFlow names it. Their list fields, which
//! RAGFlow's web form sends as comma-separated strings, are [`connector_core::StringList`].

use std::fmt;

use connector_core::config::IgnoredField;
use connector_core::secret::{SecretJson, SecretJsonSchema};
use connector_core::{FieldError, StringList};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `credentials.google_tokens`: a service-account key or an OAuth user token, as a JSON string
/// (RAGFlow stores it so) or a JSON object. Kept whole as a [`Secret`](connector_core::Secret).
pub type GoogleTokens = SecretJson<GoogleTokensSchema>;

/// The schema of [`GoogleTokens`].
#[derive(Debug)]
#[non_exhaustive]
pub struct GoogleTokensSchema;

impl SecretJsonSchema for GoogleTokensSchema {
    const NAME: &'static str = "GoogleTokens";
    const DESCRIPTION: &'static str = "A service-account key (`type: service_account`, `client_email`, `private_key`) or an OAuth user token (`refresh_token`, `client_id`, `client_secret`), as a JSON object or a string holding one.";
}

/// RAGFlow's `credentials.authentication_method`, as both Google configs accept and ignore it.
///
/// RAGFlow's `load_google_credentials` reads it only for an OAuth token: `uploaded` (its form's
/// value, and the default) takes the OAuth client's id and secret from the token, as here;
/// `oauth_interactive` takes them from RAGFlow's own environment instead.
pub(crate) const AUTHENTICATION_METHOD: IgnoredField = IgnoredField::new(
    "credentials.authentication_method",
    "RAGFlow reads it only for an OAuth token, and with `oauth_interactive` takes the OAuth \
     client's id and secret from its own environment (OAUTH_GOOGLE_DRIVE_CLIENT_ID, \
     OAUTH_GOOGLE_DRIVE_CLIENT_SECRET); here the `client_id` and `client_secret` always come \
     from the token in `credentials.google_tokens`, whose JSON also tells a service-account \
     key from an OAuth token",
)
// `uploaded` is what RAGFlow's form always sends and its default: the token's own client,
// as here.
.quiet_for(&["uploaded"]);

/// Adds a problem for each entry of `list` (the config's `field`) that is not one e-mail
/// address: none, or several run together (`"a@x.com b@x.com"`, which the config layer does
/// not split, as it splits lists only on commas and line breaks).
pub(crate) fn check_addresses(field: &str, list: &StringList, out: &mut Vec<FieldError>) {
    for (i, entry) in list.iter().enumerate() {
        let message = match entry.matches('@').count() {
            0 => "is not an e-mail address",
            1 => continue,
            _ => {
                "holds more than one e-mail address: put one per line or separate them with commas"
            }
        };
        out.push(FieldError::new(format!("{field}[{i}]"), message));
    }
}

/// The `credentials` object of both Google sources, with RAGFlow's field names.
///
/// RAGFlow's `authentication_method` (`uploaded`, `oauth_interactive`) is accepted and
/// ignored (the configs' [`IGNORED`](connector_core::ConnectorConfig::IGNORED) say why, and
/// say nothing for `uploaded`, RAGFlow's form value): the kind of credential is read from the
/// JSON itself, and an OAuth token's client id and secret from the token.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GoogleCredentialsConfig {
    /// The service-account key or OAuth user token. Also read as `google_service_account_key`,
    /// where RAGFlow's backend (Python and Go) reads a service-account key; its web form
    /// stores whatever JSON it was given under `google_tokens`.
    #[schemars(extend("x-aliases" = ["google_service_account_key"]))]
    pub google_tokens: GoogleTokens,
    /// The Workspace administrator a service account impersonates to list users and shared
    /// drives (required with a service account; RAGFlow's form requires it always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_primary_admin: Option<String>,
}

impl GoogleCredentialsConfig {
    /// Credentials from the JSON text of a key or token.
    pub fn new(google_tokens: impl Into<String>) -> Self {
        Self {
            google_tokens: GoogleTokens::new(google_tokens),
            google_primary_admin: None,
        }
    }

    /// Sets the primary admin.
    #[must_use]
    pub fn with_primary_admin(mut self, email: impl Into<String>) -> Self {
        self.google_primary_admin = Some(email.into());
        self
    }

    /// Whether the credentials are a service-account key (which impersonates users).
    #[cfg(feature = "google_drive")] // Only Drive's scope rules ask.
    pub(crate) fn is_service_account(&self) -> bool {
        matches!(
            super::Credential::parse(&self.google_tokens),
            Ok(super::Credential::ServiceAccount(_))
        )
    }

    /// Who the credentials act as, for `Display`: the primary admin, else `me` (an OAuth
    /// user token).
    pub(crate) fn identity(&self) -> &str {
        self.google_primary_admin.as_deref().unwrap_or("me")
    }

    /// Every problem with the credentials, by field path.
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        match super::Credential::parse(&self.google_tokens) {
            Ok(super::Credential::ServiceAccount(_)) => {
                if self
                    .google_primary_admin
                    .as_deref()
                    .is_none_or(|a| !a.contains('@'))
                {
                    out.push(FieldError::new(
                        "credentials.google_primary_admin",
                        "a service account needs the e-mail of a Workspace administrator to impersonate",
                    ));
                }
            }
            Ok(super::Credential::User(_)) => {}
            Err(message) => out.push(FieldError::new("credentials.google_tokens", message)),
        }
        out
    }
}

impl fmt::Debug for GoogleCredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleCredentialsConfig")
            .field("google_tokens", &"***")
            .field("google_primary_admin", &self.google_primary_admin)
            .finish()
    }
}
