//! Keeping one team's OpenBao token alive. What the personal store (the OS
//! keyring, or memory for `latch agent --headless`) holds per team, under
//! the team's entry: `openbao_token` (the current token) and, for AppRole,
//! userpass and JWT, `openbao_login` (the secret ID, password or JWT that
//! logs in again). The method and its non-secret parts are in the `teams`
//! row (`TeamAuthMethod`).
//!
//! Before each use of the store the token's life is checked ([`plan`]): it
//! is renewed (renew-self) before it expires while OpenBao allows it; a
//! token that cannot be renewed any more, or that OpenBao no longer knows
//! (a 403 "permission denied" with lookup-self failing too), is replaced by
//! logging in again when Latch keeps a login secret, and otherwise the team
//! "needs you to join again".

use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::openbao::{BaoToken, Kv, KvAddress, TokenRecovery};
use super::openbao_auth::{self, plan, renewal_exhausted, KeepAlive, TeamAuthMethod, TokenLife};
use super::secrets::SecretStore;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ConnectionId, SecretSlot};

/// The personal-store entry that holds a team's login secret (secret ID,
/// password or JWT), next to its token (`team_secrets::token_entry`).
pub fn login_entry(entry: &str) -> (ConnectionId, SecretSlot) {
    (ConnectionId(entry.to_owned()), SecretSlot::Kind("openbao_login"))
}

/// One team's token: its life as last seen, and how to get a new one.
pub struct TokenKeeper(Arc<Shared>);

struct Shared {
    /// The team's name, for messages (set when the client is made).
    team: RwLock<String>,
    method: RwLock<TeamAuthMethod>,
    clock: RwLock<Arc<dyn Clock>>,
    life: Mutex<Option<TokenLife>>,
    /// The login secret, read once from the personal store; memory only.
    secret: Mutex<Option<BaoToken>>,
    /// A token got while answering a 403 (no personal store at hand there):
    /// saved by the next [`TokenKeeper::keep_alive`].
    unsaved: Mutex<Option<BaoToken>>,
    /// One renewal or login at a time.
    turn: tokio::sync::Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for TokenKeeper {
    fn default() -> TokenKeeper {
        TokenKeeper(Arc::new(Shared {
            team: RwLock::default(),
            method: RwLock::new(TeamAuthMethod::Token),
            clock: RwLock::new(Arc::new(SystemClock::new())),
            life: Mutex::default(),
            secret: Mutex::default(),
            unsaved: Mutex::default(),
            turn: tokio::sync::Mutex::new(()),
        }))
    }
}

impl TokenKeeper {
    /// How the team is signed in to (from its row).
    pub fn set_method(&self, method: TeamAuthMethod) {
        *self.0.method.write().unwrap_or_else(|p| p.into_inner()) = method;
    }

    /// The engine's clock (tests step a manual one).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        *self.0.clock.write().unwrap_or_else(|p| p.into_inner()) = clock;
    }

    /// What joining learned: the token's life and the login secret, so the
    /// first use does not look them up again.
    pub fn joined(&self, life: TokenLife, secret: Option<BaoToken>) {
        *lock(&self.0.life) = Some(life);
        *lock(&self.0.secret) = secret;
    }

    /// Has `kv` ask this keeper for a new token when OpenBao refuses its one.
    pub fn recover_for(&self, kv: &Kv) {
        kv.set_recovery(self.0.clone());
    }

    /// When [`TokenKeeper::keep_alive`] has something to do next (`None`:
    /// nothing known yet, or never). When it is due already (the last try
    /// failed: OpenBao unreachable), the next try waits a quarter of the
    /// time left, between 1 s and a minute, rather than spinning.
    pub fn due(&self) -> Option<DateTime<Utc>> {
        let life = (*lock(&self.0.life))?;
        let now = self.0.now();
        match plan(&life, self.0.can_log_in(), now) {
            KeepAlive::Fine(at) => at,
            _ => {
                let left = life.expires_at.map_or(chrono::Duration::minutes(1), |at| (at - now) / 4);
                Some(now + left.clamp(chrono::Duration::seconds(1), chrono::Duration::minutes(1)))
            }
        }
    }

