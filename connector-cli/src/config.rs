//! From `--config FILE` / `--path DIR` to a built connector.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use connector_core::{Built, Connector, Error, ErrorKind, Registry, Result};
use serde_json::Value;

use crate::args::ConfigArgs;
use crate::credentials::ConfigFileCredentials;

/// Reads the config the arguments describe and builds the connector for `source`, with the
/// config fields it accepts and ignores (for the caller to print).
///
/// # Errors
/// [`ErrorKind::Config`] for an unknown source, an unreadable or non-JSON file, `--path` for a
/// source without a `path` field, and every problem the registry finds in the config.
pub(crate) async fn build(registry: &Registry, source: &str, args: &ConfigArgs) -> Result<Built> {
    let config = read(registry, source, args).await?;
    build_from(registry, source, config, args)
}

/// The JSON config the arguments describe, not yet checked.
///
/// # Errors
/// As [`build`], short of the registry's checks of the config.
pub(crate) async fn read(registry: &Registry, source: &str, args: &ConfigArgs) -> Result<Value> {
    // Fail on an unknown source before reading anything, with the list of known ones.
    let schema = registry.schema(source)?;
    let mut config = match &args.config {
        Some(file) => read_json(file).await?,
        None => Value::Object(serde_json::Map::new()),
    };
    if let Some(dir) = &args.path {
        set_path(source, &schema, &mut config, dir)?;
    }
    Ok(config)
}

/// Builds the connector for `source` from a config [`read`] returned.
///
/// # Errors
/// As [`build`].
pub(crate) fn build_from(
    registry: &Registry,
    source: &str,
    config: Value,
    args: &ConfigArgs,
) -> Result<Built> {
    let built = registry.build_with_notes(source, config)?;
    keep_rotated_credentials(built.connector.as_ref(), args);
    Ok(built)
}

/// A credential the service rotates goes back into the config file it came from (not when the
/// config came from stdin or `--path` alone). Returns whether the connector has such a
/// credential.
fn keep_rotated_credentials(connector: &dyn Connector, args: &ConfigArgs) -> bool {
    match args.config.as_ref().filter(|f| f.as_os_str() != "-") {
        Some(file) => connector.set_credential_store(Arc::new(ConfigFileCredentials::new(file))),
        None => false,
    }
}

async fn read_json(file: &Path) -> Result<Value> {
    let shown = file.display();
    let bytes = if file.as_os_str() == "-" {
        // Reading stdin is blocking; it happens once, before anything else runs.
        tokio::task::spawn_blocking(|| {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map(|_| buf)
        })
        .await
        .map_err(|e| Error::internal("the stdin reader stopped").with_cause(e))?
    } else {
        tokio::fs::read(file).await
    }
    .map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("cannot read config file {shown}"),
        )
        .with_field("--config")
        .with_cause(e)
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("config file {shown} is not valid JSON"),
        )
        .with_field("--config")
        .with_cause(e)
    })
}

fn set_path(source: &str, schema: &Value, config: &mut Value, dir: &Path) -> Result<()> {
    let has_path = schema.pointer("/properties/path").is_some();
    if !has_path {
        return Err(Error::new(
            ErrorKind::Config,
            format!("source `{source}` has no `path` field; give its config with --config"),
        )
        .with_field("--path"));
    }
    let Some(object) = config.as_object_mut() else {
        return Err(Error::new(
            ErrorKind::Config,
            "the config must be a JSON object to take --path",
        )
        .with_field("--config"));
    };
    let Some(dir) = dir.to_str() else {
        return Err(Error::new(
            ErrorKind::Config,
            format!("--path {} is not valid UTF-8", dir.display()),
        )
        .with_field("--path"));
    };
    object.insert("path".to_owned(), Value::String(dir.to_owned()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Mutex;

    use connector_core::reexports::async_trait;
    use connector_core::{CredentialStore, Roles, Secret};

    use super::*;

    /// A connector whose token rotates: keeps the store it is given.
    #[derive(Default)]
    struct Rotating(Mutex<Option<Arc<dyn CredentialStore>>>);

    impl std::fmt::Debug for Rotating {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Rotating")
        }
    }

    impl std::fmt::Display for Rotating {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("rotating")
        }
    }

    #[async_trait]
    impl Connector for Rotating {
        fn source(&self) -> &'static str {
            "rotating"
        }

        fn roles(&self) -> Roles<'_> {
            Roles::none()
        }

        async fn check(&self) -> Result<()> {
            Ok(())
        }

        fn set_credential_store(&self, store: Arc<dyn CredentialStore>) -> bool {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(store);
            true
        }
    }

    fn args(config: Option<PathBuf>) -> ConfigArgs {
        ConfigArgs {
            config,
            path: None,
            ragflow_ids: false,
        }
    }

    #[tokio::test]
    async fn a_rotated_credential_goes_back_into_the_config_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("c.json");
        std::fs::write(&file, r#"{"credentials": {"token": "old"}}"#).unwrap_or_default();
        let connector = Rotating::default();
        assert!(keep_rotated_credentials(
            &connector,
            &args(Some(file.clone()))
        ));
        let store = connector.0.lock().ok().and_then(|s| s.clone());
        let saved = match store {
            Some(store) => {
                store
                    .save("rotating", "credentials.token", &Secret::new("new"))
                    .await
            }
            None => panic!("no store was set"),
        };
        assert!(saved.is_ok(), "{saved:?}");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(text.contains(r#""token": "new""#), "{text}");

        // From stdin or `--path` there is no file to write back to.
        let from_stdin = Rotating::default();
        assert!(!keep_rotated_credentials(
            &from_stdin,
            &args(Some("-".into()))
        ));
        assert!(!keep_rotated_credentials(&from_stdin, &args(None)));
        assert!(from_stdin.0.lock().is_ok_and(|s| s.is_none()));
    }

    #[test]
    fn path_needs_a_path_field() {
        let schema = serde_json::json!({ "properties": { "bucket_name": {} } });
        let mut config = serde_json::json!({});
        let Err(err) = set_path("s3", &schema, &mut config, Path::new("/tmp")) else {
            panic!("a source without `path` took --path");
        };
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("no `path` field"), "{err}");
    }

    #[test]
    fn path_overrides_the_file() {
        let schema = serde_json::json!({ "properties": { "path": {} } });
        let mut config = serde_json::json!({ "path": "old", "include": ["*.md"] });
        assert!(set_path("local", &schema, &mut config, Path::new("new")).is_ok());
        assert_eq!(
            config,
            serde_json::json!({ "path": "new", "include": ["*.md"] })
        );
    }
}
