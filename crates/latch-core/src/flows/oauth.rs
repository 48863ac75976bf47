//! The glue between a connection and oauth2-rs: client construction, the
//! HTTP adaptor that applies per-connection quirks, and the mapping of token
//! endpoint failures to sentences a person can act on.

use std::sync::Mutex;

use zeroize::Zeroizing;

use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::http::{self, header, HeaderValue};
use oauth2::{AuthType, ClientId, EndpointNotSet, RequestTokenError, StandardRevocableToken};
use serde_json::{Map, Value};

use super::token_response::{is_secret_key, normalize, redact_body, scrub, token_type_as_sent, LatchTokenResponse, TokenGrant};
use crate::error::{Action, Error, ProviderError};
use crate::http::{media_type, HttpError, HttpRequest, HttpResponse, ProviderHttp, OAUTH_RESPONSE_LIMIT};
use super::Target;
use super::client_assertion;
use super::dpop;
use crate::model::{ClientAuth, TokenRequestFormat};
use crate::secret::ClientSecret;

pub(crate) type OAuthClient<HasAuthUrl = EndpointNotSet, HasTokenUrl = EndpointNotSet> = oauth2::Client<
    BasicErrorResponse,
    LatchTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    HasTokenUrl,
>;

/// A client with the connection's id, secret and authentication method.
pub(crate) fn client(spec: &Target<'_>, secret: Option<&ClientSecret>) -> OAuthClient {
    let client = OAuthClient::new(ClientId::new(spec.client_id.clone()));
    match (spec.client_auth, secret) {
        (ClientAuth::Basic, Some(secret)) => client
            .set_client_secret(oauth2::ClientSecret::new(secret.secret().to_owned()))
            .set_auth_type(AuthType::BasicAuth),
        (ClientAuth::Body, Some(secret)) => client
            .set_client_secret(oauth2::ClientSecret::new(secret.secret().to_owned()))
            .set_auth_type(AuthType::RequestBody),
        _ => client.set_auth_type(AuthType::RequestBody),
    }
}

/// Client authentication on a form POST Latch sends by hand (revocation,
/// RFC 7009 §2.1; pushed authorization requests, RFC 9126 §2): the same as
/// at the token endpoint. `client_id` goes in the body unless HTTP Basic
/// carries it, and only when `with_client_id` (a PAR body already has it).
pub(crate) fn authenticate_form(
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    form: &mut url::form_urlencoded::Serializer<'_, String>,
    request: http::request::Builder,
    with_client_id: bool,
) -> crate::Result<http::request::Builder> {
    Ok(match (spec.client_auth, secret) {
        (ClientAuth::ClientSecretJwt | ClientAuth::PrivateKeyJwt, Some(secret)) => {
            if with_client_id {
                form.append_pair("client_id", &spec.client_id);
            }
            let url = request.uri_ref().map(|u| u.to_string()).unwrap_or_default();
            for (key, value) in client_assertion::form_params(spec.client_auth, &spec.client_id, secret, &assertion_audience(spec, &url))? {
                form.append_pair(key, &value);
            }
            request
        }
        (ClientAuth::Basic, Some(secret)) => {
            use base64::Engine as _;
            // RFC 6749 §2.3.1: each part form-urlencoded before Basic encoding.
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let credentials = Zeroizing::new(format!("{}:{}", encode(&spec.client_id), encode(secret.secret())));
            let value = Zeroizing::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes())
            ));
            request.header(header::AUTHORIZATION, value.as_str())
        }
        (ClientAuth::Body, Some(secret)) => {
            if with_client_id {
                form.append_pair("client_id", &spec.client_id);
            }
            form.append_pair("client_secret", secret.secret());
            request
        }
        _ => {
            if with_client_id {
                form.append_pair("client_id", &spec.client_id);
            }
            request
        }
    })
}

/// The `aud` of a client assertion: the token endpoint (RFC 7523 §3), also
/// for revocation and PAR, where servers accept it too; the request's own
/// URL when no token endpoint is set.
fn assertion_audience(spec: &Target<'_>, url: &str) -> String {
    spec.token_url.clone().unwrap_or_else(|| url.to_owned())
}

