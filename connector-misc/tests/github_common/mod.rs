//! A wiremock GitHub written from the REST reference (docs.github.com/en/rest): repositories
//! (of an organisation, a user, and the token's own user by `GET /user/repos`), `GET /user`,
//! the issues endpoint (issues and pull requests, `state`/`sort=updated`/`direction`/`since`,
//! `page`/`per_page` with `Link` headers), the pulls endpoint (a pull request's own
//! `updated_at`), issue comments, reviews, review comments, the repository-wide comment
//! listings (`/issues/comments`, `/pulls/comments` with `since`), collaborators, the commit SHA
//! media type, git trees (with `truncated`) and raw blobs; errors as GitHub's
//! `{"message", "documentation_url"}`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
pub const COMMIT: &str = "7638417db6d59f3c431d3e1f261cc637155684cd";

/// Day `d` of January 2026, 10:00 UTC.
pub fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, d, 10, 0, 0).unwrap()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A user; a login ending with `[bot]` is a GitHub App's account, of `type` `Bot`.
fn user(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({"login": login, "id": login.len(), "node_id": "MDQ6VXNlcjE=", "type": kind,
        "site_admin": false, "html_url": format!("https://github.com/{login}")})
}

#[derive(Clone, Debug)]
pub struct Item {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub pull: bool,
    pub updated: DateTime<Utc>,
    pub comments: Vec<(String, String)>,
    pub reviews: Vec<(String, String, String)>,
    /// Reviews with a body: (login, `state`, body).
    pub review_bodies: Vec<(String, String, String)>,
    /// A pull request's own `updated_at` (`GET /pulls`), when it differs from `updated`.
    pub pr_updated: Option<DateTime<Utc>>,
    /// The `updated_at` of the review comments, when it differs from `updated`.
    pub reviews_updated: Option<DateTime<Utc>>,
    /// The `updated_at` of edited comments, by index, when it differs from `updated`.
    pub comments_edited: BTreeMap<usize, DateTime<Utc>>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    /// Served as malformed (a field of the wrong type).
    pub broken: bool,
    /// The login of who opened it.
    pub author: String,
    /// Locked, for this `active_lock_reason`.
    pub lock_reason: Option<String>,
}

impl Item {
    pub fn issue(number: u64, title: &str, updated: DateTime<Utc>) -> Self {
        Self {
            number,
            title: title.to_owned(),
            body: format!("Body of **{title}**.\n\n- [ ] a task"),
            pull: false,
            updated,
            comments: Vec::new(),
            reviews: Vec::new(),
            review_bodies: Vec::new(),
            pr_updated: None,
            reviews_updated: None,
            comments_edited: BTreeMap::new(),
            labels: Vec::new(),
            assignees: Vec::new(),
            broken: false,
            author: "octocat".into(),
            lock_reason: None,
        }
    }

    pub fn pull(number: u64, title: &str, updated: DateTime<Utc>) -> Self {
        Self {
            pull: true,
            ..Self::issue(number, title, updated)
        }
    }
}

#[derive(Clone, Debug)]
pub struct RepoData {
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub items: Vec<Item>,
    /// path → (blob sha, content).
    pub files: BTreeMap<String, (String, Vec<u8>)>,
    pub collaborators: Option<Vec<String>>,
    /// Error answers by the path after `/repos/{owner}/{name}/` (`issues`, `commits/main`):
    /// (status, message).
    pub errors: BTreeMap<String, (u16, String)>,
    /// Owned by an organisation (`owner.type`), so it has teams.
    pub org: bool,
    /// The names of the teams with access; none: `403` to the token.
    pub teams: Option<Vec<String>>,
    /// Issues on (`has_issues`); off, every issues endpoint answers `410`.
    pub has_issues: bool,
    /// Its branches (each at [`COMMIT`]).
    pub branches: Vec<String>,
}

