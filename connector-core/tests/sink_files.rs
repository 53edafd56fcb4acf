//! The file sinks are crash-consistent (issue 17): a reopened output repairs a torn last line
//! (and says so in the log), a dropped write still writes its batch whole and before the next
//! one, and the durability they acknowledge with is the documented default.
#![allow(clippy::unwrap_used)] // Test helpers outside `#[test]`: a broken setup fails loudly.

use std::io::Write;
use std::sync::{Arc, Mutex};

use connector_core::Document;
use connector_core::reexports::futures::FutureExt;
use connector_core::sink::{DirectorySink, Durability, NdjsonSink, Sink};

fn doc(id: &str, body: &str) -> Document {
    Document::text(id, "test", id, body)
}

/// The log lines written while `f` runs (warnings and above, no colours), with what `f` gave.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (log, tracing::subscriber::set_default(subscriber))
}

/// Every line of `path` parses as JSON; their ids (or `op`s), in order.
fn ids_of(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a torn tail: {text:?}"
    );
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a whole JSON line ({e}): {line:.80}"));
            value["id"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn ndjson_append_cuts_a_torn_last_line_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let sink = NdjsonSink::append(&path).await.unwrap();
    sink.write(&[doc("a", "alpha"), doc("b", "beta")])
        .await
        .unwrap();
    drop(sink);
    // The end of a process in the middle of a write: half a line, no newline.
    let torn = br#"{"id":"c","source":"test","title":"c","content":{"te"#;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(torn).unwrap();
    drop(file);

    let (log, _guard) = capture();
    let sink = NdjsonSink::append(&path).await.unwrap();
    sink.write(&[doc("c", "gamma")]).await.unwrap();
    assert_eq!(ids_of(&path), ["a", "b", "c"]);
    let log = log.text();
    assert!(
        log.contains("WARN") && log.contains(&format!("bytes={}", torn.len())),
        "{log}"
    );
    assert!(log.contains("out.ndjson"), "{log}");

    // A whole file is left as it is, and nothing is logged.
    let (log, _guard) = capture();
    drop(NdjsonSink::append(&path).await.unwrap());
    assert_eq!(ids_of(&path), ["a", "b", "c"]);
    assert_eq!(log.text(), "");
}

#[tokio::test]
async fn ndjson_a_file_of_only_a_torn_line_is_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    std::fs::write(&path, br#"{"id":"x","#).unwrap();
    let sink = NdjsonSink::append(&path).await.unwrap();
    sink.write(&[doc("y", "why")]).await.unwrap();
    assert_eq!(ids_of(&path), ["y"]);
}

/// Bodies large enough that a writer handing the file over in pieces (tokio's file writes at
/// most 2 MiB at a time) is interrupted between them.
fn large_batch() -> Vec<Document> {
    (0..3)
        .map(|i| doc(&format!("big-{i}"), &"x".repeat(3 * 1024 * 1024)))
        .collect()
}

#[tokio::test]
async fn ndjson_a_dropped_write_still_writes_its_batch_whole_and_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    for sink in [
        NdjsonSink::create(&path).await.unwrap(),
        NdjsonSink::append(&path).await.unwrap(),
    ] {
        let mut interrupted = false;
        for _ in 0..5 {
            std::fs::write(&path, b"").unwrap();
            // Polled once and dropped: what Ctrl-C or a timeout does to the sync loop's future.
            let dropped = sink.write(&large_batch()).now_or_never();
            sink.write(&[doc("after", "small")]).await.unwrap();
            assert_eq!(ids_of(&path), ["big-0", "big-1", "big-2", "after"]);
            // On a busy machine the blocking thread can finish the whole write before the one
            // poll returns (this thread preempted in between): then nothing was dropped
            // mid-write, so the case is tried again.
            if dropped.is_none() {
                interrupted = true;
                break;
            }
        }
        assert!(
            interrupted,
            "the large write finished in one poll, five times"
        );
    }
}

