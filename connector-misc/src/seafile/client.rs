//! The SeaFile Web API calls the connector makes, with either token kind, through core's
//! [`HttpClient`].
//!
//! | | account token (`api2`) | library token (`api/v2.1/via-repo-token`) |
//! |---|---|---|
//! | who | `GET /api2/account/info/` | — |
//! | libraries | `GET /api2/repos/`, `GET /api2/repos/{id}/` | `GET repo-info/` |
//! | folder | `GET /api2/repos/{id}/dir/?p=` (a JSON array) | `GET dir/?path=` (`dirent_list`) |
//! | file | `GET /api2/repos/{id}/file/?p=&reuse=1` | `GET download-link/?path=` |
//!
//! Both tokens go in `Authorization: Token <token>`, which every SeaFile version accepts for
//! both (11.0 also takes `Bearer`; RAGFlow sends `Bearer` with a library token, which older
//! servers refuse). A file is read in two requests: the API answers a download link (a JSON
//! string, `"https://…/seafhttp/files/<access token>/name"`), which is fetched without the
//! API token; the file server answers with `ETag: <object id>` of what it sent. Errors come as
//! `{"error_msg": "…"}` (DRF's own as `{"detail": "…"}`); an encrypted library as 440.

use bytes::Bytes;
use connector_core::http::{Auth, ErrorClass, HttpClient, Response, StatusCode};
use connector_core::{Error, ErrorKind, FieldError, Result, Secret, SyncContext};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::config::{SeafileConfig, SyncScope};
use super::model::{AccountInfo, Library, RepoInfo, dirent_values};

/// Largest directory listing read: a folder of about 200,000 entries.
const LISTING_MAX_BYTES: u64 = 128 * 1024 * 1024;

/// The config field of the account token.
pub(crate) const ACCOUNT_FIELD: &str = "credentials.seafile_token";
/// The config field of the library token.
pub(crate) const REPO_FIELD: &str = "credentials.repo_token";

/// Which API the token speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Account,
    Repo,
}

/// A downloaded file.
pub(crate) struct Downloaded {
    pub(crate) body: Bytes,
    /// The object id the file server says it sent (its `ETag`), when it says.
    pub(crate) object_id: Option<String>,
}

/// The config field a refused login names.
const PASSWORD_FIELD: &str = "credentials.password";

/// An account token asked for with `username` and `password` (`POST /api2/auth-token/`),
/// once per connector, when the first request needs it.
struct PasswordLogin {
    username: String,
    password: Secret,
    token: tokio::sync::OnceCell<Auth>,
}

impl std::fmt::Debug for PasswordLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordLogin")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The answer of `POST /api2/auth-token/`.
#[derive(Deserialize)]
struct AuthToken {
    token: String,
}

/// Requests to one SeaFile server with one token; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) http: HttpClient,
    auth: Auth,
    /// With `username` and `password`: the account token, asked for once.
    login: Option<std::sync::Arc<PasswordLogin>>,
    pub(crate) kind: TokenKind,
    /// `seafile_url` ending in `/`.
    base: Url,
    pub(crate) scope: SyncScope,
    pub(crate) repo_id: Option<String>,
    pub(crate) include_shared: bool,
    /// The folder each library is read from (`/` or `sync_path`).
    pub(crate) root: String,
}

impl Client {
    pub(crate) fn new(config: &SeafileConfig, http: HttpClient) -> Self {
        // `validate` makes sure the token the scope needs is there.
        let (kind, token) = match config.repo_token_in_use() {
            Some(t) => (TokenKind::Repo, t.expose()),
            None => (
                TokenKind::Account,
                config
                    .credentials
                    .seafile_token
                    .as_ref()
                    .map_or("", Secret::expose),
            ),
        };
        let auth = Auth::Header {
            name: "Authorization".to_owned(),
            value: Secret::new(format!("Token {token}")),
        };
        let mut base = config.seafile_url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let login = match (kind, config.credentials.password_login()) {
            (TokenKind::Account, Some((username, password))) => {
                Some(std::sync::Arc::new(PasswordLogin {
                    username: username.to_owned(),
                    password: password.clone(),
                    token: tokio::sync::OnceCell::new(),
                }))
            }
            _ => None,
        };
        Self {
            http,
            auth,
            login,
            kind,
            base,
            scope: config.sync_scope,
            repo_id: config.repo_id.clone(),
            include_shared: config.include_shared,
            root: config.root_path(),
        }
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    fn field(&self) -> &'static str {
        match self.kind {
            TokenKind::Account if self.login.is_some() => PASSWORD_FIELD,
            TokenKind::Account => ACCOUNT_FIELD,
            TokenKind::Repo => REPO_FIELD,
        }
    }