impl RepoData {
    pub fn new(owner: &str, name: &str, private: bool, items: Vec<Item>) -> Self {
        Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
            private,
            items,
            files: BTreeMap::new(),
            collaborators: Some(vec!["octocat".into(), "Hubot".into()]),
            errors: BTreeMap::new(),
            org: false,
            teams: Some(Vec::new()),
            has_issues: true,
            branches: vec!["main".into()],
        }
    }

    fn html(&self, base: &str) -> String {
        format!("{base}/{}/{}", self.owner, self.name)
    }

    fn repo_json(&self, base: &str) -> Value {
        let mut owner = user(&self.owner);
        if self.org {
            owner["type"] = json!("Organization");
        }
        json!({
            "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": self.name,
            "full_name": format!("{}/{}", self.owner, self.name),
            "owner": owner, "private": self.private, "has_issues": self.has_issues,
            "has_projects": true, "has_wiki": true, "has_discussions": false,
            "visibility": if self.private { "private" } else { "public" },
            "html_url": self.html(base), "description": "This your first repo!", "fork": false,
            "url": format!("{base}/repos/{}/{}", self.owner, self.name),
            "default_branch": "main", "archived": false, "disabled": false,
            "pushed_at": "2026-01-06T10:00:00Z", "created_at": "2025-01-26T19:01:12Z",
            "updated_at": "2026-01-06T10:00:00Z",
        })
    }

    fn item_json(&self, base: &str, item: &Item) -> Value {
        let kind = if item.pull { "pull" } else { "issues" };
        let mut v = json!({
            "id": 1_000_000 + item.number, "node_id": "MDU6SXNzdWUx",
            "url": format!("{base}/api/repos/{}/{}/issues/{}", self.owner, self.name, item.number),
            "html_url": format!("{}/{kind}/{}", self.html(base), item.number),
            "number": item.number, "state": "open", "state_reason": null, "title": item.title,
            "body": item.body, "user": user(&item.author),
            "labels": item.labels.iter().map(|l| json!({"id": 208045946, "name": l, "color": "f29513", "default": true})).collect::<Vec<_>>(),
            "assignee": item.assignees.first().map(|a| user(a)),
            "assignees": item.assignees.iter().map(|a| user(a)).collect::<Vec<_>>(),
            "milestone": null, "locked": false, "comments": item.comments.len(),
            "closed_at": null, "created_at": "2025-12-01T09:00:00Z", "updated_at": ts(item.updated),
            "author_association": "COLLABORATOR",
        });
        if item.pull {
            v["pull_request"] = json!({
                "url": format!("{base}/api/repos/{}/{}/pulls/{}", self.owner, self.name, item.number),
                "html_url": format!("{}/pull/{}", self.html(base), item.number),
                "diff_url": format!("{}/pull/{}.diff", self.html(base), item.number),
                "patch_url": format!("{}/pull/{}.patch", self.html(base), item.number),
                "merged_at": null,
            });
            v["draft"] = json!(false);
        }
        if let Some(reason) = &item.lock_reason {
            v["locked"] = json!(true);
            v["active_lock_reason"] = json!(reason);
        }
        if item.broken {
            v["updated_at"] = json!(12);
        }
        v
    }
}

/// The fake's state, shared with the tests (which change it between requests).
#[derive(Debug, Default)]
pub struct State {
    pub repos: Vec<RepoData>,
    /// Answer the recursive tree of the commit as `truncated`.
    pub truncated: bool,
    /// Folders (`""`: the root) that GitHub truncates even alone: their listing, recursive
    /// or not, holds their first entry only and says `truncated`.
    pub truncated_folders: Vec<String>,
    /// Organisations (their repositories are those with that owner).
    pub orgs: Vec<String>,
    /// The login of the token's user (`GET /user`); none: a token of no user (`403`).
    pub me: Option<String>,
    /// Renamed or transferred repositories: the old `owner/name` → the index of the
    /// repository in `repos`, which answers at `/repositories/{1000 + index}`.
    pub moved: BTreeMap<String, usize>,
    /// Once the first page of issues of the first repository is served: this item of it
    /// gets this comment, which moves its `updated_at` to the time given (an item updated
    /// while the walk is under way, at the walk's pace, however far ahead of its reader).
    pub after_first_page: Option<(u64, DateTime<Utc>, String)>,
}

#[derive(Clone, Debug)]
pub struct FakeGithub(pub Arc<Mutex<State>>);

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
    }))
}

fn query(r: &Request, key: &str) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The `Host` the request was sent to (with its port).
fn host(r: &Request) -> String {
    r.headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| r.url.authority().to_owned(), str::to_owned)
}

