//! [`LocalConfig`]: which folder to read and which of its files.

use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;

use connector_core::{ConnectorConfig, FieldError};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
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
    pub max_file_size: NonZeroU64,
    /// Follow symbolic links to files and folders (default false: links are skipped).
    #[serde(default)]
    pub follow_symlinks: bool,
    /// Include files and folders whose name starts with `.` (default false).
    #[serde(default)]
    pub include_hidden: bool,
    /// Files per source page: the unit of one fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
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
}

impl ConnectorConfig for LocalConfig {
    /// Checks the syntax only: globs compile, extensions are plain names. Whether `path`
    /// exists and is a folder is for [`check`](connector_core::Connector::check).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push(FieldError::new("path", "must not be empty"));
        }
        if let Err(mut found) = compile_globs("include", &self.include) {
            problems.append(&mut found);
        }
        if let Err(mut found) = compile_globs("exclude", &self.exclude) {
            problems.append(&mut found);
        }
        for (i, ext) in self.extensions.iter().enumerate() {
            let name = ext.strip_prefix('.').unwrap_or(ext);
            if name.is_empty() {
                problems.push(FieldError::new(
                    format!("extensions[{i}]"),
                    "must not be empty",
                ));
            } else if name.contains(['/', '\\', '*', '?']) {
                problems.push(FieldError::new(
                    format!("extensions[{i}]"),
                    format!("{ext:?} is not a file extension (write `md` or `.md`)"),
                ));
            }
        }
        problems
    }
}

/// Compiles the globs of `field` with the semantics documented on [`LocalConfig`], or returns
/// every pattern that does not compile.
pub(crate) fn compile_globs(field: &str, patterns: &[String]) -> Result<GlobSet, Vec<FieldError>> {
    let mut set = GlobSetBuilder::new();
    let mut problems = Vec::new();
    for (i, pattern) in patterns.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let anchored = pattern.strip_prefix('/');
        let body = anchored.unwrap_or(pattern).trim_end_matches('/');
        if body.is_empty() {
            problems.push(FieldError::new(path, "must not be empty"));
            continue;
        }
        let full = if anchored.is_none() && !body.contains('/') {
            format!("**/{body}")
        } else {
            body.to_owned()
        };
        match GlobBuilder::new(&full)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
        {
            Ok(glob) => {
                set.add(glob);
            }
            Err(e) => problems.push(FieldError::new(
                path,
                format!("invalid glob {pattern:?}: {}", e.kind()),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    set.build().map_err(|e| {
        vec![FieldError::new(
            field,
            format!("cannot compile the globs: {e}"),
        )]
    })
}

/// The accepted extensions, lower case without the dot.
pub(crate) fn normalise_extensions(extensions: &[String]) -> Vec<String> {
    extensions
        .iter()
        .map(|e| e.strip_prefix('.').unwrap_or(e).to_lowercase())
        .collect()
}
