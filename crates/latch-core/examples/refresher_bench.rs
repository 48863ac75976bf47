//! The refresher's benchmarks (run by `make bench`, see bench/README.md).
//! Figures, never pass/fail.
//!
//!   refresher_bench schedule [N] [SECONDS]
//!       N connected connections (default 10,000), none due for an hour;
//!       the refresher plans them, then the process is watched for SECONDS
//!       (default 60): resident memory, and context switches of every
//!       thread, i.e. wake-ups, while nothing is due.
//!   refresher_bench refresh BASE_URL [N]
//!       N connections (default 1,000) all due at once, refreshed by the
//!       refresher against BASE_URL/token (bench/refresh/token-server.mjs):
//!       how many were refreshed before their access token expired, the wall
//!       time, and this process's CPU time per refresh.
//!
//! Each prints one line of JSON. Secrets are kept in memory here: the OS
//! keyring lives in another process, and the comparison with openid-client
//! (which keeps nothing) is of the client's own work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use latch_core::model::{ClientAuth, Connection, ConnectionId, Draft, Flow, KindSettings, OAuth2Settings, SecretSlot, Status};
use latch_core::refresher::Refresher;
use latch_core::secret::{AccessToken, RefreshToken, TokenSet};
use latch_core::store::db::Db;
use latch_core::store::{SecretFuture, SecretStore, Secrets};
use latch_core::{Browser, Engine, EngineEvent};
use zeroize::Zeroizing;

/// Secrets in memory, shared between the engine and the set-up code.
#[derive(Clone, Default)]
struct InMemory(Arc<Mutex<HashMap<(String, &'static str), Zeroizing<String>>>>);

impl SecretStore for InMemory {
    fn get<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, Option<Zeroizing<String>>> {
        let value = self.0.lock().unwrap().get(&(id.to_string(), slot.name())).cloned();
        Box::pin(async move { Ok(value) })
    }
    fn set<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot, value: &'a str) -> SecretFuture<'a, ()> {
        self.0.lock().unwrap().insert((id.to_string(), slot.name()), Zeroizing::new(value.to_owned()));
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, ()> {
        self.0.lock().unwrap().remove(&(id.to_string(), slot.name()));
        Box::pin(async { Ok(()) })
    }
}

struct NoBrowser;
impl Browser for NoBrowser {
    fn open(&self, _url: &str) -> Result<(), String> {
        Err("the benchmark opens no browser".into())
    }
}

/// Inserts `n` connected connections whose tokens were issued `age` ago and
/// expire `left` from now.
async fn seed(dir: &std::path::Path, base: &str, n: usize, age: chrono::Duration, left: impl Fn(usize) -> chrono::Duration) -> InMemory {
    let secrets = InMemory::default();
    let typed = Secrets::new(Box::new(secrets.clone()));
    let db = Db::open(&dir.join("latch.db")).expect("the database opens");
    let now = Utc::now();
    for i in 0..n {
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "bench-client");
        settings.authorize_url = Some(format!("{base}/authorize"));
        settings.token_url = Some(format!("{base}/token"));
        settings.client_auth = ClientAuth::None;
        settings.scopes = vec!["api".into()];
        let draft = Draft { name: format!("bench {i:05}"), settings: KindSettings::OAuth2(settings) };
        let mut c = Connection::new(draft, false, now);
        c.status = Status::Connected;
        c.access_issued_at = Some(now - age);
        c.access_expires_at = Some(now + left(i));
        c.has_refresh_token = true;
        c.granted_scopes = Some(vec!["api".into()]);
        typed
            .set_token_set(
                &c.id,
                &TokenSet {
                    access_token: AccessToken::new(format!("at-{i}")),
                    refresh_token: Some(RefreshToken::new(format!("rt-{i}"))),
                    id_token: None,
                    token_type: "Bearer".into(),
                    data: None,
                },
            )
            .await
            .unwrap();
        db.connection_insert(&c).expect("the connection is stored");
    }
    secrets
}

fn open(dir: &std::path::Path, secrets: InMemory) -> Arc<Engine> {
    Arc::new(Engine::open(dir, Box::new(secrets), Box::new(NoBrowser)).expect("the engine opens"))
}

/// (user + system CPU of this process, resident memory in KiB).
fn usage() -> (Duration, u64) {
    // SAFETY: getrusage only fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    let cpu = Duration::from_micros(micros(ru.ru_utime) + micros(ru.ru_stime));
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0);
    (cpu, rss)
}

/// Context switches of every thread of this process but the main one
/// (which only watches): each is a thread that went to sleep or was woken.
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    let main = std::process::id().to_string();
    tasks
        .flatten()
        .filter(|t| t.file_name().to_str() != Some(main.as_str()))
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

async fn schedule(n: usize, seconds: u64) {
    let dir = tempfile::tempdir().unwrap();
    // Due between one and eleven hours from now: nothing within the watch.
    let secrets = seed(dir.path(), "https://bench.invalid", n, chrono::Duration::minutes(5), |i| {
        chrono::Duration::minutes(125 + (i % 600) as i64)
    })
    .await;
    let (_, rss_before) = usage();
    let engine = open(dir.path(), secrets);
    let mut incoming = engine.subscribe();
    let _refresher = Refresher::spawn(engine.clone());
    // Let the first pass plan everything and go to sleep.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, rss_scheduled) = usage();
    let switches_before = context_switches();
    // This thread sleeps too: one wake-up of its own at the end.
    std::thread::sleep(Duration::from_secs(seconds));
    let switches = context_switches().saturating_sub(switches_before);
    let mut events_seen = 0;
    while incoming.try_recv().is_ok() {
        events_seen += 1;
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "schedule",
            "connections": n,
            "rss_mib": rss_scheduled as f64 / 1024.0,
            "rss_mib_before_engine": rss_before as f64 / 1024.0,
            "watched_s": seconds,
            "context_switches_while_idle": switches,
            "engine_events_while_idle": events_seen,
        })
    );
}

