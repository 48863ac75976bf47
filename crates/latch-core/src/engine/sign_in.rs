//! One sign-in session type for every flow. [`Engine::sign_in`] picks the
//! flow from the connection (browser + loopback listener, device code,
//! paste-the-redirect, or a direct token request for client credentials),
//! runs it as a task and returns a [`SignInHandle`]: a stream of
//! [`SignInEvent`]s, the outcome, and a [`SignInControl`] to cancel it or
//! hand it the pasted address. The same events go to every subscriber of
//! the engine, keyed by session id, so a window follows a session it did
//! not start (one started from a notification) without guessing.
//!
//! A second sign-in of the same connection cancels the first. Cancelling
//! drops the flow — its loopback listener closes with it — and records
//! nothing: the connection stays as it was.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use zeroize::Zeroizing;

use super::tokens::oauth2;
use super::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EngineEvent, SessionId, SignInEvent, SignInOutcome};
use crate::flows::token_response::TokenGrant;
use crate::flows::{authorization, client_credentials, device, loopback, Target};
use crate::model::{Connection, ConnectionId, Flow};
use crate::request::{self, ApiRequest};
use crate::secret::ClientSecret;

#[derive(Debug, Clone)]
pub struct SignInOptions {
    /// How long to wait for the browser's redirect to the loopback listener.
    pub timeout: Duration,
    /// Sign in by pasting the address the browser ends on, even when the
    /// connection could use the loopback listener.
    pub paste: bool,
}

impl Default for SignInOptions {
    fn default() -> Self {
        SignInOptions { timeout: loopback::DEFAULT_TIMEOUT, paste: false }
    }
}

/// Cancels a session or hands it the pasted address. Cheap to clone.
#[derive(Clone)]
pub struct SignInControl {
    cancel: Arc<watch::Sender<bool>>,
    paste: Arc<Mutex<Option<oneshot::Sender<Zeroizing<String>>>>>,
}

impl SignInControl {
    /// Stops the session: the browser's answer, if it still comes, finds no
    /// listener, and the connection is left as it was.
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// The address the browser ended on, for a session waiting for one. It
    /// holds the sign-in code: it is kept in zeroized memory.
    pub fn submit_address(&self, address: &str) -> Result<()> {
        let waiting = self.paste.lock().unwrap_or_else(|p| p.into_inner()).take();
        match waiting.map(|tx| tx.send(Zeroizing::new(address.trim().to_owned()))) {
            Some(Ok(())) => Ok(()),
            _ => Err(Error::validation("paste", "No sign-in is waiting for an address any more. Sign in again to start over.")),
        }
    }
}

/// A running sign-in.
pub struct SignInHandle {
    pub session: SessionId,
    pub connection: ConnectionId,
    events: mpsc::UnboundedReceiver<SignInEvent>,
    outcome: oneshot::Receiver<Result<Connection>>,
    control: SignInControl,
}

impl SignInHandle {
    /// The next event; `None` after `Finished`.
    pub async fn next(&mut self) -> Option<SignInEvent> {
        self.events.recv().await
    }

    pub fn control(&self) -> SignInControl {
        self.control.clone()
    }

    /// Waits for the end: the connected connection, or why not.
    pub async fn outcome(self) -> Result<Connection> {
        self.outcome.await.unwrap_or_else(|_| Err(Error::cancelled("The sign-in stopped.")))
    }
}

/// Sessions under way, by id, for cancel and paste by session id.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<SessionId, (ConnectionId, SignInControl)>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, (ConnectionId, SignInControl)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where a session's events go: the handle's stream and every subscriber.
pub(super) struct Announcer {
    session: SessionId,
    connection: ConnectionId,
    events: mpsc::UnboundedSender<SignInEvent>,
}

impl Announcer {
    pub(super) fn emit(&self, engine: &Engine, event: SignInEvent) {
        let _ = self.events.send(event.clone());
        engine.announce(EngineEvent::SignIn { session: self.session.clone(), connection: self.connection.clone(), event });
    }
}

