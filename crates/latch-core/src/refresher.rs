//! The refresher: one tokio task that keeps every connection alive. It
//! keeps the due times in a min-heap and sleeps until the earliest — no
//! polling loop — on the engine's clock (the wall clock, across suspend and
//! clock changes; a manual clock in tests). It wakes early when the engine
//! announces a change, when told the store changed elsewhere (another
//! process), or when the clock was set.
//!
//! What only the user can fix goes out as an [`EngineEvent::Notice`] once
//! per episode; the desktop shell turns those into notifications.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, Notify, Semaphore};

use crate::engine::Engine;
use crate::events::{EngineEvent, Notice};
use crate::model::{Connection, ConnectionId, Status};
use crate::settings::{RefresherSettings, Settings};
use crate::store::refresh_state::Notified;
use crate::wall_clock::Woke;

/// At most this many refreshes run at once.
const PARALLEL_REFRESHES: usize = 16;

/// How often tokens the keyring refused are offered to it again.
const UNSAVED_RETRY: chrono::Duration = chrono::Duration::seconds(30);

/// How often the refresher reads every connection again though no event
/// said they changed: the net under a change nobody announced.
const WHOLE_READ_EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// What one look at the connections says to do now, and when to look next.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub refresh_now: Vec<ConnectionId>,
    pub notify_reauth: Vec<ConnectionId>,
    pub warn_expiry: Vec<ConnectionId>,
    /// The earliest future due time, if any: the heap's top.
    pub next_wake: Option<DateTime<Utc>>,
}

/// What the refresher plans from, per connection: whether it needs a
/// sign-in, when it is due for a refresh, and when its sign-in ends (the
/// early warning comes before that). Kept between looks instead of the
/// whole row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Due {
    needs_sign_in: bool,
    refresh: Option<DateTime<Utc>>,
    sign_in_ends: Option<DateTime<Utc>>,
}

impl Due {
    fn of(c: &Connection) -> Due {
        let refresh = match (c.status, c.can_renew()) {
            (Status::Connected | Status::Refreshing | Status::Error, true) => match c.retry_at {
                Some(retry) => Some(retry),
                None => c.refresh_due(),
            },
            _ => None,
        };
        let sign_in_ends = match (c.status, c.refresh_expires_at) {
            (Status::Connected | Status::Refreshing, Some(at)) => Some(at),
            _ => None,
        };
        Due { needs_sign_in: c.status == Status::NeedsReauth, refresh, sign_in_ends }
    }
}

/// Decides, for `now`, which connections to refresh and whom to tell, and
/// when to wake next. Pure: the clock is an argument.
pub fn plan<'a>(connections: impl IntoIterator<Item = &'a Connection>, now: DateTime<Utc>, settings: &RefresherSettings) -> Plan {
    plan_due(connections.into_iter().map(|c| (&c.id, Due::of(c))), now, settings)
}

fn plan_due<'a>(connections: impl IntoIterator<Item = (&'a ConnectionId, Due)>, now: DateTime<Utc>, settings: &RefresherSettings) -> Plan {
    let mut plan = Plan::default();
    let mut heap = BinaryHeap::new();
    for (id, due) in connections {
        if due.needs_sign_in {
            plan.notify_reauth.push(id.clone());
            continue;
        }
        match due.refresh {
            Some(at) if at <= now => plan.refresh_now.push(id.clone()),
            Some(at) => heap.push(Reverse(at)),
            None => {}
        }
        match due.sign_in_ends.map(|ends| ends - settings.warn_ahead) {
            Some(at) if at <= now => plan.warn_expiry.push(id.clone()),
            Some(at) => heap.push(Reverse(at)),
            None => {}
        }
    }
    plan.next_wake = heap.peek().map(|Reverse(at)| *at);
    plan
}

/// A handle on the running refresher.
#[derive(Clone)]
pub struct Refresher {
    wake: Arc<Notify>,
}

impl Refresher {
    /// Starts the refresher on the current tokio runtime. It announces
    /// through the engine's events and follows the engine's saved settings.
    pub fn spawn(engine: Arc<Engine>) -> Refresher {
        let wake = Arc::new(Notify::new());
        let changes = engine.subscribe();
        tokio::spawn(keep_team_tokens(engine.clone()));
        tokio::spawn(run(engine, changes, wake.clone()));
        Refresher { wake }
    }

