//! The conformance kit and core's HTTP checks against the fake Microsoft Graph of
//! `teams_common`.
#![cfg(feature = "teams")]
#![allow(clippy::unwrap_used)]

mod teams_common;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_core::testkit::Fixture;
use connector_core::{Connector, Document, TimeWindow};
use serde_json::json;
use teams_common::{
    ENG, ENG_GENERAL, SALES, SALES_GENERAL, SECRET, TENANT, build, doc_id, graph_wire, standard,
    time,
};
use wiremock::MockServer;

struct TeamsFixture {
    server: MockServer,
    malformed: MockServer,
    /// Document id → the times of its thread's messages.
    parts: HashMap<String, Vec<DateTime<Utc>>>,
}

#[async_trait]
impl Fixture for TeamsFixture {
    async fn setup() -> Self {
        let graph = standard(2);
        let mut parts: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
        for m in &graph.state.lock().unwrap().messages {
            let root = m.reply_to.clone().unwrap_or_else(|| m.id.clone());
            let id = format!("{}__{}__{root}", m.team, m.channel);
            let times = parts.entry(id).or_default();
            times.push(m.created);
            times.push(m.modified);
            times.extend(m.deleted);
        }
        let malformed = standard(2);
        {
            let mut s = malformed.state.lock().unwrap();
            let id = time(10).timestamp_millis().to_string();
            s.messages
                .iter_mut()
                .find(|m| m.id == id)
                .unwrap()
                .malformed = true;
        }
        Self {
            server: graph.start().await,
            malformed: malformed.start().await,
            parts,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(SECRET.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), json!({})),
            Some(doc_id(SALES, SALES_GENERAL, time(10))),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // The release thread's replies are at minutes 2 and 3; the next root is at 5.
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((window, vec![doc_id(ENG, ENG_GENERAL, time(1))]))
    }

    fn part_times(&self, document: &Document) -> Option<Vec<DateTime<Utc>>> {
        self.parts.get(&document.id).cloned()
    }
}

connector_core::conformance_tests!(teams_conformance, TeamsFixture);

connector_core::http_checks! {
    fake: standard(2).start().await,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(SECRET),
    ],
}

graph_wire::credential_checks! {
    fake: standard(2).start().await,
    build: build,
    secret: SECRET,
    credentials: json!({}),
}
