//! Listing, checking, saving and deleting connections.

use latch_core::secret::ClientSecret;
use latch_core::model::SettingsPatch;
use latch_core::{ConnectionTemplate, Engine, FieldError, SecretChange};
use tauri::State;

use crate::dto::{ApiConnectionDto, ConnectionDraft, ConnectionDto, DisconnectOutcome, SecretInput};
use crate::error::IpcResult;
use crate::AppState;

/// The form's choice for the client credential. A key the user asked Latch
/// to make is made here, at save time, so it exists only in Rust and in the
/// secret store.
fn secret_change(input: SecretInput) -> latch_core::Result<SecretChange> {
    Ok(match input {
        SecretInput::Keep => SecretChange::Keep,
        SecretInput::Set { value } => SecretChange::Set(ClientSecret::new(value)),
        SecretInput::Remove => SecretChange::Remove,
        SecretInput::GenerateKey { algorithm } => SecretChange::Set(Engine::generate_client_key(&algorithm)?),
    })
}

#[tauri::command]
pub async fn connections_list(state: State<'_, AppState>) -> IpcResult<Vec<ConnectionDto>> {
    let mut teams = state.engine.team_names()?;
    Ok(state
        .engine
        .list()?
        .into_iter()
        .map(|connection| ConnectionDto { team: teams.remove(&connection.id), ..ConnectionDto::from(connection) })
        .collect())
}

#[tauri::command]
pub async fn connection_get(state: State<'_, AppState>, id: String) -> IpcResult<ConnectionDto> {
    Ok(ConnectionDto::of(&state.engine, state.engine.get(&id)?)?)
}

/// An existing connection's name and settings, as its edit form starts them.
#[tauri::command]
pub async fn connection_draft(state: State<'_, AppState>, id: String) -> IpcResult<latch_core::model::Draft> {
    Ok(state.engine.get(&id)?.draft())
}

/// What a new connection's form starts from: the engine's defaults and the
/// fields each flow needs.
#[tauri::command]
pub async fn connection_template(state: State<'_, AppState>, kind: String) -> IpcResult<ConnectionTemplate> {
    Ok(state.engine.template(&kind)?)
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
        SecretInput::GenerateKey { .. } => true,
    };
    Ok(state.engine.check(&draft.draft, existing.as_ref().map(|c| &c.id), has_secret)?)
}

/// Saves a new connection; with `team`, it is kept in that team (its
/// secrets in the team's store), as `latch add --team` does.
#[tauri::command]
pub async fn connection_create(
    state: State<'_, AppState>,
    draft: ConnectionDraft,
    team: Option<String>,
) -> IpcResult<ConnectionDto> {
    let secret = match secret_change(draft.client_secret)? {
        SecretChange::Set(secret) => Some(secret),
        _ => None,
    };
    let created = state.engine.create(draft.draft, secret).await?;
    let Some(team) = team else { return Ok(created.into()) };
    let kept = state.engine.team_adopt(created.id.as_str(), &team).await?;
    Ok(ConnectionDto::of(&state.engine, kept)?)
}

/// A connection from nothing but an API address: Latch finds the API's
/// authorization server and, where it allows, registers itself there.
#[tauri::command]
pub async fn connection_create_from_api(state: State<'_, AppState>, url: String, name: String) -> IpcResult<ApiConnectionDto> {
    let (connection, found) = state.engine.create_from_api(&url, name, SettingsPatch::new(), None).await?;
    Ok(ApiConnectionDto { connection: connection.into(), found })
}

#[tauri::command]
pub async fn connection_update(state: State<'_, AppState>, id: String, draft: ConnectionDraft) -> IpcResult<ConnectionDto> {
    let updated = state.engine.update(&id, draft.draft, secret_change(draft.client_secret)?).await?;
    Ok(ConnectionDto::of(&state.engine, updated)?)
}

/// Disconnects (revoking at the provider when it can), then deletes.
#[tauri::command]
pub async fn connection_remove(state: State<'_, AppState>, id: String) -> IpcResult<DisconnectOutcome> {
    Ok(state.engine.remove(&id).await?.into())
}
