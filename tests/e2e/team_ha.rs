//! Teams on an OpenBao HA cluster: three real `bao server` processes with
//! integrated Raft storage on loopback (tests/e2e/harness.rs,
//! `Bao::raft_cluster`), two Latch "machines" against the real
//! oidc-provider (rotating refresh tokens, reuse detection on). The active
//! node is killed (SIGKILL) while refreshes are due.
//!
//! Each machine talks to a standby, which forwards writes to the active
//! node. OpenBao 2.x standbys also answer reads themselves unless the
//! server sets `disable_standby_reads = true` (the harness does): such
//! reads may lag the leader's last write, and the one-writer-per-refresh
//! protocol needs to read what the last holder wrote. While no node is
//! active, writes are refused (HTTP 307 to the dead leader's address) and
//! Latch says the team store is not ready. A machine joined with one
//! address needs that node to survive (or a load balancer over all nodes);
//! machine C is joined with every node's address, the leader's first, and
//! moves on to the next when the leader dies.

use std::process::{Child, Stdio};

use latch_e2e::team_setup::{add_team_connection, is_active, join, policy, RefreshCounts, CLIENT_SECRET};
use latch_e2e::{Bao, Latch, Provider};

const CONNECTIONS: [&str; 3] = ["CRM", "Billing", "Support"];
/// Tokens live 60 s and are due 30 s before they expire: one step of the
/// machines' clocks by 30.5 s makes every token due.
const ACCESS_TTL: &str = "60";
const STEP_MS: i64 = 30_500;

/// What one `latch token NAME` said: the token, or the error it printed.
struct Call {
    name: &'static str,
    result: Result<String, String>,
}

/// Steps both machines' clocks (every token is now due) and starts two
/// `latch token` per connection on each machine at once; their answers.
fn due_round(machines: &[&Latch]) -> Vec<Call> {
    for latch in machines {
        latch.step_clock(STEP_MS);
    }
    let mut children: Vec<(&'static str, Child)> = Vec::new();
    for name in CONNECTIONS {
        for latch in machines {
            for _ in 0..2 {
                let child = latch.command(&["token", name]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
                children.push((name, child));
            }
        }
    }
    children
        .into_iter()
        .map(|(name, child)| {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(!stderr.contains("invalid_grant"), "{name}: {stderr}");
            let result = if out.status.success() { Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned()) } else { Err(stderr) };
            Call { name, result }
        })
        .collect()
}

/// Every call got a token, all callers of one connection the same one,
/// and the provider takes it; the tokens by connection.
fn all_served(op: &Provider, calls: &[Call], when: &str) -> Vec<String> {
    CONNECTIONS
        .iter()
        .map(|name| {
            let tokens: Vec<&String> = calls
                .iter()
                .filter(|c| c.name == *name)
                .map(|c| c.result.as_ref().unwrap_or_else(|err| panic!("{when}: latch token {name} failed: {err}")))
                .collect();
            assert!(
                tokens.iter().all(|t| t == &tokens[0]),
                "{when}: one token for every caller of {name}: {tokens:?}; refreshes per connection: {:?}",
                RefreshCounts::of(op).by_grant
            );
            assert!(is_active(op, tokens[0]), "{when}: the provider takes {name}'s token");
            tokens[0].clone()
        })
        .collect()
}

#[test]
fn refreshes_continue_after_the_raft_leader_is_killed_and_nothing_is_lost() {
    let mut cluster = Bao::raft_cluster(3);
    cluster.policy("latch-sales-writer", &policy("writer"));
    let leader = cluster.leader();
    let standbys: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let op = Provider::oidc(&["--access-ttl", ACCESS_TTL]);
    let (token_a, token_b) = (cluster.token(&["latch-sales-writer"]), cluster.token(&["latch-sales-writer"]));
    let token_c = cluster.token(&["latch-sales-writer"]);
    let (a, b, c) = (Latch::new(), Latch::new(), Latch::new());

    // A and B each through one standby: both survive the leader.
    join(&a, &cluster.nodes[standbys[0]].addr, &token_a);
    for name in CONNECTIONS {
        add_team_connection(&a, &op, name);
    }
    let joined = join(&b, &cluster.nodes[standbys[1]].addr, &token_b);
    assert!(joined.contains("Added team connection 'CRM'"), "{joined}");
    // C through every node, the leader first.
    let every_node = [leader, standbys[0], standbys[1]].map(|i| cluster.nodes[i].addr.clone()).join(",");
    let joined = join(&c, &every_node, &token_c);
    assert!(joined.contains("Added team connection 'CRM'"), "{joined}");
    assert_eq!(RefreshCounts::of(&op).total(), 0);

    let first: Vec<String> = CONNECTIONS.iter().map(|name| a.ok(&["token", name]).trim().to_owned()).collect();

    // All due on both machines: one refresh per connection.
    let mut handed_out = all_served(&op, &due_round(&[&a, &b, &c]), "before the leader died");
    assert!(handed_out.iter().all(|t| !first.contains(t)), "every due token was renewed");
    let counts = RefreshCounts::of(&op);
    assert_eq!(counts.by_grant, vec![1; CONNECTIONS.len()], "one refresh per due token");

    // The active node dies; the tokens fall due while the others elect a new one.
    cluster.kill(leader);
    let during = due_round(&[&a, &b, &c]);
    for call in &during {
        match &call.result {
            // The valid token it holds, or a new one: either way one the provider takes.
            Ok(token) => {
                assert!(is_active(&op, token), "during the election {} got a token the provider refuses", call.name);
                handed_out.push(token.clone());
            }
            // Writes have nowhere to go until a new leader is elected: said, and nothing sent twice.
            Err(said) => assert!(said.contains("team store"), "during the election latch token {} failed with: {said}", call.name),
        }
    }
    let new_leader = cluster.leader();
    assert!(standbys.contains(&new_leader), "a survivor leads");
    let during_election = RefreshCounts::of(&op).total() - counts.total();
    assert!(during_election <= CONNECTIONS.len() as u64, "at most one refresh per due token during the election");

    // After the election: every call gets a valid token, each due token is
    // refreshed once, in two more rounds.
    for round in ["after the election", "a round later"] {
        let before = RefreshCounts::of(&op).total();
        handed_out.extend(all_served(&op, &due_round(&[&a, &b, &c]), round));
        assert_eq!(RefreshCounts::of(&op).total() - before, CONNECTIONS.len() as u64, "{round}: one refresh per due token");
    }
    let counts = RefreshCounts::of(&op);
    assert_eq!((counts.invalid_grants, counts.grants_revoked), (0, 0), "no refresh token was sent twice");
    assert_eq!(counts.by_grant.len(), CONNECTIONS.len());
    for name in CONNECTIONS {
        assert_eq!(a.show(name)["status"], "connected", "{name} still needs no sign-in");
        assert_eq!(b.show(name)["status"], "connected");
        assert_eq!(c.show(name)["status"], "connected", "C went on through another node");
    }

    let mut secrets = vec![token_a, token_b, token_c, CLIENT_SECRET.to_owned(), cluster.root_token().to_owned()];
    secrets.extend(first);
    secrets.extend(handed_out);
    a.assert_no_secret_leaks(&secrets);
    b.assert_no_secret_leaks(&secrets);
    c.assert_no_secret_leaks(&secrets);
}
