//! Tokens: a valid access token on demand, refreshing under the
//! connection's lease (`lease.rs`: one writer at a time across threads and
//! processes), storing what a provider hands out so that a rotated refresh
//! token is never lost, requests with the credential placed per the
//! connection, and disconnecting.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::lease::LeaseGuard;
use super::Engine;
use crate::error::{Action, Error, ErrorKind, Result};
use crate::events::EngineEvent;
use crate::flows::token_response::TokenGrant;
use crate::flows::{client_credentials, refresh, revoke, Target};
use crate::model::{Connection, ConnectionId, Flow, KindSettings, Status};
use crate::refresh_policy;
use crate::request::{self, ApiRequest, ApiResponse};
use crate::secret::{AccessToken, TokenSet};
use crate::store::leases::{holder_alive, process_tag};

/// Why a refresh is wanted.
#[derive(Debug, Clone)]
pub(crate) enum RefreshNeed {
    /// Only if still due once the lease is ours.
    IfDue,
    /// Unless someone refreshed after this moment.
    Since(DateTime<Utc>),
    /// The API refused this access token (a 401): unless the stored one is
    /// already another (someone refreshed meanwhile, whenever the refused
    /// request was read or sent).
    Rejected(AccessToken),
    /// A client credentials connection has no token yet: get the first.
    First,
}

/// The outcome of a disconnect: the local tokens are always gone; this says
/// whether the provider was told.
#[derive(Debug)]
pub struct Disconnected {
    /// The provider confirmed revocation (RFC 7009).
    pub revoked: bool,
    /// Revocation was attempted and failed; the tokens stay valid at the
    /// provider until they expire.
    pub revoke_error: Option<Error>,
    /// For a client Latch registered itself: whether deleting the
    /// registration at the server (RFC 7592) worked. `None` when there was
    /// none to delete. Best effort: the tokens are gone either way.
    pub registration_deleted: Option<Result<()>>,
}

/// The OAuth 2.0 view of a connection, for the flows.
pub(crate) fn oauth2(connection: &Connection) -> Result<Target<'_>> {
    match &connection.settings {
        KindSettings::OAuth2(settings) => Ok(Target::new(&connection.name, settings)),
        KindSettings::Spec(_) => Err(Error::validation(
            "kind",
            format!("'{}' is made from a spec: its steps sign in and renew it, not OAuth 2.0 settings.", connection.name),
        )),
        KindSettings::OAuth1(_) => Err(Error::validation(
            "kind",
            format!("'{}' is an OAuth 1.0a connection: its requests are signed, not sent with an OAuth 2.0 token.", connection.name),
        )),
    }
}

/// A connection that gets its tokens without a user (client credentials):
/// asking for a token is signing in.
fn signs_in_without_user(connection: &Connection) -> bool {
    oauth2(connection).is_ok_and(|target| target.flow == Flow::ClientCredentials)
}

/// An OAuth 1.0a token has no renewal: it lasts until it is revoked.
fn nothing_to_renew(connection: &Connection) -> Error {
    Error::validation(
        "kind",
        format!("'{}' is an OAuth 1.0a connection: its token lasts until it is revoked, so there is nothing to renew.", connection.name),
    )
}

/// Why a request with a DPoP-bound token cannot be copied (a curl
/// command): each request needs a fresh proof signed with a key that never
/// leaves Latch (RFC 9449).
pub fn bound_tokens_stay(name: &str) -> Error {
    Error::validation(
        "dpop",
        format!(
            "'{name}' binds its tokens to this computer (DPoP): the API accepts them only with a fresh proof for each \
             request, signed with a key that never leaves Latch, so a copied command would be refused. Send the request \
             from Latch instead (its request command, Test request or proxy)."
        ),
    )
}

/// Pauses between attempts to write a token set the secret store refused.
const SAVE_RETRIES: [Duration; 2] = [Duration::from_millis(200), Duration::from_secs(1)];

