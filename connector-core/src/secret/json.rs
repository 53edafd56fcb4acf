//! [`SecretJson`]: a credential that is a whole JSON document (a service-account key, an
//! OAuth flow's stored tokens, an app's downloaded `config.json`).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::Secret;

/// What a config's JSON Schema says of one kind of [`SecretJson`]: a schema name, a
/// description (which keys the JSON holds and where it comes from) and an example.
pub trait SecretJsonSchema {
    /// The schema's name (the Rust type's name, say `"BoxTokens"`).
    const NAME: &'static str;
    /// What the JSON holds, for the person filling in the config.
    const DESCRIPTION: &'static str;
    /// An example value, its secrets elided (`"…"`); none by default.
    const EXAMPLE: Option<&'static str> = None;
}

/// A credential that is a JSON document, accepted as a JSON object or as a string holding one
/// (RAGFlow stores such fields as strings), and kept whole as a [`Secret`]: `Debug` prints
/// `***`, serialising gives `***`, a value that is neither an object nor a string is refused
/// without echoing it, and the schema marks it `writeOnly`. `S` names and describes it.
///
/// ```
/// use connector_core::secret::{SecretJson, SecretJsonSchema};
///
/// struct ServiceKey;
/// impl SecretJsonSchema for ServiceKey {
///     const NAME: &'static str = "ServiceKey";
///     const DESCRIPTION: &'static str = "The service's key file, as downloaded.";
/// }
///
/// let key: SecretJson<ServiceKey> =
///     serde_json::from_value(serde_json::json!({ "client_id": "app-1", "private_key": "k" }))
///         .unwrap();
/// assert_eq!(format!("{key:?}"), "***");
/// assert_eq!(key.object().unwrap()["client_id"], "app-1");
/// let err = serde_json::from_value::<SecretJson<ServiceKey>>(serde_json::json!(42)).unwrap_err();
/// assert!(err.to_string().contains("JSON object or a string"));
/// ```
pub struct SecretJson<S> {
    secret: Secret,
    schema: PhantomData<fn() -> S>,
}

impl<S> SecretJson<S> {
    /// Wraps the JSON text.
    pub fn new(json: impl Into<String>) -> Self {
        Self {
            secret: Secret::new(json),
            schema: PhantomData,
        }
    }

    /// The JSON text, as a [`Secret`].
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The JSON text.
    pub fn expose(&self) -> &str {
        self.secret.expose()
    }

    /// The JSON object. The error says what is wrong (not an object, or where the JSON breaks)
    /// without any of the value.
    ///
    /// # Errors
    /// Text that is not JSON, or JSON that is not an object.
    pub fn object(&self) -> Result<Map<String, Value>, String> {
        match serde_json::from_str::<Value>(self.secret.expose()) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("must be a JSON object".to_owned()),
            Err(e) => Err(format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )),
        }
    }
}

impl<S> Clone for SecretJson<S> {
    fn clone(&self) -> Self {
        Self {
            secret: self.secret.clone(),
            schema: PhantomData,
        }
    }
}

impl<S> PartialEq for SecretJson<S> {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl<S> fmt::Debug for SecretJson<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(super::REDACTED)
    }
}

impl<S> Serialize for SecretJson<S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.secret.serialize(serializer)
    }
}

impl<'de, S> Deserialize<'de> for SecretJson<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Never echo the value in an error: it holds keys and tokens.
        match Value::deserialize(deserializer) {
            Ok(Value::String(s)) => Ok(Self::new(s)),
            Ok(v @ Value::Object(_)) => Ok(Self::new(v.to_string())),
            _ => Err(serde::de::Error::custom(
                "must be a JSON object or a string holding one",
            )),
        }
    }
}

impl<S: SecretJsonSchema> JsonSchema for SecretJson<S> {
    fn schema_name() -> Cow<'static, str> {
        S::NAME.into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut schema = json_schema!({
            "description": S::DESCRIPTION,
            "anyOf": [{ "type": "object" }, { "type": "string" }],
            "writeOnly": true
        });
        if let Some(example) = S::EXAMPLE {
            schema.insert("examples".to_owned(), serde_json::json!([example]));
        }
        schema
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Doc;
    impl SecretJsonSchema for Doc {
        const NAME: &'static str = "Doc";
        const DESCRIPTION: &'static str = "A key.";
        const EXAMPLE: Option<&'static str> = Some(r#"{"key": "…"}"#);
    }

    #[test]
    fn a_string_and_an_object_are_the_same_secret_and_neither_is_shown() {
        let text = r#"{"refresh_token":"canary-5b0e1c77"}"#;
        let from_string: SecretJson<Doc> =
            serde_json::from_value(Value::String(text.into())).unwrap_or_else(|e| panic!("{e}"));
        let from_object: SecretJson<Doc> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_string, from_object);
        assert_eq!(from_string.expose(), text);
        assert_eq!(format!("{from_object:?}"), "***");
        let out = serde_json::to_string(&from_object).unwrap_or_default();
        assert!(!out.contains("canary"), "{out}");
    }

    #[test]
    fn what_is_wrong_is_said_without_the_value() {
        let bad = SecretJson::<Doc>::new("[\"canary-5b0e1c77\"]");
        assert_eq!(bad.object().unwrap_err(), "must be a JSON object");
        let broken = SecretJson::<Doc>::new("{\"canary-5b0e1c77\": ");
        let err = broken.object().unwrap_err();
        assert!(err.starts_with("is not valid JSON"), "{err}");
        assert!(!err.contains("canary"), "{err}");
    }

    #[test]
    fn the_schema_is_write_only_and_carries_the_description_and_example() {
        let schema = schemars::schema_for!(SecretJson<Doc>);
        let json = schema.as_value();
        assert_eq!(json["description"], "A key.");
        assert_eq!(json["writeOnly"], true);
        assert_eq!(json["examples"][0], r#"{"key": "…"}"#);
    }
}
