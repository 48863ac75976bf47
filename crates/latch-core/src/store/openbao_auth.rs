//! Signing in to OpenBao (and Vault) and keeping the token alive, on the
//! documented HTTP API (openbao.org/api-docs/auth/*):
//! `POST /v1/auth/<mount>/login` with `{role_id, secret_id}` (AppRole) or
//! `{role, jwt}` (JWT), `POST /v1/auth/<mount>/login/<username>` with
//! `{password}` (userpass); `GET /v1/auth/token/lookup-self` and
//! `POST /v1/auth/token/renew-self` for the token in hand.
//!
//! A token is renewed before it expires while OpenBao allows it; one that
//! cannot be renewed any more is replaced by logging in again with the kept
//! login secret (AppRole, userpass, JWT) or, for a token given by hand, the
//! member is asked to join again. The decision is [`plan`], a function of
//! the token's lifetime and "now", so it is tested without waiting.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::openbao::{BaoToken, Kv};
use crate::error::{Error, ErrorKind, Result};

/// How a member signs in to a team's OpenBao, with the secret that proves it.
#[derive(Debug)]
pub enum TeamAuth {
    /// A token made elsewhere (e.g. `bao token create`).
    Token(BaoToken),
    /// AppRole: a role ID (not secret) and a secret ID.
    AppRole { mount: String, role_id: String, secret_id: BaoToken },
    /// A username and password.
    UserPass { mount: String, username: String, password: BaoToken },
    /// A JWT (e.g. a CI job's OIDC token) for a role of the JWT auth method.
    Jwt { mount: String, role: String, jwt: BaoToken },
}

/// How a team is signed in to, without the secret: what the data directory
/// keeps (the `teams` row) so Latch can log in again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TeamAuthMethod {
    #[default]
    Token,
    AppRole {
        mount: String,
        role_id: String,
    },
    UserPass {
        mount: String,
        username: String,
    },
    Jwt {
        mount: String,
        role: String,
    },
}

/// Where each method is mounted unless told otherwise (`--auth-mount`).
pub fn default_mount(method: &str) -> &'static str {
    match method {
        "approle" => "approle",
        "userpass" => "userpass",
        "jwt" => "jwt",
        _ => "token",
    }
}

impl TeamAuth {
    /// The method and its non-secret settings.
    pub fn method(&self) -> TeamAuthMethod {
        match self {
            TeamAuth::Token(_) => TeamAuthMethod::Token,
            TeamAuth::AppRole { mount, role_id, .. } => TeamAuthMethod::AppRole { mount: mount.clone(), role_id: role_id.clone() },
            TeamAuth::UserPass { mount, username, .. } => TeamAuthMethod::UserPass { mount: mount.clone(), username: username.clone() },
            TeamAuth::Jwt { mount, role, .. } => TeamAuthMethod::Jwt { mount: mount.clone(), role: role.clone() },
        }
    }

    /// The secret that logs in again (secret ID, password, JWT); `None` for a token.
    pub fn login_secret(&self) -> Option<&BaoToken> {
        match self {
            TeamAuth::Token(_) => None,
            TeamAuth::AppRole { secret_id, .. } => Some(secret_id),
            TeamAuth::UserPass { password, .. } => Some(password),
            TeamAuth::Jwt { jwt, .. } => Some(jwt),
        }
    }
}

