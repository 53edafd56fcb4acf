//! What the CLI tells a person on stderr: the summary of a sync, its failures, and errors.

use std::fmt::Write as _;

use connector_core::sync::SyncReport;
use connector_core::{Error, ErrorKind};

/// Failures listed one by one; past this many only their number is shown (the state file
/// and the logs keep them all).
const LISTED_FAILURES: usize = 50;

/// One summary line, then the failures, one per line.
pub(crate) fn summary(report: &SyncReport, target: &str) -> String {
    let mut out = format!(
        "{} sync of `{}`: {} new, {} updated, {} unchanged, {} failed, {} deleted; {} delivered to {target} in {:.2?} ({:.0} docs/s)",
        report.mode,
        report.source,
        report.new,
        report.updated,
        report.unchanged,
        report.failed,
        report.deleted,
        report.delivered,
        report.duration,
        report.docs_per_second(),
    );
    if report.gone > 0 {
        let _ = write!(
            out,
            "\n  gone: {} listed items were deleted in the source before they could be read (no failure; prune removes what is left of them)",
            report.gone
        );
    }
    for failure in report.failures.iter().take(LISTED_FAILURES) {
        let id = failure.id.as_deref().unwrap_or("(no id)");
        let _ = write!(out, "\n  failed: {id} [{}]: {failure}", failure.kind);
    }
    if report.failures.len() > LISTED_FAILURES {
        let _ = write!(
            out,
            "\n  ... and {} more failures",
            report.failures.len() - LISTED_FAILURES
        );
    }
    out
}

/// An error as the CLI prints it: every config problem on its own line, else the message and
/// its chain of causes.
pub(crate) fn error(err: &Error) -> String {
    if err.kind() == ErrorKind::Config && !err.problems().is_empty() {
        let source = err
            .connector()
            .map(|s| format!(" of `{s}`"))
            .unwrap_or_default();
        let mut out = format!("error: invalid configuration{source}:");
        for problem in err.problems() {
            let path = if problem.path.is_empty() {
                "(config)"
            } else {
                &problem.path
            };
            let _ = write!(out, "\n  {path}: {}", problem.message);
        }
        return out;
    }
    let mut out = format!("error: {err}");
    if err.kind() == ErrorKind::Cancelled || err.kind() == ErrorKind::Timeout {
        out.push_str("\n  everything acknowledged so far is kept; with --state, run again with the same state file to resume");
    }
    // `Display` already shows the direct cause; show what lies under it.
    let mut cause = std::error::Error::source(err).and_then(std::error::Error::source);
    while let Some(c) = cause {
        let _ = write!(out, "\n  caused by: {c}");
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::FieldError;

    #[test]
    fn config_errors_list_every_field() {
        let err = Error::config(vec![
            FieldError::new("path", "is required"),
            FieldError::new("max_file_size", "expected an integer"),
        ])
        .with_connector("local");
        let shown = error(&err);
        assert!(
            shown.starts_with("error: invalid configuration of `local`:"),
            "{shown}"
        );
        assert!(shown.contains("\n  path: is required"), "{shown}");
        assert!(
            shown.contains("\n  max_file_size: expected an integer"),
            "{shown}"
        );
    }
}
