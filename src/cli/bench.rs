//! `nestevo bench ...`: benchmarks that time the system (their figures go to docs/).

use super::train::{train_step, TrainStepArgs};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Milliseconds per training step of a detector (tch; benches/train_speed.sh puts PyTorch beside it).
    TrainStep(TrainStepArgs),
    /// Global-model inference on N frames: GPU/CPU (LibTorch) versus simulated ISAAC (not built yet).
    GpuVsCim,
}

pub fn run(c: BenchCommand) -> anyhow::Result<()> {
    match c {
        BenchCommand::TrainStep(a) => train_step(a),
        BenchCommand::GpuVsCim => anyhow::bail!(
            "`nestevo bench gpu-vs-cim` is not built yet (the coupling issue builds it)"
        ),
    }
}
