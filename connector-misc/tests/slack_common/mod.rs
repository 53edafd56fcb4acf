//! A wiremock Slack written from the Web API reference (docs.slack.dev/reference/methods):
//! `auth.test`, `conversations.list` (`types`, `exclude_archived`, `limit`, `cursor`),
//! `conversations.history` (newest first, `oldest`/`latest`/`inclusive`, parents with
//! `reply_count`/`latest_reply`, `thread_broadcast` replies), `conversations.replies`,
//! `conversations.members`, `conversations.join`, `users.info`; every answer HTTP 200 with
//! `ok`, paged by `response_metadata.next_cursor` (`""` after the last page), errors as
//! `{"ok": false, "error": …}`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";
pub const TEAM: &str = "T012AB3C4";
pub const WORKSPACE: &str = "https://acme.slack.com/";

/// Day `d` of January 2026, 10:00 UTC, plus `secs`.
pub fn at(d: u32, secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, d, 10, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
}

/// The Slack `ts` of a time (microseconds; the fake's messages are whole seconds plus a
/// counter so every `ts` is unique in a channel).
pub fn ts(t: DateTime<Utc>, n: u32) -> String {
    format!("{}.{:06}", t.timestamp(), n)
}

#[derive(Clone, Debug)]
pub struct Msg {
    pub ts: String,
    pub user: Option<String>,
    pub text: String,
    /// The parent's `ts` for a reply.
    pub parent: Option<String>,
    pub subtype: Option<String>,
    pub bot_id: Option<String>,
    /// A reply also sent to the channel.
    pub broadcast: bool,
    /// Served with `text` of the wrong type.
    pub broken: bool,
    /// `edited.ts` of an edited message.
    pub edited: Option<String>,
}

impl Msg {
    pub fn new(ts: &str, user: &str, text: &str) -> Self {
        Self {
            ts: ts.to_owned(),
            user: Some(user.to_owned()),
            text: text.to_owned(),
            parent: None,
            subtype: None,
            bot_id: None,
            broadcast: false,
            broken: false,
            edited: None,
        }
    }

    pub fn reply(parent: &str, ts: &str, user: &str, text: &str) -> Self {
        Self {
            parent: Some(parent.to_owned()),
            ..Self::new(ts, user, text)
        }
    }
}

#[derive(Clone, Debug)]
pub struct Chan {
    pub id: String,
    pub name: String,
    pub private: bool,
    pub member: bool,
    pub members: Vec<String>,
    pub messages: Vec<Msg>,
    /// The workspace it lives in (Enterprise Grid).
    pub team: String,
    /// Shared with another organisation (Slack Connect).
    pub ext_shared: bool,
    /// The Grid workspaces it is shared into.
    pub shared_team_ids: Vec<String>,
}

