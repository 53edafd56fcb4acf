//! [`S3Config`]: which bucket, with which credentials, and which of its objects.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::Ignored;
use connector_core::glob::PathFilter;
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Objects larger than this are reported as failures unless configured otherwise: 20 MiB, as
/// RAGFlow's `BLOB_STORAGE_SIZE_THRESHOLD`.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 20 * 1024 * 1024;

/// The largest object spooled to a file (with `spool_large_objects`) unless configured
/// otherwise: 16 GiB.
pub const DEFAULT_MAX_SPOOLED_OBJECT_SIZE: u64 = 16 * 1024 * 1024 * 1024;

/// The largest `max_spooled_object_size`: 5 TiB, the largest object Amazon S3 stores.
const MAX_SPOOLED_BYTES: u64 = connector_core::config::limits::MAX_SPOOLED_BYTES;

/// Objects downloaded at the same time unless configured otherwise.
pub const DEFAULT_CONCURRENCY: u32 = 8;

/// Keys per listing page (`max-keys`) unless configured otherwise; S3's own maximum.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// The most downloads in flight that `concurrency` may ask for.
pub const MAX_CONCURRENCY: u32 = 64;

/// The kind of store, as RAGFlow's `BlobType`. It picks the endpoint, the credential fields
/// and the first part of every document id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketType {
    /// Amazon S3: `https://{bucket}.s3.{region}.amazonaws.com`.
    S3,
    /// Cloudflare R2: `https://{account_id}.r2.cloudflarestorage.com/{bucket}` (`.eu.` with
    /// `european_residency`).
    R2,
    /// Google Cloud Storage through its XML API with HMAC keys:
    /// `https://storage.googleapis.com/{bucket}`.
    GoogleCloudStorage,
    /// OCI Object Storage through its S3 compatibility API:
    /// `https://{namespace}.compat.objectstorage.{region}.oraclecloud.com/{bucket}`.
    OciStorage,
    /// Any S3-compatible store (MinIO, Ceph, rclone ...) at `credentials.endpoint_url`.
    S3Compatible,
}

impl BucketType {
    /// The snake_case name, also the registry key of the matching source.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S3 => "s3",
            Self::R2 => "r2",
            Self::GoogleCloudStorage => "google_cloud_storage",
            Self::OciStorage => "oci_storage",
            Self::S3Compatible => "s3_compatible",
        }
    }

    /// The bucket type named by a source key.
    pub fn from_source(source: &str) -> Option<Self> {
        [
            Self::S3,
            Self::R2,
            Self::GoogleCloudStorage,
            Self::OciStorage,
            Self::S3Compatible,
        ]
        .into_iter()
        .find(|t| t.as_str() == source)
    }
}

impl fmt::Display for BucketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How requests name the bucket, as boto3's `addressing_style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressingStyle {
    /// Virtual-host style where the bucket name allows it, else path style.
    #[default]
    Auto,
    /// `https://{bucket}.{endpoint host}/{key}`.
    Virtual,
    /// `https://{endpoint host}/{bucket}/{key}`.
    Path,
}

/// How an Amazon S3 connector authenticates (RAGFlow's `authentication_method`; only the `s3`
/// bucket type reads it, as in RAGFlow: every other type signs with its static keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticationMethod {
    /// Static keys: `aws_access_key_id` + `aws_secret_access_key`, and `aws_session_token` for
    /// temporary ones.
    #[default]
    AccessKey,
    /// STS `AssumeRole` of `aws_role_arn` (session name
    /// [`ROLE_SESSION_NAME`](super::ROLE_SESSION_NAME)), refreshed before it expires. The call
    /// is signed with the host's ambient credentials (as `assume_role` finds them), as in
    /// RAGFlow, or with `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`)
    /// when `iam_role_with_keys` is true; keys given without it are reported as unused.
    IamRole,
    /// The host's ambient credentials, found as the AWS SDKs find them: environment variables,
    /// a web identity token file (EKS IRSA), the shared profile files, ECS container
    /// credentials, EC2 instance metadata (IMDSv2). Keys and `aws_role_arn` in the config are
    /// not used, as in RAGFlow.
    AssumeRole,
}

