//! The agent: while the app (or `latch agent`) runs, it answers on a Unix
//! socket, `$XDG_RUNTIME_DIR/latch/agent.sock` (the directory 0700, the
//! socket 0600), so `latch token` costs a socket round trip instead of a
//! keyring look-up. It holds the tokens it handed out in memory until they
//! are due, another verb changes the connection, or another process writes
//! the store. Only processes of the same user may ask (`SO_PEERCRED`).
//!
//! The protocol: one JSON request line, one JSON answer line.
//! `{"op":"token","name":"GitHub"}` → `{"ok":true,"token":"…","token_type":
//! "Bearer","expires_at":"…","connection_id":"cn_…"}` or `{"ok":false,
//! "error":{"kind":"needs_authorization","message":"…","action":{…}}}`.
//! `{"op":"proxy"}` → `{"ok":true,"url":"http://127.0.0.1:PORT","key":"…"}`
//! when this process runs the proxy too (`latch exec` and `latch proxy
//! --print-env` learn the key so).
//! `{"op":"ping"}` → `{"ok":true}`. Anything else gets an error answer; a
//! client that says nothing within [`READ_TIMEOUT`] is dropped.
//! (macOS and Windows would use their own local sockets; not yet.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use zeroize::Zeroizing;

use crate::engine::{Engine, Requester};
use crate::error::{Action, Error, ErrorKind, Result};
use crate::model::ConnectionId;
use crate::proxy::ProxyInfo;
use crate::secret::AccessToken;

/// A client gets this long to send its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest request line.
const MAX_REQUEST: usize = 4096;
/// At most this many clients at once; more wait for a turn.
const MAX_CLIENTS: usize = 64;

/// Where the agent listens, when this session has a runtime directory.
pub fn socket_path() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(dir).join("latch").join("agent.sock"))
}

#[derive(Debug, Deserialize)]
struct Request {
    op: String,
    #[serde(default)]
    name: Option<String>,
    /// The data directory the client reads: an agent over another one
    /// (a test's, a second profile's) says so, and the client reads its own.
    #[serde(default)]
    data_dir: Option<PathBuf>,
}

/// An error as the agent answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default)]
    pub action: Option<Action>,
}

/// A token as the agent hands it out.
#[derive(Serialize, Deserialize)]
pub struct AgentToken {
    pub token: String,
    pub token_type: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub connection_id: String,
    pub connection: String,
}

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentToken({}, [redacted])", self.connection)
    }
}

impl Drop for AgentToken {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.token);
    }
}

/// A token held in memory until it is due.
struct Held {
    token: AccessToken,
    token_type: String,
    expires_at: Option<DateTime<Utc>>,
    due: Option<DateTime<Utc>>,
    name: String,
}

struct State {
    engine: Arc<Engine>,
    held: Mutex<HashMap<ConnectionId, Held>>,
    /// The store's version when the held tokens were read: another process
    /// writing the store empties them.
    store_version: Mutex<i64>,
    /// The proxy this process runs, if any.
    proxy: Mutex<Option<ProxyInfo>>,
}

/// The running agent; dropping it stops listening and removes the socket.
pub struct Agent {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
    state: Arc<State>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Agent {
    /// Listens at `path` (see [`socket_path`]). Fails when another agent
    /// answers there already.
    pub async fn start(engine: Arc<Engine>, path: &Path) -> Result<Agent> {
        let dir = path.parent().ok_or_else(|| Error::storage("The agent's socket path has no directory."))?;
        std::fs::create_dir_all(dir).map_err(|err| Error::storage(format!("Latch could not make {}: {err}.", dir.display())))?;
        set_mode(dir, 0o700)?;
        if UnixStream::connect(path).await.is_ok() {
            return Err(Error::storage(format!("Another Latch agent already answers at {}.", path.display())));
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)
            .map_err(|err| Error::storage(format!("Latch could not listen at {}: {err}.", path.display())))?;
        set_mode(path, 0o600)?;
        let version = engine.store_version().unwrap_or(0);
        let state = Arc::new(State { engine, held: Mutex::default(), store_version: Mutex::new(version), proxy: Mutex::default() });
        let task = tokio::spawn(serve(listener, state.clone()));
        Ok(Agent { path: path.to_owned(), task, state })
    }

    /// Tells clients where this process's proxy answers (or that it stopped).
    pub fn set_proxy(&self, proxy: Option<ProxyInfo>) {
        *self.state.proxy.lock().unwrap_or_else(|p| p.into_inner()) = proxy;
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|err| Error::storage(format!("Latch could not restrict {}: {err}.", path.display())))
}

async fn serve(listener: UnixListener, state: Arc<State>) {
    // Held tokens go when their connection changes.
    let mut changes = state.engine.subscribe();
    let forget = state.clone();
    tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(event) => {
                    if let Some(id) = event.changed_connection() {
                        forget.held.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    forget.held.lock().unwrap_or_else(|p| p.into_inner()).clear();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(err) = answer(stream, &state).await {
                tracing::debug!(error = %err, "an agent client went away");
            }
        });
    }
}

