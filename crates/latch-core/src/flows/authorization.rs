//! The browser flows: authorization code (with PKCE by default, RFC 7636)
//! and implicit (legacy). Both open the system browser and wait on the
//! loopback listener.

use std::time::Duration;

use oauth2::{AuthUrl, AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, TokenUrl};

use super::discovery;
use super::par;
use super::loopback::{check_state, LoopbackListener, RedirectParams, ResponseMode};
use super::oauth::{self, invalid_url, Step, TokenCall};
use super::token_response::{normalize, token_type_as_sent, LatchTokenResponse, TokenGrant};
use crate::error::{Error, ProviderError, Result};
use crate::http::ProviderHttp;
use super::Target;
use crate::model::{Flow, Pkce};
use crate::secret::ClientSecret;
use crate::validate::check_endpoint_url;

/// A sign-in waiting for the browser. Holds the PKCE verifier and `state` in
/// memory only, for this one flow.
pub struct PendingSignIn {
    pub authorize_url: url::Url,
    pub redirect_uri: String,
    /// None in the paste flow: the user brings the response back by hand.
    listener: Option<LoopbackListener>,
    state: CsrfToken,
    verifier: Option<PkceCodeVerifier>,
    mode: ResponseMode,
}

/// What a finished browser sign-in yields.
pub struct SignedIn {
    pub grant: TokenGrant,
    /// The issuer confirmed through the response's `iss` (RFC 9207), when
    /// the connection did not know it yet.
    pub learned_issuer: Option<String>,
}

/// Binds the listener and builds the authorization URL (pushing the
/// request first when the connection uses PAR).
pub async fn begin(spec: &Target<'_>, secret: Option<&ClientSecret>, http: &ProviderHttp) -> Result<PendingSignIn> {
    if let Some(fixed) = &spec.redirect_uri_override {
        return Err(Error::validation(
            "redirect_uri_override",
            format!(
                "'{}' redirects to the hosted page {fixed}, which Latch cannot listen on. Sign in by pasting the \
                 address the browser ends on.",
                spec.name
            ),
        )
        .with_action(spec.sign_in_again()));
    }
    let listener = LoopbackListener::bind(spec.redirect_port, &spec.redirect_path).await?;
    let redirect_uri = spec.redirect_uri(listener.port());
    pushed(build(spec, redirect_uri, Some(listener))?, spec, secret, http).await
}

/// Builds the authorization URL for the paste flow: the provider redirects
/// to a hosted page (or a fixed loopback port nobody listens on) and the
/// user pastes the address the browser ends on.
pub async fn begin_paste(spec: &Target<'_>, secret: Option<&ClientSecret>, http: &ProviderHttp) -> Result<PendingSignIn> {
    let redirect_uri = match (&spec.redirect_uri_override, spec.redirect_port) {
        (Some(fixed), _) => fixed.clone(),
        (None, 0) => {
            return Err(Error::validation(
                "redirect_uri_override",
                format!(
                    "To paste the sign-in response, '{}' needs a fixed redirect URI: set the one registered with the \
                     provider (or a fixed redirect port).",
                    spec.name
                ),
            )
            .with_action(spec.edit(&["redirect_uri_override"])))
        }
        (None, port) => spec.redirect_uri(port),
    };
    pushed(build(spec, redirect_uri, None)?, spec, secret, http).await
}

/// With PAR (RFC 9126), the request's parameters go to the PAR endpoint and
/// the browser's address carries only `client_id` and the `request_uri`
/// answered. `state` and the PKCE verifier stay here, as without PAR.
async fn pushed(
    mut pending: PendingSignIn,
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    http: &ProviderHttp,
) -> Result<PendingSignIn> {
    if !spec.pushes_authorization_request() {
        return Ok(pending);
    }
    let endpoint = spec.authorize_url.as_deref().unwrap_or_default();
    let params = par::request_params(&pending.authorize_url, endpoint);
    let pushed = par::push(spec, secret, &params, http).await?;
    pending.authorize_url = par::browser_url(endpoint, &spec.client_id, &pushed.request_uri)?;
    Ok(pending)
}

