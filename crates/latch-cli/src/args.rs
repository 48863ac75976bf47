//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use latch_core::model::{
    ClientAuth, ConnectionPatch, ExpiresInUnit, Flow, KeyValue, Pkce, RevokeStyle, ScopeSeparator, TokenPlacement,
    TokenRequestFormat,
};

#[derive(Parser)]
#[command(
    name = "latch",
    version,
    about = "Keeps your OAuth 2.0 connections alive and hands out valid access tokens.",
    after_help = "Exit codes: 0 ok, 2 usage or validation, 3 needs (re)authorization, 4 provider or network error, \
                  5 keyring unavailable.\nData: $LATCH_DATA_DIR, else $XDG_DATA_HOME/latch. Secrets: the system keyring only."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Add a connection.
    Add(AddArgs),
    /// Change fields of a connection; flags you leave out keep their value.
    Edit(EditArgs),
    /// List connections: name, flow, status, access expiry.
    List(JsonArg),
    /// Show every non-secret field of a connection.
    Show(ShowArgs),
    /// Summarise connections that need attention; exit 3 when any needs you to sign in again.
    Status(JsonArg),
    /// Sign in: opens the system browser and waits for the redirect.
    Connect(ConnectArgs),
    /// Print a valid access token, refreshing it first when it is due.
    Token(NameArg),
    /// Refresh the access token now.
    Refresh(NameArg),
    /// Send a request with the token placed per the connection's settings.
    Request(RequestArgs),
    /// Revoke the tokens at the provider (when it has a revoke URI) and delete them.
    Disconnect(NameArg),
    /// Disconnect, then delete the connection.
    Remove(NameArg),
    /// List the built-in provider presets (use with 'latch add --preset ID').
    Presets(JsonArg),
    /// Print the settings of connections as JSON (no secrets, no tokens).
    Export(ExportArgs),
    /// Add the connections in a file written by 'latch export'; all or nothing.
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// Connections to export (all when none are named).
    pub names: Vec<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The export file, or '-' for standard input.
    pub file: String,
}

#[derive(Args)]
pub struct NameArg {
    /// Connection name (or id).
    pub name: String,
}

#[derive(Args)]
pub struct JsonArg {
    /// Print JSON (documented in the README) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    pub name: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ConnectArgs {
    pub name: String,
    /// Seconds to wait for the sign-in in the browser.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// Paste the final address from the browser instead of waiting on a loopback
    /// redirect (for providers that only redirect to a hosted https page).
    #[arg(long)]
    pub paste: bool,
}

#[derive(Args)]
pub struct RequestArgs {
    pub name: String,
    pub url: String,
    /// HTTP method.
    #[arg(short = 'X', long = "method", default_value = "GET")]
    pub method: String,
    /// Extra header, 'Name: value'. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    pub headers: Vec<KeyValue>,
    /// Request body; '@FILE' reads a file, '@-' standard input.
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    pub data: Option<String>,
}

#[derive(Args)]
pub struct AddArgs {
    /// A name you will recognise, e.g. 'GitHub' or 'Team Drive'.
    #[arg(long)]
    pub name: String,
    /// Start from a provider preset ('latch presets' lists them); other flags override it.
    #[arg(long, value_name = "ID")]
    pub preset: Option<String>,
    /// Required unless --preset or --issuer gives it.
    #[arg(long, value_parser = parse_enum::<Flow>)]
    pub flow: Option<Flow>,
    #[arg(long)]
    pub client_id: String,
    /// With --issuer: do not fetch the server's metadata; use only the flags given.
    #[arg(long)]
    pub no_discover: bool,
    #[command(flatten)]
    pub fields: SpecFlags,
}

#[derive(Args)]
pub struct EditArgs {
    /// The connection to change.
    pub name: String,
    /// Rename the connection.
    #[arg(long = "name", value_name = "NEW_NAME")]
    pub new_name: Option<String>,
    #[arg(long, value_parser = parse_enum::<Flow>)]
    pub flow: Option<Flow>,
    #[arg(long)]
    pub client_id: Option<String>,
    /// Delete the stored client secret (a public client).
    #[arg(long, conflicts_with = "client_secret_stdin")]
    pub remove_client_secret: bool,
    /// Empty a list: scopes, auth-params, token-params, refresh-params or headers. Repeatable.
    #[arg(long, value_name = "LIST", value_parser = ["scopes", "auth-params", "token-params", "refresh-params", "headers"])]
    pub clear: Vec<String>,
    #[command(flatten)]
    pub fields: SpecFlags,
}

