//! The engine's face: the verbs front ends call. Each verb loads what it
//! needs, runs one flow, and records the outcome so every front end sees the
//! same state.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;

use crate::error::{Error, ErrorKind, FieldError, Result};
use crate::flows::{authorization, client_credentials, loopback, refresh, revoke, token_response::TokenGrant};
use crate::http::ProviderHttp;
use crate::model::{Connection, ConnectionId, ConnectionPatch, ConnectionSpec, Flow, Status};
use crate::request::{self, ApiRequest, ApiResponse};
use crate::secret::{AccessToken, ClientSecret, TokenSet};
use crate::store::keyring::{KeyringSecrets, SecretStore, Secrets};
use crate::store::Db;
use crate::single_flight::RefreshNeed;
use crate::{paths, refresh_policy, validate};

/// Opens URLs in the user's browser.
pub trait Browser: Send + Sync {
    fn open(&self, url: &str) -> std::result::Result<(), String>;
}

/// The system browser, the standard way: the opener crate, which honours
/// `$BROWSER` on Linux (so people without a desktop, and tests, can choose).
pub struct SystemBrowser;

impl Browser for SystemBrowser {
    fn open(&self, url: &str) -> std::result::Result<(), String> {
        opener::open_browser(url).map_err(|err| err.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long to wait for the user to finish signing in.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { timeout: loopback::DEFAULT_TIMEOUT }
    }
}

/// Told to the front end once the browser has been sent to the provider.
#[derive(Debug)]
pub struct SignInStarted<'a> {
    pub authorize_url: &'a str,
    pub redirect_uri: &'a str,
    /// Set when the browser could not be opened: the user must open the URL.
    pub browser_error: Option<String>,
    pub timeout: Duration,
}

/// What to do with the client secret in an edit.
pub enum SecretChange {
    Keep,
    Set(ClientSecret),
    Remove,
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

pub struct Engine {
    pub(crate) db: Mutex<Db>,
    pub(crate) secrets: Secrets,
    pub(crate) http: ProviderHttp,
    pub(crate) browser: Box<dyn Browser>,
    pub(crate) data_dir: PathBuf,
}

impl Engine {
    /// The engine over the user's data directory and OS keyring.
    pub fn open_default() -> Result<Engine> {
        Engine::open(&paths::data_dir()?, Box::new(KeyringSecrets), Box::new(SystemBrowser))
    }

