// A bare Tauri 2 window: the baseline bench/desktop.sh compares Latch with.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use tauri::Manager;

fn main() {
    tauri::Builder::default()
        .setup(|app| {
            // BARE_HARDWARE_ACCELERATION=never: the setting Latch ships
            // (src-tauri/src/webview.rs), applied the same way, so the two
            // can also be compared like with like. Unset: as Tauri ships.
            if std::env::var("BARE_HARDWARE_ACCELERATION").as_deref() == Ok("never") {
                if let Some(window) = app.get_webview_window("main") {
                    window.with_webview(|webview| {
                        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
                        if let Some(settings) = webview.inner().settings() {
                            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                        }
                    })?;
                }
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the bare window starts");
}
