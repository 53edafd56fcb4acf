//! How the connector gets Box's access tokens: a user's OAuth tokens (`box_tokens`, renewed
//! with the single-use refresh token), or the app's own, by Client Credentials Grant (CCG) or
//! by a JWT assertion signed with the app's private key (server authentication).
//!
//! - **CCG**: `POST /oauth2/token` with `grant_type=client_credentials`, `client_id`,
//!   `client_secret`, `box_subject_type` (`enterprise`: the app's service account; `user`: a
//!   managed user) and `box_subject_id`.
//! - **JWT**: `POST /oauth2/token` with
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `client_id`, `client_secret`
//!   and `assertion`: an RS256 JWT whose header names the app's public key (`kid`), and whose
//!   claims are `iss` (the client id), `sub` (the enterprise or user id), `box_sub_type`,
//!   `aud` (the token endpoint), a unique `jti` and `exp` 45 seconds ahead (Box takes at most
//!   60). It is signed anew for each token request.
//! - Either token is kept until a minute before the `expires_in` Box announces (an hour),
//!   or until Box answers 401, then got again; nothing rotates, so nothing is saved.

use std::time::{SystemTime, UNIX_EPOCH};

use connector_core::http::OAuthToken;
use connector_core::{Error, ErrorKind, FieldError, Secret};
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

use super::SOURCE;
use super::config::{BoxCredentials, BoxSubjectType};

/// The config field of Box's JWT app settings.
pub(crate) const JWT_FIELD: &str = "credentials.box_jwt_config";
/// The config field of the CCG client secret.
pub(crate) const CCG_SECRET_FIELD: &str = "credentials.box_client_secret";

/// How long a JWT assertion is valid: Box refuses more than 60 seconds, and a little less
/// leaves room for a clock that runs behind.
const ASSERTION_SECONDS: u64 = 45;

/// The app's way in, read from the credentials.
pub(crate) enum AppAuth {
    /// Client Credentials Grant.
    Ccg {
        client_id: String,
        client_secret: Secret,
        subject_type: BoxSubjectType,
        subject_id: String,
    },
    /// JWT server authentication.
    Jwt(Box<JwtApp>),
}

/// What a JWT assertion is made of.
pub(crate) struct JwtApp {
    client_id: String,
    client_secret: Secret,
    key_id: String,
    key: jsonwebtoken::EncodingKey,
    subject_type: BoxSubjectType,
    subject_id: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    box_sub_type: &'a str,
    aud: &'a str,
    jti: String,
    exp: u64,
}

impl JwtApp {
    /// The form of one token request, with an assertion signed now.
    fn form(&self, token_url: &str) -> connector_core::Result<Vec<(&'static str, String)>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = Claims {
            iss: &self.client_id,
            sub: &self.subject_id,
            box_sub_type: self.subject_type.as_str(),
            aud: token_url,
            jti: connector_core::ids::unique_id(),
            exp: now + ASSERTION_SECONDS,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            // The message names the failure, never the key.
            Error::new(
                ErrorKind::Config,
                format!("the JWT assertion could not be signed with the app's private key: {e}"),
            )
            .with_connector(SOURCE)
            .with_field(JWT_FIELD)
        })?;
        Ok(vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
            ),
            ("client_id", self.client_id.clone()),
            ("client_secret", self.client_secret.expose().to_owned()),
            ("assertion", assertion),
        ])
    }
}

