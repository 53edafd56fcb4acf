//! The conformance kit and core's HTTP checks against the wiremock GitLab of `gitlab_common`.
#![cfg(feature = "gitlab")]
#![allow(clippy::unwrap_used)] // Test fixtures: a bad literal should fail the test loudly.

mod gitlab_common;

use std::sync::Arc;

use async_trait::async_trait;
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use gitlab_common::{File, GitlabApi, TOKEN, build, standard, standard_project, start, time};
use serde_json::json;
use wiremock::MockServer;

struct GitlabFixture {
    server: MockServer,
    malformed: MockServer,
}

#[async_trait]
impl Fixture for GitlabFixture {
    async fn setup() -> Self {
        let mut broken = standard_project();
        broken.files[0] = File::new("README.md", &[b'#', b' ', 0xc3, 0x28, 0xff]);
        Self {
            server: start(standard(2)).await,
            malformed: start(GitlabApi::new(vec![broken], 2)).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        let uri = self.malformed.uri();
        (
            build(&uri, json!({})),
            Some(format!("{uri}/acme/platform/api/-/blob/main/README.md")),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Issues are updated at minutes 1..=5, merge requests at 6..=8, the head commit at 20.
        let uri = self.server.uri();
        let window = TimeWindow::new(time(2), time(7)).ok()?;
        let base = format!("{uri}/acme/platform/api/-");
        Some((
            window,
            vec![
                format!("{base}/merge_requests/1"),
                format!("{base}/issues/2"),
                format!("{base}/issues/3"),
                format!("{base}/issues/4"),
                format!("{base}/issues/5"),
            ],
        ))
    }
}

connector_core::conformance_tests!(gitlab_conformance, GitlabFixture);

connector_core::http_checks! {
    fake: start(standard(2)).await,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
