//! Teams: connections kept in a real OpenBao (`bao server -dev`), used by
//! two or three Latch "machines" (separate data directories; they share the
//! test keyring session) against the real oidc-provider, whose refresh
//! tokens rotate and whose reuse detection revokes a grant when an old one
//! is sent again. The policies are the ones in docs/team/.

use latch_e2e::{repo_root, Bao, Latch, Provider};
use serde_json::Value;

const TEAM_PATH: &str = "teams/sales";
const CLIENT_SECRET: &str = "conf-basic-secret";

fn policy(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(format!("docs/team/{name}.hcl"))).unwrap()
}

/// A dev server with the writer and reader policies from docs/team/ loaded.
fn bao_with_policies() -> Bao {
    let bao = Bao::start();
    bao.policy("latch-sales-writer", &policy("writer"));
    bao.policy("latch-sales-reader", &policy("reader"));
    bao
}

fn join(latch: &Latch, bao: &Bao, token: &str) -> String {
    latch.ok_with_stdin(&["team", "join", "sales", "--addr", &bao.addr, "--mount", "secret", "--path", TEAM_PATH], &format!("{token}\n"))
}

/// Adds "CRM" to the team: a code-flow connection to oidc-provider with a
/// confidential client, then signs in.
fn add_team_connection(latch: &Latch, op: &Provider) {
    let out = latch.ok_with_stdin(
        &[
            "add",
            "--team",
            "sales",
            "--name",
            "CRM",
            "--flow",
            "authorization_code",
            "--client-id",
            "conf-basic",
            "--client-auth",
            "basic",
            "--client-secret-stdin",
            "--scope",
            "openid",
            "--scope",
            "offline_access",
            "--auth-param",
            "prompt=consent",
            "--authorize-url",
            &op.url("/auth"),
            "--token-url",
            &op.url("/token"),
        ],
        &format!("{CLIENT_SECRET}\n"),
    );
    assert!(out.contains("Kept 'CRM' in team 'sales'"), "{out}");
    latch.ok(&["connect", "CRM"]);
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
    assert_eq!(team_doc(&bao, &id, "lease")["holder"], "", "the lease was let go");

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

/// `secs` from now on the wall clock, as RFC 3339 (what a lease's `until` holds).
fn wall_clock_in(secs: i64) -> String {
    let out = std::process::Command::new("date").args(["-u", "-d", &format!("{secs} seconds"), "+%Y-%m-%dT%H:%M:%SZ"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_lease_left_by_a_machine_that_died_runs_out_and_the_next_refresh_takes_it() {
    let bao = bao_with_policies();
    let op = Provider::oidc(&["--access-ttl", "8"]);
    let token = bao.token(&["latch-sales-writer"]);
    let a = Latch::new();
    join(&a, &bao, &token);
    add_team_connection(&a, &op);
    let id = a.show("CRM")["id"].as_str().unwrap().to_owned();
    let first = a.ok(&["token", "CRM"]).trim().to_owned();

    // Another machine took the lease for 30 s and died.
    let lease = serde_json::json!({ "data": { "holder": "dead-machine", "until": wall_clock_in(30) } }).to_string();
    let (status, body) = bao.root("POST", &format!("/v1/secret/data/{TEAM_PATH}/connections/{id}/lease"), &lease);
    assert_eq!(status, 200, "{body}");
    let shown = a.ok(&["team", "status"]);
    assert!(shown.contains("renewing now: dead-machine"), "{shown}");

    // Past its end (a step of the clock, not a wait), the next refresh takes it over.
    a.step_clock(31_000);
    let renewed = a.ok(&["token", "CRM"]).trim().to_owned();
    assert_ne!(renewed, first);
    assert_eq!(refreshes(&op), 1);
    assert_eq!(team_doc(&bao, &id, "lease")["holder"], "", "let go after the refresh");
    assert_eq!(team_doc(&bao, &id, "access")["access_token"], renewed.as_str());

    // The store down: said so, and listing still works from what is here.
    drop(bao);
    let status = a.ok(&["team", "status"]);
    assert!(status.contains("NOT reachable") && status.contains("could not be reached"), "{status}");
    assert!(a.ok(&["list"]).contains("CRM"));
    a.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned(), first, renewed]);
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

    let mut agent = a
        .command(&["agent"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
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
    let _ = agent.kill();
    let _ = agent.wait();
    a.assert_no_secret_leaks(&[token, CLIENT_SECRET.to_owned(), held]);
}
