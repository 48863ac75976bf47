//! Queries on the `teams` and `team_connections` tables: which teams this
//! Latch has joined (where their OpenBao store is; never the token) and
//! which local rows mirror a team's connections.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::db::Db;
use super::openbao_auth::TeamAuthMethod;
use crate::error::Result;
use crate::model::ConnectionId;

/// A team this Latch has joined: the non-secret part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamConfig {
    pub name: String,
    /// The OpenBao (or Vault) server, e.g. `https://bao.example:8200`.
    pub addr: String,
    /// The KV v2 mount, e.g. `secret`.
    pub mount: String,
    /// The team's folder in the mount, e.g. `teams/sales`.
    pub path: String,
    /// A CA certificate (PEM) to trust besides the system's.
    pub ca_file: Option<String>,
    /// Names the personal-store entry that holds this team's OpenBao token.
    pub token_entry: String,
    pub joined_at: DateTime<Utc>,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The last try, whether or not the store answered.
    pub last_sync_attempt_at: Option<DateTime<Utc>>,
}

/// The `settings` key (then the team's entry) of a team's last full listing.
const FULL_LISTING_KEY: &str = "team_full_listing:";

/// What this Latch knows about one team connection's tokens in the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeamTokenNote {
    /// The version of the access document the row's state came from.
    pub access_version: Option<u64>,
    /// When this Latch last saw new tokens stored (its own or another's).
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// The version of the refresh document the row's tokens came from.
    pub refresh_version: Option<u64>,
    /// The team entry of the member whose sign-in the tokens come from.
    pub connected_by: Option<String>,
    /// The version of the settings document the row's settings came from.
    pub settings_version: Option<u64>,
}

fn parse_time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}

fn read_team(row: &rusqlite::Row<'_>) -> rusqlite::Result<TeamConfig> {
    Ok(TeamConfig {
        name: row.get(0)?,
        addr: row.get(1)?,
        mount: row.get(2)?,
        path: row.get(3)?,
        ca_file: row.get(4)?,
        token_entry: row.get(5)?,
        joined_at: parse_time(row.get(6)?).unwrap_or_default(),
        last_synced_at: parse_time(row.get(7)?),
        last_sync_attempt_at: parse_time(row.get(8)?),
    })
}

const TEAM_COLUMNS: &str = "name, addr, mount, path, ca_file, token_entry, joined_at, last_synced_at, last_sync_attempt_at";

impl Db {
    pub fn team_insert(&self, team: &TeamConfig) -> Result<()> {
        self.conn.execute(
            &format!("INSERT INTO teams ({TEAM_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                team.name,
                team.addr,
                team.mount,
                team.path,
                team.ca_file,
                team.token_entry,
                team.joined_at.to_rfc3339(),
                team.last_synced_at.map(|t| t.to_rfc3339()),
                team.last_sync_attempt_at.map(|t| t.to_rfc3339())
            ],
        )?;
        Ok(())
    }

