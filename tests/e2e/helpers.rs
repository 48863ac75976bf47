//! Using a connection from other programs without handling its token: the
//! real `git` cloning and pushing through `latch git-credential`, and
//! `latch token --format`. The token never appears in the data directory or
//! in what Latch printed.

use std::path::Path;
use std::process::Command;

use latch_e2e::{latch_bin, Latch, Provider};
use serde_json::Value;

/// An App Academy connection through the flag preset, signed in.
fn academy_connection(latch: &Latch, academy: &Provider) {
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
}

/// `git args…` in `dir`, with a private home (no user configuration) and
/// Latch's data directory for the helper.
fn git(latch: &Latch, dir: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Ann")
        .env("GIT_AUTHOR_EMAIL", "ann@example.com")
        .env("GIT_COMMITTER_NAME", "Ann")
        .env("GIT_COMMITTER_EMAIL", "ann@example.com")
        .env("LATCH_DATA_DIR", latch.data_dir.path())
        .output()
        .expect("git runs (make test installs it)")
}

#[test]
fn git_clones_and_pushes_with_a_fresh_token_from_the_credential_helper() {
    let academy = Provider::academy(&[]);
    let latch = Latch::new();
    academy_connection(&latch, &academy);

    let root = latch.data_dir.path().with_extension("git");
    let home = root.join("home");
    let work = root.join("work");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let bare = root.join("repos");
    std::fs::create_dir_all(&bare).unwrap();
    assert!(git(&latch, &bare, &home, &["init", "--bare", "-q", "project.git"]).status.success());
    assert!(git(&latch, &bare.join("project.git"), &home, &["config", "http.receivepack", "true"]).status.success());
    let server = Provider::git(&bare, &academy.url("/info"));
    let url = server.url("/project.git");

    // Without the helper, git is refused.
    let refused = git(&latch, &work, &home, &["clone", "-q", &url, "without"]);
    assert!(!refused.status.success(), "cloned without credentials");
    assert!(server.stats()["accepted"].as_i64().unwrap() == 0);

    let helper = format!("credential.helper=!'{}' git-credential Academy", latch_bin().display());
    let cloned = git(&latch, &work, &home, &["-c", "credential.helper=", "-c", &helper, "clone", "-q", &url, "project"]);
    assert!(cloned.status.success(), "clone: {}", String::from_utf8_lossy(&cloned.stderr));
    let project = work.join("project");
    std::fs::write(project.join("README"), "hello\n").unwrap();
    assert!(git(&latch, &project, &home, &["add", "README"]).status.success());
    assert!(git(&latch, &project, &home, &["commit", "-q", "-m", "first"]).status.success());
    let pushed = git(&latch, &project, &home, &["-c", "credential.helper=", "-c", &helper, "push", "-q", "origin", "HEAD:main"]);
    assert!(pushed.status.success(), "push: {}", String::from_utf8_lossy(&pushed.stderr));
    let log = git(&latch, &bare.join("project.git"), &home, &["log", "--format=%s", "main"]);
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "first", "the push arrived");
    assert_eq!(server.stats()["users"], serde_json::json!(["oauth2"]));

    // `store` and `erase` change nothing; the token still works.
    let mut store = Command::new(latch_bin());
    store.args(["git-credential", "Academy", "erase"]).env("LATCH_DATA_DIR", latch.data_dir.path());
    assert!(store.output().unwrap().status.success());
    assert!(git(&latch, &project, &home, &["-c", "credential.helper=", "-c", &helper, "fetch", "-q"]).status.success());

    let token = latch.ok(&["token", "Academy"]).trim().to_owned();
    // Each hand-out is in the usage log, with the program that asked.
    let uses: Vec<Value> = serde_json::from_str(&latch.ok(&["log", "Academy", "--json"])).unwrap();
    let helper_uses: Vec<&Value> = uses.iter().filter(|u| u["what"] == "git-credential").collect();
    assert!(helper_uses.len() >= 2, "clone, push and fetch asked: {uses:?}");
    assert!(helper_uses.iter().all(|u| u["via"] == "helper" && u["pid"].is_number()), "{uses:?}");
    assert_eq!(uses[0]["what"], "token", "newest first");
    let table = latch.ok(&["log"]);
    assert!(table.contains("git-credential via helper"), "{table}");
    latch.assert_no_secret_leaks(&[token, "academy-secret".to_owned()]);
}

#[test]
fn token_formats_give_json_a_header_line_and_a_shell_assignment() {
    let academy = Provider::academy(&[]);
    let latch = Latch::new();
    academy_connection(&latch, &academy);
    let raw = latch.ok(&["token", "Academy"]).trim().to_owned();
    let json: Value = serde_json::from_str(&latch.ok(&["token", "Academy", "--format", "json"])).unwrap();
    assert_eq!(json["access_token"], raw.as_str());
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["expires_at"].is_string(), "{json}");
    assert!(json["scope"].as_array().unwrap().iter().any(|s| s == "connect"), "{json}");
    assert_eq!(latch.ok(&["token", "Academy", "--format", "header"]).trim(), format!("Authorization: Bearer {raw}"));
    assert_eq!(latch.ok(&["token", "Academy", "--format", "env"]).trim(), format!("ACADEMY_ACCESS_TOKEN='{raw}'"));
}

#[test]
fn kubectl_reaches_an_api_server_with_the_token_from_the_exec_credential_plugin() {
    use base64::Engine as _;
    let academy = Provider::academy(&[]);
    let latch = Latch::new();
    academy_connection(&latch, &academy);
    let stub = Provider::kube(&academy.url("/info"));
    let ca = base64::engine::general_purpose::STANDARD.encode(stub.ready["ca"].as_str().unwrap());
    // v1beta1: what Debian 12's kubectl (1.20) and newer ones both speak.
    let kubeconfig = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: ann
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: {latch}
      args: ["kube-credential", "Academy"]
contexts:
- name: test
  context: {{cluster: test, user: ann}}
current-context: test
"#,
        server = stub.base,
        latch = latch_bin().display(),
    );
    let path = latch.data_dir.path().with_extension("kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();
    let home = latch.data_dir.path().with_extension("kubehome");
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new("kubectl")
        .args(["--kubeconfig", path.to_str().unwrap(), "get", "--raw", "/"])
        .env("HOME", &home)
        .env("LATCH_DATA_DIR", latch.data_dir.path())
        .output()
        .expect("kubectl runs (make test installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "kubectl: {}", String::from_utf8_lossy(&output.stderr));
    // The stub answers only to a bearer token the App Academy stand-in accepts.
    assert!(stdout.contains("/apis"), "{stdout}");
    let token = latch.ok(&["token", "Academy"]).trim().to_owned();
    latch.assert_no_secret_leaks(&[token, "academy-secret".to_owned()]);
}
