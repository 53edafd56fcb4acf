//! A sink's [`Encoder`]: documents serialised where the connector made them
//! ([`SyncContext::encode`]), and the batch loop handing the sink those bytes
//! ([`Sink::write_encoded`]) in every shape of batch, with the same bytes as `write`.
#![allow(clippy::unwrap_used)] // Test helpers outside `#[test]`: a broken setup fails loudly.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use connector_core::reexports::async_trait;
use connector_core::reexports::futures::StreamExt;
use connector_core::reexports::futures::stream::{self, BoxStream};
use connector_core::sink::{Encoder, NdjsonSink, Sink};
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{Batch, Connector, Document, LoadConnector, Result, Roles, SyncContext};

thread_local! {
    /// Set while the test connector converts a page: where its documents are made.
    static CONVERTING: Cell<bool> = const { Cell::new(false) };
}

/// Pages of documents; with `encode`, each page is encoded for the sink as it is made, as a
/// connector that converts its pages on a worker does.
#[derive(Debug)]
struct Pages {
    pages: Vec<Vec<Document>>,
    encode: bool,
}

impl std::fmt::Display for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("pages")
    }
}

#[async_trait]
impl Connector for Pages {
    fn source(&self) -> &'static str {
        "pages"
    }
    fn roles(&self) -> Roles<'_> {
        Roles::of(self).load().into()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for Pages {
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let encode = self.encode;
        stream::iter(self.pages.clone())
            .map(move |documents| {
                CONVERTING.set(true);
                let mut batch = Batch::new(documents);
                if encode {
                    ctx.encode(&mut batch);
                }
                CONVERTING.set(false);
                Ok(batch)
            })
            .boxed()
    }
}

fn doc(n: usize, body: &str) -> Document {
    Document::text(format!("d{n:02}"), "pages", format!("Title {n}"), body)
}

/// `n` documents in pages of `size`.
fn pages(n: usize, size: usize, body: &str) -> Vec<Vec<Document>> {
    let all: Vec<Document> = (0..n).map(|n| doc(n, body)).collect();
    all.chunks(size).map(<[Document]>::to_vec).collect()
}

/// What the recording sink saw.
#[derive(Default)]
struct Seen {
    /// Each encoded document's id, and whether it was encoded where it was made.
    encoded: Vec<(String, bool)>,
    /// The ids of each batch given to `write`.
    written: Vec<Vec<String>>,
    /// The ids of each batch given to `write_encoded`, and whether its bytes were the
    /// encoder's bytes of those documents.
    written_encoded: Vec<(Vec<String>, bool)>,
}

/// A sink whose encoder writes `id:title;` and records where it ran.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<Seen>>);

struct Tagging(Arc<Mutex<Seen>>);

fn tag(doc: &Document, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{}:{};", doc.id, doc.title).as_bytes());
}

impl Encoder for Tagging {
    fn encode(&self, doc: &Document, out: &mut Vec<u8>) -> Result<bool> {
        let here = CONVERTING.get();
        self.0.lock().unwrap().encoded.push((doc.id.clone(), here));
        tag(doc, out);
        Ok(true)
    }
}

fn ids(documents: &[Document]) -> Vec<String> {
    documents.iter().map(|d| d.id.clone()).collect()
}

#[async_trait]
impl Sink for Recording {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        self.0.lock().unwrap().written.push(ids(documents));
        Ok(())
    }
    async fn delete(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
    fn encoder(&self) -> Option<Arc<dyn Encoder>> {
        Some(Arc::new(Tagging(Arc::clone(&self.0))))
    }
    async fn write_encoded(&self, documents: &[Document], encoded: &[u8]) -> Result<()> {
        let mut expected = Vec::new();
        for doc in documents {
            tag(doc, &mut expected);
        }
        let same = expected == encoded;
        let mut seen = self.0.lock().unwrap();
        seen.written_encoded.push((ids(documents), same));
        Ok(())
    }
}

/// The encoder runs where the connector makes the page (not in the batch loop), once per
/// document, and every batch, within a page or across pages, reaches `write_encoded` with
/// exactly the encoder's bytes of its documents, in order.
#[tokio::test]
async fn the_encoder_runs_where_pages_are_made_and_the_loop_hands_on_its_bytes() {
    let sink = Recording::default();
    let source = Pages {
        pages: pages(23, 5, "body"),
        encode: true,
    };
    let report = Syncer::new(Arc::new(source))
        .sink(sink.clone())
        .options(SyncOptions::default().batch_docs(4))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.delivered, 23);
    let seen = sink.0.lock().unwrap();
    assert_eq!(seen.encoded.len(), 23);
    assert!(seen.encoded.iter().all(|(_, converting)| *converting));
    assert!(seen.written.is_empty(), "{:?}", seen.written);
    let sizes: Vec<usize> = seen.written_encoded.iter().map(|(b, _)| b.len()).collect();
    assert_eq!(sizes, [4, 4, 4, 4, 4, 3]);
    assert!(seen.written_encoded.iter().all(|(_, same)| *same));
    let delivered: Vec<String> = seen
        .written_encoded
        .iter()
        .flat_map(|(b, _)| b.clone())
        .collect();
    let all: Vec<String> = (0..23).map(|n| format!("d{n:02}")).collect();
    assert_eq!(delivered, all);
}

