//! The conformance kit on the Confluence connector over the fake Cloud site.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{Fake, FakeComment, FakePage, TOKEN, at};
use connector_core::testkit::Fixture;
use connector_core::{Connector, Registry, TimeWindow};
use serde_json::json;

struct ConfluenceFixture {
    good: Fake,
    bad: Fake,
}

fn seed(fake: &Fake) {
    // Three results per search page, so seven pages span three source pages.
    fake.state.lock().unwrap().max_limit = 3;
    for i in 0..7u64 {
        let mut page = FakePage::new(
            10 + i,
            "ENG",
            &format!("Page {i}"),
            &format!("<p>body {i}</p>"),
            at(i as i64 * 10),
        );
        if i % 2 == 0 {
            page.comments = vec![FakeComment {
                id: 900 + i,
                body: "<p>a comment</p>".into(),
                author: "Cat".into(),
                when: at(1),
                ..Default::default()
            }];
        }
        fake.add(page);
    }
}

fn build(fake: &Fake) -> Arc<dyn Connector> {
    build_with(fake, json!({}))
}

fn build_with(fake: &Fake, extra: serde_json::Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry.build("confluence", fake.config(extra)).unwrap()
}

#[async_trait]
impl Fixture for ConfluenceFixture {
    async fn setup() -> Self {
        let good = Fake::start(true).await;
        seed(&good);
        let bad = Fake::start(true).await;
        seed(&bad);
        // Malformed storage with nothing left to read: a body that is merely malformed is
        // read by the fallback (`malformed_storage_is_indexed_by_a_fallback_and_flagged`).
        bad.add(FakePage::new(99, "ENG", "Broken", "<p> <em></p>", at(5)));
        Self { good, bad }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.good)
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let page = FakePage::new(99, "ENG", "Broken", "", at(5));
        (build(&self.bad), Some(self.bad.url_of(&page)))
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Pages are ten minutes apart: [20, 50) holds pages 2, 3 and 4.
        let window = TimeWindow::new(at(20), at(50)).unwrap();
        let ids = (2..5u64)
            .map(|i| {
                self.good.url_of(&FakePage::new(
                    10 + i,
                    "ENG",
                    &format!("Page {i}"),
                    "",
                    at(0),
                ))
            })
            .collect();
        Some((window, ids))
    }
}

connector_core::conformance_tests!(confluence, ConfluenceFixture);

/// The same checks with `id_scheme: content_id`.
struct ContentIdFixture(ConfluenceFixture);

impl ContentIdFixture {
    fn id(fake: &Fake, page: u64) -> String {
        let site = fake.base().replace("http://", "");
        format!("confluence:{site}/page/{page}")
    }
}

#[async_trait]
impl Fixture for ContentIdFixture {
    async fn setup() -> Self {
        Self(ConfluenceFixture::setup().await)
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build_with(&self.0.good, json!({"id_scheme": "content_id"}))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let bad = &self.0.bad;
        (
            build_with(bad, json!({"id_scheme": "content_id"})),
            Some(Self::id(bad, 99)),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(at(20), at(50)).unwrap();
        let ids = (2..5u64).map(|i| Self::id(&self.0.good, 10 + i)).collect();
        Some((window, ids))
    }
}

connector_core::conformance_tests!(confluence_content_id, ContentIdFixture);

/// A seeded fake (Cloud when `cloud`) for core's HTTP checks.
async fn seeded(cloud: bool) -> Fake {
    let fake = Fake::start(cloud).await;
    seed(&fake);
    fake
}

fn connector_at(uri: &str, cloud: bool) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry
        .build("confluence", common::config_at(uri, cloud, json!({})))
        .unwrap()
}

connector_core::http_checks! {
    fake: seeded(true).await,
    server: |fake| &fake.server,
    build: |uri| connector_at(uri, true),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}

/// The same checks on Server / Data Center (a personal access token, no `/wiki` prefix).
mod server {
    use super::*;

    connector_core::http_checks! {
        fake: seeded(false).await,
        server: |fake| &fake.server,
        build: |uri| connector_at(uri, false),
        checks: [
            retry_after_is_waited_out,
            server_error_storm_is_survived(3),
            unauthorized_fails_fast,
            secret_never_leaks(TOKEN),
        ],
    }
}
