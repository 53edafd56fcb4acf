//! HTTP Digest access authentication ([RFC 7616], and the RFC 2617 forms servers still send),
//! for [`Auth::Digest`](super::Auth::Digest): the server's `WWW-Authenticate: Digest`
//! challenge read, and each request's `Authorization: Digest` computed from it.
//!
//! Algorithms `MD5`, `MD5-sess`, `SHA-256` and `SHA-256-sess` (the first of a server's
//! challenges that uses one of them is answered), `qop=auth` or no `qop` (RFC 2069); a
//! fresh random `cnonce` and the next nonce count for every request. `qop=auth-int` alone
//! (a hash of the body) and `SHA-512-256` are not answered: the 401 then stands.
//!
//! Written here rather than taken from the `digest_auth` crate, which brings `sha2` 0.10,
//! `md-5` 0.10, `digest` 0.10 and `rand` 0.8 beside the versions the workspace uses.
//!
//! [RFC 7616]: https://www.rfc-editor.org/rfc/rfc7616

use std::fmt::Write as _;

use reqwest::Method;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use url::Url;

/// The hash a challenge asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    fn hash(self, input: &str) -> String {
        use sha2::Digest as _;
        let bytes: Vec<u8> = match self {
            Self::Md5 => md5::Md5::digest(input.as_bytes()).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(input.as_bytes()).to_vec(),
        };
        let mut hex = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(hex, "{b:02x}");
        }
        hex
    }
}

/// A `Digest` challenge the client can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// `-sess`: HA1 is keyed by the nonce and cnonce too.
    session: bool,
    /// The name the server gave the algorithm, sent back as given (`MD5`, `SHA-256-sess`);
    /// `None` when the challenge named none (RFC 2069 servers).
    algorithm_name: Option<String>,
    /// `qop=auth` offered (else the RFC 2069 form without nonce count and cnonce).
    qop_auth: bool,
}

/// The challenge answered so far and the nonce count used with it (shared by every request
/// of a client, so later requests carry credentials without a 401 first).
#[derive(Debug, Default)]
pub(crate) struct Session {
    challenge: Option<Challenge>,
    count: u32,
}

impl Session {
    /// Takes a new challenge (the nonce count restarts).
    pub(crate) fn set(&mut self, challenge: Challenge) {
        self.challenge = Some(challenge);
        self.count = 0;
    }

    /// The `Authorization` value for `method` on `url`, once a challenge has been taken.
    pub(crate) fn authorization(
        &mut self,
        username: &str,
        password: &str,
        method: &Method,
        url: &Url,
    ) -> Option<String> {
        let challenge = self.challenge.as_ref()?;
        self.count = self.count.wrapping_add(1);
        let cnonce: [u8; 16] = rand::random();
        let cnonce: String = cnonce.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        Some(challenge.respond(
            username,
            password,
            method.as_str(),
            &target(url),
            self.count,
            &cnonce,
        ))
    }
}