impl Chan {
    pub fn new(id: &str, name: &str, private: bool, messages: Vec<Msg>) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            private,
            member: true,
            members: vec!["U01ANA".into(), "U02BEN".into()],
            messages,
            team: TEAM.to_owned(),
            ext_shared: false,
            shared_team_ids: Vec::new(),
        }
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "id": self.id, "name": self.name, "is_channel": !self.private, "is_group": self.private,
            "is_im": false, "is_mpim": false, "is_private": self.private, "created": 1449252889,
            "is_archived": false, "is_general": self.name == "general", "unlinked": 0,
            "name_normalized": self.name, "is_shared": self.ext_shared || !self.shared_team_ids.is_empty(),
            "is_org_shared": !self.shared_team_ids.is_empty(),
            "is_member": self.member, "is_ext_shared": self.ext_shared, "is_pending_ext_shared": false,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": format!("The #{} channel", self.name), "creator": "", "last_set": 0},
            "previous_names": [], "num_members": self.members.len(),
        });
        if !self.shared_team_ids.is_empty() {
            v["shared_team_ids"] = json!(self.shared_team_ids);
        }
        v
    }

    fn replies_of(&self, parent: &str) -> Vec<&Msg> {
        let mut r: Vec<&Msg> = self
            .messages
            .iter()
            .filter(|m| m.parent.as_deref() == Some(parent))
            .collect();
        r.sort_by(|a, b| a.ts.cmp(&b.ts));
        r
    }

    fn msg_json(&self, m: &Msg, in_history: bool) -> Value {
        let mut v = json!({"type": "message", "ts": m.ts, "text": m.text});
        if let Some(u) = &m.user {
            v["user"] = json!(u);
        }
        if let Some(s) = &m.subtype {
            v["subtype"] = json!(s);
        }
        if let Some(b) = &m.bot_id {
            v["bot_id"] = json!(b);
            v["bot_profile"] =
                json!({"id": "B0BOT", "name": "deploybot", "deleted": false, "team_id": TEAM});
        }
        if let Some(p) = &m.parent {
            v["thread_ts"] = json!(p);
            v["parent_user_id"] = json!("U01ANA");
            if m.broadcast {
                v["subtype"] = json!("thread_broadcast");
            }
        } else {
            let replies = self.replies_of(&m.ts);
            if !replies.is_empty() {
                v["thread_ts"] = json!(m.ts);
                v["reply_count"] = json!(replies.len());
                v["reply_users_count"] = json!(1);
                v["latest_reply"] = json!(replies.last().unwrap().ts);
                v["reply_users"] = json!([replies[0].user]);
                v["is_locked"] = json!(false);
                v["subscribed"] = json!(false);
            }
        }
        if let Some(e) = &m.edited {
            v["edited"] = json!({"user": m.user, "ts": e});
        }
        if m.broken {
            v["text"] = json!(12);
        }
        let _ = in_history;
        v
    }
}

#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub email: Option<String>,
}

/// An answer given once: status, headers, body.
pub type Canned = (u16, Vec<(String, String)>, Value);

/// The fake's state, shared with the tests (which change it between requests).
#[derive(Debug, Default)]
pub struct State {
    pub channels: Vec<Chan>,
    pub users: Vec<Person>,
    /// Channels per `conversations.list` page (Slack's `limit` is a maximum).
    pub channels_per_page: usize,
    /// Answers to give once, before the normal one, per method: (status, headers, body).
    pub once: BTreeMap<String, Vec<Canned>>,
    /// Answers to give always, per method.
    pub always: BTreeMap<String, Value>,
    /// Methods asked, in order, with their query.
    pub log: Vec<(String, BTreeMap<String, String>)>,
}

#[derive(Clone)]
struct FakeSlack(Arc<Mutex<State>>);

/// One answer of the fake: status, headers, JSON body as sent.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: v.to_string(),
        }
    }

    fn template(self) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(self.status)
            .set_body_raw(self.body, "application/json; charset=utf-8");
        for (k, v) in self.headers {
            t = t.insert_header(k.as_str(), v.as_str());
        }
        t
    }
}

fn ok(mut v: Value) -> Reply {
    v["ok"] = json!(true);
    // Slack writes `ok` first.
    let mut text = String::from("{\"ok\":true");
    if let Value::Object(m) = &v {
        for (k, val) in m {
            if k != "ok" {
                text.push_str(&format!(",{}:{}", json!(k), val));
            }
        }
    }
    text.push('}');
    Reply {
        status: 200,
        headers: Vec::new(),
        body: text,
    }
}

fn err(error: &str) -> Reply {
    Reply::json(200, &slack_error(error))
}

pub fn slack_error(error: &str) -> Value {
    json!({"ok": false, "error": error})
}

fn params(r: &Request) -> BTreeMap<String, String> {
    let mut q: BTreeMap<String, String> = r.url.query_pairs().into_owned().collect();
    if r.method.as_str() == "POST" {
        q.extend(url::form_urlencoded::parse(&r.body).into_owned());
    }
    q
}

