//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use latch_core::model::{
    ClientAuth, ExpiresInUnit, Flow, KeyValue, Pkce, RevokeStyle, ScopeSeparator, SettingsPatch, TokenPlacement,
    TokenRequestFormat,
};
use serde::Serialize;

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
    /// Empty a list: scopes, resources, auth-params, token-params, refresh-params or headers. Repeatable.
    #[arg(long, value_name = "LIST", value_parser = parse_list_name)]
    pub clear: Vec<&'static str>,
    #[command(flatten)]
    pub fields: SpecFlags,
}

/// The settings `add` and `edit` share, one flag per field of the OAuth 2.0
/// settings. Serialised (by the fields' serde names) they are the patch the
/// engine applies: a flag left out is a field left alone. Repeated flags
/// build lists; giving a list flag to `edit` replaces that list.
#[derive(Args, Serialize)]
pub struct SpecFlags {
    /// Read the client secret from standard input (never from the command line).
    #[arg(long)]
    #[serde(skip)]
    pub client_secret_stdin: bool,
    #[arg(long, value_parser = parse_enum::<ClientAuth>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuth>,
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<UrlFlag>,
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<UrlFlag>,
    /// Where refresh requests go; defaults to the token URL.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<UrlFlag>,
    /// RFC 7009 revocation endpoint, used by disconnect.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_url: Option<UrlFlag>,
    /// Called after connecting to learn the account's name (e.g. OIDC userinfo).
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_url: Option<UrlFlag>,
    /// The authorization server's issuer; sign-in responses must name it (RFC 9207).
    /// With 'add', Latch reads the server's metadata there to fill the addresses.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<UrlFlag>,
    /// RFC 8628 device authorization endpoint.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_url: Option<UrlFlag>,
    /// How disconnect revokes: rfc7009 (POST the token) or bearer_get (GET with the token).
    #[arg(long, value_parser = parse_enum::<RevokeStyle>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_style: Option<RevokeStyle>,
    /// A fixed https redirect URI hosted by the provider; sign in with 'connect --paste'.
    /// An empty value goes back to the loopback redirect.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(rename = "redirect_uri_override", skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<UrlFlag>,
    /// A scope to request. Repeatable, in order.
    #[arg(long = "scope", value_name = "SCOPE")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[arg(long, value_parser = parse_enum::<ScopeSeparator>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_separator: Option<ScopeSeparator>,
    #[arg(long, value_parser = parse_enum::<Pkce>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkce: Option<Pkce>,
    /// An API the token is for (RFC 8707 resource indicator, an absolute URI),
    /// sent with the sign-in and token requests. Repeatable.
    #[arg(long = "resource", value_name = "URI")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// Extra authorize parameter. Repeatable.
    #[arg(long = "auth-param", value_name = "K=V", value_parser = parse_param)]
    #[serde(rename = "authorize_params", skip_serializing_if = "Vec::is_empty")]
    pub auth_params: Vec<KeyValue>,
    /// Extra access token request parameter. Repeatable.
    #[arg(long = "token-param", value_name = "K=V", value_parser = parse_param)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_params: Vec<KeyValue>,
    /// Extra refresh token request parameter. Repeatable.
    #[arg(long = "refresh-param", value_name = "K=V", value_parser = parse_param)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refresh_params: Vec<KeyValue>,
    /// Header sent with every request of this connection. Repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    #[serde(rename = "custom_headers", skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<KeyValue>,
    #[arg(long, value_parser = parse_enum::<TokenPlacement>)]
    #[serde(rename = "token_placement", skip_serializing_if = "Option::is_none")]
    pub placement: Option<TokenPlacement>,
    /// The word before the token in the Authorization header.
    #[arg(long, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// The query parameter for query placement.
    #[arg(long, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_param: Option<String>,
    /// Fixed loopback port, when the provider needs an exact redirect URI (0 = automatic).
    #[arg(long, value_name = "PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
    #[arg(long, value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_path: Option<String>,
    /// Token request body format; 'json' for providers that do not read forms.
    #[arg(long, value_parser = parse_enum::<TokenRequestFormat>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_request_format: Option<TokenRequestFormat>,
    /// Unit of the provider's expires_in.
    #[arg(long, value_parser = parse_enum::<ExpiresInUnit>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_unit: Option<ExpiresInUnit>,
}

/// An address flag: an empty value (`--info-url ''`) clears the address.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct UrlFlag(Option<String>);


impl SpecFlags {
    /// The patch these flags describe.
    pub fn into_patch(self) -> SettingsPatch {
        SettingsPatch::from_value(serde_json::to_value(&self).expect("flags serialise"))
    }
}

/// The lists `edit --clear` empties: the name people type, the setting it is.
const LISTS: &[(&str, &str)] = &[
    ("scopes", "scopes"),
    ("resources", "resource"),
    ("auth-params", "authorize_params"),
    ("token-params", "token_params"),
    ("refresh-params", "refresh_params"),
    ("headers", "custom_headers"),
];

fn parse_list_name(text: &str) -> Result<&'static str, String> {
    LISTS.iter().find(|(name, _)| *name == text).map(|(_, field)| *field).ok_or_else(|| {
        format!("'{text}' is not one of: {}", LISTS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", "))
    })
}

fn parse_url(text: &str) -> Result<UrlFlag, String> {
    Ok(UrlFlag(Some(text.trim().to_owned()).filter(|t| !t.is_empty())))
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
