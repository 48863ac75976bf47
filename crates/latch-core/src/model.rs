//! What a connection is (DESIGN.md, "Connection"). Everything here is
//! non-secret and lives in SQLite; secrets live in the keyring (`secret.rs`).
//!
//! The serde names are a public contract: `latch show --json` prints these
//! structs, and the desktop UI receives them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "'{text}' is not one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The OAuth 2.0 grant used to obtain tokens.
    Flow {
        /// RFC 6749 §4.1, with PKCE by default.
        AuthorizationCode = "authorization_code",
        /// RFC 6749 §4.2. Legacy: RFC 9700 says not to use it.
        Implicit = "implicit",
        /// RFC 6749 §4.4: the app acts as itself, no user and no browser.
        ClientCredentials = "client_credentials",
        /// RFC 8628: the user enters a short code on another page (or device).
        DeviceCode = "device_code",
    }
);

string_enum!(
    /// Proof Key for Code Exchange (RFC 7636) method.
    Pkce { S256 = "s256", Plain = "plain", Off = "off" }
);

string_enum!(
    /// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
    ClientAuth {
        /// `client_id` and `client_secret` in the form body.
        Body = "body",
        /// HTTP Basic with the form-urlencoded id and secret.
        Basic = "basic",
        /// A public client: `client_id` only.
        None = "none",
    }
);

string_enum!(
    /// How scopes are joined in `scope=`. Space is RFC 6749 §3.3; comma is a
    /// common non-standard variant some providers require.
    ScopeSeparator { Space = "space", Comma = "comma" }
);

string_enum!(
    /// Where `latch request` puts the access token.
    TokenPlacement { Header = "header", Query = "query", Both = "both" }
);

string_enum!(
    /// Body format of token requests. RFC 6749 says form; some APIs want JSON.
    TokenRequestFormat { Form = "form", Json = "json" }
);

string_enum!(
    /// Unit of `expires_in` in token responses (App Academy v2 uses minutes).
    ExpiresInUnit { Seconds = "seconds", Minutes = "minutes" }
);

string_enum!(
    /// How `disconnect` tells the provider to forget the tokens.
    #[derive(Default)]
    RevokeStyle {
        /// RFC 7009: POST the token (form) to the revoke URL, with client authentication.
        #[default]
        Rfc7009 = "rfc7009",
        /// GET the revoke URL with `Authorization: <token name> <access token>`
        /// (App Academy v2's `/invalidate`).
        BearerGet = "bearer_get",
    }
);

string_enum!(
    /// Where a connection stands, as shown to the user.
    Status {
        /// Saved, never connected (or disconnected).
        New = "new",
        /// Holds a usable token.
        Connected = "connected",
        /// A refresh is under way.
        Refreshing = "refreshing",
        /// Only the user can fix it: sign in again.
        NeedsReauth = "needs_reauth",
        /// The last attempt failed; `last_error` says why.
        Error = "error",
    }
);

impl Flow {
    /// The PKCE method a new connection gets unless the user picks one.
    pub fn default_pkce(self) -> Pkce {
        match self {
            Flow::AuthorizationCode => Pkce::S256,
            Flow::Implicit | Flow::ClientCredentials | Flow::DeviceCode => Pkce::Off,
        }
    }

    pub fn uses_browser(self) -> bool {
        matches!(self, Flow::AuthorizationCode | Flow::Implicit)
    }
}

impl ScopeSeparator {
    pub fn as_char(self) -> char {
        match self {
            ScopeSeparator::Space => ' ',
            ScopeSeparator::Comma => ',',
        }
    }

    /// The value of the `scope` parameter for these scopes.
    pub fn join(self, scopes: &[String]) -> String {
        scopes.join(&self.as_char().to_string())
    }
}

/// One extra parameter or header, in the order the user gave them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        KeyValue { key: key.into(), value: value.into() }
    }
}

