//! OAuth 2.0 protected resource metadata (RFC 9728): an API says which
//! authorization server issues its tokens, so a pasted API address is
//! enough to find where to sign in.

use serde::Deserialize;

use super::oauth::http_error;
use crate::error::{Error, Result};
use crate::http::{ProviderHttp, OAUTH_RESPONSE_LIMIT};
use crate::validate::check_endpoint_url;

/// RFC 9728 §3: the well-known suffix of the metadata document.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The parts of a protected resource metadata document Latch uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResourceMetadata {
    /// The resource identifier: must be the URL the document was asked for.
    pub resource: String,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// The API takes only DPoP-bound tokens (RFC 9728 §2, RFC 9449).
    #[serde(default)]
    pub dpop_bound_access_tokens_required: bool,
}

impl ResourceMetadata {
    /// The authorization server Latch signs in at: the first listed.
    pub fn authorization_server(&self) -> Option<&str> {
        self.authorization_servers.first().map(String::as_str)
    }
}

/// Where the metadata of `resource` may be (RFC 9728 §3.1): the well-known
/// suffix inserted between the host and the path (a terminating slash
/// removed), then — for a resource with a path — at the root, where many
/// servers keep one document for the whole host.
pub fn well_known_urls(resource: &url::Url) -> Vec<url::Url> {
    let path = resource.path().trim_end_matches('/');
    let mut inserted = resource.clone();
    inserted.set_fragment(None);
    inserted.set_path(&format!("{WELL_KNOWN}{path}"));
    let mut urls = vec![inserted];
    if !path.is_empty() {
        let mut root = resource.clone();
        root.set_fragment(None);
        root.set_query(None);
        root.set_path(WELL_KNOWN);
        urls.push(root);
    }
    urls
}

/// The `resource_metadata` parameter of a `Bearer` challenge in a
/// `WWW-Authenticate` header value (RFC 9728 §5.1), which may hold several
/// challenges (RFC 9110 §11.6.1): `Basic realm="x", Bearer error="invalid_token",
/// resource_metadata="https://…"`.
pub fn resource_metadata_from_challenge(header: &str) -> Option<String> {
    let mut in_bearer = false;
    for item in challenge_items(header) {
        match item {
            ChallengeItem::Scheme(scheme) => in_bearer = scheme.eq_ignore_ascii_case("bearer"),
            ChallengeItem::Param(name, value) if in_bearer && name.eq_ignore_ascii_case("resource_metadata") => {
                return Some(value)
            }
            ChallengeItem::Param(..) => {}
        }
    }
    None
}

/// One item of a `WWW-Authenticate` value: a scheme starting a challenge,
/// or a parameter of the challenge before it.
enum ChallengeItem {
    Scheme(String),
    Param(String, String),
}