fn build(spec: &Target<'_>, redirect_uri: String, listener: Option<LoopbackListener>) -> Result<PendingSignIn> {
    let authorize_url = spec.authorize_url.as_deref().ok_or_else(|| {
        Error::validation("authorize_url", "Authorize URI is required to sign in in the browser.")
    })?;
    let client = oauth::client(spec, None)
        .set_auth_uri(AuthUrl::new(authorize_url.to_owned()).map_err(|e| invalid_url("authorize_url", e))?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).map_err(|e| invalid_url("redirect_path", e))?);

    // 256 bits of state: well above RFC 6749 §10.10's guessing bound.
    let mut request = client.authorize_url(|| CsrfToken::new_random_len(32));
    let mode = match spec.flow {
        Flow::Implicit => {
            request = request.use_implicit_flow();
            ResponseMode::Fragment
        }
        _ => ResponseMode::Query,
    };
    let verifier = match (spec.flow, spec.pkce) {
        (Flow::AuthorizationCode, Pkce::S256) => {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            Some(verifier)
        }
        (Flow::AuthorizationCode, Pkce::Plain) => {
            let (challenge, verifier) = PkceCodeChallenge::new_random_plain();
            request = request.set_pkce_challenge(challenge);
            Some(verifier)
        }
        _ => None,
    };
    // The scope parameter is joined here rather than by oauth2-rs, which
    // always uses a space: some providers need commas.
    if !spec.scopes.is_empty() {
        request = request.add_extra_param("scope", spec.scope_separator.join(&spec.scopes));
    }
    for kv in &spec.authorize_params {
        request = request.add_extra_param(kv.key.clone(), kv.value.clone());
    }
    for resource in &spec.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    // RFC 9449 §10: the code is bound to the connection's key (its
    // thumbprint), so only a proof with that key can exchange it.
    if let Some(dpop) = spec.dpop.filter(|_| spec.flow == Flow::AuthorizationCode) {
        request = request.add_extra_param("dpop_jkt", dpop.key.thumbprint());
    }
    let (authorize_url, state) = request.url();
    Ok(PendingSignIn { authorize_url, redirect_uri, listener, state, verifier, mode })
}

/// Waits for the browser, checks the response and, for the code flow,
/// exchanges the code.
pub async fn finish(
    pending: PendingSignIn,
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    http: &ProviderHttp,
    timeout: Duration,
) -> Result<SignedIn> {
    let PendingSignIn { redirect_uri, listener, state, verifier, mode, .. } = pending;
    let Some(listener) = listener else {
        return Err(Error::validation("paste", "This sign-in waits for a pasted address, not for the browser."));
    };
    // The listener checks `state` before it hands the response over.
    let params = listener.wait(mode, state.secret(), timeout).await?;
    complete(params, redirect_uri, verifier, mode, spec, secret, http).await
}

/// The paste flow's end: the address the user pasted goes through the same
/// checks as a loopback response (redirect URI, `state`, `iss`), then the
/// code is exchanged with the same redirect URI.
pub async fn finish_pasted(
    pending: PendingSignIn,
    pasted: &str,
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    http: &ProviderHttp,
) -> Result<SignedIn> {
    let PendingSignIn { redirect_uri, state, verifier, mode, .. } = pending;
    let params = RedirectParams::from_pasted_url(pasted, &redirect_uri, mode)?;
    check_state(&params, state.secret())?;
    complete(params, redirect_uri, verifier, mode, spec, secret, http).await
}

/// Everything after `state` was checked: provider errors, the issuer
/// (RFC 9207), then the token (implicit) or the code exchange.
async fn complete(
    params: RedirectParams,
    redirect_uri: String,
    verifier: Option<PkceCodeVerifier>,
    mode: ResponseMode,
    spec: &Target<'_>,
    secret: Option<&ClientSecret>,
    http: &ProviderHttp,
) -> Result<SignedIn> {
    if let Some(code) = params.get("error") {
        return Err(authorization_error(code, params.get("error_description"), params.get("error_uri"), spec));
    }
    // Mix-up defence (RFC 9207): check who answered before the code goes anywhere.
    let learned_issuer = verify_issuer(http, spec, params.get("iss")).await?;

    let grant = match mode {
        ResponseMode::Fragment => implicit_grant(&params, spec)?,
        ResponseMode::Query => {
            let code = params.get("code").ok_or_else(|| {
                Error::provider("The provider's sign-in response had neither a code nor an error. Connect again.")
            })?;
            let token_url = spec.token_url.as_deref().ok_or_else(|| {
                Error::validation("token_url", "Token URI is required for the authorization code flow.")
            })?;
            let client = oauth::client(spec, secret)
                .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|e| invalid_url("token_url", e))?)
                // Byte-identical to the one sent to the authorize endpoint (RFC 6749 §4.1.3).
                .set_redirect_uri(RedirectUrl::new(redirect_uri).map_err(|e| invalid_url("redirect_path", e))?);
            let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
            if let Some(verifier) = verifier {
                request = request.set_pkce_verifier(verifier);
            }
            for kv in &spec.token_params {
                request = request.add_extra_param(kv.key.clone(), kv.value.clone());
            }
            for resource in &spec.resource {
                request = request.add_extra_param("resource", resource.clone());
            }
            let call = TokenCall::new(http, *spec, secret);
            let outcome = request.request_async(&call).await;
            call.finish(outcome, Step::Exchange)?
        }
    };
    Ok(SignedIn { grant, learned_issuer })
}

