//! How `rest_api` requests authenticate: RAGFlow's `auth_type`, `auth_config` and
//! `credentials`, which of their fields each `auth_type` reads and which wins when two are
//! given (RAGFlow's `_build_auth`: `credentials.x or auth_config.y`).

use connector_core::Secret;
use connector_core::config::Ignored;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::RestApiConfig;

/// How requests authenticate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// No credentials.
    #[default]
    None,
    /// A key in the header named by `auth_config.header_name` (default `X-API-Key`).
    ApiKeyHeader,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// HTTP Basic with `username` and `password` (which may be empty).
    Basic,
}

/// RAGFlow's `auth_config`.
#[derive(Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The header carrying the API key.
    #[serde(default)]
    pub header_name: Option<String>,
    /// The API key.
    #[serde(default)]
    pub api_key_value: Option<Secret>,
    /// The API key (another spelling).
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The bearer token.
    #[serde(default)]
    pub token: Option<Secret>,
    /// The Basic user name.
    #[serde(default)]
    pub username: Option<String>,
    /// The Basic password.
    #[serde(default)]
    pub password: Option<Secret>,
}

/// RAGFlow's `credentials`: take precedence over `auth_config`.
#[derive(Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The API key.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The bearer token.
    #[serde(default)]
    pub token: Option<Secret>,
    /// The Basic user name.
    #[serde(default)]
    pub username: Option<String>,
    /// The Basic password.
    #[serde(default)]
    pub password: Option<Secret>,
}

impl AuthType {
    /// The name a config gives it.
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ApiKeyHeader => "api_key_header",
            Self::Bearer => "bearer",
            Self::Basic => "basic",
        }
    }
}

impl RestApiConfig {
    /// The API key: `credentials.api_key`, else `auth_config.api_key_value`, else
    /// `auth_config.api_key`, with the field to name in errors.
    pub(crate) fn api_key(&self) -> Option<(&Secret, &'static str)> {
        self.credentials
            .api_key
            .as_ref()
            .map(|s| (s, "credentials.api_key"))
            .or_else(|| {
                self.auth_config
                    .api_key_value
                    .as_ref()
                    .map(|s| (s, "auth_config.api_key_value"))
            })
            .or_else(|| {
                self.auth_config
                    .api_key
                    .as_ref()
                    .map(|s| (s, "auth_config.api_key"))
            })
    }

    /// The bearer token and its field.
    pub(crate) fn token(&self) -> Option<(&Secret, &'static str)> {
        self.credentials
            .token
            .as_ref()
            .map(|s| (s, "credentials.token"))
            .or_else(|| {
                self.auth_config
                    .token
                    .as_ref()
                    .map(|s| (s, "auth_config.token"))
            })
    }

    /// The Basic user name, password (empty allowed) and the field to name.
    pub(crate) fn basic(&self) -> Option<(&str, Option<&Secret>, &'static str)> {
        let (user, field) = match (&self.credentials.username, &self.auth_config.username) {
            (Some(u), _) => (u.as_str(), "credentials.username"),
            (None, Some(u)) => (u.as_str(), "auth_config.username"),
            (None, None) => return None,
        };
        let password = self
            .credentials
            .password
            .as_ref()
            .or(self.auth_config.password.as_ref());
        Some((user, password, field))
    }

