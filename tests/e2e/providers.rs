//! Provider set-up end to end: presets, discovery from an issuer, export and
//! import, App Academy v2's non-standard lifecycle and the paste flow. The
//! real `latch` binary, the real Secret Service, real test providers.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use latch_e2e::{http, Latch, Provider};
use serde_json::Value;

/// Serves one fixed JSON document at every path, for as many requests as come.
fn serve_json_forever(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

// --- presets ----------------------------------------------------------------

#[test]
fn latch_presets_lists_every_provider_with_where_to_register() {
    let latch = Latch::new();
    let list: Value = serde_json::from_str(&latch.ok(&["presets", "--json"])).unwrap();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    for id in ["google", "microsoft", "github", "gitlab", "slack", "dropbox", "salesforce", "spotify", "make", "app-academy"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let table = latch.ok(&["presets"]);
    assert!(table.contains("github") && table.contains("https://github.com/settings/developers"), "{table}");
}

#[test]
fn a_preset_fills_the_connection_and_explicit_flags_win() {
    let latch = Latch::new();
    let out = latch.ok_with_stdin(
        &["add", "--preset", "github", "--name", "Work GitHub", "--client-id", "Iv1.test", "--client-secret-stdin",
          "--scope", "repo", "--info-url", "http://127.0.0.1:9/user"],
        "github-client-secret-value\n",
    );
    assert!(out.contains("Register your app at: https://github.com/settings/developers"), "{out}");
    assert!(out.contains("Register this redirect URI with the provider: http://127.0.0.1/callback"), "{out}");
    let shown = latch.show("Work GitHub");
    assert_eq!(shown["authorize_url"], "https://github.com/login/oauth/authorize");
    assert_eq!(shown["token_url"], "https://github.com/login/oauth/access_token");
    assert_eq!(shown["info_url"], "http://127.0.0.1:9/user", "the explicit flag wins");
    assert_eq!(shown["scopes"], serde_json::json!(["repo"]), "the user's scopes replace the defaults");
    assert_eq!(shown["client_auth"], "body");
    assert_eq!(shown["has_client_secret"], true);

    // A preset that needs a secret says so, and nothing is saved.
    let stderr = latch.fails(&["add", "--preset", "github", "--name", "No Secret", "--client-id", "x"], 2);
    assert!(stderr.contains("GitHub needs your app's client secret"), "{stderr}");
    assert!(stderr.contains("Pipe the client secret in with --client-secret-stdin"), "{stderr}");
    let stderr = latch.fails(&["add", "--preset", "nope", "--name", "X", "--client-id", "x"], 2);
    assert!(stderr.contains("There is no preset 'nope'."), "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&latch.ok(&["list", "--json"])).unwrap().as_array().unwrap().len(), 1);
    latch.assert_no_secret_leaks(&["github-client-secret-value".into()]);
}

#[test]
fn the_app_academy_preset_keeps_the_required_connect_scope_and_its_quirks() {
    let latch = Latch::new();
    let out = latch.ok_with_stdin(
        &["add", "--preset", "app-academy", "--name", "Academy", "--client-id", "c", "--client-secret-stdin", "--scope", "read"],
        "academy-client-secret\n",
    );
    assert!(out.contains("latch connect \"Academy\" --paste"), "{out}");
    let shown = latch.show("Academy");
    assert_eq!(shown["scopes"], serde_json::json!(["connect", "read"]));
    assert_eq!(shown["token_request_format"], "json");
    assert_eq!(shown["expires_in_unit"], "minutes");
    assert_eq!(shown["revoke_style"], "bearer_get");
    assert_eq!(shown["redirect_uri_override"], "https://www.make.com/oauth/cb/app");
    latch.assert_no_secret_leaks(&["academy-client-secret".into()]);
}

// --- discovery ----------------------------------------------------------------

#[test]
fn discovery_fills_the_addresses_from_the_issuer_and_the_flow_then_connects() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok(&["add", "--name", "Discovered", "--issuer", &op.base, "--client-id", "public-pkce",
        "--scope", "openid", "--scope", "profile", "--auth-param", "prompt=consent", "--revoke-url", &op.url("/token/revocation")]);
    let shown = latch.show("Discovered");
    assert_eq!(shown["flow"], "authorization_code");
    assert_eq!(shown["issuer"], op.base.as_str());
    assert_eq!(shown["authorize_url"], op.url("/auth"));
    assert_eq!(shown["token_url"], op.url("/token"));
    assert_eq!(shown["info_url"], op.url("/me"));
    assert_eq!(shown["pkce"], "s256");
    assert_eq!(shown["require_iss"], true, "oidc-provider advertises RFC 9207");

    let out = latch.ok(&["connect", "Discovered"]);
    assert!(out.contains("Connected 'Discovered' as Alice Example."), "{out}");
    latch.assert_no_secret_leaks(&latch.stored_secrets("Discovered"));
}

#[test]
fn metadata_that_names_another_issuer_is_refused_and_nothing_is_saved() {
    let op = Provider::oidc(&[]);
    // A document that copies the real server's but claims to be someone else.
    let (_, mut metadata) = http("GET", &op.url("/.well-known/openid-configuration"), &[], "");
    metadata["issuer"] = Value::from("https://evil.example.com");
    let fake = serve_json_forever(metadata.to_string());
    let latch = Latch::new();
    let stderr = latch.fails(&["add", "--name", "Fake", "--issuer", &fake, "--client-id", "public-pkce"], 4);
    assert!(stderr.contains("names the issuer 'https://evil.example.com'"), "{stderr}");
    assert!(stderr.contains("Latch refuses it"), "{stderr}");
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]");
}

// --- export / import ---------------------------------------------------------

fn connections_of(export: &str) -> Value {
    serde_json::from_str::<Value>(export).unwrap()["connections"].clone()
}

#[test]
fn export_then_import_into_a_fresh_latch_round_trips_without_secrets() {
    let op = Provider::oidc(&[]);
    let first = Latch::new();
    first.ok_with_stdin(
        &["add", "--preset", "gitlab", "--name", "Lab", "--client-id", "lab-client", "--client-secret-stdin"],
        "gitlab-secret-value\n",
    );
    first.ok(&["add", "--name", "Local", "--issuer", &op.base, "--client-id", "public-pkce", "--scope", "openid",
        "--header", "X-Api-Version: 2"]);
    first.ok(&["connect", "Local"]);
    let export_path = first.data_dir.path().with_extension("export.json");
    first.ok(&["export", "--output", export_path.to_str().unwrap()]);
    let exported = std::fs::read_to_string(&export_path).unwrap();
    let file: Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(file["latch_export"], 1);
    assert!(file["exported_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(file["connections"].as_array().unwrap().len(), 2);
    for key in ["status", "access_expires_at", "has_client_secret", "id", "account"] {
        assert!(file["connections"][0].get(key).is_none(), "{key} must not be exported");
    }
    let mut secrets = first.stored_secrets("Local");
    secrets.push("gitlab-secret-value".into());
    for secret in &secrets {
        assert!(!exported.contains(secret.as_str()), "a secret was exported");
    }
    // Only the named ones.
    assert_eq!(connections_of(&first.ok(&["export", "local"])).as_array().unwrap().len(), 1);

    let second = Latch::new();
    let out = second.ok(&["import", export_path.to_str().unwrap()]);
    assert!(out.contains("Imported 2 connection(s): Lab, Local."), "{out}");
    assert!(out.contains("'Lab' needs its client secret"), "{out}");
    assert_eq!(connections_of(&second.ok(&["export"])), connections_of(&exported));
    assert_eq!(second.show("Local")["status"], "new");

    // Importing again: the names exist, so nothing is overwritten or added.
    let before = second.ok(&["export"]);
    let stderr = second.fails(&["import", export_path.to_str().unwrap()], 2);
    assert!(stderr.contains("Connection 1 ('Lab'): a connection with this name already exists here."), "{stderr}");
    assert!(stderr.contains("Nothing was imported."), "{stderr}");
    assert_eq!(connections_of(&second.ok(&["export"])), connections_of(&before));
    first.assert_no_secret_leaks(&secrets);
    second.assert_no_secret_leaks(&secrets);
}

#[test]
fn malformed_invalid_and_future_version_imports_are_refused_and_change_nothing() {
    let latch = Latch::new();
    let path = latch.data_dir.path().with_extension("import.json");
    let valid = serde_json::json!({
        "name": "Good", "flow": "client_credentials", "pkce": "off", "authorize_url": null,
        "token_url": "https://example.com/token", "refresh_url": null, "revoke_url": null, "info_url": null,
        "issuer": null, "scopes": [], "scope_separator": "space", "client_id": "c", "client_auth": "body",
        "authorize_params": [], "token_params": [], "refresh_params": [], "custom_headers": [],
        "token_placement": "header", "token_name": "Bearer", "query_param": "access_token", "redirect_port": 0,
        "redirect_path": "/callback", "token_request_format": "form", "expires_in_unit": "seconds"
    });
    let mut invalid = valid.clone();
    invalid["name"] = Value::from("Bad");
    invalid["token_url"] = Value::from("http://example.com/token");
    let cases = [
        ("{ not json".to_string(), "The file is not valid JSON"),
        (
            serde_json::json!({"latch_export": 7, "exported_at": "2030-01-01T00:00:00Z", "connections": [valid]}).to_string(),
            "written by a newer Latch (export version 7); this Latch reads version 1",
        ),
        (
            serde_json::json!({"latch_export": 1, "exported_at": "2026-01-01T00:00:00Z", "connections": [valid, invalid]})
                .to_string(),
            "Connection 2 ('Bad'): Token URI must start with https://",
        ),
        (serde_json::json!({"connections": []}).to_string(), "not a Latch export"),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, &text).unwrap();
        let stderr = latch.fails(&["import", path.to_str().unwrap()], 2);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(stderr.contains("Nothing was imported."), "{stderr}");
        assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]", "nothing changed after: {expected}");
    }
    // The valid one alone imports (from standard input).
    let text = serde_json::json!({"latch_export": 1, "exported_at": "2026-01-01T00:00:00Z", "connections": [valid]});
    let out = latch.ok_with_stdin(&["import", "-"], &text.to_string());
    assert!(out.contains("Imported 1 connection(s): Good."), "{out}");
}

// --- App Academy v2 and the paste flow ----------------------------------------

/// The App Academy preset pointed at the local stand-in, with the client
/// registered there. `extra` adds or overrides flags.
fn add_academy(latch: &Latch, academy: &Provider, extra: &[&str]) {
    let urls = [
        ("--authorize-url", academy.url("/authorize")),
        ("--token-url", academy.url("/token")),
        ("--refresh-url", academy.url("/refresh")),
        ("--info-url", academy.url("/info")),
        ("--revoke-url", academy.url("/invalidate")),
        // The stand-in serves the API too (the preset's is the real one).
        ("--api-base-url", academy.base.clone()),
    ];
    let mut args = vec!["add", "--preset", "app-academy", "--name", "Academy", "--client-id", "academy-client", "--client-secret-stdin"];
    args.extend(urls.iter().flat_map(|(flag, url)| [*flag, url.as_str()]));
    args.extend(extra);
    latch.ok_with_stdin(&args, "academy-secret\n");
}

fn seconds_until(rfc3339: &Value) -> i64 {
    let text = rfc3339.as_str().expect("a time");
    let output = std::process::Command::new("date").args(["-d", text, "+%s"]).output().unwrap();
    let at: i64 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    at - now
}

#[test]
fn app_academy_connects_reads_the_account_refreshes_and_invalidates_with_minute_expiries() {
    let academy = Provider::academy(&[]);
    let latch = Latch::new();
    // An empty --redirect-uri goes back to the loopback redirect, which this
    // stand-in also accepts, so the scripted browser finishes on its own.
    add_academy(&latch, &academy, &["--redirect-uri", "", "--scope", "read"]);
    let out = latch.ok(&["connect", "Academy"]);
    assert!(out.contains("Connected 'Academy' as Jane Doe."), "{out}");
    assert!(out.contains("Access token expires in 5 min"), "expires_in 5 means minutes: {out}");
    let stats = academy.stats();
    assert!(stats["last_content_type"].as_str().unwrap().starts_with("application/json"), "{stats}");
    assert_eq!(stats["rejected_non_json"], 0);

    let shown = latch.show("Academy");
    assert_eq!(shown["account"], "Jane Doe");
    assert_eq!(shown["granted_scopes"], Value::Null, "App Academy does not say what it granted");
    let access_left = seconds_until(&shown["access_expires_at"]);
    assert!((240..=301).contains(&access_left), "about 5 minutes, not 5 s or 300 min: {access_left} s");
    let refresh_left = seconds_until(&shown["refresh_expires_at"]);
    assert!((3500..=3601).contains(&refresh_left), "about 60 minutes: {refresh_left} s");
    let text = latch.ok(&["show", "Academy"]);
    assert!(text.contains("Access token expires in 5 min"), "{text}");
    assert!(text.contains("(GET with the access token)"), "{text}");

    // Scopes are enforced per method: read was granted, delete was not.
    let read = latch.run(&["request", "Academy", &academy.url("/api/users")]);
    assert_eq!(read.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&read.stdout).contains("Jane Doe"));
    let delete = latch.run(&["request", "Academy", &academy.url("/api/users/1"), "-X", "DELETE"]);
    assert_eq!(delete.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&delete.stderr).contains("HTTP 403"));

    let first = latch.keyring_tokens("Academy").unwrap();
    let out = latch.ok(&["refresh", "Academy"]);
    assert!(out.contains("Access token expires in 5 min"), "{out}");
    assert_eq!(academy.stats()["refresh_requests"], 1);
    let second = latch.keyring_tokens("Academy").unwrap();
    assert_ne!(first["access_token"], second["access_token"]);
    assert_ne!(first["refresh_token"], second["refresh_token"], "rotated");
    let bearer = |t: &Value| format!("Bearer {}", t["access_token"].as_str().unwrap());
    assert_eq!(http("GET", &academy.url("/info"), &[("Authorization", &bearer(&first))], "").0, 401);
    assert_eq!(http("GET", &academy.url("/info"), &[("Authorization", &bearer(&second))], "").0, 200);

    let out = latch.ok(&["disconnect", "Academy"]);
    assert!(out.contains("The provider revoked its tokens."), "{out}");
    assert_eq!(academy.stats()["invalidations"], 1);
    assert_eq!(http("GET", &academy.url("/info"), &[("Authorization", &bearer(&second))], "").0, 401);
    assert_eq!(latch.show("Academy")["status"], "new");

    let mut secrets = vec!["academy-secret".to_string()];
    for tokens in [&first, &second] {
        secrets.extend(["access_token", "refresh_token"].map(|k| tokens[k].as_str().unwrap().to_owned()));
    }
    latch.assert_no_secret_leaks(&secrets);
}

