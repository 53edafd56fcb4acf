//! Where each bucket type lives, how requests name the bucket, and which credentials sign
//! them (and which config fields a refusal points to); how the bucket is addressed again once
//! its real region is known ([`Addressing`]).

use connector_core::{FieldError, Secret};
use rusty_s3::{Bucket, UrlStyle};
use url::Url;

use super::aws::{AwsCredentials, AwsEnvironment, Signing};
use super::config::{AddressingStyle, AuthenticationMethod, BucketType, S3Config};

/// The resolved endpoint and signing identity of one bucket.
pub(crate) struct Endpoint {
    pub(crate) bucket: Bucket,
    /// How to address the bucket in another region.
    pub(crate) addressing: Addressing,
    pub(crate) signing: Signing,
    /// The config fields a refused key id, secret or session token points to.
    pub(crate) key_id_field: &'static str,
    pub(crate) secret_field: &'static str,
    pub(crate) token_field: &'static str,
    /// The config field an unreachable endpoint points to.
    pub(crate) endpoint_field: &'static str,
}

impl Endpoint {
    /// Resolves the endpoint of `config` for `bucket_type`, or every problem found. `env`
    /// gives the default region of Amazon S3 (`AWS_REGION`, `AWS_DEFAULT_REGION`).
    pub(crate) fn resolve(
        config: &S3Config,
        bucket_type: BucketType,
        env: &dyn AwsEnvironment,
    ) -> Result<Self, Vec<FieldError>> {
        let problems = config.problems_for(bucket_type);
        if !problems.is_empty() {
            return Err(problems);
        }
        let c = &config.credentials;
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
        let secret = |v: &Option<Secret>| v.clone().unwrap_or_else(|| Secret::new(""));
        let region = c.region.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let (base, region, default_style, key_id, secret, key_id_field, secret_field) =
            match bucket_type {
                BucketType::S3 => {
                    let region = region.map_or_else(|| default_region(env), str::to_owned);
                    (
                        aws_endpoint(&region),
                        region,
                        None,
                        text(&c.aws_access_key_id),
                        secret(&c.aws_secret_access_key),
                        "credentials.aws_access_key_id",
                        "credentials.aws_secret_access_key",
                    )
                }
                BucketType::S3Compatible => (
                    String::new(),
                    region.unwrap_or("us-east-1").to_owned(),
                    Some(UrlStyle::Path),
                    text(&c.aws_access_key_id),
                    secret(&c.aws_secret_access_key),
                    "credentials.aws_access_key_id",
                    "credentials.aws_secret_access_key",
                ),
                BucketType::R2 => {
                    let eu = if config.european_residency { ".eu" } else { "" };
                    (
                        format!(
                            "https://{}{eu}.r2.cloudflarestorage.com",
                            text(&c.account_id)
                        ),
                        "auto".to_owned(),
                        Some(UrlStyle::Path),
                        text(&c.r2_access_key_id),
                        secret(&c.r2_secret_access_key),
                        "credentials.r2_access_key_id",
                        "credentials.r2_secret_access_key",
                    )
                }
                BucketType::GoogleCloudStorage => (
                    "https://storage.googleapis.com".to_owned(),
                    "auto".to_owned(),
                    Some(UrlStyle::Path),
                    text(&c.access_key_id),
                    secret(&c.secret_access_key),
                    "credentials.access_key_id",
                    "credentials.secret_access_key",
                ),
                BucketType::OciStorage => {
                    let region = region.unwrap_or_default().to_owned();
                    (
                        format!(
                            "https://{}.compat.objectstorage.{region}.oraclecloud.com",
                            text(&c.namespace)
                        ),
                        region,
                        // OCI's compatibility API answers path-style requests only.
                        Some(UrlStyle::Path),
                        text(&c.access_key_id),
                        secret(&c.secret_access_key),
                        "credentials.access_key_id",
                        "credentials.secret_access_key",
                    )
                }
            };
        let token = c.aws_session_token.clone();
        let (signing, key_id_field, secret_field, token_field) = match bucket_type {
            BucketType::S3 => match config.authentication_method() {
                AuthenticationMethod::AccessKey => (
                    Signing::Keys(AwsCredentials::fixed(key_id, secret, token)),
                    key_id_field,
                    secret_field,
                    "credentials.aws_session_token",
                ),
                AuthenticationMethod::IamRole => (
                    Signing::IamRole {
                        role_arn: text(&c.aws_role_arn),
                        // RAGFlow signs AssumeRole with the host's ambient chain; the keys
                        // only when the config asks for it.
                        keys: c
                            .iam_role_with_keys
                            .then(|| AwsCredentials::fixed(key_id, secret, token)),
                    },
                    "credentials.aws_role_arn",
                    "credentials.aws_role_arn",
                    "credentials.aws_role_arn",
                ),
                AuthenticationMethod::AssumeRole => (
                    Signing::Ambient,
                    "credentials.authentication_method",
                    "credentials.authentication_method",
                    "credentials.authentication_method",
                ),
            },
            BucketType::S3Compatible => (
                Signing::Keys(AwsCredentials::fixed(key_id, secret, token)),
                key_id_field,
                secret_field,
                "credentials.aws_session_token",
            ),
            _ => (
                Signing::Keys(AwsCredentials::fixed(key_id, secret, None)),
                key_id_field,
                secret_field,
                key_id_field,
            ),
        };
        let overridden = c.endpoint_url.is_some();
        let endpoint = match &c.endpoint_url {
            Some(url) => url.clone(),
            None => Url::parse(&base).map_err(|e| {
                vec![FieldError::new(
                    "credentials",
                    format!("the endpoint {base} is not a URL: {e}"),
                )]
            })?,
        };
        let name = config.bucket_name.trim().to_owned();
        let style = match c.addressing_style.unwrap_or_default() {
            // RAGFlow's form sends `virtual` for every S3 config and boto3 ignores it for AWS:
            // AWS is addressed by virtual host where the name fits in a host name under TLS.
            _ if bucket_type == BucketType::S3 && !overridden => {
                if dns_compatible(&name) {
                    UrlStyle::VirtualHost
                } else {
                    UrlStyle::Path
                }
            }
            AddressingStyle::Path => UrlStyle::Path,
            // A preference, as in botocore (RAGFlow's form sends `virtual` by default): a name
            // that is no host label, or a host that is an IP address, is addressed by path.
            AddressingStyle::Virtual => {
                if dns_compatible(&name) && !host_is_ip(&endpoint) {
                    UrlStyle::VirtualHost
                } else {
                    UrlStyle::Path
                }
            }
            // As botocore: a custom endpoint is addressed by path.
            AddressingStyle::Auto if overridden => UrlStyle::Path,
            AddressingStyle::Auto => default_style.unwrap_or(if dns_compatible(&name) {
                UrlStyle::VirtualHost
            } else {
                UrlStyle::Path
            }),
        };
        let addressing = Addressing {
            bucket_type,
            overridden: c.endpoint_url.clone(),
            style,
            name: name.clone(),
            region_given: c.region.as_deref().is_some_and(|r| !r.trim().is_empty()),
        };
        let bucket = Bucket::new(endpoint, style, name, region).map_err(|e| {
            let field = if overridden {
                "credentials.endpoint_url"
            } else {
                "bucket_name"
            };
            vec![FieldError::new(
                field,
                format!("cannot address the bucket at this endpoint: {e}"),
            )]
        })?;
        Ok(Self {
            bucket,
            addressing,
            signing,
            key_id_field,
            secret_field,
            token_field,
            endpoint_field: if overridden || bucket_type == BucketType::S3Compatible {
                "credentials.endpoint_url"
            } else {
                "credentials.region"
            },
        })
    }
}

