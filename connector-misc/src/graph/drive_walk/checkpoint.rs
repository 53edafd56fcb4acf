//! [`DriveCheckpoint`]: Graph's own delta links, per drive, or (past [`COMPACT_ABOVE`]
//! drives) one time the drives of a set were delivered up to.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Drives a walk keeps a delta link each for; past this many it keeps the compact form
/// (see [`DriveCheckpoint`]): 16 links of ~300 bytes stay under 5 KB.
pub(crate) const COMPACT_ABOVE: usize = 16;

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
/// **Compact form** (a walk of more than 16 drives, such as every site of a
/// tenant as one job: 10,000 sites of 2-3 libraries made every page's checkpoint ~10 MB of
/// links; review-sharepoint #7). The checkpoint holds the position and no link per drive:
/// - the drives are read in the order of their ids, and `after` is the last one finished
///   (or passed over): a resumed run starts past it, repeating none;
/// - `run` is when this run started (less ten minutes for clock
///   skew) and `finished` the set of drives it read to their end: their changes up to `run`
///   are delivered. The next run takes them as `known` with `stamp` = that time, and starts
///   each known drive's round from Graph's timestamp token (`delta?token={time}`, which
///   Graph documents for OneDrive for Business and SharePoint when the delta link is not
///   known, while advising the real delta link when possible; whether such a round reports
///   deletions and sharing changes is not documented, and prune covers deletions: see the
///   drive walk's notes on timestamp tokens): changes from a few minutes before the last run come
///   again, unchanged ones cost no download (their version);
/// - a drive not known (new, or not finished by the last run) is listed whole, as in the
///   link form; one that was known and is not finished by this run (a failure) keeps its
///   start in `since`, an exception the size of the failures.
///
/// The sets are exact ([`DriveSet`]: a 64-bit hash a drive, ~10.7 KB of base64 for 1,000
/// drives): a drive no finished run read is never taken as known, so it is always listed
/// whole. A run's first checkpoints hold `finished` alone; an incremental run's hold `known`
/// too (~21 KB for 1,000 drives, ~0.5 MB for 25,000, against ~10 MB of links before).
///
/// JSON: `{"done": {"b!1": "aTE09NjM4…"}, "current": {"drive": "b!2",
/// "next": "https://graph…/delta?token=…", "phase": "listing"}, "since": {…}, "folders":
/// {"b!1": ["01F…"]}}`; compact: `{"stamp": "2026-03-01T00:00:00Z", "known": "h64:AAj…",
/// "run": "…", "finished": "h64:…", "after": "b!…", "current": {…}}`.
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
    /// Compact form: the time the drives of [`known`](Self::known) were delivered up to (the
    /// start of the last run that finished them).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "connector_core::time::de_utc_option"
    )]
    pub stamp: Option<DateTime<Utc>>,
    /// Compact form: the drives read to their end by the run of [`stamp`](Self::stamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<DriveSet>,
    /// Compact form: when this run started (less the margin); what its finished drives are
    /// delivered up to.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "connector_core::time::de_utc_option"
    )]
    pub run: Option<DateTime<Utc>>,
    /// Compact form: the drives this run read to their end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<DriveSet>,
    /// Compact form: the last drive (in the order of ids) this run finished or passed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// A set of drive ids, exact: the sorted, distinct 64-bit hashes of the ids (the first half
/// of core's [`hash128`](connector_core::ids::hash128), XXH3-128), whatever the ids' length.
///
/// Exact, unlike the Bloom filter it replaces (a false positive made a new drive count as
/// known, so its files older than the stamp were silently missed until a full run): two ids
/// of one tenant share a hash with a chance of about n²/2⁶⁵ (2e-11 for 25,000 libraries),
/// which is negligible next to any other cause of loss.
///
/// JSON: `"h64:"` and the hashes packed big-endian in unpadded base64, 10.7 characters a
/// drive (~10.7 KB for 1,000 drives; a JSON array of numbers takes ~20). A string without
/// that prefix is a set of the Bloom filter release (an hour old, never released) and reads
/// as the empty set: every drive of it is listed whole once, none taken as known by mistake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriveSet {
    /// Sorted, without repeats.
    hashes: Vec<u64>,
}

/// The 64-bit hash of an id in the compact checkpoints (drives here, sites in SharePoint's
/// pages part): the first half of core's [`hash128`](connector_core::ids::hash128), XXH3-128.
pub(crate) fn hash64(id: &str) -> u64 {
    let hex = connector_core::ids::hash128(id);
    // 32 hex digits: the first 16 always parse.
    hex.get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_default()
}

