//! Writes a credential that a connector received while it ran (a rotated OAuth refresh token)
//! back into the `--config` file it came from, so the next run of the command starts from it.

use std::path::{Path, PathBuf};

use connector_core::reexports::async_trait;
use connector_core::{CredentialStore, Error, ErrorKind, Result, Secret};
use serde_json::Value;

/// A [`CredentialStore`] over one JSON config file: `save(source, "credentials.google_tokens",
/// value)` replaces that field and rewrites the file with
/// [`write_atomically`](connector_core::fs::write_atomically), keeping its permissions and every
/// other field.
#[derive(Debug)]
pub(crate) struct ConfigFileCredentials {
    path: PathBuf,
    /// One rewrite at a time.
    lock: tokio::sync::Mutex<()>,
}

impl ConfigFileCredentials {
    pub(crate) fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl CredentialStore for ConfigFileCredentials {
    async fn save(&self, source: &str, key: &str, value: &Secret) -> Result<()> {
        let _one_at_a_time = self.lock.lock().await;
        let (path, key_owned, value) = (self.path.clone(), key.to_owned(), value.clone());
        let written =
            tokio::task::spawn_blocking(move || replace_field(&path, &key_owned, value.expose()))
                .await
                .map_err(|e| Error::internal("the config writer stopped").with_cause(e))?;
        written?;
        tracing::info!(
            source,
            key,
            file = %self.path.display(),
            "saved a rotated credential into the config file"
        );
        Ok(())
    }
}

/// Sets the dotted field `key` of the JSON object in `path` to `value` and rewrites the file.
/// A field that held JSON (an object or array) gets `value` parsed, when it parses; any other
/// field gets it as a string. The value never appears in an error.
fn replace_field(path: &Path, key: &str, value: &str) -> Result<()> {
    let shown = path.display();
    let fail = |what: &str| {
        Error::new(
            ErrorKind::Config,
            format!("cannot save the rotated `{key}`: {what} {shown}"),
        )
        .with_field(key.to_owned())
    };
    let bytes = std::fs::read(path).map_err(|e| fail("cannot read").with_cause(e))?;
    let mut config: Value =
        serde_json::from_slice(&bytes).map_err(|e| fail("invalid JSON in").with_cause(e))?;
    let mut field = &mut config;
    for part in key.split('.') {
        if field.is_null() {
            // A parent the file did not have yet.
            *field = Value::Object(serde_json::Map::new());
        }
        let Value::Object(object) = field else {
            return Err(fail("a parent of the field is not an object in"));
        };
        field = object.entry(part.to_owned()).or_insert(Value::Null);
    }
    *field = match (&*field, serde_json::from_str::<Value>(value)) {
        (Value::Object(_) | Value::Array(_), Ok(parsed @ (Value::Object(_) | Value::Array(_)))) => {
            parsed
        }
        _ => Value::String(value.to_owned()),
    };
    connector_core::fs::write_atomically(path, |out| {
        serde_json::to_writer_pretty(&mut *out, &config)?;
        out.write_all(b"\n")
    })
    .map(|_| ())
    .map_err(|e| fail("cannot write").with_cause(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = r#"{"refresh_token":"1//new","client_id":"c"}"#;

    fn file_with(dir: &tempfile::TempDir, config: &Value) -> PathBuf {
        let path = dir.path().join("drive.json");
        std::fs::write(&path, config.to_string()).unwrap_or_default();
        path
    }

    fn read(path: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap_or_default()).unwrap_or_default()
    }

    #[tokio::test]
    async fn replaces_the_field_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = file_with(
            &dir,
            &serde_json::json!({
                "credentials": {"google_tokens": "{\"refresh_token\":\"1//old\"}", "google_primary_admin": "a@b.c"},
                "include_my_drives": true
            }),
        );
        let store = ConfigFileCredentials::new(&path);
        let saved = store
            .save(
                "google_drive",
                "credentials.google_tokens",
                &Secret::new(TOKEN),
            )
            .await;
        assert!(saved.is_ok(), "{saved:?}");
        assert_eq!(
            read(&path),
            serde_json::json!({
                "credentials": {"google_tokens": TOKEN, "google_primary_admin": "a@b.c"},
                "include_my_drives": true
            })
        );
        let leftovers = std::fs::read_dir(dir.path()).map_or(0, Iterator::count);
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[tokio::test]
    async fn a_field_that_held_json_gets_json_and_a_missing_one_is_added() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = file_with(
            &dir,
            &serde_json::json!({"credentials": {"google_tokens": {"refresh_token": "1//old"}}}),
        );
        let store = ConfigFileCredentials::new(&path);
        let first = store
            .save("gmail", "credentials.google_tokens", &Secret::new(TOKEN))
            .await;
        let second = store
            .save("gmail", "credentials.extra.token", &Secret::new("abc"))
            .await;
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(
            read(&path)["credentials"],
            serde_json::json!({
                "google_tokens": {"refresh_token": "1//new", "client_id": "c"},
                "extra": {"token": "abc"}
            })
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn keeps_the_file_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = file_with(&dir, &serde_json::json!({"credentials": {}}));
        let closed = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&path, closed).unwrap_or_default();
        let store = ConfigFileCredentials::new(&path);
        let saved = store
            .save("gmail", "credentials.google_tokens", &Secret::new(TOKEN))
            .await;
        assert!(saved.is_ok());
        let mode = std::fs::metadata(&path).map_or(0, |m| m.permissions().mode());
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn errors_name_the_file_and_field_and_never_the_value() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{not json").unwrap_or_default();
        let scalar = file_with(&dir, &serde_json::json!({"credentials": "flat"}));
        for (path, why) in [
            (dir.path().join("missing.json"), "cannot read"),
            (broken, "invalid JSON"),
            (scalar, "not an object"),
        ] {
            let err = ConfigFileCredentials::new(&path)
                .save("gmail", "credentials.google_tokens", &Secret::new(TOKEN))
                .await
                .err()
                .map(|e| format!("{e} {e:?}"))
                .unwrap_or_default();
            assert!(err.contains(why), "{err}");
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains("credentials.google_tokens"), "{err}");
            assert!(!err.contains("1//new"), "the value leaked: {err}");
        }
    }
}
