//! A fake Confluence site on wiremock, answering with the JSON shapes of Atlassian's REST API v1
//! docs (Cloud and Server/Data Center): `results`, `start`, `limit`, `size`, `_links.next`,
//! `_links.base`, expansions, and `{"statusCode":..,"message":..}` error bodies.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)] // Test support shared by several test crates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "fake-api-token-4d1e9b7c";
pub const EMAIL: &str = "bot@example.com";
/// A Server/Data Center user and password, accepted besides the personal access token `TOKEN`.
pub const SERVER_USER: &str = "dana";
pub const PASSWORD: &str = "fake-password-0b7e";

#[derive(Debug, Clone, Default)]
pub struct FakeComment {
    pub id: u64,
    pub body: String,
    pub author: String,
    pub when: DateTime<Utc>,
    /// The comment this one replies to.
    pub parent: Option<u64>,
    /// For an inline comment: the text it is anchored to.
    pub selection: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeAttachment {
    pub id: u64,
    pub title: String,
    pub media_type: String,
    pub data: Vec<u8>,
    /// The size the API reports (defaults to the real size).
    pub reported_size: Option<u64>,
    /// When its last version was uploaded (defaults to the page's time).
    pub when: Option<DateTime<Utc>>,
    pub version: u64,
}

#[derive(Debug, Clone)]
pub struct FakePage {
    pub id: u64,
    pub kind: &'static str,
    pub space: String,
    pub title: String,
    pub body: String,
    pub when: DateTime<Utc>,
    pub version: u64,
    pub labels: Vec<String>,
    pub parent: Option<u64>,
    pub comments: Vec<FakeComment>,
    pub attachments: Vec<FakeAttachment>,
    /// Its own read restriction: the users (by display name) and groups it names.
    pub read_users: Vec<String>,
    pub read_groups: Vec<String>,
}

impl FakePage {
    pub fn new(id: u64, space: &str, title: &str, body: &str, when: DateTime<Utc>) -> Self {
        Self {
            id,
            kind: "page",
            space: space.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            when,
            version: 1,
            labels: Vec::new(),
            parent: None,
            comments: Vec::new(),
            attachments: Vec::new(),
            read_users: Vec::new(),
            read_groups: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
pub struct State {
    pub pages: Vec<FakePage>,
    pub users: HashMap<String, String>,
    pub forbidden_spaces: Vec<String>,
    /// Comments embedded per result (Cloud's default is 25; small here to test paging).
    pub embedded_comments: usize,
    /// The largest `limit` the server honours (Server/DC caps it).
    pub max_limit: usize,
    /// The site's cloud id, served at `/_edge/tenant_info` (a Cloud site's public tenant
    /// info); `None` answers 404 there, as a Server/Data Center site does.
    pub cloud_id: Option<String>,
    /// The API user's zone as `/rest/api/user/current` reports it (`timeZone`), and its offset
    /// in hours, which CQL reads dates in (Cloud reports the zone; the fake Server does not).
    pub user_zone: Option<(String, i64)>,
    /// The site's default zone, as `/rest/api/settings/systemInfo` reports it (Cloud);
    /// empty: the answer has no `defaultTimeZone`.
    pub site_zone: String,
    /// The offset in hours the search reads CQL dates in when it is not the user's: the
    /// site's zone, as Atlassian's CONFCLOUD-70966 says Cloud's content search does.
    pub cql_offset: Option<i64>,
    /// Archived spaces: Cloud's content search leaves them out; Server's includes them with
    /// `includeArchivedSpaces=true` (or always, with `archived_always`).
    pub archived_spaces: Vec<String>,
    pub archived_always: bool,
    /// Who may view each space: users (display names), groups, anonymous access. A space
    /// not listed answers 403 (the credentials lack its admin permission).
    pub space_permissions: HashMap<String, (Vec<String>, Vec<String>, bool)>,
    /// Whether the credentials hold the spaces' admin permission, which Cloud's v1
    /// `expand=permissions` needs (v2's `/api/v2/spaces/{id}/permissions` does not).
    pub space_admin: bool,
    /// Users whose e-mail Cloud hides (their privacy settings).
    pub hidden_emails: Vec<String>,
    /// Cloud's CONFCLOUD-77618: a search that expands the ancestors' restrictions answers
    /// 404 (an ancestor is a draft the credentials cannot read).
    pub refuse_ancestor_restrictions: bool,
    /// Pages whose `restrictions` expansion comes without `read` (in a search, as a result or
    /// an ancestor), as Atlassian leaves out what the credentials may not see.
    pub no_read_expansion: Vec<u64>,
    /// A page edited while a sync pages: after the first search page (`start` 0) is served,
    /// the page with this id gets a new version at this time.
    pub edit_after_first_page: Option<(u64, DateTime<Utc>)>,
    /// A page deleted while a sync pages: after the first search page (`start` 0) is served,
    /// the page with this id is gone (every later result moves one place forward).
    pub delete_after_first_page: Option<u64>,
    /// How many attachments a search result embeds (all when `None`; Confluence embeds 25).
    pub embedded_attachments: Option<usize>,
    /// An attachment deleted after the first page of a page's attachments (`child/attachment`)
    /// is served.
    pub delete_attachment_after_first_child_page: Option<u64>,
}

#[derive(Clone)]
pub struct Fake {
    pub server: Arc<MockServer>,
    pub state: Arc<Mutex<State>>,
    pub cloud: bool,
}

pub fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

impl Fake {
    pub async fn start(cloud: bool) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            embedded_comments: 2,
            max_limit: 1000,
            user_zone: cloud.then(|| ("UTC".to_owned(), 0)),
            site_zone: "UTC".to_owned(),
            space_admin: true,
            ..State::default()
        }));
        let fake = Self {
            server: Arc::new(server),
            state,
            cloud,
        };
        Mock::given(method("GET"))
            .and(path_regex(".*"))
            .respond_with(Responder(fake.clone_parts()))
            .with_priority(10)
            .mount(&fake.server)
            .await;
        fake
    }

