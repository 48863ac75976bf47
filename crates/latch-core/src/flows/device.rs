//! The device authorization grant (RFC 8628): Latch asks for a user code,
//! the user enters it on the provider's verification page (in any browser,
//! on any device), and Latch polls the token endpoint until they have.
//! oauth2-rs does the polling: it waits `interval` seconds between requests
//! (5 when the provider names none) and 5 more after each `slow_down`.

use oauth2::{DeviceAuthorizationUrl, DeviceCodeErrorResponseType, RequestTokenError, StandardDeviceAuthorizationResponse, TokenUrl};

use super::oauth::{self, http_error, invalid_url, TokenCall};
use super::token_response::TokenGrant;
use crate::error::{Error, ProviderError, Result};
use crate::http::ProviderHttp;
use super::Target;
use crate::secret::ClientSecret;

/// What the provider answered to the device authorization request. The
/// device code inside is secret (oauth2-rs prints it as `[redacted]`).
pub type DeviceAuthorization = StandardDeviceAuthorizationResponse;

/// Asks the device authorization endpoint for a user code (RFC 8628 §3.1).
pub async fn start(spec: &Target<'_>, secret: Option<&ClientSecret>, http: &ProviderHttp) -> Result<DeviceAuthorization> {
    let url = spec.device_url.as_deref().ok_or_else(|| {
        Error::validation("device_url", "Device authorization URI is required for the device code flow.")
    })?;
    let client = oauth::client(spec, secret)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(url.to_owned()).map_err(|e| invalid_url("device_url", e))?);
    let mut request = client.exchange_device_code();
    // Joined here: oauth2-rs always uses a space, some providers need commas.
    if !spec.scopes.is_empty() {
        request = request.add_extra_param("scope", spec.scope_separator.join(&spec.scopes));
    }
    for resource in &spec.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    let call = TokenCall::new(http, *spec, secret);
    let outcome = request.request_async(&call).await;
    outcome.map_err(|err| {
        let details = call.details();
        match err {
            RequestTokenError::ServerResponse(response) => {
                let said = ProviderError {
                    error: response.error().as_ref().to_owned(),
                    error_description: response.error_description().cloned(),
                    error_uri: response.error_uri().cloned(),
                };
                Error::provider(format!(
                    "The provider refused to start the device sign-in. Check the client ID and that the app may \
                     use the device flow."
                ))
                .with_action(spec.edit(&["client_id"]))
                .with_provider(said)
            }
            RequestTokenError::Request(err) => http_error(err),
            RequestTokenError::Parse(..) | RequestTokenError::Other(_) => Error::provider(
                "The provider's answer to the device sign-in request could not be read. Check the Device authorization URI.",
            ),
        }
        .with_details(details)
    })
}

/// Polls the token endpoint until the user has entered the code, declined,
/// or the code expired (RFC 8628 §3.4–3.5).
pub async fn poll(
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    http: &ProviderHttp,
    authorization: &DeviceAuthorization,
) -> Result<TokenGrant> {
    let token_url = spec.token_url.as_deref().ok_or_else(|| {
        Error::validation("token_url", "Token URI is required for the device code flow.")
    })?;
    let client = oauth::client(spec, secret)
        .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|e| invalid_url("token_url", e))?);
    let mut request = client.exchange_device_access_token(authorization);
    for kv in &spec.token_params {
        request = request.add_extra_param(kv.key.clone(), kv.value.clone());
    }
    let call = TokenCall::new(http, *spec, secret);
    // No timeout of our own: the code's own `expires_in` ends the wait.
    let outcome = request.request_async(&call, tokio::time::sleep, None).await;
    match outcome {
        Ok(response) => Ok(call.grant(response)),
        Err(RequestTokenError::ServerResponse(response)) => Err(match response.error() {
            DeviceCodeErrorResponseType::ExpiredToken => Error::needs_authorization(
                "Nobody entered the code before it expired, so Latch stopped waiting. Sign in again for a new code.",
            )
            .with_action(spec.sign_in_again()),
            DeviceCodeErrorResponseType::AccessDenied => {
                Error::needs_authorization("Sign-in was declined on the verification page. Choose Allow to connect.")
                    .with_action(spec.sign_in_again())
            }
            _ => Error::provider("The provider refused the device sign-in."),
        }
        .with_provider(ProviderError {
            error: response.error().as_ref().to_owned(),
            error_description: response.error_description().cloned(),
            error_uri: response.error_uri().cloned(),
        })
        .with_details(call.details())),
        Err(RequestTokenError::Request(err)) => Err(http_error(err)),
        Err(RequestTokenError::Parse(..) | RequestTokenError::Other(_)) => Err(Error::provider(
            "The provider's token response could not be read. It is not the OAuth 2.0 response Latch expects; check the \
             Token URI.",
        )
        .with_details(call.details())),
    }
}
