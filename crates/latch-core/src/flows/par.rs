//! Pushed authorization requests (RFC 9126). The authorization request's
//! parameters go straight to the server in an authenticated POST, and the
//! browser only carries `client_id` and the `request_uri` the server gave:
//! nothing in the address bar can be read or changed on the way, and the
//! server knows the request came from this client.

use oauth2::http::{header, Request};
use serde::Deserialize;

use super::oauth::{authenticate_form, http_error};
use super::token_response::redact_body;
use super::Target;
use crate::error::{one_line, Error, ProviderError, Result};
use crate::http::{media_type, ProviderHttp, OAUTH_RESPONSE_LIMIT};
use crate::secret::ClientSecret;
use crate::validate::check_endpoint_url;

/// What the server answered to a pushed request (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pushed {
    /// Stands for the pushed parameters in the browser's address.
    pub request_uri: String,
    /// How many seconds the `request_uri` stays usable.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The parameters of the authorization request `built`, without those of
/// the authorize endpoint's own address `endpoint` (they stay in the
/// address): oauth2-rs appends the request's parameters after them.
pub fn request_params(built: &url::Url, endpoint: &str) -> Vec<(String, String)> {
    let own = url::Url::parse(endpoint).map(|u| u.query_pairs().count()).unwrap_or(0);
    built.query_pairs().into_owned().skip(own).collect()
}

/// The address the browser opens after a push: the authorize endpoint with
/// only `client_id` and `request_uri` (RFC 9126 §4).
pub fn browser_url(endpoint: &str, client_id: &str, request_uri: &str) -> Result<url::Url> {
    let mut url = url::Url::parse(endpoint)
        .map_err(|err| Error::validation("authorize_url", format!("The address in 'authorize_url' is not a valid URL ({err}).")))?;
    url.query_pairs_mut().append_pair("client_id", client_id).append_pair("request_uri", request_uri);
    Ok(url)
}

/// The POST to the PAR endpoint: the request's parameters as a form, with
/// the client's authentication as at the token endpoint (RFC 9126 §2).
pub(crate) fn push_request(
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    url: &str,
    params: &[(String, String)],
) -> Result<Request<Vec<u8>>> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in params {
        form.append_pair(key, value);
    }
    if !params.iter().any(|(key, _)| key == "client_id") {
        form.append_pair("client_id", &spec.client_id);
    }
    let request = Request::post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    let request = authenticate_form(spec, secret, &mut form, request, false)?;
    let body = zeroize::Zeroizing::new(form.finish());
    request
        .body(body.as_bytes().to_vec())
        .map_err(|err| Error::validation("par_url", format!("The PAR endpoint could not be used ({err}).")))
}

/// Pushes `params` to the connection's PAR endpoint.
pub async fn push(
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    params: &[(String, String)],
    http: &ProviderHttp,
) -> Result<Pushed> {
    let url = spec.par_url.as_deref().ok_or_else(|| {
        Error::validation(
            "par_url",
            "Pushed authorization requests (PAR) are on, but the connection has no PAR endpoint. Set it, or turn PAR off.",
        )
        .with_action(spec.edit(&["par_url"]))
    })?;
    // The address may come from a metadata document: the same rules as typed ones.
    check_endpoint_url("The PAR endpoint", url).map_err(|message| {
        Error::validation("par_url", format!("{message} Latch did not contact it.")).with_action(spec.edit(&["par_url"]))
    })?;
    let request = push_request(spec, secret, url, params)?;
    // RFC 9449 §10.1: with DPoP, the push carries a proof too, which binds
    // the sign-in's code to the connection's key.
    let response = match spec.dpop {
        Some(dpop) => dpop.send(http, request, OAUTH_RESPONSE_LIMIT, None).await,
        None => http.send(request, OAUTH_RESPONSE_LIMIT).await,
    }
    .map_err(http_error)?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        let known: Vec<&str> = secret.map(ClientSecret::secret).into_iter().collect();
        let details = redact_body(&media_type(response.headers()), response.body(), &known);
        return Err(refusal(status, response.body(), spec).with_details(details));
    }
    let pushed: Pushed = serde_json::from_slice(response.body()).map_err(|err| {
        Error::provider(format!(
            "The PAR endpoint's answer (HTTP {status}) could not be read ({err}). Check the connection's PAR endpoint."
        ))
        .with_action(spec.edit(&["par_url"]))
    })?;
    if pushed.request_uri.trim().is_empty() {
        return Err(Error::provider("The PAR endpoint accepted the sign-in request but sent no request_uri."));
    }
    Ok(pushed)
}

