//! The refresher: one tokio task that keeps every connection alive. It
//! keeps the due times in a min-heap and sleeps until the earliest — no
//! polling loop. It wakes early when told the store changed (another
//! process, the user), or the machine resumed or the clock jumped.
//!
//! What only the user can fix goes out as an [`EngineEvent`] once per
//! episode; the desktop shell turns those into notifications.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::engine::Engine;
use crate::model::{Connection, ConnectionId, Flow, Status};
use crate::refresh_policy;
use crate::settings::Settings;
use crate::wall_clock::{self, Woke};
use crate::single_flight::RefreshNeed;
use crate::store::refresh_state::Notified;

/// What the engine tells front ends without being asked.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// Something in the store changed (a refresh finished or failed).
    Changed,
    /// Only the user can fix this connection: sign in again. Sent once per episode.
    NeedsReauth { id: ConnectionId, name: String, reason: String },
    /// The refresh token runs out soon (the provider said when). Sent once per sign-in.
    ExpiresSoon { id: ConnectionId, name: String, at: DateTime<Utc> },
}

/// Settings the refresher honours.
#[derive(Debug, Clone)]
pub struct RefresherSettings {
    /// How long before `refresh_expires_at` the early warning goes out.
    pub warn_ahead: Duration,
}

impl Default for RefresherSettings {
    fn default() -> Self {
        RefresherSettings { warn_ahead: Duration::hours(24) }
    }
}

/// At most this many refreshes run at once.
const PARALLEL_REFRESHES: usize = 16;

/// What one look at the connections says to do now, and when to look next.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub refresh_now: Vec<ConnectionId>,
    pub notify_reauth: Vec<ConnectionId>,
    pub warn_expiry: Vec<ConnectionId>,
    /// The earliest future due time, if any: the heap's top.
    pub next_wake: Option<DateTime<Utc>>,
}

/// The due times of `connection`: refresh, and the early warning.
fn due_times(c: &Connection, settings: &RefresherSettings) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let renewable = c.has_refresh_token || c.spec.flow == Flow::ClientCredentials;
    let refresh = match (c.status, renewable) {
        (Status::Connected | Status::Refreshing | Status::Error, true) => match c.retry_at {
            Some(retry) => Some(retry),
            None => c.access_expires_at.map(|exp| refresh_policy::due_at(c.access_issued_at, exp)),
        },
        _ => None,
    };
    let warn = match (c.status, c.refresh_expires_at) {
        (Status::Connected | Status::Refreshing, Some(at)) => Some(at - settings.warn_ahead),
        _ => None,
    };
    (refresh, warn)
}

