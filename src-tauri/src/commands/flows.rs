//! Connecting (the browser sign-in, with Cancel), refreshing, disconnecting.

use std::collections::HashMap;
use std::sync::Mutex;

use latch_core::ConnectOptions;
use tauri::{AppHandle, Emitter, State};
use tokio::sync::oneshot;

use crate::dto::{ConnectionDto, DisconnectOutcome, SignInStarted};
use crate::error::{IpcError, IpcResult};
use crate::watch::announce_change;
use crate::AppState;

pub const SIGN_IN_STARTED: &str = "sign-in-started";

/// Sign-ins under way, by connection id: sending on the channel cancels.
pub type SignIns = Mutex<HashMap<String, oneshot::Sender<()>>>;

/// Runs the connection's flow. Resolves when the sign-in finishes, fails or
/// is cancelled (`code: "cancelled"`).
#[tauri::command]
pub async fn connection_connect(app: AppHandle, state: State<'_, AppState>, id: String) -> IpcResult<ConnectionDto> {
    let (cancel, cancelled) = oneshot::channel();
    if let Some(previous) = state.sign_ins.lock().unwrap().insert(id.clone(), cancel) {
        // A second Connect replaces the first sign-in.
        let _ = previous.send(());
    }
    let options = ConnectOptions::default();
    let deadline = chrono::Utc::now() + chrono::Duration::from_std(options.timeout).unwrap_or_default();
    let emitter = app.clone();
    let started_id = id.clone();
    let on_started = move |started: &latch_core::SignInStarted<'_>| {
        let _ = emitter.emit(
            SIGN_IN_STARTED,
            SignInStarted {
                id: started_id,
                authorize_url: started.authorize_url.to_owned(),
                redirect_uri: started.redirect_uri.to_owned(),
                deadline: deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                browser_error: started.browser_error.clone(),
            },
        );
    };
    let outcome = tokio::select! {
        outcome = state.engine.connect(&id, options, on_started) => outcome.map_err(IpcError::from),
        _ = cancelled => Err(IpcError::from(latch_core::Error::cancelled("Sign-in cancelled."))),
    };
    state.sign_ins.lock().unwrap().remove(&id);
    announce_change(&app);
    Ok(outcome?.into())
}

#[tauri::command]
pub async fn connection_connect_cancel(state: State<'_, AppState>, id: String) -> IpcResult<()> {
    if let Some(cancel) = state.sign_ins.lock().unwrap().remove(&id) {
        let _ = cancel.send(());
    }
    Ok(())
}

#[tauri::command]
pub async fn connection_refresh(app: AppHandle, state: State<'_, AppState>, id: String) -> IpcResult<ConnectionDto> {
    let outcome = state.engine.refresh(&id).await;
    announce_change(&app);
    Ok(outcome?.into())
}

#[tauri::command]
pub async fn connection_disconnect(app: AppHandle, state: State<'_, AppState>, id: String) -> IpcResult<DisconnectOutcome> {
    let outcome = state.engine.disconnect(&id).await;
    announce_change(&app);
    Ok(outcome?.into())
}
