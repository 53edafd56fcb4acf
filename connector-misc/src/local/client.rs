//! The filesystem side: the folder walk (blocking, on a `spawn_blocking` thread that feeds
//! pages through a bounded channel), looking single files up by id, and reading a file.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use connector_core::glob::PathFilter;
use connector_core::{Error, ErrorKind, Result};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use walkdir::WalkDir;

use super::SOURCE;
use super::model::{Entry, Listed, Page, Problem, Stat, StatError, io_kind};
use crate::files::{folder_done, walk_order};

/// Pages the walk may run ahead of the consumer: enough to overlap walking and reading,
/// small enough that a huge folder never sits in memory.
const PAGES_AHEAD: usize = 2;

/// Which files of the folder belong to the source.
#[derive(Debug)]
pub(crate) struct Filters {
    /// `include`, `exclude` and `extensions`, each asked about one path at a time: the walk
    /// checks every folder as it enters it.
    pub(crate) paths: PathFilter,
    pub(crate) include_hidden: bool,
}

impl Filters {
    fn hidden(&self, name: &str) -> bool {
        !self.include_hidden && name.starts_with('.')
    }

    /// Whether the walk enters the folder `rel` (its parents already passed).
    fn enters(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        !self.hidden(name) && !self.paths.is_excluded(rel)
    }

    /// Whether the file `rel` belongs to the source (its folders already passed).
    fn accepts_file(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        // `include` is matched against the file alone: unlike `exclude`, a folder glob in it
        // does not take in the files under the folder (documented on `LocalConfig`).
        !self.hidden(name)
            && !self.paths.is_excluded(rel)
            && self.paths.is_included(rel)
            && self.paths.accepts_extension(name)
    }

    /// Whether the file `rel` belongs to the source, checking every folder above it too.
    fn accepts_path(&self, rel: &str) -> bool {
        let mut end = 0;
        while let Some(slash) = rel[end..].find('/') {
            end += slash;
            if !self.enters(&rel[..end]) {
                return false;
            }
            end += 1;
        }
        self.accepts_file(rel)
    }
}

/// The folder and how to walk it; shared by every stream of a connector.
#[derive(Debug)]
pub(crate) struct Walker {
    pub(crate) root: PathBuf,
    pub(crate) filters: Filters,
    pub(crate) follow_symlinks: bool,
    pub(crate) page_size: usize,
}

