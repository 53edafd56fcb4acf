//! The WebDAV side: PROPFIND `Depth: 1` of one folder at a time, the hrefs of its answer
//! turned into names, the depth-first walk in name order, and the GET of a file. Every request
//! goes through core's [`HttpClient`].

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use connector_core::http::{HttpClient, Method, StatusCode};
use connector_core::{Error, ErrorKind, Result};
use futures::StreamExt;
use futures::stream::BoxStream;
use percent_encoding::percent_decode_str;
use url::Url;

use super::SOURCE;
use super::model::{Listed, Member, PROPFIND_BODY, Page, Problem, Resource, parse_multistatus};
use crate::files::{extension_of, folder_done, walk_order};

/// Largest PROPFIND answer read: a folder of about 100,000 files.
const LISTING_MAX_BYTES: u64 = 128 * 1024 * 1024;

/// Image extensions, skipped unless `allow_images` (RAGFlow leaves them out the same way).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "svg", "ico", "heic", "heif", "avif",
];

/// The server, the folder, and how to walk it; shared by every stream of a connector.
#[derive(Debug)]
pub(crate) struct Dav {
    pub(crate) http: HttpClient,
    /// `base_url` as configured: the first part of every document id (RAGFlow's).
    pub(crate) base_id: String,
    /// `remote_path`'s names, decoded: the path under `base_url` of the configured folder.
    pub(crate) remote: Vec<String>,
    /// The configured folder's URL, ending in `/`.
    pub(crate) root: Url,
    pub(crate) page_size: usize,
    pub(crate) allow_images: bool,
}

/// One member of a folder's listing, before it is placed in the walk.
enum Child {
    Folder(String),
    File(Member),
    Problem(Problem),
}

impl Child {
    fn rel(&self) -> &str {
        match self {
            Self::Folder(rel) => rel,
            Self::File(m) => &m.rel,
            Self::Problem(p) => &p.path,
        }
    }
}

impl Dav {
    /// The root joined with the names of `rel` (each percent-encoded here, whatever the
    /// server's hrefs looked like), with a trailing `/` for a folder.
    pub(crate) fn url_of(&self, rel: &str, folder: bool) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(rel.split('/').filter(|s| !s.is_empty()));
            if folder {
                segments.push("");
            }
        }
        url
    }

    /// RAGFlow's document id: `webdav:{base_url}:{path under base_url}`.
    pub(crate) fn document_id(&self, rel: &str) -> String {
        let mut path = self.remote.join("/");
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(rel);
        format!("webdav:{}:{path}", self.base_id)
    }

    /// Whether a file name passes the image filter.
    fn accepts(&self, name: &str) -> bool {
        self.allow_images
            || !extension_of(name).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
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
            .send()
            .await?;
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

    /// The members of the folder `rel` (empty: the configured folder), sorted by name.
    ///
    /// # Errors
    /// A failed PROPFIND, or an answer whose hrefs do not describe the folder: a failed
    /// listing is an error, never an empty folder.
    async fn list(&self, http: &HttpClient, rel: &str) -> Result<VecDeque<Child>> {
        let url = self.url_of(rel, true);
        let resources = self.propfind(http, &url, "1").await?;
        let members = members(&url, resources).map_err(|message| {
            Error::invalid_data(message)
                .with_connector(SOURCE)
                .with_url(&url)
        })?;
        let mut children: Vec<Child> = Vec::with_capacity(members.len());
        for (name, resource) in members {
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
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
                Child::Folder(path)
            } else if !self.accepts(&name) {
                continue;
            } else {
                Child::File(Member {
                    rel: path,
                    resource,
                })
            };
            children.push(child);
        }
        children.sort_by(|a, b| walk_order(a.rel(), b.rel()));
        Ok(children.into())
    }

    /// The walk after `after` (every file when `None`), in pages of `page_size` items:
    /// depth-first, each folder sorted by name, one PROPFIND `Depth: 1` per folder entered.
    /// A failed listing ends the stream with its error.
    pub(crate) fn pages(
        self: &Arc<Self>,
        http: HttpClient,
        after: Option<String>,
    ) -> BoxStream<'static, Result<Page>> {
        let dav = Arc::clone(self);
        async_stream::try_stream! {
            let after = after.as_deref();
            let top = dav.list(&http, "").await?;
            let mut stack = vec![top];
            let mut page = Vec::new();
            while let Some(folder) = stack.last_mut() {
                let Some(child) = folder.pop_front() else {
                    stack.pop();
                    continue;
                };
                match child {
                    Child::Folder(rel) => {
                        if !after.is_some_and(|a| folder_done(&rel, a)) {
                            let children = dav.list(&http, &rel).await?;
                            stack.push(children);
                        }
                    }
                    Child::File(member) => {
                        if after.is_some_and(|a| walk_order(&member.rel, a).is_le()) {
                            continue;
                        }
                        page.push(Listed::File(member));
                    }
                    Child::Problem(problem) => {
                        if after.is_some_and(|a| walk_order(&problem.path, a).is_le()) {
                            continue;
                        }
                        page.push(Listed::Problem(problem));
                    }
                }
                if page.len() >= dav.page_size {
                    yield std::mem::take(&mut page);
                }
            }
            if !page.is_empty() {
                yield page;
            }
        }
        .boxed()
    }

    /// GET of the file `rel`, its body up to `max` bytes.
    ///
    /// # Errors
    /// The HTTP layer's; a body over `max` is
    /// [`is_body_too_large`](connector_core::http::is_body_too_large).
    pub(crate) async fn get(&self, http: &HttpClient, rel: &str, max: u64) -> Result<Bytes> {
        let response = http
            .get(self.url_of(rel, false))
            .max_body_bytes(max)
            .send()
            .await?;
        Ok(response.into_body())
    }

    /// Checks that the configured folder is a collection the login may list (PROPFIND
    /// `Depth: 0`, one request).
    pub(crate) async fn check(&self) -> Result<()> {
        let resources = self.propfind(&self.http, &self.root, "0").await?;
        if resources.iter().any(|r| r.collection) {
            Ok(())
        } else {
            Err(
                Error::new(ErrorKind::NotFound, "remote_path is a file, not a folder")
                    .with_connector(SOURCE)
                    .with_field("remote_path"),
            )
        }
    }
}

