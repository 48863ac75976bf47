//! The client credentials grant (RFC 6749 §4.4): no user, no browser.

use oauth2::TokenUrl;

use super::oauth::{self, invalid_url, Step, TokenCall};
use super::token_response::TokenGrant;
use crate::error::{Error, Result};
use crate::http::ProviderHttp;
use super::Target;
use crate::secret::ClientSecret;

pub async fn request(spec: &Target<'_>, secret: Option<&ClientSecret>, http: &ProviderHttp) -> Result<TokenGrant> {
    let token_url = spec
        .token_url
        .as_deref()
        .ok_or_else(|| Error::validation("token_url", "Token URI is required for the client credentials flow."))?;
    let client = oauth::client(spec, secret)
        .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|e| invalid_url("token_url", e))?);
    let mut request = client.exchange_client_credentials();
    if !spec.scopes.is_empty() {
        request = request.add_extra_param("scope", spec.scope_separator.join(&spec.scopes));
    }
    for kv in &spec.token_params {
        request = request.add_extra_param(kv.key.clone(), kv.value.clone());
    }
    for resource in &spec.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    let call = TokenCall::new(http, *spec, secret);
    let outcome = request.request_async(&call).await;
    call.finish(outcome, Step::ClientCredentials)
}
