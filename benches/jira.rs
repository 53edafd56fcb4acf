//! Loopback end-to-end benchmark of the Jira connector (`harness = false`, not run in CI):
//! a wiremock Jira Server holding 10,000 issues, served 100 per `search` page, read by
//!
//! 1. the baseline: raw `reqwest` GETs of the same search pages, each body parsed as JSON;
//! 2. `JiraConnector::load`: the same pages through the shared HTTP client, each issue
//!    converted to a Markdown document (wiki markup, comments, links, attachments list);
//! 3. a full `Syncer` run into a memory sink (re-batching, fingerprints, state).
//!
//! Prints issues/s and requests per issue for each, and the ratios to the baseline.
//! Run with `cargo bench --bench jira`.

#[path = "support/loopback.rs"]
mod loopback;

use std::sync::Arc;
use std::time::Instant;

use connectors::core::sink::MemorySink;
use connectors::core::state::MemoryStateStore;
use connectors::core::sync::{SyncMode, Syncer};
use connectors::core::{LoadConnector, SyncContext};
use connectors::jira::{JiraConfig, JiraConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const ISSUES: usize = 10_000;
const PAGE: usize = 100;

fn issue(n: usize) -> Value {
    json!({
        "id": format!("{}", 10000 + n),
        "self": format!("https://jira.example.com/rest/api/2/issue/{}", 10000 + n),
        "key": format!("ENG-{n}"),
        "fields": {
            "summary": format!("Issue number {n}: the export job times out"),
            "description": format!(
                "h2. Steps\n# Open the [export page|https://app.example.com/export/{n}]\n# Press *Export*\n\n\
                 Users see an _intermittent_ error; {{{{EXPORT_TIMEOUT}}}} is 30.\n\n\
                 ||Tenant||Rows||\n|acme|{n}|\n\n{{code:sql}}\nSELECT count(*) FROM exports;\n{{code}}"
            ),
            "status": {"name": "In Progress", "id": "3"},
            "priority": {"name": "High", "id": "2"},
            "issuetype": {"name": "Bug", "id": "1"},
            "project": {"id": "10000", "key": "ENG", "name": "Engineering"},
            "reporter": {"name": "alice", "displayName": "Alice", "emailAddress": "alice@example.com"},
            "assignee": {"name": "bob", "displayName": "Bob", "emailAddress": "bob@example.com"},
            "labels": ["export", "backend"],
            "components": [{"name": "Exports"}],
            "fixVersions": [{"name": "1.3"}],
            "created": "2026-01-10T09:00:00.000+0000",
            "updated": format!("2026-01-15T{:02}:{:02}:00.000+0000", (n / 60) % 24, n % 60),
            "comment": {"comments": [
                {"id": "1", "author": {"displayName": "Carol", "emailAddress": "carol@example.com"},
                 "body": "Confirmed on *staging*.", "created": "2026-01-11T09:00:00.000+0000"},
                {"id": "2", "author": {"displayName": "Dan", "emailAddress": "dan@example.com"},
                 "body": "Fix in review: [PR|https://git.example.com/pr/1]", "created": "2026-01-12T09:00:00.000+0000"}
            ], "maxResults": 2, "total": 2, "startAt": 0},
            "attachment": [{"id": "300", "filename": "trace.log", "size": 2048, "mimeType": "text/plain",
                            "content": "https://jira.example.com/secure/attachment/300/trace.log"}],
            "issuelinks": [{"type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
                            "outwardIssue": {"key": "ENG-1", "fields": {"summary": "Release", "status": {"name": "Open"}}}}]
        }
    })
}

/// The search pages, cut from pre-rendered issues at any `startAt` and `maxResults`, as Jira
/// does (the connector's offset walk overlaps its pages, so its starts are not multiples of
/// the page size).
struct Pages(Vec<String>);

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let query = |name: &str| {
            req.url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let start = query("startAt").unwrap_or(0);
        let max = query("maxResults").unwrap_or(PAGE).min(PAGE);
        let end = (start + max).min(self.0.len());
        let issues = self.0.get(start.min(end)..end).unwrap_or(&[]).join(",");
        let body = format!(
            r#"{{"expand":"schema,names","startAt":{start},"maxResults":{max},"total":{ISSUES},"issues":[{issues}]}}"#
        );
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
    }
}