/// The fields `add` and `edit` share. Repeated flags build lists; giving a
/// list flag to `edit` replaces that list.
#[derive(Args)]
pub struct SpecFlags {
    /// Read the client secret from standard input (never from the command line).
    #[arg(long)]
    pub client_secret_stdin: bool,
    #[arg(long, value_parser = parse_enum::<ClientAuth>)]
    pub client_auth: Option<ClientAuth>,
    #[arg(long, value_name = "URL")]
    pub authorize_url: Option<String>,
    #[arg(long, value_name = "URL")]
    pub token_url: Option<String>,
    /// Where refresh requests go; defaults to the token URL.
    #[arg(long, value_name = "URL")]
    pub refresh_url: Option<String>,
    /// RFC 7009 revocation endpoint, used by disconnect.
    #[arg(long, value_name = "URL")]
    pub revoke_url: Option<String>,
    /// Called after connecting to learn the account's name (e.g. OIDC userinfo).
    #[arg(long, value_name = "URL")]
    pub info_url: Option<String>,
    /// The authorization server's issuer; sign-in responses must name it (RFC 9207).
    /// With 'add', Latch reads the server's metadata there to fill the addresses.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// RFC 8628 device authorization endpoint.
    #[arg(long, value_name = "URL")]
    pub device_url: Option<String>,
    /// How disconnect revokes: rfc7009 (POST the token) or bearer_get (GET with the token).
    #[arg(long, value_parser = parse_enum::<RevokeStyle>)]
    pub revoke_style: Option<RevokeStyle>,
    /// A fixed https redirect URI hosted by the provider; sign in with 'connect --paste'.
    /// An empty value goes back to the loopback redirect.
    #[arg(long, value_name = "URL")]
    pub redirect_uri: Option<String>,
    /// A scope to request. Repeatable, in order.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    #[arg(long, value_parser = parse_enum::<ScopeSeparator>)]
    pub scope_separator: Option<ScopeSeparator>,
    #[arg(long, value_parser = parse_enum::<Pkce>)]
    pub pkce: Option<Pkce>,
    /// Extra authorize parameter. Repeatable.
    #[arg(long = "auth-param", value_name = "K=V", value_parser = parse_param)]
    pub auth_params: Vec<KeyValue>,
    /// Extra access token request parameter. Repeatable.
    #[arg(long = "token-param", value_name = "K=V", value_parser = parse_param)]
    pub token_params: Vec<KeyValue>,
    /// Extra refresh token request parameter. Repeatable.
    #[arg(long = "refresh-param", value_name = "K=V", value_parser = parse_param)]
    pub refresh_params: Vec<KeyValue>,
    /// Header sent with every request of this connection. Repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    pub headers: Vec<KeyValue>,
    #[arg(long, value_parser = parse_enum::<TokenPlacement>)]
    pub placement: Option<TokenPlacement>,
    /// The word before the token in the Authorization header.
    #[arg(long, value_name = "NAME")]
    pub token_name: Option<String>,
    /// The query parameter for query placement.
    #[arg(long, value_name = "NAME")]
    pub query_param: Option<String>,
    /// Fixed loopback port, when the provider needs an exact redirect URI (0 = automatic).
    #[arg(long, value_name = "PORT")]
    pub redirect_port: Option<u16>,
    #[arg(long, value_name = "PATH")]
    pub redirect_path: Option<String>,
    /// Token request body format; 'json' for providers that do not read forms.
    #[arg(long, value_parser = parse_enum::<TokenRequestFormat>)]
    pub token_request_format: Option<TokenRequestFormat>,
    /// Unit of the provider's expires_in.
    #[arg(long, value_parser = parse_enum::<ExpiresInUnit>)]
    pub expires_in_unit: Option<ExpiresInUnit>,
}

impl SpecFlags {
    /// The patch these flags describe. An empty URL flag (`--info-url ''`)
    /// clears that URL.
    pub fn into_patch(self) -> ConnectionPatch {
        let url = |v: Option<String>| v.map(|v| Some(v.trim().to_owned()).filter(|v| !v.is_empty()));
        let list = |v: Vec<KeyValue>| (!v.is_empty()).then_some(v);
        ConnectionPatch {
            authorize_url: url(self.authorize_url),
            token_url: url(self.token_url),
            refresh_url: url(self.refresh_url),
            revoke_url: url(self.revoke_url),
            info_url: url(self.info_url),
            issuer: url(self.issuer),
            device_url: url(self.device_url),
            revoke_style: self.revoke_style,
            redirect_uri_override: url(self.redirect_uri),
            scopes: (!self.scopes.is_empty()).then_some(self.scopes),
            scope_separator: self.scope_separator,
            pkce: self.pkce,
            client_auth: self.client_auth,
            authorize_params: list(self.auth_params),
            token_params: list(self.token_params),
            refresh_params: list(self.refresh_params),
            custom_headers: list(self.headers),
            token_placement: self.placement,
            token_name: self.token_name,
            query_param: self.query_param,
            redirect_port: self.redirect_port,
            redirect_path: self.redirect_path,
            token_request_format: self.token_request_format,
            expires_in_unit: self.expires_in_unit,
            ..ConnectionPatch::default()
        }
    }
}

fn parse_enum<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, String> {
    text.parse()
}

fn parse_param(text: &str) -> Result<KeyValue, String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("'{text}' should look like key=value"))?;
    Ok(KeyValue::new(key.trim(), value))
}

fn parse_header(text: &str) -> Result<KeyValue, String> {
    let (key, value) = text.split_once(':').ok_or_else(|| format!("'{text}' should look like 'Name: value'"))?;
    Ok(KeyValue::new(key.trim(), value.trim()))
}
