//! What `latch` prints: tables and sentences for people, JSON for scripts.
//!
//! Text that came from outside — a provider's answer, an imported file, a
//! name — goes through [`clean`] before it reaches the terminal, so an
//! escape sequence in it cannot retitle the window or repaint the screen;
//! names in suggested commands go through [`shell_name`], so pasting the
//! command runs what it says. JSON output is left as serde writes it (it
//! escapes control characters itself).

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use latch_core::model::{ClientAuth, Connection, Flow, KindSettings, TokenPlacement};
use latch_core::presets::Preset;
use latch_core::transfer::{ImportCandidate, Imported};
use latch_core::{Action, Disconnected, Error, FoundApi};

/// `text` (one line of it) safe for the terminal: no control characters
/// (ESC among them) and no bidi controls. A line break becomes nothing.
pub fn clean(text: &str) -> String {
    latch_core::error::printable(text, false)
}

/// A block of lines safe for the terminal: as [`clean`], keeping the line breaks.
pub fn clean_block(text: &str) -> String {
    clean_lines(text)
}

fn clean_lines(text: &str) -> String {
    latch_core::error::printable(text, true)
}

/// A connection name as a word of a suggested shell command: in double
/// quotes when nothing in it means anything there (`"Team Drive"`), else
/// in single quotes (`'Pay $$ "now"'`, a `'` written `'\''`), so pasting
/// the command passes the name as it is and runs nothing else.
pub fn shell_name(name: &str) -> String {
    let name = clean(name);
    if name.contains(['"', '$', '`', '\\', '!']) {
        format!("'{}'", name.replace('\'', "'\\''"))
    } else {
        format!("\"{name}\"")
    }
}

/// A command inside a sentence: in single quotes, unless the command has
/// its own (then the quotes would read as part of it).
fn quoted_command(command: &str) -> String {
    if command.contains('\'') {
        command.to_owned()
    } else {
        format!("'{command}'")
    }
}

pub fn print_error(err: &Error) {
    for line in err.message.lines() {
        eprintln!("latch: {}", clean(line));
    }
    if let Some(said) = &err.provider {
        eprintln!("latch: The provider's answer: {}", clean(&said.to_string()));
    }
    if let Some(next) = err.action.as_ref().and_then(action_as_command) {
        eprintln!("latch: {next}");
    }
    // The one setting no flag is named after: say how to give it.
    if err.fields.iter().any(|f| f.field == "client_secret") {
        eprintln!("latch: Pipe the client secret in with --client-secret-stdin (never on the command line).");
    }
    if let Some(details) = &err.details {
        eprintln!("What the provider said (secrets removed):");
        for line in clean_lines(details).lines() {
            eprintln!("  {line}");
        }
    }
}

/// The engine's next step, as this front end words it: a command to run.
pub fn action_as_command(action: &Action) -> Option<String> {
    Some(match action {
        Action::SignInAgain { connection, paste } => {
            let command = format!("latch connect {}{}", shell_name(connection), if *paste { " --paste" } else { "" });
            format!("Run {} to sign in again.", quoted_command(&command))
        }
        Action::SignIn { connection } => {
            format!("Run {} first.", quoted_command(&format!("latch connect {}", shell_name(connection))))
        }
        Action::EditFields { connection, fields } => {
            let flags: Vec<&str> = fields.iter().map(|field| flag_for(field)).collect();
            let command = format!("latch edit {} {}", shell_name(connection), flags.join(" "));
            format!("Change it with {}.", quoted_command(&command))
        }
        Action::ShowConnections => "Run 'latch list' to see your connections.".into(),
        Action::ShowPresets => "Run 'latch presets' to see them.".into(),
        // The message says it all; there is no command to offer.
        Action::CheckNetwork | Action::RetryLater { .. } | Action::UnlockKeyring => return None,
    })
}