impl Walker {
    /// Walks the folder on a blocking thread, yielding pages of files after `after` (in walk
    /// order) that the filters accept, with their `stat` when `stat` is set.
    ///
    /// The stream ends with an error when the folder itself cannot be read or the walk
    /// stopped unexpectedly; dropping it stops the walk at its next entry.
    pub(crate) fn pages(
        self: &Arc<Self>,
        after: Option<String>,
        stat: bool,
    ) -> BoxStream<'static, Result<Page>> {
        let walker = Arc::clone(self);
        async_stream::try_stream! {
            let (tx, mut rx) = mpsc::channel(PAGES_AHEAD);
            let job = tokio::task::spawn_blocking(move || walker.walk(after.as_deref(), stat, &tx));
            while let Some(page) = rx.recv().await {
                yield page;
            }
            // The channel closed: the walk ended, failed on the folder itself, or panicked.
            // Only the first is a complete listing.
            match job.await {
                Ok(result) => result?,
                Err(e) => Err(Error::internal("the folder walk stopped unexpectedly").with_connector(SOURCE).with_cause(e))?,
            }
        }
        .boxed()
    }

    fn walk(&self, after: Option<&str>, stat: bool, tx: &mpsc::Sender<Page>) -> Result<()> {
        let mut walk = WalkDir::new(&self.root)
            .follow_links(self.follow_symlinks)
            .sort_by_file_name()
            .into_iter();
        // Capacity grows with what is found, never from the user's number up front.
        let mut page = Vec::with_capacity(self.page_size.min(1024));
        while let Some(next) = walk.next() {
            if tx.is_closed() {
                // Nobody reads any more (the stream was dropped): stop quietly.
                return Ok(());
            }
            let entry = match next {
                Ok(entry) => entry,
                Err(err) if err.depth() == 0 => {
                    return Err(root_error(
                        &self.root,
                        err.io_error().map(|e| e.kind()),
                        &err,
                    ));
                }
                Err(err) => {
                    if let Some(problem) = self.problem(&err) {
                        page.push(Listed::Problem(problem));
                    }
                    if page.len() >= self.page_size && !send(tx, &mut page, self.page_size) {
                        return Ok(());
                    }
                    continue;
                }
            };
            let file_type = entry.file_type();
            if entry.depth() == 0 {
                if !file_type.is_dir() {
                    return Err(not_a_folder(&self.root));
                }
                continue;
            }
            let Some(id) = relative_id(&self.root, entry.path()) else {
                if file_type.is_dir() {
                    walk.skip_current_dir();
                }
                page.push(Listed::Problem(Problem {
                    path: entry.path().display().to_string(),
                    kind: ErrorKind::InvalidData,
                    message:
                        "the name is not valid UTF-8, so it cannot be a document id; rename it"
                            .to_owned(),
                    hides_files: false,
                }));
                if page.len() >= self.page_size && !send(tx, &mut page, self.page_size) {
                    return Ok(());
                }
                continue;
            };
            if file_type.is_dir() {
                if !self.filters.enters(&id) || after.is_some_and(|a| folder_done(&id, a)) {
                    walk.skip_current_dir();
                }
                continue;
            }
            // Links that are not followed, FIFOs, sockets and devices are not documents (and
            // opening a FIFO would block).
            if !file_type.is_file() || !self.filters.accepts_file(&id) {
                continue;
            }
            if after.is_some_and(|a| walk_order(&id, a).is_le()) {
                continue;
            }
            let stat = stat.then(|| {
                entry
                    .metadata()
                    .map(|m| Stat::from_metadata(&m))
                    .map_err(|e| StatError {
                        kind: e.io_error().map_or(ErrorKind::Unavailable, io_kind),
                        message: format!("cannot read the size and modification time: {e}"),
                    })
            });
            page.push(Listed::File(Entry {
                id,
                path: entry.path().to_path_buf(),
                stat,
            }));
            if page.len() >= self.page_size && !send(tx, &mut page, self.page_size) {
                return Ok(());
            }
        }
        if !page.is_empty() {
            let _ = tx.blocking_send(page);
        }
        Ok(())
    }

    /// A walk error below the folder, unless it concerns something the filters skip anyway.
    fn problem(&self, err: &walkdir::Error) -> Option<Problem> {
        let path = err.path().unwrap_or(&self.root);
        if let Some(id) = relative_id(&self.root, path)
            && !self.filters.accepts_path(&id)
            && !self.filters.enters_path(&id)
        {
            return None;
        }
        let shown = path.display().to_string();
        if let Some(ancestor) = err.loop_ancestor() {
            return Some(Problem {
                message: format!(
                    "the link loops back to `{}`; it is skipped",
                    ancestor.display()
                ),
                path: shown,
                kind: ErrorKind::InvalidData,
                hides_files: false,
            });
        }
        let io_kind_found = err.io_error().map(|e| e.kind());
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if io_kind_found == Some(std::io::ErrorKind::NotFound) && is_link {
            return Some(Problem {
                message: "the link points to nothing".to_owned(),
                path: shown,
                kind: ErrorKind::NotFound,
                hides_files: false,
            });
        }
        Some(Problem {
            message: format!(
                "cannot read it: {}",
                err.io_error()
                    .map_or_else(|| err.to_string(), ToString::to_string)
            ),
            path: shown,
            kind: err.io_error().map_or(ErrorKind::Unavailable, io_kind),
            hides_files: true,
        })
    }

    /// Checks that the folder exists, is a folder and can be listed, naming the field `path`
    /// when not.
    pub(crate) async fn check(&self) -> Result<()> {
        let root = &self.root;
        let meta = tokio::fs::metadata(root)
            .await
            .map_err(|e| root_error(root, Some(e.kind()), &e))?;
        if !meta.is_dir() {
            return Err(not_a_folder(root));
        }
        let mut listing = tokio::fs::read_dir(root)
            .await
            .map_err(|e| root_error(root, Some(e.kind()), &e))?;
        listing
            .next_entry()
            .await
            .map_err(|e| root_error(root, Some(e.kind()), &e))?;
        Ok(())
    }

    /// Looks up files by id, as the walk would have listed them: an id the filters reject,
    /// that escapes the folder, or that is no longer a regular file yields nothing.
    pub(crate) fn lookup(&self, ids: &[String]) -> Page {
        ids.iter().filter_map(|id| self.lookup_one(id)).collect()
    }

    fn lookup_one(&self, id: &str) -> Option<Listed> {
        let rel = Path::new(id);
        if id.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        if !self.filters.accepts_path(id) {
            return None;
        }
        let path = self.root.join(rel);
        if !self.follow_symlinks {
            // The walk does not enter linked folders nor list linked files.
            let mut current = self.root.clone();
            for part in rel.components() {
                current.push(part);
                let meta = std::fs::symlink_metadata(&current).ok()?;
                if meta.file_type().is_symlink() {
                    return None;
                }
            }
        }
        let stat = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Stat::from_metadata(&meta)),
            Ok(_) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => Err(StatError {
                kind: io_kind(&e),
                message: format!("cannot read the size and modification time: {e}"),
            }),
        };
        Some(Listed::File(Entry {
            id: id.to_owned(),
            path,
            stat: Some(stat),
        }))
    }
}

