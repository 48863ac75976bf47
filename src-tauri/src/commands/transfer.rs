//! Export and import of connection settings through native file dialogs.
//! The file format and every rule live in `latch_core::transfer`.

use std::path::PathBuf;

use latch_core::transfer::{self, Accepted, ImportAnswers};
use latch_core::Error;
use tauri::AppHandle;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

use crate::dto::{ImportChoice, ImportFileDto, ImportedDto};
use crate::error::IpcResult;
use crate::AppState;

const FILTER_NAME: &str = "Latch export (JSON)";

/// Waits for a file dialog without blocking a runtime thread; None when the
/// user closed it.
async fn chosen(pick: impl FnOnce(oneshot::Sender<Option<tauri_plugin_dialog::FilePath>>)) -> Option<PathBuf> {
    let (tx, rx) = oneshot::channel();
    pick(tx);
    rx.await.ok().flatten().and_then(|path| path.into_path().ok())
}

/// The file's bytes, never more than the import size cap (a file that says
/// it is larger is not read at all).
fn read(path: &str) -> Result<Vec<u8>, Error> {
    let file = std::fs::File::open(path).map_err(|err| {
        Error::validation("import", format!("Latch could not read '{path}': {err}. Nothing was imported."))
    })?;
    if let Some(metadata) = file.metadata().ok().filter(|m| m.is_file()) {
        transfer::check_size(metadata.len())?;
    }
    transfer::read_limited(file, &format!("'{path}'"))
}

/// Saves the settings of `ids` (all connections when empty) to a file the
/// user chooses. Resolves with the file's path, or None if they cancelled.
#[tauri::command]
pub async fn connections_export(app: AppHandle, state: State<'_, AppState>, ids: Vec<String>) -> IpcResult<Option<String>> {
    let file = state.engine.export(&ids)?;
    let suggested = match file.connections.as_slice() {
        [one] => format!("{}.latch.json", one.name.replace(['/', '\\', ':'], "-")),
        _ => "latch-connections.json".to_owned(),
    };
    let Some(path) = chosen(|tx| {
        app.dialog().file().set_title("Export connections").add_filter(FILTER_NAME, &["json"]).set_file_name(suggested).save_file(
            move |path| {
                let _ = tx.send(path);
            },
        )
    })
    .await
    else {
        return Ok(None);
    };
    let text = format!("{}\n", serde_json::to_string_pretty(&file).expect("an export serialises"));
    std::fs::write(&path, text)
        .map_err(|err| Error::storage(format!("Latch could not write '{}': {err}. Choose another place.", path.display())))?;
    Ok(Some(path.display().to_string()))
}

/// Asks for an export file and says what importing it would do — where each
/// connection sends the sign-in and tokens, and which names are taken — so
/// the UI can ask. Nothing is imported yet. The file's digest goes back to
/// `connections_import`, which imports exactly these bytes or nothing.
#[tauri::command]
pub async fn import_choose(app: AppHandle, state: State<'_, AppState>) -> IpcResult<Option<ImportFileDto>> {
    let Some(path) = chosen(|tx| {
        app.dialog().file().set_title("Import connections").add_filter(FILTER_NAME, &["json"]).pick_file(move |path| {
            let _ = tx.send(path);
        })
    })
    .await
    else {
        return Ok(None);
    };
    let path = path.display().to_string();
    let bytes = read(&path)?;
    let connections = state.engine.import_preview(&bytes)?;
    Ok(Some(ImportFileDto { path, digest: transfer::digest(&bytes), connections }))
}

/// Imports the previewed file with the user's answer for each taken name and
/// the names of the connections whose hosts they said they trust. The file
/// is read again and refused if its bytes are not the previewed ones.
#[tauri::command]
pub async fn connections_import(
    state: State<'_, AppState>,
    path: String,
    digest: String,
    choices: Vec<ImportChoice>,
    accepted: Vec<String>,
) -> IpcResult<ImportedDto> {
    let answers = ImportAnswers {
        conflicts: choices.into_iter().map(|c| (c.name, c.resolution)).collect(),
        accepted: Accepted::Names(accepted),
        previewed: Some(digest),
        otherwise: None,
    };
    Ok(state.engine.import_resolving(&read(&path)?, answers).await?.into())
}
