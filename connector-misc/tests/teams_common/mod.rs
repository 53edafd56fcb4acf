//! A fake Microsoft Graph for the Teams tests, in Graph's wire format: the token endpoint,
//! `/teams`, channels, team and channel members, channel messages (`$top`, `$expand=replies`
//! with `replies@odata.nextLink` past a cap, `@odata.nextLink` pages), the channel message
//! delta (`$filter=lastModifiedDateTime gt …` on the first request, `$skiptoken` pages, a
//! `@odata.deltaLink` whose `$deltatoken` lists the roots changed after it, `410 Gone` for an
//! expired token), single messages, replies, and `$batch`.
//!
//! As Graph does (microsoftgraph/microsoft-graph-docs#6693), a new reply changes the reply
//! only: its root's `lastModifiedDateTime` and its place in the delta stay as they were.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[path = "../graph_wire/mod.rs"]
pub mod graph_wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use connector_core::Connector;
use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub const TENANT: &str = "2432b57b-0abd-43db-aa7b-16eadd115d34";
pub const SECRET: &str = "teams-client-secret-canary";
pub const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJub25jZSI6InRlYW1zIn0.teams-access-token";

pub const ENG: &str = "fbe2bf47-16c8-47cf-b4a5-4b9b187c508b";
pub const SALES: &str = "02bd9fd6-8f93-4758-87c3-1fb73740a315";
pub const ENG_GENERAL: &str = "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2";
pub const ENG_SECRET: &str = "19:8f3c2a1b0e9d4c7a6b5f4e3d2c1b0a99@thread.tacv2";
pub const SALES_GENERAL: &str = "19:0d1f6ad1d7b34e2f9a3c5b7e8f9a0b1c@thread.tacv2";

/// Minute `n` of 2026-03-01.
pub fn time(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::minutes(n)
}

#[derive(Debug, Clone)]
pub struct Msg {
    pub team: String,
    pub channel: String,
    pub id: String,
    pub reply_to: Option<String>,
    pub author: Option<(String, String)>,
    pub content_type: String,
    pub content: String,
    pub subject: Option<String>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub edited: Option<DateTime<Utc>>,
    pub deleted: Option<DateTime<Utc>>,
    pub message_type: String,
    pub attachments: Vec<Value>,
    pub mentions: Vec<Value>,
    /// The change number of the root's last change, for the delta (replies keep 0).
    pub changed: u64,
    /// Listed with a `createdDateTime` that is not a time.
    pub malformed: bool,
}

#[derive(Debug, Default)]
pub struct State {
    /// (id, display name)
    pub teams: Vec<(String, String)>,
    /// team → (id, name, membershipType)
    pub channels: BTreeMap<String, Vec<(String, String, String)>>,
    /// team or channel id → (user id, name, email)
    pub members: BTreeMap<String, Vec<(String, String, String)>>,
    pub messages: Vec<Msg>,
    pub version: u64,
    pub page_size: usize,
    /// Replies shown inline under `$expand=replies` before `replies@odata.nextLink`.
    pub reply_cap: usize,
    /// Delta tokens answered with 410 Gone.
    pub expired: Vec<String>,
    /// Requests seen, `METHOD path`.
    pub log: Vec<String>,
    /// Answer the next N Graph requests with 429 Retry-After: 1.
    pub throttle: usize,
    /// Channel message routes answer 403 (the app lacks ChannelMessage.Read.All).
    pub messages_forbidden: bool,
    pub base: String,
    /// Hosted contents (images pasted into messages) by id: (content type, bytes).
    pub hosted: BTreeMap<String, (String, Vec<u8>)>,
}

#[derive(Clone)]
pub struct FakeGraph {
    pub state: Arc<Mutex<State>>,
}

