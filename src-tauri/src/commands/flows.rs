//! Connecting (the browser sign-in with Cancel, the paste-the-redirect
//! sign-in, the device code sign-in), refreshing, disconnecting.

use std::collections::HashMap;
use std::sync::Mutex;

use latch_core::model::Flow;
use latch_core::{ConnectOptions, Error};
use tauri::{AppHandle, Emitter, State};
use tokio::sync::oneshot;

use crate::dto::{ConnectionDto, DeviceCodeShown, DisconnectOutcome, SignInStarted};
use crate::error::{IpcError, IpcResult};
use crate::watch::announce_change;
use crate::AppState;

pub const SIGN_IN_STARTED: &str = "sign-in-started";
pub const DEVICE_CODE_SHOWN: &str = "device-code-shown";

/// A sign-in under way: sending on `cancel` cancels it; `paste` takes the
/// address the user pastes (used by the paste sign-in only).
pub struct SignIn {
    /// Which Connect this is: a second Connect replaces the first, and the
    /// first must not remove the second's entry when it ends.
    serial: u64,
    cancel: oneshot::Sender<()>,
    paste: Option<oneshot::Sender<String>>,
}

static SIGN_IN_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sign-ins under way, by connection id.
pub type SignIns = Mutex<HashMap<String, SignIn>>;

fn rfc3339_in(duration: std::time::Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(duration).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Runs the connection's sign-in: the device code flow for `device_code`,
/// the paste flow when the provider redirects to a hosted https page, the
/// loopback browser flow otherwise. Resolves when it finishes, fails or is
/// cancelled (`code: "cancelled"`).
#[tauri::command]
pub async fn connection_connect(app: AppHandle, state: State<'_, AppState>, id: String) -> IpcResult<ConnectionDto> {
    let spec = state.engine.get(&id)?.spec;
    let (cancel, cancelled) = oneshot::channel();
    let (paste, pasted) = oneshot::channel::<String>();
    let serial = SIGN_IN_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sign_in = SignIn { serial, cancel, paste: Some(paste) };
    if let Some(previous) = state.sign_ins.lock().unwrap().insert(id.clone(), sign_in) {
        // A second Connect replaces the first sign-in.
        let _ = previous.cancel.send(());
    }
    let engine = &state.engine;
    let emitter = app.clone();
    let started = |started: &latch_core::SignInStarted<'_>, deadline: Option<String>, paste: bool| {
        let _ = emitter.emit(
            SIGN_IN_STARTED,
            SignInStarted {
                id: id.clone(),
                authorize_url: started.authorize_url.to_owned(),
                redirect_uri: started.redirect_uri.to_owned(),
                deadline,
                browser_error: started.browser_error.clone(),
                paste,
            },
        );
    };
    let sign_in = async {
        if spec.flow == Flow::DeviceCode {
            let on_code = |shown: &latch_core::DeviceCodeShown<'_>| {
                let _ = app.emit(
                    DEVICE_CODE_SHOWN,
                    DeviceCodeShown {
                        id: id.clone(),
                        user_code: shown.user_code.to_owned(),
                        verification_uri: shown.verification_uri.to_owned(),
                        verification_uri_complete: shown.verification_uri_complete.map(str::to_owned),
                        deadline: rfc3339_in(shown.expires_in),
                        browser_error: shown.browser_error.clone(),
                    },
                );
            };
            engine.connect_device(&id, on_code).await
        } else if spec.flow.uses_browser() && spec.redirect_uri_override.is_some() {
            let pasted = async { pasted.await.map_err(|_| Error::cancelled("Sign-in cancelled.")) };
            engine.connect_pasted(&id, |s| started(s, None, true), pasted).await
        } else {
            let options = ConnectOptions::default();
            let deadline = rfc3339_in(options.timeout);
            engine.connect(&id, options, |s| started(s, Some(deadline), false)).await
        }
    };
    let outcome = tokio::select! {
        outcome = sign_in => outcome.map_err(IpcError::from),
        _ = cancelled => Err(IpcError::from(Error::cancelled("Sign-in cancelled."))),
    };
    {
        let mut sign_ins = state.sign_ins.lock().unwrap();
        if sign_ins.get(&id).is_some_and(|sign_in| sign_in.serial == serial) {
            sign_ins.remove(&id);
        }
    }
    announce_change(&app);
    Ok(outcome?.into())
}

/// Hands the address the user pasted to the paste sign-in waiting for it.
#[tauri::command]
pub async fn connection_paste_submit(state: State<'_, AppState>, id: String, address: String) -> IpcResult<()> {
    let paste = state.sign_ins.lock().unwrap().get_mut(&id).and_then(|sign_in| sign_in.paste.take());
    match paste.map(|paste| paste.send(address)) {
        Some(Ok(())) => Ok(()),
        _ => Err(Error::validation(
            "paste",
            "No sign-in is waiting for an address any more. Click Connect to start again.",
        )
        .into()),
    }
}

#[tauri::command]
pub async fn connection_connect_cancel(state: State<'_, AppState>, id: String) -> IpcResult<()> {
    if let Some(sign_in) = state.sign_ins.lock().unwrap().remove(&id) {
        let _ = sign_in.cancel.send(());
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