/// A form token request with the client assertion added, for JWT client
/// authentication (oauth2-rs sends `client_id` in the body and no secret).
fn with_client_assertion(request: HttpRequest, spec: &Target<'_>, secret: Option<&ClientSecret>) -> Result<HttpRequest, HttpError> {
    let (ClientAuth::ClientSecretJwt | ClientAuth::PrivateKeyJwt, Some(secret)) = (spec.client_auth, secret) else {
        return Ok(request);
    };
    let url = request.uri().to_string();
    let params = client_assertion::form_params(spec.client_auth, &spec.client_id, secret, &assertion_audience(spec, &url)).map_err(|err| {
        HttpError::Other { host: request.uri().host().unwrap_or_default().to_owned(), reason: err.message }
    })?;
    let (parts, body) = request.into_parts();
    let mut body = Zeroizing::new(body);
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in &params {
        form.append_pair(key, value);
    }
    let extra = Zeroizing::new(form.finish());
    if !body.is_empty() {
        body.push(b'&');
    }
    body.extend_from_slice(extra.as_bytes());
    Ok(http::Request::from_parts(parts, body.to_vec()))
}

/// Which token request is being made: it changes what an error means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Exchange,
    Refresh,
    ClientCredentials,
}

/// The last answer seen from the provider, with secrets removed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    status: u16,
    retry_after: Option<std::time::Duration>,
    media_type: String,
    body: String,
}

/// One token endpoint call with the connection's quirks applied on the way
/// out (JSON bodies) and back (`token_response::normalize`).
pub(crate) struct TokenCall<'a> {
    http: &'a ProviderHttp,
    spec: Target<'a>,
    /// Signs the client assertion with JWT client authentication.
    secret: Option<&'a ClientSecret>,
    seen: Mutex<Option<Seen>>,
    token_type: Mutex<Option<String>>,
    /// The secrets this call sent (code, verifier, refresh token, client
    /// secret): a provider that echoes one back never gets it shown or stored.
    sent: Mutex<Vec<Zeroizing<String>>>,
}

impl<'a> TokenCall<'a> {
    pub fn new(http: &'a ProviderHttp, spec: Target<'a>, secret: Option<&'a ClientSecret>) -> Self {
        TokenCall { http, spec, secret, seen: Mutex::new(None), token_type: Mutex::new(None), sent: Mutex::new(Vec::new()) }
    }

    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = with_client_assertion(request, &self.spec, self.secret)?;
        let mut sent = secrets_in(&request);
        sent.extend(self.secret.map(|s| Zeroizing::new(s.secret().to_owned())));
        *self.sent.lock().unwrap() = sent;
        let request = match self.spec.token_request_format {
            TokenRequestFormat::Form => request,
            TokenRequestFormat::Json => form_to_json(request),
        };
        // RFC 9449 §5: with DPoP, a proof on every token request (the
        // server's nonce asked for is sent once more).
        let response = match self.spec.dpop {
            Some(dpop) => dpop.send(self.http, request, OAUTH_RESPONSE_LIMIT, None).await?,
            None => self.http.send(request, OAUTH_RESPONSE_LIMIT).await?,
        };
        let media = media_type(response.headers());
        let body = {
            let sent = self.sent.lock().unwrap();
            let known: Vec<&str> = sent.iter().map(|s| s.as_str()).collect();
            redact_body(&media, response.body(), &known)
        };
        *self.seen.lock().unwrap() = Some(Seen {
            status: response.status().as_u16(),
            // RFC 9110 §10.2.3, the delay-seconds form (dates are rare from APIs).
            retry_after: response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(std::time::Duration::from_secs),
            body,
            media_type: media,
        });
        let response = normalize(response, self.spec.expires_in_unit);
        *self.token_type.lock().unwrap() = token_type_as_sent(&response);
        Ok(response)
    }

    /// `text` without any secret this call sent.
    fn scrub(&self, text: &str) -> String {
        let sent = self.sent.lock().unwrap();
        let known: Vec<&str> = sent.iter().map(|s| s.as_str()).collect();
        scrub(text, &known)
    }

    /// The error without any secret this call sent, wherever the provider
    /// echoed one: the sentence, the provider's own fields, the details.
    fn scrubbed(&self, mut err: Error) -> Error {
        err.message = self.scrub(&err.message);
        err.details = err.details.map(|d| self.scrub(&d));
        if let Some(said) = &mut err.provider {
            said.error = self.scrub(&said.error);
            said.error_description = said.error_description.as_deref().map(|d| self.scrub(d));
            said.error_uri = said.error_uri.as_deref().map(|u| self.scrub(u));
        }
        err
    }

    /// The grant in a successful token response read through this call.
    pub fn grant(&self, response: LatchTokenResponse) -> TokenGrant {
        TokenGrant::from_response(response, self.token_type.lock().unwrap().take())
    }

    /// What the provider last answered, secrets removed, for a details pane.
    pub fn details(&self) -> String {
        self.seen.lock().unwrap().as_ref().map(describe).unwrap_or_default()
    }

    /// Turns oauth2-rs's outcome into a grant or a sentence.
    pub fn finish(
        &self,
        outcome: Result<LatchTokenResponse, RequestTokenError<HttpError, BasicErrorResponse>>,
        step: Step,
    ) -> crate::Result<TokenGrant> {
        match outcome {
            Ok(response) => Ok(TokenGrant::from_response(response, self.token_type.lock().unwrap().take())),
            Err(err) => {
                let seen = self.seen.lock().unwrap().take();
                let details = seen.as_ref().map(describe).unwrap_or_default();
                let mut err = token_error(err, step, &self.spec, seen.as_ref()).with_details(details);
                err.retry_after = seen.and_then(|s| s.retry_after);
                Err(self.scrubbed(err))
            }
        }
    }
}

