//! The local proxy: `http://127.0.0.1:PORT/<connection>/<path>?<query>` is
//! forwarded to the connection's API base URL + path with the credential
//! placed the way the connection sends it (an OAuth 2.0 header or query, an
//! OAuth 1.0a signature made per request, a spec's `base`). The caller never
//! sees a token.
//!
//! Who may use it: every request carries the proxy key — `Proxy-Authorization:
//! Bearer <key>` or the path prefix `/_k/<key>/` — a random key made when the
//! proxy starts, known to `latch exec`, `latch proxy --print-env` (through the
//! agent) and the user. Without it: 407, nothing forwarded. The `Host` must
//! be the proxy's own loopback address (a web page that rebinds a name to
//! 127.0.0.1 sends its own name), an absolute-form target must name the proxy
//! itself, a path may not climb out of the base path (`..`, encoded slashes),
//! and a request that frames its body twice (Content-Length and
//! Transfer-Encoding) is refused. The caller's `Authorization` and `Cookie`
//! are dropped unless the connection allows them. Bodies stream both ways;
//! keep-alive and WebSocket upgrades pass through.
//!
//! Tokens are held in memory until due (like the agent's), so a proxied
//! request costs no keyring look-up. A 401 from upstream refreshes once —
//! single-flight with every other caller, in any process — and retries once
//! when the request body could be kept (small or empty); a larger streamed
//! body's 401 goes back to the caller, and the next request has the new token.
//!
//! A DPoP-bound token (RFC 9449) goes with a fresh proof for each request's
//! own method and address, made here just before it is sent; an API's
//! `use_dpop_nonce` is answered like a 401, once, when the body was kept.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use zeroize::Zeroizing;

use crate::engine::{Engine, Requester};
use crate::error::{Error, ErrorKind, Result};
use crate::flows::dpop::{self, Dpop, DpopKey};
use crate::model::{Connection, ConnectionId, KindSettings, Status};
use crate::request::ApiRequest;
use crate::secret::TokenSet;

/// A request body up to this size is read whole before it is sent: it can
/// go again after a 401, and an OAuth 1.0a form body is signed.
const KEPT_BODY: usize = 64 * 1024;
/// The largest form body an OAuth 1.0a connection signs.
const SIGNED_BODY: usize = 1024 * 1024;
/// How long a client gets to send a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many clients at once (fewer when the descriptor limit is
/// lower: each client may need a second descriptor upstream).
const MAX_CLIENTS: usize = 4096;

type Body = BoxBody<Bytes, std::io::Error>;

/// Where a running proxy answers and its key.
#[derive(Clone)]
pub struct ProxyInfo {
    pub url: String,
    pub key: Zeroizing<String>,
}

impl std::fmt::Debug for ProxyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProxyInfo({}, key [redacted])", self.url)
    }
}

impl ProxyInfo {
    /// The base a tool uses for `connection`, key included in the path.
    pub fn connection_url(&self, connection: &str) -> String {
        format!("{}/_k/{}/{}", self.url, self.key.as_str(), encode_segment(connection))
    }
}

/// The running proxy; dropping it stops listening.
pub struct Proxy {
    info: ProxyInfo,
    /// Tells the serving threads to stop.
    stop: tokio::sync::watch::Sender<bool>,
    /// Each serving thread says here when it has stopped listening.
    stopped: Vec<std::sync::mpsc::Receiver<()>>,
    /// Forgets held tokens when connections change (on the caller's runtime).
    watchers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for watcher in &self.watchers {
            watcher.abort();
        }
        // Stopped means nothing listens any more: wait briefly for it.
        for stopped in &self.stopped {
            let _ = stopped.recv_timeout(Duration::from_millis(500));
        }
    }
}

/// A token set held until it is due.
struct Held {
    connection: Connection,
    tokens: TokenSet,
    due: Option<DateTime<Utc>>,
    /// An OAuth 2.0 connection with its token in the header: the base and
    /// the headers to add, made once (the placement rules of
    /// `request::build`), so a request costs no rebuilding.
    fast: Option<FastPath>,
    /// The key a DPoP token is bound to (RFC 9449): every request, the
    /// fast ones too, gets a fresh proof for its own method and address.
    dpop: Option<DpopKey>,
}

