//! The Box API 2.0 calls the connector makes, and what their answers hold.
//!
//! - `GET /2.0/folders/{id}/items?usemarker=true&marker=…&limit=…&fields=…`: one page of a
//!   folder, `next_marker` for the next (empty or absent at the end);
//! - `GET /2.0/files/{id}?fields=…`: one file (refetch);
//! - `GET /2.0/files/{id}/content`: a `302` to a pre-signed `dl.boxcloud.com` URL, which core's
//!   client follows without the `Authorization` header (another origin);
//! - `GET /2.0/{files|folders}/{id}/collaborations`: who an item is shared with;
//! - `GET /2.0/files/{id}/comments?offset=…&limit=…`: a file's comments (offset paging,
//!   `total_count`), read for files whose `comment_count` is not zero;
//! - `GET /2.0/users?user_type=managed&usemarker=true&marker=…`: the enterprise's users
//!   (`all_users`);
//! - errors as `{"type": "error", "status": 404, "code": "not_found", "message": …,
//!   "request_id": …}`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::http::{
    Auth, ErrorClass, HttpClient, OAuthToken, RequestBuilder, Response, StatusCode,
};
use connector_core::{Access, Error, ErrorKind, Result, SyncContext};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::SOURCE;

/// The fields asked of every listed item (Box's defaults lack `sha1`, `modified_at`, `size`).
/// `url` is a web link's (Box leaves out what a type does not have); `comment_count` is in
/// a file's version, so a new comment re-sends the file.
pub(crate) const ITEM_FIELDS: &str = "type,id,name,size,sha1,etag,modified_at,content_modified_at,created_at,owned_by,modified_by,has_collaborations,shared_link,description,item_status,path_collection,comment_count,url";

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
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) login: Option<String>,
}

/// A shared link's settings.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SharedLink {
    /// `open` (anyone with the link), `company` or `collaborators`.
    #[serde(default)]
    pub(crate) access: Option<String>,
    /// What the link allows once the enterprise's policy applies (an admin can turn `open`
    /// links into `company` ones); Box sends it beside `access`.
    #[serde(default)]
    pub(crate) effective_access: Option<String>,
    /// Whether the link asks for a password: an `open` link with one is not public.
    #[serde(default)]
    pub(crate) is_password_enabled: Option<bool>,
}

impl SharedLink {
    /// Who the link lets in: `open`, `company` or `collaborators` (`effective_access` when
    /// Box sent it, else `access`).
    pub(crate) fn effective(&self) -> Option<&str> {
        self.effective_access.as_deref().or(self.access.as_deref())
    }
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
    /// How many comments the file has (asked in [`ITEM_FIELDS`]).
    #[serde(default)]
    pub(crate) comment_count: Option<u64>,
}

/// A web link (a bookmark) as listed with [`ITEM_FIELDS`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WebLinkMeta {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) url: String,
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
    pub(crate) shared_link: Option<SharedLink>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) path_collection: Option<PathCollection>,
}

/// A comment on a file.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Comment {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) is_reply_comment: bool,
    #[serde(default)]
    pub(crate) created_by: Option<UserMini>,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct CommentsPage {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    entries: Vec<Comment>,
}

/// A user of the enterprise (`GET /users`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EnterpriseUser {
    pub(crate) id: String,
    /// `active`, `inactive`, `cannot_delete_edit` or `cannot_delete_edit_upload` (the last
    /// two: active, with restrictions on what they may change); absent: taken as active.
    #[serde(default)]
    pub(crate) status: Option<String>,
}

impl EnterpriseUser {
    /// Whether the user may sign in (every status but `inactive`).
    pub(crate) fn active(&self) -> bool {
        self.status.as_deref() != Some("inactive")
    }
}

#[derive(Debug, Deserialize)]
struct UsersPage {
    #[serde(default)]
    entries: Vec<EnterpriseUser>,
    #[serde(default)]
    next_marker: Option<String>,
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
    #[serde(default)]
    pub(crate) owned_by: Option<UserMini>,
    /// The folders above it, All Files first (asked of `GET /folders/{id}` only).
    #[serde(default)]
    pub(crate) path_collection: Option<PathCollection>,
}

/// The user the token belongs to (`GET /users/me`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Me {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) login: Option<String>,
    #[serde(default)]
    pub(crate) enterprise: Option<Enterprise>,
}

/// The enterprise of a user, when it has one.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Enterprise {
    pub(crate) id: String,
}

