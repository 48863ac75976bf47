//! `latch proxy` and `latch exec` end to end, with the real refresher, the
//! quirk provider's 6-second tokens, and an API (tests/providers/
//! api_upstream.py) that checks every token with the provider: the caller
//! never holds a token, needs the proxy's key, cannot steer the proxy to
//! another host, and one refresh serves everyone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use latch_e2e::{curl, http, proxy_started, runtime_dir, start_proxy, Latch, Provider};
use serde_json::Value;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// Sends `raw` to the proxy and reads what comes back until it closes or 5 s pass.
fn raw(url: &str, raw: &str) -> String {
    let host = url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn upstream(quirks: &Provider) -> Provider {
    Provider::api(&quirks.url("/api/echo"))
}

fn client_credentials(latch: &Latch, name: &str, quirks: &Provider, api: &Provider) {
    client_credentials_from(latch, name, quirks, api, "short");
}

/// A client credentials connection whose tokens come from the quirk `token` endpoint.
fn client_credentials_from(latch: &Latch, name: &str, quirks: &Provider, api: &Provider, token: &str) {
    latch.ok_with_stdin(
        &[
            "add", "--name", name, "--flow", "client_credentials", "--client-id", "proxy-client", "--client-secret-stdin",
            "--token-url", &quirks.url(&format!("/token/{token}")), "--revoke-url", &quirks.url("/revoke"), "--api-base-url", &api.base,
        ],
        "proxy-secret\n",
    );
}

fn grants(quirks: &Provider) -> u64 {
    quirks.stats()["by_grant"]["client_credentials"].as_u64().unwrap_or(0)
}

#[test]
fn the_proxy_adds_the_credential_only_for_callers_with_its_key_and_keeps_to_the_api() {
    let quirks = Provider::quirks();
    let api = upstream(&quirks);
    let latch = Latch::new();
    runtime_dir(&latch);
    client_credentials(&latch, "Team API", &quirks, &api);
    let proxy = start_proxy(&latch);
    let key_header = format!("Proxy-Authorization: Bearer {}", proxy.key);
    let base = format!("{}/Team%20API", proxy.url);

    // No key, a wrong key: 407, and the API hears nothing.
    let (status, body) = curl(&[&format!("{base}/echo/a")]);
    assert_eq!(status, 407, "{body}");
    assert!(body.contains("key"), "{body}");
    let (status, _) = curl(&["-H", "Proxy-Authorization: Bearer not-the-key", &format!("{base}/echo/a")]);
    assert_eq!(status, 407);
    let (status, _) = curl(&[&format!("{}/_k/not-the-key/Team%20API/echo/a", proxy.url)]);
    assert_eq!(status, 407);
    assert_eq!(api.stats()["requests"], 0, "nothing forwarded without the key");
    assert_eq!(api.stats()["refused"], 0);

    // With the key (header or path): forwarded with the token; the caller's
    // own Authorization and Cookie are dropped.
    let (status, body) = curl(&["-H", &key_header, "-H", "Authorization: Basic c3RvbGVu", "-H", "Cookie: session=1", &format!("{base}/echo/a/b?x=1&y=%20")]);
    assert_eq!(status, 200, "{body}");
    let echo = json(&body);
    assert_eq!(echo["path"], "/echo/a/b");
    assert_eq!(echo["query"], "x=1&y=%20");
    assert_eq!(echo["had_cookie"], false);
    assert_eq!(echo["caller_authorization"], Value::Null);
    assert!(echo["headers"].get("proxy-authorization").is_none(), "{echo}");
    let (status, _) = curl(&[&format!("{}/_k/{}/Team%20API/echo/c", proxy.url, proxy.key)]);
    assert_eq!(status, 200);

    // A streamed (chunked) upload arrives whole.
    let upload = latch.data_dir.path().with_extension("upload");
    let data: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(&upload, &data).unwrap();
    let (status, body) = curl(&[
        "-H", &key_header, "-H", "Transfer-Encoding: chunked", "--data-binary", &format!("@{}", upload.display()),
        &format!("{base}/echo/upload"),
    ]);
    assert_eq!(status, 200, "{body}");
    use sha2::Digest;
    assert_eq!(json(&body)["body_sha256"], hex(&sha2::Sha256::digest(&data)));
    assert_eq!(json(&body)["body_bytes"], data.len());

    // Unknown connection: 404 naming the known ones.
    let (status, body) = curl(&["-H", &key_header, &format!("{}/Nope/echo", proxy.url)]);
    assert_eq!(status, 404);
    assert!(json(&body)["known"].as_array().unwrap().iter().any(|n| n == "Team API"), "{body}");

    // The path stays under the base; the Host and the target are the proxy's own.
    let before = api.stats()["requests"].as_u64().unwrap();
    for path in ["/Team%20API/echo/../../secret", "/Team%20API/echo/%2e%2e/x", "/Team%20API/a%2Fb"] {
        let (status, body) = curl(&["--path-as-is", "-H", &key_header, &format!("{}{path}", proxy.url)]);
        assert_eq!(status, 400, "{path}: {body}");
    }
    let answer = raw(&proxy.url, &format!("GET /Team%20API/echo HTTP/1.1\r\nHost: evil.example\r\n{key_header}\r\n\r\n"));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let answer = raw(&proxy.url, &format!("GET http://evil.example/echo HTTP/1.1\r\nHost: evil.example\r\n{key_header}\r\n\r\n"));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let host = proxy.url.strip_prefix("http://").unwrap();
    for smuggle in [
        format!("POST /Team%20API/echo HTTP/1.1\r\nHost: {host}\r\n{key_header}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /Team%20API/smuggled HTTP/1.1\r\nHost: {host}\r\n{key_header}\r\n\r\n"),
        format!("POST /Team%20API/echo HTTP/1.1\r\nHost: {host}\r\n{key_header}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /Team%20API/smuggled HTTP/1.1\r\nHost: {host}\r\n{key_header}\r\n\r\n"),
    ] {
        let answer = raw(&proxy.url, &smuggle);
        assert!(!answer.contains("smuggled"), "{answer}");
    }
    let stats = api.stats();
    assert!(!stats["paths"].as_array().unwrap().iter().any(|p| p.as_str().unwrap().contains("smuggled") || p == "/secret"), "{stats}");
    assert!(stats["requests"].as_u64().unwrap() <= before + 2, "{stats}");

    // A WebSocket upgrade passes through both ways.
    let mut socket = TcpStream::connect(host).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket
        .write_all(format!("GET /Team%20API/ws HTTP/1.1\r\nHost: {host}\r\n{key_header}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    socket.write_all(b"hello through the proxy").unwrap();
    let mut echoed = [0u8; 23];
    socket.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"hello through the proxy");
    drop(socket);

    // Upstream down: 502 with the reason.
    latch.ok(&["edit", "Team API", "--api-base-url", "http://127.0.0.1:9"]);
    let (status, body) = curl(&["-H", &key_header, &format!("{base}/echo")]);
    assert_eq!(status, 502, "{body}");
    assert_eq!(json(&body)["error"], "upstream_unreachable");

    // Every use is logged with the program and the host; no secret on disk.
    let uses: Vec<Value> = serde_json::from_str(&latch.ok(&["log", "Team API", "--json"])).unwrap();
    let proxied: Vec<&Value> = uses.iter().filter(|u| u["via"] == "proxy").collect();
    assert!(!proxied.is_empty(), "{uses:?}");
    assert!(proxied.iter().any(|u| u["exe"].as_str().is_some_and(|e| e.ends_with("curl")) && u["host"] == "127.0.0.1"), "{uses:?}");
    let token = latch.access_token("Team API");
    // (The key itself is printed by --print-env, by design.)
    latch.assert_no_secret_leaks(&[token, "proxy-secret".to_owned()]);
}

#[test]
fn one_refresh_serves_twenty_callers() {
    let quirks = Provider::quirks();
    let api = upstream(&quirks);
    let latch = Latch::new();
    runtime_dir(&latch);
    // Hour-long tokens: only the callers below make Latch ask for one.
    client_credentials_from(&latch, "Busy", &quirks, &api, "ok");
    let proxy = start_proxy(&latch);
    let key_header = format!("Proxy-Authorization: Bearer {}", proxy.key);
    let url = format!("{}/Busy/echo/x", proxy.url);

    // 20 at once with no token yet: one token request.
    let burst = |label: &str| {
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let (key_header, url) = (key_header.clone(), url.clone());
                std::thread::spawn(move || curl(&["-H", &key_header, &url]))
            })
            .collect();
        let answers: Vec<(u16, String)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(answers.iter().all(|(s, _)| *s == 200), "{label}: {answers:?}");
    };
    burst("first token");
    assert_eq!(grants(&quirks), 1, "one token for twenty callers");

    // The provider forgets the token: all twenty get 401 upstream, one refresh, one retry each.
    let token = latch.access_token("Busy");
    let (status, _) = http("POST", &quirks.url("/revoke"), &[("Content-Type", "application/x-www-form-urlencoded")], &format!("token={token}"));
    assert_eq!(status, 200);
    burst("after revocation");
    assert_eq!(grants(&quirks), 2, "one refresh for twenty callers");
}