    fn clone_parts(&self) -> (Arc<Mutex<State>>, bool, String) {
        (self.state.clone(), self.cloud, self.server.uri())
    }

    pub fn prefix(&self) -> &'static str {
        if self.cloud { "/wiki" } else { "" }
    }

    /// `wiki_base` for the config.
    pub fn base(&self) -> String {
        format!("{}{}", self.server.uri(), self.prefix())
    }

    pub fn config(&self, extra: Value) -> Value {
        config_at(&self.server.uri(), self.cloud, extra)
    }

    pub fn add(&self, page: FakePage) {
        self.state.lock().unwrap().pages.push(page);
    }

    /// How often Cloud's v1 space permissions (`/rest/api/space/{key}?expand=permissions`)
    /// were asked for.
    pub async fn v1_space_permission_reads(&self) -> usize {
        self.requests()
            .await
            .iter()
            .filter(|r| {
                r.url.path().contains("/rest/api/space/")
                    && r.url
                        .query_pairs()
                        .any(|(k, v)| k == "expand" && v == "permissions")
            })
            .count()
    }

    pub fn user(&self, account: &str, name: &str) {
        self.state
            .lock()
            .unwrap()
            .users
            .insert(account.to_owned(), name.to_owned());
    }

    pub fn url_of(&self, page: &FakePage) -> String {
        format!("{}{}", self.base(), webui(page, self.cloud))
    }

    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    pub async fn count(&self, path_part: &str) -> usize {
        self.requests()
            .await
            .iter()
            .filter(|r| r.url.path().contains(path_part))
            .count()
    }

    /// The query parameters of every page search (content searches other than the comment and
    /// attachment searches), in order.
    pub async fn page_searches(&self) -> Vec<HashMap<String, String>> {
        self.requests()
            .await
            .iter()
            .filter(|r| r.url.path().ends_with("/content/search"))
            .map(|r| r.url.query_pairs().into_owned().collect::<HashMap<_, _>>())
            .filter(|q| {
                q.get("cql").is_some_and(|c| {
                    !c.starts_with("type = comment") && !c.starts_with("type in (comment")
                })
            })
            .collect()
    }

    /// The CQL of every page search, in order.
    pub async fn page_cql(&self) -> Vec<String> {
        self.page_searches()
            .await
            .into_iter()
            .filter_map(|mut q| q.remove("cql"))
            .collect()
    }

    pub async fn reset_requests(&self) {
        self.server.reset().await;
        Mock::given(method("GET"))
            .and(path_regex(".*"))
            .respond_with(Responder(self.clone_parts()))
            .with_priority(10)
            .mount(&self.server)
            .await;
    }
}

pub fn webui(page: &FakePage, cloud: bool) -> String {
    if cloud {
        format!(
            "/spaces/{}/pages/{}/{}",
            page.space,
            page.id,
            page.title.replace(' ', "+")
        )
    } else {
        format!("/pages/viewpage.action?pageId={}", page.id)
    }
}

pub fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "statusCode": status,
        "data": {"authorized": false, "valid": true, "errors": [], "successful": false},
        "message": message,
    }))
}

struct Responder((Arc<Mutex<State>>, bool, String));

/// A user as a restriction or a space permission names it: Cloud's representation (with the
/// e-mail unless hidden), or Data Center's (user name and key, no e-mail).
fn named_user(state: &State, name: &str, cloud: bool) -> Value {
    if cloud {
        let mut u = user_json(name);
        if state.hidden_emails.iter().any(|h| h == name) {
            u.as_object_mut().unwrap().remove("email");
        }
        u
    } else {
        let login = name.to_lowercase();
        json!({"type": "known", "username": login, "userKey": format!("key-{login}"), "displayName": name})
    }
}

fn restriction_json(state: &State, page: &FakePage, cloud: bool) -> Value {
    let users: Vec<Value> = page
        .read_users
        .iter()
        .map(|u| named_user(state, u, cloud))
        .collect();
    let groups: Vec<Value> = page
        .read_groups
        .iter()
        .map(|g| json!({"type": "group", "name": g, "id": format!("gid-{g}")}))
        .collect();
    json!({
        "operation": "read",
        "restrictions": {
            "user": {"results": users, "start": 0, "limit": 200, "size": page.read_users.len()},
            "group": {"results": groups, "start": 0, "limit": 200, "size": page.read_groups.len()},
        },
        "_links": {"self": format!("/rest/api/content/{}/restriction/byOperation/read", page.id)},
    })
}

