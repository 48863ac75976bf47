//! Reading and saving the user's settings (`crate::settings`).

use super::Engine;
use crate::error::Result;
use crate::settings::{
    Settings, MAX_WARN_AHEAD_HOURS, NOTIFY_EXPIRY, NOTIFY_REAUTH, PROXY_ENABLED, PROXY_PORT, PROXY_PORT_RANGE,
    USAGE_KEPT_DAYS, USAGE_KEPT_DAYS_RANGE, WARN_AHEAD_HOURS,
};
use crate::store::Db;

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
        let port = db
            .setting(PROXY_PORT)?
            .and_then(|v| v.parse().ok())
            .filter(|p| *p == 0 || PROXY_PORT_RANGE.contains(p))
            .unwrap_or(defaults.proxy_port);
        Ok(Settings {
            notify_reauth: flag(NOTIFY_REAUTH, defaults.notify_reauth)?,
            notify_expiry: flag(NOTIFY_EXPIRY, defaults.notify_expiry)?,
            warn_ahead_hours: hours,
            usage_kept_days: usage_kept_days(&db)?,
            // A data directory from before the switch reads "off".
            proxy_enabled: db.setting(PROXY_ENABLED)?.map_or(defaults.proxy_enabled, |v| v == "true"),
            proxy_port: port,
        })
    }

    /// Saves all settings at once, or none when one is out of range.
    pub fn save_settings(&self, settings: &Settings) -> Result<Settings> {
        settings.check()?;
        self.db().set_settings(&[
            (NOTIFY_REAUTH, settings.notify_reauth.to_string()),
            (NOTIFY_EXPIRY, settings.notify_expiry.to_string()),
            (WARN_AHEAD_HOURS, settings.warn_ahead_hours.to_string()),
            (USAGE_KEPT_DAYS, settings.usage_kept_days.to_string()),
            (PROXY_ENABLED, settings.proxy_enabled.to_string()),
            (PROXY_PORT, settings.proxy_port.to_string()),
        ])?;
        // A shorter record takes effect now, not at the next use.
        self.forget_old_uses();
        self.settings()
    }
}

/// The saved `usage_kept_days`, or the default when it was never saved (a
/// data directory from before the setting) or is out of range. One lookup
/// by primary key: `record_use` asks on every use rather than caching it,
/// so a change saved by another process (the app, while `latch agent`
/// runs) applies at once.
pub(super) fn usage_kept_days(db: &Db) -> Result<u32> {
    Ok(db
        .setting(USAGE_KEPT_DAYS)?
        .and_then(|v| v.parse().ok())
        .filter(|days| USAGE_KEPT_DAYS_RANGE.contains(days))
        .unwrap_or(Settings::default().usage_kept_days))
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
        let chosen = Settings {
            notify_reauth: false,
            notify_expiry: true,
            warn_ahead_hours: 72,
            usage_kept_days: 7,
            proxy_enabled: true,
            proxy_port: 8787,
        };
        assert_eq!(engine.save_settings(&chosen).unwrap(), chosen);
        assert_eq!(engine.settings().unwrap(), chosen);
    }

    #[test]
    fn an_out_of_range_warning_is_refused_and_nothing_changes() {
        let (_dir, engine) = test_engine();
        for hours in [0, MAX_WARN_AHEAD_HOURS + 1] {
            let err = engine
                .save_settings(&Settings {
                    notify_reauth: false,
                    notify_expiry: false,
                    warn_ahead_hours: hours,
                    ..Settings::default()
                })
                .unwrap_err();
            assert!(err.message.contains("between 1 hour and 30 days"), "{}", err.message);
        }
        assert_eq!(engine.settings().unwrap(), Settings::default());
    }

    #[test]
    fn a_privileged_proxy_port_is_refused_and_nothing_changes() {
        let (_dir, engine) = test_engine();
        let err = engine.save_settings(&Settings { proxy_enabled: true, proxy_port: 80, ..Settings::default() }).unwrap_err();
        assert_eq!(err.fields[0].field, "proxy_port");
        assert_eq!(engine.settings().unwrap(), Settings::default());
    }
}
