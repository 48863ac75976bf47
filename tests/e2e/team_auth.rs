//! Teams: signing in to a real OpenBao (`bao server -dev`) with each auth
//! method — a token, AppRole, userpass and JWT (a key made here with
//! openssl, a JWT signed here) — and keeping the OpenBao token alive:
//! renewed before its TTL ends, replaced by a new login when it cannot be,
//! and `latch agent --headless` on a machine with no keyring. Every test
//! checks that no secret (secret ID, password, JWT, OpenBao token) reaches
//! the data directory or the output.
//!
//! OpenBao's TTLs run on its own clock, which a test cannot step: the few
//! waits here are real, a few seconds each, with deadlines.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use latch_e2e::team_setup::{policy, CLIENT_SECRET, TEAM_PATH};
use latch_e2e::{Bao, Latch, Provider};
use serde_json::{json, Value};

const PASSWORD: &str = "correct-horse-battery-staple";

/// An API call with the root token that must succeed.
fn root_ok(bao: &Bao, method: &str, path: &str, body: Value) -> Value {
    let (status, answer) = bao.root(method, path, &body.to_string());
    assert!(status == 200 || status == 204, "{method} {path}: {status} {answer}");
    answer
}

/// A dev server with the writer policy and the AppRole, userpass and JWT
/// auth methods turned on (as `bao auth enable approle` etc. do).
fn bao_with_auth() -> Bao {
    let bao = Bao::start();
    bao.policy("latch-sales-writer", &policy("writer"));
    for method in ["approle", "userpass", "jwt"] {
        root_ok(&bao, "POST", &format!("/v1/sys/auth/{method}"), json!({ "type": method }));
    }
    bao
}

/// An AppRole with the writer policy whose tokens live `ttl` at most; its
/// role ID and a new secret ID.
fn approle(bao: &Bao, role: &str, ttl: &str) -> (String, String) {
    let settings = json!({ "token_policies": ["latch-sales-writer"], "token_ttl": ttl, "token_max_ttl": ttl });
    root_ok(bao, "POST", &format!("/v1/auth/approle/role/{role}"), settings);
    let role_id =
        root_ok(bao, "GET", &format!("/v1/auth/approle/role/{role}/role-id"), Value::Null)["data"]["role_id"].as_str().unwrap().to_owned();
    let secret_id = root_ok(bao, "POST", &format!("/v1/auth/approle/role/{role}/secret-id"), json!({}))["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (role_id, secret_id)
}

fn join_args<'a>(bao: &'a Bao, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["team", "join", "sales", "--addr", &bao.addr, "--mount", "secret", "--path", TEAM_PATH];
    args.extend_from_slice(extra);
    args
}

/// Adds "CRM" to the team: a code-flow connection to oidc-provider, signed in.
fn add_team_connection(latch: &Latch, op: &Provider) {
    latch_e2e::team_setup::add_team_connection(latch, op, "CRM");
}

/// The OpenBao token (and login secret) `latch` keeps in the keyring for its one team.
fn kept(latch: &Latch, slot: &str) -> Option<String> {
    let db = rusqlite::Connection::open(latch.data_dir.path().join("latch.db")).unwrap();
    let entry: String = db.query_row("SELECT token_entry FROM teams", [], |row| row.get(0)).unwrap();
    match keyring::Entry::new("latch", &format!("{entry}/{slot}")).unwrap().get_password() {
        Ok(value) => Some(value),
        Err(keyring::Error::NoEntry) => None,
        Err(err) => panic!("keyring read failed: {err}"),
    }
}

/// Whether OpenBao still knows `token` (looked up with the root token).
fn alive(bao: &Bao, token: &str) -> bool {
    bao.root("POST", "/v1/auth/token/lookup", &json!({ "token": token }).to_string()).0 == 200
}

