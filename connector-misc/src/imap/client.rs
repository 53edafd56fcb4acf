//! The IMAP side: one connection and one login per run (implicit TLS, STARTTLS or, on
//! loopback, plain), `SELECT`, `UID SEARCH` and `UID FETCH`, each bounded by the configured
//! timeout, and async-imap's errors as core's error kinds.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_imap::imap_proto::{AttributeValue, Response, Status};
use connector_core::net::{ALLOW_HINT, NetworkPolicy};
use connector_core::{Error, ErrorKind, Result, Secret};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio_rustls::rustls::{ClientConfig, crypto};

use super::SOURCE;
use super::config::{ImapConfig, Security};

/// A byte stream async-imap can drive: plain TCP or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

/// A logged-in IMAP session.
pub(crate) type Session = async_imap::Session<Box<dyn Io>>;

/// How to reach and log in to the server; shared by every stream of a connector.
pub(crate) struct Server {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    pub(crate) username: String,
    pub(crate) password: Secret,
    /// An OAuth 2 access token: the login is `AUTHENTICATE XOAUTH2` with it.
    pub(crate) access_token: Option<Secret>,
    pub(crate) timeout: Duration,
    pub(crate) policy: NetworkPolicy,
    /// Built once: the system's roots plus `ca_certificate`'s.
    tls: Option<TlsConnector>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("access_token", &self.access_token)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The server of `config`; reads `ca_certificate`.
    pub(crate) fn new(config: &ImapConfig) -> Result<Self> {
        let tls = match config.security {
            Security::Plain => None,
            Security::Tls | Security::Starttls => Some(tls_connector(config)?),
        };
        Ok(Self {
            host: config.imap_host.trim().to_owned(),
            port: config.port(),
            security: config.security,
            username: config.credentials.imap_username.clone(),
            password: config.credentials.imap_password.clone(),
            access_token: config.credentials.access_token().cloned(),
            timeout: Duration::from_secs(config.timeout_seconds.get()),
            policy: config.network_policy()?,
            tls,
        })
    }

