//! The `postgresql` and `mysql` connectors on a million rows of real servers (PostgreSQL and
//! MariaDB, started as the tests start them: `connector-misc/tests/rdbms_common/mod.rs`;
//! install them with `bash .ci/test-servers.sh`). Not run in CI: `cargo bench --bench rdbms`.
//!
//! A table `items (id, title, body ~250 bytes, updated_at)` with an index on
//! `(updated_at, id)`, at `RDBMS_BENCH_ROWS` (default 1,000,000) rows and a tenth of that.
//! Each side runs in a child process of its own, so its peak RSS (`VmHWM`) is its own:
//! - `raw`: one `SELECT * FROM items` streamed through sqlx (`fetch`), every column decoded
//!   (issue 24's baseline, "a raw `SELECT` through the same driver", unchanged);
//! - `raw_ordered`: one `SELECT * FROM items WHERE id > 0 ORDER BY id`, the same way. Printed
//!   next to `raw` because the connector's checkpoint, which a run resumes from (the last key
//!   handed on: `id`, or `(updated_at, id)` in a window), needs the rows in key order, which a
//!   plain `SELECT *` does not promise; the server's ordered scan is part of any resumable
//!   read. The ratio to `raw` stays the target's; the ratio to `raw_ordered` says how much of
//!   the rest is the connector's;
//! - `load`: the connector's full load (keyset pages of `page_size` on `id`), drained;
//! - `poll`: the connector's poll of a window holding every row (keyset pages on
//!   `(updated_at, id)`), drained.
//!
//! Printed: seconds, rows/s, the ratios to `raw` and `raw_ordered`, peak RSS at both sizes
//! (flat from 100k to 1M is the point: the connector holds a few pages) and the side's own CPU
//! time (user and system, the server's not counted: what a loaded machine changes least).
//! Then the plan of a window page (`EXPLAIN`) on both servers, to show the keyset spelling
//! uses the index.
//! `RDBMS_BENCH_SERVERS=pg` (or `my`) runs one server only; `RDBMS_BENCH_PAGE` sets the
//! connector's `page_size` (default 1,000); `RDBMS_BENCH_RAW_CAST` makes MariaDB's `raw`
//! select the time as its text, as the connector does (session 48, below).

