//! Upgrading: a data directory and keyring written by the previous release
//! (tests/fixtures/previous-release, made with its make-fixture.sh) open with
//! this `latch`, and nothing is lost. No provider runs: the fixture's access
//! tokens are valid for a hundred years, so nothing needs the network.
//!
//! The fixture file is only ever copied, never opened in place.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use latch_e2e::{repo_root, Latch};
use serde_json::Value;

/// The connected ones whose access tokens the fixture holds for a century.
/// (Flaky and Legacy hold the quirk server's hour-long tokens: they ran out
/// long ago, and `token` would go to the network.)
const LONG_LIVED: [&str; 3] = ["Team Drive", "Confidential Basic", "Service"];

fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/previous-release")
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The file name make-fixture.sh gave a connection's `show --json`.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_owned()
}

/// Every key of `expected` holds the same value in `actual`, recursively;
/// `actual` may have more keys (a newer release adds fields).
fn assert_keeps(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let got = got.get(key).unwrap_or_else(|| panic!("{at}.{key} is gone; it was {value}"));
                assert_keeps(value, got, &format!("{at}.{key}"));
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            assert_eq!(want.len(), got.len(), "{at}: was {expected}, now {actual}");
            for (i, (value, got)) in want.iter().zip(got).enumerate() {
                assert_keeps(value, got, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{at} changed"),
    }
}

/// Tests in this file put the same keyring entries: one at a time.
static KEYRING: Mutex<()> = Mutex::new(());

/// The previous release's keyring entries (keyring.json), put in the real
/// keyring and deleted again when dropped, also when a test panics.
struct PreviousKeyring {
    entries: Vec<(String, String)>,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl PreviousKeyring {
    fn put() -> PreviousKeyring {
        let guard = KEYRING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entries: Vec<(String, String)> = read_json(fixture().join("keyring.json"))
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["account"].as_str().unwrap().to_owned(), e["secret"].as_str().unwrap().to_owned()))
            .collect();
        let keyring = PreviousKeyring { entries, _one_at_a_time: guard };
        for (account, secret) in &keyring.entries {
            keyring::Entry::new("latch", account).unwrap().set_password(secret).expect("the keyring takes the entry");
        }
        keyring
    }

    fn get(account: &str) -> Option<String> {
        match keyring::Entry::new("latch", account).unwrap().get_password() {
            Ok(secret) => Some(secret),
            Err(keyring::Error::NoEntry) => None,
            Err(err) => panic!("keyring read failed: {err}"),
        }
    }

    fn secret(&self, account: &str) -> &str {
        self.entries.iter().find(|(a, _)| a == account).map(|(_, s)| s.as_str()).unwrap_or_else(|| panic!("no {account}"))
    }

    /// Every secret value, token by token, for leak checks.
    fn all_secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        for (account, secret) in &self.entries {
            if account.ends_with("/tokens") {
                let tokens: Value = serde_json::from_str(secret).unwrap();
                for key in ["access_token", "refresh_token", "id_token"] {
                    secrets.extend(tokens[key].as_str().map(str::to_owned));
                }
            } else {
                secrets.push(secret.clone());
            }
        }
        secrets
    }
}

impl Drop for PreviousKeyring {
    fn drop(&mut self) {
        for (account, _) in &self.entries {
            if let Ok(entry) = keyring::Entry::new("latch", account) {
                let _ = entry.delete_credential();
            }
        }
    }
}

/// A fresh Latch holding a copy of the previous release's data directory
/// (just latch.db) and its keyring entries.
struct Upgrade {
    latch: Latch,
    keyring: PreviousKeyring,
    expected_list: Value,
    fixture_bytes: Vec<u8>,
}

impl Upgrade {
    fn open() -> Upgrade {
        let keyring = PreviousKeyring::put();
        let latch = Latch::new();
        let fixture_bytes = std::fs::read(fixture().join("latch.db")).unwrap();
        std::fs::write(latch.data_dir.path().join("latch.db"), &fixture_bytes).unwrap();
        Upgrade { latch, keyring, expected_list: read_json(fixture().join("expected-list.json")), fixture_bytes }
    }

    fn expected(&self, name: &str) -> &Value {
        let list = self.expected_list.as_array().unwrap();
        list.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("the fixture has no {name}"))
    }

    fn id(&self, name: &str) -> String {
        self.expected(name)["id"].as_str().unwrap().to_owned()
    }

    fn list(&self) -> Vec<Value> {
        let list: Value = serde_json::from_str(&self.latch.ok(&["list", "--json"])).unwrap();
        list.as_array().unwrap().clone()
    }

    /// The copy was used; the committed file is as it was, with no WAL beside it.
    fn assert_fixture_untouched(&self) {
        assert!(std::fs::read(fixture().join("latch.db")).unwrap() == self.fixture_bytes, "the fixture file changed");
        for leftover in ["latch.db-wal", "latch.db-shm", "latch.db-journal"] {
            assert!(!fixture().join(leftover).exists(), "{leftover} appeared beside the fixture");
        }
    }
}

