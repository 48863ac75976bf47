//! Export and import of connection settings, to move them to another machine
//! or share a provider's setup. The file holds only what the user typed
//! (each connection's [`Draft`]: name, kind, settings): never a secret, a
//! token or a status. Pure functions: the engine's `engine/transfer.rs`
//! reads the store and writes the plan these return.
//!
//! The format is versioned (`latch_export`); README.md documents it. A
//! reader refuses versions newer than it knows rather than guess.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::model::{Connection, Draft};
use crate::validate;

/// The export format version this Latch writes and the newest it reads.
pub const EXPORT_VERSION: u64 = 1;

/// An export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportFile {
    pub latch_export: u64,
    pub exported_at: DateTime<Utc>,
    pub connections: Vec<Draft>,
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub connections: Vec<Connection>,
    /// Names of imported connections that need a client secret before they
    /// can connect (secrets are never exported).
    pub need_secret: Vec<String>,
    /// Names of connections here that imported ones replaced.
    pub replaced: Vec<String>,
    /// Names in the file that were left out, as asked.
    pub skipped: Vec<String>,
}

/// What to do with a connection in the file whose name is already taken
/// here. Without a choice the import refuses: nothing is overwritten silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum NameConflict {
    /// Import it under this other name; the existing one stays.
    KeepBoth { name: String },
    /// Delete the existing connection (with its tokens and client secret)
    /// and import this one in its place.
    Replace,
    /// Leave this one out.
    Skip,
}

/// One connection of an export file, as an import would treat it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportCandidate {
    pub name: String,
    pub provider_host: Option<String>,
    /// A connection here already has this name: a [`NameConflict`] is needed.
    pub name_taken: bool,
    /// A free name for "keep both": the name itself when it is free.
    pub suggested_name: String,
}

/// Reads an export file, checking its version before anything else.
pub fn parse(bytes: &[u8]) -> Result<ExportFile> {
    let refuse = |message: String| Error::validation("import", format!("{message} Nothing was imported."));
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| refuse(format!("The file is not valid JSON ({err}). Check that it is a file Latch exported.")))?;
    let version = match value.get("latch_export") {
        Some(v) => v.as_u64().ok_or_else(|| {
            refuse(format!("The file's 'latch_export' version is {v}, which is not a version number."))
        })?,
        None => return Err(refuse("The file is not a Latch export (it has no 'latch_export' version).".into())),
    };
    if version > EXPORT_VERSION {
        return Err(refuse(format!(
            "The file was written by a newer Latch (export version {version}); this Latch reads version {EXPORT_VERSION} \
             and older. Update Latch and import again."
        )));
    }
    let exported_at = value
        .get("exported_at")
        .and_then(|v| v.as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| refuse("The file's 'exported_at' is missing or not an RFC 3339 time.".into()))?;
    let list = value
        .get("connections")
        .and_then(|v| v.as_array())
        .ok_or_else(|| refuse("The file has no 'connections' list.".into()))?;
    let mut connections = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let mut item = item.clone();
        // Files written before kinds existed hold OAuth 2.0 connections only.
        if let Some(object) = item.as_object_mut() {
            object.entry("kind").or_insert_with(|| "oauth2".into());
        }
        let spec: Draft = serde_json::from_value(item.clone()).map_err(|err| {
            let name = item.get("name").and_then(|n| n.as_str()).map(|n| format!(" ('{n}')")).unwrap_or_default();
            refuse(format!("Connection {}{name} in the file could not be read ({err}).", index + 1))
        })?;
        connections.push(spec);
    }
    Ok(ExportFile { latch_export: version, exported_at, connections })
}

