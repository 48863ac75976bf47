//! A connection made from a Make-style spec in the real Latch window: the
//! App Academy spec pasted into "Add connection → From a Make connection
//! spec…", its form filled and saved, a sign-in through the scripted
//! browser against the App Academy stand-in, then the spec editor and its
//! step runner. Saves screenshots of every new screen at 1040×720 and
//! 800×600 under target/e2e-screenshots/spec-*.png.

use latch_e2e::window::{within, Window};
use latch_e2e::{academy_spec_text, Latch, Provider};

static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Screenshots at both sizes, with `shown` (a test id) scrolled into view.
async fn screenshots(window: &Window, name: &str, shown: &str) {
    window.screenshots(&format!("spec-{name}"), Some(&format!("[data-testid='{shown}']")), "start").await
}

/// Puts `text` into a textarea as a paste would (typing 4 kB key by key is slow over WebDriver).
async fn paste_into(window: &Window, id: &str, text: &str) {
    let element = window.testid(id).await;
    window
        .client
        .execute(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', { bubbles: true }));",
            vec![serde_json::to_value(&element).unwrap(), serde_json::Value::from(text)],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_app_academy_spec_is_saved_connected_and_its_info_step_run_from_the_window() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let academy = Provider::academy(&[]);
        let latch = Latch::new();
        let window = Window::open(&latch).await;

        window.click("add-connection").await;
        window.click("preset-spec").await;
        window.testid("spec-open").await;
        screenshots(&window, "open", "spec-open").await;
        window.click("spec-paste").await;
        paste_into(&window, "spec-text", &academy_spec_text(&academy.base)).await;
        window.click("spec-open-pasted").await;
        window.testid("spec-form").await;
        let redirect = window.shown("[data-testid='redirect-uri']").await;
        assert!(redirect.starts_with("http://127.0.0.1"), "the redirect URI to register comes first: {redirect}");
        // The spec's scopes, labelled, its default ones ticked.
        let scopes = window.shown("[data-testid='spec-scopes']").await;
        assert!(scopes.contains("Read data"), "{scopes}");
        screenshots(&window, "form", "spec-form").await;

        let name = window.testid("spec-name").await;
        name.clear().await.unwrap();
        name.send_keys("Academy").await.unwrap();
        window.wait_for("[data-testid='spec-common'][data-key='clientId']").await.send_keys("academy-client").await.unwrap();
        let secret = window.wait_for("[data-testid='spec-common'][data-key='clientSecret']").await;
        assert_eq!(secret.attr("type").await.unwrap().as_deref(), Some("password"), "the client secret is masked");
        secret.send_keys("academy-secret").await.unwrap();
        window.click("save").await;
        window.testid("detail").await;
        window
            .until("the new connection's detail", || async { window.text_of("[data-testid='detail-name']").await == "Academy" })
            .await;

        // Connect, as any connection: the scripted browser follows the redirects.
        window.click("connect").await;
        window
            .until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") })
            .await;
        window
            .until("the account", || async { window.text_of("[data-testid='account']").await.contains("Jane Doe") })
            .await;
        let facts = window.shown("[data-testid='spec-facts']").await;
        assert!(facts.contains("Saved in your keyring"), "{facts}");
        screenshots(&window, "detail", "detail").await;
        assert_eq!(latch.show("Academy")["kind"], "spec", "the CLI sees the window's connection");

        // Change values…: the add form's fields, secrets empty (never shown); saved through the engine, still
        // signed in. The client secret typed again goes to the keyring: the step run below still uses it.
        window.click("show-change-values").await;
        window.testid("spec-form").await;
        let secret = window.wait_for("[data-testid='spec-common'][data-key='clientSecret']").await;
        assert_eq!(secret.prop("value").await.unwrap().as_deref(), Some(""), "a saved secret is never shown");
        secret.send_keys("academy-secret").await.unwrap();
        screenshots(&window, "change-values", "spec-form").await;
        window.click("save").await;
        window
            .until("the facts again", || async { window.text_of("[data-testid='spec-facts']").await.contains("Saved in your keyring") })
            .await;
        assert!(window.shown("[data-testid='detail-status']").await.contains("Connected"), "Change values… keeps the sign-in");
        assert_eq!(latch.show("Academy")["status"], "connected");

        // The spec editor (loaded on demand) and the step runner.
        window.click("show-spec").await;
        window.wait_for("[data-testid='spec-editor'] .cm-editor").await;
        let shown = window.shown("[data-testid='spec-editor']").await;
        assert!(shown.contains("communication"), "the spec's JSON: {shown}");
        assert!(!shown.contains("academy-secret"), "no common value reaches the editor");
        screenshots(&window, "editor", "spec-editor").await;
        window.click("run-info").await;
        window
            .until("the step's account", || async { window.text_of("[data-testid='step-account']").await.contains("Jane Doe") })
            .await;
        let report = window.shown("[data-testid='step-report']").await;
        assert!(!report.contains("academy-secret"), "secrets are masked: {report}");
        screenshots(&window, "step-run", "step-runner").await;
        window.close().await;
    })
    .await;
}
