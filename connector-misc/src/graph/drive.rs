//! Drive items (OneDrive and SharePoint document libraries): the fields a sync reads, the
//! delta query that lists them, and the calls that place and download one.

use chrono::{DateTime, Utc};
use connector_core::Result;
use connector_core::http::Response;
use serde::Deserialize;
use url::Url;

use super::{Delta, GraphClient};

/// The fields a sync reads of a drive item, asked for with `$select` so Graph sends no more.
pub const ITEM_FIELDS: &str = "id,name,size,eTag,cTag,createdDateTime,lastModifiedDateTime,webUrl,file,folder,package,root,deleted,parentReference,createdBy,lastModifiedBy";

/// What delta rounds ask Graph for (its guidance for scanning drives at scale): items the app
/// can no longer see come as deleted, folders it cannot read are traversed, and an item whose
/// sharing changed is listed with `@microsoft.graph.sharedChanged` (a new permission moves no
/// tag), so access changes reach an incremental run; with `hierarchicalsharing` a folder's
/// sharing change is reported on the folder, not on each file that inherits it. Graph reports
/// every sharing change only to an app holding `Sites.FullControl.All`.
pub const DELTA_PREFER: &str = "deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges, hierarchicalsharing";

/// A drive item as a delta query or `GET items/{id}` shows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DriveItem {
    /// The item's id, unique within its drive, kept through renames and moves.
    pub id: String,
    /// The file or folder name (absent on some deleted items).
    #[serde(default)]
    pub name: String,
    /// Bytes (a folder: of everything below it).
    #[serde(default)]
    pub size: u64,
    /// Changes with any change of the item, its metadata included.
    #[serde(default)]
    pub e_tag: Option<String>,
    /// Changes with the content only.
    #[serde(default)]
    pub c_tag: Option<String>,
    /// When the item was created.
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub created_date_time: Option<DateTime<Utc>>,
    /// When the item (content or metadata) last changed.
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub last_modified_date_time: Option<DateTime<Utc>>,
    /// The item in the web UI.
    #[serde(default)]
    pub web_url: Option<Url>,
    /// Set for a file.
    #[serde(default)]
    pub file: Option<FileFacet>,
    /// Set for a folder.
    #[serde(default)]
    pub folder: Option<serde_json::Value>,
    /// Set for a package (a OneNote notebook): a folder-like item, not a file.
    #[serde(default)]
    pub package: Option<serde_json::Value>,
    /// Set for the drive's root folder.
    #[serde(default)]
    pub root: Option<serde_json::Value>,
    /// Set for an item deleted since the last delta round.
    #[serde(default)]
    pub deleted: Option<serde_json::Value>,
    /// The folder holding it (its `path` is not sent by delta queries in OneDrive for
    /// Business and SharePoint).
    #[serde(default)]
    pub parent_reference: Option<ParentReference>,
    /// Who created it.
    #[serde(default)]
    pub created_by: Option<IdentitySet>,
    /// Who changed it last.
    #[serde(default)]
    pub last_modified_by: Option<IdentitySet>,
    /// `"True"` on an item whose sharing changed since the round's delta link (asked for by
    /// [`DELTA_PREFER`]).
    #[serde(rename = "@microsoft.graph.sharedChanged", default)]
    pub shared_changed: Option<String>,
}

/// The `file` facet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FileFacet {
    /// The MIME type Graph reports.
    #[serde(default)]
    pub mime_type: Option<String>,
}

/// The folder holding an item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ParentReference {
    /// The folder's item id.
    #[serde(default)]
    pub id: Option<String>,
    /// The drive.
    #[serde(default)]
    pub drive_id: Option<String>,
    /// `/drive/root:/path/to/folder`, where Graph sends it.
    #[serde(default)]
    pub path: Option<String>,
}

/// Who did something: a user (or an application).
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct IdentitySet {
    /// The user.
    #[serde(default)]
    pub user: Option<Identity>,
}

/// One identity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Identity {
    /// The name shown.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The e-mail address (OneDrive for Business).
    #[serde(default)]
    pub email: Option<String>,
    /// The object id.
    #[serde(default)]
    pub id: Option<String>,
}

impl IdentitySet {
    /// The user's e-mail address, else display name.
    pub fn shown(&self) -> Option<&str> {
        let user = self.user.as_ref()?;
        user.email
            .as_deref()
            .or(user.display_name.as_deref())
            .filter(|s| !s.is_empty())
    }
}

