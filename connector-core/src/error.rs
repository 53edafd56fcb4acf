//! The one error type of the crate family.
//!
//! Connector crates keep private `thiserror` enums for their own failure modes and convert them
//! into [`Error`] at their boundary, choosing an [`ErrorKind`] that tells the caller what to do:
//! fix the config, fix the credentials, wait, or report the item and move on.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid; [`Error::problems`] lists every problem by field path.
    Config,
    /// The service rejected the credentials (HTTP 401 or equivalent).
    Unauthenticated,
    /// The credentials are valid but may not read this resource (HTTP 403 or equivalent).
    PermissionDenied,
    /// The resource (bucket, space, project, file) does not exist.
    NotFound,
    /// The service asked us to slow down and the retries ran out.
    RateLimited,
    /// The service could not be reached or kept failing.
    Unavailable,
    /// The service answered with data we could not understand.
    InvalidData,
    /// The connector cannot do what was asked (for example an incremental sync of a source
    /// that has no modification times).
    Unsupported,
    /// A checkpoint could not be read: unknown version, another source, or corrupt JSON.
    Checkpoint,
    /// The sink refused a batch.
    Sink,
    /// The state store could not be read or written.
    State,
    /// The sync was cancelled through its cancellation token.
    Cancelled,
    /// The sync ran past its timeout.
    Timeout,
    /// A bug or an unexpected condition in this crate family.
    Internal,
}

impl ErrorKind {
    /// Whether an operation that failed with this kind may succeed when tried again later.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RateLimited | Self::Unavailable | Self::Timeout)
    }

    /// Whether an error of this kind ends the whole sync rather than failing only the item
    /// (or partition) it happened on: the one policy every connector follows, through the
    /// page pipeline ([`pages::fetch_items`](crate::pages::fetch_items),
    /// [`pages::item_failure`](crate::pages::item_failure)).
    ///
    /// Ending: [`Unauthenticated`](Self::Unauthenticated) (the connector's credential is
    /// wrong or revoked: every later item would fail the same way), [`Cancelled`](Self::Cancelled),
    /// [`Config`](Self::Config), [`Checkpoint`](Self::Checkpoint), [`State`](Self::State),
    /// [`Sink`](Self::Sink) and [`Internal`](Self::Internal) (nothing later can be trusted).
    /// Everything else concerns the item: [`PermissionDenied`](Self::PermissionDenied) on an
    /// item is that item's restriction, [`RateLimited`](Self::RateLimited) and
    /// [`Unavailable`](Self::Unavailable) after the HTTP layer's retries are retried next run
    /// (the failure is kept), [`NotFound`](Self::NotFound), [`InvalidData`](Self::InvalidData),
    /// [`Unsupported`](Self::Unsupported) and [`Timeout`](Self::Timeout) are the item's own.
    /// An error while listing (the page itself) ends the sync whatever its kind: the
    /// connector returns it from the stream instead of asking this.
    pub fn ends_sync(self) -> bool {
        matches!(
            self,
            Self::Unauthenticated
                | Self::Cancelled
                | Self::Config
                | Self::Checkpoint
                | Self::State
                | Self::Sink
                | Self::Internal
        )
    }

    /// The snake_case name, as used in serialised failures and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::InvalidData => "invalid_data",
            Self::Unsupported => "unsupported",
            Self::Checkpoint => "checkpoint",
            Self::Sink => "sink",
            Self::State => "state",
            Self::Cancelled => "cancelled",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One configuration problem, named by its field path (`credentials.aws_access_key_id`,
/// `include[2]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Dotted path of the field; `""` for the config as a whole.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A problem with the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every fallible operation in the crate family.
///
/// It carries a [`kind`](Error::kind), a message, optional context (the connector's source key,
/// the item, the config field, the URL *without* its query string) and the underlying cause,
/// reachable through [`std::error::Error::source`]. It never holds a credential: URLs are
/// stripped of their query and userinfo when attached, and callers never put header values in
/// messages.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    connector: Option<&'static str>,
    item: Option<String>,
    field: Option<String>,
    url: Option<String>,
    retry_after: Option<Duration>,
    retryable: Option<bool>,
    problems: Vec<FieldError>,
    cause: Option<Cause>,
}

