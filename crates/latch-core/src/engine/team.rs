//! Teams: connections kept in an OpenBao (or Vault) KV v2 store that every
//! member's Latch uses. Joining records where the store is (SQLite) and the
//! member's OpenBao token (OS keyring); the team's connections are mirrored
//! into local rows marked with their team, so every verb works on them as
//! on personal ones, while their secrets go to the team store
//! (`store/team_secrets.rs`).
//!
//! One writer per refresh token across machines: before renewing a team
//! connection, Latch takes the connection's lease document with KV v2
//! check-and-set, then re-reads the access document; if its version moved,
//! another machine renewed and stored new tokens, which Latch adopts without
//! asking the provider. Otherwise it renews, writes the new documents with
//! check-and-set on the versions it read, and lets the lease go. A holder
//! that dies lets go when its lease runs out ([`LEASE`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Engine;
use crate::error::{Action, Error, ErrorKind, Result};
use crate::events::EngineEvent;
use crate::model::{Connection, ConnectionId, Draft, KindSettings, Status};
use crate::secret::{AccessToken, IdToken, TokenData, TokenSet};
use crate::store::leases::new_holder;
use crate::store::openbao::{check_addr, check_path, BaoToken, Document, Kv, KvAddress, Written};
use crate::store::team_secrets::{is_denied, new_token_entry, token_entry, TeamStore};
use crate::store::teams::{TeamConfig, TeamTokenNote};

/// How long a lease on a team connection's refresh lasts: longer than a
/// token request takes (30 s at most), short enough that a dead holder
/// does not keep the others waiting long.
const LEASE: Duration = Duration::from_secs(40);
const LEASE_WAIT_STEP: Duration = Duration::from_millis(100);

/// What `latch team join` is given.
#[derive(Debug)]
pub struct TeamJoin {
    pub name: String,
    pub addr: String,
    pub mount: String,
    pub path: String,
    pub ca_file: Option<String>,
    pub token: BaoToken,
}

/// How a team looks from here, for `latch team status`.
#[derive(Debug, Clone)]
pub struct TeamReport {
    pub config: TeamConfig,
    /// `None` when the store answered; otherwise why not, in words.
    pub unreachable: Option<String>,
    pub connections: Vec<TeamConnectionReport>,
}

