//! Authorising Blob service requests: Shared Key (Microsoft's documented "Authorize with
//! Shared Key" algorithm, for service version 2015-02-21 and later), a SAS appended to the
//! query, and the connection strings that carry either.
//!
//! Shared Key signs `VERB`, twelve standard headers (empty here but `Content-Length` of a
//! body, which no request of this connector has), the `x-ms-*` headers (lower-cased, sorted,
//! `name:value`), and the canonicalized resource: `/{account}{path as sent}` then every query
//! parameter on its own line, `name:value` with the name lower-cased, the value decoded,
//! sorted by name (several values of one name joined by `,`). The signature is the base64 of
//! HMAC-SHA256 over that string, keyed with the base64-decoded account key.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use connector_core::Secret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use url::Url;

use super::config::{DEFAULT_ENDPOINT_SUFFIX, Signer};

/// The `x-ms-version` every request sends: supported by the public cloud and Azurite 3.x.
pub const API_VERSION: &str = "2021-08-06";

/// The development storage account of the emulator, as `UseDevelopmentStorage=true` means.
const DEV_ACCOUNT: &str = "devstoreaccount1";
/// The emulator's published, well-known key (not a secret: it is in Microsoft's docs).
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An account name and its key, decoded once.
#[derive(Clone)]
pub(crate) struct SharedKey {
    account: String,
    /// The base64 text as given, kept so that [`redact`](connector_core::secret::redact)
    /// knows it while the connector lives.
    _given: Secret,
    /// The key bytes, as base64 of themselves in a `Secret`: never printed.
    key: Secret,
}

impl SharedKey {
    /// The key of `account`, base64 as the portal shows it.
    ///
    /// # Errors
    /// What is wrong with the key, without the key.
    pub(crate) fn new(account: &str, key_base64: &str) -> Result<Self, String> {
        let trimmed = key_base64.trim();
        let bytes = STANDARD
            .decode(trimmed)
            .map_err(|_| "is not base64 (copy the key from the portal's Access keys)".to_owned())?;
        if bytes.is_empty() {
            return Err("is empty".to_owned());
        }
        Ok(Self {
            account: account.to_owned(),
            _given: Secret::new(trimmed),
            key: Secret::new(STANDARD.encode(&bytes)),
        })
    }

    /// The account name.
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// `SharedKey {account}:{signature}` for `string_to_sign`.
    pub(crate) fn authorization(&self, string_to_sign: &str) -> Secret {
        Secret::new(format!(
            "SharedKey {}:{}",
            self.account,
            self.signature(string_to_sign)
        ))
    }

    /// base64(HMAC-SHA256(key, `string_to_sign`)).
    pub(crate) fn signature(&self, string_to_sign: &str) -> String {
        hmac_base64(&self.key_bytes(), string_to_sign)
    }

    fn key_bytes(&self) -> Vec<u8> {
        // It decoded when made; re-encoding keeps it valid base64.
        STANDARD.decode(self.key.expose()).unwrap_or_default()
    }
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKey")
            .field("account", &self.account)
            .field("key", &"***")
            .finish()
    }
}

/// base64(HMAC-SHA256(`key`, `message`)).
pub(crate) fn hmac_base64(key: &[u8], message: &str) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A shared access signature: query parameters appended to every request's URL.
#[derive(Clone)]
pub(crate) struct SasToken {
    /// Without a leading `?`.
    query: Secret,
    /// The `sig` value alone, decoded and as given, so that text quoting only it is redacted.
    _sig: Vec<Secret>,
}