/// The `edit` flag (with a placeholder value) that changes a setting.
fn flag_for(field: &str) -> &'static str {
    match field {
        "name" => "--name NEW",
        "client_id" => "--client-id ID",
        "client_secret" => "--client-secret-stdin",
        "scopes" => "--scope ...",
        "resource" => "--resource URI",
        "issuer" => "--issuer URL",
        "redirect_uri_override" => "--redirect-uri URL",
        "redirect_port" => "--redirect-port PORT",
        "token_url" => "--token-url URL",
        "authorize_url" => "--authorize-url URL",
        "device_url" => "--device-url URL",
        "par_url" => "--par-url URL",
        "par" => "--par off",
        "dpop" => "--dpop off",
        "allowed_hosts" => "--allow-host HOST",
        "api_base_url" => "--api-base-url URL",
        _ => "...",
    }
}

pub fn warn_if_implicit(connection: &Connection) {
    if connection.settings.oauth2().is_some_and(|s| s.flow == Flow::Implicit) {
        eprintln!(
            "latch: warning: the implicit flow is legacy (RFC 9700): the token travels in the browser's address bar and \
             cannot be refreshed. Use --flow authorization_code (with PKCE) if the provider supports it."
        );
    }
}

/// Where a token is handed out on its own: a DPoP-bound one (RFC 9449) is
/// refused without a proof that only Latch can sign, so say which ways work.
pub fn warn_if_bound(connection: &Connection) {
    if connection.settings.oauth2().is_some_and(|s| s.dpop) {
        let name = shell_name(&connection.name);
        eprintln!(
            "latch: warning: '{}' binds its tokens to this computer (DPoP): its API refuses this token unless each request \
             carries a fresh proof signed by Latch. Send requests with 'latch request {name} URL' or through the proxy \
             ('latch exec {name} -- COMMAND' gives the command its address).",
            clean(&connection.name)
        );
    }
}

pub fn print_added(connection: &Connection, preset: Option<&Preset>) {
    let name = &connection.name;
    warn_if_implicit(connection);
    let connect = if connection.settings.signs_in_by_paste() { " --paste" } else { "" };
    println!("Added '{}'. Next: latch connect {}{connect}", clean(name), shell_name(name));
    if let Some(preset) = preset {
        println!("Register your app at: {}", clean(&preset.register_url));
    }
    if let Some(redirect_uri) = connection.settings.redirect_uri_to_register() {
        println!("Register this redirect URI with the provider: {}", clean(&redirect_uri));
    }
    if connection.settings.oauth2().and_then(|s| s.client_certificate.as_ref()).is_some_and(|c| c.made_by_latch) {
        println!(
            "Register Latch's certificate with the provider: latch show {} --client-cert (or --client-cert-jwk)",
            shell_name(name)
        );
    }
    if let Some(preset) = preset {
        for note in &preset.notes {
            println!("Note: {}", clean(note));
        }
    }
}

/// `latch add --from`: what Latch found behind the API address, in words.
pub fn print_added_from_api(connection: &Connection, found: &FoundApi) {
    let signs_in_at = found.authorize_url.as_deref().unwrap_or(&found.issuer);
    println!("API at {}, signs in at {}.", clean(&found.resource), clean(signs_in_at));
    if found.registered {
        println!("Latch registered itself there: nothing to copy from a developer console.");
    } else {
        println!("Latch uses the client ID you gave.");
    }
    if !found.scopes.is_empty() {
        let scopes: Vec<String> = found.scopes.iter().map(|s| clean(s)).collect();
        println!("Scopes the API lists (asked for): {}", scopes.join(" "));
    }
    let name = &connection.name;
    println!("Added '{}'. Next: latch connect {}", clean(name), shell_name(name));
}

