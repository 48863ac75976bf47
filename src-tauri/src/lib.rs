//! The Latch desktop shell: wires plugins, state and command handlers over
//! latch-core. Commands live in `commands/`; each is a few lines that call
//! the engine.

mod commands;
mod dto;
mod error;
mod watch;

use std::sync::Arc;

use tauri::Manager;

pub use dto::typescript_declarations;

/// Shared state: the engine and the sign-ins under way (for Cancel).
pub struct AppState {
    pub engine: Arc<latch_core::Engine>,
    pub sign_ins: commands::flows::SignIns,
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(match std::env::var("LATCH_LOG") {
            Ok(level) if !level.trim().is_empty() => format!("warn,latch_core={level},latch_app={level}"),
            _ => "warn".into(),
        }))
        .with_writer(std::io::stderr)
        .init();

    tauri::Builder::default()
        // First, so a second launch hands over to the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let engine = match latch_core::Engine::open_default() {
                Ok(engine) => Arc::new(engine),
                Err(err) => {
                    eprintln!("latch-app: {err}");
                    return Err(Box::new(err));
                }
            };
            watch::spawn_store_watch(app.handle().clone(), engine.clone());
            app.manage(AppState { engine, sign_ins: Default::default() });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::connections::connections_list,
            commands::connections::connection_get,
            commands::connections::connection_check,
            commands::connections::connection_create,
            commands::connections::connection_update,
            commands::connections::connection_remove,
            commands::flows::connection_connect,
            commands::flows::connection_connect_cancel,
            commands::flows::connection_refresh,
            commands::flows::connection_disconnect,
            commands::tokens::access_token_reveal,
            commands::requests::request_send,
            commands::requests::request_preview,
            commands::requests::request_curl,
        ])
        .run(tauri::generate_context!())
        .expect("the Latch window starts");
}
