//! `nestevo evolve ...`: the window loop (distillation only so far), the experiment file, the
//! teacher margin, the drift statistics of the global model's training data.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum EvolveCommand {
    /// Run the evolution loop over the terminals' streams.
    Run(RunArgs),
    /// Every method on the same frames over independent replicates (Table 4 as paired
    /// differences): OUT/rep<R>/<method>/, OUT/replicates.{md,csv,json}.
    Compare(CompareArgs),
    /// One experiment field over several values (Fig. 11: --sweep drift.gamma=4,8,12,20,40).
    Sweep(SweepArgs),
    /// Tables 2 and 3: averaging heterogeneous and same-architecture terminals, and
    /// intermediates trained on different streams with and without the generator.
    Aggregation(AggregationArgs),
    /// The global model as it is on the post-run frames of finished runs (any folders holding
    /// them): as saved, and with its batch-norm statistics re-estimated on the edge's source
    /// frames, against the shipped model; OUT/global_bn.{md,json}.
    GlobalBn(GlobalBnArgs),
    /// Validate an experiment (a preset or a file, with --set overrides) and print it as TOML.
    Check(CheckArgs),
    /// Per-class pseudo-box thresholds chosen on the experiment's tuning seeds (the F1 of the
    /// global model's boxes on every upload of tuning replicate 0): OUT/thresholds.{md,json}
    /// and the --set that uses them.
    Thresholds(ThresholdsArgs),
    /// The teacher margin: every shipped model on held-out frames of every stream, mAP@0.5
    /// with 95 % bootstrap intervals.
    Margin(MarginArgs),
    /// Drift statistics (Eq. 11) of the global model on its training data, written beside
    /// its checkpoint as NAME.drift.json.
    TrainStats(TrainStatsArgs),
    /// Adaptive compression measured (Fig. 13, Table 5, Fig. 14): every terminal's window-0
    /// distillation at each batch size, without and with compression, each in its own process:
    /// memory, CPU time and mAP@0.5 on the post-run segment. OUT/rows.jsonl (resumable),
    /// table.md, rows.json, memory.png, time.png.
    Compress(CompressArgs),
    /// Replay the windows of a finished `evolve run` (DIR/rounds/wK/schedule.json: the measured
    /// jobs) under each scheduling policy: mean t_w, t_r and t_w + t_r per terminal and window.
    Replay(ReplayArgs),
    /// One run of `evolve compress` (prints its row as JSON).
    #[command(hide = true)]
    CompressOne(CompressOneArgs),
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct CompressArgs {
    #[command(flatten)]
    exp: ExperimentArgs,
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    batches: Vec<usize>,
    /// The jobs: each terminal's distillation, or its mutual learning with an intermediate.
    #[arg(long, default_value = "distill", value_parser = ["distill", "mutual"])]
    kind: String,
    #[arg(long)]
    out: PathBuf,
    /// LibTorch threads of each run.
    #[arg(long, default_value_t = 1)]
    threads: i32,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The run's output folder.
    #[arg(long)]
    run: PathBuf,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "knapsack,random,fifo,spf,fair"
    )]
    policies: Vec<String>,
    /// Another memory budget (MB) than the run's [sched].memory_mb.
    #[arg(long)]
    memory_mb: Option<f64>,
    /// Another util than the run's [sched].util.
    #[arg(long)]
    util: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct CompressOneArgs {
    #[command(flatten)]
    exp: ExperimentArgs,
    #[arg(long)]
    terminal: usize,
    #[arg(long)]
    batch: usize,
    #[arg(long)]
    on: bool,
    #[arg(long)]
    mutual: bool,
    #[arg(long, default_value_t = 1)]
    threads: i32,
}

