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
    // The name and the reason come from the user, an imported file or the
    // provider; notification servers (dunst, KDE, GNOME) read the body, and
    // some the summary, as markup.
    let (summary, body) = (notification_text(&summary), notification_text(&body));
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

/// `text` as a notification shows it, not as it would run: control and bidi
/// characters dropped (line breaks kept), and — where notifications go
/// through a freedesktop notification server (dunst, KDE and GNOME read the
/// body, some the summary too, as a subset of HTML) — `&`, `<` and `>`
/// escaped.
pub fn notification_text(text: &str) -> String {
    let printable = latch_core::error::printable(text, true);
    if cfg!(all(unix, not(target_os = "macos"))) {
        escape_markup(&printable)
    } else {
        printable
    }
}

/// `&`, `<` and `>` as entities. Quotes are left alone: markup outside
/// attributes does not need them escaped, and a server that shows the text
/// as it is would show `&quot;`.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape_markup("<b>Bank</b> & <a href=\"https://evil.example\">click</a>"),
            "&lt;b&gt;Bank&lt;/b&gt; &amp; &lt;a href=\"https://evil.example\"&gt;click&lt;/a&gt;"
        );
        assert_eq!(escape_markup("&amp;"), "&amp;amp;");
        assert_eq!(escape_markup("Team Drive — O'Brien's \"work\""), "Team Drive — O'Brien's \"work\"");
    }

    #[test]
    fn notification_text_has_no_control_characters() {
        assert_eq!(notification_text("a\u{1b}]0;pwned\u{7}b\u{202e}c\r\nd"), "a]0;pwnedbc\nd");
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn notification_text_is_escaped_for_freedesktop_servers() {
        assert_eq!(notification_text("<i>Evil</i> & co"), "&lt;i&gt;Evil&lt;/i&gt; &amp; co");
    }
}
