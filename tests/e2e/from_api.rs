//! `latch add --from API_URL`: a pasted API address becomes a connection
//! with no client ID to copy — the API's RFC 9728 metadata names
//! oidc-provider, whose metadata names its endpoints, where Latch registers
//! itself (RFC 7591) and later deletes the registration (RFC 7592). The API
//! (tests/providers/resource_server.py) checks tokens by introspection.

use latch_e2e::{http, Latch, Provider};
use serde_json::Value;

/// The API and its authorization server, which issues tokens for it.
fn api_and_provider(api_args: &[&str]) -> (Provider, Provider, String) {
    let api = Provider::resource(api_args);
    let resource = api.ready["resource"].as_str().unwrap().to_owned();
    let op = Provider::oidc(&["--resource-server", &resource]);
    let config = serde_json::json!({ "issuer": op.base, "client_id": "conf-basic", "client_secret": "conf-basic-secret" });
    let (status, _) = http("POST", &api.url("/__test/config"), &[("Content-Type", "application/json")], &config.to_string());
    assert_eq!(status, 200);
    (api, op, resource)
}

/// The registration access token Latch keeps in the keyring for `name`.
fn registration_token(latch: &Latch, name: &str) -> Option<String> {
    let id = latch.show(name)["id"].as_str().unwrap().to_owned();
    match keyring::Entry::new("latch", &format!("{id}/registration_token")).unwrap().get_password() {
        Ok(token) => Some(token),
        Err(keyring::Error::NoEntry) => None,
        Err(err) => panic!("keyring read failed: {err}"),
    }
}

#[test]
fn a_pasted_api_address_registers_latch_once_and_its_token_works_at_the_api() {
    let (api, op, resource) = api_and_provider(&[]);
    let latch = Latch::new();
    let out = latch.ok(&["add", "--name", "Api", "--from", &resource]);
    assert!(out.contains(&format!("API at {resource}, signs in at {}.", op.url("/auth"))), "{out}");
    assert!(out.contains("Latch registered itself there: nothing to copy from a developer console."), "{out}");
    assert!(out.contains("Next: latch connect \"Api\""), "{out}");
    assert_eq!(op.stats()["registrations"], 1);

    let shown = latch.show("Api");
    assert_eq!(shown["flow"], "authorization_code");
    assert_eq!(shown["pkce"], "s256");
    assert_eq!(shown["client_auth"], "none");
    assert_eq!(shown["issuer"], op.base.as_str());
    assert_eq!(shown["resource"], serde_json::json!([resource]));
    assert_eq!(shown["api_base_url"], resource.as_str());
    assert_eq!(shown["scopes"], serde_json::json!(["api:read"]));
    let client_id = shown["client_id"].as_str().unwrap().to_owned();
    assert!(!client_id.is_empty());
    let client_uri = shown["registration"]["client_uri"].as_str().unwrap().to_owned();
    assert_eq!(client_uri, op.url(&format!("/reg/{client_id}")));
    assert_eq!(shown["registration"]["deleted"], false);
    let first_registration = registration_token(&latch, "Api").expect("the registration access token is in the keyring");

    // Sign in, then the API takes the token: it was issued for this API.
    latch.ok(&["connect", "Api", "--timeout", "20"]);
    let answer: Value = serde_json::from_str(&latch.ok(&["request", "Api", &format!("{resource}/items")])).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["aud"], resource.as_str());
    assert_eq!(api.stats()["api_ok"], 1);
    let mut secrets = latch.stored_secrets("Api");
    // Connecting again uses the same registration.
    latch.ok(&["connect", "Api", "--timeout", "20"]);
    assert_eq!(op.stats()["registrations"], 1, "registration is not repeated on every connect");
    assert_eq!(latch.show("Api")["client_id"], client_id.as_str());
    secrets.extend(latch.stored_secrets("Api"));

    // Disconnect deletes the registration; the next connect registers anew.
    let out = latch.ok(&["disconnect", "Api"]);
    assert!(out.contains("Latch's registration at the provider is deleted; connecting again registers anew."), "{out}");
    assert_eq!(op.stats()["registration_deletes"], 1);
    let (status, _) = http("GET", &client_uri, &[("Authorization", &format!("Bearer {first_registration}"))], "");
    assert_eq!(status, 401, "the registration is gone at the server");
    assert_eq!(latch.show("Api")["registration"]["deleted"], true);
    assert_eq!(registration_token(&latch, "Api"), None);

    latch.ok(&["connect", "Api", "--timeout", "20"]);
    assert_eq!(op.stats()["registrations"], 2);
    let shown = latch.show("Api");
    assert_ne!(shown["client_id"], client_id.as_str(), "a new client");
    assert_eq!(shown["registration"]["deleted"], false);
    let second_registration = registration_token(&latch, "Api").unwrap();
    let answer: Value = serde_json::from_str(&latch.ok(&["request", "Api", &format!("{resource}/items")])).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    secrets.extend(latch.stored_secrets("Api"));

    // Remove deletes the registration too.
    let second_uri = shown["registration"]["client_uri"].as_str().unwrap().to_owned();
    let out = latch.ok(&["remove", "Api"]);
    assert!(out.contains("Latch's registration at the provider is deleted."), "{out}");
    assert_eq!(op.stats()["registration_deletes"], 2);
    let (status, _) = http("GET", &second_uri, &[("Authorization", &format!("Bearer {second_registration}"))], "");
    assert_eq!(status, 401);

    secrets.push(first_registration);
    secrets.push(second_registration);
    latch.assert_no_secret_leaks(&secrets);
}