fn user_json(name: &str) -> Value {
    let account = format!("acc-{}", name.to_lowercase().replace(' ', "-"));
    json!({
        "type": "known", "accountId": account, "accountType": "atlassian",
        "email": format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
        "publicName": name, "displayName": name,
    })
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Responder {
    fn base(&self) -> String {
        format!("{}{}", self.0.2, if self.0.1 { "/wiki" } else { "" })
    }

    /// A comment as the REST API v1 shows it: `extensions.location` always; with the
    /// expansions, the page it is on (`container`), the comments it replies to (`ancestors`,
    /// root first) and an inline comment's anchor (`extensions.inlineProperties`).
    fn comment_json(&self, page: &FakePage, c: &FakeComment, expand: &str) -> Value {
        let mut v = json!({
            "id": c.id.to_string(), "type": "comment", "status": "current",
            "title": format!("Re: {}", page.title),
            "version": {"by": user_json(&c.author), "when": iso(c.when), "number": 1},
            "body": {"storage": {"value": c.body, "representation": "storage"}},
            "extensions": {"location": if c.selection.is_some() { "inline" } else { "footer" }},
            "_links": {"webui": format!("{}?focusedCommentId={}", webui(page, self.0.1), c.id)},
        });
        if expand.contains("container") {
            v["container"] =
                json!({"id": page.id.to_string(), "type": page.kind, "title": page.title});
        }
        if expand.contains("ancestors") {
            let mut chain = Vec::new();
            let mut up = c.parent;
            while let Some(id) = up {
                chain.insert(0, json!({"id": id.to_string(), "type": "comment"}));
                up = page
                    .comments
                    .iter()
                    .find(|p| p.id == id)
                    .and_then(|p| p.parent);
            }
            v["ancestors"] = json!(chain);
        }
        if let (true, Some(selection)) =
            (expand.contains("extensions.inlineProperties"), &c.selection)
        {
            v["extensions"]["inlineProperties"] =
                json!({"markerRef": format!("ref-{}", c.id), "originalSelection": selection});
        }
        v
    }

    fn attachment_json(&self, page: &FakePage, a: &FakeAttachment) -> Value {
        json!({
            "id": format!("att{}", a.id), "type": "attachment", "status": "current", "title": a.title,
            "version": {"by": user_json("Ann Author"), "when": iso(a.when.unwrap_or(page.when)), "number": a.version.max(1)},
            "container": {"id": page.id.to_string(), "type": page.kind, "title": page.title},
            "extensions": {"mediaType": a.media_type, "fileSize": a.reported_size.unwrap_or(a.data.len() as u64), "comment": ""},
            "_links": {
                "webui": format!("/pages/viewpageattachments.action?pageId={}&preview=/{}/att{}/{}", page.id, page.id, a.id, a.title),
                "download": format!("/download/attachments/{}/{}?version=1&api=v2", page.id, a.title),
            },
        })
    }

    fn page_json(&self, state: &State, page: &FakePage, expand: &str) -> Value {
        let with_restrictions = expand.contains("ancestors.restrictions.read");
        let ancestors: Vec<Value> = ancestors(state, page)
            .iter()
            .map(|a| {
                let mut v = json!({"id": a.id.to_string(), "type": a.kind, "title": a.title});
                if with_restrictions {
                    // Folders come without the expansion: their restrictions are read on
                    // their own.
                    v["restrictions"] =
                        if state.no_read_expansion.contains(&a.id) || a.kind == "folder" {
                            json!({})
                        } else {
                            json!({"read": restriction_json(state, a, self.0.1)})
                        };
                }
                v
            })
            .collect();
        let mut v = json!({
            "id": page.id.to_string(), "type": page.kind, "status": "current", "title": page.title,
            "space": {"id": space_id(&page.space), "key": page.space, "name": format!("Space {}", page.space), "type": "global",
                "status": if state.archived_spaces.contains(&page.space) { "archived" } else { "current" }},
            "history": {"latest": true, "createdBy": user_json("Ann Author"), "createdDate": iso(page.when)},
            "version": {"by": user_json("Ed Editor"), "when": iso(page.when), "number": page.version, "minorEdit": false},
            "ancestors": ancestors,
            "metadata": {"labels": {
                "results": page.labels.iter().map(|l| json!({"prefix": "global", "name": l, "id": "1", "label": l})).collect::<Vec<_>>(),
                "start": 0, "limit": 200, "size": page.labels.len(),
            }},
            "body": {"storage": {"value": page.body, "representation": "storage"}},
            "_links": {"webui": webui(page, self.0.1), "tinyui": "/x/AbCd", "self": format!("{}/rest/api/content/{}", self.base(), page.id)},
            "_expandable": {"container": "", "operations": ""},
        });
        if expand
            .split(',')
            .any(|e| e.starts_with("restrictions.read"))
        {
            v["restrictions"] = if state.no_read_expansion.contains(&page.id) {
                json!({})
            } else {
                json!({"read": restriction_json(state, page, self.0.1)})
            };
        }
        let mut children = serde_json::Map::new();
        if expand.contains("children.comment") {
            // Root comments only, as Cloud embeds them.
            let n = state.embedded_comments;
            let roots: Vec<&FakeComment> = page
                .comments
                .iter()
                .filter(|c| c.parent.is_none())
                .collect();
            let shown: Vec<Value> = roots
                .iter()
                .take(n)
                .map(|c| self.comment_json(page, c, ""))
                .collect();
            let mut coll = json!({"results": shown, "start": 0, "limit": n, "size": roots.len().min(n), "_links": {}});
            if roots.len() > n {
                coll["_links"]["next"] = json!(format!(
                    "/rest/api/content/{}/child/comment?start={n}&limit={n}",
                    page.id
                ));
            }
            children.insert("comment".into(), coll);
        }
        if expand.contains("children.attachment") {
            let n = state.embedded_attachments.unwrap_or(25);
            let shown: Vec<Value> = page
                .attachments
                .iter()
                .take(state.embedded_attachments.unwrap_or(usize::MAX))
                .map(|a| self.attachment_json(page, a))
                .collect();
            let size = shown.len();
            children.insert(
                "attachment".into(),
                json!({"results": shown, "start": 0, "limit": n, "size": size, "_links": {}}),
            );
        }
        if !children.is_empty() {
            v["children"] = Value::Object(children);
        }
        v
    }

    fn search(&self, state: &State, req: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let cql = q.get("cql").cloned().unwrap_or_default();
        let limit: usize = q
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(25)
            .min(state.max_limit);
        let start: usize = q
            .get("cursor")
            .or(q.get("start"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let expand = q.get("expand").cloned().unwrap_or_default();
        for space in &state.forbidden_spaces {
            if cql.contains(&format!("space = \"{space}\"")) {
                return error(403, &format!("User is not permitted to view space {space}"));
            }
        }
        let offset = state
            .cql_offset
            .unwrap_or_else(|| state.user_zone.as_ref().map_or(0, |(_, hours)| *hours));
        // Server/Data Center's search leaves archived spaces out unless asked (every content
        // type); Cloud's always does.
        let archived_too = !self.0.1
            && (state.archived_always
                || q.get("includeArchivedSpaces").is_some_and(|v| v == "true"));
        if cql.starts_with("type = comment") || cql.starts_with("type in (comment") {
            let all = self.children_search(state, &cql, &expand, offset, archived_too);
            return self.paged(req, &q, &cql, &expand, all, start, limit);
        }
        if state.refuse_ancestor_restrictions && expand.contains("ancestors.restrictions") {
            return error(404, "No content found with id: ContentId{id=999}");
        }
        let Some(filter) = Cql::parse(&cql, offset) else {
            return error(400, &format!("Could not parse cql : {cql}"));
        };
        let mut hits: Vec<&FakePage> = state
            .pages
            .iter()
            .filter(|p| filter.matches(state, p))
            .filter(|p| archived_too || !state.archived_spaces.contains(&p.space))
            .collect();
        hits.sort_by_key(|p| p.id);
        let all: Vec<Value> = hits
            .iter()
            .map(|p| self.page_json(state, p, &expand))
            .collect();
        self.paged(req, &q, &cql, &expand, all, start, limit)
    }

    /// Comments (and, for `type in (comment, attachment)`, attachments) matching the CQL the
    /// connector writes: `container = N` clauses, `space = "K"`, `lastmodified >= "..."`.
    fn children_search(
        &self,
        state: &State,
        cql: &str,
        expand: &str,
        offset: i64,
        archived_too: bool,
    ) -> Vec<Value> {
        let containers = numbers_after(cql, "container = ");
        let space = quoted_after(cql, "space =");
        let from = quoted_after(cql, "lastmodified >=").and_then(|t| cql_time(t, offset));
        let in_window = |t: DateTime<Utc>| from.is_none_or(|f| minute_of(t) >= f);
        let attachments = cql.contains("attachment");
        let mut hits: Vec<(String, Value)> = Vec::new();
        for page in &state.pages {
            if (!containers.is_empty() && !containers.contains(&page.id))
                || space.is_some_and(|s| s != page.space)
                || (!archived_too && state.archived_spaces.contains(&page.space))
            {
                continue;
            }
            for c in page.comments.iter().filter(|c| in_window(c.when)) {
                hits.push((format!("{:012}", c.id), self.comment_json(page, c, expand)));
            }
            if attachments {
                for a in page
                    .attachments
                    .iter()
                    .filter(|a| in_window(a.when.unwrap_or(page.when)))
                {
                    hits.push((format!("{:012}", a.id), self.attachment_json(page, a)));
                }
            }
        }
        // Creation order: ids here.
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        hits.into_iter().map(|(_, v)| v).collect()
    }

    /// One page of `all` at `start`, with the next link each edition writes.
    #[allow(clippy::too_many_arguments)]
    fn paged(
        &self,
        req: &Request,
        q: &HashMap<String, String>,
        cql: &str,
        expand: &str,
        all: Vec<Value>,
        start: usize,
        limit: usize,
    ) -> ResponseTemplate {
        let total = all.len();
        let page: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
        let size = page.len();
        let mut links = json!({"base": self.base(), "context": if self.0.1 { "/wiki" } else { "" }, "self": format!("{}{}", self.base(), req.url.path())});
        if start + size < total {
            let mut next = url::form_urlencoded::Serializer::new(String::new());
            next.append_pair("cql", cql);
            if !expand.is_empty() {
                next.append_pair("expand", expand);
            }
            if self.0.1 {
                next.append_pair("cursor", &(start + size).to_string());
                next.append_pair("next", "true");
                next.append_pair("limit", &limit.to_string());
            } else {
                // Server's next link assumes the limit it was asked for, not the one it used.
                let asked: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
                next.append_pair("limit", &asked.to_string());
                next.append_pair("start", &(start + asked).to_string());
            }
            links["next"] = json!(format!("/rest/api/content/search?{}", next.finish()));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "results": page, "start": start, "limit": limit, "size": size,
            "totalSize": total, "cqlQuery": cql, "searchDuration": 12, "_links": links,
        }))
    }

    /// Applies `edit_after_first_page` once the first page of a search was answered.
    fn after_search(state: &mut State, req: &Request) {
        let first = !req
            .url
            .query_pairs()
            .any(|(k, v)| (k == "start" || k == "cursor") && v != "0");
        if first
            && let Some((id, when)) = state.edit_after_first_page.take()
            && let Some(p) = state.pages.iter_mut().find(|p| p.id == id)
        {
            p.version += 1;
            p.when = when;
        }
        if first && let Some(id) = state.delete_after_first_page.take() {
            state.pages.retain(|p| p.id != id);
        }
    }

    fn children(&self, state: &State, req: &Request, id: u64, kind: &str) -> ResponseTemplate {
        let Some(page) = state.pages.iter().find(|p| p.id == id) else {
            return error(404, "No content found with id");
        };
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
        let limit: usize = q
            .get("limit")
            .and_then(|s| s.parse().ok())
            .unwrap_or(25)
            .min(state.max_limit);
        let all: Vec<Value> = if kind == "comment" {
            // Cloud ignores `depth` and lists root comments only; Server lists replies too
            // with `depth=all`.
            let all_depths = !self.0.1 && q.get("depth").is_some_and(|d| d == "all");
            let expand = q.get("expand").cloned().unwrap_or_default();
            page.comments
                .iter()
                .filter(|c| all_depths || c.parent.is_none())
                .map(|c| self.comment_json(page, c, &expand))
                .collect()
        } else {
            page.attachments
                .iter()
                .map(|a| self.attachment_json(page, a))
                .collect()
        };
        let total = all.len();
        let shown: Vec<Value> = all.into_iter().skip(start).take(limit).collect();
        let size = shown.len();
        let mut links = json!({"base": self.base(), "context": ""});
        if start + size < total {
            links["next"] = json!(format!(
                "/rest/api/content/{id}/child/{kind}?start={}&limit={limit}",
                start + size
            ));
        }
        ResponseTemplate::new(200).set_body_json(json!({"results": shown, "start": start, "limit": limit, "size": size, "_links": links}))
    }
}

/// A space's id, made from its key.
pub fn space_id(key: &str) -> u64 {
    key.bytes().fold(98_000u64, |id, b| {
        id.wrapping_mul(31).wrapping_add(u64::from(b)) % 1_000_000_007
    })
}

fn ancestors<'a>(state: &'a State, page: &FakePage) -> Vec<&'a FakePage> {
    let mut out = Vec::new();
    let mut parent = page.parent;
    while let Some(id) = parent {
        let Some(p) = state.pages.iter().find(|p| p.id == id) else {
            break;
        };
        out.insert(0, p);
        parent = p.parent;
    }
    out
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut state = self.0.0.lock().unwrap();
        if req.url.path() == "/_edge/tenant_info" {
            // Public: answered without credentials, at the site's root.
            return match &state.cloud_id {
                Some(id) => ResponseTemplate::new(200).set_body_json(json!({"cloudId": id})),
                None => ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
            };
        }
        let prefix = if self.0.1 { "/wiki" } else { "" };
        let mut full = req.url.path();
        // The Atlassian gateway: /ex/confluence/{cloudId}/wiki/...
        if let Some(rest) = full.strip_prefix("/ex/confluence/") {
            full = rest.find('/').map_or("", |i| &rest[i..]);
        }
        let Some(path) = full.strip_prefix(prefix) else {
            return ResponseTemplate::new(404).set_body_string("<html>Not Found</html>");
        };
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let basic = |user: &str, password: &str| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        };
        let ok = if self.0.1 {
            auth == basic(EMAIL, TOKEN)
        } else {
            // Data Center: a personal access token as Bearer only, or a user's password.
            auth == format!("Bearer {TOKEN}") || auth == basic(SERVER_USER, PASSWORD)
        };
        if auth.is_empty() && self.0.1 {
            // Cloud shows a space to an anonymous visitor when the space grants anonymous
            // "view" (the fake's site has anonymous access on); anything else is refused.
            if let ["rest", "api", "space", key] = path
                .trim_start_matches('/')
                .split('/')
                .collect::<Vec<_>>()
                .as_slice()
                && state
                    .space_permissions
                    .get(*key)
                    .is_some_and(|(_, _, anonymous)| *anonymous)
            {
                return ResponseTemplate::new(200).set_body_json(space_json(key, self.base()));
            }
        }
        if !ok {
            return error(401, "Client must be authenticated to access this resource.");
        }
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["rest", "api", "content", "search"] => {
                let answer = self.search(&state, req);
                Self::after_search(&mut state, req);
                answer
            }
            ["rest", "api", "content", page, "child", "attachment", att, "download"] => {
                // The download the gateway serves (Cloud's `_links.download` is not proxied).
                let found = state
                    .pages
                    .iter()
                    .filter(|p| p.id.to_string() == *page)
                    .flat_map(|p| p.attachments.iter())
                    .find(|a| format!("att{}", a.id) == *att);
                match found {
                    Some(a) => ResponseTemplate::new(200).set_body_raw(a.data.clone(), &a.media_type),
                    None => error(404, "no attachment"),
                }
            }
            ["rest", "api", "content", id, "child", kind] => match id.parse::<u64>() {
                Ok(id) => {
                    let answer = self.children(&state, req, id, kind);
                    if *kind == "attachment"
                        && let Some(gone) = state.delete_attachment_after_first_child_page.take()
                    {
                        for p in state.pages.iter_mut().filter(|p| p.id == id) {
                            p.attachments.retain(|a| a.id != gone);
                        }
                    }
                    answer
                }
                Err(_) => error(404, "not found"),
            },
            ["rest", "api", "content"] => {
                let space = q.get("spaceKey").cloned().unwrap_or_default();
                let title = q.get("title").cloned().unwrap_or_default();
                let found: Vec<Value> = state
                    .pages
                    .iter()
                    .filter(|p| p.space == space && p.title == title)
                    .map(|p| self.page_json(&state, p, q.get("expand").map_or("", String::as_str)))
                    .collect();
                let size = found.len();
                ResponseTemplate::new(200).set_body_json(json!({"results": found, "start": 0, "limit": 1, "size": size, "_links": {}}))
            }
            ["rest", "api", "content", id] if id.starts_with("att") => {
                let found = state.pages.iter().find_map(|p| {
                    p.attachments.iter().find(|a| format!("att{}", a.id) == *id).map(|a| (p, a))
                });
                match found {
                    Some((p, a)) => ResponseTemplate::new(200).set_body_json(self.attachment_json(p, a)),
                    None => error(404, "No content found with id"),
                }
            }
            ["rest", "api", "content", id] => match state.pages.iter().find(|p| p.id.to_string() == *id) {
                Some(p) if state.forbidden_spaces.contains(&p.space) => error(403, "not permitted"),
                Some(p) => ResponseTemplate::new(200).set_body_json(self.page_json(&state, p, "")),
                None => error(404, "No content found with id"),
            },
            ["rest", "api", "content", id, "restriction", "byOperation", "read"] => {
                match state.pages.iter().find(|p| p.id.to_string() == *id) {
                    Some(p) => ResponseTemplate::new(200).set_body_json(restriction_json(&state, p, self.0.1)),
                    None => error(404, "No content found with id"),
                }
            }
            ["rest", "api", "space", key] if q.get("expand").is_some_and(|e| e == "permissions") => {
                let Some((users, groups, anonymous)) = state.space_permissions.get(*key).filter(|_| state.space_admin) else {
                    return error(403, "User not permitted to view space permissions");
                };
                let read = json!({"operation": "read", "targetType": "space"});
                let mut permissions = vec![
                    json!({"id": 1, "operation": {"operation": "create", "targetType": "page"}, "subjects": {"group": {"results": [{"type": "group", "name": "writers"}], "size": 1}}, "anonymousAccess": false, "unlicensedAccess": false}),
                ];
                for u in users {
                    permissions.push(json!({"id": 2, "operation": read, "subjects": {"user": {"results": [named_user(&state, u, true)], "size": 1}}, "anonymousAccess": false, "unlicensedAccess": false}));
                }
                for g in groups {
                    permissions.push(json!({"id": 3, "operation": read, "subjects": {"group": {"results": [{"type": "group", "name": g, "id": format!("gid-{g}")}], "size": 1}}, "anonymousAccess": false, "unlicensedAccess": false}));
                }
                if *anonymous {
                    permissions.push(json!({"id": 4, "operation": read, "anonymousAccess": true, "unlicensedAccess": false}));
                }
                ResponseTemplate::new(200).set_body_json(json!({"id": 1, "key": key, "name": key, "type": "global", "permissions": permissions}))
            }
            ["rest", "api", "space", key, "permissions"] if !self.0.1 => {
                let Some((users, groups, anonymous)) = state.space_permissions.get(*key) else {
                    return error(403, "User not permitted to view space permissions");
                };
                let read = json!({"targetType": "space", "operationKey": "read"});
                let mut permissions = vec![
                    json!({"operation": {"targetType": "page", "operationKey": "create"}, "subject": {"type": "group", "name": "writers"}, "spaceKey": key}),
                ];
                for u in users {
                    permissions.push(json!({"operation": read, "subject": {"type": "user", "userKey": format!("key-{}", u.to_lowercase()), "displayName": u}, "spaceKey": key}));
                }
                for g in groups {
                    permissions.push(json!({"operation": read, "subject": {"type": "group", "name": g}, "spaceKey": key}));
                }
                // 9.1+ lists anonymous access on its own (`/permissions/anonymous`).
                let _ = anonymous;
                ResponseTemplate::new(200).set_body_json(json!(permissions))
            }
            ["rest", "api", "space", key, "permissions", "anonymous"] if !self.0.1 => {
                let Some((_, _, anonymous)) = state.space_permissions.get(*key) else {
                    return error(500, "Internal server error");
                };
                let mut ops = vec![json!({"operation": {"targetType": "application", "operationKey": "use"}})];
                if *anonymous {
                    ops.push(json!({"operation": {"targetType": "space", "operationKey": "read"}}));
                }
                ResponseTemplate::new(200).set_body_json(json!(ops))
            }
            ["api", "v2", "spaces", id, "permissions"] if self.0.1 => {
                let Some((users, groups, _)) = state
                    .space_permissions
                    .iter()
                    .find(|(k, _)| space_id(k).to_string() == *id)
                    .map(|(_, v)| v)
                else {
                    return error(403, "not permitted");
                };
                // Anonymous access is no v2 principal.
                let mut all = vec![json!({"id": "1", "principal": {"type": "group", "id": "gid-writers"}, "operation": {"key": "create", "targetType": "page"}})];
                for u in users {
                    let account = user_json(u)["accountId"].clone();
                    all.push(json!({"id": "2", "principal": {"type": "user", "id": account}, "operation": {"key": "read", "targetType": "space"}}));
                }
                for g in groups {
                    all.push(json!({"id": "3", "principal": {"type": "group", "id": format!("gid-{g}")}, "operation": {"key": "read", "targetType": "space"}}));
                }
                // Small pages, so every test walks the cursor.
                let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
                let shown: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
                let mut links = json!({"base": self.base()});
                if start + 2 < all.len() {
                    links["next"] = json!(format!("/wiki/api/v2/spaces/{id}/permissions?cursor={}&limit=250", start + 2));
                }
                ResponseTemplate::new(200).set_body_json(json!({"results": shown, "_links": links}))
            }
            ["rest", "api", "group", "by-id"] if self.0.1 => match q.get("id").and_then(|i| i.strip_prefix("gid-")) {
                Some(name) => ResponseTemplate::new(200).set_body_json(json!({"type": "group", "name": name, "id": q["id"]})),
                None => error(404, "No group found"),
            },
            ["rest", "mobile", "1.0", "profile", login] if !self.0.1 => {
                ResponseTemplate::new(200).set_body_json(json!({"userName": login, "email": format!("{login}@example.com"), "fullName": login}))
            }
            ["rest", "api", "user"] if !self.0.1 && q.get("key").is_some_and(|k| k.starts_with("key-")) => {
                let login = q["key"].trim_start_matches("key-").to_owned();
                ResponseTemplate::new(200).set_body_json(json!({"type": "known", "username": login, "userKey": q["key"], "displayName": login}))
            }
            ["rest", "api", "user"] => {
                let key = q.get("accountId").or(q.get("key")).or(q.get("username")).cloned().unwrap_or_default();
                // Users named by space permissions are known by their account ids.
                let granted = state
                    .space_permissions
                    .values()
                    .flat_map(|(users, _, _)| users.iter())
                    .find(|u| user_json(u)["accountId"] == json!(key));
                match (state.users.get(&key), granted) {
                    (Some(name), _) => ResponseTemplate::new(200).set_body_json(user_json(name)),
                    (None, Some(name)) => ResponseTemplate::new(200).set_body_json(named_user(&state, name, true)),
                    (None, None) => error(404, "No user found"),
                }
            }
            ["rest", "api", "settings", "systemInfo"] if self.0.1 => {
                let mut info = json!({"cloudId": "5f0a", "commitHash": "abc", "baseUrl": self.base(), "edition": "standard", "siteTitle": "Fake", "defaultLocale": "en_US", "microsPerimeter": "commercial"});
                if !state.site_zone.is_empty() {
                    info["defaultTimeZone"] = json!(state.site_zone);
                }
                ResponseTemplate::new(200).set_body_json(info)
            }
            ["rest", "api", "user", "current"] => {
                let mut me = user_json("Sync Bot");
                if let Some((zone, _)) = &state.user_zone {
                    me["timeZone"] = json!(zone);
                }
                if !self.0.1 {
                    // Data Center's user representation.
                    me = json!({"type": "known", "username": "sync-bot", "userKey": "8a7f808a", "displayName": "Sync Bot"});
                }
                ResponseTemplate::new(200).set_body_json(me)
            }
            ["rest", "api", "space"] => ResponseTemplate::new(200).set_body_json(json!({"results": [], "start": 0, "limit": 1, "size": 0, "_links": {"base": self.base()}})),
            ["rest", "api", "space", key] => {
                if state.forbidden_spaces.iter().any(|s| s == key) {
                    error(403, "not permitted")
                } else if state.pages.iter().any(|p| p.space == *key) {
                    ResponseTemplate::new(200).set_body_json(json!({"id": 1, "key": key, "name": key, "type": "global"}))
                } else {
                    error(404, &format!("No space with key : {key}"))
                }
            }
            ["download", "attachments", page, file] => {
                let found = state
                    .pages
                    .iter()
                    .filter(|p| p.id.to_string() == *page)
                    .flat_map(|p| p.attachments.iter())
                    .find(|a| a.title == *file);
                match found {
                    Some(a) => ResponseTemplate::new(200).set_body_raw(a.data.clone(), &a.media_type),
                    None => error(404, "no attachment"),
                }
            }
            _ => ResponseTemplate::new(404).set_body_string("<html>Page Not Found</html>"),
        }
    }
}