fn line(name: &str, secs: f64, requests: u64, baseline: Option<f64>) {
    let rate = ISSUES as f64 / secs;
    let ratio = baseline.map_or_else(String::new, |b| {
        format!("  ({:.2}x the baseline's rate)", rate / b)
    });
    println!(
        "{name:<28} {secs:>7.3} s  {rate:>10.0} issues/s  {:.4} requests/issue{ratio}",
        requests as f64 / ISSUES as f64
    );
}

#[allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark's main.
fn main() {
    loopback::block_on(async {
        let rendered: Vec<String> = (1..=ISSUES).map(|n| issue(n).to_string()).collect();
        let bytes: usize = rendered.iter().map(String::len).sum();
        let server = loopback::Server::start().await;
        Mock::given(method("GET"))
            .and(path("/rest/api/2/search"))
            .respond_with(Pages(rendered))
            .mount(&server)
            .await;
        println!(
            "jira loopback: {ISSUES} issues, {} search pages of {PAGE}, {:.1} MiB of JSON",
            ISSUES.div_ceil(PAGE),
            bytes as f64 / 1048576.0
        );

        // 1. Baseline: raw reqwest over the same pages.
        let raw = reqwest::Client::new();
        let started = Instant::now();
        let mut seen = 0usize;
        let mut requests = 0u64;
        let mut start = 0usize;
        loop {
            let url = format!(
                "{}/rest/api/2/search?jql=project%20%3D%20%22ENG%22%20ORDER%20BY%20key%20ASC&startAt={start}&maxResults={PAGE}",
                server.uri()
            );
            let body = raw.get(&url).send().await.unwrap().bytes().await.unwrap();
            requests += 1;
            let page: Value = serde_json::from_slice(&body).unwrap();
            let n = page["issues"].as_array().map_or(0, Vec::len);
            seen += n;
            start += n;
            if n == 0 || start >= ISSUES {
                break;
            }
        }
        assert_eq!(seen, ISSUES);
        let base_secs = started.elapsed().as_secs_f64();
        let base_rate = ISSUES as f64 / base_secs;
        line("raw reqwest (baseline)", base_secs, requests, None);

        let config: JiraConfig = connectors::core::config::from_json(json!({
            "base_url": server.uri(),
            "project_key": "ENG",
            // The mock listens on loopback, which the connector denies unless allowed.
            "allowed_hosts": ["127.0.0.1"],
            // Declared, so no serverInfo request is made to decide it.
            "is_cloud": false,
            "credentials": {"jira_api_token": "bench-token"},
        }))
        .unwrap();

        // 2. The connector's stream.
        let connector = JiraConnector::new(config.clone()).unwrap();
        let ctx = SyncContext::new();
        let started = Instant::now();
        let mut docs = 0usize;
        let mut stream = connector.load(ctx.clone());
        while let Some(page) = stream.next().await {
            docs += page.unwrap().documents.len();
        }
        assert_eq!(docs, ISSUES);
        line(
            "JiraConnector::load",
            started.elapsed().as_secs_f64(),
            ctx.stats().requests(),
            Some(base_rate),
        );

        // 3. A full sync into a memory sink.
        let sink = MemorySink::new();
        let started = Instant::now();
        let report = Syncer::new(Arc::new(JiraConnector::new(config).unwrap()))
            .sink(sink.clone())
            .state(MemoryStateStore::new())
            .run(SyncMode::Full)
            .await
            .unwrap();
        assert_eq!(sink.len(), ISSUES);
        line(
            "Syncer full run",
            started.elapsed().as_secs_f64(),
            report.requests,
            Some(base_rate),
        );
    });
}
