//! The Dropbox API v2 calls the connector makes, and what their answers hold.
//!
//! RPC endpoints (`files/list_folder`, `/continue`, `files/get_metadata`) take a JSON body;
//! the content endpoint `files/download` takes its argument as JSON in the `Dropbox-API-Arg`
//! header, with every character outside ASCII escaped as `\uXXXX` (a header carries ASCII
//! only; Dropbox documents this escaping). Endpoint errors come as 409 with an
//! `error_summary` such as `path/not_found/..` or `reset/..`.
//!
//! Every call but `users/get_current_account` carries `Dropbox-API-Path-Root` with the team
//! root when the account is in a team space (its root namespace is not its home), and
//! `Dropbox-API-Select-User` when a team token reads one member's Dropbox.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::http::{
    Auth, ErrorClass, HttpClient, OAuthToken, Response, StatusCode, is_body_too_large,
};
use connector_core::{Error, ErrorKind, Result, SyncContext};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;

/// The config field the access token lives in.
pub(crate) const TOKEN_FIELD: &str = "credentials.dropbox_access_token";

/// A download's timeout before its size is counted in.
const DOWNLOAD_BASE_TIMEOUT: Duration = Duration::from_secs(60);
/// The slowest transfer rate a download is allowed before it times out: 1 MiB/s.
const DOWNLOAD_MIN_RATE: u64 = 1024 * 1024;

/// The account the token reads (`users/get_current_account`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Account {
    #[serde(default)]
    pub(crate) email: Option<String>,
    pub(crate) root_info: RootInfo,
    /// The team of a Dropbox Business account.
    #[serde(default)]
    pub(crate) team: Option<Team>,
}

/// `FullTeam`: the team a member belongs to.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Team {
    pub(crate) id: String,
}

/// Who a shared link opens a file or folder to, as far as `access` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Audience {
    /// The members of the account's team.
    Team,
    /// Anyone with the link.
    Public,
}

impl Audience {
    /// A link's audience from its `link_permissions`: `effective_audience` (`public`, `team`,
    /// else the link widens nothing: `members`, `password`, `no_one`), else the older
    /// `resolved_visibility` (`public`, `team_only`).
    pub(crate) fn of_link(link: &Value) -> Option<Self> {
        let perms = link.get("link_permissions")?;
        let tag = |key: &str| {
            perms
                .get(key)
                .and_then(|v| v.get(".tag"))
                .and_then(Value::as_str)
        };
        match tag("effective_audience").or(tag("resolved_visibility")) {
            Some("public") => Some(Self::Public),
            Some("team" | "team_only") => Some(Self::Team),
            _ => None,
        }
    }
}

/// `RootInfo`: the account's root namespace (the team root in a team space) and its home.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RootInfo {
    pub(crate) root_namespace_id: String,
    pub(crate) home_namespace_id: String,
}

/// The members of a shared folder or file (`SharedFolderMembers`, `SharedFileMembers`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Members {
    #[serde(default)]
    pub(crate) users: Vec<UserMember>,
    #[serde(default)]
    pub(crate) groups: Vec<GroupMember>,
    #[serde(default)]
    pub(crate) invitees: Vec<InviteeMember>,
    #[serde(default)]
    pub(crate) cursor: Option<String>,
}

/// `UserMembershipInfo`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserMember {
    pub(crate) access_type: Tagged,
    pub(crate) user: UserInfo,
}

/// `UserInfo`: who a member is.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserInfo {
    #[serde(default)]
    pub(crate) email: Option<String>,
}

/// `GroupMembershipInfo`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupMember {
    pub(crate) group: GroupInfo,
}

/// `GroupInfo`: the group's id is what `access` carries.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupInfo {
    pub(crate) group_id: String,
}

/// `InviteeMembershipInfo`: someone invited by e-mail.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InviteeMember {
    pub(crate) invitee: InviteeInfo,
}

/// `InviteeInfo`, a union of which only `email` names a person.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InviteeInfo {
    #[serde(default)]
    pub(crate) email: Option<String>,
}

