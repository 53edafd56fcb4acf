//! A wiremock GitLab written from the REST API v4 reference (docs.gitlab.com/api/rest):
//! projects by URL-encoded path or id, group projects with `include_subgroups`, the repository
//! tree with keyset pagination (`pagination=keyset`, `page_token`, a `Link` header with
//! `rel="next"`), raw blobs, commits by ref, issues and merge requests with `state`,
//! `order_by=updated_at`, `sort`, `updated_after` / `updated_before` (both inclusive, as
//! GitLab's finders compare), offset pagination with `Link`, `X-Page`, `X-Next-Page`,
//! `X-Per-Page`, `X-Total` and `X-Total-Pages`, notes (with `system` and `internal`),
//! `members/all`, `RateLimit-*` headers on every answer and the error bodies
//! (`{"message": "401 Unauthorized"}`, `{"message": "404 Project Not Found"}`).
#![allow(clippy::unwrap_used, dead_code)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const TOKEN: &str = "glpat-Zq8vQ2mXr4Tt9LkP1aBc";

pub(crate) fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

/// GitLab writes times in UTC with milliseconds: `2025-03-01T10:01:00.000Z`.
fn gl_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn user(username: &str) -> Value {
    json!({"id": 100 + username.len(), "username": username, "name": username.to_uppercase(),
        "state": "active", "locked": false, "avatar_url": null,
        "web_url": format!("https://gitlab.example.com/{username}")})
}

/// A note of an issue or merge request.
#[derive(Clone, Debug)]
pub(crate) struct Note {
    pub(crate) author: &'static str,
    pub(crate) body: String,
    pub(crate) system: bool,
    pub(crate) internal: bool,
    /// Written as GitLab before 15.0 does: `confidential` alone, no `internal` key.
    pub(crate) before_15: bool,
    /// A merge request's review comment on a line (`type: DiffNote`): the file and its
    /// `new_line`.
    pub(crate) position: Option<(&'static str, u64)>,
    /// A reply in the thread this note (by index among the item's notes) started.
    pub(crate) reply_to: Option<usize>,
    /// A resolvable thread (`type: DiscussionNote`, or a DiffNote's) and whether it is
    /// resolved; set on the note that starts it.
    pub(crate) resolved: Option<bool>,
}

impl Note {
    pub(crate) fn user(author: &'static str, body: &str) -> Self {
        Self {
            author,
            body: body.to_owned(),
            system: false,
            internal: false,
            before_15: false,
            position: None,
            reply_to: None,
            resolved: None,
        }
    }
}

/// An issue or a merge request.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) iid: u64,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) minute: u32,
    pub(crate) state: &'static str,
    pub(crate) labels: Vec<&'static str>,
    pub(crate) author: &'static str,
    pub(crate) assignees: Vec<&'static str>,
    pub(crate) notes: Vec<Note>,
    pub(crate) confidential: bool,
    /// The exact `updated_at` (microseconds, as PostgreSQL stores it), overriding `minute`.
    pub(crate) exact: Option<DateTime<Utc>>,
}

impl Item {
    pub(crate) fn new(iid: u64, title: &str, minute: u32) -> Self {
        Self {
            iid,
            title: title.to_owned(),
            description: format!("Body of **{title}**."),
            minute,
            state: "opened",
            labels: vec![],
            author: "alice",
            assignees: vec![],
            notes: vec![],
            confidential: false,
            exact: None,
        }
    }

    /// When it was last updated, as GitLab stores it.
    pub(crate) fn updated(&self) -> DateTime<Utc> {
        self.exact.unwrap_or_else(|| time(self.minute))
    }
}

/// A file of the repository.
#[derive(Clone, Debug)]
pub(crate) struct File {
    pub(crate) path: String,
    pub(crate) body: Vec<u8>,
}

impl File {
    pub(crate) fn new(path: &str, body: &[u8]) -> Self {
        Self {
            path: path.to_owned(),
            body: body.to_vec(),
        }
    }

