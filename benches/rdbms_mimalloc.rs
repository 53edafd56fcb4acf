//! The `rdbms` bench (`benches/rdbms.rs`), unchanged, in a process whose allocator is the
//! one the `connectors` binary ships (mimalloc with `no_thp`, `connector-cli/src/main.rs`)
//! rather than glibc's: `raw`, `load` and `poll` all run under it (each side's child is this
//! binary again). A loaded row's document is six allocations made on the converting thread
//! and freed a page later, a pattern glibc's allocator answers slowly (its thread cache holds
//! seven chunks a size, so a page's thousands of chunks go through its bins and
//! `malloc_consolidate`): about a third of the converting thread's instructions under glibc
//! (`rdbms.rs`'s header, session 50). Not run in CI: `cargo bench --bench rdbms_mimalloc`,
//! with the same variables as `rdbms`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "rdbms.rs"]
mod rdbms;

fn main() {
    rdbms::main();
}
