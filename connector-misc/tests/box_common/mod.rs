//! A wiremock Box written from the API 2.0 reference (developer.box.com/reference): folder
//! items with marker paging (`usemarker`, `marker`, `limit`, `next_marker`), `GET /files/{id}`
//! with `path_collection`, `GET /files/{id}/content` answered with a `302` to a second server
//! standing for `dl.boxcloud.com`, collaborations, the error body
//! (`{"type": "error", "status", "code", "message", "request_id"}`) and `POST /oauth2/token`.
#![allow(clippy::unwrap_used, dead_code)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const ACCESS: &str = "T9cE5asGnuyYCCqIZFoWjFHvNbvVqHjl";
pub(crate) const REFRESH: &str = "J7rxTiWOHMoSC1isKZKBZWizoRXjkQzig5C6jFgCVJ9bUnsUfGMinKBDLZWP9BgR";
pub(crate) const CLIENT_SECRET: &str = "ly1nj6n11vionaie65emwzk575hnnmrk-secret";

pub(crate) fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

/// Box writes times with the user's offset: `2025-03-01T02:01:00-08:00`.
fn box_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::FixedOffset::west_opt(8 * 3600).unwrap())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn user(login: &str) -> Value {
    let name = login.split('@').next().unwrap_or(login);
    json!({"type": "user", "id": format!("{}", 11_000 + login.len()), "name": name, "login": login})
}

/// A file of the fixture.
#[derive(Clone, Debug)]
pub(crate) struct File {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) parent: String,
    pub(crate) minute: u32,
    pub(crate) body: Vec<u8>,
    pub(crate) etag: u32,
    pub(crate) collaborators: Vec<&'static str>,
    pub(crate) open_link: bool,
    /// A `shared_link` object sent as it is (instead of `open_link`'s).
    pub(crate) link: Option<Value>,
}

impl File {
    pub(crate) fn new(id: u32, name: &str, parent: &str, body: &[u8]) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_owned(),
            parent: parent.to_owned(),
            minute: id % 50,
            body: body.to_vec(),
            etag: 1,
            collaborators: Vec::new(),
            open_link: false,
            link: None,
        }
    }
}

/// A folder of the fixture.
#[derive(Clone, Debug)]
pub(crate) struct Folder {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) parent: String,
    /// Users (logins) and groups (`group:{id}`) it is shared with.
    pub(crate) collaborators: Vec<&'static str>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) files: Vec<File>,
    pub(crate) folders: Vec<Folder>,
    /// Entries per page unless the request asks for fewer.
    pub(crate) page: usize,
    /// Files whose download answers 404 (gone since the listing).
    pub(crate) gone_on_download: Vec<String>,
    /// When the second page of this folder is asked for, its first file (served on the first
    /// page) is deleted and a file with a higher id added: an offset would now skip an entry.
    pub(crate) change_after_first_page: Option<String>,
    /// `GET /users/me`; `owner@example.com` of enterprise 55555 when none.
    pub(crate) me: Option<Value>,
    /// Files whose download answers `202` with `Retry-After: 0` this many more times.
    pub(crate) not_ready: HashMap<String, u32>,
    /// Files whose listing entry lacks `modified_at` (a malformed entry).
    pub(crate) malformed: Vec<String>,
    /// Folders whose collaborations answer 403 (the owner hides them from collaborators).
    pub(crate) hidden_collaborations: Vec<String>,
    /// Folders whose pages, asked with a marker, name that same marker as the next one.
    pub(crate) stuck_marker: Vec<String>,
    /// Comments by file id, as `GET /files/{id}/comments` sends them.
    pub(crate) comments: HashMap<String, Vec<Value>>,
    /// The root's web link: its URL (`etag` 0 while it is the first one).
    pub(crate) web_link_url: Option<String>,
}

/// The fixture's Box account; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct BoxApi {
    pub(crate) state: Arc<Mutex<State>>,
    /// The base URL of the download host.
    pub(crate) dl: Arc<Mutex<String>>,
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "type": "error", "status": status, "code": code, "message": message,
        "help_url": "http://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/",
        "request_id": "abcdef123456"
    }))
}

