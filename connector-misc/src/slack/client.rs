//! The Slack Web API calls the connector makes, one [`HttpClient`] per method so each keeps
//! to its own rate tier (Slack counts every method of an app in a workspace separately), all
//! sharing one connection pool ([`HttpClient::with_rate_limit`]).
//!
//! - `auth.test` (the workspace's URL and team id), `conversations.list`
//!   (`types=public_channel,private_channel`, `exclude_archived`), `conversations.join`, `conversations.history` (`oldest`/`latest`/`inclusive`),
//!   `conversations.replies` (`ts`), `conversations.members`, `users.info`; every list paged
//!   by `cursor` and `response_metadata.next_cursor` (`""` after the last page);
//! - the bot token as `Authorization: Bearer`, arguments as query parameters (a POST form
//!   for `conversations.join`);
//! - errors: Slack answers most of them with HTTP 200 and `{"ok": false, "error": "…"}`
//!   (`invalid_auth`, `missing_scope` with `needed`, `not_in_channel`, `channel_not_found`,
//!   `ratelimited`, `internal_error`), read by [`classify`] through core's success
//!   classifier; a spent tier is HTTP 429 with `Retry-After` (seconds), waited out by core.

use std::num::NonZeroU32;
use std::time::Duration;

use connector_core::http::{Auth, ErrorClass, HttpClient, StatusCode};
use connector_core::pages::{Page, PageLimit, paginate};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use futures::TryStreamExt;
use futures::stream::BoxStream;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::config::{SlackConfig, TOKEN_FIELD};
use super::model::{
    AuthTest, Channel, ChannelsPage, Envelope, Listed, MembersPage, MessagesPage, TeamsPage, User,
    UserInfo, read_messages,
};

/// Pages followed at most per list, as a guard against a loop.
const MAX_PAGES: u64 = 1_000_000;
/// Channels asked per `conversations.list` page (Slack suggests no more than 200).
const CHANNELS_PER_PAGE: &str = "200";
/// The most messages a `conversations.history` / `conversations.replies` page of a
/// non-Marketplace app holds (Slack's changelog of 2025-05-29).
const NON_MARKETPLACE_PAGE_SIZE: u32 = 15;
/// Members asked per `conversations.members` page.
const MEMBERS_PER_PAGE: &str = "1000";

/// A Web API method the connector calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    AuthTest,
    List,
    Join,
    History,
    Replies,
    Members,
    Users,
    Teams,
}

impl Method {
    const ALL: [Self; 8] = [
        Self::AuthTest,
        Self::List,
        Self::Join,
        Self::History,
        Self::Replies,
        Self::Members,
        Self::Users,
        Self::Teams,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::AuthTest => "auth.test",
            Self::List => "conversations.list",
            Self::Join => "conversations.join",
            Self::History => "conversations.history",
            Self::Replies => "conversations.replies",
            Self::Members => "conversations.members",
            Self::Users => "users.info",
            Self::Teams => "auth.teams.list",
        }
    }

    /// Its rate tier (docs.slack.dev/apis/web-api/rate-limits). `conversations.history` and
    /// `conversations.replies` of an app distributed outside the Slack Marketplace are Tier 1
    /// (1 request a minute) since 2025; see [`SlackConfig::non_marketplace_app`].
    fn tier(self) -> u8 {
        match self {
            Self::List | Self::Teams => 2,
            Self::Join | Self::History | Self::Replies => 3,
            Self::AuthTest | Self::Members | Self::Users => 4,
        }
    }
}

/// How one page of a method is asked and read.
type ReadPage<P> = for<'a> fn(
    &'a Client,
    Method,
    &'a [(&'a str, &'a str)],
) -> futures::future::BoxFuture<'a, Result<P>>;

/// Requests to one Slack workspace; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    /// One client per [`Method`], in [`Method::ALL`] order.
    http: Vec<HttpClient>,
    api: Url,
    pub(crate) limit: u32,
}

