//! The conformance kit and core's HTTP checks against the wiremock Discord of
//! `discord_common`.
#![cfg(feature = "discord")]
#![allow(clippy::unwrap_used)] // Test fixtures: a bad literal should fail the test loudly.

mod discord_common;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector_core::testkit::Fixture;
use connector_core::{Connector, Document, TimeWindow};
use discord_common::{
    DiscordApi, GENERAL, Msg, STAFF, TOKEN, bucket, build, snowflake, standard, start, thread, time,
};
use serde_json::json;
use wiremock::MockServer;

struct DiscordFixture {
    api: DiscordApi,
    server: MockServer,
    malformed: MockServer,
}

/// When a message was posted and, if it was, edited.
fn times_of(m: &Msg) -> impl Iterator<Item = DateTime<Utc>> {
    std::iter::once(m.at).chain(m.edited)
}

#[async_trait]
impl Fixture for DiscordFixture {
    async fn setup() -> Self {
        let broken = standard();
        broken
            .state
            .lock()
            .unwrap()
            .channels
            .iter_mut()
            .flat_map(|c| c.messages.iter_mut())
            .filter(|m| m.at == time(3, 35))
            .for_each(|m| m.malformed = true);
        let api = standard();
        // An edit inside the window, to a message of the same hour.
        api.state
            .lock()
            .unwrap()
            .channels
            .iter_mut()
            .flat_map(|c| c.messages.iter_mut())
            .filter(|m| m.at == time(2, 5))
            .for_each(|m| m.edited = Some(time(2, 50)));
        Self {
            server: start(api.clone()).await,
            api,
            malformed: start(broken).await,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        build(&self.server.uri(), json!({}))
    }

    fn secret(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            build(&self.malformed.uri(), json!({})),
            Some(bucket(GENERAL, 3)),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        // Hourly buckets; the thread started at 3:00 had its last message at 3:20; the forum
        // post was made at 5:00.
        let window = TimeWindow::new(time(2, 0), time(4, 0)).ok()?;
        Some((
            window,
            vec![
                bucket(GENERAL, 2),
                bucket(GENERAL, 3),
                bucket(STAFF, 2),
                thread(snowflake(time(3, 0), 0)),
            ],
        ))
    }

    /// A bucket is the messages people said in its hour of its channel; a thread, its
    /// messages: each posted and, if it was, edited.
    fn part_times(&self, document: &Document) -> Option<Vec<DateTime<Utc>>> {
        let st = self.api.state.lock().unwrap();
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        if let Some(t) = st.threads.iter().find(|t| thread(t.id) == document.id) {
            times.extend(t.messages.iter().flat_map(times_of));
        }
        for c in &st.channels {
            for m in c.messages.iter().filter(|m| m.kind == 0) {
                let hour = u32::try_from((m.at - time(0, 0)).num_hours()).unwrap();
                if bucket(c.id, hour) == document.id {
                    times.extend(times_of(m));
                }
            }
        }
        Some(times)
    }
}

connector_core::conformance_tests!(discord_conformance, DiscordFixture);

connector_core::http_checks! {
    fake: start(standard()).await,
    build: |uri| build(uri, json!({})),
    checks: [
        retry_after_is_waited_out,
        server_error_storm_is_survived(3),
        unauthorized_fails_fast,
        secret_never_leaks(TOKEN),
    ],
}
