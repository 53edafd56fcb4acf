//! Drive v3 wire types, with the API's own field names.

use serde::Deserialize;
use serde_json::Value;

/// The file fields a listing asks for: what the documents show and nothing else.
pub(crate) const FILE_FIELDS: &str = "nextPageToken,files(id,name,mimeType,modifiedTime,size,webViewLink,owners(emailAddress),driveId,version,fileExtension)";

/// The fields `list_ids` needs.
pub(crate) const SLIM_FIELDS: &str =
    "nextPageToken,files(id,name,mimeType,modifiedTime,size,webViewLink)";

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
