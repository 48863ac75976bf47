//! Requests to the provider's API with the token placed per the
//! connection's settings (Make's "token placement" and "token name").

use oauth2::http::{self, header, HeaderName, HeaderValue, Method};

use crate::error::{Error, Result};
use crate::flows::dpop::{self, Dpop};
use crate::flows::oauth::http_error;
use crate::http::{ProviderHttp, API_RESPONSE_LIMIT};
use crate::model::{KindSettings, OAuth2Settings, TokenPlacement};
use crate::secret::{AccessToken, TokenSet};
use crate::validate;

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
        // Placed by the spec's `base`, or signed per request (OAuth 1.0a):
        // the engine builds those requests itself.
        KindSettings::Spec(_) | KindSettings::OAuth1(_) => Err(Error::validation(
            "kind",
            "A connection made from a spec sends requests the way its spec's base says; this request was built for an \
             OAuth 2.0 connection.",
        )),
    }
}

/// [`build`] for a token set: a DPoP-bound token (RFC 9449 §7.1) goes as
/// `Authorization: DPoP <token>`, whatever the connection's token name.
/// The proof is added when the request is sent ([`send_bound`]).
pub fn build_with(settings: &KindSettings, api: &ApiRequest, tokens: &TokenSet) -> Result<http::Request<Vec<u8>>> {
    let mut request = build(settings, api, &tokens.access_token)?;
    if dpop::is_dpop_token_type(&tokens.token_type) {
        request.headers_mut().insert(header::AUTHORIZATION, dpop::authorization(&tokens.access_token)?);
    }
    Ok(request)
}

/// OAuth 2.0 (Make's "token placement"): custom headers, then the caller's,
/// then the token in the header (`<token name> <token>`), the query, or both.
fn build_oauth2(spec: &OAuth2Settings, api: &ApiRequest, token: &AccessToken) -> Result<http::Request<Vec<u8>>> {
    let method = Method::from_bytes(api.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Error::validation("method", format!("'{}' is not an HTTP method, e.g. GET or POST.", api.method)))?;
    // The endpoint rules: https, or plain http only to this computer (a
    // token sent over plain http to another host can be read on the way).
    let mut url = validate::check_endpoint_url("Request URL", api.url.trim()).map_err(|message| Error::validation("url", message))?;
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
    let mask = AccessToken::new(TOKEN_MASK.into());
    let mut request = build(spec, api, &mask)?;
    if spec.oauth2().is_some_and(|settings| settings.dpop) {
        // RFC 9449 §7.1: the DPoP scheme, and a proof made for this very
        // request when it is sent.
        request.headers_mut().insert(header::AUTHORIZATION, dpop::authorization(&mask)?);
        request.headers_mut().insert(dpop::PROOF_HEADER, HeaderValue::from_static(DPOP_PROOF_PREVIEW));
    }
    Ok(preview_of(&request))
}

/// What stands in for a DPoP proof in a preview: it is made when the
/// request is sent, for its method and address.
pub const DPOP_PROOF_PREVIEW: &str = "a new proof for this request, signed by Latch when it is sent";

/// The preview of a request built with [`TOKEN_MASK`] for its secrets.
pub fn preview_of(request: &http::Request<Vec<u8>>) -> RequestPreview {
    RequestPreview {
        method: request.method().to_string(),
        url: percent_decode_mask(&request.uri().to_string()),
        headers: request
            .headers()
            .iter()
            .map(|(k, v)| crate::model::KeyValue::new(k.as_str(), String::from_utf8_lossy(v.as_bytes())))
            .collect(),
    }
}

/// The request as a `curl` command line for POSIX shells (sh, bash, zsh).
/// The token is included only when given; otherwise the shell variable
/// `$TOKEN` stands in for it.
///
/// Every piece is single-quoted (a `'` inside written `'\''`), so nothing
/// in the URL, a header or the body — which may come from an imported
/// file — is run or expanded by the shell; the placeholder is the only
/// expansion, as `"$TOKEN"` outside the quotes:
/// `-H 'authorization: Bearer '"$TOKEN"`.
pub fn curl(spec: &KindSettings, api: &ApiRequest, token: Option<&AccessToken>) -> Result<zeroize::Zeroizing<String>> {
    // A stand-in no input can contain (random) and the URL's query encoding
    // leaves as it is (letters and digits), replaced after quoting.
    let marker = token_marker();
    let placeholder = AccessToken::new(marker.clone());
    let request = build(spec, api, token.unwrap_or(&placeholder))?;
    Ok(curl_of(&request, api.body.as_deref(), token.is_none().then_some(marker.as_str())))
}

