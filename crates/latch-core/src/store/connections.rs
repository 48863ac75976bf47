//! Queries on the `connections` table.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::db::Db;
use crate::error::{Action, Error, Result};
use crate::model::{Connection, ConnectionId, KindSettings, Status};

const COLUMNS: &str = "id, name, kind, settings, settings_version, status, access_expires_at, refresh_expires_at, \
     access_issued_at, granted_scopes, account, has_client_secret, has_refresh_token, last_error, last_error_details, \
     last_error_action, created_at, updated_at, retry_at, refresh_due_at";

impl Db {
    /// Every connection, by name ignoring case (as `COLLATE NOCASE` orders:
    /// ASCII letters folded). Read in the table's order and sorted here: in
    /// the name index's order SQLite would look every row up on its own.
    pub fn connections_list(&self) -> Result<Vec<Connection>> {
        let mut stmt = self.conn.prepare(&format!("SELECT {COLUMNS} FROM connections"))?;
        let rows = stmt.query_map([], read_row)?;
        let mut connections = rows.map(|row| row?).collect::<Result<Vec<Connection>>>()?;
        connections.sort_by_cached_key(|c| c.name.to_ascii_lowercase());
        Ok(connections)
    }

    /// Looks a connection up by id, or by name ignoring case.
    pub fn connection_find(&self, name_or_id: &str) -> Result<Option<Connection>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM connections WHERE id = ?1 OR name = ?1 COLLATE NOCASE"),
                [name_or_id],
                read_row,
            )
            .optional()?
            .transpose()
    }

    /// One connection by its id only (a name that looks like an id is not it).
    pub fn connection_by_id(&self, id: &ConnectionId) -> Result<Option<Connection>> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM connections WHERE id = ?1"))?
            .query_row([id.as_str()], read_row)
            .optional()?
            .transpose()
    }

    /// Every connection's name, in no order: one query, for checks over many names.
    pub fn connection_names(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT name FROM connections")?;
        let names = stmt.query_map([], |row| row.get(0))?;
        Ok(names.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    /// Whether another connection already uses `name` (ignoring case).
    pub fn connection_name_taken(&self, name: &str, except: Option<&ConnectionId>) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM connections WHERE name = ?1 COLLATE NOCASE AND id != ?2)",
            params![name, except.map(ConnectionId::as_str).unwrap_or("")],
            |row| row.get(0),
        )?)
    }

    pub fn connection_insert(&self, c: &Connection) -> Result<()> {
        // Cached: an import inserts thousands in a row.
        self.conn.prepare_cached(&format!(
            "INSERT INTO connections ({COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
        ))?
        .execute(params![
            c.id.as_str(),
            c.name,
            c.settings.kind(),
            settings_json(&c.settings)?,
            crate::model::SETTINGS_VERSION,
            c.status.as_str(),
            time(c.access_expires_at),
            time(c.refresh_expires_at),
            time(c.access_issued_at),
            scopes_json(&c.granted_scopes)?,
            c.account,
            c.has_client_secret,
            c.has_refresh_token,
            c.last_error,
            c.last_error_details,
            action_json(&c.last_error_action)?,
            c.created_at.to_rfc3339(),
            c.updated_at.to_rfc3339(),
            time(c.retry_at),
            time(c.refresh_due_at),
        ])?;
        Ok(())
    }

    /// Writes what the user edits: name, settings and whether a secret is stored.
    pub fn connection_update_settings(&self, c: &Connection) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE connections SET name = ?2, kind = ?3, settings = ?4, settings_version = ?5, has_client_secret = ?6,
                 updated_at = ?7
             WHERE id = ?1",
            params![
                c.id.as_str(),
                c.name,
                c.settings.kind(),
                settings_json(&c.settings)?,
                crate::model::SETTINGS_VERSION,
                c.has_client_secret,
                c.updated_at.to_rfc3339()
            ],
        )?;
        found(changed, c)
    }

    /// Writes what Latch learns: status, expiry, scopes, account, errors. The
    /// settings are left alone, so an edit made meanwhile (in another window
    /// or process) survives a sign-in or refresh that finishes later.
    pub fn connection_update_state(&self, c: &Connection) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE connections SET status = ?2, access_expires_at = ?3, refresh_expires_at = ?4,
                 access_issued_at = ?5, granted_scopes = ?6, account = ?7, has_refresh_token = ?8,
                 last_error = ?9, last_error_details = ?10, updated_at = ?11, retry_at = ?12, last_error_action = ?13,
                 refresh_due_at = ?14
             WHERE id = ?1",
            params![
                c.id.as_str(),
                c.status.as_str(),
                time(c.access_expires_at),
                time(c.refresh_expires_at),
                time(c.access_issued_at),
                scopes_json(&c.granted_scopes)?,
                c.account,
                c.has_refresh_token,
                c.last_error,
                c.last_error_details,
                c.updated_at.to_rfc3339(),
                time(c.retry_at),
                action_json(&c.last_error_action)?,
                time(c.refresh_due_at),
            ],
        )?;
        found(changed, c)
    }

    pub fn connection_delete(&self, id: &ConnectionId) -> Result<()> {
        self.conn.execute("DELETE FROM connections WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }
}

fn found(changed: usize, c: &Connection) -> Result<()> {
    if changed == 0 {
        return Err(Error::not_found(&c.name));
    }
    Ok(())
}

// Positions in COLUMNS: a row is read by position, not by name (a lookup by
// name compares every column name, for every value of every row).
const ID: usize = 0;
const NAME: usize = 1;
const KIND: usize = 2;
const SETTINGS: usize = 3;
const SETTINGS_VERSION: usize = 4;
const STATUS: usize = 5;
const ACCESS_EXPIRES_AT: usize = 6;
const REFRESH_EXPIRES_AT: usize = 7;
const ACCESS_ISSUED_AT: usize = 8;
const GRANTED_SCOPES: usize = 9;
const ACCOUNT: usize = 10;
const HAS_CLIENT_SECRET: usize = 11;
const HAS_REFRESH_TOKEN: usize = 12;
const LAST_ERROR: usize = 13;
const LAST_ERROR_DETAILS: usize = 14;
const LAST_ERROR_ACTION: usize = 15;
const CREATED_AT: usize = 16;
const UPDATED_AT: usize = 17;
const RETRY_AT: usize = 18;
const REFRESH_DUE_AT: usize = 19;

/// A row of `SELECT {COLUMNS}`.
fn read_row(row: &Row<'_>) -> rusqlite::Result<Result<Connection>> {
    let text = |index: usize| row.get_ref(index).and_then(|value| Ok(value.as_str()?));
    let kind = text(KIND)?;
    let settings = text(SETTINGS)?;
    let version: u32 = row.get(SETTINGS_VERSION)?;
    let status = text(STATUS)?;
    let granted = row.get_ref(GRANTED_SCOPES)?.as_str_or_null()?;
    let action = row.get_ref(LAST_ERROR_ACTION)?.as_str_or_null()?;
    let name: String = row.get(NAME)?;
    let time_at = |index: usize| -> Result<Option<DateTime<Utc>>> {
        match row.get_ref(index)?.as_str_or_null().map_err(corrupt)? {
            Some(text) => DateTime::parse_from_rfc3339(text).map(|t| Some(t.with_timezone(&Utc))).map_err(corrupt),
            None => Ok(None),
        }
    };
    let parse = || -> Result<Connection> {
        let settings = settings_from(kind, version, settings).map_err(|reason| {
            Error::storage(format!("The connection '{name}' could not be read: {reason}."))
        })?;
        Ok(Connection {
            id: ConnectionId(row.get(ID)?),
            settings,
            status: status.parse::<Status>().map_err(corrupt)?,
            access_expires_at: time_at(ACCESS_EXPIRES_AT)?,
            refresh_expires_at: time_at(REFRESH_EXPIRES_AT)?,
            access_issued_at: time_at(ACCESS_ISSUED_AT)?,
            granted_scopes: granted.map(|g| serde_json::from_str(g).map_err(corrupt)).transpose()?,
            account: row.get(ACCOUNT)?,
            has_client_secret: row.get(HAS_CLIENT_SECRET)?,
            has_refresh_token: row.get(HAS_REFRESH_TOKEN)?,
            last_error: row.get(LAST_ERROR)?,
            last_error_details: row.get(LAST_ERROR_DETAILS)?,
            // An action this Latch does not know (written by a newer one) is no action.
            last_error_action: action.and_then(|a| serde_json::from_str::<Action>(a).ok()),
            created_at: time_at(CREATED_AT)?.unwrap_or_default(),
            updated_at: time_at(UPDATED_AT)?.unwrap_or_default(),
            retry_at: time_at(RETRY_AT)?,
            refresh_due_at: time_at(REFRESH_DUE_AT)?,
            name: name.clone(),
        })
    };
    Ok(parse())
}

/// A stored settings document as [`KindSettings::from_document`] reads it.
/// The common case — the `oauth2` kind at a version this Latch reads — goes
/// from the text straight to the struct, without a `serde_json::Value` in
/// between (that tree was half the time of listing 10,000 connections).
fn settings_from(kind: &str, version: u32, text: &str) -> std::result::Result<KindSettings, String> {
    match kind {
        "oauth2" if version <= crate::model::SETTINGS_VERSION => {
            serde_json::from_str(text).map(KindSettings::OAuth2).map_err(|err| err.to_string())
        }
        _ => {
            let document = serde_json::from_str(text).map_err(|err| format!("its settings are not JSON ({err})"))?;
            KindSettings::from_document(kind, version, document)
        }
    }
}

fn corrupt(err: impl std::fmt::Display) -> Error {
    Error::storage(format!("A stored connection could not be read ({err}). The database may be damaged."))
}

fn settings_json(settings: &KindSettings) -> Result<String> {
    serde_json::to_string(&settings.document()).map_err(corrupt)
}

fn action_json(action: &Option<Action>) -> Result<Option<String>> {
    action.as_ref().map(|a| serde_json::to_string(a).map_err(corrupt)).transpose()
}

fn scopes_json(scopes: &Option<Vec<String>>) -> Result<Option<String>> {
    scopes.as_ref().map(|s| serde_json::to_string(s).map_err(corrupt)).transpose()
}

fn time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Flow;

    fn sample(name: &str) -> Connection {
        crate::model::sample_connection(name, Flow::AuthorizationCode)
    }

    #[test]
    fn a_connection_round_trips_and_is_found_by_name_ignoring_case() {
        let db = Db::open_in_memory().unwrap();
        let mut c = sample("GitHub");
        c.granted_scopes = Some(vec!["repo".into()]);
        c.access_expires_at = Some(Utc::now());
        db.connection_insert(&c).unwrap();
        let found = db.connection_find("github").unwrap().unwrap();
        assert_eq!(found.id, c.id);
        assert_eq!(found.granted_scopes, c.granted_scopes);
        assert_eq!(db.connection_find(c.id.as_str()).unwrap().unwrap().name, "GitHub");
        assert_eq!(found.settings, c.settings);
        assert!(db.connection_find("nope").unwrap().is_none());
    }

    #[test]
    fn rows_are_read_by_the_positions_of_their_columns() {
        let names: Vec<&str> = COLUMNS.split(',').map(str::trim).collect();
        let positions = [
            ("id", ID),
            ("name", NAME),
            ("kind", KIND),
            ("settings", SETTINGS),
            ("settings_version", SETTINGS_VERSION),
            ("status", STATUS),
            ("access_expires_at", ACCESS_EXPIRES_AT),
            ("refresh_expires_at", REFRESH_EXPIRES_AT),
            ("access_issued_at", ACCESS_ISSUED_AT),
            ("granted_scopes", GRANTED_SCOPES),
            ("account", ACCOUNT),
            ("has_client_secret", HAS_CLIENT_SECRET),
            ("has_refresh_token", HAS_REFRESH_TOKEN),
            ("last_error", LAST_ERROR),
            ("last_error_details", LAST_ERROR_DETAILS),
            ("last_error_action", LAST_ERROR_ACTION),
            ("created_at", CREATED_AT),
            ("updated_at", UPDATED_AT),
            ("retry_at", RETRY_AT),
            ("refresh_due_at", REFRESH_DUE_AT),
        ];
        assert_eq!(names.len(), positions.len());
        for (name, position) in positions {
            assert_eq!(names[position], name);
        }
    }

    #[test]
    fn the_list_is_ordered_by_name_ignoring_ascii_case_as_sqlite_orders_it() {
        let db = Db::open_in_memory().unwrap();
        for name in ["beta", "Alpha", "éclair", "Zed", "alpha two", "_x", "Émile", "10", "9"] {
            db.connection_insert(&sample(name)).unwrap();
        }
        let listed: Vec<String> = db.connections_list().unwrap().into_iter().map(|c| c.name).collect();
        let sqlite: Vec<String> = db
            .conn
            .prepare("SELECT name FROM connections ORDER BY name COLLATE NOCASE")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(|n| n.unwrap())
            .collect();
        assert_eq!(listed, sqlite);
    }

    #[test]
    fn names_are_unique_ignoring_case() {
        let db = Db::open_in_memory().unwrap();
        let c = sample("GitHub");
        db.connection_insert(&c).unwrap();
        assert!(db.connection_name_taken("GITHUB", None).unwrap());
        assert!(!db.connection_name_taken("GITHUB", Some(&c.id)).unwrap());
        assert!(db.connection_insert(&sample("github")).is_err());
    }
}
