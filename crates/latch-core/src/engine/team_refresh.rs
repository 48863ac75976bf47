//! Renewing a team connection: one writer per refresh token across
//! machines, in at most four calls to the team store.
//!
//! The `refresh` document holds the refresh token, a copy of the access
//! document written with it, and, while a member renews, a claim on it
//! (`holder`, `until`). A renewal reads it (1); if its version is not the
//! one this Latch's tokens came from, another member renewed since, and the
//! copy's tokens are taken without asking the provider or the store again
//! (a document an older Latch wrote has no copy: its `access` document is
//! read). Otherwise Latch claims it by writing the same
//! document with the claim, check-and-set on the version it read (2): of
//! two machines, one wins and the other reads again and waits. The holder
//! renews at the provider and writes the new refresh token over its claim
//! (3, which also lets the claim go), then the `access` document (4) that
//! every member reads ([`Engine::team_publish`], from `store_grant`).
//!
//! A claim that ran out means its holder stopped mid-renewal: it may have
//! spent the refresh token, so nobody sends it again — the connection asks
//! for a sign-in, once, and only the member who connected it is notified.
//! The provider refusing the refresh token is written there too, so every
//! member knows without trying it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::Engine;
use crate::error::{Action, Error, ErrorKind, Result};
use crate::model::{Connection, Status};
use crate::secret::{AccessToken, IdToken, RefreshToken, TokenData, TokenSet};
use crate::store::leases::new_holder;
use crate::store::openbao::{Document, Written};
use crate::store::team_secrets::{is_denied, Claim, TeamStore};
use crate::store::teams::TeamTokenNote;

/// How long a claim on a team connection's refresh lasts: longer than a
/// token request takes (30 s at most), short enough that a dead holder
/// does not keep the others waiting long.
const LEASE: Duration = Duration::from_secs(40);
const LEASE_WAIT_STEP: Duration = Duration::from_millis(100);
/// How many times (a step apart) a member reads the access document a
/// holder is about to write before it goes on without it.
const ACCESS_WAIT_TRIES: u32 = 50;

/// Before a team connection's refresh: another machine's tokens to use, or
/// the claim this process holds while it renews, with the tokens to renew.
pub(crate) enum TeamTurn {
    Personal,
    Adopted(Box<(Connection, TokenSet)>),
    Holding(TeamLease, Box<TokenSet>),
}

/// A claim on one team connection's refresh document, held by this process.
pub(crate) struct TeamLease {
    team: Arc<TeamStore>,
    doc: String,
    purpose: String,
    /// The document as it was before the claim: written back if the renewal fails.
    kept: Map<String, Value>,
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

/// Who holds the claim in a refresh document and until when, while it is
/// held; `None` when free or run out.
pub(super) fn lease_holder(doc: &Document, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
    let holder = doc.text("holder").filter(|h| !h.is_empty())?;
    let until = claim_until(&doc.data).filter(|until| *until > now)?;
    // The computer's name and the process, without the per-refresh ULID.
    let shown = holder.rsplit_once(':').map(|(who, _)| who).unwrap_or(holder);
    Some((shown.to_owned(), until))
}

fn claim_until(data: &Map<String, Value>) -> Option<DateTime<Utc>> {
    data.get("until").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// A refresh document's claim, as of `now`.
#[derive(Debug, PartialEq, Eq)]
enum ClaimState {
    Free,
    Held,
    /// Its holder stopped before it finished: the refresh token may be spent.
    RanOut(String),
}

fn claim_state(data: &Map<String, Value>, now: DateTime<Utc>) -> ClaimState {
    match data.get("holder").and_then(Value::as_str).filter(|h| !h.is_empty()) {
        None => ClaimState::Free,
        Some(holder) => match claim_until(data) {
            Some(until) if until > now => ClaimState::Held,
            _ => ClaimState::RanOut(holder.to_owned()),
        },
    }
}

fn text(data: &Map<String, Value>, key: &str) -> Option<String> {
    data.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// This member's offset (0..spread ms) for one connection: FNV-1a over
/// the member's team entry and the connection id, so it never changes.
fn stagger_of(member: &str, connection: &str, spread: i64) -> i64 {
    let hash = member.bytes().chain([0]).chain(connection.bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % spread as u64) as i64
}

/// The tokens in an access document.
fn tokens_of(access: &Map<String, Value>) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(text(access, "access_token").unwrap_or_default()),
        refresh_token: None,
        id_token: text(access, "id_token").map(IdToken::new),
        token_type: text(access, "token_type").unwrap_or_else(|| "Bearer".into()),
        data: text(access, "data").map(TokenData::new),
    }
}

/// Why a connection whose renewal stopped half-way asks for a sign-in.
const RAN_OUT: &str = "a team member's Latch stopped while it was renewing it, so the saved sign-in may already be used up; \
                       Latch does not send it a second time.";

impl Engine {
    /// The team connection's current tokens, from its access document (one
    /// call); when that document is newer than this row's state, another
    /// machine stored them, and the row takes their expiry and status.
    pub(crate) async fn team_tokens(&self, team: &TeamStore, connection: &Connection) -> Result<Option<(Connection, TokenSet)>> {
        Ok(self.team_access(team, connection).await?.map(|(connection, tokens, _)| (connection, tokens)))
    }

