//! A wiremock Discord written from the REST API v10 reference (discord.com/developers/docs):
//! `Authorization: Bot …`; `GET /users/@me`, `/users/@me/guilds` (`after`, `limit`),
//! `/guilds/{id}` (with `roles`, permissions as decimal strings), `/guilds/{id}/channels`
//! (`type`, `permission_overwrites`, `last_message_id`), `/guilds/{id}/members/{user}`,
//! `/guilds/{id}/threads/active` (`{"threads", "members"}`),
//! `/channels/{id}/threads/archived/public` (`before` ISO8601, `limit`; newest archived
//! first; `has_more`), `/channels/{id}`, `/channels/{id}/messages` (`after`, `limit` ≤ 100:
//! the messages right after the snowflake, newest first); the per-route headers
//! `X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket`; error bodies
//! `{"message": "Unknown Guild", "code": 10004}` and `{"message": "401: Unauthorized", "code": 0}`.
#![allow(clippy::unwrap_used, dead_code)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const TOKEN: &str = "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.q7dZhLmPq2vWsYb9nExample";
pub(crate) const GUILD: &str = "81384788765712384";
pub(crate) const BOT: &str = "1098765432100000001";
pub(crate) const OWNER: &str = "80351110224678912";
pub(crate) const STAFF_ROLE: &str = "41771983423143936";
/// `VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | CONNECT`.
pub(crate) const MEMBER_PERMS: u64 = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 20);
pub(crate) const VIEW: u64 = 1 << 10;

pub(crate) const GENERAL: &str = "1001000000000000001";
pub(crate) const STAFF: &str = "1001000000000000002";
pub(crate) const SECRET: &str = "1001000000000000003";
pub(crate) const FORUM: &str = "1001000000000000004";
pub(crate) const VOICE: &str = "1001000000000000005";

/// 2025-03-01 at `hour`:`minute` UTC.
pub(crate) fn time(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
        + chrono::TimeDelta::hours(i64::from(hour))
        + chrono::TimeDelta::minutes(i64::from(minute))
}

