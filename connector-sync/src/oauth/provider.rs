//! The OAuth providers: where a user authorises, where the code is exchanged, which scopes,
//! and how the tokens become the connector's credential field.

use std::fmt;

use chrono::{DateTime, Utc};
use connector_core::{Error, ErrorKind, Result, Secret};
use serde_json::{Value, json};
use url::Url;

/// Google's authorisation endpoint.
pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// The scopes of the Google Drive connector (`google_drive`): its files, and the directory
/// for a Workspace's users, as RAGFlow asks for them.
pub const GOOGLE_DRIVE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
];
/// The scopes of the Gmail connector (`gmail`).
pub const GMAIL_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
];

/// An OAuth client: the id and secret the provider issued to this application.
#[derive(Clone)]
pub struct OAuthClient {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
}

impl OAuthClient {
    /// A client with `client_id` and `client_secret`.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
        }
    }
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .finish()
    }
}

/// How the token endpoint's answer becomes the value of the connector's credential field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFormat {
    /// google-auth's authorised-user JSON (`Credentials.to_json()`: `token`,
    /// `refresh_token`, `token_uri`, `client_id`, `client_secret`, `scopes`, `expiry`), as a
    /// string: what RAGFlow stores in `credentials.google_tokens` and what connector-google
    /// reads and refreshes. Needs a refresh token.
    GoogleAuthorizedUser,
    /// The token endpoint's answer as it is (`access_token`, `refresh_token`, `expires_in`,
    /// …) with `obtained_at` and the client id added, as a string.
    TokenResponse,
}

/// What the token endpoint answered, read.
pub(crate) struct Tokens {
    pub(crate) raw: serde_json::Map<String, Value>,
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
    /// `expires_in` in seconds, cut to `0..=MAX_EXPIRES_IN` ([`expires_in_of`]).
    pub(crate) expires_in: Option<i64>,
    pub(crate) scope: Option<String>,
}

/// The longest token lifetime kept from a token response: core's year
/// ([`LONGEST_TOKEN_LIFETIME`](connector_core::http::LONGEST_TOKEN_LIFETIME)), the cap the
/// connectors' token caches use, in the signed seconds chrono and the JSON here count in. A
/// longer (or hostile) `expires_in` is cut to it, so the connector refreshes a year after the
/// flow at the latest instead of the time arithmetic overflowing (review41 R6).
// A year of seconds fits an i64 many times over: the `as` cannot wrap.
const MAX_EXPIRES_IN: i64 = connector_core::http::LONGEST_TOKEN_LIFETIME.as_secs() as i64;

/// A token response's `expires_in` (a number, or a string holding one, as some providers send
/// it) in seconds, saturated to `0..=MAX_EXPIRES_IN`: a negative one is expired now, a huge
/// one (`1e30`, `u64::MAX`) a year; `None` when it is absent or not a number.
pub(crate) fn expires_in_of(value: &Value) -> Option<i64> {
    let secs = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| !s.is_nan())?;
    // `as` saturates a float to the integer's range (infinities included).
    let secs = secs as i64;
    Some(secs.clamp(0, MAX_EXPIRES_IN))
}

impl TokenFormat {
    /// The field's value for `tokens` obtained from `provider` with `client` at `now`.
    ///
    /// # Errors
    /// [`ErrorKind::Unauthenticated`] when the format needs a refresh token and the provider
    /// gave none.
    pub(crate) fn value(
        self,
        provider: &OAuthProvider,
        client: &OAuthClient,
        tokens: &Tokens,
        now: DateTime<Utc>,
    ) -> Result<Secret> {
        let expiry = tokens.expires_in.map(|s| {
            let lifetime = chrono::Duration::seconds(s.clamp(0, MAX_EXPIRES_IN));
            now.checked_add_signed(lifetime)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
                .to_rfc3339()
        });
        let value = match self {
            Self::GoogleAuthorizedUser => {
                let Some(refresh) = &tokens.refresh_token else {
                    return Err(Error::new(
                        ErrorKind::Unauthenticated,
                        format!(
                            "{} answered without a refresh token, so the connector could not \
                             renew its access: remove this application's access in the Google \
                             account's security settings and authorise again (the consent \
                             screen then issues one)",
                            provider.name
                        ),
                    ));
                };
                let scopes: Vec<&str> = tokens.scope.as_deref().map_or_else(
                    || provider.scopes.iter().map(String::as_str).collect(),
                    |s| s.split_whitespace().collect(),
                );
                json!({
                    "token": tokens.access_token,
                    "refresh_token": refresh,
                    "token_uri": provider.token_url.as_str(),
                    "client_id": client.client_id,
                    "client_secret": client.client_secret.expose(),
                    "scopes": scopes,
                    "expiry": expiry,
                })
            }
            Self::TokenResponse => {
                let mut raw = tokens.raw.clone();
                raw.insert("obtained_at".into(), Value::String(now.to_rfc3339()));
                raw.insert("client_id".into(), Value::String(client.client_id.clone()));
                Value::Object(raw)
            }
        };
        Ok(Secret::new(value.to_string()))
    }

