//! The rules a connection must satisfy before it is saved — one set for the
//! CLI and the desktop form, so both say the same thing in the same words.
//! Each message names the field and says how to fix it.

use std::collections::HashSet;

use crate::error::{is_bidi_control, FieldError};
use crate::model::{
    ApiAccess, ClientAuth, Flow, KeyValue, KindSettings, OAuth1Settings, OAuth2Settings, Pkce, SpecSettings, TokenPlacement,
};
use serde_json::Value;

pub const NAME_MAX_CHARS: usize = 100;
/// The longest address (an endpoint, a redirect URI or path, a resource).
pub const URL_MAX_BYTES: usize = 2_048;
/// The longest single value: the client ID, a scope, a parameter's or
/// header's name or value, the token name, the query parameter.
pub const VALUE_MAX_BYTES: usize = 4_096;
/// The most items in one list: scopes, resources, each parameter list,
/// custom headers.
pub const LIST_MAX_ITEMS: usize = 256;
/// How much of a value a message quotes.
const SHOWN_MAX_CHARS: usize = 100;

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
    let mut errors = match settings {
        KindSettings::OAuth2(settings) => oauth2(settings, has_client_secret),
        KindSettings::Spec(settings) => spec(settings),
        KindSettings::OAuth1(settings) => oauth1(settings, has_client_secret),
    };
    errors.extend(api(settings.api()));
    errors
}

/// The rules of the API base URL and the allowed hosts.
pub fn api(access: &ApiAccess) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(base) = access.api_base_url.as_deref() {
        if base.len() > URL_MAX_BYTES {
            errors.push(FieldError {
                field: "api_base_url",
                message: format!("The API base URL is longer than {} bytes.", URL_MAX_BYTES),
            });
        } else {
            match check_endpoint_url("API base URL", base) {
                Err(message) => errors.push(FieldError { field: "api_base_url", message }),
                Ok(url) if url.query().is_some() || url.fragment().is_some() => errors.push(FieldError {
                    field: "api_base_url",
                    message: "The API base URL ends at its path: leave out '?…' and '#…'.".into(),
                }),
                Ok(_) => {}
            }
        }
    }
    if access.allowed_hosts.len() > 50 {
        errors.push(FieldError { field: "allowed_hosts", message: "Allow at most 50 hosts.".into() });
    }
    for host in &access.allowed_hosts {
        if let Err(message) = crate::model::HostRule::parse(host) {
            errors.push(FieldError { field: "allowed_hosts", message });
        }
    }
    errors
}

/// The rules of an OAuth 1.0a connection. `has_client_secret` is whether a
/// consumer secret will be stored (HMAC and PLAINTEXT need one; RSA signs
/// with the private key, checked when it is saved).
pub fn oauth1(settings: &OAuth1Settings, has_client_secret: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |field: &'static str, message: String| errors.push(FieldError { field, message });
    for (field, label, value, required) in [
        ("request_token_url", "Request token URL", &settings.request_token_url, true),
        ("authorize_url", "Authorize URL", &settings.authorize_url, true),
        ("access_token_url", "Access token URL", &settings.access_token_url, true),
        ("info_url", "Info URL", &settings.info_url, false),
        ("revoke_url", "Revoke URL", &settings.revoke_url, false),
    ] {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(url) if url.len() > URL_MAX_BYTES => fail(field, too_long(label, "address", url.len(), URL_MAX_BYTES)),
            Some(url) => {
                if let Err(message) = check_endpoint_url(label, url) {
                    fail(field, message);
                }
            }
            None if required => fail(field, format!("{label} is required. Copy it from the provider's API documentation.")),
            None => {}
        }
    }
    if settings.consumer_key.trim().is_empty() {
        fail("consumer_key", "Consumer key is required. The provider shows it where you registered your app.".into());
    } else if settings.consumer_key.chars().any(|c| c.is_control()) {
        fail("consumer_key", "Consumer key must be one line of text.".into());
    }
    if !settings.signature_method.uses_private_key() && !has_client_secret {
        fail(
            "client_secret",
            "Consumer secret is required for this signature method. The provider shows it beside the consumer key.".into(),
        );
    }
    errors
}

