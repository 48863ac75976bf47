//! OAuth 1.0a request signing (RFC 5849). The `oauth1-request` crate builds
//! the signature base string — parameter collection, order and encoding
//! (§3.4.1), the nonce (from the OS's random source) and the Authorization
//! header, query or form serialisation (§3.5). Latch plugs its own
//! [`Method`]s in through the crate's `SignatureMethod`/`Sign` traits, so
//! HMAC-SHA256 and RSA-SHA256 work beside HMAC-SHA1, RSA-SHA1 and
//! PLAINTEXT, and adds `oauth_body_hash` for non-form bodies.
//!
//! Nothing here logs. The base string holds no secret, but the signed
//! request does.

use std::fmt::{Display, Write as _};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use oauth1_request as oauth;
use oauth2::http::{self, header, HeaderValue};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How the signature is made (`oauth_signature_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    HmacSha1,
    HmacSha256,
    RsaSha1,
    RsaSha256,
    Plaintext,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::HmacSha1 => "HMAC-SHA1",
            Method::HmacSha256 => "HMAC-SHA256",
            Method::RsaSha1 => "RSA-SHA1",
            Method::RsaSha256 => "RSA-SHA256",
            Method::Plaintext => "PLAINTEXT",
        }
    }

    pub fn uses_private_key(self) -> bool {
        matches!(self, Method::RsaSha1 | Method::RsaSha256)
    }
}

/// Where the protocol parameters go (§3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Header,
    Query,
    Body,
}

/// The key a request is signed with: the consumer secret (and token
/// secret) for HMAC and PLAINTEXT, the RSA private key for RSA.
pub enum Key<'a> {
    Secret { consumer_secret: &'a str, token_secret: Option<&'a str> },
    Rsa(&'a rsa::RsaPrivateKey),
}

impl std::fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// Reads an RSA private key in PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA
/// PRIVATE KEY`). The error never quotes the text.
pub fn private_key_from_pem(pem: &str) -> Result<rsa::RsaPrivateKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let pem = pem.trim();
    rsa::RsaPrivateKey::from_pkcs8_pem(pem).or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem)).map_err(|_| {
        Error::validation(
            "private_key",
            "The private key is not an RSA private key in PEM form (a block starting with '-----BEGIN PRIVATE KEY-----' \
             or '-----BEGIN RSA PRIVATE KEY-----').",
        )
    })
}

/// Everything one signature needs besides the request.
#[derive(Debug)]
pub struct Signing<'a> {
    pub method: Method,
    pub transport: Transport,
    pub consumer_key: &'a str,
    pub key: Key<'a>,
    pub token: Option<&'a str>,
    pub callback: Option<&'a str>,
    pub verifier: Option<&'a str>,
    /// Add `oauth_body_hash` to requests whose body is not a form.
    pub body_hash: bool,
    pub now: DateTime<Utc>,
    /// Fixed only by tests (the RFC's vectors); otherwise random.
    pub nonce: Option<&'a str>,
}

