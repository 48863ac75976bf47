//! OAuth 1.0a connections in the engine (RFC 5849): the three-legged sign-in
//! (request token → the browser → access token), signed API requests, the
//! token and token secret for scripts, and forgetting them on disconnect.
//!
//! Secrets: the consumer secret in the client secret slot, an RSA private
//! key in `OAUTH1_PRIVATE_KEY`, the token secret inside the token set's
//! data (one keyring entry with the token).

use serde_json::{Map as JsonMap, Value as Json};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use super::sign_in::Announcer;
use super::{Engine, SignInOptions};
use crate::error::{Error, ErrorKind, ProviderError, Result};
use crate::events::SignInEvent;
use crate::flows::loopback::{LoopbackListener, RedirectParams, ResponseMode};
use crate::flows::oauth1::{self as signer, Key, Method, Signing, Transport};
use crate::flows::token_response::TokenGrant;
use crate::http::OAUTH_RESPONSE_LIMIT;
use crate::model::{
    Callback, Connection, KeyValue, OAuth1Settings, ParameterTransport, SignatureMethod, OAUTH1_CALLBACK_PATH,
    OAUTH1_PRIVATE_KEY,
};
use crate::request::{self, ApiRequest, ApiResponse, RequestPreview};
use crate::secret::{AccessToken, ClientSecret, TokenData, TokenSet};

/// The secrets a signature needs.
struct Keys {
    consumer_secret: Option<ClientSecret>,
    private_key: Option<rsa::RsaPrivateKey>,
}

/// A token and its secret, as `latch token` prints them for an OAuth 1.0a
/// connection (there is no bearer token to print).
pub struct OAuth1Token {
    pub token: AccessToken,
    pub token_secret: AccessToken,
}

fn method_of(settings: &OAuth1Settings) -> Method {
    match settings.signature_method {
        SignatureMethod::HmacSha1 => Method::HmacSha1,
        SignatureMethod::HmacSha256 => Method::HmacSha256,
        SignatureMethod::RsaSha1 => Method::RsaSha1,
        SignatureMethod::RsaSha256 => Method::RsaSha256,
        SignatureMethod::Plaintext => Method::Plaintext,
    }
}

fn transport_of(settings: &OAuth1Settings) -> Transport {
    match settings.transport {
        ParameterTransport::Header => Transport::Header,
        ParameterTransport::Query => Transport::Query,
        ParameterTransport::Body => Transport::Body,
    }
}

/// The token secret and the extra fields kept with an OAuth 1.0a token.
fn token_secret(tokens: &TokenSet) -> Option<String> {
    let data: JsonMap<String, Json> = serde_json::from_str(tokens.data.as_ref()?.secret()).ok()?;
    data.get("oauth_token_secret").and_then(Json::as_str).map(str::to_owned)
}

/// A form-encoded (or JSON) token answer as pairs.
fn parse_answer(body: &[u8]) -> JsonMap<String, Json> {
    if let Ok(Json::Object(object)) = serde_json::from_slice::<Json>(body) {
        return object;
    }
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), Json::String(v.into_owned()))).collect()
}