pub(crate) fn not_found() -> ResponseTemplate {
    error(404, "not_found", "Could not find the specified resource")
}

impl BoxApi {
    pub(crate) fn new(files: Vec<File>, folders: Vec<Folder>, page: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                files,
                folders,
                page,
                ..State::default()
            })),
            dl: Arc::default(),
        }
    }

    fn path_collection(st: &State, parent: &str) -> Value {
        let mut chain = Vec::new();
        let mut at = parent.to_owned();
        while at != "0" {
            let Some(f) = st.folders.iter().find(|f| f.id == at) else {
                break;
            };
            chain.push(json!({"type": "folder", "id": f.id, "sequence_id": "1", "etag": "1", "name": f.name}));
            at = f.parent.clone();
        }
        chain.push(json!({"type": "folder", "id": "0", "sequence_id": null, "etag": null, "name": "All Files"}));
        chain.reverse();
        json!({"total_count": chain.len(), "entries": chain})
    }

    fn file_json(st: &State, f: &File) -> Value {
        let sha1 = sha1_like(&f.body);
        let mut v = json!({
            "type": "file", "id": f.id, "sequence_id": "3", "etag": f.etag.to_string(),
            "sha1": sha1, "name": f.name, "size": f.body.len(),
            "description": if f.name.ends_with(".pdf") { "Quarterly figures" } else { "" },
            "created_at": box_time(time(0)),
            "modified_at": box_time(time(f.minute)),
            "content_created_at": box_time(time(0)),
            "content_modified_at": box_time(time(f.minute)),
            "owned_by": user("owner@example.com"),
            "modified_by": user("Editor@Example.com"),
            "has_collaborations": !f.collaborators.is_empty(),
            "shared_link": match (&f.link, f.open_link) {
                (Some(link), _) => link.clone(),
                (None, true) => json!({"url": format!("https://app.box.com/s/{}", f.id), "access": "open", "effective_access": "open", "is_password_enabled": false}),
                (None, false) => Value::Null,
            },
            "item_status": "active",
            "comment_count": st.comments.get(&f.id).map_or(0, Vec::len),
            "file_version": {"type": "file_version", "id": format!("{}0", f.id), "sha1": sha1},
            "path_collection": Self::path_collection(st, &f.parent),
        });
        if st.malformed.contains(&f.id) {
            v.as_object_mut().unwrap().remove("modified_at");
        }
        v
    }

    /// The root's web link, as the listing sends it with the connector's `fields`.
    fn web_link_json(st: &State) -> Value {
        let (url, etag) = match &st.web_link_url {
            Some(url) => (url.as_str(), "1"),
            None => ("https://example.com/handbook", "0"),
        };
        json!({
            "type": "web_link", "id": "9999999", "sequence_id": "0", "etag": etag,
            "name": "Handbook", "url": url, "description": "The staff handbook",
            "created_at": box_time(time(0)), "modified_at": box_time(time(7)),
            "owned_by": user("owner@example.com"), "modified_by": user("owner@example.com"),
            "shared_link": null, "item_status": "active",
            "path_collection": Self::path_collection(st, "0"),
        })
    }

    fn folder_json(st: &State, f: &Folder) -> Value {
        json!({
            "type": "folder", "id": f.id, "sequence_id": "1", "etag": "1", "name": f.name,
            "modified_at": box_time(time(0)), "created_at": box_time(time(0)),
            "owned_by": user("owner@example.com"),
            "has_collaborations": !f.collaborators.is_empty(), "shared_link": null,
            "item_status": "active",
            "path_collection": Self::path_collection(st, &f.parent),
        })
    }

    /// The folder's entries in id order (markers continue after the last id served).
    fn entries(st: &State, folder: &str) -> Vec<(u64, Value)> {
        let mut out: Vec<(u64, Value)> = st
            .folders
            .iter()
            .filter(|f| f.parent == folder)
            .map(|f| (f.id.parse().unwrap(), Self::folder_json(st, f)))
            .chain(
                st.files
                    .iter()
                    .filter(|f| f.parent == folder)
                    .map(|f| (f.id.parse().unwrap(), Self::file_json(st, f))),
            )
            .collect();
        if folder == "0" {
            out.push((9_999_999, Self::web_link_json(st)));
        }
        out.sort_by_key(|(id, _)| *id);
        out
    }

    fn items(&self, folder: &str, req: &Request) -> ResponseTemplate {
        let query: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let mut st = self.state.lock().unwrap();
        if folder != "0" && !st.folders.iter().any(|f| f.id == folder) {
            return not_found();
        }
        if query.get("usemarker").map(String::as_str) != Some("true") {
            return error(400, "bad_request", "usemarker expected");
        }
        let limit = query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(100)
            .min(st.page.max(1));
        let after: u64 = match query.get("marker") {
            None => 0,
            Some(m) => match m.strip_prefix("JV9IRGZm").and_then(|n| n.parse().ok()) {
                Some(n) => n,
                None => return error(400, "invalid_parameter", "Invalid value 'marker'."),
            },
        };
        if after != 0 && st.change_after_first_page.as_deref() == Some(folder) {
            st.change_after_first_page = None;
            if let Some(pos) = st.files.iter().position(|f| f.parent == folder) {
                st.files.remove(pos);
            }
            let mut added = File::new(8_888_888, "added-meanwhile.md", folder, b"new");
            added.minute = 20;
            st.files.push(added);
        }
        let entries = Self::entries(&st, folder);
        let page: Vec<&(u64, Value)> = entries
            .iter()
            .filter(|(id, _)| *id > after)
            .take(limit)
            .collect();
        let more = entries.iter().filter(|(id, _)| *id > after).count() > page.len();
        let next = match (more, page.last()) {
            _ if after != 0 && st.stuck_marker.iter().any(|f| f == folder) => {
                json!(format!("JV9IRGZm{after}"))
            }
            (true, Some((id, _))) => json!(format!("JV9IRGZm{id}")),
            _ => Value::Null,
        };
        let body = json!({
            "entries": page.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            "limit": limit, "next_marker": next,
        });
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn collaborations(&self, collaborators: &[&str]) -> ResponseTemplate {
        let entries: Vec<Value> = collaborators
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (role, c) = match c.strip_prefix("uploader:") {
                    Some(rest) => ("uploader", rest),
                    None => ("editor", *c),
                };
                let by = match c.strip_prefix("group:") {
                    Some(g) => json!({"type": "group", "id": g, "name": "Engineering", "group_type": "managed_group"}),
                    None => user(c),
                };
                let status = if c.starts_with("pending") { "pending" } else { "accepted" };
                json!({"type": "collaboration", "id": format!("{}", 1_000 + i), "role": role,
                    "status": status, "accessible_by": by, "created_at": box_time(time(0))})
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"entries": entries, "limit": 1000, "next_marker": null}))
    }
}