/// The names of the direct members of the folder at `folder` in a Depth 1 answer, decoded, in
/// the server's order, without the folder itself.
///
/// Servers write hrefs in their own ways (RFC 4918 §8.3 allows absolute URLs and absolute
/// paths; wsgidav and rclone send paths, others full URLs; percent-encoding of the same name
/// differs; the folder itself may come with or without its trailing `/`; behind a proxy the
/// path prefix may differ from the one requested). So each href is resolved against the
/// request URL, split into decoded names, and compared name by name: the folder is the entry
/// with the requested path, or failing that the one every other entry is a direct member of.
///
/// # Errors
/// An href that is no URL, a name that is not UTF-8 once decoded, or members that are not
/// all under one folder (the answer then does not describe the folder asked for).
pub(crate) fn members(
    folder: &Url,
    resources: Vec<Resource>,
) -> std::result::Result<Vec<(String, Resource)>, String> {
    let asked = names_of(folder)?;
    let mut entries = Vec::with_capacity(resources.len());
    for resource in resources {
        let url = folder
            .join(&resource.href)
            .map_err(|e| format!("the href `{}` is not a URL: {e}", resource.href))?;
        entries.push((names_of(&url)?, resource));
    }
    // The folder's own entry: the requested path; else (a proxy that rewrites the prefix)
    // the shortest entry, if every other entry is directly under it.
    let own = if entries.iter().any(|(names, _)| *names == asked) {
        Some(asked)
    } else {
        entries
            .iter()
            .map(|(names, _)| names)
            .min_by_key(|names| names.len())
            .filter(|shortest| {
                entries.iter().all(|(names, _)| {
                    names == *shortest
                        || (names.len() == shortest.len() + 1 && names.starts_with(shortest))
                })
            })
            .cloned()
    };
    let Some(own) = own else {
        // No entry for the folder: every member must then share one parent.
        let parents: Vec<&[String]> = entries
            .iter()
            .map(|(names, _)| &names[..names.len().saturating_sub(1)])
            .collect();
        if parents.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!(
                "the PROPFIND answer for {} lists resources under different folders",
                connector_core::error::redact_url(folder)
            ));
        }
        return Ok(entries
            .into_iter()
            .filter_map(|(mut names, r)| names.pop().map(|n| (n, r)))
            .collect());
    };
    let mut out = Vec::with_capacity(entries.len());
    for (mut names, resource) in entries {
        if names == own {
            continue;
        }
        // Deeper entries (a server that ignored `Depth: 1`) are met again when their folder
        // is listed; entries elsewhere are not this folder's.
        if names.len() == own.len() + 1 && names.starts_with(&own) {
            if let Some(name) = names.pop() {
                out.push((name, resource));
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

/// The decoded, non-empty names of a URL's path (`/dav/a%20b/` is `dav`, `a b`).
fn names_of(url: &Url) -> std::result::Result<Vec<String>, String> {
    let Some(segments) = url.path_segments() else {
        return Ok(Vec::new());
    };
    segments
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|n| n.into_owned())
                .map_err(|_| format!("the name `{s}` is not UTF-8 once decoded"))
        })
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
            .map(|(n, _)| n)
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
        let hrefs = ["/dav/x/", "/dav/x/a.md", "/dav/x/b/"];
        assert_eq!(names("https://h/files/dav/x/", &hrefs), ["a.md", "b"]);
    }

    #[test]
    fn members_elsewhere_are_an_error() {
        let folder = Url::parse("https://h/dav/x/").unwrap_or_else(|e| panic!("{e}"));
        let got = members(&folder, vec![res("/other/a.md"), res("/else/b/c.md")]);
        assert!(got.is_err());
    }
}
