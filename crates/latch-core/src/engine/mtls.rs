//! Mutual-TLS client authentication (RFC 8705) for OAuth 2.0 connections:
//! importing or making the client certificate, and the HTTP client that
//! presents it — on token, refresh, device, PAR and revocation requests,
//! and on API requests, where a certificate-bound token (`cnf.x5t#S256`)
//! works only over a connection made with the same certificate.
//!
//! The certificate and key live in the secret store (`CLIENT_IDENTITY`);
//! the settings keep what the certificate says about itself
//! ([`ClientCertificate`]), whose thumbprint keys the cached client: a
//! rustls configuration is built once per certificate, not per request,
//! and a new certificate (in this process or another) gets a new one.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Engine;
use crate::error::{Error, Result};
use crate::events::EngineEvent;
use crate::flows::mtls;
use crate::http::ProviderHttp;
use crate::model::{
    ClientAuth, ClientCertificate, Connection, ConnectionId, KindSettings, CLIENT_IDENTITY,
};
use crate::secret::ClientIdentity;

/// The HTTP clients that present a connection's certificate, by connection,
/// with the thumbprint and endpoint aliases they were built for.
#[derive(Default)]
pub(crate) struct TlsClients(Mutex<HashMap<ConnectionId, (String, ProviderHttp)>>);

impl TlsClients {
    fn get(&self, id: &ConnectionId, key: &str) -> Option<ProviderHttp> {
        let clients = self.0.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .get(id)
            .filter(|(built_for, _)| built_for == key)
            .map(|(_, http)| http.clone())
    }

    fn put(&self, id: &ConnectionId, key: String, http: ProviderHttp) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), (key, http));
    }

    fn forget(&self, id: &ConnectionId) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

impl Engine {
    /// Saves `identity` as the client certificate of an OAuth 2.0
    /// connection; its settings then name the certificate (`summary`).
    pub async fn set_client_identity(
        &self,
        name_or_id: &str,
        identity: &ClientIdentity,
        summary: ClientCertificate,
    ) -> Result<Connection> {
        let mut connection = self.get(name_or_id)?;
        let KindSettings::OAuth2(settings) = &mut connection.settings else {
            return Err(Error::validation(
                "kind",
                format!("'{}' is not an OAuth 2.0 connection: only those sign in with a client certificate.", connection.name),
            ));
        };
        settings.client_certificate = Some(summary);
        self.secrets
            .set_kind_secret(&connection.id, CLIENT_IDENTITY.name(), identity.secret())
            .await?;
        connection.updated_at = self.now();
        self.db().connection_update_settings(&connection)?;
        self.tls_clients.forget(&connection.id);
        tracing::info!(connection = %connection.id, "client certificate saved");
        self.announce(EngineEvent::Changed {
            id: connection.id.clone(),
        });
        Ok(connection)
    }

    /// Reads a certificate and key (PEM) and saves them for the connection.
    pub async fn import_client_identity_pem(
        &self,
        name_or_id: &str,
        pem: &str,
    ) -> Result<Connection> {
        let (identity, summary) = mtls::identity_from_pem(pem)?;
        mtls::check_current(&summary, name_or_id, self.now())?;
        self.set_client_identity(name_or_id, &identity, summary)
            .await
    }

    /// Opens a PKCS#12 file with `password` and saves its certificate and
    /// key for the connection.
    pub async fn import_client_identity_pkcs12(
        &self,
        name_or_id: &str,
        data: &[u8],
        password: &str,
    ) -> Result<Connection> {
        let (identity, summary) = mtls::identity_from_pkcs12(data, password)?;
        mtls::check_current(&summary, name_or_id, self.now())?;
        self.set_client_identity(name_or_id, &identity, summary)
            .await
    }

