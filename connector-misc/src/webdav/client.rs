//! The WebDAV side: PROPFIND `Depth: 1` of one folder at a time, the hrefs of its answer
//! turned into names, the depth-first walk in name order, and the GET of a file. Every request
//! goes through core's [`HttpClient`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use connector_core::http::{HttpClient, Method, StatusCode};
use connector_core::{Error, ErrorKind, Result};
use futures::StreamExt;
use futures::stream::BoxStream;
use percent_encoding::percent_decode_str;
use url::Url;

use super::SOURCE;
use super::config::{AuthScheme, FolderSkip};
use super::model::{Listed, Member, PROPFIND_BODY, Page, Problem, Resource, parse_multistatus};
use crate::files::{extension_of, folder_done, walk_order};

/// Largest PROPFIND answer read: a folder of about 100,000 files.
const LISTING_MAX_BYTES: u64 = 128 * 1024 * 1024;

pub use crate::files::IMAGE_EXTENSIONS;

/// Document formats read by default next to [`TEXT_EXTENSIONS`](crate::files::TEXT_EXTENSIONS):
/// RAGFlow's `is_accepted_file_ext` document set.
pub const DOCUMENT_EXTENSIONS: &[&str] = &["pdf", "docx", "pptx", "xlsx", "eml", "epub", "html"];

/// The server, the folder, and how to walk it; shared by every stream of a connector.
#[derive(Debug)]
pub(crate) struct Dav {
    pub(crate) http: HttpClient,
    /// `base_url` as configured, without its trailing `/`: the first part of every document
    /// id (RAGFlow's).
    pub(crate) base_id: String,
    /// `remote_path`'s names, decoded: the path under `base_url` of the configured folder.
    pub(crate) remote: Vec<String>,
    /// The configured folder's URL, ending in `/`.
    pub(crate) root: Url,
    pub(crate) page_size: usize,
    pub(crate) allow_images: bool,
    /// The configured `extensions`, lower case; empty: the default set.
    pub(crate) extensions: Vec<String>,
    /// The timeout of one PROPFIND.
    pub(crate) listing_timeout: std::time::Duration,
    /// The Nextcloud / ownCloud web UI root (`https://host/index.php/`) when `base_url` is
    /// one of their DAV endpoints: documents with an `oc:fileid` link to `f/{fileid}` there.
    pub(crate) web_root: Option<Url>,
    /// `skip_unchanged_folders`.
    pub(crate) folder_skip: FolderSkip,
    /// [`walk_filter_key`](Self::walk_filter_key), computed once.
    pub(crate) filter_key: String,
}

/// The folder ETags a checkpointed walk skips by and records.
#[derive(Debug, Default)]
pub(crate) struct FolderWalk {
    /// The last completed run's: a folder listed with the same ETag is not entered.
    pub(crate) known: BTreeMap<String, String>,
    /// This run's so far.
    pub(crate) seen: BTreeMap<String, String>,
}

impl FolderWalk {
    /// Forgets the tags of the folders above `path` (and of `path` itself with `itself`):
    /// something under them could not be read, so the next run must list them again.
    fn taint(&mut self, path: &str, itself: bool) {
        let mut end = 0;
        for (i, c) in path.char_indices() {
            if c == '/' {
                self.seen.remove(&path[..i]);
            }
            end = i + c.len_utf8();
        }
        if itself && end > 0 {
            self.seen.remove(path);
        }
    }

    /// Whether the folder `rel`, listed by its parent with `tag`, is the one the last run saw:
    /// then its tag and those recorded below it are kept for the next run, and it is not
    /// entered.
    fn skip(&mut self, rel: &str, tag: Option<&str>) -> bool {
        let Some(tag) = tag else {
            return false;
        };
        if self.known.get(rel).map(String::as_str) != Some(tag) {
            return false;
        }
        let below = format!("{rel}/");
        let kept: Vec<(String, String)> = self
            .known
            .range(below.clone()..)
            .take_while(|(k, _)| k.starts_with(&below))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.seen.insert(rel.to_owned(), tag.to_owned());
        self.seen.extend(kept);
        true
    }
}

