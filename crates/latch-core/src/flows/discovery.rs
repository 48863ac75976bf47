//! Authorization server metadata (OpenID Connect Discovery 1.0 and RFC 8414).

use serde::Deserialize;

use super::oauth::http_error;
use crate::error::{Error, Result};
use crate::http::{ProviderHttp, OAUTH_RESPONSE_LIMIT};

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
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
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

/// Fetches and checks the metadata of `issuer`. The document's `issuer` must
/// equal the one asked for exactly (RFC 8414 §3.3), or it is refused.
pub async fn fetch(http: &ProviderHttp, issuer: &str) -> Result<ServerMetadata> {
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
}