    /// The `Authorization` of API requests: the configured token, or the account token
    /// `username` and `password` get (asked for by the first request of the connector).
    async fn auth(&self) -> Result<Auth> {
        let Some(login) = &self.login else {
            return Ok(self.auth.clone());
        };
        login
            .token
            .get_or_try_init(|| async {
                let url = self.url("api2/auth-token/", &[])?;
                let form: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("username", &login.username)
                    .append_pair("password", login.password.expose())
                    .finish();
                let response = self
                    .http
                    .post(url)
                    .header("Accept", "application/json")
                    .body(form, "application/x-www-form-urlencoded")
                    .client_errors_as_responses()
                    .send()
                    .await?;
                if !response.status().is_success() {
                    let otp = response.header("x-seafile-otp").is_some();
                    let said = connector_core::text::clip(&String::from_utf8_lossy(response.body()), 300).into_owned();
                    let message = if otp {
                        format!("SeaFile refused the login of `{}`: the account has two-factor authentication; use credentials.seafile_token", login.username)
                    } else {
                        format!("SeaFile refused the login of `{}` ({}): {said}", login.username, response.status())
                    };
                    return Err(Error::new(ErrorKind::Unauthenticated, message)
                        .with_connector(SOURCE)
                        .with_field(PASSWORD_FIELD));
                }
                let token: AuthToken = response.json()?;
                Ok(Auth::Header {
                    name: "Authorization".to_owned(),
                    value: Secret::new(format!("Token {}", token.token.trim())),
                })
            })
            .await
            .cloned()
    }

