//! The IMAP side: one connection and one login per run (implicit TLS, STARTTLS or, on
//! loopback, plain), `SELECT`, `UID SEARCH` and `UID FETCH`, each bounded by the configured
//! timeout, and async-imap's errors as core's error kinds.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_imap::types::Fetch;
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
        let login = client.login(&self.username, self.password.expose());
        match self.timed("the login", async { Ok(login.await) }).await? {
            Ok(session) => Ok(session),
            Err((err, _)) => Err(login_error(&self.address(), err)),
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

/// The TLS client: the platform's verifier with `ca_certificate`'s roots added.
fn tls_connector(config: &ImapConfig) -> Result<TlsConnector> {
    let mut extra = Vec::new();
    if let Some(path) = &config.ca_certificate {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read `ca_certificate` {}: {e}", path.display()),
            )
            .with_field("ca_certificate")
            .with_connector(SOURCE)
        })?;
        for cert in certs {
            extra.push(cert.map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "`ca_certificate` {} is not PEM certificates: {e}",
                        path.display()
                    ),
                )
                .with_field("ca_certificate")
                .with_connector(SOURCE)
            })?);
        }
        if extra.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("`ca_certificate` {} holds no certificate", path.display()),
            )
            .with_field("ca_certificate")
            .with_connector(SOURCE));
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

/// async-imap's error without anything of the request in it.
fn describe(e: &async_imap::error::Error) -> String {
    e.to_string()
}

fn login_error(address: &str, e: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    match e {
        E::No(text) | E::Bad(text) => Error::new(
            ErrorKind::Unauthenticated,
            format!(
                "{address} refused the login of `credentials.imap_username` with \
                 `credentials.imap_password`: {}",
                text.trim()
            ),
        )
        .with_field("credentials.imap_password")
        .with_connector(SOURCE),
        other => command_error("the login", &other),
    }
}

/// A failed command as core's error: lost connections and I/O are retryable
/// ([`ErrorKind::Unavailable`]), a `NO` or `BAD` is the server's refusal, anything it sent
/// that does not parse is [`ErrorKind::InvalidData`].
pub(crate) fn command_error(what: &str, e: &async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    let kind = match e {
        E::Io(_) | E::ConnectionLost => ErrorKind::Unavailable,
        E::No(_) | E::Bad(_) => ErrorKind::InvalidData,
        _ => ErrorKind::InvalidData,
    };
    Error::new(kind, format!("{what}: {}", describe(e))).with_connector(SOURCE)
}

/// What `SELECT` tells of a mailbox.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Selected {
    pub(crate) uid_validity: u32,
}

/// Selects `mailbox` read-only (`EXAMINE`: reading never sets `\Seen`).
pub(crate) async fn examine(
    server: &Server,
    session: &mut Session,
    mailbox: &str,
) -> Result<Selected> {
    let selected = server
        .timed("selecting a mailbox", async {
            session.examine(mailbox).await.map_err(|e| match e {
                async_imap::error::Error::No(text) => Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "mailbox {mailbox:?} of `imap_mailbox` cannot be selected: {}",
                        text.trim()
                    ),
                )
                .with_field("imap_mailbox")
                .with_connector(SOURCE),
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
    Ok(Selected { uid_validity })
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

/// `UID FETCH set items`, every response collected.
pub(crate) async fn uid_fetch(
    server: &Server,
    session: &mut Session,
    set: &str,
    items: &str,
) -> Result<Vec<Fetch>> {
    server
        .timed("UID FETCH", async {
            let stream = session
                .uid_fetch(set, items)
                .await
                .map_err(|e| command_error("UID FETCH", &e))?;
            stream
                .try_collect::<Vec<Fetch>>()
                .await
                .map_err(|e| command_error("UID FETCH", &e))
        })
        .await
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
