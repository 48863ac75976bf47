//! An OAuth 1.0a connection in the real Latch window, against the real
//! oauthlib server (tests/providers/oauth1.py): "Add connection → OAuth
//! 1.0a", the form filled with an RSA private key pasted as PEM text (the
//! native file chooser cannot be driven), saved, connected through the
//! scripted browser, a signed test request to /api/me, and Disconnect.
//! Saves screenshots of the new screens at 1040×720 and 800×600 under
//! target/e2e-screenshots/oauth1-*.png.

use latch_e2e::window::{within, Window};
use latch_e2e::{repo_root, Latch, Provider};

static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Screenshots at both sizes, with `shown` (a test id) scrolled into view.
async fn screenshots(window: &Window, name: &str, shown: &str) {
    window.screenshots(&format!("oauth1-{name}"), Some(&format!("[data-testid='{shown}']")), "start").await
}

/// Puts `text` into a field as a paste would (typing a 1.7 kB key key by key is slow over WebDriver).
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

/// Chooses an option of a select as the keyboard would (WebKit's driver cannot click an option).
async fn choose(window: &Window, id: &str, value: &str) {
    let element = window.testid(id).await;
    window
        .client
        .execute(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', { bubbles: true }));",
            vec![serde_json::to_value(&element).unwrap(), serde_json::Value::from(value)],
        )
        .await
        .unwrap();
}

async fn type_into(window: &Window, id: &str, text: &str) {
    let input = window.testid(id).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsa_oauth1_connection_is_added_connected_tested_and_disconnected_from_the_window() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let server = Provider::oauth1();
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        let pem = std::fs::read_to_string(repo_root().join("tests/providers/oauth1-rsa-key.pem")).unwrap();

        window.click("add-connection").await;
        let offered = window.testid("preset-oauth1").await.text().await.unwrap();
        assert!(offered.contains("Trello, Flickr or Jira Server"), "{offered}");
        screenshots(&window, "picker", "preset-oauth1").await;
        window.click("preset-oauth1").await;
        window.testid("oauth1-form").await;
        let callback = window.testid("redirect-uri").await.text().await.unwrap();
        assert_eq!(callback, "http://127.0.0.1/callback", "the callback URL to register comes first");

        type_into(&window, "o1-name", "Photos").await;
        type_into(&window, "o1-request_token_url", &server.url("/oauth/request_token")).await;
        type_into(&window, "o1-authorize_url", &server.url("/oauth/authorize")).await;
        type_into(&window, "o1-access_token_url", &server.url("/oauth/access_token")).await;
        type_into(&window, "o1-consumer_key", "rsa-client").await;
        choose(&window, "o1-signature_method", "rsa_sha1").await;
        paste_into(&window, "o1-pem", &pem).await;
        window.click("o1-advanced").await;
        type_into(&window, "o1-revoke_url", &server.url("/oauth/invalidate")).await;
        screenshots(&window, "form", "oauth1-form").await;
        screenshots(&window, "form-key", "o1-consumer_key").await;
        window.click("save").await;

        window.testid("detail").await;
        window.until("the new connection's detail", || async { window.text_of("[data-testid='detail-name']").await == "Photos" }).await;
        let shown = latch.show("Photos");
        assert_eq!(shown["kind"], "oauth1", "the CLI sees the window's connection: {shown}");
        assert!(shown.to_string().contains("rsa_sha1"), "signed with RSA-SHA1: {shown}");

        // Connect: the scripted browser follows the authorize page's redirect to Latch's callback.
        window.click("connect").await;
        window.until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") }).await;
        window.until("the account", || async { window.text_of("[data-testid='account']").await.contains("ann") }).await;
        let facts = window.shown("[data-testid='oauth1-facts']").await;
        assert!(facts.contains("Private key") && facts.contains("Saved in your keyring"), "{facts}");
        assert!(facts.contains("RSA-SHA1"), "{facts}");
        let summary = window.shown("[data-testid='state-summary']").await;
        assert!(summary.contains("lasts until you disconnect"), "{summary}");
        assert!(!window.shown("[data-testid='detail']").await.contains("BEGIN"), "the key is never shown again");
        screenshots(&window, "detail", "detail").await;

        // A test request, signed by the engine, accepted by the server.
        window.click("test-request").await;
        window.fill("test_url", &server.url("/api/me")).await;
        window.wait_for("[data-testid='test-request-panel'] button[type='submit']").await.click().await.unwrap();
        window.testid("response").await;
        let response = window.shown("[data-testid='response']").await;
        assert!(response.starts_with("200"), "{response}");
        assert!(window.shown("[data-testid='response-body']").await.contains("ann"), "{response}");
        window.click("more-actions").await;
        window.wait_for("[role='menu']").await;
        let menu = window.shown("[role='menu']").await;
        assert!(!menu.contains("Refresh now") && !menu.contains("Copy access token"), "nothing to renew, no bearer token: {menu}");
        window.click("more-actions").await;
        window.until("the menu to close", || async { !window.exists("[role='menu']").await }).await;
        screenshots(&window, "test-request", "test-request-panel").await;

        window.click("more-actions").await;
        window.click("disconnect").await;
        window.click("confirm-disconnect").await;
        let outcome = window.testid("disconnect-outcome").await.text().await.unwrap();
        assert!(outcome.contains("was told to cancel the sign-in"), "the revoke URL was called: {outcome}");
        window.until("Not connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Not connected") }).await;

        // Edited to "the service shows a code": its own form again, the key kept; Connect asks for the code.
        window.click("more-actions").await;
        window.click("edit").await;
        window.testid("oauth1-form").await;
        assert_eq!(window.testid("o1-consumer_key").await.prop("value").await.unwrap().as_deref(), Some("rsa-client"));
        assert_eq!(window.testid("o1-pem").await.prop("value").await.unwrap().as_deref(), Some(""), "the saved key is not shown");
        window.click("o1-callback-oob").await;
        window.click("save").await;
        window.until("the detail", || async { window.exists("[data-testid='oauth1-facts']").await }).await;
        window.click("connect").await;
        window.wait_for("#pasted-address").await;
        let waiting = window.shown("[data-testid='waiting']").await;
        assert!(waiting.contains("Code shown by the service"), "{waiting}");
        screenshots(&window, "code", "waiting").await;
        window.click("cancel-connect").await;
        window.until("the sign-in to end", || async { !window.exists("[data-testid='waiting']").await }).await;

        // Trello: its addresses filled in, marked Not verified.
        window.click("add-connection").await;
        window.wait_for("[data-testid='oauth1-start'][data-preset='oauth1-trello']").await.click().await.unwrap();
        window.testid("not-verified").await;
        assert_eq!(
            window.testid("o1-request_token_url").await.prop("value").await.unwrap().as_deref(),
            Some("https://trello.com/1/OAuthGetRequestToken")
        );
        screenshots(&window, "trello", "oauth1-form").await;
        window.close().await;
    })
    .await;
}
