//! Tokens: a valid access token on demand, refreshing with one refresh per
//! connection at a time across threads and processes (the desktop app, any
//! number of `latch` commands: a lease row in SQLite), requests with the
//! credential placed per the connection, and disconnecting.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Engine;
use crate::error::{Action, Error, ErrorKind, Result};
use crate::events::EngineEvent;
use crate::flows::token_response::TokenGrant;
use crate::flows::{client_credentials, refresh, revoke, Target};
use crate::model::{Connection, ConnectionId, Flow, KindSettings, Status};
use crate::refresh_policy;
use crate::request::{self, ApiRequest, ApiResponse};
use crate::secret::{AccessToken, TokenSet};

/// Longer than a token request can take (30 s timeout) with room to spare;
/// a holder that dies lets go after this.
const LEASE: Duration = Duration::from_secs(70);
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Why a refresh is wanted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RefreshNeed {
    /// Only if still due once the lease is ours.
    IfDue,
    /// Unless someone refreshed after this moment.
    Since(DateTime<Utc>),
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
}

/// The OAuth 2.0 view of a connection, for the flows.
pub(crate) fn oauth2(connection: &Connection) -> Target<'_> {
    match &connection.settings {
        KindSettings::OAuth2(settings) => Target::new(&connection.name, settings),
    }
}

impl Engine {
    /// The stored tokens of a connection that should have some; a sentence
    /// and the sign-in action when it has none.
    pub(crate) async fn stored_tokens(&self, connection: &Connection) -> Result<TokenSet> {
        let name = &connection.name;
        let not_connected = || {
            Error::needs_authorization(format!("'{name}' is not connected yet."))
                .with_action(Action::SignIn { connection: name.clone() })
        };
        // Known without asking the secret store, which may be locked.
        if connection.status == Status::New {
            return Err(not_connected());
        }
        if connection.status == Status::NeedsReauth {
            return Err(Error::needs_authorization(format!("'{name}' needs you to sign in again."))
                .with_action(connection.sign_in_again()));
        }
        self.secrets.token_set(&connection.id).await?.ok_or_else(not_connected)
    }

    /// A valid access token, refreshed first when it is due (one refresh
    /// for any number of concurrent callers, in any process). If a due
    /// refresh fails for a passing reason while the old token is still
    /// valid, the old token is returned.
    pub async fn access_token(&self, name_or_id: &str) -> Result<(Connection, AccessToken)> {
        let connection = self.get(name_or_id)?;
        let tokens = self.stored_tokens(&connection).await?;
        let Some(expires_at) = connection.access_expires_at else {
            return Ok((connection, tokens.access_token));
        };
        if self.now() < refresh_policy::due_at(connection.access_issued_at, expires_at) {
            return Ok((connection, tokens.access_token));
        }
        match self.refresh_single_flight(&connection.id, RefreshNeed::IfDue).await {
            Ok((connection, fresh)) => Ok((connection, fresh.access_token)),
            Err(err) if self.now() < expires_at && err.kind != ErrorKind::NeedsAuthorization => {
                tracing::warn!(error = %err, "refresh failed; using the still-valid access token");
                Ok((self.get(name_or_id)?, tokens.access_token))
            }
            Err(err) => Err(err),
        }
    }

