//! Accessibility of the real window: axe-core (pinned in ui/package.json,
//! installed by scripts/install-deps.sh) runs inside the app's WebDriver
//! session on every main screen — the empty list, the picker, a preset's
//! form, the custom form (scope chips, then Advanced open), the discard question, Settings,
//! the list with connections, a healthy detail with its More menu and the
//! test request panel, the Disconnect and Delete questions, a detail that
//! needs a sign-in with its error's Details open, a connection spec opened
//! (with problems, then its form with Advanced open), a spec connection's
//! detail, its spec editor and a step run, and a sign-in under way — in the light and the dark theme, at 1040×720 and 800×600.
//! No screen may break a WCAG 2.1 A or AA rule.
//!
//! The theme follows the system: WebKitGTK reports `prefers-color-scheme:
//! dark` when GTK_THEME names a dark variant, so each run sets it and checks
//! the page really sees the theme it asked for. Screenshots of every screen
//! land in target/e2e-screenshots/a11y-THEME-SCREEN-SIZE.png.

use std::path::Path;
use std::time::Duration;

use latch_e2e::window::{within, Window};
use latch_e2e::{academy_spec_text, repo_root, Bao, Latch, Provider};
use serde_json::{json, Value};

static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The axe tags of the WCAG 2.0 and 2.1 success criteria at levels A and AA.
const WCAG_21_A_AA: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

const SIZES: [(u32, u32); 2] = [(1040, 720), (800, 600)];

#[derive(Clone, Copy, PartialEq)]
enum Theme {
    Light,
    Dark,
}

