//! Files replaced so that a crash leaves the old content or the new one, never half of either.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces the file at `path` with what `write` writes, atomically: into a temporary file
/// beside it of this writer's own (`{name}.{pid}-{n}.tmp`: two writers of one file never share
/// a temporary file, so neither renames the other's half-written one), flushed and fsynced,
/// given the permissions of the file it replaces (a file of secrets stays closed), renamed over
/// `path`, and the folder fsynced so the rename itself is durable. On an error the temporary
/// file is removed and `path` is untouched. Returns the size written. Blocking: call it from
/// `spawn_blocking` in async code.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("state.json");
/// let size = connector_core::fs::write_atomically(&path, |out| out.write_all(b"{}"))?;
/// assert_eq!((size, std::fs::read_to_string(&path)?), (2, "{}".to_owned()));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// Whatever creating, writing, syncing or renaming the temporary file returns, or `write`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = with_suffix(path, &format!(".{}-{n}.tmp", std::process::id()));
    let written = (|| {
        let file = std::fs::File::create(&tmp)?;
        if let Ok(old) = std::fs::metadata(path) {
            file.set_permissions(old.permissions())?;
        }
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        out.flush()?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        drop(file);
        std::fs::rename(&tmp, path)?;
        // Some platforms cannot open a folder; the rename is done there all the same.
        if let Ok(dir) = std::fs::File::open(folder) {
            let _ = dir.sync_all();
        }
        Ok(size)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `path` with `suffix` appended to its file name (`state.json` -> `state.json.tmp`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("f.json");
        std::fs::write(&path, "old").unwrap_or_default();
        let failed = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(std::io::Error::other("injected"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("old"));
        assert_eq!(std::fs::read_dir(dir.path()).map_or(0, Iterator::count), 1);
    }
}
