use super::args::ArchSel;
use clap::Args;
use nestevo_model::load_model;
use nestevo_ppa::{network_report, peak, render_network, render_peak};
use std::path::PathBuf;

/// `nestevo cim report`: a network's mapping, timing, energy and area, or the chip's peak.
#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    /// Network description (TOML, see models/); without it, the chip's peak figures.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Frames to run through the pipeline (for total time and energy).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: u64,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let arch = a.sel.load()?;
    let Some(path) = &a.model else {
        let p = peak(&arch);
        if a.json {
            println!("{}", serde_json::to_string_pretty(&p)?);
        } else {
            print!("{}", render_peak(&arch, &p));
        }
        return Ok(());
    };
    let model = load_model(path)?;
    let r = network_report(&arch, &model, a.frames)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", render_network(&r));
    }
    Ok(())
}