/// What the JSON form of a [`DriveSet`] starts with.
const SET_PREFIX: &str = "h64:";

impl DriveSet {
    /// An empty set with room for `drives` drives.
    pub(crate) fn with_capacity(drives: usize) -> Self {
        Self {
            hashes: Vec::with_capacity(drives),
        }
    }

    /// The 64-bit hash of a drive id.
    fn hash(drive: &str) -> u64 {
        hash64(drive)
    }

    /// Adds `drive`.
    pub(crate) fn insert(&mut self, drive: &str) {
        let hash = Self::hash(drive);
        if let Err(at) = self.hashes.binary_search(&hash) {
            self.hashes.insert(at, hash);
        }
    }

    /// Whether `drive` was added.
    pub(crate) fn contains(&self, drive: &str) -> bool {
        self.hashes.binary_search(&Self::hash(drive)).is_ok()
    }
}

impl Serialize for DriveSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self.hashes.iter().flat_map(|h| h.to_be_bytes()).collect();
        let mut text = String::with_capacity(SET_PREFIX.len() + bytes.len() * 4 / 3 + 4);
        text.push_str(SET_PREFIX);
        base64::engine::general_purpose::STANDARD_NO_PAD.encode_string(&bytes, &mut text);
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for DriveSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let Some(packed) = text.strip_prefix(SET_PREFIX) else {
            // A Bloom filter of the release before: read as no drive known (see DriveSet).
            return Ok(Self::default());
        };
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(packed.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("a drive set is not base64: {e}")))?;
        let (chunks, rest) = bytes.as_chunks::<8>();
        if !rest.is_empty() {
            return Err(serde::de::Error::custom(format!(
                "a drive set of {} bytes is not a whole number of 8-byte hashes",
                bytes.len()
            )));
        }
        let mut hashes: Vec<u64> = chunks.iter().map(|c| u64::from_be_bytes(*c)).collect();
        // Written sorted; sorted again so that a set edited by hand still answers right.
        hashes.sort_unstable();
        hashes.dedup();
        Ok(Self { hashes })
    }
}

impl DriveCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the delta links this one ended on (and,
    /// for a drive it did not finish, the one it started from), and the folders in scope.
    pub(crate) fn carried(&self) -> Option<Self> {
        if let Some(run) = self.run {
            // Compact: the drives this run finished are delivered up to its start; the others
            // keep their exceptions.
            let finished = self.finished.clone();
            let rekey = self
                .rekey
                .iter()
                .filter(|d| !finished.as_ref().is_some_and(|f| f.contains(d)))
                .cloned()
                .collect();
            return Some(Self {
                since: self.since.clone(),
                stamp: Some(run),
                known: finished,
                folders: self.folders.clone(),
                tenant: self.tenant.clone(),
                rekey,
                ..Self::default()
            });
        }
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
            // Compact: no drive is known any more, so each is listed whole once.
            self.known = None;
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
    fn a_drive_set_is_exact_and_round_trips_through_json() {
        // The Bloom filter it replaces answered ~0.07% of unknown drives as known: ~70 here.
        let mut set = DriveSet::with_capacity(50_000);
        for n in 0..50_000 {
            set.insert(&format!("b!known-{n}"));
        }
        set.insert("b!known-7");
        assert_eq!(set.hashes.len(), 50_000);
        assert!((0..50_000).all(|n| set.contains(&format!("b!known-{n}"))));
        assert!(!(0..100_000).any(|n| set.contains(&format!("b!new-{n}"))));
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.starts_with("\"h64:"), "{}", &json[..20]);
        // 8 bytes a drive in base64: 10.7 characters.
        assert!(json.len() < 50_000 * 11, "{} bytes", json.len());
        assert_eq!(serde_json::from_str::<DriveSet>(&json).unwrap(), set);
        let empty = serde_json::to_string(&DriveSet::default()).unwrap();
        assert_eq!(empty, "\"h64:\"");
        assert_eq!(
            serde_json::from_str::<DriveSet>(&empty).unwrap(),
            DriveSet::default()
        );
    }

    #[test]
    fn a_bloom_set_of_the_release_before_knows_no_drive_and_a_broken_set_is_an_error() {
        // Every bit set: the old filter answered yes to every drive; read now as empty, so
        // each drive of it is listed whole rather than from the stamp.
        let bloom: DriveSet = serde_json::from_str("\"/////////////w\"").unwrap();
        assert!(!bloom.contains("b!1"));
        assert!(serde_json::from_str::<DriveSet>("\"h64:AAAA\"").is_err());
        assert!(serde_json::from_str::<DriveSet>("\"h64:not base64!\"").is_err());
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
