//! Notices changes made by other processes (the `latch` CLI, a script) and
//! tells the UI, so both front ends show the same store at once.

use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager};

pub const CONNECTIONS_CHANGED: &str = "connections-changed";

/// Waits for a write in the data directory (inotify on Linux: no wake-up
/// while nothing happens), then compares SQLite's `data_version`: it moves
/// only for commits by other processes. Changes by this app are announced
/// by the commands themselves. A change also wakes the refresher: due times
/// may have moved.
pub fn spawn_store_watch(app: AppHandle, engine: Arc<latch_core::Engine>) {
    tauri::async_runtime::spawn(async move {
        let mut watch = latch_core::dir_watch::DirWatch::new(engine.data_dir());
        let mut last = engine.store_version().ok();
        loop {
            watch.changed().await;
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
