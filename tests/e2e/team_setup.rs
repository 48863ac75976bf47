//! What the team tests share: joining the sales team in a real OpenBao,
//! adding a team connection to oidc-provider and signing in to it, and
//! the provider's refresh counts.

use serde_json::Value;

use crate::{repo_root, Latch, Provider};

pub const TEAM_PATH: &str = "teams/sales";
pub const CLIENT_SECRET: &str = "conf-basic-secret";

/// A policy file from docs/team/ (`writer`, `reader`).
pub fn policy(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(format!("docs/team/{name}.hcl"))).unwrap()
}

/// `latch team join sales` at the OpenBao node `addr` with `token`.
pub fn join(latch: &Latch, addr: &str, token: &str) -> String {
    latch.ok_with_stdin(&["team", "join", "sales", "--addr", addr, "--mount", "secret", "--path", TEAM_PATH], &format!("{token}\n"))
}

/// Adds `name` to the team: a code-flow connection to oidc-provider with a
/// confidential client; then signs in (the scripted browser).
pub fn add_team_connection(latch: &Latch, op: &Provider, name: &str) {
    let out = latch.ok_with_stdin(
        &[
            "add",
            "--team",
            "sales",
            "--name",
            name,
            "--flow",
            "authorization_code",
            "--client-id",
            "conf-basic",
            "--client-auth",
            "basic",
            "--client-secret-stdin",
            "--scope",
            "openid",
            "--scope",
            "offline_access",
            "--auth-param",
            "prompt=consent",
            "--authorize-url",
            &op.url("/auth"),
            "--token-url",
            &op.url("/token"),
        ],
        &format!("{CLIENT_SECRET}\n"),
    );
    assert!(out.contains(&format!("Kept '{name}' in team 'sales'")), "{out}");
    latch.ok(&["connect", name]);
}

/// What the provider counted of refresh grants: successful ones per grant
/// (one grant per sign-in), and those refused with invalid_grant (a refresh
/// token sent twice among them: reuse detection then revokes the grant).
pub struct RefreshCounts {
    pub by_grant: Vec<u64>,
    /// Per grant, the shortest time between two of its refreshes, in ms.
    pub shortest_gap_ms: Vec<u64>,
    pub invalid_grants: u64,
    pub grants_revoked: u64,
}

impl RefreshCounts {
    pub fn of(op: &Provider) -> RefreshCounts {
        let stats = op.stats();
        let by_grant = stats["refreshes_by_grant"].as_object().map(|m| m.values().filter_map(Value::as_u64).collect()).unwrap_or_default();
        let shortest_gap_ms = stats["refreshed_at_by_grant"]
            .as_object()
            .map(|m| {
                m.values()
                    .filter_map(|times| {
                        let times: Vec<u64> = times.as_array()?.iter().filter_map(Value::as_u64).collect();
                        times.windows(2).map(|w| w[1] - w[0]).min()
                    })
                    .collect()
            })
            .unwrap_or_default();
        RefreshCounts {
            by_grant,
            shortest_gap_ms,
            invalid_grants: stats["invalid_grants"].as_u64().unwrap(),
            grants_revoked: stats["grants_revoked"].as_u64().unwrap(),
        }
    }

    pub fn total(&self) -> u64 {
        self.by_grant.iter().sum()
    }
}

/// Whether the provider takes `token` as an active access token
/// (RFC 7662 introspection, as the confidential client).
pub fn is_active(op: &Provider, token: &str) -> bool {
    let (status, answer) = crate::post_form_basic(&op.url("/token/introspection"), "conf-basic", CLIENT_SECRET, &[("token", token)]);
    assert_eq!(status, 200, "{answer}");
    answer["active"] == true
}
