//! The command line, as clap sees it.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use latch_core::model::{
    Callback, ClientAuth, ExpiresInUnit, Flow, KeyValue, ParameterTransport, Pkce, RevokeStyle, ScopeSeparator, SettingsPatch,
    SignatureMethod, TokenPlacement, TokenRequestFormat,
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
    Token(TokenArgs),
    /// git's credential helper: `git config credential.https://HOST.helper '!latch git-credential NAME'`.
    /// 'get' answers with a fresh token as the password; 'store' and 'erase' change nothing.
    GitCredential(GitCredentialArgs),
    /// kubectl's exec credential plugin: prints an ExecCredential with a fresh token, in the
    /// apiVersion kubectl asks for (client.authentication.k8s.io/v1 or v1beta1).
    KubeCredential(NameArg),
    /// Keep connections fresh and hand tokens to this user's programs over a Unix socket
    /// ($XDG_RUNTIME_DIR/latch/agent.sock) until stopped: what the app does, for machines without
    /// a desktop. 'latch token' asks the agent first. With --headless (servers, CI runners: no
    /// keyring), it signs in to one team's OpenBao with AppRole or a JWT from the environment at
    /// each start and keeps nothing secret on disk.
    Agent(crate::headless::AgentArgs),
    /// Forward http://127.0.0.1:PORT/<connection>/<path> to the connection's API base URL with
    /// its credential added, until stopped; callers never see a token. Every request carries
    /// the proxy's key (Proxy-Authorization: Bearer KEY, or the path prefix /_k/KEY/), a new one
    /// each start.
    Proxy(ProxyArgs),
    /// Run a command with LATCH_<NAME>_URL set, per connection, to its base on the proxy (key
    /// included; a proxy is started for the command when none runs). Its exit code is passed through.
    Exec(ExecArgs),
    /// When credentials were handed out, to which program and host (never the credential itself);
    /// kept 30 days unless changed in the app's Settings.
    Log(LogArgs),
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
    /// Make-style connection specs: check a spec file or folder, show a connection's spec, run one of its steps.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// Teams: connections kept in OpenBao (or Vault) that every member's Latch uses.
    #[command(subcommand)]
    Team(crate::team::TeamCommand),
}

#[derive(Subcommand)]
pub enum SpecCommand {
    /// Check a spec: a *.latch-spec.json file, or a folder in Make's or the VS Code extension's layout.
    /// Exit 0 when it is valid, 2 with every problem and its place when not.
    Check {
        path: std::path::PathBuf,
    },
    /// Print the spec of a connection made from one (without its common data).
    Show {
        name: String,
    },
    /// Change a spec connection: a new version of its spec (checked first; an invalid one never
    /// replaces the working one), parameter values, common data or scopes. It stays signed in.
    Edit(SpecEditArgs),
    /// Run a connection's 'info' or 'refresh' step now and print what was sent and received, secrets masked.
    Run {
        name: String,
        #[arg(value_parser = ["info", "refresh"])]
        step: String,
    },
}

/// The settings of an OAuth 1.0a connection (`latch add --kind oauth1`).
/// The authorize, info and revoke URLs and the redirect port are the shared
/// flags.
#[derive(Args, Default)]
pub struct OAuth1Flags {
    #[arg(long, value_name = "URL", requires = "kind")]
    pub request_token_url: Option<String>,
    #[arg(long, value_name = "URL", requires = "kind")]
    pub access_token_url: Option<String>,
    #[arg(long, value_name = "KEY", requires = "kind")]
    pub consumer_key: Option<String>,
    /// Read the consumer secret from standard input (HMAC and PLAINTEXT methods).
    #[arg(long, requires = "kind", conflicts_with = "private_key_file")]
    pub consumer_secret_stdin: bool,
    /// The RSA private key in PEM, for the RSA methods; kept in the keyring, the file is not needed afterwards.
    #[arg(long, value_name = "PEM", requires = "kind")]
    pub private_key_file: Option<std::path::PathBuf>,
    /// Default hmac-sha1. plaintext sends the secrets themselves (https only).
    #[arg(long, value_parser = EnumFlag::<SignatureMethod>::new(), requires = "kind")]
    pub signature_method: Option<SignatureMethod>,
    /// Where the OAuth parameters go; default header.
    #[arg(long, value_parser = EnumFlag::<ParameterTransport>::new(), requires = "kind")]
    pub transport: Option<ParameterTransport>,
    /// Sign non-form request bodies with oauth_body_hash.
    #[arg(long, requires = "kind")]
    pub body_hash: bool,
    /// loopback (default: the provider sends you back to Latch) or oob (it shows a code you type in).
    #[arg(long, value_parser = EnumFlag::<Callback>::new(), requires = "kind")]
    pub callback: Option<Callback>,
}

