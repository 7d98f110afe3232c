use super::cim::ArchSel;
use clap::Args;

/// Placeholder until the crossbar-simulator issue lands.
#[derive(Args)]
pub struct MvmArgs {
    #[command(flatten)]
    pub sel: ArchSel,
}

pub fn run(_: MvmArgs) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo cim mvm` is not built yet")
}
