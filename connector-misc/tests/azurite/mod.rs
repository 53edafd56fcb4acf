//! A real Azure Blob service for the integration tests: Azurite (`azurite-blob`) on a free
//! loopback port, and a seeding client that writes containers and blobs through the REST API
//! with Shared Key (the development account's published key).

// Each test binary uses a different part of this module.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use url::Url;

/// The emulator's development account and its published key.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Where `azurite-blob` is: `$CONNECTORS_AZURITE`, the npm folder `.ci/test-servers.sh`
/// makes, or `PATH`.
pub fn azurite_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CONNECTORS_AZURITE") {
        return PathBuf::from(p);
    }
    let root = std::env::var_os("CONNECTORS_TEST_SERVERS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/connectors-test-servers"))
        });
    if let Some(root) = root {
        let bin = root.join("azurite/node_modules/.bin/azurite-blob");
        if bin.is_file() {
            return bin;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("azurite-blob");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "azurite is not installed: run `bash .ci/test-servers.sh` (or set CONNECTORS_AZURITE to an azurite-blob binary)"
    );
}

/// A running Azurite blob service; killed on drop.
pub struct Azurite {
    pub addr: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Azurite {
    /// Starts a server on a free port and waits until it answers.
    pub fn start() -> Self {
        let bin = azurite_binary();
        let dir = tempfile::tempdir().unwrap();
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // A shell in between kills azurite when this test process is gone, even if the
        // process ends without dropping the server (a shared server in a `static`).
        let script = format!(
            "\"$0\" --silent --location \"$1\" --blobHost 127.0.0.1 --blobPort {port} & rc=$!; \
             while kill -0 {pid} 2>/dev/null && kill -0 $rc 2>/dev/null; do sleep 0.3; done; kill $rc 2>/dev/null",
            pid = std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&bin)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "azurite did not listen on {addr} within 30 s (binary {})",
                bin.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            addr,
            child,
            _dir: dir,
        }
    }

    /// The development account's blob endpoint.
    pub fn endpoint(&self) -> Url {
        Url::parse(&format!("http://{}/{ACCOUNT}", self.addr)).unwrap()
    }

    /// A connection string as the portal would show one for this account.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={};",
            self.endpoint()
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server shared by the tests of a binary (each test uses containers of its own).
pub fn shared() -> &'static Azurite {
    static SHARED: OnceLock<Azurite> = OnceLock::new();
    SHARED.get_or_init(Azurite::start)
}

/// A unique container name.
pub fn container_name(tag: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{tag}-{}-{n}", std::process::id())
}

fn hmac_base64(key: &[u8], message: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(message.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Writes containers and blobs with Shared Key.
#[derive(Clone)]
pub struct Seeder {
    http: reqwest::Client,
    endpoint: Url,
}

impl Seeder {
    pub fn new(endpoint: Url) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint,
        }
    }

    fn url(&self, container: &str, blob: Option<&str>) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut s = url.path_segments_mut().unwrap();
            s.pop_if_empty().push(container);
            if let Some(blob) = blob {
                for part in blob.split('/') {
                    s.push(part);
                }
            }
        }
        url
    }

    /// Sends a signed request (Shared Key, as Microsoft documents it) and checks its status.
    async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        body: Vec<u8>,
        content_type: &str,
        extra: &[(&str, &str)],
    ) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let mut ms: Vec<(String, String)> = vec![
            ("x-ms-date".into(), date.clone()),
            ("x-ms-version".into(), "2021-08-06".into()),
        ];
        ms.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        ms.sort();
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let mut to_sign = format!("{method}\n\n\n{length}\n\n{content_type}\n\n\n\n\n\n\n");
        for (k, v) in &ms {
            to_sign.push_str(&format!("{k}:{v}\n"));
        }
        to_sign.push_str(&format!("/{ACCOUNT}{}", url.path()));
        let mut params: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.to_lowercase(), v.into_owned()))
            .collect();
        params.sort();
        for (k, v) in params {
            to_sign.push_str(&format!("\n{k}:{v}"));
        }
        let sig = hmac_base64(&STANDARD.decode(KEY).unwrap(), &to_sign);
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header("authorization", format!("SharedKey {ACCOUNT}:{sig}"));
        for (k, v) in &ms {
            req = req.header(k.as_str(), v.as_str());
        }
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        // An empty body still says so: Put Blob needs a `Content-Length`.
        let req = if body.is_empty() {
            req.header("content-length", "0")
        } else {
            req
        };
        let resp = req.body(body).send().await.unwrap();
        let status = resp.status();
        let code = resp
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "{method} {url}: {status} {code} {text}"
        );
    }

    pub async fn create_container(&self, container: &str) {
        let mut url = self.url(container, None);
        url.set_query(Some("restype=container"));
        self.send(reqwest::Method::PUT, url, Vec::new(), "", &[])
            .await;
    }

    pub async fn put(&self, container: &str, name: &str, body: impl Into<Vec<u8>>, ctype: &str) {
        let url = self.url(container, Some(name));
        self.send(
            reqwest::Method::PUT,
            url,
            body.into(),
            ctype,
            &[("x-ms-blob-type", "BlockBlob")],
        )
        .await;
    }

    /// [`put`](Self::put) with user metadata (`x-ms-meta-{name}` headers), as Hadoop marks
    /// its folder stubs (`hdi_isfolder: true`).
    pub async fn put_with_metadata(
        &self,
        container: &str,
        name: &str,
        body: impl Into<Vec<u8>>,
        ctype: &str,
        metadata: &[(&str, &str)],
    ) {
        let url = self.url(container, Some(name));
        let headers: Vec<(String, String)> = metadata
            .iter()
            .map(|(k, v)| (format!("x-ms-meta-{k}"), (*v).to_owned()))
            .collect();
        let mut extra: Vec<(&str, &str)> = vec![("x-ms-blob-type", "BlockBlob")];
        extra.extend(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.send(reqwest::Method::PUT, url, body.into(), ctype, &extra)
            .await;
    }

    pub async fn delete(&self, container: &str, name: &str) {
        let url = self.url(container, Some(name));
        self.send(reqwest::Method::DELETE, url, Vec::new(), "", &[])
            .await;
    }

    /// A service SAS for the container with permissions `sp` (`rl`, `l`, `r`), valid from
    /// `start` to `expiry` (RFC 3339), of version 2020-02-10 (its documented string to sign).
    pub fn container_sas(&self, container: &str, sp: &str, start: &str, expiry: &str) -> String {
        let sv = "2020-02-10";
        let resource = format!("/blob/{ACCOUNT}/{container}");
        let to_sign =
            format!("{sp}\n{start}\n{expiry}\n{resource}\n\n\nhttps,http\n{sv}\nc\n\n\n\n\n\n");
        let sig = hmac_base64(&STANDARD.decode(KEY).unwrap(), &to_sign);
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "sv={sv}&spr=https%2Chttp&st={}&se={}&sr=c&sp={sp}&sig={}",
            enc(start),
            enc(expiry),
            enc(&sig)
        )
    }
}
