//! Modern OAuth against panva's oidc-provider: pushed authorization
//! requests (RFC 9126) — discovered when the server requires them, or
//! switched on by the user — with the browser's address carrying only
//! `client_id` and `request_uri`, and a refused push said in words.

use latch_e2e::{Latch, Provider};

/// The address the scripted browser was last started with: its path and
/// its query's pairs.
fn last_browser_start(latch: &Latch) -> (String, Vec<(String, String)>) {
    let log = std::fs::read_to_string(latch.data_dir.path().with_extension("browser.log")).expect("the browser ran");
    let line = log.lines().filter(|l| l.contains(" start mode ")).last().expect("a start line");
    let url = line.split(" url ").nth(1).expect("the start line names the URL").trim();
    let (address, query) = url.split_once('?').unwrap_or((url, ""));
    let path = address.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
    (path, serde_urlencoded::from_str(query).unwrap())
}

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
    let opened = last_browser_start(&latch);
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
    assert!(query_keys(&last_browser_start(&latch)).contains(&"code_challenge".to_string()));

    latch.ok(&["edit", "Lab", "--par", "on"]);
    latch.ok(&["connect", "Lab", "--timeout", "20"]);
    assert_eq!(op.stats()["pushed_requests"], 1);
    assert_eq!(query_keys(&last_browser_start(&latch)), ["client_id", "request_uri"]);
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