impl FakeGraph {
    pub fn new(page_size: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                page_size,
                reply_cap: 1000,
                ..State::default()
            })),
        }
    }

    pub fn team(&self, id: &str, name: &str) {
        self.state
            .lock()
            .unwrap()
            .teams
            .push((id.to_owned(), name.to_owned()));
    }

    pub fn channel(&self, team: &str, id: &str, name: &str, membership: &str) {
        self.state
            .lock()
            .unwrap()
            .channels
            .entry(team.to_owned())
            .or_default()
            .push((id.to_owned(), name.to_owned(), membership.to_owned()));
    }

    pub fn member(&self, of: &str, user: &str, name: &str, email: &str) {
        self.state
            .lock()
            .unwrap()
            .members
            .entry(of.to_owned())
            .or_default()
            .push((user.to_owned(), name.to_owned(), email.to_owned()));
    }

    /// Posts a message at `at` (its id the epoch milliseconds, as Teams'), as a new change of
    /// its root when it is a root.
    pub fn post(
        &self,
        team: &str,
        channel: &str,
        reply_to: Option<&str>,
        author: (&str, &str),
        html: &str,
        at: DateTime<Utc>,
    ) -> String {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let changed = if reply_to.is_none() { s.version } else { 0 };
        let id = at.timestamp_millis().to_string();
        s.messages.push(Msg {
            team: team.to_owned(),
            channel: channel.to_owned(),
            id: id.clone(),
            reply_to: reply_to.map(str::to_owned),
            author: Some((author.0.to_owned(), author.1.to_owned())),
            content_type: "html".to_owned(),
            content: html.to_owned(),
            subject: None,
            created: at,
            modified: at,
            edited: None,
            deleted: None,
            message_type: "message".to_owned(),
            attachments: Vec::new(),
            mentions: Vec::new(),
            changed,
            malformed: false,
        });
        id
    }

    pub fn with<F: FnOnce(&mut Msg)>(&self, id: &str, f: F) {
        let mut s = self.state.lock().unwrap();
        let m = s.messages.iter_mut().find(|m| m.id == id).unwrap();
        f(m);
    }

    /// Edits a message at `at`: a root becomes a change the delta lists.
    pub fn edit(&self, id: &str, html: &str, at: DateTime<Utc>) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        let m = s.messages.iter_mut().find(|m| m.id == id).unwrap();
        m.content = html.to_owned();
        m.modified = at;
        m.edited = Some(at);
        if m.reply_to.is_none() {
            m.changed = v;
        }
    }

    pub fn delete(&self, id: &str, at: DateTime<Utc>) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        let m = s.messages.iter_mut().find(|m| m.id == id).unwrap();
        m.deleted = Some(at);
        m.modified = at;
        m.content = String::new();
        if m.reply_to.is_none() {
            m.changed = v;
        }
    }

    pub fn requests(&self, prefix: &str) -> usize {
        let s = self.state.lock().unwrap();
        s.log.iter().filter(|l| l.starts_with(prefix)).count()
    }

    pub async fn start(self) -> MockServer {
        let state = self.state.clone();
        graph_wire::start(self, move |uri| state.lock().unwrap().base = uri).await
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn message_json(s: &State, m: &Msg, expand: bool) -> Value {
    let root = m.reply_to.clone().unwrap_or_else(|| m.id.clone());
    let from = match &m.author {
        Some((id, name)) if m.message_type == "message" => {
            json!({"application": null, "device": null,
            "user": {"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": id, "displayName": name,
                     "userIdentityType": "aadUser", "tenantId": TENANT}})
        }
        _ => Value::Null,
    };
    let mut v = json!({
        "@odata.type": "#microsoft.graph.chatMessage",
        "id": m.id, "replyToId": m.reply_to, "etag": m.modified.timestamp_millis().to_string(),
        "messageType": m.message_type,
        "createdDateTime": stamp(m.created), "lastModifiedDateTime": stamp(m.modified),
        "lastEditedDateTime": m.edited.map(stamp), "deletedDateTime": m.deleted.map(stamp),
        "subject": m.subject, "summary": null, "chatId": null, "importance": "normal", "locale": "en-us",
        "webUrl": format!("https://teams.microsoft.com/l/message/{}/{}?groupId={}&tenantId={TENANT}&createdTime={}&parentMessageId={root}",
            m.channel.replace(':', "%3A").replace('@', "%40"), m.id, m.team, m.id),
        "policyViolation": null,
        "eventDetail": if m.message_type == "message" { Value::Null } else {
            json!({"@odata.type": "#microsoft.graph.membersAddedEventMessageDetail", "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
                   "members": [{"id": "u-carol", "displayName": null, "userIdentityType": "aadUser"}],
                   "initiator": {"application": null, "device": null, "user": {"id": "u-ada", "displayName": null, "userIdentityType": "aadUser"}}}) },
        "from": from,
        "body": {"contentType": m.content_type, "content": m.content},
        "channelIdentity": {"teamId": m.team, "channelId": m.channel},
        "attachments": m.attachments, "mentions": m.mentions, "reactions": [], "messageHistory": [],
    });
    if m.malformed {
        v["createdDateTime"] = json!("yesterday");
    }
    if expand && m.reply_to.is_none() {
        let replies = replies_of(s, m);
        let shown: Vec<Value> = replies
            .iter()
            .take(s.reply_cap)
            .map(|r| message_json(s, r, false))
            .collect();
        v["replies@odata.context"] = json!(format!(
            "https://graph.microsoft.com/v1.0/$metadata#teams('{}')/channels('{}')/messages('{}')/replies",
            m.team, m.channel, m.id
        ));
        v["replies"] = json!(shown);
        if replies.len() > s.reply_cap {
            v["replies@odata.nextLink"] = json!(format!(
                "{}/v1.0/teams/{}/channels/{}/messages/{}/replies?$skiptoken=o{}",
                s.base, m.team, m.channel, m.id, s.reply_cap
            ));
        }
    }
    v
}

/// The replies of `root`, newest first (as Teams lists them).
fn replies_of<'a>(s: &'a State, root: &Msg) -> Vec<&'a Msg> {
    let mut r: Vec<&Msg> = s
        .messages
        .iter()
        .filter(|m| m.channel == root.channel && m.reply_to.as_deref() == Some(root.id.as_str()))
        .collect();
    r.sort_by_key(|m| std::cmp::Reverse(m.created));
    r
}