/// A PAR endpoint's error answer in words (RFC 9126 §2.3: the authorization
/// request's error codes, plus the client authentication ones).
fn refusal(status: u16, body: &[u8], spec: &Target<'_>) -> Error {
    let said = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| {
        Some(ProviderError {
            error: one_line(v.get("error")?.as_str()?),
            error_description: v.get("error_description").and_then(|d| d.as_str()).map(one_line),
            error_uri: v.get("error_uri").and_then(|d| d.as_str()).map(one_line),
        })
    });
    let because = said
        .as_ref()
        .and_then(|s| s.error_description.as_deref())
        .map(|d| format!(" It said: {d}."))
        .unwrap_or_default();
    let err = match said.as_ref().map(|s| s.error.as_str()) {
        _ if status >= 500 || status == 429 => Error::network(format!(
            "The provider's PAR endpoint answered HTTP {status} and did not take the sign-in request. It may be having \
             trouble; try again in a few minutes."
        )),
        Some("invalid_client") => Error::provider(format!(
            "The provider rejected the client ID or secret when Latch pushed the sign-in request (PAR).{because}"
        ))
        .with_action(spec.edit(&["client_id", "client_secret"])),
        Some("invalid_scope") => Error::provider(format!("The provider refused the requested scopes.{because}"))
            .with_action(spec.edit(&["scopes"])),
        Some("invalid_target") => {
            Error::provider(format!("The provider refused the requested resources (RFC 8707).{because}"))
                .with_action(spec.edit(&["resource"]))
        }
        Some("unauthorized_client") => Error::provider(format!(
            "The provider does not allow this app to push sign-in requests (PAR). Check the app's settings at the \
             provider, or turn PAR off.{because}"
        ))
        .with_action(spec.edit(&["par"])),
        Some(_) => Error::provider(format!(
            "The provider refused the sign-in request Latch pushed to its PAR endpoint (HTTP {status}).{because} Check \
             the connection's settings."
        )),
        None => Error::provider(format!(
            "The provider's PAR endpoint refused the sign-in request (HTTP {status}). Check the connection's PAR \
             endpoint."
        ))
        .with_action(spec.edit(&["par_url"])),
    };
    match said {
        Some(said) => err.with_provider(said),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientAuth, Flow, OAuth2Settings};

    fn form(request: &Request<Vec<u8>>) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(request.body()).unwrap()
    }

    #[test]
    fn the_pushed_parameters_are_the_requests_own_not_the_endpoints() {
        let built = url::Url::parse(
            "https://id.example.com/auth?tenant=a&response_type=code&client_id=c1&state=s&scope=openid&resource=https%3A%2F%2Fapi",
        )
        .unwrap();
        let params = request_params(&built, "https://id.example.com/auth?tenant=a");
        let keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["response_type", "client_id", "state", "scope", "resource"]);
        assert_eq!(params[4].1, "https://api");
        let browser = browser_url("https://id.example.com/auth?tenant=a", "c1", "urn:ietf:params:oauth:request_uri:x").unwrap();
        assert_eq!(
            browser.as_str(),
            "https://id.example.com/auth?tenant=a&client_id=c1&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"
        );
    }

    #[test]
    fn a_push_authenticates_the_client_as_at_the_token_endpoint() {
        let params = vec![("response_type".to_string(), "code".to_string()), ("client_id".into(), "c 1".into())];
        let secret = ClientSecret::new("s3cr&t".into());
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c 1");

        spec.client_auth = ClientAuth::Basic;
        let request = push_request(&Target::new("x", &spec), Some(&secret), "https://id.example.com/par", &params).unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.headers()[header::CONTENT_TYPE], "application/x-www-form-urlencoded");
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode("c+1:s3cr%26t");
        assert_eq!(request.headers()[header::AUTHORIZATION], format!("Basic {basic}").as_str());
        assert_eq!(form(&request), params, "client_id once, no secret in the body");

        spec.client_auth = ClientAuth::Body;
        let request = push_request(&Target::new("x", &spec), Some(&secret), "https://id.example.com/par", &params).unwrap();
        assert!(request.headers().get(header::AUTHORIZATION).is_none());
        let mut expected = params.clone();
        expected.push(("client_secret".into(), "s3cr&t".into()));
        assert_eq!(form(&request), expected);

        spec.client_auth = ClientAuth::None;
        let without_id = vec![("response_type".to_string(), "code".to_string())];
        let request = push_request(&Target::new("x", &spec), None, "https://id.example.com/par", &without_id).unwrap();
        assert_eq!(form(&request), [("response_type".to_string(), "code".to_string()), ("client_id".into(), "c 1".into())]);
    }

    #[test]
    fn a_refusal_says_what_to_change_and_keeps_the_providers_words() {
        let spec = OAuth2Settings::new(Flow::AuthorizationCode, "c1");
        let target = Target::new("Lab", &spec);
        let err = refusal(401, br#"{"error":"invalid_client","error_description":"client authentication failed"}"#, &target);
        assert_eq!(
            err.message,
            "The provider rejected the client ID or secret when Latch pushed the sign-in request (PAR). It said: client \
             authentication failed."
        );
        assert_eq!(err.provider.as_ref().unwrap().error, "invalid_client");
        assert!(err.action.is_some());
        let err = refusal(400, br#"{"error":"invalid_request","error_description":"redirect_uri mismatch"}"#, &target);
        assert!(err.message.contains("refused the sign-in request Latch pushed"), "{}", err.message);
        assert!(err.message.contains("redirect_uri mismatch"), "{}", err.message);
        let err = refusal(503, b"<html>down</html>", &target);
        assert_eq!(err.kind, crate::error::ErrorKind::Network);
    }

    #[tokio::test]
    async fn an_endpoint_that_breaks_the_rules_is_not_contacted() {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c1");
        spec.par = true;
        spec.par_url = Some("http://id.example.com/par".into());
        let err = push(&Target::new("x", &spec), None, &[], &ProviderHttp::new()).await.unwrap_err();
        assert!(err.message.ends_with("Latch did not contact it."), "{}", err.message);
        assert_eq!(err.fields[0].field, "par_url");
    }
}
