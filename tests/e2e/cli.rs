//! The `latch` CLI end to end: real oidc-provider and quirk server, the real
//! Secret Service, the scripted browser. Each test names the behaviour it
//! proves and ends by checking that no secret leaked.

use latch_e2e::{http, post_form_basic, Latch, PrivateKeyring, Provider};
use serde_json::Value;

/// Adds a code-flow connection to oidc-provider with the given client.
fn add_oidc(latch: &Latch, op: &Provider, name: &str, client: &str, extra: &[&str]) {
    let mut args = vec![
        "add", "--name", name, "--flow", "authorization_code", "--client-id", client,
        "--scope", "openid", "--scope", "offline_access", "--scope", "profile", "--scope", "api:read",
        "--auth-param", "prompt=consent",
    ];
    let urls = [
        ("--authorize-url", op.url("/auth")),
        ("--token-url", op.url("/token")),
        ("--revoke-url", op.url("/token/revocation")),
        ("--info-url", op.url("/me")),
    ];
    let urls: Vec<String> = urls.iter().flat_map(|(flag, url)| [flag.to_string(), url.clone()]).collect();
    args.extend(urls.iter().map(String::as_str));
    args.extend(extra);
    let secret = match client {
        "conf-basic" => "conf-basic-secret\n",
        "conf-post" => "conf-post-secret\n",
        _ => "",
    };
    if secret.is_empty() {
        latch.ok(&args);
    } else {
        args.push("--client-secret-stdin");
        latch.ok_with_stdin(&args, secret);
    }
}

fn introspect(op: &Provider, token: &str) -> Value {
    post_form_basic(&op.url("/token/introspection"), "conf-basic", "conf-basic-secret", &[("token", token)]).1
}

#[test]
fn code_flow_with_pkce_and_a_public_client_connects_and_shows_scopes_and_account() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Team Drive", "public-pkce", &[]);
    let out = latch.ok(&["connect", "team drive"]);
    assert!(out.contains("Connected 'Team Drive' as Alice Example."), "{out}");

    let shown = latch.show("Team Drive");
    assert_eq!(shown["status"], "connected");
    assert_eq!(shown["pkce"], "s256");
    assert_eq!(shown["client_auth"], "none");
    assert_eq!(shown["account"], "Alice Example");
    assert_eq!(shown["has_refresh_token"], true);
    assert_eq!(shown["issuer"], op.base.as_str(), "the RFC 9207 iss was confirmed and recorded");
    let granted: Vec<&str> = shown["granted_scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(granted.contains(&"api:read") && granted.contains(&"offline_access"), "{granted:?}");
    assert!(shown["access_expires_at"].as_str().unwrap().ends_with('Z'));

    let token = latch.ok(&["token", "Team Drive"]);
    assert_eq!(token.trim(), latch.access_token("Team Drive"));
    assert_eq!(introspect(&op, token.trim())["active"], true);
    latch.assert_no_secret_leaks(&latch.stored_secrets("Team Drive"));
}

#[test]
fn a_confidential_client_with_basic_auth_connects() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Basic", "conf-basic", &["--client-auth", "basic"]);
    latch.ok(&["connect", "Basic"]);
    assert_eq!(latch.show("Basic")["status"], "connected");
    let mut secrets = latch.stored_secrets("Basic");
    secrets.push("conf-basic-secret".into());
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn a_confidential_client_with_body_auth_connects() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Body", "conf-post", &[]);
    assert_eq!(latch.show("Body")["client_auth"], "body", "a secret defaults to body authentication");
    latch.ok(&["connect", "Body"]);
    assert_eq!(latch.show("Body")["status"], "connected");
    let mut secrets = latch.stored_secrets("Body");
    secrets.push("conf-post-secret".into());
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn the_wrong_client_secret_is_reported_with_what_to_do() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Wrong", "--flow", "client_credentials", "--client-id", "conf-post", "--client-secret-stdin",
          "--token-url", &op.url("/token")],
        "not-the-secret",
    );
    let stderr = latch.fails(&["connect", "Wrong"], 4);
    assert!(stderr.contains("The provider rejected the client ID or secret."), "{stderr}");
    assert!(stderr.contains("The provider's answer: invalid_client"), "{stderr}");
    assert!(stderr.contains("latch edit \"Wrong\" --client-id ID --client-secret-stdin"), "{stderr}");
    assert_eq!(latch.show("Wrong")["status"], "error");
}

