//! DPoP (RFC 9449) end to end: oidc-provider binds the tokens Latch asks
//! for to the connection's key, and an API (tests/providers/dpop_api.mjs)
//! takes such a token only with a valid proof — which `latch request` and
//! the proxy add to every request, and a plain curl with the token cannot.
//! The servers' nonces are used after one retry; the private key stays in
//! the keyring.

use latch_e2e::{curl, http, runtime_dir, start_proxy, Latch, Provider};
use serde_json::Value;

/// The DPoP API and the authorization server whose tokens it checks.
fn api_and_provider(api_args: &[&str], op_args: &[&str]) -> (Provider, Provider, String) {
    let api = Provider::dpop_api(api_args);
    let resource = api.ready["resource"].as_str().unwrap().to_owned();
    let op = Provider::oidc(op_args);
    let config = serde_json::json!({ "issuer": op.base, "client_id": "conf-basic", "client_secret": "conf-basic-secret" });
    let (status, _) = http("POST", &api.url("/__test/config"), &[("Content-Type", "application/json")], &config.to_string());
    assert_eq!(status, 200);
    (api, op, resource)
}

/// The connection's DPoP key entry in the real keyring (PKCS#8 PEM), if any.
fn dpop_key_entry(latch: &Latch, name: &str) -> Option<String> {
    let id = latch.show(name)["id"].as_str().unwrap().to_owned();
    match keyring::Entry::new("latch", &format!("{id}/dpop_key")).unwrap().get_password() {
        Ok(text) => Some(text),
        Err(keyring::Error::NoEntry) => None,
        Err(err) => panic!("keyring read failed: {err}"),
    }
}

/// The private key's material, to look for: each base64 line of the PEM body.
fn key_material(pem: &str) -> Vec<String> {
    let lines: Vec<String> = pem.lines().filter(|l| !l.starts_with("-----")).map(str::to_owned).collect();
    assert!(!lines.is_empty(), "a PEM body");
    lines
}

/// The value of `param` in the address the scripted browser was last started with.
fn browser_opened_with(latch: &Latch, param: &str) -> Option<String> {
    latch.browser_last_opened().1.into_iter().find(|(k, _)| k == param).map(|(_, v)| v)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

#[test]
fn a_bound_token_is_refused_on_its_own_and_works_through_latch_request_and_the_proxy() {
    let (api, op, resource) = api_and_provider(&[], &[]);
    let latch = Latch::new();
    runtime_dir(&latch);
    latch.ok(&[
        "add",
        "--name",
        "Bound",
        "--issuer",
        &op.base,
        "--client-id",
        "public-pkce",
        "--scope",
        "openid",
        "--scope",
        "profile",
        "--dpop",
        "on",
        "--api-base-url",
        &resource,
    ]);
    assert_eq!(latch.show("Bound")["dpop"], true);
    let out = latch.ok(&["show", "Bound"]);
    let row = out.lines().find(|l| l.trim_start().starts_with("Bound tokens (DPoP)")).unwrap_or_default();
    assert!(row.ends_with(" on: only Latch on this computer can use them"), "{out}");
    assert!(out.contains("Authorization: DPoP <token>"), "{out}");
    assert!(dpop_key_entry(&latch, "Bound").is_none(), "the key is made when first needed");

    // The code exchange carries a proof; oidc-provider's userinfo (the info
    // step) takes the bound token only with one, so the account is known.
    let out = latch.ok(&["connect", "Bound", "--timeout", "20"]);
    assert!(out.contains("Connected 'Bound' as Alice Example."), "{out}");
    assert_eq!(op.stats()["dpop_proofs"], 1);
    let stored = latch.keyring_tokens("Bound").unwrap();
    assert_eq!(stored["token_type"], "DPoP");
    let token = stored["access_token"].as_str().unwrap().to_owned();
    let key = dpop_key_entry(&latch, "Bound").expect("the key is in the keyring");

    // On its own the token is refused: as a bearer token, and without a proof.
    let (status, body) = curl(&["-H", &format!("Authorization: Bearer {token}"), &format!("{resource}/items")]);
    assert_eq!(status, 401, "{body}");
    let (status, body) = curl(&["-H", &format!("Authorization: DPoP {token}"), &format!("{resource}/items")]);
    assert_eq!(status, 401, "{body}");
    let refusals = &api.stats()["refusals"];
    assert_eq!(refusals["bound token sent as Bearer"], 1, "{refusals}");
    assert_eq!(refusals["no proof"], 1, "{refusals}");

    // latch request: a proof for this method and address (htu without the query).
    let answer = json(&latch.ok(&["request", "Bound", &format!("{resource}/items?page=2")]));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["sub"], "alice");
    // The token is bound to the key whose thumbprint the sign-in named (dpop_jkt, §10).
    assert_eq!(answer["jkt"].as_str(), browser_opened_with(&latch, "dpop_jkt").as_deref(), "{answer}");
    let answer = json(&latch.ok(&["request", "Bound", "-X", "POST", "-d", "hello", &format!("{resource}/notes")]));
    assert_eq!((answer["method"].as_str(), answer["body"].as_str()), (Some("POST"), Some("hello")), "{answer}");

    // The proxy: a fresh proof on every request, with or without a body.
    let proxy = start_proxy(&latch);
    let key_header = format!("Proxy-Authorization: Bearer {}", proxy.key);
    for round in 0..2 {
        let (status, body) = curl(&["-H", &key_header, &format!("{}/Bound/items?round={round}", proxy.url)]);
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["path"], "/api/v1/items");
    }
    let (status, body) = curl(&["-H", &key_header, "-X", "PUT", "--data", "through", &format!("{}/Bound/notes/1", proxy.url)]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["method"], "PUT");
    assert_eq!(api.stats()["api_ok"], 5);

    // A refresh carries a proof too (the refresh token of a public client is
    // bound to the key), and the new token is bound again.
    latch.ok(&["refresh", "Bound"]);
    assert_eq!(op.stats()["dpop_proofs"], 2);
    let renewed = latch.keyring_tokens("Bound").unwrap();
    assert_ne!(renewed["access_token"].as_str().unwrap(), token);
    assert_eq!(renewed["token_type"], "DPoP");
    let answer = json(&latch.ok(&["request", "Bound", &format!("{resource}/items")]));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(dpop_key_entry(&latch, "Bound").unwrap(), key, "the same key");

    // Handing the token out says where it works instead.
    let output = latch.run(&["token", "Bound"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("binds its tokens to this computer (DPoP)") && stderr.contains("latch request"), "{stderr}");

    // The private key is nowhere but the keyring.
    let shown = latch.ok(&["show", "Bound", "--json"]);
    assert!(key_material(&key).iter().all(|line| !shown.contains(line.as_str())), "{shown}");
    let mut secrets = latch.stored_secrets("Bound");
    secrets.push(token);
    secrets.extend(key_material(&key));
    drop(proxy);
    latch.assert_no_secret_leaks(&secrets);
    // Nor is any proof (a JWT: base64url JSON, "eyJ…") in what Latch printed, logs included.
    assert!(!latch.transcript().contains("eyJ"), "a JWT in the output:\n{}", latch.transcript());

    // Removing the connection removes its key.
    let id = latch.show("Bound")["id"].as_str().unwrap().to_owned();
    latch.ok(&["remove", "Bound"]);
    let entry = keyring::Entry::new("latch", &format!("{id}/dpop_key")).unwrap();
    assert!(matches!(entry.get_password(), Err(keyring::Error::NoEntry)), "the DPoP key is deleted with the connection");
}

