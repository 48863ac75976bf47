//! Token endpoint responses, read leniently where providers differ and
//! strictly where safety matters (DESIGN.md, "Flows").
//!
//! `normalize` rewrites a provider's answer into the RFC 6749 §5.1/§5.2 JSON
//! that oauth2-rs parses, so the crate does the standard work and the quirks
//! live in one pure function:
//! - form-encoded bodies (GitHub without `Accept: application/json`);
//! - `expires_in` as a string, or in minutes (App Academy v2);
//! - `token_type` missing or in lower case;
//! - `scope` comma-separated or as a JSON array;
//! - errors sent with HTTP 200 (GitHub), and 201 for success.

use std::time::Duration;

use oauth2::basic::BasicTokenType;
use oauth2::{ExtraTokenFields, StandardTokenResponse, TokenResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::{media_type, HttpResponse};
use crate::model::ExpiresInUnit;
use crate::secret::{AccessToken, IdToken, RefreshToken, TokenSet};

/// Fields beyond RFC 6749 §5.1 that Latch keeps.
#[derive(Debug, Serialize, Deserialize)]
pub struct LatchTokenFields {
    /// Lifetime of the refresh token, in seconds after normalising (Make's
    /// `response.expires`; App Academy, Microsoft and others send it).
    #[serde(default)]
    pub refresh_expires_in: Option<u64>,
    /// OpenID Connect ID token. oauth2-rs's `AccessToken` is used only as a
    /// redacting carrier on the way through.
    #[serde(default)]
    pub id_token: Option<oauth2::AccessToken>,
}

impl ExtraTokenFields for LatchTokenFields {}

pub type LatchTokenResponse = StandardTokenResponse<LatchTokenFields, BasicTokenType>;

/// What a successful token request yields.
#[derive(Debug)]
pub struct TokenGrant {
    pub tokens: TokenSet,
    pub expires_in: Option<Duration>,
    pub refresh_expires_in: Option<Duration>,
    /// `None` when the provider did not say (RFC 6749 §5.1: then it granted
    /// what was asked).
    pub scopes: Option<Vec<String>>,
    /// The account, when the sign-in itself learned it (a spec's `info`
    /// step runs before the tokens are stored).
    pub account: Option<String>,
}

impl TokenGrant {
    /// A bearer grant of `access_token` for `lifetime`, without a refresh
    /// token: what tests store as a provider's answer.
    #[cfg(test)]
    pub(crate) fn bearer(access_token: &str, lifetime: Duration) -> Self {
        TokenGrant {
            tokens: TokenSet {
                access_token: AccessToken::new(access_token.into()),
                refresh_token: None,
                id_token: None,
                token_type: "Bearer".into(),
                data: None,
            },
            expires_in: Some(lifetime),
            refresh_expires_in: None,
            scopes: None,
            account: None,
        }
    }

    pub fn from_response(response: LatchTokenResponse, token_type_as_sent: Option<String>) -> Self {
        let extra = response.extra_fields();
        TokenGrant {
            tokens: TokenSet {
                access_token: AccessToken::new(response.access_token().secret().clone()),
                refresh_token: response.refresh_token().map(|t| RefreshToken::new(t.secret().clone())),
                id_token: extra.id_token.as_ref().map(|t| IdToken::new(t.secret().clone())),
                token_type: token_type_as_sent.unwrap_or_else(|| response.token_type().as_ref().to_owned()),
                data: None,
            },
            expires_in: response.expires_in(),
            refresh_expires_in: extra.refresh_expires_in.map(Duration::from_secs),
            scopes: response.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()),
            account: None,
        }
    }
}

