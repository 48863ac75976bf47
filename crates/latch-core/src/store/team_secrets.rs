//! The secret store for a Latch that has joined teams: a team connection's
//! secrets live in its team's OpenBao KV v2 store, every other connection's
//! in the personal store (the OS keyring). [`RoutedSecrets`] is the
//! [`SecretStore`] the engine uses; [`TeamRoutes`] says which connection
//! belongs to which team.
//!
//! Layout, per connection under `<team path>/connections/<id>/`: `settings`
//! (not secret: name, kind, settings), `client` (the client secret),
//! `refresh` (the refresh token), `access` (access token, token type, ID
//! token, expiry), `lease` (who is renewing it, until when), `kind-<name>`
//! (a kind's own secret). One document per secret, so an OpenBao policy can
//! grant the access token without the refresh token or the client secret.
//!
//! Writes carry KV v2 check-and-set on the version this process last read
//! or wrote of that document, so a write over someone else's newer one
//! fails instead of replacing it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::openbao::{Document, Kv, KvAddress, Written};
use super::secrets::{SecretFuture, SecretStore};
use super::teams::TeamConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ConnectionId, SecretSlot};

/// The personal-store entry that holds a team's OpenBao token: account
/// `<entry>/openbao_token` under the keyring's `latch` service, where
/// `entry` (`team_` + ULID, made when joining) is in the team's row — so two
/// data directories of one user never share a team's token.
pub fn token_entry(entry: &str) -> (ConnectionId, SecretSlot) {
    (ConnectionId(entry.to_owned()), SecretSlot::Kind("openbao_token"))
}

/// A new entry name for a team being joined.
pub fn new_token_entry() -> String {
    format!("team_{}", ulid::Ulid::new())
}

/// One joined team: where its store is, and a client made on first use.
pub struct TeamStore {
    pub config: TeamConfig,
    kv: tokio::sync::OnceCell<Kv>,
    /// The last version of each document this process read or wrote.
    versions: Mutex<HashMap<String, u64>>,
    /// Whether the store answers (observed on every call).
    pub reach: super::team_reach::Reach,
    /// The OpenBao token's life: renewed, or logged in again, in time.
    pub token: super::team_token::TokenKeeper,
    /// The refresh documents this process has claimed to renew them.
    claims: Mutex<HashMap<String, Claim>>,
    /// Client secrets (and kinds' own secrets) read or written by this
    /// process, by document: a renewal needs no call for them. Dropped
    /// when a sync sees the connection's settings change and when the
    /// provider refuses the client (`forget_held`). Also the last access
    /// document read, served while the store cannot be reached and the
    /// token in it is still valid.
    held: Mutex<HashMap<String, Zeroizing<String>>>,
    /// The access document that goes with tokens about to be written, by
    /// refresh document ([`TeamStore::stage_access`]).
    staged: Mutex<HashMap<String, Zeroizing<String>>>,
}

/// A claim on a connection's refresh document: the version the claim was
/// written as, who holds it, and whose sign-in the tokens are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub version: u64,
    pub holder: String,
    pub connected_by: Option<String>,
    /// The version the access document will have once the renewal has
    /// written it (the one this Latch knows, plus one).
    pub next_access: Option<u64>,
}

impl TeamStore {
    pub fn new(config: TeamConfig) -> TeamStore {
        TeamStore { config, kv: tokio::sync::OnceCell::new(), versions: Mutex::default(), reach: Default::default(), claims: Mutex::default(), token: Default::default(), held: Mutex::default(), staged: Mutex::default() }
    }

    pub fn address(&self) -> KvAddress {
        KvAddress {
            addr: self.config.addr.clone(),
            mount: self.config.mount.clone(),
            ca_file: self.config.ca_file.as_ref().map(Into::into),
        }
    }

    /// A connection's document, relative to the mount.
    pub fn doc(&self, id: &ConnectionId, name: &str) -> String {
        format!("{}/connections/{id}/{name}", self.config.path)
    }

    /// The folder that holds the team's connections.
    pub fn connections_folder(&self) -> String {
        format!("{}/connections", self.config.path)
    }

    /// The client, its token read from the personal store the first time
    /// (or got by logging in), then renewed or replaced when it is time
    /// (`team_token.rs`).
    pub async fn kv(&self, personal: &dyn SecretStore) -> Result<&Kv> {
        let entry = &self.config.token_entry;
        let address = self.address();
        let kv = self.kv.get_or_try_init(|| self.token.open(&self.config.name, &address, entry, personal)).await?;
        self.token.keep_alive(kv, entry, personal).await?;
        Ok(kv)
    }

