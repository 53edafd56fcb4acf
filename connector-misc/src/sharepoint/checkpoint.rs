//! [`SharepointCheckpoint`]: the document libraries' delta links, then the site pages read.

use std::collections::BTreeSet;

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

/// Where a resumed SharePoint sync starts: the drive walk of the sites' document libraries
/// (the delta link of each, [`DriveCheckpoint`], carried to the next incremental run), then
/// the sites whose pages were read in this run and the page listing being read.
///
/// JSON: the drive walk's fields, plus `{"pages_done": ["contoso.sharepoint.com,…,…"],
/// "pages": {"site": "…", "next": "https://graph…/pages/microsoft.graph.sitePage?…"}}`.
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
}

impl SharepointCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }

    /// What the next incremental run starts from: the libraries' delta links. Pages have no
    /// delta query: each run lists them again (the window and their versions decide).
    pub(crate) fn carried(&self) -> Option<Self> {
        Some(Self {
            drives: self.drives.carried()?,
            ..Self::default()
        })
    }
}