/// One member of a folder's listing, before it is placed in the walk.
enum Child {
    /// A sub-folder: its relative path, its URL (ending in `/`), and its ETag when
    /// `skip_unchanged_folders` trusts it.
    Folder(String, Url, Option<String>),
    File(Box<Member>),
    Problem(Problem),
}

impl Child {
    fn rel(&self) -> &str {
        match self {
            Self::Folder(rel, ..) => rel,
            Self::File(m) => &m.rel,
            Self::Problem(p) => &p.path,
        }
    }
}

impl Dav {
    /// RAGFlow's document id: `webdav:{base_url}:{path under base_url}`, `base_url` as
    /// configured without its trailing `/`, the path's names decoded.
    pub(crate) fn document_id(&self, rel: &str) -> String {
        let mut path = self.remote.join("/");
        if !path.is_empty() && !rel.is_empty() {
            path.push('/');
        }
        path.push_str(rel);
        format!("webdav:{}:{path}", self.base_id)
    }

    /// The path under `remote_path` of the file with document id `id`, when the id is one of
    /// this connector's (same `base_url`), under `remote_path`, a path of plain names and a
    /// file the walk would read; `None` otherwise.
    pub(crate) fn rel_of_id(&self, id: &str) -> Option<String> {
        let path = id
            .strip_prefix("webdav:")?
            .strip_prefix(self.base_id.as_str())?
            .strip_prefix(':')?;
        let rel = if self.remote.is_empty() {
            path
        } else {
            path.strip_prefix(self.remote.join("/").as_str())?
                .strip_prefix('/')?
        };
        let plain = rel
            .split('/')
            .all(|n| !n.is_empty() && n != "." && n != "..");
        let name = rel.rsplit('/').next()?;
        (plain && self.accepts(name)).then(|| rel.to_owned())
    }

    /// The URL of the file `rel` (a path under `remote_path`), each name encoded once.
    pub(crate) fn file_url(&self, rel: &str) -> Option<Url> {
        let mut url = self.root.clone();
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .extend(rel.split('/'));
        Some(url)
    }

    /// The id of the folder `rel` (empty: the configured folder), in the same form: the
    /// documents' `parent_id`.
    pub(crate) fn folder_id(&self, rel: &str) -> String {
        self.document_id(rel)
    }

    /// Whether a file is read: its extension is in `extensions`, or by default a text or
    /// document format (images with `allow_images`), as RAGFlow's `is_accepted_file_ext`;
    /// never an Office or LibreOffice lock file.
    pub(crate) fn accepts(&self, name: &str) -> bool {
        if name.starts_with("~$") || (name.starts_with(".~lock.") && name.ends_with('#')) {
            return false;
        }
        let Some(ext) = extension_of(name) else {
            return false;
        };
        if !self.extensions.is_empty() {
            return self.extensions.contains(&ext);
        }
        let ext = ext.as_str();
        crate::files::TEXT_EXTENSIONS.contains(&ext)
            || DOCUMENT_EXTENSIONS.contains(&ext)
            || (self.allow_images && IMAGE_EXTENSIONS.contains(&ext))
    }

    /// The web UI page of a file with this `oc:fileid`, where the server is Nextcloud or
    /// ownCloud.
    pub(crate) fn web_link(&self, file_id: &str) -> Option<Url> {
        let root = self.web_root.as_ref()?;
        let mut url = root.clone();
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .push("f")
            .push(file_id);
        Some(url)
    }

