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
        // The refresh token, as the window words it: the connection renews by itself.
        assert!(window.text_of("[data-testid='state-summary']").await.contains("Renews automatically"));
        window.screenshot("connected").await;
        let shown = latch.show("Team Drive");
        assert_eq!(shown["status"], "connected", "the CLI sees what the window did");
        let access = latch.access_token("Team Drive");

        // Disconnect revokes at the provider.
        choose(&window, "disconnect").await;
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
        choose(&window, "delete").await;
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
async fn a_bad_url_shows_the_engines_message_and_save_saves_nothing() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.fill("name", "Broken").await;
        window.fill("client_id", "x").await;
        window.fill("authorize_url", "https://example.com/auth").await;
        // Leaving the field (Tab) shows its error.
        window.fill("token_url", "not a url\u{E004}").await;
        let error = window.testid("error-token_url").await;
        window
            .until("the message", || async { error.text().await.unwrap_or_default().contains("is not a valid URL") })
            .await;
        // Save stays a button to press: it saves nothing and says what to fix.
        assert!(window.testid("save").await.is_enabled().await.unwrap());
        window.click("save").await;
        window
            .until("the count", || async { window.text_of("[data-testid='fix-count']").await.contains("1 thing needs fixing") })
            .await;
        assert_eq!(active_name(&window).await, "token_url", "Save took the user to the field");
        window.fill("token_url", "http://example.com/token").await;
        window
            .until("the https message", || async {
                window.text_of("[data-testid='error-token_url']").await.contains("must start with https://")
            })
            .await;
        window.click("save").await;
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
        // The page's JavaScript runs without a JIT (webview.rs); the
        // browser Latch starts does not inherit that.
        let env = latch_e2e::window::web_process_env(&latch);
        assert!(env.iter().any(|var| var == "JSC_useJIT=0"), "the web process's environment: {env:?}");
        window.close().await;
    })
    .await;
}

/// The built page already holds the window's first screen (ui/vite.config.ts,
/// prerender), painted before the app is mounted; the live app then takes its
/// place: one sidebar, its list, a Settings button that works. Started at
/// login the window is hidden and paints no frames: the app still starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_screen_comes_with_the_page_and_the_live_app_takes_its_place_even_in_a_hidden_window() {
    let page = std::fs::read_to_string(latch_e2e::repo_root().join("ui/dist/index.html")).expect("make test builds ui/dist");
    let first = &page[page.find(r#"<div id="app">"#).expect("index.html has the app's element")..];
    let first = &first[..first.find("</body>").expect("index.html ends its body")];
    assert!(first.contains(">Latch</h1>") && first.contains(r#"data-testid="open-settings""#), "the page's first screen: {first}");
    assert!(!first.contains("connection-row") && !first.contains("<script"), "the page's first screen: {first}");

    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        latch.ok(&["add", "--name", "Before start", "--flow", "implicit", "--client-id", "c", "--authorize-url", "https://example.com/a"]);
        let window = Window::open(&latch).await;
        window.wait_for("[data-testid='connection-row'][data-name='Before start']").await;
        let counts = window.client.execute("return [document.querySelectorAll('.sidebar-head').length, document.querySelectorAll('h1').length];", vec![]).await;
        assert_eq!(counts.unwrap(), serde_json::json!([1, 1]), "the first screen is replaced, not doubled");
        window.click("open-settings").await;
        window.testid("settings").await;
        window.close().await;

        let hidden = Window::open_args(&latch, &["--hidden"]).await;
        let shown = hidden.client.execute("return document.visibilityState;", vec![]).await.unwrap();
        hidden.wait_for("[data-testid='connection-row'][data-name='Before start']").await;
        assert_eq!(shown, "hidden", "started at login, the window is hidden");
        hidden.close().await;
    })
    .await;
}

/// Clicks one of the detail's actions: the main button, or the item of that
/// name in its More menu (opened first when the action is not on screen).
async fn choose(window: &Window, id: &str) {
    if !window.exists(&format!("[data-testid='{id}']")).await {
        window.click("more-actions").await;
    }
    window.click(id).await;
}

/// Summaries of the notifications dunst received that name `name`, oldest first.
fn notifications_about(name: &str) -> Vec<String> {
    notifications_naming(name).into_iter().map(|(summary, _)| summary).collect()
}

/// (summary, body) of the notifications dunst received whose summary names `name`, oldest first.
fn notifications_naming(name: &str) -> Vec<(String, String)> {
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
                .filter_map(|n| Some((n["summary"]["data"].as_str()?, n["body"]["data"].as_str().unwrap_or_default())))
                .filter(|(summary, _)| summary.contains(name))
                .map(|(summary, body)| (summary.to_owned(), body.to_owned()))
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
        // In plain words: no provider code, no repeat of the summary.
        let (_, body) = notifications_naming("Forgetful").remove(0);
        assert_eq!(body, "The service no longer accepts the saved sign-in.");
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
            window.click_css(&format!("[data-testid='scope-option'][data-scope='{scope}']")).await;
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
        window.click_css("[data-testid='connection-row'][data-name='TV']").await;
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
                "--api-base-url",
                &academy.base,
                "--redirect-uri",
                &hosted,
            ],
            "academy-secret\n",
        );
        let window = Window::open(&latch).await;
        window.click_css("[data-testid='connection-row'][data-name='Academy']").await;
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
        window.click_css("[data-testid='connection-row'][data-name='Patient']").await;
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

