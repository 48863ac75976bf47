//! Secret newtypes. A secret can be read only through `.secret()`, prints as
//! `[redacted]`, cannot be serialised or displayed, and is zeroed when dropped
//! (STYLE.md rule 3; the same shape as oauth2-rs's `ClientSecret`).

use zeroize::{Zeroize, Zeroizing};

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            pub fn new(value: String) -> Self {
                $name(Zeroizing::new(value))
            }

            /// The secret value. Every call site is a place a secret leaves
            /// its box: keep them few.
            pub fn secret(&self) -> &str {
                self.0.as_str()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl Zeroize for $name {
            fn zeroize(&mut self) {
                self.0.zeroize();
            }
        }
    };
}

secret_type!(
    /// The client secret issued by the provider to the user's app registration.
    ClientSecret
);
secret_type!(
    /// An access token: what APIs accept.
    AccessToken
);
secret_type!(
    /// A refresh token: trades for new access tokens without the browser.
    RefreshToken
);
secret_type!(
    /// An OpenID Connect ID token (a signed JWT about the user).
    IdToken
);

secret_type!(
    /// An RFC 7592 registration access token: manages (deletes) a client
    /// Latch registered for itself (RFC 7591).
    RegistrationToken
);

secret_type!(
    /// A TLS client certificate (chain) and its private key, as PEM
    /// (certificates first, then the key): the client's identity for
    /// mutual-TLS client authentication (RFC 8705).
    ClientIdentity
);

secret_type!(
    /// What a kind keeps beside its tokens, as JSON text: a spec
    /// connection's data (`response.data` of its steps), an OAuth 1.0a
    /// token secret.
    TokenData
);

/// Everything the provider handed over in one token response. Lives in the
/// keyring as one entry, so a rotated refresh token and its access token are
/// replaced together or not at all.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdToken>,
    /// As the provider spelled it (`Bearer`, `bearer`, `mac`...). Not a secret.
    pub token_type: String,
    /// A spec connection's whole data; `access_token` and `refresh_token`
    /// mirror what it names so (`accessToken`, `refreshToken`).
    pub data: Option<TokenData>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_every_secret_type_is_redacted() {
        let set = TokenSet {
            access_token: AccessToken::new("at-123".into()),
            refresh_token: Some(RefreshToken::new("rt-456".into())),
            id_token: Some(IdToken::new("id-789".into())),
            token_type: "Bearer".into(),
            data: Some(TokenData::new(r#"{"accessToken":"at-123"}"#.into())),
        };
        let printed = format!("{set:?} {:?}", ClientSecret::new("cs-000".into()));
        for value in ["at-123", "rt-456", "id-789", "cs-000"] {
            assert!(!printed.contains(value), "{printed}");
        }
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn secret_returns_the_value() {
        assert_eq!(AccessToken::new("abc".into()).secret(), "abc");
    }
}