pub fn print_presets(presets: &[Preset], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(presets).expect("presets serialise"));
        return;
    }
    let id_width = presets.iter().map(|p| p.id.len()).max().unwrap_or(2).max(2);
    let name_width = presets.iter().map(|p| p.name.chars().count()).max().unwrap_or(4).max(4);
    println!("{:id_width$}  {:name_width$}  REGISTER YOUR APP AT", "ID", "NAME");
    for p in presets {
        println!("{:id_width$}  {:name_width$}  {}", p.id, p.name, p.register_url);
    }
    println!("\nAdd one with: latch add --preset ID --name NAME --client-id ID [--client-secret-stdin] [--scope S]...");
}

/// Before an import that needs the user's confirmation: every connection
/// of the file with the hosts it sends the sign-in and tokens to, and what
/// to know before trusting it. On stderr: nothing was imported.
pub fn print_import_preview(candidates: &[ImportCandidate]) {
    eprintln!("latch: Each connection sends your sign-in, its client secret and its tokens to the hosts listed.");
    for candidate in candidates {
        let hosts: Vec<String> = candidate.hosts.iter().map(|h| clean(h)).collect();
        let mark = if candidate.needs_confirmation { "  [needs --accept-hosts]" } else { "" };
        eprintln!("  '{}': {}{mark}", clean(&candidate.name), if hosts.is_empty() { "no hosts".into() } else { hosts.join(", ") });
        for warning in &candidate.warnings {
            eprintln!("      ! {}", clean(warning));
        }
    }
}

pub fn print_imported(imported: &Imported) {
    let names: Vec<String> = imported.connections.iter().map(|c| clean(&c.name)).collect();
    println!("Imported {} connection(s): {}.", names.len(), names.join(", "));
    for name in &imported.need_secret {
        let spec = imported.connections.iter().find(|c| &c.name == name).and_then(|c| c.settings.spec());
        if let Some(spec) = spec {
            let keys: Vec<String> = spec.spec.common.keys().map(|k| format!("--common-stdin {}", clean(k))).collect();
            println!(
                "'{}' needs its app's common data (exports never hold secrets): latch spec edit {} {}",
                clean(name),
                shell_name(name),
                keys.join(" ")
            );
            continue;
        }
        println!(
            "'{}' needs its client secret (exports never hold secrets): latch edit {} --client-secret-stdin",
            clean(name),
            shell_name(name)
        );
    }
}

/// A connection in `latch list --json`: its fields, and its team when it has one.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    connection: &'a Connection,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
}

pub fn print_list(connections: &[Connection], teams: &std::collections::HashMap<latch_core::model::ConnectionId, String>, json: bool) {
    if json {
        // Streamed: ten thousand connections are megabytes of JSON.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let listed: Vec<Listed> = connections.iter().map(|c| Listed { connection: c, team: teams.get(&c.id).map(String::as_str) }).collect();
        let _ = serde_json::to_writer_pretty(&mut out, &listed).and_then(|()| {
            std::io::Write::write_all(&mut out, b"\n").map_err(serde_json::Error::io)
        });
        let _ = std::io::Write::flush(&mut out);
        return;
    }
    if connections.is_empty() {
        println!("No connections yet. Add one with 'latch add --name NAME --flow authorization_code ...'.");
        return;
    }
    let names: Vec<String> = connections.iter().map(|c| clean(&c.name)).collect();
    let width = names.iter().map(|name| name.chars().count()).max().unwrap_or(4).max(4);
    let team_width = teams.values().map(|t| clean(t).chars().count()).max().map(|w| w.max(4));
    let team_column = |team: &str| team_width.map(|w| format!("{team:w$}  ")).unwrap_or_default();
    println!("{:width$}  {}{:18}  {:12}  ACCESS EXPIRES", "NAME", team_column("TEAM"), "FLOW", "STATUS");
    for (c, name) in connections.iter().zip(&names) {
        println!(
            "{:width$}  {}{:18}  {:12}  {}",
            name,
            team_column(&teams.get(&c.id).map(|t| clean(t)).unwrap_or_else(|| "-".into())),
            match &c.settings {
                KindSettings::OAuth2(settings) => settings.flow.as_str(),
                KindSettings::Spec(_) => "spec",
                KindSettings::OAuth1(_) => "oauth1",
            },
            c.status.as_str(),
            c.access_expires_at.map(relative).unwrap_or_else(|| "-".into())
        );
    }
}

