//! Where connections live: non-secret fields in SQLite (one file per table),
//! secrets behind the [`SecretStore`] trait (the OS keyring by default; a
//! team's OpenBao KV v2 store for its connections: `team_secrets.rs` over
//! `openbao.rs`). Nothing secret is ever written to the data directory.

pub mod connections;
pub mod db;
pub mod headless;
pub mod keyring;
pub mod leases;
pub mod openbao;
pub mod openbao_auth;
pub mod refresh_state;
pub mod secrets;
pub mod team_reach;
pub mod team_secrets;
pub mod team_token;
pub mod teams;
pub mod usage;

pub use db::Db;
pub use keyring::KeyringSecrets;
pub use secrets::{SecretFuture, SecretStore, Secrets};
