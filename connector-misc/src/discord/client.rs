//! The Discord REST calls the connector makes (API v10; no gateway, no websocket).
//!
//! - `GET /users/@me` (the bot), `GET /users/@me/guilds?after=…&limit=200` (its servers);
//! - `GET /guilds/{id}` (with its roles), `GET /guilds/{id}/channels`,
//!   `GET /guilds/{id}/members/{bot}` (the bot's roles), `GET /guilds/{id}/threads/active`;
//! - `GET /channels/{id}/threads/archived/public?before=…&limit=100` (newest archived first,
//!   `has_more`), `GET /channels/{id}` (a thread by id);
//! - `GET /channels/{id}/messages?after={snowflake}&limit=100`: the 100 messages right after
//!   the snowflake, newest first;
//! - errors as `{"message": "Missing Access", "code": 50001}`; rate limits per route in
//!   `X-RateLimit-Remaining` / `X-RateLimit-Reset-After` (seconds with fractions) on every
//!   answer, and a `429` with `Retry-After`, `X-RateLimit-Global`/`X-RateLimit-Scope` and the
//!   body `{"message": "You are being rate limited.", "retry_after": 0.5, "global": false}`.
//!
//! Core's client retries the `429` after `Retry-After` (else `X-RateLimit-Reset-After`) and
//! defers the whole credential on a shared rate gate; an answer that says its route is spent
//! (`X-RateLimit-Remaining: 0`) is waited out here before the next request, so a walk does not
//! run into the `429` at all.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use connector_core::http::{ErrorClass, HttpClient, StatusCode};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::model::{ApiError, Application, Channel, Guild, Member, PartialGuild, ThreadList, User};

/// Messages per page: Discord's maximum.
pub(crate) const PAGE: usize = 100;
/// Servers per page of `GET /users/@me/guilds`: Discord's maximum.
const GUILD_PAGE: usize = 200;
/// The longest wait for a spent route honoured before a request.
const SPENT_WAIT_CAP: Duration = Duration::from_secs(60);

/// Requests to one Discord API; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    api: Url,
}