#[test]
fn client_credentials_gets_a_token_without_a_browser() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Service", "--flow", "client_credentials", "--client-id", "conf-basic",
          "--client-secret-stdin", "--client-auth", "basic", "--token-url", &op.url("/token"), "--scope", "api:read"],
        "conf-basic-secret",
    );
    latch.set_browser_mode("ignore");
    latch.ok(&["connect", "Service"]);
    let token = latch.ok(&["token", "Service"]);
    assert_eq!(introspect(&op, token.trim())["active"], true);
    assert_eq!(op.stats()["by_grant"]["client_credentials"], 1);
    let mut secrets = latch.stored_secrets("Service");
    secrets.push("conf-basic-secret".into());
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn the_implicit_flow_reads_the_token_from_the_fragment_and_warns_that_it_is_legacy() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    let out = latch.run(&["add", "--name", "Legacy", "--flow", "implicit", "--client-id", "implicit-client",
        "--authorize-url", &quirks.url("/implicit/authorize"), "--scope", "read", "--scope", "write"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("legacy (RFC 9700)") && stderr.contains("authorization_code"), "{stderr}");
    latch.ok(&["connect", "Legacy"]);
    let shown = latch.show("Legacy");
    assert_eq!(shown["status"], "connected");
    assert_eq!(shown["has_refresh_token"], false);
    assert_eq!(shown["granted_scopes"], serde_json::json!(["read", "write"]));
    let token = latch.ok(&["token", "Legacy"]);
    let (status, echo) = http("GET", &quirks.url("/api/echo"), &[("Authorization", &format!("Bearer {}", token.trim()))], "");
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["token"]["active"], true);
    latch.assert_no_secret_leaks(&latch.stored_secrets("Legacy"));
}

#[test]
fn refresh_rotates_the_refresh_token_and_the_old_one_is_rejected() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Rotate", "conf-basic", &["--client-auth", "basic"]);
    latch.ok(&["connect", "Rotate"]);
    let before = latch.keyring_tokens("Rotate").unwrap();
    let out = latch.ok(&["refresh", "Rotate"]);
    assert!(out.starts_with("Refreshed 'Rotate'."), "{out}");
    let after = latch.keyring_tokens("Rotate").unwrap();
    assert_ne!(before["refresh_token"], after["refresh_token"], "the provider rotated the refresh token");
    assert_ne!(before["access_token"], after["access_token"]);

    // Latch holds the new one, which works...
    latch.ok(&["refresh", "Rotate"]);
    // ...and the provider rejects the old one. (Replaying it also makes
    // oidc-provider revoke the whole grant, so this comes last.)
    let (status, body) = post_form_basic(
        &op.url("/token"),
        "conf-basic",
        "conf-basic-secret",
        &[("grant_type", "refresh_token"), ("refresh_token", before["refresh_token"].as_str().unwrap())],
    );
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let mut secrets = latch.stored_secrets("Rotate");
    secrets.extend(
        ["access_token", "refresh_token"].iter().flat_map(|k| [&before, &after].map(|t| t[*k].as_str().unwrap().to_owned())),
    );
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn latch_token_refreshes_only_when_the_token_is_due() {
    // An 8-second token is due after 4 seconds (margin = 50 % of its lifetime).
    let op = Provider::oidc(&["--access-ttl", "8"]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Short", "public-pkce", &[]);
    latch.ok(&["connect", "Short"]);
    let first = latch.ok(&["token", "Short"]);
    assert_eq!(latch.ok(&["token", "Short"]), first, "not due yet: same token, no refresh");
    assert_eq!(op.stats()["by_grant"]["refresh_token"].as_u64().unwrap_or(0), 0);

    latch.step_clock(4500);
    let second = latch.ok(&["token", "Short"]);
    assert_ne!(second, first, "due: refreshed first");
    assert_eq!(op.stats()["by_grant"]["refresh_token"], 1);
    assert_eq!(latch.ok(&["token", "Short"]), second, "fresh again: no second refresh");
    assert_eq!(op.stats()["by_grant"]["refresh_token"], 1);
    latch.assert_no_secret_leaks(&[first.trim().to_owned(), second.trim().to_owned()]);
}

#[test]
fn disconnect_revokes_the_token_at_the_provider() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Revoke", "conf-basic", &["--client-auth", "basic"]);
    latch.ok(&["connect", "Revoke"]);
    let tokens = latch.stored_secrets("Revoke");
    let access = latch.access_token("Revoke");
    assert_eq!(introspect(&op, &access)["active"], true);

    let out = latch.ok(&["disconnect", "Revoke"]);
    assert!(out.contains("The provider revoked its tokens."), "{out}");
    assert_eq!(introspect(&op, &access)["active"], false);
    assert!(latch.keyring_tokens("Revoke").is_none(), "tokens deleted from the keyring");
    assert_eq!(latch.show("Revoke")["status"], "new");
    let stderr = latch.fails(&["token", "Revoke"], 3);
    assert!(stderr.contains("is not connected yet"), "{stderr}");

    latch.ok(&["remove", "Revoke"]);
    latch.fails(&["show", "Revoke"], 2);
    latch.assert_no_secret_leaks(&tokens);
}

