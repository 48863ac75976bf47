//! Driving the real Latch window: tauri-driver + WebKitWebDriver under the
//! Xvfb display that `make test` starts, through fantoccini.

use std::net::TcpListener;
use std::path::PathBuf;
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

/// One running Latch window over `latch`'s data directory.
pub struct Window {
    driver: Child,
    pub client: Client,
}

impl Window {
    pub async fn open(latch: &Latch) -> Window {
        let port = free_port();
        let native_port = free_port();
        let mut cmd = Command::new(tauri_driver());
        cmd.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The app inherits tauri-driver's environment: same data dir and
        // scripted browser as the CLI in this test.
        for (key, value) in latch.command(&[]).get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        let driver = cmd.spawn().expect("tauri-driver runs (make test installs it)");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": app_bin().to_str().unwrap() }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::native().capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(err) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(err) => panic!("no WebDriver session: {err}"),
            }
        };
        let window = Window { driver, client };
        window.wait_for("body").await;
        window
    }

    /// The element for a CSS selector, once it exists (20 s at most).
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("{css} never appeared: {err}"))
    }

    pub async fn testid(&self, id: &str) -> Element {
        self.wait_for(&format!("[data-testid='{id}']")).await
    }

    /// Clicks like a person: scrolled into view first.
    pub async fn click(&self, id: &str) {
        let element = self.testid(id).await;
        self.client
            .execute("arguments[0].scrollIntoView({block: 'center'});", vec![serde_json::to_value(&element).unwrap()])
            .await
            .unwrap();
        if let Err(err) = element.click().await {
            self.screenshot(&format!("failed-click-{id}")).await;
            panic!("click {id}: {err:?}");
        }
    }

    /// Types into the form input named `name`, replacing its content.
    pub async fn fill(&self, name: &str, text: &str) {
        let input = self.wait_for(&format!("[name='{name}']")).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Waits until `condition` holds, polling (20 s at most).
    pub async fn until<F, Fut>(&self, what: &str, condition: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !condition().await {
            assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
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

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        drop(self);
        // The app is a single instance: give it time to go before the next.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
