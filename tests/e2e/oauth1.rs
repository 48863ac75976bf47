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