impl Engine {
    /// The stored tokens of a connection that should have some; a sentence
    /// and the next step when it has none.
    pub(crate) async fn stored_tokens(&self, connection: &Connection) -> Result<TokenSet> {
        if let Some(unsaved) = self.unsaved_tokens(&connection.id) {
            return Ok(unsaved);
        }
        let name = &connection.name;
        let not_connected = || {
            Error::needs_authorization(format!("'{name}' is not connected yet."))
                .with_action(Action::SignIn { connection: name.clone() })
        };
        // Known without asking the secret store, which may be locked.
        if connection.status == Status::New {
            return Err(not_connected());
        }
        // Read first: the database lock must not be held below (lose_unsaved takes it).
        let unsaved_by = self.db().tokens_unsaved_by(&connection.id)?;
        if let Some(holder) = unsaved_by {
            // Another process holds newer tokens than the store's: never use
            // the store's, whose refresh token the provider already rotated.
            return Err(if holder_alive(&holder) {
                Error::new(
                    ErrorKind::KeyringUnavailable,
                    format!(
                        "The newest sign-in for '{name}' could not be saved to your keyring yet; another Latch \
                         process keeps it until your keyring is unlocked. Unlock your keyring and try again."
                    ),
                )
                .with_action(Action::UnlockKeyring)
            } else {
                self.lose_unsaved(connection)?;
                Error::needs_authorization(format!(
                    "The newest sign-in for '{name}' was lost: your keyring was locked and the Latch process that \
                     kept it has ended."
                ))
                .with_action(connection.sign_in_again())
            });
        }
        if let Some(team) = self.teams.team_of(&connection.id) {
            // The access document alone (one call): the refresh token is
            // read when renewing (team_turn).
            return Ok(self.team_tokens(&team, connection).await?.ok_or_else(not_connected)?.1);
        }
        self.secrets.token_set(&connection.id).await?.ok_or_else(not_connected)
    }

    /// A valid access token, refreshed first when it is due (one refresh
    /// for any number of concurrent callers, in any process).
    ///
    /// While the old token is still valid it is served when a due refresh
    /// fails for a passing reason, while the provider asked Latch to wait
    /// (`retry_at`), and after the provider refused the refresh token (the
    /// connection then shows that it needs a sign-in). A client credentials
    /// connection gets its first token here: no user is needed.
    pub async fn access_token(&self, name_or_id: &str) -> Result<(Connection, AccessToken)> {
        let (connection, tokens) = self.fresh_tokens(name_or_id).await?;
        Ok((connection, tokens.access_token))
    }

    /// [`Engine::access_token`] with the whole token set (a spec
    /// connection's data is in it).
    pub(crate) async fn fresh_tokens(&self, name_or_id: &str) -> Result<(Connection, TokenSet)> {
        self.save_unsaved().await;
        let connection = self.get(name_or_id)?;
        // No token yet — or another caller is getting the first one: wait
        // for its lease and share the result.
        let first = connection.status == Status::New
            || (connection.status == Status::Refreshing && connection.access_issued_at.is_none());
        if first && signs_in_without_user(&connection) {
            return self.refresh_single_flight(&connection.id, RefreshNeed::First).await;
        }
        let now = self.now();
        let team = self.teams.team_of(&connection.id).is_some();
        let due_now = connection.access_expires_at.is_some()
            && connection.refresh_due().is_some_and(|due| now >= due)
            && connection.retry_at.is_none_or(|at| now >= at);
        if team && due_now && connection.status != Status::NeedsReauth {
            // Straight to the renewal, which reads what it needs (at most
            // four calls to the team store in all).
            return match self.refresh_single_flight(&connection.id, RefreshNeed::IfDue).await {
                Ok(fresh) => Ok(fresh),
                Err(err) if connection.access_expires_at.is_some_and(|at| self.now() < at) && err.kind != ErrorKind::KeyringUnavailable => {
                    tracing::warn!(error = %err, "refresh failed; using the still-valid access token");
                    let tokens = self.stored_tokens(&connection).await?;
                    Ok((self.get(name_or_id)?, tokens))
                }
                Err(err) => Err(err),
            };
        }
        let tokens = self.stored_tokens(&connection).await?;
        // A team connection's row may have taken another member's tokens just now.
        let connection = if team { self.get(name_or_id)? } else { connection };
        let still_valid = connection.access_expires_at.is_none_or(|at| now < at);
        if connection.status == Status::NeedsReauth {
            return if still_valid {
                Ok((connection, tokens))
            } else {
                Err(Error::needs_authorization(format!("'{}' needs you to sign in again.", connection.name))
                    .with_action(connection.sign_in_again()))
            };
        }
        let (Some(expires_at), Some(due)) = (connection.access_expires_at, connection.refresh_due()) else {
            return Ok((connection, tokens));
        };
        if now < due {
            return Ok((connection, tokens));
        }
        if let Some(retry_at) = connection.retry_at.filter(|at| now < *at) {
            // The provider asked for a pause (or failed): honour it.
            if still_valid {
                return Ok((connection, tokens));
            }
            let at = retry_at.with_timezone(&chrono::Local).format("%H:%M:%S");
            let why = match (&connection.last_error, team) {
                // A team store that did not answer, not the provider, is why.
                (Some(last), true) => format!(
                    "The access token of '{}' has expired and renewing it failed: {} Latch tries again by itself at {at}.",
                    connection.name,
                    last.trim_end()
                ),
                _ => format!(
                    "The access token of '{}' has expired and the provider asked Latch to wait before renewing it; \
                     Latch tries again at {at}.",
                    connection.name
                ),
            };
            return Err(Error::network(why).with_action(Action::RetryLater { at: Some(retry_at) }));
        }
        match self.refresh_single_flight(&connection.id, RefreshNeed::IfDue).await {
            Ok((connection, fresh)) => Ok((connection, fresh)),
            Err(err) if self.now() < expires_at && err.kind != ErrorKind::KeyringUnavailable => {
                tracing::warn!(error = %err, "refresh failed; using the still-valid access token");
                Ok((self.get(name_or_id)?, tokens))
            }
            Err(err) => Err(err),
        }
    }

