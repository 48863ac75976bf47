//! Requests to the provider's API with the token placed per the
//! connection's settings (Make's "token placement" and "token name").

use oauth2::http::{self, header, HeaderName, HeaderValue, Method};

use crate::error::{Error, Result};
use crate::flows::oauth::http_error;
use crate::http::{ProviderHttp, API_RESPONSE_LIMIT};
use crate::model::{KindSettings, OAuth2Settings, TokenPlacement};
use crate::secret::AccessToken;

/// A request as the user describes it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    pub url: String,
    /// Added after the connection's custom headers; same names replace them.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl ApiRequest {
    pub fn get(url: impl Into<String>) -> Self {
        ApiRequest { method: "GET".into(), url: url.into(), headers: Vec::new(), body: None }
    }
}

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Builds the HTTP request with the credential placed the way the
/// connection's kind authenticates requests.
pub fn build(settings: &KindSettings, api: &ApiRequest, token: &AccessToken) -> Result<http::Request<Vec<u8>>> {
    match settings {
        KindSettings::OAuth2(settings) => build_oauth2(settings, api, token),
    }
}

/// OAuth 2.0 (Make's "token placement"): custom headers, then the caller's,
/// then the token in the header (`<token name> <token>`), the query, or both.
fn build_oauth2(spec: &OAuth2Settings, api: &ApiRequest, token: &AccessToken) -> Result<http::Request<Vec<u8>>> {
    let method = Method::from_bytes(api.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::validation("method", format!("'{}' is not an HTTP method, e.g. GET or POST.", api.method)))?;
    let mut url = url::Url::parse(&api.url)
        .map_err(|err| Error::validation("url", format!("'{}' is not a valid URL ({err}).", api.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::validation("url", format!("'{}' must start with https://.", api.url)));
    }
    if matches!(spec.token_placement, TokenPlacement::Query | TokenPlacement::Both) {
        let kept: Vec<(String, String)> =
            url.query_pairs().filter(|(k, _)| k != spec.query_param.as_str()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        url.query_pairs_mut().clear().extend_pairs(kept).append_pair(&spec.query_param, token.secret());
    }

    let mut headers = http::HeaderMap::new();
    let pairs = spec.custom_headers.iter().map(|kv| (kv.key.as_str(), kv.value.as_str())).chain(api.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for (key, value) in pairs {
        let name = HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| Error::validation("headers", format!("'{key}' is not a valid header name.")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::validation("headers", format!("The value of header '{key}' is not valid (one line of text).")))?;
        headers.insert(name, value);
    }
    if matches!(spec.token_placement, TokenPlacement::Header | TokenPlacement::Both) {
        let mut value = HeaderValue::from_str(&format!("{} {}", spec.token_name, token.secret()))
            .map_err(|_| Error::provider("The access token contains characters that cannot be sent in a header."))?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }

    let mut request = http::Request::builder().method(method).uri(url.as_str());
    *request.headers_mut().expect("a fresh builder has headers") = headers;
    request
        .body(api.body.clone().unwrap_or_default())
        .map_err(|err| Error::validation("url", format!("The request could not be built ({err}).")))
}

/// How a request will go out, with the token masked: for showing the user
/// where the token is placed before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RequestPreview {
    pub method: String,
    pub url: String,
    pub headers: Vec<crate::model::KeyValue>,
}

/// What stands in for the token wherever it is shown without being revealed.
pub const TOKEN_MASK: &str = "••••••";

pub fn preview(spec: &KindSettings, api: &ApiRequest) -> Result<RequestPreview> {
    let request = build(spec, api, &AccessToken::new(TOKEN_MASK.into()))?;
    Ok(RequestPreview {
        method: request.method().to_string(),
        url: percent_decode_mask(&request.uri().to_string()),
        headers: request
            .headers()
            .iter()
            .map(|(k, v)| crate::model::KeyValue::new(k.as_str(), String::from_utf8_lossy(v.as_bytes())))
            .collect(),
    })
}

/// The request as a `curl` command line. The token is included only when
/// given; otherwise `$TOKEN` stands in for it.
pub fn curl(spec: &KindSettings, api: &ApiRequest, token: Option<&AccessToken>) -> Result<zeroize::Zeroizing<String>> {
    let placeholder = AccessToken::new("$TOKEN".into());
    let request = build(spec, api, token.unwrap_or(&placeholder))?;
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let url = request.uri().to_string().replace("%24TOKEN", "$TOKEN");
    let mut line = format!("curl -X {} {}", request.method(), if token.is_none() { format!("\"{url}\"") } else { quote(&url) });
    for (key, value) in request.headers() {
        let header = format!("{}: {}", key.as_str(), String::from_utf8_lossy(value.as_bytes()));
        if token.is_none() && header.contains("$TOKEN") {
            line.push_str(&format!(" -H \"{header}\""));
        } else {
            line.push_str(&format!(" -H {}", quote(&header)));
        }
    }
    if let Some(body) = &api.body {
        line.push_str(&format!(" --data-binary {}", quote(&String::from_utf8_lossy(body))));
    }
    Ok(zeroize::Zeroizing::new(line))
}

/// The mask is percent-encoded in a query string; show it as typed.
fn percent_decode_mask(url: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(TOKEN_MASK.as_bytes()).collect();
    url.replace(&encoded, TOKEN_MASK)
}

pub async fn send(http: &ProviderHttp, request: http::Request<Vec<u8>>) -> Result<ApiResponse> {
    let response = http.send(request, API_RESPONSE_LIMIT).await.map_err(http_error)?;
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

/// The account's display name from an info (userinfo) response: the first
/// of the fields providers commonly use.
pub fn account_name(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.get("data").filter(|d| d.is_object()).unwrap_or(&value);
    ["name", "display_name", "displayName", "user", "login", "username", "preferred_username", "email", "sub", "id"]
        .iter()
        .find_map(|key| match object.get(*key)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flow, KeyValue};

    fn spec(placement: TokenPlacement) -> KindSettings {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        spec.token_placement = placement;
        spec.token_name = "MyToken".into();
        spec.query_param = "key".into();
        spec.custom_headers = vec![KeyValue::new("X-Version", "1"), KeyValue::new("Accept", "text/plain")];
        KindSettings::OAuth2(spec)
    }

    #[test]
    fn header_placement_uses_the_token_name() {
        let api = ApiRequest { headers: vec![("Accept".into(), "application/json".into())], ..ApiRequest::get("https://api.example.com/me?x=1") };
        let request = build(&spec(TokenPlacement::Header), &api, &AccessToken::new("tok".into())).unwrap();
        assert_eq!(request.headers()["authorization"], "MyToken tok");
        assert_eq!(request.headers()["x-version"], "1");
        assert_eq!(request.headers()["accept"], "application/json");
        assert_eq!(request.uri().to_string(), "https://api.example.com/me?x=1");
    }

    #[test]
    fn query_placement_replaces_an_existing_parameter() {
        let api = ApiRequest::get("https://api.example.com/me?key=old&x=1");
        let request = build(&spec(TokenPlacement::Query), &api, &AccessToken::new("tok".into())).unwrap();
        assert_eq!(request.uri().to_string(), "https://api.example.com/me?x=1&key=tok");
        assert!(request.headers().get("authorization").is_none());
    }

    #[test]
    fn both_placement_sends_header_and_query() {
        let request = build(&spec(TokenPlacement::Both), &ApiRequest::get("https://a.example/"), &AccessToken::new("tok".into())).unwrap();
        assert_eq!(request.headers()["authorization"], "MyToken tok");
        assert!(request.uri().to_string().ends_with("?key=tok"));
    }

    #[test]
    fn the_preview_masks_the_token_in_header_and_query() {
        let preview = preview(&spec(TokenPlacement::Both), &ApiRequest::get("https://a.example/x")).unwrap();
        assert_eq!(preview.url, "https://a.example/x?key=••••••");
        let auth = preview.headers.iter().find(|kv| kv.key == "authorization").unwrap();
        assert_eq!(auth.value, "MyToken ••••••");
    }

    #[test]
    fn curl_includes_the_token_only_when_asked() {
        let api = ApiRequest { method: "POST".into(), body: Some(b"{\"a\":1}".to_vec()), ..ApiRequest::get("https://a.example/x") };
        let without = curl(&spec(TokenPlacement::Header), &api, None).unwrap();
        assert!(without.contains("-H \"authorization: MyToken $TOKEN\""), "{}", *without);
        assert!(without.starts_with("curl -X POST \"https://a.example/x\""), "{}", *without);
        assert!(without.contains("--data-binary '{\"a\":1}'"));
        let with = curl(&spec(TokenPlacement::Header), &api, Some(&AccessToken::new("tok'1".into()))).unwrap();
        assert!(with.contains("-H 'authorization: MyToken tok'\\''1'"), "{}", *with);
    }

    #[test]
    fn account_names_come_from_common_fields() {
        assert_eq!(account_name(br#"{"sub":"1","name":"Alice Example"}"#).as_deref(), Some("Alice Example"));
        assert_eq!(account_name(br#"{"id":"d1b0","user":"Jane Doe"}"#).as_deref(), Some("Jane Doe"));
        assert_eq!(account_name(br#"{"login":"octocat","id":1}"#).as_deref(), Some("octocat"));
        assert_eq!(account_name(b"<html>"), None);
    }
}
