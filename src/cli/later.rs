//! The command group whose issue is not built yet. They are listed so `--help` shows the
//! system's shape; running one says so plainly and exits non-zero.
use clap::Subcommand;

#[derive(Subcommand)]
pub enum EvolveCommand {
    /// Run the evolution loop over the terminals' streams (not built yet).
    Run,
}

pub fn evolve(_: EvolveCommand) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo evolve` is not built yet: the evolution system comes after the trainer")
}
