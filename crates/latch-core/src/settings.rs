//! The user's preferences that the engine honours: which notifications go
//! out and how early the refresh-token warning comes. Kept in the SQLite
//! `settings` table, so every front end and the refresher see the same.
//! (Starting at login is the desktop shell's business: the OS keeps it.)

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::refresher::RefresherSettings;

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

const NOTIFY_REAUTH: &str = "notify_reauth";
const NOTIFY_EXPIRY: &str = "notify_expiry";
const WARN_AHEAD_HOURS: &str = "warn_ahead_hours";

impl Settings {
    pub fn refresher(&self) -> RefresherSettings {
        RefresherSettings { warn_ahead: Duration::hours(i64::from(self.warn_ahead_hours)) }
    }

    fn check(&self) -> Result<()> {
        if !(1..=MAX_WARN_AHEAD_HOURS).contains(&self.warn_ahead_hours) {
            return Err(Error::validation(
                "warn_ahead_hours",
                format!("Choose between 1 hour and {} days ahead.", MAX_WARN_AHEAD_HOURS / 24),
            ));
        }
        Ok(())
    }
}

impl Engine {
    /// The saved settings; defaults for what was never saved (or what a
    /// hand-edited database spoiled).
    pub fn settings(&self) -> Result<Settings> {
        let db = self.db();
        let defaults = Settings::default();
        let flag = |key: &str, default: bool| -> Result<bool> {
            Ok(db.setting(key)?.map_or(default, |v| v != "false"))
        };
        let hours = db
            .setting(WARN_AHEAD_HOURS)?
            .and_then(|v| v.parse().ok())
            .filter(|h| (1..=MAX_WARN_AHEAD_HOURS).contains(h))
            .unwrap_or(defaults.warn_ahead_hours);
        Ok(Settings {
            notify_reauth: flag(NOTIFY_REAUTH, defaults.notify_reauth)?,
            notify_expiry: flag(NOTIFY_EXPIRY, defaults.notify_expiry)?,
            warn_ahead_hours: hours,
        })
    }

    /// Saves all settings at once, or none when one is out of range.
    pub fn save_settings(&self, settings: &Settings) -> Result<Settings> {
        settings.check()?;
        self.db().set_settings(&[
            (NOTIFY_REAUTH, settings.notify_reauth.to_string()),
            (NOTIFY_EXPIRY, settings.notify_expiry.to_string()),
            (WARN_AHEAD_HOURS, settings.warn_ahead_hours.to_string()),
        ])?;
        self.settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine;

    #[test]
    fn a_fresh_store_has_both_notifications_on_and_warns_a_day_ahead() {
        let (_dir, engine) = test_engine();
        assert_eq!(engine.settings().unwrap(), Settings::default());
        assert_eq!(Settings::default().refresher().warn_ahead, Duration::hours(24));
    }

    #[test]
    fn saved_settings_are_read_back() {
        let (_dir, engine) = test_engine();
        let chosen = Settings { notify_reauth: false, notify_expiry: true, warn_ahead_hours: 72 };
        assert_eq!(engine.save_settings(&chosen).unwrap(), chosen);
        assert_eq!(engine.settings().unwrap(), chosen);
    }

    #[test]
    fn an_out_of_range_warning_is_refused_and_nothing_changes() {
        let (_dir, engine) = test_engine();
        for hours in [0, MAX_WARN_AHEAD_HOURS + 1] {
            let err = engine
                .save_settings(&Settings { notify_reauth: false, notify_expiry: false, warn_ahead_hours: hours })
                .unwrap_err();
            assert!(err.message.contains("between 1 hour and 30 days"), "{}", err.message);
        }
        assert_eq!(engine.settings().unwrap(), Settings::default());
    }
}
