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

/// `name (2)`, `name (3)`, … : the first that `taken` does not refuse.
fn free_name(name: &str, taken: impl Fn(&str) -> Result<bool>) -> Result<String> {
    for n in 2.. {
        let candidate = format!("{name} ({n})");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("some numbered name is free")
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

    /// What importing this file would do, so a front end can ask about
    /// names that are taken before importing.
    pub fn import_preview(&self, bytes: &[u8]) -> Result<Vec<ImportCandidate>> {
        let file = parse(bytes)?;
        let in_file = |name: &str| file.connections.iter().any(|spec| spec.name.eq_ignore_ascii_case(name));
        file.connections
            .iter()
            .map(|spec| {
                let name_taken = self.db().connection_name_taken(&spec.name, None)?;
                let suggested_name = if name_taken {
                    free_name(&spec.name, |candidate| Ok(in_file(candidate) || self.db().connection_name_taken(candidate, None)?))?
                } else {
                    spec.name.clone()
                };
                Ok(ImportCandidate { name: spec.name.clone(), provider_host: spec.provider_host(), name_taken, suggested_name })
            })
            .collect()
    }

    /// Adds every connection in an export file, or none: the whole file is
    /// checked first (format, version, every rule, names free here and
    /// unique in the file), and nothing changes if anything is wrong.
    pub fn import(&self, bytes: &[u8]) -> Result<Imported> {
        self.import_resolving(bytes, &[])
    }

    /// [`Engine::import`], with the user's answer for each name in the file
    /// that is taken here (matched ignoring case). A taken name without an
    /// answer is refused, as in `import`.
    pub fn import_resolving(&self, bytes: &[u8], choices: &[(String, NameConflict)]) -> Result<Imported> {
        let file = parse(bytes)?;
        let choice_for = |name: &str| choices.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, c)| c);
        let mut problems = Vec::new();
        let mut skipped = Vec::new();
        // Each connection to add, with the one here it replaces.
        let mut plan: Vec<(ConnectionSpec, Option<Connection>)> = Vec::new();
        for (index, mut spec) in file.connections.into_iter().enumerate() {
            let label = format!("Connection {} ('{}')", index + 1, spec.name);
            let existing =
                if self.db().connection_name_taken(&spec.name, None)? { self.db().connection_find(&spec.name)? } else { None };
            let mut replaces = None;
            if let Some(existing) = existing {
                match choice_for(&spec.name) {
                    None => problems.push(FieldError {
                        field: "name",
                        message: format!(
                            "{label}: a connection with this name already exists here. Rename or remove it first \
                             ('latch edit \"{0}\" --name NEW'), then import again.",
                            spec.name
                        ),
                    }),
                    Some(NameConflict::Skip) => {
                        skipped.push(spec.name);
                        continue;
                    }
                    Some(NameConflict::Replace) => replaces = Some(existing),
                    Some(NameConflict::KeepBoth { name }) => {
                        spec.name = name.trim().to_owned();
                        if self.db().connection_name_taken(&spec.name, None)? {
                            problems.push(FieldError {
                                field: "name",
                                message: format!("{label}: the new name '{}' is taken here too. Choose another.", spec.name),
                            });
                        }
                    }
                }
            }
            // The secret is not in the file; judge the rest as if it will be given.
            let will_have_secret = spec.client_auth != ClientAuth::None;
            for error in validate::validate(&spec, will_have_secret) {
                problems.push(FieldError { field: error.field, message: format!("{label}: {}", error.message) });
            }
            if plan.iter().any(|(other, _)| other.name.eq_ignore_ascii_case(&spec.name)) {
                problems.push(FieldError {
                    field: "name",
                    message: format!("{label}: the file lists the name '{}' twice.", spec.name),
                });
            }
            plan.push((spec, replaces));
        }
        if !problems.is_empty() {
            problems.push(FieldError { field: "import", message: "Nothing was imported.".into() });
            return Err(Error::invalid(problems));
        }
        self.import_plan(plan, skipped)
    }

    /// Writes a checked import: the replaced rows go first (names are
    /// unique), then every new row; on any failure the store is put back.
    /// Replaced connections' keyring entries are deleted only at the end.
    fn import_plan(&self, plan: Vec<(ConnectionSpec, Option<Connection>)>, skipped: Vec<String>) -> Result<Imported> {
        let now = Utc::now();
        let replaced: Vec<Connection> = plan.iter().filter_map(|(_, old)| old.clone()).collect();
        let mut imported =
            Imported { connections: Vec::new(), need_secret: Vec::new(), replaced: Vec::new(), skipped };
        let outcome = (|| {
            for old in &replaced {
                self.db().connection_delete(&old.id)?;
            }
            for (spec, _) in &plan {
                let connection = Connection::new(spec.clone(), false, now);
                self.db().connection_insert(&connection)?;
                imported.connections.push(connection);
            }
            Ok(())
        })();
        if let Err(err) = outcome {
            // All or nothing: take back what this import added and restore what it removed.
            for added in &imported.connections {
                let _ = self.db().connection_delete(&added.id);
            }
            for old in &replaced {
                let _ = self.db().connection_insert(old);
            }
            return Err(err);
        }
        for old in &replaced {
            if let Err(err) = self.secrets.delete_all(&old.id) {
                tracing::warn!(connection = %old.id, error = %err, "a replaced connection's keyring entries stay behind");
            }
            imported.replaced.push(old.spec.name.clone());
        }
        imported.need_secret =
            plan.iter().filter(|(spec, _)| spec.client_auth != ClientAuth::None).map(|(spec, _)| spec.name.clone()).collect();
        tracing::info!(count = imported.connections.len(), replaced = imported.replaced.len(), "connections imported");
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

    fn engine() -> (tempfile::TempDir, Engine) {
        crate::engine::test_engine()
    }

    fn spec(name: &str, token_url: &str) -> ConnectionSpec {
        let mut spec = ConnectionSpec::new(name, crate::model::Flow::ClientCredentials, "client");
        spec.token_url = Some(token_url.into());
        spec.client_auth = ClientAuth::Body;
        spec
    }

    fn file_of(specs: &[ConnectionSpec]) -> Vec<u8> {
        serde_json::to_vec(&ExportFile { latch_export: 1, exported_at: Utc::now(), connections: specs.to_vec() }).unwrap()
    }

    fn add(engine: &Engine, spec: ConnectionSpec) -> Connection {
        let secret = crate::secret::ClientSecret::new("old-secret".into());
        engine.create(crate::model::ConnectionPatch::from(spec), Some(secret)).unwrap()
    }

    fn names(engine: &Engine) -> Vec<String> {
        let mut names: Vec<String> = engine.list().unwrap().into_iter().map(|c| c.spec.name).collect();
        names.sort();
        names
    }

    #[test]
    fn the_preview_marks_taken_names_and_suggests_a_free_one() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token"));
        add(&engine, spec("GitHub (2)", "https://github.com/token"));
        let preview = engine
            .import_preview(&file_of(&[spec("github", "https://example.com/t"), spec("Lab", "https://lab.example/t")]))
            .unwrap();
        assert_eq!(preview[0].name, "github");
        assert!(preview[0].name_taken);
        assert_eq!(preview[0].suggested_name, "github (3)");
        assert_eq!(preview[0].provider_host.as_deref(), Some("example.com"));
        assert!(!preview[1].name_taken);
        assert_eq!(preview[1].suggested_name, "Lab");
    }

    #[test]
    fn a_taken_name_without_a_choice_refuses_the_whole_import() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token"));
        let err = engine
            .import_resolving(&file_of(&[spec("Lab", "https://lab.example/t"), spec("GitHub", "https://x.example/t")]), &[])
            .unwrap_err();
        assert!(err.fields.iter().any(|f| f.message.contains("already exists here")), "{err:?}");
        assert_eq!(names(&engine), ["GitHub"], "nothing was imported");
    }

    #[test]
    fn keep_both_imports_under_the_new_name_and_leaves_the_existing_one() {
        let (_dir, engine) = engine();
        let existing = add(&engine, spec("GitHub", "https://github.com/token"));
        let choices = [("github".to_string(), NameConflict::KeepBoth { name: "GitHub (work)".into() })];
        let imported = engine.import_resolving(&file_of(&[spec("GitHub", "https://x.example/t")]), &choices).unwrap();
        assert_eq!(imported.connections[0].spec.name, "GitHub (work)");
        assert_eq!(names(&engine), ["GitHub", "GitHub (work)"]);
        assert_eq!(engine.get("GitHub").unwrap().spec.token_url.as_deref(), Some("https://github.com/token"));
        assert!(engine.client_secret(&existing).unwrap().is_some(), "the existing secret stays");
    }

    #[test]
    fn keep_both_with_a_name_that_is_also_taken_is_refused() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token"));
        add(&engine, spec("Work", "https://github.com/token"));
        let choices = [("GitHub".to_string(), NameConflict::KeepBoth { name: "work".into() })];
        let err = engine.import_resolving(&file_of(&[spec("GitHub", "https://x.example/t")]), &choices).unwrap_err();
        assert!(err.fields[0].message.contains("the new name 'work' is taken here too"), "{err:?}");
        assert_eq!(names(&engine), ["GitHub", "Work"]);
    }

    #[test]
    fn replace_deletes_the_existing_connection_with_its_secrets_and_imports_the_file_one() {
        let (_dir, engine) = engine();
        let existing = add(&engine, spec("GitHub", "https://github.com/token"));
        let choices = [("GitHub".to_string(), NameConflict::Replace)];
        let imported = engine.import_resolving(&file_of(&[spec("GitHub", "https://x.example/t")]), &choices).unwrap();
        assert_eq!(imported.replaced, ["GitHub"]);
        assert_eq!(imported.need_secret, ["GitHub"]);
        let now = engine.get("GitHub").unwrap();
        assert_ne!(now.id, existing.id);
        assert_eq!(now.spec.token_url.as_deref(), Some("https://x.example/t"));
        assert!(!now.has_client_secret);
        assert!(engine.secrets.client_secret(&existing.id).unwrap().is_none(), "the replaced secret is gone");
    }

    #[test]
    fn skip_leaves_the_connection_out_and_imports_the_rest() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token"));
        let choices = [("GitHub".to_string(), NameConflict::Skip)];
        let imported = engine
            .import_resolving(&file_of(&[spec("GitHub", "https://x.example/t"), spec("Lab", "https://lab.example/t")]), &choices)
            .unwrap();
        assert_eq!(imported.skipped, ["GitHub"]);
        assert_eq!(imported.connections.len(), 1);
        assert_eq!(names(&engine), ["GitHub", "Lab"]);
        assert_eq!(engine.get("GitHub").unwrap().spec.token_url.as_deref(), Some("https://github.com/token"));
    }

    #[test]
    fn a_replace_in_a_file_that_fails_validation_changes_nothing() {
        let (_dir, engine) = engine();
        let existing = add(&engine, spec("GitHub", "https://github.com/token"));
        let choices = [("GitHub".to_string(), NameConflict::Replace)];
        let err = engine
            .import_resolving(&file_of(&[spec("GitHub", "https://x.example/t"), spec("Bad", "not a url")]), &choices)
            .unwrap_err();
        assert!(err.fields.iter().any(|f| f.message.starts_with("Connection 2 ('Bad')")), "{err:?}");
        assert_eq!(engine.get("GitHub").unwrap().id, existing.id);
        assert!(engine.secrets.client_secret(&existing.id).unwrap().is_some());
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