/// `doc` with the `created_at`, `created_by` and `modified_by` metadata Graph gives a drive
/// item, a list item or a site page (`createdDateTime`, `createdBy`, `lastModifiedBy`), each
/// left out when absent.
#[cfg(any(feature = "onedrive", feature = "sharepoint"))]
pub(crate) fn with_authorship(
    mut doc: connector_core::Document,
    created: Option<DateTime<Utc>>,
    created_by: Option<&IdentitySet>,
    modified_by: Option<&IdentitySet>,
) -> connector_core::Document {
    if let Some(t) = created {
        doc = doc.with_metadata("created_at", connector_core::time::rfc3339_secs(&t));
    }
    if let Some(by) = created_by.and_then(IdentitySet::shown) {
        doc = doc.with_metadata("created_by", by.to_owned());
    }
    if let Some(by) = modified_by.and_then(IdentitySet::shown) {
        doc = doc.with_metadata("modified_by", by.to_owned());
    }
    doc
}

impl DriveItem {
    /// An item of a delta page; `Err((its id if readable, what is wrong))` when it is not a
    /// drive item.
    pub fn from_value(
        value: serde_json::Value,
    ) -> std::result::Result<Self, (Option<String>, String)> {
        super::model::listed(value, "a drive item")
    }

    /// Whether this is a file a sync reads: not a folder, notebook, the root, nor deleted.
    pub fn is_file(&self) -> bool {
        self.file.is_some()
            && self.folder.is_none()
            && self.package.is_none()
            && self.root.is_none()
            && self.deleted.is_none()
    }

    /// Whether this is a folder (or the root): what scope checks walk through.
    pub fn is_folder(&self) -> bool {
        (self.folder.is_some() || self.root.is_some()) && self.deleted.is_none()
    }

    /// Whether a delta round marked the item's sharing as changed.
    pub fn sharing_changed(&self) -> bool {
        self.shared_changed
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The id of the folder holding it.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent_reference.as_ref()?.id.as_deref()
    }

    /// The version token: the entity tag, which changes with the content and with any other
    /// change (a rename, a move); the content tag only where there is no entity tag. Delta
    /// rounds of OneDrive for Business and SharePoint leave `cTag` out while `GET items/{id}`
    /// sends it, so a version built from both would differ between a listing and a refetch of
    /// the same state.
    pub fn version(&self) -> String {
        self.e_tag
            .as_deref()
            .or(self.c_tag.as_deref())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A drive as `GET users/{id}/drive` or `sites/{id}/drives` shows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Drive {
    /// The drive id (`b!…`).
    pub id: String,
    /// Its name (`OneDrive`, `Documents`).
    #[serde(default)]
    pub name: Option<String>,
    /// `personal`, `business` or `documentLibrary`.
    #[serde(default)]
    pub drive_type: Option<String>,
    /// Its owner.
    #[serde(default)]
    pub owner: Option<IdentitySet>,
    /// The drive in the web UI.
    #[serde(default)]
    pub web_url: Option<Url>,
    /// The SharePoint site the drive belongs to (asked for with `$select=sharePointIds`).
    #[serde(default, rename = "sharePointIds")]
    pub sharepoint_ids: Option<SharepointIds>,
}

/// Where a drive or item lives in SharePoint.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SharepointIds {
    /// The site collection's id (a GUID).
    #[serde(default)]
    pub site_id: Option<String>,
    /// The site's URL.
    #[serde(default)]
    pub site_url: Option<String>,
}

impl GraphClient {
    /// The first URL of a delta round over the whole of drive `drive`.
    ///
    /// # Errors
    /// For a drive id the API root cannot take.
    pub fn drive_delta_url(&self, drive: &str) -> Result<Url> {
        self.url(
            &format!("drives/{}/root/delta", escape(drive)),
            &[("$select", ITEM_FIELDS)],
        )
    }

    /// One page of a drive's delta round at `url` (asking for [`DELTA_PREFER`]), its items as
    /// sent: read each with
    /// [`DriveItem::from_value`], so one malformed item is that item's failure, not the page's.
    ///
    /// # Errors
    /// As [`GraphClient::delta`].
    pub async fn drive_delta(&self, url: &Url) -> Result<Delta<serde_json::Value>> {
        self.delta_with(url, |r| r.header("prefer", DELTA_PREFER))
            .await
    }

    /// The children of folder `item` of drive `drive`, every page (`GET items/{id}/children`
    /// with `$select`), each as sent: read them with [`DriveItem::from_value`].
    ///
    /// # Errors
    /// As [`GraphClient::all`].
    pub async fn drive_children(&self, drive: &str, item: &str) -> Result<Vec<serde_json::Value>> {
        let url = self.url(
            &format!("drives/{}/items/{}/children", escape(drive), escape(item)),
            &[("$select", ITEM_FIELDS), ("$top", "999")],
        )?;
        self.all(&url).await
    }