    /// The client, when one was made already.
    pub fn kv_ready(&self) -> Option<&Kv> {
        self.kv.get()
    }

    /// Uses `kv` from now on (a client made while joining).
    pub fn set_kv(&self, kv: Kv) {
        let _ = self.kv.set(kv);
    }

    fn remember(&self, doc: &str, version: Option<u64>) {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        match version {
            Some(v) => versions.insert(doc.to_owned(), v),
            None => versions.remove(doc),
        };
    }

    /// The team's index document: each connection's settings version.
    pub fn index_doc(&self) -> String {
        format!("{}/index", self.config.path)
    }

    /// Forgets the secrets this process holds for connection `id` (they
    /// are read again from the store when next needed).
    pub fn forget_held(&self, id: &ConnectionId) {
        let prefix = self.doc(id, "");
        self.held.lock().unwrap_or_else(|p| p.into_inner()).retain(|doc, _| !doc.starts_with(&prefix));
    }

    pub(crate) fn hold(&self, doc: &str, value: Option<&str>) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match value {
            Some(value) => held.insert(doc.to_owned(), Zeroizing::new(value.to_owned())),
            None => held.remove(doc),
        };
    }

    pub(crate) fn held(&self, doc: &str) -> Option<Zeroizing<String>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).get(doc).cloned()
    }

    /// Gives the access document that goes with the tokens about to be
    /// written to the refresh document `doc`: the refresh document carries a
    /// copy, so a member who may renew takes new tokens in the one read a
    /// renewal starts with. (The `access` document itself stays the one
    /// that members who may not read refresh tokens read.)
    pub(crate) fn stage_access(&self, doc: &str, access: &str) {
        self.staged.lock().unwrap_or_else(|p| p.into_inner()).insert(doc.to_owned(), Zeroizing::new(access.to_owned()));
    }

    /// The staged access document (kept for a write tried again).
    fn staged_access(&self, doc: &str) -> Option<Value> {
        let staged = self.staged.lock().unwrap_or_else(|p| p.into_inner()).get(doc).cloned()?;
        serde_json::from_str(&staged).ok()
    }

    /// Forgets the staged access document: it was written.
    pub(crate) fn unstage_access(&self, doc: &str) {
        self.staged.lock().unwrap_or_else(|p| p.into_inner()).remove(doc);
    }

    /// Notes that this process holds a claim on the refresh document `doc`.
    pub fn claim(&self, doc: &str, claim: Claim) {
        self.claims.lock().unwrap_or_else(|p| p.into_inner()).insert(doc.to_owned(), claim);
    }

    /// Forgets the claim on `doc` (the renewal ended), returning it.
    pub fn unclaim(&self, doc: &str) -> Option<Claim> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner()).remove(doc)
    }

    fn claim_on(&self, doc: &str) -> Option<Claim> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner()).get(doc).cloned()
    }

    /// Writes `doc` over exactly version `cas` (0: only if absent; `None`:
    /// whatever is there).
    pub async fn write_over(&self, personal: &dyn SecretStore, doc: &str, data: &Value, cas: Option<u64>, purpose: &str) -> Result<Written> {
        let written = self.kv(personal).await?.write(doc, data, cas, purpose).await;
        self.reach.observe(&self.config.name, &written);
        if let Ok(Written::Version(version)) = &written {
            self.remember(doc, Some(*version));
        }
        written
    }

    /// The version of `doc` this process last read or wrote.
    pub fn known_version(&self, doc: &str) -> Option<u64> {
        self.versions.lock().unwrap_or_else(|p| p.into_inner()).get(doc).copied()
    }

    /// Reads `doc`, remembering its version for the next write.
    pub async fn read(&self, personal: &dyn SecretStore, doc: &str, purpose: &str) -> Result<Option<Document>> {
        let found = self.kv(personal).await?.read(doc, purpose).await;
        self.reach.observe(&self.config.name, &found);
        let found = found?;
        self.remember(doc, found.as_ref().map(|d| d.version));
        Ok(found)
    }

    /// Writes `doc` over the version this process last saw of it (none
    /// seen: whatever is there); someone else's newer version is an error.
    pub async fn write(&self, personal: &dyn SecretStore, doc: &str, data: &Value, purpose: &str) -> Result<u64> {
        let cas = self.known_version(doc);
        let written = self.kv(personal).await?.write(doc, data, cas, purpose).await;
        self.reach.observe(&self.config.name, &written);
        match written? {
            Written::Version(version) => {
                self.remember(doc, Some(version));
                Ok(version)
            }
            Written::Conflict => Err(changed_elsewhere(purpose)),
        }
    }

    /// The keys under `folder` (`id/` for a folder).
    pub async fn list(&self, personal: &dyn SecretStore, folder: &str, purpose: &str) -> Result<Vec<String>> {
        let listed = self.kv(personal).await?.list(folder, purpose).await;
        self.reach.observe(&self.config.name, &listed);
        listed
    }

    pub async fn delete(&self, personal: &dyn SecretStore, doc: &str, purpose: &str) -> Result<()> {
        let deleted = self.kv(personal).await?.delete(doc, purpose).await;
        self.reach.observe(&self.config.name, &deleted);
        deleted?;
        self.remember(doc, None);
        Ok(())
    }
}

