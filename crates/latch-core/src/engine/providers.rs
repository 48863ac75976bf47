//! Starting a connection from what is known about a provider: a preset
//! (`crate::presets`), or the authorization server's own metadata
//! (`crate::discover`).

use super::Engine;
use crate::discover::{self, Discovered};
use crate::error::Result;
use crate::flows::discovery;
use crate::model::{ClientAuth, Connection, Draft, Flow, SettingsPatch};
use crate::presets;
use crate::secret::ClientSecret;

impl Engine {
    /// Creates a connection from a preset; `overrides` (the user's explicit
    /// choices, at least the client id) win over the preset's values.
    pub async fn create_from_preset(
        &self,
        preset_id: &str,
        name: String,
        overrides: SettingsPatch,
        client_secret: Option<ClientSecret>,
    ) -> Result<Connection> {
        let preset = presets::find(preset_id)?;
        let patch = preset.patch_with(overrides, client_secret.is_some())?;
        self.create_from_patch(name, "oauth2", patch, client_secret).await
    }

    /// Fetches `issuer`'s metadata and returns the settings it implies. The
    /// document must name exactly this issuer, or it is refused.
    pub async fn discover(&self, issuer: &str) -> Result<SettingsPatch> {
        let metadata = discovery::fetch(self.http(), issuer.trim()).await?;
        tracing::info!(issuer = %metadata.issuer, "discovered authorization server metadata");
        Ok(discover::patch_from_metadata(&metadata))
    }

    /// Fetches `issuer`'s metadata and fills `draft` (a form's content) from
    /// it. On failure nothing is filled: the error says why.
    pub async fn discover_into(&self, issuer: &str, draft: Draft) -> Result<Discovered> {
        let metadata = discovery::fetch(self.http(), issuer.trim()).await?;
        tracing::info!(issuer = %metadata.issuer, "discovered authorization server metadata");
        Ok(discover::fill_from_metadata(&metadata, draft))
    }

    /// Creates a connection from `issuer`'s metadata; `overrides` (the
    /// user's explicit choices) win over what was discovered. The flow
    /// defaults to the authorization code flow; a client secret is sent the
    /// way the server lists (`token_endpoint_auth_methods_supported`).
    pub async fn create_discovered(
        &self,
        issuer: &str,
        name: String,
        overrides: SettingsPatch,
        client_secret: Option<ClientSecret>,
    ) -> Result<Connection> {
        let metadata = discovery::fetch(self.http(), issuer.trim()).await?;
        tracing::info!(issuer = %metadata.issuer, "discovered authorization server metadata");
        let mut discovered = discover::patch_from_metadata(&metadata).set("flow", Flow::AuthorizationCode);
        if client_secret.is_some() && !overrides.sets("client_auth") {
            // A secret goes the way the server accepts it.
            if let Some(auth) = discover::secret_method_for(&metadata, ClientAuth::Body) {
                discovered = discovered.set("client_auth", auth);
            }
        }
        if overrides.get("flow").is_some_and(|flow| *flow != serde_json::json!(Flow::AuthorizationCode)) {
            // PKCE belongs to the code flow only.
            discovered.remove("pkce");
        }
        self.create_from_patch(name, "oauth2", overrides.over(discovered), client_secret).await
    }
}
