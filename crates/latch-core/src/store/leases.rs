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

    /// Whether `holder` holds the lease on `id` (expired or not).
    pub fn lease_held_by(&self, id: &ConnectionId, holder: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM refresh_leases WHERE connection_id = ?1 AND holder = ?2)",
            params![id.as_str(), holder],
            |row| row.get(0),
        )?)
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
        // Most starts find nothing to recover: read first, so a read-only
        // command does not take SQLite's write lock.
        let stale: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM refresh_leases) OR EXISTS(SELECT 1 FROM connections WHERE status = 'refreshing')",
            [],
            |row| row.get(0),
        )?;
        if !stale {
            return Ok(());
        }
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

/// This process, as lease holders name it: `pid/start time/PID namespace`.
/// The start time tells a reused pid from the process that took the lease;
/// the namespace tells a process Latch cannot see (another container) from
/// one that is gone.
pub fn process_tag() -> &'static str {
    static TAG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let pid = std::process::id();
        format!("{pid}/{}/{}", start_time(pid).unwrap_or_default(), pid_namespace().unwrap_or_default())
    });
    &TAG
}

/// A new holder name for one piece of work in this process.
pub fn new_holder() -> String {
    format!("{}:{}", process_tag(), ulid::Ulid::new())
}

/// The process's start time in clock ticks since boot (`/proc/PID/stat` field 22).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19).map(str::to_owned)
}

/// The PID namespace's inode number (`/proc/self/ns/pid` reads `pid:[N]`).
fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let digits: String = link.to_string_lossy().chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// Whether the process named in a holder still runs. Known on Linux for
/// holders in this PID namespace; a holder elsewhere (or on another system)
/// is trusted until its lease expires.
pub fn holder_alive(holder: &str) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let tag = holder.split(':').next().unwrap_or_default();
    let mut parts = tag.split('/');
    let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) else { return true };
    match (parts.next(), parts.next()) {
        (Some(started), Some(namespace)) => {
            if pid_namespace().as_deref() != Some(namespace) {
                return true;
            }
            start_time(pid).as_deref() == Some(started)
        }
        // A holder written by an older Latch: `pid:unique`.
        _ => std::path::Path::new(&format!("/proc/{pid}")).exists(),
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
        let ours = new_holder();
        assert!(db.lease_acquire(&id, &ours, now, now + Duration::seconds(60)).unwrap());
        db.leases_drop_dead_holders().unwrap();
        assert!(!db.lease_acquire(&id, "other", now, now + Duration::seconds(60)).unwrap());
    }

    #[test]
    fn a_reused_pid_does_not_keep_a_dead_holders_lease() {
        let own = process_tag();
        let (pid, rest) = own.split_once('/').unwrap();
        let (_, namespace) = rest.split_once('/').unwrap();
        // Our pid, but another start time: the holder was an earlier process.
        assert!(!holder_alive(&format!("{pid}/1/{namespace}:x")));
        assert!(holder_alive(&format!("{own}:x")));
        // A holder in another PID namespace cannot be seen: trusted until its lease expires.
        assert!(holder_alive(&format!("{pid}/1/1:x")));
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
