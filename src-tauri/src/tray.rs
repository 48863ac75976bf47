//! The tray icon: the app keeps refreshing with its window closed. On
//! Linux's AppIndicator backend only menu events arrive, so everything is
//! in the menu: the state line, Open Latch, Refresh all, Settings, Quit.

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Wry};

use crate::notifications::show_main_window;
use crate::AppState;

/// Asks the UI to show the Settings screen.
pub const OPEN_SETTINGS: &str = "open-settings";

pub struct Tray {
    state_line: MenuItem<Wry>,
}

/// Quits once no refresh is writing tokens (at most 15 s): a rotated refresh
/// token the provider already handed out must reach the keyring first.
fn quit_when_idle(app: &AppHandle) {
    let state = app.state::<AppState>();
    let engine = state.engine.clone();
    if engine.is_busy() {
        if let Some(tray) = &state.tray {
            tray.show_finishing();
        }
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if !engine.wait_idle(std::time::Duration::from_secs(15)).await {
            tracing::warn!("quitting with a refresh still under way");
        }
        app.exit(0);
    });
}

impl Tray {
    pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
        let state_line = MenuItem::with_id(app, "state", "All connections are working", false, None::<&str>)?;
        let open = MenuItem::with_id(app, "open", "Open Latch", true, None::<&str>)?;
        let refresh_all = MenuItem::with_id(app, "refresh_all", "Refresh all", true, None::<&str>)?;
        let settings = MenuItem::with_id(app, "settings", "Settings…", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit Latch", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&state_line, &open, &refresh_all, &settings, &quit])?;
        let mut builder = TrayIconBuilder::with_id("latch").menu(&menu).tooltip("Latch").on_menu_event(|app, event| {
            match event.id.as_ref() {
                "open" => show_main_window(app),
                "settings" => {
                    show_main_window(app);
                    let _ = app.emit(OPEN_SETTINGS, ());
                }
                "refresh_all" => {
                    let engine = app.state::<AppState>().engine.clone();
                    tauri::async_runtime::spawn(async move {
                        if let Err(err) = engine.refresh_all().await {
                            tracing::warn!(error = %err, "refresh all failed");
                        }
                    });
                }
                "quit" => quit_when_idle(app),
                _ => {}
            }
        });
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        builder.build(app)?;
        Ok(Tray { state_line })
    }

    /// Shown while Quit waits for refreshes to store what they received.
    fn show_finishing(&self) {
        let _ = self.state_line.set_text("Finishing… Latch quits when the renewals under way are saved");
    }

    /// "All connections are working", "2 connections need attention", and
    /// a team whose store does not answer.
    pub fn show_state(&self, connections: &[latch_core::model::Connection], unreachable_teams: &[String]) {
        let attention = connections.iter().filter(|c| c.needs_attention()).count();
        let _ = self.state_line.set_text(state_text(attention, unreachable_teams));
    }
}

/// The tray's state line: how many connections need the user, and which
/// teams' stores cannot be reached (Latch keeps using the sign-ins it holds).
fn state_text(attention: usize, unreachable_teams: &[String]) -> String {
    let connections = match attention {
        0 => "All connections are working".to_owned(),
        1 => "1 connection needs attention".to_owned(),
        n => format!("{n} connections need attention"),
    };
    let teams = match unreachable_teams {
        [] => return connections,
        [team] => format!("Team “{team}” can’t be reached"),
        [first, rest @ ..] => format!("Teams “{first}” and {} more can’t be reached", rest.len()),
    };
    if attention == 0 {
        format!("{teams} — using the sign-ins Latch holds")
    } else {
        format!("{connections} · {teams}")
    }
}

#[cfg(test)]
mod tests {
    use super::state_text;

    #[test]
    fn the_state_line_names_a_team_whose_store_cannot_be_reached() {
        assert_eq!(state_text(0, &[]), "All connections are working");
        assert_eq!(state_text(2, &[]), "2 connections need attention");
        let sales = ["sales".to_owned()];
        assert_eq!(state_text(0, &sales), "Team “sales” can’t be reached — using the sign-ins Latch holds");
        assert_eq!(state_text(1, &sales), "1 connection needs attention · Team “sales” can’t be reached");
        let two = ["sales".to_owned(), "ops".to_owned()];
        assert_eq!(state_text(0, &two), "Teams “sales” and 1 more can’t be reached — using the sign-ins Latch holds");
    }
}