impl Error {
    /// An error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        // An error can quote what a service echoed; no live secret stays in it.
        let message = match crate::secret::redact(&message) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(redacted) => redacted,
        };
        Self(Box::new(Inner {
            kind,
            message,
            connector: None,
            item: None,
            field: None,
            url: None,
            retry_after: None,
            retryable: None,
            problems: Vec::new(),
            cause: None,
        }))
    }

    /// A [`ErrorKind::Config`] error listing every problem found.
    pub fn config(problems: Vec<FieldError>) -> Self {
        let message = match problems.len() {
            0 => "invalid configuration".to_owned(),
            1 => format!("invalid configuration: {}", problems[0]),
            n => {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                format!("invalid configuration ({n} problems): {}", list.join("; "))
            }
        };
        let mut err = Self::new(ErrorKind::Config, message);
        if let [one] = problems.as_slice() {
            err.0.field = Some(one.path.clone()).filter(|p| !p.is_empty());
        }
        err.0.problems = problems;
        err
    }

    /// An [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// An [`ErrorKind::InvalidData`] error.
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidData, message)
    }

    /// An [`ErrorKind::Checkpoint`] error.
    pub fn checkpoint(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Checkpoint, message)
    }

    /// Names the connector (its source key) the error came from.
    #[must_use]
    pub fn with_connector(mut self, source: &'static str) -> Self {
        self.0.connector = Some(source);
        self
    }

    /// Names the item (document id, path, key) the error is about.
    #[must_use]
    pub fn with_item(mut self, item: impl Into<String>) -> Self {
        self.0.item = Some(item.into());
        self
    }

    /// Names the config or credential field the error is about.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    /// Attaches the URL that failed, without its query string, fragment or userinfo.
    #[must_use]
    pub fn with_url(mut self, url: &Url) -> Self {
        self.0.url = Some(redact_url(url));
        self
    }

    /// Records how long the service asked us to wait.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.0.retry_after = Some(wait);
        self
    }

    /// Overrides whether the error is worth retrying (by default that follows the kind).
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.0.retryable = Some(retryable);
        self
    }

    /// Chains the underlying cause.
    #[must_use]
    pub fn with_cause(mut self, cause: impl Into<Cause>) -> Self {
        self.0.cause = Some(cause.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message, without the context.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the operation may succeed when tried again.
    pub fn is_retryable(&self) -> bool {
        self.0
            .retryable
            .unwrap_or_else(|| self.0.kind.is_retryable())
    }

    /// How long the service asked us to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The source key of the connector the error came from.
    pub fn connector(&self) -> Option<&'static str> {
        self.0.connector
    }

    /// The item the error is about.
    pub fn item(&self) -> Option<&str> {
        self.0.item.as_deref()
    }

    /// The config field the error is about.
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    /// The URL that failed, without query string.
    pub fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    /// Every configuration problem, for [`ErrorKind::Config`] errors built by [`Error::config`].
    pub fn problems(&self) -> &[FieldError] {
        &self.0.problems
    }
}

/// A URL as it may appear in errors and logs: scheme, host, port and path only.
pub fn redact_url(url: &Url) -> String {
    let mut clean = url.clone();
    clean.set_query(None);
    clean.set_fragment(None);
    // Both calls fail only for URLs that cannot carry credentials in the first place.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

impl fmt::Display for Error {
    /// The message with its context and causes, without any live secret (see
    /// [`secret::redact`](crate::secret::redact)): a cause's text can quote what a service
    /// echoed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.write_plain(&mut text)?;
        f.write_str(&crate::secret::redact(&text))
    }
}