/// A stand-in for the token that no input can contain (random) and that
/// URL encoding leaves as it is (letters and digits): [`curl_of`] writes
/// `"$TOKEN"` where it is.
pub fn token_marker() -> String {
    format!("LATCHTOKEN{}", ulid::Ulid::new())
}

/// `request` as a curl command line; where `marker` appears, `"$TOKEN"`.
pub fn curl_of(request: &http::Request<Vec<u8>>, body: Option<&[u8]>, marker: Option<&str>) -> zeroize::Zeroizing<String> {
    // The URL and the headers may hold the real token: kept in zeroized memory.
    let word = |text: &str| {
        zeroize::Zeroizing::new(match marker {
            None => shell_quote(text),
            Some(marker) => text.split(marker).map(shell_quote_part).collect::<Vec<_>>().join("\"$TOKEN\""),
        })
    };
    let url = zeroize::Zeroizing::new(request.uri().to_string());
    let mut line = zeroize::Zeroizing::new(String::from("curl"));
    // curl reads [ ] { } in a URL as ranges to expand unless told not to.
    if url.contains(['[', ']', '{', '}']) {
        line.push_str(" --globoff");
    }
    line.push_str(" -X ");
    line.push_str(&shell_word(request.method().as_str()));
    line.push(' ');
    line.push_str(&word(&url));
    for (key, value) in request.headers() {
        let header = zeroize::Zeroizing::new(format!("{}: {}", key.as_str(), String::from_utf8_lossy(value.as_bytes())));
        line.push_str(" -H ");
        line.push_str(&word(&header));
    }
    if let Some(body) = body {
        // --data-raw: a body starting with '@' is sent as it is, not read from a file.
        line.push_str(" --data-raw ");
        line.push_str(&shell_quote(&String::from_utf8_lossy(body)));
    }
    line
}

/// `text` as one single-quoted POSIX shell word: `it's` → `'it'\''s'`.
/// Inside single quotes the shell expands nothing.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A piece of a word between placeholders: quoted, or nothing when empty
/// (`''"$TOKEN"` would be the same word, only noisier).
fn shell_quote_part(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        shell_quote(text)
    }
}

/// `text` bare when the shell reads it as itself (e.g. `GET`), else quoted.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+@%".contains(c)) {
        text.to_owned()
    } else {
        shell_quote(text)
    }
}

/// The mask is percent-encoded in a query string; show it as typed.
fn percent_decode_mask(url: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(TOKEN_MASK.as_bytes()).collect();
    url.replace(&encoded, TOKEN_MASK)
}

pub async fn send(http: &ProviderHttp, request: http::Request<Vec<u8>>) -> Result<ApiResponse> {
    Ok(answer(http.send(request, API_RESPONSE_LIMIT).await.map_err(http_error)?))
}

/// Sends a request that uses a DPoP-bound `token` (built by [`build_with`])
/// with a fresh proof of possession (RFC 9449 §7).
pub async fn send_bound(http: &ProviderHttp, request: http::Request<Vec<u8>>, dpop: Dpop<'_>, token: &AccessToken) -> Result<ApiResponse> {
    Ok(answer(dpop.send(http, request, API_RESPONSE_LIMIT, Some(token)).await.map_err(http_error)?))
}

