//! Turning an issuer into connection settings: the authorization server's
//! metadata (OpenID Connect Discovery 1.0, RFC 8414) names its endpoints, so
//! the user only types the issuer.

use crate::error::Result;
use crate::flows::discovery::{self, ServerMetadata};
use serde::Serialize;

use crate::model::{Connection, ConnectionPatch, ConnectionSpec, Flow, Pkce};
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

/// What discovery found, for a form: the user's settings with the
/// discovered ones filled in, and the scopes the server lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Discovered {
    pub spec: ConnectionSpec,
    /// `scopes_supported`, for the user to pick from (not selected).
    pub scopes_supported: Vec<String>,
}

/// `spec` with the settings `metadata` implies. PKCE is chosen only for the
/// authorization code flow, the one it belongs to.
pub fn fill_from_metadata(metadata: &ServerMetadata, mut spec: ConnectionSpec) -> Discovered {
    let mut patch = patch_from_metadata(metadata);
    if spec.flow != Flow::AuthorizationCode {
        patch.pkce = None;
    }
    // The patch sets no client authentication and the secret does not change.
    patch.apply(&mut spec, false, false);
    Discovered { spec, scopes_supported: metadata.scopes_supported.clone() }
}

impl Engine {
    /// Fetches `issuer`'s metadata and fills `spec` (a form's content) from
    /// it. On failure nothing is filled: the error says why.
    pub async fn discover_into(&self, issuer: &str, spec: ConnectionSpec) -> Result<Discovered> {
        let metadata = discovery::fetch(&self.http, issuer.trim()).await?;
        tracing::info!(issuer = %metadata.issuer, "discovered authorization server metadata");
        Ok(fill_from_metadata(&metadata, spec))
    }

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
    fn filling_a_form_keeps_the_users_fields_and_offers_the_servers_scopes() {
        let mut spec = ConnectionSpec::new("Lab", Flow::AuthorizationCode, "c1");
        spec.pkce = Pkce::Off;
        spec.revoke_url = Some("https://mine.example/revoke".into());
        spec.scopes = vec!["openid".into()];
        let found = fill_from_metadata(
            &metadata(serde_json::json!({
                "issuer": "https://id.example.com",
                "authorization_endpoint": "https://id.example.com/auth",
                "token_endpoint": "https://id.example.com/token",
                "scopes_supported": ["openid", "email", "offline_access"],
                "code_challenge_methods_supported": ["S256"]
            })),
            spec,
        );
        assert_eq!(found.spec.name, "Lab");
        assert_eq!(found.spec.client_id, "c1");
        assert_eq!(found.spec.scopes, ["openid"], "offered, not selected");
        assert_eq!(found.scopes_supported, ["openid", "email", "offline_access"]);
        assert_eq!(found.spec.token_url.as_deref(), Some("https://id.example.com/token"));
        assert_eq!(found.spec.revoke_url.as_deref(), Some("https://mine.example/revoke"), "not listed, so kept");
        assert_eq!(found.spec.pkce, Pkce::S256);
        assert_eq!(found.spec.issuer.as_deref(), Some("https://id.example.com"));
    }

    #[test]
    fn pkce_is_left_alone_for_flows_without_it() {
        let spec = ConnectionSpec::new("TV", Flow::DeviceCode, "c1");
        let found = fill_from_metadata(
            &metadata(serde_json::json!({
                "issuer": "https://id.example.com",
                "device_authorization_endpoint": "https://id.example.com/device",
                "code_challenge_methods_supported": ["S256"]
            })),
            spec,
        );
        assert_eq!(found.spec.pkce, Pkce::Off);
        assert_eq!(found.spec.device_url.as_deref(), Some("https://id.example.com/device"));
    }

    #[test]
    fn missing_endpoints_and_no_s256_leave_the_fields_alone() {
        let patch = patch_from_metadata(&metadata(serde_json::json!({ "issuer": "https://id.example.com" })));
        assert_eq!(patch.revoke_url, None);
        assert_eq!(patch.pkce, None);
        assert_eq!(patch.require_iss, Some(false));
    }
}
