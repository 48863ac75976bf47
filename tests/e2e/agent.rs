//! `latch agent` end to end: it answers `latch token` from memory over its
//! Unix socket — so a token keeps coming while the keyring is locked — logs
//! each use with the asking program, and takes its socket with it when it
//! stops; `latch token` then reads the store again.

use std::process::Stdio;
use std::time::{Duration, Instant};

use latch_e2e::{Latch, PrivateKeyring, Provider};
use serde_json::Value;

#[test]
fn the_agent_serves_tokens_from_memory_and_latch_token_falls_back_when_it_stops() {
    let keyring = PrivateKeyring::start();
    let academy = Provider::academy(&[]);
    let latch = Latch::new();
    keyring.use_for(&latch);
    let runtime = latch.data_dir.path().with_extension("run");
    std::fs::create_dir_all(&runtime).unwrap();
    latch.set_env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
    latch.ok_with_stdin(
        &[
            "add", "--preset", "app-academy", "--name", "Academy", "--client-id", "academy-client", "--client-secret-stdin",
            "--authorize-url", &academy.url("/authorize"), "--token-url", &academy.url("/token"),
            "--refresh-url", &academy.url("/refresh"), "--revoke-url", &academy.url("/invalidate"),
            "--info-url", &academy.url("/info"), "--redirect-uri", "",
        ],
        "academy-secret\n",
    );
    latch.ok(&["connect", "Academy", "--timeout", "20"]);
    let direct = latch.ok(&["token", "Academy"]).trim().to_owned();

    let mut agent = latch.command(&["agent"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let socket = runtime.join("latch/agent.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the agent did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);

    assert_eq!(latch.ok(&["token", "Academy"]).trim(), direct, "the agent hands out the same valid token");
    // Locked keyring: the agent still answers from memory; reading the store does not.
    keyring.lock();
    assert_eq!(latch.ok(&["token", "Academy"]).trim(), direct);
    latch.set_env("LATCH_NO_AGENT", "1");
    latch.fails(&["token", "Academy"], 5);
    latch.set_env("LATCH_NO_AGENT", "");

    let uses: Vec<Value> = serde_json::from_str(&latch.ok(&["log", "Academy", "--json"])).unwrap();
    let by_agent: Vec<&Value> = uses.iter().filter(|u| u["via"] == "agent").collect();
    assert_eq!(by_agent.len(), 2, "{uses:?}");
    assert!(by_agent.iter().all(|u| u["pid"].is_number() && u["exe"].is_string()), "{uses:?}");

    // Stopped: the socket goes, and `latch token` reads the store again.
    assert!(std::process::Command::new("kill").args(["-TERM", &agent.id().to_string()]).status().unwrap().success());
    let status = agent.wait().unwrap();
    assert!(!socket.exists(), "socket left behind ({status:?})");
    let said = latch.fails(&["token", "Academy"], 5);
    assert!(said.contains("keyring"), "{said}");
    latch.assert_no_secret_leaks(&[direct, "academy-secret".to_owned()]);
}
