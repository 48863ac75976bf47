//! What `latch` prints: tables and sentences for people, JSON for scripts.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use latch_core::model::{Connection, Flow, KindSettings, OAuth2Settings, TokenPlacement};
use latch_core::presets::Preset;
use latch_core::transfer::Imported;
use latch_core::{Action, Disconnected, Error};

pub fn print_error(err: &Error) {
    for line in err.message.lines() {
        eprintln!("latch: {line}");
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
        for line in details.lines() {
            eprintln!("  {line}");
        }
    }
}

/// The engine's next step, as this front end words it: a command to run.
pub fn action_as_command(action: &Action) -> Option<String> {
    Some(match action {
        Action::SignInAgain { connection, paste } => {
            format!("Run 'latch connect \"{connection}\"{}' to sign in again.", if *paste { " --paste" } else { "" })
        }
        Action::SignIn { connection } => format!("Run 'latch connect \"{connection}\"' first."),
        Action::EditFields { connection, fields } => {
            let flags: Vec<&str> = fields.iter().map(|field| flag_for(field)).collect();
            format!("Change it with 'latch edit \"{connection}\" {}'.", flags.join(" "))
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
        _ => "...",
    }
}

/// The OAuth 2.0 settings, for the sentences below that are about them.
fn oauth2(connection: &Connection) -> &OAuth2Settings {
    match &connection.settings {
        KindSettings::OAuth2(settings) => settings,
    }
}

pub fn warn_if_implicit(connection: &Connection) {
    if oauth2(connection).flow == Flow::Implicit {
        eprintln!(
            "latch: warning: the implicit flow is legacy (RFC 9700): the token travels in the browser's address bar and \
             cannot be refreshed. Use --flow authorization_code (with PKCE) if the provider supports it."
        );
    }
}

pub fn print_added(connection: &Connection, preset: Option<&Preset>) {
    let name = &connection.name;
    warn_if_implicit(connection);
    let connect = if connection.settings.signs_in_by_paste() { " --paste" } else { "" };
    println!("Added '{name}'. Next: latch connect \"{name}\"{connect}");
    if let Some(preset) = preset {
        println!("Register your app at: {}", preset.register_url);
    }
    if let Some(redirect_uri) = connection.settings.redirect_uri_to_register() {
        println!("Register this redirect URI with the provider: {redirect_uri}");
    }
    if let Some(preset) = preset {
        for note in &preset.notes {
            println!("Note: {note}");
        }
    }
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

pub fn print_imported(imported: &Imported) {
    let names: Vec<&str> = imported.connections.iter().map(|c| c.name.as_str()).collect();
    println!("Imported {} connection(s): {}.", names.len(), names.join(", "));
    for name in &imported.need_secret {
        println!(
            "'{name}' needs its client secret (exports never hold secrets): latch edit \"{name}\" --client-secret-stdin"
        );
    }
}

pub fn print_list(connections: &[Connection], json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(connections).expect("connections serialise"));
        return;
    }
    if connections.is_empty() {
        println!("No connections yet. Add one with 'latch add --name NAME --flow authorization_code ...'.");
        return;
    }
    let width = connections.iter().map(|c| c.name.chars().count()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:18}  {:12}  ACCESS EXPIRES", "NAME", "FLOW", "STATUS");
    for c in connections {
        println!(
            "{:width$}  {:18}  {:12}  {}",
            c.name,
            oauth2(c).flow.as_str(),
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
    let spec = oauth2(c);
    let none = || "-".to_string();
    let row = |label: &str, value: String| println!("  {label:<22}{value}");
    println!("{} ({})", c.name, c.id);
    row("Status", format!("{} — {}", c.status, expiry_sentence(c)));
    if let Some(account) = &c.account {
        row("Account", account.clone());
    }
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
    row("Client secret", if c.has_client_secret { "saved in the system keyring".into() } else { "none (public client)".into() });
    row("Client authentication", spec.client_auth.to_string());
    row("Refresh token", if c.has_refresh_token { "yes".into() } else { "no".into() });
    let placement = match spec.token_placement {
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
    if spec.flow.uses_browser() {
        let port = if spec.redirect_port == 0 && spec.redirect_uri_override.is_none() { " (automatic port)" } else { "" };
        row("Redirect URI", format!("{}{port}", spec.redirect_uri_to_register()));
    }
    if let Some(error) = &c.last_error {
        row("Last error", error.clone());
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
        Some(err) => eprintln!("Latch could not open your browser ({err}). Open this address to sign in:"),
    }
    eprintln!("  {authorize_url}");
    if paste {
        eprintln!("After signing in, the provider sends you to {redirect_uri}.");
        eprintln!("Copy the whole address from the browser's address bar, paste it here and press Enter:");
    } else if let Some(deadline) = deadline {
        eprintln!("Waiting up to {} for you to finish…", until(deadline));
    }
}

pub fn print_device_code(user_code: &str, verification_uri: &str, deadline: DateTime<Utc>, browser_error: Option<&str>) {
    eprintln!("To sign in, open {verification_uri} and enter this code:");
    eprintln!();
    eprintln!("    {user_code}");
    eprintln!();
    match browser_error {
        None => eprintln!("Latch opened your browser there."),
        Some(err) => eprintln!("Latch could not open your browser ({err}); open the address yourself, on any device."),
    }
    eprintln!("Waiting up to {} for you to finish…", until(deadline));
}

pub fn print_connected(c: &Connection) {
    let account = c.account.as_ref().map(|a| format!(" as {a}")).unwrap_or_default();
    println!("Connected '{}'{account}. {}", c.name, expiry_sentence(c));
    if let Some(granted) = &c.granted_scopes {
        println!("Granted scopes: {}", if granted.is_empty() { "(none)".into() } else { granted.join(" ") });
        let missing = c.missing_scopes();
        if !missing.is_empty() {
            println!("Not granted: {}", missing.join(" "));
        }
    }
    if let Some(note) = &c.last_error {
        eprintln!("latch: {note}");
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
    match &outcome.revoke_error {
        None if outcome.revoked => println!("{did} '{name}'. The provider revoked its tokens."),
        None => println!("{did} '{name}'. Its tokens are deleted here (no revoke URI is set, so the provider was not told)."),
        Some(err) => {
            println!("{did} '{name}'. Its tokens are deleted here.");
            eprintln!("latch: but revoking them at the provider failed: {} They stay valid there until they expire.", err.message);
            return ExitCode::from(4);
        }
    }
    ExitCode::SUCCESS
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
                (Status::NeedsReauth, _) => format!("needs you to sign in again: latch connect \"{}\"", c.name),
                (_, Some(at)) => format!("retrying {}", relative(at)),
                _ => "error".into(),
            };
            let reason = c.last_error.as_deref().map(|r| format!(" — {r}")).unwrap_or_default();
            println!("{}: {what}{reason}", c.name);
        }
    }
    if attention.iter().any(|c| c.status == Status::NeedsReauth) {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}
