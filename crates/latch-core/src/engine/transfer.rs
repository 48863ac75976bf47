//! Export and import verbs over the pure rules in `crate::transfer`.

use super::Engine;
use crate::error::Result;
use crate::events::EngineEvent;
use crate::model::Connection;
use crate::transfer::{self, ExportFile, ImportCandidate, ImportPlan, Imported, NameConflict};

impl Engine {
    /// The settings of the named connections (all when `names` is empty), as
    /// an export file.
    pub fn export(&self, names: &[String]) -> Result<ExportFile> {
        let connections = if names.is_empty() {
            self.list()?
        } else {
            names.iter().map(|name| self.get(name)).collect::<Result<Vec<_>>>()?
        };
        Ok(transfer::export_file(connections, self.now()))
    }

    /// What importing this file would do, so a front end can ask about
    /// names that are taken before importing.
    pub fn import_preview(&self, bytes: &[u8]) -> Result<Vec<ImportCandidate>> {
        let file = transfer::parse(bytes)?;
        let in_file = |name: &str| file.connections.iter().any(|draft| draft.name.eq_ignore_ascii_case(name));
        file.connections
            .iter()
            .map(|draft| {
                let name_taken = self.db().connection_name_taken(&draft.name, None)?;
                let suggested_name = if name_taken {
                    transfer::free_name(&draft.name, |candidate| {
                        Ok(in_file(candidate) || self.db().connection_name_taken(candidate, None)?)
                    })?
                } else {
                    draft.name.clone()
                };
                Ok(ImportCandidate {
                    name: draft.name.clone(),
                    provider_host: draft.settings.provider_host(),
                    name_taken,
                    suggested_name,
                })
            })
            .collect()
    }

    /// Adds every connection in an export file, or none: the whole file is
    /// checked first (format, version, every rule, names free here and
    /// unique in the file), and nothing changes if anything is wrong.
    pub async fn import(&self, bytes: &[u8]) -> Result<Imported> {
        self.import_resolving(bytes, &[]).await
    }

    /// [`Engine::import`], with the user's answer for each name in the file
    /// that is taken here (matched ignoring case). A taken name without an
    /// answer is refused, as in `import`.
    pub async fn import_resolving(&self, bytes: &[u8], choices: &[(String, NameConflict)]) -> Result<Imported> {
        let file = transfer::parse(bytes)?;
        let plan = transfer::plan(file, choices, |name| self.db().connection_find(name))?;
        self.import_plan(plan).await
    }

