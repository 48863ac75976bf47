//! The record of use in the real Latch window: a token handed to a script
//! and one copied in the window show under the connection's Recent use in
//! words, newest first, and the retention chosen in Settings reaches the
//! engine's settings table. Saves screenshots of both at 1040×720 and
//! 800×600 under target/e2e-screenshots/usage-*.png.

use latch_e2e::window::{within, Window};
use latch_e2e::{Latch, Provider};

static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Screenshots at both sizes, with `shown` (a test id) scrolled into view.
async fn screenshots(window: &Window, name: &str, shown: &str) {
    window.screenshots(&format!("usage-{name}"), Some(&format!("[data-testid='{shown}']")), "end").await
}

/// The Recent use rows' words (the first line of each), newest first.
async fn uses_shown(window: &Window) -> Vec<String> {
    let script =
        "return [...document.querySelectorAll(\"[data-testid='usage-row'] .words\")].map((w) => w.textContent);";
    let words = window.client.execute(script, vec![]).await.unwrap();
    serde_json::from_value(words).unwrap_or_default()
}

fn connected(latch: &Latch, op: &Provider, name: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_given_to_a_script_and_one_copied_in_the_window_show_under_recent_use_in_words() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let op = Provider::oidc(&[]);
        let latch = Latch::new();
        connected(&latch, &op, "Team Drive");
        connected(&latch, &op, "Other");
        // Before the window opens: a script (this test) asks for the token.
        latch.ok(&["token", "Team Drive"]);
        latch.ok(&["token", "Other"]);

        let window = Window::open(&latch).await;
        window.click_css("[data-testid='connection-row'][data-name='Team Drive']").await;
        window
            .until("the script's use", || async {
                uses_shown(&window).await == ["Given to a program from the terminal"]
            })
            .await;
        // The program that asked, by its file name (this test's binary); its path and process in the tooltip.
        let program = window.testid("usage-program").await;
        let test_binary = std::env::current_exe().unwrap();
        let file_name = test_binary.file_name().unwrap().to_str().unwrap();
        assert_eq!(program.text().await.unwrap(), file_name);
        let details = program.attr("title").await.unwrap().unwrap_or_default();
        assert!(details.contains(test_binary.to_str().unwrap()) && details.contains("process "), "{details}");

        // Copy in the window: the row comes at the top without a reload.
        window.click("more-actions").await;
        window.click("copy-token").await;
        window
            .until("the copy in Recent use", || async {
                uses_shown(&window).await == ["Copied in Latch", "Given to a program from the terminal"]
            })
            .await;
        // A script asking while the window is open (the app's agent answers it) shows too.
        latch.ok(&["token", "Team Drive"]);
        window
            .until("the second script's use", || async {
                uses_shown(&window).await
                    == [
                        "Given to a program from the terminal",
                        "Copied in Latch",
                        "Given to a program from the terminal",
                    ]
            })
            .await;
        let when = window.shown("[data-testid='usage-row'] time").await;
        assert_eq!(when, "just now");
        // Answered by the app's agent, the token is still the script's: the program is this test, not `latch`.
        let script =
            "return [...document.querySelectorAll(\"[data-testid='usage-program']\")].map((p) => p.textContent);";
        let programs = window.client.execute(script, vec![]).await.unwrap();
        assert_eq!(programs, serde_json::json!([file_name, file_name]));

        // The filter narrows the list to what happened in Latch.
        let filter = window.testid("usage-filter").await;
        filter.select_by_label("In Latch").await.unwrap();
        window.until("only the copy", || async { uses_shown(&window).await == ["Copied in Latch"] }).await;
        filter.select_by_label("Everything").await.unwrap();
        window.until("every use again", || async { uses_shown(&window).await.len() == 3 }).await;
        screenshots(&window, "recent-use", "recent-use").await;

        // Another connection shows its own uses only.
        window.click_css("[data-testid='connection-row'][data-name='Other']").await;
        window
            .until("Other's one use", || async {
                uses_shown(&window).await == ["Given to a program from the terminal"]
            })
            .await;

        let page = window.client.execute("return document.documentElement.outerHTML;", vec![]).await.unwrap();
        let access = latch.access_token("Team Drive");
        assert!(!page.as_str().unwrap().contains(&access), "the record of use never carries the token");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_the_record_of_use_is_kept_are_chosen_in_settings_and_refused_outside_one_to_365() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.click("open-settings").await;
        let days = window.testid("usage-kept-days").await;
        assert_eq!(days.prop("value").await.unwrap().as_deref(), Some("30"), "a month unless changed");

        window.fill("usage_kept_days", "400").await;
        window.click("settings-save").await;
        window
            .until("the engine's refusal", || async {
                window.text_of("[data-testid='error-usage_kept_days']").await
                    == "Keep the record of use for 1 to 365 days."
            })
            .await;
        screenshots(&window, "settings-refused", "settings").await;

        window.fill("usage_kept_days", "7").await;
        window.click("settings-save").await;
        window
            .until("Saved", || async { window.text_of("[data-testid='settings-status']").await.contains("Saved") })
            .await;
        screenshots(&window, "settings", "settings").await;
        window.close().await;

        let db = rusqlite::Connection::open_with_flags(
            latch.data_dir.path().join("latch.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let kept: String =
            db.query_row("SELECT value FROM settings WHERE key = 'usage_kept_days'", [], |row| row.get(0)).unwrap();
        assert_eq!(kept, "7");
    })
    .await;
}
