//! `nestevo sched profile | profile-one | run`: the scheduler's real runs (LibTorch).

use super::sched::{sized_jobs, ModelArgs};
use anyhow::Context;
use clap::Args;
use nestevo_evolve::jobs::{job_work, prepare, reset_peak, rss_mb, run_job, train};
use nestevo_sched::policy::{choose, validate, Policy, State};
use nestevo_sched::profile::ProfileRun;
use nestevo_sched::{load_jobs, Job, JobKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct ProfileArgs {
    /// Folder for runs.jsonl (appended; runs already there are skipped) and the model variants.
    #[arg(long)]
    out: PathBuf,
    /// Real training runs to profile.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// LibTorch threads of each run.
    #[arg(long, default_value_t = 1)]
    threads: i32,
    /// The most forward MACs a run computes (MACs/frame x batch x steps): keeps runs short.
    #[arg(long, default_value_t = 3.0e9)]
    max_macs: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Profile only this kind (ids then start with the kind's name).
    #[arg(long)]
    kind: Option<JobKind>,
    /// The teacher of distillation runs.
    #[arg(long, default_value = "models/pretrained/global.safetensors")]
    teacher: PathBuf,
    /// Folder with the base descriptions terminal, M1, M2, M3, global (.toml).
    #[arg(long, default_value = "models/pretrained")]
    model_dir: PathBuf,
}

#[derive(Args)]
pub struct ProfileOneArgs {
    /// The job, as JSON (`sched::Job`).
    #[arg(long)]
    job: String,
    #[arg(long)]
    teacher: PathBuf,
    #[arg(long, default_value_t = 1)]
    threads: i32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
pub struct RunArgs {
    /// Jobs file; every job needs `models`, `frames`, `steps`, `batch` (and a `kind`).
    #[arg(long)]
    jobs: PathBuf,
    /// Memory budget (MB) the planner holds the jobs' predicted memory to.
    #[arg(long)]
    memory_mb: f64,
    #[arg(long, default_value = "knapsack")]
    policy: String,
    /// CPU cores split between the running jobs (LibTorch intra-op threads per job thread).
    #[arg(long, default_value_t = 2)]
    cores: i32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "models/pretrained/global.safetensors")]
    teacher: PathBuf,
    #[command(flatten)]
    models: ModelArgs,
    /// Write the per-job times (CSV) and the summary (JSON) here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn done_ids(path: &Path) -> anyhow::Result<std::collections::HashSet<String>> {
    if !path.exists() {
        return Ok(Default::default());
    }
    Ok(
        nestevo_sched::profile::read_runs(path.parent().expect("file in a folder"))?
            .into_iter()
            .map(|r| r.id)
            .collect(),
    )
}

/// The run specs: kinds, model variants (width-scaled base models), frames, batch and steps.
fn specs(a: &ProfileArgs, vdir: &Path) -> anyhow::Result<Vec<Job>> {
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let bases = ["terminal", "M1", "M2", "M3", "global"];
    let widths = [0.5, 0.75, 1.0, 1.25];
    let mut out = Vec::with_capacity(a.runs);
    for k in 0..a.runs {
        let kind = match rng.gen_range(0..10) {
            0..=4 => JobKind::Distill,
            5..=7 => JobKind::Other,
            _ => JobKind::Generator,
        };
        let kind = a.kind.unwrap_or(kind);
        let base = bases[rng.gen_range(0..bases.len())];
        let wf = widths[rng.gen_range(0..widths.len())];
        let variant = vdir.join(format!("{base}-w{}.toml", (wf * 100.0) as usize));
        if !variant.exists() {
            let d = nestevo_model::load_model(&a.model_dir.join(format!("{base}.toml")))?;
            let mut v = nestevo_train::pretrain::scale_width(&d, wf);
            v.name = format!("{base}-w{}", (wf * 100.0) as usize);
            nestevo_core::error::write_atomic(&variant, v.to_toml().as_bytes())?;
        }
        let heads = if kind == JobKind::Generator {
            rng.gen_range(1..=4)
        } else {
            1
        };
        let mut models: Vec<PathBuf> = vec![variant; heads];
        if kind == JobKind::Mutual {
            models.push(a.model_dir.join("global.toml"));
        }
        let frames = rng.gen_range(8..=64usize);
        let batch = [1usize, 2, 4, 8, 16][rng.gen_range(0..5)];
        let mut steps = rng.gen_range(3..=40usize);
        let refs: Vec<&Path> = models.iter().map(|p| p.as_path()).collect();
        let mut work = job_work(kind, &refs, frames, steps, batch)?;
        if kind == JobKind::Generator {
            // The generator is tiny: more steps so that its time is not all overhead.
            steps *= 20;
            work = job_work(kind, &refs, frames, steps, batch)?;
        }
        let macs = work.macs_per_frame * work.batch * work.steps;
        if macs > a.max_macs {
            steps = ((steps as f64 * a.max_macs / macs).floor() as usize).max(1);
            work = job_work(kind, &refs, frames, steps, batch)?;
        }
        out.push(Job {
            id: match a.kind {
                Some(kd) => format!("{}{k:04}", kd.name()),
                None => format!("run{k:04}"),
            },
            kind,
            terminal: "profile".into(),
            models: models.iter().map(|p| p.display().to_string()).collect(),
            work: Some(work),
            memory_mb: None,
            seconds: None,
            alpha: 1.0,
            arrival_s: 0.0,
        });
    }
    Ok(out)
}

pub fn profile(a: ProfileArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.runs > 0, "--runs 0: allowed is 1 or more");
    anyhow::ensure!(
        a.threads > 0,
        "--threads {}: allowed is 1 or more",
        a.threads
    );
    let vdir = a.out.join("models");
    std::fs::create_dir_all(&vdir).with_context(|| format!("{}: cannot create", vdir.display()))?;
    let runs_path = a.out.join("runs.jsonl");
    let done = done_ids(&runs_path)?;
    let jobs = specs(&a, &vdir)?;
    let exe = std::env::current_exe()?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&runs_path)
        .with_context(|| format!("{}: cannot open", runs_path.display()))?;
    let todo: Vec<&Job> = jobs.iter().filter(|j| !done.contains(&j.id)).collect();
    eprintln!(
        "{} runs ({} already in {})",
        jobs.len(),
        done.len(),
        runs_path.display()
    );
    let bar = indicatif::ProgressBar::new(todo.len() as u64);
    for (k, j) in todo.iter().enumerate() {
        // One process per run, so that each resident-set peak is its own; glibc returns
        // freed blocks of 64 KiB or more to the system at once, so RSS follows live memory.
        let out = std::process::Command::new(&exe)
            .args(["sched", "profile-one", "--job", &serde_json::to_string(j)?])
            .arg("--teacher")
            .arg(&a.teacher)
            .args([
                "--threads",
                &a.threads.to_string(),
                "--seed",
                &(a.seed + k as u64).to_string(),
            ])
            .env("MALLOC_MMAP_THRESHOLD_", "65536")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "run {} failed: {}",
            j.id,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout)?;
        file.write_all(line.trim().as_bytes())?;
        file.write_all(b"\n")?;
        file.flush()?;
        bar.inc(1);
    }
    bar.finish();
    eprintln!("wrote {}", runs_path.display());
    Ok(())
}