/// A page of `items` from the cursor's index, `limit` long, and the cursor after it.
fn page<T: Clone>(items: &[T], q: &BTreeMap<String, String>, default: usize) -> (Vec<T>, String) {
    let from: usize = q
        .get("cursor")
        .and_then(|c| c.strip_prefix("dXNlcjpV"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default)
        .max(1);
    let end = (from + limit).min(items.len());
    let next = if end < items.len() {
        format!("dXNlcjpV{end}")
    } else {
        String::new()
    };
    (items[from.min(end)..end].to_vec(), next)
}

fn meta(next: String) -> Value {
    json!({"next_cursor": next})
}

impl Respond for FakeSlack {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let method = r.url.path().rsplit('/').next().unwrap_or("").to_owned();
        let q = params(r);
        let auth = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        answer(&mut self.0.lock().unwrap(), &method, q, auth).template()
    }
}

/// The fake's answer to `method` with the query (and form) `q`.
pub fn answer(st: &mut State, method: &str, q: BTreeMap<String, String>, auth: &str) -> Reply {
    let method = method.to_owned();
    {
        st.log.push((method.clone(), q.clone()));
        if auth != format!("Bearer {TOKEN}") {
            return err("not_authed");
        }
        if let Some(queue) = st.once.get_mut(&method)
            && !queue.is_empty()
        {
            let (status, headers, body) = queue.remove(0);
            let mut reply = Reply::json(status, &body);
            reply.headers = headers;
            return reply;
        }
        if let Some(body) = st.always.get(&method) {
            return Reply::json(200, body);
        }
        let channel = q
            .get("channel")
            .and_then(|id| st.channels.iter().find(|c| &c.id == id))
            .cloned();
        match method.as_str() {
            "auth.test" => ok(json!({
                "url": WORKSPACE, "team": "Acme", "user": "ragbot", "team_id": TEAM,
                "user_id": "U0BOTUSER", "bot_id": "B0BOT", "is_enterprise_install": false,
            })),
            "conversations.list" => {
                let types = q.get("types").cloned().unwrap_or_default();
                let all: Vec<Value> = st
                    .channels
                    .iter()
                    .filter(|c| {
                        if c.private {
                            types.contains("private_channel") && c.member
                        } else {
                            types.contains("public_channel")
                        }
                    })
                    // An org-wide install names the workspace; Slack says which it listed.
                    .filter(|c| q.get("team_id").is_none_or(|t| *t == c.team))
                    .map(|c| {
                        let mut v = c.json();
                        if q.contains_key("team_id") {
                            v["context_team_id"] = json!(c.team);
                        }
                        v
                    })
                    .collect();
                let per = st.channels_per_page.max(1);
                let mut q2 = q;
                q2.insert("limit".into(), per.to_string());
                let (items, next) = page(&all, &q2, per);
                ok(json!({"channels": items, "response_metadata": meta(next)}))
            }
            "auth.teams.list" => {
                let mut teams: Vec<String> = st.channels.iter().map(|c| c.team.clone()).collect();
                teams.sort();
                teams.dedup();
                let all: Vec<Value> = teams
                    .iter()
                    .map(|t| json!({"id": t, "name": format!("Acme {t}")}))
                    .collect();
                let (items, next) = page(&all, &q, 100);
                ok(json!({"teams": items, "response_metadata": meta(next)}))
            }
            "conversations.info" => match channel {
                Some(c) => ok(json!({"channel": c.json()})),
                None => err("channel_not_found"),
            },
            "conversations.join" => {
                let id = q.get("channel").cloned().unwrap_or_default();
                match st.channels.iter_mut().find(|c| c.id == id) {
                    Some(c) => {
                        c.member = true;
                        ok(json!({"channel": c.json(), "warning": "already_in_channel"}))
                    }
                    None => err("channel_not_found"),
                }
            }
            "conversations.members" => match channel {
                Some(c) => {
                    let (items, next) = page(&c.members, &q, 100);
                    ok(json!({"members": items, "response_metadata": meta(next)}))
                }
                None => err("channel_not_found"),
            },
            "conversations.history" => {
                let Some(c) = channel else {
                    return err("channel_not_found");
                };
                if !c.member {
                    return err("not_in_channel");
                }
                let inclusive = q.get("inclusive").is_some_and(|v| v == "true" || v == "1");
                let num = |s: &str| s.parse::<f64>().unwrap_or(0.0);
                let oldest = q.get("oldest").map(|s| num(s));
                let latest = q.get("latest").map(|s| num(s));
                let mut top: Vec<&Msg> = c
                    .messages
                    .iter()
                    .filter(|m| m.parent.is_none() || m.broadcast)
                    .filter(|m| {
                        let t = num(&m.ts);
                        oldest.is_none_or(|o| if inclusive { t >= o } else { t > o })
                            && latest.is_none_or(|l| if inclusive { t <= l } else { t < l })
                    })
                    .collect();
                top.sort_by(|a, b| b.ts.cmp(&a.ts));
                let all: Vec<Value> = top.iter().map(|m| c.msg_json(m, true)).collect();
                let (items, next) = page(&all, &q, 100);
                let has_more = !next.is_empty();
                ok(json!({
                    "messages": items, "has_more": has_more, "pin_count": 0,
                    "channel_actions_ts": null, "channel_actions_count": 0,
                    "response_metadata": meta(next),
                }))
            }
            "conversations.replies" => {
                let Some(c) = channel else {
                    return err("channel_not_found");
                };
                let ts = q.get("ts").cloned().unwrap_or_default();
                let Some(parent) = c.messages.iter().find(|m| m.ts == ts && m.parent.is_none())
                else {
                    return err("thread_not_found");
                };
                let replies: Vec<Value> = c
                    .replies_of(&ts)
                    .into_iter()
                    .map(|m| c.msg_json(m, false))
                    .collect();
                // Slack repeats the parent at the head of every page.
                let (page_replies, next) = page(&replies, &q, 1000);
                let mut items = vec![c.msg_json(parent, false)];
                items.extend(page_replies);
                let has_more = !next.is_empty();
                ok(
                    json!({"messages": items, "has_more": has_more, "response_metadata": meta(next)}),
                )
            }
            "users.info" => {
                let id = q.get("user").cloned().unwrap_or_default();
                match st.users.iter().find(|u| u.id == id) {
                    Some(u) => ok(json!({"user": {
                        "id": u.id, "team_id": TEAM, "name": u.name, "deleted": false,
                        "real_name": u.real_name, "tz": "Europe/Lisbon", "is_bot": false,
                        "profile": {"real_name": u.real_name, "display_name": u.name,
                            "email": u.email, "image_48": "https://a.slack-edge.com/48.png"},
                        "updated": 1502138686,
                    }})),
                    None => err("user_not_found"),
                }
            }
            _ => err("unknown_method"),
        }
    }
}