impl TeamAuthMethod {
    /// The name stored and shown: `token`, `approle`, `userpass`, `jwt`.
    pub fn name(&self) -> &'static str {
        match self {
            TeamAuthMethod::Token => "token",
            TeamAuthMethod::AppRole { .. } => "approle",
            TeamAuthMethod::UserPass { .. } => "userpass",
            TeamAuthMethod::Jwt { .. } => "jwt",
        }
    }

    /// The mount, and the role ID, username or role: as stored.
    pub fn parts(&self) -> (Option<&str>, Option<&str>) {
        match self {
            TeamAuthMethod::Token => (None, None),
            TeamAuthMethod::AppRole { mount, role_id } => (Some(mount), Some(role_id)),
            TeamAuthMethod::UserPass { mount, username } => (Some(mount), Some(username)),
            TeamAuthMethod::Jwt { mount, role } => (Some(mount), Some(role)),
        }
    }

    /// From what [`TeamAuthMethod::parts`] stored; an unknown name reads as a token.
    pub fn from_parts(name: &str, mount: Option<String>, who: Option<String>) -> TeamAuthMethod {
        let mount = mount.unwrap_or_else(|| default_mount(name).to_owned());
        let who = who.unwrap_or_default();
        match name {
            "approle" => TeamAuthMethod::AppRole { mount, role_id: who },
            "userpass" => TeamAuthMethod::UserPass { mount, username: who },
            "jwt" => TeamAuthMethod::Jwt { mount, role: who },
            _ => TeamAuthMethod::Token,
        }
    }

    /// The method with its login secret again.
    pub fn with_secret(&self, secret: BaoToken) -> TeamAuth {
        match self.clone() {
            TeamAuthMethod::Token => TeamAuth::Token(secret),
            TeamAuthMethod::AppRole { mount, role_id } => TeamAuth::AppRole { mount, role_id, secret_id: secret },
            TeamAuthMethod::UserPass { mount, username } => TeamAuth::UserPass { mount, username, password: secret },
            TeamAuthMethod::Jwt { mount, role } => TeamAuth::Jwt { mount, role, jwt: secret },
        }
    }

    /// Whether Latch can log in again by itself (it keeps a login secret).
    pub fn can_log_in(&self) -> bool {
        !matches!(self, TeamAuthMethod::Token)
    }

    fn described(&self) -> String {
        match self {
            TeamAuthMethod::Token => "the OpenBao token".into(),
            TeamAuthMethod::AppRole { mount, .. } => {
                format!("the AppRole role ID and secret ID (auth/{mount})")
            }
            TeamAuthMethod::UserPass { mount, username } => {
                format!("the password of '{username}' (auth/{mount})")
            }
            TeamAuthMethod::Jwt { mount, role } => {
                format!("the JWT for the role '{role}' (auth/{mount})")
            }
        }
    }
}

/// What OpenBao said about a token's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLife {
    /// When Latch learned it (login, renewal or lookup).
    pub seen_at: DateTime<Utc>,
    /// When it expires; `None` for a token that never does (TTL 0).
    pub expires_at: Option<DateTime<Utc>>,
    pub renewable: bool,
}

impl TokenLife {
    /// From an `auth` block (`lease_duration`, `renewable`) or lookup-self's
    /// `data` (`ttl`, `renewable`).
    fn from_seconds(seen_at: DateTime<Utc>, ttl: Option<i64>, renewable: bool) -> TokenLife {
        let expires_at = ttl.filter(|s| *s > 0).map(|s| seen_at + Duration::seconds(s));
        TokenLife { seen_at, expires_at, renewable }
    }
}

/// What to do about the token now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// Nothing until then (`None`: never).
    Fine(Option<DateTime<Utc>>),
    /// Renew it (renew-self).
    Renew,
    /// Log in again with the kept secret.
    LogIn,
    /// Nothing Latch can do: the member has to join again.
    JoinAgain,
}

/// The decision: renew at expiry − margin (the refresh policy's margin, so
/// a 3-second token renews after 1.5 s and a 32-day one a day early); when
/// it cannot be renewed or has expired, log in again if Latch can.
pub fn plan(life: &TokenLife, can_log_in: bool, now: DateTime<Utc>) -> KeepAlive {
    let Some(expires_at) = life.expires_at else {
        return KeepAlive::Fine(None);
    };
    let due = expires_at - crate::refresh_policy::margin(expires_at - life.seen_at);
    if now < due {
        return KeepAlive::Fine(Some(due));
    }
    if life.renewable && now < expires_at {
        KeepAlive::Renew
    } else if can_log_in {
        KeepAlive::LogIn
    } else if now < expires_at {
        // Not renewable, still valid: keep using it until it ends.
        KeepAlive::Fine(Some(expires_at))
    } else {
        KeepAlive::JoinAgain
    }
}

/// Whether a renewal bought (almost) nothing: OpenBao caps renewals at the
/// token's max TTL, so near the end renew-self returns what is left (in
/// whole seconds, so the expiry may move by a fraction). Then the token is
/// treated as not renewable any more, instead of renewing ever more often.
pub fn renewal_exhausted(before: &TokenLife, after: &TokenLife) -> bool {
    match (before.expires_at, after.expires_at) {
        (Some(old), Some(new)) => new - old < Duration::seconds(1),
        _ => false,
    }
}

