//! The load test (`nestevo serve-load`): `clients` terminals registered afresh, each on its own
//! thread uploading 96x96 PNG frames (distinct stream times) as fast as the server takes them
//! for `seconds`; reported: frames/s sustained, p50/p99/max upload latency (request sent to
//! 202 read), the server's memory (VmRSS sampled each second through /healthz, and its peak
//! VmHWM). With `evolve`, one more terminal uploads its window and asks for an evolution at
//! the start, so the same load runs while the worker trains; the request's wall time is
//! reported with whether it overlapped the load.

use super::client::Client;
use super::error::{Result, ServeError};
use nestevo_data::encode_png;
use nestevo_data::{Stream, StreamId};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct LoadOptions {
    pub server: String,
    pub admin_token: String,
    pub clients: usize,
    pub seconds: f64,
    /// The shipped checkpoint the load terminals register with (its input is the frame size).
    pub model: String,
    /// A prefix for the terminals' ids (unique per run).
    pub prefix: String,
    pub evolve: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvolutionUnderLoad {
    pub request_id: i64,
    pub state: String,
    pub action: Option<String>,
    /// From the request to done, seconds.
    pub seconds: f64,
    /// Whether it finished before the load ended (it trained under load throughout).
    pub finished_under_load: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub clients: usize,
    pub seconds: f64,
    pub frames: u64,
    pub frames_per_s: f64,
    pub bytes_per_frame: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    pub retries: u64,
    pub server_rss_start_mb: f64,
    pub server_rss_max_mb: f64,
    pub server_peak_rss_mb: f64,
    pub evolution: Option<EvolutionUnderLoad>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn err(e: super::client::ClientError) -> ServeError {
    ServeError::Fault(format!("load test: {e}"))
}

pub fn run(o: &LoadOptions) -> Result<LoadReport> {
    let mut admin = Client::new(&o.server, Some(o.admin_token.clone()));
    admin.verbose = true;
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    // 64 distinct frames, encoded once (the server decodes every upload).
    let st = Stream::new(StreamId::D, 7);
    let pngs: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..64)
            .map(|i| {
                let f = st.frame(i * 7);
                encode_png(f.width, f.height, &f.rgb)
            })
            .collect(),
    );
    let bytes_per_frame = pngs.iter().map(Vec::len).sum::<usize>() / pngs.len();
    let mut tokens = Vec::new();
    for k in 0..o.clients {
        let id = format!("{}-{k}", o.prefix);
        tokens.push((
            id.clone(),
            admin.register(&id, &o.model, "D").map_err(err)?.token,
        ));
    }
    let rss0 = admin.health().map_err(err)?.rss_bytes;
    let done = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let evo = if o.evolve {
        let id = format!("{}-evo", o.prefix);
        let reg = admin.register(&id, &o.model, "E").map_err(err)?;
        let c = admin.with_token(&reg.token);
        let st = Stream::new(StreamId::E, 11);
        for i in 0..reg.next_upload.max(1) as u64 {
            let f = st.frame(i * 5);
            c.put_frame(&id, f.time_s, &encode_png(f.width, f.height, &f.rgb))
                .map_err(err)?;
        }
        let r = c.evolve(&id, Some("load-evolution")).map_err(err)?;
        let done = done.clone();
        Some(std::thread::spawn(move || -> Result<EvolutionUnderLoad> {
            let t = Instant::now();
            let s = c
                .wait_evolution(r.request_id, Duration::from_secs(3600))
                .map_err(err)?;
            Ok(EvolutionUnderLoad {
                request_id: s.request_id,
                state: s.state,
                action: s.action,
                seconds: t.elapsed().as_secs_f64(),
                finished_under_load: !done.load(Ordering::Relaxed),
            })
        }))
    } else {
        None
    };
    let deadline = t0 + Duration::from_secs_f64(o.seconds);
    let mut handles = Vec::new();
    for (id, token) in tokens {
        let c = admin.with_token(&token);
        let pngs = pngs.clone();
        handles.push(std::thread::spawn(move || {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match c.put_frame(&id, i as f64 * 0.04, &pngs[i as usize % pngs.len()]) {
                    Ok(_) => lat.push(t.elapsed().as_secs_f64() * 1e3),
                    Err(_) => errors += 1,
                }
                i += 1;
            }
            (lat, errors, c.retries.get())
        }));
    }
    let mut rss_max = rss0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1).min(deadline - Instant::now().min(deadline)));
        if let Ok(h) = admin.health() {
            rss_max = rss_max.max(h.rss_bytes);
        }
    }
    let (mut lat, mut errors, mut retries) = (Vec::new(), 0, 0);
    for h in handles {
        let (l, e, r) = h.join().expect("a load thread");
        lat.extend(l);
        errors += e;
        retries += r;
    }
    let seconds = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let h = admin.health().map_err(err)?;
    lat.sort_by(f64::total_cmp);
    let evolution = match evo {
        Some(t) => Some(t.join().expect("the evolution thread")?),
        None => None,
    };
    Ok(LoadReport {
        clients: o.clients,
        seconds,
        frames: lat.len() as u64,
        frames_per_s: lat.len() as f64 / seconds,
        bytes_per_frame,
        p50_ms: quantile(&lat, 0.5),
        p99_ms: quantile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(f64::NAN),
        errors,
        retries,
        server_rss_start_mb: mb(rss0),
        server_rss_max_mb: mb(rss_max.max(h.rss_bytes)),
        server_peak_rss_mb: mb(h.peak_rss_bytes),
        evolution,
    })
}