    /// Makes a key and a self-signed certificate for the connection
    /// (`self_signed_tls_client_auth`) and saves them. The user then
    /// registers the certificate ([`Engine::client_certificate_pem`]) or
    /// its JWK ([`Engine::client_certificate_jwk`]) with the provider.
    pub async fn make_client_identity(&self, name_or_id: &str) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        let (identity, summary) = mtls::self_signed(&connection.name, self.now())?;
        self.set_client_identity(connection.id.as_str(), &identity, summary)
            .await
    }

    /// A connection saved with `self_signed_tls_client_auth` and no
    /// certificate gets one Latch makes: choosing the method is all the
    /// user does before registering the certificate with the provider.
    pub(crate) async fn make_client_identity_if_missing(
        &self,
        connection: Connection,
    ) -> Result<Connection> {
        let missing = connection.settings.oauth2().is_some_and(|s| {
            s.client_auth == ClientAuth::SelfSignedTlsClientAuth && s.client_certificate.is_none()
        });
        if !missing {
            return Ok(connection);
        }
        self.make_client_identity(connection.id.as_str()).await
    }

    /// The connection's client certificate (chain), PEM: public, to register.
    pub async fn client_certificate_pem(&self, name_or_id: &str) -> Result<String> {
        let connection = self.get(name_or_id)?;
        Ok(mtls::certificate_pem(
            &self.client_identity(&connection).await?,
        ))
    }

    /// The connection's client certificate as a public JWK with `x5c`, for
    /// a registration's `jwks` (RFC 8705 §2.2).
    pub async fn client_certificate_jwk(&self, name_or_id: &str) -> Result<serde_json::Value> {
        let connection = self.get(name_or_id)?;
        mtls::public_jwk(&self.client_identity(&connection).await?)
    }

    async fn client_identity(&self, connection: &Connection) -> Result<ClientIdentity> {
        let stored = self
            .secrets
            .kind_secret(&connection.id, CLIENT_IDENTITY.name())
            .await?;
        stored.map(|pem| ClientIdentity::new(pem.as_str().to_owned())).ok_or_else(|| {
            Error::validation(
                mtls::FIELD,
                format!(
                    "'{}' has no client certificate saved. Import the certificate and key in the connection's settings.",
                    connection.name
                ),
            )
            .with_action(crate::error::Action::edit(&connection.name, &[mtls::FIELD]))
        })
    }

    /// The HTTP client for this connection's requests — to its provider and
    /// to its API: the shared one, or, when the connection signs in with a
    /// client certificate, one that presents it (cached per certificate).
    pub(crate) async fn http_for(&self, connection: &Connection) -> Result<ProviderHttp> {
        let Some(settings) = connection
            .settings
            .oauth2()
            .filter(|s| s.uses_client_certificate())
        else {
            return Ok(self.http().clone());
        };
        let Some(certificate) = &settings.client_certificate else {
            return Err(self
                .client_identity(connection)
                .await
                .err()
                .unwrap_or_else(|| no_certificate(connection)));
        };
        mtls::check_current(certificate, &connection.name, self.now()).map_err(|err| {
            err.with_action(crate::error::Action::edit(&connection.name, &[mtls::FIELD]))
        })?;
        let key = format!(
            "{}|{:?}",
            certificate.thumbprint,
            mtls::endpoint_aliases(settings)
        );
        if let Some(http) = self.tls_clients.get(&connection.id, &key) {
            return Ok(http);
        }
        let identity = self.client_identity(connection).await?;
        let http = mtls::provider_http(&identity, settings)?;
        self.tls_clients.put(&connection.id, key, http.clone());
        Ok(http)
    }

    /// Drops the cached client of a connection that is gone.
    pub(crate) fn forget_tls_client(&self, id: &ConnectionId) {
        self.tls_clients.forget(id);
    }

    /// The reqwest identity of a connection that signs in with a client
    /// certificate, for clients other than [`Engine::http_for`]'s (the
    /// proxy's, which stream); `None` for every other connection.
    pub(crate) async fn tls_identity(
        &self,
        connection: &Connection,
    ) -> Result<Option<reqwest::Identity>> {
        let Some(settings) = connection
            .settings
            .oauth2()
            .filter(|s| s.uses_client_certificate())
        else {
            return Ok(None);
        };
        if let Some(certificate) = &settings.client_certificate {
            mtls::check_current(certificate, &connection.name, self.now())?;
        }
        Ok(Some(mtls::reqwest_identity(
            &self.client_identity(connection).await?,
        )?))
    }
}

