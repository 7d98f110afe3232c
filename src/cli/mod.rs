//! The command line: parsing and calling the library, nothing else.

/// Commands that need LibTorch, in a binary built without it: each answers one clear error
/// (the simulator-only build keeps them in `--help`).
#[cfg(not(feature = "torch"))]
macro_rules! needs_torch {
    ($($f:ident($a:ty) => $cmd:literal;)*) => {$(
        pub fn $f(_: $a) -> anyhow::Result<()> {
            anyhow::bail!(concat!(
                "`nestevo ", $cmd, "` needs the `torch` feature (this binary was built without it)"
            ))
        }
    )*};
}
#[cfg(not(feature = "torch"))]
pub(crate) use needs_torch;

mod args;
mod bench;
mod bench_couple;
mod bench_device;
mod cim;
mod cim_generic;
mod cim_mvm;
mod cim_report;
mod cim_run;
mod cim_run_args;
mod data;
mod evolve;
mod info;
mod model;
mod sched;
mod sched_args;
#[cfg(feature = "torch")]
mod sched_torch;
mod serve;
mod sweep;
mod terminal;
mod train;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nestevo",
    version,
    about = "NestEvo-CIM: an ISAAC crossbar accelerator simulator and a co-evolution trainer",
    long_about = "NestEvo-CIM simulates in-memory-computing crossbar accelerators (ISAAC) \
bit-faithfully, with latency, throughput, energy and area, and trains and co-evolves terminal \
and global detectors (the NestEvo paper) with LibTorch.\n\n\
Command groups:\n  \
info                   versions, compute device, threads\n  \
cim ...                accelerator simulation: arch specs, bit-faithful MVM, PPA reports\n  \
data ...               rendered drifting video streams\n  \
pretrain, eval         training and evaluation of the detectors\n  \
evolve ...             the co-evolution system (drift, generator, mutual learning, FedAvg, KD)\n  \
bench ...              benchmarks: GPU versus simulated ISAAC latency\n  \
sched ...              the evolution job scheduler (memory model, time predictor, knapsack)\n  \
serve, terminal        the edge server as an HTTP service, and a terminal that plays against it"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Versions (nestevo, LibTorch), the device it would use and thread counts.
    Info(info::InfoArgs),
    /// Accelerator simulation: arch specs, bit-faithful execution, performance reports.
    #[command(subcommand)]
    Cim(cim::CimCommand),
    /// Model descriptions: import an ONNX network.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Design sweeps: a grid of accelerator knobs through the performance model (shards, merge).
    Sweep(sweep::SweepArgs),
    /// Data: render drifting video streams with ground truth.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Training: pretrain the global, terminal and pruned detectors.
    Pretrain(train::PretrainArgs),
    /// Training: evaluate a checkpoint (mAP@0.5, mAP@0.75, mAP@[.5:.95]).
    Eval(train::EvalArgs),
    /// Evolution: drift detection and co-evolution of terminals and the global model.
    #[command(subcommand)]
    Evolve(evolve::EvolveCommand),
    /// Benchmarks: global-model inference on the GPU/CPU versus the simulated accelerator.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The evolution job scheduler: plan, simulate, profile, fit, run.
    #[command(subcommand)]
    Sched(sched::SchedCommand),
    /// The edge server as an HTTP service: terminals upload frames and fetch evolved models.
    Serve(serve::ServeArgs),
    /// A terminal against `nestevo serve`: plays its stream, uploads, evolves, scores.
    Terminal(terminal::TerminalArgs),
    /// Load test of `nestevo serve`: concurrent terminals uploading PNG frames.
    ServeLoad(serve::LoadArgs),
}

/// Runs the CLI; errors print as one clear message and exit non-zero, never a panic trace.
/// `--mu -0.5` reaches `--mu` as `--mu=-0.5` does (without this clap takes `-0.5` for a flag
/// and says nothing of the value), so a negative value meets its own check, which says what is
/// allowed.
fn allow_negative(c: clap::Command) -> clap::Command {
    c.allow_negative_numbers(true)
        .mut_subcommands(allow_negative)
}

/// Runs the command line; whether it succeeded (a failure is said on standard error).
pub fn main() -> bool {
    use clap::{CommandFactory, FromArgMatches};
    let matches = allow_negative(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Info(a) => info::run(a),
        Command::Cim(c) => cim::run(c),
        Command::Data(c) => data::run(c),
        Command::Model(c) => model::run(c),
        Command::Sweep(a) => sweep::run(a),
        Command::Pretrain(a) => train::pretrain(a),
        Command::Eval(a) => train::eval(a),
        Command::Evolve(c) => evolve::run(c),
        Command::Bench(c) => bench::run(c),
        Command::Sched(c) => sched::run(c),
        Command::Serve(a) => serve::serve(a),
        Command::Terminal(a) => terminal::run(a),
        Command::ServeLoad(a) => serve::load(a),
    };
    match result {
        Ok(()) => true,
        Err(e) => {
            eprintln!("error: {e:#}");
            false
        }
    }
}
