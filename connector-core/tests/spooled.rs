//! Spooled bodies (`Content::Spooled`) through the batch loop: the sinks of core take them in
//! chunks, byte-identical; a sink that cannot gets a failure per document and the sync goes on.

use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use connector_core::reexports::futures::stream::{self, BoxStream};
use connector_core::sink::{DirectorySink, MemorySink, NdjsonSink, Sink};
use connector_core::spool::{Spool, SpooledBody, spool_stream};
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::{
    Batch, Connector, Content, Document, ErrorKind, LoadConnector, Result, Roles, SyncContext,
};

/// A body of `len` bytes that is not one repeated byte.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|n| (n * 7 % 253) as u8).collect()
}

async fn spooled(spool: &Spool, data: &[u8]) -> SpooledBody {
    let chunks: Vec<Result<Bytes>> = data
        .chunks(10_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    spool_stream(spool, stream::iter(chunks), u64::MAX)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One page: a small text document, a spooled one, another text document. The spool is
/// the context's, as a connector does it.
#[derive(Debug)]
struct Spooling {
    big: Vec<u8>,
}

impl std::fmt::Display for Spooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("spooling")
    }
}

#[connector_core::reexports::async_trait]
impl Connector for Spooling {
    fn source(&self) -> &'static str {
        "spooling"
    }
    fn roles(&self) -> Roles<'_> {
        Roles::of(self).load().into()
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl LoadConnector for Spooling {
    fn load(&self, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let big = self.big.clone();
        Box::pin(stream::once(async move {
            let body = spooled(ctx.spool(), &big).await;
            Ok(Batch::new(vec![
                Document::text("a", "spooling", "a.md", "first"),
                Document::spooled(
                    "big",
                    "spooling",
                    "big.bin",
                    body,
                    "application/octet-stream",
                    Some("bin".into()),
                ),
                Document::text("c", "spooling", "c.md", "third"),
            ]))
        }))
    }
}

#[tokio::test]
async fn a_spooled_body_reaches_the_directory_sink_byte_identical() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spool_dir = dir.path().join("spool");
    let big = pattern(3 * 1024 * 1024 + 17);
    let sink = Arc::new(
        DirectorySink::open(dir.path().join("out"))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let report = Syncer::new(Arc::new(Spooling { big: big.clone() }))
        .sink(Arc::clone(&sink))
        .spool(Spool::in_dir(&spool_dir))
        // The spooled body counts its length: it goes to the sink in a batch of its own.
        .options(SyncOptions::default().batch_bytes(1024 * 1024))
        .run(SyncMode::Full)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.delivered, report.failed), (3, 0));
    assert_eq!(
        report.bytes,
        (big.len() + "first".len() + "third".len()) as u64
    );
    let file = dir
        .path()
        .join("out/files")
        .join(format!("{}.bin", connector_core::ids::hash128("big")));
    let written = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(written == big, "the copy differs from the body");
    let left = std::fs::read_dir(&spool_dir).map_or(0, Iterator::count);
    assert_eq!(
        left, 0,
        "the spool file is deleted once its document is dropped"
    );
}

#[tokio::test]
async fn ndjson_streams_a_spooled_body_as_the_base64_of_bytes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let big = pattern(300_001);
    let path = dir.path().join("out.ndjson");
    let sink = NdjsonSink::create(&path)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Syncer::new(Arc::new(Spooling { big: big.clone() }))
        .sink(sink)
        .spool(Spool::in_dir(dir.path()))
        .run(SyncMode::Full)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let docs: Vec<Document> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:.200}")))
        .collect();
    assert_eq!(docs.len(), 3);
    // A spooled body reads back as the bytes it holds, with the fingerprint of those bytes.
    match &docs[1].content {
        Content::Bytes {
            data,
            mime,
            extension,
        } => {
            assert!(data[..] == big[..]);
            assert_eq!(mime, "application/octet-stream");
            assert_eq!(extension.as_deref(), Some("bin"));
        }
        other => panic!("expected bytes, got {other:?}"),
    }
    assert_eq!(
        docs[1].fingerprint,
        connector_core::ids::hash128_bytes(&big)
    );
    assert_eq!(docs[2].content.as_text(), Some("third"));
}