/// One page of `all` by `page`/`per_page`, with GitHub's `Link` header.
fn paged(r: &Request, all: Vec<Value>) -> ResponseTemplate {
    let per_page: usize = query(r, "per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let page: usize = query(r, "page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let pages = all.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link_to = |n: usize| {
        let mut url = r.url.clone();
        // wiremock's URL lacks the port: the `Host` header has it.
        if let Ok(with_host) = url::Url::parse(&format!("http://{}{}", host(r), r.url.path())) {
            let query = url.query().map(str::to_owned);
            url = with_host;
            url.set_query(query.as_deref());
        }
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("page", &n.to_string());
        url.to_string()
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_to(pages)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
        links.push(format!("<{}>; rel=\"first\"", link_to(1)));
    }
    let mut resp = ResponseTemplate::new(200)
        .set_body_json(Value::Array(slice))
        .insert_header("x-ratelimit-limit", "5000")
        .insert_header("x-ratelimit-remaining", "4999")
        .insert_header("x-ratelimit-reset", "1767261600")
        .insert_header("x-ratelimit-used", "1")
        .insert_header("x-ratelimit-resource", "core");
    if !links.is_empty() {
        resp = resp.insert_header("link", links.join(", ").as_str());
    }
    resp
}

impl Respond for FakeGithub {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let resp = route(&state, r);
        if r.url.path().ends_with("/issues")
            && let Some((number, at, comment)) = state.after_first_page.take()
            && let Some(item) = state.repos[0].items.iter_mut().find(|i| i.number == number)
        {
            item.updated = at;
            item.comments.push(("octocat".into(), comment));
        }
        resp
    }
}

fn route(state: &State, r: &Request) -> ResponseTemplate {
    {
        let base = format!("http://{}", host(r));
        let auth = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {TOKEN}") {
            return error(401, "Bad credentials");
        }
        let segments: Vec<&str> = r
            .url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        let find = |owner: &str, name: &str| {
            state
                .repos
                .iter()
                .find(|d| d.owner.eq_ignore_ascii_case(owner) && d.name.eq_ignore_ascii_case(name))
        };
        match segments.as_slice() {
            ["user"] => match &state.me {
                Some(me) => ResponseTemplate::new(200).set_body_json(user(me)),
                None => error(403, "Resource not accessible by integration"),
            },
            ["user", "repos"] => {
                // `type` cannot be combined with `affiliation` or `visibility`: GitHub answers 422.
                if query(r, "type").is_some() {
                    return error(422, "Validation Failed");
                }
                let Some(me) = &state.me else {
                    return error(403, "Resource not accessible by integration");
                };
                let affiliation = query(r, "affiliation").unwrap_or_default();
                let visibility = query(r, "visibility").unwrap_or_else(|| "all".into());
                let repos: Vec<Value> = state
                    .repos
                    .iter()
                    .filter(|d| {
                        let owned = d.owner.eq_ignore_ascii_case(me);
                        let collaborates = !owned
                            && d.collaborators
                                .as_ref()
                                .is_some_and(|c| c.iter().any(|l| l.eq_ignore_ascii_case(me)));
                        (owned && affiliation.contains("owner"))
                            || (collaborates && affiliation.contains("collaborator"))
                    })
                    .filter(|d| visibility == "all" || (visibility == "private") == d.private)
                    .map(|d| d.repo_json(&base))
                    .collect();
                paged(r, repos)
            }
            ["users", owner] => {
                if state.repos.iter().any(|d| d.owner == *owner) {
                    ResponseTemplate::new(200).set_body_json(user(owner))
                } else {
                    error(404, "Not Found")
                }
            }
            ["orgs", org, "repos"] if state.orgs.iter().any(|o| o == org) => {
                let repos: Vec<Value> = state
                    .repos
                    .iter()
                    .filter(|d| d.owner == *org)
                    .map(|d| d.repo_json(&base))
                    .collect();
                paged(r, repos)
            }
            ["orgs", ..] => error(404, "Not Found"),
            ["users", owner, "repos"] => {
                let repos: Vec<Value> = state
                    .repos
                    .iter()
                    .filter(|d| d.owner == *owner && !d.private)
                    .map(|d| d.repo_json(&base))
                    .collect();
                paged(r, repos)
            }
            ["repos", owner, name, rest @ ..] => {
                let Some(repo) = find(owner, name) else {
                    // GitHub's answer for a renamed or transferred repository: `301` to its
                    // address by id, the rest of the path and the query kept.
                    let moved = state.moved.get(&format!("{owner}/{name}").to_lowercase());
                    return match moved {
                        Some(index) => {
                            let mut to = format!("{base}/repositories/{}", 1000 + index);
                            for s in rest {
                                to.push('/');
                                to.push_str(s);
                            }
                            if let Some(q) = r.url.query() {
                                to.push('?');
                                to.push_str(q);
                            }
                            ResponseTemplate::new(301)
                                .insert_header("location", to.as_str())
                                .set_body_json(json!({"message": "Moved Permanently", "url": to,
                                    "documentation_url": "https://docs.github.com/v3/#http-redirects"}))
                        }
                        None => error(404, "Not Found"),
                    };
                };
                repo_route(
                    r,
                    repo,
                    rest,
                    &base,
                    (state.truncated, &state.truncated_folders),
                )
            }
            ["repositories", id, rest @ ..] => {
                let repo = id
                    .parse::<usize>()
                    .ok()
                    .and_then(|id| id.checked_sub(1000))
                    .and_then(|i| state.repos.get(i));
                match repo {
                    Some(repo) => repo_route(
                        r,
                        repo,
                        rest,
                        &base,
                        (state.truncated, &state.truncated_folders),
                    ),
                    None => error(404, "Not Found"),
                }
            }
            _ => error(404, "Not Found"),
        }
    }
}

