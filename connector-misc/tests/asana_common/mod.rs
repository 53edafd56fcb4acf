//! A wiremock Asana written from the API reference (developers.asana.com/reference):
//! collections as `{"data": [...], "next_page": {"offset", "path", "uri"} | null}` paged by
//! `limit` and an opaque `offset` token; `GET /workspaces/{gid}`, `/teams/{gid}`,
//! `/projects?workspace=&archived=false`, `/teams/{gid}/projects`, `/projects/{gid}`,
//! `/memberships?parent={project}` and the deprecated `/projects/{gid}/project_memberships`
//! (`member` with `resource_type`), `/tasks?project=`
//! with `modified_since` and `opt_fields`, `/tasks/{gid}/stories` (`resource_subtype`
//! `comment_added` among system stories), `/attachments?parent=` with a signed
//! `download_url` that refuses an `Authorization` header (as a storage host does), Bearer
//! auth and the error body `{"errors": [{"message": …, "help": …}]}`.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const WORKSPACE: &str = "1200000000000001";
pub const TEAM: &str = "1200000000000005";
pub const TOKEN: &str = "2/1200000000000099/1209999999999999:9f8e7d6c5b4a39281706f5e4d3c2b1a0";

pub fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

/// Asana writes times with milliseconds and `Z`: `2012-02-22T02:06:58.147Z`.
fn asana_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[derive(Clone, Debug)]
pub struct Project {
    pub gid: String,
    pub name: String,
    pub privacy: &'static str,
    pub team: Option<String>,
    /// Members (user gid, e-mail); none: the memberships endpoint answers 403.
    pub members: Option<Vec<(&'static str, &'static str)>>,
    /// The workspace it belongs to, when not `WORKSPACE`.
    pub workspace: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct Comment {
    pub author: &'static str,
    pub text: String,
    pub minute: u32,
}

#[derive(Clone, Debug)]
pub struct Attachment {
    pub gid: String,
    pub name: String,
    pub body: Vec<u8>,
    /// The `size` shown; none: not given.
    pub size: Option<u64>,
    /// Hosted elsewhere (Google Drive): no `download_url`.
    pub external: bool,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub gid: String,
    pub name: String,
    pub notes: String,
    pub html_notes: Option<String>,
    pub minute: u32,
    pub projects: Vec<String>,
    pub assignee: Option<(&'static str, &'static str, &'static str)>,
    pub parent: Option<String>,
    pub completed: bool,
    pub due_on: Option<&'static str>,
    pub custom: Vec<(&'static str, &'static str)>,
    pub comments: Vec<Comment>,
    pub attachments: Vec<Attachment>,
    pub malformed: bool,
    /// Collaborators `(gid, e-mail)` besides the assignee (Asana lists the assignee too).
    pub followers: Vec<(&'static str, &'static str)>,
}

impl Task {
    pub fn new(gid: &str, name: &str, minute: u32, projects: &[&str]) -> Self {
        Self {
            gid: gid.to_owned(),
            name: name.to_owned(),
            notes: format!("Notes of {name}."),
            html_notes: None,
            minute,
            projects: projects.iter().map(|p| (*p).to_owned()).collect(),
            assignee: None,
            parent: None,
            completed: false,
            due_on: None,
            custom: Vec::new(),
            comments: Vec::new(),
            attachments: Vec::new(),
            malformed: false,
            followers: Vec::new(),
        }
    }
}

#[derive(Default)]
pub struct State {
    pub projects: Vec<Project>,
    pub tasks: Vec<Task>,
    /// Items per page unless the request's `limit` asks for fewer.
    pub page: usize,
    /// The next task listing that carries an `offset` is refused as expired (400).
    pub expire_next_offset: bool,
    /// The next download is refused as a storage host refuses an expired signed URL (403).
    pub expire_next_download: bool,
    /// Downloads are refused with 401, as a storage host may refuse a signature.
    pub unauthorized_downloads: bool,
    /// Every download is refused as expired (403), the re-signed ones too.
    pub expire_every_download: bool,
    /// The events so far, each with the project it bubbled up to; a sync token is `s{n}`,
    /// the number of events when it was given.
    pub events: Vec<(String, Value)>,
    /// Sync tokens given before this many events are forgotten (412), as Asana forgets
    /// them after 24 hours.
    pub forget_before: usize,
}

/// The fixture's Asana; cheap to clone.
#[derive(Clone, Default)]
pub struct AsanaApi {
    pub state: Arc<Mutex<State>>,
    pub base: Arc<Mutex<String>>,
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "errors": [{"message": message, "help": "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors"}]
    }))
}