    /// `host:port`, for messages.
    pub(crate) fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Runs one step under the timeout; its expiry is a [`ErrorKind::Timeout`] naming it.
    pub(crate) async fn timed<T>(
        &self,
        what: &str,
        step: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, step).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what} on {} took longer than {} s (`timeout_seconds`)",
                    self.address(),
                    self.timeout.as_secs()
                ),
            )
            .with_connector(SOURCE)),
        }
    }

    /// Connects, secures the connection as configured and logs in: the run's one login.
    ///
    /// # Errors
    /// [`ErrorKind::Unauthenticated`] naming the credential fields when the server refuses
    /// the login; [`ErrorKind::PermissionDenied`] when the network policy denies every address
    /// of the host; [`ErrorKind::Unavailable`] when it cannot be reached;
    /// [`ErrorKind::Unsupported`] when STARTTLS is refused; [`ErrorKind::Timeout`].
    pub(crate) async fn login(&self) -> Result<Session> {
        let tcp = self.timed("connecting", self.connect_tcp()).await?;
        let client = self
            .timed("the TLS handshake and greeting", self.secure(tcp))
            .await?;
        let mut session = match &self.access_token {
            Some(token) => {
                let sasl = XOAuth2::new(&self.username, token);
                let login = client.authenticate("XOAUTH2", sasl);
                match self.timed("the login", async { Ok(login.await) }).await? {
                    Ok(session) => session,
                    Err((err, _)) => return Err(oauth_login_error(&self.address(), err)),
                }
            }
            None => {
                let login = client.login(&self.username, self.password.expose());
                match self.timed("the login", async { Ok(login.await) }).await? {
                    Ok(session) => session,
                    Err((err, _)) => return Err(login_error(&self.address(), err)),
                }
            }
        };
        self.identify(&mut session).await;
        Ok(session)
    }

    /// Sends RFC 2971 `ID` when the server offers it, as every mail client does: NetEase
    /// (163, 126, yeah.net) refuses `EXAMINE` with "Unsafe Login" until it has seen one. A
    /// server that fails it is read all the same.
    async fn identify(&self, session: &mut Session) {
        let offered = self
            .timed("CAPABILITY", async {
                Ok(session.capabilities().await.map(|c| c.has_str("ID")))
            })
            .await;
        if !matches!(offered, Ok(Ok(true))) {
            return;
        }
        let sent = self
            .timed("ID", async {
                Ok(session
                    .id([
                        ("name", Some("connectors")),
                        ("version", Some(env!("CARGO_PKG_VERSION"))),
                    ])
                    .await)
            })
            .await;
        match sent {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(connector = SOURCE, error = %describe(&e), "the server refused ID");
            }
            Err(e) => tracing::debug!(connector = SOURCE, error = %e, "ID took too long"),
        }
    }

    async fn connect_tcp(&self) -> Result<TcpStream> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot resolve `imap_host` {}: {e}", self.host),
                )
                .with_field("imap_host")
                .with_connector(SOURCE)
            })?
            .collect();
        let allowed: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| self.policy.permits(&self.host, a.ip()))
            .collect();
        if allowed.is_empty() {
            let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "the network policy denies `imap_host` {} ({}); {ALLOW_HINT}",
                    self.host,
                    shown.join(", ")
                ),
            )
            .with_field("imap_host")
            .with_connector(SOURCE));
        }
        let mut last = None;
        for addr in allowed {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    stream.set_nodelay(true).ok();
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "cannot connect to {}: {}",
                self.address(),
                last.map(|e| e.to_string()).unwrap_or_default()
            ),
        )
        .with_connector(SOURCE))
    }

    async fn secure(&self, tcp: TcpStream) -> Result<async_imap::Client<Box<dyn Io>>> {
        match (self.security, &self.tls) {
            (Security::Tls, Some(tls)) => {
                let stream = self.handshake(tls, tcp).await?;
                let mut client = async_imap::Client::new(Box::new(stream) as Box<dyn Io>);
                self.greeting(&mut client).await?;
                Ok(client)
            }
            (Security::Starttls, Some(tls)) => {
                let mut client = async_imap::Client::new(tcp);
                self.greeting(&mut client).await?;
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Unsupported,
                            format!(
                                "{} refused STARTTLS ({}); the login is not sent unencrypted: \
                                 use `security: tls` if the server offers implicit TLS",
                                self.address(),
                                describe(&e)
                            ),
                        )
                        .with_field("security")
                        .with_connector(SOURCE)
                    })?;
                let stream = self.handshake(tls, client.into_inner()).await?;
                // No greeting after STARTTLS.
                Ok(async_imap::Client::new(Box::new(stream) as Box<dyn Io>))
            }
            _ => {
                let mut client = async_imap::Client::new(Box::new(tcp) as Box<dyn Io>);
                self.greeting(&mut client).await?;
                Ok(client)
            }
        }
    }

    async fn handshake(
        &self,
        tls: &TlsConnector,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = ServerName::try_from(self.host.trim_start_matches('[').trim_end_matches(']'))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("`imap_host` is no TLS server name: {e}"),
                )
                .with_field("imap_host")
                .with_connector(SOURCE)
            })?
            .to_owned();
        tls.connect(name, tcp).await.map_err(|e| {
            // A certificate the server should not be trusted with is not retried.
            let kind = if e.kind() == std::io::ErrorKind::InvalidData {
                ErrorKind::PermissionDenied
            } else {
                ErrorKind::Unavailable
            };
            Error::new(
                kind,
                format!(
                    "the TLS handshake with {} failed: {e} (a self-signed or private CA \
                     goes in `ca_certificate`)",
                    self.address()
                ),
            )
            .with_connector(SOURCE)
        })
    }

    async fn greeting<T: Io>(&self, client: &mut async_imap::Client<T>) -> Result<()> {
        match client.read_response().await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "{} closed the connection before its greeting",
                    self.address()
                ),
            )
            .with_connector(SOURCE)),
            Err(e) => Err(Error::new(
                ErrorKind::Unavailable,
                format!("reading the greeting of {}: {e}", self.address()),
            )
            .with_connector(SOURCE)),
        }
    }
}

