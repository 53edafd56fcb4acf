//! A wiremock Bitbucket Cloud written from the REST API 2.0 reference
//! (developer.atlassian.com/cloud/bitbucket/rest): paginated collections as
//! `{"pagelen", "size", "page", "values", "next"}` with an absolute `next` link that keeps the
//! request's query and moves `page`; repositories (`q=project.key="KEY"`, `is_private`,
//! `project.key`), pull requests (`state` repeated, only `OPEN` without it; `sort=-updated_on`;
//! `q=updated_on >= "…"`; `links.html.href`), comments (`content.raw`, `inline.path`,
//! `inline.to`, `parent.id`, `deleted`), `workspaces/{ws}/permissions/repositories/{slug}`
//! (`repository_permission` values, a scope 403 with `detail.required`), projects, HTTP Basic
//! auth, and the error body `{"type": "error", "error": {"message": …}}`.
#![allow(clippy::unwrap_used, dead_code)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const WORKSPACE: &str = "acme";
pub(crate) const EMAIL: &str = "jane@example.com";
pub(crate) const TOKEN: &str = "ATATT3xFfGF0T4JcQkzxOqR7dZhLmPq2vWsYb9nE";
/// A workspace access token, sent as `Authorization: Bearer`.
pub(crate) const ACCESS_TOKEN: &str = "ATCTT3xFfGF0Wk5pQ2tLmZ8rVb7nYc4dXs1A";

pub(crate) fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

/// Bitbucket writes times with microseconds and an offset: `2025-03-01T10:01:00.123456+00:00`.
fn bb_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

fn user(name: &str) -> Value {
    json!({
        "type": "user", "display_name": name, "nickname": name.to_lowercase().replace(' ', ""),
        "uuid": format!("{{{}}}", name.len()), "account_id": format!("5b10a2844c20165700ede{:03}", name.len()),
        "links": {"html": {"href": format!("https://bitbucket.org/%7B{}%7D/", name.len())}}
    })
}

#[derive(Clone, Debug)]
pub(crate) struct Repo {
    pub(crate) slug: String,
    pub(crate) private: bool,
    pub(crate) project: String,
    /// The users (display names) with an effective permission, as
    /// `workspaces/{ws}/permissions/repositories/{slug}` lists them; none: that endpoint
    /// answers 403 (not an admin, or no admin scope).
    pub(crate) users: Option<Vec<&'static str>>,
}

#[derive(Clone, Debug)]
pub(crate) struct Comment {
    pub(crate) id: u64,
    pub(crate) author: &'static str,
    pub(crate) raw: String,
    pub(crate) inline: Option<(&'static str, u64)>,
    pub(crate) parent: Option<u64>,
    pub(crate) deleted: bool,
    /// A comment of a review its author has not submitted yet (`pending: true`), which
    /// Bitbucket lists to its author alone.
    pub(crate) pending: bool,
}

impl Comment {
    pub(crate) fn new(id: u64, author: &'static str, raw: &str) -> Self {
        Self {
            id,
            author,
            raw: raw.to_owned(),
            inline: None,
            parent: None,
            deleted: false,
            pending: false,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Pr {
    pub(crate) repo: String,
    pub(crate) id: u64,
    pub(crate) title: String,
    pub(crate) state: &'static str,
    /// `updated_on` as minutes past 10:00.
    pub(crate) minute: u32,
    pub(crate) comments: Vec<Comment>,
    /// The comments endpoint fails for this one (404 with an error body).
    pub(crate) broken_comments: bool,
    /// `updated_on` is not a date: the value cannot be read.
    pub(crate) malformed: bool,
    /// Who approved it (display names): the reviewer, and others as participants.
    pub(crate) approved: Vec<&'static str>,
    /// Who requested changes (display names), as participants.
    pub(crate) changes_requested: Vec<&'static str>,
}

impl Pr {
    pub(crate) fn new(repo: &str, id: u64, title: &str, state: &'static str, minute: u32) -> Self {
        Self {
            repo: repo.to_owned(),
            id,
            title: title.to_owned(),
            state,
            minute,
            comments: Vec::new(),
            broken_comments: false,
            malformed: false,
            approved: vec!["Rob Reviewer"],
            changes_requested: Vec::new(),
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) repos: Vec<Repo>,
    pub(crate) prs: Vec<Pr>,
    /// Values per page unless the request's `pagelen` asks for fewer.
    pub(crate) page: usize,
    /// When the second pull-request page of this repository is asked for, the newest pull
    /// request of the first page is updated again (it moves to the front of the listing).
    pub(crate) touch_after_first_page: Option<String>,
    /// When the second pull-request page of this repository is asked for, its pull request
    /// changed longest ago (the last of `-updated_on`, not read yet) is updated: it moves to
    /// the front of a newest-first listing, onto a page already read.
    pub(crate) touch_unread_on_page_two: Option<String>,
    /// Repositories per page of the repository listing, when fewer than the request's
    /// `pagelen`.
    pub(crate) repo_page: Option<usize>,
    /// When the second page of the repository listing is asked for, this repository is
    /// deleted (with its pull requests): the ones after it move up a place.
    pub(crate) delete_repo_on_page_two: Option<String>,
}

/// The fixture's workspace; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct BitbucketApi {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) base: Arc<Mutex<String>>,
}

pub(crate) fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"type": "error", "error": {"message": message}}))
}