pub fn print_show(c: &Connection, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(c).expect("a connection serialises"));
        return;
    }
    let none = || "-".to_string();
    // Every value here may have come from a provider or an imported file.
    let row = |label: &str, value: String| println!("  {label:<22}{}", clean(&value));
    println!("{} ({})", clean(&c.name), clean(c.id.as_str()));
    row("Status", format!("{} — {}", c.status, expiry_sentence(c)));
    if let Some(account) = &c.account {
        row("Account", account.clone());
    }
    let api = c.settings.api();
    row("API base URL", c.settings.api_base_url().unwrap_or_else(|| "none (set one with --api-base-url to use the proxy)".into()));
    if !api.allowed_hosts.is_empty() {
        row("Also allowed hosts", api.allowed_hosts.join(" "));
    }
    if api.forward_caller_auth {
        row("Caller's own auth", "passed on by the proxy".into());
    }
    let spec = match &c.settings {
        KindSettings::OAuth2(settings) => settings,
        KindSettings::Spec(settings) => {
            row("Kind", format!("spec{}", settings.spec.name.as_deref().map(|n| format!(" '{n}'")).unwrap_or_default()));
            let steps: Vec<&str> = settings.spec.communication.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            row("Steps", steps.join(", "));
            if let Some(host) = c.settings.provider_host() {
                row("Service", host);
            }
            let scopes = settings.effective_scopes();
            row("Scopes", if scopes.is_empty() { "-".into() } else { scopes.join(" ") });
            for (key, value) in &settings.parameters {
                row("Parameter", format!("{key} = {}", value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())));
            }
            for key in settings.spec.secret_parameters() {
                row("Parameter", format!("{key} = (saved in the system keyring)"));
            }
            if !settings.spec.common.is_empty() {
                let keys: Vec<&str> = settings.spec.common.keys().map(String::as_str).collect();
                row("Common data", format!("{} (saved in the system keyring)", keys.join(", ")));
            }
            row("Renews by itself", if c.can_renew() { "yes (the spec's refresh step)".into() } else { "no".into() });
            if let Some(uri) = c.settings.redirect_uri_to_register() {
                row("Redirect URI", uri);
            }
            print_last_error(c);
            return;
        }
        KindSettings::OAuth1(settings) => {
            row("Kind", "OAuth 1.0a".into());
            row("Request token URL", settings.request_token_url.clone().unwrap_or_else(none));
            row("Authorize URL", settings.authorize_url.clone().unwrap_or_else(none));
            row("Access token URL", settings.access_token_url.clone().unwrap_or_else(none));
            row("Info URL", settings.info_url.clone().unwrap_or_else(none));
            row("Revoke URL", settings.revoke_url.clone().unwrap_or_else(none));
            row("Consumer key", settings.consumer_key.clone());
            row(
                if settings.signature_method.uses_private_key() { "Private key" } else { "Consumer secret" },
                if settings.signature_method.uses_private_key() || c.has_client_secret {
                    "saved in the system keyring".into()
                } else {
                    "none".into()
                },
            );
            row("Signature method", settings.signature_method.as_str().replace('_', "-").to_ascii_uppercase());
            row("OAuth parameters in", settings.transport.to_string());
            row("Body hash", if settings.body_hash { "yes".into() } else { "no".into() });
            row(
                "Callback",
                settings.redirect_uri_to_register().unwrap_or_else(|| "oob (the provider shows a code to type in)".into()),
            );
            print_last_error(c);
            return;
        }
    };
    row("Flow", format!("{}{}", spec.flow, if spec.flow == Flow::AuthorizationCode { format!(", PKCE {}", spec.pkce) } else { String::new() }));
    row("Authorize URI", spec.authorize_url.clone().unwrap_or_else(none));
    row("Token URI", spec.token_url.clone().unwrap_or_else(none));
    row("Refresh URI", spec.refresh_url.clone().unwrap_or_else(|| "(token URI)".into()));
    row(
        "Revoke URI",
        match (&spec.revoke_url, spec.revoke_style) {
            (Some(url), latch_core::model::RevokeStyle::BearerGet) => format!("{url} (GET with the access token)"),
            (Some(url), _) => url.clone(),
            (None, _) => none(),
        },
    );
    row("Info URI", spec.info_url.clone().unwrap_or_else(none));
    if let Some(issuer) = &spec.issuer {
        row("Issuer", issuer.clone());
    }
    row("Scopes", format!("{} ({}-separated)", if spec.scopes.is_empty() { "-".into() } else { spec.scopes.join(" ") }, spec.scope_separator));
    if !spec.resource.is_empty() {
        row("Resources", spec.resource.join(" "));
    }
    if let Some(granted) = &c.granted_scopes {
        let missing = c.missing_scopes();
        let note = if missing.is_empty() { String::new() } else { format!("  (not granted: {})", missing.join(" ")) };
        row("Granted scopes", format!("{}{note}", granted.join(" ")));
    }
    row("Client ID", spec.client_id.clone());
    if spec.client_auth == ClientAuth::PrivateKeyJwt {
        row("Private key", if c.has_client_secret { "saved in the system keyring".into() } else { "none".into() });
    } else {
        row("Client secret", if c.has_client_secret { "saved in the system keyring".into() } else { "none (public client)".into() });
    }
    row("Client authentication", spec.client_auth.to_string());
    if let Some(certificate) = &spec.client_certificate {
        // What the certificate says about itself; its key stays in the keyring.
        let made = if certificate.made_by_latch { ", made by Latch: register it ('latch show NAME --client-cert')" } else { "" };
        row("Client certificate", format!("{}{made}", certificate.subject));
        row("Certificate expires", certificate.not_after.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string());
        row("Certificate SHA-256", certificate.thumbprint.clone());
    } else if spec.uses_client_certificate() {
        row("Client certificate", "none: import one with 'latch edit NAME --client-cert FILE'".into());
    }
    if let Some(jwk) = &spec.client_public_jwk {
        row("Public key (JWK)", format!("{jwk}  (register it with the provider)"));
    }
    row("Refresh token", if c.has_refresh_token { "yes".into() } else { "no".into() });
    let placement = match spec.token_placement {
        // RFC 9449 §7.1: a bound token goes with its scheme and a proof.
        TokenPlacement::Header if spec.dpop => "header: Authorization: DPoP <token>, with a fresh DPoP proof".to_owned(),
        TokenPlacement::Header => format!("header: Authorization: {} <token>", spec.token_name),
        TokenPlacement::Query => format!("query: ?{}=<token>", spec.query_param),
        TokenPlacement::Both => format!("both: Authorization: {} <token> and ?{}=<token>", spec.token_name, spec.query_param),
    };
    row("Token placement", placement);
    for (label, list) in [
        ("Authorize parameters", &spec.authorize_params),
        ("Token parameters", &spec.token_params),
        ("Refresh parameters", &spec.refresh_params),
    ] {
        if !list.is_empty() {
            row(label, list.iter().map(|kv| format!("{}={}", kv.key, kv.value)).collect::<Vec<_>>().join(" "));
        }
    }
    for kv in &spec.custom_headers {
        row("Header", format!("{}: {}", kv.key, kv.value));
    }
    if let Some(device_url) = &spec.device_url {
        row("Device URI", device_url.clone());
    }
    if spec.pushes_authorization_request() {
        row("Pushed requests (PAR)", format!("on, at {}", spec.par_url.as_deref().unwrap_or("-")));
    } else if let Some(par_url) = &spec.par_url {
        row("Pushed requests (PAR)", format!("off (offered at {par_url})"));
    }
    row("Bound tokens (DPoP)", if spec.dpop { "on: only Latch on this computer can use them".into() } else { "off".into() });
    if spec.flow.uses_browser() {
        let port = if spec.redirect_port == 0 && spec.redirect_uri_override.is_none() { " (automatic port)" } else { "" };
        row("Redirect URI", format!("{}{port}", spec.redirect_uri_to_register()));
    }
    print_last_error(c);
}

