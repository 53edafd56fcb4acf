//! The progress bar on a terminal, and a log writer that does not tear it.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use connector_core::sync::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;

/// The bar of the running sync, shared with the log writer so log lines are printed above it.
#[derive(Clone, Default)]
pub(crate) struct BarSlot(Arc<OnceLock<ProgressBar>>);

impl BarSlot {
    /// Starts a spinner on stderr when stderr is a terminal; does nothing otherwise, so logs
    /// and CI output stay plain text.
    pub(crate) fn start(&self, source: &str) -> Option<ProgressBar> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(source.to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        // A second sync in one process never happens; if it did, it would run without a bar.
        self.0.set(bar.clone()).ok()?;
        Some(bar)
    }

    fn bar(&self) -> Option<&ProgressBar> {
        self.0.get()
    }
}

/// Updates the bar from the batch loop's counters.
pub(crate) fn show(bar: &ProgressBar, p: &Progress, started: std::time::Instant) {
    let secs = started.elapsed().as_secs_f64();
    let seen = p.new + p.updated + p.unchanged + p.failed;
    let rate = if secs > 0.0 { seen as f64 / secs } else { 0.0 };
    bar.set_message(format!(
        "{seen} seen ({} new, {} updated, {} unchanged, {} failed), {} delivered, {} pages, {rate:.0} docs/s",
        p.new, p.updated, p.unchanged, p.failed, p.delivered, p.pages
    ));
}

/// Writes log lines to stderr, above the progress bar when there is one, without any live
/// secret.
pub(crate) struct LogWriter {
    slot: BarSlot,
    buf: Vec<u8>,
}

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        // One event per writer: no live secret (an echoed token, a query key) reaches stderr.
        let text = String::from_utf8_lossy(&buf);
        let text = connector_core::secret::redact(&text);
        let write = || std::io::stderr().lock().write_all(text.as_bytes());
        match self.slot.bar() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // tracing-subscriber writes one event per writer and drops it; nowhere to report a
        // failed write to stderr.
        let _ = self.flush();
    }
}

impl<'a> MakeWriter<'a> for BarSlot {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter {
            slot: self.clone(),
            buf: Vec::new(),
        }
    }
}
