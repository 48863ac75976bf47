//! One error type for the engine. Every error carries a stable `kind` (front
//! ends switch on it: exit codes, IPC codes) and a message written for the
//! person in front of the screen: what happened and what to do next.

use serde::Serialize;

/// What went wrong, coarsely. The string codes are part of the CLI and IPC
/// contract; do not rename them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input breaks a rule; `Error::fields` says which.
    Validation,
    /// No connection by that name or id.
    NotFound,
    /// Only the user can fix this: sign in (again) in the browser.
    NeedsAuthorization,
    /// The provider answered, but with an error or something unreadable.
    Provider,
    /// The provider could not be reached or did not answer in time.
    Network,
    /// The OS keyring is missing, locked or refused access.
    KeyringUnavailable,
    /// The local database could not be read or written.
    Storage,
    /// The user (or the caller) cancelled the operation.
    Cancelled,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NeedsAuthorization => "needs_authorization",
            ErrorKind::Provider => "provider",
            ErrorKind::Network => "network",
            ErrorKind::KeyringUnavailable => "keyring_unavailable",
            ErrorKind::Storage => "storage",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

/// A rule broken by one field of a connection form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    /// The field's name in [`crate::model::ConnectionSpec`], e.g. `token_url`.
    pub field: &'static str,
    /// A sentence that says how to fix it.
    pub message: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// For validation errors: every broken rule, in form order.
    pub fields: Vec<FieldError>,
    /// What the provider actually said, with secrets removed, for a details pane.
    pub details: Option<String>,
    /// The provider's `Retry-After`, when it sent one (429, 503).
    pub retry_after: Option<std::time::Duration>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), fields: Vec::new(), details: None, retry_after: None }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        let details = details.into();
        self.details = (!details.is_empty()).then_some(details);
        self
    }

    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("\n");
        Error { kind: ErrorKind::Validation, message, fields, details: None, retry_after: None }
    }

    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError { field, message: message.into() }])
    }

    pub fn not_found(name: &str) -> Self {
        Error::new(
            ErrorKind::NotFound,
            format!("There is no connection named '{name}'. Run 'latch list' to see your connections."),
        )
    }

    pub fn needs_authorization(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NeedsAuthorization, message)
    }

    pub fn provider(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Provider, message)
    }

    pub fn network(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Network, message)
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Storage, message)
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Cancelled, message)
    }

    /// Worth retrying later without the user: network trouble, 5xx, 429.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Network
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        // SQLite errors never carry secrets: only non-secret fields live there.
        Error::storage(format!(
            "Latch could not read or write its database: {err}. Check that the data directory is writable."
        ))
    }
}