impl Theme {
    fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// GTK_THEME for the app: WebKitGTK's prefers-color-scheme follows a
    /// ":dark" variant; naming the light one keeps a dark desktop out of it.
    fn gtk_theme(self) -> &'static str {
        match self {
            Theme::Light => "Adwaita",
            Theme::Dark => "Adwaita:dark",
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_main_screen_meets_wcag_21_aa_in_the_light_theme() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(300, every_main_screen(Theme::Light)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_main_screen_meets_wcag_21_aa_in_the_dark_theme() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(300, every_main_screen(Theme::Dark)).await;
}

/// One app launch: walks every main screen, checks each with axe at both
/// sizes, and fails at the end with every violation found.
async fn every_main_screen(theme: Theme) {
    let healthy = Provider::oidc(&[]);
    let forgetful = Provider::oidc(&[]);
    let academy = Provider::academy(&[]);
    let photos = Provider::oauth1();
    let latch = Latch::new();
    // The window's browser never comes back, so its sign-in waits on screen; the CLI's signs in.
    latch.set_browser_mode("ignore");
    // Open_with takes paths; a theme name is a plain string that is also a valid path.
    let window = Window::open_with(&latch, &[("GTK_THEME", Path::new(theme.gtk_theme()))]).await;
    latch.set_browser_mode("login");
    let dark = window.client.execute("return matchMedia('(prefers-color-scheme: dark)').matches;", vec![]).await.unwrap();
    assert_eq!(dark.as_bool(), Some(theme == Theme::Dark), "the page sees the {} theme", theme.name());
    inject_axe(&window).await;
    let mut audit = Audit { window: &window, theme, screens: 0, violations: Vec::new() };

    // With nothing yet: the welcome, the picker, the forms, Settings.
    window.testid("empty-state").await;
    audit.check("empty-list").await;
    window.click("add-connection").await;
    window.wait_for("[data-testid='preset-card'][data-preset='github']").await;
    audit.check("picker").await;
    window.click_css("[data-testid='preset-card'][data-preset='github']").await;
    window.testid("preset-guide").await;
    audit.check("preset-form").await;
    window.click("back-to-providers").await;
    window.click("preset-custom").await;
    window.testid("connection-form").await;
    // Two scopes as chips, the last one focused from the keyboard (Backspace in the empty box).
    let scopes = window.testid("scope-input").await;
    scopes.send_keys("openid profile ").await.unwrap();
    scopes.send_keys("\u{E003}").await.unwrap();
    window
        .until("a chip to have the focus", || async {
            let focused = window.client.execute("return document.activeElement.dataset.testid || '';", vec![]).await.unwrap();
            focused.as_str() == Some("scope-chip")
        })
        .await;
    audit.check("custom-form").await;
    window.click("advanced-toggle").await;
    window.wait_for("#advanced-settings").await;
    audit.check("custom-form-advanced").await;
    // Escape on a changed form asks first.
    window.fill("name", "Half done").await;
    window.wait_for("[name='name']").await.send_keys("\u{E00C}").await.unwrap();
    window.testid("confirm-discard").await;
    audit.check("discard-dialog").await;
    window.click("confirm-discard").await;
    window.click("open-settings").await;
    window.testid("start-at-login").await;
    audit.check("settings").await;
    // Settings → Team: the join form, with what is missing said beside each field, then the AppRole fields.
    window.click("team-join-open").await;
    window.click("team-join-submit").await;
    window.testid("team-error-name").await;
    audit.check("settings-team-join").await;
    window.click("team-method-approle").await;
    window.testid("team-error-role_id").await;
    audit.check("settings-team-join-approle").await;
    window.click("team-join-cancel").await;
    window.click("settings-close").await;
    window.until("Settings to close", || async { !window.exists("[data-testid='settings']").await }).await;

    // A connection spec: one with problems, then one whose form has a field of each kind.
    window.click("add-connection").await;
    window.click("preset-spec").await;
    window.testid("spec-open").await;
    window.click("spec-paste").await;
    paste_into(&window, "spec-text", r#"{"communication": {"token": {"url": "{{nosuch.path}}"}}}"#).await;
    window.click("spec-open-pasted").await;
    window.testid("spec-problems").await;
    audit.check("spec-open-problems").await;
    paste_into(&window, "spec-text", &spec_with_every_field(&academy)).await;
    window.click("spec-open-pasted").await;
    window.testid("spec-form").await;
    audit.check("spec-form").await;
    window.click("spec-advanced").await;
    window.wait_for("#spec-advanced").await;
    audit.check("spec-form-advanced").await;
    window.click("cancel").await;
    window.until("the form to close", || async { !window.exists("[data-testid='spec-form']").await }).await;

    // The OAuth 1.0a form: the callback URL first, then with an RSA key, PLAINTEXT's warning and Advanced.
    window.click("add-connection").await;
    window.click("preset-oauth1").await;
    window.testid("oauth1-form").await;
    audit.check("oauth1-form").await;
    choose(&window, "o1-signature_method", "rsa_sha1").await;
    window.testid("o1-pem").await;
    audit.check("oauth1-form-rsa").await;
    choose(&window, "o1-signature_method", "plaintext").await;
    window.testid("plaintext-warning").await;
    window.click("o1-advanced").await;
    window.wait_for("#o1-advanced").await;
    audit.check("oauth1-form-advanced").await;
    window.click("cancel").await;
    window.click("confirm-discard").await;
    window.until("the form to close", || async { !window.exists("[data-testid='oauth1-form']").await }).await;

    // Connections, added with the CLI: one healthy, one that needs a sign-in
    // (its provider forgot the grant and a refresh was refused), one never connected.
    let add = |name: &str, provider: &Provider| {
        latch.ok(&[
            "add", "--name", name, "--flow", "authorization_code", "--client-id", "public-pkce",
            "--authorize-url", &provider.url("/auth"), "--token-url", &provider.url("/token"),
            "--info-url", &provider.url("/me"),
            "--scope", "openid", "--scope", "offline_access", "--scope", "profile", "--scope", "api:read",
        ]);
        latch.ok(&["connect", name]);
    };
    add("Team Drive", &healthy);
    add("Lapsed", &forgetful);
    let spec_path = latch.data_dir.path().join("academy.latch-spec.json");
    std::fs::write(&spec_path, academy_spec_text(&academy.base)).unwrap();
    latch.ok_with_stdin(
        &["add", "--spec", spec_path.to_str().unwrap(), "--name", "Academy spec", "--common", "clientId=academy-client",
          "--common-stdin", "clientSecret"],
        "academy-secret\n",
    );
    latch.ok(&["connect", "Academy spec"]);
    let (status, _) = latch_e2e::http("POST", &forgetful.url("/__test/forget-grants"), &[], "");
    assert_eq!(status, 204);
    let _ = latch.run(&["refresh", "Lapsed"]);
    latch.ok(&["add", "--name", "Not yet", "--flow", "implicit", "--client-id", "c", "--authorize-url", "https://example.com/a"]);
    // OAuth 1.0a: one connected, one whose service shows a code (not connected yet).
    for (name, callback) in [("Photos", "loopback"), ("Photos code", "oob")] {
        latch.ok_with_stdin(
            &["add", "--kind", "oauth1", "--name", name, "--consumer-key", "hmac-client", "--consumer-secret-stdin",
              "--request-token-url", &photos.url("/oauth/request_token"), "--authorize-url", &photos.url("/oauth/authorize"),
              "--access-token-url", &photos.url("/oauth/access_token"), "--callback", callback],
            "hmac-secret-5d2c81\n",
        );
    }
    latch.ok(&["connect", "Photos"]);
    for name in ["Team Drive", "Lapsed", "Not yet", "Photos", "Photos code"] {
        window.wait_for(&format!("[data-testid='connection-row'][data-name='{name}']")).await;
    }
    audit.check("list").await;

    // A use from the terminal, so Recent use has rows of two kinds (and its filter).
    latch.ok(&["token", "Team Drive"]);
    window.click_css("[data-testid='connection-row'][data-name='Team Drive']").await;
    window.until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") }).await;
    audit.check("detail-healthy").await;
    window.click("more-actions").await;
    window.wait_for("[role='menu']").await;
    audit.check("more-menu").await;
    window.click("more-actions").await;
    window.until("the menu to close", || async { !window.exists("[role='menu']").await }).await;
    window.click("test-request").await;
    window.fill("test_url", &healthy.url("/api/echo")).await;
    window.click_css("[data-testid='test-request-panel'] button[type='submit']").await;
    window.testid("response").await;
    // The test request is a use of its own: Recent use lists both, with its filter.
    window.wait_for("[data-testid='usage-filter']").await;
    audit.check("test-request").await;

    for (item, confirm) in [("disconnect", "confirm-disconnect"), ("delete", "confirm-delete")] {
        window.click("more-actions").await;
        window.click(item).await;
        window.testid(confirm).await;
        audit.check(&format!("{item}-dialog")).await;
        // The dialog's other button keeps the connection.
        window.click_css("[role='alertdialog'] button:not([data-testid])").await;
        window.until("the dialog to close", || async { !window.exists("[role='alertdialog']").await }).await;
    }

    window.click_css("[data-testid='connection-row'][data-name='Lapsed']").await;
    window
        .until("Needs sign-in", || async { window.text_of("[data-testid='detail-status']").await.contains("Needs sign-in") })
        .await;
    audit.check("detail-needs-sign-in").await;
    window.click_css("[data-testid='state'] button[aria-expanded='false']").await;
    window.testid("error-details").await;
    audit.check("error-details").await;

    // A connection made from a spec: its detail, its spec in the editor, a step run.
    window.click_css("[data-testid='connection-row'][data-name='Academy spec']").await;
    window.until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") }).await;
    audit.check("spec-detail").await;
    window.click("show-spec").await;
    window.wait_for("[data-testid='spec-editor'] .cm-editor").await;
    audit.check("spec-editor").await;
    window.click("run-info").await;
    window.testid("step-report").await;
    audit.check("spec-step-run").await;

    // An OAuth 1.0a connection: its detail, a signed test request with the curl menu open, the code field.
    window.click_css("[data-testid='connection-row'][data-name='Photos']").await;
    window.until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") }).await;
    window.testid("oauth1-facts").await;
    audit.check("oauth1-detail").await;
    window.click("test-request").await;
    window.fill("test_url", &photos.url("/api/me")).await;
    window.click_css("[data-testid='test-request-panel'] button[type='submit']").await;
    window.testid("response").await;
    window.open_menu("[data-testid='test-request-panel'] .tools button[aria-haspopup]").await;
    window.testid("curl-signed").await;
    audit.check("oauth1-test-request").await;
    window.client.execute("document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));", vec![]).await.unwrap();
    window.click_css("[data-testid='connection-row'][data-name='Photos code']").await;
    window.click("connect").await;
    window.wait_for("#pasted-address").await;
    audit.check("oauth1-code-waiting").await;
    window.click("cancel-connect").await;
    window.until("the sign-in to end", || async { !window.exists("[data-testid='waiting']").await }).await;

    // A sign-in under way: the time left and Cancel.
    window.click_css("[data-testid='connection-row'][data-name='Not yet']").await;
    window.click("connect").await;
    window.testid("cancel-connect").await;
    audit.check("sign-in-waiting").await;
    window.click("cancel-connect").await;
    window.until("the sign-in to end", || async { !window.exists("[data-testid='waiting']").await }).await;

    // A team (a real OpenBao) joined with the command line while the window is open: its section in the list,
    // then its store down — the banner over it, and Settings → Team saying so with Sign in again… open.
    let bao = Bao::start();
    latch.ok_with_stdin(
        &["team", "join", "sales", "--addr", &bao.addr, "--mount", "secret", "--path", "teams/sales"],
        &format!("{}\n", Bao::ROOT_TOKEN),
    );
    latch.ok(&[
        "add", "--team", "sales", "--name", "Company CRM", "--flow", "authorization_code", "--client-id", "crm",
        "--authorize-url", "https://crm.example.com/authorize", "--token-url", "https://crm.example.com/token",
    ]);
    window.wait_for("[data-testid='connection-row'][data-name='Company CRM']").await;
    window.click("open-settings").await;
    window.wait_for("[data-testid='team-joined']").await;
    drop(bao);
    window.click("team-sync").await;
    window.testid("team-banner").await;
    window.testid("team-unreachable").await;
    window.click("team-sign-in-again").await;
    window.testid("team-join-form").await;
    audit.check("settings-team-unreachable").await;
    window.click("team-join-cancel").await;
    window.click("settings-close").await;
    window.until("Settings to close", || async { !window.exists("[data-testid='settings']").await }).await;
    audit.check("list-team-unreachable").await;

    let Audit { screens, violations, .. } = audit;
    window.close().await;
    assert!(
        violations.is_empty(),
        "{} WCAG 2.1 A/AA violations on {screens} screens in the {} theme:\n\n{}",
        violations.len(),
        theme.name(),
        violations.join("\n\n")
    );
}

/// Chooses an option of a select as the keyboard would (WebKit's driver cannot click an option).
async fn choose(window: &Window, id: &str, value: &str) {
    let select = window.testid(id).await;
    let script = "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change', { bubbles: true }));";
    window.client.execute(script, vec![serde_json::to_value(&select).unwrap(), Value::from(value)]).await.unwrap();
}

/// Loads axe-core into the page. The app is one page: once per launch is enough.
async fn inject_axe(window: &Window) {
    let path = repo_root().join("ui/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{}: {err} (scripts/install-deps.sh installs the UI's npm packages)", path.display()));
    window.client.execute(&format!("{source}\nreturn typeof window.axe;"), vec![]).await.unwrap();
    let version = window.client.execute("return window.axe && window.axe.version;", vec![]).await.unwrap();
    assert!(version.is_string(), "axe-core did not load into the page: {version}");
}

struct Audit<'w> {
    window: &'w Window,
    theme: Theme,
    screens: usize,
    violations: Vec<String>,
}

impl Audit<'_> {
    /// Runs axe over the whole page at each size, keeps what it found and a screenshot of each.
    async fn check(&mut self, screen: &str) {
        for (width, height) in SIZES {
            resize(self.window, width, height).await;
            let size = format!("{width}x{height}");
            let shot = format!("a11y-{}-{screen}-{size}", self.theme.name());
            painted(self.window).await;
            self.window.screenshot(&shot).await;
            // As shown, then unfolded so that text below the fold is checked too.
            for unfolded in [false, true] {
                for violation in axe_violations(self.window, unfolded).await {
                    let found = format!("{screen} ({}, {size}): {violation}", self.theme.name());
                    if !self.violations.contains(&found) {
                        self.violations.push(found);
                    }
                }
            }
        }
        self.screens += 1;
    }
}