impl AppAuth {
    /// The app auth the credentials configure, if any; every problem by field path.
    pub(crate) fn from_credentials(c: &BoxCredentials) -> Result<Option<Self>, Vec<FieldError>> {
        let mut problems = Vec::new();
        let subject = |problems: &mut Vec<FieldError>, fallback: Option<String>| match (
            &c.box_subject_type,
            &c.box_subject_id,
            fallback,
        ) {
            (Some(t), Some(id), _) => Some((*t, id.clone())),
            (None, Some(id), _) => Some((BoxSubjectType::Enterprise, id.clone())),
            (_, None, Some(enterprise)) => Some((BoxSubjectType::Enterprise, enterprise)),
            (_, None, None) => {
                problems.push(FieldError::new(
                        "credentials.box_subject_id",
                        "is needed: the id of the enterprise (Admin Console > Account & Billing) whose service account reads, or of the managed user (with `box_subject_type: user`)",
                    ));
                None
            }
        };
        if let Some(id) = &c.box_subject_id
            && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            problems.push(FieldError::new(
                "credentials.box_subject_id",
                "must be a Box enterprise or user id, digits only",
            ));
        }
        let auth = if let Some(jwt) = &c.box_jwt_config {
            if c.box_client_id.is_some() || c.box_client_secret.is_some() {
                problems.push(FieldError::new(
                    "credentials.box_client_id",
                    "is taken from `box_jwt_config` with JWT authentication; leave it out",
                ));
            }
            match parse_jwt_config(jwt.expose()) {
                Ok(parsed) => subject(&mut problems, parsed.enterprise_id.clone()).map(
                    |(subject_type, subject_id)| {
                        Self::Jwt(Box::new(JwtApp {
                            client_id: parsed.client_id,
                            client_secret: parsed.client_secret,
                            key_id: parsed.key_id,
                            key: parsed.key,
                            subject_type,
                            subject_id,
                        }))
                    },
                ),
                Err(messages) => {
                    problems.extend(messages.into_iter().map(|m| FieldError::new(JWT_FIELD, m)));
                    None
                }
            }
        } else if c.box_client_id.is_some() || c.box_client_secret.is_some() {
            let id = c.box_client_id.clone().filter(|i| !i.trim().is_empty());
            let secret = c.box_client_secret.clone().filter(|s| !s.is_empty());
            if id.is_none() {
                problems.push(FieldError::new(
                    "credentials.box_client_id",
                    "is needed with `box_client_secret` (Client Credentials Grant): the app's client id (Developer Console > Configuration)",
                ));
            }
            if secret.is_none() {
                problems.push(FieldError::new(
                    CCG_SECRET_FIELD,
                    "is needed with `box_client_id` (Client Credentials Grant): the app's client secret",
                ));
            }
            let subject = subject(&mut problems, None);
            match (id, secret, subject) {
                (Some(client_id), Some(client_secret), Some((subject_type, subject_id))) => {
                    Some(Self::Ccg {
                        client_id,
                        client_secret,
                        subject_type,
                        subject_id,
                    })
                }
                _ => None,
            }
        } else {
            if c.box_subject_id.is_some() || c.box_subject_type.is_some() {
                problems.push(FieldError::new(
                    "credentials.box_subject_id",
                    "names whom an app token acts for: it goes with `box_client_id` and `box_client_secret`, or with `box_jwt_config`",
                ));
            }
            None
        };
        if problems.is_empty() {
            Ok(auth)
        } else {
            Err(problems)
        }
    }

    /// The token this app auth gets from `token_url`.
    pub(crate) fn token(self, token_url: Url) -> OAuthToken {
        let aud = token_url.to_string();
        match self {
            Self::Ccg {
                client_id,
                client_secret,
                subject_type,
                subject_id,
            } => OAuthToken::app_grant(SOURCE, token_url, CCG_SECRET_FIELD, move || {
                Ok(vec![
                    ("grant_type", "client_credentials".to_owned()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.expose().to_owned()),
                    ("box_subject_type", subject_type.as_str().to_owned()),
                    ("box_subject_id", subject_id.clone()),
                ])
            }),
            Self::Jwt(app) => {
                OAuthToken::app_grant(SOURCE, token_url, JWT_FIELD, move || app.form(&aud))
            }
        }
    }
}

/// The plain PKCS#8 PEM (`BEGIN PRIVATE KEY`) of an encrypted one (`BEGIN ENCRYPTED
/// PRIVATE KEY`: PBES2 with PBKDF2 or scrypt, AES-CBC or 3DES), decrypted with
/// `passphrase`; else what is wrong, naming the field and never a value.
fn decrypt_pkcs8(
    pem: &str,
    passphrase: Option<&str>,
) -> Result<zeroize::Zeroizing<String>, String> {
    use pkcs8::der::pem::LineEnding;
    let Some(passphrase) = passphrase else {
        return Err("holds an encrypted private key but `boxAppSettings.appAuth.passphrase` is empty: put the key's passphrase there (as Box's config.json has it), or decrypt the key once (`openssl pkcs8 -in key.pem -out plain.pem`) and put the plain PEM in `boxAppSettings.appAuth.privateKey`".to_owned());
    };
    let (label, doc) = pkcs8::SecretDocument::from_pem(pem).map_err(|_| {
        "`boxAppSettings.appAuth.privateKey` is not a readable encrypted PKCS#8 PEM (BEGIN ENCRYPTED PRIVATE KEY)".to_owned()
    })?;
    if label != "ENCRYPTED PRIVATE KEY" {
        return Err(format!(
            "`boxAppSettings.appAuth.privateKey` is a PEM labelled {label}, not ENCRYPTED PRIVATE KEY"
        ));
    }
    let info = pkcs8::EncryptedPrivateKeyInfoOwned::try_from(doc.as_bytes()).map_err(|_| {
        "`boxAppSettings.appAuth.privateKey` is not an encrypted PKCS#8 key (its DER cannot be read)".to_owned()
    })?;
    // A wrong passphrase shows as a padding or decoding error of the decrypted bytes.
    let plain = info.decrypt(passphrase).map_err(|_| {
        "`boxAppSettings.appAuth.passphrase` does not decrypt `boxAppSettings.appAuth.privateKey` (a wrong passphrase, or a cipher other than PBES2 with AES-CBC or 3DES)".to_owned()
    })?;
    plain.to_pem("PRIVATE KEY", LineEnding::LF).map_err(|_| {
        "`boxAppSettings.appAuth.privateKey` decrypted to something that is not a key".to_owned()
    })
}

