//! An evolution run as the command line runs it: the loop (`nestevo_evolve::run`), then the
//! figure of every terminal's mAP over time (`map_over_time.png` in the run's folder).

use nestevo_evolve::error::Result;
use nestevo_evolve::run::{RunOptions, Summary};

/// Runs (or resumes) the loop and draws `map_over_time.png` from its window records.
pub fn run(o: &RunOptions) -> Result<Summary> {
    let summary = nestevo_evolve::run::run(o)?;
    let records = nestevo_evolve::run::read_records(&o.out)?;
    crate::evolve_plot::terminal_curves(
        &o.out.join("map_over_time.png"),
        &o.exp,
        &[(o.method, &records)],
    )?;
    Ok(summary)
}