/// The sentence for a refused OAuth 1.0a request (OAuth Problem Reporting).
fn refusal(step: &str, status: u16, body: &[u8]) -> Error {
    let answer = parse_answer(body);
    let problem = answer.get("oauth_problem").and_then(Json::as_str).unwrap_or("");
    let advice = answer.get("oauth_problem_advice").and_then(Json::as_str);
    let (kind, message) = match problem {
        "timestamp_refused" => (
            ErrorKind::Provider,
            format!("The provider refused the {step}: this computer's clock differs from the provider's by more than it allows. Set the clock automatically and try again."),
        ),
        "nonce_used" => (ErrorKind::Network, format!("The provider refused the {step} as a repeat. Try again.")),
        "signature_invalid" => (
            ErrorKind::Provider,
            format!("The provider refused the {step}'s signature: check the consumer secret (or the private key) and the signature method."),
        ),
        "consumer_key_unknown" | "consumer_key_rejected" | "consumer_key_refused" => {
            (ErrorKind::Provider, format!("The provider does not know this consumer key (the {step} was refused). Check the consumer key."))
        }
        "token_rejected" | "token_expired" | "token_revoked" | "permission_denied" | "token_used" => (
            ErrorKind::NeedsAuthorization,
            format!("The provider no longer accepts the saved sign-in (the {step} was refused)."),
        ),
        "signature_method_rejected" => (
            ErrorKind::Provider,
            format!("The provider does not accept this signature method for the {step}. Choose the one it documents."),
        ),
        _ if status == 401 => (ErrorKind::Provider, format!("The provider refused the {step} (HTTP 401).")),
        _ => (ErrorKind::Provider, format!("The provider answered the {step} with HTTP {status}.")),
    };
    let mut err = Error::new(kind, message);
    if !problem.is_empty() {
        err = err.with_provider(ProviderError {
            error: crate::error::printable(problem, false),
            error_description: advice.map(|a| crate::error::printable(a, false)),
            error_uri: None,
        });
    }
    err
}

fn with_params(url: &str, params: &[KeyValue]) -> Result<url::Url> {
    let mut url = crate::validate::check_endpoint_url("The address", url).map_err(|m| Error::validation("url", m))?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params.iter().map(|kv| (kv.key.as_str(), kv.value.as_str())));
    }
    Ok(url)
}

impl Engine {
    async fn oauth1_keys(&self, connection: &Connection, settings: &OAuth1Settings) -> Result<Keys> {
        let consumer_secret = self.client_secret(connection).await?;
        let private_key = if settings.signature_method.uses_private_key() {
            let pem = self.secrets.kind_secret(&connection.id, OAUTH1_PRIVATE_KEY.name()).await?.ok_or_else(|| {
                Error::validation(
                    "private_key",
                    format!("'{}' signs with RSA but has no private key saved. Add it in the connection's settings.", connection.name),
                )
            })?;
            Some(signer::private_key_from_pem(&pem)?)
        } else {
            if consumer_secret.is_none() {
                return Err(Error::validation(
                    "client_secret",
                    format!("'{}' has no consumer secret saved. Add it in the connection's settings.", connection.name),
                ));
            }
            None
        };
        Ok(Keys { consumer_secret, private_key })
    }

    /// Saves an OAuth 1.0a connection's RSA private key (PEM), once it reads.
    pub async fn set_oauth1_private_key(&self, name_or_id: &str, pem: &str) -> Result<()> {
        let connection = self.get(name_or_id)?;
        if connection.settings.oauth1().is_none() {
            return Err(Error::validation("kind", format!("'{}' is not an OAuth 1.0a connection.", connection.name)));
        }
        signer::private_key_from_pem(pem)?;
        self.secrets.set_kind_secret(&connection.id, OAUTH1_PRIVATE_KEY.name(), pem.trim()).await?;
        self.announce(crate::events::EngineEvent::Changed { id: connection.id.clone() });
        Ok(())
    }

    /// Signs and sends `request`. A refusal as a repeated nonce is tried
    /// once more with a fresh one.
    #[allow(clippy::too_many_arguments)]
    async fn oauth1_send(
        &self,
        settings: &OAuth1Settings,
        keys: &Keys,
        token: Option<(&str, &str)>,
        callback: Option<&str>,
        verifier: Option<&str>,
        request: &oauth2::http::Request<Vec<u8>>,
        limit: usize,
    ) -> Result<oauth2::http::Response<Vec<u8>>> {
        let mut retried = false;
        loop {
            let mut signed = request.clone();
            self.oauth1_sign(settings, keys, token, callback, verifier, &mut signed)?;
            let response = self
                .http()
                .send(signed, limit)
                .await
                .map_err(|err| Error::network(format!("The provider could not be reached: {err}.")))?;
            let nonce_used = response.status().as_u16() == 401
                && parse_answer(response.body()).get("oauth_problem").and_then(Json::as_str) == Some("nonce_used");
            if nonce_used && !retried {
                retried = true;
                continue;
            }
            return Ok(response);
        }
    }