#[derive(Debug, Clone)]
pub struct TeamConnectionReport {
    pub name: String,
    pub status: Status,
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When this Latch last saw new tokens stored for it (its own or another member's).
    pub last_refresh_at: Option<DateTime<Utc>>,
}

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TeamSync {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// Team connections not mirrored, with the reason (a personal connection has the name).
    pub skipped: Vec<(String, String)>,
}

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

fn lease_until(doc: &Document) -> Option<DateTime<Utc>> {
    doc.text("until").and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

impl Engine {
    /// Loads the joined teams and which rows are theirs into the secret
    /// store's routes (at start).
    pub(super) fn load_team_routes(&self) -> Result<()> {
        let db = self.db();
        for team in db.teams_list()? {
            self.teams.add_team(Arc::new(TeamStore::new(team)));
        }
        for (id, team) in db.team_connections_all()? {
            self.teams.route(&id, &team);
        }
        Ok(())
    }

    fn team_store(&self, name: &str) -> Result<Arc<TeamStore>> {
        self.teams.team(name).ok_or_else(|| not_joined(name))
    }

    /// The team each team connection belongs to, by connection id.
    pub fn team_names(&self) -> Result<std::collections::HashMap<ConnectionId, String>> {
        Ok(self.db().team_connections_all()?.into_iter().collect())
    }

    pub fn teams(&self) -> Result<Vec<TeamConfig>> {
        self.db().teams_list()
    }

    /// Joins a team: checks that the store answers and that the token may
    /// read the team's connections, keeps the token in the OS keyring and
    /// the rest in the data directory, then mirrors the team's connections.
    pub async fn team_join(&self, join: TeamJoin) -> Result<TeamSync> {
        let name = join.name.trim().to_owned();
        crate::validate::check_name(&name).map_err(|message| Error::validation("name", message))?;
        if self.db().team_find(&name)?.is_some() {
            return Err(Error::validation("name", format!("This Latch has already joined '{name}'. Leave it first to join again.")));
        }
        check_addr(&join.addr)?;
        let config = TeamConfig {
            name: name.clone(),
            addr: join.addr.trim().trim_end_matches('/').to_owned(),
            mount: check_path("mount", &join.mount)?,
            path: check_path("path", &join.path)?,
            ca_file: join.ca_file.clone(),
            token_entry: new_token_entry(),
            joined_at: self.now(),
            last_synced_at: None,
            last_sync_attempt_at: None,
        };
        let address =
            KvAddress { addr: config.addr.clone(), mount: config.mount.clone(), ca_file: config.ca_file.as_ref().map(Into::into) };
        let (entry, slot) = token_entry(&config.token_entry);
        let token_text = zeroize::Zeroizing::new(join.token.secret().to_owned());
        let kv = Kv::new(&address, join.token)?;
        kv.health().await?;
        let store = TeamStore::new(config.clone());
        kv.list(&store.connections_folder(), &format!("the team's connections ({}/{})", config.mount, store.connections_folder())).await?;
        self.teams.personal().set(&entry, slot, &token_text).await?;
        let inserted = self.db().team_insert(&config);
        if let Err(err) = inserted {
            let _ = self.teams.personal().delete(&entry, slot).await;
            return Err(err);
        }
        store.set_kv(kv);
        self.teams.add_team(Arc::new(store));
        tracing::info!(team = %name, "joined a team");
        self.team_sync(&name).await
    }

    /// Leaves a team: its mirrored connections and the OpenBao token go from
    /// this computer; nothing changes in the team store.
    pub async fn team_leave(&self, name: &str) -> Result<Vec<String>> {
        let config = self.db().team_find(name)?.ok_or_else(|| not_joined(name))?;
        let mut removed = Vec::new();
        let marked = self.db().team_connections_all()?;
        for (id, team) in marked {
            if !team.eq_ignore_ascii_case(&config.name) {
                continue;
            }
            if let Some(connection) = self.db().connection_find(id.as_str())? {
                removed.push(connection.name);
            }
            self.forget_mirrored(&id)?;
        }
        self.db().team_delete(&config.name)?;
        self.teams.remove_team(&config.name);
        let (entry, slot) = token_entry(&config.token_entry);
        self.teams.personal().delete(&entry, slot).await?;
        tracing::info!(team = %config.name, "left a team");
        Ok(removed)
    }

    /// Drops a mirrored row (never the team's documents).
    fn forget_mirrored(&self, id: &ConnectionId) -> Result<()> {
        self.teams.unroute(id);
        self.unsaved.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        let db = self.db();
        db.connection_delete(id)?;
        db.usage_forget(id)?;
        drop(db);
        self.announce(EngineEvent::Removed { id: id.clone() });
        Ok(())
    }

    /// Mirrors every joined team whose last sync is older than `max_age`;
    /// a team that cannot be reached is left as it was (logged).
    pub async fn team_sync_if_stale(&self, max_age: Duration) {
        let now = self.now();
        let teams = self.db().teams_list();
        let Ok(teams) = teams else { return };
        for team in teams {
            let tried = team.last_sync_attempt_at.max(team.last_synced_at);
            let stale = tried.is_none_or(|at| now - at > chrono::Duration::from_std(max_age).unwrap_or_default());
            if stale {
                // Noted first: a store that is down is tried again a minute later, not by every command.
                if let Err(err) = self.db().team_set_sync_attempt(&team.name, now) {
                    tracing::warn!(team = %team.name, error = %err, "could not note the sync attempt");
                }
                if let Err(err) = self.team_sync(&team.name).await {
                    tracing::warn!(team = %team.name, error = %err, "could not sync the team's connections");
                }
            }
        }
    }

    /// Mirrors the team's connections into local rows: new ones added,
    /// changed settings and newer tokens' state taken, ones gone removed.
    pub async fn team_sync(&self, name: &str) -> Result<TeamSync> {
        let team = self.team_store(name)?;
        let personal = self.teams.personal();
        let kv = team.kv(personal).await?;
        let folder = team.connections_folder();
        let ids: Vec<ConnectionId> = kv
            .list(&folder, &format!("the team's connections ({}/{folder})", team.config.mount))
            .await?
            .into_iter()
            .filter_map(|key| key.strip_suffix('/').map(|id| ConnectionId(id.to_owned())))
            .collect();
        let mut report = TeamSync::default();
        for id in &ids {
            let doc = team.doc(id, "settings");
            let purpose = format!("the settings of a team connection ({}/{doc})", team.config.mount);
            let Some(settings) = team.read(personal, &doc, &purpose).await? else { continue };
            let Some((draft, has_client_secret)) = read_settings(&settings) else {
                report.skipped.push((id.to_string(), "its settings could not be read".into()));
                continue;
            };
            let existing = self.db().connection_find(id.as_str())?;
            match existing {
                Some(mut local) => {
                    if local.name != draft.name || local.settings != draft.settings || local.has_client_secret != has_client_secret {
                        local.name = draft.name.clone();
                        local.settings = draft.settings;
                        local.has_client_secret = has_client_secret;
                        local.updated_at = self.now();
                        self.db().connection_update_settings(&local)?;
                        report.updated.push(draft.name.clone());
                    }
                }
                None => {
                    if let Some(other) = self.db().connection_find(&draft.name)? {
                        report.skipped.push((draft.name.clone(), format!("a connection named '{}' is already here", other.name)));
                        continue;
                    }
                    let mut connection = Connection::new(draft, has_client_secret, self.now());
                    connection.id = id.clone();
                    self.db().in_transaction(|db| {
                        db.connection_insert(&connection)?;
                        db.team_connection_mark(id, &team.config.name)
                    })?;
                    self.teams.route(id, &team.config.name);
                    report.added.push(connection.name.clone());
                }
            }
            let connection = self.get(id.as_str())?;
            if let Some(connection) = self.team_adopt_if_moved(&team, &connection).await? {
                self.announce(EngineEvent::Changed { id: connection.0.id.clone() });
            }
        }
        let marked = self.db().team_connections_all()?;
        for (id, name) in marked {
            if name.eq_ignore_ascii_case(&team.config.name) && !ids.contains(&id) {
                if let Some(connection) = self.db().connection_find(id.as_str())? {
                    report.removed.push(connection.name);
                }
                self.forget_mirrored(&id)?;
            }
        }
        self.db().team_set_synced(&team.config.name, self.now())?;
        Ok(report)
    }

    /// Moves a personal connection into a team: its settings and client
    /// secret go to the team store, the secret leaves the personal store.
    /// A connection that cannot be moved is removed again, so adding it
    /// with the same name can be tried again.
    pub async fn team_adopt(&self, name_or_id: &str, team_name: &str) -> Result<Connection> {
        let team = self.team_store(team_name)?;
        let connection = self.get(name_or_id)?;
        if !matches!(connection.settings, KindSettings::OAuth2(_)) {
            let _ = self.remove(connection.id.as_str()).await;
            return Err(Error::validation("kind", "Only OAuth 2.0 connections can be kept in a team for now."));
        }
        let moved = self.team_move(&team, &connection).await;
        if let Err(err) = moved {
            self.teams.unroute(&connection.id);
            let _ = self.db().connection_delete(&connection.id);
            let _ = self.teams.personal().delete(&connection.id, crate::model::SecretSlot::ClientSecret).await;
            return Err(err);
        }
        self.announce(EngineEvent::Changed { id: connection.id.clone() });
        self.get(connection.id.as_str())
    }

    async fn team_move(&self, team: &Arc<TeamStore>, connection: &Connection) -> Result<()> {
        let personal = self.teams.personal();
        let secret = personal.get(&connection.id, crate::model::SecretSlot::ClientSecret).await?;
        let doc = team.doc(&connection.id, "settings");
        let kv = team.kv(personal).await?;
        let purpose = format!("the settings of '{}' ({}/{doc})", connection.name, team.config.mount);
        match kv.write(&doc, &settings_document(connection), Some(0), &purpose).await? {
            Written::Version(_) => {}
            Written::Conflict => return Err(crate::store::team_secrets::changed_elsewhere(&purpose)),
        }
        self.db().team_connection_mark(&connection.id, &team.config.name)?;
        self.teams.route(&connection.id, &team.config.name);
        if let Some(secret) = secret {
            // Through the routes: now the team's client document.
            self.secrets.set_client_secret(&connection.id, &crate::secret::ClientSecret::new(secret.as_str().to_owned())).await?;
            personal.delete(&connection.id, crate::model::SecretSlot::ClientSecret).await?;
        }
        tracing::info!(connection = %connection.id, team = %team.config.name, "connection kept in a team");
        Ok(())
    }

    /// After an edit of a team connection, before the local row changes:
    /// its settings document, over the version this process last read of it
    /// (check-and-set; none read: the last edit wins).
    pub(crate) async fn team_publish_settings(&self, connection: &Connection) -> Result<()> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(()) };
        let doc = team.doc(&connection.id, "settings");
        let purpose = format!("the settings of '{}' ({}/{doc})", connection.name, team.config.mount);
        team.write(self.teams.personal(), &doc, &settings_document(connection), &purpose).await?;
        Ok(())
    }

