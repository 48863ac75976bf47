//! Connection kinds. Each kind is one variant holding its own settings
//! struct; everything the rest of Latch asks of a connection that depends on
//! its kind is a method here, so adding a kind (`oauth1`, `spec`) is one
//! variant plus one arm in each of these methods — the compiler lists them.
//! How each kind signs in, renews and authenticates a request lives under
//! `flows/` and `engine/`, matched on the same variants.

use serde::{Deserialize, Serialize};

use super::api::ApiAccess;
use super::oauth2::{ClientAuth, Flow, OAuth2Settings};
use super::oauth1::OAuth1Settings;
use super::spec::SpecSettings;
use crate::error::{Error, Result};

/// The settings of a connection, by kind. Serialised with a `kind` tag
/// beside the kind's own fields (`{"kind": "oauth2", "flow": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum KindSettings {
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2Settings),
    /// OAuth 1.0a (RFC 5849): signed requests, no bearer token.
    #[serde(rename = "oauth1")]
    OAuth1(OAuth1Settings),
    /// A Make-style custom connection: steps written in IML (`spec/`).
    #[serde(rename = "spec")]
    Spec(SpecSettings),
}

/// The secrets a connection may keep in the secret store, one entry each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretSlot {
    /// The client secret the provider issued to the user's app.
    ClientSecret,
    /// Access, refresh and ID token together: one entry, so a rotation
    /// replaces them atomically.
    TokenSet,
    /// A secret only one kind has (an OAuth 1.0a token secret, an RSA
    /// private key), by a short name unique within the kind.
    Kind(&'static str),
}

impl SecretSlot {
    /// The entry's name under the connection's id: part of the keyring
    /// layout (`<id>/<name>`), so never renamed.
    pub fn name(self) -> &'static str {
        match self {
            SecretSlot::ClientSecret => "client_secret",
            SecretSlot::TokenSet => "tokens",
            SecretSlot::Kind(name) => name,
        }
    }
}

/// A spec connection's common data (the app's client id and secret…), as
/// one JSON object.
pub const SPEC_COMMON: SecretSlot = SecretSlot::Kind("common");
/// The values of a spec's password (and key) parameters, as one JSON object.
pub const SPEC_SECRET_PARAMETERS: SecretSlot = SecretSlot::Kind("parameters");

/// An OAuth 2.0 connection's RFC 7592 registration access token, when Latch
/// registered the client itself (RFC 7591).
pub const REGISTRATION_TOKEN: SecretSlot = SecretSlot::Kind("registration_token");

/// An OAuth 2.0 connection's DPoP key pair (RFC 9449), as PKCS#8 PEM:
/// made by Latch the first time the connection binds a token.
pub const DPOP_KEY: SecretSlot = SecretSlot::Kind("dpop_key");

/// An OAuth 2.0 connection's TLS client certificate (chain) and its private
/// key, as PEM, for mutual-TLS client authentication (RFC 8705).
pub const CLIENT_IDENTITY: SecretSlot = SecretSlot::Kind("client_identity");

/// An OAuth 1.0a connection's RSA private key (PEM).
pub const OAUTH1_PRIVATE_KEY: SecretSlot = SecretSlot::Kind("private_key");

/// The version of each kind's stored settings document. A document from a
/// newer Latch is refused rather than misread.
pub const SETTINGS_VERSION: u32 = 1;