fn print_last_error(c: &Connection) {
    if let Some(error) = &c.last_error {
        println!("  {:<22}{}", "Last error", clean(error));
        if let Some(details) = &c.last_error_details {
            println!("  What the provider said (secrets removed):");
            for line in clean_lines(details).lines() {
                println!("    {line}");
            }
        }
    }
}

/// How long from now until `deadline`, as people say it.
fn until(deadline: DateTime<Utc>) -> String {
    latch_core::flows::loopback::human_duration((deadline - Utc::now()).to_std().unwrap_or_default())
}

pub fn print_sign_in_started(
    authorize_url: &str,
    redirect_uri: &str,
    deadline: Option<DateTime<Utc>>,
    browser_error: Option<&str>,
    paste: bool,
) {
    match browser_error {
        None => eprintln!("Opened your browser to sign in. If nothing appeared, open this address:"),
        Some(err) => eprintln!("{} Open this address to sign in:", clean(err)),
    }
    eprintln!("  {}", clean(authorize_url));
    if paste && redirect_uri == "oob" {
        // OAuth 1.0a out of band: the provider shows a code instead of sending you back.
        eprintln!("After you allow access, the provider shows a code. Type it here and press Enter:");
    } else if paste {
        eprintln!("After signing in, the provider sends you to {}.", clean(redirect_uri));
        eprintln!("Copy the whole address from the browser's address bar, paste it here and press Enter:");
    } else if let Some(deadline) = deadline {
        eprintln!("Waiting up to {} for you to finish…", until(deadline));
    }
}

