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