fn roots_of<'a>(s: &'a State, channel: &str) -> Vec<&'a Msg> {
    let mut r: Vec<&Msg> = s
        .messages
        .iter()
        .filter(|m| m.channel == channel && m.reply_to.is_none())
        .collect();
    r.sort_by_key(|m| std::cmp::Reverse(m.created));
    r
}

fn graph_error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"code": code, "message": message,
            "innerError": {"date": "2026-03-01T00:00:00", "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2",
                           "client-request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2"}}}),
    )
}

fn query_value(query: &[(String, String)], key: &str) -> Option<String> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// A page of `items` from `offset`, with a next link built by `next` when more remain.
fn paged(items: Vec<Value>, offset: usize, size: usize, next: impl Fn(usize) -> String) -> Value {
    let end = offset + size;
    let page: Vec<Value> = items.iter().skip(offset).take(size).cloned().collect();
    let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(chatMessage)", "value": page});
    if end < items.len() {
        body["@odata.nextLink"] = json!(next(end));
    }
    body
}

impl FakeGraph {
    /// Answers one Graph request (a direct one or a member of a batch).
    fn answer(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        auth: bool,
    ) -> (u16, Value) {
        let mut s = self.state.lock().unwrap();
        s.log.push(format!("{method} {path}"));
        if !auth {
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.");
        }
        let Some(rest) = path.strip_prefix("/v1.0/") else {
            return graph_error(400, "BadRequest", "Invalid version.");
        };
        let segs: Vec<String> = rest.split('/').map(graph_wire::percent_decode).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let base = s.base.clone();
        let size = query_value(query, "$top")
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(20)
            .min(s.page_size);
        let offset = query_value(query, "$skiptoken")
            .and_then(|t| {
                t.rsplit_once('o')
                    .and_then(|(_, o)| o.parse::<usize>().ok())
            })
            .unwrap_or(0);
        if s.messages_forbidden && segs.len() > 4 && segs[4] == "messages" {
            return graph_error(
                403,
                "Forbidden",
                "Missing role permissions on the request. API requires one of 'ChannelMessage.Read.All, ChannelMessage.Read.Group, Group.Read.All, Group.ReadWrite.All'. Roles on the request 'Team.ReadBasic.All'.",
            );
        }
        match segs.as_slice() {
            ["teams"] => {
                let value: Vec<Value> = s
                    .teams
                    .iter()
                    .map(|(id, name)| json!({"id": id, "displayName": name, "description": format!("{name} team")}))
                    .collect();
                (
                    200,
                    json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#teams(id,displayName,description)", "value": value}),
                )
            }
            ["teams", team, "channels"] => match s.channels.get(*team) {
                Some(list) => {
                    let value: Vec<Value> = list
                        .iter()
                        .map(|(id, name, m)| json!({"id": id, "displayName": name, "description": null,
                            "membershipType": m, "webUrl": format!("https://teams.microsoft.com/l/channel/{id}/{name}?groupId={team}&tenantId={TENANT}")}))
                        .collect();
                    (
                        200,
                        json!({"@odata.context": "x", "@odata.count": value.len(), "value": value}),
                    )
                }
                None => graph_error(404, "NotFound", "No team found with Group Id"),
            },
            ["teams", of, "members"] | ["teams", _, "channels", of, "members" | "allMembers"] => {
                // allMembers adds a shared channel's indirect members: those of the teams it
                // is shared with (kept here under `{channel}/indirect`).
                let all = path.ends_with("/allMembers");
                let indirect = format!("{of}/indirect");
                let value: Vec<Value> = s
                    .members
                    .get(*of)
                    .into_iter()
                    .chain(all.then(|| s.members.get(&indirect)).flatten())
                    .flatten()
                    .map(|(id, name, email)| {
                        json!({"@odata.type": "#microsoft.graph.aadUserConversationMember",
                        "id": format!("MCMjMiMj{id}"), "roles": [], "displayName": name,
                        "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
                        "userId": id, "email": email, "tenantId": TENANT})
                    })
                    .collect();
                (
                    200,
                    json!({"@odata.context": "x", "@odata.count": value.len(), "value": value}),
                )
            }
            ["teams", team, "channels", channel, "messages"] => {
                let expand = query_value(query, "$expand").as_deref() == Some("replies");
                let items: Vec<Value> = roots_of(&s, channel)
                    .into_iter()
                    .map(|m| message_json(&s, m, expand))
                    .collect();
                let link = format!("{base}/v1.0/teams/{team}/channels/{channel}/messages");
                let top = size;
                let exp = if expand { "&$expand=replies" } else { "" };
                (
                    200,
                    paged(items, offset, size, |o| {
                        format!("{link}?$top={top}{exp}&$skiptoken=o{o}")
                    }),
                )
            }
            ["teams", team, "channels", channel, "messages", "delta"] => {
                let token =
                    query_value(query, "$deltatoken").or_else(|| query_value(query, "$skiptoken"));
                if token
                    .as_ref()
                    .is_some_and(|t| s.expired.iter().any(|e| t.starts_with(e.as_str())))
                {
                    return graph_error(
                        410,
                        "SyncStateNotFound",
                        "The sync state generation is not found: the delta token has expired.",
                    );
                }
                // `s{version}`: changes after that version; `f{millis}`: the first round's filter.
                let key = token
                    .as_deref()
                    .map(|t| t.split('o').next().unwrap_or(t).to_owned())
                    .unwrap_or_else(|| match query_value(query, "$filter") {
                        Some(f) => {
                            let at = f.trim_start_matches("lastModifiedDateTime gt ");
                            format!(
                                "f{}",
                                DateTime::parse_from_rfc3339(at).unwrap().timestamp_millis()
                            )
                        }
                        None => "s0".to_owned(),
                    });
                let roots: Vec<&Msg> = roots_of(&s, channel)
                    .into_iter()
                    .filter(|m| match key.split_at(1) {
                        ("f", at) => m.modified.timestamp_millis() > at.parse::<i64>().unwrap(),
                        (_, v) => {
                            m.changed > v.parse::<u64>().unwrap()
                                && !(v == "0" && m.deleted.is_some())
                        }
                    })
                    .collect();
                let items: Vec<Value> = roots
                    .into_iter()
                    .map(|m| message_json(&s, m, true))
                    .collect();
                let link = format!("{base}/v1.0/teams/{team}/channels/{channel}/messages/delta");
                let mut body = paged(items, offset, size, |o| {
                    format!("{link}?$skiptoken={key}o{o}")
                });
                if body.get("@odata.nextLink").is_none() {
                    body["@odata.deltaLink"] = json!(format!("{link}?$deltatoken=s{}", s.version));
                }
                (200, body)
            }
            ["teams", _, "channels", channel, "messages", id] => {
                match s
                    .messages
                    .iter()
                    .find(|m| m.channel == *channel && m.id == *id && m.reply_to.is_none())
                {
                    Some(m) => (200, message_json(&s, m, false)),
                    None => graph_error(404, "NotFound", "Resource not found"),
                }
            }
            [
                "teams",
                team,
                "channels",
                channel,
                "messages",
                id,
                "replies",
            ] => {
                let Some(root) = s
                    .messages
                    .iter()
                    .find(|m| m.channel == *channel && m.id == *id && m.reply_to.is_none())
                else {
                    return graph_error(404, "NotFound", "Resource not found");
                };
                let items: Vec<Value> = replies_of(&s, root)
                    .into_iter()
                    .map(|m| message_json(&s, m, false))
                    .collect();
                let link =
                    format!("{base}/v1.0/teams/{team}/channels/{channel}/messages/{id}/replies");
                (
                    200,
                    paged(items, offset, size.max(1), |o| {
                        format!("{link}?$skiptoken=o{o}")
                    }),
                )
            }
            _ => graph_error(400, "BadRequest", &format!("no such route {path}")),
        }
    }
}

