//! [`Batch::into_slim_ids`]: the ids a page lists for prune, for a connector whose listing
//! walk is its load walk without bodies.

use crate::document::{Batch, SlimDocument};
use crate::error::{Error, ErrorKind, Result};

impl Batch {
    /// The ids this page lists for prune ([`SlimConnector::list_ids`](crate::SlimConnector)),
    /// when it came from the connector's own page walk run without fetching bodies: its
    /// documents', its unchanged ids, and the ids of its items that failed as
    /// [`ErrorKind::InvalidData`] (they exist, only unreadable: prune must not delete what
    /// they were).
    ///
    /// Any other failure, or an unreadable item without an id, means the listing cannot be
    /// complete; an item missing from it would be deleted by prune, so that is an error, which
    /// makes prune refuse the listing.
    ///
    /// # Errors
    /// The first failure that leaves the listing incomplete, with its kind.
    pub fn into_slim_ids(self) -> Result<Vec<SlimDocument>> {
        let mut ids = Vec::with_capacity(self.documents.len() + self.unchanged.len());
        ids.extend(self.documents.into_iter().map(|d| SlimDocument::new(d.id)));
        ids.extend(self.unchanged.into_iter().map(SlimDocument::new));
        for failure in self.failures {
            match failure.id {
                Some(id) if failure.kind == ErrorKind::InvalidData => {
                    ids.push(SlimDocument::new(id));
                }
                _ => {
                    return Err(Error::new(
                        failure.kind,
                        format!(
                            "cannot list every id, so nothing may be pruned: {}",
                            failure.message
                        ),
                    )
                    .with_retryable(failure.retryable));
                }
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Document, Failure};

    #[test]
    fn unreadable_items_are_listed_and_unreachable_ones_end_the_listing() {
        let mut batch = Batch::default();
        batch
            .documents
            .push(Document::text("a", crate::testkit::MEMORY_SOURCE, "a", "x"));
        batch.unchanged.push("b".into());
        batch.failures.push(Failure::new(
            Some("c".into()),
            ErrorKind::InvalidData,
            "c: bad JSON",
        ));
        let ids: Vec<String> = batch
            .clone()
            .into_slim_ids()
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);

        batch.failures.push(Failure::new(
            Some("d".into()),
            ErrorKind::RateLimited,
            "d: slow down",
        ));
        let err = batch.into_slim_ids().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(err.is_retryable());
        assert!(err.to_string().contains("d: slow down"), "{err}");
    }
}
