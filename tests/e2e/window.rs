//! Driving the real Latch window: tauri-driver + WebKitWebDriver under the
//! Xvfb display that `make test` starts, through fantoccini.

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::{repo_root, Latch};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The desktop binary, built with its UI embedded (`make build`).
pub fn app_bin() -> PathBuf {
    let path = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("debug/latch-app");
    assert!(path.exists(), "{} is missing: run `make build` (make test does)", path.display());
    path
}

fn tauri_driver() -> PathBuf {
    let local = repo_root().join("target/tools/bin/tauri-driver");
    if local.exists() {
        local
    } else {
        PathBuf::from("tauri-driver")
    }
}

/// Runs one desktop test body with a deadline: a test that hangs fails
/// instead, and dropping its `Window`/`App` stops every process it started.
pub async fn within<F: Future<Output = ()>>(seconds: u64, test: F) {
    if tokio::time::timeout(Duration::from_secs(seconds), test).await.is_err() {
        panic!("the test did not finish within {seconds} s");
    }
}

/// A process tree started for one test (tauri-driver with WebKitWebDriver
/// and the app under it, or the app alone), in its own process group. On
/// drop the whole group is killed, and so is any process still running over
/// the test's data directory, and the drop waits until they are gone: the
/// app is a single instance per D-Bus session, so a leftover from one test
/// would swallow the next test's launch.
pub struct Processes {
    child: Child,
    data_dir: PathBuf,
}

impl Processes {
    /// Spawns `cmd` in a new process group with `latch`'s environment (same
    /// data dir and scripted browser as the CLI in the test).
    /// The desktop app alone, window and tray, as a person runs it.
    pub fn app(latch: &Latch) -> Processes {
        Self::spawn(Command::new(app_bin()), latch)
    }

    pub fn spawn(mut cmd: Command, latch: &Latch) -> Processes {
        for (key, value) in latch.command(&[]).get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        let child = cmd
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{:?} did not start: {err}", cmd.get_program()));
        Processes { child, data_dir: latch.data_dir.path().to_owned() }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
        let started = Instant::now();
        loop {
            let left = processes_over(&self.data_dir);
            if left.is_empty() {
                break;
            }
            for pid in &left {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
            }
            if started.elapsed() > Duration::from_secs(10) {
                eprintln!("processes {left:?} over {} would not die", self.data_dir.display());
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn is_stale(err: &fantoccini::error::CmdError) -> bool {
    matches!(err, fantoccini::error::CmdError::Standard(e) if e.error == fantoccini::error::ErrorStatus::StaleElementReference)
}

/// A click that landed on another element: the page moved between the
/// scroll and the click (a re-render above it, the sticky footer changing).
/// Scrolling again and clicking again is what a person would do.
fn is_intercepted(err: &fantoccini::error::CmdError) -> bool {
    matches!(err, fantoccini::error::CmdError::Standard(e) if e.error == fantoccini::error::ErrorStatus::ElementClickIntercepted)
}

/// Every process whose environment names `data_dir` as LATCH_DATA_DIR.
fn processes_over(data_dir: &Path) -> Vec<u32> {
    let needle = format!("LATCH_DATA_DIR={}", data_dir.display()).into_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_slice()))
        })
        .collect()
}

/// The environment of the window's web process (WebKitWebProcess, over
/// `latch`'s data directory), as `NAME=value` entries.
pub fn web_process_env(latch: &Latch) -> Vec<String> {
    processes_over(latch.data_dir.path())
        .into_iter()
        .find(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "WebKitWebProces"))
        .and_then(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok())
        .map(|env| env.split(|b| *b == 0).map(|var| String::from_utf8_lossy(var).into_owned()).collect())
        .unwrap_or_default()
}