    pub fn teams_list(&self) -> Result<Vec<TeamConfig>> {
        let mut stmt = self.conn.prepare(&format!("SELECT {TEAM_COLUMNS} FROM teams ORDER BY name"))?;
        let rows = stmt.query_map([], read_team)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// A team by name, ignoring case.
    pub fn team_find(&self, name: &str) -> Result<Option<TeamConfig>> {
        Ok(self.conn.query_row(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE name = ?1"), [name], read_team).optional()?)
    }

    pub fn team_set_sync_attempt(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute("UPDATE teams SET last_sync_attempt_at = ?2 WHERE name = ?1", params![name, at.to_rfc3339()])?;
        Ok(())
    }

    pub fn team_set_synced(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute("UPDATE teams SET last_synced_at = ?2 WHERE name = ?1", params![name, at.to_rfc3339()])?;
        Ok(())
    }

    /// How this Latch signs in to the team's OpenBao (never the secret).
    pub fn team_auth(&self, name: &str) -> Result<TeamAuthMethod> {
        let found = self
            .conn
            .query_row("SELECT auth_method, auth_mount, auth_name FROM teams WHERE name = ?1", [name], |row| {
                Ok(TeamAuthMethod::from_parts(&row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        Ok(found.unwrap_or_default())
    }

    pub fn team_set_auth(&self, name: &str, method: &TeamAuthMethod) -> Result<()> {
        let (mount, who) = method.parts();
        self.conn.execute(
            "UPDATE teams SET auth_method = ?2, auth_mount = ?3, auth_name = ?4 WHERE name = ?1",
            params![name, method.name(), mount, who],
        )?;
        Ok(())
    }

    /// Forgets the team and which rows were its connections (not the rows).
    pub fn team_delete(&self, name: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM settings WHERE key = ?2 || (SELECT token_entry FROM teams WHERE name = ?1)",
            params![name, FULL_LISTING_KEY],
        )?;
        self.conn.execute("DELETE FROM teams WHERE name = ?1", [name])?;
        Ok(())
    }

    /// When a sync last listed every connection of the team joined as
    /// `entry`, in any process over this data directory.
    pub fn team_full_listing_at(&self, entry: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(parse_time(self.setting(&format!("{FULL_LISTING_KEY}{entry}"))?))
    }

    pub fn team_set_full_listing_at(&mut self, entry: &str, at: DateTime<Utc>) -> Result<()> {
        self.set_settings(&[(&format!("{FULL_LISTING_KEY}{entry}"), at.to_rfc3339())])
    }

    /// Marks the local row `id` as a connection of `team`.
    pub fn team_connection_mark(&self, id: &ConnectionId, team: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO team_connections (connection_id, team) VALUES (?1, ?2)
             ON CONFLICT (connection_id) DO UPDATE SET team = excluded.team",
            params![id.as_str(), team],
        )?;
        Ok(())
    }

    /// Every team connection's local id with its team.
    pub fn team_connections_all(&self) -> Result<Vec<(ConnectionId, String)>> {
        let mut stmt = self.conn.prepare("SELECT connection_id, team FROM team_connections")?;
        let rows = stmt.query_map([], |row| Ok((ConnectionId(row.get(0)?), row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The team `id` belongs to; `None` for a personal connection.
    pub fn team_of(&self, id: &ConnectionId) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT team FROM team_connections WHERE connection_id = ?1", [id.as_str()], |row| row.get(0)).optional()?)
    }

    pub fn team_token_note(&self, id: &ConnectionId) -> Result<TeamTokenNote> {
        let note = self
            .conn
            .query_row(
                "SELECT access_version, last_refresh_at, refresh_version, connected_by, settings_version FROM team_connections
                 WHERE connection_id = ?1",
                [id.as_str()],
                |row| {
                    Ok(TeamTokenNote {
                        access_version: row.get::<_, Option<i64>>(0)?.map(|v| v as u64),
                        last_refresh_at: parse_time(row.get(1)?),
                        refresh_version: row.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                        connected_by: row.get(3)?,
                        settings_version: row.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                    })
                },
            )
            .optional()?;
        Ok(note.unwrap_or_default())
    }

    pub fn set_team_token_note(&self, id: &ConnectionId, note: &TeamTokenNote) -> Result<()> {
        self.conn.execute(
            "UPDATE team_connections SET access_version = ?2, last_refresh_at = ?3, refresh_version = ?4, connected_by = ?5,
             settings_version = ?6 WHERE connection_id = ?1",
            params![
                id.as_str(),
                note.access_version.map(|v| v as i64),
                note.last_refresh_at.map(|t| t.to_rfc3339()),
                note.refresh_version.map(|v| v as i64),
                note.connected_by,
                note.settings_version.map(|v| v as i64),
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_and_its_connection_marks_round_trip_and_leave_with_it() {
        let mut db = Db::open_in_memory().unwrap();
        let team = TeamConfig {
            name: "sales".into(),
            addr: "https://bao.example:8200".into(),
            mount: "secret".into(),
            path: "teams/sales".into(),
            ca_file: None,
            token_entry: "team_x".into(),
            joined_at: Utc::now(),
            last_synced_at: None,
            last_sync_attempt_at: None,
        };
        db.team_insert(&team).unwrap();
        assert_eq!(db.team_find("SALES").unwrap().unwrap().path, "teams/sales");
        let draft = crate::model::Draft {
            name: "CRM".into(),
            settings: crate::model::KindSettings::OAuth2(crate::model::OAuth2Settings::new(
                crate::model::Flow::ClientCredentials,
                "client",
            )),
        };
        let connection = crate::model::Connection::new(draft, false, Utc::now());
        db.connection_insert(&connection).unwrap();
        db.team_connection_mark(&connection.id, "sales").unwrap();
        assert_eq!(db.team_of(&connection.id).unwrap().as_deref(), Some("sales"));
        let note = TeamTokenNote { access_version: Some(3), last_refresh_at: Some(Utc::now()), refresh_version: Some(7), connected_by: Some("team_a".into()), settings_version: Some(2) };
        db.set_team_token_note(&connection.id, &note).unwrap();
        assert_eq!(db.team_token_note(&connection.id).unwrap(), note);
        db.set_team_token_note(&connection.id, &note).unwrap();
        assert_eq!(db.team_token_note(&connection.id).unwrap().access_version, Some(3));
        // The last full listing, for every process over this data directory.
        assert_eq!(db.team_full_listing_at("team_x").unwrap(), None);
        let listed = DateTime::parse_from_rfc3339("2026-11-30T15:00:00Z").unwrap().with_timezone(&Utc);
        db.team_set_full_listing_at("team_x", listed).unwrap();
        assert_eq!(db.team_full_listing_at("team_x").unwrap(), Some(listed));
        db.team_delete("sales").unwrap();
        assert_eq!(db.team_of(&connection.id).unwrap(), None, "the marks go with the team");
        assert_eq!(db.setting("team_full_listing:team_x").unwrap(), None, "and the note of its last listing");
        assert!(db.connection_find("CRM").unwrap().is_some(), "the row itself is the engine's to remove");
    }
}