/// The values a spec connection takes from the command line: its common
/// data and parameters, secret ones from standard input.
#[derive(Args, Default)]
pub struct SpecValues {
    /// A value of the spec's common data (the app's client id...). Repeatable.
    #[arg(long = "common", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub common: Vec<KeyValue>,
    /// Read this common value (a client secret) from standard input, one line per
    /// --common-stdin and then per --param-stdin, in the order given. Repeatable.
    #[arg(long = "common-stdin", value_name = "KEY")]
    pub common_stdin: Vec<String>,
    /// A value for one of the spec's parameters. Repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<KeyValue>,
    /// Read this parameter (a password) from standard input. Repeatable.
    #[arg(long = "param-stdin", value_name = "KEY")]
    pub param_stdin: Vec<String>,
    /// Use the spec although it sends a secret to a host other than its sign-in, token and API hosts.
    #[arg(long)]
    pub accept_secret_hosts: bool,
}

#[derive(Args)]
pub struct SpecEditArgs {
    /// The connection to change.
    pub name: String,
    /// A new version of its spec: a *.latch-spec.json file or a folder.
    #[arg(long, value_name = "PATH")]
    pub spec: Option<std::path::PathBuf>,
    /// The scopes to ask for (replaces the list). Repeatable.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub values: SpecValues,
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
    /// The export file (at most 10 MiB), or '-' for standard input.
    pub file: String,
    /// Import connections whose addresses are on more than one site, or that
    /// weaken the sign-in (PKCE off, the implicit flow, ...). Without it, Latch
    /// lists every connection's hosts and warnings and imports nothing.
    #[arg(long)]
    pub accept_hosts: bool,
    /// When a connection here has the name of one in the file, delete it (with
    /// its sign-in and client secret) and import the file's in its place.
    /// Without it, a taken name stops the import.
    #[arg(long)]
    pub replace: bool,
}

#[derive(Args)]
pub struct TokenArgs {
    /// Connection name (or id).
    pub name: String,
    /// raw: the token alone (default); json: token, type, expiry and scopes; header: an
    /// 'Authorization:' line; env: 'NAME_ACCESS_TOKEN=…' for eval.
    #[arg(long, default_value = "raw", value_parser = ["raw", "json", "header", "env"])]
    pub format: String,
}