/// Which experiment: a preset or a file, with `--set` overrides (every `evolve` command that
/// runs one takes these).
#[derive(Args)]
#[command(group = clap::ArgGroup::new("experiment").required(true).args(["preset", "config"]))]
pub struct ExperimentArgs {
    /// A compiled-in experiment: smoke, demo or paper.
    #[arg(long)]
    preset: Option<String>,
    /// An experiment file in TOML.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a field: key=value (e.g. mutual.alpha=0.3, terminals.1.stream=E); repeatable.
    #[arg(long = "set")]
    sets: Vec<String>,
}

impl ExperimentArgs {
    fn experiment(&self) -> anyhow::Result<nestevo_evolve::config::Experiment> {
        experiment(&self.preset, &self.config, &self.sets)
    }
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct RunArgs {
    #[command(flatten)]
    exp: ExperimentArgs,
    /// nestevo, a1, a2, a3, a4, always-kd or always-coevolve.
    #[arg(long, default_value = "nestevo")]
    method: String,
    /// Output folder: summary.json, windows.json/csv, rounds/, final/.
    #[arg(long)]
    out: PathBuf,
    /// Continue an interrupted run in --out from its last finished window.
    #[arg(long)]
    resume: bool,
    #[arg(long)]
    cpu: bool,
    /// CPU threads for LibTorch (default: one per core).
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct CompareArgs {
    #[command(flatten)]
    exp: ExperimentArgs,
    /// Methods to run, the first being the one the others are held against.
    #[arg(long, value_delimiter = ',', default_value = "nestevo,a1,a2,a3,a4")]
    methods: Vec<String>,
    /// Output folder: rep<R>/<method>/ per run, rep<R>/table4.{md,csv,json} and
    /// map_over_time.png per replicate, replicates.{md,csv,json} over them.
    #[arg(long)]
    out: PathBuf,
    /// Independent replicates (fresh stream and training seeds each); default: the
    /// experiment's protocol.replicates.
    #[arg(long)]
    replicates: Option<usize>,
    /// Run on the experiment's tuning seeds (protocol.tuning_seeds), never on those that score.
    #[arg(long)]
    tuning: bool,
    /// I/N: run only the replicates R with R mod N = I (N machines share a comparison; the
    /// tables cover every finished replicate in OUT).
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{s:?}: expected I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct SweepArgs {
    #[command(flatten)]
    exp: ExperimentArgs,
    /// KEY=V1,V2,...: the field and its values (e.g. drift.gamma=4,8,12,20,40; a list value
    /// in brackets: global.class_min_scores=[],[0.4,0.3,0.25,0.3]).
    #[arg(long)]
    sweep: String,
    #[arg(long, default_value = "nestevo")]
    method: String,
    /// Output folder: one subfolder per value, sweep.{md,csv,json}, sweep.png; with
    /// --replicates, rep<R>/ per replicate and sweep_replicates.{md,csv,json,png} over them.
    #[arg(long)]
    out: PathBuf,
    /// Independent replicates (fresh stream and training seeds each, the same for every value),
    /// with paired differences against the first value; without it, one run per value.
    #[arg(long)]
    replicates: Option<usize>,
    /// With --replicates: on the experiment's tuning seeds (protocol.tuning_seeds).
    #[arg(long, requires = "replicates")]
    tuning: bool,
    /// With --replicates, I/N: run only the replicates R with R mod N = I.
    #[arg(long, value_parser = parse_shard, requires = "replicates")]
    shard: Option<(usize, usize)>,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct ThresholdsArgs {
    #[command(flatten)]
    exp: ExperimentArgs,
    /// Candidate thresholds.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7"
    )]
    grid: Vec<f64>,
    /// Output folder: thresholds.{md,json}.
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct AggregationArgs {
    /// Folder of the shipped checkpoints (global, terminal, M1-M3).
    #[arg(long, default_value = "models/pretrained")]
    models: PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "A,D,E")]
    streams: Vec<String>,
    /// Training frames per stream.
    #[arg(long, default_value_t = 96)]
    frames: usize,
    /// Distillation (Table 2) and mutual-learning (Table 3) steps.
    #[arg(long, default_value_t = 150)]
    steps: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 3e-4)]
    lr: f64,
    /// Held-out frames per stream.
    #[arg(long, default_value_t = 100)]
    eval_frames: usize,
    #[arg(long, default_value_t = 0.4)]
    min_score: f64,
    /// Eq. 18-20 noise in the intermediates (Table 3).
    #[arg(long, default_value_t = 0.02)]
    mu: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder: table2.{md,json}, table3.{md,json}.
    #[arg(long, required_unless_present = "in_loop")]
    out: Option<PathBuf>,
    /// Instead: Table 3 inside the loop, from the runs of `evolve compare --out DIR` (nestevo
    /// and a2 with persistent intermediates), and the global model before and after as it
    /// labels (per-terminal statistics); writes DIR/table3_loop.{md,json} and
    /// DIR/global_adapted.{md,json}.
    #[arg(long, value_name = "DIR")]
    in_loop: Option<PathBuf>,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct GlobalBnArgs {
    /// Folders searched for finished runs (summary.json and final/global.safetensors).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    exp: ExperimentArgs,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct MarginArgs {
    /// Folder of the checkpoints (NAME.safetensors with NAME.toml beside).
    #[arg(long, default_value = "models/pretrained")]
    models: PathBuf,
    /// The teacher first, then the terminal models.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "global,terminal,M1,M2,M3"
    )]
    names: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "source,A,B,C,D,E")]
    streams: Vec<String>,
    /// Held-out frames per stream (the house rule: one every 2 s of stream time).
    #[arg(long, default_value_t = nestevo_eval::heldout::DEFAULT_FRAMES)]
    frames: usize,
    /// Also write the report as JSON here.
    #[arg(long)]
    json_out: Option<PathBuf>,
    #[arg(long)]
    cpu: bool,
    /// CPU threads for LibTorch (default: one per core).
    #[arg(long)]
    threads: Option<i32>,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct TrainStatsArgs {
    /// The global checkpoint NAME.safetensors; NAME.drift.json is written beside it.
    #[arg(long, default_value = "models/pretrained/global.safetensors")]
    model: PathBuf,
    /// The layer whose features are pooled per pseudo box.
    #[arg(long, default_value = "head_relu")]
    layer: String,
    /// Source-domain frames to label (drawn like training batches).
    #[arg(long, default_value_t = 2000)]
    frames: usize,
    /// Pseudo boxes are detections at or above this score.
    #[arg(long, default_value_t = 0.3)]
    min_score: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Then print delta_i (Eq. 11) of this many held-out frames of each stream against the
    /// statistics, to choose gamma.
    #[arg(long)]
    probe: Option<usize>,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

pub fn run(c: EvolveCommand) -> anyhow::Result<()> {
    match c {
        EvolveCommand::Run(a) => run_loop(a),
        EvolveCommand::Compare(a) => compare(a),
        EvolveCommand::Sweep(a) => sweep(a),
        EvolveCommand::Aggregation(a) => aggregation(a),
        EvolveCommand::GlobalBn(a) => global_bn(a),
        EvolveCommand::Check(a) => check(a),
        EvolveCommand::Thresholds(a) => thresholds(a),
        EvolveCommand::Margin(a) => margin(a),
        EvolveCommand::TrainStats(a) => train_stats(a),
        EvolveCommand::Compress(a) => compress(a),
        EvolveCommand::CompressOne(a) => compress_one(a),
        EvolveCommand::Replay(a) => replay(a),
    }
}

fn replay(a: ReplayArgs) -> anyhow::Result<()> {
    use nestevo_evolve::schedule::{read_schedules, replay};
    let windows = read_schedules(&a.run)?;
    let policies: Vec<&str> = a.policies.iter().map(String::as_str).collect();
    let dev = (
        a.memory_mb.unwrap_or(windows[0].budget_mb),
        a.util.unwrap_or(windows[0].util),
    );
    let rows = replay(&windows, &policies, Some(dev), a.seed)?;
    println!(
        "{} windows of {}, budget {} MB, util {}: mean per terminal and window",
        windows.len(),
        a.run.display(),
        dev.0,
        dev.1
    );
    println!("| policy | t_w (s) | t_r (s) | t_w + t_r (s) |\n|---|---:|---:|---:|");
    for (p, tw, tr, l) in rows {
        println!("| {p} | {tw:.2} | {tr:.2} | {l:.2} |");
    }
    Ok(())
}

#[cfg(not(feature = "torch"))]
super::needs_torch! {
    compress(CompressArgs) => "evolve compress";
    compress_one(CompressOneArgs) => "evolve compress-one";
    run_loop(RunArgs) => "evolve run";
    margin(MarginArgs) => "evolve margin";
    compare(CompareArgs) => "evolve compare";
    sweep(SweepArgs) => "evolve sweep";
    thresholds(ThresholdsArgs) => "evolve thresholds";
    aggregation(AggregationArgs) => "evolve aggregation";
    global_bn(GlobalBnArgs) => "evolve global-bn";
    train_stats(TrainStatsArgs) => "evolve train-stats";
}

#[cfg(feature = "torch")]
fn compress_one(a: CompressOneArgs) -> anyhow::Result<()> {
    let e = a.exp.experiment()?;
    let dev = device(true, Some(a.threads))?;
    let row =
        nestevo_experiments::compress_bench::run_one(&e, a.terminal, a.batch, a.on, a.mutual, dev)?;
    println!("{}", serde_json::to_string(&row)?);
    Ok(())
}

#[cfg(feature = "torch")]
fn compress(a: CompressArgs) -> anyhow::Result<()> {
    use nestevo_experiments::compress_bench::{harness, Harness};
    let e = a.exp.experiment()?;
    let mut experiment: Vec<String> = match (&a.exp.preset, &a.exp.config) {
        (Some(p), _) => vec!["--preset".into(), p.clone()],
        (None, Some(f)) => vec!["--config".into(), f.display().to_string()],
        _ => anyhow::bail!("give --preset P or --config FILE"),
    };
    for s in &a.exp.sets {
        experiment.extend(["--set".to_string(), s.clone()]);
    }
    let h = Harness {
        exp: &e,
        experiment,
        batches: &a.batches,
        mutual: a.kind == "mutual",
        threads: a.threads,
        out: &a.out,
    };
    let (_, md) = harness(&h, &std::env::current_exe()?)?;
    print!("{md}");
    println!("plots: {} and time.png", a.out.join("memory.png").display());
    Ok(())
}

fn experiment(
    preset: &Option<String>,
    file: &Option<PathBuf>,
    sets: &[String],
) -> anyhow::Result<nestevo_evolve::config::Experiment> {
    use nestevo_evolve::config;
    let (e, source) = match (preset, file) {
        (Some(p), _) => (config::preset(p)?, format!("preset `{p}`")),
        (None, Some(f)) => (config::load_experiment(f)?, f.display().to_string()),
        (None, None) => anyhow::bail!("give --preset P or --config FILE"),
    };
    let e = config::apply_overrides(&e, sets, &source)?;
    config::check_files(&e, &source)?;
    Ok(e)
}

fn check(a: CheckArgs) -> anyhow::Result<()> {
    print!("{}", a.exp.experiment()?.to_toml());
    Ok(())
}

#[cfg(feature = "torch")]
fn run_loop(a: RunArgs) -> anyhow::Result<()> {
    use nestevo_evolve::run;
    let exp = a.exp.experiment()?;
    let method: run::Method = a
        .method
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--{e}"))?;
    let o = run::RunOptions {
        exp,
        method,
        out: a.out.clone(),
        device: device(a.cpu, a.threads)?,
        resume: a.resume,
        progress: true,
    };
    let s = nestevo_experiments::evolution::run(&o)?;
    println!(
        "{} windows of experiment {} (method {}), {:.1} s: terminal mean mAP@0.5 over the \
         windows {:.3} before -> {:.3} after, mean LCP {:.3}; final models on the post-run \
         segment {:.3} [{:.3}, {:.3}]; global model {:.3} -> {:.3} ({} co-evolutions)",
        s.windows,
        s.experiment,
        s.method,
        s.seconds,
        s.mean_map50_before,
        s.mean_map50_after,
        s.mean_lcp,
        s.final_terminal_map50,
        s.final_terminal_map50_lo,
        s.final_terminal_map50_hi,
        s.global_map50_before,
        s.global_map50_after,
        s.global_evolutions
    );
    println!(
        "  starting models (no evolution, A3) on the same post-run frames: {:.3} [{:.3}, {:.3}]",
        s.start_terminal_map50, s.start_terminal_map50_lo, s.start_terminal_map50_hi
    );
    for t in &s.terminals {
        println!(
            "  {} (stream {}, {}): mAP@0.5 over the windows {:.3} -> {:.3}, LCP {:.3}; final \
             {:.3} [{:.3}, {:.3}] against its starting model {:.3} [{:.3}, {:.3}] on the same \
             frames ({})",
            t.id,
            t.stream,
            t.model,
            t.mean_map50_before,
            t.mean_map50_after,
            t.mean_lcp,
            t.final_map50,
            t.final_map50_lo,
            t.final_map50_hi,
            t.start_map50,
            t.start_map50_lo,
            t.start_map50_hi,
            t.final_model
        );
    }
    println!(
        "tables: {} and windows.csv; plot: {}",
        a.out.join("summary.json").display(),
        a.out.join("map_over_time.png").display()
    );
    Ok(())
}

#[cfg(feature = "torch")]
fn compare(a: CompareArgs) -> anyhow::Result<()> {
    let exp = a.exp.experiment()?;
    let methods = a
        .methods
        .iter()
        .map(|m| {
            m.parse()
                .map_err(|e: String| anyhow::anyhow!("--methods: {e}"))
        })
        .collect::<anyhow::Result<Vec<nestevo_evolve::method::Method>>>()?;
    anyhow::ensure!(!methods.is_empty(), "--methods: give at least one method");
    let dev = device(a.cpu, a.threads)?;
    let reps = nestevo_experiments::replicates::Replicates {
        count: a.replicates.unwrap_or(exp.protocol.replicates),
        tuning: a.tuning,
        shard: a.shard,
    };
    anyhow::ensure!(reps.count > 0, "--replicates: at least 1");
    nestevo_experiments::replicates::compare_replicates(&exp, &methods, &reps, &a.out, dev, true)?;
    print!("{}", std::fs::read_to_string(a.out.join("replicates.md"))?);
    Ok(())
}

/// The values of `--sweep KEY=V1,V2,...`: split at the commas outside brackets, so that a value
/// may be a list (`global.class_min_scores=[],[0.4,0.3,0.25,0.3]`).
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
fn split_values(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for ch in s.chars() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur.trim().to_string());
    out
}

