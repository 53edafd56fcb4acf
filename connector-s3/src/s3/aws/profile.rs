//! The shared profile files, `~/.aws/credentials` and `~/.aws/config`, as the AWS SDKs read
//! them: the profile named by `AWS_PROFILE` (else `AWS_DEFAULT_PROFILE`, else `default`), the
//! files at `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` (else under the home
//! directory), `[name]` sections in the credentials file and `[profile name]` (or `[default]`)
//! in the config file, the credentials file winning where both set a key.
//!
//! Supported: static keys `aws_access_key_id` + `aws_secret_access_key`, with
//! `aws_session_token` (or the older `aws_security_token`); and a role assumed with the static
//! keys of another profile: `role_arn` + `source_profile` (with `role_session_name` and
//! `external_id`). Not supported, and reported as such rather than skipped (the SDKs would use
//! them, so skipping would sign as someone else): `credential_source`, a `source_profile` that
//! itself assumes a role, `mfa_serial`, `web_identity_token_file`, `credential_process`, and
//! IAM Identity Center (`sso_session`, `sso_start_url`, ...).

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use connector_core::{Error, ErrorKind, Result, Secret};

use super::{AwsCredentials, AwsEnvironment, Provide, RoleRequest};

/// Profile keys that name a way of getting credentials this module does not implement.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "credential_source",
        "a role assumed with `credential_source`",
    ),
    (
        "web_identity_token_file",
        "a web identity token file named in a profile (use AWS_WEB_IDENTITY_TOKEN_FILE)",
    ),
    ("credential_process", "`credential_process`"),
    ("sso_session", "IAM Identity Center (`sso_session`)"),
    ("sso_start_url", "IAM Identity Center (`sso_start_url`)"),
    ("sso_account_id", "IAM Identity Center (`sso_account_id`)"),
    ("login_session", "console login sessions (`login_session`)"),
];

/// Where the profile files are and which profile to read, from the environment.
#[derive(Debug, Clone)]
pub(crate) struct ProfileFiles {
    pub(crate) profile: String,
    /// Whether the profile was named (`AWS_PROFILE`): then a missing profile is an error, as
    /// in the SDKs, not a reason to try the next source.
    pub(crate) named: bool,
    pub(crate) credentials: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
}

impl ProfileFiles {
    pub(crate) fn from_env(env: &dyn AwsEnvironment) -> Self {
        let named = env
            .var("AWS_PROFILE")
            .or_else(|| env.var("AWS_DEFAULT_PROFILE"));
        let home = env.home_dir();
        let path = |var: &str, default: &str| match env.var(var) {
            Some(p) => expand_home(&p, home.as_ref()),
            None => home.as_ref().map(|h| h.join(".aws").join(default)),
        };
        Self {
            named: named.is_some(),
            profile: named.unwrap_or_else(|| "default".to_owned()),
            credentials: path("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            config: path("AWS_CONFIG_FILE", "config"),
        }
    }

    /// The files, for messages.
    pub(crate) fn describe(&self) -> String {
        let show = |p: &Option<PathBuf>| {
            p.as_ref().map_or_else(
                || "(no home directory)".to_owned(),
                |p| p.display().to_string(),
            )
        };
        format!("{} or {}", show(&self.credentials), show(&self.config))
    }

    /// The keys of the profile, credentials file over config file; `None` when neither file
    /// has it.
    ///
    /// # Errors
    /// `Config` when a file exists but cannot be read.
    pub(crate) async fn load(&self) -> Result<Option<BTreeMap<String, String>>> {
        self.load_profile(&self.profile).await
    }

    /// The keys of profile `name` in the same files.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub(crate) async fn load_profile(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let mut found = None::<BTreeMap<String, String>>;
        if let Some(text) = read(self.config.as_ref(), "AWS_CONFIG_FILE").await? {
            let sections = parse_ini(&text);
            let wanted = format!("profile {name}");
            // `[default]` and `[profile default]` both name the default profile.
            let keys = sections.get(&wanted).or_else(|| {
                (name == "default")
                    .then(|| sections.get("default"))
                    .flatten()
            });
            if let Some(keys) = keys {
                found = Some(keys.clone());
            }
        }
        if let Some(text) = read(self.credentials.as_ref(), "AWS_SHARED_CREDENTIALS_FILE").await?
            && let Some(keys) = parse_ini(&text).get(name)
        {
            found.get_or_insert_with(BTreeMap::new).extend(keys.clone());
        }
        Ok(found)
    }
}

