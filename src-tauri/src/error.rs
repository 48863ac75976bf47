//! Failures as the UI receives them: `{ code, message, fields, details }`,
//! with the engine's stable codes.

use serde::Serialize;

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct IpcError {
    /// One of the engine's `ErrorKind` codes, or `internal`.
    pub code: String,
    pub message: String,
    pub fields: Vec<latch_core::FieldError>,
    pub details: Option<String>,
}

impl From<latch_core::Error> for IpcError {
    fn from(err: latch_core::Error) -> Self {
        IpcError { code: err.kind.code().into(), message: err.message, fields: err.fields, details: err.details }
    }
}

pub type IpcResult<T> = Result<T, IpcError>;