/// The items of a header value, in order.
fn challenge_items(header: &str) -> Vec<ChallengeItem> {
    let mut items = Vec::new();
    let mut rest = header.trim_start();
    while !rest.is_empty() {
        let token_end = rest.find(|c: char| c == '=' || c == ',' || c.is_whitespace()).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        match after.strip_prefix('=').filter(|_| !token.is_empty()) {
            // name=value, the value a token or a quoted-string.
            Some(value_text) => {
                let value_text = value_text.trim_start();
                let (value, remaining) = match value_text.strip_prefix('"') {
                    Some(quoted) => {
                        let mut value = String::new();
                        let mut end = quoted.len();
                        let mut chars = quoted.char_indices();
                        while let Some((i, c)) = chars.next() {
                            match c {
                                '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
                                '"' => {
                                    end = i + 1;
                                    break;
                                }
                                c => value.push(c),
                            }
                        }
                        (value, &quoted[end..])
                    }
                    None => {
                        let end = value_text.find(|c: char| c == ',' || c.is_whitespace()).unwrap_or(value_text.len());
                        (value_text[..end].to_owned(), &value_text[end..])
                    }
                };
                items.push(ChallengeItem::Param(token.to_owned(), value));
                rest = remaining;
            }
            None => {
                if !token.is_empty() {
                    items.push(ChallengeItem::Scheme(token.to_owned()));
                }
                rest = after;
            }
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
    }
    items
}

/// Whether `claimed` names the same resource as `asked` (RFC 9728 §3.3):
/// the same string, or the same URL once parsed (`https://api.example.com`
/// and `https://api.example.com/` are one address).
fn same_resource(claimed: &str, asked: &str) -> bool {
    claimed == asked
        || matches!((url::Url::parse(claimed), url::Url::parse(asked)), (Ok(a), Ok(b)) if a == b)
}

/// The RFC 9728 §3.3 check: the document is about the resource asked for,
/// and names an authorization server that passes the endpoint rules.
pub fn check(metadata: &ResourceMetadata, asked: &str, from: &str) -> Result<()> {
    if !same_resource(&metadata.resource, asked) {
        return Err(Error::provider(format!(
            "The metadata at {from} describes the API '{}', not '{asked}'. Latch refuses it, because an API must name \
             itself exactly (RFC 9728). Check the address you pasted.",
            crate::error::printable(&metadata.resource, false)
        )));
    }
    let Some(server) = metadata.authorization_server() else {
        return Err(Error::provider(format!(
            "The metadata at {from} names no authorization server, so Latch cannot tell where to sign in for '{asked}'."
        )));
    };
    check_endpoint_url("The API's authorization server", server)
        .map(drop)
        .map_err(|message| Error::provider(format!("{message} (named by {from}). Latch did not contact it.")))
}

/// GETs `url` for JSON; `Ok(None)` when the server answers without a
/// document (an HTTP error status).
async fn get_document(http: &ProviderHttp, url: &str) -> Result<Option<ResourceMetadata>> {
    let request = oauth2::http::Request::get(url)
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|err| Error::validation("from", format!("The address {url} could not be used ({err}).")))?;
    let response = http.send(request, OAUTH_RESPONSE_LIMIT).await.map_err(http_error)?;
    if !response.status().is_success() {
        return Ok(None);
    }
    serde_json::from_slice(response.body())
        .map(Some)
        .map_err(|err| Error::provider(format!("The API's metadata at {url} could not be read ({err}).")))
}

