//! The build script's output (`build.rs`, compiled here as a module): the glibc probe that
//! decides on packed relocations runs again when the C library changes.

// Test code: a panic here is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../build.rs"]
#[allow(dead_code)]
mod build_script;

use build_script::{directives, libc_paths};

fn native(name: &str) -> String {
    match name {
        "HOST" | "TARGET" => "x86_64-unknown-linux-gnu".to_owned(),
        "CARGO_CFG_TARGET_OS" => "linux".to_owned(),
        "CARGO_CFG_TARGET_ENV" => "gnu".to_owned(),
        _ => String::new(),
    }
}

/// A native glibc build reruns when the libc it runs with (or one at a usual path) changes,
/// whatever the probe said: a target directory reused where the libc differs is probed
/// again. The probe's answer and `CONNECTORS_PLAIN_RELOCS` decide the link option.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_native_glibc_build_reruns_when_the_libc_changes() {
    let libc = libc_paths();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        libc.iter()
            .any(|p| maps.contains(&format!(" {}\n", p.display()))),
        "the libc this process runs with is not among {libc:?}"
    );
    assert!(libc.iter().all(|p| p.exists()), "{libc:?}");
    for (plain, recent, packed) in [
        (false, true, true),
        (false, false, false),
        (true, true, false),
    ] {
        let out = directives(&native, plain, &|| recent, &libc);
        for path in &libc {
            let rerun = format!("cargo:rerun-if-changed={}", path.display());
            assert!(out.contains(&rerun), "{rerun} missing from {out:?}");
        }
        assert_eq!(
            out.iter().any(|l| l.contains("pack-relative-relocs")),
            packed,
            "plain {plain}, recent glibc {recent}: {out:?}"
        );
    }
}

/// A cross build neither probes nor depends on this machine's libc.
#[test]
fn a_cross_build_does_not_probe() {
    let cross = |name: &str| match name {
        "TARGET" => "aarch64-unknown-linux-gnu".to_owned(),
        other => native(other),
    };
    let libc = vec![std::path::PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")];
    let out = directives(&cross, false, &|| panic!("probed for a cross build"), &libc);
    assert!(
        out.iter()
            .all(|l| !l.contains("libc") && !l.contains("relocs")),
        "{out:?}"
    );
    assert!(out.contains(&"cargo:rerun-if-changed=build.rs".to_owned()));
}