//!
//! # Results
//!
//! Session 43 (branch rdbms24, against main 1dc498e), two cores shared by eight helpers (load
//! average 17-28): wall times were noise (MariaDB's `load` came out at 0.47-0.97x its `raw` in
//! the baseline's own rounds), so the comparison is in instructions (`valgrind --tool=callgrind
//! --trace-children=yes`, each side's own process, `RDBMS_BENCH_ROWS=20000`):
//!
//! | PostgreSQL, 20k rows | raw | load | poll |
//! | --- | --- | --- | --- |
//! | before | 108.9 M | 414.7 M (3.81x raw) | 414.5 M |
//! | after | 108.8 M | 322.2 M (2.96x raw) | 323.1 M |
//!
//! Per row beyond the fixed cost (20k less 2k rows): raw 3.9k instructions, load 19.1k before,
//! 14.5k after. MariaDB, 20k rows: raw 229.4 M, load 541.2 M before, 453.6 M after. Of a loaded
//! row's instructions after: reading and decoding it (the read-ahead task) about 5k, building
//! its document about 7k (the fields fingerprint 1.4k, the body's plain-run scan 2k, the
//! document's allocations), the bench dropping it about 1.4k. Where the time went before:
//! building documents on the consumer's thread (the Markdown writer's per-character path for
//! a plain body 3.7k, the text hashed twice 1.3k, titles walked char by char 0.8k, `format!`
//! of the id 1.1k); the next page's query already went out while a page was converted
//! ([`read_ahead`](connector_core::pages::read_ahead)), and the costs do not grow with the
//! table (per row the same at 100k and 1M; the ratio grows because `raw`'s fixed cost, the
//! connection's SCRAM, is spread over more rows). `poll` costs the client what `load` does:
//! its extra wall time is the server's (a range scan of the `(updated_at, id)` index with a
//! heap or, on MariaDB, a primary-key lookup per row).
//!
//! Documents byte-identical: `rdbms` tests `*_ten_thousand_rows_are_pinned` (digests of a 10k
//! load and poll on both servers, pinned from main). Peak RSS 12-14 MiB, as before.
//!
//! Session 44 (branch rdbms24b, against main 17895e8; callgrind as above, PostgreSQL 20k rows):
//! load 322.9 M -> 297.0 M instructions (2.97x -> 2.73x raw's 108.9 M); per row beyond the
//! fixed cost 14.5k -> 13.2k; MariaDB 20k rows: load 454.3 M -> 427.0 M (1.98x -> 1.86x raw's
//! 229.4 M), per row 22.7k -> 21.3k. Where it came from: the read-ahead task's decode chose each
//! column's type by comparing its name with a dozen literals per row and column (now once per
//! result: 2.5k -> 2.2k a row there); the page's batch grew by doubling (now reserved); each
//! document went through a boxed `Outcome` (now pushed straight in); the id was written twice
//! (once by `fmt`, then copied by `Document`: now written once and moved in). Tried and left
//! out: an eight-byte SWAR scan in `plain_run` (the body's Markdown check) cost more, not less
//! (2.09k -> 2.55k instructions a body; 64-bit masks are a `movabs` each on x86-64 and the
//! body has a space every few bytes). Wall time, 300k rows, base and new alternating at load
//! average 2-5 (11 rounds PostgreSQL, 5 MariaDB), medians: PostgreSQL load 0.661 -> 0.624 s,
//! poll 0.719 -> 0.689 s (raw 0.25 s; runs are bimodal, 0.40 or 0.66 s, on either binary);
//! MariaDB load 0.855 -> 0.616 s, poll 0.852 -> 0.732 s (raw 0.31-0.33 s). Left per loaded
//! row on the consumer: Markdown plain check of the body 2.1k, the fields fingerprint 1.4k
//! (a third of it `jsonw::write_map` of the one `table` entry), seven allocations (id, title,
//! text, fingerprint, the `table` value, the metadata node, the row's short-lines list).
//! The lead's A/B on a quiet machine (load average 1.2-1.6, 300k rows, base 17895e8 and the
//! branch alternating, 2 runs each): PostgreSQL load 0.381/0.394 -> 0.372/0.374 s (raw
//! 0.136-0.146 s: about 2.6x), poll 0.442/0.453 -> 0.405/0.409 s; MariaDB load 0.637/0.655 ->
//! 0.588/0.615 s (raw 0.305-0.340 s: about 1.9x), poll 0.757/0.774 -> 0.710/0.721 s.
//!
//! Session 45 (rows24, against main ca425b0; callgrind as above, 20k rows, each side's own
//! process): PostgreSQL load 292.0/292.4 M -> 284.9/284.4 M instructions (2.68x -> 2.61x raw's
//! 108.9 M; -365 a row), poll 292.1/292.2 M -> 285.1/284.7 M; MariaDB load 422.6/422.7 M ->
//! 417.9/417.9 M (1.84x -> 1.82x raw's 229.3 M), poll 423.0/422.9 M -> 418.1/418.2 M. Where:
//! each column decoded from the one raw value the decode looks up (`try_get_unchecked` looked
//! it up a second time, cloning its type info), and a row's short `**column:** value` lines
//! held on the stack (no `Vec` a row). Tried and taken back: moving the title's text out of the
//! row instead of copying it (`title_of`) cost more than it saved (PostgreSQL load 287.9 M with
//! it): glibc's slow path (`_int_malloc`) +410 instructions a row, as the row's freed title no
//! longer refilled the consumer thread's tcache for the next row's small strings. Documents
//! byte-identical (the pinned ten-thousand-row digests hold on both servers).
//! The lead's quiet A/B (load 0.9-1.4; rows24's binary against ca425b0's, 300k rows, 6
//! alternating runs each, medians): PostgreSQL raw 0.149 / 0.1515 s, load 0.3775 -> 0.389 s,
//! poll 0.4215 -> 0.395 s; MariaDB raw 0.311 -> 0.3275 s, load 0.6075 -> 0.622 s, poll 0.747
//! -> 0.740 s. Load a little slower, poll a little faster, and MariaDB's raw SELECT (code this
//! change does not touch) slower in the new binary's runs too: no wall change this run can
//! tell from the binary's layout; the instruction cut (above) is kept. Still about 2.6x
//! (PostgreSQL) and 2.0x (MariaDB) of the raw SELECT.
//!
//! Session 46 (rdbms46, against main 19ca800; callgrind as above, 20k rows, each side's own
//! process): PostgreSQL load 285.8/285.9 M -> 242.4/241.6 M instructions (2.62x -> 2.22x
//! raw's 108.9 M; per row beyond the fixed cost 12.6k -> 10.4k, raw 3.9k), poll 285.7/286.1 M
//! -> 242.8/242.0 M; MariaDB load 418.8/418.9 M -> 375.8/375.6 M (1.82x -> 1.64x raw's
//! 229.5 M; per row 20.9k -> 18.7k, raw 11.4k), poll 418.9/419.1 M -> 376.2/376.2 M. Where:
//!
//! - a page of rows is read into a few page-wide buffers (`rdbms::page::Rows`: one cell a
//!   column, every text column's text in one `String`) and rendered from borrowed values
//!   (`connector_core::rows::{ValueRef, RowValues}`): no `Row` vector and no `String` per
//!   text column per row, made on the read-ahead task's thread and freed on the consumer's
//!   (glibc's slow path both ways);
//! - the Markdown plain check of the body (`plain_run`) passes over 16-byte blocks with
//!   vector compares (plain bytes and single spaces, no table look-up): 2.1k -> 1.0k a
//!   253-byte body;
//! - a row's text buffer is sized from its values (about 300 bytes here) instead of a fixed
//!   1 KiB, which glibc takes as a "large" request and answers by sorting its free chunks
//!   (`malloc_consolidate`; `_int_malloc` 25.8 M -> 16.0 M);
//! - the fingerprint's `{"table":…}` written as it is rather than by walking the metadata
//!   map (`jsonw::write_map` 357 -> 152 a row), and `PartsHasher::part` kept inline (the
//!   closure-taking fingerprint had left it out of line: 135 a row).
//!
//! Client CPU time fell more than the instructions did (cross-thread frees cost time that
//! callgrind does not count). 300k rows, base and branch alternating, 3 runs each at load
//! average 4.2-4.8, medians: PostgreSQL raw 0.329 / 0.264 s, load 1.067 -> 0.691 s (3.2x ->
//! 2.6x), poll 0.880 -> 0.777 s, client CPU load 0.52 -> 0.38 s, poll 0.52 -> 0.39 s (raw
//! 0.13-0.15 s); MariaDB raw 0.413 / 0.407 s, load 0.899 -> 0.623 s (2.2x -> 1.5x), poll 1.139
//! -> 0.885 s, client CPU load 0.66 -> 0.43 s, poll 0.68 -> 0.43 s (raw 0.29 s). An earlier
//! run of the branch without the inline `part` (load 7.7-9.1) gave the same client CPU cut
//! (PostgreSQL 0.51 -> 0.33 s, MariaDB 0.68 -> 0.44 s). Page size (`RDBMS_BENCH_PAGE`, one
//! run each at load 7.5): client CPU 0.30 s at 250 rows a page, 0.35 s at 1,000, 0.42 s at
//! 5,000 (the page's buffers and documents past the caches); the default is unchanged.
//! Documents byte-identical: the pinned ten-thousand-row digests hold on both servers. Peak
//! RSS 11-12 MiB (12-13 before).
//!
//! Session 47 (pg47, against main 2986485; the children run on servers kept between runs,
//! 300k rows, base and branch alternating). Where the wall goes on PostgreSQL (`perf sched`
//! per thread, base, load average 3-6): the consumer (converting) ran 235-258 ms and waited
//! for its next page a median 0.9 ms each page (it is not the bottleneck); the read-ahead
//! task 145-190 ms, split between both Tokio workers; the server's backend 167-193 ms
//! (`EXPLAIN ANALYZE`: 300 index-scan pages 0.32 ms each, about the 100 ms of one index scan
//! of the table; a raw seq scan 55 ms); raw: client 152 ms, server 126 ms. The two cores are
//! shared by the three threads (and by other sessions' builds), so the wall follows the total
//! CPU: about 0.55 s against raw's 0.28 s. MariaDB: consumer 185-202 ms, read-ahead task
//! 310-360 ms (the bottleneck), server 160-260 ms; raw client 327 ms, server 167 ms.
//!
//! - Pages read four ahead ([`read_ahead_by`](connector_core::pages::read_ahead_by)) rather
//!   than one: the consumer's thread 235-241 -> 171-175 ms of CPU (its page faults, 7% of its
//!   samples, gone). 9 runs a side at load 5.3-6.0, medians: PostgreSQL load client CPU 0.38
//!   -> 0.30 s, wall 0.661 -> 0.476 s; MariaDB 0.50 -> 0.48 s, 0.923 -> 0.849 s (two ahead:
//!   0.32 s / 0.497 s, eight: 0.30 s / 0.487 s on PostgreSQL). The final binary, 7 runs a
//!   side at load 8.0-8.4: PostgreSQL raw 0.401 / 0.381 s, load 1.033 -> 0.919 s (CPU 0.46
//!   -> 0.37 s; 2.4x raw), poll 1.373 -> 1.079 s (0.45 -> 0.37 s); MariaDB load CPU 0.54-0.55
//!   s either way (its wall at that load noise: 1.14 / 1.23 s medians, raw 0.71 s). 1M rows,
//!   PostgreSQL load CPU 1.45-1.63 -> 1.23-1.27 s; peak RSS 12-14 MiB (12 before).
//! - Page size (base, `RDBMS_BENCH_PAGE`, 7 runs at load 5.7): PostgreSQL client CPU 0.31 s
//!   at 250 rows, 0.36 s at 500, 0.38 s at 1,000 and 2,000; MariaDB the other way, 0.55 s at
//!   250, 0.50 s at 500, 0.46 s at 1,000, 0.51 s at 2,000. No size wins on both: the default
//!   stays 1,000.
//! - Tried and left out: handing a converted page's buffers back to the reading task for the
//!   next page (no change: PostgreSQL CPU 0.37 / 0.38 s, MariaDB 0.48 / 0.50 s). Not tried:
//!   converting a page's rows on both cores (the consumer waits for pages and no core is
//!   idle), the consumer's per-row work.
//!
//! Session 48 (pg48, against main 52fe629's rdbms code, pg47's binary as the base; callgrind as
//! above, 20k rows, each side's own process). The reading task, where sqlx's decode costs
//! more than the value:
//!
//! - MariaDB: sqlx-mysql 0.9.1 formats each `DATE`, `DATETIME`, `TIMESTAMP` and `TIME`
//!   column's description with `{:?}` for every row it reads (`BinaryRow::decode_with`: an
//!   error message made with `ok_or` rather than `ok_or_else`, then dropped), 7.4k
//!   instructions a row for the bench's one `DATETIME`, more than the rest of a loaded row.
//!   The connector now selects dates and times as their text (`CAST(... AS CHAR)`) and reads
//!   them back by hand (`rdbms::decode::my_datetime`: the zero date a NULL, an impossible date
//!   the driver's message, as before). `raw` (`SELECT *`) still pays it: 229.6 M
//!   instructions; with the time cast as the connector does (`RDBMS_BENCH_RAW_CAST`) 80.4 M.
//!   Load 376.3 M -> 227.6 M (the reading task 227.0 M -> 79.7 M), poll -> 227.9 M.
//! - PostgreSQL: text checked as UTF-8 by `simdutf8` (396 -> 296 instructions a row) and the
//!   `timestamp` read from its eight bytes (337 -> 155): load 244.8 M -> 238.4 M, poll
//!   239.1 M; raw 108.9 M.
//!
//! Wall and client CPU, 300k rows, 7 alternating rounds of raw / base / new at load average
//! 4.9-5.3, medians: MariaDB raw 0.607 s (CPU 0.31 s), raw with the time cast 0.485 s (0.16
//! s), load 0.830 -> 0.671 s (CPU 0.50 -> 0.34 s): 1.1x raw by wall and by CPU (1.4x and
//! 2.1x the cast raw's); poll (4 rounds) 1.266 -> 0.952 s (0.49 -> 0.33 s). PostgreSQL raw
//! 0.262 s (0.14 s), load 0.511 / 0.516 s (CPU 0.32 / 0.31 s): about 2.0x raw by wall,
//! 2.2x by CPU, the 3% fewer instructions not visible at this load. 1M rows (2 rounds,
//! load 5.3-5.9): MariaDB load CPU 1.69-1.76 -> 1.22-1.24 s (raw 1.08-1.09, cast raw 0.60-0.68),
//! PostgreSQL 1.16-1.18 -> 1.03-1.12 s (raw 0.50); peak RSS 11-14 MiB as before (flat from
//! 300k). Per thread (`perf sched`, MariaDB load, 300k): the reading worker 290-315 -> 147-150
//! ms, the consumer 171-177 ms either way, the server 147-157 -> 192-202 ms (the cast costs it
//! about 0.15 µs a row). Documents byte-identical: the pinned ten-thousand-row digests hold
//! on both servers.
//!
//! Session 50 (pg51, main 858c497; callgrind `--separate-threads=yes`, 20k rows, s49's base
//! binary). Per thread, PostgreSQL load 239.1 M: the converting thread 148.1 M (7.4k a row:
//! conversion 5.9k, the bench dropping the page 1.4k), the reading task 59.8 M (3.0k), SCRAM
//! 31.1 M; raw 108.9 M (3.9k a row past SCRAM). MariaDB load 228.2 M: converting 148.0 M,
//! reading 80.0 M; the cast raw 80.4 M. The reading side costs what `raw` does on both
//! servers: the excess is the converting thread, and a third of it is glibc's allocator
//! (`_int_malloc` 16.0 M, `_int_free` 19.3 M, `malloc_consolidate` 7.2 M, `malloc`/`free`
//! 8.9 M): a document is six allocations (id, title, text, fingerprint, the `table` value,
//! the metadata map's node) made a page at a time and freed a page later, more than glibc's
//! per-thread cache (seven chunks a size) holds. With a cache of any size
//! (`GLIBC_TUNABLES=glibc.malloc.tcache_count=65535`) the converting thread takes 119.4 M.
//! Smaller pages do not help (`RDBMS_BENCH_PAGE=125`: 147.3 M).
//!
//! - `rdbms_mimalloc`: this bench under the allocator the `connectors` binary ships (mimalloc,
//!   `no_thp`): PostgreSQL load 239.1 M -> 197.0 M (converting 111.0 M), raw 106.5 M; MariaDB
//!   load 189.2 M (converting 110.9 M), cast raw 74.5 M (the mimalloc binary carried the
//!   reverted change below: 0.7 M of its 37 M). 300k rows, children on servers kept between
//!   runs, glibc and mimalloc binaries alternating, 7 rounds twice at load average 6.9-7.6,
//!   medians (wall, client CPU): PostgreSQL load 0.788 / 0.716 s -> 0.582 / 0.661 s, CPU
//!   0.34 / 0.32 -> 0.28 s (raw 0.338 / 0.319 s, CPU 0.15 s: 2.1x -> 2.1x by wall, 2.1x ->
//!   1.9x by CPU); MariaDB load 1.001 / 0.954 s -> 0.739 / 0.650 s, CPU 0.41 / 0.38 -> 0.31 /
//!   0.30 s (cast raw 0.619 / 0.567 s, CPU 0.16 s: 1.5x -> 1.15x by wall, 2.4x -> 1.9x by
//!   CPU). Two more rounds at load 4.3-5.3 (s49's, then s50's base binary): PostgreSQL load
//!   0.485 / 0.442 -> 0.430 / 0.422 s, CPU 0.31 / 0.30 -> 0.27 s (raw 0.27-0.29 s: 1.8x /
//!   1.7x -> 1.5x); MariaDB 0.613 / 0.567 -> 0.494 / 0.498 s, CPU 0.37 / 0.36 -> 0.30 / 0.29 s
//!   (cast raw 0.30-0.34 s: 1.8x -> 1.6x). Under glibc neither is within 1.5x; under
//!   mimalloc both are near it on a lightly loaded machine, 1.9x raw's client CPU.
//! - Tried and reverted: a row's content values looked up once in `RowLayout::render` (sized,
//!   then written from the same values): the converting thread 148.1 M -> 147.4 M.
//!
//! Session 51 (meta52, `rdbms_mimalloc`, callgrind as above, 20k rows, against `s51/base`):
//! `Document::metadata` a sorted `Vec` map of core's own instead of a `BTreeMap`. The converting
//! thread, PostgreSQL 111.94 M -> 111.35 M, MariaDB 111.91 M -> 111.33 M: 30 instructions a row
//! of 5.6k. The map's drop fell (`BTreeMap` drop 210 a row -> 98, the `Document`'s 373 -> 260),
//! but the one `table` entry's insert rose 196 -> 279: the `Vec`'s first push goes through
//! `RawVec::grow_one` and mimalloc's generic aligned path for its 224 bytes (230 of the 279),
//! where the `BTreeMap`'s 640-byte node took the fast path. 300k rows, 5 alternating rounds at
//! load 2.9-3.1, medians (wall, client CPU): PostgreSQL load 0.396 -> 0.363 s, CPU 0.25 s both
//! (raw 0.247 / 0.257 s); MariaDB load 0.414 -> 0.440 s, CPU 0.27 -> 0.26 s (cast raw 0.273 /
//! 0.288 s): within the noise, about 1.4-1.6x raw either way. Next: the row's one entry made with
//! `Metadata::with_capacity(1)` (a direct allocation of 56 bytes), not measured.
//!
//! Session 53 (2026-12-07, rdbms59 against main d7dab72, `rdbms_mimalloc`; callgrind as
//! above, 20k rows, each side's own process, base and branch built from one seed). A row's
//! metadata made to measure (`Metadata::with_capacity` of its entries, one for a table's
//! `table`: the 224-byte first growth went through `RawVec::grow_one` and mimalloc's
//! aligned generic path) and the title's line-end check by bytes (`title_of`; a `[char]`
//! pattern decoded each character): the converting thread, PostgreSQL 111.78 M -> 109.22 M
//! (5.59k -> 5.46k a row: the allocation -108, the title -20), MariaDB 111.75 M -> 109.19 M.
//! The loads, whole process: PostgreSQL 198.1 M -> 197.2 M (the reading task +1.7 M: sqlx's
//! `PgRow::try_get_raw`, untouched, is no longer inlined into `postgresql::driver::decode`
//! in this build of the crate, a code-generation accident), MariaDB 190.0 M -> 187.5 M; raw
//! 106.5 M / 213.6 M (uncast) either way. Wall, 300k rows, 5 alternating rounds of base and
//! branch at load average 4.2-6.0, medians (best of two per round; wall, client CPU):
//! PostgreSQL load 0.660 -> 0.619 s, CPU 0.36 s both (raw 0.478 / 0.507 s, CPU 0.25 s: 1.4x
//! -> 1.2x by wall, 1.4x by CPU); MariaDB load 0.754 -> 0.756 s, CPU 0.41 -> 0.39 s (cast
//! raw 0.561 / 0.511 s, CPU 0.22 s: 1.3x -> 1.5x by wall, 1.8x by CPU). At that load the
//! rounds spread 0.48-1.19 s: the 2% cut is not visible in wall time. Both are about 1.2-1.5x
//! raw by wall; by client CPU PostgreSQL is about 1.4x and MariaDB about 1.8x, the
//! converting thread (5.5k instructions a row: the body's Markdown check 1.0k, the
//! fingerprint's copy and xxh3 0.6k, `RowRef::get` 0.3k, the rendering) still the excess.
//! Documents byte-identical: the pinned ten-thousand-row digests hold on both servers.
//!
//! Session 54 (rdbms60 against main a120401, `rdbms_mimalloc`, PostgreSQL; callgrind as
//! above, 20k rows, the child run alone on a server kept between runs). The converting thread
//! 109.29 M -> 107.10 M instructions (5.46k -> 5.35k a row): the body's Markdown check
//! (`plain_run`) in blocks of 32 bytes, then one of 16 (988 -> 929 a row: the loop and the
//! look-up of the byte after a block paid half as often), and a title's blank check answered
//! at its first byte when that is a visible ASCII character (`trim`, 51 a row, -> 8). The
//! load, whole process, 196.8 M -> 194.5 M; raw 106.5 M. Tried in a copy of `plain_run`
//! alone: other spellings of the byte test (LLVM makes the same compares of them), blocks of
//! 64 (a further -64 a body, but a block that fails costs 64 + 32 + 16 bytes of compares
//! before the byte loop, so text with a special character every few dozen bytes pays more).
//! `perf stat -e instructions:u` is not supported on this machine (a VM without counters).
//! 300k rows, client task-clock (`perf stat -r 5`, the child alone), 5 rounds of raw, base,
//! new, new, base at load average 6.1-7.1: medians raw 226 ms, load 412.5 -> 404.7 ms (0.98x;
//! 1.82x -> 1.79x raw's CPU); again at load 3.0-4.3: raw 280.5 ms, load 444.9 -> 433.0 ms
//! (0.97x; 1.59x -> 1.54x). Within the noise, and not within 1.5x raw.
//!
//! Session 55 (pg67 against main baa3e1c, `rdbms_mimalloc`, PostgreSQL 15 on the same two
//! cores). Tried and reverted: a page of 256 rows or more converted in two halves, the first
//! on Tokio's blocking pool while the consumer converted the second, joined in order
//! (cf2a2d9). Callgrind, 20k rows: the converting thread 107.1 M -> 61.9 M on the consumer and
//! 50.3 M on the blocking thread, the process 195.1 M -> 200.0 M (the second half's documents
//! moved into the page's batch, and the first half's freed on another thread than made them).
//! 300k rows, the child alone, base and split alternating with raw in each round (`perf stat
//! -e task-clock`): 12 rounds at load average 2.1-2.7, medians raw 0.401 s (242 ms CPU), load
//! 0.641 -> 0.669 s (399 -> 452 ms CPU: 1.13x); 8 rounds at 3.2-3.6, raw 0.457 s, load 0.710
//! -> 0.683 s (CPU 0.39 -> 0.41 s). Per thread (`perf stat --per-thread`, base, load 2.5): the
//! consumer 172-194 ms, the two workers (the reading task, SCRAM) 185-195 ms, and the server's
//! backend besides: three busy threads on two cores, so the wall follows the total CPU and a
//! second converting thread finds no idle core (as `convert_blocking`'s rule below four cores
//! says). No idle moment came (load average never under 2).
//!
//! Session 56 (pg73 against main 7f308ed, `rdbms_mimalloc`, 300k rows, each child alone on a
//! server kept between runs, base and branch alternating; load average 3.3-4.4 from other
//! sessions' builds, so walls spread about ±20%). A load's keyset query asks for 16 pages
//! and its rows are cut into pages as they arrive, each handed on with its checkpoint before
//! the next rows are read (`rdbms::walk`, `LOAD_PAGES_A_QUERY`; windows keep one page a
//! query). sqlx alone first (`raw_keyset`, no conversion): 1,000-row pages 1.3-2.9x one
//! ordered query, 16,000-row 0.8-1.2x. `raw_ordered` is now run on MariaDB too and printed
//! with `raw`. Medians (wall; `perf stat -e task-clock`; peak RSS):
//!
//! | | raw | raw_ordered | load, main | 8 pages a query | 16 (kept) |
//! | --- | --- | --- | --- | --- | --- |
//! | PostgreSQL, 12 rounds | 0.450 s | 0.500 s | 0.675 s, 404 ms, 12-16 MiB | 0.588 s, 399 ms | 0.557 s, 388 ms, 15-16 MiB |
//! | MariaDB (time cast), 10 | 0.493 s | 0.552 s | 0.657 s, 406 ms, 11-16 MiB | 0.631 s, 375 ms | 0.608 s, 375 ms, 15-16 MiB |
//!
//! Per round against main: PostgreSQL 0.85x (8 pages 0.88x), MariaDB 0.91x (0.95x). Against
//! `raw`: PostgreSQL 1.50x -> 1.24x (same-round 1.53x -> 1.29x), 1.12x of `raw_ordered`;
//! MariaDB 1.33x -> 1.23x of the cast `raw`, 1.11x -> 1.04x of the plain `SELECT *` (6
//! rounds). 1M rows, PostgreSQL, 3 rounds: load 1.89-2.22 -> 1.65-1.92 s (raw 1.24-1.38 s),
//! peak RSS 15.7-16.0 MiB either way: flat from 300k. Peak RSS rose 1-3 MiB at 300k because
//! the read-ahead's queue ([`read_ahead_by`](connector_core::pages::read_ahead_by), four
//! pages) is now full where the reader used to be behind; it does not grow with the pages a
//! query (8 and 16 the same). The final binary again, 12 rounds a server at load 4.2-4.6:
//! 0.85x (PostgreSQL) and 0.90x (MariaDB) of main's wall, same-round 1.41x and 1.39x `raw`
//! (main 1.70x, 1.49x). Not measured at idle.
//!
//! Session 56 (conv73 against main 7f308ed, `rdbms_mimalloc`, PostgreSQL; callgrind as above,
//! 20k rows, the child alone). The converting thread 107.09 M -> 98.84 M instructions (5.35k
//! -> 4.94k a row), the process 194.4 M -> 186.6 M. Two changes, the documents byte for byte
//! the same (`RDBMS_BENCH_DIGEST`, a SHA-256 of every document's JSON: the same digest from
//! both builds on 20k and 300k rows; the pinned ten-thousand-row tests pass):
//!
//! - a column's name (as a heading) and label checked once for escaping, in
//!   `RowLayout::new`, not in every row (107.09 -> 104.64 M: the checks' `plain_run` of
//!   `title:` and `body`, -120 a row);
//! - a row's document made where it is returned and pushed straight into the batch
//!   (`RowLayout::render_into`; its fingerprint taken from the fields before it is made):
//!   a `Document` is 432 bytes, and it was copied whole four times a row (twice in
//!   `convert`, once each in `render` and `text_with_fields_json`: filled in place, then
//!   moved out and through a `Result`), each a `memcpy` of about 76 instructions; now once,
//!   into the batch (104.64 -> 98.84 M, -290 a row; `memcpy` 527 -> 300 a row).
//!
//! Left a row: the body's Markdown check 706, xxh3 and its hex 575, `RowRef::get` 335
//! (looked up eight times a row), the allocations. CPU time (`perf stat -r 15 -e task-clock`
//! of the child, 300k rows, base and branch alternating, three sets of 8 pairs), medians:
//! at load average 5.1-8.0 409.8 -> 387.8 ms (0.95x; pairs 0.66-1.34), at 1.6-2.5 386.3 ->
//! 398.5 ms (1.03x; pairs 0.96-1.11), at 0.9-2.2 373.5 -> 370.5 ms (0.99x; pairs 0.82-1.10);
//! raw 207-262 ms (about 1.8x raw's CPU either way at the lower loads). The 4% fewer
//! instructions of the process are within that noise: not shown in CPU time.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "../connector-misc/tests/rdbms_common/mod.rs"]
mod rdbms_common;

