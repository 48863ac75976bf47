//! The detail view's Test request.

use latch_core::request::{ApiRequest, RequestPreview};
use tauri::State;

use crate::dto::{ApiRequestDto, ApiResponseDto};
use crate::error::IpcResult;
use crate::AppState;

#[tauri::command]
pub async fn request_send(state: State<'_, AppState>, id: String, request: ApiRequestDto) -> IpcResult<ApiResponseDto> {
    Ok(state.engine.request(&id, ApiRequest::from(request)).await?.into())
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
