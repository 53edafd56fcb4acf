//! [`SharepointCheckpoint`]: the document libraries' delta links, then the site pages read.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::graph::DriveCheckpoint;
use crate::graph::drive_walk::hash64;

/// The site whose pages are being read and the link of the next listing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PagesCursor {
    /// The site id.
    pub site: String,
    /// The listing page to read next.
    pub next: String,
    /// The listing is read without canvases (Graph refused to expand them), each page then
    /// asked for with its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bare: bool,
}

/// The list whose items are being read (`include_lists`). Sites are read in the order of
/// their ids and a site's lists in the order of theirs, so the cursor alone says which are
/// done: those before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListsCursor {
    /// The site id.
    pub site: String,
    /// The list id.
    pub list: String,
    /// The page of items to read next; absent: the list is read to its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Where a resumed SharePoint sync starts: the drive walk of the sites' document libraries
/// (the delta link of each, [`DriveCheckpoint`], carried to the next incremental run), then
/// the sites whose pages were read in this run and the page listing being read.
///
/// Pages have no delta query, so the ids of each site's pages listed by the last whole
/// listing are carried to the next run (`pages_known`, Graph's page GUIDs, about 37 bytes a
/// page): a page listed then and not now was deleted, and is reported so when that run's
/// listing of the site ends.
///
/// **Compact form** (a job of more than 16 sites, such as every site of a tenant: the same
/// threshold as the libraries' compact form, review-sharepoint #7 and s39 #1). The position
/// and the ids carried no longer grow by a site id and 37 bytes a page:
/// - the sites' pages are read in the order of the site ids, and `pages_after` is the last
///   site finished (or passed over after a failure): a resumed run starts past it, and no set
///   of the sites done (`pages_done`, ~100 bytes a site) is kept;
/// - the pages each site's last listing returned go to `pages_packed` ([`KnownPages`]): the
///   site by a 64-bit hash of its id (the run knows the id of the site it lists, so the hash
///   finds its entry), each page by its GUID as 16 bytes. A deletion is reported by the
///   page's document id, `sharepoint:page:{site id}:{page id}`, so the page's id must come
///   back whole: a hash of it would tell that a page is gone, not which id to delete. About
///   21 characters a page and 13 a site, against 39 a page and ~100 a site: measured on 1,000
///   sites of 5 pages, 296 KB of JSON become 119 KB (0.40x); of 1 page, 140 KB become 33 KB
///   (0.24x). Page ids
///   that are not lower-case GUIDs (never seen from Graph) keep their site in `pages_known`.
///
/// Checkpoints of the form before load as they are: `pages_done` is still honoured and each
/// site of `pages_known` moves to the packed form when its next listing ends.
///
/// JSON: the drive walk's fields, plus `{"pages_done": ["contoso.sharepoint.com,…,…"],
/// "pages": {"site": "…", "next": "https://graph…/pages/microsoft.graph.sitePage?…"},
/// "pages_known": {"contoso.sharepoint.com,…,…": ["5f0a…", …]}, "pages_listed": ["…"]}`;
/// compact: `{"pages_after": "contoso.sharepoint.com,…,…", "pages_packed": "g16:AAj…", …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SharepointCheckpoint {
    /// The document libraries.
    #[serde(flatten)]
    pub drives: DriveCheckpoint,
    /// Sites whose pages were read in this run.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pages_done: BTreeSet<String>,
    /// Compact form: the last site (in the order of ids) whose pages this run read to their
    /// end or passed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_after: Option<String>,
    /// The page listing being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PagesCursor>,
    /// By site: the ids of the pages its last whole listing returned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pages_known: BTreeMap<String, BTreeSet<String>>,
    /// Compact form: the same, packed.
    #[serde(default, skip_serializing_if = "KnownPages::is_empty")]
    pub pages_packed: KnownPages,
    /// The ids of the pages the listing being read ([`pages`](Self::pages)) returned so far.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pages_listed: BTreeSet<String>,
    /// The list being read (`include_lists`), after the libraries and the pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<ListsCursor>,
}

