//! Where the engine's "now" comes from. The product runs on the wall clock;
//! tests step a [`ManualClock`] instead of sleeping, so time-driven
//! behaviour (due refreshes, backoff, expiry warnings) is tested exactly and
//! fast (STYLE.md rule 14).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;

use crate::wall_clock::{self, Woke};

/// A source of the current time that can also be slept on.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves at `at` by this clock, or earlier with
    /// [`Woke::ClockChanged`] when the clock was set meanwhile.
    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = Woke> + Send + '_>>;
}

/// The wall clock. Sleeping follows it across a suspend and notices when it
/// is set (`wall_clock.rs`).
///
/// In debug builds only, `LATCH_TEST_CLOCK_SKEW_MS` moves it forward by that
/// many milliseconds: end-to-end tests step a separate `latch` process's
/// clock instead of sleeping. Release builds ignore the variable.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    skew: Duration,
}

impl SystemClock {
    pub fn new() -> Self {
        #[cfg(debug_assertions)]
        {
            let skew = std::env::var("LATCH_TEST_CLOCK_SKEW_MS").ok().and_then(|ms| ms.trim().parse::<i64>().ok());
            if let Some(ms) = skew {
                return SystemClock { skew: Duration::milliseconds(ms) };
            }
        }
        SystemClock { skew: Duration::zero() }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.skew
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = Woke> + Send + '_>> {
        Box::pin(wall_clock::sleep_until(at - self.skew))
    }
}

/// A clock that only moves when told to: for tests.
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    moved: Notify,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock { now: Mutex::new(start), moved: Notify::new() }
    }

    /// Moves the clock forward; sleepers whose time has come wake up.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) += by;
        self.moved.notify_waiters();
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Pin<Box<dyn Future<Output = Woke> + Send + '_>> {
        Box::pin(async move {
            loop {
                let moved = self.moved.notified();
                if self.now() >= at {
                    return Woke::Due;
                }
                moved.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleeper_on_the_manual_clock_wakes_when_the_clock_reaches_its_time() {
        let start = Utc::now();
        let clock = std::sync::Arc::new(ManualClock::new(start));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(start + Duration::seconds(10)).await })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::seconds(9));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "one second early");
        clock.advance(Duration::seconds(1));
        assert_eq!(sleeper.await.unwrap(), Woke::Due);
    }
}
