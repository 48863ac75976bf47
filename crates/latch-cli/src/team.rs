//! `latch team …`: join, leave, look at and sync the teams whose
//! connections are kept in OpenBao (or Vault). Thin: read the flags and the
//! token, call the engine, print what it did.

use clap::{Args, Subcommand};
use latch_core::store::openbao::BaoToken;
use latch_core::store::openbao_auth::default_mount;
use latch_core::{Engine, Error, TeamAuth, TeamJoin, TeamSync};

use crate::output::clean;

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Join a team: its connections, kept in OpenBao KV v2, show up here beside yours. Sign in
    /// with a token, AppRole, username and password, or a JWT (--auth); secrets come from the
    /// environment or standard input, and are kept in the system keyring so Latch can renew the
    /// OpenBao token or log in again.
    Join(JoinArgs),
    /// Leave a team: its connections disappear from this computer (nothing changes in OpenBao).
    Leave {
        /// The team's name here.
        name: String,
    },
    /// Whether each team's store answers, and its connections here with their last refresh.
    Status,
    /// Fetch the team's connections now (list and other commands do it when it is over a minute old).
    Sync {
        /// The team's name here; every team when left out.
        name: Option<String>,
    },
}

#[derive(Args)]
pub struct JoinArgs {
    /// A name for the team on this computer, e.g. 'sales'.
    pub name: String,
    /// The OpenBao server, e.g. https://bao.example:8200 (http only to this computer); a
    /// cluster's nodes separated by commas, tried in turn when one does not answer.
    #[arg(long)]
    pub addr: String,
    /// The KV version 2 mount, e.g. 'secret'.
    #[arg(long)]
    pub mount: String,
    /// The team's folder in the mount, e.g. 'teams/sales'.
    #[arg(long)]
    pub path: String,
    /// How this Latch signs in to OpenBao, and with what.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// A CA certificate (PEM) to trust for the server, besides the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// How to sign in to OpenBao. Secrets never come as flags (other users can
/// read a process's arguments): from the environment, a file or standard input.
#[derive(Args)]
pub struct AuthArgs {
    /// How to sign in to OpenBao: 'token' ($BAO_TOKEN or $VAULT_TOKEN, else standard input),
    /// 'approle' (--role-id or $BAO_ROLE_ID; the secret ID from $BAO_SECRET_ID, else standard
    /// input), 'userpass' (--username; the password from $BAO_PASSWORD, else standard input) or
    /// 'jwt' (--role; the JWT from --jwt-file, $BAO_JWT, else standard input).
    #[arg(long, default_value = "token", value_parser = ["token", "approle", "userpass", "jwt"])]
    pub auth: String,
    /// Where the auth method is mounted; by default its own name ('approle', 'userpass', 'jwt').
    #[arg(long, value_name = "MOUNT")]
    pub auth_mount: Option<String>,
    /// The AppRole's role ID (not a secret), for --auth approle; else $BAO_ROLE_ID.
    #[arg(long, value_name = "ID")]
    pub role_id: Option<String>,
    /// The OpenBao username, for --auth userpass.
    #[arg(long)]
    pub username: Option<String>,
    /// The JWT auth method's role, for --auth jwt.
    #[arg(long)]
    pub role: Option<String>,
    /// A file holding the JWT, for --auth jwt (e.g. the CI's OIDC token file).
    #[arg(long, value_name = "PATH")]
    pub jwt_file: Option<std::path::PathBuf>,
}

/// Where a secret may come from: the first variable set, else standard input
/// when `stdin` allows it.
fn read_secret(what: &'static str, variables: &[&str], stdin: bool, hint: &str) -> Result<BaoToken, Error> {
    for variable in variables {
        if let Ok(value) = std::env::var(variable) {
            if !value.trim().is_empty() {
                return Ok(BaoToken::new(value.trim().to_owned()));
            }
        }
    }
    let missing = || {
        let from = variables.iter().map(|v| format!("${v}")).collect::<Vec<_>>().join(" or ");
        let how = if stdin { format!("set {from}, or pipe it in, e.g. '{hint}'") } else { format!("set {from}") };
        Error::validation(what, format!("No {what} arrived: {how}."))
    };
    if !stdin {
        return Err(missing());
    }
    let bytes = crate::read_stdin()?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::validation(what, format!("The {what} on standard input is not valid text.")))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(missing());
    }
    Ok(BaoToken::new(value.to_owned()))
}

/// A flag's value, or a variable's (for values that are not secret).
fn flag_or_env(flag: &Option<String>, variable: &str, field: &'static str, what: &str) -> Result<String, Error> {
    let value = flag.clone().or_else(|| std::env::var(variable).ok()).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    value.ok_or_else(|| Error::validation(field, format!("Give {what}.")))
}