/// The request target a Digest `uri` carries: the path and query.
fn target(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

impl Challenge {
    /// The `Authorization` value for this challenge (RFC 7616 §3.4).
    fn respond(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        count: u32,
        cnonce: &str,
    ) -> String {
        let h = |s: &str| self.algorithm.hash(s);
        let mut ha1 = h(&format!("{username}:{}:{password}", self.realm));
        if self.session {
            ha1 = h(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = h(&format!("{method}:{uri}"));
        let nc = format!("{count:08x}");
        let response = if self.qop_auth {
            h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            h(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut out = String::from("Digest ");
        if username.is_ascii() {
            let _ = write!(out, "username=\"{}\"", quote(username));
        } else {
            // RFC 7616 §3.4.4: a name outside ASCII goes as an RFC 5987 extended value.
            let encoded =
                percent_encoding::utf8_percent_encode(username, percent_encoding::NON_ALPHANUMERIC);
            let _ = write!(out, "username*=UTF-8''{encoded}");
        }
        let _ = write!(
            out,
            ", realm=\"{}\", nonce=\"{}\", uri=\"{}\"",
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri)
        );
        if let Some(name) = &self.algorithm_name {
            let _ = write!(out, ", algorithm={name}");
        }
        let _ = write!(out, ", response=\"{response}\"");
        if self.qop_auth {
            let _ = write!(out, ", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
        }
        if let Some(opaque) = &self.opaque {
            let _ = write!(out, ", opaque=\"{}\"", quote(opaque));
        }
        out
    }
}

/// A quoted-string's content with `"` and `\` escaped.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// One piece of a `WWW-Authenticate` value: a scheme name, or a parameter of the scheme
/// before it.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Scheme(String),
    Param(String, String),
}

/// Splits a `WWW-Authenticate` value (one or more challenges, RFC 9110 §11.6.1) into schemes
/// and their parameters; a scheme's `token68` (`Negotiate abc==`) is skipped.
fn pieces(value: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut token = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == ',' || c == '=' {
                break;
            }
            token.push(c);
            chars.next();
        }
        if token.is_empty() {
            match chars.next() {
                // A stray `=` (the tail of a token68).
                Some(_) => continue,
                None => return out,
            }
        }
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            out.push(Piece::Scheme(token));
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push(Piece::Param(token.to_ascii_lowercase(), value));
    }
}

/// The first `Digest` challenge in `headers`' `WWW-Authenticate` values that the client can
/// answer, in the server's order (its preference).
pub(crate) fn challenge(headers: &HeaderMap) -> Option<Challenge> {
    let mut current: Option<Vec<(String, String)>> = None;
    let mut found = Vec::new();
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for piece in pieces(value) {
            match piece {
                Piece::Scheme(scheme) => {
                    found.extend(current.take());
                    if scheme.eq_ignore_ascii_case("digest") {
                        current = Some(Vec::new());
                    }
                }
                Piece::Param(name, value) => {
                    if let Some(params) = current.as_mut() {
                        params.push((name, value));
                    }
                }
            }
        }
        found.extend(current.take());
    }
    found.into_iter().find_map(|params| from_params(&params))
}

/// A challenge from its parameters, when it is one the client can answer.
fn from_params(params: &[(String, String)]) -> Option<Challenge> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let nonce = get("nonce")?;
    let realm = get("realm").unwrap_or_default();
    let algorithm_name = get("algorithm");
    let (algorithm, session) = match algorithm_name.as_deref().map(str::to_ascii_uppercase) {
        None => (Algorithm::Md5, false),
        Some(name) => match name.as_str() {
            "MD5" => (Algorithm::Md5, false),
            "MD5-SESS" => (Algorithm::Md5, true),
            "SHA-256" => (Algorithm::Sha256, false),
            "SHA-256-SESS" => (Algorithm::Sha256, true),
            _ => return None,
        },
    };
    let qop_auth = match get("qop") {
        None => false,
        Some(qop) => {
            if !qop
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"))
            {
                // auth-int only: the body's hash, which is not answered.
                return None;
            }
            true
        }
    };
    Some(Challenge {
        realm,
        nonce,
        opaque: get("opaque"),
        algorithm,
        session,
        algorithm_name,
        qop_auth,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn response_of(header: &str) -> String {
        let at = header.find("response=\"").unwrap() + "response=\"".len();
        header[at..].split('"').next().unwrap().to_owned()
    }

    /// RFC 7616 §3.9.1: the same challenge answered with SHA-256 and with MD5.
    #[test]
    fn rfc_7616_examples() {
        let h = headers(&[
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        ]);
        let sha = challenge(&h).unwrap();
        assert_eq!(sha.algorithm, Algorithm::Sha256);
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let answer = sha.respond(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            1,
            cnonce,
        );
        assert_eq!(
            response_of(&answer),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert!(answer.contains("nc=00000001"), "{answer}");
        assert!(answer.contains(r#"opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#));
        assert!(answer.contains("algorithm=SHA-256"));
        let md5 = from_params(&[
            ("realm".into(), "http-auth@example.org".into()),
            ("qop".into(), "auth, auth-int".into()),
            ("algorithm".into(), "MD5".into()),
            (
                "nonce".into(),
                "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            ),
        ])
        .unwrap();
        let answer = md5.respond(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            1,
            cnonce,
        );
        assert_eq!(response_of(&answer), "8ca523f5e9506fed4657c9700eebdbec");
    }

    /// RFC 2617 §3.5, as Apache's mod_auth_digest still answers (no algorithm named).
    #[test]
    fn rfc_2617_example() {
        let h = headers(&[
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        ]);
        let c = challenge(&h).unwrap();
        let answer = c.respond(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            1,
            "0a4f113b",
        );
        assert_eq!(response_of(&answer), "6629fae49393a05397450978507c4ef1");
        assert!(!answer.contains("algorithm="), "{answer}");
    }

    #[test]
    fn challenges_among_others_in_one_header() {
        let h = headers(&[
            r#"Basic realm="x", Digest realm="a, b", nonce="n\"1", algorithm=SHA-512-256, Digest realm="r", nonce="n2", qop=auth, Negotiate YII="#,
        ]);
        let c = challenge(&h).unwrap();
        assert_eq!((c.realm.as_str(), c.nonce.as_str()), ("r", "n2"));
        assert!(c.qop_auth);
        // Only auth-int, or no Digest at all: nothing to answer.
        assert!(
            challenge(&headers(&[
                r#"Digest realm="r", nonce="n", qop="auth-int""#
            ]))
            .is_none()
        );
        assert!(challenge(&headers(&[r#"Basic realm="r""#, "NTLM"])).is_none());
    }

    #[test]
    fn rfc_2069_without_qop_and_the_count_going_up() {
        let mut session = Session::default();
        let url = Url::parse("https://h/dav/a%20b/?x=1").unwrap();
        assert!(
            session
                .authorization("u", "p", &Method::GET, &url)
                .is_none()
        );
        session.set(challenge(&headers(&[r#"Digest realm="r", nonce="n""#])).unwrap());
        let first = session.authorization("u", "p", &Method::GET, &url).unwrap();
        assert!(first.contains(r#"uri="/dav/a%20b/?x=1""#), "{first}");
        assert!(!first.contains("nc="), "{first}");
        let c = challenge(&headers(&[r#"Digest realm="r", nonce="n", qop="auth""#])).unwrap();
        session.set(c);
        let _ = session.authorization("u", "p", &Method::GET, &url);
        let second = session.authorization("u", "p", &Method::GET, &url).unwrap();
        assert!(second.contains("nc=00000002"), "{second}");
        let other = session
            .authorization("j\u{f6}rg", "p", &Method::GET, &url)
            .unwrap();
        assert!(
            other.starts_with("Digest username*=UTF-8''j%C3%B6rg"),
            "{other}"
        );
    }
}
