//! Modern OAuth against panva's oidc-provider: pushed authorization
//! requests (RFC 9126) — discovered when the server requires them, or
//! switched on by the user — with the browser's address carrying only
//! `client_id` and `request_uri`, and a refused push said in words.

use latch_e2e::{register_key_client, Latch, Provider};

fn query_keys(opened: &(String, Vec<(String, String)>)) -> Vec<String> {
    opened.1.iter().map(|(k, _)| k.clone()).collect()
}

#[test]
fn a_server_that_requires_par_is_discovered_and_the_browser_sees_only_the_request_uri() {
    let op = Provider::oidc(&["--require-par"]);
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Fapi", "--issuer", &op.base, "--client-id", "conf-basic", "--client-auth", "basic",
            "--client-secret-stdin", "--scope", "openid", "--scope", "profile"],
        "conf-basic-secret\n",
    );
    let shown = latch.show("Fapi");
    assert_eq!(shown["par"], true, "the server requires PAR: {shown}");
    assert_eq!(shown["par_url"], op.url("/request"));
    let out = latch.ok(&["show", "Fapi"]);
    assert!(out.contains(&format!("on, at {}", op.url("/request"))), "{out}");

    let out = latch.ok(&["connect", "Fapi", "--timeout", "20"]);
    assert!(out.contains("Connected 'Fapi' as Alice Example."), "{out}");
    assert_eq!(op.stats()["pushed_requests"], 1);
    let opened = latch.browser_last_opened();
    assert_eq!(opened.0, "/auth");
    assert_eq!(query_keys(&opened), ["client_id", "request_uri"], "{opened:?}");
    assert_eq!(opened.1[0].1, "conf-basic");
    assert!(opened.1[1].1.starts_with("urn:ietf:params:oauth:request_uri:"), "{opened:?}");

    // The token is good and renews like any other.
    let before = latch.access_token("Fapi");
    latch.ok(&["refresh", "Fapi"]);
    assert_ne!(latch.access_token("Fapi"), before);
    let mut secrets = vec!["conf-basic-secret".to_string()];
    secrets.extend(latch.stored_secrets("Fapi"));
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn the_user_may_switch_par_on_where_the_server_only_offers_it() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok(&["add", "--name", "Lab", "--issuer", &op.base, "--client-id", "public-pkce", "--scope", "openid"]);
    let shown = latch.show("Lab");
    assert_eq!(shown["par"], false, "offered, not required: {shown}");
    assert_eq!(shown["par_url"], op.url("/request"));
    latch.ok(&["connect", "Lab", "--timeout", "20"]);
    assert_eq!(op.stats()["pushed_requests"], 0);
    assert!(query_keys(&latch.browser_last_opened()).contains(&"code_challenge".to_string()));

    latch.ok(&["edit", "Lab", "--par", "on"]);
    latch.ok(&["connect", "Lab", "--timeout", "20"]);
    assert_eq!(op.stats()["pushed_requests"], 1);
    assert_eq!(query_keys(&latch.browser_last_opened()), ["client_id", "request_uri"]);
    assert_eq!(latch.show("Lab")["status"], "connected");
}

#[test]
fn a_push_the_server_refuses_is_said_in_words_and_the_browser_is_not_opened() {
    let op = Provider::oidc(&["--require-par"]);
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Wrong", "--issuer", &op.base, "--client-id", "conf-post", "--client-auth", "body",
            "--client-secret-stdin", "--scope", "openid"],
        "not-the-conf-post-secret\n",
    );
    let output = latch.run(&["connect", "Wrong", "--timeout", "20"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("The provider rejected the client ID or secret when Latch pushed the sign-in request (PAR)."),
        "{stderr}"
    );
    assert!(stderr.contains("--client-secret-stdin"), "the fix is offered as a command: {stderr}");
    assert_eq!(op.stats()["pushed_requests"], 1);
    assert!(!latch.data_dir.path().with_extension("browser.log").exists(), "the browser was opened");
    let shown = latch.show("Wrong");
    assert!(shown["last_error"].as_str().unwrap_or_default().contains("pushed the sign-in request"), "{shown}");
    latch.assert_no_secret_leaks(&["not-the-conf-post-secret".to_string()]);
}

// --- JWT client authentication (RFC 7523) ----------------------------------------

#[test]
fn client_secret_jwt_signs_in_refreshes_revokes_and_pushes_without_sending_the_secret() {
    let op = Provider::oidc(&["--require-par"]);
    let secret = "conf-jwt-secret-0123456789abcdefghijklmnop";
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Jwt", "--issuer", &op.base, "--client-id", "conf-jwt", "--client-auth", "client_secret_jwt",
            "--client-secret-stdin", "--scope", "openid", "--revoke-url", &op.url("/token/revocation")],
        &format!("{secret}\n"),
    );
    assert_eq!(latch.show("Jwt")["client_auth"], "client_secret_jwt");
    // The push (PAR), the code exchange, the refresh and the revocation each
    // authenticate with a fresh assertion; oidc-provider accepts no other way for this client.
    let out = latch.ok(&["connect", "Jwt", "--timeout", "20"]);
    assert!(out.contains("Connected 'Jwt' as alice."), "{out}");
    assert_eq!(op.stats()["pushed_requests"], 1);
    let before = latch.access_token("Jwt");
    latch.ok(&["refresh", "Jwt"]);
    assert_ne!(latch.access_token("Jwt"), before);
    let mut secrets = vec![secret.to_string()];
    secrets.extend(latch.stored_secrets("Jwt"));
    latch.ok(&["disconnect", "Jwt"]);
    assert!(op.stats()["revocations"].as_u64().unwrap() >= 1);
    latch.assert_no_secret_leaks(&secrets);

    // A wrong secret signs a wrong assertion: refused in words.
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Jwt", "--issuer", &op.base, "--client-id", "conf-jwt", "--client-auth", "client_secret_jwt",
            "--client-secret-stdin", "--scope", "openid"],
        "not-the-secret-but-long-enough-0123456789\n",
    );
    let output = latch.run(&["connect", "Jwt", "--timeout", "20"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("The provider rejected the client ID or secret"), "{stderr}");
}

