//! The detail view's Test request.

use latch_core::request::{ApiRequest, RequestPreview};
use tauri::{AppHandle, State};

use crate::commands::tokens::copy_to_clipboard;
use crate::dto::{ApiRequestDto, ApiResponseDto, Copied};
use crate::error::IpcResult;
use crate::AppState;

#[tauri::command]
pub async fn request_send(state: State<'_, AppState>, id: String, request: ApiRequestDto) -> IpcResult<ApiResponseDto> {
    let request = ApiRequest::from(request);
    let host = url::Url::parse(request.url.trim()).ok().and_then(|u| u.host_str().map(str::to_owned));
    let response = state.engine.request(&id, request).await?;
    if let Ok(connection) = state.engine.get(&id) {
        state.engine.record_use(&connection, "app", "request", &latch_core::Requester::user(), host.as_deref());
    }
    Ok(response.into())
}

#[tauri::command]
pub async fn request_preview(state: State<'_, AppState>, id: String, request: ApiRequestDto) -> IpcResult<RequestPreview> {
    Ok(state.engine.request_preview(&id, &ApiRequest::from(request))?)
}

/// "Copy as curl": the shell puts the command on the clipboard itself, so a
/// token in it never crosses IPC; with the token, it is cleared again like
/// a copied access token. Without, it reads the token from `$TOKEN`.
#[tauri::command]
pub async fn request_curl_copy(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    request: ApiRequestDto,
    include_token: bool,
) -> IpcResult<Copied> {
    let line = state.engine.request_curl(&id, &ApiRequest::from(request), include_token).await?;
    if include_token {
        if let Ok(connection) = state.engine.get(&id) {
            state.engine.record_use(&connection, "app", "copy-curl", &latch_core::Requester::user(), None);
        }
    }
    copy_to_clipboard(&app, &line, include_token)
}
