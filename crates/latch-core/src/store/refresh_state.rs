//! What the refresher remembers per connection beyond the displayed state:
//! failed attempts (for backoff) and which notifications were already sent.

use rusqlite::params;

use super::db::Db;
use crate::error::Result;
use crate::model::ConnectionId;

/// Flags that make each notification go out once per episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    /// "X needs you to sign in again" — reset by a successful connect.
    Reauth,
    /// "X's sign-in runs out soon" — reset by a successful connect.
    ExpiryWarning,
}

impl Notified {
    fn column(self) -> &'static str {
        match self {
            Notified::Reauth => "reauth_notified",
            Notified::ExpiryWarning => "expiry_warned",
        }
    }
}

impl Db {
    pub fn failed_attempts(&self, id: &ConnectionId) -> Result<u32> {
        Ok(self.conn.query_row("SELECT failed_attempts FROM connections WHERE id = ?1", [id.as_str()], |r| r.get(0))?)
    }

    pub fn set_failed_attempts(&self, id: &ConnectionId, attempts: u32) -> Result<()> {
        self.conn.execute("UPDATE connections SET failed_attempts = ?2 WHERE id = ?1", params![id.as_str(), attempts])?;
        Ok(())
    }

    /// Marks `what` as sent; returns false if it already was (so exactly one
    /// caller, in any process, gets to send it).
    pub fn mark_notified(&self, id: &ConnectionId, what: Notified) -> Result<bool> {
        let column = what.column();
        let changed = self.conn.execute(
            &format!("UPDATE connections SET {column} = 1 WHERE id = ?1 AND {column} = 0"),
            [id.as_str()],
        )?;
        Ok(changed == 1)
    }

    pub fn was_notified(&self, id: &ConnectionId, what: Notified) -> Result<bool> {
        let column = what.column();
        Ok(self.conn.query_row(&format!("SELECT {column} FROM connections WHERE id = ?1"), [id.as_str()], |r| r.get(0))?)
    }

    /// Which token set is current (bumped by every write of the tokens).
    pub fn token_generation(&self, id: &ConnectionId) -> Result<i64> {
        Ok(self.conn.query_row("SELECT token_generation FROM connections WHERE id = ?1", [id.as_str()], |r| r.get(0))?)
    }

    /// Moves to the next token generation if the current one is still
    /// `expected`; false when someone else wrote tokens meanwhile (or the
    /// connection is gone).
    pub fn bump_token_generation(&self, id: &ConnectionId, expected: i64) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE connections SET token_generation = token_generation + 1 WHERE id = ?1 AND token_generation = ?2",
            params![id.as_str(), expected],
        )?;
        Ok(changed == 1)
    }

    /// The process (`pid:unique`) holding tokens the secret store refused, if any.
    pub fn tokens_unsaved_by(&self, id: &ConnectionId) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT tokens_unsaved_by FROM connections WHERE id = ?1", [id.as_str()], |r| r.get(0))?)
    }

    pub fn set_tokens_unsaved_by(&self, id: &ConnectionId, holder: Option<&str>) -> Result<()> {
        self.conn.execute("UPDATE connections SET tokens_unsaved_by = ?2 WHERE id = ?1", params![id.as_str(), holder])?;
        Ok(())
    }

    /// A new sign-in starts a new episode: notifications may go out again.
    pub fn reset_episode(&self, id: &ConnectionId) -> Result<()> {
        self.conn.execute(
            "UPDATE connections SET reauth_notified = 0, expiry_warned = 0, failed_attempts = 0, retry_at = NULL WHERE id = ?1",
            [id.as_str()],
        )?;
        Ok(())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        // Cached: `record_use` reads a setting on every use.
        let mut stmt = self.conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
        Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
    }

    /// Writes every pair, or none.
    pub fn set_settings(&mut self, pairs: &[(&str, String)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (key, value) in pairs {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
