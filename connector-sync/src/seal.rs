//! Secrets at rest: the credential fields of stored configs, sealed with an AEAD.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use connector_core::{Error, ErrorKind, Result};
use serde_json::{Map, Value};

/// The environment variable holding the key: 32 bytes, base64.
pub const SECRET_KEY_ENV: &str = "CONNECTORS_SECRET_KEY";
/// The environment variable naming a file that holds the key (base64, as in the variable).
pub const SECRET_KEY_FILE_ENV: &str = "CONNECTORS_SECRET_KEY_FILE";

/// The JSON key of a sealed value in a stored config: `{"$sealed": "v1:KEYID:BASE64"}`.
pub const SEALED_KEY: &str = "$sealed";

/// Bytes of a ChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 12;

/// Seals and opens the secrets of stored configs with ChaCha20-Poly1305 (RustCrypto's
/// `chacha20poly1305`), under one 32-byte key.
///
/// A sealed value is `v1:KEYID:BASE64(nonce ‖ ciphertext ‖ tag)`, a fresh random nonce each
/// time; `KEYID` is 8 hex digits derived from the key (not the key), so that a value sealed
/// under another key is reported as such rather than as corrupt. Opening with the wrong key
/// is an error naming where this key came from; it never yields garbage (the tag fails).
///
/// ```
/// use connector_sync::Sealer;
/// let sealer = Sealer::from_base64(&Sealer::generate_key(), "a test key")?;
/// let sealed = sealer.seal("hunter2");
/// assert!(!sealed.contains("hunter2"));
/// assert_eq!(sealer.open(&sealed)?, "hunter2");
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    key_id: String,
    source: String,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.key_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The key from the environment: [`SECRET_KEY_ENV`] (base64), else the file
    /// [`SECRET_KEY_FILE_ENV`] names; `None` when neither is set.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the key is set but is not 32 bytes of base64, or its file
    /// cannot be read (naming the variable or file, never the key).
    pub fn from_env() -> Result<Option<Self>> {
        if let Ok(key) = std::env::var(SECRET_KEY_ENV) {
            return Self::from_base64(&key, &format!("${SECRET_KEY_ENV}")).map(Some);
        }
        match std::env::var_os(SECRET_KEY_FILE_ENV) {
            Some(path) => Self::from_key_file(Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }

    /// The key in the file at `path` (base64; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the file cannot be read or holds no valid key.
    pub fn from_key_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read the secret key file {}: {e}", path.display()),
            )
        })?;
        Self::from_base64(&text, &format!("key file {}", path.display()))
    }

    /// The key `base64` (32 bytes once decoded); `source` says where it came from, for
    /// errors (`$CONNECTORS_SECRET_KEY`, a file name).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when it is not base64 of exactly 32 bytes.
    pub fn from_base64(base64: &str, source: &str) -> Result<Self> {
        let bytes = B64.decode(base64.trim()).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!("the secret key from {source} is not base64 (expected 32 random bytes, base64: `openssl rand -base64 32`)"),
            )
        })?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "the secret key from {source} is {} bytes; it must be 32 (`openssl rand -base64 32`)",
                    b.len()
                ),
            )
        })?;
        Ok(Self::from_key(key, source))
    }

    /// The key `key`; `source` says where it came from, for errors.
    pub fn from_key(key: [u8; 32], source: &str) -> Self {
        // The id is a hash of the key under a fixed label: it tells keys apart, and 32 bits
        // of it say nothing useful about a 256-bit random key.
        let mut labelled = b"connector-sync key id v1".to_vec();
        labelled.extend_from_slice(&key);
        let key_id = format!("{:08x}", xxhash_rust::xxh3::xxh3_64(&labelled) >> 32);
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            key_id,
            source: source.to_owned(),
        }
    }

    /// A new random key, base64: what to put in [`SECRET_KEY_ENV`] or a key file.
    pub fn generate_key() -> String {
        B64.encode(ChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// The id sealed values carry (8 hex digits derived from the key).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Where the key came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Seals `plaintext` under a fresh nonce.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for inputs this size; should it
        // ever, an empty ciphertext would fail to open loudly rather than leak the plaintext.
        let sealed = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("v1:{}:{}", self.key_id, B64.encode(bytes))
    }

    /// Opens what [`seal`](Self::seal) made.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the value was sealed under another key (naming both key
    /// ids and where this key came from), or is not a sealed value, or fails its
    /// authentication (a wrong key, or altered data).
    pub fn open(&self, sealed: &str) -> Result<String> {
        let malformed = || {
            Error::new(
                ErrorKind::Config,
                "a stored secret is not a sealed value (`v1:KEYID:BASE64`): the database was \
                 altered",
            )
        };
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(key_id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if key_id != self.key_id {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "a stored secret was sealed with key {key_id}, but the key from {} is {}: \
                     set the key the connectors were saved with",
                    self.source, self.key_id
                ),
            ));
        }
        let bytes = B64.decode(data).map_err(|_| malformed())?;
        if bytes.len() < NONCE_LEN {
            return Err(malformed());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "a stored secret does not open with the key from {} (a wrong key, or \
                         altered data)",
                        self.source
                    ),
                )
            })?;
        String::from_utf8(plain).map_err(|_| malformed())
    }
}

