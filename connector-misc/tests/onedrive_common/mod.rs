//! A fake Microsoft Graph for the OneDrive and SharePoint tests, in Graph's wire format: the
//! token endpoint, `/users`, `users/{id}/drive`, `drives/{id}`, root delta rounds
//! (`@odata.nextLink` pages, a `@odata.deltaLink` at the end that lists what changed after it,
//! `410 Gone` for an expired token, `@microsoft.graph.sharedChanged` on items shared since),
//! `items/{id}`, `items/{id}/children`, `root:/{path}:`, `items/{id}/permissions` (a file's
//! own and its folders', as SharePoint inherits them), `items/{id}/content` (a 302 to a
//! download URL on another host name, which must come without the token), `$batch`, and
//! SharePoint's sites: `sites/{hostname}:/{path}`, `sites/getAllSites`, `sites/{id}/drives`,
//! `sites/{id}/drive` and `sites/{id}/pages/microsoft.graph.sitePage` with `canvasLayout`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

#[path = "../graph_wire/mod.rs"]
pub mod graph_wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const SECRET: &str = "graph-client-secret-canary";
pub const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ.graph-access-token";

/// Minute `n` of 2026-03-01.
pub fn time(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::minutes(n)
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub name: String,
    /// The folder holding it (`root` for the top).
    pub parent: String,
    pub folder: bool,
    pub content: Vec<u8>,
    pub modified: DateTime<Utc>,
    pub ctag: u32,
    pub etag: u32,
    pub deleted: bool,
    /// The change number of its last change.
    pub changed: u64,
    /// Extra permissions (Graph's JSON) beside the owner's.
    pub permissions: Vec<Value>,
    /// The listing shows this item with a `size` that is not a number.
    pub malformed: bool,
    /// The change number of its last sharing change (listed only to a round that asks for
    /// `Prefer: deltashowsharingchanges`).
    pub shared: u64,
    /// Its permissions are its own (inheritance broken): nothing from above it.
    pub unique: bool,
}

#[derive(Debug, Default)]
pub struct Drive {
    pub owner: String,
    pub items: Vec<Item>,
    /// Permissions granted on the drive's root (a site's members), inherited by every item.
    pub root_permissions: Vec<Value>,
}

/// A SharePoint site.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// `{hostname},{site collection id},{web id}`.
    pub id: String,
    /// Its full URL.
    pub url: String,
    pub name: String,
    /// Its document libraries (drive ids).
    pub drives: Vec<String>,
    /// Its pages, as Graph's `sitePage` JSON with `canvasLayout`.
    pub pages: Vec<Value>,
    pub personal: bool,
    /// The drive of its Site Pages library (a file per page, by the page's `name`); empty:
    /// none.
    pub pages_drive: String,
}

#[derive(Debug, Default)]
pub struct State {
    /// (user id, user principal name, drive id)
    pub users: Vec<(String, String, Option<String>)>,
    pub drives: BTreeMap<String, Drive>,
    pub version: u64,
    pub page_size: usize,
    /// Delta tokens answered with 410 Gone.
    pub expired: Vec<String>,
    /// Requests seen, `METHOD path?query`.
    pub log: Vec<String>,
    /// Downloads that carried an Authorization header (must stay empty).
    pub leaked: usize,
    /// Answer the next N Graph requests with 429 Retry-After: 1.
    pub throttle: usize,
    /// The server's own address (wiremock shows requests as `localhost`).
    pub base: String,
    /// Drives whose delta rounds Graph refuses (`423 notAllowed`: an archived site).
    pub locked: Vec<String>,
    /// `GET /users` answers 403 (the app lacks `User.Read.All`).
    pub users_forbidden: bool,
    /// Users (by id) whose account is disabled (`accountEnabled: false`).
    pub disabled: Vec<String>,
    /// Users (by id) who are guests (`userType: Guest`).
    pub guests: Vec<String>,
    pub sites: Vec<Site>,
    /// Page listings refuse `$expand=canvasLayout` with 400 (as Graph does for some sites).
    pub canvas_refused: bool,
    /// `sites/getAllSites` answers 403 (the app lacks `Sites.Read.All`).
    pub sites_forbidden: bool,
    /// Sites (by id) whose page listing answers 403 `accessDenied`.
    pub pages_forbidden: Vec<String>,
    /// Users still listed by `GET /users` but deleted since: `users/{id}…` answers 404.
    pub gone: Vec<String>,
    /// Users whose drive answers a passing 404 (a drive being moved or provisioned).
    pub flaky: Vec<String>,
    /// When each change happened (change `n` at `stamps[n - 1]`), by the clock: a delta
    /// round from a timestamp token lists the changes at or after it.
    pub stamps: Vec<DateTime<Utc>>,
    /// Delta rounds asked from a timestamp token.
    pub stamp_rounds: usize,
    /// SharePoint lists of items (not libraries), by site id.
    pub lists: Vec<FakeList>,
    /// Where downloads are redirected (a national cloud's `*.sharepoint.us`); default: this
    /// server by another name.
    pub download_base: Option<String>,
}

