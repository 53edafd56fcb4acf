//! [`LocalCheckpoint`]; the walk order it relies on is `crate::files::walk_order`.

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