async fn refresh(base: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    // Issued 58 minutes ago, two minutes left: every one is due now.
    let secrets = seed(dir.path(), base, n, chrono::Duration::minutes(58), |_| chrono::Duration::minutes(2)).await;
    let deadline = Utc::now() + chrono::Duration::minutes(2);
    let engine = open(dir.path(), secrets);
    let mut incoming = engine.subscribe();
    let started_at = Utc::now();
    let (cpu_before, _) = usage();
    let started = Instant::now();
    let _refresher = Refresher::spawn(engine.clone());
    // One `Refreshed` event per connection refreshed (counted from the store
    // if this loop fell behind the events).
    let mut refreshed = 0;
    while refreshed < n && started.elapsed() < Duration::from_secs(120) {
        match tokio::time::timeout(Duration::from_secs(120), incoming.recv()).await {
            Ok(Ok(EngineEvent::Refreshed { .. })) => refreshed += 1,
            Ok(Ok(_)) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                let list = engine.list().unwrap();
                refreshed = list.iter().filter(|c| c.access_issued_at.is_some_and(|at| at >= started_at)).count();
            }
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let wall = started.elapsed();
    let (cpu_after, _) = usage();
    let finished = Utc::now();
    let cpu = cpu_after - cpu_before;
    println!(
        "{}",
        serde_json::json!({
            "bench": "refresh",
            "connections": n,
            "refreshed": refreshed,
            "refreshed_before_expiry": if finished <= deadline { refreshed } else { 0 },
            "wall_ms": wall.as_secs_f64() * 1000.0,
            "cpu_ms": cpu.as_secs_f64() * 1000.0,
            "cpu_ms_per_refresh": cpu.as_secs_f64() * 1000.0 / refreshed.max(1) as f64,
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Two workers, as the desktop app's runtime on this machine.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match args.first().map(String::as_str) {
        Some("schedule") => runtime.block_on(schedule(
            args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000),
            args.get(2).and_then(|n| n.parse().ok()).unwrap_or(60),
        )),
        Some("refresh") if args.len() >= 2 => {
            runtime.block_on(refresh(&args[1], args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1_000)))
        }
        _ => {
            eprintln!("usage: refresher_bench schedule [N] [SECONDS] | refresh BASE_URL [N]");
            std::process::exit(2);
        }
    }
}
