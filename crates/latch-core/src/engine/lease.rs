//! One writer of a connection's tokens at a time, across threads and
//! processes (the desktop app, any number of `latch` commands): a lease row
//! in SQLite. Every verb that writes tokens — a refresh, the end of a
//! sign-in, disconnect, remove, an import that replaces — holds it.
//!
//! The lease expires by itself (a holder that dies lets go), so holders
//! renew and confirm it before they act: before sending a refresh and
//! before storing its result (fencing). The token generation is the second
//! fence: a result is stored only over the tokens it started from.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::Engine;
use crate::error::{Action, Error, Result};
use crate::model::ConnectionId;
use crate::store::leases::new_holder;

/// Longer than a token request can take (30 s timeout) with room to spare;
/// a holder that dies lets go after this.
const LEASE: Duration = Duration::from_secs(70);
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Work under way that holds a lease: Quit waits for it (`Engine::wait_idle`).
#[derive(Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// The lease on one connection, released when dropped.
pub(crate) struct LeaseGuard<'a> {
    engine: &'a Engine,
    id: ConnectionId,
    holder: String,
}

impl Engine {
    /// Waits for the connection's lease (a holder that died is not waited
    /// for) and takes it.
    pub(crate) async fn take_lease(&self, id: &ConnectionId) -> Result<LeaseGuard<'_>> {
        let holder = new_holder();
        let started = std::time::Instant::now();
        loop {
            let now = self.now();
            if self.db().lease_acquire(id, &holder, now, now + lease_length())? {
                break;
            }
            // A holder killed mid-refresh must not make everyone wait.
            self.db().leases_drop_dead_holders()?;
            if started.elapsed() > LEASE {
                return Err(Error::network(
                    "Another Latch process has been working on this connection for over a minute. Try again in a moment.",
                )
                .with_action(Action::RetryLater { at: None }));
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
        self.in_flight.count.fetch_add(1, Ordering::SeqCst);
        Ok(LeaseGuard { engine: self, id: id.clone(), holder })
    }

    /// Resolves once no lease is held by this process, or after `limit`:
    /// quitting waits for refreshes in flight to store what they received.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let idle = self.in_flight.idle.notified();
            if self.in_flight.count.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.in_flight.count.load(Ordering::SeqCst) == 0;
            }
        }
    }

    /// Whether a lease of this process is held right now.
    pub fn is_busy(&self) -> bool {
        self.in_flight.count.load(Ordering::SeqCst) > 0
    }
}

impl LeaseGuard<'_> {
    /// Renews the lease and confirms it is still ours: false when it expired
    /// and another holder took it meanwhile.
    pub(crate) fn confirm(&self) -> Result<bool> {
        let now = self.engine.now();
        let mut db = self.engine.db();
        if !db.lease_held_by(&self.id, &self.holder)? {
            return Ok(false);
        }
        db.lease_acquire(&self.id, &self.holder, now, now + lease_length())
    }
}

impl Drop for LeaseGuard<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.engine.db().lease_release(&self.id, &self.holder) {
            tracing::warn!(connection = %self.id, error = %err, "could not release the lease; it expires by itself");
        }
        if self.engine.in_flight.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.engine.in_flight.idle.notify_waiters();
        }
    }
}

fn lease_length() -> chrono::Duration {
    chrono::Duration::from_std(LEASE).expect("a small duration")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine;

    #[tokio::test]
    async fn a_second_taker_waits_until_the_first_lets_go() {
        let (_dir, engine) = test_engine();
        let id = ConnectionId::generate();
        let first = engine.take_lease(&id).await.unwrap();
        assert!(engine.is_busy());
        let second = tokio::time::timeout(Duration::from_millis(200), engine.take_lease(&id)).await;
        assert!(second.is_err(), "the lease is held");
        assert!(first.confirm().unwrap());
        drop(first);
        assert!(engine.wait_idle(Duration::from_millis(10)).await);
        let second = engine.take_lease(&id).await.unwrap();
        assert!(second.confirm().unwrap());
    }

    #[tokio::test]
    async fn a_lease_taken_over_after_it_expired_is_not_confirmed() {
        let (_dir, engine, clock) = crate::engine::test_engine_with_clock();
        let id = ConnectionId::generate();
        let stale = engine.take_lease(&id).await.unwrap();
        clock.advance(chrono::Duration::seconds(71));
        let now = engine.now();
        assert!(engine.db().lease_acquire(&id, "someone-else", now, now + lease_length()).unwrap());
        assert!(!stale.confirm().unwrap(), "the fence: it must neither send nor store");
    }
}
