//! Mutual-TLS client authentication (RFC 8705): the client's certificate
//! and key, read from PEM or PKCS#12, or made by Latch for
//! `self_signed_tls_client_auth`; what the certificate says about itself
//! (subject, expiry, the `x5t#S256` thumbprint certificate-bound tokens
//! carry); and the reqwest identity that presents it in the TLS handshake.
//!
//! The identity is kept as PEM — certificates first, then the key — in the
//! secret store only ([`ClientIdentity`]); the settings hold its
//! [`ClientCertificate`] summary, never the key.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::http::ProviderHttp;
use crate::model::{ClientCertificate, OAuth2Settings};
use crate::secret::ClientIdentity;

/// The field errors about the certificate are reported on.
pub const FIELD: &str = "client_certificate";

/// A PEM file or pasted text larger than this is not a certificate and key.
pub const PEM_MAX_BYTES: usize = 256 * 1024;

/// The identity in `pem`: one or more certificates (the client's first,
/// then its chain) and one unencrypted private key, in one text or two
/// pasted together.
pub fn identity_from_pem(pem: &str) -> Result<(ClientIdentity, ClientCertificate)> {
    if pem.len() > PEM_MAX_BYTES {
        return Err(invalid("The certificate file is larger than 256 KiB; a certificate and its key are a few kilobytes."));
    }
    let mut certificates = Vec::new();
    let mut key: Option<(String, Zeroizing<Vec<u8>>)> = None;
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|_| {
            invalid("The certificate text is not valid PEM (a -----BEGIN …----- block is broken).")
        })?;
        match block.label.as_str() {
            "CERTIFICATE" => certificates.push(block.contents),
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                if key.is_some() {
                    return Err(invalid("The text holds more than one private key. Keep only the key of the certificate."));
                }
                key = Some((block.label.clone(), Zeroizing::new(block.contents)));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(invalid(
                    "The private key is protected by a password. Import the PKCS#12 (.p12/.pfx) file instead, whose \
                     password Latch asks for, or save the key without a password.",
                ))
            }
            _ => {}
        }
    }
    if certificates.is_empty() {
        return Err(invalid(
            "No certificate was found: the text needs a -----BEGIN CERTIFICATE----- block.",
        ));
    }
    let Some((label, key)) = key else {
        return Err(invalid(
            "No private key was found beside the certificate: add the key file (-----BEGIN PRIVATE KEY-----).",
        ));
    };
    assemble(&certificates, &label, &key)
}

/// The identity in a PKCS#12 (.p12/.pfx) file opened with `password`.
pub fn identity_from_pkcs12(
    data: &[u8],
    password: &str,
) -> Result<(ClientIdentity, ClientCertificate)> {
    let store = p12_keystore::KeyStore::from_pkcs12(
        data,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|err| match err {
        p12_keystore::error::Error::MacError(_) | p12_keystore::error::Error::UnpadError => {
            invalid("The PKCS#12 file could not be opened: the password is wrong.")
        }
        _ => invalid(
            "The file is not a PKCS#12 (.p12/.pfx) file Latch can read, or its password is wrong.",
        ),
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(invalid(
            "The PKCS#12 file holds no private key with its certificate.",
        ));
    };
    let certificates: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    if certificates.is_empty() {
        return Err(invalid(
            "The PKCS#12 file holds a private key but no certificate for it.",
        ));
    }
    let key = Zeroizing::new(chain.key().as_der().to_vec());
    assemble(&certificates, "PRIVATE KEY", &key)
}

/// A new key (ECDSA P-256) and a self-signed certificate naming it for
/// `name`, valid from an hour ago for five years: for
/// `self_signed_tls_client_auth`, where the provider trusts the
/// certificate the user registers, not a CA.
pub fn self_signed(name: &str, now: DateTime<Utc>) -> Result<(ClientIdentity, ClientCertificate)> {
    use chrono::Datelike;
    let failed = |err: rcgen::Error| invalid(format!("Latch could not make a certificate: {err}."));
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("Latch {name}"));
    let start = now - chrono::Duration::hours(1);
    let month = |d: DateTime<Utc>| d.month() as u8;
    params.not_before = rcgen::date_time_ymd(start.year(), month(start), start.day() as u8);
    params.not_after = rcgen::date_time_ymd(now.year() + 5, month(now), now.day().min(28) as u8);
    let certificate = params.self_signed(&key).map_err(failed)?;
    let key_der = Zeroizing::new(key.serialize_der());
    let (identity, mut summary) = assemble(&[certificate.der().to_vec()], "PRIVATE KEY", &key_der)?;
    summary.made_by_latch = true;
    Ok((identity, summary))
}