impl Respond for FakeGraph {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let base = self.state.lock().unwrap().base.clone();
        let path = request.url.path().to_owned();
        let method = request.method.to_string();
        if let Some(token) = graph_wire::token_endpoint(request, SECRET, TOKEN) {
            return token;
        }
        let auth = graph_wire::bearer(request, TOKEN);
        {
            let mut s = self.state.lock().unwrap();
            if auth && s.throttle > 0 {
                s.throttle -= 1;
                s.log.push(format!("THROTTLED {method} {path}"));
                let (_, body) = graph_error(429, "TooManyRequests", "Please retry again later.");
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_json(body);
            }
        }
        if method == "POST" && path == "/v1.0/$batch" {
            return graph_wire::batch(
                request,
                &base,
                "application/json;odata.metadata=minimal",
                |_, url, query| self.answer("BATCH GET", url.path(), query, auth),
            );
        }
        // `…/messages/{id}[/replies/{id}]/hostedContents/{hosted id}/$value`: the bytes.
        if let Some((_, rest)) = path.split_once("/hostedContents/")
            && let Some(hosted) = rest.strip_suffix("/$value")
            && path.starts_with("/v1.0/teams/")
            && auth
        {
            let mut s = self.state.lock().unwrap();
            s.log.push(format!("{method} {path}"));
            return match s.hosted.get(&graph_wire::percent_decode(hosted)) {
                Some((mime, bytes)) => ResponseTemplate::new(200).set_body_raw(bytes.clone(), mime),
                None => {
                    let (code, body) = graph_error(404, "NotFound", "Resource not found");
                    ResponseTemplate::new(code).set_body_json(body)
                }
            };
        }
        let query = graph_wire::query(&request.url);
        let (code, body) = self.answer(&method, &path, &query, auth);
        ResponseTemplate::new(code).set_body_json(body)
    }
}

