//! Loopback end-to-end benchmark of the Asana connector (`harness = false`, not run in CI): a
//! wiremock Asana holding `ASANA_BENCH_TASKS` tasks (default 5,000) in 10 projects public to the
//! workspace, 100 per page with Asana's `next_page.offset` tokens, each with one page of three
//! stories (two of them comments), read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the project list, each project's
//!    events token (a first run's 412 with a fresh token) and every task page by its offset,
//!    then every task's stories, 4 tasks at a time, each body parsed as JSON;
//! 2. `AsanaConnector::load`: the same requests through core's client, each task a Markdown
//!    document with front matter and comments (`include_attachments: false`: attachments
//!    would add one listing per task to both sides alike);
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints tasks/s, requests per task and the ratios to the baseline (best of three rounds),
//! then the process's peak RSS (`VmHWM`); run it at two sizes to see memory grow with the
//! tasks listed (`ASANA_BENCH_TASKS=5000` and `=50000`). `cargo bench --bench asana`.
//!
//! One release run (5,000 tasks, shared 2-core machine): raw 0.640 s, `load` 1.059 s (1.65x),
//! full `Syncer` run 1.185 s (1.85x), 1.010 requests per task on every side, peak RSS 320 MB
//! (wiremock keeps every request it received). The raw side converts nothing; the connector
//! turns each `html_notes` into Markdown and writes front matter and comments.
//! After the review (subtasks, access probe; tasks say `num_subtasks: 0`): raw 0.407 s,
//! `load` 0.884 s (2.17x), full `Syncer` run 0.797 s (1.96x), 1.010 requests per task, peak
//! RSS 316 MB; the baseline's own time moved by a third between the two runs.
//! With the next task page read while a page's tasks are (the binaries before and after run
//! alternately, three times each, on a 2-core machine loaded by other builds; medians):
//! before 1.96x `load` / 2.07x full run, after 1.83x / 1.75x. A profile shows the connector's
//! own work (HTML to Markdown, front matter, JSON) at a few per cent of the samples; the rest
//! is the kernel's network path, scheduling and the allocator, shared with wiremock.
//! Session 37 (binary at 0853007: events tokens, the bounded edit map; machine at load 4 to
//! 8): `load` 4.16x, 2.28x, 2.65x, 0.77x, 1.59x, 1.73x (median 2.0x), full run 3.11x,
//! 2.24x, 2.44x, 1.68x, 1.91x, 1.57x (median 2.1x); the baseline alone moved from 0.33 to
//! 0.77 s between runs. The profile is as above (no connector function over 1% of samples
//! but JSON string parsing); since, the document is written into one presized buffer with
//! its front matter (core `front_matter_into`, `render_into`). After (776861e, load 4 to
//! 5): `load` 1.86x, 1.88x, 2.33x (median 1.88x), full run 2.03x, 2.03x, 2.03x: over 1.5x.
//! Session 38 (binary at b6c3eaa: task pages read as typed tasks from their own text, no
//! `Value` tree; the version hashed once per document; both sides ask each project's events
//! token; machine at load 11 to 12): `load` 1.81x, 1.39x, 1.88x (median 1.81x), full run
//! 2.00x, 1.23x, 1.84x (median 1.84x); the binary before, alternated with it: `load` 1.31x,
//! 2.19x against 1.47x, 1.54x. A `perf` profile (dwarf call graphs) before: `convert::document`
//! 7% of all samples (HTML to Markdown 1.2%, rendering 0.9%, `Url::parse` of the permalink
//! 0.7%, `format!` 0.7%, metadata 0.7%, the version 0.6%), the listing's `Value` trees 2.5%,
//! core's request path 14%, the raw side 10%; the rest wiremock, hyper, the kernel and the
//! allocator.
//! Later in session 38 (binary at cb39726: the document written through core `MarkdownOut`,
//! no block tree; access with collaborators and version worked out once per changed task;
//! ids joined without `format!`), alternated with the binary before, load 8 to 10: `load`
//! 1.09x, 1.49x, 1.55x (median 1.49x) against 2.10x, 1.62x, 1.58x (1.62x); full run 1.92x,
//! 1.31x, 1.52x (median 1.52x) against 2.78x, 1.70x, 1.52x (1.70x). `perf` of it (flat):
//! kernel 52%, libc (allocator, memmove) 15%, the connector's conversion about 2.4% (HTML
//! 0.8%, Markdown 0.5%, `asana::` 1%), JSON 3.9%, URL parsing 2.5%, hyper/reqwest 5%.
//! Binary at d99194a (version times without a strftime parse) against the same before, load
//! 3 to 4: `load` 1.45x, 1.92x, 1.43x (median 1.45x) against 1.55x, 1.72x, 1.54x (1.55x);
//! full run 1.48x, 1.85x, 1.70x (median 1.70x) against 1.62x, 1.95x, 1.89x (1.89x).
//! Session 40 (core's request path: one-chunk bodies without a copy, the answer's URL moved,
//! the limiter's key and the address check without allocating), five runs alternated with the
//! binary before at load 6 to 7: `load` median 1.30x against 1.76x, full run 1.37x against
//! 1.87x.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::asana::{AsanaConfig, AsanaConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PROJECTS: usize = 10;
const PAGE: usize = 100;
const CONCURRENCY: usize = 4;
const ROUNDS: usize = 3;
const TOKEN: &str = "2/1200000000000099/1209999999999999:bench";