/// Scrolls the element to the middle of the view and waits until it stays
/// where it is (its box the same in three looks 30 ms apart; 1 s at most):
/// WebDriver dispatches a click at the centre the element had a moment
/// before, and a page still moving (a response rendering, a section
/// opening, validation messages appearing) would take it elsewhere.
const SCROLL_AND_SETTLE: &str = r#"
const [element, done] = arguments;
element.scrollIntoView({ block: "center" });
let last = "", same = 0, looks = 0;
const look = () => {
  const box = element.getBoundingClientRect();
  const now = [box.x, box.y, box.width, box.height].join();
  same = now === last ? same + 1 : 0;
  last = now;
  if (same >= 2 || ++looks > 33) done(); else setTimeout(look, 30);
};
look();
"#;

/// One running Latch window over `latch`'s data directory.
pub struct Window {
    pub client: Client,
    // Dropped after the client: kills tauri-driver, WebKitWebDriver and the app.
    _processes: Processes,
}

impl Window {
    pub async fn open(latch: &Latch) -> Window {
        Self::open_with(latch, &[]).await
    }

    /// Opens the window with extra environment, e.g. a private HOME.
    pub async fn open_with(latch: &Latch, env: &[(&str, &Path)]) -> Window {
        Self::launch(latch, env, &[]).await
    }

    /// Starts the app with command-line arguments (`--hidden`: as at login).
    pub async fn open_args(latch: &Latch, args: &[&str]) -> Window {
        Self::launch(latch, &[], args).await
    }

