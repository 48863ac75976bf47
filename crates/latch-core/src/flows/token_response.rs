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
}

impl TokenGrant {
    pub fn from_response(response: LatchTokenResponse, token_type_as_sent: Option<String>) -> Self {
        let extra = response.extra_fields();
        TokenGrant {
            tokens: TokenSet {
                access_token: AccessToken::new(response.access_token().secret().clone()),
                refresh_token: response.refresh_token().map(|t| RefreshToken::new(t.secret().clone())),
                id_token: extra.id_token.as_ref().map(|t| IdToken::new(t.secret().clone())),
                token_type: token_type_as_sent.unwrap_or_else(|| response.token_type().as_ref().to_owned()),
            },
            expires_in: response.expires_in(),
            refresh_expires_in: extra.refresh_expires_in.map(Duration::from_secs),
            scopes: response.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()),
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
        if let Some(seconds) = value.as_ref().and_then(as_seconds).map(|n| match unit {
            ExpiresInUnit::Seconds => n,
            ExpiresInUnit::Minutes => n.saturating_mul(60),
        }) {
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

fn as_seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64)),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| *f >= 0.0).map(|f| f.round() as u64),
        _ => None,
    }
}

/// Keys whose values are secrets in any provider body, request or response.
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
    "code_verifier",
    "device_code",
    "password",
    "assertion",
    "token",
];

/// A provider body fit for a details pane: secret values replaced, length
/// bounded. Used for error details only.
pub fn redact_body(media_type: &str, body: &[u8]) -> String {
    const MAX: usize = 2000;
    let text = String::from_utf8_lossy(body);
    let redacted = if let Ok(mut value) = serde_json::from_str::<Value>(&text) {
        redact_json(&mut value);
        serde_json::to_string_pretty(&value).unwrap_or_default()
    } else if media_type == "application/x-www-form-urlencoded" {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&text).unwrap_or_default();
        pairs
            .into_iter()
            .map(|(k, v)| if SECRET_KEYS.contains(&k.as_str()) { format!("{k}=[redacted]") } else { format!("{k}={v}") })
            .collect::<Vec<_>>()
            .join("&")
    } else {
        text.into_owned()
    };
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
                if SECRET_KEYS.contains(&key.as_str()) {
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
        );
        assert!(!json.contains("SECRET"), "{json}");
        assert!(json.contains("\"error\": \"x\""));
        let form = redact_body("application/x-www-form-urlencoded", b"access_token=SECRET3&scope=a");
        assert_eq!(form, "access_token=[redacted]&scope=a");
    }
}