/// The rules of a spec connection that need no template evaluated: the
/// spec has the steps a sign-in needs, the user's values fit its
/// parameters, the hosted redirect is https. (The templates themselves are
/// checked when the spec is opened: `spec::check`.)
pub fn spec(settings: &SpecSettings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let document = &settings.spec;
    if !document.communication.is_object() {
        errors.push(FieldError {
            field: "spec",
            message: "The spec has no communication: the steps Latch runs to sign in (at least 'token').".into(),
        });
    } else if document.step(document.token_step()).is_none() {
        errors.push(FieldError {
            field: "spec",
            message: format!("The spec has no '{}' step, so it cannot sign in.", document.token_step()),
        });
    }
    let secret = document.secret_parameters();
    for definition in &document.parameters {
        let Some(name) = definition.get("name").and_then(Value::as_str) else { continue };
        if secret.iter().any(|s| s == name) {
            continue;
        }
        let label = definition.get("label").and_then(Value::as_str).unwrap_or(name);
        match settings.parameters.get(name) {
            None if definition.get("required").and_then(Value::as_bool) == Some(true)
                && definition.get("default").is_none_or(Value::is_null) =>
            {
                errors.push(FieldError { field: "parameters", message: format!("{label} is required.") });
            }
            None => {}
            Some(value) => {
                if let Err(message) = spec_parameter_value(definition, value) {
                    errors.push(FieldError { field: "parameters", message: format!("{label}: {message}") });
                }
            }
        }
    }
    if let Some(fixed) = &settings.redirect_uri_override {
        if let Err(message) = check_hosted_redirect_uri(fixed) {
            errors.push(FieldError { field: "redirect_uri_override", message });
        }
    }
    errors
}

