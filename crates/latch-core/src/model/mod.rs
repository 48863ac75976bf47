//! What a connection is (DESIGN.md, "Connection"): a common part every kind
//! shares (id, name, status, expiry times, account, last error) plus a
//! [`KindSettings`] holding the settings of its kind. Everything here is
//! non-secret and lives in SQLite; secrets live in the secret store.
//!
//! The serde names are a public contract: `latch show --json` prints
//! [`Connection`] flat — `kind` and the kind's settings beside the common
//! fields — and the desktop UI receives the same.

mod api;
mod kind;
mod oauth1;
mod oauth2;
mod patch;
mod spec;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use api::{ApiAccess, HostRule};
pub use kind::{KindSettings, SecretSlot, CLIENT_IDENTITY, DPOP_KEY, OAUTH1_PRIVATE_KEY, REGISTRATION_TOKEN, SETTINGS_VERSION, SPEC_COMMON, SPEC_SECRET_PARAMETERS};
pub use oauth2::{
    ClientAuth, ClientCertificate, ClientRegistration, ExpiresInUnit, Flow, FlowFields, MtlsEndpointAliases, OAuth2Settings, Pkce, RevokeStyle, ScopeSeparator, TokenPlacement,
    TokenRequestFormat, DEFAULT_QUERY_PARAM, DEFAULT_REDIRECT_PATH, DEFAULT_TOKEN_NAME,
};
pub use oauth1::{Callback, OAuth1Settings, ParameterTransport, SignatureMethod, OAUTH1_CALLBACK_PATH};
pub use patch::SettingsPatch;
pub use spec::{literal_host, SpecDocument, SpecSettings, SPEC_REDIRECT_PATH};

use crate::error::Action;

/// An enum stored and shown by its snake_case name, with `ALL`, `as_str`,
/// `FromStr` (the CLI's parser) and `Display`.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "'{text}' is not one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// Where a connection stands, as shown to the user.
    Status {
        /// Saved, never connected (or disconnected).
        New = "new",
        /// Holds a usable token.
        Connected = "connected",
        /// A refresh is under way.
        Refreshing = "refreshing",
        /// Only the user can fix it: sign in again.
        NeedsReauth = "needs_reauth",
        /// The last attempt failed; `last_error` says why.
        Error = "error",
    }
);

/// One extra parameter or header, in the order the user gave them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue { key: key.into(), value: value.into() }
    }
}

/// A unique id: a short prefix and a ULID, stored and shown as text.
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub struct $name(pub String);

        impl $name {
            pub fn generate() -> Self {
                $name(format!(concat!($prefix, "{}"), ulid::Ulid::new()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use prefixed_id;

prefixed_id!(
    /// A connection's id: `cn_` + ULID (DESIGN.md).
    ConnectionId,
    "cn_"
);

/// What the user types to make a connection: its name and its kind's
/// settings. The form's content, `latch add`'s result, an export entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Draft {
    pub name: String,
    #[serde(flatten)]
    pub settings: KindSettings,
}

/// A stored connection: what the user set plus what Latch learned about it.
/// Never holds a secret: `has_client_secret` and `has_refresh_token` say
/// whether the secret store holds one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Connection {
    pub id: ConnectionId,
    pub name: String,
    /// `kind` and that kind's settings, flat beside the common fields.
    #[serde(flatten)]
    pub settings: KindSettings,
    pub status: Status,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// When the current access token was issued; with the expiry it gives the
    /// token's lifetime, which sets the refresh margin.
    pub access_issued_at: Option<DateTime<Utc>>,
    /// Scopes the provider says it granted; `None` when it did not say.
    pub granted_scopes: Option<Vec<String>>,
    /// The account's display name or e-mail, from the info request.
    pub account: Option<String>,
    pub has_client_secret: bool,
    pub has_refresh_token: bool,
    pub last_error: Option<String>,
    /// What the provider said last time it failed, secrets removed.
    pub last_error_details: Option<String>,
    /// The next step that fixes the last error, when the user can take one.
    #[serde(default)]
    pub last_error_action: Option<Action>,
    /// After a passing failure (network, 5xx, 429): when the refresher tries again.
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
    /// When the connection's own rule makes its access token due (a spec's
    /// `refresh.condition`); otherwise the due time follows from the expiry.
    #[serde(default)]
    pub refresh_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Connection {
    /// A connection that was never connected: a fresh id, status `new`.
    pub fn new(draft: Draft, has_client_secret: bool, now: DateTime<Utc>) -> Self {
        Connection {
            id: ConnectionId::generate(),
            name: draft.name,
            settings: draft.settings,
            status: Status::New,
            access_expires_at: None,
            refresh_expires_at: None,
            access_issued_at: None,
            granted_scopes: None,
            account: None,
            has_client_secret,
            has_refresh_token: false,
            last_error: None,
            last_error_details: None,
            last_error_action: None,
            retry_at: None,
            refresh_due_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The name and settings, as a form edits them.
    pub fn draft(&self) -> Draft {
        Draft { name: self.name.clone(), settings: self.settings.clone() }
    }

    /// Whether the user should look at it: it needs a sign-in, it failed,
    /// or a failed refresh is waiting to be tried again. The tray's count
    /// and `latch status` use this one rule.
    pub fn needs_attention(&self) -> bool {
        matches!(self.status, Status::NeedsReauth | Status::Error) || self.retry_at.is_some()
    }

    /// When the access token is due for renewal: the connection's own rule,
    /// else the expiry less the refresh margin (`refresh_policy`).
    pub fn refresh_due(&self) -> Option<DateTime<Utc>> {
        self.refresh_due_at.or_else(|| self.access_expires_at.map(|exp| crate::refresh_policy::due_at(self.access_issued_at, exp)))
    }

    /// Whether Latch can get a new access token without the user.
    pub fn can_renew(&self) -> bool {
        self.settings.can_renew(self.has_refresh_token)
    }

    /// Scopes asked for but not granted, when the provider said what it granted.
    pub fn missing_scopes(&self) -> Vec<String> {
        match &self.granted_scopes {
            Some(granted) => self.settings.scopes().iter().filter(|s| !granted.contains(s)).cloned().collect(),
            None => Vec::new(),
        }
    }

    /// The action that signs this connection in again, as errors offer it.
    pub fn sign_in_again(&self) -> Action {
        Action::sign_in_again(&self.name, self.settings.signs_in_by_paste())
    }
}

#[cfg(test)]
pub(crate) fn sample_connection(name: &str, flow: Flow) -> Connection {
    let draft = Draft { name: name.into(), settings: KindSettings::OAuth2(OAuth2Settings::new(flow, "client")) };
    Connection::new(draft, false, Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_needs_attention_when_it_needs_sign_in_failed_or_waits_to_retry() {
        let mut c = sample_connection("a", Flow::ClientCredentials);
        c.status = Status::Connected;
        assert!(!c.needs_attention());
        for status in [Status::NeedsReauth, Status::Error] {
            c.status = status;
            assert!(c.needs_attention(), "{status:?}");
        }
        c.status = Status::Connected;
        c.retry_at = Some(Utc::now());
        assert!(c.needs_attention(), "a refresh waiting to be tried again");
    }

    #[test]
    fn a_connection_prints_flat_with_its_kind_beside_the_common_fields() {
        let c = sample_connection("GitHub", Flow::AuthorizationCode);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["kind"], "oauth2");
        assert_eq!(json["name"], "GitHub");
        assert_eq!(json["flow"], "authorization_code");
        assert_eq!(json["token_name"], "Bearer");
        assert_eq!(json["status"], "new");
        let back: Connection = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}