    /// Removing a team connection removes it from the team: after its
    /// secrets (`remove`), its lease and settings documents go, so the other
    /// members' next sync drops it too.
    pub(crate) async fn team_forget(&self, connection: &Connection) -> Result<()> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(()) };
        for name in ["lease", "settings"] {
            let doc = team.doc(&connection.id, name);
            let purpose = format!("the {name} of '{}' ({}/{doc})", connection.name, team.config.mount);
            team.delete(self.teams.personal(), &doc, &purpose).await?;
        }
        self.teams.unroute(&connection.id);
        Ok(())
    }

    /// When the access document is newer than the one this row's state came
    /// from, another machine stored new tokens: take its state and return
    /// them. `None` when this row is up to date (or there are no tokens).
    async fn team_adopt_if_moved(&self, team: &TeamStore, connection: &Connection) -> Result<Option<(Connection, TokenSet)>> {
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
        let holder = new_holder();
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

    /// Every joined team: whether its store answers, and its connections here.
    pub async fn team_status(&self) -> Result<Vec<TeamReport>> {
        let mut reports = Vec::new();
        let names = self.team_names()?;
        let teams = self.db().teams_list()?;
        for config in teams {
            let team = self.team_store(&config.name)?;
            let unreachable = match team.kv(self.teams.personal()).await {
                Ok(kv) => {
                    let folder = team.connections_folder();
                    match kv.health().await {
                        Ok(()) => kv.list(&folder, &format!("the team's connections ({}/{folder})", config.mount)).await.err(),
                        Err(err) => Some(err),
                    }
                }
                Err(err) => Some(err),
            }
            .map(|err| err.message);
            let mut connections = Vec::new();
            for connection in self.list()? {
                if names.get(&connection.id).is_some_and(|t| t.eq_ignore_ascii_case(&config.name)) {
                    let note = self.db().team_token_note(&connection.id)?;
                    connections.push(TeamConnectionReport {
                        name: connection.name,
                        status: connection.status,
                        access_expires_at: connection.access_expires_at,
                        last_refresh_at: note.last_refresh_at,
                    });
                }
            }
            reports.push(TeamReport { config, unreachable, connections });
        }
        Ok(reports)
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

fn not_joined(name: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("This Latch has not joined a team named '{name}'."))
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

/// A team connection's settings document: nothing secret.
fn settings_document(connection: &Connection) -> Value {
    json!({
        "name": connection.name,
        "kind": connection.settings.kind(),
        "settings": connection.settings,
        "has_client_secret": connection.has_client_secret,
    })
}

/// The settings document as a draft and whether the team holds a client secret.
fn read_settings(doc: &Document) -> Option<(Draft, bool)> {
    let name = doc.text("name")?.to_owned();
    let settings: KindSettings = serde_json::from_value(doc.data.get("settings")?.clone()).ok()?;
    let has_client_secret = doc.data.get("has_client_secret").and_then(Value::as_bool).unwrap_or(false);
    Some((Draft { name, settings }, has_client_secret))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine;

    /// The desktop shell runs verbs on a multi-threaded runtime: no lock
    /// may be held across an await.
    #[allow(dead_code, unused_must_use)]
    fn every_team_verb_future_is_send(engine: Arc<Engine>, join: TeamJoin) {
        fn send<T: Send>(_: T) {}
        send(engine.team_join(join));
        send(engine.team_leave("x"));
        send(engine.team_sync("x"));
        send(engine.team_sync_if_stale(Duration::ZERO));
        send(engine.team_adopt("x", "y"));
        send(engine.team_status());
    }

    #[tokio::test]
    async fn a_team_this_latch_has_not_joined_is_named_in_the_error() {
        let (_dir, engine) = test_engine();
        let err = engine.team_sync("sales").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert!(err.message.contains("not joined a team named 'sales'"), "{}", err.message);
        assert!(engine.team_status().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn joining_an_address_without_https_to_another_computer_is_refused_before_anything_is_sent() {
        let (_dir, engine) = test_engine();
        let join = TeamJoin {
            name: "sales".into(),
            addr: "http://bao.example:8200".into(),
            mount: "secret".into(),
            path: "teams/sales".into(),
            ca_file: None,
            token: BaoToken::new("s.token".into()),
        };
        let err = engine.team_join(join).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation);
        assert!(engine.teams().unwrap().is_empty());
    }
}
