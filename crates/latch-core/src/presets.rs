//! Provider presets: the documented endpoints and quirks of well-known
//! providers, so adding a connection needs only the app's client id (and
//! secret). Each preset is a data file in `presets/` at the repository root,
//! compiled in with `include_str!` — adding a provider is adding a file, not
//! code.

use serde::{Deserialize, Serialize};

use crate::error::{Action, Error, FieldError, Result};
use crate::model::{ClientAuth, Draft, KindSettings, OAuth2Settings, SettingsPatch, DEFAULT_REDIRECT_PATH};

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
    /// The provider issues every app a secret and wants it at the token endpoint.
    pub client_secret_required: bool,
    /// The provider's endpoints and quirks, as an OAuth 2.0 connection's
    /// settings; what the file leaves out keeps Latch's default. Its
    /// `client_auth` is how the client authenticates when it has a secret.
    pub settings: OAuth2Settings,
    pub scopes: Vec<PresetScope>,
    /// Quirks and caveats, one sentence each; doubts are said here.
    #[serde(default)]
    pub notes: Vec<String>,
    /// A service for developers to practise on (a training API on a mock
    /// server), not one people connect their own accounts to: the app's
    /// picker lists it only when asked to.
    #[serde(default)]
    pub training: bool,
}

impl Preset {
    /// The redirect URI to register with the provider.
    pub fn redirect_uri(&self) -> String {
        let settings = OAuth2Settings { redirect_path: DEFAULT_REDIRECT_PATH.into(), ..self.settings.clone() };
        settings.redirect_uri_to_register()
    }

    pub fn default_scopes(&self) -> Vec<String> {
        self.scopes.iter().filter(|s| s.default || s.required).map(|s| s.name.clone()).collect()
    }

    /// The preset's settings as a patch. Name and client id are left to the
    /// user; so are the scopes, which default to the preset's default ones.
    /// `has_secret` picks the client authentication: the preset's method
    /// with a secret, `none` without.
    pub fn patch(&self, has_secret: bool) -> SettingsPatch {
        let mut patch = SettingsPatch::from_settings(&KindSettings::OAuth2(self.settings.clone()));
        patch.remove("client_id");
        patch
            .set("scopes", self.default_scopes())
            .set("client_auth", if has_secret { self.settings.client_auth } else { ClientAuth::None })
    }

    /// A new connection as a form starts it from this preset: named after
    /// the provider, with its default scopes, and no client id or secret yet
    /// (so the client authentication is `none` until one is given).
    pub fn new_draft(&self) -> Draft {
        let settings = self
            .patch(false)
            .apply(&KindSettings::OAuth2(OAuth2Settings::default()), false, false)
            .expect("a preset's settings are valid settings (tested)");
        Draft { name: self.name.clone(), settings }
    }

