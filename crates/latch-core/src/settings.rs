//! The user's preferences that the engine honours: which notifications go
//! out and how early the refresh-token warning comes. Kept in the SQLite
//! `settings` table (`engine/settings.rs` reads and writes them), so every
//! front end and the refresher see the same. (Starting at login is the
//! desktop shell's business: the OS keeps it.)

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The choices on the Settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Settings {
    /// A notification when a connection needs the user to sign in again.
    pub notify_reauth: bool,
    /// A notification before a refresh token the provider dated runs out.
    pub notify_expiry: bool,
    /// How many hours ahead that warning comes.
    pub warn_ahead_hours: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { notify_reauth: true, notify_expiry: true, warn_ahead_hours: 24 }
    }
}

/// The warning can come at most 30 days ahead.
pub const MAX_WARN_AHEAD_HOURS: u32 = 30 * 24;

pub(crate) const NOTIFY_REAUTH: &str = "notify_reauth";
pub(crate) const NOTIFY_EXPIRY: &str = "notify_expiry";
pub(crate) const WARN_AHEAD_HOURS: &str = "warn_ahead_hours";

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

impl Settings {
    pub fn refresher(&self) -> RefresherSettings {
        RefresherSettings { warn_ahead: Duration::hours(i64::from(self.warn_ahead_hours)) }
    }

    pub(crate) fn check(&self) -> Result<()> {
        if !(1..=MAX_WARN_AHEAD_HOURS).contains(&self.warn_ahead_hours) {
            return Err(Error::validation(
                "warn_ahead_hours",
                format!("Choose between 1 hour and {} days ahead.", MAX_WARN_AHEAD_HOURS / 24),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_have_both_notifications_on_and_warn_a_day_ahead() {
        let defaults = Settings::default();
        assert!(defaults.notify_reauth && defaults.notify_expiry);
        assert_eq!(defaults.refresher().warn_ahead, Duration::hours(24));
    }

    #[test]
    fn the_warning_comes_between_one_hour_and_thirty_days_ahead() {
        for hours in [0, MAX_WARN_AHEAD_HOURS + 1] {
            let err = Settings { warn_ahead_hours: hours, ..Settings::default() }.check().unwrap_err();
            assert!(err.message.contains("between 1 hour and 30 days"), "{}", err.message);
        }
        for hours in [1, MAX_WARN_AHEAD_HOURS] {
            assert!(Settings { warn_ahead_hours: hours, ..Settings::default() }.check().is_ok());
        }
    }
}
