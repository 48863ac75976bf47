//! DPoP, sender-constrained tokens (RFC 9449): every request that asks for
//! or uses a token carries a fresh proof — a JWT signed with a key only this
//! computer holds — so a token copied elsewhere is useless.
//!
//! - [`DpopKey`]: the connection's P-256 key pair (ES256). Latch makes it
//!   (`keys.rs`, on `p256`); the private half lives only in the secret store.
//! - [`DpopKey::proof`]: the proof for one request (§4.2): `htm`, `htu`
//!   (the URL without query and fragment), `iat`, a unique `jti`, the
//!   server's `nonce` when it gave one, and `ath` when a token goes with it.
//!   `jsonwebtoken` signs it; the header names `typ: dpop+jwt` and the
//!   public key (`jwk`).
//! - [`DpopNonces`]: the latest `DPoP-Nonce` each server handed out (§8,
//!   §9), kept in memory per origin; [`is_nonce_challenge`] tells a server's
//!   "use this nonce" (§8.2 at the token endpoint, §9 at an API) from a refusal.
//! - [`Dpop::send`]: one request with its proof, retried once with the
//!   server's nonce when it asks for one.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, Header};
use oauth2::http::{self, header, HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::http::{HttpError, HttpRequest, HttpResponse, ProviderHttp};
use crate::keys::{KeyAlgorithm, PrivateKey};
use crate::secret::AccessToken;

/// The token type of a DPoP-bound access token (RFC 9449 §5), and the
/// scheme it is sent with (§7.1): `Authorization: DPoP <token>`.
pub const TOKEN_TYPE: &str = "DPoP";
/// The header that carries a proof (§4.1).
pub const PROOF_HEADER: &str = "dpop";
/// The header a server hands a nonce in (§8.1).
pub const NONCE_HEADER: &str = "dpop-nonce";
/// The error a server answers when a proof lacks its nonce (§8, §9).
pub const USE_NONCE: &str = "use_dpop_nonce";

/// Whether a token set's `token_type` is DPoP (case-insensitive, RFC 9449 §5
/// follows RFC 6749 §7.1 there).
pub fn is_dpop_token_type(token_type: &str) -> bool {
    token_type.eq_ignore_ascii_case(TOKEN_TYPE)
}

/// A connection's DPoP key pair (ES256 on P-256): one of the client's
/// private keys (`keys.rs`), used only for proofs. Prints as `[redacted]`.
pub struct DpopKey {
    key: PrivateKey,
    /// The public half as a JWK, for proof headers.
    public: Jwk,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey([redacted])")
    }
}

/// What a proof says about its request (RFC 9449 §4.2).
#[derive(Debug, Serialize)]
pub struct ProofClaims {
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
}

impl DpopKey {
    /// A new key (ES256) from the operating system's random source, as the
    /// text the secret store keeps: PKCS#8 PEM, zeroed when dropped.
    pub fn generate() -> Result<Zeroizing<String>> {
        PrivateKey::generate("es256")
    }

    /// The key from the text the secret store keeps.
    pub fn from_stored(text: &str) -> Result<DpopKey> {
        let key = PrivateKey::from_pem(text).map_err(|_| unreadable())?;
        if key.algorithm() != KeyAlgorithm::Es256 {
            return Err(unreadable());
        }
        let public: Jwk = serde_json::from_value(key.public_jwk()).map_err(|_| unreadable())?;
        Ok(DpopKey { key, public })
    }

    /// The public key, as proofs carry it.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The JWK SHA-256 thumbprint (RFC 7638): what a bound token's
    /// `cnf.jkt` names (RFC 9449 §6) and PAR's `dpop_jkt` (§10).
    pub fn thumbprint(&self) -> String {
        self.key.thumbprint()
    }

    /// The proof for one request: `method` to `url`, with `token` when the
    /// request uses an access token (`ath`, §4.2) and the server's `nonce`.
    pub fn proof(&self, method: &str, url: &str, token: Option<&AccessToken>, nonce: Option<&str>, now: i64) -> Result<Zeroizing<String>> {
        let claims = ProofClaims {
            // 128 random bits, base64url: the server refuses a replayed jti.
            jti: oauth2::CsrfToken::new_random_len(16).secret().to_owned(),
            htm: method.to_ascii_uppercase(),
            htu: htu(url),
            iat: now,
            nonce: nonce.map(str::to_owned),
            ath: token.map(ath),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.public.clone());
        self.key
            .sign(header, &claims)
            .map_err(|err| Error::validation("dpop", format!("Latch could not sign the DPoP proof ({}).", err.message)))
    }
}

