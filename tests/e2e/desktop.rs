//! The real Latch window, end to end: tauri-driver + WebKitWebDriver under
//! Xvfb, the real keyring, oidc-provider and the scripted browser. Saves
//! screenshots under target/e2e-screenshots/.
//!
//! The app is a single instance per session, so these tests take turns.

use latch_e2e::window::{within, Processes, Window};
use latch_e2e::{post_form_basic, Latch, Provider};

static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_added_in_the_form_connects_disconnects_and_is_deleted() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let op = Provider::oidc(&[]);
        let latch = Latch::new();
        let window = Window::open(&latch).await;

        // The empty state explains itself and offers to add one.
        window.testid("add-connection").await;
        window.screenshot("list-empty").await;
        window.click("add-connection").await;
        window.screenshot("preset-picker").await;
        window.click("preset-custom").await;
        window.testid("connection-form").await;

        window.fill("name", "Team Drive").await;
        window.fill("authorize_url", &op.url("/auth")).await;
        window.fill("token_url", &op.url("/token")).await;
        window.fill("client_id", "public-pkce").await;
        let scopes = window.testid("scope-input").await;
        for scope in ["openid", "offline_access", "profile", "api:read"] {
            scopes.send_keys(&format!("{scope}\u{E007}")).await.unwrap(); // Enter adds a chip
        }
        window.screenshot("form").await;
        window.click("advanced-toggle").await;
        window.fill("revoke_url", &op.url("/token/revocation")).await;
        window.fill("info_url", &op.url("/me")).await;
        window.save_form().await;

        // Connect: the scripted browser signs in as alice.
        window.click("connect").await;
        window
            .until("Connected", || async {
                window.text_of("[data-testid='detail-status']").await.contains("Connected")
            })
            .await;
        window
            .until("the account", || async {
                window.text_of("[data-testid='account']").await.contains("Alice Example")
            })
            .await;
        let granted = window.text_of("[data-testid='granted-scopes']").await;
        assert!(granted.contains("api:read") && granted.contains("offline_access"), "{granted}");
        let expiry = window.text_of("[data-testid='expiry']").await;
        assert!(expiry.contains("min"), "an expiry countdown: {expiry}");
        assert!(window.text_of("[data-testid='refresh-token-issued']").await.contains("issued"));
        window.screenshot("connected").await;
        let shown = latch.show("Team Drive");
        assert_eq!(shown["status"], "connected", "the CLI sees what the window did");
        let access = latch.access_token("Team Drive");

        // Disconnect revokes at the provider.
        window.click("disconnect").await;
        window.click("confirm-disconnect").await;
        window
            .until("not connected", || async {
                !window.text_of("[data-testid='detail-status']").await.contains("Connected")
            })
            .await;
        let (_, introspection) =
            post_form_basic(&op.url("/token/introspection"), "conf-basic", "conf-basic-secret", &[("token", &access)]);
        assert_eq!(introspection["active"], false);

        // Delete, after confirming.
        window.click("delete").await;
        window.click("confirm-delete").await;
        window
            .until("the row to go", || async {
                !window.exists("[data-testid='connection-row'][data-name='Team Drive']").await
            })
            .await;
        assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_shows_the_engines_message_and_save_stays_disabled() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.fill("name", "Broken").await;
        window.fill("client_id", "x").await;
        window.fill("authorize_url", "https://example.com/auth").await;
        window.fill("token_url", "not a url").await;
        let error = window.testid("error-token_url").await;
        window
            .until("the message", || async { error.text().await.unwrap_or_default().contains("is not a valid URL") })
            .await;
        assert!(!window.testid("save").await.is_enabled().await.unwrap());
        window.fill("token_url", "http://example.com/token").await;
        window
            .until("the https message", || async {
                window.text_of("[data-testid='error-token_url']").await.contains("must use https://")
            })
            .await;
        assert!(!window.testid("save").await.is_enabled().await.unwrap());
        assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]", "nothing saved");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_added_with_the_cli_appears_in_the_open_window() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.testid("add-connection").await;
        latch.ok(&[
            "add",
            "--name",
            "From CLI",
            "--flow",
            "implicit",
            "--client-id",
            "c",
            "--authorize-url",
            "https://example.com/a",
        ]);
        window
            .until("the CLI's connection", || async {
                window.exists("[data-testid='connection-row'][data-name='From CLI']").await
            })
            .await;
        window.screenshot("list").await;
        window.close().await;
    })
    .await;
}

