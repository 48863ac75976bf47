//! How each kind talks to its provider: the OAuth 2.0 flows, one file per
//! grant, over oauth2-rs (`oauth.rs`). Functions over a [`Target`] and the
//! HTTP client; the engine decides when to run them and records the outcome.

pub mod authorization;
pub mod client_assertion;
pub mod client_credentials;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod loopback;
pub mod mtls;
pub mod oauth1;
pub mod oauth;
pub mod par;
pub mod refresh;
pub mod registration;
pub mod resource_metadata;
pub mod revoke;
pub mod token_response;

use crate::error::Action;
use crate::model::OAuth2Settings;

/// The OAuth 2.0 connection a flow runs for: its settings, and its name for
/// the sentences and actions errors carry. Reads as the settings.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub name: &'a str,
    pub settings: &'a OAuth2Settings,
    /// The key token requests prove possession of (RFC 9449), when the
    /// connection binds its tokens with DPoP.
    pub dpop: Option<dpop::Dpop<'a>>,
}

impl<'a> Target<'a> {
    pub fn new(name: &'a str, settings: &'a OAuth2Settings) -> Self {
        Target { name, settings, dpop: None }
    }

    /// This target with its token requests carrying DPoP proofs.
    pub fn with_dpop(self, dpop: dpop::Dpop<'a>) -> Self {
        Target { dpop: Some(dpop), ..self }
    }

    /// Sign in again (by pasting, when this connection signs in that way).
    pub fn sign_in_again(&self) -> Action {
        Action::sign_in_again(self.name, self.settings.signs_in_by_paste())
    }

    /// Change these settings of this connection.
    pub fn edit(&self, fields: &[&str]) -> Action {
        Action::edit(self.name, fields)
    }
}

impl std::ops::Deref for Target<'_> {
    type Target = OAuth2Settings;

    fn deref(&self) -> &OAuth2Settings {
        self.settings
    }
}
