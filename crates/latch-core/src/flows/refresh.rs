//! The refresh token grant (RFC 6749 §6), sent to the refresh URL (Make's
//! separate `refresh` step) or else the token URL.

use oauth2::TokenUrl;

use super::oauth::{self, invalid_url, Step, TokenCall};
use super::token_response::TokenGrant;
use crate::error::{Error, Result};
use crate::http::ProviderHttp;
use super::Target;
use crate::secret::{ClientSecret, RefreshToken};

pub async fn request(
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    refresh_token: &RefreshToken,
    http: &ProviderHttp,
) -> Result<TokenGrant> {
    let url = spec
        .effective_refresh_url()
        .ok_or_else(|| Error::validation("refresh_url", "A Token URI or Refresh URI is required to refresh tokens."))?;
    let client =
        oauth::client(spec, secret).set_token_uri(TokenUrl::new(url.to_owned()).map_err(|e| invalid_url("refresh_url", e))?);
    let token = oauth2::RefreshToken::new(refresh_token.secret().to_owned());
    let mut request = client.exchange_refresh_token(&token);
    for kv in &spec.refresh_params {
        request = request.add_extra_param(kv.key.clone(), kv.value.clone());
    }
    for resource in &spec.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    let call = TokenCall::new(http, *spec, secret);
    let outcome = request.request_async(&call).await;
    call.finish(outcome, Step::Refresh)
}
