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

    /// Drops leases whose holder process is gone (killed mid-refresh), so
    /// nobody waits for them to expire.
    pub fn leases_drop_dead_holders(&self) -> Result<()> {
        let holders: Vec<String> = self
            .conn
            .prepare("SELECT holder FROM refresh_leases")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for holder in holders.into_iter().filter(|h| !holder_alive(h)) {
            self.conn.execute("DELETE FROM refresh_leases WHERE holder = ?1", [holder])?;
        }
        Ok(())
    }

    /// A refresh that was under way when its process died leaves the status
    /// at `refreshing`; such rows read as connected again.
    pub fn leases_recover(&self, now: DateTime<Utc>) -> Result<()> {
        self.leases_drop_dead_holders()?;
        self.conn.execute(
            "UPDATE connections SET status = 'connected'
             WHERE status = 'refreshing' AND id NOT IN
                 (SELECT connection_id FROM refresh_leases WHERE expires_at_ms > ?1)",
            [now.timestamp_millis()],
        )?;
        Ok(())
    }
}

/// Whether the process named in a holder (`pid:unique`) still runs. Only
/// known on Linux; elsewhere a lease is trusted until it expires.
fn holder_alive(holder: &str) -> bool {
    let Some(pid) = holder.split(':').next().and_then(|p| p.parse::<u32>().ok()) else { return true };
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
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
    fn a_lease_whose_process_is_gone_is_dropped() {
        let mut db = Db::open_in_memory().unwrap();
        let id = ConnectionId::generate();
        let now = Utc::now();
        // No process has pid 4294967; ours is alive.
        assert!(db.lease_acquire(&id, "4294967:x", now, now + Duration::seconds(60)).unwrap());
        db.leases_drop_dead_holders().unwrap();
        let ours = format!("{}:y", std::process::id());
        assert!(db.lease_acquire(&id, &ours, now, now + Duration::seconds(60)).unwrap());
        db.leases_drop_dead_holders().unwrap();
        assert!(!db.lease_acquire(&id, "other", now, now + Duration::seconds(60)).unwrap());
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
