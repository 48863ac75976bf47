//! Sign-in verbs beyond the loopback browser flow: the paste flow (for
//! providers that redirect only to a hosted https page), and the bookkeeping
//! every sign-in ends with.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::flows::token_response::TokenGrant;
use crate::flows::{authorization, device};
use crate::model::{Connection, ConnectionSpec, Flow};
use crate::secret::ClientSecret;
use crate::{validate, Engine, SignInStarted};

/// Told to the front end when a device sign-in (RFC 8628) is waiting for the
/// user: show the code and where to enter it.
#[derive(Debug)]
pub struct DeviceCodeShown<'a> {
    pub user_code: &'a str,
    pub verification_uri: &'a str,
    /// The page with the code filled in, when the provider offers one.
    pub verification_uri_complete: Option<&'a str>,
    /// How long the code is valid.
    pub expires_in: Duration,
    /// Set when the browser could not be opened on the verification page.
    pub browser_error: Option<String>,
}

impl Engine {
    /// Signs in without a loopback listener: the browser goes to the
    /// provider, which redirects to the connection's fixed redirect URI; the
    /// user pastes the address the browser ends on (`read_pasted`). The same
    /// checks as for a loopback response apply (redirect URI, `state`, `iss`).
    pub async fn connect_paste(
        &self,
        name_or_id: &str,
        on_started: impl FnOnce(&SignInStarted<'_>),
        read_pasted: impl FnOnce() -> Result<String>,
    ) -> Result<Connection> {
        self.connect_pasted(name_or_id, on_started, async move { read_pasted() }).await
    }

    /// [`Engine::connect_paste`] for front ends that wait for the address
    /// without blocking (the desktop app's paste field): `pasted` resolves
    /// when the user submits it.
    pub async fn connect_pasted(
        &self,
        name_or_id: &str,
        on_started: impl FnOnce(&SignInStarted<'_>),
        pasted: impl Future<Output = Result<String>>,
    ) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        let errors = validate::validate(&connection.spec, connection.has_client_secret);
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        let spec = &connection.spec;
        if !matches!(spec.flow, Flow::AuthorizationCode | Flow::Implicit) {
            return Err(Error::validation(
                "flow",
                format!("The {} flow has no browser sign-in to paste. Run 'latch connect \"{}\"'.", validate::flow_label(spec.flow), spec.name),
            ));
        }
        let secret = self.client_secret(&connection)?;
        let pending = authorization::begin_paste(spec)?;
        let browser_error = self.browser.open(pending.authorize_url.as_str()).err();
        on_started(&SignInStarted {
            authorize_url: pending.authorize_url.as_str(),
            redirect_uri: &pending.redirect_uri,
            browser_error,
            timeout: std::time::Duration::ZERO,
        });
        let outcome = match pasted.await {
            Ok(pasted) => authorization::finish_pasted(pending, &pasted, spec, secret.as_ref(), &self.http)
                .await
                .map(|signed_in| (signed_in.grant, signed_in.learned_issuer)),
            Err(err) => Err(err),
        };
        self.complete_sign_in(&connection, outcome).await
    }

    /// Signs in with the device authorization grant (RFC 8628): shows the
    /// user code (`on_code`), opens the verification page in the browser and
    /// polls until the user has entered the code there.
    pub async fn connect_device(&self, name_or_id: &str, on_code: impl FnOnce(&DeviceCodeShown<'_>)) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        let errors = validate::validate(&connection.spec, connection.has_client_secret);
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        if connection.spec.flow != Flow::DeviceCode {
            return Err(Error::validation(
                "flow",
                format!("'{0}' does not use the device code flow. Run 'latch connect \"{0}\"'.", connection.spec.name),
            ));
        }
        let secret = self.client_secret(&connection)?;
        let outcome = self.device_sign_in(&connection.spec, secret.as_ref(), on_code).await;
        self.complete_sign_in(&connection, outcome).await
    }

    pub(crate) async fn device_sign_in(
        &self,
        spec: &ConnectionSpec,
        secret: Option<&ClientSecret>,
        on_code: impl FnOnce(&DeviceCodeShown<'_>),
    ) -> Result<(TokenGrant, Option<String>)> {
        let authorization = device::start(spec, secret, &self.http).await?;
        let complete = authorization.verification_uri_complete().map(|u| u.secret().as_str());
        let page = complete.unwrap_or(authorization.verification_uri().as_str());
        let browser_error = self.browser.open(page).err();
        on_code(&DeviceCodeShown {
            user_code: authorization.user_code().secret(),
            verification_uri: authorization.verification_uri().as_str(),
            verification_uri_complete: complete,
            expires_in: authorization.expires_in(),
            browser_error,
        });
        device::poll(spec, secret, &self.http, &authorization).await.map(|grant| (grant, None))
    }

    /// Records how a sign-in ended: the confirmed issuer, the tokens and the
    /// account on success; the failure otherwise.
    pub(crate) async fn complete_sign_in(
        &self,
        connection: &Connection,
        outcome: Result<(TokenGrant, Option<String>)>,
    ) -> Result<Connection> {
        match outcome {
            Ok((grant, learned_issuer)) => {
                if let Some(issuer) = learned_issuer {
                    self.learn_issuer(&connection.id, issuer)?;
                }
                let (connected, tokens) = self.store_grant(&connection.id, grant, None)?;
                tracing::info!(connection = %connected.id, "connected");
                Ok(self.fetch_account(connected, &tokens.access_token).await)
            }
            Err(err) => {
                self.record_failure(&connection.id, &err, false)?;
                Err(err)
            }
        }
    }
}