/// Everything the user sets about a connection: the fields of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConnectionSpec {
    pub name: String,
    pub flow: Flow,
    pub pkce: Pkce,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    /// Defaults to `token_url` when empty.
    pub refresh_url: Option<String>,
    /// RFC 7009 revocation endpoint.
    pub revoke_url: Option<String>,
    /// Make's `info` step: called after connecting to learn the account.
    pub info_url: Option<String>,
    /// The authorization server's issuer identifier, when known (RFC 8414);
    /// the `iss` of authorization responses must match it (RFC 9207).
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
    pub scope_separator: ScopeSeparator,
    pub client_id: String,
    pub client_auth: ClientAuth,
    pub authorize_params: Vec<KeyValue>,
    pub token_params: Vec<KeyValue>,
    pub refresh_params: Vec<KeyValue>,
    pub custom_headers: Vec<KeyValue>,
    pub token_placement: TokenPlacement,
    /// The word before the token in `Authorization:`; Make's default `Bearer`.
    pub token_name: String,
    /// The query parameter that carries the token for query placement.
    pub query_param: String,
    /// 0 = an ephemeral port chosen at connect time (RFC 8252 §7.3).
    pub redirect_port: u16,
    pub redirect_path: String,
    pub token_request_format: TokenRequestFormat,
    pub expires_in_unit: ExpiresInUnit,
    // Fields below were added after the first release: `serde(default)` lets
    // rows stored before them still load.
    /// How `disconnect` revokes: RFC 7009 POST, or a bearer GET.
    #[serde(default)]
    pub revoke_style: RevokeStyle,
    /// The server advertised RFC 9207 (`authorization_response_iss_parameter_supported`):
    /// a sign-in response without `iss` is refused.
    #[serde(default)]
    pub require_iss: bool,
    /// A fixed https redirect URI hosted by someone else (e.g.
    /// https://www.make.com/oauth/cb/app), for providers that accept no
    /// loopback redirect. Sign-in then uses the paste flow.
    #[serde(default)]
    pub redirect_uri_override: Option<String>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default)]
    pub device_url: Option<String>,
}

pub const DEFAULT_TOKEN_NAME: &str = "Bearer";
pub const DEFAULT_QUERY_PARAM: &str = "access_token";
pub const DEFAULT_REDIRECT_PATH: &str = "/callback";

impl ConnectionSpec {
    /// A spec with Make's defaults for everything but the three required fields.
    pub fn new(name: impl Into<String>, flow: Flow, client_id: impl Into<String>) -> Self {
        ConnectionSpec {
            name: name.into(),
            flow,
            pkce: flow.default_pkce(),
            authorize_url: None,
            token_url: None,
            refresh_url: None,
            revoke_url: None,
            info_url: None,
            issuer: None,
            scopes: Vec::new(),
            scope_separator: ScopeSeparator::Space,
            client_id: client_id.into(),
            client_auth: ClientAuth::None,
            authorize_params: Vec::new(),
            token_params: Vec::new(),
            refresh_params: Vec::new(),
            custom_headers: Vec::new(),
            token_placement: TokenPlacement::Header,
            token_name: DEFAULT_TOKEN_NAME.into(),
            query_param: DEFAULT_QUERY_PARAM.into(),
            redirect_port: 0,
            redirect_path: DEFAULT_REDIRECT_PATH.into(),
            token_request_format: TokenRequestFormat::Form,
            expires_in_unit: ExpiresInUnit::Seconds,
            revoke_style: RevokeStyle::Rfc7009,
            require_iss: false,
            redirect_uri_override: None,
            device_url: None,
        }
    }

    /// The URL refresh requests go to.
    pub fn effective_refresh_url(&self) -> Option<&str> {
        self.refresh_url.as_deref().or(self.token_url.as_deref())
    }

    /// The redirect URI for a given bound port, byte for byte as sent to
    /// both the authorize and the token endpoint.
    pub fn redirect_uri(&self, port: u16) -> String {
        format!("http://127.0.0.1:{port}{}", self.redirect_path)
    }