/// The TLS client: the platform's verifier with the roots of `ca_certificate` (a file) or
/// `ca_certificate_pem` (its text) added. What goes wrong with them is told without anything
/// of the file: neither its lines nor whether it exists (a file-existence oracle), only that
/// it gave no certificate.
fn tls_connector(config: &ImapConfig) -> Result<TlsConnector> {
    let unusable = |field: &'static str| {
        Error::new(
            ErrorKind::Config,
            format!(
                "`{field}` gave no usable certificate: it must be PEM certificates \
                 (`-----BEGIN CERTIFICATE-----`), readable by the connector"
            ),
        )
        .with_field(field)
        .with_connector(SOURCE)
    };
    let mut extra = Vec::new();
    let parsed: Option<(&'static str, Vec<_>)> =
        match (&config.ca_certificate, &config.ca_certificate_pem) {
            (Some(path), _) => Some((
                "ca_certificate",
                CertificateDer::pem_file_iter(path)
                    .map(|certs| certs.collect::<Vec<_>>())
                    .map_err(|_| unusable("ca_certificate"))?,
            )),
            (None, Some(pem)) => Some((
                "ca_certificate_pem",
                CertificateDer::pem_slice_iter(pem.as_bytes()).collect(),
            )),
            (None, None) => None,
        };
    if let Some((field, certs)) = parsed {
        for cert in certs {
            extra.push(cert.map_err(|_| unusable(field))?);
        }
        if extra.is_empty() {
            return Err(unusable(field));
        }
    }
    let provider = Arc::new(crypto::aws_lc_rs::default_provider());
    let tls_error = |e: tokio_rustls::rustls::Error| {
        Error::internal(format!("cannot set TLS up: {e}")).with_connector(SOURCE)
    };
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(tls_error)?;
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(tls)))
}

/// The most of a server's status text an error repeats.
const STATUS_TEXT_MAX: usize = 200;

/// async-imap's error without anything of the request or of mail in it: a `NO`/`BAD`'s status
/// text cut to [`STATUS_TEXT_MAX`] characters, an I/O error's kind only. async-imap puts the
/// whole unparsed response into a parse error's text (during a body fetch: the mail itself),
/// so neither a parse error's nor an I/O error's own text is ever passed on.
pub(crate) fn describe(e: &async_imap::error::Error) -> String {
    use async_imap::error::Error as E;
    match e {
        E::No(text) => format!("the server said NO: {}", status_text(text)),
        E::Bad(text) => format!("the server said BAD: {}", status_text(text)),
        E::ConnectionLost => "the connection was lost".to_owned(),
        E::Io(io) => match io.kind() {
            // async-imap's decoder reports an unparsable response as `Other`, with the
            // response in the text.
            std::io::ErrorKind::Other | std::io::ErrorKind::InvalidData => {
                "the server's response could not be parsed".to_owned()
            }
            kind => format!("I/O error: {kind}"),
        },
        E::Parse(_) => "the server's response could not be parsed".to_owned(),
        E::Validate(_) => "a command argument is not a valid IMAP string".to_owned(),
        E::Append => "APPEND failed".to_owned(),
        _ => "unknown IMAP error".to_owned(),
    }
}

/// A status text for an error message: one line, at most [`STATUS_TEXT_MAX`] characters.
fn status_text(text: &str) -> String {
    let one_line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    connector_core::text::clip(&one_line, STATUS_TEXT_MAX).into_owned()
}

/// What a `NO`/`BAD` status text says, by its response code (RFC 5530) or by the words real
/// servers use without one (Gmail's bandwidth cut-off, Exchange's throttling, NetEase's
/// "Unsafe Login"); `None` when it says nothing known.
pub(crate) fn status_kind(text: &str) -> Option<ErrorKind> {
    let t = text.to_ascii_uppercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["AUTHENTICATIONFAILED", "EXPIRED"]) {
        Some(ErrorKind::Unauthenticated)
    } else if has(&["AUTHORIZATIONFAILED", "NOPERM", "UNSAFE LOGIN"]) {
        Some(ErrorKind::PermissionDenied)
    } else if has(&[
        "THROTTLED",
        "BANDWIDTH LIMIT",
        "COMMAND OR BANDWIDTH",
        "TOO MANY",
        "LIMIT",
        "OVERQUOTA",
    ]) {
        Some(ErrorKind::RateLimited)
    } else if has(&["UNAVAILABLE", "INUSE", "SERVERBUG"]) {
        Some(ErrorKind::Unavailable)
    } else if has(&["NONEXISTENT", "TRYCREATE"]) {
        Some(ErrorKind::NotFound)
    } else {
        None
    }
}

