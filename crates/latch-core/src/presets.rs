//! Provider presets: the documented endpoints and quirks of well-known
//! providers, so adding a connection needs only the app's client id (and
//! secret). Each preset is a data file in `presets/` at the repository root,
//! compiled in with `include_str!` — adding a provider is adding a file, not
//! code.

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::model::{
    ClientAuth, Connection, ConnectionPatch, ConnectionSpec, ExpiresInUnit, Flow, KeyValue, Pkce, RevokeStyle, ScopeSeparator,
    TokenRequestFormat, DEFAULT_REDIRECT_PATH,
};
use crate::secret::ClientSecret;
use crate::Engine;

/// The preset files, in the order `latch presets` lists them.
const FILES: &[(&str, &str)] = &[
    ("google.json", include_str!("../../../presets/google.json")),
    ("microsoft.json", include_str!("../../../presets/microsoft.json")),
    ("github.json", include_str!("../../../presets/github.json")),
    ("gitlab.json", include_str!("../../../presets/gitlab.json")),
    ("slack.json", include_str!("../../../presets/slack.json")),
    ("dropbox.json", include_str!("../../../presets/dropbox.json")),
    ("salesforce.json", include_str!("../../../presets/salesforce.json")),
    ("spotify.json", include_str!("../../../presets/spotify.json")),
    ("make.json", include_str!("../../../presets/make.json")),
    ("app-academy.json", include_str!("../../../presets/app-academy.json")),
];

/// A scope the provider documents, with what it lets the app do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PresetScope {
    pub name: String,
    /// One line, in plain language.
    pub description: String,
    /// Selected when the user picks no scopes.
    #[serde(default)]
    pub default: bool,
    /// Always requested: the provider refuses to sign in without it.
    #[serde(default)]
    pub required: bool,
}

/// One provider's documented settings (a file in `presets/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Preset {
    /// Short, lower-case: `latch add --preset github`.
    pub id: String,
    pub name: String,
    /// Where the user registers their app to get a client id.
    pub register_url: String,
    #[serde(default)]
    pub docs_url: Option<String>,
    pub flow: Flow,
    pub pkce: Pkce,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    #[serde(default)]
    pub refresh_url: Option<String>,
    #[serde(default)]
    pub revoke_url: Option<String>,
    #[serde(default)]
    pub info_url: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub device_url: Option<String>,
    pub scope_separator: ScopeSeparator,
    /// How the client authenticates when it has a secret.
    pub client_auth: ClientAuth,
    /// The provider issues every app a secret and wants it at the token endpoint.
    pub client_secret_required: bool,
    pub token_request_format: TokenRequestFormat,
    pub expires_in_unit: ExpiresInUnit,
    pub revoke_style: RevokeStyle,
    #[serde(default)]
    pub authorize_params: Vec<KeyValue>,
    #[serde(default)]
    pub token_params: Vec<KeyValue>,
    #[serde(default)]
    pub refresh_params: Vec<KeyValue>,
    /// A fixed loopback port, for providers that match redirect URIs exactly.
    #[serde(default)]
    pub redirect_port: u16,
    /// A hosted https redirect URI, for providers that accept no loopback one.
    #[serde(default)]
    pub redirect_uri_override: Option<String>,
    pub scopes: Vec<PresetScope>,
    /// Quirks and caveats, one sentence each; doubts are said here.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Preset {
    /// The redirect URI to register with the provider.
    pub fn redirect_uri(&self) -> String {
        match (&self.redirect_uri_override, self.redirect_port) {
            (Some(fixed), _) => fixed.clone(),
            (None, 0) => format!("http://127.0.0.1{DEFAULT_REDIRECT_PATH}"),
            (None, port) => format!("http://127.0.0.1:{port}{DEFAULT_REDIRECT_PATH}"),
        }
    }

    pub fn default_scopes(&self) -> Vec<String> {
        self.scopes.iter().filter(|s| s.default || s.required).map(|s| s.name.clone()).collect()
    }

    /// The preset's settings as a patch. Name and client id are left to the
    /// user; so are the scopes, which default to the preset's default ones.
    /// `has_secret` picks the client authentication: the preset's method
    /// with a secret, `none` without.
    pub fn patch(&self, has_secret: bool) -> ConnectionPatch {
        ConnectionPatch {
            flow: Some(self.flow),
            pkce: Some(self.pkce),
            authorize_url: Some(self.authorize_url.clone()),
            token_url: Some(self.token_url.clone()),
            refresh_url: Some(self.refresh_url.clone()),
            revoke_url: Some(self.revoke_url.clone()),
            info_url: Some(self.info_url.clone()),
            issuer: Some(self.issuer.clone()),
            device_url: Some(self.device_url.clone()),
            scopes: Some(self.default_scopes()),
            scope_separator: Some(self.scope_separator),
            client_auth: Some(if has_secret { self.client_auth } else { ClientAuth::None }),
            authorize_params: Some(self.authorize_params.clone()),
            token_params: Some(self.token_params.clone()),
            refresh_params: Some(self.refresh_params.clone()),
            redirect_port: Some(self.redirect_port),
            redirect_uri_override: Some(self.redirect_uri_override.clone()),
            token_request_format: Some(self.token_request_format),
            expires_in_unit: Some(self.expires_in_unit),
            revoke_style: Some(self.revoke_style),
            ..ConnectionPatch::default()
        }
    }

    /// A new connection's settings as a form starts them from this preset:
    /// named after the provider, with its default scopes, and no client id
    /// or secret yet (so the client authentication is `none` until one is
    /// given; see [`Preset::client_auth`]).
    pub fn new_spec(&self) -> ConnectionSpec {
        let mut spec = ConnectionSpec::new(self.name.clone(), self.flow, "");
        self.patch(false).apply(&mut spec, false, false);
        spec
    }

    /// The preset's patch with the user's explicit values on top. Scopes the
    /// provider requires are added in front when the user left them out.
    pub fn patch_with(&self, overrides: ConnectionPatch, has_secret: bool) -> Result<ConnectionPatch> {
        if self.client_secret_required && !has_secret {
            return Err(Error::validation(
                "client_secret",
                format!(
                    "{} needs your app's client secret. Pipe it in with --client-secret-stdin (register the app at {}).",
                    self.name, self.register_url
                ),
            ));
        }
        let mut patch = overrides.over(self.patch(has_secret));
        if let Some(scopes) = &mut patch.scopes {
            let missing: Vec<String> = self
                .scopes
                .iter()
                .filter(|s| s.required && !scopes.contains(&s.name))
                .map(|s| s.name.clone())
                .collect();
            scopes.splice(0..0, missing);
        }
        Ok(patch)
    }
}