/// Rewrites a token endpoint response into standard JSON (see module docs).
/// Bodies that are neither JSON nor a form are left alone for the error path.
pub fn normalize(response: HttpResponse, unit: ExpiresInUnit) -> HttpResponse {
    let (mut parts, body) = response.into_parts();
    let Some(mut object) = parse_object(&media_type(&parts.headers), &body) else {
        return HttpResponse::from_parts(parts, body);
    };

    for key in ["expires_in", "refresh_expires_in"] {
        let value = object.remove(key).or_else(|| object.remove(&key.replace('_', "-")));
        // Absurd lifetimes are left out: unknown, so a 401 triggers the refresh.
        if let Some(seconds) = value.as_ref().and_then(as_seconds).and_then(|n| in_seconds(n, unit)) {
            object.insert(key.into(), Value::from(seconds));
        }
    }
    if !object.contains_key("token_type") && object.contains_key("access_token") {
        // RFC 6749 requires it, but a missing type means a bearer token in
        // practice (RFC 6750 is the only type in wide use).
        object.insert("token_type".into(), Value::from("Bearer"));
    }
    if let Some(scope) = object.get("scope") {
        let scopes: Vec<String> = match scope {
            Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Value::String(text) => text.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        object.insert("scope".into(), Value::from(scopes.join(" ")));
    }

    let is_error = object.contains_key("error") && !object.contains_key("access_token");
    if parts.status.is_success() {
        parts.status = if is_error { oauth2::http::StatusCode::BAD_REQUEST } else { oauth2::http::StatusCode::OK };
    }
    parts.headers.insert(
        oauth2::http::header::CONTENT_TYPE,
        oauth2::http::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(oauth2::http::header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&Value::Object(object)).expect("a JSON map serialises");
    HttpResponse::from_parts(parts, body)
}

/// The `token_type` exactly as the provider spelled it, for display.
pub fn token_type_as_sent(response: &HttpResponse) -> Option<String> {
    let value: Value = serde_json::from_slice(response.body()).ok()?;
    value.get("token_type")?.as_str().map(str::to_owned)
}

fn parse_object(media_type: &str, body: &[u8]) -> Option<Map<String, Value>> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if media_type.contains("json") || text.starts_with('{') {
        return match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
    }
    if media_type == "application/x-www-form-urlencoded" || media_type == "text/plain" || media_type.is_empty() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).ok()?;
        if pairs.iter().any(|(k, _)| k == "access_token" || k == "error") {
            return Some(pairs.into_iter().map(|(k, v)| (k, Value::from(v))).collect());
        }
    }
    None
}

/// The longest lifetime Latch believes: ten years. A provider that claims
/// more (or sends `inf`) has said nothing usable: the lifetime is unknown.
pub const MAX_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// A lifetime in whole seconds: none for what is not a finite number or is
/// absurdly long; zero ("expired now") for zero or less.
fn as_seconds(value: &Value) -> Option<u64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() {
        return None;
    }
    if seconds <= 0.0 {
        return Some(0);
    }
    let seconds = seconds.round();
    (seconds <= MAX_LIFETIME_SECS as f64).then_some(seconds as u64)
}

/// Scales a lifetime to seconds; an overflow or an absurd result is unknown.
fn in_seconds(lifetime: u64, unit: ExpiresInUnit) -> Option<u64> {
    let seconds = match unit {
        ExpiresInUnit::Seconds => lifetime,
        ExpiresInUnit::Minutes => lifetime.checked_mul(60)?,
    };
    (seconds <= MAX_LIFETIME_SECS).then_some(seconds)
}

/// Whether a key names a secret, however a provider spells it:
/// `access_token`, `accessToken`, `AccessToken`, `refresh-token`, `x_api_token`,
/// `client_secret`, `password`, `code`…
pub fn is_secret_key(key: &str) -> bool {
    let key: String = key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect();
    const EXACT: &[&str] =
        &["code", "codeverifier", "devicecode", "assertion", "clientassertion", "apikey", "privatekey", "authorization", "cookie"];
    key != "tokentype"
        && (EXACT.contains(&key.as_str()) || key.ends_with("token") || key.contains("secret") || key.contains("password"))
}

/// Replaces every occurrence of a known secret value (those Latch sent in
/// the request it is reading the answer to) in `text`.
pub fn scrub(text: &str, known: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in known.iter().filter(|s| s.len() >= 6) {
        if out.contains(secret) {
            out = out.replace(secret, "[redacted]");
        }
    }
    out
}