    /// The redirect URI to register at the provider, as the user should type
    /// it there. With an automatic port, loopback-aware providers accept any
    /// port (RFC 8252 §7.3), so it is shown without one.
    pub fn redirect_uri_to_register(&self) -> String {
        if let Some(fixed) = &self.redirect_uri_override {
            return fixed.clone();
        }
        match self.redirect_port {
            0 => format!("http://127.0.0.1{}", self.redirect_path),
            port => self.redirect_uri(port),
        }
    }

    /// The host of the endpoint the user will recognise, for lists.
    pub fn provider_host(&self) -> Option<String> {
        let url = self.authorize_url.as_deref().or(self.token_url.as_deref())?;
        url::Url::parse(url).ok()?.host_str().map(str::to_owned)
    }
}

/// A unique id: `cn_` + ULID (DESIGN.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConnectionId(pub String);

impl ConnectionId {
    pub fn generate() -> Self {
        ConnectionId(format!("cn_{}", ulid::Ulid::new()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored connection: the user's spec plus what Latch learned about it.
/// Never holds a secret: `has_client_secret` and `has_refresh_token` say
/// whether the keyring holds one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Connection {
    pub id: ConnectionId,
    pub kind: String,
    #[serde(flatten)]
    pub spec: ConnectionSpec,
    pub status: Status,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// When the current access token was issued; with the expiry it gives the
    /// token's lifetime, which sets the refresh margin.
    pub access_issued_at: Option<DateTime<Utc>>,
    /// Scopes the provider says it granted; `None` when it did not say.
    pub granted_scopes: Option<Vec<String>>,
    /// The account's display name or e-mail, from the info request.
    pub account: Option<String>,
    pub has_client_secret: bool,
    pub has_refresh_token: bool,
    pub last_error: Option<String>,
    /// What the provider said last time it failed, secrets removed.
    pub last_error_details: Option<String>,
    /// After a passing failure (network, 5xx, 429): when the refresher tries again.
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Connection {
    /// A connection that was never connected: a fresh id, status `new`.
    pub fn new(spec: ConnectionSpec, has_client_secret: bool, now: DateTime<Utc>) -> Self {
        Connection {
            id: ConnectionId::generate(),
            kind: "oauth2".into(),
            spec,
            status: Status::New,
            access_expires_at: None,
            refresh_expires_at: None,
            access_issued_at: None,
            granted_scopes: None,
            account: None,
            has_client_secret,
            has_refresh_token: false,
            last_error: None,
            last_error_details: None,
            retry_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the user should look at it: it needs a sign-in, it failed,
    /// or a failed refresh is waiting to be tried again. The tray's count
    /// and `latch status` use this one rule.
    pub fn needs_attention(&self) -> bool {
        matches!(self.status, Status::NeedsReauth | Status::Error) || self.retry_at.is_some()
    }

    /// Scopes asked for but not granted, when the provider said what it granted.
    pub fn missing_scopes(&self) -> Vec<String> {
        match &self.granted_scopes {
            Some(granted) => self.spec.scopes.iter().filter(|s| !granted.contains(s)).cloned().collect(),
            None => Vec::new(),
        }
    }
}

/// A change to some fields of a connection; `None` keeps the current value.
/// `latch add` applies one to the defaults, `latch edit` to the stored spec.
#[derive(Debug, Clone, Default)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub flow: Option<Flow>,
    pub pkce: Option<Pkce>,
    pub authorize_url: Option<Option<String>>,
    pub token_url: Option<Option<String>>,
    pub refresh_url: Option<Option<String>>,
    pub revoke_url: Option<Option<String>>,
    pub info_url: Option<Option<String>>,
    pub issuer: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
    pub scope_separator: Option<ScopeSeparator>,
    pub client_id: Option<String>,
    pub client_auth: Option<ClientAuth>,
    pub authorize_params: Option<Vec<KeyValue>>,
    pub token_params: Option<Vec<KeyValue>>,
    pub refresh_params: Option<Vec<KeyValue>>,
    pub custom_headers: Option<Vec<KeyValue>>,
    pub token_placement: Option<TokenPlacement>,
    pub token_name: Option<String>,
    pub query_param: Option<String>,
    pub redirect_port: Option<u16>,
    pub redirect_path: Option<String>,
    pub token_request_format: Option<TokenRequestFormat>,
    pub expires_in_unit: Option<ExpiresInUnit>,
    pub revoke_style: Option<RevokeStyle>,
    pub require_iss: Option<bool>,
    pub redirect_uri_override: Option<Option<String>>,
    pub device_url: Option<Option<String>>,
}

/// A whole spec as a patch: every field set (the desktop form sends them all).
impl From<ConnectionSpec> for ConnectionPatch {
    fn from(s: ConnectionSpec) -> Self {
        ConnectionPatch {
            name: Some(s.name),
            flow: Some(s.flow),
            pkce: Some(s.pkce),
            authorize_url: Some(s.authorize_url),
            token_url: Some(s.token_url),
            refresh_url: Some(s.refresh_url),
            revoke_url: Some(s.revoke_url),
            info_url: Some(s.info_url),
            issuer: Some(s.issuer),
            scopes: Some(s.scopes),
            scope_separator: Some(s.scope_separator),
            client_id: Some(s.client_id),
            client_auth: Some(s.client_auth),
            authorize_params: Some(s.authorize_params),
            token_params: Some(s.token_params),
            refresh_params: Some(s.refresh_params),
            custom_headers: Some(s.custom_headers),
            token_placement: Some(s.token_placement),
            token_name: Some(s.token_name),
            query_param: Some(s.query_param),
            redirect_port: Some(s.redirect_port),
            redirect_path: Some(s.redirect_path),
            token_request_format: Some(s.token_request_format),
            expires_in_unit: Some(s.expires_in_unit),
            revoke_style: Some(s.revoke_style),
            require_iss: Some(s.require_iss),
            redirect_uri_override: Some(s.redirect_uri_override),
            device_url: Some(s.device_url),
        }
    }
}

impl ConnectionPatch {
    /// This patch on top of `base`: every field this one sets wins.
    pub fn over(self, base: ConnectionPatch) -> ConnectionPatch {
        macro_rules! pick {
            ($($field:ident),+) => { ConnectionPatch { $($field: self.$field.or(base.$field)),+ } };
        }
        pick!(
            name, flow, pkce, authorize_url, token_url, refresh_url, revoke_url, info_url, issuer, scopes,
            scope_separator, client_id, client_auth, authorize_params, token_params, refresh_params, custom_headers,
            token_placement, token_name, query_param, redirect_port, redirect_path, token_request_format,
            expires_in_unit, revoke_style, require_iss, redirect_uri_override, device_url
        )
    }

    /// Applies the patch. `has_secret` is whether a client secret will be
    /// stored afterwards: it picks the client authentication default (body
    /// with a secret, none without) when the patch does not set one.
    pub fn apply(self, spec: &mut ConnectionSpec, had_secret: bool, has_secret: bool) {
        let flow_changed = self.flow.is_some_and(|flow| flow != spec.flow);
        macro_rules! set {
            ($($field:ident),+) => { $(if let Some(value) = self.$field { spec.$field = value; })+ };
        }
        set!(
            name, flow, pkce, authorize_url, token_url, refresh_url, revoke_url, info_url, issuer,
            scopes, scope_separator, client_id, authorize_params, token_params, refresh_params,
            custom_headers, token_placement, token_name, query_param, redirect_port, redirect_path,
            token_request_format, expires_in_unit, revoke_style, require_iss, redirect_uri_override, device_url
        );
        if flow_changed && self.pkce.is_none() {
            spec.pkce = spec.flow.default_pkce();
        }
        match self.client_auth {
            Some(auth) => spec.client_auth = auth,
            // A secret was added or removed and the user did not say how to
            // send it: follow the default rather than keep a stale choice.
            None if has_secret != had_secret => {
                spec.client_auth = if has_secret { ClientAuth::Body } else { ClientAuth::None };
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_needs_attention_when_it_needs_sign_in_failed_or_waits_to_retry() {
        let mut c = Connection::new(ConnectionSpec::new("a", Flow::ClientCredentials, "c"), true, Utc::now());
        c.status = Status::Connected;
        assert!(!c.needs_attention());
        for status in [Status::NeedsReauth, Status::Error] {
            c.status = status;
            assert!(c.needs_attention(), "{status:?}");
        }
        c.status = Status::Connected;
        c.retry_at = Some(Utc::now());
        assert!(c.needs_attention(), "a refresh waiting to be tried again");
    }

    #[test]
    fn scopes_join_with_the_chosen_separator() {
        let scopes = vec!["read".to_string(), "write".into(), "profile".into()];
        assert_eq!(ScopeSeparator::Space.join(&scopes), "read write profile");
        assert_eq!(ScopeSeparator::Comma.join(&scopes), "read,write,profile");
        assert_eq!(ScopeSeparator::Space.join(&[]), "");
    }

    #[test]
    fn authorization_code_defaults_to_pkce_s256_and_others_to_off() {
        assert_eq!(ConnectionSpec::new("a", Flow::AuthorizationCode, "c").pkce, Pkce::S256);
        assert_eq!(ConnectionSpec::new("a", Flow::ClientCredentials, "c").pkce, Pkce::Off);
        assert_eq!(ConnectionSpec::new("a", Flow::Implicit, "c").pkce, Pkce::Off);
    }

    #[test]
    fn client_auth_defaults_to_body_with_a_secret_and_none_without() {
        let mut spec = ConnectionSpec::new("a", Flow::AuthorizationCode, "c");
        ConnectionPatch::default().apply(&mut spec, false, true);
        assert_eq!(spec.client_auth, ClientAuth::Body);
        ConnectionPatch::default().apply(&mut spec, true, false);
        assert_eq!(spec.client_auth, ClientAuth::None);
        let explicit = ConnectionPatch { client_auth: Some(ClientAuth::Basic), ..Default::default() };
        explicit.apply(&mut spec, false, true);
        assert_eq!(spec.client_auth, ClientAuth::Basic);
        // Keeping the secret keeps the explicit choice.
        ConnectionPatch::default().apply(&mut spec, true, true);
        assert_eq!(spec.client_auth, ClientAuth::Basic);
    }

    #[test]
    fn changing_the_flow_resets_pkce_unless_given() {
        let mut spec = ConnectionSpec::new("a", Flow::ClientCredentials, "c");
        let patch = ConnectionPatch { flow: Some(Flow::AuthorizationCode), ..Default::default() };
        patch.apply(&mut spec, false, false);
        assert_eq!(spec.pkce, Pkce::S256);
    }

    #[test]
    fn enums_round_trip_through_their_names() {
        for flow in Flow::ALL {
            assert_eq!(flow.as_str().parse::<Flow>().unwrap(), *flow);
        }
        assert!("password".parse::<Flow>().unwrap_err().contains("authorization_code"));
    }

    #[test]
    fn redirect_uri_uses_loopback_ip_and_the_path() {
        let mut spec = ConnectionSpec::new("a", Flow::AuthorizationCode, "c");
        assert_eq!(spec.redirect_uri(5000), "http://127.0.0.1:5000/callback");
        assert_eq!(spec.redirect_uri_to_register(), "http://127.0.0.1/callback");
        spec.redirect_port = 8765;
        assert_eq!(spec.redirect_uri_to_register(), "http://127.0.0.1:8765/callback");
    }
}
