//! Where secrets live: one [`SecretStore`] trait, per connection and slot
//! (client secret, token set, a kind's own secrets). The OS keyring is the
//! default store (`keyring.rs`); a networked store (OpenBao/Vault KV v2, for
//! teams) fits the same trait, which is why every method is fallible and
//! asynchronous: a call may go over the network and take its time.
//!
//! [`Secrets`] is the typed face the engine uses: it turns the stored
//! strings into secret newtypes that print as `[redacted]`.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Action, Error, ErrorKind, Result};
use crate::model::{ConnectionId, SecretSlot};
use crate::secret::{AccessToken, ClientSecret, IdToken, RefreshToken, TokenData, TokenSet};

/// What a secret store's methods return: a boxed future, so the trait can
/// be used as `dyn SecretStore` whatever the store does inside.
pub type SecretFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A place to keep secret strings, one per connection and slot.
pub trait SecretStore: Send + Sync {
    fn get<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, Option<Zeroizing<String>>>;
    fn set<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot, value: &'a str) -> SecretFuture<'a, ()>;
    /// Deleting what is not there is not an error.
    fn delete<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, ()>;
}

/// The keyring entry for a token set. Serialised only into a zeroizing
/// buffer on its way to the store.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct StoredTokenSet {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    token_type: String,
    /// A spec connection's data (JSON text); absent for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

/// Typed access to a connection's secrets.
pub struct Secrets {
    store: Box<dyn SecretStore>,
}

impl Secrets {
    pub fn new(store: Box<dyn SecretStore>) -> Self {
        Secrets { store }
    }

    pub async fn client_secret(&self, id: &ConnectionId) -> Result<Option<ClientSecret>> {
        Ok(self.store.get(id, SecretSlot::ClientSecret).await?.map(|s| ClientSecret::new(s.as_str().to_owned())))
    }

    pub async fn set_client_secret(&self, id: &ConnectionId, secret: &ClientSecret) -> Result<()> {
        self.store.set(id, SecretSlot::ClientSecret, secret.secret()).await
    }

    pub async fn delete_client_secret(&self, id: &ConnectionId) -> Result<()> {
        self.store.delete(id, SecretSlot::ClientSecret).await
    }

    pub async fn token_set(&self, id: &ConnectionId) -> Result<Option<TokenSet>> {
        let Some(text) = self.store.get(id, SecretSlot::TokenSet).await? else { return Ok(None) };
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
            data: stored.data.take().map(TokenData::new),
        }))
    }

    pub async fn set_token_set(&self, id: &ConnectionId, tokens: &TokenSet) -> Result<()> {
        let stored = StoredTokenSet {
            access_token: tokens.access_token.secret().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.secret().to_owned()),
            id_token: tokens.id_token.as_ref().map(|t| t.secret().to_owned()),
            token_type: tokens.token_type.clone(),
            data: tokens.data.as_ref().map(|d| d.secret().to_owned()),
        };
        let text = Zeroizing::new(serde_json::to_string(&stored).expect("strings always serialise"));
        self.store.set(id, SecretSlot::TokenSet, &text).await
    }

    pub async fn delete_token_set(&self, id: &ConnectionId) -> Result<()> {
        self.store.delete(id, SecretSlot::TokenSet).await
    }

    /// A secret only one kind has, e.g. an OAuth 1.0a token secret.
    pub async fn kind_secret(&self, id: &ConnectionId, name: &'static str) -> Result<Option<Zeroizing<String>>> {
        self.store.get(id, SecretSlot::Kind(name)).await
    }

    pub async fn set_kind_secret(&self, id: &ConnectionId, name: &'static str, value: &str) -> Result<()> {
        self.store.set(id, SecretSlot::Kind(name), value).await
    }

    /// Deletes every entry in `slots` (a kind's [`SecretSlot`]s).
    pub async fn delete_all(&self, id: &ConnectionId, slots: &[SecretSlot]) -> Result<()> {
        for slot in slots {
            self.store.delete(id, *slot).await?;
        }
        Ok(())
    }
}

/// The error every store gives when it cannot be used: says how to fix it.
pub fn unavailable(reason: &str) -> Error {
    Error::new(
        ErrorKind::KeyringUnavailable,
        format!(
            "Latch could not use your system keyring ({reason}). Unlock your keyring, or start one such as \
             GNOME Keyring or KWallet, and try again. Latch never stores secrets in plain files."
        ),
    )
    .with_action(Action::UnlockKeyring)
}

/// An in-memory store for unit tests only; the product always uses the keyring.
#[cfg(test)]
#[derive(Default)]
pub struct MemorySecrets(std::sync::Mutex<std::collections::HashMap<String, Zeroizing<String>>>);

#[cfg(test)]
impl MemorySecrets {
    fn key(id: &ConnectionId, slot: SecretSlot) -> String {
        format!("{id}/{}", slot.name())
    }
}

#[cfg(test)]
impl SecretStore for MemorySecrets {
    fn get<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, Option<Zeroizing<String>>> {
        let value = self.0.lock().unwrap().get(&Self::key(id, slot)).cloned();
        Box::pin(async move { Ok(value) })
    }
    fn set<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot, value: &'a str) -> SecretFuture<'a, ()> {
        self.0.lock().unwrap().insert(Self::key(id, slot), Zeroizing::new(value.to_owned()));
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, ()> {
        self.0.lock().unwrap().remove(&Self::key(id, slot));
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_set_round_trips_through_the_store() {
        let secrets = Secrets::new(Box::new(MemorySecrets::default()));
        let id = ConnectionId::generate();
        assert!(secrets.token_set(&id).await.unwrap().is_none());
        let set = TokenSet {
            access_token: AccessToken::new("a".into()),
            refresh_token: Some(RefreshToken::new("r".into())),
            id_token: None,
            token_type: "Bearer".into(),
            data: None,
        };
        secrets.set_token_set(&id, &set).await.unwrap();
        let back = secrets.token_set(&id).await.unwrap().unwrap();
        assert_eq!(back.access_token.secret(), "a");
        assert_eq!(back.refresh_token.unwrap().secret(), "r");
        secrets.delete_all(&id, &[SecretSlot::ClientSecret, SecretSlot::TokenSet]).await.unwrap();
        assert!(secrets.token_set(&id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_kinds_own_secret_has_its_own_entry() {
        let secrets = Secrets::new(Box::new(MemorySecrets::default()));
        let id = ConnectionId::generate();
        secrets.set_kind_secret(&id, "token_secret", "ts-1").await.unwrap();
        assert_eq!(secrets.kind_secret(&id, "token_secret").await.unwrap().unwrap().as_str(), "ts-1");
        assert!(secrets.client_secret(&id).await.unwrap().is_none());
        secrets.delete_all(&id, &[SecretSlot::Kind("token_secret")]).await.unwrap();
        assert!(secrets.kind_secret(&id, "token_secret").await.unwrap().is_none());
    }
}
