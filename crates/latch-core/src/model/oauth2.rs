//! The `oauth2` kind: Make's HTTP "OAuth 2.0" connection — flow, endpoints,
//! scopes and separator, extra parameters per step, custom headers, where
//! the token goes. One struct, one definition per field: its doc comment,
//! its default ([`Default`]), its rule (`validate.rs`), its CLI flag and its
//! form control. Stored as one JSON document per connection.

use serde::{Deserialize, Serialize};

use super::{string_enum, ApiAccess, KeyValue};

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
        /// RFC 7523 §2.2 / OpenID Connect Core §9 `client_secret_jwt`: a
        /// short-lived JWT signed (HS256) with the client secret, which
        /// itself never travels.
        ClientSecretJwt = "client_secret_jwt",
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
    RevokeStyle {
        /// RFC 7009: POST the token (form) to the revoke URL, with client authentication.
        Rfc7009 = "rfc7009",
        /// GET the revoke URL with `Authorization: <token name> <access token>`
        /// (App Academy v2's `/invalidate`).
        BearerGet = "bearer_get",
    }
);

pub const DEFAULT_TOKEN_NAME: &str = "Bearer";
pub const DEFAULT_QUERY_PARAM: &str = "access_token";
pub const DEFAULT_REDIRECT_PATH: &str = "/callback";

/// The settings of an OAuth 2.0 connection: the fields of the form.
///
/// Every field has a default, so a stored document written before a field
/// existed still loads, and a partial document (a preset, a patch) fills in
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OAuth2Settings {
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
    /// How `disconnect` revokes: RFC 7009 POST, or a bearer GET.
    pub revoke_style: RevokeStyle,
    /// The server advertised RFC 9207 (`authorization_response_iss_parameter_supported`):
    /// a sign-in response without `iss` is refused.
    pub require_iss: bool,
    /// A fixed https redirect URI hosted by someone else (e.g.
    /// https://www.make.com/oauth/cb/app), for providers that accept no
    /// loopback redirect. Sign-in then uses the paste flow.
    pub redirect_uri_override: Option<String>,
    /// RFC 8628 device authorization endpoint.
    pub device_url: Option<String>,
    /// RFC 8707 resource indicators: the APIs the token is for, each an
    /// absolute URI, sent as `resource=` with the authorization and token
    /// requests so the provider can limit the token's audience.
    pub resource: Vec<String>,
    /// RFC 9126 pushed authorization request endpoint (the server's
    /// `pushed_authorization_request_endpoint`).
    pub par_url: Option<String>,
    /// Push the authorization request to `par_url` first (RFC 9126): the
    /// browser's address then carries only `client_id` and `request_uri`.
    /// Discovery switches it on when the server requires it
    /// (`require_pushed_authorization_requests`); the user may too.
    pub par: bool,
    /// Set when Latch registered this client itself (RFC 7591) rather than
    /// the user copying a client ID from a developer console.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub registration: Option<ClientRegistration>,
    /// The API base URL and the hosts the credential may go to.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub api: ApiAccess,
}

impl Default for OAuth2Settings {
    /// Make's defaults: the authorization code flow with PKCE (S256), space
    /// separated scopes, the token in the header as `Bearer`, a public client.
    fn default() -> Self {
        OAuth2Settings::new(Flow::AuthorizationCode, "")
    }
}

impl OAuth2Settings {
    pub fn new(flow: Flow, client_id: impl Into<String>) -> Self {
        OAuth2Settings {
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
            resource: Vec::new(),
            par_url: None,
            par: false,
            registration: None,
            api: ApiAccess::default(),
        }
    }

    /// Empty addresses are no address, and key–value rows left entirely
    /// blank are no row: what a form sends is tidied once, here.
    pub fn normalize(&mut self) {
        for url in [
            &mut self.authorize_url,
            &mut self.token_url,
            &mut self.refresh_url,
            &mut self.revoke_url,
            &mut self.info_url,
            &mut self.issuer,
            &mut self.redirect_uri_override,
            &mut self.device_url,
            &mut self.par_url,
        ] {
            *url = url.take().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        }
        for list in [&mut self.authorize_params, &mut self.token_params, &mut self.refresh_params, &mut self.custom_headers] {
            list.retain(|kv| !(kv.key.trim().is_empty() && kv.value.trim().is_empty()));
        }
        for resource in &mut self.resource {
            *resource = resource.trim().to_owned();
        }
        self.resource.retain(|r| !r.is_empty());
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

    /// Signs in by pasting the address the browser ends on: the provider
    /// redirects to a hosted page Latch cannot listen on.
    pub fn signs_in_by_paste(&self) -> bool {
        self.flow.uses_browser() && self.redirect_uri_override.is_some()
    }

    /// The endpoint sign-in pushes its authorization request to (RFC 9126),
    /// when this connection uses PAR: a browser flow with `par` on.
    pub fn pushes_authorization_request(&self) -> bool {
        self.flow.uses_browser() && self.par
    }
}

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