/// A connector that does not encode: the sink's `write` gets every batch, as before.
#[tokio::test]
async fn pages_not_encoded_go_to_write() {
    let sink = Recording::default();
    let source = Pages {
        pages: pages(7, 5, "body"),
        encode: false,
    };
    Syncer::new(Arc::new(source))
        .sink(sink.clone())
        .options(SyncOptions::default().batch_docs(4))
        .run(SyncMode::Full)
        .await
        .unwrap();
    let seen = sink.0.lock().unwrap();
    assert!(seen.encoded.is_empty() && seen.written_encoded.is_empty());
    assert_eq!(seen.written.len(), 2);
}

/// The NDJSON output of encoded pages is byte for byte that of pages the sink serialises
/// itself: batches within a page and across pages, and a reconciling run that leaves
/// unchanged documents out between changed ones (so a batch's lines are not one range of
/// its page's).
#[tokio::test]
async fn ndjson_lines_encoded_ahead_are_the_lines_write_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for encode in [false, true] {
        let path = dir.path().join(format!("out-{encode}.ndjson"));
        let store = MemoryStateStore::new();
        let first = Pages {
            pages: pages(23, 5, "first \"quoted\"\n body"),
            encode,
        };
        Syncer::new(Arc::new(first))
            .sink(NdjsonSink::append(&path).await.unwrap())
            .state(store.clone())
            .options(SyncOptions::default().batch_docs(3))
            .run(SyncMode::Full)
            .await
            .unwrap();
        // Every third document changed: the others are left out of the batches.
        let mut changed = pages(23, 5, "first \"quoted\"\n body");
        for (n, doc) in changed.iter_mut().flatten().enumerate() {
            if n % 3 == 1 {
                *doc = Document::text(doc.id.clone(), "pages", "Changed", "second body ✓");
            }
        }
        let second = Pages {
            pages: changed,
            encode,
        };
        let report = Syncer::new(Arc::new(second))
            .sink(NdjsonSink::append(&path).await.unwrap())
            .state(store.clone())
            .options(SyncOptions::default().batch_docs(3))
            .run(SyncMode::Reconcile)
            .await
            .unwrap();
        assert_eq!((report.updated, report.unchanged), (8, 15));
        outputs.push(std::fs::read(&path).unwrap());
    }
    assert_eq!(outputs[0].iter().filter(|b| **b == b'\n').count(), 23 + 8);
    assert_eq!(
        String::from_utf8_lossy(&outputs[0]),
        String::from_utf8_lossy(&outputs[1])
    );
}

/// In a reconciling run whose batches leave unchanged documents out between changed ones,
/// the sink still gets the encoder's bytes of exactly the documents it is given.
#[tokio::test]
async fn batches_with_documents_left_out_get_their_own_bytes() {
    let store = MemoryStateStore::new();
    let first = Pages {
        pages: pages(23, 5, "body"),
        encode: true,
    };
    Syncer::new(Arc::new(first))
        .sink(Recording::default())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    let mut changed = pages(23, 5, "body");
    for (n, doc) in changed.iter_mut().flatten().enumerate() {
        if n % 3 == 1 {
            *doc = Document::text(doc.id.clone(), "pages", "Changed", "new body");
        }
    }
    let sink = Recording::default();
    let second = Pages {
        pages: changed,
        encode: true,
    };
    // Two a batch: a page's two changed documents (one left out between them) make one batch
    // within the page, and the pages' single ones batches across pages.
    Syncer::new(Arc::new(second))
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().batch_docs(2))
        .run(SyncMode::Reconcile)
        .await
        .unwrap();
    let seen = sink.0.lock().unwrap();
    assert!(seen.written.is_empty(), "{:?}", seen.written);
    let delivered: Vec<String> = seen
        .written_encoded
        .iter()
        .flat_map(|(b, _)| b.clone())
        .collect();
    let expected: Vec<String> = (0..23)
        .filter(|n| n % 3 == 1)
        .map(|n| format!("d{n:02}"))
        .collect();
    assert_eq!(delivered, expected);
    assert!(seen.written_encoded.iter().all(|(_, same)| *same));
}
