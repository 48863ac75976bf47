//! Where a connection's sign-in may go, and the app's local proxy, in the
//! real Latch window against the real quirk provider and API upstream
//! (tests/providers/api_upstream.py): a Test request to another host is
//! refused before anything is sent, its "Edit allowed hosts" opens the form
//! there, and the host added is then allowed; Settings' Local proxy switch
//! starts the proxy (a port in use is said in words), Copy proxy key puts
//! its key on the clipboard, and curl with that key reaches the API through
//! the app. Saves screenshots at 1040×720 and 800×600 under
//! target/e2e-screenshots/api-*.png.

use std::process::Command;

use latch_e2e::window::{within, Window};
use latch_e2e::{curl, Latch, Provider};
use serde_json::Value;

static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Screenshots at both sizes, with `shown` (a test id) scrolled into view.
async fn screenshots(window: &Window, name: &str, shown: &str) {
    window.screenshots(&format!("api-{name}"), Some(&format!("[data-testid='{shown}']")), "center").await
}

/// A client-credentials connection whose API is the upstream, connected.
fn team_api(latch: &Latch, quirks: &Provider, api: &Provider) {
    latch.ok_with_stdin(
        &[
            "add", "--name", "Team API", "--flow", "client_credentials", "--client-id", "proxy-client",
            "--client-secret-stdin", "--token-url", &quirks.url("/token/short"), "--api-base-url", &api.base,
        ],
        "proxy-secret\n",
    );
    latch.ok(&["connect", "Team API"]);
}

fn requests(api: &Provider) -> u64 {
    api.stats()["requests"].as_u64().unwrap_or(0)
}

/// Sends a Test request to `url` from the open detail's panel.
async fn test_request(window: &Window, url: &str) {
    window.fill("test_url", url).await;
    window.wait_for("[data-testid='test-request-panel'] button[type='submit']").await.click().await.unwrap();
}