/// Box's app settings as its Developer Console downloads them (`config.json`).
struct ParsedJwt {
    client_id: String,
    client_secret: Secret,
    key_id: String,
    key: jsonwebtoken::EncodingKey,
    enterprise_id: Option<String>,
}

/// Reads Box's `config.json`: `boxAppSettings.clientID`, `.clientSecret`,
/// `.appAuth.publicKeyID`, `.appAuth.privateKey` (PEM), `.appAuth.passphrase`, and
/// `enterpriseID`. The messages never hold a value.
fn parse_jwt_config(json: &str) -> Result<ParsedJwt, Vec<String>> {
    let root: Map<String, Value> = match serde_json::from_str(json) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(vec!["must be a JSON object (Box's config.json)".to_owned()]),
        Err(e) => {
            return Err(vec![format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )]);
        }
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let settings = root.get("boxAppSettings");
    let app_auth = settings.and_then(|s| s.get("appAuth"));
    let mut problems = Vec::new();
    let mut need = |v: Option<String>, name: &str| {
        if v.is_none() {
            problems.push(format!("lacks `{name}`"));
        }
        v
    };
    let client_id = need(
        text(settings.and_then(|s| s.get("clientID"))),
        "boxAppSettings.clientID",
    );
    let client_secret = need(
        text(settings.and_then(|s| s.get("clientSecret"))),
        "boxAppSettings.clientSecret",
    );
    let key_id = need(
        text(app_auth.and_then(|a| a.get("publicKeyID"))),
        "boxAppSettings.appAuth.publicKeyID",
    );
    let pem = need(
        text(app_auth.and_then(|a| a.get("privateKey"))),
        "boxAppSettings.appAuth.privateKey",
    );
    // Box's config.json sends the enterprise id as a string, older ones as a number.
    let enterprise_id = match root.get("enterpriseID") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.trim() != "0" => {
            Some(s.trim().to_owned())
        }
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => Some(n.to_string()),
        _ => None,
    };
    let passphrase = app_auth
        .and_then(|a| a.get("passphrase"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let key = pem.as_deref().and_then(|pem| {
        if pem.contains("Proc-Type: 4,ENCRYPTED") {
            problems.push(
                "holds a private key in OpenSSL's legacy encrypted form (Proc-Type: 4,ENCRYPTED), which this connector does not decrypt: convert it once to encrypted PKCS#8 (`openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem`) or to a plain PEM, and put that in `boxAppSettings.appAuth.privateKey`".to_owned(),
            );
            return None;
        }
        // Box's Developer Console hands out the key encrypted (PKCS#8, PBES2), with its
        // passphrase beside it in the same file.
        let plain;
        let pem = if pem.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            match decrypt_pkcs8(pem, passphrase) {
                Ok(p) => {
                    plain = p;
                    plain.as_str()
                }
                Err(problem) => {
                    problems.push(problem);
                    return None;
                }
            }
        } else {
            pem
        };
        match jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()) {
            Ok(key) => Some(key),
            Err(_) => {
                problems.push(
                    "`boxAppSettings.appAuth.privateKey` is not an RSA private key in PEM (PKCS#8 BEGIN PRIVATE KEY or PKCS#1 BEGIN RSA PRIVATE KEY)".to_owned(),
                );
                None
            }
        }
    });
    match (client_id, client_secret, key_id, key) {
        (Some(client_id), Some(client_secret), Some(key_id), Some(key)) if problems.is_empty() => {
            Ok(ParsedJwt {
                client_id,
                client_secret: Secret::new(client_secret),
                key_id,
                key,
                enterprise_id,
            })
        }
        _ => Err(problems),
    }
}
