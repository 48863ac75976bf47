//! Settings → Team: joining a team whose connections are kept in OpenBao
//! (or Vault), the joined teams and whether their stores answer, syncing
//! and leaving. The secret typed into the join form (token, password,
//! secret ID) arrives here once and goes to the engine as a `BaoToken`;
//! nothing returned carries it.

use latch_core::store::openbao::BaoToken;
use latch_core::store::openbao_auth::default_mount;
use latch_core::{Error, TeamAuth, TeamJoin};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::oneshot;

use crate::dto::{TeamDto, TeamJoinDto, TeamSignIn, TeamSyncDto};
use crate::error::IpcResult;
use crate::AppState;

/// The joined teams, each with whether its store answered this app's last
/// call to it (no call is made here: the list shows it at once).
#[tauri::command]
pub async fn teams_list(state: State<'_, AppState>) -> IpcResult<Vec<TeamDto>> {
    let health = state.engine.team_health()?;
    let teams = state.engine.teams()?;
    teams
        .into_iter()
        .map(|team| {
            let seen = health.iter().find(|h| h.name == team.name);
            let method = state.engine.team_auth(&team.name)?;
            let (mount, user) = method.parts();
            Ok(TeamDto {
                sign_in_method: method.name().to_owned(),
                sign_in_mount: mount.map(str::to_owned),
                sign_in_user: user.map(str::to_owned),
                unreachable_since: seen.and_then(|h| h.unreachable_since),
                reason: seen.and_then(|h| h.reason.clone()),
                name: team.name,
                addr: team.addr,
                mount: team.mount,
                path: team.path,
                ca_file: team.ca_file,
                joined_at: team.joined_at,
                last_synced_at: team.last_synced_at,
            })
        })
        .collect()
}

/// The secret typed for `field`, or the sentence said beside it when it was
/// left empty. A pasted token loses the spaces around it; a password is
/// taken as typed.
fn required(field: &'static str, value: String, words: &'static str) -> latch_core::Result<BaoToken> {
    let value = zeroize::Zeroizing::new(value);
    if value.trim().is_empty() {
        return Err(Error::validation(field, words));
    }
    let kept = if field == "token" { value.trim() } else { value.as_str() };
    Ok(BaoToken::new(kept.to_owned()))
}

/// Joins a team — or signs in to one joined before again (same name,
/// server and folder), its connections kept: the engine checks that the
/// store answers and that this sign-in may read the team's connections,
/// keeps the OpenBao token in the system keyring, then brings the team's
/// connections here.
#[tauri::command]
pub async fn team_join(state: State<'_, AppState>, join: TeamJoinDto) -> IpcResult<TeamSyncDto> {
    // A sign-in path left empty is where OpenBao enables the method by default.
    let mount = |mount: String, method: &str| if mount.trim().is_empty() { default_mount(method).to_owned() } else { mount.trim().to_owned() };
    let auth = match join.sign_in {
        TeamSignIn::Token { token } => TeamAuth::Token(required("token", token, "Paste the token you were given.")?),
        TeamSignIn::Userpass { mount: at, username, password } => TeamAuth::UserPass {
            mount: mount(at, "userpass"),
            username: username.trim().to_owned(),
            password: required("password", password, "Enter your password.")?,
        },
        TeamSignIn::Approle { mount: at, role_id, secret_id } => TeamAuth::AppRole {
            mount: mount(at, "approle"),
            role_id: role_id.trim().to_owned(),
            secret_id: required("secret_id", secret_id, "Enter the secret ID.")?,
        },
    };
    let ca_file = join.ca_file.filter(|path| !path.trim().is_empty());
    let joined = TeamJoin { name: join.name, addr: join.addr, mount: join.mount, path: join.path, ca_file, auth };
    let sync = state.engine.team_sign_in(joined).await?;
    state.refresher.wake();
    Ok(sync.into())
}

/// Fetches the team's connections now.
#[tauri::command]
pub async fn team_sync(state: State<'_, AppState>, name: String) -> IpcResult<TeamSyncDto> {
    let sync = state.engine.team_sync(&name).await?;
    state.refresher.wake();
    Ok(sync.into())
}

/// Leaves a team: its connections go from this computer (nothing changes in
/// the team's store); answers with their names.
#[tauri::command]
pub async fn team_leave(state: State<'_, AppState>, name: String) -> IpcResult<Vec<String>> {
    Ok(state.engine.team_leave(&name).await?)
}

/// Asks for the CA certificate file (PEM) to trust for the team's server;
/// its path, or None when the user closed the dialog. The engine reads it
/// when joining.
#[tauri::command]
pub async fn team_ca_choose(app: AppHandle) -> IpcResult<Option<String>> {
    let (tx, rx) = oneshot::channel();
    app.dialog()
        .file()
        .set_title("Choose the CA certificate of the team's server")
        .add_filter("CA certificate (PEM)", &["pem", "crt", "cer"])
        .pick_file(move |path| {
            let _ = tx.send(path);
        });
    let path = rx.await.ok().flatten().and_then(|p| p.into_path().ok());
    Ok(path.map(|p| p.to_string_lossy().into_owned()))
}