/// A check-and-set write found a newer version than the one it started from.
pub fn changed_elsewhere(purpose: &str) -> Error {
    Error::storage(format!(
        "{} changed in the team store while Latch was writing it (another member's Latch wrote first); Latch keeps \
         theirs. Try again.",
        capitalised(purpose)
    ))
}

/// Whether `err` is [`changed_elsewhere`]'s.
pub fn is_changed_elsewhere(err: &Error) -> bool {
    err.kind == ErrorKind::Storage && err.message.contains("changed in the team store while Latch was writing it")
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Which connections are kept in which team; the personal store for the rest.
pub struct TeamRoutes {
    personal: Arc<dyn SecretStore>,
    teams: RwLock<HashMap<String, Arc<TeamStore>>>,
    connections: RwLock<HashMap<ConnectionId, Arc<TeamStore>>>,
    /// The engine's clock and events, for each team's reachability.
    reach_hooks: std::sync::OnceLock<Arc<super::team_reach::ReachHooks>>,
}

impl TeamRoutes {
    pub fn new(personal: Arc<dyn SecretStore>) -> TeamRoutes {
        TeamRoutes { personal, teams: RwLock::default(), connections: RwLock::default(), reach_hooks: Default::default() }
    }

    /// The personal store (the OS keyring), for a team's own token.
    pub fn personal(&self) -> &dyn SecretStore {
        &*self.personal
    }

    /// Dates and announces the teams' outages with `hooks` (the engine's).
    pub fn attach(&self, hooks: Arc<super::team_reach::ReachHooks>) {
        let _ = self.reach_hooks.set(hooks);
    }

    pub fn reach_hooks(&self) -> Option<&Arc<super::team_reach::ReachHooks>> {
        self.reach_hooks.get()
    }

    pub fn add_team(&self, store: Arc<TeamStore>) {
        if let Some(hooks) = self.reach_hooks.get() {
            store.reach.attach(hooks.clone());
        }
        self.teams.write().unwrap_or_else(|p| p.into_inner()).insert(store.config.name.to_lowercase(), store);
    }

    pub fn remove_team(&self, name: &str) {
        self.teams.write().unwrap_or_else(|p| p.into_inner()).remove(&name.to_lowercase());
        self.connections.write().unwrap_or_else(|p| p.into_inner()).retain(|_, t| !t.config.name.eq_ignore_ascii_case(name));
    }

    pub fn team(&self, name: &str) -> Option<Arc<TeamStore>> {
        self.teams.read().unwrap_or_else(|p| p.into_inner()).get(&name.to_lowercase()).cloned()
    }

    pub fn teams(&self) -> Vec<Arc<TeamStore>> {
        self.teams.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// Routes `id`'s secrets to `team` (which must have been added).
    pub fn route(&self, id: &ConnectionId, team: &str) {
        if let Some(store) = self.team(team) {
            self.connections.write().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), store);
        }
    }

    pub fn unroute(&self, id: &ConnectionId) {
        self.connections.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// The team `id` belongs to, if any.
    pub fn team_of(&self, id: &ConnectionId) -> Option<Arc<TeamStore>> {
        self.connections.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }
}

/// The [`SecretStore`] over the personal store and the joined teams.
pub struct RoutedSecrets(pub Arc<TeamRoutes>);

/// What each team document holds, for messages ("permission to read the
/// refresh token (secret/teams/sales/connections/cn_…/refresh)").
fn purpose(what: &str, team: &TeamStore, doc: &str) -> String {
    format!("the {what} ({}/{doc})", team.config.mount)
}

fn slot_doc(slot: SecretSlot) -> (String, &'static str) {
    match slot {
        SecretSlot::ClientSecret => ("client".into(), "client secret"),
        SecretSlot::TokenSet => ("access".into(), "tokens"),
        SecretSlot::Kind(name) => (format!("kind-{name}"), "connection's own secret"),
    }
}

/// Whether `err` is the team store refusing by policy.
pub fn is_denied(err: &Error) -> bool {
    err.kind == ErrorKind::Storage && err.message.starts_with("The team store denied")
}

async fn team_get(routes: &TeamRoutes, team: &TeamStore, id: &ConnectionId, slot: SecretSlot) -> Result<Option<Zeroizing<String>>> {
    let personal = routes.personal();
    match slot {
        SecretSlot::TokenSet => {
            let access_doc = team.doc(id, "access");
            let Some(access) = team.read(personal, &access_doc, &purpose("access token", team, &access_doc)).await? else {
                return Ok(None);
            };
            // A member whose policy keeps the refresh token from them still
            // gets the access token.
            let refresh_doc = team.doc(id, "refresh");
            let refresh = match team.read(personal, &refresh_doc, &purpose("refresh token", team, &refresh_doc)).await {
                Ok(found) => found,
                Err(err) if is_denied(&err) => None,
                Err(err) => return Err(err),
            };
            let stored = json!({
                "access_token": access.text("access_token").unwrap_or_default(),
                "refresh_token": refresh.as_ref().and_then(|r| r.text("refresh_token")),
                "id_token": access.text("id_token"),
                "token_type": access.text("token_type").unwrap_or("Bearer"),
                "data": access.text("data"),
            });
            Ok(Some(Zeroizing::new(stored.to_string())))
        }
        _ => {
            let (doc, what) = slot_doc(slot);
            let doc = team.doc(id, &doc);
            if let Some(value) = team.held(&doc) {
                return Ok(Some(value));
            }
            let found = team.read(personal, &doc, &purpose(what, team, &doc)).await?;
            let value = found.and_then(|d| d.text("value").map(|v| Zeroizing::new(v.to_owned())));
            team.hold(&doc, value.as_ref().map(|v| v.as_str()));
            Ok(value)
        }
    }
}

async fn team_set(routes: &TeamRoutes, team: &TeamStore, id: &ConnectionId, slot: SecretSlot, value: &str) -> Result<()> {
    let personal = routes.personal();
    match slot {
        SecretSlot::TokenSet => {
            // The refresh document only: the access document carries the
            // expiry too, and the engine writes it once it knows it
            // (team_publish).
            let tokens: Value = serde_json::from_str(value).map_err(|_| Error::storage("Latch could not read a token set it made."))?;
            let doc = team.doc(id, "refresh");
            let what = purpose("refresh token", team, &doc);
            let access = team.staged_access(&doc);
            match team.claim_on(&doc) {
                // A new sign-in: it replaces whatever is there, a claim too.
                None => {
                    let data = refresh_document(&tokens, Some(&team.config.token_entry), None, access);
                    team.write_over(personal, &doc, &data, None, &what).await.map(|_| ())
                }
                // A renewal: over the claim this process wrote, and nothing
                // else — unless the claim was given up as abandoned while
                // this renewal was slow, when the new tokens are what
                // saves the connection.
                Some(claim) => {
                    let data = refresh_document(&tokens, claim.connected_by.as_deref(), claim.next_access, access);
                    match team.write_over(personal, &doc, &data, Some(claim.version), &what).await? {
                        Written::Version(_) => {
                            team.unclaim(&doc);
                            Ok(())
                        }
                        Written::Conflict => {
                            let now = team.read(personal, &doc, &what).await?;
                            let ours = now.as_ref().is_some_and(|d| d.text("abandoned_by") == Some(claim.holder.as_str()));
                            match now {
                                Some(found) if ours => match team.write_over(personal, &doc, &data, Some(found.version), &what).await? {
                                    Written::Version(_) => {
                                        tracing::info!("a renewal given up as stopped finished after all: its tokens are kept");
                                        team.unclaim(&doc);
                                        Ok(())
                                    }
                                    Written::Conflict => Err(changed_elsewhere(&what)),
                                },
                                _ => Err(changed_elsewhere(&what)),
                            }
                        }
                    }
                }
            }
        }
        _ => {
            let (doc, what) = slot_doc(slot);
            let doc = team.doc(id, &doc);
            team.hold(&doc, None);
            team.write(personal, &doc, &json!({ "value": value }), &purpose(what, team, &doc)).await?;
            team.hold(&doc, Some(value));
            Ok(())
        }
    }
}

/// A refresh document: the refresh token, the ID token (kept when a
/// renewal brings none), whose sign-in they are, the access document's
/// version that goes with them (written just after) and a copy of that
/// access document, so a member that reads this one takes the new tokens
/// without another call. No holder: writing it lets any claim go.
fn refresh_document(tokens: &Value, connected_by: Option<&str>, access_version: Option<u64>, access: Option<Value>) -> Value {
    json!({
        "refresh_token": tokens["refresh_token"].as_str(),
        "id_token": tokens["id_token"].as_str(),
        "token_type": tokens["token_type"].as_str(),
        "connected_by": connected_by,
        "access_version": access_version,
        "access": access,
    })
}

async fn team_delete(routes: &TeamRoutes, team: &TeamStore, id: &ConnectionId, slot: SecretSlot) -> Result<()> {
    let personal = routes.personal();
    let docs: Vec<(String, &str)> = match slot {
        SecretSlot::TokenSet => vec![("access".into(), "access token"), ("refresh".into(), "refresh token")],
        _ => vec![slot_doc(slot)],
    };
    for (doc, what) in docs {
        let doc = team.doc(id, &doc);
        team.hold(&doc, None);
        team.delete(personal, &doc, &purpose(what, team, &doc)).await?;
    }
    Ok(())
}

impl SecretStore for RoutedSecrets {
    fn get<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, Option<Zeroizing<String>>> {
        match self.0.team_of(id) {
            None => self.0.personal.get(id, slot),
            Some(team) => Box::pin(async move { team_get(&self.0, &team, id, slot).await }),
        }
    }

    fn set<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot, value: &'a str) -> SecretFuture<'a, ()> {
        match self.0.team_of(id) {
            None => self.0.personal.set(id, slot, value),
            Some(team) => Box::pin(async move { team_set(&self.0, &team, id, slot, value).await }),
        }
    }

    fn delete<'a>(&'a self, id: &'a ConnectionId, slot: SecretSlot) -> SecretFuture<'a, ()> {
        match self.0.team_of(id) {
            None => self.0.personal.delete(id, slot),
            Some(team) => Box::pin(async move { team_delete(&self.0, &team, id, slot).await }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_personal_connection_stays_in_the_personal_store() {
        let personal = Arc::new(crate::store::secrets::MemorySecrets::default());
        let routes = Arc::new(TeamRoutes::new(personal.clone()));
        let store = RoutedSecrets(routes.clone());
        let id = ConnectionId::generate();
        store.set(&id, SecretSlot::ClientSecret, "s3cret").await.unwrap();
        assert_eq!(personal.get(&id, SecretSlot::ClientSecret).await.unwrap().unwrap().as_str(), "s3cret");
        assert!(routes.team_of(&id).is_none());
    }

    #[tokio::test]
    async fn a_team_without_a_token_in_the_keyring_says_to_join_again() {
        let personal = Arc::new(crate::store::secrets::MemorySecrets::default());
        let routes = Arc::new(TeamRoutes::new(personal));
        let config = TeamConfig {
            name: "sales".into(),
            addr: "http://127.0.0.1:9".into(),
            mount: "secret".into(),
            path: "teams/sales".into(),
            ca_file: None,
            token_entry: new_token_entry(),
            joined_at: chrono::Utc::now(),
            last_synced_at: None,
            last_sync_attempt_at: None,
        };
        routes.add_team(Arc::new(TeamStore::new(config)));
        let id = ConnectionId::generate();
        routes.route(&id, "SALES");
        let err = RoutedSecrets(routes).get(&id, SecretSlot::ClientSecret).await.unwrap_err();
        assert!(err.message.contains("no OpenBao token for the team 'sales'"), "{}", err.message);
    }
}
