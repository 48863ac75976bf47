//! The rules a connection must satisfy before it is saved — one set for the
//! CLI and the desktop form, so both say the same thing in the same words.
//! Each message names the field and says how to fix it.

use crate::error::FieldError;
use crate::model::{ClientAuth, Flow, KeyValue, KindSettings, OAuth2Settings, Pkce, TokenPlacement};

pub const NAME_MAX_CHARS: usize = 100;

/// Parameters Latch sets itself; letting the user override them would break
/// the flow or its checks (state, PKCE, redirect URI).
const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
];
const RESERVED_TOKEN_PARAMS: &[&str] =
    &["grant_type", "code", "code_verifier", "redirect_uri", "refresh_token", "client_id", "client_secret", "scope"];

/// Every rule `settings` break, in form order, by kind. `has_client_secret`
/// is whether a client secret will be stored with them.
pub fn settings(settings: &KindSettings, has_client_secret: bool) -> Vec<FieldError> {
    match settings {
        KindSettings::OAuth2(settings) => oauth2(settings, has_client_secret),
    }
}

/// Every rule the settings of an OAuth 2.0 connection break, in form
/// order. `has_client_secret` is whether a client secret will be stored
/// with them.
pub fn oauth2(spec: &OAuth2Settings, has_client_secret: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |field: &'static str, message: String| errors.push(FieldError { field, message });

    let needs = spec.flow.fields();
    let flow_label = spec.flow.label();
    for (field, label, value) in [
        ("authorize_url", "Authorize URI", &spec.authorize_url),
        ("token_url", "Token URI", &spec.token_url),
        ("refresh_url", "Refresh URI", &spec.refresh_url),
        ("revoke_url", "Revoke URI", &spec.revoke_url),
        ("info_url", "Info URI", &spec.info_url),
        ("issuer", "Issuer", &spec.issuer),
        ("device_url", "Device authorization URI", &spec.device_url),
    ] {
        let required = needs.requires(field);
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(url) => {
                if let Err(message) = check_endpoint_url(label, url) {
                    fail(field, message);
                }
            }
            None if required => fail(
                field,
                format!("{label} is required for the {flow_label} flow. Copy it from the provider's API documentation."),
            ),
            None => {}
        }
    }

    let separator = spec.scope_separator.as_char();
    let mut seen = Vec::new();
    for scope in &spec.scopes {
        if scope.is_empty() {
            fail("scopes", "Scopes: one scope is empty. Remove it.".into());
        } else if scope.chars().any(char::is_whitespace) {
            fail("scopes", format!("Scopes: '{scope}' contains a space. Enter each scope on its own."));
        } else if scope.contains(separator) {
            fail(
                "scopes",
                format!("Scopes: '{scope}' contains the scope separator '{separator}'. Enter each scope on its own."),
            );
        } else if seen.contains(&scope) {
            fail("scopes", format!("Scopes: '{scope}' is listed twice. Remove one."));
        }
        seen.push(scope);
    }

    if spec.client_id.trim().is_empty() {
        fail("client_id", "Client ID is required. Copy it from the app you registered with the provider.".into());
    }

    match spec.client_auth {
        ClientAuth::Body | ClientAuth::Basic if !has_client_secret => fail(
            "client_auth",
            format!(
                "Client authentication '{}' needs a client secret. Enter the client secret, or choose 'none' for a public client.",
                spec.client_auth
            ),
        ),
        ClientAuth::None if spec.flow == Flow::ClientCredentials => fail(
            "client_secret",
            "The client credentials flow needs a client secret. Enter the secret the provider gave your app.".into(),
        ),
        _ => {}
    }

    if spec.pkce != Pkce::Off && spec.flow != Flow::AuthorizationCode {
        fail("pkce", format!("PKCE applies only to the authorization code flow. Set it to 'off' for the {flow_label} flow."));
    }

    for (field, label, params, reserved) in [
        ("authorize_params", "Authorize parameters", &spec.authorize_params, RESERVED_AUTHORIZE_PARAMS),
        ("token_params", "Access token parameters", &spec.token_params, RESERVED_TOKEN_PARAMS),
        ("refresh_params", "Refresh token parameters", &spec.refresh_params, RESERVED_TOKEN_PARAMS),
    ] {
        for KeyValue { key, .. } in params {
            if key.trim().is_empty() {
                fail(field, format!("{label}: a parameter has no name. Give it one or remove it."));
            } else if reserved.contains(&key.as_str()) {
                fail(field, format!("{label}: '{key}' is set by Latch itself. Remove it (use the Scopes field for scopes)."));
            }
        }
    }

    for KeyValue { key, value } in &spec.custom_headers {
        if key.is_empty() || !key.bytes().all(is_header_name_byte) {
            fail(
                "custom_headers",
                format!("Custom headers: '{key}' is not a valid header name. Use letters, digits and dashes, e.g. X-Api-Version."),
            );
        } else if value.contains(['\r', '\n']) {
            fail("custom_headers", format!("Custom headers: the value of '{key}' must be on one line."));
        } else if key.eq_ignore_ascii_case("authorization") && spec.token_placement != TokenPlacement::Query {
            fail(
                "custom_headers",
                "Custom headers: Latch sets the Authorization header from the token. Remove it, or use query placement.".into(),
            );
        }
    }

    if spec.token_name.is_empty() || spec.token_name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        fail("token_name", "Token name must be one word without spaces, e.g. Bearer.".into());
    }
    if spec.query_param.is_empty() || !spec.query_param.chars().all(|c| c.is_ascii_graphic() && !"&=#?".contains(c)) {
        fail("query_param", "Query parameter name must be one word without &, =, # or ?, e.g. access_token.".into());
    }

    if spec.redirect_port != 0 && spec.redirect_port < 1024 {
        fail(
            "redirect_port",
            format!(
                "Redirect port {} needs administrator rights. Pick a port from 1024 to 65535, or leave it automatic.",
                spec.redirect_port
            ),
        );
    }
    if let Some(fixed) = spec.redirect_uri_override.as_deref() {
        if let Err(message) = check_hosted_redirect_uri(fixed) {
            fail("redirect_uri_override", message);
        }
    }
    if !spec.redirect_path.starts_with('/') || spec.redirect_path.contains(['?', '#', ' ']) {
        fail(
            "redirect_path",
            "Redirect path must start with '/' and have no spaces, '?' or '#', e.g. /callback.".into(),
        );
    }

    let mut seen = Vec::new();
    for resource in &spec.resource {
        if let Err(message) = check_resource(resource) {
            fail("resource", message);
        } else if seen.contains(&resource) {
            fail("resource", format!("Resources: '{resource}' is listed twice. Remove one."));
        }
        seen.push(resource);
    }

    errors
}

