//! The usage log's verbs: front ends record each time they hand a
//! credential out (with the process that asked), and read it back.

use chrono::Duration;

use super::Engine;
use crate::error::Result;
use crate::model::Connection;
use crate::store::usage::UsageEntry;

/// How long uses are kept.
pub const USAGE_KEPT_DAYS: i64 = 30;

/// The process a credential was handed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub pid: Option<u32>,
    pub exe: Option<String>,
    pub parent_pid: Option<u32>,
}

impl Requester {
    /// Process `pid`, as /proc describes it (its executable and parent);
    /// what cannot be read stays unknown.
    pub fn process(pid: u32) -> Requester {
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

impl Engine {
    /// Records that `connection`'s credential went out `via` (cli, helper,
    /// app, proxy) for `what` (token, request, …) to `requester`, and to
    /// `host` for a request. A failure to record is logged, never the
    /// reason a credential is withheld.
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
        let keep_since = self.now() - Duration::days(USAGE_KEPT_DAYS);
        if let Err(err) = self.db().usage_record(&entry, keep_since) {
            tracing::warn!(connection = %connection.id, error = %err, "could not record a use");
        }
    }

    /// The newest `limit` uses, of one connection (by name or id) or all.
    pub fn usage(&self, name_or_id: Option<&str>, limit: usize) -> Result<Vec<UsageEntry>> {
        let id = match name_or_id {
            Some(name) => Some(self.get(name)?.id),
            None => None,
        };
        self.db().usage_list(id.as_ref(), limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_engine_with_clock;
    use crate::model::{Draft, Flow, KindSettings, OAuth2Settings};

    #[tokio::test]
    async fn uses_are_listed_newest_first_per_connection_and_forgotten_after_thirty_days() {
        let (_dir, engine, clock) = test_engine_with_clock();
        let draft = |name: &str| {
            let mut settings = OAuth2Settings::new(Flow::ClientCredentials, "c");
            settings.token_url = Some("https://id.example.com/token".into());
            settings.client_auth = crate::model::ClientAuth::Body;
            Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
        };
        let secret = || Some(crate::secret::ClientSecret::new("s3cret".into()));
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
}
