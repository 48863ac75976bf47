//! A team under steady use: three Latch "machines" (separate data
//! directories, HOMEs and processes; one real OpenBao, `bao server -dev`)
//! share 50 team connections to the real oidc-provider, whose 20-second
//! access tokens are due 10 s before they expire and whose refresh tokens
//! rotate with reuse detection on. For LATCH_SOAK_SECS (180 by default)
//! each machine calls `latch token` on a random connection every 100 ms.
//! Every call gets a token the provider takes, no refresh token is ever
//! sent twice (the provider would answer invalid_grant and revoke the
//! grant), and no connection is refreshed more often than its tokens fall
//! due.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use latch_e2e::team_setup::{add_team_connection, is_active, join, policy, RefreshCounts, CLIENT_SECRET};
use latch_e2e::{Bao, Latch, Provider};

const CONNECTIONS: usize = 50;
const MACHINES: usize = 3;
/// Seconds an access token lives; Latch renews it 10 s before it expires
/// (half its lifetime: src/refresh_policy.rs), so at most one refresh per
/// connection every 10 s is due.
const ACCESS_TTL_SECS: u64 = 20;
const DUE_EVERY_SECS: u64 = ACCESS_TTL_SECS / 2;
const CALL_EVERY: Duration = Duration::from_millis(100);
/// Every how many calls a machine asks the provider whether the token it got is active.
const CHECK_EVERY: usize = 10;

