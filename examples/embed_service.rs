//! Embedding a sync in a tokio service with a sink of your own.
//!
//! The host here is a toy search index: it keeps, per document id, the words of the document.
//! A real host writes to its vector store or search engine the same way: `write` upserts a
//! batch by id and returns once the batch is durable (the batch loop commits the checkpoint
//! only after that), `delete` removes ids the source no longer has.
//!
//! Run it: `cargo run --example embed_service` (syncs the sample folder twice: the second run
//! finds nothing changed). Ctrl-C stops it between batches; the state file lets the next run
//! resume.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use connectors::core::reexports::async_trait;
use connectors::sink::Sink;
use connectors::state::FileStateStore;
use connectors::sync::{SyncMode, SyncOptions, Syncer};
use connectors::{Document, Result};

/// The host's index: document id -> its words.
#[derive(Debug, Default, Clone)]
struct WordIndex(Arc<Mutex<HashMap<String, Vec<String>>>>);

impl WordIndex {
    fn len(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or_default()
    }
}

#[async_trait]
impl Sink for WordIndex {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let mut index = self.0.lock().map_err(|_| {
            connectors::Error::new(connectors::ErrorKind::Sink, "index lock poisoned")
        })?;
        for doc in documents {
            // Text bodies are Markdown; byte bodies (PDF, DOCX) would go to the host's parser.
            let words = doc
                .content
                .as_text()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_lowercase)
                .collect();
            index.insert(doc.id.clone(), words);
        }
        Ok(())
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        let mut index = self.0.lock().map_err(|_| {
            connectors::Error::new(connectors::ErrorKind::Sink, "index lock poisoned")
        })?;
        for id in ids {
            index.remove(id);
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let registry = connectors::registry();
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data");
    let connector = registry.build("local", serde_json::json!({ "path": folder }))?;

    let state_dir = std::env::temp_dir().join(format!("connectors-embed-{}", std::process::id()));
    let index = WordIndex::default();
    let cancel = connectors::core::Cancellation::new();
    // The service's shutdown signal: stop between batches, keep what was acknowledged.
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        }
    });

    for run in 1..=2 {
        let report = Syncer::new(connector.clone())
            .sink(index.clone())
            .state(FileStateStore::open(state_dir.join("state.json")).await?)
            .options(SyncOptions::default().batch_docs(16))
            .cancellation(cancel.clone())
            .run(SyncMode::Auto)
            .await?;
        println!(
            "run {run} ({}): {} new, {} updated, {} unchanged, {} failed; the index holds {} documents",
            report.mode,
            report.new,
            report.updated,
            report.unchanged,
            report.failed,
            index.len()
        );
    }
    let _ = std::fs::remove_dir_all(&state_dir);
    Ok(())
}
