//! One error type for the engine. Every error carries a stable `kind` (front
//! ends switch on it: exit codes, IPC codes), a message written for the
//! person in front of the screen, and — when there is one — the next step as
//! an [`Action`]. The engine names no front end's commands or buttons: the
//! CLI words an action as a command (`latch connect "Team Drive"`), the
//! desktop app as a button ("Sign in again").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What went wrong, coarsely. The string codes are part of the CLI and IPC
/// contract; do not rename them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Validation,
        ErrorKind::NotFound,
        ErrorKind::NeedsAuthorization,
        ErrorKind::Provider,
        ErrorKind::Network,
        ErrorKind::KeyringUnavailable,
        ErrorKind::Storage,
        ErrorKind::Cancelled,
    ];

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

/// The next step that fixes an error, for a front end to offer in its own
/// words. `connection` is the connection's name as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Action {
    /// Sign in (again) in the browser. `paste`: this connection signs in by
    /// pasting the address the browser ends on.
    SignInAgain { connection: String, paste: bool },
    /// The connection has never been signed in.
    SignIn { connection: String },
    /// Change these settings of the connection (field names as in its settings).
    EditFields { connection: String, fields: Vec<String> },
    /// The network or the provider's address is the problem.
    CheckNetwork,
    /// Nothing to fix: try again later (at this time, when known).
    RetryLater { at: Option<DateTime<Utc>> },
    /// Unlock or start the system keyring.
    UnlockKeyring,
    /// The name was not found: look at the list of connections.
    ShowConnections,
    /// The preset was not found: look at the list of presets.
    ShowPresets,
}

impl Action {
    /// Sign `connection` in again (by pasting the address, when it signs in that way).
    pub fn sign_in_again(connection: &str, paste: bool) -> Action {
        Action::SignInAgain { connection: connection.to_owned(), paste }
    }

    /// Change these settings of `connection`.
    pub fn edit(connection: &str, fields: &[&str]) -> Action {
        Action::EditFields { connection: connection.to_owned(), fields: fields.iter().map(|f| f.to_string()).collect() }
    }
}

/// What the provider said in an RFC 6749 §5.2 error response (or an
/// authorization error response, §4.1.2.1), kept as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProviderError {
    pub error: String,
    pub error_description: Option<String>,
    pub error_uri: Option<String>,
}

impl std::fmt::Display for ProviderError {
    /// `invalid_grant: grant request is invalid`, on one short line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error_description {
            Some(description) => write!(f, "{}: {}", self.error, one_line(description)),
            None => f.write_str(&self.error),
        }
    }
}

/// "a", "a and b", "a, b and c".
pub(crate) fn list_in_words<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [rest @ .., last] => {
            format!("{} and {}", rest.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}

/// Provider-supplied text, kept to one short line.
pub(crate) fn one_line(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line
    }
}

/// Unicode's bidirectional formatting characters (embeddings, overrides,
/// isolates and marks): they reorder the text around them, so a name or a
/// message holding one can show something other than what it says.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text from outside (a provider, a file, the store) made safe to print or
/// show: control characters (C0, DEL, C1 — among them ESC, which starts
/// terminal escape sequences) and bidi controls are dropped, a tab becomes a
/// space, and a line break is kept only when `keep_newlines` (a multi-line
/// block is meant). Everything else is kept as it came.
pub fn printable(text: &str, keep_newlines: bool) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' if keep_newlines => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect()
}

/// A rule broken by one field of a connection form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    /// The field's name in the connection's settings, e.g. `token_url`.
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
    /// The next step, when there is one the user can take.
    pub action: Option<Action>,
    /// The provider's own error code and description, when it sent them.
    pub provider: Option<ProviderError>,
    /// What the provider actually said, with secrets removed, for a details pane.
    pub details: Option<String>,
    /// The provider's `Retry-After`, when it sent one (429, 503).
    pub retry_after: Option<std::time::Duration>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            fields: Vec::new(),
            action: None,
            provider: None,
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        let details = details.into();
        self.details = (!details.is_empty()).then_some(details);
        self
    }

    pub fn with_action(mut self, action: Action) -> Self {
        self.action = Some(action);
        self
    }

    pub fn with_provider(mut self, provider: ProviderError) -> Self {
        self.provider = Some(provider);
        self
    }

    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("\n");
        Error { fields, ..Error::new(ErrorKind::Validation, message) }
    }

    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError { field, message: message.into() }])
    }

    pub fn not_found(name: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("There is no connection named '{name}'."))
            .with_action(Action::ShowConnections)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_serialises_with_its_name_as_a_tag() {
        let action = Action::SignInAgain { connection: "Team Drive".into(), paste: false };
        assert_eq!(
            serde_json::to_value(&action).unwrap(),
            serde_json::json!({"action": "sign_in_again", "connection": "Team Drive", "paste": false})
        );
    }

    #[test]
    fn the_provider_error_reads_as_code_and_description_on_one_line() {
        let said = ProviderError {
            error: "invalid_grant".into(),
            error_description: Some("grant request\n  is invalid".into()),
            error_uri: None,
        };
        assert_eq!(said.to_string(), "invalid_grant: grant request is invalid");
    }

    #[test]
    fn printable_text_keeps_no_escape_sequences_or_bidi_controls() {
        let hostile = "a\u{1b}]0;pwned\u{7}b\u{1b}[31mc\u{9b}d\r\u{202e}e\u{2066}f\tg\u{7f}";
        assert_eq!(printable(hostile, false), "a]0;pwnedb[31mcdef g");
        assert_eq!(printable("one\ntwo\r\n", true), "one\ntwo\n");
        assert_eq!(printable("one\ntwo", false), "onetwo");
        // Ordinary text of any script, emoji and zero-width joiners included, stays.
        let plain = "Team Drive — Café 東京 👩\u{200d}💻 O'Brien \"x\" $HOME";
        assert_eq!(printable(plain, false), plain);
    }

    #[test]
    fn every_error_kind_has_its_code_as_its_serde_name() {
        for kind in ErrorKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.code());
        }
    }
}
