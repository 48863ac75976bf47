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
    ("20261130_0004_token_generation", include_str!("migrations/20261130_0004_token_generation.sql")),
    ("20261201_0005_refresh_due", include_str!("migrations/20261201_0005_refresh_due.sql")),
    ("20261201_0006_usage_log", include_str!("migrations/20261201_0006_usage_log.sql")),
    ("20261202_0007_teams", include_str!("migrations/20261202_0007_teams.sql")),
    ("20261203_0008_team_auth", include_str!("migrations/20261203_0008_team_auth.sql")),
    ("20261203_0009_team_refresh_note", include_str!("migrations/20261203_0009_team_refresh_note.sql")),
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
        // Reads through a memory map rather than one system call per page.
        conn.pragma_update(None, "mmap_size", 64 * 1024 * 1024)?;
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

    /// Runs `work` in one IMMEDIATE transaction (taken at once, so another
    /// process cannot write in between): everything it writes is committed
    /// together, or — when it returns an error or panics — none of it.
    pub fn in_transaction<T>(&self, work: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        /// Rolls back unless committed, also when `work` panics (the engine
        /// keeps using a poisoned lock, so no transaction may stay open).
        struct Open<'a>(&'a Sqlite);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                if !self.0.is_autocommit() {
                    let _ = self.0.execute_batch("ROLLBACK");
                }
            }
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let open = Open(&self.conn);
        let value = work(self)?;
        self.conn.execute_batch("COMMIT")?;
        drop(open);
        Ok(value)
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
    fn a_transaction_commits_everything_or_nothing() {
        let db = Db::open_in_memory().unwrap();
        let count = |db: &Db| -> i64 { db.conn.query_row("SELECT COUNT(*) FROM settings", [], |r| r.get(0)).unwrap() };
        let write = |db: &Db, key: &str| db.conn.execute("INSERT INTO settings (key, value) VALUES (?1, 'v')", [key]).map(|_| ());
        let err = db
            .in_transaction(|db| {
                write(db, "a")?;
                write(db, "a")?; // the primary key refuses it
                Ok(())
            })
            .unwrap_err();
        assert!(err.message.contains("UNIQUE"), "{}", err.message);
        assert_eq!(count(&db), 0, "the first write was rolled back");
        assert!(db.conn.is_autocommit());

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = db.in_transaction(|db| -> Result<()> {
                write(db, "b")?;
                panic!("midway");
            });
        }));
        assert!(panicked.is_err());
        assert!(db.conn.is_autocommit(), "no transaction is left open");
        assert_eq!(count(&db), 0);

        db.in_transaction(|db| Ok((write(db, "c")?, write(db, "d")?))).unwrap();
        assert_eq!(count(&db), 2);
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
