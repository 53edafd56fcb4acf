//! Wiremock fixtures written from Google's API reference: the OAuth token endpoint (JWT bearer
//! and refresh-token grants, verifying the assertion with the test key's public half), Admin
//! SDK `users.list`, Drive v3 `files.list` / `drives.list` / export / `alt=media`, Gmail
//! `threads.list` / `threads.get` / attachments / `profile`, and Google's error bodies.
#![allow(dead_code, unreachable_pub)] // Each test file uses part of it.
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A test-only RSA key (see tests/fixtures/README.md); it belongs to no Google account.
pub const TEST_KEY: &str = include_str!("../fixtures/test-service-account-key.pem");
pub const TEST_PUBLIC_KEY: &str = include_str!("../fixtures/test-service-account-key.pub.pem");
pub const SA_EMAIL: &str = "indexer@test-project.iam.gserviceaccount.com";
pub const ADMIN: &str = "admin@example.com";
pub const REFRESH_TOKEN: &str = "1//refresh-token-test-5f2a9c";
pub const CLIENT_SECRET: &str = "GOCSPX-client-secret-test-77c1";

/// A service-account key as the Cloud console writes it, with the test key.
pub fn service_account_key() -> Value {
    json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": TEST_KEY,
        "client_email": SA_EMAIL,
        "client_id": "112233445566778899000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/indexer%40test-project.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com"
    })
}

/// An OAuth user token as google-auth's `Credentials.to_json()` writes it (RAGFlow's shape).
pub fn user_token() -> Value {
    json!({
        "token": "ya29.stale-access-token",
        "refresh_token": REFRESH_TOKEN,
        "token_uri": "https://oauth2.googleapis.com/token",
        "client_id": "1234-test.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "scopes": ["https://www.googleapis.com/auth/drive.readonly"],
        "universe_domain": "googleapis.com",
        "account": "",
        "expiry": "2026-01-01T00:00:00Z"
    })
}

/// Google's error body.
pub fn google_error(code: u16, reason: &str, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
        "status": status}})
}

#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default)]
    pub sub: Option<String>,
}

/// The token endpoint: verifies JWT assertions (signature with the public key, `aud` = this
/// endpoint, `iss`, expiry) and refresh grants; the access token names the subject
/// (`tok-{sub}`) so the API mocks know who is asking.
#[derive(Clone, Default)]
pub struct TokenEndpoint {
    pub claims: Arc<Mutex<Vec<Claims>>>,
    pub refreshes: Arc<Mutex<Vec<String>>>,
    /// Rotate the refresh token to this on the first refresh.
    pub rotate_to: Option<String>,
    /// Answer the JWT grant with this error (`unauthorized_client`, `invalid_grant`).
    pub fail: Option<(String, String)>,
    /// Answer the JWT grant for these subjects only with `(subject, error, description)`, as
    /// Google does for a suspended or deleted user (`invalid_grant`, "Invalid email or User
    /// ID") or a scope not delegated (`unauthorized_client`).
    pub refuse: Vec<(String, String, String)>,
    pub lifetime: u64,
}

