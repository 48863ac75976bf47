//! Queries on `refresh_leases`: the cross-process single-flight lock.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::db::Db;
use crate::error::Result;
use crate::model::ConnectionId;

impl Db {
    /// Takes the lease on `id` for `holder` until `until`, unless someone
    /// else holds an unexpired one. Atomic across processes (IMMEDIATE
    /// transaction: one writer at a time).
    pub fn lease_acquire(&mut self, id: &ConnectionId, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(String, i64)> = tx
            .query_row(
                "SELECT holder, expires_at_ms FROM refresh_leases WHERE connection_id = ?1",
                [id.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let free = match current {
            None => true,
            Some((current_holder, expires)) => current_holder == holder || expires <= now.timestamp_millis(),
        };
        if free {
            tx.execute(
                "INSERT INTO refresh_leases (connection_id, holder, expires_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (connection_id) DO UPDATE SET holder = ?2, expires_at_ms = ?3",
                params![id.as_str(), holder, until.timestamp_millis()],
            )?;
        }
        tx.commit()?;
        Ok(free)
    }

    pub fn lease_release(&self, id: &ConnectionId, holder: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM refresh_leases WHERE connection_id = ?1 AND holder = ?2",
            params![id.as_str(), holder],
        )?;
        Ok(())
    }

    /// A refresh that was under way when its process died leaves the status
    /// at `refreshing` and its lease to expire; such rows read as connected.
    pub fn leases_recover(&self, now: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "UPDATE connections SET status = 'connected'
             WHERE status = 'refreshing' AND id NOT IN
                 (SELECT connection_id FROM refresh_leases WHERE expires_at_ms > ?1)",
            [now.timestamp_millis()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn only_one_holder_gets_an_unexpired_lease() {
        let mut db = Db::open_in_memory().unwrap();
        let id = ConnectionId::generate();
        let now = Utc::now();
        assert!(db.lease_acquire(&id, "a", now, now + Duration::seconds(60)).unwrap());
        assert!(!db.lease_acquire(&id, "b", now, now + Duration::seconds(60)).unwrap());
        assert!(db.lease_acquire(&id, "a", now, now + Duration::seconds(60)).unwrap(), "the holder may renew");
        db.lease_release(&id, "a").unwrap();
        assert!(db.lease_acquire(&id, "b", now, now + Duration::seconds(60)).unwrap());
    }

    #[test]
    fn an_expired_lease_can_be_taken_over() {
        let mut db = Db::open_in_memory().unwrap();
        let id = ConnectionId::generate();
        let now = Utc::now();
        assert!(db.lease_acquire(&id, "dead", now, now + Duration::seconds(1)).unwrap());
        let later = now + Duration::seconds(2);
        assert!(db.lease_acquire(&id, "alive", later, later + Duration::seconds(60)).unwrap());
    }
}
