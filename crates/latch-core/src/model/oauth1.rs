//! The `oauth1` kind: an OAuth 1.0a connection (RFC 5849), as Make's OAuth
//! 1.0 connection and Postman describe one. The consumer secret lives in
//! the secret store's client secret slot, an RSA private key in its own
//! slot, and the token secret beside the token in the token set.

use serde::{Deserialize, Serialize};

use super::{string_enum, ApiAccess, KeyValue};

string_enum!(
    /// How requests are signed (`oauth_signature_method`).
    SignatureMethod {
        HmacSha1 = "hmac_sha1",
        HmacSha256 = "hmac_sha256",
        RsaSha1 = "rsa_sha1",
        RsaSha256 = "rsa_sha256",
        /// The secrets themselves: only over https or to this computer.
        Plaintext = "plaintext",
    }
);

string_enum!(
    /// Where the OAuth parameters travel (RFC 5849 §3.5).
    ParameterTransport { Header = "header", Query = "query", Body = "body" }
);

string_enum!(
    /// How the provider hands the user back.
    Callback {
        /// To Latch's loopback listener, like an OAuth 2.0 sign-in.
        Loopback = "loopback",
        /// `oob`: the provider shows a code the user types into Latch.
        Oob = "oob",
    }
);

impl SignatureMethod {
    pub fn uses_private_key(self) -> bool {
        matches!(self, SignatureMethod::RsaSha1 | SignatureMethod::RsaSha256)
    }
}

/// The path of the loopback callback.
pub const OAUTH1_CALLBACK_PATH: &str = "/callback";

/// The settings of an OAuth 1.0a connection: the fields of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OAuth1Settings {
    pub request_token_url: Option<String>,
    pub authorize_url: Option<String>,
    pub access_token_url: Option<String>,
    pub consumer_key: String,
    pub signature_method: SignatureMethod,
    pub transport: ParameterTransport,
    /// Sign non-form bodies with `oauth_body_hash`.
    pub body_hash: bool,
    pub callback: Callback,
    /// 0 = any free port.
    pub redirect_port: u16,
    /// Asked after connecting to learn the account (a signed GET).
    pub info_url: Option<String>,
    /// Told on disconnect to forget the token (a signed POST), when set.
    pub revoke_url: Option<String>,
    pub request_token_params: Vec<KeyValue>,
    pub authorize_params: Vec<KeyValue>,
    pub access_token_params: Vec<KeyValue>,
    /// The API base URL and the hosts the credential may go to.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub api: ApiAccess,
}

impl Default for OAuth1Settings {
    fn default() -> Self {
        OAuth1Settings {
            request_token_url: None,
            authorize_url: None,
            access_token_url: None,
            consumer_key: String::new(),
            signature_method: SignatureMethod::HmacSha1,
            transport: ParameterTransport::Header,
            body_hash: false,
            callback: Callback::Loopback,
            redirect_port: 0,
            info_url: None,
            revoke_url: None,
            request_token_params: Vec::new(),
            authorize_params: Vec::new(),
            access_token_params: Vec::new(),
            api: ApiAccess::default(),
        }
    }
}

impl OAuth1Settings {
    /// The callback for a bound port; `state` lets the loopback listener
    /// tell Latch's own sign-in from any other page's request.
    pub fn callback_uri(&self, port: u16) -> String {
        format!("http://127.0.0.1:{port}{OAUTH1_CALLBACK_PATH}")
    }

    /// The callback to register at the provider.
    pub fn redirect_uri_to_register(&self) -> Option<String> {
        match (self.callback, self.redirect_port) {
            (Callback::Oob, _) => None,
            (Callback::Loopback, 0) => Some(format!("http://127.0.0.1{OAUTH1_CALLBACK_PATH}")),
            (Callback::Loopback, port) => Some(self.callback_uri(port)),
        }
    }

    pub fn provider_host(&self) -> Option<String> {
        let url = self.authorize_url.as_deref().or(self.access_token_url.as_deref())?;
        url::Url::parse(url).ok()?.host_str().map(str::to_owned)
    }

    pub fn normalize(&mut self) {
        for url in [
            &mut self.request_token_url,
            &mut self.authorize_url,
            &mut self.access_token_url,
            &mut self.info_url,
            &mut self.revoke_url,
        ] {
            if let Some(text) = url {
                let trimmed = text.trim();
                *url = (!trimmed.is_empty()).then(|| trimmed.to_owned());
            }
        }
        self.consumer_key = self.consumer_key.trim().to_owned();
        for list in [&mut self.request_token_params, &mut self.authorize_params, &mut self.access_token_params] {
            list.retain(|kv| !kv.key.trim().is_empty());
        }
    }
}