/// A provider body fit for a details pane: values under secret keys
/// replaced at any depth (also in bodies that are not valid JSON, e.g. cut
/// off), every value in `known` replaced wherever it appears, length bounded.
pub fn redact_body(media_type: &str, body: &[u8], known: &[&str]) -> String {
    const MAX: usize = 2000;
    let text = String::from_utf8_lossy(body);
    let redacted = if let Ok(mut value) = serde_json::from_str::<Value>(&text) {
        redact_json(&mut value);
        serde_json::to_string_pretty(&value).unwrap_or_default()
    } else if media_type == "application/x-www-form-urlencoded" {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&text).unwrap_or_default();
        pairs
            .into_iter()
            .map(|(k, v)| if is_secret_key(&k) { format!("{k}=[redacted]") } else { format!("{k}={v}") })
            .collect::<Vec<_>>()
            .join("&")
    } else {
        redact_text(&text)
    };
    let redacted = scrub(&redacted, known);
    if redacted.chars().count() > MAX {
        let cut: String = redacted.chars().take(MAX).collect();
        format!("{cut}\n[… cut at {MAX} characters]")
    } else {
        redacted
    }
}

fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if is_secret_key(key) && !item.is_null() {
                    *item = Value::from("[redacted]");
                } else {
                    redact_json(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Text that did not parse (a cut-off JSON body, a page): the value after
/// each `"secret key": "` or `secret_key=` is replaced up to its end.
fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, key, value_start)) = next_secret_key(rest) {
        out.push_str(&rest[..before]);
        out.push_str(key);
        let value = &rest[value_start..];
        let quoted = value.starts_with('"');
        let body = if quoted { &value[1..] } else { value };
        let end = if quoted {
            body.find('"').unwrap_or(body.len())
        } else {
            body.find(|c: char| c == '&' || c == ',' || c == '}' || c.is_whitespace()).unwrap_or(body.len())
        };
        out.push_str(if quoted { "\"[redacted]" } else { "[redacted]" });
        let consumed = if quoted { 1 + end + usize::from(end < body.len()) } else { end };
        rest = &value[consumed..];
    }
    out.push_str(rest);
    out
}

