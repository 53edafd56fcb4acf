//! [`AwsEnvironment`]: where the ambient credential chain reads its environment variables and
//! home directory, so tests (and hosts that keep several identities in one process) can hand
//! it a fixed set instead of the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The environment the AWS credential chain reads: variables such as `AWS_PROFILE` or
/// `AWS_WEB_IDENTITY_TOKEN_FILE`, and the home directory that holds `~/.aws/`.
///
/// [`ProcessEnvironment`] reads the real process environment (the default);
/// [`StaticEnvironment`] is a fixed set, for tests and for hosts that run connectors with
/// different identities in one process. An empty variable counts as unset, as the AWS SDKs
/// treat it.
pub trait AwsEnvironment: Send + Sync + fmt::Debug {
    /// The value of variable `name`, `None` when unset or empty.
    fn var(&self, name: &str) -> Option<String>;
    /// The home directory (where `~/.aws/credentials` and `~/.aws/config` are looked for).
    fn home_dir(&self) -> Option<PathBuf>;
}

/// The process environment: `std::env` and `$HOME` (`%USERPROFILE%` on Windows).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl AwsEnvironment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn home_dir(&self) -> Option<PathBuf> {
        self.var("HOME")
            .or_else(|| self.var("USERPROFILE"))
            .map(PathBuf::from)
    }
}

/// A fixed environment: the variables and home directory given, nothing else.
///
/// ```
/// use connector_s3::s3::{AwsEnvironment, StaticEnvironment};
///
/// let env = StaticEnvironment::new()
///     .with_var("AWS_PROFILE", "analytics")
///     .with_var("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI");
/// assert_eq!(env.var("AWS_PROFILE").as_deref(), Some("analytics"));
/// // Debug names the variables, never their values.
/// assert!(!format!("{env:?}").contains("wJalrXUtnFEMI"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StaticEnvironment {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
}

impl StaticEnvironment {
    /// No variables and no home directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets variable `name` to `value`.
    #[must_use]
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Sets the home directory.
    #[must_use]
    pub fn with_home_dir(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }
}

impl AwsEnvironment for StaticEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).filter(|v| !v.is_empty()).cloned()
    }

    fn home_dir(&self) -> Option<PathBuf> {
        self.home.clone()
    }
}

impl fmt::Debug for StaticEnvironment {
    // Names only: the values may be secret keys or tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticEnvironment")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one test that reads the real process environment; every other test injects a
    /// `StaticEnvironment`, so none of them races on `std::env`.
    #[test]
    fn process_environment_reads_std_env() {
        let path = std::env::var("PATH").ok().filter(|v| !v.is_empty());
        assert_eq!(ProcessEnvironment.var("PATH"), path);
        assert_eq!(
            ProcessEnvironment.var("CONNECTORS_S3_SURELY_UNSET_VARIABLE"),
            None
        );
        if let Ok(home) = std::env::var("HOME")
            && !home.is_empty()
        {
            assert_eq!(ProcessEnvironment.home_dir(), Some(PathBuf::from(home)));
        }
    }

    #[test]
    fn static_environment_treats_empty_as_unset() {
        let env = StaticEnvironment::new()
            .with_var("AWS_PROFILE", "")
            .with_home_dir("/home/u");
        assert_eq!(env.var("AWS_PROFILE"), None);
        assert_eq!(env.home_dir(), Some(PathBuf::from("/home/u")));
    }
}