impl AuthenticationMethod {
    /// The snake_case name, as configs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessKey => "access_key",
            Self::IamRole => "iam_role",
            Self::AssumeRole => "assume_role",
        }
    }
}

/// The `credentials` object. It holds the fields of every bucket type, named as in RAGFlow;
/// [`S3Config::validate`] says which ones the chosen type needs.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Credentials {
    /// S3: how to authenticate, `access_key` (default), `iam_role` or `assume_role` (see
    /// [`AuthenticationMethod`]). Other bucket types ignore it, as RAGFlow does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<AuthenticationMethod>,
    /// S3 and S3-compatible: the access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    /// S3 and S3-compatible: the secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_secret_access_key: Option<Secret>,
    /// S3 and S3-compatible: the session token of temporary keys (`ASIA...`), sent as
    /// `X-Amz-Security-Token`. Also read as `session_token` (RAGFlow's storage config name).
    #[serde(
        default,
        alias = "session_token",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(extend("x-aliases" = ["session_token"]))]
    pub aws_session_token: Option<Secret>,
    /// S3 with `iam_role` (required): the role to assume, `arn:aws:iam::{account}:role/{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_role_arn: Option<String>,
    /// S3 with `iam_role`: sign the STS `AssumeRole` call with `aws_access_key_id` +
    /// `aws_secret_access_key` (+ `aws_session_token`) instead of the host's ambient
    /// credentials (default false: RAGFlow signs it with the ambient chain, and keys left in
    /// the config from `access_key` are reported as unused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub iam_role_with_keys: bool,
    /// S3 with `iam_role` or `assume_role`: where STS calls go instead of the regional
    /// `https://sts.{region}.amazonaws.com` (a VPC endpoint, a test server). The environment
    /// variable `AWS_ENDPOINT_URL_STS` does the same when this is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_endpoint_url: Option<Url>,
    /// The region requests are signed for. S3: default `AWS_REGION`, else
    /// `AWS_DEFAULT_REGION`, else `us-east-1` (as boto3 reads the host's region when RAGFlow's
    /// form leaves it blank). S3-compatible: default `us-east-1`. OCI: required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// S3-compatible (required): the endpoint, e.g. `http://127.0.0.1:9000`. Any other type:
    /// overrides the endpoint derived from the type (a proxy, a test server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<Url>,
    /// S3-compatible (and any type with `endpoint_url`): `path`, `virtual` or `auto` (default;
    /// path style at a configured endpoint, as botocore). `virtual` is a preference, as in
    /// botocore: a bucket name that is not a DNS label (`team_docs`, `my.docs`) or an endpoint
    /// whose host is an IP address is addressed by path. Amazon S3 at its own endpoint ignores
    /// it, as RAGFlow does (its form always sends `virtual`): AWS is addressed by virtual host
    /// where the bucket name fits in a host name, else by path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addressing_style: Option<AddressingStyle>,
    /// R2: the Cloudflare account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// R2: the access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2_access_key_id: Option<String>,
    /// R2: the secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2_secret_access_key: Option<Secret>,
    /// OCI: the Object Storage namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Google Cloud Storage (HMAC key) and OCI (customer secret key): the access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Google Cloud Storage and OCI: the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
}

impl fmt::Debug for S3Credentials {
    // Written by hand so that no secret can ever be printed, whatever derive would do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |s: &Option<Secret>| s.as_ref().map(|_| "***");
        f.debug_struct("S3Credentials")
            .field("authentication_method", &self.authentication_method)
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field(
                "aws_secret_access_key",
                &secret(&self.aws_secret_access_key),
            )
            .field("aws_session_token", &secret(&self.aws_session_token))
            .field("aws_role_arn", &self.aws_role_arn)
            .field("iam_role_with_keys", &self.iam_role_with_keys)
            .field(
                "sts_endpoint_url",
                &self.sts_endpoint_url.as_ref().map(Url::as_str),
            )
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url.as_ref().map(Url::as_str))
            .field("addressing_style", &self.addressing_style)
            .field("account_id", &self.account_id)
            .field("r2_access_key_id", &self.r2_access_key_id)
            .field("r2_secret_access_key", &secret(&self.r2_secret_access_key))
            .field("namespace", &self.namespace)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &secret(&self.secret_access_key))
            .finish()
    }
}