#[cfg(feature = "torch")]
fn sweep(a: SweepArgs) -> anyhow::Result<()> {
    let exp = a.exp.experiment()?;
    let method: nestevo_evolve::method::Method = a
        .method
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--{e}"))?;
    let (key, values) = a
        .sweep
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--sweep {}: expected KEY=V1,V2,...", a.sweep))?;
    let values = split_values(values);
    anyhow::ensure!(
        values.iter().all(|v| !v.is_empty()),
        "--sweep {}: an empty value",
        a.sweep
    );
    let dev = device(a.cpu, a.threads)?;
    if let Some(count) = a.replicates {
        anyhow::ensure!(count > 0, "--replicates: at least 1");
        let reps = nestevo_experiments::replicates::Replicates {
            count,
            tuning: a.tuning,
            shard: a.shard,
        };
        nestevo_experiments::sweep_replicates::sweep_replicates(
            &exp, method, key, &values, &reps, &a.out, dev, true,
        )?;
        print!(
            "{}",
            std::fs::read_to_string(a.out.join("sweep_replicates.md"))?
        );
        return Ok(());
    }
    nestevo_experiments::compare::sweep(&exp, method, key, &values, &a.out, dev, true)?;
    print!("{}", std::fs::read_to_string(a.out.join("sweep.md"))?);
    Ok(())
}