impl KindSettings {
    /// The kind's name as stored and printed.
    pub fn kind(&self) -> &'static str {
        match self {
            KindSettings::OAuth2(_) => "oauth2",
            KindSettings::OAuth1(_) => "oauth1",
            KindSettings::Spec(_) => "spec",
        }
    }

    /// Every kind Latch knows, by name.
    pub const KINDS: &'static [&'static str] = &["oauth2", "oauth1", "spec"];

    /// A new connection's settings of `kind`, with that kind's defaults.
    pub fn defaults(kind: &str) -> Result<KindSettings> {
        match kind {
            "oauth2" => Ok(KindSettings::OAuth2(OAuth2Settings::default())),
            "spec" => Ok(KindSettings::Spec(SpecSettings::default())),
            "oauth1" => Ok(KindSettings::OAuth1(OAuth1Settings::default())),
            other => Err(Error::validation(
                "kind",
                format!("'{other}' is not a kind of connection this Latch knows. Choose one of: {}.", Self::KINDS.join(", ")),
            )),
        }
    }

    /// The settings from a stored document of `kind`, written at `version`.
    pub fn from_document(kind: &str, version: u32, document: serde_json::Value) -> Result<KindSettings, String> {
        if version > SETTINGS_VERSION {
            return Err(format!(
                "its settings were written by a newer Latch (version {version}); update Latch to open it"
            ));
        }
        match kind {
            "oauth2" => serde_json::from_value(document).map(KindSettings::OAuth2).map_err(|err| err.to_string()),
            "spec" => serde_json::from_value(document).map(KindSettings::Spec).map_err(|err| err.to_string()),
            "oauth1" => serde_json::from_value(document).map(KindSettings::OAuth1).map_err(|err| err.to_string()),
            other => Err(format!("its kind '{other}' is not one this Latch knows")),
        }
    }

    /// The kind's own fields, as stored (without the `kind` tag).
    pub fn document(&self) -> serde_json::Value {
        let result = match self {
            KindSettings::OAuth2(settings) => serde_json::to_value(settings),
            KindSettings::Spec(settings) => serde_json::to_value(settings),
            KindSettings::OAuth1(settings) => serde_json::to_value(settings),
        };
        result.expect("settings are plain data and always serialise")
    }

    pub fn oauth2(&self) -> Option<&OAuth2Settings> {
        match self {
            KindSettings::OAuth2(settings) => Some(settings),
            _ => None,
        }
    }

    pub fn oauth1(&self) -> Option<&OAuth1Settings> {
        match self {
            KindSettings::OAuth1(settings) => Some(settings),
            _ => None,
        }
    }

    pub fn spec(&self) -> Option<&SpecSettings> {
        match self {
            KindSettings::Spec(settings) => Some(settings),
            _ => None,
        }
    }

    /// Tidies what a form or a file sent (blank addresses, blank rows).
    pub fn normalize(&mut self) {
        match self {
            KindSettings::OAuth2(settings) => settings.normalize(),
            KindSettings::Spec(settings) => settings.normalize(),
            KindSettings::OAuth1(settings) => settings.normalize(),
        }
        self.api_mut().normalize();
    }

    /// The API base URL and the hosts the credential may go to.
    pub fn api(&self) -> &ApiAccess {
        match self {
            KindSettings::OAuth2(settings) => &settings.api,
            KindSettings::Spec(settings) => &settings.api,
            KindSettings::OAuth1(settings) => &settings.api,
        }
    }

    pub fn api_mut(&mut self) -> &mut ApiAccess {
        match self {
            KindSettings::OAuth2(settings) => &mut settings.api,
            KindSettings::Spec(settings) => &mut settings.api,
            KindSettings::OAuth1(settings) => &mut settings.api,
        }
    }

    /// Where the connection's API lives: the API base URL, or a spec's own
    /// `base.url` when it is a plain address.
    pub fn api_base_url(&self) -> Option<String> {
        if let Some(base) = &self.api().api_base_url {
            return Some(base.clone());
        }
        match self {
            KindSettings::Spec(settings) => settings.literal_base_url(),
            _ => None,
        }
    }

    /// After a patch or a form changed these settings: defaults that follow
    /// other choices (PKCE follows the flow; client authentication follows
    /// whether there is a secret) unless the change set them itself.
    pub fn follow_choices(&mut self, before: &KindSettings, set: &dyn Fn(&str) -> bool, had_secret: bool, has_secret: bool) {
        match (self, before) {
            (KindSettings::OAuth2(after), KindSettings::OAuth2(before)) => {
                if after.flow != before.flow && !set("pkce") {
                    after.pkce = after.flow.default_pkce();
                }
                // A certificate, not a secret, authenticates an mTLS client (RFC 8705).
                if !set("client_auth") && has_secret != had_secret && !after.uses_client_certificate() {
                    after.client_auth = if has_secret { ClientAuth::Body } else { ClientAuth::None };
                }
            }
            _ => {}
        }
    }

    /// Whether Latch can get a new access token without the user.
    pub fn can_renew(&self, has_refresh_token: bool) -> bool {
        match self {
            KindSettings::OAuth2(settings) => has_refresh_token || settings.flow == Flow::ClientCredentials,
            // The spec's own `refresh` step renews, whatever its data holds.
            KindSettings::Spec(settings) => settings.spec.step("refresh").is_some(),
            // An OAuth 1.0a token lasts until it is revoked: nothing to renew.
            KindSettings::OAuth1(_) => false,
        }
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &[String] {
        match self {
            KindSettings::OAuth2(settings) => &settings.scopes,
            KindSettings::Spec(settings) => &settings.scopes,
            KindSettings::OAuth1(_) => &[],
        }
    }

    /// The host the user will recognise the provider by.
    pub fn provider_host(&self) -> Option<String> {
        match self {
            KindSettings::OAuth2(settings) => settings.provider_host(),
            KindSettings::Spec(settings) => settings.provider_host(),
            KindSettings::OAuth1(settings) => settings.provider_host(),
        }
    }

    /// The redirect URI to register with the provider, when the kind has one.
    pub fn redirect_uri_to_register(&self) -> Option<String> {
        match self {
            KindSettings::OAuth2(settings) => settings.flow.uses_browser().then(|| settings.redirect_uri_to_register()),
            KindSettings::Spec(settings) => settings.uses_browser().then(|| settings.redirect_uri_to_register()),
            KindSettings::OAuth1(settings) => settings.redirect_uri_to_register(),
        }
    }

    /// Signing in means pasting the address the browser ends on.
    pub fn signs_in_by_paste(&self) -> bool {
        match self {
            KindSettings::OAuth2(settings) => settings.signs_in_by_paste(),
            KindSettings::Spec(settings) => settings.uses_browser() && settings.redirect_uri_override.is_some(),
            // `oob`: the user types the code the provider shows.
            KindSettings::OAuth1(settings) => settings.callback == super::oauth1::Callback::Oob,
        }
    }

    /// Whether a client secret is part of this connection's setup (it says
    /// how it sends one); an imported file never carries the secret itself.
    pub fn expects_client_secret(&self) -> bool {
        match self {
            KindSettings::OAuth2(settings) => settings.client_auth.uses_client_secret(),
            // A spec's app secrets are its common data (kept in their own slot).
            KindSettings::Spec(settings) => !settings.spec.common.is_empty(),
            KindSettings::OAuth1(settings) => !settings.signature_method.uses_private_key(),
        }
    }

    /// Every secret store entry a connection of this kind may hold.
    pub fn secret_slots(&self) -> &'static [SecretSlot] {
        match self {
            KindSettings::OAuth2(_) => &[SecretSlot::ClientSecret, SecretSlot::TokenSet, REGISTRATION_TOKEN, CLIENT_IDENTITY, DPOP_KEY],
            KindSettings::Spec(_) => &[SecretSlot::TokenSet, SPEC_COMMON, SPEC_SECRET_PARAMETERS],
            KindSettings::OAuth1(_) => &[SecretSlot::ClientSecret, SecretSlot::TokenSet, OAUTH1_PRIVATE_KEY],
        }
    }
}
