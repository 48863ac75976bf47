//! The one-shot loopback redirect listener (RFC 8252 §7.3): bound to
//! 127.0.0.1 only, it waits for the browser to come back with the
//! authorization response, serves a small page and stops.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// How long the user has to finish signing in.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Where the authorization response arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// In the query string (authorization code flow).
    Query,
    /// In the URL fragment, which browsers never send: the page's script
    /// posts it back once (implicit flow).
    Fragment,
}

/// The parameters of an authorization response. They include the code or
/// the token, so they print as `[redacted]` and are zeroed on drop.
pub struct RedirectParams(HashMap<String, Zeroizing<String>>);

impl RedirectParams {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    /// Every parameter, as a JSON object (a spec's `query`).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.0.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.as_str().to_owned()))).collect()
    }

    fn parse(text: &str) -> Self {
        RedirectParams(
            url::form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), Zeroizing::new(v.into_owned())))
                .collect(),
        )
    }

    /// The parameters of an address the user pasted from the browser after
    /// signing in (the paste flow). It must be the redirect URI Latch sent,
    /// with the response in the query (code flow) or fragment (implicit).
    pub fn from_pasted_url(pasted: &str, redirect_uri: &str, mode: ResponseMode) -> Result<Self> {
        let pasted = pasted.trim();
        let url = url::Url::parse(pasted).map_err(|_| {
            Error::validation(
                "paste",
                "What you pasted is not a web address. Copy the whole address from the browser's address bar after \
                 signing in, and connect again.",
            )
        })?;
        let expected = url::Url::parse(redirect_uri)
            .map_err(|_| Error::validation("redirect_uri_override", "The redirect URI is not a valid address."))?;
        let same_endpoint = url.scheme() == expected.scheme()
            && url.host_str() == expected.host_str()
            && url.port_or_known_default() == expected.port_or_known_default()
            && url.path() == expected.path();
        if !same_endpoint {
            return Err(Error::validation(
                "paste",
                format!(
                    "The address you pasted is not the redirect URI {redirect_uri}. Paste the address the browser shows \
                     after the provider sends you back, and connect again."
                ),
            ));
        }
        let text = match mode {
            ResponseMode::Query => url.query(),
            ResponseMode::Fragment => url.fragment().or(url.query()),
        };
        let params = RedirectParams::parse(text.unwrap_or_default());
        if !params.is_response() {
            return Err(Error::validation(
                "paste",
                "The address you pasted holds no sign-in response (no code, token or error). Copy the address after the \
                 provider sends you back, and connect again.",
            ));
        }
        Ok(params)
    }

    fn is_response(&self) -> bool {
        ["code", "access_token", "error", "state"].iter().any(|k| self.0.contains_key(*k))
    }
}

impl std::fmt::Debug for RedirectParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedirectParams([redacted])")
    }
}

pub struct LoopbackListener {
    listener: TcpListener,
    path: String,
    port: u16,
}