#[test]
fn the_servers_nonce_is_used_after_one_retry_at_the_token_endpoint_and_at_the_api() {
    let (api, op, resource) = api_and_provider(&["--require-nonce"], &["--dpop-nonce"]);
    let latch = Latch::new();
    runtime_dir(&latch);
    latch.ok_with_stdin(
        &[
            "add",
            "--name",
            "Machine",
            "--flow",
            "client_credentials",
            "--token-url",
            &op.url("/token"),
            "--client-id",
            "conf-basic",
            "--client-auth",
            "basic",
            "--client-secret-stdin",
            "--scope",
            "api:read",
            "--dpop",
            "on",
            "--api-base-url",
            &resource,
        ],
        "conf-basic-secret\n",
    );
    // The token endpoint answers use_dpop_nonce once; the retry has its nonce.
    latch.ok(&["connect", "Machine"]);
    let stats = op.stats();
    assert_eq!(stats["dpop_nonce_challenges"], 1, "{stats}");
    assert_eq!(stats["by_grant"]["client_credentials"], 2, "exactly one retry: {stats}");
    assert_eq!(latch.keyring_tokens("Machine").unwrap()["token_type"], "DPoP");

    // So does the API (401, WWW-Authenticate: DPoP error="use_dpop_nonce").
    let answer = json(&latch.ok(&["request", "Machine", &format!("{resource}/items")]));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(api.stats()["nonce_challenges"], 1);
    assert_eq!(api.stats()["api_ok"], 1);

    // The proxy learns the nonce once, then keeps using it.
    let proxy = start_proxy(&latch);
    let key_header = format!("Proxy-Authorization: Bearer {}", proxy.key);
    for _ in 0..3 {
        let (status, body) = curl(&["-H", &key_header, &format!("{}/Machine/items", proxy.url)]);
        assert_eq!(status, 200, "{body}");
    }
    let stats = api.stats();
    assert_eq!(stats["nonce_challenges"], 2, "one challenge for the proxy's first request: {stats}");
    assert_eq!(stats["api_ok"], 4, "{stats}");

    // A server that moves to a new nonce is followed after one retry.
    let (status, _) = http("POST", &api.url("/__test/new-nonce"), &[], "");
    assert_eq!(status, 200);
    let (status, body) = curl(&["-H", &key_header, "-X", "POST", "--data", "x", &format!("{}/Machine/items", proxy.url)]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(api.stats()["nonce_challenges"], 3);

    // A new token (client credentials ask again) goes through the nonce too.
    latch.ok(&["refresh", "Machine"]);
    let stats = op.stats();
    assert_eq!(stats["dpop_nonce_challenges"], 2, "{stats}");
    assert_eq!(stats["by_grant"]["client_credentials"], 4, "{stats}");
    drop(proxy);
    let mut secrets = latch.stored_secrets("Machine");
    secrets.extend(key_material(&dpop_key_entry(&latch, "Machine").unwrap()));
    secrets.push("conf-basic-secret".into());
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn a_pushed_sign_in_carries_a_proof_and_binds_the_code_to_the_key() {
    let (api, op, resource) = api_and_provider(&[], &["--require-par", "--dpop-nonce"]);
    let latch = Latch::new();
    latch.ok(&["add", "--name", "Fapi", "--issuer", &op.base, "--client-id", "public-pkce", "--scope", "openid", "--dpop", "on"]);
    assert_eq!(latch.show("Fapi")["par"], true);
    let out = latch.ok(&["connect", "Fapi", "--timeout", "20"]);
    assert!(out.contains("Connected 'Fapi' as alice."), "{out}");
    let stats = op.stats();
    assert_eq!(stats["pushed_requests"], 2, "the push, once more with the server's nonce: {stats}");
    assert_eq!(stats["dpop_nonce_challenges"], 1, "the token request reuses the nonce the push learned: {stats}");
    assert_eq!(stats["dpop_proofs"], 3, "{stats}");
    assert_eq!(browser_opened_with(&latch, "dpop_jkt"), None, "the browser sees only client_id and request_uri");
    assert_eq!(latch.keyring_tokens("Fapi").unwrap()["token_type"], "DPoP");
    let answer = json(&latch.ok(&["request", "Fapi", &format!("{resource}/items")]));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(api.stats()["api_ok"], 1);
}

#[test]
fn a_device_sign_in_polls_with_proofs_and_its_token_is_bound() {
    let (api, op, resource) = api_and_provider(&[], &["--device"]);
    let latch = Latch::new();
    latch.ok(&[
        "add",
        "--name",
        "TV",
        "--flow",
        "device_code",
        "--client-id",
        "device-public",
        "--device-url",
        &op.url("/device/auth"),
        "--token-url",
        &op.url("/token"),
        "--info-url",
        &op.url("/me"),
        "--scope",
        "openid",
        "--scope",
        "profile",
        "--dpop",
        "on",
    ]);
    let out = latch.ok(&["connect", "TV"]);
    assert!(out.contains("Connected 'TV' as Alice Example."), "the info step used the bound token: {out}");
    let stats = op.stats();
    let polls = stats["by_grant"]["urn:ietf:params:oauth:grant-type:device_code"].as_u64().unwrap();
    assert_eq!(stats["dpop_proofs"].as_u64(), Some(polls), "every poll carried a proof: {stats}");
    assert_eq!(latch.keyring_tokens("TV").unwrap()["token_type"], "DPoP");
    latch.ok(&["refresh", "TV"]);
    let answer = json(&latch.ok(&["request", "TV", &format!("{resource}/items")]));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(api.stats()["api_ok"], 1);
}

#[test]
fn an_api_that_takes_only_bound_tokens_gets_a_dpop_connection_from_its_address() {
    let api = Provider::dpop_api(&[]);
    let resource = api.ready["resource"].as_str().unwrap().to_owned();
    let op = Provider::oidc(&["--resource-server", &resource]);
    let config = serde_json::json!({ "issuer": op.base, "client_id": "conf-basic", "client_secret": "conf-basic-secret" });
    http("POST", &api.url("/__test/config"), &[("Content-Type", "application/json")], &config.to_string());
    let latch = Latch::new();
    // RFC 9728 metadata says dpop_bound_access_tokens_required: DPoP is on by itself.
    latch.ok(&["add", "--name", "Api", "--from", &resource]);
    let shown = latch.show("Api");
    assert_eq!(shown["dpop"], true, "{shown}");
    assert_eq!(op.stats()["registrations"], 1);
    latch.ok(&["connect", "Api", "--timeout", "20"]);
    assert_eq!(latch.keyring_tokens("Api").unwrap()["token_type"], "DPoP");
    let answer = json(&latch.ok(&["request", "Api", &format!("{resource}/items")]));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["aud"], resource.as_str(), "a token for this API (RFC 8707)");
}