/// Every preset, in display order.
pub fn all() -> Vec<Preset> {
    FILES
        .iter()
        .map(|(file, text)| {
            serde_json::from_str(text).unwrap_or_else(|err| panic!("presets/{file} is not a valid preset: {err}"))
        })
        .collect()
}

/// The preset with this id (ignoring case).
pub fn find(id: &str) -> Result<Preset> {
    all().into_iter().find(|p| p.id.eq_ignore_ascii_case(id.trim())).ok_or_else(|| {
        let ids: Vec<String> = all().into_iter().map(|p| p.id).collect();
        Error::invalid(vec![FieldError {
            field: "preset",
            message: format!("There is no preset '{id}'. Choose one of: {}. Run 'latch presets' to see them.", ids.join(", ")),
        }])
    })
}

impl Engine {
    /// Creates a connection from a preset; `overrides` (the user's explicit
    /// choices, at least name and client id) win over the preset's values.
    pub fn create_from_preset(
        &self,
        preset_id: &str,
        overrides: ConnectionPatch,
        client_secret: Option<ClientSecret>,
    ) -> Result<Connection> {
        let preset = find(preset_id)?;
        let patch = preset.patch_with(overrides, client_secret.is_some())?;
        self.create(patch, client_secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate;

    fn spec_from(preset: &Preset, has_secret: bool, overrides: ConnectionPatch) -> ConnectionSpec {
        let patch = preset.patch_with(
            ConnectionPatch { name: Some("Test".into()), client_id: Some("client-1".into()), ..overrides },
            has_secret,
        );
        let patch = patch.unwrap();
        let mut spec = ConnectionSpec::new("", patch.flow.unwrap(), "");
        patch.apply(&mut spec, false, has_secret);
        spec
    }

    #[test]
    fn every_preset_parses_and_makes_a_valid_connection() {
        let presets = all();
        assert_eq!(presets.len(), FILES.len());
        for preset in &presets {
            for has_secret in [true, false] {
                if preset.client_secret_required && !has_secret {
                    continue;
                }
                let spec = spec_from(preset, has_secret, ConnectionPatch::default());
                let errors = validate::validate(&spec, has_secret);
                assert!(errors.is_empty(), "{} (secret: {has_secret}): {errors:?}", preset.id);
            }
            assert!(!preset.default_scopes().is_empty(), "{} selects no scopes", preset.id);
            assert!(preset.register_url.starts_with("https://"), "{}", preset.id);
            for scope in &preset.scopes {
                assert!(!scope.description.is_empty() && !scope.description.contains('\n'), "{}: {}", preset.id, scope.name);
            }
        }
    }

    #[test]
    fn preset_ids_are_unique_and_match_their_file_names() {
        let presets = all();
        for ((file, _), preset) in FILES.iter().zip(&presets) {
            assert_eq!(*file, format!("{}.json", preset.id));
        }
        let mut ids: Vec<&str> = presets.iter().map(|p| p.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), presets.len());
    }

    #[test]
    fn the_make_preset_matches_makes_documented_server() {
        let make = find("make").unwrap();
        assert_eq!(make.authorize_url.as_deref(), Some("https://www.make.com/oauth/v2/authorize"));
        assert_eq!(make.token_url.as_deref(), Some("https://www.make.com/oauth/v2/token"));
        assert_eq!(make.revoke_url.as_deref(), Some("https://www.make.com/oauth/v2/revoke"));
        assert_eq!(make.info_url.as_deref(), Some("https://www.make.com/oauth/v2/oidc/userinfo"));
        assert_eq!(make.issuer.as_deref(), Some("https://www.make.com"));
        assert_eq!(make.pkce, Pkce::S256);
        assert_eq!(make.client_auth, ClientAuth::Body, "client_secret_post");
        assert_eq!(make.redirect_uri(), "https://www.make.com/oauth/cb/app");
        let names: Vec<&str> = make.scopes.iter().map(|s| s.name.as_str()).collect();
        for scope in ["scenarios:read", "scenarios:write", "scenarios:run", "connections:read", "connections:write"] {
            assert!(names.contains(&scope), "{scope}");
        }
    }

    #[test]
    fn the_app_academy_preset_matches_the_v2_documentation() {
        let academy = find("App-Academy").unwrap();
        let base = "https://virtserver.swaggerhub.com/TKLOBOUCKOVA/app-academy-v2/1.0.0";
        assert_eq!(academy.authorize_url, Some(format!("{base}/authorize")));
        assert_eq!(academy.token_url, Some(format!("{base}/token")));
        assert_eq!(academy.refresh_url, Some(format!("{base}/refresh")));
        assert_eq!(academy.info_url, Some(format!("{base}/info")));
        assert_eq!(academy.revoke_url, Some(format!("{base}/invalidate")));
        assert_eq!(academy.revoke_style, RevokeStyle::BearerGet);
        assert_eq!(academy.token_request_format, TokenRequestFormat::Json);
        assert_eq!(academy.expires_in_unit, ExpiresInUnit::Minutes);
        let names: Vec<&str> = academy.scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["connect", "read", "write", "delete"]);
        assert!(academy.scopes[0].required);
    }