struct FastPath {
    base: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl FastPath {
    fn of(connection: &Connection, tokens: &TokenSet) -> Option<FastPath> {
        let settings = connection.settings.oauth2()?;
        if settings.token_placement != crate::model::TokenPlacement::Header {
            return None;
        }
        let base = connection.settings.api_base_url()?;
        let built = crate::request::build_with(&connection.settings, &ApiRequest::get(base.clone()), tokens).ok()?;
        let headers = built.headers().iter().map(|(name, value)| (name.clone(), value.clone())).collect();
        Some(FastPath { base: base.trim_end_matches('/').to_owned(), headers })
    }
}

/// What every serving thread shares.
struct State {
    engine: Arc<Engine>,
    key: Zeroizing<String>,
    port: u16,
    held: Mutex<HashMap<String, Arc<Held>>>,
    /// Clients at once, over all threads.
    permits: Arc<tokio::sync::Semaphore>,
    /// To the thread that records uses.
    uses: Mutex<std::sync::mpsc::Sender<Use>>,
    /// Clients that present a connection's TLS client certificate (RFC
    /// 8705: its certificate-bound tokens work only so), by the
    /// certificate's thumbprint; made once per certificate.
    tls: Mutex<HashMap<String, Arc<Upstream>>>,
}

/// A serving thread's own HTTP clients: their pooled connections live on
/// its runtime.
struct Upstream {
    plain: reqwest::Client,
    /// For WebSocket upgrades: HTTP/1.1 only.
    h1: reqwest::Client,
}

impl Upstream {
    fn new() -> Result<Upstream> {
        Self::presenting(None)
    }

    /// Clients that present `identity` as their TLS client certificate.
    fn presenting(identity: Option<reqwest::Identity>) -> Result<Upstream> {
        let client = |h1: bool| {
            let builder = match &identity {
                Some(identity) => reqwest::Client::builder().use_rustls_tls().identity(identity.clone()),
                None => reqwest::Client::builder(),
            };
            let builder = builder
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(15))
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(64);
            let builder = if h1 { builder.http1_only() } else { builder };
            builder.build().map_err(|err| Error::network(format!("The proxy's HTTP client could not start: {err}.")))
        };
        Ok(Upstream { plain: client(false)?, h1: client(true)? })
    }
}

/// A listener on 127.0.0.1:`port` that other threads' listeners share
/// (SO_REUSEPORT: the kernel spreads new clients over them).
fn listen(port: u16) -> std::io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(1024)
}

impl Proxy {
    /// Listens on 127.0.0.1:`port` (0: any free port) with a new key.
    ///
    /// One thread per core (at most four) serves, each with a single-threaded
    /// runtime and its own listener on the port: a request is handled from
    /// its socket to the upstream's and back on one thread, without handing
    /// work between threads (what costs a thread pool most on a proxy).
    pub async fn start(engine: Arc<Engine>, port: u16) -> Result<Proxy> {
        let first = listen(port).map_err(|err| match err.kind() {
            // The usual cause, said so that the user knows what to change.
            std::io::ErrorKind::AddrInUse => Error::validation(
                "port",
                format!("Port {port} is already used by another program. Choose another port, or 0 for any free port."),
            ),
            _ => Error::validation("port", format!("The proxy could not listen on 127.0.0.1:{port}: {err}.")),
        })?;
        let port = first.local_addr().map_err(|err| Error::network(format!("The proxy has no address: {err}.")))?.port();
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4);
        let mut listeners = vec![first];
        while listeners.len() < threads {
            match listen(port) {
                Ok(listener) => listeners.push(listener),
                Err(_) => break,
            }
        }
        let key = Zeroizing::new(oauth2::CsrfToken::new_random_len(32).secret().clone());
        let uses = spawn_recorder(engine.clone(), port)
            .map_err(|err| Error::network(format!("The proxy could not start a thread: {err}.")))?;
        let state = Arc::new(State {
            engine,
            key: key.clone(),
            port,
            held: Mutex::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(client_limit())),
            uses: Mutex::new(uses),
            tls: Mutex::default(),
        });
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut stopped = Vec::new();
        for listener in listeners {
            let listener = listener.into_std().map_err(|err| Error::network(format!("The proxy could not listen: {err}.")))?;
            let (state, mut stopping) = (state.clone(), stopping.clone());
            let (done, stopped_rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("latch-proxy".into())
                .spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                    runtime.block_on(async move {
                        let (Ok(listener), Ok(upstream)) = (TcpListener::from_std(listener), Upstream::new()) else { return };
                        tokio::select! {
                            _ = serve(listener, state, Arc::new(upstream)) => {}
                            _ = stopping.wait_for(|stop| *stop) => {}
                        }
                    });
                    // A keyring call under way is not waited for.
                    runtime.shutdown_background();
                    let _ = done.send(());
                })
                .map_err(|err| Error::network(format!("The proxy could not start a thread: {err}.")))?;
            stopped.push(stopped_rx);
        }
        let watchers = watch_changes(state);
        Ok(Proxy { info: ProxyInfo { url: format!("http://127.0.0.1:{port}"), key }, stop, stopped, watchers })
    }

    pub fn info(&self) -> &ProxyInfo {
        &self.info
    }
}