fn unreadable() -> Error {
    Error::validation(
        "dpop",
        "The key that binds this connection's tokens to this computer (DPoP) could not be read. Sign in again to make a new one.",
    )
}

/// `htu` (RFC 9449 §4.2): the request's URL without query and fragment.
pub fn htu(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// `ath` (RFC 9449 §4.2): the base64url SHA-256 of the access token.
pub fn ath(token: &AccessToken) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(token.secret().as_bytes()))
}

/// `Authorization: DPoP <token>` (RFC 9449 §7.1), marked sensitive.
pub fn authorization(token: &AccessToken) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("{TOKEN_TYPE} {}", token.secret()))
        .map_err(|_| Error::provider("The access token contains characters that cannot be sent in a header."))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The origin a nonce belongs to: servers hand out nonces for themselves.
fn origin(url: &str) -> Option<String> {
    url::Url::parse(url).ok().map(|u| u.origin().ascii_serialization())
}

/// The latest nonce each server handed out, by origin, for this process.
#[derive(Debug, Default)]
pub struct DpopNonces(Mutex<HashMap<String, String>>);

impl DpopNonces {
    pub fn get(&self, url: &str) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&origin(url)?).cloned()
    }

    /// Keeps the `DPoP-Nonce` of a response from `url`, if it has one (a
    /// server may send a new one with any answer, §8.2).
    pub fn remember(&self, url: &str, headers: &HeaderMap) {
        let (Some(origin), Some(nonce)) = (origin(url), nonce_of(headers)) else { return };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(origin, nonce);
    }
}

fn nonce_of(headers: &HeaderMap) -> Option<String> {
    let nonce = headers.get(NONCE_HEADER)?.to_str().ok()?.trim();
    // §8.1: a nonce is a string of visible characters, no spaces.
    (!nonce.is_empty() && nonce.chars().all(|c| c.is_ascii_graphic())).then(|| nonce.to_owned())
}

/// Whether a response asks for the proof again with its `DPoP-Nonce`: the
/// token endpoint's 400 `use_dpop_nonce` (§8) or an API's 401 whose
/// `WWW-Authenticate: DPoP` names it (§9).
pub fn is_nonce_challenge(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool {
    if nonce_of(headers).is_none() {
        return false;
    }
    match status {
        StatusCode::BAD_REQUEST => serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .is_some_and(|v| v.get("error").and_then(|e| e.as_str()) == Some(USE_NONCE)),
        // The DPoP challenge may share the header with others (`Bearer
        // realm="x", DPoP error="use_dpop_nonce"`): its error names it.
        StatusCode::UNAUTHORIZED => headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.replace(' ', "").contains(&format!("error=\"{USE_NONCE}\""))),
        _ => false,
    }
}

/// A connection's key and the nonces it has been given: what a request
/// needs to carry proofs. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Dpop<'a> {
    pub key: &'a DpopKey,
    pub nonces: &'a DpopNonces,
}

impl<'a> Dpop<'a> {
    pub fn new(key: &'a DpopKey, nonces: &'a DpopNonces) -> Self {
        Dpop { key, nonces }
    }

