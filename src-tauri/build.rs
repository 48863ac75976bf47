use std::path::Path;

fn main() {
    tauri_build::build();
    release_layout();
}

/// The release binary's layout (bench/README.md, "Where Latch's own code goes"):
/// the functions a start runs, listed in `startup-order.txt`
/// (`bench/startup-order.sh` writes it), are placed side by side, so the
/// kernel maps a few megabytes of code at start instead of a 64 kB run around
/// each of them across the whole 22 MB; and relative relocations are packed
/// (DT_RELR, glibc ≥ 2.36), so the loader reads a small bitmap instead of
/// 1.7 MB of relocation records. Linux release builds only, and only with
/// LLVM's linker (Rust's default here): a symbol the list names that is not
/// in this build is skipped, so an old list costs memory, never correctness.
fn release_layout() {
    let order = Path::new("startup-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if !(release && linux_gnu && order.is_file()) {
        return;
    }
    let order = order.canonicalize().expect("the startup order file has a full path");
    println!("cargo:rustc-link-arg-bin=latch-app=-Wl,--symbol-ordering-file={}", order.display());
    println!("cargo:rustc-link-arg-bin=latch-app=-Wl,--no-warn-symbol-ordering");
    println!("cargo:rustc-link-arg-bin=latch-app=-Wl,-z,pack-relative-relocs");
}
