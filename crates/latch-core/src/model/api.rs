//! Where a connection's API lives and where its credential may go: the API
//! base URL (the proxy forwards `/<connection>/<path>` there) and the other
//! hosts the user allows. Every kind's settings hold one, flat beside the
//! kind's own fields, so presets, patches, exports and forms carry it.

use serde::{Deserialize, Serialize};


/// The API base URL and the allowed hosts of a connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiAccess {
    /// Where the connection's API lives, e.g. `https://api.github.com`.
    pub api_base_url: Option<String>,
    /// Other hosts that may receive the credential: `host`, `host:port`
    /// (that port only) or `*.domain` (its subdomains).
    pub allowed_hosts: Vec<String>,
    /// The proxy passes a caller's own `Authorization` and `Cookie`
    /// headers on; otherwise it drops them.
    pub forward_caller_auth: bool,
}

/// One allowed host as written: a name (or `*.` and a domain) and maybe a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    /// Lower case, without the `*.`.
    pub host: String,
    pub subdomains: bool,
    pub port: Option<u16>,
}

impl HostRule {
    /// Parses `host`, `host:port`, `*.domain`, `[::1]:port`.
    pub fn parse(text: &str) -> Result<HostRule, String> {
        let text = text.trim();
        let shown: String = text.chars().take(80).collect();
        if text.is_empty() {
            return Err("An allowed host is empty.".into());
        }
        if text.contains("://") || text.contains('/') || text.contains('@') || text.contains('?') {
            return Err(format!("'{shown}' is not a host: write only the host name, e.g. uploads.example.com or example.com:8443."));
        }
        let (subdomains, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        // A port after the last ':' — unless the host is a bare IPv6 address.
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    format!("'{shown}' has a port that is not a number from 1 to 65535.")
                })?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let parsed = url::Host::parse(host).map_err(|_| format!("'{shown}' is not a valid host name."))?;
        if subdomains && !matches!(parsed, url::Host::Domain(_)) {
            return Err(format!("'{shown}': only a domain name can have '*.' in front."));
        }
        if subdomains && !host.contains('.') {
            return Err(format!("'{shown}' would allow every host under a top-level domain; name a domain, e.g. *.example.com."));
        }
        Ok(HostRule { host: parsed.to_string(), subdomains, port })
    }

    /// Whether a request to `host` on `port` is allowed by this rule.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host_ok = if self.subdomains {
            host.strip_suffix(&self.host).is_some_and(|prefix| prefix.ends_with('.'))
        } else {
            host == self.host
        };
        host_ok && self.port.is_none_or(|p| p == port)
    }
}

impl ApiAccess {
    /// Tidies what a form or a flag gave: blanks go, hosts in lower case,
    /// each once.
    pub fn normalize(&mut self) {
        self.api_base_url = self.api_base_url.take().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        let mut hosts: Vec<String> = Vec::new();
        for host in self.allowed_hosts.drain(..) {
            let host = host.trim().to_ascii_lowercase();
            if !host.is_empty() && !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        self.allowed_hosts = hosts;
    }

    /// The allowed hosts that parse (the others are refused when saved).
    pub fn host_rules(&self) -> Vec<HostRule> {
        self.allowed_hosts.iter().filter_map(|h| HostRule::parse(h).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowed_host_matches_its_port_only_when_it_names_one() {
        let any = HostRule::parse("Uploads.Example.com").unwrap();
        assert!(any.matches("uploads.example.com", 443));
        assert!(any.matches("uploads.example.com", 8443));
        assert!(!any.matches("example.com", 443));
        let one = HostRule::parse("example.com:8443").unwrap();
        assert!(one.matches("example.com", 8443));
        assert!(!one.matches("example.com", 443));
        let sub = HostRule::parse("*.example.com").unwrap();
        assert!(sub.matches("a.b.example.com", 443));
        assert!(!sub.matches("example.com", 443));
        assert!(!sub.matches("badexample.com", 443));
        let v6 = HostRule::parse("[::1]:9000").unwrap();
        assert!(v6.matches("[::1]", 9000));
    }

    #[test]
    fn hosts_that_are_addresses_or_too_wide_are_refused_with_the_reason() {
        for (bad, says) in [
            ("https://example.com", "not a host"),
            ("example.com/path", "not a host"),
            ("example.com:0", "port"),
            ("example.com:99999", "port"),
            ("*.com", "top-level"),
            ("*.127.0.0.1", "only a domain"),
            ("exa mple.com", "not a valid host"),
        ] {
            let err = HostRule::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
