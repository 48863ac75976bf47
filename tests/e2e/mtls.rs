//! Mutual-TLS client authentication (RFC 8705) against panva's
//! oidc-provider behind a TLS front that asks for a client certificate
//! (`oidc.mjs --mtls`): `tls_client_auth` with a certificate from a test CA
//! (PEM or PKCS#12), `self_signed_tls_client_auth` with a certificate Latch
//! makes, the server's mTLS endpoint aliases, and certificate-bound tokens
//! that work at the API only with the certificate — through `latch request`
//! and the proxy, never with a plain curl. The certificates are made at test
//! time with `openssl`; Latch trusts the test CA through `SSL_CERT_FILE`.

use latch_e2e::pki::{key_body, mtls_origin, Pki};
use latch_e2e::{curl, http, runtime_dir, start_proxy, Latch, Provider};
use serde_json::Value;

/// oidc-provider with its TLS front, and a Latch that trusts the test CA.
fn setup() -> (Pki, Provider, Latch, String) {
    let pki = Pki::new();
    let op = pki.oidc();
    let latch = Latch::new();
    pki.trust(&latch);
    let origin = mtls_origin(&op);
    (pki, op, latch, origin)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// The certificate and key Latch keeps for `name`, from the real keyring.
fn stored_identity(latch: &Latch, name: &str) -> String {
    let id = latch.show(name)["id"].as_str().unwrap().to_owned();
    keyring::Entry::new("latch", &format!("{id}/client_identity"))
        .unwrap()
        .get_password()
        .expect("the identity is in the keyring")
}

/// Checks the key appears nowhere: data directory, CLI output, `show --json`.
fn assert_key_kept_secret(latch: &Latch, name: &str, key_lines: Vec<String>) {
    let shown = latch.ok(&["show", name, "--json"]);
    for line in &key_lines {
        assert!(!shown.contains(line.as_str()), "the key is in show --json");
    }
    latch.assert_no_secret_leaks(&key_lines);
}

#[test]
fn tls_client_auth_signs_in_and_refreshes_over_the_mtls_aliases_without_a_client_secret() {
    let (pki, op, latch, origin) = setup();
    latch.ok(&[
        "add",
        "--name",
        "Corp",
        "--issuer",
        &op.base,
        "--client-id",
        "mtls-ca",
        "--client-cert",
        &pki.arg("client.pem"),
        "--client-cert-key",
        &pki.arg("client-key.pem"),
        "--scope",
        "openid",
        "--scope",
        "offline_access",
    ]);
    let shown = latch.show("Corp");
    assert_eq!(
        shown["client_auth"], "tls_client_auth",
        "the certificate implies the method: {shown}"
    );
    assert_eq!(
        shown["client_certificate"]["subject"],
        "CN=latch-mtls-client"
    );
    assert_eq!(
        shown["mtls_endpoint_aliases"]["token_endpoint"],
        format!("{origin}/token")
    );
    assert_eq!(shown["has_client_secret"], false);
    let out = latch.ok(&["show", "Corp"]);
    assert!(
        out.contains("CN=latch-mtls-client") && out.contains("Certificate expires"),
        "{out}"
    );

    let out = latch.ok(&["connect", "Corp", "--timeout", "20"]);
    assert!(
        out.contains("Connected 'Corp' as alice."),
        "the account read over mTLS too: {out}"
    );
    let before = latch.access_token("Corp");
    latch.ok(&["refresh", "Corp"]);
    assert_ne!(latch.access_token("Corp"), before, "a new token");
    let stats = op.stats();
    assert_eq!(
        stats["mtls_token_requests"], 2,
        "the code exchange and the refresh went to the TLS port: {stats}"
    );
    assert_eq!(stats["client_secrets_seen"], 0, "{stats}");

    let mut secrets = pki.key_lines("client");
    secrets.extend(latch.stored_secrets("Corp"));
    assert_key_kept_secret(&latch, "Corp", secrets);
}

#[test]
fn a_certificate_bound_token_works_through_latch_request_and_the_proxy_and_not_without_the_certificate(
) {
    let (pki, op, latch, origin) = setup();
    runtime_dir(&latch);
    latch.ok(&[
        "add",
        "--name",
        "Machine",
        "--issuer",
        &op.base,
        "--flow",
        "client-credentials",
        "--client-id",
        "mtls-ca",
        "--client-cert",
        &pki.arg("client.pem"),
        "--client-cert-key",
        &pki.arg("client-key.pem"),
        "--api-base-url",
        &origin,
    ]);
    latch.ok(&["connect", "Machine"]);
    let token = latch.access_token("Machine");

    let answer = json(&latch.ok(&["request", "Machine", &format!("{origin}/api/bound")]));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["client_id"], "mtls-ca");

    // The same token from a plain client: trusted TLS, but no certificate.
    let (status, body) = curl(&[
        "--cacert",
        &pki.arg("ca.pem"),
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("{origin}/api/bound"),
    ]);
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("bound to another client certificate"),
        "{body}"
    );

    // The proxy presents the certificate too.
    let proxy = start_proxy(&latch);
    let (status, body) = curl(&[
        "-H",
        &format!("Proxy-Authorization: Bearer {}", proxy.key),
        &format!("{}/Machine/api/bound", proxy.url),
    ]);
    assert_eq!(status, 200, "{body}");
    let stats = op.stats();
    assert_eq!(
        (
            stats["bound_accepted"].as_u64(),
            stats["bound_refused"].as_u64()
        ),
        (Some(2), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["client_secrets_seen"], 0, "{stats}");
}

