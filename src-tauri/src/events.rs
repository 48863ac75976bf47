//! The window, the tray and notifications follow the engine: its events
//! (every change this app's engine makes, the refresher's notices, sign-in
//! progress) are forwarded from one subscription; changes made by other
//! processes (the `latch` CLI, a script) are noticed through a watch on the
//! data directory.

use std::sync::Arc;

use latch_core::{Engine, EngineEvent};
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::error::RecvError;

use crate::dto::SignInEventDto;
use crate::AppState;

/// The list changed: reload what is shown.
pub const CONNECTIONS_CHANGED: &str = "connections-changed";
/// A sign-in session moved on (`SignInEventDto`).
pub const SIGN_IN: &str = "sign-in";
/// A connection's credential was handed out (the payload is its id): its
/// record of use reads again. The list is not reloaded for it.
pub const CONNECTION_USED: &str = "connection-used";
/// A team's store stopped or started answering (the payload is the team's
/// name): Settings → Team and the list's team banner read again.
pub const TEAMS_CHANGED: &str = "teams-changed";

/// Forwards every engine event, for as long as the app runs.
pub fn forward_engine_events(app: AppHandle, engine: &Engine) {
    let mut events = engine.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(EngineEvent::Notice(notice)) => crate::notifications::notify(&app, &notice),
                Ok(EngineEvent::SignIn { session, connection, event }) => {
                    let _ = app.emit(SIGN_IN, SignInEventDto { session, id: connection.to_string(), event });
                }
                Ok(EngineEvent::Used { id }) => {
                    let _ = app.emit(CONNECTION_USED, id.to_string());
                }
                Ok(EngineEvent::TeamReach { team }) => {
                    let _ = app.emit(TEAMS_CHANGED, team);
                    show_in_tray(&app);
                }
                Ok(event) if event.changed_connection().is_some() => show_change(&app),
                Ok(_) => {}
                // Fell behind: everything may have changed.
                Err(RecvError::Lagged(_)) => show_change(&app),
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// Waits for a write in the data directory (inotify on Linux: no wake-up
/// while nothing happens), then compares SQLite's `data_version`: it moves
/// only for commits by other processes. A change there also wakes the
/// refresher: due times may have moved.
pub fn watch_other_processes(app: AppHandle, engine: Arc<Engine>) {
    tauri::async_runtime::spawn(async move {
        let mut watch = latch_core::dir_watch::DirWatch::new(engine.data_dir());
        let mut last = engine.store_version().ok();
        loop {
            watch.changed().await;
            let now = engine.store_version().ok();
            if now != last {
                last = now;
                // A team joined or left, or a connection kept in one, by
                // `latch` while the app runs: its secrets go to the team.
                if let Err(err) = engine.load_team_routes() {
                    tracing::warn!(error = %err, "could not read the joined teams again");
                }
                if let Some(state) = app.try_state::<AppState>() {
                    state.refresher.wake();
                }
                show_change(&app);
            }
        }
    });
}

/// Keeps the joined teams' connections here up to date while the app runs:
/// every half minute the engine syncs each team whose last try is over a
/// minute old (its rule, as before each `latch` command). A store that is
/// down is noted by the engine (`TeamReach`), and tried again a minute later.
pub fn keep_teams_synced(app: AppHandle, engine: Arc<Engine>) {
    tauri::async_runtime::spawn(async move {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            ticks.tick().await;
            if engine.teams().is_ok_and(|teams| teams.is_empty()) {
                continue;
            }
            engine.team_sync_if_stale(std::time::Duration::from_secs(60)).await;
            // The rows a sync adds or changes are not announced as engine
            // events (this process's own commits, so the data-directory
            // watch does not see them either): the list reads again.
            show_change(&app);
        }
    });
}

/// Tells the window and the tray that the store changed.
pub fn show_change(app: &AppHandle) {
    let _ = app.emit(CONNECTIONS_CHANGED, ());
    show_in_tray(app);
}

/// The tray's state line: connections that need the user, teams whose
/// store does not answer.
fn show_in_tray(app: &AppHandle) {
    let Some(state) = app.try_state::<AppState>() else { return };
    let (Some(tray), Ok(list)) = (&state.tray, state.engine.list()) else { return };
    let unreachable: Vec<String> = state
        .engine
        .team_health()
        .unwrap_or_default()
        .into_iter()
        .filter(|team| team.unreachable_since.is_some())
        .map(|team| team.name)
        .collect();
    tray.show_state(&list, &unreachable);
}