/// The uid this process runs as.
fn own_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

async fn answer(stream: UnixStream, state: &State) -> std::io::Result<()> {
    let peer = stream.peer_cred()?;
    if peer.uid() != own_uid() {
        tracing::warn!(uid = peer.uid(), "refused an agent client of another user");
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read).take(MAX_REQUEST as u64 + 1);
    let mut line = Zeroizing::new(String::new());
    let read = tokio::time::timeout(READ_TIMEOUT, reader.read_line(&mut line)).await;
    let reply = match read {
        Err(_) => return Ok(()),
        Ok(Err(err)) => return Err(err),
        Ok(Ok(_)) if line.len() > MAX_REQUEST => refusal("The request is longer than the agent reads."),
        Ok(Ok(_)) => match serde_json::from_str::<Request>(line.trim()) {
            Err(_) => refusal("The request is not one line of JSON the agent understands."),
            Ok(request) => handle(request, state, peer.pid().and_then(|p| u32::try_from(p).ok())).await,
        },
    };
    let mut text = Zeroizing::new(reply.to_string());
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

fn refusal(message: &str) -> serde_json::Value {
    serde_json::json!({ "ok": false, "error": AgentError { kind: ErrorKind::Validation, message: message.into(), action: None } })
}

async fn handle(request: Request, state: &State, pid: Option<u32>) -> serde_json::Value {
    if request.data_dir.as_deref().is_some_and(|dir| !same_dir(dir, state.engine.data_dir())) {
        return serde_json::json!({ "ok": false, "other_store": true });
    }
    match (request.op.as_str(), request.name) {
        ("ping", _) => serde_json::json!({ "ok": true }),
        ("token", Some(name)) => match token(state, &name, pid).await {
            // Needing a sign-in, failing, new: the client reads the store
            // itself and says what to do.
            Ok(None) => serde_json::json!({ "ok": false, "other_store": true }),
            Ok(Some(token)) => {
                let mut value = serde_json::to_value(&token).unwrap_or_default();
                value["ok"] = true.into();
                value
            }
            Err(err) => serde_json::json!({
                "ok": false,
                "error": AgentError { kind: err.kind, message: err.message, action: err.action },
            }),
        },
        ("token", None) => refusal("A token request names its connection."),
        ("proxy", _) => match state.proxy.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(proxy) => serde_json::json!({ "ok": true, "url": proxy.url, "key": proxy.key.as_str() }),
            None => serde_json::json!({ "ok": false, "no_proxy": true }),
        },
        _ => refusal("The agent answers 'ping', 'token' and 'proxy'."),
    }
}

async fn token(state: &State, name: &str, pid: Option<u32>) -> Result<Option<AgentToken>> {
    let engine = &state.engine;
    // Another process wrote the store (a sign-in, a refresh, a disconnect):
    // what is held may be stale.
    let version = engine.store_version()?;
    {
        let mut seen = state.store_version.lock().unwrap_or_else(|p| p.into_inner());
        if *seen != version {
            state.held.lock().unwrap_or_else(|p| p.into_inner()).clear();
            *seen = version;
        }
    }
    let connection = engine.get(name)?;
    if connection.status != crate::model::Status::Connected || connection.retry_at.is_some() {
        state.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&connection.id);
        return Ok(None);
    }
    let requester = pid.map(Requester::process).unwrap_or_default();
    let now = engine.now();
    let held = {
        let held = state.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(&connection.id).filter(|h| h.due.is_none_or(|due| now < due)).map(|h| AgentToken {
            token: h.token.secret().to_owned(),
            token_type: h.token_type.clone(),
            expires_at: h.expires_at,
            connection_id: connection.id.to_string(),
            connection: h.name.clone(),
        })
    };
    if let Some(token) = held {
        engine.record_use(&connection, "agent", "token", &requester, None);
        return Ok(Some(token));
    }
    let (connection, token) = engine.access_token(name).await?;
    if connection.status != crate::model::Status::Connected {
        // The refresh just failed: the client says what to do.
        return Ok(None);
    }
    engine.record_use(&connection, "agent", "token", &requester, None);
    let token_type = connection.settings.oauth2().map(|s| s.token_name.clone()).unwrap_or_else(|| "Bearer".into());
    let answer = AgentToken {
        token: token.secret().to_owned(),
        token_type: token_type.clone(),
        expires_at: connection.access_expires_at,
        connection_id: connection.id.to_string(),
        connection: connection.name.clone(),
    };
    // Held only while it is current: a connection needing sign-in is read
    // again each time.
    if connection.status == crate::model::Status::Connected {
        // Read again after the refresh: the version moved with our own write.
        if let Ok(version) = engine.store_version() {
            *state.store_version.lock().unwrap_or_else(|p| p.into_inner()) = version;
        }
        state.held.lock().unwrap_or_else(|p| p.into_inner()).insert(
            connection.id.clone(),
            Held { token, token_type, expires_at: connection.access_expires_at, due: connection.refresh_due(), name: connection.name },
        );
    }
    Ok(Some(answer))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    canonical(a) == canonical(b)
}

