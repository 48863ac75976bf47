//! All HTTP to providers goes through here: one reqwest client with
//! redirects disabled (oauth2-rs's SSRF advice), a 30-second timeout and a
//! cap on how much of a response is read.

use std::time::Duration;

use oauth2::http::{self, HeaderValue};

/// Every provider request gives up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// OAuth endpoints (token, revoke, info) answer in kilobytes; more is wrong.
pub const OAUTH_RESPONSE_LIMIT: usize = 1024 * 1024;
/// `latch request` bodies may be larger, but not unbounded: they are held in
/// memory to be shown.
pub const API_RESPONSE_LIMIT: usize = 16 * 1024 * 1024;

pub type HttpRequest = http::Request<Vec<u8>>;
pub type HttpResponse = http::Response<Vec<u8>>;

/// Why a request got no usable HTTP response. Never carries a URL: with
/// query placement the URL holds the access token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("{host} did not answer within {} seconds", REQUEST_TIMEOUT.as_secs())]
    Timeout { host: String },
    #[error("could not connect to {host}")]
    Connect { host: String },
    #[error("the response from {host} was larger than {} KiB, so Latch stopped reading it", limit / 1024)]
    TooLarge { host: String, limit: usize },
    #[error("the request to {host} failed: {reason}")]
    Other { host: String, reason: String },
}

#[derive(Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
    /// Endpoint addresses this client sends elsewhere: a client with a TLS
    /// certificate uses the server's `mtls_endpoint_aliases` for them
    /// (RFC 8705 §5). Empty for the shared client.
    aliases: std::sync::Arc<Vec<(String, String)>>,
}

impl Default for ProviderHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl ProviderHttp {
    pub fn new() -> Self {
        Self::from_builder(reqwest::Client::builder()).expect("the TLS backend initialises")
    }

    /// A client with the same rules from `builder` (one that presents a
    /// TLS client certificate, RFC 8705).
    pub fn from_builder(builder: reqwest::ClientBuilder) -> Result<Self, reqwest::Error> {
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Latch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ProviderHttp { client, aliases: Default::default() })
    }

    /// This client, sending requests for each `(endpoint, alias)` pair's
    /// endpoint to its alias instead (RFC 8705 §5 `mtls_endpoint_aliases`).
    pub fn with_aliases(self, aliases: Vec<(String, String)>) -> Self {
        ProviderHttp { aliases: std::sync::Arc::new(aliases), ..self }
    }

    /// Sends `request` and reads at most `limit` bytes of the answer.
    pub async fn send(&self, mut request: HttpRequest, limit: usize) -> Result<HttpResponse, HttpError> {
        if let Some(alias) = self.alias_of(&request.uri().to_string()) {
            *request.uri_mut() = alias;
        }
        let host = request.uri().host().unwrap_or("the provider").to_owned();
        let request = reqwest::Request::try_from(request)
            .map_err(|err| HttpError::Other { host: host.clone(), reason: err.without_url().to_string() })?;
        let mut response = self.client.execute(request).await.map_err(|err| classify(err, &host))?;

        let mut builder = http::Response::builder().status(response.status()).version(response.version());
        if let Some(headers) = builder.headers_mut() {
            headers.extend(response.headers().iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(HttpError::TooLarge { host, limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| classify(err, &host))? {
            if body.len() + chunk.len() > limit {
                return Err(HttpError::TooLarge { host, limit });
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|err| HttpError::Other { host, reason: err.to_string() })
    }
}

impl ProviderHttp {
    /// The alias of `url` when it is one of the aliased endpoints (its
    /// query kept).
    fn alias_of(&self, url: &str) -> Option<http::Uri> {
        let (address, query) = match url.split_once('?') {
            Some((address, query)) => (address, Some(query)),
            None => (url, None),
        };
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        let (_, alias) = self.aliases.iter().find(|(endpoint, _)| same(endpoint, address))?;
        let target = match query {
            Some(query) if alias.contains('?') => format!("{alias}&{query}"),
            Some(query) => format!("{alias}?{query}"),
            None => alias.clone(),
        };
        target.parse().ok()
    }
}

fn classify(err: reqwest::Error, host: &str) -> HttpError {
    let host = host.to_owned();
    if err.is_timeout() {
        HttpError::Timeout { host }
    } else if err.is_connect() {
        HttpError::Connect { host }
    } else {
        HttpError::Other { host, reason: err.without_url().to_string() }
    }
}

/// The media type of a response, lower-cased, without parameters.
pub fn media_type(headers: &http::HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot server that answers with `body_len` bytes.
    async fn serve(body_len: usize, declare_length: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let head = if declare_length {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&vec![b'x'; body_len]).await;
        });
        format!("http://{addr}/")
    }

    fn get(url: &str) -> HttpRequest {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    #[tokio::test]
    async fn a_response_within_the_limit_is_read_whole() {
        let url = serve(1000, true).await;
        let response = ProviderHttp::new().send(get(&url), 1000).await.unwrap();
        assert_eq!(response.body().len(), 1000);
    }

    #[tokio::test]
    async fn a_response_over_the_limit_is_refused_by_its_declared_length() {
        let url = serve(OAUTH_RESPONSE_LIMIT + 1, true).await;
        let err = ProviderHttp::new().send(get(&url), OAUTH_RESPONSE_LIMIT).await.unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err}");
        assert_eq!(err.to_string(), "the response from 127.0.0.1 was larger than 1024 KiB, so Latch stopped reading it");
    }

    #[tokio::test]
    async fn a_response_over_the_limit_without_a_length_is_cut_off_while_reading() {
        let url = serve(OAUTH_RESPONSE_LIMIT + 10, false).await;
        let err = ProviderHttp::new().send(get(&url), OAUTH_RESPONSE_LIMIT).await.unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn an_aliased_endpoint_is_sent_to_its_alias_and_others_are_not() {
        let http = ProviderHttp::new().with_aliases(vec![(
            "https://id.example.com/token".into(),
            "https://mtls.id.example.com/token".into(),
        )]);
        assert_eq!(http.alias_of("https://id.example.com/token").unwrap().to_string(), "https://mtls.id.example.com/token");
        assert_eq!(http.alias_of("https://id.example.com/token/?a=1").unwrap().to_string(), "https://mtls.id.example.com/token?a=1");
        assert!(http.alias_of("https://id.example.com/token/other").is_none());
        assert!(ProviderHttp::new().alias_of("https://id.example.com/token").is_none());
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_host_and_no_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = ProviderHttp::new().send(get(&format!("http://127.0.0.1:{port}/token?access_token=SECRET")), 10).await.unwrap_err();
        assert!(matches!(err, HttpError::Connect { .. }));
        assert!(!err.to_string().contains("SECRET"));
    }
}