#[test]
fn metadata_that_names_another_api_is_refused_naming_both_addresses() {
    let elsewhere = "https://elsewhere.example.test/api";
    let (api, op, resource) = api_and_provider(&["--claim", elsewhere]);
    let latch = Latch::new();
    let stderr = latch.fails(&["add", "--name", "Api", "--from", &resource], 4);
    assert!(stderr.contains(&format!("'{elsewhere}'")) && stderr.contains(&format!("'{resource}'")), "{stderr}");
    assert!(stderr.contains("RFC 9728"), "{stderr}");
    assert_eq!(api.stats()["metadata_requests"], 1);
    assert_eq!(op.stats()["registrations"], 0, "nothing is registered for a refused API");
    assert_eq!(latch.ok(&["list", "--json"]).trim(), "[]");
}

#[test]
fn the_metadata_is_found_at_the_root_or_through_the_apis_401_challenge() {
    for place in ["root", "challenge"] {
        let (api, op, resource) = api_and_provider(&["--metadata", place]);
        let latch = Latch::new();
        let out = latch.ok(&["add", "--name", "Api", "--from", &resource]);
        assert!(out.contains("Latch registered itself there"), "{place}: {out}");
        assert_eq!(api.stats()["metadata_requests"], 1, "{place}");
        assert_eq!(latch.show("Api")["resource"], serde_json::json!([resource]), "{place}");
        assert_eq!(op.stats()["registrations"], 1, "{place}");
    }
}

#[test]
fn an_api_address_that_breaks_the_endpoint_rules_is_not_contacted() {
    let latch = Latch::new();
    let stderr = latch.fails(&["add", "--name", "Api", "--from", "http://api.example.test/v1"], 2);
    assert!(stderr.contains("Latch did not contact it."), "{stderr}");
}

#[test]
fn a_server_that_forgets_latchs_registration_gets_one_new_one_at_the_next_sign_in() {
    let (_api, op, resource) = api_and_provider(&[]);
    let latch = Latch::new();
    latch.ok(&["add", "--name", "Api", "--from", &resource]);
    latch.ok(&["connect", "Api", "--timeout", "20"]);
    let first = latch.show("Api")["client_id"].as_str().unwrap().to_owned();
    let forget = || assert_eq!(http("POST", &op.url("/__test/forget-clients"), &[], "").0, 204);

    // The server is reset. The refresh is refused (invalid_client): said as
    // what happened, not as a client ID the user should check.
    forget();
    let said = latch.fails(&["refresh", "Api"], 3);
    assert!(said.contains("The service no longer knows Latch's registration for 'Api'"), "{said}");
    assert!(said.contains("latch connect"), "the next step is named: {said}");
    let shown = latch.show("Api");
    assert_eq!(shown["status"], "needs_reauth", "{shown}");
    assert_eq!(shown["registration"]["deleted"], true);
    assert_eq!(registration_token(&latch, "Api"), None);

    // Signing in registers once more, and the API takes the new token.
    latch.ok(&["connect", "Api", "--timeout", "20"]);
    assert_eq!(op.stats()["registrations"], 2);
    let second = latch.show("Api")["client_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let answer: Value = serde_json::from_str(&latch.ok(&["request", "Api", &format!("{resource}/items")])).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");

    // Reset again: this time the sign-in asks the server first (RFC 7592)
    // and registers before the browser would meet an unknown client.
    forget();
    latch.ok(&["connect", "Api", "--timeout", "20"]);
    assert_eq!(op.stats()["registrations"], 3);
    assert_ne!(latch.show("Api")["client_id"].as_str().unwrap(), second);
    let answer: Value = serde_json::from_str(&latch.ok(&["request", "Api", &format!("{resource}/items")])).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");

    // A connect that finds the registration in place registers nothing.
    latch.ok(&["connect", "Api", "--timeout", "20"]);
    assert_eq!(op.stats()["registrations"], 3);
}