    fn oauth1_sign(
        &self,
        settings: &OAuth1Settings,
        keys: &Keys,
        token: Option<(&str, &str)>,
        callback: Option<&str>,
        verifier: Option<&str>,
        request: &mut oauth2::http::Request<Vec<u8>>,
    ) -> Result<()> {
        let key = match &keys.private_key {
            Some(rsa) => Key::Rsa(rsa),
            None => Key::Secret {
                consumer_secret: keys.consumer_secret.as_ref().map(ClientSecret::secret).unwrap_or(""),
                token_secret: token.map(|(_, secret)| secret),
            },
        };
        let signing = Signing {
            method: method_of(settings),
            transport: transport_of(settings),
            consumer_key: &settings.consumer_key,
            key,
            token: token.map(|(t, _)| t),
            callback,
            verifier,
            body_hash: settings.body_hash,
            now: self.now(),
            nonce: None,
        };
        signer::sign(&signing, request)
    }

    /// The three legs: a request token, the user's approval in the browser
    /// (or the code an `oob` provider shows), the access token.
    pub(super) async fn oauth1_sign_in(
        &self,
        connection: &Connection,
        settings: &OAuth1Settings,
        options: &SignInOptions,
        announcer: &Announcer,
        pasted: oneshot::Receiver<Zeroizing<String>>,
    ) -> Result<(TokenGrant, Option<String>)> {
        let keys = self.oauth1_keys(connection, settings).await?;
        let state = oauth2::CsrfToken::new_random();
        let listener = match settings.callback {
            Callback::Loopback => Some(LoopbackListener::bind(settings.redirect_port, OAUTH1_CALLBACK_PATH).await?),
            Callback::Oob => None,
        };
        // The callback carries Latch's `state`: the provider keeps the
        // callback's query (RFC 5849 §2.2), so the listener knows its own.
        let callback = match &listener {
            Some(listener) => format!("{}?state={}", settings.callback_uri(listener.port()), state.secret()),
            None => "oob".to_owned(),
        };
        announcer.emit(self, SignInEvent::Requesting);
        let request_token_url = settings.request_token_url.as_deref().unwrap_or_default();
        let url = with_params(request_token_url, &[])?;
        let form = form_of(&settings.request_token_params);
        let request = post_form(&url, form)?;
        let response = self.oauth1_send(settings, &keys, None, Some(&callback), None, &request, OAUTH_RESPONSE_LIMIT).await?;
        if !response.status().is_success() {
            return Err(refusal("request for a request token", response.status().as_u16(), response.body()));
        }
        let answer = parse_answer(response.body());
        let (Some(temporary), Some(temporary_secret)) = (
            answer.get("oauth_token").and_then(Json::as_str).map(str::to_owned),
            answer.get("oauth_token_secret").and_then(Json::as_str).map(|s| Zeroizing::new(s.to_owned())),
        ) else {
            return Err(Error::provider("The provider's answer to the request token request holds no oauth_token and oauth_token_secret."));
        };
        let mut authorize = with_params(settings.authorize_url.as_deref().unwrap_or_default(), &settings.authorize_params)?;
        authorize.query_pairs_mut().append_pair("oauth_token", &temporary);
        let browser_error = self.open_in_browser(authorize.as_str());
        let deadline = listener.as_ref().map(|_| self.now() + chrono::Duration::from_std(options.timeout).unwrap_or_default());
        announcer.emit(
            self,
            SignInEvent::Started {
                authorize_url: authorize.to_string(),
                redirect_uri: callback.split('?').next().unwrap_or_default().to_owned(),
                deadline,
                browser_error,
                paste: listener.is_none(),
            },
        );
        let verifier = match listener {
            Some(listener) => {
                let params = listener.wait(ResponseMode::Query, state.secret(), options.timeout).await?;
                callback_verifier(&params, &temporary)?
            }
            None => {
                // `oob`: the code the provider showed, as the user typed it.
                let typed = pasted.await.map_err(|_| Error::cancelled("Sign-in cancelled."))?;
                announcer.emit(self, SignInEvent::AddressReceived);
                let code = typed.trim();
                if code.is_empty() {
                    return Err(Error::validation("paste", "No code was entered. Connect again and type the code the provider shows."));
                }
                Zeroizing::new(code.to_owned())
            }
        };
        announcer.emit(self, SignInEvent::Requesting);
        let url = with_params(settings.access_token_url.as_deref().unwrap_or_default(), &[])?;
        let request = post_form(&url, form_of(&settings.access_token_params))?;
        let token = Some((temporary.as_str(), temporary_secret.as_str()));
        let response = self.oauth1_send(settings, &keys, token, None, Some(&verifier), &request, OAUTH_RESPONSE_LIMIT).await?;
        if !response.status().is_success() {
            return Err(refusal("request for an access token", response.status().as_u16(), response.body()));
        }
        let answer = parse_answer(response.body());
        let (Some(access), Some(secret)) = (
            answer.get("oauth_token").and_then(Json::as_str).map(str::to_owned),
            answer.get("oauth_token_secret").and_then(Json::as_str).map(str::to_owned),
        ) else {
            return Err(Error::provider("The provider's answer to the access token request holds no oauth_token and oauth_token_secret."));
        };
        let account = ["screen_name", "username", "user_name", "name", "email", "user_id", "userid"]
            .iter()
            .find_map(|k| answer.get(*k).and_then(Json::as_str).filter(|v| !v.trim().is_empty()).map(|v| v.trim().to_owned()));
        let mut data = answer.clone();
        data.remove("oauth_token");
        data.insert("oauth_token_secret".into(), Json::String(secret));
        let tokens = TokenSet {
            access_token: AccessToken::new(access),
            refresh_token: None,
            id_token: None,
            token_type: "OAuth".into(),
            data: Some(TokenData::new(Json::Object(data).to_string())),
        };
        Ok((TokenGrant { tokens, expires_in: None, refresh_expires_in: None, scopes: None, account }, None))
    }

