//! Which files of a folder or keys of a bucket belong to a source (feature `glob`):
//! include/exclude globs with `.gitignore`-like semantics and an accepted-extensions list.
//!
//! [`PathFilter`] compiles the `include`, `exclude` and `extensions` fields of a config once,
//! reports every bad entry by its field path, and answers per path without allocating for
//! ASCII names, since it runs for every listed file or key.
//!
//! # Glob semantics
//! Paths are relative to the configured root (a folder, a key prefix), with `/` between
//! folders whatever the platform.
//! - A pattern without `/` matches at any depth (`*.md` matches `a.md` and `notes/b.md`), as
//!   in `.gitignore`; a pattern with `/` matches from the top (`docs/*.md` matches
//!   `docs/a.md` only, `docs/**` everything under `docs`).
//! - A leading `/` only anchors (`/a.txt` matches `a.txt`, not `b/a.txt`); trailing `/`s are
//!   ignored.
//! - `*` and `?` never cross a `/`, `**` does; `[ab]`, `{a,b}` and `\` escapes as in
//!   [globset](https://docs.rs/globset).

use std::fmt;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::FieldError;

/// Compiled include/exclude globs and accepted extensions.
///
/// Built from a config's `include`, `exclude` and `extensions` fields by [`PathFilter::new`],
/// which names bad entries `include[1]`, `exclude[0]`, `extensions[2]` (a config that nests
/// them prefixes those paths itself). The default accepts every path.
///
/// Two ways to ask:
/// - [`matches`](Self::matches) decides for a file path on its own, `.gitignore`-style: a
///   glob that matches a folder matches everything under it, for `include` and `exclude`
///   alike, and `exclude` wins. For flat listings (object keys).
/// - [`is_excluded`](Self::is_excluded), [`is_included`](Self::is_included) and
///   [`accepts_extension`](Self::accepts_extension) look at one path alone, for a walk that
///   checks each folder as it enters it and so prunes excluded folders without listing them.
///
/// ```
/// use connector_core::glob::PathFilter;
///
/// let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// let filter = PathFilter::new(&list(&["docs"]), &list(&["drafts"]), &list(&[".MD"]))
///     .map_err(|problems| problems[0].to_string())?;
/// assert!(filter.matches("docs/guide/intro.md"));
/// assert!(!filter.matches("docs/drafts/intro.md")); // excluded folder
/// assert!(!filter.matches("blog/intro.md")); // not under an included path
/// assert!(!filter.matches("docs/logo.png")); // extension not accepted
///
/// let problems = PathFilter::new(&list(&["*.md", "a[b"]), &[], &list(&["", "a/b"])).unwrap_err();
/// let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
/// assert_eq!(paths, ["include[1]", "extensions[0]", "extensions[1]"]);
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Default)]
pub struct PathFilter {
    include: Option<Globs>,
    exclude: Option<Globs>,
    /// Lower case, without the dot; empty accepts every file.
    extensions: Vec<String>,
}

/// A compiled set with the patterns it came from, for `Debug`.
#[derive(Clone)]
struct Globs {
    set: GlobSet,
    patterns: Vec<String>,
}

impl PathFilter {
    /// Compiles the globs of `include` and `exclude` and normalises `extensions` (given with
    /// or without the leading dot, compared without regard to case).
    ///
    /// Empty `include` includes every path; empty `extensions` accepts every file.
    ///
    /// # Errors
    /// Every bad entry, each named by its field path: a glob that is empty or does not
    /// compile (`include[1]`, `exclude[0]`), an extension that is empty or holds `/`, `\`,
    /// `*` or `?` (`extensions[2]`).
    pub fn new(
        include: &[String],
        exclude: &[String],
        extensions: &[String],
    ) -> Result<Self, Vec<FieldError>> {
        let mut problems = Vec::new();
        let include = compile("include", include, &mut problems);
        let exclude = compile("exclude", exclude, &mut problems);
        for (i, ext) in extensions.iter().enumerate() {
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
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            include,
            exclude,
            extensions: extensions
                .iter()
                .map(|e| e.strip_prefix('.').unwrap_or(e).to_lowercase())
                .collect(),
        })
    }

    /// Whether the file at `relative_path` belongs to the source: neither it nor any folder
    /// above it matches an `exclude` glob; it or a folder above it matches an `include` glob
    /// (when there are any); and its extension is accepted.
    pub fn matches(&self, relative_path: &str) -> bool {
        // The folders above the path, then the path itself.
        let mut paths = relative_path
            .match_indices('/')
            .map(|(i, _)| &relative_path[..i])
            .chain(std::iter::once(relative_path));
        if let Some(exclude) = &self.exclude
            && paths.clone().any(|p| exclude.set.is_match(p))
        {
            return false;
        }
        if let Some(include) = &self.include
            && !paths.any(|p| include.set.is_match(p))
        {
            return false;
        }
        self.accepts_extension(relative_path)
    }

    /// Whether `relative_path` itself (a file or a folder) matches an `exclude` glob; the
    /// folders above it are not looked at.
    pub fn is_excluded(&self, relative_path: &str) -> bool {
        self.exclude
            .as_ref()
            .is_some_and(|g| g.set.is_match(relative_path))
    }

    /// Whether `relative_path` itself matches an `include` glob, or there are none; the
    /// folders above it are not looked at.
    pub fn is_included(&self, relative_path: &str) -> bool {
        self.include
            .as_ref()
            .is_none_or(|g| g.set.is_match(relative_path))
    }

    /// Whether the extension of the last segment of `path` is accepted, or any is (no
    /// `extensions` configured). A name without an extension (`README`, `.bashrc`, `a.`) is
    /// then not accepted.
    pub fn accepts_extension(&self, path: &str) -> bool {
        if self.extensions.is_empty() {
            return true;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let Some((stem, ext)) = name.rsplit_once('.') else {
            return false;
        };
        if stem.is_empty() || ext.is_empty() {
            return false;
        }
        // The configured extensions are lower case already; an ASCII extension (nearly every
        // one) is compared without building a lower-case copy.
        if ext.is_ascii() {
            self.extensions.iter().any(|x| x.eq_ignore_ascii_case(ext))
        } else {
            let lower = ext.to_lowercase();
            self.extensions.contains(&lower)
        }
    }
}