impl Error {
    fn write_plain(&self, f: &mut impl fmt::Write) -> fmt::Result {
        if let Some(source) = self.0.connector {
            write!(f, "{source}: ")?;
        }
        write!(f, "{}", self.0.message)?;
        let mut context = Vec::new();
        if let Some(item) = &self.0.item {
            context.push(format!("item `{item}`"));
        }
        if let Some(field) = &self.0.field
            && self.0.problems.len() != 1
        {
            context.push(format!("field `{field}`"));
        }
        if let Some(url) = &self.0.url {
            context.push(format!("url {url}"));
        }
        if !context.is_empty() {
            write!(f, " ({})", context.join(", "))?;
        }
        if let Some(cause) = &self.0.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    /// As derived, without any live secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Plain<'a>(&'a Error);
        impl fmt::Debug for Plain<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.debug_plain(f)
            }
        }
        let text = if f.alternate() {
            format!("{:#?}", Plain(self))
        } else {
            format!("{:?}", Plain(self))
        };
        f.write_str(&crate::secret::redact(&text))
    }
}

impl Error {
    fn debug_plain(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(c) = self.0.connector {
            d.field("connector", &c);
        }
        if let Some(i) = &self.0.item {
            d.field("item", i);
        }
        if let Some(field) = &self.0.field {
            d.field("field", field);
        }
        if let Some(u) = &self.0.url {
            d.field("url", u);
        }
        if let Some(r) = &self.0.retry_after {
            d.field("retry_after", r);
        }
        if !self.0.problems.is_empty() {
            d.field("problems", &self.0.problems);
        }
        if let Some(c) = &self.0.cause {
            d.field("cause", c);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid_data("invalid JSON").with_cause(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_show_a_live_secret_an_echoing_service_put_in_them() {
        let token = crate::Secret::new("refresh-2b9c0e7a");
        let echoed = std::io::Error::other("invalid_grant for refresh_token=refresh-2b9c0e7a");
        let err = Error::new(
            ErrorKind::Unauthenticated,
            "token endpoint said refresh-2b9c0e7a",
        )
        .with_cause(echoed);
        for shown in [
            err.to_string(),
            format!("{err:?}"),
            format!("{err:#?}"),
            err.message().to_owned(),
        ] {
            assert!(!shown.contains("refresh-2b9c0e7a"), "{shown}");
        }
        let failure = crate::Failure::new(None, ErrorKind::Unavailable, "echo: refresh-2b9c0e7a");
        assert!(!failure.message.contains("refresh-2b9c0e7a"));
        drop(token);
    }

    #[test]
    fn url_loses_query_and_userinfo() {
        let url = Url::parse("https://user:pw@example.com/a/b?token=secret#frag").unwrap();
        let err = Error::new(ErrorKind::Unavailable, "boom").with_url(&url);
        let shown = err.to_string();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("pw"), "{shown}");
        assert!(shown.contains("https://example.com/a/b"), "{shown}");
    }

    #[test]
    fn config_error_lists_every_problem() {
        let err = Error::config(vec![
            FieldError::new("bucket_name", "is required"),
            FieldError::new("prefix", "must not start with /"),
        ]);
        assert_eq!(err.kind(), ErrorKind::Config);
        let shown = err.to_string();
        assert!(shown.contains("bucket_name: is required"), "{shown}");
        assert!(shown.contains("prefix: must not start with /"), "{shown}");
        assert_eq!(err.problems().len(), 2);
    }

    #[test]
    fn retryable_follows_kind_unless_overridden() {
        assert!(Error::new(ErrorKind::RateLimited, "x").is_retryable());
        assert!(!Error::new(ErrorKind::Unauthenticated, "x").is_retryable());
        assert!(
            !Error::new(ErrorKind::Unavailable, "x")
                .with_retryable(false)
                .is_retryable()
        );
    }
}
