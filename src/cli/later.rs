//! Command groups whose issues are not built yet. They are listed so `--help` shows the
//! system's shape; running one says so plainly and exits non-zero.
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Global-model inference on N frames: GPU/CPU (LibTorch) versus simulated ISAAC (not built yet).
    GpuVsCim,
}

pub fn bench(_: BenchCommand) -> anyhow::Result<()> {
    anyhow::bail!(
        "`nestevo bench` is not built yet: it needs the trainer and the performance model"
    )
}
