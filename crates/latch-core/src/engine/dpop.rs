//! DPoP (RFC 9449) in the engine: a connection's key — made the first time
//! one of its token requests needs it, kept only in the secret store — and
//! the requests that use a bound token, each with a fresh proof.

use super::Engine;
use crate::error::{Error, Result};
use crate::flows::dpop::{is_dpop_token_type, Dpop, DpopKey, DpopNonces};
use crate::model::{Connection, DPOP_KEY};
use crate::request::{self, ApiRequest, ApiResponse};
use crate::secret::TokenSet;

impl Engine {
    /// The nonces servers handed this process, by origin (RFC 9449 §8).
    pub(crate) fn dpop_nonces(&self) -> &DpopNonces {
        &self.dpop_nonces
    }

    /// The key a connection's token requests prove possession of: `None`
    /// unless it binds its tokens (DPoP on). Made and saved on first use;
    /// the same key afterwards, so tokens bound earlier keep working.
    pub(crate) async fn dpop_key_for_token_requests(&self, connection: &Connection) -> Result<Option<DpopKey>> {
        if !connection.settings.oauth2().is_some_and(|settings| settings.dpop) {
            return Ok(None);
        }
        if let Some(key) = self.stored_dpop_key(connection).await? {
            return Ok(Some(key));
        }
        let key = DpopKey::generate();
        self.secrets.set_kind_secret(&connection.id, DPOP_KEY.name(), &key.to_stored()).await?;
        tracing::info!(connection = %connection.id, "made a DPoP key");
        Ok(Some(key))
    }

    /// The key that `tokens` are bound to, when the provider issued them as
    /// DPoP tokens (RFC 9449 §5); `None` for any other token.
    pub(crate) async fn dpop_key_for(&self, connection: &Connection, tokens: &TokenSet) -> Result<Option<DpopKey>> {
        if !is_dpop_token_type(&tokens.token_type) {
            return Ok(None);
        }
        match self.stored_dpop_key(connection).await? {
            Some(key) => Ok(Some(key)),
            None => Err(Error::needs_authorization(format!(
                "The token of '{}' is bound to a key on this computer (DPoP), but the key is no longer in your keyring. \
                 Sign in again to bind a new token.",
                connection.name
            ))
            .with_action(connection.sign_in_again())),
        }
    }

    async fn stored_dpop_key(&self, connection: &Connection) -> Result<Option<DpopKey>> {
        match self.secrets.kind_secret(&connection.id, DPOP_KEY.name()).await? {
            Some(text) => DpopKey::from_stored(&text).map(Some),
            None => Ok(None),
        }
    }

    /// Sends `api` with an OAuth 2.0 connection's token: as placed by its
    /// settings, or — for a DPoP token — as `Authorization: DPoP` with a
    /// proof for this method and URL, once more with the server's nonce
    /// when it asks for one (RFC 9449 §7, §9).
    pub(crate) async fn send_with_tokens(&self, connection: &Connection, tokens: &TokenSet, api: &ApiRequest) -> Result<ApiResponse> {
        let built = request::build_with(&connection.settings, api, tokens)?;
        // A certificate-bound token (RFC 8705 §3) works only over TLS with the client's certificate.
        let http = self.http_for(connection).await?;
        match self.dpop_key_for(connection, tokens).await? {
            None => request::send(&http, built).await,
            Some(key) => request::send_bound(&http, built, Dpop::new(&key, self.dpop_nonces()), &tokens.access_token).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::test_engine;
    use crate::model::{ClientAuth, Draft, Flow, KindSettings, OAuth2Settings, DPOP_KEY};
    use crate::request::ApiRequest;
    use crate::secret::ClientSecret;

    fn bound(name: &str) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "client");
        settings.token_url = Some("https://id.example.com/token".into());
        settings.client_auth = ClientAuth::Body;
        settings.dpop = true;
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    #[tokio::test]
    async fn a_connection_gets_one_key_kept_in_the_secret_store_and_removed_with_it() {
        let (_dir, engine) = test_engine();
        let connection = engine.create(bound("Bound"), Some(ClientSecret::new("s".into()))).await.unwrap();
        assert!(engine.secrets.kind_secret(&connection.id, DPOP_KEY.name()).await.unwrap().is_none(), "made when first needed");
        let first = engine.dpop_key_for_token_requests(&connection).await.unwrap().unwrap();
        let again = engine.dpop_key_for_token_requests(&connection).await.unwrap().unwrap();
        assert_eq!(first.thumbprint(), again.thumbprint(), "the same key every time");
        assert!(connection.settings.secret_slots().contains(&DPOP_KEY));
        engine.remove("Bound").await.unwrap();
        assert!(engine.secrets.kind_secret(&connection.id, DPOP_KEY.name()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_copied_curl_command_is_refused_in_words_for_bound_tokens() {
        let (_dir, engine) = test_engine();
        engine.create(bound("Bound"), Some(ClientSecret::new("s".into()))).await.unwrap();
        for include_token in [false, true] {
            let err = engine.request_curl("Bound", &ApiRequest::get("https://id.example.com/me"), include_token).await.unwrap_err();
            assert!(err.message.contains("binds its tokens to this computer (DPoP)"), "{}", err.message);
            assert!(err.message.contains("Send the request from Latch instead"), "{}", err.message);
        }
    }
}
