//! The user's preferences that the engine honours: which notifications go
//! out, how early the refresh-token warning comes, how long the record
//! of use (`engine/usage.rs`) is kept and whether the desktop app runs the
//! local proxy (`proxy.rs`), on which port. Kept in the SQLite
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
    /// How many days each hand-out of a credential stays in the record of
    /// use before it is forgotten.
    pub usage_kept_days: u32,
    /// The desktop app runs the local proxy while it runs.
    pub proxy_enabled: bool,
    /// The proxy's port on 127.0.0.1; 0 for any free port.
    pub proxy_port: u16,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            notify_reauth: true,
            notify_expiry: true,
            warn_ahead_hours: 24,
            usage_kept_days: 30,
            proxy_enabled: false,
            proxy_port: 0,
        }
    }
}

/// The warning can come at most 30 days ahead.
pub const MAX_WARN_AHEAD_HOURS: u32 = 30 * 24;

/// The record of use is kept between a day and a year.
pub const USAGE_KEPT_DAYS_RANGE: std::ops::RangeInclusive<u32> = 1..=365;

/// A chosen proxy port is an unprivileged one (below 1024 needs root);
/// 0 lets the system pick a free port.
pub const PROXY_PORT_RANGE: std::ops::RangeInclusive<u16> = 1024..=65535;

pub(crate) const NOTIFY_REAUTH: &str = "notify_reauth";
pub(crate) const NOTIFY_EXPIRY: &str = "notify_expiry";
pub(crate) const WARN_AHEAD_HOURS: &str = "warn_ahead_hours";
pub(crate) const USAGE_KEPT_DAYS: &str = "usage_kept_days";
pub(crate) const PROXY_ENABLED: &str = "proxy_enabled";
pub(crate) const PROXY_PORT: &str = "proxy_port";

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
        if !USAGE_KEPT_DAYS_RANGE.contains(&self.usage_kept_days) {
            return Err(Error::validation(
                "usage_kept_days",
                format!(
                    "Keep the record of use for {} to {} days.",
                    USAGE_KEPT_DAYS_RANGE.start(),
                    USAGE_KEPT_DAYS_RANGE.end()
                ),
            ));
        }
        if self.proxy_port != 0 && !PROXY_PORT_RANGE.contains(&self.proxy_port) {
            return Err(Error::validation(
                "proxy_port",
                format!(
                    "Choose a port from {} to {}, or 0 to let Latch pick a free one.",
                    PROXY_PORT_RANGE.start(),
                    PROXY_PORT_RANGE.end()
                ),
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

    #[test]
    fn the_record_of_use_is_kept_a_month_by_default_and_between_one_and_365_days() {
        assert_eq!(Settings::default().usage_kept_days, 30);
        for days in [0, 366] {
            let err = Settings { usage_kept_days: days, ..Settings::default() }.check().unwrap_err();
            assert_eq!(err.message, "Keep the record of use for 1 to 365 days.");
        }
        for days in [1, 365] {
            assert!(Settings { usage_kept_days: days, ..Settings::default() }.check().is_ok());
        }
    }

    #[test]
    fn the_proxy_is_off_by_default_and_takes_port_zero_or_an_unprivileged_port() {
        let defaults = Settings::default();
        assert!(!defaults.proxy_enabled);
        assert_eq!(defaults.proxy_port, 0);
        for port in [1, 80, 1023] {
            let err = Settings { proxy_port: port, ..Settings::default() }.check().unwrap_err();
            assert_eq!(err.message, "Choose a port from 1024 to 65535, or 0 to let Latch pick a free one.");
            assert_eq!(err.fields[0].field, "proxy_port");
        }
        for port in [0, 1024, 8787, 65535] {
            assert!(Settings { proxy_port: port, ..Settings::default() }.check().is_ok());
        }
    }
}
