//! Links the `connectors` binary with packed relative relocations (`-z pack-relative-relocs`,
//! `DT_RELR`) on Linux with glibc: the position-independent binary's ~114k
//! `R_X86_64_RELATIVE` entries (2.7 MB of `.rela.dyn`, each applied one by one by the dynamic
//! loader at every start) become a bitmap of a few kilobytes that the loader walks in a tight
//! loop. The binary then needs glibc 2.36 or later (it names the `GLIBC_ABI_DT_RELR` version,
//! so an older glibc refuses it with a clear message rather than misbehaving), and the linker
//! must know the option (LLD 15, which rustc uses on x86-64 Linux, or GNU ld 2.38).
//! `CONNECTORS_PLAIN_RELOCS=1` at build time links without it, for older systems.
//! Only the binary is affected (`rustc-link-arg-bins`), not the tests or other crates.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CONNECTORS_PLAIN_RELOCS");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let plain =
        std::env::var_os("CONNECTORS_PLAIN_RELOCS").is_some_and(|v| !v.is_empty() && v != "0");
    if target_os == "linux" && target_env == "gnu" && !plain {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
