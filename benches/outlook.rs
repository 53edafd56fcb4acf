//! Loopback end-to-end benchmark of the Outlook connector's message delta (`harness = false`,
//! not run in CI): a wiremock Graph holding `OUTLOOK_BENCH_MESSAGES` messages (default
//! 10,000) with HTML bodies of about 2 KiB in one mailbox's Inbox, listed 50 per delta page
//! (what the connector asks with `odata.maxpagesize`) behind `@odata.nextLink`, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the token, the folder listing,
//!    every delta page by its `@odata.nextLink`, each page parsed as JSON;
//! 2. `OutlookConnector::load`: the same requests through the Graph client (plus the user and
//!    well-known folders in one `$batch`), each message a Markdown document (HTML converted);
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints messages/s, requests per message and the ratios to the baseline (best of three
//! rounds), then the process's peak RSS (`VmHWM`). `cargo bench --bench outlook`.
//!
//! # Results
//!
//! 2026-12-05, release, the 2-core machine under load (several other agents' release builds
//! and benches beside it: run-to-run noise is ±15%), best of 3, 10,000 messages, two runs each.
//! "raw + conv." is the raw fetch that also converts each whole body with core's HTML to
//! Markdown; the last two columns are the connector's time over that side's.
//!
//! | bodies | code | raw fetch | `load()` | `Syncer` | raw + conv. | load / conv. | sync / conv. |
//! | --- | --- | --- | --- | --- | --- | --- | --- |
//! | short head | before | 0.099 / 0.108 s | 9.71x / 8.21x | 10.13x / 9.23x | — | — | — |
//! | short head | after | 0.121 / 0.088 s | 8.36x / 10.21x | 8.53x / 9.69x | 0.778 / 0.624 s | 1.30x / 1.45x | 1.33x / 1.37x |
//! | Word | after | 0.171 / 0.202 s | 6.49x / 6.17x | 7.03x / 6.27x | 1.104 / 1.112 s | 1.00x / 1.12x | 1.09x / 1.14x |
//! | short head | core fast path | 0.153 / 0.191 / 0.184 / 0.143 s | 2.99x / 3.64x / 3.48x / 3.53x | 3.27x / 4.40x / 3.75x / 3.78x | 0.257 / 0.208 / 0.211 / 0.232 s | 1.79x / 3.34x / 3.04x / 2.18x | 1.95x / 4.03x / 3.27x / 2.34x |
//! | Word | core fast path | 0.197 / 0.312 s | 6.18x / 3.92x | 6.53x / 2.90x | 0.583 / 0.577 s | 2.09x / 2.12x | 2.20x / 1.57x |
//! | short head | raw pages, read-ahead | 0.080 / 0.171 / 0.151 / 0.155 s | 3.04x / 3.33x / 2.78x / 3.06x | 6.12x / 4.39x / 3.51x / 5.97x | 0.156 / 0.161 s | — | — |
//! | Word | raw pages, read-ahead | 0.172 / 0.137 s | 4.68x / 3.34x | 2.51x / 2.78x | 0.674 / 0.414 s | — | — |
//! | short head | same, load 5 | 0.087 s | 3.30x / 3.05x | 3.29x / 4.67x | — | — | — |
//! | Word | same, load 5 | 0.146 s | 3.49x / 2.02x | 3.25x / 2.20x | — | — | — |
//!
//! "core fast path": core's HTML to Markdown taking mail bodies without a DOM (the document
//! start and head skipped, the body rendered tree-less), under heavier load (load average 5-7
//! on the 2 cores). The raw side's conversion fell from about 55-65 µs to 2-10 µs a body
//! (short head); the connector's time over the raw fetch is now mostly its own (a perf profile
//! of the default run: allocator 15-20%, JSON, `message_document`; the conversion 13% of both
//! sides together), and with Word bodies `message_document` (9%, the byte-window scans of
//! `rendered_part` over the 7 KiB head) is its largest single cost.
//!
//! "raw pages, read-ahead" (load average 16-17, the 2 cores shared with 8 builds: the
//! spread is the machine's): each message parsed from its own JSON text (no `Value` tree),
//! its version hashed once, the next delta page fetched while the page is converted, the text
//! written into one buffer. The perf profile before (one load run at 8.1x): allocator about
//! 25%, `Value` parsing and its `BTreeMap`s 6%, conversion 10%; after: allocator about 20%,
//! memmove 8% (messages and items moved through the page pipeline), conversion 10%, `Value`
//! parsing only the raw side's.
//!
//! Session 39 (short head, A/B against the binary at 67d4d6e, alternating, 4 runs each,
//! load average 15-16): each fetch borrowing the round's reader and context, the text
//! written through core's `MarkdownOut`: medians 3.55x -> 3.18x load, 3.78x -> 3.60x full. A
//! perf profile after (3 load and 3 sync runs): `message_document` 26% of samples, of which
//! core's HTML to Markdown 17%, `MarkdownOut::labelled_lines` (core's inline writer) 3%,
//! `with_metadata` 2.5%; `Message::from_raw` 7.7% (body string copy, dates, `Url`). The raw
//! side's own conversion costs more than its fetch, so 1.5x the raw fetch is out of reach
//! while the conversion stays at about 8 µs a body.
//!
//! Session 40 (short head, A/B against the binary at 1489996, alternating, 5 runs each, load
//! average 4-6, very noisy): core's HTML fast path at half the instructions a body: medians
//! 3.01x -> 1.93x load (0.386 -> 0.294 s), 3.38x -> 2.63x full (0.434 -> 0.369 s), and the
//! raw side's own conversion 2.07x -> 1.55x its fetch.
//!
//! Session 41 (short head, A/B against the binary at 276cbaa, alternating, 3 runs each, load
//! average 5-10 from other builds: wall times very noisy, the instruction counts are the
//! measure): callgrind (2,000 messages) showed a third of the connector's instructions
//! outside the conversion in moves and double reads: each message's fetch future (a few KiB:
//! every branch's HTTP exchange inline) copied four times into the page's fetches, every
//! delta page read twice (a pass to cut it into raw messages, then each message), and
//! `message_document` cloning what it could take. The rare requests (a meeting's,
//! attachments') are now awaited boxed, a page is read whole in one pass (message by message
//! only when that fails), and the message moves into its document (metadata built at once in
//! key order). Documents byte-identical (md5 of a 500-message full run). Whole-process
//! instructions 4.22 G -> 3.67 G (c2b2237: the future, `message_document`) -> 3.52 G
//! (98fcf60: the one-pass page), -58k instructions per message document (about 190k before;
//! the raw fetch's side unchanged). Wall medians at c2b2237 (load 9-10): load 2.50x -> 2.13x
//! (0.203 -> 0.177 s), full 2.81x -> 2.37x (0.228 -> 0.196 s); at 98fcf60 (load 5-7, the raw
//! fetch itself varying 0.08-0.15 s): load 0.285 -> 0.249 s, full 0.327 -> 0.300 s.
//!
//! Session 42 (short head, core's HTML fast path only; A/B against the binary at e39915a):
//! callgrind, `COMPARE_ONLY=load`, 2,000 messages: the conversion 54.4k -> 43.6k
//! instructions a body (12,000 conversions: the load and the raw + conversion sides), the
//! whole process 2.50 G -> 2.37 G (-5%). Wall, alternating, 5 runs each at load average
//! 10-11 (five helpers building; the raw fetch itself 0.065-0.21 s, so only the instruction
//! counts are to be trusted): medians load 2.13x -> 1.54x (0.216 -> 0.128 s), full 2.29x ->
//! 1.80x (0.256 -> 0.148 s). What changed is in `connector-core/benches/html_to_markdown.rs`'s
//! header (session 42).
//!
//! Session 42 (what bounds the wall time; `COMPARE_THREADS=1` prints each side's per-thread
//! CPU and run-queue wait): the raw fetch is one thread's work (main thread 55 ms CPU of a
//! 66 ms side, the JSON `Value` parse; the server thread 7 ms), and so was the connector's:
//! its round's task (the main thread here) built every document of a page while the
//! read-ahead task (fetch + page parse, about 44 ms on the workers) idled; over 200 pages the
//! round waited 1-3 ms in all for a page. Its wall time was its own CPU (75 ms, ~90k
//! instructions a message on that thread against the raw side's ~75k), not the server or
//! the fetch concurrency. Tried (commit 5d2cf03, reverted): the documents of a page's
//! messages that need no request built half in a task of their own, ids and versions worked
//! out in the read-ahead task, dates through core's `parse_utc` fast path. Instructions fell
//! where intended (callgrind, 2,000 messages, `COMPARE_ONLY=load`: main thread 2.135 G ->
//! 1.862 G, the round's task 90k -> 45k a message; whole process 2.514 G -> 2.490 G, chrono
//! gone from the page parse), but the process's CPU rose (a load side 127 -> 209 ms of CPU
//! over 1.45 cores: documents allocated on one thread and freed on another, two threads
//! building) and on the nearly quiet machine (load 1.3) the wall got worse: load 0.117 /
//! 0.122 s -> 0.133 / 0.143 s, full 0.125 / 0.134 s -> 0.145 / 0.154 s (alternating pairs).
//! The wall time is the round's own CPU: what cuts it is fewer instructions on that thread,
//! not a second thread. Core's `time::parse_utc` / `rfc3339_offset` stay for that.
//!
//! Session 43 (issue 23): every Graph time is read through core's `time::de_utc_option` and
//! the versions' and metadata's times written through `rfc3339_offset` (outlook's own code
//! otherwise unchanged; documents byte-identical). The parse is the read-ahead workers' (off
//! the round's thread, as above); the two writes per message are the round's. Wall time, 3
//! alternating runs against the binary at 1dc498e under load average 28-29 (noise): `load()`
//! base 0.129 / 0.185 / 0.199 s, new 0.125 / 0.164 / 0.127 s; full run base 0.149 / 0.217 /
//! 0.147 s, new 0.140 / 0.228 / 0.209 s. callgrind, 1,000 messages, `COMPARE_ONLY=full`, whole
//! process: 1,216.1 M -> 1,200.4 M instructions (-5.2k a message: chrono's parse, 15.5 M, and
//! its `write_rfc3339`, 4.9 M, gone; the writes, ~1.6k a message, were on the round's thread).
//!
//! Both sides send the same 202 requests (0.020 per message). Nearly all of the connector's
//! time over the raw fetch is core's HTML to Markdown (htmd over html5ever: tokenizer, tree
//! and the allocations of both were 60% of a perf profile), which a raw reader that wants
//! Markdown pays too: against that side the connector costs 1.0x to 1.45x. Cutting what
//! precedes `<body>` makes no difference on the default bodies (their head is 40 bytes); on
//! Word's bodies (a 3 KiB style sheet) the raw side pays 33-49 µs a message for the head and
//! the connector does not, so it matches the raw side despite its own work (JSON to messages,
//! fingerprints, documents). Peak RSS 150 MiB (280 MiB with Word bodies), mostly wiremock's
//! copy of the pages.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::outlook::{OutlookConfig, OutlookConnector};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PAGE: usize = 50;
const ROUNDS: usize = 3;
const USER: &str = "u-bench";

fn messages() -> usize {
    loopback::env_size("OUTLOOK_BENCH_MESSAGES", 10_000)
}

/// `OUTLOOK_BENCH_BODY=word`: bodies as Outlook desktop (Word) writes them, a `<head>` with
/// Word's style sheet (about 3 KiB) and conditional comments before the same text; otherwise
/// the short head of the default bodies.
fn word_bodies() -> bool {
    std::env::var("OUTLOOK_BENCH_BODY").is_ok_and(|v| v == "word")
}

/// Word's head: its meta tags, conditional comments and style sheet.
fn word_head() -> String {
    let fonts: String = [
        "Cambria Math",
        "Calibri",
        "Aptos",
        "Segoe UI",
        "Times New Roman",
    ]
    .iter()
    .map(|f| format!("@font-face {{font-family:\"{f}\"; panose-1:2 4 5 3 5 4 6 3 2 4;}}\n"))
    .collect();
    let rules: String = (0..40)
        .map(|i| format!("p.MsoStyle{i}, li.MsoStyle{i}, div.MsoStyle{i} {{margin:0cm; font-size:11.0pt; font-family:\"Aptos\",sans-serif; mso-ligatures:standardcontextual;}}\n"))
        .collect();
    format!(
        "<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\"><!--[if !mso]><style>v\\:* {{behavior:url(#default#VML);}} o\\:* {{behavior:url(#default#VML);}}</style><![endif]--><style><!--\n{fonts}{rules}@page WordSection1 {{size:612.0pt 792.0pt;}} div.WordSection1 {{page:WordSection1;}}\n--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" /></xml><![endif]--><!--[if gte mso 9]><xml><o:shapelayout v:ext=\"edit\"><o:idmap v:ext=\"edit\" data=\"1\" /></o:shapelayout></xml><![endif]--></head>"
    )
}

fn message(n: usize) -> Value {
    let head = if word_bodies() {
        word_head()
    } else {
        "<head><style>p { margin: 0 }</style></head>".to_owned()
    };
    let body = format!(
        "<html>{head}<body><div><p>Hello <b>team</b>,</p>{}<p>Regards,<br>Ada</p></div></body></html>",
        (0..12)
            .map(|i| format!("<p>Item {i} of message {n}: the <a href=\"https://contoso.com/{n}/{i}\">report</a> is ready &amp; reviewed.</p>"))
            .collect::<String>()
    );
    json!({
        "@odata.type": "#microsoft.graph.message",
        "@odata.etag": format!("W/\"CQAAABYAAAD{n}\""),
        "id": format!("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{n:08}"),
        "lastModifiedDateTime": "2026-03-01T10:01:00Z",
        "changeKey": format!("CQAAABYAAAD{n}"),
        "categories": [],
        "receivedDateTime": "2026-03-01T10:00:00Z",
        "sentDateTime": "2026-03-01T09:59:58Z",
        "hasAttachments": false,
        "internetMessageId": format!("<{n}@contoso.com>"),
        "subject": format!("Weekly report {n}"),
        "importance": "normal",
        "parentFolderId": "inbox",
        "conversationId": format!("AAQkConv{}", n / 4),
        "isDraft": false,
        "webLink": format!("https://outlook.office365.com/owa/?ItemID={n}&exvsurl=1&viewmodel=ReadMessageItem"),
        "body": {"contentType": "html", "content": body},
        "sender": {"emailAddress": {"name": "Ada Lovelace", "address": "ada@contoso.com"}},
        "from": {"emailAddress": {"name": "Ada Lovelace", "address": "ada@contoso.com"}},
        "toRecipients": [{"emailAddress": {"name": "Bench", "address": "bench@contoso.com"}}],
        "ccRecipients": [],
        "bccRecipients": [],
    })
}

fn pages(base: &str, n: usize) -> Vec<String> {
    let link = format!("{base}/v1.0/users/{USER}/mailFolders/inbox/messages/delta");
    let items: Vec<Value> = (0..n).map(message).collect();
    let chunks: Vec<&[Value]> = items.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut page = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)", "value": c});
            if i + 1 < chunks.len() {
                page["@odata.nextLink"] = json!(format!("{link}?$skiptoken=p{}", i + 1));
            } else {
                page["@odata.deltaLink"] = json!(format!("{link}?$deltatoken=latest"));
            }
            page.to_string()
        })
        .collect()
}

