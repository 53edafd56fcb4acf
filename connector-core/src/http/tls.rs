//! The TLS setup of [`HttpClient`](super::HttpClient): what reqwest's `rustls` backend builds
//! (rustls on aws-lc-rs, TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`, SNI, certificates
//! checked by the platform verifier against the system's roots), except that the roots are
//! read when the client first checks a server's certificate, not when it is built.
//!
//! Reading the roots is a fixed cost of every client: on Linux some 150 files opened and 300
//! `stat`s in `/etc/ssl/certs`, and each certificate's base64 decoded and parsed (issue 17: a
//! `connectors sync` of a plain `http://` API paid it at start for nothing). A client that
//! only ever talks `http://` now never reads them; the first `https://` handshake of a client
//! reads them once for that client (as building it did before: a client built later reads
//! the roots afresh and so sees roots installed since).
//!
//! reqwest takes the configuration through `tls_backend_preconfigured`, which recognises a
//! `rustls::ClientConfig` of its own rustls version only: `tokio-rustls` here must stay on the
//! rustls reqwest uses (one `rustls` in `Cargo.lock`), or every client fails to build (as
//! every HTTP test would show).

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{DigitallySignedStruct, SignatureScheme};

/// The client's TLS configuration and its lazily loaded roots (kept to tell whether they
/// were read).
pub(crate) fn client_config() -> Result<(rustls::ClientConfig, Arc<PlatformRoots>), rustls::Error> {
    // As reqwest: a process-wide provider if the host installed one, else aws-lc-rs.
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let roots = Arc::new(PlatformRoots {
        provider: Arc::clone(&provider),
        verifier: OnceLock::new(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&roots) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, roots))
}

/// `rustls_platform_verifier::Verifier` (the system's roots and WebPKI), made on the first
/// certificate it is asked to verify. Signatures are checked with the provider's algorithms
/// without it, exactly as it checks them, so the handshake's first steps read no roots.
#[derive(Debug)]
pub(crate) struct PlatformRoots {
    provider: Arc<CryptoProvider>,
    /// The verifier, or why the system's roots could not be loaded (kept, as a client built
    /// without roots kept failing before).
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl PlatformRoots {
    /// Reads the system's roots if they were not read yet: an `https` request asks this
    /// before its first attempt, so roots that cannot be read fail it at once as the
    /// set-up error they are, not as a connection error retried until the source counts
    /// as unavailable.
    pub(crate) fn ready(&self) -> Result<(), rustls::Error> {
        self.verifier().map(|_| ())
    }

    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(Arc::clone(&self.provider)))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether the system's roots were read.
    #[cfg(test)]
    pub(crate) fn loaded(&self) -> bool {
        self.verifier.get().is_some()
    }
}

impl ServerCertVerifier for PlatformRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio_rustls::rustls::pki_types::PrivateKeyDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::http::HttpClient;

    /// A throwaway self-signed certificate for `localhost` and 127.0.0.1 (P-256, no CA, made
    /// with `openssl req -x509` for this test; its key protects nothing).
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmDCCAT6gAwIBAgIUbWBoQQ/VbSwIm7LT0Ka9yiHKGa0wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNTIzMjMyMFoYDzIxMjYxMTEx
MjMyMzIwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARd5f4zMGgqFPn7emD0z4fii5dsmAaeDyTK3FPukw0eeBDFgnNTJpK7
vvEJ0sQTeY3vaDKqw30b15oUMAyxVbbEo2wwajAdBgNVHQ4EFgQUuYMVrsGqwfU4
2Y6Sm1FwXQjZIS8wHwYDVR0jBBgwFoAUuYMVrsGqwfU42Y6Sm1FwXQjZIS8wGgYD
VR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0E
AwIDSAAwRQIhAIHmnBLbdFa2oOAA92a16HotuErTZtJGNoLp/w8Yra+vAiBnGkfH
X9kvrB4X+/xpP7NrhKDL3pL6i9SH4zBs+z+PpQ==
-----END CERTIFICATE-----
";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqRs5RBT5hUTF2k9I
7Land3qxWSnd732S0Z4HFASqM16hRANCAARd5f4zMGgqFPn7emD0z4fii5dsmAae
DyTK3FPukw0eeBDFgnNTJpK7vvEJ0sQTeY3vaDKqw30b15oUMAyxVbbE
-----END PRIVATE KEY-----
";

    /// A TLS server on 127.0.0.1 presenting [`CERT`], answering each connection with a
    /// plain `200 OK` (if the client finishes the handshake at all).
    async fn tls_server() -> std::net::SocketAddr {
        let cert = super::CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap();
        let config = super::rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            super::rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(socket).await {
                        let _ = tls
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await;
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn roots_are_read_at_the_first_https_handshake_only() {
        let client = HttpClient::builder("test")
            .max_retries(0)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        assert!(
            !client.inner.tls_roots.loaded(),
            "built without reading roots"
        );

        // Plain HTTP: no certificate, no roots.
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        let url = url::Url::parse(&server.uri()).unwrap();
        let got = client.get(url).send().await.unwrap();
        assert_eq!(got.status(), 200);
        assert!(!client.inner.tls_roots.loaded(), "http:// read the roots");

        // HTTPS to a server whose certificate no system root signed: the handshake reaches
        // the platform verifier, which reads the roots and refuses the certificate (how it
        // words the refusal depends on the system's roots).
        let addr = tls_server().await;
        let url = url::Url::parse(&format!("https://localhost:{}/", addr.port())).unwrap();
        let err = client.get(url).send().await.unwrap_err();
        assert!(
            client.inner.tls_roots.loaded(),
            "https:// did not read the roots"
        );
        // The rustls error is at the bottom of reqwest's chain of causes.
        let text = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(
            text.contains("invalid peer certificate"),
            "not a certificate error: {text}"
        );
    }
}