    /// A blob id: 40 hex digits from the content, as git's would be.
    pub(crate) fn sha(&self) -> String {
        let h = connector_core::ids::hash128(&String::from_utf8_lossy(&self.body));
        format!(
            "{:0<40}",
            h.chars()
                .filter(char::is_ascii_hexdigit)
                .collect::<String>()
        )
        .chars()
        .take(40)
        .collect()
    }
}

/// A project of the fixture.
#[derive(Clone, Debug)]
pub(crate) struct Project {
    pub(crate) id: u64,
    pub(crate) path: String,
    pub(crate) visibility: &'static str,
    pub(crate) files: Vec<File>,
    pub(crate) issues: Vec<Item>,
    pub(crate) mrs: Vec<Item>,
    /// Username, e-mail address, `access_level` (10 Guest, 20 Reporter, 30 Developer …).
    pub(crate) members: Vec<(&'static str, Option<&'static str>, u32)>,
    /// Members invited without a seat yet (`membership_state: awaiting`), Developer role.
    pub(crate) awaiting: Vec<(&'static str, Option<&'static str>)>,
    pub(crate) head_minute: u32,
    /// Members cannot be listed with the token (403).
    pub(crate) members_forbidden: bool,
    /// `issues_access_level`: `enabled`, or `private` (members only, whatever the visibility).
    pub(crate) issues_access_level: &'static str,
    /// `merge_requests_access_level`: `enabled`, `private` or `disabled`.
    pub(crate) merge_requests_access_level: &'static str,
    /// `repository_access_level`: `enabled`, `private` or `disabled`.
    pub(crate) repository_access_level: &'static str,
    /// Listings of these (`merge_requests`, `issues`, `repository`) answer 403, as GitLab's
    /// `authorize!` does for a user below the feature's role.
    pub(crate) forbidden: Vec<&'static str>,
    /// `archived`: a group listing asked `archived=false` leaves it out.
    pub(crate) archived: bool,
}

impl Project {
    pub(crate) fn new(id: u64, path: &str, visibility: &'static str) -> Self {
        Self {
            id,
            path: path.to_owned(),
            visibility,
            files: vec![],
            issues: vec![],
            mrs: vec![],
            members: vec![],
            awaiting: vec![],
            head_minute: 20,
            members_forbidden: false,
            issues_access_level: "enabled",
            merge_requests_access_level: "enabled",
            repository_access_level: "enabled",
            forbidden: vec![],
            archived: false,
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) projects: Vec<Project>,
    /// Groups (by full path) and their project paths are every project under that path.
    pub(crate) groups: Vec<String>,
    /// Entries per page unless the request asks for fewer.
    pub(crate) page: usize,
    /// When an issue page after the first is asked for, this issue (by iid) is updated to
    /// `minute` first: an offset walk would now skip an issue.
    pub(crate) touch_on_second_page: Option<(u64, u32)>,
    /// Refuse keyset paging of group projects with a 405, as an instance without it does.
    pub(crate) no_keyset_projects: bool,
    /// Projects renamed or transferred: the old path and the project's id. A GET by the old
    /// path answers `301 Moved Permanently` to the same request by id, as GitLab does since
    /// 16.x for moved projects.
    pub(crate) moved: Vec<(String, u64)>,
}

/// The fixture's GitLab; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct GitlabApi {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) base: Arc<Mutex<String>>,
}

pub(crate) fn message(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"message": text}))
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn rate_headers(t: ResponseTemplate) -> ResponseTemplate {
    t.insert_header("RateLimit-Limit", "2000")
        .insert_header("RateLimit-Observed", "1")
        .insert_header("RateLimit-Remaining", "1999")
        .insert_header("RateLimit-Reset", "1740823260")
        .insert_header("RateLimit-ResetTime", "Sat, 01 Mar 2025 10:01:00 GMT")
}