    /// Item `item` of drive `drive`; `None` when it is gone.
    ///
    /// # Errors
    /// As [`GraphClient::get_opt`].
    pub async fn drive_item(&self, drive: &str, item: &str) -> Result<Option<DriveItem>> {
        let url = self.url(
            &format!("drives/{}/items/{}", escape(drive), escape(item)),
            &[("$select", ITEM_FIELDS)],
        )?;
        self.get_opt(&url).await
    }

    /// The item at `path` (`/Reports/2025`) below drive `drive`'s root; `None` when there
    /// is none.
    ///
    /// # Errors
    /// As [`GraphClient::get_opt`].
    pub async fn drive_item_at(&self, drive: &str, path: &str) -> Result<Option<DriveItem>> {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(escape)
            .collect();
        let url = if segments.is_empty() {
            self.url(&format!("drives/{}/root", escape(drive)), &[])?
        } else {
            self.url(
                &format!("drives/{}/root:/{}:", escape(drive), segments.join("/")),
                &[("$select", ITEM_FIELDS)],
            )?
        };
        self.get_opt(&url).await
    }

    /// The content of item `item` of drive `drive`, at most `max` bytes: Graph answers with
    /// a redirect to a pre-authenticated download URL, which core's client follows without
    /// the token (it leaves the origin). The request may take a minute plus a second per MiB
    /// of `max`, so a large file is not cut off by the default timeout.
    ///
    /// # Errors
    /// [`NotFound`](connector_core::ErrorKind::NotFound) when the item is gone; a body over
    /// `max` is [`InvalidData`](connector_core::ErrorKind::InvalidData) (core's cap); the
    /// request's own failures.
    pub async fn drive_content(
        &self,
        drive: &str,
        item: &str,
        max: u64,
        spool: Option<&connector_core::spool::Spool>,
    ) -> Result<Response> {
        let url = self.url(
            &format!("drives/{}/items/{}/content", escape(drive), escape(item)),
            &[],
        )?;
        let timeout = std::time::Duration::from_secs(60 + max / (1024 * 1024));
        self.send(&url, |r| {
            let r = r.max_body_bytes(max).timeout(timeout);
            match spool {
                Some(spool) => r.spool_to(spool.clone()),
                None => r,
            }
        })
        .await
    }
}

/// A path segment, percent-encoded for a Graph URL (drive ids hold `!`, names anything).
pub(crate) fn escape(segment: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'!')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(segment, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_delta_item_of_graphs_wire_format_is_read() {
        let item: DriveItem = serde_json::from_str(
            r##"{"@odata.type": "#microsoft.graph.driveItem", "id": "01ABC", "name": "Q3 plan.docx",
                "size": 1234, "eTag": "\"{A},2\"", "cTag": "\"c:{A},1\"",
                "createdDateTime": "2026-01-02T03:04:05Z", "lastModifiedDateTime": "2026-02-03T04:05:06Z",
                "webUrl": "https://contoso-my.sharepoint.com/personal/a/Documents/Q3%20plan.docx",
                "file": {"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                         "hashes": {"quickXorHash": "abc="}},
                "parentReference": {"driveType": "business", "driveId": "b!x", "id": "01PARENT"},
                "createdBy": {"user": {"email": "ada@contoso.com", "displayName": "Ada"}},
                "lastModifiedBy": {"user": {"displayName": "Bob"}}}"##,
        )
        .unwrap();
        assert!(item.is_file() && !item.is_folder());
        assert_eq!(item.parent_id(), Some("01PARENT"));
        assert_eq!(item.version(), "\"{A},2\"");
        assert_eq!(item.created_by.unwrap().shown(), Some("ada@contoso.com"));
        assert_eq!(item.last_modified_by.unwrap().shown(), Some("Bob"));
        let gone: DriveItem =
            serde_json::from_str(r#"{"id": "01DEL", "deleted": {"state": "deleted"}, "file": {}}"#)
                .unwrap();
        assert!(!gone.is_file());
    }

    #[test]
    fn segments_are_escaped_but_drive_ids_kept() {
        assert_eq!(escape("b!AbC-d_e.f~"), "b!AbC-d_e.f~");
        assert_eq!(escape("ada@contoso.com"), "ada@contoso.com");
        assert_eq!(escape("Q3 plan#1?.docx"), "Q3%20plan%231%3F.docx");
    }
}