fn project_json(p: &Project) -> Value {
    if p.privacy == "legacy_public" {
        // An answer of before `privacy_setting`: only `public` (public to the team).
        return json!({
            "gid": p.gid, "resource_type": "project", "name": p.name, "public": true,
            "team": p.team.as_ref().map(|t| json!({"gid": t, "resource_type": "team", "name": "Platform"})),
            "workspace": {"gid": p.workspace.unwrap_or(WORKSPACE), "resource_type": "workspace"},
        });
    }
    json!({
        "gid": p.gid, "resource_type": "project", "name": p.name,
        "privacy_setting": p.privacy, "public": p.privacy == "public_to_workspace",
        "team": p.team.as_ref().map(|t| json!({"gid": t, "resource_type": "team", "name": "Platform"})),
        "workspace": {"gid": p.workspace.unwrap_or(WORKSPACE), "resource_type": "workspace"},
    })
}

/// Asana answers only the fields `opt_fields` asks for (and `gid`, `resource_type`).
fn only_asked(mut task: Value, query: &HashMap<String, String>) -> Value {
    let Some(asked) = query.get("opt_fields") else {
        return task;
    };
    let keep: Vec<&str> = asked
        .split(',')
        .map(|f| f.split('.').next().unwrap_or(f))
        .chain(["gid", "resource_type"])
        .collect();
    if let Value::Object(m) = &mut task {
        m.retain(|k, _| keep.contains(&k.as_str()));
    }
    task
}