    /// The client for the team: the token from the personal store, checked
    /// with lookup-self (which also tells its life); a missing or unknown
    /// token is replaced by logging in when Latch can. When OpenBao does not
    /// answer, the client is made anyway: the use that follows fails with
    /// that, and is counted as the store being unreachable (`team_reach.rs`).
    pub async fn open(&self, team: &str, address: &KvAddress, entry: &str, personal: &dyn SecretStore) -> Result<Kv> {
        let shared = &self.0;
        *shared.team.write().unwrap_or_else(|p| p.into_inner()) = team.to_owned();
        let _turn = shared.turn.lock().await;
        let (id, slot) = super::team_secrets::token_entry(entry);
        let token = personal.get(&id, slot).await?;
        if shared.method().can_log_in() {
            let (login_id, login_slot) = login_entry(entry);
            let secret = personal.get(&login_id, login_slot).await?;
            *lock(&shared.secret) = secret.map(|s| BaoToken::new(s.as_str().to_owned()));
        }
        let had_token = token.is_some();
        let kv = Kv::new(address, BaoToken::new(token.map(|t| t.as_str().to_owned()).unwrap_or_default()))?;
        let looked = if had_token { Some(openbao_auth::lookup(&kv, shared.now()).await) } else { None };
        match looked.transpose() {
            Err(err) if err.is_transient() => {
                tracing::info!(team = %shared.team(), error = %err, "could not look the OpenBao token up; trying it as it is");
            }
            Err(err) => return Err(err),
            Ok(Some(Some(life))) => *lock(&shared.life) = Some(life),
            Ok(_) if shared.can_log_in() => {
                let token = shared.log_in(&kv).await?;
                personal.set(&id, slot, &token).await?;
            }
            Ok(_) if had_token => return Err(openbao_auth::token_gone(&shared.team())),
            Ok(_) => return Err(self.missing()),
        }
        kv.set_recovery(self.0.clone());
        Ok(kv)
    }

    fn missing(&self) -> Error {
        let what = if self.0.method().can_log_in() { "no OpenBao token or login secret" } else { "no OpenBao token" };
        Error::new(ErrorKind::Storage, format!("Latch has {what} for the team '{}' on this computer: join the team again.", self.0.team()))
    }

    /// Before a use: renews the token, or logs in again, when it is time.
    /// A renewal or login that fails for a passing reason (OpenBao
    /// unreachable) is tried at the next use, which then fails for that same
    /// reason, where it is observed.
    pub async fn keep_alive(&self, kv: &Kv, entry: &str, personal: &dyn SecretStore) -> Result<()> {
        let shared = &self.0;
        let (id, slot) = super::team_secrets::token_entry(entry);
        let unsaved = lock(&shared.unsaved).take();
        if let Some(token) = unsaved {
            if let Err(err) = personal.set(&id, slot, token.secret()).await {
                tracing::warn!(team = %shared.team(), error = %err, "could not keep the new OpenBao token");
            }
        }
        let known = *lock(&shared.life);
        if known.is_some_and(|life| matches!(plan(&life, shared.can_log_in(), shared.now()), KeepAlive::Fine(_))) {
            return Ok(());
        }
        let _turn = shared.turn.lock().await;
        let now = shared.now();
        // Again: another use may have renewed while this one waited.
        let known = *lock(&shared.life);
        let life = match known {
            Some(life) => life,
            // Not looked up yet (OpenBao did not answer when the client was made).
            None => match openbao_auth::lookup(kv, now).await {
                Ok(Some(life)) => {
                    *lock(&shared.life) = Some(life);
                    life
                }
                Ok(None) if shared.can_log_in() => return shared.log_in_and_keep(kv, personal, &id, slot).await,
                Ok(None) => return Err(openbao_auth::token_gone(&shared.team())),
                Err(_) => return Ok(()),
            },
        };
        match plan(&life, shared.can_log_in(), now) {
            KeepAlive::Fine(_) => Ok(()),
            KeepAlive::JoinAgain => Err(openbao_auth::token_gone(&shared.team())),
            KeepAlive::Renew => match openbao_auth::renew(kv, now).await {
                Ok(Some(mut renewed)) => {
                    if renewal_exhausted(&life, &renewed) {
                        // At its max TTL: no more renewals; log in again when it ends.
                        renewed.renewable = false;
                    }
                    tracing::info!(team = %shared.team(), "renewed the OpenBao token");
                    *lock(&shared.life) = Some(renewed);
                    Ok(())
                }
                Ok(None) if shared.can_log_in() => shared.log_in_and_keep(kv, personal, &id, slot).await,
                Ok(None) => Err(openbao_auth::token_gone(&shared.team())),
                Err(err) if err.is_transient() || now < life.expires_at.unwrap_or(now) => {
                    tracing::info!(team = %shared.team(), error = %err, "could not renew the OpenBao token yet");
                    Ok(())
                }
                Err(err) => Err(err),
            },
            KeepAlive::LogIn => match shared.log_in_and_keep(kv, personal, &id, slot).await {
                // The token in hand still works, or OpenBao is out of reach:
                // go on; the error is said when the token ends.
                Err(err) if err.is_transient() || now < life.expires_at.unwrap_or(now) => {
                    tracing::warn!(team = %shared.team(), error = %err, "could not log in to OpenBao again yet");
                    Ok(())
                }
                other => other,
            },
        }
    }
}