    /// When the access document is newer than the one this row's state came
    /// from, another machine stored new tokens: takes its state and returns
    /// them. `None` when this row is up to date (or there are no tokens).
    pub(super) async fn team_adopt_if_moved(&self, team: &TeamStore, connection: &Connection) -> Result<Option<(Connection, TokenSet)>> {
        Ok(self.team_access(team, connection).await?.filter(|(_, _, moved)| *moved).map(|(connection, tokens, _)| (connection, tokens)))
    }

    /// Reads the access document: the row (adopted when the document moved),
    /// the tokens, and whether it moved.
    async fn team_access(&self, team: &TeamStore, connection: &Connection) -> Result<Option<(Connection, TokenSet, bool)>> {
        let personal = self.teams.personal();
        let doc = team.doc(&connection.id, "access");
        let purpose = format!("the access token of '{}' ({}/{doc})", connection.name, team.config.mount);
        let note = self.db().team_token_note(&connection.id)?;
        let read = match team.read(personal, &doc, &purpose).await {
            Err(err) if err.kind == ErrorKind::Network => {
                // The store is down: the token this process last read, while it is valid.
                let valid = connection.access_expires_at.is_some_and(|at| self.now() < at);
                let held = team.held(&doc).and_then(|text| serde_json::from_str::<Map<String, Value>>(&text).ok());
                match held {
                    Some(data) if valid => {
                        tracing::info!(connection = %connection.id, "the team store is down; using the access token held");
                        return Ok(Some((connection.clone(), tokens_of(&data), false)));
                    }
                    _ => return Err(err),
                }
            }
            other => other?,
        };
        if let Some(access) = &read {
            team.hold(&doc, Some(&Value::Object(access.data.clone()).to_string()));
        }
        let Some(access) = read else {
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
        self.adopt_access(connection, &access.data, Some(access.version), note).map(Some)
    }

    /// Takes the state of an access document (of `version`, when known)
    /// unless this row's state already came from it: the row, the tokens,
    /// and whether it moved.
    fn adopt_access(
        &self,
        connection: &Connection,
        access: &Map<String, Value>,
        version: Option<u64>,
        note: TeamTokenNote,
    ) -> Result<(Connection, TokenSet, bool)> {
        let tokens = tokens_of(access);
        let time = |key: &str| text(access, key).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc));
        // The row says when the tokens it serves expire: the document's
        // (to the second), or it takes the document's state.
        let same_expiry = time("expires_at").map(|t| t.timestamp()) == connection.access_expires_at.map(|t| t.timestamp());
        if same_expiry && (version.is_none() || note.access_version == version) {
            return Ok((connection.clone(), tokens, false));
        }
        let mut adopted = connection.clone();
        adopted.status = Status::Connected;
        adopted.access_issued_at = time("issued_at");
        adopted.access_expires_at = time("expires_at");
        adopted.refresh_expires_at = time("refresh_expires_at");
        adopted.has_refresh_token = access.get("has_refresh_token").and_then(Value::as_bool).unwrap_or(false);
        adopted.granted_scopes = access.get("scopes").and_then(|s| serde_json::from_value(s.clone()).ok());
        adopted.account = text(access, "account").or(adopted.account);
        adopted.last_error = None;
        adopted.last_error_details = None;
        adopted.last_error_action = None;
        adopted.retry_at = None;
        adopted.updated_at = self.now();
        let db = self.db();
        db.connection_update_state(&adopted)?;
        db.set_failed_attempts(&connection.id, 0)?;
        if adopted.status != connection.status {
            // A sign-in another member made ends this one's episode.
            db.reset_episode(&connection.id)?;
        }
        db.set_team_token_note(
            &connection.id,
            &TeamTokenNote {
                access_version: version.or(note.access_version),
                last_refresh_at: adopted.access_issued_at,
                connected_by: text(access, "connected_by").or(note.connected_by),
                ..note
            },
        )?;
        drop(db);
        tracing::info!(connection = %connection.id, version, "took the tokens another member stored");
        Ok((adopted, tokens, true))
    }

