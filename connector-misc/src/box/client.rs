//! The Box API 2.0 calls the connector makes, and what their answers hold.
//!
//! - `GET /2.0/folders/{id}/items?usemarker=true&marker=…&limit=…&fields=…`: one page of a
//!   folder, `next_marker` for the next (empty or absent at the end);
//! - `GET /2.0/files/{id}?fields=…`: one file (refetch);
//! - `GET /2.0/files/{id}/content`: a `302` to a pre-signed `dl.boxcloud.com` URL, which core's
//!   client follows without the `Authorization` header (another origin);
//! - `GET /2.0/{files|folders}/{id}/collaborations`: who an item is shared with;
//! - errors as `{"type": "error", "status": 404, "code": "not_found", "message": …,
//!   "request_id": …}`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use connector_core::http::{Auth, ErrorClass, HttpClient, OAuthToken, Response, StatusCode};
use connector_core::{Access, Error, ErrorKind, Result, SyncContext};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::config::TOKENS_FIELD;

/// The fields asked of every listed item (Box's defaults lack `sha1`, `modified_at`, `size`).
pub(crate) const ITEM_FIELDS: &str = "type,id,name,size,sha1,etag,modified_at,content_modified_at,created_at,owned_by,modified_by,has_collaborations,shared_link,description,item_status,path_collection";

/// The fields asked when only ids are wanted (prune).
const SLIM_FIELDS: &str = "type,id";

/// One folder-items page.
#[derive(Debug, Deserialize)]
pub(crate) struct ItemsPage {
    /// Entries as sent: each is read on its own, so one malformed entry fails alone.
    #[serde(default)]
    pub(crate) entries: Vec<Value>,
    #[serde(default)]
    pub(crate) next_marker: Option<String>,
}

impl ItemsPage {
    /// The marker of the next page; none at the end (Box sends `null`, `""` or nothing).
    pub(crate) fn next(&self) -> Option<String> {
        self.next_marker.clone().filter(|m| !m.is_empty())
    }
}

/// A user as Box shows one (`owned_by`, `modified_by`, `accessible_by`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserMini {
    #[serde(default)]
    pub(crate) login: Option<String>,
}

/// A shared link's settings.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SharedLink {
    /// `open` (anyone with the link), `company` or `collaborators`.
    #[serde(default)]
    pub(crate) access: Option<String>,
}

/// A folder of `path_collection`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FolderMini {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PathCollection {
    #[serde(default)]
    pub(crate) entries: Vec<FolderMini>,
}

/// A file as listed with [`ITEM_FIELDS`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FileMeta {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) sha1: Option<String>,
    #[serde(default)]
    pub(crate) etag: Option<String>,
    pub(crate) modified_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) owned_by: Option<UserMini>,
    #[serde(default)]
    pub(crate) modified_by: Option<UserMini>,
    #[serde(default)]
    pub(crate) has_collaborations: Option<bool>,
    #[serde(default)]
    pub(crate) shared_link: Option<SharedLink>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) path_collection: Option<PathCollection>,
}

/// A folder as listed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FolderMeta {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) has_collaborations: Option<bool>,
    #[serde(default)]
    pub(crate) shared_link: Option<SharedLink>,
}

/// One listing entry, by its `type`.
#[derive(Debug)]
pub(crate) enum Listed {
    File(Box<FileMeta>),
    Folder(FolderMeta),
    /// A web link, or an item in the trash.
    Other,
    /// An entry that could not be read: its id when it has one, and why.
    Malformed {
        id: Option<String>,
        message: String,
    },
}