/// A JWT signed with RS256 by `key` (a PEM file), as a CI's OIDC token is.
fn signed_jwt(key: &std::path::Path, claims: Value) -> String {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let input = format!("{}.{}", encode(br#"{"alg":"RS256","typ":"JWT"}"#), encode(claims.to_string().as_bytes()));
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    std::io::Write::write_all(&mut openssl.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let signature = openssl.wait_with_output().unwrap();
    assert!(signature.status.success());
    format!("{input}.{}", encode(&signature.stdout))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The JWT auth method trusting a key pair made here; the private key's file.
fn jwt_auth(bao: &Bao, dir: &std::path::Path) -> std::path::PathBuf {
    let key = dir.join("ci-key.pem");
    let public = dir.join("ci-key.pub.pem");
    let made = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&key)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    assert!(Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&key).arg("-out").arg(&public).status().unwrap().success());
    let pem = std::fs::read_to_string(&public).unwrap();
    root_ok(bao, "POST", "/v1/auth/jwt/config", json!({ "jwt_validation_pubkeys": [pem], "bound_issuer": "https://ci.example" }));
    let role = json!({
        "role_type": "jwt",
        "user_claim": "sub",
        "bound_audiences": ["latch"],
        "token_policies": ["latch-sales-writer"],
        "token_ttl": "1h",
    });
    root_ok(bao, "POST", "/v1/auth/jwt/role/ci", role);
    key
}

fn ci_claims(expires_in: i64) -> Value {
    json!({ "iss": "https://ci.example", "sub": "ci-job-7", "aud": "latch", "iat": now_secs() - 5, "exp": now_secs() + expires_in })
}

#[test]
fn members_join_with_approle_userpass_and_a_jwt_and_share_one_team_connection() {
    let bao = bao_with_auth();
    let op = Provider::oidc(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (role_id, secret_id) = approle(&bao, "writer", "1h");
    root_ok(&bao, "POST", "/v1/auth/userpass/users/ana", json!({ "password": PASSWORD, "token_policies": ["latch-sales-writer"] }));
    let key = jwt_auth(&bao, dir.path());
    let jwt = signed_jwt(&key, ci_claims(600));
    let jwt_file = dir.path().join("ci.jwt");
    std::fs::write(&jwt_file, &jwt).unwrap();
    let (a, b, c) = (Latch::new(), Latch::new(), Latch::new());

    // AppRole: the role ID is a flag (not secret), the secret ID comes on standard input.
    let joined = a.ok_with_stdin(&join_args(&bao, &["--auth", "approle", "--role-id", &role_id]), &format!("{secret_id}\n"));
    assert!(joined.contains("Joined team 'sales' (approle sign-in)"), "{joined}");
    assert_eq!(kept(&a, "openbao_login").as_deref(), Some(secret_id.as_str()), "the secret ID is in the keyring to log in again");
    add_team_connection(&a, &op);
    let token = a.ok(&["token", "CRM"]).trim().to_owned();

    // userpass: the password from the environment.
    b.set_env("BAO_PASSWORD", PASSWORD);
    let joined = b.ok(&join_args(&bao, &["--auth", "userpass", "--username", "ana"]));
    assert!(joined.contains("(userpass sign-in)") && joined.contains("Added team connection 'CRM'"), "{joined}");
    assert_eq!(b.ok(&["token", "CRM"]).trim(), token);

    // JWT: from a file, e.g. the CI's OIDC token.
    let joined = c.ok(&join_args(&bao, &["--auth", "jwt", "--role", "ci", "--jwt-file", jwt_file.to_str().unwrap()]));
    assert!(joined.contains("(jwt sign-in)") && joined.contains("Added team connection 'CRM'"), "{joined}");
    assert_eq!(c.ok(&["token", "CRM"]).trim(), token);
    for member in [&a, &b, &c] {
        assert!(member.ok(&["team", "status"]).contains("reachable"));
    }

    // A JWT past its expiry is named as such, and nothing is kept.
    let stale = signed_jwt(&key, ci_claims(-60));
    let d = Latch::new();
    d.set_env("BAO_JWT", &stale);
    let out = d.run(&join_args(&bao, &["--auth", "jwt", "--role", "ci"]));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("did not accept the JWT for the role 'ci'"), "{said}");
    assert!(d.ok(&["team", "status"]).contains("joined no team"));

    let mut secrets = vec![secret_id, PASSWORD.to_owned(), jwt, stale, CLIENT_SECRET.to_owned(), token];
    secrets.extend([&a, &b, &c].iter().filter_map(|m| kept(m, "openbao_token")));
    assert_eq!(secrets.len(), 9, "each member keeps an OpenBao token");
    for member in [&a, &b, &c, &d] {
        member.assert_no_secret_leaks(&secrets);
    }
}

#[test]
fn a_wrong_secret_id_or_password_says_why_and_keeps_nothing() {
    let bao = bao_with_auth();
    let (role_id, _secret_id) = approle(&bao, "writer", "1h");
    root_ok(&bao, "POST", "/v1/auth/userpass/users/ana", json!({ "password": PASSWORD, "token_policies": ["latch-sales-writer"] }));
    let latch = Latch::new();
    let wrong_secret_id = "00000000-aaaa-bbbb-cccc-wrong0secret";
    let out = latch.run_with_stdin(&join_args(&bao, &["--auth", "approle", "--role-id", &role_id]), &format!("{wrong_secret_id}\n"));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("OpenBao did not accept the AppRole role ID and secret ID"), "{said}");

    let wrong_password = "not-the-password-at-all";
    let out = latch.run_with_stdin(&join_args(&bao, &["--auth", "userpass", "--username", "ana"]), &format!("{wrong_password}\n"));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("OpenBao did not accept the password of 'ana'"), "{said}");

    // No secret on the command line: a missing one is asked for in words.
    let out = latch.run(&join_args(&bao, &["--auth", "approle"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("role ID"));
    assert!(latch.ok(&["team", "status"]).contains("joined no team"));
    latch.assert_no_secret_leaks(&[wrong_secret_id.to_owned(), wrong_password.to_owned()]);
}

/// `latch agent` (or `--headless`) over `latch`'s store, once its socket is there.
struct RunningAgent {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl RunningAgent {
    fn start(latch: &Latch, args: &[&str], configure: impl FnOnce(&mut Command)) -> RunningAgent {
        let runtime = latch.data_dir.path().with_extension("run");
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = latch.command(args);
        command.env("XDG_RUNTIME_DIR", &runtime).stdin(Stdio::null()).stdout(log.reopen().unwrap()).stderr(log.reopen().unwrap());
        configure(&mut command);
        let mut child = command.spawn().unwrap();
        let socket = runtime.join("latch/agent.sock");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the agent stopped ({status}): {}", std::fs::read_to_string(log.path()).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "the agent did not start: {}", std::fs::read_to_string(log.path()).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
        RunningAgent { child, log }
    }

    fn said(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

#[test]
fn a_renewable_three_second_token_keeps_working_past_its_ttl() {
    let bao = bao_with_auth();
    let created = root_ok(
        &bao,
        "POST",
        "/v1/auth/token/create",
        json!({ "policies": ["latch-sales-writer"], "ttl": "3s", "explicit_max_ttl": "1h", "renewable": true }),
    );
    let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
    let latch = Latch::new();
    let joined = latch.ok_with_stdin(&join_args(&bao, &[]), &format!("{token}\n"));
    assert!(joined.contains("(token sign-in)"), "{joined}");
    assert!(kept(&latch, "openbao_login").is_none(), "a token has no login secret");

    // The running Latch renews it before each 3-second TTL ends.
    let agent = RunningAgent::start(&latch, &["agent"], |_| {});
    std::thread::sleep(Duration::from_secs(8));
    assert!(alive(&bao, &token), "renewed past its TTL: {}", agent.said());
    assert_eq!(kept(&latch, "openbao_token").as_deref(), Some(token.as_str()), "renewing keeps the same token");
    drop(agent);
    assert!(latch.ok(&["team", "sync"]).contains("up to date"));

    // Nobody renews it: it ends, and the member is told to join again.
    std::thread::sleep(Duration::from_secs(4));
    assert!(!alive(&bao, &token));
    let said = latch.fails(&["team", "sync"], 1);
    assert!(said.contains("needs you to join the team again"), "{said}");
    latch.assert_no_secret_leaks(&[token]);
}

#[test]
fn an_approle_token_that_expired_or_was_revoked_is_replaced_by_a_new_login() {
    let bao = bao_with_auth();
    let (role_id, secret_id) = approle(&bao, "writer", "2s");
    let latch = Latch::new();
    latch.set_env("BAO_ROLE_ID", &role_id);
    latch.set_env("BAO_SECRET_ID", &secret_id);
    latch.ok(&join_args(&bao, &["--auth", "approle"]));
    let first = kept(&latch, "openbao_token").unwrap();

    std::thread::sleep(Duration::from_secs(3));
    assert!(!alive(&bao, &first), "OpenBao ended the first token");
    assert!(latch.ok(&["team", "sync"]).contains("up to date"), "logged in again");
    let second = kept(&latch, "openbao_token").unwrap();
    assert_ne!(second, first);

    // A token revoked under it: OpenBao refuses it, lookup-self says it is
    // gone, and Latch logs in again instead of asking the member.
    root_ok(
        &bao,
        "POST",
        "/v1/auth/approle/role/writer",
        json!({ "token_policies": ["latch-sales-writer"], "token_ttl": "1h", "token_max_ttl": "1h" }),
    );
    latch.ok(&["team", "sync"]);
    let held = kept(&latch, "openbao_token").unwrap();
    root_ok(&bao, "POST", "/v1/auth/token/revoke", json!({ "token": held }));
    assert!(!alive(&bao, &held));
    assert!(latch.ok(&["team", "status"]).contains("reachable"));
    let newest = kept(&latch, "openbao_token").unwrap();
    assert_ne!(newest, held);
    assert!(alive(&bao, &newest));
    latch.assert_no_secret_leaks(&[secret_id, first, second, held, newest]);
}

/// Revokes every token an AppRole login made (by their accessors).
fn revoke_approle_tokens(bao: &Bao) {
    let accessors = root_ok(bao, "LIST", "/v1/auth/token/accessors", Value::Null);
    let mut revoked = 0;
    for accessor in accessors["data"]["keys"].as_array().unwrap() {
        let body = json!({ "accessor": accessor });
        let found = root_ok(bao, "POST", "/v1/auth/token/lookup-accessor", body.clone());
        if found["data"]["path"].as_str().is_some_and(|p| p.starts_with("auth/approle/login")) {
            root_ok(bao, "POST", "/v1/auth/token/revoke-accessor", body);
            revoked += 1;
        }
    }
    assert!(revoked > 0, "no AppRole token to revoke");
}

#[test]
fn a_headless_agent_with_approle_and_no_keyring_keeps_a_team_connection_fresh_and_hands_out_its_token() {
    let bao = bao_with_auth();
    let op = Provider::oidc(&["--access-ttl", "8"]);
    let writer_token = bao.token(&["latch-sales-writer"]);
    let writer = Latch::new();
    writer.ok_with_stdin(&join_args(&bao, &[]), &format!("{writer_token}\n"));
    add_team_connection(&writer, &op);
    let first = writer.ok(&["token", "CRM"]).trim().to_owned();
    let refreshes = || op.stats()["by_grant"]["refresh_token"].as_u64().unwrap_or(0);
    assert_eq!(refreshes(), 0);

    // The server: no D-Bus session, so no keyring; the secrets in its environment.
    let (role_id, secret_id) = approle(&bao, "ci", "1h");
    let server = Latch::new();
    let no_keyring = |command: &mut Command| {
        command.env_remove("DBUS_SESSION_BUS_ADDRESS");
    };
    let headless = [
        "agent",
        "--headless",
        "--team",
        "sales",
        "--addr",
        &bao.addr,
        "--mount",
        "secret",
        "--path",
        TEAM_PATH,
        "--auth",
        "approle",
        "--role-id",
        &role_id,
    ];
    let personal = [
        "add",
        "--name",
        "Personal",
        "--flow",
        "client_credentials",
        "--client-id",
        "conf-basic",
        "--client-secret-stdin",
        "--client-auth",
        "basic",
        "--token-url",
        &op.url("/token"),
        "--scope",
        "api:read",
    ];
    server.ok_with_stdin(&personal, CLIENT_SECRET);
    server.ok(&["connect", "Personal"]);
    let agent = RunningAgent::start(&server, &headless, |command| {
        no_keyring(command);
        command.env("BAO_SECRET_ID", &secret_id);
    });
    let ask = |agent: &RunningAgent| {
        let mut command = server.command(&["token", "CRM"]);
        no_keyring(&mut command);
        let out = command.env("XDG_RUNTIME_DIR", server.data_dir.path().with_extension("run")).output().unwrap();
        assert!(out.status.success(), "{}\nThe agent said: {}", String::from_utf8_lossy(&out.stderr), agent.said());
        (String::from_utf8(out.stdout).unwrap().trim().to_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (handed, _) = ask(&agent);
    assert_eq!(handed, first, "the agent hands out the team's token");
    // A personal connection made here earlier (with a keyring) has no place in it: said so.
    let mut command = server.command(&["token", "Personal"]);
    no_keyring(&mut command);
    let out = command.env("XDG_RUNTIME_DIR", server.data_dir.path().with_extension("run")).output().unwrap();
    let refused = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && refused.contains("personal connections cannot be kept or used here"), "{refused}");

    // It is due after 4 s: the agent renews it by itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    while refreshes() == 0 {
        assert!(Instant::now() < deadline, "the headless agent did not refresh: {}", agent.said());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (renewed, cli_said) = ask(&agent);
    assert_ne!(renewed, first);
    assert_eq!(writer.ok(&["token", "CRM"]).trim(), renewed, "the new token is the team's");

    // Its OpenBao token revoked under it (it lives in the agent's memory
    // only: found by its accessor): at the next refresh OpenBao answers 403,
    // lookup-self says the token is gone, and the agent logs in again.
    revoke_approle_tokens(&bao);
    let deadline = Instant::now() + Duration::from_secs(30);
    while refreshes() < 2 {
        assert!(Instant::now() < deadline, "no refresh after the revocation: {}", agent.said());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (renewed, _) = ask(&agent);
    assert_eq!(writer.ok(&["token", "CRM"]).trim(), renewed, "stored in the team after logging in again");
    assert!(agent.said().contains("logged in to OpenBao again"), "{}", agent.said());

    let said = agent.said();
    assert!(said.contains("Nothing secret is kept on disk"), "{said}");
    drop(agent);
    // Started again, it signs in again from its environment (its token was only in memory).
    let agent = RunningAgent::start(&server, &headless, |command| {
        no_keyring(command);
        command.env("BAO_SECRET_ID", &secret_id);
    });
    assert_eq!(ask(&agent).0, renewed);
    let said = format!("{said}{}{cli_said}", agent.said());
    drop(agent);

    // Without its secret ID it says what is missing.
    let out = server.command(&headless).env_remove("BAO_SECRET_ID").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("BAO_SECRET_ID"));

    let secrets = [secret_id, writer_token, CLIENT_SECRET.to_owned(), first, renewed];
    for secret in &secrets {
        assert!(!said.contains(secret.as_str()), "a secret in the agent's output: {said}");
    }
    server.assert_no_secret_leaks(&secrets);
    writer.assert_no_secret_leaks(&secrets);
}

#[test]
fn a_headless_agent_signs_in_with_the_ci_jwt_and_says_plainly_when_it_has_expired() {
    let bao = bao_with_auth();
    let dir = tempfile::tempdir().unwrap();
    let key = jwt_auth(&bao, dir.path());
    let jwt_file = dir.path().join("ci.jwt");
    let jwt = signed_jwt(&key, ci_claims(600));
    std::fs::write(&jwt_file, &jwt).unwrap();
    let server = Latch::new();
    let args = [
        "agent",
        "--headless",
        "--team",
        "sales",
        "--addr",
        &bao.addr,
        "--mount",
        "secret",
        "--path",
        TEAM_PATH,
        "--auth",
        "jwt",
        "--role",
        "ci",
        "--jwt-file",
        jwt_file.to_str().unwrap(),
    ];
    let agent = RunningAgent::start(&server, &args, |command| {
        command.env_remove("DBUS_SESSION_BUS_ADDRESS");
    });
    let said = agent.said();
    assert!(said.contains("signed in to team 'sales'"), "{said}");
    drop(agent);

    // The next start has only an expired JWT: it says so and does not start.
    let stale = signed_jwt(&key, ci_claims(-60));
    std::fs::write(&jwt_file, &stale).unwrap();
    let out = server.command(&args).env_remove("DBUS_SESSION_BUS_ADDRESS").output().unwrap();
    let refused = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && refused.contains("did not accept the JWT for the role 'ci'"), "{refused}");
    assert!(refused.contains("the JWT has expired"), "{refused}");
    for secret in [&jwt, &stale] {
        assert!(!said.contains(secret.as_str()) && !refused.contains(secret.as_str()));
    }
    server.assert_no_secret_leaks(&[jwt, stale]);
}
