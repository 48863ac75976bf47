// Prevents an extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // `latch-app --version` answers before Tauri starts: no display, no
    // second-instance hand-over to a running Latch.
    if matches!(std::env::args().nth(1).as_deref(), Some("--version" | "-V")) {
        println!("latch-app {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    // Before any thread starts: the web process's settings are environment variables.
    latch_app::webview::set_web_process_env();
    latch_app::run()
}
