//! Drive v3 requests: file listings, shared drives, exports and downloads, each with a token
//! for the user it acts as.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use connector_core::http::{RequestBuilder, Response};
use connector_core::pages::Page;
use connector_core::{Result, SyncContext, TimeWindow};
use url::Url;

use super::SOURCE;
use super::config::{DEFAULT_DRIVE_BASE_URL, DEFAULT_SHEETS_BASE_URL, GoogleDriveConfig};
use super::model::{
    ChangeList, DriveList, FileList, PERMISSION_FIELDS, Permission, PermissionList, StartPageToken,
};
use crate::auth::GoogleApi;

/// Read-only access to Drive.
pub(crate) const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";

/// What one listing walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listing {
    /// The files a user owns.
    Mine(String),
    /// The files a user can see in their own corpus without owning them: those shared with
    /// them (RAGFlow's `not 'me' in owners`, so with [`Listing::Mine`] it is the whole corpus).
    SharedWithMe(String),
    /// A shared drive's files.
    Drive(String),
    /// A folder's children.
    Folder(String),
}

/// What a person reads in a failure: "the My Drive of a@example.com", "shared drive 0AD1".
impl std::fmt::Display for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mine(u) => write!(f, "the My Drive of `{u}`"),
            Self::SharedWithMe(u) => write!(f, "the files shared with `{u}`"),
            Self::Drive(d) => write!(f, "shared drive `{d}`"),
            Self::Folder(id) => write!(f, "folder `{id}`"),
        }
    }
}

impl Listing {
    /// The key of `completed_until`.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::Mine(u) => format!("my_drive:{u}"),
            Self::SharedWithMe(u) => format!("shared_with_me:{u}"),
            Self::Drive(d) => format!("drive:{d}"),
            Self::Folder(f) => format!("folder:{f}"),
        }
    }
}

/// One changes feed (`changes.list`): what a windowed run reads, besides its listings, for the
/// files whose change moved no `modifiedTime` (a move, a share, a permission change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Feed {
    /// A user's corpus (their My Drive and the files shared with them), shared drives left
    /// out: each has its own feed.
    User(String),
    /// A shared drive's files.
    Drive(String),
    /// Everything the folders' reader sees, shared drives included, for the crawled folders.
    Folders,
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(u) => write!(f, "the changes feed of `{u}`"),
            Self::Drive(d) => write!(f, "the changes feed of shared drive `{d}`"),
            Self::Folders => f.write_str("the changes feed of the shared folders' reader"),
        }
    }
}

impl Feed {
    /// The key of the checkpoint's `changes`.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::User(u) => format!("user:{u}"),
            Self::Drive(d) => format!("drive:{d}"),
            Self::Folders => "folders".to_owned(),
        }
    }

    /// The feed whose changes concern `listing`'s files, if any (folders have one feed).
    pub(crate) fn of(listing: &Listing) -> Option<Self> {
        match listing {
            Listing::Mine(u) | Listing::SharedWithMe(u) => Some(Self::User(u.clone())),
            Listing::Drive(d) => Some(Self::Drive(d.clone())),
            Listing::Folder(_) => None,
        }
    }
}

/// The Drive client, cheap to clone.
#[derive(Clone)]
pub(crate) struct DriveClient {
    pub(crate) api: GoogleApi,
    pub(crate) config: Arc<GoogleDriveConfig>,
    pub(crate) drive_base: Url,
    pub(crate) sheets_base: Url,
    /// Set once the Sheets API answered that it cannot serve this project (not enabled), so
    /// later spreadsheets go straight to the xlsx export.
    sheets_unavailable: Arc<AtomicBool>,
}