impl Shared {
    fn team(&self) -> String {
        self.team.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.read().unwrap_or_else(|p| p.into_inner()).now()
    }

    fn method(&self) -> TeamAuthMethod {
        self.method.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether Latch can log in by itself: a method with a login secret, and the secret.
    fn can_log_in(&self) -> bool {
        self.method().can_log_in() && lock(&self.secret).is_some()
    }

    /// Logs in with the kept secret and puts the new token in `kv`.
    async fn log_in(&self, kv: &Kv) -> Result<Zeroizing<String>> {
        let secret = lock(&self.secret).as_ref().map(|s| BaoToken::new(s.secret().to_owned()));
        let Some(secret) = secret else { return Err(openbao_auth::token_gone(&self.team())) };
        let auth = self.method().with_secret(secret);
        let (token, life) = openbao_auth::log_in(kv, &auth, self.now()).await?;
        let text = Zeroizing::new(token.secret().to_owned());
        kv.set_token(token);
        *lock(&self.life) = Some(life);
        tracing::info!(team = %self.team(), method = auth.method().name(), "logged in to OpenBao again");
        Ok(text)
    }

    async fn log_in_and_keep(&self, kv: &Kv, personal: &dyn SecretStore, id: &ConnectionId, slot: SecretSlot) -> Result<()> {
        let token = self.log_in(kv).await?;
        personal.set(id, slot, &token).await
    }
}

impl TokenRecovery for Shared {
    fn recover<'a>(&'a self, kv: &'a Kv) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool>> + Send + 'a>> {
        Box::pin(async move {
            let _turn = self.turn.lock().await;
            match openbao_auth::lookup(kv, self.now()).await? {
                // The token is fine: the 403 is the policy's.
                Some(life) => {
                    *lock(&self.life) = Some(life);
                    Ok(false)
                }
                None if self.can_log_in() => {
                    let token = self.log_in(kv).await?;
                    *lock(&self.unsaved) = Some(BaoToken::new(token.to_string()));
                    Ok(true)
                }
                None => Err(openbao_auth::token_gone(&self.team())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn keeper(method: TeamAuthMethod, clock: &Arc<ManualClock>) -> TokenKeeper {
        let keeper = TokenKeeper::default();
        keeper.set_method(method);
        keeper.set_clock(clock.clone());
        keeper
    }

    #[test]
    fn a_renewable_token_is_due_for_renewal_at_half_of_a_short_life_and_retried_without_spinning() {
        let clock = Arc::new(ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap()));
        let keeper = keeper(TeamAuthMethod::Token, &clock);
        assert_eq!(keeper.due(), None, "nothing known before the first lookup");
        let start = clock.now();
        keeper.joined(TokenLife { seen_at: start, expires_at: Some(start + chrono::Duration::seconds(4)), renewable: true }, None);
        assert_eq!(keeper.due(), Some(start + chrono::Duration::seconds(2)));
        clock.advance(chrono::Duration::seconds(3));
        assert_eq!(keeper.due(), Some(clock.now() + chrono::Duration::seconds(1)), "a failed renewal is tried again a second later");
    }

    #[test]
    fn an_approle_without_its_secret_cannot_log_in_and_says_what_is_missing() {
        let clock = Arc::new(ManualClock::new(DateTime::from_timestamp(1_800_000_000, 0).unwrap()));
        let keeper = keeper(TeamAuthMethod::AppRole { mount: "approle".into(), role_id: "r".into() }, &clock);
        assert!(!keeper.0.can_log_in());
        keeper.joined(TokenLife { seen_at: clock.now(), expires_at: None, renewable: false }, Some(BaoToken::new("secret-id".into())));
        assert!(keeper.0.can_log_in());
        let message = TokenKeeper::default().missing().message;
        assert!(message.contains("join the team again"), "{message}");
    }
}