fn soak_duration() -> Duration {
    let secs = std::env::var("LATCH_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(180);
    Duration::from_secs(secs)
}

fn name(i: usize) -> String {
    format!("Conn {i:02}")
}

/// A small xorshift generator: which connection to call next.
struct Picks(u64);

impl Picks {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

/// What one machine saw: the calls it made, those that failed (with what
/// they said), the tokens it got per connection, the ones checked at the provider.
#[derive(Default)]
struct Seen {
    calls: usize,
    failures: Vec<String>,
    tokens: HashMap<usize, HashSet<String>>,
    checked: usize,
    refused_by_provider: Vec<String>,
}

/// `latch token` on random connections every 100 ms until `until`.
fn use_tokens(latch: &Latch, op: &Provider, seed: u64, until: Instant, everywhere: &Mutex<HashMap<String, Instant>>) -> Seen {
    let mut picks = Picks(seed);
    let mut seen = Seen::default();
    let mut next = Instant::now();
    while Instant::now() < until {
        let i = picks.next(CONNECTIONS);
        let called = Instant::now();
        let out = latch.command(&["token", &name(i)]).stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
        let took = called.elapsed();
        seen.calls += 1;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || token.is_empty() || stderr.contains("invalid_grant") {
            seen.failures.push(format!("{}: exit {:?}: {}", name(i), out.status.code(), stderr.trim()));
        } else {
            let first_seen = *everywhere.lock().unwrap().entry(token.clone()).or_insert(called);
            if seen.calls % CHECK_EVERY == 0 {
                seen.checked += 1;
                if !is_active(op, &token) {
                    seen.refused_by_provider.push(format!("{} (the call took {took:.1?}; a machine first got it {:.1?} before): {}", name(i), called - first_seen, stderr.trim()));
                }
            }
            seen.tokens.entry(i).or_default().insert(token);
        }
        // The pace of the workload (a call every 100 ms), not a wait for a condition.
        next += CALL_EVERY;
        if let Some(rest) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(rest);
        } else {
            next = Instant::now();
        }
    }
    seen
}

#[test]
fn three_machines_use_fifty_team_connections_and_each_due_token_is_refreshed_once() {
    let bao = Bao::start();
    bao.policy("latch-sales-writer", &policy("writer"));
    let op = Provider::oidc(&["--access-ttl", &ACCESS_TTL_SECS.to_string()]);
    let homes: Vec<tempfile::TempDir> = (0..MACHINES).map(|_| tempfile::tempdir().unwrap()).collect();
    let machines: Vec<Latch> = homes
        .iter()
        .map(|home| {
            let latch = Latch::new();
            latch.set_env("HOME", home.path().to_str().unwrap());
            // Warnings only: the soak makes thousands of calls on two cores.
            latch.set_env("LATCH_LOG", "warn");
            latch
        })
        .collect();
    let bao_tokens: Vec<String> = machines.iter().map(|_| bao.token(&["latch-sales-writer"])).collect();

    // The first machine adds and signs in to the 50, four at a time.
    let started = Instant::now();
    join(&machines[0], &bao.addr, &bao_tokens[0]);
    std::thread::scope(|s| {
        for lane in 0..4 {
            let (first, op) = (&machines[0], &op);
            s.spawn(move || {
                for i in (lane..CONNECTIONS).step_by(4) {
                    add_team_connection(first, op, &name(i));
                }
            });
        }
    });
    for (latch, token) in machines.iter().zip(&bao_tokens).skip(1) {
        let joined = join(latch, &bao.addr, token);
        assert!(joined.contains(&name(CONNECTIONS - 1)), "{joined}");
    }
    eprintln!("set up {CONNECTIONS} team connections on {MACHINES} machines in {:.0?}", started.elapsed());

    let soak = soak_duration();
    let begun = Instant::now();
    let until = begun + soak;
    let everywhere = Mutex::new(HashMap::new());
    let seen: Vec<Seen> = std::thread::scope(|s| {
        let runs: Vec<_> = machines
            .iter()
            .enumerate()
            .map(|(m, latch)| {
                let (op, everywhere) = (&op, &everywhere);
                s.spawn(move || use_tokens(latch, op, 0x9E37_79B9_7F4A_7C15 ^ (m as u64 + 1) * 7919, until, everywhere))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let elapsed = begun.elapsed();

    let calls: usize = seen.iter().map(|s| s.calls).sum();
    let checked: usize = seen.iter().map(|s| s.checked).sum();
    let counts = RefreshCounts::of(&op);
    eprintln!(
        "{calls} calls in {elapsed:.0?} on {MACHINES} machines ({:.1}/s), {checked} checked at the provider, {} refreshes (at most {} per connection, at least {} ms apart), {} invalid_grant, {} grants revoked",
        calls as f64 / elapsed.as_secs_f64(),
        counts.total(),
        counts.by_grant.iter().max().unwrap_or(&0),
        counts.shortest_gap_ms.iter().min().unwrap_or(&0),
        counts.invalid_grants,
        counts.grants_revoked
    );
    let failures: Vec<&String> = seen.iter().flat_map(|s| &s.failures).collect();
    assert!(failures.is_empty(), "{} of {calls} calls failed, first: {:?}", failures.len(), &failures[..failures.len().min(5)]);
    let refused: Vec<&String> = seen.iter().flat_map(|s| &s.refused_by_provider).collect();
    assert!(refused.is_empty(), "the provider does not take tokens Latch handed out for {refused:?}");
    assert_eq!((counts.invalid_grants, counts.grants_revoked), (0, 0), "a refresh token was sent twice");
    // A token is due 10 s after it is issued, so each connection's tokens
    // fell due at most once per 10 s of the run (and once more at its start).
    let most = elapsed.as_secs() / DUE_EVERY_SECS + 1;
    assert!(counts.by_grant.len() <= CONNECTIONS, "one grant per connection: {}", counts.by_grant.len());
    for (grant, &n) in counts.by_grant.iter().enumerate() {
        assert!(n <= most, "grant {grant} was refreshed {n} times in {elapsed:?}: more than its tokens fell due ({most})");
    }
    // A token renewed is not due again for 10 s: two refreshes of one
    // grant closer than that renewed a token that was not due (another
    // machine had just renewed it). Slowness only widens the gaps.
    let closest = counts.shortest_gap_ms.iter().min().copied().unwrap_or(u64::MAX);
    assert!(closest >= DUE_EVERY_SECS * 1000 / 2, "a connection was refreshed twice within {closest} ms");
    // Every token a machine got came from one of those refreshes (or a sign-in).
    for i in 0..CONNECTIONS {
        let distinct: HashSet<&String> = seen.iter().filter_map(|s| s.tokens.get(&i)).flatten().collect();
        assert!(distinct.len() as u64 <= most + 1, "{}: {} different tokens handed out", name(i), distinct.len());
    }

    // No token in any machine's data directory.
    let mut secrets: Vec<String> = bao_tokens.clone();
    secrets.push(CLIENT_SECRET.to_owned());
    for s in &seen {
        secrets.extend(s.tokens.values().flat_map(|t| t.iter().take(2)).cloned());
    }
    for latch in &machines {
        latch.assert_no_secret_leaks(&secrets);
    }
}
