//! [`BitbucketCheckpoint`]: the repositories still to read and Bitbucket's own `next` link
//! within the current one.

use std::collections::BTreeMap;

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
    /// The users who may read it (`bitbucket-user:{account_id}`, from the effective
    /// permissions of `workspaces/{workspace}/permissions/repositories/{slug}`), once read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Read without the run's time window: the repository is new to the scope, or who may
    /// read it changed since the last run, so its old pull requests are read too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole: bool,
}

/// Where a resumed Bitbucket sync starts: the repositories left (the current one first) and
/// the `next` link Bitbucket gave for the current one's pull requests.
///
/// The repository list is taken once, when the run starts, so a repository created during the
/// run waits for the next one; the `next` link is Bitbucket's own, used as it was given.
///
/// JSON: `{"started": true, "repos": [{"slug": "api", "private": true}], "next": "https://api.bitbucket.org/2.0/repositories/acme/api/pullrequests?page=2&...", "seen": {"web": "…"}}`.
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
    /// The repositories the last finished run read, each with a hash of who may read it
    /// (carried over to the next incremental run); none: no such run is known, and every
    /// repository is read within the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<BTreeMap<String, String>>,
    /// The repositories this run has read so far, each with a hash of who may read it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<String, String>,
}

impl BitbucketCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from after a run that ended at `self`: the
    /// repositories it read and their access, so one new to the scope, or whose access
    /// changed (made private, a grant removed), is read whole rather than within the window.
    pub fn carried(&self) -> Self {
        Self {
            known: Some(self.seen.clone()),
            ..Self::default()
        }
    }
}