/// A SHA-1-shaped (40 hex) digest of the bytes: the fixture only needs it to follow them.
fn sha1_like(body: &[u8]) -> String {
    let h = connector_core::ids::hash128_bytes(body);
    format!("{h}{}", &h[..8.min(h.len())])
}

struct Api(BoxApi);
impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = req.url.path().trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["2.0", "folders", id, "items"] => self.0.items(id, req),
            ["2.0", "users", "me"] => {
                let st = self.0.state.lock().unwrap();
                let me = st.me.clone().unwrap_or_else(|| {
                    let mut me = user("owner@example.com");
                    me["enterprise"] = json!({"type": "enterprise", "id": "55555", "name": "Acme"});
                    me
                });
                ResponseTemplate::new(200).set_body_json(me)
            }
            ["2.0", "folders", id, "collaborations"] => {
                let st = self.0.state.lock().unwrap();
                if st.hidden_collaborations.iter().any(|h| h == id) {
                    return error(
                        403,
                        "access_denied_insufficient_permissions",
                        "Access denied - insufficient permission",
                    );
                }
                match st.folders.iter().find(|f| f.id == *id) {
                    Some(f) => self.0.collaborations(&f.collaborators),
                    None => not_found(),
                }
            }
            ["2.0", "folders", id] => {
                let st = self.0.state.lock().unwrap();
                match st.folders.iter().find(|f| f.id == *id) {
                    Some(f) => {
                        ResponseTemplate::new(200).set_body_json(BoxApi::folder_json(&st, f))
                    }
                    None => not_found(),
                }
            }
            ["2.0", "files", id, "collaborations"] => {
                let st = self.0.state.lock().unwrap();
                match st.files.iter().find(|f| f.id == *id) {
                    Some(f) => self.0.collaborations(&f.collaborators),
                    None => not_found(),
                }
            }
            ["2.0", "web_links", "9999999"] => {
                let st = self.0.state.lock().unwrap();
                ResponseTemplate::new(200).set_body_json(BoxApi::web_link_json(&st))
            }
            ["2.0", "files", id, "comments"] => {
                let st = self.0.state.lock().unwrap();
                if !st.files.iter().any(|f| f.id == *id) {
                    return not_found();
                }
                let all = st.comments.get(*id).cloned().unwrap_or_default();
                let query: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
                let offset: usize = query
                    .get("offset")
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(0);
                // Box caps a page; the fixture pages by 2 so the connector must follow.
                let limit: usize = query
                    .get("limit")
                    .and_then(|o| o.parse::<usize>().ok())
                    .unwrap_or(100)
                    .min(2);
                let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "total_count": all.len(), "entries": page, "offset": offset, "limit": limit}))
            }
            ["2.0", "files", id, "content"] => {
                let mut st = self.0.state.lock().unwrap();
                if st.gone_on_download.iter().any(|g| g == id)
                    || !st.files.iter().any(|f| f.id == *id)
                {
                    return not_found();
                }
                if let Some(left) = st.not_ready.get_mut(*id).filter(|n| **n > 0) {
                    *left -= 1;
                    return ResponseTemplate::new(202).insert_header("Retry-After", "0");
                }
                let dl = self.0.dl.lock().unwrap().clone();
                ResponseTemplate::new(302).insert_header(
                    "Location",
                    format!("{dl}/d/1/{id}/download?sig=abc").as_str(),
                )
            }
            ["2.0", "files", id] => {
                let st = self.0.state.lock().unwrap();
                match st.files.iter().find(|f| f.id == *id) {
                    Some(f) => ResponseTemplate::new(200).set_body_json(BoxApi::file_json(&st, f)),
                    None => not_found(),
                }
            }
            _ => error(404, "not_found", "no such endpoint"),
        }
    }
}