impl AsanaApi {
    pub fn new(projects: Vec<Project>, tasks: Vec<Task>, page: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                projects,
                tasks,
                page,
                expire_next_offset: false,
                expire_next_download: false,
                unauthorized_downloads: false,
                expire_every_download: false,
                events: Vec::new(),
                forget_before: 0,
            })),
            base: Arc::default(),
        }
    }

    fn task_json(&self, t: &Task, projects: &[Project], tasks: &[Task]) -> Value {
        if t.malformed {
            return json!({"gid": t.gid, "resource_type": "task", "name": t.name, "modified_at": "last tuesday"});
        }
        json!({
            "gid": t.gid, "resource_type": "task", "resource_subtype": "default_task",
            "name": t.name, "notes": t.notes,
            "html_notes": t.html_notes.clone().unwrap_or_else(|| format!("<body>{}</body>", t.notes)),
            "modified_at": asana_time(time(t.minute)),
            "created_at": asana_time(time(0)),
            "completed": t.completed,
            "completed_at": if t.completed { Value::String(asana_time(time(t.minute))) } else { Value::Null },
            "due_on": t.due_on, "due_at": null, "start_on": null,
            "assignee": t.assignee.map(|(gid, name, email)| json!({"gid": gid, "resource_type": "user", "name": name, "email": email})),
            "parent": t.parent.as_ref().map(|p| json!({"gid": p, "resource_type": "task", "name": "Parent"})),
            "followers": t.assignee.map(|(gid, _, email)| (gid, email)).into_iter().chain(t.followers.iter().copied())
                .map(|(gid, email)| json!({"gid": gid, "resource_type": "user", "email": email}))
                .collect::<Vec<_>>(),
            "projects": t.projects.iter().map(|gid| {
                let name = projects.iter().find(|p| &p.gid == gid).map(|p| p.name.clone()).unwrap_or_default();
                json!({"gid": gid, "resource_type": "project", "name": name})
            }).collect::<Vec<_>>(),
            "tags": [{"gid": "1200000000000700", "resource_type": "tag", "name": "backend"}],
            "custom_fields": t.custom.iter().enumerate().map(|(i, (name, value))| json!({
                "gid": format!("12000000000008{i:02}"), "resource_type": "custom_field", "name": name, "display_value": value,
            })).collect::<Vec<_>>(),
            "permalink_url": format!("https://app.asana.com/1/{WORKSPACE}/project/{}/task/{}", t.projects.first().cloned().unwrap_or_default(), t.gid),
            "num_subtasks": tasks.iter().filter(|s| s.parent.as_deref() == Some(t.gid.as_str())).count(),
        })
    }

    fn attachment_json(&self, task: &Task, a: &Attachment) -> Value {
        let base = self.base.lock().unwrap().clone();
        json!({
            "gid": a.gid, "resource_type": "attachment", "resource_subtype": if a.external { "gdrive" } else { "asana" },
            "name": a.name, "size": a.size, "host": if a.external { "gdrive" } else { "asana" },
            "created_at": asana_time(time(task.minute)),
            "download_url": if a.external { Value::Null } else { Value::String(format!("{base}/files/{}?X-Amz-Signature=abc123&X-Amz-Expires=120", a.gid)) },
            "permanent_url": format!("https://app.asana.com/app/asana/-/get_asset?asset_id={}", a.gid),
        })
    }

    /// A page of `items` from the request's `offset`, with `next_page` when more are left.
    fn paged(
        &self,
        req: &Request,
        query: &HashMap<String, String>,
        items: Vec<Value>,
    ) -> ResponseTemplate {
        let state = self.state.lock().unwrap();
        let limit = query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(100)
            .min(state.page.max(1));
        drop(state);
        let start = match query.get("offset") {
            None => 0,
            Some(o) => match o
                .strip_prefix("eyJvZmZzZXQiOi")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) => n,
                None => return error(400, "offset: Your pagination token is invalid."),
            },
        };
        let end = (start + limit).min(items.len());
        let data: Vec<Value> = items
            .get(start..end)
            .map(<[Value]>::to_vec)
            .unwrap_or_default();
        let next = if end < items.len() {
            let token = format!("eyJvZmZzZXQiOi{end}");
            let mut url = req.url.clone();
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "offset")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("offset", &token);
            let path = format!(
                "{}?{}",
                url.path().trim_start_matches("/api/1.0"),
                url.query().unwrap_or("")
            );
            json!({"offset": token, "path": path, "uri": url.as_str()})
        } else {
            Value::Null
        };
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "next_page": next}))
    }
}