/// Logs in with `auth`; the new token and its life. A token is looked up
/// instead (it checks that it works and learns its TTL).
pub async fn log_in(kv: &Kv, auth: &TeamAuth, now: DateTime<Utc>) -> Result<(BaoToken, TokenLife)> {
    let method = auth.method();
    let (path, body) = match auth {
        TeamAuth::Token(token) => {
            let life = lookup_with(kv, token, now).await?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Storage,
                    "The team store refused your OpenBao token: it does not know it (it is mistyped, expired or revoked). Ask \
                     the team's OpenBao administrator for a new one and join again.",
                )
            })?;
            return Ok((BaoToken::new(token.secret().to_owned()), life));
        }
        TeamAuth::AppRole { mount, role_id, secret_id } => {
            (format!("auth/{}/login", check_mount(mount)?), json!({ "role_id": role_id, "secret_id": secret_id.secret() }))
        }
        TeamAuth::UserPass { mount, username, password } => {
            let username = username.trim();
            if username.is_empty() || username.contains('/') {
                return Err(Error::validation("username", "Give the OpenBao username (no '/')."));
            }
            (format!("auth/{}/login/{username}", check_mount(mount)?), json!({ "password": password.secret() }))
        }
        TeamAuth::Jwt { mount, role, jwt } => (format!("auth/{}/login", check_mount(mount)?), json!({ "role": role, "jwt": jwt.secret() })),
    };
    let text = Zeroizing::new(serde_json::to_string(&body).unwrap_or_default());
    drop(body);
    // Through `send`: a cluster's next node when this one does not answer.
    let response =
        kv.send(&|| kv.http().post(kv.api_url(&path)).header("Content-Type", "application/json").body(text.as_bytes().to_vec())).await?;
    let status = response.status().as_u16();
    let body = Zeroizing::new(response.bytes().await.unwrap_or_default().to_vec());
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status == 200 {
        if let Some(token) = value["auth"]["client_token"].as_str().filter(|t| !t.is_empty()) {
            let life = TokenLife::from_seconds(
                now,
                value["auth"]["lease_duration"].as_i64(),
                value["auth"]["renewable"].as_bool().unwrap_or(false),
            );
            return Ok((BaoToken::new(token.to_owned()), life));
        }
        return Err(Error::storage(format!("OpenBao accepted {} but sent no token back.", method.described())));
    }
    let said = scrubbed(&super::openbao::errors_text(&value), auth);
    Err(login_refused(&method, status, &said))
}

fn check_mount(mount: &str) -> Result<String> {
    super::openbao::check_path("auth_mount", mount)
}

/// OpenBao's words without any secret in them (it should never echo one; this makes sure).
fn scrubbed(said: &str, auth: &TeamAuth) -> String {
    match auth.login_secret() {
        Some(secret) if !secret.secret().is_empty() => said.replace(secret.secret(), "[redacted]"),
        _ => said.to_owned(),
    }
}

fn login_refused(method: &TeamAuthMethod, status: u16, said: &str) -> Error {
    let detail = if said.is_empty() { format!("HTTP {status}") } else { said.to_owned() };
    let what = method.described();
    let message = match method {
        TeamAuthMethod::Jwt { .. } if said.contains("expired") => format!(
            "OpenBao did not accept {what}: the JWT has expired. Get a new one (your CI hands out a fresh one per job) and \
             try again."
        ),
        _ if matches!(status, 400 | 401 | 403) => {
            format!("OpenBao did not accept {what}. Check it with the team's OpenBao administrator and try again.")
        }
        _ => format!("OpenBao could not sign in with {what}."),
    };
    // OpenBao's own words go to the details.
    Error::new(ErrorKind::Storage, message).with_details(format!("OpenBao said: {detail}"))
}

/// The Kv's token's life by lookup-self; `None` when OpenBao does not know
/// the token (expired, revoked).
pub async fn lookup(kv: &Kv, now: DateTime<Utc>) -> Result<Option<TokenLife>> {
    let response = kv.send(&|| kv.request(reqwest::Method::GET, kv.api_url("auth/token/lookup-self"))).await?;
    token_answer(kv, response, now, "data", "ttl").await
}

async fn lookup_with(kv: &Kv, token: &BaoToken, now: DateTime<Utc>) -> Result<Option<TokenLife>> {
    let response = kv
        .send(&|| kv.http().get(kv.api_url("auth/token/lookup-self")).header("X-Vault-Token", super::openbao::token_header(token)))
        .await?;
    token_answer(kv, response, now, "data", "ttl").await
}

/// Renews the Kv's token (renew-self); its new life, `None` when OpenBao
/// would not (the token is gone or cannot be renewed).
pub async fn renew(kv: &Kv, now: DateTime<Utc>) -> Result<Option<TokenLife>> {
    let response = kv
        .send(&|| kv.request(reqwest::Method::POST, kv.api_url("auth/token/renew-self")).header("Content-Type", "application/json").body("{}"))
        .await?;
    token_answer(kv, response, now, "auth", "lease_duration").await
}

async fn token_answer(kv: &Kv, response: reqwest::Response, now: DateTime<Utc>, block: &str, ttl: &str) -> Result<Option<TokenLife>> {
    let status = response.status().as_u16();
    let body = Zeroizing::new(response.bytes().await.unwrap_or_default().to_vec());
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match status {
        200 => Ok(Some(TokenLife::from_seconds(now, value[block][ttl].as_i64(), value[block]["renewable"].as_bool().unwrap_or(false)))),
        400 | 401 | 403 => Ok(None),
        _ => Err(kv.not_ready(status).unwrap_or_else(|| {
            Error::storage(format!(
                "The team store at {} could not check the OpenBao token (HTTP {status}: {}).",
                kv.base(),
                super::openbao::errors_text(&value)
            ))
        })),
    }
}