fn repo_route(
    r: &Request,
    repo: &RepoData,
    rest: &[&str],
    base: &str,
    truncated: (bool, &[String]),
) -> ResponseTemplate {
    let item = |n: &str| repo.items.iter().find(|i| i.number.to_string() == n);
    // `commits/heads/main` and `commits/main` name the same reference.
    let key = rest.join("/").replacen("commits/heads/", "commits/", 1);
    if let Some((status, message)) = repo.errors.get(&key) {
        return error(*status, message);
    }
    let since = || query(r, "since").map(|s| DateTime::parse_from_rfc3339(&s).unwrap().to_utc());
    // GitHub's answer to the issues endpoints of a repository without issues; the comments
    // of a pull request (`issues/{n}/comments`) are still served.
    let issue_endpoint = matches!(rest, ["issues"] | ["issues", "comments"])
        || matches!(rest, ["issues", n] if *n != "comments");
    if !repo.has_issues && issue_endpoint {
        return error(410, "Issues are disabled for this repo");
    }
    let pull_json = |i: &Item| {
        let mut v = repo.item_json(base, i);
        v["updated_at"] = json!(ts(i.pr_updated.unwrap_or(i.updated)));
        v["url"] = json!(format!(
            "{base}/api/repos/{}/{}/pulls/{}",
            repo.owner, repo.name, i.number
        ));
        v["merged_at"] = Value::Null;
        v["head"] = json!({"ref": "fix", "sha": COMMIT});
        v["base"] = json!({"ref": "main", "sha": COMMIT});
        if let Some(o) = v.as_object_mut() {
            o.remove("pull_request");
            // A listed pull request does not count its comments (a single one does).
            o.remove("comments");
        }
        v
    };
    match rest {
        [] => ResponseTemplate::new(200).set_body_json(repo.repo_json(base)),
        ["issues"] => {
            assert_eq!(query(r, "state").as_deref(), Some("all"));
            assert_eq!(query(r, "sort").as_deref(), Some("updated"));
            assert_eq!(query(r, "direction").as_deref(), Some("asc"));
            let since =
                query(r, "since").map(|s| DateTime::parse_from_rfc3339(&s).unwrap().to_utc());
            let mut items: Vec<&Item> = repo
                .items
                .iter()
                .filter(|i| since.is_none_or(|s| i.updated >= s))
                .collect();
            items.sort_by_key(|i| (i.updated, i.number));
            paged(
                r,
                items.into_iter().map(|i| repo.item_json(base, i)).collect(),
            )
        }
        ["issues", n] if *n != "comments" => match item(n) {
            Some(i) => ResponseTemplate::new(200).set_body_json(repo.item_json(base, i)),
            None => error(404, "Not Found"),
        },
        ["issues", n, "comments"] => match item(n) {
            Some(i) => paged(r, repo.comments_json(base, i)),
            None => error(404, "Not Found"),
        },
        ["issues", "comments"] => {
            assert_eq!(query(r, "sort").as_deref(), Some("updated"));
            let since = since();
            let mut all: Vec<Value> = repo
                .items
                .iter()
                .flat_map(|i| repo.comments_json(base, i))
                .filter(|c| since.is_none_or(|s| updated_at(c) >= s))
                .collect();
            all.sort_by_key(updated_at);
            paged(r, all)
        }
        ["pulls", n, "comments"] => match item(n).filter(|i| i.pull) {
            Some(i) => paged(r, repo.review_comments_json(base, i)),
            None => error(404, "Not Found"),
        },
        ["pulls", "comments"] => {
            assert_eq!(query(r, "sort").as_deref(), Some("updated"));
            let since = since();
            let mut all: Vec<Value> = repo
                .items
                .iter()
                .filter(|i| i.pull)
                .flat_map(|i| repo.review_comments_json(base, i))
                .filter(|c| since.is_none_or(|s| updated_at(c) >= s))
                .collect();
            all.sort_by_key(updated_at);
            paged(r, all)
        }
        ["pulls", n, "reviews"] => match item(n).filter(|i| i.pull) {
            Some(i) => {
                let mut reviews = Vec::new();
                // A review comment is made in a review (a lone one: a `COMMENTED` review
                // without a body).
                if !i.reviews.is_empty() {
                    reviews.push(review_json(
                        base,
                        repo,
                        i,
                        42,
                        &i.reviews[0].0,
                        "COMMENTED",
                        "",
                    ));
                }
                for (k, (who, state, body)) in i.review_bodies.iter().enumerate() {
                    reviews.push(review_json(base, repo, i, 80 + k as u64, who, state, body));
                }
                paged(r, reviews)
            }
            None => error(404, "Not Found"),
        },
        ["pulls"] => {
            assert_eq!(query(r, "state").as_deref(), Some("all"));
            if query(r, "per_page").as_deref() == Some("1") && query(r, "sort").is_none() {
                // `check()`'s probe.
                let first = repo.items.iter().find(|i| i.pull).map(pull_json);
                return paged(r, first.into_iter().collect());
            }
            assert_eq!(query(r, "sort").as_deref(), Some("updated"));
            let mut pulls: Vec<&Item> = repo.items.iter().filter(|i| i.pull).collect();
            pulls.sort_by_key(|i| (i.pr_updated.unwrap_or(i.updated), i.number));
            match query(r, "direction").as_deref() {
                Some("desc") => pulls.reverse(),
                Some("asc") => {}
                other => panic!("direction {other:?}"),
            }
            paged(r, pulls.into_iter().map(pull_json).collect())
        }
        ["pulls", n] if *n != "comments" => match item(n).filter(|i| i.pull) {
            Some(i) => {
                let mut v = pull_json(i);
                v["comments"] = json!(i.comments.len());
                v["review_comments"] = json!(i.reviews.len());
                ResponseTemplate::new(200).set_body_json(v)
            }
            None => error(404, "Not Found"),
        },
        ["teams"] => match &repo.teams {
            Some(teams) => paged(
                r,
                teams
                    .iter()
                    .enumerate()
                    .map(|(k, name)| {
                        let slug = name.to_lowercase().replace(' ', "-");
                        json!({
                            "id": k + 1, "node_id": "MDQ6VGVhbTE=", "name": name, "slug": slug,
                            "url": format!("{base}/api/teams/{}", k + 1),
                            "html_url": format!("{base}/orgs/{}/teams/{slug}", repo.owner),
                            "description": "", "privacy": "closed",
                            "notification_setting": "notifications_enabled",
                            "permission": "pull", "parent": null,
                        })
                    })
                    .collect(),
            ),
            None => error(403, "Resource not accessible by personal access token"),
        },
        ["collaborators"] => match &repo.collaborators {
            Some(c) => paged(r, c.iter().map(|l| user(l)).collect()),
            None => error(
                403,
                "Must have push access to view repository collaborators.",
            ),
        },
        ["commits", "heads", branch @ ..] | ["commits", branch @ ..]
            if repo.branches.contains(&branch.join("/")) =>
        {
            if repo.files.is_empty() {
                return error(409, "Git Repository is empty.");
            }
            assert_eq!(
                r.headers.get("accept").and_then(|v| v.to_str().ok()),
                Some("application/vnd.github.sha")
            );
            ResponseTemplate::new(200).set_body_string(COMMIT)
        }
        ["git", "trees", sha] => tree(r, repo, sha, truncated),
        ["git", "blobs", sha] => match repo.files.values().find(|(s, _)| s == sha) {
            Some((_, data)) => ResponseTemplate::new(200)
                .set_body_raw(data.clone(), "application/vnd.github.raw+json"),
            None => error(404, "Not Found"),
        },
        ["contents", path @ ..] => {
            let path = path.join("/");
            match repo.files.get(&path) {
                Some((sha, data)) => ResponseTemplate::new(200).set_body_json(json!({
                    "type": "file", "name": path.rsplit('/').next(), "path": path, "sha": sha,
                    "size": data.len()})),
                None => error(404, "Not Found"),
            }
        }
        _ => error(404, "Not Found"),
    }
}

