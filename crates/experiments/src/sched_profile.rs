//! The scheduler's profile: real training runs of random jobs (kinds, width-scaled models,
//! frames, batch, steps), one child process per run so that each resident-set peak is its own,
//! appended to `runs.jsonl` (`rows::RowsFile`: runs already there are skipped). `nestevo sched fit`
//! trains the time predictor on it.

use crate::error::{ExperimentError, Result};
use crate::rows::RowsFile;
use nestevo_core::error::write_atomic;
use nestevo_evolve::jobs::{job_work, run_job};
use nestevo_sched::profile::ProfileRun;
use nestevo_sched::{Job, JobKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub struct ProfileOptions {
    /// Folder for runs.jsonl and the model variants.
    pub out: PathBuf,
    pub runs: usize,
    /// LibTorch threads of each run.
    pub threads: i32,
    /// The most forward MACs a run computes (MACs/frame x batch x steps).
    pub max_macs: f64,
    pub seed: u64,
    /// Profile only this kind (ids then start with the kind's name).
    pub kind: Option<JobKind>,
    /// The teacher of distillation runs.
    pub teacher: PathBuf,
    /// Folder with the base descriptions terminal, M1, M2, M3, global (.toml).
    pub model_dir: PathBuf,
}

fn io(path: &Path, action: &str, e: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Fault(format!("{}: cannot {action}: {e}", path.display()))
}

/// The run specs: kinds, model variants (width-scaled base models), frames, batch and steps.
fn specs(a: &ProfileOptions, vdir: &Path) -> Result<Vec<Job>> {
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
            write_atomic(&variant, v.to_toml().as_bytes())?;
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

/// Runs the runs not yet in `out/runs.jsonl`, each as `exe sched profile-one` (the binary that
/// calls this), and returns the file's path.
pub fn profile(a: &ProfileOptions, exe: &Path) -> Result<PathBuf> {
    if a.runs == 0 {
        return Err(ExperimentError::BadInput(
            "--runs 0: allowed is 1 or more".into(),
        ));
    }
    if a.threads <= 0 {
        return Err(ExperimentError::BadInput(format!(
            "--threads {}: allowed is 1 or more",
            a.threads
        )));
    }
    let vdir = a.out.join("models");
    std::fs::create_dir_all(&vdir).map_err(|e| io(&vdir, "create", e))?;
    let runs_path = a.out.join("runs.jsonl");
    let mut runs = RowsFile::<ProfileRun>::open(&runs_path, "a profiled run")?;
    let done: HashSet<String> = runs.rows().iter().map(|r| r.id.clone()).collect();
    let jobs = specs(a, &vdir)?;
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
        let job = serde_json::to_string(j).expect("a job serialises");
        let out = std::process::Command::new(exe)
            .args(["sched", "profile-one", "--job", &job])
            .arg("--teacher")
            .arg(&a.teacher)
            .args([
                "--threads",
                &a.threads.to_string(),
                "--seed",
                &(a.seed + k as u64).to_string(),
            ])
            .env("MALLOC_MMAP_THRESHOLD_", "65536")
            .output()
            .map_err(|e| io(exe, "run", e))?;
        if !out.status.success() {
            return Err(ExperimentError::Fault(format!(
                "run {} failed: {}",
                j.id,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let run: ProfileRun = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim())
            .map_err(|e| {
                ExperimentError::Fault(format!("run {}: not a profiled run: {e}", j.id))
            })?;
        runs.push(run)?;
        bar.inc(1);
    }
    bar.finish();
    Ok(runs_path)
}

/// One profile run in this process: the job trained once, timed and its peak measured.
pub fn profile_one(job: &Job, teacher: &Path, threads: i32, seed: u64) -> Result<ProfileRun> {
    let r = run_job(job, teacher, seed, tch::Device::Cpu)?;
    Ok(ProfileRun {
        id: job.id.clone(),
        kind: job.kind,
        models: job.models.clone(),
        work: job
            .work
            .ok_or_else(|| ExperimentError::BadInput(format!("job `{}`: no work", job.id)))?,
        threads: threads as usize,
        seconds: r.seconds,
        cpu_seconds: r.cpu_seconds,
        peak_mb: r.peak_mb,
    })
}
