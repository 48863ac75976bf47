//! When a token is due for refresh (DESIGN.md, "Refresher"):
//! due = expiry − margin, margin = min(max(60 s, 10 % of lifetime), 50 % of
//! lifetime). A one-hour token refreshes 6 minutes early; an 8-second token
//! after 4 seconds, never in a tight loop.

use chrono::{DateTime, Duration, Utc};

pub fn margin(lifetime: Duration) -> Duration {
    let lifetime = lifetime.max(Duration::zero());
    (lifetime / 10).max(Duration::seconds(60)).min(lifetime / 2)
}

/// When to refresh a token issued at `issued_at` that expires at `expires_at`.
/// Without a known issue time the lifetime is taken as one hour's margin rule
/// applied to the time left, which errs on the early side.
pub fn due_at(issued_at: Option<DateTime<Utc>>, expires_at: DateTime<Utc>) -> DateTime<Utc> {
    let lifetime = match issued_at {
        Some(issued) => expires_at - issued,
        None => Duration::hours(1),
    };
    expires_at - margin(lifetime)
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
    fn a_zero_or_negative_lifetime_has_no_margin() {
        assert_eq!(margin(Duration::zero()), Duration::zero());
        assert_eq!(margin(Duration::seconds(-5)), Duration::zero());
    }
}
