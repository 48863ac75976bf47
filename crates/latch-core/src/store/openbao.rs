//! A client for OpenBao's (and HashiCorp Vault's) KV version 2 secrets
//! engine, on its documented HTTP API (openbao.org/api-docs/secret/kv/kv-v2):
//! `GET/POST /v1/<mount>/data/<path>` (a write may carry `options.cas`, the
//! version it expects, 0 for "only if absent"), `DELETE /v1/<mount>/metadata/<path>`
//! (every version) and `LIST /v1/<mount>/metadata/<path>`.
//!
//! The token travels in the `X-Vault-Token` header and nowhere else: never
//! in an address, a message or a log line. TLS is verified (an extra CA file
//! may be trusted); plain http is allowed only to this computer. Redirects
//! are not followed, so the header never goes to another host.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// An OpenBao token. Prints as `[redacted]`; zeroized on drop.
pub struct BaoToken(Zeroizing<String>);

impl BaoToken {
    pub fn new(token: String) -> BaoToken {
        BaoToken(Zeroizing::new(token))
    }

    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BaoToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BaoToken([redacted])")
    }
}

/// Where a KV v2 store is: the server's address, the mount and an
/// optional CA certificate (PEM) to trust besides the system's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvAddress {
    pub addr: String,
    pub mount: String,
    pub ca_file: Option<PathBuf>,
}

/// A document read from the store: its data and its version.
pub struct Document {
    pub version: u64,
    pub data: Map<String, Value>,
}

impl Document {
    pub fn text(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }
}

/// How a check-and-set write ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Stored as this version.
    Version(u64),
    /// The document's version was not the one expected: someone else wrote.
    Conflict,
}

/// A KV v2 client with one token.
pub struct Kv {
    http: reqwest::Client,
    /// The store's addresses: one, or each node of a cluster. Requests go
    /// to the current one and move on to the next when it does not answer.
    bases: Vec<url::Url>,
    current: std::sync::atomic::AtomicUsize,
    mount: String,
    /// Swapped when the token is renewed into a new one or Latch logs in
    /// again; never held across an await.
    token: std::sync::RwLock<BaoToken>,
    /// Counts token swaps: a request refused with an older token is simply sent again.
    generation: std::sync::atomic::AtomicU64,
    /// Gets a new token when OpenBao no longer knows this one (`openbao_auth.rs`).
    recovery: std::sync::OnceLock<std::sync::Arc<dyn TokenRecovery>>,
}

/// What a client does when OpenBao answers 403: find out whether the token
/// is gone (expired, revoked) rather than short of a policy, and if so put a
/// new one in place. `Ok(true)`: send the request again.
pub trait TokenRecovery: Send + Sync {
    fn recover<'a>(&'a self, kv: &'a Kv) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool>> + Send + 'a>>;
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv").field("base", &self.base().as_str()).field("mount", &self.mount).field("token", &"[redacted]").finish()
    }
}

/// The address checked: https, or plain http to this computer only.
pub fn check_addr(addr: &str) -> Result<url::Url> {
    let invalid = |why: &str| Error::validation("addr", format!("The OpenBao address '{addr}' {why}"));
    let url = url::Url::parse(addr.trim()).map_err(|_| invalid("is not an address (e.g. https://bao.example:8200)."))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(invalid("must use https: the token and the team's secrets would cross the network unencrypted.")),
        _ => Err(invalid("must start with https://.")),
    }
}

/// One address, or several separated by commas (the nodes of a cluster,
/// tried in turn), each checked; at most eight.
pub fn check_addrs(addrs: &str) -> Result<Vec<url::Url>> {
    let list: Vec<&str> = addrs.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
    if list.is_empty() {
        return Err(Error::validation("addr", "Give the OpenBao address (e.g. https://bao.example:8200)."));
    }
    if list.len() > 8 {
        return Err(Error::validation("addr", format!("{} OpenBao addresses were given; at most 8 are tried.", list.len())));
    }
    list.into_iter().map(check_addr).collect()
}

/// The addresses as the team's row keeps them: trimmed, without a trailing
/// `/`, separated by `,`.
pub fn clean_addrs(addrs: &str) -> String {
    addrs.split(',').map(|a| a.trim().trim_end_matches('/')).filter(|a| !a.is_empty()).collect::<Vec<_>>().join(",")
}

