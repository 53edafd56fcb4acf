//! The signature of job events: HMAC-SHA256 over `<unix seconds>.<body>`, as Stripe signs
//! its webhooks, and its check for receivers.

use std::time::Duration;

use chrono::Utc;
use connector_core::Secret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a signature's timestamp may be from the receiver's clock by default (5 minutes,
/// as Stripe's libraries): older events are refused as possible replays.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A new signing secret: `whsec_` and 64 hex digits (256 random bits).
pub fn generate_secret() -> Secret {
    use chacha20poly1305::aead::OsRng;
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(format!("whsec_{}", hex(&bytes)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &Secret) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(secret.expose().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => HmacSha256::new(&Default::default()),
    }
}

/// The `X-Connectors-Signature` value of `body` sent at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
///
/// ```
/// use connector_core::Secret;
/// use connector_sync::events::{sign, verify_signature_at};
/// let secret = Secret::new("whsec_test");
/// let body = br#"{"type":"job.finished"}"#;
/// let header = sign(&secret, 1_767_225_600, body);
/// assert!(header.starts_with("t=1767225600,v1="));
/// assert!(verify_signature_at(&secret, &header, body, 1_767_225_660, std::time::Duration::from_secs(300)).is_ok());
/// assert!(verify_signature_at(&Secret::new("other"), &header, body, 1_767_225_660, std::time::Duration::from_secs(300)).is_err());
/// ```
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex(&mac.finalize().into_bytes()))
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is not `t=<unix>,v1=<hex>[,v1=…]`.
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    /// The timestamp is further from now than the tolerance (a replay, or a clock off).
    #[error("the signature's timestamp is {0} s away from now, more than the tolerance")]
    OutsideTolerance(u64),
    /// No `v1` signature matches the body under this secret.
    #[error("no signature matches the body under this secret")]
    Mismatch,
}

/// Checks an `X-Connectors-Signature` header against the raw request `body` (the bytes as
/// received, before any JSON parsing) and the connector's signing `secret`, with the
/// receiver's clock and [`DEFAULT_TOLERANCE`]: what a Rust receiver calls.
///
/// # Errors
/// [`SignatureError`]: a malformed header, a timestamp too far from now, or no matching
/// signature (a wrong secret, or an altered body).
pub fn verify_signature(
    secret: &Secret,
    header: &str,
    body: &[u8],
) -> std::result::Result<(), SignatureError> {
    verify_signature_at(
        secret,
        header,
        body,
        Utc::now().timestamp(),
        DEFAULT_TOLERANCE,
    )
}

/// [`verify_signature`] at the time `now` (unix seconds) with `tolerance`. Several `v1`
/// entries (a secret being rotated) are accepted when any matches; the comparison is in
/// constant time.
///
/// # Errors
/// As [`verify_signature`].
pub fn verify_signature_at(
    secret: &Secret,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> std::result::Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(unhex(v).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let skew = now.abs_diff(timestamp);
    if skew > tolerance.as_secs() {
        return Err(SignatureError::OutsideTolerance(skew));
    }
    let mut expected = mac(secret);
    expected.update(timestamp.to_string().as_bytes());
    expected.update(b".");
    expected.update(body);
    if signatures
        .iter()
        .any(|s| expected.clone().verify_slice(s).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}
