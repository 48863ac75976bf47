//! `latch team …`: join, leave, look at and sync the teams whose
//! connections are kept in OpenBao (or Vault). Thin: read the flags and the
//! token, call the engine, print what it did.

use clap::{Args, Subcommand};
use latch_core::store::openbao::BaoToken;
use latch_core::{Engine, Error, TeamAuth, TeamJoin, TeamSync};

use crate::output::clean;

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Join a team: its connections, kept in OpenBao KV v2, show up here beside yours. The
    /// OpenBao token comes from $BAO_TOKEN or $VAULT_TOKEN when set, else from standard input;
    /// it is kept in the system keyring.
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
    /// The OpenBao server, e.g. https://bao.example:8200 (http only to this computer).
    #[arg(long)]
    pub addr: String,
    /// The KV version 2 mount, e.g. 'secret'.
    #[arg(long)]
    pub mount: String,
    /// The team's folder in the mount, e.g. 'teams/sales'.
    #[arg(long)]
    pub path: String,
    /// How to sign in to OpenBao: 'token' (the only method for now).
    #[arg(long, default_value = "token", value_parser = ["token"])]
    pub auth: String,
    /// A CA certificate (PEM) to trust for the server, besides the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// The OpenBao token: `$BAO_TOKEN`, `$VAULT_TOKEN`, else standard input —
/// never a flag, which other users could read in the process list.
fn read_token() -> Result<BaoToken, Error> {
    for variable in ["BAO_TOKEN", "VAULT_TOKEN"] {
        if let Ok(token) = std::env::var(variable) {
            if !token.trim().is_empty() {
                return Ok(BaoToken::new(token.trim().to_owned()));
            }
        }
    }
    let bytes = crate::read_stdin()?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| Error::validation("token", "The OpenBao token on standard input is not valid text."))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::validation(
            "token",
            "No OpenBao token arrived: set BAO_TOKEN, or pipe it in, e.g. 'pass show bao-token | latch team join ...'.",
        ));
    }
    Ok(BaoToken::new(token.to_owned()))
}

fn print_sync(team: &str, sync: &TeamSync) {
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
            let ca_file = match &args.ca_file {
                Some(path) => Some(
                    std::path::absolute(path)
                        .map_err(|err| Error::validation("ca_file", format!("{}: {err}", path.display())))?
                        .to_string_lossy()
                        .into_owned(),
                ),
                None => None,
            };
            let join = TeamJoin {
                name: args.name.clone(),
                addr: args.addr,
                mount: args.mount,
                path: args.path,
                ca_file,
                auth: TeamAuth::Token(read_token()?),
            };
            let sync = engine.team_join(join).await?;
            println!("Joined team '{}'; its OpenBao token is in your system keyring.", clean(&args.name));
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
