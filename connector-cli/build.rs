//! Links the `connectors` binary with packed relative relocations (`-z pack-relative-relocs`,
//! `DT_RELR`) on Linux with glibc 2.36 or later: the position-independent binary's ~114k
//! `R_X86_64_RELATIVE` entries (2.7 MB of `.rela.dyn`, each applied one by one by the dynamic
//! loader at every start) become a bitmap of a few kilobytes that the loader walks in a tight
//! loop. Such a binary names the `GLIBC_ABI_DT_RELR` version, which an older glibc refuses, so
//! the option is used only where the build runs on the machine it builds for (host = target)
//! and that machine's glibc (`getconf GNU_LIBC_VERSION`) is 2.36 or later. A cross build, an
//! older glibc or an unreadable version links as before. The linker must know the option (LLD
//! 15, which rustc uses on x86-64 Linux, or GNU ld 2.38). `CONNECTORS_PLAIN_RELOCS=1` at
//! build time links without it (for a binary to be copied to older systems). Only the binary
//! is affected (`rustc-link-arg-bins`), not the tests or other crates.
//!
//! The probe runs again when the C library changes (`rerun-if-changed` on the libc this
//! script runs with, as `/proc/self/maps` names it, and on the usual libc paths that exist
//! here): a target directory reused on another machine (a restored CI cache, a shared or
//! bind-mounted one) whose libc is at another path, or was replaced since the build, is probed
//! again rather than linked with the cached choice. Cargo reruns for a path that is missing
//! or newer than its last run, not for an older file at the same path: build on the oldest
//! system a binary is for, or set `CONNECTORS_PLAIN_RELOCS=1`, when a target directory moves
//! to a machine of the same layout with an older glibc.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let plain =
        std::env::var_os("CONNECTORS_PLAIN_RELOCS").is_some_and(|v| !v.is_empty() && v != "0");
    for line in directives(&var, plain, &|| glibc_at_least(2, 36), &libc_paths()) {
        println!("{line}");
    }
}

/// The build script's output, from the build's environment (`var`), whether
/// `CONNECTORS_PLAIN_RELOCS` is set (`plain`), the glibc probe (run only for a native Linux
/// build) and the C library's paths (see the module's documentation).
pub(crate) fn directives(
    var: &dyn Fn(&str) -> String,
    plain: bool,
    recent_glibc: &dyn Fn() -> bool,
    libc: &[PathBuf],
) -> Vec<String> {
    let mut out = vec![
        "cargo:rerun-if-changed=build.rs".to_owned(),
        "cargo:rerun-if-env-changed=CONNECTORS_PLAIN_RELOCS".to_owned(),
    ];
    let native = var("HOST") == var("TARGET");
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" && native {
        // Whatever the probe says now: a changed libc may say otherwise.
        out.extend(
            libc.iter()
                .map(|path| format!("cargo:rerun-if-changed={}", path.display())),
        );
        if !plain && recent_glibc() {
            out.push("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs".to_owned());
        }
    }
    out
}

/// The C library files of this machine: the one this process has mapped (`libc.so.6`, or
/// `libc-2.x.so` behind it on older systems) and the usual paths of `libc.so.6` that exist.
pub(crate) fn libc_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| {
            let name = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("libc.so") || (name.starts_with("libc-") && name.ends_with(".so"))
        })
        .map(PathBuf::from)
        .collect();
    for known in [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
        "/usr/lib/aarch64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib64/libc.so.6",
    ] {
        let path = PathBuf::from(known);
        if path.exists() {
            paths.push(path);
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// Whether this machine's glibc is `major.minor` or later (`getconf` prints `glibc 2.36`);
/// `false` where it cannot be read.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