/// Whether `value` fits a spec parameter's definition (its `type`, and
/// `options` for a select). The same rule for the CLI's `--param` and the
/// app's form.
pub fn spec_parameter_value(definition: &Value, value: &Value) -> Result<(), String> {
    let kind = definition.get("type").and_then(Value::as_str).unwrap_or("text");
    let text = value.as_str();
    match kind {
        "number" | "integer" | "uinteger" => {
            let number = value.as_f64().or_else(|| text.and_then(|t| t.trim().parse::<f64>().ok()));
            match number {
                None => Err("must be a number.".into()),
                Some(n) if kind != "number" && n.fract() != 0.0 => Err("must be a whole number.".into()),
                Some(n) if kind == "uinteger" && n < 0.0 => Err("must not be negative.".into()),
                Some(_) => Ok(()),
            }
        }
        "boolean" => match value {
            Value::Bool(_) => Ok(()),
            Value::String(t) if matches!(t.as_str(), "true" | "false") => Ok(()),
            _ => Err("must be true or false.".into()),
        },
        "email" => match text {
            Some(t) if t.contains('@') && !t.starts_with('@') && !t.ends_with('@') => Ok(()),
            _ => Err("must be an e-mail address.".into()),
        },
        "url" => match text.map(url::Url::parse) {
            Some(Ok(url)) if matches!(url.scheme(), "https" | "http") => Ok(()),
            _ => Err("must be a web address starting with https://.".into()),
        },
        "select" => {
            let options: Vec<&Value> = definition
                .get("options")
                .and_then(Value::as_array)
                .map(|o| o.iter().map(|opt| opt.get("value").unwrap_or(opt)).collect())
                .unwrap_or_default();
            let matches = |v: &Value| options.iter().any(|o| *o == v || o.as_str().zip(v.as_str()).is_some_and(|(a, b)| a == b) || (o.is_number() && v.as_str() == Some(&o.to_string())));
            if options.is_empty() || matches(value) {
                Ok(())
            } else {
                let listed: Vec<String> = options.iter().map(|o| o.as_str().map(str::to_owned).unwrap_or_else(|| o.to_string())).collect();
                Err(format!("must be one of: {}.", listed.join(", ")))
            }
        }
        "array" => match value {
            Value::Array(_) => Ok(()),
            _ => Err("must be a list.".into()),
        },
        "collection" => match value {
            Value::Object(_) => Ok(()),
            _ => Err("must be a set of named values.".into()),
        },
        _ => match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
            _ => Err("must be text.".into()),
        },
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
        ("par_url", "PAR endpoint", &spec.par_url),
    ] {
        // With PAR on, a browser sign-in starts at the PAR endpoint (RFC 9126).
        let required = needs.requires(field) || (field == "par_url" && spec.pushes_authorization_request());
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(url) if url.len() > URL_MAX_BYTES => fail(field, too_long(label, "address", url.len(), URL_MAX_BYTES)),
            Some(url) => {
                if let Err(message) = check_endpoint_url(label, url) {
                    fail(field, message);
                }
            }
            None if required && field == "par_url" => fail(
                field,
                "PAR endpoint is required while pushed authorization requests (PAR) are on. Copy it from the provider's \
                 metadata (pushed_authorization_request_endpoint), or turn PAR off."
                    .into(),
            ),
            None if required => fail(
                field,
                format!("{label} is required for the {flow_label} flow. Copy it from the provider's API documentation."),
            ),
            None => {}
        }
    }

    let separator = spec.scope_separator.as_char();
    if let Some(message) = too_many("Scopes", "scopes", spec.scopes.len()) {
        fail("scopes", message);
    } else {
        let mut seen = HashSet::new();
        for scope in &spec.scopes {
            if scope.is_empty() {
                fail("scopes", "Scopes: one scope is empty. Remove it.".into());
            } else if scope.len() > VALUE_MAX_BYTES {
                fail("scopes", too_long("Scopes: one scope", "scope", scope.len(), VALUE_MAX_BYTES));
            } else if scope.chars().any(char::is_whitespace) {
                fail("scopes", format!("Scopes: '{}' contains a space. Enter each scope on its own.", shown(scope)));
            } else if scope.chars().any(is_hidden) {
                fail(
                    "scopes",
                    format!(
                        "Scopes: '{}' contains a control or invisible character. Type the scope as the provider's documentation spells it.",
                        shown(scope)
                    ),
                );
            } else if scope.contains(separator) {
                fail(
                    "scopes",
                    format!(
                        "Scopes: '{}' contains the scope separator '{separator}'. Enter each scope on its own.",
                        shown(scope)
                    ),
                );
            } else if !seen.insert(scope.as_str()) {
                fail("scopes", format!("Scopes: '{}' is listed twice. Remove one.", shown(scope)));
            }
        }
    }

    if let Some(registration) = &spec.registration {
        // Addresses a server named in its registration answer: the same
        // rules as typed ones, whether they came from there or from a file.
        for (label, url) in [("Registration endpoint", Some(&registration.endpoint)), ("Registration client URI", registration.client_uri.as_ref())] {
            if let Some(message) = url.and_then(|url| check_endpoint_url(label, url).err()) {
                fail("registration", message);
            }
        }
    }
    if let Some(aliases) = &spec.mtls_endpoint_aliases {
        // RFC 8705 §5 aliases come from the server's metadata: the same
        // rules as typed addresses.
        for url in [
            &aliases.token_endpoint,
            &aliases.revocation_endpoint,
            &aliases.pushed_authorization_request_endpoint,
            &aliases.device_authorization_endpoint,
            &aliases.userinfo_endpoint,
        ]
        .into_iter()
        .flatten()
        {
            if let Err(message) = check_endpoint_url("mTLS endpoint alias", url) {
                fail("mtls_endpoint_aliases", message);
            }
        }
    }
    if spec.client_id.trim().is_empty() {
        fail("client_id", "Client ID is required. Copy it from the app you registered with the provider.".into());
    } else if spec.client_id.len() > VALUE_MAX_BYTES {
        fail("client_id", too_long("Client ID", "ID", spec.client_id.len(), VALUE_MAX_BYTES));
    }

    match spec.client_auth {
        ClientAuth::Body | ClientAuth::Basic | ClientAuth::ClientSecretJwt if !has_client_secret => fail(
            "client_auth",
            format!(
                "Client authentication '{}' needs a client secret. Enter the client secret, or choose 'none' for a public client.",
                spec.client_auth
            ),
        ),
        ClientAuth::PrivateKeyJwt if !has_client_secret => fail(
            "client_secret",
            "Signing with a private key needs the key: let Latch generate one, or import the PEM file your organisation gave you."
                .into(),
        ),
        ClientAuth::TlsClientAuth if spec.client_certificate.is_none() => fail(
            "client_certificate",
            "Signing in with a certificate (mutual TLS) needs one: import the certificate and its private key your \
             organisation gave you (PEM files, or one PKCS#12 file)."
                .into(),
        ),
        // self_signed_tls_client_auth without one: Latch makes it on save (engine/mtls.rs).
        ClientAuth::None if spec.flow == Flow::ClientCredentials => fail(
            "client_secret",
            "The client credentials flow needs a client secret. Enter the secret the provider gave your app.".into(),
        ),
        _ => {}
    }

    // DPoP (RFC 9449): a proof goes with each token request, and the bound
    // token in the Authorization header (§7.1), never in the address.
    if spec.dpop && spec.flow == Flow::Implicit {
        fail(
            "dpop",
            "The implicit flow gets its token without a token request, so it cannot be bound to this computer (DPoP). \
             Use the authorization code flow, or turn DPoP off."
                .into(),
        );
    } else if spec.dpop && spec.token_placement != TokenPlacement::Header {
        fail(
            "dpop",
            "Tokens bound to this computer (DPoP) are sent in the Authorization header only. Choose the header for \
             the token placement, or turn DPoP off."
                .into(),
        );
    }

    if spec.pkce != Pkce::Off && spec.flow != Flow::AuthorizationCode {
        fail("pkce", format!("PKCE applies only to the authorization code flow. Set it to 'off' for the {flow_label} flow."));
    }

    for (field, label, params, reserved) in [
        ("authorize_params", "Authorize parameters", &spec.authorize_params, RESERVED_AUTHORIZE_PARAMS),
        ("token_params", "Access token parameters", &spec.token_params, RESERVED_TOKEN_PARAMS),
        ("refresh_params", "Refresh token parameters", &spec.refresh_params, RESERVED_TOKEN_PARAMS),
    ] {
        if let Some(message) = too_many(label, "parameters", params.len()) {
            fail(field, message);
            continue;
        }
        for KeyValue { key, value } in params {
            if key.trim().is_empty() {
                fail(field, format!("{label}: a parameter has no name. Give it one or remove it."));
            } else if key.len() > VALUE_MAX_BYTES {
                fail(field, too_long(&format!("{label}: a parameter's name"), "name", key.len(), VALUE_MAX_BYTES));
            } else if reserved.contains(&key.as_str()) {
                fail(
                    field,
                    format!("{label}: '{}' is set by Latch itself. Remove it (use the Scopes field for scopes).", shown(key)),
                );
            } else if value.len() > VALUE_MAX_BYTES {
                fail(field, too_long(&format!("{label}: the value of '{}'", shown(key)), "value", value.len(), VALUE_MAX_BYTES));
            }
        }
    }

    if let Some(message) = too_many("Custom headers", "headers", spec.custom_headers.len()) {
        fail("custom_headers", message);
    } else {
        for KeyValue { key, value } in &spec.custom_headers {
            if key.is_empty() || key.len() > VALUE_MAX_BYTES || !key.bytes().all(is_header_name_byte) {
                fail(
                    "custom_headers",
                    format!(
                        "Custom headers: '{}' is not a valid header name. Use letters, digits and dashes, e.g. X-Api-Version.",
                        shown(key)
                    ),
                );
            } else if value.contains(['\r', '\n']) {
                fail("custom_headers", format!("Custom headers: the value of '{key}' must be on one line."));
            } else if value.len() > VALUE_MAX_BYTES {
                fail("custom_headers", too_long(&format!("Custom headers: the value of '{key}'"), "value", value.len(), VALUE_MAX_BYTES));
            } else if key.eq_ignore_ascii_case("authorization") && spec.token_placement != TokenPlacement::Query {
                fail(
                    "custom_headers",
                    "Custom headers: Latch sets the Authorization header from the token. Remove it, or use query placement.".into(),
                );
            }
        }
    }

    if spec.token_name.len() > VALUE_MAX_BYTES {
        fail("token_name", too_long("Token name", "name", spec.token_name.len(), VALUE_MAX_BYTES));
    } else if spec.token_name.is_empty() || spec.token_name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        fail("token_name", "Token name must be one word without spaces, e.g. Bearer.".into());
    }
    if spec.query_param.len() > VALUE_MAX_BYTES {
        fail("query_param", too_long("Query parameter name", "name", spec.query_param.len(), VALUE_MAX_BYTES));
    } else if spec.query_param.is_empty() || !spec.query_param.chars().all(|c| c.is_ascii_graphic() && !"&=#?".contains(c)) {
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
        if fixed.len() > URL_MAX_BYTES {
            fail("redirect_uri_override", too_long("Redirect URI", "address", fixed.len(), URL_MAX_BYTES));
        } else if let Err(message) = check_hosted_redirect_uri(fixed) {
            fail("redirect_uri_override", message);
        }
    }
    if spec.redirect_path.len() > URL_MAX_BYTES {
        fail("redirect_path", too_long("Redirect path", "path", spec.redirect_path.len(), URL_MAX_BYTES));
    } else if !spec.redirect_path.starts_with('/')
        || spec.redirect_path.contains(['?', '#', ' '])
        || spec.redirect_path.chars().any(char::is_control)
    {
        fail(
            "redirect_path",
            "Redirect path must start with '/' and have no spaces, '?' or '#', e.g. /callback.".into(),
        );
    }

    if let Some(message) = too_many("Resources", "resources", spec.resource.len()) {
        fail("resource", message);
    } else {
        let mut seen = HashSet::new();
        for resource in &spec.resource {
            if resource.len() > URL_MAX_BYTES {
                fail("resource", too_long("Resources: one resource", "address", resource.len(), URL_MAX_BYTES));
            } else if let Err(message) = check_resource(resource) {
                fail("resource", message);
            } else if !seen.insert(resource.as_str()) {
                fail("resource", format!("Resources: '{}' is listed twice. Remove one.", shown(resource)));
            }
        }
    }

    errors
}

