//! The `spec` kind: a Make-style custom connection. The spec (its steps in
//! IML, its parameters, scopes and base) is the author's; the user's choices
//! are the parameter values and the scopes. Common values, password
//! parameters and the connection's `data` are secrets: they live in the
//! secret store, never here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApiAccess;

/// A spec, as written by its author (common values taken out).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpecDocument {
    /// The connection type's name, e.g. "academy".
    pub name: Option<String>,
    /// The steps: `preauthorize`, `authorize`, `token`, `info`, `refresh`,
    /// `invalidate`, each a request spec or an array of them.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub communication: Value,
    /// The fields the user fills in (Make's parameter definitions).
    #[cfg_attr(feature = "ts", ts(type = "Array<Record<string, unknown>>"))]
    pub parameters: Vec<Value>,
    pub default_scope: Vec<String>,
    /// Scope → what it lets the app do, in order.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, string>"))]
    pub scope_list: Map<String, Value>,
    /// The app's common data by key. Values are secrets: stored beside a
    /// connection they are `null`; the secret store holds the real ones.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub common: Map<String, Value>,
    /// How API requests are authenticated: `baseUrl`, `headers`, `qs`.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown> | null"))]
    pub base: Option<Value>,
}

impl SpecDocument {
    /// The spec with every common value taken out (kept as `null`): what is
    /// stored beside the connection and exported.
    pub fn without_common_values(&self) -> SpecDocument {
        let common = self.common.keys().map(|k| (k.clone(), Value::Null)).collect();
        SpecDocument { common, ..self.clone() }
    }

    /// The common values the file ships (placeholders excluded): entered for
    /// the user when they add a connection from it.
    pub fn shipped_common(&self) -> Map<String, Value> {
        self.common.iter().filter(|(_, v)| !is_placeholder(v)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// A step of the communication, when the spec has it.
    pub fn step(&self, name: &str) -> Option<&Value> {
        self.communication.get(name).filter(|v| !v.is_null())
    }

    /// An OAuth 1.0 spec (Make's `oauth`, `requestToken`, `accessToken`).
    pub fn is_oauth1(&self) -> bool {
        ["oauth", "requestToken", "accessToken"].iter().any(|step| self.step(step).is_some())
    }

    /// The step that gets the tokens: `token`, or `accessToken` in an
    /// OAuth 1.0 spec.
    pub fn token_step(&self) -> &'static str {
        if self.is_oauth1() {
            "accessToken"
        } else {
            "token"
        }
    }

    /// The parameter definitions of type `password` (or `pkey`/`cert`): the
    /// values the user types for them are secrets.
    pub fn secret_parameters(&self) -> Vec<String> {
        self.parameters
            .iter()
            .filter(|p| matches!(p.get("type").and_then(Value::as_str), Some("password" | "pkey" | "cert")))
            .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

/// An empty string, `null`, or text such as `<client id>` / `YOUR_CLIENT_ID`.
fn is_placeholder(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => {
            let s = s.trim();
            s.is_empty() || (s.starts_with('<') && s.ends_with('>')) || s.to_ascii_uppercase().starts_with("YOUR")
        }
        _ => false,
    }
}

/// The settings of a spec connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpecSettings {
    pub spec: SpecDocument,
    /// The user's values for the spec's parameters, except the secret ones.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub parameters: Map<String, Value>,
    /// The scopes asked for (`oauth.scope`); the spec's default scope when
    /// the user chose none.
    pub scopes: Vec<String>,
    /// A fixed https redirect URI hosted by someone else (Make's
    /// `https://www.make.com/oauth/cb/app`): sign-in then uses the paste
    /// flow. Otherwise the spec's redirect variables are Latch's loopback.
    pub redirect_uri_override: Option<String>,
    /// The loopback port of the redirect (0: any free port, for providers
    /// that accept any loopback port as RFC 8252 asks).
    pub redirect_port: u16,
    /// The API base URL (the spec's `base.url` when not set) and the hosts
    /// the credential may go to.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub api: ApiAccess,
}

/// The path of Latch's loopback redirect for spec connections.
pub const SPEC_REDIRECT_PATH: &str = "/oauth/cb/app";

impl SpecSettings {
    /// Latch's redirect URI for a bound port.
    pub fn redirect_uri(&self, port: u16) -> String {
        format!("http://127.0.0.1:{port}{SPEC_REDIRECT_PATH}")
    }

