//! The access token leaves the engine in two ways only, each on an explicit
//! click: Reveal (the token crosses IPC to be shown) and Copy, where the
//! shell puts it on the system clipboard itself — the web view never gets
//! it. A copy from the web view would have to come after an awaited IPC
//! call, when WebKit no longer counts it as the user's gesture and refuses.

use std::hash::BuildHasher;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tauri::{AppHandle, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use zeroize::Zeroizing;

use crate::dto::Copied;
use crate::error::{IpcError, IpcResult};
use crate::AppState;

/// How long a copied secret stays on the clipboard: long enough to paste it
/// into one place, short enough that it does not linger for the next paste.
const CLEAR_SECRET_AFTER: Duration = Duration::from_secs(45);

#[tauri::command]
pub async fn access_token_reveal(state: State<'_, AppState>, id: String) -> IpcResult<String> {
    let (connection, token) = state.engine.access_token(&id).await?;
    state.engine.record_use(&connection, "app", "reveal", &latch_core::Requester::user(), None);
    Ok(token.secret().to_owned())
}

/// Copy access token: the token goes from the engine to the clipboard.
#[tauri::command]
pub async fn access_token_copy(app: AppHandle, state: State<'_, AppState>, id: String) -> IpcResult<Copied> {
    let (connection, token) = state.engine.access_token(&id).await?;
    state.engine.record_use(&connection, "app", "copy", &latch_core::Requester::user(), None);
    copy_to_clipboard(&app, token.secret(), true)
}

/// Puts `text` on the clipboard. A `secret` is taken off again after
/// [`CLEAR_SECRET_AFTER`] — unless the user copied something else since.
pub(crate) fn copy_to_clipboard(app: &AppHandle, text: &str, secret: bool) -> IpcResult<Copied> {
    app.clipboard().write_text(text).map_err(clipboard_failed)?;
    let placed =
        PLACED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).place(secret.then(|| fingerprint(text)));
    if !secret {
        return Ok(Copied { clears_in_seconds: None });
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLEAR_SECRET_AFTER).await;
        let _ = tauri::async_runtime::spawn_blocking(move || clear_if_unchanged(&app, placed)).await;
    });
    Ok(Copied { clears_in_seconds: Some(CLEAR_SECRET_AFTER.as_secs() as u32) })
}

/// Compare, then clear: the clipboard is emptied only when it still holds
/// what this copy put there. Blocking, and never on the main thread (the
/// plugin's read may deadlock there under X11).
fn clear_if_unchanged(app: &AppHandle, placed: u64) {
    let mut last = PLACED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let holds = app.clipboard().read_text().ok().map(Zeroizing::new).map(|text| fingerprint(&text));
    if last.take_if_still_there(placed, holds) {
        if let Err(err) = app.clipboard().clear() {
            tracing::warn!(error = %err, "could not clear the copied secret from the clipboard");
        }
    }
}

fn clipboard_failed(err: tauri_plugin_clipboard_manager::Error) -> IpcError {
    IpcError::from(latch_core::Error::storage(format!(
        "Latch could not put it on the clipboard ({err}). Try again, or use Reveal and copy it yourself."
    )))
}

/// A keyed hash of clipboard text: enough to recognise our own copy later
/// without keeping the secret in memory until then. The key is random for
/// each run, so the value says nothing about the text outside this process.
fn fingerprint(text: &str) -> u64 {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    KEY.get_or_init(Default::default).hash_one(text)
}

static PLACED: Mutex<LastCopy> = Mutex::new(LastCopy { count: 0, secret: None });

/// What Latch last put on the clipboard: the count of copies so far, and
/// the fingerprint of the last one when it was a secret.
#[derive(Debug)]
struct LastCopy {
    count: u64,
    secret: Option<(u64, u64)>,
}

impl LastCopy {
    /// Records a copy; returns its number, for the clear that follows.
    fn place(&mut self, secret: Option<u64>) -> u64 {
        self.count += 1;
        self.secret = secret.map(|fingerprint| (self.count, fingerprint));
        self.count
    }

    /// Whether the clear for copy `placed` should empty a clipboard that
    /// now `holds` text with this fingerprint (None: nothing readable). A
    /// later copy by Latch, or anything the user copied since, wins.
    fn take_if_still_there(&mut self, placed: u64, holds: Option<u64>) -> bool {
        match self.secret {
            Some((count, fingerprint)) if count == placed => {
                self.secret = None;
                holds == Some(fingerprint)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> LastCopy {
        LastCopy { count: 0, secret: None }
    }

    #[test]
    fn a_copied_secret_still_on_the_clipboard_is_cleared() {
        let mut last = fresh();
        let copy = last.place(Some(fingerprint("ya29.token")));
        assert!(last.take_if_still_there(copy, Some(fingerprint("ya29.token"))));
        assert!(!last.take_if_still_there(copy, Some(fingerprint("ya29.token"))), "cleared once");
    }

    #[test]
    fn what_the_user_copied_since_is_left_alone() {
        let mut last = fresh();
        let copy = last.place(Some(fingerprint("ya29.token")));
        assert!(!last.take_if_still_there(copy, Some(fingerprint("my shopping list"))));
        assert!(!last.take_if_still_there(copy, None));
    }

    #[test]
    fn only_the_newest_copy_clears_so_a_second_copy_gets_its_full_time() {
        let mut last = fresh();
        let first = last.place(Some(fingerprint("ya29.token")));
        let second = last.place(Some(fingerprint("ya29.token")));
        assert!(!last.take_if_still_there(first, Some(fingerprint("ya29.token"))), "the first timer stands down");
        assert!(last.take_if_still_there(second, Some(fingerprint("ya29.token"))));
    }

    #[test]
    fn a_copy_without_a_secret_is_never_cleared_and_stops_an_earlier_clear() {
        let mut last = fresh();
        let token = last.place(Some(fingerprint("ya29.token")));
        last.place(None);
        assert!(!last.take_if_still_there(token, Some(fingerprint("ya29.token"))));
    }

    #[test]
    fn the_fingerprint_tells_texts_apart_and_is_stable_within_a_run() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }
}