    /// PROPFIND of `url` at `depth` ("0" or "1"), its multistatus read.
    ///
    /// # Errors
    /// The HTTP layer's (401 and 403 apart, naming the credential; 404; 429 and 5xx after its
    /// retries), or [`ErrorKind::InvalidData`] for an answer that is not a `207` multistatus.
    pub(crate) async fn propfind(
        &self,
        http: &HttpClient,
        url: &Url,
        depth: &str,
    ) -> Result<Vec<Resource>> {
        let method = Method::from_bytes(b"PROPFIND")
            .map_err(|e| Error::internal("the PROPFIND method").with_cause(e))?;
        let response = http
            .request(method, url.clone())
            .header("Depth", depth)
            .body(PROPFIND_BODY, "application/xml; charset=utf-8")
            // PROPFIND changes nothing: safe to retry.
            .idempotent(true)
            .max_body_bytes(LISTING_MAX_BYTES)
            .timeout(self.listing_timeout)
            .send()
            .await
            .map_err(|e| {
                if e.message().contains("timed out") {
                    Error::new(
                        e.kind(),
                        format!(
                            "listing {} took longer than listing_timeout_secs ({} s): {}",
                            connector_core::error::redact_url(url),
                            self.listing_timeout.as_secs(),
                            e.message()
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field("listing_timeout_secs")
                    .with_url(url)
                } else {
                    e
                }
            })?;
        let bad = |message: String| {
            Error::invalid_data(message)
                .with_connector(SOURCE)
                .with_url(url)
        };
        if response.status() != StatusCode::MULTI_STATUS {
            return Err(bad(format!(
                "PROPFIND answered {} instead of 207 Multi-Status: is base_url a WebDAV server?",
                response.status()
            )));
        }
        let text = std::str::from_utf8(response.body())
            .map_err(|e| bad(format!("the multistatus body is not UTF-8: {e}")))?;
        parse_multistatus(text).map_err(bad)
    }

    /// The members of the folder `rel` (empty: the configured folder) at `url`, sorted by
    /// name.
    ///
    /// # Errors
    /// A failed PROPFIND, or an answer whose hrefs do not describe the folder: a failed
    /// listing is an error, never an empty folder.
    async fn list(&self, http: &HttpClient, rel: &str, url: &Url) -> Result<VecDeque<Child>> {
        let resources = self.propfind(http, url, "1").await?;
        let members = members(url, resources).map_err(|message| {
            Error::invalid_data(message)
                .with_connector(SOURCE)
                .with_url(url)
        })?;
        let mut children: Vec<Child> = Vec::with_capacity(members.len());
        for entry in members {
            let Entry {
                name,
                raw,
                resource,
            } = entry;
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let child_url = || child_url(url, &name, &raw, resource.collection);
            let child = if let Some(status) = &resource.error {
                Child::Problem(Problem {
                    message: format!("the server could not describe it: {status}"),
                    path,
                    hides_files: true,
                })
            } else if name.contains('/') || name == "." || name == ".." {
                Child::Problem(Problem {
                    message: "its name cannot be part of a path (`/`, `.` or `..`)".to_owned(),
                    path,
                    hides_files: resource.collection,
                })
            } else if resource.collection {
                match child_url() {
                    Some(u) => Child::Folder(path, u, self.folder_tag(&resource)),
                    None => Child::Problem(Problem {
                        message: format!("its href `{}` gives no URL", resource.href),
                        path,
                        hides_files: true,
                    }),
                }
            } else if !self.accepts(&name) {
                continue;
            } else {
                match child_url() {
                    Some(u) => Child::File(Box::new(Member {
                        rel: path,
                        url: u,
                        resource,
                    })),
                    None => Child::Problem(Problem {
                        message: format!("its href `{}` gives no URL", resource.href),
                        path,
                        hides_files: false,
                    }),
                }
            };
            children.push(child);
        }
        children.sort_by(|a, b| walk_order(a.rel(), b.rel()));
        Ok(children.into())
    }

    /// The listing of the sub-folder `rel`, or what became of it when it cannot be listed: a
    /// folder gone since its parent was listed (404, 410) is skipped, with nothing in it;
    /// any other failure but a rejected login or a cancel is a problem naming the folder
    /// (a failure in the page, the sync goes on; `list_ids` fails on it, so nothing under it
    /// is pruned).
    async fn list_sub(&self, http: &HttpClient, rel: &str, url: &Url) -> Result<SubListing> {
        match self.list(http, rel, url).await {
            Ok(children) => Ok(SubListing::Children(children)),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::debug!(
                    connector = SOURCE,
                    folder = rel,
                    "folder gone since its parent was listed"
                );
                Ok(SubListing::Gone)
            }
            Err(e) if matches!(e.kind(), ErrorKind::Unauthenticated | ErrorKind::Cancelled) => {
                Err(e)
            }
            Err(e) => Ok(SubListing::Failed(Problem {
                message: format!(
                    "the folder could not be listed, so its files are left as they were: {e}"
                ),
                path: rel.to_owned(),
                hides_files: true,
            })),
        }
    }

    /// A folder's ETag when `skip_unchanged_folders` trusts it to change with anything below
    /// it: always with `always`, with `auto` when the server listed Nextcloud's and
    /// ownCloud's `oc:fileid` or `oc:permissions` for it.
    fn folder_tag(&self, folder: &Resource) -> Option<String> {
        let trusted = match self.folder_skip {
            FolderSkip::Always => true,
            FolderSkip::Auto => folder.file_id.is_some() || folder.permissions.is_some(),
            _ => false,
        };
        folder
            .etag
            .as_deref()
            .map(str::trim)
            .filter(|e| trusted && !e.is_empty())
            .map(str::to_owned)
    }

    /// A hash of what decides which files the walk reads: the folder, `extensions` and
    /// `allow_images`. Folder ETags recorded under another are not skipped by.
    pub(crate) fn walk_filter_key(&self) -> String {
        connector_core::ids::hash128_concat(&[
            self.root.as_str(),
            &self.extensions.join(","),
            if self.allow_images { "images" } else { "" },
        ])
    }

    /// The walk after `after` (every file when `None`), in pages of `page_size` items:
    /// depth-first, each folder sorted by name, one PROPFIND `Depth: 1` per folder entered.
    /// A failed listing ends the stream with its error.
    ///
    /// With `folders`, a sub-folder whose ETag is the one `folders.known` holds is not
    /// entered, and each page comes with the ETags recorded so far (the last page, empty or
    /// not, with all of them); without, each with an empty map.
    pub(crate) fn pages(
        self: &Arc<Self>,
        http: HttpClient,
        after: Option<String>,
        folders: Option<FolderWalk>,
    ) -> BoxStream<'static, Result<(Page, BTreeMap<String, String>)>> {
        let dav = Arc::clone(self);
        async_stream::try_stream! {
            let after = after.as_deref();
            let tracking = folders.is_some();
            let mut folders = folders.unwrap_or_default();
            let top = dav.list(&http, "", &dav.root).await?;
            let mut stack = vec![top];
            let mut page = Vec::new();
            while let Some(folder) = stack.last_mut() {
                let Some(child) = folder.pop_front() else {
                    stack.pop();
                    continue;
                };
                match child {
                    Child::Folder(rel, url, tag) => {
                        if !after.is_some_and(|a| folder_done(&rel, a))
                            && !folders.skip(&rel, tag.as_deref())
                        {
                            match dav.list_sub(&http, &rel, &url).await? {
                                SubListing::Children(children) => {
                                    match tag {
                                        Some(tag) if tracking => {
                                            folders.seen.insert(rel, tag);
                                        }
                                        _ => {
                                            folders.seen.remove(&rel);
                                        }
                                    }
                                    stack.push(children);
                                }
                                SubListing::Gone => {
                                    folders.seen.remove(&rel);
                                }
                                SubListing::Failed(problem) => {
                                    folders.taint(&problem.path, true);
                                    // Placed where the folder's first file would be; a resumed
                                    // walk after that folder does not repeat it.
                                    if !after.is_some_and(|a| walk_order(&problem.path, a).is_le()) {
                                        page.push(Listed::Problem(problem));
                                    }
                                }
                            }
                        }
                    }
                    Child::File(member) => {
                        if after.is_some_and(|a| walk_order(&member.rel, a).is_le()) {
                            continue;
                        }
                        page.push(Listed::File(member));
                    }
                    Child::Problem(problem) => {
                        folders.taint(&problem.path, problem.hides_files);
                        if after.is_some_and(|a| walk_order(&problem.path, a).is_le()) {
                            continue;
                        }
                        page.push(Listed::Problem(problem));
                    }
                }
                if page.len() >= dav.page_size {
                    yield (std::mem::take(&mut page), folders.seen.clone());
                }
            }
            if !page.is_empty() || tracking {
                yield (page, folders.seen);
            }
        }
        .boxed()
    }