impl SasToken {
    /// A SAS as given (with or without the leading `?`).
    ///
    /// # Errors
    /// What is wrong with it, without its value.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let query = raw.trim().trim_start_matches('?').to_owned();
        let mut sig = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if name == "sig" && !value.is_empty() {
                sig.push(Secret::new(value.into_owned()));
            }
        }
        if let Some(raw_sig) = query
            .split('&')
            .find_map(|p| p.strip_prefix("sig="))
            .filter(|s| !s.is_empty())
        {
            sig.push(Secret::new(raw_sig));
        }
        if sig.is_empty() {
            return Err("is no shared access signature (it has no `sig=` parameter)".to_owned());
        }
        Ok(Self {
            query: Secret::new(query),
            _sig: sig,
        })
    }

    /// `url` with the SAS appended to its query.
    pub(crate) fn apply(&self, url: &mut Url) {
        let query = match url.query().filter(|q| !q.is_empty()) {
            Some(q) => format!("{q}&{}", self.query.expose()),
            None => self.query.expose().to_owned(),
        };
        url.set_query(Some(&query));
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SasToken(***)")
    }
}

/// What a connection string says: the account's blob endpoint and how to sign.
pub(crate) struct ConnectionString {
    pub(crate) blob_endpoint: Url,
    pub(crate) signer: Signer,
}

impl ConnectionString {
    /// Parses `Key=Value;…` (keys case-insensitive, values may hold `=`).
    ///
    /// # Errors
    /// What is missing or wrong, naming the key but never a value.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for part in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(
                    "is not a connection string: each part is Key=Value, separated by `;`"
                        .to_owned(),
                );
            };
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
        let get = |k: &str| fields.get(k).map(String::as_str).filter(|v| !v.is_empty());
        if get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            let proxy = get("developmentstorageproxyuri").unwrap_or("http://127.0.0.1:10000");
            let endpoint = Url::parse(&format!("{}/{DEV_ACCOUNT}", proxy.trim_end_matches('/')))
                .map_err(|_| "has a DevelopmentStorageProxyUri that is not a URL".to_owned())?;
            return Ok(Self {
                blob_endpoint: endpoint,
                signer: Signer::SharedKey(SharedKey::new(DEV_ACCOUNT, DEV_KEY)?),
            });
        }
        let account = get("accountname");
        let endpoint = match get("blobendpoint") {
            Some(e) => Url::parse(e)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| "has a BlobEndpoint that is not an http(s) URL".to_owned())?,
            None => {
                let Some(account) = account else {
                    return Err("has neither AccountName nor BlobEndpoint".to_owned());
                };
                let protocol = get("defaultendpointsprotocol").unwrap_or("https");
                if !matches!(protocol, "http" | "https") {
                    return Err(
                        "has a DefaultEndpointsProtocol other than http or https".to_owned()
                    );
                }
                let suffix = get("endpointsuffix").unwrap_or(DEFAULT_ENDPOINT_SUFFIX);
                Url::parse(&format!("{protocol}://{account}.blob.{suffix}")).map_err(|_| {
                    "has an AccountName or EndpointSuffix that makes no URL".to_owned()
                })?
            }
        };
        let signer = match (get("accountkey"), get("sharedaccesssignature")) {
            (Some(key), _) => {
                let Some(account) = account else {
                    return Err("has an AccountKey but no AccountName".to_owned());
                };
                Signer::SharedKey(
                    SharedKey::new(account, key)
                        .map_err(|m| format!("has an AccountKey that {m}"))?,
                )
            }
            (None, Some(sas)) => Signer::Sas(
                SasToken::parse(sas)
                    .map_err(|m| format!("has a SharedAccessSignature that {m}"))?,
            ),
            (None, None) => {
                return Err(
                    "has neither AccountKey nor SharedAccessSignature (anonymous access is not supported)"
                        .to_owned(),
                );
            }
        };
        Ok(Self {
            blob_endpoint: endpoint,
            signer,
        })
    }
}

