//! [`Secret`]: a credential that never shows up in `Debug`, `Display`, logs or serialised output,
//! and [`redact`]: the one place text leaving the process loses every live secret.
//!
//! Hiding a secret's own `Debug` is not enough: a service that echoes the request (a token
//! endpoint quoting the refresh token, an API repeating its `?api_key=`) puts the value into an
//! error message, a log line, a next-page URL stored in a checkpoint. So every `Secret` is also
//! known to a process-wide redactor while it lives, and [`redact`] replaces each of them (as
//! written, percent-encoded and JSON-escaped) with `***`. Errors and item failures are
//! redacted when they are made and when they are shown, checkpoints and run records before they
//! are stored, and the CLI's log lines before they are written.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use aho_corasick::AhoCorasick;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod json;

pub use json::{SecretJson, SecretJsonSchema};

/// Values shorter than this are not redacted from text: a three-letter "secret" would blank
/// out ordinary words. (They are still hidden from `Debug` and `Display`.)
pub const MIN_REDACTED_LEN: usize = 6;

/// What [`redact`] writes in place of a secret.
pub const REDACTED: &str = "***";

/// A credential (password, API token, private key).
///
/// `Debug`, `Display` and `Serialize` print `***`; the value is zeroed when dropped. Read it
/// with [`Secret::expose`] at the one place it is sent to the service. While any clone of it
/// lives, [`redact`] removes it from text.
#[derive(Clone)]
pub struct Secret(Arc<Registered>);

/// A secret's value, known to the redactor until the last clone is dropped.
struct Registered {
    value: SecretString,
    key: Option<u64>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            REDACTOR.forget(key);
        }
    }
}

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        let key = REDACTOR.learn(&value);
        Self(Arc::new(Registered {
            value: SecretString::from(value),
            key,
        }))
    }

    /// The credential itself. Call this only where it is handed to the service.
    pub fn expose(&self) -> &str {
        self.0.value.expose_secret()
    }

    /// Whether the credential is the empty string.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

/// `text` without any live [`Secret`]'s value (nor its percent-encoded or JSON-escaped form),
/// each replaced by [`REDACTED`]. Borrowed, and cheap, when there is nothing to replace.
///
/// ```
/// use connector_core::secret::{Secret, redact};
/// let token = Secret::new("tok-5f2a9c81");
/// assert_eq!(redact("GET /items?api_key=tok-5f2a9c81 failed"), "GET /items?api_key=*** failed");
/// drop(token);
/// assert_eq!(redact("tok-5f2a9c81"), "tok-5f2a9c81");
/// ```
pub fn redact(text: &str) -> Cow<'_, str> {
    REDACTOR.redact(text)
}

/// A writer that [`redact`]s what passes through it, for log output: a tracing subscriber
/// writes each event in one call, so a secret is never split between two.
///
/// ```
/// use std::io::Write;
/// use connector_core::secret::{RedactingWriter, Secret};
/// let key = Secret::new("sk-live-90ab12cd");
/// let mut out = RedactingWriter::new(Vec::new());
/// writeln!(out, "GET /v1/items?key=sk-live-90ab12cd -> 401")?;
/// assert_eq!(String::from_utf8(out.into_inner()).unwrap(), "GET /v1/items?key=*** -> 401\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RedactingWriter<W>(W);

impl<W> RedactingWriter<W> {
    /// Redacts what is written to `inner`.
    pub fn new(inner: W) -> Self {
        Self(inner)
    }

    /// The writer inside.
    pub fn into_inner(self) -> W {
        self.0
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(redact(text).as_bytes())?,
            Err(_) => self
                .0
                .write_all(redact(&String::from_utf8_lossy(buf)).as_bytes())?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The live secrets, counted (equal secrets made separately share an entry), and the matcher
/// built from them, rebuilt when they change.
struct Redactor {
    secrets: RwLock<HashMap<u64, (SecretString, usize)>>,
    generation: AtomicU64,
    matcher: RwLock<Option<(u64, Arc<AhoCorasick>)>>,
}

static REDACTOR: LazyLock<Redactor> = LazyLock::new(|| Redactor {
    secrets: RwLock::new(HashMap::new()),
    generation: AtomicU64::new(0),
    matcher: RwLock::new(None),
});

impl Redactor {
    fn learn(&self, value: &str) -> Option<u64> {
        if value.trim().chars().count() < MIN_REDACTED_LEN {
            return None;
        }
        let key = xxhash_rust::xxh3::xxh3_64(value.as_bytes());
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        secrets
            .entry(key)
            .and_modify(|(_, count)| *count += 1)
            .or_insert_with(|| (SecretString::from(value.to_owned()), 1));
        self.generation.fetch_add(1, Ordering::SeqCst);
        Some(key)
    }

    fn forget(&self, key: u64) {
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        if let Some((_, count)) = secrets.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                secrets.remove(&key);
            }
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn matcher(&self) -> Option<Arc<AhoCorasick>> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((built, matcher)) = &*self.matcher.read().unwrap_or_else(|e| e.into_inner())
            && *built == generation
        {
            return Some(Arc::clone(matcher));
        }
        let patterns: Vec<String> = {
            let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
            let mut patterns = Vec::with_capacity(secrets.len() * 3);
            for (value, _) in secrets.values() {
                let value = value.expose_secret();
                let encoded: String =
                    url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
                let json = serde_json::to_string(value).unwrap_or_default();
                let json = json.trim_matches('"').to_owned();
                patterns.push(value.to_owned());
                for form in [encoded, json, value.replace('+', "%2B").replace('/', "%2F")] {
                    if form != value {
                        patterns.push(form);
                    }
                }
            }
            patterns
        };
        if patterns.is_empty() {
            *self.matcher.write().unwrap_or_else(|e| e.into_inner()) = None;
            return None;
        }
        // Longest first, so a secret containing another is replaced whole.
        let matcher = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok()
            .map(Arc::new)?;
        *self.matcher.write().unwrap_or_else(|e| e.into_inner()) =
            Some((generation, Arc::clone(&matcher)));
        Some(matcher)
    }

    fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let has_secrets = !self
            .secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if !has_secrets || text.len() < MIN_REDACTED_LEN {
            return Cow::Borrowed(text);
        }
        let Some(matcher) = self.matcher() else {
            return Cow::Borrowed(text);
        };
        if matcher.find(text).is_none() {
            return Cow::Borrowed(text);
        }
        let replacements = vec![REDACTED; matcher.patterns_len()];
        Cow::Owned(matcher.replace_all(text, &replacements))
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "writeOnly": true })
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_secrets_are_redacted_in_every_form_until_dropped() {
        let key = Secret::new("k3y/with+chars&\"quote\"");
        let text = format!(
            "raw {} url {} json {}",
            key.expose(),
            url::form_urlencoded::byte_serialize(key.expose().as_bytes()).collect::<String>(),
            serde_json::to_string(key.expose()).unwrap()
        );
        let out = redact(&text);
        assert!(!out.contains("k3y"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 3, "{out}");
        // A clone keeps it known; the last drop forgets it.
        let clone = key.clone();
        drop(key);
        assert!(!redact("k3y/with+chars&\"quote\"").contains("k3y"));
        drop(clone);
        assert!(redact("k3y/with+chars&\"quote\"").contains("k3y"));
        // Short values would blank out words.
        let short = Secret::new("abc");
        assert_eq!(redact("abcdef abc"), "abcdef abc");
        drop(short);
    }

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        let back: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(back.expose(), "hunter2");
    }
}
