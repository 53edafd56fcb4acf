//! Server/Data Center `startAt` paging while issues leave the result set (deleted, moved to
//! another project, put under a security level the user cannot see): every issue still in it
//! is delivered and listed, so prune deletes none of them. Pages follow Atlassian's "Search
//! for issues using JQL (GET)" of REST v2 (`startAt`, `maxResults`, `total`, `issues`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use connector_core::{
    CheckpointedConnector, LoadConnector, SlimConnector, SyncContext, TimeWindow,
};
use connector_jira::JiraCheckpoint;
use futures::TryStreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Serves `search` pages from `issues`, and after the first request removes `leaves` (issue
/// keys) from the result set, as a deletion between two page requests would.
struct Shrinking {
    inner: common::ServerSearch,
    leaves: Vec<&'static str>,
    requests: AtomicUsize,
}

impl Respond for Shrinking {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let answer = self.inner.respond(req);
        if self.requests.fetch_add(1, Ordering::SeqCst) == 0 {
            self.inner
                .issues
                .lock()
                .unwrap()
                .retain(|i| !self.leaves.iter().any(|k| i["key"] == *k));
        }
        answer
    }
}

/// ENG-1 .. ENG-7 served 3 a page (`page_size: 3`); `leaves` go after the first page.
async fn shrinking(leaves: Vec<&'static str>) -> (MockServer, common::ServerSearch) {
    let server = MockServer::start().await;
    let inner = common::ServerSearch {
        issues: Arc::new(Mutex::new(common::numbered(7, false))),
        cap: 100,
        jqls: Arc::default(),
    };
    Mock::given(method("GET"))
        .and(path("/rest/api/2/search"))
        .respond_with(Shrinking {
            inner: inner.clone(),
            leaves,
            requests: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    (server, inner)
}

fn keys(titles: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut keys: Vec<String> = titles
        .into_iter()
        .map(|t| t.split(':').next().unwrap_or_default().to_owned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn config(uri: &str) -> connector_jira::JiraConfig {
    common::server_config(uri, json!({"page_size": 3, "id_scheme": "issue_id"}))
}

#[tokio::test]
async fn an_issue_leaving_before_the_cursor_does_not_make_the_load_skip_the_next() {
    // Plain offsets would ask startAt=3 of ENG-2 .. ENG-7 and never see ENG-4.
    let (server, _) = shrinking(vec!["ENG-1"]).await;
    let c = common::connector(config(&server.uri()));
    let mut stream = c.load(SyncContext::new());
    let mut titles = Vec::new();
    while let Some(page) = stream.try_next().await.unwrap() {
        titles.extend(page.documents.into_iter().map(|d| d.title));
    }
    let got = keys(titles);
    assert_eq!(
        got,
        [
            "ENG-1", "ENG-2", "ENG-3", "ENG-4", "ENG-5", "ENG-6", "ENG-7"
        ]
    );
}

#[tokio::test]
async fn an_issue_leaving_mid_listing_does_not_make_prune_delete_another() {
    let (server, _) = shrinking(vec!["ENG-2", "ENG-3"]).await;
    let c = common::connector(config(&server.uri()));
    let mut stream = c.list_ids(SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = stream.try_next().await.unwrap() {
        ids.extend(page.into_iter().map(|s| s.id));
    }
    ids.sort();
    ids.dedup();
    let host = server.uri().trim_start_matches("http://").to_owned();
    // ENG-4 .. ENG-7 moved two places forward after the first page; all are listed.
    for n in [1, 4, 5, 6, 7] {
        let id = format!("jira:{host}/issue/{}", 10000 + n);
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
}

#[tokio::test]
async fn a_poll_walks_the_same_way_and_its_checkpoint_resumes_the_walk() {
    let (server, _) = shrinking(vec!["ENG-1"]).await;
    let c = common::connector(config(&server.uri()));
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-15T00:00:00Z")
        .unwrap()
        .to_utc();
    let window = TimeWindow::new(start, start + chrono::TimeDelta::days(1)).unwrap();
    let mut stream =
        c.load_from_checkpoint(JiraCheckpoint::default(), Some(window), SyncContext::new());
    let mut titles = Vec::new();
    let mut checkpoints: Vec<Value> = Vec::new();
    while let Some(page) = stream.try_next().await.unwrap() {
        titles.extend(page.batch.documents.into_iter().map(|d| d.title));
        checkpoints.push(serde_json::to_value(&page.checkpoint).unwrap());
    }
    assert_eq!(keys(titles).len(), 7);
    // The first page's checkpoint holds the walk (its end and the page's ids), not a bare
    // offset.
    let first = &checkpoints[0];
    assert_eq!(first["start_at"], 0, "{first}");
    assert!(first["offset_walk"]["anchors"].is_array(), "{first}");
    assert_eq!(checkpoints.last().unwrap()["done"], true);
    // Resumed from the first page's checkpoint (the set has shrunk since): it finds ENG-3
    // again and goes on from there.
    let from: JiraCheckpoint = serde_json::from_value(first.clone()).unwrap();
    let mut stream = c.load_from_checkpoint(from, Some(window), SyncContext::new());
    let mut titles = Vec::new();
    while let Some(page) = stream.try_next().await.unwrap() {
        titles.extend(page.batch.documents.into_iter().map(|d| d.title));
    }
    assert_eq!(keys(titles), ["ENG-4", "ENG-5", "ENG-6", "ENG-7"]);
}