/// The rules that depend on what a connection had before: `before` is its
/// saved settings (None for a new connection), `after` what it is about to
/// become. The engine checks them on create and on every edit, but not when
/// signing in, so a connection saved under older rules keeps working.
pub fn settings_change(before: Option<&KindSettings>, after: &KindSettings) -> Vec<FieldError> {
    match (before, after) {
        (before, KindSettings::OAuth2(after)) => {
            let before = before.and_then(KindSettings::oauth2);
            refuse_new_plain_pkce(before, after).into_iter().collect()
        }
        (_, KindSettings::Spec(_) | KindSettings::OAuth1(_)) => Vec::new(),
    }
}

/// PKCE `plain` (RFC 7636 §4.2) sends the verifier itself, so whoever sees
/// the sign-in address can redeem the code; RFC 9700 §2.1.1 says to use
/// S256. A new connection cannot choose it; one that already uses it keeps
/// it (through other edits too) until the user picks another method.
pub fn refuse_new_plain_pkce(before: Option<&OAuth2Settings>, after: &OAuth2Settings) -> Option<FieldError> {
    let already_plain = before.is_some_and(|before| before.pkce == Pkce::Plain);
    (after.pkce == Pkce::Plain && after.flow == Flow::AuthorizationCode && !already_plain).then(|| FieldError {
        field: "pkce",
        message: "PKCE 'plain' is no longer offered for new settings: it protects the sign-in less than S256. Choose S256, \
                  the safe choice (or 'off' if the provider does not support PKCE)."
            .into(),
    })
}