impl fmt::Debug for PathFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn patterns(g: &Option<Globs>) -> &[String] {
            g.as_ref().map_or(&[], |g| &g.patterns)
        }
        f.debug_struct("PathFilter")
            .field("include", &patterns(&self.include))
            .field("exclude", &patterns(&self.exclude))
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Compiles the globs of `field` with the semantics of the module docs; `None` when there are
/// none. Bad patterns are added to `problems`.
fn compile(field: &str, patterns: &[String], problems: &mut Vec<FieldError>) -> Option<Globs> {
    if patterns.is_empty() {
        return None;
    }
    let mut set = GlobSetBuilder::new();
    let mut ok = true;
    for (i, pattern) in patterns.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let anchored = pattern.strip_prefix('/');
        let body = anchored.unwrap_or(pattern).trim_end_matches('/');
        if body.is_empty() {
            problems.push(FieldError::new(path, "must not be empty"));
            ok = false;
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
            Err(e) => {
                problems.push(FieldError::new(
                    path,
                    format!("invalid glob {pattern:?}: {}", e.kind()),
                ));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    match set.build() {
        Ok(set) => Some(Globs {
            set,
            patterns: patterns.to_vec(),
        }),
        Err(e) => {
            problems.push(FieldError::new(
                field,
                format!("cannot compile the globs: {e}"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn filter(include: &[&str], exclude: &[&str], extensions: &[&str]) -> PathFilter {
        PathFilter::new(&list(include), &list(exclude), &list(extensions)).unwrap()
    }

    #[test]
    fn default_and_empty_accept_everything() {
        for f in [PathFilter::default(), filter(&[], &[], &[])] {
            for p in ["a", "a/b.md", ".hidden", "x/y/z"] {
                assert!(f.matches(p) && f.is_included(p) && !f.is_excluded(p), "{p}");
            }
        }
    }

    #[test]
    fn a_pattern_without_slash_matches_at_any_depth_one_with_slash_from_the_top() {
        let f = filter(&["*.md"], &[], &[]);
        assert!(f.is_included("a.md") && f.is_included("notes/b.md"));
        assert!(!f.is_included("a.txt"));
        let f = filter(&["docs/*.md"], &[], &[]);
        assert!(f.is_included("docs/a.md"));
        assert!(!f.is_included("docs/x/a.md") && !f.is_included("x/docs/a.md"));
        let f = filter(&["docs/**"], &[], &[]);
        assert!(f.is_included("docs/x/y/a.md"));
        let f = filter(&["/a.txt"], &[], &[]);
        assert!(f.is_included("a.txt") && !f.is_included("b/a.txt"));
        let f = filter(&["drafts/"], &[], &[]);
        assert!(f.is_included("drafts") && f.is_included("x/drafts"));
    }

    #[test]
    fn is_included_and_is_excluded_look_at_the_path_alone() {
        let f = filter(&["docs"], &["drafts"], &[]);
        assert!(f.is_included("docs") && !f.is_included("docs/a.md"));
        assert!(f.is_excluded("x/drafts") && !f.is_excluded("x/drafts/a.md"));
    }

    #[test]
    fn matches_applies_folder_globs_to_everything_under_them_and_exclude_wins() {
        let f = filter(&["docs"], &["drafts"], &[]);
        assert!(f.matches("docs/a.md") && f.matches("docs/x/a.md") && f.matches("x/docs/a"));
        assert!(!f.matches("blog/a.md"));
        assert!(!f.matches("docs/drafts/a.md") && !f.matches("drafts"));
        let f = filter(&[], &["*.tmp"], &[]);
        assert!(!f.matches("a/b.tmp") && f.matches("a/b.md"));
    }

    #[test]
    fn extensions_with_or_without_dot_in_any_case() {
        let f = filter(&[], &[], &[".MD", "txt", "ÄÖ"]);
        for p in [
            "a.md",
            "a.MD",
            "x/a.Md",
            "b.TXT",
            "v1.2/notes.txt",
            "c.äö",
            "c.ÄÖ",
        ] {
            assert!(f.accepts_extension(p) && f.matches(p), "{p}");
        }
        for p in ["README", ".md", "a.", "a.markdown", "md", "a.md/b", "c.äx"] {
            assert!(!f.accepts_extension(p), "{p}");
        }
        assert!(PathFilter::default().accepts_extension("README"));
    }

    #[test]
    fn every_bad_entry_is_named_by_its_path() {
        let problems = PathFilter::new(
            &list(&["*.md", "a[b", "/"]),
            &list(&["{x", "ok/**"]),
            &list(&["", "md", "a/b", "*"]),
        )
        .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "include[1]",
                "include[2]",
                "exclude[0]",
                "extensions[0]",
                "extensions[2]",
                "extensions[3]"
            ]
        );
        assert!(problems[0].message.contains("a[b"), "{}", problems[0]);
        assert_eq!(problems[1].message, "must not be empty");
    }

    #[test]
    fn debug_shows_the_patterns() {
        let f = filter(&["*.md"], &["drafts"], &["MD"]);
        assert_eq!(
            format!("{f:?}"),
            r#"PathFilter { include: ["*.md"], exclude: ["drafts"], extensions: ["md"] }"#
        );
    }
}