/// The names of the properties `schema` marks `writeOnly` anywhere (the credential fields of
/// a config; core's `Secret` declares itself so).
pub(crate) fn secret_fields(schema: &Value) -> Vec<String> {
    fn walk(schema: &Value, out: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            return;
        }
        match schema {
            Value::Object(map) => {
                if let Some(properties) = map.get("properties").and_then(Value::as_object) {
                    for (name, property) in properties {
                        let write_only = property.get("writeOnly") == Some(&Value::Bool(true))
                            || refs_write_only(property);
                        if write_only && !out.contains(name) {
                            out.push(name.clone());
                        }
                    }
                }
                for value in map.values() {
                    walk(value, out, depth + 1);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out, depth + 1)),
            _ => {}
        }
    }
    // `Option<Secret>` is `anyOf: [{writeOnly…}, {null}]` or a `$ref` to a `writeOnly` def.
    fn refs_write_only(property: &Value) -> bool {
        ["anyOf", "oneOf", "allOf"].iter().any(|k| {
            property.get(*k).and_then(Value::as_array).is_some_and(|b| {
                b.iter()
                    .any(|s| s.get("writeOnly") == Some(&Value::Bool(true)))
            })
        })
    }
    let mut out = Vec::new();
    walk(schema, &mut out, 0);
    // A `$ref` to a definition marked `writeOnly`: every property pointing at it.
    if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
        let secret_defs: Vec<String> = defs
            .iter()
            .filter(|(_, d)| d.get("writeOnly") == Some(&Value::Bool(true)))
            .map(|(name, _)| format!("#/$defs/{name}"))
            .collect();
        if !secret_defs.is_empty() {
            collect_refs(schema, &secret_defs, &mut out, 0);
        }
    }
    out
}

fn collect_refs(schema: &Value, refs: &[String], out: &mut Vec<String>, depth: usize) {
    if depth > 64 {
        return;
    }
    match schema {
        Value::Object(map) => {
            if let Some(properties) = map.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    let text = property.to_string();
                    if refs.iter().any(|r| text.contains(r.as_str())) && !out.contains(name) {
                        out.push(name.clone());
                    }
                }
            }
            for value in map.values() {
                collect_refs(value, refs, out, depth + 1);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_refs(v, refs, out, depth + 1)),
        _ => {}
    }
}

/// What sealing a config did.
#[derive(Debug, Default)]
pub(crate) struct Sealed {
    /// How many values were sealed.
    pub(crate) count: usize,
}