#[test]
fn a_forged_or_missing_state_is_refused_and_no_token_request_is_sent() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Forged", "public-pkce", &[]);
    for (mode, expected) in [("forge-state", "wrong 'state'"), ("drop-state", "had no 'state'")] {
        latch.set_browser_mode(mode);
        // The forged answer is ignored (the real one may still come); when
        // nothing else does, the timeout names what was ignored.
        let stderr = latch.fails(&["connect", "Forged", "--timeout", "3"], 4);
        assert!(stderr.contains(expected), "{mode}: {stderr}");
    }
    assert_eq!(op.stats()["token_requests"], 0, "no code was exchanged");
    assert_eq!(latch.show("Forged")["status"], "error");
}

#[test]
fn a_declined_consent_needs_authorization() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Declined", "public-pkce", &[]);
    latch.set_browser_mode("deny");
    let stderr = latch.fails(&["connect", "Declined", "--timeout", "30"], 3);
    assert!(stderr.contains("access_denied"), "{stderr}");
}

#[test]
fn nobody_signing_in_times_out_with_a_clear_message() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Idle", "public-pkce", &[]);
    latch.set_browser_mode("ignore");
    let stderr = latch.fails(&["connect", "Idle", "--timeout", "2"], 3);
    assert!(stderr.contains("Nobody finished signing in within 2 seconds"), "{stderr}");
}

#[test]
fn request_places_the_token_in_header_query_or_both_with_a_custom_token_name() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "API", "--flow", "client_credentials", "--client-id", "conf-basic", "--client-secret-stdin",
          "--token-url", &op.url("/token"), "--scope", "api:read", "--token-name", "MyToken",
          "--header", "X-Api-Version: 2"],
        "conf-basic-secret",
    );
    latch.ok(&["connect", "API"]);
    let echo_url = op.url("/api/echo?x=1");

    let echo: Value = serde_json::from_str(&latch.ok(&["request", "API", &echo_url, "-H", "X-Extra: yes"])).unwrap();
    assert_eq!(echo["token"]["found_in"], "header");
    assert_eq!(echo["token"]["scheme"], "MyToken");
    assert_eq!(echo["token"]["active"], true);
    assert_eq!(echo["headers"]["x-api-version"], "2");
    assert_eq!(echo["headers"]["x-extra"], "yes");
    assert_eq!(echo["query"]["x"], "1");

    latch.ok(&["edit", "API", "--placement", "query", "--query-param", "key"]);
    let echo: Value = serde_json::from_str(&latch.ok(&["request", "API", &echo_url])).unwrap();
    assert_eq!(echo["token"]["found_in"], "query");
    assert_eq!(echo["token"]["query_param"], "key");
    assert!(echo["headers"].get("authorization").is_none());

    latch.ok(&["edit", "API", "--placement", "both"]);
    let echo: Value =
        serde_json::from_str(&latch.ok(&["request", "API", &echo_url, "-X", "POST", "-d", "hello"])).unwrap();
    assert_eq!(echo["token"]["found_in"], "both");
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "hello");
    let mut secrets = latch.stored_secrets("API");
    secrets.push("conf-basic-secret".into());
    latch.assert_no_secret_leaks(&secrets);
}