    /// "authorization code", for sentences.
    pub fn label(self) -> &'static str {
        match self {
            Flow::AuthorizationCode => "authorization code",
            Flow::Implicit => "implicit",
            Flow::ClientCredentials => "client credentials",
            Flow::DeviceCode => "device code",
        }
    }

    /// Which settings this flow needs and which it never uses: the rule the
    /// validation applies and the form follows to show or hide fields.
    pub fn fields(self) -> FlowFields {
        let (required, unused): (&[&str], &[&str]) = match self {
            Flow::AuthorizationCode => (&["authorize_url", "token_url"], &["device_url"]),
            Flow::Implicit => (&["authorize_url"], &["token_url", "device_url"]),
            Flow::ClientCredentials => {
                (&["token_url"], &["authorize_url", "device_url", "redirect_port", "redirect_path", "redirect_uri_override"])
            }
            Flow::DeviceCode => {
                (&["token_url", "device_url"], &["authorize_url", "redirect_port", "redirect_path", "redirect_uri_override"])
            }
        };
        let owned = |fields: &[&str]| fields.iter().map(|f| f.to_string()).collect();
        FlowFields { flow: self, required: owned(required), unused: owned(unused) }
    }
}

/// A client Latch registered for itself (RFC 7591). Its registration
/// access token, when the server gave one, is a secret kept in the secret
/// store (`model::kind::REGISTRATION_TOKEN`), never here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClientRegistration {
    /// The registration endpoint it was made at: a new registration (after
    /// the old one was deleted) goes there.
    pub endpoint: String,
    /// The RFC 7592 client configuration endpoint, when the server offers
    /// one: disconnecting deletes the registration there.
    #[serde(default)]
    pub client_uri: Option<String>,
    /// The registration was deleted at the server (at disconnect): the next
    /// sign-in registers again.
    #[serde(default)]
    pub deleted: bool,
}

/// The settings a flow needs, and those it ignores (the form hides them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FlowFields {
    pub flow: Flow,
    pub required: Vec<String>,
    pub unused: Vec<String>,
}

impl FlowFields {
    pub fn requires(&self, field: &str) -> bool {
        self.required.iter().any(|f| f == field)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_join_with_the_chosen_separator() {
        let scopes = vec!["read".to_string(), "write".into(), "profile".into()];
        assert_eq!(ScopeSeparator::Space.join(&scopes), "read write profile");
        assert_eq!(ScopeSeparator::Comma.join(&scopes), "read,write,profile");
        assert_eq!(ScopeSeparator::Space.join(&[]), "");
    }

    #[test]
    fn authorization_code_defaults_to_pkce_s256_and_others_to_off() {
        assert_eq!(OAuth2Settings::new(Flow::AuthorizationCode, "c").pkce, Pkce::S256);
        assert_eq!(OAuth2Settings::new(Flow::ClientCredentials, "c").pkce, Pkce::Off);
        assert_eq!(OAuth2Settings::new(Flow::Implicit, "c").pkce, Pkce::Off);
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
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        assert_eq!(settings.redirect_uri(5000), "http://127.0.0.1:5000/callback");
        assert_eq!(settings.redirect_uri_to_register(), "http://127.0.0.1/callback");
        settings.redirect_port = 8765;
        assert_eq!(settings.redirect_uri_to_register(), "http://127.0.0.1:8765/callback");
    }

    #[test]
    fn a_document_written_before_a_field_existed_loads_with_its_default() {
        let old = serde_json::json!({ "flow": "client_credentials", "pkce": "off", "client_id": "c" });
        let settings: OAuth2Settings = serde_json::from_value(old).unwrap();
        assert_eq!(settings.token_name, "Bearer");
        assert!(settings.resource.is_empty());
        assert_eq!(settings.flow, Flow::ClientCredentials);
    }

    #[test]
    fn normalizing_empties_blank_addresses_and_drops_blank_rows() {
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        settings.info_url = Some("  ".into());
        settings.token_url = Some(" https://example.com/t ".into());
        settings.custom_headers = vec![KeyValue::new("", " "), KeyValue::new("X-A", "1")];
        settings.resource = vec![" ".into(), "https://api.example.com".into()];
        settings.normalize();
        assert_eq!(settings.info_url, None);
        assert_eq!(settings.token_url.as_deref(), Some("https://example.com/t"));
        assert_eq!(settings.custom_headers, vec![KeyValue::new("X-A", "1")]);
        assert_eq!(settings.resource, ["https://api.example.com"]);
    }

    #[test]
    fn each_flow_requires_its_endpoints_and_never_uses_the_others() {
        let code = Flow::AuthorizationCode.fields();
        assert!(code.requires("authorize_url") && code.requires("token_url") && !code.requires("device_url"));
        assert!(Flow::Implicit.fields().unused.contains(&"token_url".to_string()));
        assert!(Flow::DeviceCode.fields().requires("device_url"));
        assert!(Flow::ClientCredentials.fields().unused.contains(&"authorize_url".to_string()));
    }
}
