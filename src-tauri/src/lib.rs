//! The Latch desktop shell: wires plugins, state and command handlers over
//! latch-core. Commands live in `commands/`; each is a few lines that call
//! the engine.

mod commands;
mod dto;
mod error;
mod events;
mod heap;
mod local_proxy;
mod notifications;
mod tray;
pub mod webview;

use std::sync::Arc;

use tauri::Manager;

pub use dto::typescript_declarations;

/// The argument the login item starts Latch with: keep the window hidden.
const STARTED_AT_LOGIN: &str = "--hidden";

/// Shared state: the engine, its refresher and the tray (absent where the
/// desktop has none). Sign-ins under way are the engine's.
pub struct AppState {
    pub engine: Arc<latch_core::Engine>,
    pub refresher: latch_core::refresher::Refresher,
    tray: Option<tray::Tray>,
    /// Tokens for `latch token` and other programs of this user, while the app runs.
    pub agent: Option<latch_core::agent::Agent>,
    /// The local proxy, while Settings has it switched on.
    pub proxy: local_proxy::LocalProxy,
}

/// Logs go to stderr, `warn` and worse unless `LATCH_LOG` asks for more of
/// Latch's own (e.g. `LATCH_LOG=debug`). A plain list of targets, not an
/// `EnvFilter`: that one compiles regular expressions at every start.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let warn_only = || tracing_subscriber::filter::Targets::new().with_default(tracing_subscriber::filter::LevelFilter::WARN);
    let filter = match std::env::var("LATCH_LOG").unwrap_or_default().trim() {
        "" => warn_only(),
        level => format!("warn,latch_core={level},latch_app={level}").parse().unwrap_or_else(|_| {
            eprintln!("latch-app: LATCH_LOG={level:?} is not a log level (error, warn, info, debug, trace); logging warnings only");
            warn_only()
        }),
    };
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
}

pub fn run() {
    init_logging();

    // Opened on another thread while GTK starts and the window is built
    // (SQLite, the TLS roots: 15–25 ms), so setup finds it ready instead of
    // holding up the main thread that serves the page to WebKit.
    let opening = std::thread::spawn(latch_core::Engine::open_default);

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
        // Started at login: straight to the tray, no window.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![STARTED_AT_LOGIN]),
        ))
        .plugin(tauri_plugin_dialog::init())
        // Rust-side only: the shell copies secrets itself; the web view has
        // no clipboard permission (capabilities/).
        .plugin(tauri_plugin_clipboard_manager::init())
        .setup(move |app| {
            if let Some(window) = app.get_webview_window("main") {
                webview::lighten(&window);
            }
            let opened = opening.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let engine = match opened {
                Ok(engine) => Arc::new(engine),
                Err(err) => {
                    eprintln!("latch-app: {err}");
                    return Err(Box::new(err));
                }
            };
            // Subscribed before the refresher starts: its first look may
            // already have something to announce.
            events::forward_engine_events(app.handle().clone(), &engine);
            let refresher = {
                let _runtime = tauri::async_runtime::handle().inner().enter();
                latch_core::refresher::Refresher::spawn(engine.clone())
            };
            let tray = match tray::Tray::build(app.handle()) {
                Ok(tray) => Some(tray),
                Err(err) => {
                    tracing::warn!(error = %err, "no tray icon; Latch keeps running with its window");
                    None
                }
            };
            // The agent: none when the session has no runtime directory, or
            // when `latch agent` already answers there.
            let agent = latch_core::agent::socket_path().and_then(|path| {
                let started = tauri::async_runtime::block_on(latch_core::agent::Agent::start(engine.clone(), &path));
                started.map_err(|err| tracing::info!(error = %err, "no agent in the app")).ok()
            });
            app.manage(AppState { engine: engine.clone(), refresher, tray, agent, proxy: Default::default() });
            // Switched on in Settings: the proxy runs from launch (a port in use is said there, not fatal).
            if let Ok(settings) = engine.settings().map_err(|err| tracing::warn!(error = %err, "settings unreadable")) {
                if settings.proxy_enabled {
                    let state = app.state::<AppState>();
                    tauri::async_runtime::block_on(state.proxy.apply(&engine, state.agent.as_ref(), &settings));
                }
            }
            events::keep_teams_synced(app.handle().clone(), engine.clone());
            events::watch_other_processes(app.handle().clone(), engine);
            events::show_change(app.handle());
            heap::give_back_after_start();
            if std::env::args().any(|arg| arg == STARTED_AT_LOGIN) && app.state::<AppState>().tray.is_some() {
                if let Some(window) = app.get_webview_window("main") {
                    let _ = window.hide();
                }
            }
            Ok(())
        })
        // Closing the window hides it: the app keeps connections alive from
        // the tray. Quit is in the tray menu.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let has_tray = window.app_handle().try_state::<AppState>().is_some_and(|s| s.tray.is_some());
                if has_tray {
                    let _ = window.hide();
                    api.prevent_close();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::connections::connections_list,
            commands::connections::connection_get,
            commands::connections::connection_template,
            commands::connections::connection_draft,
            commands::connections::connection_check,
            commands::connections::connection_create,
            commands::connections::connection_create_from_api,
            commands::connections::connection_update,
            commands::connections::connection_remove,
            commands::flows::sign_in_start,
            commands::flows::sign_in_cancel,
            commands::flows::sign_in_submit_address,
            commands::flows::connection_refresh,
            commands::flows::connection_disconnect,
            commands::tokens::access_token_reveal,
            commands::tokens::access_token_copy,
            commands::requests::request_send,
            commands::requests::request_preview,
            commands::requests::request_curl_copy,
            commands::providers::presets_list,
            commands::providers::preset_draft,
            commands::providers::issuer_discover,
            commands::transfer::connections_export,
            commands::transfer::import_choose,
            commands::transfer::connections_import,
            commands::settings::settings_get,
            commands::settings::settings_save,
            commands::proxy::proxy_state,
            commands::proxy::proxy_key_copy,
            commands::usage::connection_usage,
            commands::specs::spec_open_file,
            commands::specs::spec_open_text,
            commands::specs::spec_parameter_check,
            commands::specs::spec_create,
            commands::specs::spec_edit,
            commands::specs::spec_step_run,
            commands::specs::spec_schema,
            commands::mtls::client_certificate_check,
            commands::mtls::client_certificate_choose,
            commands::mtls::client_identity_set,
            commands::mtls::client_certificate_pem,
            commands::oauth1::oauth1_private_key_check,
            commands::oauth1::oauth1_private_key_choose,
            commands::oauth1::oauth1_private_key_set,
            commands::teams::teams_list,
            commands::teams::team_join,
            commands::teams::team_sync,
            commands::teams::team_leave,
            commands::teams::team_ca_choose,
        ])
        .run(tauri::generate_context!())
        .expect("the Latch window starts");
}
