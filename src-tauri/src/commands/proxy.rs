//! The Settings screen's Local proxy box: where the proxy answers, and its
//! key copied to the clipboard by the shell. The key never crosses IPC.

use tauri::{AppHandle, State};

use crate::commands::tokens::copy_to_clipboard;
use crate::dto::{Copied, ProxyStateDto};
use crate::error::{IpcError, IpcResult};
use crate::AppState;

#[tauri::command]
pub async fn proxy_state(state: State<'_, AppState>) -> IpcResult<ProxyStateDto> {
    Ok(state.proxy.state().await)
}

/// Copy proxy key: from the running proxy to the clipboard, cleared after
/// 45 seconds like a copied token.
#[tauri::command]
pub async fn proxy_key_copy(app: AppHandle, state: State<'_, AppState>) -> IpcResult<Copied> {
    let key = state.proxy.key().await.ok_or_else(|| {
        IpcError::from(latch_core::Error::validation(
            "proxy_enabled",
            "The proxy is not running: switch it on and save first.",
        ))
    })?;
    copy_to_clipboard(&app, &key, true)
}