/// A SharePoint list of items on a site.
#[derive(Debug, Clone)]
pub struct FakeList {
    pub site: String,
    /// The list as `GET sites/{id}/lists` shows it.
    pub list: Value,
    /// Its items as `GET …/items?expand=fields` shows them.
    pub items: Vec<Value>,
    /// Each item's own permissions, by item id.
    pub permissions: BTreeMap<String, Vec<Value>>,
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
                ..State::default()
            })),
        }
    }

    /// Adds a file (or folder) to `drive`, as a new change.
    pub fn put(&self, drive: &str, id: &str, name: &str, parent: &str, body: &str, minute: i64) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        s.stamps.push(Utc::now());
        let v = s.version;
        let d = s.drives.entry(drive.to_owned()).or_default();
        if let Some(i) = d.items.iter_mut().find(|i| i.id == id) {
            i.name = name.to_owned();
            i.parent = parent.to_owned();
            if i.content != body.as_bytes() {
                i.ctag += 1;
            }
            i.content = body.as_bytes().to_vec();
            i.etag += 1;
            i.modified = time(minute);
            i.changed = v;
            i.deleted = false;
            return;
        }
        d.items.push(Item {
            id: id.to_owned(),
            name: name.to_owned(),
            parent: parent.to_owned(),
            folder: false,
            content: body.as_bytes().to_vec(),
            modified: time(minute),
            ctag: 1,
            etag: 1,
            deleted: false,
            changed: v,
            permissions: Vec::new(),
            malformed: false,
            shared: 0,
            unique: false,
        });
    }

    pub fn folder(&self, drive: &str, id: &str, name: &str, parent: &str) {
        self.put(drive, id, name, parent, "", 0);
        let mut s = self.state.lock().unwrap();
        let d = s.drives.get_mut(drive).unwrap();
        d.items.iter_mut().find(|i| i.id == id).unwrap().folder = true;
    }

    pub fn delete(&self, drive: &str, id: &str) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        s.stamps.push(Utc::now());
        let v = s.version;
        let d = s.drives.get_mut(drive).unwrap();
        let i = d.items.iter_mut().find(|i| i.id == id).unwrap();
        i.deleted = true;
        i.changed = v;
    }

    /// Shares an item: a new permission, which moves none of its tags.
    pub fn share(&self, drive: &str, id: &str, permission: Value) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        s.stamps.push(Utc::now());
        let v = s.version;
        let d = s.drives.get_mut(drive).unwrap();
        let i = d.items.iter_mut().find(|i| i.id == id).unwrap();
        i.permissions.push(permission);
        i.shared = v;
    }

    /// Moves item `id` under folder `parent`: a change of the item alone (its files are not
    /// listed by the next round).
    pub fn move_to(&self, drive: &str, id: &str, parent: &str) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        s.stamps.push(Utc::now());
        let v = s.version;
        let d = s.drives.get_mut(drive).unwrap();
        let i = d.items.iter_mut().find(|i| i.id == id).unwrap();
        i.parent = parent.to_owned();
        i.etag += 1;
        i.changed = v;
    }

    /// Adds a site with its libraries (created empty) and pages.
    pub fn site(&self, site: Site) {
        let files: Vec<(String, String)> = site
            .pages
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    p["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let pages_drive = site.pages_drive.clone();
        {
            let mut s = self.state.lock().unwrap();
            for d in &site.drives {
                s.drives.entry(d.clone()).or_default();
            }
            s.sites.push(site);
        }
        if !pages_drive.is_empty() {
            for (id, name) in files {
                self.put(&pages_drive, &id, &name, "root", "", 0);
            }
        }
    }

    /// Gives item `id` permissions of its own alone (inheritance broken).
    pub fn restrict(&self, drive: &str, id: &str, permissions: Vec<Value>) {
        let mut s = self.state.lock().unwrap();
        let d = s.drives.get_mut(drive).unwrap();
        let i = d.items.iter_mut().find(|i| i.id == id).unwrap();
        i.permissions = permissions;
        i.unique = true;
    }

    pub fn user(&self, id: &str, upn: &str, drive: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        s.users
            .push((id.to_owned(), upn.to_owned(), drive.map(str::to_owned)));
        if let Some(d) = drive {
            s.drives.entry(d.to_owned()).or_default().owner = upn.to_owned();
        }
    }

    /// Dates every change so far a month before [`time`]`(0)`: content made long before any
    /// window of the tests, while changes made after this happen by the clock.
    pub fn backdate(&self) {
        let mut s = self.state.lock().unwrap();
        for t in &mut s.stamps {
            *t = time(-30 * 24 * 60);
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

fn item_json(base: &str, drive: &str, i: &Item) -> Value {
    if i.deleted {
        return json!({"id": i.id, "deleted": {"state": "deleted"}, "parentReference": {"driveId": drive, "id": i.parent}});
    }
    let mut v = json!({
        "id": i.id, "name": i.name,
        "eTag": format!("\"{{{}}},{}\"", i.id, i.etag),
        "cTag": format!("\"c:{{{}}},{}\"", i.id, i.ctag),
        "createdDateTime": "2026-01-01T00:00:00Z",
        "lastModifiedDateTime": i.modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "webUrl": format!("{base}/personal/{drive}/Documents/{}", i.name.replace(' ', "%20")),
        "size": i.content.len(),
        "parentReference": {"driveType": "business", "driveId": drive, "id": i.parent},
        "createdBy": {"user": {"email": "ada@contoso.com", "displayName": "Ada Lovelace"}},
        "lastModifiedBy": {"user": {"email": "bob@contoso.com", "displayName": "Bob"}},
    });
    if i.folder {
        v["folder"] = json!({"childCount": 0});
    } else {
        v["file"] = json!({"mimeType": "text/plain", "hashes": {"quickXorHash": "AAAA"}});
    }
    if i.malformed {
        v["size"] = json!("many");
    }
    v
}

fn graph_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "code": code, "message": message,
        "innerError": {"request-id": "7d2e1c4a-0000-4000-8000-000000000000", "date": "2026-03-01T00:00:00"}}}))
}

