//! OAuth 1.0a connections' RSA private key: checking a pasted or chosen
//! PEM, and saving it in the keyring (`Engine::set_oauth1_private_key`).
//! Everything else an OAuth 1.0a connection does goes through the same
//! commands as any connection (check, create, sign in, request, disconnect).

use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

use crate::dto::PrivateKeyFileDto;
use crate::error::IpcResult;
use crate::AppState;

/// The engine's reading of a PEM: None when it is a usable RSA private key,
/// otherwise the sentence saying what is wrong.
#[tauri::command]
pub fn oauth1_private_key_check(pem: String) -> Option<String> {
    latch_core::flows::oauth1::private_key_from_pem(&pem).err().map(|err| err.to_string())
}

/// Asks for a PEM file and reads it. None when the user closed the dialog.
/// The text goes back to the form, which sends it to `oauth1_private_key_set`
/// on Save: the same path as a pasted key.
#[tauri::command]
pub async fn oauth1_private_key_choose(app: AppHandle) -> IpcResult<Option<PrivateKeyFileDto>> {
    let (tx, rx) = oneshot::channel();
    app.dialog()
        .file()
        .set_title("Choose the private key (PEM)")
        .add_filter("Private key (PEM)", &["pem", "key", "txt"])
        .pick_file(move |path| {
            let _ = tx.send(path);
        });
    let Some(path) = rx.await.ok().flatten().and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let pem = std::fs::read_to_string(&path).map_err(|err| {
        latch_core::Error::validation("private_key", format!("Latch could not read {}: {err}", path.display()))
    })?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Some(PrivateKeyFileDto { file_name, pem }))
}

/// Saves a connection's private key in the keyring, once the engine reads it.
#[tauri::command]
pub async fn oauth1_private_key_set(state: State<'_, AppState>, id: String, pem: String) -> IpcResult<()> {
    Ok(state.engine.set_oauth1_private_key(&id, &pem).await?)
}