#[test]
fn a_long_download_outlives_its_token_and_the_next_request_has_the_new_one() {
    let quirks = Provider::quirks();
    let api = upstream(&quirks);
    let latch = Latch::new();
    runtime_dir(&latch);
    // Six-second tokens, renewed by the proxy's refresher.
    client_credentials(&latch, "Slow", &quirks, &api);
    let proxy = start_proxy(&latch);
    let key_header = format!("Proxy-Authorization: Bearer {}", proxy.key);
    let (status, body) = curl(&["-H", &key_header, &format!("{}/Slow/echo/first", proxy.url)]);
    assert_eq!(status, 200, "{body}");
    let tokens_before = api.stats()["tokens"].as_array().unwrap().len();
    let (status, body) = curl(&["-H", &key_header, &format!("{}/Slow/big?mib=16&seconds=8", proxy.url)]);
    assert_eq!(status, 200);
    assert_eq!(body.len(), 16 * 1024 * 1024);
    let (status, body) = curl(&["-H", &key_header, &format!("{}/Slow/echo/after", proxy.url)]);
    assert_eq!(status, 200, "{body}");
    assert!(api.stats()["tokens"].as_array().unwrap().len() > tokens_before, "a new token after the long download");
}

#[test]
fn latch_exec_gives_the_command_its_proxy_address_and_passes_its_exit_code() {
    let quirks = Provider::quirks();
    let api = upstream(&quirks);
    let latch = Latch::new();
    runtime_dir(&latch);
    client_credentials(&latch, "Team API", &quirks, &api);

    // No proxy runs: exec starts one for the command.
    let script = r#"test -z "${TEAM_API_ACCESS_TOKEN:-}" || exit 90
curl -sS "$LATCH_TEAM_API_URL/echo/from-exec" | grep -q '"path": "/echo/from-exec"' || exit 91
exit 7"#;
    let out = latch.command(&["exec", "Team API", "--", "sh", "-c", script]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));

    // --token-env adds the token itself.
    let out = latch.command(&["exec", "Team API", "--token-env", "--", "sh", "-c", r#"test -n "$TEAM_API_ACCESS_TOKEN""#]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));

    // With a proxy running, exec uses it (its key).
    let proxy = start_proxy(&latch);
    let out = latch.command(&["exec", "Team API", "--", "sh", "-c", "printf %s \"$LATCH_PROXY_KEY\""]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), proxy.key);

    // A command that does not exist: a clear message.
    let out = latch.command(&["exec", "Team API", "--", "no-such-program-here"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-program-here"));

    let uses: Vec<Value> = serde_json::from_str(&latch.ok(&["log", "Team API", "--json"])).unwrap();
    assert!(uses.iter().any(|u| u["via"] == "exec" && u["what"] == "token"), "{uses:?}");
    let token = latch.access_token("Team API");
    latch.assert_no_secret_leaks(&[token, "proxy-secret".to_owned()]);
}

#[test]
fn a_request_is_refused_unsent_to_a_host_the_connection_does_not_allow() {
    let quirks = Provider::quirks();
    let api = upstream(&quirks);
    let latch = Latch::new();
    client_credentials(&latch, "Strict", &quirks, &api);
    // localhost is another host than the base URL's 127.0.0.1.
    let elsewhere = api.base.replace("127.0.0.1", "localhost") + "/echo";
    let said = latch.fails(&["request", "Strict", &elsewhere], 2);
    assert!(said.contains("localhost") && said.contains("--allow-host"), "{said}");
    assert_eq!(api.stats()["requests"], 0, "nothing sent");
    let port = api.base.rsplit(':').next().unwrap();
    latch.ok(&["edit", "Strict", "--allow-host", &format!("localhost:{port}")]);
    latch.ok(&["request", "Strict", &elsewhere]);
    assert_eq!(api.stats()["requests"], 1);
    assert_eq!(latch.show("Strict")["allowed_hosts"], serde_json::json!([format!("localhost:{port}")]));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Summaries of the notifications dunst received that name `name`.
fn notifications_naming(name: &str) -> Vec<String> {
    std::thread::sleep(Duration::from_millis(500));
    let out = Command::new("dunstctl").arg("history").output().expect("dunstctl runs (make test starts dunst)");
    let history: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    history["data"][0]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|n| n["summary"]["data"].as_str())
                .filter(|summary| summary.contains(name))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_connection_that_needs_a_sign_in_answers_401_in_words_and_notifies_once() {
    let academy = Provider::academy(&[]);
    let latch = Latch::new();
    runtime_dir(&latch);
    let name = "Proxied Academy";
    latch.ok_with_stdin(
        &[
            "add", "--preset", "app-academy", "--name", name, "--client-id", "academy-client", "--client-secret-stdin",
            "--authorize-url", &academy.url("/authorize"), "--token-url", &academy.url("/token"),
            "--refresh-url", &academy.url("/refresh"), "--revoke-url", &academy.url("/invalidate"),
            "--info-url", &academy.url("/info"), "--redirect-uri", "", "--api-base-url", &academy.base,
        ],
        "academy-secret\n",
    );
    latch.ok(&["connect", name, "--timeout", "20"]);
    let proxy = start_proxy(&latch);
    let key_header = format!("Proxy-Authorization: Bearer {}", proxy.key);
    let url = format!("{}/Proxied%20Academy/info", proxy.url);
    let (status, body) = curl(&["-H", &key_header, &url]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["user"], "Jane Doe");

    // The provider forgets the connection (tokens and refresh token).
    let token = latch.access_token(name);
    let (status, _) = http("GET", &academy.url("/invalidate"), &[("Authorization", &format!("Bearer {token}"))], "");
    assert_eq!(status, 204);
    for _ in 0..2 {
        let (status, body) = curl(&["-H", &key_header, &url]);
        assert_eq!(status, 401, "{body}");
        let answer = json(&body);
        assert_eq!(answer["error"], "needs_sign_in");
        assert_eq!(answer["connection"], name);
    }
    assert_eq!(latch.show(name)["status"], "needs_reauth");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = notifications_naming(name);
    while seen.is_empty() && Instant::now() < deadline {
        seen = notifications_naming(name);
    }
    assert_eq!(seen.len(), 1, "one notification: {seen:?}");
    assert!(seen[0].contains("sign in again"), "{seen:?}");
}

#[test]
fn clients_over_the_limit_get_503_and_the_proxy_keeps_serving() {
    let quirks = Provider::quirks();
    let api = upstream(&quirks);
    let latch = Latch::new();
    runtime_dir(&latch);
    client_credentials(&latch, "Limited", &quirks, &api);
    // 200 descriptors in all: room for (200 - 128) / 2 = 36 clients.
    let command = latch.command(&["proxy"]);
    let program = command.get_program().to_owned();
    let args: Vec<std::ffi::OsString> = command.get_args().map(|a| a.to_owned()).collect();
    let mut limited = Command::new("sh");
    limited.arg("-c").arg("ulimit -n 200 && exec \"$0\" \"$@\"").arg(program).args(args);
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => limited.env(key, value),
            None => limited.env_remove(key),
        };
    }
    let child = limited.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let proxy = proxy_started(&latch, child);
    let (url, key) = (proxy.url.clone(), proxy.key.clone());
    let host = url.strip_prefix("http://").unwrap().to_owned();
    // 100 idle clients hold their connections open: those over the limit
    // (which ones depends on the order the proxy's threads take them) hear
    // 503 at once and are closed; the others wait to be asked something.
    let idle: Vec<TcpStream> = (0..100).map(|_| TcpStream::connect(&host).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut refused = 0;
    for stream in &idle {
        let mut stream = stream.try_clone().unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        if answer.starts_with(b"HTTP/1.1 503") {
            refused += 1;
        }
    }
    assert_eq!(refused, 100 - 36, "200 descriptors: 36 clients served, the others hear 503 at once");
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = curl(&["-H", &format!("Proxy-Authorization: Bearer {key}"), &format!("{url}/Limited/echo/after")]);
    assert_eq!(status, 200, "{body}");
}
