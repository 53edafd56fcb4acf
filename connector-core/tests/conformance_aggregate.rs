//! The aggregate path of `window_is_half_open` (`Fixture::part_times`), on the in-memory
//! reference connector: it passes when the declared parts agree with what the connector
//! yields, and catches a connector that yields an aggregate only by its newest part.
#![allow(clippy::unwrap_used)] // Test fixtures: a bad literal should fail the test loudly.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use connector_core::testkit::{Fixture, MemoryFixture, block_on, window_is_half_open};
use connector_core::{Connector, Document, TimeWindow};

/// The memory fixture, with every document declared an aggregate of parts at the times
/// `offsets` before its `updated_at` (zero: the newest part is the `updated_at`).
struct Aggregates {
    inner: MemoryFixture,
    offsets: Vec<i64>,
    window: Option<(TimeWindow, Vec<String>)>,
}

impl Aggregates {
    async fn with(offsets: Vec<i64>) -> Self {
        let inner = MemoryFixture::setup().await;
        let window = inner.window();
        Self {
            inner,
            offsets,
            window,
        }
    }
}

#[async_trait]
impl Fixture for Aggregates {
    async fn setup() -> Self {
        Self::with(vec![0]).await
    }

    fn connector(&self) -> Arc<dyn Connector> {
        self.inner.connector()
    }

    fn secret(&self) -> Option<String> {
        self.inner.secret()
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        self.inner.malformed()
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        self.window.clone()
    }

    fn part_times(&self, document: &Document) -> Option<Vec<DateTime<Utc>>> {
        let at = document.updated_at?;
        Some(
            self.offsets
                .iter()
                .map(|s| at - TimeDelta::seconds(*s))
                .collect(),
        )
    }
}

#[test]
fn one_part_per_document_is_the_plain_rule() {
    block_on(async {
        window_is_half_open(&Aggregates::with(vec![0]).await).await;
    });
}

#[test]
#[should_panic(expected = "a document is due in every window holding one of its parts' times")]
fn a_document_yielded_only_by_its_newest_part_fails() {
    // Each document also has a part 20 seconds before its `updated_at` (items are a minute
    // apart, doc-0000i at minute i); the memory connector yields by `updated_at` alone, so a
    // window ending between a document's two parts misses it. The fixture's window,
    // [minute 3, minute 8:30), still holds exactly doc-00003 ..= doc-00008 either way.
    block_on(async {
        let mut f = Aggregates::with(vec![20, 0]).await;
        let (w, _) = f.inner.window().unwrap();
        let window = TimeWindow::new(w.start, w.start + TimeDelta::seconds(330)).unwrap();
        f.window = Some((window, (3..9).map(|i| format!("doc-{i:05}")).collect()));
        window_is_half_open(&f).await;
    });
}

#[test]
#[should_panic(expected = "is not the newest of its parts' times")]
fn updated_at_must_be_the_newest_part() {
    block_on(async {
        window_is_half_open(&Aggregates::with(vec![0, -5]).await).await;
    });
}