impl FakeGraph {
    /// Answers one Graph request (also a member of a batch): status and JSON body, or a
    /// ready response.
    fn answer(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        base: &str,
        auth: bool,
        prefer: &str,
    ) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        s.log.push(format!("{method} {path}"));
        if let Some(rest) = path.strip_prefix("/download/") {
            if auth {
                s.leaked += 1;
            }
            let (drive, id) = rest.split_once('/').unwrap();
            let Some(i) = s
                .drives
                .get(drive)
                .and_then(|d| d.items.iter().find(|i| i.id == id && !i.deleted))
            else {
                return ResponseTemplate::new(404);
            };
            return ResponseTemplate::new(200).set_body_bytes(i.content.clone());
        }
        if !auth {
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.");
        }
        if s.throttle > 0 {
            s.throttle -= 1;
            return graph_error(429, "TooManyRequests", "Please retry after 1 second.")
                .insert_header("retry-after", "1");
        }
        let Some(rest) = path.strip_prefix("/v1.0/") else {
            return graph_error(400, "BadRequest", "Invalid version.");
        };
        let segs: Vec<&str> = rest.split('/').collect();
        match segs.as_slice() {
            ["users"] if s.users_forbidden => graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            ["users"] => {
                // The one filter Graph takes on `/users` without `ConsistencyLevel` that the
                // connector sends; anything else is refused as Graph refuses it.
                let filter = query.iter().find(|(k, _)| k == "$filter").map(|(_, v)| v.as_str());
                let enabled_only = match filter {
                    None => false,
                    Some("accountEnabled eq true") => true,
                    Some(other) => {
                        return graph_error(
                            400,
                            "Request_UnsupportedQuery",
                            &format!("Unsupported or invalid query filter clause: {other}"),
                        );
                    }
                };
                let value: Vec<Value> = s
                    .users
                    .iter()
                    .filter(|(id, _, _)| !enabled_only || !s.disabled.contains(id))
                    .map(|(id, upn, _)| {
                        json!({"id": id, "userPrincipalName": upn,
                            "accountEnabled": !s.disabled.contains(id),
                            "userType": if s.guests.contains(id) { "Guest" } else { "Member" }})
                    })
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"@odata.context": "x", "value": value}))
            }
            ["users", user] => {
                let found = s
                    .users
                    .iter()
                    .find(|(id, upn, _)| id == user || upn.eq_ignore_ascii_case(user));
                match found {
                    Some((id, upn, _)) if !s.gone.contains(id) => ResponseTemplate::new(200)
                        .set_body_json(json!({"id": id, "userPrincipalName": upn})),
                    _ => graph_error(
                        404,
                        "Request_ResourceNotFound",
                        &format!("Resource '{user}' does not exist or one of its queried reference-property objects are not present."),
                    ),
                }
            }
            ["users", user, "drive"] => {
                let found = s
                    .users
                    .iter()
                    .find(|(id, upn, _)| id == user || upn.eq_ignore_ascii_case(user));
                match found {
                    Some((_, upn, Some(drive))) => {
                        ResponseTemplate::new(200).set_body_json(json!({
                        "id": drive, "name": "OneDrive", "driveType": "business",
                        "owner": {"user": {"email": upn, "displayName": upn}},
                        "webUrl": format!("{base}/personal/{drive}/Documents")}))
                    }
                    Some(_) => graph_error(404, "ResourceNotFound", "User's mysite not found."),
                    None => {
                        graph_error(404, "Request_ResourceNotFound", "Resource does not exist.")
                    }
                }
            }
            ["drives", drive] => match s.drives.get(*drive) {
                Some(d) => ResponseTemplate::new(200).set_body_json(json!({
                    "id": drive, "name": "Documents", "driveType": "documentLibrary",
                    "owner": {"user": {"email": d.owner, "displayName": d.owner}}})),
                None => graph_error(404, "itemNotFound", "The resource could not be found."),
            },
            ["drives", drive, "root", "delta"] => {
                let token = query
                    .iter()
                    .find(|(k, _)| k == "token")
                    .map(|(_, v)| v.clone());
                if token.as_ref().is_some_and(|t| s.expired.contains(t)) {
                    return graph_error(
                        410,
                        "resyncRequired",
                        "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
                    );
                }
                if token.as_deref().is_some_and(|t| DateTime::parse_from_rfc3339(t).is_ok()) {
                    s.stamp_rounds += 1;
                }
                let (since, offset) = match token.as_deref() {
                    None => (0, 0),
                    // A timestamp token (OneDrive for Business, SharePoint): the changes since.
                    Some(t) if DateTime::parse_from_rfc3339(t).is_ok() => {
                        let at = DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
                        (s.stamps.iter().filter(|c| **c < at).count() as u64, 0)
                    }
                    Some(t) => {
                        let (a, b) = t.split_once('o').unwrap_or((t, "0"));
                        (
                            a.trim_start_matches('s').parse::<u64>().unwrap(),
                            b.parse::<usize>().unwrap(),
                        )
                    }
                };
                if s.locked.iter().any(|l| l == drive) {
                    return graph_error(
                        423,
                        "notAllowed",
                        "The site is archived and cannot be accessed.",
                    );
                }
                let Some(d) = s.drives.get(*drive) else {
                    return graph_error(404, "itemNotFound", "The resource could not be found.");
                };
                // Folders first (parents before children), then files, in change order.
                let mut listed: Vec<&Item> = d
                    .items
                    .iter()
                    .filter(|i| {
                        let shared = prefer.contains("deltashowsharingchanges") && i.shared > since;
                        (i.changed > since || shared) && !(since == 0 && i.deleted)
                    })
                    .collect();
                listed.sort_by_key(|i| (!i.folder, i.changed));
                let mut value: Vec<Value> = Vec::new();
                if offset == 0 && since == 0 {
                    value.push(json!({"id": "root", "name": "root", "root": {}, "folder": {"childCount": 1},
                        "parentReference": {"driveId": drive}}));
                }
                let page: Vec<Value> = listed
                    .iter()
                    .skip(offset)
                    .take(s.page_size)
                    .map(|i| {
                        // OneDrive for Business leaves `cTag` out of delta answers.
                        let mut v = item_json(base, drive, i);
                        if let Some(map) = v.as_object_mut() {
                            map.remove("cTag");
                            if prefer.contains("deltashowsharingchanges") && i.shared > since {
                                map.insert("@microsoft.graph.sharedChanged".into(), json!("True"));
                            }
                        }
                        v
                    })
                    .collect();
                value.extend(page);
                let end = offset + s.page_size >= listed.len();
                let link = format!("{base}/v1.0/drives/{drive}/root/delta");
                let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)", "value": value});
                if end {
                    body["@odata.deltaLink"] = json!(format!("{link}?token=s{}", s.version));
                } else {
                    body["@odata.nextLink"] =
                        json!(format!("{link}?token=s{since}o{}", offset + s.page_size));
                }
                ResponseTemplate::new(200).set_body_json(body)
            }
            ["drives", drive, "items", id] => {
                match s
                    .drives
                    .get(*drive)
                    .and_then(|d| d.items.iter().find(|i| i.id == *id && !i.deleted))
                {
                    Some(i) => ResponseTemplate::new(200).set_body_json(item_json(base, drive, i)),
                    None if *id == "root" => ResponseTemplate::new(200)
                        .set_body_json(json!({"id": "root", "root": {}, "folder": {}})),
                    None => graph_error(404, "itemNotFound", "The resource could not be found."),
                }
            }
            ["drives", drive, "items", id, "children"] => {
                let Some(d) = s.drives.get(*drive) else {
                    return graph_error(404, "itemNotFound", "no drive");
                };
                let value: Vec<Value> = d
                    .items
                    .iter()
                    .filter(|i| i.parent == *id && !i.deleted)
                    .map(|i| item_json(base, drive, i))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"value": value}))
            }
            ["drives", drive, "items", id, "permissions"] => match permissions(&s, drive, id) {
                Some(value) => ResponseTemplate::new(200).set_body_json(json!({"value": value})),
                None => graph_error(404, "itemNotFound", "The resource could not be found."),
            },
            ["sites", "getAllSites"] if s.sites_forbidden => graph_error(
                403,
                "accessDenied",
                "Either scp or roles claim need to be present in the token.",
            ),
            ["sites", "getAllSites"] => {
                // Site collections only: a site below another (not the root) is a subsite.
                let value: Vec<Value> = s
                    .sites
                    .iter()
                    .filter(|x| {
                        !s.sites.iter().any(|p| {
                            p.url.matches('/').count() > 2 && x.url.starts_with(&format!("{}/", p.url))
                        })
                    })
                    .map(site_json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#sites", "value": value}))
            }
            ["sites", host, rest @ ..] if host.ends_with(':') || (rest.is_empty() && !host.contains(',')) => {
                let host = host.trim_end_matches(':');
                let path = rest.iter().map(|r| graph_wire::percent_decode(r)).collect::<Vec<_>>().join("/");
                let path = path.trim_end_matches(':');
                let wanted = if path.is_empty() { format!("https://{host}") } else { format!("https://{host}/{path}") };
                match s.sites.iter().find(|x| x.url.eq_ignore_ascii_case(&wanted)) {
                    Some(site) => ResponseTemplate::new(200).set_body_json(site_json(site)),
                    None => graph_error(404, "itemNotFound", "Requested site could not be found"),
                }
            }
            ["sites", id, "drives"] => match s.sites.iter().find(|x| x.id == *id) {
                Some(site) => {
                    let value: Vec<Value> = site.drives.iter().map(|d| json!({
                        "id": d, "name": if d.ends_with("-docs") { "Documents" } else { d.as_str() },
                        "driveType": "documentLibrary",
                        "webUrl": if d.ends_with("-hold") { format!("{}/PreservationHoldLibrary", site.url) } else { format!("{}/{d}", site.url) },
                        "owner": {"group": {"displayName": site.name}},
                        "sharePointIds": {"siteId": site.id.split(',').nth(1).unwrap(), "siteUrl": site.url}})).collect();
                    ResponseTemplate::new(200).set_body_json(json!({"value": value}))
                }
                None => graph_error(404, "itemNotFound", "Requested site could not be found"),
            },
            ["sites", id, "sites"] => match s.sites.iter().find(|x| x.id == *id) {
                Some(parent) => {
                    let prefix = format!("{}/", parent.url);
                    let value: Vec<Value> = s
                        .sites
                        .iter()
                        .filter(|x| {
                            x.url.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/'))
                                && (parent.url.matches('/').count() > 2 || !x.url.contains("/sites/"))
                        })
                        .map(site_json)
                        .collect();
                    ResponseTemplate::new(200).set_body_json(json!({"value": value}))
                }
                None => graph_error(404, "itemNotFound", "Requested site could not be found"),
            },
            ["sites", id, "lists"] => match s.sites.iter().find(|x| x.id == *id) {
                Some(site) => {
                    let mut value: Vec<Value> = site.drives.iter().map(|d| json!({
                        "id": format!("list-{d}"), "name": d, "displayName": d,
                        "list": {"template": "documentLibrary", "hidden": false, "contentTypesEnabled": false}})).collect();
                    if !site.pages_drive.is_empty() {
                        value.push(json!({"id": "list-sitepages", "name": "SitePages", "displayName": "Site Pages",
                            "list": {"template": "webPageLibrary", "hidden": false, "contentTypesEnabled": true}}));
                    }
                    value.extend(s.lists.iter().filter(|l| l.site == *id).map(|l| l.list.clone()));
                    ResponseTemplate::new(200).set_body_json(json!({"value": value}))
                }
                None => graph_error(404, "itemNotFound", "Requested site could not be found"),
            },
            ["sites", id, "lists", list, "items"] => {
                let Some(l) = s.lists.iter().find(|l| l.site == *id && l.list["id"] == *list) else {
                    return graph_error(404, "itemNotFound", "List does not exist.");
                };
                let skip: usize = query.iter().find(|(k, _)| k == "$skiptoken").map_or(0, |(_, v)| v.parse().unwrap());
                let ids_only = query.iter().any(|(k, v)| k == "$select" && v == "id");
                let value: Vec<Value> = l.items.iter().skip(skip).take(s.page_size).map(|i| {
                    if ids_only { json!({"id": i["id"]}) } else { i.clone() }
                }).collect();
                let mut body = json!({"value": value});
                if skip + s.page_size < l.items.len() {
                    let select = if ids_only { "$select=id" } else { "expand=fields" };
                    body["@odata.nextLink"] = json!(format!("{base}/v1.0/sites/{id}/lists/{list}/items?{select}&$skiptoken={}", skip + s.page_size));
                }
                ResponseTemplate::new(200).set_body_json(body)
            }
            ["sites", id, "lists", list, "items", item] => {
                match s.lists.iter().find(|l| l.site == *id && l.list["id"] == *list).and_then(|l| l.items.iter().find(|i| i["id"] == *item)) {
                    Some(i) => ResponseTemplate::new(200).set_body_json(i.clone()),
                    None => graph_error(404, "itemNotFound", "Item does not exist."),
                }
            }
            ["sites", id, "lists", list, "items", item, "permissions"] => {
                match s.lists.iter().find(|l| l.site == *id && l.list["id"] == *list) {
                    Some(l) if l.items.iter().any(|i| i["id"] == *item) => ResponseTemplate::new(200)
                        .set_body_json(json!({"value": l.permissions.get(*item).cloned().unwrap_or_default()})),
                    _ => graph_error(404, "itemNotFound", "Item does not exist."),
                }
            }
            ["sites", id, "lists", list, "drive"] => {
                let site = s.sites.iter().find(|x| x.id == *id);
                let drive = site.and_then(|x| {
                    if *list == "list-sitepages" && !x.pages_drive.is_empty() {
                        Some(x.pages_drive.clone())
                    } else {
                        x.drives.iter().find(|d| format!("list-{d}") == *list).cloned()
                    }
                });
                match (site, drive) {
                    (Some(site), Some(drive)) => ResponseTemplate::new(200).set_body_json(json!({
                        "id": drive, "sharePointIds": {"siteId": site.id.split(',').nth(1).unwrap()}})),
                    _ => graph_error(404, "itemNotFound", "The resource could not be found."),
                }
            }
            ["sites", id, "drive"] => match s.sites.iter().find(|x| x.id == *id) {
                Some(site) => ResponseTemplate::new(200).set_body_json(json!({
                    "id": site.drives[0], "sharePointIds": {"siteId": site.id.split(',').nth(1).unwrap()}})),
                None => graph_error(404, "itemNotFound", "Requested site could not be found"),
            },
            ["sites", id, "pages", "microsoft.graph.sitePage"] => {
                let Some(site) = s.sites.iter().find(|x| x.id == *id) else {
                    return graph_error(404, "itemNotFound", "Requested site could not be found");
                };
                if s.pages_forbidden.iter().any(|x| x == id) {
                    return graph_error(403, "accessDenied", "Access denied. You do not have permission to perform this action or access this resource.");
                }
                let expand = query.iter().any(|(k, v)| k == "$expand" && v == "canvasLayout");
                if expand && s.canvas_refused {
                    return graph_error(400, "invalidRequest", "Invalid request");
                }
                let skip: usize = query.iter().find(|(k, _)| k == "$skiptoken").map_or(0, |(_, v)| v.parse().unwrap());
                let value: Vec<Value> = site.pages.iter().skip(skip).take(s.page_size).map(|p| {
                    let mut p = p.clone();
                    if !expand { p.as_object_mut().unwrap().remove("canvasLayout"); }
                    p
                }).collect();
                let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#sites('x')/pages/microsoft.graph.sitePage", "value": value});
                if skip + s.page_size < site.pages.len() {
                    let mut next = format!("{base}/v1.0/sites/{id}/pages/microsoft.graph.sitePage?$skiptoken={}", skip + s.page_size);
                    if expand { next.push_str("&$expand=canvasLayout"); }
                    body["@odata.nextLink"] = json!(next);
                }
                ResponseTemplate::new(200).set_body_json(body)
            }
            ["sites", id, "pages", page, "microsoft.graph.sitePage"] => {
                match s.sites.iter().find(|x| x.id == *id).and_then(|x| x.pages.iter().find(|p| p["id"] == *page)) {
                    Some(p) => ResponseTemplate::new(200).set_body_json(p.clone()),
                    None => graph_error(404, "itemNotFound", "The resource could not be found."),
                }
            }
            ["drives", drive, "items", id, "content"] => {
                let exists = s
                    .drives
                    .get(*drive)
                    .is_some_and(|d| d.items.iter().any(|i| i.id == *id && !i.deleted));
                if !exists {
                    return graph_error(404, "itemNotFound", "The resource could not be found.");
                }
                // Graph's download URLs are on another host (`*.sharepoint.com`): here the
                // same server by another name, so the token must not follow.
                let other = s
                    .download_base
                    .clone()
                    .unwrap_or_else(|| base.replace("127.0.0.1", "localhost"));
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{other}/download/{drive}/{id}"))
            }
            ["drives", drive, root_path @ ..]
                if root_path.first().is_some_and(|r| r.starts_with("root:")) =>
            {
                let path = root_path.join("/");
                let path = path.trim_start_matches("root:").trim_end_matches(':');
                let Some(d) = s.drives.get(*drive) else {
                    return graph_error(404, "itemNotFound", "no drive");
                };
                let mut parent = "root".to_owned();
                let mut found: Option<&Item> = None;
                for seg in path.split('/').filter(|x| !x.is_empty()) {
                    let seg = graph_wire::percent_decode(seg);
                    found = d
                        .items
                        .iter()
                        .find(|i| i.parent == parent && i.name == seg && !i.deleted);
                    match found {
                        Some(i) => parent = i.id.clone(),
                        None => {
                            return graph_error(
                                404,
                                "itemNotFound",
                                "The resource could not be found.",
                            );
                        }
                    }
                }
                match found {
                    Some(i) => ResponseTemplate::new(200).set_body_json(item_json(base, drive, i)),
                    None => graph_error(404, "itemNotFound", "The resource could not be found."),
                }
            }
            _ => graph_error(400, "invalidRequest", &format!("no such route {path}")),
        }
    }
}