/// Whether OpenBao's answer means this node will not do it but another may:
/// a standby's redirect, too many requests, sealed or not active. Nothing
/// was applied, so the request can go to the next address.
fn ask_another(status: u16) -> bool {
    matches!(status, 301..=308 | 429 | 503)
}

/// A mount or path: segments of letters, digits, `-`, `_` and `.`, joined by `/`.
pub fn check_path(field: &'static str, value: &str) -> Result<String> {
    let trimmed = value.trim().trim_matches('/');
    let ok = !trimmed.is_empty()
        && trimmed.split('/').all(|segment| {
            !segment.is_empty() && segment != ".." && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(Error::validation(
            field,
            format!("The {field} '{value}' is not a KV path: use letters, digits, '-', '_' and '.', separated by '/'."),
        ))
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

impl Kv {
    pub fn new(address: &KvAddress, token: BaoToken) -> Result<Kv> {
        let bases = check_addrs(&address.addr)?;
        let mount = check_path("mount", &address.mount)?;
        let mut builder =
            reqwest::Client::builder().timeout(TIMEOUT).connect_timeout(Duration::from_secs(5)).redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &address.ca_file {
            let pem = std::fs::read(path)
                .map_err(|err| Error::validation("ca_file", format!("Latch could not read the CA file {}: {err}.", path.display())))?;
            let certificate = reqwest::Certificate::from_pem(&pem)
                .map_err(|_| Error::validation("ca_file", format!("{} is not a PEM certificate.", path.display())))?;
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder.build().map_err(|err| Error::storage(format!("Latch could not set up its OpenBao client: {err}.")))?;
        Ok(Kv {
            http,
            bases,
            current: Default::default(),
            mount,
            token: std::sync::RwLock::new(token),
            generation: Default::default(),
            recovery: Default::default(),
        })
    }

    /// Uses `token` from now on (renewed into a new one, or a new login).
    pub fn set_token(&self, token: BaoToken) {
        *self.token.write().unwrap_or_else(|p| p.into_inner()) = token;
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Asks `recovery` for a new token when OpenBao refuses this one.
    pub fn set_recovery(&self, recovery: std::sync::Arc<dyn TokenRecovery>) {
        let _ = self.recovery.set(recovery);
    }

    /// Sends the request `make` builds; on a 403, once the token has been
    /// replaced (by this request's recovery or a concurrent one), once more.
    async fn exchange(&self, make: impl Fn() -> reqwest::RequestBuilder) -> Result<(u16, Value)> {
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let response = self.send(&make).await?;
        let status = response.status().as_u16();
        let body = body_of(response).await;
        if status != 403 {
            return Ok((status, body));
        }
        let replaced = match self.recovery.get() {
            _ if self.generation.load(std::sync::atomic::Ordering::SeqCst) != generation => true,
            Some(recovery) => recovery.recover(self).await?,
            None => false,
        };
        if !replaced {
            return Ok((status, body));
        }
        let response = self.send(&make).await?;
        let status = response.status().as_u16();
        Ok((status, body_of(response).await))
    }

    /// Sends what `make` builds (for the current address) to the current
    /// address; when nothing answers there (no connection: the request was
    /// never sent) or the node says to ask another, to the next one, each
    /// address once. The one that answered stays the current one. A request
    /// that may have reached a node (a timeout, a server error) is not sent
    /// again: a check-and-set write must not be applied twice.
    pub(crate) async fn send(&self, make: &impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response> {
        use std::sync::atomic::Ordering::SeqCst;
        let count = self.bases.len();
        let mut tries = 0;
        loop {
            tries += 1;
            let at = self.current.load(SeqCst);
            let last = tries >= count;
            match make().send().await {
                Ok(response) if !last && ask_another(response.status().as_u16()) => {
                    tracing::info!(status = response.status().as_u16(), "the team store's node cannot answer; trying the next address");
                }
                Ok(response) => return Ok(response),
                Err(err) if !last && err.is_connect() => {
                    tracing::info!(error = %self.unreachable(&err), "trying the team store's next address");
                }
                Err(err) => return Err(self.unreachable(&err)),
            }
            // On to the next address, unless a concurrent request moved on already.
            let _ = self.current.compare_exchange(at, (at + 1) % count, SeqCst, SeqCst);
        }
    }

    /// The HTTP client, for requests that carry no token (logging in).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The address requests go to now.
    pub fn base(&self) -> &url::Url {
        &self.bases[self.current.load(std::sync::atomic::Ordering::SeqCst) % self.bases.len()]
    }

    /// `<addr>/v1/<path>`, for the API outside the KV mount (auth, sys).
    pub fn api_url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.base().as_str().trim_end_matches('/'), path.trim_matches('/'))
    }

    fn url(&self, api: &str, path: &str) -> String {
        let base = self.base().as_str().trim_end_matches('/');
        format!("{base}/v1/{}/{api}/{}", self.mount, path.trim_matches('/'))
    }

    pub(crate) fn request(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        let header = token_header(&self.token.read().unwrap_or_else(|p| p.into_inner()));
        self.http.request(method, url).header("X-Vault-Token", header)
    }

    /// Whether the server answers and is ready (unsealed, active).
    pub async fn health(&self) -> Result<()> {
        // 429 is a standby: it answers (and passes requests on).
        let response = self.send(&|| self.http.get(self.api_url("sys/health?standbyok=true"))).await?;
        match response.status().as_u16() {
            200 | 429 => Ok(()),
            503 => Err(Error::network(format!("The team store at {} is sealed: an operator has to unseal it.", self.base()))),
            status => Err(Error::network(format!("The team store at {} is not ready (HTTP {status}).", self.base()))),
        }
    }

    /// The latest version of `path`, or `None` when there is none (or it
    /// was deleted). `purpose` names what the document is, for messages.
    pub async fn read(&self, path: &str, purpose: &str) -> Result<Option<Document>> {
        let (status, body) = self.exchange(|| self.request(reqwest::Method::GET, self.url("data", path))).await?;
        match status {
            200 => {
                let version = body["data"]["metadata"]["version"].as_u64().unwrap_or(0);
                match body["data"]["data"].clone() {
                    Value::Object(data) => Ok(Some(Document { version, data })),
                    _ => Ok(None),
                }
            }
            404 => Ok(None),
            _ => Err(self.refused(status, &body, "read", purpose)),
        }
    }

    /// The version of `path` that a check-and-set write must name: the
    /// latest version, also when that one was deleted; 0 when there is none.
    pub async fn current_version(&self, path: &str, purpose: &str) -> Result<u64> {
        let (status, body) = self.exchange(|| self.request(reqwest::Method::GET, self.url("metadata", path))).await?;
        match status {
            200 => Ok(body["data"]["current_version"].as_u64().unwrap_or(0)),
            404 => Ok(0),
            _ => Err(self.refused(status, &body, "read", purpose)),
        }
    }

    /// Writes a new version of `path`; with `cas`, only over that version
    /// (0: only when there is none).
    pub async fn write(&self, path: &str, data: &Value, cas: Option<u64>, purpose: &str) -> Result<Written> {
        let body = match cas {
            Some(version) => json!({ "options": { "cas": version }, "data": data }),
            None => json!({ "data": data }),
        };
        let text = Zeroizing::new(serde_json::to_string(&body).expect("JSON values serialise"));
        let (status, body) = self
            .exchange(|| {
                self.request(reqwest::Method::POST, self.url("data", path))
                    .header("Content-Type", "application/json")
                    .body(text.as_bytes().to_vec())
            })
            .await?;
        match status {
            200 | 204 => Ok(Written::Version(body["data"]["version"].as_u64().unwrap_or(0))),
            400 if errors_text(&body).contains("check-and-set") => Ok(Written::Conflict),
            _ => Err(self.refused(status, &body, "write", purpose)),
        }
    }

    /// Deletes every version of `path` and its metadata. Deleting what is
    /// not there is not an error.
    pub async fn delete(&self, path: &str, purpose: &str) -> Result<()> {
        let (status, body) = self.exchange(|| self.request(reqwest::Method::DELETE, self.url("metadata", path))).await?;
        match status {
            200 | 204 | 404 => Ok(()),
            _ => Err(self.refused(status, &body, "delete", purpose)),
        }
    }

    /// The names directly under `path` (folders end in `/`); empty when
    /// there is nothing there yet.
    pub async fn list(&self, path: &str, purpose: &str) -> Result<Vec<String>> {
        let method = reqwest::Method::from_bytes(b"LIST").expect("a valid method name");
        let (status, body) = self.exchange(|| self.request(method.clone(), self.url("metadata", path))).await?;
        match status {
            200 => Ok(body["data"]["keys"]
                .as_array()
                .map(|keys| keys.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()),
            404 => Ok(Vec::new()),
            _ => Err(self.refused(status, &body, "list", purpose)),
        }
    }

    pub(crate) fn unreachable(&self, err: &reqwest::Error) -> Error {
        // reqwest's message names the address only; the token is in a header.
        let why = if err.is_timeout() {
            "it did not answer in time".to_owned()
        } else if err.is_connect() {
            "nothing answered at that address, or its TLS certificate is not trusted (a CA certificate for it can be given when joining)".to_owned()
        } else {
            "the connection failed".to_owned()
        };
        Error::network(format!("The team store at {} could not be reached: {why}. Check the address and your network.", self.base()))
    }

    fn refused(&self, status: u16, body: &Value, verb: &str, purpose: &str) -> Error {
        let said = errors_text(body);
        if let Some(busy) = self.not_ready(status) {
            return busy;
        }
        match status {
            403 if said.contains("permission denied") || said.is_empty() => Error::new(
                ErrorKind::Storage,
                format!(
                    "The team store denied Latch permission to {verb} {purpose}: your OpenBao token's policy does not \
                     allow it. Ask the team's OpenBao administrator for the policy you need."
                ),
            ),
            403 => Error::new(
                ErrorKind::Storage,
                format!("The team store refused your OpenBao token ({said}). It may have expired: join the team again with a new one."),
            ),
            _ => Error::storage(format!(
                "The team store could not {verb} {purpose} (HTTP {status}{}).",
                if said.is_empty() { String::new() } else { format!(": {said}") }
            )),
        }
    }
}

impl Kv {
    /// An answer that means the store cannot serve right now, as a network
    /// failure (the outage is dated, valid tokens keep being used, Latch
    /// tries again): a standby sending Latch to a leader that is gone (a
    /// redirect, during an election), too many requests, or a server error.
    pub fn not_ready(&self, status: u16) -> Option<Error> {
        match status {
            301..=308 | 429 | 500..=599 => Some(Error::network(format!(
                "The team store at {} cannot answer right now (HTTP {status}: it may be choosing a new leader, sealed or \
                 overloaded). Latch keeps using the tokens it has and tries again by itself.",
                self.base()
            ))),
            _ => None,
        }
    }
}

/// The `X-Vault-Token` header, marked sensitive so no HTTP-level debug
/// output ever shows it.
pub(crate) fn token_header(token: &BaoToken) -> reqwest::header::HeaderValue {
    let mut value =
        reqwest::header::HeaderValue::from_str(token.secret()).unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// A response's JSON body; `null` when it has none (204) or is not JSON.
async fn body_of(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// OpenBao's `errors` list as one line.
pub(crate) fn errors_text(body: &Value) -> String {
    let list = body["errors"].as_array().map(|errors| errors.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "));
    list.unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ").trim_start_matches("1 error occurred: * ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_prints_as_redacted() {
        let token = BaoToken::new("s.abcdef123456".into());
        assert_eq!(format!("{token:?}"), "BaoToken([redacted])");
        let kv = Kv::new(&KvAddress { addr: "http://127.0.0.1:8200".into(), mount: "secret".into(), ca_file: None }, token).unwrap();
        assert!(!format!("{kv:?}").contains("abcdef"), "{kv:?}");
    }

    #[test]
    fn plain_http_is_only_for_this_computer() {
        assert!(check_addr("http://127.0.0.1:8200").is_ok());
        assert!(check_addr("http://localhost:8200").is_ok());
        assert!(check_addr("https://bao.example:8200").is_ok());
        let err = check_addr("http://bao.example:8200").unwrap_err();
        assert!(err.message.contains("must use https"), "{}", err.message);
    }

    #[test]
    fn a_cluster_is_its_nodes_separated_by_commas_each_checked() {
        let nodes = check_addrs(" https://a.example:8200/ , https://b.example:8200,").unwrap();
        assert_eq!(nodes.iter().map(|u| u.host_str().unwrap()).collect::<Vec<_>>(), ["a.example", "b.example"]);
        assert_eq!(clean_addrs(" https://a.example:8200/ , https://b.example:8200,"), "https://a.example:8200,https://b.example:8200");
        let err = check_addrs("https://a.example:8200,http://b.example:8200").unwrap_err();
        assert!(err.message.contains("'http://b.example:8200' must use https"), "{}", err.message);
        assert!(check_addrs(" , ").unwrap_err().message.contains("Give the OpenBao address"));
        assert!(check_addrs(&vec!["https://a.example"; 9].join(",")).unwrap_err().message.contains("at most 8"));
    }

    /// A loopback server answering each request with `status` and `body`;
    /// its address.
    async fn node(status: u16, body: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        addr
    }

    /// An address where nothing listens.
    fn dead_node() -> String {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", socket.local_addr().unwrap())
    }

    fn kv(addrs: &[&str]) -> Kv {
        let address = KvAddress { addr: addrs.join(","), mount: "secret".into(), ca_file: None };
        Kv::new(&address, BaoToken::new("t".into())).unwrap()
    }

    const DOC: &str = r#"{"data":{"data":{"v":"1"},"metadata":{"version":3}}}"#;

    #[tokio::test]
    async fn a_node_that_does_not_answer_or_sends_latch_elsewhere_is_passed_over_and_the_next_one_kept() {
        let (dead, standby, active) = (dead_node(), node(307, "").await, node(200, DOC).await);
        let kv = kv(&[&dead, &standby, &active]);
        let read = kv.read("teams/x", "a document").await.unwrap().unwrap();
        assert_eq!((read.version, read.text("v")), (3, Some("1")));
        assert_eq!(kv.base().as_str().trim_end_matches('/'), active, "the node that answered stays the current one");
        assert!(kv.read("teams/x", "a document").await.unwrap().is_some());
        assert_eq!(kv.base().as_str().trim_end_matches('/'), active);
    }

    #[tokio::test]
    async fn the_tokens_own_calls_go_to_the_next_node_too() {
        let (dead, active) = (dead_node(), node(200, r#"{"data":{"ttl":3600,"renewable":true}}"#).await);
        let store = kv(&[&dead, &active]);
        let now = chrono::Utc::now();
        let life = crate::store::openbao_auth::lookup(&store, now).await.unwrap().expect("a known token");
        assert!(life.renewable && life.expires_at.is_some());
        assert_eq!(store.base().as_str().trim_end_matches('/'), active);
    }

    #[tokio::test]
    async fn a_request_that_may_have_been_applied_is_not_sent_to_another_node() {
        // A server error: the write may have happened; it is not repeated elsewhere.
        let (failing, active) = (node(500, r#"{"errors":["internal error"]}"#).await, node(200, DOC).await);
        let store = kv(&[&failing, &active]);
        assert!(store.write("teams/x", &json!({"v": "2"}), Some(3), "a document").await.is_err());
        assert_eq!(store.base().as_str().trim_end_matches('/'), failing);
        // With every node down, the error names the last one tried.
        let (a, b) = (dead_node(), dead_node());
        let err = kv_err(&kv(&[&a, &b])).await;
        assert!(err.contains("could not be reached"), "{err}");
    }

    async fn kv_err(kv: &Kv) -> String {
        match kv.read("teams/x", "a document").await {
            Ok(_) => panic!("read from a store that is down"),
            Err(err) => err.message,
        }
    }

    #[test]
    fn a_path_has_plain_segments_only() {
        assert_eq!(check_path("path", "/teams/sales/").unwrap(), "teams/sales");
        assert!(check_path("path", "teams/../x").is_err());
        assert!(check_path("path", "teams//x").is_err());
        assert!(check_path("path", "teams/a b").is_err());
    }

    #[test]
    fn openbaos_error_list_reads_as_one_line() {
        let body = json!({ "errors": ["1 error occurred:\n\t* permission denied\n\n"] });
        assert_eq!(errors_text(&body), "permission denied");
        let body = json!({ "errors": ["check-and-set parameter did not match the current version"] });
        assert!(errors_text(&body).contains("check-and-set"));
    }
}