/// The implicit flow's token arrives in the fragment; it is read with the
/// same lenient rules as a token endpoint response.
fn implicit_grant(params: &RedirectParams, spec: &Target<'_>) -> Result<TokenGrant> {
    if params.get("access_token").is_none() {
        return Err(Error::provider("The provider's sign-in response had no access token. Connect again."));
    }
    let keys = ["access_token", "token_type", "expires_in", "scope", "id_token", "refresh_expires_in"];
    let object: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .filter_map(|k| params.get(k).map(|v| ((*k).to_owned(), serde_json::Value::from(v))))
        .collect();
    let body = zeroize::Zeroizing::new(serde_json::to_vec(&object).expect("a JSON map serialises"));
    let response = oauth2::http::Response::builder()
        .header("content-type", "application/json")
        .body(body.to_vec())
        .expect("a response builds");
    let response = normalize(response, spec.expires_in_unit);
    let parsed: LatchTokenResponse = serde_json::from_slice(response.body())
        .map_err(|_| Error::provider("The provider's sign-in response could not be read as a token. Connect again."))?;
    Ok(TokenGrant::from_response(parsed, token_type_as_sent(&response)))
}

/// RFC 9207: when the response names its issuer, it must be the one this
/// connection talks to. With no issuer on record, the named issuer's own
/// metadata must list this connection's authorize endpoint.
pub(crate) async fn verify_issuer(http: &ProviderHttp, spec: &Target<'_>, iss: Option<&str>) -> Result<Option<String>> {
    let Some(iss) = iss else {
        if spec.require_iss {
            return Err(Error::provider(
                "The sign-in response did not say which server sent it ('iss' is missing), although this provider \
                 promises to (RFC 9207). Latch did not use it, as it may come from another server. Connect again; if it \
                 keeps happening, check the connection's addresses.",
            ));
        }
        return Ok(None);
    };
    if let Some(expected) = spec.issuer.as_deref() {
        return if iss == expected {
            Ok(None)
        } else {
            Err(Error::provider(format!(
                "The sign-in response came from issuer '{iss}', but this connection expects '{expected}'. Latch did not use it \
                 (RFC 9207 mix-up protection). Check the connection's addresses."
            )))
        };
    }
    // The named issuer is the response's word only: it must pass the
    // endpoint rules before Latch fetches anything from it.
    if let Err(rule) = check_endpoint_url("Issuer", iss) {
        return Err(Error::validation(
            "issuer",
            format!(
                "The sign-in response named issuer '{iss}', so Latch refused the response without contacting that \
                 address: {rule} If you know this provider's issuer, set it (an https address) as the connection's \
                 issuer and connect again."
            ),
        )
        .with_action(spec.edit(&["issuer"])));
    }
    let metadata = discovery::fetch(http, iss).await.map_err(|err| {
        Error::provider(format!(
            "The sign-in response named issuer '{iss}', and Latch could not confirm it ({}). If that issuer is right, set it \
             as the connection's issuer and connect again.",
            err.message.trim_end_matches('.'),
        ))
        .with_action(spec.edit(&["issuer"]))
    })?;
    let ours = spec.authorize_url.as_deref().unwrap_or_default();
    if metadata.authorization_endpoint.as_deref().map(without_query) == Some(without_query(ours)) {
        Ok(Some(iss.to_owned()))
    } else {
        Err(Error::provider(format!(
            "The sign-in response named issuer '{iss}', whose authorize endpoint is not this connection's Authorize URI. \
             Latch did not use it (RFC 9207 mix-up protection)."
        )))
    }
}

fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn authorization_error(code: &str, description: Option<&str>, uri: Option<&str>, spec: &Target<'_>) -> Error {
    let said = ProviderError {
        error: code.to_owned(),
        error_description: description.map(str::to_owned),
        error_uri: uri.map(str::to_owned),
    };
    let err = match code {
        "access_denied" => {
            Error::needs_authorization("Sign-in was declined in the browser. Choose Allow to connect.")
                .with_action(spec.sign_in_again())
        }
        "invalid_scope" => Error::provider("The provider refused the requested scopes.").with_action(spec.edit(&["scopes"])),
        "invalid_target" => Error::provider("The provider refused the requested resources (RFC 8707).")
            .with_action(spec.edit(&["resource"])),
        // RFC 9126 §4: the pushed request's `request_uri` ran out (it lives a
        // minute or so) or was already used.
        "invalid_request_uri" => Error::needs_authorization(
            "The provider no longer knew the sign-in request Latch had pushed: it expires soon after sign-in starts. \
             Sign in again, a little faster.",
        )
        .with_action(spec.sign_in_again()),
        "unauthorized_client" | "unsupported_response_type" => Error::provider(format!(
            "The provider does not allow this app to sign in this way. Check the flow type and the app's settings at the provider."
        )),
        _ => Error::provider("The provider refused the sign-in."),
    };
    err.with_provider(said)
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OAuth2Settings;

    #[tokio::test]
    async fn the_authorize_url_carries_state_pkce_scopes_and_extra_params_in_order() {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "client-1");
        spec.authorize_url = Some("https://example.com/authorize?tenant=a".into());
        spec.scopes = vec!["read".into(), "write".into()];
        spec.scope_separator = crate::model::ScopeSeparator::Comma;
        spec.authorize_params = vec![crate::model::KeyValue::new("prompt", "consent")];
        let pending = begin(&Target::new("x", &spec), None, &ProviderHttp::new()).await.unwrap();
        let pairs: Vec<(String, String)> = pending.authorize_url.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("tenant").as_deref(), Some("a"));
        assert_eq!(get("response_type").as_deref(), Some("code"));
        assert_eq!(get("client_id").as_deref(), Some("client-1"));
        assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(get("scope").as_deref(), Some("read,write"));
        assert_eq!(get("prompt").as_deref(), Some("consent"));
        assert_eq!(get("redirect_uri").unwrap(), pending.redirect_uri);
        assert!(pending.redirect_uri.starts_with("http://127.0.0.1:"));
        // 32 random bytes, base64url without padding.
        assert_eq!(get("state").unwrap().len(), 43);
    }

    #[tokio::test]
    async fn the_implicit_flow_asks_for_a_token_without_pkce() {
        let mut spec = OAuth2Settings::new(Flow::Implicit, "client-1");
        spec.authorize_url = Some("https://example.com/authorize".into());
        let pending = begin(&Target::new("x", &spec), None, &ProviderHttp::new()).await.unwrap();
        let query = pending.authorize_url.query().unwrap().to_owned();
        assert!(query.contains("response_type=token"));
        assert!(!query.contains("code_challenge"));
    }

    #[test]
    fn pkce_s256_matches_the_rfc_7636_appendix_b_vector() {
        let verifier = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        assert_eq!(challenge.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(challenge.method().as_str(), "S256");
    }

    #[test]
    fn a_declined_sign_in_offers_to_sign_in_again_and_keeps_what_the_provider_said() {
        let settings = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        let err = authorization_error("access_denied", Some("The user said no"), None, &Target::new("GitHub", &settings));
        assert_eq!(err.kind, crate::error::ErrorKind::NeedsAuthorization);
        assert_eq!(err.message, "Sign-in was declined in the browser. Choose Allow to connect.");
        assert_eq!(err.action, Some(crate::error::Action::SignInAgain { connection: "GitHub".into(), paste: false }));
        assert_eq!(err.provider.unwrap().error_description.as_deref(), Some("The user said no"));
    }

    #[tokio::test]
    async fn a_missing_iss_is_refused_when_the_server_promised_one() {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "client-1");
        spec.issuer = Some("https://id.example.com".into());
        let http = ProviderHttp::new();
        assert_eq!(verify_issuer(&http, &Target::new("x", &spec), None).await.unwrap(), None);
        spec.require_iss = true;
        let err = verify_issuer(&http, &Target::new("x", &spec), None).await.unwrap_err();
        assert!(err.message.contains("'iss' is missing"), "{}", err.message);
        assert_eq!(verify_issuer(&http, &Target::new("x", &spec), Some("https://id.example.com")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_iss_that_breaks_the_endpoint_rules_is_refused_without_fetching_it() {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "client-1");
        spec.authorize_url = Some("https://id.example.com/auth".into());
        let http = ProviderHttp::new();
        for iss in ["http://attacker.example", "file:///etc/passwd", "gopher://attacker.example/"] {
            let err = verify_issuer(&http, &Target::new("Lab", &spec), Some(iss)).await.unwrap_err();
            assert_eq!(err.kind, crate::error::ErrorKind::Validation, "{iss}: {}", err.message);
            assert_eq!(err.fields[0].field, "issuer");
            let start = format!("The sign-in response named issuer '{iss}', so Latch refused the response without contacting that address: Issuer must");
            assert!(err.message.starts_with(&start), "{}", err.message);
            assert_eq!(err.action, Some(crate::error::Action::edit("Lab", &["issuer"])));
        }
    }
}
