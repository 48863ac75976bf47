//! JWT client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the
//! client proves itself with a short-lived signed JWT instead of sending its
//! secret. `client_secret_jwt` signs it with the client secret (HS256);
//! `private_key_jwt` with the client's private key (`crate::keys`).
//! The JOSE work is `jsonwebtoken`'s; only the claims are Latch's.

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::PrivateKey;
use crate::model::ClientAuth;
use crate::secret::ClientSecret;

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is good for: long enough for one request, short
/// enough that a copied one is soon useless.
pub const LIFETIME_SECONDS: i64 = 60;

/// The claims RFC 7523 §3 requires: the client is both issuer and subject,
/// the audience is the authorization server (its token endpoint), and a
/// unique `jti` lets the server refuse a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn new(client_id: &str, audience: &str, now: i64) -> Claims {
        // 128 random bits, base64url: unguessable and never repeated.
        let jti = oauth2::CsrfToken::new_random_len(16).secret().to_owned();
        Claims {
            iss: client_id.to_owned(),
            sub: client_id.to_owned(),
            aud: audience.to_owned(),
            jti,
            iat: now,
            exp: now + LIFETIME_SECONDS,
        }
    }
}

/// A `client_secret_jwt` assertion: the claims signed with HS256 and the
/// client secret.
pub fn client_secret_jwt(claims: &Claims, secret: &ClientSecret) -> Result<Zeroizing<String>> {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.secret().as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), claims, &key)
        .map(Zeroizing::new)
        .map_err(|err| Error::validation("client_auth", format!("Latch could not sign the client assertion ({err}).")))
}

/// A `private_key_jwt` assertion: the claims signed with the client's
/// private key (`credential` holds it as PEM), its thumbprint as `kid`.
pub fn private_key_jwt(claims: &Claims, credential: &ClientSecret) -> Result<Zeroizing<String>> {
    PrivateKey::from_pem(credential.secret())?.sign(jsonwebtoken::Header::default(), claims)
}

/// The form parameters that authenticate `client_id` at `audience` now,
/// by `auth` (one of the JWT methods) with `credential` (the client secret,
/// or the private key's PEM).
pub fn form_params(
    auth: ClientAuth,
    client_id: &str,
    credential: &ClientSecret,
    audience: &str,
) -> Result<[(&'static str, Zeroizing<String>); 2]> {
    let claims = Claims::new(client_id, audience, chrono::Utc::now().timestamp());
    let assertion = match auth {
        ClientAuth::PrivateKeyJwt => private_key_jwt(&claims, credential)?,
        _ => client_secret_jwt(&claims, credential)?,
    };
    Ok([("client_assertion_type", Zeroizing::new(ASSERTION_TYPE.to_owned())), ("client_assertion", assertion)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claims_name_the_client_the_server_and_a_minute_of_validity() {
        let claims = Claims::new("c1", "https://id.example.com/token", 1_700_000_000);
        assert_eq!(claims.iss, "c1");
        assert_eq!(claims.sub, "c1");
        assert_eq!(claims.aud, "https://id.example.com/token");
        assert_eq!(claims.iat, 1_700_000_000);
        assert_eq!(claims.exp, 1_700_000_060);
        assert!(claims.jti.len() >= 20, "{}", claims.jti);
        assert_ne!(Claims::new("c1", "a", 0).jti, Claims::new("c1", "a", 0).jti, "every assertion is new");
    }

    #[test]
    fn a_client_secret_jwt_verifies_with_the_secret_and_not_with_another() {
        let secret = ClientSecret::new("a-long-enough-client-secret-for-hs256".into());
        let claims = Claims::new("c1", "https://id.example.com/token", chrono::Utc::now().timestamp());
        let jwt = client_secret_jwt(&claims, &secret).unwrap();
        assert!(!jwt.contains(secret.secret()));
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&["https://id.example.com/token"]);
        validation.set_issuer(&["c1"]);
        let decoded: jsonwebtoken::TokenData<serde_json::Value> =
            jsonwebtoken::decode(&jwt, &jsonwebtoken::DecodingKey::from_secret(secret.secret().as_bytes()), &validation).unwrap();
        assert_eq!(decoded.header.alg, jsonwebtoken::Algorithm::HS256);
        assert_eq!(decoded.claims["sub"], "c1");
        assert_eq!(decoded.claims["jti"], claims.jti.as_str());
        let other = jsonwebtoken::DecodingKey::from_secret(b"another secret");
        assert!(jsonwebtoken::decode::<serde_json::Value>(&jwt, &other, &validation).is_err());
        let [(kind, value), (name, _)] = form_params(ClientAuth::ClientSecretJwt, "c1", &secret, "https://id.example.com/token").unwrap();
        assert_eq!((kind, value.as_str(), name), ("client_assertion_type", ASSERTION_TYPE, "client_assertion"));
    }

    #[test]
    fn a_private_key_jwt_verifies_with_the_public_jwk_and_carries_its_kid() {
        let pem = PrivateKey::generate("es256").unwrap();
        let key = PrivateKey::from_pem(&pem).unwrap();
        let credential = ClientSecret::new(pem.as_str().to_owned());
        let [_, (_, jwt)] = form_params(ClientAuth::PrivateKeyJwt, "c1", &credential, "https://id.example.com/token").unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["https://id.example.com/token"]);
        validation.set_issuer(&["c1"]);
        let decoded: jsonwebtoken::TokenData<serde_json::Value> =
            jsonwebtoken::decode(&jwt, &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(), &validation).unwrap();
        assert_eq!(decoded.header.kid.as_deref(), Some(key.thumbprint().as_str()));
        assert_eq!(decoded.claims["sub"], "c1");
        assert!(!jwt.contains("PRIVATE"));
    }
}
