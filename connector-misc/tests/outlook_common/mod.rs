//! A fake Microsoft Graph for the Outlook tests, in Graph's wire format: the token endpoint,
//! `/users`, `users/{id}`, `mailFolders` (well-known names, `childFolders`), message delta
//! rounds per folder (`@odata.nextLink` with `$skiptoken`, `@odata.deltaLink` with
//! `$deltatoken` listing what changed after it, `@removed` for messages deleted or moved out,
//! `410 Gone` for an expired token), `messages/{id}`, `attachments` (metadata by `$select`,
//! `contentBytes` by id, raw bytes by `/$value`) and `$batch`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[path = "../graph_wire/mod.rs"]
pub mod graph_wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::Connector;
use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const SECRET: &str = "graph-client-secret-canary";
pub const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ.graph-access-token";

/// Minute `n` of 2026-03-01.
pub fn time(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::minutes(n)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Debug, Clone)]
pub struct Att {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub inline: bool,
}

#[derive(Debug, Clone)]
pub struct Msg {
    pub id: String,
    pub folder: String,
    pub subject: String,
    pub html: bool,
    pub body: String,
    pub from: (String, String),
    pub to: Vec<(String, String)>,
    pub cc: Vec<(String, String)>,
    pub conversation: String,
    pub modified: DateTime<Utc>,
    /// When it arrived: set when it is put first, kept by reads and moves.
    pub received: DateTime<Utc>,
    pub change: u32,
    /// The change number of its last change.
    pub changed: u64,
    pub deleted: bool,
    pub attachments: Vec<Att>,
    /// The listing shows this message with `toRecipients` that is not a list.
    pub malformed: bool,
    /// A meeting message: its `@odata.type` and the properties of that type, which only
    /// `GET messages/{id}` shows (a delta round's `$select` cannot name them).
    pub meeting: Option<(&'static str, Value)>,
}

#[derive(Debug, Clone)]
pub struct MailFolder {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub well_known: Option<&'static str>,
}

#[derive(Debug, Default)]
pub struct Mailbox {
    pub folders: Vec<MailFolder>,
    pub messages: Vec<Msg>,
    /// (folder, message id, change number): the message left the folder then.
    pub left: Vec<(String, String, u64)>,
}

#[derive(Debug, Default)]
pub struct State {
    /// (object id, user principal name, mail)
    pub users: Vec<(String, String, Option<String>)>,
    pub mailboxes: BTreeMap<String, Mailbox>,
    pub version: u64,
    pub page_size: usize,
    /// Delta tokens answered with 410 Gone.
    pub expired: Vec<String>,
    /// Requests seen, `METHOD path`.
    pub log: Vec<String>,
    /// Mail requests that did not ask for immutable ids.
    pub mutable_ids: usize,
    /// Answer the next N Graph requests with 429 Retry-After: 1.
    pub throttle: usize,
    pub base: String,
    /// Mailboxes whose folders the app may not read (an application access policy).
    pub denied: Vec<String>,
    /// `GET /users` answers 403 (the app lacks `User.Read.All`).
    pub users_forbidden: bool,
    /// Users whose account is disabled (sign-in blocked).
    pub disabled: Vec<String>,
    /// Pages of `GET /users` answered.
    pub user_pages: usize,
    /// Users per page of `GET /users` at most, whatever `$top` asks (0: as asked).
    pub users_page: usize,
    /// Users still listed by `GET /users` but deleted since: every `users/{id}…` is 404.
    pub gone: Vec<String>,
    /// Mailboxes whose folders answer a passing 404 (a mailbox being moved).
    pub flaky: Vec<String>,
}

#[derive(Clone)]
pub struct FakeGraph {
    pub state: Arc<Mutex<State>>,
}

fn addr(name: &str, address: &str) -> (String, String) {
    (name.to_owned(), address.to_owned())
}

impl FakeGraph {
    pub fn new(page_size: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                page_size,
                ..State::default()
            })),
        }
    }

    pub fn user(&self, id: &str, upn: &str, mailbox: bool) {
        let mut s = self.state.lock().unwrap();
        s.users.push((
            id.to_owned(),
            upn.to_owned(),
            mailbox.then(|| upn.to_owned()),
        ));
        if mailbox {
            let m = s.mailboxes.entry(id.to_owned()).or_default();
            for (fid, name, wk) in [
                ("inbox", "Inbox", Some("inbox")),
                ("sent", "Sent Items", Some("sentitems")),
                ("junk", "Junk Email", Some("junkemail")),
                ("deleted", "Deleted Items", Some("deleteditems")),
                // Every Exchange mailbox has Drafts (left out by default).
                ("drafts", "Drafts", Some("drafts")),
            ] {
                m.folders.push(MailFolder {
                    id: format!("AAMk{id}{fid}"),
                    name: name.to_owned(),
                    parent: None,
                    well_known: wk,
                });
            }
        }
    }

    /// The folder id of folder `short` (`inbox`, `sent`, `junk`, `deleted` or one added).
    pub fn folder_id(user: &str, short: &str) -> String {
        format!("AAMk{user}{short}")
    }

    pub fn child_folder(&self, user: &str, short: &str, name: &str, parent: &str) {
        let mut s = self.state.lock().unwrap();
        let m = s.mailboxes.get_mut(user).unwrap();
        m.folders.push(MailFolder {
            id: Self::folder_id(user, short),
            name: name.to_owned(),
            parent: Some(Self::folder_id(user, parent)),
            well_known: None,
        });
    }

    /// A folder at the top of `user`'s mailbox, with its well-known name if it has one.
    pub fn top_folder(
        &self,
        user: &str,
        short: &str,
        name: &str,
        well_known: Option<&'static str>,
    ) {
        let mut s = self.state.lock().unwrap();
        let m = s.mailboxes.get_mut(user).unwrap();
        m.folders.push(MailFolder {
            id: Self::folder_id(user, short),
            name: name.to_owned(),
            parent: None,
            well_known,
        });
    }

    /// Renames folder `short`: its id and its messages stay as they are (no new change key).
    pub fn rename_folder(&self, user: &str, short: &str, name: &str) {
        let mut s = self.state.lock().unwrap();
        let id = Self::folder_id(user, short);
        let m = s.mailboxes.get_mut(user).unwrap();
        m.folders.iter_mut().find(|f| f.id == id).unwrap().name = name.to_owned();
    }

    /// Moves folder `short` under folder `parent`, as deleting a folder moves it under Deleted
    /// Items: its id and its messages' ids and change keys stay, and no round of another
    /// folder reports them.
    pub fn move_folder(&self, user: &str, short: &str, parent: &str) {
        let mut s = self.state.lock().unwrap();
        let id = Self::folder_id(user, short);
        let m = s.mailboxes.get_mut(user).unwrap();
        m.folders.iter_mut().find(|f| f.id == id).unwrap().parent =
            Some(Self::folder_id(user, parent));
    }

    /// Puts a message (new, or a new state of one) into folder `short` of `user`.
    pub fn put(&self, user: &str, id: &str, short: &str, subject: &str, body: &str, minute: i64) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        let folder = Self::folder_id(user, short);
        let m = s.mailboxes.get_mut(user).unwrap();
        if let Some(i) = m.messages.iter().position(|x| x.id == id) {
            let old = m.messages[i].folder.clone();
            if old != folder {
                m.left.push((old, id.to_owned(), v));
            }
            let x = &mut m.messages[i];
            x.folder = folder;
            x.subject = subject.to_owned();
            x.body = body.to_owned();
            x.modified = time(minute);
            x.change += 1;
            x.changed = v;
            x.deleted = false;
            return;
        }
        m.messages.push(Msg {
            id: id.to_owned(),
            folder,
            subject: subject.to_owned(),
            html: body.trim_start().starts_with('<'),
            body: body.to_owned(),
            from: addr("Ada Lovelace", "ada@contoso.com"),
            to: vec![addr("Bob", "bob@contoso.com")],
            cc: vec![addr("carol@fabrikam.com", "carol@fabrikam.com")],
            conversation: format!("AAQk{}", id.trim_end_matches(char::is_numeric)),
            modified: time(minute),
            received: time(minute) - chrono::TimeDelta::seconds(30),
            change: 1,
            changed: v,
            deleted: false,
            attachments: Vec::new(),
            malformed: false,
            meeting: None,
        });
    }

    /// Moves a message to folder `short`: a new change key, the same immutable id.
    pub fn move_to(&self, user: &str, id: &str, short: &str, minute: i64) {
        let (subject, body) = {
            let s = self.state.lock().unwrap();
            let x = s.mailboxes[user]
                .messages
                .iter()
                .find(|x| x.id == id)
                .unwrap()
                .clone();
            (x.subject, x.body)
        };
        self.put(user, id, short, &subject, &body, minute);
    }

    /// Marks a message read (or flags it): a new change key and modification time, nothing
    /// else of it changes.
    pub fn mark_read(&self, user: &str, id: &str, minute: i64) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        let m = s.mailboxes.get_mut(user).unwrap();
        let x = m.messages.iter_mut().find(|x| x.id == id).unwrap();
        x.change += 1;
        x.changed = v;
        x.modified = time(minute);
    }

    /// Deletes a message for good (not to Deleted Items).
    pub fn delete(&self, user: &str, id: &str) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let v = s.version;
        let m = s.mailboxes.get_mut(user).unwrap();
        let x = m.messages.iter_mut().find(|x| x.id == id).unwrap();
        x.deleted = true;
        x.changed = v;
        let folder = x.folder.clone();
        m.left.push((folder, id.to_owned(), v));
    }

    /// Makes message `id` a meeting message of `odata_type` with these properties.
    pub fn meeting(&self, user: &str, id: &str, odata_type: &'static str, properties: Value) {
        let mut s = self.state.lock().unwrap();
        let m = s.mailboxes.get_mut(user).unwrap();
        m.messages.iter_mut().find(|x| x.id == id).unwrap().meeting =
            Some((odata_type, properties));
    }

    pub fn attach(&self, user: &str, id: &str, att: Att) {
        let mut s = self.state.lock().unwrap();
        let m = s.mailboxes.get_mut(user).unwrap();
        m.messages
            .iter_mut()
            .find(|x| x.id == id)
            .unwrap()
            .attachments
            .push(att);
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

pub fn file(id: &str, name: &str, content_type: &str, data: &[u8]) -> Att {
    Att {
        id: id.to_owned(),
        kind: "#microsoft.graph.fileAttachment",
        name: name.to_owned(),
        content_type: content_type.to_owned(),
        data: data.to_vec(),
        inline: false,
    }
}

fn recipient((name, address): &(String, String)) -> Value {
    json!({"emailAddress": {"name": name, "address": address}})
}

fn message_json(m: &Msg) -> Value {
    if m.deleted {
        return json!({"@odata.type": "#microsoft.graph.message", "id": m.id, "@removed": {"reason": "deleted"}});
    }
    let change_key = format!("CQAAABYAAAD{}{}", m.id, m.change);
    let mut v = json!({
        "@odata.type": "#microsoft.graph.message",
        "@odata.etag": format!("W/\"{change_key}\""),
        "id": m.id,
        "createdDateTime": "2026-02-28T23:00:00Z",
        "lastModifiedDateTime": stamp(m.modified),
        "changeKey": change_key,
        "categories": [],
        "receivedDateTime": stamp(m.received),
        "sentDateTime": stamp(m.received - chrono::TimeDelta::seconds(10)),
        "hasAttachments": m.attachments.iter().any(|a| !a.inline),
        "internetMessageId": format!("<{}@contoso.com>", m.id),
        "subject": m.subject,
        "importance": "normal",
        "parentFolderId": m.folder,
        "conversationId": m.conversation,
        "isDraft": false,
        "webLink": format!("https://outlook.office365.com/owa/?ItemID={}&exvsurl=1&viewmodel=ReadMessageItem", m.id),
        "body": {"contentType": if m.html { "html" } else { "text" }, "content": m.body},
        "sender": recipient(&m.from),
        "from": recipient(&m.from),
        "toRecipients": m.to.iter().map(recipient).collect::<Vec<_>>(),
        "ccRecipients": m.cc.iter().map(recipient).collect::<Vec<_>>(),
        "bccRecipients": [],
    });
    if m.malformed {
        v["toRecipients"] = json!("bob@contoso.com");
    }
    if let Some((odata_type, _)) = &m.meeting {
        v["@odata.type"] = json!(odata_type);
    }
    v
}

/// A message as `GET messages/{id}` shows it: a meeting message with its own properties.
fn full_message_json(m: &Msg) -> Value {
    let mut v = message_json(m);
    if let (Some((_, properties)), Some(map)) = (&m.meeting, v.as_object_mut()) {
        for (k, p) in properties.as_object().unwrap() {
            map.insert(k.clone(), p.clone());
        }
    }
    v
}

fn attachment_json(a: &Att, with_bytes: bool) -> Value {
    let mut v = json!({
        "@odata.type": a.kind,
        "@odata.mediaContentType": a.content_type,
        "id": a.id,
        "lastModifiedDateTime": "2026-02-28T23:00:00Z",
        "name": a.name,
        "contentType": a.content_type,
        "size": a.data.len(),
        "isInline": a.inline,
    });
    if with_bytes && a.kind == "#microsoft.graph.fileAttachment" {
        v["contentId"] = Value::Null;
        v["contentBytes"] = json!(base64::engine::general_purpose::STANDARD.encode(&a.data));
    }
    v
}

fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message,
        "innerError": {"request-id": "7d2e1c4a-0000-4000-8000-000000000000", "date": "2026-03-01T00:00:00"}}})
}