/// One listing entry, by its `type`.
#[derive(Debug)]
pub(crate) enum Listed {
    File(Box<FileMeta>),
    Folder(FolderMeta),
    WebLink(Box<WebLinkMeta>),
    /// An item in the trash, or of a type the connector does not read.
    Other,
    /// An entry that could not be read: its id when it has one, and why.
    Malformed {
        id: Option<String>,
        /// Its name, when it has one.
        name: Option<String>,
        message: String,
    },
}

impl Listed {
    pub(crate) fn from_value(value: Value) -> Self {
        if value.get("item_status").and_then(Value::as_str) == Some("trashed") {
            return Self::Other;
        }
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        let name = value.get("name").and_then(Value::as_str).map(str::to_owned);
        let malformed = |e: serde_json::Error| Self::Malformed {
            id: id.clone(),
            name: name.clone(),
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
            Some("web_link") => match serde_json::from_value::<WebLinkMeta>(value) {
                Ok(meta) => Self::WebLink(Box::new(meta)),
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
    role: Option<String>,
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

/// The collaboration roles that may read a file (Box's role table: the others, `uploader`,
/// may only upload and see names). An allow-list: a role Box adds later grants nothing until
/// it is looked at.
const READ_ROLES: &[&str] = &[
    "editor",
    "viewer",
    "previewer",
    "previewer uploader",
    "viewer uploader",
    "co-owner",
    "owner",
];

/// How often `files/{id}/content` is asked while Box answers `202` (not ready yet).
const NOT_READY_TRIES: u32 = 3;
/// The longest wait for a file that is not ready, whatever `Retry-After` asks.
const NOT_READY_WAIT_CAP: Duration = Duration::from_secs(10);
/// The wait when a `202` names none.
const NOT_READY_WAIT: Duration = Duration::from_secs(2);

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
    /// The user every request acts as (`As-User`), when configured.
    as_user: Option<String>,
}

impl Client {
    pub(crate) fn new(
        http: HttpClient,
        token: Arc<OAuthToken>,
        api: Url,
        page_size: u32,
        as_user: Option<String>,
    ) -> Self {
        Self {
            http,
            token,
            api,
            page_size,
            as_user,
        }
    }

    /// `req` acting as the configured user, if any.
    fn acting(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.as_user {
            Some(user) => req.header("As-User", user),
            None => req,
        }
    }

    /// This client acting as the user `user` (`As-User`), or as the token's own user.
    pub(crate) fn acting_as(&self, user: Option<String>) -> Self {
        Self {
            as_user: user,
            ..self.clone()
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
                let mut req = self.acting(
                    self.http
                        .get(url.clone())
                        .query(query.iter().map(|(k, v)| (*k, v)))
                        .auth(auth, self.token.field()),
                );
                if let Some(max) = max {
                    req = req.max_body_bytes(max);
                }
                req
            })
            .await
    }

    /// `url` with the current token and no renewal on 401 (see [`folder_items_unrenewed`]).
    ///
    /// [`folder_items_unrenewed`]: Self::folder_items_unrenewed
    async fn get_unrenewed(&self, url: Url, query: &[(&str, String)]) -> Result<Response> {
        let auth = self.token.bearer(&self.http).await?;
        self.acting(
            self.http
                .get(url)
                .query(query.iter().map(|(k, v)| (*k, v)))
                .auth(auth, self.token.field()),
        )
        .send()
        .await
    }

    fn items_request(
        &self,
        id: &str,
        marker: Option<&str>,
        limit: u32,
        slim: bool,
    ) -> Result<(Url, Vec<(&'static str, String)>)> {
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
        Ok((url, query))
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
        let (url, query) = self.items_request(id, marker, limit, slim)?;
        self.get(url, &query, None).await?.json()
    }

    /// [`folder_items`](Self::folder_items) with the token as it is: a 401 is an error, not a
    /// renewal (which spends Box's single-use refresh token), for a check with no
    /// [`CredentialStore`](connector_core::CredentialStore) to keep the new one.
    pub(crate) async fn folder_items_unrenewed(
        &self,
        id: &str,
        marker: Option<&str>,
        limit: u32,
        slim: bool,
    ) -> Result<ItemsPage> {
        let (url, query) = self.items_request(id, marker, limit, slim)?;
        self.get_unrenewed(url, &query).await?.json()
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

    /// The web link `id` with [`ITEM_FIELDS`]; none when it is gone.
    pub(crate) async fn web_link(&self, id: &str) -> Result<Option<WebLinkMeta>> {
        let url = self.endpoint(&["2.0", "web_links", id])?;
        match self
            .get(url, &[("fields", ITEM_FIELDS.to_owned())], None)
            .await
        {
            Ok(resp) => resp.json().map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the folder `id` may be read, has collaborations or a shared link, and the
    /// folders above it (for the configured folder, whose listing entry the walk never sees,
    /// and those above it).
    pub(crate) async fn folder(&self, id: &str) -> Result<FolderMeta> {
        let url = self.endpoint(&["2.0", "folders", id])?;
        self.get(
            url,
            &[(
                "fields",
                "type,id,name,has_collaborations,shared_link,path_collection".to_owned(),
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
                match c.role.as_deref() {
                    Some(role) if READ_ROLES.contains(&role) => {}
                    Some("uploader") => continue,
                    Some(other) => {
                        tracing::warn!(connector = SOURCE, item = %id, role = other, "a collaboration of a role this connector does not know grants no access");
                        continue;
                    }
                    // Box always sends the role; an answer without one keeps the old meaning.
                    None => {}
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

    /// The user the token belongs to: its login and enterprise.
    pub(crate) async fn me(&self) -> Result<Me> {
        let url = self.endpoint(&["2.0", "users", "me"])?;
        self.get(url, &[("fields", "id,login,enterprise".to_owned())], None)
            .await?
            .json()
    }

    /// The comments of the file `id`, oldest first (offset paging: Box's comments endpoint
    /// has no marker), at most `max` of them.
    pub(crate) async fn comments(&self, id: &str, max: u64) -> Result<Vec<Comment>> {
        let url = self.endpoint(&["2.0", "files", id, "comments"])?;
        let mut out = Vec::new();
        let limit: u64 = 1000;
        let mut offset: u64 = 0;
        loop {
            let query = [
                ("offset", offset.to_string()),
                ("limit", limit.to_string()),
                (
                    "fields",
                    "type,id,message,is_reply_comment,created_by,created_at".to_owned(),
                ),
            ];
            let page: CommentsPage = self.get(url.clone(), &query, None).await?.json()?;
            let got = page.entries.len() as u64;
            out.extend(page.entries);
            offset += got;
            if got == 0 || offset >= page.total_count || offset >= max {
                break;
            }
        }
        out.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        Ok(out)
    }

    /// One page of the enterprise's managed users, from `marker`; the next marker with it.
    pub(crate) async fn users(
        &self,
        marker: Option<&str>,
    ) -> Result<(Vec<EnterpriseUser>, Option<String>)> {
        let url = self.endpoint(&["2.0", "users"])?;
        let mut query = vec![
            ("user_type", "managed".to_owned()),
            ("usemarker", "true".to_owned()),
            ("limit", "1000".to_owned()),
            ("fields", "id,type,status".to_owned()),
        ];
        if let Some(m) = marker {
            query.push(("marker", m.to_owned()));
        }
        // The users are the token's: never listed as another user.
        let page: UsersPage = self.acting_as(None).get(url, &query, None).await?.json()?;
        Ok((page.entries, page.next_marker.filter(|m| !m.is_empty())))
    }

    /// Downloads the file `id`, refusing a body over `max` bytes; Box answers with a redirect
    /// to its download host, which is followed. A file uploaded just before is answered `202`
    /// with `Retry-After` until Box has stored it: that is waited out a few times (never
    /// taken for its empty body), then an `Unavailable` error the item's failure carries.
    pub(crate) async fn download(&self, id: &str, max: u64) -> Result<Download> {
        let url = self.endpoint(&["2.0", "files", id, "content"])?;
        for attempt in 1..=NOT_READY_TRIES {
            let resp = match self.get(url.clone(), &[], Some(max)).await {
                Ok(resp) => resp,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Download::Gone),
                Err(e) => return Err(e),
            };
            if resp.status() != StatusCode::ACCEPTED {
                return Ok(Download::Data(resp.into_body().to_vec()));
            }
            if attempt == NOT_READY_TRIES {
                break;
            }
            let wait = resp
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(NOT_READY_WAIT, Duration::from_secs)
                .min(NOT_READY_WAIT_CAP);
            tokio::time::sleep(wait).await;
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "Box has not finished storing the file (HTTP 202 to its download {NOT_READY_TRIES} times): it was probably uploaded moments ago; the next run fetches it"
            ),
        )
        .with_connector(SOURCE)
        .with_retryable(true))
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
