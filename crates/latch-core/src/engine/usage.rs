//! The usage log's verbs: front ends record each time they hand a
//! credential out (with the process that asked), and read it back. Uses
//! are kept for the days the user chose (`Settings::usage_kept_days`).

use chrono::{DateTime, Duration, Utc};

use super::settings::usage_kept_days;
use super::Engine;
use crate::error::Result;
use crate::events::EngineEvent;
use crate::model::Connection;
use crate::store::usage::UsageEntry;
use crate::store::Db;

/// The process a credential was handed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub pid: Option<u32>,
    pub exe: Option<String>,
    pub parent_pid: Option<u32>,
}

impl Requester {
    /// Process `pid`, as /proc describes it (its executable and parent);
    /// what cannot be read stays unknown. When `pid` is Latch's own command
    /// line — `latch token` asking the agent — the program that ran it is
    /// the one the token is for, and is recorded instead.
    pub fn process(pid: u32) -> Requester {
        let asked = Requester::read(pid);
        match (&asked.exe, asked.parent_pid) {
            (Some(exe), Some(parent)) if is_latch_command_line(exe) => Requester::read(parent),
            _ => asked,
        }
    }

    fn read(pid: u32) -> Requester {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| p.display().to_string());
        // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces and ')'.
        let parent_pid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.to_owned()))
            .and_then(|rest| rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()));
        Requester { pid: Some(pid), exe, parent_pid }
    }

    /// The person at the app (no other process asked).
    pub fn user() -> Requester {
        Requester::default()
    }
}

/// `exe` is the `latch` installed beside this process (the app and the
/// command line ship together: /usr/bin, target/debug).
fn is_latch_command_line(exe: &str) -> bool {
    let beside = std::env::current_exe().ok().and_then(|ours| Some(ours.parent()?.join("latch")));
    beside.is_some_and(|cli| std::path::Path::new(exe) == cli)
}

impl Engine {
    /// Records that `connection`'s credential went out `via` (cli, helper,
    /// app, proxy) for `what` (token, request, …) to `requester`, and to
    /// `host` for a request, and forgets uses older than the user keeps. A
    /// failure to record is logged, never the reason a credential is
    /// withheld.
    pub fn record_use(&self, connection: &Connection, via: &str, what: &str, requester: &Requester, host: Option<&str>) {
        let entry = UsageEntry {
            at: self.now(),
            connection_id: connection.id.clone(),
            via: via.to_owned(),
            what: what.to_owned(),
            pid: requester.pid,
            exe: requester.exe.clone(),
            parent_pid: requester.parent_pid,
            host: host.map(str::to_owned),
        };
        let recorded = {
            let db = self.db();
            self.keep_since(&db).and_then(|keep_since| db.usage_record(&entry, keep_since))
        };
        match recorded {
            Ok(()) => self.announce(EngineEvent::Used { id: connection.id.clone() }),
            Err(err) => tracing::warn!(connection = %connection.id, error = %err, "could not record a use"),
        }
    }

    /// The newest `limit` uses, of one connection (by name or id) or all;
    /// none older than the user keeps, even before the next use prunes them.
    pub fn usage(&self, name_or_id: Option<&str>, limit: usize) -> Result<Vec<UsageEntry>> {
        let id = match name_or_id {
            Some(name) => Some(self.get(name)?.id),
            None => None,
        };
        let db = self.db();
        db.usage_list(id.as_ref(), self.keep_since(&db)?, limit)
    }

    /// Forgets the uses older than the user keeps now (after the setting
    /// was shortened). Logged, never fatal: the setting is saved.
    pub(crate) fn forget_old_uses(&self) {
        let db = self.db();
        if let Err(err) = self.keep_since(&db).and_then(|keep_since| db.usage_prune(keep_since)) {
            tracing::warn!(error = %err, "could not forget old uses");
        }
    }

