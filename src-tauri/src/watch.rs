//! Notices changes made by other processes (the `latch` CLI, a script) and
//! tells the UI, so both front ends show the same store within a second.

use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager};

pub const CONNECTIONS_CHANGED: &str = "connections-changed";

/// Compares SQLite's `data_version` once a second: a pragma on the open
/// connection, no disk access. Changes by this app are announced by the
/// commands themselves. A change also wakes the refresher: due times may
/// have moved.
pub fn spawn_store_watch(app: AppHandle, engine: Arc<latch_core::Engine>) {
    tauri::async_runtime::spawn(async move {
        let mut last = engine.store_version().ok();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = engine.store_version().ok();
            if now != last {
                last = now;
                announce_change(&app);
            }
        }
    });
}

/// Tells the UI, the tray and the refresher that the store changed.
pub fn announce_change(app: &AppHandle) {
    let _ = app.emit(CONNECTIONS_CHANGED, ());
    if let Some(state) = app.try_state::<crate::AppState>() {
        state.refresher.wake();
        if let (Some(tray), Ok(list)) = (&state.tray, state.engine.list()) {
            tray.show_state(&list);
        }
    }
}