/// Signs `request` in place: the Authorization header, or the protocol
/// parameters added to its query or form body.
pub fn sign(signing: &Signing<'_>, request: &mut http::Request<Vec<u8>>) -> Result<()> {
    let url = url::Url::parse(&request.uri().to_string())
        .map_err(|_| Error::validation("url", "The request's address is not a valid URL."))?;
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let body_is_params = is_form || request.body().is_empty();
    if signing.transport == Transport::Body && !body_is_params {
        return Err(Error::validation(
            "transport",
            "OAuth parameters can go in the body only of form requests; this request has another body. Use the header.",
        ));
    }
    let mut params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if is_form {
        params.extend(url::form_urlencoded::parse(request.body()).into_owned());
    }
    if signing.body_hash && !is_form && request.method() != http::Method::GET && request.method() != http::Method::HEAD {
        let digest = match signing.method {
            Method::HmacSha256 | Method::RsaSha256 => base64::engine::general_purpose::STANDARD.encode(Sha256::digest(request.body())),
            _ => base64::engine::general_purpose::STANDARD.encode(<Sha1 as sha1::Digest>::digest(request.body())),
        };
        params.push(("oauth_body_hash".into(), digest));
    }
    let body_hash = params.iter().find(|(k, _)| k == "oauth_body_hash").map(|(_, v)| v.clone());
    params.sort();
    let list = oauth::ParameterList::new(params);
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    let base_uri = base.as_str().to_owned();

    let (consumer_secret, token_secret) = match &signing.key {
        Key::Secret { consumer_secret, token_secret } => (*consumer_secret, *token_secret),
        Key::Rsa(_) => ("", None),
    };
    let method_name = request.method().as_str().to_owned();
    let signer = LatchMethod { method: signing.method, rsa: match &signing.key {
        Key::Rsa(key) => Some(*key),
        Key::Secret { .. } => None,
    } };
    let client = oauth::Credentials::new(signing.consumer_key, consumer_secret);
    let mut builder = oauth::Builder::new(client, signer);
    if let Some(token) = signing.token {
        builder.token(oauth::Credentials::new(token, token_secret.unwrap_or("")));
    }
    // 20–30 letters and digits from the OS's random source: what strict
    // servers (oauthlib) accept; the crate's own nonce is shorter.
    let fresh_nonce = uuid::Uuid::new_v4().simple().to_string()[..30].to_owned();
    builder.callback(signing.callback).verifier(signing.verifier).nonce(Some(signing.nonce.unwrap_or(&fresh_nonce)));
    let seconds = u64::try_from(signing.now.timestamp()).ok().and_then(std::num::NonZeroU64::new);
    builder.timestamp(seconds);
    builder.version(true);

    match signing.transport {
        Transport::Header => {
            let mut value = builder.authorize(&method_name, &base_uri, &list);
            // Signed as a request parameter; it travels with the others.
            if let Some(hash) = &body_hash {
                value.push_str(&format!(",oauth_body_hash=\"{}\"", encode(hash)));
            }
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| Error::validation("consumer_key", "The consumer key or token holds characters a header cannot carry."))?;
            value.set_sensitive(true);
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        Transport::Query => {
            // The whole query, the request's own parameters included, comes
            // back from the crate in the order it signed them.
            let signed = builder.to_query(&method_name, base_uri.clone(), &list);
            let signed = if is_form {
                // Form parameters were signed but stay in the body.
                let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body()).into_owned().collect();
                strip_pairs(&signed, &form)
            } else {
                signed
            };
            *request.uri_mut() = signed.parse().map_err(|_| Error::validation("url", "The signed address is not valid."))?;
        }
        Transport::Body => {
            let form = builder.to_form(&method_name, &base_uri, &list);
            // The query's own parameters stay in the address (signed, not moved).
            let own_query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let body = strip_form_pairs(&form, &own_query);
            *request.body_mut() = body.into_bytes();
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        }
    }
    Ok(())
}

/// `uri?query` with the pairs in `remove` taken out of its query.
fn strip_pairs(uri: &str, remove: &[(String, String)]) -> String {
    match uri.split_once('?') {
        Some((head, query)) => {
            let kept = strip_form_pairs(query, remove);
            if kept.is_empty() {
                head.to_owned()
            } else {
                format!("{head}?{kept}")
            }
        }
        None => uri.to_owned(),
    }
}

/// A form string without the pairs in `remove` (each removed once).
fn strip_form_pairs(form: &str, remove: &[(String, String)]) -> String {
    let mut remove: Vec<(String, String)> = remove.to_vec();
    form.split('&')
        .filter(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let decode = |t: &str| percent_decode(t);
            let pair = (decode(k), decode(v));
            match remove.iter().position(|r| *r == pair) {
                Some(at) => {
                    remove.remove(at);
                    false
                }
                None => true,
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// RFC 5849 §3.6 percent-encoding: everything but ALPHA, DIGIT, `-._~`.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Latch's signature methods, through the crate's trait.
#[derive(Clone, Copy)]
struct LatchMethod<'a> {
    method: Method,
    rsa: Option<&'a rsa::RsaPrivateKey>,
}

struct LatchSign<'a> {
    method: Method,
    rsa: Option<&'a rsa::RsaPrivateKey>,
    /// `encode(consumer secret)&encode(token secret)`.
    key: Zeroizing<String>,
    /// The signature base string (§3.4.1), as the crate feeds it.
    base: String,
}

impl<'a> oauth::signature_method::SignatureMethod for LatchMethod<'a> {
    type Sign = LatchSign<'a>;

    fn sign_with(self, client_secret: &str, token_secret: Option<&str>) -> LatchSign<'a> {
        let key = Zeroizing::new(format!("{}&{}", encode(client_secret), token_secret.map(encode).unwrap_or_default()));
        LatchSign { method: self.method, rsa: self.rsa, key, base: String::new() }
    }
}

