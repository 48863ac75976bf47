//! Renewing a team connection: one writer per refresh token across
//! machines. Before renewing, Latch takes the connection's `lease` document
//! in the team store with KV v2 check-and-set, then re-reads the `access`
//! document; if its version moved, another machine renewed and stored new
//! tokens, which Latch takes without asking the provider. Otherwise it reads
//! the `refresh` document (its version is what the new refresh token is
//! written over), renews, writes the `access` document with check-and-set on
//! the version it read ([`Engine::team_publish`], from `store_grant`) and
//! lets the lease go. A holder that dies lets go when its lease runs out
//! ([`LEASE`]).
//!
//! The `access` version, not the `refresh` one, tells that someone renewed:
//! every renewal writes it, and a member whose policy keeps the refresh
//! token from them can still read it and take the new tokens.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Engine;
use crate::error::{Action, Error, ErrorKind, Result};
use crate::model::{Connection, Status};
use crate::secret::{AccessToken, IdToken, TokenData, TokenSet};
use crate::store::leases::new_holder;
use crate::store::openbao::{Document, Written};
use crate::store::team_secrets::{is_denied, TeamStore};
use crate::store::teams::TeamTokenNote;

/// How long a lease on a team connection's refresh lasts: longer than a
/// token request takes (30 s at most), short enough that a dead holder
/// does not keep the others waiting long.
const LEASE: Duration = Duration::from_secs(40);
const LEASE_WAIT_STEP: Duration = Duration::from_millis(100);

/// Before a team connection's refresh: another machine's tokens to use, or
/// the lease to hold while this one renews.
pub(crate) enum TeamTurn {
    Personal,
    Adopted(Box<(Connection, TokenSet)>),
    Holding(TeamLease),
}

/// The lease document of one team connection, held by this process.
pub(crate) struct TeamLease {
    team: Arc<TeamStore>,
    doc: String,
    version: u64,
    released: bool,
}

/// The computer's name, so `latch team status` can say which machine is
/// renewing a connection.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "a computer".into())
}

/// Who holds `lease` and until when, while it is held; `None` when free.
pub(super) fn lease_holder(lease: &Document, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
    let holder = lease.text("holder").filter(|h| !h.is_empty())?;
    let until = lease_until(lease).filter(|until| *until > now)?;
    // The computer's name and the process, without the per-refresh ULID.
    let shown = holder.rsplit_once(':').map(|(who, _)| who).unwrap_or(holder);
    Some((shown.to_owned(), until))
}