impl Respond for TokenEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        if let Some((error, desc)) = &self.fail {
            return ResponseTemplate::new(if error == "unauthorized_client" {
                401
            } else {
                400
            })
            .set_body_json(json!({"error": error, "error_description": desc}));
        }
        let lifetime = if self.lifetime == 0 {
            3599
        } else {
            self.lifetime
        };
        match form.get("grant_type").map(String::as_str) {
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
                let Some(assertion) = form.get("assertion") else {
                    return ResponseTemplate::new(400)
                        .set_body_json(json!({"error": "invalid_request"}));
                };
                let key =
                    jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes()).unwrap();
                let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
                let host = req
                    .headers
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default();
                let aud = format!("http://{host}{}", req.url.path());
                v.set_audience(&[aud]);
                v.set_issuer(&[SA_EMAIL]);
                v.set_required_spec_claims(&["exp", "iss", "aud"]);
                match jsonwebtoken::decode::<Claims>(assertion, &key, &v) {
                    Ok(data) => {
                        let c = data.claims;
                        if let Some((_, error, desc)) = self
                            .refuse
                            .iter()
                            .find(|(sub, _, _)| c.sub.as_deref() == Some(sub.as_str()))
                        {
                            let status = if error == "unauthorized_client" { 401 } else { 400 };
                            return ResponseTemplate::new(status)
                                .set_body_json(json!({"error": error, "error_description": desc}));
                        }
                        assert!(c.exp - c.iat <= 3600, "assertion lives longer than an hour");
                        let sub = c.sub.clone().unwrap_or_else(|| "sa".into());
                        self.claims.lock().unwrap().push(c);
                        ResponseTemplate::new(200).set_body_json(json!({
                            "access_token": format!("tok-{sub}"), "expires_in": lifetime, "token_type": "Bearer"
                        }))
                    }
                    Err(e) => ResponseTemplate::new(400).set_body_json(json!({
                        "error": "invalid_grant", "error_description": format!("Invalid JWT Signature. {e}")
                    })),
                }
            }
            Some("refresh_token") => {
                let token = form.get("refresh_token").cloned().unwrap_or_default();
                let mut refreshes = self.refreshes.lock().unwrap();
                refreshes.push(token.clone());
                if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
                    return ResponseTemplate::new(401).set_body_json(
                        json!({"error": "invalid_client", "error_description": "Unauthorized"}),
                    );
                }
                let mut body = json!({
                    "access_token": "tok-me", "expires_in": lifetime, "token_type": "Bearer",
                    "scope": "https://www.googleapis.com/auth/drive.readonly"
                });
                if let Some(new) = &self.rotate_to {
                    if token == *new {
                        // Already rotated: no new one.
                    } else if token == REFRESH_TOKEN {
                        body["refresh_token"] = json!(new);
                    } else {
                        return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}));
                    }
                }
                ResponseTemplate::new(200).set_body_json(body)
            }
            _ => {
                ResponseTemplate::new(400).set_body_json(json!({"error": "unsupported_grant_type"}))
            }
        }
    }
}

pub async fn mount_token(server: &MockServer, endpoint: TokenEndpoint) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(endpoint)
        .mount(server)
        .await;
}

/// Who a request is from: the subject named by its bearer token.
pub fn caller(req: &Request) -> Option<String> {
    req.headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer tok-")
        .map(str::to_owned)
}

pub fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Pages of `per_page` from `items` by a `pageToken` of the form `p{offset}`.
pub fn paged(req: &Request, items: &[Value], per_page: usize, key: &str) -> Value {
    let start: usize = query(req, "pageToken")
        .and_then(|t| t.strip_prefix('p').and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut out = json!({ key: page });
    if start + per_page < items.len() {
        out["nextPageToken"] = json!(format!("p{}", start + per_page));
    }
    out
}

/// Admin SDK `users.list`.
#[derive(Clone)]
pub struct Directory {
    pub users: Vec<String>,
    pub per_page: usize,
}

impl Respond for Directory {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        // RAGFlow lists the primary admin's domain (not `customer=my_customer`).
        if caller(req).as_deref() != Some(ADMIN)
            || query(req, "domain").as_deref() != Some("example.com")
        {
            return ResponseTemplate::new(403).set_body_json(google_error(
                403,
                "forbidden",
                "PERMISSION_DENIED",
                "Not Authorized to access this resource/api",
            ));
        }
        let users: Vec<Value> = self
            .users
            .iter()
            .map(|u| json!({"kind": "admin#directory#user", "primaryEmail": u, "suspended": false, "archived": false}))
            .collect();
        let mut body = paged(req, &users, self.per_page, "users");
        body["kind"] = json!("admin#directory#users");
        ResponseTemplate::new(200).set_body_json(body)
    }
}

pub async fn mount_directory(server: &MockServer, users: &[&str], per_page: usize) {
    Mock::given(method("GET"))
        .and(path("/admin/directory/v1/users"))
        .respond_with(Directory {
            users: users.iter().map(|s| (*s).to_owned()).collect(),
            per_page,
        })
        .mount(server)
        .await;
}

/// One Drive file of the mock.
#[derive(Debug, Clone)]
pub struct DriveFile {
    pub id: String,
    pub name: String,
    pub mime: String,
    pub modified: String,
    pub owner: String,
    pub parents: Vec<String>,
    pub drive_id: Option<String>,
    pub shared_with: Vec<String>,
    pub content: Vec<u8>,
    /// Overrides the reported size.
    pub size: Option<u64>,
}