/// Raises the open-files limit to its hard maximum and says how many
/// clients fit in it.
fn client_limit() -> usize {
    #[cfg(target_os = "linux")]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit write/read the struct given, nothing else.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                if limit.rlim_cur < limit.rlim_max {
                    let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                        limit = raised;
                    }
                }
                let usable = (limit.rlim_cur as usize).saturating_sub(128) / 2;
                return usable.clamp(16, MAX_CLIENTS);
            }
        }
    }
    256
}

/// Held tokens go when their connection changes here, or when another
/// process writes the store (a sign-in, a refresh, an edit) — woken by
/// inotify, so a request asks nothing.
fn watch_changes(state: Arc<State>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut changes = state.engine.subscribe();
    let forget = state.clone();
    let events = tokio::spawn(async move {
        loop {
            match changes.recv().await {
                Ok(event) if event.changed_connection().is_some() => forget.forget_all(),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => forget.forget_all(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let store = tokio::spawn(async move {
        let mut watch = crate::dir_watch::DirWatch::new(state.engine.data_dir());
        let mut seen = state.engine.store_version().unwrap_or(0);
        loop {
            watch.changed().await;
            if let Ok(version) = state.engine.store_version() {
                if version != seen {
                    seen = version;
                    state.forget_all();
                }
            }
        }
    });
    vec![events, store, tokio::spawn(release_freed_memory())]
}

/// Set when clients came or went since the allocator was last trimmed.
static CLIENTS_CHANGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// After many clients come and go (each with its buffers and an upstream
/// connection), the allocator keeps their freed pages: hand them back to
/// the system, at most every two seconds and only after such a change.
async fn release_freed_memory() {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if CLIENTS_CHANGED.swap(false, std::sync::atomic::Ordering::Relaxed) {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only returns free memory to the system.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<State>, upstream: Arc<Upstream>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors for a moment: let some clients finish.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = state.permits.clone().try_acquire_owned() else {
            tokio::spawn(too_busy(stream));
            continue;
        };
        let (state, upstream) = (state.clone(), upstream.clone());
        CLIENTS_CHANGED.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let client = Arc::new(Client { peer, requester: Arc::default(), recorded: Mutex::default() });
            let service = hyper::service::service_fn(move |request| {
                let (state, upstream, client) = (state.clone(), upstream.clone(), client.clone());
                async move { Ok::<_, Infallible>(handle(&state, &upstream, &client, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "a proxy client went away");
            }
        });
    }
}

/// Over the client limit: a short 503, then the connection is closed.
async fn too_busy(mut stream: TcpStream) {
    let body = "Latch's proxy has too many clients at once; try again in a moment.\n";
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(reply.as_bytes())).await;
}

/// One TCP client: its address, the process behind it (looked up once,
/// when a use is recorded) and the connections it used already.
struct Client {
    peer: SocketAddr,
    requester: Arc<Mutex<Option<Requester>>>,
    recorded: Mutex<Vec<ConnectionId>>,
}

impl State {
    /// The clients for a connection that signs in with a client
    /// certificate; `None` for the others (the thread's own clients).
    async fn tls_upstream(&self, connection: &Connection) -> Result<Option<Arc<Upstream>>> {
        let Some(thumbprint) = connection
            .settings
            .oauth2()
            .filter(|s| s.uses_client_certificate())
            .and_then(|s| s.client_certificate.as_ref())
            .map(|c| c.thumbprint.clone())
        else {
            return match connection.settings.oauth2().is_some_and(|s| s.uses_client_certificate()) {
                // No certificate: the engine says so in words.
                true => self.engine.tls_identity(connection).await.map(|_| None),
                false => Ok(None),
            };
        };
        if let Some(upstream) = self.tls.lock().unwrap_or_else(|p| p.into_inner()).get(&thumbprint) {
            return Ok(Some(upstream.clone()));
        }
        let identity = self.engine.tls_identity(connection).await?;
        let upstream = Arc::new(Upstream::presenting(identity)?);
        self.tls.lock().unwrap_or_else(|p| p.into_inner()).insert(thumbprint, upstream.clone());
        Ok(Some(upstream))
    }

    fn forget_all(&self) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The connection named `name` with a current token: held, or read
    /// (and refreshed when due) through the engine.
    async fn credential(&self, name: &str) -> Result<Arc<Held>> {
        let key = name.to_lowercase();
        let now = self.engine.now();
        if let Some(held) = self.held.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            if held.due.is_none_or(|due| now < due) {
                return Ok(held.clone());
            }
        }
        let connection = self.engine.get(name)?;
        let (connection, tokens) = self.engine.fresh_tokens(connection.id.as_str()).await?;
        self.remember(key, connection, tokens).await
    }

    async fn remember(&self, key: String, connection: Connection, tokens: TokenSet) -> Result<Arc<Held>> {
        let due = connection.refresh_due();
        let fast = FastPath::of(&connection, &tokens);
        let dpop = self.engine.dpop_key_for(&connection, &tokens).await?;
        let held = Arc::new(Held { connection, tokens, due, fast, dpop });
        // Only a plainly connected connection is kept: one needing a sign-in
        // or waiting to retry is read again each time.
        if held.connection.status == Status::Connected && held.connection.retry_at.is_none() {
            self.held.lock().unwrap_or_else(|p| p.into_inner()).insert(key, held.clone());
        }
        Ok(held)
    }

    /// After a 401: the token someone got since, or one refresh for every
    /// caller (in any process).
    async fn renewed(&self, name: &str, stale: &Held) -> Result<Arc<Held>> {
        let key = name.to_lowercase();
        {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            match held.get(&key) {
                Some(current) if current.tokens.access_token.secret() != stale.tokens.access_token.secret() => {
                    return Ok(current.clone());
                }
                _ => held.remove(&key),
            };
        }
        let need = crate::engine::RefreshNeed::Rejected(stale.tokens.access_token.clone());
        let (connection, tokens) = self.engine.refresh_single_flight(&stale.connection.id, need).await?;
        self.remember(key, connection, tokens).await
    }
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(text + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(value.to_string() + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// Compares without stopping at the first difference.
fn same_key(given: &[u8], key: &[u8]) -> bool {
    given.len() == key.len() && given.iter().zip(key).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A path segment as a URL carries it.
fn encode_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// What a request asks for once the key is checked: the connection's name,
/// the rest of the path, the query.
#[derive(Debug, PartialEq)]
struct Target {
    connection: String,
    path: String,
    query: Option<String>,
}

/// Why a request is refused before anything is forwarded.
#[derive(Debug, PartialEq)]
enum Refusal {
    NoKey,
    Bad(String),
}

/// Checks the key and the target, and splits the target.
fn target(state_key: &str, port: u16, request: &Request<Incoming>) -> std::result::Result<Target, Refusal> {
    let uri = request.uri();
    // The Host (and an absolute-form target) must be this proxy.
    let own = |authority: &str| {
        let authority = authority.to_ascii_lowercase();
        ["127.0.0.1", "localhost", "[::1]"].iter().any(|host| authority == format!("{host}:{port}"))
    };
    if let Some(authority) = uri.authority() {
        if !own(authority.as_str()) {
            return Err(Refusal::Bad(format!(
                "This proxy forwards only to each connection's API: ask for http://127.0.0.1:{port}/<connection>/<path>, \
                 not another host."
            )));
        }
    }
    match request.headers().get_all(header::HOST).iter().collect::<Vec<_>>().as_slice() {
        [host] if host.to_str().is_ok_and(own) => {}
        _ => return Err(Refusal::Bad(format!("The Host header must be 127.0.0.1:{port}, the proxy's own address."))),
    }
    if request.headers().contains_key(header::TRANSFER_ENCODING) && request.headers().contains_key(header::CONTENT_LENGTH) {
        return Err(Refusal::Bad("The request gives both Content-Length and Transfer-Encoding; send one.".into()));
    }
    let mut path = uri.path();
    let mut keyed = false;
    if let Some(rest) = path.strip_prefix("/_k/") {
        let (given, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if !same_key(given.as_bytes(), state_key.as_bytes()) {
            return Err(Refusal::NoKey);
        }
        keyed = true;
        path = if rest.is_empty() { "/" } else { &uri.path()[4 + given.len()..] };
    }
    if !keyed {
        let given = request.headers().get(header::PROXY_AUTHORIZATION).and_then(|v| v.to_str().ok());
        let given = given.and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        if !given.is_some_and(|given| same_key(given.trim().as_bytes(), state_key.as_bytes())) {
            return Err(Refusal::NoKey);
        }
    }
    let path = path.strip_prefix('/').unwrap_or(path);
    let (name, rest) = path.split_once('/').unwrap_or((path, ""));
    let name = percent_decode(name).ok_or_else(|| Refusal::Bad("The connection's name in the path is not valid text.".into()))?;
    for segment in rest.split('/') {
        let decoded = percent_decode(segment).ok_or_else(|| Refusal::Bad("The path is not valid text.".into()))?;
        if decoded == "." || decoded == ".." || decoded.contains('/') || decoded.contains('\\') {
            return Err(Refusal::Bad("The path may not contain '.', '..' or encoded slashes: it stays under the API base URL.".into()));
        }
    }
    Ok(Target { connection: name, path: rest.to_owned(), query: uri.query().map(str::to_owned) })
}

fn percent_decode(text: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).filter(|v| !v.contains('\u{fffd}') || text.contains("%EF%BF%BD"))
}

/// Headers that belong to one hop (RFC 9110 §7.6.1), never passed on.
fn hop_by_hop(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ]
    .into();
    for value in headers.get_all(header::CONNECTION) {
        for name in value.to_str().unwrap_or("").split(',') {
            if let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) {
                names.push(name);
            }
        }
    }
    names
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers.get_all(header::CONNECTION).iter().any(|v| v.to_str().unwrap_or("").to_ascii_lowercase().contains("upgrade"))
}

async fn handle(state: &Arc<State>, upstream: &Upstream, client: &Client, mut request: Request<Incoming>) -> Response<Body> {
    let target = match target(&state.key, state.port, &request) {
        Ok(target) => target,
        Err(Refusal::NoKey) => {
            let mut response = text_response(
                StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                "Latch's proxy needs its key: send 'Proxy-Authorization: Bearer <key>' or start the path with /_k/<key>/. \
                 'latch proxy --print-env' shows it; 'latch exec' passes it on."
                    .into(),
            );
            response.headers_mut().insert(header::PROXY_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"latch\""));
            return response;
        }
        Err(Refusal::Bad(message)) => {
            let mut response = text_response(StatusCode::BAD_REQUEST, message);
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    if target.connection.is_empty() {
        return unknown_connection(state, "");
    }
    let held = match state.credential(&target.connection).await {
        Ok(held) => held,
        Err(err) => return credential_error(state, &target.connection, err),
    };
    let tail = match &target.query {
        Some(query) => format!("{}?{query}", target.path),
        None => target.path.clone(),
    };
    let url = match upstream_url(&held.connection, &tail) {
        Ok(url) => url,
        Err(response) => return response,
    };
    let upgrade = is_upgrade(request.headers());
    let upgrade_to = upgrade.then(|| request.headers().get(header::UPGRADE).cloned()).flatten();

    // The caller's headers, minus hop-by-hop ones, Host, and (unless the
    // connection allows them) the caller's own credentials.
    let method = request.method().clone();
    let length = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    let mut headers = std::mem::take(request.headers_mut());
    for name in hop_by_hop(&headers) {
        headers.remove(name);
    }
    for name in [header::HOST, header::CONTENT_LENGTH] {
        headers.remove(name);
    }
    if !held.connection.settings.api().forward_caller_auth {
        headers.remove(header::AUTHORIZATION);
        headers.remove(header::COOKIE);
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let signs_body = matches!(held.connection.settings, KindSettings::OAuth1(_)) && form;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let limit = if signs_body { SIGNED_BODY } else { KEPT_BODY };
    let keep = !upgrade && (signs_body || (!chunked && length.unwrap_or(0) <= KEPT_BODY as u64));

    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (kept, mut streamed) = if keep {
        match read_whole(request.into_body(), limit).await {
            Ok(bytes) => (Some(bytes), None),
            Err(response) => return *response,
        }
    } else {
        (None, Some(request.into_body()))
    };

    let mut held = held;
    let mut tried_renewal = false;
    let mut tried_nonce = false;
    loop {
        let api = ApiRequest {
            method: method.to_string(),
            url: tail.clone(),
            // What decides whether a body is signed (an OAuth 1.0a form body is).
            headers: content_type.iter().map(|t| ("Content-Type".to_owned(), t.clone())).collect(),
            body: if signs_body { kept.as_ref().map(|b| b.to_vec()) } else { None },
        };
        let mut outgoing = headers.clone();
        let (method, uri) = match &held.fast {
            Some(fast) => {
                for (name, value) in &fast.headers {
                    outgoing.insert(name.clone(), value.clone());
                }
                (method.clone(), format!("{}/{}", fast.base, api.url))
            }
            None => {
                let absolute = ApiRequest { url: url.clone(), ..api };
                let built = match state.engine.authorized_request(&held.connection, &held.tokens, &absolute).await {
                    Ok(built) => built,
                    Err(err) => return credential_error(state, &target.connection, err),
                };
                let (parts, _) = built.into_parts();
                for (name, value) in parts.headers.iter() {
                    outgoing.insert(name.clone(), value.clone());
                }
                (parts.method, parts.uri.to_string())
            }
        };
        if let Some(key) = &held.dpop {
            let dpop = Dpop::new(key, state.engine.dpop_nonces());
            match dpop.header(method.as_str(), &uri, Some(&held.tokens.access_token)) {
                Ok(proof) => outgoing.insert(HeaderName::from_static(dpop::PROOF_HEADER), proof),
                Err(err) => return credential_error(state, &target.connection, err),
            };
        }
        if let Some(protocol) = &upgrade_to {
            outgoing.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            outgoing.insert(header::UPGRADE, protocol.clone());
        }
        let body = match (&kept, streamed.take()) {
            (Some(bytes), _) => reqwest::Body::from(bytes.clone()),
            (None, Some(incoming)) => reqwest::Body::wrap_stream(incoming.into_data_stream()),
            (None, None) => reqwest::Body::from(Bytes::new()),
        };
        let tls = match state.tls_upstream(&held.connection).await {
            Ok(tls) => tls,
            Err(err) => return credential_error(state, &target.connection, err),
        };
        let upstream = tls.as_deref().unwrap_or(upstream);
        let client_http = if upgrade { &upstream.h1 } else { &upstream.plain };
        let Ok(address) = reqwest::Url::parse(&uri) else {
            return text_response(StatusCode::BAD_GATEWAY, format!("The API address of '{}' is not a valid URL.", held.connection.name));
        };
        let mut outgoing_request = reqwest::Request::new(method, address);
        *outgoing_request.headers_mut() = outgoing;
        *outgoing_request.body_mut() = Some(body);
        let sent = client_http.execute(outgoing_request).await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                return json_response(
                    StatusCode::BAD_GATEWAY,
                    serde_json::json!({
                        "error": "upstream_unreachable",
                        "connection": held.connection.name,
                        "message": format!("Latch could not reach {}: {}.", host_of(&uri), describe(&err)),
                    }),
                )
            }
        };
        client.record(state, &held.connection, &uri);
        if held.dpop.is_some() {
            state.engine.dpop_nonces().remember(&uri, response.headers());
            // RFC 9449 §9: the API wants its nonce in the proof; once more
            // with it when the body could be kept.
            let challenged = dpop::is_nonce_challenge(response.status(), response.headers(), b"");
            if challenged && !tried_nonce && kept.is_some() {
                tried_nonce = true;
                continue;
            }
        }
        if response.status() == StatusCode::UNAUTHORIZED && !tried_renewal && kept.is_some() && held.connection.can_renew() {
            tried_renewal = true;
            match state.renewed(&target.connection, &held).await {
                Ok(fresh) => {
                    held = fresh;
                    continue;
                }
                Err(err) => return credential_error(state, &target.connection, err),
            }
        }
        if response.status() == StatusCode::UNAUTHORIZED && kept.is_none() && held.connection.can_renew() {
            // Not replayable: this caller gets the 401; the next one a new token.
            state.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&target.connection.to_lowercase());
        }
        return pass_back(response, on_upgrade).await;
    }
}

/// Why upstream could not be reached, in words that never quote the
/// address (its query may hold the token).
fn describe(err: &reqwest::Error) -> String {
    let mut cause = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            cause = io.to_string();
        }
        source = inner.source();
    }
    let what = if err.is_connect() {
        "the connection failed"
    } else if err.is_timeout() {
        "it did not answer in time"
    } else if err.is_body() || err.is_decode() {
        "the body broke off"
    } else {
        "the exchange broke off"
    };
    match cause.is_empty() {
        true => what.to_owned(),
        false => format!("{what} ({cause})"),
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

/// Reads a body of at most `limit` bytes.
async fn read_whole(body: Incoming, limit: usize) -> std::result::Result<Bytes, Box<Response<Body>>> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(Box::new(text_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("A signed form body may be at most {} kB.", limit / 1024),
        ))),
        Err(err) => Err(Box::new(text_response(StatusCode::BAD_REQUEST, format!("The request body could not be read: {err}.")))),
    }
}

/// The connection's API base URL joined with the path and query asked for.
fn upstream_url(connection: &Connection, tail: &str) -> std::result::Result<String, Response<Body>> {
    match connection.settings.api_base_url() {
        Some(base) => Ok(format!("{}/{tail}", base.trim_end_matches('/'))),
        // A spec whose base is computed: its runner joins a relative path.
        None if matches!(connection.settings, KindSettings::Spec(_)) => Ok(tail.to_owned()),
        None => Err(json_response(
            StatusCode::NOT_FOUND,
            serde_json::json!({
                "error": "no_api_base_url",
                "connection": connection.name,
                "message": format!(
                    "'{}' has no API base URL, so the proxy does not know where its API is. Set one in its settings.",
                    connection.name
                ),
            }),
        )),
    }
}

fn unknown_connection(state: &State, name: &str) -> Response<Body> {
    let known: Vec<String> = state.engine.list().unwrap_or_default().into_iter().map(|c| c.name).collect();
    let message = match name {
        "" => "Name a connection first in the path: /<connection>/<path>.".to_owned(),
        name => format!("There is no connection named '{name}'."),
    };
    json_response(StatusCode::NOT_FOUND, serde_json::json!({ "error": "unknown_connection", "message": message, "known": known }))
}

/// What the caller hears when no credential can be had.
fn credential_error(state: &State, name: &str, err: Error) -> Response<Body> {
    match err.kind {
        ErrorKind::NotFound => unknown_connection(state, name),
        ErrorKind::NeedsAuthorization => {
            if let Ok(connection) = state.engine.get(name) {
                if connection.status == Status::NeedsReauth {
                    let notify = state.engine.settings().map(|s| s.notify_reauth).unwrap_or(true);
                    state.engine.notify_needs_sign_in(&connection, notify);
                }
            }
            json_response(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "error": "needs_sign_in", "connection": name, "message": err.message }),
            )
        }
        ErrorKind::Validation => json_response(
            StatusCode::FORBIDDEN,
            serde_json::json!({ "error": "refused", "connection": name, "message": err.message }),
        ),
        _ => json_response(
            StatusCode::BAD_GATEWAY,
            serde_json::json!({ "error": "no_credential", "connection": name, "message": err.message }),
        ),
    }
}