/// Bitbucket's refusal of a token without a scope the endpoint needs: the scopes it wants
/// and those it has in an object `detail`.
pub(crate) fn scope_error(required: &[&str]) -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_json(json!({
        "type": "error",
        "error": {
            "message": "Your credentials lack one or more required privilege scopes.",
            "detail": {"granted": ["pullrequest", "repository"], "required": required}
        }
    }))
}

fn query(req: &Request) -> Vec<(String, String)> {
    req.url.query_pairs().into_owned().collect()
}

fn param(q: &[(String, String)], key: &str) -> Option<String> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

impl BitbucketApi {
    pub(crate) fn new(repos: Vec<Repo>, prs: Vec<Pr>, page: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                repos,
                prs,
                page,
                ..State::default()
            })),
            base: Arc::default(),
        }
    }

    fn pr_json(&self, pr: &Pr) -> Value {
        let ws = WORKSPACE;
        let mut v = json!({
            "type": "pullrequest", "id": pr.id, "title": pr.title,
            "description": format!("Fixes the *{}* bug.\n\n- step one\n- step two", pr.title),
            "summary": {"type": "rendered", "raw": "", "markup": "markdown", "html": ""},
            "state": pr.state, "draft": false, "reason": if pr.state == "DECLINED" { "Superseded by a better fix" } else { "" },
            "author": user("Jane Doe"),
            "reviewers": [user("Rob Reviewer")],
            "participants": [],
            "closed_by": if pr.state == "MERGED" { user("Rob Reviewer") } else { Value::Null },
            "source": {"branch": {"name": format!("feature/{}", pr.id)}, "commit": {"hash": "e3b0c44298fc"}, "repository": {"full_name": format!("{ws}/{}", pr.repo)}},
            "destination": {"branch": {"name": "main"}, "commit": {"hash": "1c9e5b2a7d4f"}, "repository": {"full_name": format!("{ws}/{}", pr.repo)}},
            "merge_commit": if pr.state == "MERGED" { json!({"hash": format!("{:012x}", pr.id)}) } else { Value::Null },
            "close_source_branch": true,
            "created_on": bb_time(time(0)),
            "updated_on": bb_time(time(pr.minute)),
            "comment_count": pr.comments.len(),
            "task_count": 0,
            "links": {
                "self": {"href": format!("https://api.bitbucket.org/2.0/repositories/{ws}/{}/pullrequests/{}", pr.repo, pr.id)},
                "html": {"href": format!("https://bitbucket.org/{ws}/{}/pull-requests/{}", pr.repo, pr.id)}
            }
        });
        let rob = pr.approved.contains(&"Rob Reviewer");
        let mut participants = vec![
            json!({"type": "participant", "user": user("Rob Reviewer"), "role": "REVIEWER", "approved": rob, "state": if rob { json!("approved") } else { Value::Null }, "participated_on": bb_time(time(pr.minute))}),
            json!({"type": "participant", "user": user("Jane Doe"), "role": "PARTICIPANT", "approved": false, "state": null, "participated_on": null}),
        ];
        for name in pr.approved.iter().filter(|n| **n != "Rob Reviewer") {
            participants.push(json!({"type": "participant", "user": user(name), "role": "PARTICIPANT", "approved": true, "state": "approved", "participated_on": bb_time(time(pr.minute))}));
        }
        for name in &pr.changes_requested {
            participants.push(json!({"type": "participant", "user": user(name), "role": "PARTICIPANT", "approved": false, "state": "changes_requested", "participated_on": bb_time(time(pr.minute))}));
        }
        v["participants"] = json!(participants);
        if pr.malformed {
            v["updated_on"] = json!("yesterday");
        }
        v
    }

    /// The activity feed of `pr`, newest first as Bitbucket sends it: its opening, its
    /// approvals and requests for changes, a state change when it is not open, and its
    /// comments (which the connector reads from their own endpoint).
    fn activity_json(pr: &Pr) -> Vec<Value> {
        let short = json!({"type": "pullrequest", "id": pr.id, "title": pr.title});
        let mut out = vec![json!({"pull_request": short, "update": {
            "state": "OPEN", "draft": false, "title": pr.title, "description": "",
            "reason": "", "author": user("Jane Doe"), "date": bb_time(time(0)),
            "source": {"branch": {"name": format!("feature/{}", pr.id)}},
            "destination": {"branch": {"name": "main"}},
            "reviewers": [user("Rob Reviewer")], "changes": {},
        }})];
        for c in &pr.comments {
            out.push(json!({"pull_request": short, "comment": Self::comment_json(pr, c)}));
        }
        for name in &pr.approved {
            out.push(json!({"pull_request": short, "approval": {
                "date": bb_time(time(pr.minute)), "user": user(name), "pullrequest": short,
            }}));
        }
        for name in &pr.changes_requested {
            out.push(json!({"pull_request": short, "changes_requested": {
                "date": bb_time(time(pr.minute)), "user": user(name), "pullrequest": short,
            }}));
        }
        if pr.state != "OPEN" {
            out.push(json!({"pull_request": short, "update": {
                "state": pr.state, "author": user("Rob Reviewer"), "date": bb_time(time(pr.minute)),
                "title": pr.title, "changes": {"status": {"old": "open", "new": pr.state.to_lowercase()}},
            }}));
        }
        out.reverse();
        out
    }

    fn comment_json(pr: &Pr, c: &Comment) -> Value {
        let mut v = json!({
            "type": "pullrequest_comment", "id": c.id,
            "created_on": bb_time(time(pr.minute.saturating_sub(1))),
            "updated_on": bb_time(time(pr.minute.saturating_sub(1))),
            "content": {"type": "rendered", "raw": c.raw, "markup": "markdown", "html": format!("<p>{}</p>", c.raw)},
            "user": user(c.author), "deleted": c.deleted, "pending": c.pending,
            "pullrequest": {"type": "pullrequest", "id": pr.id, "title": pr.title},
            "links": {"html": {"href": format!("https://bitbucket.org/{WORKSPACE}/{}/pull-requests/{}/_/diff#comment-{}", pr.repo, pr.id, c.id)}}
        });
        if let Some((path, line)) = c.inline {
            v["inline"] = json!({"from": null, "to": line, "path": path});
        }
        if let Some(parent) = c.parent {
            v["parent"] = json!({"id": parent});
        }
        v
    }

    fn repo_json(r: &Repo) -> Value {
        json!({
            "type": "repository", "slug": r.slug, "name": r.slug, "full_name": format!("{WORKSPACE}/{}", r.slug),
            "is_private": r.private, "uuid": format!("{{{}}}", r.slug),
            "project": {"type": "project", "key": r.project, "name": r.project},
            "links": {"html": {"href": format!("https://bitbucket.org/{WORKSPACE}/{}", r.slug)}}
        })
    }

    /// A page of `items` as Bitbucket pages them: `page` from 1, `next` the request's own URL
    /// with the next page number.
    fn paged(&self, req: &Request, items: Vec<Value>, default_len: usize) -> ResponseTemplate {
        let q = query(req);
        let pagelen = param(&q, "pagelen")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(default_len)
            .min(default_len.max(1));
        let page = param(&q, "page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1);
        let size = items.len();
        let values: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * pagelen)
            .take(pagelen)
            .collect();
        let mut body = json!({"pagelen": pagelen, "size": size, "page": page, "values": values});
        if page * pagelen < size {
            let base = self.base.lock().unwrap().clone();
            let mut next = url::Url::parse(&format!("{base}{}", req.url.path())).unwrap();
            {
                let mut pairs = next.query_pairs_mut();
                for (k, v) in q.iter().filter(|(k, _)| k != "page") {
                    pairs.append_pair(k, v);
                }
                pairs.append_pair("page", &(page + 1).to_string());
            }
            body["next"] = json!(next.to_string());
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn pull_requests(&self, req: &Request, slug: &str) -> ResponseTemplate {
        let q = query(req);
        let states: Vec<String> = q
            .iter()
            .filter(|(k, _)| k == "state")
            .map(|(_, v)| v.clone())
            .collect();
        let states = if states.is_empty() {
            vec!["OPEN".to_owned()]
        } else {
            states
        };
        let since: Option<DateTime<Utc>> = param(&q, "q").map(|f| {
            let value = f
                .strip_prefix("updated_on >= \"")
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or_else(|| panic!("unexpected q: {f}"));
            DateTime::parse_from_rfc3339(value)
                .unwrap()
                .with_timezone(&Utc)
        });
        let page: usize = param(&q, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let mut st = self.state.lock().unwrap();
        if page == 2 && st.touch_after_first_page.as_deref() == Some(slug) {
            st.touch_after_first_page = None;
            let newest = st
                .prs
                .iter()
                .filter(|p| p.repo == slug)
                .map(|p| p.minute)
                .max()
                .unwrap_or(0);
            if let Some(p) = st
                .prs
                .iter_mut()
                .filter(|p| p.repo == slug)
                .max_by_key(|p| p.minute)
            {
                p.minute = newest + 1;
            }
        }
        if page == 2 && st.touch_unread_on_page_two.as_deref() == Some(slug) {
            st.touch_unread_on_page_two = None;
            let newest = st
                .prs
                .iter()
                .filter(|p| p.repo == slug)
                .map(|p| p.minute)
                .max()
                .unwrap_or(0);
            if let Some(p) = st
                .prs
                .iter_mut()
                .filter(|p| p.repo == slug)
                .min_by_key(|p| (p.minute, std::cmp::Reverse(p.id)))
            {
                p.minute = newest + 1;
            }
        }
        let mut prs: Vec<Pr> = st
            .prs
            .iter()
            .filter(|p| p.repo == slug && states.iter().any(|s| s == p.state))
            .filter(|p| since.is_none_or(|s| p.malformed || time(p.minute) >= s))
            .cloned()
            .collect();
        match param(&q, "sort").as_deref() {
            Some("-updated_on") => prs.sort_by_key(|p| (std::cmp::Reverse(p.minute), p.id)),
            Some("updated_on") => prs.sort_by_key(|p| (p.minute, p.id)),
            Some("id") | None => prs.sort_by_key(|p| p.id),
            Some(other) => panic!("unexpected sort: {other}"),
        }
        let page_len = st.page;
        drop(st);
        let items = prs.iter().map(|p| self.pr_json(p)).collect();
        self.paged(req, items, page_len.min(50))
    }
}

impl Respond for BitbucketApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"))
        );
        let bearer = format!("Bearer {ACCESS_TOKEN}");
        let sent = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if sent != Some(expected.as_str()) && sent != Some(bearer.as_str()) {
            return error(401, "Unauthorized")
                .insert_header("WWW-Authenticate", "Basic realm=\"Bitbucket.org HTTP\"");
        }
        let segments: Vec<String> = req
            .url
            .path_segments()
            .unwrap()
            .map(str::to_owned)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let q = query(req);
        match segs.as_slice() {
            ["2.0", "workspaces", ws, "projects", key] => {
                let st = self.state.lock().unwrap();
                if *ws == WORKSPACE && st.repos.iter().any(|r| r.project == *key) {
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"type": "project", "key": key, "name": key}))
                } else {
                    error(404, &format!("Project {key} not found"))
                }
            }
            ["2.0", "workspaces", ws, "permissions", "repositories", slug] => {
                let st = self.state.lock().unwrap();
                let Some(repo) = st
                    .repos
                    .iter()
                    .find(|r| *ws == WORKSPACE && r.slug == *slug)
                    .cloned()
                else {
                    return error(404, &format!("Repository {ws}/{slug} not found"));
                };
                drop(st);
                match &repo.users {
                    None => scope_error(&["repository:admin"]),
                    Some(users) => {
                        let values = users
                            .iter()
                            .enumerate()
                            .map(|(i, u)| {
                                let permission = ["admin", "write", "read"][i % 3];
                                json!({
                                    "type": "repository_permission",
                                    "permission": permission,
                                    "user": user(u),
                                    "repository": {"type": "repository", "name": repo.slug, "full_name": format!("{WORKSPACE}/{}", repo.slug), "uuid": format!("{{{}}}", repo.slug)}
                                })
                            })
                            .collect();
                        self.paged(req, values, 100)
                    }
                }
            }
            ["2.0", "repositories", ws] => {
                if *ws != WORKSPACE {
                    return error(404, &format!("No workspace with identifier '{ws}'."));
                }
                let project = param(&q, "q").map(|f| {
                    f.strip_prefix("project.key=\"")
                        .and_then(|r| r.strip_suffix('"'))
                        .unwrap_or_else(|| panic!("unexpected q: {f}"))
                        .to_owned()
                });
                let mut st = self.state.lock().unwrap();
                let page: usize = param(&q, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
                if page == 2
                    && let Some(gone) = st.delete_repo_on_page_two.take()
                {
                    st.repos.retain(|r| r.slug != gone);
                    st.prs.retain(|p| p.repo != gone);
                }
                let repo_page = st.repo_page.unwrap_or(100);
                let mut repos: Vec<Repo> = st
                    .repos
                    .iter()
                    .filter(|r| project.as_ref().is_none_or(|p| *p == r.project))
                    .cloned()
                    .collect();
                drop(st);
                repos.sort_by(|a, b| a.slug.cmp(&b.slug));
                self.paged(req, repos.iter().map(Self::repo_json).collect(), repo_page)
            }
            ["2.0", "repositories", ws, slug, rest @ ..] => {
                let st = self.state.lock().unwrap();
                let Some(repo) = st
                    .repos
                    .iter()
                    .find(|r| *ws == WORKSPACE && r.slug == *slug)
                    .cloned()
                else {
                    return error(404, &format!("Repository {ws}/{slug} not found"));
                };
                drop(st);
                match rest {
                    [] => ResponseTemplate::new(200).set_body_json(Self::repo_json(&repo)),
                    ["pullrequests"] => self.pull_requests(req, slug),
                    ["pullrequests", id, tail @ ..] => {
                        let st = self.state.lock().unwrap();
                        let Some(pr) = st
                            .prs
                            .iter()
                            .find(|p| p.repo == *slug && p.id.to_string() == *id)
                            .cloned()
                        else {
                            return error(404, &format!("Pull request {id} not found"));
                        };
                        drop(st);
                        match tail {
                            [] => ResponseTemplate::new(200).set_body_json(self.pr_json(&pr)),
                            ["comments"] if pr.broken_comments => error(404, "Resource not found"),
                            ["comments"] => {
                                let values = pr
                                    .comments
                                    .iter()
                                    .map(|c| Self::comment_json(&pr, c))
                                    .collect();
                                self.paged(req, values, 100)
                            }
                            ["activity"] => self.paged(req, Self::activity_json(&pr), 50),
                            _ => error(404, "Resource not found"),
                        }
                    }
                    _ => error(404, "Resource not found"),
                }
            }
            _ => error(404, "Resource not found"),
        }
    }
}

