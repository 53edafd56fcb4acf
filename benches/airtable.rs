//! Loopback end-to-end benchmark of the Airtable connector (`harness = false`, not run in CI):
//! a wiremock Airtable holding `AIRTABLE_BENCH_RECORDS` records (default 20,000) of a table
//! with eleven typed fields (text, rich text, selects, a collaborator, a date, a number, a
//! checkbox, a URL, record links, a last-modified time), listed 100 per
//! `GET /v0/{baseId}/{table}` page by `offset`, read by
//!
//! 1. the baseline: raw `reqwest` over the same requests: the schema, then every page by
//!    offset, each body parsed as JSON;
//! 2. `AirtableConnector::load`: the same requests through core's client, each record
//!    rendered as Markdown with front matter into a document;
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints records/s, requests per record and the ratios to the baseline (best of three
//! rounds), then the process's peak RSS (`VmHWM`); run it at two sizes to see memory stay
//! flat (`AIRTABLE_BENCH_RECORDS=2000` and `=20000`). `cargo bench --bench airtable`.
//!
//! Session 42 (fullrun2): nothing regressed between 276cbaa (session 41's start) and e39915a.
//! Callgrind, 5,000 records x 3 rounds, whole process: 3,566.2 M vs 3,552.1 M instructions
//! (-0.4%); `record_document` 1,481.4 M vs 1,462.3 M, the Syncer's `drain` 897.5 M vs
//! 890.3 M, the raw fetch 463.5 M vs 462.9 M. The quiet-machine shift from 1.36x / 1.52x to
//! 1.47x / 1.59x with absolute times within 3% is noise (or the raw fetch's time), not work.
//! At e39915a the full run adds 34.6 M instructions over `load` (2,239.7 M vs 2,274.3 M,
//! +1.5%, 2.3k per document). Pages of 100 and batches of 64 make most batches span two
//! pages: a page's tail was moved twice into the staging batch (`Vec::from` of a page whose
//! head had gone moved its rest to the front first); it is moved once now, and the page's id
//! and place buffers are reused: full run 2,272.5 M (-1.8 M, memcpy -1.9 M, malloc -0.7 M).
//! Task-clock, `COMPARE_ONLY=full`, 20,000 records, 8 alternating runs each at load average
//! 10.5: 1,066 ms before, 1,047 ms after (a build that also grew the store's table four-fold,
//! since left out; within the noise).
//!
//! Session 43 (full3): the full run reads the connector's pages one ahead in a task of its own
//! (`sync/run.rs`, `read_ahead`; the loop's compare, commit, sink write and drop were serialised
//! with the connector's page building, see the salesforce bench's notes). Under load 17,
//! `COMPARE_THREADS=1`, `COMPARE_ONLY=full`: the loop's thread 22 ms of CPU per round, the
//! connector (with its own raw-page read-ahead and the loopback server) 150 ms on the workers,
//! total CPU 178-184 ms against 171-180 ms before (200 pages of 100: 200 handoffs); wall not
//! measurable on the loaded machine. Needs a quiet A/B.
//!
//! Session 43 (sf24): the bench could hang at exit, 100% CPU in wiremock's `MockServer::drop`
//! (its `futures::executor::block_on` of a tokio lock, polled forever while the task's
//! cooperative budget stood at zero); the server is now a `loopback::Server`, dropped with the
//! budget lifted. Per record (`COMPARE_ONLY=load`, 5,000 x 3, callgrind): `record_document`
//! 729.3 M -> 723.4 M instructions (-0.8%: the metadata's keys made inline, not per document),
//! the connector's stream 787.4 M -> 782.6 M. What the rest is, per record: the record's fields
//! read twice (as listed, for the version and the window: 9k; as values, for the document:
//! 10.8k), core's Markdown writing (the front matter 4.9k, the notes' paragraphs 4.9k, a
//! linked record's bullet 3.5k, four headings 2.8k), the `fields` metadata map (4k). A text
//! buffer of 1,000 bytes (Salesforce's, below glibc's large requests) changes nothing here:
//! its 1,024-byte blocks come from glibc's per-thread cache (which takes up to 1,032), and the
//! process's `malloc_consolidate` calls come from the HTTP reads, not from the conversion.
//!
//! Session 43, the lead on the quiet machine: full3's read-ahead took this bench's full run
//! from 0.136 s to 0.192 s (1.68x -> 2.18x of the raw fetch, medians of 3 alternating; load
//! unchanged at 0.126 s), so it was reverted (see the salesforce bench's notes).
//!
//! Session 44 (sf24b), where the time goes (nothing changed here this session).
//! `COMPARE_THREADS=1`, load average 10: the main thread 95-106 ms of CPU per round for
//! `load`, 109-123 ms for the full run, the other threads (the worker reading pages ahead:
//! fetch, page parse, `admit`; the loopback server) about 55-60 ms together: the main
//! thread's conversion bounds the line. Callgrind
//! (`COMPARE_ONLY=load`, 5,000 x 3) of `record_document`, 46.5k instructions per record: the
//! fields read as values (`record_fields`, core's `jsonref`) 10.7k, core's Markdown (plain
//! text 5.3k, front matter 4.9k, the link bullet 3.5k, headings 0.7k), the `fields` metadata
//! map 4k (`BTreeMap::from_iter`: key `String`s, sort, nodes), the document's six metadata
//! inserts 2k, `record_link`'s `PathSegmentsMut::push` 1.4k, five `String` clones for
//! metadata values 1.1k. The raw read of the fields (`admit`: version, window, attachments)
//! runs on the read-ahead worker, so reading the fields once would not shorten the main
//! thread; salesforce's one-pass page read (`salesforce/records.rs`) would apply to the
//! worker's page parse only.
//!
//! Session 45 (rows24, core's Markdown writer; callgrind, `COMPARE_ONLY=load`, 5,000 x 3):
//! `record_document` 690.3 M -> 643.7 M instructions (46.0k -> 42.9k a record, -6.8%), the
//! whole process 2,187.1 M -> 2,141.1 M. The linked record's bullet (3.5k) is now a few
//! pushes: `link_bullet` of a plain id and a destination that needs no escaping writes
//! `[id](url)` without the inline writer (its state, three `Vec`s and two copies of the
//! destination); the front matter 4.56k -> 4.32k (ASCII keys checked through a byte table, the
//! YAML word list only for keys of five bytes or fewer). Documents byte-identical: md5 of the
//! 3,000 documents of this bench's records (a temporary test, NDJSON) is the same before and
//! after (`0a3a5863...`). `COMPARE_ONLY=load COMPARE_THREADS=1`, 5 alternating runs of 3
//! rounds each at load average 6-6.7: a round's wall median 209.5 -> 197.9 ms, the main
//! thread's CPU median 91.4 -> 87.1 ms, best-of-3 ratio to the raw fetch 2.08x -> 2.02x (on
//! the loaded machine; needs the quiet A/B).
//!
//! Session 45 (sfat24c): the record's id moves into its metadata value (one `String` copy
//! fewer) and the document's six metadata keys go in from the last to the first (one
//! comparison each): callgrind (5,000 x 3, base = HEAD ca425b0) String clones 16.3 M ->
//! 12.4 M, the metadata inserts 29.9 M -> 27.5 M. Tried and reverted, both measured:
//! - the conversion reading each field's value from where the read-ahead worker's `admit`
//!   found it (spans kept on the `Record`) instead of reading the whole record again:
//!   `record_document` 689.7 M -> 659.3 M instructions (-2.0k a record on the main thread),
//!   `admit` on the worker 257.9 M -> 266.2 M, whole process -20.8 M; yet wall was slower,
//!   4 alternating pairs at load average 5.8-6.1 (raw fetch 0.065-0.076 s): load 0.178 /
//!   0.145 / 0.140 / 0.142 s against base 0.171 / 0.143 / 0.138 / 0.137 s, and main-thread
//!   CPU did not fall (`COMPARE_THREADS=1`: 95-99 ms a round both). A list allocated on
//!   the worker and freed on the main thread per record, for a cut within the noise.
//! - filling the `fields` metadata map from the last name to the first (one comparison a
//!   name) instead of collecting it: no cheaper here (59.4 M before, about 59 M after) and
//!   dearer in salesforce's.
//!
//! Wall of what is kept, 10 alternating pairs at load average 2.8-5.5 (medians): load
//! 0.158 -> 0.156 s, full run 0.184 -> 0.178 s, within the noise (the raw fetch's own
//! medians were 0.093 and 0.067 s). Needs the quiet A/B: `/work/rt/sfat24c/new/airtable`
//! against `/work/notes/s45/base/airtable`.
//!
//! What is left on the main thread is core's: the fields read as values (`record_fields`,
//! 10.7k a record), the Markdown writer, the metadata map's key `String`s and nodes;
//! `record_link`'s `PathSegmentsMut::push` (1.4k) stays: a `Url` is only made by parsing,
//! and one segment pushed onto a parsed table link is the least parsing there is.
//!
//! The lead's quiet A/B (load 1.3-2.3; 5 alternating runs each, medians of the ratios to the
//! raw fetch): rows24's binary against ca425b0's, load 1.35x -> 1.32x, full 1.49x -> **1.42x**;
//! sfat24c's alone, 1.34x / 1.45x -> 1.35x / 1.45x (no measurable change).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use compare::Compare;

use connectors::misc::airtable::{AirtableConfig, AirtableConnector};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const PAGE: usize = 100;
const ROUNDS: usize = 3;
const BASE: &str = "appBench000000001";
const TABLE: &str = "tblBench000000001";

fn records() -> usize {
    loopback::env_size("AIRTABLE_BENCH_RECORDS", 20_000)
}

fn schema() -> String {
    json!({"tables": [{"id": TABLE, "name": "Tasks", "primaryFieldId": "fldName0000000001", "fields": [
        {"id": "fldName0000000001", "name": "Name", "type": "singleLineText"},
        {"id": "fldNotes000000002", "name": "Notes", "type": "multilineText"},
        {"id": "fldSumm0000000003", "name": "Summary", "type": "richText"},
        {"id": "fldStat0000000004", "name": "Status", "type": "singleSelect", "options": {"choices": []}},
        {"id": "fldTags0000000005", "name": "Tags", "type": "multipleSelects", "options": {"choices": []}},
        {"id": "fldOwnr0000000006", "name": "Owner", "type": "singleCollaborator"},
        {"id": "fldDue00000000007", "name": "Due", "type": "date"},
        {"id": "fldEst00000000009", "name": "Estimate", "type": "number"},
        {"id": "fldDone0000000008", "name": "Done", "type": "checkbox"},
        {"id": "fldSite0000000010", "name": "Website", "type": "url"},
        {"id": "fldLink0000000013", "name": "Blocked by", "type": "multipleRecordLinks", "options": {"linkedTableId": TABLE}},
        {"id": "fldMod00000000012", "name": "Last modified", "type": "lastModifiedTime", "options": {"referencedFieldIds": []}}
    ], "views": []}]})
    .to_string()
}

fn rec_id(n: usize) -> String {
    format!("rec{n:014}")
}

fn record(n: usize) -> Value {
    json!({"id": rec_id(n), "createdTime": "2025-03-01T10:00:00.000Z", "fields": {
        "Name": format!("Task {n}"),
        "Notes": "Tag the release_candidate branch, run the *full* test suite.\nAsk in #releases when in doubt; 2 reviewers sign off.",
        "Summary": "**Release** checklist with the [runbook](https://example.com/runbook)\n",
        "Status": "In progress",
        "Tags": ["release", "q3"],
        "Owner": {"id": "usrAb12Cd34Ef56Gh", "email": "ana@example.com", "name": "Ana Silva"},
        "Due": "2025-07-01",
        "Estimate": 3.5,
        "Done": true,
        "Website": "https://example.com/tasks",
        "Blocked by": [rec_id(n / 2)],
        "Last modified": "2025-03-01T10:05:00.000Z"
    }})
}

/// The record pages, pre-rendered; page `n`'s offset is `itrBench/{n}`.
struct Pages(Vec<String>);

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "offset")
            .and_then(|(_, v)| v.strip_prefix("itrBench/").and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let page = self.0.get(n).cloned().unwrap_or_default();
        ResponseTemplate::new(200).set_body_raw(page.into_bytes(), "application/json")
    }
}