    /// Before refreshing `connection` (its local lease held): for a team
    /// connection, tokens another machine stored meanwhile, or the claim
    /// this process now holds with the refresh token to renew.
    pub(crate) async fn team_turn(&self, connection: &Connection) -> Result<TeamTurn> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(TeamTurn::Personal) };
        let personal = self.teams.personal();
        let doc = team.doc(&connection.id, "refresh");
        let purpose = format!("the refresh token of '{}' ({}/{doc})", connection.name, team.config.mount);
        let holder = format!("{}:{}", host_name(), new_holder());
        let started = std::time::Instant::now();
        loop {
            let found = match team.read(personal, &doc, &purpose).await {
                Ok(found) => found,
                Err(err) if is_denied(&err) => {
                    // A member who may not renew still picks up what others renewed.
                    let adopted = self.team_adopt_if_moved(&team, connection).await?;
                    if let Some(adopted) = adopted.filter(|(row, _)| row.access_expires_at.is_none_or(|at| self.now() < at)) {
                        return Ok(TeamTurn::Adopted(Box::new(adopted)));
                    }
                    return Err(may_not_renew(&connection.name, &err));
                }
                Err(err) => return Err(err),
            };
            if found.is_none() && connection.status != Status::New {
                // Disconnected by another member? Its access document says.
                self.team_adopt_if_moved(&team, connection).await?;
                if self.get(connection.id.as_str())?.status == Status::New {
                    return Err(Error::needs_authorization(format!(
                        "'{}' was disconnected by another team member: it needs a sign-in.",
                        connection.name
                    ))
                    .with_action(Action::SignIn { connection: connection.name.clone() }));
                }
            }
            let (version, data) = match found {
                Some(found) => (found.version, found.data),
                // No refresh document (yet): claim the next version.
                None => (team.kv(personal).await?.current_version(&doc, &purpose).await?, Map::new()),
            };
            let now = self.now();
            match claim_state(&data, now) {
                ClaimState::Held => {
                    if started.elapsed() > LEASE + Duration::from_secs(5) {
                        return Err(Error::network(format!(
                            "Another team member's Latch has been renewing '{}' for over {} seconds. Try again in a moment.",
                            connection.name,
                            LEASE.as_secs()
                        ))
                        .with_action(Action::RetryLater { at: None }));
                    }
                    tokio::time::sleep(LEASE_WAIT_STEP).await;
                    continue;
                }
                // Nothing that could have been spent (client credentials): taken over.
                ClaimState::RanOut(_) if text(&data, "refresh_token").is_none() => {}
                ClaimState::RanOut(stopped) => {
                    // Given up where every member sees it, then asked of the user.
                    let mut given_up = data.clone();
                    given_up.remove("refresh_token");
                    given_up.insert("holder".into(), json!(""));
                    given_up.insert("until".into(), json!(""));
                    given_up.insert("needs_sign_in".into(), json!(RAN_OUT));
                    given_up.insert("abandoned_by".into(), json!(stopped));
                    match team.write_over(personal, &doc, &Value::Object(given_up), Some(version), &purpose).await? {
                        Written::Version(_) => {
                            tracing::warn!(connection = %connection.id, "a team member stopped mid-renewal; asking for a sign-in");
                            return Err(self.team_needs_sign_in(connection, RAN_OUT, text(&data, "connected_by")));
                        }
                        Written::Conflict => continue,
                    }
                }
                ClaimState::Free => {}
            }
            if let Some(reason) = text(&data, "needs_sign_in") {
                return Err(self.team_needs_sign_in(connection, &reason, text(&data, "connected_by")));
            }
            let note = self.db().team_token_note(&connection.id)?;
            let copy = data.get("access").and_then(Value::as_object).filter(|_| note.refresh_version != Some(version));
            if let Some(access) = copy {
                // Renewed (or signed in) elsewhere since this row's tokens,
                // and the access document written with them is here: taken
                // without another call unless it is due itself.
                let access_version = data.get("access_version").and_then(Value::as_u64);
                let (adopted, tokens, moved) = self.adopt_access(connection, access, access_version, note.clone())?;
                if moved && adopted.refresh_due().is_none_or(|due| self.now() < due) {
                    team.hold(&team.doc(&connection.id, "access"), Some(&Value::Object(access.clone()).to_string()));
                    let note = TeamTokenNote { refresh_version: Some(version), ..self.db().team_token_note(&connection.id)? };
                    self.db().set_team_token_note(&connection.id, &note)?;
                    return Ok(TeamTurn::Adopted(Box::new((adopted, tokens))));
                }
            } else if note.refresh_version != Some(version) {
                // Renewed (or signed in) elsewhere since this row's tokens,
                // by a Latch that wrote no copy of the access document.
                // The holder writes the access document just after this
                // one: when it names a newer one than this Latch has, wait
                // for it (a holder that stopped in between left a refresh
                // token nobody used: after a few seconds, go on with it).
                let awaited = data.get("access_version").and_then(Value::as_u64).filter(|v| note.access_version.is_none_or(|n| n < *v));
                let mut tries = if awaited.is_some() { ACCESS_WAIT_TRIES } else { 1 };
                while tries > 0 {
                    tries -= 1;
                    // Taken only when they are not due themselves (a renewal
                    // that failed moves the document too).
                    match self.team_adopt_if_moved(&team, connection).await? {
                        Some(adopted) if adopted.0.refresh_due().is_none_or(|due| self.now() < due) => {
                            let mut note = self.db().team_token_note(&connection.id)?;
                            note.refresh_version = Some(version);
                            self.db().set_team_token_note(&connection.id, &note)?;
                            return Ok(TeamTurn::Adopted(Box::new(adopted)));
                        }
                        Some(_) => break,
                        None => {}
                    }
                    if tries > 0 {
                        tokio::time::sleep(LEASE_WAIT_STEP).await;
                    }
                }
            }
            let until = now + chrono::Duration::from_std(LEASE).expect("a small duration");
            let mut claimed = data.clone();
            claimed.insert("holder".into(), json!(holder));
            claimed.insert("until".into(), json!(until.to_rfc3339()));
            let written = match team.write_over(personal, &doc, &Value::Object(claimed), Some(version), &purpose).await {
                Err(err) if is_denied(&err) => return Err(may_not_renew(&connection.name, &err)),
                other => other?,
            };
            let Written::Version(claim_version) = written else {
                // Another machine claimed it first: read again, wait for it.
                continue;
            };
            let connected_by = text(&data, "connected_by");
            // Read again: a moved access document may have been taken above,
            // and its version must not be written back as it was before.
            let note = self.db().team_token_note(&connection.id)?;
            let next_access = note.access_version.map(|v| v + 1);
            team.claim(&doc, Claim { version: claim_version, holder: holder.clone(), connected_by: connected_by.clone(), next_access });
            if connected_by.is_some() && connected_by != note.connected_by {
                self.db().set_team_token_note(&connection.id, &TeamTokenNote { connected_by: connected_by.clone(), ..note })?;
            }
            let tokens = TokenSet {
                access_token: AccessToken::new(String::new()),
                refresh_token: text(&data, "refresh_token").map(RefreshToken::new),
                id_token: text(&data, "id_token").map(IdToken::new),
                token_type: text(&data, "token_type").unwrap_or_else(|| "Bearer".into()),
                data: None,
            };
            let lease = TeamLease { team: team.clone(), doc: doc.clone(), purpose: purpose.clone(), kept: data, released: false };
            return Ok(TeamTurn::Holding(lease, Box::new(tokens)));
        }
    }

    /// A team connection that needs a sign-in: noted here as for a refused
    /// refresh token (the list says so; the refresher tells the member who
    /// connected it, once).
    fn team_needs_sign_in(&self, connection: &Connection, reason: &str, connected_by: Option<String>) -> Error {
        let err = Error::needs_authorization(format!("'{}' needs you to sign in again: {reason}", connection.name))
            .with_action(connection.sign_in_again());
        let note = self.db().team_token_note(&connection.id);
        let noted = note.and_then(|note| {
            let note = TeamTokenNote { connected_by: connected_by.or(note.connected_by), ..note };
            self.db().set_team_token_note(&connection.id, &note)
        });
        if let Err(failed) = noted.and_then(|()| self.record_failure(&connection.id, &err, true)) {
            tracing::warn!(error = %failed, "could not note that a team connection needs a sign-in");
        }
        err
    }

    /// Moves each team connection's due time (in `connections`, the
    /// refresher's plan) by this member's own offset for it: up to a tenth
    /// of the token's lifetime, at most 30 s, the same every time. The
    /// member whose offset is smallest renews; the others come after it
    /// and take its tokens (two reads) instead of waiting on its claim.
    pub(crate) fn team_stagger(&self, connections: &mut [Connection]) {
        for c in connections.iter_mut() {
            let Some(team) = self.teams.team_of(&c.id) else { continue };
            let (Some(due), None, Some(expires)) = (c.refresh_due(), c.refresh_due_at, c.access_expires_at) else { continue };
            let lifetime = expires - c.access_issued_at.unwrap_or(expires);
            let spread = (lifetime / 10).min(chrono::Duration::seconds(30)).num_milliseconds();
            if spread <= 0 {
                continue;
            }
            c.refresh_due_at = Some(due + chrono::Duration::milliseconds(stagger_of(&team.config.token_entry, c.id.as_str(), spread)));
        }
    }

    /// Whether this Latch's member is the one to tell that `connection`
    /// needs a sign-in: a personal connection, or a team connection this
    /// member signed in (or whose signer is unknown).
    pub(crate) fn connected_here(&self, connection: &Connection) -> bool {
        let Some(team) = self.teams.team_of(&connection.id) else { return true };
        match self.db().team_token_note(&connection.id).ok().and_then(|note| note.connected_by) {
            Some(by) => by == team.config.token_entry,
            None => true,
        }
    }

    /// After new tokens are stored for a team connection (a refresh, or a
    /// sign-in when `signed_in`): writes its access document — token and
    /// expiry, whose sign-in it is — and notes the versions, so the other
    /// members' Latch see that new tokens are there.
    pub(crate) async fn team_publish(&self, connection: &Connection, tokens: &TokenSet, signed_in: bool) -> Result<()> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(()) };
        let note = self.db().team_token_note(&connection.id)?;
        let (access, connected_by) = access_document(&team, &note, connection, tokens, signed_in);
        let doc = team.doc(&connection.id, "access");
        let purpose = format!("the access token of '{}' ({}/{doc})", connection.name, team.config.mount);
        team.hold(&doc, Some(&access.to_string()));
        team.unstage_access(&team.doc(&connection.id, "refresh"));
        // The holder of the claim is the only writer: no check-and-set here.
        let Written::Version(version) = team.write_over(self.teams.personal(), &doc, &access, None, &purpose).await? else {
            return Err(crate::store::team_secrets::changed_elsewhere(&purpose));
        };
        let note = TeamTokenNote {
            access_version: Some(version),
            last_refresh_at: connection.access_issued_at,
            refresh_version: team.known_version(&team.doc(&connection.id, "refresh")),
            connected_by,
            ..note
        };
        self.db().set_team_token_note(&connection.id, &note)?;
        Ok(())
    }

    /// Before new tokens of a team connection are written: the access
    /// document that goes with them, for the refresh document's copy.
    pub(crate) fn team_stage_access(&self, connection: &Connection, tokens: &TokenSet, signed_in: bool) -> Result<()> {
        let Some(team) = self.teams.team_of(&connection.id) else { return Ok(()) };
        let note = self.db().team_token_note(&connection.id)?;
        let (access, _) = access_document(&team, &note, connection, tokens, signed_in);
        team.stage_access(&team.doc(&connection.id, "refresh"), &access.to_string());
        Ok(())
    }
}

