//! The UI's IPC types are generated from the Rust DTOs (ts-rs) and checked
//! in. This test fails when they are stale; `LATCH_WRITE_TS=1 cargo test -p
//! latch-app --test typescript_types` (or `make types`) rewrites them.

use std::path::Path;

#[test]
fn generated_typescript_types_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/ipc/generated");
    let write = std::env::var_os("LATCH_WRITE_TS").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for (file, source) in latch_app::typescript_declarations() {
        let path = dir.join(&file);
        if write {
            std::fs::write(&path, &source).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(source.as_str()) {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "these generated TypeScript files are stale: {stale:?}. Run `make types` and commit ui/src/lib/ipc/generated."
    );
}
