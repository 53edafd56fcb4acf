//! Titles a person can tell apart: an object's file name, or, where several objects under the
//! prefix share that name, its path relative to the prefix with ` / ` between the folders
//! (`2026 / q1 / report.pdf`), exactly as RAGFlow's `_get_semantic_id` builds its
//! `semantic_identifier`. The key itself is always in the document's metadata.
//!
//! Whether a name repeats is a fact of the whole listing, so a stream takes a [`Census`] of
//! the file names under the prefix (one more listing, 1,000 keys a request) when its first
//! document needs a title: a run that delivers nothing (an unchanged re-sync) lists no more
//! than before. Like RAGFlow's, a title can change when another object of the same name
//! appears; an object whose ETag did not change is not delivered again for that alone. A
//! census whose listing fails is not retried by every document (nor made each document's
//! failure): the stream's titles are then file names, with a warning.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use connector_core::Result;
use connector_core::http::HttpClient;
use futures::StreamExt;
use tokio::sync::OnceCell;

use super::model::file_name;
use super::pages::{Cursor, Walk, listing};

/// Distinct file names a census counts exactly; past them (about 20 MiB of hashes), every
/// name not yet seen counts as repeated, so its title shows its path.
pub(super) const MAX_NAMES: usize = 1_000_000;

/// Keys per listing request of a census: S3's maximum, whatever `page_size` says, since a
/// census keeps names only.
const CENSUS_PAGE: usize = 1000;

/// Which file names occur more than once under the prefix. Names are kept as 64-bit hashes: a
/// collision (about one in 10^7 at a million names) only gives a unique name its path.
pub(super) struct Census {
    hasher: RandomState,
    seen: HashSet<u64>,
    repeated: HashSet<u64>,
    /// [`MAX_NAMES`] distinct names were seen: later ones were not recorded.
    full: bool,
}

impl Census {
    pub(super) fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            seen: HashSet::new(),
            repeated: HashSet::new(),
            full: false,
        }
    }

    /// Counts one more object named `name`.
    pub(super) fn add(&mut self, name: &str) {
        let hash = self.hasher.hash_one(name);
        if self.seen.contains(&hash) {
            self.repeated.insert(hash);
        } else if self.seen.len() < MAX_NAMES {
            self.seen.insert(hash);
        } else {
            self.full = true;
        }
    }

    /// Whether more than one object is named `name` (or may be, past [`MAX_NAMES`]).
    pub(super) fn repeats(&self, name: &str) -> bool {
        let hash = self.hasher.hash_one(name);
        self.repeated.contains(&hash) || (self.full && !self.seen.contains(&hash))
    }
}

/// The title of the object at `key` under `prefix`: its file name, or where that repeats its
/// path relative to `prefix`, folders separated by ` / ` (RAGFlow's `semantic_identifier`).
pub(super) fn title(key: &str, prefix: &str, census: &Census) -> String {
    let name = file_name(key);
    if !census.repeats(name) {
        return name.to_owned();
    }
    let relative = key.strip_prefix(prefix).unwrap_or(key);
    if relative.is_empty() {
        name.to_owned()
    } else {
        relative.replace('/', " / ")
    }
}

/// The titles of one stream: the census is taken once, by the first document that needs it,
/// while the other downloads of the page wait for it.
pub(super) struct Titles {
    walk: Arc<Walk>,
    http: HttpClient,
    /// `None` when the census could not be taken.
    census: OnceCell<Option<Census>>,
}

impl Titles {
    pub(super) fn new(walk: Arc<Walk>, http: HttpClient) -> Self {
        Self {
            walk,
            http,
            census: OnceCell::new(),
        }
    }

    /// The title of the object at `key`.
    pub(super) async fn of(&self, key: &str) -> String {
        let census = self
            .census
            .get_or_init(|| async {
                self.take()
                    .await
                    .inspect_err(|e| {
                        tracing::warn!(error = %e, "listing the file names for titles failed; titles are file names in this run");
                    })
                    .ok()
            })
            .await;
        match census {
            Some(census) => title(key, &self.walk.filters.prefix, census),
            None => file_name(key).to_owned(),
        }
    }

    /// Lists every key under the prefix and counts the file names of those that become
    /// documents.
    async fn take(&self) -> Result<Census> {
        let mut census = Census::new();
        let mut pages = listing(&self.walk, &self.http, Cursor::default(), Some(CENSUS_PAGE));
        while let Some(page) = pages.next().await {
            for object in &page?.items.objects {
                if self.walk.filters.accepts(&object.key) {
                    census.add(file_name(&object.key));
                }
            }
        }
        Ok(census)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(keys: &[&str]) -> Census {
        let mut c = Census::new();
        for key in keys {
            c.add(file_name(key));
        }
        c
    }

    #[test]
    fn repeated_names_get_their_relative_path_as_ragflow_writes_it() {
        let c = census(&[
            "docs/f-0000/obj-000.txt",
            "docs/f-0001/obj-000.txt",
            "docs/readme.md",
        ]);
        assert_eq!(
            title("docs/f-0000/obj-000.txt", "docs/", &c),
            "f-0000 / obj-000.txt"
        );
        assert_eq!(
            title("docs/f-0001/obj-000.txt", "docs/", &c),
            "f-0001 / obj-000.txt"
        );
        assert_eq!(title("docs/readme.md", "docs/", &c), "readme.md");
        // Without a prefix, the whole key.
        assert_eq!(
            title("docs/f-0000/obj-000.txt", "", &c),
            "docs / f-0000 / obj-000.txt"
        );
    }

    #[test]
    fn a_full_census_shows_the_path_of_names_it_could_not_count() {
        let mut c = census(&["a/x.md"]);
        c.full = true;
        assert!(!c.repeats("x.md"), "counted, and seen once");
        assert!(c.repeats("never-counted.md"));
    }
}