    #[test]
    fn explicit_values_override_the_preset_and_required_scopes_are_kept() {
        let academy = find("app-academy").unwrap();
        let spec = spec_from(
            &academy,
            true,
            ConnectionPatch {
                token_url: Some(Some("http://127.0.0.1:9/token".into())),
                scopes: Some(vec!["read".into(), "write".into()]),
                ..Default::default()
            },
        );
        assert_eq!(spec.token_url.as_deref(), Some("http://127.0.0.1:9/token"));
        assert_eq!(spec.scopes, ["connect", "read", "write"]);
        assert_eq!(spec.refresh_url, academy.refresh_url, "not overridden, so the preset's");
        assert_eq!(spec.client_auth, ClientAuth::Body);
    }

    #[test]
    fn no_scopes_given_means_the_presets_defaults_and_no_secret_means_a_public_client() {
        let github = find("gitlab").unwrap();
        let spec = spec_from(&github, false, ConnectionPatch::default());
        assert_eq!(spec.scopes, ["read_user", "openid"]);
        assert_eq!(spec.client_auth, ClientAuth::None);
    }

    #[test]
    fn a_new_spec_from_a_preset_leaves_only_client_id_secret_and_scopes_to_the_user() {
        let make = find("make").unwrap();
        let spec = make.new_spec();
        assert_eq!(spec.name, "Make");
        assert_eq!(spec.client_id, "");
        assert_eq!(spec.token_url, make.token_url);
        assert_eq!(spec.redirect_uri_override.as_deref(), Some("https://www.make.com/oauth/cb/app"));
        assert_eq!(spec.scopes, make.default_scopes());
        let mut complete = spec.clone();
        complete.client_id = "my-app".into();
        complete.client_auth = make.client_auth;
        assert!(validate::validate(&complete, true).is_empty(), "{:?}", validate::validate(&complete, true));
    }

    #[test]
    fn a_preset_that_needs_a_secret_says_so() {
        let err = find("github").unwrap().patch_with(ConnectionPatch::default(), false).unwrap_err();
        assert_eq!(err.fields[0].field, "client_secret");
        assert!(err.message.starts_with("GitHub needs your app's client secret."), "{}", err.message);
    }

    #[test]
    fn an_unknown_preset_lists_the_known_ones() {
        let err = find("myspace").unwrap_err();
        assert!(err.message.contains("There is no preset 'myspace'. Choose one of: google, microsoft, github"), "{}", err.message);
    }

    #[test]
    fn the_flow_is_authorization_code_for_every_preset() {
        assert!(all().iter().all(|p| p.flow == Flow::AuthorizationCode));
    }
}
