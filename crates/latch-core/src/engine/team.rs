//! Teams: connections kept in an OpenBao (or Vault) KV v2 store that every
//! member's Latch uses. Joining records where the store is (SQLite) and the
//! member's OpenBao token (OS keyring); the team's connections are mirrored
//! into local rows marked with their team, so every verb works on them as
//! on personal ones, while their secrets go to the team store
//! (`store/team_secrets.rs`).
//!
//! Renewing a team connection (one writer per refresh token across
//! machines) is in `team_refresh.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::events::EngineEvent;
use crate::model::{Connection, ConnectionId, Draft, KindSettings, Status};
use crate::store::openbao::{check_addrs, check_path, clean_addrs, BaoToken, Document, Kv, KvAddress, Written};
use crate::store::openbao_auth::{log_in, TeamAuth};
use crate::store::team_secrets::{new_token_entry, token_entry, TeamStore};
use crate::store::team_token::login_entry;
use crate::store::teams::{TeamConfig, TeamTokenNote};

/// What `latch team join` is given.
#[derive(Debug)]
pub struct TeamJoin {
    pub name: String,
    pub addr: String,
    pub mount: String,
    pub path: String,
    pub ca_file: Option<String>,
    /// How to sign in to OpenBao, with the secret.
    pub auth: TeamAuth,
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
    /// Who is renewing it right now (computer and process) and until when;
    /// `None` when nobody is, or when this member may not read the lease.
    pub renewing: Option<(String, DateTime<Utc>)>,
}

/// How often a team sync lists every connection instead of reading the index.
const FULL_LISTING_EVERY: chrono::Duration = chrono::Duration::minutes(10);

/// Whether a joined team's store answers, as this process last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamHealth {
    pub name: String,
    /// Since when its store has not answered; `None` while it answers.
    pub unreachable_since: Option<DateTime<Utc>>,
    /// Why not, in words (the last failure).
    pub reason: Option<String>,
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