#[tokio::test]
async fn serde_of_a_spooled_document_matches_its_bytes_twin() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = pattern(100_000);
    let body = spooled(&Spool::in_dir(dir.path()), &data).await;
    let doc = Document::spooled(
        "x",
        "s",
        "x.pdf",
        body,
        "application/pdf",
        Some("pdf".into()),
    );
    let twin = Document::bytes(
        "x",
        "s",
        "x.pdf",
        data.clone(),
        "application/pdf",
        Some("pdf".into()),
    );
    assert_eq!(doc.fingerprint, twin.fingerprint);
    assert_eq!(doc.content.len(), data.len());
    assert!(
        doc.content.as_bytes().is_empty(),
        "a spooled body is not in memory"
    );
    let json = serde_json::to_string(&doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json, serde_json::to_string(&twin).unwrap_or_default());
    assert!(json.contains(&base64::engine::general_purpose::STANDARD.encode(&data)));
    let back: Document = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, twin);
    // The fields fingerprint stands the content hash in for the bytes: stable, and it moves
    // with the body.
    let other = spooled(&Spool::in_dir(dir.path()), &pattern(99_999)).await;
    let a = doc.clone().with_fields_fingerprint();
    assert_eq!(
        a.fingerprint,
        doc.clone().with_fields_fingerprint().fingerprint
    );
    let b = Document::spooled(
        "x",
        "s",
        "x.pdf",
        other,
        "application/pdf",
        Some("pdf".into()),
    )
    .with_fields_fingerprint();
    assert_ne!(a.fingerprint, b.fingerprint);
}

#[tokio::test]
async fn the_memory_sink_reads_a_spooled_body_into_memory() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let big = pattern(200_000);
    let sink = MemorySink::new();
    Syncer::new(Arc::new(Spooling { big: big.clone() }))
        .sink(sink.clone())
        .spool(Spool::in_dir(dir.path()))
        .run(SyncMode::Full)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = sink.get("big").unwrap_or_else(|| panic!("delivered"));
    assert!(!doc.content.is_spooled());
    assert!(doc.content.as_bytes() == &big[..]);
    assert_eq!(std::fs::read_dir(dir.path()).map_or(0, Iterator::count), 0);
}

/// A third-party sink that knows nothing of spooled bodies.
#[derive(Default)]
struct TextIndex(Mutex<Vec<(String, usize)>>);

#[connector_core::reexports::async_trait]
impl Sink for TextIndex {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for doc in documents {
            held.push((doc.id.clone(), doc.content.as_bytes().len()));
        }
        Ok(())
    }

    async fn delete(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_sink_that_cannot_take_a_spooled_body_gets_a_failure_naming_it_and_the_rest() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sink = Arc::new(TextIndex::default());
    let report = Syncer::new(Arc::new(Spooling {
        big: pattern(50_000),
    }))
    .sink(Arc::clone(&sink))
    .spool(Spool::in_dir(dir.path()))
    .run(SyncMode::Full)
    .await
    .unwrap_or_else(|e| panic!("the sync goes on: {e}"));
    let held = sink.0.lock().map(|h| h.clone()).unwrap_or_default();
    assert_eq!(held, vec![("a".to_owned(), 5), ("c".to_owned(), 5)]);
    assert_eq!((report.delivered, report.failed), (2, 1));
    let failure = &report.failures[0];
    assert_eq!(failure.id.as_deref(), Some("big"));
    assert_eq!(failure.kind, ErrorKind::Unsupported);
    assert!(failure.message.starts_with("big: "), "{}", failure.message);
    assert!(
        failure.message.contains("takes_spooled"),
        "{}",
        failure.message
    );
}