    /// Refreshes now, whether or not the token is due — unless another
    /// caller refreshed while this one waited for its turn.
    pub async fn refresh(&self, name_or_id: &str) -> Result<Connection> {
        self.save_unsaved().await;
        let connection = self.get(name_or_id)?;
        if connection.settings.oauth1().is_some() {
            return Err(nothing_to_renew(&connection));
        }
        if connection.status == Status::NeedsReauth {
            return Err(Error::needs_authorization(format!("'{}' needs you to sign in again.", connection.name))
                .with_action(connection.sign_in_again()));
        }
        if !(connection.status == Status::New && signs_in_without_user(&connection)) {
            self.stored_tokens(&connection).await?;
        }
        let need = RefreshNeed::Since(self.now());
        Ok(self.refresh_single_flight(&connection.id, need).await?.0)
    }

    /// Refreshes `id` if it is (still) due once this caller's turn comes:
    /// the refresher's verb.
    pub(crate) async fn refresh_if_due(&self, id: &ConnectionId) -> Result<()> {
        self.refresh_single_flight(id, RefreshNeed::IfDue).await.map(|_| ())
    }

    /// Refreshes every connection that can be refreshed (the tray's
    /// "Refresh all"), one after another. Returns the failures by name.
    pub async fn refresh_all(&self) -> Result<Vec<(String, Error)>> {
        let mut failures = Vec::new();
        for connection in self.list()? {
            if !connection.can_renew() || matches!(connection.status, Status::New | Status::NeedsReauth) {
                continue;
            }
            if let Err(err) = self.refresh(connection.id.as_str()).await {
                failures.push((connection.name, err));
            }
        }
        Ok(failures)
    }

    /// Refreshes `id` unless another caller did it meanwhile; returns the
    /// stored connection and tokens either way.
    pub(crate) async fn refresh_single_flight(&self, id: &ConnectionId, need: RefreshNeed) -> Result<(Connection, TokenSet)> {
        let lease = self.take_lease(id).await?;
        // Re-read: another process may have refreshed while we waited.
        let mut connection = self.get(id.as_str())?;
        // A team connection's tokens come with its turn (team_turn): no
        // read of the team store before it.
        let team = self.teams.team_of(id).is_some();
        let mut tokens = match &need {
            _ if team => None,
            RefreshNeed::First if connection.status == Status::New => None,
            _ => Some(self.stored_tokens(&connection).await?),
        };
        let already_fresh = match (&need, &tokens) {
            (RefreshNeed::First, _) if team => connection.status != Status::New,
            (RefreshNeed::First, None) => false,
            (RefreshNeed::First, Some(_)) => true,
            (RefreshNeed::IfDue, _) => connection.refresh_due().is_none_or(|due| self.now() < due),
            (RefreshNeed::Since(asked), _) => connection.access_issued_at.is_some_and(|issued| issued > *asked),
            (RefreshNeed::Rejected(refused), Some(stored)) => stored.access_token.secret() != refused.secret(),
            (RefreshNeed::Rejected(_), None) => false,
        };
        if already_fresh {
            let tokens = match tokens {
                Some(tokens) => tokens,
                None => self.stored_tokens(&connection).await?,
            };
            return Ok((self.get(id.as_str())?, tokens));
        }
        if connection.status == Status::NeedsReauth {
            // The provider refused the refresh token: never send it again.
            return Err(Error::needs_authorization(format!("'{}' needs you to sign in again.", connection.name))
                .with_action(connection.sign_in_again()));
        }
        // A team connection: the team's lease too (one writer across machines), or another machine's new tokens.
        let team_lease = match self.team_turn(&connection).await? {
            super::team_refresh::TeamTurn::Adopted(adopted) => return Ok(*adopted),
            super::team_refresh::TeamTurn::Holding(lease, team_tokens) => {
                // Which tokens exist is the team's word, not this row's.
                tokens = (connection.status != Status::New || team_tokens.refresh_token.is_some()).then_some(*team_tokens);
                Some(lease)
            }
            super::team_refresh::TeamTurn::Personal => None,
        };
        let generation = self.db().token_generation(id)?;
        if let (Some(tokens), None) = (&tokens, &team_lease) {
            // The store must be able to take the result before the refresh
            // token is spent: a rotated one that cannot be saved is lost.
            // (A team's store took the claim just now.)
            if self.unsaved_tokens(id).is_none() {
                self.secrets.set_token_set(id, tokens).await?;
            }
        }
        let shown_status = connection.status;
        connection.status = Status::Refreshing;
        self.db().connection_update_state(&connection)?;
        let outcome = self.refresh_with(connection, tokens.as_ref(), generation, &lease).await;
        if let Some(team_lease) = team_lease {
            if self.unsaved_tokens(id).is_some() {
                team_lease.keep();
            } else {
                team_lease.release(self, outcome.as_ref().err()).await;
            }
        }
        if outcome.is_err() {
            // record_failure kept the status (a passing failure): put back
            // what was shown, keeping the error and the retry time it saved.
            let mut recorded = self.get(id.as_str())?;
            if recorded.status == Status::Refreshing {
                recorded.status = shown_status;
                self.db().connection_update_state(&recorded)?;
            }
        }
        outcome
    }

