//! `nestevo sched profile | profile-one | run`: the scheduler's real runs (LibTorch).

use super::sched_args::{sized_jobs, ModelArgs};
use anyhow::Context;
use clap::Args;
use nestevo_evolve::executor::{run_live, LiveConfig};
use nestevo_experiments::sched_profile::{profile_one as one, ProfileOptions};
use nestevo_sched::policy::Policy;
use nestevo_sched::{load_jobs, Job, JobKind};
use std::path::PathBuf;

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

pub fn profile(a: ProfileArgs) -> anyhow::Result<()> {
    let o = ProfileOptions {
        out: a.out,
        runs: a.runs,
        threads: a.threads,
        max_macs: a.max_macs,
        seed: a.seed,
        kind: a.kind,
        teacher: a.teacher,
        model_dir: a.model_dir,
    };
    let path = nestevo_experiments::sched_profile::profile(&o, &std::env::current_exe()?)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

pub fn profile_one(a: ProfileOneArgs) -> anyhow::Result<()> {
    super::args::set_threads(Some(a.threads))?;
    let job: Job = serde_json::from_str(&a.job).context("--job: not a job (JSON)")?;
    let run = one(&job, &a.teacher, a.threads, a.seed)?;
    println!("{}", serde_json::to_string(&run)?);
    Ok(())
}

/// Real concurrent training of a jobs file (`evolve::executor`).
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
    let c = LiveConfig {
        policy,
        memory_mb: a.memory_mb,
        cores: a.cores,
        seed: a.seed,
        teacher: a.teacher,
    };
    let r = run_live(&jobs, &sized, &c)?;
    if let Some(o) = &a.out {
        r.write(o)?;
    }
    let s = &r.summary;
    if a.json {
        println!("{}", r.summary_json());
    } else {
        println!(
            "{}: {} jobs, mean latency {:.2} s, makespan {:.2} s; planned peak {:.1} MB, \
             measured RSS growth {:.1} MB of a {:.1} MB budget",
            s.policy,
            s.jobs,
            s.mean_latency_s,
            s.makespan_s,
            s.planned_peak_mb,
            s.measured_peak_growth_mb,
            s.budget_mb
        );
    }
    Ok(())
}