impl DriveFile {
    pub fn new(id: &str, owner: &str, minute: u32) -> Self {
        Self {
            id: id.into(),
            name: format!("{id}.txt"),
            mime: "text/plain".into(),
            modified: at(minute),
            owner: owner.into(),
            parents: vec![],
            drive_id: None,
            shared_with: vec![],
            content: format!("content of {id}").into_bytes(),
            size: None,
        }
    }

    pub fn mime(mut self, mime: &str) -> Self {
        self.mime = mime.into();
        self
    }

    pub fn in_drive(mut self, drive: &str) -> Self {
        self.drive_id = Some(drive.into());
        self.parents = vec![drive.into()];
        self
    }

    pub fn in_folder(mut self, folder: &str) -> Self {
        self.parents.push(folder.into());
        self
    }

    pub fn shared_with(mut self, user: &str) -> Self {
        self.shared_with.push(user.into());
        self
    }

    pub fn json(&self) -> Value {
        let google = self.mime.starts_with("application/vnd.google-apps.");
        let link = match self.mime.as_str() {
            "application/vnd.google-apps.document" => format!(
                "https://docs.google.com/document/d/{}/edit?usp=drivesdk",
                self.id
            ),
            "application/vnd.google-apps.spreadsheet" => format!(
                "https://docs.google.com/spreadsheets/d/{}/edit?usp=drivesdk",
                self.id
            ),
            "application/vnd.google-apps.folder" => {
                format!("https://drive.google.com/drive/folders/{}", self.id)
            }
            _ => format!(
                "https://drive.google.com/file/d/{}/view?usp=drivesdk",
                self.id
            ),
        };
        let mut v = json!({
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime,
            "modifiedTime": self.modified,
            "webViewLink": link,
            "version": "7",
            "owners": [{"kind": "drive#user", "displayName": self.owner, "emailAddress": self.owner}],
        });
        if !google {
            v["size"] = json!(self.size.unwrap_or(self.content.len() as u64).to_string());
            if let Some(ext) = self.name.rsplit_once('.').map(|(_, e)| e) {
                v["fileExtension"] = json!(ext);
            }
        }
        if let Some(d) = &self.drive_id {
            v["driveId"] = json!(d);
        }
        v
    }
}

/// 2026-01-15T10:MM:00.000Z
pub fn at(minute: u32) -> String {
    format!("2026-01-15T10:{minute:02}:00.000Z")
}

