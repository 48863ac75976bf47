//! The engine's verbs: what front ends call. One file per concern —
//! connections (create, edit, remove), sign-in (one session type for every
//! flow), tokens (access, refresh with the single-flight lease, requests,
//! disconnect), transfer (export, import), providers (presets, discovery),
//! settings. Each verb loads what it needs, runs one flow, records the
//! outcome and announces the change, so every front end sees the same state.

mod connections;
mod providers;
mod settings;
mod sign_in;
mod tokens;
mod transfer;

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
pub use sign_in::{SignInControl, SignInHandle, SignInOptions};
pub use tokens::Disconnected;

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

/// How many engine events a slow subscriber may fall behind before it
/// misses some (it then reloads everything; see `EngineEvent`).
const EVENT_BACKLOG: usize = 1024;

pub struct Engine {
    db: Mutex<Db>,
    secrets: Secrets,
    http: ProviderHttp,
    browser: Box<dyn Browser>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<EngineEvent>,
    sessions: sign_in::Sessions,
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
        Ok(Engine {
            db: Mutex::new(db),
            secrets: Secrets::new(secrets),
            http: ProviderHttp::new(),
            browser,
            clock,
            events: broadcast::channel(EVENT_BACKLOG).0,
            sessions: sign_in::Sessions::default(),
            data_dir: data_dir.to_owned(),
        })
    }

    /// Uses `clock` for "now" from here on (tests step a manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Engine {
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