/// The page ids each site's last whole listing returned, packed (the compact form of
/// [`SharepointCheckpoint`]): by the 64-bit hash of the site id (as the libraries' compact
/// [`DriveSet`](crate::graph::DriveSet) hashes drives), the sorted page GUIDs as 16 bytes
/// each, so that a deleted page's id comes back whole.
///
/// JSON: `"g16:"` and, in unpadded base64, for each site in the order of its hash: the hash
/// (8 bytes, big-endian), the number of its pages (LEB128), then each page's GUID (16 bytes,
/// in the order its text reads).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownPages {
    sites: BTreeMap<u64, Vec<u128>>,
}

/// What the JSON form of [`KnownPages`] starts with.
const PACKED_PREFIX: &str = "g16:";

/// A page id as 16 bytes, when it is a GUID as Graph writes it (lower case, hyphens at 8,
/// 13, 18 and 23), so that [`guid_text`] gives back the same text.
fn packed_guid(id: &str) -> Option<u128> {
    let bytes = id.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// The text of a packed GUID (lower case, hyphenated).
fn guid_text(g: u128) -> String {
    uuid::Uuid::from_u128(g).hyphenated().to_string()
}

impl KnownPages {
    /// Whether no site has pages here.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The number of sites with pages here.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// The pages of `site`, when it has an entry.
    fn get(&self, site: &str) -> Option<&Vec<u128>> {
        self.sites.get(&hash64(site))
    }

    /// Sets the pages of `site`, when every one of `pages` is a GUID; `false` (nothing
    /// changed) otherwise.
    fn set(&mut self, site: &str, pages: &BTreeSet<String>) -> bool {
        let Some(mut packed) = pages
            .iter()
            .map(|p| packed_guid(p))
            .collect::<Option<Vec<u128>>>()
        else {
            return false;
        };
        packed.sort_unstable();
        packed.dedup();
        self.sites.insert(hash64(site), packed);
        true
    }

    fn remove(&mut self, site: &str) {
        self.sites.remove(&hash64(site));
    }

    /// Keeps the sites of `ids` alone.
    fn retain_sites<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        let keep: HashSet<u64> = ids.into_iter().map(hash64).collect();
        self.sites.retain(|h, _| keep.contains(h));
    }
}

impl Serialize for KnownPages {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pages: usize = self.sites.values().map(Vec::len).sum();
        let mut bytes = Vec::with_capacity(self.sites.len() * 13 + pages * 16);
        for (site, guids) in &self.sites {
            bytes.extend_from_slice(&site.to_be_bytes());
            let mut n = guids.len();
            loop {
                // LEB128: seven bits a byte, the high bit set while more follow.
                let low = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    bytes.push(low);
                    break;
                }
                bytes.push(low | 0x80);
            }
            for g in guids {
                bytes.extend_from_slice(&g.to_be_bytes());
            }
        }
        let mut text = String::with_capacity(PACKED_PREFIX.len() + bytes.len() * 4 / 3 + 4);
        text.push_str(PACKED_PREFIX);
        base64::engine::general_purpose::STANDARD_NO_PAD.encode_string(&bytes, &mut text);
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for KnownPages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let packed = text.strip_prefix(PACKED_PREFIX).ok_or_else(|| {
            D::Error::custom(format!(
                "`pages_packed` does not start with `{PACKED_PREFIX}`"
            ))
        })?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(packed.as_bytes())
            .map_err(|e| D::Error::custom(format!("`pages_packed` is not base64: {e}")))?;
        let short = || D::Error::custom("`pages_packed` ends inside a site's entry");
        let mut sites = BTreeMap::new();
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let (site, after) = rest.split_first_chunk::<8>().ok_or_else(short)?;
            rest = after;
            let mut count: usize = 0;
            let mut shift = 0;
            loop {
                let (&b, after) = rest.split_first().ok_or_else(short)?;
                rest = after;
                if shift > 28 {
                    return Err(D::Error::custom("`pages_packed` holds a count too large"));
                }
                count |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            let len = count
                .checked_mul(16)
                .filter(|&l| l <= rest.len())
                .ok_or_else(short)?;
            let (guids, after) = rest.split_at(len);
            rest = after;
            let (chunks, _) = guids.as_chunks::<16>();
            let mut guids: Vec<u128> = chunks.iter().map(|c| u128::from_be_bytes(*c)).collect();
            guids.sort_unstable();
            guids.dedup();
            sites.insert(u64::from_be_bytes(*site), guids);
        }
        Ok(Self { sites })
    }
}

