//! Queries on the `connections` table.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::db::Db;
use crate::error::{Action, Error, Result};
use crate::model::{Connection, ConnectionId, KindSettings, Status};

const COLUMNS: &str = "id, name, kind, settings, settings_version, status, access_expires_at, refresh_expires_at, \
     access_issued_at, granted_scopes, account, has_client_secret, has_refresh_token, last_error, last_error_details, \
     last_error_action, created_at, updated_at, retry_at";

impl Db {
    pub fn connections_list(&self) -> Result<Vec<Connection>> {
        let mut stmt = self.conn.prepare(&format!("SELECT {COLUMNS} FROM connections ORDER BY name COLLATE NOCASE"))?;
        let rows = stmt.query_map([], read_row)?;
        rows.map(|row| row?).collect()
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

    /// Whether another connection already uses `name` (ignoring case).
    pub fn connection_name_taken(&self, name: &str, except: Option<&ConnectionId>) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM connections WHERE name = ?1 COLLATE NOCASE AND id != ?2)",
            params![name, except.map(ConnectionId::as_str).unwrap_or("")],
            |row| row.get(0),
        )?)
    }

    pub fn connection_insert(&self, c: &Connection) -> Result<()> {
        self.conn.execute(
            &format!(
                "INSERT INTO connections ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
            ),
            params![
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
            ],
        )?;
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
                 last_error = ?9, last_error_details = ?10, updated_at = ?11, retry_at = ?12, last_error_action = ?13
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

fn read_row(row: &Row<'_>) -> rusqlite::Result<Result<Connection>> {
    let kind: String = row.get("kind")?;
    let settings: String = row.get("settings")?;
    let version: u32 = row.get("settings_version")?;
    let status: String = row.get("status")?;
    let granted: Option<String> = row.get("granted_scopes")?;
    let action: Option<String> = row.get("last_error_action")?;
    let name: String = row.get("name")?;
    let parse = || -> Result<Connection> {
        let document = serde_json::from_str(&settings).map_err(corrupt)?;
        let settings = KindSettings::from_document(&kind, version, document).map_err(|reason| {
            Error::storage(format!("The connection '{name}' could not be read: {reason}."))
        })?;
        Ok(Connection {
            id: ConnectionId(row.get("id")?),
            name: name.clone(),
            settings,
            status: status.parse::<Status>().map_err(corrupt)?,
            access_expires_at: parse_time(row.get("access_expires_at")?)?,
            refresh_expires_at: parse_time(row.get("refresh_expires_at")?)?,
            access_issued_at: parse_time(row.get("access_issued_at")?)?,
            granted_scopes: granted.map(|g| serde_json::from_str(&g).map_err(corrupt)).transpose()?,
            account: row.get("account")?,
            has_client_secret: row.get("has_client_secret")?,
            has_refresh_token: row.get("has_refresh_token")?,
            last_error: row.get("last_error")?,
            last_error_details: row.get("last_error_details")?,
            // An action this Latch does not know (written by a newer one) is no action.
            last_error_action: action.and_then(|a| serde_json::from_str::<Action>(&a).ok()),
            created_at: parse_time(row.get("created_at")?)?.unwrap_or_default(),
            updated_at: parse_time(row.get("updated_at")?)?.unwrap_or_default(),
            retry_at: parse_time(row.get("retry_at")?)?,
        })
    };
    Ok(parse())
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

fn parse_time(text: Option<String>) -> Result<Option<DateTime<Utc>>> {
    text.map(|t| DateTime::parse_from_rfc3339(&t).map(|t| t.with_timezone(&Utc)).map_err(corrupt)).transpose()
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
    fn names_are_unique_ignoring_case() {
        let db = Db::open_in_memory().unwrap();
        let c = sample("GitHub");
        db.connection_insert(&c).unwrap();
        assert!(db.connection_name_taken("GITHUB", None).unwrap());
        assert!(!db.connection_name_taken("GITHUB", Some(&c.id)).unwrap());
        assert!(db.connection_insert(&sample("github")).is_err());
    }
}