/// Finds and checks the metadata of the API at `resource`: the well-known
/// locations first, then a plain request to the API whose 401 challenge
/// may point at the document (RFC 9728 §5). Every address passes the
/// endpoint rules before Latch contacts it.
pub async fn fetch(http: &ProviderHttp, resource: &str) -> Result<ResourceMetadata> {
    let parsed = check_endpoint_url("The API address", resource)
        .map_err(|message| Error::validation("from", format!("{message} Latch did not contact it.")))?;
    for url in well_known_urls(&parsed) {
        if let Some(metadata) = get_document(http, url.as_str()).await? {
            check(&metadata, resource, url.as_str())?;
            return Ok(metadata);
        }
    }
    let request = oauth2::http::Request::get(resource).body(Vec::new()).expect("a checked URL makes a GET request");
    let response = http.send(request, OAUTH_RESPONSE_LIMIT).await.map_err(http_error)?;
    let pointer = response
        .headers()
        .get_all(oauth2::http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(resource_metadata_from_challenge);
    let Some(pointer) = pointer else {
        return Err(Error::provider(format!(
            "{resource} does not say where to sign in: it has no protected resource metadata (RFC 9728), and a request \
             to it (HTTP {}) did not point to any. Add the connection with the provider's settings instead.",
            response.status().as_u16()
        )));
    };
    check_endpoint_url("The API's metadata address", &pointer).map_err(|message| {
        Error::provider(format!("{message} (named by {resource} in its WWW-Authenticate header). Latch did not contact it."))
    })?;
    match get_document(http, &pointer).await? {
        Some(metadata) => {
            check(&metadata, resource, &pointer)?;
            Ok(metadata)
        }
        None => Err(Error::provider(format!("{resource} pointed to its metadata at {pointer}, but nothing is there."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(resource: &str) -> Vec<String> {
        well_known_urls(&url::Url::parse(resource).unwrap()).iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn the_well_known_suffix_goes_between_host_and_path_then_at_the_root() {
        assert_eq!(
            urls("https://api.example.com/v1/x"),
            [
                "https://api.example.com/.well-known/oauth-protected-resource/v1/x",
                "https://api.example.com/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(urls("https://api.example.com/v1/"), urls("https://api.example.com/v1"), "a terminating slash is removed");
        assert_eq!(urls("https://api.example.com"), ["https://api.example.com/.well-known/oauth-protected-resource"]);
        assert_eq!(urls("http://127.0.0.1:8080/"), ["http://127.0.0.1:8080/.well-known/oauth-protected-resource"]);
    }

    #[test]
    fn the_metadata_pointer_is_read_from_a_bearer_challenge_only() {
        let one = r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1""#;
        assert_eq!(
            resource_metadata_from_challenge(one).as_deref(),
            Some("https://api.example.com/.well-known/oauth-protected-resource/v1")
        );
        let among = r#"Basic realm="api", Bearer error="invalid_token", error_description="no \"token\"", resource_metadata="https://a.example/m", scope="read""#;
        assert_eq!(resource_metadata_from_challenge(among).as_deref(), Some("https://a.example/m"));
        let unquoted = "bearer realm=api, resource_metadata=https://a.example/m";
        assert_eq!(resource_metadata_from_challenge(unquoted).as_deref(), Some("https://a.example/m"));
        let other_scheme = r#"DPoP-ish resource_metadata="https://evil.example/m", Bearer realm="x""#;
        assert_eq!(resource_metadata_from_challenge(other_scheme), None, "only a Bearer challenge's parameter counts");
        assert_eq!(resource_metadata_from_challenge("Bearer"), None);
        assert_eq!(resource_metadata_from_challenge(""), None);
    }

    fn metadata(resource: &str, servers: &[&str]) -> ResourceMetadata {
        ResourceMetadata {
            resource: resource.into(),
            authorization_servers: servers.iter().map(|s| s.to_string()).collect(),
            scopes_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
        }
    }

    #[test]
    fn metadata_about_another_resource_is_refused_naming_both() {
        let from = "https://api.example.com/.well-known/oauth-protected-resource/v1";
        let err = check(&metadata("https://evil.example/v1", &["https://id.example.com"]), "https://api.example.com/v1", from)
            .unwrap_err();
        assert!(err.message.contains("'https://evil.example/v1'") && err.message.contains("'https://api.example.com/v1'"), "{}", err.message);
        assert!(err.message.contains("RFC 9728"));
        check(&metadata("https://api.example.com/v1", &["https://id.example.com"]), "https://api.example.com/v1", from).unwrap();
        check(&metadata("https://api.example.com", &["https://id.example.com"]), "https://api.example.com/", from).unwrap();
    }

    #[test]
    fn an_authorization_server_must_be_named_and_pass_the_endpoint_rules() {
        let asked = "https://api.example.com";
        let err = check(&metadata(asked, &[]), asked, "m").unwrap_err();
        assert!(err.message.contains("names no authorization server"), "{}", err.message);
        let err = check(&metadata(asked, &["http://id.example.com"]), asked, "m").unwrap_err();
        assert!(err.message.contains("https://"), "{}", err.message);
        check(&metadata(asked, &["http://127.0.0.1:9000"]), asked, "m").unwrap();
    }

    #[tokio::test]
    async fn an_api_address_that_breaks_the_endpoint_rules_is_not_contacted() {
        let err = fetch(&ProviderHttp::new(), "http://api.example.com/v1").await.unwrap_err();
        assert_eq!(err.fields[0].field, "from");
        assert!(err.message.ends_with("Latch did not contact it."), "{}", err.message);
    }
}
