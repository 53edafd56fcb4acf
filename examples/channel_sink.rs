//! Reading documents through the channel sink: the sync runs in its own task and hands each
//! batch over a bounded channel; the host acknowledges a batch once it has stored it, and only
//! then does the batch loop commit it.
//!
//! Run it: `cargo run --example channel_sink`.

use connectors::Result;
use connectors::sink::{ChannelSink, SinkEvent};
use connectors::sync::{SyncMode, SyncOptions, Syncer};

#[tokio::main]
async fn main() -> Result<()> {
    let registry = connectors::registry();
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data");
    let connector = registry.build("local", serde_json::json!({ "path": folder }))?;

    // Two batches in flight at most: the sync waits when the host is slower.
    let (sink, mut events) = ChannelSink::new(2);
    let sync = tokio::spawn(async move {
        Syncer::new(connector)
            .sink(sink)
            .options(SyncOptions::default().batch_docs(4))
            .run(SyncMode::Full)
            .await
    });

    let mut received = 0;
    while let Some(event) = events.recv().await {
        match event {
            SinkEvent::Write(documents, ack) => {
                for doc in &documents {
                    println!("{:>8} bytes  {}", doc.content.len(), doc.title);
                }
                received += documents.len();
                ack.ok(); // stored: the loop may commit this batch
            }
            SinkEvent::Delete(ids, ack) => {
                println!("delete {ids:?}");
                ack.ok();
            }
            // A kind of event added later: dropping it unacknowledged fails that step, so the
            // batch loop commits nothing for it and tries again next run.
            _ => {}
        }
    }
    let report = sync
        .await
        .map_err(|e| connectors::Error::new(connectors::ErrorKind::Internal, e.to_string()))??;
    println!(
        "{received} documents received; the sync says {} new",
        report.new
    );
    Ok(())
}