/// A named client type with a boxed `Send` future: with a closure, the
/// compiler cannot prove the future `Send` for every lifetime, and the
/// desktop shell runs these futures on a multi-threaded runtime.
impl<'c> oauth2::AsyncHttpClient<'c> for TokenCall<'_> {
    type Error = HttpError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// The secret values a token request carries: those under secret keys in
/// its form body, and the client secret in HTTP Basic authentication.
fn secrets_in(request: &HttpRequest) -> Vec<Zeroizing<String>> {
    let mut found: Vec<Zeroizing<String>> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(request.body())
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, _)| is_secret_key(key))
        .map(|(_, value)| Zeroizing::new(value))
        .collect();
    let basic = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    if let Some(encoded) = basic {
        use base64::Engine as _;
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
            let decoded = Zeroizing::new(String::from_utf8_lossy(&decoded).into_owned());
            if let Some((_, secret)) = decoded.split_once(':') {
                // RFC 6749 §2.3.1: form-urlencoded before Basic encoding.
                let mut pair = Zeroizing::new(String::from("s="));
                pair.push_str(secret);
                if let Some((_, plain)) = url::form_urlencoded::parse(pair.as_bytes()).next() {
                    found.push(Zeroizing::new(plain.into_owned()));
                }
                found.push(Zeroizing::new(secret.to_owned()));
            }
        }
    }
    found
}

fn describe(seen: &Seen) -> String {
    format!("HTTP {} {}\n{}", seen.status, seen.media_type, seen.body)
}

/// Re-encodes a form token request as a JSON object, for providers that
/// only read JSON (App Academy v2). Keys and values are kept as strings.
fn form_to_json(request: HttpRequest) -> HttpRequest {
    let (mut parts, body) = request.into_parts();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let object: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let body = serde_json::to_vec(&Value::Object(object)).expect("a JSON map serialises");
    http::Request::from_parts(parts, body)
}

