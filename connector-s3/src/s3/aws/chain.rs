//! The ambient credential chain (`authentication_method: assume_role`), in the order AWS
//! documents for its SDKs:
//! 1. environment variables `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 2. a web identity token file, `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`
//!    (+ `AWS_ROLE_SESSION_NAME`), through STS `AssumeRoleWithWebIdentity`, as on Kubernetes
//!    with EKS IRSA (the token file is read again at every refresh: the kubelet rotates it);
//! 3. the shared profile files (see `profile.rs` for what is and is not supported);
//! 4. ECS container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`);
//! 5. EC2 instance metadata, IMDSv2 (unless `AWS_EC2_METADATA_DISABLED=true`).
//!
//! The first source that is configured decides: a source that is set up but fails is an
//! error, not a reason to try the next one (which would sign as another identity). Once a
//! source has given credentials, it alone is asked for every refresh. When none is
//! configured, the error says what was looked for.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use connector_core::{Error, ErrorKind, Result, Secret};

use super::metadata::{Container, ECS_BASE, Imds, ImdsProbe};
use super::profile::{Profile, ProfileCredentials, ProfileFiles, credentials_of, unsupported};
use super::{
    AssumeRole, AwsCredentials, AwsEnvironment, CredentialHttp, Fixed, Provide, ROLE_SESSION_NAME,
    Refreshing, Sts,
};

/// The field every chain error points to.
const FIELD: &str = "credentials.authentication_method";

/// The host's credentials, found as the AWS SDKs find them.
#[derive(Debug)]
pub(crate) struct AmbientChain {
    env: Arc<dyn AwsEnvironment>,
    http: CredentialHttp,
    sts: Sts,
    /// Where `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is resolved (the ECS endpoint; tests
    /// move it).
    container_base: String,
    /// The source found by the first call.
    resolved: Mutex<Option<Arc<dyn Provide>>>,
}

impl AmbientChain {
    pub(crate) fn new(env: Arc<dyn AwsEnvironment>, http: CredentialHttp, sts: Sts) -> Self {
        Self {
            env,
            http,
            sts,
            container_base: ECS_BASE.to_owned(),
            resolved: Mutex::new(None),
        }
    }

    #[cfg(test)]
    pub(crate) fn with_container_base(mut self, base: &str) -> Self {
        self.container_base = base.to_owned();
        self
    }

    /// Walks the chain: the first configured source, and the credentials it gave.
    async fn resolve(&self) -> Result<(Arc<dyn Provide>, AwsCredentials)> {
        let env = self.env.as_ref();
        // 1. Environment variables.
        match (
            env.var("AWS_ACCESS_KEY_ID"),
            env.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Some(id), Some(secret)) => {
                let token = env
                    .var("AWS_SESSION_TOKEN")
                    .or_else(|| env.var("AWS_SECURITY_TOKEN"))
                    .map(Secret::new);
                let creds = AwsCredentials::fixed(id, Secret::new(secret), token);
                tracing::debug!(source = "environment variables", "AWS credentials found");
                return Ok((Arc::new(Fixed(creds.clone())), creds));
            }
            (None, None) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
                )
                .with_field(FIELD));
            }
        }
        // 2. Web identity token file.
        if let (Some(token_file), Some(role_arn)) = (
            env.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
            env.var("AWS_ROLE_ARN"),
        ) {
            let source = WebIdentity {
                sts: self.sts.clone(),
                token_file: PathBuf::from(token_file),
                role_arn,
                session_name: env
                    .var("AWS_ROLE_SESSION_NAME")
                    .unwrap_or_else(|| ROLE_SESSION_NAME.to_owned()),
            };
            let creds = source.provide().await?;
            tracing::debug!(source = "web identity token file", "AWS credentials found");
            return Ok((Arc::new(source), creds));
        }
        // 3. Shared profile files.
        let files = ProfileFiles::from_env(env);
        match files.load().await? {
            Some(keys) => match credentials_of(&files.profile, &keys)? {
                ProfileCredentials::Keys(creds) => {
                    tracing::debug!(source = "profile", profile = %files.profile, "AWS credentials found");
                    return Ok((Arc::new(Profile { files }), creds));
                }
                ProfileCredentials::Role { role, source } => {
                    let base = self.source_keys(&files, &keys, &source).await?;
                    let provider = AssumeRole {
                        sts: self.sts.clone(),
                        role,
                        base: Arc::new(Refreshing::new(Fixed(base))),
                        base_field: FIELD,
                    };
                    let creds = provider.provide().await?;
                    tracing::debug!(source = "profile role", profile = %files.profile, "AWS credentials found");
                    return Ok((Arc::new(provider), creds));
                }
                ProfileCredentials::None => {}
            },
            None if files.named => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "AWS_PROFILE names the profile `{}`, which is in neither {}",
                        files.profile,
                        files.describe()
                    ),
                )
                .with_field(FIELD));
            }
            None => {}
        }
        // 4. ECS container credentials.
        if let Some(container) =
            Container::from_env_at(self.http.container.clone(), env, &self.container_base)?
        {
            let creds = container.provide().await?;
            tracing::debug!(source = "ECS container endpoint", "AWS credentials found");
            return Ok((Arc::new(container), creds));
        }
        // 5. EC2 instance metadata.
        let imds = match Imds::from_env(self.http.metadata.clone(), env)? {
            Some(imds) => match imds.probe().await? {
                ImdsProbe::Found(creds) => {
                    tracing::debug!(source = "EC2 instance metadata", "AWS credentials found");
                    return Ok((Arc::new(imds), creds));
                }
                ImdsProbe::Absent(why) => {
                    format!("the EC2 instance metadata service did not answer ({why})")
                }
            },
            None => {
                "the EC2 instance metadata service is off (AWS_EC2_METADATA_DISABLED)".to_owned()
            }
        };
        Err(Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "authentication_method `assume_role` found no AWS credentials on this host: no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, no AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, no keys in profile `{}` ({}), no AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI, and {imds}; give the host credentials or use `access_key`",
                files.profile,
                files.describe()
            ),
        )
        .with_field(FIELD))
    }
}

