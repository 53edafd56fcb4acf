//! The notes connector passes the conformance kit every built-in connector passes, against a
//! loopback notes service (wiremock) that pages by `after` and `limit`.

#![allow(clippy::unwrap_used)] // Test fixtures: failing loudly is the point.

use std::sync::Arc;

use connector_core::reexports::chrono::{DateTime, Duration, Utc};
use connector_core::reexports::serde_json::{Value, json};
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use connector_example_notes::{NotesConfig, NotesConnector};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "notes-secret-token-8f3a";

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

/// Note `i` is updated at minute `i`.
fn notes(n: usize, malformed: Option<usize>) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let updated = if Some(i) == malformed {
                "yesterday-ish".to_owned()
            } else {
                (t0() + Duration::minutes(i as i64)).to_rfc3339()
            };
            json!({ "id": format!("n{i:02}"), "title": format!("Note {i}"), "body": format!("Body of note {i}."), "updated": updated })
        })
        .collect()
}

/// `GET /notes?after=&limit=`: the notes after `after` by id, `next` while more remain.
struct Listing(Vec<Value>);

impl Respond for Listing {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
        let after = get("after");
        let rest: Vec<&Value> = self
            .0
            .iter()
            .filter(|n| {
                after
                    .as_deref()
                    .is_none_or(|a| n["id"].as_str().unwrap() > a)
            })
            .collect();
        let page: Vec<Value> = rest
            .iter()
            .take(limit)
            .map(|n| json!({ "id": n["id"], "updated": n["updated"] }))
            .collect();
        let mut body = json!({ "notes": page });
        if rest.len() > limit {
            body["next"] = page.last().unwrap()["id"].clone();
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// `GET /notes/{id}`: one note.
struct One(Vec<Value>);

impl Respond for One {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request.url.path().rsplit('/').next().unwrap_or_default();
        match self.0.iter().find(|n| n["id"] == id) {
            Some(n) => ResponseTemplate::new(200).set_body_json(n),
            None => ResponseTemplate::new(404).set_body_json(json!({ "error": "no such note" })),
        }
    }
}

async fn service(notes: Vec<Value>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/notes"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(Listing(notes.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/notes/[^/]+$"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(One(notes))
        .mount(&server)
        .await;
    server
}

fn connector(server: &MockServer) -> Arc<dyn Connector> {
    let config: NotesConfig = connector_core::config::from_json(json!({
        "base_url": format!("{}/api/", server.uri()),
        "page_size": 3,
        "credentials": { "token": TOKEN },
    }))
    .unwrap();
    Arc::new(NotesConnector::new(config).unwrap())
}

struct NotesFixture {
    good: MockServer,
    bad: MockServer,
}

#[connector_core::reexports::async_trait]
impl Fixture for NotesFixture {
    async fn setup() -> Self {
        Self {
            good: service(notes(8, None)).await,
            bad: service(notes(8, Some(4))).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        connector(&self.good)
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (connector(&self.bad), Some("notes:n04".to_owned()))
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Minutes [2, 5) hold notes 2, 3 and 4.
        let window =
            TimeWindow::new(t0() + Duration::minutes(2), t0() + Duration::minutes(5)).ok()?;
        Some((window, (2..5).map(|i| format!("notes:n{i:02}")).collect()))
    }
}

connector_core::conformance_tests!(notes_conformance, NotesFixture);