// --- the forms, for people: sizes, errors, leaving, the picker ---------------

/// The `name` (or id) of the element that has the keyboard focus.
async fn active_name(window: &Window) -> String {
    let name = window
        .client
        .execute("const e = document.activeElement; return e ? (e.getAttribute('name') || e.id || e.tagName) : '';", vec![])
        .await
        .unwrap();
    name.as_str().unwrap_or_default().to_owned()
}

/// Whether the element matching `css` lies entirely inside the visible part of the window.
async fn in_view(window: &Window, css: &str) -> bool {
    let script = "const e = document.querySelector(arguments[0]); if (!e) return false; \
                  const r = e.getBoundingClientRect(); \
                  return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;";
    window.client.execute(script, vec![serde_json::json!(css)]).await.unwrap().as_bool().unwrap_or(false)
}

/// Whether anything in the page sticks out to the right (a horizontal scrollbar, text cut off).
async fn overflows_sideways(window: &Window) -> Vec<String> {
    let script = "const out = []; for (const e of document.querySelectorAll('main *')) { \
                    const r = e.getBoundingClientRect(); \
                    if (r.width > 0 && r.right > window.innerWidth + 1) out.push(e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40)); } \
                  const main = document.querySelector('main'); \
                  if (main && main.scrollWidth > main.clientWidth + 1) out.push('main scrolls sideways'); return out;";
    let found = window.client.execute(script, vec![]).await.unwrap();
    found.as_array().cloned().unwrap_or_default().iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

async fn scroll_to(window: &Window, css: &str) {
    let element = window.wait_for(css).await;
    window
        .client
        .execute("arguments[0].scrollIntoView({block: 'start'});", vec![serde_json::to_value(&element).unwrap()])
        .await
        .unwrap();
}

/// A screenshot once the window has painted what the page now holds (two animation frames, then a moment).
async fn painted_screenshot(window: &Window, name: &str) {
    let script = "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 150)));";
    let _ = window.client.execute_async(script, vec![]).await;
    window.screenshot(name).await;
}

async fn resize(window: &Window, width: u32, height: u32) {
    window.client.set_window_size(width, height).await.unwrap();
    let script = "return [window.innerWidth, window.innerHeight];";
    window
        .until(&format!("a {width}×{height} window"), || async {
            let size = window.client.execute(script, vec![]).await.unwrap();
            size[0].as_u64() == Some(u64::from(width)) && size[1].as_u64().is_some_and(|h| h + 40 >= u64::from(height))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_the_custom_form_and_settings_read_well_at_1040x720_and_800x600() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        for (width, height) in [(1040, 720), (800, 600)] {
            let size = format!("{width}x{height}");
            resize(&window, width, height).await;

            // The picker, with the training service tucked away.
            window.click("add-connection").await;
            window.wait_for("[data-testid='preset-card'][data-preset='google']").await;
            assert!(!window.exists("[data-preset='app-academy']").await, "App Academy waits behind the toggle");
            painted_screenshot(&window, &format!("picker-{size}")).await;
            assert_eq!(overflows_sideways(&window).await, Vec::<String>::new(), "picker at {size}");

            // The custom form: the redirect URI first, in view without scrolling.
            window.click("preset-custom").await;
            window.testid("connection-form").await;
            assert!(in_view(&window, "[data-testid='redirect-top']").await, "the redirect URI is in view at {size}");
            let top = window.text_of("[data-testid='redirect-top']").await;
            assert!(top.contains("sometimes called callback URL") && top.contains("http://127.0.0.1/callback"), "{top}");
            assert_eq!(active_name(&window).await, "name", "the cursor waits in the first field");
            painted_screenshot(&window, &format!("custom-form-top-{size}")).await;
            assert_eq!(overflows_sideways(&window).await, Vec::<String>::new(), "custom form at {size}");

            // Advanced, open, under its plain headings.
            window.click("advanced-toggle").await;
            scroll_to(&window, "#advanced-settings").await;
            painted_screenshot(&window, &format!("advanced-{size}")).await;
            scroll_to(&window, "#group-addresses").await;
            painted_screenshot(&window, &format!("advanced-addresses-{size}")).await;
            scroll_to(&window, "#group-sign-in").await;
            painted_screenshot(&window, &format!("advanced-sign-in-{size}")).await;
            assert_eq!(overflows_sideways(&window).await, Vec::<String>::new(), "Advanced at {size}");

            // Save with nothing filled in: the count, and the first field to fix.
            window.click("save").await;
            window
                .until("the count", || async { window.text_of("[data-testid='fix-count']").await.contains("need fixing") })
                .await;
            assert_eq!(active_name(&window).await, "name", "Save took the user to the first problem");
            painted_screenshot(&window, &format!("form-errors-after-save-{size}")).await;
            assert_eq!(overflows_sideways(&window).await, Vec::<String>::new(), "errors at {size}");

            // Settings: nothing was typed in the form, so it goes without a question.
            window.click("open-settings").await;
            window.testid("start-at-login").await;
            painted_screenshot(&window, &format!("settings-{size}")).await;
            assert_eq!(overflows_sideways(&window).await, Vec::<String>::new(), "Settings at {size}");
            window.click("settings-close").await;
        }
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_shows_its_error_only_once_left_and_save_says_how_many_need_fixing() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.testid("connection-form").await;
        // Typing, without leaving the field: no error yet, however long the engine has had.
        let token_url = window.wait_for("[name='token_url']").await;
        token_url.send_keys("not a url").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        assert!(!window.exists("[data-testid='error-token_url']").await, "no error while typing");
        assert!(!window.exists("[data-testid='error-name']").await, "no error for a field not reached");
        token_url.send_keys("\u{E004}").await.unwrap(); // Tab: leaving the field
        window
            .until("the error once left", || async {
                window.text_of("[data-testid='error-token_url']").await.contains("is not a valid URL")
            })
            .await;
        assert!(!window.exists("[data-testid='error-client_id']").await, "the client ID was never reached");
        window.click("save").await;
        // The errors and the count line paint in the same pass, but a read can
        // fall between them: wait for both.
        window
            .until("the count", || async {
                window.exists("[data-testid='error-client_id']").await
                    && window.exists("[data-testid='fix-count']").await
                    && window.text_of("[data-testid='fix-count']").await.contains("need fixing")
            })
            .await;
        let count = window.text_of("[data-testid='fix-count']").await;
        let errors = window.client.find_all(fantoccini::Locator::Css("[data-error-for]")).await.unwrap().len();
        assert!(count.contains(&format!("{errors} things need fixing")), "{count} for {errors} errors");
        assert_eq!(active_name(&window).await, "name", "the first problem, in the form's order");
        // Fixing one repaints the count.
        window.fill("name", "Lab").await;
        window
            .until("one fewer", || async {
                window.text_of("[data-testid='fix-count']").await.contains(&format!("{} thing", errors - 1))
            })
            .await;
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_in_a_changed_form_or_settings_is_not_thrown_away_by_a_click_elsewhere() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        let home = latch.data_dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        latch.ok(&["add", "--name", "Existing", "--flow", "implicit", "--client-id", "c", "--authorize-url", "https://example.com/a"]);
        let window = Window::open_with(&latch, &[("HOME", &home)]).await;

        // A changed form asks before Escape or a click in the list throws it away.
        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.fill("name", "Half done").await;
        window.wait_for("[name='name']").await.send_keys("\u{E00C}").await.unwrap(); // Escape
        window.testid("confirm-discard").await;
        painted_screenshot(&window, "discard-changes").await;
        window.wait_for("[role='alertdialog'] button:not([data-testid])").await.click().await.unwrap(); // Keep editing
        assert_eq!(value_of(&window, "name").await, "Half done", "kept");
        window.click_css("[data-testid='connection-row'][data-name='Existing']").await;
        window.click("confirm-discard").await;
        window.until("the detail", || async { window.text_of("[data-testid='detail-name']").await.contains("Existing") }).await;

        // Settings: ticking "Start at login" and closing keeps it.
        window.click("open-settings").await;
        window.click("start-at-login").await;
        assert_eq!(window.text_of("[data-testid='settings-close']").await, "Save and close");
        painted_screenshot(&window, "settings-changed").await;
        window.click("settings-close").await;
        window.until("Settings to close", || async { !window.exists("[data-testid='settings']").await }).await;
        let autostart = home.join(".config/autostart");
        let items: Vec<_> = std::fs::read_dir(&autostart).map(|dir| dir.flatten().collect()).unwrap_or_default();
        assert_eq!(items.len(), 1, "the login item was made on Close");
        assert_eq!(latch.ok(&["list", "--json"]).matches("Half done").count(), 0, "the discarded form saved nothing");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picker_hides_training_services_and_carries_an_address_into_the_custom_form() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.click("add-connection").await;
        window.wait_for("[data-testid='preset-card'][data-preset='make']").await;
        assert!(!window.exists("[data-preset='app-academy']").await);
        window.click("show-training").await;
        window.wait_for("[data-testid='preset-card'][data-preset='app-academy']").await;
        window.click("show-training").await;

        window.testid("preset-search").await.send_keys("https://id.example.com").await.unwrap();
        window.click("preset-custom").await;
        window.testid("connection-form").await;
        assert_eq!(value_of(&window, "issuer").await, "https://id.example.com");
        assert_eq!(active_name(&window).await, "name", "the cursor is in the first field");

        // Names are trimmed.
        window.fill("name", "  Spaced  ").await;
        window.fill("authorize_url", "https://example.com/auth").await;
        window.fill("token_url", "https://example.com/token").await;
        window.fill("client_id", "c").await;
        window.save_form().await;
        window.until("saved", || async { window.exists("[data-testid='connection-row'][data-name='Spaced']").await }).await;
        window.close().await;
    })
    .await;
}

// --- the detail and the list, as a person sees them ------------------------------

/// What the X clipboard holds now, read as another program would (xclip,
/// from scripts/install-deps.sh --test, on the test session's display).
fn clipboard_text() -> String {
    let out = std::process::Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .output()
        .expect("xclip runs (make test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_access_token_puts_the_stored_token_on_the_clipboard_and_never_in_the_page() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let op = Provider::oidc(&[]);
        let latch = Latch::new();
        latch.ok(&[
            "add", "--name", "Team Drive", "--flow", "authorization_code", "--client-id", "public-pkce",
            "--authorize-url", &op.url("/auth"), "--token-url", &op.url("/token"),
            "--scope", "openid", "--scope", "offline_access",
        ]);
        latch.ok(&["connect", "Team Drive"]);
        let window = Window::open(&latch).await;
        window.click_css("[data-testid='connection-row'][data-name='Team Drive']").await;
        window
            .until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") })
            .await;

        choose(&window, "copy-token").await;
        window
            .until("the copy to be confirmed", || async {
                window.text_of("[data-testid='copy-status']").await.contains("cleared in 45 s")
            })
            .await;
        assert_eq!(window.text_of("[data-testid='copy-status']").await, "Copied — cleared in 45 s");
        let access = latch.access_token("Team Drive");
        assert_eq!(clipboard_text(), access, "the clipboard holds the stored access token");
        window.screenshot("copied-token").await;

        let page = window.client.execute("return document.documentElement.outerHTML;", vec![]).await.unwrap();
        assert!(!page.as_str().unwrap().contains(&access), "the token never reaches the page");
        window.close().await;
    })
    .await;
}