/// What the X clipboard holds now, read as another program would (xclip).
fn clipboard_text() -> String {
    let out = Command::new("xclip").args(["-o", "-selection", "clipboard"]).output().expect("xclip runs (make test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_request_to_another_host_is_refused_unsent_and_edit_allowed_hosts_opens_the_form_there() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let quirks = Provider::quirks();
        let api = Provider::api(&quirks.url("/api/echo"));
        let latch = Latch::new();
        team_api(&latch, &quirks, &api);
        let port = api.ready["port"].as_u64().unwrap();
        // The upstream itself, under another name: sent, it would be counted.
        let elsewhere = format!("http://localhost:{port}/echo/stolen");

        let window = Window::open(&latch).await;
        window.click("connection-row").await;
        let facts = window.shown("[data-testid='detail-api-base-url']").await;
        assert_eq!(facts, api.base, "the detail shows the API address");
        assert_eq!(window.shown("[data-testid='detail-allowed-hosts']").await, "No other hosts");

        window.click("test-request").await;
        test_request(&window, &elsewhere).await;
        let error = window.shown("[data-testid='request-error']").await;
        assert!(error.contains(&format!("localhost:{port}")), "the refusal names the host: {error}");
        assert_eq!(requests(&api), 0, "nothing reached the upstream");
        assert_eq!(window.shown("[data-testid='error-action']").await, "Edit allowed hosts");
        screenshots(&window, "refused", "request-error").await;

        // The API address itself is allowed.
        test_request(&window, &format!("{}/echo/fine", api.base)).await;
        window.until("200", || async { window.text_of("[data-testid='response']").await.starts_with("200") }).await;
        assert_eq!(requests(&api), 1);

        // The refusal's button opens the form with the cursor at the allowed hosts.
        test_request(&window, &elsewhere).await;
        window.click("error-action").await;
        window.testid("api-section").await;
        window
            .until("the focus in the allowed hosts", || async {
                let focused = window.client.execute("return document.activeElement?.dataset?.testid ?? '';", vec![]).await.unwrap();
                focused == "allowed_hosts-add"
            })
            .await;
        screenshots(&window, "form-allowed-hosts", "api-section").await;
        window.click("allowed_hosts-add").await;
        window.fill("allowed_hosts.0", &format!("localhost:{port}")).await;
        window.save_form().await;
        window
            .until("the detail with the host", || async {
                window.text_of("[data-testid='detail-allowed-hosts']").await == format!("localhost:{port}")
            })
            .await;
        let shown = latch.show("Team API");
        assert_eq!(shown["allowed_hosts"], serde_json::json!([format!("localhost:{port}")]), "{shown}");
        screenshots(&window, "detail", "detail-allowed-hosts").await;

        window.click("test-request").await;
        test_request(&window, &elsewhere).await;
        window.until("200", || async { window.text_of("[data-testid='response']").await.starts_with("200") }).await;
        assert_eq!(requests(&api), 2, "allowed now, it went");
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_switched_on_in_settings_carries_a_request_with_the_copied_key_to_the_api() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let quirks = Provider::quirks();
        let api = Provider::api(&quirks.url("/api/echo"));
        let latch = Latch::new();
        team_api(&latch, &quirks, &api);
        // A port another program holds.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();

        let window = Window::open(&latch).await;
        window.click("open-settings").await;
        window.click("proxy-enabled").await;
        window.fill("proxy_port", &taken_port.to_string()).await;
        window.click("settings-save").await;
        window
            .until("the port in use, in words", || async {
                window.text_of("[data-testid='proxy-problem']").await.contains("already used by another program")
            })
            .await;
        assert!(!window.exists("[data-testid='copy-proxy-key']").await);
        screenshots(&window, "settings-port-taken", "local-proxy").await;

        // A privileged port: the engine's rule beside the field.
        window.fill("proxy_port", "80").await;
        window.click("settings-save").await;
        window
            .until("the port rule", || async {
                window.text_of("[data-testid='error-proxy_port']").await
                    == "Choose a port from 1024 to 65535, or 0 to let Latch pick a free one."
            })
            .await;

        window.fill("proxy_port", "0").await;
        window.click("settings-save").await;
        let address = window.testid("proxy-address").await;
        let url = address.text().await.unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        window.click("copy-proxy-key").await;
        window
            .until("Copied", || async { window.text_of("[data-testid='proxy-key-status']").await.contains("Copied") })
            .await;
        let key = clipboard_text();
        assert!(key.len() >= 32, "a key on the clipboard: {} characters", key.len());
        let page = window.client.execute("return document.documentElement.outerHTML;", vec![]).await.unwrap();
        assert!(!page.as_str().unwrap().contains(&key), "the key never enters the page");
        screenshots(&window, "settings-proxy-on", "local-proxy").await;

        // Without the key: refused, nothing forwarded. With it: through to the API with the token.
        let (status, _) = curl(&[&format!("{url}/Team%20API/echo/hello")]);
        assert_eq!(status, 407);
        assert_eq!(requests(&api), 0);
        let (status, body) =
            curl(&["-H", &format!("Proxy-Authorization: Bearer {key}"), &format!("{url}/Team%20API/echo/hello?x=1")]);
        assert_eq!(status, 200, "{body}");
        let echo: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(echo["path"], "/echo/hello");
        assert_eq!(requests(&api), 1);

        // Switched off: the proxy stops listening.
        window.click("proxy-enabled").await;
        window.click("settings-save").await;
        window.until("no address", || async { !window.exists("[data-testid='proxy-address']").await }).await;
        let (status, _) = curl(&["-H", &format!("Proxy-Authorization: Bearer {key}"), &format!("{url}/Team%20API/echo/again")]);
        assert_eq!(status, 0, "nothing listens any more");
        assert_eq!(requests(&api), 1);
        drop(taken);
        window.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth1_and_spec_connections_show_and_change_their_api_address_and_allowed_hosts() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let latch = Latch::new();
        latch.ok_with_stdin(
            &[
                "add", "--kind", "oauth1", "--name", "Photos", "--consumer-key", "photos-key", "--consumer-secret-stdin",
                "--request-token-url", "https://photos.example.com/oauth/request_token",
                "--authorize-url", "https://photos.example.com/oauth/authorize",
                "--access-token-url", "https://photos.example.com/oauth/access_token",
                "--api-base-url", "https://api.photos.example.com", "--allow-host", "*.photos-cdn.example.com",
            ],
            "photos-secret\n",
        );
        let spec = latch.data_dir.path().with_extension("academy.json");
        std::fs::write(&spec, latch_e2e::academy_spec_text("https://academy.example.com")).unwrap();
        latch.ok_with_stdin(
            &["add", "--spec", spec.to_str().unwrap(), "--name", "Academy", "--common", "clientId=academy-client",
              "--common-stdin", "clientSecret"],
            "academy-secret\n",
        );

        let window = Window::open(&latch).await;
        window.click_css("[data-testid='connection-row'][data-name='Photos']").await;
        let facts = window.shown("[data-testid='oauth1-facts']").await;
        assert!(facts.contains("https://api.photos.example.com"), "{facts}");
        assert!(facts.contains("every address under photos-cdn.example.com"), "{facts}");
        screenshots(&window, "oauth1-detail", "detail-allowed-hosts").await;
        window.click("more-actions").await;
        window.click("edit").await;
        window.testid("api-section").await;
        screenshots(&window, "oauth1-form", "api-section").await;
        window.click("cancel").await;

        window.click_css("[data-testid='connection-row'][data-name='Academy']").await;
        window.testid("spec-facts").await;
        window.click("show-change-values").await;
        window.testid("api-section").await;
        window.fill("api_base_url", "https://api.academy.example.com").await;
        window.click("allowed_hosts-add").await;
        window.fill("allowed_hosts.0", "files.academy.example.com").await;
        screenshots(&window, "spec-change-values", "api-section").await;
        window.click("save").await;
        window
            .until("the facts with the API address", || async {
                window.text_of("[data-testid='detail-api-base-url']").await == "https://api.academy.example.com"
            })
            .await;
        assert_eq!(window.shown("[data-testid='detail-allowed-hosts']").await, "files.academy.example.com");
        screenshots(&window, "spec-detail", "detail-allowed-hosts").await;
        let shown = latch.show("Academy");
        assert_eq!(shown["api_base_url"], "https://api.academy.example.com", "{shown}");
        assert_eq!(shown["allowed_hosts"], serde_json::json!(["files.academy.example.com"]), "{shown}");
        window.close().await;
    })
    .await;
}
