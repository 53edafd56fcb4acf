//! [`DriveCheckpoint`]: Graph's own delta links, per drive.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What the link of a [`DriveCursor`] lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// A whole drive, from its first delta page; in a windowed run only files whose
    /// `lastModifiedDateTime` is in the window are taken.
    #[default]
    Listing,
    /// The changes since the delta link the last finished run ended on: every changed file is
    /// taken, whatever the window.
    Changes,
    /// A whole drive again because Graph answered `410 Gone` to a delta link, or a drive no
    /// earlier run finished while others carry their links: every file is taken (unchanged
    /// ones cost no download).
    Relisting,
}

/// The drive being read and the link of its next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriveCursor {
    /// The drive id.
    pub drive: String,
    /// The page to read next (a `@odata.nextLink`, or the round's first URL).
    pub next: String,
    /// What the link lists.
    #[serde(default)]
    pub phase: Phase,
}

/// Where a resumed walk of drives starts: the drives finished in this run (with the
/// `@odata.deltaLink` each round ended on), the drive being read and its next page, and the
/// delta links of the last finished run that this run's rounds start from. OneDrive's
/// checkpoint, and the drive part of SharePoint's.
///
/// A page handed on in parts keeps its own link until its last part: a resumed run reads
/// that page again and the files already delivered are unchanged by their fingerprint (no
/// download). Duplicates, never a loss.
///
/// With a folder scope (`folder_path`), the ids of the folders inside it are kept per drive
/// (`folders`): a round of changes lists a folder moved into or out of the scope, but not the
/// files below it, and only this set tells a move across the scope's edge from a folder that
/// was always on one side.
///
/// A delta link of `done` and `since` is kept as its token alone when it is Graph's usual
/// `…/drives/{drive}/root/delta?token=…` (the drive id is the key), else whole; both forms
/// are read.
///
/// JSON: `{"done": {"b!1": "aTE09NjM4…"}, "current": {"drive": "b!2",
/// "next": "https://graph…/delta?token=…", "phase": "listing"}, "since": {…}, "folders":
/// {"b!1": ["01F…"]}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriveCheckpoint {
    /// Drives finished in this run, with the delta link their round ended on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub done: BTreeMap<String, String>,
    /// The drive being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<DriveCursor>,
    /// The delta links the last finished run ended on, by drive: this run's rounds start there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, String>,
    /// The folders inside the folder scope, by drive (kept only with a folder scope).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub folders: BTreeMap<String, BTreeSet<String>>,
    /// The tenant id the access keys (`tenant:{id}`) of the files behind `since` and `done`
    /// were delivered with; absent in a checkpoint of a release that did not record it (whose
    /// keys named the config's `tenant_id` as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Drives whose last links were made under another tenant key (see `tenant`), not yet
    /// listed again under this one: each is listed whole once (`Phase::Relisting`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub rekey: BTreeSet<String>,
}

impl DriveCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the delta links this one ended on (and,
    /// for a drive it did not finish, the one it started from), and the folders in scope.
    pub(crate) fn carried(&self) -> Option<Self> {
        let since = crate::graph::carried(&self.since, &self.done).unwrap_or_default();
        let rekey: BTreeSet<String> = self
            .rekey
            .iter()
            .filter(|d| !self.done.contains_key(*d))
            .cloned()
            .collect();
        (!since.is_empty() || !rekey.is_empty()).then(|| Self {
            since,
            folders: self.folders.clone(),
            tenant: self.tenant.clone(),
            rekey,
            ..Self::default()
        })
    }

    /// Starts a run whose access keys name `tenant`: when the links carried were made under
    /// another key (an earlier release keyed `tenant:{configured name}`, the config's
    /// `tenant_id` changed), every drive of them is marked to be listed whole once.
    ///
    /// Why a relisting rather than both keys for a while: a round of changes never reads
    /// a file that did not change, so a file delivered under the old key would keep it
    /// until edited (org-wide sharing then fails closed, silently); and sending both keys
    /// would grant on the strength of a name the host may map to another directory, with no
    /// end to the transition. A relisting costs one delta listing per drive: the version of a
    /// document hashes its access, so only files whose key changed are delivered again (no
    /// download for the others), under the tenant's GUID alone.
    pub(crate) fn rekey_for(&mut self, tenant: &str, configured: &str) {
        let before = self.tenant.as_deref().unwrap_or(configured);
        if before != tenant {
            self.rekey.extend(self.since.keys().cloned());
        }
        self.tenant = Some(tenant.to_owned());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn with_links(drives: &[&str]) -> DriveCheckpoint {
        let mut cp = DriveCheckpoint::start();
        for d in drives {
            cp.since
                .insert((*d).to_owned(), format!("https://graph/delta?token={d}"));
        }
        cp
    }

    #[test]
    fn links_of_a_release_that_keyed_the_configured_name_are_listed_whole_once() {
        // Written before the tenant was recorded, its keys `tenant:contoso.onmicrosoft.com`;
        // the token's `tid` now gives the GUID.
        let mut cp = with_links(&["b!1", "b!2"]);
        cp.rekey_for(GUID, "contoso.onmicrosoft.com");
        assert_eq!(cp.tenant.as_deref(), Some(GUID));
        assert_eq!(cp.rekey.iter().collect::<Vec<_>>(), ["b!1", "b!2"]);
        // A run that finished only b!1: b!2 is still to be listed whole, by the next run too.
        cp.done
            .insert("b!1".into(), "https://graph/delta?token=new".into());
        let next = cp.carried().unwrap();
        assert_eq!(next.rekey.iter().collect::<Vec<_>>(), ["b!2"]);
        assert_eq!(next.tenant.as_deref(), Some(GUID));
        let mut again = next.clone();
        again.rekey_for(GUID, "contoso.onmicrosoft.com");
        assert_eq!(again, next, "marked once, not again");
    }

    #[test]
    fn the_same_key_lists_nothing_whole() {
        // Recorded, or configured as the GUID itself: the keys did not change.
        let mut cp = with_links(&["b!1"]);
        cp.rekey_for(GUID, GUID);
        assert!(cp.rekey.is_empty());
        cp.tenant = Some(GUID.to_owned());
        cp.rekey_for(GUID, "contoso.onmicrosoft.com");
        assert!(cp.rekey.is_empty());
    }
}
