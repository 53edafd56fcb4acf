//! [`LocalCheckpoint`] and the walk order it relies on.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// Where a resumed local sync starts: after the relative path of the last file of the last
/// acknowledged page, in walk order.
///
/// Walk order compares relative paths folder by folder (`a/x` before `a.txt`, because the
/// folder `a` sorts before the file `a.txt`), which is exactly the depth-first order of a walk
/// that sorts each folder by name. A file added behind the checkpoint during an interrupted
/// sync is picked up by the next run, never lost: the resumed run keeps its window.
///
/// JSON: `{"after": "docs/guide.md"}`, or `{"after": null}` for a sync that has not started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LocalCheckpoint {
    /// The relative path (the document id) of the last file done, `None` before the first.
    pub after: Option<String>,
}

impl LocalCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// The checkpoint after the file with relative path `id`.
    pub fn after(id: impl Into<String>) -> Self {
        Self {
            after: Some(id.into()),
        }
    }
}

/// Compares two relative paths (document ids) in walk order: folder by folder, each name by
/// its bytes, as the walk sorts them.
pub(crate) fn walk_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Whether the folder `dir` and everything under it come before `after` in walk order, so a
/// resumed walk need not enter it.
pub(crate) fn folder_done(dir: &str, after: &str) -> bool {
    let mut dir_parts = dir.split('/');
    let mut after_parts = after.split('/');
    loop {
        match (dir_parts.next(), after_parts.next()) {
            // `after` is inside `dir` (or is `dir`): the folder still holds later files.
            (None, _) => return false,
            // `dir` is deeper than `after` but shares all of `after`: it comes after `after`.
            (Some(_), None) => return false,
            (Some(d), Some(a)) => match d.cmp(a) {
                Ordering::Equal => {}
                Ordering::Less => return true,
                Ordering::Greater => return false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_sort_before_their_siblings_with_suffixes() {
        let mut ids = vec!["a.txt", "a/x", "b", "a/b/c", "a-b", "Z"];
        ids.sort_by(|a, b| walk_order(a, b));
        assert_eq!(ids, vec!["Z", "a/b/c", "a/x", "a-b", "a.txt", "b"]);
    }

    #[test]
    fn folder_done_only_when_entirely_before() {
        assert!(folder_done("a", "b/c"));
        assert!(folder_done("a/b", "a/c"));
        assert!(!folder_done("a", "a/c"));
        assert!(!folder_done("a/c", "a/c"));
        assert!(!folder_done("a/c/d", "a/c"));
        assert!(!folder_done("b", "a/z"));
    }
}
