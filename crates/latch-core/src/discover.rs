//! Turning an issuer into connection settings: the authorization server's
//! metadata (OpenID Connect Discovery 1.0, RFC 8414) names its endpoints, so
//! the user only types the issuer.

use serde::Serialize;

use crate::flows::discovery::ServerMetadata;
use crate::model::{ClientAuth, Draft, Flow, KindSettings, Pkce, SettingsPatch};

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
        // RFC 8705 §5: kept whatever the client authentication, used only
        // while it is a client certificate.
        .set_some("mtls_endpoint_aliases", metadata.mtls_endpoint_aliases.as_ref())
}

/// The ways of sending a client secret, in the order Latch prefers them
/// when the server lists several: RFC 6749's recommended Basic first, then
/// the form body, then the JWT that keeps the secret off the wire.
const SECRET_METHODS: &[(&str, ClientAuth)] = &[
    ("client_secret_basic", ClientAuth::Basic),
    ("client_secret_post", ClientAuth::Body),
    ("client_secret_jwt", ClientAuth::ClientSecretJwt),
];

/// A way of sending the client secret the server accepts, when `current`
/// (the user's choice or the default) is one it does not list. `None` keeps
/// `current`: it is listed, the server lists nothing (RFC 8414 leaves the
/// list optional), or `current` is no way of sending a secret.
pub fn secret_method_for(metadata: &ServerMetadata, current: ClientAuth) -> Option<ClientAuth> {
    let supported = &metadata.token_endpoint_auth_methods_supported;
    let name = SECRET_METHODS.iter().find(|(_, auth)| *auth == current).map(|(name, _)| *name)?;
    if supported.is_empty() || supported.iter().any(|m| m == name) {
        return None;
    }
    SECRET_METHODS.iter().find(|(name, _)| supported.iter().any(|m| m == name)).map(|(_, auth)| *auth)
}

/// What discovery found, for a form: the user's draft with the discovered
/// settings filled in, and the scopes the server lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Discovered {
    pub draft: Draft,
    /// `scopes_supported`, for the user to pick from (not selected).
    pub scopes_supported: Vec<String>,
    /// The server can bind tokens to this computer with proofs Latch signs
    /// (DPoP with ES256, RFC 9449 §5.1): the form says so beside the
    /// choice, which stays the user's.
    pub dpop_supported: bool,
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
    if let KindSettings::OAuth2(settings) = &mut draft.settings {
        if let Some(auth) = secret_method_for(metadata, settings.client_auth) {
            settings.client_auth = auth;
        }
    }
    let dpop_supported = metadata.dpop_signing_alg_values_supported.iter().any(|alg| alg == "ES256");
    Discovered { draft, scopes_supported: metadata.scopes_supported.clone(), dpop_supported }
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
    fn the_servers_mtls_endpoint_aliases_are_kept_for_a_client_with_a_certificate() {
        let settings = applied(patch_from_metadata(&metadata(serde_json::json!({
            "issuer": "https://id.example.com",
            "token_endpoint": "https://id.example.com/token",
            "mtls_endpoint_aliases": { "token_endpoint": "https://mtls.id.example.com/token" }
        }))));
        assert_eq!(settings.token_url.as_deref(), Some("https://id.example.com/token"), "the plain endpoint stays");
        let aliases = settings.mtls_endpoint_aliases.clone().unwrap();
        assert_eq!(aliases.token_endpoint.as_deref(), Some("https://mtls.id.example.com/token"));
        assert_eq!(
            crate::flows::mtls::endpoint_aliases(&settings),
            vec![("https://id.example.com/token".to_owned(), "https://mtls.id.example.com/token".to_owned())]
        );
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
    fn a_secret_is_sent_the_way_the_server_lists_and_other_choices_stay() {
        let only = |methods: &[&str]| metadata(serde_json::json!({
            "issuer": "https://id.example.com",
            "token_endpoint_auth_methods_supported": methods,
        }));
        assert_eq!(secret_method_for(&only(&["client_secret_basic", "private_key_jwt"]), ClientAuth::Body), Some(ClientAuth::Basic));
        assert_eq!(secret_method_for(&only(&["client_secret_jwt"]), ClientAuth::Body), Some(ClientAuth::ClientSecretJwt));
        assert_eq!(secret_method_for(&only(&["client_secret_post", "client_secret_basic"]), ClientAuth::Body), None, "listed: kept");
        assert_eq!(secret_method_for(&only(&[]), ClientAuth::Body), None, "nothing listed: kept");
        assert_eq!(secret_method_for(&only(&["client_secret_basic"]), ClientAuth::None), None, "a public client stays public");
        assert_eq!(secret_method_for(&only(&["client_secret_basic"]), ClientAuth::PrivateKeyJwt), None, "a key stays a key");
        assert_eq!(secret_method_for(&only(&["private_key_jwt"]), ClientAuth::Body), None, "nothing better to offer");

        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c1");
        spec.client_auth = ClientAuth::Body;
        let filled = fill_from_metadata(&only(&["client_secret_basic"]), draft("Work", spec));
        assert_eq!(filled.draft.settings.oauth2().unwrap().client_auth, ClientAuth::Basic, "the form follows the server");
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

    #[test]
    fn a_server_that_binds_tokens_is_noted_but_dpop_stays_the_users_choice() {
        let spec = draft("Lab", OAuth2Settings::new(Flow::AuthorizationCode, "c1"));
        let found = fill_from_metadata(
            &metadata(serde_json::json!({ "issuer": "https://id.example.com", "dpop_signing_alg_values_supported": ["ES256", "EdDSA"] })),
            spec.clone(),
        );
        assert!(found.dpop_supported);
        assert!(!found.draft.settings.oauth2().unwrap().dpop, "noted, not switched on");
        let other = metadata(serde_json::json!({ "issuer": "https://id.example.com", "dpop_signing_alg_values_supported": ["RS256"] }));
        assert!(!fill_from_metadata(&other, spec.clone()).dpop_supported, "Latch signs proofs with ES256");
        assert!(!fill_from_metadata(&metadata(serde_json::json!({ "issuer": "https://id.example.com" })), spec).dpop_supported);
    }
}
