//! The `latch` CLI against hostile neighbours and hostile providers: a web
//! page or local program poking the loopback listener while the user signs
//! in, and a provider that hands out addresses Latch must not open. Each
//! test names the behaviour it proves and, where a token was issued, ends by
//! checking that no secret leaked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use latch_e2e::{Latch, Provider};

/// Adds a code-flow connection with oidc-provider's public PKCE client.
fn add_oidc(latch: &Latch, op: &Provider, name: &str) {
    latch.ok(&[
        "add", "--name", name, "--flow", "authorization_code", "--client-id", "public-pkce",
        "--scope", "openid", "--scope", "offline_access", "--scope", "profile", "--auth-param", "prompt=consent",
        "--authorize-url", &op.url("/auth"), "--token-url", &op.url("/token"), "--info-url", &op.url("/me"),
    ]);
}

/// Reads `latch connect`'s stderr until it prints the authorize URL, and
/// returns the loopback port of the redirect URI in it (and what was read).
fn listener_port(stderr: &mut impl BufRead) -> (u16, String) {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "latch ended before it printed the authorize URL:\n{seen}");
        seen.push_str(&line);
        if let Some(at) = line.find("redirect_uri=") {
            let encoded = line[at + 13..].split('&').next().unwrap().trim().to_owned();
            let redirect = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("r={encoded}")).unwrap()[0].1.clone();
            let port = redirect.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap().parse().unwrap();
            return (port, seen);
        }
    }
}

/// One HTTP/1.0 GET to the listener; returns the whole answer.
fn get(port: u16, target: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    stream.write_all(format!("GET {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the listener answers at once, idle sockets or not");
    answer
}

#[test]
fn idle_sockets_and_a_forged_error_on_the_listener_do_not_stop_the_sign_in() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    add_oidc(&latch, &op, "Besieged");
    // The browser signs in, then waits 3 s before coming back to Latch.
    latch.set_browser_mode("login-slow");
    let started = Instant::now();
    let mut child = latch
        .command(&["connect", "Besieged", "--timeout", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (port, mut seen) = listener_port(&mut stderr);

    // Twenty sockets that never send a byte...
    let idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    // ...and what `<img src="http://127.0.0.1:PORT/callback?error=access_denied&state=wrong">`
    // on any web page sends.
    let forged = get(port, "/callback?error=access_denied&state=wrong");
    assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
    assert!(forged.contains("Latch ignored it"), "{forged}");
    assert!(child.try_wait().unwrap().is_none(), "the forged error did not end the sign-in");

    let output = child.wait_with_output().unwrap();
    drop(idle);
    stderr.read_to_string(&mut seen).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{seen}");
    assert!(stdout.contains("Connected 'Besieged' as Alice Example."), "{stdout}");
    assert!(!seen.contains("access_denied"), "{seen}");
    assert!(started.elapsed() < Duration::from_secs(30), "connected promptly: {:?}", started.elapsed());
    assert_eq!(latch.show("Besieged")["status"], "connected");
    assert_eq!(op.stats()["by_grant"]["authorization_code"], 1, "one code, exchanged once");
    latch.assert_no_secret_leaks(&latch.stored_secrets("Besieged"));
}

#[test]
fn a_device_verification_address_that_is_a_local_file_is_shown_but_not_opened() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    latch.ok(&[
        "add", "--name", "Kiosk", "--flow", "device_code", "--client-id", "tv",
        "--device-url", &quirks.url("/device/authorize/file-uri"), "--token-url", &quirks.url("/token/ok"), "--scope", "read",
    ]);
    let browser_log = latch.data_dir.path().with_extension("browser.log");
    let output = latch.run(&["connect", "Kiosk"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The quirk server grants the code as if the user had entered it elsewhere.
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("To sign in, open file:///etc/passwd and enter this code:"), "{stderr}");
    assert!(stderr.contains("    QUIRK-CODE"), "the code is shown: {stderr}");
    assert!(
        stderr.contains("Latch did not open the provider's address, because it is not an https web address"),
        "{stderr}"
    );
    let opened = std::fs::read_to_string(&browser_log).unwrap_or_default();
    assert!(opened.is_empty(), "the browser was started:\n{opened}");
    assert_eq!(latch.show("Kiosk")["status"], "connected");
    latch.assert_no_secret_leaks(&latch.stored_secrets("Kiosk"));
}

#[test]
fn a_typed_plain_http_issuer_is_refused_before_latch_contacts_it() {
    let latch = Latch::new();
    // TEST-NET-1: nothing answers there, so a fetch would hang until it timed out.
    let started = Instant::now();
    let stderr = latch.fails(&["add", "--name", "Plain", "--client-id", "c", "--issuer", "http://192.0.2.1/"], 2);
    assert!(stderr.contains("Issuer must start with https://"), "{stderr}");
    assert!(stderr.contains("Latch did not contact it."), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5), "nothing was fetched: {:?}", started.elapsed());
    latch.fails(&["show", "Plain"], 2);
}