#[derive(Args)]
pub struct LogArgs {
    /// Only this connection's uses.
    pub name: Option<String>,
    /// How many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON (documented in the README) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct GitCredentialArgs {
    /// Connection name (or id).
    pub name: String,
    /// What git asks: get, store or erase.
    #[arg(value_parser = ["get", "store", "erase"])]
    pub operation: String,
    /// The user name git sends with the token (GitLab wants 'oauth2'; GitHub takes any).
    #[arg(long, default_value = "oauth2")]
    pub username: String,
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
    /// Print only the client certificate (PEM, public) to register with the provider (mutual TLS).
    #[arg(long, conflicts_with_all = ["json", "client_cert_jwk"])]
    pub client_cert: bool,
    /// Print only the client certificate as a JWK with x5c, for a registration's jwks (RFC 8705 §2.2).
    #[arg(long, conflicts_with = "json")]
    pub client_cert_jwk: bool,
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
    /// Keep the connection in this team's OpenBao store (see 'latch team join') instead of only here.
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
    /// Start from a provider preset ('latch presets' lists them); other flags override it.
    #[arg(long, value_name = "ID")]
    pub preset: Option<String>,
    /// An API's address: Latch reads its protected resource metadata (RFC 9728), finds where to sign
    /// in, and registers itself there when the server allows it (RFC 7591) — no client ID to copy.
    #[arg(long, value_name = "API_URL", conflicts_with_all = ["preset", "spec", "kind", "flow", "no_discover"])]
    pub from: Option<String>,
    /// Required unless --preset or --issuer gives it.
    #[arg(long, value_parser = EnumFlag::<Flow>::new())]
    pub flow: Option<Flow>,
    /// Required for OAuth 2.0 connections (not with --spec, --from or --kind oauth1).
    #[arg(long, required_unless_present_any = ["spec", "kind", "from"])]
    pub client_id: Option<String>,
    /// The kind of connection: oauth2 (the default) or oauth1 (OAuth 1.0a, signed requests).
    #[arg(long, value_parser = ["oauth2", "oauth1"])]
    pub kind: Option<String>,
    /// With --kind oauth1: its endpoints, keys and signing.
    #[command(flatten, next_help_heading = "With --kind oauth1")]
    pub oauth1: OAuth1Flags,
    /// Make the connection from a Make-style spec: a *.latch-spec.json file, or a folder in Make's
    /// layout (connections/NAME/communication.imljson, ...) or the VS Code extension's.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["preset", "flow", "client_id"])]
    pub spec: Option<std::path::PathBuf>,
    /// With --spec: its common data and parameters.
    #[command(flatten, next_help_heading = "With --spec")]
    pub spec_values: SpecValues,
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
    #[arg(long, value_parser = EnumFlag::<Flow>::new())]
    pub flow: Option<Flow>,
    #[arg(long)]
    pub client_id: Option<String>,
    /// Delete the stored client secret (a public client).
    #[arg(long, conflicts_with = "client_secret_stdin")]
    pub remove_client_secret: bool,
    /// Empty a list: scopes, resources, auth-params, token-params, refresh-params, headers or allowed-hosts.
    /// Repeatable.
    #[arg(long, value_name = "LIST", value_parser = parse_list_name)]
    pub clear: Vec<&'static str>,
    #[command(flatten)]
    pub fields: SpecFlags,
}

#[derive(Args)]
pub struct ProxyArgs {
    /// The port on 127.0.0.1 (any free one when left out).
    #[arg(long)]
    pub port: Option<u16>,
    /// Print the running proxy's address and key as shell 'export' lines, then exit:
    /// eval "$(latch proxy --print-env)".
    #[arg(long)]
    pub print_env: bool,
}

