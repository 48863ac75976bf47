//! Teams: connections kept in a real OpenBao (`bao server -dev`), used by
//! two or three Latch "machines" (separate data directories; they share the
//! test keyring session) against the real oidc-provider, whose refresh
//! tokens rotate and whose reuse detection revokes a grant when an old one
//! is sent again. The policies are the ones in docs/team/.

use latch_e2e::team_setup::{policy, CLIENT_SECRET, TEAM_PATH};
use latch_e2e::{Bao, Latch, Provider};
use serde_json::Value;

/// A dev server with the writer and reader policies from docs/team/ loaded.
fn bao_with_policies() -> Bao {
    let bao = Bao::start();
    bao.policy("latch-sales-writer", &policy("writer"));
    bao.policy("latch-sales-reader", &policy("reader"));
    bao
}

fn join(latch: &Latch, bao: &Bao, token: &str) -> String {
    latch_e2e::team_setup::join(latch, &bao.addr, token)
}

/// Adds "CRM" to the team and signs in.
fn add_team_connection(latch: &Latch, op: &Provider) {
    latch_e2e::team_setup::add_team_connection(latch, op, "CRM");
}

/// A document of the connection in the team store, read with the root token.
fn team_doc(bao: &Bao, id: &str, doc: &str) -> Value {
    let (status, body) = bao.root("GET", &format!("/v1/secret/data/{TEAM_PATH}/connections/{id}/{doc}"), "");
    assert_eq!(status, 200, "{doc}: {body}");
    body["data"]["data"].clone()
}

fn refreshes(op: &Provider) -> u64 {
    op.stats()["by_grant"]["refresh_token"].as_u64().unwrap_or(0)
}