impl AmbientChain {
    /// The static keys of `source`, the `source_profile` of the profile in `files` (whose own
    /// keys are `keys`: a profile may name itself, then its keys sign its role).
    async fn source_keys(
        &self,
        files: &ProfileFiles,
        keys: &std::collections::BTreeMap<String, String>,
        source: &str,
    ) -> Result<AwsCredentials> {
        let name = &files.profile;
        let source_keys = if source == name.as_str() {
            let mut own = keys.clone();
            own.remove("role_arn");
            own.remove("source_profile");
            own
        } else {
            files.load_profile(source).await?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "the source_profile `{source}` of AWS profile `{name}` is in neither {}",
                        files.describe()
                    ),
                )
                .with_field(FIELD)
            })?
        };
        match credentials_of(source, &source_keys)? {
            ProfileCredentials::Keys(creds) => Ok(creds),
            ProfileCredentials::Role { .. } => Err(unsupported(
                name,
                "a chain of roles (its source_profile assumes a role too)",
            )),
            ProfileCredentials::None => Err(Error::new(
                ErrorKind::Config,
                format!("the source_profile `{source}` of AWS profile `{name}` holds no keys"),
            )
            .with_field(FIELD)),
        }
    }
}

#[async_trait]
impl Provide for AmbientChain {
    async fn provide(&self) -> Result<AwsCredentials> {
        let resolved = self.resolved.lock().ok().and_then(|slot| slot.clone());
        if let Some(source) = resolved {
            return source.provide().await;
        }
        let (source, creds) = self.resolve().await?;
        if let Ok(mut slot) = self.resolved.lock() {
            *slot = Some(source);
        }
        Ok(creds)
    }
}

/// STS `AssumeRoleWithWebIdentity` with the token in a file.
#[derive(Debug)]
struct WebIdentity {
    sts: Sts,
    token_file: PathBuf,
    role_arn: String,
    session_name: String,
}

#[async_trait]
impl Provide for WebIdentity {
    async fn provide(&self) -> Result<AwsCredentials> {
        let token = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "cannot read the web identity token file {} (AWS_WEB_IDENTITY_TOKEN_FILE)",
                        self.token_file.display()
                    ),
                )
                .with_field(FIELD)
                .with_cause(e)
            })?;
        let token = Secret::new(token.trim());
        self.sts
            .assume_role_with_web_identity(&token, &self.role_arn, &self.session_name)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::aws::StaticEnvironment;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn chain(env: StaticEnvironment) -> AmbientChain {
        let http = CredentialHttp::new("s3").expect("clients");
        let sts = Sts::new(http.sts.clone(), None, &env, "us-east-1").expect("sts");
        AmbientChain::new(Arc::new(env), http, sts)
    }

    #[tokio::test]
    async fn a_relative_container_uri_is_resolved_under_the_ecs_endpoint() {
        let ecs = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/credentials/4d4b6bb6"))
            .and(header("authorization", "inline-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "AccessKeyId": "ASIAECS", "SecretAccessKey": "s", "Token": "t",
                "Expiration": "2099-01-01T00:00:00Z", "RoleArn": "arn:aws:iam::1:role/task",
            })))
            .expect(2)
            .mount(&ecs)
            .await;
        let env = StaticEnvironment::new()
            .with_var(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/4d4b6bb6",
            )
            .with_var("AWS_CONTAINER_AUTHORIZATION_TOKEN", "inline-token")
            .with_var("AWS_EC2_METADATA_DISABLED", "true");
        let chain = chain(env).with_container_base(&ecs.uri());
        assert_eq!(chain.provide().await.expect("found").key_id, "ASIAECS");
        // Resolved once: the next call asks the container endpoint directly.
        assert_eq!(chain.provide().await.expect("again").key_id, "ASIAECS");
    }

    #[tokio::test]
    async fn a_plain_http_full_uri_to_another_host_is_refused() {
        let env = StaticEnvironment::new()
            .with_var(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://credentials.example/creds",
            )
            .with_var("AWS_EC2_METADATA_DISABLED", "true");
        let err = chain(env).provide().await.expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("must be https"), "{err}");
    }

    #[tokio::test]
    async fn a_named_profile_that_is_missing_is_an_error_not_a_fall_through() {
        let home = tempfile::tempdir().expect("home");
        let env = StaticEnvironment::new()
            .with_home_dir(home.path())
            .with_var("AWS_PROFILE", "nope")
            .with_var("AWS_EC2_METADATA_DISABLED", "true");
        let err = chain(env).provide().await.expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("`nope`"), "{err}");
    }

    #[tokio::test]
    async fn half_a_key_pair_in_the_environment_is_an_error() {
        let env = StaticEnvironment::new()
            .with_var("AWS_ACCESS_KEY_ID", "AKIA")
            .with_var("AWS_EC2_METADATA_DISABLED", "true");
        let err = chain(env).provide().await.expect_err("half");
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    }
}