impl Engine {
    /// Starts signing in `name_or_id`. Fails at once if the connection does
    /// not exist or its settings break a rule; everything after that
    /// arrives as events and the outcome.
    pub fn sign_in(self: &Arc<Self>, name_or_id: &str, options: SignInOptions) -> Result<SignInHandle> {
        let connection = self.get(name_or_id)?;
        let errors = crate::validate::settings(&connection.settings, connection.has_client_secret);
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        let session = SessionId::generate();
        let (cancel, cancelled) = watch::channel(false);
        let (paste_tx, paste_rx) = oneshot::channel();
        let control = SignInControl { cancel: Arc::new(cancel), paste: Arc::new(Mutex::new(Some(paste_tx))) };
        {
            let mut sessions = self.sessions.lock();
            // A second Connect replaces the first sign-in.
            for (of, earlier) in sessions.values() {
                if *of == connection.id {
                    earlier.cancel();
                }
            }
            sessions.insert(session.clone(), (connection.id.clone(), control.clone()));
        }
        let connection_id = connection.id.clone();

        let (events_tx, events) = mpsc::unbounded_channel();
        let (outcome_tx, outcome) = oneshot::channel();
        let announcer = Announcer { session: session.clone(), connection: connection.id.clone(), events: events_tx };
        let engine = self.clone();
        tokio::spawn(async move {
            let result = engine.run_session(connection, options, &announcer, cancelled, paste_rx).await;
            engine.sessions.lock().remove(&announcer.session);
            let outcome = match &result {
                Ok(connected) => SignInOutcome::Connected { account: connected.account.clone() },
                Err(err) if err.kind == ErrorKind::Cancelled => SignInOutcome::Cancelled,
                Err(err) => SignInOutcome::Failed {
                    code: err.kind,
                    message: err.message.clone(),
                    action: err.action.clone(),
                    provider: err.provider.clone(),
                    details: err.details.clone(),
                },
            };
            announcer.emit(&engine, SignInEvent::Finished { outcome });
            let _ = outcome_tx.send(result);
        });
        Ok(SignInHandle { session, connection: connection_id, events, outcome, control })
    }

    /// Cancels the session `session`; false when it had already ended.
    pub fn sign_in_cancel(&self, session: &SessionId) -> bool {
        match self.sessions.lock().get(session) {
            Some((_, control)) => {
                control.cancel();
                true
            }
            None => false,
        }
    }

    /// Hands the pasted address to the session `session`.
    pub fn sign_in_submit_address(&self, session: &SessionId, address: &str) -> Result<()> {
        let control = self.sessions.lock().get(session).map(|(_, control)| control.clone());
        match control {
            Some(control) => control.submit_address(address),
            None => Err(Error::validation("paste", "No sign-in is waiting for an address any more. Sign in again to start over.")),
        }
    }

    /// Runs the flow until it ends or is cancelled, then records how it ended.
    async fn run_session(
        &self,
        connection: Connection,
        options: SignInOptions,
        announcer: &Announcer,
        mut cancelled: watch::Receiver<bool>,
        pasted: oneshot::Receiver<Zeroizing<String>>,
    ) -> Result<Connection> {
        let cancel = async move {
            let _ = cancelled.wait_for(|cancelled| *cancelled).await;
        };
        let connection = match self.registered_for_sign_in(connection.clone()).await {
            Ok(connection) => connection,
            Err(err) => return self.complete_sign_in(&connection, Err(err)).await,
        };
        let flow = self.sign_in_flow(&connection, &options, announcer, pasted);
        // Dropping the flow on cancel closes its loopback listener.
        let outcome = tokio::select! {
            outcome = flow => outcome,
            () = cancel => Err(Error::cancelled("Sign-in cancelled.")),
        };
        self.complete_sign_in(&connection, outcome).await
    }

