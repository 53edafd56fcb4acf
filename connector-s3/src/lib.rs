#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod s3;

/// Registers every object-store source compiled in (one Cargo feature each, all on by
/// default): `s3`, `r2`, `google_cloud_storage`, `oci_storage`, `s3_compatible`.
///
/// ```
/// let mut registry = connector_core::Registry::new();
/// connector_s3::register(&mut registry);
/// # #[cfg(all(feature = "s3", feature = "r2"))]
/// assert!(registry.sources().contains(&"s3") && registry.sources().contains(&"r2"));
/// ```
// With no feature enabled there is nothing to register.
#[cfg_attr(
    not(any(
        feature = "s3",
        feature = "r2",
        feature = "google_cloud_storage",
        feature = "oci_storage",
        feature = "s3_compatible"
    )),
    allow(unused_variables)
)]
pub fn register(registry: &mut connector_core::Registry) {
    #[cfg(feature = "s3")]
    registry.register::<s3::S3Config, _>(
        s3::SOURCE,
        "Amazon S3 (or any bucket_type, as in RAGFlow)",
        |cfg| Ok(Box::new(s3::S3Connector::for_source(s3::SOURCE, cfg)?)),
    );
    #[cfg(feature = "r2")]
    registry.register::<s3::S3Config, _>(s3::SOURCE_R2, "Cloudflare R2", |cfg| {
        Ok(Box::new(s3::S3Connector::for_source(s3::SOURCE_R2, cfg)?))
    });
    #[cfg(feature = "google_cloud_storage")]
    registry.register::<s3::S3Config, _>(
        s3::SOURCE_GOOGLE_CLOUD_STORAGE,
        "Google Cloud Storage (XML API, HMAC keys)",
        |cfg| {
            Ok(Box::new(s3::S3Connector::for_source(
                s3::SOURCE_GOOGLE_CLOUD_STORAGE,
                cfg,
            )?))
        },
    );
    #[cfg(feature = "oci_storage")]
    registry.register::<s3::S3Config, _>(
        s3::SOURCE_OCI_STORAGE,
        "OCI Object Storage (S3 compatibility API)",
        |cfg| {
            Ok(Box::new(s3::S3Connector::for_source(
                s3::SOURCE_OCI_STORAGE,
                cfg,
            )?))
        },
    );
    #[cfg(feature = "s3_compatible")]
    registry.register::<s3::S3Config, _>(
        s3::SOURCE_S3_COMPATIBLE,
        "any S3-compatible store (MinIO, Ceph, rclone ...)",
        |cfg| {
            Ok(Box::new(s3::S3Connector::for_source(
                s3::SOURCE_S3_COMPATIBLE,
                cfg,
            )?))
        },
    );
}