fn token_error(
    err: RequestTokenError<HttpError, BasicErrorResponse>,
    step: Step,
    spec: &Target<'_>,
    seen: Option<&Seen>,
) -> Error {
    let name = spec.name;
    match err {
        RequestTokenError::ServerResponse(response) => {
            let said = ProviderError {
                error: response.error().as_ref().to_owned(),
                error_description: response.error_description().cloned(),
                error_uri: response.error_uri().cloned(),
            };
            let err = match (response.error(), step) {
                (BasicErrorResponseType::InvalidGrant, Step::Exchange) => Error::needs_authorization("The provider refused the sign-in code. It may have expired or been used already.")
                .with_action(spec.sign_in_again()),
                (BasicErrorResponseType::InvalidGrant | BasicErrorResponseType::UnauthorizedClient, Step::Refresh) => {
                    Error::needs_authorization(format!(
                        "'{name}' needs you to sign in again: the provider no longer accepts the saved sign-in."
                    ))
                    .with_action(spec.sign_in_again())
                }
                (BasicErrorResponseType::InvalidClient, _) if spec.uses_client_certificate() => {
                    let certificate = spec.client_certificate.as_ref().map(|c| format!(" ({})", c.subject)).unwrap_or_default();
                    Error::provider(format!(
                        "The provider did not accept the client certificate{certificate} for client ID '{}'. Check that this \
                         certificate is the one registered for the client at the provider, or import the right one.",
                        spec.client_id
                    ))
                    .with_action(spec.edit(&["client_id", "client_certificate"]))
                }
                (BasicErrorResponseType::InvalidClient, _) if spec.client_auth == ClientAuth::PrivateKeyJwt => {
                    Error::provider(format!(
                        "The provider rejected the client ID or the key it was signed with. Check that the public key \
                         Latch shows for this connection is the one registered for client ID '{}'.",
                        spec.client_id
                    ))
                    .with_action(spec.edit(&["client_id", "client_secret"]))
                }
                (BasicErrorResponseType::InvalidClient, _) => {
                    Error::provider("The provider rejected the client ID or secret.")
                        .with_action(spec.edit(&["client_id", "client_secret"]))
                }
                (BasicErrorResponseType::UnauthorizedClient, _) => Error::provider(format!(
                    "The provider does not allow this app to use the {} flow. Check the app's settings at the provider.",
                    spec.flow.label()
                )),
                (BasicErrorResponseType::InvalidScope, _) => {
                    Error::provider("The provider refused the requested scopes.")
                        .with_action(spec.edit(&["scopes"]))
                }
                (BasicErrorResponseType::UnsupportedGrantType, _) => Error::provider(format!(
                    "The provider does not support the {} flow at this token URI.",
                    spec.flow.label()
                )),
                // RFC 9449 §5: the proof was refused (or its nonce, after the one retry).
                (BasicErrorResponseType::Extension(code), _) if code == "invalid_dpop_proof" || code == dpop::USE_NONCE => {
                    Error::provider(
                        "The provider did not accept Latch's proof that this computer holds the connection's key \
                         (DPoP). If the service does not bind tokens, turn DPoP off for this connection.",
                    )
                    .with_action(spec.edit(&["dpop"]))
                }
                _ => Error::provider("The provider returned an error."),
            };
            err.with_provider(said)
        }
        RequestTokenError::Request(http) => http_error(http),
        RequestTokenError::Parse(err, _) => match seen {
            Some(seen) if seen.status >= 500 || seen.status == 429 => unavailable(seen.status),
            Some(seen) if seen.media_type.contains("html") => web_page_instead(seen.status),
            _ => Error::provider(format!(
                "The provider's token response could not be read (problem at '{}'). It is not the OAuth 2.0 response Latch expects; \
                 check the Token URI.",
                err.path()
            )),
        },
        RequestTokenError::Other(message) => match seen {
            Some(seen) if seen.status >= 500 || seen.status == 429 => unavailable(seen.status),
            Some(seen) if seen.media_type.contains("html") => web_page_instead(seen.status),
            Some(seen) => Error::provider(format!(
                "The provider's answer (HTTP {}) was not a token response: {message}. Check the Token URI.",
                seen.status
            )),
            None => Error::provider(format!("The token request failed: {message}.")),
        },
    }
}

/// A provider outage: worth retrying later (the refresher backs off).
fn unavailable(status: u16) -> Error {
    let what = if status == 429 { "is limiting requests".to_string() } else { format!("answered HTTP {status}") };
    Error::network(format!(
        "The provider {what} and did not issue a token. It may be having trouble; Latch will try again, or try again in a few minutes."
    ))
}

fn web_page_instead(status: u16) -> Error {
    Error::provider(format!(
        "The provider answered with a web page (HTTP {status}) instead of a token response. Check that the Token URI is the \
         provider's API endpoint, not a sign-in page."
    ))
}

pub(crate) fn http_error(err: HttpError) -> Error {
    match err {
        HttpError::Timeout { .. } => Error::network(format!("{err}. The provider may be overloaded; try again later.")),
        HttpError::Connect { .. } => {
            Error::network(format!("Latch {err}. Check your network connection and the provider's address."))
                .with_action(Action::CheckNetwork)
        }
        HttpError::TooLarge { .. } => Error::provider(format!("{}. Check the provider's address.", capitalise(&err.to_string()))),
        HttpError::Other { .. } => Error::network(format!("{}.", capitalise(&err.to_string()))),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

pub(crate) fn invalid_url(field: &'static str, err: url::ParseError) -> Error {
    Error::validation(field, format!("The address in '{field}' is not a valid URL ({err})."))
}