/// `n` concurrent `latch token CRM` on `latch`, started now.
fn token_calls(latch: &Latch, n: usize) -> Vec<std::process::Child> {
    (0..n)
        .map(|_| {
            latch.command(&["token", "CRM"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect()
}

fn outputs(children: Vec<std::process::Child>) -> Vec<String> {
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "latch token failed: {stderr}");
            assert!(!stderr.contains("invalid_grant"), "{stderr}");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect()
}

#[test]
fn two_machines_share_a_team_connection_and_refresh_it_exactly_once() {
    let bao = bao_with_policies();
    // An 8-second token is due after 4 s (the margin is half its lifetime).
    let op = Provider::oidc(&["--access-ttl", "8"]);
    let (token_a, token_b) = (bao.token(&["latch-sales-writer"]), bao.token(&["latch-sales-writer"]));
    let (a, b) = (Latch::new(), Latch::new());

    let joined = join(&a, &bao, &token_a);
    assert!(joined.contains("Joined team 'sales'"), "{joined}");
    add_team_connection(&a, &op);
    let id = a.show("CRM")["id"].as_str().unwrap().to_owned();
    assert!(a.keyring_tokens("CRM").is_none(), "a team connection's tokens are not in the personal keyring");
    let settings = team_doc(&bao, &id, "settings");
    assert_eq!(settings["name"], "CRM");
    assert!(!settings.to_string().contains(CLIENT_SECRET), "the settings document holds no secret: {settings}");
    assert_eq!(team_doc(&bao, &id, "client")["value"], CLIENT_SECRET);
    let first = a.ok(&["token", "CRM"]).trim().to_owned();
    assert_eq!(team_doc(&bao, &id, "access")["access_token"], first.as_str());
    let first_refresh = team_doc(&bao, &id, "refresh")["refresh_token"].as_str().unwrap().to_owned();

    // B joins, sees it and gets the same token without signing in.
    let joined = join(&b, &bao, &token_b);
    assert!(joined.contains("Added team connection 'CRM'"), "{joined}");
    let list = b.ok(&["list"]);
    assert!(
        list.contains("TEAM") && list.lines().any(|l| l.starts_with("CRM") && l.contains("sales") && l.contains("connected")),
        "{list}"
    );
    let listed: Value = serde_json::from_str(&b.ok(&["list", "--json"])).unwrap();
    assert_eq!(listed[0]["team"], "sales");
    assert_eq!(b.ok(&["token", "CRM"]).trim(), first, "B uses the token A got");
    assert_eq!(refreshes(&op), 0);

    // Due on both machines: several callers on each at once, one refresh.
    a.step_clock(4500);
    b.step_clock(4500);
    let mut children = token_calls(&a, 4);
    children.extend(token_calls(&b, 4));
    let tokens = outputs(children);
    assert_eq!(refreshes(&op), 1, "one refresh for eight callers on two machines");
    assert!(tokens.iter().all(|t| t == &tokens[0]), "every caller got the same new token: {tokens:?}");
    assert_ne!(tokens[0], first);
    assert_eq!(a.show("CRM")["status"], "connected");
    assert_eq!(b.show("CRM")["status"], "connected");
    let second_refresh = team_doc(&bao, &id, "refresh")["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh, "the rotated refresh token is in the team store");
    assert!(team_doc(&bao, &id, "refresh")["holder"].as_str().is_none_or(str::is_empty), "the claim was let go");

    // Status names the team, its reachability and the last refresh.
    let status = b.ok(&["team", "status"]);
    assert!(status.contains("Team 'sales'") && status.contains("reachable") && status.contains("CRM  connected"), "{status}");

    // An edit is the team's: the other machine's next sync takes it.
    a.ok(&["edit", "CRM", "--name", "Sales CRM"]);
    assert_eq!(team_doc(&bao, &id, "settings")["name"], "Sales CRM");
    let synced = b.ok(&["team", "sync"]);
    assert!(synced.contains("Updated team connection 'Sales CRM'"), "{synced}");
    assert_eq!(b.show("Sales CRM")["id"], id.as_str());

    // Leaving removes the mirrored rows, not the team's connection.
    let left = b.ok(&["team", "leave", "sales"]);
    assert!(left.contains("1 connection(s) removed"), "{left}");
    assert_eq!(b.ok(&["list", "--json"]).trim(), "[]");
    assert_eq!(team_doc(&bao, &id, "settings")["name"], "Sales CRM", "still in the team");

    // Removing it (a writer) removes it from the team.
    a.ok(&["remove", "Sales CRM"]);
    let (status, _) = bao.root("LIST", &format!("/v1/secret/metadata/{TEAM_PATH}/connections"), "");
    assert_eq!(status, 404, "no connection is left in the team");

    let secrets = [token_a, token_b, CLIENT_SECRET.to_owned(), first, tokens[0].clone(), first_refresh, second_refresh];
    a.assert_no_secret_leaks(&secrets);
    b.assert_no_secret_leaks(&secrets);
}

#[test]
fn a_reader_uses_the_writers_tokens_sees_no_secret_and_may_not_renew() {
    let bao = bao_with_policies();
    let op = Provider::oidc(&["--access-ttl", "8"]);
    let (writer_token, reader_token) = (bao.token(&["latch-sales-writer"]), bao.token(&["latch-sales-reader"]));
    let (writer, reader) = (Latch::new(), Latch::new());
    join(&writer, &bao, &writer_token);
    add_team_connection(&writer, &op);
    let id = writer.show("CRM")["id"].as_str().unwrap().to_owned();
    let first = writer.ok(&["token", "CRM"]).trim().to_owned();

    let joined = join(&reader, &bao, &reader_token);
    assert!(joined.contains("Added team connection 'CRM'"), "{joined}");
    assert_eq!(reader.ok(&["token", "CRM"]).trim(), first, "a reader gets the access token");
    let refresh_token = team_doc(&bao, &id, "refresh")["refresh_token"].as_str().unwrap().to_owned();
    let shown = reader.ok(&["show", "CRM", "--json"]);
    for secret in [CLIENT_SECRET, refresh_token.as_str(), first.as_str(), reader_token.as_str()] {
        assert!(!shown.contains(secret), "show --json holds a secret: {shown}");
    }

    // Renewing is a writer's job: said plainly, and nothing reaches the provider.
    let refused = reader.fails(&["refresh", "CRM"], 1);
    assert!(refused.contains("may not renew 'CRM'") && refused.contains("denied"), "{refused}");
    assert!(!refused.contains(&reader_token));
    assert_eq!(refreshes(&op), 0);
    // While its token is due but valid, the reader keeps using it.
    reader.step_clock(4500);
    assert_eq!(reader.ok(&["token", "CRM"]).trim(), first);

    // The writer renews; the reader picks the new token up without a refresh of its own.
    writer.step_clock(4500);
    let renewed = writer.ok(&["token", "CRM"]).trim().to_owned();
    assert_ne!(renewed, first);
    assert_eq!(reader.ok(&["token", "CRM"]).trim(), renewed);
    assert_eq!(refreshes(&op), 1);

    reader.ok(&["team", "leave", "sales"]);
    assert_eq!(reader.ok(&["list", "--json"]).trim(), "[]");
    let secrets = [writer_token, reader_token, CLIENT_SECRET.to_owned(), refresh_token, first, renewed];
    reader.assert_no_secret_leaks(&secrets);
    writer.assert_no_secret_leaks(&secrets);
}

#[test]
fn joining_with_a_wrong_token_or_address_says_why_and_keeps_nothing() {
    let bao = Bao::start();
    let latch = Latch::new();
    let out =
        latch.run_with_stdin(&["team", "join", "sales", "--addr", &bao.addr, "--mount", "secret", "--path", TEAM_PATH], "not-a-token\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused your OpenBao token") || stderr.contains("denied"), "{stderr}");
    assert!(!stderr.contains("not-a-token"));
    let out = latch
        .run_with_stdin(&["team", "join", "sales", "--addr", "http://127.0.0.1:9", "--mount", "secret", "--path", TEAM_PATH], "root\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("could not be reached"), "{stderr}");
    assert!(latch.ok(&["team", "status"]).contains("joined no team"));
}

/// `secs` from now on the wall clock, as RFC 3339 (what a claim's `until` holds).
fn wall_clock_in(secs: i64) -> String {
    let out = std::process::Command::new("date").args(["-u", "-d", &format!("{secs} seconds"), "+%Y-%m-%dT%H:%M:%SZ"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A store, a provider started with `op_args`, and two writers: `a` added
/// "CRM" to the team and signed in, `b` joined after.
struct Team {
    bao: Bao,
    op: Provider,
    token: String,
    a: Latch,
    b: Latch,
}

fn two_writers(op_args: &[&str]) -> Team {
    let bao = bao_with_policies();
    let op = Provider::oidc(op_args);
    let token = bao.token(&["latch-sales-writer"]);
    let (a, b) = (Latch::new(), Latch::new());
    join(&a, &bao, &token);
    add_team_connection(&a, &op);
    join(&b, &bao, &token);
    Team { bao, op, token, a, b }
}

/// Stderr of a `latch` call that must fail.
fn refused(latch: &Latch, args: &[&str]) -> String {
    let output = latch.run(args);
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "latch {} should have failed; it printed {}", args.join(" "), String::from_utf8_lossy(&output.stdout));
    said
}

#[test]
fn a_renewal_left_half_done_asks_for_a_sign_in_once_and_never_sends_that_refresh_token_again() {
    let Team { bao, op, token, a, b } = two_writers(&["--access-ttl", "8"]);
    let id = a.show("CRM")["id"].as_str().unwrap().to_owned();
    let first = a.ok(&["token", "CRM"]).trim().to_owned();
    let spent_maybe = team_doc(&bao, &id, "refresh")["refresh_token"].as_str().unwrap().to_owned();

    // Another machine claimed the renewal for 30 s and stopped.
    let mut claimed = team_doc(&bao, &id, "refresh");
    claimed["holder"] = "dead-machine:4242:01JTEST".into();
    claimed["until"] = wall_clock_in(30).into();
    let (status, body) = bao.root(
        "POST",
        &format!("/v1/secret/data/{TEAM_PATH}/connections/{id}/refresh"),
        &serde_json::json!({ "data": claimed }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let shown = a.ok(&["team", "status"]);
    assert!(shown.contains("renewing now: dead-machine:4242"), "{shown}");

    // Past the claim's end (a step of the clock, not a wait): it may have
    // spent the refresh token, so it is not sent again; a sign-in is asked.
    a.step_clock(31_000);
    b.step_clock(31_000);
    let said = refused(&a, &["token", "CRM"]);
    assert!(said.contains("needs you to sign in again") && said.contains("stopped while it was renewing"), "{said}");
    assert_eq!(refreshes(&op), 0, "the refresh token was never sent");
    let given_up = team_doc(&bao, &id, "refresh");
    assert!(given_up.get("refresh_token").is_none_or(Value::is_null), "{given_up}");
    assert_eq!(a.show("CRM")["status"], "needs_reauth");
    // The other member learns it from the store, without trying the token.
    let said = refused(&b, &["token", "CRM"]);
    assert!(said.contains("needs you to sign in again"), "{said}");
    assert_eq!(refreshes(&op), 0);
    assert_eq!(op.stats()["invalid_grants"], 0);

    // The member who connected it signs in again; the other one just uses it.
    a.ok(&["connect", "CRM"]);
    let again = a.ok(&["token", "CRM"]).trim().to_owned();
    assert_eq!(b.ok(&["token", "CRM"]).trim(), again);
    assert_eq!(b.show("CRM")["status"], "connected");
    assert_eq!(op.stats()["invalid_grants"], 0);
    a.assert_no_secret_leaks(&[token.clone(), CLIENT_SECRET.to_owned(), first.clone(), spent_maybe.clone()]);
    b.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned(), first, spent_maybe]);
}

#[test]
fn killing_the_machine_that_renews_after_the_provider_answered_never_sends_that_refresh_token_twice() {
    let Team { bao: _bao, op, token, a, b } = two_writers(&["--access-ttl", "8"]);
    let first = a.ok(&["token", "CRM"]).trim().to_owned();

    // The provider holds its answers: the renewal is made there (the old
    // refresh token rotated out) but `a` is killed before it hears of it.
    let (status, _) = latch_e2e::http("POST", &op.url("/__test/hold-token-responses?ms=20000"), &[], "");
    assert_eq!(status, 204);
    a.step_clock(5_000);
    let mut renewing = a.command(&["token", "CRM"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while refreshes(&op) == 0 {
        assert!(std::time::Instant::now() < deadline, "the renewal never reached the provider");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // kill -9: nothing of Latch's runs after this.
    renewing.kill().unwrap();
    renewing.wait().unwrap();
    let (status, _) = latch_e2e::http("POST", &op.url("/__test/hold-token-responses?ms=0"), &[], "");
    assert_eq!(status, 204);

    // Once the claim runs out, the other machine does not send the spent token.
    b.step_clock(5_000 + 41_000);
    let said = refused(&b, &["token", "CRM"]);
    assert!(said.contains("needs you to sign in again"), "{said}");
    a.step_clock(5_000 + 41_000);
    let said = refused(&a, &["token", "CRM"]);
    assert!(said.contains("needs you to sign in again"), "{said}");
    let stats = op.stats();
    assert_eq!(stats["by_grant"]["refresh_token"], 1, "one refresh, never two with one token: {stats}");
    assert_eq!(stats["invalid_grants"], 0, "{stats}");
    assert_eq!(stats["grants_revoked"], 0, "reuse detection never fired: {stats}");

    // Signed in again by its member, it renews as before.
    a.ok(&["connect", "CRM"]);
    assert_ne!(b.ok(&["token", "CRM"]).trim(), first);
    a.assert_no_secret_leaks(&[token.clone(), CLIENT_SECRET.to_owned(), first.clone()]);
    b.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned(), first]);
}

#[test]
fn a_due_refresh_costs_four_calls_to_the_team_store_a_valid_token_one_and_another_member_takes_the_new_one_in_one() {
    let (bao, log) = Bao::start_audited();
    bao.policy("latch-sales-writer", &policy("writer"));
    let op = Provider::oidc(&["--access-ttl", "8"]);
    let token = bao.token(&["latch-sales-writer"]);
    let (a, b) = (Latch::new(), Latch::new());
    join(&a, &bao, &token);
    add_team_connection(&a, &op);
    a.ok(&["team", "sync", "sales"]);
    // Another process's sync reads the index alone: the full listing is
    // at most every ten minutes for the whole data directory.
    let before = log.kv_paths().len();
    a.ok(&["team", "sync", "sales"]);
    assert_eq!(log.kv_paths()[before..], [format!("read secret/data/{TEAM_PATH}/index")]);
    join(&b, &bao, &token);
    b.ok(&["team", "sync", "sales"]);

    // Not due: the access document alone.
    let before = log.kv_paths().len();
    a.ok(&["token", "CRM"]);
    assert_eq!(log.kv_paths()[before..], [format!("read {}", doc_path(&a, "access"))]);

    // Due (past half its 8 s lifetime, before the minute that brings a
    // sync): read and claim the refresh document, write it and the access
    // document. A process that has not read the confidential client's
    // secret yet reads it once (the app and the agent hold it from their sync).
    a.step_clock(5_000);
    let before = log.kv_paths().len();
    let renewed = a.ok(&["token", "CRM"]).trim().to_owned();
    let calls = log.kv_paths()[before..].to_vec();
    assert_eq!(refreshes(&op), 1);
    let (client, renewal): (Vec<_>, Vec<_>) = calls.iter().partition(|call| call.ends_with("/client"));
    assert!(renewal.len() <= 4, "{} calls to the store for one refresh: {calls:#?}", renewal.len());
    assert!(client.len() <= 1, "{calls:#?}");
    // The next one is served as stored, by the same one call.
    let before = log.kv_paths().len();
    assert_eq!(a.ok(&["token", "CRM"]).trim(), renewed);
    assert_eq!(log.kv_paths().len() - before, 1);

    // The other member's copy is due too: the refresh document it reads
    // to renew carries the access document written with the new refresh
    // token, so it takes a's tokens in that one read.
    b.step_clock(5_000);
    let before = log.kv_paths().len();
    assert_eq!(b.ok(&["token", "CRM"]).trim(), renewed);
    assert_eq!(log.kv_paths()[before..], [format!("read {}", doc_path(&b, "refresh"))]);
    assert_eq!(refreshes(&op), 1, "b did not renew again");
    // And serves it from then on with the usual one read.
    let before = log.kv_paths().len();
    assert_eq!(b.ok(&["token", "CRM"]).trim(), renewed);
    assert_eq!(log.kv_paths()[before..], [format!("read {}", doc_path(&b, "access"))]);
    let secrets = [token, CLIENT_SECRET.to_owned(), renewed];
    a.assert_no_secret_leaks(&secrets);
    b.assert_no_secret_leaks(&secrets);
}

/// `read`/`update` paths in the audit log are these, for connection CRM.
fn doc_path(latch: &Latch, doc: &str) -> String {
    format!("secret/data/{TEAM_PATH}/connections/{}/{doc}", latch.show("CRM")["id"].as_str().unwrap())
}

#[test]
fn two_members_editing_one_team_connection_never_overwrite_each_other() {
    let Team { bao: _bao, op: _op, token, a, b } = two_writers(&[]);
    let scopes = |latch: &Latch| latch.show("CRM")["scopes"].to_string();

    a.ok(&["edit", "CRM", "--scope", "openid", "--scope", "email"]);
    // b last fetched the settings before a's edit: its edit is refused, a's is kept and shown.
    let said = refused(&b, &["edit", "CRM", "--scope", "openid", "--scope", "phone"]);
    assert!(said.contains("Another team member changed 'CRM'") && said.contains("make your change again"), "{said}");
    assert!(scopes(&b).contains("email") && !scopes(&b).contains("phone"), "{}", scopes(&b));
    // Made again on top of theirs, it goes through, and a sees it.
    b.ok(&["edit", "CRM", "--scope", "openid", "--scope", "email", "--scope", "phone"]);
    a.ok(&["team", "sync", "sales"]);
    assert!(scopes(&a).contains("phone") && scopes(&a).contains("email"), "{}", scopes(&a));
    // Disconnected by one member: the other is told it needs a sign-in, due or not.
    b.ok(&["token", "CRM"]);
    a.ok(&["disconnect", "CRM"]);
    let said = refused(&b, &["token", "CRM"]);
    assert!(said.contains("not connected"), "{said}");
    a.assert_no_secret_leaks(&[token.clone(), CLIENT_SECRET.to_owned()]);
    b.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned()]);
}

#[test]
fn an_oauth1_team_connection_connected_by_one_member_signs_requests_for_another() {
    const CONSUMER_SECRET: &str = "hmac-secret-5d2c81";
    let bao = bao_with_policies();
    let server = Provider::oauth1();
    let token = bao.token(&["latch-sales-writer"]);
    let (a, b) = (Latch::new(), Latch::new());
    join(&a, &bao, &token);
    let urls = ["/oauth/request_token", "/oauth/authorize", "/oauth/access_token"].map(|path| server.url(path));
    let out = a.ok_with_stdin(
        &[
            "add", "--team", "sales", "--kind", "oauth1", "--name", "Tweets", "--consumer-key", "hmac-client", "--signature-method",
            "hmac-sha1", "--request-token-url", &urls[0], "--authorize-url", &urls[1], "--access-token-url", &urls[2],
            "--consumer-secret-stdin",
        ],
        &format!("{CONSUMER_SECRET}\n"),
    );
    assert!(out.contains("Kept 'Tweets' in team 'sales'"), "{out}");
    a.ok(&["connect", "Tweets", "--timeout", "20"]);
    join(&b, &bao, &token);
    let me: Value = serde_json::from_str(&b.ok(&["request", "Tweets", &server.url("/api/me")])).unwrap();
    assert_eq!(me["screen_name"], "ann", "{me}");
    let pair: Value = serde_json::from_str(&a.ok(&["token", "Tweets"])).unwrap();
    let secrets = [token, CONSUMER_SECRET.to_owned(), pair["oauth_token_secret"].as_str().unwrap().to_owned()];
    a.assert_no_secret_leaks(&secrets);
    b.assert_no_secret_leaks(&secrets);
}

#[test]
fn with_the_store_down_a_team_status_says_so_and_the_list_still_works() {
    let bao = bao_with_policies();
    let op = Provider::oidc(&[]);
    let token = bao.token(&["latch-sales-writer"]);
    let a = Latch::new();
    join(&a, &bao, &token);
    add_team_connection(&a, &op);
    drop(bao);
    let status = a.ok(&["team", "status"]);
    assert!(status.contains("NOT reachable") && status.contains("could not be reached"), "{status}");
    assert!(a.ok(&["list"]).contains("CRM"));
    a.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned()]);
}

/// `latch token CRM` until `done` says yes about its output, or `secs` pass.
fn token_until(latch: &Latch, secs: u64, done: impl Fn(&std::process::Output) -> bool) -> std::process::Output {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let output = latch.run(&["token", "CRM"]);
        if done(&output) || std::time::Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn a_store_outage_of_a_minute_serves_the_valid_token_says_so_and_recovers_by_itself() {
    let bao = bao_with_policies();
    let gate = latch_e2e::Gate::new(bao.addr.trim_start_matches("http://"));
    // 30-second tokens: due after 15 s, gone after 30 s, well inside the outage.
    let op = Provider::oidc(&["--access-ttl", "30"]);
    let token = bao.token(&["latch-sales-writer"]);
    let a = Latch::new();
    let runtime = a.data_dir.path().with_extension("run");
    std::fs::create_dir_all(&runtime).unwrap();
    a.set_env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
    a.ok_with_stdin(&["team", "join", "sales", "--addr", &gate.addr, "--mount", "secret", "--path", TEAM_PATH], &format!("{token}\n"));
    add_team_connection(&a, &op);
    let connected = std::time::Instant::now();
    // The agent answers `latch token` and runs the refresher, as on a desktop.
    // Killed with its process group when the test ends, a failed one too.
    let agent = latch_e2e::window::Processes::spawn(a.command(&["agent"]), &a);
    let socket = runtime.join("latch/agent.sock");
    while !socket.exists() {
        assert!(connected.elapsed().as_secs() < 20, "the agent did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let held = a.ok(&["token", "CRM"]).trim().to_owned();

    let outage: u64 = std::env::var("LATCH_OUTAGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    gate.shut();
    let shut_at = std::time::Instant::now();
    assert_eq!(a.ok(&["token", "CRM"]).trim(), held, "a valid token is served with the store down");
    let status = a.ok(&["team", "status"]);
    assert!(status.contains("NOT reachable"), "{status}");
    // Past the time it was due (the refresher tried and could not): still served while valid.
    while connected.elapsed().as_secs() < 17 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(a.ok(&["token", "CRM"]).trim(), held);
    // Expired with the store still down: said plainly, nothing hangs.
    while connected.elapsed().as_secs() < 32 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    if shut_at.elapsed().as_secs() < outage {
        let expired = a.run(&["token", "CRM"]);
        let said = String::from_utf8_lossy(&expired.stderr).into_owned();
        assert!(!expired.status.success(), "an expired token is not handed out");
        assert!(said.contains("could not be reached") || said.contains("not ready"), "{said}");
    }
    while shut_at.elapsed().as_secs() < outage {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    gate.open();

    // The refresher tries again by itself: a new token, with nothing done by the user.
    let renewed = token_until(&a, 120, |output| {
        output.status.success() && String::from_utf8_lossy(&output.stdout).trim() != held
    });
    let fresh = String::from_utf8_lossy(&renewed.stdout).trim().to_owned();
    assert!(renewed.status.success() && fresh != held, "no recovery: {}", String::from_utf8_lossy(&renewed.stderr));
    assert!(a.ok(&["team", "status"]).contains("reachable"));
    let stats = op.stats();
    assert_eq!(stats["by_grant"]["refresh_token"], 1, "{stats}");
    assert_eq!(stats["invalid_grants"], 0, "{stats}");
    drop(agent);
    a.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned(), held, fresh]);
}

#[test]
fn with_the_team_store_down_the_agent_keeps_handing_out_the_valid_token_it_holds() {
    let bao = bao_with_policies();
    let op = Provider::oidc(&[]);
    let token = bao.token(&["latch-sales-writer"]);
    let a = Latch::new();
    let runtime = a.data_dir.path().with_extension("run");
    std::fs::create_dir_all(&runtime).unwrap();
    a.set_env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
    join(&a, &bao, &token);
    add_team_connection(&a, &op);
    let held = a.ok(&["token", "CRM"]).trim().to_owned();

    // Killed with its process group when the test ends, a failed one too.
    let agent = latch_e2e::window::Processes::spawn(a.command(&["agent"]), &a);
    let socket = runtime.join("latch/agent.sock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !socket.exists() {
        assert!(std::time::Instant::now() < deadline, "the agent did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(a.ok(&["token", "CRM"]).trim(), held, "the agent holds the team's token");

    // OpenBao stops: the token is still valid, so the agent still hands it out.
    drop(bao);
    assert_eq!(a.ok(&["token", "CRM"]).trim(), held);
    assert_eq!(a.ok(&["token", "CRM"]).trim(), held);
    // Without the agent, the token would have to come from the store: said plainly.
    a.set_env("LATCH_NO_AGENT", "1");
    let output = a.run(&["token", "CRM"]);
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "no store, no agent: no token");
    assert!(said.contains("could not be reached"), "{said}");
    a.set_env("LATCH_NO_AGENT", "");
    drop(agent);
    a.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned(), held]);
}