pub fn time(minute: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(&at(minute))
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Drive v3 over a list of files; pages of `per_page`, whatever `pageSize` asks.
#[derive(Clone)]
pub struct Drive {
    pub files: Arc<Mutex<Vec<DriveFile>>>,
    pub drives: Vec<String>,
    pub per_page: usize,
    pub queries: Arc<Mutex<Vec<String>>>,
}

impl Drive {
    fn list(&self, req: &Request) -> ResponseTemplate {
        let q = query(req, "q").unwrap_or_default();
        self.queries.lock().unwrap().push(q.clone());
        assert_eq!(query(req, "pageSize").as_deref(), Some("1000"));
        let fields = query(req, "fields").unwrap_or_default();
        assert!(
            fields.starts_with("nextPageToken,files("),
            "fields not trimmed: {fields}"
        );
        let who = caller(req).unwrap_or_default();
        let me = if who == "me" {
            "oauth@example.com".to_owned()
        } else {
            who
        };
        let bound = |op: &str| {
            q.split(&format!("modifiedTime {op} '"))
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .map(str::to_owned)
        };
        let (from, to) = (bound(">="), bound("<"));
        let files = self.files.lock().unwrap();
        let selected: Vec<Value> = files
            .iter()
            .filter(|f| {
                // The user's corpus: owned files (`'me' in owners`) and the others they can
                // see, here those shared with them (`not 'me' in owners`).
                if q.contains("not 'me' in owners") {
                    f.owner != me && f.shared_with.contains(&me)
                } else if q.contains("'me' in owners") {
                    f.owner == me && f.drive_id.is_none()
                } else if let Some(parent) = q.strip_prefix('\'').and_then(|s| s.split('\'').next())
                {
                    f.parents.iter().any(|p| p == parent)
                } else if let Some(d) = query(req, "driveId") {
                    f.drive_id.as_deref() == Some(d.as_str())
                } else {
                    false
                }
            })
            .filter(|f| from.as_ref().is_none_or(|s| f.modified >= *s))
            .filter(|f| to.as_ref().is_none_or(|e| f.modified < *e))
            .map(DriveFile::json)
            .collect();
        let mut body = paged(req, &selected, self.per_page, "files");
        body["kind"] = json!("drive#fileList");
        body["incompleteSearch"] = json!(false);
        ResponseTemplate::new(200).set_body_json(body)
    }
}

impl Respond for Drive {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let p = req.url.path();
        if p == "/drive/v3/files" {
            return self.list(req);
        }
        if p == "/drive/v3/drives" {
            let drives: Vec<Value> = self
                .drives
                .iter()
                .map(|d| json!({"kind": "drive#drive", "id": d, "name": format!("Drive {d}")}))
                .collect();
            return ResponseTemplate::new(200).set_body_json(paged(req, &drives, 1, "drives"));
        }
        if p == "/drive/v3/about" {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"user": {"emailAddress": caller(req)}}));
        }
        let rest = p.trim_start_matches("/drive/v3/files/");
        let (id, export) = match rest.strip_suffix("/export") {
            Some(id) => (id, true),
            None => (rest, false),
        };
        let files = self.files.lock().unwrap();
        let Some(f) = files.iter().find(|f| f.id == id) else {
            return ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                &format!("File not found: {id}."),
            ));
        };
        if export {
            let mime = query(req, "mimeType").unwrap_or_default();
            let body = format!("{} as {mime}\n", String::from_utf8_lossy(&f.content));
            return ResponseTemplate::new(200).set_body_raw(body.into_bytes(), &mime);
        }
        if query(req, "alt").as_deref() != Some("media") {
            return ResponseTemplate::new(200).set_body_json(f.json());
        }
        ResponseTemplate::new(200).set_body_raw(f.content.clone(), &f.mime)
    }
}

pub async fn mount_drive(
    server: &MockServer,
    files: Vec<DriveFile>,
    drives: &[&str],
    per_page: usize,
) -> Drive {
    let drive = Drive {
        files: Arc::new(Mutex::new(files)),
        drives: drives.iter().map(|s| (*s).to_owned()).collect(),
        per_page,
        queries: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path_regex(r"^/drive/v3/"))
        .respond_with(drive.clone())
        .mount(server)
        .await;
    drive
}

// ---------------------------------------------------------------- Gmail

pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn headers(from: &str, to: &str, subject: &str, content_type: &str) -> Value {
    json!([
        {"name": "From", "value": from},
        {"name": "To", "value": to},
        {"name": "Subject", "value": subject},
        {"name": "Date", "value": "Thu, 15 Jan 2026 10:00:00 +0000"},
        {"name": "Content-Type", "value": content_type}
    ])
}

/// A leaf part with its body inline.
pub fn leaf(part_id: &str, mime: &str, charset: &str, bytes: &[u8]) -> Value {
    json!({
        "partId": part_id, "mimeType": mime, "filename": "",
        "headers": [{"name": "Content-Type", "value": format!("{mime}; charset=\"{charset}\"")},
                    {"name": "Content-Transfer-Encoding", "value": "quoted-printable"}],
        "body": {"size": bytes.len(), "data": b64url(bytes)}
    })
}

/// A message (`format=full`) at minute `minute`.
pub fn message(id: &str, thread: &str, minute: u32, payload: Value) -> Value {
    json!({
        "id": id, "threadId": thread, "labelIds": ["INBOX", "CATEGORY_PERSONAL"],
        "snippet": "…", "historyId": "9001",
        "internalDate": (time(minute).timestamp_millis()).to_string(),
        "payload": payload, "sizeEstimate": 2048
    })
}

pub fn plain_message(
    id: &str,
    thread: &str,
    minute: u32,
    from: &str,
    subject: &str,
    body: &str,
) -> Value {
    let mut payload = leaf("", "text/plain", "UTF-8", body.as_bytes());
    payload["headers"] = headers(
        from,
        "team@example.com",
        subject,
        "text/plain; charset=\"UTF-8\"",
    );
    message(id, thread, minute, payload)
}

