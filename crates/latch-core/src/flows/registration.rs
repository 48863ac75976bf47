//! Dynamic client registration (RFC 7591) and its management (RFC 7592):
//! Latch registers itself as a native public client, so the user needs no
//! developer console, and deletes the registration when it is no longer
//! used.

use oauth2::http::{header, Request};
use serde::Deserialize;

use super::oauth::http_error;
use super::token_response::redact_body;
use crate::error::{one_line, Error, Result};
use crate::http::{media_type, ProviderHttp, OAUTH_RESPONSE_LIMIT};
use crate::secret::RegistrationToken;
use crate::validate::check_endpoint_url;

/// The name a person sees on the provider's consent page and in its list
/// of apps.
pub const CLIENT_NAME: &str = "Latch";

/// What Latch asks to be registered as (RFC 7591 §2): a native app
/// (RFC 8252) with a loopback redirect, the authorization code flow with
/// refresh tokens, and no client secret (PKCE protects the code).
pub fn request_body(redirect_uri: &str) -> serde_json::Value {
    serde_json::json!({
        "client_name": CLIENT_NAME,
        "application_type": "native",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// The registration response's parts Latch keeps (RFC 7591 §3.2.1, RFC 7592 §3).
#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    registration_access_token: Option<String>,
    #[serde(default)]
    registration_client_uri: Option<String>,
}

/// A client Latch registered. The registration access token is a secret:
/// it only leaves through [`RegistrationToken::secret`].
#[derive(Debug)]
pub struct Registered {
    pub client_id: String,
    /// RFC 7592: manages (deletes) the registration, with the client URI.
    pub access_token: Option<RegistrationToken>,
    /// RFC 7592 client configuration endpoint; checked by the endpoint rules.
    pub client_uri: Option<String>,
}

/// Registers Latch at `endpoint` with `redirect_uri`.
pub async fn register(http: &ProviderHttp, endpoint: &str, redirect_uri: &str) -> Result<Registered> {
    check_endpoint_url("The registration endpoint", endpoint)
        .map_err(|message| Error::provider(format!("{message} Latch did not register there.")))?;
    let body = serde_json::to_vec(&request_body(redirect_uri)).expect("JSON always serialises");
    let request = Request::post(endpoint)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(body)
        .map_err(|err| Error::provider(format!("The registration endpoint {endpoint} could not be used ({err}).")))?;
    let response = http.send(request, OAUTH_RESPONSE_LIMIT).await.map_err(http_error)?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        let said = serde_json::from_slice::<serde_json::Value>(response.body()).ok().and_then(|v| {
            let code = v.get("error")?.as_str().map(one_line)?;
            Some(match v.get("error_description").and_then(|d| d.as_str()) {
                Some(description) => format!("{code}: {}", one_line(description)),
                None => code,
            })
        });
        let message = match said {
            Some(said) => format!("The server refused to register Latch (HTTP {status}, {said})."),
            None => format!("The server refused to register Latch (HTTP {status})."),
        };
        let details = redact_body(&media_type(response.headers()), response.body(), &[]);
        return Err(if status >= 500 { Error::network(message) } else { Error::provider(message) }.with_details(details));
    }
    let mut answer: RegistrationResponse = serde_json::from_slice(response.body())
        .map_err(|err| Error::provider(format!("The server's answer to Latch's registration could not be read ({err}).")))?;
    let access_token = answer.registration_access_token.take().filter(|t| !t.is_empty()).map(RegistrationToken::new);
    if answer.client_id.trim().is_empty() {
        return Err(Error::provider("The server registered Latch but sent no client ID."));
    }
    if let Some(uri) = &answer.registration_client_uri {
        check_endpoint_url("The registration's client URI", uri)
            .map_err(|message| Error::provider(format!("{message} (sent by {endpoint}).")))?;
    }
    Ok(Registered { client_id: answer.client_id, access_token, client_uri: answer.registration_client_uri })
}

/// Whether the server still knows the registration at `client_uri` (RFC
/// 7592 §2.1, a read of the client configuration). `Ok(false)` when it
/// answers that it does not (401, 403, 404: RFC 7592 §2.1 answers an unknown
/// client with 401); an error when the question could not be asked or
/// answered, which says nothing either way.
pub async fn still_registered(http: &ProviderHttp, client_uri: &str, token: &RegistrationToken) -> Result<bool> {
    check_endpoint_url("The registration's client URI", client_uri)
        .map_err(|message| Error::provider(format!("{message} Latch did not contact it.")))?;
    let authorization = zeroize::Zeroizing::new(format!("Bearer {}", token.secret()));
    let request = Request::get(client_uri)
        .header(header::AUTHORIZATION, authorization.as_str())
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|err| Error::provider(format!("The registration's client URI could not be used ({err}).")))?;
    let response = http.send(request, OAUTH_RESPONSE_LIMIT).await.map_err(http_error)?;
    match response.status().as_u16() {
        200..=299 => Ok(true),
        401 | 403 | 404 => Ok(false),
        status => Err(Error::network(format!("The server did not say whether Latch is still registered (HTTP {status})."))),
    }
}

/// Deletes the registration at `client_uri` (RFC 7592 §2.3). A registration
/// the server no longer knows (401, 404) is gone as wanted.
pub async fn delete(http: &ProviderHttp, client_uri: &str, token: &RegistrationToken) -> Result<()> {
    check_endpoint_url("The registration's client URI", client_uri)
        .map_err(|message| Error::provider(format!("{message} Latch did not contact it.")))?;
    let authorization = zeroize::Zeroizing::new(format!("Bearer {}", token.secret()));
    let request = Request::delete(client_uri)
        .header(header::AUTHORIZATION, authorization.as_str())
        .body(Vec::new())
        .map_err(|err| Error::provider(format!("The registration's client URI could not be used ({err}).")))?;
    let response = http.send(request, OAUTH_RESPONSE_LIMIT).await.map_err(http_error)?;
    let status = response.status().as_u16();
    match status {
        200..=299 | 401 | 404 => Ok(()),
        _ => {
            let message = format!("The server did not delete Latch's registration (HTTP {status}).");
            Err(if status >= 500 { Error::network(message) } else { Error::provider(message) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latch_registers_as_a_native_public_client_with_the_loopback_redirect() {
        let body = request_body("http://127.0.0.1/callback");
        assert_eq!(
            body,
            serde_json::json!({
                "client_name": "Latch",
                "application_type": "native",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })
        );
    }

    #[test]
    fn a_registration_prints_without_its_access_token() {
        let registered = Registered {
            client_id: "c1".into(),
            access_token: Some(RegistrationToken::new("rat-very-secret".into())),
            client_uri: Some("https://id.example.com/reg/c1".into()),
        };
        let printed = format!("{registered:?}");
        assert!(!printed.contains("rat-very-secret"), "{printed}");
        assert!(printed.contains("c1"));
    }

    #[tokio::test]
    async fn an_endpoint_that_breaks_the_rules_is_not_contacted() {
        let err = register(&ProviderHttp::new(), "http://id.example.com/reg", "http://127.0.0.1/callback").await.unwrap_err();
        assert!(err.message.ends_with("Latch did not register there."), "{}", err.message);
        let token = RegistrationToken::new("t".into());
        let err = delete(&ProviderHttp::new(), "ftp://id.example.com/reg/c1", &token).await.unwrap_err();
        assert!(err.message.ends_with("Latch did not contact it."), "{}", err.message);
    }
}
