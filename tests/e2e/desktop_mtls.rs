//! Mutual TLS (RFC 8705) in the real Latch window against oidc-provider's
//! mTLS front: a client-credentials connection added in the form from the
//! issuer, with "Certificate Latch made for this computer", is saved with a
//! certificate Latch made; the detail shows the certificate to register; once
//! it is registered at the provider and the client ID changed in the form,
//! Connect gets a certificate-bound token, and the Test request presents the
//! certificate at the API that checks the binding. No private key text is
//! ever on the page. Saves screenshots at 1040×720 and 800×600 under
//! target/e2e-screenshots/mtls-*.png.

use latch_e2e::pki::{mtls_origin, Pki};
use latch_e2e::window::{within, Window};
use latch_e2e::{http, Latch};

/// Screenshots at both sizes, with `shown` (a CSS selector) scrolled into view.
async fn screenshots(window: &Window, name: &str, shown: &str) {
    window.screenshots(&format!("mtls-{name}"), Some(shown), "center").await
}

async fn assert_no_private_key_shown(window: &Window, when: &str) {
    let page = window.shown("body").await;
    assert!(
        !page.contains("PRIVATE KEY"),
        "a private key on the page {when}:\n{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_latch_makes_in_the_form_is_registered_and_its_bound_token_works_in_the_test_request(
) {
    within(240, async {
        let pki = Pki::new();
        let op = pki.oidc();
        let origin = mtls_origin(&op);
        let latch = Latch::new();
        pki.trust(&latch);
        let window = Window::open(&latch).await;

        // A custom connection from the issuer (its mTLS aliases come with it), with a certificate Latch makes.
        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.testid("connection-form").await;
        window.fill("name", "Own").await;
        window.fill("issuer", &op.url("")).await;
        window.click("discover").await;
        window.testid("discover-result").await;
        window
            .testid("flow-type")
            .await
            .select_by_value("client_credentials")
            .await
            .unwrap();
        window.fill("client_id", "not-yet").await;
        window.fill("api_base_url", &origin).await;
        window.open_advanced().await;
        window
            .click_css("input[name='client_auth'][value='self_signed_tls_client_auth']")
            .await;
        let promise = window.shown("[data-testid='certificate-will-make']").await;
        assert!(
            promise.contains("Latch will make a certificate for this computer when you save"),
            "{promise}"
        );
        screenshots(&window, "form", "[data-testid='certificate-will-make']").await;
        window.save_form().await;

        // The detail: the method in words and the certificate, with Copy.
        let method = window.shown("[data-testid='detail-client-auth']").await;
        assert!(
            method.contains("Certificate Latch made for this computer"),
            "{method}"
        );
        let subject = window
            .shown("[data-testid='client-certificate-subject']")
            .await;
        assert_eq!(subject.trim(), "CN=Latch Own");
        let pem = window.shown("[data-testid='client-certificate-pem']").await;
        assert!(pem.contains("BEGIN CERTIFICATE"), "{pem}");
        window.testid("copy-client-certificate").await;
        screenshots(&window, "detail", "[data-testid='client-certificate']").await;
        assert_no_private_key_shown(&window, "after saving").await;

        // The user registers the certificate with the service and gets a client ID back.
        let jwk: serde_json::Value =
            serde_json::from_str(&latch.ok(&["show", "Own", "--client-cert-jwk"])).unwrap();
        let registration = serde_json::json!({
            "application_type": "web",
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "tls_client_certificate_bound_access_tokens": true,
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "jwks": { "keys": [jwk] },
        });
        let (status, registered) = http(
            "POST",
            &op.url("/reg"),
            &[("Content-Type", "application/json")],
            &registration.to_string(),
        );
        assert_eq!(status, 201, "{registered}");
        let client_id = registered["client_id"].as_str().unwrap().to_owned();
        window.click("more-actions").await;
        window.click("edit").await;
        let kept = window.shown("[data-testid='certificate-chosen']").await;
        assert!(
            kept.contains("CN=Latch Own") && kept.contains("made by Latch"),
            "{kept}"
        );
        window.fill("client_id", &client_id).await;
        window.save_form().await;
        window
            .until("the new client ID saved", || async {
                latch.show("Own")["client_id"] == client_id.as_str()
            })
            .await;

        window.click("connect").await;
        window
            .until("Connected", || async {
                window
                    .text_of("[data-testid='detail-status']")
                    .await
                    .contains("Connected")
            })
            .await;
        assert_eq!(op.stats()["mtls_token_requests"], 1);

        // The Test request presents the certificate the token is bound to.
        window.click("test-request").await;
        window
            .fill("test_url", &format!("{origin}/api/bound"))
            .await;
        window
            .wait_for("[data-testid='test-request-panel'] button[type='submit']")
            .await
            .click()
            .await
            .unwrap();
        window.testid("response").await;
        let response = window.shown("[data-testid='response']").await;
        assert!(response.starts_with("200"), "{response}");
        assert_eq!(op.stats()["bound_accepted"], 1);
        screenshots(
            &window,
            "test-request",
            "[data-testid='test-request-panel']",
        )
        .await;
        assert_no_private_key_shown(&window, "once connected").await;
        window.close().await;
    })
    .await;
}
