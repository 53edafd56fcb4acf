//! Certificate credentials: the client credentials grant with a signed client assertion
//! instead of a client secret, as Microsoft's MSAL libraries send it (many tenants forbid
//! secrets for apps that read every site or mailbox).
//!
//! The token request posts `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//! and `client_assertion`: a JWT whose header names the certificate by its thumbprint (RS256
//! with `x5t`, the SHA-1 thumbprint as base64url; PS256 with `x5t#S256` for a SHA-256 one,
//! as Microsoft's certificate credentials page pairs them), and whose claims
//! are `aud` (the token endpoint), `iss` and `sub` (the client id), a unique `jti`, `nbf`,
//! `iat` and `exp` ten minutes ahead. It is signed anew for every token request (core's
//! [`OAuthToken::app_grant`]).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use connector_core::http::OAuthToken;
use connector_core::{Error, ErrorKind, FieldError, Result, Secret};
use serde::Serialize;
use url::Url;

/// The config field of the certificate's private key.
pub const CERTIFICATE_KEY_FIELD: &str = "credentials.client_certificate_key";

/// The config field of the certificate's thumbprint.
pub const CERTIFICATE_THUMBPRINT_FIELD: &str = "credentials.client_certificate_thumbprint";

/// The config field of a PFX's password.
pub const CERTIFICATE_PASSWORD_FIELD: &str = "credentials.client_certificate_password";

/// How long an assertion is valid, as MSAL makes them.
const ASSERTION_SECONDS: u64 = 600;

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A certificate's thumbprint as the Entra admin center shows it (hex, `:` or spaces allowed):
/// its bytes, or what is wrong with it.
fn thumbprint_bytes(thumbprint: &str) -> std::result::Result<Vec<u8>, &'static str> {
    let hex: String = thumbprint
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect();
    if !matches!(hex.len(), 40 | 64) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(
            "is the certificate's thumbprint in hex, as the app registration's Certificates & secrets page shows it: 40 characters (SHA-1) or 64 (SHA-256)",
        );
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| "is not hex"))
        .collect()
}

/// The blocks of a PEM text, in order: (label, base64 body without whitespace). Text around
/// and between blocks (`Bag Attributes` of `openssl pkcs12` output) is passed over.
fn pem_blocks(text: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body.find(&end_marker) else {
            break;
        };
        out.push((
            label,
            body[..end].chars().filter(|c| !c.is_whitespace()).collect(),
        ));
        rest = &body[end + end_marker.len()..];
    }
    out
}

/// The RSA private key of a PEM text as a PEM of that block alone: a file may hold the
/// certificate (and its chain) too, in any order, as `openssl pkcs12 -nodes` and Key Vault's
/// PEM export write it, and MSAL takes it so.
fn private_key_pem(text: &str) -> Option<String> {
    pem_blocks(text)
        .into_iter()
        .find(|(label, _)| matches!(*label, "PRIVATE KEY" | "RSA PRIVATE KEY"))
        .map(|(label, body)| pem_wrap(label, &body))
}

/// A PEM block of `label` around a base64 body, 64 characters a line.
fn pem_wrap(label: &str, body: &str) -> String {
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// What a certificate key setting holds: the private key as PEM, and the certificate (DER)
/// when the setting carries it.
struct KeyMaterial {
    key_pem: String,
    certificate: Option<Vec<u8>>,
}

/// The key and certificate of a PFX (PKCS#12) file given as base64, as the Entra admin
/// center, Azure Key Vault and Windows' certificate export write it and Onyx's SharePoint
/// connector takes it (`sp_private_key`, `sp_certificate_password`). The certificate is the
/// one whose `localKeyId` is the key's, else the first.
fn pfx_material(
    text: &str,
    password: &str,
) -> std::result::Result<KeyMaterial, (&'static str, &'static str)> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| {
            (
                CERTIFICATE_KEY_FIELD,
                "is neither a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY) nor a PFX (PKCS#12) file in base64",
            )
        })?;
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(&der, password).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) => (
            CERTIFICATE_PASSWORD_FIELD,
            "does not open the PFX in credentials.client_certificate_key (wrong or missing password)",
        ),
        p12_keystore::error::Error::UnsupportedEncryptionScheme
        | p12_keystore::error::Error::UnsupportedMacAlgorithm => (
            CERTIFICATE_KEY_FIELD,
            "is a PFX encrypted with a scheme this connector does not read: export it again with AES-256 (or convert it with `openssl pkcs12 -in app.pfx -nodes -out app.pem` and give the PEM)",
        ),
        _ => (
            CERTIFICATE_KEY_FIELD,
            "is not a readable PFX (PKCS#12) file in base64, or its password (credentials.client_certificate_password) is wrong",
        ),
    })?;
    let key = archive.keys.first().ok_or((
        CERTIFICATE_KEY_FIELD,
        "is a PFX without a private key: export the certificate with its private key",
    ))?;
    let certificate = archive
        .certs
        .iter()
        .find(|c| {
            key.local_key_id
                .as_ref()
                .is_some_and(|id| c.local_key_id.as_deref() == Some(id.0.as_slice()))
        })
        .or_else(|| archive.certs.first())
        .map(|c| c.cert.as_der().to_vec());
    Ok(KeyMaterial {
        key_pem: pem_wrap(
            "PRIVATE KEY",
            &base64::engine::general_purpose::STANDARD.encode(key.key.as_der()),
        ),
        certificate,
    })
}

