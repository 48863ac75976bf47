//! A change to some settings of a connection, as a JSON merge patch (RFC
//! 7386) over the kind's settings document: a key sets that field, `null`
//! clears an optional one, an absent key keeps the current value. `latch
//! add` applies patches to a kind's defaults (a preset's, then the user's
//! flags), `latch edit` to the stored settings. Because a patch names fields
//! by their serde names, no field is listed here: adding a field to a kind's
//! struct makes it patchable.

use serde_json::{Map, Value};

use super::kind::KindSettings;
use crate::error::{Error, Result};

/// Settings to change, by field name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch(Map<String, Value>);

impl SettingsPatch {
    pub fn new() -> Self {
        SettingsPatch::default()
    }

    /// A patch from a JSON object (anything else is no patch).
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(map) => SettingsPatch(map),
            _ => SettingsPatch::default(),
        }
    }

    /// A patch that sets every field of `settings`.
    pub fn from_settings(settings: &KindSettings) -> Self {
        Self::from_value(settings.document())
    }

    /// Sets `field` to `value` (anything serialisable; `None` clears).
    pub fn set(mut self, field: &str, value: impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).expect("patch values are plain data");
        self.0.insert(field.to_owned(), value);
        self
    }

    /// Sets `field` only when `value` is `Some`.
    pub fn set_some<T: serde::Serialize>(self, field: &str, value: Option<T>) -> Self {
        match value {
            Some(value) => self.set(field, value),
            None => self,
        }
    }

    pub fn sets(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    pub fn remove(&mut self, field: &str) -> Option<Value> {
        self.0.remove(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This patch on top of `base`: every field this one sets wins.
    pub fn over(self, base: SettingsPatch) -> SettingsPatch {
        let mut merged = base.0;
        merged.extend(self.0);
        SettingsPatch(merged)
    }

    /// The settings with this patch applied, then the defaults that follow
    /// other choices (see [`KindSettings::follow_choices`]). A value of the
    /// wrong type for its field is a validation error naming the field.
    pub fn apply(&self, settings: &KindSettings, had_secret: bool, has_secret: bool) -> Result<KindSettings> {
        let mut document = settings.document();
        let fields = document.as_object_mut().expect("settings serialise as an object");
        for (field, value) in &self.0 {
            if field == "kind" {
                continue;
            }
            if !fields.contains_key(field) {
                return Err(Error::validation(
                    "settings",
                    format!("'{field}' is not a setting of {} connections.", settings.kind()),
                ));
            }
            fields.insert(field.clone(), value.clone());
        }
        let kind = settings.kind();
        let mut patched = KindSettings::from_document(kind, super::kind::SETTINGS_VERSION, document).map_err(|err| {
            Error::validation("settings", format!("A setting has a value of the wrong type ({err})."))
        })?;
        patched.follow_choices(settings, &|field| self.sets(field), had_secret, has_secret);
        Ok(patched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientAuth, Flow, OAuth2Settings, Pkce};

    fn oauth2(flow: Flow) -> KindSettings {
        KindSettings::OAuth2(OAuth2Settings::new(flow, "c"))
    }

    fn applied(patch: SettingsPatch, base: &KindSettings, had: bool, has: bool) -> OAuth2Settings {
        match patch.apply(base, had, has).unwrap() {
            KindSettings::OAuth2(settings) => settings,
            other => panic!("not OAuth 2.0: {other:?}"),
        }
    }

    #[test]
    fn a_patch_changes_only_the_fields_it_names_and_null_clears() {
        let mut base = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        base.info_url = Some("https://example.com/me".into());
        let base = KindSettings::OAuth2(base);
        let patch = SettingsPatch::new().set("token_url", "https://example.com/t").set("info_url", None::<String>);
        let settings = applied(patch, &base, false, false);
        assert_eq!(settings.token_url.as_deref(), Some("https://example.com/t"));
        assert_eq!(settings.info_url, None);
        assert_eq!(settings.client_id, "c");
    }

    #[test]
    fn client_auth_defaults_to_body_with_a_secret_and_none_without() {
        let base = oauth2(Flow::AuthorizationCode);
        assert_eq!(applied(SettingsPatch::new(), &base, false, true).client_auth, ClientAuth::Body);
        let with_body = KindSettings::OAuth2(applied(SettingsPatch::new(), &base, false, true));
        assert_eq!(applied(SettingsPatch::new(), &with_body, true, false).client_auth, ClientAuth::None);
        let explicit = SettingsPatch::new().set("client_auth", ClientAuth::Basic);
        let basic = KindSettings::OAuth2(applied(explicit, &base, false, true));
        assert_eq!(basic.oauth2().unwrap().client_auth, ClientAuth::Basic);
        // Keeping the secret keeps the explicit choice.
        assert_eq!(applied(SettingsPatch::new(), &basic, true, true).client_auth, ClientAuth::Basic);
    }

    #[test]
    fn changing_the_flow_resets_pkce_unless_given() {
        let base = oauth2(Flow::ClientCredentials);
        let patch = SettingsPatch::new().set("flow", Flow::AuthorizationCode);
        assert_eq!(applied(patch, &base, false, false).pkce, Pkce::S256);
        let patch = SettingsPatch::new().set("flow", Flow::AuthorizationCode).set("pkce", Pkce::Plain);
        assert_eq!(applied(patch, &base, false, false).pkce, Pkce::Plain);
    }

    #[test]
    fn a_field_the_kind_does_not_have_or_a_wrong_type_is_refused() {
        let base = oauth2(Flow::AuthorizationCode);
        let err = SettingsPatch::new().set("colour", "blue").apply(&base, false, false).unwrap_err();
        assert!(err.message.contains("'colour' is not a setting of oauth2 connections"), "{}", err.message);
        let err = SettingsPatch::new().set("flow", "password").apply(&base, false, false).unwrap_err();
        assert!(err.message.contains("wrong type"), "{}", err.message);
    }

    #[test]
    fn a_later_patch_wins_over_an_earlier_one() {
        let preset = SettingsPatch::new().set("token_url", "https://a.example/t").set("client_id", "x");
        let user = SettingsPatch::new().set("token_url", "https://b.example/t");
        let merged = user.over(preset);
        assert_eq!(merged.get("token_url").unwrap(), "https://b.example/t");
        assert_eq!(merged.get("client_id").unwrap(), "x");
    }
}