impl Respond for AsanaApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let query: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let segments: Vec<String> = req
            .url
            .path_segments()
            .unwrap()
            .map(str::to_owned)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        // The signed download URL: a storage host refuses a second authentication.
        if let ["files", gid] = segs[..] {
            if req.headers.get("authorization").is_some() {
                return ResponseTemplate::new(400).set_body_string("<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>");
            }
            let mut state = self.state.lock().unwrap();
            if state.unauthorized_downloads {
                return ResponseTemplate::new(401).set_body_string("<Error><Code>Unauthorized</Code><Message>Signature does not match</Message></Error>");
            }
            if state.expire_next_download || state.expire_every_download {
                state.expire_next_download = false;
                return ResponseTemplate::new(403).set_body_string("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>");
            }
            return match state
                .tasks
                .iter()
                .flat_map(|t| &t.attachments)
                .find(|a| a.gid == gid)
            {
                Some(a) => ResponseTemplate::new(200).set_body_bytes(a.body.clone()),
                None => ResponseTemplate::new(404),
            };
        }
        let sent = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if sent != Some(format!("Bearer {TOKEN}").as_str()) {
            return error(401, "Not Authorized");
        }
        if query.contains_key("offset") && req.url.path() == "/api/1.0/tasks" {
            let mut state = self.state.lock().unwrap();
            if state.expire_next_offset {
                state.expire_next_offset = false;
                return error(400, "offset: Your pagination token has expired.");
            }
        }
        if req.url.path() == "/api/1.0/events" {
            let state = self.state.lock().unwrap();
            let now = format!("s{}", state.events.len());
            let Some(resource) = query.get("resource") else {
                return error(400, "resource: Missing input");
            };
            let from = query
                .get("sync")
                .and_then(|s| s.strip_prefix('s'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n <= state.events.len() && *n >= state.forget_before);
            let Some(from) = from else {
                return ResponseTemplate::new(412).set_body_json(json!({
                    "errors": [{"message": "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync."}],
                    "sync": now,
                }));
            };
            let data: Vec<Value> = state.events[from..]
                .iter()
                .filter(|(project, _)| project == resource)
                .map(|(_, e)| e.clone())
                .collect();
            return ResponseTemplate::new(200)
                .set_body_json(json!({"data": data, "sync": now, "has_more": false}));
        }
        let state = self.state.lock().unwrap();
        if let ["api", "1.0", "tasks", gid] = segs[..] {
            let projects = state.projects.clone();
            return match state.tasks.iter().find(|t| t.gid == gid) {
                Some(t) => ResponseTemplate::new(200)
                    .set_body_json(json!({"data": self.task_json(t, &projects, &state.tasks)})),
                None => error(404, "task: Unknown object"),
            };
        }
        let projects = state.projects.clone();
        let tasks = state.tasks.clone();
        drop(state);
        match segs[..] {
            ["api", "1.0", "workspaces", gid] if gid == WORKSPACE => ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"gid": WORKSPACE, "resource_type": "workspace", "name": "Acme"}})),
            ["api", "1.0", "teams", gid] if gid == TEAM => ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"gid": TEAM, "resource_type": "team", "name": "Platform"}})),
            ["api", "1.0", "teams", gid, "projects"] if gid == TEAM => {
                let items = projects.iter().filter(|p| p.team.as_deref() == Some(TEAM)).map(project_json).collect();
                self.paged(req, &query, items)
            }
            ["api", "1.0", "projects"] => {
                if query.get("workspace").map(String::as_str) != Some(WORKSPACE) {
                    return error(404, "workspace: Not a recognized ID");
                }
                let items = projects.iter().map(project_json).collect();
                self.paged(req, &query, items)
            }
            ["api", "1.0", "projects", gid] => match projects.iter().find(|p| p.gid == gid) {
                Some(p) => ResponseTemplate::new(200).set_body_json(json!({"data": project_json(p)})),
                None => error(404, "project: Unknown object: 404"),
            },
            // `GET /memberships?parent={project}`, which replaced the deprecated
            // `project_memberships` (still answered, for an older client).
            ["api", "1.0", "memberships"] => {
                let Some(gid) = query.get("parent") else {
                    return error(400, "parent: Missing input");
                };
                match projects.iter().find(|p| &p.gid == gid).and_then(|p| p.members.clone()) {
                    Some(members) => {
                        let items = members.iter().enumerate().map(|(i, (user, email))| json!({
                            "gid": format!("12000000000009{i:02}"), "resource_type": "membership",
                            "resource_subtype": "project_membership", "access_level": "editor",
                            "parent": {"gid": gid, "resource_type": "project", "name": "Project"},
                            "member": {"gid": user, "resource_type": "user", "name": "Member", "email": email},
                        })).collect();
                        self.paged(req, &query, items)
                    }
                    None => error(403, "You don't have permission to access this project's memberships."),
                }
            }
            ["api", "1.0", "projects", gid, "project_memberships"] => {
                match projects.iter().find(|p| p.gid == gid).and_then(|p| p.members.clone()) {
                    Some(members) => {
                        let items = members.iter().enumerate().map(|(i, (user, email))| json!({
                            "gid": format!("12000000000009{i:02}"), "resource_type": "membership",
                            "member": {"gid": user, "resource_type": "user", "name": "Member", "email": email},
                        })).collect();
                        self.paged(req, &query, items)
                    }
                    None => error(403, "You don't have permission to access this project's memberships."),
                }
            }
            ["api", "1.0", "tasks"] => {
                let Some(project) = query.get("project") else {
                    return error(400, "Must specify exactly one of project, tag, section, user task list, or assignee + workspace");
                };
                if !projects.iter().any(|p| &p.gid == project) {
                    return error(404, "project: Unknown object: 404");
                }
                let since = query.get("modified_since").map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
                let items = tasks
                    .iter()
                    .filter(|t| t.projects.contains(project))
                    .filter(|t| since.is_none_or(|s| time(t.minute) >= s))
                    .map(|t| only_asked(self.task_json(t, &projects, &tasks), &query))
                    .collect();
                self.paged(req, &query, items)
            }
            // A subtask is not in its parent's project unless it was added to it.
            ["api", "1.0", "tasks", gid, "subtasks"] => {
                if !tasks.iter().any(|t| t.gid == gid) {
                    return error(404, "task: Unknown object: 404");
                }
                let items = tasks
                    .iter()
                    .filter(|t| t.parent.as_deref() == Some(gid))
                    .map(|t| only_asked(self.task_json(t, &projects, &tasks), &query))
                    .collect();
                self.paged(req, &query, items)
            }
            ["api", "1.0", "tasks", gid, "stories"] => match tasks.iter().find(|t| t.gid == gid) {
                Some(t) => {
                    let mut items = vec![json!({
                        "gid": format!("{}01", t.gid), "resource_type": "story", "resource_subtype": "added_to_project",
                        "text": "added to Launch", "created_at": asana_time(time(0)),
                        "created_by": {"gid": "1200000000000050", "resource_type": "user", "name": "Jane Doe"},
                    })];
                    items.extend(t.comments.iter().enumerate().map(|(i, c)| json!({
                        "gid": format!("{}{:02}", t.gid, i + 2), "resource_type": "story", "resource_subtype": "comment_added",
                        "text": c.text, "created_at": asana_time(time(c.minute)),
                        "created_by": {"gid": "1200000000000051", "resource_type": "user", "name": c.author},
                    })));
                    self.paged(req, &query, items)
                }
                None => error(404, "task: Unknown object: 404"),
            },
            ["api", "1.0", "attachments", gid] => {
                let found = tasks.iter().flat_map(|t| t.attachments.iter().map(move |a| (t, a))).find(|(_, a)| a.gid == gid);
                match found {
                    Some((task, a)) => ResponseTemplate::new(200).set_body_json(json!({"data": self.attachment_json(task, a)})),
                    None => error(404, "attachment: Unknown object: 404"),
                }
            }
            ["api", "1.0", "attachments"] => {
                let Some(task) = query.get("parent").and_then(|p| tasks.iter().find(|t| &t.gid == p)) else {
                    return error(404, "parent: Unknown object: 404");
                };
                let items = task.attachments.iter().map(|a| self.attachment_json(task, a)).collect();
                self.paged(req, &query, items)
            }
            _ => error(404, "Unknown object: 404"),
        }
    }
}