/// Checks that the key belongs to the first certificate (rustls refuses
/// inconsistent keys when it loads them), then writes the identity as PEM.
fn assemble(
    certificates: &[Vec<u8>],
    key_label: &str,
    key: &[u8],
) -> Result<(ClientIdentity, ClientCertificate)> {
    let summary = describe(&certificates[0])?;
    let mut pem = Zeroizing::new(String::new());
    for der in certificates {
        pem.push_str(&pem_block("CERTIFICATE", der));
    }
    pem.push_str(&Zeroizing::new(pem_block(key_label, key)));
    let identity = ClientIdentity::new(std::mem::take(&mut *pem));
    tls_client_builder(&identity)?
        .build()
        .map_err(|err| match error_chain(&err) {
            reason if reason.contains("InconsistentKeys") || reason.contains("KeyMismatch") => {
                invalid("The private key does not belong to the certificate. Choose the key file made with this certificate.")
            }
            reason => invalid(format!("The certificate and key cannot be used for TLS ({reason}).")),
        })?;
    Ok((identity, summary))
}

/// What the DER certificate says about itself.
pub fn describe(der: &[u8]) -> Result<ClientCertificate> {
    use x509_parser::prelude::FromDer;
    let (_, certificate) =
        x509_parser::certificate::X509Certificate::from_der(der).map_err(|_| {
            invalid("The certificate could not be read (it is not an X.509 certificate).")
        })?;
    let not_after = DateTime::from_timestamp(certificate.validity().not_after.timestamp(), 0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    Ok(ClientCertificate {
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        not_after,
        thumbprint: thumbprint(der),
        made_by_latch: false,
    })
}

/// RFC 8705 §3.1: base64url (no padding) of the SHA-256 of the DER certificate.
pub fn thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// The certificates of `identity` (public), PEM, for the user to register
/// with the provider.
pub fn certificate_pem(identity: &ClientIdentity) -> String {
    certificate_blocks(identity)
        .iter()
        .map(|der| pem_block("CERTIFICATE", der))
        .collect()
}

/// The client certificate as a public JWK (RFC 7517) with `x5c` and
/// `x5t#S256`, for a registration's `jwks` (RFC 8705 §2.2 — how a provider
/// learns a self-signed certificate).
pub fn public_jwk(identity: &ClientIdentity) -> Result<serde_json::Value> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    let blocks = certificate_blocks(identity);
    let der = blocks
        .first()
        .ok_or_else(|| invalid("The saved identity has no certificate."))?;
    let (_, certificate) =
        x509_parser::certificate::X509Certificate::from_der(der).map_err(|_| {
            invalid("The certificate could not be read (it is not an X.509 certificate).")
        })?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let mut jwk = match certificate.public_key().parsed() {
        Ok(PublicKey::EC(point)) if point.data().len() == 65 && point.data()[0] == 4 => {
            let data = point.data();
            serde_json::json!({ "kty": "EC", "crv": "P-256", "x": b64(&data[1..33]), "y": b64(&data[33..]) })
        }
        Ok(PublicKey::RSA(rsa)) => {
            let trim = |bytes: &[u8]| bytes.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
            serde_json::json!({ "kty": "RSA", "n": b64(&trim(rsa.modulus)), "e": b64(&trim(rsa.exponent)) })
        }
        _ => return Err(invalid("Latch can show a JWK only for P-256 and RSA certificates; register the certificate (PEM) instead.")),
    };
    jwk["x5c"] = serde_json::json!(blocks
        .iter()
        .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
        .collect::<Vec<_>>());
    jwk["x5t#S256"] = serde_json::json!(thumbprint(der));
    Ok(jwk)
}

/// The identity as reqwest presents it in the TLS handshake (rustls).
pub fn reqwest_identity(identity: &ClientIdentity) -> Result<reqwest::Identity> {
    reqwest::Identity::from_pem(identity.secret().as_bytes()).map_err(|err| {
        invalid(format!(
            "The saved client certificate cannot be used ({}).",
            error_chain(&err)
        ))
    })
}

