//! The default secret store: the OS keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) through the `keyring`
//! crate. If no keyring is reachable Latch stops with a sentence saying how
//! to fix it — it never falls back to a file.
//!
//! Entries: service `latch`, account `<connection id>/<slot name>` — the
//! layout every release has used, so upgrades find their secrets.

use zeroize::Zeroizing;

use super::secrets::{unavailable, SecretFuture, SecretStore};
use crate::error::Result;
use crate::model::{ConnectionId, SecretSlot};

/// The keyring service name every Latch entry is filed under.
pub const KEYRING_SERVICE: &str = "latch";

/// The OS keyring.
#[derive(Debug, Default)]
pub struct KeyringSecrets;

fn entry(id: &str, slot: SecretSlot) -> Result<keyring::Entry> {
    keyring::Entry::new(KEYRING_SERVICE, &format!("{id}/{}", slot.name())).map_err(keyring_error)
}

/// Runs a blocking keyring call (a D-Bus round trip on Linux) off the async
/// runtime's threads.
fn blocking<'a, T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> SecretFuture<'a, T> {
    Box::pin(async move {
        tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| Err(unavailable("the keyring call stopped unexpectedly")))
    })
}

impl SecretStore for KeyringSecrets {
    fn get<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, Option<Zeroizing<String>>> {
        let id = id.to_string();
        blocking(move || match entry(&id, slot)?.get_password() {
            Ok(value) => Ok(Some(Zeroizing::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(keyring_error(err)),
        })
    }

    fn set<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot, value: &'a str) -> SecretFuture<'a, ()> {
        let id = id.to_string();
        let value = Zeroizing::new(value.to_owned());
        blocking(move || entry(&id, slot)?.set_password(&value).map_err(keyring_error))
    }

    fn delete<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, ()> {
        let id = id.to_string();
        blocking(move || match entry(&id, slot)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(keyring_error(err)),
        })
    }
}

/// Turns a keyring failure into a sentence. Only the variant's safe parts are
/// used: some variants carry the secret bytes in their `Debug`.
fn keyring_error(err: keyring::Error) -> crate::error::Error {
    let reason = match &err {
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => inner.to_string(),
        keyring::Error::NoDefaultStore => "no keyring service was found".to_string(),
        keyring::Error::TooLong(what, limit) => format!("the {what} is longer than the keyring's limit of {limit}"),
        keyring::Error::BadEncoding(_) | keyring::Error::BadDataFormat(..) => "a stored secret is not valid text".to_string(),
        _ => "the keyring refused the request".to_string(),
    };
    unavailable(&reason)
}