#[tokio::test]
async fn directory_open_cuts_a_torn_manifest_line_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sink = DirectorySink::open(dir.path()).await.unwrap();
    sink.write(&[doc("a", "alpha")]).await.unwrap();
    drop(sink);
    let manifest = dir.path().join("manifest.ndjson");
    let torn = br#"{"op":"upsert","id":"b","fi"#;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&manifest)
        .unwrap();
    file.write_all(torn).unwrap();
    drop(file);

    let (log, _guard) = capture();
    let sink = DirectorySink::open(dir.path()).await.unwrap();
    sink.write(&[doc("b", "beta")]).await.unwrap();
    sink.delete(&["a".to_owned()]).await.unwrap();
    assert_eq!(ids_of(&manifest), ["a", "b", "a"]);
    let log = log.text();
    assert!(
        log.contains(&format!("bytes={}", torn.len())) && log.contains("manifest.ndjson"),
        "{log}"
    );
    // One body left (b's), no temporary files.
    let files: Vec<String> = std::fs::read_dir(dir.path().join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, [format!("{}.md", connector_core::ids::hash128("b"))]);
}

#[tokio::test]
async fn directory_a_dropped_write_still_writes_its_batch_whole_and_first() {
    let dir = tempfile::tempdir().unwrap();
    let sink = DirectorySink::open(dir.path()).await.unwrap();
    let batch = large_batch();
    assert!(sink.write(&batch).now_or_never().is_none());
    sink.write(&[doc("after", "small")]).await.unwrap();
    let manifest = dir.path().join("manifest.ndjson");
    assert_eq!(ids_of(&manifest), ["big-0", "big-1", "big-2", "after"]);
    for d in &batch {
        let body = dir
            .path()
            .join("files")
            .join(format!("{}.md", connector_core::ids::hash128(&d.id)));
        assert_eq!(
            std::fs::metadata(&body).unwrap().len(),
            d.content.len() as u64
        );
    }
    let temporaries = std::fs::read_dir(dir.path().join("files"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        })
        .count();
    assert_eq!(temporaries, 0);
}

#[tokio::test]
async fn durability_defaults_follow_what_the_output_goes_with() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let durability = |s: &dyn std::fmt::Debug| {
        let text = format!("{s:?}");
        if text.contains("Fsync") {
            Durability::Fsync
        } else {
            assert!(text.contains("Flush"), "{text}");
            Durability::Flush
        }
    };
    // A fresh file goes with a run that keeps no state; an appended one with a durable state.
    let created = NdjsonSink::create(&path).await.unwrap();
    assert_eq!(durability(&created), Durability::Flush);
    assert_eq!(
        durability(&created.durability(Durability::Fsync)),
        Durability::Fsync
    );
    let appended = NdjsonSink::append(&path).await.unwrap();
    assert_eq!(durability(&appended), Durability::Fsync);
    assert_eq!(durability(&appended.durable(false)), Durability::Flush);
    let folder = DirectorySink::open(dir.path().join("out")).await.unwrap();
    assert_eq!(durability(&folder), Durability::Fsync);
    assert_eq!(
        durability(&folder.durability(Durability::Flush)),
        Durability::Flush
    );
    // Both write the same way whatever the choice.
    let flushed = NdjsonSink::create(dir.path().join("flushed.ndjson"))
        .await
        .unwrap();
    flushed.write(&[doc("a", "alpha")]).await.unwrap();
    assert_eq!(ids_of(&dir.path().join("flushed.ndjson")), ["a"]);
}

/// Each batch's lines are serialised into the buffer the batch before was written from: a
/// smaller batch after a larger one (or one of other documents) carries none of its bytes over,
/// whether the file is flushed or synced.
#[tokio::test]
async fn ndjson_batches_written_one_after_another_hold_only_their_own_lines() {
    for durability in [Durability::Flush, Durability::Fsync] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let sink = NdjsonSink::create(&path)
            .await
            .unwrap()
            .durability(durability);
        let big: Vec<Document> = (0..40)
            .map(|n| doc(&format!("big-{n}"), &"long body ".repeat(50)))
            .collect();
        sink.write(&big).await.unwrap();
        sink.write(&[doc("small", "x")]).await.unwrap();
        sink.write(&big[..2]).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut expected = String::new();
        for d in big.iter().chain([&doc("small", "x")]).chain(&big[..2]) {
            expected.push_str(&serde_json::to_string(d).unwrap());
            expected.push('\n');
        }
        assert_eq!(text, expected, "{durability:?}");
    }
}