/// `name (2)`, `name (3)`, … : the first that `taken` does not refuse.
pub fn free_name(name: &str, taken: impl Fn(&str) -> Result<bool>) -> Result<String> {
    for n in 2.. {
        let candidate = format!("{name} ({n})");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("some numbered name is free")
}

/// The settings of `connections` as an export file.
pub fn export_file(connections: Vec<Connection>, now: DateTime<Utc>) -> ExportFile {
    ExportFile { latch_export: EXPORT_VERSION, exported_at: now, connections: connections.iter().map(Connection::draft).collect() }
}

/// A checked import: each connection to add, with the one here it replaces.
#[derive(Debug)]
pub struct ImportPlan {
    pub add: Vec<(Draft, Option<Connection>)>,
    pub skipped: Vec<String>,
}

/// Checks a whole file against the rules and the names taken here
/// (`existing` finds a connection by name, ignoring case), with the user's
/// answer for each taken name. Nothing is planned unless everything holds.
pub fn plan(
    file: ExportFile,
    choices: &[(String, NameConflict)],
    existing: impl Fn(&str) -> Result<Option<Connection>>,
) -> Result<ImportPlan> {
    let choice_for = |name: &str| choices.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, c)| c);
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    let mut add: Vec<(Draft, Option<Connection>)> = Vec::new();
    for (index, mut draft) in file.connections.into_iter().enumerate() {
        let label = format!("Connection {} ('{}')", index + 1, draft.name);
        let mut replaces = None;
        if let Some(found) = existing(&draft.name)? {
            match choice_for(&draft.name) {
                None => problems.push(FieldError {
                    field: "name",
                    message: format!(
                        "{label}: a connection with this name already exists here. Rename or remove it first, then \
                         import again."
                    ),
                }),
                Some(NameConflict::Skip) => {
                    skipped.push(draft.name);
                    continue;
                }
                Some(NameConflict::Replace) => replaces = Some(found),
                Some(NameConflict::KeepBoth { name }) => {
                    draft.name = name.trim().to_owned();
                    if existing(&draft.name)?.is_some() {
                        problems.push(FieldError {
                            field: "name",
                            message: format!("{label}: the new name '{}' is taken here too. Choose another.", draft.name),
                        });
                    }
                }
            }
        }
        draft.settings.normalize();
        if let Err(message) = validate::check_name(&draft.name) {
            problems.push(FieldError { field: "name", message: format!("{label}: {message}") });
        }
        // The secret is not in the file; judge the rest as if it will be given.
        for error in validate::settings(&draft.settings, draft.settings.expects_client_secret()) {
            problems.push(FieldError { field: error.field, message: format!("{label}: {}", error.message) });
        }
        if add.iter().any(|(other, _)| other.name.eq_ignore_ascii_case(&draft.name)) {
            problems.push(FieldError {
                field: "name",
                message: format!("{label}: the file lists the name '{}' twice.", draft.name),
            });
        }
        add.push((draft, replaces));
    }
    if !problems.is_empty() {
        problems.push(FieldError { field: "import", message: "Nothing was imported.".into() });
        return Err(Error::invalid(problems));
    }
    Ok(ImportPlan { add, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientAuth, Flow, KindSettings, OAuth2Settings};

    #[test]
    fn a_newer_version_is_refused_before_anything_else_is_read() {
        let err = parse(br#"{"latch_export": 2, "connections": "whatever"}"#).unwrap_err();
        assert!(err.message.contains("written by a newer Latch (export version 2)"), "{}", err.message);
        assert!(err.message.ends_with("Nothing was imported."));
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        assert!(parse(b"{not json").unwrap_err().message.starts_with("The file is not valid JSON"));
        assert!(parse(b"{}").unwrap_err().message.contains("not a Latch export"));
        let err = parse(br#"{"latch_export":1,"exported_at":"2026-01-01T00:00:00Z","connections":[{"flow":"implicit"}]}"#)
            .unwrap_err();
        assert!(err.message.starts_with("Connection 1 in the file could not be read (missing field `name`"), "{}", err.message);
        let err = parse(br#"{"latch_export":1,"exported_at":"2026-01-01T00:00:00Z","connections":[{"name":"A","flow":"password"}]}"#)
            .unwrap_err();
        assert!(err.message.starts_with("Connection 1 ('A') in the file could not be read (unknown variant"), "{}", err.message);
    }

    #[test]
    fn a_file_from_before_kinds_existed_reads_as_oauth2_connections() {
        let file = parse(
            br#"{"latch_export":1,"exported_at":"2026-01-01T00:00:00Z",
                 "connections":[{"name":"Old","flow":"client_credentials","pkce":"off","token_url":"https://a.example/t",
                                 "client_id":"c","client_auth":"body"}]}"#,
        )
        .unwrap();
        let settings = file.connections[0].settings.oauth2().unwrap();
        assert_eq!(settings.flow, Flow::ClientCredentials);
        assert_eq!(settings.token_name, "Bearer", "what the file leaves out keeps the default");
    }

    #[test]
    fn a_draft_round_trips_through_the_format() {
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "c1");
        settings.scopes = vec!["repo".into()];
        settings.client_auth = ClientAuth::Basic;
        let draft = Draft { name: "GitHub".into(), settings: KindSettings::OAuth2(settings) };
        let file = ExportFile { latch_export: 1, exported_at: Utc::now(), connections: vec![draft.clone()] };
        let parsed = parse(&serde_json::to_vec(&file).unwrap()).unwrap();
        assert_eq!(parsed.connections, vec![draft]);
    }
}