fn pages(n: usize) -> Vec<String> {
    let all: Vec<Value> = (0..n).map(record).collect();
    let chunks: Vec<&[Value]> = all.chunks(PAGE).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut page = json!({"records": c});
            if i + 1 < chunks.len() {
                page["offset"] = json!(format!("itrBench/{}", i + 1));
            }
            page.to_string()
        })
        .collect()
}

/// The raw fetch: the schema, then the same pages by offset, each parsed.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let get = |url: String, query: Vec<(&'static str, String)>| async move {
        let bytes = client
            .get(url)
            .query(&query)
            .bearer_auth("bench")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    let schema = get(format!("{base}/v0/meta/bases/{BASE}/tables"), Vec::new()).await;
    assert_eq!(schema["tables"][0]["id"], TABLE);
    let mut requests = 1u64;
    let mut got = 0;
    let mut offset: Option<String> = None;
    loop {
        let mut query = vec![("pageSize", PAGE.to_string())];
        if let Some(o) = &offset {
            query.push(("offset", o.clone()));
        }
        let page = get(format!("{base}/v0/{BASE}/{TABLE}"), query).await;
        requests += 1;
        got += page["records"].as_array().unwrap().len();
        match page["offset"].as_str() {
            Some(o) => offset = Some(o.to_owned()),
            None => break,
        }
    }
    (got, requests)
}

fn main() {
    let n = records();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        Mock::given(method("GET"))
            .and(path(format!("/v0/meta/bases/{BASE}/tables")))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(schema().into_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/v0/{BASE}/{TABLE}")))
            .respond_with(Pages(pages(n)))
            .mount(&server)
            .await;
        println!("airtable loopback: {n} records, {PAGE} per page, 12 typed fields each");

        let config: AirtableConfig = connectors::core::config::from_json(json!({
            "base_id": BASE,
            "table_name_or_id": TABLE,
            "credentials": {"airtable_access_token": "bench"},
            "api_base_url": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
            // Airtable's 5 per second would make this a test of the limiter.
            "requests_per_second": 10_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "record",
            name: "AirtableConnector",
            width: 24,
        };
        compare
            .run(
                || raw(&client, &uri),
                || AirtableConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
