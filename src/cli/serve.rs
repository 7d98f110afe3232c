//! `nestevo serve` (the edge server as an HTTP service) and `nestevo serve-load` (its load
//! test); see docs/service.md.

use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
#[command(group = clap::ArgGroup::new("experiment").required(true).args(["preset", "config"]))]
pub struct ServeArgs {
    /// The server file EDGE.toml (experiment, method, admin token file, bounds).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve a compiled-in experiment (smoke, demo, paper) with default bounds.
    #[arg(long)]
    preset: Option<String>,
    /// The state folder: state.db (SQLite), frames/, models/, global/, admin.token.
    #[arg(long)]
    state: PathBuf,
    /// Address to listen on; loopback unless you choose otherwise.
    #[arg(long, default_value = "127.0.0.1:8470")]
    listen: std::net::SocketAddr,
    /// The admin token's file (overrides the config's).
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Seconds a window's first evolution request waits for the other terminals' (overrides
    /// the config's).
    #[arg(long)]
    window_timeout_s: Option<f64>,
    #[arg(long)]
    cpu: bool,
    /// LibTorch CPU threads of the evolution worker.
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct LoadArgs {
    /// The server, e.g. http://127.0.0.1:8470.
    #[arg(long)]
    server: String,
    /// The admin token's file (the load test registers its terminals).
    #[arg(long)]
    admin_token_file: PathBuf,
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// The shipped checkpoint the load terminals register with.
    #[arg(long, default_value = "M1")]
    model: String,
    /// Also run one evolution request while the load runs.
    #[arg(long)]
    evolve: bool,
    /// Prefix of the terminals' ids (default: load-<unix seconds>).
    #[arg(long)]
    prefix: Option<String>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

#[cfg(feature = "torch")]
pub fn serve(a: ServeArgs) -> anyhow::Result<()> {
    use nestevo_serve::{edge_evolver::EdgeEvolver, ServeConfig};
    let mut cfg = match (&a.config, &a.preset) {
        (Some(f), _) => ServeConfig::load(f)?,
        (None, Some(p)) => ServeConfig::preset(p)?,
        (None, None) => anyhow::bail!("give --config EDGE.toml or --preset NAME"),
    };
    if let Some(f) = a.admin_token_file {
        cfg.admin_token_file = Some(f);
    }
    if let Some(t) = a.window_timeout_s {
        anyhow::ensure!(
            t.is_finite() && t >= 0.0,
            "--window-timeout-s {t}: seconds, 0 or more"
        );
        cfg.window_timeout_s = t;
    }
    if let Some(t) = a.threads.or(cfg.threads) {
        anyhow::ensure!(t > 0, "--threads {t}: allowed is 1 or more");
        tch::set_num_threads(t);
    }
    let device = if a.cpu {
        tch::Device::Cpu
    } else {
        tch::Device::cuda_if_available()
    };
    let exp = cfg.experiment()?;
    let method = cfg.method.clone();
    let work = a.state.join("work");
    let make: nestevo_serve::worker::EvolverFactory = Box::new(move || {
        Ok(Box::new(EdgeEvolver::new(&exp, &method, device, &work)?)
            as Box<dyn nestevo_serve::worker::Evolver>)
    });
    let token_file = cfg
        .admin_token_file
        .clone()
        .unwrap_or_else(|| a.state.join("admin.token"));
    let running = nestevo_serve::start(cfg, &a.state, a.listen, make)?;
    eprintln!(
        "nestevo serve: listening on http://{} (state {}, admin token in {}); SIGTERM or \
         Ctrl-C stops",
        running.addr,
        a.state.display(),
        token_file.display()
    );
    running.wait();
    Ok(())
}

#[cfg(not(feature = "torch"))]
super::needs_torch! {
    serve(ServeArgs) => "serve";
    load(LoadArgs) => "serve-load";
}

#[cfg(feature = "torch")]
pub fn load(a: LoadArgs) -> anyhow::Result<()> {
    use nestevo_serve::load;
    let token = std::fs::read_to_string(&a.admin_token_file)
        .map_err(|e| anyhow::anyhow!("--admin-token-file {}: {e}", a.admin_token_file.display()))?
        .trim()
        .to_string();
    anyhow::ensure!(a.clients >= 1, "--clients {}: at least 1", a.clients);
    anyhow::ensure!(
        a.seconds > 0.0 && a.seconds <= 3600.0,
        "--seconds {}: more than 0, at most 3600",
        a.seconds
    );
    let prefix = a.prefix.unwrap_or_else(|| {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("load-{s}")
    });
    let r = load::run(&load::LoadOptions {
        server: a.server,
        admin_token: token,
        clients: a.clients,
        seconds: a.seconds,
        model: a.model,
        prefix,
        evolve: a.evolve,
    })?;
    let json = serde_json::to_string_pretty(&r)?;
    if let Some(p) = a.json_out {
        nestevo_core::error::write_atomic(&p, json.as_bytes())?;
    }
    println!("{json}");
    Ok(())
}