    /// The oldest moment still kept in the record of use.
    fn keep_since(&self, db: &Db) -> Result<DateTime<Utc>> {
        Ok(self.now() - Duration::days(i64::from(usage_kept_days(db)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine_with_clock;
    use crate::model::{Draft, Flow, KindSettings, OAuth2Settings};
    use crate::settings::Settings;

    fn draft(name: &str) -> Draft {
        let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "c");
        settings.token_url = Some("https://id.example.com/token".into());
        settings.client_auth = crate::model::ClientAuth::Body;
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    fn secret() -> Option<crate::secret::ClientSecret> {
        Some(crate::secret::ClientSecret::new("s3cret".into()))
    }

    #[tokio::test]
    async fn uses_are_listed_newest_first_per_connection_and_forgotten_after_thirty_days() {
        let (_dir, engine, clock) = test_engine_with_clock();
        let a = engine.create(draft("A"), secret()).await.unwrap();
        let b = engine.create(draft("B"), secret()).await.unwrap();
        let me = Requester::process(std::process::id());
        assert!(me.exe.is_some() && me.parent_pid.is_some(), "{me:?}");
        engine.record_use(&a, "cli", "token", &me, None);
        clock.advance(Duration::days(20));
        engine.record_use(&b, "helper", "git-credential", &me, None);
        engine.record_use(&a, "cli", "request", &me, Some("api.example.com"));
        let a_uses = engine.usage(Some("A"), 50).unwrap();
        assert_eq!(a_uses.iter().map(|u| u.what.as_str()).collect::<Vec<_>>(), ["request", "token"]);
        assert_eq!(a_uses[0].host.as_deref(), Some("api.example.com"));
        assert_eq!(engine.usage(None, 50).unwrap().len(), 3);
        clock.advance(Duration::days(15));
        engine.record_use(&b, "app", "copy", &Requester::user(), None);
        let left: Vec<String> = engine.usage(None, 50).unwrap().into_iter().map(|u| u.what).collect();
        assert_eq!(left, ["copy", "request", "git-credential"], "the first use, 35 days old, is forgotten");
        engine.remove("B").await.unwrap();
        assert_eq!(engine.usage(None, 50).unwrap().len(), 1, "a removed connection's uses go with it");
    }

    #[tokio::test]
    async fn a_shorter_record_of_use_forgets_older_uses_at_once_and_at_each_use() {
        let (_dir, engine, clock) = test_engine_with_clock();
        let a = engine.create(draft("A"), secret()).await.unwrap();
        engine.record_use(&a, "app", "copy", &Requester::user(), None);
        clock.advance(Duration::days(10));
        engine.record_use(&a, "app", "reveal", &Requester::user(), None);
        clock.advance(Duration::days(4));
        engine.record_use(&a, "app", "request", &Requester::user(), Some("api.example.com"));
        assert_eq!(engine.usage(Some("A"), 50).unwrap().len(), 3, "30 days by default keep all three");

        let settings = engine.save_settings(&Settings { usage_kept_days: 7, ..Settings::default() }).unwrap();
        assert_eq!(settings.usage_kept_days, 7);
        let left: Vec<String> = engine.usage(Some("A"), 50).unwrap().into_iter().map(|u| u.what).collect();
        assert_eq!(left, ["request", "reveal"], "the 14-day-old copy went when the setting was saved");

        // The 4-day-old reveal passes 7 days; the next use forgets it, and
        // the list never shows it in between.
        clock.advance(Duration::days(5));
        let left: Vec<String> = engine.usage(Some("A"), 50).unwrap().into_iter().map(|u| u.what).collect();
        assert_eq!(left, ["request"]);
        engine.record_use(&a, "cli", "token", &Requester::user(), None);
        let rows: i64 = engine.db().conn.query_row("SELECT COUNT(*) FROM usage_log", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 2, "the reveal is gone from the database, not only hidden");
    }

    #[tokio::test]
    async fn a_record_of_use_outside_one_to_365_days_is_refused_and_the_old_one_stays() {
        let (_dir, engine, _clock) = test_engine_with_clock();
        engine.save_settings(&Settings { usage_kept_days: 90, ..Settings::default() }).unwrap();
        for days in [0, 366, 10_000] {
            let err = engine.save_settings(&Settings { usage_kept_days: days, ..Settings::default() }).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Validation);
            assert_eq!(err.message, "Keep the record of use for 1 to 365 days.");
            assert_eq!(err.fields[0].field, "usage_kept_days");
        }
        assert_eq!(engine.settings().unwrap().usage_kept_days, 90);
    }

    #[tokio::test]
    async fn a_data_directory_without_the_setting_keeps_uses_thirty_days() {
        let (_dir, engine, clock) = test_engine_with_clock();
        let a = engine.create(draft("A"), secret()).await.unwrap();
        engine.db().conn.execute("DELETE FROM settings WHERE key = 'usage_kept_days'", []).unwrap();
        assert_eq!(engine.settings().unwrap().usage_kept_days, 30);
        engine.record_use(&a, "app", "copy", &Requester::user(), None);
        clock.advance(Duration::days(29));
        assert_eq!(engine.usage(Some("A"), 50).unwrap().len(), 1);
        clock.advance(Duration::days(2));
        assert!(engine.usage(Some("A"), 50).unwrap().is_empty());
    }

    #[tokio::test]
    async fn each_recorded_use_is_announced_for_the_connection() {
        let (_dir, engine, _clock) = test_engine_with_clock();
        let a = engine.create(draft("A"), secret()).await.unwrap();
        let mut events = engine.subscribe();
        engine.record_use(&a, "app", "copy", &Requester::user(), None);
        let used = events.try_recv().unwrap();
        assert_eq!(used, EngineEvent::Used { id: a.id.clone() });
        assert_eq!(used.changed_connection(), None, "a use changes no connection: the list is not reloaded");
    }
}