    /// Picks and runs the flow: the one place that knows which kind and
    /// flow signs in how.
    async fn sign_in_flow(
        &self,
        connection: &Connection,
        options: &SignInOptions,
        announcer: &Announcer,
        pasted: oneshot::Receiver<Zeroizing<String>>,
    ) -> Result<(TokenGrant, Option<String>)> {
        match &connection.settings {
            crate::model::KindSettings::Spec(settings) => {
                return self.spec_sign_in(connection, settings, options, announcer, pasted).await;
            }
            crate::model::KindSettings::OAuth1(settings) => {
                return self.oauth1_sign_in(connection, settings, options, announcer, pasted).await;
            }
            crate::model::KindSettings::OAuth2(_) => {}
        }
        let secret = self.client_secret(connection).await?;
        // With a client certificate (RFC 8705), every request of the sign-in presents it.
        let http = self.http_for(connection).await?;
        let dpop_key = self.dpop_key_for_token_requests(connection).await?;
        let mut target = oauth2(connection)?;
        if let Some(key) = &dpop_key {
            target = target.with_dpop(crate::flows::dpop::Dpop::new(key, self.dpop_nonces()));
        }
        match target.flow {
            Flow::ClientCredentials => {
                announcer.emit(self, SignInEvent::Requesting);
                client_credentials::request(&target, secret.as_ref(), &http).await.map(|grant| (grant, None))
            }
            Flow::DeviceCode => self.device_sign_in(&target, secret.as_ref(), &http, announcer).await,
            Flow::AuthorizationCode | Flow::Implicit if options.paste || target.signs_in_by_paste() => {
                self.paste_sign_in(&target, secret.as_ref(), &http, announcer, pasted).await
            }
            Flow::AuthorizationCode | Flow::Implicit => {
                let pending = authorization::begin(&target, secret.as_ref(), &http).await?;
                let browser_error = self.open_in_browser(pending.authorize_url.as_str());
                let deadline = self.now() + chrono::Duration::from_std(options.timeout).unwrap_or_default();
                announcer.emit(
                    self,
                    SignInEvent::Started {
                        authorize_url: pending.authorize_url.to_string(),
                        redirect_uri: pending.redirect_uri.clone(),
                        deadline: Some(deadline),
                        browser_error,
                        paste: false,
                    },
                );
                let signed_in = authorization::finish(pending, &target, secret.as_ref(), &http, options.timeout).await?;
                Ok((signed_in.grant, signed_in.learned_issuer))
            }
        }
    }

    /// Without a loopback listener: the browser goes to the provider, which
    /// redirects to the connection's fixed redirect URI; the user pastes the
    /// address the browser ends on. The same checks as for a loopback
    /// response apply (redirect URI, `state`, `iss`).
    async fn paste_sign_in(
        &self,
        target: &Target<'_>,
        secret: Option<&ClientSecret>,
        http: &crate::http::ProviderHttp,
        announcer: &Announcer,
        pasted: oneshot::Receiver<Zeroizing<String>>,
    ) -> Result<(TokenGrant, Option<String>)> {
        let pending = authorization::begin_paste(target, secret, http).await?;
        let browser_error = self.open_in_browser(pending.authorize_url.as_str());
        announcer.emit(
            self,
            SignInEvent::Started {
                authorize_url: pending.authorize_url.to_string(),
                redirect_uri: pending.redirect_uri.clone(),
                deadline: None,
                browser_error,
                paste: true,
            },
        );
        let address = pasted.await.map_err(|_| Error::cancelled("Sign-in cancelled."))?;
        announcer.emit(self, SignInEvent::AddressReceived);
        let signed_in = authorization::finish_pasted(pending, &address, target, secret, http).await?;
        Ok((signed_in.grant, signed_in.learned_issuer))
    }

    /// The device authorization grant (RFC 8628): shows the user code, opens
    /// the verification page and polls until the user has entered the code.
    async fn device_sign_in(
        &self,
        target: &Target<'_>,
        secret: Option<&ClientSecret>,
        http: &crate::http::ProviderHttp,
        announcer: &Announcer,
    ) -> Result<(TokenGrant, Option<String>)> {
        let authorization = device::start(target, secret, http).await?;
        let complete = authorization.verification_uri_complete().map(|u| u.secret().to_owned());
        let plain = authorization.verification_uri().to_string();
        // The provider's addresses go to the OS opener only when they pass the
        // endpoint rules: a `file:`, `smb:` or custom scheme would open with no
        // click. Otherwise they are only shown.
        let page = complete.iter().chain([&plain]).find(|page| crate::validate::check_endpoint_url("Verification URI", page).is_ok());
        let browser_error = match page {
            Some(page) => self.open_in_browser(page),
            None => Some(
                "Latch did not open the provider's address, because it is not an https web address: check it before \
                 you open it."
                    .to_owned(),
            ),
        };
        let deadline = self.now() + chrono::Duration::from_std(authorization.expires_in()).unwrap_or_default();
        announcer.emit(
            self,
            SignInEvent::DeviceCode {
                user_code: authorization.user_code().secret().to_owned(),
                verification_uri: authorization.verification_uri().to_string(),
                verification_uri_complete: complete,
                deadline,
                browser_error,
            },
        );
        device::poll(target, secret, http, &authorization).await.map(|grant| (grant, None))
    }

