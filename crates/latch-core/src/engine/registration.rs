//! A connection from nothing but an API address: the API's protected
//! resource metadata (RFC 9728) names its authorization server, whose
//! metadata (RFC 8414 / OIDC discovery) names the endpoints, where Latch
//! registers itself (RFC 7591) — no developer console, no client ID to copy.
//! Also the rest of such a registration's life: registering again after
//! it was deleted, and deleting it (RFC 7592) when the connection is
//! disconnected or removed.

use serde::Serialize;

use super::Engine;
use crate::discover;
use crate::error::{Error, Result};
use crate::flows::{discovery, registration, resource_metadata};
use crate::model::{
    ClientAuth, ClientRegistration, Connection, Draft, Flow, KindSettings, OAuth2Settings, SettingsPatch, REGISTRATION_TOKEN,
};
use crate::secret::{ClientSecret, RegistrationToken};

/// What Latch found behind an API address, for the front end to say in
/// words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FoundApi {
    /// The API (the resource identifier its metadata confirmed).
    pub resource: String,
    /// The authorization server it names.
    pub issuer: String,
    /// Where the user signs in.
    pub authorize_url: Option<String>,
    /// The scopes the API lists, asked for by the new connection.
    pub scopes: Vec<String>,
    /// Latch registered itself at the server (RFC 7591); false when the
    /// user gave a client ID.
    pub registered: bool,
}