/// A reqwest client builder that presents `identity`; the caller adds its
/// own timeouts and pool settings.
pub fn tls_client_builder(identity: &ClientIdentity) -> Result<reqwest::ClientBuilder> {
    Ok(reqwest::Client::builder()
        .use_rustls_tls()
        .identity(reqwest_identity(identity)?))
}

/// The HTTP client for a connection with a client certificate: it
/// presents `identity` in every TLS handshake, and sends requests for the
/// server's plain endpoints to its mTLS aliases (RFC 8705 §5) when the
/// metadata named any.
pub fn provider_http(identity: &ClientIdentity, settings: &OAuth2Settings) -> Result<ProviderHttp> {
    let http = ProviderHttp::from_builder(tls_client_builder(identity)?).map_err(|err| {
        invalid(format!(
            "The saved client certificate cannot be used ({}).",
            error_chain(&err)
        ))
    })?;
    Ok(http.with_aliases(endpoint_aliases(settings)))
}

/// Each endpoint of `settings` that has an mTLS alias, with its alias.
/// Refreshes follow the token endpoint unless they have their own address.
pub fn endpoint_aliases(settings: &OAuth2Settings) -> Vec<(String, String)> {
    let Some(aliases) = &settings.mtls_endpoint_aliases else {
        return Vec::new();
    };
    [
        (&settings.token_url, &aliases.token_endpoint),
        (&settings.revoke_url, &aliases.revocation_endpoint),
        (
            &settings.par_url,
            &aliases.pushed_authorization_request_endpoint,
        ),
        (&settings.device_url, &aliases.device_authorization_endpoint),
        (&settings.info_url, &aliases.userinfo_endpoint),
    ]
    .into_iter()
    .filter_map(|(endpoint, alias)| Some((endpoint.clone()?, alias.clone()?)))
    .collect()
}

/// Refuses a certificate past its expiry, in words, before any handshake:
/// a server's refusal would only say "bad certificate". `connection` names
/// it in the sentence; empty for one not saved yet.
pub fn check_current(
    certificate: &ClientCertificate,
    connection: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if certificate.not_after <= now {
        return Err(Error::validation(
            FIELD,
            format!(
                "The client certificate{} ({}) expired on {}. Import a renewed certificate{}.",
                if connection.is_empty() { String::new() } else { format!(" of '{connection}'") },
                certificate.subject,
                certificate.not_after.format("%Y-%m-%d"),
                if certificate.made_by_latch { ", or let Latch make a new one and register it with the provider" } else { "" }
            ),
        ));
    }
    Ok(())
}

fn certificate_blocks(identity: &ClientIdentity) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(identity.secret().as_bytes())
        .flatten()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| block.contents)
        .collect()
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// An error and its causes, for a sentence (reqwest hides the TLS reason
/// in its sources).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&format!("{inner} {inner:?}"));
        source = inner.source();
    }
    text
}