/// Asks the agent at `path` for `name`'s token from the store in
/// `data_dir`. `None` when no agent answers there, or it keeps another
/// store (the caller then reads its own).
pub async fn ask_token(path: &Path, data_dir: &Path, name: &str) -> Option<Result<AgentToken>> {
    let stream = tokio::time::timeout(Duration::from_millis(500), UnixStream::connect(path)).await.ok()?.ok()?;
    let (read, mut write) = stream.into_split();
    let request = serde_json::json!({ "op": "token", "name": name, "data_dir": data_dir }).to_string() + "\n";
    write.write_all(request.as_bytes()).await.ok()?;
    let mut reader = BufReader::new(read);
    let mut line = Zeroizing::new(String::new());
    // The agent may refresh first: give it the provider's time.
    tokio::time::timeout(crate::http::REQUEST_TIMEOUT + Duration::from_secs(5), reader.read_line(&mut line)).await.ok()?.ok()?;
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    if value["other_store"] == true {
        return None;
    }
    if value["ok"] == true {
        return serde_json::from_value::<AgentToken>(value).ok().map(Ok);
    }
    let error: AgentError = serde_json::from_value(value["error"].clone()).ok()?;
    let mut err = Error::new(error.kind, error.message);
    err.action = error.action;
    Some(Err(err))
}

/// Asks the agent at `path` where its process's proxy answers, for the
/// store in `data_dir`. `None` when no agent answers, it keeps another
/// store, or its process runs no proxy.
pub async fn ask_proxy(path: &Path, data_dir: &Path) -> Option<ProxyInfo> {
    let stream = tokio::time::timeout(Duration::from_millis(500), UnixStream::connect(path)).await.ok()?.ok()?;
    let (read, mut write) = stream.into_split();
    let request = serde_json::json!({ "op": "proxy", "data_dir": data_dir }).to_string() + "\n";
    write.write_all(request.as_bytes()).await.ok()?;
    let mut line = Zeroizing::new(String::new());
    tokio::time::timeout(READ_TIMEOUT, BufReader::new(read).read_line(&mut line)).await.ok()?.ok()?;
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    if value["ok"] != true {
        return None;
    }
    let url = value["url"].as_str()?.to_owned();
    let key = Zeroizing::new(value["key"].as_str()?.to_owned());
    Some(ProxyInfo { url, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn malformed_and_silent_clients_get_an_error_or_are_dropped_and_the_socket_is_private() {
        let (dir, engine) = crate::engine::test_engine();
        let path = dir.path().join("run/latch/agent.sock");
        let agent = Agent::start(Arc::new(engine), &path).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);

        let mut client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"{not json\n").await.unwrap();
        let mut reply = String::new();
        BufReader::new(client).read_line(&mut reply).await.unwrap();
        assert!(reply.contains("\"ok\":false"), "{reply}");

        // Silent: dropped after the timeout, without an answer.
        let silent = UnixStream::connect(&path).await.unwrap();
        let mut reply = String::new();
        let read = tokio::time::timeout(READ_TIMEOUT * 3, BufReader::new(silent).read_line(&mut reply)).await;
        assert_eq!(read.unwrap().unwrap(), 0, "closed with nothing said");

        // An unknown connection: the engine's sentence.
        let asked = ask_token(&path, dir.path(), "Nope").await.unwrap().unwrap_err();
        assert_eq!(asked.kind, ErrorKind::NotFound);
        // A client of another data directory reads its own store.
        assert!(ask_token(&path, &dir.path().join("elsewhere"), "Nope").await.is_none());

        // A second agent refuses to take over.
        let (_dir2, other) = crate::engine::test_engine();
        assert!(Agent::start(Arc::new(other), &path).await.is_err());
        drop(agent);
        assert!(!path.exists(), "the socket goes with the agent");
        assert!(ask_token(&path, dir.path(), "x").await.is_none(), "no agent: the caller reads the store");
    }
}