#[test]
fn client_secret_jwt_gets_client_credentials_tokens() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Machine", "--flow", "client_credentials", "--token-url", &op.url("/token"), "--client-id",
            "conf-jwt", "--client-auth", "client_secret_jwt", "--client-secret-stdin", "--scope", "api:read"],
        "conf-jwt-secret-0123456789abcdefghijklmnop\n",
    );
    latch.ok(&["connect", "Machine"]);
    assert_eq!(latch.show("Machine")["status"], "connected");
    assert_eq!(op.stats()["by_grant"]["client_credentials"], 1);
}

/// The private key Latch keeps for `name` (PEM, from the real keyring).
fn stored_client_key(latch: &Latch, name: &str) -> String {
    let id = latch.show(name)["id"].as_str().unwrap().to_owned();
    keyring::Entry::new("latch", &format!("{id}/client_secret")).unwrap().get_password().expect("the key is in the keyring")
}

#[test]
fn a_key_latch_generates_signs_in_refreshes_and_revokes_with_private_key_jwt() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    // The user makes the connection first, then registers the key it shows.
    latch.ok(&["add", "--name", "Keyed", "--issuer", &op.base, "--client-id", "not-yet", "--generate-client-key", "es256",
        "--scope", "openid", "--scope", "offline_access", "--revoke-url", &op.url("/token/revocation")]);
    let shown = latch.show("Keyed");
    assert_eq!(shown["client_auth"], "private_key_jwt");
    let jwk: serde_json::Value = serde_json::from_str(shown["client_public_jwk"].as_str().expect("the public key is shown")).unwrap();
    assert_eq!((jwk["kty"].as_str(), jwk["alg"].as_str()), (Some("EC"), Some("ES256")));
    assert!(jwk.get("d").is_none(), "only the public half is shown: {jwk}");
    let text = latch.ok(&["show", "Keyed"]);
    assert!(text.contains("Public key (JWK)") && text.contains(jwk["kid"].as_str().unwrap()), "{text}");
    assert!(text.contains("Private key") && text.contains("saved in the system keyring"), "{text}");

    let client_id = register_key_client(&op, &jwk, &["authorization_code", "refresh_token"]);
    // One `--client-id=` word: the registered id is random base64url and may start with "-".
    latch.ok(&["edit", "Keyed", &format!("--client-id={client_id}")]);
    assert_eq!(latch.show("Keyed")["client_public_jwk"], shown["client_public_jwk"], "an edit keeps the key");
    let out = latch.ok(&["connect", "Keyed", "--timeout", "20"]);
    assert!(out.contains("Connected 'Keyed'"), "{out}");
    let before = latch.access_token("Keyed");
    latch.ok(&["refresh", "Keyed"]);
    assert_ne!(latch.access_token("Keyed"), before, "the refresh authenticated with a new assertion");

    let pem = stored_client_key(&latch, "Keyed");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut secrets = vec![body.clone()];
    secrets.extend(latch.stored_secrets("Keyed"));
    latch.ok(&["disconnect", "Keyed"]);
    assert!(op.stats()["revocations"].as_u64().unwrap() >= 1);
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn an_imported_ed25519_key_gets_client_credentials_tokens_and_a_wrong_key_is_refused_in_words() {
    let op = Provider::oidc(&[]);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client.pem");
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key_file)
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let latch = Latch::new();
    latch.ok(&["add", "--name", "Machine", "--flow", "client_credentials", "--token-url", &op.url("/token"), "--client-id",
        "not-yet", "--client-key-file", key_file.to_str().unwrap(), "--scope", "api:read"]);
    let jwk: serde_json::Value = serde_json::from_str(latch.show("Machine")["client_public_jwk"].as_str().unwrap()).unwrap();
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()), (Some("OKP"), Some("Ed25519"), Some("EdDSA")));
    let client_id = register_key_client(&op, &jwk, &["client_credentials"]);
    // One `--client-id=` word: the registered id is random base64url and may start with "-".
    latch.ok(&["edit", "Machine", &format!("--client-id={client_id}")]);
    latch.ok(&["connect", "Machine"]);
    assert_eq!(latch.show("Machine")["status"], "connected");
    assert_eq!(op.stats()["by_grant"]["client_credentials"], 1);

    // Another key than the one registered: the provider refuses, said plainly.
    latch.ok(&["edit", "Machine", "--generate-client-key", "es256"]);
    assert_ne!(latch.show("Machine")["client_public_jwk"].as_str(), Some(jwk.to_string().as_str()));
    latch.ok(&["disconnect", "Machine"]);
    let output = latch.run(&["connect", "Machine"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("The provider rejected the client ID or the key it was signed with"), "{stderr}");

    // A file that is no private key is refused before anything is saved.
    std::fs::write(dir.path().join("public.pem"), "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n").unwrap();
    let refused = latch.fails(
        &["add", "--name", "Other", "--flow", "client_credentials", "--token-url", &op.url("/token"), "--client-id", "c",
            "--client-key-file", dir.path().join("public.pem").to_str().unwrap()],
        2,
    );
    assert!(refused.contains("holds a public key or a certificate, not the private key"), "{refused}");
    assert!(latch.run(&["show", "Other"]).status.code() != Some(0), "nothing was saved");
}