impl Engine {
    /// Loads the joined teams and which rows are theirs into the secret
    /// store's routes: at start, and again when another process on this
    /// data directory may have joined or left a team or kept a connection
    /// in one (the app follows `latch team join` and `latch add --team`).
    /// A team already loaded keeps its state (its OpenBao token, its reach).
    pub fn load_team_routes(&self) -> Result<()> {
        let db = self.db();
        let joined = db.teams_list()?;
        for loaded in self.teams.teams() {
            let here = joined.iter().find(|t| t.name.eq_ignore_ascii_case(&loaded.config.name));
            if here.is_none_or(|team| team.token_entry != loaded.config.token_entry) {
                self.teams.remove_team(&loaded.config.name);
            }
        }
        for team in joined {
            if self.teams.team(&team.name).is_some() {
                continue;
            }
            let store = TeamStore::new(team);
            store.token.set_method(db.team_auth(&store.config.name)?);
            store.token.set_clock(self.clock.clone());
            self.teams.add_team(Arc::new(store));
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

    /// Each joined team's reachability as seen by this process's calls to
    /// its store (no call made here); announced as `EngineEvent::TeamReach`
    /// when it changes.
    pub fn team_health(&self) -> Result<Vec<TeamHealth>> {
        let mut health = Vec::new();
        for config in self.db().teams_list()? {
            let outage = self.teams.team(&config.name).and_then(|team| team.reach.unreachable());
            health.push(TeamHealth {
                name: config.name,
                unreachable_since: outage.as_ref().map(|(since, _)| *since),
                reason: outage.map(|(_, reason)| reason),
            });
        }
        Ok(health)
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
        check_addrs(&join.addr)?;
        let config = TeamConfig {
            name: name.clone(),
            addr: clean_addrs(&join.addr),
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
        // A client without a token yet: logging in needs none.
        let kv = Kv::new(&address, BaoToken::new(String::new()))?;
        kv.health().await?;
        let (token, life) = log_in(&kv, &join.auth, self.now()).await?;
        let token_text = zeroize::Zeroizing::new(token.secret().to_owned());
        kv.set_token(token);
        let store = TeamStore::new(config.clone());
        kv.list(&store.connections_folder(), &format!("the team's connections ({}/{})", config.mount, store.connections_folder())).await?;
        let method = join.auth.method();
        let (login, login_slot) = login_entry(&config.token_entry);
        let kept = self.team_keep_secrets(&config, &token_text, join.auth.login_secret()).await;
        let inserted = kept.and_then(|()| {
            self.db().in_transaction(|db| {
                db.team_insert(&config)?;
                db.team_set_auth(&config.name, &method)
            })
        });
        if let Err(err) = inserted {
            let _ = self.teams.personal().delete(&entry, slot).await;
            let _ = self.teams.personal().delete(&login, login_slot).await;
            return Err(err);
        }
        store.token.set_method(method);
        store.token.set_clock(self.clock.clone());
        store.token.joined(life, join.auth.login_secret().map(|s| BaoToken::new(s.secret().to_owned())));
        store.token.recover_for(&kv);
        store.set_kv(kv);
        self.teams.add_team(Arc::new(store));
        tracing::info!(team = %name, "joined a team");
        self.team_sync(&name).await
    }

    /// Joins the team, or — when this data directory joined it before (a
    /// headless agent starting again, its secrets only ever in memory) —
    /// signs in to it again with `join.auth`, which replaces the kept token
    /// and login secret. Then mirrors the team's connections.
    pub async fn team_sign_in(&self, join: TeamJoin) -> Result<TeamSync> {
        let found = self.db().team_find(join.name.trim())?;
        let Some(config) = found else { return self.team_join(join).await };
        let same = config.addr == clean_addrs(&join.addr)
            && config.mount == check_path("mount", &join.mount)?
            && config.path == check_path("path", &join.path)?;
        if !same {
            return Err(Error::validation(
                "name",
                format!(
                    "This Latch joined '{}' at {} ({}/{}), not at the address, mount and path given. Leave it first, or \
                     use another name.",
                    config.name, config.addr, config.mount, config.path
                ),
            ));
        }
        let team = self.team_store(&config.name)?;
        let kv = Kv::new(&team.address(), BaoToken::new(String::new()))?;
        kv.health().await?;
        let (token, life) = log_in(&kv, &join.auth, self.now()).await?;
        let token_text = zeroize::Zeroizing::new(token.secret().to_owned());
        let method = join.auth.method();
        self.team_keep_secrets(&config, &token_text, join.auth.login_secret()).await?;
        self.db().team_set_auth(&config.name, &method)?;
        team.token.set_method(method);
        team.token.joined(life, join.auth.login_secret().map(|s| BaoToken::new(s.secret().to_owned())));
        match team.kv_ready() {
            Some(ready) => ready.set_token(token),
            None => {
                kv.set_token(token);
                team.token.recover_for(&kv);
                team.set_kv(kv);
            }
        }
        tracing::info!(team = %config.name, "signed in to the team's OpenBao again");
        self.team_sync(&config.name).await
    }

    /// How this Latch signs in to the team's OpenBao (never the secret).
    pub fn team_auth(&self, name: &str) -> Result<crate::store::openbao_auth::TeamAuthMethod> {
        let config = self.db().team_find(name)?.ok_or_else(|| not_joined(name))?;
        self.db().team_auth(&config.name)
    }

    /// Keeps the team's OpenBao token and login secret (if any) in the
    /// personal store: the OS keyring, or memory for a headless agent.
    async fn team_keep_secrets(&self, config: &TeamConfig, token: &str, login_secret: Option<&BaoToken>) -> Result<()> {
        let (entry, slot) = token_entry(&config.token_entry);
        self.teams.personal().set(&entry, slot, token).await?;
        if let Some(secret) = login_secret {
            let (login, login_slot) = login_entry(&config.token_entry);
            self.teams.personal().set(&login, login_slot, secret.secret()).await?;
        }
        Ok(())
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
        let (login, login_slot) = login_entry(&config.token_entry);
        self.teams.personal().delete(&login, login_slot).await?;
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
        // The index (one read) says which settings changed; a full listing
        // reads them all: when there is no index (a store filled by an
        // older Latch, or a policy without it) and every ten minutes (a
        // writer that stopped between a settings document and the index) —
        // counted over every process using this data directory, so a
        // script's `latch` commands do not each list the team.
        let listed_at = self.db().team_full_listing_at(&team.config.token_entry)?;
        let now = self.now();
        let full_listing_due = listed_at.is_none_or(|at| now < at || now - at > FULL_LISTING_EVERY);
        let index = match full_listing_due {
            true => None,
            false => self.team_index(&team).await?,
        };
        let ids: Vec<ConnectionId> = match &index {
            Some(index) => index.iter().filter(|(_, v)| !v.is_null()).map(|(id, _)| ConnectionId(id.clone())).collect(),
            None => {
                let folder = team.connections_folder();
                let listed = team
                    .list(personal, &folder, &format!("the team's connections ({}/{folder})", team.config.mount))
                    .await?
                    .into_iter()
                    .filter_map(|key| key.strip_suffix('/').map(|id| ConnectionId(id.to_owned())))
                    .collect();
                self.db().team_set_full_listing_at(&team.config.token_entry, self.now())?;
                listed
            }
        };
        let mut report = TeamSync::default();
        for id in &ids {
            let note = self.db().team_token_note(id)?;
            let indexed = index.as_ref().and_then(|index| index.get(id.as_str())).and_then(Value::as_u64);
            if indexed.is_some() && indexed == note.settings_version && self.db().connection_find(id.as_str())?.is_some() {
                continue;
            }
            let doc = team.doc(id, "settings");
            let purpose = format!("the settings of a team connection ({}/{doc})", team.config.mount);
            let Some(settings) = team.read(personal, &doc, &purpose).await? else { continue };
            let Some((draft, has_client_secret)) = read_settings(&settings) else {
                report.skipped.push((id.to_string(), "its settings could not be read".into()));
                continue;
            };
            let existing = self.db().connection_find(id.as_str())?;
            let mut changed = true;
            match existing {
                Some(mut local) => {
                    changed = local.name != draft.name || local.settings != draft.settings || local.has_client_secret != has_client_secret;
                    if changed {
                        local.name = draft.name.clone();
                        local.settings = draft.settings;
                        local.has_client_secret = has_client_secret;
                        local.updated_at = self.now();
                        self.db().connection_update_settings(&local)?;
                        team.forget_held(id);
                        report.updated.push(draft.name.clone());
                        self.announce(EngineEvent::Changed { id: id.clone() });
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
                    self.announce(EngineEvent::Changed { id: id.clone() });
                }
            }
            let mut note = self.db().team_token_note(id)?;
            if note.settings_version != Some(settings.version) {
                note.settings_version = Some(settings.version);
                self.db().set_team_token_note(id, &note)?;
            }
            if !changed {
                // Its tokens are taken when it is used or falls due.
                continue;
            }
            let connection = self.get(id.as_str())?;
            if has_client_secret {
                // Read here, where a sync has time, not in a renewal: a
                // member whose policy keeps it from them goes without.
                if let Err(err) = self.secrets.client_secret(id).await {
                    if !crate::store::team_secrets::is_denied(&err) {
                        return Err(err);
                    }
                }
            }
            if let Some(connection) = self.team_adopt_if_moved(&team, &connection).await? {
                self.announce(EngineEvent::Changed { id: connection.0.id.clone() });
            }
        }
        let marked = self.db().team_connections_all()?;
        for (id, name) in marked {
            let gone = match &index {
                Some(index) => index.get(id.as_str()).is_some_and(Value::is_null),
                None => !ids.contains(&id),
            };
            if name.eq_ignore_ascii_case(&team.config.name) && gone {
                if let Some(connection) = self.db().connection_find(id.as_str())? {
                    report.removed.push(connection.name);
                }
                self.forget_mirrored(&id)?;
            }
        }
        self.db().team_set_synced(&team.config.name, self.now())?;
        Ok(report)
    }

    /// The team's index: each connection's settings version, by id. `None`
    /// when there is none (or this member may not read it).
    async fn team_index(&self, team: &TeamStore) -> Result<Option<serde_json::Map<String, Value>>> {
        let doc = team.index_doc();
        let purpose = format!("the team's index ({}/{doc})", team.config.mount);
        match team.read(self.teams.personal(), &doc, &purpose).await {
            Ok(found) => Ok(found.and_then(|d| d.data.get("connections").and_then(Value::as_object).cloned())),
            Err(err) if crate::store::team_secrets::is_denied(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Notes `id`'s settings version in the team's index (`None`: it is
    /// gone), check-and-set against other members' changes. A failure is
    /// logged, not raised: the settings are stored, and the next full
    /// listing finds them.
    async fn team_index_set(&self, team: &TeamStore, id: &ConnectionId, version: Option<u64>) {
        let doc = team.index_doc();
        let purpose = format!("the team's index ({}/{doc})", team.config.mount);
        let personal = self.teams.personal();
        for _ in 0..8 {
            let current = match team.read(personal, &doc, &purpose).await {
                Ok(current) => current,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the team's index");
                    return;
                }
            };
            let (cas, mut connections) = match current {
                Some(found) => (found.version, found.data.get("connections").and_then(Value::as_object).cloned().unwrap_or_default()),
                None => (0, serde_json::Map::new()),
            };
            // A removed connection stays as null: members whose index
            // read says so drop it (one missing may just predate the index).
            connections.insert(id.to_string(), version.map_or(Value::Null, |v| json!(v)));
            match team.write_over(personal, &doc, &json!({ "connections": connections }), Some(cas), &purpose).await {
                Ok(Written::Version(_)) => return,
                Ok(Written::Conflict) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, "could not update the team's index");
                    return;
                }
            }
        }
        tracing::warn!("the team's index kept changing under this Latch; the next full listing catches up");
    }

    /// Moves a personal connection into a team: its settings and client
    /// secret go to the team store, the secret leaves the personal store.
    /// A connection that cannot be moved is removed again, so adding it
    /// with the same name can be tried again.
    pub async fn team_adopt(&self, name_or_id: &str, team_name: &str) -> Result<Connection> {
        let team = self.team_store(team_name)?;
        let connection = self.get(name_or_id)?;
        if matches!(connection.settings, KindSettings::Spec(_)) {
            let _ = self.remove(connection.id.as_str()).await;
            return Err(Error::validation(
                "kind",
                "Connections made from a custom app spec cannot be kept in a team yet; OAuth 2.0 and OAuth 1.0a connections can.",
            ));
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
        use crate::model::{SecretSlot, CLIENT_IDENTITY, DPOP_KEY, OAUTH1_PRIVATE_KEY, REGISTRATION_TOKEN};
        use crate::store::SecretStore;
        let personal = self.teams.personal();
        // Every secret the connection was saved with: the client secret, and
        // the keys and certificates made or imported for it.
        let mut secrets = Vec::new();
        for slot in [SecretSlot::ClientSecret, OAUTH1_PRIVATE_KEY, CLIENT_IDENTITY, DPOP_KEY, REGISTRATION_TOKEN] {
            if let Some(value) = personal.get(&connection.id, slot).await? {
                secrets.push((slot, value));
            }
        }
        let doc = team.doc(&connection.id, "settings");
        let kv = team.kv(personal).await?;
        let purpose = format!("the settings of '{}' ({}/{doc})", connection.name, team.config.mount);
        let version = match kv.write(&doc, &settings_document(connection), Some(0), &purpose).await? {
            Written::Version(version) => version,
            Written::Conflict => return Err(crate::store::team_secrets::changed_elsewhere(&purpose)),
        };
        self.db().team_connection_mark(&connection.id, &team.config.name)?;
        let note = TeamTokenNote { settings_version: Some(version), ..Default::default() };
        self.db().set_team_token_note(&connection.id, &note)?;
        self.team_index_set(team, &connection.id, Some(version)).await;
        self.teams.route(&connection.id, &team.config.name);
        for (slot, value) in secrets {
            // Through the routes: now the team's `client` or `kind-…` document.
            crate::store::team_secrets::RoutedSecrets(self.teams.clone()).set(&connection.id, slot, &value).await?;
            personal.delete(&connection.id, slot).await?;
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
        let mut note = self.db().team_token_note(&connection.id)?;
        // A row from before versions were noted: the last edit wins, as it did.
        match team.write_over(self.teams.personal(), &doc, &settings_document(connection), note.settings_version, &purpose).await? {
            Written::Version(version) => {
                note.settings_version = Some(version);
                self.db().set_team_token_note(&connection.id, &note)?;
                self.team_index_set(&team, &connection.id, Some(version)).await;
                Ok(())
            }
            Written::Conflict => Err(self.edited_elsewhere(&team, connection).await),
        }
    }

    /// Before an edit of a team connection changes anything (its client
    /// secret first): whether another member changed its settings since
    /// this Latch last fetched them. One read; the write is check-and-set
    /// on the same version ([`Engine::team_publish_settings`]).
    pub(crate) async fn team_settings_current(&self, connection: &Connection) -> Result<()> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(()) };
        let doc = team.doc(&connection.id, "settings");
        let purpose = format!("the settings of '{}' ({}/{doc})", connection.name, team.config.mount);
        let note = self.db().team_token_note(&connection.id)?;
        let current = team.read(self.teams.personal(), &doc, &purpose).await?.map(|d| d.version);
        if note.settings_version.is_some() && current != note.settings_version {
            return Err(self.edited_elsewhere(&team, connection).await);
        }
        Ok(())
    }

    /// Another member's edit came first: theirs is taken here, and the
    /// user is asked to make theirs again on top of it.
    async fn edited_elsewhere(&self, team: &TeamStore, connection: &Connection) -> Error {
        if let Err(err) = self.team_sync(&team.config.name).await {
            tracing::warn!(error = %err, "could not fetch the team's connections after a conflicting edit");
        }
        Error::validation(
            "settings",
            format!(
                "Another team member changed '{}' since this Latch last fetched it. Latch now shows their version;                  make your change again on top of it.",
                connection.name
            ),
        )
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
        self.team_index_set(&team, &connection.id, None).await;
        self.teams.unroute(&connection.id);
        Ok(())
    }

    /// Renews each joined team's OpenBao token (or logs in again) when it is
    /// due, also while nothing else uses the store; when to look next.
    pub async fn team_tokens_keep_alive(&self) -> DateTime<Utc> {
        let now = self.now();
        let mut next = now + chrono::Duration::minutes(10);
        for team in self.teams.teams() {
            match team.kv(self.teams.personal()).await {
                Ok(_) => {
                    if let Some(due) = team.token.due() {
                        // Still due after kv() tried: the renewal failed (the
                        // store does not answer). Tried again in half a
                        // minute, not in a loop.
                        next = next.min(if due <= now { now + chrono::Duration::seconds(30) } else { due });
                    }
                }
                Err(err) => {
                    tracing::warn!(team = %team.config.name, error = %err, "could not keep the team's OpenBao token alive");
                    if err.is_transient() {
                        next = next.min(now + chrono::Duration::minutes(1));
                    }
                }
            }
        }
        next
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
                    let health = kv.health().await;
                    team.reach.observe(&config.name, &health);
                    match health {
                        Ok(()) => team
                            .list(self.teams.personal(), &folder, &format!("the team's connections ({}/{folder})", config.mount))
                            .await
                            .err(),
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
                    let renewing = match (&unreachable, team.kv_ready()) {
                        (None, Some(kv)) => {
                            let doc = team.doc(&connection.id, "refresh");
                            let lease = kv.read(&doc, "the refresh claim").await.ok().flatten();
                            lease.and_then(|lease| super::team_refresh::lease_holder(&lease, self.now()))
                        }
                        _ => None,
                    };
                    connections.push(TeamConnectionReport {
                        name: connection.name,
                        status: connection.status,
                        access_expires_at: connection.access_expires_at,
                        last_refresh_at: note.last_refresh_at,
                        renewing,
                    });
                }
            }
            reports.push(TeamReport { config, unreachable, connections });
        }
        Ok(reports)
    }
}

fn not_joined(name: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("This Latch has not joined a team named '{name}'."))
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
            auth: TeamAuth::Token(BaoToken::new("s.token".into())),
        };
        let err = engine.team_join(join).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation);
        assert!(engine.teams().unwrap().is_empty());
    }
}
