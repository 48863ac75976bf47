//! private_key_jwt (RFC 7523) in the real Latch window against oidc-provider:
//! a client-credentials connection added in the form with "Signed with a key
//! only this computer has" and "Make a key for me" is saved with a key Latch
//! made in Rust; the detail shows its public key to register; once the key
//! is registered at the provider and the client ID changed in the form,
//! Connect gets a token. No private key text is ever on the page. Saves
//! screenshots at 1040×720 and 800×600 under
//! target/e2e-screenshots/private-key-*.png.

use latch_e2e::window::{within, Window};
use latch_e2e::{register_key_client, Latch, Provider};

/// Screenshots at both sizes, with `shown` (a CSS selector) scrolled into view.
async fn screenshots(window: &Window, name: &str, shown: &str) {
    window.screenshots(&format!("private-key-{name}"), Some(shown), "center").await
}

/// The whole page's text has no private key in it.
async fn assert_no_private_key_shown(window: &Window, when: &str) {
    let page = window.shown("body").await;
    assert!(!page.contains("PRIVATE KEY"), "a private key on the page {when}:\n{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_made_in_the_form_is_shown_as_a_public_key_to_register_and_then_connects() {
    within(240, async {
        let op = Provider::oidc(&[]);
        let latch = Latch::new();
        let window = Window::open(&latch).await;

        // A custom connection signing with a key Latch makes, before the service knows the key.
        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.testid("connection-form").await;
        window.fill("name", "Robot").await;
        window.testid("flow-type").await.select_by_value("client_credentials").await.unwrap();
        window.fill("token_url", &op.url("/token")).await;
        window.testid("scope-input").await.send_keys("api:read\u{E007}").await.unwrap();
        window.fill("client_id", "not-yet").await;
        window.open_advanced().await;
        window.click_css("input[name='client_auth'][value='private_key_jwt']").await;
        screenshots(&window, "method", "input[name='client_auth'][value='private_key_jwt']").await;
        // "Use my own key" takes a pasted PEM; this user lets Latch make one instead.
        window.click("key-paste").await;
        window.testid("key-pem").await;
        screenshots(&window, "form-own-key", "[data-testid='key-pem']").await;
        window.click("key-generate").await;
        let promise = window.shown("[data-testid='key-will-generate']").await;
        assert!(promise.contains("Latch will make a new key when you save"), "{promise}");
        screenshots(&window, "form", "[data-testid='key-will-generate']").await;
        window.save_form().await;

        // The detail: the method in words and the public key, with Copy.
        let method = window.shown("[data-testid='detail-client-auth']").await;
        assert!(method.contains("Signed with a key only this computer has"), "{method}");
        let shown_jwk = window.shown("[data-testid='public-jwk']").await;
        window.testid("copy-public-jwk").await;
        screenshots(&window, "detail", "[data-testid='public-key']").await;
        assert_no_private_key_shown(&window, "after saving").await;
        let stored = latch.show("Robot");
        assert_eq!(stored["client_auth"], "private_key_jwt");
        assert_eq!(stored["has_client_secret"], true, "the key is in the keyring");
        let jwk_text = stored["client_public_jwk"].as_str().expect("the engine filled in the public key");
        assert_eq!(shown_jwk.trim(), jwk_text, "the page shows the engine's public key");
        let jwk: serde_json::Value = serde_json::from_str(jwk_text).unwrap();
        assert_eq!((jwk["kty"].as_str(), jwk["alg"].as_str()), (Some("EC"), Some("ES256")));
        assert!(jwk.get("d").is_none(), "only the public half: {jwk}");

        // The user registers the key with the service and gets a client ID back.
        let client_id = register_key_client(&op, &jwk, &["client_credentials"]);
        window.click("more-actions").await;
        window.click("edit").await;
        let saved = window.shown("[data-testid='key-saved']").await;
        assert!(saved.contains("A private key is saved in your keyring"), "{saved}");
        window.fill("client_id", &client_id).await;
        screenshots(&window, "edit", "[data-testid='key-saved']").await;
        window.save_form().await;
        window
            .until("the new client ID saved", || async { latch.show("Robot")["client_id"] == client_id.as_str() })
            .await;
        assert_eq!(latch.show("Robot")["client_public_jwk"].as_str(), Some(jwk_text), "the edit kept the key");

        window.click("connect").await;
        window
            .until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") })
            .await;
        assert_eq!(op.stats()["by_grant"]["client_credentials"], 1);
        screenshots(&window, "connected", "[data-testid='public-key']").await;
        assert_no_private_key_shown(&window, "once connected").await;
        window.close().await;
    })
    .await;
}