#[cfg(feature = "torch")]
fn thresholds(a: ThresholdsArgs) -> anyhow::Result<()> {
    use nestevo_experiments::thresholds::{choose_thresholds, ThresholdOptions};
    let o = ThresholdOptions {
        exp: a.exp.experiment()?,
        grid: a.grid.clone(),
        device: device(a.cpu, a.threads)?,
        out: a.out.clone(),
    };
    let r = choose_thresholds(&o)?;
    print!("{}", std::fs::read_to_string(a.out.join("thresholds.md"))?);
    eprintln!("{} frames; {}", r.frames, r.set);
    Ok(())
}

#[cfg(feature = "torch")]
fn global_bn(a: GlobalBnArgs) -> anyhow::Result<()> {
    nestevo_experiments::global_bn::global_bn(&a.dirs, &a.out, device(a.cpu, a.threads)?)?;
    print!("{}", std::fs::read_to_string(a.out.join("global_bn.md"))?);
    Ok(())
}

#[cfg(feature = "torch")]
fn aggregation(a: AggregationArgs) -> anyhow::Result<()> {
    use nestevo_experiments::aggregation::{table2, table3, AggOptions};
    if let Some(dir) = &a.in_loop {
        use nestevo_experiments::loop_aggregation::{global_adapted, loop_aggregation};
        let dev = device(a.cpu, a.threads)?;
        loop_aggregation(dir, dev)?;
        print!("{}", std::fs::read_to_string(dir.join("table3_loop.md"))?);
        global_adapted(dir, dev)?;
        print!(
            "\n{}",
            std::fs::read_to_string(dir.join("global_adapted.md"))?
        );
        return Ok(());
    }
    let out = a
        .out
        .clone()
        .expect("clap requires --out without --in-loop");
    let streams = a
        .streams
        .iter()
        .map(|s| s.parse::<nestevo_data::StreamId>())
        .collect::<Result<Vec<_>, _>>()?;
    nestevo_cim::noise::check_mu("--mu", a.mu)?;
    let o = AggOptions {
        models_dir: a.models.clone(),
        streams,
        frames: a.frames,
        steps: a.steps,
        batch: a.batch,
        lr: a.lr,
        eval_frames: a.eval_frames,
        min_score: a.min_score,
        mu: a.mu,
        seed: a.seed,
        device: device(a.cpu, a.threads)?,
    };
    std::fs::create_dir_all(&out)?;
    for (name, t) in [("table2", table2(&o)?), ("table3", table3(&o)?)] {
        let md = t.markdown();
        nestevo_core::error::write_atomic(&out.join(format!("{name}.md")), md.as_bytes())?;
        nestevo_core::error::write_atomic(
            &out.join(format!("{name}.json")),
            serde_json::to_string_pretty(&t)?.as_bytes(),
        )?;
        println!("{md}");
    }
    Ok(())
}

