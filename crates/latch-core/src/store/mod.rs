//! Where connections live: non-secret fields in SQLite (one file per table),
//! secrets behind the [`SecretStore`] trait (the OS keyring by default).
//! Nothing secret is ever written to the data directory.

pub mod connections;
pub mod db;
pub mod keyring;
pub mod leases;
pub mod refresh_state;
pub mod secrets;
pub mod usage;

pub use db::Db;
pub use keyring::KeyringSecrets;
pub use secrets::{SecretFuture, SecretStore, Secrets};