/// The access document for new tokens of `connection` (its state as they
/// are stored), and whose sign-in they are.
fn access_document(
    team: &TeamStore,
    note: &TeamTokenNote,
    connection: &Connection,
    tokens: &TokenSet,
    signed_in: bool,
) -> (Value, Option<String>) {
    let connected_by = if signed_in { Some(team.config.token_entry.clone()) } else { note.connected_by.clone() };
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
        "connected_by": connected_by,
    });
    (access, connected_by)
}

impl TeamLease {
    /// Leaves the claim in place: the provider renewed but the new tokens
    /// are only in this process's memory. Storing them later writes over
    /// the claim; if this process ends first, the claim runs out and the
    /// connection asks for a sign-in rather than send a spent token.
    pub(crate) fn keep(mut self) {
        self.released = true;
    }

    /// Ends the claim. A renewal that stored its tokens let it go already;
    /// otherwise the document is written back as it was (check-and-set on
    /// the claim: a claim that ran out and was taken over is left to its
    /// new holder), without the refresh token when the provider refused it.
    pub(crate) async fn release(mut self, engine: &Engine, failure: Option<&Error>) {
        self.released = true;
        let Some(claim) = self.team.unclaim(&self.doc) else { return };
        let mut back = std::mem::take(&mut self.kept);
        if let Some(err) = failure.filter(|err| err.kind == ErrorKind::NeedsAuthorization) {
            back.remove("refresh_token");
            back.insert("needs_sign_in".into(), json!(plain_reason(&err.message)));
        }
        match self.team.write_over(engine.teams.personal(), &self.doc, &Value::Object(back), Some(claim.version), &self.purpose).await {
            Ok(Written::Version(_)) => {}
            Ok(Written::Conflict) => tracing::warn!("the team claim ran out during the refresh and was taken over"),
            Err(err) => tracing::warn!(error = %err, "could not let the team claim go; it runs out by itself"),
        }
    }
}