#[derive(Args)]
pub struct ExecArgs {
    /// Connections the command uses.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Also set <NAME>_ACCESS_TOKEN to a fresh token (the command then sees it).
    #[arg(long)]
    pub token_env: bool,
    /// The command and its arguments, after '--'.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
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
    /// private_key_jwt: let Latch make the client's key, es256 or ed25519; `latch show` then
    /// prints the public key to register with the provider. Implies --client-auth private-key-jwt.
    #[arg(long, value_name = "KIND", conflicts_with_all = ["client_secret_stdin", "client_key_file"])]
    #[serde(skip)]
    pub generate_client_key: Option<String>,
    /// private_key_jwt: the client's private key, a PEM file (EC P-256, Ed25519 or RSA). Latch
    /// keeps it in your keyring; the file is only read. Implies --client-auth private-key-jwt.
    #[arg(long, value_name = "FILE", conflicts_with = "client_secret_stdin")]
    #[serde(skip)]
    pub client_key_file: Option<std::path::PathBuf>,
    /// Mutual TLS (RFC 8705): the client certificate, a PEM file (it may hold the key too).
    /// Latch keeps certificate and key in your keyring. Implies --client-auth tls-client-auth.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["client_p12", "make_client_cert"])]
    #[serde(skip)]
    pub client_cert: Option<std::path::PathBuf>,
    /// Mutual TLS: the certificate's private key, a PEM file (when --client-cert has none).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    #[serde(skip)]
    pub client_cert_key: Option<std::path::PathBuf>,
    /// Mutual TLS: the certificate and key as one PKCS#12 file (.p12/.pfx). Its password comes
    /// from standard input with --client-p12-password-stdin, or from $LATCH_CLIENT_P12_PASSWORD.
    /// Implies --client-auth tls-client-auth.
    #[arg(long, value_name = "FILE", conflicts_with = "make_client_cert")]
    #[serde(skip)]
    pub client_p12: Option<std::path::PathBuf>,
    /// Read the PKCS#12 file's password from standard input (never from the command line).
    #[arg(long, requires = "client_p12", conflicts_with = "client_secret_stdin")]
    #[serde(skip)]
    pub client_p12_password_stdin: bool,
    /// Mutual TLS: let Latch make a key and a self-signed certificate; register the certificate
    /// ('latch show NAME --client-cert') with the provider. Implies --client-auth
    /// self-signed-tls-client-auth.
    #[arg(long)]
    #[serde(skip)]
    pub make_client_cert: bool,
    #[arg(long, value_parser = EnumFlag::<ClientAuth>::new())]
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
    /// RFC 9126 pushed authorization request endpoint ('add --issuer' finds it).
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub par_url: Option<UrlFlag>,
    /// Push the sign-in request to the PAR endpoint first (on|off): the browser then only
    /// sees a request_uri. On by itself when the server requires it.
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub par: Option<bool>,
    /// Bind tokens to this computer (DPoP, RFC 9449) (on|off): Latch keeps a key for the
    /// connection, and only 'latch request' and the proxy can use its tokens.
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpop: Option<bool>,
    /// How disconnect revokes: rfc7009 (POST the token) or bearer-get (GET with the token).
    #[arg(long, value_parser = EnumFlag::<RevokeStyle>::new())]
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
    #[arg(long, value_parser = EnumFlag::<ScopeSeparator>::new())]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_separator: Option<ScopeSeparator>,
    /// PKCE for the authorization code flow: s256 (the default, and the safe choice) or off.
    /// ('plain' is refused for new settings; a connection that already has it keeps it.)
    #[arg(long, value_parser = EnumFlag::<Pkce>::new())]
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
    #[arg(long, value_parser = EnumFlag::<TokenPlacement>::new())]
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
    #[arg(long, value_parser = EnumFlag::<TokenRequestFormat>::new())]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_request_format: Option<TokenRequestFormat>,
    /// Unit of the provider's expires_in.
    #[arg(long, value_parser = EnumFlag::<ExpiresInUnit>::new())]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_unit: Option<ExpiresInUnit>,
    /// Where the connection's API lives, e.g. https://api.github.com: 'latch proxy' forwards
    /// there, and requests may send the credential there. An empty value clears it.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<UrlFlag>,
    /// Another host that may receive the credential: HOST (any port), HOST:PORT or *.DOMAIN.
    /// Repeatable; 'edit' adds to the list ('--clear allowed-hosts' empties it).
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    #[serde(rename = "allowed_hosts", skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    /// Whether 'latch proxy' passes a caller's own Authorization and Cookie headers on (on|off;
    /// off by default: they are dropped).
    #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_caller_auth: Option<bool>,
}

/// An address flag: an empty value (`--info-url ''`) clears the address.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct UrlFlag(Option<String>);

