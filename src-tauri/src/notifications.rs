//! Desktop notifications for what only the user can fix, through
//! notify-rust (D-Bus `org.freedesktop.Notifications` on Linux; the same
//! crate on macOS and Windows). They are worded for people: what happened
//! in plain words, no provider codes (those stay in the app's Details), and
//! one button named for the next step — "Sign in again" opens the app on
//! the connection and starts its sign-in.

use latch_core::{Action, Notice};
use tauri::{AppHandle, Emitter, Manager};

/// Asks the UI to open `id` and start its sign-in.
pub const RECONNECT_REQUESTED: &str = "reconnect-requested";
/// Asks the UI to show Settings → Team.
pub const OPEN_TEAM_SETTINGS: &str = "open-team-settings";

/// What a notification says, and its button: (the id the server reports
/// back when it is clicked, its label).
#[derive(Debug, PartialEq)]
pub struct Wording {
    pub summary: String,
    pub body: String,
    pub button: (&'static str, &'static str),
}

/// The button's id for "open Latch on the connection and sign it in".
const SIGN_IN: &str = "sign-in";
/// The button's id for "open Latch" (a step a sign-in does not fix).
const OPEN: &str = "open";
/// The button's id for "open Latch on Settings → Team" (a team's store).
const TEAM: &str = "team";

/// The notification for `notice`, in plain words.
pub fn wording(notice: &Notice) -> Wording {
    match notice {
        Notice::NeedsReauth { name, reason, action, .. } => Wording {
            summary: format!("{name} needs you to sign in again"),
            body: plain_reason(name, reason),
            button: button(action),
        },
        Notice::ExpiresSoon { name, at, action, .. } => Wording {
            summary: format!("{name} will need you to sign in soon"),
            body: format!(
                "Its sign-in runs out on {}. Sign in again before then to keep it working.",
                at.with_timezone(&chrono::Local).format("%A %-d %B at %H:%M")
            ),
            button: button(action),
        },
        Notice::TeamUnreachable { team, since, .. } => Wording {
            summary: format!("The team store for '{team}' can't be reached"),
            body: format!(
                "Since {}. Latch keeps using the sign-ins it has and tries again by itself.",
                since.with_timezone(&chrono::Local).format("%H:%M")
            ),
            button: (TEAM, "Open team settings"),
        },
    }
}

/// The button for the step that fixes it, worded as the app words it.
fn button(action: &Action) -> (&'static str, &'static str) {
    match action {
        Action::SignInAgain { .. } => (SIGN_IN, "Sign in again"),
        Action::SignIn { .. } => (SIGN_IN, "Sign in"),
        _ => (OPEN, "Open Latch"),
    }
}

/// The engine's reason as a notification body: without the opening the
/// summary already says ("'Team Drive' needs you to sign in again: …"),
/// without a provider's code in parentheses (a message saved by an older
/// Latch may have one), and "the service" for what the app calls a service.
pub fn plain_reason(name: &str, reason: &str) -> String {
    let reason = reason.trim();
    let rest = reason
        .strip_prefix(&format!("'{name}' needs you to sign in again"))
        .map(|rest| rest.trim_start_matches([':', '.', ';', ',', ' ']))
        .unwrap_or(reason);
    let text = without_codes(rest).replace("the provider", "the service").replace("The provider", "The service");
    let text = text.trim();
    if text.is_empty() {
        return "Latch can no longer renew this connection by itself.".to_owned();
    }
    let mut chars = text.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    let sentence = format!("{first}{}", chars.as_str());
    if sentence.ends_with(['.', '!', '?']) {
        sentence
    } else {
        format!("{sentence}.")
    }
}