    /// Look again now: the store changed in another process, or the machine
    /// resumed from sleep.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The refresher's copy of the connections, as it plans from them (team
/// connections' due times staggered). Read whole at the start, when told
/// the store changed in another process, when events were missed, and
/// every few minutes; otherwise only the rows an event named or a refresh
/// touched are read again. A thousand connections falling due one after
/// another cost a thousand one-row reads, not a thousand whole lists.
#[derive(Default)]
struct Rows {
    rows: HashMap<ConnectionId, Due>,
    changed: HashSet<ConnectionId>,
    /// When every row was last read; `None`: read them all next time.
    whole_read_at: Option<DateTime<Utc>>,
    /// The store's version then: another process's writes move it.
    store_version: Option<i64>,
}

impl Rows {
    fn read_whole_next(&mut self) {
        self.whole_read_at = None;
    }

    /// Brings the copy up to date with the store.
    fn update(&mut self, engine: &Engine) {
        let now = engine.now();
        let version = engine.store_version().ok();
        // A clock set back reads everything again too.
        let whole = version.is_none()
            || version != self.store_version
            || self.whole_read_at.is_none_or(|at| now < at || now - at >= WHOLE_READ_EVERY);
        if whole {
            match engine.list() {
                Ok(mut list) => {
                    self.store_version = version;
                    // Team members renew one after another, not all at once.
                    engine.team_stagger(&mut list);
                    self.rows = list.into_iter().map(|c| (c.id.clone(), Due::of(&c))).collect();
                    self.changed.clear();
                    self.whole_read_at = Some(now);
                }
                // The rows it has stay; everything is read again next time.
                Err(err) => tracing::warn!(error = %err, "the refresher could not read connections"),
            }
            return;
        }
        for id in std::mem::take(&mut self.changed) {
            let found = engine.db().connection_by_id(&id);
            match found {
                Ok(Some(mut row)) => {
                    engine.team_stagger(std::slice::from_mut(&mut row));
                    self.rows.insert(id, Due::of(&row));
                }
                Ok(None) => {
                    self.rows.remove(&id);
                }
                Err(err) => {
                    tracing::warn!(connection = %id, error = %err, "the refresher could not read a connection");
                    self.read_whole_next();
                }
            }
        }
    }

    /// Notes what one engine event changed.
    fn note(&mut self, event: &EngineEvent) {
        if let Some(id) = event.changed_connection() {
            self.changed.insert(id.clone());
        }
    }