fn tasks() -> usize {
    loopback::env_size("ASANA_BENCH_TASKS", 5_000)
}

fn project_gid(p: usize) -> String {
    format!("12000000000{p:05}")
}

fn task(p: usize, i: usize) -> Value {
    json!({
        "gid": format!("13{p:02}{i:012}"), "resource_type": "task", "resource_subtype": "default_task",
        "name": format!("Task {i} of project {p}"),
        "notes": "Fix the flaky test.\n\nSee the retry note.",
        "html_notes": "<body>Fix the <strong>flaky</strong> test.\n\nSee the <a href=\"https://example.com\">retry note</a>.</body>",
        "modified_at": format!("2025-03-01T10:{:02}:{:02}.000Z", (i / 60) % 60, i % 60),
        "created_at": "2025-03-01T09:00:00.000Z",
        "completed": i.is_multiple_of(3), "completed_at": null, "due_on": "2025-03-14", "due_at": null, "start_on": null,
        "assignee": {"gid": "1200000000000050", "resource_type": "user", "name": "Jane Doe", "email": "jane@example.com"},
        "parent": null,
        "projects": [{"gid": project_gid(p), "resource_type": "project", "name": format!("Project {p}")}],
        "tags": [{"gid": "1200000000000700", "resource_type": "tag", "name": "backend"}],
        "custom_fields": [{"gid": "1200000000000800", "resource_type": "custom_field", "name": "Priority", "display_value": "High"}],
        "permalink_url": format!("https://app.asana.com/1/1200000000000001/project/{}/task/13{p:02}{i:012}", project_gid(p)),
        "num_subtasks": 0,
    })
}

/// The task pages, pre-rendered without their `next_page`: `pages[project][n]`.
struct Listing {
    pages: Vec<Vec<String>>,
    base: String,
}

impl Respond for Listing {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let project: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "project")
            .and_then(|(_, v)| v.get(11..).and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "offset")
            .and_then(|(_, v)| v.strip_prefix("eyJwYWdlIjo").and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        let pages = &self.pages[project];
        let body = &pages[page];
        let next = if page + 1 < pages.len() {
            let token = format!("eyJwYWdlIjo{}", page + 1);
            let mut uri = url::Url::parse(&format!("{}{}", self.base, req.url.path())).unwrap();
            {
                let mut q = uri.query_pairs_mut();
                for (k, v) in req.url.query_pairs().filter(|(k, _)| k != "offset") {
                    q.append_pair(&k, &v);
                }
                q.append_pair("offset", &token);
            }
            json!({"offset": token, "path": format!("/tasks?{}", uri.query().unwrap()), "uri": uri.as_str()})
        } else {
            Value::Null
        };
        let body = format!("{},\"next_page\":{next}}}", &body[..body.len() - 1]);
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}