/// The permissions of item `id` (or `root`): the owner's, the drive root's, and those of the
/// item and every folder above it (SharePoint's inheritance).
fn permissions(s: &State, drive: &str, id: &str) -> Option<Vec<Value>> {
    let d = s.drives.get(drive)?;
    let mut value = Vec::new();
    if !d.owner.is_empty() {
        value.push(json!({"id": "aTowIy5mfG1lbWJlcnNoaXB8", "roles": ["owner"],
            "grantedToV2": {"user": {"email": d.owner, "displayName": d.owner, "id": "u-owner"}}}));
    }
    if id == "root" {
        value.extend(d.root_permissions.iter().cloned());
        return Some(value);
    }
    let mut current = d.items.iter().find(|i| i.id == id)?;
    loop {
        value.extend(current.permissions.iter().cloned());
        if current.unique {
            return Some(value);
        }
        match d.items.iter().find(|i| i.id == current.parent) {
            Some(up) => current = up,
            None => break,
        }
    }
    value.extend(d.root_permissions.iter().cloned());
    Some(value)
}

fn site_json(site: &Site) -> Value {
    json!({"id": site.id, "name": site.name, "displayName": site.name, "webUrl": site.url,
        "isPersonalSite": site.personal,
        "createdDateTime": "2025-01-01T00:00:00Z", "lastModifiedDateTime": "2026-01-01T00:00:00Z"})
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
        if method == "POST" && path == "/v1.0/$batch" {
            return graph_wire::batch(request, &base, "application/json", |_, url, query| {
                self.state
                    .lock()
                    .unwrap()
                    .log
                    .push(format!("BATCH GET {}", url.path()));
                batch_member(self, url.path(), query, &base, auth)
            });
        }
        let query = graph_wire::query(&request.url);
        let prefer = request
            .headers
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        self.answer(&method, &path, &query, &base, auth, prefer)
    }
}

