//! [`WebdavCheckpoint`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a resumed WebDAV sync starts: after the path (relative to `remote_path`) of the last
/// file of the last acknowledged page, in walk order (folder by folder, each sorted by name);
/// and the folder ETags of the last completed run and of this one, by which an incremental
/// run skips a folder in which nothing changed (see
/// [`skip_unchanged_folders`](super::WebdavConfig::skip_unchanged_folders)).
///
/// A resumed walk lists again only the folders on the way to that path and those after it;
/// folders entirely before it are not entered. A file added behind the checkpoint during an
/// interrupted sync is picked up by the next run, never lost: the resumed run keeps its window.
///
/// JSON: `{"after": "Handbook/guide.md"}`, or `{"after": null}` for a sync that has not
/// started; with folder ETags, also `"previous_folders"` and `"folders"`, each
/// `{"filter": "<hash>", "tags": {"Handbook": "\"5f3a\""}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebdavCheckpoint {
    /// The relative path of the last file done, `None` before the first.
    pub after: Option<String>,
    /// The folder ETags the last completed run recorded: a folder listed with the same ETag
    /// is not entered by an incremental run.
    #[serde(default, skip_serializing_if = "FolderTags::is_empty")]
    pub previous_folders: FolderTags,
    /// The folder ETags this run recorded so far, for the next one: a folder's ETag as its
    /// parent listed it, before its own listing; left out for a folder under which something
    /// could not be listed (so the next run lists it again).
    #[serde(default, skip_serializing_if = "FolderTags::is_empty")]
    pub folders: FolderTags,
}

/// Folder ETags by relative path, and what the walk read when they were taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FolderTags {
    /// A hash of what decides which files the walk reads (the folder, `extensions`,
    /// `allow_images`): tags taken under another are not used.
    pub filter: String,
    /// ETag by folder path relative to `remote_path`.
    pub tags: BTreeMap<String, String>,
}

impl FolderTags {
    /// Whether it holds no tag.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }
}

impl WebdavCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// The checkpoint after the file with relative path `rel`.
    pub fn after(rel: impl Into<String>) -> Self {
        Self {
            after: Some(rel.into()),
            ..Self::default()
        }
    }

    /// What the next incremental run starts from: no progress, this run's folder ETags.
    pub(crate) fn carried_over(&self) -> Self {
        Self {
            after: None,
            previous_folders: self.folders.clone(),
            folders: FolderTags::default(),
        }
    }
}
