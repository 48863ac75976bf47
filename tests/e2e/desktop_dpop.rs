//! DPoP in the real Latch window: a connection made in the form with "Bind
//! tokens to this computer (DPoP)" ticked signs in at oidc-provider, the
//! detail says its tokens are bound, and the Test request reaches an API
//! that takes only bound tokens with a proof (tests/providers/dpop_api.mjs),
//! while no curl command is offered. Screenshots under
//! target/e2e-screenshots/dpop-*.png.

use latch_e2e::window::{within, Window};
use latch_e2e::{http, Latch, Provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_bound_in_the_form_signs_in_and_its_test_request_carries_a_proof() {
    within(180, async {
        let api = Provider::dpop_api(&[]);
        let resource = api.ready["resource"].as_str().unwrap().to_owned();
        let op = Provider::oidc(&[]);
        let config = serde_json::json!({ "issuer": op.base, "client_id": "conf-basic", "client_secret": "conf-basic-secret" });
        http("POST", &api.url("/__test/config"), &[("Content-Type", "application/json")], &config.to_string());
        let latch = Latch::new();
        let window = Window::open(&latch).await;

        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.testid("connection-form").await;
        window.fill("name", "Bound API").await;
        window.fill("authorize_url", &op.url("/auth")).await;
        window.fill("token_url", &op.url("/token")).await;
        window.fill("client_id", "public-pkce").await;
        window.fill("api_base_url", &resource).await;
        window.testid("scope-input").await.send_keys("openid\u{E007}").await.unwrap();
        window.click("advanced-toggle").await;
        window.click("dpop").await;
        window.screenshot("dpop-form").await;
        window.save_form().await;
        assert_eq!(latch.show("Bound API")["dpop"], true, "the form saved the choice");

        window.click("connect").await;
        window
            .until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") })
            .await;
        assert_eq!(window.shown("[data-testid='detail-dpop']").await, "On");
        assert_eq!(latch.keyring_tokens("Bound API").unwrap()["token_type"], "DPoP");

        window.click("test-request").await;
        window.fill("test_url", &format!("{resource}/items")).await;
        window
            .until("the DPoP preview", || async {
                window.text_of("[data-testid='request-preview']").await.contains("authorization: DPoP ••••••")
            })
            .await;
        assert!(window.text_of("[data-testid='request-preview']").await.contains("dpop: a new proof for this request"));
        window.wait_for("[data-testid='test-request-panel'] button[type='submit']").await.click().await.unwrap();
        window.until("200", || async { window.text_of("[data-testid='response']").await.starts_with("200") }).await;
        assert!(window.text_of("[data-testid='response-body']").await.contains("\"ok\": true"));
        assert_eq!(api.stats()["api_ok"], 1, "the API checked the proof");
        let note = window.shown("[data-testid='curl-bound']").await;
        assert!(note.starts_with("No curl command: this connection's tokens are bound to this computer (DPoP)"), "{note}");
        assert!(!window.text_of("[data-testid='test-request-panel']").await.contains("Copy as curl"));
        window.screenshot("dpop-test-request").await;
        window.close().await;
    })
    .await;
}
