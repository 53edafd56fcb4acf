//! [`GithubCheckpoint`]: the scopes and repositories done, and a keyset position within the
//! current repository.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What part of a repository is being read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Issues and pull requests.
    #[default]
    Issues,
    /// In an incremental run, the issues and pull requests whose change the issues endpoint's
    /// `updated_at` missed: a review, a review comment, an edited comment.
    Activity,
    /// Code files.
    Code,
}

/// Where a resumed read of one repository starts.
///
/// Issues are read oldest update first with `since`, so the position is a key (the
/// `updated_at` of the last item handed on, and the numbers handed on at that second), not an
/// offset: an item updated meanwhile moves behind the position and is read again, and nothing
/// shifts into the part already read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RepoCursor {
    /// `owner/name`.
    pub repo: String,
    /// The part being read.
    #[serde(default)]
    pub stage: Stage,
    /// The `updated_at` of the last issue or pull request handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// The numbers handed on that were updated at `since`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<u64>,
    /// A `Link` to follow instead of `since` (only while more than a page of items share one
    /// second of `updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Read without the run's window: the repository is new in scope, or who may read it
    /// changed, since the last run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole: bool,
    /// The number of the last item handed on in the [`Stage::Activity`] stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_number: Option<u64>,
    /// The commit whose files are read (code stage), so a resumed read sees the same tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The path of the last code file handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_path: Option<String>,
}

/// Where a resumed GitHub sync starts.
///
/// JSON: `{"scopes_done": ["acme/api"], "after_repo": "acme/docs", "current": {"repo":
/// "acme/web", "stage": "issues", "since": "2026-01-05T10:00:00Z", "seen": [17]}}`.
///
/// A checkpoint inside a scope stays small however many repositories the scope holds: the
/// repositories done are a position in the scope's listing (sorted by full name), and the map
/// of who may read each repository walked ([`known`](Self::known)) is written at each scope's
/// end only (carried, every checkpoint of an organisation of R repositories held up to R
/// entries: O(R²) bytes in a run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GithubCheckpoint {
    /// Scopes (partition keys: `owner/name` or `owner`) read to the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_done: Vec<String>,
    /// The full name of the last repository of the current scope read to the end: the scope's
    /// repositories are walked in order of full name, so those up to it are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_repo: Option<String>,
    /// Repositories of the current scope read to the end, as checkpoints written before
    /// [`after_repo`](Self::after_repo) name them: read, never written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repos_done: Vec<String>,
    /// The repository being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<RepoCursor>,
    /// Who may read each repository walked (`owner/name` → a hash of its access), carried to
    /// the next incremental run: a repository it does not hold (new in scope: created,
    /// transferred in, newly granted to the token) or holds with another access (made
    /// private, a collaborator removed) is read whole, not only its window. Written at the
    /// end of each scope, not inside one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub known: BTreeMap<String, String>,
    /// A checkpoint inside a scope of a run that had [`known`](Self::known) from the run
    /// before: a run resumed from it has lost that map, so it reads the rest of its
    /// repositories whole in a window (what the map would have spared is not known), and the
    /// next run those walked before the resume (they are not in the map it carries).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known_left_out: bool,
}

impl GithubCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
