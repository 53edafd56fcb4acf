//! The code exchange at the provider's token endpoint, and the OAuth client a request brings.

use connector_core::{Error, ErrorKind, Result};
use serde_json::Value;

use super::Provider;
use super::provider::{OAuthClient, Tokens, expires_in_of};

/// Exchanges `code` at the provider's token endpoint. The error is a message for the
/// user (the caller scrubs the code and the client secret from it).
pub(super) async fn exchange(
    p: &Provider,
    client: &OAuthClient,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> std::result::Result<Tokens, String> {
    // Built before any await: the serializer is not `Send`.
    let form = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", &client.client_id)
            .append_pair("client_secret", client.client_secret.expose());
        if let Some(v) = verifier {
            form.append_pair("code_verifier", v);
        }
        form.finish()
    };
    let name = &p.provider.name;
    let response = p
        .http
        .post(p.provider.token_url.clone())
        .header("accept", "application/json")
        .body(form, "application/x-www-form-urlencoded")
        // A code is single-use: a POST that may have reached the provider is not sent
        // again.
        .idempotent(false)
        .client_errors_as_responses()
        .send()
        .await
        .map_err(|e| format!("the token endpoint of {name} could not be reached: {e}"))?;
    let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    if !response.status().is_success() {
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code");
        let desc = body
            .get("error_description")
            .and_then(Value::as_str)
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(format!(
            "{name} refused the authorisation code (HTTP {}, {error}){desc}: start the \
             authorisation again",
            response.status().as_u16()
        ));
    }
    let Value::Object(raw) = body else {
        return Err(format!(
            "the token endpoint of {name} did not answer a JSON object"
        ));
    };
    let text = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(access_token) = text("access_token") else {
        return Err(format!(
            "the token endpoint of {name} answered no `access_token`"
        ));
    };
    Ok(Tokens {
        access_token,
        refresh_token: text("refresh_token").filter(|t| !t.is_empty()),
        expires_in: raw.get("expires_in").and_then(expires_in_of),
        scope: text("scope"),
        raw,
    })
}

/// An OAuth client from RAGFlow's uploaded client configuration or a flat object.
pub(super) fn client_of(credentials: &Value) -> Result<OAuthClient> {
    let parsed;
    let value = match credentials {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    "is not JSON (expected the OAuth client configuration)",
                )
                .with_field("credentials")
            })?;
            &parsed
        }
        other => other,
    };
    if value.get("refresh_token").is_some() {
        return Err(Error::new(
            ErrorKind::Config,
            "already holds a refresh token: store it in the connector's config instead of \
             authorising again",
        )
        .with_field("credentials"));
    }
    let section = value
        .get("web")
        .or_else(|| value.get("installed"))
        .unwrap_or(value);
    let text = |k: &str| {
        section
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (text("client_id"), text("client_secret")) {
        (Some(id), Some(secret)) => Ok(OAuthClient::new(id, secret)),
        _ => Err(Error::new(
            ErrorKind::Config,
            "needs `client_id` and `client_secret` (in its `web` section for a Google client \
             configuration)",
        )
        .with_field("credentials")),
    }
}

/// `message` with every occurrence of each of `secrets` replaced by `***`.
pub(super) fn scrub(message: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(message.to_owned(), |m, s| m.replace(s, "***"))
}
