//! Turning an issuer into connection settings: the authorization server's
//! metadata (OpenID Connect Discovery 1.0, RFC 8414) names its endpoints, so
//! the user only types the issuer.

use serde::Serialize;

use crate::flows::discovery::ServerMetadata;
use crate::model::{Draft, Flow, KindSettings, Pkce, SettingsPatch};

/// The settings a metadata document implies. Endpoints it does not list are
/// left out of the patch (the user's or the defaults stay).
pub fn patch_from_metadata(metadata: &ServerMetadata) -> SettingsPatch {
    let s256 = metadata.code_challenge_methods_supported.iter().any(|m| m == "S256");
    SettingsPatch::new()
        .set("issuer", &metadata.issuer)
        .set_some("authorize_url", metadata.authorization_endpoint.as_ref())
        .set_some("token_url", metadata.token_endpoint.as_ref())
        .set_some("revoke_url", metadata.revocation_endpoint.as_ref())
        .set_some("info_url", metadata.userinfo_endpoint.as_ref())
        .set_some("device_url", metadata.device_authorization_endpoint.as_ref())
        .set_some("pkce", s256.then_some(Pkce::S256))
        // RFC 9207 §3: a server that advertises `iss` always sends it, so a
        // response without it did not come from this server.
        .set("require_iss", metadata.authorization_response_iss_parameter_supported)
        .set_some("par_url", metadata.pushed_authorization_request_endpoint.as_ref())
        // RFC 9126 §5: a server that requires PAR refuses any other sign-in;
        // one that only offers it leaves the choice to the user.
        .set_some("par", (metadata.require_pushed_authorization_requests && metadata.pushed_authorization_request_endpoint.is_some()).then_some(true))
}

/// What discovery found, for a form: the user's draft with the discovered
/// settings filled in, and the scopes the server lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Discovered {
    pub draft: Draft,
    /// `scopes_supported`, for the user to pick from (not selected).
    pub scopes_supported: Vec<String>,
}

/// `draft` with the settings `metadata` implies. PKCE is chosen only for the
/// authorization code flow, the one it belongs to.
pub fn fill_from_metadata(metadata: &ServerMetadata, mut draft: Draft) -> Discovered {
    let mut patch = patch_from_metadata(metadata);
    if !matches!(&draft.settings, KindSettings::OAuth2(s) if s.flow == Flow::AuthorizationCode) {
        patch.remove("pkce");
    }
    // The patch sets no client authentication and the secret does not change;
    // every value in it has its field's type.
    if let Ok(settings) = patch.apply(&draft.settings, false, false) {
        draft.settings = settings;
    }
    Discovered { draft, scopes_supported: metadata.scopes_supported.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::OAuth2Settings;

    fn metadata(json: serde_json::Value) -> ServerMetadata {
        serde_json::from_value(json).unwrap()
    }

    fn draft(name: &str, settings: OAuth2Settings) -> Draft {
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    fn applied(patch: SettingsPatch) -> OAuth2Settings {
        let base = KindSettings::OAuth2(OAuth2Settings::new(Flow::ClientCredentials, "c"));
        patch.apply(&base, false, false).unwrap().oauth2().unwrap().clone()
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
        let settings = applied(patch);
        assert_eq!(settings.issuer.as_deref(), Some("https://id.example.com"));
        assert_eq!(settings.authorize_url.as_deref(), Some("https://id.example.com/auth"));
        assert_eq!(settings.token_url.as_deref(), Some("https://id.example.com/token"));
        assert_eq!(settings.revoke_url.as_deref(), Some("https://id.example.com/revoke"));
        assert_eq!(settings.info_url.as_deref(), Some("https://id.example.com/me"));
        assert_eq!(settings.device_url.as_deref(), Some("https://id.example.com/device"));
        assert_eq!(settings.pkce, Pkce::S256);
        assert!(settings.require_iss);
        assert_eq!(settings.par_url, None);
        assert!(!settings.par);
    }

    #[test]
    fn a_server_that_requires_par_switches_it_on_and_one_that_offers_it_only_names_the_endpoint() {
        let required = applied(patch_from_metadata(&metadata(serde_json::json!({
            "issuer": "https://id.example.com",
            "pushed_authorization_request_endpoint": "https://id.example.com/par",
            "require_pushed_authorization_requests": true
        }))));
        assert_eq!(required.par_url.as_deref(), Some("https://id.example.com/par"));
        assert!(required.par);
        let offered = patch_from_metadata(&metadata(serde_json::json!({
            "issuer": "https://id.example.com",
            "pushed_authorization_request_endpoint": "https://id.example.com/par"
        })));
        assert!(!offered.sets("par"), "the user's choice stays");
        assert_eq!(applied(offered).par_url.as_deref(), Some("https://id.example.com/par"));
    }

    #[test]
    fn filling_a_form_keeps_the_users_fields_and_offers_the_servers_scopes() {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c1");
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
            draft("Lab", spec),
        );
        assert_eq!(found.draft.name, "Lab");
        let settings = found.draft.settings.oauth2().unwrap();
        assert_eq!(settings.client_id, "c1");
        assert_eq!(settings.scopes, ["openid"], "offered, not selected");
        assert_eq!(found.scopes_supported, ["openid", "email", "offline_access"]);
        assert_eq!(settings.token_url.as_deref(), Some("https://id.example.com/token"));
        assert_eq!(settings.revoke_url.as_deref(), Some("https://mine.example/revoke"), "not listed, so kept");
        assert_eq!(settings.pkce, Pkce::S256);
        assert_eq!(settings.issuer.as_deref(), Some("https://id.example.com"));
    }

    #[test]
    fn pkce_is_left_alone_for_flows_without_it() {
        let spec = draft("TV", OAuth2Settings::new(Flow::DeviceCode, "c1"));
        let found = fill_from_metadata(
            &metadata(serde_json::json!({
                "issuer": "https://id.example.com",
                "device_authorization_endpoint": "https://id.example.com/device",
                "code_challenge_methods_supported": ["S256"]
            })),
            spec,
        );
        let settings = found.draft.settings.oauth2().unwrap();
        assert_eq!(settings.pkce, Pkce::Off);
        assert_eq!(settings.device_url.as_deref(), Some("https://id.example.com/device"));
    }

    #[test]
    fn missing_endpoints_and_no_s256_leave_the_fields_alone() {
        let patch = patch_from_metadata(&metadata(serde_json::json!({ "issuer": "https://id.example.com" })));
        assert!(!patch.sets("revoke_url"));
        assert!(!patch.sets("pkce"));
        assert_eq!(patch.get("require_iss"), Some(&serde_json::Value::Bool(false)));
    }
}
