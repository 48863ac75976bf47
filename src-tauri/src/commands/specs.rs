//! Connections made from a Make-style spec: opening one (a file or folder
//! the user chooses, or pasted JSON), the engine's check of a parameter's
//! value, making and editing the connection, and running a step on demand.
//! Every rule is the engine's (`latch_core::spec`, `Engine::create_spec`).
//!
//! Secrets: the common values a spec file ships never go to the web view
//! (the document it gets has them taken out); `spec_create` reads the file
//! again for them. What crosses back is what the user typed.

use std::path::PathBuf;

use latch_core::model::{SpecDocument, SpecSettings};
use latch_core::spec::{document, runner};
use latch_core::{Error, SpecConnection, SpecEdit, StepReport};
use serde_json::{Map as JsonMap, Value as Json};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

use crate::dto::{ConnectionDto, SpecCommonKey, SpecCreateDto, SpecOpenedDto, SpecSource};
use crate::error::IpcResult;
use crate::AppState;

/// The document a source holds, read again each time it is needed.
fn load(source: &SpecSource) -> Result<SpecDocument, Error> {
    match source {
        SpecSource::Path { path } => document::load(std::path::Path::new(path)),
        SpecSource::Text { text } => document::parse_single(text, "the pasted spec"),
    }
}

fn opened(source: SpecSource, document: SpecDocument) -> SpecOpenedDto {
    let shipped = document.shipped_common();
    let common = document
        .common
        .keys()
        .map(|key| SpecCommonKey {
            key: key.clone(),
            shipped: shipped.contains_key(key),
            secret: latch_core::flows::token_response::is_secret_key(key),
            hint: placeholder_hint(document.common.get(key), shipped.contains_key(key)),
        })
        .collect();
    let redirect_uri = SpecSettings { spec: document.clone(), ..SpecSettings::default() }.redirect_uri_to_register();
    SpecOpenedDto {
        problems: latch_core::Engine::spec_problems(&document),
        secret_hosts: runner::secret_destinations(&document),
        document: document.without_common_values(),
        common,
        redirect_uri,
        source,
    }
}

/// The words of a placeholder the file ships (`<client id from the…>`):
/// only for a value the engine does not take as real.
fn placeholder_hint(value: Option<&Json>, shipped: bool) -> Option<String> {
    let text = value?.as_str()?.trim();
    let words = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(text).trim();
    (!shipped && !words.is_empty()).then(|| words.to_owned())
}

/// Asks for a spec file (`folder`: a folder in Make's or the VS Code
/// extension's layout) and opens it. None when the user closed the dialog.
#[tauri::command]
pub async fn spec_open_file(app: AppHandle, folder: bool) -> IpcResult<Option<SpecOpenedDto>> {
    let (tx, rx) = oneshot::channel();
    let dialog = app.dialog().file().set_title(if folder { "Open a connection spec folder" } else { "Open a connection spec" });
    let send = move |path: Option<tauri_plugin_dialog::FilePath>| {
        let _ = tx.send(path);
    };
    if folder {
        dialog.pick_folder(send);
    } else {
        dialog.add_filter("Connection spec (JSON)", &["json", "imljson"]).pick_file(send);
    }
    let Some(path) = rx.await.ok().flatten().and_then(|p| p.into_path().ok()).map(|p: PathBuf| p.display().to_string())
    else {
        return Ok(None);
    };
    let source = SpecSource::Path { path };
    let document = load(&source)?;
    Ok(Some(opened(source, document)))
}

/// Opens pasted JSON (also the editor's check before it saves).
#[tauri::command]
pub async fn spec_open_text(text: String) -> IpcResult<SpecOpenedDto> {
    let source = SpecSource::Text { text };
    let document = load(&source)?;
    Ok(opened(source, document))
}

/// The engine's rule for one parameter's value (required without a
/// default, its type, a select's options): None when it fits.
#[tauri::command]
pub async fn spec_parameter_check(definition: Json, value: Option<Json>) -> Option<String> {
    let mut definition = definition;
    let name = definition.get("name").and_then(Json::as_str).unwrap_or("value").to_owned();
    // `validate::spec` leaves password parameters to the secret store's own
    // check (any text, required or not); as text they get the same rule.
    let secret = SpecDocument { parameters: vec![definition.clone()], ..SpecDocument::default() }.secret_parameters();
    if !secret.is_empty() {
        definition["type"] = Json::from("text");
    }
    let empty = value.as_ref().is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()));
    let mut parameters = JsonMap::new();
    if let (false, Some(value)) = (empty, value) {
        parameters.insert(name, value);
    }
    let settings = SpecSettings {
        spec: SpecDocument { parameters: vec![definition], communication: serde_json::json!({ "token": {} }), ..SpecDocument::default() },
        parameters,
        ..SpecSettings::default()
    };
    latch_core::validate::spec(&settings).into_iter().find(|e| e.field == "parameters").map(|e| e.message)
}

/// Makes a connection from an opened spec. The file is read again (for the
/// common values it ships); if it now sends a secret to a host the user did
/// not confirm, nothing is saved.
#[tauri::command]
pub async fn spec_create(state: State<'_, AppState>, input: SpecCreateDto) -> IpcResult<ConnectionDto> {
    let document = load(&input.source)?;
    let elsewhere = runner::secret_destinations(&document);
    let confirmed = elsewhere.iter().all(|host| input.accepted_secret_hosts.contains(host));
    let connection = state
        .engine
        .create_spec(SpecConnection {
            name: input.name,
            document,
            parameters: input.parameters,
            common: input.common,
            scopes: input.scopes,
            redirect_port: 0,
            redirect_uri_override: None,
            accept_secret_hosts: confirmed,
            api: input.api,
        })
        .await?;
    Ok(connection.into())
}

/// Changes a spec connection: its spec (the editor's text; checked first,
/// an invalid spec never replaces the working one) and/or the values typed
/// in (Change values…). Parameters set to null are cleared; common values
/// and password parameters left out keep what is saved. The sign-in stays.
#[tauri::command]
pub async fn spec_edit(
    state: State<'_, AppState>,
    id: String,
    text: Option<String>,
    accepted_secret_hosts: Vec<String>,
    parameters: Option<JsonMap<String, Json>>,
    common: Option<JsonMap<String, Json>>,
    scopes: Option<Vec<String>>,
    api: Option<latch_core::model::ApiAccess>,
) -> IpcResult<ConnectionDto> {
    let document = text.map(|text| document::parse_single(&text, "the edited spec")).transpose()?;
    let elsewhere = document.as_ref().map(runner::secret_destinations).unwrap_or_default();
    let confirmed = elsewhere.iter().all(|host| accepted_secret_hosts.contains(host));
    let edit = SpecEdit {
        document,
        parameters: parameters.unwrap_or_default(),
        common: common.unwrap_or_default(),
        scopes,
        accept_secret_hosts: confirmed,
        api,
    };
    Ok(state.engine.edit_spec(&id, edit).await?.into())
}

/// Runs a step (`info`: check the account, `refresh`: renew now) and says
/// what it sent and got back, secrets masked by the engine.
#[tauri::command]
pub async fn spec_step_run(state: State<'_, AppState>, id: String, step: String) -> IpcResult<StepReport> {
    Ok(state.engine.run_spec_step(&id, &step).await?)
}

/// The JSON schema of a spec (docs/latch-spec.schema.json), for the
/// editor's inline errors: the same one the engine checks with.
#[tauri::command]
pub fn spec_schema() -> &'static str {
    runner::SCHEMA
}