/// `$batch`: the user and the well-known folders the default filters resolve.
struct Batch;

impl Respond for Batch {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let responses: Vec<Value> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let url = r["url"].as_str().unwrap();
                let answer = if url.contains("/mailFolders/junkemail") {
                    json!({"id": "junk"})
                } else if url.contains("/mailFolders/deleteditems") {
                    json!({"id": "deleted"})
                } else {
                    json!({"id": USER, "mail": "bench@contoso.com", "userPrincipalName": "bench@contoso.com"})
                };
                json!({"id": r["id"], "status": 200, "headers": {}, "body": answer})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "responses": responses }))
    }
}

/// The raw fetch: a token, the folder listing, then the same delta pages by their links.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    raw_with(client, base, false).await
}

/// The raw fetch, each page's bodies converted by core's HTML to Markdown (whole, as Graph
/// sends them) when `convert`.
async fn raw_with(client: &reqwest::Client, base: &str, convert: bool) -> (usize, u64) {
    let token: Value = client
        .post(format!("{base}/tenant/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "s"),
            ("scope", "x"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let folders: Value = client
        .get(format!("{base}/v1.0/users/{USER}/mailFolders"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let folder = folders["value"][0]["id"].as_str().unwrap().to_owned();
    let mut requests = 2u64;
    let mut next = Some(format!(
        "{base}/v1.0/users/{USER}/mailFolders/{folder}/messages/delta"
    ));
    let mut got = 0;
    while let Some(url) = next.take() {
        let body = client
            .get(&url)
            .bearer_auth(&bearer)
            .header("prefer", "IdType=\"ImmutableId\", odata.maxpagesize=50")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        requests += 1;
        let page: Value = serde_json::from_slice(&body).unwrap();
        let value = page["value"].as_array().unwrap();
        got += value.len();
        if convert {
            for m in value {
                let html = m["body"]["content"].as_str().unwrap_or_default();
                assert!(!connectors::core::text::html_to_markdown(html).is_empty());
            }
        }
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    (got, requests)
}

fn main() {
    let n = messages();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        let base = server.uri();
        Mock::given(method("POST"))
            .and(path_regex("/oauth2/v2\\.0/token$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer", "expires_in": 3599, "access_token": "bench-token"})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1.0/$batch"))
            .respond_with(Batch)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v1.0/users/{USER}/mailFolders")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
                {"id": "inbox", "displayName": "Inbox", "parentFolderId": "root", "childFolderCount": 0,
                 "unreadItemCount": 0, "totalItemCount": n, "isHidden": false}]})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!(
                "/v1.0/users/{USER}/mailFolders/inbox/messages/delta"
            )))
            .respond_with(loopback::Pages(pages(&base, n), "$skiptoken"))
            .mount(&server)
            .await;
        println!(
            "outlook loopback: {n} HTML messages ({} bodies), {PAGE} per delta page",
            if word_bodies() { "Word" } else { "short-head" }
        );

        let config: OutlookConfig = connectors::core::config::from_json(json!({
            "credentials": {"tenant_id": "tenant", "client_id": "app", "client_secret": "s"},
            "user_ids": [USER],
            "authority_host": base,
            "graph_url": base,
            "allowed_hosts": ["127.0.0.1", "localhost"],
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "message",
            name: "OutlookConnector",
            width: 26,
        };
        compare
            .run(
                || raw(&client, &base),
                || OutlookConnector::new(config.clone()).unwrap(),
            )
            .await;

        // The raw fetch that also converts the same bodies (whole) with core's HTML to
        // Markdown: what any reader of these messages as Markdown pays.
        let mut converted = f64::MAX;
        for _ in 0..ROUNDS {
            let started = std::time::Instant::now();
            let (got, _) = raw_with(&client, &base, true).await;
            assert_eq!(got, n);
            converted = converted.min(started.elapsed().as_secs_f64());
        }
        println!(
            "{:<26} {converted:>7.3} s  {:>9.0} messages/s  (raw fetch + HTML to Markdown of each body)",
            "raw + conversion",
            n as f64 / converted
        );
    });
}