fn updated_at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v["updated_at"].as_str().unwrap())
        .unwrap()
        .to_utc()
}

fn review_json(
    base: &str,
    repo: &RepoData,
    i: &Item,
    id: u64,
    who: &str,
    state: &str,
    body: &str,
) -> Value {
    json!({"id": id, "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=", "user": user(who), "body": body,
        "state": state, "commit_id": COMMIT, "author_association": "COLLABORATOR",
        "html_url": format!("{}/pull/{}#pullrequestreview-{id}", repo.html(base), i.number),
        "pull_request_url": format!("{base}/api/repos/{}/{}/pulls/{}", repo.owner, repo.name, i.number),
        "submitted_at": ts(i.pr_updated.unwrap_or(i.updated))})
}

impl RepoData {
    fn comments_json(&self, base: &str, i: &Item) -> Vec<Value> {
        i.comments
            .iter()
            .enumerate()
            .map(|(k, (who, body))| {
                let updated = i.comments_edited.get(&k).copied().unwrap_or(i.updated);
                json!({"id": i.number * 1000 + k as u64 + 1, "body": body, "user": user(who),
                    "html_url": format!("{}/issues/{}#issuecomment-{}", self.html(base), i.number, k + 1),
                    "issue_url": format!("{base}/api/repos/{}/{}/issues/{}", self.owner, self.name, i.number),
                    "created_at": ts(i.updated), "updated_at": ts(updated),
                    "author_association": "MEMBER"})
            })
            .collect()
    }

