//! Starting a connection from what is known about a provider: the presets,
//! and the authorization server's own metadata (discovery).

use latch_core::discover::Discovered;
use latch_core::model::Draft;
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
pub async fn preset_draft(id: String) -> IpcResult<Draft> {
    Ok(presets::find(&id)?.new_draft())
}

/// Fills the form's `draft` from `issuer`'s metadata; on failure the form is
/// left as it was and the message says why.
#[tauri::command]
pub async fn issuer_discover(state: State<'_, AppState>, issuer: String, draft: Draft) -> IpcResult<Discovered> {
    Ok(state.engine.discover_into(&issuer, draft).await?)
}