impl GitlabApi {
    pub(crate) fn new(projects: Vec<Project>, page: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                projects,
                page,
                ..State::default()
            })),
            base: Arc::default(),
        }
    }

    fn project_json(&self, p: &Project) -> Value {
        let base = self.base.lock().unwrap().clone();
        let name = p.path.rsplit('/').next().unwrap_or_default();
        let ns = p.path.rsplit_once('/').map(|(n, _)| n).unwrap_or_default();
        json!({
            "id": p.id, "description": "", "name": name, "name_with_namespace": p.path.replace('/', " / "),
            "path": name, "path_with_namespace": p.path, "created_at": "2024-01-01T00:00:00.000Z",
            "default_branch": if p.files.is_empty() { Value::Null } else { json!("main") },
            "tag_list": [], "topics": [], "ssh_url_to_repo": format!("git@example.com:{}.git", p.path),
            "http_url_to_repo": format!("{base}/{}.git", p.path), "web_url": format!("{base}/{}", p.path),
            "visibility": p.visibility, "archived": p.archived, "last_activity_at": "2025-03-01T10:00:00.000Z",
            "namespace": {"id": 9, "name": ns, "path": ns, "kind": "group", "full_path": ns},
            "issues_enabled": p.issues_access_level != "disabled",
            "merge_requests_enabled": p.merge_requests_access_level != "disabled",
            "issues_access_level": p.issues_access_level,
            "merge_requests_access_level": p.merge_requests_access_level,
            "repository_access_level": p.repository_access_level,
        })
    }

    fn item_json(&self, p: &Project, kind: &str, it: &Item) -> Value {
        let base = self.base.lock().unwrap().clone();
        let segment = if kind == "issues" {
            "issues"
        } else {
            "merge_requests"
        };
        let offset = if kind == "issues" { 0 } else { 5000 };
        let mut v = json!({
            "id": p.id * 10_000 + offset + it.iid, "iid": it.iid, "project_id": p.id,
            "title": it.title, "description": it.description, "state": it.state,
            "created_at": gl_time(time(0)), "updated_at": gl_time(it.updated()),
            "closed_at": if it.state == "closed" { json!(gl_time(time(it.minute))) } else { Value::Null },
            "closed_by": null, "labels": it.labels, "milestone": null,
            "author": user(it.author),
            "assignees": it.assignees.iter().map(|a| user(a)).collect::<Vec<_>>(),
            "assignee": it.assignees.first().map(|a| user(a)),
            "user_notes_count": it.notes.iter().filter(|n| !n.system).count(),
            "upvotes": 0, "downvotes": 0, "discussion_locked": null,
            "web_url": format!("{base}/{}/-/{segment}/{}", p.path, it.iid),
            "references": {"short": format!("#{}", it.iid), "full": format!("{}#{}", p.path, it.iid)},
        });
        if kind == "issues" {
            v["confidential"] = json!(it.confidential);
            v["issue_type"] = json!("issue");
            v["type"] = json!("ISSUE");
        } else {
            v["source_branch"] = json!(format!("feature-{}", it.iid));
            v["target_branch"] = json!("main");
            v["draft"] = json!(false);
            v["merged_at"] = if it.state == "merged" {
                json!(gl_time(time(it.minute)))
            } else {
                Value::Null
            };
            v["reviewers"] = json!([user("reviewer")]);
            v["merge_status"] = json!("can_be_merged");
        }
        v
    }

    /// An offset-paginated answer as GitLab sends it.
    fn offset_page(&self, req: &Request, all: Vec<Value>) -> ResponseTemplate {
        let default = self.state.lock().unwrap().page;
        let per: usize = query(req, "per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20)
            .min(default.max(1));
        let page: usize = query(req, "page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        let total = all.len();
        let pages = total.div_ceil(per).max(1);
        let items: Vec<Value> = all.into_iter().skip((page - 1) * per).take(per).collect();
        let link_to = |n: usize| {
            let mut u = req.url.clone();
            let pairs: Vec<(String, String)> = req
                .url
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            u.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("page", &n.to_string());
            u.to_string()
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
        }
        if page < pages {
            links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
        }
        links.push(format!("<{}>; rel=\"first\"", link_to(1)));
        links.push(format!("<{}>; rel=\"last\"", link_to(pages)));
        let next = if page < pages {
            (page + 1).to_string()
        } else {
            String::new()
        };
        let prev = if page > 1 {
            (page - 1).to_string()
        } else {
            String::new()
        };
        ResponseTemplate::new(200)
            .insert_header("Link", links.join(", ").as_str())
            .insert_header("X-Page", page.to_string().as_str())
            .insert_header("X-Next-Page", next.as_str())
            .insert_header("X-Prev-Page", prev.as_str())
            .insert_header("X-Per-Page", per.to_string().as_str())
            .insert_header("X-Total", total.to_string().as_str())
            .insert_header("X-Total-Pages", pages.to_string().as_str())
            .set_body_json(Value::Array(items))
    }

    /// Projects by keyset, as GitLab pages them ordered by id: no page number, the next
    /// page's `Link` asks `id_after` the last id handed out.
    fn keyset_projects(&self, req: &Request, list: &[Project]) -> ResponseTemplate {
        assert_eq!(
            query(req, "order_by").as_deref(),
            Some("id"),
            "keyset needs order_by=id"
        );
        assert!(
            query(req, "page").is_none(),
            "keyset pages carry no page number"
        );
        let default = self.state.lock().unwrap().page;
        let per: usize = query(req, "per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20)
            .min(default.max(1));
        let after: u64 = query(req, "id_after")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let rest: Vec<&Project> = list.iter().filter(|p| p.id > after).collect();
        let page: Vec<Value> = rest
            .iter()
            .take(per)
            .map(|p| self.project_json(p))
            .collect();
        let mut t = ResponseTemplate::new(200);
        if rest.len() > per {
            let mut next = req.url.clone();
            let pairs: Vec<(String, String)> = req
                .url
                .query_pairs()
                .filter(|(k, _)| k != "id_after")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("id_after", &rest[per - 1].id.to_string());
            t = t.insert_header("Link", format!("<{next}>; rel=\"next\"").as_str());
        }
        t.set_body_json(Value::Array(page))
    }

    fn tree(&self, req: &Request, p: &Project) -> ResponseTemplate {
        if p.files.is_empty() {
            return message(404, "404 Tree Not Found");
        }
        let default = self.state.lock().unwrap().page;
        let per: usize = query(req, "per_page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20)
            .min(default.max(1));
        // Folders and files, sorted by path as GitLab's keyset tree is.
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut dirs = std::collections::BTreeSet::new();
        for f in &p.files {
            let mut at = f.path.as_str();
            while let Some((d, _)) = at.rsplit_once('/') {
                dirs.insert(d.to_owned());
                at = d;
            }
            let name = f.path.rsplit('/').next().unwrap_or_default();
            entries.push((f.path.clone(), json!({"id": f.sha(), "name": name, "type": "blob", "path": f.path, "mode": "100644"})));
        }
        for d in dirs {
            let name = d.rsplit('/').next().unwrap_or_default().to_owned();
            entries.push((d.clone(), json!({"id": format!("{:0>40}", d.len()), "name": name, "type": "tree", "path": d, "mode": "040000"})));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let token = query(req, "page_token");
        let start = token.map_or(0, |t| {
            entries
                .iter()
                .position(|(path, _)| *path > t)
                .unwrap_or(entries.len())
        });
        let page: Vec<Value> = entries
            .iter()
            .skip(start)
            .take(per)
            .map(|(_, v)| v.clone())
            .collect();
        let mut t = ResponseTemplate::new(200);
        if start + per < entries.len() {
            let last = entries[start + per - 1].0.clone();
            let base = self.base.lock().unwrap().clone();
            let mut next =
                url::Url::parse(&format!("{base}/api/v4/projects/{}/repository/tree", p.id))
                    .unwrap();
            next.query_pairs_mut()
                .append_pair("id", &p.id.to_string())
                .append_pair("page_token", &last)
                .append_pair("pagination", "keyset")
                .append_pair("per_page", &per.to_string())
                .append_pair("recursive", "true")
                .append_pair("ref", "main");
            t = t.insert_header("Link", format!("<{next}>; rel=\"next\"").as_str());
        }
        t.set_body_json(Value::Array(page))
    }

    fn items(&self, req: &Request, p: &Project, kind: &str) -> ResponseTemplate {
        let mut st = self.state.lock().unwrap();
        let page: usize = query(req, "page").and_then(|v| v.parse().ok()).unwrap_or(1);
        if kind == "issues"
            && (page > 1 || query(req, "updated_after").is_some())
            && let Some((iid, minute)) = st.touch_on_second_page.take()
            && let Some(pr) = st.projects.iter_mut().find(|x| x.id == p.id)
            && let Some(it) = pr.issues.iter_mut().find(|i| i.iid == iid)
        {
            it.minute = minute;
        }
        let p = st.projects.iter().find(|x| x.id == p.id).cloned().unwrap();
        drop(st);
        let after =
            query(req, "updated_after").map(|t| DateTime::parse_from_rfc3339(&t).unwrap().to_utc());
        let before = query(req, "updated_before")
            .map(|t| DateTime::parse_from_rfc3339(&t).unwrap().to_utc());
        let list = if kind == "issues" { &p.issues } else { &p.mrs };
        // Inclusive bounds compared with the stored microseconds, as GitLab's finders do.
        let mut items: Vec<&Item> = list
            .iter()
            .filter(|i| after.is_none_or(|a| i.updated() >= a))
            .filter(|i| before.is_none_or(|b| i.updated() <= b))
            .collect();
        assert_eq!(query(req, "order_by").as_deref(), Some("updated_at"));
        assert_eq!(query(req, "state").as_deref(), Some("all"));
        items.sort_by_key(|i| (i.updated(), i.iid));
        if query(req, "sort").as_deref() == Some("desc") {
            items.reverse();
        }
        let values = items
            .into_iter()
            .map(|i| self.item_json(&p, kind, i))
            .collect();
        self.offset_page(req, values)
    }

    /// Each note as GitLab's Notes and Discussions APIs show it, by its index.
    fn note_values(p: &Project, kind: &str, it: &Item) -> Vec<Value> {
        let noteable = if kind == "issues" {
            "Issue"
        } else {
            "MergeRequest"
        };
        // The thread each note is in, by the index of its first note.
        let thread = |n: usize| it.notes[n].reply_to.unwrap_or(n);
        it.notes
            .iter()
            .enumerate()
            .map(|(n, note)| {
                let starter = &it.notes[thread(n)];
                let threaded = starter.resolved.is_some()
                    || it.notes.iter().any(|o| o.reply_to == Some(thread(n)));
                let mut v = json!({"id": 900 + n, "type": if threaded { json!("DiscussionNote") } else { Value::Null },
                    "body": note.body, "attachment": null,
                    "author": user(note.author), "created_at": gl_time(time(it.minute) - chrono::TimeDelta::seconds(30 - n as i64)),
                    "updated_at": gl_time(time(it.minute)), "system": note.system, "noteable_id": it.iid,
                    "noteable_type": noteable, "project_id": p.id, "resolvable": false,
                    "confidential": note.internal, "internal": note.internal, "noteable_iid": it.iid});
                if let (Some(resolved), Value::Object(m)) = (starter.resolved, &mut v) {
                    m.insert("resolvable".into(), json!(true));
                    m.insert("resolved".into(), json!(resolved));
                    m.insert("resolved_by".into(), if resolved { user("alice") } else { Value::Null });
                    m.insert("resolved_at".into(), if resolved { json!(gl_time(time(it.minute))) } else { Value::Null });
                }
                if note.before_15 && let Value::Object(m) = &mut v {
                    m.remove("internal");
                }
                let position = note.position.or(starter.position);
                if let (Some((path, line)), Value::Object(m)) = (position, &mut v) {
                    m.insert("type".into(), json!("DiffNote"));
                    m.insert("resolvable".into(), json!(true));
                    m.insert("resolved".into(), json!(starter.resolved.unwrap_or(false)));
                    m.insert("position".into(), json!({
                        "base_sha": "b5d6e7b1613fca24d250fa8e5bc7bcc3dd6002ef",
                        "start_sha": "7c9c2ead8a320fb7ba0b4e234bd9529a2614e306",
                        "head_sha": "4803c71e6b1833ca72b8b26ef2ecd5adc8a38031",
                        "old_path": path, "new_path": path, "position_type": "text",
                        "old_line": null, "new_line": line}));
                }
                v
            })
            .collect()
    }

    /// `/notes`: every note, flat.
    fn notes(&self, req: &Request, p: &Project, kind: &str, iid: u64) -> ResponseTemplate {
        let list = if kind == "issues" { &p.issues } else { &p.mrs };
        let Some(it) = list.iter().find(|i| i.iid == iid) else {
            return message(404, "404 Not found");
        };
        self.offset_page(req, Self::note_values(p, kind, it))
    }

    /// `/discussions`: the notes by thread, each thread in the order of its first note.
    fn discussions(&self, req: &Request, p: &Project, kind: &str, iid: u64) -> ResponseTemplate {
        let list = if kind == "issues" { &p.issues } else { &p.mrs };
        let Some(it) = list.iter().find(|i| i.iid == iid) else {
            return message(404, "404 Not found");
        };
        let mut values: Vec<Option<Value>> = Self::note_values(p, kind, it)
            .into_iter()
            .map(Some)
            .collect();
        let mut threads = Vec::new();
        for n in 0..it.notes.len() {
            if it.notes[n].reply_to.is_some() {
                continue;
            }
            let notes: Vec<Value> = (0..it.notes.len())
                .filter(|&o| o == n || it.notes[o].reply_to == Some(n))
                .filter_map(|o| values[o].take())
                .collect();
            let individual = notes.len() == 1 && notes[0]["type"].is_null();
            threads.push(
                json!({"id": format!("{:040x}", 0xd15c_u64 * 1000 + n as u64),
                "individual_note": individual, "notes": notes}),
            );
        }
        self.offset_page(req, threads)
    }
}

struct Api(GitlabApi);

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        rate_headers(self.route(req))
    }
}

impl Api {
    fn route(&self, req: &Request) -> ResponseTemplate {
        if req
            .headers
            .get("private-token")
            .and_then(|h| h.to_str().ok())
            != Some(TOKEN)
        {
            return message(401, "401 Unauthorized");
        }
        // The path with `%2F` kept inside a segment, as GitLab reads a project path; the API
        // under the instance's relative URL root, if any (`/gitlab/api/v4/`).
        let raw = req
            .url
            .path()
            .split_once("/api/v4/")
            .map_or("", |(_, rest)| rest);
        let parts: Vec<String> = raw.split('/').map(percent_decode).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let st = self.0.state.lock().unwrap();
        let find = |key: &str| {
            st.projects
                .iter()
                // Paths without case, as GitLab finds them.
                .find(|p| p.path.eq_ignore_ascii_case(key) || p.id.to_string() == key)
                .cloned()
        };
        if let ["projects", key, rest @ ..] = parts.as_slice()
            && let Some((_, id)) = st
                .moved
                .iter()
                .find(|(old, _)| old.eq_ignore_ascii_case(key))
        {
            let base = self.0.base.lock().unwrap().clone();
            let mut to = format!("{base}/api/v4/projects/{id}");
            for segment in rest {
                to.push('/');
                to.push_str(&segment.replace('/', "%2F"));
            }
            if let Some(q) = req.url.query() {
                to.push('?');
                to.push_str(q);
            }
            return ResponseTemplate::new(301).insert_header("Location", to.as_str());
        }
        match parts.as_slice() {
            ["groups", group, "projects"] => {
                if !st.groups.iter().any(|g| g == group) {
                    return message(404, "404 Group Not Found");
                }
                let prefix = format!("{group}/");
                let no_keyset = st.no_keyset_projects;
                // `archived`: limit by archived status (absent: both).
                let archived = query(req, "archived").map(|a| a == "true");
                let mut list: Vec<Project> = st
                    .projects
                    .iter()
                    .filter(|p| p.path.starts_with(&prefix))
                    .filter(|p| archived.is_none_or(|a| p.archived == a))
                    .cloned()
                    .collect();
                drop(st);
                list.sort_by_key(|p| p.id);
                if query(req, "pagination").as_deref() == Some("keyset") {
                    if no_keyset {
                        return message(
                            405,
                            "Keyset pagination is not yet available for this type of request",
                        );
                    }
                    return self.0.keyset_projects(req, &list);
                }
                let values = list.iter().map(|p| self.0.project_json(p)).collect();
                self.0.offset_page(req, values)
            }
            ["projects", key] => match find(key) {
                Some(p) => ResponseTemplate::new(200).set_body_json(self.0.project_json(&p)),
                None => message(404, "404 Project Not Found"),
            },
            ["projects", key, rest @ ..] => {
                let Some(p) = find(key) else {
                    return message(404, "404 Project Not Found");
                };
                drop(st);
                let feature = match rest.first().copied() {
                    Some("repository") => "repository",
                    Some(other) => other,
                    None => "",
                };
                let level = match feature {
                    "repository" => p.repository_access_level,
                    "merge_requests" => p.merge_requests_access_level,
                    "issues" => p.issues_access_level,
                    _ => "enabled",
                };
                if level == "disabled" || p.forbidden.contains(&feature) {
                    return message(403, "403 Forbidden");
                }
                match rest {
                    ["repository", "tree"] => self.0.tree(req, &p),
                    ["repository", "commits", reference] => {
                        if p.files.is_empty() || *reference != "main" {
                            return message(404, "404 Commit Not Found");
                        }
                        // A commit id of the tree's content: another tree, another head.
                        let shas: Vec<String> = p
                            .files
                            .iter()
                            .map(|f| format!("{}:{}", f.path, f.sha()))
                            .collect();
                        let id = File::new("", shas.join(",").as_bytes()).sha();
                        ResponseTemplate::new(200).set_body_json(json!({
                            "id": id, "short_id": &id[..11],
                            "title": "Sanitize for network graph", "author_name": "randx",
                            "committed_date": gl_time(time(p.head_minute)),
                            "authored_date": gl_time(time(p.head_minute)), "parent_ids": []}))
                    }
                    ["repository", "blobs", sha, "raw"] => {
                        match p.files.iter().find(|f| f.sha() == *sha) {
                            Some(f) => ResponseTemplate::new(200)
                                .insert_header("Content-Type", "text/plain; charset=utf-8")
                                .set_body_bytes(f.body.clone()),
                            None => message(404, "404 Blob Not Found"),
                        }
                    }
                    ["repository", "files", file, "raw"] => {
                        if query(req, "ref").as_deref() != Some("main") {
                            return message(404, "404 Commit Not Found");
                        }
                        match p.files.iter().find(|f| f.path == *file) {
                            Some(f) => ResponseTemplate::new(200)
                                .insert_header("X-Gitlab-Blob-Id", f.sha().as_str())
                                .insert_header("X-Gitlab-File-Path", f.path.as_str())
                                .insert_header("X-Gitlab-Ref", "main")
                                .set_body_bytes(f.body.clone()),
                            None => message(404, "404 File Not Found"),
                        }
                    }
                    ["members", "all"] => {
                        if p.members_forbidden {
                            return message(403, "403 Forbidden");
                        }
                        let member = |u: &str, email: &Option<&str>, level: u32, state: &str| {
                            let mut m = user(u);
                            m["access_level"] = json!(level);
                            m["created_at"] = json!("2024-01-01T00:00:00.000Z");
                            m["expires_at"] = Value::Null;
                            m["membership_state"] = json!(state);
                            if let Some(e) = email {
                                m["email"] = json!(e);
                            }
                            m
                        };
                        let values = p
                            .members
                            .iter()
                            .map(|(u, email, level)| member(u, email, *level, "active"))
                            .chain(
                                p.awaiting
                                    .iter()
                                    .map(|(u, email)| member(u, email, 30, "awaiting")),
                            )
                            .collect();
                        self.0.offset_page(req, values)
                    }
                    [kind @ ("issues" | "merge_requests")] => self.0.items(req, &p, kind),
                    [kind @ ("issues" | "merge_requests"), iid] => {
                        let list = if *kind == "issues" { &p.issues } else { &p.mrs };
                        match list.iter().find(|i| i.iid.to_string() == *iid) {
                            Some(it) => ResponseTemplate::new(200)
                                .set_body_json(self.0.item_json(&p, kind, it)),
                            None => message(404, "404 Not found"),
                        }
                    }
                    [kind @ ("issues" | "merge_requests"), iid, "notes"] => {
                        self.0.notes(req, &p, kind, iid.parse().unwrap_or(0))
                    }
                    [kind @ ("issues" | "merge_requests"), iid, "discussions"] => {
                        self.0.discussions(req, &p, kind, iid.parse().unwrap_or(0))
                    }
                    _ => message(404, "404 Not Found"),
                }
            }
            _ => message(404, "404 Not Found"),
        }
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub(crate) async fn start(api: GitlabApi) -> MockServer {
    let server = MockServer::start().await;
    *api.base.lock().unwrap() = server.uri();
    mount(&server, &api).await;
    server
}

pub(crate) async fn mount(server: &MockServer, api: &GitlabApi) {
    mount_at(server, api, "").await;
}

/// The API under a relative URL root (`/gitlab`), as a self-managed instance at
/// `https://host/gitlab` serves it; `api.base` should end with the root too.
pub(crate) async fn mount_at(server: &MockServer, api: &GitlabApi, root: &str) {
    Mock::given(method("GET"))
        .and(path_regex(format!("^{root}/api/v4/")))
        .respond_with(Api(api.clone()))
        .mount(server)
        .await;
}

/// The standard project: a private project with files in folders, three merge requests and
/// five issues (with comments, a system note, an internal note, a confidential issue).
pub(crate) fn standard_project() -> Project {
    let mut p = Project::new(42, "acme/platform/api", "private");
    p.files = vec![
        File::new("README.md", b"# API\n\nThe platform API."),
        File::new("src/main.rs", b"fn main() {\n    println!(\"hi\");\n}\n"),
        File::new("src/lib/util.py", b"def f():\n    return 1\n"),
        File::new("docs/logo.png", b"\x89PNG\r\n\x1a\n\0\0\0binary"),
    ];
    p.members = vec![("alice", Some("Alice@Example.com"), 30), ("bob", None, 30)];
    let mut i1 = Item::new(1, "Login fails on Safari", 1);
    i1.labels = vec!["bug", "frontend"];
    i1.assignees = vec!["bob"];
    i1.notes = vec![
        Note::user("bob", "Reproduced on **Safari 17**."),
        Note {
            author: "bob",
            body: "added ~bug label".into(),
            system: true,
            internal: false,
            before_15: false,
            position: None,
            reply_to: None,
            resolved: None,
        },
        Note {
            author: "carol",
            body: "internal: customer ACME".into(),
            system: false,
            internal: true,
            before_15: false,
            position: None,
            reply_to: None,
            resolved: None,
        },
    ];
    let mut i2 = Item::new(2, "Add dark mode", 2);
    i2.state = "closed";
    let mut i3 = Item::new(3, "Security report", 3);
    i3.confidential = true;
    let i4 = Item::new(4, "Docs typo", 4);
    let i5 = Item::new(5, "Slow search", 5);
    p.issues = vec![i1, i2, i3, i4, i5];
    let mut m1 = Item::new(1, "Fix Safari login", 6);
    m1.state = "merged";
    m1.assignees = vec!["alice"];
    m1.notes = vec![Note::user("carol", "LGTM")];
    let m2 = Item::new(2, "WIP: dark mode", 7);
    let m3 = Item::new(3, "Bump deps", 8);
    p.mrs = vec![m1, m2, m3];
    p
}

pub(crate) fn standard(page: usize) -> GitlabApi {
    GitlabApi::new(vec![standard_project()], page)
}

pub(crate) fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "project_owner": "acme/platform", "project_name": "api",
        "gitlab_url": uri, "include_mrs": true, "include_issues": true, "include_code_files": true,
        "credentials": {"gitlab_access_token": TOKEN},
        "allowed_hosts": ["127.0.0.1"],
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
        .build("gitlab", config(uri, extra))
        .expect("a valid config")
}