    async fn refresh_with(
        &self,
        connection: Connection,
        tokens: Option<&TokenSet>,
        generation: i64,
        lease: &LeaseGuard<'_>,
    ) -> Result<(Connection, TokenSet)> {
        let name = &connection.name;
        if !lease.confirm()? {
            return Err(Error::network(format!(
                "Another Latch process took over renewing '{name}' while this one waited. Try again in a moment."
            ))
            .with_action(Action::RetryLater { at: None }));
        }
        let outcome = match &connection.settings {
            KindSettings::Spec(settings) => self.spec_refresh(&connection, settings, tokens).await,
            KindSettings::OAuth2(_) => self.oauth2_refresh(&connection, tokens).await,
            KindSettings::OAuth1(_) => Err(nothing_to_renew(&connection)),
        };
        match outcome {
            Ok(grant) => {
                if !lease.confirm()? {
                    tracing::warn!(connection = %connection.id, "the lease expired during the refresh; storing by generation");
                }
                let stored = self.store_grant(&connection.id, grant, tokens, generation).await?;
                tracing::info!(connection = %connection.id, "refreshed");
                self.announce(EngineEvent::Refreshed { id: connection.id.clone() });
                Ok(stored)
            }
            Err(err) => {
                let err = self.after_token_error(&connection, err).await;
                self.record_failure(&connection.id, &err, true)?;
                Err(err)
            }
        }
    }

    /// An OAuth 2.0 connection's refresh: the refresh token, or a new
    /// client credentials request.
    async fn oauth2_refresh(&self, connection: &Connection, tokens: Option<&TokenSet>) -> Result<TokenGrant> {
        let name = &connection.name;
        let secret = self.client_secret(connection).await?;
        let dpop_key = self.dpop_key_for_token_requests(connection).await?;
        let mut target = oauth2(connection)?;
        if let Some(key) = &dpop_key {
            target = target.with_dpop(crate::flows::dpop::Dpop::new(key, self.dpop_nonces()));
        }
        let refresh_token = tokens.and_then(|t| t.refresh_token.as_ref());
        match (refresh_token, target.flow) {
            (Some(_), _) if connection.refresh_expires_at.is_some_and(|at| at <= self.now()) => {
                Err(Error::needs_authorization(format!("The saved sign-in for '{name}' has expired."))
                    .with_action(connection.sign_in_again()))
            }
            (Some(refresh_token), _) => refresh::request(&target, secret.as_ref(), refresh_token, &self.http_for(connection).await?).await,
            // Client credentials need no refresh token: ask again.
            (None, Flow::ClientCredentials) => client_credentials::request(&target, secret.as_ref(), &self.http_for(connection).await?).await,
            (None, _) => Err(Error::needs_authorization(format!(
                "The provider gave '{name}' no refresh token, so Latch cannot renew its access without you."
            ))
            .with_action(connection.sign_in_again())),
        }
    }