    /// The credential fields given that `auth_type` leaves unused, as RAGFlow's `_build_auth`
    /// leaves them: those another `auth_type` reads (a token kept by the form after switching
    /// to `none`), and those that lose to another field of the same value (`auth_config.token`
    /// next to `credentials.token`).
    pub(crate) fn unused_credentials(&self) -> Vec<Ignored> {
        let (c, a) = (&self.credentials, &self.auth_config);
        let api_key = self.api_key().map(|(_, field)| field);
        let token = self.token().map(|(_, field)| field);
        let username = self.basic().map(|(_, _, field)| field);
        let password = match (&c.password, &a.password) {
            (Some(_), _) => Some("credentials.password"),
            (None, Some(_)) => Some("auth_config.password"),
            (None, None) => None,
        };
        // Each field: whether it was given, the `auth_type` that reads it, and the field that
        // is used for the same value (`None`: no other field stands for it).
        let fields = [
            (
                "credentials.api_key",
                c.api_key.is_some(),
                AuthType::ApiKeyHeader,
                api_key,
            ),
            (
                "credentials.token",
                c.token.is_some(),
                AuthType::Bearer,
                token,
            ),
            (
                "credentials.username",
                c.username.is_some(),
                AuthType::Basic,
                username,
            ),
            (
                "credentials.password",
                c.password.is_some(),
                AuthType::Basic,
                password,
            ),
            (
                "auth_config.header_name",
                a.header_name.is_some(),
                AuthType::ApiKeyHeader,
                None,
            ),
            (
                "auth_config.api_key_value",
                a.api_key_value.is_some(),
                AuthType::ApiKeyHeader,
                api_key,
            ),
            (
                "auth_config.api_key",
                a.api_key.is_some(),
                AuthType::ApiKeyHeader,
                api_key,
            ),
            (
                "auth_config.token",
                a.token.is_some(),
                AuthType::Bearer,
                token,
            ),
            (
                "auth_config.username",
                a.username.is_some(),
                AuthType::Basic,
                username,
            ),
            (
                "auth_config.password",
                a.password.is_some(),
                AuthType::Basic,
                password,
            ),
        ];
        let current = self.auth_type;
        fields
            .into_iter()
            .filter(|(_, given, _, _)| *given)
            .filter_map(|(path, _, reader, used)| {
                let reason = if reader != current {
                    let why = match current {
                        AuthType::None => "requests carry no credentials".to_owned(),
                        other => format!("it sends only what `{}` reads", other.name()),
                    };
                    format!(
                        "`auth_type` is `{}`: {why}, as in RAGFlow (`auth_type: {}` reads it)",
                        current.name(),
                        reader.name()
                    )
                } else {
                    let used = used.filter(|used| *used != path)?;
                    format!("`{used}` is given and wins over it, as in RAGFlow")
                };
                Some(Ignored::new(path, reason))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The paths `unused()` reports for a config with `extra` over a minimal one.
    fn unused(extra: Value) -> Vec<(String, String)> {
        let mut config =
            json!({ "url": "https://api.example.com/items", "content_fields": "title" });
        if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
            config.extend(extra);
        }
        connector_core::config::parse::<RestApiConfig>(config)
            .unwrap()
            .ignored
            .into_iter()
            .map(|i| (i.path, i.reason))
            .collect()
    }

    fn paths(found: &[(String, String)]) -> Vec<&str> {
        found.iter().map(|(path, _)| path.as_str()).collect()
    }

    #[test]
    fn credentials_the_auth_type_does_not_read_are_reported() {
        // The form keeps a typed token after auth is switched back to `none`.
        let none = unused(json!({
            "auth_type": "none",
            "credentials": { "api_key": "", "token": "stp_1f0e", "username": "", "password": "" },
        }));
        assert_eq!(paths(&none), ["credentials.token"]);
        assert!(none[0].1.contains("no credentials"), "{}", none[0].1);
        assert!(none[0].1.contains("`auth_type: bearer`"), "{}", none[0].1);
        assert!(!none[0].1.contains("stp_1f0e"), "{}", none[0].1);
        // Under `bearer`, a header name and a key left from `api_key_header`, and Basic fields.
        let bearer = unused(json!({
            "auth_type": "bearer",
            "auth_config": { "header_name": "X-Key", "username": "bot" },
            "credentials": { "token": "t", "api_key": "k", "password": "p" },
        }));
        assert_eq!(
            paths(&bearer),
            [
                "credentials.api_key",
                "credentials.password",
                "auth_config.header_name",
                "auth_config.username"
            ]
        );
        // Nothing unused: no note.
        let basic = unused(json!({
            "auth_type": "basic",
            "credentials": { "username": "u", "password": "p" },
        }));
        assert!(basic.is_empty(), "{basic:?}");
    }

    #[test]
    fn a_field_that_loses_to_another_is_reported() {
        // RAGFlow: `credentials.api_key or auth_config.api_key_value or auth_config.api_key`.
        let key = unused(json!({
            "auth_type": "api_key_header",
            "auth_config": { "header_name": "X-Key", "api_key_value": "a", "api_key": "b" },
        }));
        assert_eq!(paths(&key), ["auth_config.api_key"]);
        assert!(
            key[0].1.contains("`auth_config.api_key_value` is given"),
            "{}",
            key[0].1
        );
        let token = unused(json!({
            "auth_type": "bearer",
            "auth_config": { "token": "a" },
            "credentials": { "token": "b" },
        }));
        assert_eq!(paths(&token), ["auth_config.token"]);
        // A Basic user name from one place and the password from the other are both used.
        let basic = unused(json!({
            "auth_type": "basic",
            "auth_config": { "password": "p" },
            "credentials": { "username": "u" },
        }));
        assert!(basic.is_empty(), "{basic:?}");
    }
}
