//! The Dropbox API v2 calls the connector makes, and what their answers hold.
//!
//! RPC endpoints (`files/list_folder`, `/continue`, `files/get_metadata`) take a JSON body;
//! the content endpoint `files/download` takes its argument as JSON in the `Dropbox-API-Arg`
//! header, with every character outside ASCII escaped as `\uXXXX` (a header carries ASCII
//! only; Dropbox documents this escaping). Endpoint errors come as 409 with an
//! `error_summary` such as `path/not_found/..` or `reset/..`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::http::{Auth, ErrorClass, HttpClient, OAuthToken, Response, StatusCode};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;

/// The config field the access token lives in.
pub(crate) const TOKEN_FIELD: &str = "credentials.dropbox_access_token";

/// One `list_folder` page.
#[derive(Debug, Deserialize)]
pub(crate) struct ListPage {
    /// Entries as sent: each is read on its own, so one malformed entry fails alone.
    pub(crate) entries: Vec<Value>,
    pub(crate) cursor: String,
    pub(crate) has_more: bool,
}

/// A file's metadata (`FileMetadata`), as listed and as `Dropbox-API-Result` repeats it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FileMeta {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) path_display: Option<String>,
    pub(crate) server_modified: DateTime<Utc>,
    pub(crate) rev: String,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) content_hash: Option<String>,
    #[serde(default)]
    pub(crate) is_downloadable: Option<bool>,
    #[serde(default)]
    pub(crate) sharing_info: Option<SharingInfo>,
}

/// `FileSharingInfo`: set for files inside a shared folder.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SharingInfo {
    #[serde(default)]
    pub(crate) read_only: bool,
    #[serde(default)]
    pub(crate) parent_shared_folder_id: Option<String>,
    #[serde(default)]
    pub(crate) modified_by: Option<String>,
}

/// One listing entry, by its `.tag`.
#[derive(Debug)]
pub(crate) enum Listed {
    File(Box<FileMeta>),
    /// A folder, or a `deleted` entry (deletions are prune's: see the module docs).
    Other,
    /// An entry that could not be read: its id or path when it has one, and why.
    Malformed {
        id: Option<String>,
        message: String,
    },
}

impl Listed {
    pub(crate) fn from_value(value: Value) -> Self {
        match value.get(".tag").and_then(Value::as_str) {
            Some("file") => {
                let id = value
                    .get("id")
                    .and_then(Value::as_str)
                    .or_else(|| value.get("path_display").and_then(Value::as_str))
                    .map(str::to_owned);
                match serde_json::from_value::<FileMeta>(value) {
                    Ok(meta) => Self::File(Box::new(meta)),
                    Err(e) => Self::Malformed {
                        id,
                        message: format!("the listing entry cannot be read: {e}"),
                    },
                }
            }
            _ => Self::Other,
        }
    }
}

/// What `files/download` gave.
pub(crate) enum Download {
    /// The bytes, and the metadata of the version they are (from `Dropbox-API-Result`).
    Data(Vec<u8>, Option<Box<FileMeta>>),
    /// The file is gone since the listing.
    Gone,
}

/// Requests to one Dropbox account; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    token: Arc<OAuthToken>,
    api: Url,
    content: Url,
    pub(crate) path: String,
    pub(crate) page_size: u32,
}

