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

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CONNECTORS_PLAIN_RELOCS");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let plain =
        std::env::var_os("CONNECTORS_PLAIN_RELOCS").is_some_and(|v| !v.is_empty() && v != "0");
    let native = var("HOST") == var("TARGET");
    if var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && native
        && !plain
        && glibc_at_least(2, 36)
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
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