pub async fn start(api: AsanaApi) -> MockServer {
    let server = MockServer::start().await;
    *api.base.lock().unwrap() = server.uri();
    Mock::given(method("GET"))
        .and(path_regex("^/"))
        .respond_with(api)
        .mount(&server)
        .await;
    server
}

/// Three projects: `Launch` (public to the workspace), `Platform` (private, members
/// readable) and `Secret` (private, members not readable); six tasks modified at minutes
/// 1..=6, one of them in two projects, with comments, custom fields and attachments.
pub fn standard(page: usize) -> AsanaApi {
    let projects = vec![
        Project {
            gid: "1200000000000010".into(),
            name: "Launch".into(),
            privacy: "public_to_workspace",
            team: Some(TEAM.into()),
            members: None,
            workspace: None,
        },
        Project {
            gid: "1200000000000011".into(),
            name: "Platform".into(),
            privacy: "private",
            team: Some(TEAM.into()),
            members: Some(vec![
                ("1200000000000050", "jane@example.com"),
                ("1200000000000051", "rob@example.com"),
            ]),
            workspace: None,
        },
        Project {
            gid: "1200000000000012".into(),
            name: "Secret".into(),
            privacy: "private",
            team: None,
            members: None,
            workspace: None,
        },
    ];
    let (launch, platform, secret) = ("1200000000000010", "1200000000000011", "1200000000000012");
    let mut t1 = Task::new(
        "1200000000000101",
        "Write launch plan",
        1,
        &[launch, platform],
    );
    t1.html_notes = Some("<body>The plan covers <strong>pricing</strong> and <a href=\"https://example.com/pr\">press</a>.</body>".into());
    t1.notes = "The plan covers pricing and press.".into();
    t1.assignee = Some(("1200000000000050", "Jane Doe", "jane@example.com"));
    t1.due_on = Some("2025-03-14");
    t1.custom = vec![("Priority", "High"), ("Estimate", "3")];
    t1.comments = vec![Comment {
        author: "Rob Reviewer",
        text: "Add the EU dates.".into(),
        minute: 1,
    }];
    t1.attachments = vec![
        Attachment {
            gid: "1200000000000901".into(),
            name: "plan.pdf".into(),
            body: b"%PDF-1.4 plan".to_vec(),
            size: Some(13),
            external: false,
        },
        Attachment {
            gid: "1200000000000902".into(),
            name: "deck".into(),
            body: Vec::new(),
            size: None,
            external: true,
        },
    ];
    let t2 = Task::new("1200000000000102", "Book venue", 2, &[launch]);
    let mut t3 = Task::new("1200000000000103", "Migrate queue", 3, &[platform]);
    t3.completed = true;
    // A subtask of `Migrate queue`, in no project: only `GET /tasks/{gid}/subtasks` shows it.
    let mut t4 = Task::new("1200000000000104", "Queue subtask", 4, &[]);
    t4.parent = Some("1200000000000103".into());
    let t5 = Task::new("1200000000000105", "Rotate keys", 5, &[secret]);
    let mut t6 = Task::new("1200000000000106", "Press kit", 6, &[launch]);
    t6.attachments = vec![Attachment {
        gid: "1200000000000903".into(),
        name: "huge.zip".into(),
        body: vec![0; 64],
        size: Some(50_000_000),
        external: false,
    }];
    AsanaApi::new(projects, vec![t1, t2, t3, t4, t5, t6], page)
}

