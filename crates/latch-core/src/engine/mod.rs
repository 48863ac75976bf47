//! The engine's verbs: what front ends call. One file per concern —
//! connections (create, edit, remove), sign-in (one session type for every
//! flow), tokens (access, refresh with the single-flight lease, requests,
//! disconnect), transfer (export, import), providers (presets, discovery),
//! settings. Each verb loads what it needs, runs one flow, records the
//! outcome and announces the change, so every front end sees the same state.

mod connections;
mod dpop;
mod lease;
mod mtls;
mod oauth1;
mod providers;
mod registration;
mod settings;
mod sign_in;
mod spec;
mod team;
mod team_refresh;
mod tokens;
mod transfer;
mod usage;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::events::EngineEvent;
use crate::http::ProviderHttp;
use crate::model::Connection;
use crate::paths;
use crate::store::{Db, KeyringSecrets, SecretStore, Secrets};

pub use connections::{ConnectionTemplate, SecretChange};
pub use registration::FoundApi;
pub use sign_in::{SignInControl, SignInHandle, SignInOptions};
pub use oauth1::OAuth1Token;
pub use usage::Requester;
pub use spec::{SpecConnection, SpecEdit, StepReport};
pub use team::{TeamConnectionReport, TeamHealth, TeamJoin, TeamReport, TeamSync};
pub use tokens::Disconnected;
pub(crate) use tokens::RefreshNeed;

/// Opens URLs in the user's browser.
pub trait Browser: Send + Sync {
    fn open(&self, url: &str) -> std::result::Result<(), String>;
}

/// The system browser, the standard way: the opener crate, which honours
/// `$BROWSER` on Linux (so people without a desktop, and tests, can choose).
/// In the desktop app, whose web process takes settings from environment
/// variables it names in [`WEBVIEW_ENV_MARKER`], the browser is started
/// without them (`$BROWSER`, or `xdg-open`), so it runs as it would anywhere.
pub struct SystemBrowser;

/// Names, comma-separated, of environment variables the desktop app set for
/// its own web view, which the processes Latch starts do not get.
pub const WEBVIEW_ENV_MARKER: &str = "LATCH_WEBVIEW_ENV";

impl Browser for SystemBrowser {
    fn open(&self, url: &str) -> std::result::Result<(), String> {
        let Some(hidden) = std::env::var_os(WEBVIEW_ENV_MARKER) else {
            return opener::open_browser(url).map_err(|err| err.to_string());
        };
        let mut command = browser_command(url, std::env::var_os("BROWSER"), &hidden.to_string_lossy());
        match command.spawn() {
            Ok(mut child) => {
                // Reaped when it exits (xdg-open hands the address over and ends).
                std::thread::spawn(move || child.wait());
                Ok(())
            }
            // No xdg-open: the opener crate's other ways, as outside the app.
            Err(_) => opener::open_browser(url).map_err(|err| err.to_string()),
        }
    }
}

/// How the desktop app starts the browser for `url`: `$BROWSER` when set
/// (as the opener crate runs it), else `xdg-open`; without the variables
/// named in `hidden` and without the marker itself.
fn browser_command(url: &str, browser: Option<std::ffi::OsString>, hidden: &str) -> std::process::Command {
    let program = browser.filter(|b| !b.is_empty()).unwrap_or_else(|| "xdg-open".into());
    let mut command = std::process::Command::new(program);
    command.arg(url).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    for name in hidden.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        command.env_remove(name);
    }
    command.env_remove(WEBVIEW_ENV_MARKER);
    command
}

/// How many engine events a slow subscriber may fall behind before it
/// misses some (it then reloads everything; see `EngineEvent`).
const EVENT_BACKLOG: usize = 1024;