    /// Takes every event already queued.
    fn take_queued(&mut self, changes: &mut broadcast::Receiver<EngineEvent>) {
        loop {
            match changes.try_recv() {
                Ok(event) => self.note(&event),
                Err(broadcast::error::TryRecvError::Lagged(_)) => self.read_whole_next(),
                Err(_) => break,
            }
        }
    }
}

/// Waits for an engine event that changes connections, then takes every
/// other one already queued: one look for a burst of changes.
async fn next_change(changes: &mut broadcast::Receiver<EngineEvent>, rows: &mut Rows) {
    loop {
        match changes.recv().await {
            Ok(event) if event.changed_connection().is_none() => continue,
            Ok(event) => {
                rows.note(&event);
                break;
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                rows.read_whole_next();
                break;
            }
            // The engine is gone; the refresher stops with the runtime.
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
    rows.take_queued(changes);
}

/// Keeps each joined team's OpenBao token alive (renewed, or logged in
/// again), also while no team connection is used.
async fn keep_team_tokens(engine: Arc<Engine>) {
    loop {
        let next = engine.team_tokens_keep_alive().await;
        let clock = engine.clock().clone();
        clock.sleep_until(next).await;
    }
}

async fn run(engine: Arc<Engine>, mut changes: broadcast::Receiver<EngineEvent>, wake: Arc<Notify>) {
    let permits = Arc::new(Semaphore::new(PARALLEL_REFRESHES));
    let mut rows = Rows::default();
    loop {
        // Tokens a locked keyring refused: saved as soon as it takes them.
        engine.save_unsaved().await;
        let chosen = engine.settings().unwrap_or_else(|err| {
            tracing::warn!(error = %err, "the refresher could not read the settings; using the defaults");
            Settings::default()
        });
        let settings = chosen.refresher();
        rows.update(&engine);
        let now = engine.now();
        let plan = plan_due(rows.rows.iter().map(|(id, due)| (id, *due)), now, &settings);
        // The row itself, for the few that are told about.
        let find = |id: &ConnectionId| -> Option<Connection> {
            let row = engine.db().connection_by_id(id);
            row.ok().flatten()
        };

        for c in plan.notify_reauth.iter().filter_map(find) {
            engine.notify_needs_sign_in(&c, chosen.notify_reauth);
        }
        for id in &plan.warn_expiry {
            if engine.db().mark_notified(id, Notified::ExpiryWarning).unwrap_or(false) && chosen.notify_expiry {
                if let Some((c, at)) = find(id).and_then(|c| c.refresh_expires_at.map(|at| (c, at))) {
                    let action = c.sign_in_again();
                    engine.announce(EngineEvent::Notice(Notice::ExpiresSoon { id: id.clone(), name: c.name.clone(), at, action }));
                }
            }
        }

        if !plan.refresh_now.is_empty() {
            let mut tasks = tokio::task::JoinSet::new();
            rows.changed.extend(plan.refresh_now.iter().cloned());
            for id in plan.refresh_now {
                let engine = engine.clone();
                let permits = permits.clone();
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    if let Err(err) = engine.refresh_if_due(&id).await {
                        tracing::info!(connection = %id, error = %err, "background refresh failed");
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
            // Outcomes changed due times (or needs_reauth): plan again now,
            // with the rows these refreshes (and anything else) changed.
            rows.take_queued(&mut changes);
            continue;
        }

        let clock = engine.clock().clone();
        let mut next_wake = plan.next_wake;
        if engine.has_unsaved_tokens() {
            // Look again soon: the keyring may have been unlocked.
            next_wake = Some(next_wake.map_or(now + UNSAVED_RETRY, |at| at.min(now + UNSAVED_RETRY)));
        }
        let sleep = async {
            match next_wake {
                Some(at) => {
                    if clock.sleep_until(at).await == Woke::ClockChanged {
                        tracing::info!("the wall clock changed; looking at due times again");
                    }
                }
                None => std::future::pending().await,
            }
        };
        let told = tokio::select! {
            () = sleep => false,
            () = wake.notified() => true,
            () = next_change(&mut changes, &mut rows) => false,
        };
        if told {
            // The store changed in another process, or the settings did.
            rows.read_whole_next();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::model::{Draft, Flow, KindSettings, OAuth2Settings};
    use chrono::Duration;

    fn connected(name: &str, issued: DateTime<Utc>, lifetime: Duration) -> Connection {
        let mut c = crate::model::sample_connection(name, Flow::AuthorizationCode);
        c.id = ConnectionId(format!("cn_{name}"));
        c.status = Status::Connected;
        c.access_expires_at = Some(issued + lifetime);
        c.access_issued_at = Some(issued);
        c.has_refresh_token = true;
        c
    }

    #[test]
    fn one_millisecond_before_the_due_time_nothing_is_refreshed() {
        let issued = Utc::now();
        let c = connected("a", issued, Duration::hours(1));
        let due = issued + Duration::minutes(54);
        let before = plan(std::slice::from_ref(&c), due - Duration::milliseconds(1), &RefresherSettings::default());
        assert!(before.refresh_now.is_empty());
        assert_eq!(before.next_wake, Some(due), "sleeps exactly until the due time");
        let at = plan(&[c], due, &RefresherSettings::default());
        assert_eq!(at.refresh_now, vec![ConnectionId("cn_a".into())]);
    }

    #[test]
    fn an_eight_second_token_is_refreshed_every_four_seconds_not_in_a_loop() {
        let issued = Utc::now();
        let c = connected("short", issued, Duration::seconds(8));
        let p = plan(std::slice::from_ref(&c), issued, &RefresherSettings::default());
        assert!(p.refresh_now.is_empty());
        assert_eq!(p.next_wake, Some(issued + Duration::seconds(4)));
        // After a refresh at t=4 s the next one is due at t=8 s: two per
        // eight seconds, never back to back.
        let refreshed = connected("short", issued + Duration::seconds(4), Duration::seconds(8));
        let p = plan(&[refreshed], issued + Duration::seconds(4), &RefresherSettings::default());
        assert!(p.refresh_now.is_empty());
        assert_eq!(p.next_wake, Some(issued + Duration::seconds(8)));
    }

    #[test]
    fn a_failed_refresh_waits_for_its_retry_time() {
        let issued = Utc::now() - Duration::hours(2);
        let mut c = connected("down", issued, Duration::hours(1));
        let now = Utc::now();
        c.retry_at = Some(now + Duration::seconds(20));
        let p = plan(&[c], now, &RefresherSettings::default());
        assert!(p.refresh_now.is_empty(), "no retry before the backoff ends");
        assert_eq!(p.next_wake, Some(now + Duration::seconds(20)));
    }

    #[test]
    fn needs_reauth_is_reported_and_never_refreshed() {
        let mut c = connected("gone", Utc::now() - Duration::hours(2), Duration::hours(1));
        c.status = Status::NeedsReauth;
        let p = plan(&[c], Utc::now(), &RefresherSettings::default());
        assert_eq!(p.notify_reauth.len(), 1);
        assert!(p.refresh_now.is_empty() && p.next_wake.is_none());
    }

    #[test]
    fn the_expiry_warning_comes_a_day_ahead_by_default() {
        let now = Utc::now();
        let mut c = connected("soon", now, Duration::hours(1));
        c.refresh_expires_at = Some(now + Duration::hours(30));
        let p = plan(std::slice::from_ref(&c), now, &RefresherSettings::default());
        assert!(p.warn_expiry.is_empty());
        assert_eq!(p.next_wake, Some(now + Duration::minutes(54)), "the refresh comes first");
        let p = plan(&[c], now + Duration::hours(6), &RefresherSettings::default());
        assert_eq!(p.warn_expiry.len(), 1);
    }

    #[test]
    fn nothing_due_means_no_wake_at_all() {
        let mut c = connected("static", Utc::now(), Duration::hours(1));
        c.access_expires_at = None;
        let p = plan(&[c], Utc::now(), &RefresherSettings::default());
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn notifications_go_out_once_per_episode() {
        let db = crate::store::Db::open_in_memory().unwrap();
        let c = connected("team", Utc::now(), Duration::hours(1));
        db.connection_insert(&c).unwrap();
        assert!(db.mark_notified(&c.id, Notified::Reauth).unwrap());
        assert!(!db.mark_notified(&c.id, Notified::Reauth).unwrap(), "no repeat in the same episode");
        db.reset_episode(&c.id).unwrap();
        assert!(db.mark_notified(&c.id, Notified::Reauth).unwrap(), "a new sign-in starts a new episode");
    }

    /// A client credentials connection whose provider cannot be reached, in
    /// a fresh test engine on a manual clock.
    async fn engine_with_one(
        name: &str,
        status: Status,
    ) -> (tempfile::TempDir, Arc<Engine>, ConnectionId, Arc<crate::clock::ManualClock>) {
        let (dir, engine, clock) = crate::engine::test_engine_with_clock();
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "client");
        // Nothing listens on port 9 of the loopback interface.
        settings.token_url = Some("http://127.0.0.1:9/token".into());
        settings.client_auth = crate::model::ClientAuth::Body;
        let secret = crate::secret::ClientSecret::new("s3cret-value".into());
        let draft = Draft { name: name.into(), settings: KindSettings::OAuth2(settings) };
        let connection = engine.create(draft, Some(secret)).await.unwrap();
        // Signed in an hour's token ago, as a sign-in would store it.
        let grant = crate::flows::token_response::TokenGrant::bearer("at-1", std::time::Duration::from_secs(3600));
        let (mut connection, _) = engine.store_grant(&connection.id, grant, None, 0).await.unwrap();
        connection.status = status;
        engine.db().connection_update_state(&connection).unwrap();
        (dir, Arc::new(engine), connection.id, clock)
    }

    /// Every event within `ms` milliseconds of real time.
    async fn events_within(rx: &mut broadcast::Receiver<EngineEvent>, ms: u64) -> Vec<EngineEvent> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
        while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            seen.push(event);
        }
        seen
    }

    fn reauth_notices(seen: &[EngineEvent]) -> Vec<&Notice> {
        seen.iter()
            .filter_map(|e| match e {
                EngineEvent::Notice(notice @ Notice::NeedsReauth { .. }) => Some(notice),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_connection_needing_sign_in_is_announced_once_however_often_the_refresher_looks() {
        let (_dir, engine, id, _clock) = engine_with_one("Team Drive", Status::NeedsReauth).await;
        let mut rx = engine.subscribe();
        let refresher = Refresher::spawn(engine);
        for _ in 0..3 {
            refresher.wake();
            tokio::task::yield_now().await;
        }
        let seen = events_within(&mut rx, 300).await;
        let announced = reauth_notices(&seen);
        assert_eq!(announced.len(), 1, "{seen:?}");
        assert!(matches!(
            announced[0],
            Notice::NeedsReauth { id: i, name, action: crate::error::Action::SignInAgain { .. }, .. } if *i == id && name == "Team Drive"
        ));
    }

    #[tokio::test]
    async fn with_sign_in_notifications_off_nothing_is_announced_and_the_episode_still_counts() {
        let (_dir, engine, id, _clock) = engine_with_one("Quiet", Status::NeedsReauth).await;
        engine.save_settings(&Settings { notify_reauth: false, ..Settings::default() }).unwrap();
        let mut rx = engine.subscribe();
        let refresher = Refresher::spawn(engine.clone());
        let seen = events_within(&mut rx, 300).await;
        assert!(reauth_notices(&seen).is_empty(), "{seen:?}");
        assert!(engine.db().was_notified(&id, Notified::Reauth).unwrap(), "turning them on later brings no old episode");
        // Turned back on: still nothing for this episode.
        engine.save_settings(&Settings::default()).unwrap();
        refresher.wake();
        assert!(reauth_notices(&events_within(&mut rx, 300).await).is_empty());
    }

    #[tokio::test]
    async fn the_refresher_acts_when_the_clock_reaches_the_due_time_and_backs_off_after_a_failure() {
        let (_dir, engine, id, clock) = engine_with_one("Service", Status::Connected).await;
        let mut rx = engine.subscribe();
        let _refresher = Refresher::spawn(engine.clone());
        assert!(events_within(&mut rx, 200).await.is_empty(), "nothing due for 54 minutes");
        // Just before the due time (issued + 54 min): still nothing.
        clock.advance(Duration::minutes(54) - Duration::milliseconds(1));
        assert!(events_within(&mut rx, 200).await.is_empty());
        clock.advance(Duration::milliseconds(1));
        let seen = events_within(&mut rx, 2000).await;
        assert!(seen.contains(&EngineEvent::NeedsAttention { id: id.clone() }), "{seen:?}");
        let failed = engine.get("Service").unwrap();
        let retry = failed.retry_at.expect("a passing failure waits to retry");
        let wait = retry - clock.now();
        assert!(wait >= Duration::seconds(8) && wait <= Duration::seconds(12), "the first backoff is 10 s ± 20 %: {wait}");
        assert!(matches!(failed.last_error_action, Some(crate::error::Action::CheckNetwork)), "{:?}", failed.last_error_action);
        // No second attempt before the retry time…
        assert!(events_within(&mut rx, 200).await.is_empty());
        // …and one once the clock gets there.
        clock.set(retry);
        let seen = events_within(&mut rx, 2000).await;
        assert!(seen.contains(&EngineEvent::NeedsAttention { id }), "{seen:?}");
    }

    #[tokio::test]
    async fn after_the_first_look_only_the_rows_events_name_are_read_again() {
        let (dir, engine, id, _clock) = engine_with_one("Named", Status::Connected).await;
        let mut rows = Rows::default();
        rows.update(&engine);
        let first = rows.rows[&id];
        assert!(first.refresh.is_some() && !first.needs_sign_in);
        // Written in this process without an event: the copy keeps its row.
        let mut quiet = engine.get(id.as_str()).unwrap();
        let retry = engine.now() + chrono::Duration::minutes(7);
        quiet.retry_at = Some(retry);
        engine.db().connection_update_state(&quiet).unwrap();
        rows.update(&engine);
        assert_eq!(rows.rows[&id], first, "not read again without a reason");
        // An event names it: read again.
        rows.note(&EngineEvent::Changed { id: id.clone() });
        rows.update(&engine);
        assert_eq!(rows.rows[&id].refresh.map(|at| at.timestamp_millis()), Some(retry.timestamp_millis()));
        // Another process's write moves the store's version: every row is read.
        let other = crate::store::Db::open(&dir.path().join("latch.db")).unwrap();
        quiet.status = Status::NeedsReauth;
        other.connection_update_state(&quiet).unwrap();
        rows.update(&engine);
        assert!(rows.rows[&id].needs_sign_in);
        // Removed (announced): gone from the plan.
        engine.db().connection_delete(&id).unwrap();
        rows.note(&EngineEvent::Removed { id: id.clone() });
        rows.update(&engine);
        assert!(rows.rows.is_empty());
    }
}