/// Summaries of the notifications dunst received that name `name`, oldest first.
fn notifications_about(name: &str) -> Vec<String> {
    let _ = std::process::Command::new("dunstctl").arg("close-all").status();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out =
        std::process::Command::new("dunstctl").arg("history").output().expect("dunstctl runs (make test starts dunst)");
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    history["data"][0]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|n| n["summary"]["data"].as_str())
                .filter(|summary| summary.contains(name))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_forgets_the_grant_leads_to_exactly_one_notification() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        // 8-second tokens: the app's refresher refreshes them after 4 seconds.
        let op = Provider::oidc(&["--access-ttl", "8"]);
        let latch = Latch::new();
        latch.ok(&[
            "add",
            "--name",
            "Forgetful",
            "--flow",
            "authorization_code",
            "--client-id",
            "public-pkce",
            "--authorize-url",
            &op.url("/auth"),
            "--token-url",
            &op.url("/token"),
            "--scope",
            "openid",
            "--scope",
            "offline_access",
        ]);
        latch.ok(&["connect", "Forgetful"]);
        let (status, _) = latch_e2e::http("POST", &op.url("/__test/forget-grants"), &[], "");
        assert_eq!(status, 204);

        // The app alone, window and tray, as a person runs it.
        let app = Processes::app(&latch);
        let started = std::time::Instant::now();
        while latch.show("Forgetful")["status"] != "needs_reauth" {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "the refresher never hit invalid_grant");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        // Time for any duplicate to arrive, including the refresher's next passes.
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let received = notifications_about("Forgetful");
        assert_eq!(received, vec!["Forgetful needs you to sign in again".to_owned()]);
        let stderr = latch.fails(&["token", "Forgetful"], 3);
        assert!(stderr.contains("needs you to sign in again"), "{stderr}");
        drop(app);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_answers_503_twice_is_retried_with_backoff_until_the_refresh_succeeds() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        // 6-second tokens; the first two refresh requests get 503 with Retry-After: 1.
        let quirks = Provider::quirks();
        let latch = Latch::new();
        latch.ok(&[
            "add",
            "--name",
            "Flaky",
            "--flow",
            "authorization_code",
            "--client-id",
            "quirky",
            "--authorize-url",
            &quirks.url("/authorize"),
            "--token-url",
            &quirks.url("/token/flaky-503"),
            "--scope",
            "read",
        ]);
        latch.ok(&["connect", "Flaky"]);
        let first_access = latch.access_token("Flaky");
        let app = Processes::app(&latch);
        let state = || format!("latch show: {}\nprovider: {}", latch.show("Flaky"), quirks.stats());

        // The first failure is recorded with a time to try again.
        let waiting = poll(
            40,
            || {
                let shown = latch.show("Flaky");
                shown["retry_at"].is_string().then_some(shown)
            },
            &state,
        )
        .await;
        let reason = waiting["last_error"].as_str().unwrap_or_default().to_owned();
        assert!(reason.contains("503") || reason.contains("unavailable"), "a reason the user can read: {reason}");

        // Then the refresher tries again by itself, later each time, until it works.
        let refreshes = poll(
            90,
            || {
                let times = quirks.stats()["refresh_times"].as_array().cloned().unwrap_or_default();
                let shown = latch.show("Flaky");
                (times.len() >= 3 && shown["retry_at"].is_null() && shown["status"] == "connected").then_some(times)
            },
            &state,
        )
        .await;
        let at: Vec<i64> = refreshes.iter().map(|t| t.as_i64().unwrap()).collect();
        let (first_wait, second_wait) = (at[1] - at[0], at[2] - at[1]);
        assert!(first_wait >= 5_000, "backed off after the first 503, not straight back: {first_wait} ms");
        assert!(second_wait > first_wait, "waited longer after the second 503: {first_wait} then {second_wait} ms");

        let access = latch.access_token("Flaky");
        assert_ne!(access, first_access, "a new access token was stored");
        let (status, _) =
            latch_e2e::http("GET", &quirks.url("/api/echo"), &[("Authorization", &format!("Bearer {access}"))], "");
        assert_eq!(status, 200, "the refreshed token works");
        let received = notifications_about("Flaky");
        assert!(received.is_empty(), "a passing failure is not worth a notification: {received:?}");
        drop(app);
        let mut secrets = latch.stored_secrets("Flaky");
        secrets.push(first_access);
        latch.assert_no_secret_leaks(&secrets);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_add_a_login_item_and_keep_the_notification_choices_across_restarts() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        // A private home: the login item goes to ~/.config/autostart.
        let home = latch.data_dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let autostart = home.join(".config/autostart");
        let login_items = || -> Vec<String> {
            std::fs::read_dir(&autostart)
                .map(|dir| dir.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
                .unwrap_or_default()
        };

        let window = Window::open_with(&latch, &[("HOME", &home)]).await;
        window.click("open-settings").await;
        window.testid("settings").await;
        window.click("start-at-login").await;
        window.click("notify-reauth").await;
        window.click("settings-save").await;
        window
            .until("Saved", || async { window.text_of("[data-testid='settings-status']").await.contains("Saved") })
            .await;
        window.screenshot("settings").await;
        let items = login_items();
        assert_eq!(items.len(), 1, "one login item: {items:?}");
        assert!(
            items[0].contains(latch_e2e::window::app_bin().to_str().unwrap()) && items[0].contains("--hidden"),
            "it starts this Latch, hidden in the tray:\n{}",
            items[0]
        );
        window.close().await;

        // A new start shows what was saved; turning the login item off removes it.
        let window = Window::open_with(&latch, &[("HOME", &home)]).await;
        window.click("open-settings").await;
        let reauth = window.testid("notify-reauth").await;
        assert_eq!(reauth.prop("checked").await.unwrap().as_deref(), Some("false"), "the notification choice was kept");
        let login = window.testid("start-at-login").await;
        assert_eq!(login.prop("checked").await.unwrap().as_deref(), Some("true"));
        window.click("start-at-login").await;
        window.click("settings-save").await;
        window
            .until("Saved", || async { window.text_of("[data-testid='settings-status']").await.contains("Saved") })
            .await;
        assert!(login_items().is_empty(), "the login item is gone");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_app_runs_several_connections_are_refreshed_before_they_expire_and_rotation_is_stored() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        // 10-second tokens: each is due after 5 s.
        let op = Provider::oidc(&["--access-ttl", "10"]);
        let latch = Latch::new();
        let names = ["Drive", "Mail", "Calendar"];
        for name in names {
            latch.ok(&[
                "add",
                "--name",
                name,
                "--flow",
                "authorization_code",
                "--client-id",
                "public-pkce",
                "--authorize-url",
                &op.url("/auth"),
                "--token-url",
                &op.url("/token"),
                "--scope",
                "openid",
                "--scope",
                "offline_access",
            ]);
            latch.ok(&["connect", name]);
        }
        let before: Vec<(serde_json::Value, serde_json::Value)> =
            names.iter().map(|name| (latch.show(name), latch.keyring_tokens(name).unwrap())).collect();
        let app = Processes::app(&latch);

        // Every one gets a new token from the app's refresher, no command needed.
        let state = || names.iter().map(|n| latch.show(n).to_string()).collect::<Vec<_>>().join("\n");
        for (name, (shown, tokens)) in names.iter().zip(&before) {
            let renewed = poll(
                40,
                || {
                    let now = latch.show(name);
                    (now["access_issued_at"] != shown["access_issued_at"]).then_some(now)
                },
                &state,
            )
            .await;
            let issued = renewed["access_issued_at"].as_str().unwrap();
            let old_expiry = shown["access_expires_at"].as_str().unwrap();
            assert!(issued < old_expiry, "{name}: renewed at {issued}, before the old token's expiry {old_expiry}");
            assert_eq!(renewed["status"], "connected", "{name}");
            let stored = latch.keyring_tokens(name).unwrap();
            assert_ne!(stored["refresh_token"], tokens["refresh_token"], "{name}: the rotated refresh token is stored");
            assert_ne!(stored["access_token"], tokens["access_token"], "{name}");
        }
        drop(app);
        // The CLI takes over where the app stopped: the stored tokens work.
        for name in names {
            let token = latch.ok(&["token", name]);
            assert!(!token.trim().is_empty());
        }
        let mut secrets: Vec<String> = names.iter().flat_map(|n| latch.stored_secrets(n)).collect();
        for (_, tokens) in &before {
            secrets.push(tokens["refresh_token"].as_str().unwrap().to_owned());
        }
        latch.assert_no_secret_leaks(&secrets);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_that_runs_out_within_a_day_is_announced_once_ahead() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        // The `minutes` quirk dates the refresh token: it runs out in 60 minutes.
        let quirks = Provider::quirks();
        let latch = Latch::new();
        latch.ok(&[
            "add",
            "--name",
            "Short Lease",
            "--flow",
            "authorization_code",
            "--client-id",
            "quirky",
            "--authorize-url",
            &quirks.url("/authorize"),
            "--token-url",
            &quirks.url("/token/minutes"),
            "--expires-in-unit",
            "minutes",
            "--scope",
            "read",
        ]);
        latch.ok(&["connect", "Short Lease"]);
        assert!(latch.show("Short Lease")["refresh_expires_at"].is_string(), "the provider dated the sign-in");
        let app = Processes::app(&latch);
        let warned = poll(
            30,
            || {
                let received = notifications_about("Short Lease");
                (!received.is_empty()).then_some(received)
            },
            || "no notification for Short Lease".to_owned(),
        )
        .await;
        // Time for a duplicate to arrive, had there been one.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let received = notifications_about("Short Lease");
        assert_eq!(received, vec!["Short Lease will need you to sign in soon".to_owned()], "first seen: {warned:?}");
        drop(app);
    })
    .await;
}

