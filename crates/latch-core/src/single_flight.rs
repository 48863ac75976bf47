//! One refresh per connection at a time, across threads and processes (the
//! desktop app, any number of `latch` commands): a lease row in SQLite.
//! Whoever waited re-reads the stored token afterwards, so N callers at the
//! moment of expiry cause exactly one token request.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Connection, ConnectionId, Status};
use crate::refresh_policy;
use crate::secret::TokenSet;

/// Longer than a token request can take (30 s timeout) with room to spare;
/// a holder that dies lets go after this.
const LEASE: Duration = Duration::from_secs(70);
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Why a refresh is wanted.
#[derive(Debug, Clone, Copy)]
pub enum RefreshNeed {
    /// Only if still due once the lease is ours.
    IfDue,
    /// Unless someone refreshed after this moment.
    Since(DateTime<Utc>),
}

impl Engine {
    /// Refreshes `id` unless another caller did it meanwhile; returns the
    /// stored connection and tokens either way.
    pub(crate) async fn refresh_single_flight(&self, id: &ConnectionId, need: RefreshNeed) -> Result<(Connection, TokenSet)> {
        let holder = format!("{}:{}", std::process::id(), ulid::Ulid::new());
        let started = std::time::Instant::now();
        loop {
            let now = Utc::now();
            let until = now + chrono::Duration::from_std(LEASE).expect("a small duration");
            if self.db().lease_acquire(id, &holder, now, until)? {
                break;
            }
            // A holder killed mid-refresh must not make everyone wait.
            self.db().leases_drop_dead_holders()?;
            if started.elapsed() > LEASE {
                return Err(Error::network(
                    "Another Latch process has been refreshing this connection for over a minute. Try again in a moment.",
                ));
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
        let outcome = self.refresh_holding_lease(id, need).await;
        if let Err(err) = self.db().lease_release(id, &holder) {
            tracing::warn!(connection = %id, error = %err, "could not release the refresh lease; it expires by itself");
        }
        outcome
    }

    async fn refresh_holding_lease(&self, id: &ConnectionId, need: RefreshNeed) -> Result<(Connection, TokenSet)> {
        // Re-read: another process may have refreshed while we waited.
        let mut connection = self.get(id.as_str())?;
        let tokens = self.stored_tokens(&connection)?;
        let already_fresh = match need {
            RefreshNeed::IfDue => connection
                .access_expires_at
                .is_none_or(|expires| Utc::now() < refresh_policy::due_at(connection.access_issued_at, expires)),
            RefreshNeed::Since(asked) => connection.access_issued_at.is_some_and(|issued| issued > asked),
        };
        if already_fresh {
            return Ok((connection, tokens));
        }
        let shown_status = connection.status;
        connection.status = Status::Refreshing;
        self.db().connection_update_state(&connection)?;
        let outcome = self.refresh_with(connection, &tokens).await;
        if outcome.is_err() {
            // record_failure kept the status (a passing failure): put back
            // what was shown, keeping the error and the retry time it saved.
            let mut recorded = self.get(id.as_str())?;
            if recorded.status == Status::Refreshing {
                recorded.status = shown_status;
                self.db().connection_update_state(&recorded)?;
            }
        }
        outcome
    }
}
