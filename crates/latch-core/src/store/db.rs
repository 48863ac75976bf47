//! The SQLite database: opening, pragmas and migrations. Queries live in one
//! file per table (`connections.rs`).

use std::path::Path;

use rusqlite::Connection as Sqlite;

use crate::error::{Error, Result};

/// Timestamped migrations, applied in order, each exactly once.
const MIGRATIONS: &[(&str, &str)] = &[
    ("20261122_0001_connections", include_str!("migrations/20261122_0001_connections.sql")),
    ("20261122_0002_refresh", include_str!("migrations/20261122_0002_refresh.sql")),
    ("20261129_0003_kinds", include_str!("migrations/20261129_0003_kinds.sql")),
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
        self.migrate_with(MIGRATIONS)
    }

    /// Applies every migration not applied yet, all in one transaction: a
    /// failure leaves the file exactly as it was, and says so. IMMEDIATE:
    /// two processes starting at once must not both apply them.
    fn migrate_with(&mut self, migrations: &[(&str, &str)]) -> Result<()> {
        let refuse = |err: rusqlite::Error| {
            Error::storage(format!(
                "Latch could not upgrade its database ({err}). Nothing was changed: the file is as the previous \
                 version of Latch left it. Install a newer Latch, or report this problem."
            ))
        };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 name TEXT PRIMARY KEY,
                 applied_at TEXT NOT NULL
             )",
        )
        .map_err(refuse)?;
        for (name, sql) in migrations {
            let applied: bool = tx
                .query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE name = ?1)", [name], |row| row.get(0))
                .map_err(refuse)?;
            if !applied {
                tx.execute_batch(sql).map_err(refuse)?;
                tx.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
                    (name, chrono::Utc::now().to_rfc3339()),
                )
                .map_err(refuse)?;
                tracing::info!(migration = name, "database upgraded");
            }
        }
        // Dropping `tx` on an error above rolls everything back.
        tx.commit().map_err(refuse)
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

    #[test]
    fn a_failed_migration_changes_nothing_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latch.db");
        let mut db = Db::open(&path).unwrap();
        db.conn.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')", []).unwrap();
        let broken: &[(&str, &str)] = &[
            ("29990101_0001_fine", "CREATE TABLE later (x TEXT); INSERT INTO settings (key, value) VALUES ('k2', 'v2');"),
            ("29990101_0002_broken", "ALTER TABLE no_such_table ADD COLUMN y TEXT;"),
        ];
        let err = db.migrate_with(broken).unwrap_err();
        assert!(err.message.contains("could not upgrade its database"), "{}", err.message);
        assert!(err.message.contains("Nothing was changed"), "{}", err.message);
        let tables: i64 =
            db.conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'later'", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 0, "the first migration of the failed batch was rolled back too");
        let rows: i64 = db.conn.query_row("SELECT COUNT(*) FROM settings", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1);
        let recorded: i64 = db
            .conn
            .query_row("SELECT COUNT(*) FROM schema_migrations WHERE name LIKE '2999%'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(recorded, 0);
    }
}