/// Lays the page out as one long document for the moment axe runs: the
/// app's panes scroll on their own and keep sticky bars, and axe cannot tell
/// the background of text scrolled out of its pane or under a sticky bar
/// (it reports it as "incomplete", not as a pass or a violation). Colours
/// stay as they are. Returns a function that puts everything back.
const UNFOLD: &str = "
    const changed = [];
    const set = (element, style) => { changed.push([element, element.style.cssText]); Object.assign(element.style, style); };
    for (const element of [document.documentElement, document.body, document.getElementById('app'), document.querySelector('.app')]) {
      if (element) set(element, { height: 'auto', minHeight: '100vh' });
    }
    for (const element of document.querySelectorAll('body *')) {
      if (element.closest('[role=alertdialog], [role=dialog], [role=menu], pre')) continue;
      const style = getComputedStyle(element);
      if (style.position === 'sticky') set(element, { position: 'static' });
      else if (['auto', 'scroll'].includes(style.overflowY) && element.scrollHeight > element.clientHeight)
        set(element, { overflowY: 'visible', height: 'auto', maxHeight: 'none' });
    }
    return () => changed.reverse().forEach(([element, css]) => { element.style.cssText = css; });";

/// axe's violations of the WCAG 2.1 A/AA rules on the page as it is now
/// (`unfolded`: laid out as one long document, see UNFOLD), one paragraph
/// each: the rule, its impact, what it asks, and every failing node's target
/// with axe's account of why.
async fn axe_violations(window: &Window, unfolded: bool) -> Vec<String> {
    let script = format!(
        "const done = arguments[arguments.length - 1]; \
         const restore = arguments[1] ? (() => {{ {UNFOLD} }})() : () => {{}}; \
         axe.run(document, {{ runOnly: {{ type: 'tag', values: arguments[0] }}, resultTypes: ['violations'] }}) \
           .then(r => {{ restore(); done(r.violations.map(v => ({{ id: v.id, impact: v.impact, help: v.help, \
             nodes: v.nodes.map(n => ({{ target: n.target.join(' '), summary: n.failureSummary || '' }})) }}))); }}) \
           .catch(e => {{ restore(); done({{ error: String(e) }}); }});"
    );
    let run = window.client.execute_async(&script, vec![json!(WCAG_21_A_AA), json!(unfolded)]);
    let found = match tokio::time::timeout(Duration::from_secs(60), run).await {
        Ok(Ok(found)) => found,
        Ok(Err(err)) => window.fail(&format!("axe did not run: {err}")).await,
        Err(_) => window.fail("axe took over 60 s").await,
    };
    if let Some(error) = found.get("error") {
        window.fail(&format!("axe failed: {error}")).await;
    }
    found.as_array().cloned().unwrap_or_default().iter().map(describe).collect()
}