#[test]
fn a_certificate_latch_makes_authenticates_with_self_signed_tls_client_auth() {
    let (_pki, op, latch, origin) = setup();
    latch.ok(&[
        "add",
        "--name",
        "Own",
        "--issuer",
        &op.base,
        "--flow",
        "client-credentials",
        "--client-id",
        "to-be-registered",
        "--make-client-cert",
        "--api-base-url",
        &origin,
    ]);
    let shown = latch.show("Own");
    assert_eq!(
        shown["client_auth"], "self_signed_tls_client_auth",
        "{shown}"
    );
    assert_eq!(shown["client_certificate"]["made_by_latch"], true);
    let pem = latch.ok(&["show", "Own", "--client-cert"]);
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----") && !pem.contains("PRIVATE"),
        "{pem}"
    );

    // The user registers the certificate (its JWK with x5c) with the provider.
    let jwk = json(&latch.ok(&["show", "Own", "--client-cert-jwk"]));
    assert_eq!(jwk["x5t#S256"], shown["client_certificate"]["thumbprint"]);
    let registration = serde_json::json!({
        "application_type": "web",
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "tls_client_certificate_bound_access_tokens": true,
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "jwks": { "keys": [jwk] },
    });
    let (status, registered) = http(
        "POST",
        &op.url("/reg"),
        &[("Content-Type", "application/json")],
        &registration.to_string(),
    );
    assert_eq!(status, 201, "{registered}");
    latch.ok(&[
        "edit",
        "Own",
        "--client-id",
        registered["client_id"].as_str().unwrap(),
    ]);

    latch.ok(&["connect", "Own"]);
    let first = latch.access_token("Own");
    latch.ok(&["refresh", "Own"]);
    assert_ne!(latch.access_token("Own"), first);
    let answer = json(&latch.ok(&["request", "Own", &format!("{origin}/api/bound")]));
    assert_eq!(
        answer["x5t#S256"], shown["client_certificate"]["thumbprint"],
        "{answer}"
    );
    let stats = op.stats();
    assert_eq!(stats["mtls_token_requests"], 2, "{stats}");
    assert_eq!(stats["client_secrets_seen"], 0, "{stats}");

    let mut secrets = key_body(&stored_identity(&latch, "Own"));
    secrets.extend(latch.stored_secrets("Own"));
    assert_key_kept_secret(&latch, "Own", secrets);
}

#[test]
fn a_pkcs12_file_is_imported_with_its_password_from_standard_input() {
    let (pki, op, latch, _) = setup();
    let p12 = pki.pkcs12("p12-pass-4711");
    let err = latch.run_with_stdin(
        &[
            "add",
            "--name",
            "Wrong",
            "--issuer",
            &op.base,
            "--flow",
            "client-credentials",
            "--client-id",
            "mtls-ca",
            "--client-p12",
            &p12,
            "--client-p12-password-stdin",
        ],
        "not-the-password\n",
    );
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(
        !err.status.success() && stderr.contains("the password is wrong"),
        "{stderr}"
    );
    assert!(
        latch.run(&["show", "Wrong"]).status.code() != Some(0),
        "nothing was saved"
    );

    latch.ok_with_stdin(
        &[
            "add",
            "--name",
            "P12",
            "--issuer",
            &op.base,
            "--flow",
            "client-credentials",
            "--client-id",
            "mtls-ca",
            "--client-p12",
            &p12,
            "--client-p12-password-stdin",
        ],
        "p12-pass-4711\n",
    );
    assert_eq!(
        latch.show("P12")["client_certificate"]["subject"],
        "CN=latch-mtls-client"
    );
    latch.ok(&["connect", "P12"]);
    assert_eq!(op.stats()["mtls_token_requests"], 1);
    let mut secrets = pki.key_lines("client");
    secrets.push("p12-pass-4711".into());
    assert_key_kept_secret(&latch, "P12", secrets);
}