/// The status and JSON body of a batch member (only the routes batches carry: drives of
/// users and drives by id, and permissions).
fn batch_member(
    fake: &FakeGraph,
    path: &str,
    _query: &[(String, String)],
    base: &str,
    auth: bool,
) -> (u16, Value) {
    let s = fake.state.lock().unwrap();
    let rest = path.trim_start_matches("/v1.0/");
    let segs: Vec<&str> = rest.split('/').collect();
    let err = |code: u16, c: &str| (code, json!({"error": {"code": c, "message": c}}));
    if !auth {
        return err(401, "InvalidAuthenticationToken");
    }
    let said = |code: u16, c: &str, m: &str| (code, json!({"error": {"code": c, "message": m}}));
    match segs.as_slice() {
        ["users", user, "drive"] if s.gone.iter().any(|g| g == user) => {
            said(404, "Request_ResourceNotFound", "Resource does not exist.")
        }
        ["users", user, "drive"] if s.flaky.iter().any(|g| g == user) => {
            said(404, "itemNotFound", "The resource could not be found.")
        }
        ["users", user, "drive"] => match s
            .users
            .iter()
            .find(|(id, upn, _)| id == user || upn.eq_ignore_ascii_case(user))
        {
            Some((_, upn, Some(drive))) => (
                200,
                json!({"id": drive, "name": "OneDrive", "driveType": "business",
                "owner": {"user": {"email": upn, "displayName": upn}}, "webUrl": format!("{base}/personal/{drive}/Documents")}),
            ),
            Some(_) => said(404, "ResourceNotFound", "User's mysite not found."),
            None => said(404, "Request_ResourceNotFound", "Resource does not exist."),
        },
        ["drives", drive] => match s.drives.get(*drive) {
            Some(d) => (
                200,
                json!({"id": drive, "name": "Documents", "driveType": "documentLibrary",
                "owner": {"user": {"email": d.owner}}}),
            ),
            None => err(404, "itemNotFound"),
        },
        ["sites", site, "lists", list, "items", item, "permissions"] => {
            match s
                .lists
                .iter()
                .find(|l| l.site == *site && l.list["id"] == *list)
            {
                Some(l) if l.items.iter().any(|i| i["id"] == *item) => (
                    200,
                    json!({"value": l.permissions.get(*item).cloned().unwrap_or_default()}),
                ),
                _ => err(404, "itemNotFound"),
            }
        }
        ["drives", drive, "items", id, "permissions"] => match permissions(&s, drive, id) {
            Some(value) => (200, json!({"value": value})),
            None => err(404, "itemNotFound"),
        },
        // `drives/{id}/root:/{path}:/permissions`
        ["drives", drive, rest @ .., "permissions"] if rest.first() == Some(&"root:") => {
            let path = rest[1..]
                .iter()
                .map(|r| graph_wire::percent_decode(r))
                .collect::<Vec<_>>()
                .join("/");
            let path = path.trim_end_matches(':');
            let Some(d) = s.drives.get(*drive) else {
                return err(404, "itemNotFound");
            };
            let mut parent = "root".to_owned();
            for seg in path.split('/').filter(|x| !x.is_empty()) {
                match d
                    .items
                    .iter()
                    .find(|i| i.parent == parent && i.name == seg && !i.deleted)
                {
                    Some(i) => parent = i.id.clone(),
                    None => return err(404, "itemNotFound"),
                }
            }
            match permissions(&s, drive, &parent) {
                Some(value) => (200, json!({"value": value})),
                None => err(404, "itemNotFound"),
            }
        }
        _ => err(400, "invalidRequest"),
    }
}