/// One answer: JSON with a status, or raw bytes.
enum Reply {
    Json(u16, Value),
    Bytes(Vec<u8>),
}

fn err(status: u16, code: &str, message: &str) -> Reply {
    Reply::Json(status, error_body(code, message))
}

impl FakeGraph {
    /// Answers one Graph GET (also a member of a batch) of `path` under `/v1.0/`.
    fn route(&self, rest: &str, query: &[(String, String)], prefer: &str) -> Reply {
        let mut s = self.state.lock().unwrap();
        let base = s.base.clone();
        let segs: Vec<&str> = rest.split('/').collect();
        // Messages and attachments are what immutable ids apply to.
        let mail = segs.contains(&"messages");
        if mail && !prefer.contains("IdType=\"ImmutableId\"") {
            s.mutable_ids += 1;
        }
        let user_of = |s: &State, u: &str| {
            s.users
                .iter()
                .find(|(id, upn, _)| id == u || upn.eq_ignore_ascii_case(u))
                .cloned()
        };
        if let ["users", u, rest @ ..] = segs.as_slice()
            && s.gone.iter().any(|g| g == u)
        {
            return if rest.is_empty() {
                err(
                    404,
                    "Request_ResourceNotFound",
                    &format!(
                        "Resource '{u}' does not exist or one of its queried reference-property objects are not present."
                    ),
                )
            } else {
                err(404, "ErrorInvalidUser", "The requested user is invalid.")
            };
        }
        if let ["users", u, "mailFolders", ..] = segs.as_slice()
            && s.flaky.iter().any(|g| g == u)
        {
            return err(
                404,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            );
        }
        if let ["users", u, ..] = segs.as_slice()
            && segs.len() > 2
        {
            let Some((id, _, mail)) = user_of(&s, u) else {
                return err(404, "ErrorInvalidUser", "The requested user is invalid.");
            };
            if mail.is_none() || !s.mailboxes.contains_key(&id) {
                return err(
                    404,
                    "MailboxNotEnabledForRESTAPI",
                    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                );
            }
            if s.denied.contains(&id) {
                return err(
                    403,
                    "ErrorAccessDenied",
                    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
                );
            }
        }
        match segs.as_slice() {
            ["users"] if s.users_forbidden => err(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            ["users"] => {
                // The one filter Graph takes on `/users` without `ConsistencyLevel` that the
                // connector sends; anything else is refused as Graph refuses it.
                let filter = query
                    .iter()
                    .find(|(k, _)| k == "$filter")
                    .map(|(_, v)| v.as_str());
                let enabled_only = match filter {
                    None => false,
                    Some("accountEnabled eq true") => true,
                    Some(other) => {
                        return err(
                            400,
                            "Request_UnsupportedQuery",
                            &format!("Unsupported or invalid query filter clause: {other}"),
                        );
                    }
                };
                let top: usize = query
                    .iter()
                    .find(|(k, _)| k == "$top")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(100);
                let top = if s.users_page > 0 {
                    top.min(s.users_page)
                } else {
                    top
                };
                let skip: usize = query
                    .iter()
                    .find(|(k, _)| k == "$skiptoken")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                // Guests' principal names carry `#EXT#`.
                let all: Vec<Value> = s
                    .users
                    .iter()
                    .filter(|(id, _, _)| !(enabled_only && s.disabled.contains(id)))
                    .map(|(id, upn, mail)| {
                        json!({"id": id, "userPrincipalName": upn, "mail": mail,
                        "accountEnabled": !s.disabled.contains(id),
                        "userType": if upn.contains("#EXT#") { "Guest" } else { "Member" }})
                    })
                    .collect();
                let page: Vec<Value> = all.iter().skip(skip).take(top).cloned().collect();
                let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,mail,userPrincipalName,accountEnabled,userType)", "value": page});
                if skip + top < all.len() {
                    let mut next = url::Url::parse(&format!("{base}/v1.0/users")).unwrap();
                    next.query_pairs_mut().extend_pairs(
                        query
                            .iter()
                            .filter(|(k, _)| k != "$skiptoken")
                            .map(|(k, v)| (k.as_str(), v.as_str())),
                    );
                    next.query_pairs_mut()
                        .append_pair("$skiptoken", &(skip + top).to_string());
                    body["@odata.nextLink"] = json!(next.to_string());
                }
                s.user_pages += 1;
                Reply::Json(200, body)
            }
            ["users", u] => match user_of(&s, u) {
                Some((id, upn, mail)) => Reply::Json(
                    200,
                    json!({"id": id, "userPrincipalName": upn, "mail": mail, "displayName": upn}),
                ),
                None => err(
                    404,
                    "Request_ResourceNotFound",
                    &format!(
                        "Resource '{u}' does not exist or one of its queried reference-property objects are not present."
                    ),
                ),
            },
            ["users", u, "mailFolders"] => {
                let id = user_of(&s, u).unwrap().0;
                let value: Vec<Value> = s.mailboxes[&id]
                    .folders
                    .iter()
                    .filter(|f| f.parent.is_none())
                    .map(|f| folder_json(&s.mailboxes[&id], f))
                    .collect();
                Reply::Json(200, json!({"value": value}))
            }
            ["users", u, "mailFolders", f] => {
                let id = user_of(&s, u).unwrap().0;
                match s.mailboxes[&id]
                    .folders
                    .iter()
                    .find(|x| x.id == *f || x.well_known == Some(f.to_lowercase().as_str()))
                {
                    Some(x) => Reply::Json(200, folder_json(&s.mailboxes[&id], x)),
                    None => err(
                        404,
                        "ErrorFolderNotFound",
                        "The specified folder could not be found in the store.",
                    ),
                }
            }
            ["users", u, "mailFolders", f, "childFolders"] => {
                let id = user_of(&s, u).unwrap().0;
                let value: Vec<Value> = s.mailboxes[&id]
                    .folders
                    .iter()
                    .filter(|x| x.parent.as_deref() == Some(*f))
                    .map(|x| folder_json(&s.mailboxes[&id], x))
                    .collect();
                Reply::Json(200, json!({"value": value}))
            }
            ["users", u, "mailFolders", f, "messages", "delta"] => {
                let id = user_of(&s, u).unwrap().0;
                let token = query
                    .iter()
                    .find(|(k, _)| k == "$deltatoken" || k == "$skiptoken")
                    .map(|(_, v)| v.clone());
                if token.as_ref().is_some_and(|t| s.expired.contains(t)) {
                    return err(
                        410,
                        "SyncStateNotFound",
                        "The sync state generation is invalid or not found.",
                    );
                }
                let (since, offset) = match token.as_deref() {
                    None => (0, 0),
                    Some(t) => {
                        let (a, b) = t.split_once('o').unwrap_or((t, "0"));
                        (
                            a.trim_start_matches('s').parse::<u64>().unwrap(),
                            b.parse::<usize>().unwrap(),
                        )
                    }
                };
                // `Prefer: odata.maxpagesize=N` asks for at most N a page.
                let page_size = prefer
                    .split(',')
                    .find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .map_or(s.page_size, |n| n.min(s.page_size));
                let mb = &s.mailboxes[&id];
                let mut listed: Vec<(u64, Value)> = mb
                    .messages
                    .iter()
                    .filter(|m| m.folder == *f && !m.deleted && m.changed > since)
                    .map(|m| (m.changed, message_json(m)))
                    .collect();
                if since > 0 {
                    for (folder, mid, v) in &mb.left {
                        let back = mb
                            .messages
                            .iter()
                            .any(|m| m.id == *mid && m.folder == *folder && !m.deleted);
                        if folder == f && *v > since && !back {
                            listed.push((*v, json!({"@odata.type": "#microsoft.graph.message", "id": mid, "@removed": {"reason": "deleted"}})));
                        }
                    }
                }
                listed.sort_by_key(|(v, _)| *v);
                let page: Vec<Value> = listed
                    .iter()
                    .skip(offset)
                    .take(page_size)
                    .map(|(_, v)| v.clone())
                    .collect();
                let end = offset + page_size >= listed.len();
                let link = format!("{base}/v1.0/users/{u}/mailFolders/{f}/messages/delta");
                let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)", "value": page});
                if end {
                    body["@odata.deltaLink"] = json!(format!("{link}?$deltatoken=s{}", s.version));
                } else {
                    body["@odata.nextLink"] =
                        json!(format!("{link}?$skiptoken=s{since}o{}", offset + page_size));
                }
                Reply::Json(200, body)
            }
            ["users", u, "messages", m] => {
                let id = user_of(&s, u).unwrap().0;
                match s.mailboxes[&id]
                    .messages
                    .iter()
                    .find(|x| x.id == *m && !x.deleted)
                {
                    Some(x) => Reply::Json(200, full_message_json(x)),
                    None => err(
                        404,
                        "ErrorItemNotFound",
                        "The specified object was not found in the store.",
                    ),
                }
            }
            ["users", u, "messages", m, "attachments", rest @ ..] => {
                let id = user_of(&s, u).unwrap().0;
                let Some(x) = s.mailboxes[&id]
                    .messages
                    .iter()
                    .find(|x| x.id == *m && !x.deleted)
                else {
                    return err(
                        404,
                        "ErrorItemNotFound",
                        "The specified object was not found in the store.",
                    );
                };
                match rest {
                    [] => {
                        let selected = query.iter().any(|(k, _)| k == "$select");
                        let value: Vec<Value> = x
                            .attachments
                            .iter()
                            .map(|a| attachment_json(a, !selected))
                            .collect();
                        Reply::Json(200, json!({"value": value}))
                    }
                    [a] => match x.attachments.iter().find(|y| y.id == *a) {
                        Some(y) => Reply::Json(200, attachment_json(y, true)),
                        None => err(
                            404,
                            "ErrorItemNotFound",
                            "The specified object was not found in the store.",
                        ),
                    },
                    [a, "$value"] => match x.attachments.iter().find(|y| y.id == *a) {
                        Some(y) if y.kind == "#microsoft.graph.referenceAttachment" => err(
                            400,
                            "ErrorInvalidRequest",
                            "Reference attachments have no content.",
                        ),
                        Some(y) => Reply::Bytes(y.data.clone()),
                        None => err(
                            404,
                            "ErrorItemNotFound",
                            "The specified object was not found in the store.",
                        ),
                    },
                    _ => err(400, "BadRequest", "Unsupported segment."),
                }
            }
            _ => err(
                400,
                "BadRequest",
                &format!("Resource not found for the segment '{rest}'."),
            ),
        }
    }
}

