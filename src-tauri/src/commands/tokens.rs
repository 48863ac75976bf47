//! The one way a token reaches the UI: an explicit Copy or Reveal click.

use tauri::State;

use crate::error::IpcResult;
use crate::AppState;

#[tauri::command]
pub async fn access_token_reveal(state: State<'_, AppState>, id: String) -> IpcResult<String> {
    let (_, token) = state.engine.access_token(&id).await?;
    Ok(token.secret().to_owned())
}