/// RFC 8707 §2: a resource indicator is an absolute URI without a fragment.
/// It names an API; Latch never fetches it, so any scheme is allowed.
fn check_resource(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|_| {
        format!("Resources: '{text}' is not an absolute URI. Enter the API's address, e.g. https://api.example.com/.")
    })?;
    if url.fragment().is_some() {
        return Err(format!("Resources: '{text}' must not contain a '#' fragment (RFC 8707)."));
    }
    Ok(())
}

/// Connection names are shown everywhere and typed in terminals.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("Connection name is required, e.g. 'GitHub' or 'Team Drive'.".into());
    }
    if name.trim() != name {
        return Err("Connection name must not start or end with a space.".into());
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(format!(
            "Connection name is {} characters long; shorten it to {NAME_MAX_CHARS} or fewer.",
            name.chars().count()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("Connection name must not contain control characters such as tabs or line breaks.".into());
    }
    Ok(())
}

/// Endpoint URLs must be absolute http(s) URLs without a fragment (RFC 6749
/// §3.1), and https except on loopback hosts, where local development servers
/// run (RFC 8252 §8.3 allows plain http only there).
pub fn check_endpoint_url(label: &str, text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|_| {
        format!("{label} '{text}' is not a valid URL. Enter a full address such as https://example.com/oauth/token.")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            return Err(format!(
                "{label} must use https://. Plain http is only allowed for 127.0.0.1, localhost and [::1]."
            ))
        }
        other => return Err(format!("{label} must start with https:// (not {other}:).")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{label} '{text}' has no host name."));
    }
    if url.fragment().is_some() {
        return Err(format!("{label} must not contain a '#' fragment."));
    }
    Ok(url)
}

/// A fixed redirect URI hosted by the provider or a third party (used with
/// the paste flow): https only, since the code travels through it, except
/// on loopback hosts for local test servers.
pub fn check_hosted_redirect_uri(text: &str) -> Result<url::Url, String> {
    check_endpoint_url("Redirect URI", text)
}

pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn is_header_name_byte(b: u8) -> bool {
    // RFC 9110 §5.6.2 token characters.
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScopeSeparator;

    fn valid_code_spec() -> OAuth2Settings {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "client-1");
        spec.authorize_url = Some("https://github.com/login/oauth/authorize".into());
        spec.token_url = Some("https://github.com/login/oauth/access_token".into());
        spec
    }

    fn messages(spec: &OAuth2Settings, has_secret: bool) -> Vec<(&'static str, String)> {
        oauth2(spec, has_secret).into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn a_complete_spec_is_valid() {
        assert!(oauth2(&valid_code_spec(), false).is_empty());
    }

    #[test]
    fn a_malformed_url_is_refused_with_an_example() {
        let mut spec = valid_code_spec();
        spec.token_url = Some("not a url".into());
        let errors = messages(&spec, false);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "token_url");
        assert!(errors[0].1.starts_with("Token URI 'not a url' is not a valid URL"), "{}", errors[0].1);
        assert!(errors[0].1.contains("https://example.com/oauth/token"));
    }

    #[test]
    fn plain_http_is_refused_except_for_loopback_hosts() {
        let mut spec = valid_code_spec();
        spec.authorize_url = Some("http://example.com/auth".into());
        assert_eq!(
            messages(&spec, false),
            vec![(
                "authorize_url",
                "Authorize URI must use https://. Plain http is only allowed for 127.0.0.1, localhost and [::1].".into()
            )]
        );
        for host in ["127.0.0.1:8080", "localhost", "[::1]:9000"] {
            spec.authorize_url = Some(format!("http://{host}/auth"));
            assert!(oauth2(&spec, false).is_empty(), "{host}");
        }
    }

    #[test]
    fn other_schemes_and_fragments_are_refused() {
        assert_eq!(
            check_endpoint_url("Token URI", "ftp://example.com/t").unwrap_err(),
            "Token URI must start with https:// (not ftp:)."
        );
        assert_eq!(
            check_endpoint_url("Token URI", "https://example.com/t#x").unwrap_err(),
            "Token URI must not contain a '#' fragment."
        );
    }

    #[test]
    fn an_empty_client_id_is_refused() {
        let mut spec = valid_code_spec();
        spec.client_id = "  ".into();
        assert_eq!(
            messages(&spec, false),
            vec![("client_id", "Client ID is required. Copy it from the app you registered with the provider.".into())]
        );
    }

    #[test]
    fn names_are_required_and_at_most_100_characters() {
        assert_eq!(check_name("").unwrap_err(), "Connection name is required, e.g. 'GitHub' or 'Team Drive'.");
        assert!(check_name(&"é".repeat(100)).is_ok());
        assert_eq!(
            check_name(&"é".repeat(101)).unwrap_err(),
            "Connection name is 101 characters long; shorten it to 100 or fewer."
        );
        assert!(check_name("two\nlines").unwrap_err().contains("control characters"));
        assert_eq!(check_name(" padded").unwrap_err(), "Connection name must not start or end with a space.");
    }

    #[test]
    fn resources_must_be_absolute_uris_without_fragments_and_listed_once() {
        let mut spec = valid_code_spec();
        spec.resource = vec!["https://api.example.com/".into(), "urn:example:calendar".into()];
        assert!(oauth2(&spec, false).is_empty());
        spec.resource = vec!["api.example.com".into(), "https://a.example/#x".into(), "urn:x".into(), "urn:x".into()];
        let errors = messages(&spec, false);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.iter().all(|(field, _)| *field == "resource"));
        assert!(errors[0].1.contains("'api.example.com' is not an absolute URI"));
        assert!(errors[1].1.contains("must not contain a '#' fragment"));
        assert!(errors[2].1.contains("listed twice"));
    }

    #[test]
    fn scopes_with_the_separator_or_whitespace_are_refused() {
        let mut spec = valid_code_spec();
        spec.scopes = vec!["read write".into()];
        assert_eq!(
            messages(&spec, false)[0].1,
            "Scopes: 'read write' contains a space. Enter each scope on its own."
        );
        spec.scope_separator = ScopeSeparator::Comma;
        spec.scopes = vec!["read,write".into()];
        assert_eq!(
            messages(&spec, false)[0].1,
            "Scopes: 'read,write' contains the scope separator ','. Enter each scope on its own."
        );
        // A comma is an ordinary character when the separator is a space.
        spec.scope_separator = ScopeSeparator::Space;
        assert!(oauth2(&spec, false).is_empty());
        spec.scopes = vec!["a".into(), "a".into()];
        assert_eq!(messages(&spec, false)[0].1, "Scopes: 'a' is listed twice. Remove one.");
        spec.scopes = vec![String::new()];
        assert_eq!(messages(&spec, false)[0].1, "Scopes: one scope is empty. Remove it.");
    }

    #[test]
    fn required_urls_depend_on_the_flow() {
        let spec = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        let fields: Vec<_> = oauth2(&spec, false).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["authorize_url", "token_url"]);
        assert_eq!(
            messages(&spec, false)[0].1,
            "Authorize URI is required for the authorization code flow. Copy it from the provider's API documentation."
        );

        let implicit = OAuth2Settings::new(Flow::Implicit, "c");
        let fields: Vec<_> = oauth2(&implicit, false).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["authorize_url"]);

        let mut cc = OAuth2Settings::new(Flow::ClientCredentials, "c");
        cc.client_auth = ClientAuth::Body;
        let fields: Vec<_> = oauth2(&cc, true).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["token_url"]);
    }

    #[test]
    fn client_credentials_needs_a_secret() {
        let mut spec = OAuth2Settings::new(Flow::ClientCredentials, "c");
        spec.token_url = Some("https://example.com/token".into());
        assert_eq!(
            messages(&spec, false),
            vec![(
                "client_secret",
                "The client credentials flow needs a client secret. Enter the secret the provider gave your app.".into()
            )]
        );
    }

    #[test]
    fn basic_or_body_auth_without_a_secret_is_refused() {
        let mut spec = valid_code_spec();
        spec.client_auth = ClientAuth::Basic;
        assert_eq!(
            messages(&spec, false),
            vec![(
                "client_auth",
                "Client authentication 'basic' needs a client secret. Enter the client secret, or choose 'none' for a public client.".into()
            )]
        );
        assert!(oauth2(&spec, true).is_empty());
    }

    #[test]
    fn pkce_is_refused_outside_the_code_flow() {
        let mut spec = OAuth2Settings::new(Flow::Implicit, "c");
        spec.authorize_url = Some("https://example.com/a".into());
        spec.pkce = Pkce::S256;
        assert_eq!(
            messages(&spec, false),
            vec![("pkce", "PKCE applies only to the authorization code flow. Set it to 'off' for the implicit flow.".into())]
        );
    }

    #[test]
    fn reserved_and_nameless_parameters_are_refused() {
        let mut spec = valid_code_spec();
        spec.authorize_params = vec![KeyValue::new("state", "x"), KeyValue::new("", "y"), KeyValue::new("prompt", "consent")];
        assert_eq!(
            messages(&spec, false),
            vec![
                (
                    "authorize_params",
                    "Authorize parameters: 'state' is set by Latch itself. Remove it (use the Scopes field for scopes).".into()
                ),
                ("authorize_params", "Authorize parameters: a parameter has no name. Give it one or remove it.".into()),
            ]
        );
    }

    #[test]
    fn bad_headers_are_refused() {
        let mut spec = valid_code_spec();
        spec.custom_headers = vec![KeyValue::new("X Bad", "1")];
        assert!(messages(&spec, false)[0].1.contains("is not a valid header name"));
        spec.custom_headers = vec![KeyValue::new("X-Ok", "a\r\nInjected: 1")];
        assert_eq!(messages(&spec, false)[0].1, "Custom headers: the value of 'X-Ok' must be on one line.");
        spec.custom_headers = vec![KeyValue::new("Authorization", "x")];
        assert!(messages(&spec, false)[0].1.contains("Latch sets the Authorization header"));
        spec.token_placement = TokenPlacement::Query;
        assert!(oauth2(&spec, false).is_empty());
    }

    #[test]
    fn token_name_query_param_port_and_path_are_checked() {
        let mut spec = valid_code_spec();
        spec.token_name = "My Token".into();
        spec.query_param = "a=b".into();
        spec.redirect_port = 80;
        spec.redirect_path = "callback".into();
        let fields: Vec<_> = oauth2(&spec, false).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["token_name", "query_param", "redirect_port", "redirect_path"]);
        assert_eq!(
            messages(&spec, false)[2].1,
            "Redirect port 80 needs administrator rights. Pick a port from 1024 to 65535, or leave it automatic."
        );
    }

    #[test]
    fn a_fixed_redirect_uri_must_be_https() {
        let mut spec = valid_code_spec();
        spec.redirect_uri_override = Some("https://www.make.com/oauth/cb/app".into());
        assert!(oauth2(&spec, false).is_empty());
        spec.redirect_uri_override = Some("http://example.com/cb".into());
        assert_eq!(
            messages(&spec, false),
            vec![(
                "redirect_uri_override",
                "Redirect URI must use https://. Plain http is only allowed for 127.0.0.1, localhost and [::1].".into()
            )]
        );
    }
}
