//! The Latch engine: OAuth connections kept alive on the user's own machine.
//! Front ends — the `latch` CLI and the desktop app — call the verbs on
//! [`Engine`], print or show its [`EngineEvent`]s and word its [`Action`]s;
//! this crate never depends on a GUI toolkit and names no front end's
//! commands or buttons.
//!
//! # The layers, from the bottom
//!
//! Each module imports only modules in its own layer or below (a unit test
//! in this file checks it).
//!
//! 1. **Words and values** — [`error`] (errors with a kind, a plain message
//!    and the next step as an [`Action`]), [`secret`] (token and secret
//!    newtypes that print `[redacted]`), [`keys`] (private keys the client
//!    signs with, read or generated), [`clock`] and [`wall_clock`],
//!    [`paths`].
//! 2. **The model** — [`model`]: a [`Connection`](model::Connection) is a
//!    common part plus [`KindSettings`](model::KindSettings), one settings
//!    struct per kind (`oauth2` today). [`validate`] holds each kind's
//!    rules, [`settings`] the user's preferences, [`events`] what the engine
//!    announces, [`refresh_policy`] when a token is due and how long to back
//!    off, [`hosts`] which hosts belong to a provider.
//! 3. **The outside world** — [`store`] (SQLite for everything non-secret,
//!    the [`SecretStore`](store::SecretStore) trait for secrets: the OS
//!    keyring by default, a team's OpenBao KV v2 store for its connections),
//!    [`flows`] (each OAuth grant against the provider,
//!    the loopback listener), [`http`], [`dir_watch`].
//! 4. **Rules over data** — [`presets`], [`discover`], [`transfer`],
//!    [`request`] (how each kind authenticates an API request): functions
//!    over values they are handed; no `impl Engine`, no store.
//! 5. **The verbs** — [`Engine`] (`engine/`): connections, sign-in sessions,
//!    tokens with the single-flight refresh lease, transfer, providers,
//!    settings. Every verb that changes a connection announces an
//!    [`EngineEvent`].
//! 6. **Above the engine** — [`refresher`]: one task that keeps every
//!    connection fresh and announces what only the user can fix; [`agent`]:
//!    tokens for other processes of the same user over a Unix socket.
//!
//! Data flow: a form or the CLI's flags become a [`Draft`](model::Draft) or
//! a [`SettingsPatch`](model::SettingsPatch) → the engine validates and
//! saves (secrets first, to the secret store; the rest to SQLite) → a
//! sign-in session runs a flow and stores the tokens → the refresher renews
//! them before they expire → events tell the front ends. docs/ARCHITECTURE.md
//! says how to add a field, a kind or a secret store.

pub mod agent;
pub mod clock;
pub mod dir_watch;
pub mod discover;
pub mod error;
pub mod events;
pub mod flows;
pub mod hosts;
pub mod http;
pub mod keys;
pub mod model;
pub mod paths;
pub mod presets;
pub mod proxy;
pub mod refresh_policy;
pub mod refresher;
pub mod request;
pub mod secret;
pub mod settings;
pub mod spec;
pub mod store;
pub mod transfer;
pub mod validate;
pub mod wall_clock;

mod engine;

pub use engine::{
    Browser, ConnectionTemplate, Disconnected, Engine, FoundApi, OAuth1Token, Requester, SecretChange, SignInControl, SignInHandle, SignInOptions, SpecConnection,
    SpecEdit, StepReport, SystemBrowser,
};
pub use engine::{TeamConnectionReport, TeamHealth, TeamJoin, TeamReport, TeamSync};
pub use engine::WEBVIEW_ENV_MARKER;
pub use store::openbao::BaoToken;
pub use store::openbao_auth::{TeamAuth, TeamAuthMethod};
pub use error::{Action, Error, ErrorKind, FieldError, ProviderError, Result};
pub use events::{EngineEvent, Notice, SessionId, SignInEvent, SignInOutcome};

#[cfg(test)]
mod layers {
    //! The map above, checked: every module imports only modules in its own
    //! layer or below, and no two modules import each other (directly or
    //! round a loop). Test code may reach higher (a unit test drives the
    //! engine), so `#[cfg(test)] mod tests` blocks are not read.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    const LAYERS: &[&[&str]] = &[
        &["error", "secret", "keys", "clock", "wall_clock", "paths"],
        &["model", "validate", "settings", "events", "refresh_policy", "hosts"],
        &["http", "flows", "store", "dir_watch"],
        &["presets", "discover", "transfer", "request", "spec"],
        &["engine"],
        &["refresher", "agent", "proxy"],
    ];

    fn layer_of(module: &str) -> usize {
        LAYERS.iter().position(|layer| layer.contains(&module)).unwrap_or_else(|| panic!("'{module}' is on no layer of lib.rs's map"))
    }

    /// `crate::x` references outside test blocks, by top-level module.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") || path.ends_with("lib.rs") {
                    continue;
                }
                let relative = path.strip_prefix(&src).unwrap();
                let module = relative.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs").to_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
                let deps = found.entry(module.clone()).or_default();
                for (at, _) in code.match_indices("crate::") {
                    let name: String = code[at + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() && name != module && name.chars().next().unwrap().is_lowercase() {
                        deps.insert(name);
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_module_imports_only_its_own_layer_or_below() {
        for (module, deps) in imports() {
            for dep in deps {
                assert!(
                    layer_of(&dep) <= layer_of(&module),
                    "{module} (layer {}) imports {dep} (layer {}), which sits above it",
                    layer_of(&module) + 1,
                    layer_of(&dep) + 1
                );
            }
        }
    }

    #[test]
    fn no_modules_import_each_other() {
        let graph = imports();
        fn visit<'a>(
            module: &'a str,
            graph: &'a BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) {
            if let Some(start) = path.iter().position(|m| *m == module) {
                panic!("import cycle: {} → {module}", path[start..].join(" → "));
            }
            if !done.insert(module) {
                return;
            }
            path.push(module);
            for dep in graph.get(module).into_iter().flatten() {
                visit(dep, graph, path, done);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        for module in graph.keys() {
            visit(module, &graph, &mut Vec::new(), &mut done);
        }
    }
}
