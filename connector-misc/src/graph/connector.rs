//! What the Microsoft Graph sources' connectors share beside their config: their partition
//! keys, the error `check()` answers for what the config names and cannot be found, and the
//! delta positions a finished run carries over to the next.

use std::collections::BTreeMap;

use connector_core::{Error, Failure, Result};

/// A partition per key, when there are several (one key, or none, is the whole config: no
/// partitions).
pub(crate) fn partitions(keys: impl IntoIterator<Item = String>) -> Vec<String> {
    let keys: Vec<String> = keys.into_iter().collect();
    if keys.len() > 1 { keys } else { Vec::new() }
}

/// What `check()` answers for the failures of resolving what the config names: the first as
/// the error of `source` (naming `field`, the setting that named the item, when given), or
/// `Ok` with none.
///
/// # Errors
/// The first of `failures`, with its kind and message.
pub(crate) fn first_failure(
    source: &'static str,
    failures: Vec<Failure>,
    field: Option<&'static str>,
) -> Result<()> {
    let Some(f) = failures.into_iter().next() else {
        return Ok(());
    };
    let error = Error::new(f.kind, f.message).with_connector(source);
    Err(match field {
        Some(field) => error.with_field(field),
        None => error,
    })
}

/// The positions the next incremental run starts from: those this run started from
/// (`since`), each replaced by the one its round ended on where this run finished it (`done`);
/// `None` when there are none (the next run reads everything).
pub(crate) fn carried<V: Clone>(
    since: &BTreeMap<String, V>,
    done: &BTreeMap<String, V>,
) -> Option<BTreeMap<String, V>> {
    let mut since = since.clone();
    since.extend(done.clone());
    (!since.is_empty()).then_some(since)
}