/// The token is unknown to OpenBao (expired, revoked) and Latch cannot get another.
pub fn token_gone(team: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "Latch's OpenBao token for the team '{team}' has expired or was revoked, and Latch cannot renew it: this \
             computer needs you to join the team again."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn life(ttl: i64, renewable: bool) -> TokenLife {
        TokenLife::from_seconds(at(0), Some(ttl), renewable)
    }

    #[test]
    fn a_three_second_renewable_token_is_renewed_after_half_its_life_not_before() {
        assert_eq!(plan(&life(3, true), false, at(1)), KeepAlive::Fine(Some(at(0) + Duration::milliseconds(1500))));
        assert_eq!(plan(&life(3, true), false, at(2)), KeepAlive::Renew);
    }

    #[test]
    fn a_month_long_token_is_renewed_a_tenth_of_its_life_early() {
        let month = life(30 * 86_400, true);
        assert_eq!(plan(&month, false, at(0)), KeepAlive::Fine(Some(at(27 * 86_400))));
    }

    #[test]
    fn a_token_that_never_expires_is_never_renewed() {
        let root = TokenLife::from_seconds(at(0), Some(0), false);
        assert_eq!(plan(&root, false, at(1_000_000)), KeepAlive::Fine(None));
    }

    #[test]
    fn a_token_that_cannot_be_renewed_is_used_to_its_end_then_the_member_joins_again() {
        let fixed = life(60, false);
        assert_eq!(plan(&fixed, false, at(45)), KeepAlive::Fine(Some(at(60))));
        assert_eq!(plan(&fixed, false, at(60)), KeepAlive::JoinAgain);
    }

    #[test]
    fn with_a_login_secret_an_unrenewable_or_expired_token_is_replaced_by_logging_in() {
        assert_eq!(plan(&life(60, false), true, at(45)), KeepAlive::LogIn);
        assert_eq!(plan(&life(60, true), true, at(61)), KeepAlive::LogIn);
        assert_eq!(plan(&life(60, true), false, at(61)), KeepAlive::JoinAgain);
    }

    #[test]
    fn a_renewal_that_does_not_move_the_expiry_means_the_max_ttl_is_reached() {
        let before = life(10, true);
        let capped = TokenLife::from_seconds(at(8), Some(2), true);
        assert!(renewal_exhausted(&before, &capped));
        let rounded = TokenLife { seen_at: at(8), expires_at: Some(at(10) + Duration::milliseconds(600)), renewable: true };
        assert!(renewal_exhausted(&before, &rounded), "a fraction of a second from rounding is no renewal");
        let longer = TokenLife::from_seconds(at(8), Some(10), true);
        assert!(!renewal_exhausted(&before, &longer));
    }

    #[test]
    fn the_stored_method_round_trips_and_defaults_its_mount() {
        let method = TeamAuthMethod::AppRole { mount: "approle".into(), role_id: "r-1".into() };
        let (mount, who) = method.parts();
        let back = TeamAuthMethod::from_parts(method.name(), mount.map(Into::into), who.map(Into::into));
        assert_eq!(back, method);
        assert_eq!(
            TeamAuthMethod::from_parts("userpass", None, Some("ana".into())),
            TeamAuthMethod::UserPass { mount: "userpass".into(), username: "ana".into() }
        );
        assert_eq!(TeamAuthMethod::from_parts("token", None, None), TeamAuthMethod::Token);
    }

    #[test]
    fn secrets_print_as_redacted_and_never_reach_an_error() {
        let auth = TeamAuth::AppRole { mount: "approle".into(), role_id: "role".into(), secret_id: BaoToken::new("s3cr3t-id".into()) };
        assert!(!format!("{auth:?}").contains("s3cr3t"));
        let said = scrubbed("invalid secret s3cr3t-id", &auth);
        let err = login_refused(&auth.method(), 400, &said);
        assert!(!err.message.contains("s3cr3t"), "{}", err.message);
        assert!(err.message.contains("did not accept the AppRole role ID and secret ID"), "{}", err.message);
    }

    #[test]
    fn an_expired_jwt_is_named_as_such() {
        let method = TeamAuthMethod::Jwt { mount: "jwt".into(), role: "ci".into() };
        let err = login_refused(&method, 400, "error validating token: token is expired");
        assert!(err.message.contains("the JWT has expired"), "{}", err.message);
    }
}