impl UrlFlag {
    /// The address given; `None` for an empty value.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}


impl SpecFlags {
    /// The patch these flags describe.
    pub fn into_patch(self) -> SettingsPatch {
        let key_given = self.generate_client_key.is_some() || self.client_key_file.is_some();
        let certificate_given = self.client_cert.is_some() || self.client_p12.is_some();
        let patch = SettingsPatch::from_value(serde_json::to_value(&self).expect("flags serialise"));
        match () {
            _ if patch.sets("client_auth") => patch,
            _ if key_given => patch.set("client_auth", ClientAuth::PrivateKeyJwt),
            _ if self.make_client_cert => patch.set("client_auth", ClientAuth::SelfSignedTlsClientAuth),
            _ if certificate_given => patch.set("client_auth", ClientAuth::TlsClientAuth),
            _ => patch,
        }
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
    ("allowed-hosts", "allowed_hosts"),
];

fn parse_list_name(text: &str) -> Result<&'static str, String> {
    LISTS.iter().find(|(name, _)| *name == text).map(|(_, field)| *field).ok_or_else(|| {
        format!("'{text}' is not one of: {}", LISTS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", "))
    })
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("'{text}' is not on or off")),
    }
}

fn parse_url(text: &str) -> Result<UrlFlag, String> {
    Ok(UrlFlag(Some(text.trim().to_owned()).filter(|t| !t.is_empty())))
}

/// One of the engine's values, typed as in the engine (`bearer_get`) or
/// with dashes as flags usually are (`bearer-get`, as the README writes it).
fn parse_enum<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, String> {
    // On failure, the message quotes what was typed.
    // `HMAC-SHA1` as providers write it reads as `hmac_sha1`.
    text.replace('-', "_").to_ascii_lowercase().parse().or_else(|_| text.parse())
}

/// An engine enum a flag takes: what `--help` lists for it.
trait FlagEnum: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static {
    /// The values people may choose, with dashes (each is the engine's
    /// name with `-` for `_`; a test checks they match).
    const SHOWN: &'static [&'static str];
}

impl FlagEnum for Flow {
    const SHOWN: &'static [&'static str] = &["authorization-code", "implicit", "client-credentials", "device-code"];
}
impl FlagEnum for Pkce {
    // 'plain' still parses (old scripts) but is not offered: new settings may not choose it.
    const SHOWN: &'static [&'static str] = &["s256", "off"];
}
impl FlagEnum for ClientAuth {
    const SHOWN: &'static [&'static str] =
        &["body", "basic", "none", "client-secret-jwt", "tls-client-auth", "self-signed-tls-client-auth", "private-key-jwt"];
}
impl FlagEnum for ScopeSeparator {
    const SHOWN: &'static [&'static str] = &["space", "comma"];
}
impl FlagEnum for TokenPlacement {
    const SHOWN: &'static [&'static str] = &["header", "query", "both"];
}
impl FlagEnum for TokenRequestFormat {
    const SHOWN: &'static [&'static str] = &["form", "json"];
}
impl FlagEnum for ExpiresInUnit {
    const SHOWN: &'static [&'static str] = &["seconds", "minutes"];
}
impl FlagEnum for RevokeStyle {
    const SHOWN: &'static [&'static str] = &["rfc7009", "bearer-get"];
}
impl FlagEnum for SignatureMethod {
    const SHOWN: &'static [&'static str] = &["hmac-sha1", "hmac-sha256", "rsa-sha1", "rsa-sha256", "plaintext"];
}
impl FlagEnum for ParameterTransport {
    const SHOWN: &'static [&'static str] = &["header", "query", "body"];
}
impl FlagEnum for Callback {
    const SHOWN: &'static [&'static str] = &["loopback", "oob"];
}

/// clap's parser for an engine enum: [`parse_enum`], with the values
/// listed in `--help`.
#[derive(Clone)]
struct EnumFlag<T>(std::marker::PhantomData<T>);

impl<T> EnumFlag<T> {
    fn new() -> Self {
        EnumFlag(std::marker::PhantomData)
    }
}

impl<T: FlagEnum> TypedValueParser for EnumFlag<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        // A plain function parser words the errors as clap always has.
        let parse: fn(&str) -> Result<T, String> = parse_enum::<T>;
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(T::SHOWN.iter().map(|name| PossibleValue::new(*name))))
    }
}

fn parse_param(text: &str) -> Result<KeyValue, String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("'{text}' should look like key=value"))?;
    Ok(KeyValue::new(key.trim(), value))
}