fn lease_until(doc: &Document) -> Option<DateTime<Utc>> {
    doc.text("until").and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

impl Engine {
    /// When the access document is newer than the one this row's state came
    /// from, another machine stored new tokens: take its state and return
    /// them. `None` when this row is up to date (or there are no tokens).
    pub(super) async fn team_adopt_if_moved(&self, team: &TeamStore, connection: &Connection) -> Result<Option<(Connection, TokenSet)>> {
        let personal = self.teams.personal();
        let doc = team.doc(&connection.id, "access");
        let purpose = format!("the access token of '{}' ({}/{doc})", connection.name, team.config.mount);
        let note = self.db().team_token_note(&connection.id)?;
        let Some(access) = team.read(personal, &doc, &purpose).await? else {
            if connection.status != Status::New && note.access_version.is_some() {
                // Disconnected on another machine.
                let mut disconnected = connection.clone();
                disconnected.status = Status::New;
                disconnected.access_expires_at = None;
                disconnected.access_issued_at = None;
                disconnected.has_refresh_token = false;
                disconnected.updated_at = self.now();
                self.db().connection_update_state(&disconnected)?;
                self.db().set_team_token_note(&connection.id, &TeamTokenNote::default())?;
            }
            return Ok(None);
        };
        if note.access_version == Some(access.version) {
            return Ok(None);
        }
        let time = |key: &str| access.text(key).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
        let mut adopted = connection.clone();
        adopted.status = Status::Connected;
        adopted.access_issued_at = time("issued_at");
        adopted.access_expires_at = time("expires_at");
        adopted.refresh_expires_at = time("refresh_expires_at");
        adopted.has_refresh_token = access.data.get("has_refresh_token").and_then(Value::as_bool).unwrap_or(false);
        adopted.granted_scopes = access.data.get("scopes").and_then(|s| serde_json::from_value(s.clone()).ok());
        adopted.account = access.text("account").map(str::to_owned).or(adopted.account);
        adopted.last_error = None;
        adopted.last_error_details = None;
        adopted.last_error_action = None;
        adopted.retry_at = None;
        adopted.updated_at = self.now();
        let tokens = TokenSet {
            access_token: AccessToken::new(access.text("access_token").unwrap_or_default().to_owned()),
            refresh_token: None,
            id_token: access.text("id_token").map(|t| IdToken::new(t.to_owned())),
            token_type: access.text("token_type").unwrap_or("Bearer").to_owned(),
            data: access.text("data").map(|d| TokenData::new(d.to_owned())),
        };
        let db = self.db();
        db.connection_update_state(&adopted)?;
        db.set_failed_attempts(&connection.id, 0)?;
        db.set_team_token_note(
            &connection.id,
            &TeamTokenNote { access_version: Some(access.version), last_refresh_at: adopted.access_issued_at },
        )?;
        drop(db);
        tracing::info!(connection = %connection.id, version = access.version, "took the tokens another member stored");
        Ok(Some((adopted, tokens)))
    }

    /// Before refreshing `connection` (its local lease held): for a team
    /// connection, tokens another machine stored meanwhile, or the team
    /// lease this process now holds.
    pub(crate) async fn team_turn(&self, connection: &Connection) -> Result<TeamTurn> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(TeamTurn::Personal) };
        // A member who may not renew still picks up what others renewed.
        if let Some(adopted) = self.team_adopt_if_moved(&team, connection).await? {
            return Ok(TeamTurn::Adopted(Box::new(adopted)));
        }
        let lease = self.team_take_lease(&team, connection).await.map_err(|err| {
            if is_denied(&err) {
                may_not_renew(&connection.name, &err)
            } else {
                err
            }
        })?;
        // Re-read now that the lease is ours: the last holder may have renewed.
        match self.team_adopt_if_moved(&team, connection).await {
            Ok(Some(adopted)) => {
                lease.release(self).await;
                return Ok(TeamTurn::Adopted(Box::new(adopted)));
            }
            Ok(None) => {}
            Err(err) => {
                lease.release(self).await;
                return Err(err);
            }
        }
        // The refresh token, read under the lease: its version is the one the
        // new token is written over (check-and-set).
        let doc = team.doc(&connection.id, "refresh");
        let purpose = format!("the refresh token of '{}' ({}/{doc})", connection.name, team.config.mount);
        if let Err(err) = team.read(self.teams.personal(), &doc, &purpose).await {
            lease.release(self).await;
            return Err(if is_denied(&err) { may_not_renew(&connection.name, &err) } else { err });
        }
        Ok(TeamTurn::Holding(lease))
    }

    async fn team_take_lease(&self, team: &Arc<TeamStore>, connection: &Connection) -> Result<TeamLease> {
        let kv = team.kv(self.teams.personal()).await?;
        let doc = team.doc(&connection.id, "lease");
        let purpose = format!("the refresh lease of '{}' ({}/{doc})", connection.name, team.config.mount);
        let holder = format!("{}:{}", host_name(), new_holder());
        let started = std::time::Instant::now();
        loop {
            let current = kv.read(&doc, &purpose).await?;
            let now = self.now();
            let free = current.as_ref().is_none_or(|lease| {
                lease.text("holder").unwrap_or_default().is_empty() || lease_until(lease).is_none_or(|until| until <= now)
            });
            if free {
                let cas = match &current {
                    Some(lease) => lease.version,
                    None => kv.current_version(&doc, &purpose).await?,
                };
                let until = now + chrono::Duration::from_std(LEASE).expect("a small duration");
                let claim = json!({ "holder": holder, "until": until.to_rfc3339() });
                match kv.write(&doc, &claim, Some(cas), &purpose).await {
                    Ok(Written::Version(version)) => return Ok(TeamLease { team: team.clone(), doc, version, released: false }),
                    Ok(Written::Conflict) => {}
                    Err(err) => return Err(err),
                }
            }
            if started.elapsed() > LEASE + Duration::from_secs(5) {
                return Err(Error::network(format!(
                    "Another team member's Latch has been renewing '{}' for over {} seconds. Try again in a moment.",
                    connection.name,
                    LEASE.as_secs()
                ))
                .with_action(Action::RetryLater { at: None }));
            }
            tokio::time::sleep(LEASE_WAIT_STEP).await;
        }
    }

    /// After new tokens are stored for a team connection (a refresh or a
    /// sign-in): writes its access document — token and expiry — over the
    /// version this process read (check-and-set) and notes the version, so
    /// the other members' Latch see that new tokens are there.
    pub(crate) async fn team_publish(&self, connection: &Connection, tokens: &TokenSet) -> Result<()> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(()) };
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
        let access = json!({
            "access_token": tokens.access_token.secret(),
            "token_type": tokens.token_type,
            "id_token": tokens.id_token.as_ref().map(|t| t.secret()),
            "data": tokens.data.as_ref().map(|d| d.secret()),
            "issued_at": time(connection.access_issued_at),
            "expires_at": time(connection.access_expires_at),
            "refresh_expires_at": time(connection.refresh_expires_at),
            "has_refresh_token": tokens.refresh_token.is_some(),
            "scopes": connection.granted_scopes,
            "account": connection.account,
        });
        let doc = team.doc(&connection.id, "access");
        let purpose = format!("the access token of '{}' ({}/{doc})", connection.name, team.config.mount);
        let version = team.write(self.teams.personal(), &doc, &access, &purpose).await?;
        let note = TeamTokenNote { access_version: Some(version), last_refresh_at: connection.access_issued_at };
        self.db().set_team_token_note(&connection.id, &note)?;
        Ok(())
    }
}

impl TeamLease {
    /// Lets the lease go (check-and-set on the version this process wrote:
    /// a lease that ran out and was taken over is left to its new holder).
    pub(crate) async fn release(mut self, engine: &Engine) {
        self.released = true;
        let purpose = "the refresh lease";
        let released = match self.team.kv(engine.teams.personal()).await {
            Ok(kv) => kv.write(&self.doc, &json!({ "holder": "", "until": "" }), Some(self.version), purpose).await,
            Err(err) => Err(err),
        };
        match released {
            Ok(Written::Version(_)) => {}
            Ok(Written::Conflict) => tracing::warn!("the team lease ran out during the refresh and was taken over"),
            Err(err) => tracing::warn!(error = %err, "could not let the team lease go; it runs out by itself"),
        }
    }
}

impl Drop for TeamLease {
    /// A lease left on an early error is let go in the background; if the
    /// process ends first it runs out by itself.
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let (team, doc, version) = (self.team.clone(), std::mem::take(&mut self.doc), self.version);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(kv) = team.kv_ready() {
                    let _ = kv.write(&doc, &json!({ "holder": "", "until": "" }), Some(version), "the refresh lease").await;
                }
            });
        }
    }
}

/// The team store keeps this member from renewing: said so, with why.
fn may_not_renew(name: &str, denied: &Error) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "This Latch may not renew '{name}': {} A team member with the writer policy renews it; Latch uses the \
             access token they store.",
            denied.message
        ),
    )
}
