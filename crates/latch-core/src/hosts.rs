//! Which hosts belong to a connection's provider, for rules that must not
//! send a credential to anyone else. Without a public suffix list, a
//! registrable domain is approximated: the last two labels of a host
//! (`api.github.com` → `github.com`), or three when the second-to-last is a
//! common second-level label of a two-letter country domain (`example.co.uk`);
//! an IP address or `localhost` is its own domain.

use crate::error::{Action, Error};
use crate::model::KindSettings;

/// The part of `host` a registrant controls, approximately (see above).
pub fn registrable_domain(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') || !host.contains('.') {
        return host;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    let second_level = ["co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go"];
    let keep = if n >= 3 && labels[n - 1].len() == 2 && second_level.contains(&labels[n - 2]) { 3 } else { 2 };
    labels[n.saturating_sub(keep)..].join(".")
}

/// The hosts of a connection's provider endpoints.
pub fn endpoint_hosts(settings: &KindSettings) -> Vec<String> {
    let urls: Vec<Option<String>> = match settings {
        KindSettings::OAuth2(s) => vec![
            s.authorize_url.clone(),
            s.token_url.clone(),
            s.refresh_url.clone(),
            s.revoke_url.clone(),
            s.info_url.clone(),
            s.issuer.clone(),
            s.device_url.clone(),
            s.par_url.clone(),
        ],
        KindSettings::Spec(s) => s.literal_urls().into_iter().map(|(_, url)| Some(url)).collect(),
        KindSettings::OAuth1(s) => {
            vec![s.request_token_url.clone(), s.authorize_url.clone(), s.access_token_url.clone(), s.info_url.clone(), s.revoke_url.clone()]
        }
    };
    let mut hosts: Vec<String> = urls
        .into_iter()
        .filter_map(|url| url::Url::parse(url.as_deref()?).ok()?.host_str().map(str::to_ascii_lowercase))
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Whether `url` is on the provider's own domain (that of one of its
/// endpoints): where a connection's API lives.
pub fn belongs_to(settings: &KindSettings, url: &str) -> bool {
    let Some(host) = url::Url::parse(url).ok().and_then(|u| u.host_str().map(registrable_domain)) else { return false };
    endpoint_hosts(settings).iter().any(|own| registrable_domain(own) == host)
}

/// Whether the credential of a connection with `settings` may go to
/// `url`: the API base URL's host (on its port), the allowed hosts, and —
/// for a connection with neither — its provider's own domain. (A spec's
/// relative paths join its own base and are not asked about.)
pub fn may_receive(settings: &KindSettings, url: &url::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let port = url.port_or_known_default().unwrap_or(0);
    let api = settings.api();
    let base = settings.api_base_url().and_then(|base| url::Url::parse(&base).ok());
    if let Some(base) = &base {
        if base.host_str().is_some_and(|b| b.eq_ignore_ascii_case(host)) && base.port_or_known_default() == Some(port) {
            return true;
        }
    }
    if api.host_rules().iter().any(|rule| rule.matches(host, port)) {
        return true;
    }
    base.is_none() && api.allowed_hosts.is_empty() && belongs_to(settings, url.as_str())
}

/// The refusal when `connection` may not send its credential to `url`
/// ([`may_receive`]): which hosts it goes to, and how to allow this one.
pub fn check_destination(name: &str, settings: &KindSettings, url: &url::Url) -> Result<(), Error> {
    if may_receive(settings, url) {
        return Ok(());
    }
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => url.as_str().to_owned(),
    };
    let mut allowed: Vec<String> = Vec::new();
    if let Some(base) = settings.api_base_url().and_then(|base| url::Url::parse(&base).ok()) {
        allowed.extend(base.host_str().map(|h| match base.port() {
            Some(port) => format!("{h}:{port}"),
            None => h.to_owned(),
        }));
    }
    allowed.extend(settings.api().allowed_hosts.iter().cloned());
    let goes_to = if allowed.is_empty() {
        let mut domains: Vec<String> = endpoint_hosts(settings).iter().map(|h| registrable_domain(h)).collect();
        domains.dedup();
        match domains.is_empty() {
            true => "nowhere yet: it has no API base URL".to_owned(),
            false => format!("only to its provider's own domain ({})", domains.join(", ")),
        }
    } else {
        format!("only to {}", crate::error::list_in_words(&allowed))
    };
    Err(Error::validation(
        "allowed_hosts",
        format!(
            "Latch sends the sign-in of '{name}' {goes_to}; {host} is not one of its hosts. If {host} should receive \
             it, add it to the connection's allowed hosts."
        ),
    )
    .with_action(Action::edit(name, &["allowed_hosts"])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flow, OAuth2Settings};

    #[test]
    fn registrable_domains_are_the_last_labels_that_a_registrant_controls() {
        assert_eq!(registrable_domain("api.github.com"), "github.com");
        assert_eq!(registrable_domain("oauth2.googleapis.com"), "googleapis.com");
        assert_eq!(registrable_domain("login.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("127.0.0.1"), "127.0.0.1");
        assert_eq!(registrable_domain("localhost"), "localhost");
        assert_eq!(registrable_domain("GitHub.com."), "github.com");
    }

    #[test]
    fn a_request_belongs_to_the_provider_when_it_shares_an_endpoints_domain() {
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "c");
        settings.authorize_url = Some("https://github.com/login/oauth/authorize".into());
        settings.token_url = Some("https://github.com/login/oauth/access_token".into());
        let settings = KindSettings::OAuth2(settings);
        assert!(belongs_to(&settings, "https://api.github.com/user"));
        assert!(!belongs_to(&settings, "https://evil.example/steal"));
        assert!(!belongs_to(&settings, "not a url"));
    }
}