/// The configuration of the object-store connectors (sources `s3`, `r2`,
/// `google_cloud_storage`, `oci_storage`, `s3_compatible`).
///
/// RAGFlow's shape is accepted as it is (`bucket_name`, `bucket_type`, `prefix`,
/// `allow_images`, `credentials.*`); the other fields are ours, all optional.
///
/// ```
/// use connector_s3::s3::S3Config;
///
/// let config: S3Config = connector_core::config::from_json(serde_json::json!({
///     "bucket_name": "handbook",
///     "bucket_type": "s3_compatible",
///     "prefix": "policies/",
///     "credentials": {
///         "endpoint_url": "http://127.0.0.1:9000",
///         "aws_access_key_id": "minio",
///         "aws_secret_access_key": "minio-secret",
///         "addressing_style": "path"
///     },
///     "include": ["*.md", "*.pdf"],
/// }))?;
/// assert_eq!(config.max_object_size.get(), 20 * 1024 * 1024);
/// assert!(!format!("{config:?}").contains("minio-secret"));
/// # Ok::<(), connector_core::Error>(())
/// ```
///
/// # Filters
/// Keys ending in `/` (folder markers) are always skipped. `include` and `exclude` are globs
/// matched against the key *after* `prefix`: a pattern without `/` matches at any depth
/// (`*.md`), one with `/` from the top (`docs/**`); `*` never crosses a `/`, `**` does; a
/// pattern that matches a folder (`drafts`) matches every key under it; `exclude` wins.
/// `extensions` (with or without the dot, any case) restricts the accepted file types; images
/// (`png`, `jpg` ...) are skipped when `allow_images` is false (by default only under the
/// sources `r2` and `google_cloud_storage`, see [`allow_images`](Self::allow_images)).
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Config {
    /// The bucket.
    pub bucket_name: String,
    /// The kind of store; by default the one the source names (`s3` for source `s3`). Under
    /// source `s3` any type may be chosen, as in RAGFlow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_type: Option<BucketType>,
    /// Only keys under this prefix; a `/` is appended when missing, as RAGFlow does. A leading
    /// `/` is kept, as RAGFlow lists it (S3 keys may start with `/`; `check()` warns when
    /// nothing is under such a prefix).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Credentials and endpoint, as RAGFlow names them.
    #[serde(default)]
    pub credentials: S3Credentials,
    /// R2: use the EU jurisdiction endpoint `{account_id}.eu.r2.cloudflarestorage.com`.
    #[serde(default)]
    pub european_residency: bool,
    /// Accept image files (`png`, `jpg` ... see [`IMAGE_EXTENSIONS`](super::IMAGE_EXTENSIONS)).
    /// When absent: true, as RAGFlow's blob sync indexes images (its image filter was removed
    /// in April 2026 and `allow_images` is no longer read), except under the sources `r2` and
    /// `google_cloud_storage`, false there as RAGFlow's Go connectors for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_images: Option<bool>,
    /// Globs of the keys to include (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Globs of the keys to skip; they win over `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// File extensions to accept (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Largest object downloaded, in bytes (default 20 MiB), checked against the listed size
    /// before downloading; a larger object becomes a failure naming its key. Also read as
    /// `size_threshold` (the name of RAGFlow's Go connectors for R2 and GCS); 0 or less is the
    /// default, as there.
    #[serde(default = "default_max_object_size", alias = "size_threshold")]
    #[schemars(extend("x-aliases" = ["size_threshold"], "x-default-unless-positive" = true))]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_object_size: NonZeroU64,
    /// Objects over `max_object_size` are downloaded to a spool file (the sync's spool
    /// folder, by default the OS temporary folder) in chunks and delivered as
    /// [`Content::Spooled`](connector_core::Content::Spooled), never held in memory, up to
    /// `max_spooled_object_size` (default false: they fail, naming their key). The sink must
    /// take spooled bodies (core's all do); another reports each as a failure.
    #[serde(default)]
    pub spool_large_objects: bool,
    /// Largest object spooled when `spool_large_objects` is on, in bytes (default 16 GiB, at
    /// most 5 TiB, S3's own limit): the disk a sync may fill is `concurrency` times this plus
    /// what the batch loop holds. A larger object fails, naming its key.
    #[serde(default = "default_max_spooled_object_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_SPOOLED_BYTES))]
    pub max_spooled_object_size: NonZeroU64,
    /// Objects downloaded at the same time (default 8, at most 64); documents still come in
    /// listing order.
    #[serde(default = "default_concurrency")]
    #[schemars(range(max = connector_core::config::limits::MAX_CONCURRENCY))]
    pub concurrency: NonZeroU32,
    /// Keys per listing page (`max-keys`, default and maximum 1000): the unit of one
    /// fingerprint lookup and one checkpoint.
    #[serde(default = "default_page_size")]
    #[schemars(range(max = connector_core::config::limits::MAX_PAGE_SIZE))]
    pub page_size: NonZeroU32,
    /// Incremental runs take only the objects whose `LastModified` is in the run's window
    /// (default false: they list the whole prefix and skip unchanged objects by ETag, as
    /// RAGFlow does). Amazon S3 cannot filter a listing by time, so both list every key
    /// (one `ListObjectsV2` per 1,000 keys); this saves only the host's fingerprint lookups
    /// of the objects outside the window. The risk: an object whose `LastModified` is before
    /// the window but which appeared after the last run is never synced incrementally; a
    /// multipart upload's `LastModified` is when it was *initiated*, so an upload initiated
    /// before a run and completed after it is missed until a full run.
    #[serde(default)]
    pub incremental_by_last_modified: bool,
    /// Hosts the connector may reach although they are not public addresses: host names
    /// (`minio.corp.example`), domains (`*.corp.example`), addresses (`10.1.2.3`) or networks
    /// (`10.20.0.0/16`). The bucket's endpoint (`credentials.endpoint_url`, or the one made
    /// from `account_id`, `namespace` or `region`) and `credentials.sts_endpoint_url` are
    /// denied private, loopback and link-local addresses (the cloud metadata service at
    /// 169.254.169.254) otherwise, on every redirect too; a MinIO on `localhost` needs
    /// `["127.0.0.1"]` here. A host that runs connectors for others can rule this field out
    /// (`Registry::set_network_policy`). The host's own AWS credential sources are never
    /// held to it (see [`with_network_policy`](Self::with_network_policy)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own: set by a
    /// [`Registry`](connector_core::Registry) ([`ConnectorConfig::set_network_policy`]) or
    /// [`with_network_policy`](Self::with_network_policy), never by the tenant's JSON.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket_name", &self.bucket_name)
            .field("bucket_type", &self.bucket_type)
            .field("prefix", &self.prefix)
            .field("credentials", &self.credentials)
            .field("european_residency", &self.european_residency)
            .field("allow_images", &self.allow_images)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("extensions", &self.extensions)
            .field("max_object_size", &self.max_object_size)
            .field("spool_large_objects", &self.spool_large_objects)
            .field("max_spooled_object_size", &self.max_spooled_object_size)
            .field("concurrency", &self.concurrency)
            .field("page_size", &self.page_size)
            .field(
                "incremental_by_last_modified",
                &self.incremental_by_last_modified,
            )
            .field("allowed_hosts", &self.allowed_hosts)
            .field("host_network", &self.host_network)
            .finish()
    }
}