    /// Stores a new token set, then the expiry and status. `previous` is the
    /// set being refreshed: a refresh response without `refresh_token` keeps
    /// the old one (RFC 6749 §6). `generation` is the token generation the
    /// caller started from: if another writer stored tokens since (a
    /// disconnect, a new sign-in, another process's refresh), this result
    /// is older than what is stored and is dropped. The caller holds the lease.
    ///
    /// If the secret store refuses the new set (a locked keyring), it is
    /// kept in memory for this process and served from there, the store's
    /// older set is never used again, and it is saved as soon as the store
    /// takes it: a rotated refresh token is never lost while Latch runs.
    pub(crate) async fn store_grant(
        &self,
        id: &ConnectionId,
        grant: TokenGrant,
        previous: Option<&TokenSet>,
        generation: i64,
    ) -> Result<(Connection, TokenSet)> {
        let TokenGrant { tokens, expires_in, refresh_expires_in, scopes, account } = grant;
        let kept_refresh = tokens.refresh_token.is_none() && previous.is_some_and(|p| p.refresh_token.is_some());
        let tokens = TokenSet {
            refresh_token: tokens.refresh_token.or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token: tokens.id_token.or_else(|| previous.and_then(|p| p.id_token.clone())),
            ..tokens
        };
        let mut connection = self.get(id.as_str())?;
        if self.db().token_generation(id)? != generation {
            return Err(Error::provider(format!(
                "The tokens of '{}' changed while this sign-in or refresh was under way (it was disconnected, signed \
                 in again or renewed elsewhere); the newer ones are kept.",
                connection.name
            ))
            .with_action(Action::RetryLater { at: None }));
        }
        let now = self.now();
        let to_time = |d: Duration| chrono::Duration::from_std(d).ok().and_then(|d| now.checked_add_signed(d));
        connection.status = Status::Connected;
        connection.access_issued_at = Some(now);
        connection.access_expires_at = expires_in.and_then(to_time);
        connection.refresh_expires_at = match refresh_expires_in {
            Some(d) => to_time(d),
            None if kept_refresh => connection.refresh_expires_at,
            None => None,
        };
        connection.refresh_due_at = match &connection.settings {
            KindSettings::Spec(settings) => self.spec_due(settings, &tokens, connection.access_expires_at),
            KindSettings::OAuth2(_) | KindSettings::OAuth1(_) => None,
        };
        if scopes.is_some() || previous.is_none() {
            connection.granted_scopes = scopes;
        }
        if account.is_some() {
            connection.account = account;
        }
        connection.has_refresh_token = tokens.refresh_token.is_some();
        connection.last_error = None;
        connection.last_error_details = None;
        connection.last_error_action = None;
        connection.retry_at = None;
        // A team connection's refresh document gets a copy of the access
        // document that goes with these tokens.
        self.team_stage_access(&connection, &tokens, previous.is_none())?;
        let unsaved = match self.save_token_set(id, &tokens).await {
            Ok(()) => None,
            Err(err) if crate::store::team_secrets::is_changed_elsewhere(&err) => return Err(err),
            Err(err) => Some(err),
        };
        if let Some(err) = &unsaved {
            connection.last_error = Some(format!(
                "Connected, but the new sign-in could not be saved to your keyring: {} Latch keeps it while it runs.",
                err.message
            ));
            connection.last_error_action = Some(Action::UnlockKeyring);
        }
        connection.updated_at = now;
        // A team connection's access document first: this row never says
        // "valid until …" of tokens the other members (and this Latch's
        // next process, which reads them there) do not have.
        self.team_publish(&connection, &tokens, previous.is_none()).await?;
        {
            let db = self.db();
            db.connection_update_state(&connection)?;
            if !db.bump_token_generation(id, generation)? {
                tracing::warn!(connection = %id, "the token generation moved while storing");
            }
            if previous.is_none() {
                // A new sign-in: a new episode for notifications.
                db.reset_episode(id)?;
            } else {
                db.set_failed_attempts(id, 0)?;
            }
        }
        self.announce(if unsaved.is_some() { EngineEvent::NeedsAttention { id: id.clone() } } else { EngineEvent::Changed { id: id.clone() } });
        Ok((connection, tokens))
    }