struct Dl(BoxApi);
impl Respond for Dl {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id = req.url.path().split('/').nth(3).unwrap_or_default();
        let st = self.0.state.lock().unwrap();
        match st.files.iter().find(|f| f.id == id) {
            Some(f) => ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/octet-stream")
                .set_body_bytes(f.body.clone()),
            None => ResponseTemplate::new(404),
        }
    }
}

/// The API server and the download server of one Box account.
pub(crate) struct Servers {
    pub(crate) api: MockServer,
    pub(crate) dl: MockServer,
    pub(crate) box_api: BoxApi,
}

impl Servers {
    pub(crate) async fn start(box_api: BoxApi) -> Self {
        let api = MockServer::start().await;
        let dl = MockServer::start().await;
        *box_api.dl.lock().unwrap() = dl.uri();
        mount(&api, &box_api).await;
        Mock::given(method("GET"))
            .and(path_regex("^/d/1/"))
            .respond_with(Dl(box_api.clone()))
            .mount(&dl)
            .await;
        Self { api, dl, box_api }
    }

    pub(crate) async fn requests_to(&self, prefix: &str) -> Vec<wiremock::Request> {
        let mut all = self.api.received_requests().await.unwrap_or_default();
        all.extend(self.dl.received_requests().await.unwrap_or_default());
        all.into_iter()
            .filter(|r| r.url.path().starts_with(prefix))
            .collect()
    }

