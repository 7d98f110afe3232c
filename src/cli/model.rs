//! `nestevo model import`: an ONNX graph to a model description and its weights.

use anyhow::Result;
use clap::{Args, Subcommand};
use nestevo_model::onnx::import_onnx;
use nestevo_ppa::network_report;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Convert an ONNX file to DIR/NAME.toml (the model description) and DIR/NAME.safetensors.
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// The ONNX file (weights inside it, fixed C, H, W; the batch dimension may be symbolic).
    pub onnx: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(c: ModelCommand) -> Result<()> {
    match c {
        ModelCommand::Import(a) => {
            let imp = import_onnx(&a.onnx)?;
            let (toml, st) = imp.write(&a.out)?;
            let d = &imp.desc;
            let matrices = d.layers.iter().filter(|l| l.op.is_matrix()).count();
            println!(
                "{}: {} layers ({matrices} on crossbars), input {:?}, outputs {:?}, {} parameters",
                d.name,
                d.layers.len(),
                d.input,
                d.outputs,
                d.params()?
            );
            // Mapped once on ISAAC as a check that the crossbar mapper takes it.
            let r = network_report(&nestevo_arch::preset("isaac")?, d, 1)?;
            println!(
                "maps on ISAAC-CE: {} chip(s), {} crossbars",
                r.chips, r.crossbars_used
            );
            println!("wrote {} and {}", toml.display(), st.display());
            Ok(())
        }
    }
}