/// The width the first twelve characters of the list row named `name` need,
/// and the width its name has: a name must never be squeezed below them.
async fn name_room(window: &Window, name: &str) -> (f64, f64) {
    let script = r#"
        const name = document.querySelector(`[data-testid='connection-row'][data-name="${arguments[0]}"] .name`);
        const probe = name.cloneNode();
        probe.textContent = name.textContent.slice(0, 12);
        Object.assign(probe.style, { position: "absolute", visibility: "hidden", width: "auto", minWidth: "0", maxWidth: "none", flex: "none" });
        name.parentElement.appendChild(probe);
        const needed = probe.getBoundingClientRect().width;
        probe.remove();
        return [needed, name.getBoundingClientRect().width];
    "#;
    let widths = window.client.execute(script, vec![serde_json::json!(name)]).await.unwrap();
    (widths[0].as_f64().unwrap(), widths[1].as_f64().unwrap())
}

/// Badge text of the list row named `name`.
async fn row_badge(window: &Window, name: &str) -> String {
    window.text_of(&format!("[data-testid='connection-row'][data-name=\"{name}\"] [data-testid='status-badge']")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_and_the_detail_read_right_at_1040x720_and_800x600() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let op = Provider::oidc(&[]);
        // 8-second tokens: the app refreshes them after 4 s. One provider goes
        // away (its connection retries), one forgets its grants (sign in again).
        let gone = Provider::oidc(&["--access-ttl", "8"]);
        let forgetful = Provider::oidc(&["--access-ttl", "8"]);
        let quirks = Provider::quirks();
        let latch = Latch::new();
        const LONG: &str = "Long name of the team's shared drive";
        let add = |name: &str, provider: &Provider| {
            latch.ok(&[
                "add", "--name", name, "--flow", "authorization_code", "--client-id", "public-pkce",
                "--authorize-url", &provider.url("/auth"), "--token-url", &provider.url("/token"),
                "--info-url", &provider.url("/me"),
                "--scope", "openid", "--scope", "offline_access", "--scope", "profile", "--scope", "api:read",
            ]);
            latch.ok(&["connect", name]);
        };
        add("Team Drive", &op);
        add(LONG, &gone);
        add("Lapsed", &forgetful);
        // The implicit flow never gives a refresh token.
        latch.ok(&[
            "add", "--name", "No Refresh", "--flow", "implicit", "--client-id", "quirky",
            "--authorize-url", &quirks.url("/implicit/authorize"), "--scope", "read",
        ]);
        latch.ok(&["connect", "No Refresh"]);
        let (status, _) = latch_e2e::http("POST", &forgetful.url("/__test/forget-grants"), &[], "");
        assert_eq!(status, 204);
        drop(gone);

        let window = Window::open(&latch).await;
        window
            .until("a retry and a needed sign-in", || async {
                row_badge(&window, LONG).await.starts_with("Retrying") && row_badge(&window, "Lapsed").await == "Needs sign-in"
            })
            .await;

        for (width, height) in [(1040, 720), (800, 600)] {
            window.client.set_window_size(width, height).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let (needed, has) = name_room(&window, LONG).await;
            assert!(has + 0.5 >= needed, "{width}×{height}: the name has {has} px, its first 12 characters need {needed} px");
            window.screenshot(&format!("list-{width}x{height}")).await;

            for (name, shot, status) in [
                ("Team Drive", "healthy", "Connected"),
                (LONG, "retrying", "Retrying"),
                ("Lapsed", "needs-sign-in", "Needs sign-in"),
                ("No Refresh", "no-refresh-token", "Connected"),
            ] {
                window.click_css(&format!("[data-testid='connection-row'][data-name=\"{name}\"]")).await;
                window
                    .until(name, || async {
                        window.text_of("[data-testid='detail-name']").await == name
                            && window.text_of("[data-testid='detail-status']").await.contains(status)
                    })
                    .await;
                match shot {
                    "healthy" => {
                        let summary = window.text_of("[data-testid='state-summary']").await;
                        assert!(summary.starts_with("Renews automatically · last renewed"), "{summary}");
                        assert_eq!(window.text_of("[data-testid='test-request']").await, "Test request", "the main button");
                    }
                    "retrying" => {
                        let summary = window.text_of("[data-testid='state-summary']").await;
                        assert!(summary.contains("Latch tries again at") && summary.ends_with("— or refresh now."), "{summary}");
                        assert!(window.testid("refresh").await.is_enabled().await.unwrap(), "Refresh now is the retry");
                    }
                    "needs-sign-in" => {
                        assert_eq!(window.text_of("[data-testid='connect']").await, "Sign in again", "the main button");
                        let shown = window.text_of("[data-testid='detail']").await;
                        assert!(!shown.contains("invalid_grant"), "no error code outside Details:\n{shown}");
                    }
                    _ => {
                        let summary = window.text_of("[data-testid='state-summary']").await;
                        assert!(summary.starts_with("This service gave no refresh token: Latch cannot renew the sign-in"), "{summary}");
                    }
                }
                window.screenshot(&format!("detail-{shot}-{width}x{height}")).await;
            }
        }

        // The More menu and the test request panel, at the small size.
        window.click_css("[data-testid='connection-row'][data-name='Team Drive']").await;
        window.click("more-actions").await;
        window.testid("copy-token").await;
        window.screenshot("detail-more-menu-800x600").await;
        window.client.execute("document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));", vec![]).await.unwrap();
        window.until("the menu to close", || async { !window.exists("[role='menu']").await }).await;
        window.click("test-request").await;
        window.fill("test_url", &op.url("/api/echo")).await;
        window.testid("request-preview").await;
        window.screenshot("detail-test-request-800x600").await;
        window.close().await;
    })
    .await;
}
