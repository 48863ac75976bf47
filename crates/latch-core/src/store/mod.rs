//! Where connections live: non-secret fields in SQLite, secrets in the OS
//! keyring. Nothing secret is ever written to the data directory.

pub mod connections;
pub mod db;
pub mod keyring;
pub mod leases;
pub mod refresh_state;

pub use db::Db;
pub use keyring::{KeyringSecrets, SecretStore, Secrets};
