//! Notices changes made by other processes (the `latch` CLI, a script) and
//! tells the UI, so both front ends show the same store within a second.

use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Emitter};

pub const CONNECTIONS_CHANGED: &str = "connections-changed";

/// Compares SQLite's `data_version` once a second: a pragma on the open
/// connection, no disk access. Changes by this app are announced by the
/// commands themselves.
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
                let _ = app.emit(CONNECTIONS_CHANGED, ());
            }
        }
    });
}

/// Tells the UI that this app changed something.
pub fn announce_change(app: &AppHandle) {
    let _ = app.emit(CONNECTIONS_CHANGED, ());
}
