//! What reaches a terminal or a shell from outside, end to end: a
//! provider's words, an account name, a device code and connection names are
//! printed without the escape sequences they carry, and commands Latch
//! suggests quote names so that pasting them runs what they say. The quirk
//! server's `/escape/*` endpoints (tests/providers/quirks.mjs) say hostile
//! things.

use latch_e2e::{Latch, Provider};

/// Characters that must never reach the terminal from outside: ESC (starts
/// escape sequences: `ESC ] 0 ;` retitles the window, `ESC [ 31 m` colours
/// text), BEL (ends an OSC sequence), the C1 CSI, and bidi overrides.
const FORBIDDEN: &[char] = &['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\r'];

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(FORBIDDEN), "{what} carries a control or bidi character: {text:?}");
}

/// A client-credentials connection whose token URI is `path` on the quirk server.
fn add_service(latch: &Latch, quirks: &Provider, name: &str, path: &str) {
    latch.ok_with_stdin(
        &["add", "--name", name, "--flow", "client_credentials", "--client-id", "svc", "--client-secret-stdin",
          "--token-url", &quirks.url(path)],
        "svc-secret",
    );
}

#[test]
fn a_provider_error_description_with_terminal_escapes_is_printed_without_them() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_service(&latch, &quirks, "Hostile", "/escape/token");
    let stderr = latch.fails(&["connect", "Hostile"], 4);
    assert_clean("stderr", &stderr);
    assert!(stderr.contains("The provider's answer: invalid_request: Bad ]0;pwnedrequest [31mred[0m evil"), "{stderr}");

    // The error is kept as the connection's last error; every place that shows it cleans it.
    let out = latch.run(&["show", "Hostile"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Last error") && shown.contains("]0;pwned"), "{shown}");
    assert_clean("show", &shown);
    let out = latch.run(&["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("Hostile: error — "), "{status}");
    assert_clean("status", &status);
    assert_clean("stderr of show and status", &latch.transcript());
}

#[test]
fn a_non_json_error_body_is_shown_line_by_line_without_its_escape_bytes() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_service(&latch, &quirks, "Texty", "/escape/token-text");
    let stderr = latch.fails(&["connect", "Texty"], 4);
    assert_clean("stderr", &stderr);
    assert!(stderr.contains("What the provider said (secrets removed):"), "{stderr}");
    assert!(stderr.contains("  Bad ]0;pwnedrequest [31mred[0m evil\n"), "{stderr}");
    assert!(stderr.contains("  second line [2J\n"), "the block keeps its lines: {stderr}");
}

#[test]
fn a_hostile_device_code_and_account_name_are_printed_without_escapes() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    latch.set_browser_mode("ignore");
    latch.ok(&[
        "add", "--name", "TV", "--flow", "device-code", "--client-id", "tv",
        "--device-url", &quirks.url("/escape/device"), "--token-url", &quirks.url("/token/ok"),
        "--info-url", &quirks.url("/escape/me"), "--scope", "read",
    ]);
    let output = latch.run(&["connect", "TV"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_clean("stderr", &stderr);
    assert_clean("stdout", &stdout);
    assert!(stderr.contains("\n    CODE-]0;pwned[31m-X\n"), "the code, without its escapes: {stderr}");
    assert!(stdout.contains("Connected 'TV' as Eve Bad ]0;pwnedrequest [31mred[0m evil."), "{stdout}");

    let out = latch.run(&["show", "TV"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Account") && shown.contains("Eve Bad ]0;pwned"), "{shown}");
    assert_clean("show", &shown);
    latch.assert_no_secret_leaks(&latch.stored_secrets("TV"));
}

#[test]
fn names_that_spoof_or_carry_escapes_are_refused_without_echoing_them() {
    let latch = Latch::new();
    let add = |name: &str| {
        latch.fails(&["add", "--name", name, "--flow", "client_credentials", "--client-id", "c", "--token-url", "https://example.com/t"], 2)
    };
    let stderr = add("Bank\u{202e}gpj.exe");
    assert!(stderr.contains("Connection name must not contain text direction marks"), "{stderr}");
    assert_clean("stderr", &stderr);
    let stderr = add("Git\u{200b}Hub");
    assert!(stderr.contains("Connection name must not contain invisible characters"), "{stderr}");
    let stderr = add("evil\u{1b}]0;pwned\u{7}");
    assert!(stderr.contains("Connection name must not contain control characters"), "{stderr}");
    assert_clean("stderr", &stderr);
    assert!(!stderr.contains("pwned"), "the name is not echoed: {stderr}");
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]", "nothing was saved");
}

#[test]
fn suggested_commands_single_quote_names_the_shell_would_read() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    let name = "Pay $(touch pwned) `id` \"now\"";
    let quoted = "'Pay $(touch pwned) `id` \"now\"'";
    let out = latch.ok(&[
        "add", "--name", name, "--flow", "authorization_code", "--client-id", "quirky",
        "--authorize-url", &quirks.url("/authorize"), "--token-url", &quirks.url("/token/ok"), "--scope", "read",
    ]);
    assert!(out.contains(&format!("Next: latch connect {quoted}\n")), "{out}");
    latch.ok(&["connect", name]);
    latch.ok(&["edit", name, "--token-url", &quirks.url("/token/invalid-grant")]);
    let stderr = latch.fails(&["refresh", name], 3);
    assert!(stderr.contains(&format!("Run latch connect {quoted} to sign in again.")), "{stderr}");
    let out = latch.run(&["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    let suggested = status
        .lines()
        .find_map(|line| line.split_once("needs you to sign in again: ").map(|(_, command)| command.to_owned()))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(suggested.starts_with(&format!("latch connect {quoted}")), "{status}");

    // Pasted into a shell, the suggested command hands latch the name as it
    // is and runs nothing else.
    if std::process::Command::new("sh").arg("-c").arg("true").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let run = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("latch() {{ printf '%s\\0' \"$@\"; }}\n{}", suggested.split(" — ").next().unwrap()))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let args: Vec<String> = String::from_utf8(run.stdout).unwrap().split_terminator('\0').map(str::to_owned).collect();
        assert_eq!(args, ["connect", name]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the shell ran part of the name");
    }

    // A name the shell reads as itself keeps its double quotes.
    let out = latch.ok(&[
        "add", "--name", "Team Drive", "--flow", "authorization_code", "--client-id", "quirky",
        "--authorize-url", &quirks.url("/authorize"), "--token-url", &quirks.url("/token/ok"),
    ]);
    assert!(out.contains("Next: latch connect \"Team Drive\"\n"), "{out}");
}

#[test]
fn enum_values_take_dashes_as_the_readme_writes_them() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    latch.ok_with_stdin(
        &["add", "--name", "Dashes", "--flow", "client-credentials", "--revoke-style", "bearer-get",
          "--client-auth", "basic", "--client-id", "svc", "--client-secret-stdin",
          "--token-url", &quirks.url("/token/ok"), "--revoke-url", &quirks.url("/revoke")],
        "svc-secret",
    );
    let shown = latch.show("Dashes");
    assert_eq!(shown["flow"], "client_credentials");
    assert_eq!(shown["revoke_style"], "bearer_get");
    latch.ok(&["edit", "Dashes", "--revoke-style", "rfc7009", "--token-request-format", "json"]);
    assert_eq!(latch.show("Dashes")["revoke_style"], "rfc7009");
    let stderr = latch.fails(&["edit", "Dashes", "--flow", "client-credential"], 2);
    assert!(stderr.contains("'client-credential' is not one of"), "{stderr}");
}

#[test]
fn requests_go_over_https_or_to_this_computer_and_oversized_fields_are_refused() {
    let quirks = Provider::quirks();
    let latch = Latch::new();
    add_service(&latch, &quirks, "Api", "/token/ok");
    latch.ok(&["connect", "Api"]);
    let stderr = latch.fails(&["request", "Api", "http://example.com/api"], 2);
    assert!(
        stderr.contains("Request URL must start with https:// (plain http:// only for addresses on this computer, such as localhost)."),
        "{stderr}"
    );
    let echo = latch.ok(&["request", "Api", &quirks.url("/api/echo")]);
    assert!(echo.contains("\"active\":true") || echo.contains("\"active\": true"), "{echo}");

    let huge = "x".repeat(5_000);
    let stderr = latch.fails(&["edit", "Api", "--client-id", &huge], 2);
    assert!(stderr.contains("Client ID is too long: 5,000 bytes, more than the 4,096 Latch accepts."), "{stderr}");
    assert!(!stderr.contains(&huge));
    let scopes: Vec<String> = (0..257).map(|i| format!("s{i}")).collect();
    let mut args = vec!["edit", "Api"];
    for scope in &scopes {
        args.extend(["--scope", scope.as_str()]);
    }
    let stderr = latch.fails(&args, 2);
    assert!(stderr.contains("Scopes: 257 scopes are listed; Latch accepts at most 256."), "{stderr}");
    assert_eq!(latch.show("Api")["client_id"], "svc", "nothing was saved");
}
