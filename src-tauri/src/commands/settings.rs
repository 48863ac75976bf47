//! The Settings screen: the engine's settings, plus starting at login,
//! which the OS keeps (tauri-plugin-autostart).

use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;

use crate::dto::SettingsDto;
use crate::error::{IpcError, IpcResult};
use crate::AppState;

#[tauri::command]
pub async fn settings_get(app: AppHandle, state: State<'_, AppState>) -> IpcResult<SettingsDto> {
    Ok(SettingsDto { start_at_login: start_at_login(&app), settings: state.engine.settings()? })
}

/// Saves everything; the refresher picks the new settings up at once, and
/// the local proxy starts, moves or stops (a port it cannot use is said by
/// `proxy_state`, not here: the settings are saved all the same).
#[tauri::command]
pub async fn settings_save(app: AppHandle, state: State<'_, AppState>, settings: SettingsDto) -> IpcResult<SettingsDto> {
    let saved = state.engine.save_settings(&settings.settings)?;
    state.refresher.wake();
    state.proxy.apply(&state.engine, state.agent.as_ref(), &saved).await;
    let autostart = app.autolaunch();
    let changed = match (settings.start_at_login, start_at_login(&app)) {
        (true, false) => autostart.enable(),
        (false, true) => autostart.disable(),
        _ => Ok(()),
    };
    changed.map_err(|err| {
        IpcError::from(latch_core::Error::storage(format!(
            "Your other settings are saved, but starting at login could not be changed: {err}."
        )))
    })?;
    Ok(SettingsDto { start_at_login: start_at_login(&app), settings: saved })
}

fn start_at_login(app: &AppHandle) -> bool {
    app.autolaunch().is_enabled().unwrap_or(false)
}