impl Client {
    pub(crate) fn new(
        http: HttpClient,
        token: Arc<OAuthToken>,
        api: Url,
        content: Url,
        path: String,
        page_size: u32,
    ) -> Self {
        Self {
            http,
            token,
            api,
            content,
            path,
            page_size,
        }
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    pub(crate) fn token(&self) -> &Arc<OAuthToken> {
        &self.token
    }

    fn endpoint(&self, base: &Url, path: &str) -> Result<Url> {
        base.join(path).map_err(|e| {
            Error::internal(format!("cannot join `{path}` to the base URL"))
                .with_connector(SOURCE)
                .with_cause(e)
        })
    }

    /// A read-only RPC call with a JSON body (retried like a GET: it changes nothing).
    async fn rpc(&self, path: &str, body: &Value) -> Result<Response> {
        let url = self.endpoint(&self.api, path)?;
        self.token
            .send(&self.http, |auth: Auth| {
                self.http
                    .post(url.clone())
                    .json(body)
                    .idempotent(true)
                    .auth(auth, TOKEN_FIELD)
            })
            .await
    }

    /// The first page of the recursive listing of the configured folder; `limit` entries at
    /// most (the configured page size when `None`).
    pub(crate) async fn list_folder(&self, limit: Option<u32>) -> Result<ListPage> {
        let body = json!({
            "path": self.path,
            "recursive": true,
            "include_deleted": false,
            "include_non_downloadable_files": true,
            "limit": limit.unwrap_or(self.page_size),
        });
        let resp = self
            .rpc("2/files/list_folder", &body)
            .await
            .map_err(|e| self.named_path(e))?;
        resp.json()
    }

    /// The page after `cursor`: the rest of a listing, or the changes since it. A cursor
    /// Dropbox no longer honours fails with [`ErrorKind::Checkpoint`] (the `reset` error).
    pub(crate) async fn list_continue(&self, cursor: &str) -> Result<ListPage> {
        let resp = self
            .rpc("2/files/list_folder/continue", &json!({"cursor": cursor}))
            .await?;
        resp.json()
    }

    /// The current metadata of the file `id` (`id:…`); none when it is gone or not a file.
    pub(crate) async fn metadata(&self, id: &str) -> Result<Option<FileMeta>> {
        match self.rpc("2/files/get_metadata", &json!({"path": id})).await {
            Ok(resp) => {
                let value: Value = resp.json()?;
                Ok(match Listed::from_value(value) {
                    Listed::File(meta) => Some(*meta),
                    _ => None,
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Downloads the file `id`, refusing a body over `max` bytes.
    pub(crate) async fn download(&self, id: &str, max: u64) -> Result<Download> {
        let url = self.endpoint(&self.content, "2/files/download")?;
        let arg = api_arg(&json!({"path": id}));
        let sent = self
            .token
            .send(&self.http, |auth: Auth| {
                self.http
                    .post(url.clone())
                    .header("Dropbox-API-Arg", &arg)
                    .idempotent(true)
                    .max_body_bytes(max)
                    .auth(auth, TOKEN_FIELD)
            })
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Download::Gone),
            Err(e) => return Err(e),
        };
        let meta = resp
            .header("dropbox-api-result")
            .and_then(|h| serde_json::from_str::<FileMeta>(h).ok())
            .map(Box::new);
        Ok(Download::Data(resp.into_body().to_vec(), meta))
    }

    /// A listing error naming the `path` field when the folder does not exist.
    fn named_path(&self, e: Error) -> Error {
        if e.kind() == ErrorKind::NotFound {
            Error::new(
                ErrorKind::NotFound,
                format!("the folder `{}` does not exist in this Dropbox", self.path),
            )
            .with_connector(SOURCE)
            .with_field("path")
            .with_cause(e)
        } else {
            e
        }
    }
}

/// `value` as JSON for the `Dropbox-API-Arg` header: every character outside ASCII (and DEL)
/// escaped as `\uXXXX`, astral ones as a surrogate pair, as Dropbox requires. Outside strings
/// JSON is ASCII already, so the escapes only ever land inside strings, where they are valid.
pub(crate) fn api_arg(value: &Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    error_summary: String,
}

/// What Dropbox's error bodies mean: 409 is an endpoint error whose `error_summary` says
/// which (`path/not_found/..`, `reset/..`); 400 a bad request (plain text); 403 a missing
/// scope or a disabled account. 401 and 429 are core's (credential field, `Retry-After`).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let summary = serde_json::from_slice::<ApiError>(body)
        .unwrap_or_default()
        .error_summary;
    match status.as_u16() {
        409 if summary.starts_with("reset") => Some(ErrorClass::new(
            ErrorKind::Checkpoint,
            "Dropbox reset the listing cursor; the listing starts over",
        )),
        409 if summary.contains("not_found") => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Dropbox: {summary}"),
        )),
        409 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Dropbox refused the request: {summary}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Dropbox refused access (the app may lack the `files.metadata.read` and `files.content.read` scopes): {summary}"
            ),
        )),
        400 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!(
                "Dropbox rejected the request: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_argument_escapes_everything_outside_ascii() {
        let arg = api_arg(&json!({"path": "/Ünïcode/日本/😀 \"q\".txt"}));
        assert!(arg.is_ascii());
        assert_eq!(
            arg,
            r#"{"path":"/\u00dcn\u00efcode/\u65e5\u672c/\ud83d\ude00 \"q\".txt"}"#
        );
        // It is still the same JSON.
        let back: Value = serde_json::from_str(&arg).unwrap();
        assert_eq!(back["path"], "/Ünïcode/日本/😀 \"q\".txt");
    }
}