fn no_certificate(connection: &Connection) -> Error {
    Error::validation(
        mtls::FIELD,
        format!("'{}' signs in with a client certificate but has none. Import one in the connection's settings.", connection.name),
    )
    .with_action(crate::error::Action::edit(&connection.name, &[mtls::FIELD]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine;
    use crate::model::{ClientAuth, Draft, Flow, OAuth2Settings};

    fn mtls_draft(name: &str, certificate: Option<ClientCertificate>) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "client");
        settings.token_url = Some("https://id.example.com/token".into());
        settings.client_auth = ClientAuth::SelfSignedTlsClientAuth;
        settings.client_certificate = certificate;
        Draft {
            name: name.into(),
            settings: KindSettings::OAuth2(settings),
        }
    }

    #[tokio::test]
    async fn a_ca_certificate_client_without_a_certificate_is_refused_in_words() {
        let (_dir, engine) = test_engine();
        let mut draft = mtls_draft("Corp", None);
        if let KindSettings::OAuth2(settings) = &mut draft.settings {
            settings.client_auth = ClientAuth::TlsClientAuth;
        }
        let err = engine.create(draft, None).await.unwrap_err();
        let field = err
            .fields
            .iter()
            .find(|f| f.field == "client_certificate")
            .expect("a client_certificate error");
        assert!(
            field.message.contains("your organisation gave you"),
            "{}",
            field.message
        );
        assert!(engine.list().unwrap().is_empty());
    }

    #[tokio::test]
    async fn choosing_a_self_signed_certificate_makes_one_on_save() {
        let (_dir, engine) = test_engine();
        let created = engine.create(mtls_draft("Own", None), None).await.unwrap();
        let certificate = created
            .settings
            .oauth2()
            .unwrap()
            .client_certificate
            .clone()
            .expect("Latch made one");
        assert!(certificate.made_by_latch);
        assert!(engine
            .client_certificate_pem("Own")
            .await
            .unwrap()
            .contains("BEGIN CERTIFICATE"));
    }

    #[tokio::test]
    async fn a_made_certificate_is_kept_in_the_secret_store_and_named_in_the_settings() {
        let (dir, engine) = test_engine();
        let (_, summary) = mtls::self_signed("Corp", engine.now()).unwrap();
        engine
            .create(mtls_draft("Corp", Some(summary)), None)
            .await
            .unwrap();
        let made = engine.make_client_identity("Corp").await.unwrap();
        let certificate = made
            .settings
            .oauth2()
            .unwrap()
            .client_certificate
            .clone()
            .unwrap();
        assert!(certificate.made_by_latch);
        assert_eq!(certificate.subject, "CN=Latch Corp");
        let pem = engine.client_certificate_pem("Corp").await.unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----") && !pem.contains("PRIVATE"));
        let jwk = engine.client_certificate_jwk("Corp").await.unwrap();
        assert_eq!(jwk["x5t#S256"], certificate.thumbprint.as_str());
        // The key never reaches the data directory.
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("PRIVATE KEY"),
                "{}",
                entry.display()
            );
        }
    }

    #[tokio::test]
    async fn the_client_is_built_once_per_certificate_and_again_for_a_new_one() {
        let (_dir, engine) = test_engine();
        let (_, summary) = mtls::self_signed("Corp", engine.now()).unwrap();
        engine
            .create(mtls_draft("Corp", Some(summary)), None)
            .await
            .unwrap();
        let first = engine.make_client_identity("Corp").await.unwrap();
        engine.http_for(&first).await.unwrap();
        let key = |c: &Connection| {
            c.settings
                .oauth2()
                .unwrap()
                .client_certificate
                .as_ref()
                .unwrap()
                .thumbprint
                .clone()
        };
        assert!(engine
            .tls_clients
            .get(&first.id, &format!("{}|[]", key(&first)))
            .is_some());
        let second = engine.make_client_identity("Corp").await.unwrap();
        assert_ne!(key(&first), key(&second));
        assert!(
            engine
                .tls_clients
                .get(&second.id, &format!("{}|[]", key(&first)))
                .is_none(),
            "the old client is dropped"
        );
    }

    #[tokio::test]
    async fn a_form_cannot_claim_another_certificate() {
        let (_dir, engine) = test_engine();
        let (_, summary) = mtls::self_signed("Corp", engine.now()).unwrap();
        engine
            .create(mtls_draft("Corp", Some(summary)), None)
            .await
            .unwrap();
        let made = engine.make_client_identity("Corp").await.unwrap();
        let (_, other) = mtls::self_signed("Other", engine.now()).unwrap();
        let mut draft = Draft {
            name: made.name.clone(),
            settings: made.settings.clone(),
        };
        if let KindSettings::OAuth2(settings) = &mut draft.settings {
            settings.client_certificate = Some(other);
        }
        let saved = engine
            .update("Corp", draft, crate::SecretChange::Keep)
            .await
            .unwrap();
        assert_eq!(
            saved.settings.oauth2().unwrap().client_certificate,
            made.settings.oauth2().unwrap().client_certificate
        );
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
        found
    }
}