/// The key (and certificate) of a key setting: a PEM text, or a base64 PFX opened with
/// `password` (an empty one if none is given), or the field and why it cannot be used.
fn key_material(
    text: &str,
    password: Option<&Secret>,
) -> std::result::Result<KeyMaterial, (&'static str, &'static str)> {
    if !text.contains("-----BEGIN ") {
        return pfx_material(text, password.map_or("", Secret::expose));
    }
    // PKCS#8's `ENCRYPTED PRIVATE KEY`, or PKCS#1's `Proc-Type: 4,ENCRYPTED` header.
    if text.contains("ENCRYPTED") {
        return Err((
            CERTIFICATE_KEY_FIELD,
            "holds an encrypted private key, which this connector does not decrypt: decrypt it once (`openssl pkcs8 -in key.pem -out plain.pem`) and give the plain PEM, or give the PFX in base64 with credentials.client_certificate_password",
        ));
    }
    let key_pem = private_key_pem(text).ok_or((
        CERTIFICATE_KEY_FIELD,
        "holds no RSA private key in PEM (PKCS#8 BEGIN PRIVATE KEY or PKCS#1 BEGIN RSA PRIVATE KEY)",
    ))?;
    Ok(KeyMaterial {
        key_pem,
        certificate: certificate_der(text),
    })
}

/// The signing key of a key setting, or the field and why there is none.
fn signing_key(
    material: &KeyMaterial,
) -> std::result::Result<jsonwebtoken::EncodingKey, (&'static str, &'static str)> {
    jsonwebtoken::EncodingKey::from_rsa_pem(material.key_pem.as_bytes()).map_err(|_| {
        (
            CERTIFICATE_KEY_FIELD,
            "is not an RSA private key (PKCS#8 BEGIN PRIVATE KEY or PKCS#1 BEGIN RSA PRIVATE KEY, or a PFX holding one)",
        )
    })
}

/// The DER of the first certificate in a PEM text.
fn certificate_der(text: &str) -> Option<Vec<u8>> {
    let (_, body) = pem_blocks(text)
        .into_iter()
        .find(|(label, _)| *label == "CERTIFICATE")?;
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The SHA-256 thumbprint of a certificate's DER.
fn sha256(der: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(der).to_vec()
}

/// The problems of a certificate's settings, by field.
pub(crate) fn problems(
    key: &Secret,
    password: Option<&Secret>,
    thumbprint: Option<&str>,
) -> Vec<FieldError> {
    let mut out = Vec::new();
    let material = key_material(key.expose(), password);
    let has_certificate = match &material {
        Ok(m) => {
            if let Err((field, why)) = signing_key(m) {
                out.push(FieldError::new(field, why));
            }
            m.certificate.is_some()
        }
        Err((field, why)) => {
            out.push(FieldError::new(*field, *why));
            // No thumbprint problem on top of a key that could not be read.
            true
        }
    };
    match thumbprint.map(str::trim).filter(|t| !t.is_empty()) {
        // The certificate beside the key names itself.
        None if has_certificate => {}
        None => out.push(FieldError::new(
            CERTIFICATE_THUMBPRINT_FIELD,
            "is required with credentials.client_certificate_key, unless that PEM or PFX holds the certificate too",
        )),
        Some(t) => {
            if let Err(why) = thumbprint_bytes(t) {
                out.push(FieldError::new(CERTIFICATE_THUMBPRINT_FIELD, why));
            }
        }
    }
    out
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// A `jti` the token endpoint has not seen ([`connector_core::ids::unique_id`]), shaped as
/// a GUID.
fn unique_id() -> String {
    let h = connector_core::ids::unique_id();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What every assertion of one app is made of.
struct Assertion {
    token_url: String,
    client_id: String,
    scope: String,
    header: jsonwebtoken::Header,
    key: jsonwebtoken::EncodingKey,
}

impl Assertion {
    /// The token request's form, with an assertion signed now.
    fn form(&self) -> Result<Vec<(&'static str, String)>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = Claims {
            aud: &self.token_url,
            iss: &self.client_id,
            sub: &self.client_id,
            jti: unique_id(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_SECONDS,
        };
        let assertion = jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "the client assertion could not be signed with {CERTIFICATE_KEY_FIELD}: {e}"
                ),
            )
            .with_field(CERTIFICATE_KEY_FIELD)
        })?;
        Ok(vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", assertion),
        ])
    }
}