/// What it takes to address a bucket in another region than the one it was built for: the
/// region of a bucket is a fact of the store, and a config may name the wrong one (or none).
#[derive(Debug, Clone)]
pub(crate) struct Addressing {
    bucket_type: BucketType,
    /// `credentials.endpoint_url`: kept whatever the region (only the signature changes).
    overridden: Option<Url>,
    style: UrlStyle,
    name: String,
    /// Whether `credentials.region` was given (a wrong one is then the config's mistake, which
    /// `check()` reports; a default one is only a guess).
    pub(crate) region_given: bool,
}

impl Addressing {
    /// Whether the bucket's region may be taken from the store's answers: Amazon S3 (whose
    /// endpoint depends on it) and S3-compatible stores (MinIO, Ceph answer a wrong signing
    /// region as S3 does). R2 and Google Cloud Storage sign for `auto`; OCI's region is part of
    /// its namespace endpoint, where another region is another store.
    pub(crate) fn relocatable(&self) -> bool {
        matches!(self.bucket_type, BucketType::S3 | BucketType::S3Compatible)
    }

    /// The bucket as it is addressed and signed in `region`: at Amazon's endpoint of that
    /// region, or at the configured endpoint with only the signing region changed.
    pub(crate) fn bucket_in(&self, region: &str) -> Option<Bucket> {
        let base = match &self.overridden {
            Some(url) => url.clone(),
            None if self.bucket_type == BucketType::S3 => Url::parse(&aws_endpoint(region)).ok()?,
            None => return None,
        };
        Bucket::new(base, self.style, self.name.clone(), region.to_owned()).ok()
    }