#[cfg(feature = "torch")]
fn device(cpu: bool, threads: Option<i32>) -> anyhow::Result<tch::Device> {
    if let Some(t) = threads {
        anyhow::ensure!(t > 0, "--threads must be at least 1, got {t}");
        tch::set_num_threads(t);
    }
    Ok(if cpu {
        tch::Device::Cpu
    } else {
        tch::Device::cuda_if_available()
    })
}

#[cfg(feature = "torch")]
fn margin(a: MarginArgs) -> anyhow::Result<()> {
    use nestevo_data::StreamId;
    use nestevo_experiments::margin;
    let streams = a
        .streams
        .iter()
        .map(|s| s.parse::<StreamId>())
        .collect::<Result<Vec<_>, _>>()?;
    let o = margin::MarginOptions {
        models_dir: a.models.clone(),
        models: a.names.clone(),
        streams,
        frames: a.frames,
        device: device(a.cpu, a.threads)?,
    };
    let r = margin::run(&o)?;
    println!(
        "mAP@0.5 [95 % bootstrap interval, {} resamples over frames] on held-out frames:",
        nestevo_eval::RESAMPLES
    );
    for f in &r.frames {
        println!("  {f}");
    }
    print!("| model | params |");
    for s in &r.streams {
        print!(" {s} |");
    }
    println!();
    print!("|---|---:|");
    for _ in &r.streams {
        print!("---:|");
    }
    println!();
    for (m, p) in r.models.iter().zip(&r.params) {
        print!("| {m} | {p} |");
        for s in &r.streams {
            let c = r.cell(m, s).expect("scored");
            print!(" {:.3} [{:.3}, {:.3}] |", c.map50, c.lo, c.hi);
        }
        println!();
    }
    for (s, ok) in &r.teacher_above {
        println!(
            "stream {s}: teacher {} every terminal model (intervals {})",
            if *ok { "above" } else { "NOT clearly above" },
            if *ok { "separate" } else { "overlap" }
        );
    }
    for (m, s, ok) in &r.drops {
        if !ok {
            println!("model {m}: no clear drop from source to {s}");
        }
    }
    println!(
        "every model drops on D and E: {}; {:.1} s",
        r.drops.iter().all(|d| d.2),
        r.seconds
    );
    if let Some(p) = &a.json_out {
        std::fs::write(p, serde_json::to_string_pretty(&r)?)?;
    }
    Ok(())
}