pub fn profile_one(a: ProfileOneArgs) -> anyhow::Result<()> {
    super::args::set_threads(Some(a.threads))?;
    let job: Job = serde_json::from_str(&a.job).context("--job: not a job (JSON)")?;
    let r = run_job(&job, &a.teacher, a.seed, tch::Device::Cpu)?;
    let run = ProfileRun {
        id: job.id.clone(),
        kind: job.kind,
        models: job.models.clone(),
        work: job.work.expect("described"),
        threads: a.threads as usize,
        seconds: r.seconds,
        cpu_seconds: r.cpu_seconds,
        peak_mb: r.peak_mb,
    };
    println!("{}", serde_json::to_string(&run)?);
    Ok(())
}

/// Real concurrent training: the policy decides on every arrival and finish, each started
/// job trains in its own thread with `cores / running` LibTorch threads.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    // glibc returns freed blocks of 64 KiB or more at once only when told before the process
    // starts; without it the resident set keeps freed memory and the peak means less.
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        let st = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env("MALLOC_MMAP_THRESHOLD_", "65536")
            .status()?;
        std::process::exit(st.code().unwrap_or(1));
    }
    let policy: Policy = a.policy.parse()?;
    anyhow::ensure!(a.cores > 0, "--cores {}: allowed is 1 or more", a.cores);
    let jobs: Vec<Job> = load_jobs(&a.jobs)?;
    let sized = sized_jobs(&a.jobs, &a.models)?;
    let units = validate(&sized, a.memory_mb)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let mut pending: Vec<usize> = (0..jobs.len()).collect();
    pending.sort_by(|&x, &y| sized[x].arrival_s.total_cmp(&sized[y].arrival_s));
    let mut pending = std::collections::VecDeque::from(pending);
    let mut waiting: Vec<usize> = Vec::new();
    let mut running: HashMap<usize, f64> = HashMap::new();
    let mut served: HashMap<String, f64> = HashMap::new();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, anyhow::Result<f64>)>();
    // Every job's frames (and teacher labels) are made before the clock and the memory
    // baseline: the runs measure training alone.
    let prepared = jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            prepare(job, &a.teacher, a.seed + j as u64, tch::Device::Cpu)
                .map(std::sync::Arc::new)
                .with_context(|| format!("job `{}`", job.id))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rss0 = rss_mb().map(|r| r.0).unwrap_or(0.0);
    reset_peak();
    // A sampler of the resident set, for the peak of every moment (VmHWM gives the same peak).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some((r, _)) = rss_mb() {
                    peak = peak.max(r);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            peak
        })
    };
    let t0 = Instant::now();
    let (mut start, mut end) = (vec![f64::NAN; jobs.len()], vec![f64::NAN; jobs.len()]);
    let mut used = 0.0f64;
    let mut planned_peak = 0.0f64;
    while !(pending.is_empty() && waiting.is_empty() && running.is_empty()) {
        let now = t0.elapsed().as_secs_f64();
        while pending.front().is_some_and(|&j| sized[j].arrival_s <= now) {
            waiting.push(pending.pop_front().expect("front"));
        }
        if !waiting.is_empty() {
            let view: Vec<&nestevo_sched::Sized> = waiting.iter().map(|&j| &sized[j]).collect();
            let state = State {
                waiting: &view,
                free_mb: a.memory_mb - used,
                running: running.len(),
                served: &served,
            };
            let mut pick = choose(policy, &state, units, &mut rng);
            pick.sort_unstable();
            let n_after = running.len() + pick.len();
            for &k in pick.iter().rev() {
                let j = waiting.remove(k);
                start[j] = now;
                used += sized[j].memory_mb;
                *served.entry(sized[j].terminal.clone()).or_default() += sized[j].seconds;
                running.insert(j, sized[j].memory_mb);
                let threads = (a.cores / n_after as i32).max(1);
                let (tx, job, prep, seed) = (
                    tx.clone(),
                    jobs[j].clone(),
                    prepared[j].clone(),
                    a.seed + j as u64,
                );
                std::thread::spawn(move || {
                    tch::set_num_threads(threads);
                    let r = train(&job, &prep, seed, tch::Device::Cpu)
                        .map(|o| o.seconds)
                        .map_err(anyhow::Error::from);
                    let _ = tx.send((j, r));
                });
            }
            planned_peak = planned_peak.max(used);
        }
        // Wait for a finish, or until the next arrival.
        let wait = pending
            .front()
            .map(|&j| (sized[j].arrival_s - t0.elapsed().as_secs_f64()).max(0.0))
            .unwrap_or(3600.0);
        if running.is_empty() {
            std::thread::sleep(std::time::Duration::from_secs_f64(wait));
            continue;
        }
        if let Ok((j, r)) = rx.recv_timeout(std::time::Duration::from_secs_f64(wait)) {
            r.with_context(|| format!("job `{}`", jobs[j].id))?;
            end[j] = t0.elapsed().as_secs_f64();
            used -= running.remove(&j).expect("running");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sampled = sampler
        .join()
        .map_err(|_| anyhow::anyhow!("the memory sampler panicked"))?;
    let hwm = rss_mb().map(|r| r.1).unwrap_or(0.0);
    let measured_peak = (hwm.max(sampled) - rss0).max(0.0);
    let lat: Vec<f64> = (0..jobs.len())
        .map(|j| end[j] - sized[j].arrival_s)
        .collect();
    let mean = lat.iter().sum::<f64>() / lat.len() as f64;
    let summary = serde_json::json!({
        "policy": policy.name(), "jobs": jobs.len(), "cores": a.cores,
        "budget_mb": a.memory_mb, "planned_peak_mb": planned_peak,
        "measured_peak_growth_mb": measured_peak,
        "margin_mb": a.memory_mb - measured_peak,
        "mean_latency_s": mean, "makespan_s": t0.elapsed().as_secs_f64(),
    });
    if let Some(o) = &a.out {
        std::fs::create_dir_all(o)?;
        let mut csv = String::from("id,terminal,arrival_s,start_s,end_s,predicted_s,memory_mb\n");
        for j in 0..jobs.len() {
            csv += &format!(
                "{},{},{:.3},{:.3},{:.3},{:.3},{:.1}\n",
                sized[j].id,
                sized[j].terminal,
                sized[j].arrival_s,
                start[j],
                end[j],
                sized[j].seconds,
                sized[j].memory_mb
            );
        }
        nestevo_core::error::write_atomic(
            &o.join(format!("run-{}.csv", policy.name())),
            csv.as_bytes(),
        )?;
        nestevo_core::error::write_atomic(
            &o.join(format!("run-{}.json", policy.name())),
            serde_json::to_string_pretty(&summary)?.as_bytes(),
        )?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}: {} jobs, mean latency {mean:.2} s, makespan {:.2} s; planned peak {planned_peak:.1} MB, \
             measured RSS growth {measured_peak:.1} MB of a {:.1} MB budget",
            policy.name(),
            jobs.len(),
            t0.elapsed().as_secs_f64(),
            a.memory_mb
        );
    }
    Ok(())
}