pub fn print_device_code(user_code: &str, verification_uri: &str, deadline: DateTime<Utc>, browser_error: Option<&str>) {
    eprintln!("To sign in, open {} and enter this code:", clean(verification_uri));
    eprintln!();
    eprintln!("    {}", clean(user_code));
    eprintln!();
    match browser_error {
        None => eprintln!("Latch opened your browser there."),
        Some(err) => eprintln!("{} Open the address yourself, on any device.", clean(err)),
    }
    eprintln!("Waiting up to {} for you to finish…", until(deadline));
}

pub fn print_connected(c: &Connection) {
    let account = c.account.as_ref().map(|a| format!(" as {}", clean(a))).unwrap_or_default();
    println!("Connected '{}'{account}. {}", clean(&c.name), expiry_sentence(c));
    if let Some(granted) = &c.granted_scopes {
        println!("Granted scopes: {}", if granted.is_empty() { "(none)".into() } else { clean(&granted.join(" ")) });
        let missing = c.missing_scopes();
        if !missing.is_empty() {
            println!("Not granted: {}", clean(&missing.join(" ")));
        }
    }
    if let Some(note) = &c.last_error {
        eprintln!("latch: {}", clean(note));
    }
}

/// "Access token expires in 59 min; refresh token: yes."
pub fn expiry_sentence(c: &Connection) -> String {
    let access = match c.access_expires_at {
        Some(at) if at > Utc::now() => format!("Access token expires {}", relative(at)),
        Some(at) => format!("Access token expired {}", relative(at)),
        None if c.has_refresh_token || c.status.as_str() == "connected" => "Access token expiry not given".into(),
        None => "Not connected".into(),
    };
    let refresh = if c.has_refresh_token { "refresh token: yes" } else { "refresh token: no" };
    format!("{access}; {refresh}.")
}