/// The wait a throttling server suggests (Exchange: "Suggested Backoff Time: 1234 ms").
pub(crate) fn suggested_backoff(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("backoff time:")? + "backoff time:".len();
    let digits: String = lower[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Duration::from_millis)
}

/// The error of a refused command whose status text tells the kind, with the wait a
/// throttling server asks for.
fn status_error(kind: ErrorKind, message: String, text: &str) -> Error {
    let mut err = Error::new(kind, message).with_connector(SOURCE);
    if kind == ErrorKind::RateLimited {
        err = err.with_retry_after(suggested_backoff(text).unwrap_or(Duration::from_secs(5)));
    }
    err
}

fn login_error(address: &str, e: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    match e {
        E::No(text) | E::Bad(text) => match status_kind(&text) {
            Some(kind) if kind != ErrorKind::Unauthenticated => status_error(
                kind,
                format!(
                    "{address} did not take the login now: {}",
                    status_text(&text)
                ),
                &text,
            ),
            _ => Error::new(
                ErrorKind::Unauthenticated,
                format!(
                    "{address} refused the login of `credentials.imap_username` with \
                     `credentials.imap_password` (Gmail, Yahoo and iCloud need an app \
                     password; Outlook/Exchange Online accept OAuth only): {}",
                    status_text(&text)
                ),
            )
            .with_field("credentials.imap_password")
            .with_connector(SOURCE),
        },
        other => command_error("the login", &other),
    }
}

/// The SASL `XOAUTH2` exchange (Google's and Microsoft's IMAP OAuth login): the initial
/// response `user={user}^Aauth=Bearer {token}^A^A`; when the server refuses the token it sends
/// a challenge (a JSON error), which is answered with an empty response, as the mechanism
/// asks, and the server then ends the command with `NO`.
pub(crate) struct XOAuth2 {
    /// The initial response, `None` once sent.
    initial: Option<Vec<u8>>,
}

impl XOAuth2 {
    pub(crate) fn new(user: &str, token: &Secret) -> Self {
        let initial = format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose());
        Self {
            initial: Some(initial.into_bytes()),
        }
    }
}

impl fmt::Debug for XOAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XOAuth2").finish_non_exhaustive()
    }
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        // The first continuation asks for the initial response; a later one carries the
        // server's error (never passed on: it may repeat the request), answered empty.
        self.initial.take().unwrap_or_default()
    }
}

fn oauth_login_error(address: &str, e: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    match e {
        E::No(text) | E::Bad(text) => match status_kind(&text) {
            Some(kind) if kind != ErrorKind::Unauthenticated => status_error(
                kind,
                format!(
                    "{address} did not take the login now: {}",
                    status_text(&text)
                ),
                &text,
            ),
            _ => Error::new(
                ErrorKind::Unauthenticated,
                format!(
                    "{address} refused the XOAUTH2 login of `credentials.imap_username` with \
                     `credentials.imap_access_token` (an expired token, one without the IMAP \
                     scope `https://mail.google.com/` or \
                     `https://outlook.office.com/IMAP.AccessAsUser.All`, a user name that is \
                     not the token's mailbox, or a server without `AUTH=XOAUTH2`): {}",
                    status_text(&text)
                ),
            )
            .with_field("credentials.imap_access_token")
            .with_connector(SOURCE),
        },
        other => command_error("the XOAUTH2 login", &other),
    }
}

/// A failed command as core's error: lost connections and I/O are retryable
/// ([`ErrorKind::Unavailable`]); a `NO` or `BAD` is what its response code says
/// ([`status_kind`]), else [`ErrorKind::InvalidData`]; a response that does not parse is
/// [`ErrorKind::InvalidData`].
pub(crate) fn command_error(what: &str, e: &async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    let message = format!("{what}: {}", describe(e));
    match e {
        E::Io(io)
            if !matches!(
                io.kind(),
                std::io::ErrorKind::Other | std::io::ErrorKind::InvalidData
            ) =>
        {
            Error::new(ErrorKind::Unavailable, message).with_connector(SOURCE)
        }
        E::ConnectionLost => Error::new(ErrorKind::Unavailable, message).with_connector(SOURCE),
        E::No(text) | E::Bad(text) => status_error(
            status_kind(text).unwrap_or(ErrorKind::InvalidData),
            message,
            text,
        ),
        _ => Error::new(ErrorKind::InvalidData, message).with_connector(SOURCE),
    }
}

