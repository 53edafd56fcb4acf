//! Drive v3 wire types, with the API's own field names.

use serde::Deserialize;
use serde_json::Value;

/// The file fields a listing asks for: what the documents show and nothing else.
pub(crate) const FILE_FIELDS: &str = "nextPageToken,files(id,name,mimeType,modifiedTime,size,webViewLink,owners(emailAddress),driveId,version,fileExtension,shortcutDetails(targetId,targetMimeType))";

/// [`FILE_FIELDS`] and who may read each file (`include_permissions`): the permissions where
/// Drive shows them (My Drive files the caller may share), else their ids (shared drive
/// items, whose `permissions` Drive never fills), read with `permissions.list`.
pub(crate) const FILE_FIELDS_WITH_PERMISSIONS: &str = "nextPageToken,files(id,name,mimeType,modifiedTime,size,webViewLink,owners(emailAddress),driveId,version,fileExtension,shortcutDetails(targetId,targetMimeType),permissionIds,permissions(id,type,emailAddress,domain,role,allowFileDiscovery,deleted))";

/// The fields `list_ids` needs.
pub(crate) const SLIM_FIELDS: &str = "nextPageToken,files(id,name,mimeType,modifiedTime,size,webViewLink,owners(emailAddress),driveId,shortcutDetails(targetId,targetMimeType))";

/// The fields of one permission (`permissions.list`).
pub(crate) const PERMISSION_FIELDS: &str =
    "nextPageToken,permissions(id,type,emailAddress,domain,role,allowFileDiscovery,deleted)";

pub(crate) const SHORTCUT: &str = "application/vnd.google-apps.shortcut";

pub(crate) const FOLDER: &str = "application/vnd.google-apps.folder";
pub(crate) const DOCUMENT: &str = "application/vnd.google-apps.document";
pub(crate) const SPREADSHEET: &str = "application/vnd.google-apps.spreadsheet";
pub(crate) const PRESENTATION: &str = "application/vnd.google-apps.presentation";
pub(crate) const DRAWING: &str = "application/vnd.google-apps.drawing";
pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `files.list`: files kept as JSON so that one malformed file fails alone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileList {
    #[serde(default)]
    pub(crate) files: Vec<Value>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// A file (`files` resource).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct File {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) mime_type: String,
    #[serde(default)]
    pub(crate) modified_time: Option<String>,
    /// int64 as a string; absent for Google Docs editors files.
    #[serde(default)]
    pub(crate) size: Option<String>,
    #[serde(default)]
    pub(crate) web_view_link: Option<String>,
    #[serde(default)]
    pub(crate) owners: Vec<Owner>,
    #[serde(default)]
    pub(crate) drive_id: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) file_extension: Option<String>,
    /// Who may read it, where Drive shows it (`include_permissions`).
    #[serde(default)]
    pub(crate) permissions: Option<Vec<Permission>>,
    /// The ids of its permissions (filled for shared drive items too).
    #[serde(default)]
    pub(crate) permission_ids: Option<Vec<String>>,
    /// What a shortcut points to.
    #[serde(default)]
    pub(crate) shortcut_details: Option<ShortcutDetails>,
    /// The folders it sits in (asked by the changes feed only, to place a file that moved).
    #[serde(default)]
    pub(crate) parents: Vec<String>,
    /// In the trash (asked by the changes feed only; listings ask `trashed = false`).
    #[serde(default)]
    pub(crate) trashed: bool,
}

/// A shortcut's target.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShortcutDetails {
    #[serde(default)]
    pub(crate) target_id: Option<String>,
    #[serde(default)]
    pub(crate) target_mime_type: Option<String>,
}

/// A permission (`permissions` resource).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Permission {
    /// `user`, `group`, `domain` or `anyone`.
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) email_address: Option<String>,
    #[serde(default)]
    pub(crate) domain: Option<String>,
    /// `false`: a link-only grant (the file cannot be found by search).
    #[serde(default)]
    pub(crate) allow_file_discovery: Option<bool>,
    /// The grantee's account was deleted.
    #[serde(default)]
    pub(crate) deleted: bool,
}

/// `permissions.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PermissionList {
    #[serde(default)]
    pub(crate) permissions: Vec<Permission>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// A file owner.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Owner {
    #[serde(default)]
    pub(crate) email_address: Option<String>,
}

/// `drives.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DriveList {
    #[serde(default)]
    pub(crate) drives: Vec<SharedDrive>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// A shared drive.
#[derive(Deserialize)]
pub(crate) struct SharedDrive {
    pub(crate) id: String,
}

/// `changes.getStartPageToken`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartPageToken {
    pub(crate) start_page_token: String,
}

/// `changes.list`: a page has `nextPageToken` or, on the last page, `newStartPageToken` (where
/// the next run's feed starts). Changes kept as JSON so that one malformed change fails alone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangeList {
    #[serde(default)]
    pub(crate) changes: Vec<Value>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
    #[serde(default)]
    pub(crate) new_start_page_token: Option<String>,
}

/// One change (`changes` resource).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Change {
    /// `file` or `drive` (a shared drive's own metadata changed).
    #[serde(default)]
    pub(crate) change_type: Option<String>,
    /// The file was deleted for good or the caller lost access to it.
    #[serde(default)]
    pub(crate) removed: bool,
    #[serde(default)]
    pub(crate) file_id: Option<String>,
    /// The file as it is now (absent when `removed`).
    #[serde(default)]
    pub(crate) file: Option<Value>,
}

/// The per-file fields of a listing's `nextPageToken,files(...)`, for requests of one file.
pub(crate) fn per_file_fields(fields: &str) -> &str {
    fields
        .strip_prefix("nextPageToken,files(")
        .and_then(|f| f.strip_suffix(')'))
        .unwrap_or(fields)
}

/// The fields of a `changes.list` page whose files carry the per-file fields of a listing's
/// `files`, with the parents and trash state a change needs.
pub(crate) fn change_fields(files: &str) -> String {
    let per_file = per_file_fields(files);
    format!(
        "nextPageToken,newStartPageToken,changes(changeType,removed,fileId,driveId,time,file({per_file},parents,trashed))"
    )
}