    async fn launch(latch: &Latch, env: &[(&str, &Path)], args: &[&str]) -> Window {
        let port = free_port();
        let native_port = free_port();
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()]);
        cmd.envs(env.iter().copied());
        let processes = Processes::spawn(cmd, latch);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("tauri:options".into(), json!({ "application": app_bin().to_str().unwrap(), "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            // One attempt can hang when the app never reaches WebKitWebDriver.
            let mut builder = ClientBuilder::native();
            let attempt = builder.capabilities(capabilities.clone()).connect(&url);
            let error = match tokio::time::timeout(Duration::from_secs(20), attempt).await {
                Ok(Ok(client)) => break client,
                Ok(Err(err)) => err.to_string(),
                Err(_) => "the session request took over 20 s".to_owned(),
            };
            if started.elapsed() > Duration::from_secs(45) {
                panic!("no WebDriver session with the app: {error}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let window = Window { client, _processes: processes };
        window.wait_for("body").await;
        window
    }

    /// The element for a CSS selector, once it exists (20 s at most).
    pub async fn wait_for(&self, css: &str) -> Element {
        match self.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(err) => self.fail(&format!("{css} never appeared: {err}")).await,
        }
    }

    /// Fails the test with what the window showed: its text in the message
    /// and a screenshot under target/e2e-screenshots/failed-*.png.
    pub async fn fail(&self, what: &str) -> ! {
        let shown = tokio::time::timeout(Duration::from_secs(5), self.text_of("body")).await.unwrap_or_default();
        let name: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(60).collect();
        if let Ok(Ok(png)) = tokio::time::timeout(Duration::from_secs(5), self.client.screenshot()).await {
            let dir = repo_root().join("target/e2e-screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("failed-{name}.png")), png);
        }
        panic!("{what}\nThe window showed:\n{shown}");
    }

    pub async fn testid(&self, id: &str) -> Element {
        self.wait_for(&format!("[data-testid='{id}']")).await
    }

    /// Clicks like a person: scrolled into view first. An element replaced
    /// by a re-render in between is looked up again; a click that landed on
    /// something else because the page moved is tried again.
    pub async fn click(&self, id: &str) {
        self.click_css(&format!("[data-testid='{id}']")).await
    }

    /// [`Window::click`] on the first element matching `css`.
    pub async fn click_css(&self, css: &str) {
        let started = Instant::now();
        loop {
            let element = self.wait_for(css).await;
            let outcome = async {
                self.client.execute_async(SCROLL_AND_SETTLE, vec![serde_json::to_value(&element)?]).await?;
                element.click().await
            }
            .await;
            match outcome {
                Ok(()) => return,
                Err(err) if (is_stale(&err) || is_intercepted(&err)) && started.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => self.fail(&format!("click {css}: {err:?}")).await,
            }
        }
    }

    /// Screenshots of the screen as it is now at both sizes the app is
    /// checked at (1040×720 and 800×600), saved as `NAME-WxH.png`; with
    /// `shown`, the first element matching that CSS selector is scrolled
    /// into view first (`block`: start, center or end). The window is left
    /// at 1040×720.
    pub async fn screenshots(&self, name: &str, shown: Option<&str>, block: &str) {
        for (width, height) in [(1040, 720), (800, 600)] {
            self.client.set_window_size(width, height).await.unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
            if let Some(css) = shown {
                let element = self.wait_for(css).await;
                let script = format!("arguments[0].scrollIntoView({{ block: '{block}' }});");
                self.client.execute(&script, vec![serde_json::to_value(&element).unwrap()]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            self.screenshot(&format!("{name}-{width}x{height}")).await;
        }
        self.client.set_window_size(1040, 720).await.unwrap();
    }

    /// Opens the connection form's Advanced settings, clicking again if a
    /// click landed while the form was still moving (the fix count
    /// appearing below it).
    pub async fn open_advanced(&self) {
        for _ in 0..5 {
            self.click("advanced-toggle").await;
            for _ in 0..10 {
                if self.exists("[data-testid='advanced-toggle'][aria-expanded='true']").await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        self.fail("Advanced settings did not open").await;
    }

    /// Saves the connection form once the engine has found it valid, and
    /// waits until it is saved.
    pub async fn save_form(&self) {
        let save = self.testid("save").await;
        self.until("Save to be enabled", || async { save.is_enabled().await.unwrap_or(false) }).await;
        self.click("save").await;
        // The click returns once dispatched, not once saved: a test that reads
        // the data directory next would race the save. A saved form gives way
        // to the connection's detail; one the app refused stays, with its
        // errors, and the failure's screenshot shows them.
        self.until("the form to be saved and closed", || async { !self.exists("[data-testid='save']").await }).await;
    }

    /// Types into the form input named `name`, replacing its content.
    pub async fn fill(&self, name: &str, text: &str) {
        let started = Instant::now();
        loop {
            let input = self.wait_for(&format!("[name='{name}']")).await;
            let outcome = async {
                input.clear().await?;
                input.send_keys(text).await
            }
            .await;
            match outcome {
                Ok(()) => return,
                Err(err) if is_stale(&err) && started.elapsed() < Duration::from_secs(20) => {}
                Err(err) => self.fail(&format!("typing into {name}: {err:?}")).await,
            }
        }
    }

    /// Opens the menu of the menu button `css` (MenuButton.svelte) and waits
    /// until it is open. A click is dispatched at the button's centre as it
    /// was a moment before: when the page is still moving (a response just
    /// rendered below it), that can land beside the button, so a button
    /// still closed a second later is clicked again (20 s at most).
    pub async fn open_menu(&self, css: &str) {
        let started = Instant::now();
        loop {
            self.click_css(css).await;
            for _ in 0..5 {
                let expanded = self.wait_for(css).await.attr("aria-expanded").await.ok().flatten();
                if expanded.as_deref() == Some("true") {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if started.elapsed() > Duration::from_secs(20) {
                self.fail(&format!("the menu of {css} never opened")).await;
            }
        }
    }

    /// Waits until `condition` holds, polling (20 s at most).
    pub async fn until<F, Fut>(&self, what: &str, condition: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !condition().await {
            if started.elapsed() > Duration::from_secs(20) {
                self.fail(&format!("timed out waiting for {what}")).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Text of the first element matching `css`, or "" if there is none.
    pub async fn text_of(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Text of the first element matching `css` once it shows some (20 s at
    /// most): for reading what an action has just put on screen.
    pub async fn shown(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text_of(css).await;
            if !text.trim().is_empty() {
                return text;
            }
            if started.elapsed() > Duration::from_secs(20) {
                self.fail(&format!("{css} never showed any text")).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Saves a screenshot under target/e2e-screenshots/.
    pub async fn screenshot(&self, name: &str) {
        let dir = repo_root().join("target/e2e-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Ends the WebDriver session; dropping the window then stops every
    /// process the test started.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
    }
}