/// What `EXAMINE` tells of a mailbox.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selected {
    pub(crate) uid_validity: u32,
    /// `UIDNEXT`, when the server tells it.
    pub(crate) uid_next: Option<u32>,
}

/// Selects `mailbox` read-only (`EXAMINE`: reading never sets `\Seen`); the name is sent in
/// modified UTF-7 (RFC 3501 §5.1.3).
///
/// # Errors
/// By the response code: [`ErrorKind::NotFound`] naming `imap_mailbox` for a mailbox that is
/// not there (or a `NO` without a code), [`ErrorKind::PermissionDenied`] for `NOPERM` or
/// NetEase's "Unsafe Login", [`ErrorKind::Unavailable`]/[`ErrorKind::RateLimited`] for
/// `UNAVAILABLE`, `INUSE`, `LIMIT` (retryable).
pub(crate) async fn examine(
    server: &Server,
    session: &mut Session,
    mailbox: &str,
) -> Result<Selected> {
    let wire = super::utf7::encode(mailbox);
    let selected = server
        .timed("selecting a mailbox", async {
            session.examine(&wire).await.map_err(|e| match e {
                async_imap::error::Error::No(text) => {
                    let kind = status_kind(&text).unwrap_or(ErrorKind::NotFound);
                    let what = match kind {
                        ErrorKind::NotFound => {
                            "cannot be selected (is it spelled as the server lists it?)"
                        }
                        ErrorKind::PermissionDenied => "may not be read by this account",
                        _ => "cannot be selected now",
                    };
                    let err = status_error(
                        kind,
                        format!(
                            "mailbox {mailbox:?} of `imap_mailbox` {what}: {}",
                            status_text(&text)
                        ),
                        &text,
                    );
                    if matches!(kind, ErrorKind::NotFound | ErrorKind::PermissionDenied) {
                        err.with_field("imap_mailbox")
                    } else {
                        err
                    }
                }
                other => command_error(&format!("selecting mailbox {mailbox:?}"), &other),
            })
        })
        .await?;
    let uid_validity = selected.uid_validity.ok_or_else(|| {
        Error::new(
            ErrorKind::Unsupported,
            format!("mailbox {mailbox:?} has no UIDVALIDITY: the server does not keep UIDs"),
        )
        .with_connector(SOURCE)
    })?;
    Ok(Selected {
        uid_validity,
        uid_next: selected.uid_next,
    })
}

/// One mailbox of `LIST`: its name (UTF-8) and whether it can be selected and is worth
/// reading by default.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) name: String,
    /// Not `\Noselect`/`\NonExistent`.
    pub(crate) selectable: bool,
    /// `\All`, `\Junk` or `\Trash` (RFC 6154): copies of other mail, or mail nobody wants
    /// found.
    pub(crate) skipped_by_default: bool,
}

/// `LIST "" "*"`: every mailbox of the account, names decoded from modified UTF-7.
pub(crate) async fn list_mailboxes(server: &Server, session: &mut Session) -> Result<Vec<Listed>> {
    use async_imap::types::NameAttribute as A;
    let names = server
        .timed("LIST", async {
            let stream = session
                .list(Some(""), Some("*"))
                .await
                .map_err(|e| command_error("LIST", &e))?;
            stream
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| command_error("LIST", &e))
        })
        .await?;
    let mut out: Vec<Listed> = names
        .iter()
        .map(|n| {
            let attrs = n.attributes();
            let has = |want: &str| {
                attrs.iter().any(|a| match a {
                    A::Extension(x) => x.trim_start_matches('\\').eq_ignore_ascii_case(want),
                    _ => false,
                })
            };
            Listed {
                name: super::utf7::decode(n.name()),
                selectable: !attrs.iter().any(|a| matches!(a, A::NoSelect)) && !has("NonExistent"),
                skipped_by_default: attrs
                    .iter()
                    .any(|a| matches!(a, A::All | A::Junk | A::Trash))
                    || has("All")
                    || has("Junk")
                    || has("Trash"),
            }
        })
        .collect();
    // INBOX first (its name is case-insensitive), the rest as the server sent them.
    out.sort_by_key(|l| !l.name.eq_ignore_ascii_case("INBOX"));
    Ok(out)
}