impl Filters {
    /// Whether the walk would enter the folder `rel`, checking every folder above it too.
    fn enters_path(&self, rel: &str) -> bool {
        let mut end = 0;
        loop {
            match rel[end..].find('/') {
                Some(slash) => {
                    end += slash;
                    if !self.enters(&rel[..end]) {
                        return false;
                    }
                    end += 1;
                }
                None => return self.enters(rel),
            }
        }
    }
}

/// Sends a full page; false when the consumer is gone.
fn send(tx: &mpsc::Sender<Page>, page: &mut Page, page_size: usize) -> bool {
    let full = std::mem::replace(page, Vec::with_capacity(page_size.min(1024)));
    tx.blocking_send(full).is_ok()
}

/// The id of `path`: relative to `root`, `/` between folders; none for names that are not UTF-8.
fn relative_id(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut id = String::new();
    for part in rel.components() {
        let Component::Normal(name) = part else {
            return None;
        };
        if !id.is_empty() {
            id.push('/');
        }
        id.push_str(name.to_str()?);
    }
    (!id.is_empty()).then_some(id)
}

/// The error for a folder that cannot be read at all, naming the `path` field.
fn root_error(
    root: &Path,
    kind: Option<std::io::ErrorKind>,
    cause: &dyn std::fmt::Display,
) -> Error {
    let shown = root.display();
    let (kind, message) = match kind {
        Some(std::io::ErrorKind::NotFound) => (
            ErrorKind::NotFound,
            format!("the folder `{shown}` does not exist"),
        ),
        Some(std::io::ErrorKind::PermissionDenied) => (
            ErrorKind::PermissionDenied,
            format!("no permission to read the folder `{shown}`"),
        ),
        Some(std::io::ErrorKind::NotADirectory) => return not_a_folder(root),
        _ => (
            ErrorKind::Unavailable,
            format!("cannot read the folder `{shown}`: {cause}"),
        ),
    };
    Error::new(kind, message)
        .with_connector(SOURCE)
        .with_field("path")
}

/// The error for a `path` that is not a folder.
fn not_a_folder(root: &Path) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("`{}` is not a folder", root.display()),
    )
    .with_connector(SOURCE)
    .with_field("path")
}

/// What reading one file gave.
#[derive(Debug)]
pub(crate) enum Read {
    /// The bytes, and `stat` of the open file (so the version matches the bytes).
    Data { data: Vec<u8>, stat: Stat },
    /// The file disappeared since the walk: it is left to prune.
    Gone,
    /// It is no longer a regular file.
    NotAFile,
    /// Larger than the cap.
    TooLarge { size: u64 },
    /// Any other I/O error.
    Failed(std::io::Error),
}

/// Reads a whole file, at most `max` bytes.
pub(crate) async fn read_file(path: &Path, max: u64) -> Read {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Gone,
        Err(e) => return Read::Failed(e),
    };
    let meta = match file.metadata().await {
        Ok(meta) => meta,
        Err(e) => return Read::Failed(e),
    };
    if !meta.is_file() {
        return Read::NotAFile;
    }
    let stat = Stat::from_metadata(&meta);
    if stat.size > max {
        return Read::TooLarge { size: stat.size };
    }
    let capacity = usize::try_from(stat.size).unwrap_or(0);
    let mut data = Vec::with_capacity(capacity);
    // Read one byte past the cap, so a file that grew since `stat` is caught rather than cut.
    if let Err(e) = (&mut file)
        .take(max.saturating_add(1))
        .read_to_end(&mut data)
        .await
    {
        return Read::Failed(e);
    }
    if data.len() as u64 > max {
        return Read::TooLarge {
            size: data.len() as u64,
        };
    }
    Read::Data { data, stat }
}
