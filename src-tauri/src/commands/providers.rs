//! Starting a connection from what is known about a provider: the presets,
//! and the authorization server's own metadata (discovery).

use latch_core::discover::Discovered;
use latch_core::model::ConnectionSpec;
use latch_core::presets;
use tauri::State;

use crate::dto::PresetDto;
use crate::error::IpcResult;
use crate::AppState;

#[tauri::command]
pub async fn presets_list() -> IpcResult<Vec<PresetDto>> {
    Ok(presets::all().into_iter().map(Into::into).collect())
}

/// The form's starting point for a preset.
#[tauri::command]
pub async fn preset_spec(id: String) -> IpcResult<ConnectionSpec> {
    Ok(presets::find(&id)?.new_spec())
}

/// Fills the form's `spec` from `issuer`'s metadata; on failure the form is
/// left as it was and the message says why.
#[tauri::command]
pub async fn issuer_discover(state: State<'_, AppState>, issuer: String, spec: ConnectionSpec) -> IpcResult<Discovered> {
    Ok(state.engine.discover_into(&issuer, spec).await?)
}