/// The standard workspace: #general (public) with a thread of three, a join notice, a lone
/// message with a link and a bot's message; #eng (private) with a lone message and a
/// thread.
pub fn standard() -> State {
    let g1 = ts(at(1, 0), 1);
    let e2 = ts(at(6, 0), 6);
    State {
        channels: vec![
            Chan::new(
                "C01GENERAL",
                "general",
                false,
                vec![
                    Msg::new(
                        &g1,
                        "U01ANA",
                        "Welcome *everyone* to <#C02ENG|eng>! Ask <@U02BEN> for access.",
                    ),
                    Msg::reply(&g1, &ts(at(2, 0), 2), "U02BEN", "Thanks <@U01ANA> :wave:"),
                    Msg::reply(
                        &g1,
                        &ts(at(3, 0), 3),
                        "U01ANA",
                        "Runbook: <https://wiki.acme.test/run?a=1&amp;b=2|the _runbook_>",
                    ),
                    Msg {
                        subtype: Some("channel_join".into()),
                        ..Msg::new(
                            &ts(at(2, 100), 4),
                            "U03CAT",
                            "<@U03CAT> has joined the channel",
                        )
                    },
                    Msg::new(
                        &ts(at(4, 0), 5),
                        "U02BEN",
                        "Deploy at 5pm, see <https://deploy.acme.test>",
                    ),
                    Msg {
                        bot_id: Some("B0BOT".into()),
                        user: None,
                        ..Msg::new(&ts(at(5, 0), 7), "", "Build #42 passed")
                    },
                ],
            ),
            Chan::new(
                "C02ENG",
                "eng",
                true,
                vec![
                    Msg::new(&ts(at(1, 50), 8), "U02BEN", "Lunch?"),
                    Msg::new(
                        &e2,
                        "U01ANA",
                        "Standup notes:\n&gt; ship it\n```cargo test```",
                    ),
                    Msg::reply(&e2, &ts(at(6, 3600), 9), "U02BEN", "~maybe~ *yes*"),
                ],
            ),
        ],
        users: vec![
            Person {
                id: "U01ANA".into(),
                name: "ana".into(),
                real_name: "Ana Lima".into(),
                email: Some("ana@acme.test".into()),
            },
            Person {
                id: "U02BEN".into(),
                name: "ben".into(),
                real_name: "Ben Okafor".into(),
                email: None,
            },
        ],
        channels_per_page: 1,
        ..State::default()
    }
}