    /// A value of the right shape that stands in for the tokens while a config is checked
    /// before the user has authorised.
    pub(crate) fn placeholder(self) -> Value {
        match self {
            Self::GoogleAuthorizedUser => Value::String(
                json!({
                    "refresh_token": "placeholder",
                    "client_id": "placeholder",
                    "client_secret": "placeholder",
                })
                .to_string(),
            ),
            Self::TokenResponse => Value::String(
                json!({ "access_token": "placeholder", "refresh_token": "placeholder" })
                    .to_string(),
            ),
        }
    }
}

/// One OAuth provider of the web flows: every OAuth source plugs in with an entry.
///
/// The URLs are the server's settings (a test points them at a loopback server); an
/// authorisation request never changes them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OAuthProvider {
    /// Its name in the routes (`/api/v1/oauth/callback/{name}`) and in `init`:
    /// `google-drive`, `gmail` (RAGFlow's `type` values).
    pub name: String,
    /// The registry source whose connectors it authorises (`google_drive`).
    pub source: String,
    /// The authorisation endpoint the user's browser is sent to.
    pub auth_url: Url,
    /// The token endpoint the code is exchanged at.
    pub token_url: Url,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Whether to send a PKCE challenge (S256).
    pub pkce: bool,
    /// More parameters of the authorisation URL (Google: `access_type=offline`,
    /// `prompt=consent`, `include_granted_scopes=true`, so a refresh token is issued).
    pub auth_params: Vec<(String, String)>,
    /// The server's OAuth client; `None`: each `init` brings its own (RAGFlow's uploaded
    /// `{"web": {...}}` client configuration).
    pub client: Option<OAuthClient>,
    /// The redirect URI registered with the provider; `None`: the flows' public URL and
    /// `/api/v1/oauth/callback/{name}`.
    pub redirect_uri: Option<Url>,
    /// The connector config field the tokens go to (`credentials.google_tokens`).
    pub token_field: String,
    /// How the tokens are written there.
    pub token_format: TokenFormat,
}

fn url(text: &str) -> Result<Url> {
    Url::parse(text).map_err(|e| Error::internal(format!("bad URL {text}")).with_cause(e))
}

impl OAuthProvider {
    /// A provider with no extra parameters, PKCE on, no client and no fixed redirect URI.
    pub fn new(
        name: impl Into<String>,
        source: impl Into<String>,
        auth_url: Url,
        token_url: Url,
        scopes: &[&str],
        token_field: impl Into<String>,
        token_format: TokenFormat,
    ) -> Self {
        Self {
            name: name.into(),
            source: source.into(),
            auth_url,
            token_url,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            pkce: true,
            auth_params: Vec::new(),
            client: None,
            redirect_uri: None,
            token_field: token_field.into(),
            token_format,
        }
    }

