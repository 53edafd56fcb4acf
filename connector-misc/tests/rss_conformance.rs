//! The conformance kit and core's HTTP checks against the fake feed host of `rss_common`: a
//! private RSS 2.0 feed (its token in the query, the secret that must never be printed) and
//! an Atom feed, two source pages.
#![cfg(feature = "rss")]
#![allow(clippy::unwrap_used)]

mod rss_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use rss_common::{SECRET, build, standard, time};
use serde_json::json;
use wiremock::MockServer;

const SITE: &str = "https://blog.example.com";

fn private_feed() -> String {
    format!("/blog/feed/?token={SECRET}")
}

struct RssFixture {
    server: MockServer,
}

fn connector(uri: &str) -> Arc<dyn Connector> {
    build(uri, &[&private_feed(), "/releases.atom"], json!({}))
}

#[async_trait]
impl Fixture for RssFixture {
    async fn setup() -> Self {
        let feeds = standard(SITE);
        feeds.serve(
            "/broken.xml",
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><title>Broken</title><item><title>x</item></channel>",
        );
        Self {
            server: feeds.start().await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        connector(&self.server.uri())
    }

    fn secret(&self) -> Option<String> {
        Some(SECRET.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let uri = self.server.uri();
        (
            build(&uri, &["/broken.xml", "/releases.atom"], json!({})),
            Some(format!("rss:{uri}/broken.xml")),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // RSS items at hours 11 and 10, Atom entries updated at 13 and 12.
        let window = TimeWindow::new(time(11), time(13)).ok()?;
        let uri = self.server.uri();
        Some((
            window,
            vec![
                format!(
                    "rss:{}#https://blog.example.com/?p=1042",
                    feed_key(&uri, &private_feed())
                ),
                format!("rss:{uri}/releases.atom#tag:releases.example.org,2024:v2.0.0"),
            ],
        ))
    }
}

/// The feed key of `path` on `uri`, as the connector names the feed (the query hashed).
fn feed_key(uri: &str, path: &str) -> String {
    let url = url::Url::parse(&format!("{uri}{path}")).unwrap();
    let query = url.query().unwrap_or_default();
    let mut clean = url.clone();
    clean.set_query(None);
    format!("{clean}?~{}", &connector_core::ids::hash128(query)[..16])
}

connector_core::conformance_tests!(rss_conformance, RssFixture);

// No `unauthorized_fails_fast`: a 401 is one private feed's failure, not the sync's (a
// feed may want a login this source has no field for; see `src/rss/pages.rs`).
connector_core::http_checks! {
    fake: standard(SITE).start().await,
    build: connector,
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        secret_never_leaks(SECRET),
    ],
}