impl Client {
    pub(crate) fn new(http: HttpClient, api: Url) -> Self {
        Self { http, api }
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            api: self.api.clone(),
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| Error::internal("base_url cannot take a path").with_connector(SOURCE))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// One GET; when the answer says its route is spent, waits for the route's reset first.
    async fn json<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        let resp = self.http.get(url).send().await?;
        if let Some(wait) = resp.spent_rate_limit() {
            tracing::debug!(
                connector = SOURCE,
                ?wait,
                "the route's rate limit is spent; waiting for its reset"
            );
            tokio::time::sleep(wait.min(SPENT_WAIT_CAP)).await;
        }
        resp.json()
    }

    /// The bot's application, with its intent flags.
    pub(crate) async fn application(&self) -> Result<Application> {
        self.json(self.endpoint(&["applications", "@me"])?).await
    }

    /// The bot.
    pub(crate) async fn me(&self) -> Result<User> {
        self.json(self.endpoint(&["users", "@me"])?).await
    }

    /// Every server the bot is in, by id.
    pub(crate) async fn guild_ids(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        loop {
            let mut url = self.endpoint(&["users", "@me", "guilds"])?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("limit", &GUILD_PAGE.to_string());
                if let Some(last) = out.last() {
                    q.append_pair("after", last);
                }
            }
            let page: Vec<PartialGuild> = self.json(url).await?;
            let full = page.len() >= GUILD_PAGE;
            let before = out.len();
            out.extend(page.into_iter().map(|g| g.id));
            out.sort_by_key(|id| id.parse::<u64>().unwrap_or(u64::MAX));
            out.dedup();
            if !full || out.len() == before {
                break;
            }
        }
        Ok(out)
    }

    /// The server `id` with its roles.
    pub(crate) async fn guild(&self, id: &str) -> Result<Guild> {
        self.json(self.endpoint(&["guilds", id])?).await
    }

    /// The channels of server `id` (threads are not among them).
    pub(crate) async fn channels(&self, id: &str) -> Result<Vec<Channel>> {
        self.json(self.endpoint(&["guilds", id, "channels"])?).await
    }

    /// The member `user` of server `guild`.
    pub(crate) async fn member(&self, guild: &str, user: &str) -> Result<Member> {
        self.json(self.endpoint(&["guilds", guild, "members", user])?)
            .await
    }

    /// The active threads of server `id`, every channel's.
    pub(crate) async fn active_threads(&self, id: &str) -> Result<Vec<Channel>> {
        let list: ThreadList = self
            .json(self.endpoint(&["guilds", id, "threads", "active"])?)
            .await?;
        Ok(list.threads)
    }

    /// A page of the public archived threads of `channel` archived before `before` (newest
    /// archived first; exclusive), and whether more follow.
    pub(crate) async fn archived_threads(
        &self,
        channel: &str,
        before: Option<DateTime<Utc>>,
    ) -> Result<ThreadList> {
        let mut url = self.endpoint(&["channels", channel, "threads", "archived", "public"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &PAGE.to_string());
            if let Some(before) = before {
                // Microseconds, as Discord writes `archive_timestamp`: milliseconds would
                // move the bound and drop threads archived within that millisecond.
                q.append_pair(
                    "before",
                    &before.to_rfc3339_opts(SecondsFormat::Micros, true),
                );
            }
        }
        self.json(url).await
    }

    /// The channel or thread `id`; none when it is gone.
    pub(crate) async fn channel(&self, id: &str) -> Result<Option<Channel>> {
        match self.json(self.endpoint(&["channels", id])?).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Up to 100 messages of `channel` right after the snowflake `after`, oldest first, each
    /// as JSON with its id (a message without a numeric id makes the page invalid).
    pub(crate) async fn messages_after(
        &self,
        channel: &str,
        after: u64,
    ) -> Result<Vec<(u64, Value)>> {
        let mut url = self.endpoint(&["channels", channel, "messages"])?;
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("limit", &PAGE.to_string());
        let values: Vec<Value> = self.json(url).await?;
        let mut out = Vec::with_capacity(values.len());
        for value in values {
            let id = value
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    Error::invalid_data(format!(
                        "a message of channel {channel} has no snowflake id"
                    ))
                    .with_connector(SOURCE)
                })?;
            out.push((id, value));
        }
        out.sort_by_key(|(id, _)| *id);
        Ok(out)
    }
}

/// What Discord's error bodies mean (`{"message", "code"}`): `401` a token Discord rejects;
/// `403` a missing permission (`50001 Missing Access`, `50013 Missing Permissions`); `404` an
/// unknown server, channel or message (`10004`, `10003`, `10008`); `400` a request Discord
/// cannot serve. A `429` never reaches here: core's client retries it.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let error = serde_json::from_slice::<ApiError>(body).ok();
    let said = match &error {
        Some(e) if !e.message.is_empty() => format!("{} (code {})", e.message, e.code),
        _ => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
    };
    match status.as_u16() {
        401 => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!("Discord rejected the bot token (wrong, reset or revoked): {said}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Discord refused access (the bot lacks View Channel or Read Message History there): {said}"
            ),
        )),
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Discord: {said}"),
        )),
        400 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Discord rejected the request: {said}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_named() {
        let c = classify(
            StatusCode::FORBIDDEN,
            br#"{"message": "Missing Access", "code": 50001}"#,
        );
        assert!(c.is_some_and(|c| c.kind == ErrorKind::PermissionDenied
            && c.message.contains("Missing Access (code 50001)")));
        let c = classify(
            StatusCode::NOT_FOUND,
            br#"{"message": "Unknown Channel", "code": 10003}"#,
        );
        assert!(c.is_some_and(|c| c.kind == ErrorKind::NotFound));
        let c = classify(
            StatusCode::UNAUTHORIZED,
            br#"{"message": "401: Unauthorized", "code": 0}"#,
        );
        assert!(c.is_some_and(|c| c.kind == ErrorKind::Unauthenticated));
    }
}