impl LoopbackListener {
    /// Binds 127.0.0.1 (never all interfaces) on `port`, or an ephemeral
    /// port when it is 0.
    pub async fn bind(port: u16, path: &str) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|err| {
            if err.kind() == std::io::ErrorKind::AddrInUse {
                Error::validation(
                    "redirect_port",
                    format!(
                        "Redirect port {port} is already in use by another program. Close it, or choose another port \
                         (and register the new redirect URI with the provider)."
                    ),
                )
            } else {
                Error::network(format!("Latch could not listen on 127.0.0.1:{port} for the sign-in response: {err}."))
            }
        })?;
        let port = listener.local_addr().map_err(|e| Error::network(e.to_string()))?.port();
        Ok(LoopbackListener { listener, path: path.to_owned(), port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the authorization response until `timeout` passes, whatever
    /// else connects meanwhile.
    ///
    /// Only a response carrying `expected_state` ends the wait — with its
    /// code, token or `error`. Any other page can make the browser call this
    /// address (`<img src=http://127.0.0.1:PORT/callback?error=x>`), so a
    /// response with a wrong or missing `state` is answered with a page
    /// saying it was ignored, and the wait goes on (RFC 6749 §10.12). If
    /// nothing else comes, the timeout says what was ignored.
    ///
    /// Connections are served at the same time, each given
    /// [`REQUEST_READ_TIMEOUT`] to send its request: sockets left open and
    /// silent cannot hold up the browser. At most [`MAX_CONNECTIONS`] are
    /// open at once; past that a newcomer takes the place of the oldest one
    /// still silent, or is refused when every one is being answered.
    pub async fn wait(self, mode: ResponseMode, expected_state: &str, timeout: Duration) -> Result<RedirectParams> {
        let deadline = Instant::now() + timeout;
        let waiter = Arc::new(Waiter {
            path: self.path.clone(),
            origin: loopback_origin(self.port),
            mode,
            expected_state: Zeroizing::new(expected_state.to_owned()),
            ignored: Mutex::new(None),
        });
        // Dropping the set (when the wait ends, or the flow is cancelled)
        // aborts every connection still open; dropping `self` closes the port.
        let mut connections: JoinSet<Option<RedirectParams>> = JoinSet::new();
        let mut open: VecDeque<(AbortHandle, Arc<AtomicU8>)> = VecDeque::new();
        loop {
            tokio::select! {
                biased;
                Some(served) = connections.join_next() => {
                    if let Ok(Some(params)) = served {
                        return Ok(params);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return Err(waiter.timed_out(timeout)),
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    open.retain(|(task, _)| !task.is_finished());
                    if open.len() >= MAX_CONNECTIONS {
                        // Evict the oldest connection that has not sent its
                        // request yet; one being answered is never evicted.
                        let silent = open.iter().position(|(_, phase)| {
                            phase.compare_exchange(READING, EVICTED, Ordering::SeqCst, Ordering::SeqCst).is_ok()
                        });
                        match silent.and_then(|at| open.remove(at)) {
                            Some((task, _)) => task.abort(),
                            None => {
                                let _ = stream.try_write(
                                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                                );
                                continue;
                            }
                        }
                    }
                    let phase = Arc::new(AtomicU8::new(READING));
                    let task = connections.spawn(serve(waiter.clone(), stream, phase.clone()));
                    open.push_back((task, phase));
                }
            }
        }
    }
}

/// How long a connection has to send its whole request. A browser sends it
/// at once; a socket left open and silent is closed after this.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long writing the small answer page may take.
const RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;

/// Where a connection is: still reading its request (and so may be evicted
/// for a newer one), being answered (never evicted), or evicted.
const READING: u8 = 0;
const ANSWERING: u8 = 1;
const EVICTED: u8 = 2;

/// What every connection of one wait shares.
struct Waiter {
    path: String,
    /// `http://127.0.0.1:PORT`: the only `Origin` the fragment page's POST may carry.
    origin: String,
    mode: ResponseMode,
    expected_state: Zeroizing<String>,
    /// Why the last response that did not match was ignored.
    ignored: Mutex<Option<StateProblem>>,
}

impl Waiter {
    fn timed_out(&self, timeout: Duration) -> Error {
        let waited = human_duration(timeout);
        match *self.ignored.lock().unwrap_or_else(|p| p.into_inner()) {
            None => Error::new(
                ErrorKind::NeedsAuthorization,
                format!("Nobody finished signing in within {waited}, so Latch stopped waiting. Connect again when you are ready."),
            ),
            Some(problem) => Error::provider(format!(
                "Nobody finished signing in within {waited}, so Latch stopped waiting. A sign-in response did come back, but it \
                 {} {}",
                problem.what(),
                problem.next_step()
            )),
        }
    }

    /// What to answer `request`, and the response when it ends the wait.
    fn answer(&self, request: &Request) -> (Option<RedirectParams>, Reply) {
        let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
        if path != self.path {
            return (None, Reply::page(404, "Not found", "This address is only used by Latch while you sign in."));
        }
        let nothing = || (None, Reply::page(400, "Nothing to do", "No sign-in response was found in this address."));
        let params = match (request.method.as_str(), self.mode) {
            ("GET", _) if !query.is_empty() => RedirectParams::parse(query),
            ("GET", ResponseMode::Fragment) => return (None, Reply::FragmentPage),
            ("POST", ResponseMode::Fragment) => {
                // The page's fetch() sends the Origin it runs on: it must be
                // this listener. Anything else (another local program that
                // read the authorize URL) could hand Latch its own token.
                if request.header("origin") != Some(self.origin.as_str()) {
                    tracing::info!("refused a sign-in response posted from another origin");
                    return (None, Reply::Empty(403));
                }
                RedirectParams::parse(&String::from_utf8_lossy(&request.body))
            }
            _ => return nothing(),
        };
        if !params.is_response() {
            return nothing();
        }
        let post = request.method == "POST";
        match state_problem(&params, &self.expected_state) {
            None => {
                let (title, text) = if params.get("error").is_some() {
                    ("Sign-in did not complete", "The provider reported a problem. Return to Latch to see what happened.")
                } else {
                    ("Signed in", "You can close this tab and return to Latch.")
                };
                (Some(params), if post { Reply::Empty(200) } else { Reply::page(200, title, text) })
            }
            Some(problem) => {
                tracing::info!("ignored a sign-in response that does not answer Latch's request ({})", problem.short());
                *self.ignored.lock().unwrap_or_else(|p| p.into_inner()) = Some(problem);
                let reply = if post {
                    Reply::Empty(400)
                } else {
                    Reply::page(
                        400,
                        "Sign-in response ignored",
                        "This response does not belong to the sign-in Latch is waiting for, so Latch ignored it. If you \
                         are signing in, finish in the tab Latch opened for you.",
                    )
                };
                (None, reply)
            }
        }
    }
}

/// Serves one connection: reads its request within [`REQUEST_READ_TIMEOUT`]
/// and answers it. `Some` ends the wait.
async fn serve(waiter: Arc<Waiter>, mut stream: TcpStream, phase: Arc<AtomicU8>) -> Option<RedirectParams> {
    let request = tokio::time::timeout(REQUEST_READ_TIMEOUT, read_request(&mut stream)).await.ok().flatten()?;
    if phase.compare_exchange(READING, ANSWERING, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        return None; // evicted for a newer connection
    }
    let (outcome, reply) = waiter.answer(&request);
    // The outcome stands even if the browser stops reading the page.
    let _ = tokio::time::timeout(RESPONSE_WRITE_TIMEOUT, reply.write(&mut stream)).await;
    outcome
}

/// The `Origin` a page served on this listener sends (the port is left out
/// when it is 80, as browsers do).
fn loopback_origin(port: u16) -> String {
    url::Url::parse(&format!("http://127.0.0.1:{port}/")).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

/// An answer to one request.
enum Reply {
    Page { status: u16, body: String },
    /// The implicit flow's page, whose script posts the fragment back.
    FragmentPage,
    /// A status without a page (answers to the fragment page's POST).
    Empty(u16),
}

impl Reply {
    fn page(status: u16, title: &str, text: &str) -> Reply {
        Reply::Page { status, body: page(title, text, None) }
    }

    async fn write(self, stream: &mut TcpStream) {
        match self {
            Reply::Page { status, body } => respond(stream, status, &body).await,
            Reply::Empty(status) => respond(stream, status, "").await,
            Reply::FragmentPage => {
                // oauth2's CSRF generator: 128 random bits, base64url, valid in CSP.
                let nonce = oauth2::CsrfToken::new_random().secret().clone();
                let body = page("Finishing sign-in…", "Handing the sign-in response to Latch…", Some(&nonce));
                respond_with_script(stream, &body, &nonce).await;
            }
        }
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(2048);
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_REQUEST_BYTES {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_REQUEST_BYTES {
        return None;
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Request { method, target, headers, body })
}

/// Headers every page gets: no referrer (the URL held a code), no caching.
const COMMON_HEADERS: &str = "Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n";

async fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let csp = "default-src 'none'; style-src 'unsafe-inline'";
    write_response(stream, status, body, csp).await;
}

async fn respond_with_script(stream: &mut TcpStream, body: &str, nonce: &str) {
    let csp = format!("default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; connect-src 'self'");
    write_response(stream, 200, body, &csp).await;
}

async fn write_response(stream: &mut TcpStream, status: u16, body: &str, csp: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {csp}\r\n{COMMON_HEADERS}\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The small page the browser shows. With a nonce it carries the script that
/// posts the URL fragment back once, then removes it from the address bar.
fn page(title: &str, text: &str, script_nonce: Option<&str>) -> String {
    let script = script_nonce.map(|nonce| {
        format!(
            r#"<script nonce="{nonce}">
(function () {{
  var m = document.getElementById('m');
  var h = location.hash.slice(1);
  history.replaceState(null, '', location.pathname);
  if (!h) {{ m.textContent = 'No sign-in response was found in this address.'; return; }}
  fetch(location.pathname, {{ method: 'POST', headers: {{ 'Content-Type': 'application/x-www-form-urlencoded' }}, body: h }})
    .then(function (r) {{ m.textContent = r.ok ? 'You can close this tab and return to Latch.' : 'Latch ignored this sign-in response, because it does not belong to the sign-in Latch is waiting for.'; }})
    .catch(function () {{ m.textContent = 'Latch is no longer waiting for this sign-in. Return to Latch and connect again.'; }});
}})();
</script>"#
        )
    });
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} – Latch</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#1d2330}}
@media (prefers-color-scheme: dark){{body{{background:#15181f;color:#e6e8ee}}}}h1{{font-size:1.4rem}}</style></head>
<body><h1>{title}</h1><p id="m">{text}</p>{}</body></html>"#,
        script.unwrap_or_default()
    )
}

/// The response must carry the `state` Latch sent, or it did not come from
/// Latch's own request (RFC 6749 §10.12). Shared by the loopback listener and
/// the paste flow.
pub fn check_state(params: &RedirectParams, expected_state: &str) -> Result<()> {
    match state_problem(params, expected_state) {
        None => Ok(()),
        Some(problem) => Err(Error::provider(format!("The sign-in response {} {}", problem.what(), problem.next_step()))),
    }
}

/// Why a response's `state` does not answer Latch's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateProblem {
    Wrong,
    Missing,
}

impl StateProblem {
    /// Follows "The sign-in response …".
    fn what(self) -> &'static str {
        match self {
            StateProblem::Wrong => "did not match the request Latch made (wrong 'state'), so Latch ignored it.",
            StateProblem::Missing => {
                "had no 'state', so Latch could not tell that it answers its own request and ignored it."
            }
        }
    }

    fn next_step(self) -> &'static str {
        match self {
            StateProblem::Wrong => "This can happen with an old browser tab; connect again.",
            StateProblem::Missing => "Connect again; if it keeps happening, the provider does not support 'state'.",
        }
    }

    /// For the log: never the values.
    fn short(self) -> &'static str {
        match self {
            StateProblem::Wrong => "wrong state",
            StateProblem::Missing => "no state",
        }
    }
}

fn state_problem(params: &RedirectParams, expected_state: &str) -> Option<StateProblem> {
    match params.get("state") {
        Some(state) if constant_time_eq(state.as_bytes(), expected_state.as_bytes()) => None,
        Some(_) => Some(StateProblem::Wrong),
        None => Some(StateProblem::Missing),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs % 60 == 0 {
        let m = secs / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_listener_binds_loopback_only_on_an_ephemeral_port() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        assert_ne!(listener.port(), 0);
        assert!(listener.listener.local_addr().unwrap().ip().is_loopback());
    }

    #[tokio::test]
    async fn a_matching_state_returns_the_code_and_serves_the_close_page() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "s1", Duration::from_secs(5)));
        let stray = get(port, "/favicon.ico").await;
        assert!(stray.starts_with("HTTP/1.1 404"));
        let page = get(port, "/callback?code=c1&state=s1").await;
        assert!(page.contains("You can close this tab and return to Latch"));
        assert!(page.contains("Referrer-Policy: no-referrer"));
        let params = wait.await.unwrap().unwrap();
        assert_eq!(params.get("code"), Some("c1"));
        assert_eq!(format!("{params:?}"), "RedirectParams([redacted])");
    }

    #[tokio::test]
    async fn a_forged_state_is_answered_ignored_and_named_when_nothing_else_comes() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "expected", Duration::from_millis(500)));
        let page = get(port, "/callback?code=c1&state=forged").await;
        assert!(page.starts_with("HTTP/1.1 400"));
        assert!(page.contains("Latch ignored it"), "{page}");
        let err = wait.await.unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Provider);
        assert!(err.message.starts_with("Nobody finished signing in within 0 seconds"), "{}", err.message);
        assert!(err.message.contains("wrong 'state'"), "{}", err.message);
        assert!(!err.message.contains("forged") && !err.message.contains("expected"), "no state value: {}", err.message);
    }

    #[tokio::test]
    async fn a_missing_state_is_answered_ignored_and_named_when_nothing_else_comes() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "expected", Duration::from_millis(500)));
        get(port, "/callback?code=c1").await;
        assert!(wait.await.unwrap().unwrap_err().message.contains("had no 'state'"));
    }

    /// Opens `n` connections that never send a byte.
    async fn idle_sockets(port: u16, n: usize) -> Vec<TcpStream> {
        let mut idle = Vec::new();
        for _ in 0..n {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        idle
    }

    #[tokio::test]
    async fn idle_sockets_and_a_forged_error_do_not_stop_the_real_callback() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let started = std::time::Instant::now();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "s1", Duration::from_secs(60)));
        let _idle = idle_sockets(port, 20).await;
        // What `<img src=http://127.0.0.1:PORT/callback?error=x&state=wrong>` on any web page sends.
        let forged = get(port, "/callback?error=access_denied&state=wrong").await;
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        assert!(forged.contains("does not belong to the sign-in Latch is waiting for"), "{forged}");
        assert!(!wait.is_finished(), "a forged error does not end the sign-in");

        let page = get(port, "/callback?code=c1&state=s1").await;
        assert!(page.contains("You can close this tab"), "{page}");
        let params = tokio::time::timeout(Duration::from_secs(2), wait).await.expect("answered promptly").unwrap().unwrap();
        assert_eq!(params.get("code"), Some("c1"));
        assert!(started.elapsed() < REQUEST_READ_TIMEOUT, "not held up by the idle sockets: {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_forged_callback_without_state_does_not_end_the_sign_in() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "s1", Duration::from_secs(60)));
        let forged = get(port, "/callback?error=access_denied").await;
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!wait.is_finished(), "a response without state does not end the sign-in");
        get(port, "/callback?code=c2&state=s1").await;
        let params = tokio::time::timeout(Duration::from_secs(2), wait).await.unwrap().unwrap().unwrap();
        assert_eq!(params.get("code"), Some("c2"));
    }

    #[tokio::test]
    async fn only_an_error_with_the_matching_state_ends_the_sign_in() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "s1", Duration::from_secs(60)));
        let page = get(port, "/callback?error=access_denied&state=s1").await;
        assert!(page.contains("The provider reported a problem"), "{page}");
        let params = wait.await.unwrap().unwrap();
        assert_eq!(params.get("error"), Some("access_denied"));
    }

    #[tokio::test]
    async fn the_timeout_holds_with_idle_sockets_open() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let started = std::time::Instant::now();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "s", Duration::from_millis(300)));
        let _idle = idle_sockets(port, 20).await;
        let err = tokio::time::timeout(Duration::from_secs(3), wait).await.expect("the timeout holds").unwrap().unwrap_err();
        assert_eq!(err.kind, ErrorKind::NeedsAuthorization);
        assert!(err.message.starts_with("Nobody finished signing in"), "{}", err.message);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_silent_socket_is_closed_after_the_read_timeout() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let _wait = tokio::spawn(listener.wait(ResponseMode::Query, "s", Duration::from_secs(60)));
        let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let started = std::time::Instant::now();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(REQUEST_READ_TIMEOUT + Duration::from_secs(2), idle.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed by the listener: {read:?}");
        assert!(started.elapsed() >= REQUEST_READ_TIMEOUT - Duration::from_millis(100));
    }

    async fn post_fragment(port: u16, origin: Option<&str>, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
        s.write_all(
            format!(
                "POST /cb HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n{origin}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_fragment_post_must_come_from_the_listeners_own_origin() {
        let listener = LoopbackListener::bind(0, "/cb").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Fragment, "s", Duration::from_secs(60)));
        let injected = "access_token=injected&state=s&token_type=bearer";
        // Another local program that read the authorize URL, with no Origin or a foreign one.
        assert!(post_fragment(port, None, injected).await.starts_with("HTTP/1.1 403"));
        assert!(post_fragment(port, Some("http://evil.example"), injected).await.starts_with("HTTP/1.1 403"));
        assert!(post_fragment(port, Some("http://localhost:1"), injected).await.starts_with("HTTP/1.1 403"));
        assert!(post_fragment(port, Some("null"), injected).await.starts_with("HTTP/1.1 403"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!wait.is_finished(), "refused posts do not end the sign-in");

        let own = format!("http://127.0.0.1:{port}");
        let answer = post_fragment(port, Some(&own), "access_token=t1&state=s&token_type=bearer").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let params = wait.await.unwrap().unwrap();
        assert_eq!(params.get("access_token"), Some("t1"));
    }

    #[tokio::test]
    async fn the_fragment_page_posts_back_and_the_post_is_the_response() {
        let listener = LoopbackListener::bind(0, "/cb").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Fragment, "s", Duration::from_secs(5)));
        let page = get(port, "/cb").await;
        assert!(page.contains("location.hash"));
        assert!(page.contains("script-src 'nonce-"));
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let body = "access_token=t1&state=s&token_type=bearer";
        s.write_all(
            format!(
                "POST /cb HTTP/1.1\r\nOrigin: http://127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let params = wait.await.unwrap().unwrap();
        assert_eq!(params.get("access_token"), Some("t1"));
    }

    #[tokio::test]
    async fn waiting_ends_with_a_clear_message_after_the_timeout() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let err = listener.wait(ResponseMode::Query, "s", Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NeedsAuthorization);
        assert!(err.message.starts_with("Nobody finished signing in within 0 seconds"), "{}", err.message);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(300)), "5 minutes");
        assert_eq!(human_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(human_duration(Duration::from_secs(45)), "45 seconds");
    }

    #[test]
    fn a_pasted_address_must_be_the_redirect_uri_and_carry_a_response() {
        let redirect = "https://www.make.com/oauth/cb/app";
        let params = RedirectParams::from_pasted_url(
            "  https://www.make.com/oauth/cb/app?code=abc&state=xyz\n",
            redirect,
            ResponseMode::Query,
        )
        .unwrap();
        assert_eq!(params.get("code"), Some("abc"));
        assert!(check_state(&params, "xyz").is_ok());
        assert!(check_state(&params, "other").unwrap_err().message.contains("wrong 'state'"));

        let elsewhere = RedirectParams::from_pasted_url("https://evil.example/cb/app?code=abc&state=xyz", redirect, ResponseMode::Query);
        assert!(elsewhere.unwrap_err().message.starts_with("The address you pasted is not the redirect URI"));
        let empty = RedirectParams::from_pasted_url("https://www.make.com/oauth/cb/app", redirect, ResponseMode::Query);
        assert!(empty.unwrap_err().message.contains("holds no sign-in response"));
        assert!(RedirectParams::from_pasted_url("code=abc", redirect, ResponseMode::Query).is_err());
    }
}
