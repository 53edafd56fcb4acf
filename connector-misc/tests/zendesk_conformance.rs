//! The conformance kit and core's HTTP checks against the wiremock Zendesk of
//! `zendesk_common`, for both content types.
#![cfg(feature = "zendesk")]
#![allow(clippy::unwrap_used)] // Test fixtures: a bad literal should fail the test loudly.

mod zendesk_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use serde_json::json;
use wiremock::MockServer;
use zendesk_common::{
    TOKEN, ZendeskApi, build, standard, standard_articles, standard_tickets, start, time,
};

struct ArticlesFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for ArticlesFixture {
    async fn setup() -> Self {
        let api = standard();
        api.state.lock().unwrap().article_page = 2;
        let mut articles = standard_articles();
        articles[1].malformed = true;
        let broken = ZendeskApi::new(articles, Vec::new());
        broken.state.lock().unwrap().article_page = 2;
        Self {
            server: start(api).await,
            malformed: start(broken).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(
            &self.server.uri(),
            "articles",
            json!({"skip_article_labels": "internal-only"}),
        )
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), "articles", json!({})),
            Some("article:2".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Articles are updated at minutes 1..=7 (id = minute).
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((window, vec!["article:2".into(), "article:3".into()]))
    }
}

connector_core::conformance_tests!(zendesk_articles_conformance, ArticlesFixture);

struct TicketsFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for TicketsFixture {
    async fn setup() -> Self {
        let api = standard();
        {
            let mut st = api.state.lock().unwrap();
            st.ticket_page = 2;
            st.comment_page = 2;
        }
        let mut tickets = standard_tickets();
        tickets[2].malformed = true;
        let broken = ZendeskApi::new(Vec::new(), tickets);
        broken.state.lock().unwrap().ticket_page = 2;
        Self {
            server: start(api).await,
            malformed: start(broken).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri(), "tickets", json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), "tickets", json!({})),
            Some("zendesk_ticket_3".to_owned()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Tickets are updated at minutes 1..=5 (id = minute); each has its internal-notes
        // document.
        let window = TimeWindow::new(time(2), time(4)).ok()?;
        Some((
            window,
            vec![
                "zendesk_ticket_2".into(),
                "zendesk_ticket_2:internal".into(),
                "zendesk_ticket_3".into(),
                "zendesk_ticket_3:internal".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(zendesk_tickets_conformance, TicketsFixture);

fn run<F: std::future::Future>(f: F) -> F::Output {
    connector_core::testkit::block_on(f)
}

connector_core::http_checks! {
    fake: start(standard()).await,
    build: |uri| build(uri, "tickets", json!({})),
    checks: [
        retry_after_is_waited_out,
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}

// Written out: the storm runs over the Help Center articles while the other checks run over
// tickets, so both of Zendesk's APIs meet a failure.
#[test]
fn server_error_storm_is_survived() {
    run(async {
        let s = start(standard()).await;
        connector_core::testkit::http::server_error_storm_is_survived(
            &s,
            |uri| build(uri, "articles", json!({})),
            3,
        )
        .await;
    });
}