/// The snowflake made at `t` (worker 1, increment `seq`).
pub(crate) fn snowflake(t: DateTime<Utc>, seq: u64) -> u64 {
    let ms = u64::try_from(t.timestamp_millis() - 1_420_070_400_000).unwrap();
    (ms << 22) | (1 << 17) | seq
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

#[derive(Clone, Debug)]
pub(crate) struct Msg {
    pub(crate) id: u64,
    pub(crate) author: &'static str,
    pub(crate) content: String,
    pub(crate) kind: u8,
    pub(crate) at: DateTime<Utc>,
    pub(crate) edited: Option<DateTime<Utc>>,
    pub(crate) malformed: bool,
    pub(crate) starts_thread: Option<(u64, &'static str)>,
    /// The message a thread's starter (`type` 21) was started from, or a reply (19) answers.
    pub(crate) started_from: Option<(&'static str, Box<Msg>)>,
}

impl Msg {
    pub(crate) fn new(at: DateTime<Utc>, seq: u64, author: &'static str, content: &str) -> Self {
        Self {
            id: snowflake(at, seq),
            author,
            content: content.to_owned(),
            kind: 0,
            at,
            edited: None,
            malformed: false,
            starts_thread: None,
            started_from: None,
        }
    }

    fn json(&self, channel: &str) -> Value {
        let mut v = json!({
            "id": self.id.to_string(), "type": self.kind, "channel_id": channel,
            "author": {"id": format!("{}", 100 + self.author.len()), "username": self.author.to_lowercase(),
                        "discriminator": "0", "global_name": self.author, "avatar": null},
            "content": self.content,
            "timestamp": iso(self.at),
            "edited_timestamp": self.edited.map(iso),
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "flags": 0, "components": []
        });
        // Discord lists the users the text mentions (`<@id>`, `<@!id>`) with their names.
        let mentioned: Vec<Value> = self
            .content
            .split("<@")
            .skip(1)
            .filter_map(|rest| {
                let id: String = rest
                    .trim_start_matches('!')
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let name = match id.as_str() {
                    "103" => "Bob",
                    "105" => "Alice",
                    _ => return None,
                };
                Some(json!({"id": id, "username": name.to_lowercase(), "discriminator": "0", "global_name": name, "avatar": null}))
            })
            .collect();
        v["mentions"] = json!(mentioned);
        if self.content.contains("build failed") {
            v["embeds"] = json!([{"type": "rich", "title": "Build #42 failed", "url": "https://ci.acme.test/42",
                "description": format!("Details in <#{STAFF}>"), "color": 15158332,
                "fields": [{"name": "Branch", "value": "`main`", "inline": true},
                           {"name": "Failed step", "value": "cargo test", "inline": true}]}]);
        }
        if self.content.contains("report.pdf") {
            v["attachments"] = json!([{"id": "1", "filename": "report.pdf", "size": 2048,
                "url": "https://cdn.discordapp.com/attachments/1/2/report.pdf",
                "proxy_url": "https://media.discordapp.net/attachments/1/2/report.pdf", "content_type": "application/pdf"}]);
        }
        if let Some((id, name)) = self.starts_thread {
            v["thread"] =
                json!({"id": id.to_string(), "type": 11, "name": name, "parent_id": channel});
        }
        if let Some((parent, from)) = &self.started_from {
            v["referenced_message"] = from.json(parent);
            v["message_reference"] = json!({"type": 0, "message_id": from.id.to_string(), "channel_id": parent, "guild_id": GUILD});
        }
        if self.malformed {
            v["timestamp"] = json!("not a time");
        }
        v
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Thread {
    pub(crate) id: u64,
    pub(crate) parent: &'static str,
    pub(crate) name: &'static str,
    pub(crate) kind: u8,
    pub(crate) archived_at: Option<DateTime<Utc>>,
    pub(crate) messages: Vec<Msg>,
}

impl Thread {
    fn json(&self) -> Value {
        let last = self.messages.iter().map(|m| m.id).max();
        json!({
            "id": self.id.to_string(), "type": self.kind, "guild_id": GUILD, "parent_id": self.parent,
            "owner_id": "105", "name": self.name, "last_message_id": last.map(|l| l.to_string()),
            "message_count": self.messages.len(), "member_count": 2, "rate_limit_per_user": 0,
            "flags": 0, "total_message_sent": self.messages.len(),
            "thread_metadata": {
                "archived": self.archived_at.is_some(), "auto_archive_duration": 1440,
                "archive_timestamp": iso(self.archived_at.unwrap_or(time(0, 0))), "locked": false
            }
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Chan {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) kind: u8,
    pub(crate) overwrites: Value,
    pub(crate) messages: Vec<Msg>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) channels: Vec<Chan>,
    pub(crate) threads: Vec<Thread>,
    pub(crate) bot_roles: Vec<&'static str>,
    /// Archived threads per page at most (Discord's `limit` is a maximum).
    pub(crate) archived_page: usize,
    /// Answers of the messages route say the route is spent for this long; a request before
    /// it resets is answered `429`.
    pub(crate) spent_for: Option<Duration>,
    pub(crate) spent_until: HashMap<String, Instant>,
    /// `after` values asked of each channel's messages.
    pub(crate) afters: HashMap<String, Vec<u64>>,
    pub(crate) requests: Vec<String>,
    /// `GET /applications/@me`'s `flags`.
    pub(crate) app_flags: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct DiscordApi {
    pub(crate) state: Arc<Mutex<State>>,
}

/// The standard server: `#general` (open, messages at hours 1–6, a join notice, a thread
/// started at 3:00), `#staff-only` (the staff role and the bot, which has it), `#secret`
/// (nobody but the owner: left out), a forum with an archived post, a voice channel, a
/// private thread (left out).
pub(crate) fn standard() -> DiscordApi {
    let deny_everyone = json!({"id": GUILD, "type": 0, "allow": "0", "deny": VIEW.to_string()});
    let mut general = Vec::new();
    for h in 1..=6 {
        general.push(Msg::new(
            time(h, 5),
            0,
            "Alice",
            &format!("Status at {h}:05: all green"),
        ));
        general.push(Msg::new(
            time(h, 35),
            0,
            "Bob",
            &format!("Ack {h}:35 *noted*"),
        ));
    }
    let mut join = Msg::new(time(4, 1), 0, "Carol", "");
    join.kind = 7;
    general.push(join);
    let thread_id = snowflake(time(3, 0), 0);
    let mut starter = Msg::new(time(3, 0), 0, "Alice", "Release planning, see report.pdf");
    starter.id = thread_id;
    starter.starts_thread = Some((thread_id, "release-plan"));
    // The thread's first message is its starter, holding the channel message.
    let mut starter_copy = Msg::new(time(3, 0), 1, "Alice", "");
    starter_copy.kind = 21;
    starter_copy.started_from = Some((GENERAL, Box::new(starter.clone())));
    general.push(starter);
    general.sort_by_key(|m| m.id);
    let forum_post = snowflake(time(5, 0), 0);
    let mut first = Msg::new(time(5, 0), 0, "Dave", "How do I reset my token?");
    first.id = forum_post;
    let state = State {
        channels: vec![
            Chan {
                id: GENERAL,
                name: "general",
                kind: 0,
                overwrites: json!([]),
                messages: general,
            },
            Chan {
                id: STAFF,
                name: "staff-only",
                kind: 0,
                overwrites: json!([deny_everyone, {"id": STAFF_ROLE, "type": 0, "allow": VIEW.to_string(), "deny": "0"}]),
                messages: vec![Msg::new(time(2, 10), 0, "Erin", "Staff sync notes")],
            },
            Chan {
                id: SECRET,
                name: "secret",
                kind: 0,
                overwrites: json!([deny_everyone]),
                messages: vec![Msg::new(time(2, 20), 0, "Owner", "hidden")],
            },
            Chan {
                id: FORUM,
                name: "help-forum",
                kind: 15,
                overwrites: json!([]),
                messages: Vec::new(),
            },
            Chan {
                id: VOICE,
                name: "Lounge",
                kind: 2,
                overwrites: json!([]),
                messages: Vec::new(),
            },
        ],
        threads: vec![
            Thread {
                id: thread_id,
                parent: GENERAL,
                name: "release-plan",
                kind: 11,
                archived_at: None,
                messages: vec![
                    starter_copy,
                    Msg::new(time(3, 10), 0, "Bob", "Ship on Friday?"),
                    Msg::new(time(3, 20), 0, "Alice", "Friday it is."),
                ],
            },
            Thread {
                id: forum_post,
                parent: FORUM,
                name: "Token reset",
                kind: 11,
                archived_at: Some(time(5, 30)),
                messages: vec![
                    first,
                    Msg::new(
                        time(5, 10),
                        0,
                        "Erin",
                        "Developer Portal → Bot → Reset Token.",
                    ),
                ],
            },
            Thread {
                id: snowflake(time(4, 0), 9),
                parent: GENERAL,
                name: "private",
                kind: 12,
                archived_at: None,
                messages: vec![Msg::new(time(4, 5), 0, "Bob", "private words")],
            },
        ],
        bot_roles: vec![STAFF_ROLE],
        archived_page: 100,
        // GATEWAY_MESSAGE_CONTENT_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED
        app_flags: (1 << 19) | (1 << 15),
        ..State::default()
    };
    DiscordApi {
        state: Arc::new(Mutex::new(state)),
    }
}

fn error(status: u16, message: &str, code: u64) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"message": message, "code": code}))
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl DiscordApi {
    fn guild(&self) -> Value {
        json!({
            "id": GUILD, "name": "Acme", "icon": null, "owner_id": OWNER, "afk_channel_id": null,
            "verification_level": 1, "default_message_notifications": 0, "explicit_content_filter": 0,
            "features": [], "mfa_level": 0, "system_channel_id": GENERAL, "premium_tier": 0,
            "roles": [
                {"id": GUILD, "name": "@everyone", "color": 0, "hoist": false, "position": 0,
                 "permissions": MEMBER_PERMS.to_string(), "managed": false, "mentionable": false},
                {"id": STAFF_ROLE, "name": "staff", "color": 3447003, "hoist": true, "position": 1,
                 "permissions": "0", "managed": false, "mentionable": true}
            ]
        })
    }

    fn channel_json(c: &Chan) -> Value {
        json!({
            "id": c.id, "type": c.kind, "guild_id": GUILD, "position": 0, "name": c.name,
            "topic": null, "nsfw": false, "parent_id": null, "rate_limit_per_user": 0,
            "last_message_id": c.messages.iter().map(|m| m.id).max().map(|l| l.to_string()),
            "permission_overwrites": c.overwrites,
        })
    }

    fn messages(&self, st: &mut State, channel: &str, req: &Request) -> ResponseTemplate {
        let after: u64 = query(req, "after")
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        let limit: usize = query(req, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(50)
            .min(100);
        st.afters.entry(channel.to_owned()).or_default().push(after);
        let msgs: Vec<Msg> = if let Some(c) = st.channels.iter().find(|c| c.id == channel) {
            c.messages.clone()
        } else if let Some(t) = st.threads.iter().find(|t| t.id.to_string() == channel) {
            t.messages.clone()
        } else {
            return error(404, "Unknown Channel", 10003);
        };
        let mut page: Vec<&Msg> = msgs.iter().filter(|m| m.id > after).collect();
        page.sort_by_key(|m| m.id);
        page.truncate(limit);
        page.reverse();
        let body: Vec<Value> = page.iter().map(|m| m.json(channel)).collect();
        let mut resp = ResponseTemplate::new(200)
            .set_body_json(body)
            .insert_header("x-ratelimit-limit", "5")
            .insert_header("x-ratelimit-bucket", "abcd1234")
            .insert_header("x-ratelimit-reset", "1740800000.123");
        match st.spent_for {
            Some(d) => {
                let route = format!("messages:{channel}");
                if st
                    .spent_until
                    .get(&route)
                    .is_some_and(|u| Instant::now() < *u)
                {
                    return ResponseTemplate::new(429)
                        .insert_header("retry-after", "1")
                        .insert_header("x-ratelimit-scope", "user")
                        .set_body_json(json!({"message": "You are being rate limited.", "retry_after": d.as_secs_f64(), "global": false}));
                }
                st.spent_until.insert(route, Instant::now() + d);
                resp = resp
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header(
                        "x-ratelimit-reset-after",
                        format!("{:.3}", d.as_secs_f64()).as_str(),
                    );
            }
            None => {
                resp = resp
                    .insert_header("x-ratelimit-remaining", "4")
                    .insert_header("x-ratelimit-reset-after", "1.000");
            }
        }
        resp
    }
}

impl Respond for DiscordApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bot {TOKEN}")) {
            return error(401, "401: Unauthorized", 0);
        }
        let mut st = self.state.lock().unwrap();
        let path = req.url.path().trim_start_matches("/api/v10").to_owned();
        st.requests
            .push(format!("{path}?{}", req.url.query().unwrap_or("")));
        let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
        match seg.as_slice() {
            ["users", "@me"] => ResponseTemplate::new(200).set_body_json(json!({
                "id": BOT, "username": "ragbot", "discriminator": "0", "global_name": null,
                "avatar": null, "bot": true, "flags": 0
            })),
            ["applications", "@me"] => ResponseTemplate::new(200).set_body_json(json!({
                "id": BOT, "name": "ragbot", "icon": null, "description": "", "bot_public": true,
                "bot_require_code_grant": false, "verify_key": "1e0a356058d627ca38a5c8c9648818061d49e49bd9da9e3ab17d98ad4d6bg2u8",
                "team": null, "flags": st.app_flags
            })),
            ["users", "@me", "guilds"] => {
                let after: u64 = query(req, "after")
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                let guilds: Vec<Value> = [GUILD]
                    .iter()
                    .filter(|g| g.parse::<u64>().unwrap() > after)
                    .map(|g| json!({"id": g, "name": "Acme", "icon": null, "owner": false, "permissions": MEMBER_PERMS.to_string(), "features": []}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(guilds)
            }
            ["guilds", GUILD] => ResponseTemplate::new(200).set_body_json(self.guild()),
            ["guilds", _] | ["guilds", _, ..] if seg[1] != GUILD => {
                error(404, "Unknown Guild", 10004)
            }
            ["guilds", _, "channels"] => {
                let v: Vec<Value> = st.channels.iter().map(Self::channel_json).collect();
                ResponseTemplate::new(200).set_body_json(v)
            }
            ["guilds", _, "members", user] => {
                if *user != BOT {
                    return error(404, "Unknown Member", 10007);
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "user": {"id": BOT, "username": "ragbot", "discriminator": "0", "bot": true},
                    "nick": null, "roles": st.bot_roles, "joined_at": "2024-01-01T00:00:00.000000+00:00",
                    "deaf": false, "mute": false, "flags": 0
                }))
            }
            ["guilds", _, "threads", "active"] => {
                let threads: Vec<Value> = st
                    .threads
                    .iter()
                    .filter(|t| t.archived_at.is_none())
                    .map(Thread::json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"threads": threads, "members": []}))
            }
            ["channels", channel, "threads", "archived", "public"] => {
                let before = query(req, "before")
                    .and_then(|b| DateTime::parse_from_rfc3339(&b).ok())
                    .map(|b| b.to_utc());
                let limit: usize = query(req, "limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(50);
                let mut archived: Vec<&Thread> = st
                    .threads
                    .iter()
                    .filter(|t| t.parent == *channel && matches!(t.kind, 10 | 11))
                    .filter(|t| t.archived_at.is_some_and(|a| before.is_none_or(|b| a < b)))
                    .collect();
                archived.sort_by_key(|t| std::cmp::Reverse(t.archived_at));
                let page = limit.min(st.archived_page);
                let has_more = archived.len() > page;
                archived.truncate(page);
                let threads: Vec<Value> = archived.iter().map(|t| t.json()).collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"threads": threads, "members": [], "has_more": has_more}))
            }
            ["channels", channel, "messages"] => {
                let channel = (*channel).to_owned();
                self.messages(&mut st, &channel, req)
            }
            ["channels", channel] => {
                if let Some(t) = st.threads.iter().find(|t| t.id.to_string() == *channel) {
                    return ResponseTemplate::new(200).set_body_json(t.json());
                }
                match st.channels.iter().find(|c| c.id == *channel) {
                    Some(c) => ResponseTemplate::new(200).set_body_json(Self::channel_json(c)),
                    None => error(404, "Unknown Channel", 10003),
                }
            }
            _ => error(404, "404: Not Found", 0),
        }
    }
}

pub(crate) async fn start(api: DiscordApi) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(api)
        .mount(&server)
        .await;
    server
}

pub(crate) fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "server_ids": [GUILD],
        "credentials": {"discord_bot_token": TOKEN},
        "base_url": format!("{uri}/api/v10"),
        "allowed_hosts": ["127.0.0.1"],
        "bucket_hours": 1,
        "edit_lookback_hours": 0,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
}

pub(crate) fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build("discord", config(uri, extra))
        .expect("a valid config")
}

/// The bucket id of `channel` for the hour `hour` (with `bucket_hours: 1`).
pub(crate) fn bucket(channel: &str, hour: u32) -> String {
    format!(
        "discord:{GUILD}:{channel}:{}:1h",
        time(hour, 0).format("%Y%m%dT%H%MZ")
    )
}

pub(crate) fn thread(id: u64) -> String {
    format!("discord:{GUILD}:{id}")
}