/// The upstream answer, streamed back; a 101 joins the two upgraded
/// connections.
async fn pass_back(mut response: reqwest::Response, on_upgrade: Option<hyper::upgrade::OnUpgrade>) -> Response<Body> {
    let status = response.status();
    let upgrade_value = response.headers().get(header::UPGRADE).cloned();
    let mut headers = std::mem::take(response.headers_mut());
    for name in hop_by_hop(&headers) {
        headers.remove(name);
    }
    if status == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(on_upgrade) = on_upgrade {
            tokio::spawn(async move {
                let (Ok(upstream), Ok(downstream)) = (response.upgrade().await, on_upgrade.await) else { return };
                let mut downstream = TokioIo::new(downstream);
                let mut upstream = upstream;
                let _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await;
            });
            let mut answer = Response::new(full(Bytes::new()));
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            answer.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            if let Some(value) = upgrade_value {
                answer.headers_mut().insert(header::UPGRADE, value);
            }
            return answer;
        }
    }
    // A small answer of known length goes back in one write with its head;
    // anything else streams as it comes.
    let small = response.content_length().is_some_and(|length| length <= KEPT_BODY as u64);
    let body = if small {
        match response.bytes().await {
            Ok(bytes) => full(bytes),
            Err(err) => {
                return json_response(
                    StatusCode::BAD_GATEWAY,
                    serde_json::json!({ "error": "upstream_unreachable", "message": format!("The answer broke off: {}.", describe(&err)) }),
                )
            }
        }
    } else {
        BodyExt::boxed(StreamBody::new(response.bytes_stream().map_ok(Frame::data).map_err(std::io::Error::other)))
    };
    let mut answer = Response::new(body);
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    answer
}

