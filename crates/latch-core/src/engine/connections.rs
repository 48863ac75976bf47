//! Creating, checking, editing and removing connections. Edits load the
//! settings, change them, validate, save — nothing is saved unless every
//! rule holds, and a secret is written before the row that claims it.

use serde::Serialize;

use super::tokens::Disconnected;
use super::Engine;
use crate::error::{Error, FieldError, Result};
use crate::events::EngineEvent;
use crate::keys::PrivateKey;
use crate::model::{ClientAuth, Connection, ConnectionId, Draft, Flow, FlowFields, KindSettings, SettingsPatch};
use crate::secret::ClientSecret;
use crate::validate;

/// What to do with the client secret in an edit.
pub enum SecretChange {
    Keep,
    Set(ClientSecret),
    Remove,
}

impl SecretChange {
    fn leaves_secret(&self, had: bool) -> bool {
        match self {
            SecretChange::Keep => had,
            SecretChange::Set(_) => true,
            SecretChange::Remove => false,
        }
    }
}

/// What a form for a new connection of one kind starts from: the engine's
/// defaults, and which fields each flow needs or ignores — so no front end
/// restates a default or a rule.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConnectionTemplate {
    pub draft: Draft,
    pub flows: Vec<FlowFields>,
}

fn uses_private_key(settings: &KindSettings) -> bool {
    settings.oauth2().is_some_and(|s| s.client_auth == ClientAuth::PrivateKeyJwt)
}

/// With `private_key_jwt`: the key (the client credential about to be
/// saved, or the one kept) must be one Latch can sign with, and its public
/// JWK is put in the settings for the user to register. Nothing is saved
/// when the key cannot be read.
fn fill_public_key(settings: &mut KindSettings, key: Option<&ClientSecret>) -> Result<()> {
    if !uses_private_key(settings) {
        return Ok(());
    }
    let Some(key) = key else { return Ok(()) };
    let jwk = PrivateKey::from_pem(key.secret())?.public_jwk().to_string();
    if let KindSettings::OAuth2(oauth2) = settings {
        oauth2.client_public_jwk = Some(jwk);
    }
    Ok(())
}

impl Engine {
    /// A new connection of `kind` as a form starts it.
    pub fn template(&self, kind: &str) -> Result<ConnectionTemplate> {
        Ok(ConnectionTemplate {
            draft: Draft { name: String::new(), settings: KindSettings::defaults(kind)? },
            flows: Flow::ALL.iter().map(|flow| flow.fields()).collect(),
        })
    }

