use clap::Subcommand;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Render frames of a stream (source, A..E) with COCO-style labels (not built yet).
    Render,
}

pub fn run(_: DataCommand) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo data` is not built yet")
}
