//! Reading and saving the user's settings (`crate::settings`).

use super::Engine;
use crate::error::Result;
use crate::settings::{Settings, MAX_WARN_AHEAD_HOURS, NOTIFY_EXPIRY, NOTIFY_REAUTH, WARN_AHEAD_HOURS};

impl Engine {
    /// The saved settings; defaults for what was never saved (or what a
    /// hand-edited database spoiled).
    pub fn settings(&self) -> Result<Settings> {
        let db = self.db();
        let defaults = Settings::default();
        let flag = |key: &str, default: bool| -> Result<bool> { Ok(db.setting(key)?.map_or(default, |v| v != "false")) };
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
    fn a_fresh_store_has_the_default_settings() {
        let (_dir, engine) = test_engine();
        assert_eq!(engine.settings().unwrap(), Settings::default());
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