    /// The redirect URI to register at the provider.
    pub fn redirect_uri_to_register(&self) -> String {
        if let Some(fixed) = &self.redirect_uri_override {
            return fixed.clone();
        }
        match self.redirect_port {
            0 => format!("http://127.0.0.1{SPEC_REDIRECT_PATH}"),
            port => self.redirect_uri(port),
        }
    }

    /// Whether signing in goes through the browser (the spec has an
    /// `authorize` step) rather than straight to `token`.
    pub fn uses_browser(&self) -> bool {
        self.spec.step("authorize").is_some()
    }

    /// The host the user will recognise: the authorize URL's, else the
    /// token URL's, else the base URL's, when they are written out (not
    /// computed by a template).
    pub fn provider_host(&self) -> Option<String> {
        let step_url = |name: &str| {
            let step = self.spec.step(name)?;
            let step = if let Value::Array(items) = step { items.first()? } else { step };
            step.get("url")?.as_str().map(str::to_owned)
        };
        let base = self.spec.base.as_ref().and_then(|b| b.get("baseUrl")).and_then(Value::as_str).map(str::to_owned);
        [step_url("authorize"), step_url("token"), base]
            .into_iter()
            .flatten()
            .filter_map(|url| literal_host(&url))
            .next()
    }

    /// The spec's `base.baseUrl`, when it is written out rather than computed.
    pub fn literal_base_url(&self) -> Option<String> {
        let base = self.spec.base.as_ref()?.get("baseUrl")?.as_str()?;
        (!base.contains("{{")).then(|| base.to_owned())
    }

    /// The spec's addresses written out (not computed by templates), with
    /// what they are for: its steps' URLs and the API's base URL.
    pub fn literal_urls(&self) -> Vec<(&'static str, String)> {
        const ROLES: &[(&str, &str)] = &[
            ("preauthorize", "preparation"),
            ("authorize", "sign-in page"),
            ("token", "token"),
            ("refresh", "refresh"),
            ("info", "user info"),
            ("invalidate", "sign-out"),
        ];
        let mut out = Vec::new();
        for (step, role) in ROLES {
            let requests: Vec<&Value> = match self.spec.step(step) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(one) => vec![one],
                None => Vec::new(),
            };
            for request in requests {
                if let Some(url) = request.get("url").and_then(Value::as_str).filter(|u| !u.contains("{{")) {
                    out.push((*role, url.to_owned()));
                }
            }
        }
        if let Some(base) = self.literal_base_url() {
            out.push(("API", base));
        }
        out
    }

    /// Trims the user's text values and drops empty ones.
    pub fn normalize(&mut self) {
        self.parameters.retain(|_, v| !matches!(v, Value::Null) && v.as_str().is_none_or(|s| !s.trim().is_empty()));
        for value in self.parameters.values_mut() {
            if let Value::String(s) = value {
                let trimmed = s.trim();
                if trimmed.len() != s.len() {
                    *s = trimmed.to_owned();
                }
            }
        }
        self.scopes.retain(|s| !s.trim().is_empty());
        for scope in &mut self.scopes {
            *scope = scope.trim().to_owned();
        }
        if self.redirect_uri_override.as_deref().is_some_and(|s| s.trim().is_empty()) {
            self.redirect_uri_override = None;
        }
        self.spec = self.spec.without_common_values();
    }

    /// The scopes the sign-in asks for: the user's, else the spec's default.
    pub fn effective_scopes(&self) -> Vec<String> {
        if self.scopes.is_empty() {
            self.spec.default_scope.clone()
        } else {
            self.scopes.clone()
        }
    }
}

/// The host of an address whose scheme and host are written out (a
/// template may follow in its path or query), lower-cased.
pub fn literal_host(url: &str) -> Option<String> {
    let head = url.split("{{").next()?;
    let authority = head.split_once("://")?.1;
    if head.len() != url.len() && !authority.contains(['/', '?', '#']) {
        return None;
    }
    let host = url::Url::parse(head).ok()?.host_str()?.to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}
