//! Tauri commands: each takes the UI's input, calls one engine verb and
//! maps the result. No policy lives here.

pub mod connections;
pub mod flows;
pub mod mtls;
pub mod oauth1;
pub mod providers;
pub mod proxy;
pub mod requests;
pub mod settings;
pub mod specs;
pub mod teams;
pub mod tokens;
pub mod transfer;
pub mod usage;