impl Client {
    /// The clients of `config`, each method at its tier's rate.
    pub(crate) fn new(config: &SlackConfig) -> Result<Self> {
        // One connection pool and one TLS setup, each method at its own limit.
        let base = HttpClient::builder(SOURCE)
            .auth(
                Auth::Bearer(config.credentials.slack_bot_token.clone()),
                TOKEN_FIELD,
            )
            .success_classifier(classify)
            .network_policy(config.network_policy()?)
            .build()?;
        let mut http = Vec::with_capacity(Method::ALL.len());
        // Slack counts each method per workspace and app: one key per method at a shared
        // rate gate, so a history request's spacing or a 429 on it holds back no other
        // method. The token's hash, never the token.
        let token = connector_core::ids::hash128(config.credentials.slack_bot_token.expose());
        for method in Method::ALL {
            let non_marketplace =
                config.non_marketplace_app && matches!(method, Method::History | Method::Replies);
            let per_minute: NonZeroU32 = match method.tier() {
                _ if non_marketplace => NonZeroU32::MIN,
                2 => config.tier2_requests_per_minute,
                3 => config.tier3_requests_per_minute,
                _ => config.tier4_requests_per_minute,
            };
            http.push(base.with_rate_limit(
                per_minute,
                Duration::from_secs(60),
                format!("{token}:{}", method.name()),
            )?);
        }
        let api = match &config.base_url {
            Some(u) => u.clone(),
            None => Url::parse(super::config::DEFAULT_API_BASE_URL).map_err(|e| {
                Error::internal("bad default URL")
                    .with_connector(SOURCE)
                    .with_cause(e)
            })?,
        };
        Ok(Self {
            http,
            api,
            limit: if config.non_marketplace_app {
                config.page_size.get().min(NON_MARKETPLACE_PAGE_SIZE)
            } else {
                config.page_size.get().min(999)
            },
        })
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.iter().map(|h| h.with_context(ctx)).collect(),
            ..self.clone()
        }
    }

    fn http(&self, method: Method) -> Result<&HttpClient> {
        let at = Method::ALL.iter().position(|m| *m == method).unwrap_or(0);
        self.http
            .get(at)
            .ok_or_else(|| Error::internal("no client for a Slack method").with_connector(SOURCE))
    }

    fn url(&self, method: Method, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| Error::internal("base_url cannot take a path").with_connector(SOURCE))?
            .pop_if_empty()
            .push(method.name());
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// `GET {api}/{method}?{query}`, read as `T`.
    async fn call<T: DeserializeOwned>(&self, method: Method, query: &[(&str, &str)]) -> Result<T> {
        let url = self.url(method, query)?;
        self.http(method)?.get(url).send().await?.json()
    }

    /// `GET {api}/{method}?{query}`, a page of messages ([`read_messages`]).
    async fn call_messages(&self, method: Method, query: &[(&str, &str)]) -> Result<MessagesPage> {
        let url = self.url(method, query)?;
        let response = self.http(method)?.get(url).send().await?;
        read_messages(response.body()).map_err(|e| {
            Error::invalid_data(format!(
                "{} did not answer with a page of messages",
                method.name()
            ))
            .with_connector(SOURCE)
            .with_url(response.url())
            .with_cause(e)
        })
    }

    /// Every page of a cursor-paged method, through core's pagination.
    async fn all<P, T>(
        &self,
        method: Method,
        query: Vec<(&'static str, String)>,
        split: fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>>
    where
        P: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        self.all_read(method, query, split, |c, m, q| Box::pin(c.call(m, q)))
            .await
    }

    /// Every page of a cursor-paged method, each read by `read`, through core's pagination.
    async fn all_read<P, T>(
        &self,
        method: Method,
        query: Vec<(&'static str, String)>,
        split: fn(P) -> (Vec<T>, Option<String>),
        read: ReadPage<P>,
    ) -> Result<Vec<T>>
    where
        P: Send + 'static,
        T: Send + 'static,
    {
        let client = self.clone();
        let pages: Vec<Vec<T>> = paginate(
            None::<String>,
            PageLimit::fail_after(MAX_PAGES),
            move |cursor: Option<String>| {
                let client = client.clone();
                let query = query.clone();
                async move {
                    let mut q: Vec<(&str, &str)> =
                        query.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    if let Some(c) = &cursor {
                        q.push(("cursor", c));
                    }
                    let page: P = read(&client, method, &q).await?;
                    let (items, next) = split(page);
                    Ok(Page::new(items, next.map(Some)))
                }
            },
        )
        .map_ok(|page| page.items)
        .try_collect()
        .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// The workspace the token belongs to.
    pub(crate) async fn auth_test(&self) -> Result<AuthTest> {
        self.call(Method::AuthTest, &[]).await
    }

    /// Every conversation of the token: public channels, and the private ones the bot is in
    /// when `private`; archived ones too when `archived`. Direct messages (`im`, `mpim`)
    /// never: they are people's private conversations, not a knowledge base. `team`: the
    /// workspace to list, which an org-wide install on Enterprise Grid must name.
    pub(crate) async fn channels(
        &self,
        private: bool,
        archived: bool,
        team: Option<&str>,
    ) -> Result<Vec<Channel>> {
        let types = if private {
            "public_channel,private_channel"
        } else {
            "public_channel"
        };
        let mut query = vec![
            ("types", types.to_owned()),
            ("exclude_archived", (!archived).to_string()),
            ("limit", CHANNELS_PER_PAGE.to_owned()),
        ];
        if let Some(t) = team {
            query.push(("team_id", t.to_owned()));
        }
        self.all(Method::List, query, |p: ChannelsPage| {
            (p.channels, p.response_metadata.next())
        })
        .await
    }

    /// The workspaces of an org-wide install on Enterprise Grid (`auth.teams.list`).
    pub(crate) async fn teams(&self) -> Result<Vec<String>> {
        self.all(
            Method::Teams,
            vec![("limit", CHANNELS_PER_PAGE.to_owned())],
            |p: TeamsPage| {
                (
                    p.teams.into_iter().map(|t| t.id).collect(),
                    p.response_metadata.next(),
                )
            },
        )
        .await
    }

    /// Joins the public channel `id` (`already_in_channel` is a success with a warning).
    pub(crate) async fn join(&self, id: &str) -> Result<()> {
        let url = self.url(Method::Join, &[])?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("channel", id)
            .finish();
        self.http(Method::Join)?
            .post(url)
            .body(form, "application/x-www-form-urlencoded")
            // Joining twice is joining once.
            .idempotent(true)
            .send()
            .await?
            .json::<Value>()
            .map(|_| ())
    }

    /// One page of the top-level messages of `channel` (newest first), within
    /// `(oldest, latest)`.
    pub(crate) async fn history(
        &self,
        channel: &str,
        oldest: Option<&str>,
        latest: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<MessagesPage> {
        let limit = self.limit.to_string();
        let mut q = vec![("channel", channel), ("limit", limit.as_str())];
        if let Some(o) = oldest {
            q.push(("oldest", o));
        }
        if let Some(l) = latest {
            q.push(("latest", l));
        }
        if oldest.is_some() || latest.is_some() {
            q.push(("inclusive", "true"));
        }
        if let Some(c) = cursor {
            q.push(("cursor", c));
        }
        self.call_messages(Method::History, &q).await
    }

    /// The pages of `channel`'s top-level messages (newest first) within `(oldest, latest)`,
    /// from the page at `from` (Slack's cursor; `None`: the first), each with the cursor of
    /// the page after it, through core's pagination (a cursor handed back twice ends it).
    pub(crate) fn history_pages(
        &self,
        channel: String,
        oldest: Option<String>,
        latest: Option<String>,
        from: Option<String>,
    ) -> BoxStream<'static, Result<Page<Vec<Listed>, Option<String>>>> {
        let client = self.clone();
        let args = std::sync::Arc::new((channel, oldest, latest));
        paginate(
            from,
            PageLimit::fail_after(MAX_PAGES),
            move |cursor: Option<String>| {
                let client = client.clone();
                let args = std::sync::Arc::clone(&args);
                async move {
                    let (channel, oldest, latest) = &*args;
                    let (messages, next) = client
                        .history(
                            channel,
                            oldest.as_deref(),
                            latest.as_deref(),
                            cursor.as_deref(),
                        )
                        .await?;
                    Ok(Page::new(messages, next.map(Some)))
                }
            },
        )
    }

    /// Every message of the thread `ts` of `channel`, the parent first.
    pub(crate) async fn replies(&self, channel: &str, ts: &str) -> Result<Vec<Listed>> {
        self.all_read(
            Method::Replies,
            vec![
                ("channel", channel.to_owned()),
                ("ts", ts.to_owned()),
                ("limit", self.limit.to_string()),
            ],
            |p: MessagesPage| p,
            |c, m, q| Box::pin(c.call_messages(m, q)),
        )
        .await
    }

    /// The member ids of `channel`.
    pub(crate) async fn members(&self, channel: &str) -> Result<Vec<String>> {
        self.all(
            Method::Members,
            vec![
                ("channel", channel.to_owned()),
                ("limit", MEMBERS_PER_PAGE.to_owned()),
            ],
            |p: MembersPage| (p.members, p.response_metadata.next()),
        )
        .await
    }

    /// The user `id`; none when Slack does not know it.
    pub(crate) async fn user(&self, id: &str) -> Result<Option<User>> {
        match self.call::<UserInfo>(Method::Users, &[("user", id)]).await {
            Ok(info) => Ok(Some(info.user)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What a Slack answer with status 2xx means: `{"ok": true, …}` is handed on; `{"ok": false,
/// "error": …}` is an error of the kind the error code says. Slack writes `ok` first, so the
/// common answer is told by its first bytes without parsing the page twice.
pub(crate) fn classify(_status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    if body[start..].starts_with(br#"{"ok":true"#) || !may_say_not_ok(body) {
        return None;
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    if envelope.ok != Some(false) {
        return None;
    }
    let error = envelope.error.unwrap_or_else(|| "unknown_error".to_owned());
    Some(error_class(&error, envelope.needed.as_deref()))
}

/// Whether `body` holds a key `"ok"` whose value is `false` anywhere (whitespace around the
/// colon allowed): a body without one is not a refusal, told without parsing it (a page of
/// messages whose `ok` is not first, as a proxy or a re-serialised body may write it). Inside
/// a JSON string a quote is escaped, so `"ok"` there cannot match.
fn may_say_not_ok(body: &[u8]) -> bool {
    let mut rest = body;
    while let Some(at) = rest.windows(4).position(|w| w == br#""ok""#) {
        rest = &rest[at + 4..];
        let after = rest.trim_ascii_start();
        if let Some(value) = after.strip_prefix(b":")
            && value.trim_ascii_start().starts_with(b"false")
        {
            return true;
        }
    }
    false
}

/// The kind and message of a Slack error code.
fn error_class(error: &str, needed: Option<&str>) -> ErrorClass {
    let (kind, message) = match error {
        "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
        | "token_expired" | "no_such_token" | "org_login_required" => (
            ErrorKind::Unauthenticated,
            format!("Slack rejected the bot token ({error})"),
        ),
        "missing_scope" => (
            ErrorKind::PermissionDenied,
            format!(
                "the bot token lacks the scope {} (missing_scope)",
                needed.map_or_else(|| "needed".to_owned(), |n| format!("`{n}`"))
            ),
        ),
        "not_in_channel" => (
            ErrorKind::PermissionDenied,
            "the bot is not a member of the channel (not_in_channel): invite it, or set join_public_channels".to_owned(),
        ),
        "not_allowed_token_type" | "no_permission" | "access_denied" | "ekm_access_denied"
        | "team_access_not_granted" | "restricted_action" | "is_archived"
        | "method_not_supported_for_channel_type" => (
            ErrorKind::PermissionDenied,
            format!("Slack refused the request ({error})"),
        ),
        "channel_not_found" | "thread_not_found" | "user_not_found" | "users_not_found"
        | "message_not_found" => (ErrorKind::NotFound, format!("Slack: {error}")),
        "ratelimited" | "rate_limited" => (
            ErrorKind::RateLimited,
            format!("Slack rate limit ({error})"),
        ),
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => (
            ErrorKind::Unavailable,
            format!("Slack could not answer ({error})"),
        ),
        _ => (
            ErrorKind::InvalidData,
            format!("Slack refused the request ({error})"),
        ),
    };
    ErrorClass::new(kind, message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_method_has_its_own_gate_key_without_the_token() {
        let config: SlackConfig = connector_core::config::from_json(serde_json::json!({
            "credentials": {"slack_bot_token": "xoxb-secret-token"},
        }))
        .unwrap();
        let client = Client::new(&config).unwrap();
        let mut keys: Vec<String> = Method::ALL
            .iter()
            .map(|m| {
                let url = client.url(*m, &[]).unwrap();
                client.http(*m).unwrap().rate_gate_key(&url)
            })
            .collect();
        assert!(keys.iter().all(|k| !k.contains("xoxb")), "{keys:?}");
        assert!(keys[3].ends_with("conversations.history"), "{keys:?}");
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), Method::ALL.len());
    }

    fn kind(body: &str) -> Option<ErrorKind> {
        classify(StatusCode::OK, body.as_bytes()).map(|c| c.kind)
    }

    #[test]
    fn ok_false_bodies_are_errors() {
        assert_eq!(kind(r#"{"ok":true,"channels":[]}"#), None);
        assert_eq!(kind(" {\"channels\":[],\"ok\":true}"), None);
        assert_eq!(
            kind(r#"{"has_more":false,"messages":[{"text":"\"ok\":false"}],"ok":true}"#),
            None
        );
        assert_eq!(
            kind(r#"{"error":"invalid_auth", "ok" : false}"#),
            Some(ErrorKind::Unauthenticated)
        );
        assert_eq!(
            kind(r#"{"ok":false,"error":"invalid_auth"}"#),
            Some(ErrorKind::Unauthenticated)
        );
        assert_eq!(
            kind(r#"{"ok":false,"error":"not_in_channel"}"#),
            Some(ErrorKind::PermissionDenied)
        );
        assert_eq!(
            kind(r#"{"ok":false,"error":"ratelimited"}"#),
            Some(ErrorKind::RateLimited)
        );
        assert_eq!(
            kind(r#"{"ok":false,"error":"channel_not_found"}"#),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            kind(r#"{"ok":false,"error":"fatal_error"}"#),
            Some(ErrorKind::Unavailable)
        );
        let c = classify(
            StatusCode::OK,
            br#"{"ok":false,"error":"missing_scope","needed":"groups:read","provided":"channels:read"}"#,
        );
        assert_eq!(
            c.map(|c| c.message).as_deref(),
            Some("the bot token lacks the scope `groups:read` (missing_scope)")
        );
    }
}