    pub(crate) async fn downloads(&self) -> usize {
        self.dl.received_requests().await.unwrap_or_default().len()
    }
}

pub(crate) async fn mount(server: &MockServer, box_api: &BoxApi) {
    Mock::given(method("GET"))
        .and(path_regex("^/2\\.0/"))
        .respond_with(Api(box_api.clone()))
        .mount(server)
        .await;
}

/// A token endpoint that answers `refresh` with `access`/`next_refresh`, once; every other
/// refresh token is `invalid_grant` (Box's refresh tokens are single-use).
pub(crate) async fn token_endpoint(
    server: &MockServer,
    refresh: &str,
    access: &str,
    next_refresh: &str,
) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(wiremock::matchers::body_string_contains(
            "grant_type=refresh_token",
        ))
        .and(wiremock::matchers::body_string_contains(
            format!("refresh_token={refresh}").as_str(),
        ))
        .and(wiremock::matchers::body_string_contains(
            "client_id=ly1nj6n11vionaie65emwzk575hnnmrk",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access, "expires_in": 3600, "restricted_to": [],
            "refresh_token": next_refresh, "token_type": "bearer"})))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(server)
        .await;
}

pub(crate) async fn token_refusals(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Refresh token has expired"})))
        .with_priority(10)
        .mount(server)
        .await;
}

/// The standard tree: two folders (one shared), files at the root and below.
pub(crate) fn tree() -> (Vec<File>, Vec<Folder>) {
    let folders = vec![
        Folder {
            id: "100".into(),
            name: "Docs".into(),
            parent: "0".into(),
            collaborators: vec!["bob@example.com", "group:900", "pending@example.com"],
        },
        Folder {
            id: "110".into(),
            name: "Sub".into(),
            parent: "100".into(),
            collaborators: vec![],
        },
    ];
    let mut e = File::new(205, "e.txt", "0", b"shared with carol");
    e.collaborators = vec!["Carol@Example.com"];
    e.open_link = true;
    let files = vec![
        File::new(201, "a.md", "100", b"# A"),
        File::new(202, "b.txt", "100", b"bee"),
        File::new(203, "c.pdf", "110", b"%PDF-1.4 c"),
        File::new(204, "d.md", "0", b"dee"),
        e,
    ];
    (files, folders)
}

pub(crate) fn standard(page: usize) -> BoxApi {
    let (files, folders) = tree();
    BoxApi::new(files, folders, page)
}

pub(crate) fn tokens(access: Option<&str>, refresh: Option<&str>) -> String {
    let mut t = json!({"client_id": "ly1nj6n11vionaie65emwzk575hnnmrk", "client_secret": CLIENT_SECRET,
        "redirect_uri": "http://localhost:9380/v1/connector/box/oauth/web/callback"});
    if let Some(a) = access {
        t["access_token"] = json!(a);
    }
    if let Some(r) = refresh {
        t["refresh_token"] = json!(r);
    }
    t.to_string()
}

pub(crate) fn config(uri: &str, box_tokens: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "credentials": {"box_tokens": box_tokens},
        "api_base_url": uri, "token_url": format!("{uri}/oauth2/token"),
        "allowed_hosts": ["127.0.0.1"],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
}

pub(crate) fn build_with(uri: &str, box_tokens: &str, extra: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build("box", config(uri, box_tokens, extra))
        .expect("a valid config")
}

pub(crate) fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    build_with(uri, &tokens(Some(ACCESS), None), extra)
}

/// A comment as `GET /files/{id}/comments` sends it.
pub(crate) fn comment(id: u32, by: &str, message: &str, minute: u32) -> Value {
    json!({"type": "comment", "id": id.to_string(), "is_reply_comment": false,
        "message": message, "created_by": user(by), "created_at": box_time(time(minute)),
        "modified_at": box_time(time(minute))})
}

pub(crate) type Sorted = BTreeMap<String, Value>;