/// "in 59 min", "3 min ago", with the UTC time for precision.
fn relative(at: DateTime<Utc>) -> String {
    let secs = (at - Utc::now()).num_seconds();
    let span = |s: i64| match s {
        s if s < 90 => format!("{s} s"),
        s if s < 90 * 60 => format!("{} min", (s + 30) / 60),
        s if s < 36 * 3600 => format!("{} h", (s + 1800) / 3600),
        s => format!("{} days", (s + 43200) / 86400),
    };
    let when = at.format("%Y-%m-%d %H:%M UTC");
    if secs >= 0 {
        format!("in {} ({when})", span(secs))
    } else {
        format!("{} ago ({when})", span(-secs))
    }
}

pub fn print_disconnected(name: &str, outcome: &Disconnected, removed: bool) -> ExitCode {
    let did = if removed { "Removed" } else { "Disconnected" };
    let name = clean(name);
    match &outcome.revoke_error {
        None if outcome.revoked => println!("{did} '{name}'. The provider revoked its tokens."),
        None => println!("{did} '{name}'. Its tokens are deleted here (no revoke URI is set, so the provider was not told)."),
        Some(err) => {
            println!("{did} '{name}'. Its tokens are deleted here.");
            print_registration_deleted(outcome, removed);
            eprintln!(
                "latch: but revoking them at the provider failed: {} They stay valid there until they expire.",
                clean(&err.message)
            );
            return ExitCode::from(4);
        }
    }
    print_registration_deleted(outcome, removed);
    ExitCode::SUCCESS
}

/// For a client Latch registered itself: whether its registration is gone.
fn print_registration_deleted(outcome: &Disconnected, removed: bool) {
    match &outcome.registration_deleted {
        None => {}
        Some(Ok(())) if removed => println!("Latch's registration at the provider is deleted."),
        Some(Ok(())) => println!("Latch's registration at the provider is deleted; connecting again registers anew."),
        Some(Err(err)) => eprintln!(
            "latch: deleting Latch's registration at the provider failed: {} It stays there; nothing else needs it.",
            clean(&err.message)
        ),
    }
}