    /// The account from the connection's info URL (a signed GET).
    pub(super) async fn oauth1_account(&self, connection: &Connection, settings: &OAuth1Settings, tokens: &TokenSet) -> Result<Option<String>> {
        let Some(info_url) = settings.info_url.clone() else { return Ok(None) };
        let response = self.oauth1_api(connection, settings, tokens, &ApiRequest::get(info_url)).await?;
        if !(200..300).contains(&response.status) {
            return Err(Error::provider(format!("the info URI answered HTTP {}", response.status)));
        }
        Ok(request::account_name(&response.body))
    }

    async fn oauth1_api(&self, connection: &Connection, settings: &OAuth1Settings, tokens: &TokenSet, api: &ApiRequest) -> Result<ApiResponse> {
        let keys = self.oauth1_keys(connection, settings).await?;
        let secret = Zeroizing::new(token_secret(tokens).unwrap_or_default());
        let request = plain_request(api)?;
        let token = Some((tokens.access_token.secret(), secret.as_str()));
        let response = self.oauth1_send(settings, &keys, token, None, None, &request, crate::http::API_RESPONSE_LIMIT).await?;
        Ok(ApiResponse {
            status: response.status().as_u16(),
            reason: response.status().canonical_reason().unwrap_or("").to_owned(),
            headers: response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: response.into_body(),
        })
    }

    /// `api` signed for this one request, not sent.
    pub(super) async fn oauth1_signed(&self, connection: &Connection, tokens: &TokenSet, api: &ApiRequest) -> Result<oauth2::http::Request<Vec<u8>>> {
        let settings = connection.settings.oauth1().ok_or_else(|| Error::validation("kind", "not an OAuth 1.0a connection"))?;
        let keys = self.oauth1_keys(connection, settings).await?;
        let secret = Zeroizing::new(token_secret(tokens).unwrap_or_default());
        let mut request = plain_request(api)?;
        self.oauth1_sign(settings, &keys, Some((tokens.access_token.secret(), secret.as_str())), None, None, &mut request)?;
        Ok(request)
    }

