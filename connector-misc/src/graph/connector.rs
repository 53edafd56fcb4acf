//! What the Microsoft Graph sources' connectors share beside their config: their partition
//! keys, the error `check()` answers for what the config names and cannot be found, and the
//! delta positions a finished run carries over to the next.

use std::collections::BTreeMap;

#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
use connector_core::FieldError;
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
use connector_core::http::HttpClientBuilder;
use connector_core::{Error, Failure, Result};

/// Requests a second a SharePoint or OneDrive source sends by default: SharePoint budgets an
/// app's calls per tenant in resource units a minute and a day, by the tenant's licences
/// (1,200 a minute and 1,200,000 a day below 1,000 licences, up to 6,000 and 6,000,000 above
/// 50,000); a delta page with a token or a download costs 1, a listing without a token 2, a
/// permissions read 5. 6 a second with permissions read is about 1,100 units a minute: under
/// the smallest tenant's minute budget, but over its day's (833 a minute on average), so a
/// sync of a small tenant running flat out for more than about 18 hours meets 429s until the
/// day's budget frees (they are waited out, the run goes on slower). When SharePoint says
/// the minute's budget is nearly spent (`RateLimit-Remaining`), the client waits for its
/// reset ([`GraphClient`](super::GraphClient)). The limit and SharePoint's 429s are shared
/// by every worker of one app and tenant: the rate gate's key is the tenant and client id,
/// whether the app signs in with a secret or a certificate.
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) const FILES_REQUESTS_PER_SECOND: u32 = 6;

/// The most `requests_per_second` may be.
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
const MAX_REQUESTS_PER_SECOND: u32 = 1000;

/// The HTTP client tuned to `requests_per_second` (0: no limit of the connector's own, only
/// Graph's 429s are waited out). A JSON batch takes a permit per member.
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) fn per_second(
    requests_per_second: u32,
) -> impl FnOnce(HttpClientBuilder) -> HttpClientBuilder {
    move |b| match std::num::NonZeroU32::new(requests_per_second) {
        Some(n) => b.rate_limit(n, std::time::Duration::from_secs(1)),
        None => b,
    }
}

/// The problem of a `requests_per_second` setting over [`MAX_REQUESTS_PER_SECOND`].
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) fn per_second_problem(requests_per_second: u32) -> Option<FieldError> {
    (requests_per_second > MAX_REQUESTS_PER_SECOND).then(|| {
        FieldError::new(
            "requests_per_second",
            format!("is at most {MAX_REQUESTS_PER_SECOND} (0: no limit)"),
        )
    })
}

/// The default `requests_per_second` of SharePoint and OneDrive.
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) fn files_requests_per_second() -> u32 {
    FILES_REQUESTS_PER_SECOND
}

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
