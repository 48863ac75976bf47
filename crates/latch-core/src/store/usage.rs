//! The usage log: one row each time a credential was handed out (a token
//! printed, a request sent, a helper answering git or kubectl, a copy in
//! the app), with the process that asked. Never the credential.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::db::Db;
use crate::error::Result;
use crate::model::ConnectionId;

/// One handing-out of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsageEntry {
    pub at: DateTime<Utc>,
    pub connection_id: ConnectionId,
    /// Through what: `cli` (the command line), `agent` (the app or `latch
    /// agent` answering the command line), `helper` (git's or kubectl's),
    /// `app` (the person at the window), `proxy` (the local proxy).
    pub via: String,
    /// What was handed out or done: `token`, `request`, `git-credential`,
    /// `kube-credential`, `copy`, `reveal`, `copy-curl`.
    pub what: String,
    /// The process that asked, when known (the script that ran `latch`).
    pub pid: Option<u32>,
    pub exe: Option<String>,
    pub parent_pid: Option<u32>,
    /// Where a request went.
    pub host: Option<String>,
}

impl Db {
    /// Records one use, and forgets those older than `keep_since`.
    pub fn usage_record(&self, entry: &UsageEntry, keep_since: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO usage_log (at, connection_id, via, what, pid, exe, parent_pid, host) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                entry.at.to_rfc3339(),
                entry.connection_id.as_str(),
                entry.via,
                entry.what,
                entry.pid,
                entry.exe,
                entry.parent_pid,
                entry.host
            ])?;
        self.usage_prune(keep_since)
    }

    /// Forgets the uses older than `keep_since`.
    pub fn usage_prune(&self, keep_since: DateTime<Utc>) -> Result<()> {
        self.conn.prepare_cached("DELETE FROM usage_log WHERE at < ?1")?.execute([keep_since.to_rfc3339()])?;
        Ok(())
    }

    /// The newest `limit` uses since `since`, of one connection or all,
    /// newest first.
    pub fn usage_list(
        &self,
        connection: Option<&ConnectionId>,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<UsageEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, connection_id, via, what, pid, exe, parent_pid, host FROM usage_log \
             WHERE (?1 IS NULL OR connection_id = ?1) AND at >= ?2 ORDER BY at DESC, id DESC LIMIT ?3",
        )?;
        let since = since.to_rfc3339();
        let rows = stmt.query_map(params![connection.map(ConnectionId::as_str), since, limit as i64], |row| {
            let at: String = row.get(0)?;
            Ok(UsageEntry {
                at: DateTime::parse_from_rfc3339(&at).map(|t| t.with_timezone(&Utc)).unwrap_or_default(),
                connection_id: ConnectionId(row.get(1)?),
                via: row.get(2)?,
                what: row.get(3)?,
                pid: row.get(4)?,
                exe: row.get(5)?,
                parent_pid: row.get(6)?,
                host: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Forgets a removed connection's uses.
    pub fn usage_forget(&self, connection: &ConnectionId) -> Result<()> {
        self.conn.execute("DELETE FROM usage_log WHERE connection_id = ?1", [connection.as_str()])?;
        Ok(())
    }
}