use std::process::Command;
use std::time::Instant;

use connector_core::{Connector, SyncContext, TimeWindow};
use futures::{StreamExt, TryStreamExt};
use sqlx::Connection as _;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's CPU time (user and system), in seconds: from `/proc/self/stat`, in clock
/// ticks of 1/100 s (Linux's `USER_HZ`).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command's `)`: state is the 3rd field, utime the 14th.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

fn url(kind: &str, port: u16, db: &str) -> String {
    match kind {
        "pg" => format!(
            "postgres://{}:{}@127.0.0.1:{port}/{db}",
            rdbms_common::USER,
            rdbms_common::PASSWORD
        ),
        _ => format!(
            "mysql://{}:{}@127.0.0.1:{port}/{db}",
            rdbms_common::USER,
            rdbms_common::PASSWORD
        ),
    }
}

/// One side, in this (child) process: returns (rows, seconds).
async fn child(kind: &str, port: u16, db: &str, mode: &str) -> (usize, f64) {
    let started = Instant::now();
    let rows = match mode {
        // The rows in id order, raw through sqlx: one query (`raw_ordered`), or keyset pages
        // (`RDBMS_BENCH_PAGE`, default 1,000) one after another as the connector's load once
        // read them (`raw_keyset`), each row decoded and dropped (on MariaDB the time selected
        // as its text under `RDBMS_BENCH_RAW_CAST`, as `raw`). `raw_keyset` runs only as a
        // child (`RDBMS_BENCH_CHILD="pg PORT DB raw_keyset"`): where the load's wall time
        // goes when nothing is converted (session 55).
        "raw_ordered" | "raw_keyset" => {
            use sqlx::Row as _;
            // The keyset pages' size: `RDBMS_BENCH_PAGE`, as the connector's.
            let limit: i64 = std::env::var("RDBMS_BENCH_PAGE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            let ordered = mode == "raw_ordered";
            let mut n = 0usize;
            let mut after = 0i32;
            if kind == "pg" {
                let mut c = sqlx::PgConnection::connect(&url(kind, port, db))
                    .await
                    .unwrap();
                loop {
                    let query = if ordered {
                        sqlx::query("SELECT * FROM items WHERE id > $1 ORDER BY id").bind(after)
                    } else {
                        sqlx::query("SELECT * FROM items WHERE id > $1 ORDER BY id LIMIT $2")
                            .bind(after)
                            .bind(limit)
                    };
                    let mut rows = query.fetch(&mut c);
                    let mut page = 0usize;
                    while let Some(r) = rows.try_next().await.unwrap() {
                        let row: (i32, String, String, chrono::NaiveDateTime) =
                            (r.get(0), r.get(1), r.get(2), r.get(3));
                        after = row.0;
                        page += 1;
                    }
                    n += page;
                    if ordered || (page as i64) < limit {
                        break;
                    }
                }
            } else {
                let mut c = sqlx::MySqlConnection::connect(&url(kind, port, db))
                    .await
                    .unwrap();
                let cast = std::env::var_os("RDBMS_BENCH_RAW_CAST").is_some();
                let columns = if cast {
                    "id, title, body, CAST(updated_at AS CHAR)"
                } else {
                    "*"
                };
                let sql = if ordered {
                    format!("SELECT {columns} FROM items WHERE id > ? ORDER BY id")
                } else {
                    format!("SELECT {columns} FROM items WHERE id > ? ORDER BY id LIMIT ?")
                };
                loop {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(after);
                    if !ordered {
                        query = query.bind(limit);
                    }
                    let mut rows = query.fetch(&mut c);
                    let mut page = 0usize;
                    while let Some(r) = rows.try_next().await.unwrap() {
                        let (id, _, _): (i32, String, String) = (r.get(0), r.get(1), r.get(2));
                        if cast {
                            let _: String = r.get(3);
                        } else {
                            let _: chrono::NaiveDateTime = r.get(3);
                        }
                        after = id;
                        page += 1;
                    }
                    n += page;
                    if ordered || (page as i64) < limit {
                        break;
                    }
                }
            }
            n
        }
        "raw" => {
            use sqlx::Row as _;
            let mut n = 0usize;
            if kind == "pg" {
                let mut c = sqlx::PgConnection::connect(&url(kind, port, db))
                    .await
                    .unwrap();
                let mut rows = sqlx::query("SELECT * FROM items").fetch(&mut c);
                while let Some(r) = rows.try_next().await.unwrap() {
                    let _: (i32, String, String, chrono::NaiveDateTime) =
                        (r.get(0), r.get(1), r.get(2), r.get(3));
                    n += 1;
                }
            } else {
                let mut c = sqlx::MySqlConnection::connect(&url(kind, port, db))
                    .await
                    .unwrap();
                if std::env::var_os("RDBMS_BENCH_RAW_CAST").is_some() {
                    // The time as its text, as the connector selects it (sqlx-mysql 0.9.1
                    // formats a temporal column's description for every row it reads).
                    let sql = "SELECT id, title, body, CAST(updated_at AS CHAR) FROM items";
                    let mut rows = sqlx::query(sql).fetch(&mut c);
                    while let Some(r) = rows.try_next().await.unwrap() {
                        let _: (i32, String, String, String) =
                            (r.get(0), r.get(1), r.get(2), r.get(3));
                        n += 1;
                    }
                } else {
                    let mut rows = sqlx::query("SELECT * FROM items").fetch(&mut c);
                    while let Some(r) = rows.try_next().await.unwrap() {
                        let _: (i32, String, String, chrono::NaiveDateTime) =
                            (r.get(0), r.get(1), r.get(2), r.get(3));
                        n += 1;
                    }
                }
            }
            n
        }
        _ => {
            let mut config = rdbms_common::config(port, db);
            config.timestamp_column = Some("updated_at".into());
            config.title_column = Some("title".into());
            if let Some(n) = std::env::var("RDBMS_BENCH_PAGE")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                config.page_size = n;
            }
            let connector: Box<dyn Connector> = if kind == "pg" {
                Box::new(connector_misc::postgresql::connector(config).unwrap())
            } else {
                Box::new(connector_misc::mysql::connector(config).unwrap())
            };
            let mut stream = if mode == "load" {
                connector.as_load().unwrap().load(SyncContext::new())
            } else {
                let w = TimeWindow::new(
                    "2024-01-01T00:00:00Z".parse().unwrap(),
                    "2030-01-01T00:00:00Z".parse().unwrap(),
                )
                .unwrap();
                connector.as_poll().unwrap().poll(w, SyncContext::new())
            };
            // `RDBMS_BENCH_DIGEST`: every document's JSON line hashed (SHA-256) and the digest
            // printed, to hold two builds' documents (ids, text, metadata, fingerprints) byte
            // for byte the same on a table of any size (session 56).
            let mut digest = std::env::var_os("RDBMS_BENCH_DIGEST").map(|_| {
                use sha2::Digest as _;
                sha2::Sha256::new()
            });
            let mut n = 0usize;
            while let Some(page) = stream.next().await {
                let page = page.unwrap();
                assert!(page.failures.is_empty());
                n += page.documents.len();
                if let Some(hash) = &mut digest {
                    use sha2::Digest as _;
                    for d in &page.documents {
                        hash.update(serde_json::to_vec(d).unwrap());
                        hash.update(b"\n");
                    }
                }
            }
            if let Some(hash) = digest {
                use sha2::Digest as _;
                let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
                println!("DIGEST {n} {hex}");
            }
            n
        }
    };
    (rows, started.elapsed().as_secs_f64())
}

