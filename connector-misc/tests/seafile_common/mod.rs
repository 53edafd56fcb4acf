//! A SeaFile server in wiremock, written from SeaFile's Web API reference (api2 and
//! `api/v2.1/via-repo-token`): libraries as `GET /api2/repos/` lists them (`repo`, `srepo`,
//! `grepo`, `encrypted`), directory entries with `type`, `id`, `name`, `mtime`, `size`,
//! download links as JSON strings to a `/seafhttp/files/<token>/<name>` file server that
//! answers `ETag: <object id>`, errors as `{"error_msg": …}` / `{"detail": …}`, 440 for an
//! encrypted library.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const ACCOUNT_TOKEN: &str = "24fd3c026886e3121b2ca630805ed425c272cb96";
pub(crate) const REPO_TOKEN: &str = "f2210dacd9c6ccb8133606d94ff8e61d99b477fd";
pub(crate) const ME: &str = "me@example.com";

pub(crate) const HANDBOOK: &str = "1f6a3ed4-a53c-4f02-a688-eac373347127";
pub(crate) const TEAM: &str = "b50d8399-dafb-4682-950f-a35142ed9169";
pub(crate) const VAULT: &str = "d4f596ed-09ea-4ac6-8d59-12acbd089097";

pub(crate) fn day(n: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, n, 9, 0, 0).unwrap()
}

#[derive(Clone)]
pub(crate) struct File {
    pub(crate) body: Vec<u8>,
    pub(crate) mtime: i64,
    /// Bumped by an edit, so the object id follows the content.
    pub(crate) rev: u32,
}

impl File {
    pub(crate) fn object_id(&self, path: &str) -> String {
        // SeaFile's object ids are SHA-1 hex of the content; any id that follows the bytes
        // serves the fixture.
        let h = connector_core::ids::hash128_bytes(&self.body);
        let p = connector_core::ids::hash128(path);
        format!("{}{}", &h[..20.min(h.len())], &p[..20.min(p.len())])
    }
}

#[derive(Clone)]
pub(crate) struct Lib {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The `GET /api2/repos/` entries of the library (one per way it reaches the account).
    pub(crate) entries: Vec<Value>,
    pub(crate) encrypted: bool,
    pub(crate) files: BTreeMap<String, File>,
    /// Who the owner shared it with: users (their e-mail) and groups (their id).
    pub(crate) user_shares: Vec<String>,
    pub(crate) group_shares: Vec<u64>,
    /// The time of its last commit (Unix seconds), listed as the library's `mtime`.
    pub(crate) committed: i64,
}

/// When the fixture's edits are committed: the day between a run at day 28 and one at day 30.
pub(crate) const COMMIT_DAY: u32 = 29;

impl Lib {
    /// Records a change made now (see [`COMMIT_DAY`]).
    pub(crate) fn commit(&mut self) {
        self.committed = self.committed.max(day(COMMIT_DAY).timestamp());
    }
}

/// An edit waiting for a download link: (repo, path, new body).
pub(crate) type Edit = (String, String, Vec<u8>);

/// The server's state; the responder reads it on every request.
#[derive(Clone, Default)]
pub(crate) struct Seafile {
    pub(crate) libs: Arc<Mutex<Vec<Lib>>>,
    links: Arc<Mutex<BTreeMap<String, (String, String)>>>,
    next: Arc<AtomicUsize>,
    /// The library a repo token belongs to.
    pub(crate) repo_token_lib: String,
    /// Edits applied to a file right after its download link is handed out:
    /// (repo, path, new body).
    pub(crate) change_on_link: Arc<Mutex<Vec<Edit>>>,
    /// The server's own address, for the download links it hands out.
    base: Arc<Mutex<String>>,
    /// The tokens handed out by the repo-token API, which the file server spends on use.
    one_time: Arc<Mutex<Vec<String>>>,
    /// The next request for a file answers 502 after the file server took its token (a
    /// proxy failing in front of it).
    pub(crate) fail_first_download: Arc<std::sync::atomic::AtomicBool>,
}

pub(crate) fn file(body: &[u8], day_n: u32) -> File {
    File {
        body: body.to_vec(),
        mtime: day(day_n).timestamp(),
        rev: 0,
    }
}