fn answer(response: crate::http::HttpResponse) -> ApiResponse {
    ApiResponse {
        status: response.status().as_u16(),
        reason: response.status().canonical_reason().unwrap_or("").to_owned(),
        headers: response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: response.into_body(),
    }
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
    fn the_preview_of_a_bound_connection_shows_the_dpop_scheme_and_a_proof_to_come() {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "c");
        settings.dpop = true;
        let shown = preview(&KindSettings::OAuth2(settings), &ApiRequest::get("https://api.example.com/me?x=1")).unwrap();
        let header = |name: &str| shown.headers.iter().find(|kv| kv.key == name).map(|kv| kv.value.clone());
        assert_eq!(header("authorization").as_deref(), Some("DPoP ••••••"));
        assert_eq!(header("dpop").as_deref(), Some(DPOP_PROOF_PREVIEW));
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
    fn a_request_goes_over_https_or_to_this_computer_only() {
        let token = AccessToken::new("tok".into());
        let err = build(&spec(TokenPlacement::Header), &ApiRequest::get("http://api.example.com/me"), &token).unwrap_err();
        assert_eq!(err.fields[0].field, "url");
        assert_eq!(
            err.message,
            "Request URL must start with https:// (plain http:// only for addresses on this computer, such as localhost)."
        );
        for url in ["http://127.0.0.1:8080/me", "http://localhost/me", "http://[::1]:9/me", "https://api.example.com/me"] {
            assert!(build(&spec(TokenPlacement::Header), &ApiRequest::get(url), &token).is_ok(), "{url}");
        }
        let err = build(&spec(TokenPlacement::Header), &ApiRequest::get("ftp://a.example/x"), &token).unwrap_err();
        assert_eq!(err.message, "Request URL must start with https:// (not ftp:).");
        let err = build(&spec(TokenPlacement::Header), &ApiRequest::get("api.example.com/me"), &token).unwrap_err();
        assert!(err.message.starts_with("Request URL 'api.example.com/me' is not a valid URL."), "{}", err.message);
        // The preview and the curl line follow the same rule.
        assert!(preview(&spec(TokenPlacement::Header), &ApiRequest::get("http://api.example.com/me")).is_err());
        assert!(curl(&spec(TokenPlacement::Header), &ApiRequest::get("http://api.example.com/me"), None).is_err());
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
        assert!(without.contains(r#" -H 'authorization: MyToken '"$TOKEN""#), "{}", *without);
        assert!(without.starts_with("curl -X POST 'https://a.example/x'"), "{}", *without);
        assert!(without.contains("--data-raw '{\"a\":1}'"));
        let with = curl(&spec(TokenPlacement::Header), &api, Some(&AccessToken::new("tok'1".into()))).unwrap();
        assert!(with.contains(r"-H 'authorization: MyToken tok'\''1'"), "{}", *with);
        assert!(!with.contains("$TOKEN"));
    }

    #[test]
    fn curl_puts_the_placeholder_outside_the_quotes_in_the_query_too() {
        let line = curl(&spec(TokenPlacement::Both), &ApiRequest::get("https://a.example/x?y=1"), None).unwrap();
        assert!(line.contains(r#" 'https://a.example/x?y=1&key='"$TOKEN" "#), "{}", *line);
        assert!(line.contains(r#" -H 'authorization: MyToken '"$TOKEN""#), "{}", *line);
    }

    /// Settings and a request an attacker wrote (an imported file, a
    /// pasted request): every piece tries to run `touch` in the shell.
    fn hostile(placement: TokenPlacement) -> (KindSettings, ApiRequest) {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        spec.token_placement = placement;
        // No whitespace or control character: the token name rule lets it through.
        spec.token_name = "$(touch${IFS}pwned1)`touch${IFS}pwned2`".into();
        spec.query_param = "k$(touch${IFS}pwned3)".into();
        spec.custom_headers = vec![
            KeyValue::new("X-Evil", r#"$(touch pwned4) `touch pwned5` 'single' "double" \ ! ${HOME} "#),
            KeyValue::new("X-Quote", "'"),
        ];
        let api = ApiRequest {
            method: "POST".into(),
            url: "https://a.example/$(touch${IFS}pwned6)/x?q='$(touch%20pwned7)'&b=`touch${IFS}pwned8`&r=[1]".into(),
            headers: vec![("X-Caller".into(), "\"; touch pwned9; echo \"".into())],
            body: Some(b"@/etc/passwd\n$(touch pwned10) 'it'\\''s' \"`touch pwned11`\"".to_vec()),
        };
        (KindSettings::OAuth2(spec), api)
    }

    /// What `line` hands to curl when a POSIX shell runs it, with `curl` a
    /// shell function that prints its arguments, in an empty directory that
    /// must stay empty. None (the test is skipped) when there is no `sh`.
    fn run_in_sh(line: &str, token: &str) -> Option<Vec<String>> {
        use std::process::Command;
        if Command::new("sh").arg("-c").arg("true").output().is_err() {
            eprintln!("no sh here: the shell part of this test is skipped");
            return None;
        }
        let syntax = Command::new("sh").arg("-n").arg("-c").arg(line).output().unwrap();
        assert!(syntax.status.success(), "sh -n refused the line: {}\n{line}", String::from_utf8_lossy(&syntax.stderr));

        let dir = tempfile::tempdir().unwrap();
        let script = format!("curl() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{line}\n");
        let run = Command::new("sh").arg("-c").arg(&script).current_dir(dir.path()).env("TOKEN", token).output().unwrap();
        assert!(run.status.success(), "{}\n{line}", String::from_utf8_lossy(&run.stderr));
        let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(created.is_empty(), "the shell ran something: {created:?}\n{line}");
        let out = String::from_utf8(run.stdout).unwrap();
        Some(out.split_terminator('\0').map(str::to_owned).collect())
    }

    /// The arguments curl should get: the request `build` makes with `token`.
    fn expected_args(spec: &KindSettings, api: &ApiRequest, token: &str) -> Vec<String> {
        let request = build(spec, api, &AccessToken::new(token.into())).unwrap();
        let mut args = vec!["-X".to_owned(), request.method().to_string(), request.uri().to_string()];
        if args[2].contains(['[', ']', '{', '}']) {
            args.insert(0, "--globoff".into());
        }
        for (key, value) in request.headers() {
            args.push("-H".into());
            args.push(format!("{}: {}", key.as_str(), value.to_str().unwrap()));
        }
        args.push("--data-raw".into());
        args.push(String::from_utf8(api.body.clone().unwrap()).unwrap());
        args
    }

    #[test]
    fn a_hostile_curl_line_is_quoted_piece_by_piece() {
        let (spec, api) = hostile(TokenPlacement::Header);
        let line = curl(&spec, &api, None).unwrap();
        assert!(line.starts_with("curl --globoff -X POST 'https://a.example/$(touch$%7BIFS%7Dpwned6)/x?"), "{}", *line);
        assert!(line.contains(r#" -H 'authorization: $(touch${IFS}pwned1)`touch${IFS}pwned2` '"$TOKEN""#), "{}", *line);
        assert!(line.contains(r#" -H 'x-quote: '\'''"#), "{}", *line);
        assert!(line.contains(r#" --data-raw '@/etc/passwd"#), "{}", *line);
        assert_eq!(line.matches("$TOKEN").count(), 1, "{}", *line);
        // Outside single quotes there is only the placeholder.
        let mut outside = String::new();
        let mut quoted = false;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => quoted = !quoted,
                '\\' if !quoted => outside.extend(['\\', chars.next().unwrap()]),
                c if !quoted => outside.push(c),
                _ => {}
            }
        }
        assert!(!quoted, "every quote is closed: {}", *line);
        assert!(!outside.contains(['`', '(', ';', '\n']) && outside.matches('$').count() == 1, "{outside}");
    }

    #[test]
    fn a_hostile_curl_line_runs_nothing_in_a_shell_and_hands_curl_its_arguments_intact() {
        // The header placement: the placeholder stands for any token.
        let (spec, api) = hostile(TokenPlacement::Header);
        let token = "t0k'en$(touch pwned12)`touch pwned13`";
        let line = curl(&spec, &api, None).unwrap();
        let Some(args) = run_in_sh(&line, token) else { return };
        assert_eq!(args, expected_args(&spec, &api, token));

        // The real token, with quotes and $( ) in it.
        let line = curl(&spec, &api, Some(&AccessToken::new(token.into()))).unwrap();
        assert_eq!(run_in_sh(&line, "unused").unwrap(), expected_args(&spec, &api, token));

        // The query placement: a URL-safe token arrives where the placeholder was.
        let (spec, api) = hostile(TokenPlacement::Both);
        let line = curl(&spec, &api, None).unwrap();
        assert_eq!(run_in_sh(&line, "T0k3n").unwrap(), expected_args(&spec, &api, "T0k3n"));
    }

    #[test]
    fn account_names_come_from_common_fields() {
        assert_eq!(account_name(br#"{"sub":"1","name":"Alice Example"}"#).as_deref(), Some("Alice Example"));
        assert_eq!(account_name(br#"{"id":"d1b0","user":"Jane Doe"}"#).as_deref(), Some("Jane Doe"));
        assert_eq!(account_name(br#"{"login":"octocat","id":1}"#).as_deref(), Some("octocat"));
        assert_eq!(account_name(b"<html>"), None);
    }
}