#[test]
fn a_data_directory_from_the_previous_release_opens_with_every_connection_and_setting_kept() {
    let upgrade = Upgrade::open();
    let expected = upgrade.expected_list.as_array().unwrap();
    assert!(expected.len() >= 10, "the fixture covers every flow and state");

    let first = upgrade.list();
    let second = upgrade.list();
    assert_eq!(first, second, "the upgraded data directory opens a second time, the same");
    let mut ids: Vec<&str> = first.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let mut expected_ids: Vec<&str> = expected.iter().map(|c| c["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    expected_ids.sort_unstable();
    assert_eq!(ids, expected_ids, "the same connections, with the same ids");
    for want in expected {
        let got = first.iter().find(|c| c["id"] == want["id"]).unwrap();
        assert_keeps(want, got, &format!("list[{}]", want["name"]));
    }

    for want in expected {
        let name = want["name"].as_str().unwrap();
        let shown = upgrade.latch.show(name);
        assert_keeps(&read_json(fixture().join("expected-show").join(format!("{}.json", slug(name)))), &shown, name);
    }
    // The states, spelled out (the comparison above already holds them).
    assert_eq!(upgrade.latch.show("Expired")["status"], "needs_reauth");
    assert!(upgrade.latch.show("Flaky")["retry_at"].is_string(), "a passing failure stays scheduled");
    assert!(upgrade.latch.show("Broken")["last_error_details"].as_str().unwrap().contains("Bad Gateway"));

    // `latch status` still tells scripts that Expired needs a sign-in.
    let out = upgrade.latch.run(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Expired"), "{text}");

    // The desktop app's settings (no CLI command shows them): still there.
    let db = rusqlite::Connection::open_with_flags(
        upgrade.latch.data_dir.path().join("latch.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut settings: Vec<(String, String)> = db
        .prepare("SELECT key, value FROM settings ORDER BY key")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    settings.retain(|(key, _)| ["notify_reauth", "notify_expiry", "warn_ahead_hours"].contains(&key.as_str()));
    let expected_settings = [("notify_expiry", "true"), ("notify_reauth", "false"), ("warn_ahead_hours", "48")];
    assert_eq!(settings, expected_settings.map(|(k, v)| (k.to_owned(), v.to_owned())), "the settings are kept");
    drop(db);

    upgrade.latch.assert_no_secret_leaks(&upgrade.keyring.all_secrets());
    upgrade.assert_fixture_untouched();
}

#[test]
fn access_tokens_saved_by_the_previous_release_are_handed_out_without_asking_the_provider() {
    let upgrade = Upgrade::open();
    for name in LONG_LIVED {
        assert_eq!(upgrade.expected(name)["status"], "connected", "{name}");
        let account = format!("{}/tokens", upgrade.id(name));
        let saved: Value = serde_json::from_str(upgrade.keyring.secret(&account)).unwrap();
        let token = upgrade.latch.ok(&["token", name]);
        assert_eq!(token.trim_end_matches('\n'), saved["access_token"].as_str().unwrap(), "{name}");
        assert_eq!(
            PreviousKeyring::get(&account).as_deref(),
            Some(upgrade.keyring.secret(&account)),
            "{name}: no refresh, the keyring entry is as it was"
        );
    }
    upgrade.assert_fixture_untouched();
}

#[test]
fn client_secrets_saved_by_the_previous_release_are_found_and_kept_by_an_edit() {
    let upgrade = Upgrade::open();
    for want in upgrade.expected_list.as_array().unwrap() {
        let name = want["name"].as_str().unwrap();
        let account = format!("{}/client_secret", want["id"].as_str().unwrap());
        let has_secret = upgrade.keyring.entries.iter().any(|(a, _)| *a == account);
        assert_eq!(want["has_client_secret"], has_secret, "{name}: the fixture agrees with its keyring");
        assert_eq!(upgrade.latch.show(name)["has_client_secret"], has_secret, "{name}");
    }
    assert_eq!(upgrade.latch.show("Confidential Basic")["has_client_secret"], true);

    // An edit that leaves the secret alone keeps it.
    let account = format!("{}/client_secret", upgrade.id("Service"));
    upgrade.latch.ok(&["edit", "Service", "--scope", "x"]);
    let shown = upgrade.latch.show("Service");
    assert_eq!(shown["scopes"], serde_json::json!(["x"]));
    assert_eq!(shown["has_client_secret"], true);
    assert_eq!(shown["client_auth"], upgrade.expected("Service")["client_auth"]);
    assert_eq!(PreviousKeyring::get(&account).as_deref(), Some(upgrade.keyring.secret(&account)), "the secret is kept");

    upgrade.latch.assert_no_secret_leaks(&upgrade.keyring.all_secrets());
    upgrade.assert_fixture_untouched();
}