    /// `seafile_url` joined with `path` (relative, no leading `/`) and these query pairs.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base.join(path).map_err(|e| {
            Error::internal(format!("cannot join `{path}` to seafile_url"))
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// `seafile_url` joined with these path segments, each encoded once.
    fn url_segments(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::config(vec![FieldError::new("seafile_url", "cannot carry a path")])
                    .with_connector(SOURCE)
            })?
            .pop_if_empty()
            .extend(segments)
            .push("");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn get(&self, url: Url, max: Option<u64>) -> Result<Response> {
        let mut request = self
            .http
            .get(url)
            .header("Accept", "application/json")
            .auth(self.auth().await?, self.field());
        if let Some(max) = max {
            request = request.max_body_bytes(max);
        }
        request.send().await
    }

    /// The account's e-mail (`GET /api2/account/info/`); none with a library token.
    pub(crate) async fn me(&self) -> Result<Option<String>> {
        if self.kind == TokenKind::Repo {
            return Ok(None);
        }
        let info: AccountInfo = self
            .get(self.url("api2/account/info/", &[])?, None)
            .await?
            .json()?;
        Ok(Some(info.email))
    }

    /// The libraries in scope, sorted by id, each once (the walk order and the checkpoint's).
    ///
    /// # Errors
    /// The HTTP layer's; `NotFound` naming `repo_id` for a library the token cannot see;
    /// `Config` naming `repo_id` when a library token belongs to another library.
    pub(crate) async fn libraries(&self) -> Result<Vec<Library>> {
        let mut libraries = match (self.kind, self.scope) {
            (TokenKind::Repo, _) => vec![self.repo_library().await?],
            (TokenKind::Account, SyncScope::Account) => self.account_libraries().await?,
            (TokenKind::Account, _) => vec![self.configured_library().await?],
        };
        libraries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(libraries)
    }

    async fn repo_library(&self) -> Result<Library> {
        let url = self.url("api/v2.1/via-repo-token/repo-info/", &[])?;
        let info: RepoInfo = self.get(url, None).await?.json()?;
        if let Some(id) = &self.repo_id
            && *id != info.repo_id
        {
            return Err(Error::config(vec![FieldError::new(
                "repo_id",
                format!(
                    "the library token belongs to library {} (`{}`), not {id}",
                    info.repo_id, info.repo_name
                ),
            )])
            .with_connector(SOURCE));
        }
        Ok(Library {
            name: if info.repo_name.is_empty() {
                info.repo_id.clone()
            } else {
                info.repo_name
            },
            id: info.repo_id,
            ..Library::default()
        })
    }

    /// The library `repo_id` with an account token, with the access facts of every
    /// `/api2/repos/` entry of it (how it reaches the account: own, shared, through groups).
    /// `GET /api2/repos/{id}/` tells none of that (its `type` is always `repo`, its `owner`
    /// `self` or `share`): it serves to name a library the listing does not hold, or its 404.
    async fn configured_library(&self) -> Result<Library> {
        let id = self.repo_id.as_deref().unwrap_or_default();
        let me = self.me().await?;
        if let Some(library) = self
            .listed_libraries(me.as_deref(), true)
            .await?
            .into_iter()
            .find(|l| l.id == id)
        {
            return Ok(library);
        }
        let url = self.url_segments(&["api2", "repos", id], &[])?;
        let mut library: Library = self
            .get(url, None)
            .await
            .map_err(|e| named_repo(e, id))?
            .json()?;
        // Not listed (an administrator's token, say): only "self" tells who reads it.
        match (library.owner.as_deref(), &me) {
            (Some("self"), Some(me)) => {
                library.owner = Some(me.clone());
                library.kind = Some("repo".to_owned());
                library.gather(Some(me));
            }
            _ => library.owner = None,
        }
        Ok(library)
    }

    async fn account_libraries(&self) -> Result<Vec<Library>> {
        let me = self.me().await?;
        self.listed_libraries(me.as_deref(), self.include_shared)
            .await
    }

    /// The libraries of `GET /api2/repos/`, each once with the facts of all its entries;
    /// without `shared`, only the account's own.
    async fn listed_libraries(&self, me: Option<&str>, shared: bool) -> Result<Vec<Library>> {
        let url = self.url("api2/repos/", &[])?;
        let entries: Vec<Value> = self.get(url, Some(LISTING_MAX_BYTES)).await?.json()?;
        let mut out: Vec<Library> = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut library: Library = match serde_json::from_value(entry) {
                Ok(l) => l,
                Err(e) => {
                    return Err(Error::invalid_data(format!(
                        "a library in the answer of GET /api2/repos/ cannot be read: {e}"
                    ))
                    .with_connector(SOURCE));
                }
            };
            let own = library.kind.as_deref() == Some("repo")
                || (me.is_some() && library.owner_email() == me);
            if !own && !shared {
                continue;
            }
            library.gather(me);
            match out.iter_mut().find(|l| l.id == library.id) {
                Some(seen) => seen.merge(&library),
                None => out.push(library),
            }
        }
        Ok(out)
    }

    /// Adds to an own library's access the users and groups its owner shared it with
    /// (`GET /api2/repos/{id}/dir/shared_items/?p=/&share_type=user|group`, which only the
    /// owner's token may ask: the account listing names only the owner for an own library).
    /// An answer that cannot be had (an older server, a refused request) leaves the access
    /// at the owner: narrower than the truth, never wider.
    ///
    /// # Errors
    /// One that [ends the sync](ErrorKind::ends_sync) (a refused token).
    pub(crate) async fn add_shares(&self, library: &mut Library) -> Result<()> {
        if self.kind != TokenKind::Account
            || library.kind.as_deref() != Some("repo")
            || library.encrypted
        {
            return Ok(());
        }
        for share_type in ["user", "group"] {
            let url = self.url_segments(
                &["api2", "repos", &library.id, "dir", "shared_items"],
                &[("p", "/"), ("share_type", share_type)],
            )?;
            let items: Vec<Value> = match self.get(url, Some(LISTING_MAX_BYTES)).await {
                Ok(r) => match r.json() {
                    Ok(items) => items,
                    Err(_) => continue,
                },
                Err(e) if e.kind().ends_sync() => return Err(e),
                Err(_) => continue,
            };
            for item in &items {
                match share_type {
                    "user" => {
                        if let Some(user) = item
                            .pointer("/user_info/name")
                            .and_then(Value::as_str)
                            .filter(|u| !u.is_empty())
                        {
                            library.add_reader(user.to_owned());
                        }
                    }
                    _ => {
                        if let Some(group) = item.pointer("/group_info/id") {
                            library.add_group(group);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The entries of the folder `path` of `library`, as sent (each read on its own).
    ///
    /// # Errors
    /// The HTTP layer's (a failed listing is an error, never an empty folder), or
    /// `InvalidData` for an answer that is no listing.
    pub(crate) async fn list_dir(&self, library: &Library, path: &str) -> Result<Vec<Value>> {
        let url = match self.kind {
            TokenKind::Account => {
                self.url_segments(&["api2", "repos", &library.id, "dir"], &[("p", path)])?
            }
            TokenKind::Repo => self.url("api/v2.1/via-repo-token/dir/", &[("path", path)])?,
        };
        let body: Value = self.get(url, Some(LISTING_MAX_BYTES)).await?.json()?;
        dirent_values(body).ok_or_else(|| {
            Error::invalid_data(format!(
                "the listing of {path} in library `{}` is not a list of entries",
                library.name
            ))
            .with_connector(SOURCE)
        })
    }

    /// The file `path` of `library`: a download link from the API, then the link, its body
    /// up to `max` bytes. None when the file is gone.
    ///
    /// A link refused with 400 is asked for again, once: the repo-token API hands out
    /// one-time file-server tokens (`FILESERVER_TOKEN_ONCE_ONLY`, on by default), which the
    /// file server spends on the first request, so the HTTP layer's retry of a request that
    /// failed after it reached the file server meets `Bad access token`.
    ///
    /// # Errors
    /// The HTTP layer's; a body over `max` is
    /// [`is_body_too_large`](connector_core::http::is_body_too_large).
    pub(crate) async fn download(
        &self,
        library: &Library,
        path: &str,
        max: u64,
    ) -> Result<Option<Downloaded>> {
        let mut fresh_link_asked = false;
        loop {
            let Some((link, _held)) = self.download_link(library, path).await? else {
                return Ok(None);
            };
            let response = match self.http.get(link).max_body_bytes(max).send().await {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) if e.kind() == ErrorKind::InvalidData && !fresh_link_asked => {
                    fresh_link_asked = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let object_id = response
                .header("etag")
                .map(|e| e.trim_start_matches("W/").trim_matches('"').to_owned())
                .filter(|e| !e.is_empty());
            return Ok(Some(Downloaded {
                body: response.into_body(),
                object_id,
            }));
        }
    }

    /// A download link for the file `path` of `library`, with the secrets it carries held
    /// (kept out of every message while they live); None when the file is gone.
    async fn download_link(
        &self,
        library: &Library,
        path: &str,
    ) -> Result<Option<(Url, Vec<Secret>)>> {
        let url = match self.kind {
            TokenKind::Account => self.url_segments(
                &["api2", "repos", &library.id, "file"],
                &[("p", path), ("reuse", "1")],
            )?,
            TokenKind::Repo => {
                self.url("api/v2.1/via-repo-token/download-link/", &[("path", path)])?
            }
        };
        let answer = match self.get(url, Some(64 * 1024)).await {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let link: String = answer.json()?;
        let link = link.trim();
        // `…/seafhttp/files/<access token>/<name>`: the token alone too, since a message may
        // show the link in another form (decoded, or its path only).
        let mut held = vec![Secret::new(link.to_owned())];
        if let Some((_, rest)) = link.split_once("/files/")
            && let Some(token) = rest.split('/').next().filter(|t| !t.is_empty())
        {
            held.push(Secret::new(token.to_owned()));
        }
        let link = Url::parse(link).map_err(|e| {
            Error::invalid_data(format!("the download link for {path} is not a URL: {e}"))
                .with_connector(SOURCE)
        })?;
        held.push(Secret::new(link.as_str().to_owned()));
        Ok(Some((link, held)))
    }

    /// The web page of the file `path` of `library` in SeaFile's UI: `/lib/{id}/file/{path}`.
    pub(crate) fn file_link(&self, library: &Library, path: &str) -> Option<Url> {
        let mut url = self.base.clone();
        {
            let mut segments = url.path_segments_mut().ok()?;
            segments.pop_if_empty().extend(["lib", &library.id, "file"]);
            segments.extend(path.split('/').filter(|s| !s.is_empty()));
        }
        Some(url)
    }
}

/// A `NotFound` for the configured library, naming `repo_id`.
fn named_repo(e: Error, id: &str) -> Error {
    if e.kind() == ErrorKind::NotFound {
        Error::new(
            ErrorKind::NotFound,
            format!("library {id} does not exist or the token cannot see it"),
        )
        .with_connector(SOURCE)
        .with_field("repo_id")
        .with_cause(e)
    } else {
        e
    }
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    error_msg: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// What SeaFile's error answers mean: `{"error_msg": "…"}` from seahub's views,
/// `{"detail": "…"}` from DRF (401, throttling), 440/441 for an encrypted library without its
/// password. 429 is core's (`Retry-After`).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let parsed = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let said = parsed
        .error_msg
        .or(parsed.detail)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    match status.as_u16() {
        401 => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!("SeaFile refused the token: {said}"),
        )),
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!("SeaFile denied access: {said}"),
        )),
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("SeaFile: {said}"),
        )),
        440 | 441 => Some(ErrorClass::new(
            ErrorKind::Unsupported,
            format!("the library is encrypted and its password is not set: {said}"),
        )),
        400 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("SeaFile rejected the request: {said}"),
        )),
        _ => None,
    }
}
