//! OAuth 1.0a connections end to end through the CLI, against a real OAuth
//! 1.0a server written by others (Python's oauthlib, tests/providers/
//! oauth1.py): every signature method over every transport, a JSON body
//! with a body hash, a refused nonce tried once more, disconnect telling
//! the provider, and no secret in the data directory or anything printed.

use latch_e2e::{repo_root, Latch, Provider};
use serde_json::Value;

const HMAC_SECRET: &str = "hmac-secret-5d2c81";
const PLAIN_SECRET: &str = "plain-secret-9e47a0";

fn add(latch: &Latch, server: &Provider, name: &str, method: &str, transport: &str, extra: &[&str]) {
    let key_file = repo_root().join("tests/providers/oauth1-rsa-key.pem");
    let (client, secret) = match method {
        "rsa-sha1" | "rsa-sha256" => ("rsa-client", None),
        "plaintext" => ("plain-client", Some(PLAIN_SECRET)),
        _ => ("hmac-client", Some(HMAC_SECRET)),
    };
    let urls = [
        server.url("/oauth/request_token"),
        server.url("/oauth/authorize"),
        server.url("/oauth/access_token"),
        server.url("/oauth/invalidate"),
    ];
    let mut args = vec![
        "add", "--kind", "oauth1", "--name", name, "--consumer-key", client, "--signature-method", method, "--transport", transport,
        "--request-token-url", &urls[0], "--authorize-url", &urls[1], "--access-token-url", &urls[2], "--revoke-url", &urls[3],
    ];
    let key = key_file.to_str().unwrap().to_owned();
    match secret {
        Some(_) => args.push("--consumer-secret-stdin"),
        None => args.extend(["--private-key-file", key.as_str()]),
    }
    args.extend_from_slice(extra);
    latch.ok_with_stdin(&args, &format!("{}\n", secret.unwrap_or("")));
}

