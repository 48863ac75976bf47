//! The OAuth 2.0 flows, one file per grant, over oauth2-rs (`oauth.rs`).

pub mod authorization;
pub mod client_credentials;
pub mod device;
pub mod discovery;
pub mod loopback;
pub mod oauth;
pub mod refresh;
pub mod revoke;
pub mod token_response;