/// Adds a code-flow connection against the quirk server's token endpoint `quirk`.
fn add_quirk(latch: &Latch, quirks: &Provider, name: &str, quirk: &str) {
    latch.ok(&[
        "add", "--name", name, "--flow", "authorization_code", "--client-id", "quirky",
        "--authorize-url", &quirks.url("/authorize"), "--token-url", &quirks.url(&format!("/token/{quirk}")),
        "--scope", "read", "--scope", "write",
    ]);
}

#[test]
fn quirky_token_responses_are_read_leniently() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    for quirk in ["string-expires", "form", "no-token-type", "comma-scope"] {
        add_quirk(&latch, &quirks, quirk, quirk);
        latch.ok(&["connect", quirk]);
        let shown = latch.show(quirk);
        assert_eq!(shown["status"], "connected", "{quirk}");
        assert!(shown["access_expires_at"].is_string(), "{quirk}: expiry understood");
        assert_eq!(shown["granted_scopes"], serde_json::json!(["read", "write"]), "{quirk}");
        let token = latch.ok(&["token", quirk]);
        let (status, _) = http("GET", &quirks.url("/api/echo"), &[("Authorization", &format!("Bearer {}", token.trim()))], "");
        assert_eq!(status, 200, "{quirk}: the token works");
    }
}

#[test]
fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Keep", "no-refresh-on-refresh");
    latch.ok(&["connect", "Keep"]);
    let before = latch.keyring_tokens("Keep").unwrap();
    latch.ok(&["refresh", "Keep"]);
    let after = latch.keyring_tokens("Keep").unwrap();
    assert_eq!(before["refresh_token"], after["refresh_token"]);
    assert_ne!(before["access_token"], after["access_token"]);
    assert_eq!(latch.show("Keep")["has_refresh_token"], true);
    latch.ok(&["refresh", "Keep"]);
}

#[test]
fn an_html_error_page_becomes_a_sentence_and_the_connection_an_error() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Gateway", "html-502");
    let stderr = latch.fails(&["connect", "Gateway"], 4);
    assert!(stderr.contains("The provider answered HTTP 502"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    let shown = latch.show("Gateway");
    assert_eq!(shown["status"], "error");
    assert!(shown["last_error"].as_str().unwrap().contains("HTTP 502"));
    assert!(shown["last_error_details"].as_str().unwrap().contains("Bad Gateway"));
}

#[test]
fn an_error_sent_with_status_200_is_reported_as_an_error() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "GitHubish", "error-200");
    let stderr = latch.fails(&["connect", "GitHubish"], 4);
    assert!(stderr.contains("bad_verification_code"), "{stderr}");
}

