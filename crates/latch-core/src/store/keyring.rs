//! Secrets in the OS keyring (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows) through the `keyring` crate. If no keyring
//! is reachable Latch stops with a sentence saying how to fix it — it never
//! falls back to a file.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, ErrorKind, Result};
use crate::model::ConnectionId;
use crate::secret::{AccessToken, ClientSecret, IdToken, RefreshToken, TokenSet};

/// The keyring service name every Latch entry is filed under.
pub const KEYRING_SERVICE: &str = "latch";

/// The kinds of secret kept per connection, one keyring entry each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ClientSecret,
    /// Access, refresh and ID token together: one entry, so a rotation
    /// replaces them atomically.
    TokenSet,
}

impl SecretKind {
    fn suffix(self) -> &'static str {
        match self {
            SecretKind::ClientSecret => "client_secret",
            SecretKind::TokenSet => "tokens",
        }
    }
}

/// A place to keep secret strings. The real one is the OS keyring; unit
/// tests use an in-memory map.
pub trait SecretStore: Send + Sync {
    fn get(&self, id: &ConnectionId, kind: SecretKind) -> Result<Option<Zeroizing<String>>>;
    fn set(&self, id: &ConnectionId, kind: SecretKind, value: &str) -> Result<()>;
    /// Deleting what is not there is not an error.
    fn delete(&self, id: &ConnectionId, kind: SecretKind) -> Result<()>;
}

/// The OS keyring.
#[derive(Debug, Default)]
pub struct KeyringSecrets;

impl KeyringSecrets {
    fn entry(id: &ConnectionId, kind: SecretKind) -> Result<keyring::Entry> {
        keyring::Entry::new(KEYRING_SERVICE, &format!("{id}/{}", kind.suffix())).map_err(keyring_error)
    }
}

impl SecretStore for KeyringSecrets {
    fn get(&self, id: &ConnectionId, kind: SecretKind) -> Result<Option<Zeroizing<String>>> {
        match Self::entry(id, kind)?.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(keyring_error(err)),
        }
    }

    fn set(&self, id: &ConnectionId, kind: SecretKind, value: &str) -> Result<()> {
        Self::entry(id, kind)?.set_password(value).map_err(keyring_error)
    }

    fn delete(&self, id: &ConnectionId, kind: SecretKind) -> Result<()> {
        match Self::entry(id, kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(keyring_error(err)),
        }
    }
}

/// Turns a keyring failure into a sentence. Only the variant's safe parts are
/// used: some variants carry the secret bytes in their `Debug`.
fn keyring_error(err: keyring::Error) -> Error {
    let reason = match &err {
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => inner.to_string(),
        keyring::Error::NoDefaultStore => "no keyring service was found".to_string(),
        keyring::Error::TooLong(what, limit) => format!("the {what} is longer than the keyring's limit of {limit}"),
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => {
            "a stored secret is not valid text".to_string()
        }
        _ => "the keyring refused the request".to_string(),
    };
    Error::new(
        ErrorKind::KeyringUnavailable,
        format!(
            "Latch could not use your system keyring ({reason}). Unlock your keyring, or start one such as \
             GNOME Keyring or KWallet, and try again. Latch never stores secrets in plain files."
        ),
    )
}

/// The keyring entry for a token set. Serialised only into a zeroizing
/// buffer on its way to the keyring.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct StoredTokenSet {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    token_type: String,
}

/// Typed access to a connection's secrets.
pub struct Secrets {
    store: Box<dyn SecretStore>,
}

impl Secrets {
    pub fn new(store: Box<dyn SecretStore>) -> Self {
        Secrets { store }
    }

    pub fn client_secret(&self, id: &ConnectionId) -> Result<Option<ClientSecret>> {
        Ok(self.store.get(id, SecretKind::ClientSecret)?.map(|s| ClientSecret::new(s.as_str().to_owned())))
    }

    pub fn set_client_secret(&self, id: &ConnectionId, secret: &ClientSecret) -> Result<()> {
        self.store.set(id, SecretKind::ClientSecret, secret.secret())
    }

    pub fn delete_client_secret(&self, id: &ConnectionId) -> Result<()> {
        self.store.delete(id, SecretKind::ClientSecret)
    }

    pub fn token_set(&self, id: &ConnectionId) -> Result<Option<TokenSet>> {
        let Some(text) = self.store.get(id, SecretKind::TokenSet)? else { return Ok(None) };
        let mut stored: StoredTokenSet = serde_json::from_str(&text).map_err(|_| {
            Error::new(
                ErrorKind::KeyringUnavailable,
                "The tokens saved in your keyring for this connection could not be read. Connect again to replace them.",
            )
        })?;
        Ok(Some(TokenSet {
            access_token: AccessToken::new(std::mem::take(&mut stored.access_token)),
            refresh_token: stored.refresh_token.take().map(RefreshToken::new),
            id_token: stored.id_token.take().map(IdToken::new),
            token_type: std::mem::take(&mut stored.token_type),
        }))
    }

    pub fn set_token_set(&self, id: &ConnectionId, tokens: &TokenSet) -> Result<()> {
        let stored = StoredTokenSet {
            access_token: tokens.access_token.secret().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.secret().to_owned()),
            id_token: tokens.id_token.as_ref().map(|t| t.secret().to_owned()),
            token_type: tokens.token_type.clone(),
        };
        let text = Zeroizing::new(serde_json::to_string(&stored).expect("strings always serialise"));
        self.store.set(id, SecretKind::TokenSet, &text)
    }

    pub fn delete_token_set(&self, id: &ConnectionId) -> Result<()> {
        self.store.delete(id, SecretKind::TokenSet)
    }

    pub fn delete_all(&self, id: &ConnectionId) -> Result<()> {
        self.delete_token_set(id)?;
        self.delete_client_secret(id)
    }
}

/// An in-memory store for unit tests only; the product always uses the keyring.
#[cfg(test)]
#[derive(Default)]
pub struct MemorySecrets(std::sync::Mutex<std::collections::HashMap<String, Zeroizing<String>>>);

#[cfg(test)]
impl SecretStore for MemorySecrets {
    fn get(&self, id: &ConnectionId, kind: SecretKind) -> Result<Option<Zeroizing<String>>> {
        Ok(self.0.lock().unwrap().get(&format!("{id}/{}", kind.suffix())).cloned())
    }
    fn set(&self, id: &ConnectionId, kind: SecretKind, value: &str) -> Result<()> {
        self.0.lock().unwrap().insert(format!("{id}/{}", kind.suffix()), Zeroizing::new(value.to_owned()));
        Ok(())
    }
    fn delete(&self, id: &ConnectionId, kind: SecretKind) -> Result<()> {
        self.0.lock().unwrap().remove(&format!("{id}/{}", kind.suffix()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_set_round_trips_through_the_store() {
        let secrets = Secrets::new(Box::new(MemorySecrets::default()));
        let id = ConnectionId::generate();
        assert!(secrets.token_set(&id).unwrap().is_none());
        let set = TokenSet {
            access_token: AccessToken::new("a".into()),
            refresh_token: Some(RefreshToken::new("r".into())),
            id_token: None,
            token_type: "Bearer".into(),
        };
        secrets.set_token_set(&id, &set).unwrap();
        let back = secrets.token_set(&id).unwrap().unwrap();
        assert_eq!(back.access_token.secret(), "a");
        assert_eq!(back.refresh_token.unwrap().secret(), "r");
        secrets.delete_all(&id).unwrap();
        assert!(secrets.token_set(&id).unwrap().is_none());
    }
}
