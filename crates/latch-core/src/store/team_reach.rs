//! Whether a team's store answers: every call to it is observed here. The
//! first call that cannot reach it starts an outage ("unreachable since …"),
//! announced to front ends; the first call that gets an answer ends it.
//! One notification per outage, once it has lasted [`NOTIFY_AFTER`]: a
//! blip of a few seconds is not worth a person's attention.

use std::sync::{Arc, Mutex, OnceLock, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::error::{ErrorKind, Result};
use crate::events::{EngineEvent, Notice};

/// How long a team store must stay unreachable before the notification.
pub const NOTIFY_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// Where outages are dated and announced: the engine's clock and events.
pub struct ReachHooks {
    clock: RwLock<Arc<dyn Clock>>,
    events: broadcast::Sender<EngineEvent>,
}

impl ReachHooks {
    pub fn new(clock: Arc<dyn Clock>, events: broadcast::Sender<EngineEvent>) -> ReachHooks {
        ReachHooks { clock: RwLock::new(clock), events }
    }

    /// The engine's clock changed (tests step a manual one).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        *self.clock.write().unwrap_or_else(|p| p.into_inner()) = clock;
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.read().unwrap_or_else(|p| p.into_inner()).now()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Outage {
    since: DateTime<Utc>,
    reason: String,
    notified: bool,
}

/// One team store's reachability.
#[derive(Default)]
pub struct Reach {
    hooks: OnceLock<Arc<ReachHooks>>,
    outage: Mutex<Option<Outage>>,
}

impl Reach {
    pub fn attach(&self, hooks: Arc<ReachHooks>) {
        let _ = self.hooks.set(hooks);
    }

    /// Since when the store has not answered, and why; `None` while it answers.
    pub fn unreachable(&self) -> Option<(DateTime<Utc>, String)> {
        self.outage.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|o| (o.since, o.reason.clone()))
    }

    /// Notes how a call to the team's store ended: a network failure (no
    /// answer, sealed, not ready) starts or continues an outage; any answer,
    /// a refusal included, ends it.
    pub fn observe<T>(&self, team: &str, result: &Result<T>) {
        let Some(hooks) = self.hooks.get() else { return };
        let failure = match result {
            Err(err) if err.kind == ErrorKind::Network => Some(err.message.clone()),
            _ => None,
        };
        let now = hooks.now();
        let mut outage = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        let mut events = Vec::new();
        match (outage.as_mut(), failure) {
            (None, None) => {}
            (Some(_), None) => {
                *outage = None;
                tracing::info!(team, "the team store answers again");
                events.push(EngineEvent::TeamReach { team: team.to_owned() });
            }
            (None, Some(reason)) => {
                tracing::warn!(team, reason = %reason, "the team store cannot be reached");
                *outage = Some(Outage { since: now, reason, notified: false });
                events.push(EngineEvent::TeamReach { team: team.to_owned() });
            }
            (Some(current), Some(reason)) => {
                current.reason = reason;
                if !current.notified && now - current.since >= NOTIFY_AFTER {
                    current.notified = true;
                    events.push(EngineEvent::Notice(Notice::TeamUnreachable {
                        team: team.to_owned(),
                        since: current.since,
                        reason: current.reason.clone(),
                    }));
                }
            }
        }
        drop(outage);
        for event in events {
            let _ = hooks.events.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::error::Error;

    fn reach() -> (Reach, Arc<ManualClock>, broadcast::Receiver<EngineEvent>) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let (events, receiver) = broadcast::channel(16);
        let reach = Reach::default();
        reach.attach(Arc::new(ReachHooks::new(clock.clone(), events)));
        (reach, clock, receiver)
    }

    fn drained(receiver: &mut broadcast::Receiver<EngineEvent>) -> Vec<EngineEvent> {
        std::iter::from_fn(|| receiver.try_recv().ok()).collect()
    }

    #[test]
    fn an_outage_is_dated_from_its_first_failure_and_notified_once_after_a_minute() {
        let (reach, clock, mut receiver) = reach();
        let down: Result<()> = Err(Error::network("The team store at http://127.0.0.1:9/ could not be reached."));
        let started = clock.now();
        reach.observe("sales", &down);
        assert_eq!(drained(&mut receiver), vec![EngineEvent::TeamReach { team: "sales".into() }]);
        clock.advance(chrono::Duration::seconds(30));
        reach.observe("sales", &down);
        assert!(drained(&mut receiver).is_empty(), "no notification for a blip");
        clock.advance(chrono::Duration::seconds(31));
        reach.observe("sales", &down);
        reach.observe("sales", &down);
        let events = drained(&mut receiver);
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(matches!(&events[0], EngineEvent::Notice(Notice::TeamUnreachable { team, since, .. }) if team == "sales" && *since == started));
        assert_eq!(reach.unreachable().map(|(since, _)| since), Some(started));
    }

    #[test]
    fn any_answer_ends_the_outage_and_a_refusal_is_an_answer() {
        let (reach, _clock, mut receiver) = reach();
        reach.observe::<()>("sales", &Err(Error::network("no route")));
        drained(&mut receiver);
        reach.observe::<()>("sales", &Err(Error::storage("The team store denied it.")));
        assert!(reach.unreachable().is_none());
        assert_eq!(drained(&mut receiver), vec![EngineEvent::TeamReach { team: "sales".into() }]);
        reach.observe("sales", &Ok(()));
        assert!(drained(&mut receiver).is_empty(), "no event while it keeps answering");
    }
}