    pub fn open(data_dir: &Path, secrets: Box<dyn SecretStore>, browser: Box<dyn Browser>) -> Result<Engine> {
        paths::ensure_dir(data_dir)?;
        let db = Db::open(&data_dir.join("latch.db"))?;
        db.leases_recover(Utc::now())?;
        Ok(Engine {
            db: Mutex::new(db),
            secrets: Secrets::new(secrets),
            http: ProviderHttp::new(),
            browser,
            data_dir: data_dir.to_owned(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (statements are atomic), so a poisoned lock is still usable.
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn list(&self) -> Result<Vec<Connection>> {
        self.db().connections_list()
    }

    /// A connection by name (ignoring case) or id.
    pub fn get(&self, name_or_id: &str) -> Result<Connection> {
        self.db().connection_find(name_or_id)?.ok_or_else(|| Error::not_found(name_or_id))
    }

    /// Every rule `spec` breaks, including a name already in use by another
    /// connection. The desktop form calls this as the user types.
    pub fn check(&self, spec: &ConnectionSpec, id: Option<&ConnectionId>, has_client_secret: bool) -> Result<Vec<FieldError>> {
        let mut errors = validate::validate(spec, has_client_secret);
        if !errors.iter().any(|e| e.field == "name") && self.db().connection_name_taken(&spec.name, id)? {
            errors.insert(
                0,
                FieldError {
                    field: "name",
                    message: format!("A connection named '{}' already exists. Choose another name.", spec.name),
                },
            );
        }
        Ok(errors)
    }

    /// Creates a connection from Make's defaults plus `patch`. Nothing is
    /// saved unless every rule holds.
    pub fn create(&self, patch: ConnectionPatch, client_secret: Option<ClientSecret>) -> Result<Connection> {
        let flow = patch.flow.ok_or_else(|| {
            Error::validation("flow", "Choose a flow type: authorization_code, implicit or client_credentials.")
        })?;
        let mut spec = ConnectionSpec::new(String::new(), flow, String::new());
        patch.apply(&mut spec, false, client_secret.is_some());
        let errors = self.check(&spec, None, client_secret.is_some())?;
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        let now = Utc::now();
        let connection = Connection::new(spec, client_secret.is_some(), now);
        // The secret goes in first: a row never claims a secret the keyring lacks.
        if let Some(secret) = &client_secret {
            self.secrets.set_client_secret(&connection.id, secret)?;
        }
        if let Err(err) = self.db().connection_insert(&connection) {
            let _ = self.secrets.delete_client_secret(&connection.id);
            return Err(err);
        }
        tracing::info!(connection = %connection.id, flow = %connection.spec.flow, "connection created");
        Ok(connection)
    }

    /// Changes the fields in `patch`; the rest keep their values.
    pub fn update(&self, name_or_id: &str, patch: ConnectionPatch, secret: SecretChange) -> Result<Connection> {
        let mut connection = self.get(name_or_id)?;
        let had = connection.has_client_secret;
        let has = match secret {
            SecretChange::Keep => had,
            SecretChange::Set(_) => true,
            SecretChange::Remove => false,
        };
        let mut spec = connection.spec.clone();
        patch.apply(&mut spec, had, has);
        let errors = self.check(&spec, Some(&connection.id), has)?;
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        match &secret {
            SecretChange::Set(value) => self.secrets.set_client_secret(&connection.id, value)?,
            SecretChange::Remove => self.secrets.delete_client_secret(&connection.id)?,
            SecretChange::Keep => {}
        }
        connection.spec = spec;
        connection.has_client_secret = has;
        connection.updated_at = Utc::now();
        self.db().connection_update_spec(&connection)?;
        tracing::info!(connection = %connection.id, "connection updated");
        Ok(connection)
    }

    pub(crate) fn client_secret(&self, connection: &Connection) -> Result<Option<ClientSecret>> {
        if connection.has_client_secret {
            self.secrets.client_secret(&connection.id)
        } else {
            Ok(None)
        }
    }

    /// Runs the connection's flow: the browser sign-in for the code and
    /// implicit flows (`on_started` is told where the browser was sent), a
    /// direct token request for client credentials.
    pub async fn connect(
        &self,
        name_or_id: &str,
        options: ConnectOptions,
        on_started: impl FnOnce(&SignInStarted<'_>),
    ) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        let errors = validate::validate(&connection.spec, connection.has_client_secret);
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        let secret = self.client_secret(&connection)?;
        let spec = &connection.spec;
        let outcome = match spec.flow {
            Flow::ClientCredentials => client_credentials::request(spec, secret.as_ref(), &self.http).await.map(|g| (g, None)),
            Flow::AuthorizationCode | Flow::Implicit => {
                let pending = authorization::begin(spec).await?;
                let browser_error = self.browser.open(pending.authorize_url.as_str()).err();
                on_started(&SignInStarted {
                    authorize_url: pending.authorize_url.as_str(),
                    redirect_uri: &pending.redirect_uri,
                    browser_error,
                    timeout: options.timeout,
                });
                authorization::finish(pending, spec, secret.as_ref(), &self.http, options.timeout)
                    .await
                    .map(|signed_in| (signed_in.grant, signed_in.learned_issuer))
            }
            // Front ends that want the user code shown call `connect_device`;
            // here the verification page (with the code when offered) is the address.
            Flow::DeviceCode => {
                self.device_sign_in(spec, secret.as_ref(), |shown| {
                    on_started(&SignInStarted {
                        authorize_url: shown.verification_uri_complete.unwrap_or(shown.verification_uri),
                        redirect_uri: "",
                        browser_error: shown.browser_error.clone(),
                        timeout: shown.expires_in,
                    })
                })
                .await
            }
        };
        self.complete_sign_in(&connection, outcome).await
    }

    /// Records the issuer confirmed by an `iss` response parameter, so later
    /// responses must carry the same one (RFC 9207).
    pub(crate) fn learn_issuer(&self, id: &ConnectionId, issuer: String) -> Result<()> {
        let mut connection = self.get(id.as_str())?;
        connection.spec.issuer = Some(issuer);
        self.db().connection_update_spec(&connection)
    }

    /// Writes a new token set to the keyring, then the expiry and status to
    /// the database. `previous` is the set being refreshed: a refresh
    /// response without `refresh_token` keeps the old one (RFC 6749 §6).
    pub(crate) fn store_grant(&self, id: &ConnectionId, grant: TokenGrant, previous: Option<&TokenSet>) -> Result<(Connection, TokenSet)> {
        let TokenGrant { tokens, expires_in, refresh_expires_in, scopes } = grant;
        let kept_refresh = tokens.refresh_token.is_none() && previous.is_some_and(|p| p.refresh_token.is_some());
        let tokens = TokenSet {
            refresh_token: tokens.refresh_token.or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            id_token: tokens.id_token.or_else(|| previous.and_then(|p| p.id_token.clone())),
            ..tokens
        };
        // Keyring first: if Latch dies after this line, the next start still
        // holds a usable (new) refresh token.
        self.secrets.set_token_set(id, &tokens)?;

        let mut connection = self.get(id.as_str())?;
        let now = Utc::now();
        let to_time = |d: Duration| chrono::Duration::from_std(d).ok().map(|d| now + d);
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
        Ok((connection, tokens))
    }

    /// Make's `info` step: learns the account's name. A failure here does
    /// not undo the connection; it is shown as a note.
    pub(crate) async fn fetch_account(&self, mut connection: Connection, token: &AccessToken) -> Connection {
        let Some(info_url) = connection.spec.info_url.clone() else { return connection };
        let outcome = async {
            let request = request::build(&connection.spec, &ApiRequest::get(info_url), token)?;
            let response = request::send(&self.http, request).await?;
            if !(200..300).contains(&response.status) {
                return Err(Error::provider(format!("the info URI answered HTTP {}", response.status)));
            }
            Ok(request::account_name(&response.body))
        }
        .await;
        match outcome {
            Ok(account) => connection.account = account,
            Err(err) => {
                connection.last_error =
                    Some(format!("Connected, but the account could not be read: {}", err.message.trim_end_matches('.')))
            }
        }
        if let Err(err) = self.db().connection_update_state(&connection) {
            tracing::warn!(connection = %connection.id, error = %err, "could not save the account");
        }
        connection
    }

    /// Records a failed connect or refresh so every front end can show it.
    pub(crate) fn record_failure(&self, id: &ConnectionId, err: &Error, refreshing: bool) -> Result<()> {
        if err.kind == ErrorKind::Cancelled {
            return Ok(());
        }
        let mut connection = self.get(id.as_str())?;
        let expired = connection.access_expires_at.is_none_or(|at| at <= Utc::now());
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
        connection.updated_at = Utc::now();
        let db = self.db();
        if refreshing && err.kind != ErrorKind::NeedsAuthorization {
            // Try again later, later each time: the refresher never spins
            // on a failing provider.
            let attempts = db.failed_attempts(id)? + 1;
            db.set_failed_attempts(id, attempts)?;
            let retry_after = err.retry_after.and_then(|d| chrono::Duration::from_std(d).ok());
            let wait = refresh_policy::backoff(attempts, retry_after, refresh_policy::random_jitter());
            connection.retry_at = Some(connection.updated_at + wait);
        }
        tracing::info!(connection = %id, kind = err.kind.code(), "operation failed");
        db.connection_update_state(&connection)
    }

    pub(crate) fn stored_tokens(&self, connection: &Connection) -> Result<TokenSet> {
        let not_connected = || {
            Error::needs_authorization(format!(
                "'{}' is not connected yet. Run 'latch connect \"{}\"' first.",
                connection.spec.name, connection.spec.name
            ))
        };
        // Known without asking the keyring, which may be locked.
        if connection.status == Status::New {
            return Err(not_connected());
        }
        if connection.status == Status::NeedsReauth {
            return Err(Error::needs_authorization(format!(
                "'{}' needs you to sign in again. Run 'latch connect \"{}\"'.",
                connection.spec.name, connection.spec.name
            )));
        }
        self.secrets.token_set(&connection.id)?.ok_or_else(not_connected)
    }

    /// A valid access token, refreshed first when it is due (one refresh
    /// for any number of concurrent callers, in any process). If a due
    /// refresh fails for a passing reason while the old token is still
    /// valid, the old token is returned.
    pub async fn access_token(&self, name_or_id: &str) -> Result<(Connection, AccessToken)> {
        let connection = self.get(name_or_id)?;
        let tokens = self.stored_tokens(&connection)?;
        let Some(expires_at) = connection.access_expires_at else {
            return Ok((connection, tokens.access_token));
        };
        if Utc::now() < refresh_policy::due_at(connection.access_issued_at, expires_at) {
            return Ok((connection, tokens.access_token));
        }
        match self.refresh_single_flight(&connection.id, RefreshNeed::IfDue).await {
            Ok((connection, fresh)) => Ok((connection, fresh.access_token)),
            Err(err) if Utc::now() < expires_at && err.kind != ErrorKind::NeedsAuthorization => {
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
        self.stored_tokens(&connection)?;
        let need = RefreshNeed::Since(Utc::now());
        Ok(self.refresh_single_flight(&connection.id, need).await?.0)
    }

    pub(crate) async fn refresh_with(&self, connection: Connection, tokens: &TokenSet) -> Result<(Connection, TokenSet)> {
        let name = &connection.spec.name;
        let secret = self.client_secret(&connection)?;
        let outcome = match (&tokens.refresh_token, connection.spec.flow) {
            (Some(_), _) if connection.refresh_expires_at.is_some_and(|at| at <= Utc::now()) => {
                Err(Error::needs_authorization(format!(
                    "The saved sign-in for '{name}' has expired. Run 'latch connect \"{name}\"' to sign in again."
                )))
            }
            (Some(refresh_token), _) => refresh::request(&connection.spec, secret.as_ref(), refresh_token, &self.http).await,
            // Client credentials need no refresh token: ask again.
            (None, Flow::ClientCredentials) => client_credentials::request(&connection.spec, secret.as_ref(), &self.http).await,
            (None, _) => Err(Error::needs_authorization(format!(
                "The provider gave '{name}' no refresh token, so Latch cannot renew its access without you. \
                 Run 'latch connect \"{name}\"' to sign in again."
            ))),
        };
        match outcome {
            Ok(grant) => {
                let stored = self.store_grant(&connection.id, grant, Some(tokens))?;
                tracing::info!(connection = %connection.id, "refreshed");
                Ok(stored)
            }
            Err(err) => {
                self.record_failure(&connection.id, &err, true)?;
                Err(err)
            }
        }
    }

    /// Refreshes every connection that can be refreshed (the tray's
    /// "Refresh all"), one after another. Returns the failures by name.
    pub async fn refresh_all(&self) -> Result<Vec<(String, Error)>> {
        let mut failures = Vec::new();
        for connection in self.list()? {
            let renewable = connection.has_refresh_token || connection.spec.flow == Flow::ClientCredentials;
            if !renewable || matches!(connection.status, Status::New | Status::NeedsReauth) {
                continue;
            }
            if let Err(err) = self.refresh(connection.id.as_str()).await {
                failures.push((connection.spec.name, err));
            }
        }
        Ok(failures)
    }

    /// Sends an API request with the token placed per the connection's
    /// settings. A 401 refreshes once and retries once.
    pub async fn request(&self, name_or_id: &str, api: ApiRequest) -> Result<ApiResponse> {
        let (connection, token) = self.access_token(name_or_id).await?;
        let response = request::send(&self.http, request::build(&connection.spec, &api, &token)?).await?;
        let can_renew = connection.has_refresh_token || connection.spec.flow == Flow::ClientCredentials;
        if response.status != 401 || !can_renew {
            return Ok(response);
        }
        let need = RefreshNeed::Since(Utc::now());
        let (connection, fresh) = self.refresh_single_flight(&connection.id, need).await?;
        request::send(&self.http, request::build(&connection.spec, &api, &fresh.access_token)?).await
    }

    /// Where the token will go, masked, before anything is sent.
    pub fn request_preview(&self, name_or_id: &str, api: &ApiRequest) -> Result<request::RequestPreview> {
        request::preview(&self.get(name_or_id)?.spec, api)
    }

    /// The request as a curl command; the real token only when asked for.
    pub async fn request_curl(&self, name_or_id: &str, api: &ApiRequest, include_token: bool) -> Result<zeroize::Zeroizing<String>> {
        if include_token {
            let (connection, token) = self.access_token(name_or_id).await?;
            request::curl(&connection.spec, api, Some(&token))
        } else {
            request::curl(&self.get(name_or_id)?.spec, api, None)
        }
    }

    /// A number that changes when another process changed the store: front
    /// ends compare it to notice edits made elsewhere (e.g. by the CLI).
    pub fn store_version(&self) -> Result<i64> {
        self.db().data_version()
    }

    /// Revokes the tokens at the provider when it has a revoke URI (RFC
    /// 7009), then deletes them here. The local deletion always happens.
    pub async fn disconnect(&self, name_or_id: &str) -> Result<Disconnected> {
        let mut connection = self.get(name_or_id)?;
        let tokens = self.secrets.token_set(&connection.id)?;
        let mut outcome = Disconnected { revoked: false, revoke_error: None };
        if let (Some(url), Some(tokens)) = (connection.spec.revoke_url.clone(), tokens.as_ref()) {
            let secret = self.client_secret(&connection)?;
            let mut targets = Vec::new();
            if let Some(refresh_token) = &tokens.refresh_token {
                targets.push((refresh_token.secret(), revoke::TokenHint::RefreshToken));
            }
            targets.push((tokens.access_token.secret(), revoke::TokenHint::AccessToken));
            for (token, hint) in targets {
                if let Err(err) = revoke::revoke(&connection.spec, secret.as_ref(), &url, token, hint, &self.http).await {
                    outcome.revoke_error.get_or_insert(err);
                }
            }
            outcome.revoked = outcome.revoke_error.is_none();
        }
        self.secrets.delete_token_set(&connection.id)?;
        connection.status = Status::New;
        connection.access_expires_at = None;
        connection.refresh_expires_at = None;
        connection.access_issued_at = None;
        connection.granted_scopes = None;
        connection.account = None;
        connection.has_refresh_token = false;
        connection.last_error = None;
        connection.last_error_details = None;
        connection.updated_at = Utc::now();
        self.db().connection_update_state(&connection)?;
        tracing::info!(connection = %connection.id, revoked = outcome.revoked, "disconnected");
        Ok(outcome)
    }

    /// Disconnects, then deletes the connection and its client secret.
    pub async fn remove(&self, name_or_id: &str) -> Result<Disconnected> {
        let outcome = self.disconnect(name_or_id).await?;
        let connection = self.get(name_or_id)?;
        self.secrets.delete_all(&connection.id)?;
        self.db().connection_delete(&connection.id)?;
        tracing::info!(connection = %connection.id, "removed");
        Ok(outcome)
    }
}

/// An engine over a temporary data directory, an in-memory keyring and no
/// browser, for unit tests.
#[cfg(test)]
pub(crate) fn test_engine() -> (tempfile::TempDir, Engine) {
    struct NoBrowser;
    impl Browser for NoBrowser {
        fn open(&self, _url: &str) -> std::result::Result<(), String> {
            Err("no browser in unit tests".into())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Box::new(crate::store::keyring::MemorySecrets::default()), Box::new(NoBrowser))
        .unwrap();
    (dir, engine)
}