/// The standard headers Shared Key signs, in order; `Content-Length` is empty when zero.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct StandardHeaders<'a> {
    pub(crate) content_encoding: &'a str,
    pub(crate) content_language: &'a str,
    pub(crate) content_length: &'a str,
    pub(crate) content_md5: &'a str,
    pub(crate) content_type: &'a str,
    pub(crate) date: &'a str,
    pub(crate) if_modified_since: &'a str,
    pub(crate) if_match: &'a str,
    pub(crate) if_none_match: &'a str,
    pub(crate) if_unmodified_since: &'a str,
    pub(crate) range: &'a str,
}

/// The Shared Key string to sign for a request.
pub(crate) fn string_to_sign(
    verb: &str,
    standard: &StandardHeaders<'_>,
    ms_headers: &[(&str, &str)],
    account: &str,
    url: &Url,
) -> String {
    let s = standard;
    let length = if s.content_length == "0" {
        ""
    } else {
        s.content_length
    };
    let mut out = String::with_capacity(256);
    for part in [
        verb,
        s.content_encoding,
        s.content_language,
        length,
        s.content_md5,
        s.content_type,
        s.date,
        s.if_modified_since,
        s.if_match,
        s.if_none_match,
        s.if_unmodified_since,
        s.range,
    ] {
        out.push_str(part);
        out.push('\n');
    }
    out.push_str(&canonicalized_headers(ms_headers));
    out.push_str(&canonicalized_resource(account, url));
    out
}

