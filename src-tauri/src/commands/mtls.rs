//! Mutual-TLS client certificates (RFC 8705) for OAuth 2.0 connections:
//! reading a pasted or chosen certificate and key (PEM or PKCS#12) into
//! what the certificate says, saving it in the keyring
//! (`Engine::import_client_identity_pem`), and the public certificate a
//! self-signed one Latch made is registered with.

use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

use latch_core::flows::mtls;
use latch_core::model::ClientCertificate;

use crate::dto::ClientIdentityFileDto;
use crate::error::IpcResult;
use crate::AppState;

/// What a pasted certificate and key (PEM) say, or the sentence saying what
/// is wrong with them.
#[tauri::command]
pub fn client_certificate_check(pem: String) -> IpcResult<ClientCertificate> {
    let (_, certificate) = mtls::identity_from_pem(&pem)?;
    mtls::check_current(&certificate, "", chrono::Utc::now())?;
    Ok(certificate)
}

/// Asks for a certificate file — PEM with its key, or PKCS#12 (.p12/.pfx)
/// opened with `password` — and reads it. None when the user closed the
/// dialog. The PEM goes back to the form, which sends it to
/// `client_identity_set` on Save: the same path as a pasted one.
#[tauri::command]
pub async fn client_certificate_choose(
    app: AppHandle,
    password: Option<String>,
) -> IpcResult<Option<ClientIdentityFileDto>> {
    let (tx, rx) = oneshot::channel();
    app.dialog()
        .file()
        .set_title("Choose the client certificate and key")
        .add_filter(
            "Certificate and key (PEM, PKCS#12)",
            &["pem", "crt", "key", "p12", "pfx"],
        )
        .pick_file(move |path| {
            let _ = tx.send(path);
        });
    let Some(path) = rx.await.ok().flatten().and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let unreadable = |err: std::io::Error| {
        latch_core::Error::validation(
            mtls::FIELD,
            format!("Latch could not read {}: {err}", path.display()),
        )
    };
    if std::fs::metadata(&path).map_err(unreadable)?.len() > mtls::PEM_MAX_BYTES as u64 {
        return Err(latch_core::Error::validation(
            mtls::FIELD,
            "The file is larger than 256 KiB; a certificate and key are a few kilobytes.",
        )
        .into());
    }
    let data = zeroize::Zeroizing::new(std::fs::read(&path).map_err(unreadable)?);
    let (identity, certificate) = match std::str::from_utf8(&data) {
        Ok(text) if text.contains("-----BEGIN") => mtls::identity_from_pem(text)?,
        _ => mtls::identity_from_pkcs12(&data, password.as_deref().unwrap_or_default())?,
    };
    mtls::check_current(&certificate, "", chrono::Utc::now())?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Some(ClientIdentityFileDto {
        file_name,
        pem: identity.secret().to_owned(),
        certificate,
    }))
}

/// Saves a connection's client certificate and key in the keyring.
#[tauri::command]
pub async fn client_identity_set(
    state: State<'_, AppState>,
    id: String,
    pem: String,
) -> IpcResult<()> {
    state.engine.import_client_identity_pem(&id, &pem).await?;
    Ok(())
}

/// The connection's client certificate (PEM, public), to register with the provider.
#[tauri::command]
pub async fn client_certificate_pem(state: State<'_, AppState>, id: String) -> IpcResult<String> {
    Ok(state.engine.client_certificate_pem(&id).await?)
}