/// A connector on `server` with `extra` config fields.
#[cfg(feature = "onedrive")]
pub fn build(server: &str, extra: Value) -> Arc<dyn connector_core::Connector> {
    // A loopback fake: no limit of the connector's own.
    let unlimited = json!({"requests_per_second": 0});
    let config = graph_wire::config(server, TENANT, SECRET, &[&unlimited, &extra]);
    let config: connector_misc::onedrive::OnedriveConfig =
        connector_core::config::from_json(config).unwrap();
    Arc::new(connector_misc::onedrive::OnedriveConnector::new(config).unwrap())
}

/// Two users with a drive each and one without; drive `b!ada` has a folder `Shared` with a
/// `Handbook` folder, five text files at minutes 1..=5 and an image.
pub fn standard(page_size: usize) -> FakeGraph {
    let g = FakeGraph::new(page_size);
    g.user("u1", "ada@contoso.com", Some("b!ada"));
    g.user("u2", "bob@contoso.com", Some("b!bob"));
    g.user("u3", "nolicence@contoso.com", None);
    g.folder("b!ada", "F1", "Shared", "root");
    g.folder("b!ada", "F2", "Handbook", "F1");
    g.put("b!ada", "A1", "a.txt", "root", "alpha", 1);
    g.put("b!ada", "A2", "b.md", "F1", "# beta", 2);
    g.put("b!ada", "A3", "c.txt", "F2", "gamma", 3);
    g.put("b!ada", "A4", "d.txt", "F2", "delta", 4);
    g.put("b!ada", "A5", "photo.png", "F2", "png-bytes", 4);
    g.put("b!bob", "B1", "e.txt", "root", "epsilon", 5);
    g
}