pub struct Fake {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
}

impl Fake {
    pub async fn start(state: State) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(state));
        Mock::given(any())
            .respond_with(FakeSlack(Arc::clone(&state)))
            .mount(&server)
            .await;
        Self { server, state }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// How many times `method` was asked.
    pub fn count(&self, method: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(m, _)| m == method)
            .count()
    }

    /// The queries `method` was asked with.
    pub fn queries(&self, method: &str) -> Vec<BTreeMap<String, String>> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, q)| q.clone())
            .collect()
    }
}

pub fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "credentials": {"slack_bot_token": TOKEN},
        "base_url": format!("{uri}/api"),
        "page_size": 2,
        "tier2_requests_per_minute": 100000,
        "tier3_requests_per_minute": 100000,
        "tier4_requests_per_minute": 100000,
        "allowed_hosts": ["127.0.0.1"],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
}

pub fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build("slack", config(uri, extra))
        .expect("a valid config")
}

/// The document id of the thread `ts` of `channel`.
pub fn id(channel: &str, ts: &str) -> String {
    format!("{channel}__{ts}")
}

/// The fake served from a task of the calling runtime (plain HTTP/1.1 with keep-alive), for
/// tests on a paused clock: a server on another thread (wiremock's) answers after the
/// runtime, idle, has moved its paused clock to the next timer (a request's timeout).
pub async fn serve_here(state: State) -> (String, Arc<Mutex<State>>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(state));
    let shared = Arc::clone(&state);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let state = Arc::clone(&shared);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (mut auth, mut length) = (String::new(), 0usize);
                    loop {
                        let mut h = String::new();
                        if read.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            match k.trim().to_ascii_lowercase().as_str() {
                                "authorization" => auth = v.trim().to_owned(),
                                "content-length" => length = v.trim().parse().unwrap_or(0),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if read.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let url = url::Url::parse(&format!("http://{addr}{target}")).unwrap();
                    let method = url.path().rsplit('/').next().unwrap_or("").to_owned();
                    let mut q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
                    q.extend(url::form_urlencoded::parse(&body).into_owned());
                    let reply = answer(&mut state.lock().unwrap(), &method, q, &auth);
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    if write.write_all(head.as_bytes()).await.is_err()
                        || write.write_all(reply.body.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), state)
}
