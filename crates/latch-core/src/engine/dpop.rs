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
        let stored = DpopKey::generate()?;
        let key = DpopKey::from_stored(&stored)?;
        self.secrets.set_kind_secret(&connection.id, DPOP_KEY.name(), &stored).await?;
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
        bound_at(name, "https://id.example.com/token")
    }

    fn bound_at(name: &str, token_url: &str) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "client");
        settings.token_url = Some(token_url.into());
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

    /// A token endpoint that answers with `answers` in turn (status, extra
    /// header, body) and hands each request's `DPoP` header to the test.
    async fn token_endpoint(
        answers: Vec<(u16, &'static str, &'static str)>,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<Option<String>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for (status, header, body) in answers {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let mut buffer = vec![0; 16384];
                let n = stream.read(&mut buffer).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..n]).into_owned();
                let proof = request.lines().find_map(|l| l.strip_prefix("dpop: ").map(str::to_owned));
                let _ = tx.send(proof);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        (url, rx)
    }

    fn claims(proof: &str) -> serde_json::Value {
        use base64::Engine as _;
        let payload = proof.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_token_request_asked_for_a_nonce_goes_once_more_with_it_and_keeps_the_dpop_type() {
        let (url, mut proofs) = token_endpoint(vec![
            (400, "DPoP-Nonce: n-1\r\n", r#"{"error":"use_dpop_nonce"}"#),
            (200, "", r#"{"access_token":"at-1","token_type":"DPoP","expires_in":3600}"#),
        ])
        .await;
        let (_dir, engine) = test_engine();
        engine.create(bound_at("Bound", &url), Some(ClientSecret::new("s".into()))).await.unwrap();
        let (connection, tokens) = engine.fresh_tokens("Bound").await.unwrap();
        assert_eq!(tokens.token_type, "DPoP");
        let first = claims(&proofs.recv().await.unwrap().expect("a proof on the token request"));
        let second = claims(&proofs.recv().await.unwrap().expect("a proof on the retry"));
        assert_eq!((first["htm"].as_str(), first["htu"].as_str()), (Some("POST"), Some(url.as_str())));
        assert!(first.get("nonce").is_none() && first.get("ath").is_none(), "{first}");
        assert_eq!(second["nonce"], "n-1");
        assert_ne!(first["jti"], second["jti"]);
        assert_eq!(engine.dpop_nonces().get(&url).as_deref(), Some("n-1"));
        assert!(engine.dpop_key_for(&connection, &tokens).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_refused_proof_is_said_in_words_with_the_setting_to_change() {
        let (url, _proofs) = token_endpoint(vec![
            (400, "DPoP-Nonce: n-1\r\n", r#"{"error":"use_dpop_nonce"}"#),
            (400, "DPoP-Nonce: n-2\r\n", r#"{"error":"use_dpop_nonce"}"#),
        ])
        .await;
        let (_dir, engine) = test_engine();
        engine.create(bound_at("Bound", &url), Some(ClientSecret::new("s".into()))).await.unwrap();
        let err = engine.fresh_tokens("Bound").await.unwrap_err();
        assert!(err.message.contains("did not accept Latch's proof") && err.message.contains("turn DPoP off"), "{}", err.message);
        assert_eq!(err.action, Some(crate::Action::edit("Bound", &["dpop"])));
    }
}
