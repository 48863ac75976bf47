//! Token revocation (RFC 7009). Sent by hand rather than with oauth2-rs's
//! `revoke_token`, which refuses plain-http URLs — and local development
//! servers on loopback must work too.

use oauth2::http::{header, Request};

use super::oauth::{authenticate_form, http_error};
use crate::error::one_line;
use super::token_response::redact_body;
use crate::error::{Error, Result};
use crate::http::{media_type, ProviderHttp, OAUTH_RESPONSE_LIMIT};
use super::Target;
use crate::model::RevokeStyle;
use crate::secret::ClientSecret;

/// Which token is revoked, sent as `token_type_hint`.
#[derive(Debug, Clone, Copy)]
pub enum TokenHint {
    AccessToken,
    RefreshToken,
}

pub async fn revoke(
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    url: &str,
    token: &str,
    hint: TokenHint,
    http: &ProviderHttp,
) -> Result<()> {
    let request = match spec.revoke_style {
        RevokeStyle::Rfc7009 => rfc7009_request(spec, secret, url, token, hint)?,
        // The bearer GET ends the whole connection with the access token
        // (App Academy v2's /invalidate); there is no per-token call for the
        // refresh token.
        RevokeStyle::BearerGet => match hint {
            TokenHint::RefreshToken => return Ok(()),
            TokenHint::AccessToken => bearer_get_request(spec, url, token)?,
        },
    };
    let response = http.send(request, OAUTH_RESPONSE_LIMIT).await.map_err(http_error)?;
    let status = response.status().as_u16();
    // RFC 7009 §2.2: 200 whether or not the token was valid; bearer GETs answer 204.
    if response.status().is_success() {
        return Ok(());
    }
    let mut known = vec![token];
    known.extend(secret.map(ClientSecret::secret));
    let details = redact_body(&media_type(response.headers()), response.body(), &known);
    let said = serde_json::from_slice::<serde_json::Value>(response.body())
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(one_line));
    let message = match said {
        Some(code) => format!("The provider refused to revoke the token (HTTP {status}, {code})."),
        None => format!("The provider refused to revoke the token (HTTP {status})."),
    };
    Err(if status >= 500 { Error::network(message) } else { Error::provider(message) }.with_details(details))
}

/// `GET <revoke URL>` with the access token in `Authorization`, as
/// `latch request` would send it.
fn bearer_get_request(spec: &Target<'_>, url: &str, token: &str) -> Result<Request<Vec<u8>>> {
    let value = zeroize::Zeroizing::new(format!("{} {token}", spec.token_name));
    Request::get(url)
        .header(header::AUTHORIZATION, value.as_str())
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|err| Error::validation("revoke_url", format!("The Revoke URI could not be used ({err}).")))
}

/// An RFC 7009 revocation request: the token in a form POST, with the same
/// client authentication as at the token endpoint.
fn rfc7009_request(
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    url: &str,
    token: &str,
    hint: TokenHint,
) -> Result<Request<Vec<u8>>> {
    let hint = match hint {
        TokenHint::AccessToken => "access_token",
        TokenHint::RefreshToken => "refresh_token",
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token).append_pair("token_type_hint", hint);
    let request = Request::post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    // Same client authentication as at the token endpoint (RFC 7009 §2.1).
    let request = authenticate_form(spec, secret, &mut form, request, true)?;
    let body = zeroize::Zeroizing::new(form.finish());
    request.body(body.as_bytes().to_vec()).map_err(|err| {
        Error::validation("revoke_url", format!("The Revoke URI could not be used ({err})."))
    })
}