pub fn thread(id: &str, messages: Vec<Value>) -> Value {
    json!({"id": id, "historyId": format!("h-{id}-{}", messages.len()), "messages": messages})
}

/// Gmail v1 over mailboxes of threads; `threads.list` pages of `per_page`.
#[derive(Clone)]
pub struct Gmail {
    pub mailboxes: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    pub attachments: BTreeMap<String, Vec<u8>>,
    pub per_page: usize,
    pub queries: Arc<Mutex<Vec<String>>>,
}

fn last_millis(thread: &Value) -> i64 {
    thread["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["internalDate"].as_str()?.parse::<i64>().ok())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

impl Respond for Gmail {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let segs: Vec<&str> = req
            .url
            .path()
            .trim_start_matches("/gmail/v1/users/")
            .split('/')
            .collect();
        let who = caller(req).unwrap_or_default();
        let user = if segs[0] == "me" {
            "oauth@example.com".to_owned()
        } else {
            segs[0].to_owned()
        };
        if who != segs[0] && !(segs[0] == "me" && who == "me") {
            return ResponseTemplate::new(403).set_body_json(google_error(
                403,
                "forbidden",
                "PERMISSION_DENIED",
                "Delegation denied",
            ));
        }
        let boxes = self.mailboxes.lock().unwrap();
        let threads = boxes.get(&user).cloned().unwrap_or_default();
        match segs.get(1..) {
            Some(["profile"]) => ResponseTemplate::new(200).set_body_json(json!({
                "emailAddress": user, "messagesTotal": 10, "threadsTotal": threads.len(), "historyId": "9001"
            })),
            Some(["threads"]) => {
                let q = query(req, "q").unwrap_or_default();
                self.queries.lock().unwrap().push(q.clone());
                let num = |k: &str| q.split(k).nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse::<i64>().ok());
                let (after, before) = (num("after:"), num("before:"));
                let listed: Vec<Value> = threads
                    .iter()
                    .filter(|t| after.is_none_or(|a| last_millis(t) / 1000 > a))
                    .filter(|t| before.is_none_or(|b| last_millis(t) / 1000 < b))
                    .map(|t| json!({"id": t["id"], "snippet": "…", "historyId": t["historyId"]}))
                    .collect();
                let mut body = paged(req, &listed, self.per_page, "threads");
                body["resultSizeEstimate"] = json!(listed.len());
                ResponseTemplate::new(200).set_body_json(body)
            }
            Some(["threads", id]) => {
                // `minimal` (a history feed's look at the dates) answered in full: a superset.
                let format = query(req, "format").unwrap_or_default();
                assert!(format == "full" || format == "minimal", "format={format}");
                match threads.iter().find(|t| t["id"] == *id) {
                    Some(t) => ResponseTemplate::new(200).set_body_json(t),
                    None => ResponseTemplate::new(404).set_body_json(google_error(404, "notFound", "NOT_FOUND", "Requested entity was not found.")),
                }
            }
            Some(["messages", _, "attachments", aid]) => match self.attachments.get(*aid) {
                Some(data) => ResponseTemplate::new(200).set_body_json(json!({"size": data.len(), "data": b64url(data)})),
                None => ResponseTemplate::new(404).set_body_json(google_error(404, "notFound", "NOT_FOUND", "Invalid attachment token")),
            },
            _ => ResponseTemplate::new(404),
        }
    }
}

pub async fn mount_gmail(
    server: &MockServer,
    mailboxes: Vec<(&str, Vec<Value>)>,
    attachments: Vec<(&str, Vec<u8>)>,
    per_page: usize,
) -> Gmail {
    let gmail = Gmail {
        mailboxes: Arc::new(Mutex::new(
            mailboxes
                .into_iter()
                .map(|(u, t)| (u.to_owned(), t))
                .collect(),
        )),
        attachments: attachments
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        per_page,
        queries: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path_regex(r"^/gmail/v1/users/"))
        .respond_with(gmail.clone())
        .mount(server)
        .await;
    gmail
}