    /// Writes a checked import: the replaced rows go first (names are
    /// unique), then every new row; on any failure the store is put back.
    /// Replaced connections' secrets are deleted only at the end.
    async fn import_plan(&self, plan: ImportPlan) -> Result<Imported> {
        let now = self.now();
        let replaced: Vec<Connection> = plan.add.iter().filter_map(|(_, old)| old.clone()).collect();
        let mut imported =
            Imported { connections: Vec::new(), need_secret: Vec::new(), replaced: Vec::new(), skipped: plan.skipped };
        let outcome = (|| {
            for old in &replaced {
                self.db().connection_delete(&old.id)?;
            }
            for (draft, _) in &plan.add {
                let connection = Connection::new(draft.clone(), false, now);
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
            if let Err(err) = self.secrets.delete_all(&old.id, old.settings.secret_slots()).await {
                tracing::warn!(connection = %old.id, error = %err, "a replaced connection's secrets stay behind");
            }
            imported.replaced.push(old.name.clone());
            self.announce(EngineEvent::Removed { id: old.id.clone() });
        }
        for added in &imported.connections {
            self.announce(EngineEvent::Changed { id: added.id.clone() });
        }
        imported.need_secret = plan
            .add
            .iter()
            .filter(|(draft, _)| draft.settings.expects_client_secret())
            .map(|(draft, _)| draft.name.clone())
            .collect();
        tracing::info!(count = imported.connections.len(), replaced = imported.replaced.len(), "connections imported");
        Ok(imported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use crate::model::{ClientAuth, Draft, Flow, KindSettings, OAuth2Settings};

    fn engine() -> (tempfile::TempDir, Engine) {
        crate::engine::test_engine()
    }

    fn spec(name: &str, token_url: &str) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "client");
        settings.token_url = Some(token_url.into());
        settings.client_auth = ClientAuth::Body;
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    fn file_of(drafts: &[Draft]) -> Vec<u8> {
        serde_json::to_vec(&ExportFile { latch_export: 1, exported_at: Utc::now(), connections: drafts.to_vec() }).unwrap()
    }

    async fn add(engine: &Engine, draft: Draft) -> Connection {
        let secret = crate::secret::ClientSecret::new("old-secret".into());
        engine.create(draft, Some(secret)).await.unwrap()
    }

    fn names(engine: &Engine) -> Vec<String> {
        let mut names: Vec<String> = engine.list().unwrap().into_iter().map(|c| c.name).collect();
        names.sort();
        names
    }

    fn token_url(engine: &Engine, name: &str) -> Option<String> {
        engine.get(name).unwrap().settings.oauth2().unwrap().token_url.clone()
    }

    #[tokio::test]
    async fn the_preview_marks_taken_names_and_suggests_a_free_one() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token")).await;
        add(&engine, spec("GitHub (2)", "https://github.com/token")).await;
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

    #[tokio::test]
    async fn a_taken_name_without_a_choice_refuses_the_whole_import() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token")).await;
        let err = engine
            .import_resolving(&file_of(&[spec("Lab", "https://lab.example/t"), spec("GitHub", "https://x.example/t")]), &[]).await.unwrap_err();
        assert!(err.fields.iter().any(|f| f.message.contains("already exists here")), "{err:?}");
        assert_eq!(names(&engine), ["GitHub"], "nothing was imported");
    }

    #[tokio::test]
    async fn keep_both_imports_under_the_new_name_and_leaves_the_existing_one() {
        let (_dir, engine) = engine();
        let existing = add(&engine, spec("GitHub", "https://github.com/token")).await;
        let choices = [("github".to_string(), NameConflict::KeepBoth { name: "GitHub (work)".into() })];
        let imported = engine.import_resolving(&file_of(&[spec("GitHub", "https://x.example/t")]), &choices).await.unwrap();
        assert_eq!(imported.connections[0].name, "GitHub (work)");
        assert_eq!(names(&engine), ["GitHub", "GitHub (work)"]);
        assert_eq!(token_url(&engine, "GitHub").as_deref(), Some("https://github.com/token"));
        assert!(engine.client_secret(&existing).await.unwrap().is_some(), "the existing secret stays");
    }

    #[tokio::test]
    async fn keep_both_with_a_name_that_is_also_taken_is_refused() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token")).await;
        add(&engine, spec("Work", "https://github.com/token")).await;
        let choices = [("GitHub".to_string(), NameConflict::KeepBoth { name: "work".into() })];
        let err = engine.import_resolving(&file_of(&[spec("GitHub", "https://x.example/t")]), &choices).await.unwrap_err();
        assert!(err.fields[0].message.contains("the new name 'work' is taken here too"), "{err:?}");
        assert_eq!(names(&engine), ["GitHub", "Work"]);
    }

    #[tokio::test]
    async fn replace_deletes_the_existing_connection_with_its_secrets_and_imports_the_file_one() {
        let (_dir, engine) = engine();
        let existing = add(&engine, spec("GitHub", "https://github.com/token")).await;
        let choices = [("GitHub".to_string(), NameConflict::Replace)];
        let imported = engine.import_resolving(&file_of(&[spec("GitHub", "https://x.example/t")]), &choices).await.unwrap();
        assert_eq!(imported.replaced, ["GitHub"]);
        assert_eq!(imported.need_secret, ["GitHub"]);
        let now = engine.get("GitHub").unwrap();
        assert_ne!(now.id, existing.id);
        assert_eq!(now.settings.oauth2().unwrap().token_url.as_deref(), Some("https://x.example/t"));
        assert!(!now.has_client_secret);
        assert!(engine.secrets.client_secret(&existing.id).await.unwrap().is_none(), "the replaced secret is gone");
    }

    #[tokio::test]
    async fn skip_leaves_the_connection_out_and_imports_the_rest() {
        let (_dir, engine) = engine();
        add(&engine, spec("GitHub", "https://github.com/token")).await;
        let choices = [("GitHub".to_string(), NameConflict::Skip)];
        let imported = engine
            .import_resolving(&file_of(&[spec("GitHub", "https://x.example/t"), spec("Lab", "https://lab.example/t")]), &choices).await.unwrap();
        assert_eq!(imported.skipped, ["GitHub"]);
        assert_eq!(imported.connections.len(), 1);
        assert_eq!(names(&engine), ["GitHub", "Lab"]);
        assert_eq!(token_url(&engine, "GitHub").as_deref(), Some("https://github.com/token"));
    }

    #[tokio::test]
    async fn a_replace_in_a_file_that_fails_validation_changes_nothing() {
        let (_dir, engine) = engine();
        let existing = add(&engine, spec("GitHub", "https://github.com/token")).await;
        let choices = [("GitHub".to_string(), NameConflict::Replace)];
        let err = engine
            .import_resolving(&file_of(&[spec("GitHub", "https://x.example/t"), spec("Bad", "not a url")]), &choices)
            .await
            .unwrap_err();
        assert!(err.fields.iter().any(|f| f.message.starts_with("Connection 2 ('Bad')")), "{err:?}");
        assert_eq!(engine.get("GitHub").unwrap().id, existing.id);
        assert!(engine.secrets.client_secret(&existing.id).await.unwrap().is_some());
    }

}