#[cfg(feature = "torch")]
fn train_stats(a: TrainStatsArgs) -> anyhow::Result<()> {
    use nestevo_couple::label::{LabelRequest, Labeller};
    use nestevo_data::{StreamId, CLASSES};
    use nestevo_evolve::labeller::{feature_stats, source_stats, TorchLabeller};
    use nestevo_train::checkpoint;
    if !(a.min_score > 0.0 && a.min_score < 1.0) {
        anyhow::bail!(
            "--min-score {}: allowed is a detection score in (0, 1)",
            a.min_score
        );
    }
    let (model, _) = checkpoint::load(&a.model, device(a.cpu, a.threads)?)?;
    let lab = TorchLabeller::new(&model);
    let req = LabelRequest {
        min_score: a.min_score,
        feature_layer: Some(a.layer.clone()),
    };
    let stats = source_stats(&lab, a.frames, a.seed, &req)?;
    let out = a.model.with_extension("drift.json");
    // Statistics of no box would replace good ones with zeros; keep what is there.
    if stats.boxes() == 0 {
        anyhow::bail!(
            "no pseudo box at score >= {} on {} source frames: nothing written ({} kept as it \
             was); lower --min-score or raise --frames",
            a.min_score,
            a.frames,
            out.display()
        );
    }
    stats.save(&out)?;
    println!(
        "{} pseudo boxes (score >= {}) on {} source frames, layer {} ({} features): per class {:?}; written to {}",
        stats.boxes(),
        a.min_score,
        a.frames,
        a.layer,
        stats.dim,
        stats.classes.iter().map(|c| c.count).collect::<Vec<_>>(),
        out.display()
    );
    if let Some(n) = a.probe {
        println!("| stream | frames | pseudo boxes | delta_i |\n|---|---:|---:|---:|");
        for id in StreamId::ALL {
            let set = nestevo_eval::HeldOut::new(id, n);
            let [_, h, w] = model.input_chw();
            let labels = lab.label(&set.render(w, h)?, &req)?;
            let s = feature_stats(&labels, CLASSES.len())?;
            let d = nestevo_evolve::drift::delta(&stats, &s)?;
            println!("| {} | {n} | {} | {:.2} |", id.name(), s.boxes(), d.delta);
        }
    }
    Ok(())
}