/// The CQL the connector writes, read back: enough of CQL to filter the fake's pages.
#[derive(Debug, Default)]
struct Cql {
    space: Option<String>,
    id: Option<u64>,
    ancestor: Option<u64>,
    pages_only: bool,
    /// `label = "x"` (as a `cql_query` may have).
    label: Option<String>,
    labels_not: Vec<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// `id in (...)`.
    ids_in: Option<Vec<u64>>,
}

fn quoted_after<'a>(cql: &'a str, key: &str) -> Option<&'a str> {
    let rest = &cql[cql.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// The numbers after every `key` in `cql`.
fn numbers_after(cql: &str, key: &str) -> Vec<u64> {
    cql.match_indices(key)
        .filter_map(|(i, _)| number_after(&cql[i..], key))
        .collect()
}

/// `t` floored to the minute, as CQL compares.
fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::seconds(t.timestamp().rem_euclid(60))
        - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()))
}

fn number_after(cql: &str, key: &str) -> Option<u64> {
    let rest = &cql[cql.find(key)? + key.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A CQL date, read in the API user's zone (`offset` hours east of UTC), as CQL reads it.
fn cql_time(s: &str, offset: i64) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .ok()
        .map(|t| t.and_utc() - Duration::hours(offset))
}

impl Cql {
    fn parse(cql: &str, offset: i64) -> Option<Self> {
        // Confluence refuses a field it does not know (400 "Could not parse cql").
        if (!cql.contains("type") && !cql.contains("id =")) || cql.contains("nosuchfield") {
            return None;
        }
        let labels_not = cql.find("label not in (").map(|i| {
            let rest = &cql[i + "label not in (".len()..];
            rest[..rest.find(')').unwrap_or(rest.len())]
                .split(',')
                .map(|l| l.trim().trim_matches('"').to_owned())
                .collect()
        });
        Some(Self {
            space: quoted_after(cql, "space =").map(str::to_owned),
            id: number_after(cql, "id ="),
            ancestor: number_after(cql, "ancestor ="),
            pages_only: cql.contains("type = page"),
            label: quoted_after(cql, "label =").map(str::to_owned),
            labels_not: labels_not.unwrap_or_default(),
            from: quoted_after(cql, "lastmodified >=").and_then(|t| cql_time(t, offset)),
            to: quoted_after(cql, "lastmodified <=").and_then(|t| cql_time(t, offset)),
            ids_in: cql.find("id in (").map(|i| {
                let rest = &cql[i + "id in (".len()..];
                rest[..rest.find(')').unwrap_or(rest.len())]
                    .split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .collect()
            }),
        })
    }

    fn matches(&self, state: &State, p: &FakePage) -> bool {
        if self.space.as_ref().is_some_and(|s| *s != p.space) {
            return false;
        }
        if self.pages_only && p.kind != "page" {
            return false;
        }
        let in_tree =
            |id: u64, anc: u64| p.id == id || ancestors(state, p).iter().any(|a| a.id == anc);
        match (self.id, self.ancestor) {
            (Some(id), Some(anc)) if !in_tree(id, anc) => return false,
            (Some(id), None) if p.id != id => return false,
            _ => {}
        }
        if self.ids_in.as_ref().is_some_and(|ids| !ids.contains(&p.id)) {
            return false;
        }
        if self.label.as_ref().is_some_and(|l| !p.labels.contains(l)) {
            return false;
        }
        if p.labels.iter().any(|l| self.labels_not.contains(l)) {
            return false;
        }
        // CQL compares at minute precision.
        let minute = p.when
            - Duration::seconds(i64::from(p.when.timestamp() as i32 % 60))
            - Duration::nanoseconds(i64::from(p.when.timestamp_subsec_nanos()));
        if self.from.is_some_and(|f| minute < f) || self.to.is_some_and(|t| minute > t) {
            return false;
        }
        true
    }
}

/// A space as Cloud's `GET /wiki/rest/api/space/{spaceKey}` returns it (v1 `Space`).
pub fn space_json(key: &str, base: String) -> Value {
    json!({
        "id": space_id(key),
        "key": key,
        "name": key,
        "type": "global",
        "status": "current",
        "_expandable": {"settings": format!("/rest/api/space/{key}/settings"), "homepage": "/rest/api/content/1"},
        "_links": {"webui": format!("/spaces/{key}"), "self": format!("{base}/rest/api/space/{key}"), "base": base, "context": "/wiki"},
    })
}

/// The connector's config for a fake (Cloud when `cloud`) listening on `uri`, with the
/// top-level fields of `extra`.
pub fn config_at(uri: &str, cloud: bool, extra: Value) -> Value {
    let mut cfg = json!({
        "wiki_base": if cloud { format!("{uri}/wiki") } else { uri.to_owned() },
        "is_cloud": cloud,
        // Fixtures name documents by RAGFlow's ids (web URLs), which read best in
        // assertions; the conformance kit and `tests/ragflow.rs` cover the default.
        "id_scheme": "ragflow_url",
        // The fake listens on loopback, which the connector denies unless allowed.
        "allowed_hosts": ["127.0.0.1"],
        "credentials": if cloud {
            json!({"confluence_username": EMAIL, "confluence_access_token": TOKEN})
        } else {
            json!({"confluence_access_token": TOKEN})
        },
    });
    if !cloud {
        // The fake serves UTC; Server has no systemInfo.
        cfg["timezone_offset"] = json!(0);
    }
    if let (Some(base), Some(extra)) = (cfg.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    cfg
}