/// A character that does not show as itself: a control character, a bidi
/// control, or an invisible one (zero-width spaces and joiners, word
/// joiner, invisible operators, the byte order mark, the soft hyphen).
fn is_hidden(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_invisible(c)
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// A value as a message quotes it: every character that does not show as
/// itself written as `\u{1b}`, and a long value cut short. A message never
/// carries the raw character (an escape sequence would reach the terminal).
fn shown(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_MAX_CHARS {
            out.push('…');
            break;
        }
        if is_hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// `2048` as people read it: `2,048`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// "Client ID is too long (…)". `what` is what to check was copied alone.
fn too_long(label: &str, what: &str, len: usize, max: usize) -> String {
    format!(
        "{label} is too long: {} bytes, more than the {} Latch accepts. Check that you copied only the {what}.",
        thousands(len),
        thousands(max)
    )
}

/// "Scopes: 300 are listed …", when a list is longer than Latch keeps.
fn too_many(label: &str, what: &str, count: usize) -> Option<String> {
    (count > LIST_MAX_ITEMS).then(|| {
        format!("{label}: {} {what} are listed; Latch accepts at most {LIST_MAX_ITEMS}. Remove some.", thousands(count))
    })
}

/// RFC 8707 §2: a resource indicator is an absolute URI without a fragment.
/// It names an API; Latch never fetches it, so any scheme is allowed.
fn check_resource(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|_| {
        format!(
            "Resources: '{}' is not an absolute URI. Enter the API's address, e.g. https://api.example.com/.",
            shown(text)
        )
    })?;
    if url.fragment().is_some() {
        return Err(format!("Resources: '{}' must not contain a '#' fragment (RFC 8707).", shown(text)));
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
    if name.chars().any(is_bidi_control) {
        return Err("Connection name must not contain text direction marks (such as right-to-left override): they make \
                    a name read differently from what it is. Type the name again without them."
            .into());
    }
    if name.chars().any(is_invisible) {
        return Err("Connection name must not contain invisible characters (such as zero-width spaces or soft hyphens). \
                    Type the name again without them."
            .into());
    }
    Ok(())
}

/// Endpoint URLs must be absolute http(s) URLs without a fragment (RFC 6749
/// §3.1), and https except on loopback hosts, where local development servers
/// run (RFC 8252 §8.3 allows plain http only there).
pub fn check_endpoint_url(label: &str, text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|_| {
        format!(
            "{label} '{}' is not a valid URL. Enter a full address such as https://example.com/oauth/token.",
            shown(text)
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => {
            return Err(format!(
                "{label} must start with https:// (plain http:// only for addresses on this computer, such as localhost)."
            ))
        }
        other => return Err(format!("{label} must start with https:// (not {other}:).")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{label} '{}' has no host name.", shown(text)));
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
                "Authorize URI must start with https:// (plain http:// only for addresses on this computer, such as localhost).".into()
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
    fn par_needs_its_endpoint_only_for_a_browser_sign_in_and_the_endpoint_follows_the_rules() {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        spec.authorize_url = Some("https://example.com/auth".into());
        spec.token_url = Some("https://example.com/token".into());
        spec.par = true;
        assert_eq!(
            messages(&spec, false),
            vec![(
                "par_url",
                "PAR endpoint is required while pushed authorization requests (PAR) are on. Copy it from the provider's \
                 metadata (pushed_authorization_request_endpoint), or turn PAR off."
                    .to_string()
            )]
        );
        spec.par_url = Some("http://example.com/par".into());
        assert_eq!(oauth2(&spec, false)[0].field, "par_url");
        spec.par_url = Some("https://example.com/par".into());
        assert!(oauth2(&spec, false).is_empty());
        let mut cc = OAuth2Settings::new(Flow::ClientCredentials, "c");
        cc.client_auth = ClientAuth::Body;
        cc.token_url = Some("https://example.com/token".into());
        cc.par = true;
        assert!(oauth2(&cc, true).is_empty(), "no browser, nothing to push");
    }

    #[test]
    fn dpop_needs_a_token_request_and_the_header() {
        let mut spec = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        spec.authorize_url = Some("https://example.com/auth".into());
        spec.token_url = Some("https://example.com/token".into());
        spec.dpop = true;
        assert!(oauth2(&spec, false).is_empty());
        spec.token_placement = TokenPlacement::Query;
        let errors = messages(&spec, false);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "dpop");
        assert!(errors[0].1.contains("Authorization header"), "{errors:?}");
        spec.token_placement = TokenPlacement::Header;
        spec.flow = Flow::Implicit;
        let errors = messages(&spec, false);
        assert!(errors.iter().any(|(field, message)| *field == "dpop" && message.contains("implicit")), "{errors:?}");
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
    fn a_certificate_client_needs_its_certificate_and_no_secret() {
        let mut spec = OAuth2Settings::new(Flow::ClientCredentials, "c");
        spec.token_url = Some("https://example.com/token".into());
        spec.client_auth = ClientAuth::TlsClientAuth;
        assert_eq!(
            messages(&spec, false),
            vec![(
                "client_certificate",
                "Signing in with a certificate (mutual TLS) needs one: import the certificate and its private key your \
                 organisation gave you (PEM files, or one PKCS#12 file)."
                    .into()
            )]
        );
        // Latch makes a self-signed one on save.
        spec.client_auth = ClientAuth::SelfSignedTlsClientAuth;
        assert!(messages(&spec, false).is_empty());
        spec.client_auth = ClientAuth::TlsClientAuth;
        spec.client_certificate = Some(crate::model::ClientCertificate {
            subject: "CN=c".into(),
            issuer: "CN=ca".into(),
            not_after: chrono::Utc::now(),
            thumbprint: "t".into(),
            made_by_latch: false,
        });
        assert!(messages(&spec, false).is_empty(), "no client secret needed");
    }

    #[test]
    fn mtls_endpoint_aliases_follow_the_endpoint_rules() {
        let mut spec = valid_code_spec();
        spec.mtls_endpoint_aliases = Some(crate::model::MtlsEndpointAliases {
            token_endpoint: Some("http://mtls.example.com/token".into()),
            ..Default::default()
        });
        let errors = messages(&spec, false);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "mtls_endpoint_aliases");
        assert!(errors[0].1.contains("mTLS endpoint alias"), "{}", errors[0].1);
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
                "Redirect URI must start with https:// (plain http:// only for addresses on this computer, such as localhost).".into()
            )]
        );
    }

    #[test]
    fn names_with_direction_marks_or_invisible_characters_are_refused() {
        for spoof in ["Bank\u{202e}txt.exe", "a\u{202a}b", "\u{2066}GitHub\u{2069}", "Git\u{200f}Hub"] {
            assert_eq!(
                check_name(spoof).unwrap_err(),
                "Connection name must not contain text direction marks (such as right-to-left override): they make \
                 a name read differently from what it is. Type the name again without them.",
                "{spoof:?}"
            );
        }
        for hidden in ["Git\u{200b}Hub", "Team\u{200d}Drive", "\u{feff}GitHub", "Git\u{ad}Hub", "Git\u{2060}Hub", "a\u{2064}"] {
            assert!(check_name(hidden).unwrap_err().contains("invisible characters"), "{hidden:?}");
        }
        // Other scripts, accents, emoji and punctuation are fine.
        for fine in ["Team Drive", "Café — 東京", "GitHub (work) 🚀", "O'Brien's \"drive\" $HOME", "שלום", "مرحبا"] {
            assert!(check_name(fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn a_name_with_escape_sequences_is_refused_without_echoing_them() {
        let message = check_name("evil\u{1b}]0;pwned\u{7}\u{1b}[31m").unwrap_err();
        assert!(message.contains("control characters"), "{message}");
        assert!(!message.contains('\u{1b}') && !message.contains('\u{7}') && !message.contains("pwned"), "{message:?}");
    }

    #[test]
    fn messages_write_control_characters_as_escapes() {
        let mut spec = valid_code_spec();
        spec.token_url = Some("\u{1b}[31mnot a url\u{202e}".into());
        spec.scopes = vec!["read\u{1b}[2J".into(), "a\u{9b}b".into(), "two\nlines".into()];
        spec.resource = vec!["\u{1b}]0;pwned\u{7}".into()];
        spec.custom_headers = vec![KeyValue::new("X-\u{1b}[31m", "v")];
        let errors = messages(&spec, false);
        assert_eq!(errors.len(), 6, "{errors:?}");
        for (field, message) in &errors {
            assert!(!message.chars().any(is_hidden), "{field}: {message:?}");
        }
        assert!(errors[0].1.starts_with(r"Token URI '\u{1b}[31mnot a url\u{202e}' is not a valid URL"), "{}", errors[0].1);
        assert!(errors[1].1.contains(r"'read\u{1b}[2J' contains a control or invisible character"), "{}", errors[1].1);
        assert!(errors[2].1.contains(r"'a\u{9b}b'"), "{}", errors[2].1);
        assert!(errors[3].1.contains(r"'two\u{a}lines' contains a space"), "{}", errors[3].1);
        assert!(errors[4].1.contains(r"'X-\u{1b}[31m' is not a valid header name"), "{}", errors[4].1);
        assert!(errors[5].1.contains(r"'\u{1b}]0;pwned\u{7}' is not an absolute URI"), "{}", errors[5].1);
    }

    #[test]
    fn a_quoted_value_is_cut_short() {
        let mut spec = valid_code_spec();
        spec.scopes = vec![format!("{} b", "a".repeat(1000))];
        let message = &messages(&spec, false)[0].1;
        assert!(message.len() < 200 && message.contains('…'), "{message}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn no_message_carries_a_character_that_does_not_show_as_itself(
                text in "[a-z:/.\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069} '\"$`\\\\]{0,24}",
                field in 0usize..8,
            ) {
                let mut spec = valid_code_spec();
                match field {
                    0 => spec.token_url = Some(format!("https://{text}")),
                    1 => spec.info_url = Some(text.clone()),
                    2 => spec.scopes = vec![text.clone(), text.clone()],
                    3 => spec.resource = vec![text.clone(), text.clone()],
                    4 => spec.custom_headers = vec![KeyValue::new(text.clone(), text.clone())],
                    5 => spec.token_params = vec![KeyValue::new(text.clone(), "v")],
                    6 => spec.redirect_uri_override = Some(text.clone()),
                    _ => spec.client_id = text.clone(),
                }
                for error in oauth2(&spec, false) {
                    prop_assert!(!error.message.chars().any(is_hidden), "{}: {:?}", error.field, error.message);
                }
                if let Err(message) = check_name(&text) {
                    prop_assert!(!message.chars().any(is_hidden), "{:?}", message);
                }
            }
        }
    }

    #[test]
    fn every_field_has_a_size_limit() {
        let mut spec = valid_code_spec();
        spec.client_id = "x".repeat(50_000_000);
        assert_eq!(
            messages(&spec, false),
            vec![(
                "client_id",
                "Client ID is too long: 50,000,000 bytes, more than the 4,096 Latch accepts. Check that you copied only the ID."
                    .into()
            )]
        );

        let mut spec = valid_code_spec();
        let base = "https://example.com/";
        spec.token_url = Some(format!("{base}{}", "a".repeat(URL_MAX_BYTES - base.len())));
        assert!(oauth2(&spec, false).is_empty(), "2,048 bytes is allowed");
        spec.token_url = Some(format!("{base}{}", "a".repeat(URL_MAX_BYTES + 1 - base.len())));
        assert_eq!(
            messages(&spec, false),
            vec![(
                "token_url",
                "Token URI is too long: 2,049 bytes, more than the 2,048 Latch accepts. Check that you copied only the address."
                    .into()
            )]
        );

        let big = "v".repeat(VALUE_MAX_BYTES + 1);
        let mut spec = valid_code_spec();
        spec.redirect_uri_override = Some(format!("https://example.com/{big}"));
        spec.redirect_path = format!("/{big}");
        spec.token_name = big.clone();
        spec.query_param = big.clone();
        spec.authorize_params = vec![KeyValue::new(big.clone(), "v"), KeyValue::new("k", big.clone())];
        spec.custom_headers = vec![KeyValue::new("X-Big", big.clone())];
        spec.scopes = vec![big.clone()];
        spec.resource = vec![format!("https://api.example.com/{big}")];
        let fields: Vec<_> = oauth2(&spec, false).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![
                "scopes",
                "authorize_params",
                "authorize_params",
                "custom_headers",
                "token_name",
                "query_param",
                "redirect_uri_override",
                "redirect_path",
                "resource"
            ]
        );
        let errors = messages(&spec, false);
        assert!(errors.iter().all(|(_, m)| m.contains("is too long: ") && !m.contains(&big)), "{errors:?}");
        assert_eq!(errors[2].1, "Authorize parameters: the value of 'k' is too long: 4,097 bytes, more than the 4,096 Latch accepts. Check that you copied only the value.");
    }

    #[test]
    fn lists_hold_at_most_256_items() {
        // 256 scopes of 4 KB each: accepted, in one pass (a duplicate check
        // that compared every pair would take 32,640 4 KB comparisons).
        let mut spec = valid_code_spec();
        spec.scopes = (0..LIST_MAX_ITEMS).map(|i| format!("{i:04}{}", "s".repeat(VALUE_MAX_BYTES - 4))).collect();
        assert!(spec.scopes.iter().all(|s| s.len() == VALUE_MAX_BYTES));
        assert!(oauth2(&spec, false).is_empty());
        spec.scopes.push("one-more".into());
        assert_eq!(
            messages(&spec, false),
            vec![("scopes", "Scopes: 257 scopes are listed; Latch accepts at most 256. Remove some.".into())]
        );

        let mut spec = valid_code_spec();
        let many = |n: usize| (0..n).map(|i| KeyValue::new(format!("k{i}"), "v")).collect::<Vec<_>>();
        spec.authorize_params = many(257);
        spec.token_params = many(257);
        spec.refresh_params = many(257);
        spec.custom_headers = (0..257).map(|i| KeyValue::new(format!("X-H{i}"), "v")).collect();
        spec.resource = (0..257).map(|i| format!("urn:example:{i}")).collect();
        let fields: Vec<_> = oauth2(&spec, false).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["authorize_params", "token_params", "refresh_params", "custom_headers", "resource"]);
        assert!(messages(&spec, false)[3].1.starts_with("Custom headers: 257 headers are listed; Latch accepts at most 256."));
        spec.authorize_params = many(256);
        spec.token_params = many(256);
        spec.refresh_params = many(256);
        spec.custom_headers = (0..256).map(|i| KeyValue::new(format!("X-H{i}"), "v")).collect();
        spec.resource = (0..256).map(|i| format!("urn:example:{i}")).collect();
        assert!(oauth2(&spec, false).is_empty());
    }

    #[test]
    fn plain_pkce_is_refused_for_new_settings_but_kept_for_a_connection_that_has_it() {
        let mut plain = valid_code_spec();
        plain.pkce = Pkce::Plain;
        // The rules a saved connection is checked against on sign-in still accept it.
        assert!(oauth2(&plain, false).is_empty());
        let refused = refuse_new_plain_pkce(None, &plain).expect("a new connection cannot choose plain");
        assert_eq!(refused.field, "pkce");
        assert_eq!(
            refused.message,
            "PKCE 'plain' is no longer offered for new settings: it protects the sign-in less than S256. Choose S256, \
             the safe choice (or 'off' if the provider does not support PKCE)."
        );
        let s256 = valid_code_spec();
        assert!(refuse_new_plain_pkce(Some(&s256), &plain).is_some(), "switching to plain is a new choice");
        assert!(refuse_new_plain_pkce(Some(&plain), &plain).is_none(), "an old connection keeps it through other edits");
        assert!(refuse_new_plain_pkce(None, &s256).is_none());
        assert!(refuse_new_plain_pkce(Some(&plain), &s256).is_none());

        let (before, after) = (KindSettings::OAuth2(plain.clone()), KindSettings::OAuth2(plain.clone()));
        assert!(settings_change(Some(&before), &after).is_empty());
        assert_eq!(settings_change(None, &after).len(), 1);
    }

    #[test]
    fn the_base_url_follows_the_endpoint_rules_and_has_no_query() {
        let access = |url: &str| crate::model::ApiAccess { api_base_url: Some(url.into()), ..Default::default() };
        assert!(api(&access("https://api.github.com")).is_empty());
        assert!(api(&access("http://127.0.0.1:8080/v1")).is_empty());
        assert_eq!(api(&access("http://api.example.com"))[0].field, "api_base_url");
        assert!(api(&access("https://api.example.com/v1?x=1"))[0].message.contains("'?"));
    }

    #[test]
    fn allowed_hosts_that_do_not_parse_are_refused_on_their_field() {
        let access = crate::model::ApiAccess { allowed_hosts: vec!["https://x.example".into()], ..Default::default() };
        assert_eq!(api(&access)[0].field, "allowed_hosts");
    }
}