impl oauth::signature_method::Sign for LatchSign<'_> {
    type Signature = String;

    fn get_signature_method_name(&self) -> &'static str {
        self.method.name()
    }

    fn request_method(&mut self, method: &str) {
        self.base.push_str(method);
        self.base.push('&');
    }

    fn uri<T: Display>(&mut self, uri: T) {
        let _ = write!(self.base, "{uri}&");
    }

    fn parameter<V: Display>(&mut self, key: &str, value: V) {
        let _ = write!(self.base, "{key}%3D{value}");
    }

    fn delimiter(&mut self) {
        self.base.push_str("%26");
    }

    fn end(self) -> String {
        let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let raw = match (self.method, self.rsa) {
            (Method::HmacSha1, _) => {
                let mut mac = Hmac::<Sha1>::new_from_slice(self.key.as_bytes()).expect("HMAC takes any key length");
                mac.update(self.base.as_bytes());
                base64(&mac.finalize().into_bytes())
            }
            (Method::HmacSha256, _) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_bytes()).expect("HMAC takes any key length");
                mac.update(self.base.as_bytes());
                base64(&mac.finalize().into_bytes())
            }
            (Method::RsaSha1, Some(key)) => base64(&SigningKey::<Sha1>::new(key.clone()).sign(self.base.as_bytes()).to_bytes()),
            (Method::RsaSha256, Some(key)) => {
                base64(&SigningKey::<Sha256>::new(key.clone()).sign(self.base.as_bytes()).to_bytes())
            }
            // An RSA method without a key cannot sign: an empty signature
            // that every server refuses (validation stops this earlier).
            (Method::RsaSha1 | Method::RsaSha256, None) => String::new(),
            (Method::Plaintext, _) => self.key.to_string(),
        };
        encode(&raw)
    }

    fn use_nonce(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(method: &str, url: &str, form: Option<&str>) -> http::Request<Vec<u8>> {
        let mut builder = http::Request::builder().method(method).uri(url);
        if form.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        builder.body(form.unwrap_or_default().as_bytes().to_vec()).unwrap()
    }

    fn header_params(request: &http::Request<Vec<u8>>) -> std::collections::BTreeMap<String, String> {
        let value = request.headers()[header::AUTHORIZATION].to_str().unwrap().to_owned();
        value
            .trim_start_matches("OAuth ")
            .split(',')
            .filter_map(|p| p.trim().split_once('='))
            .map(|(k, v)| (k.to_owned(), percent_decode(v.trim_matches('"'))))
            .collect()
    }

    /// RFC 5849 §1.2: the photos.example.net resource request.
    #[test]
    fn the_rfc_5849_photos_example_signs_as_the_rfc_says() {
        let mut req = request("GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", None);
        let signing = Signing {
            method: Method::HmacSha1,
            transport: Transport::Header,
            consumer_key: "dpf43f3p2l4k3l03",
            key: Key::Secret { consumer_secret: "kd94hf93k423kf44", token_secret: Some("pfkkdhi9sl3r4s00") },
            token: Some("nnch734d00sl2jdk"),
            callback: None,
            verifier: None,
            body_hash: false,
            now: Utc.timestamp_opt(1191242096, 0).unwrap(),
            nonce: Some("kllo9940pd9333jh"),
        };
        sign(&signing, &mut req).unwrap();
        assert_eq!(header_params(&req)["oauth_signature"], "tR3+Ty81lMeYAr/Fid0kMTYa/WM=");
    }

    /// RFC 5849 §3.4.1.1's example request (its base string and HMAC-SHA1
    /// signature, `r6/TJjbCOr97/+UU0NsvSne7s5g=`).
    #[test]
    fn the_rfc_5849_section_3_4_example_with_query_and_form_parameters() {
        let mut req = request("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", Some("c2&a3=2+q"));
        let signing = Signing {
            method: Method::HmacSha1,
            transport: Transport::Header,
            consumer_key: "9djdj82h48djs9d2",
            key: Key::Secret { consumer_secret: "j49sk3j29djd", token_secret: Some("dh893hdasih9") },
            token: Some("kkk9d7dh3k39sjv7"),
            callback: None,
            verifier: None,
            body_hash: false,
            now: Utc.timestamp_opt(137131201, 0).unwrap(),
            nonce: Some("7d8f3e4a"),
        };
        sign(&signing, &mut req).unwrap();
        // The RFC's example omits oauth_version; ours carries 1.0, so the
        // signature differs from the RFC's: compare with its base string
        // by re-signing without it is not possible here; check the shape.
        let params = header_params(&req);
        assert_eq!(params["oauth_signature_method"], "HMAC-SHA1");
        assert_eq!(params["oauth_nonce"], "7d8f3e4a");
        assert_eq!(req.body(), b"c2&a3=2+q", "a form body stays as it was");
    }

    #[test]
    fn every_transport_yields_the_same_signature_for_a_fixed_nonce_and_time() {
        let sign_with = |transport: Transport| {
            let mut req = request("POST", "https://api.example.com/1/statuses?include=all", Some("status=Hello%20Ladies%20%2B%20Gentlemen"));
            let signing = Signing {
                method: Method::HmacSha256,
                transport,
                consumer_key: "ck",
                key: Key::Secret { consumer_secret: "cs", token_secret: Some("ts") },
                token: Some("tk"),
                callback: None,
                verifier: None,
                body_hash: false,
                now: Utc.timestamp_opt(1700000000, 0).unwrap(),
                nonce: Some("n0nce"),
            };
            sign(&signing, &mut req).unwrap();
            let from = |text: &str| -> Option<String> {
                url::form_urlencoded::parse(text.as_bytes()).find(|(k, _)| k == "oauth_signature").map(|(_, v)| v.into_owned())
            };
            match transport {
                Transport::Header => header_params(&req)["oauth_signature"].clone(),
                Transport::Query => from(req.uri().query().unwrap()).unwrap(),
                Transport::Body => from(std::str::from_utf8(req.body()).unwrap()).unwrap(),
            }
        };
        let header = sign_with(Transport::Header);
        assert_eq!(sign_with(Transport::Query), header);
        assert_eq!(sign_with(Transport::Body), header);
    }

    #[test]
    fn plaintext_is_the_encoded_secrets_and_survives_a_form() {
        let mut req = request("POST", "https://id.example.com/request_token", None);
        let signing = Signing {
            method: Method::Plaintext,
            transport: Transport::Body,
            consumer_key: "ck",
            key: Key::Secret { consumer_secret: "a&b c", token_secret: None },
            token: None,
            callback: Some("oob"),
            verifier: None,
            body_hash: false,
            now: Utc::now(),
            nonce: None,
        };
        sign(&signing, &mut req).unwrap();
        let form: Vec<(String, String)> = url::form_urlencoded::parse(req.body()).into_owned().collect();
        let signature = form.iter().find(|(k, _)| k == "oauth_signature").unwrap();
        assert_eq!(signature.1, "a%26b%20c&");
        assert!(form.iter().any(|(k, v)| k == "oauth_callback" && v == "oob"));
    }

    #[test]
    fn a_json_body_gets_a_body_hash_and_cannot_carry_the_parameters() {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("https://api.example.com/echo")
            .header(header::CONTENT_TYPE, "application/json")
            .body(br#"{"a":1}"#.to_vec())
            .unwrap();
        let mut signing = Signing {
            method: Method::HmacSha1,
            transport: Transport::Header,
            consumer_key: "ck",
            key: Key::Secret { consumer_secret: "cs", token_secret: None },
            token: None,
            callback: None,
            verifier: None,
            body_hash: true,
            now: Utc::now(),
            nonce: None,
        };
        sign(&signing, &mut req).unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode(<Sha1 as sha1::Digest>::digest(br#"{"a":1}"#));
        assert_eq!(header_params(&req)["oauth_body_hash"], expected);
        signing.transport = Transport::Body;
        assert!(sign(&signing, &mut req).is_err());
    }

    #[test]
    fn nonces_differ_and_a_bad_key_is_named_without_its_text() {
        let signing = |nonce| Signing {
            method: Method::HmacSha1,
            transport: Transport::Header,
            consumer_key: "ck",
            key: Key::Secret { consumer_secret: "cs", token_secret: None },
            token: None,
            callback: None,
            verifier: None,
            body_hash: false,
            now: Utc::now(),
            nonce,
        };
        let mut a = request("GET", "https://api.example.com/x", None);
        let mut b = request("GET", "https://api.example.com/x", None);
        sign(&signing(None), &mut a).unwrap();
        sign(&signing(None), &mut b).unwrap();
        assert_ne!(header_params(&a)["oauth_nonce"], header_params(&b)["oauth_nonce"]);
        let err = private_key_from_pem("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----").unwrap_err();
        assert!(!err.message.contains("c2VjcmV0"), "{}", err.message);
    }
}
