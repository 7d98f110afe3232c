//! The edge server as an HTTP service (the paper's Fig. 2 and 7): terminals register,
//! upload frames, ask for evolution at the end of each window and download their evolved
//! models; the evolution loop itself is `evolve::edge::Edge`, which never knows about HTTP.
//!
//! Layers, each knowing only the one below: `http` (axum routes, OpenAPI, metrics) over
//! `service` (registration, tokens, frames, requests, versions; no HTTP) over `store` (SQLite
//! in WAL mode, frames and checkpoints as files written atomically); `worker` drives an
//! `Evolver` (the real one: `edge_evolver`) on its own thread. `client` is the HTTP client
//! (retries with backoff), `terminal` the terminal that plays a stream against the server,
//! `load` the load test. See docs/service.md.

pub mod client;
pub mod config;
pub mod edge_evolver;
pub mod error;
pub mod http;
pub mod load;
pub mod metrics;
pub mod service;
pub mod store;
pub mod terminal;
pub mod worker;

pub use config::ServeConfig;
pub use error::{Result, ServeError};
pub use service::Service;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A running server: its address, its state, and the threads that run it.
pub struct Running {
    pub addr: SocketAddr,
    pub svc: Arc<Service>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    worker: Option<worker::Worker>,
}

/// Opens the state folder, puts requests that were running back in the queue, starts the
/// evolution worker and listens on `listen` (port 0: any free port).
pub fn start(
    cfg: ServeConfig,
    state: &Path,
    listen: SocketAddr,
    make: worker::EvolverFactory,
) -> Result<Running> {
    let svc = Service::open(cfg, state)?;
    let requeued = svc.requeue_running()?;
    if requeued > 0 {
        eprintln!("recovered: {requeued} evolution request(s) that were running run again");
    }
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| ServeError::Config(format!("--listen {listen}: cannot bind: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServeError::Fault(format!("listener: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Fault(format!("listener: {e}")))?;
    let worker = worker::spawn(svc.clone(), make);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = http::router(svc.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(num_cpus::get().clamp(2, 4))
        .enable_all()
        .build()
        .map_err(|e| ServeError::Fault(format!("async runtime: {e}")))?;
    let thread = std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("a bound listener");
                let stop = async move {
                    tokio::select! {
                        _ = rx => {},
                        _ = signal() => {},
                    }
                };
                if let Err(e) = axum::serve(l, router).with_graceful_shutdown(stop).await {
                    eprintln!("server: {e}");
                }
            });
        })
        .map_err(|e| ServeError::Fault(format!("server thread: {e}")))?;
    Ok(Running {
        addr,
        svc,
        shutdown: Some(tx),
        thread: Some(thread),
        worker: Some(worker),
    })
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Running {
    /// Blocks until SIGINT or SIGTERM, then stops. A window still training is left to the
    /// next start (its requests are recovered), so stopping never waits for LibTorch.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stop_worker(false);
    }

    /// Stops listening and the worker (waiting for a window in progress to end).
    pub fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stop_worker(true);
    }

    fn stop_worker(&mut self, join: bool) {
        if let Some(w) = self.worker.take() {
            w.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            if join {
                let _ = w.handle.join();
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stop_worker(true);
    }
}
