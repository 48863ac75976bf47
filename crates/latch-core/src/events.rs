//! What the engine tells front ends without being asked. Every verb that
//! changes a connection announces it here; the refresher announces what only
//! the user can fix; sign-in sessions announce their progress. A front end
//! subscribes once ([`crate::Engine::subscribe`]) and forwards: the desktop
//! shell to the window, the tray and notifications.
//!
//! Changes made by *other processes* (the CLI while the app runs) are not
//! seen here; the shell's data-directory watch covers them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Action, ErrorKind, ProviderError};
use crate::model::ConnectionId;

crate::model::prefixed_id!(
    /// One sign-in session: `si_` + ULID.
    SessionId,
    "si_"
);

#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A connection was created, or its settings or state changed (a
    /// sign-in finished, a failure was recorded, it was disconnected).
    Changed { id: ConnectionId },
    /// A refresh succeeded: new tokens are stored.
    Refreshed { id: ConnectionId },
    /// A verb left the connection needing the user (to sign in again, or to
    /// look at an error): the list's badge and the tray's count change.
    NeedsAttention { id: ConnectionId },
    /// The connection is gone.
    Removed { id: ConnectionId },
    /// Something only the user can fix, to be shown as a notification. The
    /// refresher sends each at most once per episode.
    Notice(Notice),
    /// A sign-in session moved on.
    SignIn { session: SessionId, connection: ConnectionId, event: SignInEvent },
    /// The connection's credential was handed out and the use recorded
    /// (`Engine::record_use`): a record of use on screen reads it again.
    /// The connection itself did not change.
    Used { id: ConnectionId },
    /// A team's store stopped or started answering (`Engine::team_health`).
    TeamReach { team: String },
}

impl EngineEvent {
    /// The connection a change is about, for events that change the list.
    pub fn changed_connection(&self) -> Option<&ConnectionId> {
        match self {
            EngineEvent::Changed { id }
            | EngineEvent::Refreshed { id }
            | EngineEvent::NeedsAttention { id }
            | EngineEvent::Removed { id } => Some(id),
            EngineEvent::Notice(_) | EngineEvent::SignIn { .. } | EngineEvent::Used { .. } | EngineEvent::TeamReach { .. } => None,
        }
    }
}

/// What a notification says, in data: the shell words it.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Only the user can fix this connection: sign in again.
    NeedsReauth { id: ConnectionId, name: String, reason: String, action: Action },
    /// The sign-in the provider dated runs out soon.
    ExpiresSoon { id: ConnectionId, name: String, at: DateTime<Utc>, action: Action },
    /// A team's store has not answered for a while (once per outage):
    /// Latch keeps using the tokens it holds and tries again by itself.
    TeamUnreachable { team: String, since: DateTime<Utc>, reason: String },
}

/// How a sign-in is going. Serialised for the desktop UI, which follows a
/// session by these events alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SignInEvent {
    /// The browser was sent to the provider's sign-in page.
    Started {
        authorize_url: String,
        redirect_uri: String,
        /// When Latch stops waiting; none while it waits for a pasted address.
        deadline: Option<DateTime<Utc>>,
        /// The browser could not be opened: the user must open the address.
        browser_error: Option<String>,
        /// The user pastes the address the browser ends on.
        paste: bool,
    },
    /// A device sign-in (RFC 8628) waits for the user to enter this code.
    /// The user code is meant to be read by the user; it is not a token.
    DeviceCode {
        user_code: String,
        verification_uri: String,
        verification_uri_complete: Option<String>,
        deadline: DateTime<Utc>,
        browser_error: Option<String>,
    },
    /// The pasted address arrived and is being checked and exchanged.
    AddressReceived,
    /// A client credentials sign-in: no browser, the token request is under way.
    Requesting,
    /// The session ended. On success the connection's new state is in the
    /// store (a `Changed` event says so too).
    Finished { outcome: SignInOutcome },
}

/// How a session ended, without the tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum SignInOutcome {
    Connected { account: Option<String> },
    Cancelled,
    Failed {
        code: ErrorKind,
        message: String,
        action: Option<Action>,
        provider: Option<ProviderError>,
        details: Option<String>,
    },
}
