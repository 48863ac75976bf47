//! Signing in, refreshing, disconnecting. A sign-in is an engine session:
//! this starts it and returns its id; its progress reaches the window as
//! `sign-in` events (forwarded in `events.rs`), for sessions started here
//! and elsewhere (a notification's button) alike.

use latch_core::{SessionId, SignInOptions};
use tauri::State;

use crate::dto::{ConnectionDto, DisconnectOutcome, SignInStartedDto};
use crate::error::IpcResult;
use crate::AppState;

/// Starts the connection's sign-in (the engine picks the flow) and returns
/// at once with the session's id; a second one cancels the first.
#[tauri::command]
pub async fn sign_in_start(state: State<'_, AppState>, id: String) -> IpcResult<SignInStartedDto> {
    let handle = state.engine.sign_in(&id, SignInOptions::default())?;
    // The events reach the window through the engine's subscription; the
    // outcome is recorded by the engine. Nothing here waits for it.
    Ok(SignInStartedDto { session: handle.session })
}

#[tauri::command]
pub async fn sign_in_cancel(state: State<'_, AppState>, session: String) -> IpcResult<bool> {
    Ok(state.engine.sign_in_cancel(&SessionId(session)))
}

/// Hands the address the user pasted to the session waiting for it.
#[tauri::command]
pub async fn sign_in_submit_address(state: State<'_, AppState>, session: String, address: String) -> IpcResult<()> {
    let address = zeroize::Zeroizing::new(address);
    Ok(state.engine.sign_in_submit_address(&SessionId(session), &address)?)
}

#[tauri::command]
pub async fn connection_refresh(state: State<'_, AppState>, id: String) -> IpcResult<ConnectionDto> {
    Ok(ConnectionDto::of(&state.engine, state.engine.refresh(&id).await?)?)
}

#[tauri::command]
pub async fn connection_disconnect(state: State<'_, AppState>, id: String) -> IpcResult<DisconnectOutcome> {
    Ok(state.engine.disconnect(&id).await?.into())
}