    /// Writes a token set to the secret store, trying again briefly; when
    /// the store keeps refusing, keeps it in memory and marks the row so no
    /// process uses the store's older set.
    async fn save_token_set(&self, id: &ConnectionId, tokens: &TokenSet) -> Result<()> {
        let mut outcome = self.secrets.set_token_set(id, tokens).await;
        for pause in SAVE_RETRIES {
            match &outcome {
                Ok(()) => break,
                // Another team member's newer tokens are there: theirs
                // stand, and these are not kept to be written later.
                Err(err) if crate::store::team_secrets::is_changed_elsewhere(err) => return outcome,
                Err(_) => {}
            }
            tokio::time::sleep(pause).await;
            outcome = self.secrets.set_token_set(id, tokens).await;
        }
        let mut unsaved = self.unsaved.lock().unwrap_or_else(|p| p.into_inner());
        match &outcome {
            Ok(()) => {
                unsaved.remove(id);
                self.db().set_tokens_unsaved_by(id, None)?;
            }
            Err(err) => {
                tracing::warn!(connection = %id, error = %err, "the secret store refused new tokens; kept in memory");
                unsaved.insert(id.clone(), tokens.clone());
                self.db().set_tokens_unsaved_by(id, Some(process_tag()))?;
            }
        }
        outcome
    }