fn default_max_object_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_OBJECT_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_max_spooled_object_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_SPOOLED_OBJECT_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_concurrency() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_CONCURRENCY).unwrap_or(NonZeroU32::MIN)
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroU32::MIN)
}

impl S3Config {
    /// A bucket of `bucket_type` with every other setting at its default and no credentials.
    pub fn new(bucket_name: impl Into<String>, bucket_type: BucketType) -> Self {
        Self {
            bucket_name: bucket_name.into(),
            bucket_type: Some(bucket_type),
            prefix: String::new(),
            credentials: S3Credentials::default(),
            european_residency: false,
            allow_images: None,
            include: Vec::new(),
            exclude: Vec::new(),
            extensions: Vec::new(),
            max_object_size: default_max_object_size(),
            spool_large_objects: false,
            max_spooled_object_size: default_max_spooled_object_size(),
            concurrency: default_concurrency(),
            page_size: default_page_size(),
            incremental_by_last_modified: false,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// This config with the host's network policy, in place of the connector's own (public
    /// addresses plus `allowed_hosts`); a [`Registry`](connector_core::Registry) does this
    /// itself when the host set a policy. It holds for what the tenant can point the
    /// connector at: the bucket's endpoint (`credentials.endpoint_url`, and the endpoints made
    /// from `account_id`, `namespace` and `region`, every redirect included) and a
    /// `credentials.sts_endpoint_url`.
    ///
    /// Neither it nor the connector's own policy holds for the host's own credential sources
    /// (`authentication_method: assume_role`, and `iam_role` without keys): the EC2 instance
    /// metadata service (`169.254.169.254`), the ECS container endpoint (`169.254.170.2`),
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, `AWS_ENDPOINT_URL_STS` and the regional STS
    /// endpoint are set by whoever runs the process, not by the tenant, and live at exactly
    /// the link-local (behind a VPC endpoint, private) addresses a guard denies; their answers
    /// sign requests and never become documents.
    ///
    /// ```
    /// use connector_core::net::NetworkPolicy;
    /// use connector_s3::s3::S3Config;
    /// let endpoint = "http://127.0.0.1:9000".parse().expect("a URL");
    /// let mut config = S3Config::s3_compatible("handbook", endpoint, "minio", "minio-secret");
    /// // The connector's own policy: public addresses plus `allowed_hosts`.
    /// config.allowed_hosts.push("127.0.0.1".to_owned());
    /// assert!(config.network_policy()?.permits("minio", "127.0.0.1".parse().unwrap()));
    /// // A host's policy that does not accept config hosts rules `allowed_hosts` out.
    /// let config = config.with_network_policy(NetworkPolicy::public_only());
    /// assert!(!config.network_policy()?.permits("minio", "127.0.0.1".parse().unwrap()));
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    #[must_use]
    pub fn with_network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.host_network = Some(policy);
        self
    }

    /// The policy the bucket's endpoint (and a `credentials.sts_endpoint_url`) is held to:
    /// the host's, if it set one (widened by `allowed_hosts` only where it
    /// [accepts them](NetworkPolicy::with_config_hosts)), else public addresses plus
    /// `allowed_hosts`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming an `allowed_hosts`
    /// entry that is no host, domain, address or network.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// An S3-compatible store at `endpoint` with path-style requests and these keys.
    pub fn s3_compatible(
        bucket_name: impl Into<String>,
        endpoint: Url,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        let mut config = Self::new(bucket_name, BucketType::S3Compatible);
        config.credentials.endpoint_url = Some(endpoint);
        config.credentials.addressing_style = Some(AddressingStyle::Path);
        config.credentials.aws_access_key_id = Some(access_key_id.into());
        config.credentials.aws_secret_access_key = Some(Secret::new(secret_access_key));
        config
    }

    /// The authentication method in effect for the `s3` bucket type (default `access_key`).
    pub fn authentication_method(&self) -> AuthenticationMethod {
        self.credentials.authentication_method.unwrap_or_default()
    }

    /// Whether image files are accepted under `source`: `allow_images` when given, else true
    /// except under the sources `r2` and `google_cloud_storage` (RAGFlow's Python blob sync
    /// indexes images since April 2026; its Go connectors for R2 and GCS, which serve those
    /// two sources, still skip them by default). The source, not the `bucket_type`, decides:
    /// an R2 bucket under source `s3` is synced by RAGFlow's Python connector.
    pub fn allow_images(&self, source: BucketType) -> bool {
        self.allow_images.unwrap_or(!matches!(
            source,
            BucketType::R2 | BucketType::GoogleCloudStorage
        ))
    }

    /// The prefix as listed: with a trailing `/` unless empty.
    pub(crate) fn list_prefix(&self) -> String {
        if self.prefix.is_empty() || self.prefix.ends_with('/') {
            self.prefix.clone()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// `include`, `exclude` and `extensions` compiled, or every bad entry by field path.
    pub(crate) fn path_filter(&self) -> Result<PathFilter, Vec<FieldError>> {
        PathFilter::new(&self.include, &self.exclude, &self.extensions)
    }

    /// Checks the fields `bucket_type` needs, as the source `source` resolves it.
    pub(crate) fn problems_for(&self, bucket_type: BucketType) -> Vec<FieldError> {
        let mut out = Vec::new();
        let c = &self.credentials;
        let need_str = |out: &mut Vec<FieldError>, name: &str, v: &Option<String>| {
            // Blank values never get here: the config layer reads them as absent.
            if v.is_none() {
                out.push(FieldError::new(
                    format!("credentials.{name}"),
                    format!("is required for bucket_type `{bucket_type}`"),
                ));
            }
        };
        let need_secret = |out: &mut Vec<FieldError>, name: &str, v: &Option<Secret>| {
            if v.is_none() {
                out.push(FieldError::new(
                    format!("credentials.{name}"),
                    format!("is required for bucket_type `{bucket_type}`"),
                ));
            }
        };
        match bucket_type {
            BucketType::S3 => {
                match self.authentication_method() {
                    AuthenticationMethod::AccessKey => {
                        need_str(&mut out, "aws_access_key_id", &c.aws_access_key_id);
                        need_secret(&mut out, "aws_secret_access_key", &c.aws_secret_access_key);
                    }
                    AuthenticationMethod::IamRole => {
                        match c.aws_role_arn.as_deref().map(str::trim) {
                        None | Some("") => out.push(FieldError::new(
                            "credentials.aws_role_arn",
                            "is required with authentication_method `iam_role`",
                        )),
                        Some(arn) if !is_role_arn(arn) => out.push(FieldError::new(
                            "credentials.aws_role_arn",
                            format!("{arn:?} is not a role ARN (arn:aws:iam::123456789012:role/name)"),
                        )),
                        Some(_) => {}
                    }
                        // Keys sign the AssumeRole call only when asked to; without
                        // `iam_role_with_keys` they are unused (`unused` says so).
                        if c.iam_role_with_keys {
                            for (name, given) in [
                                ("aws_access_key_id", c.aws_access_key_id.is_some()),
                                ("aws_secret_access_key", c.aws_secret_access_key.is_some()),
                            ] {
                                if !given {
                                    out.push(FieldError::new(
                                        format!("credentials.{name}"),
                                        "is required with `iam_role_with_keys` (the keys that sign the AssumeRole call)",
                                    ));
                                }
                            }
                        }
                    }
                    AuthenticationMethod::AssumeRole => {}
                }
            }
            BucketType::S3Compatible => {
                need_str(&mut out, "aws_access_key_id", &c.aws_access_key_id);
                need_secret(&mut out, "aws_secret_access_key", &c.aws_secret_access_key);
                if c.endpoint_url.is_none() {
                    out.push(FieldError::new(
                        "credentials.endpoint_url",
                        "is required for bucket_type `s3_compatible`",
                    ));
                }
            }
            BucketType::R2 => {
                need_str(&mut out, "account_id", &c.account_id);
                need_str(&mut out, "r2_access_key_id", &c.r2_access_key_id);
                need_secret(&mut out, "r2_secret_access_key", &c.r2_secret_access_key);
            }
            BucketType::GoogleCloudStorage => {
                need_str(&mut out, "access_key_id", &c.access_key_id);
                need_secret(&mut out, "secret_access_key", &c.secret_access_key);
            }
            BucketType::OciStorage => {
                need_str(&mut out, "namespace", &c.namespace);
                need_str(&mut out, "region", &c.region);
                need_str(&mut out, "access_key_id", &c.access_key_id);
                need_secret(&mut out, "secret_access_key", &c.secret_access_key);
            }
        }
        for (name, value) in [
            ("account_id", &c.account_id),
            ("namespace", &c.namespace),
            ("region", &c.region),
        ] {
            if let Some(v) = value
                && !v.is_empty()
                && !v
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                out.push(FieldError::new(
                    format!("credentials.{name}"),
                    format!("{v:?} may hold only letters, digits, `-` and `_`"),
                ));
            }
        }
        for (name, url) in [
            ("endpoint_url", &c.endpoint_url),
            ("sts_endpoint_url", &c.sts_endpoint_url),
        ] {
            if let Some(url) = url
                && (!matches!(url.scheme(), "http" | "https") || url.host_str().is_none())
            {
                out.push(FieldError::new(
                    format!("credentials.{name}"),
                    "must be an http or https URL",
                ));
            }
        }
        out
    }
}

/// Whether `arn` looks like an IAM role ARN: `arn:{partition}:iam::{account}:role/{path/name}`.
fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource))
            if partition.starts_with("aws")
                && !account.is_empty()
                && account.chars().all(|c| c.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
    )
}

