//! The detail view's Recent use: the record of each time a connection's
//! credential was handed out. Never the credential.

use tauri::State;

use crate::dto::UsageDto;
use crate::error::IpcResult;
use crate::AppState;

/// The newest `limit` uses of one connection (by id or name), newest first.
#[tauri::command]
pub async fn connection_usage(
    state: State<'_, AppState>,
    id_or_name: String,
    limit: usize,
) -> IpcResult<Vec<UsageDto>> {
    Ok(state.engine.usage(Some(&id_or_name), limit)?.into_iter().map(Into::into).collect())
}
