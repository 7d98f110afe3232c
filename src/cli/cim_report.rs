use super::cim::ArchSel;
use clap::Args;

/// Placeholder until the performance-model issue lands.
#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub sel: ArchSel,
}

pub fn run(_: ReportArgs) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo cim report` is not built yet")
}
