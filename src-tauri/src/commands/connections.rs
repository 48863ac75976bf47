//! Listing, checking, saving and deleting connections.

use latch_core::model::ConnectionPatch;
use latch_core::secret::ClientSecret;
use latch_core::{FieldError, SecretChange};
use tauri::{AppHandle, State};

use crate::dto::{ConnectionDraft, ConnectionDto, DisconnectOutcome, SecretInput};
use crate::error::IpcResult;
use crate::watch::announce_change;
use crate::AppState;

fn secret_change(input: SecretInput) -> SecretChange {
    match input {
        SecretInput::Keep => SecretChange::Keep,
        SecretInput::Set { value } => SecretChange::Set(ClientSecret::new(value)),
        SecretInput::Remove => SecretChange::Remove,
    }
}

#[tauri::command]
pub async fn connections_list(state: State<'_, AppState>) -> IpcResult<Vec<ConnectionDto>> {
    Ok(state.engine.list()?.into_iter().map(Into::into).collect())
}

#[tauri::command]
pub async fn connection_get(state: State<'_, AppState>, id: String) -> IpcResult<ConnectionDto> {
    Ok(state.engine.get(&id)?.into())
}

/// The engine's validation, as the user types.
#[tauri::command]
pub async fn connection_check(
    state: State<'_, AppState>,
    draft: ConnectionDraft,
    id: Option<String>,
) -> IpcResult<Vec<FieldError>> {
    let existing = id.map(|id| state.engine.get(&id)).transpose()?;
    let has_secret = match draft.client_secret {
        SecretInput::Keep => existing.as_ref().is_some_and(|c| c.has_client_secret),
        SecretInput::Set { ref value } => !value.is_empty(),
        SecretInput::Remove => false,
    };
    Ok(state.engine.check(&draft.spec, existing.as_ref().map(|c| &c.id), has_secret)?)
}

#[tauri::command]
pub async fn connection_create(app: AppHandle, state: State<'_, AppState>, draft: ConnectionDraft) -> IpcResult<ConnectionDto> {
    let secret = match secret_change(draft.client_secret) {
        SecretChange::Set(secret) => Some(secret),
        _ => None,
    };
    let created = state.engine.create(ConnectionPatch::from(draft.spec), secret)?;
    announce_change(&app);
    Ok(created.into())
}

#[tauri::command]
pub async fn connection_update(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    draft: ConnectionDraft,
) -> IpcResult<ConnectionDto> {
    let updated = state.engine.update(&id, ConnectionPatch::from(draft.spec), secret_change(draft.client_secret))?;
    announce_change(&app);
    Ok(updated.into())
}

/// Disconnects (revoking at the provider when it can), then deletes.
#[tauri::command]
pub async fn connection_remove(app: AppHandle, state: State<'_, AppState>, id: String) -> IpcResult<DisconnectOutcome> {
    let outcome = state.engine.remove(&id).await;
    announce_change(&app);
    Ok(outcome?.into())
}