/// The next `"key": ` or `key=` whose key names a secret: (offset of the key,
/// the key and its separator as written, offset where the value starts).
fn next_secret_key(text: &str) -> Option<(usize, &str, usize)> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        // A key: a run of word characters, optionally in double quotes.
        let key_start = start + text[start..].find(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')?;
        let key_end = key_start
            + text[key_start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(text.len() - key_start);
        let quoted = key_start > 0 && bytes[key_start - 1] == b'"' && bytes.get(key_end) == Some(&b'"');
        let after = if quoted { key_end + 1 } else { key_end };
        let separator = text[after..].trim_start();
        let gap = text[after..].len() - separator.len();
        let value_start = match separator.chars().next() {
            Some(':') if quoted => after + gap + 1 + (separator[1..].len() - separator[1..].trim_start().len()),
            Some('=') if !quoted => after + gap + 1,
            _ => {
                start = key_end.max(start + 1);
                continue;
            }
        };
        if is_secret_key(&text[key_start..key_end]) {
            let shown_from = if quoted { key_start - 1 } else { key_start };
            return Some((shown_from, &text[shown_from..value_start], value_start));
        }
        start = value_start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth2::http;

    fn response(status: u16, content_type: &str, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn normalized_json(status: u16, content_type: &str, body: &str, unit: ExpiresInUnit) -> (u16, Value) {
        let out = normalize(response(status, content_type, body), unit);
        (out.status().as_u16(), serde_json::from_slice(out.body()).unwrap())
    }

    fn parse(body: &str) -> TokenGrant {
        let out = normalize(response(200, "application/json", body), ExpiresInUnit::Seconds);
        let sent = token_type_as_sent(&out);
        TokenGrant::from_response(serde_json::from_slice(out.body()).unwrap(), sent)
    }

    #[test]
    fn expires_in_as_a_string_is_read_as_seconds() {
        let grant = parse(r#"{"access_token":"a","token_type":"bearer","expires_in":"3600"}"#);
        assert_eq!(grant.expires_in, Some(Duration::from_secs(3600)));
        assert_eq!(grant.tokens.token_type, "bearer");
    }

    #[test]
    fn a_missing_token_type_means_bearer() {
        let grant = parse(r#"{"access_token":"a"}"#);
        assert_eq!(grant.tokens.token_type, "Bearer");
    }

    #[test]
    fn comma_and_array_scopes_become_a_list() {
        assert_eq!(parse(r#"{"access_token":"a","scope":"read,write"}"#).scopes.unwrap(), vec!["read", "write"]);
        assert_eq!(parse(r#"{"access_token":"a","scope":["x","y"]}"#).scopes.unwrap(), vec!["x", "y"]);
        assert_eq!(parse(r#"{"access_token":"a","scope":"x y"}"#).scopes.unwrap(), vec!["x", "y"]);
        assert_eq!(parse(r#"{"access_token":"a"}"#).scopes, None);
    }

    #[test]
    fn minutes_are_converted_to_seconds() {
        let (_, json) = normalized_json(
            200,
            "application/json",
            r#"{"access_token":"a","expires_in":5,"refresh_expires_in":60}"#,
            ExpiresInUnit::Minutes,
        );
        assert_eq!(json["expires_in"], 300);
        assert_eq!(json["refresh_expires_in"], 3600);
    }

    #[test]
    fn hyphenated_expires_in_is_accepted() {
        let (_, json) =
            normalized_json(200, "application/json", r#"{"access_token":"a","expires-in":7}"#, ExpiresInUnit::Seconds);
        assert_eq!(json["expires_in"], 7);
    }

    #[test]
    fn a_form_encoded_token_response_is_read() {
        let (status, json) = normalized_json(
            200,
            "application/x-www-form-urlencoded",
            "access_token=abc&token_type=bearer&scope=repo%2Cuser&expires_in=28800",
            ExpiresInUnit::Seconds,
        );
        assert_eq!(status, 200);
        assert_eq!(json["access_token"], "abc");
        assert_eq!(json["expires_in"], 28800);
        assert_eq!(json["scope"], "repo user");
    }

    #[test]
    fn an_error_sent_with_status_200_becomes_a_400() {
        let (status, json) = normalized_json(
            200,
            "application/json",
            r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
            ExpiresInUnit::Seconds,
        );
        assert_eq!(status, 400);
        assert_eq!(json["error"], "bad_verification_code");
    }

    #[test]
    fn a_201_success_becomes_a_200() {
        assert_eq!(normalized_json(201, "application/json", r#"{"access_token":"a"}"#, ExpiresInUnit::Seconds).0, 200);
    }

    #[test]
    fn an_html_page_is_left_for_the_error_path() {
        let out = normalize(response(502, "text/html", "<html>Bad Gateway</html>"), ExpiresInUnit::Seconds);
        assert_eq!(out.status().as_u16(), 502);
        assert_eq!(out.body(), b"<html>Bad Gateway</html>");
    }

    #[test]
    fn redaction_removes_token_values_from_json_and_forms() {
        let json = redact_body(
            "application/json",
            br#"{"access_token":"SECRET1","nested":{"refresh_token":"SECRET2"},"error":"x"}"#,
            &[],
        );
        assert!(!json.contains("SECRET"), "{json}");
        assert!(json.contains("\"error\": \"x\""));
        let form = redact_body("application/x-www-form-urlencoded", b"access_token=SECRET3&scope=a", &[]);
        assert_eq!(form, "access_token=[redacted]&scope=a");
    }

    #[test]
    fn redaction_finds_secret_keys_in_any_spelling_at_any_depth() {
        let body = br#"{"data":{"accessToken":"SECRET1","RefreshToken":"SECRET2","session":{"x-api-token":"SECRET3"}},
                       "items":[{"clientSecret":"SECRET4","password":"SECRET5"}],"token_type":"Bearer"}"#;
        let shown = redact_body("application/json", body, &[]);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("Bearer"), "the token type is not a secret: {shown}");
    }

    #[test]
    fn redaction_covers_bodies_that_are_not_valid_json() {
        let cut = br#"{"error":"server_error","data":{"access_token":"SECRET1","refreshToken": "SECRET2","expires"#;
        let shown = redact_body("application/json", cut, &[]);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("server_error"));
        let page = redact_body("text/plain", b"oops access_token=SECRET3&x=1 code=SECRET4", &[]);
        assert!(!page.contains("SECRET"), "{page}");
        assert!(page.contains("x=1"), "{page}");
    }

    #[test]
    fn redaction_replaces_the_values_latch_sent_wherever_they_are_echoed() {
        let body = br#"{"error":"invalid_grant","error_description":"refresh token rt-SECRET-9 is revoked"}"#;
        let shown = redact_body("application/json", body, &["rt-SECRET-9"]);
        assert!(!shown.contains("rt-SECRET-9"), "{shown}");
        assert_eq!(scrub("said rt-SECRET-9 twice: rt-SECRET-9", &["rt-SECRET-9"]), "said [redacted] twice: [redacted]");
    }

    #[test]
    fn absurd_lifetimes_are_unknown_and_non_positive_ones_expired() {
        for body in [
            r#"{"access_token":"a","expires_in":9000000000000}"#,
            r#"{"access_token":"a","expires_in":"inf"}"#,
            r#"{"access_token":"a","expires_in":"NaN"}"#,
            r#"{"access_token":"a","expires_in":1e300}"#,
            r#"{"access_token":"a","expires_in":"soon"}"#,
        ] {
            assert_eq!(parse(body).expires_in, None, "{body}");
        }
        assert_eq!(parse(r#"{"access_token":"a","expires_in":-5}"#).expires_in, Some(Duration::ZERO));
        assert_eq!(parse(r#"{"access_token":"a","expires_in":0}"#).expires_in, Some(Duration::ZERO));
        let (_, json) = normalized_json(
            200,
            "application/json",
            &format!(r#"{{"access_token":"a","expires_in":{}}}"#, MAX_LIFETIME_SECS),
            ExpiresInUnit::Minutes,
        );
        assert!(json.get("expires_in").is_none(), "ten years of minutes is more than ten years");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
                any::<i64>().prop_map(Value::from),
                ".{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map("[a-zA-Z_-]{1,14}", inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn any_token_response_parses_or_fails_without_panicking(body in json_value(), status in 100u16..600) {
                let text = serde_json::to_vec(&body).unwrap();
                let out = normalize(response(status, "application/json", std::str::from_utf8(&text).unwrap()), ExpiresInUnit::Minutes);
                let _ = serde_json::from_slice::<LatchTokenResponse>(out.body())
                    .map(|parsed| TokenGrant::from_response(parsed, token_type_as_sent(&out)));
            }

            #[test]
            fn any_bytes_normalize_without_panicking(body in prop::collection::vec(any::<u8>(), 0..256)) {
                let response = http::Response::builder().status(200).body(body).unwrap();
                let _ = normalize(response, ExpiresInUnit::Seconds);
            }

            #[test]
            fn a_planted_token_never_survives_redaction(
                body in json_value(),
                key in prop_oneof![Just("access_token"), Just("refreshToken"), Just("id_token"), Just("client_secret"), Just("apiToken")],
                cut in 0usize..400,
            ) {
                let planted = "PLANTED-token-value-42";
                let mut object = serde_json::Map::new();
                object.insert("data".into(), body);
                object.insert(key.into(), Value::from(planted));
                let text = serde_json::to_string(&Value::Object(object)).unwrap();
                let whole = redact_body("application/json", text.as_bytes(), &[]);
                prop_assert!(!whole.contains(planted), "{}", whole);
                // Cut anywhere (a truncated body): the value Latch sent is still never shown.
                let cut_at = text.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(text.len());
                let partial = redact_body("application/json", &text.as_bytes()[..cut_at], &[planted]);
                prop_assert!(!partial.contains(planted), "{}", partial);
            }
        }
    }
}