    /// GET of the file at `url`, its body up to `max` bytes.
    ///
    /// # Errors
    /// The HTTP layer's; a body over `max` is
    /// [`is_body_too_large`](connector_core::http::is_body_too_large).
    pub(crate) async fn get(&self, http: &HttpClient, url: &Url, max: u64) -> Result<Bytes> {
        let response = http.get(url.clone()).max_body_bytes(max).send().await?;
        Ok(response.into_body())
    }

    /// Checks that the configured folder is a collection the login may list (PROPFIND
    /// `Depth: 0`) with `http`, a client that retries once and waits seconds, not minutes.
    /// `scheme` is how the login is sent, for telling a server that asks for the other one.
    pub(crate) async fn check(&self, http: &HttpClient, scheme: AuthScheme) -> Result<()> {
        let method = Method::from_bytes(b"PROPFIND")
            .map_err(|e| Error::internal("the PROPFIND method").with_cause(e))?;
        let response = http
            .request(method, self.root.clone())
            .header("Depth", "0")
            .body(PROPFIND_BODY, "application/xml; charset=utf-8")
            .idempotent(true)
            .max_body_bytes(LISTING_MAX_BYTES)
            .client_errors_as_responses()
            .send()
            .await?;
        let status = response.status();
        let error = |kind: ErrorKind, message: String, field: &str| {
            Error::new(kind, message)
                .with_connector(SOURCE)
                .with_field(field)
                .with_url(&self.root)
        };
        // A redirect to another scheme or host drops the login on the way (core never sends
        // credentials to another origin): name where base_url should point.
        let landed = response.url();
        if landed.origin() != self.root.origin() {
            return Err(error(
                ErrorKind::Config,
                format!(
                    "the server redirects to {}, another scheme, host or port, where the login is never sent: use that scheme, host and port in base_url",
                    connector_core::error::redact_url(landed)
                ),
                "base_url",
            ));
        }
        match status.as_u16() {
            207 => {}
            401 => {
                let schemes: Vec<String> = response
                    .headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .filter_map(|v| v.split_whitespace().next())
                    .map(|s| s.trim_end_matches(',').to_owned())
                    .collect();
                let offers = |name: &str| schemes.iter().any(|s| s.eq_ignore_ascii_case(name));
                let (ours, other) = match scheme {
                    AuthScheme::Digest => ("digest", "basic"),
                    _ => ("basic", "digest"),
                };
                if !schemes.is_empty() && !offers(ours) {
                    if offers(other) {
                        return Err(error(
                            ErrorKind::Config,
                            format!(
                                "the server asks for {} authentication: set auth_scheme to \"{other}\"",
                                schemes.join(" or ")
                            ),
                            "auth_scheme",
                        ));
                    }
                    return Err(error(
                        ErrorKind::Unsupported,
                        format!(
                            "the server asks for {} authentication, and only Basic and Digest are supported; enable one of them on the server",
                            schemes.join(" or ")
                        ),
                        "credentials",
                    ));
                }
                return Err(error(
                    ErrorKind::Unauthenticated,
                    "the server rejected the credentials (HTTP 401)".to_owned(),
                    super::CREDENTIAL_FIELD,
                ));
            }
            403 => {
                return Err(error(
                    ErrorKind::PermissionDenied,
                    "the server refused access with these credentials (HTTP 403)".to_owned(),
                    super::CREDENTIAL_FIELD,
                ));
            }
            404 | 410 => {
                return Err(error(
                    ErrorKind::NotFound,
                    format!(
                        "no folder at {} (HTTP {status}); check remote_path, and base_url (Nextcloud's has the user id, which may differ from the login: .../remote.php/dav/files/<user id>/)",
                        connector_core::error::redact_url(&self.root)
                    ),
                    "remote_path",
                ));
            }
            _ => {
                return Err(error(
                    ErrorKind::InvalidData,
                    format!(
                        "PROPFIND answered {status} instead of 207 Multi-Status: is base_url a WebDAV server?"
                    ),
                    "base_url",
                ));
            }
        }
        let text = std::str::from_utf8(response.body()).map_err(|e| {
            error(
                ErrorKind::InvalidData,
                format!("the multistatus body is not UTF-8: {e}"),
                "base_url",
            )
        })?;
        let resources =
            parse_multistatus(text).map_err(|m| error(ErrorKind::InvalidData, m, "base_url"))?;
        if resources.iter().any(|r| r.collection) {
            Ok(())
        } else {
            Err(error(
                ErrorKind::NotFound,
                "remote_path is a file, not a folder".to_owned(),
                "remote_path",
            ))
        }
    }
}