impl ConnectorConfig for S3Config {
    /// Honoured: see [`S3Config::with_network_policy`] for what it guards.
    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    /// Checks the syntax and the fields of the bucket type (the `bucket_type` given, else
    /// `s3`; the registry checks again with the source's own type). Whether the bucket exists
    /// and the credentials work is for [`check`](connector_core::Connector::check).
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = NetworkPolicy::check_allowed_hosts("allowed_hosts", &self.allowed_hosts);
        let name = self.bucket_name.trim();
        // Only a config built in code can hold an empty name (JSON blanks are absent, so
        // "required"); it would address the endpoint itself.
        if name.is_empty() {
            problems.push(FieldError::new("bucket_name", "must not be empty"));
        } else if name.contains('/') {
            problems.push(FieldError::new(
                "bucket_name",
                "is a bucket name, not a path: put the folder in `prefix`",
            ));
        }
        if let Some(t) = self.bucket_type {
            problems.extend(self.problems_for(t));
        }
        if let Err(mut found) = self.path_filter() {
            problems.append(&mut found);
        }
        if self.max_spooled_object_size.get() > MAX_SPOOLED_BYTES {
            problems.push(FieldError::new(
                "max_spooled_object_size",
                format!("must be at most {MAX_SPOOLED_BYTES} (5 TiB, the largest S3 object)"),
            ));
        }
        if self.concurrency.get() > MAX_CONCURRENCY {
            problems.push(FieldError::new(
                "concurrency",
                format!("must be at most {MAX_CONCURRENCY}"),
            ));
        }
        if self.page_size.get() > DEFAULT_PAGE_SIZE {
            problems.push(FieldError::new(
                "page_size",
                format!("must be at most {DEFAULT_PAGE_SIZE} (the S3 maximum of max-keys)"),
            ));
        }
        problems
    }

    /// The S3 authentication fields the config's method or bucket type leaves unused: keys
    /// under `iam_role` (without `iam_role_with_keys`) or `assume_role`, a role ARN under
    /// `access_key` or `assume_role`, the method and role under another bucket type.
    fn unused(&self) -> Vec<Ignored> {
        super::unused::of(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::config::from_json;

    #[test]
    fn ragflow_shapes_are_accepted() {
        let r2: S3Config = from_json(serde_json::json!({
            "bucket_name": "b", "bucket_type": "r2", "prefix": "docs",
            "credentials": {"account_id": "acc", "r2_access_key_id": "k", "r2_secret_access_key": "s"},
        }))
        .unwrap();
        assert_eq!(r2.list_prefix(), "docs/");
        let oci: S3Config = from_json(serde_json::json!({
            "bucket_name": "b", "bucket_type": "oci_storage",
            "credentials": {"namespace": "ns", "region": "eu-frankfurt-1", "access_key_id": "k", "secret_access_key": "s"},
        }))
        .unwrap();
        assert_eq!(oci.credentials.namespace.as_deref(), Some("ns"));
        let gcs: S3Config = from_json(serde_json::json!({
            "bucket_name": "b", "bucket_type": "google_cloud_storage", "allow_images": true,
            "credentials": {"access_key_id": "GOOG1", "secret_access_key": "s"},
        }))
        .unwrap();
        assert_eq!(gcs.allow_images, Some(true));
        let compat: S3Config = from_json(serde_json::json!({
            "bucket_name": "b", "bucket_type": "s3_compatible",
            "credentials": {"endpoint_url": "http://127.0.0.1:9000", "aws_access_key_id": "k",
                "aws_secret_access_key": "s", "addressing_style": "path", "region": "us-east-1"},
        }))
        .unwrap();
        assert_eq!(
            compat.credentials.addressing_style,
            Some(AddressingStyle::Path)
        );
    }

    #[test]
    fn every_missing_field_is_named() {
        let err = from_json::<S3Config>(serde_json::json!({
            "bucket_name": "docs/2026", "bucket_type": "oci_storage", "prefix": "/x",
            "credentials": {}, "include": ["["], "page_size": 5000, "concurrency": 100,
        }))
        .unwrap_err();
        let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
        for p in [
            "bucket_name",
            "credentials.namespace",
            "credentials.region",
            "credentials.access_key_id",
            "credentials.secret_access_key",
            "include[0]",
            "page_size",
            "concurrency",
        ] {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
        // S3 keys may start with `/`, and RAGFlow lists such a prefix as it is.
        assert!(!paths.contains(&"prefix"), "{paths:?}");
    }

    #[test]
    fn every_authentication_method_is_accepted_with_what_it_needs() {
        let s3 = |credentials: serde_json::Value| {
            from_json::<S3Config>(serde_json::json!({
                "bucket_name": "b", "bucket_type": "s3", "credentials": credentials,
            }))
        };
        let role = s3(serde_json::json!({"authentication_method": "iam_role",
            "aws_role_arn": "arn:aws:iam::123456789012:role/docs-reader"}))
        .expect("iam_role with a role");
        assert_eq!(role.authentication_method(), AuthenticationMethod::IamRole);
        s3(serde_json::json!({"authentication_method": "assume_role"})).expect("ambient");
        let temporary = s3(serde_json::json!({"aws_access_key_id": "ASIA",
            "aws_secret_access_key": "s", "session_token": "tok"}))
        .expect("temporary keys, the token by RAGFlow's storage name");
        assert!(temporary.credentials.aws_session_token.is_some());
        let err = s3(serde_json::json!({"authentication_method": "iam_role"})).unwrap_err();
        assert!(err.to_string().contains("aws_role_arn"), "{err}");
        let err = s3(serde_json::json!({"authentication_method": "iam_role",
            "aws_role_arn": "docs-reader"}))
        .unwrap_err();
        assert!(err.to_string().contains("not a role ARN"), "{err}");
        // A key left from `access_key` is unused under `iam_role` (reported, no problem);
        // with `iam_role_with_keys` both keys are needed.
        s3(serde_json::json!({"authentication_method": "iam_role",
            "aws_role_arn": "arn:aws-cn:iam::123456789012:role/path/r", "aws_access_key_id": "AKIA"}))
        .expect("a leftover key");
        let err = s3(serde_json::json!({"authentication_method": "iam_role",
            "aws_role_arn": "arn:aws-cn:iam::123456789012:role/path/r", "aws_access_key_id": "AKIA",
            "iam_role_with_keys": true}))
        .unwrap_err();
        assert!(err.to_string().contains("aws_secret_access_key"), "{err}");
        // s3_compatible signs with its keys whatever the method says, as RAGFlow.
        from_json::<S3Config>(serde_json::json!({
            "bucket_name": "b", "bucket_type": "s3_compatible",
            "credentials": {"authentication_method": "iam_role", "endpoint_url": "http://127.0.0.1:9000",
                "aws_access_key_id": "k", "aws_secret_access_key": "s"},
        }))
        .expect("method ignored");
    }

    #[test]
    fn the_published_schema_names_the_session_token_alias_and_the_sts_endpoint() {
        let schema = connector_core::config::schema_of::<S3Config>();
        let credentials = &schema["$defs"]["S3Credentials"]["properties"];
        assert!(
            credentials["aws_session_token"].is_object(),
            "{credentials:#}"
        );
        assert_eq!(
            credentials["session_token"]["x-alias-of"], "aws_session_token",
            "{credentials:#}"
        );
        assert!(
            credentials["sts_endpoint_url"].is_object(),
            "{credentials:#}"
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let mut c = S3Config::new("b", BucketType::R2);
        c.credentials.r2_secret_access_key = Some(Secret::new("hunter2-r2"));
        c.credentials.aws_secret_access_key = Some(Secret::new("hunter2-aws"));
        c.credentials.secret_access_key = Some(Secret::new("hunter2-gcs"));
        c.credentials.aws_session_token = Some(Secret::new("hunter2-token"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
    }
}