/// Replaces the value of every `fields` key in `config` (at any depth) that holds something
/// (not `null`) by `{"$sealed": …}`, the value's JSON text sealed. Values already sealed stay.
///
/// # Errors
/// [`ErrorKind::Config`] when there is a value to seal and no key, naming how to give one.
pub(crate) fn seal_config(
    config: &mut Value,
    fields: &[String],
    sealer: Option<&Sealer>,
) -> Result<Sealed> {
    let mut sealed = Sealed::default();
    seal_walk(config, fields, sealer, &mut sealed, 0)?;
    Ok(sealed)
}

fn is_sealed(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.get(SEALED_KEY).is_some_and(Value::is_string))
}

fn seal_walk(
    value: &mut Value,
    fields: &[String],
    sealer: Option<&Sealer>,
    sealed: &mut Sealed,
    depth: usize,
) -> Result<()> {
    if depth > 64 {
        return Ok(());
    }
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if fields.contains(key) && !v.is_null() && !is_sealed(v) {
                    let Some(sealer) = sealer else {
                        return Err(Error::new(
                            ErrorKind::Config,
                            format!(
                                "the config holds a secret (`{key}`) and no key to encrypt it \
                                 with is set: set {SECRET_KEY_ENV} (32 random bytes, base64: \
                                 `openssl rand -base64 32`) or {SECRET_KEY_FILE_ENV}"
                            ),
                        )
                        .with_field(key.clone()));
                    };
                    *v = sealed_value(sealer, v);
                    sealed.count += 1;
                } else {
                    seal_walk(v, fields, sealer, sealed, depth + 1)?;
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                seal_walk(v, fields, sealer, sealed, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `{"$sealed": …}` holding `value`'s JSON text sealed, as [`seal_config`] writes a field.
pub(crate) fn sealed_value(sealer: &Sealer, value: &Value) -> Value {
    let mut wrapped = Map::new();
    wrapped.insert(
        SEALED_KEY.to_owned(),
        Value::String(sealer.seal(&value.to_string())),
    );
    Value::Object(wrapped)
}

/// Opens every `{"$sealed": …}` in `config`, back to the value that was sealed.
///
/// # Errors
/// [`ErrorKind::Config`] when there is a sealed value and no key, or it does not open.
pub(crate) fn open_config(config: &mut Value, sealer: Option<&Sealer>) -> Result<()> {
    open_walk(config, sealer, 0)
}

fn open_walk(value: &mut Value, sealer: Option<&Sealer>, depth: usize) -> Result<()> {
    if depth > 64 {
        return Ok(());
    }
    if is_sealed(value) {
        let text = value.get(SEALED_KEY).and_then(Value::as_str).unwrap_or("");
        let Some(sealer) = sealer else {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the stored config holds encrypted secrets and no key is set: set \
                     {SECRET_KEY_ENV} or {SECRET_KEY_FILE_ENV} to the key it was saved with"
                ),
            ));
        };
        let json = sealer.open(text)?;
        *value = serde_json::from_str(&json).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "a stored secret opened to something that is not JSON: the database was altered",
            )
        })?;
        return Ok(());
    }
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                open_walk(v, sealer, depth + 1)?;
            }
        }
        Value::Array(items) => {
            for v in items {
                open_walk(v, sealer, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces every `{"$sealed": …}` in `config` by `"***"`: the config as a listing shows it.
pub(crate) fn mask_config(value: &mut Value) {
    if is_sealed(value) {
        *value = Value::String("***".to_owned());
        return;
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(mask_config),
        Value::Array(items) => items.iter_mut().for_each(mask_config),
        _ => {}
    }
}

/// Where `update` gives `"***"` for a secret (what a listing showed), the stored sealed value
/// is kept: the caller did not change it.
pub(crate) fn keep_masked(new: &mut Value, old: &Value, fields: &[String], depth: usize) {
    if depth > 64 {
        return;
    }
    match (new, old) {
        (Value::Object(new), Value::Object(old)) => {
            for (key, v) in new.iter_mut() {
                let Some(previous) = old.get(key) else {
                    continue;
                };
                if fields.contains(key) && v.as_str() == Some("***") && is_sealed(previous) {
                    *v = previous.clone();
                } else {
                    keep_masked(v, previous, fields, depth + 1);
                }
            }
        }
        (Value::Array(new), Value::Array(old)) => {
            for (v, previous) in new.iter_mut().zip(old) {
                keep_masked(v, previous, fields, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sealer(source: &str) -> Sealer {
        match Sealer::from_base64(&Sealer::generate_key(), source) {
            Ok(s) => s,
            Err(e) => panic!("a generated key: {e}"),
        }
    }

    #[test]
    fn a_value_round_trips_and_each_seal_differs() {
        let s = sealer("test");
        let a = s.seal("p@ss");
        let b = s.seal("p@ss");
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(s.open(&a).ok().as_deref(), Some("p@ss"));
    }

    #[test]
    fn a_wrong_key_is_a_clear_error_naming_its_source() {
        let right = sealer("$CONNECTORS_SECRET_KEY");
        let wrong = sealer("key file /etc/other.key");
        let sealed = right.seal("secret");
        let err = wrong
            .open(&sealed)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("key file /etc/other.key"), "{err}");
        assert!(err.contains(right.key_id()), "{err}");
        // Same key id (forged) but another key: the tag fails, never garbage.
        let forged = sealed.replacen(right.key_id(), wrong.key_id(), 1);
        let err = wrong
            .open(&forged)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("does not open with the key from key file"),
            "{err}"
        );
    }

    #[test]
    fn a_key_file_names_itself_in_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("connectors.key");
        let written = std::fs::write(&path, format!("{}\n", Sealer::generate_key()));
        assert!(written.is_ok());
        let from_file = Sealer::from_key_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let other = sealer("$CONNECTORS_SECRET_KEY");
        let err = from_file
            .open(&other.seal("x"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("connectors.key"), "{err}");
        let missing = Sealer::from_key_file(&dir.path().join("nope")).err();
        assert!(missing.is_some_and(|e| e.to_string().contains("nope")));
    }

    #[test]
    fn bad_keys_are_config_errors() {
        assert!(Sealer::from_base64("not base64!", "x").is_err());
        assert!(Sealer::from_base64("AAAA", "x").is_err());
    }

    #[test]
    fn configs_seal_open_and_mask() {
        let schema = json!({
            "properties": {
                "user": { "type": "string" },
                "token": { "type": "string", "writeOnly": true },
                "nested": { "$ref": "#/$defs/N" },
                "maybe": { "anyOf": [{ "type": "string", "writeOnly": true }, { "type": "null" }] }
            },
            "$defs": { "N": { "properties": { "password": { "writeOnly": true } } } }
        });
        let mut fields = secret_fields(&schema);
        fields.sort();
        assert_eq!(fields, ["maybe", "password", "token"]);
        let s = sealer("test");
        let original = json!({
            "user": "ann", "token": "t0ken-123", "maybe": null,
            "nested": { "password": "pw-456" }
        });
        let mut config = original.clone();
        let sealed = seal_config(&mut config, &fields, Some(&s));
        assert_eq!(sealed.ok().map(|s| s.count), Some(2));
        let text = config.to_string();
        assert!(
            !text.contains("t0ken-123") && !text.contains("pw-456"),
            "{text}"
        );
        let mut masked = config.clone();
        mask_config(&mut masked);
        assert_eq!(masked["token"], "***");
        let mut opened = config.clone();
        assert!(open_config(&mut opened, Some(&s)).is_ok());
        assert_eq!(opened, original);
        // Without a key: sealing a secret and opening one are both clear errors.
        let mut plain = original;
        let err = seal_config(&mut plain, &fields, None)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains(SECRET_KEY_ENV)));
        let err = open_config(&mut config, None).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains(SECRET_KEY_ENV)));
    }
}
