//! [`GitlabCheckpoint`]: the projects still to read, and where the current one stands.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a listing of issues or merge requests stands, by value rather than by offset: the
/// `updated_at` of the last item handed on, and the ids of those handed on at exactly that
/// time. The next page is asked with `updated_after` set to it (GitLab's bound is inclusive)
/// and sorted by `updated_at` ascending, so an item edited meanwhile moves to the end of the
/// list instead of shifting the others under a page number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpdatedCursor {
    /// The `updated_at` of the last item handed on; none before the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<DateTime<Utc>>,
    /// GitLab ids of the items handed on whose `updated_at` is `after`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<u64>,
    /// The page at `after`, above 1 only when a whole page of items shares that `updated_at`.
    #[serde(default = "first_page")]
    pub page: u32,
}

fn first_page() -> u32 {
    1
}

impl UpdatedCursor {
    /// The first page.
    pub fn start() -> Self {
        Self {
            page: 1,
            ..Self::default()
        }
    }
}

/// What of the current project is being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// The repository tree; `next` is the keyset link (`page_token`) of the next page, none
    /// for the first.
    CodeFiles {
        /// The next tree page's URL as GitLab's `Link` header gave it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Merge requests by `updated_at`.
    MergeRequests(UpdatedCursor),
    /// Issues by `updated_at`.
    Issues(UpdatedCursor),
}

/// Where a resumed GitLab sync starts: the projects left (the current one first) and the
/// stage of the current one.
///
/// JSON: `{"started": true, "projects": ["gitlab-org/gitlab-runner"], "stage": {"stage":
/// "issues", "after": "2025-03-01T10:04:00Z", "done": [4711], "page": 1}, "seen":
/// {"gitlab-org/gitlab-mirror": "5f0c3e1a9b7d2c44:6104942438c1"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GitlabCheckpoint {
    /// Whether the projects have been listed (an empty `projects` then means the sync is done).
    #[serde(default)]
    pub started: bool,
    /// Projects left, by path with namespace; the first is the current one.
    #[serde(default)]
    pub projects: Vec<String>,
    /// The current project's stage; none: its first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// Whether `seen` was carried over from a finished run (else there is nothing to compare
    /// a project with).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carried: bool,
    /// What the runs saw of each project done, by path: `{readers}:{head}`, a fingerprint of
    /// who may read what in it (visibility, feature levels, members and roles) and the head
    /// commit of its ref, shortened. Carried over to the next incremental run, which reads
    /// a project whole when its readers changed (no item's `updated_at` moves when a project
    /// is made private) or it was not read before (new to the group), and its tree when the
    /// head commit is another one. About 60 bytes a project.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<String, String>,
}

impl GitlabCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from after a run that ended at `self`: the
    /// start, with what this run saw of each project.
    pub fn carried(&self) -> Self {
        Self {
            carried: true,
            seen: self.seen.clone(),
            ..Self::start()
        }
    }

    /// The current project is done: the next one starts, and what was seen of this one
    /// (none when it could not be read) is recorded.
    pub(crate) fn finish_project(&mut self, seen: Option<String>) {
        if self.projects.is_empty() {
            return;
        }
        let path = self.projects.remove(0);
        self.stage = None;
        match seen {
            Some(seen) => {
                self.seen.insert(path, seen);
            }
            None => {
                self.seen.remove(&path);
            }
        }
    }
}