pub(crate) async fn start(api: BitbucketApi) -> MockServer {
    let server = MockServer::start().await;
    *api.base.lock().unwrap() = server.uri();
    Mock::given(method("GET"))
        .and(path_regex("^/2\\.0/"))
        .respond_with(api)
        .mount(&server)
        .await;
    server
}

/// Two repositories in two projects (`api` private with a group, `web` public) and one private
/// repository whose permissions the account may not read; pull requests updated at minutes 1..=6.
pub(crate) fn standard(page: usize) -> BitbucketApi {
    let repos = vec![
        Repo {
            slug: "api".into(),
            private: true,
            project: "PLAT".into(),
            users: Some(vec!["Jane Doe", "Rob Reviewer"]),
        },
        Repo {
            slug: "infra".into(),
            private: true,
            project: "PLAT".into(),
            users: None,
        },
        Repo {
            slug: "web".into(),
            private: false,
            project: "WEB".into(),
            users: None,
        },
    ];
    let mut p1 = Pr::new("api", 1, "Add rate limiting", "MERGED", 1);
    p1.comments = vec![
        Comment::new(
            101,
            "Rob Reviewer",
            "Looks good, but see **the** retry note.",
        ),
        Comment {
            inline: Some(("src/limit.rs", 42)),
            ..Comment::new(102, "Rob Reviewer", "Off by one here?")
        },
        Comment {
            parent: Some(102),
            ..Comment::new(103, "Jane Doe", "Fixed in `a1b2c3`.")
        },
        Comment {
            deleted: true,
            ..Comment::new(104, "Jane Doe", "(deleted)")
        },
    ];
    let p2 = Pr::new("api", 2, "Drop Python 2", "DECLINED", 2);
    let p3 = Pr::new("api", 3, "Bump serde", "OPEN", 3);
    let p4 = Pr::new("infra", 1, "Terraform 1.9", "SUPERSEDED", 4);
    let p5 = Pr::new("web", 7, "Dark mode", "OPEN", 5);
    let mut p6 = Pr::new("web", 8, "Fix footer", "OPEN", 6);
    p6.comments = vec![Comment::new(201, "Jane Doe", "Ready for review.")];
    BitbucketApi::new(repos, vec![p1, p2, p3, p4, p5, p6], page)
}

pub(crate) fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "workspace": WORKSPACE,
        "credentials": {"bitbucket_account_email": EMAIL, "bitbucket_api_token": TOKEN},
        "api_base_url": uri,
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
        .build("bitbucket", config(uri, extra))
        .expect("a valid config")
}

/// Requests the server saw whose path starts with `prefix`.
pub(crate) async fn requests_to(server: &MockServer, prefix: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .collect()
}

pub(crate) fn ids(docs: &[connector_core::Document]) -> Vec<String> {
    let mut ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    ids
}

pub(crate) type Query = HashMap<String, String>;
