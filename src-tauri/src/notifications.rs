//! Desktop notifications for what only the user can fix, through
//! notify-rust (D-Bus `org.freedesktop.Notifications` on Linux; the same
//! crate on macOS and Windows). The Reconnect button opens the app on the
//! connection and starts its sign-in.

use latch_core::Notice;
use tauri::{AppHandle, Emitter, Manager};

/// Asks the UI to open `id` and start its sign-in.
pub const RECONNECT_REQUESTED: &str = "reconnect-requested";

pub fn notify(app: &AppHandle, notice: &Notice) {
    let (id, summary, body) = match notice {
        Notice::NeedsReauth { id, name, reason, .. } => (
            id.clone(),
            format!("{name} needs you to sign in again"),
            if reason.is_empty() { "Latch can no longer renew this connection by itself.".to_owned() } else { reason.clone() },
        ),
        Notice::ExpiresSoon { id, name, at, .. } => (
            id.clone(),
            format!("{name} will need you to sign in soon"),
            format!(
                "Its sign-in runs out on {}. Reconnect when it suits you to keep it working.",
                at.with_timezone(&chrono::Local).format("%A %-d %B at %H:%M")
            ),
        ),
    };
    let app = app.clone();
    // Waiting for the button blocks: one thread per notification.
    std::thread::spawn(move || {
        let mut notification = notify_rust::Notification::new();
        notification.appname("Latch").summary(&summary).body(&body).icon("dialog-password");
        #[cfg(all(unix, not(target_os = "macos")))]
        notification.action("reconnect", "Reconnect").timeout(notify_rust::Timeout::Never);
        match notification.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "reconnect" {
                    open_and_reconnect(&app, id.as_str());
                }
            }),
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not show a notification"),
        }
    });
}

/// Brings the window up on the connection and asks the UI to connect it.
pub fn open_and_reconnect(app: &AppHandle, id: &str) {
    show_main_window(app);
    let _ = app.emit(RECONNECT_REQUESTED, id.to_owned());
}

pub fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}
