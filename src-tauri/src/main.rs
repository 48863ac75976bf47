// Prevents an extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // `latch-app --version` answers before Tauri starts: no display, no
    // second-instance hand-over to a running Latch.
    if matches!(std::env::args().nth(1).as_deref(), Some("--version" | "-V")) {
        println!("latch-app {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    latch_app::run()
}