    fn unsaved_tokens(&self, id: &ConnectionId) -> Option<TokenSet> {
        self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Whether this process holds tokens the secret store has not taken yet.
    pub(crate) fn has_unsaved_tokens(&self) -> bool {
        !self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// Tries again to save tokens the secret store refused; clears the note
    /// on connections whose tokens it now took.
    pub(crate) async fn save_unsaved(&self) {
        let waiting: Vec<(ConnectionId, TokenSet)> =
            self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(id, t)| (id.clone(), t.clone())).collect();
        for (id, tokens) in waiting {
            if self.secrets.set_token_set(&id, &tokens).await.is_err() {
                continue;
            }
            self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            let cleared = (|| -> Result<()> {
                self.db().set_tokens_unsaved_by(&id, None)?;
                let mut connection = self.get(id.as_str())?;
                if connection.last_error_action == Some(Action::UnlockKeyring) {
                    connection.last_error = None;
                    connection.last_error_action = None;
                    self.db().connection_update_state(&connection)?;
                }
                Ok(())
            })();
            match cleared {
                Ok(()) => self.announce(EngineEvent::Changed { id: id.clone() }),
                Err(err) => tracing::warn!(connection = %id, error = %err, "saved the kept tokens; the note stays"),
            }
        }
    }

    /// The tokens another process kept for `connection` died with it: the
    /// connection needs a sign-in, and the store's older set is not used.
    fn lose_unsaved(&self, connection: &Connection) -> Result<()> {
        let mut lost = connection.clone();
        lost.status = Status::NeedsReauth;
        lost.last_error = Some("The newest sign-in could not be saved to your keyring and was lost.".into());
        lost.last_error_action = Some(connection.sign_in_again());
        lost.updated_at = self.now();
        let db = self.db();
        db.set_tokens_unsaved_by(&connection.id, None)?;
        db.connection_update_state(&lost)?;
        drop(db);
        self.announce(EngineEvent::NeedsAttention { id: connection.id.clone() });
        Ok(())
    }

    /// Records a failed connect or refresh so every front end can show it.
    pub(crate) fn record_failure(&self, id: &ConnectionId, err: &Error, refreshing: bool) -> Result<()> {
        if err.kind == ErrorKind::Cancelled {
            return Ok(());
        }
        let mut connection = self.get(id.as_str())?;
        let now = self.now();
        let expired = connection.access_expires_at.is_none_or(|at| at <= now);
        connection.status = match (err.kind, refreshing) {
            (ErrorKind::NeedsAuthorization, true) => Status::NeedsReauth,
            (_, true) if expired => Status::Error,
            (_, true) => connection.status,
            // A failed sign-in leaves a working connection working.
            (_, false) if matches!(connection.status, Status::Connected | Status::NeedsReauth) => connection.status,
            (_, false) => Status::Error,
        };
        connection.last_error = Some(err.message.clone());
        connection.last_error_details = err.details.clone();
        connection.updated_at = now;
        let db = self.db();
        if refreshing && err.kind != ErrorKind::NeedsAuthorization {
            // Try again later, later each time: the refresher never spins
            // on a failing provider.
            let attempts = db.failed_attempts(id)? + 1;
            db.set_failed_attempts(id, attempts)?;
            let retry_after = err.retry_after.and_then(|d| chrono::Duration::from_std(d).ok());
            let wait = refresh_policy::backoff(attempts, retry_after, refresh_policy::random_jitter());
            connection.retry_at = Some(now + wait);
        }
        connection.last_error_action = match (&err.action, connection.retry_at) {
            (Some(action), _) => Some(action.clone()),
            (None, Some(at)) if refreshing => Some(Action::RetryLater { at: Some(at) }),
            (None, _) if connection.status == Status::NeedsReauth => Some(connection.sign_in_again()),
            (None, _) => None,
        };
        tracing::info!(connection = %id, kind = err.kind.code(), "operation failed");
        db.connection_update_state(&connection)?;
        drop(db);
        self.announce(EngineEvent::NeedsAttention { id: id.clone() });
        Ok(())
    }

    /// Sends an API request with the credential placed per the connection's
    /// settings. A 401 refreshes once and retries once.
    pub async fn request(&self, name_or_id: &str, api: ApiRequest) -> Result<ApiResponse> {
        match self.get(name_or_id)?.settings {
            KindSettings::Spec(_) => return self.spec_request(name_or_id, &api).await,
            KindSettings::OAuth1(_) => return self.oauth1_request(name_or_id, &api).await,
            KindSettings::OAuth2(_) => {}
        }
        self.check_destination(&self.get(name_or_id)?, &api.url)?;
        let (connection, tokens) = self.fresh_tokens(name_or_id).await?;
        let response = self.send_with_tokens(&connection, &tokens, &api).await?;
        if response.status != 401 || !connection.can_renew() {
            return Ok(response);
        }
        let refused = RefreshNeed::Rejected(tokens.access_token.clone());
        let (connection, fresh) = self.refresh_single_flight(&connection.id, refused).await?;
        self.send_with_tokens(&connection, &fresh, &api).await
    }

    /// Tells the user — once per episode, in any process, and only when
    /// `notify` (the setting) allows — that `c` needs a sign-in: a notice
    /// the front ends word. Marked even when off, so turning notifications
    /// on later does not bring back old episodes.
    /// A team connection is told only to the member who signed it in.
    pub fn notify_needs_sign_in(&self, c: &Connection, notify: bool) {
        let notify = notify && self.connected_here(c);
        if self.db().mark_notified(&c.id, crate::store::refresh_state::Notified::Reauth).unwrap_or(false) && notify {
            let reason = c.last_error.clone().unwrap_or_default();
            let notice = crate::events::Notice::NeedsReauth { id: c.id.clone(), name: c.name.clone(), reason, action: c.sign_in_again() };
            self.announce(EngineEvent::Notice(notice));
        }
    }

    /// The request `api` as it would go out — the credential placed (OAuth
    /// 2.0), the spec's `base` applied, or signed for this one request
    /// (OAuth 1.0a) — after the destination rule. Nothing is sent: the
    /// proxy sends it with the caller's body.
    pub(crate) async fn authorized_request(
        &self,
        connection: &Connection,
        tokens: &crate::secret::TokenSet,
        api: &ApiRequest,
    ) -> Result<oauth2::http::Request<Vec<u8>>> {
        self.check_destination(connection, &api.url)?;
        let built = match &connection.settings {
            // A DPoP token's proof is made for the final address, where it is sent.
            KindSettings::OAuth2(_) => request::build_with(&connection.settings, api, tokens)?,
            KindSettings::Spec(_) => self.spec_built(connection, tokens, api).await?,
            KindSettings::OAuth1(_) => self.oauth1_signed(connection, tokens, api).await?,
        };
        // A spec's base may name another host: the rule holds for where it really goes.
        let sent_to = built.uri().to_string();
        if matches!(connection.settings, KindSettings::Spec(_)) && url::Url::parse(api.url.trim()).is_ok() {
            self.check_destination(connection, &sent_to)?;
        }
        Ok(built)
    }

    /// Refuses a request whose credential would go to a host the connection
    /// does not send it to (`hosts::may_receive`). A spec's relative path
    /// joins its own base and passes.
    pub(crate) fn check_destination(&self, connection: &Connection, url: &str) -> Result<()> {
        match url::Url::parse(url.trim()) {
            Ok(_) => {
                // The address rules first (https, plain http only to this
                // computer): they say more than "not one of its hosts".
                let url = crate::validate::check_endpoint_url("Request URL", url.trim())
                    .map_err(|message| Error::validation("url", message))?;
                crate::hosts::check_destination(&connection.name, &connection.settings, &url)
            }
            Err(url::ParseError::RelativeUrlWithoutBase) if matches!(connection.settings, KindSettings::Spec(_)) => Ok(()),
            // Not an address: the request's own checks say why.
            Err(_) => Ok(()),
        }
    }

    /// Where the credential will go, masked, before anything is sent.
    pub fn request_preview(&self, name_or_id: &str, api: &ApiRequest) -> Result<request::RequestPreview> {
        let connection = self.get(name_or_id)?;
        match &connection.settings {
            KindSettings::Spec(_) => self.spec_preview(&connection, api),
            KindSettings::OAuth1(_) => self.oauth1_preview(api),
            KindSettings::OAuth2(_) => request::preview(&connection.settings, api),
        }
    }

    /// The request as a curl command; the real token only when asked for.
    pub async fn request_curl(&self, name_or_id: &str, api: &ApiRequest, include_token: bool) -> Result<zeroize::Zeroizing<String>> {
        match self.get(name_or_id)?.settings {
            KindSettings::Spec(_) => return self.spec_curl(name_or_id, api, include_token).await,
            KindSettings::OAuth1(_) => return self.oauth1_curl(name_or_id, api, include_token).await,
            KindSettings::OAuth2(_) => {}
        }
        if self.get(name_or_id)?.settings.oauth2().is_some_and(|settings| settings.dpop) {
            return Err(bound_tokens_stay(&self.get(name_or_id)?.name));
        }
        if include_token {
            self.check_destination(&self.get(name_or_id)?, &api.url)?;
            let (connection, token) = self.access_token(name_or_id).await?;
            request::curl(&connection.settings, api, Some(&token))
        } else {
            request::curl(&self.get(name_or_id)?.settings, api, None)
        }
    }

    /// Revokes the tokens at the provider when it has a revoke URI (RFC
    /// 7009), then deletes them here. The local deletion always happens. A
    /// refresh under way finishes first (the lease), so its new tokens are
    /// the ones revoked and deleted.
    pub async fn disconnect(&self, name_or_id: &str) -> Result<Disconnected> {
        let connection = self.get(name_or_id)?;
        let _lease = self.take_lease(&connection.id).await?;
        self.disconnect_holding_lease(self.get(connection.id.as_str())?).await
    }

    pub(crate) async fn disconnect_holding_lease(&self, mut connection: Connection) -> Result<Disconnected> {
        let tokens = match self.unsaved_tokens(&connection.id) {
            Some(tokens) => Some(tokens),
            None => self.secrets.token_set(&connection.id).await?,
        };
        let mut outcome = Disconnected { revoked: false, revoke_error: None, registration_deleted: None };
        let invalidated = match (&connection.settings, tokens.as_ref()) {
            (KindSettings::Spec(settings), Some(tokens)) => self.spec_invalidate(&connection, settings, tokens).await,
            (KindSettings::OAuth1(settings), Some(tokens)) => self.oauth1_revoke(&connection, settings, tokens).await,
            _ => None,
        };
        {
            match invalidated {
                Some(Ok(())) => outcome.revoked = true,
                Some(Err(err)) => outcome.revoke_error = Some(err),
                None => {}
            }
        }
        let revoke_url = oauth2(&connection).ok().and_then(|target| target.revoke_url.clone());
        if let (Some(url), Some(tokens)) = (revoke_url, tokens.as_ref()) {
            let target = oauth2(&connection)?;
            let secret = self.client_secret(&connection).await?;
            // A client without its certificate cannot revoke, but still forgets.
            let http = self.http_for(&connection).await;
            let mut targets = Vec::new();
            if let Some(refresh_token) = &tokens.refresh_token {
                targets.push((refresh_token.secret(), revoke::TokenHint::RefreshToken));
            }
            targets.push((tokens.access_token.secret(), revoke::TokenHint::AccessToken));
            for (token, hint) in targets {
                let revoked = match &http {
                    Ok(http) => revoke::revoke(&target, secret.as_ref(), &url, token, hint, http).await,
                    Err(err) => Err(err.clone()),
                };
                if let Err(err) = revoked {
                    outcome.revoke_error.get_or_insert(err);
                }
            }
            outcome.revoked = outcome.revoke_error.is_none();
        }
        // After the revocation, which still authenticates as the client.
        outcome.registration_deleted = self.delete_registration(&mut connection).await;
        self.secrets.delete_token_set(&connection.id).await?;
        self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).remove(&connection.id);
        connection.status = Status::New;
        connection.access_expires_at = None;
        connection.refresh_expires_at = None;
        connection.access_issued_at = None;
        connection.granted_scopes = None;
        connection.account = None;
        connection.has_refresh_token = false;
        connection.last_error = None;
        connection.last_error_details = None;
        connection.last_error_action = None;
        connection.retry_at = None;
        connection.refresh_due_at = None;
        connection.updated_at = self.now();
        let db = self.db();
        db.connection_update_state(&connection)?;
        db.set_tokens_unsaved_by(&connection.id, None)?;
        let generation = db.token_generation(&connection.id)?;
        db.bump_token_generation(&connection.id, generation)?;
        drop(db);
        tracing::info!(connection = %connection.id, revoked = outcome.revoked, "disconnected");
        self.announce(EngineEvent::Changed { id: connection.id.clone() });
        Ok(outcome)
    }
}