pub struct Engine {
    db: Mutex<Db>,
    secrets: Secrets,
    /// Made on first use: building it loads the system's CA certificates,
    /// which commands that never go online should not pay for.
    http: std::sync::OnceLock<ProviderHttp>,
    browser: Box<dyn Browser>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<EngineEvent>,
    sessions: sign_in::Sessions,
    in_flight: lease::InFlight,
    /// Tokens received that the secret store refused (a locked keyring):
    /// served from here, never the store's older ones, until they are saved.
    unsaved: Mutex<std::collections::HashMap<crate::model::ConnectionId, crate::secret::TokenSet>>,
    /// The latest DPoP nonce each server gave (RFC 9449 §8), by origin.
    dpop_nonces: crate::flows::dpop::DpopNonces,
    /// HTTP clients that present a connection's TLS client certificate (RFC 8705).
    tls_clients: mtls::TlsClients,
    /// Which connections' secrets are kept in a team's OpenBao store.
    teams: Arc<crate::store::team_secrets::TeamRoutes>,
    data_dir: PathBuf,
}

impl Engine {
    /// The engine over the user's data directory and OS keyring.
    pub fn open_default() -> Result<Engine> {
        Engine::open(&paths::data_dir()?, Box::new(KeyringSecrets), Box::new(SystemBrowser))
    }

    pub fn open(data_dir: &Path, secrets: Box<dyn SecretStore>, browser: Box<dyn Browser>) -> Result<Engine> {
        paths::ensure_dir(data_dir)?;
        let db = Db::open(&data_dir.join("latch.db"))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        db.leases_recover(clock.now())?;
        let teams = Arc::new(crate::store::team_secrets::TeamRoutes::new(Arc::from(secrets)));
        let engine = Engine {
            db: Mutex::new(db),
            secrets: Secrets::new(Box::new(crate::store::team_secrets::RoutedSecrets(teams.clone()))),
            http: std::sync::OnceLock::new(),
            browser,
            clock,
            events: broadcast::channel(EVENT_BACKLOG).0,
            sessions: sign_in::Sessions::default(),
            in_flight: lease::InFlight::default(),
            unsaved: Mutex::default(),
            dpop_nonces: Default::default(),
            tls_clients: Default::default(),
            teams,
            data_dir: data_dir.to_owned(),
        };
        engine.teams.attach(Arc::new(crate::store::team_reach::ReachHooks::new(engine.clock.clone(), engine.events.clone())));
        engine.load_team_routes()?;
        Ok(engine)
    }

    /// Uses `clock` for "now" from here on (tests step a manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Engine {
        if let Some(hooks) = self.teams.reach_hooks() {
            hooks.set_clock(clock.clone());
        }
        for team in self.teams.teams() {
            team.token.set_clock(clock.clone());
        }
        self.clock = clock;
        self
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Every event from now on. Subscribe once per front end.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub(crate) fn announce(&self, event: EngineEvent) {
        // No subscriber is fine: the CLI has none.
        let _ = self.events.send(event);
    }

    pub(crate) fn http(&self) -> &ProviderHttp {
        self.http.get_or_init(ProviderHttp::new)
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

    /// A number that changes when another process changed the store: front
    /// ends compare it to notice edits made elsewhere (e.g. by the CLI).
    pub fn store_version(&self) -> Result<i64> {
        self.db().data_version()
    }
}

/// A browser that never opens, for unit tests.
#[cfg(test)]
pub(crate) struct NoBrowser;

#[cfg(test)]
impl Browser for NoBrowser {
    fn open(&self, _url: &str) -> std::result::Result<(), String> {
        Err("no browser in unit tests".into())
    }
}

/// An engine over a temporary data directory, an in-memory secret store, no
/// browser and the wall clock, for unit tests.
#[cfg(test)]
pub(crate) fn test_engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let store = Box::new(crate::store::secrets::MemorySecrets::default());
    let engine = Engine::open(dir.path(), store, Box::new(NoBrowser)).unwrap();
    (dir, engine)
}