fn describe(violation: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let nodes: Vec<String> = violation["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|node| format!("    {}\n      {}", text(&node["target"]), text(&node["summary"]).replace('\n', "\n      ")))
        .collect();
    format!("{} [{}] {}\n{}", text(&violation["id"]), text(&violation["impact"]), text(&violation["help"]), nodes.join("\n"))
}

/// Waits until the window has painted what the page now holds (two animation frames, then a moment).
async fn painted(window: &Window) {
    let script = "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 150)));";
    let _ = window.client.execute_async(script, vec![]).await;
}

async fn resize(window: &Window, width: u32, height: u32) {
    let script = "return [window.innerWidth, window.innerHeight];";
    let size = window.client.execute(script, vec![]).await.unwrap();
    if size[0].as_u64() == Some(u64::from(width)) {
        return;
    }
    window.client.set_window_size(width, height).await.unwrap();
    window
        .until(&format!("a {width}×{height} window"), || async {
            let size = window.client.execute(script, vec![]).await.unwrap();
            size[0].as_u64() == Some(u64::from(width)) && size[1].as_u64().is_some_and(|h| h + 40 >= u64::from(height))
        })
        .await;
}

/// Puts `text` into a textarea as a paste would (typing kilobytes key by key is slow over WebDriver).
async fn paste_into(window: &Window, id: &str, text: &str) {
    let element = window.testid(id).await;
    let script = "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', { bubbles: true }));";
    window.client.execute(script, vec![serde_json::to_value(&element).unwrap(), json!(text)]).await.unwrap();
}

/// The App Academy spec with a parameter of each kind the form shows, two of them under Advanced.
fn spec_with_every_field(academy: &Provider) -> String {
    let mut spec: Value = serde_json::from_str(&academy_spec_text(&academy.base)).unwrap();
    spec["parameters"] = json!([
        { "name": "tenant", "type": "text", "label": "Tenant", "help": "Your company's name at the service.", "required": true },
        { "name": "apiKey", "type": "password", "label": "API key" },
        { "name": "email", "type": "email", "label": "E-mail" },
        { "name": "limit", "type": "uinteger", "label": "Page size", "default": 50 },
        { "name": "sandbox", "type": "boolean", "label": "Use the sandbox", "help": "Test data only." },
        { "name": "region", "type": "select", "label": "Region", "options": [{ "label": "Europe", "value": "eu" }, { "label": "United States", "value": "us" }] },
        { "name": "tags", "type": "array", "label": "Tags", "advanced": true },
        { "name": "extra", "type": "collection", "label": "Extra headers", "advanced": true }
    ]);
    spec.to_string()
}