fn repo_entry(kind: &str, id: &str, name: &str, owner: &str, encrypted: bool) -> Value {
    json!({
        "type": kind, "id": id, "name": name, "owner": owner,
        "owner_name": owner.split('@').next().unwrap_or(owner), "owner_contact_email": owner,
        "mtime": 1_741_770_000, "mtime_relative": "<time datetime=\"2025-03-12T09:00:00\">…</time>",
        "modifier_email": owner, "modifier_name": "x", "modifier_contact_email": owner,
        "size": 1234, "size_formatted": "1.2 KB", "encrypted": encrypted, "permission": "rw",
        "virtual": false, "root": "", "head_commit_id": "93ce6ee4db3ebf9289b88d054aa9d507133eebe1",
        "version": 1, "salt": "",
    })
}

/// Three libraries: the account's own `Handbook`, `Team` shared with it by lian personally and
/// through group 70 (listed twice), and an encrypted `Vault`.
pub(crate) fn seafile(handbook: &[(&str, File)], team: &[(&str, File)]) -> Seafile {
    let mut team_group = repo_entry("grepo", TEAM, "Team", "group-of-lian", false);
    team_group["groupid"] = json!(70);
    team_group["group_name"] = json!("group-of-lian");
    let mut team_shared = repo_entry("srepo", TEAM, "Team", "lian@lian.com", false);
    team_shared["share_type"] = json!("personal");
    let libs = vec![
        Lib {
            id: HANDBOOK.into(),
            name: "Handbook".into(),
            entries: vec![repo_entry("repo", HANDBOOK, "Handbook", ME, false)],
            encrypted: false,
            files: handbook
                .iter()
                .map(|(p, f)| ((*p).to_owned(), f.clone()))
                .collect(),
            user_shares: Vec::new(),
            group_shares: Vec::new(),
            committed: 0,
        },
        Lib {
            id: TEAM.into(),
            name: "Team".into(),
            entries: vec![team_shared, team_group],
            encrypted: false,
            files: team
                .iter()
                .map(|(p, f)| ((*p).to_owned(), f.clone()))
                .collect(),
            user_shares: Vec::new(),
            group_shares: Vec::new(),
            committed: 0,
        },
        Lib {
            id: VAULT.into(),
            name: "Vault".into(),
            entries: vec![repo_entry("repo", VAULT, "Vault", ME, true)],
            encrypted: true,
            files: BTreeMap::from([("/secret.md".to_owned(), file(b"s", 1))]),
            user_shares: Vec::new(),
            group_shares: Vec::new(),
            committed: 0,
        },
    ];
    let libs = libs
        .into_iter()
        .map(|mut l| {
            l.committed = l.files.values().map(|f| f.mtime).max().unwrap_or(0);
            l
        })
        .collect::<Vec<_>>();
    Seafile {
        libs: Arc::new(Mutex::new(libs)),
        repo_token_lib: HANDBOOK.into(),
        ..Seafile::default()
    }
}

pub(crate) fn handbook_files() -> Vec<(&'static str, File)> {
    vec![
        ("/guide/intro.md", file(b"# Intro", 1)),
        ("/guide/setup/install.md", file(b"Install it.", 2)),
        ("/guide.txt", file(b"see guide/", 3)),
        ("/data/table.csv", file(b"a,b\n1,2\n", 4)),
        ("/report.pdf", file(b"%PDF-1.4 \xff\x00", 5)),
        (
            "/notes/\u{e9}t\u{e9} #1.md",
            file("\u{e9}t\u{e9}".as_bytes(), 6),
        ),
    ]
}

pub(crate) fn team_files() -> Vec<(&'static str, File)> {
    vec![("/plan.md", file(b"# Plan", 7))]
}

fn error(status: u16, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error_msg": msg}))
}