/// `x-ms-*` headers, lower-cased, sorted, `name:value\n` each (whitespace runs in a value
/// folded to one space, as the documented algorithm asks).
pub(crate) fn canonicalized_headers(headers: &[(&str, &str)]) -> String {
    let mut list: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .filter(|(n, _)| n.starts_with("x-ms-"))
        .map(|(n, v)| (n, v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    list.sort();
    let mut out = String::new();
    for (n, v) in list {
        out.push_str(&n);
        out.push(':');
        out.push_str(&v);
        out.push('\n');
    }
    out
}

/// `/{account}{encoded path}` and the query parameters, `\nname:value` each, sorted, names
/// lower-cased, values decoded, several values of a name sorted and joined by `,`.
pub(crate) fn canonicalized_resource(account: &str, url: &Url) -> String {
    let mut out = format!("/{account}{}", url.path());
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url.query_pairs() {
        params
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.into_owned());
    }
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples of Microsoft's "Authorize with Shared Key" page (Blob service).

    #[test]
    fn canonicalized_resource_matches_the_documented_examples() {
        let url = Url::parse(
            "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata",
        )
        .unwrap();
        assert_eq!(
            canonicalized_resource("myaccount", &url),
            "/myaccount/mycontainer\ncomp:metadata\nrestype:container"
        );
        let url = Url::parse(
            "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list&include=snapshots&include=metadata&include=uncommittedblobs",
        )
        .unwrap();
        assert_eq!(
            canonicalized_resource("myaccount", &url),
            "/myaccount/mycontainer\ncomp:list\ninclude:metadata,snapshots,uncommittedblobs\nrestype:container"
        );
        // The emulator's path-style URLs name the account twice.
        let url =
            Url::parse("http://127.0.0.1:10000/devstoreaccount1/mycontainer/a%20b.txt").unwrap();
        assert_eq!(
            canonicalized_resource("devstoreaccount1", &url),
            "/devstoreaccount1/devstoreaccount1/mycontainer/a%20b.txt"
        );
        // Names are lower-cased and values decoded.
        let url = Url::parse("https://a.blob.core.windows.net/c?Prefix=x%2Fy&marker=").unwrap();
        assert_eq!(
            canonicalized_resource("a", &url),
            "/a/c\nmarker:\nprefix:x/y"
        );
    }

    #[test]
    fn canonicalized_headers_match_the_documented_example() {
        let headers = [
            ("x-ms-version", "2009-09-19"),
            ("Content-Type", "text/plain"),
            ("x-ms-date", "Sun, 11 Oct 2009 21:49:13 GMT"),
            ("x-ms-meta-m1", "  v1   v2 "),
        ];
        assert_eq!(
            canonicalized_headers(&headers),
            "x-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-meta-m1:v1 v2\nx-ms-version:2009-09-19\n"
        );
    }

    #[test]
    fn string_to_sign_matches_the_documented_layout() {
        // The documented Get Container Metadata example (2009-09-19 layout is the same for
        // a request without a body).
        let url = Url::parse(
            "http://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata&timeout=20",
        )
        .unwrap();
        let s = string_to_sign(
            "GET",
            &StandardHeaders::default(),
            &[
                ("x-ms-date", "Sun, 11 Oct 2009 21:49:13 GMT"),
                ("x-ms-version", "2009-09-19"),
            ],
            "myaccount",
            &url,
        );
        assert_eq!(
            s,
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-version:2009-09-19\n/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20"
        );
        // A zero Content-Length is signed as empty (version 2015-02-21 and later).
        let zero = StandardHeaders {
            content_length: "0",
            ..StandardHeaders::default()
        };
        assert_eq!(
            string_to_sign("PUT", &zero, &[], "a", &url),
            string_to_sign("PUT", &StandardHeaders::default(), &[], "a", &url)
        );
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2 (key "Jefe"), base64 of the documented hex digest.
        let sig = hmac_base64(b"Jefe", "what do ya want for nothing?");
        assert_eq!(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        let key = SharedKey::new("a", &STANDARD.encode(b"Jefe")).unwrap();
        assert_eq!(key.signature("what do ya want for nothing?"), sig);
        assert_eq!(
            key.authorization("what do ya want for nothing?").expose(),
            format!("SharedKey a:{sig}")
        );
        assert!(!format!("{key:?}").contains("SmVmZQ"));
    }

    #[test]
    fn connection_strings() {
        let cs = ConnectionString::parse(&format!(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={DEV_KEY};EndpointSuffix=core.chinacloudapi.cn"
        ))
        .unwrap();
        assert_eq!(
            cs.blob_endpoint.as_str(),
            "https://acct.blob.core.chinacloudapi.cn/"
        );
        assert!(matches!(cs.signer, Signer::SharedKey(ref k) if k.account() == "acct"));
        let cs = ConnectionString::parse(
            "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=2021-08-06&sig=abcdef",
        )
        .unwrap();
        assert_eq!(
            cs.blob_endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert!(matches!(cs.signer, Signer::Sas(_)));
        let dev = ConnectionString::parse("UseDevelopmentStorage=true").unwrap();
        assert_eq!(
            dev.blob_endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        for (bad, says) in [
            ("nonsense", "Key=Value"),
            ("AccountName=a", "neither AccountKey"),
            ("BlobEndpoint=http://x;AccountKey=abcd", "no AccountName"),
            ("AccountName=a;AccountKey=!!!", "not base64"),
            (
                "BlobEndpoint=ftp://x;AccountName=a;AccountKey=abcd",
                "http(s)",
            ),
        ] {
            let Err(e) = ConnectionString::parse(bad) else {
                panic!("{bad} parsed");
            };
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains("!!!") && !e.contains("abcd"), "{e}");
        }
    }

    #[test]
    fn sas_is_appended_as_given() {
        let sas = SasToken::parse("?sv=2021-08-06&sp=rl&sig=abXYZ%2Bc%3D").unwrap();
        let mut url = Url::parse("https://a.blob.core.windows.net/c?restype=container").unwrap();
        sas.apply(&mut url);
        assert_eq!(
            url.query(),
            Some("restype=container&sv=2021-08-06&sp=rl&sig=abXYZ%2Bc%3D")
        );
        // The signature is redacted from text both decoded and as given.
        let redacted = connector_core::secret::redact("failed: sig=abXYZ+c= and abXYZ%2Bc%3D");
        assert!(!redacted.contains("abXYZ"), "{redacted}");
        assert!(SasToken::parse("sv=2021-08-06&sp=rl").is_err());
    }
}