    /// Opens `url` in the browser; when that fails, a sentence saying so
    /// (front ends show it as it is, then how to go on by hand).
    pub(super) fn open_in_browser(&self, url: &str) -> Option<String> {
        self.browser.open(url).err().map(|err| format!("Latch could not open your browser ({}).", err.trim_end_matches('.')))
    }

    /// Records how a sign-in ended: the confirmed issuer, the tokens and the
    /// account on success; the failure (with its next step) otherwise.
    async fn complete_sign_in(&self, connection: &Connection, outcome: Result<(TokenGrant, Option<String>)>) -> Result<Connection> {
        let outcome = match outcome {
            Ok((grant, learned_issuer)) => {
                let stored = async {
                    // One writer of the tokens at a time: a refresh under way
                    // finishes first, and its older result then yields to these.
                    let _lease = self.take_lease(&connection.id).await?;
                    if let Some(issuer) = learned_issuer {
                        self.learn_issuer(&connection.id, issuer)?;
                    }
                    let generation = self.db().token_generation(&connection.id)?;
                    self.store_grant(&connection.id, grant, None, generation).await
                }
                .await;
                match stored {
                    Ok((connected, tokens)) => {
                        tracing::info!(connection = %connected.id, "connected");
                        return Ok(self.fetch_account(connected, &tokens).await);
                    }
                    Err(err) => err,
                }
            }
            Err(err) => self.after_token_error(connection, err).await,
        };
        let err = match outcome.action {
            None if outcome.kind == ErrorKind::NeedsAuthorization => outcome.with_action(connection.sign_in_again()),
            _ => outcome,
        };
        self.record_failure(&connection.id, &err, false)?;
        Err(err)
    }

    /// Records the issuer confirmed by an `iss` response parameter, so later
    /// responses must carry the same one (RFC 9207).
    fn learn_issuer(&self, id: &ConnectionId, issuer: String) -> Result<()> {
        let mut connection = self.get(id.as_str())?;
        if let crate::model::KindSettings::OAuth2(settings) = &mut connection.settings {
            settings.issuer = Some(issuer);
        }
        self.db().connection_update_settings(&connection)
    }

    /// Make's `info` step: learns the account's name. A failure here does
    /// not undo the connection; it is shown as a note.
    async fn fetch_account(&self, mut connection: Connection, tokens: &crate::secret::TokenSet) -> Connection {
        let outcome = match &connection.settings {
            // Its `info` step ran before the tokens were stored.
            crate::model::KindSettings::Spec(_) => {
                self.announce(EngineEvent::Changed { id: connection.id.clone() });
                return connection;
            }
            crate::model::KindSettings::OAuth1(settings) => {
                if settings.info_url.is_none() {
                    self.announce(EngineEvent::Changed { id: connection.id.clone() });
                    return connection;
                }
                self.oauth1_account(&connection, settings, tokens).await.map(|found| found.or(connection.account.clone()))
            }
            crate::model::KindSettings::OAuth2(settings) => {
                let Some(info_url) = settings.info_url.clone() else { return connection };
                self.oauth2_account(&connection, info_url, tokens).await
            }
        };
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
        self.announce(EngineEvent::Changed { id: connection.id.clone() });
        connection
    }

