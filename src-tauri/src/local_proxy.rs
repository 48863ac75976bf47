//! The local proxy as the Settings switch runs it: started at launch when
//! it is on, started, moved or stopped when the settings are saved, and
//! announced to the agent so `latch exec` and `latch proxy --print-env`
//! find it. A port it cannot listen on is a problem to show in Settings,
//! never a reason for the app to fail.

use std::sync::Arc;

use latch_core::agent::Agent;
use latch_core::proxy::Proxy;
use latch_core::settings::Settings;
use latch_core::Engine;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::dto::ProxyStateDto;

#[derive(Default)]
pub struct LocalProxy {
    inner: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    /// The port asked for (0: any) and the proxy listening for it.
    proxy: Option<(u16, Proxy)>,
    /// Why the proxy that was switched on is not running.
    problem: Option<String>,
}

impl LocalProxy {
    /// Brings the proxy in line with `settings`: starts it, moves it to a
    /// newly chosen port or stops it. One already running as asked keeps
    /// its address and key, so scripts using it are not cut off by a save.
    pub async fn apply(&self, engine: &Arc<Engine>, agent: Option<&Agent>, settings: &Settings) {
        let mut running = self.inner.lock().await;
        let wanted = settings.proxy_enabled.then_some(settings.proxy_port);
        if wanted.is_some() && running.proxy.as_ref().map(|(port, _)| *port) == wanted {
            return;
        }
        // The old one stops first: a move to a port it holds must find it free.
        running.proxy = None;
        running.problem = None;
        if let Some(port) = wanted {
            match Proxy::start(engine.clone(), port).await {
                Ok(proxy) => running.proxy = Some((port, proxy)),
                Err(err) => {
                    tracing::warn!(error = %err, "the local proxy did not start");
                    running.problem = Some(err.message);
                }
            }
        }
        if let Some(agent) = agent {
            agent.set_proxy(running.proxy.as_ref().map(|(_, proxy)| proxy.info().clone()));
        }
    }

    /// Where the proxy answers, or why it does not: no key.
    pub async fn state(&self) -> ProxyStateDto {
        let running = self.inner.lock().await;
        ProxyStateDto {
            address: running.proxy.as_ref().map(|(_, proxy)| proxy.info().url.clone()),
            problem: running.problem.clone(),
        }
    }

    /// The running proxy's key, for the clipboard (never for the page).
    pub async fn key(&self) -> Option<Zeroizing<String>> {
        self.inner.lock().await.proxy.as_ref().map(|(_, proxy)| proxy.info().key.clone())
    }
}
