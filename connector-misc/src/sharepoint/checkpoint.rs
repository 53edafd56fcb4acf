//! [`SharepointCheckpoint`]: the document libraries' delta links, then the site pages read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::graph::DriveCheckpoint;

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
/// JSON: the drive walk's fields, plus `{"pages_done": ["contoso.sharepoint.com,…,…"],
/// "pages": {"site": "…", "next": "https://graph…/pages/microsoft.graph.sitePage?…"},
/// "pages_known": {"contoso.sharepoint.com,…,…": ["5f0a…", …]}, "pages_listed": ["…"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SharepointCheckpoint {
    /// The document libraries.
    #[serde(flatten)]
    pub drives: DriveCheckpoint,
    /// Sites whose pages were read in this run.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pages_done: BTreeSet<String>,
    /// The page listing being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PagesCursor>,
    /// By site: the ids of the pages its last whole listing returned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pages_known: BTreeMap<String, BTreeSet<String>>,
    /// The ids of the pages the listing being read ([`pages`](Self::pages)) returned so far.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pages_listed: BTreeSet<String>,
    /// The list being read (`include_lists`), after the libraries and the pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<ListsCursor>,
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
        if drives.is_none() && self.pages_known.is_empty() {
            return None;
        }
        Some(Self {
            drives: drives.unwrap_or_default(),
            pages_known: self.pages_known.clone(),
            ..Self::default()
        })
    }

    /// The pages of `site` its last listing returned and this one (just ended, whole) did
    /// not: deleted since. This listing's ids become the site's known ones.
    pub(crate) fn end_listing(&mut self, site: &str) -> Vec<String> {
        let listed = std::mem::take(&mut self.pages_listed);
        let gone = self
            .pages_known
            .get(site)
            .map(|known| known.difference(&listed).cloned().collect())
            .unwrap_or_default();
        if listed.is_empty() {
            self.pages_known.remove(site);
        } else {
            self.pages_known.insert(site.to_owned(), listed);
        }
        gone
    }
}