/// `text` without parenthesised OAuth error codes such as
/// `(invalid_grant)` or `(invalid_grant: Grant expired)`: words for people
/// stay, codes go to Details.
fn without_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')').map(|at| open + at) else { break };
        let inside = &rest[open + 1..close];
        let code = inside.split([':', ' ', ',']).next().unwrap_or_default();
        let is_code = code.contains('_') && code.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if is_code {
            out.push_str(rest[..open].trim_end());
        } else {
            out.push_str(&rest[..=close]);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

pub fn notify(app: &AppHandle, notice: &Notice) {
    let id = match notice {
        Notice::NeedsReauth { id, .. } | Notice::ExpiresSoon { id, .. } => Some(id.clone()),
        Notice::TeamUnreachable { .. } => None,
    };
    let Wording { summary, body, button } = wording(notice);
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
        notification.action(button.0, button.1).timeout(notify_rust::Timeout::Never);
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = button;
        match notification.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => handle.wait_for_action(|action| match action {
                SIGN_IN => match &id {
                    Some(id) => open_and_reconnect(&app, id.as_str()),
                    None => show_main_window(&app),
                },
                OPEN => show_main_window(&app),
                TEAM => {
                    show_main_window(&app);
                    let _ = app.emit(OPEN_TEAM_SETTINGS, ());
                }
                _ => {}
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
    use chrono::TimeZone;
    use latch_core::model::ConnectionId;

    fn needs_reauth(name: &str, reason: &str) -> Notice {
        Notice::NeedsReauth {
            id: ConnectionId("cn_1".into()),
            name: name.into(),
            reason: reason.into(),
            action: Action::sign_in_again(name, false),
        }
    }

    #[test]
    fn a_refused_sign_in_is_announced_in_plain_words_with_a_sign_in_again_button() {
        let wording = wording(&needs_reauth(
            "Local test",
            "'Local test' needs you to sign in again: the provider no longer accepts the saved sign-in.",
        ));
        assert_eq!(
            wording,
            Wording {
                summary: "Local test needs you to sign in again".into(),
                body: "The service no longer accepts the saved sign-in.".into(),
                button: ("sign-in", "Sign in again"),
            }
        );
    }

    #[test]
    fn a_reason_saved_with_a_provider_code_loses_the_code() {
        let body = wording(&needs_reauth(
            "Team Drive",
            "The provider no longer accepts the saved sign-in for 'Team Drive' (invalid_grant: Grant expired).",
        ))
        .body;
        assert_eq!(body, "The service no longer accepts the saved sign-in for 'Team Drive'.");
        assert!(!body.contains("invalid_grant"));
    }

    #[test]
    fn other_reasons_keep_their_words_and_parentheses_that_are_not_codes() {
        assert_eq!(
            plain_reason("X", "The saved sign-in for 'X' has expired (after 90 days)"),
            "The saved sign-in for 'X' has expired (after 90 days)."
        );
        assert_eq!(
            plain_reason("X", "'X' needs you to sign in again."),
            "Latch can no longer renew this connection by itself."
        );
        assert_eq!(plain_reason("X", ""), "Latch can no longer renew this connection by itself.");
    }

    #[test]
    fn a_sign_in_running_out_soon_says_when_with_a_sign_in_again_button() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let wording = wording(&Notice::ExpiresSoon {
            id: ConnectionId("cn_1".into()),
            name: "Short Lease".into(),
            at,
            action: Action::sign_in_again("Short Lease", false),
        });
        assert_eq!(wording.summary, "Short Lease will need you to sign in soon");
        let local = at.with_timezone(&chrono::Local).format("%A %-d %B at %H:%M").to_string();
        assert_eq!(
            wording.body,
            format!("Its sign-in runs out on {local}. Sign in again before then to keep it working.")
        );
        assert_eq!(wording.button, ("sign-in", "Sign in again"));
    }

    #[test]
    fn a_step_a_sign_in_does_not_take_only_opens_latch() {
        let notice = Notice::NeedsReauth {
            id: ConnectionId("cn_1".into()),
            name: "Vault".into(),
            reason: "The newest sign-in could not be saved to your keyring and was lost.".into(),
            action: Action::UnlockKeyring,
        };
        assert_eq!(wording(&notice).button, ("open", "Open Latch"));
    }

    #[test]
    fn a_team_store_that_cannot_be_reached_is_said_calmly_with_a_button_to_the_team_settings() {
        let since = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 10, 42, 0).unwrap();
        let reason = "OpenBao at http://127.0.0.1:8200 could not be reached: connection refused".to_owned();
        let wording = wording(&Notice::TeamUnreachable { team: "sales".into(), since, reason });
        assert_eq!(wording.summary, "The team store for 'sales' can't be reached");
        assert!(wording.body.contains("Latch keeps using the sign-ins it has"), "{}", wording.body);
        assert!(!wording.body.contains("refused"), "the technical reason stays in the app: {}", wording.body);
        assert_eq!(wording.button, ("team", "Open team settings"));
    }

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