pub fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "asana_workspace_id": WORKSPACE,
        "credentials": {"asana_api_token_secret": TOKEN},
        "api_base_url": format!("{uri}/api/1.0"),
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
        .build("asana", config(uri, extra))
        .expect("a valid config")
}

/// Requests the server saw whose path starts with `prefix`.
pub async fn requests_to(server: &MockServer, prefix: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .collect()
}

pub fn ids(docs: &[connector_core::Document]) -> Vec<String> {
    let mut ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    ids
}

impl AsanaApi {
    /// Edits comment `index` of task `gid` to `text`, which moves no `modified_at`; each
    /// project of the task gets the `changed` event of the story.
    pub fn edit_comment(&self, gid: &str, index: usize, text: &str, minute: u32) {
        let mut state = self.state.lock().unwrap();
        let task = state.tasks.iter_mut().find(|t| t.gid == gid).unwrap();
        task.comments[index].text = text.to_owned();
        let projects = task.projects.clone();
        let story = format!("{gid}{:02}", index + 2);
        for project in projects {
            let event = json!({
                "user": {"gid": "1200000000000051", "resource_type": "user", "name": "Rob"},
                "created_at": asana_time(time(minute)),
                "type": "story", "action": "changed",
                "resource": {"gid": story, "resource_type": "story", "resource_subtype": "comment_added"},
                "parent": {"gid": gid, "resource_type": "task", "resource_subtype": "default_task"},
                "change": {"field": "text", "action": "changed"},
            });
            state.events.push((project, event));
        }
    }
}
