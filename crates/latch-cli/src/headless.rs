//! `latch agent --headless`: the agent for a server or CI runner, which has
//! no desktop and no keyring. At each start it signs in to one team's
//! OpenBao with AppRole (`--role-id`/`$BAO_ROLE_ID` and `$BAO_SECRET_ID`) or
//! a JWT (`--jwt-file` or `$BAO_JWT`, e.g. the CI's OIDC token), keeps the
//! OpenBao token in memory only, keeps the team's connections fresh and
//! answers on the agent socket like `latch agent`. Thin: the engine does the
//! signing in (`team_sign_in`), the renewing and the refreshing.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use latch_core::{Engine, Error, TeamAuth, TeamJoin};

use crate::output::clean;
use crate::team::{absolute_ca_file, print_sync, AuthArgs};

#[derive(Args)]
pub struct AgentArgs {
    /// Run without a desktop or keyring: sign in to the team given by --team, --addr, --mount and
    /// --path with --auth approle or jwt, secrets from the environment (or --jwt-file), kept in
    /// memory only.
    #[arg(long, requires_all = ["team", "addr", "mount", "path"])]
    pub headless: bool,
    /// The team's name in this data directory, e.g. 'sales'.
    #[arg(long, requires = "headless")]
    pub team: Option<String>,
    /// The OpenBao server, e.g. https://bao.example:8200; a cluster's nodes separated by commas.
    #[arg(long, requires = "headless")]
    pub addr: Option<String>,
    /// The team's KV version 2 mount, e.g. 'secret'.
    #[arg(long, requires = "headless")]
    pub mount: Option<String>,
    /// The team's folder in the mount, e.g. 'teams/sales'.
    #[arg(long, requires = "headless")]
    pub path: Option<String>,
    /// A CA certificate (PEM) to trust for the server, besides the system's.
    #[arg(long, value_name = "PEM", requires = "headless")]
    pub ca_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// The engine over the data directory, with secrets in memory only.
pub fn open_engine() -> Result<Engine, Error> {
    let data_dir = latch_core::paths::data_dir()?;
    Engine::open(&data_dir, Box::new(latch_core::store::headless::HeadlessSecrets::default()), Box::new(latch_core::SystemBrowser))
}

/// How often the team's list of connections is fetched again.
const SYNC_EVERY: Duration = Duration::from_secs(60);

pub async fn run(engine: &Arc<Engine>, args: AgentArgs) -> Result<(), Error> {
    let path = latch_core::agent::socket_path().ok_or_else(|| {
        Error::validation(
            "agent",
            "XDG_RUNTIME_DIR is not set, so there is no place for the agent's socket: set it to a folder only you can use.",
        )
    })?;
    // Read anew at each start, from the environment or a file: never standard input, never a flag.
    let auth = args.auth.read(false)?;
    if matches!(auth, TeamAuth::Token(_) | TeamAuth::UserPass { .. }) {
        return Err(Error::validation(
            "auth",
            "A headless agent signs in with --auth approle (BAO_ROLE_ID and BAO_SECRET_ID) or --auth jwt (BAO_JWT or --jwt-file): \
             a Latch without a keyring must be able to log in again by itself.",
        ));
    }
    let name = args.team.unwrap_or_default();
    let join = TeamJoin {
        name: name.clone(),
        addr: args.addr.unwrap_or_default(),
        mount: args.mount.unwrap_or_default(),
        path: args.path.unwrap_or_default(),
        ca_file: absolute_ca_file(&args.ca_file)?,
        auth,
    };
    let sync = engine.team_sign_in(join).await?;
    print_sync(&name, &sync);
    let _refresher = latch_core::refresher::Refresher::spawn(engine.clone());
    let _agent = latch_core::agent::Agent::start(engine.clone(), &path).await?;
    eprintln!(
        "Latch agent (headless): signed in to team '{}'; answering at {} and keeping its connections fresh. Nothing secret is \
         kept on disk. Ctrl-C stops it.",
        clean(&name),
        path.display()
    );
    // New and removed team connections show up within a minute.
    loop {
        tokio::time::sleep(SYNC_EVERY).await;
        engine.team_sync_if_stale(SYNC_EVERY).await;
    }
}