/// A union value's tag (`{".tag": "owner"}`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tagged {
    #[serde(rename = ".tag")]
    pub(crate) tag: String,
}

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
    #[serde(default)]
    pub(crate) path_lower: Option<String>,
    pub(crate) server_modified: DateTime<Utc>,
    pub(crate) rev: String,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) content_hash: Option<String>,
    #[serde(default)]
    pub(crate) is_downloadable: Option<bool>,
    #[serde(default)]
    pub(crate) sharing_info: Option<SharingInfo>,
    #[serde(default)]
    pub(crate) has_explicit_shared_members: Option<bool>,
    #[serde(default)]
    pub(crate) export_info: Option<ExportInfo>,
}

/// `ExportInfo`: how a file Dropbox does not let be downloaded (a Paper doc) exports.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExportInfo {
    #[serde(default)]
    pub(crate) export_as: Option<String>,
    #[serde(default)]
    pub(crate) export_options: Vec<String>,
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
    /// A `deleted` entry (`DeletedMetadata`): a file or folder deleted or moved away from
    /// this path, which Dropbox names by its lower-case path alone, without an id.
    Deleted(String),
    /// A folder.
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
                let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
                let id = text("id").or_else(|| text("path_display"));
                let shown = text("path_display")
                    .or_else(|| text("name"))
                    .unwrap_or_else(|| "a file".to_owned());
                match serde_json::from_value::<FileMeta>(value) {
                    Ok(meta) => Self::File(Box::new(meta)),
                    Err(e) => Self::Malformed {
                        id,
                        message: format!("{shown}: the listing entry cannot be read: {e}"),
                    },
                }
            }
            Some("deleted") => match value.get("path_lower").and_then(Value::as_str) {
                Some(path) => Self::Deleted(path.to_owned()),
                None => Self::Other,
            },
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