#[test]
fn every_signature_method_over_every_transport_connects_and_signs_requests_the_server_accepts() {
    let server = Provider::oauth1();
    let latch = Latch::new();
    let mut secrets = vec![HMAC_SECRET.to_owned(), PLAIN_SECRET.to_owned()];
    for method in ["hmac-sha1", "rsa-sha1", "plaintext", "hmac-sha256", "rsa-sha256"] {
        let transports: &[&str] = if method.ends_with("256") { &["header"] } else { &["header", "query", "body"] };
        for transport in transports {
            let name = format!("{method} {transport}");
            add(&latch, &server, &name, method, transport, &[]);
            let connected = latch.ok(&["connect", &name, "--timeout", "20"]);
            assert!(connected.contains("ann"), "{name}: the account from the access token answer: {connected}");
            let me: Value = serde_json::from_str(&latch.ok(&["request", &name, &server.url("/api/me")])).unwrap();
            assert_eq!(me["screen_name"], "ann", "{name}: {me}");
            assert_eq!(me["signature_method"], method.to_ascii_uppercase(), "{name}");
            assert_eq!(me["transport"], *transport, "{name}");
            let pair: Value = serde_json::from_str(&latch.ok(&["token", &name])).unwrap();
            let token = pair["oauth_token"].as_str().unwrap().to_owned();
            let token_secret = pair["oauth_token_secret"].as_str().unwrap().to_owned();
            assert!(!token.is_empty() && !token_secret.is_empty(), "{pair}");
            secrets.extend([token, token_secret]);
            let shown = latch.show(&name);
            assert_eq!(shown["kind"], "oauth1");
            assert_eq!(shown["status"], "connected");
        }
    }
    let before = server.stats()["invalidations"].as_i64().unwrap_or(0);
    latch.ok(&["disconnect", "hmac-sha1 header"]);
    assert_eq!(server.stats()["invalidations"].as_i64().unwrap(), before + 1, "the provider was told");
    let said = latch.fails(&["request", "hmac-sha1 header", &server.url("/api/me")], 3);
    assert!(said.contains("not connected"), "{said}");
    let pem = std::fs::read_to_string(repo_root().join("tests/providers/oauth1-rsa-key.pem")).unwrap();
    let key_body: String = pem.lines().filter(|l| !l.starts_with("-----")).take(3).collect();
    secrets.push(key_body);
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn a_json_body_travels_with_its_body_hash_and_a_refused_nonce_is_tried_once_more() {
    let server = Provider::oauth1();
    let latch = Latch::new();
    add(&latch, &server, "Echo", "hmac-sha1", "header", &["--body-hash"]);
    latch.ok(&["connect", "Echo", "--timeout", "20"]);
    let echoed: Value = serde_json::from_str(&latch.ok(&[
        "request", "Echo", &server.url("/api/echo"), "-X", "POST", "-H", "Content-Type: application/json", "-d", r#"{"hello":"world"}"#,
    ]))
    .unwrap();
    assert_eq!(echoed["body_hash_ok"], true, "{echoed}");
    assert_eq!(echoed["json"]["hello"], "world");

    latch_e2e::http("POST", &server.url("/__test/replay-next"), &[], "");
    let me: Value = serde_json::from_str(&latch.ok(&["request", "Echo", &server.url("/api/me")])).unwrap();
    assert_eq!(me["screen_name"], "ann", "answered after one more try with a fresh nonce");
    assert!(server.stats()["nonce_refusals"].as_i64().unwrap() >= 1);

    // A wrong consumer secret: refused with a sentence that says what to check.
    latch.ok_with_stdin(
        &[
            "add", "--kind", "oauth1", "--name", "Wrong", "--consumer-key", "hmac-client", "--consumer-secret-stdin",
            "--request-token-url", &server.url("/oauth/request_token"), "--authorize-url", &server.url("/oauth/authorize"),
            "--access-token-url", &server.url("/oauth/access_token"),
        ],
        "not-the-secret\n",
    );
    let said = latch.fails(&["connect", "Wrong", "--timeout", "20"], 4);
    assert!(said.contains("check the consumer secret"), "{said}");
    latch.assert_no_secret_leaks(&[HMAC_SECRET.to_owned(), "not-the-secret".to_owned()]);
}

/// Make's OAuth 1.0 connection, written from its documented format (root
/// `oauth`, `requestToken`, `authorize`, `accessToken`, `info`; a base that
/// signs with `connection.*`).
fn make_oauth1_spec(server: &Provider) -> Value {
    serde_json::json!({
        "name": "oauthlib-test",
        "communication": {
            "oauth": {
                "consumer_key": "{{common.consumerKey}}", "consumer_secret": "{{common.consumerSecret}}",
                "signature_method": "HMAC-SHA1"
            },
            "requestToken": {
                "url": server.url("/oauth/request_token"), "method": "POST",
                "response": { "type": "urlencoded", "temp": { "token": "{{body.oauth_token}}", "tokenSecret": "{{body.oauth_token_secret}}" } },
                "log": { "sanitize": ["response.body.oauth_token_secret"] }
            },
            "authorize": {
                "url": server.url("/oauth/authorize"),
                "oauth": { "token": "{{temp.token}}" },
                "response": { "temp": { "token": "{{query.oauth_token}}", "verifier": "{{query.oauth_verifier}}" } }
            },
            "accessToken": {
                "url": server.url("/oauth/access_token"), "method": "POST",
                "oauth": { "token": "{{temp.token}}", "token_secret": "{{temp.tokenSecret}}", "verifier": "{{temp.verifier}}" },
                "response": { "type": "urlencoded", "data": { "token": "{{body.oauth_token}}", "tokenSecret": "{{body.oauth_token_secret}}" } }
            },
            "info": {
                "url": server.url("/api/me"),
                "oauth": { "token": "{{connection.token}}", "token_secret": "{{connection.tokenSecret}}" },
                "response": { "metadata": { "type": "text", "value": "{{body.screen_name}}" }, "uid": "{{body.id}}" }
            }
        },
        "common": { "consumerKey": "", "consumerSecret": "" },
        "base": {
            "baseUrl": server.url("/api"),
            "oauth": {
                "consumer_key": "{{common.consumerKey}}", "consumer_secret": "{{common.consumerSecret}}",
                "token": "{{connection.token}}", "token_secret": "{{connection.tokenSecret}}"
            }
        }
    })
}

#[test]
fn a_make_oauth_1_spec_connects_and_signs_like_the_flag_connection() {
    let server = Provider::oauth1();
    let latch = Latch::new();
    let dir = latch.data_dir.path().with_extension("oauth1-spec");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oauthlib.latch-spec.json");
    std::fs::write(&path, serde_json::to_string_pretty(&make_oauth1_spec(&server)).unwrap()).unwrap();
    let path = path.to_str().unwrap();
    latch.ok(&["spec", "check", path]);
    latch.ok_with_stdin(
        &["add", "--spec", path, "--name", "From spec", "--common", "consumerKey=hmac-client", "--common-stdin", "consumerSecret"],
        &format!("{HMAC_SECRET}\n"),
    );
    let connected = latch.ok(&["connect", "From spec", "--timeout", "20"]);
    assert!(connected.contains("ann"), "the info step's metadata: {connected}");
    let by_spec: Value = serde_json::from_str(&latch.ok(&["request", "From spec", "/me"])).unwrap();

    add(&latch, &server, "From flags", "hmac-sha1", "header", &[]);
    latch.ok(&["connect", "From flags", "--timeout", "20"]);
    let by_flags: Value = serde_json::from_str(&latch.ok(&["request", "From flags", &server.url("/api/me")])).unwrap();
    for key in ["id", "screen_name", "signature_method", "transport"] {
        assert_eq!(by_spec[key], by_flags[key], "{key}: {by_spec} vs {by_flags}");
    }

    // Through the proxy (`latch exec` starts one): each request signed on its
    // way, the spec's base applied; a form body is signed with it.
    latch.ok(&["edit", "From flags", "--api-base-url", &server.url("/api")]);
    let script = r#"curl -sS "$LATCH_FROM_SPEC_URL/me"; echo; curl -sS "$LATCH_FROM_FLAGS_URL/me"; echo
curl -sS -d greeting=hello "$LATCH_FROM_FLAGS_URL/echo""#;
    let out = latch.command(&["exec", "From spec", "From flags", "--", "sh", "-c", script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let answers: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{text}"))).collect();
    assert_eq!(answers.len(), 3, "{text}");
    assert_eq!(answers[0]["screen_name"], "ann", "the spec's base through the proxy: {text}");
    assert_eq!(answers[1]["screen_name"], "ann", "signed through the proxy: {text}");
    assert_eq!(answers[2]["body"], "greeting=hello", "a signed form body: {text}");
    let stored = latch.keyring_tokens("From spec").unwrap();
    let data: Value = serde_json::from_str(stored["data"].as_str().unwrap()).unwrap();
    let secrets = vec![
        HMAC_SECRET.to_owned(),
        data["token"].as_str().unwrap().to_owned(),
        data["tokenSecret"].as_str().unwrap().to_owned(),
    ];
    latch.assert_no_secret_leaks(&secrets);
}