    fn review_comments_json(&self, base: &str, i: &Item) -> Vec<Value> {
        i.reviews
            .iter()
            .enumerate()
            .map(|(k, (who, path, body))| {
                json!({"id": i.number * 1000 + 10 + k as u64, "pull_request_review_id": 42,
                    "diff_hunk": "@@ -16,33 +16,40 @@", "path": path, "position": 1, "line": 2,
                    "original_line": 2, "side": "RIGHT", "commit_id": COMMIT, "user": user(who),
                    "body": body,
                    "pull_request_url": format!("{base}/api/repos/{}/{}/pulls/{}", self.owner, self.name, i.number),
                    "created_at": ts(i.updated), "updated_at": ts(i.reviews_updated.unwrap_or(i.updated))})
            })
            .collect()
    }
}

/// The tree of the commit (`sha` = [`COMMIT`]) or of a folder (`sha` = `tree-{folder}`, its
/// `/` written `+`: a SHA is one path segment).
/// `truncated`: the recursive tree of the commit is truncated; and the folders truncated
/// even alone (their first entry listed).
fn tree(
    r: &Request,
    repo: &RepoData,
    sha: &str,
    (truncated, cut): (bool, &[String]),
) -> ResponseTemplate {
    let recursive = query(r, "recursive").is_some();
    let prefix = if sha == COMMIT {
        String::new()
    } else if let Some(folder) = sha.strip_prefix("tree-") {
        format!("{}/", folder.replace('+', "/"))
    } else {
        return error(404, "Not Found");
    };
    if truncated && recursive && prefix.is_empty() {
        return ResponseTemplate::new(200)
            .set_body_json(json!({"sha": COMMIT, "url": "", "tree": [], "truncated": true}));
    }
    let mut entries = Vec::new();
    let mut folders = std::collections::BTreeSet::new();
    for (path, (blob, data)) in &repo.files {
        let Some(rel) = path.strip_prefix(&prefix) else {
            continue;
        };
        let parts: Vec<&str> = rel.split('/').collect();
        for k in 1..parts.len() {
            let folder = parts[..k].join("/");
            if (recursive || k == 1) && folders.insert(folder.clone()) {
                entries.push(json!({"path": folder, "mode": "040000", "type": "tree",
                    "sha": format!("tree-{prefix}{folder}").replace('/', "+")}));
            }
        }
        if recursive || parts.len() == 1 {
            entries.push(
                json!({"path": rel, "mode": "100644", "type": "blob", "sha": blob,
                "size": data.len()}),
            );
        }
    }
    let folder = prefix.trim_end_matches('/');
    if cut.iter().any(|f| f == folder) {
        entries.truncate(1);
        return ResponseTemplate::new(200)
            .set_body_json(json!({"sha": sha, "url": "", "tree": entries, "truncated": true}));
    }
    ResponseTemplate::new(200)
        .set_body_json(json!({"sha": sha, "url": "", "tree": entries, "truncated": false}))
}

