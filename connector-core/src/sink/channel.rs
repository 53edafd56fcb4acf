use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::Sink;
use crate::document::Document;
use crate::error::{Error, ErrorKind, Result};

/// Confirms (or refuses) one delivered batch. Dropping it without answering refuses the batch,
/// so a host that crashes mid-batch never acknowledges by accident.
#[derive(Debug)]
pub struct Ack(oneshot::Sender<std::result::Result<(), String>>);

impl Ack {
    /// The batch is stored: the batch loop may commit it.
    pub fn ok(self) {
        // The loop only stops waiting when it was cancelled; then nothing is committed anyway.
        let _ = self.0.send(Ok(()));
    }

    /// The batch was not stored: the sync stops with a [`ErrorKind::Sink`] error carrying
    /// `reason`.
    pub fn fail(self, reason: impl Into<String>) {
        let _ = self.0.send(Err(reason.into()));
    }
}

/// What a [`ChannelSink`] hands the host.
#[derive(Debug)]
#[non_exhaustive]
pub enum SinkEvent {
    /// Store these documents (one batch, in the source's order), then call [`Ack::ok`].
    Write(Vec<Document>, Ack),
    /// Delete these ids, then call [`Ack::ok`].
    Delete(Vec<String>, Ack),
}

/// Hands batches to the host over a bounded `tokio::mpsc` channel and waits for each to be
/// acknowledged, for hosts that embed the batch loop in their own pipeline.
///
/// ```
/// # async fn demo() {
/// use connector_core::sink::{ChannelSink, SinkEvent};
/// let (sink, mut events) = ChannelSink::new(4);
/// tokio::spawn(async move {
///     while let Some(event) = events.recv().await {
///         match event {
///             SinkEvent::Write(documents, ack) => { /* index documents */ ack.ok() }
///             SinkEvent::Delete(ids, ack) => { /* remove ids */ ack.ok() }
///             _ => {}
///         }
///     }
/// });
/// # drop(sink);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: mpsc::Sender<SinkEvent>,
}

impl ChannelSink {
    /// A sink and the receiver the host reads from; at most `capacity` batches wait unread.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<SinkEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx }, rx)
    }

    async fn send(&self, make: impl FnOnce(Ack) -> SinkEvent) -> Result<()> {
        let (ack_tx, ack_rx) = oneshot::channel();
        self.tx
            .send(make(Ack(ack_tx)))
            .await
            .map_err(|_| Error::new(ErrorKind::Sink, "the channel sink's receiver was dropped"))?;
        match ack_rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(Error::new(
                ErrorKind::Sink,
                format!("the host refused the batch: {reason}"),
            )),
            Err(_) => Err(Error::new(
                ErrorKind::Sink,
                "the host dropped the batch without acknowledging it",
            )),
        }
    }
}

#[async_trait]
impl Sink for ChannelSink {
    async fn write(&self, documents: &[Document]) -> Result<()> {
        // The host owns what it receives, so this sink copies the borrowed batch.
        let documents = documents.to_vec();
        self.send(|ack| SinkEvent::Write(documents, ack)).await
    }

    async fn delete(&self, ids: &[String]) -> Result<()> {
        let ids = ids.to_vec();
        self.send(|ack| SinkEvent::Delete(ids, ack)).await
    }
}