/// The provider's refusal as the reason other members read ("… needs you
/// to sign in again: <reason>").
fn plain_reason(message: &str) -> String {
    let message = message.trim();
    message.split_once("needs you to sign in again").map(|(_, rest)| rest.trim_start_matches([':', '.', ' '])).unwrap_or(message).to_owned()
}

impl Drop for TeamLease {
    /// A claim left on an early error is let go in the background; if the
    /// process ends first it runs out by itself (and the connection then
    /// asks for a sign-in: the token may have been sent).
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let (team, doc, kept) = (self.team.clone(), std::mem::take(&mut self.doc), std::mem::take(&mut self.kept));
        let Some(claim) = team.unclaim(&doc) else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(kv) = team.kv_ready() {
                    let _ = kv.write(&doc, &Value::Object(kept), Some(claim.version), "the refresh claim").await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn a_claim_is_held_until_it_runs_out_and_then_names_who_stopped() {
        let now = Utc::now();
        let later = (now + chrono::Duration::seconds(10)).to_rfc3339();
        let earlier = (now - chrono::Duration::seconds(1)).to_rfc3339();
        assert_eq!(claim_state(&doc(json!({ "refresh_token": "r" })), now), ClaimState::Free);
        assert_eq!(claim_state(&doc(json!({ "holder": "", "until": "" })), now), ClaimState::Free);
        assert_eq!(claim_state(&doc(json!({ "holder": "pc:1:a", "until": later })), now), ClaimState::Held);
        assert_eq!(claim_state(&doc(json!({ "holder": "pc:1:a", "until": earlier })), now), ClaimState::RanOut("pc:1:a".into()));
        assert_eq!(claim_state(&doc(json!({ "holder": "pc:1:a", "until": "not a time" })), now), ClaimState::RanOut("pc:1:a".into()));
    }

    #[test]
    fn each_member_has_its_own_fixed_offset_within_the_spread() {
        let a = stagger_of("team_01A", "cn_1", 2_000);
        assert_eq!(a, stagger_of("team_01A", "cn_1", 2_000), "the same every time");
        let offsets: std::collections::HashSet<i64> =
            ["team_01A", "team_01B", "team_01C", "team_01D"].iter().map(|m| stagger_of(m, "cn_1", 2_000)).collect();
        assert!(offsets.len() > 1, "members differ: {offsets:?}");
        assert!(offsets.iter().all(|o| (0..2_000).contains(o)));
    }

    #[test]
    fn a_refusal_reads_as_the_reason_after_needs_you_to_sign_in_again() {
        assert_eq!(
            plain_reason("'CRM' needs you to sign in again: the service no longer accepts the saved sign-in."),
            "the service no longer accepts the saved sign-in."
        );
        assert_eq!(plain_reason("The saved sign-in for 'CRM' has expired."), "The saved sign-in for 'CRM' has expired.");
    }
}