impl SharepointCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the libraries' delta links, and the page
    /// ids each site's last listing returned. Pages have no delta query: each run lists them
    /// again (the window and their versions decide; the ids carried tell the deleted ones).
    pub(crate) fn carried(&self) -> Option<Self> {
        let drives = self.drives.carried();
        if drives.is_none() && self.pages_known.is_empty() && self.pages_packed.is_empty() {
            return None;
        }
        Some(Self {
            drives: drives.unwrap_or_default(),
            pages_known: self.pages_known.clone(),
            pages_packed: self.pages_packed.clone(),
            ..Self::default()
        })
    }

    /// Keeps the known pages of the sites of `ids` alone (a site no longer read leaves its
    /// pages to prune).
    pub(crate) fn retain_sites<'a>(&mut self, ids: impl IntoIterator<Item = &'a str> + Clone) {
        let keep: HashSet<&str> = ids.clone().into_iter().collect();
        self.pages_known
            .retain(|site, _| keep.contains(site.as_str()));
        self.pages_packed.retain_sites(ids);
    }

    /// The pages of `site` its last listing returned and this one (just ended, whole) did
    /// not: deleted since. This listing's ids become the site's known ones, packed in the
    /// `compact` form.
    pub(crate) fn end_listing(&mut self, site: &str, compact: bool) -> Vec<String> {
        let listed = std::mem::take(&mut self.pages_listed);
        let gone = if let Some(known) = self.pages_known.get(site) {
            known.difference(&listed).cloned().collect()
        } else if let Some(known) = self.pages_packed.get(site) {
            let now: HashSet<u128> = listed.iter().filter_map(|p| packed_guid(p)).collect();
            known
                .iter()
                .filter(|g| !now.contains(g))
                .map(|g| guid_text(*g))
                .collect()
        } else {
            Vec::new()
        };
        self.pages_known.remove(site);
        self.pages_packed.remove(site);
        if listed.is_empty() {
            return gone;
        }
        // Packed in the compact form unless an id is no GUID; in text otherwise.
        if !(compact && self.pages_packed.set(site, &listed)) {
            self.pages_known.insert(site.to_owned(), listed);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SITE: &str = "contoso.sharepoint.com,1b2c3d4e-0000-4000-8000-00000000e001,7f8e9d0c-0000-4000-8000-00000000e0e1";

    /// Site `n`'s id, as Graph writes them.
    fn site(n: usize) -> String {
        format!(
            "contoso.sharepoint.com,{n:08x}-0000-4000-8000-00000000e001,{n:08x}-0000-4000-8000-00000000e0e1"
        )
    }

    /// Page `n` of site `s`.
    fn page(s: usize, n: usize) -> String {
        format!("{s:08x}-{n:04x}-4a5b-9c8d-0123456789ab")
    }

    fn listed(cp: &mut SharepointCheckpoint, ids: &[String]) {
        cp.pages_listed.extend(ids.iter().cloned());
    }

    /// The JSON size of `sites` sites of `pages` pages each, known in the text form or packed.
    fn size(sites: usize, pages: usize, compact: bool) -> usize {
        let mut cp = SharepointCheckpoint::start();
        for s in 0..sites {
            let ids: Vec<String> = (0..pages).map(|n| page(s, n)).collect();
            listed(&mut cp, &ids);
            cp.end_listing(&site(s), compact);
        }
        serde_json::to_string(&cp).unwrap().len()
    }

    #[test]
    fn the_packed_form_is_far_smaller_and_round_trips() {
        // The numbers in SharepointCheckpoint's doc.
        let (text5, packed5) = (size(1000, 5, false), size(1000, 5, true));
        let (text1, packed1) = (size(1000, 1, false), size(1000, 1, true));
        assert!(packed5 * 100 < text5 * 41, "{packed5} of {text5}");
        assert!(packed1 * 4 < text1, "{packed1} of {text1}");
        let mut cp = SharepointCheckpoint::start();
        for s in 0..300 {
            // Site 7 has 200 pages: a count of two LEB128 bytes.
            let n = if s == 7 { 200 } else { 3 };
            listed(&mut cp, &(0..n).map(|p| page(s, p)).collect::<Vec<_>>());
            cp.end_listing(&site(s), true);
        }
        assert!(cp.pages_known.is_empty());
        let json = serde_json::to_string(&cp).unwrap();
        assert!(json.contains("\"pages_packed\":\"g16:"), "{}", &json[..60]);
        let back: SharepointCheckpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cp);
        assert_eq!(back.pages_packed.get(&site(7)).unwrap().len(), 200);
    }

    #[test]
    fn a_packed_site_reports_its_deleted_pages_by_their_whole_ids() {
        let mut cp = SharepointCheckpoint::start();
        let (a, b, c) = (page(1, 1), page(1, 2), page(1, 3));
        listed(&mut cp, &[a.clone(), b.clone(), c.clone()]);
        assert!(cp.end_listing(SITE, true).is_empty());
        assert!(cp.pages_known.is_empty());
        let mut next: SharepointCheckpoint =
            serde_json::from_str(&serde_json::to_string(&cp.carried().unwrap()).unwrap()).unwrap();
        listed(&mut next, std::slice::from_ref(&b));
        assert_eq!(next.end_listing(SITE, true), [a, c]);
        assert_eq!(
            next.end_listing(SITE, true),
            [b],
            "an empty listing: every page gone"
        );
        assert!(next.pages_packed.is_empty());
    }

    #[test]
    fn a_checkpoint_of_the_text_form_loads_and_moves_to_the_packed_one() {
        let (a, b) = (page(2, 1), page(2, 2));
        let json =
            format!(r#"{{"pages_done": ["{SITE}"], "pages_known": {{"{SITE}": ["{a}", "{b}"]}}}}"#);
        let mut cp: SharepointCheckpoint = serde_json::from_str(&json).unwrap();
        assert!(cp.pages_done.contains(SITE));
        listed(&mut cp, std::slice::from_ref(&a));
        assert_eq!(cp.end_listing(SITE, true), std::slice::from_ref(&b));
        assert!(cp.pages_known.is_empty());
        // And back: a job that shrank below the threshold keeps the text form.
        listed(&mut cp, std::slice::from_ref(&b));
        assert_eq!(cp.end_listing(SITE, false), [a]);
        assert!(cp.pages_packed.is_empty());
        assert_eq!(cp.pages_known[SITE].iter().collect::<Vec<_>>(), [&b]);
    }

    #[test]
    fn ids_that_are_not_graphs_guids_stay_text_and_broken_packs_are_errors() {
        let mut cp = SharepointCheckpoint::start();
        let upper = "5F0A0000-0000-4000-8000-000000000001".to_owned();
        listed(&mut cp, &[upper.clone(), page(3, 1)]);
        cp.end_listing(SITE, true);
        assert!(cp.pages_packed.is_empty());
        assert!(cp.pages_known[SITE].contains(&upper));
        for bad in ["\"AAAA\"", "\"g16:AAAAAAAAAAAB\"", "\"g16:not base64!\""] {
            assert!(serde_json::from_str::<KnownPages>(bad).is_err(), "{bad}");
        }
        assert_eq!(guid_text(packed_guid(&page(9, 9)).unwrap()), page(9, 9));
    }

    #[test]
    fn sites_no_longer_read_are_forgotten_in_both_forms() {
        let mut cp = SharepointCheckpoint::start();
        for (s, compact) in [(1, true), (2, false), (3, true)] {
            listed(&mut cp, &[page(s, 1)]);
            cp.end_listing(&site(s), compact);
        }
        cp.retain_sites([site(2).as_str(), site(3).as_str()]);
        assert!(cp.pages_packed.get(&site(1)).is_none());
        assert!(cp.pages_packed.get(&site(3)).is_some());
        assert!(cp.pages_known.contains_key(&site(2)));
    }
}