#[test]
fn a_provider_that_never_answers_times_out_after_30_seconds() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Hang", "hang");
    let started = std::time::Instant::now();
    let stderr = latch.fails(&["connect", "Hang"], 4);
    assert!(stderr.contains("did not answer within 30 seconds"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn invalid_grant_on_refresh_needs_reauthorization() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Expired", "ok");
    latch.ok(&["connect", "Expired"]);
    latch.ok(&["edit", "Expired", "--token-url", &quirks.url("/token/invalid-grant")]);
    let stderr = latch.fails(&["refresh", "Expired"], 3);
    assert!(stderr.contains("'Expired' needs you to sign in again: the provider no longer accepts the saved sign-in."), "{stderr}");
    assert!(stderr.contains("The provider's answer: invalid_grant"), "{stderr}");
    assert!(stderr.contains("latch connect \"Expired\""), "{stderr}");
    assert_eq!(latch.show("Expired")["status"], "needs_reauth");
    // The access token still works for its hour: it is served, with what to do.
    let valid = latch.access_token("Expired");
    let output = latch.run(&["token", "Expired"]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), valid);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs you to sign in again; this access token still works until"), "{stderr}");
    // Once it has expired, only a new sign-in helps.
    latch.step_clock(3_601_000);
    latch.fails(&["token", "Expired"], 3);
    latch.step_clock(-3_601_000);
    // `latch status` tells scripts: exit 3 while any connection needs a sign-in.
    let out = latch.run(&["status"]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Expired: needs you to sign in again: latch connect \"Expired\""), "{text}");
}

#[test]
fn the_redirect_uri_sent_to_the_token_endpoint_is_byte_identical() {
    // The quirk server refuses a code whose redirect_uri differs by one byte.
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Exact", "ok");
    latch.ok(&["edit", "Exact", "--redirect-path", "/oauth/done"]);
    latch.ok(&["connect", "Exact"]);
    assert_eq!(latch.show("Exact")["status"], "connected");
}

#[test]
fn invalid_input_is_refused_with_exit_2_and_nothing_is_saved() {
    let latch = Latch::new();
    let stderr = latch.fails(
        &["add", "--name", "Bad", "--flow", "authorization_code", "--client-id", "x",
          "--authorize-url", "http://example.com/auth", "--token-url", "not a url"],
        2,
    );
    assert!(stderr.contains("Authorize URI must start with https://"), "{stderr}");
    assert!(stderr.contains("Token URI 'not a url' is not a valid URL"), "{stderr}");
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]");

    let stderr = latch.fails(&["add", "--name", "Bad", "--flow", "password", "--client-id", "x"], 2);
    assert!(stderr.contains("'password' is not one of: authorization_code, implicit, client_credentials"), "{stderr}");

    latch.ok(&["add", "--name", "Good", "--flow", "implicit", "--client-id", "x", "--authorize-url", "https://example.com/a"]);
    let stderr = latch.fails(&["add", "--name", "good", "--flow", "implicit", "--client-id", "y", "--authorize-url", "https://example.com/a"], 2);
    assert!(stderr.contains("A connection named 'Good' already exists"), "{stderr}");
    let long = "n".repeat(101);
    let stderr = latch.fails(&["edit", "Good", "--name", &long], 2);
    assert!(stderr.contains("shorten it to 100 or fewer"), "{stderr}");
    assert_eq!(latch.show("Good")["name"], "Good", "a refused edit changes nothing");
}

#[test]
fn without_a_keyring_secrets_are_refused_with_exit_5_and_nothing_is_saved() {
    let latch = Latch::new();
    let output = latch
        .command(&["add", "--name", "NoKeyring", "--flow", "client_credentials", "--client-id", "x",
                   "--token-url", "https://example.com/token", "--client-secret-stdin"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"s3cret-value")?;
            child.wait_with_output()
        })
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("could not use your system keyring"), "{stderr}");
    assert!(stderr.contains("never stores secrets in plain files"), "{stderr}");
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]");
}