    /// Refreshes now, whether or not the token is due — unless another
    /// caller refreshed while this one waited for its turn.
    pub async fn refresh(&self, name_or_id: &str) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        self.stored_tokens(&connection).await?;
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
        let holder = format!("{}:{}", std::process::id(), ulid::Ulid::new());
        let started = std::time::Instant::now();
        loop {
            let now = self.now();
            let until = now + chrono::Duration::from_std(LEASE).expect("a small duration");
            if self.db().lease_acquire(id, &holder, now, until)? {
                break;
            }
            // A holder killed mid-refresh must not make everyone wait.
            self.db().leases_drop_dead_holders()?;
            if started.elapsed() > LEASE {
                return Err(Error::network(
                    "Another Latch process has been refreshing this connection for over a minute. Try again in a moment.",
                )
                .with_action(Action::RetryLater { at: None }));
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
        let outcome = self.refresh_holding_lease(id, need).await;
        if let Err(err) = self.db().lease_release(id, &holder) {
            tracing::warn!(connection = %id, error = %err, "could not release the refresh lease; it expires by itself");
        }
        outcome
    }

    async fn refresh_holding_lease(&self, id: &ConnectionId, need: RefreshNeed) -> Result<(Connection, TokenSet)> {
        // Re-read: another process may have refreshed while we waited.
        let mut connection = self.get(id.as_str())?;
        let tokens = self.stored_tokens(&connection).await?;
        let already_fresh = match need {
            RefreshNeed::IfDue => connection
                .access_expires_at
                .is_none_or(|expires| self.now() < refresh_policy::due_at(connection.access_issued_at, expires)),
            RefreshNeed::Since(asked) => connection.access_issued_at.is_some_and(|issued| issued > asked),
        };
        if already_fresh {
            return Ok((connection, tokens));
        }
        let shown_status = connection.status;
        connection.status = Status::Refreshing;
        self.db().connection_update_state(&connection)?;
        let outcome = self.refresh_with(connection, &tokens).await;
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

    async fn refresh_with(&self, connection: Connection, tokens: &TokenSet) -> Result<(Connection, TokenSet)> {
        let name = &connection.name;
        let secret = self.client_secret(&connection).await?;
        let target = oauth2(&connection);
        let outcome = match (&tokens.refresh_token, target.flow) {
            (Some(_), _) if connection.refresh_expires_at.is_some_and(|at| at <= self.now()) => {
                Err(Error::needs_authorization(format!("The saved sign-in for '{name}' has expired."))
                    .with_action(connection.sign_in_again()))
            }
            (Some(refresh_token), _) => refresh::request(&target, secret.as_ref(), refresh_token, &self.http).await,
            // Client credentials need no refresh token: ask again.
            (None, Flow::ClientCredentials) => client_credentials::request(&target, secret.as_ref(), &self.http).await,
            (None, _) => Err(Error::needs_authorization(format!(
                "The provider gave '{name}' no refresh token, so Latch cannot renew its access without you."
            ))
            .with_action(connection.sign_in_again())),
        };
        match outcome {
            Ok(grant) => {
                let stored = self.store_grant(&connection.id, grant, Some(tokens)).await?;
                tracing::info!(connection = %connection.id, "refreshed");
                self.announce(EngineEvent::Refreshed { id: connection.id.clone() });
                Ok(stored)
            }
            Err(err) => {
                self.record_failure(&connection.id, &err, true)?;
                Err(err)
            }
        }
    }

    /// Writes a new token set to the secret store, then the expiry and
    /// status to the database. `previous` is the set being refreshed: a
    /// refresh response without `refresh_token` keeps the old one (RFC 6749 §6).
    pub(crate) async fn store_grant(
        &self,
        id: &ConnectionId,
        grant: TokenGrant,
        previous: Option<&TokenSet>,
    ) -> Result<(Connection, TokenSet)> {
        let TokenGrant { tokens, expires_in, refresh_expires_in, scopes } = grant;
        let kept_refresh = tokens.refresh_token.is_none() && previous.is_some_and(|p| p.refresh_token.is_some());
        let tokens = TokenSet {
            refresh_token: tokens.refresh_token.or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token: tokens.id_token.or_else(|| previous.and_then(|p| p.id_token.clone())),
            ..tokens
        };
        // Secret store first: if Latch dies after this line, the next start
        // still holds a usable (new) refresh token.
        self.secrets.set_token_set(id, &tokens).await?;

        let mut connection = self.get(id.as_str())?;
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
        if scopes.is_some() || previous.is_none() {
            connection.granted_scopes = scopes;
        }
        connection.has_refresh_token = tokens.refresh_token.is_some();
        connection.last_error = None;
        connection.last_error_details = None;
        connection.last_error_action = None;
        connection.retry_at = None;
        connection.updated_at = now;
        let db = self.db();
        db.connection_update_state(&connection)?;
        if previous.is_none() {
            // A new sign-in: a new episode for notifications.
            db.reset_episode(id)?;
        } else {
            db.set_failed_attempts(id, 0)?;
        }
        drop(db);
        self.announce(EngineEvent::Changed { id: id.clone() });
        Ok((connection, tokens))
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
        let (connection, token) = self.access_token(name_or_id).await?;
        let response = request::send(&self.http, request::build(&connection.settings, &api, &token)?).await?;
        if response.status != 401 || !connection.can_renew() {
            return Ok(response);
        }
        let need = RefreshNeed::Since(self.now());
        let (connection, fresh) = self.refresh_single_flight(&connection.id, need).await?;
        request::send(&self.http, request::build(&connection.settings, &api, &fresh.access_token)?).await
    }

    /// Where the credential will go, masked, before anything is sent.
    pub fn request_preview(&self, name_or_id: &str, api: &ApiRequest) -> Result<request::RequestPreview> {
        request::preview(&self.get(name_or_id)?.settings, api)
    }

    /// The request as a curl command; the real token only when asked for.
    pub async fn request_curl(&self, name_or_id: &str, api: &ApiRequest, include_token: bool) -> Result<zeroize::Zeroizing<String>> {
        if include_token {
            let (connection, token) = self.access_token(name_or_id).await?;
            request::curl(&connection.settings, api, Some(&token))
        } else {
            request::curl(&self.get(name_or_id)?.settings, api, None)
        }
    }

    /// Revokes the tokens at the provider when it has a revoke URI (RFC
    /// 7009), then deletes them here. The local deletion always happens.
    pub async fn disconnect(&self, name_or_id: &str) -> Result<Disconnected> {
        let mut connection = self.get(name_or_id)?;
        let tokens = self.secrets.token_set(&connection.id).await?;
        let mut outcome = Disconnected { revoked: false, revoke_error: None };
        let target = oauth2(&connection);
        if let (Some(url), Some(tokens)) = (target.revoke_url.clone(), tokens.as_ref()) {
            let secret = self.client_secret(&connection).await?;
            let mut targets = Vec::new();
            if let Some(refresh_token) = &tokens.refresh_token {
                targets.push((refresh_token.secret(), revoke::TokenHint::RefreshToken));
            }
            targets.push((tokens.access_token.secret(), revoke::TokenHint::AccessToken));
            for (token, hint) in targets {
                if let Err(err) = revoke::revoke(&target, secret.as_ref(), &url, token, hint, &self.http).await {
                    outcome.revoke_error.get_or_insert(err);
                }
            }
            outcome.revoked = outcome.revoke_error.is_none();
        }
        self.secrets.delete_token_set(&connection.id).await?;
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
        connection.updated_at = self.now();
        self.db().connection_update_state(&connection)?;
        tracing::info!(connection = %connection.id, revoked = outcome.revoked, "disconnected");
        self.announce(EngineEvent::Changed { id: connection.id.clone() });
        Ok(outcome)
    }
}