/// [`test_engine`] on a manual clock the test steps.
#[cfg(test)]
pub(crate) fn test_engine_with_clock() -> (tempfile::TempDir, Engine, Arc<crate::clock::ManualClock>) {
    let (dir, engine) = test_engine();
    let clock = Arc::new(crate::clock::ManualClock::new(Utc::now()));
    (dir, engine.with_clock(clock.clone()), clock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientAuth, Draft, Flow, KindSettings, OAuth2Settings, SettingsPatch};

    #[test]
    fn the_browser_the_app_starts_does_not_get_the_web_views_settings() {
        let removed = |command: &std::process::Command| -> Vec<String> {
            command.get_envs().filter(|(_, value)| value.is_none()).map(|(name, _)| name.to_string_lossy().into_owned()).collect()
        };
        let command = browser_command("https://op.example/auth", None, "JSC_useJIT");
        assert_eq!(command.get_program(), "xdg-open");
        assert_eq!(command.get_args().collect::<Vec<_>>(), ["https://op.example/auth"]);
        let mut hidden = removed(&command);
        hidden.sort();
        assert_eq!(hidden, ["JSC_useJIT", "LATCH_WEBVIEW_ENV"]);
        // $BROWSER, as the opener crate runs it.
        let command = browser_command("https://op.example/auth", Some("/usr/bin/firefox".into()), " A , B ");
        assert_eq!(command.get_program(), "/usr/bin/firefox");
        assert_eq!(removed(&command).len(), 3);
    }
    use crate::secret::ClientSecret;
    use crate::{SecretChange, SignInOptions};

    /// A token endpoint for unit tests: answers every request with a fresh
    /// one-hour token, and counts them.
    async fn token_endpoint() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buffer = vec![0; 8192];
                let _ = stream.read(&mut buffer).await;
                let body = format!(r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":3600}}"#);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        (url, served)
    }

    fn service(name: &str, token_url: &str) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "client");
        settings.token_url = Some(token_url.into());
        settings.client_auth = ClientAuth::Body;
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    fn drain(rx: &mut broadcast::Receiver<EngineEvent>) -> Vec<EngineEvent> {
        let mut seen = Vec::new();
        while let Ok(event) = rx.try_recv() {
            seen.push(event);
        }
        seen
    }

    fn changes(seen: &[EngineEvent]) -> Vec<EngineEvent> {
        seen.iter().filter(|e| e.changed_connection().is_some()).cloned().collect()
    }

    #[tokio::test]
    async fn every_verb_that_changes_a_connection_announces_it() {
        let (_dir, engine, clock) = test_engine_with_clock();
        let engine = Arc::new(engine);
        let (token_url, _) = token_endpoint().await;
        let mut rx = engine.subscribe();
        let secret = || Some(ClientSecret::new("s3cret".into()));

        let created = engine.create(service("Service", &token_url), secret()).await.unwrap();
        let id = created.id.clone();
        assert_eq!(changes(&drain(&mut rx)), [EngineEvent::Changed { id: id.clone() }], "create");

        engine.update("Service", service("Service", &token_url), SecretChange::Keep).await.unwrap();
        assert_eq!(changes(&drain(&mut rx)), [EngineEvent::Changed { id: id.clone() }], "update");

        let patch = SettingsPatch::new().set("scopes", ["read"]);
        engine.edit("Service", None, patch, SecretChange::Keep).await.unwrap();
        assert_eq!(changes(&drain(&mut rx)), [EngineEvent::Changed { id: id.clone() }], "edit");

        // A sign-in (client credentials: no browser) announces its progress, then the change.
        let handle = engine.sign_in("Service", SignInOptions::default()).unwrap();
        let connected = handle.outcome().await.unwrap();
        assert_eq!(connected.access_issued_at, Some(clock.now()), "times come from the engine's clock");
        let seen = drain(&mut rx);
        assert!(seen.iter().any(|e| matches!(e, EngineEvent::SignIn { event: crate::SignInEvent::Requesting, .. })));
        assert!(seen.iter().any(|e| matches!(e, EngineEvent::SignIn { event: crate::SignInEvent::Finished { .. }, .. })));
        assert!(changes(&seen).contains(&EngineEvent::Changed { id: id.clone() }), "sign-in: {seen:?}");

        clock.advance(chrono::Duration::minutes(1));
        engine.refresh("Service").await.unwrap();
        let seen = changes(&drain(&mut rx));
        assert!(seen.contains(&EngineEvent::Refreshed { id: id.clone() }), "refresh: {seen:?}");

        // A refresh that fails is recorded and announced as needing attention.
        let patch = SettingsPatch::new().set("token_url", "http://127.0.0.1:9/token");
        engine.edit("Service", None, patch, SecretChange::Keep).await.unwrap();
        drain(&mut rx);
        clock.advance(chrono::Duration::minutes(1));
        assert!(engine.refresh("Service").await.is_err());
        assert_eq!(changes(&drain(&mut rx)), [EngineEvent::NeedsAttention { id: id.clone() }], "failed refresh");

        engine.disconnect("Service").await.unwrap();
        assert_eq!(changes(&drain(&mut rx)), [EngineEvent::Changed { id: id.clone() }], "disconnect");

        let file = serde_json::to_vec(&engine.export(&[]).unwrap()).unwrap();
        let choices = [("Service".to_string(), crate::transfer::NameConflict::Replace)];
        let imported = engine.import_resolving(&file, &choices).await.unwrap();
        let new_id = imported.connections[0].id.clone();
        assert_eq!(
            changes(&drain(&mut rx)),
            [EngineEvent::Removed { id: id.clone() }, EngineEvent::Changed { id: new_id.clone() }],
            "import replacing one"
        );

        engine.remove("Service").await.unwrap();
        let seen = changes(&drain(&mut rx));
        assert_eq!(seen.last(), Some(&EngineEvent::Removed { id: new_id }), "remove: {seen:?}");
    }

    #[tokio::test]
    async fn a_verb_that_fails_a_rule_announces_nothing() {
        let (_dir, engine) = test_engine();
        let mut rx = engine.subscribe();
        assert!(engine.create(service("", "https://example.com/t"), None).await.is_err());
        assert!(drain(&mut rx).is_empty());
    }

    /// A store that refuses every write from the `fail_from`-th on (a
    /// keyring that locks in the middle of a refresh).
    #[derive(Clone, Default)]
    struct LockingSecrets {
        inner: Arc<crate::store::secrets::MemorySecrets>,
        writes: Arc<std::sync::atomic::AtomicUsize>,
        fail_from: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl crate::store::SecretStore for LockingSecrets {
        fn get<'a>(
            &'a self,
            id: &'a crate::model::ConnectionId,
            slot: crate::model::SecretSlot,
        ) -> crate::store::SecretFuture<'a, Option<zeroize::Zeroizing<String>>> {
            self.inner.get(id, slot)
        }
        fn set<'a>(
            &'a self,
            id: &'a crate::model::ConnectionId,
            slot: crate::model::SecretSlot,
            value: &'a str,
        ) -> crate::store::SecretFuture<'a, ()> {
            use std::sync::atomic::Ordering::SeqCst;
            let n = self.writes.fetch_add(1, SeqCst) + 1;
            if n >= self.fail_from.load(SeqCst) {
                return Box::pin(async { Err(crate::store::secrets::unavailable("the keyring is locked")) });
            }
            self.inner.set(id, slot, value)
        }
        fn delete<'a>(
            &'a self,
            id: &'a crate::model::ConnectionId,
            slot: crate::model::SecretSlot,
        ) -> crate::store::SecretFuture<'a, ()> {
            self.inner.delete(id, slot)
        }
    }

    #[tokio::test]
    async fn a_locked_keyring_before_a_refresh_stops_it_before_the_refresh_token_is_spent() {
        let dir = tempfile::tempdir().unwrap();
        let store = LockingSecrets::default();
        store.fail_from.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
        let clock = Arc::new(crate::clock::ManualClock::new(Utc::now()));
        let engine = Arc::new(Engine::open(dir.path(), Box::new(store.clone()), Box::new(NoBrowser)).unwrap().with_clock(clock.clone()));
        let (token_url, served) = token_endpoint().await;
        engine.create(service("Service", &token_url), Some(ClientSecret::new("s3cret".into()))).await.unwrap();
        engine.access_token("Service").await.unwrap();
        let requests = served.load(std::sync::atomic::Ordering::SeqCst);

        store.fail_from.store(0, std::sync::atomic::Ordering::SeqCst);
        clock.advance(chrono::Duration::minutes(1));
        let err = engine.refresh("Service").await.unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::KeyringUnavailable);
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), requests, "nothing was sent");
        assert_eq!(engine.get("Service").unwrap().status, crate::model::Status::Connected);
    }

    #[tokio::test]
    async fn tokens_the_keyring_refuses_after_a_refresh_are_kept_served_and_saved_when_it_takes_them() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let store = LockingSecrets::default();
        store.fail_from.store(usize::MAX, SeqCst);
        let clock = Arc::new(crate::clock::ManualClock::new(Utc::now()));
        let engine = Arc::new(Engine::open(dir.path(), Box::new(store.clone()), Box::new(NoBrowser)).unwrap().with_clock(clock.clone()));
        let (token_url, served) = token_endpoint().await;
        let created = engine.create(service("Service", &token_url), Some(ClientSecret::new("s3cret".into()))).await.unwrap();
        let (_, first) = engine.access_token("Service").await.unwrap();

        // The pre-flight write passes; the keyring locks before the new set is written.
        store.fail_from.store(store.writes.load(SeqCst) + 2, SeqCst);
        clock.advance(chrono::Duration::minutes(1));
        let refreshed = engine.refresh("Service").await.unwrap();
        assert_eq!(refreshed.status, crate::model::Status::Connected);
        assert_eq!(refreshed.last_error_action, Some(crate::Action::UnlockKeyring), "{:?}", refreshed.last_error);
        assert_eq!(engine.db().tokens_unsaved_by(&created.id).unwrap().as_deref(), Some(crate::store::leases::process_tag()));
        let requests = served.load(SeqCst);
        let (_, served_token) = engine.access_token("Service").await.unwrap();
        assert_ne!(served_token.secret(), first.secret(), "the new token, from memory");
        assert_eq!(served.load(SeqCst), requests, "and no new request for it");
        let stored = engine.secrets.token_set(&created.id).await.unwrap().unwrap();
        assert_eq!(stored.access_token.secret(), first.secret(), "the keyring still has the old set");

        // Unlocked: the next use saves the kept set and clears the note.
        store.fail_from.store(usize::MAX, SeqCst);
        let (connection, again) = engine.access_token("Service").await.unwrap();
        assert_eq!(again.secret(), served_token.secret());
        let stored = engine.secrets.token_set(&created.id).await.unwrap().unwrap();
        assert_eq!(stored.access_token.secret(), served_token.secret(), "saved");
        assert_eq!(engine.db().tokens_unsaved_by(&created.id).unwrap(), None);
        assert_eq!(engine.get("Service").unwrap().last_error, None, "{:?}", connection.last_error);
    }

    #[tokio::test]
    async fn a_refresh_that_finishes_after_a_disconnect_stores_nothing() {
        let (_dir, engine, clock) = test_engine_with_clock();
        let engine = Arc::new(engine);
        let (token_url, _) = token_endpoint().await;
        let created = engine.create(service("Service", &token_url), Some(ClientSecret::new("s3cret".into()))).await.unwrap();
        engine.access_token("Service").await.unwrap();
        let generation = engine.db().token_generation(&created.id).unwrap();
        engine.disconnect("Service").await.unwrap();
        clock.advance(chrono::Duration::minutes(1));
        // A refresh that read the tokens before the disconnect, storing after it.
        let grant = crate::flows::token_response::TokenGrant::bearer("late", std::time::Duration::from_secs(3600));
        assert!(engine.store_grant(&created.id, grant, None, generation).await.is_err());
        assert_eq!(engine.get("Service").unwrap().status, crate::model::Status::New);
        assert!(engine.secrets.token_set(&created.id).await.unwrap().is_none(), "no live tokens for a disconnected connection");
    }

    #[tokio::test]
    async fn a_client_credentials_connection_gets_its_first_token_when_asked_for_one() {
        let (_dir, engine) = test_engine();
        let (token_url, served) = token_endpoint().await;
        engine.create(service("Service", &token_url), Some(ClientSecret::new("s3cret".into()))).await.unwrap();
        let (connection, token) = engine.access_token("Service").await.unwrap();
        assert_eq!(connection.status, crate::model::Status::Connected);
        assert!(token.secret().starts_with("at-"));
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// An API that answers every request with 401, on `host`.
    async fn unauthorized_api(host: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{host}:{}/data", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = vec![0; 8192];
                let _ = stream.read(&mut buffer).await;
                let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            }
        });
        url
    }

    #[tokio::test]
    async fn a_request_to_another_host_is_refused_unsent_and_a_401_from_the_providers_own_refreshes_once() {
        use std::sync::atomic::Ordering::SeqCst;
        let (_dir, engine) = test_engine();
        let (token_url, served) = token_endpoint().await;
        engine.create(service("Service", &token_url), Some(ClientSecret::new("s3cret".into()))).await.unwrap();
        engine.access_token("Service").await.unwrap();
        let before = served.load(SeqCst);

        // Another site never sees the token: refused before anything is sent.
        let elsewhere = unauthorized_api("localhost").await;
        let err = engine.request("Service", crate::request::ApiRequest::get(elsewhere)).await.unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Validation);
        assert!(err.message.contains("localhost") && err.message.contains("allowed hosts"), "{}", err.message);
        assert_eq!(err.action, Some(crate::Action::edit("Service", &["allowed_hosts"])));
        assert_eq!(served.load(SeqCst), before, "no refresh for a host that is not the provider's");

        // The provider's own host: one refresh, one retry.
        let own = unauthorized_api("127.0.0.1").await;
        let response = engine.request("Service", crate::request::ApiRequest::get(own)).await.unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(served.load(SeqCst), before + 1);
    }

    /// The desktop shell runs verbs on a multi-threaded runtime: their
    /// futures must be `Send` (no lock held across an await).
    #[allow(dead_code, unused_must_use)]
    fn every_verb_future_is_send(engine: Arc<Engine>, draft: Draft) {
        fn send<T: Send>(_: T) {}
        send(engine.create(draft.clone(), None));
        send(engine.update("x", draft.clone(), SecretChange::Keep));
        send(engine.edit("x", None, SettingsPatch::new(), SecretChange::Keep));
        send(engine.create_from_patch("x".into(), "oauth2", SettingsPatch::new(), None));
        send(engine.create_from_preset("github", "x".into(), SettingsPatch::new(), None));
        send(engine.create_discovered("https://a.example", "x".into(), SettingsPatch::new(), None));
        send(engine.discover_into("https://a.example", draft));
        send(engine.remove("x"));
        send(engine.disconnect("x"));
        send(engine.refresh("x"));
        send(engine.refresh_all());
        send(engine.access_token("x"));
        send(engine.request("x", crate::request::ApiRequest::get("https://a.example")));
        send(engine.request_curl("x", &crate::request::ApiRequest::get("https://a.example"), true));
        send(engine.import_resolving(b"", &[]));
    }
}