async fn seed(kind: &str, rows: usize) -> String {
    let make = "CREATE TABLE items (id INT PRIMARY KEY, title VARCHAR(100), body TEXT, updated_at TIMESTAMP(6) NOT NULL)";
    let make = if kind == "pg" {
        make.to_owned()
    } else {
        make.replace("TIMESTAMP(6)", "DATETIME(6)")
    };
    let fill = if kind == "pg" {
        format!(
            "INSERT INTO items SELECT g, 'Item ' || g, repeat('body text of a row ', 13) || g, \
             timestamp '2025-01-01' + (g / 10) * interval '1 second' FROM generate_series(1, {rows}) g"
        )
    } else {
        format!(
            "INSERT INTO items SELECT seq, CONCAT('Item ', seq), CONCAT(REPEAT('body text of a row ', 13), seq), \
             TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (seq DIV 10) SECOND FROM seq_1_to_{rows}"
        )
    };
    // Ten rows share each timestamp, so pages end inside runs of ties.
    let index = "CREATE INDEX items_cursor ON items (updated_at, id)";
    if kind == "pg" {
        rdbms_common::pg_database(&[&make, &fill, index, "ANALYZE items"]).await
    } else {
        rdbms_common::my_database(&[&make, &fill, index, "ANALYZE TABLE items"]).await
    }
}