    /// Every rule `draft` breaks, including a name already in use by another
    /// connection. The desktop form calls this as the user types.
    pub fn check(&self, draft: &Draft, id: Option<&ConnectionId>, has_client_secret: bool) -> Result<Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = draft.name.trim();
        match validate::check_name(name) {
            Err(message) => errors.push(FieldError { field: "name", message }),
            Ok(()) => {
                let existing =
                    self.db().connection_find(name)?.filter(|c| Some(&c.id) != id && c.name.eq_ignore_ascii_case(name));
                if let Some(existing) = existing {
                    // Named as the user sees it, which may differ in case from what was typed.
                    errors.push(FieldError {
                        field: "name",
                        message: format!("A connection named '{}' already exists. Choose another name.", existing.name),
                    });
                }
            }
        }
        let mut settings = draft.settings.clone();
        settings.normalize();
        errors.extend(validate::settings(&settings, has_client_secret));
        if let KindSettings::Spec(spec) = &settings {
            // The templates and the schema: rules over the spec's text.
            let problems = crate::spec::runner::check(&spec.spec);
            errors.extend(problems.into_iter().map(|message| FieldError { field: "spec", message }));
        }
        // Weaker choices stay readable in connections that already have them,
        // but no new connection or edit picks them.
        let before = match id {
            Some(id) => self.db().connection_find(id.as_str())?.map(|connection| connection.settings),
            None => None,
        };
        errors.extend(validate::settings_change(before.as_ref(), &settings));
        Ok(errors)
    }

    /// Creates a connection from a complete draft (the form, an import).
    pub async fn create(&self, mut draft: Draft, client_secret: Option<ClientSecret>) -> Result<Connection> {
        draft.name = draft.name.trim().to_owned();
        draft.settings.normalize();
        let errors = self.check(&draft, None, client_secret.is_some())?;
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        fill_public_key(&mut draft.settings, client_secret.as_ref())?;
        let connection = Connection::new(draft, client_secret.is_some(), self.now());
        // The secret goes in first: a row never claims a secret the store lacks.
        if let Some(secret) = &client_secret {
            self.secrets.set_client_secret(&connection.id, secret).await?;
        }
        let inserted = self.db().connection_insert(&connection);
        if let Err(err) = inserted {
            let _ = self.secrets.delete_client_secret(&connection.id).await;
            return Err(err);
        }
        tracing::info!(connection = %connection.id, kind = connection.settings.kind(), "connection created");
        self.announce(EngineEvent::Changed { id: connection.id.clone() });
        self.make_client_identity_if_missing(connection).await
    }

    /// Creates a connection of `kind` from its defaults plus `patch` (the
    /// command line's flags, over a preset's or the discovered settings).
    pub async fn create_from_patch(
        &self,
        name: String,
        kind: &str,
        patch: SettingsPatch,
        client_secret: Option<ClientSecret>,
    ) -> Result<Connection> {
        let defaults = KindSettings::defaults(kind)?;
        if matches!(defaults, KindSettings::OAuth2(_)) && !patch.sets("flow") {
            // No default a person could mean: the flow is the provider's choice.
            return Err(Error::validation(
                "flow",
                "Choose a flow type: authorization_code, implicit, client_credentials or device_code.",
            ));
        }
        let settings = patch.apply(&defaults, false, client_secret.is_some())?;
        self.create(Draft { name, settings }, client_secret).await
    }

    /// Replaces name and settings (the desktop form sends them all).
    pub async fn update(&self, name_or_id: &str, draft: Draft, secret: SecretChange) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        self.save_edit(connection, draft, secret).await
    }

    /// Changes the settings `patch` names (and the name, when given); the
    /// rest keep their values.
    pub async fn edit(
        &self,
        name_or_id: &str,
        new_name: Option<String>,
        patch: SettingsPatch,
        secret: SecretChange,
    ) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        let had = connection.has_client_secret;
        let settings = patch.apply(&connection.settings, had, secret.leaves_secret(had))?;
        let draft = Draft { name: new_name.unwrap_or_else(|| connection.name.clone()), settings };
        self.save_edit(connection, draft, secret).await
    }

    async fn save_edit(&self, mut connection: Connection, mut draft: Draft, secret: SecretChange) -> Result<Connection> {
        draft.name = draft.name.trim().to_owned();
        draft.settings.normalize();
        // Only importing or making a certificate changes which one is in use
        // (`set_client_identity`): a form cannot claim another.
        if let (KindSettings::OAuth2(after), Some(before)) = (&mut draft.settings, connection.settings.oauth2()) {
            after.client_certificate.clone_from(&before.client_certificate);
        }
        let has = secret.leaves_secret(connection.has_client_secret);
        let errors = self.check(&draft, Some(&connection.id), has)?;
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        let key = match &secret {
            SecretChange::Set(value) => Some(value.clone()),
            SecretChange::Keep if uses_private_key(&draft.settings) => self.client_secret(&connection).await?,
            _ => None,
        };
        fill_public_key(&mut draft.settings, key.as_ref())?;
        // Another member's edit since the last fetch wins, before anything is written.
        self.team_settings_current(&connection).await?;
        match &secret {
            SecretChange::Set(value) => self.secrets.set_client_secret(&connection.id, value).await?,
            SecretChange::Remove => self.secrets.delete_client_secret(&connection.id).await?,
            SecretChange::Keep => {}
        }
        connection.name = draft.name;
        connection.settings = draft.settings;
        connection.has_client_secret = has;
        connection.updated_at = self.now();
        // A team connection's settings are the team's: written there first.
        self.team_publish_settings(&connection).await?;
        self.db().connection_update_settings(&connection)?;
        tracing::info!(connection = %connection.id, "connection updated");
        self.announce(EngineEvent::Changed { id: connection.id.clone() });
        self.make_client_identity_if_missing(connection).await
    }

    /// Generates a private key of `kind` (`es256` or `ed25519`) for
    /// `private_key_jwt`, to be saved as the connection's client credential.
    /// Front ends call this instead of ever holding a key they made.
    pub fn generate_client_key(kind: &str) -> Result<ClientSecret> {
        Ok(ClientSecret::new(PrivateKey::generate(kind)?.as_str().to_owned()))
    }

    /// The stored client secret, when the connection has one.
    pub(crate) async fn client_secret(&self, connection: &Connection) -> Result<Option<ClientSecret>> {
        if connection.has_client_secret {
            self.secrets.client_secret(&connection.id).await
        } else {
            Ok(None)
        }
    }

    /// Disconnects (revoking at the provider when it can), then deletes the
    /// connection and every secret it kept.
    pub async fn remove(&self, name_or_id: &str) -> Result<Disconnected> {
        let connection = self.get(name_or_id)?;
        // Held to the end: a refresh under way cannot store live tokens for
        // a connection that is gone.
        let _lease = self.take_lease(&connection.id).await?;
        let outcome = self.disconnect_holding_lease(self.get(connection.id.as_str())?).await?;
        self.secrets.delete_all(&connection.id, connection.settings.secret_slots()).await?;
        self.team_forget(&connection).await?;
        self.db().connection_delete(&connection.id)?;
        self.db().usage_forget(&connection.id)?;
        self.forget_tls_client(&connection.id);
        tracing::info!(connection = %connection.id, "removed");
        self.announce(EngineEvent::Removed { id: connection.id });
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine;
    use crate::model::{ClientAuth, OAuth2Settings};

    fn client_credentials(name: &str) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "client");
        settings.token_url = Some("https://example.com/token".into());
        settings.client_auth = ClientAuth::Body;
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    #[tokio::test]
    async fn a_draft_that_breaks_a_rule_saves_nothing() {
        let (_dir, engine) = test_engine();
        let err = engine.create(client_credentials("No secret"), None).await.unwrap_err();
        assert!(err.fields.iter().any(|f| f.field == "client_auth"), "{err:?}");
        assert!(engine.list().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_edit_by_patch_keeps_every_field_it_does_not_name() {
        let (_dir, engine) = test_engine();
        let secret = ClientSecret::new("s3cret".into());
        let created = engine.create(client_credentials("Service"), Some(secret)).await.unwrap();
        let patch = SettingsPatch::new().set("scopes", ["read"]);
        let edited = engine.edit("Service", None, patch, SecretChange::Keep).await.unwrap();
        let settings = edited.settings.oauth2().unwrap();
        assert_eq!(settings.scopes, ["read"]);
        assert_eq!(settings.token_url, created.settings.oauth2().unwrap().token_url);
        assert_eq!(settings.client_auth, ClientAuth::Body, "the secret stays, so does how it is sent");
        assert!(engine.client_secret(&edited).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn names_are_trimmed_and_a_taken_one_is_named_as_it_is_stored() {
        let (_dir, engine) = test_engine();
        let secret = || Some(ClientSecret::new("s3cret".into()));
        let created = engine.create(client_credentials("  Service  "), secret()).await.unwrap();
        assert_eq!(created.name, "Service");
        let err = engine.create(client_credentials("service "), secret()).await.unwrap_err();
        assert_eq!(err.fields[0].message, "A connection named 'Service' already exists. Choose another name.");
    }

    #[tokio::test]
    async fn adding_without_a_flow_asks_for_one() {
        let (_dir, engine) = test_engine();
        let err = engine.create_from_patch("X".into(), "oauth2", SettingsPatch::new(), None).await.unwrap_err();
        assert_eq!(err.fields[0].field, "flow");
    }

    #[tokio::test]
    async fn the_template_holds_the_defaults_and_the_rules_of_each_flow() {
        let (_dir, engine) = test_engine();
        let template = engine.template("oauth2").unwrap();
        let settings = template.draft.settings.oauth2().unwrap();
        assert_eq!(settings.token_name, "Bearer");
        assert_eq!(settings.redirect_path, "/callback");
        assert_eq!(template.flows.len(), Flow::ALL.len());
        assert!(engine.template("carrier-pigeon").is_err());
    }
}