    /// The `DPoP` header for `method` to `url` now, with the latest nonce
    /// from that server.
    pub fn header(&self, method: &str, url: &str, token: Option<&AccessToken>) -> Result<HeaderValue> {
        let nonce = self.nonces.get(url);
        let proof = self.key.proof(method, url, token, nonce.as_deref(), chrono::Utc::now().timestamp())?;
        let mut value = HeaderValue::from_str(&proof).expect("a JWT is header-safe");
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sends `request` with a fresh proof (and `token`'s `ath`), keeps any
    /// nonce the server sends, and goes once more with it when the server
    /// asks for one.
    pub async fn send(
        &self,
        http: &ProviderHttp,
        request: HttpRequest,
        limit: usize,
        token: Option<&AccessToken>,
    ) -> std::result::Result<HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let host = request.uri().host().unwrap_or_default().to_owned();
        let failed = |err: Error| HttpError::Other { host: host.clone(), reason: err.message };
        let (parts, body) = request.into_parts();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut again = http::Request::from_parts(parts.clone(), body.clone());
            let proof = self.header(parts.method.as_str(), &url, token).map_err(failed)?;
            again.headers_mut().insert(PROOF_HEADER, proof);
            let response = http.send(again, limit).await?;
            self.nonces.remember(&url, response.headers());
            if attempt == 1 && is_nonce_challenge(response.status(), response.headers(), response.body()) {
                continue;
            }
            return Ok(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    fn new_key() -> DpopKey {
        DpopKey::from_stored(&DpopKey::generate().unwrap()).unwrap()
    }

    fn decoded(key: &DpopKey, proof: &str) -> (Header, serde_json::Value) {
        let header = decode_header(proof).unwrap();
        let jwk = header.jwk.clone().expect("the proof carries its public key");
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = decode::<serde_json::Value>(proof, &DecodingKey::from_jwk(&jwk).unwrap(), &validation).unwrap();
        assert_eq!(&jwk, key.public_jwk());
        (header, data.claims)
    }

    #[test]
    fn a_proof_is_signed_by_the_key_in_its_header_and_names_the_request_without_its_query() {
        let key = new_key();
        let proof = key.proof("post", "https://id.example.com/token?x=1#frag", None, None, 1_700_000_000).unwrap();
        let (header, claims) = decoded(&key, &proof);
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://id.example.com/token");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert!(claims["jti"].as_str().unwrap().len() >= 20);
        assert!(claims.get("ath").is_none() && claims.get("nonce").is_none(), "{claims}");
        let again = key.proof("POST", "https://id.example.com/token", None, None, 1_700_000_000).unwrap();
        assert_ne!(decoded(&key, &again).1["jti"], claims["jti"], "every proof is new");
        // Another key's signature does not verify against this key's header.
        let other = new_key();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let wrong = DecodingKey::from_jwk(other.public_jwk()).unwrap();
        assert!(decode::<serde_json::Value>(&proof, &wrong, &validation).is_err());
    }

    #[test]
    fn a_proof_for_a_token_carries_its_hash_and_the_servers_nonce() {
        let key = new_key();
        let token = AccessToken::new("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU".into());
        let proof =
            key.proof("GET", "https://resource.example.org/protectedresource", Some(&token), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"), 1).unwrap();
        let (_, claims) = decoded(&key, &proof);
        // RFC 9449 §7.1's example: this token's ath.
        assert_eq!(claims["ath"], "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
        assert_eq!(claims["nonce"], "eyJ7S_zG.eyJH0-Z.HX4w-7v");
        assert!(!proof.contains(token.secret()));
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s_over_the_public_jwk() {
        let key = new_key();
        let jwk = serde_json::to_value(key.public_jwk()).unwrap();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#, jwk["x"], jwk["y"]);
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        assert_eq!(key.thumbprint(), expected);
        assert!(jwk.get("d").is_none(), "the public JWK has no private part: {jwk}");
    }

    #[test]
    fn a_stored_key_comes_back_as_the_same_key_and_prints_redacted() {
        let stored = DpopKey::generate().unwrap();
        assert!(stored.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
        let (key, back) = (DpopKey::from_stored(&stored).unwrap(), DpopKey::from_stored(&stored).unwrap());
        assert_eq!(back.thumbprint(), key.thumbprint());
        assert_ne!(new_key().thumbprint(), key.thumbprint(), "every key is new");
        assert_eq!(format!("{key:?}"), "DpopKey([redacted])");
        assert!(DpopKey::from_stored("not a key").is_err());
        let ed25519 = PrivateKey::generate("ed25519").unwrap();
        assert!(DpopKey::from_stored(&ed25519).is_err(), "DPoP keys are ES256");
    }

    #[test]
    fn a_nonce_challenge_is_told_from_a_refusal() {
        let mut headers = HeaderMap::new();
        let body = br#"{"error":"use_dpop_nonce"}"#;
        assert!(!is_nonce_challenge(StatusCode::BAD_REQUEST, &headers, body), "no nonce given");
        headers.insert(NONCE_HEADER, HeaderValue::from_static("n-1"));
        assert!(is_nonce_challenge(StatusCode::BAD_REQUEST, &headers, body));
        assert!(!is_nonce_challenge(StatusCode::BAD_REQUEST, &headers, br#"{"error":"invalid_grant"}"#));
        assert!(!is_nonce_challenge(StatusCode::UNAUTHORIZED, &headers, b""), "no challenge header");
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"DPoP error="use_dpop_nonce", error_description="x""#));
        assert!(is_nonce_challenge(StatusCode::UNAUTHORIZED, &headers, b""));
        headers
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="api", DPoP algs="ES256", error="use_dpop_nonce""#));
        assert!(is_nonce_challenge(StatusCode::UNAUTHORIZED, &headers, b""), "beside another challenge");
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"DPoP error="invalid_token""#));
        assert!(!is_nonce_challenge(StatusCode::UNAUTHORIZED, &headers, b""));

        let nonces = DpopNonces::default();
        nonces.remember("https://id.example.com/token?a=1", &headers);
        assert_eq!(nonces.get("https://id.example.com/other").as_deref(), Some("n-1"), "per origin");
        assert_eq!(nonces.get("https://api.example.com/"), None);
    }
}
