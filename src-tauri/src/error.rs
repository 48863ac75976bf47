//! Failures as the UI receives them: `{ code, message, fields, action,
//! provider, details }`, with the engine's stable codes. The UI words the
//! action as a button ("Sign in again"); the message never names a command.

use serde::Serialize;

/// `internal` is for failures that never reached the engine (the IPC bridge
/// itself); the UI adds it to the engine's codes.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct IpcError {
    pub code: latch_core::ErrorKind,
    pub message: String,
    pub fields: Vec<latch_core::FieldError>,
    /// The next step, for a button.
    pub action: Option<latch_core::Action>,
    /// The provider's own error code and description, for "Details".
    pub provider: Option<latch_core::ProviderError>,
    pub details: Option<String>,
}

impl From<latch_core::Error> for IpcError {
    fn from(err: latch_core::Error) -> Self {
        IpcError {
            code: err.kind,
            message: err.message,
            fields: err.fields,
            action: err.action,
            provider: err.provider,
            details: err.details,
        }
    }
}

pub type IpcResult<T> = Result<T, IpcError>;
