//! `rest_api` encodes each page for a sink that has an encoder on the worker that converts
//! the page ([`SyncContext::encode`](connector_core::SyncContext::encode)), so the batch loop
//! hands the sink bytes; the NDJSON lines are the ones `write` writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.

mod common;

use std::sync::{Arc, Mutex};

use common::{FakeApi, Style, build, cursor_config, load};
use connector_core::reexports::async_trait;
use connector_core::sink::{Encoder, NdjsonSink, Sink};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{Document, Result};
use wiremock::MockServer;

/// Records which of its two ways each batch came, and encodes each document as its id.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<(Vec<String>, Vec<String>)>>);

struct Ids;

impl Encoder for Ids {
    fn encode(&self, doc: &Document, out: &mut Vec<u8>) -> Result<bool> {
        out.extend_from_slice(doc.id.as_bytes());
        out.push(b' ');
        Ok(true)
    }
}

#[async_trait]
impl Sink for Recording {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let mut seen = self.0.lock().unwrap();
        seen.0.extend(documents.iter().map(|d| d.id.clone()));
        Ok(())
    }
    async fn delete(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
    fn encoder(&self) -> Option<Arc<dyn Encoder>> {
        Some(Arc::new(Ids))
    }
    async fn write_encoded(&self, documents: &[Document], encoded: &[u8]) -> Result<()> {
        let text = String::from_utf8(encoded.to_vec()).unwrap();
        let ids: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        let given: Vec<String> = documents.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids, given);
        self.0.lock().unwrap().1.extend(ids);
        Ok(())
    }
}

#[tokio::test]
async fn pages_are_encoded_for_a_sink_with_an_encoder() {
    let server = MockServer::start().await;
    FakeApi::new(7, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let sink = Recording::default();
    let report = Syncer::new(build(cursor_config(&server.uri())))
        .sink(sink.clone())
        .options(SyncOptions::default().batch_docs(2))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.delivered, 7);
    let (written, encoded) = sink.0.lock().unwrap().clone();
    assert!(written.is_empty(), "{written:?}");
    assert_eq!(encoded.len(), 7);
}

#[tokio::test]
async fn ndjson_lines_are_those_of_the_documents() {
    let server = MockServer::start().await;
    FakeApi::new(7, Style::Cursor)
        .bearer()
        .mount(&server, "/v1/articles")
        .await;
    let dir = std::env::temp_dir().join(format!("rest-encoder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let synced = dir.join("synced.ndjson");
    Syncer::new(build(cursor_config(&server.uri())))
        .sink(NdjsonSink::create(&synced).await.unwrap())
        .options(SyncOptions::default().batch_docs(2))
        .run(SyncMode::Full)
        .await
        .unwrap();
    let (docs, _, err) = load(&build(cursor_config(&server.uri()))).await;
    assert!(err.is_none());
    let written = dir.join("written.ndjson");
    let sink = NdjsonSink::create(&written).await.unwrap();
    sink.write(&docs).await.unwrap();
    drop(sink);
    assert_eq!(
        std::fs::read_to_string(&synced).unwrap(),
        std::fs::read_to_string(&written).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
