//! The detail view's Test request.

use latch_core::request::{ApiRequest, RequestPreview};
use tauri::{AppHandle, State};

use crate::dto::{ApiRequestDto, ApiResponseDto};
use crate::error::IpcResult;
use crate::watch::announce_change;
use crate::AppState;

#[tauri::command]
pub async fn request_send(app: AppHandle, state: State<'_, AppState>, id: String, request: ApiRequestDto) -> IpcResult<ApiResponseDto> {
    let outcome = state.engine.request(&id, ApiRequest::from(request)).await;
    // A 401 may have refreshed the token.
    announce_change(&app);
    Ok(outcome?.into())
}

#[tauri::command]
pub async fn request_preview(state: State<'_, AppState>, id: String, request: ApiRequestDto) -> IpcResult<RequestPreview> {
    Ok(state.engine.request_preview(&id, &ApiRequest::from(request))?)
}

/// "Copy as curl": the token only when the user ticked the box.
#[tauri::command]
pub async fn request_curl(
    state: State<'_, AppState>,
    id: String,
    request: ApiRequestDto,
    include_token: bool,
) -> IpcResult<String> {
    let line = state.engine.request_curl(&id, &ApiRequest::from(request), include_token).await?;
    Ok(line.as_str().to_owned())
}
