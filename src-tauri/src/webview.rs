//! WebKitGTK settings for Latch's window, chosen by measurement
//! (`bench/README.md`).
//!
//! Hardware acceleration off: WebKitGTK then paints the page in the web
//! process's own memory instead of compositing GPU layers: 50–80 MB less
//! per launch (no GL context, no layer backing stores for the scrolling
//! panes) and an earlier first paint, measured under Xvfb. The
//! user loses nothing visible: the UI is lists and forms without animations,
//! 3D transforms, video or WebGL. It is set here, per webview, rather than
//! with `WEBKIT_DISABLE_COMPOSITING_MODE`, so the environment of processes
//! started from Latch stays as it was; and not while WebDriver drives the
//! window (below), so the window tests' screenshots work.

/// The JavaScript engine's settings for the web process, which takes them
/// from its environment only: set here, in `main`, before any thread or
/// process starts, unless the user set them.
///
/// `JSC_useJIT=0`: the page's JavaScript runs in JavaScriptCore's
/// interpreter, with no just-in-time compiler. Measured (bench/README.md):
/// the web process holds about 10 MB less at idle, and the first paint does
/// not move beyond the noise: Latch's page is forms and a list, whose code
/// runs a few times, not the hot loops a JIT pays off on. And a page that
/// shows secrets has no executable memory written at run time, the kind
/// of memory JIT bugs are exploited through. `JSC_useJIT=1 latch-app`
/// brings the JIT back.
///
/// The names go in `LATCH_WEBVIEW_ENV` too: Latch starts the browser
/// without them (`latch_core::SystemBrowser`), so a WebKit browser keeps
/// its JIT.
pub const WEB_PROCESS_ENV: &[(&str, &str)] = &[("JSC_useJIT", "0")];

/// Sets [`WEB_PROCESS_ENV`] (what the user has not set already). Call first
/// thing in `main`: changing the environment is only safe while this is the
/// process's one thread.
pub fn set_web_process_env() {
    let mut set = Vec::new();
    for (name, value) in WEB_PROCESS_ENV {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
            set.push(*name);
        }
    }
    if !set.is_empty() {
        std::env::set_var(latch_core::WEBVIEW_ENV_MARKER, set.join(","));
    }
}

/// Applies the settings to `window`'s webview. Called once, in setup.
pub fn lighten(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    {
        let applied = window.with_webview(|webview| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt};
            let webview = webview.inner();
            // Under WebDriver (tauri-driver sets TAURI_WEBVIEW_AUTOMATION, wry
            // allows automation on the context) WebKit's default stays: in
            // non-accelerated mode WebKitWebDriver's screenshot waits for a
            // repaint that never comes while the page is still (seen here
            // with the empty list, the list and Settings).
            if webview.context().is_some_and(|context| context.is_automation_allowed()) {
                return;
            }
            if let Some(settings) = webview.settings() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        if let Err(err) = applied {
            tracing::warn!(error = %err, "could not turn hardware acceleration off; the window keeps WebKit's default");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