fn folder_json(mb: &Mailbox, f: &MailFolder) -> Value {
    let children = mb
        .folders
        .iter()
        .filter(|x| x.parent.as_deref() == Some(&f.id))
        .count();
    let total = mb
        .messages
        .iter()
        .filter(|m| m.folder == f.id && !m.deleted)
        .count();
    json!({"id": f.id, "displayName": f.name, "parentFolderId": f.parent.clone().unwrap_or_else(|| "AAMkroot".into()),
        "childFolderCount": children, "unreadItemCount": 0, "totalItemCount": total, "isHidden": false})
}

fn to_template(reply: Reply) -> ResponseTemplate {
    match reply {
        Reply::Json(status, body) => ResponseTemplate::new(status).set_body_json(body),
        Reply::Bytes(data) => ResponseTemplate::new(200)
            .insert_header("content-type", "application/octet-stream")
            .set_body_bytes(data),
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
        self.state
            .lock()
            .unwrap()
            .log
            .push(format!("{method} {path}"));
        if !graph_wire::bearer(request, TOKEN) {
            return to_template(err(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty.",
            ));
        }
        {
            let mut s = self.state.lock().unwrap();
            if s.throttle > 0 {
                s.throttle -= 1;
                return to_template(err(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                ))
                .insert_header("retry-after", "1");
            }
        }
        let Some(rest) = path.strip_prefix("/v1.0/") else {
            return to_template(err(400, "BadRequest", "Invalid version."));
        };
        if method == "POST" && rest == "$batch" {
            return graph_wire::batch(request, &base, "application/json", |r, url, query| {
                let member = url.path().trim_start_matches("/v1.0/").to_owned();
                self.state
                    .lock()
                    .unwrap()
                    .log
                    .push(format!("BATCH GET /v1.0/{member}"));
                // A member's own headers (Graph gives it none of the batch request's).
                let prefer = r["headers"]
                    .as_object()
                    .and_then(|h| {
                        h.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("prefer"))
                            .and_then(|(_, v)| v.as_str())
                    })
                    .unwrap_or_default()
                    .to_owned();
                match self.route(&member, query, &prefer) {
                    Reply::Json(status, json) => (status, json),
                    Reply::Bytes(_) => (
                        400,
                        error_body("BadRequest", "raw bodies are not batched here"),
                    ),
                }
            });
        }
        let query = graph_wire::query(&request.url);
        let prefer = request
            .headers
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let decoded = graph_wire::percent_decode(rest);
        to_template(self.route(&decoded, &query, &prefer))
    }
}