impl Listed {
    pub(crate) fn from_value(value: Value) -> Self {
        if value.get("item_status").and_then(Value::as_str) == Some("trashed") {
            return Self::Other;
        }
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        let malformed = |e: serde_json::Error| Self::Malformed {
            id: id.clone(),
            message: format!("the listing entry cannot be read: {e}"),
        };
        match value.get("type").and_then(Value::as_str) {
            Some("file") => match serde_json::from_value::<FileMeta>(value) {
                Ok(meta) => Self::File(Box::new(meta)),
                Err(e) => malformed(e),
            },
            Some("folder") => match serde_json::from_value::<FolderMeta>(value) {
                Ok(meta) => Self::Folder(meta),
                Err(e) => malformed(e),
            },
            _ => Self::Other,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Collaboration {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    accessible_by: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct CollaborationsPage {
    #[serde(default)]
    entries: Vec<Collaboration>,
    #[serde(default)]
    next_marker: Option<String>,
}

/// What `files/{id}/content` gave.
pub(crate) enum Download {
    Data(Vec<u8>),
    /// The file is gone since the listing.
    Gone,
}

/// Requests to one Box account; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    token: Arc<OAuthToken>,
    api: Url,
    pub(crate) page_size: u32,
}

impl Client {
    pub(crate) fn new(http: HttpClient, token: Arc<OAuthToken>, api: Url, page_size: u32) -> Self {
        Self {
            http,
            token,
            api,
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

    fn endpoint(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::internal("the API base URL cannot take a path").with_connector(SOURCE)
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get(&self, url: Url, query: &[(&str, String)], max: Option<u64>) -> Result<Response> {
        self.token
            .send(&self.http, |auth: Auth| {
                let mut req = self
                    .http
                    .get(url.clone())
                    .query(query.iter().map(|(k, v)| (*k, v)))
                    .auth(auth, TOKENS_FIELD);
                if let Some(max) = max {
                    req = req.max_body_bytes(max);
                }
                req
            })
            .await
    }

    /// One page of the folder `id`, from `marker` (its first page when none); `slim` asks only
    /// for ids.
    pub(crate) async fn folder_items(
        &self,
        id: &str,
        marker: Option<&str>,
        limit: u32,
        slim: bool,
    ) -> Result<ItemsPage> {
        let url = self.endpoint(&["2.0", "folders", id, "items"])?;
        let fields = if slim { SLIM_FIELDS } else { ITEM_FIELDS };
        let mut query = vec![
            ("usemarker", "true".to_owned()),
            ("limit", limit.to_string()),
            ("fields", fields.to_owned()),
        ];
        if let Some(marker) = marker {
            query.push(("marker", marker.to_owned()));
        }
        self.get(url, &query, None).await?.json()
    }

    /// The file `id` with [`ITEM_FIELDS`]; none when it is gone.
    pub(crate) async fn file(&self, id: &str) -> Result<Option<FileMeta>> {
        let url = self.endpoint(&["2.0", "files", id])?;
        match self
            .get(url, &[("fields", ITEM_FIELDS.to_owned())], None)
            .await
        {
            Ok(resp) => resp.json().map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the folder `id` may be read and has collaborations (for the configured folder,
    /// whose listing entry the walk never sees).
    pub(crate) async fn folder(&self, id: &str) -> Result<FolderMeta> {
        let url = self.endpoint(&["2.0", "folders", id])?;
        self.get(
            url,
            &[(
                "fields",
                "type,id,name,has_collaborations,shared_link".to_owned(),
            )],
            None,
        )
        .await?
        .json()
    }

    /// Who the item `kind`/`id` (`files` or `folders`) is shared with: accepted
    /// collaborations, users by login, groups by `box-group:{id}`.
    pub(crate) async fn collaborations(&self, kind: &str, id: &str) -> Result<Access> {
        let url = self.endpoint(&["2.0", kind, id, "collaborations"])?;
        let mut access = Access::default();
        let mut marker: Option<String> = None;
        // A marker that repeats would loop forever: Box never sends one, a proxy might.
        for _ in 0..1000 {
            let mut query = vec![
                ("limit", "1000".to_owned()),
                ("fields", "type,id,status,role,accessible_by".to_owned()),
            ];
            if let Some(m) = &marker {
                query.push(("marker", m.clone()));
            }
            let page: CollaborationsPage = self.get(url.clone(), &query, None).await?.json()?;
            for c in page.entries {
                if c.status.as_deref().is_some_and(|s| s != "accepted") {
                    continue;
                }
                let Some(by) = c.accessible_by else { continue };
                match by.get("type").and_then(Value::as_str) {
                    Some("user") => {
                        if let Some(login) = by.get("login").and_then(Value::as_str) {
                            access.emails.push(login.to_lowercase());
                        }
                    }
                    Some("group") => {
                        if let Some(gid) = by.get("id").and_then(Value::as_str) {
                            access.groups.push(format!("box-group:{gid}"));
                        }
                    }
                    _ => {}
                }
            }
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(next) if marker.as_deref() != Some(next.as_str()) => marker = Some(next),
                _ => break,
            }
        }
        Ok(access)
    }

    /// Downloads the file `id`, refusing a body over `max` bytes; Box answers with a redirect
    /// to its download host, which is followed.
    pub(crate) async fn download(&self, id: &str, max: u64) -> Result<Download> {
        let url = self.endpoint(&["2.0", "files", id, "content"])?;
        match self.get(url, &[], Some(max)).await {
            Ok(resp) => Ok(Download::Data(resp.into_body().to_vec())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Download::Gone),
            Err(e) => Err(e),
        }
    }
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    request_id: String,
}

/// What Box's error bodies mean (`{"type": "error", "status", "code", "message",
/// "request_id"}`): 404 `not_found` (or `trashed`), 403 a missing permission or scope, 400 a
/// bad request, 409 a conflict. 401 and 429 are core's (credential field, `Retry-After`).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let err = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let said = if err.code.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
    } else if err.request_id.is_empty() {
        format!("{}: {}", err.code, err.message)
    } else {
        format!(
            "{}: {} (request id {})",
            err.code, err.message, err.request_id
        )
    };
    match status.as_u16() {
        404 => Some(ErrorClass::new(ErrorKind::NotFound, format!("Box: {said}"))),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Box refused access (the user needs access to the folder, the app the `root_readonly` scope): {said}"
            ),
        )),
        400 | 405 | 409 | 412 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Box rejected the request: {said}"),
        )),
        _ => None,
    }
}