/// Polls `probe` every 250 ms until it returns something (at most
/// `seconds`); on giving up, says what `state` shows then.
async fn poll<T>(seconds: u64, probe: impl Fn() -> Option<T>, state: impl Fn() -> String) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        if started.elapsed() > std::time::Duration::from_secs(seconds) {
            panic!("gave up after {seconds} s; then:\n{}", state());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

// --- issue 5 in the window: discovery, device code ----------------------------

/// Clicks the element matching `css` like a person: scrolled into view first.
async fn click_css(window: &Window, css: &str) {
    let element = window.wait_for(css).await;
    window
        .client
        .execute("arguments[0].scrollIntoView({block: 'center'});", vec![serde_json::to_value(&element).unwrap()])
        .await
        .unwrap();
    if let Err(err) = element.click().await {
        window.fail(&format!("click {css}: {err:?}")).await;
    }
}

async fn value_of(window: &Window, name: &str) -> String {
    let input = window.wait_for(&format!("[name='{name}']")).await;
    input.prop("value").await.unwrap().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_typed_in_the_form_is_discovered_and_the_connection_signs_in_through_the_browser() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let op = Provider::oidc(&[]);
        let latch = Latch::new();
        let window = Window::open(&latch).await;

        // The providers come first; a provider that is not listed is "Custom / other provider".
        window.click("add-connection").await;
        window.testid("preset-picker").await;
        assert!(window.exists("[data-testid='preset-card'][data-preset='make']").await, "the Make preset is listed");
        window.screenshot("preset-picker").await;
        window.click("preset-custom").await;
        window.testid("connection-form").await;

        window.fill("name", "Discovered").await;
        window.fill("issuer", &op.url("")).await;
        window.click("discover").await;
        window
            .until("the discovery result", || async {
                window.text_of("[data-testid='discover-result']").await.contains("Found")
            })
            .await;
        assert_eq!(value_of(&window, "authorize_url").await, op.url("/auth"));
        assert_eq!(value_of(&window, "token_url").await, op.url("/token"));
        let flow = window.testid("flow-type").await.prop("value").await.unwrap().unwrap_or_default();
        assert_eq!(flow, "code_pkce", "PKCE S256, which the server supports");

        // The server's scopes are offered as chips to pick.
        for scope in ["openid", "offline_access", "profile", "api:read"] {
            click_css(&window, &format!("[data-testid='scope-option'][data-scope='{scope}']")).await;
        }
        window.fill("client_id", "public-pkce").await;
        window.screenshot("form-discovered").await;
        window.save_form().await;

        // Connect: the scripted browser signs in as alice.
        window.click("connect").await;
        window
            .until("the account from the discovered userinfo endpoint", || async {
                window.text_of("[data-testid='account']").await.contains("Alice Example")
            })
            .await;
        let shown = latch.show("Discovered");
        assert_eq!(shown["status"], "connected");
        assert_eq!(shown["issuer"], op.url(""), "the issuer is kept, so later responses' iss is checked");
        assert_eq!(shown["revoke_url"], op.url("/token/revocation"), "the discovered revocation endpoint");
        assert_eq!(shown["scopes"], serde_json::json!(["openid", "offline_access", "profile", "api:read"]));
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_issuer_is_refused_in_the_form_with_the_reason_and_fills_nothing() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let op = Provider::oidc(&[]);
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.click("add-connection").await;
        window.click("preset-custom").await;
        // The metadata names the issuer without the trailing slash: not exactly this one (RFC 8414 §3.3).
        window.fill("issuer", &op.url("/")).await;
        window.click("discover").await;
        window
            .until("the reason", || async { !window.text_of("[data-testid='discover-error']").await.is_empty() })
            .await;
        let reason = window.text_of("[data-testid='discover-error']").await;
        assert!(
            reason.contains(&format!("names the issuer '{}'", op.url(""))) && reason.contains("Latch refuses it"),
            "{reason}"
        );
        assert_eq!(value_of(&window, "token_url").await, "", "nothing was filled in");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_code_shown_in_the_window_is_the_one_that_signs_in() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let op = Provider::oidc(&["--device"]);
        let latch = Latch::new();
        latch.ok(&[
            "add",
            "--name",
            "TV",
            "--flow",
            "device_code",
            "--client-id",
            "device-public",
            "--device-url",
            &op.url("/device/auth"),
            "--token-url",
            &op.url("/token"),
            "--info-url",
            &op.url("/me"),
            "--scope",
            "openid",
            "--scope",
            "offline_access",
            "--scope",
            "profile",
        ]);
        // The app's own browser does nothing: the person reads the code off the window.
        latch.set_browser_mode("ignore");
        let window = Window::open(&latch).await;
        click_css(&window, "[data-testid='connection-row'][data-name='TV']").await;
        window.click("connect").await;
        let code = window.testid("user-code").await;
        window.until("the user code", || async { !code.text().await.unwrap_or_default().trim().is_empty() }).await;
        let user_code = code.text().await.unwrap().trim().to_owned();
        assert!(user_code.len() == 9 && user_code.as_bytes()[4] == b'-', "a code like ABCD-EFGH: {user_code}");
        let page = window.text_of("[data-testid='verification-uri']").await;
        assert_eq!(page, op.url("/device"));
        assert!(window.text_of("[data-testid='time-left']").await.contains(':'), "the time left is shown");
        assert!(window.exists("[data-testid='open-verification']").await);
        window.screenshot("device-code").await;

        // Another device: the scripted browser types the code shown in the window.
        let status = std::process::Command::new(latch_e2e::repo_root().join("tests/providers/browser.mjs"))
            .arg(format!("{page}?user_code={user_code}"))
            .env("LATCH_TEST_BROWSER_MODE", "login")
            .env("LATCH_TEST_BROWSER_LOG", latch.data_dir.path().with_extension("device-browser.log"))
            .status()
            .unwrap();
        assert!(status.success(), "the browser entered the code");
        window
            .until("the account", || async {
                window.text_of("[data-testid='account']").await.contains("Alice Example")
            })
            .await;
        assert!(!window.exists("[data-testid='user-code']").await, "the code panel is gone");
        assert_eq!(latch.show("TV")["status"], "connected");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_paste_sign_in_takes_the_address_from_the_browsers_address_bar_and_connects() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        // The App Academy stand-in hosts its own redirect page, like https://www.make.com/oauth/cb/app.
        let academy = Provider::academy(&[]);
        let latch = Latch::new();
        let hosted = academy.url("/oauth/cb/app");
        latch.ok_with_stdin(
            &[
                "add",
                "--preset",
                "app-academy",
                "--name",
                "Academy",
                "--client-id",
                "academy-client",
                "--client-secret-stdin",
                "--authorize-url",
                &academy.url("/authorize"),
                "--token-url",
                &academy.url("/token"),
                "--refresh-url",
                &academy.url("/refresh"),
                "--info-url",
                &academy.url("/info"),
                "--revoke-url",
                &academy.url("/invalidate"),
                "--redirect-uri",
                &hosted,
            ],
            "academy-secret\n",
        );
        let window = Window::open(&latch).await;
        click_css(&window, "[data-testid='connection-row'][data-name='Academy']").await;
        window.click("connect").await;
        let field = window.wait_for("[name='pasted_address']").await;

        // The scripted browser approved and ended on the hosted page; a person copies its address.
        let log = latch.data_dir.path().with_extension("browser.log");
        let started = std::time::Instant::now();
        let address = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let hop = text
                .lines()
                .filter_map(|line| line.split(" -> GET ").nth(1))
                .find(|url| url.starts_with(&format!("{hosted}?")));
            if let Some(url) = hop {
                break url.split_whitespace().next().unwrap().to_owned();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "the browser never reached {hosted}:\n{text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        window.screenshot("paste-waiting").await;
        field.send_keys(&address).await.unwrap();
        window.click("paste-submit").await;
        window
            .until("the account", || async { window.text_of("[data-testid='account']").await.contains("Jane Doe") })
            .await;
        assert_eq!(latch.show("Academy")["status"], "connected");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_cancelled_in_the_window_closes_the_listener_and_changes_nothing() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let op = Provider::oidc(&[]);
        let latch = Latch::new();
        latch.ok(&[
            "add", "--name", "Patient", "--flow", "authorization_code", "--client-id", "public-pkce",
            "--authorize-url", &op.url("/auth"), "--token-url", &op.url("/token"), "--scope", "openid",
        ]);
        // The browser opens the page and nobody signs in.
        latch.set_browser_mode("ignore");
        let window = Window::open(&latch).await;
        click_css(&window, "[data-testid='connection-row'][data-name='Patient']").await;
        window.click("connect").await;

        // The waiting panel shows the link the browser was sent to; its
        // redirect URI names the loopback listener's port.
        let link = window.wait_for("input[aria-label='Sign-in link']").await;
        let address = link.prop("value").await.unwrap().unwrap_or_default();
        let authorize = url_pairs(&address);
        let redirect = authorize.iter().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.clone()).unwrap();
        let port: u16 = redirect.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap().parse().unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "the listener waits for the browser");
        window.testid("cancel-connect").await;
        window.screenshot("sign-in-waiting").await;

        window.click("cancel-connect").await;
        window.until("the waiting panel to go", || async { !window.exists("[data-testid='waiting']").await }).await;
        let closed = poll(
            10,
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_err().then_some(()),
            || format!("port {port} still listens"),
        )
        .await;
        let () = closed;
        assert!(!window.exists("[data-testid='error-message']").await, "a cancel is not reported as a failure");
        let shown = latch.show("Patient");
        assert_eq!(shown["status"], "new");
        assert_eq!(shown["last_error"], serde_json::Value::Null);
        assert!(latch.keyring_tokens("Patient").is_none());
        assert_eq!(op.stats()["token_requests"], 0);
        window.close().await;
    })
    .await;
}

/// The query of an address, decoded.
fn url_pairs(address: &str) -> Vec<(String, String)> {
    let query = address.split_once('?').map(|(_, q)| q).unwrap_or_default();
    serde_urlencoded::from_str(query).unwrap()
}
