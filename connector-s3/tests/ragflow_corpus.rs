//! The object-store cases of the RAGFlow corpus (`tests/ragflow-corpus/{s3,r2,
//! google_cloud_storage,oci_storage,s3_compatible}/` at the workspace root), read by this crate
//! alone: each config parses, its effective settings include the case's `expect`, exactly the
//! case's `ignored` fields are reported, the connector builds for the case's source (with an
//! empty environment: nothing is read or sent at build time), what it built matches the
//! case's `built` (this crate's key: `allow_images`, whose default depends on the source and so
//! is absent from the effective config), and no secret of the case shows in `Debug`. The
//! facade's `tests/ragflow_corpus.rs` runs the same files through the full registry.

use std::path::PathBuf;
use std::sync::Arc;

use connector_core::testkit::corpus;
use connector_s3::s3::{BucketType, S3Config, S3Connector, StaticEnvironment};

const SOURCES: &[&str] = &[
    "s3",
    "r2",
    "google_cloud_storage",
    "oci_storage",
    "s3_compatible",
];

/// Credential fields whose values must never show in what the connector prints.
const SECRETS: &[&str] = &[
    "aws_secret_access_key",
    "aws_session_token",
    "session_token",
    "r2_secret_access_key",
    "secret_access_key",
];

#[test]
fn every_object_store_case_parses_and_builds_with_ragflow_meaning() {
    let mut seen = 0;
    let mut wrong = Vec::new();
    for source in SOURCES {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/ragflow-corpus")
            .join(source);
        let cases = corpus::cases(&dir);
        assert!(cases.len() >= 3, "{source}: {} cases", cases.len());
        for case in cases {
            seen += 1;
            let name = case.path.display().to_string();
            assert_eq!(case.source, *source, "{name}");
            // Parses, means `expect`, reports exactly `ignored`, shows no secret.
            wrong.extend(corpus::check_case::<S3Config>(&case));
            let Ok(parsed) = connector_core::config::parse::<S3Config>(case.config.clone()) else {
                continue;
            };
            let bucket_type = parsed.config.bucket_type;
            let connector = S3Connector::with_environment(
                source,
                parsed.config,
                Arc::new(StaticEnvironment::new()),
                |b| b,
            )
            .unwrap_or_else(|e| panic!("{name}: does not build: {e}"));
            // The bucket type is the one the config names, else the source's.
            let expected_type = bucket_type
                .or_else(|| BucketType::from_source(source))
                .expect("a bucket type");
            assert_eq!(connector.bucket_type(), expected_type, "{name}");
            let raw: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&case.path).expect("readable"))
                    .expect("a case");
            let allow = raw["built"]["allow_images"]
                .as_bool()
                .unwrap_or_else(|| panic!("{name}: `built.allow_images` must pin the default"));
            assert_eq!(connector.allow_images(), allow, "{name}: allow_images");

            let shown = format!("{connector:?} {connector}");
            for field in SECRETS {
                if let Some(value) = case.config["credentials"][field].as_str()
                    && !value.is_empty()
                {
                    assert!(!shown.contains(value), "{name}: {field} shows in {shown}");
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(seen >= 25, "{seen} cases");
}