/// Runs `latch connect NAME` in the paste flow: waits for the scripted
/// browser to reach the hosted redirect page, then pastes `paste(address)`.
fn connect_by_pasting(latch: &Latch, name: &str, extra: &[&str], paste: impl Fn(&str) -> String) -> (Output, String) {
    let address_file = latch.data_dir.path().with_extension(format!("final-url-{}", rand_suffix()));
    let mut args = vec!["connect", name];
    args.extend(extra);
    let mut child = latch
        .command(&args)
        .env("LATCH_TEST_BROWSER_FINAL_URL_FILE", &address_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let address = loop {
        if let Ok(text) = std::fs::read_to_string(&address_file) {
            if !text.is_empty() {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "the browser never reached the redirect page");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", paste(&address)).unwrap();
    drop(stdin);
    (child.wait_with_output().unwrap(), address)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

fn code_of(address: &str) -> String {
    let query = address.split_once('?').unwrap().1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    pairs.into_iter().find(|(k, _)| k == "code").unwrap().1
}

#[test]
fn the_paste_flow_signs_in_through_a_hosted_redirect_with_the_same_state_checks() {
    let academy = Provider::academy(&[]);
    let latch = Latch::new();
    // The stand-in hosts its own redirect page, like https://www.make.com/oauth/cb/app.
    add_academy(&latch, &academy, &["--redirect-uri", &academy.url("/oauth/cb/app")]);
    assert_eq!(latch.show("Academy")["redirect_uri_override"], academy.url("/oauth/cb/app"));

    // A hosted redirect cannot be listened on: connect switches to pasting.
    let (output, address) = connect_by_pasting(&latch, "Academy", &[], |a| a.to_owned());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Connected 'Academy' as Jane Doe."), "{stdout}");
    assert!(stderr.contains("paste it here"), "{stderr}");
    assert!(address.starts_with(&academy.url("/oauth/cb/app?")), "{address}");
    let code = code_of(&address);
    assert!(!stdout.contains(&code) && !stderr.contains(&code), "the pasted code is never printed");
    let tokens = latch.keyring_tokens("Academy").unwrap();

    // A response to another request (forged state) is refused, and the
    // working connection stays working.
    latch.set_browser_mode("forge-state");
    let (output, _) = connect_by_pasting(&latch, "Academy", &["--paste"], |a| a.to_owned());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("did not match the request Latch made (wrong 'state')"), "{stderr}");
    assert_eq!(latch.show("Academy")["status"], "connected");
    assert_eq!(latch.keyring_tokens("Academy").unwrap(), tokens, "nothing was exchanged");

    // An address that is not the redirect URI is refused before anything is sent.
    latch.set_browser_mode("login");
    let before = academy.stats()["token_requests"].clone();
    let (output, _) = connect_by_pasting(&latch, "Academy", &[], |a| a.replace("/oauth/cb/app", "/elsewhere"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("The address you pasted is not the redirect URI"), "{stderr}");
    assert_eq!(academy.stats()["token_requests"], before);

    let mut secrets = vec!["academy-secret".to_string()];
    secrets.extend(["access_token", "refresh_token"].map(|k| tokens[k].as_str().unwrap().to_owned()));
    latch.assert_no_secret_leaks(&secrets);
}

// --- device authorization grant (RFC 8628) -----------------------------------

fn add_device(latch: &Latch, op: &Provider) {
    latch.ok(&["add", "--name", "TV", "--flow", "device_code", "--client-id", "device-public",
        "--device-url", &op.url("/device/auth"), "--token-url", &op.url("/token"), "--info-url", &op.url("/me"),
        "--scope", "openid", "--scope", "offline_access", "--scope", "profile"]);
}

#[test]
fn the_device_flow_shows_the_code_which_the_browser_enters_and_latch_connects() {
    let op = Provider::oidc(&["--device"]);
    let latch = Latch::new();
    add_device(&latch, &op);
    let output = latch.run(&["connect", "TV"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains(&format!("To sign in, open {} and enter this code:", op.url("/device"))), "{stderr}");
    let code_line = stderr.lines().find(|l| l.starts_with("    ")).expect("the user code is shown").trim();
    assert!(code_line.len() == 9 && code_line.as_bytes()[4] == b'-', "a user code like ABCD-EFGH: {code_line}");
    assert!(stdout.contains("Connected 'TV' as Alice Example."), "{stdout}");
    let shown = latch.show("TV");
    assert_eq!(shown["status"], "connected");
    assert_eq!(shown["has_refresh_token"], true);
    assert!(op.stats()["by_grant"]["urn:ietf:params:oauth:grant-type:device_code"].as_u64().unwrap() >= 1);
    latch.ok(&["refresh", "TV"]);
    latch.assert_no_secret_leaks(&latch.stored_secrets("TV"));
}

#[test]
fn an_expired_device_code_ends_the_wait_with_what_to_do() {
    let op = Provider::oidc(&["--device", "--device-ttl", "2"]);
    let latch = Latch::new();
    add_device(&latch, &op);
    latch.set_browser_mode("ignore");
    let started = Instant::now();
    let stderr = latch.fails(&["connect", "TV"], 3);
    assert!(stderr.contains("Nobody entered the code before it expired"), "{stderr}");
    assert!(stderr.contains("latch connect \"TV\""), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "ended soon after the code expired");
    assert_eq!(latch.show("TV")["status"], "error");
}

#[test]
fn device_polling_waits_five_seconds_longer_after_slow_down() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    latch.set_browser_mode("ignore");
    latch.ok(&[
        "add", "--name", "Slow TV", "--flow", "device_code", "--client-id", "tv",
        "--device-url", &quirks.url("/device/authorize"), "--token-url", &quirks.url("/token/ok"), "--scope", "read",
    ]);
    latch.ok(&["connect", "Slow TV"]);
    let polls: Vec<i64> =
        quirks.stats()["device_polls"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect();
    assert_eq!(polls.len(), 2, "slowed down once, then connected: {polls:?}");
    // The interval was 1 s; slow_down adds 5 (RFC 8628 §3.5).
    assert!(polls[1] - polls[0] >= 5_500, "waited {} ms after slow_down", polls[1] - polls[0]);
    assert_eq!(latch.show("Slow TV")["status"], "connected");
    latch.assert_no_secret_leaks(&latch.stored_secrets("Slow TV"));
}

// --- import: hosts, size, one transaction --------------------------------------

/// An export file of `connections` (JSON objects) at a path beside `latch`'s data directory.
fn export_file_of(latch: &Latch, file: &str, connections: Vec<Value>) -> std::path::PathBuf {
    let path = latch.data_dir.path().with_extension(file);
    let text = serde_json::json!({"latch_export": 1, "exported_at": "2026-01-01T00:00:00Z", "connections": connections});
    std::fs::write(&path, text.to_string()).unwrap();
    path
}

fn service_connection(name: &str) -> Value {
    serde_json::json!({
        "name": name, "flow": "client_credentials", "pkce": "off", "token_url": "https://example.com/token",
        "client_id": "c", "client_auth": "body"
    })
}

#[test]
fn an_import_whose_connection_spans_two_sites_needs_accept_hosts() {
    let latch = Latch::new();
    let mail = serde_json::json!({
        "name": "Mail", "flow": "authorization_code", "pkce": "s256", "client_id": "c", "client_auth": "none",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth", "token_url": "https://evil.example/token",
        "refresh_url": "http://127.0.0.1:9/refresh"
    });
    let path = export_file_of(&latch, "two-sites.json", vec![service_connection("Service"), mail]);
    let path = path.to_str().unwrap();

    let stderr = latch.fails(&["import", path], 2);
    assert!(stderr.contains("'Mail': accounts.google.com, evil.example, 127.0.0.1:9  [needs --accept-hosts]"), "{stderr}");
    assert!(stderr.contains("Its addresses are on 3 different sites"), "{stderr}");
    assert!(stderr.contains("plain http with 127.0.0.1:9"), "{stderr}");
    assert!(stderr.contains("'Service': example.com\n"), "every connection is listed: {stderr}");
    assert!(stderr.contains("Nothing was imported."), "{stderr}");
    assert!(stderr.contains(&format!("run 'latch import \"{path}\" --accept-hosts'")), "{stderr}");
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]", "nothing imported");

    let out = latch.ok(&["import", path, "--accept-hosts"]);
    assert!(out.contains("Imported 2 connection(s): Service, Mail."), "{out}");
    assert_eq!(latch.show("Mail")["token_url"], "https://evil.example/token");
}

#[test]
fn an_import_file_over_10_mib_is_refused_before_it_is_read() {
    let latch = Latch::new();
    let path = latch.data_dir.path().with_extension("big.json");
    let mut text = serde_json::json!({"latch_export": 1, "exported_at": "2026-01-01T00:00:00Z", "connections": [
        service_connection("Service")
    ]})
    .to_string();
    text.push_str(&" ".repeat(10 * 1024 * 1024));
    std::fs::write(&path, &text).unwrap();
    let stderr = latch.fails(&["import", path.to_str().unwrap()], 2);
    assert!(stderr.contains("The file is larger than 10 MiB, the most Latch imports"), "{stderr}");
    assert!(stderr.contains("Nothing was imported."), "{stderr}");
    // From standard input too.
    let output = latch.run_with_stdin(&["import", "-"], &text);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("larger than 10 MiB"));
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]");
    // Trimmed under the cap, the same file imports.
    std::fs::write(&path, text.trim_end()).unwrap();
    latch.ok(&["import", path.to_str().unwrap()]);
}

/// Every column of every connection row, hidden ones included.
fn connection_rows(latch: &Latch) -> Vec<String> {
    let db = rusqlite::Connection::open(latch.data_dir.path().join("latch.db")).unwrap();
    let mut stmt = db.prepare("SELECT * FROM connections ORDER BY id").unwrap();
    let columns = stmt.column_count();
    let rows = stmt
        .query_map([], |row| {
            let values = (0..columns).map(|i| match row.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
                other => format!("{other:?}"),
            });
            Ok(values.collect::<Vec<_>>().join("|"))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn a_replace_that_fails_midway_leaves_everything_as_it_was() {
    let op = Provider::oidc(&[]);
    let latch = Latch::new();
    latch.ok(&["add", "--name", "Local", "--issuer", &op.base, "--client-id", "public-pkce", "--scope", "openid"]);
    latch.ok(&["connect", "Local"]);
    latch.ok_with_stdin(
        &["add", "--name", "Service", "--flow", "client_credentials", "--token-url", "https://example.com/token",
          "--client-id", "c", "--client-secret-stdin"],
        "service-secret-value\n",
    );
    let export = latch.ok(&["export", "Local"]);
    let mut local = connections_of(&export)[0].clone();
    local["scopes"] = serde_json::json!(["openid", "profile"]);
    let path = export_file_of(
        &latch,
        "replace.json",
        vec![local, service_connection("Service"), service_connection("New"), service_connection("Boom")],
    );
    let path = path.to_str().unwrap();

    // The disk fills up when the third row is written (a trigger stands in for it).
    let db = rusqlite::Connection::open(latch.data_dir.path().join("latch.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER fail_midway BEFORE INSERT ON connections WHEN NEW.name = 'Boom'
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    drop(db);
    let rows = connection_rows(&latch);
    let listed = latch.ok(&["list", "--json"]);
    let tokens = latch.keyring_tokens("Local");
    assert!(tokens.is_some());

    let stderr = latch.fails(&["import", path, "--replace"], 1);
    assert!(stderr.contains("database or disk is full"), "{stderr}");
    assert!(stderr.contains("Nothing was imported: every connection is as it was."), "{stderr}");
    assert_eq!(connection_rows(&latch), rows, "every row and column as it was");
    assert_eq!(latch.ok(&["list", "--json"]), listed);
    assert_eq!(latch.keyring_tokens("Local"), tokens, "the sign-in stays");
    assert_eq!(latch.show("Service")["has_client_secret"], true);

    // Without the failure the same import replaces both and adds the rest.
    let db = rusqlite::Connection::open(latch.data_dir.path().join("latch.db")).unwrap();
    db.execute_batch("DROP TRIGGER fail_midway").unwrap();
    drop(db);
    let old_id = latch.show("Local")["id"].clone();
    let out = latch.ok(&["import", path, "--replace"]);
    assert!(out.contains("Imported 4 connection(s): Local, Service, New, Boom."), "{out}");
    let now = latch.show("Local");
    assert_ne!(now["id"], old_id);
    assert_eq!(now["scopes"], serde_json::json!(["openid", "profile"]));
    assert_eq!(latch.keyring_tokens("Local"), None, "the replaced sign-in is gone");
    latch.assert_no_secret_leaks(&["service-secret-value".into()]);
}
