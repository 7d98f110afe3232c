use super::args::ArchSel;
use super::{cim_mvm, cim_report, cim_run};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum CimCommand {
    /// Validate an accelerator description (with overrides) and print it with derived figures.
    Arch(ArchArgs),
    /// Bit-faithful matrix-vector products of integer weights and inputs on the crossbars.
    Mvm(cim_mvm::MvmArgs),
    /// Mapping, latency, throughput, energy and area of a network (or the chip's peak figures).
    Report(cim_report::ReportArgs),
    /// A trained detector on a stream, float and bit-faithfully on the crossbars (mAP, counts).
    Run(cim_run::RunArgs),
}

#[derive(Args)]
pub struct ArchArgs {
    #[command(flatten)]
    sel: ArchSel,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(c: CimCommand) -> anyhow::Result<()> {
    match c {
        CimCommand::Arch(a) => arch(a),
        CimCommand::Mvm(a) => cim_mvm::run(a),
        CimCommand::Report(a) => cim_report::run(a),
        CimCommand::Run(a) => cim_run::run(a),
    }
}

fn arch(a: ArchArgs) -> anyhow::Result<()> {
    let s = a.sel.load()?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("{}", toml::to_string_pretty(&s)?);
    println!("# derived");
    println!("# slices per weight      {}", s.slices_per_weight());
    println!("# cycles per input       {}", s.cycles_per_input());
    println!("# outputs per crossbar   {}", s.outputs_per_crossbar());
    println!("# largest column sum     {}", s.max_column_sum());
    println!("# lossless ADC bits      {}", s.lossless_adc_bits());
    println!("# crossbars per chip     {}", s.crossbars_per_chip());
    Ok(())
}
