//! The one-shot loopback redirect listener (RFC 8252 §7.3): bound to
//! 127.0.0.1 only, it waits for the browser to come back with the
//! authorization response, serves a small page and stops.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// How long the user has to finish signing in.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const MAX_REQUEST_BYTES: usize = 64 * 1024;
const PER_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

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

    /// Waits for the authorization response until `timeout` passes. A
    /// response whose `state` differs from `expected_state` ends the wait
    /// with an error: it did not come from the request Latch made (RFC 6749
    /// §10.12).
    pub async fn wait(self, mode: ResponseMode, expected_state: &str, timeout: Duration) -> Result<RedirectParams> {
        let deadline = Instant::now() + timeout;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let Ok(accepted) = accepted else {
                return Err(Error::new(
                    ErrorKind::NeedsAuthorization,
                    format!(
                        "Nobody finished signing in within {}, so Latch stopped waiting. Connect again when you are ready.",
                        human_duration(timeout)
                    ),
                ));
            };
            let Ok((stream, _)) = accepted else { continue };
            match tokio::time::timeout(PER_CONNECTION_TIMEOUT, self.serve(stream, mode, expected_state)).await {
                Ok(Some(outcome)) => return outcome,
                // A stray request (favicon, preconnect, the implicit page
                // itself) or a stalled connection: keep waiting.
                Ok(None) | Err(_) => continue,
            }
        }
    }

    /// Serves one HTTP request. `Some` ends the wait.
    async fn serve(&self, mut stream: TcpStream, mode: ResponseMode, expected_state: &str) -> Option<Result<RedirectParams>> {
        let request = read_request(&mut stream).await?;
        let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
        if path != self.path {
            respond(&mut stream, 404, &page("Not found", "This address is only used by Latch while you sign in.", None)).await;
            return None;
        }

        let params = match (request.method.as_str(), mode) {
            ("GET", _) if !query.is_empty() => RedirectParams::parse(query),
            ("GET", ResponseMode::Fragment) => {
                // oauth2's CSRF generator: 128 random bits, base64url, valid in CSP.
                let nonce = oauth2::CsrfToken::new_random().secret().clone();
                let body = page("Finishing sign-in…", "Handing the sign-in response to Latch…", Some(&nonce));
                respond_with_script(&mut stream, &body, &nonce).await;
                return None;
            }
            ("POST", ResponseMode::Fragment) => {
                // A browser's fetch() from the page sends an Origin; it must be ours.
                if let Some(origin) = request.header("origin") {
                    if origin != format!("http://127.0.0.1:{}", self.port) {
                        respond(&mut stream, 403, "").await;
                        return None;
                    }
                }
                RedirectParams::parse(&String::from_utf8_lossy(&request.body))
            }
            _ => {
                respond(&mut stream, 400, &page("Nothing to do", "No sign-in response was found in this address.", None)).await;
                return None;
            }
        };
        if !params.is_response() {
            respond(&mut stream, 400, &page("Nothing to do", "No sign-in response was found in this address.", None)).await;
            return None;
        }

        let outcome = check_state(&params, expected_state).map(|()| params);
        let (status, title, text) = match &outcome {
            Ok(p) if p.get("error").is_some() => {
                (200, "Sign-in did not complete", "The provider reported a problem. Return to Latch to see what happened.")
            }
            Ok(_) => (200, "Signed in", "You can close this tab and return to Latch."),
            Err(_) => (400, "Sign-in response refused", "This response did not match Latch's request. Return to Latch and connect again."),
        };
        if request.method == "POST" {
            respond(&mut stream, status, "").await;
        } else {
            respond(&mut stream, status, &page(title, text, None)).await;
        }
        Some(outcome)
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
    .then(function (r) {{ m.textContent = r.ok ? 'You can close this tab and return to Latch.' : 'Latch refused this sign-in response. Return to Latch and connect again.'; }})
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
    match params.get("state") {
        Some(state) if constant_time_eq(state.as_bytes(), expected_state.as_bytes()) => Ok(()),
        Some(_) => Err(Error::provider(
            "The sign-in response did not match the request Latch made (wrong 'state'), so Latch ignored it. \
             This can happen with an old browser tab; connect again.",
        )),
        None => Err(Error::provider(
            "The sign-in response had no 'state', so Latch could not tell that it answers its own request and ignored it. \
             Connect again; if it keeps happening, the provider does not support 'state'.",
        )),
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
    async fn a_forged_state_is_refused() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "expected", Duration::from_secs(5)));
        let page = get(port, "/callback?code=c1&state=forged").await;
        assert!(page.starts_with("HTTP/1.1 400"));
        let err = wait.await.unwrap().unwrap_err();
        assert!(err.message.contains("wrong 'state'"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_missing_state_is_refused() {
        let listener = LoopbackListener::bind(0, "/callback").await.unwrap();
        let port = listener.port();
        let wait = tokio::spawn(listener.wait(ResponseMode::Query, "expected", Duration::from_secs(5)));
        get(port, "/callback?code=c1").await;
        assert!(wait.await.unwrap().unwrap_err().message.contains("had no 'state'"));
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
            format!("POST /cb HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len())
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
