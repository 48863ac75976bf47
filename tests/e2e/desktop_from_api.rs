//! Adding a connection from nothing but an API address, in the real Latch
//! window: the API (tests/providers/resource_server.py) names oidc-provider
//! in its RFC 9728 metadata, Latch registers itself there, the window says
//! so in words, Sign in signs in through the browser, and the token works at
//! the API. Saves screenshots at 1040×720 and 800×600 under
//! target/e2e-screenshots/from-api-*.png.

use latch_e2e::window::{within, Window};
use latch_e2e::{http, Latch, Provider};
use serde_json::Value;

/// Screenshots at both sizes, as the screen is.
async fn screenshots(window: &Window, name: &str) {
    window.screenshots(&format!("from-api-{name}"), None, "center").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_address_becomes_a_connection_that_signs_in_and_reaches_the_api() {
    within(240, async {
        let api = Provider::resource(&[]);
        let resource = api.ready["resource"].as_str().unwrap().to_owned();
        let op = Provider::oidc(&["--resource-server", &resource]);
        let config = serde_json::json!({ "issuer": op.base, "client_id": "conf-basic", "client_secret": "conf-basic-secret" });
        let (status, _) = http("POST", &api.url("/__test/config"), &[("Content-Type", "application/json")], &config.to_string());
        assert_eq!(status, 200);
        let latch = Latch::new();

        let window = Window::open(&latch).await;
        window.click("add-connection").await;
        window.click("preset-api").await;
        window.testid("api-address").await;
        screenshots(&window, "form").await;
        window.fill("api_url", &resource).await;
        window.fill("name", "Notes").await;
        window.click("api-add").await;
        window.testid("api-found").await;
        let found = window.shown("[data-testid='api-found']").await;
        let issuer_host = op.base.trim_start_matches("http://").to_owned();
        assert!(found.contains(&issuer_host), "names where the API signs in: {found}");
        assert!(found.contains("register Latch by itself"), "{found}");
        assert_eq!(op.stats()["registrations"], 1, "Latch registered itself once");
        screenshots(&window, "found").await;

        window.click("connect").await;
        window
            .until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") })
            .await;
        screenshots(&window, "connected").await;

        // The token the window's sign-in got works at the API.
        let answer: Value = serde_json::from_str(&latch.ok(&["request", "Notes", &format!("{resource}/items")])).unwrap();
        assert_eq!(answer["ok"], true, "{answer}");
        let secrets = latch.stored_secrets("Notes");
        window.close().await;
        latch.assert_no_secret_leaks(&secrets);
    })
    .await;
}
