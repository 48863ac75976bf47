//! The SQLite database: opening, pragmas and migrations. Queries live in one
//! file per table (`connections.rs`).

use std::path::Path;

use rusqlite::Connection as Sqlite;

use crate::error::Result;

/// Timestamped migrations, applied in order, each exactly once.
const MIGRATIONS: &[(&str, &str)] = &[
    ("20261122_0001_connections", include_str!("migrations/20261122_0001_connections.sql")),
    ("20261122_0002_refresh", include_str!("migrations/20261122_0002_refresh.sql")),
];

pub struct Db {
    pub(crate) conn: Sqlite,
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up
    /// to date. WAL lets the desktop app and the CLI read while one writes.
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Sqlite::open(path)?;
        Self::setup(conn)
    }

    #[cfg(test)]
    pub fn open_in_memory() -> Result<Db> {
        Self::setup(Sqlite::open_in_memory()?)
    }

    fn setup(conn: Sqlite) -> Result<Db> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut db = Db { conn };
        db.migrate()?;
        Ok(db)
    }

    /// Changes whenever another connection (another process: the CLI, a
    /// second app) commits to the database; this one's own writes do not
    /// count. Cheap: no disk access.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }

    fn migrate(&mut self) -> Result<()> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 name TEXT PRIMARY KEY,
                 applied_at TEXT NOT NULL
             )",
        )?;
        for (name, sql) in MIGRATIONS {
            // IMMEDIATE: two processes starting at once must not both apply it.
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let applied: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE name = ?1)", [name], |row| {
                    row.get(0)
                })?;
            if !applied {
                tx.execute_batch(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
                    (name, chrono::Utc::now().to_rfc3339()),
                )?;
            }
            tx.commit()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_reopen_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latch.db");
        drop(Db::open(&path).unwrap());
        let db = Db::open(&path).unwrap();
        let count: i64 = db.conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(count as usize, MIGRATIONS.len());
        let mode: String = db.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
}