/// What a profile offers.
#[derive(Debug)]
pub(crate) enum ProfileCredentials {
    /// Static keys (maybe with a session token).
    Keys(AwsCredentials),
    /// A role to assume with the static keys of profile `source`.
    Role { role: RoleRequest, source: String },
    /// No credentials at all (a profile with only `region`, say): try the next source.
    None,
}

/// Reads the credentials of `keys`, the profile `name`.
///
/// # Errors
/// `Unsupported` naming the feature when the profile gets its credentials in a way not
/// implemented here; `Config` when only one of the two keys is there.
pub(crate) fn credentials_of(
    name: &str,
    keys: &BTreeMap<String, String>,
) -> Result<ProfileCredentials> {
    if let Some((_, feature)) = UNSUPPORTED.iter().find(|(k, _)| keys.contains_key(*k)) {
        return Err(unsupported(name, feature));
    }
    let get = |k: &str| keys.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    // As in the SDKs, a role wins over keys in the same profile.
    match (get("role_arn"), get("source_profile")) {
        (Some(_), Some(_)) if keys.contains_key("mfa_serial") => {
            return Err(unsupported(name, "a role assumed with MFA (`mfa_serial`)"));
        }
        (Some(role_arn), Some(source)) => {
            return Ok(ProfileCredentials::Role {
                role: RoleRequest {
                    role_arn: role_arn.to_owned(),
                    session_name: get("role_session_name")
                        .unwrap_or(super::ROLE_SESSION_NAME)
                        .to_owned(),
                    external_id: get("external_id").map(str::to_owned),
                },
                source: source.to_owned(),
            });
        }
        (None, None) => {}
        _ => {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the AWS profile `{name}` has only one of role_arn and source_profile (or `credential_source`, which is not supported)"
                ),
            )
            .with_field("credentials.authentication_method"));
        }
    }
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok(ProfileCredentials::Keys(AwsCredentials::fixed(
            id.to_owned(),
            Secret::new(secret),
            get("aws_session_token")
                .or_else(|| get("aws_security_token"))
                .map(Secret::new),
        ))),
        (None, None) => Ok(ProfileCredentials::None),
        _ => Err(Error::new(
            ErrorKind::Config,
            format!(
                "the AWS profile `{name}` has only one of aws_access_key_id and aws_secret_access_key"
            ),
        )
        .with_field("credentials.authentication_method")),
    }
}

/// The error for a profile that gets its credentials in a way not implemented here.
pub(crate) fn unsupported(name: &str, feature: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "the AWS profile `{name}` uses {feature}, which this connector does not support; give the profile static keys (aws_access_key_id, aws_secret_access_key, aws_session_token) or role_arn with a source_profile that has them, or use authentication_method `iam_role` with aws_role_arn"
        ),
    )
    .with_field("credentials.authentication_method")
}

/// The static keys of a profile, read again on every call (they do not expire, so the cache
/// asks only once).
#[derive(Debug)]
pub(crate) struct Profile {
    pub(crate) files: ProfileFiles,
}

#[async_trait]
impl Provide for Profile {
    async fn provide(&self) -> Result<AwsCredentials> {
        let name = &self.files.profile;
        let keys = self.files.load().await?.ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "the AWS profile `{name}` is in neither {}",
                    self.files.describe()
                ),
            )
            .with_field("credentials.authentication_method")
        })?;
        match credentials_of(name, &keys)? {
            ProfileCredentials::Keys(creds) => Ok(creds),
            ProfileCredentials::Role { .. } | ProfileCredentials::None => Err(Error::new(
                ErrorKind::Unauthenticated,
                format!("the AWS profile `{name}` holds no credentials"),
            )
            .with_field("credentials.authentication_method")),
        }
    }
}

/// `~/x` under `home`.
fn expand_home(path: &str, home: Option<&PathBuf>) -> Option<PathBuf> {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => Some(home.join(rest)),
        (Some(_), None) => None,
        (None, _) => Some(PathBuf::from(path)),
    }
}

/// The text of a file, `None` when it does not exist.
async fn read(path: Option<&PathBuf>, var: &str) -> Result<Option<String>> {
    let Some(path) = path else {
        return Ok(None);
    };
    match tokio::fs::read_to_string(path).await {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(
            ErrorKind::Config,
            format!(
                "cannot read the AWS profile file {} ({var})",
                path.display()
            ),
        )
        .with_field("credentials.authentication_method")
        .with_cause(e)),
    }
}

