//! Turning an issuer into connection settings: the authorization server's
//! metadata (OpenID Connect Discovery 1.0, RFC 8414) names its endpoints, so
//! the user only types the issuer.

use crate::error::Result;
use crate::flows::discovery::{self, ServerMetadata};
use crate::model::{Connection, ConnectionPatch, Flow, Pkce};
use crate::secret::ClientSecret;
use crate::Engine;

/// The settings a metadata document implies. Endpoints it does not list are
/// left out of the patch (the user's or the defaults stay).
pub fn patch_from_metadata(metadata: &ServerMetadata) -> ConnectionPatch {
    let url = |value: &Option<String>| value.clone().map(Some);
    let s256 = metadata.code_challenge_methods_supported.iter().any(|m| m == "S256");
    ConnectionPatch {
        issuer: Some(Some(metadata.issuer.clone())),
        authorize_url: url(&metadata.authorization_endpoint),
        token_url: url(&metadata.token_endpoint),
        revoke_url: url(&metadata.revocation_endpoint),
        info_url: url(&metadata.userinfo_endpoint),
        device_url: url(&metadata.device_authorization_endpoint),
        pkce: s256.then_some(Pkce::S256),
        // RFC 9207 §3: a server that advertises `iss` always sends it, so a
        // response without it did not come from this server.
        require_iss: Some(metadata.authorization_response_iss_parameter_supported),
        ..ConnectionPatch::default()
    }
}

impl Engine {
    /// Fetches `issuer`'s metadata and returns the settings it implies. The
    /// document must name exactly this issuer, or it is refused.
    pub async fn discover(&self, issuer: &str) -> Result<ConnectionPatch> {
        let metadata = discovery::fetch(&self.http, issuer.trim()).await?;
        tracing::info!(issuer = %metadata.issuer, "discovered authorization server metadata");
        Ok(patch_from_metadata(&metadata))
    }

    /// Creates a connection from `issuer`'s metadata; `overrides` (the
    /// user's explicit choices) win over what was discovered. The flow
    /// defaults to the authorization code flow.
    pub async fn create_discovered(
        &self,
        issuer: &str,
        overrides: ConnectionPatch,
        client_secret: Option<ClientSecret>,
    ) -> Result<Connection> {
        let mut discovered = self.discover(issuer).await?;
        discovered.flow = Some(Flow::AuthorizationCode);
        if overrides.flow.is_some_and(|flow| flow != Flow::AuthorizationCode) {
            // PKCE belongs to the code flow only.
            discovered.pkce = None;
        }
        self.create(overrides.over(discovered), client_secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(json: serde_json::Value) -> ServerMetadata {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn metadata_fills_the_endpoints_pkce_and_the_iss_requirement() {
        let patch = patch_from_metadata(&metadata(serde_json::json!({
            "issuer": "https://id.example.com",
            "authorization_endpoint": "https://id.example.com/auth",
            "token_endpoint": "https://id.example.com/token",
            "revocation_endpoint": "https://id.example.com/revoke",
            "userinfo_endpoint": "https://id.example.com/me",
            "device_authorization_endpoint": "https://id.example.com/device",
            "code_challenge_methods_supported": ["plain", "S256"],
            "authorization_response_iss_parameter_supported": true
        })));
        assert_eq!(patch.issuer, Some(Some("https://id.example.com".into())));
        assert_eq!(patch.authorize_url, Some(Some("https://id.example.com/auth".into())));
        assert_eq!(patch.token_url, Some(Some("https://id.example.com/token".into())));
        assert_eq!(patch.revoke_url, Some(Some("https://id.example.com/revoke".into())));
        assert_eq!(patch.info_url, Some(Some("https://id.example.com/me".into())));
        assert_eq!(patch.device_url, Some(Some("https://id.example.com/device".into())));
        assert_eq!(patch.pkce, Some(Pkce::S256));
        assert_eq!(patch.require_iss, Some(true));
    }

    #[test]
    fn missing_endpoints_and_no_s256_leave_the_fields_alone() {
        let patch = patch_from_metadata(&metadata(serde_json::json!({ "issuer": "https://id.example.com" })));
        assert_eq!(patch.revoke_url, None);
        assert_eq!(patch.pkce, None);
        assert_eq!(patch.require_iss, Some(false));
    }
}
