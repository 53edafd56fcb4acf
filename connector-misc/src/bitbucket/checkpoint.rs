//! [`BitbucketCheckpoint`]: the repositories still to read and Bitbucket's own `next` link
//! within the current one.

use serde::{Deserialize, Serialize};

/// A repository of the run, as its listing showed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RepoFrame {
    /// The repository slug.
    pub slug: String,
    /// Whether only members may see it (`is_private`).
    #[serde(default)]
    pub private: bool,
    /// Its project's key, if it belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The groups that may read it (from `permissions-config/groups`), once read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Where a resumed Bitbucket sync starts: the repositories left (the current one first) and
/// the `next` link Bitbucket gave for the current one's pull requests.
///
/// The repository list is taken once, when the run starts, so a repository created during the
/// run waits for the next one; the `next` link is Bitbucket's own, used as it was given.
///
/// JSON: `{"started": true, "repos": [{"slug": "api", "private": true}], "next": "https://api.bitbucket.org/2.0/repositories/acme/api/pullrequests?page=2&..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BitbucketCheckpoint {
    /// Whether the repository list has been taken (an empty `repos` then means done).
    #[serde(default)]
    pub started: bool,
    /// The repositories left, the current one first.
    #[serde(default)]
    pub repos: Vec<RepoFrame>,
    /// The link of the current repository's next pull-request page; none: its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl BitbucketCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