    /// An API request, signed for this one request.
    pub(super) async fn oauth1_request(&self, name_or_id: &str, api: &ApiRequest) -> Result<ApiResponse> {
        self.check_destination(&self.get(name_or_id)?, &api.url)?;
        let (connection, tokens) = self.fresh_tokens(name_or_id).await?;
        let settings = connection.settings.oauth1().cloned().ok_or_else(|| Error::validation("kind", "not an OAuth 1.0a connection"))?;
        let response = self.oauth1_api(&connection, &settings, &tokens, api).await?;
        if response.status == 401 {
            let problem = parse_answer(&response.body).get("oauth_problem").and_then(Json::as_str).map(str::to_owned);
            if matches!(problem.as_deref(), Some("token_rejected" | "token_expired" | "token_revoked")) {
                let err = refusal("request", 401, &response.body).with_action(connection.sign_in_again());
                self.record_failure(&connection.id, &err, true)?;
            }
        }
        Ok(response)
    }

    /// The token and its secret for scripts that sign requests themselves.
    pub async fn oauth1_token(&self, name_or_id: &str) -> Result<(Connection, OAuth1Token)> {
        let (connection, tokens) = self.fresh_tokens(name_or_id).await?;
        if connection.settings.oauth1().is_none() {
            return Err(Error::validation("kind", format!("'{}' is not an OAuth 1.0a connection.", connection.name)));
        }
        let secret = token_secret(&tokens).unwrap_or_default();
        Ok((connection, OAuth1Token { token: tokens.access_token, token_secret: AccessToken::new(secret) }))
    }

    /// Where a request would go; the signature is made when it is sent.
    pub(super) fn oauth1_preview(&self, api: &ApiRequest) -> Result<RequestPreview> {
        let mut request = plain_request(api)?;
        request.headers_mut().insert(
            oauth2::http::header::AUTHORIZATION,
            oauth2::http::HeaderValue::from_static("OAuth (signed for each request when it is sent)"),
        );
        Ok(request::preview_of(&request))
    }

    /// A curl line with a signature computed for this one request: it works
    /// once (the nonce), and says so.
    pub(super) async fn oauth1_curl(&self, name_or_id: &str, api: &ApiRequest, include_token: bool) -> Result<Zeroizing<String>> {
        if !include_token {
            return Err(Error::validation(
                "include_token",
                "An OAuth 1.0a request is signed for each request: copy it with its signature (it works once).",
            ));
        }
        self.check_destination(&self.get(name_or_id)?, &api.url)?;
        let (connection, tokens) = self.fresh_tokens(name_or_id).await?;
        let request = self.oauth1_signed(&connection, &tokens, api).await?;
        let mut line = Zeroizing::new(String::from("# Signed for one use: the provider refuses a second use of its nonce.\n"));
        let body = (!request.body().is_empty()).then(|| request.body().clone());
        line.push_str(&request::curl_of(&request, body.as_deref(), None));
        Ok(line)
    }

    /// Tells the provider to forget the token, when the connection has a
    /// revoke URL; `None` when it has none.
    pub(super) async fn oauth1_revoke(&self, connection: &Connection, settings: &OAuth1Settings, tokens: &TokenSet) -> Option<Result<()>> {
        let url = settings.revoke_url.clone()?;
        let outcome = async {
            let keys = self.oauth1_keys(connection, settings).await?;
            let secret = Zeroizing::new(token_secret(tokens).unwrap_or_default());
            let request = post_form(&with_params(&url, &[])?, String::new())?;
            let token = Some((tokens.access_token.secret(), secret.as_str()));
            let response = self.oauth1_send(settings, &keys, token, None, None, &request, OAUTH_RESPONSE_LIMIT).await?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(refusal("sign-out", response.status().as_u16(), response.body()))
            }
        }
        .await;
        Some(outcome)
    }
}