/// What became of a sub-folder's listing.
enum SubListing {
    Children(VecDeque<Child>),
    Gone,
    Failed(Problem),
}

/// The URL of the member `name` of the folder at `folder`: the name encoded here when it is
/// UTF-8 (whatever the server's encoding), else the server's own `raw` segment, so a Latin-1
/// name is requested with the bytes the server listed.
fn child_url(folder: &Url, name: &str, raw: &str, collection: bool) -> Option<Url> {
    let exact = percent_decode_str(raw).decode_utf8().is_ok();
    let mut url = if exact {
        let mut url = folder.clone();
        url.path_segments_mut().ok()?.pop_if_empty().push(name);
        url
    } else {
        folder.join(&format!("./{raw}")).ok()?
    };
    if collection {
        url.path_segments_mut().ok()?.push("");
    }
    Some(url)
}

/// One direct member of a listed folder.
pub(crate) struct Entry {
    /// Its name, decoded (U+FFFD for bytes that are not UTF-8).
    pub(crate) name: String,
    /// Its last path segment as the server wrote it (percent-encoded).
    pub(crate) raw: String,
    pub(crate) resource: Resource,
}

/// The direct members of the folder at `folder` in a Depth 1 answer, names decoded, in the
/// server's order, without the folder itself.
///
/// Servers write hrefs in their own ways (RFC 4918 §8.3 allows absolute URLs and absolute
/// paths; wsgidav and rclone send paths, others full URLs; percent-encoding of the same name
/// differs; the folder itself may come with or without its trailing `/`; behind a proxy the
/// path prefix may differ from the one requested). So each href is resolved against the
/// request URL, split into decoded names, and compared name by name: the folder is the entry
/// with the requested path; failing that (a proxy that rewrites the prefix), the shortest
/// entry when it is a collection with the folder's own name and every other entry is
/// directly under it; failing that, no entry is the folder and all are its members. A name
/// that is not UTF-8 once decoded (Latin-1 file systems) is decoded lossily.
///
/// # Errors
/// An href that is no URL, or members that are not all under one folder (the answer then
/// does not describe the folder asked for).
pub(crate) fn members(
    folder: &Url,
    resources: Vec<Resource>,
) -> std::result::Result<Vec<Entry>, String> {
    let asked = names_of(folder);
    let mut entries = Vec::with_capacity(resources.len());
    for resource in resources {
        let url = folder
            .join(&resource.href)
            .map_err(|e| format!("the href `{}` is not a URL: {e}", resource.href))?;
        let raw = url
            .path_segments()
            .and_then(|mut s| s.rfind(|s| !s.is_empty()))
            .unwrap_or_default()
            .to_owned();
        entries.push((names_of(&url), raw, resource));
    }
    let own = if entries.iter().any(|(names, _, _)| *names == asked) {
        Some(asked)
    } else {
        entries
            .iter()
            .min_by_key(|(names, _, _)| names.len())
            .filter(|(shortest, _, resource)| {
                // A proxy rewrites the prefix, never the folder's own name; a lone entry that
                // is a file, or a folder of another name, is a member of an answer without
                // a self entry.
                resource.collection
                    && shortest.last().is_some_and(|n| asked.last() == Some(n))
                    && entries.iter().all(|(names, _, _)| {
                        names == shortest
                            || (names.len() == shortest.len() + 1 && names.starts_with(shortest))
                    })
            })
            .map(|(names, _, _)| names.clone())
    };
    let Some(own) = own else {
        // No entry for the folder: every member must then share one parent.
        let parents: Vec<&[String]> = entries
            .iter()
            .map(|(names, _, _)| &names[..names.len().saturating_sub(1)])
            .collect();
        if parents.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!(
                "the PROPFIND answer for {} lists resources under different folders",
                connector_core::error::redact_url(folder)
            ));
        }
        return Ok(entries
            .into_iter()
            .filter_map(|(mut names, raw, resource)| {
                names.pop().map(|name| Entry {
                    name,
                    raw,
                    resource,
                })
            })
            .collect());
    };
    let mut out = Vec::with_capacity(entries.len());
    for (mut names, raw, resource) in entries {
        if names == own {
            continue;
        }
        // Deeper entries (a server that ignored `Depth: 1`) are met again when their folder
        // is listed; entries elsewhere are not this folder's.
        if names.len() == own.len() + 1 && names.starts_with(&own) {
            if let Some(name) = names.pop() {
                out.push(Entry {
                    name,
                    raw,
                    resource,
                });
            }
        } else {
            tracing::debug!(
                connector = SOURCE,
                href = %resource.href,
                "left out of the listing: not a direct member of the folder asked for"
            );
        }
    }
    Ok(out)
}

