//! When a token is due for refresh (DESIGN.md, "Refresher"):
//! due = expiry − margin, margin = min(max(60 s, 10 % of lifetime), 50 % of
//! lifetime). A one-hour token refreshes 6 minutes early; an 8-second token
//! after 4 seconds, never in a tight loop.

use chrono::{DateTime, Duration, Utc};

/// Backoff after passing failures never waits longer than this.
pub const MAX_BACKOFF: Duration = Duration::minutes(15);
const FIRST_BACKOFF: Duration = Duration::seconds(10);

pub fn margin(lifetime: Duration) -> Duration {
    let lifetime = lifetime.max(Duration::zero());
    (lifetime / 10).max(Duration::seconds(60)).min(lifetime / 2)
}

/// When to refresh a token issued at `issued_at` that expires at `expires_at`.
/// Without a known issue time the lifetime is taken as one hour's margin rule
/// applied to the time left, which errs on the early side.
pub fn due_at(issued_at: Option<DateTime<Utc>>, expires_at: DateTime<Utc>) -> DateTime<Utc> {
    match issued_at {
        // Never sooner than a second after issue, so a provider that hands
        // out already-expired tokens cannot make Latch spin.
        Some(issued) => (expires_at - margin(expires_at - issued)).max(issued + MIN_REFRESH_INTERVAL),
        None => expires_at - margin(Duration::hours(1)),
    }
}

const MIN_REFRESH_INTERVAL: Duration = Duration::seconds(1);

/// How long to wait after the `attempt`-th passing failure in a row (1 =
/// the first): 10 s doubling each time, capped at 15 minutes, spread by
/// `jitter` (a factor in 0.8..=1.2, so many clients do not retry in step),
/// and never sooner than the provider's `Retry-After`.
pub fn backoff(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let base = (FIRST_BACKOFF * 2i32.pow(exponent)).min(MAX_BACKOFF);
    let jittered = Duration::milliseconds((base.num_milliseconds() as f64 * jitter.clamp(0.8, 1.2)) as i64);
    jittered.max(retry_after.unwrap_or_else(Duration::zero)).min(MAX_BACKOFF)
}

/// A jitter factor in 0.8..=1.2 from the process's randomness.
pub fn random_jitter() -> f64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let mixed = u64::from(nanos).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(std::process::id());
    // Integer first: 0.8 + 0.4 in floating point overshoots 1.2.
    (8_000 + mixed % 4_001) as f64 / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_long_token_refreshes_six_minutes_early() {
        assert_eq!(margin(Duration::hours(1)), Duration::minutes(6));
    }

    #[test]
    fn a_ten_minute_token_keeps_the_one_minute_floor() {
        assert_eq!(margin(Duration::minutes(10)), Duration::seconds(60));
    }

    #[test]
    fn an_eight_second_token_refreshes_after_four_seconds() {
        assert_eq!(margin(Duration::seconds(8)), Duration::seconds(4));
        let issued = Utc::now();
        assert_eq!(due_at(Some(issued), issued + Duration::seconds(8)), issued + Duration::seconds(4));
    }

    #[test]
    fn the_due_time_is_exact_to_the_millisecond() {
        let issued = Utc::now();
        let due = due_at(Some(issued), issued + Duration::hours(1));
        assert_eq!(due, issued + Duration::minutes(54));
        let just_before = due - Duration::milliseconds(1);
        assert!(just_before < due, "1 ms before the threshold is not due");
        assert!(due >= due, "exactly at the threshold is due");
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_fifteen_minutes() {
        let seq: Vec<i64> = (1..=9).map(|n| backoff(n, None, 1.0).num_seconds()).collect();
        assert_eq!(seq, vec![10, 20, 40, 80, 160, 320, 640, 900, 900]);
    }

    #[test]
    fn backoff_honours_retry_after_and_jitter_within_the_cap() {
        assert_eq!(backoff(1, Some(Duration::seconds(120)), 1.0), Duration::seconds(120));
        assert_eq!(backoff(1, Some(Duration::hours(2)), 1.0), MAX_BACKOFF);
        assert_eq!(backoff(1, None, 0.8), Duration::seconds(8));
        assert_eq!(backoff(1, None, 1.2), Duration::seconds(12));
        assert_eq!(backoff(20, None, 1.2), MAX_BACKOFF);
        for _ in 0..100 {
            let j = random_jitter();
            assert!((0.8..=1.2).contains(&j), "{j}");
        }
    }

    #[test]
    fn a_token_that_expires_at_once_is_not_refreshed_in_a_tight_loop() {
        let issued = Utc::now();
        assert_eq!(due_at(Some(issued), issued), issued + Duration::seconds(1));
    }

    #[test]
    fn a_zero_or_negative_lifetime_has_no_margin() {
        assert_eq!(margin(Duration::zero()), Duration::zero());
        assert_eq!(margin(Duration::seconds(-5)), Duration::zero());
    }
}