/// A Drive query time in RFC 3339 with milliseconds.
fn query_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl DriveClient {
    /// The client of a validated `config`.
    ///
    /// # Errors
    /// When the credentials cannot be read or the HTTP client cannot start.
    pub(crate) fn new(config: GoogleDriveConfig) -> Result<Self> {
        Ok(Self {
            api: GoogleApi::new(
                SOURCE,
                &config.credentials,
                config.token_uri.as_ref(),
                config.directory_base_url.as_ref(),
                // Listings get core's default body cap; `max_file_size` caps the downloads and
                // exports, per request.
                None,
                &config.network_policy()?,
            )?,
            drive_base: crate::url_or(config.drive_base_url.as_ref(), DEFAULT_DRIVE_BASE_URL)?,
            sheets_base: crate::url_or(config.sheets_base_url.as_ref(), DEFAULT_SHEETS_BASE_URL)?,
            sheets_unavailable: Arc::default(),
            config: Arc::new(config),
        })
    }

    /// This client counting into and stopping with `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            api: self.api.with_context(ctx),
            ..self.clone()
        }
    }

    /// A Drive GET of `path` as `subject`, its query set by `build`.
    async fn send(
        &self,
        path: &str,
        subject: Option<&str>,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let url = crate::endpoint(&self.drive_base, path)?;
        self.api.send(url, subject, &[DRIVE_SCOPE], build).await
    }

    /// The admin a service account acts as for directory, shared drives and folders; `None`
    /// for an OAuth user.
    pub(crate) fn admin(&self) -> Option<&str> {
        if self.api.is_service_account() {
            self.config.credentials.google_primary_admin.as_deref()
        } else {
            None
        }
    }

    /// The subject a listing acts as.
    pub(crate) fn subject<'a>(&'a self, listing: &'a Listing) -> Option<&'a str> {
        if !self.api.is_service_account() {
            return None;
        }
        match listing {
            Listing::Mine(u) | Listing::SharedWithMe(u) => Some(u.as_str()),
            Listing::Drive(_) | Listing::Folder(_) => self.admin(),
        }
    }

    /// One page of a listing. Folders are listed whole (their subfolders are needed whatever
    /// the window); the others ask Drive for the window's files only.
    pub(crate) async fn files(
        &self,
        listing: &Listing,
        subject: Option<&str>,
        page_token: Option<&str>,
        window: Option<TimeWindow>,
        fields: &str,
    ) -> Result<Page<FileList, String>> {
        let mut q = match listing {
            Listing::Mine(_) => "'me' in owners and trashed = false".to_owned(),
            Listing::SharedWithMe(_) => "not 'me' in owners and trashed = false".to_owned(),
            Listing::Drive(_) => "trashed = false".to_owned(),
            Listing::Folder(id) => format!(
                "'{}' in parents and trashed = false",
                id.replace('\'', "\\'")
            ),
        };
        if let Some(w) = window
            && !matches!(listing, Listing::Folder(_))
        {
            q.push_str(&format!(
                " and modifiedTime >= '{}' and modifiedTime < '{}'",
                query_time(w.start),
                query_time(w.end)
            ));
        }
        let build = |req: RequestBuilder| {
            let req = req.query([
                ("q", q.as_str()),
                ("pageSize", "1000"),
                ("fields", fields),
                ("supportsAllDrives", "true"),
            ]);
            let req = match listing {
                Listing::Mine(_) | Listing::SharedWithMe(_) => req.query([("corpora", "user")]),
                Listing::Drive(id) => req.query([
                    ("corpora", "drive"),
                    ("driveId", id.as_str()),
                    ("includeItemsFromAllDrives", "true"),
                ]),
                Listing::Folder(_) => req.query([
                    ("corpora", "allDrives"),
                    ("includeItemsFromAllDrives", "true"),
                ]),
            };
            match page_token {
                Some(t) => req.query([("pageToken", t)]),
                None => req,
            }
        };
        let list: FileList = self.send("drive/v3/files", subject, build).await?.json()?;
        let next = list.next_page_token.clone().filter(|t| !t.is_empty());
        Ok(Page::new(list, next))
    }

    /// Where `feed` stands now (`changes.getStartPageToken`): its changes from here on.
    pub(crate) async fn start_page_token(
        &self,
        subject: Option<&str>,
        feed: &Feed,
    ) -> Result<String> {
        let build = |req: RequestBuilder| {
            let req = req.query([("supportsAllDrives", "true")]);
            match feed {
                Feed::Drive(d) => req.query([("driveId", d.as_str())]),
                Feed::User(_) | Feed::Folders => req,
            }
        };
        let token: StartPageToken = self
            .send("drive/v3/changes/startPageToken", subject, build)
            .await?
            .json()?;
        Ok(token.start_page_token)
    }

    /// One page of `feed` from `page_token` (`changes.list`), removals included, with
    /// `fields`.
    pub(crate) async fn changes(
        &self,
        subject: Option<&str>,
        feed: &Feed,
        page_token: &str,
        fields: &str,
    ) -> Result<ChangeList> {
        let build = |req: RequestBuilder| {
            let req = req.query([
                ("pageToken", page_token),
                ("pageSize", "1000"),
                ("fields", fields),
                ("spaces", "drive"),
                ("includeRemoved", "true"),
                ("supportsAllDrives", "true"),
            ]);
            match feed {
                Feed::User(_) => req.query([("includeItemsFromAllDrives", "false")]),
                Feed::Drive(d) => req.query([
                    ("driveId", d.as_str()),
                    ("includeItemsFromAllDrives", "true"),
                ]),
                Feed::Folders => req.query([("includeItemsFromAllDrives", "true")]),
            }
        };
        self.send("drive/v3/changes", subject, build).await?.json()
    }

    /// One page of the shared drives: with a service account every shared drive of the
    /// domain (`useDomainAdminAccess`, as RAGFlow and Onyx ask, so drives the admin is not a
    /// member of are listed too), with an OAuth token those its user is a member of.
    pub(crate) async fn drives(
        &self,
        page_token: Option<&str>,
    ) -> Result<Page<Vec<String>, String>> {
        let admin_access = self.api.is_service_account();
        let build = |req: RequestBuilder| {
            let mut req = req.query([("pageSize", "100"), ("fields", "nextPageToken,drives(id)")]);
            if admin_access {
                req = req.query([("useDomainAdminAccess", "true")]);
            }
            match page_token {
                Some(t) => req.query([("pageToken", t)]),
                None => req,
            }
        };
        let list: DriveList = self
            .send("drive/v3/drives", self.admin(), build)
            .await?
            .json()?;
        let next = list.next_page_token.filter(|t| !t.is_empty());
        Ok(Page::new(
            list.drives.into_iter().map(|d| d.id).collect(),
            next,
        ))
    }

    /// Every permission of a file, as `subject` (`permissions.list`, all pages). With
    /// `admin_access` the admin reads a shared drive's own permissions (its members) whether
    /// or not they are one (`useDomainAdminAccess`, which Drive takes for shared drives only).
    pub(crate) async fn permissions(
        &self,
        subject: Option<&str>,
        file_id: &str,
        admin_access: bool,
    ) -> Result<Vec<Permission>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        // A bound on pages, so a service that repeats a page token cannot loop forever.
        for _ in 0..1000 {
            let build = |req: RequestBuilder| {
                let mut req = req.query([
                    ("pageSize", "100"),
                    ("supportsAllDrives", "true"),
                    ("fields", PERMISSION_FIELDS),
                ]);
                if admin_access {
                    req = req.query([("useDomainAdminAccess", "true")]);
                }
                match token.as_deref() {
                    Some(t) => req.query([("pageToken", t)]),
                    None => req,
                }
            };
            let list: PermissionList = self
                .send(
                    &format!("drive/v3/files/{file_id}/permissions"),
                    subject,
                    build,
                )
                .await?
                .json()?;
            out.extend(list.permissions);
            match list.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) if token.as_deref() != Some(t.as_str()) => token = Some(t),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// One file's metadata (a shortcut's target), as `subject`.
    pub(crate) async fn file(
        &self,
        subject: Option<&str>,
        id: &str,
        fields: &str,
    ) -> Result<serde_json::Value> {
        self.send(&format!("drive/v3/files/{id}"), subject, |req| {
            req.query([("supportsAllDrives", "true"), ("fields", fields)])
        })
        .await?
        .json()
    }

    /// A spreadsheet's tabs with the Sheets API (`spreadsheets.get` for the tab names, then
    /// one `values.batchGet` of every grid tab, formatted values, row by row), each response
    /// at most `cap` bytes; `None` where the Sheets API cannot serve it (not enabled in the
    /// Cloud project, which is then remembered for the run; 403 or 404 for this file), for
    /// the caller to export xlsx.
    /// The Drive scope is one the Sheets API accepts: no new delegation.
    ///
    /// # Errors
    /// Any other failure (rate limits after retries, a body over `cap`, a malformed answer).
    pub(crate) async fn sheet_tabs(
        &self,
        subject: Option<&str>,
        id: &str,
        cap: u64,
    ) -> Result<Option<Vec<(String, Vec<Vec<String>>)>>> {
        if self.sheets_unavailable.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let unavailable = |e: &connector_core::Error| {
            matches!(
                e.kind(),
                connector_core::ErrorKind::PermissionDenied | connector_core::ErrorKind::NotFound
            )
        };
        let url = crate::endpoint(&self.sheets_base, &format!("v4/spreadsheets/{id}"))?;
        let meta = self
            .api
            .send(url, subject, &[DRIVE_SCOPE], |req| {
                req.query([("fields", "sheets.properties(title,sheetType)")])
                    .max_body_bytes(cap)
            })
            .await;
        let meta: SpreadsheetMeta = match meta {
            Ok(r) => r.json()?,
            Err(e) if unavailable(&e) => {
                // Only a disabled API concerns every spreadsheet; a file the API cannot find or
                // show (gone since the listing, not shared) falls back alone, and its export
                // then says what is wrong with it.
                if e.message().contains(crate::auth::API_DISABLED) {
                    tracing::warn!(
                        "the Sheets API is not enabled ({e}); spreadsheets are read as xlsx exports for the rest of this run: enable the Google Sheets API in the Cloud project for text per tab"
                    );
                    self.sheets_unavailable.store(true, Ordering::Relaxed);
                }
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let titles: Vec<String> = meta
            .sheets
            .into_iter()
            .filter_map(|s| s.properties)
            .filter(|p| p.sheet_type.as_deref().is_none_or(|t| t == "GRID"))
            .map(|p| p.title)
            .collect();
        if titles.is_empty() {
            return Ok(Some(Vec::new()));
        }
        // A1 notation: a tab name in single quotes, its own quotes doubled.
        let ranges: Vec<String> = titles
            .iter()
            .map(|t| format!("'{}'", t.replace('\'', "''")))
            .collect();
        let url = crate::endpoint(
            &self.sheets_base,
            &format!("v4/spreadsheets/{id}/values:batchGet"),
        )?;
        let values: BatchValues = self
            .api
            .send(url, subject, &[DRIVE_SCOPE], |req| {
                let mut req = req
                    .query([
                        ("majorDimension", "ROWS"),
                        ("valueRenderOption", "FORMATTED_VALUE"),
                    ])
                    .max_body_bytes(cap);
                for r in &ranges {
                    req = req.query([("ranges", r.as_str())]);
                }
                req
            })
            .await?
            .json()?;
        let mut rows = values.value_ranges.into_iter();
        Ok(Some(
            titles
                .into_iter()
                .map(|t| {
                    let cells = rows
                        .next()
                        .map(|r| {
                            r.values
                                .into_iter()
                                .map(|row| row.into_iter().map(cell_text).collect())
                                .collect()
                        })
                        .unwrap_or_default();
                    (t, cells)
                })
                .collect(),
        ))
    }

    /// A Google Docs editors file exported as `mime`, at most `cap` bytes.
    pub(crate) async fn export(
        &self,
        subject: Option<&str>,
        id: &str,
        mime: &str,
        cap: u64,
    ) -> Result<Bytes> {
        let resp = self
            .send(&format!("drive/v3/files/{id}/export"), subject, |req| {
                req.query([("mimeType", mime)]).max_body_bytes(cap)
            })
            .await?;
        Ok(resp.into_body())
    }

    /// A file's content, at most `cap` bytes.
    pub(crate) async fn download(
        &self,
        subject: Option<&str>,
        id: &str,
        cap: u64,
    ) -> Result<Bytes> {
        let resp = self
            .send(&format!("drive/v3/files/{id}"), subject, |req| {
                req.query([("alt", "media"), ("supportsAllDrives", "true")])
                    .max_body_bytes(cap)
            })
            .await?;
        Ok(resp.into_body())
    }

    /// Who the credentials act as (`about.get`): the e-mail, when Drive tells it.
    pub(crate) async fn about(&self) -> Result<Option<String>> {
        let about: serde_json::Value = self
            .send("drive/v3/about", self.admin(), |req| {
                req.query([("fields", "user(emailAddress)")])
            })
            .await?
            .json()?;
        Ok(about
            .pointer("/user/emailAddress")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned))
    }
}

/// `spreadsheets.get` with `fields=sheets.properties(title,sheetType)`.
#[derive(serde::Deserialize)]
struct SpreadsheetMeta {
    #[serde(default)]
    sheets: Vec<SheetMeta>,
}

#[derive(serde::Deserialize)]
struct SheetMeta {
    #[serde(default)]
    properties: Option<SheetProperties>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SheetProperties {
    #[serde(default)]
    title: String,
    /// `GRID`; `OBJECT` for a tab holding a chart only.
    #[serde(default)]
    sheet_type: Option<String>,
}

/// `values.batchGet`: one value range per range asked, in order.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchValues {
    #[serde(default)]
    value_ranges: Vec<ValueRange>,
}

#[derive(serde::Deserialize)]
struct ValueRange {
    /// Rows of cells; trailing empty rows and cells are left out by the API.
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

/// A formatted cell as text (formatted values are strings; anything else as JSON text).
fn cell_text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
