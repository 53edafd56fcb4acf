//! [`LocalConfig`]: which folder to read and which of its files.

use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;

use connector_core::glob::PathFilter;
use connector_core::{ConnectorConfig, FieldError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Files larger than this are reported as failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// Files per source page unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 256;

/// The configuration of the local folder connector (source `"local"`).
///
/// ```
/// use connector_misc::local::LocalConfig;
///
/// let config: LocalConfig = connector_core::config::from_json(serde_json::json!({
///     "path": "/srv/handbook",
///     "include": ["*.md", "policies/**"],
///     "exclude": ["drafts"],
///     "extensions": ["md", ".txt"],
/// }))?;
/// assert_eq!(config.max_file_size.get(), 20 * 1024 * 1024);
/// # Ok::<(), connector_core::Error>(())
/// ```
///
/// # Globs
/// `include` and `exclude` are matched against the path relative to `path`, with `/` between
/// folders, whatever the platform. A pattern without `/` matches at any depth (`*.md` matches
/// `a.md` and `notes/b.md`), as in `.gitignore`; a pattern with `/` matches from the top
/// (`docs/*.md` matches `docs/a.md` only, `docs/**` everything under `docs`); a leading `/`
/// only anchors. `*` never crosses a `/`, `**` does. A folder matched by `exclude` is skipped
/// with everything under it. With no `include`, every file is included.
///
/// # Hidden files
/// A file or folder whose name starts with `.` is hidden. Hidden folders are not entered and
/// hidden files are skipped unless `include_hidden` is true; the configured folder itself may
/// be hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LocalConfig {
    /// The folder to read, absolute or relative to the working directory.
    pub path: PathBuf,
    /// Globs of the files to include (all files when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Globs of the files and folders to skip; they win over `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// File extensions to accept, with or without the leading dot, compared without regard to
    /// case (all files when empty; a file without an extension is then skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Largest file read, in bytes; a larger file becomes a failure and the sync goes on.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: NonZeroU64,
    /// Follow symbolic links to files and folders (default false: links are skipped).
    #[serde(default)]
    pub follow_symlinks: bool,
    /// Include files and folders whose name starts with `.` (default false).
    #[serde(default)]
    pub include_hidden: bool,
    /// Files per source page: the unit of one fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: NonZeroU32,
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

impl LocalConfig {
    /// The folder at `path` with every other setting at its default.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            include: Vec::new(),
            exclude: Vec::new(),
            extensions: Vec::new(),
            max_file_size: default_max_file_size(),
            follow_symlinks: false,
            include_hidden: false,
            page_size: default_page_size(),
        }
    }

    /// `include`, `exclude` and `extensions` compiled, or every bad entry by field path.
    pub(crate) fn path_filter(&self) -> Result<PathFilter, Vec<FieldError>> {
        PathFilter::new(&self.include, &self.exclude, &self.extensions)
    }
}

impl ConnectorConfig for LocalConfig {
    /// Checks the syntax only: globs compile, extensions are plain names. Whether `path`
    /// exists and is a folder is for [`check`](connector_core::Connector::check).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push(FieldError::new("path", "must not be empty"));
        }
        if let Err(mut found) = self.path_filter() {
            problems.append(&mut found);
        }
        problems
    }
}
