//! Authorization server metadata (OpenID Connect Discovery 1.0 and RFC 8414).

use serde::Deserialize;

use super::oauth::http_error;
use crate::error::{Error, Result};
use crate::http::{ProviderHttp, OAUTH_RESPONSE_LIMIT};
use crate::validate::check_endpoint_url;

/// The parts of a metadata document Latch uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    /// RFC 7591 dynamic client registration endpoint.
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9126 §5.
    pub pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// RFC 8705 §5: where a client with a TLS certificate sends its token,
    /// revocation, PAR and device requests.
    #[serde(default)]
    pub mtls_endpoint_aliases: Option<crate::model::MtlsEndpointAliases>,
    /// RFC 8705 §3.3: the server binds access tokens to the client certificate.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// How clients may authenticate at the token endpoint (RFC 8414 §2).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 9449 §5.1: the server binds tokens with DPoP proofs signed so.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// The metadata URLs to try for `issuer`: OpenID Connect's (path appended),
/// then RFC 8414's (well-known inserted before the path).
fn candidate_urls(issuer: &str) -> Result<Vec<url::Url>> {
    let base = url::Url::parse(issuer).map_err(|err| {
        Error::validation("issuer", format!("Issuer '{issuer}' is not a valid URL ({err})."))
    })?;
    let path = base.path().trim_end_matches('/');
    let mut oidc = base.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut rfc8414 = base.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(vec![oidc, rfc8414])
}

/// Fetches and checks the metadata of `issuer`. The issuer must pass the
/// rules of every endpoint Latch talks to (https, or plain http on a
/// loopback host) before anything is fetched from it: it may have been typed,
/// or taken from a sign-in response. The document's `issuer` must equal the
/// one asked for exactly (RFC 8414 §3.3), or it is refused.
pub async fn fetch(http: &ProviderHttp, issuer: &str) -> Result<ServerMetadata> {
    check_issuer(issuer)?;
    let mut last_problem = String::new();
    for url in candidate_urls(issuer)? {
        let request = oauth2::http::Request::get(url.as_str())
            .header("accept", "application/json")
            .body(Vec::new())
            .expect("a GET request builds");
        let response = http.send(request, OAUTH_RESPONSE_LIMIT).await.map_err(http_error)?;
        if !response.status().is_success() {
            last_problem = format!("{url} answered HTTP {}", response.status().as_u16());
            continue;
        }
        let metadata: ServerMetadata = serde_json::from_slice(response.body()).map_err(|err| {
            Error::provider(format!("The provider's metadata at {url} could not be read ({err})."))
        })?;
        if metadata.issuer != issuer {
            return Err(Error::provider(format!(
                "The metadata at {url} names the issuer '{}', not '{issuer}'. Latch refuses it, because a provider must \
                 name itself exactly (RFC 8414). Check the issuer address.",
                metadata.issuer
            )));
        }
        return Ok(metadata);
    }
    Err(Error::provider(format!("No authorization server metadata was found for '{issuer}' ({last_problem}).")))
}

/// The endpoint rules, applied to an issuer before Latch contacts it.
pub fn check_issuer(issuer: &str) -> Result<()> {
    check_endpoint_url("Issuer", issuer)
        .map(drop)
        .map_err(|message| Error::validation("issuer", format!("{message} Latch did not contact it.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_oidc_then_rfc8414() {
        let urls: Vec<String> = candidate_urls("https://login.example.com/tenant").unwrap().iter().map(|u| u.to_string()).collect();
        assert_eq!(
            urls,
            vec![
                "https://login.example.com/tenant/.well-known/openid-configuration",
                "https://login.example.com/.well-known/oauth-authorization-server/tenant"
            ]
        );
        let urls: Vec<String> = candidate_urls("https://example.com").unwrap().iter().map(|u| u.to_string()).collect();
        assert_eq!(urls[0], "https://example.com/.well-known/openid-configuration");
    }

    #[tokio::test]
    async fn an_issuer_that_breaks_the_endpoint_rules_is_refused_before_anything_is_fetched() {
        let http = ProviderHttp::new();
        for (issuer, says) in [
            ("http://id.example.com", "Issuer must start with https:// (plain http:// only for addresses on this computer, such as localhost)."),
            ("file:///etc/passwd", "Issuer must start with https:// (not file:)."),
            ("smb://fileserver/share", "Issuer must start with https:// (not smb:)."),
            ("https://id.example.com#x", "Issuer must not contain a '#' fragment."),
        ] {
            let err = fetch(&http, issuer).await.unwrap_err();
            assert_eq!(err.kind, crate::error::ErrorKind::Validation, "{issuer}: {}", err.message);
            assert_eq!(err.fields.len(), 1, "{issuer}");
            assert_eq!(err.fields[0].field, "issuer");
            assert_eq!(err.message, format!("{says} Latch did not contact it."));
        }
    }

    /// A metadata server on a loopback port that counts its requests.
    async fn metadata_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (count, name) = (served.clone(), issuer.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = stream.read(&mut [0u8; 4096]).await;
                let body = format!(r#"{{"issuer":"{name}","authorization_endpoint":"{name}/auth","token_endpoint":"{name}/token"}}"#);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        (issuer, served)
    }

    #[tokio::test]
    async fn a_loopback_http_issuer_is_fetched_and_a_refused_one_is_not() {
        let (issuer, served) = metadata_server().await;
        let http = ProviderHttp::new();
        let metadata = fetch(&http, &issuer).await.unwrap();
        assert_eq!(metadata.token_endpoint, Some(format!("{issuer}/token")));
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The same server behind a scheme Latch does not fetch: nothing is sent.
        let err = fetch(&http, &issuer.replace("http://", "ftp://")).await.unwrap_err();
        assert_eq!(err.fields[0].field, "issuer");
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