impl Client {
    /// One usage row per connection per TCP client (a keep-alive client's
    /// thousand requests are one use), written off the serving thread: the
    /// process behind the client is looked up in /proc once, and SQLite
    /// writes to disk.
    fn record(&self, state: &Arc<State>, connection: &Connection, url: &str) {
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        if recorded.contains(&connection.id) {
            return;
        }
        recorded.push(connection.id.clone());
        drop(recorded);
        let use_ = Use { connection: connection.clone(), host: host_of(url), peer: self.peer, requester: self.requester.clone() };
        let _ = state.uses.lock().unwrap_or_else(|p| p.into_inner()).send(use_);
    }
}

/// A use to record, by the proxy's recording thread.
struct Use {
    connection: Connection,
    host: String,
    peer: SocketAddr,
    requester: Arc<Mutex<Option<Requester>>>,
}

/// One thread writes the usage rows, in order: a thousand new clients are
/// a queue, not a thousand threads.
fn spawn_recorder(engine: Arc<Engine>, port: u16) -> std::io::Result<std::sync::mpsc::Sender<Use>> {
    let (uses, queue) = std::sync::mpsc::channel::<Use>();
    std::thread::Builder::new().name("latch-proxy-log".into()).spawn(move || {
        // Ends when the proxy is gone (every sender dropped).
        for use_ in queue {
            let requester = {
                let mut known = use_.requester.lock().unwrap_or_else(|p| p.into_inner());
                known.get_or_insert_with(|| peer_pid(use_.peer, port).map(Requester::process).unwrap_or_default()).clone()
            };
            engine.record_use(&use_.connection, "proxy", "request", &requester, Some(&use_.host));
        }
    })?;
    Ok(uses)
}