/// `resource` without query or fragment: where the API's requests go.
fn api_base_url(resource: &str) -> Option<String> {
    let mut url = url::Url::parse(resource).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

impl Engine {
    /// Creates an OAuth 2.0 connection (authorization code, PKCE S256) for
    /// the API at `api_url`, with the API as `resource` (RFC 8707) and its
    /// base URL. Without a client ID in `overrides`, Latch registers itself
    /// when the server allows it, keeping the registration access token in
    /// the secret store. Every address involved passes the endpoint rules.
    pub async fn create_from_api(
        &self,
        api_url: &str,
        name: String,
        overrides: SettingsPatch,
        client_secret: Option<ClientSecret>,
    ) -> Result<(Connection, FoundApi)> {
        let api_url = api_url.trim();
        let resource = resource_metadata::fetch(self.http(), api_url).await?;
        let issuer = resource.authorization_server().expect("the metadata check requires a server").to_owned();
        tracing::info!(resource = %resource.resource, issuer = %issuer, "found protected resource metadata");
        let metadata = discovery::fetch(self.http(), &issuer).await?;
        let mut discovered = discover::patch_from_metadata(&metadata)
            .set("flow", Flow::AuthorizationCode)
            .set("resource", [&resource.resource])
            .set_some("api_base_url", api_base_url(&resource.resource))
            // An API that takes only bound tokens: DPoP on, or none would work.
            .set_some("dpop", resource.dpop_bound_access_tokens_required.then_some(true));
        if !resource.scopes_supported.is_empty() {
            discovered = discovered.set("scopes", &resource.scopes_supported);
        }
        let register_at = match (&metadata.registration_endpoint, overrides.sets("client_id")) {
            (_, true) => None,
            (Some(endpoint), false) => Some(endpoint.clone()),
            (None, false) => {
                return Err(Error::validation(
                    "client_id",
                    format!(
                        "{issuer} signs in for {} but does not let apps register themselves. Register an app in its \
                         developer console and give its client ID.",
                        resource.resource
                    ),
                ))
            }
        };
        let patch = overrides.over(discovered);
        let mut found = FoundApi {
            resource: resource.resource.clone(),
            issuer,
            authorize_url: metadata.authorization_endpoint.clone(),
            scopes: resource.scopes_supported.clone(),
            registered: register_at.is_some(),
        };
        let Some(endpoint) = register_at else {
            let connection = self.create_from_patch(name, "oauth2", patch, client_secret).await?;
            return Ok((connection, found));
        };

        // Everything but the client ID is checked before registering, so no
        // registration is made for a connection that could not be saved.
        let settings = patch.set("client_id", "-").apply(&KindSettings::defaults("oauth2")?, false, false)?;
        let mut draft = Draft { name: name.trim().to_owned(), settings };
        draft.settings.normalize();
        let errors = self.check(&draft, None, false)?;
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        let KindSettings::OAuth2(mut settings) = draft.settings else { unreachable!("made from the oauth2 defaults") };
        let registered = registration::register(self.http(), &endpoint, &settings.redirect_uri_to_register()).await?;
        tracing::info!(client_id = %registered.client_id, "registered Latch at the authorization server");
        settings.client_id = registered.client_id.clone();
        settings.client_auth = ClientAuth::None;
        settings.registration = Some(ClientRegistration {
            endpoint,
            client_uri: registered.client_uri.clone(),
            deleted: false,
        });
        found.registered = true;
        let created = self.create(Draft { name: draft.name, settings: KindSettings::OAuth2(settings) }, None).await;
        let connection = match created {
            Ok(connection) => connection,
            Err(err) => {
                self.forget_registration(&registered).await;
                return Err(err);
            }
        };
        if let Some(token) = &registered.access_token {
            if let Err(err) = self.secrets.set_kind_secret(&connection.id, REGISTRATION_TOKEN.name(), token.secret()).await {
                // Never a registration Latch cannot delete later.
                let _ = self.db().connection_delete(&connection.id);
                self.forget_registration(&registered).await;
                return Err(err);
            }
        }
        Ok((connection, found))
    }

    /// Best effort: deletes a registration no connection will keep.
    async fn forget_registration(&self, registered: &registration::Registered) {
        if let (Some(uri), Some(token)) = (&registered.client_uri, &registered.access_token) {
            if let Err(err) = registration::delete(self.http(), uri, token).await {
                tracing::warn!(error = %err.message, "a registration Latch made could not be deleted");
            }
        }
    }

    /// Before a sign-in: a client Latch registered whose registration was
    /// deleted (at disconnect) or forgotten by the server (asked through
    /// RFC 7592 where the server allows it, or learned from an
    /// `invalid_client`) is registered again — once per sign-in — and the
    /// connection saved with its new client ID.
    pub(crate) async fn registered_for_sign_in(&self, mut connection: Connection) -> Result<Connection> {
        if self.registration_forgotten(&connection).await {
            tracing::info!(connection = %connection.id, "the server no longer knows Latch's registration");
            connection = self.mark_registration_gone(connection.id.as_str()).await?;
        }
        let Some(settings) = connection.settings.oauth2() else { return Ok(connection) };
        let Some(previous) = settings.registration.as_ref().filter(|r| r.deleted) else { return Ok(connection) };
        let registered = registration::register(self.http(), &previous.endpoint, &settings.redirect_uri_to_register()).await?;
        tracing::info!(connection = %connection.id, client_id = %registered.client_id, "registered Latch again");
        match &registered.access_token {
            Some(token) => self.secrets.set_kind_secret(&connection.id, REGISTRATION_TOKEN.name(), token.secret()).await?,
            None => self.secrets.delete_all(&connection.id, &[REGISTRATION_TOKEN]).await?,
        }
        let endpoint = previous.endpoint.clone();
        if let KindSettings::OAuth2(settings) = &mut connection.settings {
            settings.client_id = registered.client_id.clone();
            settings.registration = Some(ClientRegistration { endpoint, client_uri: registered.client_uri.clone(), deleted: false });
        }
        connection.updated_at = self.now();
        self.db().connection_update_settings(&connection)?;
        Ok(connection)
    }

    /// Whether the server answered that it no longer knows the client Latch
    /// registered (RFC 7592 read). No answer, or no means to ask, is not
    /// taken as forgotten: the sign-in goes ahead.
    async fn registration_forgotten(&self, connection: &Connection) -> bool {
        let Some(client_uri) = connection.settings.oauth2().and_then(registration_of).and_then(|r| r.client_uri.clone()) else {
            return false;
        };
        let token = match self.secrets.kind_secret(&connection.id, REGISTRATION_TOKEN.name()).await {
            Ok(Some(token)) => RegistrationToken::new(token.as_str().to_owned()),
            _ => return false,
        };
        match registration::still_registered(self.http(), &client_uri, &token).await {
            Ok(known) => !known,
            Err(err) => {
                tracing::warn!(error = %err.message, "could not ask whether Latch is still registered");
                false
            }
        }
    }

    /// Records that the registration is gone: the next sign-in registers
    /// again. Its registration access token no longer manages anything.
    async fn mark_registration_gone(&self, id: &str) -> Result<Connection> {
        let mut connection = self.get(id)?;
        self.secrets.delete_all(&connection.id, &[REGISTRATION_TOKEN]).await?;
        if let KindSettings::OAuth2(settings) = &mut connection.settings {
            if let Some(registration) = &mut settings.registration {
                registration.client_uri = None;
                registration.deleted = true;
            }
        }
        connection.updated_at = self.now();
        self.db().connection_update_settings(&connection)?;
        Ok(connection)
    }

    /// A token request for a client Latch registered, refused with
    /// `invalid_client`: the server forgot the registration (a reset, an
    /// expiry). It is marked gone, so the next sign-in registers once more,
    /// and the error says that in words instead of blaming a client ID the
    /// user never typed. Any other error is returned as it is.
    pub(crate) async fn after_token_error(&self, connection: &Connection, err: Error) -> Error {
        let refused_client = err.provider.as_ref().is_some_and(|said| said.error == "invalid_client");
        if refused_client {
            // A team's client secret may have changed on another machine: read it again next time.
            if let Some(team) = self.teams.team_of(&connection.id) {
                team.forget_held(&connection.id);
            }
        }
        if !refused_client || connection.settings.oauth2().and_then(registration_of).is_none() {
            return err;
        }
        if let Err(store_err) = self.mark_registration_gone(connection.id.as_str()).await {
            tracing::warn!(error = %store_err.message, "could not record that the registration is gone");
            return err;
        }
        let said = err.provider.clone();
        let mut forgotten = Error::needs_authorization(format!(
            "The service no longer knows Latch's registration for '{}'. Sign in again: Latch registers itself there once \
             more first.",
            connection.name
        ))
        .with_action(connection.sign_in_again());
        forgotten.provider = said;
        forgotten
    }

    /// Deletes the registration of a client Latch registered (RFC 7592),
    /// when the server gave the means. `None` when there is nothing to
    /// delete; afterwards the next sign-in registers again.
    pub(crate) async fn delete_registration(&self, connection: &mut Connection) -> Option<Result<()>> {
        let registration = registration_of(connection.settings.oauth2()?)?;
        let client_uri = registration.client_uri.clone()?;
        let token = match self.secrets.kind_secret(&connection.id, REGISTRATION_TOKEN.name()).await {
            Ok(Some(token)) => RegistrationToken::new(token.as_str().to_owned()),
            Ok(None) => return None,
            Err(err) => return Some(Err(err)),
        };
        if let Err(err) = registration::delete(self.http(), &client_uri, &token).await {
            return Some(Err(err));
        }
        let saved = async {
            self.secrets.delete_all(&connection.id, &[REGISTRATION_TOKEN]).await?;
            if let KindSettings::OAuth2(settings) = &mut connection.settings {
                if let Some(registration) = &mut settings.registration {
                    registration.client_uri = None;
                    registration.deleted = true;
                }
            }
            self.db().connection_update_settings(connection)
        }
        .await;
        Some(saved)
    }
}

/// The registration of a client Latch registered that is still in place.
fn registration_of(settings: &OAuth2Settings) -> Option<&ClientRegistration> {
    settings.registration.as_ref().filter(|r| !r.deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_url_is_the_address_without_query_or_fragment() {
        assert_eq!(api_base_url("https://api.example.com/v1/x?a=1#f").as_deref(), Some("https://api.example.com/v1/x"));
        assert_eq!(api_base_url("https://api.example.com").as_deref(), Some("https://api.example.com/"));
    }
}