/// Decides, for `now`, which connections to refresh and whom to tell, and
/// when to wake next. Pure: the clock is an argument.
pub fn plan(connections: &[Connection], now: DateTime<Utc>, settings: &RefresherSettings) -> Plan {
    let mut plan = Plan::default();
    let mut heap = BinaryHeap::new();
    for c in connections {
        if c.status == Status::NeedsReauth {
            plan.notify_reauth.push(c.id.clone());
            continue;
        }
        let (refresh, warn) = due_times(c, settings);
        match refresh {
            Some(due) if due <= now => plan.refresh_now.push(c.id.clone()),
            Some(due) => heap.push(Reverse(due)),
            None => {}
        }
        match warn {
            Some(at) if at <= now => plan.warn_expiry.push(c.id.clone()),
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
    /// Starts the refresher on the current tokio runtime. Events go to
    /// `events`; it follows the engine's saved settings (wake it after
    /// saving them).
    pub fn spawn(engine: Arc<Engine>, events: mpsc::UnboundedSender<EngineEvent>) -> Refresher {
        let wake = Arc::new(Notify::new());
        tokio::spawn(run(engine, events, wake.clone()));
        Refresher { wake }
    }

    /// Look again now: the store changed elsewhere, the machine resumed from
    /// sleep, or the wall clock jumped.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn run(engine: Arc<Engine>, events: mpsc::UnboundedSender<EngineEvent>, wake: Arc<Notify>) {
    let permits = Arc::new(Semaphore::new(PARALLEL_REFRESHES));
    loop {
        let chosen = engine.settings().unwrap_or_else(|err| {
            tracing::warn!(error = %err, "the refresher could not read the settings; using the defaults");
            Settings::default()
        });
        let settings = chosen.refresher();
        let now = Utc::now();
        let connections = match engine.list() {
            Ok(list) => list,
            Err(err) => {
                tracing::warn!(error = %err, "the refresher could not read connections");
                Vec::new()
            }
        };
        let plan = plan(&connections, now, &settings);
        let name_of = |id: &ConnectionId| connections.iter().find(|c| &c.id == id).map(|c| c.spec.name.clone()).unwrap_or_default();

        for id in &plan.notify_reauth {
            // Marked even when notifications are off: turning them on later
            // does not bring back old episodes.
            if engine.db().mark_notified(id, Notified::Reauth).unwrap_or(false) && chosen.notify_reauth {
                let reason = connections.iter().find(|c| &c.id == id).and_then(|c| c.last_error.clone()).unwrap_or_default();
                let _ = events.send(EngineEvent::NeedsReauth { id: id.clone(), name: name_of(id), reason });
            }
        }
        for id in &plan.warn_expiry {
            if engine.db().mark_notified(id, Notified::ExpiryWarning).unwrap_or(false) && chosen.notify_expiry {
                if let Some(at) = connections.iter().find(|c| &c.id == id).and_then(|c| c.refresh_expires_at) {
                    let _ = events.send(EngineEvent::ExpiresSoon { id: id.clone(), name: name_of(id), at });
                }
            }
        }

        if !plan.refresh_now.is_empty() {
            let mut tasks = tokio::task::JoinSet::new();
            for id in plan.refresh_now {
                let engine = engine.clone();
                let permits = permits.clone();
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    if let Err(err) = engine.refresh_single_flight(&id, RefreshNeed::IfDue).await {
                        tracing::info!(connection = %id, error = %err, "background refresh failed");
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
            let _ = events.send(EngineEvent::Changed);
            // Outcomes changed due times (or needs_reauth): plan again now.
            continue;
        }

        match plan.next_wake {
            Some(at) => {
                tokio::select! {
                    woke = wall_clock::sleep_until(at) => {
                        if woke == Woke::ClockChanged {
                            tracing::info!("the wall clock changed; looking at due times again");
                        }
                    }
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectionSpec, Flow};

    fn connected(name: &str, issued: DateTime<Utc>, lifetime: Duration) -> Connection {
        Connection {
            id: ConnectionId(format!("cn_{name}")),
            kind: "oauth2".into(),
            spec: ConnectionSpec::new(name, Flow::AuthorizationCode, "c"),
            status: Status::Connected,
            access_expires_at: Some(issued + lifetime),
            refresh_expires_at: None,
            access_issued_at: Some(issued),
            granted_scopes: None,
            account: None,
            has_client_secret: false,
            has_refresh_token: true,
            last_error: None,
            last_error_details: None,
            retry_at: None,
            created_at: issued,
            updated_at: issued,
        }
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

    /// A connection only the user can fix, in a fresh test engine.
    fn engine_with_one_needing_sign_in(name: &str) -> (tempfile::TempDir, Arc<Engine>, ConnectionId) {
        let (dir, engine) = crate::engine::test_engine();
        let mut spec = ConnectionSpec::new(name, Flow::ClientCredentials, "client");
        spec.token_url = Some("https://example.com/token".into());
        spec.client_auth = crate::model::ClientAuth::Body;
        let secret = crate::secret::ClientSecret::new("s3cret-value".into());
        let mut connection = engine.create(crate::model::ConnectionPatch::from(spec), Some(secret)).unwrap();
        connection.status = Status::NeedsReauth;
        engine.db().connection_update_state(&connection).unwrap();
        (dir, Arc::new(engine), connection.id)
    }

    async fn events_within(rx: &mut mpsc::UnboundedReceiver<EngineEvent>, ms: u64) -> Vec<EngineEvent> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            seen.push(event);
        }
        seen
    }

    #[tokio::test]
    async fn a_connection_needing_sign_in_is_announced_once_however_often_the_refresher_looks() {
        let (_dir, engine, id) = engine_with_one_needing_sign_in("Team Drive");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let refresher = Refresher::spawn(engine, tx);
        for _ in 0..3 {
            refresher.wake();
            tokio::task::yield_now().await;
        }
        let seen = events_within(&mut rx, 300).await;
        let announced: Vec<_> = seen.iter().filter(|e| matches!(e, EngineEvent::NeedsReauth { .. })).collect();
        assert_eq!(announced.len(), 1, "{seen:?}");
        assert!(matches!(announced[0], EngineEvent::NeedsReauth { id: i, name, .. } if *i == id && name == "Team Drive"));
    }

    #[tokio::test]
    async fn with_sign_in_notifications_off_nothing_is_announced_and_the_episode_still_counts() {
        let (_dir, engine, id) = engine_with_one_needing_sign_in("Quiet");
        engine.save_settings(&Settings { notify_reauth: false, ..Settings::default() }).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let refresher = Refresher::spawn(engine.clone(), tx);
        let seen = events_within(&mut rx, 300).await;
        assert!(seen.iter().all(|e| !matches!(e, EngineEvent::NeedsReauth { .. })), "{seen:?}");
        assert!(engine.db().was_notified(&id, Notified::Reauth).unwrap(), "turning them on later brings no old episode");
        // Turned back on: still nothing for this episode.
        engine.save_settings(&Settings::default()).unwrap();
        refresher.wake();
        assert!(events_within(&mut rx, 300).await.iter().all(|e| !matches!(e, EngineEvent::NeedsReauth { .. })));
    }
}
