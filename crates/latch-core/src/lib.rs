//! The Latch engine: OAuth 2.0 connections kept alive on the user's own
//! machine. Front ends (the `latch` CLI, the desktop app) call the verbs on
//! [`Engine`] and do nothing else; this crate never depends on a GUI toolkit.
//!
//! Non-secret fields live in SQLite under the data directory; client secrets
//! and tokens live only in the OS keyring and in memory, in types that print
//! as `[redacted]`.

pub mod dir_watch;
pub mod discover;
pub mod error;
pub mod flows;
pub mod http;
pub mod model;
pub mod paths;
pub mod presets;
pub mod refresh_policy;
pub mod refresher;
pub mod request;
pub mod secret;
pub mod settings;
mod sign_in;
mod single_flight;
pub mod store;
pub mod transfer;
pub mod validate;
pub mod wall_clock;

mod engine;

pub use engine::{Browser, ConnectOptions, Disconnected, Engine, SecretChange, SignInStarted, SystemBrowser};
pub use error::{Error, ErrorKind, FieldError, Result};
pub use sign_in::DeviceCodeShown;
