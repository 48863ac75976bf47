// A bare Tauri 2 window: the baseline bench/desktop.sh compares Latch with.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("the bare window starts");
}
