//! Export and import of connection settings, to move them to another machine
//! or share a provider's setup. The file holds only what the user typed
//! (the [`ConnectionSpec`] fields): never a secret, a token or a status.
//!
//! The format is versioned (`latch_export`); README.md documents it. A
//! reader refuses versions newer than it knows rather than guess.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::model::{ClientAuth, Connection, ConnectionSpec};
use crate::{validate, Engine};

/// The export format version this Latch writes and the newest it reads.
pub const EXPORT_VERSION: u64 = 1;

/// An export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportFile {
    pub latch_export: u64,
    pub exported_at: DateTime<Utc>,
    pub connections: Vec<ConnectionSpec>,
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub connections: Vec<Connection>,
    /// Names of imported connections that need a client secret before they
    /// can connect (secrets are never exported).
    pub need_secret: Vec<String>,
}

/// Reads an export file, checking its version before anything else.
pub fn parse(bytes: &[u8]) -> Result<ExportFile> {
    let refuse = |message: String| Error::validation("import", format!("{message} Nothing was imported."));
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| refuse(format!("The file is not valid JSON ({err}). Check that it is a file 'latch export' wrote.")))?;
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
        let spec: ConnectionSpec = serde_json::from_value(item.clone()).map_err(|err| {
            let name = item.get("name").and_then(|n| n.as_str()).map(|n| format!(" ('{n}')")).unwrap_or_default();
            refuse(format!("Connection {}{name} in the file could not be read ({err}).", index + 1))
        })?;
        connections.push(spec);
    }
    Ok(ExportFile { latch_export: version, exported_at, connections })
}

impl Engine {
    /// The settings of the named connections (all when `names` is empty), as
    /// an export file.
    pub fn export(&self, names: &[String]) -> Result<ExportFile> {
        let connections = if names.is_empty() {
            self.list()?
        } else {
            names.iter().map(|name| self.get(name)).collect::<Result<Vec<_>>>()?
        };
        Ok(ExportFile {
            latch_export: EXPORT_VERSION,
            exported_at: Utc::now(),
            connections: connections.into_iter().map(|c| c.spec).collect(),
        })
    }

    /// Adds every connection in an export file, or none: the whole file is
    /// checked first (format, version, every rule, names free here and
    /// unique in the file), and nothing changes if anything is wrong.
    pub fn import(&self, bytes: &[u8]) -> Result<Imported> {
        let file = parse(bytes)?;
        let mut problems = Vec::new();
        for (index, spec) in file.connections.iter().enumerate() {
            let label = format!("Connection {} ('{}')", index + 1, spec.name);
            // The secret is not in the file; judge the rest as if it will be given.
            let will_have_secret = spec.client_auth != ClientAuth::None;
            for error in validate::validate(spec, will_have_secret) {
                problems.push(FieldError { field: error.field, message: format!("{label}: {}", error.message) });
            }
            if self.db().connection_name_taken(&spec.name, None)? {
                problems.push(FieldError {
                    field: "name",
                    message: format!(
                        "{label}: a connection with this name already exists here. Rename or remove it first \
                         ('latch edit \"{0}\" --name NEW'), then import again.",
                        spec.name
                    ),
                });
            }
            if file.connections[..index].iter().any(|other| other.name.eq_ignore_ascii_case(&spec.name)) {
                problems.push(FieldError { field: "name", message: format!("{label}: the file lists this name twice.") });
            }
        }
        if !problems.is_empty() {
            problems.push(FieldError { field: "import", message: "Nothing was imported.".into() });
            return Err(Error::invalid(problems));
        }

        let now = Utc::now();
        let mut imported = Imported { connections: Vec::new(), need_secret: Vec::new() };
        for spec in file.connections {
            if spec.client_auth != ClientAuth::None {
                imported.need_secret.push(spec.name.clone());
            }
            let connection = Connection::new(spec, false, now);
            if let Err(err) = self.db().connection_insert(&connection) {
                // All or nothing: take back what this import added.
                for added in &imported.connections {
                    let _ = self.db().connection_delete(&added.id);
                }
                return Err(err);
            }
            imported.connections.push(connection);
        }
        tracing::info!(count = imported.connections.len(), "connections imported");
        Ok(imported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let err = parse(br#"{"latch_export":1,"exported_at":"2026-01-01T00:00:00Z","connections":[{"name":"A"}]}"#)
            .unwrap_err();
        assert!(err.message.starts_with("Connection 1 ('A') in the file could not be read (missing field"), "{}", err.message);
    }

    #[test]
    fn a_spec_round_trips_through_the_format() {
        let mut spec = ConnectionSpec::new("GitHub", crate::model::Flow::AuthorizationCode, "c1");
        spec.scopes = vec!["repo".into()];
        let file = ExportFile { latch_export: 1, exported_at: Utc::now(), connections: vec![spec.clone()] };
        let parsed = parse(&serde_json::to_vec(&file).unwrap()).unwrap();
        assert_eq!(parsed.connections, vec![spec]);
    }
}
