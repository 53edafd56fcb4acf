//! A loopback HTTP/1.1 server that misbehaves on command: each request is handed to the
//! case's handler, which answers, resets the connection or stalls it. Plain threads and
//! blocking sockets: the server must be simpler than what it tests.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The request target: path and query.
    pub(crate) target: String,
    /// Header names in lower case.
    pub(crate) headers: BTreeMap<String, String>,
}

impl Request {
    /// The value of query parameter `name`, percent-decoded.
    pub(crate) fn query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v))
        })
    }

    /// The request line and every header, as an API that echoes its request writes them: the
    /// credential headers first, so that an error's snippet of the body holds them.
    pub(crate) fn echo(&self) -> String {
        let mut out = String::new();
        let first = ["authorization", "x-api-key"];
        for k in first {
            if let Some(v) = self.headers.get(k) {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        out.push_str(&format!("GET {}\n", self.target));
        for (k, v) in &self.headers {
            if !first.contains(&k.as_str()) {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        out
    }
}

/// What the server does with a request.
pub(crate) enum Action {
    /// Answers with a status, extra headers and a body.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Answers only after a pause.
    Delayed(Duration, Box<Action>),
    /// Closes the connection without an answer.
    Reset,
    /// Keeps the connection open and never answers (until the server is dropped).
    Stall,
}

impl Action {
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::Respond {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    pub(crate) fn text(status: u16, body: impl Into<String>) -> Self {
        Self::Respond {
            status,
            headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
            body: body.into().into_bytes(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Action + Send + Sync;

/// A running server; stops when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub(crate) fn start(handler: impl Fn(&Request) -> Action + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (handler, stop) = (handler.clone(), stopping.clone());
                std::thread::spawn(move || serve(conn, &*handler, &stop));
            }
        });
        Self { addr, stop }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(mut conn: TcpStream, handler: &Handler, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    // Keep-alive: one request after another on the connection, as reqwest sends them.
    loop {
        let Some(request) = read_request(&mut conn) else {
            return;
        };
        let mut action = handler(&request);
        loop {
            match action {
                Action::Delayed(pause, then) => {
                    sleep_unless(stop, pause);
                    action = *then;
                }
                Action::Reset => {
                    let _ = conn.shutdown(Shutdown::Both);
                    return;
                }
                Action::Stall => {
                    sleep_unless(stop, Duration::from_secs(3600));
                    return;
                }
                Action::Respond {
                    status,
                    headers,
                    body,
                } => {
                    let mut head = format!(
                        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n",
                        reason(status),
                        body.len()
                    );
                    for (k, v) in headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    if conn.write_all(head.as_bytes()).is_err() || conn.write_all(&body).is_err() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

fn sleep_unless(stop: &AtomicBool, pause: Duration) {
    let step = Duration::from_millis(5);
    let mut slept = Duration::ZERO;
    while slept < pause && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(step.min(pause - slept));
        slept += step;
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = conn.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_owned();
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    // A body (the connector sends GETs; a POST would carry one) is read and dropped.
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut rest = buf.len() - (end + 4);
    while rest < length {
        let n = conn.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        rest += n;
    }
    Some(Request { target, headers })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a value for a query string.
pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Standard base64, for decoding a Basic `Authorization` header as an echoing API would.
pub(crate) fn base64_decode(s: &str) -> Option<String> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = ABC.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Standard base64, to look for a Basic credential in the files the runs wrote.
pub(crate) fn base64_encode(s: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
