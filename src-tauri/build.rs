use std::path::Path;

fn main() {
    tauri_build::build();
    release_layout();
}

/// The release binary's layout (bench/README.md, "where Latch's own code goes"):
/// the functions a start runs, listed in `startup-order.txt`
/// (`bench/startup-order.sh` writes it), are placed side by side, so the
/// kernel maps a few megabytes of code at start instead of a 64 kB run around
/// each of them across the whole 22 MB; and relative relocations are packed
/// (DT_RELR, glibc ≥ 2.36), so the loader reads a small bitmap instead of
/// 1.7 MB of relocation records. A symbol the list names that is not in this
/// build is skipped, so an old list costs memory, never correctness.
///
/// Release builds for x86-64 Linux only, where Rust links with its own LLVM
/// linker (since 1.90) — GNU ld knows no ordering file — and not when the
/// build names another linker (`target.<triple>.linker`, `-C linker` and the
/// like in RUSTFLAGS).
fn release_layout() {
    let order = Path::new("startup-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let rust_lld = var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && rustc_minor() >= 90;
    if !(var("PROFILE") == "release" && rust_lld && order.is_file()) {
        return;
    }
    let order = order.canonicalize().expect("the startup order file has a full path");
    println!("cargo:rustc-link-arg-bin=latch-app=-Wl,--symbol-ordering-file={}", order.display());
    println!("cargo:rustc-link-arg-bin=latch-app=-Wl,--no-warn-symbol-ordering");
    println!("cargo:rustc-link-arg-bin=latch-app=-Wl,-z,pack-relative-relocs");
}

/// The minor version of the rustc building this (0 when it cannot be told).
fn rustc_minor() -> u32 {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc).arg("--version").output().map(|out| out.stdout).unwrap_or_default();
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    String::from_utf8_lossy(&version).split_whitespace().nth(1).and_then(|v| v.split('.').nth(1)?.parse().ok()).unwrap_or(0)
}