fn run_child(kind: &str, port: u16, db: &str, mode: &str) -> (usize, f64, u64, f64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("RDBMS_BENCH_CHILD", format!("{kind} {port} {db} {mode}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "child failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let f: Vec<&str> = line.split_whitespace().collect();
    (
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
        f[4].parse().unwrap(),
    )
}

async fn explain(kind: &str, port: u16, db: &str) {
    let sql_pg = "EXPLAIN SELECT * FROM items AS src WHERE src.id IS NOT NULL AND src.updated_at >= $1 AND src.updated_at < $2 \
                  AND (src.updated_at, src.id) > ($3, $4) ORDER BY src.updated_at, src.id LIMIT 1000";
    let sql_my = "EXPLAIN SELECT * FROM items AS src WHERE src.id IS NOT NULL AND src.updated_at >= ? AND src.updated_at < ? \
                  AND src.updated_at >= ? AND (src.updated_at > ? OR src.id > ?) ORDER BY src.updated_at, src.id LIMIT 1000";
    let lo = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let hi = chrono::NaiveDate::from_ymd_opt(2030, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let at = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    if kind == "pg" {
        let mut c = sqlx::PgConnection::connect(&url(kind, port, db))
            .await
            .unwrap();
        let rows = sqlx::query(sql_pg)
            .bind(lo)
            .bind(hi)
            .bind(at)
            .bind(4000_i64)
            .fetch_all(&mut c)
            .await
            .unwrap();
        println!("PostgreSQL plan of a window page:");
        for r in rows {
            use sqlx::Row as _;
            println!("  {}", r.get::<String, _>(0));
        }
    } else {
        let mut c = sqlx::MySqlConnection::connect(&url(kind, port, db))
            .await
            .unwrap();
        let rows = sqlx::query(sql_my)
            .bind(lo)
            .bind(hi)
            .bind(at)
            .bind(at)
            .bind(4000_i64)
            .fetch_all(&mut c)
            .await
            .unwrap();
        println!("MariaDB plan of a window page (type / key / rows / Extra):");
        for r in rows {
            use sqlx::Row as _;
            let get = |i: usize| -> String {
                r.try_get_unchecked::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            };
            println!("  {} / {} / {} / {}", get(3), get(5), get(8), get(9));
        }
    }
}

#[tokio::main]
pub(crate) async fn main() {
    if let Ok(spec) = std::env::var("RDBMS_BENCH_CHILD") {
        let f: Vec<&str> = spec.split_whitespace().collect();
        let (rows, secs) = child(f[0], f[1].parse().unwrap(), f[2], f[3]).await;
        println!("RESULT {rows} {secs} {} {}", peak_rss_kib(), cpu_seconds());
        return;
    }
    let big: usize = std::env::var("RDBMS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let kinds: Vec<String> = std::env::var("RDBMS_BENCH_SERVERS")
        .unwrap_or_else(|_| "pg my".into())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for kind in &kinds {
        let port = if kind == "pg" {
            rdbms_common::postgres().port
        } else {
            rdbms_common::mariadb().port
        };
        let name = if kind == "pg" {
            "PostgreSQL"
        } else {
            "MariaDB"
        };
        let mut dbs = Vec::new();
        for rows in [big / 10, big] {
            let started = Instant::now();
            let db = seed(kind, rows).await;
            println!(
                "{name}: seeded {rows} rows in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            dbs.push((rows, db));
        }
        for (rows, db) in &dbs {
            let mut raw_best = f64::MAX;
            let mut ordered_best = f64::MAX;
            let mut results = Vec::new();
            for mode in ["raw", "raw_ordered", "load", "poll"] {
                let mut best = (0usize, f64::MAX, 0u64, 0.0f64);
                for _ in 0..2 {
                    let r = run_child(kind, port, db, mode);
                    assert_eq!(r.0, *rows, "{mode} read every row");
                    if r.1 < best.1 {
                        best = r;
                    }
                }
                match mode {
                    "raw" => raw_best = best.1,
                    "raw_ordered" => ordered_best = best.1,
                    _ => {}
                }
                results.push((mode, best));
            }
            for (mode, (n, secs, rss, cpu)) in results {
                println!(
                    "{name} {rows:>8} rows  {mode:<11} {secs:>7.3} s  {:>9.0} rows/s  ({:.2}x raw, {:.2}x ordered)  peak RSS {} MiB  client CPU {cpu:.2} s",
                    n as f64 / secs,
                    secs / raw_best,
                    secs / ordered_best,
                    rss / 1024
                );
            }
        }
        if let Some((_, db)) = dbs.last() {
            explain(kind, port, db).await;
        }
    }
}