/// The process that owns the client end of a loopback TCP connection from
/// `peer` to the proxy's `port`: its socket's inode from /proc/net/tcp, then
/// the process holding it (this user's processes only can be read).
fn peer_pid(peer: SocketAddr, port: u16) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        let (table, local) = match peer {
            SocketAddr::V4(v4) => ("/proc/net/tcp", format!("{:08X}:{:04X}", u32::from_le_bytes(v4.ip().octets()), v4.port())),
            SocketAddr::V6(_) => return None,
        };
        let text = std::fs::read_to_string(table).ok()?;
        let remote = format!("{:08X}:{:04X}", u32::from_le_bytes([127, 0, 0, 1]), port);
        let inode = text.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&local.as_str()) && fields.get(2) == Some(&remote.as_str())).then(|| fields.get(9).map(|s| s.to_string()))?
        })?;
        let wanted = format!("socket:[{inode}]");
        let own = std::process::id();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if pid == own {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == wanted.as_str()) {
                    return Some(pid);
                }
            }
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (peer, port);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole() {
        assert!(same_key(b"abc", b"abc"));
        assert!(!same_key(b"abd", b"abc"));
        assert!(!same_key(b"ab", b"abc"));
    }

    #[test]
    fn a_segment_is_encoded_for_a_path() {
        assert_eq!(encode_segment("Team Drive/ü"), "Team%20Drive%2F%C3%BC");
        assert_eq!(percent_decode("Team%20Drive").as_deref(), Some("Team Drive"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
    }
}