impl AuthArgs {
    /// The method with its secret. `stdin`: whether a secret may come from
    /// standard input (not for the headless agent, which reads them anew at
    /// each start).
    pub fn read(&self, stdin: bool) -> Result<TeamAuth, Error> {
        let mount = self.auth_mount.clone().unwrap_or_else(|| default_mount(&self.auth).to_owned());
        Ok(match self.auth.as_str() {
            "approle" => {
                let role_id = flag_or_env(&self.role_id, "BAO_ROLE_ID", "role_id", "the AppRole's role ID with --role-id or $BAO_ROLE_ID")?;
                let secret_id = read_secret("secret ID", &["BAO_SECRET_ID"], stdin, "pass show bao-secret-id | latch ...")?;
                TeamAuth::AppRole { mount, role_id, secret_id }
            }
            "userpass" => {
                let username = flag_or_env(&self.username, "BAO_USERNAME", "username", "the OpenBao username with --username")?;
                let password = read_secret("password", &["BAO_PASSWORD"], stdin, "pass show bao | latch ...")?;
                TeamAuth::UserPass { mount, username, password }
            }
            "jwt" => {
                let role = flag_or_env(&self.role, "BAO_JWT_ROLE", "role", "the JWT auth method's role with --role")?;
                let jwt = match &self.jwt_file {
                    Some(path) => {
                        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|err| {
                            Error::validation("jwt_file", format!("Latch could not read the JWT file {}: {err}.", path.display()))
                        })?);
                        if text.trim().is_empty() {
                            return Err(Error::validation("jwt_file", format!("The JWT file {} is empty.", path.display())));
                        }
                        BaoToken::new(text.trim().to_owned())
                    }
                    None => read_secret("JWT", &["BAO_JWT"], stdin, "cat $CI_JOB_JWT_FILE | latch ...")?,
                };
                TeamAuth::Jwt { mount, role, jwt }
            }
            _ => TeamAuth::Token(read_secret(
                "OpenBao token",
                &["BAO_TOKEN", "VAULT_TOKEN"],
                stdin,
                "pass show bao-token | latch team join ...",
            )?),
        })
    }
}

/// The CA file as an absolute path: the team's row outlives this directory.
pub fn absolute_ca_file(path: &Option<std::path::PathBuf>) -> Result<Option<String>, Error> {
    match path {
        Some(path) => Ok(Some(
            std::path::absolute(path)
                .map_err(|err| Error::validation("ca_file", format!("{}: {err}", path.display())))?
                .to_string_lossy()
                .into_owned(),
        )),
        None => Ok(None),
    }
}

pub fn print_sync(team: &str, sync: &TeamSync) {
    for name in &sync.added {
        println!("Added team connection '{}'.", clean(name));
    }
    for name in &sync.updated {
        println!("Updated team connection '{}'.", clean(name));
    }
    for name in &sync.removed {
        println!("Removed '{}': it is no longer in the team.", clean(name));
    }
    for (name, why) in &sync.skipped {
        eprintln!("latch: team '{}': skipped '{}': {}.", clean(team), clean(name), clean(why));
    }
}

pub async fn run(engine: &Engine, command: TeamCommand) -> Result<(), Error> {
    match command {
        TeamCommand::Join(args) => {
            let ca_file = absolute_ca_file(&args.ca_file)?;
            let join = TeamJoin {
                name: args.name.clone(),
                addr: args.addr,
                mount: args.mount,
                path: args.path,
                ca_file,
                auth: args.auth.read(true)?,
            };
            let method = join.auth.method();
            let sync = engine.team_join(join).await?;
            let kept = if method.can_log_in() { "its OpenBao token and login secret are" } else { "its OpenBao token is" };
            println!("Joined team '{}' ({} sign-in); {kept} in your system keyring.", clean(&args.name), method.name());
            print_sync(&args.name, &sync);
        }
        TeamCommand::Leave { name } => {
            let removed = engine.team_leave(&name).await?;
            println!("Left team '{}'; {} connection(s) removed from this computer.", clean(&name), removed.len());
        }
        TeamCommand::Sync { name } => {
            let names = match name {
                Some(name) => vec![name],
                None => engine.teams()?.into_iter().map(|t| t.name).collect(),
            };
            for name in names {
                let sync = engine.team_sync(&name).await?;
                print_sync(&name, &sync);
                println!("Team '{}' is up to date.", clean(&name));
            }
        }
        TeamCommand::Status => {
            let reports = engine.team_status().await?;
            if reports.is_empty() {
                println!("This Latch has joined no team. Join one with 'latch team join NAME --addr URL --mount MOUNT --path PATH'.");
            }
            let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
                at.map(|at| at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
            };
            for report in reports {
                let config = &report.config;
                let state = match &report.unreachable {
                    None => "reachable".to_owned(),
                    Some(why) => format!("NOT reachable: {why}"),
                };
                println!(
                    "Team '{}' at {} ({}/{}): {}",
                    clean(&config.name),
                    clean(&config.addr),
                    clean(&config.mount),
                    clean(&config.path),
                    clean(&state)
                );
                println!("  last synced: {}", when(config.last_synced_at));
                for connection in &report.connections {
                    let renewing = match &connection.renewing {
                        Some((holder, until)) => format!("  renewing now: {} (lease until {})", clean(holder), when(Some(*until))),
                        None => String::new(),
                    };
                    println!(
                        "  {}  {}  expires {}  last refresh {}{renewing}",
                        clean(&connection.name),
                        connection.status.as_str(),
                        when(connection.access_expires_at),
                        when(connection.last_refresh_at)
                    );
                }
            }
        }
    }
    Ok(())
}
