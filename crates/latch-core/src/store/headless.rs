//! The personal secret store of `latch agent --headless`: a server or CI
//! runner has no desktop and no keyring, so the agent keeps the team's
//! OpenBao token and login secret in this process's memory only (zeroized
//! when dropped) and signs in again at each start from what the environment
//! gives it. A personal connection's secrets have nowhere safe to go here:
//! asking for them says so instead of pretending there are none.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::secrets::{SecretFuture, SecretStore};
use crate::error::{Error, ErrorKind};
use crate::model::{ConnectionId, SecretSlot};

/// Team entries (`team_…`, see `team_secrets::token_entry`) in memory; nothing else.
#[derive(Default)]
pub struct HeadlessSecrets(Mutex<HashMap<String, Zeroizing<String>>>);

impl HeadlessSecrets {
    fn key(id: &ConnectionId, slot: SecretSlot) -> Option<String> {
        id.as_str().starts_with("team_").then(|| format!("{id}/{}", slot.name()))
    }
}

/// Why a personal connection cannot be used by a headless Latch.
pub fn no_personal_store() -> Error {
    Error::new(
        ErrorKind::KeyringUnavailable,
        "This Latch runs headless, without a keyring, and keeps nothing secret on disk: personal connections cannot be \
         kept or used here, only the team's connections (kept in OpenBao).",
    )
}

impl SecretStore for HeadlessSecrets {
    fn get<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, Option<Zeroizing<String>>> {
        let value = Self::key(id, slot).map(|key| self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned());
        Box::pin(async move { value.ok_or_else(no_personal_store) })
    }

    fn set<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot, value: &'a str) -> SecretFuture<'a, ()> {
        let kept = Self::key(id, slot).map(|key| {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(key, Zeroizing::new(value.to_owned()));
        });
        Box::pin(async move { kept.ok_or_else(no_personal_store) })
    }

    fn delete<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, ()> {
        if let Some(key) = Self::key(id, slot) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_teams_entries_are_kept_in_memory_and_a_personal_connection_is_refused_in_words() {
        let store = HeadlessSecrets::default();
        let team = ConnectionId("team_01ABC".into());
        store.set(&team, SecretSlot::Kind("openbao_token"), "s.token").await.unwrap();
        assert_eq!(store.get(&team, SecretSlot::Kind("openbao_token")).await.unwrap().unwrap().as_str(), "s.token");
        let personal = ConnectionId("cn_01ABC".into());
        let err = store.set(&personal, SecretSlot::ClientSecret, "secret").await.unwrap_err();
        assert!(err.message.contains("personal connections cannot be kept"), "{}", err.message);
        assert!(store.get(&personal, SecretSlot::TokenSet).await.is_err());
        store.delete(&personal, SecretSlot::TokenSet).await.unwrap();
    }
}