/// The token of `source` got with a client assertion signed by `key` (opened with
/// `password` when it is a PFX), the certificate `thumbprint` names.
///
/// # Errors
/// [`ErrorKind::Config`] naming the field of a key, password or thumbprint that cannot be
/// used.
pub(crate) fn token(
    source: &'static str,
    token_url: Url,
    client_id: &str,
    scope: String,
    key: &Secret,
    password: Option<&Secret>,
    thumbprint: &str,
) -> Result<OAuthToken> {
    let config = |field: &str, why: &str| {
        Error::new(ErrorKind::Config, format!("`{field}` {why}"))
            .with_connector(source)
            .with_field(field.to_owned())
    };
    let material =
        key_material(key.expose(), password).map_err(|(field, why)| config(field, why))?;
    let signer = signing_key(&material).map_err(|(field, why)| config(field, why))?;
    let bytes = match thumbprint.trim() {
        "" => material.certificate.as_deref().map(sha256).ok_or_else(|| {
            config(
                CERTIFICATE_THUMBPRINT_FIELD,
                "is required with credentials.client_certificate_key, unless that PEM or PFX holds the certificate too",
            )
        })?,
        t => thumbprint_bytes(t).map_err(|why| config(CERTIFICATE_THUMBPRINT_FIELD, why))?,
    };
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
    // Microsoft's pairs: RS256 with the SHA-1 `x5t`, PS256 with `x5t#S256`.
    let mut header = if bytes.len() == 20 {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.x5t = Some(encoded);
        h
    } else {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
        h.x5t_s256 = Some(encoded);
        h
    };
    header.typ = Some("JWT".to_owned());
    let assertion = Assertion {
        token_url: token_url.to_string(),
        client_id: client_id.to_owned(),
        scope,
        header,
        key: signer,
    };
    Ok(OAuthToken::app_grant(
        source,
        token_url,
        CERTIFICATE_KEY_FIELD,
        move || assertion.form(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_read_as_the_portal_shows_them() {
        assert_eq!(
            thumbprint_bytes("3F2504E04F8911D39A0C0305E82C3301AB12CD34").map(|b| b.len()),
            Ok(20)
        );
        assert_eq!(
            thumbprint_bytes("3f:25:04:e0:4f:89:11:d3:9a:0c:03:05:e8:2c:33:01:ab:12:cd:34")
                .map(|b| b[0]),
            Ok(0x3f)
        );
        assert_eq!(thumbprint_bytes(&"ab".repeat(32)).map(|b| b.len()), Ok(32));
        assert!(thumbprint_bytes("3F2504E0").is_err());
        assert!(thumbprint_bytes(&"zz".repeat(20)).is_err());
        let key = "-----BEGIN PRIVATE KEY-----\nMIIB\nAAAA\n-----END PRIVATE KEY-----\n";
        let both = format!(
            "Bag Attributes\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{key}"
        );
        assert_eq!(
            pem_blocks(&both),
            [
                ("CERTIFICATE", "AAAA".to_owned()),
                ("PRIVATE KEY", "MIIBAAAA".to_owned())
            ]
        );
        assert_eq!(
            private_key_pem(&both).as_deref(),
            Some("-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n")
        );
        assert!(
            private_key_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_none()
        );
        let unique = unique_id();
        assert_eq!(unique.len(), 36);
        assert_ne!(unique, unique_id());
    }
}