fn pages(n: usize) -> Vec<Vec<String>> {
    let per = n / PROJECTS;
    (0..PROJECTS)
        .map(|p| {
            let data: Vec<Value> = (1..=per).map(|i| task(p, i)).collect();
            data.chunks(PAGE)
                .map(|c| json!({"data": c}).to_string())
                .collect()
        })
        .collect()
}

fn stories() -> String {
    let user =
        |name: &str| json!({"gid": "1200000000000051", "resource_type": "user", "name": name});
    json!({"data": [
        {"gid": "1400000000000001", "resource_type": "story", "resource_subtype": "added_to_project",
         "text": "added to Project", "created_at": "2025-03-01T09:00:00.000Z", "created_by": user("Jane Doe")},
        {"gid": "1400000000000002", "resource_type": "story", "resource_subtype": "comment_added",
         "text": "Looks good, one nit on the retry.", "created_at": "2025-03-01T09:10:00.000Z", "created_by": user("Rob Reviewer")},
        {"gid": "1400000000000003", "resource_type": "story", "resource_subtype": "comment_added",
         "text": "Fixed.", "created_at": "2025-03-01T09:20:00.000Z", "created_by": user("Jane Doe")},
    ], "next_page": null})
    .to_string()
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    let body = client
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The raw fetch: the same listings by offset, then the same story pages, 4 at a time.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let projects = get(
        client,
        &format!("{base}/api/1.0/projects?workspace=1200000000000001&archived=false&limit=100"),
    )
    .await;
    let mut requests = 1u64;
    let mut listed = Vec::new();
    for project in projects["data"].as_array().unwrap() {
        let gid = project["gid"].as_str().unwrap().to_owned();
        // The project's events token (a first run has none: Asana answers 412 with one),
        // which the connector keeps to find comments edited before its next run.
        let status = client
            .get(format!("{base}/api/1.0/events?resource={gid}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 412);
        requests += 1;
        let first = format!("{base}/api/1.0/tasks?project={gid}&limit={PAGE}");
        let mut url = Some(first.clone());
        while let Some(u) = url.take() {
            let page = get(client, &u).await;
            requests += 1;
            for v in page["data"].as_array().unwrap() {
                listed.push(v["gid"].as_str().unwrap().to_owned());
            }
            url = page["next_page"]["offset"]
                .as_str()
                .map(|o| format!("{first}&offset={o}"));
        }
    }
    let counts: Vec<usize> = futures::stream::iter(listed)
        .map(|gid| async move {
            let stories = get(
                client,
                &format!("{base}/api/1.0/tasks/{gid}/stories?limit=100"),
            )
            .await;
            stories["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["resource_subtype"] == "comment_added")
                .count()
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    assert!(counts.iter().all(|c| *c == 2));
    (counts.len(), requests + counts.len() as u64)
}

fn main() {
    let n = tasks();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        let projects: Vec<Value> = (0..PROJECTS)
            .map(|p| json!({"gid": project_gid(p), "resource_type": "project", "name": format!("Project {p}"),
                            "privacy_setting": "public_to_workspace", "public": true, "team": null}))
            .collect();
        Mock::given(method("GET"))
            .and(path_regex("^/api/1\\.0/projects$"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": projects, "next_page": null})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/1\\.0/tasks$"))
            .respond_with(Listing {
                pages: pages(n),
                base: server.uri(),
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/1\\.0/events$"))
            .respond_with(ResponseTemplate::new(412).set_body_json(json!({
                "errors": [{"message": "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync."}],
                "sync": "de4774f6915eae04714ca93bb2f5ee81"
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/api/1\\.0/tasks/[0-9]+/stories$"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(stories().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        println!(
            "asana loopback: {n} tasks in {PROJECTS} projects, {PAGE} per page, 3 stories (2 comments) each"
        );

        let config: AsanaConfig = connectors::core::config::from_json(json!({
            "asana_workspace_id": "1200000000000001",
            "credentials": {"asana_api_token_secret": TOKEN},
            "api_base_url": format!("{}/api/1.0", server.uri()),
            "allowed_hosts": ["127.0.0.1"],
            "include_attachments": false,
            // Asana's 150 per minute would make this a test of the limiter.
            "requests_per_minute": 100_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "task",
            name: "AsanaConnector",
            width: 30,
        };
        compare
            .run(
                || raw(&client, &uri),
                || AsanaConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