/// A page of `team/members/list_v2` (`TeamMemberInfoV2` entries).
#[derive(Debug, Deserialize)]
struct TeamMembersPage {
    #[serde(default)]
    members: Vec<TeamMemberInfo>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct TeamMemberInfo {
    profile: TeamMemberProfile,
}

#[derive(Debug, Deserialize)]
struct TeamMemberProfile {
    team_member_id: String,
    status: Tagged,
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
    /// Read from the team root when the account is in a team space.
    team_space: bool,
    /// `Dropbox-API-Select-User` for a team token.
    select_user: Option<String>,
    /// The account, asked once per connector (again after Dropbox says its root changed).
    account: Arc<std::sync::Mutex<Option<Account>>>,
}

/// What a [`Client`] reads besides its connection.
pub(crate) struct Scope {
    pub(crate) path: String,
    pub(crate) page_size: u32,
    pub(crate) team_space: bool,
    pub(crate) select_user: Option<String>,
}

impl Client {
    pub(crate) fn new(
        http: HttpClient,
        token: Arc<OAuthToken>,
        api: Url,
        content: Url,
        scope: Scope,
    ) -> Self {
        Self {
            http,
            token,
            api,
            content,
            path: scope.path,
            page_size: scope.page_size,
            team_space: scope.team_space,
            select_user: scope.select_user,
            account: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// This client reading the team member `member` (`Dropbox-API-Select-User`), with its own
    /// account (each member has their own home and may see another root).
    pub(crate) fn for_member(&self, member: &str) -> Self {
        Self {
            select_user: Some(member.to_owned()),
            account: Arc::new(std::sync::Mutex::new(None)),
            ..self.clone()
        }
    }

    /// The active members of the team of a team token (`team/members/list_v2`, then
    /// `team/members/list/continue_v2`), their `team_member_id`s in Dropbox's order. Invited,
    /// suspended and removed members are left out: their Dropbox cannot be selected.
    pub(crate) async fn team_members(&self) -> Result<Vec<String>> {
        let mut members = Vec::new();
        let mut page: TeamMembersPage = self
            .send_rpc(
                "2/team/members/list_v2",
                &json!({"limit": 1000, "include_removed": false}),
                Vec::new(),
            )
            .await?
            .json()?;
        // A cursor Dropbox repeated would loop: the listing ends there.
        loop {
            members.extend(
                page.members
                    .into_iter()
                    .filter(|m| m.profile.status.tag == "active")
                    .map(|m| m.profile.team_member_id),
            );
            let cursor = page.cursor.take().unwrap_or_default();
            if !page.has_more || cursor.is_empty() {
                break;
            }
            let next: TeamMembersPage = self
                .send_rpc(
                    "2/team/members/list/continue_v2",
                    &json!({"cursor": cursor}),
                    Vec::new(),
                )
                .await?
                .json()?;
            if next.cursor.as_deref() == Some(cursor.as_str()) {
                tracing::warn!(
                    connector = SOURCE,
                    "Dropbox repeated the members cursor; the member listing ends here"
                );
                page = TeamMembersPage {
                    has_more: false,
                    ..next
                };
                continue;
            }
            page = next;
        }
        Ok(members)
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

    /// The account the token reads, asked once (`users/get_current_account`, which every
    /// token may call).
    ///
    /// # Errors
    /// A team token without `team_member_id` is a [`ErrorKind::Config`] error naming it.
    pub(crate) async fn account(&self) -> Result<Account> {
        if let Some(known) = self.account.lock().ok().and_then(|a| a.clone()) {
            return Ok(known);
        }
        let headers = self
            .select_user
            .iter()
            .map(|m| ("Dropbox-API-Select-User", m.clone()))
            .collect();
        let account: Account = self
            .send_rpc("2/users/get_current_account", &Value::Null, headers)
            .await?
            .json()?;
        if let Ok(mut slot) = self.account.lock() {
            *slot = Some(account.clone());
        }
        Ok(account)
    }

    /// Forgets the account, so the next call asks again (its team root changed).
    pub(crate) fn forget_account(&self) {
        if let Ok(mut slot) = self.account.lock() {
            *slot = None;
        }
    }

    /// The namespace every path is relative to: the team root in a team space (when
    /// `team_space` is on), else none (the member's home, Dropbox's default).
    pub(crate) async fn path_root(&self) -> Result<Option<String>> {
        if !self.team_space {
            return Ok(None);
        }
        let root = self.account().await?.root_info;
        Ok((root.root_namespace_id != root.home_namespace_id).then_some(root.root_namespace_id))
    }

    /// What a listing cursor is bound to: the folder (lower case, as Dropbox compares paths),
    /// the root namespace, the member read.
    pub(crate) async fn scope_key(&self) -> Result<String> {
        let root = self.path_root().await?.unwrap_or_default();
        let member = self.select_user.as_deref().unwrap_or_default();
        Ok(format!("{root}:{member}:{}", self.path.to_lowercase()))
    }

    /// The headers every call but the account's own carries.
    async fn scope_headers(&self) -> Result<Vec<(&'static str, String)>> {
        let mut headers = Vec::new();
        if let Some(member) = &self.select_user {
            headers.push(("Dropbox-API-Select-User", member.clone()));
        }
        if let Some(root) = self.path_root().await? {
            headers.push((
                "Dropbox-API-Path-Root",
                json!({".tag": "root", "root": root}).to_string(),
            ));
        }
        Ok(headers)
    }

    /// A read-only RPC call with a JSON body (retried like a GET: it changes nothing).
    async fn rpc(&self, path: &str, body: &Value) -> Result<Response> {
        let headers = self.scope_headers().await?;
        self.send_rpc(path, body, headers).await
    }

    async fn send_rpc(
        &self,
        path: &str,
        body: &Value,
        headers: Vec<(&'static str, String)>,
    ) -> Result<Response> {
        let url = self.endpoint(&self.api, path)?;
        self.token
            .send(&self.http, |auth: Auth| {
                let mut req = self
                    .http
                    .post(url.clone())
                    .json(body)
                    .idempotent(true)
                    .auth(auth, TOKEN_FIELD);
                for (name, value) in &headers {
                    req = req.header(name, value);
                }
                req
            })
            .await
            .map_err(|e| self.after_error(e))
    }

    /// `e`, explained when it is a team token without a member; a changed team root makes
    /// the next call ask for the account again.
    fn after_error(&self, e: Error) -> Error {
        if e.kind() == ErrorKind::Checkpoint && e.to_string().contains("root changed") {
            self.forget_account();
        }
        select_user_hint(e)
    }

    /// The first page of the recursive listing of the configured folder; `limit` entries at
    /// most (the configured page size when `None`).
    pub(crate) async fn list_folder(&self, limit: Option<u32>) -> Result<ListPage> {
        self.list(limit, true).await
    }

    /// The first page of a listing, recursive or of the folder alone, without the deleted
    /// entries a cursor's changes need (prune's id listing, `check`).
    pub(crate) async fn list(&self, limit: Option<u32>, recursive: bool) -> Result<ListPage> {
        self.list_with(limit, recursive, false).await
    }

    /// The first page of the recursive listing a sync walks: with `include_deleted`, so the
    /// cursor it ends with reports files deleted or moved away since as `deleted` entries.
    pub(crate) async fn list_changes(&self) -> Result<ListPage> {
        self.list_with(None, true, true).await
    }

    async fn list_with(
        &self,
        limit: Option<u32>,
        recursive: bool,
        include_deleted: bool,
    ) -> Result<ListPage> {
        let body = json!({
            "path": self.path,
            "recursive": recursive,
            "include_deleted": include_deleted,
            "include_non_downloadable_files": true,
            "include_has_explicit_shared_members": true,
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
            .await
            .map_err(|e| self.named_path(e))?;
        resp.json()
    }

    /// Everyone a shared folder is shared with (`sharing/list_folder_members` and its
    /// `/continue`).
    pub(crate) async fn folder_members(&self, shared_folder_id: &str) -> Result<Members> {
        let first = self
            .rpc(
                "2/sharing/list_folder_members",
                &json!({"shared_folder_id": shared_folder_id, "limit": 1000}),
            )
            .await?;
        let mut all: Members = first.json()?;
        while let Some(cursor) = all.cursor.take() {
            let more: Members = self
                .rpc(
                    "2/sharing/list_folder_members/continue",
                    &json!({"cursor": cursor}),
                )
                .await?
                .json()?;
            all.users.extend(more.users);
            all.groups.extend(more.groups);
            all.invitees.extend(more.invitees);
            all.cursor = more.cursor;
        }
        Ok(all)
    }

    /// The widest audience of the shared links of the account, by the lower-case path of the
    /// file or folder each opens (`sharing/list_shared_links` without a path: every link of
    /// the user, paged); links that widen nothing are left out.
    pub(crate) async fn link_audiences(&self) -> Result<HashMap<String, Audience>> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            links: Vec<Value>,
            #[serde(default)]
            has_more: bool,
            #[serde(default)]
            cursor: Option<String>,
        }
        let mut out: HashMap<String, Audience> = HashMap::new();
        let mut body = json!({});
        loop {
            let page: Page = self
                .rpc("2/sharing/list_shared_links", &body)
                .await?
                .json()?;
            for link in &page.links {
                let path = link.get("path_lower").and_then(Value::as_str);
                if let (Some(path), Some(audience)) = (path, Audience::of_link(link)) {
                    let slot = out.entry(path.to_owned()).or_insert(audience);
                    *slot = (*slot).max(audience);
                }
            }
            match page.cursor.filter(|_| page.has_more) {
                Some(cursor) => body = json!({"cursor": cursor}),
                None => break,
            }
        }
        Ok(out)
    }

    /// The members of files shared on their own, by file id (`sharing/list_file_members/batch`,
    /// up to 100 files a call); a file Dropbox answers with an error for is left out.
    pub(crate) async fn file_members(&self, ids: &[String]) -> Result<HashMap<String, Members>> {
        #[derive(Deserialize)]
        struct Entry {
            file: String,
            result: Value,
        }
        let mut out = HashMap::new();
        for chunk in ids.chunks(100) {
            let entries: Vec<Entry> = self
                .rpc(
                    "2/sharing/list_file_members/batch",
                    &json!({"files": chunk, "limit": 300}),
                )
                .await?
                .json()?;
            for entry in entries {
                if entry.result.get(".tag").and_then(Value::as_str) != Some("result") {
                    continue;
                }
                if let Some(members) = entry.result.get("members")
                    && let Ok(members) = serde_json::from_value::<Members>(members.clone())
                {
                    out.insert(entry.file, members);
                }
            }
        }
        Ok(out)
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

    /// The id of the file that was last at `path_lower` (`files/list_revisions` in `path`
    /// mode: its newest revision, deleted or moved away, still carries the file id); none when
    /// the path is a folder (`not_file`) or Dropbox knows nothing there.
    pub(crate) async fn file_id_at(&self, path_lower: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct Revisions {
            #[serde(default)]
            entries: Vec<Value>,
        }
        let body = json!({"path": path_lower, "mode": "path", "limit": 1});
        match self.rpc("2/files/list_revisions", &body).await {
            Ok(resp) => {
                let revisions: Revisions = resp.json()?;
                Ok(revisions
                    .entries
                    .first()
                    .and_then(|e| e.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned))
            }
            // A folder (`path/not_file`), or nothing ever at the path (`path/not_found`).
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidData) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Downloads the file `id` listed at `size` bytes, refusing a body over `max` bytes; the
    /// timeout grows with the size (a minute, plus a second per MiB).
    pub(crate) async fn download(&self, id: &str, size: u64, max: u64) -> Result<Download> {
        self.content_call("2/files/download", &json!({"path": id}), size, max)
            .await
    }

    /// Exports the file `id` (a Paper doc) as `format` (`markdown`, `html`, …), refusing a
    /// body over `max` bytes.
    pub(crate) async fn export(&self, id: &str, format: &str, max: u64) -> Result<Download> {
        let arg = json!({"path": id, "export_format": format});
        self.content_call("2/files/export", &arg, 0, max).await
    }

    async fn content_call(&self, path: &str, arg: &Value, size: u64, max: u64) -> Result<Download> {
        let url = self.endpoint(&self.content, path)?;
        let arg = api_arg(arg);
        let headers = self.scope_headers().await?;
        let timeout = download_timeout(size);
        let sent = self
            .token
            .send(&self.http, |auth: Auth| {
                let mut req = self
                    .http
                    .post(url.clone())
                    .header("Dropbox-API-Arg", &arg)
                    .idempotent(true)
                    .timeout(timeout)
                    .max_body_bytes(max)
                    .auth(auth, TOKEN_FIELD);
                for (name, value) in &headers {
                    req = req.header(name, value);
                }
                req
            })
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Download::Gone),
            Err(e) => return Err(self.after_error(e)),
        };
        /// `files/export`'s result wraps the file's metadata in `file_metadata`.
        #[derive(Deserialize)]
        struct Exported {
            file_metadata: FileMeta,
        }
        let meta = resp.header("dropbox-api-result").and_then(|h| {
            // Read straight into the metadata, no JSON tree in between: once per file.
            serde_json::from_str::<FileMeta>(h).ok().or_else(|| {
                serde_json::from_str::<Exported>(h)
                    .ok()
                    .map(|e| e.file_metadata)
            })
        });
        // The body's buffer is taken over, not copied, when nothing else holds it.
        Ok(Download::Data(
            Vec::from(resp.into_body()),
            meta.map(Box::new),
        ))
    }

    /// Whether the token may read file contents: a download of a path that does not exist
    /// answers `path/not_found` when it may, `missing_scope` when it may not.
    pub(crate) async fn probe_content(&self) -> Result<()> {
        let probe = format!("{}/.connectors-check-{}", self.path, std::process::id());
        // A body cap that still reads Dropbox's error body in full.
        match self.download(&probe, 0, 64 * 1024).await {
            Ok(_) => Ok(()),
            Err(e) if is_body_too_large(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A listing error naming the `path` field when the folder does not exist.
    fn named_path(&self, e: Error) -> Error {
        if e.kind() == ErrorKind::InvalidData && e.to_string().contains("not_folder") {
            return Error::new(
                ErrorKind::Config,
                format!("`{}` is a file, not a folder, in this Dropbox", self.path),
            )
            .with_connector(SOURCE)
            .with_field("path")
            .with_cause(e);
        }
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

/// A download's timeout: [`DOWNLOAD_BASE_TIMEOUT`] plus the time `size` bytes take at
/// [`DOWNLOAD_MIN_RATE`].
pub(crate) fn download_timeout(size: u64) -> Duration {
    DOWNLOAD_BASE_TIMEOUT + Duration::from_secs(size / DOWNLOAD_MIN_RATE)
}

/// A team token used without `team_member_id`: Dropbox's 400 says to send
/// `Dropbox-API-Select-User`, which is the config's `team_member_id`.
fn select_user_hint(e: Error) -> Error {
    if e.kind() == ErrorKind::InvalidData && e.to_string().contains("Select-User") {
        Error::new(
            ErrorKind::Config,
            "the token is a team token (a Dropbox Business app with team member file access): \
             set `team_member_id` (`dbmid:…`) to the member whose Dropbox to read",
        )
        .with_connector(SOURCE)
        .with_field("team_member_id")
        .with_cause(e)
    } else {
        e
    }
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    error_summary: String,
    #[serde(default)]
    error: Value,
    #[serde(default)]
    user_message: Option<Value>,
}

/// What Dropbox's error bodies mean (`auth.stone`'s `AuthError`, the error-handling guide):
/// - 409 is an endpoint error whose `error_summary` says which (`path/not_found/..`,
///   `reset/..`);
/// - 401 `missing_scope` is a permission the app lacks (named; no token renewal helps), and
///   `expired_access_token` says how to stop tokens expiring; other 401s are core's;
/// - 403 `invalid_account_type` (the team's monthly data transport limit, or a feature the
///   account lacks) stops the sync; other 403s are a refused access;
/// - 422 `invalid_root`: the team space's root changed since the listing started;
/// - 400 is a bad request (plain text).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let parsed = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let summary = parsed.error_summary;
    let tag = parsed
        .error
        .get(".tag")
        .and_then(Value::as_str)
        .unwrap_or_default();
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
        401 if tag == "missing_scope" || summary.starts_with("missing_scope") => {
            let scope = parsed
                .error
                .get("required_scope")
                .and_then(Value::as_str)
                .unwrap_or("(not named)");
            Some(ErrorClass::new(
                ErrorKind::PermissionDenied,
                format!(
                    "the Dropbox app lacks the scope `{scope}`: enable it in the App Console \
                     (Permissions tab) and issue a new token"
                ),
            ))
        }
        401 if tag == "expired_access_token" || summary.starts_with("expired_access_token") => {
            Some(ErrorClass::new(
                ErrorKind::Unauthenticated,
                "the Dropbox access token expired (App Console tokens last four hours): add \
                 `credentials.dropbox_refresh_token` and `credentials.dropbox_app_key` so the \
                 connector renews it",
            ))
        }
        403 if tag == "invalid_account_type" || summary.starts_with("invalid_account_type") => {
            let said = parsed
                .user_message
                .as_ref()
                .and_then(|m| m.get("text").and_then(Value::as_str).or(m.as_str()))
                .map_or_else(String::new, |t| format!(" ({t})"));
            Some(ErrorClass::new(
                ErrorKind::Config,
                format!(
                    "Dropbox refuses this call for the account{said}: {summary}; for a team \
                     that used all of its monthly data transport API calls, the sync can only \
                     go on once the limit resets or the admin raises it"
                ),
            ))
        }
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!("Dropbox refused access: {summary}"),
        )),
        422 => Some(ErrorClass::new(
            ErrorKind::Checkpoint,
            format!(
                "Dropbox: the team space's root changed ({summary}); the next run lists the \
                 new root from the start"
            ),
        )),
        400 if String::from_utf8_lossy(body).contains("Dropbox-API-Select-User") => {
            Some(ErrorClass::new(
                ErrorKind::InvalidData,
                "Dropbox rejected the request: a team token used without Dropbox-API-Select-User",
            ))
        }
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
    fn download_timeout_grows_with_the_size() {
        assert_eq!(download_timeout(0), Duration::from_secs(60));
        // A 50 MB file listed: 60 s + 47 s at 1 MiB/s.
        assert_eq!(download_timeout(50_000_000), Duration::from_secs(107));
        assert_eq!(download_timeout(1 << 30), Duration::from_secs(60 + 1024));
    }

    #[test]
    fn dropbox_error_tags() {
        let class = |status: u16, body: Value| {
            classify(
                StatusCode::from_u16(status).unwrap(),
                body.to_string().as_bytes(),
            )
            .map(|c| (c.kind, c.message))
        };
        let (kind, message) = class(
            401,
            json!({"error_summary": "missing_scope/..",
            "error": {".tag": "missing_scope", "required_scope": "sharing.read"}}),
        )
        .unwrap();
        assert_eq!(kind, ErrorKind::PermissionDenied);
        assert!(message.contains("`sharing.read`"));
        assert!(
            class(
                401,
                json!({"error_summary": "invalid_access_token/..",
            "error": {".tag": "invalid_access_token"}})
            )
            .is_none(),
            "core's 401"
        );
        let (kind, _) = class(
            422,
            json!({"error_summary": "invalid_root/..",
            "error": {".tag": "invalid_root", "invalid_root": {".tag": "team",
            "home_namespace_id": "9", "root_namespace_id": "8"}}}),
        )
        .unwrap();
        assert_eq!(kind, ErrorKind::Checkpoint);
    }

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