#[test]
fn a_wrong_or_expired_certificate_is_refused_in_plain_words() {
    let (pki, op, latch, _) = setup();
    // A certificate from the right CA naming someone else: the provider refuses it.
    latch.ok(&[
        "add",
        "--name",
        "Stranger",
        "--issuer",
        &op.base,
        "--flow",
        "client-credentials",
        "--client-id",
        "mtls-ca",
        "--client-cert",
        &pki.arg("stranger.pem"),
        "--client-cert-key",
        &pki.arg("stranger-key.pem"),
    ]);
    let stderr = latch.fails(&["connect", "Stranger"], 4);
    assert!(
        stderr.contains(
            "did not accept the client certificate (CN=someone-else) for client ID 'mtls-ca'"
        ),
        "{stderr}"
    );

    // A key that is not the certificate's: refused before anything is saved.
    let stderr = latch.fails(
        &[
            "add",
            "--name",
            "Mixed",
            "--issuer",
            &op.base,
            "--flow",
            "client-credentials",
            "--client-id",
            "mtls-ca",
            "--client-cert",
            &pki.arg("client.pem"),
            "--client-cert-key",
            &pki.arg("stranger-key.pem"),
        ],
        2,
    );
    assert!(
        stderr.contains("The private key does not belong to the certificate"),
        "{stderr}"
    );

    // An expired certificate: refused with its date, before any request.
    pki.issue_expired();
    let stderr = latch.fails(
        &[
            "add",
            "--name",
            "Old",
            "--issuer",
            &op.base,
            "--flow",
            "client-credentials",
            "--client-id",
            "mtls-ca",
            "--client-cert",
            &pki.arg("expired.pem"),
            "--client-cert-key",
            &pki.arg("expired-key.pem"),
        ],
        2,
    );
    assert!(stderr.contains("expired on 2020-01-02"), "{stderr}");
    assert_eq!(
        op.stats()["mtls_token_requests"],
        1,
        "only the stranger's attempt reached the provider"
    );
    let mut secrets = pki.key_lines("stranger");
    secrets.extend(pki.key_lines("expired"));
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn a_pushed_sign_in_request_authenticates_with_the_client_certificate() {
    let (pki, op, latch, origin) = setup();
    latch.ok(&[
        "add", "--name", "Pushed", "--issuer", &op.base, "--client-id", "mtls-ca", "--client-cert", &pki.arg("client.pem"),
        "--client-cert-key", &pki.arg("client-key.pem"), "--scope", "openid", "--par", "on",
    ]);
    let shown = latch.show("Pushed");
    assert_eq!(shown["par"], true);
    assert_eq!(
        shown["mtls_endpoint_aliases"]["pushed_authorization_request_endpoint"],
        format!("{origin}/request"),
        "the push goes where the certificate is asked for: {shown}"
    );
    let out = latch.ok(&["connect", "Pushed", "--timeout", "20"]);
    assert!(out.contains("Connected 'Pushed'"), "{out}");
    let stats = op.stats();
    assert_eq!(stats["pushed_requests"], 1, "{stats}");
    assert_eq!(stats["client_secrets_seen"], 0, "{stats}");
}

#[test]
fn a_device_sign_in_polls_with_the_client_certificate() {
    let pki = Pki::new();
    let op = pki.oidc_with(&["--device"]);
    let latch = Latch::new();
    pki.trust(&latch);
    let origin = mtls_origin(&op);
    latch.ok(&[
        "add", "--name", "Kiosk", "--issuer", &op.base, "--flow", "device_code", "--client-id", "mtls-ca", "--client-cert",
        &pki.arg("client.pem"), "--client-cert-key", &pki.arg("client-key.pem"), "--scope", "openid",
    ]);
    let shown = latch.show("Kiosk");
    assert_eq!(shown["mtls_endpoint_aliases"]["device_authorization_endpoint"], format!("{origin}/device/auth"), "{shown}");
    let out = latch.ok(&["connect", "Kiosk", "--timeout", "30"]);
    assert!(out.contains("Connected 'Kiosk'"), "{out}");
    let stats = op.stats();
    assert!(stats["mtls_token_requests"].as_u64().unwrap() >= 1, "the polls went to the TLS port: {stats}");
    assert_eq!(stats["client_secrets_seen"], 0, "{stats}");
}