/// `UID SEARCH query`, the UIDs ascending.
pub(crate) async fn uid_search(
    server: &Server,
    session: &mut Session,
    query: &str,
) -> Result<Vec<u32>> {
    let found = server
        .timed("UID SEARCH", async {
            session
                .uid_search(query)
                .await
                .map_err(|e| command_error(&format!("UID SEARCH {query}"), &e))
        })
        .await?;
    let mut uids: Vec<u32> = found.into_iter().collect();
    uids.sort_unstable();
    Ok(uids)
}

/// What a `UID FETCH` returned: what `extract` took from every FETCH response that came, and
/// the error that ended it early.
pub(crate) struct Fetched<T> {
    pub(crate) fetches: Vec<T>,
    /// Why it ended early or short: the tagged `NO`/`BAD` (which a server sends after serving
    /// part of the messages), a response that did not parse, a lost connection, the timeout.
    pub(crate) error: Option<Error>,
    /// Whether the connection is out of step after `error`: only a new one goes on.
    pub(crate) broken: bool,
}

/// `UID FETCH set items`, read response by response (async-imap's own fetch stream drops the
/// tagged status, so a `NO` after part of the messages would pass unseen): `extract` of every
/// FETCH response, and the error that ended it, if any.
pub(crate) async fn uid_fetch<T>(
    server: &Server,
    session: &mut Session,
    set: &str,
    items: &str,
    extract: impl Fn(&[AttributeValue<'_>]) -> Option<T>,
) -> Fetched<T> {
    use async_imap::error::Error as E;
    let mut fetches = Vec::new();
    let run = async {
        let sent = server
            .timed("sending UID FETCH", async {
                Ok(session
                    .run_command(format!("UID FETCH {set} {items}"))
                    .await)
            })
            .await;
        let tag = match sent {
            Ok(Ok(tag)) => tag,
            Ok(Err(e)) => return Some((command_error("UID FETCH", &e), true)),
            Err(timeout) => return Some((timeout, true)),
        };
        loop {
            // The timeout bounds each response, not the command: a slow server that keeps
            // sending (Gmail throttles its pace) finishes a large part.
            let read = server
                .timed("reading a FETCH response", async {
                    Ok(session.read_response().await)
                })
                .await;
            let response = match read {
                Ok(Ok(Some(response))) => response,
                Ok(Ok(None)) => {
                    return Some((command_error("UID FETCH", &E::ConnectionLost), true));
                }
                Ok(Err(e)) => return Some((command_error("UID FETCH", &E::Io(e)), true)),
                Err(timeout) => return Some((timeout, true)),
            };
            match response.parsed() {
                Response::Fetch(_, attrs) => fetches.extend(extract(attrs)),
                Response::Done {
                    tag: done,
                    status,
                    outcome,
                } if *done == tag => {
                    let text = format!("code: {:?}, info: {:?}", outcome.code, outcome.information);
                    return match status {
                        Status::Ok => None,
                        Status::No => Some((command_error("UID FETCH", &E::No(text)), false)),
                        Status::Bad => Some((command_error("UID FETCH", &E::Bad(text)), false)),
                        _ => Some((command_error("UID FETCH", &E::ConnectionLost), true)),
                    };
                }
                // `BYE` (the server closes the connection), unsolicited EXISTS/EXPUNGE/FLAGS.
                Response::Data {
                    status: Status::Bye,
                    ..
                } => return Some((command_error("UID FETCH", &E::ConnectionLost), true)),
                _ => {}
            }
        }
    };
    let failed = run.await;
    let (error, broken) = match failed {
        Some((e, b)) => (Some(e), b),
        None => (None, false),
    };
    Fetched {
        fetches,
        error,
        broken,
    }
}

/// Logs out, ignoring a server that already hung up.
pub(crate) async fn logout(server: &Server, session: &mut Session) {
    let _ = server
        .timed("LOGOUT", async { Ok(session.logout().await) })
        .await;
}

/// A UID set in IMAP syntax, runs of consecutive UIDs as ranges (`1:5,9,12:13`).
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.saturating_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::uid_set;

    #[test]
    fn uid_sets_use_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 9, 10]), "1:3,5,9:10");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[]), "");
    }
}