/// The decoded, non-empty names of a URL's path (`/dav/a%20b/` is `dav`, `a b`); bytes that
/// are not UTF-8 once decoded become U+FFFD.
fn names_of(url: &Url) -> Vec<String> {
    let Some(segments) = url.path_segments() else {
        return Vec::new();
    };
    segments
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(href: &str) -> Resource {
        Resource {
            href: href.to_owned(),
            ..Resource::default()
        }
    }

    fn names(folder: &str, hrefs: &[&str]) -> Vec<String> {
        let folder = Url::parse(folder).unwrap_or_else(|e| panic!("{e}"));
        members(&folder, hrefs.iter().map(|h| res(h)).collect())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn paths_urls_and_encodings() {
        let hrefs = [
            "/dav/sub%20dir",
            "/dav/sub%20dir/%C3%A9t%C3%A9.txt",
            "http://h:1/dav/sub dir/a+b.md",
            "/dav/sub%20dir/deep/",
            "/dav/sub%20dir/100%25.md",
        ];
        assert_eq!(
            names("http://h:1/dav/sub%20dir/", &hrefs),
            ["été.txt", "a+b.md", "deep", "100%.md"]
        );
    }

    #[test]
    fn a_proxy_prefix_is_recognised() {
        // Requested /files/dav/x/, the server (mounted at /dav behind a proxy) answers /dav/x/.
        let folder = Url::parse("https://h/files/dav/x/").unwrap_or_else(|e| panic!("{e}"));
        let mut own = res("/dav/x/");
        own.collection = true;
        let got: Vec<String> = members(&folder, vec![own, res("/dav/x/a.md"), res("/dav/x/b/")])
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(got, ["a.md", "b"]);
    }

    #[test]
    fn a_lone_child_without_a_self_entry_is_kept() {
        assert_eq!(names("https://h/dav/x/", &["/dav/x/only.md"]), ["only.md"]);
        let folder = Url::parse("https://h/dav/x/").unwrap_or_else(|e| panic!("{e}"));
        let mut sub = res("/dav/x/sub/");
        sub.collection = true;
        let got = members(&folder, vec![sub]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "sub");
    }

    #[test]
    fn a_latin1_name_is_decoded_lossily_and_requested_as_listed() {
        let folder = Url::parse("https://h/dav/x/").unwrap_or_else(|e| panic!("{e}"));
        let got = members(
            &folder,
            vec![
                res("/dav/x/"),
                res("/dav/x/caf%E9.txt"),
                res("/dav/x/ok.md"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got[0].name, "caf\u{fffd}.txt");
        assert_eq!(got[0].raw, "caf%E9.txt");
        let url = child_url(&folder, &got[0].name, &got[0].raw, false);
        assert_eq!(
            url.map(String::from).as_deref(),
            Some("https://h/dav/x/caf%E9.txt")
        );
        let url = child_url(&folder, "a b.md", "a%20b.md", false);
        assert_eq!(
            url.map(String::from).as_deref(),
            Some("https://h/dav/x/a%20b.md")
        );
    }

    #[test]
    fn members_elsewhere_are_an_error() {
        let folder = Url::parse("https://h/dav/x/").unwrap_or_else(|e| panic!("{e}"));
        let got = members(&folder, vec![res("/other/a.md"), res("/else/b/c.md")]);
        assert!(got.is_err());
    }
}