fn invalid(message: impl Into<String>) -> Error {
    Error::validation(FIELD, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made() -> (ClientIdentity, ClientCertificate) {
        self_signed("Test", Utc::now()).unwrap()
    }

    #[test]
    fn a_certificate_latch_makes_is_self_signed_current_and_named_after_the_connection() {
        let (identity, summary) = made();
        assert_eq!(summary.subject, "CN=Latch Test");
        assert_eq!(summary.issuer, summary.subject);
        assert!(summary.made_by_latch);
        assert!(summary.not_after > Utc::now() + chrono::Duration::days(4 * 365));
        assert!(identity
            .secret()
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(identity.secret().contains("-----BEGIN PRIVATE KEY-----"));
        assert!(!certificate_pem(&identity).contains("PRIVATE KEY"));
    }

    #[test]
    fn pem_text_reads_back_to_the_same_certificate_and_thumbprint() {
        let (identity, summary) = made();
        let (again, read) = identity_from_pem(identity.secret()).unwrap();
        assert_eq!(read.thumbprint, summary.thumbprint);
        assert_eq!(read.subject, summary.subject);
        assert!(!read.made_by_latch);
        assert_eq!(again.secret(), identity.secret());
    }

    #[test]
    fn the_thumbprint_is_base64url_sha256_of_the_der_certificate() {
        let (identity, summary) = made();
        let der = certificate_blocks(&identity).remove(0);
        assert_eq!(summary.thumbprint, thumbprint(&der));
        assert_eq!(summary.thumbprint.len(), 43);
        assert!(!summary.thumbprint.contains(['+', '/', '=']));
    }

    #[test]
    fn a_key_from_another_certificate_is_refused_in_words() {
        let (first, _) = made();
        let (second, _) = made();
        let certificate = certificate_pem(&first);
        let other_key = &second.secret()[second.secret().find("-----BEGIN PRIVATE KEY").unwrap()..];
        let err = identity_from_pem(&format!("{certificate}{other_key}")).unwrap_err();
        assert_eq!(err.fields[0].field, FIELD);
        assert!(
            err.message.contains("does not belong to the certificate"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_certificate_without_its_key_or_a_key_alone_says_what_is_missing() {
        let (identity, _) = made();
        let err = identity_from_pem(&certificate_pem(&identity)).unwrap_err();
        assert!(err.message.contains("No private key"), "{}", err.message);
        let key = &identity.secret()[identity.secret().find("-----BEGIN PRIVATE KEY").unwrap()..];
        let err = identity_from_pem(key).unwrap_err();
        assert!(err.message.contains("No certificate"), "{}", err.message);
        let err = identity_from_pem(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(
            err.message.contains("protected by a password"),
            "{}",
            err.message
        );
    }

    #[test]
    fn errors_never_carry_the_key() {
        let (identity, _) = made();
        let key = &identity.secret()[identity.secret().find("-----BEGIN PRIVATE KEY").unwrap()..];
        let err = identity_from_pem(key).unwrap_err();
        let body = key.lines().nth(1).unwrap();
        assert!(!format!("{err} {err:?}").contains(body));
        assert_eq!(format!("{identity:?}"), "ClientIdentity([redacted])");
    }

    #[test]
    fn a_pkcs12_file_opens_with_its_password_and_says_when_the_password_is_wrong() {
        let (identity, summary) = made();
        let der = certificate_blocks(&identity).remove(0);
        let key_pem = x509_parser::pem::Pem::iter_from_buffer(identity.secret().as_bytes())
            .flatten()
            .find(|b| b.label == "PRIVATE KEY")
            .unwrap();
        let certificate = p12_keystore::Certificate::from_der(&der).unwrap();
        let key = p12_keystore::PrivateKey::from_der(&key_pem.contents).unwrap();
        let chain = p12_keystore::PrivateKeyChain::new(vec![1, 2, 3], key, vec![certificate]);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("latch", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let p12 = store.writer("correct horse").write().unwrap();

        let (read, read_summary) = identity_from_pkcs12(&p12, "correct horse").unwrap();
        assert_eq!(read_summary.thumbprint, summary.thumbprint);
        assert!(read.secret().contains("-----BEGIN PRIVATE KEY-----"));
        let err = identity_from_pkcs12(&p12, "wrong").unwrap_err();
        assert!(err.message.contains("password is wrong"), "{}", err.message);
        let err = identity_from_pkcs12(b"not a p12 file", "x").unwrap_err();
        assert!(err.message.contains("not a PKCS#12"), "{}", err.message);
    }

    #[test]
    fn an_expired_certificate_is_refused_before_any_request_with_its_date() {
        let (_, mut summary) = made();
        summary.not_after = "2020-01-02T00:00:00Z".parse().unwrap();
        let err = check_current(&summary, "Corp API", Utc::now()).unwrap_err();
        assert_eq!(err.fields[0].field, FIELD);
        assert!(
            err.message.contains("'Corp API'") && err.message.contains("expired on 2020-01-02"),
            "{}",
            err.message
        );
        summary.not_after = Utc::now() + chrono::Duration::days(1);
        assert!(check_current(&summary, "Corp API", Utc::now()).is_ok());
    }

    #[test]
    fn the_public_jwk_names_the_certificate_and_no_private_part() {
        let (identity, summary) = made();
        let jwk = public_jwk(&identity).unwrap();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["x5t#S256"], summary.thumbprint.as_str());
        assert!(jwk.get("d").is_none());
        assert_eq!(jwk["x5c"].as_array().unwrap().len(), 1);
    }
}
