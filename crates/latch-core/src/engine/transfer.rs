//! Export and import verbs over the pure rules in `crate::transfer`.

use std::collections::HashSet;

use super::Engine;
use crate::error::{Error, Result};
use crate::events::EngineEvent;
use crate::model::Connection;
use crate::transfer::{self, ExportFile, ImportAnswers, ImportCandidate, Imported};

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

    /// What importing this file would do, so a front end can show where each
    /// connection sends the user's sign-in and tokens and ask about names
    /// that are taken before importing. [`transfer::digest`] of the same
    /// bytes, passed back as [`ImportAnswers::previewed`], makes sure the
    /// import is of what was shown.
    pub fn import_preview(&self, bytes: &[u8]) -> Result<Vec<ImportCandidate>> {
        let file = transfer::parse(bytes)?;
        let names_here = self.db().connection_names()?;
        Ok(transfer::preview(&file, names_here))
    }

    /// Adds every connection in an export file, or none: the whole file is
    /// checked first (size, format, version, every rule, names free here and
    /// unique in the file), and nothing changes if anything is wrong. A
    /// connection that needs the user's trust (see [`transfer::exposure`])
    /// is refused: use [`Engine::import_resolving`] with their answer.
    pub async fn import(&self, bytes: &[u8]) -> Result<Imported> {
        self.import_resolving(bytes, ImportAnswers::default()).await
    }

    /// [`Engine::import`], with the user's answers to the preview: a choice
    /// for each name in the file that is taken here (matched ignoring case;
    /// a taken name without one is refused), the connections whose hosts and
    /// warnings they accepted (one that needs it and was not accepted is
    /// refused), and optionally the digest of the file they saw (a file that
    /// changed since is refused). A list of name choices alone is answers
    /// that accept nothing. Refusals are validation errors; nothing is
    /// imported then.
    ///
    /// The whole import is one SQLite transaction: the names here are read,
    /// the plan checked, replaced connections deleted and new ones inserted
    /// together, or not at all. Replaced connections' secrets are deleted
    /// after the commit.
    pub async fn import_resolving(&self, bytes: &[u8], answers: impl Into<ImportAnswers>) -> Result<Imported> {
        let answers = answers.into();
        if answers.previewed.as_ref().is_some_and(|previewed| *previewed != transfer::digest(bytes)) {
            return Err(Error::validation(
                "import",
                "The file changed after Latch showed what it holds. Choose it again to see what it holds now. Nothing \
                 was imported.",
            ));
        }
        let file = transfer::parse(bytes)?;
        // A connection this import may replace could be refreshing right now:
        // hold its lease, so no refresh stores live tokens for a deleted row.
        let in_file: HashSet<String> = file.connections.iter().map(|d| d.name.to_ascii_lowercase()).collect();
        let replaceable: Vec<Connection> =
            self.list()?.into_iter().filter(|c| in_file.contains(&c.name.to_ascii_lowercase())).collect();
        let mut leases = Vec::with_capacity(replaceable.len());
        for connection in &replaceable {
            leases.push(self.take_lease(&connection.id).await?);
        }
        let now = self.now();
        let written = self.db().in_transaction(|db| {
            let here: HashSet<String> = db.connection_names()?.iter().map(|n| n.to_ascii_lowercase()).collect();
            let plan = transfer::plan(file, &answers, |name| {
                if here.contains(&name.to_ascii_lowercase()) {
                    db.connection_find(name)
                } else {
                    Ok(None)
                }
            })?;
            for old in plan.add.iter().filter_map(|(_, old)| old.as_ref()) {
                db.connection_delete(&old.id)?;
            }
            let mut added = Vec::with_capacity(plan.add.len());
            for (draft, _) in &plan.add {
                let connection = Connection::new(draft.clone(), false, now);
                db.connection_insert(&connection)?;
                added.push(connection);
            }
            Ok((plan, added))
        });
        let (plan, added) = written.map_err(|mut err| {
            if err.kind != crate::ErrorKind::Validation {
                // Validation refusals say it already.
                err.message.push_str(" Nothing was imported: every connection is as it was.");
            }
            err
        })?;
        let mut imported = Imported { connections: added, need_secret: Vec::new(), replaced: Vec::new(), skipped: plan.skipped };
        for old in plan.add.iter().filter_map(|(_, old)| old.as_ref()) {
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
    use crate::transfer::{Accepted, NameConflict};

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

    /// A sign-in page on one site and the token endpoint on another.
    fn two_sites(name: &str) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "client");
        settings.authorize_url = Some("https://accounts.google.com/o/oauth2/v2/auth".into());
        settings.token_url = Some("https://evil.example/token".into());
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    /// Every column of every row, hidden ones included, to compare the store before and after.
    fn rows(engine: &Engine) -> Vec<String> {
        let db = engine.db();
        let mut stmt = db.conn.prepare("SELECT * FROM connections ORDER BY id").unwrap();
        let columns = stmt.column_count();
        stmt.query_map([], |row| {
            let values: Vec<String> = (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            Ok(values.join("|"))
        })
        .unwrap()
        .map(|row| row.unwrap())
        .collect()
    }

    #[tokio::test]
    async fn the_preview_lists_every_host_and_the_warnings() {
        let (_dir, engine) = engine();
        let preview = engine.import_preview(&file_of(&[two_sites("Mail"), spec("Lab", "https://lab.example/t")])).unwrap();
        assert_eq!(preview[0].provider_host.as_deref(), Some("accounts.google.com"));
        assert_eq!(preview[0].hosts, ["accounts.google.com", "evil.example"]);
        assert!(preview[0].needs_confirmation);
        assert!(preview[0].warnings[0].contains("2 different sites"), "{:?}", preview[0].warnings);
        assert_eq!(preview[1].hosts, ["lab.example"]);
        assert!(!preview[1].needs_confirmation);
        assert!(preview[1].warnings.is_empty());
    }

    #[tokio::test]
    async fn a_connection_that_needs_trust_is_refused_unless_accepted_and_nothing_is_imported() {
        let (_dir, engine) = engine();
        let file = file_of(&[spec("Lab", "https://lab.example/t"), two_sites("Mail")]);
        let err = engine.import(&file).await.unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Validation);
        assert!(err.fields.iter().any(|f| f.field == "hosts" && f.message.contains("accounts.google.com and evil.example")), "{err:?}");
        assert!(names(&engine).is_empty(), "nothing was imported");

        let wrong = ImportAnswers { accepted: Accepted::Names(vec!["Lab".into()]), ..ImportAnswers::default() };
        assert!(engine.import_resolving(&file, wrong).await.is_err());
        assert!(names(&engine).is_empty());

        let answers = ImportAnswers { accepted: Accepted::Names(vec!["mail".into()]), ..ImportAnswers::default() };
        let imported = engine.import_resolving(&file, answers).await.unwrap();
        assert_eq!(imported.connections.len(), 2);
        assert_eq!(names(&engine), ["Lab", "Mail"]);
    }

    #[tokio::test]
    async fn a_file_that_changed_after_the_preview_is_refused() {
        let (_dir, engine) = engine();
        let shown = file_of(&[spec("Lab", "https://lab.example/t")]);
        let now = file_of(&[spec("Lab", "https://other.example/t")]);
        let answers = ImportAnswers { previewed: Some(crate::transfer::digest(&shown)), ..ImportAnswers::default() };
        let err = engine.import_resolving(&now, answers.clone()).await.unwrap_err();
        assert!(err.message.starts_with("The file changed after Latch showed what it holds."), "{}", err.message);
        assert!(names(&engine).is_empty());
        engine.import_resolving(&shown, answers).await.unwrap();
        assert_eq!(token_url(&engine, "Lab").as_deref(), Some("https://lab.example/t"));
    }

    #[tokio::test]
    async fn a_file_over_the_size_cap_is_refused_by_the_engine_too() {
        let (_dir, engine) = engine();
        let big = vec![b' '; crate::transfer::MAX_FILE_BYTES as usize + 1];
        assert!(engine.import_preview(&big).unwrap_err().message.contains("larger than 10 MiB"));
        assert!(engine.import(&big).await.unwrap_err().message.contains("larger than 10 MiB"));
    }

    #[tokio::test]
    async fn a_replace_that_fails_midway_leaves_everything_as_it_was() {
        let (_dir, engine) = engine();
        let existing = add(&engine, spec("GitHub", "https://github.com/token")).await;
        add(&engine, spec("Other", "https://github.com/token")).await;
        // What Latch learned about the connection lives in columns no verb copies.
        engine
            .db()
            .conn
            .execute_batch(
                "UPDATE connections SET failed_attempts = 3, reauth_notified = 1, expiry_warned = 1;
                 CREATE TRIGGER fail_midway BEFORE INSERT ON connections WHEN NEW.name = 'Boom'
                 BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
            )
            .unwrap();
        let before = rows(&engine);
        let file = file_of(&[spec("GitHub", "https://x.example/t"), spec("Lab", "https://lab.example/t"), spec("Boom", "https://b.example/t")]);
        let mut events = engine.subscribe();
        let choices = [("GitHub".to_string(), NameConflict::Replace)];
        let err = engine.import_resolving(&file, &choices).await.unwrap_err();
        assert!(err.message.contains("the disk is full"), "{}", err.message);
        assert_eq!(rows(&engine), before, "every row and column as it was");
        assert!(engine.secrets.client_secret(&existing.id).await.unwrap().is_some(), "the replaced secret stays");
        assert!(events.try_recv().is_err(), "nothing announced");
        assert!(engine.db().conn.is_autocommit(), "no transaction left open");
        // The store still works.
        engine.db().conn.execute_batch("DROP TRIGGER fail_midway").unwrap();
        engine.import_resolving(&file, &choices).await.unwrap();
        assert_eq!(names(&engine), ["Boom", "GitHub", "Lab", "Other"]);
    }

    #[tokio::test]
    async fn thousands_of_crafted_names_import_in_one_pass() {
        // Names that made the old free-name search quadratic: "X", "X (2)", … all taken here and in the file.
        let (_dir, engine) = engine();
        let n = 2_000;
        let taken: Vec<Draft> =
            std::iter::once(spec("X", "https://a.example/t")).chain((2..n).map(|i| spec(&format!("X ({i})"), "https://a.example/t"))).collect();
        engine.import(&file_of(&taken)).await.unwrap();
        let preview = engine.import_preview(&file_of(&taken)).unwrap();
        assert!(preview.iter().all(|c| c.name_taken));
        let suggested: HashSet<&str> = preview.iter().map(|c| c.suggested_name.as_str()).collect();
        assert_eq!(suggested.len(), preview.len(), "every suggestion is different");
        assert_eq!(preview[0].suggested_name, format!("X ({n})"));
        let choices: Vec<(String, NameConflict)> =
            preview.iter().map(|c| (c.name.clone(), NameConflict::KeepBoth { name: c.suggested_name.clone() })).collect();
        let imported = engine.import_resolving(&file_of(&taken), &choices).await.unwrap();
        assert_eq!(imported.connections.len(), taken.len());
        assert_eq!(engine.list().unwrap().len(), 2 * taken.len());
    }

    #[tokio::test]
    async fn a_preview_of_repeated_crafted_names_takes_one_pass() {
        // The file: "X" 5,000 times and "X (2)" … "X (5001)"; here: "X". The old search
        // stepped over every numbered name for every "X", checking each against the whole
        // file: 800 entries took 0.23 s in a release build, 10,000 would take minutes.
        let n = 5_000;
        let mut drafts: Vec<Draft> = (0..n).map(|_| spec("X", "https://a.example/t")).collect();
        drafts.extend((2..n + 2).map(|i| spec(&format!("X ({i})"), "https://a.example/t")));
        let (_dir, engine) = engine();
        add(&engine, spec("X", "https://a.example/t")).await;
        let started = std::time::Instant::now();
        let preview = engine.import_preview(&file_of(&drafts)).unwrap();
        eprintln!("preview of {} crafted names: {:?}", drafts.len(), started.elapsed());
        let suggested: HashSet<&str> = preview[..n].iter().map(|c| c.suggested_name.as_str()).collect();
        assert_eq!(suggested.len(), n, "each repeated name gets its own free name");
        assert!(suggested.contains(format!("X ({})", n + 2).as_str()));
    }
}