/// A connector on `server` with `extra` config fields.
pub fn build(server: &str, extra: Value) -> Arc<dyn Connector> {
    let config = graph_wire::config(server, TENANT, SECRET, &[&extra]);
    let config: connector_misc::outlook::OutlookConfig =
        connector_core::config::from_json(config).unwrap();
    Arc::new(connector_misc::outlook::OutlookConnector::new(config).unwrap())
}

/// Two users with a mailbox and one without. Ada's Inbox has a child folder `Projects`;
/// messages M1 (HTML, a PDF, a text file, an inline picture and a OneDrive link attached),
/// M2 (text) in the inbox, M3 in Projects, M4 in Sent Items, junk J1 and deleted D1 at
/// minutes 1..=6; Bob has B1 in his inbox at minute 7.
pub fn standard(page_size: usize) -> FakeGraph {
    let g = FakeGraph::new(page_size);
    g.user("u-ada", "ada@contoso.com", true);
    g.user("u-bob", "bob@contoso.com", true);
    g.user("u-nobox", "nobox@contoso.com", false);
    g.child_folder("u-ada", "projects", "Projects", "inbox");
    g.put(
        "u-ada",
        "M1",
        "inbox",
        "Q3 plan",
        "<html><head><style>p{color:red}</style></head><body><p>Hello <b>team</b>,</p><ul><li>ship &amp; tell</li></ul><p><a href=\"https://contoso.com/plan\">the plan</a></p></body></html>",
        1,
    );
    g.put(
        "u-ada",
        "M2",
        "inbox",
        "Lunch?",
        "Noon at *the* usual place.\n\n-- Ada",
        2,
    );
    g.put(
        "u-ada",
        "M3",
        "projects",
        "Apollo status",
        "<p>On track.</p>",
        3,
    );
    g.put("u-ada", "M4", "sent", "Re: Q3 plan", "<p>Thanks!</p>", 4);
    g.put("u-ada", "J1", "junk", "You won", "<p>spam</p>", 5);
    g.put("u-ada", "D1", "deleted", "Old", "<p>bin</p>", 6);
    g.put("u-bob", "B1", "inbox", "Hello Bob", "<p>hi</p>", 7);
    g.attach(
        "u-ada",
        "M1",
        file("AAMkA1", "plan.pdf", "application/pdf", b"%PDF-1.7 plan"),
    );
    g.attach(
        "u-ada",
        "M1",
        file("AAMkA2", "notes.txt", "text/plain", b"remember the milk"),
    );
    g.attach(
        "u-ada",
        "M1",
        Att {
            inline: true,
            ..file("AAMkA3", "image001.png", "image/png", b"png")
        },
    );
    g.attach(
        "u-ada",
        "M1",
        Att {
            kind: "#microsoft.graph.referenceAttachment",
            ..file(
                "AAMkA4",
                "Budget.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                b"",
            )
        },
    );
    g
}