fn parse_header(text: &str) -> Result<KeyValue, String> {
    let (key, value) = text.split_once(':').ok_or_else(|| format!("'{text}' should look like 'Name: value'"))?;
    Ok(KeyValue::new(key.trim(), value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn add(extra: &[&str]) -> AddArgs {
        let mut argv = vec!["latch", "add", "--name", "Svc", "--client-id", "c"];
        argv.extend(extra);
        match Cli::try_parse_from(argv).unwrap_or_else(|err| panic!("{err}")).command {
            Command::Add(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn enum_values_take_dashes_or_underscores() {
        let args = add(&["--flow", "client-credentials", "--revoke-style", "bearer-get"]);
        assert_eq!(args.flow, Some(Flow::ClientCredentials));
        assert_eq!(args.fields.revoke_style, Some(RevokeStyle::BearerGet));
        let args = add(&["--flow", "client_credentials", "--revoke-style", "bearer_get"]);
        assert_eq!(args.flow, Some(Flow::ClientCredentials));
        assert_eq!(args.fields.revoke_style, Some(RevokeStyle::BearerGet));
        for (typed, flow) in [("authorization-code", Flow::AuthorizationCode), ("device-code", Flow::DeviceCode), ("device_code", Flow::DeviceCode)] {
            assert_eq!(add(&["--flow", typed]).flow, Some(flow));
        }
        // The settings keep the engine's names.
        let patch = serde_json::to_value(&add(&["--revoke-style", "bearer-get"]).fields).unwrap();
        assert_eq!(patch["revoke_style"], "bearer_get");
    }

    #[test]
    fn an_unknown_value_is_refused_with_the_choices() {
        let err = Cli::try_parse_from(["latch", "add", "--name", "x", "--client-id", "c", "--flow", "password"]).err().unwrap();
        assert!(err.to_string().contains("'password' is not one of: authorization_code, implicit, client_credentials"), "{err}");
    }

    #[test]
    fn help_lists_the_values_with_dashes_and_no_plain_pkce() {
        let mut cli = Cli::command();
        let help = cli.find_subcommand_mut("add").unwrap().render_long_help().to_string();
        assert!(help.contains("client-credentials") && help.contains("bearer-get"), "{help}");
        assert!(!help.contains("client_credentials") && !help.contains("bearer_get"), "{help}");
        assert!(help.contains("s256") && !help.contains("- plain") && !help.contains("plain,"), "{help}");
        // 'plain' still parses, for old scripts; the engine refuses it for new settings.
        assert_eq!(add(&["--pkce", "plain"]).fields.pkce, Some(Pkce::Plain));
    }

    /// Each shown value is an engine value with dashes, and every engine
    /// value is shown (but PKCE plain).
    #[test]
    fn the_shown_values_are_the_engine_values() {
        fn check<T: FlagEnum + PartialEq + std::fmt::Debug + Copy>(all: &[T], name: fn(T) -> &'static str, hidden: &[&str]) {
            let shown: Vec<String> = all.iter().map(|v| name(*v).replace('_', "-")).filter(|n| !hidden.contains(&n.as_str())).collect();
            assert_eq!(shown, T::SHOWN, "{all:?}");
            for text in T::SHOWN {
                assert!(parse_enum::<T>(text).is_ok(), "{text}");
            }
        }
        check(Flow::ALL, Flow::as_str, &[]);
        check(Pkce::ALL, Pkce::as_str, &["plain"]);
        check(ClientAuth::ALL, ClientAuth::as_str, &[]);
        check(ScopeSeparator::ALL, ScopeSeparator::as_str, &[]);
        check(TokenPlacement::ALL, TokenPlacement::as_str, &[]);
        check(TokenRequestFormat::ALL, TokenRequestFormat::as_str, &[]);
        check(ExpiresInUnit::ALL, ExpiresInUnit::as_str, &[]);
        check(RevokeStyle::ALL, RevokeStyle::as_str, &[]);
    }
}