/// The sections of an AWS INI file: `[name]` headers, `key = value` lines (keys lower-cased,
/// both sides trimmed), `#` and `;` comment lines. Indented lines continue a nested value
/// (`s3 =` then `  max_concurrent_requests = 20`) and are skipped, as they hold no credentials.
/// A key given twice keeps its last value, a section given twice is merged.
pub(crate) fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        if raw.starts_with([' ', '\t']) && !raw.trim().is_empty() {
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            // `[profile  dev]` names `dev`, whatever the spacing.
            let name = header.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::aws::StaticEnvironment;

    #[test]
    fn ini_sections_comments_and_nested_values() {
        let text = "# comment\n[default]\naws_access_key_id = AKIA1\n; another\nAWS_Secret_Access_Key=s1\n\n[profile  dev ]\nregion = eu-west-1\ns3 =\n  max_concurrent_requests = 20\naws_session_token = tok\n";
        let s = parse_ini(text);
        assert_eq!(s["default"]["aws_access_key_id"], "AKIA1");
        assert_eq!(s["default"]["aws_secret_access_key"], "s1");
        assert_eq!(s["profile dev"]["region"], "eu-west-1");
        assert_eq!(s["profile dev"]["aws_session_token"], "tok");
        assert!(!s["profile dev"].contains_key("max_concurrent_requests"));
    }

    #[test]
    fn paths_and_profile_from_the_environment() {
        let env = StaticEnvironment::new().with_home_dir("/home/indexer");
        let files = ProfileFiles::from_env(&env);
        assert_eq!(files.profile, "default");
        assert!(!files.named);
        assert_eq!(
            files.credentials,
            Some(PathBuf::from("/home/indexer/.aws/credentials"))
        );
        assert_eq!(
            files.config,
            Some(PathBuf::from("/home/indexer/.aws/config"))
        );
        let env = env
            .with_var("AWS_PROFILE", "docs")
            .with_var("AWS_SHARED_CREDENTIALS_FILE", "~/keys/aws")
            .with_var("AWS_CONFIG_FILE", "/etc/aws/config");
        let files = ProfileFiles::from_env(&env);
        assert_eq!(files.profile, "docs");
        assert!(files.named);
        assert_eq!(
            files.credentials,
            Some(PathBuf::from("/home/indexer/keys/aws"))
        );
        assert_eq!(files.config, Some(PathBuf::from("/etc/aws/config")));
    }

    #[tokio::test]
    async fn credentials_file_wins_over_config_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &creds,
            "[docs]\naws_access_key_id = AKIAFROMCREDS\naws_secret_access_key = fromcreds\n",
        )
        .expect("write");
        std::fs::write(
            &config,
            "[profile docs]\naws_access_key_id = AKIAFROMCONFIG\naws_secret_access_key = fromconfig\naws_session_token = tok\nregion = eu-west-1\n[default]\nregion = us-east-1\n",
        )
        .expect("write");
        let files = ProfileFiles {
            profile: "docs".to_owned(),
            named: true,
            credentials: Some(creds),
            config: Some(config.clone()),
        };
        let keys = files.load().await.expect("read").expect("found");
        let ProfileCredentials::Keys(c) = credentials_of("docs", &keys).expect("keys") else {
            panic!("no keys");
        };
        assert_eq!(c.key_id, "AKIAFROMCREDS");
        assert_eq!(c.secret.expose(), "fromcreds");
        // The token of the config file stays: a key is overridden only where both set it.
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("tok"));
        // `[default]` of the config file: a region and no keys is no credentials.
        let default = ProfileFiles {
            profile: "default".to_owned(),
            named: false,
            credentials: None,
            config: Some(config),
        };
        let keys = default.load().await.expect("read").expect("found");
        assert!(matches!(
            credentials_of("default", &keys).expect("fine"),
            ProfileCredentials::None
        ));
    }

    #[test]
    fn unsupported_features_are_named() {
        for (key, feature) in [
            ("credential_process", "credential_process"),
            ("sso_session", "IAM Identity Center"),
            ("credential_source", "credential_source"),
            ("mfa_serial", "mfa_serial"),
        ] {
            let keys = BTreeMap::from([
                (key.to_owned(), "x".to_owned()),
                ("role_arn".to_owned(), "arn:aws:iam::1:role/r".to_owned()),
                ("source_profile".to_owned(), "base".to_owned()),
                ("aws_access_key_id".to_owned(), "AKIA".to_owned()),
                ("aws_secret_access_key".to_owned(), "s".to_owned()),
            ]);
            let err = credentials_of("dev", &keys).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported);
            assert!(err.to_string().contains(feature), "{err}");
            assert!(err.to_string().contains("`dev`"), "{err}");
        }
        let half = BTreeMap::from([("aws_access_key_id".to_owned(), "AKIA".to_owned())]);
        assert_eq!(
            credentials_of("dev", &half).unwrap_err().kind(),
            ErrorKind::Config
        );
    }
}