    /// The account's name from an OAuth 2.0 connection's info URL.
    async fn oauth2_account(&self, connection: &Connection, info_url: String, tokens: &crate::secret::TokenSet) -> Result<Option<String>> {
        async {
            let response = self.send_with_tokens(connection, tokens, &ApiRequest::get(info_url)).await?;
            if !(200..300).contains(&response.status) {
                return Err(Error::provider(format!("the info URI answered HTTP {}", response.status)));
            }
            Ok(request::account_name(&response.body))
        }
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine;
    use crate::model::{Draft, KindSettings, OAuth2Settings};

    async fn code_flow_connection(engine: &Engine, name: &str) -> Connection {
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "client");
        settings.authorize_url = Some("https://id.example.com/auth".into());
        settings.token_url = Some("https://id.example.com/token".into());
        engine.create(Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }, None).await.unwrap()
    }

    async fn started(handle: &mut SignInHandle) -> String {
        match handle.next().await {
            Some(SignInEvent::Started { redirect_uri, deadline, paste: false, .. }) => {
                assert!(deadline.is_some());
                redirect_uri
            }
            other => panic!("expected Started, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_cancelled_sign_in_closes_its_listener_and_leaves_the_connection_as_it_was() {
        let (_dir, engine) = test_engine();
        let engine = Arc::new(engine);
        let before = code_flow_connection(&engine, "Lab").await;
        let mut bus = engine.subscribe();
        let mut handle = engine.sign_in("Lab", SignInOptions::default()).unwrap();
        let redirect = started(&mut handle).await;
        let port: u16 = redirect.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap().parse().unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "listening while it waits");

        assert!(engine.sign_in_cancel(&handle.session));
        assert!(matches!(
            handle.next().await,
            Some(SignInEvent::Finished { outcome: SignInOutcome::Cancelled })
        ));
        let err = handle.outcome().await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Cancelled);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "no listener left behind");
        let after = engine.get("Lab").unwrap();
        assert_eq!(after.status, before.status);
        assert_eq!(after.last_error, None, "a cancel is no failure");
        // Subscribers saw the same session start and end, and no change.
        let mut seen = Vec::new();
        while let Ok(event) = bus.try_recv() {
            seen.push(event);
        }
        assert!(seen.iter().all(|e| matches!(e, EngineEvent::SignIn { .. })), "{seen:?}");
        assert_eq!(seen.len(), 2, "{seen:?}");
    }

    #[tokio::test]
    async fn a_second_sign_in_of_the_same_connection_cancels_the_first() {
        let (_dir, engine) = test_engine();
        let engine = Arc::new(engine);
        code_flow_connection(&engine, "Lab").await;
        let mut first = engine.sign_in("Lab", SignInOptions::default()).unwrap();
        started(&mut first).await;
        let mut second = engine.sign_in("Lab", SignInOptions::default()).unwrap();
        started(&mut second).await;
        assert_eq!(first.outcome().await.unwrap_err().kind, ErrorKind::Cancelled);
        assert!(engine.sign_in_cancel(&second.session), "the second one still runs");
        assert_eq!(second.outcome().await.unwrap_err().kind, ErrorKind::Cancelled);
    }

    #[tokio::test]
    async fn a_paste_sign_in_waits_for_the_address_and_checks_it() {
        let (_dir, engine) = test_engine();
        let engine = Arc::new(engine);
        code_flow_connection(&engine, "Lab").await;
        let patch = crate::model::SettingsPatch::new().set("redirect_uri_override", "https://hosted.example/cb");
        engine.edit("Lab", None, patch, super::super::SecretChange::Keep).await.unwrap();
        let mut handle = engine.sign_in("Lab", SignInOptions::default()).unwrap();
        assert!(matches!(handle.next().await, Some(SignInEvent::Started { paste: true, deadline: None, .. })));
        engine.sign_in_submit_address(&handle.session, "https://elsewhere.example/cb?code=x&state=y").unwrap();
        assert_eq!(handle.next().await, Some(SignInEvent::AddressReceived));
        assert!(matches!(handle.next().await, Some(SignInEvent::Finished { outcome: SignInOutcome::Failed { .. } })));
        let err = handle.outcome().await.unwrap_err();
        assert!(err.message.contains("not the redirect URI"), "{}", err.message);
        assert!(engine.sign_in_submit_address(&SessionId::generate(), "x").is_err());
    }

    #[tokio::test]
    async fn settings_that_break_a_rule_stop_the_sign_in_before_it_starts() {
        let (_dir, engine) = test_engine();
        let engine = Arc::new(engine);
        let created = code_flow_connection(&engine, "Lab").await;
        // Broken behind the engine's back (a hand-edited database).
        let mut broken = created.clone();
        if let KindSettings::OAuth2(settings) = &mut broken.settings {
            settings.token_url = None;
        }
        engine.db().connection_update_settings(&broken).unwrap();
        let err = engine.sign_in("Lab", SignInOptions::default()).err().unwrap();
        assert_eq!(err.fields[0].field, "token_url");
    }

    /// A browser that records what it was asked to open.
    struct RecordingBrowser(Arc<Mutex<Vec<String>>>);

    impl crate::Browser for RecordingBrowser {
        fn open(&self, url: &str) -> std::result::Result<(), String> {
            self.0.lock().unwrap().push(url.to_owned());
            Ok(())
        }
    }

    /// A device authorization endpoint (`/device`) that hands out a code with
    /// the given verification addresses, and a token endpoint (`/token`)
    /// that keeps answering `authorization_pending`. Returns the base URL.
    async fn device_endpoint(verification_uri: &str, complete: Option<&str>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut device = serde_json::json!({
            "device_code": "device-code-secret",
            "user_code": "WDJB-MJHT",
            "verification_uri": verification_uri,
            "expires_in": 600,
            "interval": 5,
        });
        if let Some(complete) = complete {
            device["verification_uri_complete"] = complete.into();
        }
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = vec![0; 8192];
                let n = stream.read(&mut buffer).await.unwrap_or(0);
                let (status, body) = if String::from_utf8_lossy(&buffer[..n]).starts_with("POST /device ") {
                    ("200 OK", device.to_string())
                } else {
                    ("400 Bad Request", r#"{"error":"authorization_pending"}"#.to_owned())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        base
    }

    /// Starts a device sign-in against `base`; returns the DeviceCode event
    /// and what the browser was asked to open by then.
    async fn device_code_event(base: &str) -> (SignInEvent, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let opened = Arc::new(Mutex::new(Vec::new()));
        let store = Box::new(crate::store::secrets::MemorySecrets::default());
        let engine = Arc::new(Engine::open(dir.path(), store, Box::new(RecordingBrowser(opened.clone()))).unwrap());
        let mut settings = OAuth2Settings::new(Flow::DeviceCode, "tv");
        settings.device_url = Some(format!("{base}/device"));
        settings.token_url = Some(format!("{base}/token"));
        engine.create(Draft { name: "TV".into(), settings: KindSettings::OAuth2(settings) }, None).await.unwrap();
        let mut handle = engine.sign_in("TV", SignInOptions::default()).unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), handle.next()).await.unwrap().unwrap();
        handle.control().cancel();
        assert_eq!(handle.outcome().await.unwrap_err().kind, ErrorKind::Cancelled);
        let opened = opened.lock().unwrap().clone();
        (event, opened)
    }

    #[tokio::test]
    async fn a_device_verification_address_that_is_not_https_is_shown_but_never_opened() {
        for (uri, complete) in [
            ("file:///etc/passwd", None),
            ("smb://fileserver/share", Some("ms-settings:privacy?user_code=WDJB-MJHT")),
            ("http://attacker.example/device", Some("http://attacker.example/device?user_code=WDJB-MJHT")),
        ] {
            let base = device_endpoint(uri, complete).await;
            let (event, opened) = device_code_event(&base).await;
            assert!(opened.is_empty(), "{uri}: the browser was asked to open {opened:?}");
            match event {
                SignInEvent::DeviceCode { user_code, verification_uri, browser_error, .. } => {
                    assert_eq!(user_code, "WDJB-MJHT", "the code is still shown");
                    assert_eq!(verification_uri, uri, "the address is still shown");
                    let said = browser_error.expect("says why nothing opened");
                    assert!(said.starts_with("Latch did not open the provider's address, because it is not an https web address"), "{said}");
                    assert!(!said.contains("device-code-secret"));
                }
                other => panic!("{uri}: expected DeviceCode, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_device_verification_address_that_passes_the_endpoint_rules_is_opened() {
        // A safe complete address is opened.
        let base = device_endpoint("http://127.0.0.1:9/device", Some("https://id.example.com/device?user_code=WDJB-MJHT")).await;
        let (event, opened) = device_code_event(&base).await;
        assert_eq!(opened, ["https://id.example.com/device?user_code=WDJB-MJHT"]);
        assert!(matches!(event, SignInEvent::DeviceCode { browser_error: None, .. }), "{event:?}");
        // An unsafe complete address is passed over for a safe plain one.
        let base = device_endpoint("https://id.example.com/device", Some("file:///etc/passwd")).await;
        let (_, opened) = device_code_event(&base).await;
        assert_eq!(opened, ["https://id.example.com/device"]);
    }
}