    /// The preset's patch with the user's explicit values on top. Scopes the
    /// provider requires are added in front when the user left them out.
    pub fn patch_with(&self, overrides: SettingsPatch, has_secret: bool) -> Result<SettingsPatch> {
        if self.client_secret_required && !has_secret {
            return Err(Error::validation(
                "client_secret",
                format!(
                    "{} needs your app's client secret: the provider shows it where you registered the app ({}).",
                    self.name, self.register_url
                ),
            ));
        }
        let mut patch = overrides.over(self.patch(has_secret));
        let chosen: Vec<String> = patch.get("scopes").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
        let mut scopes: Vec<String> =
            self.scopes.iter().filter(|s| s.required && !chosen.contains(&s.name)).map(|s| s.name.clone()).collect();
        scopes.extend(chosen);
        patch = patch.set("scopes", scopes);
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
            message: format!("There is no preset '{id}'. Choose one of: {}.", ids.join(", ")),
        }])
        .with_action(Action::ShowPresets)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExpiresInUnit, Flow, Pkce, RevokeStyle, TokenRequestFormat};

    fn settings_from(preset: &Preset, has_secret: bool, overrides: SettingsPatch) -> OAuth2Settings {
        let overrides = overrides.set("client_id", "client-1");
        let patch = preset.patch_with(overrides, has_secret).unwrap();
        let defaults = KindSettings::OAuth2(OAuth2Settings::default());
        match patch.apply(&defaults, false, has_secret).unwrap() {
            KindSettings::OAuth2(settings) => settings,
            other => panic!("not OAuth 2.0: {other:?}"),
        }
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
                let settings = settings_from(preset, has_secret, SettingsPatch::new());
                let errors = crate::validate::oauth2(&settings, has_secret);
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
    fn every_setting_in_a_preset_file_is_a_setting_latch_knows() {
        let known = KindSettings::OAuth2(OAuth2Settings::default()).document();
        for (file, text) in FILES {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            for key in value["settings"].as_object().unwrap().keys() {
                assert!(known.get(key).is_some(), "presets/{file}: '{key}' is not a setting");
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
        let settings = &make.settings;
        assert_eq!(settings.authorize_url.as_deref(), Some("https://www.make.com/oauth/v2/authorize"));
        assert_eq!(settings.token_url.as_deref(), Some("https://www.make.com/oauth/v2/token"));
        assert_eq!(settings.revoke_url.as_deref(), Some("https://www.make.com/oauth/v2/revoke"));
        assert_eq!(settings.info_url.as_deref(), Some("https://www.make.com/oauth/v2/oidc/userinfo"));
        assert_eq!(settings.issuer.as_deref(), Some("https://www.make.com"));
        assert_eq!(settings.pkce, Pkce::S256);
        assert_eq!(settings.client_auth, ClientAuth::Body, "client_secret_post");
        assert_eq!(make.redirect_uri(), "https://www.make.com/oauth/cb/app");
        let names: Vec<&str> = make.scopes.iter().map(|s| s.name.as_str()).collect();
        for scope in ["scenarios:read", "scenarios:write", "scenarios:run", "connections:read", "connections:write"] {
            assert!(names.contains(&scope), "{scope}");
        }
    }

    #[test]
    fn the_app_academy_preset_matches_the_v2_documentation() {
        let academy = find("App-Academy").unwrap();
        let settings = &academy.settings;
        let base = "https://virtserver.swaggerhub.com/TKLOBOUCKOVA/app-academy-v2/1.0.0";
        assert_eq!(settings.authorize_url, Some(format!("{base}/authorize")));
        assert_eq!(settings.token_url, Some(format!("{base}/token")));
        assert_eq!(settings.refresh_url, Some(format!("{base}/refresh")));
        assert_eq!(settings.info_url, Some(format!("{base}/info")));
        assert_eq!(settings.revoke_url, Some(format!("{base}/invalidate")));
        assert_eq!(settings.revoke_style, RevokeStyle::BearerGet);
        assert_eq!(settings.token_request_format, TokenRequestFormat::Json);
        assert_eq!(settings.expires_in_unit, ExpiresInUnit::Minutes);
        let names: Vec<&str> = academy.scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["connect", "read", "write", "delete"]);
        assert!(academy.scopes[0].required);
    }

    #[test]
    fn explicit_values_override_the_preset_and_required_scopes_are_kept() {
        let academy = find("app-academy").unwrap();
        let overrides = SettingsPatch::new().set("token_url", "http://127.0.0.1:9/token").set("scopes", ["read", "write"]);
        let settings = settings_from(&academy, true, overrides);
        assert_eq!(settings.token_url.as_deref(), Some("http://127.0.0.1:9/token"));
        assert_eq!(settings.scopes, ["connect", "read", "write"]);
        assert_eq!(settings.refresh_url, academy.settings.refresh_url, "not overridden, so the preset's");
        assert_eq!(settings.client_auth, ClientAuth::Body);
    }

    #[test]
    fn no_scopes_given_means_the_presets_defaults_and_no_secret_means_a_public_client() {
        let gitlab = find("gitlab").unwrap();
        let settings = settings_from(&gitlab, false, SettingsPatch::new());
        assert_eq!(settings.scopes, ["read_user", "openid"]);
        assert_eq!(settings.client_auth, ClientAuth::None);
    }

    #[test]
    fn a_new_draft_from_a_preset_leaves_only_client_id_secret_and_scopes_to_the_user() {
        let make = find("make").unwrap();
        let draft = make.new_draft();
        assert_eq!(draft.name, "Make");
        let mut settings = draft.settings.oauth2().unwrap().clone();
        assert_eq!(settings.client_id, "");
        assert_eq!(settings.token_url, make.settings.token_url);
        assert_eq!(settings.redirect_uri_override.as_deref(), Some("https://www.make.com/oauth/cb/app"));
        assert_eq!(settings.scopes, make.default_scopes());
        settings.client_id = "my-app".into();
        settings.client_auth = make.settings.client_auth;
        assert!(crate::validate::oauth2(&settings, true).is_empty(), "{:?}", crate::validate::oauth2(&settings, true));
    }

    #[test]
    fn a_preset_that_needs_a_secret_says_so() {
        let err = find("github").unwrap().patch_with(SettingsPatch::new(), false).unwrap_err();
        assert_eq!(err.fields[0].field, "client_secret");
        assert!(err.message.starts_with("GitHub needs your app's client secret:"), "{}", err.message);
    }

    #[test]
    fn an_unknown_preset_lists_the_known_ones() {
        let err = find("myspace").unwrap_err();
        assert!(err.message.contains("There is no preset 'myspace'. Choose one of: google, microsoft, github"), "{}", err.message);
        assert_eq!(err.action, Some(Action::ShowPresets));
    }

    #[test]
    fn only_the_app_academy_training_api_is_marked_as_training() {
        let training: Vec<String> = all().into_iter().filter(|p| p.training).map(|p| p.id).collect();
        assert_eq!(training, ["app-academy"]);
        let json = serde_json::to_value(find("app-academy").unwrap()).unwrap();
        assert_eq!(json["training"], true, "front ends see the flag");
    }

    #[test]
    fn the_flow_is_authorization_code_for_every_preset() {
        assert!(all().iter().all(|p| p.settings.flow == Flow::AuthorizationCode));
    }
}