    /// Where a `HEAD` of the bucket tells its region without being redirected: Amazon's
    /// legacy global host `{bucket}.s3.amazonaws.com`, whose DNS points at the bucket's own
    /// region, so the answer is a 200, 400 or 403 carrying `x-amz-bucket-region` (a `HEAD` at
    /// another region's endpoint is a `301`, whose headers the HTTP layer does not hand back).
    /// `None` for a configured endpoint, a name that is not a host label, and the partitions
    /// without that host (China, GovCloud): the bucket's own URL is asked instead.
    pub(crate) fn global_probe(&self, region: &str) -> Option<Url> {
        let commercial = !(region.starts_with("cn-")
            || region.starts_with("us-gov-")
            || region.starts_with("us-iso"));
        (self.bucket_type == BucketType::S3
            && self.overridden.is_none()
            && commercial
            && dns_compatible(&self.name))
        .then(|| Url::parse(&format!("https://{}.s3.amazonaws.com/", self.name)).ok())
        .flatten()
    }
}

/// Amazon S3's regional endpoint, in the partition the region belongs to (China's regions
/// are under `amazonaws.com.cn`).
fn aws_endpoint(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://s3.{region}.{suffix}")
}

/// Whether `region` can be a region name (what an answer of the store says is one).
pub(crate) fn plausible_region(region: &str) -> bool {
    (1..=64).contains(&region.len())
        && region
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

/// The region of Amazon S3 when the config gives none: `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`, else `us-east-1`.
fn default_region(env: &dyn AwsEnvironment) -> String {
    env.var("AWS_REGION")
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .map(|r| r.trim().to_owned())
        .filter(|r| plausible_region(r))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// Whether the host of `url` is an IP address (v4 or v6), where no bucket can be a subdomain.
fn host_is_ip(url: &Url) -> bool {
    matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
}

/// Whether a bucket name can be the first label of a TLS host name.
fn dns_compatible(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && !name.contains('.')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::aws::StaticEnvironment;
    use connector_core::config::from_json;

    fn endpoint(json: serde_json::Value) -> Endpoint {
        let config: S3Config = from_json(json).unwrap();
        let t = config.bucket_type.unwrap();
        Endpoint::resolve(&config, t, &StaticEnvironment::new()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn url_shapes_per_bucket_type() {
        let s3 = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "s3",
            "credentials": {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s", "region": "eu-west-1"}}),
        );
        assert_eq!(
            s3.bucket.object_url("a/b.md").as_str(),
            "https://docs.s3.eu-west-1.amazonaws.com/a/b.md"
        );
        assert_eq!(s3.bucket.region(), "eu-west-1");

        let dotted = endpoint(
            serde_json::json!({"bucket_name": "my.docs", "bucket_type": "s3",
            "credentials": {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s"}}),
        );
        assert_eq!(
            dotted.bucket.object_url("k").as_str(),
            "https://s3.us-east-1.amazonaws.com/my.docs/k"
        );

        let r2 = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "r2",
            "credentials": {"account_id": "abc123", "r2_access_key_id": "k", "r2_secret_access_key": "s"}}),
        );
        assert_eq!(
            r2.bucket.object_url("k").as_str(),
            "https://abc123.r2.cloudflarestorage.com/docs/k"
        );
        assert_eq!(r2.bucket.region(), "auto");
        assert_eq!(r2.key_id_field, "credentials.r2_access_key_id");

        let r2_eu = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "r2",
            "european_residency": true,
            "credentials": {"account_id": "abc123", "r2_access_key_id": "k", "r2_secret_access_key": "s"}}),
        );
        assert_eq!(
            r2_eu.bucket.object_url("k").as_str(),
            "https://abc123.eu.r2.cloudflarestorage.com/docs/k"
        );

        let gcs = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "google_cloud_storage",
            "credentials": {"access_key_id": "GOOG1", "secret_access_key": "s"}}),
        );
        assert_eq!(
            gcs.bucket.object_url("k").as_str(),
            "https://storage.googleapis.com/docs/k"
        );
        assert_eq!(gcs.bucket.region(), "auto");

        let oci = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "oci_storage",
            "credentials": {"namespace": "axaxnpcrorw5", "region": "eu-frankfurt-1",
                "access_key_id": "k", "secret_access_key": "s"}}),
        );
        assert_eq!(
            oci.bucket.object_url("k").as_str(),
            "https://axaxnpcrorw5.compat.objectstorage.eu-frankfurt-1.oraclecloud.com/docs/k"
        );
        assert_eq!(oci.bucket.region(), "eu-frankfurt-1");

        let minio_path = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "s3_compatible",
            "credentials": {"endpoint_url": "http://minio.local:9000", "aws_access_key_id": "k",
                "aws_secret_access_key": "s", "addressing_style": "path"}}),
        );
        assert_eq!(
            minio_path.bucket.object_url("k").as_str(),
            "http://minio.local:9000/docs/k"
        );
        let minio_vhost = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "s3_compatible",
            "credentials": {"endpoint_url": "http://minio.local:9000", "aws_access_key_id": "k",
                "aws_secret_access_key": "s", "addressing_style": "virtual"}}),
        );
        assert_eq!(
            minio_vhost.bucket.object_url("k").as_str(),
            "http://docs.minio.local:9000/k"
        );
    }

    #[test]
    fn virtual_is_a_preference_as_in_botocore() {
        let style = |bucket: &str, url: &str| {
            endpoint(
                serde_json::json!({"bucket_name": bucket, "bucket_type": "s3_compatible",
                "credentials": {"endpoint_url": url, "aws_access_key_id": "k",
                    "aws_secret_access_key": "s", "addressing_style": "virtual"}}),
            )
            .bucket
            .object_url("k")
            .to_string()
        };
        // An IP address has no subdomains.
        assert_eq!(
            style("docs", "http://127.0.0.1:9000"),
            "http://127.0.0.1:9000/docs/k"
        );
        assert_eq!(
            style("docs", "http://[::1]:9000"),
            "http://[::1]:9000/docs/k"
        );
        // A name that is no host label.
        assert_eq!(
            style("team_docs", "http://localhost:9000"),
            "http://localhost:9000/team_docs/k"
        );
        assert_eq!(
            style("Team-Docs", "https://minio.example"),
            "https://minio.example/Team-Docs/k"
        );
        // Otherwise virtual it is.
        assert_eq!(
            style("docs", "http://localhost:9000"),
            "http://docs.localhost:9000/k"
        );
    }

    #[test]
    fn amazon_s3_ignores_the_forms_addressing_style_and_reads_the_hosts_region() {
        let config: S3Config = from_json(serde_json::json!({"bucket_name": "my.docs", "bucket_type": "s3",
            "credentials": {"authentication_method": "assume_role", "addressing_style": "virtual"}}))
        .unwrap();
        let env = StaticEnvironment::new().with_var("AWS_DEFAULT_REGION", "eu-central-1");
        let e =
            Endpoint::resolve(&config, BucketType::S3, &env).unwrap_or_else(|e| panic!("{e:?}"));
        // A dotted name cannot be a TLS host label: path style, whatever the form said.
        assert_eq!(
            e.bucket.object_url("k").as_str(),
            "https://s3.eu-central-1.amazonaws.com/my.docs/k"
        );
        assert!(matches!(e.signing, Signing::Ambient));
        assert_eq!(e.key_id_field, "credentials.authentication_method");
        let env = env.with_var("AWS_REGION", "ap-south-1");
        let e =
            Endpoint::resolve(&config, BucketType::S3, &env).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(e.bucket.region(), "ap-south-1");
    }

    #[test]
    fn a_bucket_is_addressed_again_in_its_own_region() {
        let e = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "s3",
            "credentials": {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s"}}),
        );
        assert!(e.addressing.relocatable() && !e.addressing.region_given);
        let moved = e.addressing.bucket_in("eu-west-1").expect("addressable");
        assert_eq!(
            moved.object_url("k").as_str(),
            "https://docs.s3.eu-west-1.amazonaws.com/k"
        );
        assert_eq!(moved.region(), "eu-west-1");
        // China's regions are in their own partition, under amazonaws.com.cn.
        let china = e.addressing.bucket_in("cn-north-1").expect("addressable");
        assert_eq!(
            china.object_url("k").as_str(),
            "https://docs.s3.cn-north-1.amazonaws.com.cn/k"
        );
        assert_eq!(
            e.addressing.global_probe("us-east-1").map(String::from),
            Some("https://docs.s3.amazonaws.com/".to_owned())
        );
        assert_eq!(e.addressing.global_probe("us-gov-west-1"), None);
        assert_eq!(e.addressing.global_probe("cn-north-1"), None);

        // A dotted name is no host label: no global probe, path style in any region.
        let dotted = endpoint(
            serde_json::json!({"bucket_name": "my.docs", "bucket_type": "s3",
            "credentials": {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s", "region": "us-east-1"}}),
        );
        assert!(dotted.addressing.region_given);
        assert_eq!(dotted.addressing.global_probe("us-east-1"), None);
        assert_eq!(
            dotted
                .addressing
                .bucket_in("ap-east-1")
                .map(|b| b.object_url("k").to_string())
                .as_deref(),
            Some("https://s3.ap-east-1.amazonaws.com/my.docs/k")
        );

        // A configured endpoint stays; only the signing region changes.
        let compat = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "s3_compatible",
            "credentials": {"endpoint_url": "http://minio.local:9000", "aws_access_key_id": "k",
                "aws_secret_access_key": "s"}}),
        );
        let moved = compat
            .addressing
            .bucket_in("eu-central-1")
            .expect("addressable");
        assert_eq!(
            moved.object_url("k").as_str(),
            "http://minio.local:9000/docs/k"
        );
        assert_eq!(moved.region(), "eu-central-1");

        // R2 signs for `auto`: its region is no setting.
        let r2 = endpoint(
            serde_json::json!({"bucket_name": "docs", "bucket_type": "r2",
            "credentials": {"account_id": "abc123", "r2_access_key_id": "k", "r2_secret_access_key": "s"}}),
        );
        assert!(!r2.addressing.relocatable());
    }

    #[test]
    fn iam_role_signs_with_the_keys_only_when_asked_to() {
        let iam_role = |with_keys: bool| {
            endpoint(
                serde_json::json!({"bucket_name": "docs", "bucket_type": "s3",
                "credentials": {"authentication_method": "iam_role",
                    "aws_role_arn": "arn:aws:iam::123456789012:role/docs-reader",
                    "aws_access_key_id": "AKIA", "aws_secret_access_key": "s",
                    "region": "eu-west-1", "iam_role_with_keys": with_keys}}),
            )
        };
        let e = iam_role(true);
        let Signing::IamRole { role_arn, keys } = e.signing else {
            panic!("not iam_role");
        };
        assert_eq!(role_arn, "arn:aws:iam::123456789012:role/docs-reader");
        assert_eq!(keys.map(|k| k.key_id).as_deref(), Some("AKIA"));
        assert_eq!(e.key_id_field, "credentials.aws_role_arn");
        // Keys left from `access_key`: the ambient chain signs, as in RAGFlow.
        let Signing::IamRole { keys, .. } = iam_role(false).signing else {
            panic!("not iam_role");
        };
        assert!(keys.is_none());
    }
}