impl Seafile {
    fn lib(&self, id: &str) -> Option<Lib> {
        self.libs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.id == id)
            .cloned()
    }

    pub(crate) fn edit(&self, repo: &str, path: &str, body: &[u8], day_n: u32) {
        let mut libs = self.libs.lock().unwrap();
        let lib = libs.iter_mut().find(|l| l.id == repo).unwrap();
        let f = lib
            .files
            .entry(path.to_owned())
            .or_insert_with(|| file(b"", day_n));
        f.body = body.to_vec();
        f.mtime = day(day_n).timestamp();
        f.rev += 1;
        lib.commit();
    }

    /// The entries of folder `dir` (`/` or `/a/b`), as api2 lists them.
    fn dirents(&self, lib: &Lib, dir: &str) -> Option<Vec<Value>> {
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        let mut folders = BTreeMap::new();
        let mut files = Vec::new();
        let mut exists = dir == "/";
        for (path, f) in &lib.files {
            let Some(rest) = path.strip_prefix(&prefix) else {
                continue;
            };
            exists = true;
            match rest.split_once('/') {
                Some((sub, _)) => {
                    let e = folders.entry(sub.to_owned()).or_insert(0);
                    *e = (*e).max(f.mtime);
                }
                None => files.push(json!({
                    "type": "file", "id": f.object_id(path), "name": rest, "mtime": f.mtime,
                    "permission": "rw", "parent_dir": dir, "size": f.body.len(),
                    "modifier_email": ME, "modifier_name": "me", "modifier_contact_email": ME,
                    "is_locked": false, "lock_time": 0, "lock_owner": "", "starred": false,
                })),
            }
        }
        if !exists {
            return None;
        }
        // SeaFile lists folders first, each group by name; the connector sorts anyway.
        let mut out: Vec<Value> = folders
            .into_iter()
            .map(|(name, mtime)| {
                json!({
                    "type": "dir", "id": "04f3fb2b992c7aa1eb897a4e2c46b3212def1028", "name": name,
                    "mtime": mtime, "permission": "rw", "parent_dir": dir, "starred": false,
                })
            })
            .collect();
        files.reverse();
        out.extend(files);
        Some(out)
    }

    fn link(&self, base: &str, repo: &str, path: &str, one_time: bool) -> ResponseTemplate {
        let Some(lib) = self.lib(repo) else {
            return error(404, "Library not found.");
        };
        if !lib.files.contains_key(path) {
            return error(404, "File not found");
        }
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let token = format!("28ed9480-f48e-4734-b972-{n:012}");
        self.links
            .lock()
            .unwrap()
            .insert(token.clone(), (repo.to_owned(), path.to_owned()));
        if one_time {
            self.one_time.lock().unwrap().push(token.clone());
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let mut url = url::Url::parse(base).unwrap();
        url.path_segments_mut()
            .unwrap()
            .extend(["seafhttp", "files", &token, name]);
        let pending: Vec<_> = std::mem::take(&mut *self.change_on_link.lock().unwrap());
        for (r, p, body) in pending {
            self.edit(&r, &p, &body, 20);
        }
        ResponseTemplate::new(200).set_body_json(json!(url.as_str()))
    }
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

impl Respond for Seafile {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().to_owned();
        let base = self.base.lock().unwrap().clone();
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if let Some(rest) = path.strip_prefix("/seafhttp/files/") {
            let token = rest.split('/').next().unwrap_or("");
            // seafhttp answers 400 for a token it does not know (expired, or one-time and
            // spent); repo-token links are one-time (`FILESERVER_TOKEN_ONCE_ONLY`).
            let known = {
                let mut links = self.links.lock().unwrap();
                let known = links.get(token).cloned();
                if known.is_some() && self.one_time.lock().unwrap().iter().any(|t| t == token) {
                    links.remove(token);
                }
                known
            };
            let Some((repo, p)) = known else {
                return ResponseTemplate::new(400).set_body_string("Bad access token\n");
            };
            if self.fail_first_download.swap(false, Ordering::SeqCst) {
                return ResponseTemplate::new(502).set_body_string("Bad Gateway");
            }
            let lib = self.lib(&repo).unwrap();
            let Some(f) = lib.files.get(&p) else {
                return ResponseTemplate::new(404).set_body_string("File not found");
            };
            return ResponseTemplate::new(200)
                .insert_header("ETag", f.object_id(&p).as_str())
                .insert_header("Content-Type", "application/octet-stream")
                .set_body_bytes(f.body.clone());
        }
        if let Some(rest) = path.strip_prefix("/api/v2.1/via-repo-token/") {
            if auth != format!("Token {REPO_TOKEN}") {
                return ResponseTemplate::new(401)
                    .set_body_json(json!({"detail": "Token inactive or deleted"}));
            }
            let lib = self.lib(&self.repo_token_lib).unwrap();
            return match rest {
                "repo-info/" => ResponseTemplate::new(200)
                    .set_body_json(json!({"repo_id": lib.id, "repo_name": lib.name})),
                "dir/" => {
                    if lib.encrypted {
                        return error(440, "Library password is needed.");
                    }
                    let dir = query(req, "path").unwrap_or_else(|| "/".into());
                    match self.dirents(&lib, &dir) {
                        Some(list) => ResponseTemplate::new(200).set_body_json(json!({
                            "user_perm": "rw", "dir_id": "dc561abe027728f36ea6d02b7b4439ba1aba1b3b",
                            "dirent_list": list})),
                        None => error(404, &format!("Folder {dir} not found.")),
                    }
                }
                "download-link/" => {
                    let p = query(req, "path").unwrap_or_default();
                    self.link(&base, &lib.id, &p, true)
                }
                _ => error(404, "Not found."),
            };
        }
        let Some(rest) = path.strip_prefix("/api2/") else {
            return error(404, "Not found.");
        };
        if auth != format!("Token {ACCOUNT_TOKEN}") {
            return ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token"}));
        }
        if rest == "account/info/" {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"usage": 26038531, "total": 104857600, "email": ME}));
        }
        if rest == "repos/" {
            let list: Vec<Value> = self
                .libs
                .lock()
                .unwrap()
                .iter()
                .rev()
                .flat_map(|l| {
                    l.entries.iter().map(|e| {
                        let mut e = e.clone();
                        e["mtime"] = json!(l.committed);
                        e
                    })
                })
                .collect();
            return ResponseTemplate::new(200).set_body_json(list);
        }
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let Some(lib) = parts.get(1).and_then(|id| self.lib(id)) else {
            return error(404, "Library not found.");
        };
        match parts.get(2).copied() {
            // seahub's `Repo.get`: `type` is always `repo`, `owner` is `self` or `share`, and
            // nothing tells how the library reaches the account.
            None => {
                let own = lib.entries.iter().any(|e| e["type"] == "repo");
                let mut info = lib.entries[0].clone();
                info["type"] = json!("repo");
                info["owner"] = json!(if own { "self" } else { "share" });
                if let Some(m) = info.as_object_mut() {
                    for key in ["groupid", "group_name", "share_type"] {
                        m.remove(key);
                    }
                }
                ResponseTemplate::new(200).set_body_json(info)
            }
            // seahub's `DirSharedItemsEndpoint`: what the owner shared the library with.
            Some("dir") if parts.get(3) == Some(&"shared_items") => {
                let own = lib.entries.iter().any(|e| e["type"] == "repo");
                let items: Vec<Value> = match query(req, "share_type").as_deref() {
                    Some("user") if own => lib
                        .user_shares
                        .iter()
                        .map(|u| {
                            json!({"share_type": "user", "permission": "r",
                            "user_info": {"name": u, "nickname": u.split('@').next()}})
                        })
                        .collect(),
                    Some("group") if own => lib
                        .group_shares
                        .iter()
                        .map(|g| {
                            json!({"share_type": "group", "permission": "rw",
                            "group_info": {"id": g, "name": format!("group {g}")}})
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                ResponseTemplate::new(200).set_body_json(items)
            }
            Some("dir") => {
                if lib.encrypted {
                    return error(440, "Library password is needed.");
                }
                let dir = query(req, "p").unwrap_or_else(|| "/".into());
                match self.dirents(&lib, &dir) {
                    Some(list) => ResponseTemplate::new(200).set_body_json(list),
                    None => error(404, "Folder not found."),
                }
            }
            Some("file") => {
                let p = query(req, "p").unwrap_or_default();
                self.link(&base, &lib.id, &p, false)
            }
            _ => error(404, "Not found."),
        }
    }
}

pub(crate) async fn serve(seafile: &Seafile) -> MockServer {
    let server = MockServer::start().await;
    mount(&server, seafile).await;
    server
}

pub(crate) async fn mount(server: &MockServer, seafile: &Seafile) {
    seafile.base.lock().unwrap().clone_from(&server.uri());
    Mock::given(wiremock::matchers::any())
        .respond_with(seafile.clone())
        .mount(server)
        .await;
}

/// RAGFlow's config shape, pointed at `uri`, with `extra` merged in (`credentials` too).
pub(crate) fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "seafile_url": uri,
        "sync_scope": "account",
        "include_shared": true,
        "credentials": {"seafile_token": ACCOUNT_TOKEN},
        "allowed_hosts": ["127.0.0.1"],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        for (k, v) in e {
            if k == "credentials" {
                if let (Some(Value::Object(c)), Value::Object(v)) = (m.get_mut("credentials"), v) {
                    c.extend(v);
                }
            } else {
                m.insert(k, v);
            }
        }
    }
    cfg
}

pub(crate) fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build("seafile", config(uri, extra))
        .expect("a valid config")
}

pub(crate) fn id(repo: &str, path: &str) -> String {
    format!("seafile:{repo}:{path}")
}

pub(crate) async fn requests_to(server: &MockServer, pred: impl Fn(&str) -> bool) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| pred(r.url.path()))
        .count()
}