/// A connector on `server` with `extra` config fields.
pub fn build(server: &str, extra: Value) -> Arc<dyn Connector> {
    let fast = json!({"requests_per_second": 100});
    let config = graph_wire::config(server, TENANT, SECRET, &[&fast, &extra]);
    let config: connector_misc::teams::TeamsConfig =
        connector_core::config::from_json(config).unwrap();
    Arc::new(connector_misc::teams::TeamsConnector::new(config).unwrap())
}

pub const ADA: (&str, &str) = ("u-ada", "Ada Lovelace");
pub const BOB: (&str, &str) = ("u-bob", "Bob Kline");
pub const CAROL: (&str, &str) = ("u-carol", "Carol Smith");

/// Two teams. Engineering: `General` (standard) with a thread of a root (minute 1, a
/// subject, a mention, a file) and two replies (minutes 2 and 3, the second edited at 3),
/// a text root (5), a system event (6) and a root deleted at 8 (posted at 7); `Secret
/// Project` (private, Ada alone) with a root holding an inline image (9). Sales: `General`
/// with a root (10) and a reply (11).
pub fn standard(page_size: usize) -> FakeGraph {
    standard_at(page_size, time(0))
}

/// [`standard`] with minute 0 at `base`.
pub fn standard_at(page_size: usize, base: DateTime<Utc>) -> FakeGraph {
    let t = |n: i64| base + chrono::TimeDelta::minutes(n);
    let g = FakeGraph::new(page_size);
    g.team(ENG, "Engineering");
    g.team(SALES, "Sales");
    g.channel(ENG, ENG_GENERAL, "General", "standard");
    g.channel(ENG, ENG_SECRET, "Secret Project", "private");
    g.channel(SALES, SALES_GENERAL, "General", "standard");
    g.member(ENG, ADA.0, ADA.1, "Ada@contoso.com");
    g.member(ENG, BOB.0, BOB.1, "bob@contoso.com");
    g.member(ENG_SECRET, ADA.0, ADA.1, "ada@contoso.com");
    g.member(SALES, CAROL.0, CAROL.1, "carol@contoso.com");

    let r1 = g.post(ENG, ENG_GENERAL, None, ADA,
        r#"<div><p>Hi <at id="0">Bob Kline</at>, the <b>v2</b> plan is in the attached file <emoji id="1f680_rocket" alt="🚀" title="Rocket"></emoji></p><attachment id="153fa47d-18c9-4179-be08-9879815a9f90"></attachment></div>"#,
        t(1));
    g.with(&r1, |m| {
        m.subject = Some("Release plan".to_owned());
        m.mentions = vec![json!({"id": 0, "mentionText": "Bob Kline",
            "mentioned": {"application": null, "device": null, "conversation": null,
                "user": {"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": BOB.0, "displayName": BOB.1, "userIdentityType": "aadUser", "tenantId": TENANT}}})];
        m.attachments = vec![json!({"id": "153fa47d-18c9-4179-be08-9879815a9f90", "contentType": "reference",
            "contentUrl": "https://contoso.sharepoint.com/sites/Engineering/Shared%20Documents/General/plan.docx",
            "content": null, "name": "plan.docx", "thumbnailUrl": null, "teamsAppId": null})];
    });
    g.post(
        ENG,
        ENG_GENERAL,
        Some(&r1),
        BOB,
        "<p>Looks good. One question: <i>when</i>?</p>",
        t(2),
    );
    let r1b = g.post(
        ENG,
        ENG_GENERAL,
        Some(&r1),
        ADA,
        "<p>Friday</p>",
        t(3) - chrono::TimeDelta::seconds(30),
    );
    {
        // An edit within the same minute: the reply's times stay inside minute 3.
        let mut s = g.state.lock().unwrap();
        let m = s.messages.iter_mut().find(|m| m.id == r1b).unwrap();
        m.content = "<p>Friday, 10:00 UTC</p>".to_owned();
        m.modified = t(3);
        m.edited = Some(t(3));
    }
    let r2 = g.post(ENG, ENG_GENERAL, None, BOB, "", t(5));
    g.with(&r2, |m| {
        m.content_type = "text".to_owned();
        m.content = "Standup moved to 9:30 *tomorrow*".to_owned();
    });
    let sys = g.post(ENG, ENG_GENERAL, None, ADA, "<systemEventMessage/>", t(6));
    g.with(&sys, |m| m.message_type = "systemEventMessage".to_owned());
    let r3 = g.post(
        ENG,
        ENG_GENERAL,
        None,
        BOB,
        "<p>oops, wrong channel</p>",
        t(7),
    );
    g.delete(&r3, t(8));
    let r4 = g.post(ENG, ENG_SECRET, None, ADA,
        &format!(r#"<div><p>Mock-up:</p><img src="https://graph.microsoft.com/v1.0/teams/{ENG}/channels/{ENG_SECRET}/messages/{}/hostedContents/aWQ9eF8wLXd1cy1kMTAtMWI4/$value" width="250" height="145"></div>"#, t(9).timestamp_millis()),
        t(9));
    let _ = r4;
    let r5 = g.post(
        SALES,
        SALES_GENERAL,
        None,
        CAROL,
        "<p>Q3 pipeline review</p>",
        t(10),
    );
    g.post(
        SALES,
        SALES_GENERAL,
        Some(&r5),
        CAROL,
        "<p>Deck uploaded</p>",
        t(11),
    );
    g
}

/// The document id of the thread whose root was posted at `at`.
pub fn doc_id(team: &str, channel: &str, at: DateTime<Utc>) -> String {
    format!("{team}__{channel}__{}", at.timestamp_millis())
}