/// acme/api: private, five items over three pages of two (issues 1, 3, 4; pull requests 2, 5).
pub fn standard() -> State {
    let mut one = Item::issue(1, "Crash on start", day(1));
    one.comments = vec![
        ("hubot".into(), "Seen it too.".into()),
        ("octocat".into(), "Fixed in `main`.".into()),
    ];
    one.labels = vec!["bug".into()];
    one.assignees = vec!["hubot".into()];
    let mut two = Item::pull(2, "Fix the crash", day(2));
    two.reviews = vec![(
        "hubot".into(),
        "src/main.rs".into(),
        "Why `unwrap` here?".into(),
    )];
    let items = vec![
        one,
        two,
        Item::issue(3, "Docs: install", day(3)),
        Item::issue(4, "Speed up the build", day(4)),
        Item::pull(5, "Bump deps", day(5)),
    ];
    State {
        repos: vec![RepoData::new("acme", "api", true, items)],
        truncated: false,
        truncated_folders: Vec::new(),
        orgs: vec!["acme".into()],
        me: Some("octocat".into()),
        moved: BTreeMap::new(),
        after_first_page: None,
    }
}

/// Code files for a repository: `README.md`, `src/lib.rs`, `src/deep/mod.rs`, `big.bin`.
pub fn files() -> BTreeMap<String, (String, Vec<u8>)> {
    let mut f = BTreeMap::new();
    let mut add = |path: &str, data: &[u8]| {
        let sha = format!("{:040x}", 0xb10b_0000_u64 + f.len() as u64);
        f.insert(path.to_owned(), (sha, data.to_vec()));
    };
    add("README.md", b"# API\n\nHello.");
    add("src/lib.rs", b"pub fn answer() -> u32 { 42 }\n");
    add("src/deep/mod.rs", b"// deep\n");
    add("big.bin", &[7u8; 4096]);
    f
}

pub struct Fake {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
}

impl Fake {
    pub async fn start(state: State) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(state));
        Mock::given(any())
            .respond_with(FakeGithub(Arc::clone(&state)))
            .mount(&server)
            .await;
        Self { server, state }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Requests whose path ends with `suffix`.
    pub async fn count(&self, suffix: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().ends_with(suffix))
            .count()
    }
}

pub fn config(uri: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "repository_owner": "acme",
        "repository_name": "api",
        "include_pull_requests": true,
        "include_issues": true,
        "credentials": {"github_access_token": TOKEN},
        "base_url": uri,
        "page_size": 2,
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
        .build("github", config(uri, extra))
        .expect("a valid config")
}

/// The web URL (document id) of item `n` of acme/api on the fake at `uri`.
pub fn item_id(uri: &str, n: u64, pull: bool) -> String {
    let kind = if pull { "pull" } else { "issues" };
    format!("{uri}/acme/api/{kind}/{n}")
}