#[test]
fn twenty_concurrent_token_requests_at_expiry_cause_exactly_one_refresh() {
    let op = Provider::oidc(&["--access-ttl", "8"]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Busy", "public-pkce", &[]);
    latch.ok(&["connect", "Busy"]);
    let before = latch.access_token("Busy");
    latch.step_clock(4500);

    let children: Vec<_> = (0..20)
        .map(|_| latch.command(&["token", "Busy"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap())
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect();
    assert_eq!(op.stats()["by_grant"]["refresh_token"], 1, "one refresh for twenty callers");
    assert!(tokens.iter().all(|t| t == &tokens[0]), "every caller got the same, new token");
    assert_ne!(tokens[0], before);
    assert_eq!(latch.show("Busy")["status"], "connected");
}

#[test]
fn a_refresh_killed_midway_leaves_the_connection_usable() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Sturdy", "ok");
    latch.ok(&["connect", "Sturdy"]);
    let before = latch.keyring_tokens("Sturdy").unwrap();
    // The refresh hangs at the provider; the process is killed meanwhile.
    latch.ok(&["edit", "Sturdy", "--token-url", &quirks.url("/token/hang")]);
    let mut child = latch.command(&["refresh", "Sturdy"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let after = latch.keyring_tokens("Sturdy").unwrap();
    assert_eq!(before["refresh_token"], after["refresh_token"], "the stored refresh token is intact");
    latch.ok(&["edit", "Sturdy", "--token-url", &quirks.url("/token/ok")]);
    assert_eq!(latch.show("Sturdy")["status"], "connected", "the dead process's refresh does not linger");
    // A new process does not wait for the dead holder's lease.
    let started = std::time::Instant::now();
    let out = latch.ok(&["refresh", "Sturdy"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(out.starts_with("Refreshed 'Sturdy'."), "{out}");
    assert_eq!(latch.show("Sturdy")["status"], "connected");
}

#[test]
fn resource_indicators_go_with_every_request_and_the_token_is_for_that_api() {
    let api = "https://api.example.test/";
    let op = Provider::oidc(&["--resource-server", api]);
    let latch = Latch::new();
    latch.ok(&[
        "add", "--name", "Api", "--flow", "authorization_code", "--client-id", "public-pkce",
        "--authorize-url", &op.url("/auth"), "--token-url", &op.url("/token"),
        "--scope", "openid", "--scope", "offline_access", "--scope", "api:read", "--auth-param", "prompt=consent",
        "--resource", api,
    ]);
    assert_eq!(latch.show("Api")["resource"], serde_json::json!([api]));
    latch.ok(&["connect", "Api"]);
    let audience = |token: &str| {
        let seen = introspect(&op, token);
        assert_eq!(seen["active"], true, "{seen}");
        seen["aud"].clone()
    };
    let first = latch.access_token("Api");
    assert_eq!(audience(&first), api, "the access token is issued for the API named as resource");

    latch.ok(&["refresh", "Api"]);
    let second = latch.access_token("Api");
    assert_ne!(second, first);
    assert_eq!(audience(&second), api, "a refresh asks for the same resource");

    // A resource the provider does not serve: refused, with the setting to change.
    latch.ok(&["edit", "Api", "--resource", "https://elsewhere.example.test/"]);
    let stderr = latch.fails(&["connect", "Api"], 4);
    assert!(stderr.contains("invalid_target"), "{stderr}");
    assert!(stderr.contains("latch edit \"Api\" --resource URI"), "{stderr}");
    latch.ok(&["edit", "Api", "--clear", "resources"]);
    assert_eq!(latch.show("Api")["resource"], serde_json::json!([]));
    latch.assert_no_secret_leaks(&[first, second]);
}

#[test]
fn ctrl_c_during_a_sign_in_stops_it_closes_the_listener_and_changes_nothing() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Patient", "public-pkce", &[]);
    // The browser opens the page and nobody signs in.
    latch.set_browser_mode("ignore");
    let mut child = latch
        .command(&["connect", "Patient", "--timeout", "120"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (with a deadline) until it prints where the browser went: the listener is up.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let redirect = loop {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0, "latch ended early:\n{seen}");
        seen.push_str(&line);
        if let Some(at) = line.find("redirect_uri=") {
            let encoded = line[at + 13..].split('&').next().unwrap().trim().to_owned();
            break serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("r={encoded}")).unwrap()[0].1.clone();
        }
    };
    let port: u16 = redirect.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "the listener waits for the browser");

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "Ctrl-C did not stop the sign-in");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{seen}{rest}");
    assert!(rest.contains("Sign-in cancelled."), "{rest}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "no listener is left");
    let shown = latch.show("Patient");
    assert_eq!(shown["status"], "new");
    assert_eq!(shown["last_error"], serde_json::Value::Null, "a cancel is not a failure");
    assert!(latch.keyring_tokens("Patient").is_none());
    assert_eq!(op.stats()["token_requests"], 0);
}

/// Waits (at most 10 s) until the quirk server has seen `n` token requests
/// for `quirk`: a `latch` process started earlier has reached it.
fn wait_for_token_requests(quirks: &Provider, quirk: &str, n: u64) {
    let started = std::time::Instant::now();
    while quirks.stats()["token_requests"][quirk].as_u64().unwrap_or(0) < n {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "no token request reached {quirk}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn add_revocable_quirk(latch: &Latch, quirks: &Provider, name: &str, quirk: &str) {
    add_quirk(latch, quirks, name, quirk);
    latch.ok(&["edit", name, "--revoke-url", &quirks.url("/revoke")]);
}

#[test]
fn disconnect_while_a_refresh_is_under_way_waits_for_it_and_leaves_no_live_tokens() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_revocable_quirk(&latch, &quirks, "Racing", "slow-3s");
    latch.ok(&["connect", "Racing"]);
    let refresh = latch.command(&["refresh", "Racing"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    wait_for_token_requests(&quirks, "slow-3s", 2);
    let out = latch.ok(&["disconnect", "Racing"]);
    assert!(out.contains("The provider revoked its tokens."), "{out}");
    let mut refresh = refresh;
    refresh.wait().unwrap();
    let shown = latch.show("Racing");
    assert_eq!(shown["status"], "new", "the disconnect came last, so it stands");
    assert!(latch.keyring_tokens("Racing").is_none(), "no tokens are left in the keyring");
    assert_eq!(latch.fails(&["token", "Racing"], 3).contains("is not connected yet"), true);
}

#[test]
fn remove_while_a_refresh_is_under_way_leaves_no_tokens_behind() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_revocable_quirk(&latch, &quirks, "Racing", "slow-3s");
    latch.ok(&["connect", "Racing"]);
    let id = latch.show("Racing")["id"].as_str().unwrap().to_owned();
    let mut refresh = latch.command(&["refresh", "Racing"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    wait_for_token_requests(&quirks, "slow-3s", 2);
    latch.ok(&["remove", "Racing"]);
    refresh.wait().unwrap();
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]");
    for slot in ["tokens", "client_secret"] {
        let entry = keyring::Entry::new("latch", &format!("{id}/{slot}")).unwrap();
        assert!(matches!(entry.get_password(), Err(keyring::Error::NoEntry)), "{slot} stayed behind");
    }
}

#[test]
fn sigterm_during_a_refresh_lets_it_store_the_rotated_refresh_token_first() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Rotating", "slow-3s");
    latch.ok(&["connect", "Rotating"]);
    let before = latch.keyring_tokens("Rotating").unwrap();
    let child = latch.command(&["refresh", "Rotating"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    wait_for_token_requests(&quirks, "slow-3s", 2);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("finishing the refresh under way"), "{stderr}");
    let after = latch.keyring_tokens("Rotating").unwrap();
    assert_ne!(after["refresh_token"], before["refresh_token"], "the rotated refresh token was stored");
    // The stored one is the live one: the provider takes it.
    latch.ok(&["refresh", "Rotating"]);
}

#[test]
fn a_locked_keyring_stops_a_refresh_before_the_refresh_token_is_spent() {
    let keyring = PrivateKeyring::start();
    let quirks = Provider::quirks();
    let latch = Latch::new();
    keyring.use_for(&latch);
    add_quirk(&latch, &quirks, "Locked", "ok");
    latch.ok(&["connect", "Locked"]);
    let refreshes = quirks.stats()["by_grant"]["refresh_token"].as_u64().unwrap_or(0);
    keyring.lock();
    let stderr = latch.fails(&["refresh", "Locked"], 5);
    assert!(stderr.contains("could not use your system keyring"), "{stderr}");
    assert_eq!(quirks.stats()["by_grant"]["refresh_token"].as_u64().unwrap_or(0), refreshes, "nothing was sent");
    let shown = latch.show("Locked");
    assert_eq!(shown["status"], "connected", "still connected: its refresh token was not spent");
}

#[test]
fn a_lifetime_no_clock_can_hold_is_unknown_and_never_crashes_latch() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Forever", "huge-expires");
    latch.ok(&["connect", "Forever"]);
    let shown = latch.show("Forever");
    assert_eq!(shown["status"], "connected");
    assert_eq!(shown["access_expires_at"], Value::Null, "unknown, not year 285,000");
    assert_eq!(shown["refresh_expires_at"], Value::Null);
    latch.ok(&["refresh", "Forever"]);
    for _ in 0..3 {
        latch.ok(&["token", "Forever"]);
    }
    assert_eq!(latch.show("Forever")["status"], "connected");
}

#[test]
fn a_refresh_token_the_provider_echoes_back_is_never_printed_or_stored() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Echo", "echo-secret");
    latch.ok(&["connect", "Echo"]);
    let secrets = latch.stored_secrets("Echo");
    let stderr = latch.fails(&["refresh", "Echo"], 3);
    assert!(stderr.contains("[redacted] is revoked"), "the description is kept, the token is not: {stderr}");
    let shown = latch.show("Echo");
    assert!(shown["last_error_details"].as_str().unwrap().contains("[redacted] is revoked"), "{shown}");
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn tokens_nested_in_an_unreadable_answer_are_kept_out_of_the_details() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_quirk(&latch, &quirks, "Nested", "nested-tokens");
    latch.ok(&["connect", "Nested"]);
    latch.fails(&["refresh", "Nested"], 4);
    let shown = latch.ok(&["show", "Nested", "--json"]);
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains("at-nested-") && !shown.contains("rt-nested-"), "{shown}");
    let transcript = latch.transcript();
    assert!(!transcript.contains("at-nested-") && !transcript.contains("rt-nested-"), "{transcript}");
}

#[test]
fn token_for_a_client_credentials_connection_gets_one_without_a_sign_in() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Machine", "--flow", "client_credentials", "--client-id", "conf-post", "--client-secret-stdin",
          "--token-url", &op.url("/token"), "--scope", "api:read"],
        "conf-post-secret\n",
    );
    let token = latch.ok(&["token", "Machine"]);
    assert_eq!(introspect(&op, token.trim())["active"], true);
    assert_eq!(latch.show("Machine")["status"], "connected");
    assert_eq!(latch.ok(&["token", "Machine"]), token, "the same token the second time");
    latch.assert_no_secret_leaks(&[token.trim().to_owned(), "conf-post-secret".to_owned()]);
}

#[test]
fn while_the_provider_asks_to_wait_the_still_valid_token_is_served_without_asking_again() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    // Tokens live 6 s; the first two refreshes get 503 with Retry-After.
    add_quirk(&latch, &quirks, "Busy", "flaky-503");
    latch.ok(&["connect", "Busy"]);
    let first = latch.ok(&["token", "Busy"]);
    latch.step_clock(3_500); // due (6 s tokens are due after 3 s), still valid
    assert_eq!(latch.ok(&["token", "Busy"]), first, "the refresh failed; the valid token is served");
    assert_eq!(quirks.stats()["by_grant"]["refresh_token"], 1);
    assert!(latch.show("Busy")["retry_at"].is_string());
    for _ in 0..5 {
        assert_eq!(latch.ok(&["token", "Busy"]), first);
    }
    assert_eq!(quirks.stats()["by_grant"]["refresh_token"], 1, "no request until the retry time");
    // Expired, and still before the retry time: says when Latch tries again.
    latch.step_clock(3_000);
    let stderr = latch.fails(&["token", "Busy"], 4);
    assert!(stderr.contains("asked Latch to wait"), "{stderr}");
    assert_eq!(quirks.stats()["by_grant"]["refresh_token"], 1);
}