/// The `oauth_verifier` of a loopback callback, after checking that it
/// answers the request token Latch got (the OAuth 1.0a `state`).
fn callback_verifier(params: &RedirectParams, temporary: &str) -> Result<Zeroizing<String>> {
    if params.get("error").or(params.get("oauth_problem")).is_some() {
        return Err(Error::needs_authorization("The sign-in was refused or cancelled at the provider."));
    }
    match params.get("oauth_token") {
        Some(token) if token == temporary => {}
        _ => {
            return Err(Error::provider(
                "The provider's answer did not name the request Latch made (a different or missing oauth_token), so \
                 Latch ignored it and asked for no access token. Connect again.",
            ))
        }
    }
    params
        .get("oauth_verifier")
        .filter(|v| !v.is_empty())
        .map(|v| Zeroizing::new(v.to_owned()))
        .ok_or_else(|| Error::provider("The provider sent you back without an oauth_verifier. Connect again."))
}

fn form_of(params: &[KeyValue]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter().map(|kv| (kv.key.as_str(), kv.value.as_str()))).finish()
}

fn post_form(url: &url::Url, form: String) -> Result<oauth2::http::Request<Vec<u8>>> {
    oauth2::http::Request::builder()
        .method("POST")
        .uri(url.as_str())
        .header(oauth2::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form.into_bytes())
        .map_err(|err| Error::validation("url", format!("The request could not be built ({err}).")))
}

/// The caller's request, unsigned.
fn plain_request(api: &ApiRequest) -> Result<oauth2::http::Request<Vec<u8>>> {
    let method = oauth2::http::Method::from_bytes(api.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::validation("method", format!("'{}' is not an HTTP method, e.g. GET or POST.", api.method)))?;
    let url = crate::validate::check_endpoint_url("Request URL", api.url.trim()).map_err(|message| Error::validation("url", message))?;
    let mut builder = oauth2::http::Request::builder().method(method).uri(url.as_str());
    for (key, value) in &api.headers {
        builder = builder.header(key.as_str(), value.as_str());
    }
    builder.body(api.body.clone().unwrap_or_default()).map_err(|err| Error::validation("headers", format!("The request could not be built ({err}).")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> RedirectParams {
        RedirectParams::from_pasted_url(&format!("http://127.0.0.1:1/callback?{query}"), "http://127.0.0.1:1/callback", ResponseMode::Query)
            .unwrap()
    }

    #[test]
    fn a_callback_naming_another_request_token_is_refused_before_any_access_token_request() {
        let err = callback_verifier(&params("state=s&oauth_token=forged&oauth_verifier=v"), "issued").unwrap_err();
        assert!(err.message.contains("different or missing oauth_token"), "{}", err.message);
        assert!(callback_verifier(&params("state=s&oauth_verifier=v"), "issued").is_err(), "missing");
        assert!(callback_verifier(&params("state=s&oauth_token=issued"), "issued").is_err(), "no verifier");
        assert_eq!(callback_verifier(&params("state=s&oauth_token=issued&oauth_verifier=v1"), "issued").unwrap().as_str(), "v1");
    }

    #[test]
    fn oauth_problems_become_sentences_with_the_next_step() {
        let err = refusal("request", 401, b"oauth_problem=timestamp_refused&oauth_acceptable_timestamps=1-2");
        assert!(err.message.contains("clock"), "{}", err.message);
        assert_eq!(err.provider.unwrap().error, "timestamp_refused");
        assert_eq!(refusal("request", 401, b"oauth_problem=token_rejected").kind, ErrorKind::NeedsAuthorization);
        assert!(refusal("request", 401, b"oauth_problem=signature_invalid").message.contains("consumer secret"));
        assert!(refusal("request", 500, b"<html>").message.contains("HTTP 500"));
    }
}