    fn google(name: &str, source: &str, scopes: &[&str]) -> Result<Self> {
        let mut p = Self::new(
            name,
            source,
            url(GOOGLE_AUTH_URL)?,
            url(GOOGLE_TOKEN_URL)?,
            scopes,
            "credentials.google_tokens",
            TokenFormat::GoogleAuthorizedUser,
        );
        p.auth_params = [
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("include_granted_scopes", "true"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        Ok(p)
    }

    /// Google Drive (`google-drive`, for source `google_drive`) at Google's endpoints.
    ///
    /// # Errors
    /// None in practice (the endpoints are constants).
    pub fn google_drive() -> Result<Self> {
        Self::google("google-drive", "google_drive", GOOGLE_DRIVE_SCOPES)
    }

    /// Gmail (`gmail`, for source `gmail`) at Google's endpoints.
    ///
    /// # Errors
    /// None in practice (the endpoints are constants).
    pub fn gmail() -> Result<Self> {
        Self::google("gmail", "gmail", GMAIL_SCOPES)
    }

    /// Sets the server's OAuth client.
    #[must_use]
    pub fn with_client(mut self, client: OAuthClient) -> Self {
        self.client = Some(client);
        self
    }

    /// Sets the authorisation and token endpoints (a test's loopback server, a proxy).
    #[must_use]
    pub fn with_endpoints(mut self, auth_url: Url, token_url: Url) -> Self {
        self.auth_url = auth_url;
        self.token_url = token_url;
        self
    }

    /// Sets the redirect URI registered with the provider.
    #[must_use]
    pub fn with_redirect_uri(mut self, redirect_uri: Url) -> Self {
        self.redirect_uri = Some(redirect_uri);
        self
    }

    /// Google Drive and Gmail with the clients and redirect URIs of the environment, as
    /// RAGFlow reads them: `OAUTH_GOOGLE_DRIVE_CLIENT_ID` / `_SECRET` (Gmail's
    /// `OAUTH_GMAIL_CLIENT_ID` / `_SECRET`, else Drive's), `GOOGLE_DRIVE_WEB_OAUTH_REDIRECT_URI`
    /// and `GMAIL_WEB_OAUTH_REDIRECT_URI`. Unset: each `init` brings its client, and the
    /// redirect URI comes from the flows' public URL.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming a redirect variable that is not a URL.
    pub fn google_from_env() -> Result<Vec<Self>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let client = |prefix: &str| {
            Some(OAuthClient::new(
                var(&format!("{prefix}_CLIENT_ID"))?,
                var(&format!("{prefix}_CLIENT_SECRET"))?,
            ))
        };
        let redirect = |name: &str| -> Result<Option<Url>> {
            var(name)
                .map(|v| {
                    Url::parse(v.trim())
                        .map_err(|_| Error::new(ErrorKind::Config, format!("{name} is not a URL")))
                })
                .transpose()
        };
        let drive_client = client("OAUTH_GOOGLE_DRIVE");
        let mut drive = Self::google_drive()?;
        drive.client = drive_client.clone();
        drive.redirect_uri = redirect("GOOGLE_DRIVE_WEB_OAUTH_REDIRECT_URI")?;
        let mut gmail = Self::gmail()?;
        gmail.client = client("OAUTH_GMAIL").or(drive_client);
        gmail.redirect_uri = redirect("GMAIL_WEB_OAUTH_REDIRECT_URI")?;
        Ok(vec![drive, gmail])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expiry of a Google token field whose response said `expires_in`.
    fn expiry(expires_in: Value, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut raw = serde_json::Map::new();
        raw.insert("expires_in".into(), expires_in);
        let tokens = Tokens {
            expires_in: raw.get("expires_in").and_then(expires_in_of),
            raw,
            access_token: "at".into(),
            refresh_token: Some("rt".into()),
            scope: None,
        };
        let Ok(provider) = OAuthProvider::google_drive() else {
            panic!("the Drive provider")
        };
        let client = OAuthClient {
            client_id: "id".into(),
            client_secret: Secret::new("s3"),
        };
        let value = TokenFormat::GoogleAuthorizedUser
            .value(&provider, &client, &tokens, now)
            .unwrap_or_else(|e| panic!("{e}"));
        let field: Value = serde_json::from_str(value.expose()).unwrap_or_else(|e| panic!("{e}"));
        field["expiry"].as_str().map(|t| {
            DateTime::parse_from_rfc3339(t)
                .unwrap_or_else(|e| panic!("{t}: {e}"))
                .with_timezone(&Utc)
        })
    }

    /// A huge, negative, textual or out-of-range `expires_in` saturates instead of
    /// overflowing the time arithmetic (review41 R6: `i64::MAX` panicked, `1e30` and
    /// `u64::MAX` lost the expiry).
    #[test]
    fn expires_in_saturates() {
        let now = Utc::now();
        let year = now + chrono::Duration::seconds(MAX_EXPIRES_IN);
        for (given, want) in [
            (serde_json::json!(1e30), Some(year)),
            (serde_json::json!(-5), Some(now)),
            (serde_json::json!(-1e30), Some(now)),
            (
                serde_json::json!("3600"),
                Some(now + chrono::Duration::hours(1)),
            ),
            (
                serde_json::json!(3600),
                Some(now + chrono::Duration::hours(1)),
            ),
            (
                serde_json::json!(18_446_744_073_709_551_615_u64),
                Some(year),
            ),
            (serde_json::json!(i64::MAX), Some(year)),
            (serde_json::json!("9223372036854775807"), Some(year)),
            (serde_json::json!(1_000_000_000_000_000_i64), Some(year)),
            (serde_json::json!("soon"), None),
            (Value::Null, None),
        ] {
            assert_eq!(expiry(given.clone(), now), want, "{given}");
        }
    }
}