/// `latch status`: what needs attention, for people and scripts. Exit 3 when
/// any connection needs the user to sign in again.
pub fn print_status(connections: &[Connection], json: bool) -> ExitCode {
    use latch_core::model::Status;
    let attention: Vec<&Connection> = connections.iter().filter(|c| c.needs_attention()).collect();
    if json {
        let items: Vec<serde_json::Value> = attention
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name, "status": c.status, "reason": c.last_error, "retry_at": c.retry_at
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).expect("JSON values serialise"));
    } else if attention.is_empty() {
        println!("All {} connection{} working.", connections.len(), if connections.len() == 1 { " is" } else { "s are" });
    } else {
        for c in &attention {
            let what = match (c.status, c.retry_at) {
                (Status::NeedsReauth, _) => format!("needs you to sign in again: latch connect {}", shell_name(&c.name)),
                (_, Some(at)) => format!("retrying {}", relative(at)),
                _ => "error".into(),
            };
            let reason = c.last_error.as_deref().map(|r| format!(" — {}", clean(r))).unwrap_or_default();
            println!("{}: {what}{reason}", clean(&c.name));
        }
    }
    if attention.iter().any(|c| c.status == Status::NeedsReauth) {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_has_no_escape_sequences_or_bidi_controls() {
        assert_eq!(clean("bad \u{1b}]0;pwned\u{7}request \u{1b}[31mred\u{1b}[0m"), "bad ]0;pwnedrequest [31mred[0m");
        assert_eq!(clean("a\u{9b}2Jb\r\u{202e}c\u{2067}d\u{7f}"), "a2Jbcd");
        assert_eq!(clean("two\nlines"), "twolines");
        assert_eq!(clean_lines("two\nlines\u{1b}[2J"), "two\nlines[2J");
        assert_eq!(clean("Team Drive — Café 東京"), "Team Drive — Café 東京");
    }

    #[test]
    fn names_keep_double_quotes_when_safe_and_switch_to_single_quotes_when_not() {
        assert_eq!(shell_name("Team Drive"), "\"Team Drive\"");
        assert_eq!(shell_name("O'Brien"), "\"O'Brien\"");
        assert_eq!(shell_name("GitHub (work) & co; 東京"), "\"GitHub (work) & co; 東京\"");
        assert_eq!(shell_name("Pay $(touch x)"), "'Pay $(touch x)'");
        assert_eq!(shell_name("say \"hi\""), "'say \"hi\"'");
        assert_eq!(shell_name("`id`"), "'`id`'");
        assert_eq!(shell_name("a\\b"), "'a\\b'");
        assert_eq!(shell_name("wow!"), "'wow!'");
        assert_eq!(shell_name("it's $5"), "'it'\\''s $5'");
        assert_eq!(shell_name("evil\u{1b}[31m\u{202e}"), "\"evil[31m\"");
    }

    #[test]
    fn a_quoted_name_reaches_the_command_as_it_is_and_runs_nothing() {
        use std::process::Command;
        if Command::new("sh").arg("-c").arg("true").output().is_err() {
            eprintln!("no sh here: skipped");
            return;
        }
        let dir = std::env::temp_dir().join(format!("latch-quote-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["Team Drive", "O'Brien", "Pay $(touch pwned1)", "`touch pwned2`", "\"; touch pwned3; \"", "it's $HOME \\ !x", "a'\"'b"] {
            let out = Command::new("sh").arg("-c").arg(format!("printf '%s' {}", shell_name(name))).current_dir(&dir).output().unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), name, "{}", shell_name(name));
        }
        let created: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(created.is_empty(), "{created:?}");
    }

    #[test]
    fn suggested_commands_quote_the_name() {
        let again = |name: &str, paste| action_as_command(&Action::sign_in_again(name, paste)).unwrap();
        assert_eq!(again("Expired", false), "Run 'latch connect \"Expired\"' to sign in again.");
        assert_eq!(again("Academy", true), "Run 'latch connect \"Academy\" --paste' to sign in again.");
        assert_eq!(again("Pay $$", false), "Run latch connect 'Pay $$' to sign in again.");
        assert_eq!(
            action_as_command(&Action::edit("Wrong", &["client_id", "client_secret"])).unwrap(),
            "Change it with 'latch edit \"Wrong\" --client-id ID --client-secret-stdin'."
        );
        assert_eq!(
            action_as_command(&Action::edit("`x`", &["scopes"])).unwrap(),
            "Change it with latch edit '`x`' --scope ...."
        );
        assert_eq!(
            action_as_command(&Action::SignIn { connection: "a\u{1b}[2Jb".into() }).unwrap(),
            "Run 'latch connect \"a[2Jb\"' first."
        );
    }
}

/// `latch log`: the newest uses first, one line each, or JSON.
pub fn print_usage(engine: &latch_core::Engine, uses: &[latch_core::store::usage::UsageEntry], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(uses).expect("uses serialise"));
        return;
    }
    if uses.is_empty() {
        let days = engine.settings().map(|s| s.usage_kept_days).unwrap_or_default();
        println!("No credential was handed out in the last {days} days.");
        return;
    }
    let names: std::collections::HashMap<String, String> =
        engine.list().unwrap_or_default().into_iter().map(|c| (c.id.0, c.name)).collect();
    for used in uses {
        let name = names.get(used.connection_id.as_str()).map(String::as_str).unwrap_or(used.connection_id.as_str());
        let program = match (&used.exe, used.pid) {
            (Some(exe), Some(pid)) => format!("{exe} (pid {pid})"),
            (None, Some(pid)) => format!("pid {pid}"),
            _ => "you, in the app".to_owned(),
        };
        let host = used.host.as_deref().map(|h| format!(" → {h}")).unwrap_or_default();
        println!(
            "{}  {}  {} via {} to {}{}",
            used.at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S"),
            clean(name),
            clean(&used.what),
            clean(&used.via),
            clean(&program),
            clean(&host)
        );
    }
}
